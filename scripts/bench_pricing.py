"""Benchmark of the exact pricing kernel and of the Clarkson facet rows (issue 13 items 2-3).

One run, one table, ratios measured in the same run (the machine may be shared: wall and CPU
seconds are both printed, ratios are CPU ratios).

Part 1, iris 150 x 4 without bias, all 1,080,590 chambers, β = 0.1, squared loss, two dual points:

* ``sample300``: λ = y − ŷ of the 300-gate sampled solve (seed 0; M(λ) ≈ 0.229);
* ``near-opt``: a near-optimal λ, read from ``--lam-opt`` (an ``.npy`` of the certified optimum's
  dual point, e.g. ``solve(X, y, 0.1, patterns="exact").solution.dual`` saved with ``np.save``,
  M(λ) ≈ β), or, when no file is given, λ of a ``--opt-gates``-gate sampled solve (then labelled
  ``sampleN``).

Rows per λ: ``old`` = the previous certificate pass (SciPy NNLS on the flip-facet rows, blocks in
decreasing ‖g‖ until ‖g‖ cannot beat the maximum; reproduced here from the previous
``certificate.max_correlation``; the flip facets it needs are timed once, separately), ``M(λ)``
= :func:`hiddenconvex.certificate.max_correlation` (the kernel, top-1), ``price β`` =
:func:`hiddenconvex.pricing.price_all` at threshold β (every violator exact, what a working set
needs).

Part 2, teacher data n = 200, d = 10, P sampled chambers (seed 0): facet rows by Qhull
(``qhull_facets`` of tests/oracles.py, the replaced implementation) against
:func:`hiddenconvex.facets.facet_rows` (Clarkson). At P = 1000 Qhull is estimated from its
per-pattern time on the first 100 patterns (``--qhull-full`` measures it).

Usage: .venv/bin/python scripts/bench_pricing.py [--quick] [--lam-opt FILE] [--opt-gates 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the Qhull oracle

from oracles import qhull_facets  # noqa: E402

from hiddenconvex.certificate import max_correlation  # noqa: E402
from hiddenconvex.convex_program import solve_convex  # noqa: E402
from hiddenconvex.experiments.synthetic import teacher_network  # noqa: E402
from hiddenconvex.facets import chamber_facets, facet_rows  # noqa: E402
from hiddenconvex.objective import Problem  # noqa: E402
from hiddenconvex.patterns import exact_chambers, sample_patterns  # noqa: E402
from hiddenconvex.pricing import Pricer, price_all  # noqa: E402


def timed(f, *a, **k):
    t, c = time.perf_counter(), time.process_time()
    out = f(*a, **k)
    return out, time.perf_counter() - t, time.process_time() - c


def old_max_correlation(X, lam, D, F, chunk=1 << 15):
    """The previous certificate pass: inside test by one product per chunk, then SciPy NNLS on
    the facet rows in decreasing ‖g_b‖ until ‖g_b‖ cannot beat the best value."""
    n, p = D.shape
    Xl = X * lam[:, None]
    G = np.empty((p, X.shape[1]))
    inside = np.empty(2 * p, dtype=bool)
    for a in range(0, p, chunk):
        e = min(a + chunk, p)
        Gc = D[:, a:e].T.astype(np.float64) @ Xl
        SXG = np.where(D[:, a:e], 1.0, -1.0) * (X @ Gc.T)
        G[a:e] = Gc
        inside[a:e] = np.all(SXG >= 0, axis=0)
        inside[p + a:p + e] = np.all(SXG <= 0, axis=0)
    G2 = np.concatenate([G, -G])
    norms = np.linalg.norm(G2, axis=1)
    best = float(norms[inside].max(initial=0.0))
    todo = np.flatnonzero(~inside & (norms > best))
    for b in todo[np.argsort(-norms[todo], kind="stable")]:
        if norms[b] <= best:
            break
        k = b % p
        rows = F[:, k]
        A = np.where(D[rows, k], 1.0, -1.0)[:, None] * X[rows]
        mu, _ = nnls(A.T, -G2[b], maxiter=max(50, 10 * A.shape[0]))
        best = max(best, float(np.linalg.norm(G2[b] + A.T @ mu)))
    return best


def iris_rows(args, rows):
    df = pd.read_csv(ROOT / "data" / "iris.csv")
    X, y = df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)
    beta = 0.1
    ch, w_en, _ = timed(exact_chambers, X)
    F, w_f, c_f = timed(chamber_facets, X, ch, ch)  # flip facets need the complete list
    if args.quick:
        idx = np.arange(0, ch.p, 20)
        ch, F = ch.subset(idx), F[:, idx]
    prob = Problem.create(X, y, beta)
    sol = solve_convex(prob, method="sample", n_samples=300, seed=0, certify=False)
    lams = {"sample300": y - sol.yhat}
    path = args.lam_opt
    if path and os.path.exists(path):
        lams["near-opt"] = np.load(path)
    else:
        s2 = solve_convex(prob, method="sample", n_samples=args.opt_gates, seed=0, certify=False)
        lams[f"sample{args.opt_gates}"] = y - s2.yhat
    pr = Pricer(X)
    price_all(pr, lams["sample300"], ch.subset(np.arange(50)), beta)  # load the compiled kernel
    max_correlation(X, lams["sample300"], ch.subset(np.arange(50)))
    tag = f"iris {ch.p} ch"
    rows.append((tag, "-", "old: flip facets (once, needed by old)", w_f, c_f, "", "", ""))
    for name, lam in lams.items():
        M_old, w_o, c_o = timed(old_max_correlation, X, lam, ch.D, F)
        rows.append((tag, name, "old: SciPy NNLS on facets, M(lambda)", w_o, c_o, "1.0",
                     f"{M_old:.10f}", ""))
        M_new, w_m, c_m = timed(max_correlation, X, lam, ch)
        rows.append((tag, name, "kernel: max_correlation (top-1)", w_m, c_m, f"{c_o / c_m:.1f}",
                     f"{M_new:.10f}", f"|dM| = {abs(M_new - M_old):.1e}"))
        res, w_p, c_p = timed(price_all, pr, lam, ch, beta)
        cnt = res.counts
        rows.append((tag, name, "kernel: price_all at beta (all violators)", w_p, c_p,
                     f"{c_o / c_p:.1f}", f"{res.max_value:.10f}",
                     f"scr {cnt['screened']} below {cnt['below']} proj {cnt['projected']} "
                     f"viol {cnt['violators']}"))
    return w_en


def facet_rows_table(args, rows):
    X, _, _ = teacher_network(200, 10, seed=0)
    warm = sample_patterns(X, 5, seed=1)
    facet_rows(X, warm.D, warm.witnesses)  # load the compiled kernel before timing
    for P in (100,) if args.quick else (100, 1000):
        pats = sample_patterns(X, P, seed=0)
        pats = pats.subset(np.arange(min(P, pats.p)))
        nq = pats.p if args.qhull_full else min(pats.p, 100)
        sub = pats.subset(np.arange(nq))
        Fq, w_q, c_q = timed(qhull_facets, X, sub.D, sub.witnesses)
        est = nq < pats.p
        c_q_all, w_q_all = c_q * pats.p / nq, w_q * pats.p / nq
        (F, info), w_c, c_c = timed(facet_rows, X, pats.D, pats.witnesses, return_info=True)
        lost = int(np.count_nonzero(Fq & ~F[:, :nq]))  # Qhull facets not kept (must be 0)
        extra = int(np.count_nonzero(F[:, :nq] & ~Fq))
        tag = f"facets n=200 d=10 P={pats.p}"
        rows.append((tag, "-", "Qhull (tests/oracles.py)" + (f", est. from {nq}" if est else ""),
                     w_q_all, c_q_all, "1.0", "", f"{Fq.sum() / nq:.1f} rows/pattern"))
        rows.append((tag, "-", "Clarkson facet_rows", w_c, c_c, f"{c_q_all / c_c:.0f}", "",
                     f"{F.sum() / pats.p:.1f} rows/pattern; vs Qhull on {nq}: lost {lost}, "
                     f"extra {extra}; ties {info['ties']}"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="every 20th iris chamber, P = 100 only")
    ap.add_argument("--lam-opt", help="near-optimal iris dual point (.npy)")
    ap.add_argument("--opt-gates", type=int, default=2000,
                    help="gates of the fallback near-optimal sampled solve")
    ap.add_argument("--qhull-full", action="store_true", help="measure Qhull on every pattern")
    ap.add_argument("--only", choices=["iris", "facets"])
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    w_en = iris_rows(args, rows) if args.only != "facets" else None
    if args.only != "iris":
        facet_rows_table(args, rows)
    hdr = (f"{'case':26s} {'lambda':10s} {'method':44s} {'wall s':>8s} {'cpu s':>8s} "
           f"{'x (cpu)':>8s} {'M(lambda)':>13s}  notes")
    print(f"machine shared (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); "
          f"total {time.perf_counter() - t0:.0f} s" + (
              f"; iris enumeration {w_en:.1f} s" if w_en is not None else ""))
    print(hdr)
    print("-" * len(hdr))
    for case, lam, method, w, c, ratio, M, notes in rows:
        print(f"{case:26s} {lam:10s} {method:44s} {w:8.2f} {c:8.2f} {ratio:>8s} {M:>13s}  "
              f"{notes}")
    print("x (cpu): CPU-time ratio of the old method (first row of its case/lambda) to this "
          "row; M: the old pass's value vs the kernel's exact value; price_all's M is exact "
          "when it has violators.")


if __name__ == "__main__":
    main()
