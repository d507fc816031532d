"""Cone projections, M(λ), β_max and the global-optimality certificate (SPEC §2.2, §2.4; O22, O23).

References are independent of the code under test: projections by a cvxpy QP written here, M(λ) by a
dense sweep of the unit circle, chambers by brute force (tests/oracles.py), values by the closed
forms of tests/reference_problems.py.
"""


import numpy as np
import pytest
from oracles import brute_chambers, incremental_chambers, projection_error, qp_projection
from reference_problems import O22, get
from tolerances import (
    IP_RANDOM,
    IP_REFERENCE,
    certified_excess,
    certified_gap,
    no_solver_ran,
    prediction_error,
    project_blocks,
    rounding,
    solve_error,
)

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.blocks import BlockWeights
from hiddenconvex.certificate import (
    Certificate,
    beta_max,
    block_correlations,
    certify,
    cone_projections,
    max_correlation,
    project_cone,
)
from hiddenconvex.convex_program import solve_convex
from hiddenconvex.patterns import cover_bound


def sweep_M(X, lam, k=200_001):
    """max over unit u in R^2 of |λ^T σ(Xu)| on a fine grid plus every kink angle (x_j^T u = 0).

    A lower estimate of M. On each chamber arc λ^T σ(Xu(θ)) = c^T u(θ) = ‖c‖cos(θ − θ_c) with
    c = Σ_{active j} λ_j x_j, maximal at a kink or at θ_c; a grid point is within h/2 of θ_c
    (h = 2π/(k − 1)), so the grid misses the maximum by ≤ ‖c‖(1 − cos(h/2)) ≤ ‖c‖h²/8.
    :func:`sweep_error` returns that bound (‖c‖ ≤ Σ_j |λ_j|‖x_j‖) plus the rounding of the sums.
    """
    kinks = np.arctan2(X[:, 1], X[:, 0]) + np.pi / 2
    th = np.concatenate([np.linspace(0, 2 * np.pi, k), kinks, kinks + np.pi])
    U = np.stack([np.cos(th), np.sin(th)])
    return float(np.max(np.abs(lam @ np.maximum(X @ U, 0.0))))


def sweep_error(X, lam, k=200_001) -> float:
    """M − sweep_M(X, lam) ≤ this (and sweep_M ≤ M + the rounding part), see :func:`sweep_M`."""
    c = float(np.sum(np.abs(lam) * np.linalg.norm(X, axis=1)))
    h = 2 * np.pi / (k - 1)
    return c * h**2 / 8 + rounding(c, 16 * X.shape[0])


# ------------------------------------------------------------------------------------------------
# projections


@pytest.mark.parametrize("seed", range(6))
def test_project_cone_matches_qp_and_moreau(seed):
    rng = np.random.default_rng(seed)
    m, d = rng.integers(2, 7), rng.integers(2, 5)
    A = rng.standard_normal((m, d))
    g = 3 * rng.standard_normal(d)
    P = project_cone(g, A)
    Q, S = qp_projection(g, A, with_active=True)
    err = projection_error(g, A, S)  # both routes, rounding times κ(A_S)
    assert np.linalg.norm(P - Q) <= 2 * err
    # in the cone: the exact projection is, and A moves the error by ≤ ‖A_j‖ err
    assert np.all(A @ P >= -np.linalg.norm(A, axis=1) * err)
    # Moreau orthogonality ⟨Π, g − Π⟩ = 0 exactly; perturbing Π by err moves it by ≤ ‖g‖ err
    # (‖Π‖, ‖g − Π‖ ≤ ‖g‖)
    assert abs(P @ (g - P)) <= 2 * np.linalg.norm(g) * err
    # g − Π(g) = −A_S^T μ (μ ≥ 0) lies in the polar cone: ⟨g − Π, v⟩ = −μ^T A v ≤ 0 for v in C.
    # The oracle's v are in C up to their own rounding r_v (A v ≥ −r_v): ⟨g − Π, v⟩ ≤ ‖μ‖₁ r_v
    # + ‖v‖ err, with ‖μ‖₁ ≤ sqrt(|S|) ‖g − Π‖/σ_min(A_S)
    smin = np.linalg.svd(A[list(S)], compute_uv=False).min() if S else np.inf
    mu1 = np.sqrt(len(S)) * np.linalg.norm(g - Q) / smin if S else 0.0
    for _ in range(5):
        w = rng.standard_normal(d)
        v, Sv = qp_projection(w, A, with_active=True)
        r_v = np.linalg.norm(A, axis=1).max() * projection_error(w, A, Sv)
        assert v @ (g - P) <= mu1 * r_v + np.linalg.norm(v) * 2 * err


