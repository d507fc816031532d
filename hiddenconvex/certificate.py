r"""Dual feasibility, the global-optimality certificate and β_max (SPEC §2.2, §2.4).

For a dual point :math:`\lambda \in \mathbb R^n` and a chamber pattern :math:`D` with cone
:math:`C(D) = \{u : (2D - I)Xu \ge 0\}`, block :math:`b` (sign :math:`\gamma_b`, pattern
:math:`D_b`) has correlation :math:`\|\Pi_{C_b}(\gamma_b X^T D_b \lambda)\|_2`, and

.. math::  M(\lambda) = \max_{\|u\| \le 1} |\lambda^T\sigma(Xu)|
           = \max_b \|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2  \quad (\text{over ALL chambers}).

:math:`\lambda` is dual feasible iff :math:`M(\lambda) \le \beta`. Projections onto a cone
:math:`\{u : Au \ge 0\}` are exact, by NNLS on the polar cone (Moreau). A candidate with
prediction :math:`\hat y` and :math:`\lambda = -\nabla\ell(\hat y)` (hinge: the solver's dual) is
*certified* globally optimal when the chamber list is complete, :math:`M(\lambda) \le
\beta(1+tol)` and the duality gap closes relative to :math:`\ell(0)`, the loss of the zero
network (the scale of the problem: :math:`0 \le P_c \le \ell(0)`); otherwise
:math:`\max_{t \in [0, \beta/M]} -\ell^*(-t\lambda)` is a valid lower bound on :math:`P_c` (SPEC
§2.4 step 4). The zero network is optimal iff :math:`\beta \ge \beta_{max} =
M(-\nabla\ell(0))`. Without the chambers, :func:`correlation_bound`
(:math:`M(\lambda) \le \|X\|_2\|\lambda\|`, refined by sign) still certifies a dual point it
proves feasible, e.g. the zero network at :math:`\beta \ge \|X\|_2\|\nabla\ell(0)\|`.

Scale: X and λ enter the projections as X·2^-e, λ·2^-f (exact powers of two,
:func:`hiddenconvex.patterns.pow2_scaled`; e = f = 0 for data with entries in [2^-4, 2^4]), so
M(λ) is computed without under- or overflow for data from subnormal to 1e300. A cone without any
constraint row is R^d and its projection is the identity: SciPy's NNLS is never called with an
empty matrix.

Block order is that of :mod:`hiddenconvex.blocks`: blocks ``0..p-1`` have γ = +1, blocks
``p..2p-1`` have γ = −1 and reuse pattern ``b mod p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ._linalg import _ldexp, pow2_scaled
from .errors import InputError, SolverError, check_matrix, check_vector
from .facets import _CHUNK, _cached_facets, _is_chamber_list, _pattern_matrix, _resolve_facets
from .objective import Problem
from .patterns import cover_bound, exact_chambers, exact_memory

__all__ = [
    "project_cone",
    "cone_projections",
    "block_correlations",
    "max_correlation",
    "beta_max",
    "correlation_bound",
    "complete_chambers",
    "Certificate",
    "certify",
    "DEFAULT_MAX_CHAMBERS",
]

#: Largest Cover bound on the number of chambers for which :func:`certify` enumerates all chambers
#: itself when it is handed an incomplete (sampled) pattern list. The certificate is what makes a
#: sampled solve trustworthy, and it is much cheaper than the program on all chambers: at the
#: limit (e.g. n = 400 points in general position in R^3, 159,602 chambers) enumeration, facets and
#: M(λ) take about 20 s on one core, while the full program would be far out of reach.
DEFAULT_MAX_CHAMBERS = 200_000


# --------------------------------------------------------------------------------------------------
# Cone projections


def project_cone(g, A) -> np.ndarray:
    r"""Euclidean projection of ``g`` onto the polyhedral cone :math:`C = \{u : Au \ge 0\}`.

    Solved exactly on the polar cone :math:`C^\circ = \{-A^T\mu : \mu \ge 0\}`:
    :math:`\mu^* = \arg\min_{\mu \ge 0}\|A^T\mu + g\|`, :math:`\Pi_C(g) = g + A^T\mu^*` (Moreau).

    Parameters
    ----------
    g : array, shape (d,)
    A : array, shape (m, d)

    Returns
    -------
    array, shape (d,)
    """
    g = np.asarray(g, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    if g.ndim != 1 or A.ndim != 2 or A.shape[1] != g.shape[0]:
        raise InputError(
            f"project_cone: shapes g {g.shape} and A {A.shape} do not match (A is (m, d))"
        )
    if A.shape[0] == 0 or np.all(A @ g >= 0):
        return g.copy()
    return _polar_nnls(g, A)


def _polar_nnls(g: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Π_C(g) for C = {u : Au ≥ 0} by NNLS on the polar cone. No constraint (A of shape (0, d))
    means C = R^d and Π(g) = g; d = 0 means the space {0}. NNLS is never called with an empty
    matrix (SciPy's NNLS corrupts the heap on a (d, 0) matrix)."""
    m = A.shape[0]
    if m == 0 or A.shape[1] == 0 or g.size == 0:
        return g.copy()
    for maxiter in (max(50, 10 * m), 100 * max(50, m)):
        try:
            mu, _ = nnls(A.T, -g, maxiter=maxiter)
        except RuntimeError:  # iteration limit: retry once with a larger one
            continue
        return g + A.T @ mu
    raise SolverError(f"NNLS cone projection did not converge ({m} constraints, d = {A.shape[1]})")


