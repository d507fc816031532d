"""Figures from stored result CSVs (never from a live run; edge module).

Each figure is a PNG written atomically, with a title and a caption saying what it shows:

* :func:`gap_figure` — relative gap of the best gradient-trained network to the convex optimum
  P_c against the width m (``gap_vs_width.png``, one panel per dataset, one line per β) or
  against β (``gap_vs_beta.png``, one line per width); needs two or more values on the x axis;
* :func:`solve_time_figure` — convex solve time against the number of activation patterns p,
  one colour per solver, from a solver benchmark CSV if it has the columns, else from the runs
  CSV (``solve_time_vs_patterns.png``).

:func:`write_figures` makes all of them and ``captions.md``. A missing input or column skips
that figure with a note (the ``note`` callback); the others are still made. matplotlib is
imported only when a figure is drawn, so this module imports without it; the caller picks the
backend (``scripts/make_figures.py`` uses Agg).
"""

from __future__ import annotations

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
                  note: Note = _silent) -> list[tuple[Path, str]]:
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

    Returns
    -------
    list of (Path, str)
        The figures made and their captions (``captions.md`` is written when there is one).
    """
    made = []
    if runs is not None:
        made.append(gap_figure(runs, "width", "beta", out, note))
        made.append(gap_figure(runs, "beta", "width", out, note))
    made.append(solve_time_figure(runs, bench, bench_path, out, note))
    made = [m for m in made if m is not None]
    if made:
        lines = ["# Figures", "", "Made by scripts/make_figures.py from the stored CSVs.", ""]
        lines += [f"- `{path.name}`: {caption}" for path, caption in made]
        atomic_write(out / "captions.md", "\n".join(lines) + "\n")
    return made
