"""Gradient training of L_beta (hiddenconvex.training): gradient, methods, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import EPS, project_blocks, rounding

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.training import (
    METHODS,
    best_result,
    gradient,
    gradient_norm,
    initial_network,
    kink_projectors,
    train,
    train_many,
)


def problem(loss="squared", n=12, d=3, seed=0, beta=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n) if loss == "squared" else np.where(rng.normal(size=n) > 0, 1.0, -1.0)
    return Problem.create(X, y, beta, loss)


def flat(net):
    return np.concatenate([net.U.ravel(), net.alpha])


def unflat(x, m, d):
    return ReLUNetwork(x[: m * d].reshape(m, d), x[m * d:])


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gradient_matches_central_differences(loss):
    prob = problem(loss)
    net = initial_network(prob, 4, seed=3)
    z = prob.X @ net.U.T
    assert np.abs(z).min() > 1e-3  # a differentiable point: no pre-activation at the kink
    gU, ga = gradient(prob, net)
    g = np.concatenate([gU.ravel(), ga])
    x0, h = flat(net), 1e-6
    fd = np.array([(objective(prob, unflat(x0 + h * e, 4, 3)).total
                    - objective(prob, unflat(x0 - h * e, 4, 3)).total) / (2 * h)
                   for e in np.eye(x0.size)])
    # central differences: with |x_j^T u| > 1e-3 ≫ h‖x_j‖ no pattern changes on [x0 − h, x0 + h],
    # where z = f_θ(X) is linear in each coordinate, with slopes c_j. Truncation h²/6 |f‴|: 0 for
    # the squared loss (quadratic in t), ≤ h²/6 Σ_j max|ℓ‴| c_j³ for the logistic
    # (max|σ''| = 1/(6 sqrt 3)); rounding: each value rounds by ≤ rounding(f) (divided by 2h),
    # and x0 ± h by eps|x0| relative to h
    n, m = prob.n, 4
    f0 = objective(prob, net).total
    err = np.empty(x0.size)
    for i, e in enumerate(np.eye(x0.size)):
        c = (unflat(x0 + h * e, m, 3).predict(prob.X)
             - unflat(x0 - h * e, m, 3).predict(prob.X)) / (2 * h)
        third = 0.0 if loss == "squared" else np.sum(np.abs(c) ** 3) / (6 * np.sqrt(3))
        err[i] = (h**2 / 6 * third + rounding(f0, 16 * (n + m)) / h
                  + abs(g[i]) * 2 * EPS * (abs(x0[i]) + h) / h)
    assert np.all(np.abs(g - fd) <= err + rounding(np.abs(g), 16 * n))
    assert abs(gradient_norm(prob, net) - np.linalg.norm(g)) <= rounding(np.linalg.norm(g), 16)


def test_gradient_convention_at_kink_is_strict_pattern():
    """sigma'(0) = 0: a data point on a neuron's hyperplane contributes nothing to grad_u."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    prob = Problem.create(X, [1.0, 2.0, 3.0], 0.5)
    net = ReLUNetwork(np.array([[1.0, 0.0]]), np.array([2.0]))  # x_2^T u = 0 exactly
    gU, ga = gradient(prob, net)
    yhat = net.predict(X)
    r = yhat - prob.y
    active = np.array([1.0, 0.0, 1.0])
    # the same formulas (3-term sums of O(|r|) terms): rounding only
    rnd = rounding(2.0 * np.abs(X).T @ np.abs(r) + 1.0, 16)
    assert np.all(np.abs(gU[0] - (2.0 * X.T @ (active * r) + 0.5 * net.U[0])) <= rnd)
    assert abs(ga[0] - (np.maximum(X @ net.U[0], 0) @ r + 0.5 * 2.0)) <= rnd