def test_project_cone_inside_and_shapes():
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = np.array([2.0, 3.0])
    np.testing.assert_array_equal(project_cone(g, A), g)
    # onto the orthant (active rows {0} and {0, 1}, κ = 1): exact up to rounding
    for g, P, S in (([-1.0, 2.0], [0.0, 2.0], (0,)), ([-1.0, -2.0], [0.0, 0.0], (0, 1))):
        g = np.array(g)
        assert np.linalg.norm(project_cone(g, A) - P) <= projection_error(g, A, S)
    with pytest.raises(InputError, match="shapes"):
        project_cone(np.ones(3), A)


@pytest.mark.parametrize("n,d,seed", [(6, 2, 0), (5, 3, 1), (7, 3, 2)])
def test_cone_projections_block_order_and_values(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    lam = rng.standard_normal(n)
    ch = brute_chambers(X)
    P = cone_projections(X, lam, ch)
    assert P.shape == (2 * ch.p, d)
    errs = []
    for b in range(2 * ch.p):
        k, gamma = b % ch.p, (1.0 if b < ch.p else -1.0)
        Dk = ch.D[:, k]
        A = np.where(Dk, 1.0, -1.0)[:, None] * X
        g = gamma * X.T @ (Dk * lam)
        Q, S = qp_projection(g, A, with_active=True)
        errs.append(projection_error(g, A, S))  # both routes: rounding times κ(A_S)
        assert np.linalg.norm(P[b] - Q) <= 2 * errs[-1]
    errs = np.array(errs)
    corr = block_correlations(X, lam, ch)
    # the correlations are the norms of the projections (possibly computed by another route)
    assert np.all(np.abs(corr - np.linalg.norm(P, axis=1)) <= 2 * errs)
    assert abs(max_correlation(X, lam, ch) - corr.max()) <= 2 * errs.max()
    # patterns may also be given as the raw (n, p) boolean matrix (then every row is used instead
    # of the facets: the same projections up to rounding)
    assert np.all(np.linalg.norm(cone_projections(X, lam, ch.D) - P, axis=1) <= 2 * errs)


@pytest.mark.parametrize("seed", range(4))
def test_max_correlation_matches_circle_sweep(seed):
    rng = np.random.default_rng(10 + seed)
    X = rng.standard_normal((9, 2))
    lam = rng.standard_normal(9)
    M = max_correlation(X, lam, brute_chambers(X))
    s = sweep_M(X, lam)
    # the sweep is a lower estimate: s ≤ M up to the rounding of its sums (n terms of size
    # ≤ Σ|λ_j|‖x_j‖) and of M (projections in R^2); and it misses M by at most the grid error
    # (sweep_M: ‖c‖h²/8, plus the same rounding)
    c = float(np.sum(np.abs(lam) * np.linalg.norm(X, axis=1)))
    assert s <= M + rounding(c, 16 * X.shape[0]) + rounding(M, 64)
    assert M - s <= sweep_error(X, lam)


def test_max_correlation_with_zero_rows():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    lam = np.array([1.0, 5.0, -2.0, 0.5])
    M = max_correlation(X, lam, brute_chambers(X))
    assert abs(M - sweep_M(X, lam)) <= sweep_error(X, lam) + rounding(M, 64)  # see sweep_M


def test_bad_pattern_shapes():
    X = np.eye(2)
    with pytest.raises(InputError, match="patterns"):
        max_correlation(X, np.ones(2), np.ones((3, 2), bool))
    with pytest.raises(InputError):
        cone_projections(X, np.ones(3), np.ones((2, 2), bool))
    with pytest.raises(InputError, match="NaN"):
        max_correlation(X, np.array([1.0, np.nan]), np.ones((2, 2), bool))


def test_cover_bound():
    assert cover_bound(np.random.default_rng(0).standard_normal((7, 4))) == 84  # Cover C(7, 4)
    assert cover_bound(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])) == 2  # rank 1
    assert cover_bound(np.zeros((3, 2))) == 1


