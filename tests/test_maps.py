"""psi, phi and splitting (SPEC §4.2-4.4, oracle O16). Chambers come from the brute-force oracle
(all 2^n sign vectors, one LP each) so these tests do not depend on hiddenconvex.patterns."""

import numpy as np
import pytest
from oracles import brute_chambers
from tolerances import rounding

from hiddenconvex import BlockWeights, InputError, Problem, ReLUNetwork, objective
from hiddenconvex.maps import block_assignment, phi, psi, random_split, split, split_network
from hiddenconvex.network import balance, is_scaled


def close(a, b, scale, k=16):
    """a and b agree up to the rounding of a k-operation computation of size ``scale`` (ψ, φ and
    splitting are exact in exact arithmetic: only rounding separates the two sides)."""
    return bool(np.all(np.abs(np.asarray(a, float) - np.asarray(b, float)) <= rounding(scale, k)))


def fit_scale(X, model) -> float:
    """Size of the terms of f(X): max_j Σ_i |x_j|·|u_i|·|α_i| (network) or Σ_b |x_j|·|w_b|."""
    if isinstance(model, BlockWeights):
        return float((np.abs(X) @ np.abs(model.W).T).sum(axis=1).max(initial=0.0))
    return float((np.abs(X) @ np.abs(model.U).T @ np.abs(model.alpha)).max(initial=0.0))


def objective_scale(prob, model) -> float:
    """Size of the terms of L: |L| plus the loss's sensitivity ‖ŷ − y‖·(size of f)."""
    yhat = model.predict(prob.X)
    return abs(objective(prob, model).total) + float(np.linalg.norm(yhat - prob.y)) * fit_scale(
        prob.X, model)


def random_feasible_weights(X, pats, rng, k=5):
    """Feasible W: random directions added to the block of their own chamber (generic =>
    interior)."""
    p = pats.p
    W = np.zeros((2 * p, X.shape[1]))
    index = {pats.D[:, j].tobytes(): j for j in range(p)}
    for _ in range(k):
        u = rng.normal(size=X.shape[1])
        j = index[(X @ u >= 0).tobytes()]
        W[j + p * int(rng.integers(2))] += rng.uniform(0.1, 2) * u
    return BlockWeights(W, pats.D)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 3))
    return X, rng.normal(size=6), brute_chambers(X)


def test_brute_chambers_cover_count(data):
    X, _, pats = data
    assert pats.p == 2 * (1 + 5 + 10)  # Cover C(6, 3) = 2 * sum_{k<3} binom(5, k) = 32


def test_o16_phi_example():
    # SPEC O16: X = I_2, theta = ((2, 0), 1/2), beta = 1, y = 0 -> phi(theta) = w = (1, 0),
    # L^c = 1.5.
    X = np.eye(2)
    pats = brute_chambers(X)
    prob = Problem.create(X, [0.0, 0.0], 1.0)
    net = ReLUNetwork([[2.0, 0.0]], [0.5])
    W = phi(net, X, pats)
    k = int(np.flatnonzero(np.all(pats.D == [[True], [True]], axis=0))[0])  # pattern (1, 1)
    expected = np.zeros((2 * pats.p, 2))
    expected[k] = [1.0, 0.0]
    # binary fractions and sqrt(1) = 1: every operation exact (a few ulp allowed)
    assert close(W.W, expected, 1.0, 4)
    assert close(objective(prob, net).total, 2.625, 2.625, 4)
    assert close(objective(prob, W).total, 1.5, 1.5, 4)
    assert close(objective(prob, balance(net)).total, 1.5, 1.5, 4)
    back = psi(W)
    assert close(back.U, [[1.0, 0.0]], 1.0, 4) and close(back.alpha, [1.0], 1.0, 4)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_psi_objective_identity_random_feasible(data, loss):
    X, y, pats = data
    rng = np.random.default_rng(11)
    if loss == "logistic":
        y = np.sign(y) + (y == 0)
    for beta in (0.05, 0.7, 3.0):
        prob = Problem.create(X, y, beta, loss)
        for _ in range(10):
            W = random_feasible_weights(X, pats, rng, k=int(rng.integers(1, 8)))
            assert W.cone_violation(X) == 0.0
            net = psi(W, X)
            assert is_scaled(net, tol=1e-14)
            assert net.width == int(np.sum(W.norms() > 0))
            m = net.width + 3
            assert close(net.predict(X), W.predict(X), fit_scale(X, W), 16 * (3 + m))
            lc, lnc = objective(prob, W).total, objective(prob, net).total
            assert close(lnc, lc, objective_scale(prob, W), 16 * (6 + m))
            # padding keeps the objective
            assert close(objective(prob, psi(W, width=m)).total, lc, objective_scale(prob, W),
                         16 * (6 + m))


