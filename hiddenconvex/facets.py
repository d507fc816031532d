r"""Facet rows of the chamber cones (SPEC §2.1): which rows of X define each cone
:math:`C(D_s) = \{u : s_j x_j^T u \ge 0\}`.

The convex program writes every cone by its facet rows only (exact; it keeps interior-point solvers
from stalling at the apex w = 0, where every defining row is active, and shrinks the program about
n/(2 rank X)-fold), and the certificate's projections use them too. Two exact ways:

* with the complete chamber list: a hyperplane is a facet of chamber s iff flipping the signs of
  the rows on it gives another chamber (a hash look-up, :func:`_flip_facets`);
* from a witness strictly inside the chamber: the vertices of the convex hull of the polar
  generators in the affine hyperplane u^T v = 1 (Qhull, :func:`_witness_facets`).

Patterns that are not chambers keep every nonzero row (always exact).
"""

from __future__ import annotations

import weakref

import numpy as np

from ._arrangement import _reduce
from ._linalg import _svd_rank, pow2_scaled
from .errors import InputError, check_matrix

__all__ = ["chamber_facets"]

def _pattern_matrix(patterns, n: int) -> np.ndarray:
    D = getattr(patterns, "D", patterns)
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != n:
        raise InputError(f"patterns must have shape (n, p) with n = {n}, got {D.shape}")
    if D.dtype != bool:
        if not np.all(np.isin(D, (0, 1))):
            raise InputError("patterns must be 0/1 (boolean) columns")
        D = D.astype(bool)
    return D


def _is_chamber_list(patterns) -> bool:
    """A Patterns object that provably lists every chamber (so facets can be read off it)."""
    return (getattr(patterns, "complete", False)
            and getattr(patterns, "pattern_set", None) == "chamber")


_HASH_SEED = 0x5EED_F00D


_CHUNK = 1 << 22  # entries per (rows x patterns) work block


