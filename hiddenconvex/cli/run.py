"""``hiddenconvex run DATA.csv``: the main job (``make run``).

On one dataset: enumerate the activation patterns, solve and certify the convex program, build the
exact optimal set, train ``--seeds`` networks of the non-convex objective by gradient methods and
verify each of them against the convex optimum (:mod:`hiddenconvex.verification`). Prints a short
table and writes, atomically, into ``--out`` (default ``results/run``):

* ``summary.csv`` — one row per trained network: ``data``, ``status`` (``ok``: the run completed),
  the convex optimum and its certificate (repeated), the network's objective, relative gap,
  structural tests, φ certificate, training statistics and provenance;
* ``curves.csv`` — the training curves (objective per iteration, log-spaced iterations kept);
* ``training_curves.png`` — made from the two stored CSVs: the curves converging to the convex
  optimum line (needs matplotlib: ``pip install hiddenconvex[plot]``; skipped with a note
  otherwise).

The results folder is checked to be writable before any work starts. Once the options are valid,
the outputs of a previous run in ``--out`` are removed, and the new ones are written under temporary
names (``*.partial``) and moved into place only when the whole run has succeeded: a run that fails
(bad data, solver failure, interruption) leaves no output at all, never a stale or partial one.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np

from .common import (
    HelpFormatter,
    add_data_args,
    add_pattern_args,
    add_solver_args,
    add_strategy_args,
    load_problem,
    positive_int,
)
from .verify import (
    add_training_args,
    check_common,
    patterns_of,
    print_networks,
    progress_bar,
    train_options,
)

DEFAULT_BETA = 0.1
DEFAULT_OUT = "results/run"
MAX_DEFAULT_WIDTH = 100
CURVE_POINTS = 200  # log-spaced iterations kept per training curve
GAP_FLOOR = 1e-12
OUTPUT_NAMES = ("summary.csv", "curves.csv", "training_curves.png")
SUMMARY_KEYS = ("n", "d", "rank", "beta", "loss", "n_patterns", "patterns_complete",
                "convex_objective", "certified", "lower_bound", "certificate_gap", "psi_objective",
                "m_star", "unique", "n_candidates", "solver", "solver_status", "solve_seconds",
                "optimal_set_seconds")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="main job: patterns, convex optimum, optimal set, trained networks, table and figure",
        description=(
            "Solve the hidden convex program of a two-layer ReLU network on DATA, build its "
            "optimal set, train seeded networks by gradient methods and check that they converge "
            "to the certified convex optimum; writes summary.csv, curves.csv and "
            "training_curves.png."
        ),
        formatter_class=HelpFormatter,
    )
    add_data_args(p)
    add_solver_args(p, beta=DEFAULT_BETA)
    add_pattern_args(p)
    add_strategy_args(p)
    add_training_args(p, seeds=8)
    p.add_argument("--width", type=positive_int, default=None,
                   help="width of the trained networks (default: n + m*, where gradient methods "
                        "meet no spurious valleys, SPEC 4.9; 2n when m* is unknown; at most "
                        f"{MAX_DEFAULT_WIDTH})")
    p.add_argument("--out", default=DEFAULT_OUT, help="results folder")
    p.add_argument("--no-figure", action="store_true", help="do not draw training_curves.png")
    p.set_defaults(func=run)


def _log_indices(length: int, points: int = CURVE_POINTS) -> np.ndarray:
    """About ``points`` log-spaced indices of a curve of ``length`` values (first and last kept)."""
    if length <= points:
        return np.arange(length)
    idx = np.unique(np.round(np.geomspace(1, length, points)).astype(int) - 1)
    return np.union1d(np.array([0, length - 1]), idx)


def curve_rows(report) -> list[dict]:
    p_c = report.reference.convex_objective
    rows = []
    for r in report.networks:
        hist = r.training.history
        for k in _log_indices(hist.size):
            rows.append({"train_seed": r.training.seed, "iteration": int(k),
                         "objective": float(hist[k]),
                         "relative_gap": (float(hist[k]) - p_c) / abs(p_c)})
    return rows


def summary_rows(data, report, grouping: str) -> list[dict]:
    from ..experiments.provenance import collect_provenance

    conv = report.reference.to_record()
    shared = {"data": data.name, "status": "ok", **{k: conv[k] for k in SUMMARY_KEYS}}
    prov = {k: v for k, v in collect_provenance().items() if k != "hostname"}
    return [{**shared, **rec, **prov} for rec in report.network_records(grouping)]


def write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    from ..experiments.atomic import atomic_write

    atomic_write(path, pd.DataFrame(rows).to_csv(index=False, lineterminator="\n"))


def plot_curves(curves_csv: Path, summary_csv: Path, out: Path) -> str:
    """Draw the training curves from the STORED CSVs; returns the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..experiments.atomic import atomic_path

    curves, summary = pd.read_csv(curves_csv), pd.read_csv(summary_csv)
    p_c = float(summary["convex_objective"].iloc[0])
    certified = bool(summary["certified"].iloc[0])
    width = int(summary["width"].iloc[0])
    reach = float(summary["reach_tol"].iloc[0]) if "reach_tol" in summary else 1e-4
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    final = curves.sort_values("iteration").groupby("train_seed")["objective"].last()
    span = max(10 * float(final.max() - p_c), 1e-3 * abs(p_c), 1e-12)
    for i, (seed, g) in enumerate(curves.groupby("train_seed", sort=True)):
        color = f"C{i % 10}"
        it = g["iteration"].to_numpy() + 1
        ax1.plot(it, g["objective"], color=color, lw=1.2, label=f"seed {seed}")
        gap = g["relative_gap"].to_numpy()
        ax2.plot(it, np.maximum(gap, GAP_FLOOR), color=color, lw=1.2)
    label = "$P_c$" + (" (certified)" if certified else " (NOT certified)")
    ax1.axhline(p_c, color="k", ls="--", lw=1.4, label=label)
    ax1.set_ylim(p_c - 0.05 * span, p_c + span)
    ax1.set_xscale("log")
    ax1.set_xlabel("iteration + 1")
    ax1.set_ylabel(r"$L_\beta(\theta_k)$")
    ax1.set_title("objective of the trained networks (zoom near $P_c$)", fontsize=10)
    ax2.axhline(reach, color="gray", ls=":", lw=1.2, label=f"relative gap {reach:g}")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("iteration + 1")
    ax2.set_ylabel(r"$(L_\beta(\theta_k) - P_c)/|P_c|$")
    ax2.set_title("relative gap to the convex optimum", fontsize=10)
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.835, 0.58), fontsize=8)
    n, n_reached = len(summary), int(summary["reached"].sum())
    member = summary["in_optimal_set"].dropna().astype(bool)
    others = summary.loc[~summary["in_optimal_set"].fillna(False).astype(bool), "relative_gap"]
    if len(member) == n:
        outcome = (f"{int(member.sum())} of {n} networks end in the optimal set"
                   + (f"; the others stop at stationary points that are not optimal, relative gaps "
                      f"{others.min():.1e} to {others.max():.1e}" if len(others) else "")
                   + f" ({n_reached} of {n} within {reach:g} of P_c).")
    else:
        outcome = f"{n_reached} of {n} networks end within {reach:g} of P_c."
    data = summary["data"].iloc[0]
    beta = summary["beta"].iloc[0]
    caption = (
        f"Gradient training ({summary['train_method'].iloc[0]}) of {n} width-{width} ReLU "
        f"networks on {data} (beta = {beta:g}) from seeded random starts. Left: objective per "
        f"iteration (log x), zoomed to [P_c, P_c + {span:.2g}]; dashed: the convex optimum "
        f"P_c = {p_c:.10g}. Right: relative gap to P_c (log-log; gaps below {GAP_FLOOR:g}, "
        f"including the tiny negative ones the certificate allows, are drawn at {GAP_FLOOR:g}); "
        f"dotted: relative gap {reach:g}. " + outcome
    )
    fig.suptitle(f"Training curves vs the convex optimum — {data}", fontsize=12)
    fig.tight_layout(rect=(0, 0.16, 0.83, 0.95))
    fig.text(0.5, 0.01, "\n".join(textwrap.wrap(caption, 150)), ha="center", va="bottom",
             fontsize=8)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return caption


