r"""The pathologies of paper B, Examples 2.1–2.5 (SPEC §5.7): failures of inverse stability.

Each constructor returns a :class:`Pathology` for one k: the reference parameter Γ (or Γ_k), a
parameter Θ_k realizing the target g_k, and the paper's canonical realization Φ_k.
:func:`evaluate_pathology` computes, exactly,

* ``realization_distance`` :math:`|g_k - R(\Gamma)|_{W^{1,\infty}}`
(:func:`~hiddenconvex.stability.sobolev.seminorm`),
* ``sup_distance`` :math:`\|g_k - R(\Gamma)\|_{L^\infty((-1,1)^d)}`
(:func:`~hiddenconvex.stability.sobolev.sup_norm_box`),
* ``parameter_distance``: the best :math:`\|\Phi - \Gamma\|_\infty` found over realizations Φ of g_k
  of the same width: the minimum of the exact optimum over the rescaling orbit of Θ_k
  (permutations, positive rescalings, any dead neuron for a dead one;
  :func:`~hiddenconvex.stability.orbits.rescaling_orbit_distance`), the canonical Φ_k and the
  example's ``alternatives`` (Example 2.4: an explicit family that repurposes one opposite pair
  for the new direction v and re-weights the others, optimized over its free parameters);
* ``parameter_lower_bound``: a bound valid for EVERY realization of the same width — the orbit
  optimum when the orbit provably contains all realizations (Examples 2.1, 2.2, 2.3, 2.5,
  :func:`~hiddenconvex.stability.orbits.realizations_are_orbit`), the example's own bound
  (Example 2.4: :math:`\min_i \min_{t} \|t v - a^\Gamma_i\|_\infty`, since every realization
  needs a neuron with first-layer vector on the line :math:`\mathbb{R}v`) and
  ``norm_lower_bound``; ``parameter_distance_is_minimum`` says the two meet;
* ``norm_lower_bound`` :math:`\sqrt{|g_k|_{W^{1,\infty}}/m} - \|\Gamma\|_\infty` (each Jacobian
  entry is a sum of at most m products :math:`c_ia_{il}`, each at most :math:`\|\Phi\|_\infty^2`:
  the Example 2.1 argument).

Pure computation; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from .._linalg import _svd_rank
from ..errors import InputError
from .orbits import neuron_rescaling, rescaling_orbit_distance
from .reparametrization import theorem_3_1_conditions
from .shallow import ShallowNetwork, balance, parameter_distance, parameter_norm
from .sobolev import seminorm, seminorm_distance, sup_distance_box
from .spaces import in_star_space

__all__ = [
    "Pathology",
    "example_2_1",
    "example_2_2",
    "example_2_3",
    "example_2_4",
    "example_2_5",
    "EXAMPLES",
    "make_example",
    "example_grid",
    "PathologyDistances",
    "evaluate_pathology",
    "example_2_4_gamma",
    "example_2_4_realization",
    "line_distance",
]


@dataclass(frozen=True)
class Pathology:
    """One instance (example, k) of SPEC §5.7.

    Attributes
    ----------
    example : str
        "2.1" … "2.5".
    k : float
    gamma : ShallowNetwork
        Γ (Γ_k for Example 2.5).
    target : ShallowNetwork
        Θ_k with R(Θ_k) = g_k, same architecture as Γ.
    canonical : ShallowNetwork
        The paper's realization Φ_k of g_k (for 2.4: this package's explicit construction).
    failure : str
        What fails (which hypothesis of Theorems 3.1/3.3, or the norm).
    params : dict
        Extra parameters (r for 2.2, a and v for 2.4).
    alternatives : tuple of ShallowNetwork
        Further realizations of g_k found by an example-specific search (2.4).
    lower_bound : float
        An example-specific lower bound on :math:`\\|\\Phi - \\Gamma\\|_\\infty` valid for EVERY
        realization Φ of g_k of the same width (2.4; 0 when none is known).
    """

    example: str
    k: float
    gamma: ShallowNetwork
    target: ShallowNetwork
    canonical: ShallowNetwork
    failure: str
    params: dict = field(default_factory=dict)
    alternatives: tuple = ()
    lower_bound: float = 0.0


def _check_k(k) -> float:
    try:
        kf = float(k)
    except (TypeError, ValueError):
        raise InputError(f"k must be a number, got {k!r}") from None
    if not math.isfinite(kf) or kf <= 0:
        raise InputError(f"k must be finite and > 0, got {k!r}")
    return kf


def example_2_1(k) -> Pathology:
    """Ex 2.1: Γ = 0 ∈ N_(2,2,1), g_k = kρ(⟨(k,0),x⟩) − kρ(⟨(k,−1/k²),x⟩)."""
    k = _check_k(k)
    gamma = ShallowNetwork.zeros(2, 2, 1)
    phi = ShallowNetwork([[k, 0.0], [k, -1.0 / k**2]], [k, -k])
    return Pathology("2.1", k, gamma, phi, phi,
                     "uniform norm: g_k -> 0 in L_inf but not in W^{1,inf}")


def example_2_2(k, r: float = 1.0) -> Pathology:
    """Ex 2.2: Γ = ((r,0), 0) ∈ N_(2,1,1) (R(Γ) ≡ 0), g_k = (1/k)ρ(x_2); canonical Φ_k balanced."""
    k = _check_k(k)
    r = float(r)
    if not math.isfinite(r) or r <= 0:
        raise InputError(f"r must be finite and > 0, got {r!r}")
    gamma = ShallowNetwork([[r, 0.0]], [0.0])
    target = ShallowNetwork([[0.0, 1.0]], [1.0 / k])
    return Pathology("2.2", k, gamma, target, balance(target),
                     "balancedness (C.1 only with beta >= r)", {"r": r})


def example_2_3(k) -> Pathology:
    """Ex 2.3: Γ = ([[1,0],[1,0]], (1,1)), R(Γ) = 2ρ(x_1); g_k = 2ρ(x_1) + (1/k)ρ(x_2)."""
    k = _check_k(k)
    gamma = ShallowNetwork([[1.0, 0.0], [1.0, 0.0]], [1.0, 1.0])
    target = ShallowNetwork([[1.0, 0.0], [0.0, 1.0]], [2.0, 1.0 / k])
    return Pathology("2.3", k, gamma, target, target, "C.2 (redundant directions in Gamma)")


POSTER_DIRECTIONS = ((1.0, -0.5), (-1.0, -0.5), (0.0, 1.0))
POSTER_V = (1.0, 0.0)

#: The hypotheses ‖a_i‖_∞ = 1, Σ_i a_i = 0 and ‖v‖_∞ = 1 of Example 2.4 are checked to this
#: (absolute, on entries of size 1): directions typed as decimals or computed round at a few eps.
_EX24_ATOL = 1e-12
#: A distance "attains" a lower bound within this relative rounding: both are maxima of a few
#: dozen rounded entries (error ≲ 64·eps ≈ 1.4e-14 relative).
_ATTAIN_RTOL = 1e-12
#: Stopping rule of the Nelder–Mead refinement of Example 2.4's free parameters (deterministic).
#: Its result is only a candidate whose distance is recomputed exactly, so these set the effort,
#: not the correctness.
_NELDER_MEAD_OPTIONS = {"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000}


def _check_2_4(a: np.ndarray, v: np.ndarray) -> None:
    m, d = a.shape
    if v.shape != (d,):
        raise InputError(f"v must have shape ({d},), got {v.shape}")
    if not np.allclose(np.max(np.abs(a), axis=1), 1.0, rtol=0, atol=_EX24_ATOL):
        raise InputError("Example 2.4 needs ||a_i||_inf = 1 for every direction")
    if np.max(np.abs(a.sum(axis=0))) > _EX24_ATOL:
        raise InputError("Example 2.4 needs sum_i a_i = 0")
    if abs(np.max(np.abs(v)) - 1.0) > _EX24_ATOL:
        raise InputError("Example 2.4 needs ||v||_inf = 1")
    # independence is the package's numerical rank (hiddenconvex._linalg._svd_rank)
    for i in range(m):
        if _svd_rank(np.vstack([a[i], v])) < 2:
            raise InputError(f"Example 2.4 needs v independent of a_{i}")
        for j in range(i + 1, m):
            if _svd_rank(np.vstack([a[i], a[j]])) < 2:
                raise InputError(f"Example 2.4 needs pairwise independent directions ({i}, {j})")


def _ex24_slots(a: np.ndarray, v: np.ndarray, k: float, j: int, z: np.ndarray):
    """(slot, direction, κ) for the family: pair j carries v (κ = 1/k + μ) and −v (κ = −μ); pair
    i ≠ j keeps ±a_i with κ = ±(1 + δ_i); z = (μ, δ_i for i ≠ j)."""
    m = a.shape[0]
    others = [i for i in range(m) if i != j]
    mu, delta = z[0], z[1:]
    out = [(j, v, 1.0 / k + mu), (j + m, -v, -mu)]
    for i, dl in zip(others, delta, strict=True):
        out += [(i, a[i], 1.0 + dl), (i + m, -a[i], -(1.0 + dl))]
    return out


def _ex24_network(gamma: ShallowNetwork, slots) -> tuple[ShallowNetwork, float]:
    """Each slot: the neuron κρ(⟨direction, x⟩) rescaled to be closest to Γ's neuron there."""
    A = np.zeros_like(gamma.A)
    C = np.zeros_like(gamma.C)
    cost = 0.0
    for s, dirn, kap in slots:
        A[s], C[:, s], cs = neuron_rescaling(dirn, [kap], gamma.A[s], gamma.C[:, s])
        cost = max(cost, cs)
    return ShallowNetwork(A, C), cost


