"""Figures from stored result CSVs (never from a live run; edge module).

Each figure is a PNG written atomically, with a title and a caption saying what it shows:

* :func:`gap_figure` — relative gap of the best gradient-trained network to the convex optimum
  P_c against the width m (``gap_vs_width.png``, one panel per dataset, one line per β) or
  against β (``gap_vs_beta.png``, one line per width); needs two or more values on the x axis;
* :func:`solve_time_figure` — convex solve time against the number of activation patterns p,
  one colour per solver, from a solver benchmark CSV if it has the columns, else from the runs
  CSV (``solve_time_vs_patterns.png``);
* :func:`real_figures` — from the real-data CSV (:mod:`hiddenconvex.experiments.real`): the
  relative gap of the sampled objective against the number of sampled gates, log-log
  (``real_gap_vs_samples.png``), and the trained objectives against the certified optimum, or
  the sampled objective and the certified lower bound (``real_trained.png``).

:func:`write_figures` makes all of them and ``captions.md``. A missing input or column skips
that figure with a note (the ``note`` callback); the others are still made. matplotlib is
imported only when a figure is drawn, so this module imports without it; the caller picks the
backend (``scripts/make_figures.py`` uses Agg).
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..verification import REACH_TOL
from .atomic import atomic_path, atomic_write

__all__ = [
    "GAP_FLOOR",
    "PATTERN_COLUMNS",
    "TIME_COLUMNS",
    "gap_figure",
    "solve_time_figure",
    "write_figures",
]

#: Gaps below this are drawn at it (log axis).
GAP_FLOOR = 1e-16
#: Accepted names of the pattern-count column of a benchmark CSV (first present wins).
PATTERN_COLUMNS = ("n_patterns", "p", "patterns", "num_patterns")
#: Accepted names of the solve-time column of a benchmark CSV (first present wins).
TIME_COLUMNS = ("solve_seconds", "median_solve_seconds", "seconds", "time_seconds", "time_s")
#: Gap lines are split further by these parameters when they vary within a dataset.
EXTRA_KEYS = ("loss", "method", "samples")

Note = Callable[[str], object]


def _silent(msg: str) -> None:
    return None


def _ok_rows(df):
    return df[df["status"] == "ok"] if "status" in df.columns else df


def _varying(df, cols) -> list[str]:
    return [c for c in cols if c in df.columns and df[c].nunique(dropna=False) > 1]


def _label(keys, values) -> str:
    names = {"beta": "β", "width": "m"}
    return ", ".join(f"{names.get(k, k)}={v:g}" if isinstance(v, float) else
                     f"{names.get(k, k)}={v}" for k, v in zip(keys, values, strict=True))


def _new_figure(n_panels: int, width: float = 4.6):
    import matplotlib.pyplot as plt

    ncols = min(n_panels, 3)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows + 1.2),
                             squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def _finish(fig, title: str, caption: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=12)
    wrapped = "\n".join(textwrap.wrap(caption, width=int(fig.get_figwidth() * 17)))
    n_lines = wrapped.count("\n") + 1
    bottom = min(0.45, (0.25 + 0.16 * n_lines) / fig.get_figheight())
    fig.tight_layout(rect=(0, bottom, 1, 0.95))
    fig.text(0.5, 0.012, wrapped, ha="center", va="bottom", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _actual_ticks(ax, values) -> None:
    """Major ticks at the plotted x values (when there are few), plain numbers, no minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    values = sorted(set(float(v) for v in values))
    kept = values[:1]
    for v in values[1:]:  # keep tick labels apart on a log axis
        if v >= 1.3 * kept[-1]:
            kept.append(v)
    values = kept
    if len(values) <= 10:
        ax.xaxis.set_major_locator(FixedLocator(values))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{v:g}" for v in values])
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def gap_figure(df, x: str, line_key: str, out: Path,
               note: Note = _silent) -> tuple[Path, str] | None:
    """|relative gap| of the best trained net vs ``x``; panels per dataset, lines per line_key.

    Datasets with fewer than two values of ``x`` among the ok runs get no panel (named in the
    caption); a panel's line labels name only the keys that vary within that dataset.

    Parameters
    ----------
    df : pandas.DataFrame
        The runs CSV (columns ``dataset``, ``x``, ``line_key``, ``best_relative_gap``; ``m_star``
        is drawn when present and ``x == "width"``).
    x, line_key : {"width", "beta"}
        The x axis and the parameter that distinguishes the lines.
    out : Path
        Existing folder; the figure is ``out / f"gap_vs_{x}.png"``.
    note : callable, optional
        Receives the reason when the figure is skipped.

    Returns
    -------
    (Path, str) or None
        The figure's path and caption; None when it was skipped.
    """
    name = f"gap_vs_{x}.png"
    need = [c for c in ("dataset", x, line_key, "best_relative_gap") if c not in df.columns]
    if need:
        note(f"{name} skipped: column(s) {', '.join(need)} not in the runs CSV")
        return None
    ok = _ok_rows(df).copy()
    ok["gap"] = pd.to_numeric(ok["best_relative_gap"], errors="coerce")
    ok = ok.dropna(subset=["gap"])
    counts = ok.groupby("dataset", sort=False)[x].nunique()
    datasets = [d for d in dict.fromkeys(ok["dataset"]) if counts[d] >= 2]
    skipped = [d for d in dict.fromkeys(ok["dataset"]) if counts[d] < 2]
    if not datasets:
        note(f"{name} skipped: no dataset has 2 or more values of {x} among the ok runs")
        return None
    fig, axes = _new_figure(len(datasets))
    below = False
    for ax, ds in zip(axes, datasets, strict=True):
        d = ok[ok["dataset"] == ds]
        keys = [line_key, *_varying(d, EXTRA_KEYS)]
        for i, (lkey, g) in enumerate(d.groupby(keys, sort=True)):
            lkey = lkey if isinstance(lkey, tuple) else (lkey,)
            color = f"C{i % 10}"
            xs = g[x].to_numpy(dtype=float)
            gap = g["gap"].to_numpy(dtype=float)
            ax.scatter(xs, np.maximum(np.abs(gap), GAP_FLOOR), s=14, alpha=0.45, color=color)
            neg = gap < -REACH_TOL * 1e-3
            if neg.any():
                below = True
                ax.scatter(xs[neg], np.maximum(np.abs(gap[neg]), GAP_FLOOR), marker="x", s=40,
                           color="red", zorder=5)
            med = g.groupby(x)["gap"].apply(lambda s: float(np.median(np.abs(s))))
            ax.plot(med.index.to_numpy(dtype=float), np.maximum(med.to_numpy(), GAP_FLOOR),
                    "-o", ms=4, color=color, label=_label(keys, lkey))
            if x == "width" and "m_star" in g.columns:
                ms = pd.to_numeric(g["m_star"], errors="coerce").dropna()
                if len(ms):
                    ax.axvline(float(np.median(ms)), color=color, ls=":", lw=1)
        ax.axhline(REACH_TOL, color="gray", ls="--", lw=1)
        ax.set_yscale("log")
        if x == "beta" or (d[x].min() > 0 and d[x].max() >= 4 * d[x].min()):
            ax.set_xscale("log")
        _actual_ticks(ax, d[x])
        ax.set_xlabel({"width": "width m", "beta": "weight decay β"}[x])
        ax.set_ylabel("|L_β(trained) − P_c| / |P_c|")
        ax.set_title(str(ds), fontsize=10)
        ax.legend(fontsize=7)
    what = "width m (log scale)" if x == "width" else "weight decay β (log scale)"
    caption = (
        f"Relative gap between the best gradient-trained network of each run and the convex "
        f"optimum P_c, against the {what}; one panel per dataset. Dots: individual runs (seeds, "
        f"solvers); lines: median over them. Dashed line: the {REACH_TOL:g} acceptance threshold; "
        f"gaps below {GAP_FLOOR:g} are drawn at {GAP_FLOOR:g}."
        + (" Dotted vertical lines: m* (median) for the line of the same colour." if x == "width"
           and "m_star" in ok.columns else "")
        + (" Red crosses: trained loss BELOW the convex value, which happens only when that value "
           "is not certified (sampled patterns): evidence that the sample misses chambers."
           if below else "")
        + (f" Not shown (a single value of {x}): {', '.join(map(str, skipped))}." if skipped
           else "")
    )
    path = out / name
    _finish(fig, "Trained networks vs the convex optimum: gap against "
            + {"width": "width m", "beta": "β"}[x], caption, path)
    return path, caption


