"""The exact optimal set (SPEC §4.6-4.7; oracles O7, O8, O9, O23, O24 and a constructed non-unique
optimum). Every network returned as optimal is checked against the certified convex optimum with
objective(), and every one reported minimal with is_minimal()."""

import ast
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog, nnls

from hiddenconvex import BlockWeights, InputError, Problem, ReLUNetwork, objective
from hiddenconvex.maps import phi, psi, random_split
from hiddenconvex.minimality import is_minimal
from hiddenconvex.network import pad
from hiddenconvex.optimal_set import (
    OptimalSet,
    Tolerances,
    _blocks_on_chambers,
    optimal_set,
    prune,
)

pytest.importorskip("hiddenconvex.convex_program")
pytest.importorskip("hiddenconvex.certificate")

from tolerances import (  # noqa: E402
    IP_REFERENCE,
    network_error,
    polished_gap_bound,
    rounding,
    set_bounds,
    solve_error,
    vertex_distance_bound,
)

from hiddenconvex.patterns import exact_chambers  # noqa: E402


def assert_optimal(S: OptimalSet, net: ReLUNetwork, minimal: bool = True, error=None):
    """θ is in the optimal set and its objective is P_c: L(θ) ≥ P_c ≥ LB (every network is
    feasible for the convex program through φ; weak duality), up to rounding; L(θ) − LB is at most
    what membership guarantees (tests/tolerances.py: network_error, or ``error``)."""
    val = objective(S.problem, net).total
    rnd = rounding(max(abs(val), abs(S.lower_bound)), 16 * (S.problem.n + net.width))
    assert val >= S.lower_bound - rnd
    bound = network_error(S, net) if error is None else error
    assert val - S.lower_bound <= bound, (val, S.lower_bound, bound)
    assert S.contains(net), S.membership(net).reason
    if minimal:
        assert is_minimal(net, S.problem.X, "cone", tol=1e-8)


def all_returned_networks(S: OptimalSet):
    nets = [S.minimal_network(), S.pruned_network(), S.sample(seed=1)]
    if S.vertices is not None:
        nets += S.vertex_networks()
    return nets


# ---------------------------------------------------------------------------------------------
# Closed forms


def test_o9_two_points_m_star_2():
    prob = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    S = optimal_set(prob)
    assert S.certified and not S.warnings and S.polished
    # P_c = 4 in [LB, L(θ*)], ŷ* = (2, 1) (tests/tolerances.py: set_bounds)
    err = set_bounds(S)
    assert abs(S.objective - 4.0) <= err["objective"]
    assert abs(S.lower_bound - 4.0) <= err["lower_bound"]
    assert np.linalg.norm(S.yhat - [2.0, 1.0]) <= err["yhat"]
    assert S.m_star == 2 and S.unique and S.num_candidates == 2 and S.num_vertices == 1
    assert S.pruned_width == 2 and S.minimal_width == 2
    net = S.minimal_network()
    order = np.argsort(-net.alpha)
    # neuron k: direction ±1 (d = 1, exact), |u| = |α| = sqrt(a_k), a_k = ŷ_k (|x_k| = 1): an
    # error δ in ŷ moves sqrt(a_k) by ≤ δ/(2 sqrt(a_k)) ≤ δ/2 (a_k ≥ 1); rounding of the sqrt
    dnet = err["yhat"] / 2 + rounding(2.0, 4)
    assert np.abs(net.U[order, 0] - [np.sqrt(2), -1.0]).max() <= dnet
    assert np.abs(net.alpha[order] - [np.sqrt(2), 1.0]).max() <= dnet
    for m in range(2, 6):  # P*_m = P_c for m >= m*: psi padded, and random splittings
        assert_optimal(S, pad(net, m))
        assert_optimal(S, random_split(net, m, seed=m), minimal=(m == 2))
    for th in all_returned_networks(S):
        assert_optimal(S, th)
    # the best single neuron (value P*_1 = 4.5 > P_c) is not in the optimal set
    single = ReLUNetwork([[np.sqrt(2)]], [np.sqrt(2)])
    # ½((2 − 3)² + (0 − 2)²) + ½(2 + 2) = 4.5, with sqrt(2)² = 2 up to rounding
    assert abs(objective(prob, single).total - 4.5) <= rounding(4.5, 16)
    # its neuron IS a candidate (direction +1, output sign +), but one neuron cannot fit y-hat*
    assert not S.contains(single) and "prediction differs" in S.membership(single).reason
    # a negative-output neuron is no candidate at all (both optimal outputs are positive)
    wrong_sign = ReLUNetwork([[np.sqrt(2)], [-1.0]], [-np.sqrt(2), 1.0])
    assert "not (c s_k" in S.membership(wrong_sign).reason
    # optimal directions but wrong (unbalanced) scaling / wrong fit
    assert "not balanced" in S.membership(ReLUNetwork([[2.0], [-1.0]], [1.0, 1.0])).reason
    assert "prediction differs" in S.membership(ReLUNetwork([[1.0], [-1.0]], [1.0, 1.0])).reason


