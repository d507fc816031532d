r"""The active-set Newton polish of the solver's (ŷ, λ) on the KKT system (SPEC §4.6).

An interior-point solver gives ŷ* and λ* = −∇ℓ(ŷ*) to about its tolerance; the equicorrelation set
E needs the correlations :math:`\|\Pi_{C_b}(\gamma_bX^TD_b\lambda)\|` far more accurately. The
polish guesses the support, solves the KKT conditions of the program restricted to it by damped
Newton (:func:`_restricted_kkt`; directions kept on their faces by :func:`_face_projector`) and
checks the result over ALL chambers, adding and dropping blocks until the KKT certificate of the
full program holds (:func:`_polish`). Only losses with a Hessian (:func:`_loss_hessian`) are
polished.

Numerical thresholds: :mod:`hiddenconvex.tolerances` (section "Polish").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import nnls
from scipy.special import expit

from ._polytope import _Candidates, _candidates, _dedupe
from .blocks import BlockWeights, block_gamma
from .errors import InputError, SolverError
from .objective import Problem
from .tolerances import (
    NEWTON_MAX_ITER,
    NEWTON_MIN_STEP,
    NEWTON_RESIDUAL,
    POLISH_CONE,
    POLISH_FACE,
    POLISH_FACE_RANK,
    POLISH_FEASIBILITY,
    POLISH_MERGE,
    POLISH_RESIDUAL,
    POLISH_ROUNDS,
    POLISH_START_SUPPORT,
    nnls_maxiter,
)

if TYPE_CHECKING:
    from .tolerances import Tolerances


def _loss_hessian(loss, z: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Diagonal of the Hessian of the loss at ``z`` (None when the loss is not twice
    differentiable)."""
    if loss.name == "squared":
        return np.ones_like(z)
    if loss.name == "logistic":
        t = y * z
        return expit(t) * expit(-t)
    return None


def _face_projector(X: np.ndarray, s: np.ndarray, face_tol: float = POLISH_FACE) -> np.ndarray:
    """Orthogonal projector onto {u : x_j^T u = 0 for the rows j with x_j^T s = 0} (the face of
    s), shape (d, d)."""
    rn = np.linalg.norm(X, axis=1)
    F = (np.abs(X @ s) <= face_tol * rn) & (rn > 0)
    d = X.shape[1]
    if not np.any(F):
        return np.eye(d)
    _, sv, Vt = np.linalg.svd(X[F], full_matrices=True)
    r = int(np.sum(sv > POLISH_FACE_RANK * sv[0]))
    N = Vt[r:].T
    return N @ N.T


def _restricted_kkt(loss, y, beta, G: list[np.ndarray], yhat0, mu0,
                    max_iter: int = NEWTON_MAX_ITER):
    r"""Solve ŷ = Σ_k μ_k G_k λ(ŷ), λ^T G_k λ = β² (k = 1..K), λ = −∇ℓ(ŷ), by damped Newton.

    These are the KKT conditions of the convex program restricted to K candidate blocks whose
    directions stay on fixed faces: with ``P_k`` the projector onto the face of ``s_k``,
    :math:`s_k = P_k\gamma_kX^TD_k\lambda/\beta`, so :math:`z_k = G_k\lambda/\beta` with
    :math:`G_k = D_kXP_kX^TD_k` (each (n, n)), and :math:`\mu_k = a_k/\beta`. Least-squares steps
    handle the singular Jacobian of non-unique optima (μ is then not unique, ŷ and λ are). Returns
    (ŷ (n,), μ (K,), residual).
    """
    n, K = yhat0.size, len(G)
    yh, mu = yhat0.astype(float).copy(), mu0.astype(float).copy()
    scale = max(1.0, float(np.linalg.norm(yhat0)))

    def residual(yh, mu):
        lam = loss.dual_point(yh, y)
        Gl = np.column_stack([g @ lam for g in G]) if K else np.zeros((n, 0))
        F = np.concatenate([(yh - Gl @ mu) / scale, 0.5 * (lam @ Gl / beta**2 - 1.0)])
        return F, Gl

    F, Gl = residual(yh, mu)
    for _ in range(max_iter):
        normF = float(np.linalg.norm(F))
        if normF <= NEWTON_RESIDUAL:
            break
        H = _loss_hessian(loss, yh, y)  # dλ/dŷ = −diag(H)
        J11 = np.eye(n) + sum((m * g for m, g in zip(mu, G, strict=True)), np.zeros((n, n))) * H
        J = np.block([[J11 / scale, -Gl / scale], [-(Gl.T * H) / beta**2, np.zeros((K, K))]])
        step = np.linalg.lstsq(J, -F, rcond=None)[0]
        t = 1.0
        while t >= NEWTON_MIN_STEP:
            yn, mn = yh + t * step[:n], mu + t * step[n:]
            Fn, Gln = residual(yn, mn)
            if np.all(np.isfinite(Fn)) and np.linalg.norm(Fn) < normF:
                break
            t *= 0.5
        else:
            break
        yh, mu, F, Gl = yn, mn, Fn, Gln
    return yh, mu, float(np.linalg.norm(F))