def example_2_4_gamma(a, v) -> ShallowNetwork:
    """Γ = ([a_1|…|a_m|−a_1|…|−a_m]^T, (1,…,1,−1,…,−1)) of Example 2.4 (inputs checked)."""
    a = np.asarray(a, dtype=float)
    v = np.asarray(v, dtype=float)
    if a.ndim != 2:
        raise InputError(f"a must be a 2-D array of directions, got shape {a.shape}")
    _check_2_4(a, v)
    m = a.shape[0]
    return ShallowNetwork(np.vstack([a, -a]), np.concatenate([np.ones(m), -np.ones(m)]))


def example_2_4_realization(a, v, k, *, optimize: bool = True) -> tuple[ShallowNetwork, float]:
    """A realization of g_k = (1/k)ρ(⟨v,x⟩) in N_(d,2m,1) close to Γ of Example 2.4.

    Family: for a pair j, slots j and j+m carry v and −v with κ = 1/k + μ and −μ, pairs i ≠ j keep
    ±a_i with κ = ±(1 + δ_i), subject to μv + Σ_{i≠j} δ_i a_i = a_j (then the linear parts cancel,
    ρ(t) − ρ(−t) = t: R(Φ) = g_k exactly). Each slot uses its exact best rescaling
    (:func:`~hiddenconvex.stability.orbits.neuron_rescaling`). Start: the minimum-norm (μ, δ);
    ``optimize`` refines over the null space with Nelder–Mead (deterministic). Best over j.

    Returns
    -------
    (phi, distance)
    """
    gamma = example_2_4_gamma(a, v)
    a = np.asarray(a, dtype=float)
    v = np.asarray(v, dtype=float)
    k = _check_k(k)
    m = a.shape[0]
    best: tuple[float, ShallowNetwork] | None = None
    for j in range(m):
        M = np.column_stack([v] + [a[i] for i in range(m) if i != j])  # (d, m)
        _, sv, Vt = np.linalg.svd(M)
        rank = _svd_rank(M, sv)
        if _svd_rank(np.column_stack([M, a[j]])) > rank:
            continue  # a_j not in span(v, a_i): this pair cannot be repurposed
        z0, *_ = np.linalg.lstsq(M, a[j], rcond=None)
        N = Vt[rank:].T  # null space basis, (m, m - rank)

        def F(y, j=j, z0=z0, N=N):
            return _ex24_network(gamma, _ex24_slots(a, v, k, j, z0 + N @ y))[1]

        y = np.zeros(N.shape[1])
        if optimize and N.shape[1] > 0:
            res = minimize(F, y, method="Nelder-Mead", options=_NELDER_MEAD_OPTIONS)
            if res.fun < F(y):
                y = res.x
        phi, _ = _ex24_network(gamma, _ex24_slots(a, v, k, j, z0 + N @ y))
        dist = parameter_distance(phi, gamma)
        if best is None or dist < best[0]:
            best = (dist, phi)
    if best is None:  # pragma: no cover - impossible for valid inputs in d = 2
        raise InputError("no pair of Example 2.4 can be repurposed for v")
    return best[1], best[0]


