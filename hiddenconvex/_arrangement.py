r"""The hyperplane arrangement {x_j^T u = 0} of the rows of X (SPEC §1.3, §3.1): reduction to its
rank and to the distinct hyperplanes, Cover's count, packed sign vectors, and the verification of
chamber witnesses. The chambers themselves come from :mod:`hiddenconvex._extreme_rays`.

Numerical tolerance (rounding level, scale-free, consistent): r unit normals count as linearly
dependent iff |det| ≤ C·eps·Σ_t vol(the r−1 others), C = 128 — the largest change of the
determinant that perturbing the rows by C rounding units can cause. The rule is symmetric in the
r normals, so every (r−1)-subset through which a line is computed reaches the same decision (for
r = 2 it is the parallel-row merge, unit normals within 2C·eps up to sign). A float determinant
decides when its rigorous error bound allows; otherwise (ill-conditioned subsets, e.g. clusters of
near-duplicate rows) it is evaluated exactly in rational arithmetic, and line directions of
ill-conditioned subsets are computed exactly and rounded once. Hence exactly degenerate data
(duplicates, scaled copies such as 0.1·x, integer grids, standardized grids, flats through common
lines) are recognized as degenerate, and data whose determinants clear the threshold are
enumerated exactly, however thin their chambers (clusters of copies 1e-8 apart are fine). Data
degenerate only up to ~1e-13 relative are, by the same rule, treated as degenerate: chambers
thinner than the threshold are not listed (``complete`` then refers to the arrangement as
resolved at rounding level); in the band just above it, a chamber may be too thin for any
double-precision witness, or its sign vector may not be realizable by the floats at all (the
rule's decisions on near-concurrent subsets need not be those of one exact arrangement: 30 of the
39,346,636 chambers of iris with a bias column). Witnesses that fail the check are recomputed by
a max-margin LP refined to the rounding level (:func:`_witness`); a chamber for which that finds
none raises a SolverError in :func:`_finish_chambers` instead of being returned unverified (the
stream of :mod:`hiddenconvex._canonical_rays` can yield it with a zero witness). The rank is
numpy's ``matrix_rank`` rule (singular values > σ_max·max(n, d)·eps, :func:`_svd_rank`; the one
rank rule of the package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._linalg import _EPS, _mm, _svd_rank, _unit_rows, pow2_scaled
from .errors import SolverError, check_int, check_matrix

__all__ = ["cover_count", "cover_bound"]

#: Degeneracy threshold in units of eps (module docstring): r unit normals are dependent iff
#: |det| ≤ _C_DEGENERATE·eps·Σ_t vol(the r−1 others) — the change of the determinant that
#: perturbations of the rows by _C_DEGENERATE rounding units can cause. Symmetric in the r normals,
#: so every (r−1)-subset reaches the same decision.
_C_DEGENERATE = 128.0


#: Unit normals within this distance (up to sign) are the same hyperplane (the r = 2 case of the
#: determinant rule: |h_i ∧ h_j| ≤ C·eps·(‖h_i‖ + ‖h_j‖)).
_PARALLEL_TOL = 2.0 * _C_DEGENERATE * _EPS


#: Entries of the (lines × L) sign matrix per chunk of lines: small enough to stay in cache.
_CHUNK_ENTRIES = 1 << 18


#: Entries (patterns × rows) per block of the witness verification.
_VERIFY_BLOCK = 1 << 18


def _float_err(r: int) -> float:
    """Relative (to the permanent) error allowance of a computed r x r determinant."""
    return 4.0 * (r + 2) * _EPS


def _margin_tol(d: int) -> float:
    """Relative margin a witness must have: s_j x_j^T u > tol ‖x_j‖ ‖u‖ (sign beyond rounding)."""
    return 32.0 * max(d, 1) * _EPS


def cover_count(n: int, r: int) -> int:
    r"""Cover's number :math:`2\sum_{k<r}\binom{n-1}{k}` of chambers of n hyperplanes in general
    position in R^r (SPEC §3.1); an upper bound for any n hyperplanes of rank r.

    ``r = 0`` (all rows zero) has exactly one chamber; ``n ≤ r`` gives 2^n.
    """
    n = check_int(n, "n", 0, what="a non-negative integer")
    r = check_int(r, "r", 0, what="a non-negative integer")
    if r == 0 or n == 0:
        return 1
    return 2 * sum(math.comb(n - 1, k) for k in range(r))


def cover_bound(X) -> int:
    """Cover's bound ``cover_count(L, r)`` for X: r = rank(X), L = number of distinct hyperplanes
    (nonzero rows, parallel and anti-parallel ones merged). Exact in general position; never below
    the true chamber count; at most ``cover_count(n, rank)``."""
    X = check_matrix(X)
    red = _reduce(pow2_scaled(X)[0])
    return cover_count(red.H.shape[0], red.rank)


@dataclass(frozen=True)
class _Reduced:
    rank: int  # rank of the arrangement: rank(X), less when rows parallel up to rounding merged
    lift: np.ndarray  # (k, r): original coordinates u = lift @ w (identity or orthonormal V_r)
    H: np.ndarray  # (L, r) unit normals of the distinct hyperplanes (reduced coordinates)
    rep: np.ndarray  # (m,) hyperplane of each row, -1 for zero rows
    orient: np.ndarray  # (m,) +1 / -1: row j is orient_j * (positive multiple of) h_rep
    Xw: np.ndarray  # (m, r) reduced rows (X itself when r = k)


def _reduce(A: np.ndarray) -> _Reduced:
    """Rank-r coordinates and the distinct hyperplanes of the rows of A (m, k)."""
    m, k = A.shape
    if m == 0 or k == 0 or not np.any(A):
        return _Reduced(0, np.zeros((k, 0)), np.zeros((0, 0)), np.full(m, -1), np.ones(m, int),
                        np.zeros((m, 0)))
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = _svd_rank(A, s)
    if r == k:
        lift, Xw = np.eye(k), A
    else:
        lift = np.ascontiguousarray(Vt[:r].T)
        Xw = _mm(A, lift)  # = U_r Σ_r; exactly zero rows stay exactly zero
    rep, orient, H = _distinct_hyperplanes(Xw, _PARALLEL_TOL)
    _, sh, Vh = np.linalg.svd(H, full_matrices=False)
    rh = _svd_rank(H, sh)
    if rh < r:  # rows independent only at rounding level were merged: the arrangement has rank rh
        Vh = Vh[:rh].T
        H = H @ Vh
        H /= np.linalg.norm(H, axis=1, keepdims=True)
        lift, Xw, r = np.ascontiguousarray(lift @ Vh), _mm(Xw, Vh), rh
    return _Reduced(r, lift, H, rep, orient, Xw)


def _distinct_hyperplanes(A: np.ndarray, tol: float):
    """Merge parallel / anti-parallel rows. Returns rep (m,), orient (m,), unit normals H (L, r)."""
    m, r = A.shape
    rep = np.full(m, -1)
    orient = np.ones(m, dtype=int)
    nz = np.flatnonzero(np.any(A != 0, axis=1))
    if nz.size == 0:
        return rep, orient, np.zeros((0, r))
    U = _unit_rows(A[nz])
    # sign-canonical form: first entry of magnitude > 0.5/sqrt(r) made positive (exact duplicates
    # merge here; near-duplicates are merged by _merge_close)
    lead = U[np.arange(len(U)), np.argmax(np.abs(U) > 0.5 / np.sqrt(r), axis=1)]
    flip = np.where(lead < 0, -1, 1)
    Uc = U * flip[:, None]
    uniq, first, inv = np.unique(Uc, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(first)  # keep first-appearance order of the distinct directions
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    Q = uniq[order]  # (q, r) distinct directions, first-appearance order
    cls_id, cls_sign = _merge_close(Q, tol)  # class root of each direction, sign w.r.t. the root
    roots, cls = np.unique(cls_id, return_inverse=True)
    cls = cls.reshape(-1)
    qi = rank_of[inv]  # direction index of each nonzero row
    row_cls = cls[qi]
    # number the hyperplanes by first appearance among the rows
    first_row = np.full(roots.size, nz.size)
    np.minimum.at(first_row, row_cls, np.arange(nz.size))
    order_h = np.argsort(first_row)
    new = np.empty_like(order_h)
    new[order_h] = np.arange(order_h.size)
    rep[nz] = new[row_cls]
    orient[nz] = flip * cls_sign[qi]
    H = Q[roots[order_h]]
    return rep, orient, np.ascontiguousarray(H)


def _merge_close(Q: np.ndarray, tol: float):
    """Classes of distinct unit vectors Q (q, r) equal up to sign within ``tol``: each vector joins
    the class of its first (smallest-index) partner, if any. Returns (class root, sign w.r.t. it).

    Close pairs are found by sorting: ‖Q_i − s·Q_j‖ ≤ tol implies ||g·Q_i| − |g·Q_j|| ≤ tol for
    any unit g, so only neighbours in the order of |g·Q| (fixed random g) are compared.
    """
    q, r = Q.shape
    cls = np.arange(q)
    sign = np.ones(q, dtype=int)
    if q < 2:
        return cls, sign
    g = np.random.default_rng(20240611).standard_normal(r)
    a = np.abs(Q @ (g / np.linalg.norm(g)))
    order = np.argsort(a)
    a = a[order]
    end = np.searchsorted(a, a + tol, side="right")  # window [i, end) in sorted order
    pi, pj = [], []
    for k in range(1, int(np.max(end - np.arange(q)))):
        i = np.flatnonzero(end - np.arange(q) > k)
        pi.append(order[i])
        pj.append(order[i + k])
    if not pi:
        return cls, sign
    i, j = np.concatenate(pi), np.concatenate(pj)
    i, j = np.maximum(i, j), np.minimum(i, j)  # i joins j < i
    s = np.where(np.einsum("ij,ij->i", Q[i], Q[j]) < 0, -1, 1)
    ok = np.linalg.norm(Q[i] - s[:, None] * Q[j], axis=1) <= tol
    i, j, s = i[ok], j[ok], s[ok]
    for t in np.lexsort((j, i)):  # increasing i, then j: roots are final before they are used
        if cls[i[t]] == i[t]:
            cls[i[t]] = cls[j[t]]
            sign[i[t]] = s[t] * sign[j[t]]
    return cls, sign


def _pack(B: np.ndarray) -> np.ndarray:
    """bool (m, L) -> uint64 words (m, W); bit l of a vector is bit l % 64 of word l // 64."""
    m, L = B.shape
    W = max(1, (L + 63) // 64)
    P = np.packbits(B, axis=1, bitorder="little")
    out = np.zeros((m, 8 * W), dtype=np.uint8)
    out[:, : P.shape[1]] = P
    return out.view("<u8")


def _unpack(words: np.ndarray, L: int) -> np.ndarray:
    """uint64 words (m, W) -> bool (m, L)."""
    b = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return np.unpackbits(b, axis=1, count=L, bitorder="little").view(bool)


_REVERSE_BYTE = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def _lex_order_words(words: np.ndarray) -> np.ndarray:
    """Order of packed vectors lexicographic in (bit 0, bit 1, ...), 0 < 1."""
    m, W = words.shape
    if m <= 1:
        return np.arange(m)
    rb = _REVERSE_BYTE[np.ascontiguousarray(words, dtype="<u8").view(np.uint8)]
    keys = rb.view(">u8").astype(np.uint64)  # byte 0 (bits 0..7, bit 0 first) most significant
    return np.lexsort(keys.T[::-1])


def _hash_words(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each packed row (callers check for collisions)."""
    mult = (np.random.default_rng(20240611).integers(0, 2**63, size=words.shape[1], dtype=np.uint64)
            * np.uint64(2) + np.uint64(1))
    x = words ^ (words >> np.uint64(31))
    x = x * mult
    key = np.bitwise_xor.reduce(x ^ (x >> np.uint64(29)), axis=1)
    return key + words[:, 0] * np.uint64(0x9E3779B97F4A7C15)


def _group_words(words: np.ndarray):
    """Group equal packed rows: (index of the first occurrence of each distinct row, in order of
    their values' hash; group of every row). Hash + stable sort, collisions checked exactly."""
    m, W = words.shape
    key = words[:, 0] if W == 1 else _hash_words(words)
    order = np.argsort(key, kind="stable")  # equal keys keep index order: first occurrence first
    ks = key[order]
    new = np.empty(m, dtype=bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    inv = np.empty(m, dtype=np.intp)
    inv[order] = np.cumsum(new) - 1
    first = order[new]
    if W > 1 and not np.array_equal(words[first[inv]], words):  # hash collision: exact fallback
        _, first, inv = np.unique(words, axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
    return first, inv


def _expand(sH: np.ndarray, red: _Reduced) -> np.ndarray:
    """Hyperplane signs (p, L) -> row signs (p, m)."""
    p = sH.shape[0]
    m = red.rep.shape[0]
    out = np.ones((p, m), dtype=bool)
    nz = red.rep >= 0
    if np.any(nz):
        out[:, nz] = sH[:, red.rep[nz]] ^ (red.orient[nz] < 0)
    return out


def _finish_chambers(X: np.ndarray, red: _Reduced, words: np.ndarray,
                     wit_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order the chambers lexicographically, lift and verify their witnesses: returns the
    read-only pattern matrix D (n, p) (pattern-major, Fortran order) and the witnesses (p, d).

    ``words`` (p, W): hyperplane sign bits; ``wit_w`` (p, r): witnesses in reduced coordinates.
    Each witness u (lifted, unit) must reproduce its chamber on every nonzero row of X with a
    relative margin |x_j^T u| > tol·‖x_j‖ (:func:`_margin_tol`); failures are repaired by the
    refined max-margin LP (:func:`_witness`); SolverError if the sign vector has no witness.
    """
    n, d = X.shape
    L = red.H.shape[0]
    nz = np.flatnonzero(red.rep >= 0)
    # lexicographic order of the row patterns = order of the hyperplane bits (numbered by first
    # appearance among the rows) after orienting each hyperplane like its first row
    first_row = np.zeros(L, dtype=np.intp)
    if L:
        _, fr = np.unique(red.rep[nz], return_index=True)
        first_row = nz[fr]
    flip = _pack((red.orient[first_row] < 0)[None, :])
    order = _lex_order_words(words ^ flip)
    words, wit_w = words[order], wit_w[order]
    p = words.shape[0]
    if red.rank == 0:
        return np.ones((n, p), dtype=bool), _default_witness(d, p)
    Wt = _mm(wit_w, red.lift.T) if red.rank < d else wit_w.copy()
    nrm = np.linalg.norm(Wt, axis=1, keepdims=True)
    Wt /= np.where(nrm > 0, nrm, 1.0)  # a zero witness fails the check below and is repaired
    Dt = np.empty((p, n), dtype=bool)  # pattern-major; returned as the F-ordered view Dt.T
    Dt[:, red.rep < 0] = True  # zero rows
    Xn = _unit_rows(X[nz])
    tol = _margin_tol(d)
    # rows whose sign is not a hyperplane's first row: must agree with that row's (oriented) sign
    dup = np.setdiff1d(nz, first_row)
    pos_in_nz = np.searchsorted(nz, np.concatenate([first_row, dup]))
    fr_cols, dup_cols = pos_in_nz[:L], pos_in_nz[L:]
    dup_ref = np.searchsorted(nz, first_row[red.rep[dup]])
    dup_flip = red.orient[dup] != red.orient[first_row[red.rep[dup]]]
    fr_all = np.array_equal(fr_cols, np.arange(nz.size))
    bad = []
    step = max(1, _VERIFY_BLOCK // nz.size)
    for c0 in range(0, p, step):
        c1 = min(p, c0 + step)
        S = _mm(Wt[c0:c1], Xn.T)  # (c, m)
        sg = S > 0
        ok = np.all(_pack(sg if fr_all else sg[:, fr_cols]) ^ flip == words[c0:c1], axis=1)
        if dup.size:
            ok &= np.all(sg[:, dup_cols] == (sg[:, dup_ref] ^ dup_flip), axis=1)
        np.abs(S, out=S)
        ok &= S.min(axis=1) > tol
        if nz.size == n:
            Dt[c0:c1] = sg
        else:
            Dt[c0:c1, nz] = sg
        bad.extend(c0 + np.flatnonzero(~ok))
    for b in bad:  # rare: thin chambers; the hyperplane bits are the truth
        exp = _unpack(words[b:b + 1], L)[0][red.rep[nz]] ^ (red.orient[nz] < 0)
        Dt[b, nz] = exp
        u, mg = _witness(red, exp, tol, Xn, start=Wt[b])
        if u is None:
            raise _thin_error(mg)
        Wt[b] = u
    Dt.setflags(write=False)
    Wt.setflags(write=False)
    return Dt.T, Wt


#: Iterative refinement of the max-margin LP in :func:`_witness`: rounds, and the factor by which
#: each round scales the correction problem (HiGHS solves to ~1e-10 absolute, so one round at
#: 1e6 resolves margins to ~1e-16, the rounding level of a unit vector: on iris with a bias column
#: every chamber with a witness gets it after at most one round; the second is a reserve).
_REFINE_ROUNDS = 2
_REFINE_SCALE = 1e6


def _margin_lp(Ms: np.ndarray, rhs: np.ndarray, lo: np.ndarray, hi: np.ndarray, t_hi: float):
    """max τ s.t. ``Ms z − τ ≥ −rhs``, lo ≤ z ≤ hi, τ ≤ t_hi (HiGHS): (z, τ), or None."""
    from scipy.optimize import linprog

    m, r = Ms.shape
    c = np.zeros(r + 1)
    c[-1] = -1.0
    bounds = [*zip(lo.tolist(), hi.tolist(), strict=True), (None, t_hi)]
    res = linprog(c, A_ub=np.hstack([-Ms, np.ones((m, 1))]), b_ub=rhs, bounds=bounds,
                  method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                           "dual_feasibility_tolerance": 1e-10})
    if res.status != 0 or not np.all(np.isfinite(res.x)):
        return None
    return res.x[:r], float(res.x[r])


def _witness(red: _Reduced, s_nz: np.ndarray, tol: float, Xn: np.ndarray,
             start: np.ndarray | None = None) -> tuple[np.ndarray | None, float]:
    """A verified witness of the sign vector ``s_nz`` by the max-margin LP, refined.

    The sign vector is the truth; the LP only looks for a point that realizes it. A unit vector
    u in row(X) is returned only if it passes the check of :func:`_finish_chambers`,
    min_j s_j x̂_j^T u > ``tol`` (x̂_j the unit nonzero rows ``Xn``, original coordinates).

    The max-margin LP is max t s.t. s_j x̂_j^T w ≥ t, |w|_∞ ≤ 1 (w in rank coordinates,
    u = lift·w). HiGHS solves it to an absolute tolerance of ~1e-10, so in a chamber thinner
    than that (data concurrent up to ~1e-13) its point may lie just outside, or HiGHS may stop
    with numerical trouble. Iterative refinement: at the best point w_c found so far (unit),
    with residuals ρ_j = s_j x̂_j^T w_c and t_c = min_j ρ_j (so (w_c, t_c) is feasible), the
    same LP in the shifted and scaled variables w = w_c + z/S, t = t_c + τ/S,

        max τ  s.t.  s_j x̂_j^T z − τ ≥ −S (ρ_j − t_c),   S(−1 − w_c) ≤ z ≤ S(1 − w_c),

    is solved to HiGHS's tolerance in units of 1/S: S = 1e6 per round (:data:`_REFINE_SCALE`)
    resolves margins to ~1e-16. Unlike a trust region, the box is the original one, so the
    correction can move anywhere in the chamber (its optimum may be far from w_c along a thin
    sliver).

    Parameters
    ----------
    red : _Reduced
        The reduced arrangement (``lift`` (d, r)).
    s_nz : bool array, shape (m,)
        Signs of the nonzero rows (True: x_j^T u > 0).
    tol : float
        Relative margin to pass (:func:`_margin_tol`).
    Xn : array, shape (m, d)
        Unit nonzero rows of X.
    start : array, shape (d,), optional
        A candidate tried first (the failed witness).

    Returns
    -------
    u : array, shape (d,), or None
        Unit witness passing the check; None when none was found: the chamber's largest margin,
        refined to the rounding level, is at most ``tol`` (or the sign vector has no interior
        point in double precision at all).
    margin : float
        The largest margin min_j s_j x̂_j^T u seen (of u, or of the best failed point).
    """
    s = np.where(s_nz, 1.0, -1.0)
    As = s[:, None] * Xn  # (m, d) signed unit rows; ±1 is exact, so As @ u is s * (Xn @ u)
    d, r = red.lift.shape
    ident = r == d
    Ms = As if ident else As @ red.lift  # (m, r) the rows in rank coordinates
    m = Ms.shape[0]

    def unit(w):
        u = w if ident else red.lift @ w
        return u / np.linalg.norm(u)

    def margin(w):
        return float(np.min(As @ unit(w)))

    best, mbest = None, -np.inf
    if start is not None and np.all(np.isfinite(start)):
        w0 = start if ident else red.lift.T @ start
        if np.linalg.norm(w0) > 0:
            best, mbest = w0, margin(w0)
    if mbest > tol:
        return unit(best), mbest
    one = np.ones(r)
    got = _margin_lp(Ms, np.zeros(m), -one, one, 1.0)
    if got is not None and np.linalg.norm(got[0]) > 0:
        m1 = margin(got[0])
        if m1 > mbest:
            best, mbest = got[0], m1
    S = 1.0
    for _ in range(_REFINE_ROUNDS):
        if mbest > tol or best is None:
            break
        wc = best / np.linalg.norm(best)
        rho = Ms @ wc
        tc = float(rho.min())
        S *= _REFINE_SCALE
        got = _margin_lp(Ms, S * (rho - tc), S * (-one - wc), S * (one - wc), S * (1.0 - tc))
        if got is None:
            continue
        wn = wc + got[0] / S
        mn = margin(wn) if np.linalg.norm(wn) > 0 else -np.inf
        if mn > mbest:
            best, mbest = wn, mn
    if mbest > tol:
        return unit(best), mbest
    return None, mbest


def _thin_error(margin: float) -> SolverError:
    return SolverError(
        "exact enumeration found a chamber too thin for a double-precision witness (largest "
        f"margin found {margin:.3g}): some rows are parallel or concurrent only up to ~1e-12; "
        "round the data or use method='sample'"
    )


def _default_witness(d: int, p: int) -> np.ndarray:
    Wt = np.zeros((p, d))
    if d:
        Wt[:, 0] = 1.0
    return Wt