# --------------------------------------------------------------------------------------------------
# Facets of the chamber cones


def _block_gradients(X, lam, patterns):
    """Validated inputs, the block vectors g_b = γ_b X^T D_b λ (2p, d), and which blocks already
    lie in their cone (then Π(g_b) = g_b). Computed in chunks of patterns (bounded memory).

    X and λ are used as ``X·2^-e``, ``λ·2^-f`` (:func:`hiddenconvex.patterns.pow2_scaled`;
    e = f = 0 in the band [2^-4, 2^4]) so that no product under- or overflows: the cones are
    unchanged, the returned X and g_b are the scaled ones, and projections times 2^(e+f) (exact)
    are those in the user's units. Returns ``(X·2^-e, D, G2, inside, e + f)``."""
    X, ex = pow2_scaled(check_matrix(X))
    lam, el = pow2_scaled(check_vector(lam, X.shape[0], "lam"))
    D = _pattern_matrix(patterns, X.shape[0])
    n, p = D.shape
    G = np.empty((p, X.shape[1]))
    inside = np.empty(2 * p, dtype=bool)
    Xl = X * lam[:, None]
    step = max(1, _CHUNK // max(n, 1))
    for a in range(0, p, step):
        e = min(a + step, p)
        Dc = D[:, a:e]
        Gc = Dc.T.astype(np.float64) @ Xl  # (c, d): X^T D_k λ
        SXG = np.where(Dc, 1.0, -1.0) * (X @ Gc.T)  # (n, c): rows of A_k g_k for γ = +1
        G[a:e] = Gc
        inside[a:e] = np.all(SXG >= 0, axis=0)
        inside[p + a:p + e] = np.all(SXG <= 0, axis=0)  # γ = −1: g = −X^T D_k λ
    return X, D, np.concatenate([G, -G], axis=0), inside, ex + el


def _project_block(X, D, F, b, g) -> np.ndarray:
    k = b % D.shape[1]
    rows = F[:, k]
    A = np.where(D[rows, k], 1.0, -1.0)[:, None] * X[rows]
    return _polar_nnls(g, A)


def cone_projections(X, lam, patterns, *, facets=None) -> np.ndarray:
    r"""All block projections :math:`\Pi_{C_b}(\gamma_b X^T D_b \lambda)`.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
        Dual point.
    patterns : Patterns or bool array, shape (n, p)
    facets : bool array, shape (n, p), optional
        Rows defining each cone (:func:`chamber_facets`). Default: the facets when ``patterns``
        is a complete chamber list, else every nonzero row (both exact; facets are faster).

    Returns
    -------
    array, shape (2p, d)
        Row ``b`` is the projection for block ``b`` (blocks ``p..2p-1`` have γ = −1).
    """
    X, D, G2, inside, e = _block_gradients(X, lam, patterns)
    F = _resolve_facets(X, D, patterns, facets)
    out = G2.copy()
    for b in np.flatnonzero(~inside):
        out[b] = _project_block(X, D, F, b, G2[b])
    return np.ldexp(out, e) if e else out


def block_correlations(X, lam, patterns, *, facets=None) -> np.ndarray:
    r"""Norms :math:`\|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2` of every block, shape (2p,)."""
    return np.linalg.norm(cone_projections(X, lam, patterns, facets=facets), axis=1)


def max_correlation(X, lam, patterns, *, facets=None) -> float:
    r""":math:`M(\lambda)` over the given patterns (the true M when ``patterns`` are all chambers).

    The blocks whose vector :math:`g_b` already lies in its cone are found at once (one matrix
    product); the others are projected (NNLS on the cone's facet rows) in decreasing order of
    :math:`\|g_b\|` and the sweep stops as soon as :math:`\|g_b\|` (an upper bound on
    :math:`\|\Pi(g_b)\|`) cannot beat the current maximum.
    """
    X, D, G2, inside, e = _block_gradients(X, lam, patterns)
    if G2.shape[0] == 0:
        return 0.0
    norms = np.linalg.norm(G2, axis=1)
    best = float(norms[inside].max(initial=0.0))
    todo = np.flatnonzero(~inside & (norms > best))
    if todo.size == 0:
        return _ldexp(best, e)
    F = _resolve_facets(X, D, patterns, facets)
    for b in todo[np.argsort(-norms[todo], kind="stable")]:
        if norms[b] <= best:
            break
        best = max(best, float(np.linalg.norm(_project_block(X, D, F, b, G2[b]))))
    return _ldexp(best, e)


# --------------------------------------------------------------------------------------------------
# Chambers for the certificate


def complete_chambers(X, patterns=None, chambers=None, *,
                      max_chambers: int | None = DEFAULT_MAX_CHAMBERS):
    """A complete chamber list for X, or ``(None, reason)`` when enumerating it is unaffordable.

    Returns ``chambers`` if given (must be complete), else ``patterns`` if complete, else
    :func:`hiddenconvex.patterns.exact_chambers` of X when Cover's bound
    (:func:`hiddenconvex.patterns.cover_bound`) is at most
    ``max_chambers`` (``None``: no limit) and the enumeration fits in memory
    (:func:`hiddenconvex.patterns.exact_memory`).

    Returns
    -------
    (Patterns or None, str)
    """
    if chambers is not None:
        if not getattr(chambers, "complete", False):
            raise InputError("the `chambers` passed to certify must be a complete chamber list")
        return chambers, ""
    if patterns is not None and getattr(patterns, "complete", False):
        return patterns, ""
    bound = cover_bound(X)
    if max_chambers is not None and bound > max_chambers:
        return None, (f"pattern list is incomplete and enumerating all chambers is unaffordable "
                      f"(Cover bound {bound} > max_chambers = {max_chambers}): M(lambda) over all "
                      "chambers and a lower bound are unavailable")
    memory = exact_memory(X)
    if not memory.fits:
        return None, (f"pattern list is incomplete and enumerating all chambers does not fit in "
                      f"memory ({memory.needs()}): M(lambda) over all chambers and a lower bound "
                      "are unavailable")
    return exact_chambers(X), ""


# --------------------------------------------------------------------------------------------------
# beta_max


def beta_max(problem: Problem, patterns=None) -> float:
    r""":math:`\beta_{max} = M(-\nabla\ell(0))`; the zero network is optimal iff β ≥ β_max.

    Squared: :math:`M(y)`; logistic: :math:`M(y/2)`; hinge: :math:`M(y)` (ℓ is differentiable at 0).

    Parameters
    ----------
    problem : Problem
    patterns : Patterns, optional
        Default: all chambers of X (:func:`hiddenconvex.patterns.exact_chambers`). With an
        incomplete list the value is β_max of the sub-sampled program, a lower bound on the true
        β_max.
    """
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    if patterns is None:
        patterns = exact_chambers(problem.X)
    lam0 = problem.loss.dual_point(np.zeros(problem.n), problem.y)
    return max_correlation(problem.X, lam0, patterns)


# --------------------------------------------------------------------------------------------------
# Certificate


@dataclass(frozen=True)
class Certificate:
    r"""Global-optimality certificate of a candidate (SPEC §2.4).

    Attributes
    ----------
    M : float or None
        :math:`M(\lambda)` over ALL chambers, or an upper bound on it valid over all chambers
        (``m_source``); None when neither is available.
    M_patterns : float or None
        :math:`M(\lambda)` over the given pattern list only (not a certificate by itself).
    beta : float
    certified : bool
        ``M`` covers all chambers, :math:`M \le \beta(1+tol)` and
        gap ≤ ``gap_tol``·``scale``.
    complete : bool
        M was computed over the complete chamber list.
    primal : float
        Objective of the candidate.
    lower_bound : float or None
        :math:`\max_{t\in[0,\beta/M]} -\ell^*(-t\lambda) \le P_c` (None when unavailable —
        never a fake bound).
    gap : float or None
        ``primal - lower_bound`` (≥ primal − P_c ≥ 0 up to rounding).
    dual_value : float
        :math:`-\ell^*(-\lambda)` at t = 1 (a bound only when λ is dual feasible; may be −inf).
    t : float or None
        The scale achieving ``lower_bound``.
    num_chambers : int or None
        Number of chambers checked.
    tol, gap_tol : float
    reasons : tuple of str
        Why the candidate is not certified (empty when certified).
    dual_source : str
        The dual point used: ``"gradient"`` (−∇ℓ(ŷ)), ``"given"`` (``lam``) or ``"solver"``.
    scale : float or None
        :math:`\ell(0)`, the loss of the zero network: the natural scale of the problem
        (:math:`0 \le P_c \le \ell(0)`) to which the gap is compared; invariant under rescaling
        of X, unlike any fixed floor.
    m_source : str
        ``"chambers"``: M computed over the complete chamber list; ``"norm bound"``: M is
        :func:`correlation_bound` (no enumeration), an upper bound on M(λ) over all chambers;
        ``"none"``: unavailable.
    """

    M: float | None
    M_patterns: float | None
    beta: float
    certified: bool
    complete: bool
    primal: float
    lower_bound: float | None
    gap: float | None
    dual_value: float
    t: float | None
    num_chambers: int | None
    tol: float
    gap_tol: float
    reasons: tuple[str, ...] = ()
    dual_source: str = "gradient"
    scale: float | None = None
    m_source: str = "chambers"

    @property
    def relative_gap(self) -> float | None:
        """``gap / scale`` (scale = ℓ(0)); with ℓ(0) = 0 (then P_c = 0): 0 for a closed gap,
        inf otherwise."""
        if self.gap is None or self.scale is None:
            return None
        if self.scale > 0:
            return self.gap / self.scale
        return 0.0 if self.gap <= 0 else math.inf

    def to_record(self) -> dict:
        return {
            "certified": self.certified, "complete": self.complete,
            "max_correlation": self.M, "max_correlation_patterns": self.M_patterns,
            "max_correlation_source": self.m_source,
            "beta": self.beta, "primal": self.primal, "lower_bound": self.lower_bound,
            "gap": self.gap, "relative_gap": self.relative_gap, "dual_value": self.dual_value,
            "t": self.t, "num_chambers": self.num_chambers, "certificate_tol": self.tol,
            "certificate_gap_tol": self.gap_tol, "certificate_scale": self.scale,
            "reasons": list(self.reasons), "certificate_dual": self.dual_source,
        }


def _norm2(v: np.ndarray) -> float:
    """Euclidean norm without under/overflow (exact power-of-two pre-scaling)."""
    vs, e = pow2_scaled(np.asarray(v, dtype=np.float64))
    return _ldexp(float(np.linalg.norm(vs)), e)


def correlation_bound(X, lam) -> float:
    r"""An upper bound on :math:`M(\lambda)` over all chambers that needs no enumeration.

    For :math:`\|u\| \le 1`, :math:`\lambda^T\sigma(Xu) \le \sum_{\lambda_j>0}\lambda_j|x_j^Tu|
    \le \|\lambda_+\|\,\|X_{J_+}\|_2` with :math:`J_+ = \{j : \lambda_j > 0\}`, and
    :math:`-\lambda^T\sigma(Xu) \le \|\lambda_-\|\,\|X_{J_-}\|_2` likewise, so

    .. math::  M(\lambda) \le \max(\|\lambda_+\|\|X_{J_+}\|_2, \|\lambda_-\|\|X_{J_-}\|_2)
               \le \|X\|_2\|\lambda\|.

    The spectral norms are computed by SVD of X·2^-e (no under/overflow) and the result is
    rounded up by the factor 1 + 32·(n + d)·eps, which covers the backward error of the SVD
    (σ_max is exact for X + E with ‖E‖₂ ≤ c·max(n, d)·eps·‖X‖₂, c modest) and of the norms.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)

    Returns
    -------
    float
    """
    X = check_matrix(X)
    lam = check_vector(lam, X.shape[0], "lam")
    Xs, e = pow2_scaled(X)
    best = 0.0
    for rows in (lam > 0, lam < 0):
        if not np.any(rows):
            continue
        sigma = float(np.linalg.svd(Xs[rows], compute_uv=False)[0])
        best = max(best, _norm2(lam[rows]) * _ldexp(sigma, e))
    eps = float(np.finfo(np.float64).eps)
    return best * (1.0 + 32.0 * (X.shape[0] + X.shape[1]) * eps)


def _best_scale(loss, lam, y, M, beta) -> tuple[float, float]:
    """max_{t ∈ [0, β/M]} −ℓ*(−tλ) (t also limited by the loss's domain)."""
    t_max = beta / M if M > 0 else math.inf
    t, value = loss.best_dual_scale(lam, y, min(t_max, loss.max_dual_scale(lam, y)))
    return float(t), float(value)


def certify(problem: Problem, yhat, primal, patterns=None, *, lam=None, solver_dual=None,
            tol: float = 1e-6, gap_tol: float | None = None, chambers=None,
            max_chambers: int | None = DEFAULT_MAX_CHAMBERS, facets=None,
            pattern_facets=None) -> Certificate:
    r"""Certify a candidate with prediction ``yhat`` and objective ``primal`` (SPEC §2.4).

    Parameters
    ----------
    problem : Problem
    yhat : array, shape (n,)
        The candidate's prediction.
    primal : float or ObjectiveValue
        The candidate's objective (``objective(problem, model)``).
    patterns : Patterns, optional
        The pattern list the candidate was computed on. If it is complete it is used for M(λ);
        otherwise all chambers are enumerated when Cover's bound is at most ``max_chambers``
        (``None``: always) and the enumeration fits in memory. Without them, the bound
        :func:`correlation_bound` is used when it proves λ dual feasible (``m_source="norm
        bound"``; e.g. the zero network at β ≥ ‖λ‖‖X‖₂); else the certificate says that M and the
        lower bound are unavailable.
    lam : array, shape (n,), optional
        Dual point; default :math:`-\nabla\ell(\hat y)`. For the hinge loss pass the solver's dual
        (:math:`\lambda \in -\partial\ell(\hat y)`).
    solver_dual : array, shape (n,), optional
        A second dual point (the solver's multiplier of the prediction constraint), tried when
        ``lam`` does not certify. Weak duality holds for every dual-feasible point, so the
        certificate may use either; ``dual_source`` says which one it reports. An interior-point
        solver's multiplier is dual feasible to the solver tolerance, while
        :math:`-\nabla\ell(\hat y)` inherits the error of :math:`\hat y`, which is only about the
        square root of the solver's duality gap.
    tol : float
        Dual feasibility tolerance: :math:`M(\lambda) \le \beta(1 + tol)`.
    gap_tol : float, optional
        Relative gap tolerance, ``gap <= gap_tol * ℓ(0)`` (ℓ(0) = loss of the zero network, the
        scale of the problem: 0 ≤ P_c ≤ ℓ(0); default ``10 * tol``: with
        :math:`M = \beta(1+tol)` the bound may lose about ``tol`` times the regularization).
    chambers : Patterns, optional
        A complete chamber list to use (e.g. enumerated once for a regularization path).
    max_chambers : int or None
        Enumerate the chambers of an incomplete ``patterns`` only when Cover's bound is at most
        this (``None``: always).
    facets, pattern_facets : bool arrays, optional
        Facet rows (:func:`chamber_facets`) of the complete chamber list and of ``patterns``;
        computed when needed (they only speed up the projections).

    Returns
    -------
    Certificate
    """
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    X, y, beta, loss = problem.X, problem.y, problem.beta, problem.loss
    yhat = check_vector(yhat, problem.n, "yhat")
    primal = float(getattr(primal, "total", primal))
    if not math.isfinite(primal):
        raise InputError(f"primal objective must be finite, got {primal}")
    for name, val in (("tol", tol), ("gap_tol", gap_tol)):
        if val is not None and not (math.isfinite(val) and val >= 0):
            raise InputError(f"{name} must be finite and >= 0, got {val!r}")
    gap_tol = 10.0 * tol if gap_tol is None else float(gap_tol)
    source = "gradient" if lam is None else "given"
    lam = loss.dual_point(yhat, y) if lam is None else check_vector(lam, problem.n, "lam")
    candidates = [(source, lam)]
    if solver_dual is not None:
        candidates.append(("solver", check_vector(solver_dual, problem.n, "solver_dual")))
    ctx = _Context(problem, primal, float(loss.value(np.zeros(problem.n), y)), tol, gap_tol)
    full, why = complete_chambers(X, patterns, chambers, max_chambers=max_chambers)
    if full is None:
        M_patterns = (None if patterns is None
                      else max_correlation(X, lam, patterns, facets=pattern_facets))
        for src, cand in candidates:  # a bound on M(λ) over all chambers needs no enumeration
            bound = correlation_bound(X, cand)
            if bound <= beta:
                mp = M_patterns if cand is lam else (
                    None if patterns is None
                    else max_correlation(X, cand, patterns, facets=pattern_facets))
                return _assemble(ctx, cand, bound, mp, None, src, "norm bound")
        return Certificate(M=None, M_patterns=M_patterns, beta=beta, certified=False,
                           complete=False, primal=primal, lower_bound=None, gap=None,
                           dual_value=float(loss.dual_value(lam, y)), t=None, num_chambers=None,
                           tol=tol, gap_tol=gap_tol, reasons=(why,), dual_source=source,
                           scale=ctx.scale, m_source="none")
    if facets is None and _is_chamber_list(full):
        facets = _cached_facets(X, full)
    best = None
    for src, cand in candidates:
        M = max_correlation(X, cand, full, facets=facets)
        if patterns is None:
            mp = None
        elif patterns is full:
            mp = M
        else:
            mp = max_correlation(X, cand, patterns, facets=pattern_facets)
        cert = _assemble(ctx, cand, M, mp, int(full.p), src, "chambers")
        if cert.certified:
            return cert
        if best is None or cert.lower_bound > best.lower_bound:
            best = cert
    return best


@dataclass(frozen=True)
class _Context:
    problem: Problem
    primal: float
    scale: float  # ℓ(0)
    tol: float
    gap_tol: float


def _assemble(ctx: _Context, lam, M: float, M_patterns, num_chambers, source: str,
              m_source: str) -> Certificate:
    """The certificate of dual point ``lam`` given M (exact over the chambers, or a bound)."""
    y, beta, loss = ctx.problem.y, ctx.problem.beta, ctx.problem.loss
    t, lb = _best_scale(loss, lam, y, M, beta)
    gap = ctx.primal - lb
    reasons = []
    over = "all chambers" if m_source == "chambers" else "the norm bound"
    if M > beta * (1.0 + ctx.tol):
        reasons.append(
            f"dual infeasible over {over}: M(lambda) = {M:.10g} > beta = {beta:.10g}"
        )
    if gap > ctx.gap_tol * ctx.scale:
        reasons.append(f"duality gap {gap:.3g} exceeds {ctx.gap_tol:.1g} x the loss of the zero "
                       f"network ({ctx.scale:.3g})")
    return Certificate(M=M, M_patterns=M_patterns, beta=beta, certified=not reasons,
                       complete=m_source == "chambers", primal=ctx.primal, lower_bound=lb,
                       gap=gap, dual_value=float(loss.dual_value(lam, y)), t=t,
                       num_chambers=num_chambers, tol=ctx.tol, gap_tol=ctx.gap_tol,
                       reasons=tuple(reasons), dual_source=source, scale=ctx.scale,
                       m_source=m_source)
