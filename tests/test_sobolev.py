"""The exact W^{1,inf} semi-norm over the chambers of the weight arrangement and the exact sup norm
on a box (hiddenconvex.stability.sobolev; SPEC §5.1, §5.2, oracle O33).

References (brute-force chambers, dense sampling, finite differences, an LP per chamber) and
tolerances: tests/stability_helpers.py.
"""

import math

import numpy as np
import pytest
from oracles import brute_chambers
from stability_helpers import (
    close,
    close_tol,
    fit_scale,
    jac_scale,
    lp_error,
    lp_sup_box,
    random_net,
    ref_seminorm,
    sampled_seminorm,
)

from hiddenconvex import InputError, SolverError
from hiddenconvex.stability.pathologies import example_2_1
from hiddenconvex.stability.shallow import ShallowNetwork, difference
from hiddenconvex.stability.sobolev import (
    jacobians,
    seminorm,
    seminorm_distance,
    sup_distance_box,
    sup_norm_box,
)


def test_bad_input_errors():
    a = ShallowNetwork(np.ones((2, 2)), np.ones(2))
    b = ShallowNetwork(np.ones((2, 3)), np.ones(2))
    with pytest.raises(InputError, match="input dimensions"):
        seminorm_distance(a, b)
    with pytest.raises(InputError, match="low < high"):
        sup_norm_box(a, 1.0, -1.0)
    # networks with different input dimensions
    with pytest.raises(InputError, match="input dimensions"):
        sup_distance_box(b, a)
    with pytest.raises(InputError, match="ShallowNetwork"):
        seminorm(np.ones((2, 2)))


# -------------------------------------------------------------------------------------- semi-norm
def test_seminorm_d1_closed_form():
    # SPEC §5.2, d = 1: max(|Σ_{a_i>0} c_i a_i|, |Σ_{a_i<0} c_i a_i|) entrywise
    rng = np.random.default_rng(2)
    for _ in range(20):
        net = random_net(rng, 1, 6, D=2, zero=True)
        a = net.A[:, 0]
        pos = np.abs(net.C[:, a > 0] @ a[a > 0]).max()
        neg = np.abs(net.C[:, a < 0] @ a[a < 0]).max()
        assert close(seminorm(net).value, max(pos, neg), 512)


@pytest.mark.parametrize("d,m,D", [(2, 4, 1), (2, 3, 2), (3, 4, 1), (3, 3, 2), (4, 3, 1)])
def test_seminorm_matches_brute_force_and_bounds_sampling(d, m, D):
    rng = np.random.default_rng(10 * d + m + D)
    for trial in range(6):
        net = random_net(rng, d, m, D, zero=trial % 2 == 0, dup=trial % 3 == 0)
        h = difference(net, random_net(rng, d, m, D))
        exact = seminorm(h)
        ref = ref_seminorm(h)
        assert close(exact.value, ref, 8192, scale=max(abs(ref), 0.01))
        low = sampled_seminorm(h, n=4000, seed=trial)
        assert exact.value >= low - close_tol(jac_scale(h))  # a sampled lower bound
        # the reported maximizing chamber: its witness reproduces the Jacobian
        J = jacobians(h, exact.witness[None, :])[0]
        assert close(J, exact.jacobian, 64, scale=jac_scale(h))


@pytest.mark.parametrize("d", [1, 2])
def test_seminorm_equals_dense_sampling_in_low_dimension(d):
    rng = np.random.default_rng(30 + d)
    for _ in range(8):
        h = difference(random_net(rng, d, 3, 2), random_net(rng, d, 2, 2))
        if d == 1:
            X = np.array([[1.0], [-1.0]])
        else:
            th = np.linspace(0, 2 * np.pi, 200_000, endpoint=False)
            X = np.column_stack([np.cos(th), np.sin(th)])
        J = jacobians(h, X)
        sampled = float(np.max(np.abs(J)))
        assert close(seminorm(h).value, sampled, 8192)


