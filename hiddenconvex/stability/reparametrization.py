r"""Inverse stability of shallow ReLU parametrizations (paper B: Berner, Elbrächter & Grohs, NeurIPS
2019; SPEC §5).

The realization map :math:`R` is (s, α) *inverse stable* on Ω if for all Γ ∈ Ω and g ∈ R(Ω) there is
Φ ∈ Ω with R(Φ) = g and :math:`\|\Phi - \Gamma\|_\infty \le s\,\|g - R(\Gamma)\|^\alpha` (Def 1.1).
This module implements, for the biasless shallow space :math:`N_{(d,m,D)}`
(:class:`~hiddenconvex.shallow.ShallowNetwork`) and the semi-norm :math:`|\cdot|_{W^{1,\infty}}`
(computed exactly by :func:`~hiddenconvex.sobolev.seminorm`):

* the restricted spaces N' (balanced + C.2, eq. (36)) and N* (Def 3.2) with membership tests;
* the augmentation of Lemma A.6 / Corollary 1.4: any biased Θ ∈ P_(d,m,D) becomes Γ ∈ N*_(d+2,m+1,D)
  with :math:`R(\Gamma)(x, 1, -1) = R(\Theta)(x)` (SPEC §5.4 construction [R]);
* the reparametrizations Φ of Theorem 3.1 (at Γ, D = 1, conditions C.1–C.3; bound
  :math:`\beta + 2\varepsilon^{1/2}`; the constructive proof of SPEC §5.5 or the best Φ with one
  neuron per direction of g) and Theorem 3.3 (uniform on N*, bound :math:`4\varepsilon^{1/2}`;
  the matching construction of SPEC §5.6 or the best Φ in N*), returned with the bound checked
  (:class:`Reparametrization`);
* the rescaling-orbit distance: the minimum of :math:`\|\Phi - \Gamma\|_\infty` over all
  permutations and positive per-neuron rescalings Φ of Θ, computed exactly (per-neuron 1-D
  minimization by breakpoints, then a bottleneck assignment), with a certificate of when that orbit
  contains every realization of R(Θ) of the same width;
* Prop 1.2's radius :math:`(r/s)^{1/\alpha}`.

Tolerances: directions are compared with :data:`~hiddenconvex.shallow.DIRECTION_TOL` on ∞-normalized
vectors; "balanced" with :data:`~hiddenconvex.shallow.BALANCE_TOL`; ``holds`` allows a rounding
slack ``1e-9·bound + 1e-12·max(1, ‖Γ‖, ‖Θ‖)``. Pure NumPy/SciPy; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import InputError, SolverError
from .shallow import (
    BALANCE_TOL,
    DIRECTION_TOL,
    BiasedShallowNetwork,
    ShallowNetwork,
    balance,
    balance_violation,
    check_network,
    check_same_architecture,
    direction_groups,
    hyperplane_groups,
    live_neurons,
    merge_redundant,
    neuron_norms,
    normalized_directions,
    parameter_distance,
    zero_dead,
    zero_sum_subsets,
)
from .sobolev import seminorm_distance

__all__ = [
    "positively_parallel_pairs", "opposite_pairs", "restricted_space_violations",
    "in_restricted_space", "in_star_space", "to_restricted", "augment", "lift_inputs",
    "best_rescaling", "neuron_rescaling", "bottleneck_assignment", "OrbitDistance",
    "rescaling_orbit_distance", "realizations_are_orbit", "StabilityConditions",
    "theorem_3_1_conditions", "Reparametrization", "reparametrize_at", "reparametrize_uniform",
    "realization_radius",
]

_SLACK_REL = 1e-9
_SLACK_ABS = 1e-12


def _holds(distance: float, bound: float, *nets: ShallowNetwork) -> bool:
    scale = max([1.0] + [n.norm() for n in nets])
    return bool(distance <= bound * (1 + _SLACK_REL) + _SLACK_ABS * scale)


# ----------------------------------------------------------------------- pairs of directions
def positively_parallel_pairs(A, tol: float = DIRECTION_TOL) -> list[tuple[int, int]]:
    """Pairs i < j of nonzero rows with :math:`\\hat a_i = \\hat a_j` (violations of C.2)."""
    Ahat, norms = normalized_directions(np.asarray(A, dtype=float))
    nz = np.flatnonzero(norms > 0)
    return [(int(i), int(j)) for a, i in enumerate(nz) for j in nz[a + 1:]
            if np.max(np.abs(Ahat[i] - Ahat[j])) <= tol]


def opposite_pairs(A, B=None, tol: float = DIRECTION_TOL) -> list[tuple[int, int]]:
    """Pairs of nonzero rows with :math:`\\hat a_i = -\\hat b_j`.

    Within A (i < j) when ``B`` is None, else between row i of A and row j of B.
    """
    Ahat, na = normalized_directions(np.asarray(A, dtype=float))
    if B is None:
        nz = np.flatnonzero(na > 0)
        return [(int(i), int(j)) for a, i in enumerate(nz) for j in nz[a + 1:]
                if np.max(np.abs(Ahat[i] + Ahat[j])) <= tol]
    Bhat, nb = normalized_directions(np.asarray(B, dtype=float))
    return [(int(i), int(j)) for i in np.flatnonzero(na > 0) for j in np.flatnonzero(nb > 0)
            if np.max(np.abs(Ahat[i] + Bhat[j])) <= tol]


# ----------------------------------------------------------------------------- N' and N*
def restricted_space_violations(net: ShallowNetwork, *, star: bool = False,
                                tol: float = DIRECTION_TOL,
                                rtol: float = BALANCE_TOL) -> tuple[str, ...]:
    """Reasons why ``net`` is not in N' (``star=False``) or N* (``star=True``); empty if it is.

    N' = balanced (‖c_i‖_∞ = ‖a_i‖_∞) and C.2 (no two nonzero directions positively parallel);
    N* = N' and :math:`(a_i)_{d-1} > 0`, :math:`(a_i)_d > 0` for ALL neurons (Def 3.2).
    """
    check_network(net, "net")
    out: list[str] = []
    bad = np.flatnonzero(balance_violation(net) > rtol)
    if bad.size:
        out.append(f"not balanced: neurons {bad.tolist()}")
    pairs = positively_parallel_pairs(net.A, tol)
    if pairs:
        out.append(f"C.2 fails: positively parallel directions {pairs}")
    if star:
        if net.d < 2:
            out.append("N* needs input dimension d >= 2")
        else:
            neg = np.flatnonzero((net.A[:, -2] <= 0) | (net.A[:, -1] <= 0))
            if neg.size:
                out.append(f"last two coordinates not > 0 for neurons {neg.tolist()}")
    return tuple(out)


def in_restricted_space(net: ShallowNetwork, **kw) -> bool:
    """Γ ∈ N'_(d,m,D) (eq. (36))."""
    return not restricted_space_violations(net, star=False, **kw)


