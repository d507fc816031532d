r"""128-bit fingerprints of chamber pairs {K, −K} and the global-dedupe chamber count.

A chamber with hyperplane sign vector s and its negation −s get one fingerprint: two sums mod 2^64
of random 64-bit words (:func:`_fp_words`), one word per positive hyperplane, taken for the member
of the pair with hyperplane 0 positive; two distinct pairs collide with probability 2^-128.
:func:`fingerprints` streams them (canonical scan, or every candidate at every line),
:func:`count_chambers_dedupe` counts the chambers as 2·#distinct fingerprints: the validation
oracle of :mod:`hiddenconvex._canonical_rays`, which re-exports both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._arrangement import _unpack
from ._extreme_rays import _essential_chambers
from .errors import check_matrix

if TYPE_CHECKING:
    from ._canonical_rays import _Context

__all__ = ["count_chambers_dedupe", "fingerprints"]

#: Seed of the random words of the 128-bit chamber fingerprints (validation / dedupe mode).
FINGERPRINT_SEED = 7


def _fp_words(L: int) -> list:
    """The two random word vectors of the fingerprints, one 64-bit word per hyperplane (shape
    (max(L, 1),) uint64 each; seeded by :data:`FINGERPRINT_SEED`)."""
    rng = np.random.default_rng(FINGERPRINT_SEED)
    return [rng.integers(0, 2**63, size=max(L, 1), dtype=np.uint64) * np.uint64(2)
            + rng.integers(0, 2, size=max(L, 1), dtype=np.uint64) for _ in range(2)]


def fingerprints(X, *, candidates: bool = False, chunk: int = 1 << 20, directions=None,
                 stats: dict | None = None):
    """128-bit fingerprints of the chambers, in chunks ((c, 2) uint64 arrays), for validation.

    A chamber and its negation share one fingerprint (two sums mod 2^64 of random words, one per
    positive hyperplane, taken for the member of the pair with hyperplane 0 positive): two
    distinct pairs collide with probability 2^-128. ``candidates=False``: the canonical stream
    (each pair appears exactly twice: once per member). ``candidates=True``: every candidate
    sign vector at every line, without the canonical test (the candidate set of the extreme-ray
    method ``_ray_chambers``, lines through more than r − 1 hyperplanes once per zero set with
    ``_degenerate_line_chambers``): the union is the set of chambers, with repetitions; see
    :func:`count_chambers_dedupe`.
    """
    from ._canonical_rays import MODE_CAND, MODE_HASH, _Context, _scan  # deferred: it imports us

    X = check_matrix(X)
    ctx = _Context(X, directions)
    if ctx.r <= 2:
        if ctx.r == 0:
            yield np.zeros((1, 2), dtype=np.uint64)
        else:
            words, _ = _essential_chambers(ctx.H, ctx.r)
            yield _fingerprints(ctx, _unpack(words, ctx.L))
    else:
        yield from _scan(ctx, MODE_CAND if candidates else MODE_HASH, chunk)
    if stats is not None:
        stats.update(ctx.stats)


def count_chambers_dedupe(X, *, chunk: int = 1 << 22, stats: dict | None = None) -> int:
    """Number of chambers by the other design: all candidates at all lines (as the
    extreme-ray method) deduplicated through a global sorted set of 128-bit fingerprints of the
    chamber pairs (16 bytes per pair, exact up to a collision probability of 2^-128 per pair of
    pairs). Memory grows with the count: a reference and a benchmark, not the stream."""
    seen = np.zeros(0, dtype=[("a", "<u8"), ("b", "<u8")])
    buf, size = [], 0

    def merge(seen, parts):
        new = np.concatenate(parts)
        new = new.view([("a", "<u8"), ("b", "<u8")]).ravel()
        return np.union1d(seen, new)

    for h in fingerprints(X, candidates=True, chunk=chunk, stats=stats):
        buf.append(np.ascontiguousarray(h))
        size += h.shape[0]
        if size >= chunk:
            seen = merge(seen, buf)
            buf, size = [], 0
    if buf:
        seen = merge(seen, buf)
    X = check_matrix(X)
    return 1 if not np.any(X) else 2 * seen.size


def _fingerprints(ctx: _Context, hs: np.ndarray) -> np.ndarray:
    """The kernels' fingerprints of hyperplane sign vectors hs (p, L) bool: (p, 2) uint64, the
    sums of the random words of the positive hyperplanes, of the negation when hyperplane 0 is
    negative (a chamber and its negation get the same fingerprint)."""
    hs = np.where(hs[:, :1], hs, ~hs)
    out = np.empty((hs.shape[0], 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(2):
            out[:, j] = np.sum(np.where(hs, ctx.fp[j][None, :], np.uint64(0)), axis=1,
                               dtype=np.uint64)
    return out
