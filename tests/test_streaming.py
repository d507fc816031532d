"""Tests of the streaming exact chamber enumerator (``patterns.iter_chambers``, ``count_chambers``,
the canonical-ray method of ``hiddenconvex._canonical_rays``) and of ``exact_chambers`` built on it.

What must hold, on every data set (helper ``check_stream``):
* the union of the chunks is the set of chambers of a reference, as a set of columns, and every
  chamber is streamed exactly once (no column twice);
* every witness is verified here, with numpy, in the original coordinates: sign(x_j^T u) is the
  pattern on every nonzero row with the relative margin the enumerator promises,
  |x_j^T u| > 32·d·eps·‖x_j‖‖u‖ (``_margin_tol``: a sign beyond the rounding of the product);
* zero rows are always active, witnesses lie in row(X), chunks have at most ``chunk`` columns;
* ``count_chambers`` gives the same number.

References. Independent of the package: Cover's formula (generic data), Zaslavsky's formula, the
brute-force and incremental LP oracles and the integer collinearity count for planar grids with a
bias (``tests/oracles.py``). A second algorithm of the package (not independent: it shares the
reduction and the line decisions ``_lines``, but selects chambers differently — all candidates at
all lines, then a global dedupe): the extreme-ray method (:func:`extreme_ray_chambers`, what
``exact_chambers`` computed before it used the stream).
"""

from __future__ import annotations

import itertools
import math
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from oracles import (
    brute_chambers,
    incremental_chambers,
    planar_points_count,
    sign_set,
    zaslavsky_count,
)
from oracles import cover_count as oracle_cover

from hiddenconvex import InputError, Patterns, SolverError
from hiddenconvex import _canonical_rays as cr
from hiddenconvex._arrangement import _finish_chambers, _reduce
from hiddenconvex._chamber_fingerprints import _fingerprints
from hiddenconvex._extreme_rays import _essential_chambers
from hiddenconvex._linalg import _mm, pow2_scaled
from hiddenconvex.patterns import count_chambers, exact_chambers, iter_chambers

EPS = np.finfo(float).eps
DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> np.ndarray:
    df = pd.read_csv(DATA / name)
    return df.drop(columns=[c for c in df.columns if c == "y"]).to_numpy(float)


def extreme_ray_chambers(X) -> Patterns:
    """The extreme-ray method (``_essential_chambers`` + ``_finish_chambers``): every candidate sign
    vector at every line, deduplicated globally, sorted lexicographically, witnesses verified."""
    X = pow2_scaled(np.asarray(X, dtype=float))[0]
    red = _reduce(X)
    words, wit = _essential_chambers(red.H, red.rank)
    D, W = _finish_chambers(X, red, words, wit)
    return Patterns(D=D, witnesses=W, method="exact", complete=True, rank=red.rank)


def packed_columns(D: np.ndarray) -> np.ndarray:
    """Columns of a bool (n, p) matrix as sortable byte strings (p,)."""
    P = np.packbits(np.ascontiguousarray(D.T), axis=1)
    return P.view(np.dtype((np.void, P.shape[1]))).ravel()


def collect(X, chunk=65536, **kw):
    """All chunks of the private stream (``directions``/``stats`` need it), concatenated."""
    Ds, Ws, sizes = [], [], []
    st = {}
    for D, W in cr.iter_chambers(X, chunk=chunk, stats=st, **kw):
        assert D.dtype == bool and D.shape[0] == X.shape[0] and W.shape == (D.shape[1], X.shape[1])
        assert D.flags.f_contiguous
        sizes.append(D.shape[1])
        Ds.append(D)
        Ws.append(W)
    if not Ds:
        return np.zeros((X.shape[0], 0), bool), np.zeros((0, X.shape[1])), sizes, st
    return np.concatenate(Ds, axis=1), np.concatenate(Ws), sizes, st


def check_witnesses(X, D, W):
    X = np.asarray(X, float)
    nz = np.any(X != 0, axis=1)
    assert np.all(D[~nz]), "zero rows must be active"
    if not nz.any():
        return
    S = X[nz] @ W.T
    s = np.where(D[nz], 1.0, -1.0)
    scale = np.linalg.norm(X[nz], axis=1)[:, None] * np.linalg.norm(W, axis=1)[None, :]
    # the promised relative margin is 32·d·eps (module docstring); S itself is rounded here by at
    # most d·eps relative, which the factor 32 leaves room for only if we test at 31·d·eps
    tol = 31.0 * X.shape[1] * EPS
    assert np.all(S * s > tol * scale), "a witness is not strictly inside its chamber"
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, rtol=0, atol=16 * EPS)
    r = np.linalg.matrix_rank(X)
    if 0 < r < X.shape[1]:
        null = np.linalg.svd(X)[2][r:]
        # lifted by an orthonormal V_r and normalized: the null-space part is rounding, ≤ 64 d eps
        assert np.max(np.abs(W @ null.T)) < 64 * X.shape[1] * EPS, "witnesses must lie in row(X)"


