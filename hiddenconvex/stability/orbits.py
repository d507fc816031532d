r"""The rescaling orbit of a shallow parametrization and the exact distance to it (paper B;
SPEC §5.3, §5.7).

Two parametrizations in :math:`N_{(d,m,D)}` realize the same function when one is a permutation
of the other's neurons with positive per-neuron rescalings :math:`(t a_i, c_i/t)` (positive
homogeneity of ρ), dead neurons (a_i = 0 or c_i = 0) being interchangeable. This module computes,
exactly,

* the best rescaling of one neuron towards a reference neuron (:func:`best_rescaling`,
  :func:`neuron_rescaling`: a 1-D quasi-convex minimization solved at its breakpoints);
* the permutation minimizing the largest cost (:func:`bottleneck_assignment`);
* their combination, :math:`\min\|\Phi - \Gamma\|_\infty` over the orbit of Θ
  (:func:`rescaling_orbit_distance`), with a certificate of when that orbit contains every
  realization of R(Θ) of the same width (:func:`realizations_are_orbit`, via Lemma A.5).

Directions are compared with :data:`~hiddenconvex.stability.shallow.DIRECTION_TOL`. Pure
NumPy/SciPy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import InputError
from .shallow import (
    DIRECTION_TOL,
    ShallowNetwork,
    check_network,
    check_same_architecture,
    hyperplane_groups,
    live_neurons,
    parameter_distance,
    zero_sum_subsets,
)

__all__ = [
    "best_rescaling", "neuron_rescaling", "bottleneck_assignment", "OrbitDistance",
    "rescaling_orbit_distance", "realizations_are_orbit",
]


def _branches(a, c, a_ref, c_ref) -> np.ndarray:
    """Rows (α, β, γ) of the functions α t + β + γ/t whose max is F(t) (see best_rescaling)."""
    rows = []
    for al, rl in zip(a, a_ref, strict=True):
        rows += [(al, -rl, 0.0), (-al, rl, 0.0)]
    for ck, sk in zip(c, c_ref, strict=True):
        rows += [(0.0, -sk, ck), (0.0, sk, -ck)]
    return np.array(rows, dtype=float)


def best_rescaling(a, c, a_ref, c_ref) -> tuple[float, float]:
    """Exact :math:`\\min_{t>0} F(t)`, :math:`F(t) = \\max(\\|t a - a_{ref}\\|_\\infty,
    \\|c/t - c_{ref}\\|_\\infty)`: the best positive rescaling :math:`(ta, c/t)` of one neuron.

    F is the max of the functions ±(t a_l − a_ref,l) and ±(c_k/t − c_ref,k); each |·| term is
    monotone-then-monotone in t, so F is quasi-convex, and coercive when a ≠ 0 and c ≠ 0. Its
    minimum is attained where an increasing and a decreasing branch cross or on a plateau of a
    constant branch, whose ends are crossings too. All crossings (roots of
    :math:`(\\alpha_i-\\alpha_j)t^2 + (\\beta_i-\\beta_j)t + (\\gamma_i-\\gamma_j) = 0`, t > 0) are
    evaluated.

    Parameters
    ----------
    a, a_ref : array, shape (d,)
    c, c_ref : array, shape (D,)

    Returns
    -------
    (t, value) : the minimizer and the minimum.
    """
    a = np.atleast_1d(np.asarray(a, dtype=float))
    c = np.atleast_1d(np.asarray(c, dtype=float))
    a_ref = np.atleast_1d(np.asarray(a_ref, dtype=float))
    c_ref = np.atleast_1d(np.asarray(c_ref, dtype=float))
    if a.shape != a_ref.shape or c.shape != c_ref.shape:
        raise InputError("best_rescaling: shapes of a/a_ref or c/c_ref differ")
    if not np.any(a != 0) or not np.any(c != 0):
        raise InputError("best_rescaling needs a nonzero neuron (a != 0 and c != 0)")
    B = _branches(a, c, a_ref, c_ref)
    i, j = np.triu_indices(B.shape[0], k=1)
    qa, qb, qc = (B[i, 0] - B[j, 0]), (B[i, 1] - B[j, 1]), (B[i, 2] - B[j, 2])
    cand = [np.array([1.0])]
    lin = (qa == 0) & (qb != 0)
    cand.append(-qc[lin] / qb[lin])
    quad = qa != 0
    disc = qb[quad] ** 2 - 4 * qa[quad] * qc[quad]
    okd = disc >= 0
    qa2, qb2, qc2, sq = qa[quad][okd], qb[quad][okd], qc[quad][okd], np.sqrt(disc[okd])
    # numerically stable roots: q = -(b + sign(b) sqrt(disc))/2, roots q/a and c/q
    q = -0.5 * (qb2 + np.where(qb2 >= 0, 1.0, -1.0) * sq)
    cand.append(q[q != 0] / qa2[q != 0])
    nzq = q != 0
    cand.append(qc2[nzq] / q[nzq])
    t = np.concatenate(cand)
    t = t[np.isfinite(t) & (t > 0)]
    F = np.maximum(np.max(np.abs(np.outer(t, a) - a_ref), axis=1),
                   np.max(np.abs(np.outer(1.0 / t, c) - c_ref), axis=1))
    k = int(np.argmin(F))
    return float(t[k]), float(F[k])


def bottleneck_assignment(cost) -> tuple[np.ndarray, float]:
    """Permutation minimizing :math:`\\max_i \\text{cost}[i, \\pi(i)]` (ties: least total cost).

    Parameters
    ----------
    cost : array, shape (n, n)

    Returns
    -------
    perm : int array, shape (n,)
        ``perm[i]`` = column assigned to row i.
    value : float
        The bottleneck value (0 for n = 0).
    """
    C = np.asarray(cost, dtype=float)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise InputError(f"cost must be a square matrix, got shape {C.shape}")
    n = C.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int), 0.0
    if not np.all(np.isfinite(C)):
        raise InputError("cost contains NaN or inf")
    levels = np.unique(C)

    def feasible(tau: float) -> bool:
        r, col = linear_sum_assignment((C > tau).astype(float))
        return bool(np.sum((C > tau)[r, col]) == 0)

    lo, hi = 0, levels.size - 1  # levels[hi] is always feasible
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(levels[mid]):
            hi = mid
        else:
            lo = mid + 1
    tau = levels[lo]
    big = np.where(C > tau, C.sum() + 1.0 + n * np.abs(C).max(), C)
    r, col = linear_sum_assignment(big)
    perm = np.empty(n, dtype=int)
    perm[r] = col
    return perm, float(np.max(C[np.arange(n), perm]))


@dataclass(frozen=True)
class OrbitDistance:
    """Minimum of :math:`\\|\\Phi - \\Gamma\\|_\\infty` over the rescaling orbit of Θ.

    The orbit: permutations of Θ's neurons, positive per-neuron rescalings :math:`(t a_i, c_i/t)`,
    and replacement of a dead neuron (a_i = 0 or c_i = 0) by any dead neuron.

    Attributes
    ----------
    value : float
        The exact minimum over the orbit.
    phi : ShallowNetwork
        A minimizer (realizes R(Θ)).
    perm : int array, shape (m,)
        Slot i of Φ holds neuron ``perm[i]`` of Θ.
    scales : array, shape (m,)
        The rescaling t of each slot (NaN for dead neurons).
    complete : bool
        True when the orbit provably contains EVERY width-m realization of R(Θ)
        (:func:`realizations_are_orbit`), so ``value`` is the minimum over all of them.
    """

    value: float
    phi: ShallowNetwork
    perm: np.ndarray
    scales: np.ndarray
    complete: bool

    def to_record(self) -> dict:
        return {"orbit_distance": self.value, "perm": self.perm.tolist(),
                "scales": self.scales.tolist(), "complete": self.complete}


def realizations_are_orbit(theta: ShallowNetwork, tol: float = DIRECTION_TOL) -> bool:
    """True when a sufficient condition holds for: every Φ ∈ N_(d,m,D) (m = width of Θ) with
    R(Φ) = R(Θ) is a permutation plus positive rescalings of Θ's neurons (False: not certified).

    The condition (proof: the m kink hyperplanes of R(Θ) each need a neuron, so each
    Φ neuron sits on one of them with the same jump :math:`c_ia_i^T`; a neuron pointing to the other
    side differs by the linear function :math:`c_i\\langle a_i, x\\rangle`, so the flipped set J
    must have :math:`\\sum_J c_ia_i^T = 0`, Lemma A.5): every neuron has a_i ≠ 0 and c_i ≠ 0, the
    hyperplanes :math:`a_i^\\perp` are pairwise distinct, and no nonempty subset has :math:`\\sum_J
    c_i a_i^T = 0`.
    """
    check_network(theta, "theta")
    if theta.width == 0:
        return True
    if not np.all(live_neurons(theta)):
        return False
    normals, _, _ = hyperplane_groups(theta.A, tol)
    if normals.shape[0] != theta.width:
        return False
    return not zero_sum_subsets(theta)


def neuron_rescaling(a, c, a_ref, c_ref) -> tuple[np.ndarray, np.ndarray, float]:
    """The neuron computing the same function as (a, c) closest to (a_ref, c_ref) in
    :math:`\\|\\cdot\\|_\\infty`, among the positive rescalings :math:`(ta, c/t)`, t > 0
    (:func:`best_rescaling`), or, when (a, c) is dead (a = 0 or c = 0), among all dead neurons:
    the cheaper of :math:`(0, c_{ref})` (cost :math:`\\|a_{ref}\\|_\\infty`) and
    :math:`(a_{ref}, 0)` (cost :math:`\\|c_{ref}\\|_\\infty`).

    Returns
    -------
    (a_new, c_new, cost) : arrays of shapes (d,), (D,) and the distance.
    """
    a, c, a_ref, c_ref = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, c, a_ref, c_ref))
    if not np.any(a != 0) or not np.any(c != 0):
        na, nc = float(np.max(np.abs(a_ref))), float(np.max(np.abs(c_ref)))
        if na <= nc:
            return np.zeros_like(a_ref), c_ref.copy(), na
        return a_ref.copy(), np.zeros_like(c_ref), nc
    t, _ = best_rescaling(a, c, a_ref, c_ref)
    a_new, c_new = t * a, c / t
    cost = max(float(np.max(np.abs(a_new - a_ref))), float(np.max(np.abs(c_new - c_ref))))
    return a_new, c_new, cost


def rescaling_orbit_distance(theta: ShallowNetwork, gamma: ShallowNetwork,
                             tol: float = DIRECTION_TOL) -> OrbitDistance:
    """Exact :math:`\\min \\|\\Phi - \\Gamma\\|_\\infty` over the rescaling orbit of Θ (see
    :class:`OrbitDistance`): per (slot, neuron) the exact 1-D minimum of :func:`neuron_rescaling`,
    then :func:`bottleneck_assignment` (for a fixed permutation the rescalings are independent, so
    the min of the max is the max of the per-neuron minima).
    """
    check_same_architecture(theta, gamma, ("theta", "gamma"))
    m = theta.width
    best = [[neuron_rescaling(theta.A[j], theta.C[:, j], gamma.A[i], gamma.C[:, i])
             for j in range(m)] for i in range(m)]
    cost = np.array([[best[i][j][2] for j in range(m)] for i in range(m)]).reshape(m, m)
    perm, _ = bottleneck_assignment(cost)
    A = np.zeros_like(gamma.A)
    C = np.zeros_like(gamma.C)
    live = live_neurons(theta)
    scales = np.full(m, np.nan)
    for i in range(m):
        j = perm[i]
        A[i], C[:, i], _ = best[i][j]
        if live[j]:
            scales[i] = float(np.max(np.abs(A[i])) / np.max(np.abs(theta.A[j])))
    phi = ShallowNetwork(A, C)
    return OrbitDistance(value=parameter_distance(phi, gamma), phi=phi, perm=perm, scales=scales,
                         complete=realizations_are_orbit(theta, tol))

