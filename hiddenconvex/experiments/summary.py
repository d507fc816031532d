"""Summary tables of a stored batch CSV, paper style (CSV and Markdown; edge module).

Made from the stored tidy CSV only (never from a live run), by ``scripts/make_tables.py``:

* ``summary`` — one row per dataset × β (and per loss / method / samples / width / option value
  when those vary in the CSV): number of runs and errors, then the statistics of
  :data:`SUMMARY_STATS` (convex optimum P_c and its spread over solvers and seeds, fraction
  certified, m* (min and max), fraction unique, best and median relative gap of the trained
  networks over seeds, fraction of seeds reaching P_c to
  :data:`~hiddenconvex.verification.REACH_TOL`, ...);
* ``solve_times`` — median convex solve time per solver (same rows);
* ``errors`` — the runs with ``status == "error"`` and their messages.

Column-driven: a statistic whose source column is absent from the CSV is skipped with a note
(passed to the ``note`` callback and written under the Markdown table). Statistics use the rows
with ``status == "ok"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..verification import REACH_TOL
from .atomic import atomic_write
from .table import param_columns

__all__ = [
    "SUMMARY_STATS",
    "group_keys",
    "summary_table",
    "solve_time_table",
    "error_table",
    "to_markdown",
    "write_pair",
    "write_tables",
]

#: The summary's statistics, one per output column: (output column, source column, statistic,
#: number format, description). Statistics: median, mean, min, max, fraction (of true booleans),
#: relspread ((max − min)/|median|), reached (fraction with |value| ≤ REACH_TOL).
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
#: Rows are always split by these; other parameters split them only when they vary ...
GROUP_ALWAYS = ("dataset", "beta")
#: ... except these (statistics are taken over solvers and seeds).
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


def group_keys(df) -> list[str]:
    """dataset and β always; other parameters (except solver and seed) only when they vary."""
    keys = [c for c in GROUP_ALWAYS if c in df.columns]
    for c in param_columns(df.columns):
        if c not in keys and c not in NOT_GROUPED and df[c].nunique(dropna=False) > 1:
            keys.append(c)
    return keys


def summary_table(df):
    """Per-group summary; returns (table, formats, descriptions, notes)."""
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


def error_table(df) -> pd.DataFrame | None:
    """The runs with ``status == "error"``: parameters, seed, run id and message (None when the
    CSV has no ``status`` column)."""
    if "status" not in df.columns:
        return None
    cols = [*param_columns(df.columns), *[c for c in ("seed", "run_id", "error")
                                          if c in df.columns]]
    return df.loc[df["status"] == "error", cols]


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
    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    atomic_write(csv_path, table.to_csv(index=False, lineterminator="\n"))
    atomic_write(md_path, markdown)
    return [csv_path, md_path]


def write_tables(df, out: Path, source: str,
                 note: Callable[[str], object] | None = None) -> list[Path]:
    """Write the ``summary``, ``solve_times`` and ``errors`` tables of ``df`` into ``out``.

    Each table is a pair ``<stem>.csv`` / ``<stem>.md`` written atomically; a ``solve_times``
    pair left by an earlier call is removed when the table cannot be made now.

    Parameters
    ----------
    df : pandas.DataFrame
        The stored tidy CSV (:func:`hiddenconvex.experiments.table.read_table`).
    out : Path
        Existing, writable folder.
    source : str
        Where ``df`` came from (named under each Markdown table).
    note : callable, optional
        Receives one line per skipped statistic or table.

    Returns
    -------
    list of Path
        The files written, in order.
    """
    note = note or (lambda msg: None)
    written: list[Path] = []
    table, formats, desc, notes = summary_table(df)
    for n in notes:
        note(n)
    written += write_pair(out, "summary", table, to_markdown(
        table, "Summary per dataset × β", formats, desc, notes, source))

    times = solve_time_table(df)
    if times is None:
        note("solve_times skipped: the CSV has no 'solve_seconds'/'solver' columns or no ok rows")
        for stale in (out / "solve_times.csv", out / "solve_times.md"):
            stale.unlink(missing_ok=True)
    else:
        tdesc = {c: f"median convex solve time in seconds with {c.removesuffix('_median_s')}"
                 for c in times.columns if c.endswith("_median_s")}
        written += write_pair(out, "solve_times", times, to_markdown(
            times, "Convex solve time per solver", {}, tdesc, [], source))

    errors = error_table(df)
    if errors is not None:
        written += write_pair(out, "errors", errors, to_markdown(
            errors, f"Failed runs ({len(errors)})", {}, {}, [], source))
    return written


# ----------------------------------------------------------------------------- real-data table

#: Columns of ``real.csv`` (the real-data table), from the stored CSV of
#: :mod:`hiddenconvex.experiments.real`: (output column, source column, format, description).
#: A source column absent from the CSV gives an empty column and a note.
REAL_COLUMNS = [
    ("dataset", "label", "s", "dataset (registry name; \"(no bias)\" / \"(bias)\" when the bias "
     "rule is overridden)"),
    ("n", "n", "d", "rows"),
    ("d", "d", "d", "columns of the design matrix (with the ones column when biased)"),
    ("rank", "rank", "d", "rank of the design matrix"),
    ("loss", "loss", "s", "loss (the registry's intended loss)"),
    ("beta_ratio", "beta", "g", "β/β_max as requested (grid value)"),
    ("beta", "beta_value", "g", "β used"),
    ("beta_max", "beta_max", "g", "β_max the ratio is taken of"),
    ("beta_max_method", "beta_max_method", "s",
     "chambers = exact over all chambers; search = exact by the completed anytime search; "
     "sampled = lower estimate (seeded gates and chamber ascent), so the true β/β_max is at most "
     "beta_ratio and at least beta_ratio_min"),
    ("beta_ratio_min", "beta_ratio_min", "g", "β / (valid upper bound on β_max)"),
    ("result", "result", "s", "certified = optimum over all chambers proven; sampled = best "
     "objective over sampled gates (an upper bound on P_c)"),
    ("gates", "samples", "d", "seeded Gaussian gates of a sampled list (0: every chamber)"),
    ("patterns", "n_patterns", "d", "patterns of the list: every chamber, or the gates' distinct "
     "patterns plus the search columns"),
    ("search_columns", "ws_search_columns", "d", "violating chambers the anytime search found "
     "and added to the sampled list (solve(bound=\"search\"))"),
    ("objective", "objective", "g", "P_c (certified) or P_S (sampled), L_β of the convex "
     "solution"),
    ("lower_bound", "lower_bound", "g", "certified lower bound on P_c (the certificate's)"),
    ("relative_gap", "relative_gap", "e", "(objective − lower_bound)/|objective|"),
    ("bound_method", "bound_method", "s", "how M(λ) over all chambers was bounded: chambers "
     "(pricing pass over all) or search (anytime bound, bound_time_limit seconds)"),
    ("bound_status", "bound_status", "s", "how the search ended (exact, target, time_limit)"),
    ("bound_fallback", "bound_fallback", "s", "why solve(bound=\"search\") was replaced by the "
     "sampled list alone and the search bound (a failure inside the search columns)"),
    ("m_star", "m_star", "d", "m*, the smallest optimal width (where the optimal set is "
     "computable)"),
    ("unique", "unique", "s", "the optimal set is a single point"),
    ("optimal_set_reason", "optimal_set_reason", "s", "why m* is empty"),
    ("train_width", "train_width", "d", "width of the trained networks"),
    ("train_width_rule", "train_width_rule", "s", "how the width was chosen"),
    ("best_train_objective", "best_train_objective", "g", "best L_β of the trained networks"),
    ("best_train_gap", "best_train_gap", "e",
     "(best trained − reference)/|reference| (negative: below an uncertified P_S)"),
    ("train_reference", "train_reference", "s", "reference of best_train_gap"),
    ("upper_bound", "upper_bound", "g", "best known upper bound on P_c: min(objective, best "
     "trained L_β)"),
    ("bracket_gap", "bracket_gap", "e", "(upper_bound − lower_bound)/|upper_bound|: P_c lies in "
     "[lower_bound, upper_bound]"),
    ("beta_max_seconds", "beta_max_seconds", "g", "seconds: β_max"),
    ("patterns_seconds", "patterns_seconds", "g", "seconds: patterns (sampling; the streamed "
     "chambers are enumerated inside the convex phase)"),
    ("convex_seconds", "convex_seconds", "g", "seconds: convex program (working set)"),
    ("bound_seconds", "bound_seconds", "g", "seconds: search bound"),
    ("optimal_set_seconds", "optimal_set_seconds", "g", "seconds: optimal set"),
    ("train_seconds", "train_seconds", "g", "seconds: training"),
    ("wall_seconds", "wall_seconds", "g", "seconds: the whole run"),
    ("status", "status", "s", "ok, time_limit / round_limit / stalled (the working set stopped on "
     "its budget: partial bounds), memory_limit (refused), error"),
    ("error", "error", "s", "message of a failed phase or run"),
    ("seed", "seed", "d", "seed of the gates and the training"),
    ("run_id", "run_id", "s", "run id (hash of parameters, options and seed)"),
    ("config_hash", "config_hash", "s", "hash of the parameters and options"),
    ("git_revision", "git_revision", "s", "git revision of the code"),
    ("hiddenconvex_version", "hiddenconvex_version", "s", "package version"),
]
#: The columns of the Markdown copy (the CSV has all of :data:`REAL_COLUMNS`).
REAL_MARKDOWN = ("dataset", "n", "d", "loss", "beta_ratio", "beta", "beta_max", "beta_max_method",
                 "result", "gates", "patterns", "objective", "lower_bound", "relative_gap",
                 "m_star", "unique", "train_width", "best_train_gap", "train_reference",
                 "bracket_gap", "wall_seconds", "status")


def real_label(dataset, bias_option, data_bias) -> str:
    """The dataset label of a real-data row: the registry name, with "(no bias)" / "(bias)"
    when the row overrides the registry's bias rule (option ``bias`` not "registry")."""
    opt = str(bias_option).strip().lower()
    if opt in ("", "nan", "none", "registry"):
        return str(dataset)
    return f"{dataset} ({'bias' if _bool(data_bias) else 'no bias'})"