def test_phi_fit_preserving_and_lower(data):
    X, y, pats = data
    rng = np.random.default_rng(5)
    prob = Problem.create(X, y, 0.4)
    for _ in range(20):
        m = int(rng.integers(1, 9))
        net = ReLUNetwork(rng.normal(size=(m, 3)) * rng.uniform(0.2, 3, (m, 1)), rng.normal(size=m))
        W = phi(net, X, pats)
        # φ puts each neuron's |α|u in the cone of its own (≥-)pattern: feasible up to the
        # rounding of the d-term dot products x_j^T w; same prediction up to rounding
        assert W.cone_violation(X) <= rounding(fit_scale(X, net), 16 * 3)
        assert close(W.predict(X), net.predict(X), fit_scale(X, net), 16 * (3 + m))
        scale = objective_scale(prob, net)
        slack = rounding(scale, 16 * (6 + m))
        assert objective(prob, W).total <= objective(prob, net).total + slack
        # balanced: equality when no two neurons share a block (the generic case), ≤ always
        b = balance(net)
        blocks = block_assignment(b, X, pats)
        lb_, lphi = objective(prob, b).total, objective(prob, phi(b, X, pats)).total
        distinct = len(set(blocks.tolist())) == m
        assert not distinct or close(lphi, lb_, objective_scale(prob, b), 16 * (6 + m))
        assert lphi <= lb_ + rounding(objective_scale(prob, b), 16 * (6 + m))


def test_phi_strict_for_noncolinear_neurons_in_one_block():
    X = np.eye(2)
    pats = brute_chambers(X)
    net = balance(ReLUNetwork([[1.0, 0.2], [0.2, 1.0]], [1.0, 1.0]))  # both in chamber (+,+)
    prob = Problem.create(X, [1.0, 1.0], 1.0)
    W = phi(net, X, pats)
    assert int(np.sum(W.norms() > 0)) == 1
    # φ merges w_i = |α_i| u_i into one block: same fit, regularizer ‖Σ w_i‖ instead of Σ‖w_i‖,
    # so L drops by exactly β(Σ‖w_i‖ − ‖Σ w_i‖) > 0 (non-colinear), up to rounding
    w = np.abs(net.alpha)[:, None] * net.U
    drop = prob.beta * (np.linalg.norm(w, axis=1).sum() - np.linalg.norm(w.sum(axis=0)))
    assert drop > rounding(objective(prob, net).total, 64)
    assert objective(prob, net).total - objective(prob, W).total >= drop - rounding(
        objective_scale(prob, net), 64)


def test_psi_phi_identities_on_minimal_nets(data):
    X, _, pats = data
    rng = np.random.default_rng(8)
    for _ in range(10):
        W = random_feasible_weights(X, pats, rng, k=6)
        net = psi(W)  # blocks in chamber interiors -> minimal
        W2 = phi(net, X, pats)
        # phi o psi = id (interior), psi o phi = id on minimal nets: rescalings by sqrt(‖w‖), a
        # few rounded operations per entry (relative to max |w|, |u|, |α|)
        wmax = float(np.abs(W.W).max())
        assert close(W2.W, W.W, wmax, 32)
        back = psi(W2)
        assert close(back.U, net.U, np.sqrt(wmax), 32)
        assert close(back.alpha, net.alpha, np.sqrt(wmax), 32)