def test_o7_o8_single_point_closed_forms():
    # n = 1: the one neuron has direction x/‖x‖ (exact up to rounding: the dual is a scalar) and
    # |u| = |α| = sqrt(a), a = |ŷ|/‖x‖: an error δ in ŷ moves sqrt(a) by ≤ δ/(2‖x‖ sqrt(a))
    S = optimal_set(Problem.create([[1.0]], [2.0], 1.0))  # O7: P_c = 1.5, ŷ* = 1, a = 1
    err = set_bounds(S)
    assert abs(S.objective - 1.5) <= err["objective"] and S.m_star == 1 and S.unique
    net = S.minimal_network()
    dnet = err["yhat"] / 2 + rounding(1.0, 8)
    assert np.abs(np.array([net.U[0, 0], net.alpha[0]]) - 1.0).max() <= dnet
    S = optimal_set(Problem.create([[1.0, 2.0, 2.0]], [-4.0], 1.5))  # O8: ŷ* = −3.5, ‖x‖ = 3
    err = set_bounds(S)
    assert abs(S.objective - 1.875) <= err["objective"] and S.m_star == 1
    net = S.minimal_network()
    c = 7 / 6
    dnet = err["yhat"] / (2 * 3 * np.sqrt(c)) + rounding(1.0, 16)
    assert np.abs(net.U[0] - np.sqrt(c) * np.array([1, 2, 2]) / 3).max() <= dnet
    assert np.abs(net.alpha - [-np.sqrt(c)]).max() <= dnet
    assert_optimal(S, net)


def test_beta_max_zero_network():
    from hiddenconvex.certificate import beta_max

    prob = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)  # O9 / O23: beta_max = M(y) = 3
    pats = exact_chambers(prob.X)
    # β_max = M(y) = max(3·1, 2·1): 1-D projections onto half-lines, exact up to rounding
    assert abs(beta_max(prob, pats) - 3.0) <= rounding(3.0, 16)
    above = optimal_set(prob.with_beta(3.3))
    assert above.m_star == 0 and above.unique and above.m_star_method == "zero"
    assert above.objective == 6.5  # the zero network: ½(3² + 2²), exact in floating point
    assert above.minimal_network().width == 0
    assert above.contains(ReLUNetwork.zeros(3, 1))
    assert not above.contains(ReLUNetwork([[1.0]], [1.0]))
    below = optimal_set(prob.with_beta(2.7))
    assert below.m_star == 1 and below.unique  # only the first point is fitted
    assert_optimal(below, below.minimal_network())
    assert abs(beta_max(Problem.create([[1.0]], [2.0], 1.0), exact_chambers(np.array([[1.0]])))
               - 2.0) <= rounding(2.0, 16)  # O23 for O7: M(y) = 2


# ---------------------------------------------------------------------------------------------
# A constructed NON-UNIQUE optimum.
# X = three unit vectors at 0, 120, 240 degrees. For lambda = beta (1, 1, 1):
# lambda^T relu(X u) = beta * sum_j relu(x_j^T u), and max_{|u|=1} = max_A |sum_{j in A} x_j| = 1
# is attained by SIX unit directions (each x_j and each x_i + x_j), one per chamber. Their fits are
# e_1, e_2, e_3 and the midpoints (e_i + e_j)/2: six points on the plane 1^T z = 1 in R^3, so any
# yhat inside the triangle cone has many decompositions. With y = yhat + beta 1, yhat = (1, 1, 2):
# M(lambda) = beta and yhat in cone(Z) => optimal; P_c = 3/2 beta^2 + beta 1^T yhat = 5.5
# (beta = 1).

E = {"e1": (1, 0, 0), "e2": (0, 1, 0), "e3": (0, 0, 1),
     "m12": (0.5, 0.5, 0), "m13": (0.5, 0, 0.5), "m23": (0, 0.5, 0.5)}