def remove_previous_outputs(out: Path) -> None:
    """Remove the outputs of an earlier run from ``out``, so that none of them can be taken for
    the result of this run if it fails (InputError when one cannot be removed)."""
    from ..errors import InputError

    for name in OUTPUT_NAMES:
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as exc:
            raise InputError(f"cannot remove the previous {out / name} "
                             f"({exc.strerror or type(exc).__name__})") from None


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def print_header(data, report, width: int) -> None:
    ref = report.reference
    rec = ref.to_record()
    lb = rec["lower_bound"]
    print(f"data {data.name}: n = {rec['n']}, d = {rec['d']}, rank {rec['rank']}; "
          f"{rec['loss']} loss, beta = {rec['beta']:g}")
    print(f"patterns: {rec['n_patterns']} ({rec['pattern_method']}, "
          f"{'complete' if rec['patterns_complete'] else 'sampled'}); solver {rec['solver']} "
          f"({rec['solver_status']})")
    print(f"convex optimum P_c = {rec['convex_objective']:.12g}  certified = {rec['certified']}"
          + ("" if lb is None else f"  (lower bound {lb:.12g})"))
    print(f"L_beta(psi(W*))   = {rec['psi_objective']:.12g}")
    if rec["m_star"] is not None:
        print(f"optimal set: m* = {rec['m_star']}, unique = {rec['unique']}, "
              f"{rec['n_candidates']} candidate neurons")
    else:
        print(f"optimal set: {ref.optimal_set_note}")
    best = report.best
    print(f"trained: {len(report.networks)} networks of width {width}; best relative gap "
          f"{best.relative_gap:.3e}; {sum(r.reached for r in report.networks)} within "
          f"{report.reach_tol:g}")
    print()


