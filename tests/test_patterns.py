"""Activation patterns (SPEC §1.2, §1.3, §3; oracles O1–O5).

Every count and set is compared with an INDEPENDENT reference from tests/oracles.py (brute force
over all sign vectors with one LP each, the incremental LP method, Zaslavsky's formula, Cover's
formula) or with the brute-force ≥-pattern oracle written below (3^n cell sign vectors, one LP
each).
Counts say which set they count: "chambers" (canonical, strict sign vectors) or "ge" (1[Xu ≥ 0]).

A rigorous shortcut used for larger degenerate cases: if every returned pattern has a witness u
with sign(X u) equal to it (checked here, in the test, with numpy), the patterns are distinct, and
their number equals the Zaslavsky count, then the returned set IS the set of all chambers.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import (
    brute_chambers,
    incremental_chambers,
    planar_points_count,
    sign_set,
    zaslavsky_count,
)
from oracles import cover_count as oracle_cover
from scipy.optimize import linprog
from tolerances import EPS

from hiddenconvex import InputError
from hiddenconvex.cli import main
from hiddenconvex.errors import SolverError
from hiddenconvex.experiments.cache import (
    CACHE_ENV,
    cache_key,
    cached_patterns,
    default_cache_dir,
    load_patterns,
    save_patterns,
)
from hiddenconvex.patterns import (
    DEFAULT_MAX_EXACT,
    DEFAULT_N_SAMPLES,
    Patterns,
    cover_bound,
    cover_count,
    enumerate_patterns,
    exact_chambers,
    exact_ge_patterns,
    sample_patterns,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# independent helpers (numpy / scipy only)


def gaussian_rank_r(n, r, d=None, seed=0):
    """n Gaussian points of rank r, embedded in R^d by a random orthonormal map."""
    rng = np.random.default_rng([seed, n, r])
    d = r + 2 if d is None else d
    Q = np.linalg.qr(rng.standard_normal((d, r)))[0]
    return rng.standard_normal((n, r)) @ Q.T


def brute_ge(X) -> set[bytes]:
    """Brute-force ≥-patterns: every cell sign vector σ ∈ {−,0,+}^m (m nonzero rows) with a feasible
    LP {x_j^T u = 0 (σ_j = 0), σ_j x_j^T u ≥ 1 (σ_j ≠ 0)}, recorded as 1[σ ≥ 0] (zero rows 1)."""
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    out = set()
    for sig in itertools.product([-1, 0, 1], repeat=nz.size):
        sig = np.array(sig)
        eq, on = X[nz[sig == 0]], sig != 0
        ineq = sig[on][:, None] * X[nz[on]]
        res = linprog(np.zeros(d),
                      A_ub=-ineq if on.any() else None,
                      b_ub=-np.ones(on.sum()) if on.any() else None,
                      A_eq=eq if eq.size else None, b_eq=np.zeros(len(eq)) if eq.size else None,
                      bounds=[(None, None)] * d, method="highs")
        if res.status == 0:
            full = np.ones(n, dtype=bool)
            full[nz] = sig >= 0
            out.add(full.tobytes())
    return out


def check_chamber_list(X, P: Patterns):
    """Structural checks done here with numpy: witnesses strictly inside, distinct, closed under
    negation on nonzero rows, zero rows always active, deterministic lexicographic order."""
    X = np.asarray(X, dtype=float)
    nz = np.any(X != 0, axis=1)
    assert P.D.shape == (X.shape[0], P.p) and P.witnesses.shape == (P.p, X.shape[1])
    assert P.method == "exact" and P.complete and P.pattern_set == "chamber"
    assert P.rank == np.linalg.matrix_rank(X)
    S = X @ P.witnesses.T
    s = np.where(P.D, 1.0, -1.0)
    assert np.all(S[nz] * s[nz] > 0), "a witness is not strictly inside its chamber"
    if nz.any():
        scale = np.linalg.norm(X[nz], axis=1)[:, None] * np.linalg.norm(P.witnesses, axis=1)
        # the enumeration promises a relative margin > 32·d·eps (a sign beyond rounding, module
        # docstring of hiddenconvex.patterns); S rounds here by ≤ d·eps relative once more
        d = X.shape[1]
        assert np.min(S[nz] * s[nz] / scale) > (32 - 1) * max(d, 1) * EPS
    assert np.all(P.D[~nz])
    got = sign_set(P)
    assert len(got) == P.p, "duplicate patterns"
    neg = {np.where(nz, ~P.D[:, k], True).tobytes() for k in range(P.p)}
    assert neg == got, "not closed under negation"
    if P.rank > 0:
        assert P.p % 2 == 0
    cols = [tuple(P.D[:, k]) for k in range(P.p)]
    assert cols == sorted(cols), "not in lexicographic order"
    # witnesses lie in row(X) (SPEC §1.3 lift)
    _, sv, Vt = np.linalg.svd(X)
    r = P.rank
    null = Vt[r:]
    if null.size and r > 0:  # (X = 0: the witness is e_1, any u is inside)
        # the package's and this SVD's row spaces agree up to the rounding angle
        # ~ eps·σ_1/σ_r (Wedin), times ‖u‖ (d-term dot products)
        angle = 16 * X.shape[1] * EPS * sv[0] / sv[r - 1]
        assert np.all(np.abs(P.witnesses @ null.T)
                      <= angle * np.linalg.norm(P.witnesses, axis=1)[:, None])


# --------------------------------------------------------------------------------------------------
# SPEC oracles O1–O5


def test_o1_identity():
    X = np.eye(2)
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == 4 == oracle_cover(2, 2) == zaslavsky_count(X)
    assert sign_set(P) == sign_set(brute_chambers(X))
    assert {tuple(P.D[:, k]) for k in range(4)} == set(itertools.product([False, True], repeat=2))
    G = exact_ge_patterns(X)  # ≥-patterns of I_2: also 4
    assert G.p == 4 and sign_set(G) == brute_ge(X)


def test_o2_antipodal_d1():
    X = np.array([[1.0], [-1.0]])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == 2  # chambers: (1,0) and (0,1)
    assert {tuple(P.D[:, k]) for k in range(2)} == {(True, False), (False, True)}
    G = exact_ge_patterns(X)  # ≥-patterns: {(1,0), (0,1), (1,1)}
    assert G.p == 3 and sign_set(G) == brute_ge(X)
    assert {tuple(G.D[:, k]) for k in range(3)} == {(True, False), (False, True), (True, True)}
    assert G.pattern_set == "ge" and G.complete


@pytest.mark.parametrize("n,d,expected", [(3, 2, 6), (4, 3, 14), (6, 3, 32), (7, 4, 84)])
def test_o3_cover_numbers(n, d, expected):
    X = np.random.default_rng(1).normal(size=(n, d))
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == expected == oracle_cover(n, d) == cover_count(n, d)
    assert sign_set(P) == sign_set(brute_chambers(X))


def test_o4_rank_deficiency():
    X = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == 2 and P.rank == 1
    assert sign_set(P) == sign_set(brute_chambers(X))
    # = chambers of X̂ = U_1 σ_1 (SPEC §1.3)
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    assert sign_set(P) == sign_set(exact_chambers(U[:, :1] * s[0]))


def test_o5_bias_1d():
    x = np.arange(5.0)
    X = np.column_stack([x, np.ones(5)])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == 10 == 2 * len(x)
    assert sign_set(P) == sign_set(brute_chambers(X))
    # with a bias column u = (0, -1) gives Xu < 0: the zero pattern is a chamber; nonzero() drops it
    assert np.sum(~P.D.any(axis=0)) == 1
    assert P.nonzero().p == 9 and P.nonzero().complete


def test_spec_ge_example():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])  # SPEC §3.1: 6 ≥-patterns vs 4 chambers
    assert exact_chambers(X).p == 4 == zaslavsky_count(X)
    G = exact_ge_patterns(X)
    assert G.p == 6 and sign_set(G) == brute_ge(X)


def test_patterns_object_is_immutable_and_does_not_alias_input():
    D = np.array([[True, False], [False, True]])
    W = np.array([[1.0, -1.0], [-1.0, 1.0]])
    P = Patterns(D, W, "exact", True, 2)
    D[0, 0], W[0, 0] = False, 5.0  # the caller's arrays stay writeable and independent
    assert P.D[0, 0] and P.witnesses[0, 0] == 1.0
    with pytest.raises(ValueError):
        P.D[0, 0] = False
    with pytest.raises(ValueError):
        P.witnesses[0, 0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.method = "sample"
    with pytest.raises(ValueError):
        Patterns(np.ones((2, 3), bool), np.ones((2, 2)), "exact", True, 2)
    E = exact_chambers(gaussian_rank_r(7, 3, seed=1))
    with pytest.raises(ValueError):
        E.D[:, 0][0] = not E.D[0, 0]  # views of the result are read-only too
    assert E.D.flags.f_contiguous  # pattern-major storage: columns D[:, k] are contiguous
    assert E.summary() == {"n": 7, "d": 5, "rank": 3, "method": "exact", "pattern_set": "chamber",
                           "num_patterns": oracle_cover(7, 3), "complete": True, "samples": None,
                           "seed": None}


def test_patterns_subset_and_nonzero():
    X = np.column_stack([np.arange(4.0), np.ones(4)])  # with a bias column D = 0 is a chamber
    P = exact_chambers(X)
    mask = np.arange(P.p) % 3 == 0
    for index in (mask, np.flatnonzero(mask), list(np.flatnonzero(mask))):
        Q = P.subset(index)
        assert np.array_equal(Q.D, P.D[:, mask]) and np.array_equal(Q.witnesses, P.witnesses[mask])
        assert not Q.complete and Q.method == "exact" and Q.rank == P.rank
    assert P.subset([]).p == 0 and P.subset([], complete=True).complete
    with pytest.raises(InputError):
        P.subset(np.ones(P.p + 1, dtype=bool))
    with pytest.raises(InputError):
        P.subset([0.5])
    Z = P.nonzero()
    assert Z.p == P.p - 1 and Z.complete and Z.D.any(axis=0).all()
    assert sign_set(Z) | {np.zeros(4, bool).tobytes()} == sign_set(P)


def test_blocked_matrix_product_matches_numpy():
    from hiddenconvex._linalg import _mm

    rng = np.random.default_rng(0)
    for m, k, n in [(3, 2, 4), (700, 3, 400), (5, 10, 30_000), (1, 4, 70_000)]:
        A, B = rng.normal(size=(m, k)), rng.normal(size=(k, n))
        # a k-term dot product has error ≤ γ_k (|A||B|)_ij (γ_k ≈ k eps/2), in the blocked
        # product and in NumPy's alike (any summation order): they differ by at most twice that
        C, bound = A @ B, k * EPS * (np.abs(A) @ np.abs(B))
        assert np.all(np.abs(_mm(A, B) - C) <= bound)


# --------------------------------------------------------------------------------------------------
# general position: Cover counts (and brute-force sets for small n)


@pytest.mark.parametrize("n,r", [(5, 2), (60, 2), (9, 3), (60, 3), (150, 3), (400, 3), (8, 4),
                                 (30, 4), (100, 4), (12, 5), (20, 6)])
def test_cover_count_general_position(n, r):
    X = gaussian_rank_r(n, r, d=r + 2, seed=3)
    P = exact_chambers(X)
    assert P.p == oracle_cover(n, r)
    assert P.rank == r and P.complete and P.method == "exact"
    if P.p <= 20_000:
        check_chamber_list(X, P)
    else:  # big: strict witnesses and distinctness, vectorized
        for c0 in range(0, P.p, 20_000):
            S = X @ P.witnesses[c0:c0 + 20_000].T
            assert np.all(np.where(P.D[:, c0:c0 + 20_000], S, -S) > 0)
        packed = np.packbits(P.D, axis=0).T
        assert np.unique(packed, axis=0).shape[0] == P.p


@pytest.mark.parametrize("n,r,oracle", [(7, 2, "brute"), (8, 3, "brute"), (9, 4, "brute"),
                                        (7, 5, "brute"), (14, 3, "incremental"),
                                        (11, 4, "incremental")])
def test_exact_set_equals_oracle(n, r, oracle):
    X = gaussian_rank_r(n, r, d=r + 1, seed=7)
    P = exact_chambers(X)
    check_chamber_list(X, P)
    ref = brute_chambers(X) if oracle == "brute" else incremental_chambers(X)
    assert sign_set(P) == sign_set(ref)


# --------------------------------------------------------------------------------------------------
# degenerate arrangements


def _degenerate_cases():
    rng = np.random.default_rng(11)
    A = rng.normal(size=(4, 3))
    v = np.array([1.0, 1.0, 1.0])
    B = rng.normal(size=(7, 3))
    B -= np.outer(B @ v, v) / 3.0  # 7 planes through the line R v
    grid = np.array([[i, j, 1.0] for i in range(4) for j in range(3)])  # 2-D grid + bias
    cube = np.array([p for p in itertools.product([-1, 0, 1], repeat=3) if p > (0, 0, 0)], float)
    Z3 = rng.integers(-2, 3, size=(10, 3)).astype(float)
    return {
        "duplicates": np.vstack([A, A[:2], A[1:2]]),
        "parallel_antiparallel": np.vstack([A, 2.0 * A[:2], -A[1:3], -0.3 * A[3:], 7.0 * A[:1]]),
        "zero_rows": np.vstack([np.zeros((1, 3)), A, np.zeros((2, 3))]),
        "all_together": np.vstack([A, -A[:2], 3.0 * A[2:3], np.zeros((1, 3)), A[:1]]),
        "rows_through_line_R3": np.vstack([B, rng.normal(size=(3, 3))]),
        "integer_grid_bias": grid,
        "integer_cube_R3": cube,  # 13 planes with normals in {-1,0,1}^3
        "integer_rows_R4": rng.integers(-1, 2, size=(11, 4)).astype(float),
        "rank3_in_R5": Z3 @ rng.integers(-2, 3, size=(3, 5)).astype(float),
        "rank2_in_R5_integer": (np.outer(Z3[:, 0], [1, 0, 2, 0, 1])
                                + np.outer(Z3[:, 1], [0, 1, 0, 1, 0])),
    }


DEGENERATE = _degenerate_cases()


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_count_equals_zaslavsky(name):
    X = DEGENERATE[name]
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == zaslavsky_count(X)  # + valid distinct witnesses => the exact set


@pytest.mark.parametrize("name", ["duplicates", "parallel_antiparallel", "zero_rows",
                                  "rows_through_line_R3", "all_together", "rank3_in_R5"])
def test_degenerate_set_equals_brute_force(name):
    X = DEGENERATE[name]
    nz = int(np.count_nonzero(np.any(X != 0, axis=1)))
    ref = brute_chambers(X) if nz <= 11 else incremental_chambers(X)
    assert sign_set(exact_chambers(X)) == sign_set(ref)


def test_many_rows_through_one_line_r4():
    # R^4: 9 hyperplanes through one common line (a degenerate line: recursion from r = 4 to 3)
    rng = np.random.default_rng(5)
    v = rng.normal(size=4)
    B = rng.normal(size=(9, 4))
    B -= np.outer(B @ v, v) / (v @ v)
    X = np.vstack([B, rng.normal(size=(3, 4))])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == zaslavsky_count(X)


@pytest.mark.parametrize("m", [3, 5, 8, 12])
def test_planar_grid_with_bias_equals_collinearity_count(m):
    """An m x m integer grid with a bias column: lines through many points everywhere (rank 3).
    Oracle: the exact collinearity count of oracles.planar_points_count (integer arithmetic)."""
    pts = [(i, j) for i in range(m) for j in range(m)]
    X = np.array([[i, j, 1.0] for i, j in pts])
    P = exact_chambers(X)
    assert P.p == planar_points_count(pts)
    if P.p <= 5000:
        check_chamber_list(X, P)


@pytest.mark.parametrize("seed", range(6))
def test_planar_lattice_points_rescaled_rotated(seed):
    """Random points of a small lattice (many collinear triples, duplicated points), rows rescaled
    by random signed factors (parallel / anti-parallel rows) and, for odd seeds, rotated by a random
    orthogonal map (then degenerate only up to rounding)."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(-3, 4, size=(int(rng.integers(12, 40)), 2))
    X = np.column_stack([pts, np.ones(len(pts))]).astype(float)
    X *= rng.choice([1.0, 2.0, 0.1, -1.0, -3.0], size=(len(X), 1))
    if seed % 2:
        X = X @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == planar_points_count(pts)


