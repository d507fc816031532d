r"""numba kernels of the streaming chamber enumerator (:mod:`hiddenconvex._canonical_rays`).

One call of :func:`scan` walks the (r−1)-subsets of the L hyperplanes in lexicographic order from
a saved position and, for every subset whose line and zero set the float filters decide with
certainty (the same decisions as ``hiddenconvex._extreme_rays._lines``), applies the canonical
test of :mod:`hiddenconvex._canonical_rays` and writes the chambers emitted at that line: sign
rows, a witness and its verification. Every subset the filters cannot decide — rank ambiguous,
direction ill-conditioned, a zero-set entry ambiguous, a canonical-test value within its rounding
bound, or a line through more than r − 1 hyperplanes that may be the canonical occurrence of that
line — is handed back to Python in a "deferred" buffer, where the exact code path decides it.
The kernel never guesses.

Error bounds. A value computed by a straight-line program of +, −, × from floats differs from its
exact value by at most γ_N · (the same program run on absolute values, with − replaced by +), where
N bounds the number of roundings on any path and γ_N = N·eps/(1 − N·eps) (Higham, Accuracy and
Stability, §3). Every test value below is computed together with that "absolute" twin.

All kernels live in this one module (with the generated unrolled cofactors of
:mod:`hiddenconvex._cofactors`) on purpose: numba's on-disk cache (``cache=True``) of a function
is invalidated only when the function's own source file changes, not when a function it calls
in another file does, so splitting the kernels across files would let an edit of a helper run
with stale machine code of its callers. ``scripts/gen_cofactors.py`` touches this file when it
rewrites the cofactors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._cofactors import cof_fixed

# reasons a subset is deferred (column 0 of the deferred buffer is the reason)
DEFER_RANK = 1  # r ≥ 4: independence not decided by the float filter
DEFER_ZERO = 3  # a zero-set entry not decided by the float filter
DEFER_DEGENERATE = 4  # more than r − 1 hyperplanes through the line, maybe its canonical subset
DEFER_TEST = 5  # a canonical-test value within its rounding bound: exact arithmetic needed
DEFER_SKIPPED = 6  # on a degenerate line, not its first subset: emits nothing; its zero set is
#                    checked for consistency (``_canonical_rays._check_closed``)

# what the kernels produce
MODE_COUNT = 0  # count the chambers emitted by the canonical test
MODE_EMIT = 1  # sign rows, witnesses, verification
MODE_HASH = 2  # 128-bit fingerprints of the chambers emitted by the canonical test
MODE_CAND = 3  # fingerprints of ALL candidates at every line (no canonical test; for dedupe)


@njit(_nrt=False, cache=True)
def _cof(M, Ma, k, r, V, P, T, Ta, masks, mstart):
    """Generalized cross product of the k = r−1 rows of M (Laplace expansion, memoized over
    column subsets) and the same program on the nonnegative matrix Ma (its absolute twin).

    V[i] = (−1)^i det(M without column i) (so V ⟂ every row of M); P[i] = the twin of V[i]
    (the permanent of |M| without column i when Ma = |M|).
    """
    T[0] = 1.0
    Ta[0] = 1.0
    for t in range(k - 1, -1, -1):
        size = k - t
        for q in range(mstart[size], mstart[size + 1]):
            S = masks[q]
            acc = 0.0
            acca = 0.0
            j = 0
            for c in range(r):
                if (S >> c) & 1:
                    sub = S ^ (1 << c)
                    term = M[t, c] * T[sub]
                    if j & 1:
                        acc -= term
                    else:
                        acc += term
                    acca += Ma[t, c] * Ta[sub]
                    j += 1
            T[S] = acc
            Ta[S] = acca
    full = (1 << r) - 1
    for i in range(r):
        S = full ^ (1 << i)
        V[i] = T[S] if i % 2 == 0 else -T[S]
        P[i] = Ta[S]


@njit(_nrt=False, cache=True)
def _gram_det(M, rows, nrows, r, G):
    """det of the Gram matrix of the rows M[rows[:nrows]] (small; Gaussian elimination)."""
    for a in range(nrows):
        for b in range(nrows):
            s = 0.0
            for c in range(r):
                s += M[rows[a], c] * M[rows[b], c]
            G[a, b] = s
    det = 1.0
    for c in range(nrows):
        piv = c
        for i in range(c + 1, nrows):
            if abs(G[i, c]) > abs(G[piv, c]):
                piv = i
        if G[piv, c] == 0.0:
            return 0.0
        if piv != c:
            for j in range(nrows):
                tmp = G[c, j]
                G[c, j] = G[piv, j]
                G[piv, j] = tmp
            det = -det
        det *= G[c, c]
        for i in range(c + 1, nrows):
            f = G[i, c] / G[c, c]
            for j in range(c, nrows):
                G[i, j] -= f * G[c, j]
    return det


# ------------------------------------------------------------------------------------------------
# double-double arithmetic (Dekker, Knuth): the exact path of the kernel. Each operation below is
# exact up to a relative error of a few u² (u = 2^-53) of the magnitudes involved, so a value
# computed by a program of depth N is within 16·N·u² of its absolute twin (the float program on
# absolute values), 10^16 times tighter than in floats.

_SPLIT = 134217729.0  # 2^27 + 1
U2 = 2.0 ** -106


@njit(_nrt=False, cache=True, inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(_nrt=False, cache=True, inline="always")
def _two_prod(a, b):
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(_nrt=False, cache=True, inline="always")
def _dd_add(xh, xl, yh, yl):
    s, e = _two_sum(xh, yh)
    e += xl + yl
    h = s + e
    return h, e - (h - s)


@njit(_nrt=False, cache=True, inline="always")
def _dd_mul_d(xh, xl, b):
    p, e = _two_prod(xh, b)
    e += xl * b
    h = p + e
    return h, e - (h - p)


@njit(_nrt=False, cache=True)
def _cof_dd(M, k, r, Vh, Vl, Th, Tl, masks, mstart):
    """:func:`_cof` in double-double: V = Vh + Vl, the same memoized Laplace expansion."""
    Th[0] = 1.0
    Tl[0] = 0.0
    for t in range(k - 1, -1, -1):
        size = k - t
        for q in range(mstart[size], mstart[size + 1]):
            S = masks[q]
            ah = 0.0
            al = 0.0
            j = 0
            for c in range(r):
                if (S >> c) & 1:
                    sub = S ^ (1 << c)
                    ph, pl = _dd_mul_d(Th[sub], Tl[sub], M[t, c])
                    if j & 1:
                        ph = -ph
                        pl = -pl
                    ah, al = _dd_add(ah, al, ph, pl)
                    j += 1
            Th[S] = ah
            Tl[S] = al
    full = (1 << r) - 1
    for i in range(r):
        S = full ^ (1 << i)
        if i % 2 == 0:
            Vh[i] = Th[S]
            Vl[i] = Tl[S]
        else:
            Vh[i] = -Th[S]
            Vl[i] = -Tl[S]


@njit(_nrt=False, cache=True)
def _dot_dd(x, Vh, Vl, r):
    """Σ_c x[c]·(Vh[c] + Vl[c]) in double-double, rounded to a float."""
    ah = 0.0
    al = 0.0
    for c in range(r):
        ph, pl = _dd_mul_d(Vh[c], Vl[c], x[c])
        ah, al = _dd_add(ah, al, ph, pl)
    return ah + al


@njit(_nrt=False, cache=True)
def _subvolume_bounds(M, k, r, rows, G):
    """Lower and upper bounds of Σ_t (k−1)-volume of the rows of M (k, r) without row t, as
    ``_subvolume_sum`` computes it in floats (Gram determinants; relative accuracy 1e-6 assumed
    above a determinant of 1e-12, [0, 1e-6] below)."""
    lo = 0.0
    hi = 0.0
    for t in range(k):
        q = 0
        for a in range(k):
            if a != t:
                rows[q] = a
                q += 1
        if q == 0:
            lo += 1.0
            hi += 1.0
            continue
        g = _gram_det(M, rows, q, r, G)
        if g > 1e-12:
            s = np.sqrt(g)
            lo += s * (1.0 - 1e-6)
            hi += s * (1.0 + 1e-6)
        else:
            hi += 1e-6
    return lo, hi



@njit(_nrt=False, cache=True)
def _amb_decide(l, M, Ma, H, Vh, Vl, P, k, r, vol_lo, vol_hi, a_s, E, C, eps, ferr_k, edd,
                Mt, Mta, Vt, Pt, T, Ta, masks, mstart):
    """Is h_l on the line of the subset M (rows of H)? The rule of ``_lines`` for an entry its
    first filter leaves open: zero iff |det[h_l; M]| ≤ C·sig, sig = eps·(‖V‖ + Σ_t ‖cof(M with
    row t replaced by h_l)‖). Returns 0 (zero), 1 (nonzero) or 2 (too close to call: exact
    arithmetic needed). ``sig`` is bracketed (the float norms ``_lines`` computes lie within
    twice their rounding bounds of ours), the determinant is the float one (error E) or, if that
    does not decide, the double-double one (error edd·Σ P|h_l| + a rounding)."""
    sig_lo = eps * vol_lo
    sig_hi = eps * vol_hi
    for t in range(k):
        for a in range(k):
            for c in range(r):
                Mt[a, c] = M[a, c]
                Mta[a, c] = Ma[a, c]
        for c in range(r):
            Mt[t, c] = H[l, c]
            Mta[t, c] = abs(H[l, c])
        _cofany(Mt, Mta, k, r, Vt, Pt, T, Ta, masks, mstart)
        nt = 0.0
        pt = 0.0
        for c in range(r):
            nt += Vt[c] * Vt[c]
            pt += Pt[c] * Pt[c]
        nt = np.sqrt(nt)
        et = 2.0 * ferr_k * np.sqrt(pt) + 4.0 * eps * nt
        sig_lo += eps * max(nt - et, 0.0)
        sig_hi += eps * (nt + et)
    sig_lo *= 1.0 - 1e-12
    sig_hi *= 1.0 + 1e-12
    if a_s + E <= C * sig_lo:
        return 0
    if a_s - E > C * sig_hi:
        return 1
    s = _dot_dd(H[l], Vh, Vl, r)
    e = 0.0
    for c in range(r):
        e += P[c] * abs(H[l, c])
    e = edd * e * 2.0 + 4.0 * eps * abs(s)
    if abs(s) + e <= C * sig_lo:
        return 0
    if abs(s) - e > C * sig_hi:
        return 1
    return 2



@njit(_nrt=False, cache=True)
def _next_comb(comb, k, L):
    """Advance comb (increasing k-subset of range(L)) lexicographically; False at the end."""
    i = k - 1
    while i >= 0 and comb[i] == L - k + i:
        i -= 1
    if i < 0:
        return False
    comb[i] += 1
    for j in range(i + 1, k):
        comb[j] = comb[j - 1] + 1
    return True


@njit(_nrt=False, cache=True, inline="always")
def _cofany(M, Ma, k, r, V, P, T, Ta, masks, mstart):
    """:func:`_cof` unrolled for r ≤ 6 (generated code), memoized loop otherwise."""
    if not cof_fixed(M, Ma, r, V, P):
        _cof(M, Ma, k, r, V, P, T, Ta, masks, mstart)


_BIG = 1e300


@njit(_nrt=False, cache=True)
def _sign_pass(S, thr, hs, sg, L):
    """hs = S > 0, sg = ±1 (sign of S), and (number of |S| ≤ thr, min of the other |S|).
    Branch-free loops (the signs are unpredictable: a branch per entry costs more than the
    whole line)."""
    n = 0
    for l in range(L):
        s = S[l]
        hs[l] = s > 0.0
        sg[l] = math.copysign(1.0, s)
        n += abs(s) <= thr
    return n, _min_above(S, thr, L)


@njit(_nrt=False, cache=True, fastmath={"nnan", "ninf", "nsz", "reassoc"})
def _min_above(S, thr, L):
    """min of |S[l]| over |S[l]| > thr (_BIG if none); finite inputs (the fastmath flags only let
    the min reduction vectorize: min is exactly associative, and no sum is computed here)."""
    m = _BIG
    for l in range(L):
        a = abs(S[l])
        x = a if a > thr else _BIG
        m = min(m, x)
    return m


@njit(_nrt=False, cache=True, fastmath={"nnan", "ninf", "nsz", "reassoc"})
def _min_prod(x, y, m):
    """min_j x[j]·y[j] (finite inputs; fastmath only for the min reduction)."""
    mn = _BIG
    for j in range(m):
        mn = min(mn, x[j] * y[j])
    return mn


@njit(_nrt=False, cache=True, fastmath={"reassoc", "contract"})
def _dot4(x, A, c, L):
    """Σ_l x[l]·A[c, l] (vectorized: any order of summation keeps the bound γ_L·Σ|x||A| that
    the callers use, so reassociation is allowed here and only here)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    q = L // 4
    for i in range(q):
        l = 4 * i
        a0 += x[l] * A[c, l]
        a1 += x[l + 1] * A[c, l + 1]
        a2 += x[l + 2] * A[c, l + 2]
        a3 += x[l + 3] * A[c, l + 3]
    for l in range(4 * q, L):
        a0 += x[l] * A[c, l]
    return (a0 + a1) + (a2 + a3)



