"""Benchmark of exact chamber enumeration: the extreme-ray method (the baseline: what
``exact_chambers`` computed before the stream) against the canonical-ray stream, one table.

Methods, each run ``--repeat`` times in a fresh subprocess (so the peak RSS is that run's):

* ``extreme-rays``   — the extreme-ray method (all candidates at all lines, global dedupe, sort);
* ``stream``         — ``patterns.iter_chambers(X, chunk=65536)``, consuming every chunk;
* ``count``          — ``patterns.count_chambers(X)`` (no patterns built);
* ``exact_chambers`` — the stream collected and sorted into ``Patterns`` (today's entry point).

The table shows the best wall time, chambers/s from it, the speed-up over the baseline measured in
the same invocation and the largest peak RSS seen. Each subprocess first loads the numba kernels
(from the on-disk cache) on a tiny input, outside the timing. The machine may be shared: compare
the ratios of one invocation, not absolute times across runs.

    python scripts/bench_enumeration.py             # the table (best of 3)
    python scripts/bench_enumeration.py --quick     # without iris + bias (39 M chambers)
    python scripts/bench_enumeration.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DATASETS = {
    # name: python expression building X (numpy as np; `load` reads a repository csv)
    "iris 150x4": "load('iris.csv')",
    "gauss 150x4": "np.random.default_rng(0).standard_normal((150, 4))",
    "gauss 400x3": "np.random.default_rng(0).standard_normal((400, 3))",
    "gauss 60x5": "np.random.default_rng(0).standard_normal((60, 5))",
    "default+bias": "np.column_stack([load('default.csv'), np.ones(len(load('default.csv')))])",
    "teacher_2d+bias": ("np.column_stack([load('teacher_2d.csv'), "
                        "np.ones(len(load('teacher_2d.csv')))])"),
    "iris+bias 150x5": "np.column_stack([load('iris.csv'), np.ones(150)])",
}
BIG = {"iris+bias 150x5"}
METHODS = ("extreme-rays", "stream", "count", "exact_chambers")

#: The baseline holds every candidate sign vector at once; it is not run when that table alone
#: would exceed this many bytes (iris + bias: binom(L, 4)·16 candidates).
BASELINE_LIMIT = 4 << 30

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
def load(name):
    df = pd.read_csv({data!r} + '/' + name)
    return df.drop(columns=[c for c in df.columns if c == 'y']).to_numpy(float)
from hiddenconvex.patterns import count_chambers, exact_chambers, iter_chambers, Patterns
from hiddenconvex._arrangement import _finish_chambers, _reduce
from hiddenconvex._extreme_rays import _essential_chambers
from hiddenconvex._linalg import pow2_scaled
X = {expr}
method = {method!r}
red = _reduce(pow2_scaled(X)[0])
info = dict(n=X.shape[0], rank=red.rank, L=int(red.H.shape[0]))
if method == 'info':
    print(json.dumps(info)); sys.exit(0)
tiny = np.random.default_rng(1).standard_normal((12, X.shape[1]))
count_chambers(tiny); exact_chambers(tiny)  # load the kernels
t0, c0 = time.perf_counter(), time.process_time()
if method == 'extreme-rays':
    Xs = pow2_scaled(X)[0]
    words, wit = _essential_chambers(red.H, red.rank)
    D, W = _finish_chambers(Xs, red, words, wit)
    p = D.shape[1]
elif method == 'stream':
    p = 0
    for D, W in iter_chambers(X, chunk=65536):
        p += D.shape[1]
elif method == 'count':
    p = count_chambers(X)
elif method == 'exact_chambers':
    p = exact_chambers(X).p
t = time.perf_counter() - t0
c = time.process_time() - c0
info.update(p=int(p), seconds=t, cpu=c,
            rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(info))
"""


def run(method: str, expr: str, timeout: float) -> dict:
    code = CHILD.format(data=str(REPO / "data"), expr=expr, method=method)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_bytes(n: int, r: int, L: int) -> int:
    """Bytes of the baseline's candidate table alone: binom(L, r−1)·2^(r−1) candidates, each as
    packed words and a ray (16(W + r)) plus ~50 bytes of grouping indices."""
    if r < 3:
        return 0
    W = max(1, (L + 63) // 64)
    return math.comb(L, r - 1) * 2 ** (r - 1) * (16 * (W + r) + 50)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="extreme-ray method vs canonical-ray stream")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip iris + bias (39 M chambers)")
    ap.add_argument("--only", default=None, help="substring of the data set names to run")
    ap.add_argument("--json", default=None, help="write the rows to this file")
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args(argv)
    sets = {k: v for k, v in DATASETS.items() if not (args.quick and k in BIG)}
    if args.only:
        sets = {k: v for k, v in sets.items() if args.only in k}
    hdr = (f"{'data set':<17} {'method':<15} {'n':>4} {'r':>2} {'L':>4} {'chambers':>11} "
           f"{'best s':>8} {'cpu s':>7} {'chambers/s':>11} {'speed-up':>9} {'peak RSS MB':>11}")
    print(hdr)
    print("-" * len(hdr), flush=True)
    rows = []
    for name, expr in sets.items():
        info = run("info", expr, 120)
        base = None
        for method in METHODS:
            if method == "extreme-rays":
                need = baseline_bytes(info["n"], info["rank"], info["L"])
                if need > BASELINE_LIMIT:
                    print(f"{name:<17} {method:<15} not run: its candidate table alone needs "
                          f"{need / 1e9:.0f} GB", flush=True)
                    rows.append(dict(dataset=name, method=method, skipped=f"{need} bytes"))
                    continue
            repeat = 1 if name in BIG else args.repeat
            best, rss = None, 0.0
            for _ in range(repeat):
                res = run(method, expr, args.timeout)
                if "error" in res:
                    best = res
                    break
                rss = max(rss, res["rss_mb"])
                if best is None or res["seconds"] < best["seconds"]:
                    best = res
            if "error" in best:
                print(f"{name:<17} {method:<15} error: {best['error']}", flush=True)
                rows.append(dict(dataset=name, method=method, error=best["error"]))
                continue
            if method == "extreme-rays":
                base = best["seconds"]
            speedup = base / best["seconds"] if base and method != "extreme-rays" else None
            row = dict(dataset=name, method=method, n=best["n"], rank=best["rank"], L=best["L"],
                       chambers=best["p"], seconds=best["seconds"], cpu=best["cpu"],
                       per_second=best["p"] / best["seconds"], speedup=speedup, rss_mb=rss,
                       repeats=repeat)
            rows.append(row)
            sp = f"{speedup:.1f}x" if speedup else ""
            print(f"{name:<17} {method:<15} {row['n']:>4} {row['rank']:>2} {row['L']:>4} "
                  f"{row['chambers']:>11,} {row['seconds']:>8.2f} {row['cpu']:>7.2f} "
                  f"{row['per_second']:>11,.0f} {sp:>9} {rss:>11.0f}", flush=True)
    print(f"\n(best of {args.repeat} wall times, iris+bias once; speed-up = baseline time / time "
          f"in this run; {os.cpu_count()} cores, possibly shared; {time.ctime()})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
