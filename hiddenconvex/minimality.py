r"""Minimal and nearly minimal networks, merging, the descent path, and the global certificate.

Definitions (SPEC §4.5). Two nonzero neurons *share a cone* when some closed chamber cone contains
both first-layer vectors; equivalently their pre-activation sign vectors are conformal (no row ``j``
with :math:`(x_j^Tu_i)(x_j^Tu_k) < 0`). A network is

* *minimal* if it is scaled and no two nonzero neurons with the same output sign share a group,
* *nearly minimal* if it is scaled and any two same-sign nonzero neurons sharing a group are
  positively colinear.

The group relation is chosen by ``grouping``:

==================  ===================================================================
``"cone"``          conformal sign vectors (the default; a pairwise relation)
``"ge_pattern"``    same :math:`1(Xu \ge 0)`
``"strict_pattern"`` same :math:`1(Xu > 0)`
``"cell"``          same :math:`\operatorname{sign}(Xu) \in \{-,0,+\}^n`
==================  ===================================================================

All four coincide when no nonzero neuron has a zero pre-activation. The Clarke-stationarity theorem
holds only for ``"cell"`` at non-differentiable points (SPEC §4.8, counterexamples CE1/CE2).

Tolerances (SPEC §4.11), all relative: a pre-activation :math:`x_j^Tu` counts as 0 when
:math:`|x_j^Tu| \le tol\,\|x_j\|\,\|u\|`; neurons are zero when ``max(‖u‖, |α|) <= tol * scale``;
scaled means ``| ‖u‖ − |α| | <= tol * scale``; colinear means ``‖u_i/‖u_i‖ − u_k/‖u_k‖‖ <= tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, check_matrix
from .network import (
    ReLUNetwork,
    balance,
    network_scale,
    nonzero_neurons,
    pad,
    relu,
    scaling_violation,
)
from .objective import Problem, objective

__all__ = [
    "GROUPINGS",
    "DEFAULT_TOL",
    "sign_vector",
    "shares_cone",
    "same_group",
    "colinear",
    "MinimalityReport",
    "minimality_report",
    "is_minimal",
    "is_nearly_minimal",
    "merge_colinear",
    "to_minimal",
    "path_to_nearly_minimal",
    "GlobalCertificate",
    "certify_global",
]

GROUPINGS = ("cone", "ge_pattern", "strict_pattern", "cell")
DEFAULT_TOL = 1e-8


def _check_grouping(grouping: str) -> str:
    if grouping not in GROUPINGS:
        raise InputError(f"unknown grouping {grouping!r}; choose one of {', '.join(GROUPINGS)}")
    return grouping


def sign_vector(u, X, tol: float = DEFAULT_TOL) -> np.ndarray:
    r"""``sign(X u) ∈ {−1, 0, +1}^n`` with :math:`|x_j^Tu| \le tol\,\|x_j\|\,\|u\|` counted as 0."""
    X = np.asarray(X, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    z = X @ u
    thresh = tol * np.linalg.norm(X, axis=1) * float(np.linalg.norm(u))
    return np.where(z > thresh, 1, np.where(z < -thresh, -1, 0)).astype(np.int8)


def shares_cone(u, v, X, tol: float = DEFAULT_TOL) -> bool:
    """True when a closed chamber cone contains both ``u`` and ``v`` (conformal sign vectors)."""
    return bool(not np.any(sign_vector(u, X, tol) * sign_vector(v, X, tol) < 0))


def _same_group_signs(si: np.ndarray, sk: np.ndarray, grouping: str) -> bool:
    if grouping == "cone":
        return bool(not np.any(si * sk < 0))
    if grouping == "ge_pattern":
        return bool(np.array_equal(si >= 0, sk >= 0))
    if grouping == "strict_pattern":
        return bool(np.array_equal(si > 0, sk > 0))
    return bool(np.array_equal(si, sk))  # cell


def same_group(u, v, X, grouping: str = "cone", tol: float = DEFAULT_TOL) -> bool:
    """Whether ``u`` and ``v`` fall in the same group under ``grouping`` (see module docstring)."""
    _check_grouping(grouping)
    return _same_group_signs(sign_vector(u, X, tol), sign_vector(v, X, tol), grouping)


def colinear(u, v, tol: float = DEFAULT_TOL) -> bool:
    """Positively colinear nonzero vectors: ``‖u/‖u‖ − v/‖v‖‖ <= tol``."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0.0 or nv == 0.0:
        return False
    return bool(np.linalg.norm(np.asarray(u) / nu - np.asarray(v) / nv) <= tol)


