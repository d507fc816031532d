"""The rescaling orbit: best rescaling of a neuron, bottleneck assignment and the exact orbit
distance (hiddenconvex.stability.orbits; SPEC §5.3, §5.7).

References (dense grids in the rescaling t, enumeration of all permutations) and tolerances:
tests/stability_helpers.py.
"""

import itertools

import numpy as np
import pytest
from stability_helpers import (
    brute_orbit_distance,
    close,
    close_tol,
    fit_scale,
    jac_scale,
    log_grid_error,
    orbit_grid_error,
    random_net,
)

from hiddenconvex import InputError
from hiddenconvex.stability.orbits import (
    best_rescaling,
    bottleneck_assignment,
    rescaling_orbit_distance,
)
from hiddenconvex.stability.shallow import ShallowNetwork, parameter_distance
from hiddenconvex.stability.sobolev import seminorm_distance


def test_bad_input_errors():
    with pytest.raises(InputError, match="square"):
        bottleneck_assignment(np.ones((2, 3)))
    g2 = ShallowNetwork(np.ones((2, 2)), np.ones(2))
    g3 = ShallowNetwork(np.ones((2, 3)), np.ones(2))
    with pytest.raises(InputError, match="architecture"):
        rescaling_orbit_distance(g2, g3)
    with pytest.raises(InputError, match="shapes"):
        best_rescaling([1.0, 0.0], [1.0], [1.0], [1.0])


# ----------------------------------------------------------------------- rescaling and assignment
def test_best_rescaling_against_dense_grid():
    rng = np.random.default_rng(11)
    t_grid = np.exp(np.linspace(np.log(1e-3), np.log(1e3), 400_001))
    for _ in range(15):
        a, ar = rng.normal(size=3), rng.normal(size=3)
        c, cr = rng.normal(size=2), rng.normal(size=2)
        t, val = best_rescaling(a, c, ar, cr)
        F = np.maximum(np.max(np.abs(np.outer(t_grid, a) - ar), axis=1),
                       np.max(np.abs(np.outer(1 / t_grid, c) - cr), axis=1))
        # the grid minimum is an upper bound (up to rounding), within the log grid's resolution
        # (log_grid_error) of the exact one
        big = max(np.abs(ar).max(), np.abs(cr).max())
        assert val <= F.min() + close_tol(F.min() + big)
        assert val >= F.min() - log_grid_error(F.min(), big, 400_001)
        ref = max(np.max(np.abs(t * a - ar)), np.max(np.abs(c / t - cr)))
        assert close(val, ref, 64, scale=ref + big)
    with pytest.raises(InputError):
        best_rescaling([0.0, 0.0], [1.0], [1.0, 1.0], [1.0])


def test_bottleneck_assignment_against_permutations():
    rng = np.random.default_rng(12)
    for n in (1, 2, 4, 5):
        for _ in range(5):
            C = rng.uniform(size=(n, n)).round(2)
            perm, val = bottleneck_assignment(C)
            brute = min(max(C[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
            assert val == brute
            assert sorted(perm.tolist()) == list(range(n))
            assert max(C[i, perm[i]] for i in range(n)) == val


# --------------------------------------------------------------------------------- orbit distance
def test_orbit_distance_is_consistent():
    rng = np.random.default_rng(13)
    for _ in range(5):
        T, G = random_net(rng, 2, 3), random_net(rng, 2, 3)
        o = rescaling_orbit_distance(T, G)
        brute = brute_orbit_distance(T, G, 4001)  # an upper bound, to the grid's resolution
        assert o.value - close_tol(o.value) <= brute
        assert brute <= o.value + orbit_grid_error(T, G, o.value, 4001)
        assert o.value <= brute_orbit_distance(T, G, 4001) + close_tol(o.value)  # upper bound
        assert seminorm_distance(o.phi, T).value <= close_tol(jac_scale(T), 512)


def test_orbit_distance_dead_neurons():
    # a dead Θ neuron may become ANY dead neuron: (0, c_ref) costs ||a_ref||, (a_ref, 0) costs
    # ||c_ref||; the cheaper one must be used (here 0.1, not 5)
    G = ShallowNetwork([[0.1, -0.05], [1.0, 0.0]], [5.0, 1.0])
    T = ShallowNetwork([[0.0, 0.0], [2.0, 0.0]], [3.0, 0.5])  # neuron 0 dead, neuron 1 = ρ(x_1)
    o = rescaling_orbit_distance(T, G)
    assert close(o.value, 0.1, 64)  # slot 0: (0, 5); slot 1: (1, 0)·1 exactly
    np.testing.assert_array_equal(o.phi.A[0], 0.0)
    assert o.phi.C[0, 0] == 5.0
    assert close(parameter_distance(o.phi, G), 0.1, 64)
    assert not o.complete  # a dead neuron: other realizations exist (e.g. split ρ(x_1))
    X = np.random.default_rng(14).normal(size=(50, 2))
    assert close(o.phi.realize(X), T.realize(X), 64, scale=fit_scale(T, X))
