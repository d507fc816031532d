"""Minimal / nearly minimal networks, merging, the descent path, certify_global (SPEC §4.5,
§4.7-4.9, oracles O20 (Clarke counterexamples CE1/CE2) and O21)."""

import numpy as np
import pytest
from scipy.optimize import minimize
from tolerances import IP_RANDOM, rounding, solve_error

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
    n, d = X.shape
    g = prob.loss.gradient(net.predict(X), prob.y)
    xn = np.linalg.norm(X, axis=1)
    for i in range(net.width):
        z = X @ net.U[i]
        # x_j^T u_i = 0 exactly in these closed forms: computed, it is within the rounding of a
        # d-term dot product (built from sin/cos of PHI, themselves rounded)
        zero = np.abs(z) <= rounding(xn * np.linalg.norm(net.U[i]), 16 * d)
        S = np.where(zero, svals[i], (z > 0).astype(float))
        du = net.alpha[i] * X.T @ (S * g) + prob.beta * net.U[i]
        da = np.maximum(z, 0) @ g + prob.beta * net.alpha[i]
        # both vanish exactly; computed: n-term sums of terms up to |α|‖x_j‖|g_j| and β‖u‖, β|α|
        scale = (abs(net.alpha[i]) * xn @ np.abs(g) + prob.beta * np.linalg.norm(net.U[i])
                 + np.abs(z) @ np.abs(g) + prob.beta * abs(net.alpha[i]))
        assert np.max(np.abs(du)) <= rounding(scale, 16 * n)
        assert abs(da) <= rounding(scale, 16 * n)


def test_ce1_values_and_groupings():
    prob, net = ce1()
    X = prob.X
    # closed forms, a handful of rounded operations each (sin/cos of PHI, dot products, sums)
    assert np.all(np.abs(net.predict(X) - np.sqrt(3) / 2) <= rounding(1.0, 8))
    # the SPEC prints y to 8 significant digits: ±5e-8
    assert np.all(np.abs(prob.y - 2.0207259) <= 5e-8 + rounding(2.0, 8))
    assert abs(objective(prob, net).total - 10 / 3) <= rounding(10 / 3, 32)
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
    steps = 20
    path = path_to_nearly_minimal(net, prob.X, steps=steps)
    vals = np.array([objective(prob, th).total for th in path])
    # closed forms; each path point is a few rounded operations (interpolation, balancing) away
    # from the start, the objective a few more: k = 16 per step
    rnd = rounding(10 / 3, 16 * (steps + 2))
    assert abs(vals[0] - 10 / 3) <= rnd
    assert abs(vals[-1] - (4 / 3 + np.sqrt(3))) <= rnd
    assert round(vals[-1], 6) == 3.065384  # the SPEC's digits (3.06538414: far from a tie)
    assert np.all(np.diff(vals) < 0)  # strictly decreasing along the sampled path
    for th in path:  # the fit is constant
        assert np.all(np.abs(th.predict(prob.X) - path[0].predict(prob.X)) <= rnd)
        assert th.width == 2
    end = path[-1]
    assert is_nearly_minimal(end, prob.X, "cone") and is_minimal(end, prob.X, "cone")
    assert np.all(np.abs(end.U[0] - [3 ** 0.25, 0.0]) <= rnd)  # w = (sqrt 3, 0)
    tm = to_minimal(net, prob.X)
    assert abs(objective(prob, tm).total - vals[-1]) <= rnd


