"""Cone projections, M(λ), β_max and the global-optimality certificate (SPEC §2.2, §2.4; O22, O23).

References are independent of the code under test: projections by a cvxpy QP written here, M(λ) by a
dense sweep of the unit circle, chambers by brute force (tests/oracles.py), values by the closed
forms of tests/reference_problems.py.
"""

import itertools

import numpy as np
import pytest
from oracles import brute_chambers, incremental_chambers
from reference_problems import O22, get

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.blocks import BlockWeights
from hiddenconvex.certificate import (
    Certificate,
    beta_max,
    block_correlations,
    certify,
    chamber_bound,
    cone_projections,
    max_correlation,
    project_cone,
)
from hiddenconvex.convex_program import solve_convex


def qp_projection(g, A):
    """Π_{Au >= 0}(g) by brute force over active sets (independent of the NNLS route).

    The projection is the orthogonal projection of g onto the null space of some subset S of the
    rows (its active constraints); among the feasible candidates it is the one closest to g.
    """
    m, d = A.shape
    best, best_dist = None, np.inf
    for size in range(0, min(m, d) + 1):
        for S in itertools.combinations(range(m), size):
            if S:
                _, s, Vt = np.linalg.svd(A[list(S)])
                rank = int(np.sum(s > 1e-12 * s[0]))
                N = Vt[rank:].T  # basis of null(A_S)
                u = N @ (N.T @ g)
            else:
                u = g.copy()
            if np.all(A @ u >= -1e-10 * max(1.0, np.linalg.norm(g))):
                dist = np.linalg.norm(u - g)
                if dist < best_dist - 1e-15:
                    best, best_dist = u, dist
    return best


def sweep_M(X, lam, k=200_001):
    """max over unit u in R^2 of |λ^T σ(Xu)| on a fine grid plus every kink angle (x_j^T u = 0).

    A lower estimate of M; on each chamber arc the maximum is at a kink or a smooth interior point,
    so the error is O(1/k²).
    """
    kinks = np.arctan2(X[:, 1], X[:, 0]) + np.pi / 2
    th = np.concatenate([np.linspace(0, 2 * np.pi, k), kinks, kinks + np.pi])
    U = np.stack([np.cos(th), np.sin(th)])
    return float(np.max(np.abs(lam @ np.maximum(X @ U, 0.0))))


# ------------------------------------------------------------------------------------------------
# projections


@pytest.mark.parametrize("seed", range(6))
def test_project_cone_matches_qp_and_moreau(seed):
    rng = np.random.default_rng(seed)
    m, d = rng.integers(2, 7), rng.integers(2, 5)
    A = rng.standard_normal((m, d))
    g = 3 * rng.standard_normal(d)
    P = project_cone(g, A)
    np.testing.assert_allclose(P, qp_projection(g, A), atol=1e-7)
    assert np.all(A @ P >= -1e-10)  # in the cone
    assert abs(P @ (g - P)) <= 1e-9 * max(1.0, g @ g)  # Moreau orthogonality
    # g - Π(g) lies in the polar cone {-A^T mu, mu >= 0}: <g - Π, v> <= 0 for every v in C
    V = np.array([qp_projection(rng.standard_normal(d), A) for _ in range(5)])
    assert np.all(V @ (g - P) <= 1e-7)


