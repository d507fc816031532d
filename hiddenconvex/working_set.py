r"""Column generation for the convex program (SPEC §2.1, §2.4): a working set of patterns and exact
pricing of every pattern of the full list.

The program over a pattern list :math:`\mathcal D` (all chambers, or a sampled list) uses few
blocks at its optimum. :func:`solve_working_set` solves it on a small working set
:math:`\mathcal S \subset \mathcal D` (the restricted program, :class:`ConvexProgram`), takes the
restricted dual point :math:`\lambda`, and prices every pattern of :math:`\mathcal D` exactly
(:class:`hiddenconvex.pricing.Pricer`: a block's value is :math:`\|\Pi_{C_b}(\gamma_b X^T D_b
\lambda)\|`, its reduced cost is β minus it). Patterns whose value exceeds
:math:`\beta(1 + tol)` are added (the largest first, one per direction), blocks that stayed at
zero for ``drop_after`` rounds leave, and the loop repeats. When no pattern of the list violates,
λ is dual feasible for the program over the whole list: that last pricing pass *is* the
certificate (:class:`~hiddenconvex.certificate.Certificate` over all chambers when the list is
complete), and the restricted solution is optimal for the full program.

At every round :math:`M(\lambda)` over the whole list is known exactly (a verified upper bound,
the pricing's interval), so :math:`\max_{t \in [0, \beta/M]} -\ell^*(-t\lambda)` is a valid lower
bound on the program's optimum (SPEC §2.4 step 4): a run stopped by its round or time budget
returns the best lower bound found, never an error.

The list is streamed (:class:`ChamberSource`): chunks of an in-memory :class:`Patterns`, or of
:func:`hiddenconvex.patterns.iter_chambers` when the list is every chamber, which is then never
held in memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from ._arrangement import cover_bound
from .certificate import Certificate, _best_scale, certify_with_bound
from .convex_solution import ACTIVE_BLOCK_TOL, ConvexSolution
from .errors import InputError, check_int, check_positive
from .facets import chamber_facets
from .objective import Problem
from .patterns import Patterns
from .pricing import ChamberBounds, PassPrice, Pricer, price_all
from .solvers import DEFAULT_SOLVER

__all__ = ["ChamberSource", "Round", "WorkingSetInfo", "solve_working_set", "price_list",
           "AUTO_STREAM_CHAMBERS", "AUTO_WORKING_SET_PATTERNS", "MAX_STREAM_CHAMBERS",
           "DEFAULT_SEED_GATES",
           "DEFAULT_CHUNK", "STATUSES"]

#: ``solve(patterns="auto")`` with a strategy other than ``full`` streams every chamber through
#: the working set when Cover's bound is at most this (iris 150 × 4: 1.1e6; one pricing pass
#: handles ~3e5–1e6 chambers per second).
AUTO_STREAM_CHAMBERS = 5_000_000
#: No list of more chambers (Cover's bound) is streamed: at ~1e6 chambers/s a pricing pass would
#: take hours (and the list cannot be enumerated into memory either, which refuses it up front).
MAX_STREAM_CHAMBERS = 1_000_000_000
#: ``strategy="auto"`` solves a pattern list of more than this many patterns by working set.
AUTO_WORKING_SET_PATTERNS = 1_000
#: Gates sampled (with the user's seed) for the first working set of a streamed chamber list.
DEFAULT_SEED_GATES = 300
#: Tolerance of the restricted solves while M(λ) > β(1 + COARSE_UNTIL) (see solve_working_set):
#: every solver reaches it in few iterations; the lower bound of those rounds stays valid.
COARSE_TOL = 1e-6
COARSE_UNTIL = 1e-2
#: A working-set block counts as in use (not dropped) above max(ACTIVE_BLOCK_TOL, this × the
#: solve's tolerance) times the largest block: coarse solves leave inactive blocks at ~τ.
DROP_FACTOR = 100.0
#: Default pool of candidates kept from a full pricing pass, in units of max_add: on iris
#: (β = 0.1, scripts/bench_working_set.py) 20× needed 13 full passes (84 s), 80× 7 (66 s),
#: 200× 6 (60 s), 500× 6 (59 s).
POOL_FACTOR = 200
#: Chambers per pricing chunk (bool n × chunk: 10 MB at n = 150).
DEFAULT_CHUNK = 65_536
#: Directions (unit vectors) closer than this are one column: violating chambers that share a
#: face project onto the same direction and would add the same neuron twice.
DIRECTION_DEDUP = 1e-6
#: A full pass keeps a verified bound per chamber (12 bytes: float32 bound, uint32 fingerprint,
#: :class:`hiddenconvex.pricing.ChamberBounds`) for lists of at most this many patterns (Cover's
#: bound for a stream; 1.2 GB at the limit): the next full pass projects only the chambers whose
#: bound, carried to the new λ, does not prove them below the threshold.
REUSE_MAX_CHAMBERS = 100_000_000
#: A streamed chamber list is recorded during its first complete pass, bit-packed (⌈n/8⌉ bytes
#: per chamber plus 8·d for its witness), when that takes at most this many bytes; later passes
#: replay the record instead of enumerating again (iris 150 × 4: 55 MB, about 2 s saved per
#: pass). Larger lists are streamed every pass.
REPLAY_MAX_BYTES = 512 << 20


# --------------------------------------------------------------------------------------------------
# The pattern list, in chunks


@dataclass(frozen=True)
class ChamberSource:
    """A pattern list read in chunks: an in-memory :class:`Patterns` or a chunk generator.

    Attributes
    ----------
    chunks : callable
        ``chunks()`` returns a fresh iterator of ``(D, witnesses)`` (D bool (n, c), witnesses
        (c, d)); every call yields the same list.
    complete : bool
        The list is every chamber of X (then a clean pricing pass certifies over all chambers).
    count : int or None
        Number of patterns, when known before a pass.
    description : str
        For messages and records (``"all chambers (stream)"``, ``"3529 sampled patterns"``).
    """

    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]
    complete: bool
    count: int | None
    description: str

    @classmethod
    def from_patterns(cls, patterns: Patterns, chunk: int = DEFAULT_CHUNK) -> ChamberSource:
        chunk = check_int(chunk, "chunk", minimum=1)
        D = np.asfortranarray(patterns.D)
        W = patterns.witnesses

        def chunks():
            for a in range(0, patterns.p, chunk):
                yield D[:, a:a + chunk], W[a:a + chunk]

        complete = bool(patterns.complete and patterns.pattern_set == "chamber")
        what = "chambers (all)" if complete else f"{patterns.method} patterns"
        return cls(chunks, complete, patterns.p, f"{patterns.p} {what}")

    @classmethod
    def all_chambers(cls, X, chunk: int = DEFAULT_CHUNK,
                     replay_bytes: int = REPLAY_MAX_BYTES) -> ChamberSource:
        """Every chamber of X, streamed by :func:`hiddenconvex.patterns.iter_chambers`; the
        first complete pass is recorded (bit-packed) and replayed by the later ones while the
        record fits in ``replay_bytes`` (:data:`REPLAY_MAX_BYTES`; 0 streams every pass).
        Replayed chunks are those of the stream, in its order."""
        from .patterns import iter_chambers

        chunk = check_int(chunk, "chunk", minimum=1)
        replay_bytes = check_int(replay_bytes, "replay_bytes", minimum=0)
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        per_chamber = (n + 7) // 8 + 8 * d
        record: dict = {}

        def chunks():
            if "chunks" in record:  # replay
                for P, W in record["chunks"]:
                    D = np.unpackbits(P, axis=1, count=n).view(bool).T  # (n, c) Fortran
                    yield D, W
                return
            kept: list | None = [] if replay_bytes > 0 else None
            size = 0
            for D, W in iter_chambers(X, chunk):
                if kept is not None:
                    size += per_chamber * D.shape[1]
                    if size > replay_bytes:
                        kept = None  # too large: stream every pass
                    else:
                        kept.append((np.packbits(D.T, axis=1), np.array(W)))
                yield D, W
            if kept is not None:  # reached only when the pass was complete
                record["chunks"] = kept

        return cls(chunks, True, None, "all chambers (streamed)")


# --------------------------------------------------------------------------------------------------
# One pricing pass


def price_list(pricer, lam, source: ChamberSource, threshold: float, *,
               keep: int | None = None, reference: ChamberBounds | None = None,
               record: bool = False) -> PassPrice:
    r"""Price every pattern of ``source`` at ``lam``; keep the ``keep`` largest violators
    (:func:`hiddenconvex.pricing.price_all` over the source's chunks).

    ``max_upper`` is a verified upper bound on :math:`M(\lambda)` over the whole list (the exact
    value up to the pricing's verified interval when a violator exists, else ≤ ``threshold``);
    with ``keep`` the pricer stops blocks that provably cannot enter the top ``keep`` early (the
    kept ones, and M, stay exact; the violator count becomes a lower bound). ``reference`` and
    ``record``: per-chamber bounds of an earlier pass over the same list, which spare the
    projection of every chamber they prove below the threshold (:class:`ChamberBounds`).
    """
    return price_all(pricer, lam, source.chunks(), threshold, top_k=keep, reference=reference,
                     record=record)


# --------------------------------------------------------------------------------------------------
# The loop


@dataclass(frozen=True)
class Round:
    """One round of the working-set loop (a row of ``WorkingSetInfo.rounds``)."""

    index: int
    working_set: int  # patterns in the restricted program
    active: int  # active blocks at its optimum
    objective: float  # the restricted optimum (an upper bound on the full optimum)
    pricing: str  # "full" (every pattern of the list) or "pool" (the last full pass's violators)
    M: float  # verified upper bound on M(λ) over the whole list (NaN after a pool pass)
    lower_bound: float  # the best valid lower bound so far (λ scaled to dual feasibility)
    violators: int  # violating blocks found (a lower bound on their number with top-k pricing)
    added: int
    dropped: int
    solve_seconds: float
    pricing_seconds: float
    counts: dict = field(default_factory=dict)

    def to_record(self) -> dict:
        return {"round": self.index, "working_set": self.working_set, "active": self.active,
                "objective": self.objective, "pricing": self.pricing,
                "max_correlation": self.M,
                "lower_bound": self.lower_bound, "violators": self.violators,
                "added": self.added, "dropped": self.dropped,
                "solve_seconds": self.solve_seconds, "pricing_seconds": self.pricing_seconds,
                **{f"priced_{k}": v for k, v in self.counts.items()}}


#: How a working-set run ended.
STATUSES = ("converged", "round_limit", "time_limit", "stalled")


@dataclass(frozen=True)
class WorkingSetInfo:
    """What the loop did: status, rounds, totals per phase, the best lower bound."""

    status: str
    rounds: tuple[Round, ...]
    source: str
    num_patterns: int
    best_lower_bound: float
    seconds: dict
    message: str = ""

    def to_record(self) -> dict:
        last = self.rounds[-1] if self.rounds else None
        return {
            "ws_status": self.status, "ws_rounds": len(self.rounds), "ws_source": self.source,
            "ws_patterns_priced": self.num_patterns,
            "ws_final_size": None if last is None else last.working_set,
            "ws_best_lower_bound": self.best_lower_bound,
            "ws_added": sum(r.added for r in self.rounds),
            "ws_dropped": sum(r.dropped for r in self.rounds),
            **{f"ws_{k}_seconds": v for k, v in self.seconds.items()},
            "ws_message": self.message,
        }


def _keys(D: np.ndarray) -> list[bytes]:
    return [np.packbits(D[:, k]).tobytes() for k in range(D.shape[1])]


class _WorkingSet:
    """The patterns of the restricted program, their facet rows (computed once per pattern when
    it enters) and how many rounds each has been at zero."""

    def __init__(self, X: np.ndarray, rank: int, pattern_set: str):
        self.X, self.rank, self.pattern_set = X, rank, pattern_set
        self.keys: list[bytes] = []
        self.D = np.zeros((X.shape[0], 0), dtype=bool)
        self.W = np.zeros((0, X.shape[1]))
        self.F = np.zeros((X.shape[0], 0), dtype=bool)
        self.zero_rounds = np.zeros(0, dtype=np.int64)
        self.index: dict[bytes, int] = {}
        self.facet_seconds = 0.0

    @property
    def size(self) -> int:
        return len(self.keys)

    def add(self, D: np.ndarray, W: np.ndarray) -> int:
        new, new_keys, seen = [], [], set(self.index)
        for k, key in enumerate(_keys(D)):
            if key not in seen and D[:, k].any():  # the zero pattern has zero fit
                seen.add(key)
                new.append(k)
                new_keys.append(key)
        if not new:
            return 0
        Dn, Wn = np.asfortranarray(D[:, new]), W[new]
        t0 = time.perf_counter()
        Fn = chamber_facets(self.X, self._patterns(Dn, Wn))
        self.facet_seconds += time.perf_counter() - t0
        self.D = np.concatenate([self.D, Dn], axis=1)
        self.W = np.concatenate([self.W, Wn])
        self.F = np.concatenate([self.F, Fn], axis=1)
        self.zero_rounds = np.concatenate([self.zero_rounds, np.zeros(len(new), np.int64)])
        self.keys += new_keys
        self.index = {key: i for i, key in enumerate(self.keys)}
        return len(new)

    def drop(self, mask: np.ndarray) -> int:
        keep = ~mask
        self.D, self.W, self.F = self.D[:, keep], self.W[keep], self.F[:, keep]
        self.zero_rounds = self.zero_rounds[keep]
        self.keys = [k for k, m in zip(self.keys, mask, strict=True) if not m]
        self.index = {key: i for i, key in enumerate(self.keys)}
        return int(mask.sum())

    def _patterns(self, D=None, W=None) -> Patterns:
        return Patterns(D=self.D if D is None else D, witnesses=self.W if W is None else W,
                        method="working-set", complete=False, rank=self.rank,
                        pattern_set=self.pattern_set)

    def patterns(self) -> Patterns:
        return self._patterns()


def _dedupe(passed: PassPrice, limit: int) -> np.ndarray:
    """Indices of the first violator of each direction (largest value first), at most ``limit``."""
    if passed.violator_values.size == 0:
        return np.zeros(0, dtype=np.intp)
    q = np.round(passed.directions / DIRECTION_DEDUP).astype(np.int64)
    _, first = np.unique(q, axis=0, return_index=True)
    return np.sort(first)[:limit]


def _pool_source(pool: PassPrice) -> ChamberSource:
    D, W = np.asfortranarray(pool.patterns), pool.witnesses
    return ChamberSource(lambda: iter([(D, W)]), False, D.shape[1], "pool")


def _seed_from(source: ChamberSource, seed_patterns: Patterns | None, pricer, lam0, beta,
               limit: int) -> tuple[np.ndarray, np.ndarray, PassPrice | None]:
    """The first working set: ``seed_patterns``, or the best ``limit`` patterns at λ0 = −∇ℓ(0)."""
    if seed_patterns is not None:
        return seed_patterns.D, seed_patterns.witnesses, None
    passed = price_list(pricer, lam0, source, 0.0, keep=20 * limit)
    pick = _dedupe(passed, limit)
    return passed.patterns[:, pick], passed.witnesses[pick], passed


def solve_working_set(problem: Problem, source: ChamberSource, *,
                      seed_patterns: Patterns | None = None, solver: str = DEFAULT_SOLVER,
                      tol: float | None = None, max_iters: int | None = None,
                      options: dict | None = None, certify_tol: float = 1e-6,
                      max_rounds: int = 200, time_limit: float | None = None,
                      max_add: int = 100, pool_size: int | None = None, drop_after: int = 3,
                      reuse_bounds: bool = True,
                      callback: Callable[[Round], None] | None = None,
                      ) -> tuple[ConvexSolution, WorkingSetInfo]:
    r"""Solve the program over the list ``source`` by column generation (module docstring).

    Parameters
    ----------
    problem : Problem
    source : ChamberSource
        The full pattern list (all chambers, streamed, or an in-memory list).
    seed_patterns : Patterns, optional
        The first working set (e.g. the patterns of sampled gates, of a trained net, or of the
        previous β of a path). Default: the ``max_add`` best patterns at λ = −∇ℓ(0).
    solver, tol, max_iters, options
        Of the restricted solves (:meth:`ConvexProgram.solve`).
    certify_tol : float
        Converged when :math:`M(\lambda) \le \beta(1 + tol)` over the whole list.
    max_rounds : int
        Round budget (each round = one restricted solve and one pricing pass).
    time_limit : float, optional
        Seconds; checked after each pricing pass.
    max_add : int
        Most new patterns per round (one per direction, the largest values first).
    pool_size : int, optional
        Violators kept from each full pricing pass (default ``POOL_FACTOR * max_add``); the
        following rounds price only them (partial pricing, microseconds per pattern) until none
        of them violates, and only then the whole list again. The last round is always a full pass.
    drop_after : int
        A pattern both of whose blocks were inactive this many consecutive rounds leaves.
    reuse_bounds : bool
        Keep each full pass's verified per-chamber bounds (12 bytes per pattern, for lists of at
        most :data:`REUSE_MAX_CHAMBERS`); the next full pass projects only the patterns they do
        not prove below the threshold. The results are the same; ``False`` saves the memory.
    callback : callable, optional
        Called with each :class:`Round` (progress bars live at the edge, not here).

    Returns
    -------
    solution : ConvexSolution
        The last restricted solution, on the working set, with the certificate of the last
        pricing pass (``m_source="chambers"`` over all chambers when the list is complete).
    info : WorkingSetInfo
    """
    from .convex_program import ConvexProgram  # deferred: cvxpy is imported only to solve

    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    max_rounds = check_int(max_rounds, "max_rounds", minimum=1)
    max_add = check_int(max_add, "max_add", minimum=1)
    drop_after = check_int(drop_after, "drop_after", minimum=1)
    pool_size = POOL_FACTOR * max_add if pool_size is None else \
        check_int(pool_size, "pool_size", minimum=max_add)
    if time_limit is not None:
        time_limit = check_positive(time_limit, "time_limit")
    t_start = time.perf_counter()
    X, beta = problem.X, problem.beta
    pricer = Pricer(X)
    threshold = beta * (1.0 + certify_tol)
    lam0 = problem.loss.dual_point(np.zeros(problem.n), problem.y)
    rank = pricer.rank
    ws = _WorkingSet(X, rank, "chamber")
    D0, W0, first = _seed_from(source, seed_patterns, pricer, lam0, beta, max_add)
    ws.add(D0, W0)
    pricing_s = 0.0 if first is None else first.seconds["total"]
    solve_s = 0.0
    rounds: list[Round] = []
    best_lb, best = -math.inf, None
    status, message = "round_limit", ""
    sol = None
    if ws.size == 0:  # no pattern has a nonzero fit: W = 0 is the only point
        ws.add(np.ones((problem.n, 1), dtype=bool), np.zeros((1, problem.d)))
    # far from the optimum λ only has to point at the right columns: restricted solves at a coarse
    # tolerance until M(λ) <= β(1 + COARSE_UNTIL); never when the caller fixed a tolerance or
    # options, and the certificate always comes from a solve at the caller's tolerance
    coarse = tol is None and not options
    pool: PassPrice | None = first  # the last full pass's violators, priced first
    size = source.count if source.count is not None else \
        (cover_bound(X) if source.complete else None)
    record = bool(reuse_bounds) and size is not None and size <= REUSE_MAX_CHAMBERS
    bounds = None  # the last full pass's per-chamber bounds (reuse_bounds)

    def full_pass(lam):
        nonlocal bounds
        out = price_list(pricer, lam, source, threshold, keep=pool_size, reference=bounds,
                         record=record)
        bounds = out.bounds if record else None
        return out

    for r in range(max_rounds):
        t0 = time.perf_counter()
        program = ConvexProgram(problem, ws.patterns(), facets=ws.F, max_chambers=0)
        was_coarse = coarse
        sol = program.solve(solver=solver, tol=COARSE_TOL if coarse else tol,
                            max_iters=max_iters, certify=False, options=options)
        t1 = time.perf_counter()
        solve_s += t1 - t0
        p = ws.size
        # an interior-point solve at tolerance τ leaves inactive blocks at ~τ relative, not 0: a
        # block counts as in use above max(ACTIVE_BLOCK_TOL, DROP_FACTOR·τ) of the largest one
        active = np.zeros(p, dtype=bool)
        active[sol.active_blocks(max(ACTIVE_BLOCK_TOL, DROP_FACTOR * sol.tol)) % p] = True
        ws.zero_rounds = np.where(active, 0, ws.zero_rounds + 1)
        lam = sol.dual
        kind, added = "full", 0
        if pool is not None and pool.violator_values.size:  # partial pricing: the pool first
            passed = price_list(pricer, lam, _pool_source(pool), threshold)
            pricing_s += passed.seconds["total"]
            if passed.violator_values.size:
                pick = _dedupe(passed, max_add)
                added = ws.add(passed.patterns[:, pick], passed.witnesses[pick])
            kind = "pool" if added else "full"
        if kind == "full":  # every pattern of the list: the certificate (or the next pool)
            passed = full_pass(lam)
            pricing_s += passed.seconds["total"]
            lb = _list_bound(problem, lam, passed.max_upper)
            dual_source = sol.dual_source
            if passed.violator_values.size and sol.solver_dual is not None and \
                    sol.solver_dual is not lam and \
                    passed.max_upper <= beta * (1 + 100 * certify_tol):
                # nearly feasible: the solver's multiplier is dual feasible to the solver
                # tolerance and may certify where −∇ℓ(ŷ) (error ~ sqrt(gap)) does not
                alt = full_pass(sol.solver_dual)
                pricing_s += alt.seconds["total"]
                alt_lb = _list_bound(problem, sol.solver_dual, alt.max_upper)
                if alt.violator_values.size == 0 or alt_lb > lb:
                    passed, lb, lam, dual_source = alt, alt_lb, sol.solver_dual, "solver"
            if lb > best_lb:
                best_lb, best = lb, (lam, passed, dual_source)
            pool = passed
            if passed.violator_values.size:
                pick = _dedupe(passed, max_add)
                added = ws.add(passed.patterns[:, pick], passed.witnesses[pick])
        dropped = 0
        stale = ws.zero_rounds[:p] >= drop_after
        if stale.any() and added:
            mask = np.zeros(ws.size, dtype=bool)
            mask[:p] = stale
            dropped = ws.drop(mask)
        rec = Round(r, p, int(sol.active_blocks().size),
                    float(sol.objective.total), kind,
                    passed.max_upper if kind == "full" else math.nan, float(best_lb),
                    int(passed.counts.get("violators", passed.violator_values.size)), added,
                    dropped,
                    t1 - t0, passed.seconds["total"], dict(passed.counts))
        rounds.append(rec)
        if callback is not None:
            callback(rec)
        if kind == "full" and coarse and passed.max_upper <= beta * (1.0 + COARSE_UNTIL):
            coarse = False  # near the optimum: the remaining rounds solve at the solver's tol
            if passed.violator_values.size == 0:
                continue  # no violator at the coarse λ: one more solve, at full accuracy
        if kind == "full" and passed.violator_values.size == 0:
            status = "converged"
            break
        if added == 0 and was_coarse:  # the coarse solve cannot separate the rest: refine it
            coarse = False
            continue
        if added == 0:
            status = "stalled"
            message = (f"every violating pattern is already in the working set (M = "
                       f"{passed.max_upper:.10g} > beta(1 + tol) = {threshold:.10g}): the "
                       "restricted solve is not accurate enough to certify; tighten the solver "
                       "tolerance")
            break
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            status = "time_limit"
            break
    else:
        status = "round_limit"
    if status != "converged":
        if best is None:  # only pool passes so far: price the whole list once for the bound
            passed = full_pass(sol.dual)
            pricing_s += passed.seconds["total"]
            best_lb = _list_bound(problem, sol.dual, passed.max_upper)
            best = (sol.dual, passed, sol.dual_source)
        message = message or (f"stopped by the {status.replace('_', ' ')} after {len(rounds)} "
                              f"rounds: M = {best[1].max_upper:.6g} > beta = {beta:.6g} at the "
                              f"best dual point; the best lower bound is {best_lb:.10g}")
        lam, passed, dual_source = best
    final = _certificate(problem, sol, lam, passed, source, certify_tol, dual_source)
    if final is not None and message:
        final = replace(final, reasons=tuple(final.reasons) + (message,))
    total = time.perf_counter() - t_start
    info = WorkingSetInfo(status, tuple(rounds), source.description,
                          passed.counts["priced"], best_lb,
                          {"solve": solve_s, "pricing": pricing_s, "facets": ws.facet_seconds,
                           "total": total}, message)
    warnings = tuple(sol.warnings) + ((message,) if message else ())
    return replace(sol, certificate=final, warnings=warnings), info


def _certificate(problem, sol, lam, passed: PassPrice, source: ChamberSource, tol: float,
                 dual_source: str) -> Certificate | None:
    """The certificate of λ from a pricing pass over all chambers (M a verified upper bound), or
    None when the list is not every chamber (then the pass proves optimality over the list only,
    and :func:`hiddenconvex.certificate.certify` decides about the global optimum)."""
    if not source.complete:
        return None
    return certify_with_bound(problem, sol.yhat, sol.objective, lam, passed.max_upper,
                              m_source="chambers", tol=tol, num_chambers=passed.counts["priced"],
                              M_patterns=passed.max_upper, dual_source=dual_source)


def _list_bound(problem, lam, M: float) -> float:
    """max_{t ∈ [0, β/M]} −ℓ*(−tλ): a lower bound on the optimum of the program over the list
    priced (SPEC §2.4 step 4)."""
    return _best_scale(problem.loss, lam, problem.y, M, problem.beta)[1]