def check_stream(X, chunk=65536, reference=True, **kw):
    """The stream's set equals the extreme-ray method's set, each chamber once; witnesses
    verified; count_chambers agrees."""
    X = np.asarray(X, float)
    D, W, sizes, st = collect(X, chunk=chunk, **kw)
    assert all(0 < s <= chunk for s in sizes)
    check_witnesses(X, D, W)
    cols = packed_columns(D)
    uniq = np.unique(cols)
    assert uniq.size == cols.size, "a chamber was streamed twice"
    if reference:
        ref = extreme_ray_chambers(X)
        assert D.shape[1] == ref.p
        assert np.array_equal(uniq, np.unique(packed_columns(ref.D))), "sets differ"
    assert cr.count_chambers(X, **kw) == D.shape[1]
    return D, W, st


def gaussian_rank_r(n, r, d, seed):
    rng = np.random.default_rng([seed, n, r, d])
    Q = np.linalg.qr(rng.standard_normal((d, r)))[0]
    return rng.standard_normal((n, r)) @ Q.T


# --------------------------------------------------------------------------------------------------
# generic data: Cover's count


@pytest.mark.parametrize("d", [2, 3, 4, 5])
@pytest.mark.parametrize("n", [1, 3, 7, 25, 60])
def test_gaussian_equals_extreme_rays_and_cover(n, d):
    if d == 5 and n == 60:
        n = 40  # 2·Σ_{k<5} C(39, k) = 182,362 chambers: enough
    X = np.random.default_rng([n, d]).standard_normal((n, d))
    D, _, _ = check_stream(X, chunk=4096)
    assert D.shape[1] == (oracle_cover(n, d) if n >= d else 2 ** n)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_chunk_sizes_do_not_change_the_set(chunk):
    X = np.random.default_rng(3).standard_normal((14, 4))
    D, _, _ = check_stream(X, chunk=chunk)
    assert D.shape[1] == oracle_cover(14, 4)


