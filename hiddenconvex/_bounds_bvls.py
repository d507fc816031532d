r"""Batched box-constrained least squares :math:`\min_{0 \le z \le hi}\|g + Cz\|` (the node bounds
of :mod:`hiddenconvex.bounds`): one active-set solve per row of a batch, vectorized over the
batch. Any point it returns is feasible, so the norm it reports is a valid node bound whatever
the convergence. No I/O.
"""

from __future__ import annotations

import numpy as np


def _bvls(g, C, hi, z, max_iter):
    r"""Batched :math:`\min_{0 \le z \le hi} \|g + Cz\|` by an active-set method (Lawson–Hanson
    style: one variable enters the free set per step, a step that leaves the box is cut at the
    box and the variable that hits it leaves).

    Parameters
    ----------
    g : array, shape (N, r)
    C : array, shape (N, r, m)
        Columns of unit (or zero) norm.
    hi : array, shape (N, m)
        Upper bounds (``inf`` allowed, 0 fixes a variable at 0).
    z : array, shape (N, m)
        Start, clipped to the box.
    max_iter : int

    Returns
    -------
    z : array, shape (N, m)
        Feasible (inside the box): ``‖g + Cz‖`` is a valid value of the objective whatever the
        convergence.
    v : array, shape (N, r)
        ``g + Cz``.
    converged : bool array, shape (N,)
        KKT conditions hold (then ``‖v‖`` is the minimum up to rounding).
    """
    N, r, m = C.shape
    z = np.clip(z, 0.0, hi).copy()
    zout = z.copy()
    conv = np.zeros(N, dtype=bool)
    idx = np.arange(N)                    # global ids of the working rows
    g_, C_, hi_, z_ = g, C, hi, z
    Fi = np.zeros((N, r), dtype=np.intp)
    Fv = np.zeros((N, r), dtype=bool)
    isfree = np.zeros((N, m), dtype=bool)
    need = np.ones(N, dtype=bool)
    tol = 1e-13 * (np.linalg.norm(g, axis=1) + 1e-300)
    eye = np.eye(r)
    for _ in range(max_iter):
        n_ = idx.size
        ar = np.arange(n_)
        v = g_ + np.einsum("nrm,nm->nr", C_, z_)
        if need.any():
            w = -np.einsum("nrm,nr->nm", C_, v)
            t = tol[:, None]
            sc = np.where(~isfree & (z_ <= 0.0) & (w > t), w, 0.0)
            sc = np.where(~isfree & (z_ >= hi_) & (w < -t), -w, sc)
            sc[~need | (Fv.sum(axis=1) >= r)] = 0.0
            j = np.argmax(sc, axis=1)
            has = sc[ar, j] > 0.0
            fin = need & ~has
            add = np.flatnonzero(need & has)
            slot = np.argmin(Fv, axis=1)
            Fi[add, slot[add]] = j[add]
            Fv[add, slot[add]] = True
            isfree[add, j[add]] = True
            if fin.any():
                zout[idx[fin]] = z_[fin]
                conv[idx[fin]] = True
                keep = ~fin
                idx, g_, C_, hi_, z_ = idx[keep], g_[keep], C_[keep], hi_[keep], z_[keep]
                Fi, Fv, isfree, tol, v = Fi[keep], Fv[keep], isfree[keep], tol[keep], v[keep]
                n_ = idx.size
                ar = np.arange(n_)
                if n_ == 0:
                    break
        CF = C_[ar[:, None], :, Fi]            # (n, r_slots, r) -> need (n, r, slots)
        CF = np.swapaxes(CF, 1, 2) * Fv[:, None, :]
        zF = z_[ar[:, None], Fi] * Fv
        hF = hi_[ar[:, None], Fi]
        vfix = v - np.einsum("nrs,ns->nr", CF, zF)
        G = np.einsum("nrs,nrt->nst", CF, CF)
        G += eye * (~Fv)[:, None, :]
        G += eye * (1e-14 * np.einsum("nss->n", G))[:, None, None]
        rhs = -np.einsum("nrs,nr->ns", CF, vfix)
        znew = np.linalg.solve(G, rhs[..., None])[..., 0] * Fv
        lo_hit = Fv & (znew <= 0.0)
        hi_hit = Fv & (znew >= hF)
        ok = ~(lo_hit | hi_hit).any(axis=1)
        d = znew - zF
        # step to the box along d: a variable that hits a bound with d of the wrong sign (or 0)
        # already sits on it (0 <= zF <= hF), its step is 0
        with np.errstate(divide="ignore", invalid="ignore"):
            a_lo = np.where(lo_hit, np.where(d < 0, -zF / d, 0.0), np.inf)
            a_hi = np.where(hi_hit, np.where(d > 0, (hF - zF) / d, 0.0), np.inf)
        amin = np.minimum(a_lo, a_hi)
        k = np.argmin(amin, axis=1)
        alpha = np.where(ok, 1.0, np.clip(amin[ar, k], 0.0, 1.0))
        zn = np.where(ok[:, None], znew, zF + alpha[:, None] * d)
        bad = ~ok
        first = np.zeros((n_, r), dtype=bool)
        first[bad, k[bad]] = True
        first_hi = first & hi_hit & (a_hi <= a_lo)
        other = bad[:, None] & Fv & ~first & ((zn <= 0.0) | (zn >= hF))
        leave = first | other
        to_hi = first_hi | (other & (zn >= hF))
        zn = np.where(leave, np.where(to_hi, hF, 0.0), zn)
        rows = np.broadcast_to(ar[:, None], Fv.shape)
        z_[rows[Fv], Fi[Fv]] = zn[Fv]
        gone = leave & Fv
        isfree[rows[gone], Fi[gone]] = False
        Fv &= ~gone
        need = ok
    if idx.size:
        zout[idx] = z_
    zout = np.clip(zout, 0.0, hi)
    v = g + np.einsum("nrm,nm->nr", C, zout)
    return zout, v, conv


