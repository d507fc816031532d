#!/usr/bin/env python
"""Pivot the tidy experiment CSV into paper-style summary tables (CSV and Markdown).

    python scripts/make_tables.py [RUNS.csv] [--out results/tables]

Reads only the stored CSV written by ``scripts/run_batch.py`` (default
``results/experiments/runs.csv``) and writes, atomically, into ``--out``:

* ``summary.{csv,md}`` — one row per dataset × β (and per loss / method / samples / width /
  option value when those vary in the CSV): number of runs and errors, convex optimum P_c and its
  spread over solvers and seeds, fraction certified, m* (min and max), fraction unique, best and
  median relative gap of the trained networks over seeds, fraction of seeds reaching P_c to 1e-4;
* ``solve_times.{csv,md}`` — median convex solve time per solver (same rows);
* ``errors.{csv,md}`` — the runs with ``status == "error"`` and their messages;
* ``real.{csv,md}`` — the real-data table (one row per dataset × β/β_max: β_max and how it was
  obtained, the certified optimum or the sampled objective with its certified lower bound and
  relative gap, m*, the best trained network and its gap, seconds per phase, status), from the
  real-data CSV (``--real``, default ``real.csv`` beside the runs CSV, written by
  ``make experiments-real``); when that CSV does not exist a note says so and the other tables
  are still written.

Column-driven: a statistic whose source column is absent from the CSV is skipped with a note
(printed and written under the Markdown table). Statistics use the rows with ``status == "ok"``.
The tables are built by :mod:`hiddenconvex.experiments.summary`; this script is its command line.

A missing, unreadable, empty, truncated or corrupt CSV (a line whose number of fields differs from
the header's) stops the script with one line naming the file and the line, exit status 2; no table
is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CSV = "results/experiments/runs.csv"
DEFAULT_OUT = "results/tables"
PROG = "make_tables"


def note(msg: str) -> None:
    print(f"{PROG}: note: {msg}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="?", default=DEFAULT_CSV, help=f"tidy CSV (default {DEFAULT_CSV})")
    p.add_argument("--real", default=None,
                   help="real-data CSV (default: real.csv in the folder of the runs CSV)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = p.parse_args(argv)

    from hiddenconvex.errors import InputError
    from hiddenconvex.experiments.atomic import ensure_writable_folder
    from hiddenconvex.experiments.summary import write_real_tables, write_tables
    from hiddenconvex.experiments.table import read_table

    src = Path(args.csv)
    try:
        df = read_table(src, "runs CSV")
    except InputError as exc:
        hint = ("run `make experiments` first" if not src.is_file() else
                "remove it and rerun `make experiments` (completed runs are reused) to rebuild it")
        print(f"{PROG}: error: {exc}; {hint}", file=sys.stderr)
        return 2
    try:
        out = ensure_writable_folder(args.out)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    written = write_tables(df, out, str(src), note=note)
    print(f"{PROG}: {len(df)} runs -> " + ", ".join(str(w) for w in written))
    real = Path(args.real) if args.real else src.with_name("real.csv")
    if not real.is_file():
        note(f"real-data CSV {real} not found: real.csv/real.md not written (run "
             "`make experiments-real` first)")
        return 0
    try:
        real_df = read_table(real, "real-data CSV")
    except InputError as exc:
        print(f"{PROG}: error: {exc}; rerun `make experiments-real` (stored runs are reused) to "
              "rebuild it", file=sys.stderr)
        return 2
    real_written = write_real_tables(real_df, out, str(real))
    print(f"{PROG}: {len(real_df)} real-data runs -> "
          + ", ".join(str(w) for w in real_written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