def run(args) -> int:
    import time

    from ..experiments.atomic import atomic_paths, ensure_writable_folder
    from ..training import train_many
    from ..verification import convex_reference, verify_networks

    t0 = time.perf_counter()
    check_common(args)
    out = ensure_writable_folder(args.out)
    remove_previous_outputs(out)
    figure = not args.no_figure and _have_matplotlib()
    if not args.no_figure and not figure:
        print("note: matplotlib is not installed; training_curves.png is skipped "
              "(pip install 'hiddenconvex[plot]')", file=sys.stderr)
    data, problem = load_problem(args)
    patterns = patterns_of(args, problem.X)
    ref = convex_reference(problem, patterns, solver=args.solver, strategy=args.strategy)
    m_star = None if ref.optimal_set is None else ref.optimal_set.m_star
    width = args.width or min(problem.n + (problem.n if m_star is None else m_star),
                              MAX_DEFAULT_WIDTH)
    with progress_bar(args.seeds, "training") as bar:
        results = train_many(problem, width, args.seeds, args.train_method,
                             on_result=lambda r: bar.update(1), **train_options(args))
    report = verify_networks(ref, results, tol=args.verify_tol, reach_tol=args.reach_tol)

    print_header(data, report, width)
    print_networks(report, args.grouping)
    for w in report.warnings:
        print(f"warning: {w}")
    written = [out / name for name in OUTPUT_NAMES[:3 if figure else 2]]
    with atomic_paths(written) as tmp:  # moved into place together, only when all are written
        write_csv(tmp[0], summary_rows(data, report, args.grouping))
        write_csv(tmp[1], curve_rows(report))
        if figure:
            plot_curves(tmp[1], tmp[0], tmp[2])
    seconds = time.perf_counter() - t0
    print(f"\nwrote {', '.join(map(str, written))} ({seconds:.1f} s)")
    if m_star is not None and width < m_star:
        print(f"warning: width {width} < m* = {m_star}: no network of this width reaches P_c",
              file=sys.stderr)
    return 0
