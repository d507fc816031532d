"""Shallow networks of paper B: realization, input errors, balancing, merging (eq. 87) and the
Lemma A.5 sign flips (hiddenconvex.stability.shallow; SPEC §5.1, §5.3, §5.8, oracle O33).

References and tolerances: tests/stability_helpers.py.
"""

import math

import numpy as np
import pytest
from stability_helpers import close, close_tol, fit_scale, jac_scale, o33_networks, random_net

from hiddenconvex import InputError
from hiddenconvex.stability.shallow import (
    BiasedShallowNetwork,
    ShallowNetwork,
    balance,
    difference,
    flip,
    is_balanced,
    merge_redundant,
    parameter_distance,
    zero_sum_subsets,
)
from hiddenconvex.stability.sobolev import seminorm_distance


def ref_realize(A, C, X):
    """R(Θ)(x) = Σ_i c_i ρ(<a_i, x>) written out neuron by neuron."""
    A, C, X = np.asarray(A, float), np.atleast_2d(np.asarray(C, float)), np.atleast_2d(X)
    out = np.zeros((X.shape[0], C.shape[0]))
    for i in range(A.shape[0]):
        out += np.maximum(X @ A[i], 0.0)[:, None] * C[:, i][None, :]
    return out


# -------------------------------------------------------------------------------- objects, errors
def test_realize_matches_formula_and_shapes():
    rng = np.random.default_rng(1)
    net = random_net(rng, 3, 5, D=2)
    X = rng.normal(size=(50, 3))
    assert close(net.realize(X), ref_realize(net.A, net.C, X), 64, scale=fit_scale(net, X))
    assert net.realize(X[0]).shape == (2,)
    assert net.architecture == (3, 5, 2)
    one = ShallowNetwork([[1.0, 2.0]], [3.0])  # 1-D C means D = 1
    assert one.out_dim == 1 and one(np.array([1.0, 1.0]))[0] == 9.0
    with pytest.raises(ValueError):
        net.A[0, 0] = 1.0  # immutable


def test_bad_input_errors():
    with pytest.raises(InputError, match="columns"):
        ShallowNetwork(np.ones((3, 2)), np.ones((1, 2)))
    with pytest.raises(InputError, match="NaN"):
        ShallowNetwork([[np.nan, 1.0]], [1.0])
    with pytest.raises(InputError):
        ShallowNetwork(np.ones(3), [1.0])
    a = ShallowNetwork(np.ones((2, 2)), np.ones(2))
    b = ShallowNetwork(np.ones((2, 3)), np.ones(2))
    c = ShallowNetwork(np.ones((3, 2)), np.ones(3))
    with pytest.raises(InputError, match="input dimensions"):
        difference(a, b)
    with pytest.raises(InputError, match="output dimensions"):
        difference(a, ShallowNetwork(np.ones((2, 2)), np.ones((2, 2))))
    with pytest.raises(InputError, match="architecture"):
        parameter_distance(a, c)
    with pytest.raises(InputError, match="shape"):
        a.realize(np.ones((4, 3)))
    with pytest.raises(InputError):
        BiasedShallowNetwork(np.ones((2, 2)), np.ones(3), np.ones(2), 0.0)
    with pytest.raises(InputError):
        BiasedShallowNetwork(np.ones((2, 2)), np.ones(2), np.ones((1, 3)), 0.0)
    # mismatched shapes and wrong types
    with pytest.raises(InputError, match="at least one row"):
        ShallowNetwork(np.ones((2, 2)), np.ones((0, 2)))
    with pytest.raises(InputError, match="b2"):
        BiasedShallowNetwork(np.ones((2, 2)), np.ones(2), np.ones((2, 2)), [0.0])
    with pytest.raises(InputError, match="permutation"):
        a.permute([0, 0])


# ----------------------------------------------------------------------------- balancing, merging
def test_balance_and_merge_preserve_realization_o33():
    for X, net in o33_networks():
        b = balance(net)
        assert is_balanced(b)
        na, nc = np.max(np.abs(b.A), axis=1), np.max(np.abs(b.C), axis=0)
        assert close(na, nc, 64)  # balanced: max|a_i| = max|c_i| via one sqrt and a product
        assert close(b.realize(X), net.realize(X), 64, scale=fit_scale(net, X))
        assert seminorm_distance(b, net).value <= close_tol(jac_scale(net), 512)
        bb = balance(b)  # idempotent
        assert close(bb.A, b.A, 64, scale=np.abs(b.A).max())
        assert close(bb.C, b.C, 64, scale=np.abs(b.C).max())
        mg = merge_redundant(net)
        assert mg.width == net.width
        assert close(mg.realize(X), net.realize(X), 64, scale=fit_scale(net, X))
        assert seminorm_distance(mg, net).value <= close_tol(jac_scale(net), 512)


def test_merge_formula_87():
    # a_j = 3 a_i: c_i ρ(<a_i,x>) + c_j ρ(<a_j,x>) = (c_i + 3 c_j) ρ(<a_i,x>); balanced version
    net = ShallowNetwork([[2.0, -1.0], [6.0, -3.0], [0.0, 1.0]], [1.0, 0.5, 2.0])
    mg = merge_redundant(net)
    v = 1.0 * 2.0 + 0.5 * 6.0  # c_i ||a_i|| + c_j ||a_j|| = 5
    assert close(mg.A[0], math.sqrt(v) * np.array([1.0, -0.5]), 64, scale=math.sqrt(v))
    assert close(mg.C[0, 0], v / math.sqrt(v), 64)
    np.testing.assert_array_equal(mg.A[1], 0.0)
    assert mg.C[0, 1] == 0.0
    np.testing.assert_array_equal(mg.A[2], net.A[2])
    # cancelling pair becomes two zero neurons
    z = merge_redundant(ShallowNetwork([[1.0, 1.0], [2.0, 2.0]], [2.0, -1.0]))
    assert np.all(z.A == 0) and np.all(z.C == 0)


# -------------------------------------------------------------------------------------- Lemma A.5
def test_lemma_a5_flip_identity():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3))
    # J with Σ_J c_i a_i^T = 0: a_0 c_0 + a_1 c_1 + a_2 c_2 = 0
    a0, a1 = rng.normal(size=3), rng.normal(size=3)
    A = np.vstack([a0, a1, -(a0 + 2 * a1) / 4, rng.normal(size=3)])
    net = ShallowNetwork(A, [1.0, 2.0, 4.0, -1.5])
    assert (0, 1, 2) in zero_sum_subsets(net)
    f = flip(net, [0, 1, 2])
    assert close(f.realize(X), net.realize(X), 64, scale=fit_scale(net, X))
    assert seminorm_distance(f, net).value <= close_tol(jac_scale(net), 512)
    # any J: R(flip) = R - Σ_J c_i <a_i, x>
    for J in ([3], [0, 3], [1, 2]):
        lin = sum(net.C[0, i] * (X @ net.A[i]) for i in J)
        assert close(flip(net, J).realize(X)[:, 0], net.realize(X)[:, 0] - lin, 64,
                     scale=fit_scale(net, X))
        assert tuple(J) not in zero_sum_subsets(net)
