"""Numerical building blocks shared by the core: the one rank rule, exact power-of-two scaling,
blocked thin matrix products.

* :func:`_svd_rank` — THE numerical-rank rule of the package (numpy's ``matrix_rank``: singular
  values > σ_max·max(m, k)·eps); every rank decision (patterns, the convex program's reduction,
  facets, certificates) uses it.
* Scale: every entry point first multiplies X by an exact power of two when its largest entry is
  outside [2^-4, 2^4] (:func:`scale_exponent`), and rows are normalized after an exact per-row
  power-of-two scaling (:func:`_unit_rows`). Patterns are invariant under positive scaling and the
  scaling introduces no rounding, so data at 1e-310 (subnormal) or 1e300 give the patterns of the
  same data at unit scale; data in the band are processed exactly as given.
* :func:`_mm` — thin products in blocks so that BLAS stays single-threaded (:data:`_GEMM_BLOCK`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .errors import InputError

__all__ = ["scale_exponent", "pow2_scaled"]

_EPS = float(np.finfo(np.float64).eps)


#: Largest m·n·k of one matrix product A (m, k) @ B (k, n) in the hot loops. The products here are
#: thin (k = r or d), i.e. memory-bound; above roughly 3e5 OpenBLAS switches to threads, which on a
#: shared 2-core machine made them up to 40x slower (measured) instead of faster.
_GEMM_BLOCK = 1 << 18


def _mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B in blocks of at most :data:`_GEMM_BLOCK` multiply-adds (single-threaded BLAS)."""
    m, k = A.shape
    n = B.shape[1]
    if m * n * k <= _GEMM_BLOCK:
        return A @ B
    rb = max(1, min(m, _GEMM_BLOCK // max(n * k, 1)))
    cb = n if rb > 1 else max(1, _GEMM_BLOCK // max(k, 1))
    out = np.empty((m, n), dtype=np.result_type(A, B))
    for i in range(0, m, rb):
        for j in range(0, n, cb):
            np.matmul(A[i:i + rb], B[:, j:j + cb], out=out[i:i + rb, j:j + cb])
    return out


def _svd_rank(A: np.ndarray, s: np.ndarray | None = None) -> int:
    """numpy's ``matrix_rank`` rule: singular values > σ_max·max(m, k)·eps (``s``: given ones)."""
    if s is None:
        s = np.linalg.svd(A, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > s[0] * max(A.shape) * _EPS))


#: Data whose largest entry lies in [2^-_SCALE_BAND, 2^_SCALE_BAND] are used as given; others are
#: multiplied by the power of two that brings the largest entry into [1, 2)
#: (:func:`scale_exponent`).
#: Every data set of the repository lies in the band (max |x_ij| between 1 and 12.1), so their
#: results are bit-for-bit those of the unscaled code; interior-point solves of the convex program
#: lose accuracy outside it (measured: logistic loss at max |x_ij| = 2^-8 ~ 8e-6 relative error,
#: not certified; Clarabel fails at 2^30).
_SCALE_BAND = 4


def scale_exponent(A) -> int:
    """Exponent e of the exact rescaling A·2^-e used before scale-dependent numerical decisions.

    ``0`` when A = 0 or max |a_ij| lies in [2^-4, 2^4]; otherwise the e with
    max |a_ij·2^-e| in [1, 2). Multiplying by a power of two introduces no rounding (barring
    entries more than 2^1074 below the largest, see :func:`pow2_scaled`), and chambers, patterns
    and numerical ranks are invariant under positive scaling; a convex program on (c·X, β) equals
    the one on (X, β/c) with weights w_X = c·w_{cX} (SPEC §2.1, homogeneity).

    Parameters
    ----------
    A : array, any shape
        Finite entries.

    Returns
    -------
    int
    """
    m = float(np.max(np.abs(A), initial=0.0))
    if m == 0.0 or 2.0 ** -_SCALE_BAND <= m <= 2.0 ** _SCALE_BAND:
        return 0
    return math.frexp(m)[1] - 1  # m = f·2^E, f in [1/2, 1): m·2^-(E-1) in [1, 2)


def pow2_scaled(A: np.ndarray, name: str = "X") -> tuple[np.ndarray, int]:
    """``(A·2^-e, e)`` with e = :func:`scale_exponent` (``A`` itself when e = 0).

    Raises
    ------
    InputError
        A nonzero row of A would become zero (entries more than 2^1074 below the largest entry
        of A: no double-precision scale holds both).
    """
    e = scale_exponent(A)
    if e == 0:
        return A, 0
    As = np.ldexp(A, -e)
    if A.ndim == 2:
        lost = np.any(A != 0, axis=1) & ~np.any(As != 0, axis=1)
        if np.any(lost):
            j = int(np.flatnonzero(lost)[0])
            raise InputError(
                f"{name} spans too many orders of magnitude: row {j} is more than 2^1074 times "
                f"smaller than the largest entry ({np.max(np.abs(A)):.3g}); rescale or drop it"
            )
    return As, e


def _ldexp(x: float, e: int) -> float:
    """x·2^e as a float, ±inf on overflow (``math.ldexp`` raises OverflowError)."""
    try:
        return math.ldexp(x, e)
    except OverflowError:
        return math.copysign(math.inf, x)


def _unit_rows(A: np.ndarray) -> np.ndarray:
    """Rows of A (m, k) divided by their Euclidean norms; zero rows stay zero.

    Each row is first scaled by an exact power of two (largest entry in [1/2, 1)), so the norm
    neither underflows nor overflows (rows of size 1e-170 or 1e170); for rows where it would not
    have, the result is bit-for-bit ``A / norm(A)``.
    """
    m = np.max(np.abs(A), axis=1, initial=0.0)
    e = np.frexp(m)[1]
    As = np.ldexp(A, -e[:, None])
    nrm = np.linalg.norm(As, axis=1, keepdims=True)
    return As / np.where(nrm > 0, nrm, 1.0)


def float_det_exact(A) -> Fraction:
    """Exact determinant of a square matrix of floats, as a Fraction. Every float is an integer
    times a power of two, so the matrix is 2^-s times an integer matrix (s the largest binary
    denominator exponent); its determinant is taken by Bareiss' fraction-free elimination in
    Python integers (every division exact), about 6x faster than :func:`fraction_det` on 5 x 5
    (both exact; tests/test_linalg.py compares them)."""
    ratios = [[float(x).as_integer_ratio() for x in row] for row in A]
    n = len(ratios)
    if n == 0:
        return Fraction(1)
    shift = max(q.bit_length() - 1 for row in ratios for _, q in row)  # q = 2^(bit_length-1)
    M = [[p << (shift - (q.bit_length() - 1)) for p, q in row] for row in ratios]
    sign, prev = 1, 1
    for k in range(n - 1):
        if M[k][k] == 0:
            piv = next((i for i in range(k + 1, n) if M[i][k] != 0), None)
            if piv is None:
                return Fraction(0)
            M[k], M[piv] = M[piv], M[k]
            sign = -sign
        mkk = M[k][k]
        for i in range(k + 1, n):
            mik = M[i][k]
            Mi, Mk = M[i], M[k]
            for j in range(k + 1, n):
                Mi[j] = (Mi[j] * mkk - mik * Mk[j]) // prev
        prev = mkk
    return Fraction(sign * M[n - 1][n - 1], 1 << (shift * n))


def fraction_det(A) -> Fraction:
    """Exact determinant of a square matrix of Fractions (Gaussian elimination in rational
    arithmetic; the one exact determinant of the package)."""
    A = [list(row) for row in A]
    n = len(A)
    det = Fraction(1)
    for c in range(n):
        piv = next((i for i in range(c, n) if A[i][c] != 0), None)
        if piv is None:
            return Fraction(0)
        if piv != c:
            A[c], A[piv] = A[piv], A[c]
            det = -det
        det *= A[c][c]
        for i in range(c + 1, n):
            f = A[i][c] / A[c][c]
            if f:
                A[i] = [A[i][j] - f * A[c][j] for j in range(n)]
    return det
