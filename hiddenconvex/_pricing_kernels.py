r"""Compiled (numba) kernels of the exact pricing pass (:mod:`hiddenconvex.pricing`).

Everything here runs on raw float arrays prepared by :class:`hiddenconvex.pricing.Pricer`; the
mathematics, the rounding bounds and the statuses are documented there. The pieces:

* :func:`_lh_project` -- Lawson-Hanson NNLS on the polar cone, ``min_{mu >= 0} ||A^T mu + g||``
  with ``A = diag(s) X`` over all distinct rows, the passive set kept as a CGS2 QR, and the exact
  early exit (every iterate is a polar point, so its residual norm bounds the value from above);
* :func:`_upper_dot2` -- the final residual with compensated (Dot2) sums (Ogita, Rump & Oishi 2005);
* :func:`_lower_bound` -- a point certified to lie in the cone, hence a verified lower bound;
* ``_kernel_seq`` / ``_kernel_par`` -- the fused pass over a chunk of bool pattern columns:
  g_k summed from the column, screening by ``||g_k||``, the inside test for both signs, the
  projection, the verified interval and the top-k threshold.

Status codes written by the kernel: 0 screened, 1 inside, 2 below, 3 projected, 4 failed (the
iteration limit; the caller falls back to SciPy), 5 pruned (top-k).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2  # unit roundoff


def _gamma(k: int) -> float:
    """Higham's gamma_k = k u / (1 - k u): relative error bound of a k-term dot product."""
    return k * _U / (1.0 - k * _U)


# ==================================================================================================
# compiled kernel


