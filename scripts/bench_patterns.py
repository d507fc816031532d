"""Benchmark of exact chamber enumeration (issue 2: n=400, r=3 in < 2 s; n=100, r=4 in < 5 s).

Prints a table (n, r, chambers, seconds, chambers/s) for the vectorized extreme-ray method
(:func:`hiddenconvex.patterns.exact_chambers`, median wall time of ``--repeats`` runs, and the
CPU time of the same run) and, for small n, for the incremental LP baseline of SPEC §3.3 (one
HiGHS LP per partial sign vector whose second child is not already witnessed). Data: Gaussian
(n x r) embedded in R^(r+2) by a random orthonormal map (rank r), fixed seed; plus one degenerate
case, a 20 x 20 integer grid with a bias column (rank 3, lines through up to 20 points). Every
count is checked against an independent formula (Cover's for Gaussian data, the collinearity
count 2 + 2·Σ_lines (points on it − 1) for the grid) and the baseline's count against the fast
one. The table is also written atomically to results/bench/patterns.csv with provenance (versions,
CPUs, load average before each case, date). Exit status 1 if a count is wrong or an acceptance
target is missed. The machine is shared: compare ``cpu_seconds`` with ``seconds`` and the load
average to judge contention.

Usage: .venv/bin/python scripts/bench_patterns.py [--repeats 3] [--out results/bench/patterns.csv]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from hiddenconvex.experiments.atomic import atomic_path
from hiddenconvex.experiments.provenance import collect_provenance
from hiddenconvex.patterns import cover_count, exact_chambers

# (data, n, r, run the LP baseline?)  acceptance cases: (400, 3) and (100, 4)
CASES = [
    ("gaussian", 10, 3, True), ("gaussian", 20, 3, True), ("gaussian", 40, 3, True),
    ("gaussian", 100, 3, False), ("gaussian", 200, 3, False), ("gaussian", 400, 3, False),
    ("gaussian", 10, 4, True), ("gaussian", 20, 4, True), ("gaussian", 50, 4, False),
    ("gaussian", 100, 4, False), ("gaussian", 30, 5, False), ("grid+bias", 400, 3, False),
]
TARGETS = {(400, 3): 2.0, (100, 4): 5.0}
SEED = 0


def gaussian_rank_r(n: int, r: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, n, r])
    Q = np.linalg.qr(rng.standard_normal((r + 2, r)))[0]  # (r+2, r) orthonormal columns
    return rng.standard_normal((n, r)) @ Q.T


def grid_with_bias(n: int) -> np.ndarray:
    m = int(round(n ** 0.5))
    return np.array([[i, j, 1.0] for i in range(m) for j in range(m)])


def planar_count(X: np.ndarray) -> int:
    """Chambers of rows (x, y, 1), x, y integers: 2 + 2·Σ over lines (points on the line − 1)."""
    pts = [(int(a), int(b)) for a, b in X[:, :2]]
    lines: dict = {}
    for i, (x1, y1) in enumerate(pts):
        for x2, y2 in pts[i + 1:]:
            a, b = y2 - y1, x1 - x2
            c = -(a * x1 + b * y1)
            g = math.gcd(math.gcd(a, b), c)
            key = (a // g, b // g, c // g)
            if key[0] < 0 or (key[0] == 0 and key[1] < 0):
                key = (-key[0], -key[1], -key[2])
            lines.setdefault(key, set()).update([(x1, y1), (x2, y2)])
    return 2 + 2 * sum(len(on) - 1 for on in lines.values())


def lp_incremental_chambers(X: np.ndarray) -> int:
    """Incremental LP enumeration (SPEC §3.3): extend each partial chamber by both signs of the next
    row; the sign of x_j^T u at the parent's witness u is feasible for free, the other needs one LP
    {w : s_k x_k^T w >= 1, k <= j}."""
    n, d = X.shape
    partial = [(np.zeros(0), np.zeros(d))]
    for j in range(n):
        x = X[j]
        nxt = []
        for s, u in partial:
            v = float(x @ u)
            free = 1.0 if v > 0 else -1.0
            if v != 0:
                nxt.append((np.append(s, free), u))
            for sj in ((-free,) if v != 0 else (1.0, -1.0)):
                s2 = np.append(s, sj)
                A = s2[:, None] * X[: j + 1]
                res = linprog(np.zeros(d), A_ub=-A, b_ub=-np.ones(j + 1),
                              bounds=[(None, None)] * d, method="highs")
                if res.status == 0:
                    nxt.append((s2, res.x))
        partial = nxt
    return len(partial)


def run(repeats: int) -> list[dict]:
    rows = []
    for data, n, r, with_lp in CASES:
        X = gaussian_rank_r(n, r, SEED) if data == "gaussian" else grid_with_bias(n)
        exact_chambers(X[: min(n, 20)])  # warm-up (imports, caches)
        load = os.getloadavg()[0]
        runs, p = [], None
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            P = exact_chambers(X)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
            p = P.p
        sec, cpu = sorted(runs)[len(runs) // 2]  # the median run (by wall time)
        expected = cover_count(n, r) if data == "gaussian" else planar_count(X)
        row = {"data": data, "n": n, "r": r, "d": X.shape[1], "chambers": p,
               "expected": expected, "count_ok": p == expected, "seconds": sec,
               "cpu_seconds": cpu, "chambers_per_s": p / sec, "load_avg_1min": load,
               "target_s": TARGETS.get((n, r), "") if data == "gaussian" else "",
               "lp_chambers": "", "lp_seconds": "", "lp_chambers_per_s": ""}
        if with_lp:
            t0 = time.perf_counter()
            q = lp_incremental_chambers(X)
            lsec = time.perf_counter() - t0
            row.update(lp_chambers=q, lp_seconds=lsec, lp_chambers_per_s=q / lsec,
                       count_ok=row["count_ok"] and q == p)
        rows.append(row)
        print_row(row)
        sys.stdout.flush()
    return rows


HEADER = (f"{'data':>9} {'n':>5} {'r':>2} {'chambers':>9} {'count ok':>8} {'seconds':>8} "
          f"{'cpu s':>7} {'chambers/s':>11} {'target':>7} {'load':>5} | {'LP chambers':>11} "
          f"{'LP seconds':>10} {'LP ch/s':>8}")


def print_row(row: dict) -> None:
    lp = (f"{row['lp_chambers']:>11} {row['lp_seconds']:>10.3f} {row['lp_chambers_per_s']:>8.1f}"
          if row["lp_chambers"] != "" else f"{'-':>11} {'-':>10} {'-':>8}")
    tgt = f"< {row['target_s']:.0f} s" if row["target_s"] != "" else ""
    print(f"{row['data']:>9} {row['n']:>5} {row['r']:>2} {row['chambers']:>9} "
          f"{str(row['count_ok']):>8} {row['seconds']:>8.3f} {row['cpu_seconds']:>7.3f} "
          f"{row['chambers_per_s']:>11.0f} {tgt:>7} {row['load_avg_1min']:>5.1f} | {lp}")


def write_csv(rows: list[dict], out: Path) -> None:
    """One row per case, with provenance (versions, git revision, host, CPUs, date); atomic."""
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"seed": SEED, **collect_provenance(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*rows[0], *meta])
        w.writeheader()
        for row in rows:
            w.writerow({**row, **meta})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per case (median reported)")
    ap.add_argument("--out", default="results/bench/patterns.csv", help="CSV output path")
    args = ap.parse_args(argv)
    print(f"exact chamber enumeration (extreme-ray method), median of {args.repeats} runs; "
          f"Gaussian data of rank r in R^(r+2), seed {SEED}, and a 20x20 grid + bias; "
          f"{os.cpu_count()} CPUs")
    print(HEADER)
    rows = run(args.repeats)
    write_csv(rows, Path(args.out))
    print(f"wrote {args.out}")
    failed = [r for r in rows if not r["count_ok"]]
    slow = [r for r in rows if r["target_s"] != "" and r["seconds"] >= r["target_s"]]
    for r in failed:
        print(f"COUNT MISMATCH n={r['n']} r={r['r']}", file=sys.stderr)
    for r in slow:
        print(f"TARGET MISSED n={r['n']} r={r['r']}: {r['seconds']:.3f} s >= {r['target_s']} s",
              file=sys.stderr)
    return 1 if failed or slow else 0


if __name__ == "__main__":
    sys.exit(main())