@njit(_nrt=False, cache=True, inline="always")
def _line_emit(comb, V, vol, mv, hs, isidx, b, babs, geo, wk, Dt, Wt, bad, Hh, cnt, stats):
    """Canonical test (direction d_1, float filter) and emission at the simple line of ``comb``.

    ``V``/``vol``: the line direction (H geometry) and its norm; ``mv`` = min_{l∉Z} |h_l·V|;
    ``hs`` (L,) the signs h_l·V > 0 (anything on the line), ``isidx`` marks the line's
    hyperplanes; ``b``, ``babs`` = Σ_{l∉Z} sign_l g_l and its twin Σ_{l∉Z} |g_l|.
    Returns (status, cnt): status 0 = done (chambers written from row ``cnt`` on), DEFER_TEST =
    a test value within its rounding bound (nothing written; exact path needed).
    """
    (H, HT, R, RT, Ra, colabs, dvec, dabs, XnT, lift, identity, rowrep, rowflip, nzidx, rowptr,
     rowlist, masks, mstart, gam, tol, mode, R1, R2) = geo
    (MR, MRa, Mt, Mta, VR, VRa, ta, tt, tnorm, qm, qp, u, uf, vals, T, Ta, sr, Mte, te, ta2,
     eV) = wk
    L, r = H.shape
    k = r - 1
    dd = XnT.shape[0]
    m = XnT.shape[1]
    nsub = 1 << k
    eps = 2.220446049250313e-16
    ferr_k = 4.0 * (r + 1) * eps  # _float_err(r − 1): Laplace evaluation of (r−1)-minors
    if mode != MODE_CAND:
        for a in range(k):
            for c in range(r):
                MR[a, c] = R[comb[a], c]
                MRa[a, c] = Ra[comb[a], c]
        _cofany(MR, MRa, k, r, VR, VRa, T, Ta, masks, mstart)
        # Running error analysis. VR (float) differs from the exact cofactor vector by at most
        # eV = ferr_k·VRa componentwise; every later quantity is computed from the float VR, and
        # its error is bounded from the errors of its inputs plus its own rounding: for a product
        # |ab − ãb̃| ≤ ea(|b̃| + eb) + |ã| eb, for a dot product of r terms add gr·Σ|x||y|.
        # (A bound through the permanents alone would be quadratic in VRa/|VR|: useless for
        # ill-conditioned lines.) b is a sum of L terms: eb = gL·babs.
        gr = (r + 2) * eps
        gL = (L + 2) * eps
        for c in range(r):
            eV[c] = ferr_k * VRa[c]
        dv = 0.0
        e_dv = 0.0
        bv = 0.0
        e_bv = 0.0
        for c in range(r):
            x = VR[c]
            ax = abs(x)
            dv += dvec[c] * x
            bv += b[c] * x
            e_dv += dabs[c] * (eV[c] + gr * ax)
            e_bv += abs(b[c]) * (eV[c] + gr * ax) + gL * babs[c] * (ax + eV[c])
        for i in range(k):
            for a in range(k):
                for c in range(r):
                    Mt[a, c] = MR[a, c]
                    Mta[a, c] = MRa[a, c]
            for c in range(r):
                Mt[i, c] = VR[c]
                Mta[i, c] = VRa[c]
            # t(VR) and its twin at VRa; t is linear in the row VR, so
            # |t̃ − t(V)| ≤ ferr_k·T(|VR|) + T(eV) ≤ 2·ferr_k·T(VRa) =: te
            _cofany(Mt, Mta, k, r, tt[i], ta, T, Ta, masks, mstart)
            for c in range(r):
                te[c] = 2.0 * ferr_k * ta[c]
            ht = 0.0
            e_ht = 0.0
            for c in range(r):
                ht += MR[i, c] * tt[i, c]
                e_ht += MRa[i, c] * (te[c] + gr * abs(tt[i, c]))
            if not (abs(ht) > 2.0 * e_ht):
                return DEFER_TEST, cnt
            if ht < 0.0:
                ht = -ht
                for c in range(r):
                    tt[i, c] = -tt[i, c]
            dt = 0.0
            e_dt = 0.0
            bt = 0.0
            e_bt = 0.0
            tn = 0.0
            for c in range(r):
                x = tt[i, c]
                ax = abs(x)
                dt += dvec[c] * x
                bt += b[c] * x
                e_dt += dabs[c] * (te[c] + gr * ax)
                e_bt += abs(b[c]) * (te[c] + gr * ax) + gL * babs[c] * (ax + te[c])
                tn += x * x
            tnorm[i] = np.sqrt(tn)
            p1 = dt * bv
            p2 = bt * dv
            Pv = p1 - p2
            Qv = ht * dv
            e_P = (e_dt * (abs(bv) + e_bv) + abs(dt) * e_bv + e_bt * (abs(dv) + e_dv)
                   + abs(bt) * e_dv + 2.0 * eps * (abs(p1) + abs(p2)))
            e_Q = e_ht * (abs(dv) + e_dv) + ht * e_dv + eps * abs(Qv)
            qm[i] = Pv - Qv
            qp[i] = Pv + Qv
            err = 2.0 * (e_P + e_Q + 2.0 * eps * (abs(Pv) + abs(Qv)))
            if not (abs(qm[i]) > err and abs(qp[i]) > err):
                return DEFER_TEST, cnt
    # ------------------------------------------------------------------------ emission
    rowsset = False
    identity_rows = m == Dt.shape[1]
    if mode >= MODE_HASH:
        # linear fingerprints: Σ of a random 64-bit word per positive hyperplane (mod 2^64), two
        # independent ones; the chamber and its negation are identified (hyperplane 0 positive)
        hb1 = np.uint64(0)
        hb2 = np.uint64(0)
        tz1 = np.uint64(0)
        tz2 = np.uint64(0)
        for l in range(L):
            if hs[l]:
                hb1 += R1[l]
                hb2 += R2[l]
        for a in range(k):
            tz1 += R1[comb[a]]
            tz2 += R2[comb[a]]
        all1 = np.uint64(0)
        all2 = np.uint64(0)
        for l in range(L):
            all1 += R1[l]
            all2 += R2[l]
    for ray in range(2):
        sig = 1.0 if ray == 0 else -1.0
        if ray == 1 and rowsset:
            for j in range(m):
                sr[j] = -sr[j]  # rows off the line flip; the line's rows are set per chamber
        for mask in range(nsub):
            ok = True
            for i in range(k):
                plus = (mask >> i) & 1
                if mode == MODE_CAND:
                    allowed = True
                elif ray == 0:
                    allowed = qm[i] > 0.0 if plus else qp[i] < 0.0
                else:
                    allowed = qp[i] > 0.0 if plus else qm[i] < 0.0
                if not allowed:
                    ok = False
                    break
            if not ok:
                continue
            stats[0] += 1
            if mode == MODE_COUNT:
                continue
            if mode >= MODE_HASH:
                if ray == 0:
                    h1 = hb1
                    h2 = hb2
                    pos0 = hs[0]
                else:
                    h1 = all1 - tz1 - hb1
                    h2 = all2 - tz2 - hb2
                    pos0 = not hs[0]
                for i in range(k):
                    if (mask >> i) & 1:
                        h1 += R1[comb[i]]
                        h2 += R2[comb[i]]
                        if comb[i] == 0:
                            pos0 = True
                    elif comb[i] == 0:
                        pos0 = False
                if not pos0:
                    h1 = all1 - h1
                    h2 = all2 - h2
                Hh[cnt, 0] = h1
                Hh[cnt, 1] = h2
                cnt += 1
                continue
            if not rowsset:
                # ±1 sign of every nonzero row off the line for this ray (branch-free)
                flipall = ray == 1
                for j in range(m):
                    e = hs[rowrep[j]] ^ rowflip[j] ^ flipall
                    sr[j] = 2.0 * e - 1.0
                rowsset = True
            # witness u = sig·v̂ + ε Σ_i s_i t̂_i, ε = ½ min_{l∉Z}|h_l·v̂| / ‖Σ s_i t̂_i‖
            wn = 0.0
            for c in range(r):
                w = 0.0
                for i in range(k):
                    if (mask >> i) & 1:
                        w += tt[i, c] / tnorm[i]
                    else:
                        w -= tt[i, c] / tnorm[i]
                u[c] = w
                wn += w * w
            epsw = 0.5 * (mv / vol) / np.sqrt(wn)
            for c in range(r):
                u[c] = sig * V[c] / vol + epsw * u[c]
            if identity:
                for c in range(dd):
                    uf[c] = u[c]
            else:
                for c in range(dd):
                    s = 0.0
                    for e2 in range(r):
                        s += lift[c, e2] * u[e2]
                    uf[c] = s
            un = 0.0
            for c in range(dd):
                un += uf[c] * uf[c]
            un = np.sqrt(un)
            for c in range(dd):
                uf[c] /= un
                Wt[cnt, c] = uf[c]
            # rows of the line's hyperplanes take the chamber's choice s_i
            for i in range(k):
                si = ((mask >> i) & 1) == 1
                l = comb[i]
                for q in range(rowptr[l], rowptr[l + 1]):
                    j = rowlist[q]
                    sr[j] = 1.0 if (si ^ rowflip[j]) else -1.0
            x0 = uf[0]
            for j in range(m):
                vals[j] = XnT[0, j] * x0
            for c in range(1, dd):
                x = uf[c]
                for j in range(m):
                    vals[j] += XnT[c, j] * x
            mn = _min_prod(sr, vals, m)
            if identity_rows:
                for j in range(m):
                    Dt[cnt, j] = sr[j] > 0.0
            else:
                for j in range(m):
                    Dt[cnt, nzidx[j]] = sr[j] > 0.0
            bad[cnt] = not (mn > tol)
            cnt += 1
    return 0, cnt