def test_jacobians_match_finite_differences():
    rng = np.random.default_rng(4)
    net = random_net(rng, 3, 5, D=2)
    X = rng.normal(size=(30, 3))
    h = 1e-6
    fd = np.stack([(net.realize(X + h * e) - net.realize(X - h * e)) / (2 * h) for e in np.eye(3)],
                  axis=-1)
    # piecewise linear: away from the kinks (asserted: |a_i^T x| > h‖a_i‖₁) central differences
    # are exact up to the rounding of the two realizations (size fit_scale) over 2h and of x ± h
    z = np.abs(X @ net.A.T) / np.abs(net.A).sum(axis=1)
    assert z.min() > h
    err = 2 * close_tol(fit_scale(net, X + 1.0)) / (2 * h) + close_tol(jac_scale(net)) * (
        np.abs(X).max() + h) / h
    assert np.all(np.abs(jacobians(net, X) - fd) <= err)


def test_seminorm_handles_parallel_antiparallel_and_zero_neurons():
    # neurons on one hyperplane: a, 2a (same side), -a (other side), plus a zero neuron
    a = np.array([1.0, -2.0, 0.5])
    net = ShallowNetwork(np.vstack([a, 2 * a, -a, np.zeros(3)]), [1.0, 1.0, 3.0, 5.0])
    # gradient 3a on <a,x> > 0 side, -3a on the other: semi-norm 3*2 = 6
    assert close(seminorm(net).value, 6.0, 64)
    assert seminorm(net).num_chambers == 2  # one hyperplane: parallel and antiparallel rows merged
    assert close(ref_seminorm(net), 6.0, 64)
    # a network minus a rescaled, permuted copy of itself: exactly zero up to rounding
    rng = np.random.default_rng(5)
    g = random_net(rng, 3, 4, D=2)
    t = rng.uniform(0.2, 5, size=4)
    copy = ShallowNetwork(g.A * t[:, None], g.C / t[None, :]).permute([2, 0, 3, 1])
    assert seminorm_distance(copy, g).value <= close_tol(jac_scale(g), 512)  # the same function
    assert seminorm(ShallowNetwork.zeros(3, 2)).value == 0.0


def test_seminorm_keeps_the_thin_chambers_of_example_2_1():
    # the chambers between x_1 = 0 and k x_1 = x_2/k^2 have angle 1/k^3 and carry the gradient
    # entries ±k^2: 1e-9 thin for k = 1e3, 1e-12 for k = 1e4 (a tolerance-based merge of "almost
    # equal" hyperplanes loses them and reports 1/k instead of k^2)
    for k in (1e3, 3e3, 1e4):
        g = example_2_1(k).target
        assert close(seminorm(g).value, k**2, 8192)
        assert seminorm(g).num_chambers == 4
        assert close(sup_norm_box(g).value, 1 / k, 8192)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_seminorm_never_silently_wrong_below_rounding_level():
    # k = 1e5: the two hyperplanes differ by 1e-15 in angle, below what double precision can
    # separate reliably; the answer must be the exact k^2 or a SolverError, never 1/k or 0
    g = example_2_1(1e5).target
    try:
        val = seminorm(g).value
    except SolverError:
        return
    assert close(val, 1e10, 64)  # the exact k² (Jacobian entries are products k·k)


class _FakePatterns:
    def __init__(self, D, W):
        self.D, self.witnesses = np.asarray(D, bool), np.asarray(W, float)


def test_seminorm_verifies_the_chamber_list():
    net = ShallowNetwork([[1.0, 0.0], [0.0, 1.0]], [1.0, -2.0])
    good = brute_chambers(net.A)
    assert close(seminorm(net, chambers=brute_chambers).value, 2.0, 64)
    assert seminorm(net, chambers=lambda A: good).method == "callable"
    bad_lists = [
        _FakePatterns(good.D[:, :3], good.witnesses[:3]),  # a chamber missing
        _FakePatterns(np.column_stack([good.D, good.D[:, :1]]),  # a chamber twice
                      np.vstack([good.witnesses, good.witnesses[:1]])),
        _FakePatterns(good.D, good.witnesses[::-1]),  # witnesses in the wrong chambers
        _FakePatterns(good.D, np.full_like(good.witnesses, np.nan)),
    ]
    for bad in bad_lists:
        with pytest.raises(SolverError):
            seminorm(net, chambers=lambda A, bad=bad: bad)