VERTICES = [{"m12": 2, "e3": 2}, {"m13": 2, "m23": 2}, {"m13": 2, "e2": 1, "e3": 1},
            {"e1": 1, "m23": 2, "e3": 1}, {"e1": 1, "e2": 1, "e3": 2}]


def mercedes(yhat=(1.0, 1.0, 2.0), beta=1.0, loss="squared"):
    ang = np.deg2rad([0.0, 120.0, 240.0])
    X = np.c_[np.cos(ang), np.sin(ang)]
    return Problem.create(X, np.asarray(yhat) + beta, beta, loss)


def _fit_error(S):
    """Bound on the error of a candidate fit z_k = σ(X s_k): s_k = Π_C(X^T D λ)/‖·‖ with
    ‖Π_C(·)‖ = β at λ*; projections are 1-Lipschitz and v ↦ v/‖v‖ is 2/‖v‖-Lipschitz, so
    ‖Δs_k‖ ≤ 2‖X‖₂‖λ − λ*‖/β and ‖Δz_k‖ ≤ ‖X‖₂ ‖Δs_k‖ (tests/tolerances.py: set_bounds)."""
    xn = np.linalg.norm(S.problem.X, 2)
    return 2 * xn**2 * set_bounds(S)["dual"] / S.problem.beta + rounding(1.0, 16)


def _named(S, v):
    """{name: coefficient} of the candidates with a positive coefficient (the package's own
    threshold: active·Σa), each candidate identified by its fit (E above), within _fit_error."""
    names = {}
    dz = _fit_error(S)
    for k in np.flatnonzero(v > S.tolerances.active * S.total_mass):
        key = [n for n, z in E.items() if np.linalg.norm(S.fits[:, k] - z) <= dz]
        assert len(key) == 1
        names[key[0]] = float(v[k])
    return names


def _same_point(S, found: dict, exact: dict) -> bool:
    """``found`` (from _named) is the vertex ``exact``: the same support and coefficients within
    the perturbation bound of Z_S a = ŷ: ‖Δa‖ ≤ ‖Z_S^+‖ (‖Δŷ‖ + ‖ΔZ‖ ‖a‖) + rounding."""
    if set(found) != set(exact):
        return False
    Zs = np.array([E[k] for k in exact], dtype=float).T
    a = np.array([float(exact[k]) for k in exact])
    sv = np.linalg.svd(Zs, compute_uv=False)
    dZ = np.sqrt(len(exact)) * _fit_error(S)
    bound = (set_bounds(S)["yhat"] + dZ * np.linalg.norm(a)) / sv[-1] + rounding(a, 16)
    return max(abs(found[k] - exact[k]) for k in exact) <= bound


def _match_vertices(S, found, expected):
    """Every found vertex is exactly one expected vertex, and every expected one is found."""
    hits = [[j for j, V in enumerate(expected) if _same_point(S, f, V)] for f in found]
    assert all(len(h) == 1 for h in hits), hits
    assert sorted(h[0] for h in hits) == list(range(len(expected))), hits


@pytest.fixture(scope="module")
def nonunique():
    return optimal_set(mercedes())


def test_nonunique_polytope(nonunique):
    S = nonunique
    assert S.certified and not S.warnings and S.polished
    # P_c = 5.5 in [LB, L(θ*)], λ* = (1, 1, 1), ŷ* = (1, 1, 2) (tests/tolerances.py: set_bounds)
    err = set_bounds(S)
    assert abs(S.objective - 5.5) <= err["objective"]
    assert abs(S.lower_bound - 5.5) <= err["lower_bound"]
    assert np.linalg.norm(S.dual - [1, 1, 1]) <= err["dual"]
    assert S.num_candidates == 6 and np.all(S.gamma == 1)
    # Σa = λ^T ŷ / β = 4: a product of two vectors known to err["dual"], err["yhat"]
    dmass = (err["dual"] * np.sqrt(6) + np.sqrt(3) * err["yhat"] + err["dual"] * err["yhat"]
             + rounding(4.0, 8))
    assert abs(S.total_mass - 4.0) <= dmass
    # the other six blocks have correlation 0 at λ*; M is ‖X‖₂-Lipschitz in λ
    xn = np.linalg.norm(S.problem.X, 2)
    assert S.equicorrelation_margin >= 1 - xn * err["dual"] - rounding(1.0, 16)
    assert not S.unique and S.active.size == 6
    assert S.num_vertices == 5 and S.vertices_checked == 6 + 15 + 20
    _match_vertices(S, [_named(S, v) for v in S.vertices], VERTICES)
    assert S.m_star == 2 and S.m_star_method == "enumeration"
    # pruning the solver's point: a 3-vertex
    assert S.pruned_width == 3 and S.m_star < S.pruned_width
    assert S.minimal_width == 6  # the interior-point solution uses all six candidates
    mil = optimal_set(S.problem, solution=S.solution, m_star_method="milp")
    assert mil.m_star == 2 and mil.m_star_method == "milp"


