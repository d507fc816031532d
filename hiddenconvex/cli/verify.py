"""``hiddenconvex verify DATA.csv --beta B --width M``: trained networks vs the convex optimum.

Enumerates the activation patterns, solves and certifies the convex program, builds the optimal set
(strictly convex losses), trains ``--seeds`` networks of width ``--width`` by gradient methods and
reports, per network: L_β(θ), the relative gap to P_c, scaled, nearly minimal (``--grouping``),
membership in the optimal set, and φ(θ) with its dual certificate (SPEC §2.4, §4).

A trained objective below the certified lower bound on P_c is a bug: the command stops with a
traceback (``OptimalityViolation``). Below an uncertified (sampled) convex value it is reported as
evidence that the sampled patterns miss chambers.
"""

from __future__ import annotations

import argparse
import sys

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
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="train networks by gradient methods and verify them against the convex optimum",
        description=(
            "Solve the convex program (certified over all chambers when possible), train seeded "
            "networks of the non-convex objective and report gaps, scaling, near-minimality, "
            "optimal-set membership and the certificate of phi(trained)."
        ),
        formatter_class=HelpFormatter,
    )
    add_data_args(p)
    add_solver_args(p)
    add_pattern_args(p)
    add_strategy_args(p)
    add_training_args(p)
    p.add_argument("--width", type=positive_int, required=True,
                   help="width m of the trained networks (>= 1)")
    add_json_arg(p)
    p.set_defaults(func=run)


def add_training_args(p: argparse.ArgumentParser, seeds: int = 4) -> None:
    """Training and verification options (shared with ``hiddenconvex run``)."""
    from ..minimality import GROUPINGS
    from ..training import DEFAULT_METHOD, METHODS
    from ..verification import DEFAULT_TOL, REACH_TOL

    p.add_argument("--seeds", type=positive_int, default=seeds,
                   help="number of trained networks (training seeds 0..K-1)")
    p.add_argument("--train-method", choices=METHODS, default=DEFAULT_METHOD,
                   help="gradient method (lbfgs-kinks: L-BFGS, then L-BFGS on the kink manifold)")
    p.add_argument("--max-iter", type=nonnegative_int, default=None,
                   help="training iteration limit (default: the method's)")
    p.add_argument("--init-scale", type=positive_float, default=1.0,
                   help="initialization scale (> 0)")
    p.add_argument("--verify-tol", type=positive_float, default=DEFAULT_TOL,
                   help="relative tolerance of the structural tests on trained networks")
    p.add_argument("--reach-tol", type=positive_float, default=REACH_TOL,
                   help="a network reaches P_c when its relative gap is at most this")
    p.add_argument("--grouping", choices=GROUPINGS, default="cone",
                   help="grouping of the nearly-minimal column (all groupings are computed)")


def check_common(args) -> None:
    """The solver is known and installed, checked before any work (InputError → exit 2); the
    numeric options were checked by their argparse types (:mod:`hiddenconvex.cli.common`)."""
    from ..solvers import get_solver, solver_options

    get_solver(args.solver)
    solver_options(args.solver)


def patterns_of(args, X):
    """The pattern list (cached); a cache warning goes to stderr."""
    res = patterns_from_args(args, X)
    if res.warning:
        print(f"warning: {res.warning}", file=sys.stderr)
    return res.patterns


def train_options(args) -> dict:
    opts = {"init_scale": args.init_scale}
    if args.max_iter is not None:
        opts["max_iter"] = args.max_iter
    return opts


def progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="net", disable=not sys.stderr.isatty(), leave=False)


def network_lists(report, grouping: str) -> dict:
    """Per-network lists for the JSON output."""
    nets = report.networks
    return {
        "train_seeds": [r.training.seed for r in nets],
        "trained_objectives": [r.objective for r in nets],
        "relative_gaps": [r.relative_gap for r in nets],
        "reached": [r.reached for r in nets],
        "converged": [r.training.converged for r in nets],
        "iterations": [r.training.iterations for r in nets],
        "scaled": [r.scaled for r in nets],
        "nearly_minimal": [r.nearly_minimal[grouping] for r in nets],
        "nearly_minimal_groupings": [[g for g, ok in r.nearly_minimal.items() if ok] for r in nets],
        "in_optimal_set": [r.in_optimal_set for r in nets],
        "membership_reasons": [r.membership_reason for r in nets],
        "direction_errors": [r.direction_error for r in nets],
        "phi_objectives": [r.phi_objective for r in nets],
        "phi_certified": [None if r.phi_certificate is None else r.phi_certificate.certified
                          for r in nets],
        "phi_gaps": [None if r.phi_certificate is None else r.phi_certificate.gap for r in nets],
        "below_uncertified": [r.below_uncertified for r in nets],
    }


NETWORK_COLUMNS = (
    ("train_seed", "seed", "d"), ("objective", "L_beta", ".10g"),
    ("relative_gap", "rel_gap", ".2e"),
    ("reached", "reached", ""), ("scaled", "scaled", ""), ("nearly_minimal", "near_min", ""),
    ("in_optimal_set", "in_opt_set", ""), ("phi_certified", "phi_cert", ""),
    ("iterations", "iters", "d"), ("train_seconds", "seconds", ".1f"),
)


def print_networks(report, grouping: str) -> None:
    """A short fixed-width table, one line per trained network."""
    rows = report.network_records(grouping)
    cells = [[h for _, h, _ in NETWORK_COLUMNS]]
    for rec in rows:
        line = []
        for key, _, fmt in NETWORK_COLUMNS:
            v = rec.get(key)
            line.append("-" if v is None else (format(v, fmt) if fmt and not isinstance(v, bool)
                                               else str(v)))
        cells.append(line)
    widths = [max(len(c[j]) for c in cells) for j in range(len(NETWORK_COLUMNS))]
    for line in cells:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))


def summary_record(data, report, grouping: str) -> dict:
    return {"data": data.name, **report.to_record(grouping)}


def run(args) -> int:
    from ..training import train_many
    from ..verification import convex_reference, verify_networks

    check_common(args)
    data, problem = load_problem(args)
    patterns = patterns_of(args, problem.X)
    ref = convex_reference(problem, patterns, solver=args.solver, strategy=args.strategy)
    with progress_bar(args.seeds, "training") as bar:
        results = train_many(problem, args.width, args.seeds, args.train_method,
                             on_result=lambda r: bar.update(1), **train_options(args))
    report = verify_networks(ref, results, tol=args.verify_tol, reach_tol=args.reach_tol)
    record = summary_record(data, report, args.grouping)
    if args.json:
        print_json({**record, **network_lists(report, args.grouping)})
        return 0
    print_table({k: v for k, v in record.items() if not isinstance(v, list | dict)})
    print()
    print_networks(report, args.grouping)
    for w in record["warnings"]:
        print(f"warning: {w}")
    return 0