def _first(df, names):
    return next((c for c in names if c in df.columns), None)


def solve_time_figure(runs, bench, bench_path: str, out: Path,
                      note: Note = _silent) -> tuple[Path, str] | None:
    """Convex solve time against the number of activation patterns p, one colour per solver.

    Parameters
    ----------
    runs, bench : pandas.DataFrame or None
        The runs CSV and the solver benchmark CSV; the first of (bench, runs) with a ``solver``
        column, a pattern-count column (:data:`PATTERN_COLUMNS`) and a solve-time column
        (:data:`TIME_COLUMNS`) is drawn.
    bench_path : str
        Where ``bench`` came from (named in the caption).
    out : Path
        Existing folder; the figure is ``out / "solve_time_vs_patterns.png"``.
    note : callable, optional
        Receives a line for each input that lacks the columns, and the reason of a skip.

    Returns
    -------
    (Path, str) or None
        The figure's path and caption; None when it was skipped.
    """
    name = "solve_time_vs_patterns.png"
    source, df = None, None
    for label, cand in ((bench_path, bench), ("runs CSV", runs)):
        if cand is None:
            continue
        pcol, tcol = _first(cand, PATTERN_COLUMNS), _first(cand, TIME_COLUMNS)
        if pcol and tcol and "solver" in cand.columns:
            source, df = label, _ok_rows(cand).rename(columns={pcol: "_p", tcol: "_t"})
            break
        note(f"{label} lacks solver/pattern-count/solve-time columns for {name}")
    if df is None:
        note(f"{name} skipped: no CSV with solver, number of patterns and solve time")
        return None
    df = df.assign(_p=pd.to_numeric(df["_p"], errors="coerce"),
                   _t=pd.to_numeric(df["_t"], errors="coerce")).dropna(subset=["_p", "_t"])
    df = df[(df["_p"] > 0) & (df["_t"] > 0)]
    if df.empty:
        note(f"{name} skipped: no positive pattern counts and solve times in {source}")
        return None
    fig, (ax,) = _new_figure(1, width=6.4)
    by_loss = "loss" in df.columns and df["loss"].nunique() > 1
    markers = dict(zip(sorted(df["loss"].unique()) if by_loss else [None], "os^Dv", strict=False))
    keys = ["solver", "loss"] if by_loss else ["solver"]
    colors = {s: f"C{i % 10}" for i, s in enumerate(sorted(df["solver"].unique()))}
    for key, g in df.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        loss = key[1] if by_loss else None
        ax.scatter(g["_p"], g["_t"], s=22, alpha=0.75, color=colors[key[0]],
                   marker=markers[loss], label=", ".join(map(str, key)))
    ax.set_xscale("log")
    ax.set_yscale("log")
    _actual_ticks(ax, df["_p"])
    ax.set_xlabel("number of activation patterns p")
    ax.set_ylabel("solve time [s]")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    n_p = int(np.unique(df["_p"]).size)
    varying = [c for c in ("n", "d") if c in df.columns and df[c].nunique() > 1]
    caption = (f"Convex-program solve time against the number of activation patterns p "
               f"(2p blocks), log-log; one point per solve ({n_p} distinct p), colour = solver"
               + (", marker = loss" if by_loss else "") + ". "
               + (f"The problems also differ in {' and '.join(varying)}, so the time is not a "
                  f"function of p alone. " if varying else "")
               + f"Failed or timed-out solves are not shown. Source: {source}.")
    path = out / name
    _finish(fig, "Solve time vs number of patterns", caption, path)
    return path, caption


