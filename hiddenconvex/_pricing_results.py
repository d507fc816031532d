r"""The records of exact batch pricing (SPEC §2.4): per-block status codes, :class:`ChunkPrice`
(the values v_{k,γ} = ‖Π_{C_k}(γ X^T D_k λ)‖ of one chunk of chambers, with verified intervals
and the violators v > threshold) and :class:`PassPrice` (their aggregate over a pass, whose
``max_value`` bounds M(λ) from above). Computed by :class:`hiddenconvex.pricing.Pricer`;
:mod:`hiddenconvex.pricing` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BELOW",
    "FAILED",
    "INSIDE",
    "PROJECTED",
    "PRUNED",
    "SCREENED",
    "STATUS_NAMES",
    "ChamberBounds",
    "ChunkPrice",
    "PassPrice",
]

#: status codes of a block (k, γ)
SCREENED = 0  # ‖g_k‖ <= threshold: both signs are non-violators, nothing projected
INSIDE = 1  # γ g_k already in its cone: value = ‖g_k‖ (one sign test)
BELOW = 2  # projection stopped early: a polar certificate shows value <= threshold
PROJECTED = 3  # projection finished (KKT to rounding): exact value
FAILED = 4  # iteration limit inside the kernel (never seen in tests); SciPy fallback follows
PRUNED = 5  # top-k mode: value <= the k-th best found so far (may still exceed threshold)
STATUS_NAMES = ("screened", "inside", "below", "projected", "failed", "pruned")

_COUNT_KEYS = ("priced", "chambers", "reused", "screened", "inside", "below", "projected",
               "failed", "pruned", "violators")


# ==================================================================================================
# results


@dataclass(frozen=True)
class ChunkPrice:
    r"""Pricing of one chunk of c chambers (2c blocks). All values in the user's units.

    Attributes
    ----------
    threshold : float
    bound : array, shape (c,)
        Verified upper bound :math:`\|g_k\|` (+ rounding) on both signs' values.
    status : int8 array, shape (2, c)
        :data:`SCREENED`, :data:`INSIDE`, :data:`BELOW`, :data:`PROJECTED`, :data:`PRUNED`
        (row 0: γ = +1, row 1: γ = −1). FAILED blocks are re-solved by SciPy and reported as
        PROJECTED (their interval is then ``[0, upper]``).
    value : array, shape (2, c)
        The exact value :math:`\|\Pi_{C_k}(\gamma g_k)\|` for INSIDE / PROJECTED blocks; the
        verified upper bound for SCREENED / BELOW / PRUNED blocks (then it is ``<= threshold``,
        resp. ``<=`` the k-th largest value).
    upper, lower : arrays, shape (2, c)
        Verified interval of the value (``lower`` = 0 where not computed).
    violators : int array, shape (v, 2)
        ``(sign row, chamber)`` of the blocks with ``value > threshold``, by decreasing value.
    violator_values : array, shape (v,)
    directions : array, shape (v, d)
        :math:`\Pi(\gamma g)/\|\Pi(\gamma g)\|` of the violators in the original coordinates.
    iterations : int32 array, shape (2, c)
        NNLS outer iterations (rows added) per block.
    seconds : dict
        ``gradients``, ``kernel``, ``fallback``, ``collect``, ``total``.
    """

    threshold: float
    bound: np.ndarray
    status: np.ndarray
    value: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    violators: np.ndarray
    violator_values: np.ndarray
    directions: np.ndarray
    iterations: np.ndarray
    seconds: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict:
        """Chambers priced (``priced`` = ``chambers``; ``reused`` = 0) and screened, blocks
        inside / below / projected / failed / pruned, violating blocks."""
        st = self.status
        return {
            "priced": int(st.shape[1]),
            "chambers": int(st.shape[1]),
            "reused": 0,  # a chunk projects every chamber it is given (see price_all)
            "screened": int(np.count_nonzero(st[0] == SCREENED)),
            "inside": int(np.count_nonzero(st == INSIDE)),
            "below": int(np.count_nonzero(st == BELOW)),
            "projected": int(np.count_nonzero(st == PROJECTED)),
            "failed": int(np.count_nonzero(self.iterations < 0)),
            "pruned": int(np.count_nonzero(st == PRUNED)),
            "violators": int(self.violators.shape[0]),
        }

    @property
    def max_value(self) -> float:
        """Largest exact violator value, else the largest verified upper bound (all values
        ``<= threshold``): a valid upper bound on the chunk's M(λ) in both cases."""
        if self.violator_values.size:
            return float(self.violator_values[0])
        return float(self.upper.max(initial=0.0))

    @property
    def argmax(self) -> tuple[int, int] | None:
        """(sign row, chamber) of the largest violator (None if there is none)."""
        if self.violators.shape[0] == 0:
            return None
        return int(self.violators[0, 0]), int(self.violators[0, 1])

    @property
    def max_error(self) -> float:
        """Largest verified error ``max(upper - value, value - lower)`` over the finished blocks
        (INSIDE / PROJECTED); 0 when there are none."""
        fin = (self.status == INSIDE) | (self.status == PROJECTED)
        if not fin.any():
            return 0.0
        v, up, lo = self.value[fin], self.upper[fin], self.lower[fin]
        return float(np.max(np.maximum(up - v, v - lo)))


