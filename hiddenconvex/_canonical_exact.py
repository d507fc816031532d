r"""The exact path of the canonical-ray chamber stream (:mod:`hiddenconvex._canonical_rays`).

What the numba kernels (:mod:`hiddenconvex._stream_kernel`) cannot decide with certainty in
floating point comes here: the canonical test at a line is re-evaluated in rational arithmetic
(:class:`fractions.Fraction`) from the float geometry rows g and directions d, with the
lexicographic tie-break on d_2, d_3, ... (:class:`_LineGeometry`); the chambers at a simple line
are the product set of the allowed signs per hyperplane (:func:`_line_chambers`), at a line
through more than r − 1 hyperplanes the local chambers whose every local extreme ray passes the
test (:func:`_degenerate_chambers`). The mathematics (the canonical extreme ray, the test F, why
every chamber is emitted exactly once) is in the docstring of :mod:`hiddenconvex._canonical_rays`.
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np

from . import _stream_kernel as _kernel
from ._arrangement import _expand, _reduce, _unpack
from ._extreme_rays import _essential_chambers, _lines
from ._linalg import fraction_det
from .errors import SolverError


@functools.lru_cache(maxsize=16)
def _masks(r: int):
    """Column subsets of range(r) ordered by size, with the start offset of each size."""
    ms = sorted(range(1 << r), key=lambda s: (bin(s).count("1"), s))
    sizes = [bin(s).count("1") for s in ms]
    start = np.searchsorted(np.array(sizes), np.arange(r + 2))
    return np.array(ms, dtype=np.int64), start.astype(np.int64)


# -------------------------------------------------------------------------------------------------
# exact arithmetic helpers


def _fcof(rows) -> list:
    """Exact cofactor vector of r−1 rows (Fractions) in R^r: V_i = (−1)^i det(minor_i)."""
    r = len(rows[0])
    out = []
    for i in range(r):
        minor = [[row[c] for c in range(r) if c != i] for row in rows]
        out.append((-1) ** i * fraction_det(minor) if minor else Fraction((-1) ** i))
    return out


def _fdot(a, b) -> Fraction:
    return sum((x * y for x, y in zip(a, b, strict=True)), Fraction(0))


def _cof_twin(rows: np.ndarray, rows_abs: np.ndarray):
    """Float cofactor vector of rows (r−1, r) and its absolute twin (same program on rows_abs)."""
    km, r = rows.shape
    V = np.empty(r)
    P = np.empty(r)
    masks, mstart = _masks(r)  # (small; cached by lru_cache)
    T = np.empty(1 << r)
    Ta = np.empty(1 << r)
    _kernel._cof(np.ascontiguousarray(rows), np.ascontiguousarray(rows_abs), km, r, V, P, T, Ta,
                 masks, mstart)
    return V, P


# -------------------------------------------------------------------------------------------------
# chambers at one line


class _LineGeometry:
    """The test geometry at a line: v (from the geometry rows of ``basis``), b, and F on rays."""

    def __init__(self, ctx, basis: np.ndarray, pos: np.ndarray, Z: np.ndarray):
        self.ctx = ctx
        self.basis = [int(x) for x in basis]
        self.Z = Z
        R, Ra = ctx.R, ctx.Ra
        self.VR, self.VRa = _cof_twin(R[basis], Ra[basis])
        off = np.ones(ctx.L, dtype=bool)
        off[Z] = False
        sg = np.where(pos, 1.0, -1.0)
        self.sgn = np.where(off, sg, 0.0)
        self.b = self.sgn @ R
        self.babs = np.abs(self.sgn) @ Ra
        self._exact = None

    def F(self, rho: np.ndarray, rho_a: np.ndarray, recipe) -> tuple[int, int]:
        """Lexicographic signs (for the rays +v and −v of the line) of F at the local ray ρ."""
        ctx = self.ctx
        d, da = ctx.dirs[0], np.abs(ctx.dirs[0])
        bv, bva = self.b @ self.VR, self.babs @ self.VRa
        dv, dva = d @ self.VR, da @ self.VRa
        a = bv * d - dv * self.b
        aa = bva * da + dva * self.babs
        s_loc = np.abs(ctx.R[self.Z] @ rho).sum()
        s_loca = (ctx.Ra[self.Z] @ rho_a).sum()
        ar = a @ rho
        err = ctx.gamma(extra=len(self.Z)) * (aa @ rho_a + dva * s_loca)
        fp, fm = ar - dv * s_loc, ar + dv * s_loc  # ray +v, ray −v
        if abs(fp) > err and abs(fm) > err:
            return (1 if fp > 0 else -1), (1 if fm > 0 else -1)
        return self._exact_F(recipe)

    def _exact_F(self, recipe) -> tuple[int, int]:
        ctx = self.ctx
        ctx.stats["exact_tests"] += 1
        if self._exact is None:
            Rf = ctx.Rf
            VR = _fcof([Rf[i] for i in self.basis])
            b = [Fraction(0)] * ctx.r
            for l in np.flatnonzero(self.sgn):
                s = int(self.sgn[l])
                b = [x + s * y for x, y in zip(b, Rf[l], strict=True)]
            self._exact = (VR, b)
        VR, b = self._exact
        rho = self._exact_ray(recipe, VR)
        Rf = ctx.Rf
        s_loc = sum((abs(_fdot(Rf[int(l)], rho)) for l in self.Z), Fraction(0))
        bv = _fdot(b, VR)
        out = []
        for sign_dv in (1, -1):  # ray +v: F = a·ρ − dv Σ ; ray −v: a·ρ + dv Σ
            res = 0
            for m, dm in enumerate(ctx.df):
                dv = _fdot(dm, VR)
                val = (bv * _fdot(dm, rho) - dv * _fdot(b, rho)) - sign_dv * dv * s_loc
                if val != 0:
                    res = 1 if val > 0 else -1
                    if m:
                        ctx.stats["exact_ties"] += 1
                    break
            if res == 0:
                raise SolverError("canonical test: edge direction with all objectives zero "
                                  "(internal error)")
            out.append(res)
        return out[0], out[1]

    def _exact_ray(self, recipe, VR) -> list:
        """Exact local ray: ('t', i, ±1) = ±t_i at a simple line (g_i^T t_i > 0);
        ('rho', members, ±1) = ±cof(v, g_members) at a degenerate line."""
        Rf = self.ctx.Rf
        if recipe[0] == "t":
            _, i, sign = recipe
            rows = [list(Rf[j]) for j in self.basis]
            rows[i] = list(VR)
            t = _fcof(rows)
            if _fdot(Rf[self.basis[i]], t) < 0:
                t = [-x for x in t]
            return [sign * x for x in t]
        _, members, sign = recipe
        rho = _fcof([list(VR)] + [Rf[int(m)] for m in members])
        return [sign * x for x in rho]


def _line_chambers(ctx, sub, vhat, pos, Z):
    """Chambers emitted at the line of ``sub`` (both rays): hyperplane signs (p, L) and reduced
    witnesses (p, r)."""
    r, k = ctx.r, ctx.r - 1
    geo = _LineGeometry(ctx, np.asarray(sub), pos, Z)
    off = np.ones(ctx.L, dtype=bool)
    off[Z] = False
    mv = np.min(np.abs(ctx.H[off] @ vhat)) if off.any() else 1.0
    if Z.size == k:
        # simple line: the local rays are ±t_i; F at each, for both rays of the line
        tdirs, sigs = [], []
        for i in range(k):
            rows = ctx.R[sub].copy()
            rows_a = ctx.Ra[sub].copy()
            rows[i], rows_a[i] = geo.VR, geo.VRa
            t, ta = _cof_twin(rows, rows_a)
            if ctx.R[sub[i]] @ t < 0:
                t = -t
            tdirs.append(t / np.linalg.norm(t))
            sigs.append((geo.F(t, ta, ("t", i, 1)), geo.F(-t, ta, ("t", i, -1))))
        hs_list, w_list = [], []
        for ray, sigma in ((0, 1.0), (1, -1.0)):
            allowed = [[c for c, f in ((True, sp[ray]), (False, sm[ray])) if f > 0]
                       for sp, sm in sigs]
            for choice in itertools.product(*allowed):
                hsv = pos.copy() if ray == 0 else ~pos
                hsv[sub] = choice
                w = sum((1.0 if c else -1.0) * tdirs[i] for i, c in enumerate(choice))
                w = w / np.linalg.norm(w)
                hs_list.append(hsv)
                w_list.append(sigma * vhat + 0.5 * mv * w)
        if not hs_list:
            return np.zeros((0, ctx.L), dtype=bool), np.zeros((0, r))
        return np.array(hs_list), np.array(w_list)
    return _degenerate_chambers(ctx, geo, sub, vhat, pos, Z, mv)


def _degenerate_chambers(ctx, geo: _LineGeometry, sub, vhat, pos, Z, mv):
    """Chambers emitted at a line through more than r − 1 hyperplanes: the local arrangement
    {h_l : l ∈ Z} in v^⊥ (rank r − 1), its chambers (as ``_degenerate_line_chambers``) and the
    extreme rays of each (its local lines in its closure); F on every local ray."""
    r = ctx.r
    Q = np.linalg.svd(vhat[None, :])[2][1:].T  # (r, r-1) orthonormal basis of v^⊥
    A = ctx.H[Z] @ Q
    red = _reduce(A)
    rl, Ll = red.rank, red.H.shape[0]
    words, wloc = _essential_chambers(red.H, rl)
    signs_loc = _unpack(words, Ll)  # (p, Ll) w.r.t. red.H
    # local lines (rank 2: the boundary rays of the local hyperplanes)
    subs = np.array(list(itertools.combinations(range(Ll), rl - 1)), dtype=np.intp)
    lidx, lvhat, lpos, lzi, lzl = _lines(red.H, subs)
    # dedupe local lines by zero set (first occurrence)
    seen = {}
    for c in range(lidx.shape[0]):
        zc = np.zeros(Ll, dtype=bool)
        zc[lzl[lzi == c]] = True
        key = zc.tobytes()
        if key not in seen:
            seen[key] = (c, zc)
    members = {}
    for m_pos, lh in enumerate(red.rep):
        members.setdefault(int(lh), int(Z[m_pos]))
    contains = np.zeros((signs_loc.shape[0], 2 * len(seen)), dtype=bool)
    rayF = []
    for q, (c, zc) in enumerate(seen.values()):
        pc = lpos[c]
        offc = ~zc
        contains[:, 2 * q] = np.all(signs_loc[:, offc] == pc[offc], axis=1)
        contains[:, 2 * q + 1] = np.all(signs_loc[:, offc] == ~pc[offc], axis=1)
        mem = [members[int(h)] for h in lidx[c]]
        rows = np.vstack([geo.VR[None, :], ctx.R[mem]])
        rows_a = np.vstack([geo.VRa[None, :], ctx.Ra[mem]])
        rho, rho_a = _cof_twin(rows, rows_a)
        flt = Q @ (red.lift @ lvhat[c])  # the local line in R^r (float), orientation reference
        sgn = 1 if rho @ flt > 0 else -1
        rho = sgn * rho
        for s in (1, -1):
            rayF.append(geo.F(s * rho, rho_a, ("rho", mem, s * sgn)))
    rayF = np.array(rayF)  # (2q, 2): columns ray +v, ray −v
    hs_list, w_list = [], []
    zsig = _expand(signs_loc, red)  # (p, |Z|) signs w.r.t. H[Z]
    wl = wloc @ red.lift.T @ Q.T  # (p, r) local witnesses in R^r
    wl /= np.linalg.norm(wl, axis=1, keepdims=True)
    for ray, sigma in ((0, 1.0), (1, -1.0)):
        okF = rayF[:, ray] > 0
        for p in range(signs_loc.shape[0]):
            if np.all(okF[contains[p]]):
                hsv = pos.copy() if ray == 0 else ~pos
                hsv[Z] = zsig[p]
                hs_list.append(hsv)
                w_list.append(sigma * vhat + 0.5 * mv * wl[p])
    if not hs_list:
        return np.zeros((0, ctx.L), dtype=bool), np.zeros((0, r))
    return np.array(hs_list), np.array(w_list)