def real_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The main rows of a real-data CSV (``role == "main"``, or runner-level error rows of
    ``method == "auto"``), with a ``label`` column and ``status`` = the runner's "error" or the
    task's ``row_status``; ``error`` = the runner's message or the task's ``row_error``."""
    df = df.copy()
    role = df["role"] if "role" in df.columns else pd.Series([None] * len(df), index=df.index)
    method = df["method"] if "method" in df.columns else pd.Series(["auto"] * len(df),
                                                                   index=df.index)
    main = (role == "main") | (role.isna() & (method == "auto"))
    df = df[main].copy()
    bias = df["bias"] if "bias" in df.columns else pd.Series(["registry"] * len(df),
                                                             index=df.index)
    data_bias = df["data_bias"] if "data_bias" in df.columns else pd.Series([None] * len(df),
                                                                           index=df.index)
    df["label"] = [real_label(a, b, c) for a, b, c in zip(df["dataset"], bias, data_bias,
                                                          strict=True)]
    runner = df["status"].astype(str) if "status" in df.columns else "ok"
    task = df["row_status"] if "row_status" in df.columns else pd.Series([None] * len(df),
                                                                         index=df.index)
    df["status"] = [("error" if r == "error" else (str(t) if isinstance(t, str) and t else
                                                   ("ok" if r == "ok" else str(r))))
                    for r, t in zip(np.broadcast_to(runner, len(df)), task, strict=True)]
    run_err = df["error"] if "error" in df.columns else pd.Series([""] * len(df), index=df.index)
    row_err = df["row_error"] if "row_error" in df.columns else pd.Series([""] * len(df),
                                                                          index=df.index)
    df["error"] = [next((str(e) for e in (a, b) if isinstance(e, str) and e.strip()), "")
                   for a, b in zip(run_err, row_err, strict=True)]
    return df


