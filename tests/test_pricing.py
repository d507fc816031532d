"""Exact batch pricing (hiddenconvex.pricing): values, verified intervals, screening, top-k,
streamed chunks, scale, the SciPy fallback.

References, all independent of the kernel's Lawson-Hanson code:

* SciPy NNLS on all rows (tests/oracles.py ``scipy_block_correlations``): a polar point's
  residual, so an upper bound on the exact value, within 1e-9·‖g‖ of it on these sets;
* a *polished* SciPy reference: SciPy NNLS on all rows, then the projection recomputed from its
  support by a NumPy QR and accepted only if its own KKT conditions hold to 1e-13 (then it is
  exact to first order: Π(g) ∈ C, g − Π(g) ∈ C°, ⟨Π(g), g − Π(g)⟩ = 0);
* brute force over the faces (every linearly independent set of <= rank rows) for tiny n;
* the KKT conditions of the kernel's own output, checked here with NumPy/SciPy.

Why SciPy alone is not the reference at 1e-12: SciPy's NNLS stops at its own tolerance; when
Π(g) = 0 (g in the polar cone) it returns values up to ~5e-10·‖g‖ (measured on the random sets
below), which the kernel's verified interval excludes, and brute force confirms the kernel.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from oracles import scipy_block_correlations
from scipy.optimize import nnls

from hiddenconvex.errors import InputError
from hiddenconvex.patterns import exact_chambers, sample_patterns
from hiddenconvex.pricing import (
    INSIDE,
    PROJECTED,
    Pricer,
    iter_chunks,
    price_all,
    price_chunk,
)

DATA = Path(__file__).resolve().parents[1] / "data"
EPS = np.finfo(float).eps

# --------------------------------------------------------------------------------------------------
# helpers


def _blocks(X, lam, D):
    """g_b (2p, d) and the constraint matrices A_k = diag(2 D_k - 1) X (nonzero rows)."""
    G = D.T.astype(float) @ (X * lam[:, None])
    return np.concatenate([G, -G])


def _cone_rows(X, D, k):
    nz = np.any(X != 0, axis=1)
    return (np.where(D[:, k], 1.0, -1.0)[:, None] * X)[nz]


def polished_projection(g, A):
    """scipy NNLS on the unit rows, then the face projection from its support by QR (twice).

    Returns (u, ok): ok when the KKT conditions hold to 1e-13 relative to ‖g‖."""
    gn = np.linalg.norm(g)
    if gn == 0:
        return g.copy(), True
    An = A / np.linalg.norm(A, axis=1, keepdims=True)
    mu, _ = nnls(An.T, -g, maxiter=100 * max(50, A.shape[0]))
    S = np.flatnonzero(mu > 0)
    if S.size:
        Qm, _ = np.linalg.qr(An[S].T)
        u = g - Qm @ (Qm.T @ g)
        u = u - Qm @ (Qm.T @ u)
        m = np.linalg.lstsq(An[S].T, u - g, rcond=None)[0]  # u = g + A_S^T m
        dual_ok = m.min() >= -1e-13 * gn
        comp = abs(u @ (u - g))
    else:
        u, dual_ok, comp = g.copy(), True, 0.0
    feas = (An @ u).min(initial=0.0) >= -1e-13 * gn
    return u, bool(feas and dual_ok and comp <= 1e-13 * gn * gn)


def brute_projection(g, A):
    """min ‖u‖ over the KKT points of every face (subsets of <= rank independent rows)."""
    An = A / np.linalg.norm(A, axis=1, keepdims=True)
    r = np.linalg.matrix_rank(An)
    gn = max(np.linalg.norm(g), 1e-300)
    best = None
    for k in range(r + 1):
        for S in itertools.combinations(range(An.shape[0]), k):
            B = An[list(S)]
            if k:
                if np.linalg.matrix_rank(B) < k:
                    continue
                Qm, _ = np.linalg.qr(B.T)
                u = g - Qm @ (Qm.T @ g)
                u = u - Qm @ (Qm.T @ u)
                if np.linalg.lstsq(B.T, u - g, rcond=None)[0].min() < -1e-12 * gn:
                    continue
            else:
                u = g.copy()
            if (An @ u).min() >= -1e-12 * gn:
                v = np.linalg.norm(u)
                best = v if best is None else min(best, v)
    return best


def check_against(X, lam, D, W=None, *, threshold=0.0, screen=False, brute=False,
                  facets_ref=True):
    """Run the kernel and check every block against the references."""
    res = price_chunk(X, lam, D, threshold, W, screen=screen)
    p = D.shape[1]
    G2 = _blocks(X, lam, D)
    gn = np.linalg.norm(G2, axis=1)
    val = res.value.ravel()
    up, lo, st = res.upper.ravel(), res.lower.ravel(), res.status.ravel()
    fin = (st == INSIDE) | (st == PROJECTED)
    # rounding of the test's own g (BLAS order): γ_n Σ|λ||x|, far below the 1e-12 tolerance
    err_g = (X.shape[0] + 2) * EPS * np.linalg.norm(np.abs(X).T @ np.abs(lam))
    # 1) verified interval is an interval and contains the reported value
    assert np.all(lo[fin] <= val[fin]) and np.all(val[fin] <= up[fin])
    # 2) the bound ‖g‖ bounds every value and the screened/below ones are <= threshold
    assert np.all(np.abs(res.bound - gn[:p]) <= 1e-13 * np.maximum(gn[:p], 1) + 2 * err_g)
    nf = ~fin
    if screen:
        assert np.all(up[nf] <= threshold)
    ref_f = scipy_block_correlations(X, lam, D) if facets_ref else None
    n_checked = 0
    for b in range(2 * p):
        s, k = divmod(b, p)
        g = G2[b]
        A = _cone_rows(X, D, k)
        tol = 1e-12 * max(gn[b], 1e-300) + 4 * err_g
        if A.shape[0] == 0:
            exact_ok, u_ref = True, g
        else:
            u_ref, exact_ok = polished_projection(g, A)
        v_ref = np.linalg.norm(u_ref)
        if brute and A.shape[0]:
            v_b = brute_projection(g, A)
            assert abs(val[b] - v_b) <= tol if fin[b] else v_b <= up[b] + tol
        if fin[b]:
            if exact_ok:
                assert abs(val[b] - v_ref) <= tol, (b, val[b], v_ref)
                n_checked += 1
                # the reference also lies in the verified interval (to its own accuracy)
                assert lo[b] - tol <= v_ref <= up[b] + tol
            # the reference's polar point gives an upper bound on the exact value
            assert lo[b] <= v_ref + tol
            if ref_f is not None:
                # SciPy NNLS on all rows stops at its own tolerance (module docstring): its value
                # is an upper bound (μ >= 0 polar point), and agrees to 1e-9 relative here
                assert lo[b] <= ref_f[b] + tol
                assert abs(val[b] - ref_f[b]) <= 1e-9 * max(gn[b], 1) + tol
        else:
            # screened / below: the exact value is <= threshold
            assert v_ref <= threshold + tol or not exact_ok
            assert up[b] <= threshold
    # 3) violators: exactly the finished blocks above the threshold, by decreasing value
    vb = res.violators[:, 0] * p + res.violators[:, 1]
    assert set(vb.tolist()) == set(np.flatnonzero(fin & (val > threshold)).tolist())
    assert np.all(np.diff(res.violator_values) <= 0)
    # 4) KKT of the kernel's own output for the violators: Π ∈ C, g - Π ∈ C°, orthogonal
    for (s, k), v, dvec in zip(res.violators, res.violator_values, res.directions, strict=True):
        g = G2[s * p + k]
        A = _cone_rows(X, D, k)
        u = v * dvec
        tol = 1e-12 * max(np.linalg.norm(g), 1e-300) + 4 * err_g
        if A.shape[0]:
            An = A / np.linalg.norm(A, axis=1, keepdims=True)
            assert (An @ u).min() >= -tol
            _, resid = nnls(An.T, u - g, maxiter=100 * max(50, A.shape[0]))
            assert resid <= 1e-10 * max(np.linalg.norm(g), 1)  # scipy NNLS accuracy
        assert abs(u @ (g - u)) <= tol * max(np.linalg.norm(g), 1)
        assert abs(np.linalg.norm(dvec) - 1) <= 1e-14
    return res, n_checked


# --------------------------------------------------------------------------------------------------
# random and degenerate data


@pytest.mark.parametrize("d", [2, 3, 4, 5, 6])
def test_random_all_chambers(d):
    rng = np.random.default_rng(d)
    n = {2: 60, 3: 30, 4: 18, 5: 12, 6: 10}[d]
    X = rng.normal(size=(n, d))
    lam = rng.normal(size=n)
    ch = exact_chambers(X)
    res, n_checked = check_against(X, lam, ch.D, ch.witnesses)
    assert n_checked >= 0.9 * 2 * ch.p  # the polished reference verified most blocks
    assert res.counts["projected"] + res.counts["inside"] == 2 * ch.p


@pytest.mark.parametrize("d", [2, 3, 4])
def test_random_brute_force(d):
    rng = np.random.default_rng(10 + d)
    n = {2: 9, 3: 8, 4: 7}[d]
    X = rng.normal(size=(n, d))
    lam = rng.normal(size=n)
    ch = exact_chambers(X)
    check_against(X, lam, ch.D, ch.witnesses, brute=True)


def test_without_witnesses_same_values():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    lam = rng.normal(size=25)
    ch = exact_chambers(X)
    a = price_chunk(X, lam, ch.D, 0.0, ch.witnesses, screen=False)
    b = price_chunk(X, lam, ch.D, 0.0, None, screen=False)
    assert np.array_equal(a.value, b.value)
    assert np.array_equal(a.upper, b.upper)
    # without witnesses the lower bound can only be weaker (it is still valid: >= 0)
    assert np.all(b.lower <= a.lower) and np.all(b.lower >= 0)


def _degenerate_sets():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(12, 3))
    dup = np.vstack([Z, Z[:4], -2.5 * Z[4:6], np.zeros((2, 3))])  # duplicates, anti-parallel, 0
    low = rng.normal(size=(16, 2)) @ rng.normal(size=(2, 5))  # rank 2 in R^5
    low3 = np.vstack([rng.normal(size=(12, 3)) @ rng.normal(size=(3, 4)), np.zeros((1, 4))])
    grid = np.array([[i, j, 1.0] for i in range(-2, 3) for j in range(-1, 2)])  # concurrent rows
    return {"duplicates": dup, "rank2_in_R5": low, "rank3_in_R4_zero_row": low3, "grid": grid}


@pytest.mark.parametrize("name", list(_degenerate_sets()))
def test_degenerate(name):
    X = _degenerate_sets()[name]
    rng = np.random.default_rng(1)
    lam = rng.normal(size=X.shape[0])
    ch = exact_chambers(X)
    _, n_checked = check_against(X, lam, ch.D, ch.witnesses)
    assert n_checked >= 0.5 * 2 * ch.p
    pr = Pricer(X)
    assert pr.rank == np.linalg.matrix_rank(X)


def test_rank_deficient_directions_in_row_space():
    X = _degenerate_sets()["rank2_in_R5"]
    lam = np.random.default_rng(2).normal(size=X.shape[0])
    ch = exact_chambers(X)
    res = price_chunk(X, lam, ch.D, 0.0, ch.witnesses, screen=False)
    _, _, Vt = np.linalg.svd(X)
    null = Vt[2:]
    assert res.directions.shape[1] == 5
    assert np.abs(res.directions @ null.T).max() <= 1e-13


@pytest.mark.parametrize("q", [0.2, 0.5, 0.8])
def test_screening_keeps_every_violator(q):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    lam = rng.normal(size=30)
    ch = exact_chambers(X)
    full = price_chunk(X, lam, ch.D, 0.0, ch.witnesses, screen=False)
    threshold = float(np.quantile(full.bound, q))  # a fraction q of the chambers is screened
    res, _ = check_against(X, lam, ch.D, ch.witnesses, threshold=threshold, screen=True,
                           facets_ref=False)
    exact = full.value
    viol_full = {(int(s), int(k)) for s, k in zip(*np.nonzero(exact > threshold), strict=True)}
    viol = {(int(s), int(k)) for s, k in res.violators}
    assert viol == viol_full
    c = res.counts
    assert c["screened"] > 0 and c["below"] > 0  # both exits exercised at these thresholds
    assert 2 * c["screened"] + c["inside"] + c["below"] + c["projected"] == 2 * ch.p
    fin = (res.status == INSIDE) | (res.status == PROJECTED)
    np.testing.assert_array_equal(res.value[fin], exact[fin])  # same arithmetic, same values


@pytest.mark.parametrize("gradients", ["fused", "blas"])
@pytest.mark.parametrize("parallel", [False, True])
def test_variants_agree(gradients, parallel):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(40, 3))
    lam = rng.normal(size=40)
    ch = exact_chambers(X)
    base = Pricer(X).price(lam, ch.D, 0.5, ch.witnesses)
    res = Pricer(X, parallel=parallel, gradients=gradients).price(lam, ch.D, 0.5, ch.witnesses)
    assert np.array_equal(res.violators, base.violators)
    fin = (base.status == PROJECTED) | (base.status == INSIDE)
    # the same arithmetic except the order of the sum in g (BLAS): values to 1e-12 ‖g‖
    tol = 1e-12 * np.maximum(base.bound, 1)
    assert np.all(np.abs(res.value - base.value)[fin] <= np.broadcast_to(tol, fin.shape)[fin])
    assert np.array_equal(res.status, base.status)


def test_chunks_and_sampled_patterns():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 4))
    lam = rng.normal(size=50)
    pats = sample_patterns(X, 3000, seed=0)
    pr = Pricer(X)
    one = pr.price(lam, pats.D, 0.8, pats.witnesses)
    agg = price_all(pr, lam, pats, 0.8, chunk=97)
    assert agg.counts == one.counts
    np.testing.assert_array_equal(agg.violators, one.violators)
    np.testing.assert_array_equal(agg.violator_values, one.violator_values)
    check_against(X, lam, pats.D, pats.witnesses, threshold=0.8, screen=True, facets_ref=False)


@pytest.mark.parametrize("top_k", [1, 5, 40])
def test_top_k_exact(top_k):
    """top-k mode: the k largest values and their blocks are those of the full pass."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 4))
    lam = rng.normal(size=40)
    ch = exact_chambers(X)
    pr = Pricer(X)
    full = price_all(pr, lam, ch, 0.0, screen=False)
    thr = float(np.quantile(full.violator_values, 0.5))
    for chunk in (ch.p, 501):
        res = price_all(pr, lam, ch, thr, chunk=chunk, top_k=top_k)
        k = min(top_k, res.violator_values.size)
        np.testing.assert_allclose(res.violator_values[:k], full.violator_values[:top_k],
                                   rtol=0, atol=1e-12 * full.violator_values[0])
        assert res.counts["pruned"] > 0  # the k-th best threshold pruned something
        assert res.counts["violators"] <= int(np.count_nonzero(full.violator_values > thr))
        assert res.max_upper >= full.violator_values[0] - 1e-12


