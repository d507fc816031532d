"""Benchmark of the anytime upper bound m̄ ≥ M(λ) (hiddenconvex.bounds, issue 14): one table.

Per dataset (squared loss, β = 0.1, no bias column, as in issue 14): λ = y − ŷ of a sampled solve
(seed 0; iris 300 gates, wine 200, diabetes 500, breast cancer 200), then one bound run of
``--limit`` seconds (iris: ``--iris-limit``). From the run's history (every entry is a valid
bound at the moment it was recorded) the bound m̄(T) at T = 10, 30, 60 s and the limit, the
best value found, and the certified lower bound LB(m̄) = max_{t ≤ β/m̄} −ℓ*(−tλ) (SPEC §2.4 step 4
with m̄ for M; :func:`hiddenconvex.certificate._best_scale`, the certificate's own formula) with
the relative gap (primal − LB)/|primal| (primal: objective of the sampled solve, an upper bound on
P_c). "floor" is the gap with m̄ replaced by the best value found (≤ M): no bound on this λ can
certify less. For iris the exact M over all 1,080,590 chambers
(:func:`hiddenconvex.certificate.max_correlation` of :func:`hiddenconvex.patterns.exact_chambers`)
is the reference: the time to m̄ ≤ 1.01·M and to completion are reported.

Caches (recomputed when missing): the dual points ``results/bounds/lam_<name>_<gates>.npz``
(a 200-gate breast-cancer solve takes minutes) and the exact M of iris
``results/bounds/exactM_iris_300.json`` (keyed by a hash of λ). Outputs: the histories
``results/bounds/<name>.json``, the table ``results/bounds/table.md`` and the figure
``results/figures/bounds.png`` (m̄ and best against time, per dataset). BLAS runs
single-threaded; the machine may be shared, so wall and CPU seconds are both reported.

Usage: .venv/bin/python scripts/bench_bounds.py [--limit 300] [--iris-limit 60]
       [--datasets iris,wine,diabetes,breast_cancer] [--prepare-only | --report-only]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hiddenconvex.bounds import upper_bound  # noqa: E402
from hiddenconvex.certificate import _best_scale, max_correlation  # noqa: E402
from hiddenconvex.experiments.datasets import load_dataset  # noqa: E402
from hiddenconvex.objective import Problem  # noqa: E402

BETA = 0.1
GATES = {"iris": 300, "wine": 200, "diabetes": 500, "breast_cancer": 200}
OUT = ROOT / "results" / "bounds"
FIG = ROOT / "results" / "figures" / "bounds.png"


def load(name):
    ds = load_dataset(name, bias=False)
    return ds.X, ds.y


def lam_hash(lam) -> str:
    return hashlib.sha256(np.ascontiguousarray(lam, dtype=np.float64).tobytes()).hexdigest()[:16]


def dual_point(name):
    """λ of the sampled solve (cached). Above rank 6 the cones keep all rows (facets=False): the
    witness facets need a convex hull in rank − 1 dimensions, which is what makes 13-D solves
    slow; the program is the same."""
    from hiddenconvex.convex_program import ConvexProgram, solve_convex
    from hiddenconvex.patterns import sample_patterns

    gates = GATES[name]
    path = OUT / f"lam_{name}_{gates}.npz"
    if path.exists():
        f = np.load(path)
        return f["lam"], float(f["primal"]), int(f["p"]), float(f["seconds"])
    X, y = load(name)
    t = time.perf_counter()
    problem = Problem.create(X, y, BETA)
    if np.linalg.matrix_rank(X) <= 6:
        sol = solve_convex(problem, method="sample", n_samples=gates, seed=0, certify=False)
    else:
        prog = ConvexProgram(problem, sample_patterns(X, gates, 0), facets=False, max_chambers=0)
        sol = prog.solve(certify=False)
    secs = time.perf_counter() - t
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, lam=sol.dual, primal=float(sol.objective.total), p=sol.patterns.p,
             seconds=secs, beta=BETA, seed=0, gates=gates)
    print(f"{name}: sampled solve ({gates} gates, p = {sol.patterns.p}) {secs:.0f} s, "
          f"primal {sol.objective.total:.6g}", flush=True)
    return sol.dual, float(sol.objective.total), int(sol.patterns.p), secs


def exact_M(name, lam):
    """Exact M over all chambers (iris only: 1,080,590 chambers), cached by λ hash."""
    from hiddenconvex.patterns import exact_chambers

    path = OUT / f"exactM_{name}_{GATES[name]}.json"
    key = lam_hash(lam)
    if path.exists():
        rec = json.loads(path.read_text())
        if rec.get("lam_sha256_16") == key:
            return rec
    X, _ = load(name)
    t = time.perf_counter()
    ch = exact_chambers(X)
    t1 = time.perf_counter()
    M = float(max_correlation(X, lam, ch))
    rec = dict(M=M, chambers=int(ch.p), enum_seconds=t1 - t,
               M_seconds=time.perf_counter() - t1, lam_sha256_16=key)
    path.write_text(json.dumps(rec, indent=1))
    print(f"{name}: exact M = {M!r} over {ch.p} chambers, {time.perf_counter() - t:.0f} s",
          flush=True)
    return rec


def at_time(history, T):
    """(upper, best) of the last history entry recorded by time T (valid then)."""
    rows = [h for h in history if h[0] <= T]
    return (rows[-1][1], rows[-1][2]) if rows else (float("nan"), float("nan"))


def certified(problem, lam, primal, m):
    """(LB, relative gap) from any m ≥ M(λ)."""
    if not np.isfinite(m):
        return float("nan"), float("nan")
    lb = _best_scale(problem.loss, lam, problem.y, m, problem.beta)[1]
    return lb, (primal - lb) / abs(primal)


def run(name, limit, times):
    X, y = load(name)
    lam, primal, p, solve_s = dual_point(name)
    problem = Problem.create(X, y, BETA)
    ref = exact_M(name, lam) if name == "iris" else None
    load_before = os.getloadavg()[0]
    c0, w0 = time.process_time(), time.perf_counter()
    res = upper_bound(X, lam, time_limit=limit, seed=0)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    row = dict(dataset=name, n=X.shape[0], d=X.shape[1], rank=res.rank, gates=GATES[name],
               patterns=p, solve_seconds=solve_s, primal=primal, beta=BETA, limit=limit,
               status=res.status, nodes=res.nodes, open_nodes=res.open_nodes, wall=wall, cpu=cpu,
               load_average=load_before, upper=res.upper, best=res.best, margin=res.margin,
               best_over_beta=res.best / BETA, record=res.to_record(),
               history=[list(map(float, h)) for h in res.history])
    for T in times:
        up, best = at_time(res.history, T)
        lb, gap = certified(problem, lam, primal, up)
        row[f"at_{T:g}"] = dict(upper=up, best=best, lower_bound=lb, relative_gap=gap)
    row["gap_floor"] = certified(problem, lam, primal, res.best)[1]
    if ref is not None:
        M = ref["M"]
        row.update(exact_M=M, exact_chambers=ref["chambers"],
                   exact_seconds=ref["enum_seconds"] + ref["M_seconds"],
                   gap_exact_M=certified(problem, lam, primal, M)[1],
                   final_rel_error=res.upper / M - 1)
        hits = [h[0] for h in res.history if h[1] <= 1.01 * M]
        row["t_1pct"] = hits[0] if hits else None
        row["t_exact"] = res.seconds if res.status == "exact" else None
    OUT.mkdir(parents=True, exist_ok=True)
    prov = dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
                python=platform.python_version(), numpy=np.__version__, cpus=os.cpu_count())
    (OUT / f"{name}.json").write_text(json.dumps(dict(row, provenance=prov), indent=1))
    return row


def table(rows, times) -> str:
    Ts = [f"{T:g}" for T in times]
    head = (["dataset", "rank", "λ from", "primal", "M exact", "best", "best/β"]
            + [f"m̄({T}s)" for T in Ts] + [f"LB({Ts[-1]}s)"] + [f"gap({T}s)" for T in Ts]
            + ["gap floor", "status", "nodes", "wall / CPU s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ex = "–" if r.get("exact_M") is None else f"{r['exact_M']:.6f}"
        cells = [f"{r['dataset']} {r['n']}x{r['d']}", str(r["rank"]),
                 f"{r['gates']} gates (p={r['patterns']})", f"{r['primal']:.4f}", ex,
                 f"{r['best']:.6f}", f"{r['best_over_beta']:.2f}"]
        cells += [f"{r['at_' + T]['upper']:.4g}" for T in Ts]
        cells += [f"{r['at_' + Ts[-1]]['lower_bound']:.4f}"]
        cells += [f"{r['at_' + T]['relative_gap']:.2%}" for T in Ts]
        cells += [f"{r['gap_floor']:.2%}", r["status"], str(r["nodes"]),
                  f"{r['wall']:.0f} / {r['cpu']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    for r in rows:
        if r.get("exact_M") is not None:
            t1 = "never" if r["t_1pct"] is None else f"{r['t_1pct']:.1f} s"
            te = "not within the limit" if r["t_exact"] is None else f"{r['t_exact']:.1f} s"
            lines.append(
                f"\n{r['dataset']}: m̄ ≤ 1.01·M after {t1} (target ≤ 10 s), search complete "
                f"after {te} (wall), final (m̄ − M)/M = {r['final_rel_error']:.1e}; exact M "
                f"over {r['exact_chambers']} chambers took {r['exact_seconds']:.0f} s; relative "
                f"gap with the exact M itself: {r['gap_exact_M']:.2%}")
    return "\n".join(lines) + "\n"


def figure(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.6), squeeze=False)
    for ax, r in zip(axes[0], rows, strict=True):
        h = np.array(r["history"])
        t = np.maximum(h[:, 0], 1e-3)
        ax.step(t, h[:, 1], where="post", label="m̄ (upper bound)")
        ax.step(t, h[:, 2], where="post", label="best value (≤ M)")
        if r.get("exact_M") is not None:
            ax.axhline(r["exact_M"], color="k", ls=":", lw=1, label="exact M")
        ax.axhline(BETA, color="gray", ls="--", lw=1, label="β")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("seconds (wall)")
        ax.set_title(f"{r['dataset']} (rank {r['rank']}, {r['gates']} gates)")
    axes[0][0].set_ylabel("correlation")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    FIG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG, dpi=130)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="iris,wine,diabetes,breast_cancer")
    ap.add_argument("--limit", type=float, default=300.0)
    ap.add_argument("--iris-limit", type=float, default=60.0)
    ap.add_argument("--prepare-only", action="store_true",
                    help="compute the cached dual points and the exact M of iris, then stop")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild the table and the figure from results/bounds/<name>.json")
    args = ap.parse_args()
    names = args.datasets.split(",")
    if args.prepare_only:
        for name in names:
            lam = dual_point(name)[0]
            if name == "iris":
                exact_M(name, lam)
        return
    for name in names if not args.report_only else ():
        limit = args.iris_limit if name == "iris" else args.limit
        times = sorted({T for T in (10.0, 30.0, 60.0) if T < limit} | {limit})
        row = run(name, limit, times)
        print(f"{name}: {row['status']}, m̄ {row['upper']:.6g}, best {row['best']:.6g}, "
              f"{row['nodes']} nodes, {row['wall']:.0f} s wall", flush=True)
    # the table and the figure are made from the stored histories, never from a live run
    rows = [json.loads((OUT / f"{name}.json").read_text()) for name in names
            if (OUT / f"{name}.json").exists()]
    text = ""
    for key in dict.fromkeys(_time_keys(r) for r in rows):  # one table per set of time points
        group = [r for r in rows if _time_keys(r) == key]
        text += table(group, sorted(float(k[3:]) for k in key)) + "\n"
    (OUT / "table.md").write_text(text)
    print(text)
    figure(rows)


def _time_keys(row) -> tuple:
    return tuple(sorted((k for k in row if k.startswith("at_")), key=lambda k: float(k[3:])))


if __name__ == "__main__":
    main()