@njit(cache=True, inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(cache=True, inline="always")
def _two_prod(a, b):
    """Dekker's error-free product (no FMA needed): a b = p + e exactly (no overflow)."""
    p = a * b
    f = 134217729.0  # 2^27 + 1
    t = f * a
    ah = t - (t - a)
    al = a - ah
    t = f * b
    bh = t - (t - b)
    bl = b - bh
    e = al * bl - (((p - ah * bh) - al * bh) - ah * bl)
    return p, e


@njit(cache=True, inline="always")
def _qr_append(Q, R, k, a, r):
    """Orthonormalize a (r,) against Q[:, :k] (CGS2), store it as column k of Q and R.
    Returns the norm of the orthogonal part."""
    for i in range(k + 1):
        R[i, k] = 0.0
    v = a.copy()
    for _ in range(2):
        for i in range(k):
            s = 0.0
            for j in range(r):
                s += Q[j, i] * v[j]
            R[i, k] += s
            for j in range(r):
                v[j] -= s * Q[j, i]
    nv = 0.0
    for j in range(r):
        nv += v[j] * v[j]
    nv = math.sqrt(nv)
    R[k, k] = nv
    if nv > 0.0:
        for j in range(r):
            Q[j, k] = v[j] / nv
    return nv


@njit(cache=True, inline="always")
def _iterate(gp, At, sg, rn, P, muP, k, u):
    """u = gp + sum_i mu_i s_i x_i; returns (‖u‖, sum_i mu_i ‖x_i‖)."""
    r = gp.shape[0]
    smu = 0.0
    for j in range(r):
        u[j] = gp[j]
    for i in range(k):
        l = P[i]
        m = muP[i] * sg[l]
        smu += muP[i] * rn[l]
        for j in range(r):
            u[j] += m * At[j, l]
    nu = 0.0
    for j in range(r):
        nu += u[j] * u[j]
    return math.sqrt(nu), smu


@njit(cache=True)
def _lh_project(gp, gn, At, rn, sg, sri, w0, P, inP, Q, R, muP, z, c, u, a, w, thr_stop, c_up,
                tol, maxit):
    """Lawson-Hanson NNLS min_{μ >= 0} ‖A^T μ + gp‖ with A = diag(sg) X_c (raw rows, columns of
    At (r, L), norms rn). The pricing step picks the most negative s_l x_l^T u / ‖x_l‖.

    ``w0`` holds s_l x_l^T gp (the sign test's products: the first pricing step is free),
    ``sri`` = s_l / ‖x_l‖.
    Returns (status, k, outer iterations, verified upper bound of the last iterate, Σμ‖x‖).
    On return P[:k], muP[:k] is the passive set, Q R its QR (A_P^T = Q R), ``u`` the iterate.
    ``inP`` is left all False. Stops with status 2 (BELOW) once the upper bound is
    <= thr_stop; c_up = (relative, absolute per (‖g‖ + Σμ‖x‖), absolute) rounding terms.
    """
    r, L = At.shape
    k = 0
    it = 0
    status = 3
    upper = 0.0
    smu = 0.0
    first_scan = True
    while True:
        nu, smu = _iterate(gp, At, sg, rn, P, muP, k, u)
        upper = nu * (1.0 + c_up[0]) + c_up[1] * (gn + smu) + c_up[2]
        if upper <= thr_stop:
            status = 2
            break
        # pricing step of NNLS: most violated constraint (normalized)
        if first_scan:
            for l in range(L):
                w[l] = w0[l] / rn[l]
            first_scan = False
        else:
            for l in range(L):
                w[l] = 0.0
            for j in range(r):
                uj = u[j]
                for l in range(L):
                    w[l] += At[j, l] * uj
            for l in range(L):
                w[l] *= sri[l]  # s_l x_l^T u / ‖x_l‖
        for i in range(k):
            w[P[i]] = np.inf
        best = -tol
        lstar = -1
        for l in range(L):
            if w[l] < best:
                best = w[l]
                lstar = l
        if lstar < 0:
            break  # KKT: A u >= -tol ‖x‖, μ >= 0, complementarity on P
        # one exact line step on the entering row alone, μ_l = -w_l/‖x_l‖ (other μ fixed),
        # is a polar point: ‖u + μ_l a_l‖² = ‖u‖² - best² (+ rounding of w_l)
        ub2 = nu * nu - best * best + 2.0 * (-best) * c_up[0] * nu
        ub2 = max(ub2, 0.0)
        upper2 = math.sqrt(ub2) * (1.0 + c_up[0]) + c_up[1] * (gn + smu - best) + c_up[2]
        if upper2 <= thr_stop:
            upper = upper2
            status = 2
            break
        it += 1
        if it > maxit or k >= r:
            status = 4
            break
        for j in range(r):
            a[j] = sg[lstar] * At[j, lstar]
        nrm = _qr_append(Q, R, k, a, r)
        if nrm <= 1e-14 * rn[lstar]:  # dependent on the passive rows: optimal to rounding
            break
        s = 0.0
        for j in range(r):
            s += Q[j, k] * gp[j]
        c[k] = s
        P[k] = lstar
        inP[lstar] = True
        muP[k] = 0.0
        k += 1
        first = True
        stop = False
        while True:  # inner loop: least squares on P, step back while some z <= 0
            for i in range(k - 1, -1, -1):  # R z = -c
                s = -c[i]
                for q in range(i + 1, k):
                    s -= R[i, q] * z[q]
                z[i] = s / R[i, i]
            allpos = True
            for i in range(k):
                if z[i] <= 0.0:
                    allpos = False
                    break
            if allpos:
                for i in range(k):
                    muP[i] = z[i]
                break
            if first and z[k - 1] <= 0.0:
                # the entering row does not lower the residual in floating point: the previous
                # iterate is optimal to rounding (drop the row, stop)
                k -= 1
                inP[P[k]] = False
                stop = True
                break
            first = False
            alpha = 2.0
            worst = -1
            for i in range(k):
                if z[i] <= 0.0:
                    t = muP[i] / (muP[i] - z[i])
                    if t < alpha:
                        alpha = t
                        worst = i
            for i in range(k):
                muP[i] += alpha * (z[i] - muP[i])
            muP[worst] = 0.0
            # drop non-positive multipliers, rebuild the QR of the remaining rows
            kk = 0
            for i in range(k):
                if muP[i] > 0.0:
                    P[kk] = P[i]
                    muP[kk] = muP[i]
                    kk += 1
                else:
                    inP[P[i]] = False
            k = kk
            for q in range(k):
                for j in range(r):
                    a[j] = sg[P[q]] * At[j, P[q]]
                _qr_append(Q, R, q, a, r)
                s = 0.0
                for j in range(r):
                    s += Q[j, q] * gp[j]
                c[q] = s
            if k == 0:
                break
        if stop:
            nu, smu = _iterate(gp, At, sg, rn, P, muP, k, u)
            upper = nu * (1.0 + c_up[0]) + c_up[1] * (gn + smu) + c_up[2]
            break
    for i in range(k):
        inP[P[i]] = False
    return status, k, it, upper, smu


@njit(cache=True)
def _upper_dot2(gp, At, sg, P, muP, k, uc):
    """‖gp + Σ μ_i s_i x_i‖ with compensated (Dot2) sums: returns the norm of the result; the
    caller adds u‖·‖ + γ_{k+1}² (‖g‖ + Σμ‖x‖) (Ogita, Rump & Oishi 2005)."""
    r = gp.shape[0]
    for j in range(r):
        s = gp[j]
        e = 0.0
        for i in range(k):
            l = P[i]
            p, ep = _two_prod(muP[i] * sg[l], At[j, l])
            s, es = _two_sum(s, p)
            e += ep + es
        uc[j] = s + e
    nu = 0.0
    for j in range(r):
        nu += uc[j] * uc[j]
    return math.sqrt(nu)


@njit(cache=True)
def _lower_bound(gp, u, wd, At, rn, sg, c_lo):
    """Verified lower bound g^T ũ / ‖ũ‖ with ũ = u + t wd ∈ C, t >= 0 the smallest shift.

    ``wd`` is any direction (the face direction with A_P wd = 1, or the chamber's witness).
    The exact s_l x_l^T ũ is at least (su_l - c_lo ‖x_l‖‖u‖) + t (sw_l - c_lo ‖x_l‖‖wd‖)
    (computed su, sw), which must be >= 0 for every row. Returns NaN if no t >= 0 does it."""
    r, L = At.shape
    nu = 0.0
    nw = 0.0
    gu = 0.0
    gw = 0.0
    ng = 0.0
    for j in range(r):
        nu += u[j] * u[j]
        nw += wd[j] * wd[j]
        gu += gp[j] * u[j]
        gw += gp[j] * wd[j]
        ng += gp[j] * gp[j]
    nu = math.sqrt(nu)
    nw = math.sqrt(nw)
    ng = math.sqrt(ng)
    t_lo = 0.0
    t_hi = np.inf
    for l in range(L):
        su = 0.0
        sw = 0.0
        for j in range(r):
            su += At[j, l] * u[j]
            sw += At[j, l] * wd[j]
        su *= sg[l]
        sw *= sg[l]
        mw = sw - c_lo * rn[l] * nw
        need = c_lo * rn[l] * nu - su
        if mw > 0.0:
            t_lo = max(t_lo, need / mw)
        elif need > 0.0:
            return np.nan
        elif mw < 0.0:
            t_hi = min(t_hi, need / mw)  # need <= 0, mw < 0: t <= need / mw
    if t_lo > t_hi:
        return np.nan
    t = t_lo
    num = gu + t * gw - c_lo * ng * (nu + t * nw)
    den = (nu + t * nw) * (1.0 + c_lo)
    if den <= 0.0 or num <= 0.0:
        return 0.0
    return num / den


@njit(cache=True)
def _face_direction(Q, R, k, r, wd, y):
    """wd with A_P wd = 1 on the passive rows (A_P^T = Q R): R^T y = 1, wd = Q y."""
    for i in range(k):
        s = 1.0
        for q in range(i):
            s -= R[q, i] * y[q]
        y[i] = s / R[i, i]
    for j in range(r):
        s = 0.0
        for i in range(k):
            s += Q[j, i] * y[i]
        wd[j] = s


def _price_kernel_py(Xl, D, rep, At, rn, W, thr, err_g, c_up, c_lo, c_dot2, tol_rel, maxit,
                     nblocks, topk, floor, status, value, upper, lower, direc, iters, bound,
                     G_in):
    """Fused screen + inside test + projection for every chamber of the chunk.

    ``topk`` > 0: each work block raises its stopping threshold to the k-th largest verified
    lower bound of the exact values it found (at least ``floor``): blocks that cannot enter
    the top k are then stopped early (status PRUNED unless they are also <= thr).

    Xl (n, r): rows λ_j x_j (rank-r coordinates); D (n, c) bool; rep (L,) data row of each
    distinct constraint; At (r, L) constraint rows (transposed), rn (L,) their norms;
    W (c, r) witnesses or (0, r); G_in (c, r) precomputed g_k or (0, r).
    Outputs (2, c) / (2, c, r) / (c,).
    """
    n, c = D.shape
    r, L = At.shape
    have_w = W.shape[0] == c
    have_g = G_in.shape[0] == c
    size = (c + nblocks - 1) // nblocks
    for b in prange(nblocks):
        lo = b * size
        hi = min(c, lo + size)
        g = np.empty(r)
        gp = np.empty(r)
        sg = np.empty(L)
        sri = np.empty(L)
        w0 = np.empty(L)
        w = np.empty(L)
        P = np.empty(r, dtype=np.int64)
        inP = np.zeros(L, dtype=np.bool_)
        Q = np.zeros((r, r))
        R = np.zeros((r, r))
        muP = np.empty(r)
        z = np.empty(r)
        cc = np.empty(r)
        u = np.empty(r)
        a = np.empty(r)
        wd = np.empty(r)
        y = np.empty(r)
        cup = np.empty(3)
        cup[0] = c_up[0]
        cup[1] = c_up[1]
        cup[2] = err_g
        heap = np.empty(max(topk, 1))
        hn = 0
        thr_eff = max(thr, floor) if topk > 0 else thr
        for k in range(lo, hi):
            if have_g:
                for j in range(r):
                    g[j] = G_in[k, j]
            else:
                for j in range(r):
                    g[j] = 0.0
                for i in range(n):
                    if D[i, k]:
                        for j in range(r):
                            g[j] += Xl[i, j]
            ng = 0.0
            for j in range(r):
                ng += g[j] * g[j]
            ng = math.sqrt(ng)
            bnd = ng * (1.0 + c_up[0]) + err_g
            bound[k] = bnd
            if bnd <= thr_eff:
                for s in range(2):
                    status[s, k] = 0 if bnd <= thr else 5
                    value[s, k] = bnd
                    upper[s, k] = bnd
                    lower[s, k] = 0.0
                continue
            # chamber signs and s_l x_l^T g: the inside test for both signs
            for l in range(L):
                sg[l] = 1.0 if D[rep[l], k] else -1.0
                sri[l] = sg[l] / rn[l]
                w0[l] = 0.0
            for j in range(r):
                gj = g[j]
                for l in range(L):
                    w0[l] += At[j, l] * gj
            pos = True
            neg = True
            for l in range(L):
                w0[l] *= sg[l]
                if w0[l] < 0.0:
                    pos = False
                if w0[l] > 0.0:
                    neg = False
            for s in range(2):
                gam = 1.0 if s == 0 else -1.0
                for j in range(r):
                    gp[j] = gam * g[j]
                if s == 1:
                    for l in range(L):
                        w0[l] = -w0[l]
                inside = pos if s == 0 else neg
                smu = 0.0
                if inside:
                    st = 1
                    kk = 0
                    it = 0
                    for j in range(r):
                        u[j] = gp[j]
                    up = bnd
                else:
                    st, kk, it, up, smu = _lh_project(gp, ng, At, rn, sg, sri, w0, P, inP, Q, R,
                                                      muP,
                                                      z, cc, u, a, w, thr_eff, cup,
                                                      tol_rel * ng, maxit)
                status[s, k] = st
                iters[s, k] = it
                if st == 2:
                    if up > thr:
                        status[s, k] = 5  # pruned by the top-k threshold
                    upper[s, k] = min(up, bnd)
                    value[s, k] = upper[s, k]
                    lower[s, k] = 0.0
                    continue
                if st == 3 and kk > 0:
                    # tight verified upper bound: the same polar point, compensated sums
                    nc = _upper_dot2(gp, At, sg, P, muP, kk, wd)
                    up = nc * (1.0 + c_up[0]) + c_dot2 * (ng + smu) + err_g
                upper[s, k] = min(up, bnd)
                if st == 3 and kk > 0:
                    # the face projection as an orthogonal residual re-orthogonalized (CGS2):
                    # accurate relative to its own norm (u from μ carries the cancellation
                    # error of g + A^T μ); used for the value and the lower bound
                    for j in range(r):
                        u[j] = gp[j]
                    for _ in range(2):
                        for i in range(kk):
                            t = 0.0
                            for j in range(r):
                                t += Q[j, i] * u[j]
                            for j in range(r):
                                u[j] -= t * Q[j, i]
                nu = 0.0
                for j in range(r):
                    nu += u[j] * u[j]
                nu = math.sqrt(nu)
                lw = np.nan
                if kk > 0:  # shift along the face's inner normals (tight, no witness needed)
                    _face_direction(Q, R, kk, r, wd, y)
                    lw = _lower_bound(gp, u, wd, At, rn, sg, c_lo)
                if have_w:
                    lw2 = _lower_bound(gp, u, W[k], At, rn, sg, c_lo)
                    if not math.isnan(lw2) and not lw2 <= lw:
                        lw = lw2
                if kk == 0 and math.isnan(lw):  # no shift at all
                    for j in range(r):
                        wd[j] = 0.0
                    lw = _lower_bound(gp, u, wd, At, rn, sg, c_lo)
                # ‖Π‖ >= 0 always: a failed shift (u ≈ 0 at the apex) gives the bound 0
                lower[s, k] = 0.0 if math.isnan(lw) else max(lw - err_g, 0.0)
                # keep the reported value inside its verified interval
                nu = max(min(nu, upper[s, k]), lower[s, k])
                value[s, k] = nu
                if topk > 0 and lower[s, k] > thr_eff:
                    # keep the k largest verified lower bounds; the smallest is the new floor
                    if hn < topk:
                        heap[hn] = lower[s, k]
                        hn += 1
                    else:
                        im = 0
                        for i in range(1, topk):
                            if heap[i] < heap[im]:
                                im = i
                        heap[im] = lower[s, k]
                    if hn == topk:
                        hm = heap[0]
                        for i in range(1, topk):
                            hm = min(hm, heap[i])
                        thr_eff = max(thr_eff, hm)
                if nu > 0.0:
                    for j in range(r):
                        direc[s, k, j] = u[j] / nu
                else:
                    for j in range(r):
                        direc[s, k, j] = 0.0


_kernel_seq = njit(cache=True)(_price_kernel_py)
_kernel_par = njit(cache=True, parallel=True)(_price_kernel_py)


@njit(cache=True)
def _shift_norms(Xd, D, h, shift, fp):
    """Per column k of the bool chunk D (n, c): ``shift[k] = ||sum_{i: D_ik} Xd[i]||`` (Xd (n, d)
    the rows x_i (λ_i - λ_ref,i)) and the fingerprint ``fp[k] = sum_{i: D_ik} h[i] mod 2^32`` of
    the column (h (n,) uint32 weights). Floating point as written; the caller adds the rounding
    bound (:meth:`hiddenconvex.pricing.Pricer.stored_bounds`)."""
    n, c = D.shape
    d = Xd.shape[1]
    g = np.empty(d)
    for k in range(c):
        for j in range(d):
            g[j] = 0.0
        acc = np.uint64(0)
        for i in range(n):
            if D[i, k]:
                acc += np.uint64(h[i])
                for j in range(d):
                    g[j] += Xd[i, j]
        s = 0.0
        for j in range(d):
            s += g[j] * g[j]
        shift[k] = math.sqrt(s)
        fp[k] = np.uint32(acc & np.uint64(0xFFFFFFFF))