# ------------------------------------------------------------------------------------------------
# beta_max (O23)


def test_beta_max_o23():
    # β_max = M(−∇ℓ(0)): with n = 1 (or 1-D rows) every projection is g itself or 0, so only the
    # rounding of X^T D λ and of its norm (d ≤ 3 terms) remains
    def close(value, exact):
        return abs(value - exact) <= rounding(exact, 16)

    o9 = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    assert close(beta_max(o9, brute_chambers(o9.X)), 3.0)
    o7 = Problem.create([[1.0]], [2.0], 1.0)
    assert close(beta_max(o7, brute_chambers(o7.X)), 2.0)
    o8 = get("O8")
    p8 = Problem.create(o8.X, o8.y, o8.beta)
    assert close(beta_max(p8, brute_chambers(p8.X)), 12.0)  # |y|‖x‖ = 4·3
    lg = Problem.create([[1.0]], [1.0], 0.1, "logistic")
    assert close(beta_max(lg, brute_chambers(lg.X)), 0.5)  # M(y/2)
    hg = Problem.create([[1.0]], [-1.0], 0.1, "hinge")
    assert close(beta_max(hg, brute_chambers(hg.X)), 1.0)  # M(y)


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_zero_network_iff_beta_ge_beta_max(loss):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 2))
    y = np.sign(rng.standard_normal(7)) if loss != "squared" else rng.standard_normal(7)
    ch = brute_chambers(X)
    lam0 = -Problem.create(X, y, 1.0, loss).loss.gradient(np.zeros(7), y)
    bm = beta_max(Problem.create(X, y, 1.0, loss), ch)
    assert abs(bm - sweep_M(X, lam0)) <= sweep_error(X, lam0) + rounding(bm, 64)  # see sweep_M
    for factor in (1.0, 1.01, 1.5):
        prob = Problem.create(X, y, factor * bm, loss)
        sol = solve_convex(prob, ch)
        zero_value = objective(prob, BlockWeights(np.zeros_like(sol.weights.W), ch.D)).total
        # β ≥ β_max: P_c = ℓ(0); the solve is within its error bound of it (tests/tolerances.py)
        assert abs(sol.objective.total - zero_value) <= solve_error(sol, IP_RANDOM)
        assert sol.certificate.certified
        e, Wp = certified_excess(prob, sol.weights, sol.certificate.lower_bound)
        moved = float(np.sum(np.linalg.norm(sol.weights.W - Wp.W, axis=1)))
        if factor > 1.0:
            # every block's correlation at λ* = −∇ℓ(0) is ≤ β_max < β: Σ‖w_b‖ ≤ e/(β − β_max)
            # ((ii) of tests/tolerances.py), plus what the cone projection moved
            assert sol.weights.norms().sum() <= e / (prob.beta - bm) + moved
        elif loss != "hinge":
            # at β = β_max the maximizing block has no margin, but ŷ* = 0 is unique (strictly
            # convex loss): ‖ŷ‖ ≤ prediction_error ((i) of tests/tolerances.py). (For the hinge
            # loss nonzero optima also exist at β = β_max exactly.)
            assert np.linalg.norm(sol.yhat) <= prediction_error(prob, sol.weights,
                                                                sol.certificate.lower_bound)
    # β = 0.9 β_max: the maximizing block b (fit z = γ D X s, λ0^T z = β_max, ‖z‖ ≤ ‖X‖₂) gives
    # P(t s) ≤ ℓ(0) − t(β_max − β) + ½ L t²‖z‖² (ℓ is L-smooth: L = 1 squared, 1/4 logistic;
    # hinge: linear near 0, exact for t ≤ 1/‖X‖₂), so P_c ≤ ℓ(0) − drop
    prob = Problem.create(X, y, 0.9 * bm, loss)
    sol = solve_convex(prob, ch)
    zero_value = objective(prob, BlockWeights(np.zeros_like(sol.weights.W), ch.D)).total
    xn = np.linalg.norm(X, 2)
    gap = bm - prob.beta
    drop = gap / xn if loss == "hinge" else gap**2 / (2 * {"squared": 1.0, "logistic": 0.25}[
        loss] * xn**2)
    err = solve_error(sol, IP_RANDOM)
    assert sol.objective.total <= zero_value - drop + err
    # hence ℓ(ŷ) ≤ ℓ(0) − drop + err, and ℓ(ŷ) ≥ ℓ(0) − ‖∇ℓ(0)‖‖ŷ‖ (convexity), while
    # ‖ŷ‖ ≤ ‖X‖₂ Σ‖w_b‖: the largest of the 2p blocks is at least
    least = (drop - err) / (np.linalg.norm(lam0) * xn * 2 * ch.p)
    assert drop > err and sol.weights.norms().max() >= least


