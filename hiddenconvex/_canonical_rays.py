r"""Streaming exact chamber enumeration: every chamber exactly once, in chunks, in bounded memory.

:func:`iter_chambers` yields the chambers of the central arrangement {x_j^T u = 0} of the rows of
X (SPEC §1.2, §1.3, §3) in chunks ``(D, witnesses)``; :func:`count_chambers` counts them without
building any (public entry points: :func:`hiddenconvex.patterns.iter_chambers`,
:func:`hiddenconvex.patterns.count_chambers`; :func:`hiddenconvex.patterns.exact_chambers`
collects and sorts the stream). The set of chambers is the one of the extreme-ray method of
:mod:`hiddenconvex._extreme_rays` (same reduction to rank r, same merge of parallel rows, same
determinant rule with exact-arithmetic fallback for the lines and their zero sets, same witness
verification with LP repair), but no global table of candidate sign vectors is kept: each
chamber is emitted at exactly ONE of its extreme rays, chosen by a test that needs only what is
known at that ray.

The canonical extreme ray
-------------------------
Work in the reduced coordinates of ``_reduce`` (rank r ≥ 3; r ≤ 2 are small and done directly).
Hyperplane l has unit normal h_l (used for every combinatorial decision, exactly as in
``_lines``) and a *geometry row* g_l: the first data row of its class, oriented like h_l (a
positive multiple of h_l; for full-rank X it is a row of X itself, so integer data stay exact).

For a chamber K with sign vector s let c_K = Σ_l s_l g_l. On closure(K) ∖ {0} every term
s_l g_l^T u is ≥ 0 and one is > 0 (the arrangement is essential), so c_K^T u > 0 there and
P_K = closure(K) ∩ {c_K^T u = 1} is a bounded polytope whose vertices are the extreme rays v of K
scaled to v / c_K^T v. Fix a basis d_1..d_r of R^r (pseudo-random, seeded) and minimize the
objective (d_1^T u, …, d_r^T u) lexicographically over P_K: since the d_m span R^r, two distinct
points never tie, so the minimizer is unique, and it is a vertex. **K is emitted at the extreme ray
that is this lexicographic minimizer, and only there.** Because P_K is convex, a vertex is the
minimizer iff no edge of P_K leaving it decreases the objective (the simplex-method optimality
test), which is a test at the ray alone:

at ray v, the tangent cone of K is R·v ⊕ λ, λ the chamber of the local arrangement
{h_l : l ∈ Z(v)} (the hyperplanes through v) that K induces; the edges of P_K at v/c^T v point
along w − (c^T w / c^T v) v for the extreme rays w of λ, and the objective m changes along them
at the rate (d_m^T w · c^T v − c^T w · d_m^T v) / (c^T v)^2. With b = Σ_{l∉Z} sign(h_l^T v) g_l
(fixed by the line) c^T v = b^T v and c^T w = b^T w + Σ_{l∈Z} |g_l^T w| on closure(λ), so the
test is

    F_m(w) = (b^T v · d_m − d_m^T v · b)^T w − d_m^T v · Σ_{l∈Z} |g_l^T w|,
    v is K's canonical ray  ⇔  for every extreme ray w of λ, the first nonzero F_m(w) is > 0.

F depends on the ray w only, not on which local chamber contains it. At a simple line (exactly
r − 1 hyperplanes, the generic case) λ is simplicial with extreme rays s_i t_i (t_i ⟂ the other
r − 2 hyperplanes of the line and ⟂ v, g_i^T t_i > 0), and F(s_i t_i) = s_i P_i − Q_i with
P_i = d^T t_i · b^T v − b^T t_i · d^T v, Q_i = g_i^T t_i · d^T v: the condition splits into one
condition per hyperplane of the line, so the chambers emitted at v are a product set (each s_i
allowed or not), found without trying the 2^{r−1} candidates one by one. The opposite ray −v is
the same computation with Q_i → −Q_i. At a line through more than r − 1 hyperplanes (degenerate
line) the local chambers and their extreme rays are enumerated (the local arrangement has rank
r − 1), F is evaluated on each local ray, and a local chamber is emitted iff F > 0 on all its rays.

Why every chamber appears exactly once: the minimizer exists and is unique, it is an extreme ray of
K, the extreme rays of K are lines of the arrangement (every line is visited: all (r−1)-subsets are
scanned; a line through more than r − 1 hyperplanes is processed only at its lexicographically
first independent subset with that zero set, the choice ``_ray_chambers`` makes), and at that line
the chambers around it are exactly the sign vectors ``_ray_chambers`` lists there. The test is
evaluated with certainty: every float value comes with a rigorous rounding bound (running error
analysis, see :mod:`hiddenconvex._stream_kernel`); a value inside its bound is re-evaluated
exactly in rational arithmetic from the floats g, d, and exact zeros fall through to d_2, d_3, …
(the lexicographic tie-break). So the decision is the exact one for the geometry rows g — for any
basis d, even one with many ties (tested with d = the identity on integer grids).

Exactness, precisely: the argument is exact whenever the determinant rule's decisions (made on the
unit normals h) agree with exact arithmetic on the geometry rows g: generic data, and data that are
exactly degenerate as floats (duplicates, integer grids, a bias column, flats through common
lines). Data concurrent only up to rounding (a rotated grid, standardized integer features) are
resolved by the rule as in the extreme-ray method; there the test values at a merged line use the
representative line of that rule, and exactly-once holds as long as the rule's decisions are
those of SOME arrangement (rotated and standardized lattices and iris give each chamber once,
checked against the extreme-ray method). KNOWN LIMITATION: the rule decides each r-tuple on its
own, and on data concurrent only up to ~1e-12 its decisions can be inconsistent — e.g. six rows
of iris with a bias column (``tests/test_streaming.py``, ``IRIS_INCONSISTENT_ROWS``) all nearly
contain one line, two of their 5-subsets are called dependent and four independent, so
different (r−1)-subsets of that near-line get different zero sets, the line is processed under
several of them and chambers around it are emitted more than once (112 columns, 60 distinct,
Cover's bound 62) or not at all. On iris with a bias column 158 of the 39,346,636 streamed
columns repeat another and 90 of the 39,346,568 chambers of the candidate dedupe
(:func:`count_chambers_dedupe`, the union of the candidates of every line: repeats cannot hurt it)
are missing. The repeated ones are ordinary chambers (margins 1e-8 to 2e-2); the missing ones
checked (the 18 whose negation is streamed, the 2 of a 64-row subset, those of the six rows
above) have no double-precision witness (margins below 32·d·eps). A
consistent resolution of such near-lines (one zero set per cluster of (r−1)-subsets whose
zero sets contain one another) is not implemented. Instead the stream DETECTS the inconsistency
and raises SolverError (``check_consistency``, :func:`_check_closed`): every zero set Z of a
degenerate line that the scan meets — at the subset that processes the line and at every subset
the kernel skips because it is not the line's first — must be closed, i.e. every independent
(r−1)-subset of Z has zero set Z under the same rule. If all are closed, two subsets that share
an independent (r−1)-subset have one zero set, so each line is processed once under one zero set
and every skipped subset's line is processed at its first subset: the decisions are those of one
arrangement and the argument above applies. iris passes (51 degenerate lines, 5 of them merged
by the rule although not exactly concurrent, all closed); iris with a bias column and the
six- and eight-row sets of ``tests/test_streaming.py`` are refused, so no certificate is ever
computed over an incomplete list. The check costs one ``_lines`` call on the (r−1)-subsets of each
distinct degenerate zero set (iris: 51 sets, 2.2 s stream as before).

Implementation. The scan runs in numba (``_stream_kernel.scan``): per (r−1)-subset the cofactor
line, the sign pass against all L hyperplanes with the float filters of ``_lines`` (a
double-double re-evaluation where they cannot decide), the canonical test with a running error
bound, and the emitted chambers' sign rows, witnesses and verification, written straight into the
chunk buffer. Subsets it cannot decide in floats, and lines through more than r − 1 hyperplanes,
are deferred: ``_lines`` itself decides them (exact fallbacks), simple lines go back to the kernel
(``_stream_kernel.emit_lines``), degenerate lines to ``_stream_kernel.degenerate_line`` (local
lines, local chambers as the candidate sign vectors whose closure rays span v^⊥, F on every local
ray), and only what is still undecided to the rational-arithmetic path of
:mod:`hiddenconvex._canonical_exact`. Nothing is guessed: a
float decision is taken only outside its error bound.

Witnesses: for a chamber emitted at ray v with local chamber λ, u = v̂ + ε ŵ with ŵ a unit vector
inside λ (Σ_i s_i t̂_i normalized at a simple line, the normalized sum of the local extreme rays at
a degenerate one) and ε = ½ min_{l∉Z} |h_l^T v̂| (no other hyperplane is crossed); u is lifted,
normalized and verified in the original coordinates with the rule of
``_arrangement._finish_chambers`` (every nonzero row, relative margin 32·d·eps). These witnesses
lie near an extreme ray, not centred like the extreme-ray method's sum of all unit extreme rays;
both pass the same check. Near a ray that another hyperplane almost meets (ε tiny: data
concurrent up to ~1e-13, e.g. iris with a bias column, 1,823 of its 39,346,636 chambers) the
check can fail even for a wide chamber; the sign vector (the hyperplane bits) is the truth, and
the witness is recomputed by the max-margin LP refined to the rounding level
(``_arrangement._witness``, started at the failed witness; one LP for most, two for the thin
ones). A chamber for which even that finds no point with the margin has no double-precision
witness: it is thinner than 32·d·eps, or its sign vector is a chamber only of the arrangement as
the determinant rule resolves it, not of the floats (iris with a bias column: 30 chambers).
``iter_chambers(thin="raise")`` (the default, used by ``exact_chambers``) then raises
SolverError; ``thin="zero"`` (the public stream) yields the chamber with the zero vector as its
witness — never a point that is not verified inside. Chambers are never dropped or repeated:
the witness plays no part in which chambers are emitted.

Memory: the output buffer of one chunk (chunk·(n + 8d + 1) bytes, plus 2^r rows), a buffer of
4096 deferred subsets, O(L·r) work arrays and, while the scan is inside the range of subsets of a
degenerate line, that line's zero set (``deg_seen``: dropped once the scan has passed its last
subset) — independent of the number of chambers.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from . import _stream_kernel as _kernel
from ._arrangement import (
    _C_DEGENERATE,
    _VERIFY_BLOCK,
    _float_err,
    _margin_tol,
    _pack,
    _reduce,
    _thin_error,
    _unpack,
    _witness,
)
from ._canonical_exact import _line_chambers, _masks
from ._chamber_fingerprints import _fingerprints, _fp_words, count_chambers_dedupe, fingerprints
from ._extreme_rays import _degenerate_line_chambers, _essential_chambers, _lines
from ._linalg import _EPS, _mm, _unit_rows, pow2_scaled
from .errors import SolverError, check_matrix

MODE_COUNT, MODE_EMIT, MODE_HASH, MODE_CAND = (_kernel.MODE_COUNT, _kernel.MODE_EMIT,
                                               _kernel.MODE_HASH, _kernel.MODE_CAND)

__all__ = ["count_chambers", "count_chambers_dedupe", "fingerprints", "iter_chambers",
           "lex_directions"]

#: Seed of the default lexicographic directions d_1..d_r of the canonical test.
DIRECTION_SEED = 20240611

#: Deferred subsets collected before the exact Python path processes them.
_DEFER_CAP = 4096

#: (r−1)-subsets of a degenerate line's zero set checked per ``_lines`` call (_check_closed).
_CLOSURE_BATCH = 8192

#: What :func:`iter_chambers` does with a chamber that has no double-precision witness (module
#: docstring, "Witnesses"): raise SolverError, or yield it with the zero vector as its witness.
THIN = ("raise", "zero")


def lex_directions(r: int, seed: int = DIRECTION_SEED) -> np.ndarray:
    """The default basis d_1..d_r (rows, shape (r, r)) of the canonical test: Gaussian, seeded.
    Any basis gives a correct enumeration; a generic one makes exact ties (and the exact-arithmetic
    path) essentially never needed."""
    D = np.random.default_rng([seed, r]).standard_normal((r, r))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


# ==================================================================================================
# Preparation


class _Context:
    """Everything derived from X that the scan needs (reduced arrangement, geometry rows,
    verification data); ``stats`` counts what happened."""

    def __init__(self, X: np.ndarray, directions, thin: str = "raise",
                 check_consistency: bool = True):
        if thin not in THIN:
            raise ValueError(f"thin must be one of {THIN}, got {thin!r}")
        self.thin = thin
        self.check_consistency = check_consistency
        X = pow2_scaled(X)[0]  # exact power-of-two rescaling (patterns and witness directions
        self.X = X  # are invariant under it)
        self.n, self.d = X.shape
        red = _reduce(X)
        self.red = red
        self.r = red.rank
        self.H = np.ascontiguousarray(red.H)
        self.L = self.H.shape[0]
        nz = np.flatnonzero(red.rep >= 0)
        self.nz = nz
        self.tol = _margin_tol(self.d)
        Xn = _unit_rows(X[nz])
        self.Xn = np.ascontiguousarray(Xn)
        self.XnT = np.ascontiguousarray(Xn.T)
        self.rowrep = np.ascontiguousarray(red.rep[nz].astype(np.uint64))
        self.lift = np.ascontiguousarray(red.lift)
        self.identity = self.r == self.d
        first = np.zeros(self.L, dtype=np.intp)
        if self.L:
            _, fr = np.unique(red.rep[nz], return_index=True)
            first = nz[fr]
        self.first = first  # the first data row of each hyperplane
        # geometry rows: the first data row of each hyperplane, oriented like h_l
        self.R = np.ascontiguousarray(red.Xw[first] * red.orient[first][:, None].astype(float))
        self.Ra = np.abs(self.R)
        self.HT = np.ascontiguousarray(self.H.T)
        self.colabs = self.Ra.sum(axis=0)
        # nonzero rows (positions in nz) of each hyperplane, CSR
        order = np.argsort(self.rowrep, kind="stable")
        self.rowlist = np.ascontiguousarray(order.astype(np.uint64))
        self.rowptr = np.searchsorted(self.rowrep[order], np.arange(self.L + 1)).astype(np.uint64)
        # a row's sign is its hyperplane's sign, flipped when the row points against h_l
        self.rowflip = np.ascontiguousarray(red.orient[nz] < 0)
        r = self.r
        if directions is None:
            directions = lex_directions(max(r, 1))
        directions = np.asarray(directions, dtype=float)
        if r and (directions.shape != (r, r) or np.linalg.matrix_rank(directions) < r):
            raise ValueError(f"directions must be a basis of R^{r} (shape ({r}, {r}))")
        self.dirs = directions
        self._Rf = None
        self._df = None
        self.masks = _masks(max(r, 1))
        self.fp = _fp_words(self.L)
        self.deg_seen = {}
        self.closed = {}  # zero sets of degenerate lines checked by _check_closed (same eviction)
        self.stats = {"simple_lines_kernel": 0, "simple_lines_exact_path": 0,
                      "simple_lines_python": 0, "dependent_skipped": 0,
                      "degenerate_occurrences_skipped": 0, "deferred": 0,
                      "deferred_by_reason": {}, "degenerate_lines": 0,
                      "degenerate_lines_python": 0, "exact_tests": 0,
                      "exact_ties": 0, "repairs": 0, "no_witness": 0, "chambers": 0,
                      "closure_checks": 0}

    # exact values (lazily)
    @property
    def Rf(self):
        if self._Rf is None:
            self._Rf = [[Fraction(float(x)) for x in row] for row in self.R]
        return self._Rf

    @property
    def df(self):
        if self._df is None:
            self._df = [[Fraction(float(x)) for x in row] for row in self.dirs]
        return self._df

    def gamma(self, extra: int = 0) -> float:
        """Rounding factor 2·N·eps of the test values (N: roundings on the longest path)."""
        r = self.r
        return 2.0 * (self.L + extra + 2 * r * r + 2 * r + 10) * _EPS


# ==================================================================================================
# Public API


def iter_chambers(X, chunk: int = 65536, *, directions=None, stats: dict | None = None,
                  thin: str = "raise", check_consistency: bool = True):
    """Every chamber of the central arrangement of the rows of X, exactly once, in chunks.

    Parameters
    ----------
    X : array, shape (n, d)
        Finite data matrix.
    chunk : int
        Chambers per chunk (at most; the last and a few others may be smaller).
    directions : array, shape (r, r), optional
        The basis d_1..d_r of the canonical test (default :func:`lex_directions`). Changes which
        extreme ray emits a chamber, hence the order, never the set.
    stats : dict, optional
        Filled with counters (lines, deferred subsets by reason, exact evaluations, repairs,
        chambers without a witness, chambers) when the stream is exhausted.
    thin : {"raise", "zero"}
        A chamber without a double-precision witness (module docstring, "Witnesses") raises
        SolverError, or is yielded with the zero vector as its witness.
    check_consistency : bool
        Raise SolverError when the determinant rule is inconsistent on a near-concurrent line
        (module docstring, "Exactness"; :func:`_check_closed`). False only to study the raw rule
        (tests): the chambers may then be repeated or missing.

    Yields
    ------
    D : bool array, shape (n, c)
        D[j, k] = 1 iff s_j = +1 in chamber k (zero rows: 1); Fortran-ordered (each column
        contiguous), like ``Patterns.D``.
    witnesses : array, shape (c, d)
        Unit vectors in row(X) strictly inside each chamber, verified (module docstring); with
        ``thin="zero"``, the zero vector for a chamber that has none.

    Notes
    -----
    The union of the chunks is the set of chambers (``exact_chambers(X).D`` as a set of
    columns), each column once; the order is the scan order of the lines, not lexicographic.
    Algorithm and proof: module docstring. With ``thin="raise"`` raises SolverError like
    ``exact_chambers`` (a chamber too thin for a verified witness).
    """
    X = check_matrix(X)
    chunk = int(chunk)
    if chunk < 1:
        raise ValueError("chunk must be positive")
    ctx = _Context(X, directions, thin, check_consistency)
    yield from _stream(ctx, chunk)
    if stats is not None:
        stats.update(ctx.stats)


def count_chambers(X, *, directions=None, stats: dict | None = None,
                   check_consistency: bool = True) -> int:
    """Number of chambers of the central arrangement of the rows of X (= ``exact_chambers(X).p``),
    by the canonical test without building witnesses; memory independent of the count. Raises
    SolverError where :func:`iter_chambers` does (``check_consistency``)."""
    X = check_matrix(X)
    ctx = _Context(X, directions, check_consistency=check_consistency)
    if ctx.r <= 2:
        total = _low_rank_count(ctx)
    else:
        total = sum(_scan(ctx, MODE_COUNT, 1))
    ctx.stats["chambers"] = total
    if stats is not None:
        stats.update(ctx.stats)
    return total


# ==================================================================================================
# Driver


def _low_rank_count(ctx: _Context) -> int:
    if ctx.r == 0:
        return 1
    words, _ = _essential_chambers(ctx.H, ctx.r)
    return words.shape[0]


def _stream(ctx: _Context, chunk: int):
    n, d = ctx.n, ctx.d
    if ctx.r == 0:
        wit = np.zeros((1, d))
        wit[0, 0] = 1.0
        ctx.stats["chambers"] = 1
        yield np.ones((n, 1), dtype=bool, order="F"), wit
        return
    if ctx.r <= 2:
        words, wit = _essential_chambers(ctx.H, ctx.r)
        for c0 in range(0, words.shape[0], chunk):
            hs = _unpack(words[c0:c0 + chunk], ctx.L)
            Dt, Wt = _finish_block(ctx, hs, wit[c0:c0 + chunk])
            ctx.stats["chambers"] += Dt.shape[0]
            yield Dt.T, Wt
        return
    pend_D, pend_W, pend = [], [], 0
    for Dt, Wt in _scan(ctx, MODE_EMIT, chunk):
        if pend == 0 and Dt.shape[0] == chunk:
            ctx.stats["chambers"] += chunk
            yield Dt.T, Wt
            continue
        pend_D.append(Dt)
        pend_W.append(Wt)
        pend += Dt.shape[0]
        if pend >= chunk:
            Dc, Wc = np.concatenate(pend_D), np.concatenate(pend_W)
            cut = pend - pend % chunk
            for c0 in range(0, cut, chunk):
                ctx.stats["chambers"] += chunk
                yield Dc[c0:c0 + chunk].T, Wc[c0:c0 + chunk]
            pend_D, pend_W, pend = [Dc[cut:]], [Wc[cut:]], pend - cut
    if pend:
        Dc, Wc = np.concatenate(pend_D), np.concatenate(pend_W)
        ctx.stats["chambers"] += pend
        yield Dc.T, Wc


def _geo(ctx: _Context, mode: int):
    """The geometry tuple of the kernels (see :func:`_kernel.scan`)."""
    masks, mstart = ctx.masks
    d1 = np.ascontiguousarray(ctx.dirs[0])
    return (ctx.H, ctx.HT, ctx.R, np.ascontiguousarray(ctx.R.T), ctx.Ra, ctx.colabs, d1,
            np.abs(d1), ctx.XnT, ctx.lift, ctx.identity, ctx.rowrep, ctx.rowflip,
            ctx.nz.astype(np.uint64), ctx.rowptr, ctx.rowlist, masks, mstart, ctx.gamma(), ctx.tol,
            mode, ctx.fp[0], ctx.fp[1])


def _buffers(ctx: _Context, mode: int, cap: int):
    """Output buffers of one kernel call: sign rows, witnesses, verification flags, fingerprints."""
    if mode == MODE_EMIT:
        Dt = np.empty((cap, ctx.n), dtype=bool)
        zero_rows = np.flatnonzero(ctx.red.rep < 0)
        if zero_rows.size:
            Dt[:, zero_rows] = True
        return Dt, np.empty((cap, ctx.d)), np.zeros(cap, dtype=bool), np.empty((1, 2), np.uint64)
    Hh = np.empty((cap if mode != MODE_COUNT else 1, 2), dtype=np.uint64)
    return np.empty((1, ctx.n), bool), np.empty((1, ctx.d)), np.zeros(1, bool), Hh


def _output(ctx: _Context, mode: int, cnt: int, Dt, Wt, bad, Hh, counted: int):
    """The block a kernel call produced, in the form of ``mode`` (None if empty)."""
    if mode == MODE_COUNT:
        return counted
    if cnt == 0:
        return None
    if mode == MODE_EMIT:
        Dt, Wt = Dt[:cnt], Wt[:cnt]
        if bad[:cnt].any():
            _repair_rows(ctx, Dt, Wt, np.flatnonzero(bad[:cnt]))
        return Dt, Wt
    return Hh[:cnt].copy()


def _scan(ctx: _Context, mode: int, chunk: int):
    """Run the kernel over all (r−1)-subsets, then the exact path on what it deferred. Yields
    blocks: (Dt (c, n), Wt (c, d)) for MODE_EMIT, an int count for MODE_COUNT, fingerprints
    (c, 2) uint64 for MODE_HASH / MODE_CAND."""
    r, L, k = ctx.r, ctx.L, ctx.r - 1
    if L < k:
        return
    comb = np.arange(k, dtype=np.int64)
    stats = np.zeros(7, dtype=np.int64)
    geo = _geo(ctx, mode)
    wk, wk2 = _kernel.make_work(L, r, ctx.d, ctx.nz.size)
    cap = chunk + (2 << r)  # the kernel stops once more than `chunk` rows are filled
    defer = np.zeros((_DEFER_CAP, 1 + k), dtype=np.int64)
    dvhat = np.zeros((_DEFER_CAP, r))
    dpos = np.zeros((_DEFER_CAP, L), dtype=bool)
    dzero = np.zeros((_DEFER_CAP, L), dtype=bool)
    consts = (float(_C_DEGENERATE), _EPS, _float_err(k),
              max(_float_err(r), _float_err(k) + (r + 1) * _EPS))
    carry = None
    while True:
        Dt, Wt, bad, Hh = _buffers(ctx, mode, cap)
        bufs = (Dt, Wt, bad) if mode == MODE_EMIT else (Hh,)
        cnt0 = 0
        if carry is not None:  # chambers beyond the last full chunk start the next buffer
            cnt0 = carry[0].shape[0]
            for buf, c in zip(bufs, carry, strict=True):
                buf[:cnt0] = c
            carry = None
        before = int(stats[0])
        cnt, nd = _kernel.scan(comb, *consts, geo, wk, wk2, Dt, Wt, bad, Hh, defer, dvhat,
                               dpos, dzero, stats, cnt0)
        done = bool(stats[6])
        if mode != MODE_COUNT and cnt > chunk:
            carry = tuple(buf[chunk:cnt].copy() for buf in bufs)
            cnt = chunk
        out = _output(ctx, mode, cnt, Dt, Wt, bad, Hh, int(stats[0]) - before)
        if out is not None:
            yield out
        if nd:
            for q, c in zip(*np.unique(defer[:nd, 0], return_counts=True), strict=True):
                key = int(q)
                ctx.stats["deferred_by_reason"][key] = (
                    ctx.stats["deferred_by_reason"].get(key, 0) + int(c))
            deg = defer[:nd, 0] == _kernel.DEFER_DEGENERATE
            skipped = defer[:nd, 0] == _kernel.DEFER_SKIPPED
            if skipped.any():
                _check_skipped(ctx, defer[:nd, 1:][skipped])
            rest = ~deg & ~skipped
            known = (defer[:nd, 1:][deg], dvhat[:nd][deg], dpos[:nd][deg], dzero[:nd][deg])
            yield from _deferred(ctx, defer[:nd, 1:][rest].copy(), mode, geo, wk, wk2, stats,
                                 known)
            if mode != MODE_CAND:
                last = tuple(int(x) for x in comb)
                for key in [q for q, end in ctx.deg_seen.items() if end < last]:
                    del ctx.deg_seen[key]  # no later subset of that line: forget it
                for key in [q for q, end in ctx.closed.items() if end < last]:
                    del ctx.closed[key]
        if done:
            break
    if carry is not None:
        c = carry[0].shape[0]
        if mode == MODE_EMIT:
            out = _output(ctx, mode, c, carry[0], carry[1], carry[2], None, 0)
        else:
            out = _output(ctx, mode, c, None, None, None, carry[0], 0)
        yield out
    ctx.stats["simple_lines_kernel"] += int(stats[1])
    ctx.stats["dependent_skipped"] += int(stats[3])
    ctx.stats["degenerate_occurrences_skipped"] += int(stats[4])
    ctx.stats["deferred"] += int(stats[5])


def _deferred(ctx: _Context, subsets: np.ndarray, mode: int, geo, wk, wk2, stats: np.ndarray,
              known=None):
    """The subsets the kernel deferred. Lines it found to pass through more than r − 1
    hyperplanes come with their direction, signs and zero set (``known``, decided with certainty
    there); the others get theirs from ``_lines`` (exact fallbacks). Simple lines go back to the
    kernel's test and emission (:func:`_kernel.emit_lines`), degenerate lines to
    :func:`_kernel.degenerate_line`, and what these cannot decide in floats to Python."""
    r, k = ctx.r, ctx.r - 1
    idx, vhat, pos, zi, zl = _lines(ctx.H, subsets) if subsets.shape[0] else (
        np.zeros((0, k), np.intp), np.zeros((0, r)), np.zeros((0, ctx.L), bool),
        np.zeros(0, np.intp), np.zeros(0, np.intp))
    order = np.argsort(zi, kind="stable")
    zi, zl = zi[order], zl[order]
    starts = np.searchsorted(zi, np.arange(idx.shape[0] + 1))
    zsets = [np.sort(zl[starts[c]:starts[c + 1]]) for c in range(idx.shape[0])]
    if known is not None and known[0].shape[0]:
        idx = np.concatenate([idx, known[0]]).astype(np.intp)
        vhat = np.concatenate([vhat, known[1]])
        pos = np.concatenate([pos, known[2] & ~known[3]])
        zsets += [np.flatnonzero(z) for z in known[3]]
        order = np.lexsort(idx.T[::-1])  # back to scan order (the first-occurrence rule)
        idx, vhat, pos = idx[order], vhat[order], pos[order]
        zsets = [zsets[i] for i in order]
    simple = np.array([c for c in range(idx.shape[0]) if zsets[c].size == k], dtype=np.intp)
    python = []
    if simple.size:
        Dt, Wt, bad, Hh = _buffers(ctx, mode, simple.size << r)
        status = np.zeros(simple.size, dtype=np.int64)
        before = int(stats[0])
        cnt = _kernel.emit_lines(np.ascontiguousarray(idx[simple], dtype=np.int64),
                                 np.ascontiguousarray(vhat[simple]),
                                 np.ascontiguousarray(pos[simple]), geo, wk, wk2, Dt, Wt, bad, Hh,
                                 status, stats)
        ctx.stats["simple_lines_exact_path"] += int(np.count_nonzero(status == 0))
        out = _output(ctx, mode, cnt, Dt, Wt, bad, Hh, int(stats[0]) - before)
        if out is not None:
            yield out
        python.extend(int(c) for c in simple[status != 0])
    degenerate, deg_h, deg_w = [], [], []
    for c in range(idx.shape[0]):
        Z = zsets[c]
        if Z.size > k:
            if mode == MODE_CAND:
                key = Z.astype(np.int64).tobytes()  # today's rule: one line per zero set
                if key not in ctx.deg_seen:
                    ctx.deg_seen[key] = ()
                    degenerate.append(c)
            elif _check_closed(ctx, Z) and _first_occurrence(ctx, idx[c], Z):
                ctx.stats["degenerate_lines"] += 1
                got = _degenerate_kernel(ctx, idx[c], vhat[c], pos[c], Z)
                if got is None:
                    ctx.stats["degenerate_lines_python"] += 1
                    python.append(c)
                elif got[0].shape[0]:
                    deg_h.append(got[0])
                    deg_w.append(got[1])
    if degenerate:  # MODE_CAND: every chamber around the line, as _ray_chambers lists them
        Zb = np.zeros((len(degenerate), ctx.L), dtype=bool)
        for q, c in enumerate(degenerate):
            Zb[q, zsets[c]] = True
        dz = _pack(Zb)
        words, _ = _degenerate_line_chambers(ctx.H, vhat[degenerate], dz,
                                             _pack(pos[degenerate]))
        yield _fingerprints(ctx, _unpack(words, ctx.L))
    out_h, out_w = deg_h, deg_w
    for c in sorted(python):
        if zsets[c].size == k:
            ctx.stats["simple_lines_python"] += 1
        hsl, wl = _line_chambers(ctx, idx[c], vhat[c], pos[c], zsets[c])
        if hsl.shape[0]:
            out_h.append(hsl)
            out_w.append(wl)
    if out_h:
        hs, wit = np.concatenate(out_h), np.concatenate(out_w)
        if mode == MODE_EMIT:
            yield _finish_block(ctx, hs, wit)
        elif mode == MODE_COUNT:
            yield hs.shape[0]
        else:
            yield _fingerprints(ctx, hs)


def _degenerate_kernel(ctx: _Context, sub, vhat, pos, Z):
    """Chambers at a degenerate line by :func:`_kernel.degenerate_line`: (hyperplane signs (p, L),
    reduced witnesses (p, r)), or None if the kernel cannot decide something in floats."""
    r, L = ctx.r, ctx.L
    if Z.size > 63:
        return None
    nj_max = 4 * math.comb(int(Z.size), r - 2) + 8
    pcap = 1 << min(Z.size + 2, 20)
    out_hs = np.empty((pcap, L), dtype=bool)
    out_w = np.empty((pcap, r))
    out_ray = np.empty(pcap, dtype=np.int8)
    work_f = np.empty(4 * nj_max * r + 4 * nj_max + 8 * r * r + 24 * r + (4 << r))
    work_i = np.empty(nj_max * (r - 1) + r, dtype=np.int64)
    work_u = np.empty(2 * nj_max + (1 << 16), dtype=np.uint64)
    masks, mstart = ctx.masks
    d1 = np.ascontiguousarray(ctx.dirs[0])
    p, status = _kernel.degenerate_line(
        np.ascontiguousarray(sub, dtype=np.int64), np.ascontiguousarray(Z, dtype=np.int64),
        np.ascontiguousarray(vhat), np.ascontiguousarray(pos), ctx.H, ctx.R, ctx.Ra, d1,
        np.abs(d1), float(_C_DEGENERATE), _EPS, masks, mstart, out_hs, out_w, out_ray, work_f,
        work_i, work_u)
    if status != 0:
        key = f"degenerate_fallback_{status}"
        ctx.stats[key] = ctx.stats.get(key, 0) + 1
        return None
    off = np.ones(L, dtype=bool)
    off[Z] = False
    mv = np.min(np.abs(ctx.H[off] @ vhat)) if off.any() else 1.0
    sigma = np.where(out_ray[:p] == 0, 1.0, -1.0)[:, None]
    return out_hs[:p].copy(), sigma * vhat[None, :] + 0.5 * mv * out_w[:p]


def _check_closed(ctx: _Context, Z: np.ndarray) -> bool:
    """Raise SolverError unless the determinant rule is consistent on the degenerate line with
    zero set Z (more than r − 1 hyperplanes): every independent (r−1)-subset of Z must have Z as
    its zero set ("Exactness" in the module docstring). If every zero set met by the scan is
    closed in this sense, each line is processed exactly once, under one zero set, and the
    chambers are those of one arrangement; a line that is not closed is where chambers are
    repeated or missed. Each zero set is checked once (``ctx.closed``, forgotten like
    ``deg_seen``). Returns True."""
    if not ctx.check_consistency:
        return True
    key = Z.astype(np.int64).tobytes()
    if key in ctx.closed:
        return True
    k = ctx.r - 1
    ctx.stats["closure_checks"] += 1
    inside = np.zeros(ctx.L, dtype=bool)
    inside[Z] = True
    combos = itertools.combinations(Z.tolist(), k)
    independent = 0
    while True:  # in batches: memory (batch × L) bounded for lines through many hyperplanes
        subs = np.array(list(itertools.islice(combos, _CLOSURE_BATCH)), dtype=np.intp)
        if subs.shape[0] == 0:
            break
        idx, _, _, zi, zl = _lines(ctx.H, subs.reshape(-1, k))
        sizes = np.bincount(zi, minlength=idx.shape[0])
        if np.any(sizes != Z.size) or not inside[zl].all():
            raise _inconsistent(ctx, Z)
        independent += idx.shape[0]
    if independent == 0:
        raise _inconsistent(ctx, Z)
    ctx.closed[key] = tuple(int(x) for x in Z[-k:])
    return True


def _check_skipped(ctx: _Context, subsets: np.ndarray) -> None:
    """Subsets the kernel skipped (a hyperplane of their degenerate line precedes their second
    one): they emit nothing; their zero sets must be closed (:func:`_check_closed`)."""
    if not ctx.check_consistency:
        return
    idx, _, _, zi, zl = _lines(ctx.H, subsets.astype(np.intp))
    if idx.shape[0] != subsets.shape[0]:
        raise _inconsistent(ctx, np.unique(subsets))  # the kernel found them independent
    order = np.argsort(zi, kind="stable")
    zi, zl = zi[order], zl[order]
    starts = np.searchsorted(zi, np.arange(idx.shape[0] + 1))
    for c in range(idx.shape[0]):
        Z = np.sort(zl[starts[c]:starts[c + 1]])
        if Z.size <= ctx.r - 1:
            raise _inconsistent(ctx, Z)  # the kernel found the line degenerate
        _check_closed(ctx, Z)


def _inconsistent(ctx: _Context, Z: np.ndarray) -> SolverError:
    rows = [int(ctx.first[l]) for l in Z]
    return SolverError(
        f"rows {rows} of X are concurrent only up to rounding (about 1e-12), and the exact "
        "enumeration cannot resolve them consistently: it would repeat or miss chambers "
        "(known limitation, hiddenconvex._canonical_rays); use patterns='sample' and "
        "bound='search' (CLI: --method sample --bound search), which need no enumeration")


def _first_occurrence(ctx: _Context, sub: np.ndarray, Z: np.ndarray) -> bool:
    """Is ``sub`` the subset at which the line with zero set Z (more than r − 1 hyperplanes) is
    processed? That is its lexicographically first independent subset: it starts with the two
    smallest hyperplanes of Z (as the kernel's skip rule requires), and it is the first such
    subset the scan meets (the scan is lexicographic; ``deg_seen`` remembers the zero sets met, and
    forgets a line once the scan has passed its last subset)."""
    k = ctx.r - 1
    if int(sub[0]) != int(Z[0]) or int(sub[1]) != int(Z[1]):
        return False
    key = Z.astype(np.int64).tobytes()
    if key in ctx.deg_seen:
        return False
    ctx.deg_seen[key] = tuple(int(x) for x in Z[-k:])
    return True


# ==================================================================================================
# Witnesses: verification and repair


def _finish_block(ctx: _Context, hs: np.ndarray, wit: np.ndarray):
    """Hyperplane signs (p, L) and reduced witnesses (p, r) -> verified (Dt (p, n), Wt (p, d))."""
    p = hs.shape[0]
    Wt = wit @ ctx.lift.T if not ctx.identity else np.array(wit, dtype=float)
    nrm = np.linalg.norm(Wt, axis=1, keepdims=True)
    Wt = Wt / np.where(nrm > 0, nrm, 1.0)
    Dt = np.ones((p, ctx.n), dtype=bool)
    ok = np.empty(p, dtype=bool)
    step = max(1, _VERIFY_BLOCK // max(ctx.nz.size, 1))  # (patterns x rows) products per block
    for c0 in range(0, p, step):
        c1 = min(p, c0 + step)
        exp = hs[c0:c1, ctx.rowrep] ^ ctx.rowflip[None, :]
        Dt[c0:c1, ctx.nz] = exp
        S = _mm(Wt[c0:c1], ctx.XnT)
        np.negative(S, out=S, where=~exp)
        ok[c0:c1] = S.min(axis=1, initial=np.inf) > ctx.tol
    if not ok.all():
        _repair_rows(ctx, Dt, Wt, np.flatnonzero(~ok))
    return Dt, Wt


def _repair_rows(ctx: _Context, Dt: np.ndarray, Wt: np.ndarray, bad: np.ndarray):
    """Replace the witnesses ``bad`` by verified witnesses of their (true) sign rows: the refined
    max-margin LP :func:`_arrangement._witness`, started at the failed witness; a chamber for
    which it finds none raises SolverError or gets the zero witness (``ctx.thin``)."""
    for b in bad:
        u, mg = _witness(ctx.red, Dt[b, ctx.nz], ctx.tol, ctx.Xn, start=Wt[b])
        if u is not None:
            Wt[b] = u
            ctx.stats["repairs"] += 1
        elif ctx.thin == "raise":
            raise _thin_error(mg)
        else:
            Wt[b] = 0.0
            ctx.stats["no_witness"] += 1