def real_table(df: pd.DataFrame):
    """The real-data table: one row per main run (dataset × β/β_max × seed) in CSV order.

    Returns
    -------
    (table, formats, descriptions, notes)
    """
    rows = real_rows(df)
    notes = [f"column {out!r} is empty: {src!r} not in the CSV"
             for out, src, *_ in REAL_COLUMNS if src not in rows.columns]
    table = pd.DataFrame({out: (rows[src].to_numpy() if src in rows.columns
                                else [None] * len(rows)) for out, src, *_ in REAL_COLUMNS})
    formats = {out: fmt for out, _, fmt, _ in REAL_COLUMNS}
    desc = {out: d for out, _, _, d in REAL_COLUMNS}
    return table.reset_index(drop=True), formats, desc, notes


def _budget_notes(df: pd.DataFrame) -> list[str]:
    """One note per budget option of the real-data CSV, with the values it takes."""
    out = []
    for col, what in (("samples", "sampled gates of a sampled main row"),
                      ("ws_time_limit", "working-set time limit (s)"),
                      ("bound_time_limit", "search-bound time limit (s)"),
                      ("max_add", "patterns added per working-set round"),
                      ("n_train", "trained networks per row"),
                      ("train_max_iter", "iterations per L-BFGS run"),
                      ("max_width", "training width cap"),
                      ("max_memory_mb", "memory refusal threshold (MB, estimated)")):
        if col in df.columns:
            vals = sorted({str(v) for v in df[col].dropna()})
            if vals:
                out.append(f"{what}: {', '.join(vals)} (column `{col}` of the CSV)")
    return out


