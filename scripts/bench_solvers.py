"""Benchmark of the conic solvers (Clarabel, ECOS, SCS) on the convex program (issue 3).

Grid of problems (n, d, P): Gaussian X (n x d, seeded), ALL chambers (P = number of patterns, the
program has 2P blocks), targets from a planted 3-neuron ReLU teacher plus noise (squared loss) or
its signs (logistic loss), β = β_frac · β_max. Complete pattern lists make the certificate a
measure of solver accuracy: every certificate lower bound is a valid lower bound on P_c, so the
reference of an instance is the best lower bound found by any solver, and

    rel_excess = (objective − reference) / max(1, |reference|)  ≥  relative suboptimality

(rigorous; ``ref_bracket`` = (min objective − reference)/max(1, |reference|) shows how tight the
reference itself is). ``M_over_beta`` = M(λ)/β over all chambers (≤ 1 + 1e-6 is dual feasible).

Each solve (model build, cvxpy compile, solver, certificate) runs in a forked child with a hard
wall-clock limit (``--time-limit``, default 30 s: the default run takes about 5 minutes on one
core; ``--time-limit 60`` takes about 9 and lets Clarabel solve every size of the grid). The
cost of a solve grows with the number of nonzeros of the prediction map,
``size`` = Σ_k |D_k| · d ≈ n P d / 2 (at fixed P a larger n is slower), so instances run in
increasing ``size`` per loss, and once a solver exceeds the limit every instance at least as
large is skipped for it (``status = skipped``). Solver defaults of
:mod:`hiddenconvex.solvers` are used (Clarabel 1e-10, ECOS 1e-8, SCS 1e-6, with the package's one
retry at a looser tolerance for the interior-point solvers).

Output: a table on stdout and a tidy CSV, one row per (instance, solver), written atomically to
``results/bench/solvers.csv`` (``--out``); ``status`` is ok / error / timeout / skipped (plotting
keeps ``ok`` rows), ``solver_status`` is the solver's own status.

Usage: .venv/bin/python scripts/bench_solvers.py [--quick] [--time-limit 30]
                                                 [--losses squared,logistic] [--out CSV]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per solve: timings comparable, machine shared

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import hiddenconvex  # noqa: E402
from hiddenconvex import Problem  # noqa: E402
from hiddenconvex.certificate import beta_max  # noqa: E402
from hiddenconvex.convex_program import ConvexProgram  # noqa: E402
from hiddenconvex.experiments.atomic import atomic_path  # noqa: E402
from hiddenconvex.patterns import exact_chambers  # noqa: E402
from hiddenconvex.solvers import SOLVERS, installed_solvers, solver_version  # noqa: E402

SEED = 0
BETA_FRAC = 0.1
# (n, d): P = number of chambers of n Gaussian points in R^d = 2 sum_{k<d} binom(n-1, k)
DEFAULT_CASES = {
    "squared": [(10, 3), (50, 2), (20, 3), (12, 5), (40, 3), (16, 5), (500, 2), (80, 3),
                (1000, 2), (120, 3)],
    "logistic": [(10, 3), (20, 3), (40, 3), (80, 3)],
}
QUICK_CASES = {
    "squared": [(50, 2), (10, 3), (20, 3), (12, 5), (40, 3)],
    "logistic": [(10, 3), (20, 3), (40, 3)],
}


def make_instance(n: int, d: int, loss: str, seed: int):
    """Gaussian inputs, planted ReLU teacher (3 neurons), targets; seeded by (seed, n, d)."""
    rng = np.random.default_rng([seed, n, d])
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((3, d))
    alpha = np.array([1.0, -1.0, 0.5])
    f = np.maximum(X @ U.T, 0.0) @ alpha
    if loss == "squared":
        y = f + 0.1 * rng.standard_normal(n)
    else:
        y = np.where(f + 0.1 * rng.standard_normal(n) >= 0, 1.0, -1.0)
    return X, y


def _child(conn, problem, chambers, solver):
    """One solve in a forked process: build, compile, solve, certify; send a flat record."""
    try:
        program = ConvexProgram(problem, chambers)
        sol = program.solve(solver=solver)
        t1 = time.perf_counter()
        cert = sol.certificate
        rec = {
            "status": "ok", "solver_status": sol.status, "tol": sol.tol,
            "cone_rows": program.num_cone_rows, "build_seconds": program.build_seconds,
            "compile_seconds": sol.compile_seconds, "solve_seconds": sol.solve_seconds,
            "iterations": sol.iterations, "objective": sol.objective.total,
            "lower_bound": cert.lower_bound, "M_over_beta": cert.M / problem.beta,
            "certified": cert.certified, "certificate_seconds": time.perf_counter() - t1,
            "cone_violation": sol.cone_violation, "active_blocks": int(sol.active_blocks().size),
            "warnings": " | ".join(sol.warnings),
        }
    except Exception as exc:  # reported in the table, never hidden
        rec = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    conn.send(rec)
    conn.close()


def run_one(problem, chambers, solver: str, limit: float) -> dict:
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, problem, chambers, solver), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    send.close()
    rec = None
    if recv.poll(limit):
        try:
            rec = recv.recv()
        except EOFError:
            rec = None
    wall = time.perf_counter() - t0
    if proc.is_alive():
        proc.kill()
    proc.join()
    if rec is None:
        if wall >= limit:
            rec = {"status": "timeout", "error": f"killed after {limit:g} s"}
        else:
            rec = {"status": "error", "error": f"child died (exit code {proc.exitcode})"}
    rec["wall_seconds"] = wall
    return rec


def run(losses, cases, solvers, limit: float, seed: int) -> list[dict]:
    rows = []
    for loss in losses:
        stopped: dict[str, tuple[int, str]] = {}  # solver -> (size limit, why)
        grid = []
        for n, d in cases[loss]:
            X, y = make_instance(n, d, loss, seed)
            t0 = time.perf_counter()
            ch = exact_chambers(X)
            size = int(ch.D.sum()) * d  # nonzeros of the prediction map
            grid.append((size, ch.p, n, d, X, y, ch, time.perf_counter() - t0))
        for size, P, n, d, X, y, ch, enum_s in sorted(grid, key=lambda g: g[:2]):
            bmax = beta_max(Problem.create(X, y, 1.0, loss), ch)
            problem = Problem.create(X, y, BETA_FRAC * bmax, loss)
            inst = []
            for solver in solvers:
                base = {"loss": loss, "n": n, "d": d, "num_patterns": P, "blocks": 2 * P,
                        "size": size, "solver": solver, "beta": problem.beta, "beta_max": bmax,
                        "enumeration_seconds": enum_s}
                if solver in stopped and size >= stopped[solver][0]:
                    rec = {"status": "skipped", "error": stopped[solver][1]}
                else:
                    rec = run_one(problem, ch, solver, limit)
                    if rec["status"] == "timeout" or rec["wall_seconds"] > limit:
                        stopped[solver] = (size, f"{solver} exceeded {limit:g} s at P = {P} "
                                                 f"(n = {n}, d = {d}, size {size})")
                inst.append({**base, **rec})
            ok = [r for r in inst if r["status"] == "ok"]
            lbs = [r["lower_bound"] for r in ok if r.get("lower_bound") is not None]
            ref = max(lbs) if lbs else math.nan
            best = min((r["objective"] for r in ok), default=math.nan)
            for r in inst:
                r["reference"] = ref
                r["ref_bracket"] = (best - ref) / max(1.0, abs(ref)) if lbs else math.nan
                r["rel_excess"] = ((r["objective"] - ref) / max(1.0, abs(ref))
                                   if r["status"] == "ok" and lbs else math.nan)
                print_row(r)
                sys.stdout.flush()
            rows.extend(inst)
    return rows


HEADER = (f"{'loss':>8} {'n':>5} {'d':>2} {'P':>6} {'solver':>8} {'status':>8} {'solver st.':>18} "
          f"{'build s':>8} {'compile s':>9} {'solve s':>8} {'wall s':>7} {'iters':>6} "
          f"{'rel_excess':>10} {'M/beta-1':>9} {'cert':>5}")


def _f(v, fmt):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def print_row(r: dict) -> None:
    mb = r.get("M_over_beta")
    print(f"{r['loss']:>8} {r['n']:>5} {r['d']:>2} {r['num_patterns']:>6} {r['solver']:>8} "
          f"{r['status']:>8} {r.get('solver_status', '-'):>18} "
          f"{_f(r.get('build_seconds'), '8.2f'):>8} {_f(r.get('compile_seconds'), '9.2f'):>9} "
          f"{_f(r.get('solve_seconds'), '8.2f'):>8} {_f(r.get('wall_seconds'), '7.1f'):>7} "
          f"{_f(r.get('iterations'), 'd'):>6} {_f(r.get('rel_excess'), '10.1e'):>10} "
          f"{_f(None if mb is None else mb - 1, '9.1e'):>9} "
          f"{str(r.get('certified', '-')):>5}")


def write_csv(rows: list[dict], out: Path, meta: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    fields += list(meta)
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        w.writeheader()
        for row in rows:
            w.writerow({**row, **meta})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small grid and a 20 s limit (about a minute)")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="hard wall-clock limit per solve in seconds (default 30; --quick: 20)")
    ap.add_argument("--losses", default="squared,logistic", help="comma-separated losses")
    ap.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated solvers")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default="results/bench/solvers.csv", help="CSV output path")
    args = ap.parse_args(argv)
    cases = QUICK_CASES if args.quick else DEFAULT_CASES
    limit = args.time_limit if args.time_limit is not None else (20.0 if args.quick else 30.0)
    losses = [s.strip() for s in args.losses.split(",") if s.strip()]
    bad = [s for s in losses if s not in cases]
    if bad:
        ap.error(f"unknown loss {bad[0]!r} (choose from {', '.join(cases)})")
    wanted = [s.strip() for s in args.solvers.split(",") if s.strip()]
    bad = [s for s in wanted if s not in SOLVERS]
    if bad:
        ap.error(f"unknown solver {bad[0]!r} (choose from {', '.join(SOLVERS)})")
    have = installed_solvers()
    for s in wanted:
        if s not in have:
            print(f"note: {s} is not installed (pip install {SOLVERS[s].package}); skipped",
                  file=sys.stderr)
    solvers = [s for s in wanted if s in have]
    meta = {"seed": args.seed, "beta_frac": BETA_FRAC, "time_limit": limit,
            "hiddenconvex": hiddenconvex.__version__,
            **{f"{s}_version": solver_version(s) for s in SOLVERS},
            "cvxpy": _version("cvxpy"), "numpy": np.__version__,
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    print(f"convex program, complete chamber lists, beta = {BETA_FRAC} beta_max, seed {args.seed},"
          f" hard limit {limit:g} s per solve, {os.cpu_count()} CPUs, one thread per solve")
    print(HEADER)
    t0 = time.perf_counter()
    rows = run(losses, cases, solvers, limit, args.seed)
    write_csv(rows, Path(args.out), meta)
    print(f"wrote {args.out} ({len(rows)} rows, {time.perf_counter() - t0:.0f} s)")
    for loss in losses:
        for s in solvers:
            mine = [r for r in rows if r["loss"] == loss and r["solver"] == s]
            ok = [r["num_patterns"] for r in mine if r["status"] == "ok"]
            bad = sorted({r["status"] for r in mine if r["status"] != "ok"})
            print(f"{loss:>8} {s:>8}: largest P solved {max(ok) if ok else '-'}"
                  + (f"; also {', '.join(bad)}" if bad else ""))
    return 0


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