def line_distance(v, a) -> float:
    """:math:`\\min_{t\\in\\mathbb{R}} \\|t v - a\\|_\\infty` (exact: convex piecewise linear in
    t)."""
    v = np.asarray(v, dtype=float)
    a = np.asarray(a, dtype=float)
    # rows (slope, intercept) of the branches ±(t v_l − a_l)
    B = np.concatenate([np.column_stack([v, -a]), np.column_stack([-v, a])])
    i, j = np.triu_indices(B.shape[0], k=1)
    ds = B[i, 0] - B[j, 0]
    ok = ds != 0
    t = np.concatenate([[0.0], -(B[i, 1] - B[j, 1])[ok] / ds[ok]])
    return float(np.min(np.max(np.abs(np.outer(t, v) - a), axis=1)))


def example_2_4(k, a=POSTER_DIRECTIONS, v=POSTER_V) -> Pathology:
    """Ex 2.4: Γ = ([a_1|…|a_m|−a_1|…|−a_m]^T, (1,…,1,−1,…,−1)) ∈ N_(d,2m,1), R(Γ) ≡ 0,
    g_k = (1/k)ρ(⟨v,x⟩). Default: the poster instance d = 2, m = 3.

    Lower bound: g_k has a kink on :math:`v^\\perp`, so some neuron of every realization has its
    first-layer vector on the line :math:`\\mathbb{R}v`; hence :math:`\\|\\Phi - \\Gamma\\|_\\infty
    \\ge \\min_i \\min_t \\|tv - a^\\Gamma_i\\|_\\infty` (:func:`line_distance`). The optimized
    family (:func:`example_2_4_realization`) is searched only when the canonical member does not
    attain it.
    """
    k = _check_k(k)
    gamma = example_2_4_gamma(a, v)
    a = np.asarray(a, dtype=float)
    v = np.asarray(v, dtype=float)
    m, d = a.shape
    A = np.zeros((2 * m, d))
    A[0] = v
    c = np.zeros(2 * m)
    c[0] = 1.0 / k
    target = ShallowNetwork(A, c)
    canonical, dist = example_2_4_realization(a, v, k, optimize=False)
    lower = min(line_distance(v, gamma.A[i]) for i in range(gamma.width))
    alternatives = () if dist <= lower * (1 + _ATTAIN_RTOL) else \
        (example_2_4_realization(a, v, k, optimize=True)[0],)
    return Pathology("2.4", k, gamma, target, canonical,
                     "C.3(a) (opposite directions within Gamma)",
                     {"a": a.tolist(), "v": v.tolist()}, alternatives, lower)