def test_zero_and_trivial_inputs():
    X = np.zeros((4, 2))
    D = np.ones((4, 1), dtype=bool)
    res = price_chunk(X, np.ones(4), D, 0.0)
    assert res.counts["violators"] == 0 and res.value.max() == 0
    X = np.array([[1.0, 0.0], [2.0, 0.0]])  # rank 1
    ch = exact_chambers(X)
    lam = np.array([1.0, -3.0])
    res, _ = check_against(X, lam, ch.D, ch.witnesses)
    # rank 1: chambers u1 > 0 and u1 < 0; g = X^T D λ, values |g_1| or 0
    for k in range(ch.p):
        g1 = (X[:, 0] * lam * ch.D[:, k]).sum()
        sgn = np.sign(ch.witnesses[k, 0])
        for s, gam in enumerate((1.0, -1.0)):
            assert res.value[s, k] == pytest.approx(max(0.0, gam * g1 * sgn), abs=1e-14)


def test_input_errors():
    X = np.eye(3)
    with pytest.raises(InputError):
        price_chunk(X, np.ones(3), np.ones((3, 2)), 0.1)  # not bool
    with pytest.raises(InputError):
        price_chunk(X, np.ones(3), np.ones((3, 2), bool), -1.0)
    with pytest.raises(InputError):
        price_chunk(X, np.ones(3), np.ones((3, 2), bool), 0.1, np.ones((3, 3)))


