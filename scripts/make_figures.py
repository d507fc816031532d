#!/usr/bin/env python
"""Figures from the stored result CSVs only (never from a live run).

    python scripts/make_figures.py [--runs results/experiments/runs.csv]
                                   [--bench results/bench/solvers.csv] [--out results/figures]

Writes PNG files (matplotlib, Agg backend), each with a title and a caption saying what it shows,
and ``captions.md`` listing them:

* ``gap_vs_width.png`` — relative gap of the best gradient-trained network to the convex optimum
  P_c against the width m, one panel per dataset, one line per β (needs ≥ 2 widths in the CSV);
* ``gap_vs_beta.png`` — the same gap against β, one line per width (needs ≥ 2 values of β);
* ``solve_time_vs_patterns.png`` — convex solve time against the number of activation patterns p,
  one colour per solver, from the solver benchmark CSV if present, else from the runs CSV;
* ``real_gap_vs_samples.png``, ``real_trained.png`` — from the real-data CSV (``--real``, default
  ``real.csv`` beside the runs CSV, written by ``make experiments-real``): per dataset, the
  relative gap of the sampled objective against the number of sampled gates (log-log), and the
  trained objectives against the certified optimum (or the sampled objective and the certified
  lower bound, labeled).

The figures are drawn by :mod:`hiddenconvex.experiments.figures`; this script is its command line.
A missing input file or column prints a note and skips that figure; the others are still made.
Exit status 2 when no input CSV exists at all, or when an existing one cannot be read (truncated or
corrupt: one line naming the file and the line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_RUNS = "results/experiments/runs.csv"
DEFAULT_BENCH = "results/bench/solvers.csv"
DEFAULT_OUT = "results/figures"
PROG = "make_figures"


def note(msg: str) -> None:
    print(f"{PROG}: note: {msg}", file=sys.stderr)


def _read(path: Path, what: str):
    """The CSV, or None with a note when it does not exist or has no rows; a truncated or corrupt
    CSV raises InputError (``main``: exit 2, no figure is made from part of a file)."""
    from hiddenconvex.errors import InputError
    from hiddenconvex.experiments.table import check_csv_fields, read_table

    if not path.is_file():
        note(f"{what} {path} not found")
        return None
    check_csv_fields(path, what)
    try:
        return read_table(path, what)
    except InputError as exc:
        note(str(exc))
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default=DEFAULT_RUNS, help=f"tidy runs CSV (default {DEFAULT_RUNS})")
    p.add_argument("--bench", default=DEFAULT_BENCH,
                   help=f"solver benchmark CSV (default {DEFAULT_BENCH})")
    p.add_argument("--real", default=None,
                   help="real-data CSV (default: real.csv in the folder of --runs)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = p.parse_args(argv)

    from hiddenconvex.errors import InputError

    real_path = Path(args.real) if args.real else Path(args.runs).with_name("real.csv")
    try:
        runs = _read(Path(args.runs), "runs CSV")
        bench = _read(Path(args.bench), "benchmark CSV")
        real = _read(real_path, "real-data CSV")
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if runs is None and bench is None and real is None:
        print(f"{PROG}: error: no input CSV ({args.runs}, {args.bench}, {real_path}); run "
              "`make experiments` (and `make bench`, `make experiments-real`) first",
              file=sys.stderr)
        return 2
    import matplotlib

    from hiddenconvex.experiments.atomic import ensure_writable_folder
    from hiddenconvex.experiments.figures import write_figures

    matplotlib.use("Agg")
    try:
        out = ensure_writable_folder(args.out)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    made = write_figures(runs, bench, args.bench, out, note=note, real=real)
    print(f"{PROG}: {len(made)} figure(s) -> " + (", ".join(str(m[0]) for m in made) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