@dataclass(frozen=True)
class MinimalityReport:
    """Outcome of the (nearly) minimal tests for one grouping.

    ``conflicts``: same-sign nonzero pairs ``(i, k)`` in one group; ``noncolinear``: those that are
    not positively colinear (they violate near-minimality).
    """

    grouping: str
    scaled: bool
    scaling_violation: float
    nonzero: tuple[int, ...]
    conflicts: tuple[tuple[int, int], ...]
    noncolinear: tuple[tuple[int, int], ...]

    @property
    def minimal(self) -> bool:
        return self.scaled and not self.conflicts

    @property
    def nearly_minimal(self) -> bool:
        return self.scaled and not self.noncolinear

    def to_record(self) -> dict:
        return {"grouping": self.grouping, "scaled": self.scaled, "minimal": self.minimal,
                "nearly_minimal": self.nearly_minimal, "num_conflicts": len(self.conflicts),
                "num_noncolinear": len(self.noncolinear)}


def _check_net_X(net: ReLUNetwork, X) -> np.ndarray:
    if not isinstance(net, ReLUNetwork):
        raise InputError(f"expected a ReLUNetwork, got {type(net).__name__}")
    return net._check_X(check_matrix(X))


def minimality_report(net: ReLUNetwork, X, grouping: str = "cone",
                      tol: float = DEFAULT_TOL) -> MinimalityReport:
    """All same-sign pairs of nonzero neurons that share a group, and which of them are not
    colinear."""
    X = _check_net_X(net, X)
    _check_grouping(grouping)
    nz = np.flatnonzero(nonzero_neurons(net, tol) & (net.neuron_norms() > 0))
    signs = {i: sign_vector(net.U[i], X, tol) for i in nz}
    conflicts, noncol = [], []
    for a_pos, i in enumerate(nz):
        for k in nz[a_pos + 1:]:
            if np.sign(net.alpha[i]) != np.sign(net.alpha[k]):
                continue
            if _same_group_signs(signs[i], signs[k], grouping):
                conflicts.append((int(i), int(k)))
                if not colinear(net.U[i], net.U[k], tol):
                    noncol.append((int(i), int(k)))
    viol = scaling_violation(net)
    return MinimalityReport(
        grouping=grouping, scaled=bool(viol <= tol * network_scale(net)), scaling_violation=viol,
        nonzero=tuple(int(i) for i in nz), conflicts=tuple(conflicts), noncolinear=tuple(noncol),
    )


def is_minimal(net: ReLUNetwork, X, grouping: str = "cone", tol: float = DEFAULT_TOL) -> bool:
    """Scaled, and no two same-sign nonzero neurons in one group (SPEC §4.5)."""
    return minimality_report(net, X, grouping, tol).minimal


def is_nearly_minimal(net: ReLUNetwork, X, grouping: str = "cone",
                      tol: float = DEFAULT_TOL) -> bool:
    """Scaled, and same-sign nonzero neurons in one group are positively colinear (SPEC §4.5)."""
    return minimality_report(net, X, grouping, tol).nearly_minimal


# --------------------------------------------------------------------------------------------------
# Merging. Internally a neuron is (γ, w) with w = |α| u (its convex weight); back by ψ.