# ------------------------------------------------------------------------------------------------
# certificate: O22 and under-sampled programs


def _o22():
    prob = Problem.create(O22["X"], O22["y"], O22["beta"])
    ch = brute_chambers(prob.X)
    k = [j for j in range(ch.p) if tuple(ch.D[:, j]) == O22["pattern"]]
    assert len(k) == 1
    return prob, ch, ch.subset(k)


def test_o22_under_sampled_not_certified():
    prob, ch, sub = _o22()
    sol = solve_convex(prob, sub, chambers=ch)
    assert sol.status == "optimal"
    # the one-pattern program: P_S = 4.5 to the solver's tolerance (tests/tolerances.py)
    assert abs(sol.objective.total - O22["P_S"]) <= solve_error(sol, IP_REFERENCE)
    cert = sol.certificate
    assert not cert.certified and cert.complete
    # its own lower bound: λ is feasible for the restricted program after scaling by
    # β/M_patterns, so max_t D(tλ) ≤ P_S; with the cone-projected point W′ that gives a rigorous
    # e ≥ P(W′) − P_S and ‖ŷ − ŷ_S‖ ≤ ‖ŷ − ŷ′‖ + sqrt(2e) (squared loss, (i) of tolerances.py)
    _, lb_S = prob.loss.best_dual_scale(sol.dual, prob.y, prob.beta / cert.M_patterns)
    e, Wp = certified_excess(prob, sol.weights, lb_S)
    dlam = float(np.linalg.norm(sol.yhat - Wp.predict(prob.X)) + np.sqrt(2 * e))
    assert np.linalg.norm(sol.dual - O22["lambda_S"]) <= dlam  # λ = y − ŷ
    # M and M_patterns are ‖X‖₂-Lipschitz in λ (‖X‖₂ = sqrt 2), exact values 2 and 1
    dM = np.sqrt(2) * dlam + rounding(2.0, 64)
    assert abs(cert.M - O22["M"]) <= dM
    # checking only the sampled pattern passes: not a certificate
    assert abs(cert.M_patterns - 1.0) <= dM
    # t = β/M; LB = D(tλ) = tλ^T y − t²‖λ‖²/2 (exact: t = 0.5, λ = (1, 2), y = (3, 2)) has
    # ‖∂LB/∂λ‖ ≤ t‖y‖ + t²‖λ‖ and |∂LB/∂t| ≤ ‖λ‖‖y‖ + t‖λ‖², taken at the upper ends of the
    # perturbed values; gap = primal − LB
    dt = prob.beta * dM / (O22["M"] * (O22["M"] - dM))
    t_hi, lam_hi, y_n = O22["t"] + dt, np.linalg.norm(O22["lambda_S"]) + dlam, np.linalg.norm(
        prob.y)
    dlb = (t_hi * y_n + t_hi**2 * lam_hi) * dlam + (lam_hi * y_n + t_hi * lam_hi**2) * dt
    assert abs(cert.t - O22["t"]) <= dt + rounding(0.5, 16)
    assert abs(cert.lower_bound - O22["lower_bound"]) <= dlb + rounding(2.875, 16)
    dprimal = solve_error(sol, IP_REFERENCE)
    assert abs(cert.gap - O22["gap"]) <= dprimal + dlb + rounding(4.5, 16)
    assert cert.gap >= O22["P_S"] - O22["P_c"] - dprimal  # gap = primal − LB ≥ primal − P_c
    assert any("dual infeasible" in r for r in cert.reasons)
    # the exact closed-form candidate gives the exact numbers (small binary fractions, every
    # operation exact: λ = (1, 2), M = 2, t = 1/2, LB = 7/2 − 5/8)
    exact = certify(prob, np.array([2.0, 0.0]), 4.5, sub, chambers=ch)
    assert exact.lower_bound == O22["lower_bound"] and exact.M == O22["M"] and exact.t == O22["t"]