def _column_hashes(D: np.ndarray, r: np.ndarray) -> np.ndarray:
    """h_k = sum_j D[j, k] r_j mod 2^64 for every column of the bool matrix D (n, p)."""
    n, p = D.shape
    out = np.empty(p, dtype=np.uint64)
    step = max(1, _CHUNK // max(n, 1))
    for a in range(0, p, step):
        out[a:a + step] = np.where(D[:, a:a + step], r[:, None], np.uint64(0)).sum(
            axis=0, dtype=np.uint64)
    return out


class _HashSet:
    """Open-addressing hash table of uint64 keys (uniformly random hashes), vectorized look-ups.

    Table size >= 4 x the number of keys, slot = top bits of the key, linear probing: a look-up
    costs about 1.2 random reads (a sorted-array binary search costs log2 P).
    """

    def __init__(self, keys: np.ndarray):
        bits = max(4, int(np.ceil(np.log2(4 * max(keys.size, 1)))))
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.zeros(self.mask + 1, dtype=np.uint64)
        self.index = np.full(self.mask + 1, -1, dtype=np.intp)
        todo = np.arange(keys.size)
        pos = (keys >> self.shift).astype(np.intp)
        while todo.size:
            free = self.index[pos[todo]] < 0
            cand = todo[free]
            _, first = np.unique(pos[cand], return_index=True)  # one winner per free slot
            win = cand[first]
            self.keys[pos[win]] = keys[win]
            self.index[pos[win]] = win
            placed = np.zeros(keys.size, dtype=bool)
            placed[win] = True
            todo = todo[~placed[todo]]
            pos[todo] = (pos[todo] + 1) & self.mask

    def find(self, h: np.ndarray) -> np.ndarray:
        """Index of each key of ``h`` in the table's key list, -1 if absent (any shape)."""
        flat = h.reshape(-1)
        out = np.full(flat.size, -1, dtype=np.intp)
        pos = (flat >> self.shift).astype(np.intp)
        active = np.arange(flat.size)
        while active.size:
            slot = pos[active]
            idx = self.index[slot]
            hit = (idx >= 0) & (self.keys[slot] == flat[active])
            out[active[hit]] = idx[hit]
            active = active[(idx >= 0) & ~hit]  # occupied by another key: probe on
            pos[active] = (pos[active] + 1) & self.mask
        return out.reshape(h.shape)


def chamber_facets(X, patterns, chambers=None) -> np.ndarray:
    r"""Rows of X that define each pattern's cone: the facets of the chamber cones.

    For a chamber :math:`s` (pattern :math:`D_s`) the closed cone
    :math:`C(D_s) = \{u : s_j x_j^T u \ge 0\ \forall j\}` is the intersection of its facet
    half-spaces only; the other rows are redundant. Two exact ways to find the facets:

    * with the complete chamber list (``chambers``): a hyperplane :math:`H = x_j^\perp` is a
      facet of the chamber :math:`s` iff flipping the signs of all rows lying on :math:`H` gives
      another chamber (cross the facet at a point of its relative interior; conversely, on the
      segment between interior points of the two chambers only :math:`H` changes sign). A table
      look-up, done on 64-bit column hashes (a hash collision can only keep an extra, redundant
      row; it never drops a facet). Rows on the same hyperplane (parallel or anti-parallel) are
      recognized from the chamber list itself (equal or complementary sign rows) and represented
      by one row;
    * from a witness :math:`u` strictly inside the chamber (``chambers=None``; the witnesses of
      :class:`~hiddenconvex.patterns.Patterns`): the facets of :math:`C` are the extreme rays of
      its polar generators :math:`a_j = s_j x_j`, i.e. the vertices of the convex hull of
      :math:`a_j / a_j^T u` in the affine hyperplane :math:`u^T v = 1` (all :math:`a_j^T u > 0`);
      computed by Qhull in rank(X) − 1 dimensions (exact up to Qhull's rounding tolerance).

    Zero rows are never needed. Patterns that are not chambers (absent from ``chambers``, or
    without a strictly interior witness) keep every nonzero row, which is always exact.

    The chamber cones are degenerate at the apex w = 0, where every defining row is active: in
    the convex program most blocks are zero at the optimum, and dropping the redundant rows is
    what keeps interior-point solvers (exponential cone: logistic loss) from stalling, besides
    shrinking the problem about n/(2 rank X)-fold.

    Parameters
    ----------
    X : array, shape (n, d)
    patterns : Patterns or bool array, shape (n, p)
        The patterns whose cones are described (a Patterns object when ``chambers`` is None).
    chambers : Patterns or bool array, shape (n, P), optional
        ALL chambers of X (e.g. :func:`hiddenconvex.patterns.exact_chambers`); an incomplete list
        gives wrong facets.

    Returns
    -------
    bool array, shape (n, p)
        ``F[j, k]``: keep row j for pattern k.
    """
    X = pow2_scaled(check_matrix(X))[0]  # facets are invariant under positive scaling
    n = X.shape[0]
    D = _pattern_matrix(patterns, n)
    if chambers is None:
        witnesses = getattr(patterns, "witnesses", None)
        if witnesses is None:
            raise InputError("chamber_facets needs `chambers` or Patterns with witnesses")
        return _witness_facets(X, D, np.asarray(witnesses, dtype=np.float64))
    return _flip_facets(X, D, _pattern_matrix(chambers, n))


def _flip_facets(X: np.ndarray, D: np.ndarray, Dfull: np.ndarray) -> np.ndarray:
    n, p = D.shape
    P = Dfull.shape[1]
    nz = np.any(X != 0, axis=1)
    F = np.zeros((n, p), dtype=bool)
    F[nz] = True
    rows = np.flatnonzero(nz)
    if p == 0 or rows.size == 0 or P == 0:
        return F
    # hyperplane of each nonzero row: rows with equal or complementary chamber sign rows
    canon = np.where(Dfull[rows, :1], Dfull[rows], ~Dfull[rows])
    if np.any(canon.all(axis=1)):  # a nonzero row with one sign in every chamber: not complete
        raise InputError("chamber_facets: `chambers` is not the complete chamber list of X")
    _, first, grp = np.unique(np.packbits(canon, axis=1), axis=0, return_index=True,
                              return_inverse=True)
    grp = grp.reshape(-1)
    L = _reduce(X).H.shape[0]  # distinct hyperplanes (patterns' rule)
    if first.size < L:
        # a complete list separates any two distinct hyperplanes (some chamber pair differs only
        # across one of them); fewer groups than hyperplanes means chambers are missing
        raise InputError(f"chamber_facets: `chambers` is not the complete chamber list of X "
                         f"({P} chambers distinguish only {first.size} of its {L} distinct "
                         "hyperplanes)")
    order = np.argsort(grp, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(grp[order]) != 0])
    members = rows[order]  # nonzero rows sorted by hyperplane
    rep = rows[first]  # one row per hyperplane (group g has representative rep[g])
    r = np.random.default_rng(_HASH_SEED).integers(0, np.iinfo(np.uint64).max, size=n,
                                                    dtype=np.uint64, endpoint=True)
    neg_r = np.invert(r) + np.uint64(1)  # -r mod 2^64
    table = _HashSet(_column_hashes(Dfull, r))
    h = _column_hashes(D, r)
    where = table.find(h)
    is_chamber = np.zeros(p, dtype=bool)
    cand = np.flatnonzero(where >= 0)
    if cand.size:  # exact check of the look-up (the pattern itself must be a chamber)
        same = np.all(D[:, cand] == Dfull[:, where[cand]], axis=0)
        is_chamber[cand[same]] = True
    cols = np.flatnonzero(is_chamber)
    F[:, cols] = False
    step = max(1, _CHUNK // members.size)
    for a in range(0, cols.size, step):
        c = cols[a:a + step]
        # hash of the pattern with hyperplane g flipped: h + sum_{j in g} (1 - 2 D_j) r_j
        T = np.where(D[np.ix_(members, c)], neg_r[members, None], r[members, None])
        delta = T if starts.size == members.size else np.add.reduceat(T, starts, axis=0)
        F[np.ix_(rep, c)] = table.find(h[c][None, :] + delta) >= 0  # delta: (L, len(c))
    if cols.size and not np.all(F[:, cols].any(axis=0)):
        # every chamber of an arrangement with a nonzero row has a facet, whose flip is a chamber
        raise InputError("chamber_facets: `chambers` is not the complete chamber list of X (a "
                         "chamber has no neighbour across any of its hyperplanes)")
    return F


def _witness_facets(X: np.ndarray, D: np.ndarray, witnesses: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull, QhullError

    n, p = D.shape
    if witnesses.shape != (p, X.shape[1]):
        raise InputError(f"witnesses must have shape {(p, X.shape[1])}, got {witnesses.shape}")
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    F = np.zeros((n, p), dtype=bool)
    F[nz] = True
    if nz.size == 0:
        return F
    _, s, Vt = np.linalg.svd(X[nz], full_matrices=False)
    r = _svd_rank(X[nz], s)  # the package's one rank rule (patterns._svd_rank)
    Xr = X[nz] @ Vt[:r].T  # rank-r coordinates (same inner products with row(X))
    Ur = witnesses @ Vt[:r].T
    S = np.where(D[nz], 1.0, -1.0)  # (m, p)
    T = S * (Xr @ Ur.T)  # a_j^T u for every row and pattern
    inside = np.all(T > 0, axis=0)
    for k in np.flatnonzero(inside):
        Pk = (S[:, k, None] * Xr) / T[:, k, None]  # on the hyperplane u^T v = 1
        if r == 1:
            keep = np.array([0])
        else:
            u = Ur[k] / np.linalg.norm(Ur[k])
            Q, _ = np.linalg.qr(np.column_stack([u, np.eye(r)]))  # Q[:, 0] = ±u
            coords = Pk @ Q[:, 1:r]
            if r == 2:
                c = coords[:, 0]
                keep = np.array([np.argmin(c), np.argmax(c)])
            else:
                try:
                    keep = ConvexHull(coords).vertices
                except (QhullError, ValueError):
                    continue  # degenerate for Qhull: keep every row of this pattern
        F[nz, k] = False
        F[nz[keep], k] = True
    return F


_FACET_CACHE: dict[int, tuple] = {}


def _cached_facets(X: np.ndarray, chambers) -> np.ndarray:
    """Facets of a complete chamber list, cached per list object (they depend on X only through
    its zero rows), so that repeated certificates against one list pay for them once."""
    key = id(chambers)
    nzb = np.packbits(np.any(X != 0, axis=1)).tobytes()
    hit = _FACET_CACHE.get(key)
    if hit is not None and hit[0]() is chambers and hit[1] == nzb:
        return hit[2]
    F = _flip_facets(X, chambers.D, chambers.D)
    F.setflags(write=False)
    ref = weakref.ref(chambers, lambda _, k=key: _FACET_CACHE.pop(k, None))
    _FACET_CACHE[key] = (ref, nzb, F)
    return F


def _resolve_facets(X, D, patterns, facets):
    """Rows used for the projections: the given facets, the facets of a complete chamber list,
    or every nonzero row."""
    n = X.shape[0]
    if facets is not None:
        F = np.asarray(facets, dtype=bool)
        if F.shape != D.shape:
            raise InputError(f"facets must have shape {D.shape}, got {F.shape}")
        return F
    if _is_chamber_list(patterns):
        return _cached_facets(X, patterns)
    return np.broadcast_to(np.any(X != 0, axis=1)[:, None], (n, D.shape[1]))