def write_figures(runs, bench, bench_path: str, out: Path,
                  note: Note = _silent, real=None) -> list[tuple[Path, str]]:
    """Make every figure that the inputs allow, and ``captions.md`` listing them.

    Parameters
    ----------
    runs, bench : pandas.DataFrame or None
        The stored runs CSV and solver benchmark CSV (None: not available).
    bench_path : str
        Where ``bench`` came from (named in the captions).
    out : Path
        Existing, writable folder.
    note : callable, optional
        Receives one line per skipped figure.
    real : pandas.DataFrame, optional
        The stored real-data CSV (:mod:`hiddenconvex.experiments.real`): adds
        :func:`real_figures`.

    Returns
    -------
    list of (Path, str)
        The figures made and their captions (``captions.md`` is written when there is one).
    """
    made = []
    if runs is not None:
        made.append(gap_figure(runs, "width", "beta", out, note))
        made.append(gap_figure(runs, "beta", "width", out, note))
    if runs is not None or bench is not None:
        made.append(solve_time_figure(runs, bench, bench_path, out, note))
    made = [m for m in made if m is not None]
    if real is not None:
        made += real_figures(real, out, note)
    if made:
        lines = ["# Figures", "", "Made by scripts/make_figures.py from the stored CSVs.", ""]
        lines += [f"- `{path.name}`: {caption}" for path, caption in made]
        atomic_write(out / "captions.md", "\n".join(lines) + "\n")
    return made