def test_ce2_groupings():
    prob, net = ce2()
    X = prob.X
    assert np.all(np.abs(prob.y - [1, 1, 1 + np.sqrt(3)]) <= rounding(2.8, 8))  # a few ops
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
    # merging colinear neurons keeps f and R exactly but for rounding (2 neurons, d = 2)
    scale = np.abs(Xt) @ np.abs(col.U.T) @ np.abs(col.alpha)
    assert np.all(np.abs(merged.predict(Xt) - col.predict(Xt)) <= rounding(scale.max(), 32))
    assert abs(merged.regularization() - col.regularization()) <= rounding(
        col.regularization(), 32)
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
        # the path keeps f and does not increase L in exact arithmetic; each of its points is a
        # few rounded operations per neuron and step away (k = 64 m per step, len(path) steps),
        # on values of the size of Σ|α_i| ‖u_i‖ ‖x_j‖ (f) and of L
        k = 64 * m * len(path)
        fscale = float((np.abs(X) @ np.abs(net.U.T) @ np.abs(net.alpha)).max())
        assert np.all(np.diff(vals) <= rounding(vals, k))
        assert vals[-1] < vals[0]  # random nets are not scaled
        for th in path[:: max(1, len(path) // 7)]:
            assert np.all(np.abs(th.predict(X) - net.predict(X)) <= rounding(fscale, k))
        assert is_nearly_minimal(path[-1], X, "cone")
        tm = to_minimal(net, X)
        assert tm.width == m and is_minimal(tm, X, "cone")
        assert np.all(np.abs(tm.predict(X) - net.predict(X)) <= rounding(fscale, k))
        assert objective(prob, tm).total <= vals[-1] + rounding(vals, k)


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
    # exact closed forms (small binary fractions, 1-D projections): rounding only
    assert cert.certified and abs(cert.gap) <= rounding(1.5, 64)
    assert abs(cert.primal - 1.5) <= rounding(1.5, 16)
    # O9: u = (sqrt 2, -1), alpha = (sqrt 2, 1), P_c = 4
    prob = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    good = ReLUNetwork([[np.sqrt(2)], [-1.0]], [np.sqrt(2), 1.0])
    cert = certify_global(good, prob)
    # P_c = 4 = L(good) up to the rounding of sqrt(2)² and of the dual bound
    assert cert.certified and abs(cert.primal - 4.0) <= rounding(4.0, 16)
    assert abs(cert.lower_bound - 4.0) <= rounding(4.0, 64)
    # a single neuron is not optimal: dual infeasible; lower bound still valid
    bad = ReLUNetwork([[np.sqrt(2)]], [np.sqrt(2)])  # best single neuron: P*_1 = 4.5
    cert = certify_global(bad, prob)
    # λ = y − ŷ = (1, 2): M = 2 (1-D projections: g or 0), L = 4.5, LB ≤ P_c: rounding only
    assert not cert.certified and abs(cert.max_correlation - 2.0) <= rounding(2.0, 16)
    assert abs(objective(prob, bad).total - 4.5) <= rounding(4.5, 16)
    assert cert.lower_bound <= 4.0 + rounding(4.0, 64)
    # unbalanced optimal-fit net: not scaled
    cert = certify_global(ReLUNetwork([[2 * np.sqrt(2)], [-1.0]], [np.sqrt(2) / 2, 1.0]), prob)
    assert not cert.certified and not cert.scaled


def test_certify_global_ce1_not_optimal():
    pytest.importorskip("hiddenconvex.certificate")
    from hiddenconvex.minimality import certify_global

    prob, net = ce1()
    cert = certify_global(net, prob)
    # (C1), (C2) hold exactly in the closed form; (C3) fails: M = 2/sqrt 3 (NNLS projections in
    # R^2 on two rows at 60 degrees, κ ≤ 2: rounding only)
    assert cert.scaled and cert.correlation_violation <= rounding(1.0, 64)
    assert abs(cert.max_correlation - 2 / np.sqrt(3)) <= rounding(2.0, 256)
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
    from hiddenconvex.certificate import max_correlation
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
        sub = chambers.subset(k)
        sol = solve_convex(prob, sub)
        val = objective(prob, net).total
        # θ (through φ, feasible on its own patterns: L(θ) ≥ P_S) and its own restricted dual
        # λ = y − f_θ scaled to M_S(λ) ≤ β give LB_S ≤ P_S ≤ L(θ); the solve is within its error
        # bound of P_S (tests/tolerances.py)
        f = net.predict(X)
        lam = prob.loss.dual_point(f, y)
        M_S = max_correlation(X, lam, sub)
        _, lb_S = prob.loss.best_dual_scale(lam, y, beta / M_S)
        rnd = rounding(val, 16 * (n + m))
        assert sol.status == "optimal"
        assert abs(val - sol.objective.total) <= (val - lb_S) + solve_error(sol, IP_RANDOM) + rnd
        # and stationarity makes θ optimal for it in the certificate's sense (M_S ≤ β(1 + 1e-6),
        # L(θ) − LB_S ≤ 1e-5 ℓ(0))
        assert M_S <= beta * (1 + 1e-6) and val - lb_S <= 1e-5 * 0.5 * float(y @ y)
        if best is None or val < best[0]:
            best = (val, net)
    assert checked >= 10
    cert = certify_global(best[1], prob, chambers, tol=1e-6)
    assert cert.certified, cert.reasons
    full = solve_convex(prob, chambers)
    # certified: LB ≤ P_c ≤ best (a network), and the full solve is within its error bound
    assert full.status == "optimal"
    assert abs(best[0] - full.objective.total) <= (best[0] - cert.lower_bound) + solve_error(
        full, IP_RANDOM) + rounding(best[0], 16 * (n + m))