def test_rank_zero_and_rank_one():
    Z = np.zeros((3, 2))
    P = exact_chambers(Z)
    assert P.p == 1 and P.rank == 0 and np.all(P.D) and P.complete
    X = np.array([[1.0, -1.0], [0.0, 0.0], [-2.0, 2.0], [3.0, -3.0]])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == 2 and sign_set(P) == sign_set(brute_chambers(X))


INT_VECTORS = [np.array(v, float) for v in itertools.product([-2, -1, 0, 1, 2], repeat=4)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(2, 4), idx=st.lists(st.integers(0, len(INT_VECTORS) - 1), min_size=1,
                                         max_size=9),
       scales=st.lists(st.sampled_from([1.0, 2.0, -1.0, -3.0, 0.5, 0.1]), min_size=9, max_size=9))
def test_property_degenerate_integer_rows(d, idx, scales):
    """Rows drawn from a small set of integer vectors (so duplicates, (anti)parallel rows, zero
    rows, concurrent flats are frequent), rescaled by random positive/negative factors."""
    X = np.array([INT_VECTORS[i][:d] * scales[k] for k, i in enumerate(idx)])
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == zaslavsky_count(X)
    if X.shape[0] <= 6:
        assert sign_set(P) == sign_set(brute_chambers(X))