def in_star_space(net: ShallowNetwork, **kw) -> bool:
    """Γ ∈ N*_(d,m,D) (Def 3.2)."""
    return not restricted_space_violations(net, star=True, **kw)


def to_restricted(net: ShallowNetwork, tol: float = DIRECTION_TOL) -> ShallowNetwork:
    """A representative in N' of the same realization: merge (eq. (87)) then balance."""
    return balance(merge_redundant(net, tol))


# --------------------------------------------------------------------- Lemma A.6 augmentation
def lift_inputs(X) -> np.ndarray:
    """The slice map :math:`x \\mapsto (x, 1, -1)`; X of shape (n, d) → (n, d+2) (or (d,) →
    (d+2,))."""
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        return np.concatenate([Xa, [1.0, -1.0]])
    if Xa.ndim != 2:
        raise InputError(f"X must have shape (n, d) or (d,), got {Xa.shape}")
    return np.hstack([Xa, np.ones((Xa.shape[0], 1)), -np.ones((Xa.shape[0], 1))])


def augment(theta: BiasedShallowNetwork, tol: float = DIRECTION_TOL) -> ShallowNetwork:
    """Lemma A.6 / Cor 1.4: Γ ∈ N*_(d+2, m+1, D) with :math:`R(\\Gamma)(x,1,-1) = R(\\Theta)(x)`.

    Construction of SPEC §5.4 [R]: (1) neurons with a_i = 0 are constants, moved into the output
    bias; (2) positively parallel affine rows (a_j, b_j) = τ(a_i, b_i) are merged (c_i += τ c_j) and
    neurons with c_i = 0 dropped; (3) each remaining neuron becomes :math:`\\tilde a_i = (a_i, b_i^+
    + 1, b_i^- + 1)`; (4) the output bias b_2 ≠ 0 becomes the neuron ((0_d, 2, 1), b_2) (value ρ(1)
    = 1 on the slice); (5) free slots get dummies ((0_d, 1, 1 + j), e_1), j = 1, 2, … (value ρ(−j) =
    0 on the slice); (6) all neurons are balanced.

    Parameters
    ----------
    theta : BiasedShallowNetwork
        Θ = ((A_1, b_1), (A_2, b_2)) ∈ P_(d,m,D).

    Returns
    -------
    ShallowNetwork
        Γ ∈ N*_(d+2,m+1,D). Off the slice {(x, 1, −1)} R(Γ) differs from anything related to Θ.
    """
    if not isinstance(theta, BiasedShallowNetwork):
        raise InputError(f"theta must be a BiasedShallowNetwork, got {type(theta).__name__}")
    d, m, D = theta.d, theta.width, theta.out_dim
    b2 = theta.b2.copy()
    A2 = theta.A2.copy()
    const = np.max(np.abs(theta.A1), axis=1) == 0
    for i in np.flatnonzero(const):
        b2 += A2[:, i] * max(theta.b1[i], 0.0)  # step 1
    rows = np.column_stack([theta.A1, theta.b1])  # affine rows (a_i, b_i)
    rows[const] = 0.0
    neurons: list[tuple[np.ndarray, np.ndarray]] = []
    _, norms = normalized_directions(rows)
    for g in direction_groups(rows, tol):  # step 2 (constants have zero rows: no group)
        i = g[0]
        c = (A2[:, g] * (norms[g] / norms[i])[None, :]).sum(axis=1)
        if np.any(c != 0):
            a, b = theta.A1[i], theta.b1[i]
            neurons.append((np.concatenate([a, [max(b, 0.0) + 1.0, max(-b, 0.0) + 1.0]]), c))  # 3
    if np.any(b2 != 0):  # step 4
        neurons.append((np.concatenate([np.zeros(d), [2.0, 1.0]]), b2))
    if len(neurons) > m + 1:  # cannot happen: at most m neuron slots + 1 bias
        raise SolverError("augmentation produced more than m + 1 neurons")
    e1 = np.zeros(D)
    e1[0] = 1.0
    j = 1
    while len(neurons) < m + 1:  # step 5
        neurons.append((np.concatenate([np.zeros(d), [1.0, 1.0 + j]]), e1.copy()))
        j += 1
    A = np.array([a for a, _ in neurons])
    C = np.array([c for _, c in neurons]).T
    return balance(ShallowNetwork(A, C))  # step 6