# ----------------------------------------------------------------------------- real-data figures


def _real_frames(df):
    """(main rows, sweep rows) of a real-data CSV with ``label`` and numeric columns."""
    from .summary import real_label, real_rows

    main = real_rows(df)
    sweep = _ok_rows(df)
    if "role" in sweep.columns:
        sweep = sweep[sweep["role"] == "sweep"].copy()
    else:
        sweep = sweep.iloc[0:0].copy()
    if len(sweep):
        bias = sweep["bias"] if "bias" in sweep.columns else ["registry"] * len(sweep)
        dbias = sweep["data_bias"] if "data_bias" in sweep.columns else [None] * len(sweep)
        sweep["label"] = [real_label(a, b, c) for a, b, c in zip(sweep["dataset"], bias, dbias,
                                                                 strict=True)]
    for frame in (main, sweep):
        for col in ("beta", "beta_value", "objective", "lower_bound", "n_patterns", "samples",
                    "best_train_objective"):
            if col in frame.columns:
                frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return main, sweep


def _reference(main_rows, sweep_rows):
    """(value, kind) of the reference of one dataset × β: the certified optimum of a certified
    row, else the best certified lower bound of any row; (nan, "") without either."""
    certified = [r for r in main_rows if _true(r.get("certified"))]
    if certified:
        return float(certified[0]["objective"]), "certified optimum"
    bounds = [float(r["lower_bound"]) for r in [*main_rows, *sweep_rows]
              if r.get("lower_bound") is not None and np.isfinite(_num(r.get("lower_bound")))]
    if bounds:
        return max(bounds), "best lower bound"
    return math.nan, ""


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _true(v) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() == "true") or (
        isinstance(v, int | float | np.bool_) and not isinstance(v, float) and bool(v)) or (
        isinstance(v, float) and v == 1.0)


