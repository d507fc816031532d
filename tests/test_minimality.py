"""Minimal / nearly minimal networks, merging, the descent path, certify_global (SPEC §4.5,
§4.7-4.9, oracles O20 (Clarke counterexamples CE1/CE2) and O21)."""

import numpy as np
import pytest
from scipy.optimize import minimize

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.minimality import (
    GROUPINGS,
    colinear,
    is_minimal,
    is_nearly_minimal,
    merge_colinear,
    minimality_report,
    path_to_nearly_minimal,
    same_group,
    shares_cone,
    sign_vector,
    to_minimal,
)
from hiddenconvex.network import balance, is_scaled

PHI = np.pi / 6  # 30 degrees


def ce1():
    """SPEC O20 CE1 (t = 1): two neurons on the two faces of chamber (+,+), same sign."""
    s, c = np.sin(PHI), np.cos(PHI)
    X = np.array([[s, -c], [s, c]])
    net = ReLUNetwork([[c, s], [c, -s]], [1.0, 1.0])
    lam0 = 1.0 / np.sin(2 * PHI)
    y = net.predict(X) + lam0 * np.ones(2)
    return Problem.create(X, y, 1.0), net


def ce2():
    """SPEC O20 CE2: strict patterns equal (0,0,1), >=-patterns (1,0,1) != (0,1,1)."""
    s, c = np.sin(PHI), np.cos(PHI)
    X = np.array([[-s, c], [-s, -c], [1.0, 0.0]])
    net = ReLUNetwork([[c, s], [c, -s]], [1.0, 1.0])
    y = net.predict(X) + np.ones(3)
    return Problem.create(X, y, c), net


def _clarke_stationary(prob, net, svals):
    """Per-neuron generalized derivative with value svals[i] on the zero set J_i is exactly zero."""
    X = prob.X
    g = prob.loss.gradient(net.predict(X), prob.y)
    for i in range(net.width):
        z = X @ net.U[i]
        S = np.where(np.abs(z) < 1e-12, svals[i], (z > 0).astype(float))
        du = net.alpha[i] * X.T @ (S * g) + prob.beta * net.U[i]
        da = np.maximum(z, 0) @ g + prob.beta * net.alpha[i]
        assert np.max(np.abs(du)) < 1e-12 and abs(da) < 1e-12


def test_ce1_values_and_groupings():
    prob, net = ce1()
    X = prob.X
    np.testing.assert_allclose(net.predict(X), [np.sqrt(3) / 2] * 2, atol=1e-15)
    np.testing.assert_allclose(prob.y, 2.0207259, atol=1e-7)
    assert objective(prob, net).total == pytest.approx(10 / 3, abs=1e-12)
    _clarke_stationary(prob, net, [np.cos(2 * PHI)] * 2)  # s = cos 2phi = 1/2
    assert is_scaled(net)
    np.testing.assert_array_equal(sign_vector(net.U[0], X), [0, 1])
    np.testing.assert_array_equal(sign_vector(net.U[1], X), [1, 0])
    assert shares_cone(net.U[0], net.U[1], X) and not colinear(net.U[0], net.U[1])
    outcome = {g: is_nearly_minimal(net, X, g) for g in GROUPINGS}
    assert outcome == {"cone": False, "ge_pattern": False, "strict_pattern": True, "cell": True}
    assert not is_minimal(net, X, "cone") and is_minimal(net, X, "cell")


def test_ce1_merging_path_decreases_to_3_065384():
    prob, net = ce1()
    path = path_to_nearly_minimal(net, prob.X, steps=20)
    vals = np.array([objective(prob, th).total for th in path])
    assert vals[0] == pytest.approx(10 / 3, abs=1e-12)
    assert vals[-1] == pytest.approx(4 / 3 + np.sqrt(3), abs=1e-12)
    assert round(vals[-1], 6) == 3.065384
    assert np.all(np.diff(vals) < 0)  # strictly decreasing along the sampled path
    for th in path:  # the fit is constant
        np.testing.assert_allclose(th.predict(prob.X), path[0].predict(prob.X), atol=1e-14)
        assert th.width == 2
    end = path[-1]
    assert is_nearly_minimal(end, prob.X, "cone") and is_minimal(end, prob.X, "cone")
    np.testing.assert_allclose(end.U[0], [3 ** 0.25, 0.0], atol=1e-14)  # w = (sqrt 3, 0)
    tm = to_minimal(net, prob.X)
    assert objective(prob, tm).total == pytest.approx(vals[-1], abs=1e-14)


def test_ce2_groupings():
    prob, net = ce2()
    X = prob.X
    np.testing.assert_allclose(prob.y, [1, 1, 1 + np.sqrt(3)], atol=1e-15)
    _clarke_stationary(prob, net, [np.sin(PHI)] * 2)  # s = sin phi = 1/2
    np.testing.assert_array_equal(sign_vector(net.U[0], X), [0, -1, 1])
    np.testing.assert_array_equal(sign_vector(net.U[1], X), [-1, 0, 1])
    assert same_group(net.U[0], net.U[1], X, "strict_pattern")
    assert not same_group(net.U[0], net.U[1], X, "ge_pattern")
    outcome = {g: is_nearly_minimal(net, X, g) for g in GROUPINGS}
    assert outcome == {"cone": False, "ge_pattern": True, "strict_pattern": False, "cell": True}
    path = path_to_nearly_minimal(net, X, steps=10)
    vals = [objective(prob, th).total for th in path]
    assert np.all(np.diff(vals) < 0) and is_minimal(path[-1], X)


