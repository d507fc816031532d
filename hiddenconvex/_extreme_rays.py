r"""Chambers of an essential central arrangement by the extreme-ray method (SPEC §3).

Exact enumeration (:func:`exact_chambers`) — the extreme-ray method
---------------------------------------------------------------------
1. Reduce to the rank r of X (SPEC §1.3): if r < d, work with the rows of X V_r (thin SVD
   X = U_r Σ_r V_r^T, V_r orthonormal) and lift witnesses back by u = V_r w; if r = d, work
   with X itself (no rotation).
2. Merge parallel and anti-parallel rows into the L distinct hyperplanes with unit normals
   h_1..h_L; drop zero rows. The arrangement {h_l^T w = 0} in R^r is essential (rank r).
3. r = 0: one chamber; r = 1: two; r = 2: sort the 2L boundary rays by angle (one chamber per
   arc, signs read off the angular order). r ≥ 3: every chamber is a pointed cone, so it has
   extreme rays, and each extreme ray lies on a line where hyperplanes spanning r−1 dimensions
   meet. For every (r−1)-subset of hyperplanes the generalized cross product (cofactors) gives the
   line v; the rows with h_l^T v = 0 form its zero set Z(v). The chambers whose closure contains v
   are exactly the sign vectors equal to sign(h_l^T v) off Z(v) and equal to a chamber of the
   local arrangement {h_l : l ∈ Z(v)} on Z(v) — all 2^{r−1} sign combinations when
   |Z(v)| = r−1 (generic line), the chambers of a rank-(r−1) arrangement when more hyperplanes
   pass through the line (lines are de-duplicated by their zero set first; r = 3: the arcs of all
   such lines at once, r ≥ 4: the same routine recursively). The chambers around −v are the
   negations of those around v; candidates are stored up to negation as packed 64-bit words and
   grouped by a hash (collisions checked).
4. Witness of a chamber = the sum of its unit extreme rays (each is found once, and their sum lies
   strictly inside the pointed cone), lifted and normalized. Every witness is verified in the
   original coordinates (``sign(X u)`` equals the pattern on every nonzero row with relative margin
   |x_j^T u| > 32·d·eps·‖x_j‖‖u‖); a failure is repaired by a max-margin LP on the claimed sign
   vector, and if that fails a :class:`~hiddenconvex.errors.SolverError` is raised. So every
   returned pattern is a chamber of the floats X, with a certified strictly interior witness.
5. Columns are ordered lexicographically (row 0 first, False < True): the order does not depend on
   the algorithm.

Cost: one (lines × L) sign matrix, lines = binom(L, r−1), plus O(n·p·d) to verify the witnesses;
n = 400, r = 3 (159,602 chambers) and n = 100, r = 4 (323,600) take about a second
(``scripts/bench_patterns.py``). The thin matrix products are blocked so that BLAS stays
single-threaded (:data:`_GEMM_BLOCK`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._arrangement import (
    _C_DEGENERATE,
    _CHUNK_ENTRIES,
    _expand,
    _float_err,
    _group_words,
    _pack,
    _reduce,
    _unpack,
)
from ._linalg import _EPS, _mm, float_det_exact


def _chambers_of(A: np.ndarray):
    """All chambers of the central arrangement of the rows of A (m, k).

    Returns
    -------
    signs : bool array, shape (p, m)   (True = +1; zero rows True)
    witnesses : array, shape (p, k)    (strictly inside, in A's coordinates)
    reduced : _Reduced
    """
    red = _reduce(A)
    words, wr = _essential_chambers(red.H, red.rank)
    signs = _expand(_unpack(words, red.H.shape[0]), red)
    return signs, wr @ red.lift.T, red


def _essential_chambers(H: np.ndarray, r: int):
    """Chambers of an essential arrangement of L distinct hyperplanes (unit normals H, rank r).

    Returns packed sign words (p, W) (see :func:`_pack`; bit l set iff h_l^T w > 0) and witnesses
    (p, r) in no particular order; the list is closed under negation.
    """
    L = H.shape[0]
    if r == 0:
        return _pack(np.ones((1, L), dtype=bool)), np.zeros((1, 0))
    if r == 1:
        w = np.array([[1.0], [-1.0]])
        return _pack((H @ w.T).T > 0), w
    if r == 2:
        signs, w = _rank2_chambers(H)
        return _pack(signs), w
    return _ray_chambers(H, r)


def _boundary_rays(A: np.ndarray):
    """Rank-2 geometry of unit normals A (m, 2): the boundary ray P of each line a^⊥ turned into
    the upper half plane, its angle in [0, π), and whether it was turned (P = −(−a_2, a_1)).
    For w at an angle φ ∈ (θ_k, θ_{k+1}) between consecutive sorted rays,
    sign(a_l^T w) = +1  iff  (θ_l ≤ θ_k) XOR (line l not turned)."""
    P = np.column_stack([-A[:, 1], A[:, 0]])  # a rotated by +90°
    ang = np.arctan2(P[:, 1], P[:, 0])
    turned = ang < 0
    P[turned] *= -1
    return P, np.where(turned, ang + np.pi, ang), turned


def _rank2_chambers(H: np.ndarray):
    """Rank 2: the 2L boundary rays sorted by angle; one chamber per arc (witness: bisector).
    Signs are combinatorial (from the angular order), not evaluated at the witness."""
    L = H.shape[0]
    P, ang, turned = _boundary_rays(H)
    order = np.argsort(ang, kind="stable")
    rank = np.empty(L, dtype=np.intp)
    rank[order] = np.arange(L)
    P = P[order]
    nxt = np.vstack([P[1:], -P[:1]])  # next boundary ray counter-clockwise (wraps to -P[0])
    Wp = P + nxt
    Wp /= np.linalg.norm(Wp, axis=1, keepdims=True)
    S = (rank[None, :] <= np.arange(L)[:, None]) ^ ~turned[None, :]  # arc k, line l
    return np.vstack([S, ~S]), np.vstack([Wp, -Wp])


def _cofactors(M: np.ndarray):
    """Generalized cross product of the r−1 rows of each M[i] (shape (c, r−1, r)).

    Returns V (c, r) with V ⟂ every row, ‖V‖ = (r−1)-volume and h·V = det[M; h], and P (c, r), the
    permanents of the absolute minors (sum of |products| of each cofactor: its rounding scale).
    """
    c, k, r = M.shape
    if r == 3:
        A = np.abs(M)
        a, b = A[:, 0], A[:, 1]
        P = np.column_stack([a[:, 1] * b[:, 2] + a[:, 2] * b[:, 1],
                             a[:, 0] * b[:, 2] + a[:, 2] * b[:, 0],
                             a[:, 0] * b[:, 1] + a[:, 1] * b[:, 0]])
        return np.cross(M[:, 0], M[:, 1]), P
    cols = np.arange(r)
    V = np.empty((c, r))
    P = np.empty((c, r))
    for i in range(r):
        det, perm = _det_perm(M[:, :, cols != i])
        V[:, i] = (-1) ** i * det  # Laplace expansion of det[h; M] along h
        P[:, i] = perm
    return V, P


def _det_perm(M: np.ndarray):
    """Determinants of M (c, k, k) and permanents of |M| (the scale of their rounding error:
    |computed − exact| ≤ 2k·eps·perm for this Laplace evaluation)."""
    k = M.shape[1]
    if k == 1:
        return M[:, 0, 0], np.abs(M[:, 0, 0])
    if k == 2:
        x, y = M[:, 0, 0] * M[:, 1, 1], M[:, 0, 1] * M[:, 1, 0]
        return x - y, np.abs(x) + np.abs(y)
    det = np.zeros(M.shape[0])
    perm = np.zeros(M.shape[0])
    cols = np.arange(k)
    for j in range(k):
        d, p = _det_perm(M[:, 1:, cols != j])
        det += (-1) ** j * M[:, 0, j] * d
        perm += np.abs(M[:, 0, j]) * p
    return det, perm


def _exact_det(rows) -> Fraction:
    """Exact determinant of a square matrix of floats (integer arithmetic)."""
    return float_det_exact(rows)


def _exact_cofactors(M: np.ndarray) -> np.ndarray:
    """Cofactor vector of the (r−1) x r float matrix M, computed exactly, rounded once."""
    k, r = M.shape
    cols = np.arange(r)
    return np.array([float((-1) ** i * _exact_det(M[:, cols != i])) for i in range(r)])


def _combinations(m: int, k: int) -> np.ndarray:
    """All increasing k-tuples of range(m), lexicographic, shape (binom(m, k), k)."""
    if k == 0:
        return np.zeros((1, 0), dtype=np.intp)
    if k > m:
        return np.zeros((0, k), dtype=np.intp)
    if k == 1:
        return np.arange(m, dtype=np.intp)[:, None]
    if k == 2:
        i, j = np.triu_indices(m, 1)
        return np.column_stack([i, j]).astype(np.intp)
    parts = []
    for i in range(m - k + 1):
        tail = _combinations(m - i - 1, k - 1) + (i + 1)
        parts.append(np.column_stack([np.full(len(tail), i, dtype=np.intp), tail]))
    return np.concatenate(parts)


def _subset_chunks(L: int, k: int, chunk: int):
    """Yield all increasing k-subsets of range(L), lexicographic, in chunks of ≤ ``chunk`` rows."""
    if k == 1:
        for i in range(0, L, chunk):
            yield np.arange(i, min(i + chunk, L), dtype=np.intp)[:, None]
        return
    buf, size = [], 0
    for i in range(L - k + 1):
        tail = _combinations(L - i - 1, k - 1) + (i + 1)
        buf.append(np.column_stack([np.full(len(tail), i, dtype=np.intp), tail]))
        size += len(tail)
        if size >= chunk:
            block = np.concatenate(buf)
            cut = len(block) - len(block) % chunk
            yield from np.split(block[:cut], cut // chunk)
            buf, size = [block[cut:]], len(block) - cut
    if size:
        yield np.concatenate(buf)


def _lines(H: np.ndarray, idx: np.ndarray):
    """The lines spanned by (r−1)-subsets ``idx`` (c, r−1) of the unit normals H (L, r).

    Keeps the independent subsets; returns ``(idx, vhat, pos, zi, zl)``: ``vhat`` (c, r) the unit
    line directions (exact-rounded when ill-conditioned), ``pos`` (c, L) bool, h_l^T v > 0 off the
    zero set, and the zero set as sparse entries ``(zi, zl)`` (line, hyperplane),
    including the subset itself. Decisions follow the symmetric rule of :data:`_C_DEGENERATE`; a
    float value decides when its error bound allows, otherwise the determinant is evaluated
    exactly.
    """
    L, r = H.shape
    k = r - 1
    C, eps = _C_DEGENERATE, _EPS
    M = H[idx]
    V, P = _cofactors(M)
    err_v = _float_err(k) * np.linalg.norm(P, axis=1)
    vol = np.linalg.norm(V, axis=1)
    if r >= 4:  # the subset must be independent (r = 3: distinct normals always are)
        sure = vol - err_v > C * eps * k  # other (r−2)-volumes are ≤ 1
        for i in np.flatnonzero(~sure):
            Ve = _exact_cofactors(M[i])
            sure[i] = np.linalg.norm(Ve) > C * eps * _subvolume_sum(M[i])
            V[i] = Ve
        if not np.all(sure):
            idx, M, V, P, err_v = idx[sure], M[sure], V[sure], P[sure], err_v[sure]
        vol = np.linalg.norm(V, axis=1)
    c = idx.shape[0]
    if c == 0:
        empty = np.zeros(0, dtype=np.intp)
        return idx, V, np.zeros((0, L), dtype=bool), empty, empty
    for i in np.flatnonzero(err_v > 1e-12 * vol):  # direction known to worse than 1e-12
        V[i] = _exact_cofactors(M[i])
    vol = np.linalg.norm(V, axis=1)
    S = _mm(V, H.T)  # S[i, l] = det[h_idx(i); h_l]
    # error bound of S[i, l]: E = ferr(r)·Σ_c P[i, c]|H[l, c]| ≤ ferr(r)·Σ_c P[i, c] (unit rows).
    # Entries above this per-line bound are surely nonzero; only the rest are examined.
    pf = _float_err(r) * P
    thr = pf.sum(axis=1) + C * eps * (vol + k)
    ii, ll = np.nonzero(np.abs(S) <= thr[:, None])
    other = ~np.any(idx[ii] == ll[:, None], axis=1)  # the subset's own hyperplanes are zero
    ii, ll = ii[other], ll[other]
    E = np.einsum("ij,ij->i", pf[ii], np.abs(H[ll]))
    s = S[ii, ll]
    zero = np.abs(s) + E <= C * eps * vol[ii]
    nonzero = np.abs(s) - E > C * eps * (vol[ii] + k)
    amb = np.flatnonzero(~(zero | nonzero))
    if amb.size:
        ia, la = ii[amb], ll[amb]
        Mi = M[ia]
        sig = eps * vol[ia]
        for t in range(k):
            Mt = Mi.copy()
            Mt[:, t] = H[la]
            sig = sig + eps * np.linalg.norm(_cofactors(Mt)[0], axis=1)
        sa, ea = s[amb], E[amb]
        z = np.abs(sa) + ea <= C * sig
        nz = np.abs(sa) - ea > C * sig
        for q in np.flatnonzero(~(z | nz)):
            ex = float(_exact_det(np.vstack([H[la[q]][None, :], Mi[q]])))  # = V·h exactly
            z[q] = abs(ex) <= C * sig[q]
            S[ia[q], la[q]] = ex
        zero[amb] = z
    zi = np.concatenate([ii[zero], np.repeat(np.arange(c), k)])
    zl = np.concatenate([ll[zero], idx.ravel()])
    pos = S > 0
    pos[zi, zl] = False
    return idx, V / vol[:, None], pos, zi, zl


def _subvolume_sum(Mi: np.ndarray) -> float:
    """Σ_t (k−1)-volume of the rows of Mi (k, r) without row t (Gram determinants)."""
    k = Mi.shape[0]
    out = 0.0
    for t in range(k):
        R = np.delete(Mi, t, axis=0)
        out += math.sqrt(max(np.linalg.det(R @ R.T), 0.0)) if R.shape[0] else 1.0
    return out


def _ray_chambers(H: np.ndarray, r: int):
    """r ≥ 3: chambers generated around every line where hyperplanes of rank r−1 meet."""
    L = H.shape[0]
    k = r - 1
    nw = (L + 63) // 64
    full = _pack(np.ones((1, L), dtype=bool))[0]
    chunk = max(1024, _CHUNK_ENTRIES // max(L, 1))
    cand_words, cand_rays = [], []
    deg_v, deg_z, deg_base = [], [], []
    for idx in _subset_chunks(L, k, chunk):
        idx, vhat, pos, zi, zl = _lines(H, idx)
        c = idx.shape[0]
        if c == 0:
            continue
        base = _pack(pos)
        gen = np.bincount(zi, minlength=c) == k  # no hyperplane but the subset's own
        deg = np.flatnonzero(~gen)
        if deg.size:
            Z = np.zeros((c, L), dtype=bool)
            Z[zi, zl] = True
            deg_v.append(vhat[deg])
            deg_z.append(_pack(Z[deg]))
            deg_base.append(base[deg])
        gi = idx[gen]
        if gi.shape[0] == 0:
            continue
        # all 2^k sign choices on the k hyperplanes of the line, built by doubling
        cw = np.empty((2**k, gi.shape[0], nw), dtype=np.uint64)
        cw[0] = base[gen]
        rows = np.arange(gi.shape[0])
        for t in range(k):
            bit = np.zeros((gi.shape[0], nw), dtype=np.uint64)
            bit[rows, gi[:, t] // 64] = np.left_shift(np.uint64(1),
                                                      (gi[:, t] % 64).astype(np.uint64))
            cw[2**t:2**(t + 1)] = cw[:2**t] | bit
        cand_words.append(cw.reshape(-1, nw))
        cand_rays.append(np.broadcast_to(vhat[gen], (2**k, gi.shape[0], r)).reshape(-1, r))
    if deg_v:
        dv, dz, db = np.concatenate(deg_v), np.concatenate(deg_z), np.concatenate(deg_base)
        first = np.sort(_group_words(dz)[0])  # a line through more than r−1 hyperplanes, once
        words, rays = _degenerate_line_chambers(H, dv[first], dz[first], db[first])
        cand_words.append(words)
        cand_rays.append(rays)
    words = np.concatenate(cand_words)
    rays = np.concatenate(cand_rays)
    neg = (words[:, 0] & np.uint64(1)) == 0  # canonical representative: hyperplane 0 positive
    words[neg] ^= full
    first, inv = _group_words(words)
    p = first.shape[0]
    sgn = np.where(neg, -1.0, 1.0)
    wit = np.empty((p, r))
    for c in range(r):
        wit[:, c] = np.bincount(inv, weights=sgn * rays[:, c], minlength=p)
    uw = words[first]
    return np.vstack([uw, uw ^ full]), np.vstack([wit, -wit])


def _degenerate_line_chambers(H: np.ndarray, V: np.ndarray, Z: np.ndarray, base: np.ndarray):
    """Chambers around lines through more than r−1 hyperplanes.

    ``V`` (q, r) unit line directions, ``Z`` (q, W) packed zero sets, ``base`` (q, W) packed signs
    h_l^T v > 0 off the zero set. Around v the chambers are ``base`` completed on Z(v) by a chamber
    of the local arrangement {h_l : l ∈ Z(v)} in v^⊥ (rank r−1). Returns candidate words and the
    ray v of each.
    """
    L, r = H.shape
    if r == 3:
        return _degenerate_lines_r3(H, V, Z, base)
    words, rays = [], []
    for v, z, b in zip(V, Z, base, strict=True):
        zi = np.flatnonzero(_unpack(z[None], L)[0])
        Q = np.linalg.svd(v[None, :])[2][1:].T  # (r, r-1) orthonormal basis of v^⊥
        loc, _, _ = _chambers_of(H[zi] @ Q)  # with its own reduction (rounding-level merges)
        B = np.repeat(_unpack(b[None], L), loc.shape[0], axis=0)
        B[:, zi] = loc
        words.append(_pack(B))
        rays.append(np.broadcast_to(v, (B.shape[0], r)))
    return np.concatenate(words), np.concatenate(rays)


def _degenerate_lines_r3(H: np.ndarray, V: np.ndarray, Z: np.ndarray, base: np.ndarray):
    """r = 3, all lines at once: the local arrangement of line v is z ≥ 3 lines in the plane v^⊥,
    whose 2z chambers are the arcs between consecutive boundary rays sorted by angle (signs from
    the angular order, :func:`_boundary_rays`). The ray of every candidate is v itself."""
    L = H.shape[0]
    q = V.shape[0]
    Zb = _unpack(Z, L)
    lid, hl = np.nonzero(Zb)  # memberships (line, hyperplane), sorted by line
    # orthonormal basis (e1, e2) of v^⊥ per line
    ax = np.argmin(np.abs(V), axis=1)
    E = np.zeros_like(V)
    E[np.arange(q), ax] = 1.0
    e1 = np.cross(V, E)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(V, e1)
    # boundary ray of each local line in (e1, e2) coordinates, angle in [0, π)
    A = np.column_stack([np.einsum("ij,ij->i", H[hl], e1[lid]),
                         np.einsum("ij,ij->i", H[hl], e2[lid])])
    _, ang, turned = _boundary_rays(A)
    order = np.lexsort((ang, lid))
    lid, hl, turned = lid[order], hl[order], turned[order]
    N = lid.size
    start = np.searchsorted(lid, np.arange(q))
    size = np.diff(np.append(start, N))
    # arc k (between sorted rays k and k+1 of its line g) against every member m of Z(g)
    kk = np.repeat(np.arange(N), size[lid])
    mm = start[lid[kk]] + (np.arange(kk.size) - np.repeat(np.cumsum(size[lid]) - size[lid],
                                                          size[lid]))
    positive = (mm <= kk) ^ ~turned[mm]  # (sorted position of m ≤ that of k) XOR (not turned)
    bits = np.zeros((N, Z.shape[1]), dtype=np.uint64)
    on = hl[mm[positive]]
    np.bitwise_or.at(bits, (kk[positive], on // 64),
                     np.left_shift(np.uint64(1), (on % 64).astype(np.uint64)))
    words = np.vstack([base[lid] | bits, base[lid] | (Z[lid] ^ bits)])
    return words, np.vstack([V[lid], V[lid]])