def test_nonunique_vertices_match_random_lp_vertices(nonunique):
    """Independent oracle: simplex optima of random linear objectives over P are vertices of P;
    200 random objectives must hit exactly the enumerated vertex list."""
    S = nonunique
    rng = np.random.default_rng(0)
    hit = set()
    for _ in range(200):
        res = linprog(rng.normal(size=S.num_candidates), A_eq=S.fits, b_eq=S.yhat,
                      bounds=[(0, None)] * S.num_candidates, method="highs-ds")
        d = np.linalg.norm(S.vertices - res.x, axis=1)
        k = int(np.argmin(d))
        # the simplex optimum is a basic solution: on the nearest vertex's support, up to HiGHS's
        # equality residual and bound violations (tests/tolerances.py: vertex_distance_bound)
        support = np.flatnonzero(S.vertices[k] > 0)
        assert d[k] <= vertex_distance_bound(S.fits, S.yhat, res.x, support) + rounding(
            S.vertices[k], 16)
        hit.add(k)
    assert hit == set(range(S.num_vertices))


def test_nonunique_every_optimal_network(nonunique):
    S = nonunique
    for th in all_returned_networks(S):
        assert_optimal(S, th)
    V = S.vertices
    rng = np.random.default_rng(1)
    # every point of P (convex combinations of vertices) gives a minimal optimum
    for _ in range(10):
        a = rng.dirichlet(np.ones(len(V))) @ V
        net = S.network(a)
        assert net.width == 6
        assert_optimal(S, net)
        assert_optimal(S, random_split(net, 9, seed=2), minimal=False)
    # the m*-network has two neurons: 2 * fit(x1 + x2) + 2 * fit(x3)
    net = S.minimal_network()
    assert net.width == 2
    _match_vertices(S, [_named(S, S.m_star_coefficients)], [{"m12": 2, "e3": 2}])
    # pruning a deterministic interior point (barycentre of the vertices) also ends at a vertex:
    # the nearest one, up to its residual (tests/tolerances.py: vertex_distance_bound)
    bary = S.weights(V.mean(axis=0))
    pr = prune(bary, S.problem.X)
    a = np.array([np.linalg.norm(pr.W[b[0]]) for b in S.candidate_blocks])
    d = np.linalg.norm(V - a, axis=1)
    k = int(np.argmin(d))
    assert d[k] <= vertex_distance_bound(S.fits, S.yhat, a, np.flatnonzero(V[k] > 0)) + rounding(
        V[k], 16)


def test_nonunique_symmetric_target_and_logistic():
    S = optimal_set(mercedes(yhat=(1.0, 1.0, 1.0)))
    assert not S.unique and S.num_vertices == 5 and S.m_star == 2
    # P_c = 3/2 β² + β 1^T ŷ = 4.5 (tests/tolerances.py: set_bounds)
    assert abs(S.objective - 4.5) <= set_bounds(S)["objective"]
    for th in all_returned_networks(S):
        assert_optimal(S, th)


# ---------------------------------------------------------------------------------------------
# Pruning


def _random_feasible_weights(X, pats, rng, k):
    p = pats.p
    W = np.zeros((2 * p, X.shape[1]))
    index = {pats.D[:, j].tobytes(): j for j in range(p)}
    for _ in range(k):
        u = rng.normal(size=X.shape[1])
        W[index[(X @ u >= 0).tobytes()] + p * int(rng.integers(2))] += rng.uniform(0.1, 2) * u
    return BlockWeights(W, pats.D)


