"""``hiddenconvex optimal-set DATA.csv --beta B``: the exact optimal set (SPEC §4.6–§4.7).

Solves the convex program, certifies it over all chambers, and reports the candidates, m*,
uniqueness, the pruned and minimal widths and (for few candidates) the vertices of the optimal
polytope.
"""

from __future__ import annotations

from .common import (
    HelpFormatter,
    add_data_args,
    add_json_arg,
    add_pattern_args,
    add_solver_args,
    add_strategy_args,
    load_problem,
    nonnegative_int,
    patterns_from_args,
    positive_float,
    positive_int,
    print_json,
    print_table,
    working_set_options,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "optimal-set",
        help="exact optimal set: candidates, m*, uniqueness, pruning, vertices",
        description=(
            "Solve the convex program, certify it over all chambers and describe every optimal "
            "network (strictly convex losses only: squared, logistic)."
        ),
        formatter_class=HelpFormatter,
    )
    add_data_args(p)
    add_solver_args(p)
    add_pattern_args(p)
    add_strategy_args(p)
    add_json_arg(p)
    p.add_argument("--max-vertex-candidates", type=nonnegative_int, default=14,
                   help="enumerate the polytope's vertices when there are at most this many "
                        "candidates")
    p.add_argument("--max-chambers", type=positive_int, default=20000,
                   help="enumerate all chambers (needed for the optimal set) only when Cover's "
                        "bound is at most this")
    p.add_argument("--milp-time-limit", type=positive_float, default=60.0,
                   help="seconds for the m* MILP; when reached, m_star is an upper bound "
                        "(m_star_method = milp_time_limit, m_star_lower the proven lower bound)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import solve
    from ..optimal_set import optimal_set

    data, problem = load_problem(args)
    if not problem.loss.strictly_convex:
        # fail before any solve: the polytope description needs a unique optimal prediction
        optimal_set(problem)
    found = patterns_from_args(args, problem.X)
    patterns = found.patterns
    res = solve(problem, patterns=patterns, bias=args.bias, solver=args.solver,
                max_chambers=args.max_chambers, strategy=args.strategy,
                working_set_options=working_set_options(args),
                optimal_set_options={"max_vertex_candidates": args.max_vertex_candidates,
                                     "milp_time_limit": args.milp_time_limit})
    result = res.optimal_set
    record = {"data": data.name, **result.to_record(),
              "num_patterns_solved": patterns.p, "pattern_method": patterns.method,
              "seed": args.seed, "samples": args.samples}
    record["num_patterns"] = result.patterns.p
    if found.warning:
        record["warnings"] = [*record["warnings"], found.warning]
    if args.json:
        print_json(record)
    else:
        print_table({k: v for k, v in record.items() if not isinstance(v, list | dict)})
        for w in record["warnings"]:
            print(f"warning: {w}")
    return 0
