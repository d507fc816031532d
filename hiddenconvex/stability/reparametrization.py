r"""Inverse stability of shallow ReLU parametrizations: the reparametrizations of Theorems 3.1 and
3.3 (paper B: Berner, Elbrächter & Grohs, NeurIPS 2019; SPEC §5.1, §5.5, §5.6).

The realization map :math:`R` is (s, α) *inverse stable* on Ω if for all Γ ∈ Ω and g ∈ R(Ω) there is
Φ ∈ Ω with R(Φ) = g and :math:`\|\Phi - \Gamma\|_\infty \le s\,\|g - R(\Gamma)\|^\alpha` (Def 1.1).
This module implements, for the biasless shallow space :math:`N_{(d,m,D)}`
(:class:`~hiddenconvex.stability.shallow.ShallowNetwork`) and the semi-norm
:math:`|\cdot|_{W^{1,\infty}}` (computed exactly by
:func:`~hiddenconvex.stability.sobolev.seminorm`):

* the hypotheses C.1–C.3 of Theorem 3.1 (:func:`theorem_3_1_conditions`);
* the reparametrizations Φ of Theorem 3.1 (at Γ, D = 1; bound :math:`\beta + 2\varepsilon^{1/2}`;
  the constructive proof of SPEC §5.5 or the best Φ with one neuron per direction of g) and
  Theorem 3.3 (uniform on N*, :mod:`~hiddenconvex.stability.spaces`; bound
  :math:`4\varepsilon^{1/2}`; the matching construction of SPEC §5.6 or the best Φ in N*),
  returned with the bound checked (:class:`Reparametrization`); the best Φ comes from the exact
  rescaling-orbit distance of :mod:`~hiddenconvex.stability.orbits`;
* Prop 1.2's radius :math:`(r/s)^{1/\alpha}`.

Tolerances: directions are compared with
:data:`~hiddenconvex.stability.shallow.DIRECTION_TOL` on ∞-normalized vectors; ``holds`` allows a
rounding slack ``_SLACK_REL·bound + _SLACK_ABS·max(1, ‖Γ‖, ‖Θ‖)``. Pure NumPy/SciPy; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, SolverError
from .orbits import bottleneck_assignment, rescaling_orbit_distance
from .shallow import (
    DIRECTION_TOL,
    ShallowNetwork,
    check_network,
    check_same_architecture,
    direction_groups,
    neuron_norms,
    normalized_directions,
    parameter_distance,
    zero_dead,
)
from .sobolev import seminorm_distance
from .spaces import (
    opposite_pairs,
    positively_parallel_pairs,
    restricted_space_violations,
    to_restricted,
)

__all__ = [
    "StabilityConditions", "theorem_3_1_conditions", "Reparametrization", "reparametrize_at",
    "reparametrize_uniform", "realization_radius",
]

#: Relative slack of ``holds`` and of C.1 (distance ≤ bound, ‖c_i a_i‖ ≤ 2ε): ε is a sum of at most
#: 2m rounded products (relative error ~ m·eps), far below 1e-9 for any width that fits in memory.
_SLACK_REL = 1e-9
#: Absolute slack per unit of max(1, ‖Γ‖, ‖Θ‖): entries of Φ − Γ are rescaled entries of size ‖Γ‖,
#: ‖Θ‖, rounded at a few eps of that size (≪ 1e-12).
_SLACK_ABS = 1e-12
#: κ_H = Σ_j c_j‖a_j‖_∞ of a direction counts as 0 (the direction is absent from g) when it cancels
#: below this fraction of its largest term; a sum of ≤ m terms rounds at ~ m·eps of that term.
_KAPPA_ZERO_RTOL = 1e-12


def _holds(distance: float, bound: float, *nets: ShallowNetwork) -> bool:
    scale = max([1.0] + [n.norm() for n in nets])
    return bool(distance <= bound * (1 + _SLACK_REL) + _SLACK_ABS * scale)


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
        if np.max(np.abs(k)) > _KAPPA_ZERO_RTOL * np.max(np.abs(terms)):
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
        other slots any dead neuron),
        :func:`~hiddenconvex.stability.orbits.rescaling_orbit_distance`; the proof's Φ is one of
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
    If Θ itself is not in N*, its merged and balanced form
    (:func:`~hiddenconvex.stability.spaces.to_restricted`) is used when that lies in N*.

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
