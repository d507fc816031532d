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
\beta(1+tol)` and the duality gap closes; otherwise :math:`\max_{t \in [0, \beta/M]}
-\ell^*(-t\lambda)` is a valid lower bound on :math:`P_c` (SPEC §2.4 step 4). The zero network is
optimal iff :math:`\beta \ge \beta_{max} = M(-\nabla\ell(0))`.

Block order is that of :mod:`hiddenconvex.blocks`: blocks ``0..p-1`` have γ = +1, blocks
``p..2p-1`` have γ = −1 and reuse pattern ``b mod p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .errors import InputError, check_matrix, check_vector
from .objective import Problem

__all__ = [
    "project_cone",
    "cone_projections",
    "block_correlations",
    "max_correlation",
    "beta_max",
    "chamber_bound",
    "complete_chambers",
    "Certificate",
    "certify",
    "DEFAULT_MAX_CHAMBERS",
]

#: Largest Cover bound on the number of chambers for which :func:`certify` enumerates all chambers
#: itself when it is handed an incomplete pattern list.
DEFAULT_MAX_CHAMBERS = 4096


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
    mu, _ = nnls(A.T, -g, maxiter=max(50, 10 * A.shape[0]))
    return g + A.T @ mu


def _pattern_matrix(patterns, n: int) -> np.ndarray:
    D = getattr(patterns, "D", patterns)
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != n:
        raise InputError(f"patterns must have shape (n, p) with n = {n}, got {D.shape}")
    if D.dtype != bool:
        if not np.all(np.isin(D, (0, 1))):
            raise InputError("patterns must be 0/1 (boolean) columns")
        D = D.astype(bool)
    return D


def _block_gradients(X, lam, patterns):
    """Validated inputs and the unprojected block vectors g_b = γ_b X^T D_b λ, shape (2p, d)."""
    X = check_matrix(X)
    lam = check_vector(lam, X.shape[0], "lam")
    D = _pattern_matrix(patterns, X.shape[0])
    G = (X.T @ (D * lam[:, None])).T  # (p, d): X^T D_k λ
    G2 = np.concatenate([G, -G], axis=0)
    S = np.where(D, 1.0, -1.0)
    S2 = np.concatenate([S, S], axis=1)  # (n, 2p): rows of A_b = diag(S2[:, b]) X
    return X, G2, S2


def _inside(X, G2, S2) -> np.ndarray:
    """Blocks whose g_b already lies in its cone (then Π(g_b) = g_b)."""
    if G2.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return np.all(S2 * (X @ G2.T) >= 0, axis=0)


def _project_block(X, nz, g, s) -> np.ndarray:
    A = s[nz, None] * X[nz]
    return _polar_nnls(g, A)


def cone_projections(X, lam, patterns) -> np.ndarray:
    r"""All block projections :math:`\Pi_{C_b}(\gamma_b X^T D_b \lambda)`.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
        Dual point.
    patterns : Patterns or bool array, shape (n, p)

    Returns
    -------
    array, shape (2p, d)
        Row ``b`` is the projection for block ``b`` (blocks ``p..2p-1`` have γ = −1).
    """
    X, G2, S2 = _block_gradients(X, lam, patterns)
    out = G2.copy()
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    for b in np.flatnonzero(~_inside(X, G2, S2)):
        out[b] = _project_block(X, nz, G2[b], S2[:, b])
    return out


def block_correlations(X, lam, patterns) -> np.ndarray:
    r"""Norms :math:`\|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2` of every block, shape (2p,)."""
    return np.linalg.norm(cone_projections(X, lam, patterns), axis=1)


def max_correlation(X, lam, patterns) -> float:
    r""":math:`M(\lambda)` over the given patterns (the true M when ``patterns`` are all chambers).

    Projections are computed in decreasing order of :math:`\|g_b\|` and stopped as soon as
    :math:`\|g_b\|` (an upper bound on :math:`\|\Pi(g_b)\|`) cannot beat the current maximum.
    """
    X, G2, S2 = _block_gradients(X, lam, patterns)
    if G2.shape[0] == 0:
        return 0.0
    norms = np.linalg.norm(G2, axis=1)
    inside = _inside(X, G2, S2)
    best = float(norms[inside].max(initial=0.0))
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    todo = np.flatnonzero(~inside)
    for b in todo[np.argsort(-norms[todo], kind="stable")]:
        if norms[b] <= best:
            break
        best = max(best, float(np.linalg.norm(_project_block(X, nz, G2[b], S2[:, b]))))
    return best


# --------------------------------------------------------------------------------------------------
# Chambers for the certificate


def chamber_bound(X) -> int:
    r"""Cover's bound :math:`2\sum_{k<r}\binom{L-1}{k}` on the number of chambers.

    r = rank X, L = number of nonzero rows; exact for rows in general position.
    """
    X = check_matrix(X)
    L = int(np.count_nonzero(np.any(X != 0, axis=1)))
    if L == 0:
        return 1
    r = int(np.linalg.matrix_rank(X))
    return 2 * sum(math.comb(L - 1, k) for k in range(r))


def complete_chambers(X, patterns=None, chambers=None, *,
                      max_chambers: int | None = DEFAULT_MAX_CHAMBERS):
    """A complete chamber list for X, or ``(None, reason)`` when enumerating it is unaffordable.

    Returns ``chambers`` if given (must be complete), else ``patterns`` if complete, else
    :func:`hiddenconvex.patterns.exact_chambers` of X when :func:`chamber_bound` is at most
    ``max_chambers`` (``None``: no limit).

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
    bound = chamber_bound(X)
    if max_chambers is not None and bound > max_chambers:
        return None, (f"pattern list is incomplete and enumerating all chambers is unaffordable "
                      f"(Cover bound {bound} > max_chambers = {max_chambers}): M(lambda) over all "
                      "chambers and a lower bound are unavailable")
    from .patterns import exact_chambers  # deferred: enumeration is only needed here

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
        from .patterns import exact_chambers

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
        :math:`M(\lambda)` over ALL chambers (None when they could not be enumerated).
    M_patterns : float or None
        :math:`M(\lambda)` over the given pattern list only (not a certificate by itself).
    beta : float
    certified : bool
        All chambers checked, :math:`M(\lambda) \le \beta(1+tol)` and
        gap ≤ ``gap_tol``·max(1, |primal|).
    complete : bool
        M was computed over all chambers.
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

    @property
    def relative_gap(self) -> float | None:
        if self.gap is None:
            return None
        return self.gap / max(1.0, abs(self.primal))

    def to_record(self) -> dict:
        return {
            "certified": self.certified, "complete": self.complete,
            "max_correlation": self.M, "max_correlation_patterns": self.M_patterns,
            "beta": self.beta, "primal": self.primal, "lower_bound": self.lower_bound,
            "gap": self.gap, "relative_gap": self.relative_gap, "dual_value": self.dual_value,
            "t": self.t, "num_chambers": self.num_chambers, "certificate_tol": self.tol,
            "certificate_gap_tol": self.gap_tol, "reasons": list(self.reasons),
            "certificate_dual": self.dual_source,
        }


def _best_scale(loss, lam, y, M, beta) -> tuple[float, float]:
    """max_{t ∈ [0, β/M]} −ℓ*(−tλ) (t also limited by the loss's domain)."""
    t_max = beta / M if M > 0 else math.inf
    t_max = min(t_max, loss.max_dual_scale(lam, y))
    if math.isinf(t_max) and loss.name != "squared":
        # only λ = 0 has an unbounded scale in the logistic/hinge domains
        return 0.0, float(loss.dual_value(np.zeros_like(lam), y))
    t, value = loss.best_dual_scale(lam, y, t_max)
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
        (``None``: always), else the certificate says that M and the lower bound are unavailable.
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
        Relative gap tolerance, ``gap <= gap_tol * max(1, |primal|)`` (default ``10 * tol``: with
        :math:`M = \beta(1+tol)` the bound may lose about ``tol`` times the regularization).
    chambers : Patterns, optional
        A complete chamber list to use (e.g. enumerated once for a regularization path).

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
    full, why = complete_chambers(X, patterns, chambers, max_chambers=max_chambers)
    if full is None:
        M_patterns = None if patterns is None else max_correlation(X, lam, patterns)
        return Certificate(M=None, M_patterns=M_patterns, beta=beta, certified=False,
                           complete=False, primal=primal, lower_bound=None, gap=None,
                           dual_value=float(loss.dual_value(lam, y)), t=None, num_chambers=None,
                           tol=tol, gap_tol=gap_tol, reasons=(why,), dual_source=source)
    best = None
    for src, cand in candidates:
        cert = _check(problem, cand, primal, patterns, full, tol, gap_tol, src)
        if cert.certified:
            return cert
        if best is None or cert.lower_bound > best.lower_bound:
            best = cert
    return best


def _check(problem, lam, primal, patterns, full, tol, gap_tol, source) -> Certificate:
    X, y, beta, loss = problem.X, problem.y, problem.beta, problem.loss
    M_patterns = None if patterns is None else max_correlation(X, lam, patterns)
    M = max_correlation(X, lam, full)
    t, lb = _best_scale(loss, lam, y, M, beta)
    gap = primal - lb
    reasons = []
    if M > beta * (1.0 + tol):
        reasons.append(
            f"dual infeasible over all chambers: M(lambda) = {M:.10g} > beta = {beta:.10g}"
        )
    if gap > gap_tol * max(1.0, abs(primal)):
        reasons.append(f"duality gap {gap:.3g} exceeds {gap_tol:.1g} x max(1, |primal|)")
    return Certificate(M=M, M_patterns=M_patterns, beta=beta, certified=not reasons, complete=True,
                       primal=primal, lower_bound=lb, gap=gap,
                       dual_value=float(loss.dual_value(lam, y)), t=t, num_chambers=int(full.p),
                       tol=tol, gap_tol=gap_tol, reasons=tuple(reasons), dual_source=source)