def test_project_cone_inside_and_shapes():
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = np.array([2.0, 3.0])
    np.testing.assert_array_equal(project_cone(g, A), g)
    np.testing.assert_allclose(project_cone(np.array([-1.0, 2.0]), A), [0.0, 2.0], atol=1e-15)
    np.testing.assert_allclose(project_cone(np.array([-1.0, -2.0]), A), [0.0, 0.0], atol=1e-15)
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
    for b in range(2 * ch.p):
        k, gamma = b % ch.p, (1.0 if b < ch.p else -1.0)
        Dk = ch.D[:, k]
        A = np.where(Dk, 1.0, -1.0)[:, None] * X
        g = gamma * X.T @ (Dk * lam)
        np.testing.assert_allclose(P[b], qp_projection(g, A), atol=1e-7)
    corr = block_correlations(X, lam, ch)
    np.testing.assert_allclose(corr, np.linalg.norm(P, axis=1))
    assert max_correlation(X, lam, ch) == pytest.approx(corr.max(), rel=1e-14)
    # patterns may also be given as the raw (n, p) boolean matrix (then every row is used instead
    # of the facets: the same projections up to rounding)
    np.testing.assert_allclose(cone_projections(X, lam, ch.D), P, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_max_correlation_matches_circle_sweep(seed):
    rng = np.random.default_rng(10 + seed)
    X = rng.standard_normal((9, 2))
    lam = rng.standard_normal(9)
    M = max_correlation(X, lam, brute_chambers(X))
    s = sweep_M(X, lam)
    assert s <= M + 1e-12
    assert M - s <= 1e-7 * max(1.0, M)


def test_max_correlation_with_zero_rows():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    lam = np.array([1.0, 5.0, -2.0, 0.5])
    M = max_correlation(X, lam, brute_chambers(X))
    assert M == pytest.approx(sweep_M(X, lam), abs=1e-8)


def test_bad_pattern_shapes():
    X = np.eye(2)
    with pytest.raises(InputError, match="patterns"):
        max_correlation(X, np.ones(2), np.ones((3, 2), bool))
    with pytest.raises(InputError):
        cone_projections(X, np.ones(3), np.ones((2, 2), bool))
    with pytest.raises(InputError, match="NaN"):
        max_correlation(X, np.array([1.0, np.nan]), np.ones((2, 2), bool))


def test_chamber_bound():
    assert chamber_bound(np.random.default_rng(0).standard_normal((7, 4))) == 84  # Cover C(7, 4)
    assert chamber_bound(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])) == 2  # rank 1
    assert chamber_bound(np.zeros((3, 2))) == 1


# ------------------------------------------------------------------------------------------------
# beta_max (O23)


def test_beta_max_o23():
    o9 = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    assert beta_max(o9, brute_chambers(o9.X)) == pytest.approx(3.0, abs=1e-14)
    o7 = Problem.create([[1.0]], [2.0], 1.0)
    assert beta_max(o7, brute_chambers(o7.X)) == pytest.approx(2.0, abs=1e-14)
    o8 = get("O8")
    p8 = Problem.create(o8.X, o8.y, o8.beta)
    assert beta_max(p8, brute_chambers(p8.X)) == pytest.approx(12.0, rel=1e-14)
    lg = Problem.create([[1.0]], [1.0], 0.1, "logistic")
    assert beta_max(lg, brute_chambers(lg.X)) == pytest.approx(0.5, rel=1e-14)  # M(y/2)
    hg = Problem.create([[1.0]], [-1.0], 0.1, "hinge")
    assert beta_max(hg, brute_chambers(hg.X)) == pytest.approx(1.0, rel=1e-14)  # M(y)


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_zero_network_iff_beta_ge_beta_max(loss):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 2))
    y = np.sign(rng.standard_normal(7)) if loss != "squared" else rng.standard_normal(7)
    ch = brute_chambers(X)
    bm = beta_max(Problem.create(X, y, 1.0, loss), ch)
    assert bm == pytest.approx(sweep_M(X, -Problem.create(X, y, 1.0, loss).loss.gradient(
        np.zeros(7), y)), rel=1e-7)
    # At β = β_max exactly the objective grows only quadratically away from 0 along the maximizing
    # direction, so an interior-point solution is zero only to about sqrt(solver tolerance).
    # For the hinge loss (not strictly convex) nonzero optima also exist at β = β_max exactly.
    for factor, wtol in ((1.0, 1e-3), (1.01, 1e-6), (1.5, 1e-6)):
        prob = Problem.create(X, y, factor * bm, loss)
        sol = solve_convex(prob, ch)
        if not (loss == "hinge" and factor == 1.0):
            assert sol.weights.norms().max() <= wtol
        zero_value = objective(prob, BlockWeights(np.zeros_like(sol.weights.W), ch.D)).total
        assert sol.objective.total == pytest.approx(zero_value, rel=1e-7)
        assert sol.certificate.certified
    sol = solve_convex(Problem.create(X, y, 0.9 * bm, loss), ch)
    assert sol.weights.norms().max() > 1e-3
    zero_value = objective(sol.problem, BlockWeights(np.zeros_like(sol.weights.W), ch.D)).total
    assert sol.objective.total < zero_value - 1e-6


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
    assert sol.objective.total == pytest.approx(O22["P_S"], abs=1e-7)
    np.testing.assert_allclose(sol.dual, O22["lambda_S"], atol=1e-6)
    cert = sol.certificate
    assert not cert.certified and cert.complete
    assert cert.M == pytest.approx(O22["M"], abs=1e-6)
    # checking only the sampled pattern passes: not a certificate
    assert cert.M_patterns == pytest.approx(1.0, abs=1e-6)
    assert cert.t == pytest.approx(O22["t"], abs=1e-6)
    assert cert.lower_bound == pytest.approx(O22["lower_bound"], abs=1e-6)
    assert cert.gap == pytest.approx(O22["gap"], abs=1e-6)
    assert cert.gap >= O22["P_S"] - O22["P_c"]
    assert any("dual infeasible" in r for r in cert.reasons)
    # the exact closed-form candidate gives the exact numbers
    exact = certify(prob, np.array([2.0, 0.0]), 4.5, sub, chambers=ch)
    assert exact.lower_bound == O22["lower_bound"] and exact.M == O22["M"] and exact.t == O22["t"]