# ------------------------------------------------------------------- rescalings and assignment
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


# ----------------------------------------------------------------------------- Theorem 3.1
@dataclass(frozen=True)
class StabilityConditions:
    """Hypotheses of Theorem 3.1 for (Γ, Θ) with ε = |R(Θ) − R(Γ)|_{W^{1,∞}} (SPEC §5.5).

    Attributes
    ----------
    epsilon : float
    beta_min : float
        Minimal β satisfying C.1: max of |c_i|, ‖a_i‖_∞ over neurons with ‖c_i a_i‖_∞ ≤ 2ε.
    beta : float
        The β used (``beta_min`` if none was given).
    c1 : bool
        β ≥ beta_min.
    c2_pairs : list of (i, j)
        Positively parallel directions in I^Γ (C.2 holds iff empty).
    c3a_gamma_pairs, c3a_theta_pairs, c3b_pairs : list of (i, j)
        Opposite directions within I^Γ, within I^Θ (dead Θ neurons ignored), and between them (C.3
        holds for this Θ iff all are empty).
    """

    epsilon: float
    beta_min: float
    beta: float
    c1: bool
    c2_pairs: list
    c3a_gamma_pairs: list
    c3a_theta_pairs: list
    c3b_pairs: list

    @property
    def c2(self) -> bool:
        return not self.c2_pairs

    @property
    def c3(self) -> bool:
        return not (self.c3a_gamma_pairs or self.c3a_theta_pairs or self.c3b_pairs)

    @property
    def satisfied(self) -> bool:
        return self.c1 and self.c2 and self.c3

    def failures(self) -> tuple[str, ...]:
        out = []
        if not self.c1:
            out.append(f"C.1 fails: beta = {self.beta:.6g} < minimal beta {self.beta_min:.6g}")
        if not self.c2:
            out.append(f"C.2 fails: positively parallel directions in Gamma {self.c2_pairs}")
        if self.c3a_gamma_pairs:
            out.append(f"C.3(a) fails: opposite directions in Gamma {self.c3a_gamma_pairs}")
        if self.c3a_theta_pairs:
            out.append(f"C.3(a) fails: opposite directions in Theta {self.c3a_theta_pairs}")
        if self.c3b_pairs:
            out.append("C.3(b) fails: opposite directions between Gamma and Theta "
                       f"{self.c3b_pairs}")
        return tuple(out)

    def to_record(self) -> dict:
        return {"epsilon": self.epsilon, "beta_min": self.beta_min, "beta": self.beta,
                "C1": self.c1, "C2": self.c2, "C3": self.c3,
                "failures": list(self.failures())}