def test_minimal_vs_nearly_minimal_toy():
    X = np.eye(2)
    u = np.array([1.0, 0.5])
    col = balance(ReLUNetwork([u, 2 * u], [1.0, 1.0]))
    rep = minimality_report(col, X)
    assert rep.conflicts == ((0, 1),) and rep.noncolinear == ()
    assert is_nearly_minimal(col, X) and not is_minimal(col, X)
    merged = merge_colinear(col)
    assert merged.width == 2 and np.all(merged.U[1] == 0) and is_minimal(merged, X)
    Xt = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_allclose(merged.predict(Xt), col.predict(Xt), atol=1e-14)
    assert merged.regularization() == pytest.approx(col.regularization())
    # opposite output signs in one cone are allowed (blocks j and j + p)
    opp = balance(ReLUNetwork([u, [0.5, 1.0]], [1.0, -1.0]))
    assert is_minimal(opp, X)
    # not scaled -> neither
    assert not is_nearly_minimal(ReLUNetwork([u], [2.0]), X)


def test_to_minimal_and_path_on_random_networks():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 2))
    prob = Problem.create(X, rng.normal(size=5), 0.2)
    for _ in range(15):
        m = int(rng.integers(2, 9))
        net = ReLUNetwork(rng.normal(size=(m, 2)) * rng.uniform(0.1, 3, (m, 1)), rng.normal(size=m))
        path = path_to_nearly_minimal(net, X, steps=5)
        vals = np.array([objective(prob, th).total for th in path])
        assert np.all(np.diff(vals) <= 1e-12)
        assert vals[-1] < vals[0]  # random nets are not scaled
        for th in path[:: max(1, len(path) // 7)]:
            np.testing.assert_allclose(th.predict(X), net.predict(X), atol=1e-10)
        assert is_nearly_minimal(path[-1], X, "cone")
        tm = to_minimal(net, X)
        assert tm.width == m and is_minimal(tm, X, "cone")
        np.testing.assert_allclose(tm.predict(X), net.predict(X), atol=1e-10)
        assert objective(prob, tm).total <= vals[-1] + 1e-12


def test_bad_input():
    prob, net = ce1()
    with pytest.raises(InputError, match="unknown grouping"):
        is_minimal(net, prob.X, grouping="chamber")
    with pytest.raises(InputError, match="input dimension 2 but X has 3 columns"):
        is_nearly_minimal(net, np.ones((4, 3)))
    with pytest.raises(InputError, match="steps must be"):
        path_to_nearly_minimal(net, prob.X, steps=0)
    with pytest.raises(InputError, match="expected a ReLUNetwork"):
        to_minimal(np.ones((2, 2)), prob.X)


# ---------------------------------------------------------------------------------------------
# certify_global (needs hiddenconvex.certificate and hiddenconvex.patterns)


def test_certify_global_o7_o9():
    pytest.importorskip("hiddenconvex.certificate")
    from hiddenconvex.minimality import certify_global

    # O7: x = 1, y = 2, beta = 1 -> optimal net u = alpha = 1
    prob = Problem.create([[1.0]], [2.0], 1.0)
    cert = certify_global(ReLUNetwork([[1.0]], [1.0]), prob)
    assert cert.certified and cert.gap == pytest.approx(0.0, abs=1e-12)
    assert cert.primal == pytest.approx(1.5)
    # O9: u = (sqrt 2, -1), alpha = (sqrt 2, 1), P_c = 4
    prob = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    good = ReLUNetwork([[np.sqrt(2)], [-1.0]], [np.sqrt(2), 1.0])
    cert = certify_global(good, prob)
    assert (cert.certified and cert.primal == pytest.approx(4.0)
            and cert.lower_bound == pytest.approx(4.0))
    # a single neuron is not optimal: dual infeasible; lower bound still valid
    bad = ReLUNetwork([[np.sqrt(2)]], [np.sqrt(2)])  # best single neuron: P*_1 = 4.5
    cert = certify_global(bad, prob)
    assert not cert.certified and cert.max_correlation == pytest.approx(2.0)
    assert objective(prob, bad).total == pytest.approx(4.5)
    assert cert.lower_bound <= 4.0 + 1e-12
    # unbalanced optimal-fit net: not scaled
    cert = certify_global(ReLUNetwork([[2 * np.sqrt(2)], [-1.0]], [np.sqrt(2) / 2, 1.0]), prob)
    assert not cert.certified and not cert.scaled


def test_certify_global_ce1_not_optimal():
    pytest.importorskip("hiddenconvex.certificate")
    from hiddenconvex.minimality import certify_global

    prob, net = ce1()
    cert = certify_global(net, prob)
    assert cert.scaled and cert.correlation_violation < 1e-12  # (C1), (C2) hold
    assert cert.max_correlation == pytest.approx(2 / np.sqrt(3), rel=1e-9)  # (C3) fails
    assert not cert.certified


def _loss_grad(theta, X, y, beta, m):
    d = X.shape[1]
    U = theta[: m * d].reshape(m, d)
    a = theta[m * d:]
    Z = X @ U.T
    H = np.maximum(Z, 0)
    r = H @ a - y
    val = 0.5 * r @ r + 0.5 * beta * (np.sum(U**2) + a @ a)
    gU = (a[:, None] * ((Z > 0) * r[:, None]).T @ X) + beta * U
    ga = H.T @ r + beta * a
    return val, np.concatenate([gU.ravel(), ga])


def _hessian(theta, X, y, beta, m):
    """Exact Hessian of L_beta at a point without kinks (activation patterns locally constant)."""
    d = X.shape[1]
    U, a = theta[: m * d].reshape(m, d), theta[m * d:]
    S = (X @ U.T > 0).astype(float)  # (n, m)
    r = np.maximum(X @ U.T, 0) @ a - y
    J = np.hstack([(a[i] * S[:, [i]] * X) for i in range(m)] + [S * (X @ U.T)])
    H = J.T @ J + beta * np.eye(m * (d + 1))
    for i in range(m):  # d^2 f / (d alpha_i d u_i) = S_i X, contracted with the residual
        cross = X.T @ (S[:, i] * r)
        H[i * d:(i + 1) * d, m * d + i] += cross
        H[m * d + i, i * d:(i + 1) * d] += cross
    return H


def _newton_polish(theta, X, y, beta, m, steps=30):
    """Pseudo-inverse Newton steps from an L-BFGS point (which stalls at |grad| ~ 1e-9), kept only
    while the gradient norm decreases and no activation pattern changes."""
    d = X.shape[1]
    pattern = X @ theta[: m * d].reshape(m, d).T > 0
    g = _loss_grad(theta, X, y, beta, m)[1]
    for _ in range(steps):
        new = theta - np.linalg.pinv(_hessian(theta, X, y, beta, m), rcond=1e-12) @ g
        g_new = _loss_grad(new, X, y, beta, m)[1]
        if np.linalg.norm(g_new) >= np.linalg.norm(g) or \
                np.any((X @ new[: m * d].reshape(m, d).T > 0) != pattern):
            break
        theta, g = new, g_new
    return theta, float(np.linalg.norm(g))


def test_o21_differentiable_stationary_points():
    """O21: L-BFGS stationary points with no zero pre-activation are scaled, nearly minimal for
    every grouping, and optimal for their own subsampled convex program; the best run is certified
    global."""
    pytest.importorskip("hiddenconvex.convex_program")
    from hiddenconvex.convex_program import solve_convex
    from hiddenconvex.minimality import certify_global
    from hiddenconvex.patterns import exact_chambers

    rng = np.random.default_rng(0)
    n, d, m, beta = 5, 2, 10, 0.3
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    prob = Problem.create(X, y, beta)
    chambers = exact_chambers(X)
    best = None
    checked = 0
    for seed in range(30):
        r = np.random.default_rng(100 + seed)
        th0 = r.normal(size=m * (d + 1))
        res = minimize(_loss_grad, th0, args=(X, y, beta, m), jac=True, method="L-BFGS-B",
                       options={"maxiter": 50000, "maxfun": 100000, "ftol": 0, "gtol": 1e-13,
                                "maxcor": 30})
        theta, g = _newton_polish(res.x, X, y, beta, m)
        net = ReLUNetwork(theta[: m * d].reshape(m, d), theta[m * d:])
        live = np.maximum(net.neuron_norms(), np.abs(net.alpha)) > 1e-6
        net = ReLUNetwork(net.U * live[:, None], net.alpha * live)
        # SPEC O21: a differentiable stationary point, |grad| < 1e-10 and all |x_j^T u_i| > 1e-6
        if g > 1e-10 or np.any(np.abs(X @ net.U[live].T) < 1e-6):
            continue
        checked += 1
        assert is_scaled(net, tol=1e-7)
        for grouping in GROUPINGS:
            assert is_nearly_minimal(net, X, grouping, tol=1e-6)
        D = np.unique((X @ net.U[live].T >= 0).T, axis=0).T
        k = [int(np.flatnonzero(np.all(chambers.D == D[:, [j]], axis=0))[0])
             for j in range(D.shape[1])]
        sol = solve_convex(prob, chambers.subset(k))
        assert objective(prob, net).total == pytest.approx(sol.objective.total, rel=1e-7)
        val = objective(prob, net).total
        if best is None or val < best[0]:
            best = (val, net)
    assert checked >= 10
    cert = certify_global(best[1], prob, chambers, tol=1e-6)
    assert cert.certified, cert.reasons
    full = solve_convex(prob, chambers)
    assert best[0] == pytest.approx(full.objective.total, rel=1e-7)