def write_real_tables(df: pd.DataFrame, out: Path, source: str) -> list[Path]:
    """Write ``real.csv`` and ``real.md`` (the real-data table) into ``out``."""
    table, formats, desc, notes = real_table(df)
    rows = real_rows(df)
    md_table = table[[c for c in REAL_MARKDOWN if c in table.columns]]
    notes = [*notes,
             "β = beta_ratio · beta_max. For the squared loss β_max = M(y), for the logistic "
             "loss M(y/2): the largest cone-projected correlation over all chambers at "
             "λ = −∇ℓ(0); the zero network is optimal iff β ≥ β_max.",
             "Sampled rows: the objective P_S ≥ P_c is the optimum over the gates' patterns plus "
             "the violating chambers the anytime search found (search_columns); lower_bound "
             "comes from the search bound on M(λ) at the solution's dual point, so "
             "P_c ∈ [lower_bound, objective]; a row whose search bound reached M ≤ β(1 + tol) is "
             "certified although its arrangement was never enumerated.",
             "m* needs every chamber in memory (the optimal set is built up to max_chambers "
             "chambers; a streamed arrangement is priced chunk by chunk but never held), hence "
             "empty where that fails, with the reason in real.csv (optimal_set_reason).",
             "best_train_gap is relative to the certified optimum where train_reference says so, "
             "else to the sampled objective P_S (which the trained net may undercut)."]
    notes += _budget_notes(rows)
    n_err = int((table["status"] != "ok").sum()) if len(table) else 0
    title = f"Real datasets: optimum, bounds, m* and trained networks ({len(table)} rows" + (
        f", {n_err} not ok)" if n_err else ")")
    written = write_pair(out, "real", table, to_markdown(md_table, title, formats, desc, notes,
                                                         source))
    return written