def _large(p: np.ndarray, eps: float) -> np.ndarray:
    """Neurons with ‖c_i a_i‖_∞ > 2ε (strictly, beyond rounding); the rest are subject to C.1."""
    return p > 2 * eps * (1 + _SLACK_REL) + _SLACK_ABS * max(1.0, float(np.max(p, initial=0.0)))


def theorem_3_1_conditions(gamma: ShallowNetwork, theta: ShallowNetwork, beta: float | None = None,
                           *, tol: float = DIRECTION_TOL,
                           epsilon: float | None = None) -> StabilityConditions:
    """Check C.1–C.3 of Theorem 3.1 for Γ and the given realization Θ of g (D = 1 or any D).

    Dead Θ neurons (a = 0 or c = 0) are ignored (removing them keeps R(Θ); C.3 asks for SOME Θ).
    ``epsilon`` overrides the exact :math:`|R(\\Theta) - R(\\Gamma)|_{W^{1,\\infty}}` (when the
    caller has it already).
    """
    check_network(gamma, "gamma")
    check_network(theta, "theta")
    if gamma.d != theta.d or gamma.out_dim != theta.out_dim:
        raise InputError(f"Gamma and Theta need the same input and output dimensions: (d, D) = "
                         f"{(gamma.d, gamma.out_dim)} vs {(theta.d, theta.out_dim)}")
    theta = zero_dead(theta)
    eps = seminorm_distance(theta, gamma).value if epsilon is None else float(epsilon)
    na, nc = neuron_norms(gamma)
    small = ~_large(nc * na, eps)
    beta_min = float(np.max(np.maximum(na, nc)[small], initial=0.0))
    if beta is not None:
        beta = float(beta)
        if not math.isfinite(beta) or beta < 0:
            raise InputError(f"beta must be finite and >= 0, got {beta!r}")
    b = beta_min if beta is None else beta
    return StabilityConditions(
        epsilon=eps, beta_min=beta_min, beta=b,
        c1=bool(b >= beta_min * (1 - _SLACK_REL)),
        c2_pairs=positively_parallel_pairs(gamma.A, tol),
        c3a_gamma_pairs=opposite_pairs(gamma.A, tol=tol),
        c3a_theta_pairs=opposite_pairs(theta.A, tol=tol),
        c3b_pairs=opposite_pairs(gamma.A, theta.A, tol=tol),
    )