def test_o22_all_chambers_certified():
    prob, ch, _ = _o22()
    sol = solve_convex(prob, ch)
    assert sol.status == "optimal"
    err = solve_error(sol, IP_REFERENCE)  # tests/tolerances.py
    assert abs(sol.objective.total - O22["P_c"]) <= err
    cert = sol.certificate
    assert cert.certified and cert.complete and not cert.reasons
    # M is ‖X‖₂-Lipschitz in λ = y − ŷ (‖X‖₂ = sqrt 2); M(λ*) = β = 1
    dlam = prediction_error(prob, sol.weights, cert.lower_bound)
    assert abs(cert.M - 1.0) <= np.sqrt(2) * dlam + rounding(1.0, 64)
    # LB ≤ P_c ≤ objective + err; and P_c − LB ≤ err + the certified gap
    assert cert.lower_bound <= sol.objective.total + err
    assert 0.0 <= 4.0 - cert.lower_bound + rounding(4.0, 64) <= err + certified_gap(cert)


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_bigger_under_sampled_random(loss):
    """Drop the chambers of the full optimum's active blocks: P_S > P_c, not certified, LB valid."""
    rng = np.random.default_rng(7)
    n = 10
    X = np.column_stack([rng.standard_normal((n, 2)), np.ones(n)])  # 2-D data with bias
    y = np.sign(rng.standard_normal(n)) if loss != "squared" else rng.standard_normal(n)
    ch = incremental_chambers(X)
    bm = beta_max(Problem.create(X, y, 1.0, loss), ch)
    prob = Problem.create(X, y, 0.1 * bm, loss)
    full = solve_convex(prob, ch)
    assert full.certificate.certified
    active = np.unique(full.active_blocks(1e-4) % ch.p)
    keep = np.setdiff1d(np.arange(ch.p), active)
    sub = solve_convex(prob, ch.subset(keep), chambers=ch)
    P_c, P_S = full.objective.total, sub.objective.total
    # P_S > P_c, resolved beyond both solves' error bounds (tests/tolerances.py)
    assert P_S - P_c > solve_error(full, IP_RANDOM) + solve_error(sub, IP_RANDOM)
    cert = sub.certificate
    # the restricted optimum's dual is infeasible over all chambers (else weak duality would put
    # P_S below P_c): the certificate's own dual-feasibility test fails
    assert not cert.certified and cert.complete and cert.M > prob.beta * (1 + cert.tol)
    # LB ≤ P_c ≤ P(W′) of the full solve (its blocks projected onto their cones, feasible), up
    # to the rounding of both; so gap = P_S − LB ≥ P_S − P(W′)
    upper = objective(prob, project_blocks(full.weights, X)).total
    rnd = rounding(upper, 16 * (n + 2 * ch.p))
    assert cert.lower_bound <= upper + rnd
    assert cert.gap >= P_S - upper - rnd
    assert cert.lower_bound > -np.inf
    # adding the chambers back closes the gap (certified)
    assert full.certificate.gap <= certified_gap(full.certificate)