def test_standardized_grid_is_degenerate_up_to_rounding():
    # (x − mean)/std of an integer grid is collinear only up to rounding: still the same arrangement
    g = np.array([[i, j] for i in range(4) for j in range(3)], dtype=float)
    X0 = np.column_stack([g, np.ones(len(g))])
    gs = (g - g.mean(axis=0)) / g.std(axis=0)
    X1 = np.column_stack([gs, np.ones(len(g))])
    P0, P1 = exact_chambers(X0), exact_chambers(X1)
    check_chamber_list(X1, P1)
    assert P0.p == P1.p == zaslavsky_count(X0) == zaslavsky_count(X1)
    assert sign_set(P0) == sign_set(P1)


def test_rounding_level_parallel_rows_merge_and_others_do_not():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(5, 3))
    twins = A[:2] * (1.0 + 4 * np.finfo(float).eps)  # parallel up to rounding: same hyperplanes
    P = exact_chambers(np.vstack([A, twins]))
    assert P.p == oracle_cover(5, 3) and np.array_equal(P.D[5:], P.D[:2])
    near = A[:2] + 1e-9 * rng.normal(size=(2, 3))  # distinct (thin chambers, general position)
    X = np.vstack([A, near])
    Q = exact_chambers(X)
    check_chamber_list(X, Q)
    assert Q.p == oracle_cover(7, 3)