def test_blocks_on_chambers_maps_blocks_directly():
    """The solver's blocks land, unchanged, on the blocks of the chamber list with their pattern:
    for a permuted list and a sub-list (sampled patterns) an exact permutation of the rows (no ψ
    round trip through square roots); the identity on the list itself."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 2))
    ch = exact_chambers(X)
    p = ch.p
    for index in (rng.permutation(p), np.sort(rng.choice(p, p // 2, replace=False))):
        listed = ch.subset(index)
        # blocks strictly inside their cones: positive multiples of the chambers' witnesses
        W = np.zeros((2 * listed.p, 2))
        for j in rng.choice(2 * listed.p, 6, replace=False):
            W[j] = rng.uniform(0.1, 2) * listed.witnesses[j % listed.p]
        W = BlockWeights(W, listed.D)
        moved = _blocks_on_chambers(W, X, ch)
        expected = np.zeros((2 * p, 2))
        expected[np.r_[index, p + index]] = W.W
        assert np.array_equal(moved.W, expected) and np.array_equal(moved.D, ch.D)
        assert _blocks_on_chambers(moved, X, ch) is moved


def test_prune_any_feasible_weights():
    rng = np.random.default_rng(7)
    for n, d in [(4, 3), (5, 2), (6, 3)]:
        X = rng.normal(size=(n, d))
        pats = exact_chambers(X)
        for _ in range(8):
            W = _random_feasible_weights(X, pats, rng, k=int(rng.integers(n, 3 * n)))
            P = prune(W, X)
            act = np.flatnonzero(P.norms() > 0)
            assert act.size <= n
            assert np.linalg.matrix_rank(P.fits(X)[:, act]) == act.size
            assert P.cone_violation(X) == 0.0
            # each of the ≤ m = 2p pruning steps scales the blocks by 1 − c_b/c_k along a null
            # vector c of the active fits F (‖F‖₂ ≤ ‖X‖₂ Σ‖w_b‖: the regularizer never grows):
            # exact up to rounding with more columns than rows, else ‖Fc‖ = σ_min ≤ tol·σ_max
            # (prune's rank tolerance, 1e-8); |c_k| ≥ 1/sqrt(m). And the regularizer may grow by
            # neutral = 1e-12 of itself per step
            m = W.W.shape[0]
            scale = np.linalg.norm(X, 2) * W.regularization()
            drift = m * np.sqrt(m) * (1e-8 + rounding(1.0, 16 * m)) * scale
            assert np.linalg.norm(P.predict(X) - W.predict(X)) <= drift
            assert P.regularization() <= W.regularization() * (1 + m * (1e-12 + rounding(1.0,
                                                                                      16 * m)))
            # psi/phi keep the (non-optimal) objective relation: ψ is exact for feasible blocks
            # (same prediction, ‖u‖² = α² = ‖w‖) and φ does not increase it, up to the rounding
            # of both objectives (n-term sums, d-term dot products, sqrt of the norms)
            prob = Problem.create(X, rng.normal(size=n), 0.3)
            value = objective(prob, P).total
            r = P.predict(X) - prob.y
            rnd = rounding(value + np.linalg.norm(r) * np.linalg.norm(P.predict(X)),
                           16 * (n + d + m))
            assert abs(objective(prob, psi(P)).total - value) <= rnd
            assert objective(prob, phi(psi(P), X, pats)).total <= value + 2 * rnd


def test_prune_optimal_keeps_objective(nonunique):
    S = nonunique
    W = S.solution.weights
    P = S.pruned_weights
    prob = S.problem
    m = W.W.shape[0]
    # pruning does not increase the regularizer (up to neutral = 1e-12 per step, ≤ m steps) and
    # keeps the prediction up to the drift of test_prune_any_feasible_weights; P is feasible, so
    # L(P) ≥ P_c ≥ LB, i.e. β R(P) ≥ LB − ℓ(f_P): R is kept up to W's own excess over P_c
    assert P.regularization() <= W.regularization() * (1 + m * (1e-12 + rounding(1.0, 16 * m)))
    f_P, f_W = P.predict(prob.X), W.predict(prob.X)
    rnd = rounding(S.objective, 16 * (prob.n + m))
    assert prob.beta * P.regularization() >= S.lower_bound - prob.loss.value(f_P, prob.y) - rnd
    # L(P) − LB ≤ [L(W) − LB] + |ℓ(f_P) − ℓ(f_W)| + β·(growth of R); ℓ is 1-smooth (squared):
    # |ℓ(f_P) − ℓ(f_W)| ≤ ‖f_W − y‖‖Δf‖ + ½‖Δf‖²
    df = float(np.linalg.norm(f_P - f_W))
    growth = prob.beta * W.regularization() * m * (1e-12 + rounding(1.0, 16 * m))
    bound = (objective(prob, W).total - S.lower_bound + np.linalg.norm(f_W - prob.y) * df
             + 0.5 * df**2 + growth + rnd)
    assert S.lower_bound - rnd <= objective(prob, P).total <= S.lower_bound + bound
    with pytest.raises(InputError, match="expects BlockWeights"):
        prune(np.zeros((4, 2)), S.problem.X)


# ---------------------------------------------------------------------------------------------
# O24: m* <= n, vertices, P*_m = P_c for m >= m*; MILP = enumeration = brute force


def _brute_m_star(Z, yhat, tol):
    K = Z.shape[1]
    if np.linalg.norm(yhat) <= tol:
        return 0
    for size in range(1, K + 1):
        for Sup in itertools.combinations(range(K), size):
            _, res = nnls(Z[:, list(Sup)], yhat)
            if res <= tol:
                return size
    return None


@pytest.mark.parametrize("seed, n, d, beta", [(0, 5, 2, 0.1), (1, 6, 2, 0.3), (2, 5, 3, 0.2),
                                              (3, 4, 3, 0.05)])
def test_o24_random(seed, n, d, beta):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    prob = Problem.create(X, rng.normal(size=n) * 2, beta)
    S = optimal_set(prob)
    assert S.certified and not S.warnings and S.polished
    # a true support of ŷ* fits the computed ŷ and fits to ‖Δŷ‖ + Σa·max‖Δz_k‖ (set_bounds and
    # _fit_error), rounding included: the oracle's residual threshold
    tol = set_bounds(S)["yhat"] + S.total_mass * _fit_error(S)
    assert S.m_star == _brute_m_star(S.fits, S.yhat, tol) <= n
    for v in S.vertices:
        sup = np.flatnonzero(v > 0)
        assert sup.size <= n and np.linalg.matrix_rank(S.fits[:, sup]) == sup.size
    net = S.minimal_network()
    for m in range(S.m_star, S.m_star + 3):
        # zero neurons add exact zeros (the sums may be reassociated: rounding only)
        value = objective(prob, pad(net, m)).total
        assert abs(value - S.objective) <= rounding(S.objective, 16 * (n + m))
    for th in all_returned_networks(S):
        assert_optimal(S, th)
    mil = optimal_set(prob, solution=S.solution, m_star_method="milp")
    assert mil.m_star == S.m_star


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_o24_random_larger(seed):
    rng = np.random.default_rng(100 + seed)
    n, d = 8, 2 + seed % 2
    X = rng.normal(size=(n, d))
    prob = Problem.create(X, rng.normal(size=n) * 2, 0.1 + 0.1 * seed)
    S = optimal_set(prob, vertices=True)
    assert S.certified and not S.warnings and S.polished
    tol = set_bounds(S)["yhat"] + S.total_mass * _fit_error(S)  # as in test_o24_random
    assert S.m_star == _brute_m_star(S.fits, S.yhat, tol) <= n
    for th in all_returned_networks(S):
        assert_optimal(S, th)


def test_logistic():
    rng = np.random.default_rng(5)
    X = np.c_[rng.normal(size=(6, 2)), np.ones(6)]
    y = np.where(rng.normal(size=6) > 0, 1.0, -1.0)
    S = optimal_set(Problem.create(X, y, 0.1, "logistic"))
    assert S.certified and not S.warnings and S.m_star >= 1
    for th in all_returned_networks(S):
        assert_optimal(S, th)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_bad_input(nonunique):
    with pytest.raises(InputError, match="strictly convex loss"):
        optimal_set(Problem.create([[1.0], [-1.0]], [1.0, -1.0], 0.5, "hinge"))
    S = nonunique
    with pytest.raises(InputError, match="input dimension 3 but the data have 2 columns"):
        S.contains(ReLUNetwork(np.ones((2, 3)), [1.0, 1.0]))
    with pytest.raises(InputError, match="expected a ReLUNetwork"):
        S.contains(np.ones((2, 2)))
    with pytest.raises(InputError, match="m_star_method"):
        optimal_set(S.problem, solution=S.solution, m_star_method="greedy")
    with pytest.raises(InputError, match="different problem"):
        optimal_set(S.problem.with_beta(2.0), solution=S.solution)
    with pytest.raises(InputError, match="coefficients must have shape"):
        S.network([1.0, 2.0])
    with pytest.raises(InputError, match="expected a Problem"):
        optimal_set("data.csv")
    assert isinstance(Tolerances().fit, float)


def test_under_sampled_solution():
    """O22 data: the program over the single pattern diag(1, 0) has P_S = 4.5 and
    M(lambda_S) = 2 > beta. The optimal set is still the one over ALL chambers (P_c = 4, m* = 2),
    with the sampled solution reported as not optimal; without polishing (no way to reach the global
    optimum) it is refused."""
    prob = Problem.create([[1.0], [-1.0]], [3.0, 2.0], 1.0)
    chambers = exact_chambers(prob.X)
    first = int(np.flatnonzero(chambers.D[0] & ~chambers.D[1])[0])  # diag(1, 0) only
    S = optimal_set(prob, chambers.subset([first]))
    # the solver at its tolerance on the one-pattern program (P_S = 4.5, tests/tolerances.py);
    # the set's optimum P_c = 4 to its certificate (set_bounds)
    assert abs(S.solution.objective.total - 4.5) <= solve_error(S.solution, IP_REFERENCE)
    assert not S.solution_optimal and S.certified
    assert abs(S.objective - 4.0) <= set_bounds(S)["objective"] and S.m_star == 2
    assert any("sampled program is not globally optimal (M(lambda) = 2" in w for w in S.warnings)
    assert_optimal(S, S.minimal_network())
    with pytest.raises(InputError, match=r"M\(lambda\) = 2 > beta = 1; the sampled patterns miss"):
        optimal_set(prob, chambers.subset([first]), polish=False)
    full = optimal_set(prob, chambers)
    assert full.solution_optimal and not full.warnings
    X = np.random.default_rng(0).normal(size=(30, 6))
    with pytest.raises(InputError, match="needs every chamber"):
        optimal_set(Problem.create(X, X[:, 0], 0.1), max_chambers=1000)


def test_hinge_fixed_prediction_o15():
    # O15: n = 1, x = 1, y = 1, beta = 0.5 < 1 -> P_c = beta, w = 1 (unique here)
    prob = Problem.create([[1.0]], [1.0], 0.5, "hinge")
    S = optimal_set(prob, fixed_prediction=True)
    assert S.scope == "fixed_prediction"
    # not polished (hinge): P_c = 0.5 in [LB, L(θ*)] of the solver's dual point, up to rounding
    gap = max(S.gap, 0.0) + rounding(0.5, 64)
    assert abs(S.objective - 0.5) <= gap and S.m_star == 1
    assert_optimal(S, S.minimal_network(), error=gap)


# ---------------------------------------------------------------------------------------------
# CLI


def _write_csv(path, X, y):
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(X.shape[1])] + ["y"]) + "\n")
        for row, t in zip(X, y, strict=True):
            f.write(",".join(repr(float(v)) for v in [*row, t]) + "\n")


def test_cli_json(tmp_path, capsys):
    from hiddenconvex.cli import main

    prob = mercedes()
    csv = tmp_path / "mercedes.csv"
    _write_csv(csv, prob.X, prob.y)
    assert main(["optimal-set", str(csv), "--beta", "1", "--method", "exact", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["m_star"] == 2 and rec["unique"] is False and rec["num_candidates"] == 6
    assert rec["pruned_width"] == 3 and rec["minimal_width"] == 6 and rec["certified"] is True
    assert rec["vertices_checked"] == 41 and rec["num_vertices"] == 5
    # P_c = 5.5 in [lower_bound, objective] (the polished set's certificate), up to rounding
    assert rec["lower_bound"] - rounding(5.5, 64) <= 5.5 <= rec["objective"] + rounding(5.5, 64)
    assert rec["objective"] - 5.5 <= max(rec["gap"], 0.0) + rounding(5.5, 64)
    assert rec["num_patterns"] == 6 and rec["status"] and rec["solver"] == "clarabel"
    assert main(["optimal-set", str(csv), "--beta", "1"]) == 0  # table output
    assert "m_star" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    from hiddenconvex.cli import main

    csv = tmp_path / "d.csv"
    _write_csv(csv, np.array([[1.0], [-1.0]]), np.array([1.0, -1.0]))
    assert main(["optimal-set", str(csv), "--beta", "0.5", "--loss", "hinge", "--json"]) == 2
    err = capsys.readouterr().err
    assert "strictly convex loss" in err and "Traceback" not in err
    assert main(["optimal-set", str(tmp_path / "missing.csv"), "--beta", "1"]) == 2
    assert main(["optimal-set", str(csv), "--beta", "-1"]) == 2


def test_milp_bounds_time_limit_and_quiet(capfd):
    """The MILP agrees with enumeration; cut short by its time limit it reports an upper bound and a
    valid lower bound; HiGHS prints nothing on stdout (``--json`` output stays parseable)."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(20, 2))
    prob = Problem.create(X, rng.normal(size=20), 0.1)
    S = optimal_set(prob, m_star_method="enumerate")
    assert not S.unique and S.m_star_method == "enumeration" and S.m_star_lower == S.m_star
    mil = optimal_set(prob, solution=S.solution, m_star_method="milp")
    assert mil.m_star_method == "milp" and mil.m_star == S.m_star == mil.m_star_lower
    cut = optimal_set(prob, solution=S.solution, m_star_method="milp", milp_time_limit=1e-4)
    assert cut.m_star_lower <= S.m_star <= cut.m_star
    # whichever way the 1e-4 s MILP ends: proven (milp), stopped with an incumbent
    # (milp_time_limit) or with none (the pruned bound): a time-limit warning iff not proven
    assert cut.m_star_method in ("milp", "milp_time_limit", "pruned")
    limited = any("time limit" in w for w in cut.warnings)
    assert limited == (cut.m_star_method != "milp")
    assert_optimal(cut, cut.minimal_network())
    out = capfd.readouterr().out
    assert "Highs" not in out and out == ""


