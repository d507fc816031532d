"""``hiddenconvex solve DATA.csv --beta B``: solve the convex program and certify it (SPEC §2).

Prints the objective and its parts, the solver status and timings, the number of patterns and active
blocks, and the global-optimality certificate over all chambers (``certified``, ``lower_bound``,
``gap``) together with β_max (the zero network is optimal iff β ≥ β_max). ``--json`` prints one
JSON object. Exit status: 0 solved (certified or not — see ``certified``), 2 bad input, 3 solver
missing or failed.
"""

from __future__ import annotations

from ..certificate import DEFAULT_MAX_CHAMBERS
from .common import (
    HelpFormatter,
    add_data_args,
    add_json_arg,
    add_pattern_args,
    add_solver_args,
    add_strategy_args,
    load_problem,
    positive_float,
    positive_int,
    print_json,
    print_table,
    solve_patterns,
    working_set_options,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "solve",
        help="solve the convex program and certify global optimality",
        description=(
            "Solve the group-l2 convex program of a two-layer ReLU network on the activation "
            "patterns of the data, and check the dual certificate over all chambers."
        ),
        formatter_class=HelpFormatter,
    )
    add_data_args(p)
    add_solver_args(p)
    add_pattern_args(p)
    add_strategy_args(p)
    add_json_arg(p)
    p.add_argument("--tol", type=positive_float, default=None,
                   help="solver tolerance (default: clarabel 1e-10, ecos 1e-8, scs 1e-6; a failed "
                        "or inaccurate solve at the default is retried once at a looser one)")
    p.add_argument("--max-iters", type=positive_int, default=None,
                   help="solver iteration limit (>= 1)")
    p.add_argument("--certify-tol", type=positive_float, default=1e-6,
                   help="certified iff M(lambda) <= beta (1 + tol) and the relative gap <= 10 tol")
    p.add_argument("--max-chambers", type=positive_int, default=DEFAULT_MAX_CHAMBERS,
                   help="enumerate all chambers (facets and certificate) of a sampled list only "
                        "when Cover's bound is at most this")
    p.add_argument("--bound", choices=("auto", "enumerate", "search"), default="auto",
                   help="how M(lambda) over all chambers is bounded for the certificate: "
                        "enumerate the chambers, search (anytime upper bound, no enumeration: a "
                        "certified lower bound and gap at any budget), auto = search only when "
                        "the chambers cannot be enumerated")
    p.add_argument("--bound-time-limit", type=positive_float, default=60.0,
                   help="seconds for the search bound")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import solve

    data, problem = load_problem(args)
    patterns, found = solve_patterns(args, problem.X)
    res = solve(problem, patterns=patterns, bias=args.bias, solver=args.solver, tol=args.tol,
                max_iters=args.max_iters, certify_tol=args.certify_tol,
                max_chambers=args.max_chambers, strategy=args.strategy, n_samples=args.samples,
                seed=args.seed, working_set_options=working_set_options(args), bound=args.bound,
                bound_time_limit=args.bound_time_limit)
    warnings = list(res.warnings)
    if found is not None and found.warning:
        warnings.append(found.warning)
    if not res.beta_max_complete:
        warnings.append("beta_max is computed over the sampled patterns only (a lower bound)")
    record = {"data": data.name, **res.to_dict(),
              "pattern_seconds": None if found is None else found.seconds,
              "pattern_cache_hit": None if found is None else found.hit,
              "seed": args.seed, "samples": args.samples, "method": args.method,
              "warnings": warnings}
    if args.json:
        print_json(record)
    else:
        print_table({k: v for k, v in record.items() if not isinstance(v, list | dict)})
        for reason in record["certificate_reasons"]:
            print(f"not certified: {reason}")
        for w in warnings:
            print(f"warning: {w}")
    return 0
