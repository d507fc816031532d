"""Shared foundations: losses (values, gradients, Fenchel duals), the objective, block weights."""

import numpy as np
import pytest
from tolerances import EPS, rounding

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
    # central differences: truncation h²/6 max|ℓ‴| (0 for the squared loss, ≤ 1/(6 sqrt 3)
    # for the logistic: max|σ''|), rounding of the two values (7-term sums) over 2h, and of
    # z ± h (eps|z| relative to h)
    third = 0.0 if name == "squared" else 1 / (6 * np.sqrt(3))
    f0 = loss.value(z, y)
    err = h**2 / 6 * third + rounding(f0, 32) / h + np.abs(g) * 2 * EPS * (np.abs(z) + h) / h
    assert np.all(np.abs(g - fd) <= err)


@pytest.mark.parametrize("name", LOSSES)
def test_fenchel_young_equality_at_dual_point(name):
    # -l*(-lam) = l(z) + lam^T z exactly when lam = -grad l(z) (Fenchel-Young equality).
    rng = np.random.default_rng(1)
    loss = get_loss(name)
    y = _labels(name, rng, 9)
    z = rng.normal(size=9) * 2
    lam = loss.dual_point(z, y)
    # an identity: both sides are 9-term sums of terms up to |ℓ_j| + |λ_j z_j| (rounding only)
    scale = float(np.sum(np.abs(loss.value(z, y)) + np.abs(lam * z)) + 1.0)
    assert abs(loss.dual_value(lam, y) - (loss.value(z, y) + lam @ z)) <= rounding(scale, 64)
    # and the inequality for any other dual point in the domain
    other = loss.dual_point(rng.normal(size=9), y)
    scale = float(np.sum(np.abs(loss.value(z, y)) + np.abs(other * z)) + 1.0)
    assert loss.dual_value(other, y) <= loss.value(z, y) + other @ z + rounding(scale, 64)


def test_squared_best_dual_scale_closed_form():
    loss = get_loss("squared")
    y = np.array([3.0, 2.0])
    lam = np.array([1.0, 2.0])  # SPEC O22: t* = min(1/2, 7/5), LB = 2.875
    t, val = loss.best_dual_scale(lam, y, 0.5)
    # 0.5·7 − 0.125·5 = 2.875: binary fractions, every operation exact (4 ulp allowed)
    assert t == 0.5 and abs(val - 2.875) <= rounding(2.875, 4)


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
    # binary fractions, a few exact operations (4 ulp allowed)
    assert abs(val.loss - 0.5) <= rounding(0.5, 4) and abs(val.total - 2.625) <= rounding(2.625, 4)


def test_objective_blocks_by_hand():
    # X = I_2, chambers (+,+), (+,-), (-,+), (-,-); block 1 positive on pattern (1,0): w = (1, 0)
    X = np.eye(2)
    D = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    W = np.zeros((8, 2))
    W[1] = [1.0, 0.0]
    W[4 + 2] = [0.0, 3.0]  # negative block on pattern (0,1): prediction -(0, 3)
    bw = BlockWeights(W, D)
    # small integers: every sum and product is exact, in any order
    assert np.array_equal(bw.predict(X), [1.0, -3.0])
    assert np.array_equal(bw.fits(X).sum(axis=1), bw.predict(X))
    assert abs(bw.regularization() - 4.0) <= rounding(4.0, 8)  # norms of small integer rows
    assert bw.cone_violation(X) == 0.0
    val = objective(Problem.create(X, [0.0, 0.0], 2.0), bw)
    assert abs(val.total - (0.5 * 10 + 2 * 4)) <= rounding(13.0, 8)
    bad = W.copy()
    bad[1] = [-1.0, 0.0]  # violates x_1^T w >= 0
    assert BlockWeights(bad, D).cone_violation(X) == 1.0  # integers: exact


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
    # the same function by two evaluations (cvxpy's atoms, NumPy): 8-term sums, rounding only
    v = loss.value(z, y)
    assert abs(expr.value - v) <= rounding(v + float(np.abs(z).sum()), 64)


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
    # each bounded Brent search stops with |t − t*| ≤ dt = 3(sqrt(eps)|t*| + xatol) (scipy's
    # fminbound tolerance sqrt(eps)|x| + xatol/3): the value is off by ≤ ½ dt² for the smooth
    # losses (ℓ'' ≤ 1) and by ≤ (1 + |λ_j|) dt for the hinge (slopes ≤ 1 + |λ_j|; t* = y_j);
    # plus the rounding of the 5-term sums. |t*| ≤ |y| + |λ| (squared), ≤ 3 (logistic, yλ ≥ 0.05)
    tstar = np.abs(y) + np.abs(lam) if name == "squared" else np.full(5, 3.0)
    dt = 3 * (np.sqrt(EPS) * tstar + 1e-12)
    per = (1 + np.abs(lam)) * dt if name == "hinge" else 0.5 * dt**2
    assert abs(loss.dual_value(lam, y) - inf) <= per.sum() + rounding(abs(inf) + 1.0, 64)
    if name != "squared":
        assert loss.dual_value(-lam, y) == -np.inf
        assert loss.dual_value(2.0 * y, y) == -np.inf
