"""Independent reference implementations for the tests (never call into hiddenconvex's algorithms).

* :func:`brute_chambers` — all chambers of the central arrangement {x_j^T u = 0} by brute force:
  every sign vector s ∈ {±1}^n, kept iff the LP {u : s_j x_j^T u >= 1 for x_j != 0} is feasible
  (scale invariance makes ">= 1" equivalent to "> 0"). Zero rows get s_j = +1 (SPEC §1.2).
  Cost 2^n LPs: n <= ~12.
* :func:`incremental_chambers` — the O(n p) incremental LP method of SPEC §3.3 (n up to a few
  dozen).
* :func:`zaslavsky_count` — number of chambers from the distinct hyperplanes by Zaslavsky/Whitney,
  Σ_{S ⊆ [L]} (−1)^{|S| − rank(H_S)}; O(2^L), L <= ~18.
* :func:`planar_points_count` — exact count for integer points of the plane with a bias column
  (rank 3), from their collinear subsets in integer arithmetic; any number of points.
* :func:`cover_count` — Cover's 2 Σ_{k<r} binom(n−1, k) for n points in general position in R^r.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linprog
from tolerances import EPS, rounding

from hiddenconvex import Patterns


def _feasible(signed_rows: np.ndarray) -> np.ndarray | None:
    """A point u with signed_rows @ u >= 1, or None (HiGHS LP)."""
    d = signed_rows.shape[1]
    if signed_rows.shape[0] == 0:
        return np.zeros(d)
    res = linprog(np.zeros(d), A_ub=-signed_rows, b_ub=-np.ones(signed_rows.shape[0]),
                  bounds=[(None, None)] * d, method="highs")
    return res.x if res.status == 0 else None


def _as_patterns(signs: list[np.ndarray], wit: list[np.ndarray], X: np.ndarray) -> Patterns:
    n, d = X.shape
    D = np.array(signs, dtype=float).T > 0 if signs else np.zeros((n, 0), bool)
    W = np.array(wit) if wit else np.zeros((0, d))
    return Patterns(D=D.reshape(n, -1), witnesses=W, method="exact", complete=True,
                    rank=int(np.linalg.matrix_rank(X)) if X.size else 0)


def brute_chambers(X) -> Patterns:
    """All chambers by trying every sign vector (2^m LPs, m = number of nonzero rows)."""
    X = np.asarray(X, dtype=float)
    n, _ = X.shape
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    signs, wit = [], []
    for s in itertools.product([1.0, -1.0], repeat=nz.size):
        s = np.array(s)
        u = _feasible(s[:, None] * X[nz])
        if u is not None:
            full = np.ones(n)
            full[nz] = s
            signs.append(full)
            wit.append(u)
    return _as_patterns(signs, wit, X)


def incremental_chambers(X) -> Patterns:
    """Chambers by the incremental LP method of SPEC §3.3 (one LP per partial sign vector and
    sign)."""
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    partial: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(d))]
    for t in range(nz.size):
        nxt = []
        for s, _ in partial:
            for sj in (1.0, -1.0):
                s2 = np.append(s, sj)
                u = _feasible(s2[:, None] * X[nz[: t + 1]])
                if u is not None:
                    nxt.append((s2, u))
        partial = nxt
    signs, wit = [], []
    for s, u in partial:
        full = np.ones(n)
        full[nz] = s
        signs.append(full)
        wit.append(u)
    return _as_patterns(signs, wit, X)


def distinct_hyperplanes(X, tol: float = 1e-12) -> np.ndarray:
    """Unit normals of the distinct hyperplanes x_j^⊥: zero rows dropped, rows whose unit vectors
    agree up to sign within ``tol`` (Euclidean distance) merged."""
    X = np.asarray(X, dtype=float)
    out: list[np.ndarray] = []
    for x in X:
        nrm = np.linalg.norm(x)
        if nrm == 0:
            continue
        v = x / nrm
        if not any(min(np.linalg.norm(v - w), np.linalg.norm(v + w)) <= tol for w in out):
            out.append(v)
    return np.array(out) if out else np.zeros((0, X.shape[1]))


def zaslavsky_count(X) -> int:
    """Number of chambers of the central arrangement of the rows of X (Zaslavsky/Whitney)."""
    H = distinct_hyperplanes(X)
    L = H.shape[0]
    if L > 20:
        raise ValueError(f"zaslavsky_count is O(2^L); L = {L} is too large")
    total = 0
    for size in range(L + 1):
        for S in itertools.combinations(range(L), size):
            rank = int(np.linalg.matrix_rank(H[list(S)])) if S else 0
            total += (-1) ** (size - rank)
    return total


def planar_points_count(points) -> int:
    """Chambers of the arrangement of the rows (x_j, y_j, 1) for INTEGER points of the plane (a 2-D
    point cloud with a bias column; duplicates count once), exactly, in integer arithmetic.

    A rank-3 central arrangement has 2 + 2 Σ_ℓ (m_ℓ − 1) chambers, the sum over its lines ℓ (rank-2
    flats) with m_ℓ hyperplanes through ℓ (Zaslavsky: Σ|μ| over the lattice, with
    μ(0) = −(1 − L + Σ_ℓ (m_ℓ − 1))). For the rows (p, 1), lines ↔ affine lines through ≥ 2 of the
    points and m_ℓ = the number of points on them. Needs ≥ 3 points, not all collinear.
    """
    pts = sorted({(int(a), int(b)) for a, b in points})
    lines: dict[tuple[int, int, int], set] = {}
    for (x1, y1), (x2, y2) in itertools.combinations(pts, 2):
        a, b = y2 - y1, x1 - x2
        c = -(a * x1 + b * y1)
        g = math.gcd(math.gcd(a, b), c)
        a, b, c = a // g, b // g, c // g
        if a < 0 or (a == 0 and b < 0):
            a, b, c = -a, -b, -c
        lines.setdefault((a, b, c), set()).update([(x1, y1), (x2, y2)])
    if len(lines) <= 1:
        raise ValueError("planar_points_count needs 3 or more points, not all on one line")
    return 2 + 2 * sum(len(on) - 1 for on in lines.values())


def cover_count(n: int, r: int) -> int:
    """Cover (1965): 2 Σ_{k<r} binom(n−1, k) chambers for n vectors in general position in R^r."""
    return 2 * sum(math.comb(n - 1, k) for k in range(r))


def sign_set(P: Patterns) -> set[bytes]:
    """The patterns of ``P`` as a set of byte strings (for order-free comparison)."""
    return {P.D[:, k].tobytes() for k in range(P.p)}


def qp_projection(g, A, with_active=False):
    """Π_{Au >= 0}(g) by brute force over active sets (independent of the NNLS route).

    The projection is the orthogonal projection of g onto the null space of some subset S of the
    rows (its active constraints); among the feasible candidates it is the one closest to g.
    A candidate counts as feasible when every row is ≥ −(rounding of A u: d-term dot products of
    size ‖A_j‖‖u‖, and of the null-space projection, κ(A_S) eps ‖g‖). ``with_active``: also
    return S (the active rows of the projection).
    """
    m, d = A.shape
    best, best_dist, best_S = None, np.inf, ()
    for size in range(0, min(m, d) + 1):
        for S in itertools.combinations(range(m), size):
            if S:
                _, s, Vt = np.linalg.svd(A[list(S)])
                rank = int(np.sum(s > s[0] * max(A.shape) * EPS))  # numerical rank
                N = Vt[rank:].T  # basis of null(A_S)
                u = N @ (N.T @ g)
                kappa = s[0] / s[rank - 1]
            else:
                u, kappa = g.copy(), 1.0
            slack = rounding(np.linalg.norm(A, axis=1) * np.linalg.norm(g), 16 * d) * kappa
            if np.all(A @ u >= -slack):
                dist = np.linalg.norm(u - g)
                if dist < best_dist - rounding(np.linalg.norm(g), 16 * d):
                    best, best_dist, best_S = u, dist, S
    return (best, best_S) if with_active else best


def projection_error(g, A, S) -> float:
    """Rounding bound of a projection onto {Au ≥ 0} with active rows S, by either route (NNLS on
    the polar cone, or the null space of A_S): both solve a least-squares problem on A_S, which
    is backward stable, so the error is ≲ c·eps·κ(A_S)·‖g‖ with c = 16(m + d)."""
    m, d = A.shape
    kappa = 1.0
    if len(S):
        sv = np.linalg.svd(A[list(S)], compute_uv=False)
        sv = sv[sv > sv[0] * max(A.shape) * EPS]
        kappa = sv[0] / sv[-1]
    return rounding(np.linalg.norm(g), 16 * (m + d)) * kappa


def scipy_block_correlations(X, lam, D, F=None) -> np.ndarray:
    """‖Π_{C_b}(γ_b X^T D_b λ)‖ of every block (2p,) by SciPy's NNLS on the polar cone, on the
    rows ``F[:, k]`` (default: every nonzero row). Block order: γ = +1 for all patterns, then
    γ = −1. SciPy stops at its own tolerance: the value is a polar point's residual (μ ≥ 0), so
    it is an upper bound on the exact value (up to rounding), close to it but not exact (up to
    ~5e-10·‖g‖ where Π(g) = 0, measured)."""
    from scipy.optimize import nnls

    X = np.asarray(X, dtype=float)
    D = np.asarray(D, dtype=bool)
    n, p = D.shape
    nz = np.any(X != 0, axis=1)
    out = np.zeros(2 * p)
    for k in range(p):
        rows = nz if F is None else (np.asarray(F)[:, k] & nz)
        A = np.where(D[rows, k], 1.0, -1.0)[:, None] * X[rows]
        g = X.T @ (D[:, k] * lam)
        for s, gamma in enumerate((1.0, -1.0)):
            if A.shape[0] == 0:
                out[s * p + k] = np.linalg.norm(g)
                continue
            mu, _ = nnls(A.T, -gamma * g, maxiter=100 * max(50, A.shape[0]))
            out[s * p + k] = np.linalg.norm(gamma * g + A.T @ mu)
    return out


def qhull_facets(X, D, witnesses) -> np.ndarray:
    """Facet rows (n, p) of each chamber cone by Qhull: the facets of C = {u : a_j^T u ≥ 0}
    (a_j = s_j x_j) are the extreme rays of its polar generators, i.e. the vertices of the convex
    hull of a_j / a_j^T w in the affine hyperplane w^T v = 1 (w the strictly interior witness),
    computed in rank(X) − 1 coordinates. Patterns whose witness is not strictly inside keep every
    nonzero row. Exact up to Qhull's rounding tolerance."""
    from scipy.spatial import ConvexHull

    X = np.asarray(X, dtype=float)
    D = np.asarray(D, dtype=bool)
    W = np.asarray(witnesses, dtype=float)
    n, p = D.shape
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    F = np.zeros((n, p), dtype=bool)
    F[nz] = True
    if nz.size == 0:
        return F
    _, s, Vt = np.linalg.svd(X[nz], full_matrices=False)
    r = int(np.sum(s > s[0] * max(X[nz].shape) * EPS))
    Xr, Ur = X[nz] @ Vt[:r].T, W @ Vt[:r].T
    S = np.where(D[nz], 1.0, -1.0)
    T = S * (Xr @ Ur.T)
    for k in np.flatnonzero(np.all(T > 0, axis=0)):
        Pk = (S[:, k, None] * Xr) / T[:, k, None]
        if r == 1:
            keep = np.array([0])
        else:
            u = Ur[k] / np.linalg.norm(Ur[k])
            Q, _ = np.linalg.qr(np.column_stack([u, np.eye(r)]))
            coords = Pk @ Q[:, 1:r]
            if r == 2:
                keep = np.array([np.argmin(coords[:, 0]), np.argmax(coords[:, 0])])
            else:
                keep = ConvexHull(coords).vertices
        F[nz, k] = False
        F[nz[keep], k] = True
    return F