@dataclass(frozen=True)
class PassPrice:
    """Aggregate of a pricing pass over many chunks (:func:`price_all`).

    Attributes
    ----------
    threshold : float
    counts : dict
        Sums of :attr:`ChunkPrice.counts` (``priced``: chambers priced in the pass).
    violators : int array, shape (v, 2)
        ``(sign row, global chamber index)`` by decreasing value (the chamber index counts the
        chambers of the pass in order; with ``top_k`` only the k largest are kept).
    violator_values : array, shape (v,)
    directions : array, shape (v, d)
    max_upper : float
        Largest verified upper bound over all blocks priced: ``>= M(λ)`` over the pass.
    max_error : float
        Largest verified error of a finished block (NaN when priced without witnesses).
    seconds : dict
        Per phase, summed over chunks: ``chunks`` (waiting for the chunk source, e.g. a
        streaming enumerator), ``gradients``, ``kernel``, ``fallback``, ``collect``, ``total``
        (wall time of the whole pass).
    patterns : bool array, shape (n, v)
        Pattern columns of the violators' chambers (a streamed chamber is gone after its chunk).
    witnesses : array, shape (v, d) or None
        Their witnesses (None when the chunks had none).
    """

    threshold: float
    counts: dict
    violators: np.ndarray
    violator_values: np.ndarray
    directions: np.ndarray
    max_upper: float
    max_error: float
    seconds: dict
    patterns: np.ndarray | None = None
    witnesses: np.ndarray | None = None
    bounds: ChamberBounds | None = None

    @property
    def max_value(self) -> float:
        """Exact M(λ) over the pass when some block exceeds the threshold, else the verified
        upper bound ``max_upper`` (``<= threshold``); always a valid ``m̄ >= M(λ)``."""
        if self.violator_values.size:
            return float(self.violator_values[0])
        return float(self.max_upper)


@dataclass(frozen=True)
class ChamberBounds:
    r"""Verified upper bounds on every chamber's value at one dual point, in the list's order.

    ``upper[k] >= max_γ v_{k,γ}(λ_ref)`` for the k-th chamber of a pass (the pass that recorded
    them). A later pass at λ uses :math:`v_k(\lambda) \le v_k(\lambda_{ref}) +
    \|X^T D_k (\lambda - \lambda_{ref})\|` (Π_C is 1-Lipschitz) and projects only the chambers
    this bound does not prove below the threshold (:func:`hiddenconvex.pricing.price_all`,
    ``reference``). ``fingerprints`` (a 32-bit weighted sum of each chamber's pattern bits)
    check that the list is read in the same order; a chamber whose fingerprint differs is
    projected.

    Attributes
    ----------
    lam : array, shape (n,)
        λ_ref.
    upper : float32 array, shape (N,)
        The bounds, rounded up to float32 (half the memory of float64).
    fingerprints : uint32 array, shape (N,)
    """

    lam: np.ndarray
    upper: np.ndarray
    fingerprints: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.upper.nbytes + self.fingerprints.nbytes + self.lam.nbytes)