@dataclass(frozen=True)
class Reparametrization:
    """A realization Φ of g = R(Θ) close to Γ, with the theorem's bound checked.

    Attributes
    ----------
    theorem : {"3.1", "3.3"}
    phi, gamma, target : ShallowNetwork
        Φ, Γ and Θ (R(Θ) = g).
    epsilon : float
        Exact :math:`|g - R(\\Gamma)|_{W^{1,\\infty}}`.
    distance : float
        :math:`\\|\\Phi - \\Gamma\\|_\\infty`.
    bound : float
        :math:`\\beta + 2\\varepsilon^{1/2}` (Thm 3.1) or :math:`4\\varepsilon^{1/2}` (Thm 3.3).
    holds : bool
        distance ≤ bound (up to a rounding slack, see module docstring).
    residual : float
        Exact :math:`|R(\\Phi) - g|_{W^{1,\\infty}}` (0 up to rounding means R(Φ) = g: a positively
        homogeneous function with zero gradient a.e. vanishes).
    beta : float or None
        β of Theorem 3.1.
    sharp_bound : float or None
        :math:`2\\sqrt{2}\\,\\varepsilon^{1/2}` for Theorem 3.3 (SPEC §5.6).
    method : str
    """

    theorem: str
    phi: ShallowNetwork
    gamma: ShallowNetwork
    target: ShallowNetwork
    epsilon: float
    distance: float
    bound: float
    holds: bool
    residual: float
    beta: float | None = None
    sharp_bound: float | None = None
    method: str = ""

    def to_record(self) -> dict:
        return {"theorem": self.theorem, "epsilon": self.epsilon, "distance": self.distance,
                "bound": self.bound, "holds": self.holds, "residual": self.residual,
                "beta": self.beta, "sharp_bound": self.sharp_bound, "method": self.method,
                "phi_A": self.phi.A.tolist(), "phi_C": self.phi.C.tolist()}


