"""Facet rows of the chamber cones (hiddenconvex.facets) against an LP oracle, the Qhull oracle
(tests/oracles.py) and the flip look-up."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import brute_chambers, projection_error, qhull_facets, qp_projection
from scipy.optimize import nnls
from tolerances import EPS

from hiddenconvex import InputError
from hiddenconvex.certificate import cone_projections
from hiddenconvex.facets import chamber_facets, facet_rows
from hiddenconvex.patterns import exact_chambers, sample_patterns


def lp_facet_hyperplanes(X, D):
    """Oracle: hyperplane x_j^⊥ is a facet of the cone of pattern k iff some u satisfies every
    other hyperplane's inequality and violates row j (HiGHS LP per pattern and row)."""
    from scipy.optimize import linprog

    n, d = X.shape
    norms = np.linalg.norm(X, axis=1)
    nz = norms > 0
    # parallel rows (|cos| = 1: built as exact multiples here) up to the rounding of the d-term
    # dot products and norms; random rows are far from parallel
    same = (np.abs(np.abs(X @ X.T) - np.outer(norms, norms))
            <= 16 * d * EPS * np.outer(norms, norms))
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
        # the facet rows alone give the same cone: the projections on the facet rows (the
        # independent active-set QP, exact up to its rounding: projection_error) equal those on
        # all rows (the pricing kernel, tests/test_pricing.py: within 1e-12·‖g‖)
        lam = rng.standard_normal(X.shape[0])
        Pa = cone_projections(X, lam, ch)
        for b in range(2 * ch.p):
            k, gamma = b % ch.p, (1.0 if b < ch.p else -1.0)
            A = np.where(ch.D[:, k], 1.0, -1.0)[:, None] * X
            g = gamma * X.T @ (ch.D[:, k] * lam)
            Pf, Sf = qp_projection(g, A[F[:, k]], with_active=True)
            err = projection_error(g, A[F[:, k]], Sf) + 1e-12 * np.linalg.norm(g)
            assert np.linalg.norm(Pf - Pa[b]) <= 2 * err


def test_chamber_facets_non_chambers_and_incomplete_lists():
    X = np.random.default_rng(0).standard_normal((5, 2))
    ch = brute_chambers(X)
    D = np.column_stack([ch.D[:, 0], np.ones(5, bool)])  # all-ones is not a chamber here
    assert not any(np.array_equal(ch.D[:, k], D[:, 1]) for k in range(ch.p))
    F = chamber_facets(X, D, ch)
    assert F[:, 0].sum() == 2 and F[:, 1].all()  # a 2-D chamber has 2 facets; others keep all
    with pytest.raises(InputError, match="not the complete chamber list"):
        chamber_facets(X, ch, ch.D[:, :2])


# --------------------------------------------------------------------------------------------------
# Clarkson facet rows (the witness route) on bigger and degenerate sets


def _hyperplane_ids(X):
    """Id of the hyperplane x_j^⊥ of every row (parallel / anti-parallel rows share it; zero
    rows get -1), from the normalized rows rounded to 1e-9 (test data is far from that)."""
    nz = np.any(X != 0, axis=1)
    U = np.zeros_like(X)
    U[nz] = X[nz] / np.linalg.norm(X[nz], axis=1, keepdims=True)
    first = np.argmax(np.abs(U) > 1e-12, axis=1)
    U *= np.sign(U[np.arange(len(U)), first])[:, None]
    _, ids = np.unique(np.round(U, 9), axis=0, return_inverse=True)
    ids = ids.reshape(-1)
    ids[~nz] = -1
    return ids


def check_facets(X, pats, F_ref):
    """Kept hyperplanes ⊇ true facets (F_ref); extra rows are redundant; one row per hyperplane."""
    F, info = facet_rows(X, pats.D, pats.witnesses, return_info=True)
    ids = _hyperplane_ids(X)
    assert not F[ids < 0].any()  # zero rows never kept
    np.testing.assert_array_equal(info["kept"], F.sum(axis=0))
    extra = 0
    for k in range(pats.p):
        mine, ref = ids[F[:, k]], set(ids[F_ref[:, k]].tolist())
        assert len(set(mine.tolist())) == mine.size  # one row per hyperplane
        assert ref <= set(mine.tolist())  # no facet is lost
        S = np.where(pats.D[:, k], 1.0, -1.0)[:, None] * X
        keep_ref = np.flatnonzero(F_ref[:, k])
        for j in np.flatnonzero(F[:, k]):
            if ids[j] in ref:
                continue
            extra += 1  # a kept redundant row: it must lie in the cone of the true facets
            _, res = nnls(S[keep_ref].T, S[j])
            assert res <= 1e-9 * np.linalg.norm(S[j])  # SciPy NNLS accuracy on these rows
    # measured: extra rows only in chambers too thin to certify redundancy at tol = 1e-12
    assert extra <= 0.01 * F_ref.sum()
    return F, info