# --------------------------------------------------------------------------------------------------
# real data


def _iris():
    df = pd.read_csv(DATA / "iris.csv")
    return df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)


def test_default_csv():
    df = pd.read_csv(DATA / "default.csv")
    X, y = df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)
    ch = exact_chambers(X)
    check_against(X, y, ch.D, ch.witnesses)  # λ = y: the β_max dual point
    check_against(X, y, ch.D, ch.witnesses, threshold=1.0, screen=True)


@pytest.fixture(scope="module")
def iris_setup():
    from hiddenconvex.convex_program import solve_convex
    from hiddenconvex.objective import Problem

    X, y = _iris()
    ch = exact_chambers(X)
    sol = solve_convex(Problem.create(X, y, 0.1), method="sample", n_samples=300, certify=False)
    return X, y - sol.yhat, ch


def test_iris_subset_against_references(iris_setup):
    X, lam, ch = iris_setup
    assert ch.p == 1_080_590
    idx = np.arange(0, ch.p, 997)  # ~1,100 chambers spread over the lexicographic list
    sub = ch.subset(idx)
    check_against(X, lam, sub.D, sub.witnesses)
    check_against(X, lam, sub.D, sub.witnesses, threshold=0.1, screen=True)


@pytest.mark.slow
def test_iris_all_chambers(iris_setup):
    """All 1,080,590 chambers at β = 0.1 (~1 min): every violator found by the screened pass is
    a block the unscreened pass finds, M(λ) agrees with SciPy's NNLS on the maximizer and no
    sampled block's SciPy value exceeds it."""
    X, lam, ch = iris_setup
    pr = Pricer(X)
    agg = price_all(pr, lam, ch, 0.1)
    assert agg.violator_values.size > 0 and agg.counts["failed"] == 0
    M = float(agg.violator_values[0])
    assert agg.max_error <= 1e-6  # verified: every finished block's interval is this tight
    assert math.isfinite(agg.max_upper) and agg.max_upper >= M
    top = price_all(pr, lam, ch, 0.0, top_k=1)
    assert float(top.violator_values[0]) == M  # same block, same arithmetic
    s, k = (int(v) for v in agg.violators[0])
    g = (1.0 - 2.0 * s) * X.T @ (ch.D[:, k] * lam)
    # SciPy on the maximizer (well conditioned here): within 1e-12 of the kernel
    ref = scipy_block_correlations(X, lam, ch.D[:, [k]])[s]
    assert abs(M - ref) <= 1e-12 * max(np.linalg.norm(g), 1)
    # a spread sample of chambers: SciPy's values (upper bounds, within 1e-9·‖g‖ of the exact
    # ones) never exceed M by more than that
    idx = np.arange(0, ch.p, 211)
    sc = scipy_block_correlations(X, lam, ch.D[:, idx])
    gn = np.linalg.norm(ch.D[:, idx].T.astype(float) @ (X * lam[:, None]), axis=1)
    assert np.all(sc <= M + 1e-9 * np.maximum(np.tile(gn, 2), 1))