# ------------------------------------------------------------------------ uniform norm on the box
def test_inequality_20_o33():
    # O33: max_{x in (-1,1)^d} |R(Θ)(x)| <= sqrt(d) * 2 sqrt(d) * |R(Θ)|_{W^{1,inf}}
    rng = np.random.default_rng(6)
    for d in (1, 2, 3):
        for _ in range(5):
            net = random_net(rng, d, 4)
            semi = seminorm(net).value
            X = rng.uniform(-1, 1, size=(5000, d))
            assert np.max(np.abs(net.realize(X))) <= math.sqrt(d) * 2 * math.sqrt(d) * semi
            assert sup_norm_box(net).value <= math.sqrt(d) * 2 * math.sqrt(d) * semi


@pytest.mark.parametrize("d", [1, 2, 3])
def test_sup_norm_box_matches_lp_and_grid(d):
    rng = np.random.default_rng(40 + d)
    for trial in range(4):
        D = 1 + trial % 2
        h = difference(random_net(rng, d, 3, D=D), random_net(rng, d, 2, D=D))
        exact = sup_norm_box(h)
        assert abs(exact.value - lp_sup_box(h)) <= lp_error(h)  # HiGHS (lp_error)
        grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 41)] * d), -1).reshape(-1, d)
        values = np.max(np.abs(h.realize(grid)))  # a grid lower bound, up to its rounding
        assert exact.value >= values - close_tol(fit_scale(h, grid))
        assert close(np.max(np.abs(h.realize(exact.argmax))), exact.value, 8192)
    # a box not containing 0 (per-coordinate bounds)
    net = random_net(rng, 2, 3)
    lo, hi = np.array([0.5, -2.0]), np.array([3.0, -0.5])
    g = np.stack(np.meshgrid(np.linspace(0.5, 3, 301), np.linspace(-2, -0.5, 301)), -1)
    g = g.reshape(-1, 2)
    val = sup_norm_box(net, lo, hi).value
    assert val >= np.max(np.abs(net.realize(g))) - close_tol(fit_scale(net, g))  # grid bound
    assert val <= np.max(np.abs(net.realize(g))) + 3 * seminorm(net).value * 2.5 / 300


@pytest.mark.parametrize("delta", [1e-5, 1e-9])
def test_sup_norm_box_at_a_vertex_of_nearly_parallel_hyperplanes(delta):
    # h = ρ(x_3) − ½ρ(x_1) − ½ρ(−x_1 − δx_2) − (δ/4)ρ(x_2 + x_3): on the face x_3 = 1, h = 1 − δ/4
    # at (0, 0, 1) and strictly less elsewhere (the two middle terms vanish only on the wedge
    # −δx_2 ≤ x_1 ≤ 0, along which the last term decreases; off it they cost more than δ/4 per
    # unit of x_2); |h| ≤ (1 + δ)/2 + δ/2 where x_3 ≤ 0. The maximizing vertex lies only on the two
    # nearly parallel hyperplanes and the face: an ill-conditioned 3×3 system (condition ~ 2/δ).
    net = ShallowNetwork([[0, 0, 1], [1, 0, 0], [-1, -delta, 0], [0, 1, 1]],
                         [1.0, -0.5, -0.5, -delta / 4])
    res = sup_norm_box(net)
    assert close(res.value, 1 - delta / 4, 64)
    # the vertex solves a 3×3 system of condition ~ 2/δ: backward-stable to cond·eps
    assert close(res.argmax, [0.0, 0.0, 1.0], 64 * 2 / delta, scale=1.0)
    assert abs(lp_sup_box(net) - (1 - delta / 4)) <= lp_error(net)  # HiGHS (lp_error)