def test_o22_all_chambers_certified():
    prob, ch, _ = _o22()
    sol = solve_convex(prob, ch)
    assert sol.objective.total == pytest.approx(O22["P_c"], abs=1e-7)
    cert = sol.certificate
    assert cert.certified and cert.complete and not cert.reasons
    assert cert.M == pytest.approx(1.0, abs=1e-6)
    assert cert.lower_bound <= sol.objective.total
    assert cert.lower_bound == pytest.approx(4.0, abs=1e-6)


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
    assert P_S > P_c + 1e-4
    cert = sub.certificate
    assert not cert.certified and cert.complete and cert.M > prob.beta * (1 + 1e-3)
    assert cert.lower_bound <= P_c + 1e-7 * max(1.0, P_c)
    assert cert.gap >= P_S - P_c - 1e-7
    assert cert.lower_bound > -np.inf
    # adding the chambers back closes the gap
    assert full.certificate.gap <= 1e-6 * max(1.0, P_c)


def test_incomplete_unaffordable_gives_no_fake_bound():
    prob, ch, sub = _o22()
    sol = solve_convex(prob, sub, certify=False)
    cert = certify(prob, sol.yhat, sol.objective, sub, max_chambers=1)
    assert not cert.certified and not cert.complete
    assert cert.lower_bound is None and cert.gap is None and cert.M is None
    assert cert.M_patterns == pytest.approx(1.0, abs=1e-6)
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
    assert cert.M == pytest.approx(1.5) and cert.primal == pytest.approx(2.625)
    assert not cert.certified and any("gap" in r for r in cert.reasons)
    assert cert.lower_bound == pytest.approx(2.0)  # t* = λ^T y / λ^2 = 4/3 <= β/M = 2: LB = P_c


