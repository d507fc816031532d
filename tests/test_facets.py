"""Facet rows of the chamber cones (hiddenconvex.facets) against an LP oracle."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import brute_chambers, projection_error, qp_projection
from tolerances import EPS

from hiddenconvex import InputError
from hiddenconvex.certificate import cone_projections
from hiddenconvex.facets import chamber_facets


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
        # the facet rows alone give the same cone: same projections as with all rows
        lam = rng.standard_normal(X.shape[0])
        # the same cones: both projections are exact up to their rounding (projection_error of
        # each block's g with its active set, brute force)
        Pf, Pa = cone_projections(X, lam, ch, facets=F), cone_projections(X, lam, ch.D)
        for b in range(2 * ch.p):
            k, gamma = b % ch.p, (1.0 if b < ch.p else -1.0)
            A = np.where(ch.D[:, k], 1.0, -1.0)[:, None] * X
            A = A[np.any(X != 0, axis=1)]
            g = gamma * X.T @ (ch.D[:, k] * lam)
            _, S = qp_projection(g, A, with_active=True)
            assert np.linalg.norm(Pf[b] - Pa[b]) <= 2 * projection_error(g, A, S)


def test_chamber_facets_non_chambers_and_incomplete_lists():
    X = np.random.default_rng(0).standard_normal((5, 2))
    ch = brute_chambers(X)
    D = np.column_stack([ch.D[:, 0], np.ones(5, bool)])  # all-ones is not a chamber here
    assert not any(np.array_equal(ch.D[:, k], D[:, 1]) for k in range(ch.p))
    F = chamber_facets(X, D, ch)
    assert F[:, 0].sum() == 2 and F[:, 1].all()  # a 2-D chamber has 2 facets; others keep all
    with pytest.raises(InputError, match="not the complete chamber list"):
        chamber_facets(X, ch, ch.D[:, :2])