@pytest.mark.parametrize("r,delta", [(3, 1e-4), (3, 1e-7), (4, 1e-4), (4, 1e-6), (4, 1e-8)])
def test_near_duplicate_clusters(r, delta):
    """Clusters of 4 near-copies (distance delta) are in general position as floats, with very thin
    chambers and ill-conditioned line computations (decided by exact arithmetic). Distinct strict
    witnesses + count equal to Cover's maximum => exactly the set of all chambers."""
    rng = np.random.default_rng([r, int(-np.log10(delta))])
    X = np.repeat(rng.normal(size=(6, r)), 4, axis=0) + delta * rng.normal(size=(24, r))
    P = exact_chambers(X)
    check_chamber_list(X, P)
    assert P.p == oracle_cover(24, r)


def test_deterministic_and_row_permutation_consistent():
    X = DEGENERATE["all_together"]
    P1, P2 = exact_chambers(X), exact_chambers(X)
    assert np.array_equal(P1.D, P2.D) and np.array_equal(P1.witnesses, P2.witnesses)
    perm = np.random.default_rng(0).permutation(X.shape[0])
    Pp = exact_chambers(X[perm])
    assert {P1.D[perm, k].tobytes() for k in range(P1.p)} == sign_set(Pp)


def test_scale_invariance_and_tiny_data():
    X = gaussian_rank_r(12, 3, seed=2)
    ref = sign_set(exact_chambers(X))
    for c in (1e-150, 1e-8, 1e8, 1e150):
        P = exact_chambers(c * X)
        assert sign_set(P) == ref
    # anisotropic columns (whitening makes the tolerances scale-free)
    P = exact_chambers(X * np.array([1e-6, 1.0, 1e6, 1.0, 1.0]))
    assert P.p == oracle_cover(12, 3)


def test_witness_repair_and_failure():
    """The verification of the witnesses is live: useless witnesses are all repaired by the LP, and
    a sign vector that is not a chamber is refused (SolverError), not returned."""
    import hiddenconvex._arrangement as hp

    X = gaussian_rank_r(6, 3, d=3, seed=4)
    P = exact_chambers(X)
    red = hp._reduce(X)
    assert red.rank == 3 and np.array_equal(red.rep, np.arange(6))
    words = hp._pack(np.ascontiguousarray(P.D.T) ^ (red.orient < 0))  # row signs -> hyperplane bits
    D, W = hp._finish_chambers(X, red, words, np.zeros((P.p, 3)))
    Q = Patterns(D=D, witnesses=W, method="exact", complete=True, rank=red.rank)
    assert sign_set(Q) == sign_set(P)
    S = X @ Q.witnesses.T
    assert np.all(S * np.where(Q.D, 1, -1) > 0)
    # 6 generic planes in R^3 have 32 < 2^6 chambers: some sign vector is not a chamber
    missing = next(s for s in itertools.product([False, True], repeat=6)
                   if np.array(s).tobytes() not in sign_set(P))
    bad = hp._pack(np.array([missing]) ^ (red.orient < 0))
    with pytest.raises(SolverError):
        hp._finish_chambers(X, red, bad, np.zeros((1, 3)))


