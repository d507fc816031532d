"""Benchmark of the working-set solver (issue 13): one table, one run, each case in a fresh child.

Cases (β = 0.1 unless stated, squared loss unless stated):

* ``iris``: 150 × 4, all 1,080,590 chambers streamed: working-set (certified global optimum).
* ``iris+bias``: 150 × 5 with a ones column (Cover's bound 39.5 M): working-set over every chamber.
  The stream refuses these data (near-concurrent rows on which the determinant rule is
  inconsistent, :mod:`hiddenconvex._canonical_rays`): the row records the refusal and its time.
* ``iris+bias search``: the same data without enumeration: 1000 sampled gates, search columns and
  the search bound (``bound_time_limit`` 300 s).
* ``iris logistic``: the ±1 labels of ``data/iris.csv``, logistic loss, all chambers.
* ``iris 3529``: the 3529 patterns of 5000 sampled gates (seed 0): the full program (one Clarabel
  solve) against the working set over the same list, side by side (same program: same optimum).
* ``teacher n200 d10 P1000``: teacher data (``teacher_network(200, 10, seed=0)``), β = 0.2, 1000
  sampled gates: the full path against the working set over the same list.

Every row: wall seconds (whole call: patterns, solves, pricing, certificate), the time of each
working-set phase, rounds, final working-set size, objective, lower bound, relative gap, certified,
peak RSS of the child (``ru_maxrss``), and for the paired rows the ratio of the times and the
relative objective difference measured in the same run. The machine may be shared: compare ratios.

Usage: .venv/bin/python scripts/bench_working_set.py [--quick] [--out results/bench/working_set.csv]
``--quick`` skips iris+bias (minutes) and the full 3529-pattern solve (about a minute).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _iris():
    import pandas as pd

    df = pd.read_csv(ROOT / "data" / "iris.csv")
    return df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)


def _case(name: str, strategy: str) -> dict:
    import numpy as np

    import hiddenconvex as hc
    from hiddenconvex.experiments.synthetic import teacher_network
    from hiddenconvex.patterns import sample_patterns

    kw: dict = {"strategy": strategy, "bound": "enumerate"}  # strategies compared, not bounds
    if name.startswith("iris"):
        X, y = _iris()
        beta, loss = 0.1, "squared"
        if name == "iris+bias":
            kw["bias"] = True
        if name == "iris logistic":
            loss = "logistic"
        if name == "iris 3529":
            kw["patterns"] = sample_patterns(X, 5000, seed=0)
        elif name == "iris+bias search":  # no enumeration: search columns and the search bound
            kw.update(bias=True, patterns="sample", n_samples=1000, bound="auto",
                      bound_time_limit=300.0)
        else:
            kw["patterns"] = "exact"
    else:
        X, y, _ = teacher_network(200, 10, seed=0)
        beta, loss = 0.2, "squared"
        kw["patterns"] = sample_patterns(X, 1000, seed=0)
    t0 = time.perf_counter()
    res = hc.solve(X, y, beta, loss, **kw)
    wall = time.perf_counter() - t0
    rec = res.to_dict()
    cert = res.certificate
    out = {
        "case": name, "strategy": res.strategy, "wall_seconds": wall,
        "objective": res.objective, "certified": res.certified,
        "lower_bound": res.lower_bound,
        "relative_gap": res.relative_gap,  # gap / |objective|
        "M": None if cert is None else cert.M, "num_patterns": int(rec["num_patterns"]),
        "num_chambers": rec.get("num_chambers"),
        "rounds": rec.get("ws_rounds"), "ws_status": rec.get("ws_status"),
        "ws_final_size": rec.get("ws_final_size"),
        "solve_seconds": rec.get("ws_solve_seconds", rec.get("solve_seconds")),
        "pricing_seconds": rec.get("ws_pricing_seconds"),
        "facet_seconds": rec.get("ws_facets_seconds"),
        "search_columns": rec.get("ws_search_columns"),
        "bound_seconds": rec.get("bound_seconds"),
        "n": int(X.shape[0]), "d": int(X.shape[1]) + int(bool(kw.get("bias"))),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if res.strategy == "full":
        out["facet_seconds"] = res.solution.build_seconds
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


def _child(name, strategy, queue):
    try:
        queue.put(_case(name, strategy))
    except Exception as exc:  # reported as a row, never a missing one
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        path = Path(where.filename).resolve()
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        queue.put({"case": name, "strategy": strategy,
                   "error": f"{type(exc).__name__}: {exc} ({shown}:{where.lineno})"})


def run_case(name: str, strategy: str) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(name, strategy, q))
    p.start()
    row = q.get()
    p.join()
    return row


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "working_set.csv"))
    args = ap.parse_args(argv)
    # compile or load the numba kernels once, outside the timings (children are forked)
    import numpy as np

    from hiddenconvex.facets import facet_rows
    from hiddenconvex.patterns import iter_chambers
    from hiddenconvex.pricing import Pricer

    Xw = np.random.default_rng(0).standard_normal((12, 3))
    for D, W in iter_chambers(Xw, 64):
        Pricer(Xw).price(np.ones(12), D, 0.1, W)
        facet_rows(Xw, np.asfortranarray(D), W)  # else its first compile lands in one case
    plan = [("iris", "working-set"), ("iris logistic", "working-set")]
    if not args.quick:
        plan += [("iris+bias", "working-set"), ("iris+bias search", "working-set")]
    plan += [("iris 3529", "working-set")]
    if not args.quick:
        plan.append(("iris 3529", "full"))
    plan += [("teacher n200 d10 P1000", "working-set"), ("teacher n200 d10 P1000", "full")]
    rows = []
    for name, strategy in plan:
        row = run_case(name, strategy)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    for row in rows:  # ratios to the full solve of the same list, measured in this run
        if row.get("strategy") == "working-set":
            ref = next((r for r in rows if r["case"] == row["case"] and r.get("strategy") == "full"
                        and "error" not in r), None)
            if ref is not None and "error" not in row:
                row["time_ratio_vs_full"] = row["wall_seconds"] / ref["wall_seconds"]
                row["objective_rel_diff_vs_full"] = abs(row["objective"] - ref["objective"]) / \
                    abs(ref["objective"])
    cols = ["case", "strategy", "wall_seconds", "time_ratio_vs_full", "rounds", "ws_final_size",
            "solve_seconds", "pricing_seconds", "facet_seconds", "num_chambers", "num_patterns",
            "search_columns", "bound_seconds",
            "objective", "objective_rel_diff_vs_full", "lower_bound", "relative_gap", "M",
            "certified", "peak_rss_mb", "error"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    from hiddenconvex.experiments.atomic import atomic_write

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(cols)] + [",".join(_fmt(r.get(c)).replace(",", ";") for c in cols)
                                for r in rows]
    atomic_write(out, "\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