def example_2_5(k) -> Pathology:
    """Ex 2.5: Γ_k = (a_1, a_2, a_3; c^k), Θ_k = (−a_1, −a_2, −a_3; c^k) ∈ N_(3,3,1) with
    a_1 = (k,k,1/k), a_2 = (−k,k,1/k), a_3 = (0,−√2k,1/(√2k)), c^k = (k,k,√2k)."""
    k = _check_k(k)
    s2 = math.sqrt(2.0)
    A = np.array([[k, k, 1 / k], [-k, k, 1 / k], [0.0, -s2 * k, 1 / (s2 * k)]])
    c = np.array([k, k, s2 * k])
    gamma = ShallowNetwork(A, c)
    theta = ShallowNetwork(-A, c)
    return Pathology("2.5", k, gamma, theta, theta,
                     "C.3(b) (opposite directions between Gamma and Theta)")


EXAMPLES = {"2.1": example_2_1, "2.2": example_2_2, "2.3": example_2_3, "2.4": example_2_4,
            "2.5": example_2_5}


def make_example(name: str, k, **kw) -> Pathology:
    """``make_example("2.5", 3)``; unknown names raise InputError."""
    if name not in EXAMPLES:
        raise InputError(f"unknown example {name!r}; choose from {sorted(EXAMPLES)}")
    return EXAMPLES[name](k, **kw)


def example_grid(examples=None, ks=(1, 2, 3, 5, 10), r: float = 1.0) -> list[Pathology]:
    """The instances (example, k) for every example name (default: all, in order) and every k;
    ``r`` is passed to Example 2.2. Names and values are checked before anything is built."""
    names = list(EXAMPLES) if examples is None else list(examples)
    unknown = [e for e in names if e not in EXAMPLES]
    if unknown:
        raise InputError(f"unknown example(s) {unknown}; choose from {sorted(EXAMPLES)}")
    ks = [_check_k(k) for k in ks]
    return [make_example(name, k, **({"r": r} if name == "2.2" else {}))
            for name in names for k in ks]


