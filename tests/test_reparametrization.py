"""Theorems 3.1 and 3.3 and Prop 1.2 (hiddenconvex.stability.reparametrization; SPEC §5.1, §5.5,
§5.6, oracles O30, O31, O34).

References (brute-force chambers, sampling, enumeration of all permutations) and tolerances:
tests/stability_helpers.py.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stability_helpers import (
    SQ2,
    check_star,
    close,
    close_tol,
    fit_scale,
    jac_scale,
    random_star,
    ref_seminorm,
    sampled_seminorm,
    slack,
)

from hiddenconvex import InputError
from hiddenconvex.stability.reparametrization import (
    realization_radius,
    reparametrize_at,
    reparametrize_uniform,
    theorem_3_1_conditions,
)
from hiddenconvex.stability.shallow import (
    ShallowNetwork,
    balance,
    difference,
    parameter_distance,
)
from hiddenconvex.stability.sobolev import seminorm_distance
from hiddenconvex.stability.spaces import in_star_space


def test_bad_input_errors():
    with pytest.raises(InputError):
        realization_radius(-1.0)
    # networks with different input dimensions, everywhere two networks meet
    g2 = ShallowNetwork(np.ones((2, 2)), np.ones(2))
    g3 = ShallowNetwork(np.ones((2, 3)), np.ones(2))
    with pytest.raises(InputError, match="input and output dimensions"):
        theorem_3_1_conditions(g2, g3, epsilon=0.1)
    with pytest.raises(InputError, match="input dimensions"):
        reparametrize_at(g2, g3)
    with pytest.raises(InputError, match="architecture"):
        reparametrize_uniform(g2, g3)


# -------------------------------------------------------------------------- Prop 1.2 radius (O34)
def test_prop_1_2_radius_o34():
    for r in (0.1, 1.0, 4.0, 10.0):
        assert close(realization_radius(r), r**2 / 16, 8)
    assert close(realization_radius(2.0, s=2.0, alpha=1.0), 1.0, 64)


# ------------------------------------------------------------------------------ Theorem 3.3 (O30)
def make_pair_star(rng, d, m, D):
    """Γ, Θ ∈ N*: shared directions with perturbed κ, new small directions, permuted."""
    gamma = random_star(rng, d, m, D)
    A = np.zeros((m, d))
    C = np.zeros((D, m))
    n_shared = rng.integers(0, m + 1)
    for i in range(m):
        if i < n_shared:
            kappa = gamma.C[:, i] * np.max(np.abs(gamma.A[i]))
            kappa = kappa + rng.normal(scale=0.05 * rng.uniform(0, 3), size=D)
            kappa[np.abs(kappa) < 1e-3] = 1e-3
            A[i] = gamma.A[i] / np.max(np.abs(gamma.A[i]))
            C[:, i] = kappa
        else:
            a = rng.normal(size=d)
            a[-2:] = np.abs(a[-2:]) + 0.2
            A[i] = a
            C[:, i] = rng.normal(scale=rng.choice([1e-3, 1e-2, 0.3]), size=D)
    theta = balance(ShallowNetwork(A, C)).permute(rng.permutation(m))
    return gamma, theta


def run_o30(n_trials, seed):
    rng = np.random.default_rng(seed)
    worst = 0.0
    for trial in range(n_trials):
        d = int(rng.choice([2, 3]))
        m = int(rng.integers(1, 5))
        D = int(rng.integers(1, 3))
        gamma, theta = make_pair_star(rng, d, m, D)
        if not (in_star_space(gamma) and in_star_space(theta)):
            continue
        X = rng.normal(size=(200, d))
        eps_ref = ref_seminorm(difference(theta, gamma)) if trial % 5 == 0 else None
        for method in ("optimal", "matching"):
            rep = reparametrize_uniform(gamma, theta, method=method)
            if eps_ref is not None:
                # the same semi-norm, exact algorithm vs brute force: rounding of the Jacobians
                assert close(rep.epsilon, eps_ref, 512, scale=jac_scale(difference(theta, gamma)))
            # Φ realizes Θ: assignments and rescalings, rounding of ≤ a few hundred operations
            assert close(rep.phi.realize(X), theta.realize(X), 512, scale=fit_scale(theta, X))
            assert rep.residual <= close_tol(max(1.0, jac_scale(theta)), 512)
            assert seminorm_distance(rep.phi, theta).value <= close_tol(jac_scale(theta), 512)
            check_star(rep.phi)
            dist = np.max(np.abs(np.concatenate([(rep.phi.A - gamma.A).ravel(),
                                                 (rep.phi.C - gamma.C).ravel()])))
            assert close(rep.distance, dist, 8, scale=1.0)
            b4, b2 = 4 * math.sqrt(rep.epsilon), 2 * SQ2 * math.sqrt(rep.epsilon)
            assert rep.holds and dist <= b4 + slack(b4, gamma, theta)
            assert dist <= b2 + slack(b2, gamma, theta)  # the sharper constant
            worst = max(worst, dist / max(math.sqrt(rep.epsilon), 1e-300))
        # "optimal" is the best over all of N* (a permutation of Θ): compare with brute force
        best = min(parameter_distance(theta.permute(p), gamma)
                   for p in itertools.permutations(range(m)))
        opt = reparametrize_uniform(gamma, theta, method="optimal")
        assert close(opt.distance, best, 8, scale=1.0)
    return worst


def test_theorem_3_3_property_o30():
    assert run_o30(40, seed=20) <= 2 * SQ2 + 1e-9


@pytest.mark.slow
def test_theorem_3_3_property_o30_many():
    assert run_o30(400, seed=21) <= 2 * SQ2 + 1e-9


_coord = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
_pos = st.floats(0.1, 3.0, allow_nan=False, allow_infinity=False)


@st.composite
def star_pairs(draw):
    """Γ, Θ ∈ N* (before balancing): Θ's neurons share Γ's directions with a perturbed weight,
    or are new; then Θ is permuted."""
    d, m, D = draw(st.integers(2, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 2))

    def direction():
        return np.array([draw(_coord) for _ in range(d - 2)] + [draw(_pos), draw(_pos)])

    def weight(lo):
        c = np.array([draw(_coord) for _ in range(D)])
        assume(np.max(np.abs(c)) >= lo)
        return c

    gamma = [(direction(), weight(0.1)) for _ in range(m)]
    theta = []
    for a, c in gamma:
        if draw(st.booleans()):
            scale = draw(st.floats(0.2, 5.0))
            theta.append((scale * a, (c + draw(st.floats(-0.3, 0.3))) / scale))
        else:
            theta.append((direction(), weight(1e-3) * draw(st.sampled_from([1e-2, 1.0]))))
    perm = draw(st.permutations(range(m)))
    G = balance(ShallowNetwork.from_neurons(gamma))
    T = balance(ShallowNetwork.from_neurons([theta[i] for i in perm]))
    assume(in_star_space(G) and in_star_space(T))
    return G, T


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(star_pairs())
def test_theorem_3_3_hypothesis(pair):
    gamma, theta = pair
    X = np.random.default_rng(0).normal(size=(100, gamma.d))
    h = difference(theta, gamma)
    # ε by brute-force chambers when small (2^(2m) LPs), else bracketed below by sampling
    eps_ref = ref_seminorm(h) if gamma.width <= 3 else None
    for method in ("optimal", "matching"):
        rep = reparametrize_uniform(gamma, theta, method=method)
        assert close(rep.phi.realize(X), theta.realize(X), 512, scale=fit_scale(theta, X))
        assert seminorm_distance(rep.phi, theta).value <= close_tol(jac_scale(theta), 512)
        check_star(rep.phi)
        if eps_ref is not None:
            assert close(rep.epsilon, eps_ref, 512, scale=jac_scale(difference(theta, gamma)))
        assert rep.epsilon >= sampled_seminorm(h, n=2000) - close_tol(jac_scale(h))
        dist = max(np.max(np.abs(rep.phi.A - gamma.A)), np.max(np.abs(rep.phi.C - gamma.C)))
        b2 = 2 * SQ2 * math.sqrt(rep.epsilon)
        assert dist <= b2 + slack(b2, gamma, theta)  # ≤ 4ε^{1/2} (39)


def test_theorem_3_3_theta_outside_n_star():
    # Θ unbalanced and permuted, R(Θ) ∈ R(N*): its balanced form is used, Φ ∈ N*, R(Φ) = R(Θ)
    rng = np.random.default_rng(23)
    gamma, theta = make_pair_star(rng, 3, 3, 2)
    t = np.array([0.1, 7.0, 2.0])
    skew = ShallowNetwork(theta.A * t[:, None], theta.C / t[None, :])
    assert not in_star_space(skew)
    rep = reparametrize_uniform(gamma, skew)
    check_star(rep.phi)
    assert rep.residual <= close_tol(max(1.0, jac_scale(skew)), 512) and rep.holds
    assert close(rep.distance, reparametrize_uniform(gamma, theta).distance, 64, scale=1.0)
    # a neuron with negative last coordinates, not repairable by merging and balancing: refused
    bad = ShallowNetwork(theta.A * np.array([[1.0], [1.0], [-1.0]]), theta.C)
    with pytest.raises(InputError, match="Theta is not in N"):
        reparametrize_uniform(gamma, bad)


def test_theorem_3_3_identical_and_errors():
    rng = np.random.default_rng(22)
    g = random_star(rng, 3, 3, 2)
    rep = reparametrize_uniform(g, g.permute([2, 0, 1]))
    # the same network permuted: ε and the distance vanish up to rounding
    assert rep.epsilon <= close_tol(jac_scale(g), 512)
    assert rep.distance <= close_tol(max(np.abs(g.A).max(), np.abs(g.C).max())) and rep.holds
    with pytest.raises(InputError, match="not in N\\*"):
        reparametrize_uniform(ShallowNetwork(g.A * 2, g.C), g)
    with pytest.raises(InputError, match="architecture"):
        reparametrize_uniform(g, random_star(rng, 3, 2, 2))
    with pytest.raises(InputError, match="method"):
        reparametrize_uniform(g, g, method="nope")


# ------------------------------------------------------------------------------ Theorem 3.1 (O31)
def make_pair_31(rng, d, m):
    """Γ (unbalanced, maybe zero neurons, distinct directions) and Θ (duplicates allowed), all
    directions in the open half-space {<h, a> > 0} (so C.3 holds)."""
    h = rng.normal(size=d)
    h /= np.linalg.norm(h)

    def half(n):
        a = rng.normal(size=(n, d))
        s = a @ h
        a = a - np.outer(s, h) + np.outer(np.abs(s) + 0.3, h)
        return a

    Ag = half(m) * rng.uniform(0.1, 3, size=(m, 1))
    cg = rng.normal(size=m) * rng.uniform(0.1, 3, size=m)
    if m >= 2 and rng.uniform() < 0.5:
        Ag[-1] = 0.0  # zero neuron (c may be nonzero)
    gamma = ShallowNetwork(Ag, cg)
    At = np.zeros((m, d))
    ct = np.zeros(m)
    for i in range(m):
        u = rng.uniform()
        if u < 0.5 and np.any(Ag[i] != 0):  # shared direction, perturbed κ
            At[i] = Ag[i] * rng.uniform(0.2, 4)
            ct[i] = (cg[i] * np.max(np.abs(Ag[i])) + rng.normal(scale=0.1)) / np.max(np.abs(At[i]))
        elif u < 0.7 and i > 0:  # duplicate of an earlier Θ direction
            At[i] = At[i - 1] * rng.uniform(0.5, 2) if np.any(At[i - 1]) else half(1)[0]
            ct[i] = rng.normal(scale=0.2)
        else:  # new direction
            At[i] = half(1)[0]
            ct[i] = rng.normal(scale=rng.choice([0.01, 0.3, 1.0]))
    return gamma, ShallowNetwork(At, ct)


def run_o31(n_trials, seed):
    rng = np.random.default_rng(seed)
    for trial in range(n_trials):
        d = int(rng.choice([1, 2, 3]))
        m = int(rng.integers(1, 5))
        if d == 1:
            m = min(m, 1)  # in d = 1 a half-space holds a single direction (C.2)
        gamma, theta = make_pair_31(rng, d, m)
        cond = theorem_3_1_conditions(gamma, theta)
        assert cond.c2 and cond.c3
        eps = cond.epsilon
        # minimal beta from C.1, computed here
        p = np.abs(gamma.C[0]) * np.max(np.abs(gamma.A), axis=1)
        small = p <= 2 * eps + slack(2 * eps)  # C.1 with the package's rounding slack
        beta_ref = max([max(abs(gamma.C[0, i]), np.max(np.abs(gamma.A[i])))
                        for i in np.flatnonzero(small)], default=0.0)
        assert close(cond.beta_min, beta_ref, 8192, scale=max(abs(beta_ref), 0.001))
        X = rng.normal(size=(200, d))
        dists = {}
        for method in ("proof", "optimal"):
            rep = reparametrize_at(gamma, theta, method=method)
            assert close(rep.phi.realize(X), theta.realize(X), 512, scale=fit_scale(theta, X))
            assert rep.residual <= close_tol(max(1.0, jac_scale(theta)), 512)
            assert seminorm_distance(rep.phi, theta).value <= close_tol(jac_scale(theta), 512)
            assert rep.phi.architecture == gamma.architecture
            dist = np.max(np.abs(np.concatenate([(rep.phi.A - gamma.A).ravel(),
                                                 (rep.phi.C - gamma.C).ravel()])))
            assert close(rep.distance, dist, 8, scale=1.0)
            bound = beta_ref + 2 * math.sqrt(eps)
            assert rep.holds and dist <= bound + slack(bound, gamma, theta)
            dists[method] = dist
        # the proof's Φ is a candidate of the optimal one (rounding of both distances)
        assert dists["optimal"] <= dists["proof"] + close_tol(max(1.0, dists["proof"]))
        if trial % 7 == 0:
            # the same semi-norm, exact algorithm vs brute force: rounding of the Jacobians
            assert close(eps, ref_seminorm(difference(theta, gamma)), 512,
                         scale=jac_scale(difference(theta, gamma)))
        # a larger beta gives the larger bound; a smaller one than beta_min is refused
        if beta_ref > 1e-9:
            with pytest.raises(InputError, match="C.1"):
                reparametrize_at(gamma, theta, beta=0.5 * beta_ref)


def test_theorem_3_1_property_o31():
    run_o31(40, seed=30)


@pytest.mark.slow
def test_theorem_3_1_property_o31_many():
    run_o31(400, seed=31)


@pytest.mark.parametrize("a,c", [(0.01, 10.0), (10.0, 0.01)])
def test_theorem_3_1_rescales_the_smaller_factor(a, c):
    # one shared direction, κ_Γ = a·c = 0.1, κ_Θ = κ_Γ + Δ, Δ = 0.01: ε = Δ (gradient Δ·e_1),
    # |c|·||a|| = 0.1 > 2ε (no C.1 neuron, β = 0). The proof rescales the SMALLER factor by
    # κ_Θ/κ_Γ, an error Δ / max(|a|, |c|) = 0.001; rescaling the larger one would cost Δ/min = 1
    # > the bound 2ε^{1/2} = 0.2.
    delta = 0.01
    gamma = ShallowNetwork([[a, 0.0]], [c])
    theta = ShallowNetwork([[1.0, 0.0]], [a * c + delta])
    rep = reparametrize_at(gamma, theta, method="proof")
    assert close(rep.epsilon, delta, 8192)
    assert rep.beta == 0.0
    assert close(rep.bound, 2 * math.sqrt(delta), 8192)
    assert close(rep.distance, delta / max(a, c), 64, scale=max(a, c))  # |a|, |c| ≤ 10
    assert rep.holds and rep.residual <= close_tol(max(1.0, jac_scale(theta)), 8)
    opt = reparametrize_at(gamma, theta, method="optimal")
    assert opt.distance <= rep.distance + close_tol(rep.distance)
    assert opt.residual <= close_tol(max(1.0, jac_scale(theta)), 8)
    with pytest.raises(InputError, match="method"):
        reparametrize_at(gamma, theta, method="nope")


def test_theorem_3_1_remark_balanced_beta():
    # Remark [P]: a balanced Γ satisfies C.1 with beta = sqrt(2 eps)
    rng = np.random.default_rng(32)
    for _ in range(10):
        gamma, theta = make_pair_31(rng, 2, 3)
        gamma = balance(gamma)
        cond = theorem_3_1_conditions(gamma, theta)
        bound = math.sqrt(2 * cond.epsilon)
        assert cond.beta_min <= bound + slack(bound, gamma, theta)


def test_theorem_3_1_conditions_fail():
    g = ShallowNetwork([[1.0, 0.0], [2.0, 0.0]], [1.0, 1.0])  # C.2 fails
    with pytest.raises(InputError, match="C.2"):
        reparametrize_at(g, ShallowNetwork([[1.0, 0.0], [0.0, 1.0]], [3.0, 0.1]))
    g = ShallowNetwork([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])
    with pytest.raises(InputError, match="C.3\\(b\\)"):
        reparametrize_at(g, ShallowNetwork([[-1.0, 0.0], [0.0, 1.0]], [1.0, 1.0]))
    with pytest.raises(InputError, match="C.3\\(a\\)"):
        reparametrize_at(g, ShallowNetwork([[1.0, 1.0], [-1.0, -1.0]], [1.0, 1.0]))
    with pytest.raises(InputError, match="D = 1"):
        reparametrize_at(ShallowNetwork(g.A, np.ones((2, 2))), ShallowNetwork(g.A, np.ones((2, 2))))
    with pytest.raises(InputError, match="beta"):
        reparametrize_at(g, g, beta=-1.0)
    # dead Θ neurons are ignored for C.3
    t = ShallowNetwork([[1.0, 0.0], [-1.0, 0.0]], [1.5, 0.0])
    assert theorem_3_1_conditions(g, t).c3
    rep = reparametrize_at(g, t)
    assert rep.holds and rep.residual <= close_tol(max(1.0, jac_scale(t)), 64)