def test_teacher_1d_face_neuron_solvers_agree():
    """Bundled 1-D data with a bias: an optimal neuron sits 7e-6 from a chamber face, where the
    interior-point solvers split its weight between the two adjacent blocks. The polish must swap
    the face candidate for the interior one: both solvers then give the same optimal set."""
    from hiddenconvex.experiments.datasets import load_dataset

    ds = load_dataset("teacher_1d")
    prob = Problem.create(ds.X, ds.y, 0.01)
    sets = [optimal_set(prob, solver=s) for s in ("clarabel", "ecos")]
    for S in sets:
        assert S.polished and S.unique and S.m_star == 7 and S.num_candidates == 7
        # the polish, not the solver, sets the accuracy (tests/tolerances.py)
        assert -rounding(S.objective, 64) <= S.gap <= polished_gap_bound(S)
        assert_optimal(S, S.minimal_network())
    a, b = sets
    # both contain P_c in [LB, L(θ*)] (set_bounds): whatever tolerances the two solvers had
    assert abs(a.objective - b.objective) <= set_bounds(a)["objective"] + set_bounds(b)["objective"]
    # the same candidates (blocks, hence cones): s_k = Π_C(γ X^T D λ)/β moves by at most
    # 2‖X‖₂‖Δλ‖/β (projection 1-Lipschitz, normalization 2/‖v‖-Lipschitz), plus rounding
    assert a.candidate_blocks == b.candidate_blocks
    dlam = float(np.linalg.norm(a.dual - b.dual))
    bound = 2 * np.linalg.norm(prob.X, 2) * dlam / prob.beta + rounding(1.0, 64)
    assert np.abs(a.directions - b.directions).max() <= bound


