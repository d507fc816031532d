r"""Dual feasibility, the global-optimality certificate and β_max (SPEC §2.2, §2.4).

For a dual point :math:`\lambda \in \mathbb R^n` and a chamber pattern :math:`D` with cone
:math:`C(D) = \{u : (2D - I)Xu \ge 0\}`, block :math:`b` (sign :math:`\gamma_b`, pattern
:math:`D_b`) has correlation :math:`\|\Pi_{C_b}(\gamma_b X^T D_b \lambda)\|_2`, and

.. math::  M(\lambda) = \max_{\|u\| \le 1} |\lambda^T\sigma(Xu)|
           = \max_b \|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2  \quad (\text{over ALL chambers}).

:math:`\lambda` is dual feasible iff :math:`M(\lambda) \le \beta`. Projections onto a cone
:math:`\{u : Au \ge 0\}` are exact, by NNLS on the polar cone (Moreau). The pass over the
chambers (:func:`cone_projections`, :func:`block_correlations`, :func:`max_correlation`, the
certificate and β_max) is the exact pricing kernel :class:`hiddenconvex.pricing.Pricer`:
Lawson-Hanson on all distinct rows, screening by :math:`\|g_b\|`, early exit, and a verified
interval for every finished value (where SciPy's NNLS on facet rows differs, by its stopping
tolerance, the interval decides). The chambers may be a Patterns object or any iterable of
``(D, witnesses)`` chunks (the streaming enumerator), so a large arrangement is never held in
memory. A candidate with
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
:func:`hiddenconvex._linalg.pow2_scaled`; e = f = 0 for data with entries in [2^-4, 2^4]), so
M(λ) is computed without under- or overflow for data from subnormal to 1e300. A cone without any
constraint row is R^d and its projection is the identity: SciPy's NNLS (:func:`project_cone`)
is never called with an empty matrix.

Block order is that of :mod:`hiddenconvex.blocks`: blocks ``0..p-1`` have γ = +1, blocks
``p..2p-1`` have γ = −1 and reuse pattern ``b mod p``.

The block correlations and M(λ) (:func:`project_cone`, :func:`cone_projections`,
:func:`block_correlations`, :func:`max_correlation`) live in :mod:`hiddenconvex.correlations` and
are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._linalg import _ldexp, pow2_scaled
from .correlations import (
    _is_stream,
    _max_correlations,
    block_correlations,
    cone_projections,
    max_correlation,
    project_cone,
)
from .errors import InputError, check_matrix, check_vector
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
    "certify_with_bound",
    "DEFAULT_MAX_CHAMBERS",
]

#: Largest Cover bound on the number of chambers for which :func:`certify` enumerates all chambers
#: itself when it is handed an incomplete (sampled) pattern list. The certificate is what makes a
#: sampled solve trustworthy, and it is much cheaper than the program on all chambers: at the
#: limit (e.g. n = 400 points in general position in R^3, 159,602 chambers) enumeration, facets and
#: M(λ) take about 20 s on one core, while the full program would be far out of reach.
DEFAULT_MAX_CHAMBERS = 200_000


# --------------------------------------------------------------------------------------------------
# Chambers for the certificate


def complete_chambers(X, patterns=None, chambers=None, *,
                      max_chambers: int | None = DEFAULT_MAX_CHAMBERS):
    """A complete chamber list for X, or ``(None, reason)`` when enumerating it is unaffordable.

    Returns ``chambers`` if given (must be complete; an iterable of ``(D, witnesses)`` chunks is
    taken as the complete stream it claims to be), else ``patterns`` if complete, else
    :func:`hiddenconvex.patterns.exact_chambers` of X when Cover's bound
    (:func:`hiddenconvex.patterns.cover_bound`) is at most
    ``max_chambers`` (``None``: no limit) and the enumeration fits in memory
    (:func:`hiddenconvex.patterns.exact_memory`).

    Returns
    -------
    (Patterns or None, str)
    """
    if chambers is not None:
        if _is_stream(chambers):  # a chunk source (iter_chambers): complete by its contract
            return chambers, ""
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
            max_chambers: int | None = DEFAULT_MAX_CHAMBERS) -> Certificate:
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
    chambers : Patterns or iterable of chunks, optional
        A complete chamber list to use (e.g. enumerated once for a regularization path), or a
        source of ``(D (n, c) bool, witnesses (c, d))`` chunks that lists every chamber (e.g.
        ``hiddenconvex.patterns.iter_chambers(X, chunk)``; the caller vouches that it is
        complete; a generator is consumed once, pricing every candidate dual point in that pass).
    max_chambers : int or None
        Enumerate the chambers of an incomplete ``patterns`` only when Cover's bound is at most
        this (``None``: always).

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
                      else max_correlation(X, lam, patterns))
        for src, cand in candidates:  # a bound on M(λ) over all chambers needs no enumeration
            bound = correlation_bound(X, cand)
            if bound <= beta:
                mp = M_patterns if cand is lam else (
                    None if patterns is None
                    else max_correlation(X, cand, patterns))
                return _assemble(ctx, cand, bound, mp, None, src, "norm bound")
        return Certificate(M=None, M_patterns=M_patterns, beta=beta, certified=False,
                           complete=False, primal=primal, lower_bound=None, gap=None,
                           dual_value=float(loss.dual_value(lam, y)), t=None, num_chambers=None,
                           tol=tol, gap_tol=gap_tol, reasons=(why,), dual_source=source,
                           scale=ctx.scale, m_source="none")
    one_shot = _is_stream(full) and iter(full) is full  # a generator: price every λ at once
    if one_shot:
        Ms, count = _max_correlations(X, [cand for _, cand in candidates], full)
    best = None
    for i, (src, cand) in enumerate(candidates):
        if one_shot:
            M = Ms[i]
        else:
            Mc, count = _max_correlations(X, [cand], full)
            M = Mc[0]
        if patterns is None:
            mp = None
        elif patterns is full:
            mp = M
        else:
            mp = max_correlation(X, cand, patterns)
        cert = _assemble(ctx, cand, M, mp, int(count), src, "chambers")
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
    over = {"chambers": "all chambers", "search": "the search bound"}.get(m_source,
                                                                           "the norm bound")
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


def certify_with_bound(problem: Problem, yhat, primal, lam, M: float, *, m_source: str,
                       tol: float = 1e-6, gap_tol: float | None = None,
                       num_chambers: int | None = None, M_patterns: float | None = None,
                       dual_source: str = "given") -> Certificate:
    r"""The certificate of dual point ``lam`` given ``M``, a verified upper bound on
    :math:`M(\lambda)` over ALL chambers obtained elsewhere: a pricing pass over every chamber
    (``m_source="chambers"``, :mod:`hiddenconvex.working_set`) or the anytime search of
    :mod:`hiddenconvex.bounds` (``m_source="search"``). The lower bound is that of
    :func:`certify` (λ scaled by β/max(β, M)); certified iff M ≤ β(1 + tol) and the gap closes."""
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    if m_source not in ("chambers", "search", "norm bound"):
        raise InputError(f"m_source must be 'chambers', 'search' or 'norm bound', got "
                         f"{m_source!r}")
    if not (math.isfinite(M) and M >= 0):
        raise InputError(f"M must be finite and >= 0, got {M!r}")
    yhat = check_vector(yhat, problem.n, "yhat")
    lam = check_vector(lam, problem.n, "lam")
    primal = float(getattr(primal, "total", primal))
    gap_tol = 10.0 * tol if gap_tol is None else float(gap_tol)
    ctx = _Context(problem, primal, float(problem.loss.value(np.zeros(problem.n), problem.y)),
                   tol, gap_tol)
    return _assemble(ctx, lam, float(M), M_patterns, num_chambers, dual_source, m_source)
