r""""Activation patterns D = diag(1[Xu ≥ 0]) of the data (SPEC §1.2, §1.3, §3).

The canonical list is the list of CHAMBER patterns: strict sign vectors s ∈ {±1}^n of the
full-dimensional cells of the central arrangement {x_j^T u = 0} (zero rows x_j = 0 get s_j = +1).
Each pattern comes with a witness direction u strictly inside its chamber.

Exact enumeration streams: :func:`iter_chambers` yields every chamber exactly once, in chunks of
bounded size, by the canonical-ray method of :mod:`hiddenconvex._canonical_rays` (each chamber is
emitted at one of its extreme rays, the lexicographic minimizer of a fixed linear objective over
the chamber, decided by a test at that ray alone; numba kernels with rigorous rounding bounds and
an exact rational fallback) on the arrangement reduced to its rank and distinct hyperplanes
(:mod:`hiddenconvex._arrangement`). :func:`count_chambers` counts without building patterns;
:func:`exact_chambers` collects the stream and sorts its columns lexicographically (row 0 first,
False < True). Every chamber has a witness verified strictly inside it, and degenerate data
(duplicated, parallel, zero rows, many hyperplanes through one line, integer grids) are handled
exactly (tolerances: :mod:`hiddenconvex._arrangement`). iris (150 x 4, 1,080,590 chambers) streams
in about a second (``scripts/bench_enumeration.py``). The extreme-ray method of
:mod:`hiddenconvex._extreme_rays` (all candidates at all lines, then a global dedupe) remains for
the ≥-pattern set, for the small local arrangements at degenerate lines, and as a test oracle.
The ≥-pattern set itself (:func:`exact_ge_patterns`, :data:`MAX_GE_FLATS`) lives in
:mod:`hiddenconvex._ge_patterns` and is re-exported here.
Sampling (:func:`sample_patterns`) draws seeded Gaussian gates.

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
from dataclasses import dataclass

import numpy as np

from . import _canonical_rays
from ._arrangement import (
    _finish_chambers,
    _group_words,
    _lex_order_words,
    _margin_tol,
    _pack,
    _reduce,
    _unpack,
    cover_bound,
    cover_count,
)
from ._extreme_rays import _essential_chambers
from ._ge_patterns import MAX_GE_FLATS, exact_ge_patterns
from ._linalg import _mm, _svd_rank, _unit_rows, pow2_scaled, scale_exponent
from ._memory import (
    MEMORY_FRACTION,
    MemoryEstimate,
    _check_samples,
    _exact_estimate,
    _sample_estimate,
    available_memory,
    exact_memory,
    sample_memory,
)
from .errors import InputError, SolverError, check_int, check_matrix, check_seed

__all__ = [
    "METHODS",
    "PATTERN_SETS",
    "Patterns",
    "MemoryEstimate",
    "DEFAULT_MAX_EXACT",
    "MEMORY_FRACTION",
    "DEFAULT_N_SAMPLES",
    "MAX_GE_FLATS",
    "cover_count",
    "cover_bound",
    "exact_chambers",
    "iter_chambers",
    "count_chambers",
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

#: How a pattern list is obtained: exact chambers, sampled gates, or exact when Cover's bound is at
#: most :data:`DEFAULT_MAX_EXACT`.
METHODS = ("auto", "exact", "sample")

#: Chamber patterns (canonical, SPEC §1.2) or the paper's ≥-pattern set.
PATTERN_SETS = ("chamber", "ge")


#: Default number of Gaussian gates for ``method="sample"``: at most 5,000 distinct patterns, i.e. a
#: convex program a quarter the size of the largest exact one allowed by :data:`DEFAULT_MAX_EXACT`.
#: Sampled lists are incomplete; certify them with the dual check of SPEC §2.4.
DEFAULT_N_SAMPLES = 5_000


#: Gates per sampling chunk; chunk c uses ``default_rng([seed, c])`` (prefix-stable streams).
_SAMPLE_CHUNK = 4096


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


def exact_chambers(X) -> Patterns:
    """Every chamber of the central arrangement {x_j^T u = 0} of the rows of X (SPEC §1.2, §3).

    Exact also for data not in general position (duplicated, parallel, anti-parallel and zero rows,
    many rows through one flat, integer grids) and for rank-deficient X (reduced to its rank r by
    SVD, SPEC §1.3). Algorithm and tolerances: module docstring; the chambers come from
    :func:`iter_chambers`, sorted. If the stream cannot verify a witness (its witnesses lie near
    an extreme ray; chambers thinner than ~1e-8, such as clusters of near-duplicate rows in rank
    ≥ 4, can defeat the LP repair), the extreme-ray method with its centred witnesses is used
    instead, when its candidate table fits in memory.

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
        nonzero row, relative margin above the rounding level), of unit norm: for rank ≥ 3 a
        point near the extreme ray at which the stream emits the chamber (v + ε w, w inside the
        chamber's tangent cone at v, ε half the distance to the nearest other hyperplane; see
        :func:`iter_chambers`), for rank 2 the bisector of the chamber's two boundary rays;
        lifted back and normalized (X = 0: the single chamber is R^d and its witness e_1).
        ``D`` is stored pattern-major (Fortran order: each column ``D[:, k]`` is contiguous);
        both arrays are read-only.
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
    n = X.shape[0]
    red = _reduce(X)
    est = _exact_estimate(n, X.shape[1], red)
    est.require()
    try:
        words, wits = [], []
        for D, W in _canonical_rays.iter_chambers(X, chunk=_exact_chunk(est.count)):
            words.append(_pack(D.T))  # D.T: (c, n) C-contiguous rows; packed bit j = row j
            wits.append(W)
    except SolverError:
        # The stream's witnesses lie near an extreme ray; in chambers thinner than ~1e-8 (e.g.
        # clusters of near-duplicate rows in rank ≥ 4) the LP repair can fail where the centred
        # witnesses of the extreme-ray method (sum of all unit extreme rays) pass. That method
        # holds every candidate at once: used only if its candidate table fits too.
        del words, wits
        if not _extreme_ray_fits(n, red, est):
            raise
        words, wit_w = _essential_chambers(red.H, red.rank)
        D, W = _finish_chambers(X, red, words, wit_w)
        return Patterns(D=D, witnesses=W, method="exact", complete=True, rank=red.rank)
    words = np.concatenate(words)
    wits = np.concatenate(wits)
    # lexicographic order of the columns (row 0 first, False < True); zero rows are constant
    order = _lex_order_words(words)
    words = words[order]
    Wt = wits[order]
    del wits
    Dt = _unpack(words, n)  # (p, n), a bool view of a fresh uint8 array
    del words
    Dt.base.setflags(write=False)  # read-only all the way down: Patterns keeps it without a copy
    Dt.setflags(write=False)
    Wt.setflags(write=False)
    return Patterns(D=Dt.T, witnesses=Wt, method="exact", complete=True, rank=red.rank)