def test_hinge_dual_sign_convention_o15():
    """The solver's hinge dual satisfies λ ∈ −∂ℓ(ŷ) and −ℓ*(−λ) = Σ y λ = P_c (O15)."""
    for beta, lam_expected in [(0.5, 0.5), (2.0, 1.0)]:
        prob = Problem.create([[1.0]], [1.0], beta, "hinge")
        sol = solve_convex(prob, brute_chambers(prob.X))
        assert sol.dual_source == "solver"
        assert sol.dual[0] == pytest.approx(lam_expected, abs=1e-6)
        assert sol.certificate.dual_value == pytest.approx(min(beta, 1.0), abs=1e-6)
        assert sol.certificate.certified
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
        assert cert.lower_bound <= O22["P_c"] + 1e-12 <= val.total + 1e-12
        assert isinstance(cert, Certificate)
    rec = cert.to_record()
    for key in ("certified", "complete", "max_correlation", "lower_bound", "gap", "reasons"):
        assert key in rec


# ------------------------------------------------------------------------------------------------
# facets of the chamber cones (used by the convex program and the projections)


def lp_facet_hyperplanes(X, D):
    """Oracle: hyperplane x_j^⊥ is a facet of the cone of pattern k iff some u satisfies every
    other hyperplane's inequality and violates row j (HiGHS LP per pattern and row)."""
    from scipy.optimize import linprog

    n, d = X.shape
    norms = np.linalg.norm(X, axis=1)
    nz = norms > 0
    same = np.abs(np.abs(X @ X.T) - np.outer(norms, norms)) <= 1e-12 * np.outer(norms, norms)
    same &= np.outer(nz, nz)  # rows on the same hyperplane (zero rows lie on none)
    F = np.zeros(D.shape, dtype=bool)
    for k in range(D.shape[1]):
        A = np.where(D[:, k], 1.0, -1.0)[:, None] * X
        for j in np.flatnonzero(nz):
            others = nz & ~same[j]
            res = linprog(np.zeros(d), A_ub=np.vstack([-A[others], A[j]]),
                          b_ub=np.r_[np.zeros(others.sum()), -1.0], bounds=[(-1e4, 1e4)] * d,
                          method="highs")
            F[j, k] = res.status == 0
    return F, same


@pytest.mark.parametrize("n,d,seed,extra", [(6, 2, 0, False), (7, 3, 1, False), (8, 3, 2, True),
                                            (6, 4, 3, True)])
def test_chamber_facets_match_lp_oracle(n, d, seed, extra):
    from hiddenconvex.certificate import chamber_facets

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if extra:  # a positively parallel, an anti-parallel and a zero row
        X = np.vstack([X, 2.5 * X[0], -0.5 * X[1], np.zeros(d)])
    ch = brute_chambers(X)
    oracle, same = lp_facet_hyperplanes(X, ch.D)
    for F in (chamber_facets(X, ch, ch), chamber_facets(X, ch)):  # look-up / witnesses
        assert not F[~np.any(X != 0, axis=1)].any()  # zero rows are never needed
        assert np.all(oracle[F])  # every kept row is a facet ...
        covered = (same.astype(int) @ F.astype(int)) > 0
        np.testing.assert_array_equal(covered, oracle)  # ... and every facet is represented
        # the facet rows alone give the same cone: same projections as with all rows
        lam = rng.standard_normal(X.shape[0])
        np.testing.assert_allclose(cone_projections(X, lam, ch, facets=F),
                                   cone_projections(X, lam, ch.D), atol=1e-12)


def test_chamber_facets_non_chambers_and_incomplete_lists():
    from hiddenconvex.certificate import chamber_facets

    X = np.random.default_rng(0).standard_normal((5, 2))
    ch = brute_chambers(X)
    D = np.column_stack([ch.D[:, 0], np.ones(5, bool)])  # all-ones is not a chamber here
    assert not any(np.array_equal(ch.D[:, k], D[:, 1]) for k in range(ch.p))
    F = chamber_facets(X, D, ch)
    assert F[:, 0].sum() == 2 and F[:, 1].all()  # a 2-D chamber has 2 facets; others keep all
    with pytest.raises(InputError, match="not the complete chamber list"):
        chamber_facets(X, ch, ch.D[:, :2])