def _aggregate(theta: ShallowNetwork, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Directions â_H (∞-normalized) and κ_H = Σ c_j ‖a_j‖_∞ (shape (L, D)), κ_H ≠ 0 only."""
    Ahat, norms = normalized_directions(theta.A)
    dirs, kap = [], []
    for g in direction_groups(theta.A, tol):
        terms = theta.C[:, g] * norms[g][None, :]
        k = terms.sum(axis=1)
        if np.max(np.abs(k)) > 1e-12 * np.max(np.abs(terms)):
            dirs.append(Ahat[g[0]])
            kap.append(k)
    d, D = theta.d, theta.out_dim
    return (np.array(dirs) if dirs else np.zeros((0, d)),
            np.array(kap) if kap else np.zeros((0, D)))


def _balanced_neuron(ahat: np.ndarray, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.sqrt(np.max(np.abs(kappa)))
    return s * ahat, kappa / s


def _proof_construction(gamma: ShallowNetwork, dirs: np.ndarray, kap: np.ndarray, eps: float,
                        tol: float) -> ShallowNetwork:
    """Φ of the constructive proof of Theorem 3.1 (SPEC §5.5), D = 1."""
    m = gamma.width
    Ghat, na = normalized_directions(gamma.A)
    cg = gamma.C[0]
    large = _large(np.abs(cg) * na, eps)
    A = np.zeros_like(gamma.A)
    c = np.zeros(m)
    matched = np.zeros(m, bool)
    unmatched_H = []
    for h in range(dirs.shape[0]):
        hits = [i for i in np.flatnonzero(na > 0) if np.max(np.abs(Ghat[i] - dirs[h])) <= tol]
        if not hits:
            unmatched_H.append(h)
            continue
        i = hits[0]  # unique by C.2
        matched[i] = True
        f = kap[h] / (cg[i] * na[i]) if cg[i] != 0 else 0.0
        if large[i] and na[i] < abs(cg[i]) and f > 0:  # rescale the smaller factor: a
            A[i], c[i] = f * gamma.A[i], cg[i]
        elif large[i]:  # rescale the smaller factor: c (f > 0 by the jump lemma)
            A[i], c[i] = gamma.A[i], kap[h] / na[i]
        else:
            a_new, c_new = _balanced_neuron(dirs[h], kap[[h]])
            A[i], c[i] = a_new, c_new[0]
    if np.any(large & ~matched):
        raise SolverError("a Gamma neuron with |c| ||a|| > 2 eps has no matching direction in "
                          "Theta (violates the jump lemma; check the semi-norm)")
    free = np.flatnonzero(~matched)
    # free slots are set to 0 (error <= beta by C.1); the new directions go, balanced, into the
    # free slots by a bottleneck assignment (rows: new directions, then "leave at 0")
    cand = [_balanced_neuron(dirs[h], kap[[h]]) for h in unmatched_H]
    cost = np.empty((free.size, free.size))
    for r in range(free.size):
        for s, i in enumerate(free):
            a_r, c_r = cand[r] if r < len(cand) else (np.zeros(gamma.d), np.zeros(1))
            cost[r, s] = max(np.max(np.abs(a_r - gamma.A[i])), abs(c_r[0] - cg[i]))
    perm, _ = bottleneck_assignment(cost)
    for r in range(len(cand)):
        i = free[perm[r]]
        A[i], c[i] = cand[r][0], cand[r][1][0]
    return ShallowNetwork(A, c)


def reparametrize_at(gamma: ShallowNetwork, theta: ShallowNetwork, beta: float | None = None, *,
                     method: str = "optimal", tol: float = DIRECTION_TOL) -> Reparametrization:
    """Theorem 3.1 (D = 1): Φ with R(Φ) = R(Θ) and :math:`\\|\\Phi-\\Gamma\\|_\\infty \\le
    \\beta + 2\\varepsilon^{1/2}`.

    Parameters
    ----------
    gamma : ShallowNetwork
        Γ ∈ N_(d,m,1).
    theta : ShallowNetwork
        Any realization Θ of g (input dim d, output dim 1, any width; at most m distinct
        directions with nonzero aggregated output weight).
    beta : float, optional
        β of C.1; default: the minimal value satisfying C.1.
    method : {"optimal", "proof"}
        "proof": the constructive proof of SPEC §5.5 [R]. "optimal": the exact minimum of
        :math:`\\|\\Phi-\\Gamma\\|_\\infty` over all Φ with one neuron per direction of g
        carrying its full weight :math:`\\kappa_H` (any permutation and positive rescaling, the
        other slots any dead neuron), :func:`rescaling_orbit_distance`; the proof's Φ is one of
        them, so "optimal" is never worse.

    Raises
    ------
    InputError
        If C.1 (for the given β), C.2 or C.3 (for this Θ) fails, or g needs more than m directions.
    """
    check_network(gamma, "gamma")
    check_network(theta, "theta")
    if gamma.out_dim != 1 or theta.out_dim != 1:
        raise InputError("Theorem 3.1 is stated for output dimension D = 1 "
                         "(use reparametrize_uniform for D > 1 on N*)")
    if gamma.d != theta.d:
        raise InputError(f"networks have different input dimensions: {gamma.d} vs {theta.d}")
    if method not in ("optimal", "proof"):
        raise InputError(f"method must be 'optimal' or 'proof', got {method!r}")
    eps = seminorm_distance(theta, gamma).value
    cond = theorem_3_1_conditions(gamma, theta, beta, tol=tol, epsilon=eps)
    if not cond.satisfied:
        raise InputError("; ".join(cond.failures()))
    dirs, kap = _aggregate(theta, tol)
    m = gamma.width
    if dirs.shape[0] > m:
        raise InputError(f"g = R(Theta) has {dirs.shape[0]} distinct directions, more than the "
                         f"width m = {m} of Gamma")
    if method == "proof":
        phi = _proof_construction(gamma, dirs, kap[:, 0], eps, tol)
    else:
        neurons = [_balanced_neuron(dirs[h], kap[h]) for h in range(dirs.shape[0])]
        agg = ShallowNetwork.from_neurons(neurons + [(np.zeros(gamma.d), 0.0)] * (m - len(neurons)),
                                          d=gamma.d, out_dim=1)
        phi = rescaling_orbit_distance(agg, gamma, tol).phi
    dist = parameter_distance(phi, gamma)
    bound = cond.beta + 2 * math.sqrt(eps)
    return Reparametrization(
        theorem="3.1", phi=phi, gamma=gamma, target=theta, epsilon=eps, distance=dist, bound=bound,
        holds=_holds(dist, bound, gamma, theta),
        residual=seminorm_distance(phi, theta).value, beta=cond.beta, method=method)


# ----------------------------------------------------------------------------- Theorem 3.3
def reparametrize_uniform(gamma: ShallowNetwork, theta: ShallowNetwork, *, method: str = "optimal",
                          tol: float = DIRECTION_TOL) -> Reparametrization:
    """Theorem 3.3: for Γ ∈ N*_(d,m,D) and g = R(Θ) ∈ R(N*_(d,m,D)), Φ ∈ N* with R(Φ) = g and
    :math:`\\|\\Phi - \\Gamma\\|_\\infty \\le 4\\varepsilon^{1/2}` (SPEC §5.6).

    The balanced N*-representation of g is unique up to permutation, so Φ is a permutation of it.
    If Θ itself is not in N*, its merged and balanced form (:func:`to_restricted`) is used when
    that lies in N*.

    Parameters
    ----------
    gamma : ShallowNetwork
        Γ ∈ N*_(d,m,D).
    theta : ShallowNetwork
        Θ ∈ N_(d,m,D) with R(Θ) ∈ R(N*).
    method : {"optimal", "matching"}
        "matching": the construction of SPEC §5.6 (Γ neurons paired with the Θ neuron of the same
        direction, the rest by bottleneck assignment); "optimal": bottleneck assignment over all
        permutations — the best Φ in N* realizing g (never worse than "matching").

    Raises
    ------
    InputError
        Different architectures, Γ not in N*, or no N* representation of R(Θ) found.
    """
    check_same_architecture(gamma, theta, ("Gamma", "Theta"))
    if method not in ("optimal", "matching"):
        raise InputError(f"method must be 'optimal' or 'matching', got {method!r}")
    bad = restricted_space_violations(gamma, star=True, tol=tol)
    if bad:
        raise InputError(f"Gamma is not in N*: {'; '.join(bad)}")
    target = theta
    bad = restricted_space_violations(theta, star=True, tol=tol)
    if bad:
        theta = to_restricted(theta, tol)
        if restricted_space_violations(theta, star=True, tol=tol):
            raise InputError(f"Theta is not in N* ({'; '.join(bad)}) and neither is its merged "
                             "and balanced form: R(Theta) is not shown to lie in R(N*)")
    m = gamma.width
    cost = np.array([[max(np.max(np.abs(theta.A[j] - gamma.A[i])),
                          np.max(np.abs(theta.C[:, j] - gamma.C[:, i])))
                      for j in range(m)] for i in range(m)]).reshape(m, m)
    if method == "optimal":
        perm, _ = bottleneck_assignment(cost)
    else:
        Gh, _ = normalized_directions(gamma.A)
        Th, _ = normalized_directions(theta.A)
        perm = np.full(m, -1, dtype=int)
        used = np.zeros(m, bool)
        for i in range(m):
            for j in range(m):
                if not used[j] and np.max(np.abs(Gh[i] - Th[j])) <= tol:
                    perm[i] = j
                    used[j] = True
                    break
        rows, cols = np.flatnonzero(perm < 0), np.flatnonzero(~used)
        sub, _ = bottleneck_assignment(cost[np.ix_(rows, cols)])
        perm[rows] = cols[sub]
    phi = theta.permute(perm)
    eps = seminorm_distance(target, gamma).value
    dist = parameter_distance(phi, gamma)
    bound = 4 * math.sqrt(eps)
    return Reparametrization(
        theorem="3.3", phi=phi, gamma=gamma, target=target, epsilon=eps, distance=dist, bound=bound,
        holds=_holds(dist, bound, gamma, target),
        residual=seminorm_distance(phi, target).value,
        sharp_bound=2 * math.sqrt(2) * math.sqrt(eps), method=method)


# ------------------------------------------------------------------------------- Prop 1.2
def realization_radius(r: float, s: float = 4.0, alpha: float = 0.5) -> float:
    """Prop 1.2: a local minimum of L∘R with parameter radius r maps to a local minimum of L on
    R(Ω) with radius :math:`(r/s)^{1/\\alpha}` under (s, α)-inverse stability ((4, ½): r²/16)."""
    vals = [float(v) for v in (r, s, alpha)]
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise InputError(f"r, s and alpha must be finite and > 0, got {(r, s, alpha)!r}")
    r, s, alpha = vals
    return (r / s) ** (1.0 / alpha)