# --------------------------------------------------------------------------------------------------
# ≥-pattern set


@pytest.mark.parametrize("case", ["random53", "int63", "rank2_in_R4", "dup_anti"])
def test_ge_patterns_equal_brute_force(case):
    rng = np.random.default_rng(9)
    X = {
        "random53": rng.normal(size=(5, 3)),
        "int63": rng.integers(-1, 2, size=(6, 3)).astype(float),
        "rank2_in_R4": np.vstack([rng.normal(size=(4, 2)) @ rng.normal(size=(2, 4)),
                                  np.zeros((1, 4))]),
        "dup_anti": np.array([[1.0, 2.0], [-2.0, -4.0], [1.0, 2.0], [0.0, 1.0], [1.0, 0.0]]),
    }[case]
    G = exact_ge_patterns(X)
    assert sign_set(G) == brute_ge(X)
    assert G.p >= exact_chambers(X).p
    assert np.sum(np.all(G.D, axis=0)) == 1  # D = I (from u = 0) appears exactly once
    # every witness generates its pattern up to rounding on rows with x_j^T u = 0
    S = X @ G.witnesses.T
    tol = 1e-9 * np.linalg.norm(X, axis=1)[:, None]
    assert np.all(np.where(G.D, S >= -tol, S <= tol))
    assert enumerate_patterns(X, "exact", pattern_set="ge").p == G.p


def test_ge_refuses_large_arrangements():
    X = gaussian_rank_r(200, 4, seed=1)
    with pytest.raises(InputError, match="pattern_set='ge'"):
        exact_ge_patterns(X)
    with pytest.raises(InputError, match="ge"):
        enumerate_patterns(X, "sample", pattern_set="ge")


# --------------------------------------------------------------------------------------------------
# sampling


def test_sampling_reproducible_and_valid():
    X = DEGENERATE["all_together"]
    a = sample_patterns(X, 3000, seed=5)
    b = sample_patterns(X, 3000, seed=5)
    assert np.array_equal(a.D, b.D) and np.array_equal(a.witnesses, b.witnesses)
    assert a.method == "sample" and not a.complete and a.n_samples == 3000 and a.seed == 5
    assert a.rank == np.linalg.matrix_rank(X)
    exact = sign_set(brute_chambers(X))
    got = sign_set(a)
    assert len(got) == a.p and got <= exact  # deduplicated, every sampled pattern is a chamber
    # the gates produced the patterns, strictly inside
    S = X @ a.witnesses.T
    assert np.array_equal(S >= 0, a.D)
    nz = np.any(X != 0, axis=1)
    assert np.all(S[nz] != 0)
    assert a.D.any(axis=0).all()  # zero pattern never returned


def test_sampling_grows_to_exact_count():
    X = gaussian_rank_r(6, 3, d=3, seed=0)
    exact = sign_set(brute_chambers(X).nonzero())  # sampling drops D = 0 (a chamber here)
    counts, prev = [], set()
    for ns in (5, 50, 500, 5000, 50_000):
        s = sample_patterns(X, ns, seed=1)
        cur = sign_set(s)
        assert prev <= cur <= exact  # the gates of a smaller run are a prefix of a larger run's
        counts.append(s.p)
        prev = cur
    assert counts == sorted(counts)
    assert counts[-1] == len(exact)  # every chamber of this small case is hit


def test_sampling_drops_zero_pattern_and_seeds_differ():
    x = np.arange(5.0)
    X = np.column_stack([x, np.ones(5)])  # the zero pattern is a chamber here
    s = sample_patterns(X, 20_000, seed=0)
    assert s.p == 9 and s.D.any(axis=0).all()
    t = sample_patterns(X, 20, seed=1)
    u = sample_patterns(X, 20, seed=2)
    assert not np.array_equal(t.witnesses[:1], u.witnesses[:1])


def test_sampling_degenerate_grid_and_zero_rows():
    """Sampled patterns of a degenerate arrangement (3 x 3 grid + bias) are chambers (oracle count)
    and reach all nonzero chambers; zero rows are always active (so D = 0 never occurs there)."""
    pts = [(i, j) for i in range(3) for j in range(3)]
    X = np.array([[i, j, 1.0] for i, j in pts])
    exact = exact_chambers(X)
    assert exact.p == planar_points_count(pts)
    s = sample_patterns(X, 20_000, seed=0)
    assert sign_set(s) == sign_set(exact.nonzero())
    Xz = np.vstack([X, np.zeros((2, 3))])
    sz = sample_patterns(Xz, 20_000, seed=0)
    assert np.all(sz.D[-2:])
    # the chamber with every nonzero row inactive has D != 0 here (zero rows active): it is kept
    top = {sz.D[:-2, k].tobytes() for k in range(sz.p)}
    assert top == sign_set(s) | {np.zeros(9, bool).tobytes()}
    assert sz.p == s.p + 1 and sign_set(sz) == sign_set(exact_chambers(Xz))


# --------------------------------------------------------------------------------------------------
# auto, Cover bound, input validation


def test_auto_uses_the_limit():
    X = gaussian_rank_r(30, 3, seed=2)
    bound = oracle_cover(30, 3)
    assert cover_bound(X) == bound == cover_count(30, 3)
    P = enumerate_patterns(X, "auto", max_exact=bound)
    assert P.method == "exact" and P.complete and P.p == bound
    Q = enumerate_patterns(X, "auto", max_exact=bound - 1, n_samples=200, seed=3)
    assert Q.method == "sample" and not Q.complete and Q.n_samples == 200 and Q.seed == 3
    assert sign_set(Q) <= sign_set(P)
    R = enumerate_patterns(gaussian_rank_r(400, 3, seed=0), "auto", n_samples=300)
    assert R.method == "sample" and DEFAULT_MAX_EXACT < oracle_cover(400, 3)
    assert enumerate_patterns(X, "sample").n_samples == DEFAULT_N_SAMPLES