@pytest.mark.parametrize("method", METHODS)
def test_methods_decrease_and_are_deterministic(method):
    prob = problem()
    kw = {"max_iter": 300}
    a = train(prob, 5, method=method, seed=1, **kw)
    b = train(prob, 5, method=method, seed=1, **kw)
    start = objective(prob, initial_network(prob, 5, seed=1)).total
    # the same L_β of the same network, possibly evaluated by another code path: rounding of
    # sums over n = 12 points and 5 neurons
    rnd = rounding(start, 16 * (prob.n + 5))
    assert abs(a.history[0] - start) <= rnd
    assert a.objective.total < start
    assert abs(a.objective.total - objective(prob, a.network).total) <= rnd
    assert np.array_equal(a.network.U, b.network.U) and np.array_equal(a.history, b.history)
    assert a.history.size == a.iterations + 1
    assert a.method == method and a.seed == 1 and a.width == 5
    rec = a.to_record()
    assert rec["objective"] == a.objective.total and rec["method"] == method


def test_gd_line_search_history_is_monotone():
    res = train(problem(), 4, method="gd", seed=0, max_iter=200)
    assert np.all(np.diff(res.history) <= 0)


def test_converged_flag_and_kink_stall():
    """``converged`` <=> grad norm <= tol * max(1, l(0)). On generic data L-BFGS often stops where a
    neuron sits on a kink (L_beta not differentiable, gradient norm O(0.1)); ``lbfgs-kinks`` then
    keeps descending on the kink manifold."""
    prob = problem()
    scale = max(1.0, prob.loss.value(np.zeros(prob.n), prob.y))
    res = train(prob, 6, seed=1)
    assert res.converged == (res.grad_norm <= 1e-8 * scale)  # the definition (default tol 1e-8)
    live = np.abs(res.network.alpha) > 1e-3
    z = np.abs(prob.X @ res.network.U[live].T) / np.linalg.norm(res.network.U[live], axis=1)
    # stalled on a kink: not converged, and a neuron within the package's kink tolerance
    # (train's kink_tol = 1e-4, relative to ‖x_j‖) of a data hyperplane
    assert not res.converged and z.min() < 1e-4 * np.linalg.norm(prob.X, axis=1).max()
    kinks = train(prob, 6, seed=1, method="lbfgs-kinks")
    # strictly lower, beyond the rounding of both values
    assert kinks.objective.total < res.objective.total - rounding(res.objective.total, 16 * 18)