@dataclass(frozen=True)
class PathologyDistances:
    """Exact distances of one (example, k); see the module docstring. ``to_record()`` is one CSV
    row."""

    example: str
    k: float
    realization_distance: float
    sup_distance: float
    parameter_distance: float
    parameter_distance_canonical: float
    parameter_distance_is_minimum: bool
    parameter_lower_bound: float
    norm_lower_bound: float
    best_residual: float
    gamma_seminorm: float
    target_seminorm: float
    gamma_norm: float
    gamma_in_N_star: bool
    thm31_beta_min: float
    thm31_bound: float
    failure: str
    thm31_failures: tuple[str, ...]
    best_phi: ShallowNetwork = field(repr=False, compare=False)
    params: dict = field(default_factory=dict)

    @property
    def ratio_sqrt(self) -> float:
        """:math:`\\|\\Phi-\\Gamma\\|_\\infty / |g_k - R(\\Gamma)|^{1/2}` (Theorem 3.3 would need ≤
        4)."""
        return self.parameter_distance / math.sqrt(self.realization_distance) \
            if self.realization_distance > 0 else float("inf")

    @property
    def ratio_sqrt_sup(self) -> float:
        """:math:`\\|\\Phi-\\Gamma\\|_\\infty / \\|g_k - R(\\Gamma)\\|_{L^\\infty}^{1/2}`."""
        return self.parameter_distance / math.sqrt(self.sup_distance) \
            if self.sup_distance > 0 else float("inf")

    def to_record(self) -> dict:
        k = int(self.k) if float(self.k).is_integer() else self.k
        rec = {
            "example": self.example, "k": k,
            "realization_distance": self.realization_distance,
            "sup_distance": self.sup_distance,
            "parameter_distance": self.parameter_distance,
            "parameter_distance_canonical": self.parameter_distance_canonical,
            "parameter_distance_is_minimum": self.parameter_distance_is_minimum,
            "parameter_lower_bound": self.parameter_lower_bound,
            "norm_lower_bound": self.norm_lower_bound,
            "ratio_sqrt": self.ratio_sqrt, "ratio_sqrt_sup": self.ratio_sqrt_sup,
            "best_residual": self.best_residual,
            "gamma_seminorm": self.gamma_seminorm, "target_seminorm": self.target_seminorm,
            "gamma_norm": self.gamma_norm, "gamma_in_N_star": self.gamma_in_N_star,
            "thm31_beta_min": self.thm31_beta_min, "thm31_bound": self.thm31_bound,
            "failure": self.failure, "thm31_failures": "; ".join(self.thm31_failures),
        }
        for key, val in self.params.items():
            rec[f"param_{key}"] = val if np.isscalar(val) else str(val)
        return rec


def evaluate_pathology(p: Pathology, *, low: float = -1.0, high: float = 1.0) -> PathologyDistances:
    """Exact distances for one :class:`Pathology` (uniform distance on the box (low, high)^d).

    ``parameter_distance`` is the best of: the exact minimum over the rescaling orbit of Θ_k
    (:func:`~hiddenconvex.stability.orbits.rescaling_orbit_distance`), the canonical Φ_k and the
    example's alternatives. It is certified to be the minimum over ALL realizations of g_k of the
    same width when the orbit provably contains all of them or when it attains a lower bound.
    """
    if not isinstance(p, Pathology):
        raise InputError(f"expected a Pathology, got {type(p).__name__}")
    gamma, target = p.gamma, p.target
    eps = seminorm_distance(target, gamma).value
    sup = sup_distance_box(target, gamma, low, high).value
    canon = parameter_distance(p.canonical, gamma)
    target_semi = seminorm(target).value
    norm_lb = max(0.0, math.sqrt(target_semi / gamma.width) - parameter_norm(gamma))
    orbit = rescaling_orbit_distance(target, gamma)
    found = [(orbit.value, orbit.phi), (canon, p.canonical)]
    found += [(parameter_distance(phi, gamma), phi) for phi in p.alternatives]
    best, best_phi = min(found, key=lambda t: t[0])
    lower = max(norm_lb, p.lower_bound, orbit.value if orbit.complete else 0.0)
    exact = bool(best <= lower * (1 + _ATTAIN_RTOL))
    cond = theorem_3_1_conditions(gamma, target, epsilon=eps)
    applicable = cond.c2 and cond.c3
    return PathologyDistances(
        example=p.example, k=p.k, realization_distance=eps, sup_distance=sup,
        parameter_distance=best, parameter_distance_canonical=canon,
        parameter_distance_is_minimum=exact, parameter_lower_bound=lower,
        norm_lower_bound=norm_lb,
        best_residual=seminorm_distance(best_phi, target).value,
        gamma_seminorm=seminorm(gamma).value, target_seminorm=target_semi,
        gamma_norm=parameter_norm(gamma), gamma_in_N_star=in_star_space(gamma),
        thm31_beta_min=cond.beta_min,
        thm31_bound=cond.beta_min + 2 * math.sqrt(eps) if applicable else float("nan"),
        failure=p.failure, thm31_failures=cond.failures(), best_phi=best_phi, params=p.params,
    )
