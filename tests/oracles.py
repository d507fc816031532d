"""Independent reference implementations for the tests (never call into hiddenconvex's algorithms).

* :func:`brute_chambers` — all chambers of the central arrangement {x_j^T u = 0} by brute force:
  every sign vector s ∈ {±1}^n, kept iff the LP {u : s_j x_j^T u >= 1 for x_j != 0} is feasible
  (scale invariance makes ">= 1" equivalent to "> 0"). Zero rows get s_j = +1 (SPEC §1.2).
  Cost 2^n LPs: n <= ~12.
* :func:`incremental_chambers` — the O(n p) incremental LP method of SPEC §3.3 (n up to a few dozen).
* :func:`zaslavsky_count` — number of chambers from the distinct hyperplanes by Zaslavsky/Whitney,
  Σ_{S ⊆ [L]} (−1)^{|S| − rank(H_S)}; O(2^L), L <= ~18.
* :func:`cover_count` — Cover's 2 Σ_{k<r} binom(n−1, k) for n points in general position in R^r.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linprog

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
    """Chambers by the incremental LP method of SPEC §3.3 (one LP per partial sign vector and sign)."""
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    nz = np.flatnonzero(np.any(X != 0, axis=1))
    partial: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(d))]
    for t, j in enumerate(nz):
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
    """Normals of the distinct hyperplanes x_j^⊥ (zero rows dropped, parallel and anti-parallel merged)."""
    X = np.asarray(X, dtype=float)
    out: list[np.ndarray] = []
    for x in X:
        nrm = np.linalg.norm(x)
        if nrm == 0:
            continue
        v = x / nrm
        if not any(abs(abs(v @ w) - 1.0) <= tol for w in out):
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


def cover_count(n: int, r: int) -> int:
    """Cover (1965): 2 Σ_{k<r} binom(n−1, k) chambers for n vectors in general position in R^r."""
    return 2 * sum(math.comb(n - 1, k) for k in range(r))


def sign_set(P: Patterns) -> set[bytes]:
    """The patterns of ``P`` as a set of byte strings (for order-free comparison)."""
    return {P.D[:, k].tobytes() for k in range(P.p)}