def test_adam_step_decay_schedule():
    """lr_k = lr * decay**((k-1)//every): with decay 0 < d < 1 the steps shrink geometrically."""
    prob = problem()
    init = initial_network(prob, 3, seed=0)
    res = train(prob, 3, method="adam", init=init, lr=1e-2, lr_decay=0.1, decay_every=5,
                max_iter=15, tol=1e-300)
    assert res.iterations == 15 and res.options["lr_decay"] == 0.1
    # reproduce the 15 Adam steps independently
    x = flat(init)
    m = v = np.zeros_like(x)
    for k in range(1, 16):
        gU, ga = gradient(prob, unflat(x, 3, 3))
        g = np.concatenate([gU.ravel(), ga])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = 1e-2 * 0.1 ** ((k - 1) // 5)
        x = x - step * (m / (1 - 0.9**k)) / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
    # the same 15 updates (same gradient function): each step rounds by a few eps·|x| in the
    # moments and the update, 15 steps
    assert np.all(np.abs(flat(res.network) - x) <= rounding(np.abs(x).max(), 64 * 15))


def test_kink_projectors():
    X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    U = np.array([[0.0, 0.0, 2.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    P = kink_projectors(X, U, 1e-4)
    # neuron 0 has kinks at x_1 and x_2: projector onto span(e_3); neuron 1 none; neuron 2 is zero
    # (orthogonal projectors for rows of R^3: exact up to rounding)
    rnd = rounding(1.0, 64)

    def same(A, B):
        return np.all(np.abs(A - B) <= rnd)

    assert same(P[0], np.diag([0.0, 0.0, 1.0]))
    assert same(P[1], np.eye(3)) and same(P[2], np.eye(3))
    near = U.copy()
    near[0, 0] = 1e-6  # within kink_tol of the hyperplane of x_1
    assert same(kink_projectors(X, near, 1e-4)[0], np.diag([0.0, 0.0, 1.0]))
    assert same(kink_projectors(X, near, 1e-8)[0], np.diag([1.0, 0.0, 1.0]))


def test_lbfgs_kinks_reaches_a_kink_optimum():
    """On low_rank data every optimal neuron lies on a kink (SPEC §1.3 data, 2-D arrangement):
    L-BFGS stalls ~1e-4..1e-3 above P_c, lbfgs-kinks reaches P_c to rounding (independent check:
    the certified convex optimum)."""
    from hiddenconvex.convex_program import solve_convex
    from hiddenconvex.experiments.datasets import load_dataset
    from hiddenconvex.patterns import exact_chambers

    data = load_dataset("low_rank")
    prob = Problem.create(data.X, data.y, 0.1)
    sol = solve_convex(prob, exact_chambers(prob.X))
    assert sol.certificate.certified and sol.status == "optimal"
    lb = sol.certificate.lower_bound
    # P_c in [LB, P(W′)] (W′: the solver's blocks projected onto their cones, feasible)
    upper = objective(prob, project_blocks(sol.weights, prob.X)).total
    rnd = rounding(upper, 16 * prob.n * 20)  # L_β: sums over n points and 20 neurons
    plain = train(prob, 20, seed=2)
    kinks = train(prob, 20, seed=2, method="lbfgs-kinks")
    # L-BFGS stalls above P_c (beyond the certified bracket); lbfgs-kinks reaches it to rounding
    assert plain.objective.total > upper + rnd
    assert lb - rnd <= kinks.objective.total <= upper + rnd
    assert abs(kinks.objective.total - kinks.history.min()) <= rnd
    assert kinks.history.size == kinks.iterations + 1
    assert kinks.history[: plain.iterations + 1].tolist() == plain.history.tolist()
    assert "kink-manifold round(s) kept" in kinks.message


def test_train_many_and_best_result():
    prob = problem()
    seen = []
    res = train_many(prob, 3, [5, 2], on_result=seen.append, max_iter=50)
    assert [r.seed for r in res] == [5, 2] and seen == res
    assert [r.seed for r in train_many(prob, 3, 2, max_iter=5)] == [0, 1]
    best = best_result(res)
    assert best.objective.total == min(r.objective.total for r in res)


def test_callback_sees_every_iteration():
    calls = []
    res = train(problem(), 3, method="adam", seed=0, max_iter=7, tol=1e-300,
                callback=lambda k, f: calls.append((k, f)))
    assert [k for k, _ in calls] == list(range(8))
    assert [f for _, f in calls] == res.history.tolist()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"width": 0}, "width must be an integer >= 1"),
    ({"method": "sgd"}, "unknown training method"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"tol": 0}, "tol must be finite and > 0"),
    ({"max_iter": -1}, "max_iter must be an integer >= 0"),
    ({"method": "adam", "lr": -1.0}, "lr must be finite and > 0"),
    ({"method": "adam", "lr_decay": 2.0}, r"lr_decay must lie in \(0, 1\]"),
    ({"method": "lbfgs-kinks", "kink_rounds": -3}, "kink_rounds must be an integer >= 0"),
    ({"method": "lbfgs-kinks", "kink_tol": 0.0}, "kink_tol must be finite and > 0"),
    ({"init": ReLUNetwork(np.zeros((2, 3)), np.zeros(2))}, "init network has width 2"),
    ({"init": ReLUNetwork(np.zeros((4, 2)), np.zeros(4))}, "input dimension 2"),
])
def test_input_errors(kwargs, pattern):
    kw = {"width": 4, **kwargs}
    with pytest.raises(InputError, match=pattern):
        train(problem(), kw.pop("width"), **kw)


def test_train_many_errors():
    with pytest.raises(InputError, match="do not pass seed"):
        train_many(problem(), 2, 3, seed=1)
    with pytest.raises(InputError, match="seeds is empty"):
        train_many(problem(), 2, [])
    with pytest.raises(InputError, match="number of seeds"):
        train_many(problem(), 2, 0)