def test_incomplete_unaffordable_gives_no_fake_bound():
    prob, ch, sub = _o22()
    sol = solve_convex(prob, sub, certify=False)
    cert = certify(prob, sol.yhat, sol.objective, sub, max_chambers=1)
    assert not cert.certified and not cert.complete
    assert cert.lower_bound is None and cert.gap is None and cert.M is None
    # M over the one pattern at λ = y − ŷ: 1 at λ_S = (1, 2), ‖X‖₂-Lipschitz; ‖λ − λ_S‖ from the
    # restricted program's own lower bound, as in test_o22_under_sampled_not_certified
    _, lb_S = prob.loss.best_dual_scale(sol.dual, prob.y, prob.beta / cert.M_patterns)
    e, Wp = certified_excess(prob, sol.weights, lb_S)
    dlam = float(np.linalg.norm(sol.yhat - Wp.predict(prob.X)) + np.sqrt(2 * e))
    assert abs(cert.M_patterns - 1.0) <= np.sqrt(2) * dlam + rounding(1.0, 64)
    assert "unaffordable" in cert.reasons[0]
    rec = cert.to_record()
    assert rec["lower_bound"] is None and rec["certified"] is False


def test_dual_feasible_but_suboptimal_candidate_not_certified():
    """M(λ) <= β alone does not certify: the duality gap must also close (SPEC §2.4 step 3)."""
    prob = Problem.create([[1.0]], [2.0], 3.0)  # β > β_max = 2: the zero net is optimal, P_c = 2
    ch = brute_chambers(prob.X)
    W = np.zeros((2 * ch.p, 1))
    k = int(np.flatnonzero(ch.D[0])[0])
    W[k] = 0.5  # fit 0.5 > 0: λ = 1.5, M = 1.5 <= β, objective 0.5 * 1.5^2 + 1.5 = 2.625
    bw = BlockWeights(W, ch.D)
    cert = certify(prob, bw.predict(prob.X), objective(prob, bw), ch)
    # small binary fractions (λ = 3/2) and t* = 4/3: exact up to the rounding of t*
    assert abs(cert.M - 1.5) <= rounding(1.5, 4) and abs(cert.primal - 2.625) <= rounding(2.625, 4)
    assert not cert.certified and any("gap" in r for r in cert.reasons)
    # t* = λ^T y / λ^2 = 4/3 <= β/M = 2: LB = P_c = 2
    assert abs(cert.lower_bound - 2.0) <= rounding(2.0, 16)


def test_hinge_dual_sign_convention_o15():
    """The solver's hinge dual satisfies λ ∈ −∂ℓ(ŷ) and −ℓ*(−λ) = Σ y λ = P_c (O15)."""
    for beta, lam_expected in [(0.5, 0.5), (2.0, 1.0)]:
        prob = Problem.create([[1.0]], [1.0], beta, "hinge")
        sol = solve_convex(prob, brute_chambers(prob.X))
        # the solver's multiplier; at β ≥ β_max = 1 no solver runs and λ = −∂ℓ(0) = y is used
        assert sol.dual_source == ("gradient" if no_solver_ran(sol) else "solver")
        cert = sol.certificate
        # n = x = y = 1: D(λ) = λ on the dual domain λ ∈ [0, 1] with M(λ) = |λ| ≤ β, so
        # λ* = min(β, 1) = P_c and, for a feasible λ, λ* − λ = P_c − D(λ) ≤ P(W′) − D(λ) (W′ the
        # cone-projected blocks, P(W′) ≥ P_c); an infeasible λ exceeds λ* by ≤ M − β. Plus rounding
        upper = objective(prob, project_blocks(sol.weights, prob.X)).total
        dlam = (max(upper - cert.dual_value, 0.0) + max(cert.M - beta, 0.0)
                + rounding(1.0, 16))
        assert abs(sol.dual[0] - lam_expected) <= dlam
        assert abs(cert.dual_value - min(beta, 1.0)) <= dlam
        assert cert.certified
    # the wrong sign would be outside the hinge dual domain y*λ in [0, 1]: no usable bound
    prob = Problem.create([[1.0]], [1.0], 0.5, "hinge")
    cert = certify(prob, np.array([1.0]), 0.5, brute_chambers(prob.X), lam=np.array([-0.5]))
    assert not cert.certified and cert.lower_bound == 0.0


