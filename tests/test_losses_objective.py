"""Shared foundations: losses (values, gradients, Fenchel duals), the objective, block weights."""

import numpy as np
import pytest

from hiddenconvex import BlockWeights, InputError, Problem, ReLUNetwork, get_loss, objective

LOSSES = ["squared", "logistic", "hinge"]


def _labels(loss, rng, n):
    if loss == "squared":
        return rng.normal(size=n)
    return rng.choice([-1.0, 1.0], size=n)


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    loss = get_loss(name)
    y, z = _labels(name, rng, 7), rng.normal(size=7)
    g = loss.gradient(z, y)
    h = 1e-6
    fd = np.array([(loss.value(z + h * e, y) - loss.value(z - h * e, y)) / (2 * h)
                   for e in np.eye(7)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
def test_fenchel_young_equality_at_dual_point(name):
    # -l*(-lam) = l(z) + lam^T z exactly when lam = -grad l(z) (Fenchel-Young equality).
    rng = np.random.default_rng(1)
    loss = get_loss(name)
    y = _labels(name, rng, 9)
    z = rng.normal(size=9) * 2
    lam = loss.dual_point(z, y)
    assert loss.dual_value(lam, y) == pytest.approx(loss.value(z, y) + lam @ z, rel=1e-12,
                                                    abs=1e-12)
    # and the inequality for any other dual point in the domain
    other = loss.dual_point(rng.normal(size=9), y)
    assert loss.dual_value(other, y) <= loss.value(z, y) + other @ z + 1e-12


def test_squared_best_dual_scale_closed_form():
    loss = get_loss("squared")
    y = np.array([3.0, 2.0])
    lam = np.array([1.0, 2.0])  # SPEC O22: t* = min(1/2, 7/5), LB = 2.875
    t, val = loss.best_dual_scale(lam, y, 0.5)
    assert t == 0.5 and val == pytest.approx(2.875, abs=1e-15)


@pytest.mark.parametrize("name", ["logistic", "hinge"])
def test_best_dual_scale_is_maximal_on_grid(name):
    rng = np.random.default_rng(2)
    loss = get_loss(name)
    y = _labels(name, rng, 6)
    lam = loss.dual_point(rng.normal(size=6), y)
    t, val = loss.best_dual_scale(lam, y, 3.0)
    grid = np.linspace(0, min(3.0, loss.max_dual_scale(lam, y)), 2001)
    assert val >= max(loss.dual_value(s * lam, y) for s in grid) - 1e-9


def test_labels_checked():
    with pytest.raises(InputError, match=r"labels in \{-1, \+1\}; found 0, 2"):
        Problem.create(np.eye(3), [0.0, 2.0, 1.0], 1.0, "logistic")
    with pytest.raises(InputError, match="unknown loss"):
        get_loss("l1")


@pytest.mark.parametrize(
    "X, y, beta, match",
    [
        (np.eye(2), [1.0, np.nan], 1.0, "NaN or inf"),
        (np.array([[1.0, np.inf]]), [1.0], 1.0, "NaN or inf"),
        (np.zeros((0, 2)), [], 1.0, "empty"),
        (np.eye(2), [1.0, 2.0, 3.0], 1.0, "length 3 but X has 2 rows"),
        (np.eye(2), [1.0, 2.0], 0.0, "beta must be finite and > 0"),
        (np.eye(2), [1.0, 2.0], -1.0, "beta must be finite and > 0"),
        (np.eye(2), [1.0, 2.0], np.inf, "beta must be finite and > 0"),
        (np.ones(3), [1.0, 2.0, 3.0], 1.0, "must be 2-D"),
    ],
)
def test_problem_validation(X, y, beta, match):
    with pytest.raises(InputError, match=match):
        Problem.create(X, y, beta)


def test_objective_network_by_hand():
    # SPEC O16: X = I_2, one neuron u = (2, 0), alpha = 1/2, beta = 1, y = 0 -> 0.5 + 0.5 (4 + 1/4)
    prob = Problem.create(np.eye(2), [0.0, 0.0], 1.0)
    val = objective(prob, ReLUNetwork([[2.0, 0.0]], [0.5]))
    assert val.loss == pytest.approx(0.5) and val.total == pytest.approx(2.625)


def test_objective_blocks_by_hand():
    # X = I_2, chambers (+,+), (+,-), (-,+), (-,-); block 1 positive on pattern (1,0): w = (1, 0)
    X = np.eye(2)
    D = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    W = np.zeros((8, 2))
    W[1] = [1.0, 0.0]
    W[4 + 2] = [0.0, 3.0]  # negative block on pattern (0,1): prediction -(0, 3)
    bw = BlockWeights(W, D)
    np.testing.assert_allclose(bw.predict(X), [1.0, -3.0])
    np.testing.assert_allclose(bw.fits(X).sum(axis=1), bw.predict(X))
    assert bw.regularization() == pytest.approx(4.0)
    assert bw.cone_violation(X) == 0.0
    val = objective(Problem.create(X, [0.0, 0.0], 2.0), bw)
    assert val.total == pytest.approx(0.5 * 10 + 2 * 4)
    bad = W.copy()
    bad[1] = [-1.0, 0.0]  # violates x_1^T w >= 0
    assert BlockWeights(bad, D).cone_violation(X) == pytest.approx(1.0)


def test_network_input_dimension_checked():
    with pytest.raises(InputError, match="input dimension 2 but X has 3 columns"):
        ReLUNetwork(np.ones((1, 2)), [1.0]).predict(np.ones((4, 3)))
    with pytest.raises(InputError, match="alpha has 2 entries but U has 1"):
        ReLUNetwork(np.ones((1, 2)), [1.0, 2.0])


@pytest.mark.parametrize("name", LOSSES)
def test_cvxpy_expression_matches_numpy(name):
    """The loss the cvxpy model minimizes is the NumPy loss the package evaluates."""
    import cvxpy as cp

    rng = np.random.default_rng(3)
    loss = get_loss(name)
    y, z = _labels(name, rng, 8), 2 * rng.normal(size=8)
    expr = loss.cvxpy(cp.Constant(z), y)
    assert expr.is_convex() and expr.is_dcp()
    assert expr.value == pytest.approx(loss.value(z, y), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("name", LOSSES)
def test_dual_value_is_the_conjugate(name):
    """−ℓ*(−λ) = inf_z ℓ(z) + λ^T z, by an independent coordinate-wise numerical minimization
    (all three losses are separable); −inf outside the domain y λ ∈ [0, 1] (logistic, hinge)."""
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(4)
    loss = get_loss(name)
    y = _labels(name, rng, 5)
    lam = rng.normal(size=5) if name == "squared" else y * rng.uniform(0.05, 0.95, size=5)
    inf = 0.0
    for j in range(5):
        def f(t, j=j):
            z = np.zeros(5)
            z[j] = t
            others = loss.value(z, y) - loss.value(np.zeros(5), y)  # coordinate j's term only
            return others + lam[j] * t
        inf += minimize_scalar(f, bounds=(-60, 60), method="bounded",
                               options={"xatol": 1e-12}).fun
    inf += loss.value(np.zeros(5), y)
    assert loss.dual_value(lam, y) == pytest.approx(inf, abs=1e-7)
    if name != "squared":
        assert loss.dual_value(-lam, y) == -np.inf
        assert loss.dual_value(2.0 * y, y) == -np.inf