def _polish(problem: Problem, weights: BlockWeights, chambers, tol: Tolerances,
            start: tuple[np.ndarray, np.ndarray] | None = None,
            ) -> tuple[np.ndarray, np.ndarray, _Candidates] | None:
    r"""Refine the solver's (ŷ, λ) to near machine precision (active-set Newton on the KKT system).

    The support starts as the blocks the solver uses (``‖w_b‖ > POLISH_START_SUPPORT max‖w‖``).
    Each round takes their directions :math:`s_b = \Pi_{C_b}(\gamma_bX^TD_b\lambda)/\|\cdot\|` and
    faces at the current λ and solves the restricted KKT system (:func:`_restricted_kkt`). If it has
    no solution (a block in the support is not equicorrelated at the optimum) the candidate with
    the smallest multiplier is dropped. Otherwise the new point is kept and all 2p block
    correlations are recomputed: blocks with ``‖Π_b‖ > β(1 + POLISH_FEASIBILITY)`` are added; if
    there are none and ŷ lies in the cone of the equicorrelated fits (NNLS residual <=
    POLISH_CONE), this is the KKT certificate of the full program.

    Parameters
    ----------
    problem : Problem
    weights : BlockWeights
        The solver's blocks on the chamber list ``chambers`` (complete).
    chambers : Patterns
    tol : Tolerances
        ``polished`` (E at the polished point) and ``direction`` (merging of candidates).
    start : (array (n,), array (2p, d)), optional
        The starting prediction and the 2p block projections
        :math:`\Pi_{C_b}(\gamma_bX^TD_b\lambda)` at its dual point λ = −∇ℓ(ŷ), when the caller has
        them (the solver's ŷ, whose projections also give M(λ_solver)); default: the prediction of
        ``weights``, the same up to the rounding of the block mapping (exactly when the solver
        used ``chambers``), and its projections.

    Returns
    -------
    (ŷ (n,), λ (n,), _Candidates) or None
        The candidates are those of E at λ (threshold ``tol.polished``). None for a loss without a
        Hessian, no active block, or no success within ``POLISH_ROUNDS`` rounds (a start far from
        the optimum, e.g. an inaccurate solver answer).
    """
    from .certificate import cone_projections  # deferred: needs the solver stack

    loss, X, y, beta = problem.loss, problem.X, problem.y, problem.beta
    norms = weights.norms()
    if _loss_hessian(loss, y, y) is None or norms.max(initial=0.0) == 0.0:
        return None
    support = set(map(int, np.flatnonzero(norms > POLISH_START_SUPPORT * norms.max())))
    coef = {b: float(norms[b]) for b in support}
    if start is None:
        yh = weights.predict(X)
        proj = np.asarray(cone_projections(X, loss.dual_point(yh, y), chambers), dtype=float)
    else:
        yh, proj = start
    gamma_all = block_gamma(chambers.p)
    for rounds in range(1, POLISH_ROUNDS + 1):
        pn = np.linalg.norm(proj, axis=1)
        blocks = np.array(sorted(b for b in support if pn[b] > 0), dtype=int)
        if blocks.size == 0:
            return None
        # blocks sharing a face have one direction at the exact λ, nearby ones at the solver's:
        # merge loosely in the first round only (later rounds start from an accurate λ, and a
        # violated block added there must stay a candidate of its own)
        merge = POLISH_MERGE if rounds == 1 else tol.direction
        gamma, S, groups = _dedupe(gamma_all[blocks], proj[blocks] / pn[blocks, None], blocks,
                                   merge)
        G = []
        for k in range(gamma.size):
            DX = chambers.D[:, groups[k][0] % chambers.p][:, None] * X
            G.append(DX @ _face_projector(X, S[k]) @ DX.T)
        mu0 = np.array([sum(coef.get(b, 0.0) for b in g) for g in groups]) / beta
        yh_new, mu, res = _restricted_kkt(loss, y, beta, G, yh, mu0)
        if res > POLISH_RESIDUAL:
            # inconsistent support: drop the weakest candidate, keep the point
            support -= set(groups[int(np.argmin(mu))])
            continue
        yh, lam = yh_new, loss.dual_point(yh_new, y)
        coef = {b: beta * max(m, 0.0) for k, m in enumerate(mu) for b in groups[k]}
        proj = np.asarray(cone_projections(X, lam, chambers), dtype=float)
        corr = np.linalg.norm(proj, axis=1)
        violated = np.flatnonzero(corr > beta * (1.0 + POLISH_FEASIBILITY))
        if violated.size:
            # a violated block next to a candidate (e.g. the interior of the chamber beside a face
            # candidate) replaces it, taking over its coefficient; others are added
            for b in map(int, violated):
                s_b = proj[b] / corr[b]
                near = [k for k in range(gamma.size) if gamma[k] == gamma_all[b]
                        and np.linalg.norm(S[k] - s_b) <= POLISH_MERGE]
                for k in near:
                    support -= set(groups[k])
                coef[b] = sum(beta * max(mu[k], 0.0) for k in near)
                support.add(b)
            continue
        cand = _candidates(X, proj, chambers.p, beta, tol.polished, tol.direction)
        Z = cand.Z
        r = nnls(Z, yh, maxiter=nnls_maxiter(Z.shape[1]))[1] if Z.shape[1] else np.linalg.norm(yh)
        if r <= POLISH_CONE * max(1.0, float(np.linalg.norm(yh))):
            return yh, lam, cand
        if np.all(mu >= 0):
            return None
        support -= set(groups[int(np.argmin(mu))])  # ŷ left the cone: drop the most negative
    return None