def make_work(L, r, dd, m):
    """Work arrays of :func:`_line_emit` and of the scans (allocated once per scan: the kernels
    are compiled without NRT, so they allocate nothing and do no reference counting)."""
    k = r - 1
    kk = max(k, 1)
    f = np.empty
    wk = (f((k, r)), f((k, r)), f((k, r)), f((k, r)), f(r), f(r), f(r), f((k, r)), f(k), f(k),
          f(k), f(r), f(dd), f(m), f(1 << r), f(1 << r), f(m), f((k, r)), f(r), f(r), f(r))
    wk2 = (f((k, r)), f((k, r)), f(r), f(r), f(1 << r), f(1 << r), f(r), f(r), f(r), f(L), f(L),
           np.zeros(L, dtype=np.bool_), np.zeros(L, dtype=np.bool_), f(kk, dtype=np.int64),
           f((kk, kk)), f(k, dtype=np.int64), f(r), f(r), f(1 << r), f(1 << r), f((k, r)),
           f((k, r)), f(r), f(r))
    return wk, wk2


@njit(_nrt=False, cache=True)
def scan(comb, C, eps, ferr_k, ferr_r, geo, wk, wk2, Dt, Wt, bad, Hh, defer, dvhat, dpos,
         dzero, stats, cnt0):
    """Process subsets from ``comb`` (the next subset to process, modified in place) until the
    output or deferred buffer may overflow or the subsets are exhausted.

    ``geo`` = (H, H^T, R, R^T, Ra, Σ_l |g_l|, d_1, |d_1|, XnT, lift, identity, rowrep, rowflip,
    nzidx, rowptr, rowlist, masks, mstart, gam, tol, mode, R1, R2): unit normals (decisions, as
    ``_lines``) and their transpose, geometry rows g and |g| and the column sums of |g|, the
    direction d_1 of the canonical test, unit nonzero rows of X transposed (dd, m), the lift
    (dd, r), hyperplane / orientation flip / row index of each nonzero row, the nonzero rows of
    each hyperplane (CSR), column subsets by size (for :func:`_cof`), the rounding factor of the
    test values, the witness margin, what to produce (MODE_*), the fingerprint words. C, eps,
    ferr_k, ferr_r: the constants of ``_lines``. Dt (cap, n) bool rows (zero rows preset True),
    Wt (cap, dd), bad (cap,): output; defer (capd, 1 + k): reason and subset of each deferred
    subset; dvhat (capd, r), dpos, dzero (capd, L): for subsets deferred as degenerate lines, the
    unit direction, the signs and the zero set decided here; stats: int64 counters [emitted,
    simple lines done, -, dependent subsets skipped,
    degenerate occurrences skipped, deferred, done flag].

    Returns
    -------
    (number of output rows filled, including the cnt0 carried ones; number of subsets deferred)
    """
    H = geo[0]
    HT = geo[1]
    RT = geo[3]
    Ra = geo[4]
    colabs = geo[5]
    masks = geo[16]
    mstart = geo[17]
    mode = geo[20]
    cap = Dt.shape[0] if mode == MODE_EMIT else Hh.shape[0]
    L, r = H.shape
    k = r - 1
    capd = defer.shape[0]
    (M, Ma, V, P, T, Ta, b, babs, pf, S, sg, hs, isidx, rows, G, comb2, Vh, Vl, Th, Tl, Mt2,
     Mta2, Vt, Pt) = wk2
    cnt = cnt0  # rows [0, cnt0) of the output hold chambers carried over from the last call
    nd = 0
    while True:
        if mode != MODE_COUNT and cnt + (2 << k) > cap:
            break
        if nd >= capd or stats[6] == 1:
            break
        for a in range(k):
            for c in range(r):
                M[a, c] = H[comb[a], c]
                Ma[a, c] = abs(M[a, c])
        _cofany(M, Ma, k, r, V, P, T, Ta, masks, mstart)
        vol = 0.0
        pn = 0.0
        for c in range(r):
            vol += V[c] * V[c]
            pn += P[c] * P[c]
        vol = np.sqrt(vol)
        errv = ferr_k * np.sqrt(pn)
        vol_lo = vol - errv
        vol_hi = vol + errv
        reason = 0
        refined = False  # V replaced by its double-double value (error edd·P)
        have_dd = False
        edd = 16.0 * (k * (k + 1) // 2 + 2) * U2
        if r >= 4 and not (vol_lo > C * eps * k):
            # independence: ``_lines`` keeps the subset iff ‖V‖ > C·eps·Σ subvolumes (V exact,
            # rounded); decided here with V in double-double unless too close to call
            svlo, svhi = _subvolume_bounds(M, k, r, rows, G)
            _cof_dd(M, k, r, Vh, Vl, Th, Tl, masks, mstart)
            have_dd = True
            vn = 0.0
            for c in range(r):
                vn += Vh[c] * Vh[c]
            vn = np.sqrt(vn)
            evn = edd * np.sqrt(pn) + 4.0 * eps * vn
            if vn + evn < C * eps * svlo:
                stats[3] += 1  # dependent: no line
                if not _next_comb(comb, k, L):
                    stats[6] = 1
                continue
            if vn - evn > C * eps * svhi:
                refined = True
                for c in range(r):
                    V[c] = Vh[c]
                vol = vn
                vol_lo = vn - evn
                vol_hi = vn + evn
            else:
                reason = DEFER_RANK
        if reason == 0 and not refined and errv > 1e-12 * vol:
            # ill-conditioned line: its direction in double-double (as ``_lines`` rounds the
            # exact one), for tighter decisions and an accurate witness
            if not have_dd:
                _cof_dd(M, k, r, Vh, Vl, Th, Tl, masks, mstart)
                have_dd = True
            vn = 0.0
            for c in range(r):
                V[c] = Vh[c]
                vn += Vh[c] * Vh[c]
            vn = np.sqrt(vn)
            evn = edd * np.sqrt(pn) + 4.0 * eps * vn
            refined = True
            vol = vn
            vol_lo = vn - evn
            vol_hi = vn + evn
        if reason == 0:
            for a in range(k):
                isidx[comb[a]] = True
            thr = 0.0
            for c in range(r):
                if refined:
                    pf[c] = edd * P[c] + (r + 3) * eps * abs(V[c])
                else:
                    pf[c] = ferr_r * P[c]
                thr += pf[c]
            thr += C * eps * (vol_hi + k)
            # S = H V (vectorized over l)
            v0 = V[0]
            for l in range(L):
                S[l] = HT[0, l] * v0
            for c in range(1, r):
                vc = V[c]
                for l in range(L):
                    S[l] += HT[c, l] * vc
            # fast pass: signs, and the entries that may be zero (|S| ≤ thr: the subset's own
            # hyperplanes, and those the classification below has to look at)
            nsmall, mv = _sign_pass(S, thr, hs, sg, L)
            degenerate = False
            skip = False
            if nsmall != k:
                mv = _BIG
                for l in range(L):
                    s = S[l]
                    a_s = abs(s)
                    if a_s <= thr:
                        if isidx[l]:
                            continue
                        E = 0.0
                        for c in range(r):
                            E += pf[c] * abs(H[l, c])
                        if a_s + E <= C * eps * vol_lo:
                            degenerate = True
                            if l < comb[1] and mode != MODE_CAND:
                                # the two smallest hyperplanes of the line are not comb[0],
                                # comb[1]: not its lexicographically first independent subset
                                skip = True
                                break
                            sg[l] = 0.0
                            hs[l] = False
                            continue
                        elif not (a_s - E > C * eps * (vol_hi + k)):
                            # second stage of ``_lines``: the threshold C·sig with the other
                            # volumes, then the determinant in double-double
                            if not have_dd:
                                _cof_dd(M, k, r, Vh, Vl, Th, Tl, masks, mstart)
                                have_dd = True
                            z = _amb_decide(l, M, Ma, H, Vh, Vl, P, k, r, vol_lo, vol_hi, a_s, E,
                                            C, eps, ferr_k, edd, Mt2, Mta2, Vt, Pt, T, Ta, masks,
                                            mstart)
                            if z == 0:
                                degenerate = True
                                if l < comb[1] and mode != MODE_CAND:
                                    skip = True
                                    break
                                sg[l] = 0.0
                                hs[l] = False
                                continue
                            elif z == 2:
                                reason = DEFER_ZERO
                                break
                            s = _dot_dd(H[l], Vh, Vl, r)  # nonzero: its sign from the dd value
                            a_s = abs(s)
                            S[l] = s
                            hs[l] = s > 0.0
                            sg[l] = 1.0 if s > 0.0 else -1.0
                    elif isidx[l]:
                        reason = DEFER_ZERO  # (cannot happen: S is ~0 on the subset itself)
                        break
                    mv = min(mv, a_s)
            else:
                for a in range(k):
                    if not (abs(S[comb[a]]) <= thr):
                        reason = DEFER_ZERO  # (cannot happen, as above)
            for a in range(k):
                sg[comb[a]] = 0.0
                hs[comb[a]] = False
            if skip:
                stats[4] += 1
                reason = DEFER_SKIPPED
            elif reason == 0 and degenerate:
                reason = DEFER_DEGENERATE
                # keep what was decided: the exact path does not need to redo it
                for c in range(r):
                    dvhat[nd, c] = V[c] / vol
                for l in range(L):
                    dpos[nd, l] = hs[l]
                    dzero[nd, l] = sg[l] == 0.0
            elif reason == 0:
                # b = Σ_l sign_l g_l, its twin = Σ_l |g_l| − Σ_{l on the line} |g_l|
                for c in range(r):
                    b[c] = _dot4(sg, RT, c, L)
                    tw = colabs[c]
                    for a in range(k):
                        tw -= Ra[comb[a], c]
                    babs[c] = tw * (1.0 + 4.0 * eps * L)
                status, cnt = _line_emit(comb, V, vol, mv, hs, isidx, b, babs, geo, wk, Dt, Wt,
                                         bad, Hh, cnt, stats)
                if status != 0:
                    reason = status
                else:
                    stats[1] += 1
            for a in range(k):
                isidx[comb[a]] = False
        if reason != 0:
            defer[nd, 0] = reason
            for a in range(k):
                defer[nd, 1 + a] = comb[a]
            nd += 1
            stats[5] += 1
        if not _next_comb(comb, k, L):
            stats[6] = 1
    return cnt, nd


@njit(_nrt=False, cache=True)
def emit_lines(subs, vhat, pos, geo, wk, wk2, Dt, Wt, bad, Hh, status, stats):
    """:func:`_line_emit` for simple lines decided by ``_lines`` (exact path): subsets (c, k),
    unit directions (c, r), signs (c, L). Writes ``status[i]`` (0 or DEFER_TEST) and returns the
    number of chambers written (Dt needs 2^r rows per line)."""
    H = geo[0]
    R = geo[2]
    Ra = geo[4]
    L, r = H.shape
    k = r - 1
    (M, Ma, V, P, T, Ta, b, babs, pf, S, sg, hs, isidx, rows, G, comb, Vh, Vl, Th, Tl, Mt2,
     Mta2, Vt, Pt) = wk2
    cnt = 0
    for q in range(subs.shape[0]):
        for a in range(k):
            comb[a] = subs[q, a]
            isidx[comb[a]] = True
        for c in range(r):
            V[c] = vhat[q, c]
            b[c] = 0.0
            babs[c] = 0.0
        mv = np.inf
        for l in range(L):
            if isidx[l]:
                hs[l] = False
                continue
            hs[l] = pos[q, l]
            s = 0.0
            for c in range(r):
                s += H[l, c] * V[c]
            mv = min(mv, abs(s))
            if pos[q, l]:
                for c in range(r):
                    b[c] += R[l, c]
                    babs[c] += Ra[l, c]
            else:
                for c in range(r):
                    b[c] -= R[l, c]
                    babs[c] += Ra[l, c]
        st, cnt = _line_emit(comb, V, 1.0, mv, hs, isidx, b, babs, geo, wk, Dt, Wt, bad, Hh,
                             cnt, stats)
        status[q] = st
        for a in range(k):
            isidx[comb[a]] = False
    return cnt


# ------------------------------------------------------------------------------------------------
# lines through more than r − 1 hyperplanes (degenerate lines)


@njit(_nrt=False, cache=True)
def _popcount(x):
    c = 0
    while x:
        x &= x - np.uint64(1)
        c += 1
    return c


@njit(cache=True)
def degenerate_line(sub, Z, vhat, pos, H, R, Ra, dvec, dabs, C, eps, masks, mstart,
                    out_hs, out_w, out_ray, work_f, work_i, work_u):
    """Chambers emitted at the degenerate line through the hyperplanes Z (z > r − 1, z ≤ 63),
    processed at its subset ``sub``; ``vhat`` its unit direction, ``pos`` (L,) the signs off Z.

    The local arrangement {h_l : l ∈ Z} in v^⊥ (rank r − 1): its lines are spanned by (r−2)-
    subsets J of Z, ρ_J = cof(v̂, h_J) (zero set: the members of Z with |det[v̂; h_J; h_l]| below
    the determinant rule's threshold; lines deduplicated by zero set); its candidate chambers are
    the sign vectors equal to sign(ρ) off the zero set of some local ray ±ρ (any signs on it), and
    a candidate is a chamber iff the local rays in its closure (its extreme rays) span v^⊥. The
    canonical test F (module :mod:`hiddenconvex._canonical_rays`) is evaluated on every local ray
    in the geometry rows, with a running error bound, and a chamber is emitted at ±v iff F > 0 on
    all its rays.

    Writes, per chamber, its hyperplane signs out_hs (p, L), the unit sum of its local extreme
    rays out_w (p, r) (⟂ v̂; the caller adds ±v̂) and the ray of the line, out_ray (p,) (0: +v̂,
    1: −v̂). Returns (p, status): status 0 = done, 1 = something too close to call in floats
    (the caller then uses the exact Python path).
    """
    L, r = H.shape
    k = r - 1
    z = Z.shape[0]
    kk = r - 2
    # work arrays (carved from work_f / work_i / work_u)
    nj_max = work_i.shape[0] // (kk + 1)
    rho = work_f[: nj_max * r].reshape((nj_max, r))  # unit local rays (H geometry)
    off = nj_max * r
    rhoR = work_f[off: off + nj_max * r].reshape((nj_max, r))  # rays in geometry rows
    off += nj_max * r
    Fp = work_f[off: off + 2 * nj_max]  # F at +ρ, −ρ for ray +v
    off += 2 * nj_max
    Fm = work_f[off: off + 2 * nj_max]  # ... for ray −v
    off += 2 * nj_max
    M = work_f[off: off + k * r].reshape((k, r))
    off += k * r
    Ma = work_f[off: off + k * r].reshape((k, r))
    off += k * r
    V = work_f[off: off + r]
    off += r
    P = work_f[off: off + r]
    off += r
    VR = work_f[off: off + r]
    off += r
    VRa = work_f[off: off + r]
    off += r
    T = work_f[off: off + (1 << r)]
    off += 1 << r
    Ta = work_f[off: off + (1 << r)]
    off += 1 << r
    b = work_f[off: off + r]
    off += r
    babs = work_f[off: off + r]
    off += r
    w = work_f[off: off + r]
    off += r
    Mt = work_f[off: off + k * r].reshape((k, r))
    off += k * r
    Mta = work_f[off: off + k * r].reshape((k, r))
    off += k * r
    Vt = work_f[off: off + r]
    off += r
    Pt = work_f[off: off + r]
    off += r
    members = work_i[: nj_max * kk].reshape((nj_max, kk))
    jc = work_i[nj_max * kk: nj_max * kk + kk]
    zmask = work_u[:nj_max]
    pmask = work_u[nj_max: 2 * nj_max]
    cand = work_u[2 * nj_max:]
    ncand_max = cand.shape[0]
    if z > 63 or kk < 1:
        return 0, 1
    gr = (r + 2) * eps
    gL = (L + 2) * eps
    ferr_k = 4.0 * (r + 1) * eps
    # ---------------------------------------------------------------- local lines
    nj = 0
    for a in range(kk):
        jc[a] = a
    while True:
        # rows v̂, h_J
        for c in range(r):
            M[0, c] = vhat[c]
            Ma[0, c] = abs(vhat[c])
        for a in range(kk):
            for c in range(r):
                M[1 + a, c] = H[Z[jc[a]], c]
                Ma[1 + a, c] = abs(M[1 + a, c])
        _cofany(M, Ma, k, r, V, P, T, Ta, masks, mstart)
        vol = 0.0
        pn = 0.0
        for c in range(r):
            vol += V[c] * V[c]
            pn += P[c] * P[c]
        vol = np.sqrt(vol)
        errv = ferr_k * np.sqrt(pn) + 4.0 * eps  # (+ v̂ itself is known to rounding only)
        if vol - errv > C * eps * k * 64.0:
            # independent: a local line; zero set over Z
            zm = np.uint64(0)
            pm = np.uint64(0)
            for q in range(z):
                own = False
                for a in range(kk):
                    if jc[a] == q:
                        own = True
                if own:
                    zm |= np.uint64(1) << np.uint64(q)  # h_J itself: on the local line
                    continue
                s = 0.0
                e = 0.0
                for c in range(r):
                    s += H[Z[q], c] * V[c]
                    e += abs(H[Z[q], c]) * P[c]
                e = 2.0 * ferr_k * e + 4.0 * eps * vol
                bit = np.uint64(1) << np.uint64(q)
                vol2 = 0.0
                if abs(s) + e > C * eps * vol:
                    # the rule's threshold is C·eps·Σ of the r volumes without one of the r
                    # vectors (v̂, h_J, h_l): add the others (lower bounds)
                    for t in range(kk + 1):  # t = 0: without v̂; t ≥ 1: h_l replaces J[t − 1]
                        for c in range(r):
                            Mt[0, c] = H[Z[q], c] if t == 0 else vhat[c]
                            Mta[0, c] = abs(Mt[0, c])
                        for a in range(kk):
                            for c in range(r):
                                if t >= 1 and a == t - 1:
                                    Mt[1 + a, c] = H[Z[q], c]
                                else:
                                    Mt[1 + a, c] = M[1 + a, c]
                                Mta[1 + a, c] = abs(Mt[1 + a, c])
                        _cofany(Mt, Mta, k, r, Vt, Pt, T, Ta, masks, mstart)
                        v2 = 0.0
                        pt = 0.0
                        for c in range(r):
                            v2 += Vt[c] * Vt[c]
                            pt += Pt[c] * Pt[c]
                        vol2 += max(np.sqrt(v2) - ferr_k * np.sqrt(pt) - 4.0 * eps, 0.0)
                if abs(s) + e <= C * eps * (vol + vol2):
                    zm |= bit
                elif abs(s) - e > C * eps * (vol + k) * (1.0 + 1e-12):
                    if s > 0.0:
                        pm |= bit
                else:
                    return 0, 2
            dup = False
            for q in range(nj):
                if zmask[q] == zm:
                    dup = True
                    break
            if not dup:
                if nj >= nj_max:
                    return 0, 3
                zmask[nj] = zm
                pmask[nj] = pm
                for c in range(r):
                    rho[nj, c] = V[c] / vol
                for a in range(kk):
                    members[nj, a] = Z[jc[a]]
                nj += 1
        elif not (vol + errv < C * eps * k):
            return 0, 4  # rank not decided
        # next (r−2)-subset of range(z)
        i = kk - 1
        while i >= 0 and jc[i] == z - kk + i:
            i -= 1
        if i < 0:
            break
        jc[i] += 1
        for j in range(i + 1, kk):
            jc[j] = jc[j - 1] + 1
    # ---------------------------------------------------------------- test geometry: v, b
    for a in range(k):
        for c in range(r):
            M[a, c] = R[sub[a], c]
            Ma[a, c] = Ra[sub[a], c]
    _cofany(M, Ma, k, r, VR, VRa, T, Ta, masks, mstart)
    # orient VR like vhat (both span the line)
    dot = 0.0
    for c in range(r):
        dot += VR[c] * vhat[c]
    if dot < 0.0:
        for c in range(r):
            VR[c] = -VR[c]
    for c in range(r):
        b[c] = 0.0
        babs[c] = 0.0
    for l in range(L):
        onz = False
        for q in range(z):
            if Z[q] == l:
                onz = True
                break
        if onz:
            continue
        for c in range(r):
            if pos[l]:
                b[c] += R[l, c]
            else:
                b[c] -= R[l, c]
            babs[c] += Ra[l, c]
    dv = 0.0
    e_dv = 0.0
    bv = 0.0
    e_bv = 0.0
    for c in range(r):
        x = VR[c]
        ax = abs(x)
        ev = ferr_k * VRa[c]
        dv += dvec[c] * x
        bv += b[c] * x
        e_dv += dabs[c] * (ev + gr * ax)
        e_bv += abs(b[c]) * (ev + gr * ax) + gL * babs[c] * (ax + ev)
    # ---------------------------------------------------------------- F on every local ray
    for q in range(nj):
        for c in range(r):
            M[0, c] = VR[c]
            Ma[0, c] = VRa[c]
        for a in range(kk):
            for c in range(r):
                M[1 + a, c] = R[members[q, a], c]
                Ma[1 + a, c] = Ra[members[q, a], c]
        _cofany(M, Ma, k, r, V, P, T, Ta, masks, mstart)
        dot = 0.0
        for c in range(r):
            dot += V[c] * rho[q, c]
        if dot < 0.0:
            for c in range(r):
                V[c] = -V[c]
        for c in range(r):
            rhoR[q, c] = V[c]
        # error of ρ (linear in the row VR): 2·ferr_k·twin(VRa)
        dr = 0.0
        e_dr = 0.0
        br = 0.0
        e_br = 0.0
        sl = 0.0
        e_sl = 0.0
        for c in range(r):
            x = V[c]
            ax = abs(x)
            ex = 2.0 * ferr_k * P[c]
            dr += dvec[c] * x
            br += b[c] * x
            e_dr += dabs[c] * (ex + gr * ax)
            e_br += abs(b[c]) * (ex + gr * ax) + gL * babs[c] * (ax + ex)
        for qq in range(z):
            s = 0.0
            e = 0.0
            for c in range(r):
                s += R[Z[qq], c] * V[c]
                e += Ra[Z[qq], c] * (2.0 * ferr_k * P[c] + gr * abs(V[c]))
            sl += abs(s)
            e_sl += e
        e_sl += z * eps * sl
        for sgn in range(2):
            sr = 1.0 if sgn == 0 else -1.0
            # F(±ρ) = ±(bv·d·ρ − dv·b·ρ) ∓v dv·Σ|g_l·ρ|
            p1 = bv * dr
            p2 = dv * br
            A1 = sr * (p1 - p2)
            e_A1 = (e_bv * (abs(dr) + e_dr) + abs(bv) * e_dr + e_dv * (abs(br) + e_br)
                    + abs(dv) * e_br + 2.0 * eps * (abs(p1) + abs(p2)))
            t2 = dv * sl
            e_t2 = e_dv * (sl + e_sl) + abs(dv) * e_sl + eps * abs(t2)
            err = 2.0 * (e_A1 + e_t2 + 2.0 * eps * (abs(A1) + abs(t2)))
            fplus = A1 - t2  # ray +v
            fminus = A1 + t2  # ray −v
            if not (abs(fplus) > err and abs(fminus) > err):
                return 0, 5
            Fp[2 * q + sgn] = fplus
            Fm[2 * q + sgn] = fminus
    # ---------------------------------------------------------------- candidate local chambers
    nc = 0
    for q in range(nj):
        zm = zmask[q]
        nz_ = _popcount(zm)
        if nz_ > 20:
            return 0, 6
        for sgn in range(2):
            base = pmask[q] if sgn == 0 else (~pmask[q]) & (~zm)
            full = (np.uint64(1) << np.uint64(z)) - np.uint64(1)
            base &= full
            # all sign choices on the zero set (subsets of zm)
            sbits = np.uint64(0)
            while True:
                if nc >= ncand_max:
                    return 0, 7
                cand[nc] = base | sbits
                nc += 1
                if sbits == zm:
                    break
                sbits = (sbits - zm) & zm  # next subset of zm
    cs = cand[:nc]
    cs.sort()
    cnt = 0
    pcap = out_hs.shape[0]
    for ci in range(nc):
        if ci > 0 and cs[ci] == cs[ci - 1]:
            continue
        sigma = cs[ci]
        # rays in the closure: ρ (sgn 0) or −ρ (sgn 1) agrees with σ off its zero set
        # rank of those rays (Gram–Schmidt on unit vectors) must be r − 1
        for c in range(r):
            w[c] = 0.0
        okp = True
        okm = True
        basis_n = 0
        for q in range(nj):
            zm = zmask[q]
            for sgn in range(2):
                pm = pmask[q] if sgn == 0 else (~pmask[q]) & (~zm)
                if ((sigma ^ pm) & ~zm) & ((np.uint64(1) << np.uint64(z)) - np.uint64(1)):
                    continue
                sr = 1.0 if sgn == 0 else -1.0
                for c in range(r):
                    w[c] += sr * rho[q, c]
                if Fp[2 * q + sgn] <= 0.0:
                    okp = False
                if Fm[2 * q + sgn] <= 0.0:
                    okm = False
                # rank of the rays met so far (Gram–Schmidt, basis in the rows of Ma)
                if basis_n < k:
                    for c in range(r):
                        V[c] = rho[q, c]
                    for a in range(basis_n):
                        d = 0.0
                        for c in range(r):
                            d += Ma[a, c] * V[c]
                        for c in range(r):
                            V[c] -= d * Ma[a, c]
                    nv = 0.0
                    for c in range(r):
                        nv += V[c] * V[c]
                    nv = np.sqrt(nv)
                    if nv > 1e-6:
                        for c in range(r):
                            Ma[basis_n, c] = V[c] / nv
                        basis_n += 1
                    elif nv > 1e-12:
                        return 0, 8
        if basis_n < k:
            continue  # not a chamber (a face)
        if not (okp or okm):
            continue
        wn = 0.0
        for c in range(r):
            wn += w[c] * w[c]
        wn = np.sqrt(wn)
        for ray in range(2):
            if (ray == 0 and not okp) or (ray == 1 and not okm):
                continue
            if cnt >= pcap:
                return 0, 9
            for l in range(L):
                out_hs[cnt, l] = pos[l] if ray == 0 else not pos[l]
            for q in range(z):
                out_hs[cnt, Z[q]] = ((sigma >> np.uint64(q)) & np.uint64(1)) == np.uint64(1)
            for c in range(r):
                out_w[cnt, c] = w[c] / wn
            out_ray[cnt] = ray
            cnt += 1
    return cnt, 0
