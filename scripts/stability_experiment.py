#!/usr/bin/env python
"""Inverse-stability pathologies of paper B (Examples 2.1-2.5, SPEC §5.7): table and figures.

    python scripts/stability_experiment.py [--k K ...] [--r R] [--out results/stability]

1. For every example and k, computes exactly (hiddenconvex.pathologies.evaluate_pathology) the
   realization distance |g_k - R(Γ)|_{W^{1,∞}}, the uniform distance on (-1,1)^d, the best parameter
   distance min ||Φ - Γ||_∞ over realizations Φ of g_k that the code finds (certified minimal where
   ``parameter_distance_is_minimum``), and lower bounds, and writes one tidy row per (example, k) to
   ``<out>/examples.csv`` (atomic: temp file + os.replace) with provenance columns (package,
   NumPy and SciPy versions, seed, UTC date). The computation is deterministic (no random numbers;
   the seed column records 0).
2. Reads the CSV back and draws one figure per example into ``<out>/example_2_X.png``
   (matplotlib, Agg backend), plus ``captions.md``:

   * 2.1: parameter distance against the UNIFORM distance ‖g_k‖_{L∞((-1,1)²)} (log-log): the
     uniform distance → 0 while the parameter distance (= k, and ≥ k/√2 for any realization) → ∞;
   * 2.2, 2.3, 2.4: parameter distance against the W^{1,∞} realization distance (log-log), with the
     curve 4ε^{1/2} that Theorem 3.3's (4, ½)-inverse stability would allow: the parameter distance
     stays at r, 1, ½ while ε → 0;
   * 2.5: both distances against k (log-log): the realization distance stays 3 while the parameter
     distance = √2·k → ∞.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import tempfile
from pathlib import Path

DEFAULT_K = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]
DEFAULT_OUT = "results/stability"
SEED = 0  # the experiment draws no random numbers; recorded for the provenance columns


def compute(ks, r: float) -> list[dict]:
    import numpy as np
    import scipy
    from tqdm import tqdm

    import hiddenconvex
    from hiddenconvex.pathologies import EXAMPLES, evaluate_pathology, make_example

    date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = [(name, k) for name in EXAMPLES for k in ks]
    rows = []
    for name, k in tqdm(jobs, desc="examples", disable=not sys.stderr.isatty()):
        kw = {"r": r} if name == "2.2" else {}
        rec = evaluate_pathology(make_example(name, k, **kw)).to_record()
        rec["k"] = int(k) if float(k).is_integer() else float(k)
        rec.update({"package_version": hiddenconvex.__version__, "numpy_version": np.__version__,
                    "scipy_version": scipy.__version__, "seed": SEED, "date": date})
        rows.append(rec)
    return rows


def write_csv_atomic(rows: list[dict], path: Path) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            df.to_csv(fh, index=False, float_format="%.17g")
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _publish(tmp: str, path: Path) -> None:
    """os.replace with the permissions of a normally created file (mkstemp makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _save(fig, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _annotate_k(ax, xs, ys, ks) -> None:
    import numpy as np

    for x, y, k in zip(xs, ys, ks, strict=True):
        if not np.isclose(np.log10(k), np.round(np.log10(k))):
            continue  # label k = 1, 10, 100, ... only
        ax.annotate(f"k={k:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                    color="0.35")


def figures(csv: Path, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    df = pd.read_csv(csv, dtype={"example": str})
    made = []

    def sub(ex):
        return df[df["example"] == ex].sort_values("k")

    # ---- 2.1: against the uniform distance
    d = sub("2.1")
    if len(d):
        fig, ax = plt.subplots(figsize=(5.6, 4.2))
        ax.loglog(d["sup_distance"], d["parameter_distance"], "o-",
                  label=r"$\min\|\Phi-\Gamma\|_\infty$ over all realizations (exact, $=k$)")
        ax.loglog(d["sup_distance"], d["norm_lower_bound"], "s--",
                  label=r"lower bound $k/\sqrt{2}$ (any realization)")
        ax.loglog(d["sup_distance"], 4 * np.sqrt(d["sup_distance"]), ":", color="k",
                  label=r"$4\|g_k\|_{L^\infty}^{1/2}$ (allowed by (4, 1/2)-stability)")
        _annotate_k(ax, d["sup_distance"], d["parameter_distance"], d["k"])
        ax.set_xlabel(r"uniform distance $\|g_k - R(\Gamma)\|_{L^\infty((-1,1)^2)} = 1/k$")
        ax.set_ylabel("parameter distance")
        ax.set_title("Ex 2.1: uniform distance → 0, parameter distance → ∞")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        _save(fig, out / "example_2_1.png")
        plt.close(fig)
        made.append(("example_2_1.png",
                     "Example 2.1: best parameter distance min‖Φ−Γ‖∞ = k over all realizations "
                     "of g_k "
                     "(and the bound k/√2) against the exact uniform distance 1/k on (−1,1)²; the "
                     "W^{1,∞} distance is k², so only the uniform norm fails."))

    # ---- 2.2, 2.3, 2.4: against the W^{1,inf} distance
    r_val = sub("2.2")["param_r"].iloc[0] if len(sub("2.2")) and "param_r" in df else float("nan")
    titles = {"2.2": f"Ex 2.2 (unbalanced Γ): parameter distance stays ≥ r = {r_val:g}",
              "2.3": "Ex 2.3 (redundant directions): parameter distance stays ≥ 1",
              "2.4": "Ex 2.4 (opposite directions in Γ): parameter distance stays 1/2"}
    for ex, title in titles.items():
        d = sub(ex)
        if not len(d):
            continue
        fig, ax = plt.subplots(figsize=(5.6, 4.2))
        eps = d["realization_distance"]
        ax.loglog(eps, d["parameter_distance"], "o-",
                  label=r"best $\|\Phi-\Gamma\|_\infty$ found"
                  + (" (= minimum)" if d["parameter_distance_is_minimum"].all() else ""))
        ax.loglog(eps, d["parameter_lower_bound"], "s--", mfc="none",
                  label="lower bound (any realization)")
        ax.loglog(eps, 4 * np.sqrt(eps), ":", color="k",
                  label=r"$4\varepsilon^{1/2}$ (allowed by (4, 1/2)-stability, Thm 3.3)")
        _annotate_k(ax, eps, d["parameter_distance"], d["k"])
        ax.set_xlabel(r"realization distance "
                      r"$\varepsilon = |g_k - R(\Gamma)|_{W^{1,\infty}} = 1/k$")
        ax.set_ylabel("parameter distance")
        ax.set_title(title)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        name = f"example_{ex.replace('.', '_')}.png"
        _save(fig, out / name)
        plt.close(fig)
        made.append((name, f"Example {ex}: best parameter distance over realizations of g_k and a "
                           "lower bound valid for every realization, against the exact W^{1,∞} "
                           "distance ε = 1/k; the dotted line 4ε^{1/2} is what inverse stability "
                           "with (s, α) = (4, ½) would allow."))

    # ---- 2.5: against k
    d = sub("2.5")
    if len(d):
        fig, ax = plt.subplots(figsize=(5.6, 4.2))
        ax.loglog(d["k"], d["parameter_distance"], "o-",
                  label=r"$\min\|\Phi-\Gamma_k\|_\infty$ over all realizations "
                        r"(exact, $=\sqrt{2}k$)")
        ax.loglog(d["k"], d["realization_distance"], "s-",
                  label=r"$\varepsilon = |R(\Theta_k) - R(\Gamma_k)|_{W^{1,\infty}} = 3$")
        ax.loglog(d["k"], 4 * np.sqrt(d["realization_distance"]), ":", color="k",
                  label=r"$4\varepsilon^{1/2}$ (allowed by (4, 1/2)-stability, Thm 3.3)")
        ax.set_xlabel("k")
        ax.set_ylabel("distance")
        ax.set_title("Ex 2.5 (opposite directions Γ vs Θ): ε fixed, parameter distance → ∞")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        _save(fig, out / "example_2_5.png")
        plt.close(fig)
        made.append(("example_2_5.png",
                     "Example 2.5: the exact minimum over all realizations Φ of R(Θ_k) of ‖Φ−Γ_k‖∞ "
                     "(= √2·k) and the realization distance (= 3 for every k) against k."))
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=float, nargs="+", default=DEFAULT_K, help="values of k (> 0)")
    ap.add_argument("--r", type=float, default=1.0, help="r of Example 2.2")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args(argv)
    from hiddenconvex.errors import InputError

    out = Path(args.out)
    try:
        rows = compute(args.k, args.r)
    except InputError as exc:
        print(f"stability_experiment: error: {exc}", file=sys.stderr)
        return 2
    csv = out / "examples.csv"
    write_csv_atomic(rows, csv)
    made = figures(csv, out)
    fd, tmp = tempfile.mkstemp(dir=out, prefix="captions", suffix=".partial")
    with os.fdopen(fd, "w") as fh:
        fh.write("# Inverse-stability pathologies (paper B, Examples 2.1-2.5)\n\n")
        fh.write(f"Data: `{csv.name}` (one row per example and k).\n\n")
        for name, cap in made:
            fh.write(f"* `{name}` — {cap}\n")
    _publish(tmp, out / "captions.md")
    print(f"wrote {csv} ({len(rows)} rows) and {len(made)} figures to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