def test_cover_bound_uses_distinct_hyperplanes():
    X = DEGENERATE["parallel_antiparallel"]  # 4 distinct planes in R^3
    assert cover_bound(X) == oracle_cover(4, 3) >= exact_chambers(X).p


def test_cover_count_values():
    assert [cover_count(n, 3) for n in (1, 2, 3, 4, 6)] == [2, 4, 8, 14, 32]
    assert cover_count(400, 3) == 159_602 and cover_count(100, 4) == 323_600
    assert cover_count(5, 0) == 1
    assert all(cover_count(n, r) == oracle_cover(n, r) for n in range(1, 12) for r in range(1, 6))
    assert cover_count(3, 1) == 2 and math.comb(4, 2) == 6
    with pytest.raises(InputError):
        cover_count(-1, 2)


@pytest.mark.parametrize("bad", [np.array([[1.0, np.nan]]), np.array([[np.inf, 1.0]]),
                                 np.zeros((0, 3)), np.zeros((3, 0)), np.ones(3), [["a", "b"]],
                                 np.array([[1 + 1j, 0.0]])])
def test_bad_input(bad):
    for fn in (exact_chambers, exact_ge_patterns, lambda X: sample_patterns(X, 10, 0),
               enumerate_patterns):
        with pytest.raises(InputError):
            fn(bad)


@pytest.mark.parametrize("kwargs", [{"method": "magic"}, {"pattern_set": "gt"},
                                    {"method": "sample", "n_samples": 0},
                                    {"method": "sample", "n_samples": 2.5}, {"seed": -1},
                                    {"seed": 1.5}, {"max_exact": 0},
                                    {"method": "sample", "pattern_set": "ge"}])
def test_bad_parameters(kwargs):
    with pytest.raises(InputError):
        enumerate_patterns(np.eye(3), **kwargs)


# --------------------------------------------------------------------------------------------------
# cache


def test_cache_round_trip(tmp_path):
    X = DEGENERATE["all_together"]
    first = cached_patterns(X, "exact", cache_dir=tmp_path)
    assert not first.hit and Path(first.path).is_file()
    second = cached_patterns(X, "exact", cache_dir=tmp_path)
    assert second.hit and second.path == first.path
    for a, b in ((first.patterns, second.patterns),):
        assert np.array_equal(a.D, b.D) and np.array_equal(a.witnesses, b.witnesses)
        assert (a.method, a.complete, a.rank, a.pattern_set, a.n_samples, a.seed) == \
               (b.method, b.complete, b.rank, b.pattern_set, b.n_samples, b.seed)
    with np.load(first.path, allow_pickle=False) as z:  # readable without pickle
        assert {"Dt_packed", "witnesses", "key"} <= set(z.files)
        assert all(z[f].dtype != object for f in z.files)
    s1 = cached_patterns(X, "sample", n_samples=100, seed=4, cache_dir=tmp_path)
    s2 = cached_patterns(X, "sample", n_samples=100, seed=4, cache_dir=tmp_path)
    assert not s1.hit and s2.hit and s2.patterns.n_samples == 100 and s2.patterns.seed == 4
    assert np.array_equal(s1.patterns.D, s2.patterns.D)
    assert cached_patterns(X, "sample", n_samples=100, seed=5, cache_dir=tmp_path).hit is False
    assert not second.patterns.D.flags.writeable and not second.patterns.witnesses.flags.writeable
    # exact results do not depend on the seed: same key; the default sample size is spelled out
    assert cache_key(X, "exact", seed=1) == cache_key(X, "exact", seed=2)
    assert cache_key(X, "exact") != cache_key(X + 1e-9, "exact")
    assert cache_key(X, "sample") == cache_key(X, "sample", n_samples=DEFAULT_N_SAMPLES)
    assert cache_key(X, "auto", max_exact=10) != cache_key(X, "auto", max_exact=11)
    assert cache_key(X, "exact") != cache_key(X, "exact", pattern_set="ge")
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())  # atomic writes


@pytest.mark.parametrize("corruption", ["garbage", "truncated", "empty", "tampered", "wrong_key",
                                        "old_format", "other_data"])
def test_corrupt_cache_file_is_ignored(tmp_path, corruption):
    X = gaussian_rank_r(8, 3, seed=1)
    res = cached_patterns(X, "exact", cache_dir=tmp_path)
    path = Path(res.path)
    raw = path.read_bytes()
    key = cache_key(X, "exact")
    if corruption == "garbage":
        path.write_bytes(b"\x00not a zip file" * 10)
    elif corruption == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif corruption == "empty":
        path.write_bytes(b"")
    elif corruption == "tampered":  # a valid npz whose patterns no longer match their witnesses
        P = res.patterns
        D = np.array(P.D)
        D[0] = ~D[0]
        save_patterns(key, Patterns(D, P.witnesses, "exact", True, P.rank), tmp_path)
    elif corruption == "wrong_key":
        save_patterns(cache_key(X, "sample", n_samples=5), res.patterns, tmp_path)
        os.replace(tmp_path / f"patterns-{cache_key(X, 'sample', n_samples=5)}.npz", path)
    elif corruption == "old_format":
        with np.load(path, allow_pickle=False) as z:
            arrays = {f: z[f] for f in z.files}
        arrays["format"] = np.array(1)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    elif corruption == "other_data":  # right key, but the list of another X (same shape)
        save_patterns(key, exact_chambers(gaussian_rank_r(8, 3, seed=2)), tmp_path)
    assert load_patterns(key, X, tmp_path) is None
    again = cached_patterns(X, "exact", cache_dir=tmp_path)
    assert not again.hit and np.array_equal(again.patterns.D, res.patterns.D)
    assert cached_patterns(X, "exact", cache_dir=tmp_path).hit  # rewritten