def test_phi_face_neuron_uses_a_cone_containing_it():
    # X = [[1],[-1]]: chambers (1,0), (0,1); u = 0 is not a neuron; d = 2 example with a face:
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    pats = brute_chambers(X)
    net = ReLUNetwork([[1.0, 0.0]], [-1.0])  # x_2^T u = 0: ge-pattern (1,1) is a chamber
    W = phi(net, X, pats)
    b = int(np.flatnonzero(W.norms() > 0)[0])
    assert b >= pats.p and np.all(pats.D[:, b - pats.p])
    # with the pattern list lacking (1,1), the first chamber whose closure contains u is used
    keep = [k for k in range(pats.p) if not np.all(pats.D[:, k])]
    sub = pats.subset(keep)
    W2 = phi(net, X, sub)
    assert close(W2.predict(X), net.predict(X), 1.0, 4)  # unit vectors and ±1: exact
    assert W2.cone_violation(X) == 0.0


def test_splitting_invariance(data):
    X, y, pats = data
    rng = np.random.default_rng(2)
    prob = Problem.create(X, y, 0.3)
    Xtest = rng.normal(size=(30, 3))
    for seed in range(10):
        net = psi(random_feasible_weights(X, pats, rng, k=4))
        width = net.width + int(rng.integers(0, 5))
        s = random_split(net, width, seed=seed)
        assert s.width == width
        # splitting by c_k ≥ 0 with Σ c_k = 1 (u, α scaled by sqrt c_k) keeps f and L exactly but
        # for rounding: a few operations per neuron on top of the d-term dot products
        assert close(s.predict(Xtest), net.predict(Xtest), fit_scale(Xtest, net),
                     16 * (3 + width))
        assert is_scaled(s, tol=1e-13)
        assert close(objective(prob, s).total, objective(prob, net).total,
                     objective_scale(prob, net), 16 * (6 + width))
    one = split(ReLUNetwork([[3.0, 4.0]], [5.0]), 0, [0.25, 0.75, 0.0])
    # closed forms: a sqrt and a product per entry
    assert close(one.U, [[1.5, 2.0], [np.sqrt(0.75) * 3, np.sqrt(0.75) * 4], [0, 0]], 5.0, 8)
    assert close(one.alpha, [2.5, np.sqrt(0.75) * 5, 0.0], 5.0, 8)
    two = split_network(ReLUNetwork([[1.0], [2.0]], [1.0, 2.0]), [[1.0], [0.5, 0.5]], width=4,
                        order=[3, 2, 1, 0])
    assert close(two.alpha, [0.0, np.sqrt(0.5) * 2, np.sqrt(0.5) * 2, 1.0], 2.0, 8)


def test_bad_input(data):
    X, _, pats = data
    W = random_feasible_weights(X, pats, np.random.default_rng(0))
    with pytest.raises(InputError, match="does not match blocks"):
        psi(W, np.ones((6, 2)))
    bad = W.W.copy()
    bad[np.flatnonzero(W.norms() > 0)[0]] *= -1
    with pytest.raises(InputError, match="not feasible"):
        psi(BlockWeights(bad, pats.D), X)
    with pytest.raises(InputError, match="more than the requested width"):
        psi(W, width=0)
    with pytest.raises(InputError, match="expects BlockWeights"):
        psi(np.zeros((4, 2)))
    net = ReLUNetwork([[1.0, 0.0]], [1.0])
    with pytest.raises(InputError, match="input dimension 2 but X has 3 columns"):
        phi(net, X, pats)
    with pytest.raises(InputError, match="lies in no cone"):
        X2 = np.eye(2)
        p2 = brute_chambers(X2)
        phi(ReLUNetwork([[1.0, 1.0]], [1.0]), X2, p2.subset([k for k in range(p2.p)
                                                           if not np.all(p2.D[:, k])]))
    with pytest.raises(InputError, match="sum to 1"):
        split(net, 0, [0.5, 0.6])
    with pytest.raises(InputError, match=">= 0"):
        split(net, 0, [1.5, -0.5])
    with pytest.raises(InputError, match="out of range"):
        split(net, 3, [1.0])