def _extreme_ray_fits(n: int, red, est) -> bool:
    """Does the candidate table of the extreme-ray method (binom(L, r − 1)·2^(r − 1) sign vectors
    of 16(W + r) + 50 bytes, W = ⌈L/64⌉) fit in the memory limit of ``est``?"""
    r, L = red.rank, red.H.shape[0]
    W = max(1, (L + 63) // 64)
    need = math.comb(L, r - 1) * 2 ** (r - 1) * (16 * (W + r) + 50) if r >= 3 else 0
    return est.limit is None or max(need, est.nbytes) <= est.limit


#: Chambers per chunk of the stream collected by :func:`exact_chambers` (at most Cover's bound).
_EXACT_CHUNK = 65536


def _exact_chunk(bound: int) -> int:
    """Chunk size of :func:`exact_chambers`' stream: :data:`_EXACT_CHUNK`, or Cover's bound if
    smaller (the chunk buffers are allocated at full size)."""
    return max(1, min(_EXACT_CHUNK, int(bound)))


def iter_chambers(X, chunk: int = 65536):
    """Every chamber of the central arrangement of the rows of X, exactly once, in chunks.

    The same set as :func:`exact_chambers` (SPEC §1.2, §1.3, §3), streamed: memory is bounded by
    the chunk (a buffer of about chunk·(n + 8d) bytes), not by the number of chambers, so
    arrangements of tens of millions of chambers can be priced or counted chunk by chunk.
    Algorithm: the canonical-ray method (each chamber is emitted at exactly one of its extreme
    rays, chosen by a test at that ray; :mod:`hiddenconvex._canonical_rays`). The first call in a
    fresh installation compiles the numba kernels (tens of seconds; cached on disk afterwards).

    Parameters
    ----------
    X : array, shape (n, d)
        Finite data matrix.
    chunk : int > 0
        Chambers per chunk (at most; the last chunk may be smaller).

    Yields
    ------
    D : bool array, shape (n, c)
        D[j, k] = 1 iff s_j = +1 in chamber k (zero rows: always 1), Fortran-ordered (each column
        contiguous) like :attr:`Patterns.D`. Chunks are in scan order, not lexicographic; across
        all chunks every chamber appears exactly once.
    witnesses : array, shape (c, d)
        Unit vectors in row(X) strictly inside each chamber (``sign(X u)`` equals the column on
        every nonzero row, relative margin 32·d·eps), verified as in :func:`exact_chambers` —
        except for a chamber that has no such double-precision point (thinner than the margin,
        or a chamber only of the arrangement as resolved at rounding level; data concurrent up
        to ~1e-13, e.g. 30 of the 39,346,636 chambers of iris with a bias column), whose witness
        is the zero vector: the chamber is listed, its witness says nothing (no false witness is
        ever returned; consumers such as :func:`hiddenconvex.facets.facet_rows` and the pricing
        treat a point that is not strictly inside as no witness).

    Raises
    ------
    InputError
        X not a finite non-empty 2-D array, or ``chunk`` not a positive integer (raised at the
        call, before anything is enumerated).

    Notes
    -----
    No memory check is made (the stream's memory does not grow with the count); the time is
    proportional to the number of chambers plus binom(L, r − 1) line tests (L distinct
    hyperplanes, r = rank). Cover's bound :func:`cover_bound` bounds the number of chambers.
    Known limitation: on data concurrent only up to ~1e-12 the determinant rule's decisions can
    be inconsistent (they would stream a few chambers twice or not at all: iris with a bias
    column, 158 repeated columns of 39,346,636). The stream detects this and raises SolverError
    (:mod:`hiddenconvex._canonical_rays`, "Exactness"): such data need ``patterns="sample"``
    with the search bound.
    """
    X = check_matrix(X)
    chunk = check_int(chunk, "chunk", 1, what="a positive integer")
    return _canonical_rays.iter_chambers(X, chunk=chunk, thin="zero")


def count_chambers(X) -> int:
    """Number of chambers of the central arrangement of the rows of X (= ``exact_chambers(X).p``).

    Counts with the stream's canonical test without building patterns or witnesses: memory
    independent of the count, faster than :func:`iter_chambers`.

    Parameters
    ----------
    X : array, shape (n, d)
        Finite data matrix.

    Returns
    -------
    int
        The number of chambers (1 for X = 0; at most :func:`cover_bound`).

    Raises
    ------
    InputError
        X not a finite non-empty 2-D array.
    """
    return _canonical_rays.count_chambers(check_matrix(X))




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
    if method not in METHODS:
        raise InputError(f"unknown pattern method {method!r} (use 'auto', 'exact' or 'sample')")
    if pattern_set not in PATTERN_SETS:
        raise InputError(f"unknown pattern_set {pattern_set!r} (use 'chamber' or 'ge')")
    check_int(max_exact, "max_exact", 1, what="a positive integer")
    if method == "sample" and pattern_set == "ge":
        raise InputError("pattern_set='ge' is only available with method='exact'")
    seed = check_seed(seed)
    if n_samples is not None:
        n_samples = _check_samples(n_samples)
    return n_samples, seed