def test_cache_directory_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / ".cache" / "hiddenconvex" / "patterns"
    res = cached_patterns(np.eye(3), "exact")
    assert Path(res.path).parent == tmp_path / ".cache" / "hiddenconvex" / "patterns"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    res = cached_patterns(np.eye(3), "exact")
    assert Path(res.path).parent == tmp_path / "env"
    res = cached_patterns(np.eye(3), "exact", cache_dir=tmp_path / "arg")
    assert Path(res.path).parent == tmp_path / "arg"
    off = cached_patterns(np.eye(2), "exact", use_cache=False)
    assert off.path is None and not off.hit and off.patterns.p == 4


def test_cache_unwritable_directory_warns(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = cached_patterns(np.eye(2), "exact", cache_dir=blocker / "sub")
    assert res.patterns.p == 4 and res.path is None and res.warning


# --------------------------------------------------------------------------------------------------
# CLI


def _write_csv(path, X, y=None, header=None):
    n, d = X.shape
    header = header or [f"x{i}" for i in range(d)] + ["y"]
    y = np.zeros(n) if y is None else y
    lines = [",".join(header)]
    lines += [",".join(f"{v:.17g}" for v in [*row, t]) for row, t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_json_exact_and_sample(tmp_path, capsys):
    X = gaussian_rank_r(12, 3, d=3, seed=6)
    csv = _write_csv(tmp_path / "data.csv", X)
    cache = tmp_path / "cache"
    rc = main(["patterns", str(csv), "--method", "exact", "--json", "--cache-dir", str(cache)])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(out) == 1
    rec = json.loads(out[0])
    for key in ("n", "d", "rank", "method", "num_patterns", "complete", "seconds", "cache_hit",
                "samples", "seed"):
        assert key in rec
    assert (rec["n"], rec["d"], rec["rank"], rec["method"], rec["complete"]) == \
           (12, 3, 3, "exact", True)
    assert rec["num_patterns"] == oracle_cover(12, 3) and rec["cache_hit"] is False
    main(["patterns", str(csv), "--method", "exact", "--json", "--cache-dir", str(cache)])
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True
    rc = main(["patterns", str(csv), "--method", "sample", "--samples", "50", "--seed", "3",
               "--json", "--no-cache"])
    rec = json.loads(capsys.readouterr().out)
    assert rc == 0 and rec["method"] == "sample" and rec["complete"] is False
    assert rec["samples"] == 50 and rec["seed"] == 3 and 0 < rec["num_patterns"] <= 50
    # --bias appends the ones column (d + 1), auto picks exact below the limit
    rc = main(["patterns", str(csv), "--bias", "--json", "--no-cache"])
    rec = json.loads(capsys.readouterr().out)
    assert rec["d"] == 4 and rec["method"] == "exact" and rec["num_patterns"] == oracle_cover(12, 4)
    rc = main(["patterns", str(csv), "--json", "--no-cache", "--max-exact", "10"])
    assert json.loads(capsys.readouterr().out)["method"] == "sample"
    rc = main(["patterns", str(csv), "--no-cache"])  # table output
    assert rc == 0 and "num_patterns" in capsys.readouterr().out


BAD_CSV = {
    "non_numeric": ("x0,y\n1,abc\n2,3\n", "non-numeric value 'abc' in column 'y', data row 1"),
    "nan": ("x0,y\n1,nan\n2,3\n", "non-finite value 'nan' in column 'y', data row 1"),
    "inf": ("x0,y\n1,2\n-inf,3\n", "non-finite value '-inf' in column 'x0', data row 2"),
    "overflow": ("x0,y\n1e999,2\n", "non-finite value '1e999'"),
    "empty_cell": ("x0,y\n1,\n2,3\n", "missing value in column 'y', data row 1"),
    "short_row": ("x0,x1,y\n1,2\n3,4,5\n", "missing value in column 'y', data row 1"),
    "long_row": ("x0,y\n5,1,2\n6,2,3\n", "Expected 2 fields in line 2, saw 3"),
    "empty_file": ("", "data file is empty"),
    "blank_file": ("\n\n", "data file is empty"),
    "header_only": ("x0,y\n", "header but no rows"),
    # (no "y" column: `patterns` now takes every column as a feature, issue 12 part 2; that and
    # an explicit --target naming a missing column are tested in tests/test_cli_inputs.py)
    "only_target": ("y\n1\n", "no feature columns"),
    "unnamed_column": (",x0,y\n0,1,2\n", "empty column name"),
    "duplicate_column": ("x0,x0,y\n1,2,3\n", "duplicate column name 'x0'"),
    "not_utf8": (b"x0,y\n\xff\xfe\x00\x81,1\n", "cannot read"),
    "missing_file": (None, "data file not found"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_cli_bad_csv_exit_2(tmp_path, capsys, case):
    content, needle = BAD_CSV[case]
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    rc = main(["patterns", str(path), "--json", "--no-cache"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith("hiddenconvex patterns: error: ")
    assert needle in lines[0] and "bad.csv" in lines[0]  # names the problem and the file


def test_cli_unreadable_path_and_bad_options(tmp_path, capsys, monkeypatch):
    assert main(["patterns", str(tmp_path), "--no-cache"]) == 2  # a directory
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "directory" in err[0]
    csv = _write_csv(tmp_path / "d.csv", np.eye(3))
    for opts in (["--samples", "0"], ["--seed", "-2"], ["--max-exact", "0"]):
        assert main(["patterns", str(csv), "--no-cache", *opts]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and opts[0] in err[0]
    # an unreadable file (permissions cannot be tested as root: simulate the OS error)
    import pandas as pd

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_csv", denied)
    assert main(["patterns", str(csv), "--no-cache"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read" in err[0] and "Permission denied" in err[0]


def test_load_csv_valid_variants(tmp_path):
    from hiddenconvex.experiments.datasets import load_csv

    path = tmp_path / "ok.csv"
    path.write_bytes("\ufefftarget, a ,b\n1, 2,3\n-1,4.5e0 ,  6\n\n0,-0,7\n".encode())
    ds = load_csv(path, target="target", bias=True)
    assert ds.features == ("a", "b", "(bias)") and ds.name == "ok"
    np.testing.assert_array_equal(ds.X, [[2, 3, 1], [4.5, 6, 1], [0, 7, 1]])
    np.testing.assert_array_equal(ds.y, [1, -1, 0])
    assert ds.meta == {"path": str(path), "target": "target", "bias": True}
    with pytest.raises(InputError, match="target column 'y' not found"):
        load_csv(path)


def test_cli_subprocess_entry_point(tmp_path):
    csv = _write_csv(tmp_path / "d.csv", np.array([[0.0], [1.0], [2.0], [3.0]]))
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "hiddenconvex.cli", "patterns", str(csv),
                           "--bias", "--json"], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["num_patterns"] == 8 and rec["complete"] is True  # SPEC §3.1: 1-D with bias: 2n
    bad = subprocess.run([sys.executable, "-m", "hiddenconvex.cli", "patterns",
                          str(tmp_path / "missing.csv")], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


# --------------------------------------------------------------------------------------------------
# slow: larger randomized stress tests (make test-slow)


@pytest.mark.slow
def test_slow_random_degenerate_configurations_vs_zaslavsky():
    """300 seeded configurations: rows drawn from small integer sets in R^2..R^5, rescaled by
    random factors (duplicates, (anti)parallel rows), sometimes mapped to R^(d+2) (rank deficient)
    or padded with zero rows."""
    rng = np.random.default_rng(123)
    checked = 0
    for _ in range(300):
        d = int(rng.integers(2, 6))
        vals = [-1, 0, 1] if d >= 4 else [-2, -1, 0, 1, 2]
        pool = np.array([p for p in itertools.product(vals, repeat=d) if any(p)], dtype=float)
        k = int(rng.integers(3, 14))
        base = pool[rng.choice(len(pool), k, replace=False)]
        X = base[rng.integers(0, k, size=int(rng.integers(k, 3 * k)))]
        X = X * rng.choice([1.0, -1.0, 2.0, -0.5, 3.0, 0.1], size=(len(X), 1))
        if rng.random() < 0.3:
            X = X @ rng.integers(-2, 3, size=(d, d + 2)).astype(float)
        if rng.random() < 0.2:
            X = np.vstack([X, np.zeros((2, X.shape[1]))])
        P = exact_chambers(X)
        check_chamber_list(X, P)
        assert P.p == zaslavsky_count(X)
        checked += 1
    assert checked == 300


@pytest.mark.slow
@pytest.mark.parametrize("n,r", [(50, 5), (200, 4), (800, 3)])
def test_slow_cover_count_large(n, r):
    X = gaussian_rank_r(n, r, seed=5)
    P = exact_chambers(X)
    assert P.p == oracle_cover(n, r)
    for c0 in range(0, P.p, 20_000):
        S = X @ P.witnesses[c0:c0 + 20_000].T
        assert np.all(np.where(P.D[:, c0:c0 + 20_000], S, -S) > 0)
    assert np.unique(np.packbits(P.D, axis=0).T, axis=0).shape[0] == P.p


@pytest.mark.slow
def test_slow_planar_grid_20x20():
    """400 grid points + bias (97,870 chambers, thousands of lines through 3..20 points)."""
    pts = [(i, j) for i in range(20) for j in range(20)]
    X = np.array([[i, j, 1.0] for i, j in pts])
    P = exact_chambers(X)
    assert P.p == planar_points_count(pts)
    for c0 in range(0, P.p, 20_000):
        S = X @ P.witnesses[c0:c0 + 20_000].T
        assert np.all(np.where(P.D[:, c0:c0 + 20_000], S, -S) > 0)
    assert np.unique(np.packbits(P.D, axis=0).T, axis=0).shape[0] == P.p


@pytest.mark.parametrize("X, p", [
    ([[1e5, 0.0], [1e5, -1e-10]], 2),       # independent only at rounding level: one hyperplane
    ([[1.0, 0.0], [1.0, -1e-15]], 2),
    ([[1.0, 0.0, 0.0], [1.0, -1e-15, 0.0], [0.0, 0.0, 1.0]], 4),
    ([[1.0, 0.0], [1.0, -1e-6]], 4),        # clearly two hyperplanes
])
def test_rows_parallel_up_to_rounding_merge_consistently(X, p):
    """The rank test and the parallel-row merge must agree: rows merged as one hyperplane give the
    chambers of the merged arrangement (before: a rank-2 sweep over one line divided by zero)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = exact_chambers(np.array(X))
    assert P.p == p and np.unique(P.D, axis=1).shape[1] == p
    S = np.where(P.D, 1.0, -1.0)
    Xa = np.array(X)
    assert np.all(np.sign(Xa @ P.witnesses.T) == S)  # witnesses strictly inside their chambers
