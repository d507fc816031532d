"""ReLUNetwork balancing and helpers (SPEC §4.1, oracle O16)."""

import numpy as np
import pytest
from tolerances import EPS, rounding

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.network import (
    balance,
    concatenate,
    drop_zero_neurons,
    is_scaled,
    network_scale,
    nonzero_neurons,
    pad,
    permute,
    scaling_violation,
)


def _random_net(rng, m=6, d=3):
    return ReLUNetwork(rng.normal(size=(m, d)) * rng.uniform(0.1, 3, size=(m, 1)),
                       rng.normal(size=m) * 2)


def test_o16_balancing_example():
    # SPEC O16: X = I_2, theta = one neuron (u = (2, 0), alpha = 1/2), beta = 1, y = 0.
    prob = Problem.create(np.eye(2), [0.0, 0.0], 1.0)
    net = ReLUNetwork([[2.0, 0.0]], [0.5])
    # binary fractions, every operation exact (4 ulp allowed)
    assert abs(objective(prob, net).total - 2.625) <= rounding(2.625, 4)
    b = balance(net)
    np.testing.assert_allclose(b.U, [[1.0, 0.0]])
    np.testing.assert_allclose(b.alpha, [1.0])
    assert abs(objective(prob, b).total - 1.5) <= rounding(1.5, 4)  # exact: sqrt(1/4) = 1/2
    assert not is_scaled(net) and is_scaled(b)


def test_balance_preserves_function_and_lowers_regularization():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))  # any inputs, not only training data: positive homogeneity
    for _ in range(20):
        net = _random_net(rng)
        b = balance(net)
        # positive homogeneity: the same function, up to the rounding of the rescaling and of the
        # d-term dot products and m-term sums (size Σ|α_i|‖u_i‖‖x‖)
        m = net.width
        fscale = float((np.abs(X) @ np.abs(net.U.T) @ np.abs(net.alpha)).max())
        assert np.all(np.abs(b.predict(X) - net.predict(X)) <= rounding(fscale, 16 * (3 + m)))
        assert is_scaled(b, tol=1e-14)
        # ‖u‖ = |α| after balancing: sqrt and a few products, rounding relative to |α|
        assert np.all(np.abs(b.neuron_norms() - np.abs(b.alpha)) <= 16 * EPS * np.abs(b.alpha))
        # AM-GM: 1/2(|u|^2 + a^2) >= |u||a|, equality for the balanced net, strict here
        mass = float(np.sum(net.neuron_norms() * np.abs(net.alpha)))
        assert abs(b.regularization() - mass) <= rounding(mass, 16 * m)
        assert b.regularization() < net.regularization()
        # idempotent
        bb = balance(b)
        np.testing.assert_array_equal(bb.U, b.U)
        np.testing.assert_array_equal(bb.alpha, b.alpha)


def test_balance_zeroes_half_dead_neurons():
    net = ReLUNetwork([[1.0, 2.0], [0.0, 0.0], [3.0, 0.0], [0.0, 0.0]], [0.0, 5.0, 2.0, 0.0])
    b = balance(net)
    np.testing.assert_array_equal(b.U[:2], 0.0)
    np.testing.assert_array_equal(b.alpha[:2], 0.0)
    np.testing.assert_allclose(b.U[2], [np.sqrt(6.0), 0.0])  # tau = sqrt(2/3)
    np.testing.assert_allclose(b.alpha[2], np.sqrt(6.0))
    np.testing.assert_array_equal(nonzero_neurons(b), [False, False, True, False])
    assert drop_zero_neurons(b).width == 1


def test_is_scaled_tolerance_is_relative():
    net = ReLUNetwork([[3.0, 4.0]], [5.0 + 4e-8])
    # 5 + 4e-8 is stored to eps·5, ‖(3, 4)‖ = 5 exactly: absolute rounding of size 5
    assert abs(scaling_violation(net) - 4e-8) <= rounding(5.0, 4)
    assert abs(network_scale(net) - (5.0 + 4e-8)) <= rounding(5.0, 4)
    assert is_scaled(net, tol=1e-8)  # 4e-8 <= 1e-8 * 5
    assert not is_scaled(net, tol=5e-9)
    assert is_scaled(ReLUNetwork.zeros(3, 2))


def test_pad_permute_concatenate():
    net = ReLUNetwork([[1.0, 0.0], [0.0, 2.0]], [1.0, -2.0])
    p = pad(net, 4)
    assert p.width == 4 and np.all(p.U[2:] == 0) and np.all(p.alpha[2:] == 0)
    assert pad(net, 2) is net
    q = permute(net, [1, 0])
    np.testing.assert_array_equal(q.alpha, [-2.0, 1.0])
    c = concatenate(net, q)
    assert c.width == 4
    X = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_allclose(c.predict(X), 2 * net.predict(X))
    assert ReLUNetwork.from_neurons([([1.0, 2.0], 3.0)], d=2).width == 1
    assert ReLUNetwork.from_neurons([], d=3).U.shape == (0, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda n: pad(n, 1), "smaller width 1"),
        (lambda n: permute(n, [0, 0]), "permutation"),
        (lambda n: concatenate(n, ReLUNetwork.zeros(1, 3)), "different input dimensions"),
        (lambda n: ReLUNetwork.from_neurons([([1.0], 1.0)], d=2), "input dimension 1, expected 2"),
        (lambda n: n.predict(np.ones((3, 5))), "input dimension 2 but X has 5 columns"),
    ],
)
def test_bad_input(call, match):
    net = ReLUNetwork([[1.0, 0.0], [0.0, 2.0]], [1.0, -2.0])
    with pytest.raises(InputError, match=match):
        call(net)