# --------------------------------------------------------------------------------------------------
# streamed chunks, scale, the SciPy fallback


def test_stream_of_chunks_equals_matrix_pass():
    rng = np.random.default_rng(21)
    X = rng.normal(size=(35, 3))
    lam = rng.normal(size=35)
    ch = exact_chambers(X)
    pr = Pricer(X)
    whole = price_all(pr, lam, ch, 0.6)

    def stream():  # what the streaming enumerator yields: (D (n, c) bool, witnesses (c, d))
        for a in range(0, ch.p, 64):
            yield ch.D[:, a:a + 64], ch.witnesses[a:a + 64]

    agg = price_all(pr, lam, stream(), 0.6)
    assert agg.counts == whole.counts and agg.counts["priced"] == ch.p
    np.testing.assert_array_equal(agg.violators, whole.violators)
    np.testing.assert_array_equal(agg.violator_values, whole.violator_values)
    # the violators' pattern columns and witnesses travel with the pass
    np.testing.assert_array_equal(agg.patterns, ch.D[:, agg.violators[:, 1]])
    np.testing.assert_array_equal(agg.witnesses, ch.witnesses[agg.violators[:, 1]])
    # per-phase seconds (the chunk source is timed separately) and the exact check of the values
    assert {"chunks", "gradients", "kernel", "total"} <= set(agg.seconds)
    assert agg.seconds["total"] >= agg.seconds["kernel"] >= 0
    vals = scipy_block_correlations(X, lam, ch.D)
    over = np.flatnonzero(vals > 0.6 + 1e-9 * np.abs(vals).max())
    assert set(over.tolist()) <= {int(s) * ch.p + int(k) for s, k in agg.violators}
    # without witnesses: the same violators, no verified error reported
    bare = price_all(pr, lam, ((D, None) for D, _ in stream()), 0.6)
    np.testing.assert_array_equal(bare.violators, whole.violators)
    assert bare.witnesses is None and math.isnan(bare.max_error)
    # top_k over the stream keeps the k best, exactly the first k of the full pass
    top = price_all(pr, lam, stream(), 0.6, top_k=7)
    np.testing.assert_array_equal(top.violator_values, whole.violator_values[:7])
    assert top.patterns.shape == (35, 7)
    with pytest.raises(InputError, match="a chunk must be a pair"):
        price_all(pr, lam, [42], 0.6)
    with pytest.raises(InputError, match="bool array"):
        price_all(pr, lam, [np.ones(3)], 0.6)
    assert sum(D.shape[1] for D, _ in iter_chunks(ch, 100)) == ch.p


