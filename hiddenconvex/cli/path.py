"""``hiddenconvex path DATA.csv [--betas B ...]``: the β path of the optimum and the optimal set.

Without ``--betas``: 10 log-spaced values from β_max down to β_max/1000 (β_max over all chambers
when they can be enumerated, else over the pattern list). Each β is warm-started from the
previous one (:func:`hiddenconvex.path.solve_path`). Writes one CSV (``--output``, atomically;
columns beta, objective, certified, lower_bound, gap, relative_gap, m_star, unique,
num_equicorrelated, active_blocks, ...) and one figure (objective and m* against β) beside it;
``--json`` prints the rows. Exit status: 0, 2 bad input, 3 solver failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
    working_set_options,
)

DEFAULT_OUT = "results/path"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "path",
        help="the beta path: optimum, certificate, m* and uniqueness along decreasing beta",
        description=("Solve at a decreasing sequence of beta, each warm-started from the previous "
                     "one; one CSV and one figure (objective and m* against beta)."),
        formatter_class=HelpFormatter,
    )
    add_data_args(p)
    add_solver_args(p, beta=1.0)
    p.set_defaults(beta=None)
    add_pattern_args(p)
    add_strategy_args(p)
    p.add_argument("--betas", type=positive_float, nargs="+", default=None,
                   help="the values of beta (default: --num-betas log-spaced values from beta_max "
                        "down to beta_max/1000)")
    p.add_argument("--num-betas", type=positive_int, default=10,
                   help="number of default betas")
    p.add_argument("--output", default=None,
                   help=f"CSV to write (default: {DEFAULT_OUT}/<data>.csv); the figure is written "
                        "beside it as <name>.png")
    p.add_argument("--no-optimal-set", action="store_true",
                   help="skip m*, uniqueness and the equicorrelation set per beta")
    p.add_argument("--no-figure", action="store_true", help="do not draw the figure")
    add_json_arg(p)
    p.set_defaults(func=run)


def _write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    from ..experiments.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, pd.DataFrame(rows).to_csv(index=False))


def _draw(path: Path, rows: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..experiments.atomic import atomic_path

    betas = [r["beta"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(betas, [r["objective"] for r in rows], "o-", label="objective P(beta)")
    ax.set_xscale("log")
    ax.set_xlabel("beta")
    ax.set_ylabel("objective")
    ms = [(r["beta"], r["m_star"]) for r in rows if r.get("m_star") is not None]
    if ms:
        ax2 = ax.twinx()
        ax2.step([b for b, _ in ms], [m for _, m in ms], "s--", color="C1", where="mid",
                 label="m*(beta)")
        ax2.set_ylabel("m* (minimal width)")
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def run(args) -> int:
    from ..path import solve_path

    args.beta = 1.0  # load_problem needs a beta; the path sets its own
    data, problem = load_problem(args)
    out = Path(args.output) if args.output else Path(DEFAULT_OUT) / f"{Path(data.name).stem}.csv"
    ws_opts = working_set_options(args)
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm

        bar = tqdm(desc="beta path", unit="beta", file=sys.stderr, leave=False)
    points = solve_path(problem.X, problem.y, args.betas, problem.loss, patterns=args.method,
                        strategy=args.strategy, optimal_set=not args.no_optimal_set,
                        num_betas=args.num_betas, solver=args.solver, seed=args.seed,
                        n_samples=args.samples, working_set_options=ws_opts,
                        callback=None if bar is None else (lambda p: bar.update(1)))
    if bar is not None:
        bar.close()
    rows = [{"data": data.name, "bias": bool(args.bias), "seed": args.seed, **p.record}
            for p in points]
    _write_csv(out, rows)
    figure = None
    if not args.no_figure:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("note: matplotlib is not installed; the figure is skipped "
                  "(pip install 'hiddenconvex[plot]')", file=sys.stderr)
        else:
            figure = out.with_suffix(".png")
            _draw(figure, rows, f"{data.name}: beta path ({problem.loss.name} loss)")
    if args.json:
        print_json({"rows": rows, "csv": str(out),
                    "figure": None if figure is None else str(figure)})
    else:
        for r in rows:
            cert = "certified" if r["certified"] else "not certified"
            print(f"beta {r['beta']:.6g}  objective {r['objective']:.10g}  {cert}  "
                  f"m* {r['m_star']}  unique {r['unique']}  active {r['active_blocks']}")
        print(f"wrote {out}" + ("" if figure is None else f" and {figure}"))
    return 0