def test_certify_input_errors():
    prob, ch, _ = _o22()
    with pytest.raises(InputError, match="yhat"):
        certify(prob, np.ones(3), 1.0, ch)
    with pytest.raises(InputError, match="primal"):
        certify(prob, np.ones(2), np.nan, ch)
    with pytest.raises(InputError, match="complete"):
        certify(prob, np.ones(2), 1.0, ch, chambers=ch.subset([0]))
    with pytest.raises(InputError, match="Problem"):
        certify("not a problem", np.ones(2), 1.0, ch)


def test_certificate_record_and_network_candidates():
    """Certify networks (any model with predict/regularization); check the weak-duality chain."""
    prob, ch, _ = _o22()
    rng = np.random.default_rng(0)
    for _ in range(20):
        net = ReLUNetwork(rng.standard_normal((3, 1)), rng.standard_normal(3))
        val = objective(prob, net)
        cert = certify(prob, net.predict(prob.X), val, ch)
        # LB ≤ P_c ≤ L(θ) exactly (weak duality; a network is feasible through φ); rounding of
        # LB and of L(θ) (3 neurons, 2 points)
        rnd = rounding(max(abs(val.total), 4.0), 64)
        assert cert.lower_bound <= O22["P_c"] + rnd <= val.total + 2 * rnd
        assert isinstance(cert, Certificate)
    rec = cert.to_record()
    for key in ("certified", "complete", "max_correlation", "lower_bound", "gap", "reasons"):
        assert key in rec


# ------------------------------------------------------------------------------------------------
# facets of the chamber cones (used by the convex program and the projections)




# ------------------------------------------------------------------------------------------------
# the exact pass through hiddenconvex.pricing: chunk streams, SciPy, scale


def _chunks(ch, size):
    """(D, witnesses) chunks as the streaming enumerator yields them (a one-shot generator)."""
    for a in range(0, ch.p, size):
        yield ch.D[:, a:a + size], ch.witnesses[a:a + size]


def test_stream_of_chunks_same_as_patterns():
    from oracles import scipy_block_correlations

    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 3))
    lam = rng.standard_normal(12)
    ch = incremental_chambers(X)
    corr = block_correlations(X, lam, ch)
    np.testing.assert_array_equal(block_correlations(X, lam, _chunks(ch, 7)), corr)
    np.testing.assert_array_equal(cone_projections(X, lam, list(_chunks(ch, 5))),
                                  cone_projections(X, lam, ch))
    M = max_correlation(X, lam, ch)
    assert max_correlation(X, lam, _chunks(ch, 9)) == M == corr.max()
    # SciPy's NNLS (every row; tests/oracles.py) is an upper bound on each exact value up to the
    # rounding of its residual, and stops within 1e-9·‖g‖ of it (measured: 5e-10 where Π = 0)
    sc = scipy_block_correlations(X, lam, ch.D)
    G = ch.D.T.astype(float) @ (X * lam[:, None])
    gn = np.maximum(np.tile(np.linalg.norm(G, axis=1), 2), 1.0)
    assert np.all(corr <= sc + rounding(gn, 64))
    assert np.all(sc - corr <= 1e-9 * gn)
    # certify against a generator with a second dual point: one pass prices both
    prob = Problem.create(X, rng.standard_normal(12), 0.4)
    sol = solve_convex(prob, ch)
    ref = certify(prob, sol.yhat, sol.objective, ch, solver_dual=sol.dual)
    cert = certify(prob, sol.yhat, sol.objective, ch, solver_dual=sol.dual,
                   chambers=_chunks(ch, 4))
    assert cert.num_chambers == ch.p == ref.num_chambers
    assert (cert.M, cert.certified, cert.lower_bound, cert.dual_source) == (
        ref.M, ref.certified, ref.lower_bound, ref.dual_source)


def test_scale_exact_powers_of_two():
    """X·2^600, λ·2^-550: M(λ) is the unscaled value times 2^50 exactly (exact pre-scaling)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((9, 2))
    lam = rng.standard_normal(9)
    ch = brute_chambers(X)
    M = max_correlation(X, lam, ch)
    assert max_correlation(np.ldexp(X, 600), np.ldexp(lam, -550), ch) == np.ldexp(M, 50)
    np.testing.assert_array_equal(block_correlations(np.ldexp(X, -600), lam, ch),
                                  np.ldexp(block_correlations(X, lam, ch), -600))