@dataclass(frozen=True)
class _DualPoint:
    """The dual point E is computed at and its candidates."""

    yhat: np.ndarray           # (n,) the reference prediction: polished, else the solver's
    dual: np.ndarray           # (n,) λ at it
    candidates: _Candidates
    tol_E: float               # the threshold E used
    polished: bool
    solution_optimal: bool     # M(λ_solver) <= β(1 + tol.certificate)


def _dual_point(problem: Problem, solution, weights: BlockWeights, chambers, tol: Tolerances,
                scope: str, polish: bool, warnings: list) -> _DualPoint:
    """(ŷ, λ) for E: polished over ALL chambers when possible, else the solver's.

    The 2p block projections at the solver's dual point λ_solver are computed once: their largest
    norm is M(λ_solver) (is the solver's point optimal over all chambers?), the polish starts from
    them and, without a polish, they give E (threshold ``tol.equicorrelation``). Raises
    :class:`InputError` (sampled patterns) or :class:`SolverError` when an unpolished solver point
    is not optimal over all chambers.
    """
    from .certificate import cone_projections  # deferred: needs the solver stack

    loss, X, y, beta = problem.loss, problem.X, problem.y, problem.beta
    yhat_solver = np.asarray(solution.yhat, dtype=float)
    lam_solver = np.asarray(solution.dual if scope == "fixed_prediction"
                            else loss.dual_point(yhat_solver, y), dtype=float)
    proj_solver = np.asarray(cone_projections(X, lam_solver, chambers), dtype=float)
    M_solver = float(np.linalg.norm(proj_solver, axis=1).max(initial=0.0))
    solution_optimal = M_solver <= beta * (1.0 + tol.certificate)
    sampled = not bool(getattr(getattr(solution, "patterns", None), "complete", True))
    polished = (_polish(problem, weights, chambers, tol, start=(yhat_solver, proj_solver))
                if polish and scope == "all" else None)
    if polished is not None:
        if sampled and not solution_optimal:
            warnings.append(f"the sampled program is not globally optimal (M(lambda) = "
                            f"{M_solver:.10g} > beta = {beta:.10g}: a needed chamber is missing); "
                            "the optimal set was computed over all chambers")
        return _DualPoint(*polished, tol.polished, True, solution_optimal)
    if not solution_optimal:
        msg = (f"the convex solution is not optimal over all chambers: M(lambda) = "
               f"{M_solver:.10g} > beta = {beta:.10g}")
        if sampled:
            raise InputError(msg + "; the sampled patterns miss a chamber, use method='exact'")
        raise SolverError(msg + " (solver inaccuracy)")
    tol_E = tol.equicorrelation
    if polish and scope == "all" and np.any(weights.norms() > 0):
        warnings.append("polishing (Newton on the KKT system) failed; E uses the solver's dual "
                        f"with relative tolerance {tol_E:g}")
    cand = _candidates(X, proj_solver, chambers.p, beta, tol_E, tol.direction)
    return _DualPoint(yhat_solver, lam_solver, cand, tol_E, False, solution_optimal)
