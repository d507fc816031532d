r"""The real-data experiment (issue 16 item 2): one dataset, one β/β_max, one seed -> one row.

Run by ``scripts/run_batch.py scripts/configs/real.toml --task
hiddenconvex.experiments.real:run_real`` (``make experiments-real``); tables and figures are made
from the stored CSV (:func:`hiddenconvex.experiments.summary.write_real_tables`,
:func:`hiddenconvex.experiments.figures.real_figures`).

A *main* row (``method = "auto"``):

1. **β_max** = M(−∇ℓ(0)) (SPEC §2.4 step 6), and β = (grid ``beta``)·β_max when the option
   ``beta_relative`` is true (the grid's ``beta`` is then the ratio β/β_max). ``beta_max_method``
   says how it was obtained:

   * ``chambers`` — exact, a pricing pass over every chamber (streamed,
     :func:`hiddenconvex.patterns.iter_chambers`), when the arrangement is enumerable
     (Cover's bound ≤ ``max_stream_chambers``, default
     :data:`~hiddenconvex.working_set.AUTO_STREAM_CHAMBERS`);
   * ``search`` — exact to the search's ``rtol``: the anytime bound of
     :func:`hiddenconvex.bounds.upper_bound` at λ₀ = −∇ℓ(0) emptied its queue within
     ``beta_max_search_seconds``;
   * ``sampled`` — a lower estimate: the larger of the correlation over ``beta_max_gates`` seeded
     gates (seed 0) and of the chamber ascent :func:`hiddenconvex.bounds.local_ascent` (seed 0).
     It is deterministic (the same β in every row of a dataset and ratio) and below the true
     β_max, so β < β_max: the zero network is never trivially optimal. The search's upper bound
     is reported as ``beta_max_upper``: the true ratio β/β_max lies in
     [β/beta_max_upper, ``beta_ratio``].

2. **The convex optimum**: where the arrangement is enumerable, the certified optimum over all
   chambers (``hiddenconvex.solve(patterns="auto", strategy="working-set")``, chambers streamed);
   otherwise the best objective P_S over ``samples`` seeded Gaussian gates (working set over the
   sampled list) with a certified lower bound on P_c from the anytime search
   (:func:`~hiddenconvex.bounds.upper_bound` at the solution's dual point, ``bound_time_limit``
   seconds; :func:`~hiddenconvex.certificate.certify_with_bound`) and the relative gap
   (objective − lower bound)/|objective|.
3. **m* and uniqueness** where the optimal set is computable (:meth:`Result.try_optimal_set`);
   otherwise empty, with the reason in ``optimal_set_reason``.
4. **Training**: the best of ``n_train`` gradient-trained networks (:func:`hiddenconvex.training
   .train`, seeds ``seed·n_train ..``) of width max(``width``, 2·m*) — 2·(active blocks of the
   convex solution) when m* is unknown — capped at ``max_width``; its relative gap to the
   certified optimum, or to the sampled objective P_S when nothing is certified
   (``train_reference``), and to the lower bound. ``upper_bound`` = min(objective, best trained
   L_β) is the best known upper bound on P_c (a trained network's L_β is an objective value of
   the non-convex problem, ≥ P_c) and ``bracket_gap`` = (upper_bound − lower_bound)/|upper_bound|.

A *sweep* row (``method = "sample"``) only solves the program over ``samples`` gates (same β as
the main rows: β_max does not depend on the row's sample): the points of the figure "relative gap
against the number of sampled patterns".

Status (``row_status``, never empty): ``ok``; ``time_limit`` / ``round_limit`` / ``stalled``
(the working set stopped on its budget: the objective is the restricted one, an upper bound, and
the lower bound of its last full pricing pass is kept); ``memory_limit`` (refused before any
work: the estimate :func:`estimate_memory` exceeds ``max_memory_mb``; deterministic, so kept);
``error``: a phase raised — :class:`RealRunError` naming the phase, the exception and its place;
the runner stores an error row (status "error", the message in ``error``) and retries it at its
next invocation. The anytime
search stopping at ``bound_time_limit`` is its normal end above rank ~6 (``bound_status``), not an
over-budget row. Seconds per phase: ``beta_max_seconds``, ``patterns_seconds``,
``convex_seconds``, ``bound_seconds``, ``optimal_set_seconds``, ``train_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import replace

import numpy as np

from .. import __version__
from .._linalg import _svd_rank
from ..api import DEFAULT_CERTIFY_TOL, solve
from ..bounds import local_ascent, upper_bound
from ..certificate import DEFAULT_MAX_CHAMBERS, certify_with_bound
from ..correlations import max_correlation
from ..errors import InputError, check_seed
from ..objective import Problem
from ..patterns import cover_bound, iter_chambers, sample_patterns
from ..training import METHODS as TRAIN_METHODS
from ..training import train
from ..working_set import AUTO_STREAM_CHAMBERS, DEFAULT_CHUNK

__all__ = ["REAL_OPTIONS", "ROW_STATUSES", "RealRunError", "check_params", "estimate_memory",
           "run_real", "beta_max_estimate"]

#: Options of a real-data config (``[options]``, or an extra grid's ``options``), with defaults.
REAL_OPTIONS = {
    "beta_relative": True,         # the grid's beta is β/β_max (False: β itself)
    "bias": "registry",            # "registry" (the dataset's rule), true or false
    "n_train": 5,                  # gradient-trained networks per main row
    "train_method": "lbfgs-kinks",
    "train_max_iter": 3000,        # iterations of each L-BFGS run
    "max_width": 200,              # cap on the training width
    "ws_time_limit": 300.0,        # seconds of the working set (checked after a pricing pass)
    "max_add": 100,                # patterns added per working-set round
    "bound_time_limit": 20.0,      # seconds of the anytime search bound (sampled main rows)
    "search_columns": True,        # solve(bound="search"): violating chambers the search finds
                                   # join the sampled list (False: the bound only)
    "bound_starts": 2000,          # random starts of the search's incumbent heuristic ...
    "bound_ascents": 64,           # ... and chamber ascents from the best of them
    "beta_max_gates": 1000,        # gates (seed 0) of the sampled β_max estimate
    "beta_max_starts": 2000,       # starts of its chamber ascent ...
    "beta_max_ascents": 32,        # ... and ascents
    "kink_rounds": 20,             # lbfgs-kinks: manifold-identification rounds
    "beta_max_search_seconds": 10.0,
    "milp_time_limit": 30.0,       # seconds of the MILP for m*
    "max_memory_mb": 4096,         # refuse a run whose estimate is above this
    "max_stream_chambers": AUTO_STREAM_CHAMBERS,  # main rows price every chamber up to this
    "max_chambers": DEFAULT_MAX_CHAMBERS,  # chambers enumerated into memory (certificate, m*)
}
#: Values of ``row_status``.
ROW_STATUSES = ("ok", "time_limit", "round_limit", "stalled", "memory_limit", "error")
_WS_STATUS = {"converged": "ok", "time_limit": "time_limit", "round_limit": "round_limit",
              "stalled": "stalled"}
_GRID = {"dataset", "beta", "loss", "solver", "method", "samples", "width"}
#: Patterns a working set holds at most in the memory estimate (observed: ≤ 500 on iris).
_WS_PATTERNS = 500
#: Bytes per nonzero of the restricted program (cvxpy canonicalization, solver copies, KKT).
_BYTES_PER_NONZERO = 64
#: Bytes of the search's batched work arrays (:mod:`hiddenconvex._bounds_search`: 64 MB each).
_SEARCH_WORK = 6 * (1 << 26)


class RealRunError(RuntimeError):
    """A phase of a real-data row failed: the message names the phase, the exception and where
    it was raised. The batch runner records the row with status "error" (no metrics) and retries
    it at its next invocation, so a bug fixed since then needs no ``--force``."""


def _options(params: dict) -> dict:
    unknown = sorted(set(params) - _GRID - set(REAL_OPTIONS))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(map(repr, unknown))} of the real-data "
                         f"task; known: {', '.join(REAL_OPTIONS)}")
    opts = {**REAL_OPTIONS, **{k: params[k] for k in REAL_OPTIONS if k in params}}
    if params.get("method") not in ("auto", "sample"):
        raise InputError(f"method must be 'auto' (main row) or 'sample' (sampling sweep row) for "
                         f"the real-data task, got {params.get('method')!r}")
    if opts["bias"] not in ("registry", True, False):
        raise InputError(f"option bias must be \"registry\", true or false, got {opts['bias']!r}")
    for key in ("beta_relative", "search_columns"):
        if not isinstance(opts[key], bool):
            raise InputError(f"option {key} must be true or false, got {opts[key]!r}")
    if opts["train_method"] not in TRAIN_METHODS:
        raise InputError(f"train_method must be one of {', '.join(TRAIN_METHODS)}, got "
                         f"{opts['train_method']!r}")
    for key in ("n_train", "train_max_iter", "max_width", "max_add", "bound_starts",
                "bound_ascents", "beta_max_gates", "beta_max_starts", "beta_max_ascents",
                "kink_rounds", "max_memory_mb", "max_stream_chambers", "max_chambers"):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"option {key} must be an integer >= 1, got {v!r}")
    for key in ("ws_time_limit", "bound_time_limit", "beta_max_search_seconds",
                "milp_time_limit"):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or v <= 0:
            raise InputError(f"option {key} must be a number of seconds > 0, got {v!r}")
    if params.get("method") == "sample" and int(params.get("samples", 0)) < 1:
        raise InputError("a sampling row (method = 'sample') needs samples >= 1")
    return opts


def _load(params: dict, opts: dict):
    from .datasets import load_dataset

    bias = None if opts["bias"] == "registry" else bool(opts["bias"])
    data = load_dataset(params["dataset"], bias=bias)
    problem = Problem.create(data.X, data.y, 1.0, params["loss"])  # β is set once β_max is known
    return data, problem


def check_params(params: dict) -> None:
    """Validate one run's parameters before any work (called by ``scripts/run_batch.py``): the
    options, the dataset and that its labels fit the loss."""
    _load(params, _options(params))


def _hash(params: dict) -> str:
    key = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


# ---------------------------------------------------------------------------------- memory


def estimate_memory(n: int, d: int, rank: int, *, samples: int, enumerable: bool,
                    in_memory_chambers: int, width: int, max_open: int, gates: int) -> int:
    """Estimated peak bytes of one row (an estimate, not a measurement; documented terms).

    Data copies 32·n·d; sampled patterns and β_max gates (n + 8d) bytes each, twice (a Fortran
    copy); a pricing chunk 3·(n + 8d)·chunk; the restricted program 2·w·n·d nonzeros (w =
    min(patterns, 500) working-set patterns, at most n facet rows each) at 64 bytes each; chambers
    held in memory (the optimal set, the certificate of a small arrangement) 4·(n + 8d) each; the
    search queue ``max_open``·(8r² + 8r + 200) plus its work arrays (384 MB; only with
    ``max_open`` > 0); training 80·n·width.
    """
    per_pattern = n + 8 * d
    chunk = DEFAULT_CHUNK if enumerable else min(samples, DEFAULT_CHUNK)
    w = min(_WS_PATTERNS, samples if not enumerable else _WS_PATTERNS)
    return int(32 * n * d + 2 * (samples + gates) * per_pattern + 3 * per_pattern * chunk
               + _BYTES_PER_NONZERO * 2 * w * n * d + 4 * per_pattern * in_memory_chambers
               + (max_open * (8 * rank * rank + 8 * rank + 200) + _SEARCH_WORK if max_open else 0)
               + 80 * n * width)


def _max_open(rank: int, budget: int) -> int:
    """Search queue cap: a quarter of the memory budget, at most the search's default 10⁶."""
    return int(max(1000, min(1_000_000, budget // 4 // (8 * rank * rank + 8 * rank + 200))))


# ---------------------------------------------------------------------------------- β_max


def beta_max_estimate(problem: Problem, enumerable: bool, *, gates: int, starts: int,
                      ascents: int, search_seconds: float) -> dict:
    """β_max = M(−∇ℓ(0)) and how it was obtained (module docstring, item 1).

    Returns
    -------
    dict
        ``beta_max`` (the value β is scaled from), ``beta_max_method`` (``chambers``,
        ``search`` or ``sampled``), ``beta_max_upper`` (a valid upper bound on the true β_max),
        ``beta_max_lower_gates`` / ``beta_max_lower_ascent`` (the two lower estimates, sampled
        only), ``beta_max_search_status``.
    """
    X = problem.X
    lam0 = problem.loss.dual_point(np.zeros(problem.n), problem.y)
    if enumerable:
        value = float(max_correlation(X, lam0, iter_chambers(X, DEFAULT_CHUNK)))
        return {"beta_max": value, "beta_max_method": "chambers", "beta_max_upper": value}
    by_gates = float(max_correlation(X, lam0, sample_patterns(X, gates, 0)))
    u, by_ascent, _ = local_ascent(X, lam0, n_starts=starts, n_ascents=ascents, seed=0)
    lower = max(by_gates, float(by_ascent))
    res = upper_bound(X, lam0, time_limit=search_seconds, seed=0, n_starts=64, n_ascents=8,
                      starts=u[None, :] if np.any(u) else None)
    out = {"beta_max_lower_gates": by_gates, "beta_max_lower_ascent": float(by_ascent),
           "beta_max_upper": float(res.upper), "beta_max_search_status": res.status}
    if res.status == "exact":  # the queue emptied: res.best = M up to rtol and the margin
        out.update(beta_max=max(lower, float(res.best)), beta_max_method="search")
    else:
        out.update(beta_max=lower, beta_max_method="sampled")
    return out


# ---------------------------------------------------------------------------------- phases


def _search_bound(res, time_limit: float, seed: int, starts: int, ascents: int,
                  max_open: int):
    """Certified lower bound of a sampled solve from the anytime search at its dual point (the
    computation of ``solve(bound="search")``; the search is asked for one violator so that a
    violating direction found on the way is kept)."""
    sol, problem = res.solution, res.problem
    target = problem.beta * (1.0 + DEFAULT_CERTIFY_TOL)
    b = upper_bound(problem.X, sol.dual, time_limit=time_limit, seed=seed, target=target,
                    max_violators=1, n_starts=starts, n_ascents=ascents, max_open=max_open)
    old = sol.certificate
    cert = certify_with_bound(problem, sol.yhat, sol.objective, sol.dual, b.upper,
                              m_source="search", tol=DEFAULT_CERTIFY_TOL,
                              M_patterns=None if old is None else old.M_patterns,
                              dual_source=sol.dual_source)
    res.solution = replace(sol, certificate=cert)
    res.search = b
    return b


def _train(problem: Problem, width: int, seeds: list[int], opts: dict) -> dict:
    extra = {"kink_rounds": opts["kink_rounds"]} if opts["train_method"] == "lbfgs-kinks" else {}
    nets = [train(problem, width, method=opts["train_method"], seed=s,
                  max_iter=opts["train_max_iter"], **extra) for s in seeds]
    values = [float(r.objective.total) for r in nets]
    best = int(np.argmin(values))
    return {"train_objectives": values, "best_train_objective": values[best],
            "best_train_seed": seeds[best], "train_converged": [r.converged for r in nets],
            "train_iterations": [r.iterations for r in nets]}


def _where(exc: BaseException) -> str:
    """One line: the exception, its message and the innermost frame (file:line)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    at = ""
    if frames:
        path = frames[-1].filename.replace("\\", "/")
        at = f" ({path[path.rfind('hiddenconvex/'):] if 'hiddenconvex/' in path else path}:" \
             f"{frames[-1].lineno})"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}{at}"


def _rel(value, ref):
    if value is None or ref is None or not math.isfinite(ref):
        return None
    return (value - ref) / abs(ref) if ref != 0 else (0.0 if value == ref else math.inf)


# ---------------------------------------------------------------------------------- the task


def run_real(params: dict, seed: int) -> dict:
    """Batch task of the real-data experiment: one row (module docstring).

    ``params``: ``dataset``, ``beta`` (β/β_max when ``beta_relative``), ``loss``, ``solver``,
    ``method`` (``auto`` = main row, ``sample`` = sweep row), ``samples`` (gates of a sampled
    solve), ``width`` (the smallest training width) and any of :data:`REAL_OPTIONS`. ``seed``
    seeds the gates and, as ``seed·n_train + j``, the training.
    """
    seed = check_seed(seed)
    opts = _options(params)
    t_start = time.perf_counter()
    data, problem = _load(params, opts)
    X = problem.X
    n, d = X.shape
    rank = _svd_rank(X)
    cover = float(cover_bound(X))
    main = params["method"] == "auto"
    arrangement = cover <= opts["max_stream_chambers"]  # β_max over all chambers, every row
    enumerable = main and arrangement  # the main row solves over all chambers
    samples = 0 if enumerable else int(params["samples"])
    if not enumerable and samples < 1:
        raise InputError(f"{params['dataset']}: the arrangement is not enumerable (Cover's bound "
                         f"{cover:.3g}); set samples >= 1")
    # chambers held in memory: the optimal set and the certificate of a sampled list enumerate
    # them up to max_chambers
    in_memory = int(cover) if cover <= opts["max_chambers"] else 0
    budget = int(opts["max_memory_mb"]) << 20
    max_open = _max_open(rank, budget)
    width_cap = int(opts["max_width"])
    est = estimate_memory(n, d, rank, samples=samples, enumerable=arrangement,
                          in_memory_chambers=in_memory, width=width_cap if main else 0,
                          max_open=max_open if main and not enumerable else 0,
                          gates=int(opts["beta_max_gates"]))
    row: dict = {
        "role": "main" if main else "sweep", "data_bias": bool(data.meta.get("bias")),
        "n": n, "d": d, "rank": rank, "cover_bound": cover, "enumerable": enumerable,
        "memory_estimate_mb": est / 2**20,
        "config_hash": _hash(params), "task_version": __version__,
        "row_status": "ok", "row_error": "",
    }
    if est > budget:
        row.update(row_status="memory_limit", row_error=(
            f"estimated memory {est / 2**20:.0f} MB exceeds max_memory_mb = "
            f"{opts['max_memory_mb']}; lower samples/max_width or raise max_memory_mb"),
            total_seconds=time.perf_counter() - t_start)
        return row

    phase = "beta_max"
    try:
        t0 = time.perf_counter()
        bm = beta_max_estimate(problem, arrangement, gates=int(opts["beta_max_gates"]),
                               starts=int(opts["beta_max_starts"]),
                               ascents=int(opts["beta_max_ascents"]),
                               search_seconds=float(opts["beta_max_search_seconds"]))
        row.update(bm, beta_max_seconds=time.perf_counter() - t0)
        ratio = float(params["beta"])
        beta = ratio * bm["beta_max"] if opts["beta_relative"] else ratio
        if not beta > 0:
            raise InputError(f"beta_max = {bm['beta_max']:g}: the zero network is optimal for "
                             "every beta > 0 (labels orthogonal to every ReLU feature)")
        row.update(beta_value=beta, beta_ratio=beta / bm["beta_max"],
                   beta_ratio_min=beta / bm["beta_max_upper"])
        problem = problem.with_beta(beta)

        phase = "convex"
        ws_opts = {"time_limit": float(opts["ws_time_limit"]), "max_add": int(opts["max_add"])}
        btl = float(opts["bound_time_limit"])
        common = dict(solver=params["solver"], strategy="working-set",
                      seed=seed, max_chambers=int(opts["max_chambers"]),
                      working_set_options=ws_opts, bias=row["data_bias"],
                      optimal_set_options={"milp_time_limit": float(opts["milp_time_limit"])})
        res = None
        if enumerable:
            res = solve(problem, patterns="auto", bound="enumerate", **common)
            row["patterns_seconds"] = res.seconds.get("patterns_seconds", 0.0)
        else:
            t0 = time.perf_counter()
            P = sample_patterns(X, samples, seed)
            row["patterns_seconds"] = time.perf_counter() - t0
            if main and opts["search_columns"]:
                try:  # the search's violating chambers join the list; then the search bound
                    res = solve(problem, patterns=P, bound="search", bound_time_limit=btl,
                                **common)
                except ArithmeticError as exc:  # facets.facet_rows' ZeroDivisionError on some
                    # search-column chambers (reported): the sampled list alone, the bound below
                    row["bound_fallback"] = (f"solve(bound='search') raised {_where(exc)}; "
                                             "sampled list without search columns")
            if res is None:
                res = solve(problem, patterns=P, bound="enumerate", **common)
        ws = res.working_set
        for key in ("ws_search_rounds", "ws_search_columns"):
            if key in res.seconds:
                row[key] = int(res.seconds[key])
        row.update(
            result="certified" if res.certified else "sampled",
            n_patterns=ws.num_patterns if ws is not None else res.patterns.p,
            objective=res.objective, convex_seconds=res.seconds.get("convex_seconds"),
            ws_status=ws.status if ws is not None else "", ws_rounds=len(ws.rounds) if ws else 0,
            ws_final_size=ws.rounds[-1].working_set if ws and ws.rounds else None,
            active_blocks=int(res.solution.active_blocks().size),
            complete=res.chambers is not None or bool(res.certificate and
                                                      res.certificate.complete))
        if ws is not None:
            row["row_status"] = _WS_STATUS.get(ws.status, ws.status)
            if ws.message:
                row["ws_message"] = ws.message

        phase = "bound"
        cert = res.certificate
        if main and res.search is None and cert is not None and not cert.complete \
                and res.chambers is None:
            t0 = time.perf_counter()
            _search_bound(res, btl, seed, int(opts["bound_starts"]),
                          int(opts["bound_ascents"]), max_open)
            res.seconds["bound_seconds"] = time.perf_counter() - t0
        if res.search is not None:
            b = res.search
            row.update(bound_seconds=res.seconds.get("bound_seconds"), bound_status=b.status,
                       bound_nodes=b.nodes, correlation_upper_bound=b.upper,
                       correlation_best=b.best,
                       search_violation=bool(b.best > problem.beta * (1 + DEFAULT_CERTIFY_TOL)))
        cert = res.certificate
        row.update(certified=res.certified, lower_bound=res.lower_bound,
                   relative_gap=res.relative_gap,
                   bound_method=None if cert is None or cert.lower_bound is None
                   else cert.m_source,
                   result="certified" if res.certified else row["result"],
                   reference="certified optimum" if res.certified else "sampled objective")
        if not main:
            row["total_seconds"] = time.perf_counter() - t_start
            return row

        phase = "optimal_set"
        t0 = time.perf_counter()
        why = res.optimal_set_available
        if not why and not res.certified:  # it would be polished from a non-optimal point
            why = ("the convex solution is not certified optimal (the working set stopped on "
                   "its budget); the optimal set is built from the optimum")
        oset, why = (None, why) if why else res.try_optimal_set()
        row["optimal_set_seconds"] = time.perf_counter() - t0
        if oset is not None:
            row.update(m_star=int(oset.m_star), m_star_lower=int(oset.m_star_lower),
                       m_star_method=oset.m_star_method, unique=bool(oset.unique),
                       optimal_set_reason="")
        else:
            row.update(m_star=None, unique=None, optimal_set_reason=why)

        phase = "train"
        base = row["m_star"] if oset is not None else row["active_blocks"]
        rule = "2·m*" if oset is not None else "2·active blocks"
        width = max(int(params["width"]), 2 * int(base))
        if width > width_cap:
            width, rule = width_cap, f"{rule} capped at max_width"
        seeds = [seed * int(opts["n_train"]) + j for j in range(int(opts["n_train"]))]
        t0 = time.perf_counter()
        row.update(_train(problem, width, seeds, opts), train_width=width, train_width_rule=rule,
                   train_seeds=seeds)
        row["train_seconds"] = time.perf_counter() - t0
        best = row["best_train_objective"]
        upper = min(best, res.objective)  # every network's L_β is >= P_c
        row.update(upper_bound=upper,
                   bracket_gap=None if res.lower_bound is None else
                   -_rel(res.lower_bound, upper),
                   train_reference=row["reference"],
                   best_train_gap=_rel(best, res.objective),
                   best_train_gap_to_lower_bound=_rel(best, res.lower_bound),
                   train_below_reference=bool(best < res.objective * (1 - 1e-9))
                   and not res.certified)
    except Exception as exc:  # noqa: BLE001 - named by phase and place, the batch records it
        raise RealRunError(f"{phase}: {_where(exc)}") from exc
    row["total_seconds"] = time.perf_counter() - t_start
    return row