def _degenerate_sets():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(12, 3))
    dup = np.vstack([Z, Z[:4], -2.5 * Z[4:6], np.zeros((2, 3))])  # duplicates, anti-parallel, 0
    low = rng.normal(size=(16, 2)) @ rng.normal(size=(2, 5))  # rank 2 in R^5
    low3 = np.vstack([rng.normal(size=(12, 3)) @ rng.normal(size=(3, 4)), np.zeros((1, 4))])
    grid = np.array([[i, j, 1.0] for i in range(-2, 3) for j in range(-1, 2)])  # concurrent rows
    return {"duplicates": dup, "rank2_in_R5": low, "rank3_in_R4_zero_row": low3, "grid": grid}


@pytest.mark.parametrize("shape", [(30, 2), (30, 3), (20, 4), (14, 5)])
def test_facet_rows_random_vs_flip_and_qhull(shape):
    rng = np.random.default_rng(shape[0] + shape[1])
    X = rng.normal(size=shape)
    ch = exact_chambers(X)
    F, _ = check_facets(X, ch, chamber_facets(X, ch, ch))  # the flip look-up (all chambers)
    check_facets(X, ch, qhull_facets(X, ch.D, ch.witnesses))  # the Qhull oracle


@pytest.mark.parametrize("name", list(_degenerate_sets()))
def test_facet_rows_degenerate_vs_flip(name):
    X = _degenerate_sets()[name]
    ch = exact_chambers(X)
    check_facets(X, ch, chamber_facets(X, ch, ch))


def test_facet_rows_teacher_d10_vs_qhull():
    """n = 200, d = 10 sampled chambers (issue 13's setting): no facet lost against Qhull, and
    the threaded kernel gives the same rows."""
    from hiddenconvex.experiments.synthetic import teacher_network

    X, _, _ = teacher_network(200, 10, seed=0)
    pats = sample_patterns(X, 30, seed=0)
    F, _ = check_facets(X, pats, qhull_facets(X, pats.D, pats.witnesses))
    assert np.array_equal(F, facet_rows(X, pats.D, pats.witnesses, parallel=True))
    assert np.array_equal(F, chamber_facets(X, pats))  # the witness route of chamber_facets


def test_facet_rows_witness_not_inside_keeps_every_row():
    X = np.random.default_rng(3).standard_normal((8, 3))
    ch = exact_chambers(X)
    W = ch.witnesses.copy()
    W[0] = -W[0]  # no longer inside chamber 0
    F = facet_rows(X, ch.D, W)
    assert F[:, 0].all() and not F[:, 1:].all(axis=0).all()
    with pytest.raises(InputError, match="witnesses"):
        facet_rows(X, ch.D, W[:, :2])


def test_facet_kernel_keeps_every_row_where_the_witness_is_not_inside():
    """The kernel itself (pure-Python source of the numba kernels): a column whose witness has a
    non-positive margin keeps every row and takes no ray step (those divide by the margins: a
    ZeroDivisionError was met on sampled diabetes patterns before the kernel refused them)."""
    from hiddenconvex.facets import _facets_kernel_py

    X = np.random.default_rng(3).standard_normal((8, 3))
    ch = exact_chambers(X)
    A = X / np.linalg.norm(X, axis=1, keepdims=True)
    W = ch.witnesses.copy()
    W[0] = -W[0]
    c = ch.p
    keep = np.zeros((8, c), dtype=bool)
    nkeep, ntie, nfail = (np.zeros(c, dtype=np.int64) for _ in range(3))
    g = 1e-14
    _facets_kernel_py(A, np.asfortranarray(ch.D), W, 1e-10, 4 * (8 + 3) + 20, 1e-9,
                      np.array([g, g, 0.0]), 1e-16, keep, nkeep, ntie, nfail)
    assert keep[:, 0].all() and nkeep[0] == 8
    ref = facet_rows(X, ch.D, ch.witnesses)
    assert np.array_equal(keep[:, 1:], ref[:, 1:])  # the other columns as facet_rows finds them