@pytest.mark.parametrize("ex,el", [(600, -500), (-700, 300), (3, 0)])
def test_scale_invariance_exact(ex, el):
    """X·2^ex and λ·2^el: the kernel works on the same power-of-two scaled data, so every value
    is the unscaled one times 2^(ex+el) exactly, thresholds included."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    lam = rng.normal(size=20)
    ch = exact_chambers(X)
    base = price_chunk(X, lam, ch.D, 0.7, ch.witnesses)
    sc = price_chunk(np.ldexp(X, ex), np.ldexp(lam, el), ch.D, math.ldexp(0.7, ex + el),
                     ch.witnesses)
    np.testing.assert_array_equal(sc.status, base.status)
    for name in ("value", "upper", "lower", "bound"):
        np.testing.assert_array_equal(getattr(sc, name), np.ldexp(getattr(base, name), ex + el))
    np.testing.assert_array_equal(sc.violators, base.violators)


def test_iteration_limit_falls_back_to_scipy():
    """A kernel that may not iterate (maxit = 0) hands every projection to SciPy's NNLS: the
    values are then SciPy's (within 1e-9·‖g‖ of the polished reference), the interval [0, upper]
    still contains them, and the blocks are counted as failed."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(14, 3))
    lam = rng.normal(size=14)
    ch = exact_chambers(X)
    pr = Pricer(X)
    pr.maxit = 0
    res = pr.price(lam, ch.D, 0.0, ch.witnesses, screen=False)
    ref = price_chunk(X, lam, ch.D, 0.0, ch.witnesses, screen=False)
    assert res.counts["failed"] > 0
    fb = res.iterations < 0
    gn = np.broadcast_to(np.maximum(ref.bound, 1), fb.shape)
    assert np.all(np.abs(res.value - ref.value)[fb] <= 1e-9 * gn[fb])
    assert np.all(res.lower[fb] == 0) and np.all(res.value[fb] <= res.upper[fb])
    np.testing.assert_array_equal(res.value[~fb], ref.value[~fb])