@pytest.mark.slow
def test_m_star_support_must_fit_exactly():
    """iris_pca2 (bias), beta = 0.1: a 19-candidate support fits the polished y-hat* only to
    1.9e-7 relative; m* = 20 (MILP, proven) and its support fits to rounding."""
    from hiddenconvex.experiments.datasets import load_dataset

    ds = load_dataset("iris_pca2")
    S = optimal_set(Problem.create(ds.X, ds.y, 0.1), milp_time_limit=300)
    assert S.m_star_method == "milp" and S.m_star == S.m_star_lower == 20
    sup = np.flatnonzero(S.m_star_coefficients > 0)
    _, res = nnls(S.fits[:, sup], S.yhat)
    # an m* support must pass the package's support test (Tolerances.support, polished)
    assert res <= S.tolerances.support * max(1.0, np.linalg.norm(S.yhat))
    assert_optimal(S, S.minimal_network())


def test_no_literal_tolerances():
    """Every threshold of the optimal-set modules is a named constant of hiddenconvex.tolerances:
    no float literal strictly between 0 and 1/2 is left in their code (0.5 rounds a binary)."""
    root = Path(__file__).resolve().parents[1] / "hiddenconvex"
    for name in ("optimal_set.py", "_polish.py", "_polytope.py"):
        tree = ast.parse((root / name).read_text())
        small = [(name, node.lineno, node.value) for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and type(node.value) is float
                 and 0 < abs(node.value) < 0.5]
        assert not small, small
