"""The spaces N' and N* and the augmentation of Lemma A.6 / Cor 1.4 (hiddenconvex.stability.spaces;
SPEC §5.3, §5.4, oracles O32, O33).

References and tolerances: tests/stability_helpers.py.
"""

import numpy as np
import pytest
from stability_helpers import check_star, close, close_tol, fit_scale, jac_scale, o33_networks

from hiddenconvex import InputError
from hiddenconvex.stability.shallow import BiasedShallowNetwork, ShallowNetwork, balance
from hiddenconvex.stability.sobolev import seminorm_distance
from hiddenconvex.stability.spaces import (
    augment,
    in_restricted_space,
    in_star_space,
    lift_inputs,
    restricted_space_violations,
    to_restricted,
)


def test_bad_input_errors():
    a = ShallowNetwork(np.ones((2, 2)), np.ones(2))
    with pytest.raises(InputError, match="BiasedShallowNetwork"):
        augment(a)
    with pytest.raises(InputError):
        lift_inputs(np.ones((2, 2, 2)))


# -------------------------------------------------------------------------------------- N' and N*
def test_to_restricted_preserves_realization_o33():
    for _, net in o33_networks():
        r = to_restricted(net)
        assert in_restricted_space(r)
        assert seminorm_distance(r, net).value <= close_tol(jac_scale(net), 512)


def test_membership_n_prime_and_n_star():
    good = balance(ShallowNetwork([[1.0, 2.0, 1.0], [-1.0, 0.5, 3.0]], [2.0, -1.0]))
    assert in_restricted_space(good) and in_star_space(good)
    unbalanced = ShallowNetwork([[1.0, 2.0, 1.0]], [5.0])
    assert not in_restricted_space(unbalanced)
    redundant = balance(ShallowNetwork([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0]], [1.0, 1.0]))
    assert not in_restricted_space(redundant)
    assert any("C.2" in s for s in restricted_space_violations(redundant))
    opposite = balance(ShallowNetwork([[1.0, 2.0], [-1.0, -2.0]], [1.0, 1.0]))
    assert in_restricted_space(opposite)  # only POSITIVE parallelism is forbidden in N'
    assert not in_star_space(opposite)
    neg = balance(ShallowNetwork([[1.0, -2.0, 1.0]], [1.0]))
    assert in_restricted_space(neg) and not in_star_space(neg)
    assert not in_star_space(ShallowNetwork.zeros(1, 3))  # zero neuron has no positive coords


# ------------------------------------------------------------------- Lemma A.6 augmentation (O32)
def random_biased(rng, d, m, D):
    A1 = rng.normal(size=(m, d))
    b1 = rng.normal(size=m)
    A2 = rng.normal(size=(D, m))
    A1[1], b1[1] = 2.0 * A1[0], 2.0 * b1[0]  # redundant pair (positively parallel affine rows)
    A1[2] = 0.0  # constant neuron ρ(b_2)
    b1[2] = abs(b1[2]) + 0.5
    A2[:, 3] = 0.0  # dead output
    return A1, b1, A2


@pytest.mark.parametrize("d,m,D", [(1, 5, 1), (2, 5, 2), (3, 6, 1), (2, 4, 3)])
def test_augmentation_o32(d, m, D):
    rng = np.random.default_rng(100 + d + m + D)
    for trial in range(5):
        A1, b1, A2 = random_biased(rng, d, m, D)
        b2 = np.zeros(D) if trial % 2 == 0 else rng.normal(size=D)
        theta = BiasedShallowNetwork(A1, b1, A2, b2)
        gamma = augment(theta)
        assert gamma.architecture == (d + 2, m + 1, D)
        check_star(gamma)
        assert in_star_space(gamma)
        X = rng.normal(size=(300, d)) * 3
        want = np.maximum(X @ A1.T + b1, 0) @ A2.T + b2  # R(Θ) written out
        scale = 1.0 + float((np.abs(np.abs(X) @ np.abs(A1).T + np.abs(b1)) @ np.abs(A2).T).max())
        assert close(gamma.realize(lift_inputs(X)), want, 64, scale=scale)


def test_augmentation_edge_cases():
    # everything constant: R(Θ) = const; a cancelling redundant pair
    theta = BiasedShallowNetwork(np.zeros((2, 2)), [1.0, -1.0], [[3.0, 4.0]], [0.5])
    g = augment(theta)
    X = np.random.default_rng(9).normal(size=(20, 2))
    assert close(g.realize(lift_inputs(X))[:, 0], 3.5, 64, scale=fit_scale(g, lift_inputs(X)))
    assert in_star_space(g) and g.width == 3
    theta = BiasedShallowNetwork([[1.0], [2.0]], [1.0, 2.0], [[2.0, -1.0]], [0.0])
    g = augment(theta)  # 2ρ(x+1) - ρ(2x+2) = 0
    X1 = lift_inputs(X[:, :1])
    assert close(g.realize(X1), 0.0, 64, scale=fit_scale(g, X1))
    assert in_star_space(g)
