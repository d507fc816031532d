"""``hiddenconvex stability examples [--k K ...] [--json]``: the pathologies of paper B (SPEC §5.7).

For every (example, k) prints the exact realization distance |g_k − R(Γ)|_{W^{1,∞}}, the exact
uniform distance on (−1, 1)^d, the best parameter distance found over realizations of g_k (with a
flag telling whether it is provably the minimum over all realizations), lower bounds and the
hypotheses of Theorem 3.1 that fail.
"""

from __future__ import annotations

from .common import HelpFormatter, positive_float, print_json

DEFAULT_K = [1, 2, 3, 5, 10]
EXAMPLE_NAMES = ("2.1", "2.2", "2.3", "2.4", "2.5")  # = stability.pathologies.EXAMPLES (lazy)
TABLE_COLUMNS = ["example", "k", "realization_distance", "sup_distance", "parameter_distance",
                 "parameter_distance_canonical", "parameter_distance_is_minimum",
                 "parameter_lower_bound"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stability",
        help="inverse stability of shallow ReLU parametrizations (paper B)",
        description="Inverse stability of shallow ReLU parametrizations (Berner, Elbrächter & "
                    "Grohs 2019).",
    )
    sub = p.add_subparsers(dest="stability_command", required=True, metavar="SUBCOMMAND")
    ex = sub.add_parser(
        "examples",
        help="exact distances for the pathologies of Examples 2.1-2.5",
        description="For each example and k: exact W^{1,inf} semi-norm of g_k - R(Gamma) "
                    "(realization_distance), exact sup of |g_k - R(Gamma)| on (-1,1)^d "
                    "(sup_distance), the best ||Phi - Gamma||_inf over realizations Phi of g_k "
                    "(parameter_distance) and lower bounds.",
        formatter_class=HelpFormatter,
    )
    ex.add_argument("--k", type=positive_float, nargs="+", default=DEFAULT_K, metavar="K",
                    help="values of k (> 0)")
    ex.add_argument("--examples", nargs="+", default=list(EXAMPLE_NAMES), metavar="EX",
                    help="examples to evaluate, a subset of " + " ".join(EXAMPLE_NAMES))
    ex.add_argument("--r", type=positive_float, default=1.0, help="r of Example 2.2 (> 0)")
    ex.add_argument("--json", action="store_true",
                    help="print a JSON list, one object per (example, k)")
    ex.set_defaults(func=run_examples)


def run_examples(args) -> int:
    from ..stability.pathologies import evaluate_pathology, example_grid

    records = [evaluate_pathology(p).to_record()
               for p in example_grid(args.examples, args.k, args.r)]
    if args.json:
        print_json(records)
        return 0
    widths = {c: max(len(c), 12) for c in TABLE_COLUMNS}
    print("  ".join(f"{c:>{widths[c]}}" for c in TABLE_COLUMNS))
    for rec in records:
        cells = []
        for c in TABLE_COLUMNS:
            v = rec[c]
            s = f"{v:.8g}" if isinstance(v, float) else str(v)
            cells.append(f"{s:>{widths[c]}}")
        print("  ".join(cells))
    return 0
