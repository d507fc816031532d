"""Benchmark of exact chamber enumeration (issue 2: n=400, r=3 in < 2 s; n=100, r=4 in < 5 s).

Prints a table (n, r, chambers, seconds, chambers/s) for the vectorized extreme-ray method
(:func:`hiddenconvex.patterns.exact_chambers`, median of ``--repeats`` runs) and, for small n,
for the incremental LP baseline of SPEC §3.3 (one HiGHS LP per partial sign vector whose second
child is not already witnessed). Data: Gaussian (n x r) embedded in R^(r+2) by a random
orthonormal map (rank r), fixed seed. Every count is checked against Cover's formula and the
baseline's count against the fast one. The table is also written atomically to
results/bench/patterns.csv. Exit status 1 if a count is wrong or an acceptance target is missed.

Usage: .venv/bin/python scripts/bench_patterns.py [--repeats 3] [--out results/bench/patterns.csv]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from hiddenconvex.patterns import cover_count, exact_chambers

# (n, r, run the LP baseline?)  acceptance cases: (400, 3) and (100, 4)
CASES = [
    (10, 3, True), (20, 3, True), (40, 3, True), (100, 3, False), (200, 3, False),
    (400, 3, False), (10, 4, True), (20, 4, True), (50, 4, False), (100, 4, False),
    (30, 5, False),
]
TARGETS = {(400, 3): 2.0, (100, 4): 5.0}
SEED = 0


def gaussian_rank_r(n: int, r: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, n, r])
    Q = np.linalg.qr(rng.standard_normal((r + 2, r)))[0]  # (r+2, r) orthonormal columns
    return rng.standard_normal((n, r)) @ Q.T


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
    for n, r, with_lp in CASES:
        X = gaussian_rank_r(n, r, SEED)
        exact_chambers(X[: min(n, 20)])  # warm-up (imports, caches)
        times, p = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            P = exact_chambers(X)
            times.append(time.perf_counter() - t0)
            p = P.p
        sec = statistics.median(times)
        expected = cover_count(n, r)
        row = {"n": n, "r": r, "d": X.shape[1], "chambers": p, "cover": expected,
               "count_ok": p == expected, "seconds": sec, "chambers_per_s": p / sec,
               "target_s": TARGETS.get((n, r), ""), "lp_chambers": "", "lp_seconds": "",
               "lp_chambers_per_s": ""}
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


HEADER = (f"{'n':>5} {'r':>2} {'chambers':>9} {'cover ok':>8} {'seconds':>9} {'chambers/s':>11} "
          f"{'target':>7} | {'LP chambers':>11} {'LP seconds':>10} {'LP ch/s':>9}")


def print_row(row: dict) -> None:
    lp = (f"{row['lp_chambers']:>11} {row['lp_seconds']:>10.3f} {row['lp_chambers_per_s']:>9.1f}"
          if row["lp_chambers"] != "" else f"{'-':>11} {'-':>10} {'-':>9}")
    tgt = f"< {row['target_s']:.0f} s" if row["target_s"] != "" else ""
    print(f"{row['n']:>5} {row['r']:>2} {row['chambers']:>9} {str(row['count_ok']):>8} "
          f"{row['seconds']:>9.4f} {row['chambers_per_s']:>11.0f} {tgt:>7} | {lp}")


def write_csv(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"seed": SEED, "numpy": np.__version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "date": datetime.datetime.now().isoformat(timespec="seconds")}
    fields = list(rows[0]) + list(meta)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=out.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            for row in rows:
                w.writerow({**row, **meta})
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per case (median reported)")
    ap.add_argument("--out", default="results/bench/patterns.csv", help="CSV output path")
    args = ap.parse_args(argv)
    print(f"exact chamber enumeration (extreme-ray method), median of {args.repeats} runs; "
          f"Gaussian data of rank r in R^(r+2), seed {SEED}; {os.cpu_count()} CPUs")
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