def test_chunks_are_full_but_the_last():
    """The public stream cuts the chambers into chunks of exactly ``chunk`` (the last: the rest)."""
    X = np.random.default_rng(5).standard_normal((20, 3))
    sizes = [D.shape[1] for D, _ in iter_chambers(X, chunk=50)]
    p = oracle_cover(20, 3)
    assert sum(sizes) == p and sizes == [50] * (p // 50) + ([p % 50] if p % 50 else [])


@pytest.mark.parametrize("n,r,d", [(12, 2, 5), (20, 3, 6), (18, 4, 7), (9, 1, 3)])
def test_rank_deficient(n, r, d):
    X = gaussian_rank_r(n, r, d, seed=1)
    D, _, _ = check_stream(X)
    assert D.shape[1] == oracle_cover(n, r)


def test_zero_matrix_and_single_row():
    D, W, _ = check_stream(np.zeros((3, 2)))
    assert D.shape[1] == 1 and np.all(D)
    D, _, _ = check_stream(np.array([[1.0, -2.0, 0.5]]))
    assert D.shape[1] == 2


@pytest.mark.parametrize("seed", range(3))
def test_random_small_equal_brute_force(seed):
    """n ≤ 10 in R^3 and R^4: the set is the brute-force LP set over all 2^n sign vectors."""
    rng = np.random.default_rng([7, seed])
    X = rng.standard_normal((8 + seed, 3 + seed % 2))
    D, _, _, _ = collect(X)
    assert {D[:, k].tobytes() for k in range(D.shape[1])} == sign_set(brute_chambers(X))


def test_moderate_equals_incremental_lp():
    """n = 12, r = 4 with a bias column and duplicated rows: the incremental LP oracle."""
    rng = np.random.default_rng(12)
    A = rng.standard_normal((10, 3))
    X = np.column_stack([np.vstack([A, A[:2]]), np.ones(12)])
    D, _, _, _ = collect(X)
    assert {D[:, k].tobytes() for k in range(D.shape[1])} == sign_set(incremental_chambers(X))


# --------------------------------------------------------------------------------------------------
# degenerate data


def degenerate_cases():
    rng = np.random.default_rng(11)
    A = rng.normal(size=(4, 3))
    v = np.array([1.0, 1.0, 1.0])
    B = rng.normal(size=(7, 3))
    B -= np.outer(B @ v, v) / 3.0  # 7 planes through the line R v
    cube = np.array([p for p in itertools.product([-1, 0, 1], repeat=3) if p > (0, 0, 0)], float)
    Z3 = rng.integers(-2, 3, size=(10, 3)).astype(float)
    w = rng.normal(size=4)
    C9 = rng.normal(size=(9, 4))
    C9 -= np.outer(C9 @ w, w) / (w @ w)  # R^4: 9 hyperplanes through one line
    return {
        "duplicates": np.vstack([A, A[:2], A[1:2]]),
        "parallel_antiparallel": np.vstack([A, 2.0 * A[:2], -A[1:3], -0.3 * A[3:], 7.0 * A[:1]]),
        "zero_rows": np.vstack([np.zeros((1, 3)), A, np.zeros((2, 3))]),
        "all_together": np.vstack([A, -A[:2], 3.0 * A[2:3], np.zeros((1, 3)), A[:1]]),
        "rows_through_line_R3": np.vstack([B, rng.normal(size=(3, 3))]),
        "integer_cube_R3": cube,
        "integer_rows_R4": rng.integers(-1, 2, size=(11, 4)).astype(float),
        "rank3_in_R5": Z3 @ rng.integers(-2, 3, size=(3, 5)).astype(float),
        "rank2_in_R5_integer": (np.outer(Z3[:, 0], [1, 0, 2, 0, 1])
                                + np.outer(Z3[:, 1], [0, 1, 0, 1, 0])),
        "nine_through_a_line_R4": np.vstack([C9, rng.normal(size=(3, 4))]),
    }


DEGENERATE = degenerate_cases()


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_equals_extreme_rays_and_zaslavsky(name):
    X = DEGENERATE[name]
    D, _, _ = check_stream(X)
    assert D.shape[1] == zaslavsky_count(X)


@pytest.mark.parametrize("name", ["duplicates", "parallel_antiparallel", "zero_rows",
                                  "all_together"])
def test_degenerate_equals_brute_force(name):
    X = DEGENERATE[name]
    D, _, _, _ = collect(X)
    assert {D[:, k].tobytes() for k in range(D.shape[1])} == sign_set(brute_chambers(X))


@pytest.mark.parametrize("m", [3, 5, 8, 12])
def test_planar_grid_with_bias(m):
    """m x m integer grid with a bias column: lines through many points (rank 3)."""
    pts = [(i, j) for i in range(m) for j in range(m)]
    X = np.array([[i, j, 1.0] for i, j in pts])
    D, _, st = check_stream(X)
    assert D.shape[1] == planar_points_count(pts)
    assert st["degenerate_lines"] > 0  # the degenerate-line path was exercised


@pytest.mark.parametrize("m", [3, pytest.param(4, marks=pytest.mark.slow)])
def test_cubic_grid_with_bias(m):
    """m^3 integer grid with a bias column: rank 4, planes and lines through many points."""
    X = np.array([[i, j, k, 1.0] for i, j, k in itertools.product(range(m), repeat=3)])
    _, _, st = check_stream(X)
    assert st["degenerate_lines"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_rescaled_rotated_lattice(seed):
    """Lattice points with a bias, rows rescaled by signed factors (parallel / anti-parallel
    rows), rotated for odd seeds (then degenerate only up to rounding)."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(-3, 4, size=(int(rng.integers(12, 40)), 2))
    X = np.column_stack([pts, np.ones(len(pts))]).astype(float)
    X *= rng.choice([1.0, 2.0, 0.1, -1.0, -3.0], size=(len(X), 1))
    if seed % 2:
        X = X @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    D, _, _ = check_stream(X)
    assert D.shape[1] == planar_points_count(pts)


def test_standardized_grid():
    g = np.array([[i, j] for i in range(4) for j in range(3)], dtype=float)
    gs = (g - g.mean(axis=0)) / g.std(axis=0)
    X = np.column_stack([gs, np.ones(len(g))])
    D, _, _ = check_stream(X)
    assert D.shape[1] == zaslavsky_count(np.column_stack([g, np.ones(len(g))]))


# --------------------------------------------------------------------------------------------------
# ties: a non-generic test direction must not change the set (exact lexicographic tie-break)


@pytest.mark.parametrize("name", ["integer_cube_R3", "integer_rows_R4", "nine_through_a_line_R4"])
@pytest.mark.parametrize("dirs", ["identity", "triangular"])
def test_structured_directions_break_ties_exactly(name, dirs):
    X = DEGENERATE[name]
    r = np.linalg.matrix_rank(X)
    B = np.eye(r) if dirs == "identity" else np.tril(np.ones((r, r)))
    _, _, st = check_stream(X, directions=B)
    if name != "nine_through_a_line_R4":  # integer data: the identity gives exact ties
        assert st["exact_ties"] > 0


def test_structured_directions_on_grids():
    X = np.array([[i, j, k, 1.0] for i, j, k in itertools.product(range(3), repeat=3)])
    _, _, st = check_stream(X, directions=np.eye(4))
    assert st["exact_ties"] > 0
    pts = [(i, j) for i in range(6) for j in range(6)]
    X = np.array([[i, j, 1.0] for i, j in pts])
    D, _, _ = check_stream(X, directions=np.eye(3))
    assert D.shape[1] == planar_points_count(pts)


def test_directions_are_validated():
    X = np.random.default_rng(0).standard_normal((6, 3))
    with pytest.raises(ValueError):
        list(cr.iter_chambers(X, directions=np.ones((3, 3))))


# --------------------------------------------------------------------------------------------------
# the public API


def test_public_arguments_are_checked_at_the_call():
    X = np.random.default_rng(0).standard_normal((6, 3))
    for bad in (0, -3, 2.5, "8"):
        with pytest.raises(InputError, match="chunk"):
            iter_chambers(X, chunk=bad)  # raised before iterating
    for badX in (np.array([[np.nan, 1.0]]), np.zeros((0, 3)), [1.0, 2.0]):
        with pytest.raises(InputError):
            iter_chambers(badX)
        with pytest.raises(InputError):
            count_chambers(badX)


@pytest.mark.parametrize("name", ["integer_rows_R4", "rows_through_line_R3", "zero_rows"])
def test_count_chambers_public(name):
    X = DEGENERATE[name]
    assert count_chambers(X) == zaslavsky_count(X) == sum(D.shape[1] for D, _ in iter_chambers(X))


@pytest.mark.parametrize("X", [
    np.random.default_rng(1).standard_normal((25, 4)),
    np.random.default_rng(2).standard_normal((30, 2)),
    gaussian_rank_r(15, 3, 6, seed=2),
    DEGENERATE["all_together"],
    DEGENERATE["nine_through_a_line_R4"],
    np.array([[i, j, 1.0] for i in range(5) for j in range(5)]),
    np.zeros((2, 3)),
], ids=["gauss25x4", "gauss30x2", "rank3_in_R6", "all_together", "nine_line", "grid5", "zero"])
def test_exact_chambers_contract_equals_the_extreme_ray_method(X):
    """exact_chambers (from the stream) = the extreme-ray method column by column, in the same
    lexicographic order; witnesses verified; read-only, Fortran-ordered, closed under negation."""
    P = exact_chambers(X)
    ref = extreme_ray_chambers(X)
    assert np.array_equal(P.D, ref.D)  # same columns in the same order
    assert (P.method, P.complete, P.rank, P.pattern_set) == ("exact", True, ref.rank, "chamber")
    assert P.D.flags.f_contiguous and not P.D.flags.writeable and not P.witnesses.flags.writeable
    check_witnesses(X, P.D, P.witnesses)
    cols = [tuple(P.D[:, k].tolist()) for k in range(P.p)]
    assert all(a < b for a, b in zip(cols[:-1], cols[1:], strict=True)), "not lexicographic"


@pytest.mark.parametrize("name", ["gauss", "rows_through_line_R3", "integer_cube_R3"])
def test_witness_facets_equal_combinatorial_facets(name):
    """The stream's witnesses lie near an extreme ray, not centred: the Qhull facets computed
    from them (tests/oracles.qhull_facets) are still the true facets, which for distinct
    hyperplanes are combinatorial: row j is a facet of chamber s iff s with s_j flipped is a
    chamber."""
    from oracles import qhull_facets

    X = np.random.default_rng(9).standard_normal((12, 3)) if name == "gauss" else DEGENERATE[name]
    P = exact_chambers(X)
    chambers = sign_set(P)
    F = np.zeros(P.D.shape, dtype=bool)
    for k in range(P.p):
        for j in range(P.n):
            s = P.D[:, k].copy()
            s[j] = ~s[j]
            F[j, k] = s.tobytes() in chambers
    assert np.array_equal(qhull_facets(X, P.D, P.witnesses), F)


# --------------------------------------------------------------------------------------------------
# the repository's data sets


@pytest.mark.parametrize("name", ["default.csv", "teacher_2d.csv", "low_rank.csv",
                                  "iris_pca2.csv", "wine_pca2.csv"])
def test_repository_datasets(name):
    X = load(name)
    check_stream(X)
    check_stream(np.column_stack([X, np.ones(len(X))]))


def test_iris_count():
    """iris features (150 x 4, no bias): 1,080,590 chambers (the count of the extreme-ray method,
    checked set-wise in the slow test below)."""
    assert count_chambers(load("iris.csv")) == 1_080_590


@pytest.mark.slow
def test_iris_all_1080590_chambers_once():
    X = load("iris.csv")
    D, _, _ = check_stream(X)
    assert D.shape[1] == 1_080_590


def test_iris_memory_is_bounded_by_the_chunk():
    """Peak of the Python/numpy allocations while streaming iris (1.08 M chambers, 162 MB as one
    pattern matrix) in chunks of 8192: a few chunk buffers, independent of the count."""
    X = load("iris.csv")
    chunk = 8192
    count_chambers(X[:20])  # load the kernels outside the measurement
    tracemalloc.start()
    try:
        n = 0
        for D, _ in iter_chambers(X, chunk=chunk):
            n += D.shape[1]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_chunk = chunk * (X.shape[0] + 8 * X.shape[1] + 1)
    assert n == 1_080_590
    # output buffer, carried rows and one pending copy (≤ 3 chunk buffers, module docstring),
    # with 2x headroom, plus 8 MB for the deferred-subset buffers and work arrays
    assert peak < 6 * per_chunk + (8 << 20), f"peak {peak / 1e6:.1f} MB"


def iris_bias(rows=slice(None)) -> np.ndarray:
    """Rows of iris (data/iris.csv, standardized features) with a ones column: (m, 5)."""
    X = load("iris.csv")[rows]
    return np.column_stack([X, np.ones(len(X))])


#: Chambers of iris + bias by the other design: every candidate sign vector at every line,
#: deduplicated globally (``count_chambers_dedupe``: 2 x the distinct 128-bit fingerprints of the
#: pairs {K, −K} of 628,219,180 candidates; independent of the canonical test; 33 minutes and
#: 5 GB on this machine with a bucketed dedupe, so pinned). The stream yields 39,346,636 columns
#: today (158 repeat another, 90 of these chambers are missing).
IRIS_BIAS_CHAMBERS = 39_346_568


class InconsistentChambers(AssertionError):
    """A chamber streamed twice, or one missing (its negation streamed): the known bug of
    near-concurrent data on which the determinant rule's zero sets are inconsistent
    (:data:`IRIS_INCONSISTENT_ROWS`). Tests that meet it are marked
    ``xfail(strict=True, raises=InconsistentChambers)``: every other assertion in them must
    hold, and they fail loudly once the bug is fixed."""


#: The marker of those tests.
KNOWN_INCONSISTENT = pytest.mark.xfail(
    strict=True, raises=InconsistentChambers,
    reason="known bug: inconsistent zero sets of the determinant rule on near-concurrent rows "
           "make the raw stream (check_consistency=False) repeat some chambers and miss others; "
           "the public stream refuses such data")


def check_witnesses_lean(X, D, W):
    """:func:`check_witnesses` with one product per chunk, for the 39 M chambers of iris + bias
    (no zero rows): margins (x_j/‖x_j‖)^T u > 29·d·eps on every row, unit norms. The promised
    margin is 32·d·eps; the margins here carry the product's rounding (γ_d Σ|x||u| ≤ d·eps
    relative, Cauchy–Schwarz), that of 1/‖x_j‖ (≤ (d/2 + 2)·eps) and of the scaling (eps):
    (1.5d + 3)·eps ≤ 3·d·eps of slack for d ≥ 2."""
    assert np.all(np.any(X != 0, axis=1))
    S = _mm(W, np.ascontiguousarray(X.T))  # (c, n), single-threaded blocks
    S *= 1.0 / np.linalg.norm(X, axis=1)[None, :]
    assert np.array_equal(S > 0, D.T), "a witness does not generate its pattern"
    np.abs(S, out=S)
    assert S.min() > 29.0 * X.shape[1] * EPS, "a witness is not strictly inside its chamber"
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, rtol=0, atol=16 * EPS)


def fingerprint_table(n: int, seed: int = 2024) -> np.ndarray:
    """(⌈n/8⌉, 256) uint64: entry (b, v) is the sum mod 2^64 of random odd words of the rows
    whose bits are set in byte b = v of ``np.packbits`` (big-endian bits) of a pattern column."""
    words = np.random.default_rng(seed).integers(0, 2**63, size=n, dtype=np.uint64) * 2 + 1
    nb = (n + 7) // 8
    T = np.zeros((nb, 256), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            b, bit = divmod(j, 8)
            T[b, np.flatnonzero(np.arange(256) & (0x80 >> bit))] += words[j]
    return T


def column_fingerprints(D: np.ndarray, T: np.ndarray) -> np.ndarray:
    """64-bit linear fingerprints of the columns of D (n, c): Σ_j D[j, k]·word_j mod 2^64."""
    P = np.packbits(np.ascontiguousarray(D.T), axis=1)  # (c, ⌈n/8⌉)
    out = np.zeros(P.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(P.shape[1]):
            out += T[b, P[:, b]]
    return out


@pytest.mark.slow
@KNOWN_INCONSISTENT
def test_iris_with_bias_counts_agree():
    """iris with a ones column (150 x 5, rank 5): every chamber once (about 3 minutes).

    The public stream, consumed chunk by chunk. Every nonzero witness verified with the promised
    margin; a zero witness only for a chamber whose largest margin is certified below the
    verification margin (:func:`margin_upper_bound`), and rarely; at most Cover's bound of
    columns. The set, by 64-bit linear fingerprints held for every column (8 bytes each, 315 MB;
    two distinct columns collide with probability 2^-64, some pair of 3.9e7 with about 4e-5; the
    words are seeded, so the check is deterministic): no column twice, closed under negation (no
    zero rows), and as many chambers as the candidate dedupe, :data:`IRIS_BIAS_CHAMBERS`. Today
    158 columns repeat another (:class:`InconsistentChambers`)."""
    X = iris_bias()
    n = X.shape[0]
    T = fingerprint_table(n)
    fps, zero_cols = [], []
    for D, W in cr.iter_chambers(X, chunk=65536, thin="zero", check_consistency=False):
        fps.append(column_fingerprints(D, T))
        z = ~np.any(W != 0, axis=1)
        if z.any():
            zero_cols.append(D[:, z].copy())
        check_witnesses_lean(X, D[:, ~z], W[~z])
    fp = np.concatenate(fps)
    del fps
    p = fp.size
    assert p <= oracle_cover(149, 5)
    Z = np.concatenate(zero_cols, axis=1) if zero_cols else np.zeros((n, 0), bool)
    assert Z.shape[1] <= 1e-5 * p  # the fallback without a witness is rare (30 today)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    for k in range(Z.shape[1]):
        A = np.where(Z[:, k], 1.0, -1.0)[:, None] * Xn
        assert margin_upper_bound(A) <= no_witness_bound(X.shape[1])
    fp.sort()
    repeated = int(np.count_nonzero(fp[1:] == fp[:-1]))
    with np.errstate(over="ignore"):
        ones = column_fingerprints(np.ones((n, 1), dtype=bool), T)[0]  # fingerprint of all rows
        neg = ones - fp  # fingerprints of the negated columns
    neg.sort()
    closed = np.array_equal(neg, fp)
    del neg, fp
    if repeated or not closed or p - repeated != IRIS_BIAS_CHAMBERS:
        raise InconsistentChambers(
            f"{p} columns, {repeated} repeat another, closed under negation: {closed}; "
            f"{p - repeated} distinct, the candidate dedupe has {IRIS_BIAS_CHAMBERS}")


@pytest.mark.slow
@KNOWN_INCONSISTENT
def test_iris_with_bias_subset_equals_the_candidate_dedupe():
    """64 random rows of iris + bias (64 distinct hyperplanes, rank 5; 1.27 M chambers; about a
    minute): the stream's chambers are, as a set, those of the other design — every candidate
    at every line, deduplicated globally (128-bit fingerprints of the pairs {K, −K},
    ``cr.fingerprints(candidates=True)``) — and as many as ``count_chambers``; every nonzero
    witness verified, a zero one only where no witness exists. Each pair must be streamed
    exactly twice (K and −K once each): today 2 of the 636,090 pairs are streamed once
    (:class:`InconsistentChambers`)."""
    rows = np.sort(np.random.default_rng(0).choice(150, 64, replace=False))
    X = iris_bias(rows)
    ctx = cr._Context(X, None)
    red = ctx.red
    first = np.array([np.flatnonzero(red.rep == h)[0] for h in range(ctx.L)])
    hflip = red.orient[first] < 0
    st = {}
    got = []
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    for D, W in cr.iter_chambers(X, chunk=1 << 16, stats=st, thin="zero",
                                 check_consistency=False):
        z = ~np.any(W != 0, axis=1)
        check_witnesses(X, D[:, ~z], W[~z])
        for k in np.flatnonzero(z):
            A = np.where(D[:, k], 1.0, -1.0)[:, None] * Xn
            assert margin_upper_bound(A) <= no_witness_bound(X.shape[1])
        hs = np.ascontiguousarray(D[first].T) ^ hflip  # hyperplane signs (c, L)
        got.append(_fingerprints(ctx, hs))
    pair = [("a", "<u8"), ("b", "<u8")]
    got = np.concatenate(got).view(pair).ravel()
    u, counts = np.unique(got, return_counts=True)
    ref = np.unique(np.concatenate(list(cr.fingerprints(X, candidates=True))).view(pair).ravel())
    assert np.array_equal(u, ref), "the stream and the candidate dedupe differ"
    assert got.size == cr.count_chambers(X, check_consistency=False) <= oracle_cover(ctx.L, 5)
    assert st["repairs"] > 0  # the witness fallback was exercised
    assert st["no_witness"] <= 1e-5 * got.size
    if not np.all(counts == 2):
        raise InconsistentChambers(
            f"pairs streamed once: {np.count_nonzero(counts == 1)}, more than twice: "
            f"{np.count_nonzero(counts > 2)} (of {u.size})")


# --------------------------------------------------------------------------------------------------
# thin chambers: data concurrent up to ~1e-13 (iris with a bias column)


#: Six rows of iris (data/iris.csv) whose hyperplanes (x_j, 1)^⊥ in R^5 are concurrent up to
#: ~1e-13: some of their chambers are ~3e-13 thin, with a near-ray witness that fails the check
#: and a max-margin LP point (HiGHS, absolute tolerance 1e-10) that fails it too, so the stream
#: raised SolverError ("too thin for a double-precision witness") before its LP was refined.
#: Found among the 1,823 chambers of iris + bias whose near-ray witness failed.
IRIS_THIN_ROWS = [0, 4, 9, 28, 41, 137]

#: Eight rows of iris with chambers that have no witness with the margin 32·d·eps: one ~1e-14
#: thin, one with no double-precision interior point at all (margin bound ~2e-16).
IRIS_NO_WITNESS_ROWS = [0, 28, 43, 4, 31, 21, 49, 1]


def exactly_inside(X, D, W) -> bool:
    """Is every witness strictly inside its chamber in exact rational arithmetic on the floats of
    X and W (s_j x_j^T u > 0 on every nonzero row, no rounding anywhere)?"""
    Xf = [[Fraction(float(v)) for v in row] for row in X]
    for k in range(D.shape[1]):
        u = [Fraction(float(v)) for v in W[k]]
        for j, row in enumerate(Xf):
            if any(row):
                val = sum((a * b for a, b in zip(row, u, strict=True)), Fraction(0))
                if val == 0 or (val > 0) != bool(D[j, k]):
                    return False
    return True


def margin_upper_bound(A) -> float:
    """An upper bound on the largest margin max_{‖u‖=1} min_j a_j^T u of the rows of A (m, d),
    independent of the package: for any y ≥ 0 with Σ y = 1 and any unit u,
    min_j a_j^T u ≤ Σ_j y_j a_j^T u ≤ ‖Σ_j y_j a_j‖ (the dual of the max-margin problem: the
    distance of conv{a_j} from 0). y from SciPy's NNLS (the simplex constraint as an extra row),
    the norm evaluated in exact rational arithmetic."""
    from scipy.optimize import nnls

    m, d = A.shape
    y, _ = nnls(np.vstack([A.T, np.ones((1, m))]), np.r_[np.zeros(d), 1.0], maxiter=100 * m)
    yf = [Fraction(float(v)) for v in y]
    total = sum(yf, Fraction(0))
    p = [sum((yf[j] * Fraction(float(A[j, c])) for j in range(m)), Fraction(0)) / total
         for c in range(d)]
    return math.sqrt(float(sum((x * x for x in p), Fraction(0))))


def no_witness_bound(d: int) -> float:
    """Largest margin bound (:func:`margin_upper_bound`, on the test's unit rows) a chamber without
    a witness may have: the stream's verification margin 32·d·eps plus the rounding that
    separates its check from the exact margin on these rows — the check's float dot products,
    γ_d ≤ (d + 1)·eps for unit vectors, and the two roundings of the unit rows (the package's
    and numpy's, each ≤ (d/2 + 2)·eps relative) — so a chamber whose exact margin exceeds it
    would have had a witness that passes the check (the refined LP resolves margins to ~1e-16)."""
    return (32.0 * d + (d + 1) + (d + 4)) * EPS


def test_thin_iris_chambers_get_verified_witnesses():
    """Six near-concurrent iris rows with a bias, plus a duplicate and an anti-parallel multiple
    (8 rows, 6 hyperplanes, rank 5): the stream raised SolverError; now every chamber has a
    witness, exactly inside (rational arithmetic). The set is exactly the chambers: the 62
    streamed sign vectors are distinct and each is realized by its witness, and no arrangement
    of 6 hyperplanes in R^5 has more than Cover's 62 (= Zaslavsky's count here). The brute-force
    LP oracle finds only 60 of them: its feasibility LP (HiGHS) misses the two thinnest."""
    base = iris_bias(IRIS_THIN_ROWS)
    X = np.vstack([base, base[:1], -2.0 * base[2:3]])
    D, W, _, st = collect(X)  # thin="raise": it would raise for a chamber without a witness
    assert st["repairs"] > 0 and st["no_witness"] == 0  # the fallback was needed, and found one
    check_witnesses(X, D, W)
    assert exactly_inside(X, D, W)
    cols = packed_columns(D)
    assert np.unique(cols).size == cols.size, "a chamber was streamed twice"
    assert D.shape[1] == oracle_cover(6, 5) == zaslavsky_count(X) == count_chambers(X)
    streamed = {D[:, k].tobytes() for k in range(D.shape[1])}
    assert sign_set(brute_chambers(X)) <= streamed
    Dp = np.concatenate([Dc for Dc, _ in iter_chambers(X, chunk=16)], axis=1)
    assert {Dp[:, k].tobytes() for k in range(Dp.shape[1])} == streamed


def test_chambers_without_a_double_precision_witness_get_the_zero_vector():
    """Eight near-concurrent iris rows with a bias: a few chambers of the arrangement (as the
    determinant rule resolves it) are thinner than the verification margin. The rule is
    inconsistent on these rows (the public stream refuses them: next test), so the raw stream
    (``check_consistency=False``) is studied: it lists them with the zero vector as witness —
    each certified to have no point with the margin (:func:`margin_upper_bound`) — and every
    other witness is verified; ``thin="raise"`` raises.
    The stream raised SolverError before its LP was refined."""
    X = iris_bias(IRIS_NO_WITNESS_ROWS)
    chunks = list(cr.iter_chambers(X, chunk=64, thin="zero", check_consistency=False))
    D = np.concatenate([Dc for Dc, _ in chunks], axis=1)
    W = np.concatenate([Wc for _, Wc in chunks])
    zero = ~np.any(W != 0, axis=1)
    assert 0 < np.count_nonzero(zero) <= 4
    check_witnesses(X, D[:, ~zero], W[~zero])
    assert exactly_inside(X, D[:, ~zero], W[~zero])
    cols = packed_columns(D)
    assert np.unique(cols).size == cols.size == cr.count_chambers(
        X, check_consistency=False) <= oracle_cover(8, 5)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    for k in np.flatnonzero(zero):
        A = np.where(D[:, k], 1.0, -1.0)[:, None] * Xn
        assert margin_upper_bound(A) <= no_witness_bound(X.shape[1])
    assert sign_set(brute_chambers(X)) <= {D[:, k].tobytes() for k in range(D.shape[1])}
    with pytest.raises(SolverError, match="too thin"):
        collect(X, check_consistency=False)  # the private stream's default thin="raise"


#: Six rows of iris whose hyperplanes with a bias all nearly contain one line (σ_min of the 6 x 5
#: matrix is 6e-11): the determinant rule calls two of the six 5-subsets dependent (|det| ~1e-17)
#: and the other four independent (~2e-12), which no arrangement can be, so different 4-subsets
#: of that near-line get different zero sets and the chambers around it are emitted at several of
#: them (iris + bias: 158 of its 39,346,636 streamed columns repeat another).
IRIS_INCONSISTENT_ROWS = [58, 74, 116, 127, 141, 149]


@pytest.mark.parametrize("rows", [IRIS_INCONSISTENT_ROWS, IRIS_NO_WITNESS_ROWS])
def test_inconsistent_near_concurrent_rows_are_refused(rows):
    """Where the determinant rule's zero sets are not closed, the public stream, the count, the
    exact pattern list and an exact solve all refuse with SolverError instead of a list that
    repeats or misses chambers (and so a certificate over an incomplete list)."""
    import hiddenconvex as hc

    X = iris_bias(rows)
    match = "concurrent only up to rounding"
    with pytest.raises(SolverError, match=match):
        list(iter_chambers(X))
    with pytest.raises(SolverError, match=match):
        count_chambers(X)
    # exact_chambers (thin="raise") may meet a chamber without a witness first: also a refusal
    refusal = "concurrent only up to"
    with pytest.raises(SolverError, match=refusal):
        exact_chambers(X)
    y = np.linspace(-1.0, 1.0, X.shape[0])
    with pytest.raises(SolverError, match=refusal):
        hc.solve(X, y, 0.1, patterns="exact")


def test_consistent_degenerate_lines_pass_the_closure_check():
    """iris (no bias): 51 degenerate lines, some merged by the rule though not exactly
    concurrent; every zero set is closed, so nothing is refused, and each line's zero set is
    checked once."""
    st = {}
    p = sum(D.shape[1] for D, _ in cr.iter_chambers(load("iris.csv"), stats=st))
    assert p == 1_080_590
    assert st["closure_checks"] == st["degenerate_lines"] > 0


@pytest.mark.parametrize("name", ["integer_rows_R4", "rows_through_line_R3"])
def test_closure_check_in_small_batches(monkeypatch, name):
    """The closure check takes a line's (r−1)-subsets in batches: batches of 2 accept the
    exactly degenerate sets (same chambers as the extreme-ray method) and still refuse the
    inconsistent rows."""
    monkeypatch.setattr(cr, "_CLOSURE_BATCH", 2)
    X = DEGENERATE[name]
    st = {}
    D = np.concatenate([Dc for Dc, _ in cr.iter_chambers(X, stats=st)], axis=1)
    assert st["closure_checks"] > 0
    cols = packed_columns(D)
    assert np.unique(cols).size == cols.size
    assert np.array_equal(np.sort(cols), np.sort(packed_columns(extreme_ray_chambers(X).D)))
    with pytest.raises(SolverError, match="concurrent only up to rounding"):
        count_chambers(iris_bias(IRIS_INCONSISTENT_ROWS))


@KNOWN_INCONSISTENT
def test_inconsistent_near_concurrent_rows_stream_each_chamber_once():
    """6 hyperplanes in R^5 have at most Cover's 62 chambers; none may be streamed twice (today:
    112 columns, 60 distinct — the 58 sign vectors with margins ≥ 1e-11 and two thinner)."""
    X = iris_bias(IRIS_INCONSISTENT_ROWS)
    D = np.concatenate([Dc for Dc, _ in cr.iter_chambers(X, thin="zero",
                                                         check_consistency=False)], axis=1)
    cols = packed_columns(D)
    distinct = np.unique(cols).size
    assert distinct <= oracle_cover(6, 5)
    if distinct != cols.size:
        raise InconsistentChambers(f"{cols.size} columns, {distinct} distinct")


# --------------------------------------------------------------------------------------------------
# fingerprints and the dedupe design


@pytest.mark.parametrize("name", ["integer_rows_R4", "rows_through_line_R3", "all_together"])
def test_fingerprints_canonical_equal_candidates(name):
    X = DEGENERATE[name]
    h = np.concatenate(list(cr.fingerprints(X))).view([("a", "<u8"), ("b", "<u8")]).ravel()
    u, counts = np.unique(h, return_counts=True)
    assert set(counts.tolist()) == {2}  # each pair {s, −s}: each member once
    hc = np.concatenate(list(cr.fingerprints(X, candidates=True)))
    uc = np.unique(hc.view([("a", "<u8"), ("b", "<u8")]).ravel())
    assert np.array_equal(u, uc)
    assert cr.count_chambers_dedupe(X) == extreme_ray_chambers(X).p


# --------------------------------------------------------------------------------------------------
# witness repair


def test_bad_witnesses_are_repaired_by_the_lp():
    X = np.random.default_rng(4).standard_normal((6, 3))
    ctx = cr._Context(X, None)
    ref = extreme_ray_chambers(X)
    assert np.array_equal(ctx.red.rep, np.arange(6))  # one hyperplane per row (no merges)
    hs = np.ascontiguousarray(ref.D.T) ^ (ctx.red.orient < 0)  # row signs -> hyperplane signs
    Dt, Wt = cr._finish_block(ctx, hs, np.zeros((ref.p, 3)))
    assert ctx.stats["repairs"] == ref.p
    check_witnesses(X, Dt.T, Wt)
    assert np.array_equal(Dt.T, ref.D)


def test_generated_cofactors_are_current():
    """hiddenconvex/_cofactors.py is exactly what scripts/gen_cofactors.py generates."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "gen_cofactors.py"
    spec = importlib.util.spec_from_file_location("gen_cofactors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.TARGET.read_text() == mod.source()
