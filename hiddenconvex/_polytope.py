r"""The candidates and the polytope :math:`\mathcal P = \{a \ge 0 : Za = \hat y^*\}` (SPEC §4.7).

* Candidates: the equicorrelated blocks E at a dual point λ, deduplicated by (γ_b, s_b) into the
  columns :math:`z_k = \gamma_k\sigma(Xs_k)` of ``Z`` (:func:`_candidates`).
* LP maxima :math:`\max_{a\in\mathcal P} a_k` (:func:`_lp_max`; the active candidates and the exact
  big-M of the MILP), the points of 𝒫 on a support (:func:`_support_solution`,
  :func:`_vertex_on_support`), the vertices by brute force over supports
  (:func:`_enumerate_vertices`).
* m* = the minimum support size over 𝒫, bounded above by pruning a point of 𝒫
  (:func:`_prune_columns`) and found by support enumeration or a MILP (:func:`_m_star`).

Numerical thresholds: :mod:`hiddenconvex.tolerances` (sections "Pruning" and "Polytope").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linprog, nnls
from scipy.sparse import csc_array

from .blocks import BlockWeights, block_gamma
from .errors import SolverError
from .network import relu
from .tolerances import (
    MILP_BIG_M_ABSOLUTE,
    MILP_BIG_M_RELATIVE,
    MILP_BOUND_ROUNDING,
    MILP_REL_GAP,
    PRUNE_NEUTRAL,
    PRUNE_TIE,
    SET_MASS_CHECK,
    SET_MASS_FLOOR,
    nnls_maxiter,
)

if TYPE_CHECKING:
    from .tolerances import Tolerances

# --------------------------------------------------------------------------------------------------
# Candidates: the columns of 𝒫


@dataclass(frozen=True)
class _Candidates:
    """Blocks equicorrelated at one dual point, deduplicated into candidate neurons."""

    corr: np.ndarray           # (2p,) block correlations ‖Π_{C_b}(γ_b X^T D_b λ)‖
    E: np.ndarray              # equicorrelated block indices
    gamma: np.ndarray          # (K,) output signs
    S: np.ndarray              # (K, d) unit directions s_k
    groups: tuple              # blocks of E merged into each candidate
    Z: np.ndarray              # (n, K) fits z_k = γ_k σ(X s_k)


def _dedupe(gamma_b, S_b, blocks,
            tol) -> tuple[np.ndarray, np.ndarray, tuple[tuple[int, ...], ...]]:
    """Merge blocks with the same sign and directions within ``tol``: (γ (K,), S (K, d), groups)."""
    reps: list[tuple[float, np.ndarray, list[int]]] = []
    for g, s, b in zip(gamma_b, S_b, blocks, strict=True):
        for g2, s2, members in reps:
            if g2 == g and np.linalg.norm(s - s2) <= tol:
                members.append(int(b))
                break
        else:
            reps.append((float(g), s, [int(b)]))
    if not reps:
        return np.zeros(0), np.zeros((0, S_b.shape[1] if S_b.ndim == 2 else 0)), ()
    return (np.array([g for g, _, _ in reps]), np.array([s for _, s, _ in reps]),
            tuple(tuple(mm) for _, _, mm in reps))


def _dedupe_fits(X, proj, corr, E, p, tol_dir):
    """Candidates (γ, S, groups, Z) of the blocks E from their cone projections ``proj`` (2p, d)."""
    S_b = proj[E] / corr[E, None] if E.size else np.zeros((0, X.shape[1]))
    gamma, S, groups = _dedupe(block_gamma(p)[E], S_b, E, tol_dir)
    Z = (relu(X @ S.T) * gamma) if gamma.size else np.zeros((X.shape[0], 0))
    return gamma, S, groups, Z


def _candidates(X, proj, p: int, beta: float, tol_E: float, tol_dir: float) -> _Candidates:
    r"""Candidates at a dual point λ from its 2p block projections ``proj`` (shape (2p, d),
    :func:`~hiddenconvex.certificate.cone_projections`): E = {b : ‖Π_b‖ >= β(1 − tol_E)}."""
    corr = np.linalg.norm(proj, axis=1)
    E = np.flatnonzero(corr >= beta * (1.0 - tol_E))
    return _Candidates(corr, E, *_dedupe_fits(X, proj, corr, E, p, tol_dir))


def _candidate_coefficients(cand: _Candidates, weights: BlockWeights) -> np.ndarray:
    """Coefficients of arbitrary (e.g. the solver's) weights on the candidates:
    a_k = Σ_b max(0, s_k·w_b) over the blocks b merged into k. Blocks outside E are dropped (zero at
    an exact optimum)."""
    a = np.zeros(cand.gamma.size)
    for k, blocks in enumerate(cand.groups):
        a[k] = sum(max(0.0, float(cand.S[k] @ weights.W[b])) for b in blocks)
    return a


# --------------------------------------------------------------------------------------------------
# Linear algebra on supports


def _svd_rank(A: np.ndarray, rel: float) -> int:
    """Number of singular values of ``A`` above ``rel · σ_max`` (0 for an empty or zero matrix)."""
    if A.size == 0:
        return 0
    sv = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(sv > rel * sv[0])) if sv[0] > 0 else 0


def _support_solution(Z: np.ndarray, yhat: np.ndarray, S, rank_tol: float):
    """(a_S, residual) for independent columns S, else None."""
    ZS = Z[:, S]
    if _svd_rank(ZS, rank_tol) < len(S):
        return None
    aS, *_ = np.linalg.lstsq(ZS, yhat, rcond=None)
    return aS, float(np.linalg.norm(ZS @ aS - yhat))


def _vertex_on_support(Z, yhat, support, rank_tol: float) -> np.ndarray:
    """The point of 𝒫 supported on ``support`` (independent columns): least squares, else NNLS."""
    a = np.zeros(Z.shape[1])
    if support.size == 0:
        return a
    sol = _support_solution(Z, yhat, list(support), rank_tol)
    aS = sol[0] if sol is not None and np.all(sol[0] >= 0) else nnls(Z[:, support], yhat)[0]
    a[support] = aS
    return a


def _prune_columns(G: np.ndarray, mags: np.ndarray, rank_tol: float,
                   neutral: float = PRUNE_NEUTRAL) -> np.ndarray:
    """Multipliers μ >= 0 with G μ = G 1 (up to the null-vector accuracy), Σ μ_b mags_b <= Σ mags_b
    (up to ``neutral · Σ mags``) and linearly independent active columns ``G[:, μ > 0]``.

    ``G`` (n, m) holds the fits of the items, ``mags`` their norms (the regularizer). Each step
    takes a null vector ``c`` of the current fits and scales item b by ``1 − c_b/c_k``,
    ``k = argmax c``; of the two orientations ±c, one with ``Σ c_b r_b >= −neutral Σ r``
    (regularizer not increased) is used, preferring the one with ``max c >= −min c`` (factors in
    [0, 2]: no amplification of rounding).
    """
    m = G.shape[1]
    mu = np.ones(m)
    for _ in range(m + 1):
        act = np.flatnonzero(mu > 0)
        if act.size == 0:
            break
        F = G[:, act] * mu[act]
        _, sv, Vt = np.linalg.svd(F, full_matrices=True)
        if act.size <= F.shape[0] and sv[-1] > rank_tol * sv[0]:
            break
        c = Vt[-1]  # a (numerical) null vector; exact when there are more columns than rows
        r = mags[act] * mu[act]
        slack = neutral * float(r.sum())
        options = [v for v in (c, -c) if v @ r >= -slack and v.max() > 0]
        c = max(options, key=lambda v: v.max() + v.min())
        k = int(np.argmax(c))
        scale = 1.0 - c / c[k]
        scale[np.abs(scale) <= PRUNE_TIE] = 0.0  # ties leave together
        scale[k] = 0.0
        mu[act] = mu[act] * np.clip(scale, 0.0, None)
    return mu


# --------------------------------------------------------------------------------------------------
# The polytope: LP maxima, vertices, m*


def _lp_max(Z: np.ndarray, yhat: np.ndarray, k: int) -> np.ndarray:
    """The maximizer of a_k over 𝒫 (HiGHS dual simplex, silent), shape (K,)."""
    K = Z.shape[1]
    c = np.zeros(K)
    c[k] = -1.0
    res = linprog(c, A_eq=Z, b_eq=yhat, bounds=[(0, None)] * K, method="highs",
                  options={"disp": False})
    if res.status != 0:
        raise SolverError(f"LP max a_{k} over the optimal polytope failed: {res.message}")
    return np.clip(res.x, 0.0, None)


def _enumerate_vertices(Z, yhat, rank_tol: float, res_tol, pos_tol):
    """All vertices of {a >= 0 : Z a = yhat}: supports with independent columns and a strictly
    positive least-squares solution that fits. Returns (vertices (V, K), supports examined)."""
    K = Z.shape[1]
    r = _svd_rank(Z, rank_tol)
    verts, checked = [], 0
    for size in range(1, r + 1):
        for S in itertools.combinations(range(K), size):
            checked += 1
            sol = _support_solution(Z, yhat, list(S), rank_tol)
            if sol is None:
                continue
            aS, res = sol
            if res <= res_tol and np.all(aS > pos_tol):
                v = np.zeros(K)
                v[list(S)] = aS
                verts.append(v)
    return (np.array(verts) if verts else np.zeros((0, K))), checked


def _m_star_enumerate(Z, yhat, upper: int, rank_tol: float, res_tol, pos_tol):
    """Smallest support size < upper whose cone contains yhat (None if none)."""
    K = Z.shape[1]
    for size in range(1, upper):
        for S in itertools.combinations(range(K), size):
            sol = _support_solution(Z, yhat, list(S), rank_tol)
            if sol is None:
                continue
            aS, res = sol
            if res <= res_tol and np.all(aS >= -pos_tol):
                a = np.zeros(K)
                a[list(S)] = np.clip(aS, 0.0, None)
                return size, a
    return None


def _highs():
    """A silent HiGHS instance (highspy, a dependency of cvxpy).

    Silenced through HiGHS's own ``output_flag`` before any other call. scipy's ``milp`` cannot be
    used: its bundled HiGHS prints debug lines ("HighsMipSolverData::transformNewIntegerFeasible
    Solution ...") with ``printf`` whatever the options. The C++ class ``_Highs`` is taken, not the
    Python subclass ``highspy.Highs``, whose constructor registers callbacks, a call that prints the
    banner before ``output_flag`` can be set (scipy's own wrapper does the same).
    """
    import highspy  # deferred: only the MILP path needs it

    h = getattr(highspy, "_Highs", highspy.Highs)()
    if h.setOptionValue("output_flag", False) != highspy.HighsStatus.kOk:
        raise SolverError("HiGHS refused the option output_flag")
    return highspy, h


def _m_star_milp(Z, yhat, U, time_limit: float, slack: float):
    """min Σ b_k s.t. |Z a − ŷ| <= slack (entrywise), 0 <= a_k <= U_k b_k, b binary (HiGHS).

    ``U_k = max_{a∈𝒫} a_k`` (from the LPs) is an exact big-M. The slack (the fit tolerance, spread
    over the n entries) absorbs the rounding of ŷ and of the dropped inactive candidates, which can
    make the exact equality infeasible for HiGHS; every support found is re-checked by least
    squares. Returns (support, proven optimal?, dual bound or None)."""
    n, K = Z.shape
    Ubig = (U * (1.0 + MILP_BIG_M_RELATIVE)
            + MILP_BIG_M_ABSOLUTE * max(float(U.max(initial=0.0)), SET_MASS_FLOOR))
    # columns: a (continuous, [0, U]), then b (integer, [0, 1]); rows: the fit, then a − U b <= 0
    A = csc_array(np.vstack([np.hstack([Z, np.zeros_like(Z)]),
                             np.hstack([np.eye(K), -np.diag(Ubig)])]))
    hs, h = _highs()
    lp = hs.HighsLp()
    lp.num_col_, lp.num_row_ = 2 * K, n + K
    lp.col_cost_ = np.concatenate([np.zeros(K), np.ones(K)])
    lp.col_lower_ = np.zeros(2 * K)
    lp.col_upper_ = np.concatenate([Ubig, np.ones(K)])
    lp.row_lower_ = np.concatenate([yhat - slack, np.full(K, -hs.kHighsInf)])
    lp.row_upper_ = np.concatenate([yhat + slack, np.zeros(K)])
    lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = 2 * K, n + K
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.integrality_ = [hs.HighsVarType.kContinuous] * K + [hs.HighsVarType.kInteger] * K
    for key, value in (("mip_rel_gap", MILP_REL_GAP), ("time_limit", float(time_limit))):
        if h.setOptionValue(key, value) != hs.HighsStatus.kOk:
            raise SolverError(f"HiGHS refused the option {key} = {value!r}")
    if h.passModel(lp) == hs.HighsStatus.kError or h.run() == hs.HighsStatus.kError:
        raise SolverError(f"MILP for m* failed: {h.modelStatusToString(h.getModelStatus())}")
    status, info = h.getModelStatus(), h.getInfo()
    stopped = status in (hs.HighsModelStatus.kTimeLimit, hs.HighsModelStatus.kIterationLimit)
    if status != hs.HighsModelStatus.kOptimal and not (
            (stopped or status == hs.HighsModelStatus.kSolutionLimit)
            and info.objective_function_value < hs.kHighsInf):
        if stopped:  # a limit before any integer solution
            return None, False, None
        raise SolverError(f"MILP for m* failed: {h.modelStatusToString(status)}")
    x = np.asarray(h.getSolution().col_value)
    bound = float(info.mip_dual_bound)
    return (np.flatnonzero(x[K:] > 0.5), status == hs.HighsModelStatus.kOptimal,
            bound if math.isfinite(bound) else None)


@dataclass(frozen=True)
class _Reference:
    """ŷ* (the reference prediction projected onto cone(Z)) and the thresholds on 𝒫."""

    yhat: np.ndarray           # (n,) ŷ*; zero when 𝒫 = {0}
    nnls: np.ndarray           # (K,) NNLS coefficients of the reference prediction
    total: float               # λ^T ŷ*/β = Σ_k a_k on 𝒫
    res_tol: float             # residual threshold of the support checks
    pos_tol: float             # a_k > pos_tol counts as positive
    zero: bool                 # β >= β_max: 𝒫 = {0}


def _reference(Z, yhat_ref, lam, beta: float, polished: bool, tol: Tolerances,
               warnings: list) -> _Reference:
    """ŷ* = Z a0, a0 = NNLS of the reference prediction ``yhat_ref`` (n,) on the candidate fits
    ``Z`` (n, K), so that 𝒫 is exactly non-empty (:class:`SolverError` when the prediction is not
    in cone(Z) to ``tol.fit``); Σa = λ^T ŷ*/β (``lam``: the dual point, (n,))."""
    K = Z.shape[1]
    if K:
        a0, res0 = nnls(Z, yhat_ref, maxiter=nnls_maxiter(K))
        yhat = Z @ a0
    else:
        a0, res0 = np.zeros(0), float(np.linalg.norm(yhat_ref))
        yhat = np.zeros(yhat_ref.size)
    if res0 > tol.fit * max(1.0, float(np.linalg.norm(yhat_ref))):
        raise SolverError(f"the optimal prediction is not in the cone of the candidate fits "
                          f"(residual {res0:.3g}); the solver is not accurate enough for the "
                          "tolerances")
    # residual threshold of the support checks (vertices, m*, pruning): ŷ* is exact to ~1e-13
    # when polished, so a support whose cone misses it by more than `tol.support` does not count
    res_tol = (tol.support if polished else tol.fit) * max(1.0, float(np.linalg.norm(yhat)))
    total = float(lam @ yhat / beta)
    pos_tol = tol.active * max(total, SET_MASS_FLOOR)
    if K and abs(a0.sum() - total) > SET_MASS_CHECK * max(1.0, total):
        warnings.append(
            f"sum of coefficients {a0.sum():.10g} != lambda^T yhat / beta = {total:.10g}"
        )
    if float(np.linalg.norm(yhat)) <= res_tol:  # beta >= beta_max: 𝒫 = {0}
        return _Reference(np.zeros(yhat.size), a0, 0.0, res_tol, pos_tol, True)
    return _Reference(yhat, a0, total, res_tol, pos_tol, False)


@dataclass(frozen=True)
class _MStar:
    """m*, a point of 𝒫 attaining it, how it was found, and a proven lower bound."""

    m_star: int
    coefficients: np.ndarray   # (K,)
    method: str                # "pruned", "unique", "enumeration", "milp", "milp_time_limit"
    lower: int


def _pruned_point(Z, yhat, a_solver, a0, rank_tol, res_tol, pos_tol) -> np.ndarray:
    """A vertex of 𝒫 (the upper bound of m*): the solver's point in candidate space, pruned to
    independent fits; NNLS's point ``a0`` instead when the solver's is too far off 𝒫."""
    def pruned(a):
        mu = _prune_columns(Z * a, a, rank_tol, neutral=np.inf)
        return _vertex_on_support(Z, yhat, np.flatnonzero(a * mu > pos_tol), rank_tol)

    a = pruned(a_solver)
    return pruned(a0) if np.linalg.norm(Z @ a - yhat) > res_tol else a


def _milp_lower(bound) -> int:
    """The proven lower bound ⌈bound⌉ >= 1 from the MILP's dual bound (1 without one)."""
    return max(1, math.ceil((bound or 1.0) - MILP_BOUND_ROUNDING))


def _m_star(Z, yhat, active, amax, a_pruned, unique: bool, rank_tol, res_tol, pos_tol, *,
            method: str, max_enumeration: int, time_limit: float, warnings: list) -> _MStar:
    """The minimum support size over 𝒫 (SPEC §4.7).

    Every point of 𝒫 vanishes off ``active``, so supports are searched among the active candidates
    only. 𝒫 a single point: its support (``active``). Otherwise the supports smaller than the pruned
    vertex ``a_pruned`` are enumerated ("auto": when at most ``max_enumeration`` subsets are needed)
    or a MILP finds the smallest one; its support is re-checked by least squares. Warnings are
    appended to ``warnings``.
    """
    K = Z.shape[1]
    upper = int(np.sum(a_pruned > pos_tol))
    if unique:  # 𝒫 is one point, supported exactly on `active`
        return _MStar(int(active.size), _vertex_on_support(Z, yhat, active, rank_tol), "unique",
                      int(active.size))
    Za = Z[:, active]
    n_sub = sum(math.comb(active.size, s) for s in range(1, upper))
    if method == "enumerate" or (method == "auto" and n_sub <= max_enumeration):
        found = _m_star_enumerate(Za, yhat, upper, rank_tol, res_tol, pos_tol)
        if found is None:
            return _MStar(upper, a_pruned, "enumeration", upper)
        a_star = np.zeros(K)
        a_star[active] = found[1]
        return _MStar(found[0], a_star, "enumeration", found[0])
    supp, proven, bound = _m_star_milp(Za, yhat, amax[active], time_limit,
                                       res_tol / np.sqrt(Z.shape[0]))
    if supp is None:
        warnings.append(f"MILP found no solution within its time limit ({time_limit:g} s): "
                        f"m_star = {upper} is the pruned upper bound")
        return _MStar(upper, a_pruned, "pruned", _milp_lower(bound))
    supp = active[supp]
    sol = _support_solution(Z, yhat, list(supp), rank_tol)
    if sol is None or sol[1] > res_tol or not np.all(sol[0] >= -pos_tol):
        warnings.append("MILP support failed the least-squares re-check; m_star is the pruned "
                        "upper bound")
        return _MStar(upper, a_pruned, "pruned", 1)
    m_star, a_star = upper, a_pruned
    if supp.size < upper:
        m_star = int(supp.size)
        a_star = np.zeros(K)
        a_star[supp] = np.clip(sol[0], 0.0, None)
    if not proven:
        warnings.append(f"MILP stopped at its time limit ({time_limit:g} s): m_star = {m_star} is "
                        f"an upper bound (MILP lower bound {bound})")
    return _MStar(m_star, a_star, "milp" if proven else "milp_time_limit",
                  m_star if proven else _milp_lower(bound))


@dataclass(frozen=True)
class _Polytope:
    """What is computed on 𝒫: LP maxima, uniqueness, the pruned vertex, m*, vertices."""

    lp_points: np.ndarray      # (K, K) row k maximizes a_k over 𝒫
    max_coefficient: np.ndarray  # (K,)
    active: np.ndarray         # candidates with a positive maximum
    unique: bool
    pruned: np.ndarray         # (K,) the pruned vertex (upper bound of m*)
    m_star: _MStar
    vertices: np.ndarray | None
    vertices_checked: int


def _polytope(Z, yhat, a_solver, a0, rank_tol: float, res_tol: float, pos_tol: float, *,
              zero: bool, vertices, max_vertex_candidates: int, m_star_method: str,
              max_enumeration: int, milp_time_limit: float, warnings: list) -> _Polytope:
    """Everything :func:`~hiddenconvex.optimal_set.optimal_set` computes on 𝒫 (``zero``: 𝒫 = {0}).

    One LP per candidate (``active``: a positive maximum), uniqueness (fits of ``active``
    independent), the pruned vertex of the solver's coefficients ``a_solver`` (else of the NNLS
    point ``a0``), m* (:func:`_m_star`) and the vertices by brute force (``vertices``: True, or
    "auto" and K <= ``max_vertex_candidates``), cross-checked. Warnings go to ``warnings``.
    """
    K = Z.shape[1]
    if zero:
        return _Polytope(np.zeros((K, K)), np.zeros(K), np.zeros(0, dtype=int), True,
                         np.zeros(K), _MStar(0, np.zeros(K), "zero", 0),
                         np.zeros((1, K)) if vertices else None, 0)
    lp_points = np.array([_lp_max(Z, yhat, k) for k in range(K)])
    amax = np.diag(lp_points).copy()
    active = np.flatnonzero(amax > pos_tol)
    unique = bool(_svd_rank(Z[:, active], rank_tol) == active.size)
    a_pruned = _pruned_point(Z, yhat, a_solver, a0, rank_tol, res_tol, pos_tol)
    ms = _m_star(Z, yhat, active, amax, a_pruned, unique, rank_tol, res_tol, pos_tol,
                 method=m_star_method, max_enumeration=max_enumeration,
                 time_limit=milp_time_limit, warnings=warnings)
    verts, checked = None, 0
    if vertices is True or (vertices == "auto" and K <= max_vertex_candidates):
        verts, checked = _enumerate_vertices(Z, yhat, rank_tol, res_tol, pos_tol)
        _cross_check(verts, unique, ms.m_star, active, warnings)
    return _Polytope(lp_points, amax, active, unique, a_pruned, ms, verts, checked)


def _cross_check(verts, unique, m_star, active, warnings) -> None:
    """Consistency of the vertex list with the LP/rank/MILP answers (recorded as warnings)."""
    if verts.shape[0] == 0:
        warnings.append("vertex enumeration found no vertex")
        return
    if (verts.shape[0] == 1) != unique:
        warnings.append(f"uniqueness test ({unique}) disagrees with the {verts.shape[0]} vertices")
    vmin = int(np.min(np.sum(verts > 0, axis=1)))
    if vmin != m_star:
        warnings.append(f"m_star = {m_star} but the smallest vertex support is {vmin}")
    union = np.flatnonzero(np.any(verts > 0, axis=0))
    if not np.array_equal(union, np.asarray(active)):
        warnings.append("active candidates (LPs) differ from the union of vertex supports")
