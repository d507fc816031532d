"""Memory guard of the pattern enumerations: one estimate, checked before any allocation.

Memory: exact enumeration and sampling are refused up front (InputError) when their estimated peak
memory (:func:`exact_memory`, :func:`sample_memory`; Cover's bound times the bytes per chamber of
the arrays above) exceeds :data:`MEMORY_FRACTION` of the memory the system reports available.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._arrangement import _reduce, _Reduced, cover_count
from ._linalg import _svd_rank, pow2_scaled
from .errors import InputError, check_int, check_matrix

__all__ = ["MEMORY_FRACTION", "MemoryEstimate", "available_memory", "exact_memory", "sample_memory"]

#: An enumeration may plan to use at most this fraction of the memory the system reports as
#: available (:func:`available_memory`): the estimates of :func:`exact_memory` and
#: :func:`sample_memory` are approximate (the peaks measured with tracemalloc, ranks 2..6, are
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

    :func:`exact_chambers` collects the chamber stream (:func:`hiddenconvex.patterns.iter_chambers`)
    and sorts it; the peak is the larger of its phases, per chamber (W = ⌈n/64⌉ words per packed
    pattern):

    * sorting: the packed patterns and the witnesses (8W + 8d), the byte-reversed sort keys and
      their word copy (16W) and the order (8), plus sort temporaries (8): 24W + 8d + 16;
    * reordering: both copies of the packed patterns and of the witnesses and the order:
      16W + 16d + 8;
    * unpacking: the sorted packed patterns, the sorted witnesses and the pattern matrix:
      8W + 8d + n;
    * rank 2 only: the (L, L) arc-sign matrix, its complement and their stack (2n per chamber);

    plus, for rank ≥ 3, the stream's chunk buffer (chunk·(n + 8d + 1) bytes, chunk = min(65536,
    p̄), half as much again for carried and pending rows) and its buffer of 4096 deferred subsets
    (8r + 8(r − 1) + 8 + 2L bytes each), and 128 kB of work arrays. Cover's bound and the
    per-chamber bytes are taken 10 % high (hash and sort temporaries vary with the data).

    Measured with tracemalloc (n = 60/r = 4, 400/3, 100/4, 40/5, 25/6 in general position, iris
    150/4, n = 2000/r = 2, n = 12/r = 3) the peak is 0.7x to 0.9x this estimate.
    """
    p = cover_count(L, r)
    W = max(1, (n + 63) // 64)
    per_chamber = max(24 * W + 8 * d + 16, 16 * W + 16 * d + 8, 8 * W + 8 * d + n)
    per_chamber += 2 * n if r == 2 else 0
    fixed = 1 << 17
    if r >= 3:
        chunk = min(65536, p)
        fixed += 3 * chunk * (n + 8 * d + 1) // 2 + 4096 * (16 * r + 2 * L)
    return p, (11 * p * per_chamber) // 10 + fixed


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


def _check_samples(n_samples) -> int:
    return check_int(n_samples, "n_samples", 1, what="a positive integer")
