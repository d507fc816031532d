r"""Activation patterns D = diag(1[Xu ≥ 0]) of the data (SPEC §1.2, §1.3, §3).

The canonical list is the list of CHAMBER patterns: strict sign vectors s ∈ {±1}^n of the
full-dimensional cells of the central arrangement {x_j^T u = 0} (zero rows x_j = 0 get s_j = +1).
Each pattern comes with a witness direction u strictly inside its chamber.

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
resolved at rounding level); in the band just above it, a chamber too thin for any
double-precision witness raises a SolverError instead of being returned unverified. The rank is
numpy's ``matrix_rank`` rule (singular values > σ_max·max(n, d)·eps, :func:`_svd_rank`; the one
rank rule of the package).

Scale: every entry point first multiplies X by an exact power of two when its largest entry is
outside [2^-4, 2^4] (:func:`scale_exponent`), and rows are normalized after an exact per-row
power-of-two scaling (:func:`_unit_rows`). Patterns are invariant under positive scaling and the
scaling introduces no rounding, so data at 1e-310 (subnormal) or 1e300 give the patterns of the
same data at unit scale; data in the band are processed exactly as given.

Memory: exact enumeration and sampling are refused up front (InputError) when their estimated peak
memory (:func:`exact_memory`, :func:`sample_memory`; Cover's bound times the bytes per chamber of
the arrays above) exceeds :data:`MEMORY_FRACTION` of the memory the system reports available.

This module is pure (no data I/O; :func:`available_memory` queries the system). Disk caching lives
in :mod:`hiddenconvex.experiments.cache`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError, SolverError, check_matrix, check_seed

__all__ = [
    "Patterns",
    "MemoryEstimate",
    "DEFAULT_MAX_EXACT",
    "MEMORY_FRACTION",
    "DEFAULT_N_SAMPLES",
    "MAX_GE_FLATS",
    "cover_count",
    "cover_bound",
    "exact_chambers",
    "exact_ge_patterns",
    "sample_patterns",
    "enumerate_patterns",
    "exact_memory",
    "sample_memory",
    "available_memory",
    "scale_exponent",
    "pow2_scaled",
]

#: ``method="auto"`` enumerates exactly when Cover's bound on the number of chambers is at most
#: this. The exact enumeration itself is fast far beyond it (n = 400, r = 3: 159,602 chambers in
#: about a second); the limit is set by the consumer: the convex program has 2p blocks of d
#: variables and 2p·n cone constraints, and p = 20,000 (40,000 blocks) is about the largest list a
#: cvxpy/Clarabel solve handles in minutes for n ≈ 100. Above it, sampling keeps it tractable.
DEFAULT_MAX_EXACT = 20_000

#: Default number of Gaussian gates for ``method="sample"``: at most 5,000 distinct patterns, i.e. a
#: convex program a quarter the size of the largest exact one allowed by :data:`DEFAULT_MAX_EXACT`.
#: Sampled lists are incomplete; certify them with the dual check of SPEC §2.4.
DEFAULT_N_SAMPLES = 5_000

#: ``pattern_set="ge"`` enumerates the cells of every flat of the arrangement; it refuses
#: arrangements with more flats than this (InputError).
MAX_GE_FLATS = 5_000

_EPS = float(np.finfo(np.float64).eps)

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

#: Largest m·n·k of one matrix product A (m, k) @ B (k, n) in the hot loops. The products here are
#: thin (k = r or d), i.e. memory-bound; above roughly 3e5 OpenBLAS switches to threads, which on a
#: shared 2-core machine made them up to 40x slower (measured) instead of faster.
_GEMM_BLOCK = 1 << 18

#: Gates per sampling chunk; chunk c uses ``default_rng([seed, c])`` (prefix-stable streams).
_SAMPLE_CHUNK = 4096

#: Entries (patterns × rows) per block of the witness verification.
_VERIFY_BLOCK = 1 << 18


def _float_err(r: int) -> float:
    """Relative (to the permanent) error allowance of a computed r x r determinant."""
    return 4.0 * (r + 2) * _EPS


def _margin_tol(d: int) -> float:
    """Relative margin a witness must have: s_j x_j^T u > tol ‖x_j‖ ‖u‖ (sign beyond rounding)."""
    return 32.0 * max(d, 1) * _EPS


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


def _positive(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Boolean A @ B > 0 without materializing the float product (row blocks)."""
    m, n = A.shape[0], B.shape[1]
    out = np.empty((m, n), dtype=bool)
    step = max(1, (1 << 20) // max(n, 1))
    for i in range(0, m, step):
        np.greater(_mm(A[i:i + step], B), 0.0, out=out[i:i + step])
    return out


def _readonly(a, dtype) -> np.ndarray:
    """``a`` as a read-only array of ``dtype`` that no other object can modify: a private copy
    unless ``a`` already is read-only all the way down (memory layout kept, e.g. Fortran order)."""
    a = np.asarray(a, dtype=dtype)
    b = a
    while isinstance(b, np.ndarray):
        if b.flags.writeable:
            a = a.copy(order="K")
            break
        b = b.base
    else:
        if b is not None:  # a foreign buffer
            a = a.copy(order="K")
    a.setflags(write=False)
    return a


# ==================================================================================================
# Scale: one exact power-of-two rescaling for every scale-dependent decision

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


# ==================================================================================================
# Memory: one estimate for exact enumeration and sampling

#: An enumeration may plan to use at most this fraction of the memory the system reports as
#: available (:func:`available_memory`): the estimates of :func:`exact_memory` and
#: :func:`sample_memory` are approximate (the peaks measured with tracemalloc, ranks 2..7, are
#: 0.6x to 1x of them), and the consumers
#: of the list (facets, certificate, convex program) need memory on top of it.
MEMORY_FRACTION = 0.5


def available_memory() -> int | None:
    """Bytes available to new allocations, or None when the system does not say.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), lowered to the free part of a cgroup-v2 memory
    limit (``/sys/fs/cgroup/memory.max`` − ``memory.current``) when one is set; elsewhere
    ``os.sysconf`` available physical pages × page size. These are system queries, not data I/O.
    """
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                used = int(fh.read().strip())
            avail = min(avail, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


@dataclass(frozen=True)
class MemoryEstimate:
    """Planned memory of an enumeration (:func:`exact_memory`, :func:`sample_memory`).

    Attributes
    ----------
    method : {"exact", "sample"}
    n, rank : int
        Rows of X and the rank of its arrangement.
    count : int
        Upper bound on the number of patterns produced (Cover's bound; for sampling also
        ``n_samples``).
    nbytes : int
        Estimated peak bytes of the enumeration.
    available : int or None
        :func:`available_memory` (None: unknown, no limit applied).
    n_samples : int or None
    """

    method: str
    n: int
    rank: int
    count: int
    nbytes: int
    available: int | None
    n_samples: int | None = None

    @property
    def limit(self) -> int | None:
        """``MEMORY_FRACTION`` of the available memory (None: unknown)."""
        return None if self.available is None else int(self.available * MEMORY_FRACTION)

    @property
    def fits(self) -> bool:
        return self.limit is None or self.nbytes <= self.limit

    def needs(self) -> str:
        """What would be produced and the memory it needs against what is available."""
        avail = "an unknown amount of memory" if self.available is None else \
            f"{_fmt_bytes(self.available)} available (at most {MEMORY_FRACTION:.0%} may be used)"
        what = "chambers (Cover's bound)" if self.method == "exact" else "distinct patterns"
        return (f"up to {_fmt_count(self.count)} {what}, about {_fmt_count(self.nbytes)} bytes; "
                f"this machine has {avail}")

    def message(self) -> str:
        """One line: what would be produced, the memory it needs, what is available, what to do."""
        if self.method == "exact":
            return (f"exact enumeration of X (n={self.n}, rank {self.rank}) may produce "
                    f"{self.needs()}: use method='sample' (--method sample) or reduce the data")
        return (f"sampling {self.n_samples} gates of X (n={self.n}, rank {self.rank}) may produce "
                f"{self.needs()}: use fewer samples (--samples) or reduce the data")

    def require(self) -> None:
        """Raise :class:`~hiddenconvex.errors.InputError` with :meth:`message` unless it fits."""
        if not self.fits:
            raise InputError(self.message())


def _fmt_count(x: int) -> str:
    """Integers below 1e6 exactly, larger ones as 1.4e17."""
    if x < 10**6:
        return str(x)
    mant, exp = f"{float(x):.2g}".split("e")
    return f"{mant}e{int(exp)}"


def _fmt_bytes(x: int) -> str:
    return f"{x / 1e9:.3g} GB" if x >= 10**8 else f"{x / 1e6:.3g} MB"


def _exact_nbytes(n: int, d: int, r: int, L: int) -> tuple[int, int]:
    """(Cover's bound p̄, estimated peak bytes) of :func:`exact_chambers` on L distinct
    hyperplanes of rank r in R^d (n rows).

    The peak is the larger of two phases (``_ray_chambers``, then ``_finish_chambers``):

    * candidates (r ≥ 3): every (r−1)-subset of hyperplanes is a line with 2^(r−1) candidate sign
      vectors, each held as packed words (8W bytes, W = ⌈L/64⌉) and a ray (8r) in the per-chunk
      lists and once more concatenated, plus ~50 bytes of grouping indices (sort order, inverse,
      signs) and, for W > 1, three hash temporaries of 8W;
    * chambers: the pattern matrix (n bytes per chamber), the witnesses (8d, lifted and unit:
      16d), the sorted words and reduced witnesses with their ordering copies (24(W + r)); for
      r = 2 the (L, L) arc-sign matrix, its complement and their stack (2n per chamber).

    Measured with tracemalloc (n = 400/r = 3, 100/4, 40/5, 25/6, 18/7 in general position, and
    n = 2000/r = 2) the peak is 0.6x to 0.96x this estimate.
    """
    p = cover_count(L, r)
    W = max(1, (L + 63) // 64)
    per_chamber = n + 16 * d + 24 * (W + r) + 8 + (2 * n if r == 2 else 0)
    phase_chambers = p * per_chamber
    phase_candidates = 0
    if r >= 3:
        candidates = math.comb(L, r - 1) * 2 ** (r - 1)
        phase_candidates = candidates * (16 * (W + r) + 50 + (24 * W if W > 1 else 0))
    return p, max(phase_chambers, phase_candidates)


def _sample_nbytes(n: int, d: int, n_nonzero: int, r: int, n_samples: int) -> tuple[int, int]:
    """(bound on the distinct patterns, estimated peak bytes) of :func:`sample_patterns`.

    At most min(n_samples, Cover's bound) distinct patterns; each is held as the gate (8d) and the
    packed words (8W) in the per-block lists and once concatenated (16d + 16W), the words of the
    first occurrences (8W), the final gates and their read-only copy (16d), the pattern matrix,
    its unpacked temporary and the read-only copy (3n), and ~48 bytes of grouping indices
    (measured peak: 0.75x to 0.86x this estimate).
    """
    count = min(int(n_samples), cover_count(n_nonzero, r))
    W = max(1, (n_nonzero + 63) // 64)
    return count, count * (3 * n + 32 * d + 24 * W + 48)


def exact_memory(X) -> MemoryEstimate:
    """Memory estimate of ``exact_chambers(X)`` (one SVD of X; nothing is enumerated).

    Parameters
    ----------
    X : array, shape (n, d)

    Returns
    -------
    MemoryEstimate
        ``.fits`` says whether it fits in :data:`MEMORY_FRACTION` of the available memory,
        ``.message()`` explains a refusal.
    """
    X = check_matrix(X)
    return _exact_estimate(X.shape[0], X.shape[1], _reduce(pow2_scaled(X)[0]))


def _exact_estimate(n: int, d: int, red: _Reduced) -> MemoryEstimate:
    count, nbytes = _exact_nbytes(n, d, red.rank, red.H.shape[0])
    return MemoryEstimate("exact", n, red.rank, count, nbytes, available_memory())


def sample_memory(X, n_samples: int) -> MemoryEstimate:
    """Memory estimate of ``sample_patterns(X, n_samples, seed)`` (no gate is drawn).

    Parameters
    ----------
    X : array, shape (n, d)
    n_samples : int > 0

    Returns
    -------
    MemoryEstimate
    """
    X = check_matrix(X)
    n_samples = _check_samples(n_samples)
    Xs = pow2_scaled(X)[0]
    return _sample_estimate(Xs, n_samples, _svd_rank(Xs))


def _sample_estimate(Xs: np.ndarray, n_samples: int, r: int) -> MemoryEstimate:
    n, d = Xs.shape
    nnz = int(np.count_nonzero(np.any(Xs != 0, axis=1)))
    count, nbytes = _sample_nbytes(n, d, nnz, r, n_samples)
    return MemoryEstimate("sample", n, r, count, nbytes, available_memory(), n_samples)


@dataclass(frozen=True)
class Patterns:
    """An immutable list of p activation patterns of X (n rows, d columns).

    Attributes
    ----------
    D : bool array, shape (n, p)
        Column k is the diagonal of D_k.
    witnesses : array, shape (p, d)
        ``witnesses[k]`` generates pattern k: ``1[X u ≥ 0] == D[:, k]``. For chambers it lies
        strictly inside the chamber (``x_j^T u != 0`` for every nonzero row). For
        ``pattern_set="ge"`` it lies in the relative interior of a cell; rows with x_j^T u = 0 in
        exact arithmetic may evaluate to ±1e-16 in floating point.
    method : {"exact", "sample"}
        How the list was obtained.
    complete : bool
        True only when the list contains every chamber (exact enumeration; also after
        :meth:`nonzero`, which drops only the zero-fit pattern D = 0).
    rank : int
        rank(X) (the arrangement lives in R^rank, SPEC §1.3).
    pattern_set : {"chamber", "ge"}
        Chamber patterns (canonical) or the paper's ≥-pattern set.
    n_samples, seed : int or None
        Sampling parameters (``method == "sample"``).
    """

    D: np.ndarray
    witnesses: np.ndarray
    method: str
    complete: bool
    rank: int
    pattern_set: str = "chamber"
    n_samples: int | None = None
    seed: int | None = None

    def __post_init__(self):
        D = _readonly(self.D, bool)
        Wt = _readonly(self.witnesses, np.float64)
        if D.ndim != 2 or Wt.ndim != 2 or Wt.shape[0] != D.shape[1]:
            raise ValueError(f"inconsistent shapes D {D.shape}, witnesses {Wt.shape}")
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "witnesses", Wt)

    @property
    def n(self) -> int:
        return self.D.shape[0]

    @property
    def p(self) -> int:
        return self.D.shape[1]

    @property
    def d(self) -> int:
        return self.witnesses.shape[1]

    @property
    def signs(self) -> np.ndarray:
        """±1 sign vectors, shape (n, p) (``+1`` where D is 1)."""
        return np.where(self.D, 1, -1).astype(np.int8)

    def nonzero(self) -> Patterns:
        """Drop the zero pattern D = 0 (its blocks have zero fit, SPEC §3.2). ``complete`` is
        kept: the convex program over the remaining list is still exact."""
        keep = self.D.any(axis=0)
        return self.subset(np.flatnonzero(keep), complete=self.complete)

    def subset(self, index, complete: bool = False) -> Patterns:
        """Patterns ``index`` only (integer indices or a boolean mask of length p); a sub-list is
        not complete unless said so."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.p,):
                raise InputError(f"boolean pattern mask has shape {index.shape}, expected "
                                 f"({self.p},)")
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = np.zeros(0, dtype=np.intp)
        elif not np.issubdtype(index.dtype, np.integer):
            raise InputError(f"pattern indices must be integers, got dtype {index.dtype}")
        return Patterns(
            D=self.D[:, index], witnesses=self.witnesses[index], method=self.method,
            complete=complete, rank=self.rank, pattern_set=self.pattern_set,
            n_samples=self.n_samples, seed=self.seed,
        )

    def summary(self) -> dict:
        return {
            "n": self.n, "d": self.d, "rank": self.rank, "method": self.method,
            "pattern_set": self.pattern_set, "num_patterns": self.p, "complete": self.complete,
            "samples": self.n_samples, "seed": self.seed,
        }

    def to_record(self) -> dict:
        """Flat record for CSV writers (same keys as :meth:`summary`)."""
        return self.summary()


# ==================================================================================================
# Counting


def cover_count(n: int, r: int) -> int:
    r"""Cover's number :math:`2\sum_{k<r}\binom{n-1}{k}` of chambers of n hyperplanes in general
    position in R^r (SPEC §3.1); an upper bound for any n hyperplanes of rank r.

    ``r = 0`` (all rows zero) has exactly one chamber; ``n ≤ r`` gives 2^n.
    """
    for name, v in (("n", n), ("r", r)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise InputError(f"{name} must be a non-negative integer, got {v!r}")
    n, r = int(n), int(r)
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


# ==================================================================================================
# Reduction: rank (SVD) and distinct hyperplanes


@dataclass(frozen=True)
class _Reduced:
    rank: int  # rank of the arrangement: rank(X), less when rows parallel up to rounding merged
    lift: np.ndarray  # (k, r): original coordinates u = lift @ w (identity or orthonormal V_r)
    H: np.ndarray  # (L, r) unit normals of the distinct hyperplanes (reduced coordinates)
    rep: np.ndarray  # (m,) hyperplane of each row, -1 for zero rows
    orient: np.ndarray  # (m,) +1 / -1: row j is orient_j * (positive multiple of) h_rep
    Xw: np.ndarray  # (m, r) reduced rows (X itself when r = k)


def _svd_rank(A: np.ndarray, s: np.ndarray | None = None) -> int:
    """numpy's ``matrix_rank`` rule: singular values > σ_max·max(m, k)·eps (``s``: given ones)."""
    if s is None:
        s = np.linalg.svd(A, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > s[0] * max(A.shape) * _EPS))


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


# ==================================================================================================
# Bit-packed sign vectors


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


# ==================================================================================================
# Chambers of a central arrangement


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


def _expand(sH: np.ndarray, red: _Reduced) -> np.ndarray:
    """Hyperplane signs (p, L) -> row signs (p, m)."""
    p = sH.shape[0]
    m = red.rep.shape[0]
    out = np.ones((p, m), dtype=bool)
    nz = red.rep >= 0
    if np.any(nz):
        out[:, nz] = sH[:, red.rep[nz]] ^ (red.orient[nz] < 0)
    return out


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
    """Exact determinant of a square matrix of floats (rational arithmetic)."""
    A = [[Fraction(float(x)) for x in row] for row in rows]
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


# ==================================================================================================
# Witness verification and ordering


def _finish_chambers(X: np.ndarray, red: _Reduced, words: np.ndarray,
                     wit_w: np.ndarray) -> Patterns:
    """Order the chambers lexicographically, lift and verify their witnesses, build Patterns.

    ``words`` (p, W): hyperplane sign bits; ``wit_w`` (p, r): witnesses in reduced coordinates.
    Each witness u (lifted, unit) must reproduce its chamber on every nonzero row of X with a
    relative margin |x_j^T u| > tol·‖x_j‖ (:func:`_margin_tol`); failures are repaired by a
    max-margin LP (:func:`_repair`), which raises SolverError if the sign vector has no witness.
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
        return Patterns(D=np.ones((n, p), dtype=bool), witnesses=_default_witness(d, p),
                        method="exact", complete=True, rank=0)
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
        w = _repair(red, exp, tol)
        u = red.lift @ w
        Wt[b] = u / np.linalg.norm(u)
        if not np.min(np.where(exp, 1.0, -1.0) * (Xn @ Wt[b])) > tol:
            raise SolverError("exact chamber enumeration could not verify a witness "
                              "(numerically degenerate data)")
    Dt.setflags(write=False)
    Wt.setflags(write=False)
    return Patterns(D=Dt.T, witnesses=Wt, method="exact", complete=True, rank=red.rank)


def _repair(red: _Reduced, s_nz: np.ndarray, tol: float) -> np.ndarray:
    """Max-margin witness (reduced coordinates) of the sign vector ``s_nz`` (bool, nonzero rows)
    by an LP; raise SolverError if its margin is not above ``tol`` (not a chamber, or too thin)."""
    from scipy.optimize import linprog

    nz = red.rep >= 0
    A = _unit_rows(red.Xw[nz])
    s = np.where(s_nz, 1.0, -1.0)
    r = red.rank
    # max t  s.t.  s_j a_j^T w >= t,  -1 <= w <= 1
    c = np.zeros(r + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-(s[:, None] * A), np.ones((A.shape[0], 1))])
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(A.shape[0]), bounds=[(-1, 1)] * r + [(None, 1)],
                  method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                           "dual_feasibility_tolerance": 1e-10})
    w = res.x[:r] if res.status == 0 else np.zeros(r)
    nw = np.linalg.norm(w)
    if nw == 0 or np.min(s * (A @ w)) <= tol * nw:
        raise SolverError(
            "exact enumeration found a chamber too thin for a double-precision witness (LP "
            f"margin {(-res.fun if res.status == 0 else float('nan')):.3g}): some rows are "
            "parallel or concurrent only up to ~1e-12; round the data or use method='sample'"
        )
    return w


def _default_witness(d: int, p: int) -> np.ndarray:
    Wt = np.zeros((p, d))
    if d:
        Wt[:, 0] = 1.0
    return Wt


# ==================================================================================================
# Public API


def exact_chambers(X) -> Patterns:
    """Every chamber of the central arrangement {x_j^T u = 0} of the rows of X (SPEC §1.2, §3).

    Exact also for data not in general position (duplicated, parallel, anti-parallel and zero rows,
    many rows through one flat, integer grids) and for rank-deficient X (reduced to its rank r by
    SVD, SPEC §1.3). Algorithm and tolerances: module docstring.

    Parameters
    ----------
    X : array, shape (n, d)
        Finite data matrix.

    Returns
    -------
    Patterns
        ``method="exact"``, ``complete=True``, ``rank=rank(X)``, ``pattern_set="chamber"``.
        ``D`` (n, p): D[j, k] = 1 iff s_j = +1 in chamber k (zero rows: always 1). Columns are
        sorted lexicographically (row 0 first, 0 < 1); the list is closed under negation of the
        sign vector on nonzero rows, so p is even unless X = 0 (p = 1). ``witnesses`` (p, d):
        vectors in row(X) strictly inside each chamber (``sign(X u) == s`` with no zero on a
        nonzero row, relative margin above the rounding level), of unit norm: the sum of the
        chamber's unit extreme rays in reduced coordinates, lifted back and normalized (X = 0:
        the single chamber is R^d and its witness e_1). ``D`` is stored pattern-major
        (Fortran order: each column ``D[:, k]`` is contiguous); both arrays are read-only.
        The zero pattern D = 0 is included exactly when it is a chamber (no zero rows and
        {u : Xu < 0} ≠ ∅, e.g. with a bias column); drop it with :meth:`Patterns.nonzero`.

    Raises
    ------
    InputError
        X not a finite non-empty 2-D array; or the enumeration cannot fit in memory
        (:func:`exact_memory`: Cover's bound and the bytes it would need, checked before anything
        is enumerated).
    SolverError
        A chamber too thin for a verified double-precision witness (data degenerate only up to
        rounding; module docstring).
    """
    X = pow2_scaled(check_matrix(X))[0]  # patterns are invariant under positive scaling
    red = _reduce(X)
    _exact_estimate(X.shape[0], X.shape[1], red).require()
    words, wit_w = _essential_chambers(red.H, red.rank)
    return _finish_chambers(X, red, words, wit_w)


def _flats(H: np.ndarray, r: int, n: int) -> list:
    """All flats (intersections of hyperplanes) of an essential arrangement, breadth-first from
    R^r: list of (closure mask over the hyperplanes, orthonormal basis (r, dim)). Raises InputError
    beyond :data:`MAX_GE_FLATS` flats (checked before any chamber is enumerated)."""
    L = H.shape[0]

    def too_many():
        return InputError(
            "pattern_set='ge' is only supported for arrangements with at most "
            f"{MAX_GE_FLATS} flats (n = {n}, rank {r}, {L} distinct hyperplanes has more);"
            " use pattern_set='chamber'"
        )

    if L + 1 > MAX_GE_FLATS:
        raise too_many()
    top = (np.zeros(L, dtype=bool), np.eye(r))
    out, queue, seen = [top], [top], {top[0].tobytes()}
    origin = np.ones(L, dtype=bool)
    while queue:
        mask, B = queue.pop(0)
        kdim = B.shape[1]
        if kdim == 0:
            continue
        children = []
        if kdim == 1:  # a line meets any other hyperplane in {0}
            children.append((origin, np.zeros((r, 0))))
        else:
            R = H[~mask] @ B
            for j in range(R.shape[0]):
                Bn = B @ np.linalg.svd(R[j:j + 1])[2][1:].T  # basis of {u ∈ F : h_j^T u = 0}
                closure = np.linalg.norm(H @ Bn, axis=1) <= 64.0 * r * _EPS
                children.append((mask | closure, Bn))
        for closure, Bn in children:
            key = closure.tobytes()
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_GE_FLATS:
                raise too_many()
            out.append((closure, Bn))
            queue.append((closure, Bn))
    return out


def exact_ge_patterns(X) -> Patterns:
    """The paper's ≥-pattern set {1[Xu ≥ 0] : u ∈ R^d} (SPEC §1.2), exactly.

    Every cell (face) of the arrangement is a chamber of the arrangement restricted to a flat (an
    intersection of hyperplanes); the flats are enumerated breadth-first from R^r down to {0} and
    the chambers of each restriction are computed by the chamber routine. u = 0 gives D = I (all
    ones). The number of patterns is at least the number of chambers.

    Returns
    -------
    Patterns
        ``method="exact"``, ``complete=True``, ``pattern_set="ge"``; witnesses lie in the relative
        interior of a cell generating the pattern (see :class:`Patterns`).

    Raises
    ------
    InputError
        The arrangement has more than :data:`MAX_GE_FLATS` flats (not supported at that size).
    """
    X = pow2_scaled(check_matrix(X))[0]  # patterns are invariant under positive scaling
    red = _reduce(X)
    r, H, L = red.rank, red.H, red.H.shape[0]
    flats = _flats(H, r, X.shape[0])
    sigmas, wits = [], []
    for mask, B in flats:
        free = np.flatnonzero(~mask)
        if B.shape[1] == 0 or free.size == 0:  # the flat {0}: u = 0, all rows active
            sigmas.append(np.zeros((1, L), dtype=np.int8))
            wits.append(np.zeros((1, r)))
            continue
        sg, wk, _ = _chambers_of(H[free] @ B)  # chambers of the arrangement restricted to F
        sig = np.zeros((sg.shape[0], L), dtype=np.int8)
        sig[:, free] = np.where(sg, 1, -1)
        sigmas.append(sig)
        wits.append(wk @ B.T)
    sig = np.concatenate(sigmas)
    wit = np.concatenate(wits)
    n = X.shape[0]
    Dt = np.ones((sig.shape[0], n), dtype=bool)
    nz = red.rep >= 0
    Dt[:, nz] = (sig[:, red.rep[nz]] * red.orient[nz]) >= 0
    first, _ = _group_words(_pack(Dt))
    Dt, wit = Dt[first], wit[first]
    order = _lex_order_words(_pack(Dt))
    Wt = wit[order] @ red.lift.T if r else _default_witness(X.shape[1], len(order))
    nrm = np.linalg.norm(Wt, axis=1, keepdims=True)
    Wt = Wt / np.where(nrm > 0, nrm, 1.0)  # unit, except u = 0 for the pattern D = I
    return Patterns(D=Dt[order].T, witnesses=Wt, method="exact", complete=True, rank=r,
                    pattern_set="ge")


def sample_patterns(X, n_samples: int, seed: int) -> Patterns:
    """Chamber patterns hit by seeded Gaussian gates g ~ N(0, I_d): D = 1[X g ≥ 0] (SPEC §3.3).

    Deduplicated (first occurrence kept, in order of appearance), zero pattern D = 0 dropped (with
    zero rows in X, which are always active, D = 0 cannot occur and nothing is dropped).
    Gate i is row i % 4096 of ``default_rng([seed, i // 4096]).standard_normal((4096, d))``, so
    the gates of a run with fewer samples are a prefix of those of a run with more (the pattern
    list only grows).
    A gate within relative distance 32·d·eps of a hyperplane (probability ~1e-14) is skipped, so
    every pattern returned is a chamber and its gate lies strictly inside it.

    Parameters
    ----------
    X : array, shape (n, d)
    n_samples : int > 0
        Number of gates drawn.
    seed : int ≥ 0

    Returns
    -------
    Patterns
        ``method="sample"``, ``complete=False``, witnesses = the (first) gates that produced the
        patterns, ``n_samples`` and ``seed`` recorded.

    Raises
    ------
    InputError
        Bad arguments, or the pattern matrix of up to min(n_samples, Cover's bound) distinct
        patterns cannot fit in memory (:func:`sample_memory`, checked before any gate is drawn).
    """
    X = pow2_scaled(check_matrix(X))[0]  # patterns are invariant under positive scaling
    n_samples = _check_samples(n_samples)
    seed = check_seed(seed)
    rank = _svd_rank(X)
    _sample_estimate(X, n_samples, rank).require()
    n, d = X.shape
    nz = np.any(X != 0, axis=1)
    XnT = _unit_rows(X[nz]).T.copy()  # (d, nonzero rows)
    tol = _margin_tol(d)
    sub = max(1, (1 << 20) // max(XnT.shape[1], 1))  # gates per block: ~1e6 products
    gates, words = [], []
    for c in range((n_samples + _SAMPLE_CHUNK - 1) // _SAMPLE_CHUNK):
        G = np.random.default_rng([seed, c]).standard_normal((_SAMPLE_CHUNK, d))
        G = G[: min(_SAMPLE_CHUNK, n_samples - c * _SAMPLE_CHUNK)]
        for b0 in range(0, G.shape[0], sub):
            Gb = G[b0:b0 + sub]
            S = _mm(Gb, XnT)  # (gates, nonzero rows)
            sg = S > 0
            np.abs(S, out=S)
            keep = S.min(axis=1, initial=np.inf) > tol * np.linalg.norm(Gb, axis=1)
            keep &= sg.any(axis=1) | ~np.all(nz)  # drop D = 0 (only possible without zero rows)
            w = _pack(sg[keep])
            first, _ = _group_words(w)  # first occurrence within the block
            first.sort()
            gates.append(Gb[keep][first])
            words.append(w[first])
    G, w = np.concatenate(gates), np.concatenate(words)
    first, _ = _group_words(w)  # first occurrence overall
    first.sort()
    Dt = np.ones((first.size, n), dtype=bool)
    Dt[:, nz] = _unpack(w[first], int(np.count_nonzero(nz)))
    Wt = G[first]
    return Patterns(D=Dt.T, witnesses=Wt, method="sample", complete=False, rank=rank,
                    pattern_set="chamber", n_samples=n_samples, seed=seed)


def enumerate_patterns(X, method: str = "auto", *, n_samples: int | None = None, seed: int = 0,
                       pattern_set: str = "chamber",
                       max_exact: int = DEFAULT_MAX_EXACT) -> Patterns:
    """Activation patterns of X: exact chambers, sampled chambers, or the exact ≥-pattern set.

    Parameters
    ----------
    X : array, shape (n, d)
    method : {"auto", "exact", "sample"}
        ``"auto"``: exact when Cover's bound :func:`cover_bound` (distinct hyperplanes, rank r) is
        at most ``max_exact``, sampling otherwise. The result's ``method`` says which was used.
    n_samples : int, optional
        Gates for sampling (default :data:`DEFAULT_N_SAMPLES`).
    seed : int
        Sampling seed.
    pattern_set : {"chamber", "ge"}
        ``"chamber"`` (canonical, SPEC §1.2) or the paper's ≥-patterns (exact only, small
        arrangements: :func:`exact_ge_patterns`).
    max_exact : int
        Limit for ``method="auto"`` (default :data:`DEFAULT_MAX_EXACT`).

    Returns
    -------
    Patterns
    """
    X = check_matrix(X)
    n_samples, seed = _validate_args(method, n_samples, seed, pattern_set, max_exact)
    if method == "auto":
        bound = cover_bound(X)
        method = "exact" if bound <= max_exact else "sample"
        if method == "sample" and pattern_set == "ge":
            raise InputError(f"pattern_set='ge' needs exact enumeration, but Cover's bound {bound} "
                             f"exceeds max_exact = {max_exact}")
    if method == "exact":
        return exact_chambers(X) if pattern_set == "chamber" else exact_ge_patterns(X)
    return sample_patterns(X, DEFAULT_N_SAMPLES if n_samples is None else n_samples, seed)


def _validate_args(method, n_samples, seed, pattern_set, max_exact):
    """Check the parameters of :func:`enumerate_patterns`; return (n_samples, seed) normalized."""
    if method not in ("auto", "exact", "sample"):
        raise InputError(f"unknown pattern method {method!r} (use 'auto', 'exact' or 'sample')")
    if pattern_set not in ("chamber", "ge"):
        raise InputError(f"unknown pattern_set {pattern_set!r} (use 'chamber' or 'ge')")
    if isinstance(max_exact, bool) or not isinstance(max_exact, int | np.integer) or max_exact < 1:
        raise InputError(f"max_exact must be a positive integer, got {max_exact!r}")
    if method == "sample" and pattern_set == "ge":
        raise InputError("pattern_set='ge' is only available with method='exact'")
    seed = check_seed(seed)
    if n_samples is not None:
        n_samples = _check_samples(n_samples)
    return n_samples, seed


def _check_samples(n_samples) -> int:
    if (isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer)
            or n_samples < 1):
        raise InputError(f"n_samples must be a positive integer, got {n_samples!r}")
    return int(n_samples)