def _to_weights(net: ReLUNetwork, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(γ, w) per neuron of the balanced net; zero neurons get γ = 0 and w = 0."""
    b = balance(net)
    live = nonzero_neurons(b, tol) & (b.neuron_norms() > 0) & (b.alpha != 0)
    gamma = np.where(live, np.sign(b.alpha), 0.0)
    W = np.where(live[:, None], np.abs(b.alpha)[:, None] * b.U, 0.0)
    return gamma, W


def _from_weights(gamma: np.ndarray, W: np.ndarray) -> ReLUNetwork:
    r = np.sqrt(np.linalg.norm(W, axis=1))
    U = np.zeros_like(W)
    pos = r > 0
    U[pos] = W[pos] / r[pos, None]
    return ReLUNetwork(U, np.where(pos, gamma * r, 0.0))


def merge_colinear(net: ReLUNetwork, tol: float = DEFAULT_TOL,
                   width: int | None = None) -> ReLUNetwork:
    r"""Merge same-sign positively colinear neurons (SPEC §4.7) into one balanced neuron each.

    A group ``G`` becomes :math:`(w/\sqrt{\|w\|}, \pm\sqrt{\|w\|})` with
    :math:`w = \sum_{i\in G}|\alpha_i|u_i`. The prediction is unchanged on every input (exactly
    colinear neurons) and :math:`L_\beta` does not increase. Neurons with exactly one of ``u``,
    ``α`` zero are dropped. Merged neurons come in order of first appearance, padded with zero
    neurons to ``width`` (default: ``net.width``).
    """
    gamma, W = _to_weights(net, tol)
    groups: list[tuple[float, np.ndarray, np.ndarray]] = []  # (γ, unit direction, summed w)
    for g, w in zip(gamma, W, strict=True):
        if g == 0:
            continue
        unit = w / np.linalg.norm(w)
        for idx, (g2, u2, s2) in enumerate(groups):
            if g2 == g and np.linalg.norm(unit - u2) <= tol:
                groups[idx] = (g2, u2, s2 + w)
                break
        else:
            groups.append((g, unit, w.copy()))
    if groups:
        out = _from_weights(np.array([g for g, _, _ in groups]),
                            np.array([s for _, _, s in groups]))
    else:
        out = ReLUNetwork.zeros(0, net.d)
    return pad(out, net.width if width is None else width)


def _find_mergeable_pair(gamma, W, X, tol) -> tuple[int, int] | None:
    live = np.flatnonzero(gamma != 0)
    signs = {i: sign_vector(W[i], X, tol) for i in live}
    for a_pos, i in enumerate(live):
        for k in live[a_pos + 1:]:
            if gamma[i] == gamma[k] and not np.any(signs[i] * signs[k] < 0) \
                    and not colinear(W[i], W[k], tol):
                return int(i), int(k)
    return None


def to_minimal(net: ReLUNetwork, X, tol: float = DEFAULT_TOL,
               width: int | None = None) -> ReLUNetwork:
    r"""A minimal network (grouping ``"cone"``) with the same fit on ``X`` and :math:`L_\beta` not
    larger.

    Balance; merge every same-sign pair sharing a closed chamber cone (``w_i + w_k`` stays in the
    cone, so the fit on ``X`` is unchanged and :math:`\|w_i + w_k\| \le \|w_i\| + \|w_k\|`); merge
    colinear neurons. For an optimal network only colinear merges happen and the result is the θ^min
    of SPEC §4.6 (A-T3), again optimal. Padded to ``width`` (default: ``net.width``).
    """
    X = _check_net_X(net, X)
    gamma, W = _to_weights(net, tol)
    while (pair := _find_mergeable_pair(gamma, W, X, tol)) is not None:
        i, k = pair
        W[i] = W[i] + W[k]
        W[k] = 0.0
        gamma[k] = 0.0
    return merge_colinear(_from_weights(gamma, W), tol, width=net.width if width is None else width)


def path_to_nearly_minimal(net: ReLUNetwork, X, *, steps: int = 8,
                           tol: float = DEFAULT_TOL) -> list[ReLUNetwork]:
    r"""Samples of a continuous path from ``net`` to a nearly minimal network (A-T4, SPEC §4.7,
    §4.9).

    Stage 1 (balancing): each unscaled neuron follows :math:`(\tau u, \alpha/\tau)` with
    :math:`\tau^2` moving linearly from 1 to :math:`|\alpha|/\|u\|` (a neuron with one zero factor
    shrinks the other linearly to 0); the fit is constant and the regularizer decreases
    monotonically.
    Stage 2 (merging): while two same-sign neurons share a closed chamber cone and are not colinear,
    follow :math:`(w_1 + t w_2, (1-t) w_2)`, ``t ∈ [0, 1]``, mapped by ψ: both stay in the cone, the
    fit on ``X`` is constant and :math:`\|w_1+tw_2\| + (1-t)\|w_2\|` strictly decreases.

    Returns the path sampled at ``steps`` interior points per segment, starting with ``net`` and
    ending with a nearly minimal (``"cone"``) network of the same width. Along it :math:`L_\beta` is
    non-increasing (strictly decreasing within each segment unless ``net`` was nearly minimal
    already).
    """
    X = _check_net_X(net, X)
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    ts = np.linspace(0.0, 1.0, steps + 1)[1:]
    path = [net]
    # Stage 1: balancing.
    norms, absa = net.neuron_norms(), np.abs(net.alpha)
    both = (norms > 0) & (absa > 0) & (norms != absa)
    one = (norms > 0) ^ (absa > 0)
    if np.any(both) or np.any(one):
        s_star = np.ones(net.width)
        s_star[both] = absa[both] / norms[both]
        for t in ts:
            s = 1.0 + t * (s_star - 1.0)
            tau = np.sqrt(s)
            U = net.U * np.where(both, tau, 1.0)[:, None]
            a = net.alpha / np.where(both, tau, 1.0)
            U = np.where((one & (norms > 0))[:, None], (1.0 - t) * net.U, U)
            a = np.where(one & (absa > 0), (1.0 - t) * net.alpha, a)
            path.append(ReLUNetwork(U, a))
        path[-1] = balance(net)
    # Stage 2: merging pairs that share a cone.
    gamma, W = _to_weights(path[-1], tol)
    while (pair := _find_mergeable_pair(gamma, W, X, tol)) is not None:
        i, k = pair
        w1, w2 = W[i].copy(), W[k].copy()
        for t in ts:
            W[i], W[k] = w1 + t * w2, (1.0 - t) * w2
            path.append(_from_weights(gamma, W))
        W[k] = 0.0
        gamma[k] = 0.0
    return path


# --------------------------------------------------------------------------------------------------
# Global optimality certificate for a network (SPEC §4.7 certify_global, §2.4).


@dataclass(frozen=True)
class GlobalCertificate:
    r"""Certificate that a network attains :math:`P_c = P^*_m` (SPEC §4.7).

    (C1) scaled; (C2) every nonzero neuron has
    :math:`\operatorname{sign}(\alpha_i)\lambda^T\sigma(X\hat u_i) = \beta`; (C3)
    :math:`M(\lambda) \le \beta(1 + tol)` over ALL chambers, with
    :math:`\lambda = -\nabla\ell(f_\theta(X))`. Independently of (C1)–(C2), ``lower_bound`` is a
    valid dual value (weak duality) whenever the pattern list is complete, so
    ``gap = primal − lower_bound`` bounds :math:`L_\beta(\theta) - P_c`.
    """

    certified: bool
    scaled: bool
    scaling_violation: float
    correlations: np.ndarray
    correlation_violation: float
    max_correlation: float
    beta: float
    complete: bool
    primal: float
    lower_bound: float
    gap: float
    reasons: tuple[str, ...] = field(default=())

    def to_record(self) -> dict:
        return {"certified": self.certified, "scaled": self.scaled,
                "scaling_violation": self.scaling_violation,
                "correlation_violation": self.correlation_violation,
                "max_correlation": self.max_correlation, "beta": self.beta,
                "complete": self.complete, "primal": self.primal,
                "lower_bound": self.lower_bound, "gap": self.gap, "reasons": list(self.reasons)}


def certify_global(net: ReLUNetwork, problem: Problem, patterns=None, *,
                   tol: float = 1e-6) -> GlobalCertificate:
    r"""Check (C1)–(C3) of SPEC §4.7 for ``net`` on ``problem``.

    Parameters
    ----------
    patterns : Patterns, optional
        Must be the complete chamber list for a certificate (default: :func:`exact_chambers` of X).
    tol : float
        Relative tolerance of (C1) (times the network scale), (C2) and (C3) (times β).

    Notes
    -----
    Sufficient for global optimality (proof: (C1)–(C2) give :math:`\beta\sum|\alpha_i|\|u_i\| =
    \lambda^T\hat y`, so :math:`L_\beta(\theta) = -\ell^*(-\lambda)`, a dual-feasible value by
    (C3)); also necessary when the width is at least m*. For the hinge loss λ is the subgradient
    convention of :class:`~hiddenconvex.losses.Hinge`, so a failed check is not a proof of
    non-optimality.
    """
    from .certificate import max_correlation  # deferred: certificate imports the solver stack

    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    X = _check_net_X(net, problem.X)
    if patterns is None:
        from .patterns import exact_chambers

        patterns = exact_chambers(X)
    beta, loss = problem.beta, problem.loss
    yhat = net.predict(X)
    lam = loss.dual_point(yhat, problem.y)
    reasons = []
    viol = scaling_violation(net)
    scaled = viol <= tol * network_scale(net)
    if not scaled:
        reasons.append(f"not scaled (max | |u|-|a| | = {viol:.3g})")
    live = np.flatnonzero(nonzero_neurons(net, DEFAULT_TOL) & (net.neuron_norms() > 0))
    units = net.U[live] / net.neuron_norms()[live, None]
    corr = np.sign(net.alpha[live]) * (relu(X @ units.T).T @ lam) if live.size else np.zeros(0)
    cviol = float(np.max(np.abs(corr - beta)) / beta) if live.size else 0.0
    if cviol > tol:
        reasons.append(f"a neuron is not equicorrelated (max |corr - beta|/beta = {cviol:.3g})")
    M = float(max_correlation(X, lam, patterns))
    complete = bool(getattr(patterns, "complete", False))
    if not complete:
        reasons.append("pattern list is not complete: M(lambda) is only a lower estimate")
    if M > beta * (1.0 + tol):
        reasons.append(f"dual infeasible: M(lambda) = {M:.10g} > beta = {beta:.10g}")
    primal = objective(problem, net).total
    t_max = beta / M if M > 0 else 1e12
    _, lb = loss.best_dual_scale(lam, problem.y, t_max)
    lb = float(lb) if complete else -np.inf
    return GlobalCertificate(
        certified=not reasons, scaled=bool(scaled), scaling_violation=viol, correlations=corr,
        correlation_violation=cviol, max_correlation=M, beta=beta, complete=complete,
        primal=float(primal), lower_bound=lb, gap=float(primal - lb), reasons=tuple(reasons),
    )
