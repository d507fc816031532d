r"""Best-first simplicial branch-and-bound over both signs of :math:`\lambda^T\sigma(Xu)` (the
search of :mod:`hiddenconvex.bounds`; the node bound, branching and bookkeeping are described
in that module's docstring). No I/O.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time

import numpy as np

from ._bounds_bvls import _bvls
from ._bounds_form import _ascend, _Form

_BATCH_ELEMENTS = 1 << 23  # float64 entries per batched work array (64 MB)

def _root_cones(r: int, max_orthant_rank: int) -> np.ndarray:
    """Simplicial cones covering R^r, shape (k, r, r) (generators as columns): the 2^r
    orthants, or the r+1 facet cones of a regular simplex centred at 0 (every u is a
    nonnegative combination of r of its r+1 vertices)."""
    if r <= max_orthant_rank:
        return np.array([np.diag(e) for e in itertools.product((1.0, -1.0), repeat=r)])
    E = np.eye(r + 1) - 1.0 / (r + 1)
    Q, _ = np.linalg.qr(E[:, :r])
    Vx = E @ Q
    Vx /= np.linalg.norm(Vx, axis=1)[:, None]
    return np.array([np.delete(Vx, k, axis=0).T for k in range(r + 1)])


class _Search:
    """Best-first simplicial branch-and-bound on both signs, nodes evaluated in batches."""

    def __init__(self, form: _Form, *, lo: float, rtol: float, p_enum: int, bvls_iter: int):
        self.form = form
        self.Z, self.a, self.c = form.Z, form.a, form.c
        self.n, self.r = form.Z.shape
        self.lo, self.rtol, self.p_enum = lo, rtol, p_enum
        self.bvls_iter = bvls_iter
        self.best, self.best_u, self.best_s = 0.0, None, 1
        self.nodes = 0
        self.done_max = -math.inf  # max bound of pruned / closed / unresolved nodes
        self.unresolved = 0
        self.heap: list = []
        self.count = itertools.count()
        self.target = None
        self.cap = math.inf  # a bound valid without the tree (trivial bound)
        self.rooted = False  # all root cones bounded (or their share of the bound is cap)
        self.viol: list = []  # min-heap of (value, id, sign, u) with value > target
        self.max_violators = 0

    # -- bookkeeping ------------------------------------------------------------------------
    def threshold(self) -> float:
        t = self.best if self.target is None else max(self.best, self.target)
        return t * (1.0 + self.rtol)

    def upper(self) -> float:
        if not self.rooted:  # the tree does not cover the ball yet
            return max(self.cap, self.best)
        top = -self.heap[0][0] if self.heap else -math.inf
        return min(self.cap, max(self.best, self.done_max, top))

    def consider(self, s: np.ndarray, U: np.ndarray):
        vals = s * (np.maximum(U @ self.Z.T, 0.0) @ self.a + U @ self.c)
        i = int(np.argmax(vals))
        if vals[i] > self.best:
            u, v = _ascend(self.form, int(s[i]), U[i])
            self.best, self.best_u, self.best_s = v, u, int(s[i])
            if self.target is not None and v > self.target:
                self._keep_violator(v, int(s[i]), u)
        if self.target is not None and self.max_violators > 0:
            for k in np.flatnonzero(vals > self.target):
                self._keep_violator(float(vals[k]), int(s[k]), U[k])

    def _keep_violator(self, v: float, s: int, u: np.ndarray):
        """Pool of the best directions with value > target (4x the requested number, to leave
        room for duplicates of one chamber)."""
        if self.max_violators <= 0:  # no pool requested (a target alone prunes)
            return
        item = (v, next(self.count), s, u)
        if len(self.viol) < 4 * self.max_violators:
            heapq.heappush(self.viol, item)
        elif v > self.viol[0][0]:
            heapq.heapreplace(self.viol, item)

    # -- node bounds ------------------------------------------------------------------------
    def _problems(self, s, R, ZR, u0, pieces=None):
        """BVLS data of the node bounds (:mod:`hiddenconvex.bounds`); ``pieces`` = (P rows (N, p),
        signs (N, p)) fixes the signs of positive cutting rows instead of interpolating them."""
        Z = self.Z
        N, r = s.shape[0], self.r
        a_s = s[:, None] * self.a[None, :]
        anylt = (ZR < 0.0).any(axis=2)
        cut = (ZR > 0.0).any(axis=2) & anylt
        Rinv = np.linalg.inv(R)
        g0 = s[:, None] * self.c[None, :] + (a_s * ~anylt) @ Z
        posc = cut & (a_s > 0.0)
        extra_cols = None
        if pieces is None:
            Fc = ((a_s * posc)[:, None, :] @ np.maximum(ZR, 0.0))  # (N, 1, r)
            g0 = g0 + (Fc @ Rinv)[:, 0, :]
        else:
            P, sig, okP = pieces  # (N, p) row indices, signs ±1, real (not padding) slots
            zP = Z[P] * okP[..., None]  # (N, p, r); padding slots: zero (inactive) columns
            aP = np.take_along_axis(a_s, P, axis=1)
            g0 = g0 + ((aP * (sig > 0) * okP)[:, None, :] @ zP)[:, 0, :]
            extra_cols = np.swapaxes(sig[..., None] * zP, 1, 2)  # (N, r, p): σ z^T u >= 0
        negc = cut & (a_s < 0.0)
        nK = negc.sum(axis=1)
        Kmax = int(nK.max(initial=0))
        order = np.argsort(~negc, axis=1, kind="stable")[:, :Kmax]
        valid = np.take_along_axis(negc, order, axis=1)
        ZK = Z[order] * valid[..., None]  # (N, K, r)
        aK = np.where(valid, -np.take_along_axis(a_s, order, axis=1), 0.0)
        Nh = Rinv / np.linalg.norm(Rinv, axis=2)[..., None]
        blocks = [np.swapaxes(Nh, 1, 2)]
        his = [np.full((N, r), np.inf)]
        if extra_cols is not None:
            blocks.append(extra_cols)
            his.append(np.full((N, extra_cols.shape[2]), np.inf))
        blocks.append(-np.swapaxes(ZK, 1, 2))
        his.append(aK)
        C = np.concatenate(blocks, axis=2)
        hi = np.concatenate(his, axis=1)
        z0 = np.zeros_like(hi)
        z0[:, hi.shape[1] - Kmax:] = aK * ((ZK @ u0[..., None])[..., 0] > 0)
        return g0, C, hi, z0, posc, nK

    def _solve(self, g0, C, hi, z0, nK):
        """BVLS in chunks of similar size (padding to the largest K of the chunk)."""
        N = g0.shape[0]
        b = np.empty(N)
        v = np.empty_like(g0)
        conv = np.empty(N, dtype=bool)
        order = np.argsort(nK, kind="stable")
        m_fixed = C.shape[2] - int(nK.max(initial=0))
        step = max(64, _BATCH_ELEMENTS // (self.r * C.shape[2]))  # ~64 MB per work array
        for i in range(0, N, step):
            idx = order[i:i + step]
            m = m_fixed + int(nK[idx].max(initial=0))
            _, vi, ci = _bvls(g0[idx], C[idx, :, :m], hi[idx, :m], z0[idx, :m], self.bvls_iter)
            v[idx], conv[idx] = vi, ci
        b[:] = np.linalg.norm(v, axis=1)
        return b, v, conv

    def evaluate(self, s, R, ZR, u0, cap):
        """Bounds, maximizer estimates and 'closed' flags of a batch of cones."""
        g0, C, hi, z0, posc, nK = self._problems(s, R, ZR, u0)
        b, v, conv = self._solve(g0, C, hi, z0, nK)
        b = np.minimum(b, cap)
        U = self._directions(v, R)
        npos = posc.sum(axis=1)
        closed = conv & (npos == 0)
        # exact maximum by enumerating the sign patterns of few cutting positive rows
        thr = self.threshold()
        # thin cones (longest edge < 1e-6 rad) are enumerated with up to 8 rows: splitting
        # them further is close to the rounding of the generators
        G = np.swapaxes(R, 1, 2) @ R
        thin = G.min(axis=(1, 2)) > 1.0 - 5e-13
        limit = np.where(thin, max(self.p_enum, 8), self.p_enum)
        enum = np.flatnonzero((npos >= 1) & (npos <= limit) & (b > thr))
        # in groups of similar size, at most 4096 sign pieces per group
        enum = enum[np.argsort(npos[enum], kind="stable")]
        i = 0
        while i < enum.size:
            per = 2 ** int(npos[enum[i]])
            j = i + 1
            while j < enum.size and (j - i + 1) * 2 ** int(npos[enum[j]]) <= max(4096, per):
                j += 1
            e = enum[i:j]
            be, Ue, ce = self._enumerate(s[e], R[e], ZR[e], u0[e], posc[e])
            better = be < b[e]
            b[e] = np.where(better, be, b[e])
            U[e] = np.where((better | ce)[:, None], Ue, U[e])
            closed[e] = ce
            i = j
        self.nodes += s.shape[0] + int(enum.size)
        return b, U, closed

    def _directions(self, v, R):
        nv = np.linalg.norm(v, axis=1)
        cen = R.sum(axis=2)
        cen /= np.linalg.norm(cen, axis=1)[:, None]
        return np.where(nv[:, None] > 0, v / np.where(nv > 0, nv, 1.0)[:, None], cen)

    def _enumerate(self, s, R, ZR, u0, posc):
        """max over the pieces {σ_j z_j^T u >= 0} of the cone: exact (piecewise linear φ⁺)."""
        N = s.shape[0]
        p = int(posc.sum(axis=1).max())
        P = np.argsort(~posc, axis=1, kind="stable")[:, :p]
        validP = np.take_along_axis(posc, P, axis=1)
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=p)))  # (2^p, p)
        k = signs.shape[0]
        rep = np.repeat(np.arange(N), k)
        sig = np.tile(signs, (N, 1))
        okP = validP[rep]
        # a node with fewer than p cutting rows: its padding slots take sign +1 only
        keep = ~(~okP & (sig < 0)).any(axis=1)
        rep, sig, okP = rep[keep], sig[keep], okP[keep]
        Pr = P[rep]
        g0, C, hi, z0, _, nK = self._problems(s[rep], R[rep], ZR[rep], u0[rep],
                                               (Pr, sig, okP))
        b, v, conv = self._solve(g0, C, hi, z0, nK)
        U = self._directions(v, R[rep])
        best = np.full(N, -np.inf)
        np.maximum.at(best, rep, b)
        allc = np.ones(N, dtype=bool)
        np.logical_and.at(allc, rep, conv)
        arg = np.zeros(N, dtype=np.intp)
        is_best = b >= best[rep]
        arg[rep[is_best]] = np.flatnonzero(is_best)
        self.consider(s[rep], U)
        return best, U[arg], allc

    # -- branching ----------------------------------------------------------------------------
    def expand(self, items):
        """Split a batch of popped nodes and push their children."""
        Z = self.Z
        s = np.array([it[2] for it in items], dtype=np.float64)
        R = np.array([it[3] for it in items])
        u = np.array([it[4] for it in items])
        cap = np.array([-it[0] for it in items])
        depth = np.array([it[5] for it in items])
        B, r = s.shape[0], self.r
        ar = np.arange(B)
        ZR = Z @ R  # (B, n, r)
        G = np.swapaxes(R, 1, 2) @ R
        G[:, np.arange(r), np.arange(r)] = np.inf
        flat = np.argmin(G.reshape(B, -1), axis=1)
        p, q = flat // r, flat % r
        cosmin = G.reshape(B, -1)[ar, flat]
        thin = cosmin > 1.0 - 1e-14  # longest edge < 1.5e-7 rad: splitting would be rounding
        if thin.any():
            self.done_max = max(self.done_max, float(cap[thin].max()))
            self.unresolved += int(thin.sum())
            keep = ~thin
            s, R, u, cap, depth, ZR, p, q = (x[keep] for x in (s, R, u, cap, depth, ZR, p, q))
            B = s.shape[0]
            ar = np.arange(B)
            if B == 0:
                return
        zp, zq = ZR[ar, :, p], ZR[ar, :, q]  # (B, n)
        a_s = s[:, None] * self.a[None, :]
        new = R[ar, :, p] + R[ar, :, q]
        if self.lo < 0.5:
            cross = (a_s > 0) & (((zp > 0) & (zq < 0)) | ((zp < 0) & (zq > 0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                t = zp / (zp - zq)
            cross &= (t > self.lo) & (t < 1.0 - self.lo)
            if cross.any():
                cst = np.linalg.solve(R, u[..., None])  # (B, r, 1)
                interp = (np.maximum(ZR, 0.0) @ cst)[..., 0]
                err = a_s * (interp - np.maximum(u @ Z.T, 0.0))
                err = np.where(cross, err, -np.inf)
                j = np.argmax(err, axis=1)
                has = np.isfinite(err[ar, j])
                cn = (np.abs(zp[ar, j])[:, None] * R[ar, :, q]
                      + np.abs(zq[ar, j])[:, None] * R[ar, :, p])
                new = np.where(has[:, None], cn, new)
        new /= np.linalg.norm(new, axis=1)[:, None]
        znew = new @ Z.T  # (B, n)
        R2 = np.repeat(R, 2, axis=0)
        ZR2 = np.repeat(ZR, 2, axis=0)
        i0, i1 = 2 * ar, 2 * ar + 1
        R2[i0, :, p] = new
        R2[i1, :, q] = new
        ZR2[i0, :, p] = znew
        ZR2[i1, :, q] = znew
        s2 = np.repeat(s, 2)
        u2 = np.repeat(u, 2, axis=0)
        cap2 = np.repeat(cap, 2)
        b, U, closed = self.evaluate(s2, R2, ZR2, u2, cap2)
        self.consider(s2, U)
        thr = self.threshold()
        done = closed | (b <= thr)
        if done.any():
            self.done_max = max(self.done_max, float(b[done].max()))
        d2 = np.repeat(depth, 2) + 1
        for i in np.flatnonzero(~done):
            heapq.heappush(self.heap, (-float(b[i]), next(self.count), int(s2[i]), R2[i],
                                       U[i], int(d2[i])))

    def roots(self, max_orthant_rank: int, deadline: float, chunk: int = 512):
        """Bound the root cones (both signs), in chunks; cones left when the deadline passes
        keep the trivial bound (``cap``), so the upper stays valid."""
        Rs = _root_cones(self.r, max_orthant_rank)
        k = Rs.shape[0]
        for i in range(0, 2 * k, chunk):
            if time.perf_counter() > deadline:
                self.done_max = max(self.done_max, self.cap)
                self.rooted = True
                return False
            idx = np.arange(i, min(2 * k, i + chunk))
            R = Rs[idx % k]
            s = np.where(idx < k, 1.0, -1.0)
            ZR = self.Z @ R
            cen = R.sum(axis=2)
            cen /= np.linalg.norm(cen, axis=1)[:, None]
            b, U, closed = self.evaluate(s, R, ZR, cen, np.full(idx.size, np.inf))
            self.consider(s, U)
            thr = self.threshold()
            for j in range(idx.size):
                if closed[j] or b[j] <= thr:
                    self.done_max = max(self.done_max, float(b[j]))
                else:
                    heapq.heappush(self.heap, (-float(b[j]), next(self.count), int(s[j]), R[j],
                                               U[j], 0))
        self.rooted = True
        return True

    def pop_batch(self, size: int):
        items = []
        thr = self.threshold()
        while self.heap and len(items) < size:
            it = heapq.heappop(self.heap)
            if -it[0] <= thr:
                self.done_max = max(self.done_max, -it[0])
                continue
            items.append(it)
        return items

    def drop_half(self):
        """Memory cap: drop the lower half of the queue, keeping their max bound (valid)."""
        self.heap.sort()
        half = len(self.heap) // 2
        self.done_max = max(self.done_max, -self.heap[half][0])
        del self.heap[half:]
        heapq.heapify(self.heap)


