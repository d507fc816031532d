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
* ``errors.{csv,md}`` — the runs with ``status == "error"`` and their messages.

Column-driven: a statistic whose source column is absent from the CSV is skipped with a note
(printed and written under the Markdown table). Statistics use the rows with ``status == "ok"``.

A missing, unreadable, empty, truncated or corrupt CSV (a line whose number of fields differs from
the header's) stops the script with one line naming the file and the line, exit status 2; no table
is written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

DEFAULT_CSV = "results/experiments/runs.csv"
DEFAULT_OUT = "results/tables"
REACH_TOL = 1e-4
PROG = "make_tables"

# (output column, source column, statistic, number format, description)
SUMMARY_STATS = [
    ("convex_objective", "convex_objective", "median", "g",
     "convex optimum P_c (median over solvers and seeds)"),
    ("convex_objective_spread", "convex_objective", "relspread", "e",
     "(max − min)/|median| of P_c over solvers and seeds (solver agreement)"),
    ("certified", "certified", "fraction", "f",
     "fraction of runs whose convex solution is certified optimal"),
    ("m_star_min", "m_star", "min", "d", "m* (smallest optimal width), minimum over runs"),
    ("m_star_max", "m_star", "max", "d", "m*, maximum over runs"),
    ("unique", "unique", "fraction", "f", "fraction of runs whose optimal set is a single point"),
    ("n_patterns", "n_patterns", "median", "d", "number of activation patterns p (median)"),
    ("best_relative_gap", "best_relative_gap", "min", "e",
     "best relative gap (L_β(trained) − P_c)/|P_c| over seeds (negative = below P_c)"),
    ("median_relative_gap", "best_relative_gap", "median", "e",
     "median over seeds of each run's best relative gap"),
    ("reached_1e-4", "best_relative_gap", "reached", "f",
     f"fraction of seeds whose best trained net reaches the convex value to |gap| ≤ "
     f"{REACH_TOL:g} (P_c when certified; for an uncertified sample, its P_S ≥ P_c)"),
    ("in_optimal_set", "fraction_in_optimal_set", "mean", "f",
     "mean fraction of the trained networks that are members of the exact optimal set"),
    ("missing_patterns", "patterns_missing_evidence", "fraction", "f",
     "fraction of runs where a trained net beat the uncertified sampled program "
     "(evidence that the sample misses chambers)"),
]
GROUP_ALWAYS = ("dataset", "beta")
NOT_GROUPED = ("solver", "seed")


def _bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0"):
        return v.strip().lower() in ("true", "1")
    if isinstance(v, int | float) and not (isinstance(v, float) and math.isnan(v)):
        return bool(v)
    return None


def _stat(values, how: str):
    import numpy as np
    import pandas as pd

    if how == "fraction":
        b = [x for x in (_bool(v) for v in values) if x is not None]
        return float(np.mean(b)) if b else math.nan
    x = pd.to_numeric(pd.Series(list(values)), errors="coerce").dropna().to_numpy(dtype=float)
    if x.size == 0:
        return math.nan
    if how == "median":
        return float(np.median(x))
    if how == "mean":
        return float(np.mean(x))
    if how == "min":
        return float(x.min())
    if how == "max":
        return float(x.max())
    if how == "relspread":
        scale = max(abs(float(np.median(x))), np.finfo(float).tiny)
        return float((x.max() - x.min()) / scale)
    if how == "reached":
        return float(np.mean(np.abs(x) <= REACH_TOL))
    raise ValueError(how)


def param_columns(df) -> list[str]:
    """Parameter columns: those before ``seed`` (the CSV layout of the batch runner,
    :mod:`hiddenconvex.experiments.runner`)."""
    cols = list(df.columns)
    return cols[: cols.index("seed")] if "seed" in cols else [
        c for c in ("dataset", "beta", "loss", "solver", "method", "samples", "width") if c in cols]


def group_keys(df) -> list[str]:
    """dataset and β always; other parameters (except solver and seed) only when they vary."""
    keys = [c for c in GROUP_ALWAYS if c in df.columns]
    for c in param_columns(df):
        if c not in keys and c not in NOT_GROUPED and df[c].nunique(dropna=False) > 1:
            keys.append(c)
    return keys


def summary_table(df):
    """Per-group summary; returns (table, formats, descriptions, notes)."""
    import pandas as pd

    keys = group_keys(df)
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    notes = [f"statistic {out!r} skipped: column {src!r} not in the CSV"
             for out, src, *_ in SUMMARY_STATS if src not in df.columns]
    rows = []
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        row = dict(zip(keys, gkey, strict=True))
        row["runs"] = len(g)
        row["errors"] = int((g["status"] == "error").sum()) if "status" in g.columns else 0
        g_ok = ok.loc[ok.index.intersection(g.index)]
        for out, src, how, _, _ in SUMMARY_STATS:
            if src in df.columns:
                row[out] = _stat(g_ok[src].tolist(), how)
        rows.append(row)
    table = pd.DataFrame(rows)
    formats = {"runs": "d", "errors": "d", **{o: f for o, _, _, f, _ in SUMMARY_STATS}}
    desc = {"runs": "runs in the group (all solvers and seeds)",
            "errors": "runs with status error (excluded from the statistics)",
            **{o: d for o, s, _, _, d in SUMMARY_STATS if s in df.columns}}
    return table, formats, desc, notes


def solve_time_table(df):
    """Median solve time per solver (columns), rows as in the summary; None if not possible."""
    import pandas as pd

    if "solve_seconds" not in df.columns or "solver" not in df.columns:
        return None
    keys = group_keys(df)
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    if ok.empty:
        return None
    solvers = list(dict.fromkeys(ok["solver"].tolist()))
    rows = []
    for gkey, g in ok.groupby(keys, sort=False, dropna=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        row = dict(zip(keys, gkey, strict=True))
        for s in solvers:
            row[f"{s}_median_s"] = _stat(g.loc[g["solver"] == s, "solve_seconds"], "median")
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float | int) and not isinstance(v, bool):
        if fmt == "d" and float(v).is_integer():
            return str(int(v))
        if fmt == "e":
            return f"{v:.2e}"
        if fmt == "f":
            return f"{v:.2f}"
        return f"{v:.6g}"
    return str(v).replace("|", "\\|")


def to_markdown(table, title: str, formats: dict, descriptions: dict, notes: list[str],
                source: str) -> str:
    import pandas as pd

    cols = list(table.columns)
    lines = [f"## {title}", "", f"Source: `{source}`.", ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---"
                                for c in cols) + "|")
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c], formats.get(c, "g")) for c in cols) + " |")
    if descriptions:
        lines += ["", "Columns:"]
        lines += [f"- `{c}`: {descriptions[c]}" for c in cols if c in descriptions]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_pair(out: Path, stem: str, table, markdown: str) -> list[Path]:
    from hiddenconvex.experiments.runner import atomic_write

    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    atomic_write(csv_path, table.to_csv(index=False, lineterminator="\n"))
    atomic_write(md_path, markdown)
    return [csv_path, md_path]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="?", default=DEFAULT_CSV, help=f"tidy CSV (default {DEFAULT_CSV})")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = p.parse_args(argv)

    from hiddenconvex.errors import InputError
    from hiddenconvex.experiments.runner import ensure_writable_folder, read_table

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

    written: list[Path] = []
    table, formats, desc, notes = summary_table(df)
    for n in notes:
        print(f"{PROG}: note: {n}", file=sys.stderr)
    written += write_pair(out, "summary", table, to_markdown(
        table, "Summary per dataset × β", formats, desc, notes, str(src)))

    times = solve_time_table(df)
    if times is None:
        note = "solve_times skipped: the CSV has no 'solve_seconds'/'solver' columns or no ok rows"
        print(f"{PROG}: note: {note}", file=sys.stderr)
        for stale in (out / "solve_times.csv", out / "solve_times.md"):
            stale.unlink(missing_ok=True)
    else:
        tdesc = {c: f"median convex solve time in seconds with {c.removesuffix('_median_s')}"
                 for c in times.columns if c.endswith("_median_s")}
        written += write_pair(out, "solve_times", times, to_markdown(
            times, "Convex solve time per solver", {}, tdesc, [], str(src)))

    if "status" in df.columns:
        cols = [*param_columns(df), *[c for c in ("seed", "run_id", "error") if c in df.columns]]
        errors = df.loc[df["status"] == "error", cols]
        written += write_pair(out, "errors", errors, to_markdown(
            errors, f"Failed runs ({len(errors)})", {}, {}, [], str(src)))

    print(f"{PROG}: {len(df)} runs -> " + ", ".join(str(w) for w in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