# --------------------------------------------------------------------------------------------------
# reuse of the per-chamber bounds of an earlier pass (ChamberBounds)


def _exact_max_per_chamber(X, lam, ch):
    """max_γ v_{k,γ} for every chamber, from an independent SciPy NNLS (upper bounds to its
    tolerance) -- the values the recorded bounds must dominate."""
    vals = scipy_block_correlations(X, lam, ch.D)
    return np.maximum(vals[:ch.p], vals[ch.p:])


@pytest.mark.parametrize("step", [1e-3, 0.05, 1.0])
def test_reference_bounds_same_pass(step):
    """A pass that reuses the bounds of a pass at another λ finds exactly the violators and
    values of a fresh pass; its recorded bounds dominate every chamber's exact value."""
    rng = np.random.default_rng(31)
    X = rng.normal(size=(40, 3))
    ch = exact_chambers(X)
    pr = Pricer(X)
    lam0 = rng.normal(size=40)
    thr = float(np.quantile(_exact_max_per_chamber(X, lam0, ch), 0.9))
    first = price_all(pr, lam0, ch, thr, chunk=97, record=True)
    assert first.bounds.upper.shape == (ch.p,) and first.bounds.upper.dtype == np.float32
    lam1 = lam0 + step * rng.normal(size=40) * np.linalg.norm(lam0) / np.sqrt(40)
    fresh = price_all(pr, lam1, ch, thr, chunk=97)
    for chunk in (97, ch.p):
        again = price_all(pr, lam1, ch, thr, chunk=chunk, reference=first.bounds, record=True)
        np.testing.assert_array_equal(again.violators, fresh.violators)
        np.testing.assert_array_equal(again.violator_values, fresh.violator_values)
        np.testing.assert_array_equal(again.patterns, fresh.patterns)
        assert again.counts["priced"] == ch.p
        # every chamber's exact value is below its recorded (carried or new) bound; SciPy's NNLS
        # stops at its own tolerance (an upper bound, ~1e-9 relative, test_iris_* above)
        exact = _exact_max_per_chamber(X, lam1, ch)
        slack = 1e-9 * max(1.0, float(exact.max()))
        assert np.all(exact <= again.bounds.upper.astype(float) + slack)
        assert again.max_upper >= float(exact.max()) - slack
        if again.violator_values.size == 0:
            assert again.max_upper <= thr
    if step <= 1e-3:
        assert again.counts["reused"] > ch.p // 2  # a small move reuses most bounds
    # top-k with a reference: the same k best
    top = price_all(pr, lam1, ch, thr, top_k=5, reference=first.bounds)
    np.testing.assert_array_equal(top.violator_values, fresh.violator_values[:5])