def real_gap_figure(df, out: Path, note: Note = _silent,
                    beta_rtol: float = 1e-9) -> tuple[Path, str] | None:
    """Relative gap of the sampled objective P_S against the number of sampled gates (log-log),
    one panel per dataset, one line per β/β_max: the gap to the certified optimum where a main
    row is certified, else to the best certified lower bound (the panel title says which).

    Points: the sweep rows (``role == "sweep"``) and the sampled main rows. A point whose β
    differs from its reference row's by more than ``beta_rtol`` (a β_max estimate that differed
    between runs) is left out with a note.
    """
    name = "real_gap_vs_samples.png"
    if "role" not in df.columns:
        note(f"{name} skipped: the CSV has no 'role' column (not a real-data CSV)")
        return None
    main, sweep = _real_frames(df)
    main_ok = main[main["status"].isin(("ok", "time_limit", "round_limit", "stalled"))]
    panels = []
    for label in dict.fromkeys([*sweep.get("label", []), *main_ok["label"]]):
        lines = []
        for ratio in sorted(set(main_ok.loc[main_ok["label"] == label, "beta"])):
            mrows = main_ok[(main_ok["label"] == label) & (main_ok["beta"] == ratio)]
            srows = sweep[(sweep["label"] == label) & (sweep["beta"] == ratio)] if len(sweep) \
                else sweep
            ref, kind = _reference(mrows.to_dict("records"), srows.to_dict("records"))
            if not np.isfinite(ref):
                continue
            beta_ref = float(mrows["beta_value"].iloc[0])
            # (gates, P_S, β): the sweep rows and the main rows solved on the sampled gates
            # alone (no search columns added to their list)
            sampled = [r for r in mrows.to_dict("records") if not _true(r.get("enumerable"))
                       and not _num(r.get("ws_search_columns")) > 0]
            pts = [(float(r["samples"]), float(r["objective"]), float(r["beta_value"]))
                   for r in [*srows.to_dict("records"), *sampled]]
            bad = [p for p in pts if abs(p[2] - beta_ref) > beta_rtol * abs(beta_ref)]
            if bad:
                note(f"{name}: {label}, β/β_max={ratio:g}: {len(bad)} point(s) with another β "
                     "than the reference row left out")
            pts = sorted(p for p in pts if p not in bad and np.isfinite(p[1]))
            if len(pts) >= 2:
                lines.append((ratio, kind, ref, pts))
        if lines:
            panels.append((label, lines))
    if not panels:
        note(f"{name} skipped: no dataset has two sampled objectives and a reference value")
        return None
    fig, axes = _new_figure(len(panels))
    for ax, (label, lines) in zip(axes, panels, strict=True):
        kinds = set()
        for i, (ratio, kind, ref, pts) in enumerate(lines):
            xs = np.array([p[0] for p in pts])
            gap = (np.array([p[1] for p in pts]) - ref) / abs(ref)
            kinds.add(kind)
            ax.plot(xs, np.maximum(np.abs(gap), GAP_FLOOR), "-o", ms=4, color=f"C{i % 10}",
                    label=f"β/β_max={ratio:g} (to {kind})")
            neg = gap < 0
            if neg.any():
                ax.scatter(xs[neg], np.maximum(np.abs(gap[neg]), GAP_FLOOR), marker="x",
                           color="red", s=40, zorder=5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _actual_ticks(ax, [p[0] for *_, pts in lines for p in pts])
        ax.set_xlabel("sampled gates")
        ax.set_ylabel("(P_S − reference)/|reference|")
        ax.set_title(f"{label}: gap to {' / '.join(sorted(kinds))}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    caption = (
        "Relative gap (P_S − reference)/|reference| of the convex program over the patterns of "
        "the first k seeded Gaussian gates (the gate lists are nested), against k, log-log; one "
        "panel per dataset, a line per β/β_max with two or more sample sizes (main rows whose "
        "list got the search's violating chambers are not sampled points and are left out). "
        "Reference: the certified optimum P_c over all chambers where the "
        "arrangement is enumerable, else the best certified lower bound (anytime search), so "
        "there the curve is an upper bound on the true gap and levels off at the bound's own "
        f"gap. Gaps below {GAP_FLOOR:g} are drawn at {GAP_FLOOR:g}; red crosses: P_S below the "
        "reference (rounding at the solver's tolerance).")
    path = out / name
    _finish(fig, "Sampled patterns vs the optimum over all chambers", caption, path)
    return path, caption


def real_trained_figure(df, out: Path, note: Note = _silent) -> tuple[Path, str] | None:
    """Trained objectives against the certified optimum (or the sampled objective P_S with the
    certified lower bound), per dataset, against β/β_max; symmetric-log relative scale."""
    name = "real_trained.png"
    if "role" not in df.columns or "train_objectives" not in df.columns:
        note(f"{name} skipped: the CSV has no 'role'/'train_objectives' columns")
        return None
    main, _ = _real_frames(df)
    main = main[main["train_objectives"].notna()]
    if main.empty:
        note(f"{name} skipped: no main row with trained networks")
        return None
    labels = list(dict.fromkeys(main["label"]))
    fig, axes = _new_figure(len(labels))
    lin = 1e-6
    for ax, label in zip(axes, labels, strict=True):
        d = main[main["label"] == label].sort_values("beta")
        for _, r in d.iterrows():
            ref = float(r["objective"])
            cert = _true(r.get("certified"))
            vals = np.array(json.loads(r["train_objectives"]), dtype=float)
            x = float(r["beta"])
            ax.scatter(np.full(vals.size, x), (vals - ref) / abs(ref), s=16, alpha=0.6,
                       color="C0", label="trained nets" if "trained nets" not in
                       ax.get_legend_handles_labels()[1] else None)
            ax.scatter([x], [0.0], marker="_", s=300, color="k" if cert else "C1",
                       label=("certified optimum P_c" if cert else "sampled objective P_S")
                       if ("certified optimum P_c" if cert else "sampled objective P_S") not in
                       ax.get_legend_handles_labels()[1] else None)
            lb = _num(r.get("lower_bound"))
            if np.isfinite(lb) and not cert:
                ax.scatter([x], [(lb - ref) / abs(ref)], marker="^", color="C3", s=30,
                           label="certified lower bound" if "certified lower bound" not in
                           ax.get_legend_handles_labels()[1] else None)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=lin)
        ys = [y for c in ax.collections for y in np.asarray(c.get_offsets())[:, 1]]
        lo, hi = min([*ys, 0.0]), max([*ys, 0.0])
        ax.set_ylim(-max(10 * lin, 3 * abs(lo)), max(10 * lin, 3 * abs(hi)))
        _actual_ticks(ax, d["beta"])
        ax.axhline(0.0, color="gray", lw=0.8)
        ax.set_xlabel("β/β_max")
        ax.set_ylabel("(L_β − reference)/|reference|")
        ax.set_title(str(label), fontsize=10)
        ax.legend(fontsize=7)
    caption = (
        "Objectives L_β of the gradient-trained networks (dots, one per seed) relative to the "
        "reference of each row, against β/β_max: the certified optimum P_c over all chambers "
        "(black bar) where it is known, else the best sampled objective P_S (orange bar) with "
        "the certified lower bound on P_c below it (red triangle): there P_c lies between the "
        "triangle and the bar, and a trained net below the bar undercuts the sampled program. "
        f"Symmetric-log axis, linear within ±{lin:g}.")
    path = out / name
    _finish(fig, "Gradient-trained networks vs the convex optimum", caption, path)
    return path, caption


def real_figures(df, out: Path, note: Note = _silent) -> list[tuple[Path, str]]:
    """Both real-data figures (``real_gap_vs_samples.png``, ``real_trained.png``) of a stored
    real-data CSV; skipped ones are noted."""
    made = [real_gap_figure(df, out, note), real_trained_figure(df, out, note)]
    return [m for m in made if m is not None]