def test_reference_bounds_other_order_and_length():
    """Bounds recorded on a list in another order are not trusted (fingerprints): the pass still
    equals a fresh one; a longer list than the recorded one is an InputError."""
    rng = np.random.default_rng(32)
    X = rng.normal(size=(30, 3))
    ch = exact_chambers(X)
    pr = Pricer(X)
    lam = rng.normal(size=30)
    thr = float(np.quantile(_exact_max_per_chamber(X, lam, ch), 0.8))
    perm = rng.permutation(ch.p)
    shuffled = price_all(pr, lam, ch.D[:, perm], thr, record=True)
    fresh = price_all(pr, lam, ch, thr)
    again = price_all(pr, lam, ch, thr, reference=shuffled.bounds)
    np.testing.assert_array_equal(again.violators, fresh.violators)
    np.testing.assert_array_equal(again.violator_values, fresh.violator_values)
    # reused only where the permutation left the chamber in place (same fingerprint; two distinct
    # patterns share a 32-bit fingerprint with probability ~2^-32 each, p = a few hundred here)
    assert again.counts["reused"] <= int(np.count_nonzero(perm == np.arange(ch.p)))
    short = price_all(pr, lam, ch.D[:, :10], thr, record=True)
    with pytest.raises(InputError, match="reference bounds cover 10 chambers"):
        price_all(pr, lam, ch, thr, reference=short.bounds)
