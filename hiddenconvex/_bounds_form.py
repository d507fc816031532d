r"""Normal form of the correlation :math:`\lambda^T\sigma(Xu)`, incumbents by chamber ascent, and
the global quadratic-envelope bound (private helpers of :mod:`hiddenconvex.bounds`).

In the coordinates of row(X) (rank r), with unit rows :math:`z_j = x_j/\|x_j\|` and weights
:math:`a_j = \lambda_j\|x_j\|`,
:math:`\lambda^T\sigma(Xu) = c^Tu + \sum_j a_j\,\mathrm{relu}(z_j^Tu)`; exactly equal rows are
merged and exactly antiparallel ones folded into the linear term c (relu(−t) = relu(t) − t).
The core does no I/O and never prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ._linalg import _svd_rank
from .correlations import _polar_nnls
from .errors import SolverError


@dataclass
class _Form:
    """φ_s(u) = s (c^T u + Σ a_j relu(z_j^T u)) in rank coordinates (u_orig = V^T u)."""

    Z: np.ndarray  # (m, r) unit rows
    a: np.ndarray  # (m,)
    c: np.ndarray  # (r,)
    V: np.ndarray  # (r, d) orthonormal rows spanning row(X)
    lip: float  # ‖c‖ + Σ|a_j|: Lipschitz constant of φ on the unit ball
    tail: float = 0.0  # ‖λ‖·σ_{r+1}(X): what dropping the numerically null directions can hide


def _normal_form(X: np.ndarray, lam: np.ndarray) -> _Form:
    """The normal form of u ↦ λ^T σ(Xu) (module docstring).

    Rank r by numpy's ``matrix_rank`` rule (:func:`hiddenconvex._linalg._svd_rank`) on the rows
    with λ_j ≠ 0. For a unit u and its component v = Vu in the kept directions,
    |λ^T σ(Xu) − λ^T σ(XV^T v)| ≤ Σ|λ_j||x_j^T(u − V^T v)| ≤ ‖λ‖ σ_{r+1}, stored as ``tail``
    (0 for exactly rank-deficient data up to rounding) and added to every reported bound.
    """
    keep = (lam != 0) & np.any(X != 0, axis=1)
    Xk, lk = X[keep], lam[keep]
    d = X.shape[1]
    if Xk.shape[0] == 0:
        return _Form(np.zeros((0, 0)), np.zeros(0), np.zeros(0), np.zeros((0, d)), 0.0)
    _, s, Vt = np.linalg.svd(Xk, full_matrices=False)
    r = _svd_rank(Xk, s)
    tail = float(np.linalg.norm(lk) * s[r]) if r < s.size else 0.0
    V = Vt[:r]
    Xr = Xk @ V.T
    nr = np.linalg.norm(Xr, axis=1)
    Z = Xr / nr[:, None]
    a = lk * nr
    # merge exactly equal rows, then exactly antiparallel ones (relu(-t) = relu(t) - t)
    Zu, inv = np.unique(Z, axis=0, return_inverse=True)
    au = np.bincount(inv.reshape(-1), weights=a, minlength=Zu.shape[0])
    c = np.zeros(r)
    index = {row.tobytes(): i for i, row in enumerate(Zu)}
    alive = np.ones(Zu.shape[0], dtype=bool)
    for i, row in enumerate(Zu):
        if not alive[i]:
            continue
        j = index.get((-row).tobytes())
        if j is not None and j != i and alive[j]:
            au[i] += au[j]
            c -= au[j] * row  # a_j relu(-z^T u) = a_j relu(z^T u) - a_j z^T u
            alive[j] = False
    Zu, au = Zu[alive & (au != 0)], au[alive & (au != 0)]
    lip = float(np.linalg.norm(c) + np.abs(au).sum())
    return _Form(Zu, au, c, V, lip, tail)


def _phi(form: _Form, s: int, U: np.ndarray) -> np.ndarray:
    """φ_s at the rows of U (k, r)."""
    return s * (np.maximum(U @ form.Z.T, 0.0) @ form.a + U @ form.c)


# --------------------------------------------------------------------------------------------
# Local ascent (incumbents)


def _project_polar(g: np.ndarray, A: np.ndarray) -> np.ndarray | None:
    """Π_{u: Au >= 0}(g) (exact, NNLS on the polar cone); None if NNLS does not converge (the
    ascent is a heuristic: a failed step is skipped, never reported)."""
    if A.shape[0] == 0 or np.all(A @ g >= 0):
        return g
    try:
        return _polar_nnls(g, A)
    except SolverError:
        return None


def _ascend(form: _Form, s: int, u: np.ndarray, max_iter: int = 50):
    """Chamber ascent from u: u ← Π_{C(D(u))}(g_D)/‖·‖, with D(u) strict or weak on ties.

    Monotone: u ∈ C(D) and φ_s = g_D^T(·) on C(D), so ‖Π_C(g_D)‖ ≥ g_D^T u = φ_s(u).
    """
    Z, a, c = form.Z, s * form.a, s * form.c
    nrm = np.linalg.norm(u)
    if nrm == 0:
        return u, 0.0
    u = u / nrm
    val = float(_phi(form, s, u[None])[0])
    for _ in range(max_iter):
        t = Z @ u
        best_u, best_v = None, val
        for D in (t > 0, t >= 0):
            g = c + Z[D].T @ a[D]
            A = np.where(D, 1.0, -1.0)[:, None] * Z
            p = _project_polar(g, A)
            if p is None:
                continue
            pn = np.linalg.norm(p)
            if pn > 0:
                v = float(_phi(form, s, (p / pn)[None])[0])
                if v > best_v:
                    best_u, best_v = p / pn, v
        if best_u is None or best_v <= val * (1 + 1e-13) + 1e-300:
            if best_u is not None and best_v > val:
                u, val = best_u, best_v
            break
        u, val = best_u, best_v
    return u, val


def _multistart(form: _Form, rng, n_starts: int, n_ascents: int, starts=None):
    """Best (u, value, sign) of chamber ascents: from the best ``n_ascents`` of ``n_starts``
    random unit directions per sign, and from every given start (rows of ``starts``, shape
    (k, r), rank coordinates) for the sign of its value. (None, 0, 1) when nothing is positive."""
    r = form.Z.shape[1]
    best = (None, 0.0, 1)
    if r == 0:
        return best
    U = rng.standard_normal((n_starts, r))
    U /= np.linalg.norm(U, axis=1)[:, None]
    base = np.maximum(U @ form.Z.T, 0.0) @ form.a + U @ form.c
    for s in (1, -1):
        vals = s * base
        for i in np.argsort(-vals)[:n_ascents]:
            u, v = _ascend(form, s, U[i])
            if v > best[1]:
                best = (u, v, s)
    if starts is not None and len(starts):
        vals = _phi(form, 1, starts)
        for i in np.flatnonzero(vals != 0):
            s = 1 if vals[i] > 0 else -1
            u, v = _ascend(form, s, starts[i])
            if v > best[1]:
                best = (u, v, s)
    return best


# --------------------------------------------------------------------------------------------
# Global quadratic bound (no tree: the fallback in high rank)


def _trs_dual(A: np.ndarray, b: np.ndarray) -> float:
    r"""Upper bound on :math:`\max_{\|u\| \le 1} u^T A u + b^T u`, tight (S-lemma).

    For every ν ≥ 0 with νI ≻ A: :math:`u^TAu + b^Tu = \nu\|u\|^2 - u^T(\nu I - A)u + b^Tu
    \le \nu + \tfrac14 b^T(\nu I - A)^{-1}b`; the right side is convex in ν and minimized by
    bisection on its derivative. Any ν evaluated is a valid bound.
    """
    w, Q = np.linalg.eigh(A)
    bt2 = (Q.T @ b) ** 2

    def g(nu):
        return nu + 0.25 * float(np.sum(bt2 / (nu - w)))

    lo = max(float(w[-1]), 0.0)
    span = max(abs(lo), 1.0) * 1e-12 + 1e-300
    hi = lo + 0.5 * math.sqrt(float(bt2.sum())) + span + 1.0
    best = g(hi)
    lo_ = lo + span
    for _ in range(60):  # derivative 1 - ¼Σ bt²/(ν-w)² is increasing in ν
        mid = 0.5 * (lo_ + hi)
        best = min(best, g(mid))
        if 0.25 * float(np.sum(bt2 / (mid - w) ** 2)) > 1.0:
            lo_ = mid
        else:
            hi = mid
        if hi - lo_ <= 1e-15 * hi:
            break
    return min(best, g(hi))


def _quadratic_bound(form: _Form, s: int) -> float:
    r"""Global bound on :math:`\max_{\|u\|\le 1}\varphi_s(u)` from quadratic envelopes of relu
    on [−1, 1] (every :math:`t = z_j^Tu` lies there):

    * a > 0: :math:`\mathrm{relu}(t) \le (t + \varepsilon)^2/(4\varepsilon)` (tangent at ε > 0);
    * a < 0: :math:`\mathrm{relu}(t) \ge \theta t + \gamma t^2` when 0 ≤ γ ≤ θ ≤ 1 − γ (true at
      t = ±1 and 0, and the difference is concave on each side);

    so φ ≤ a quadratic, maximized exactly over the ball (:func:`_trs_dual`). (ε, θ, γ) uniform
    over the rows, optimized by Nelder–Mead; every evaluated point is a valid bound.
    """
    Z, a, c = form.Z, s * form.a, s * form.c
    P, N = a > 0, a < 0
    if not P.any():
        return float(np.linalg.norm(c))
    QP = (Z[P].T * a[P]) @ Z[P]
    QN = (Z[N].T * -a[N]) @ Z[N]
    lP = a[P] @ Z[P]
    lN = a[N] @ Z[N]
    sP = float(a[P].sum())

    def value(x):
        eps = math.exp(float(np.clip(x[0], -30.0, 5.0)))
        gam = float(np.clip(x[1], 0.0, 0.5))
        th = float(np.clip(x[2], gam, 1.0 - gam))
        A = QP / (4.0 * eps) - gam * QN
        b = c + 0.5 * lP + th * lN
        return _trs_dual(A, b) + 0.25 * eps * sP

    res = minimize(value, np.array([math.log(0.1), 0.25, 0.5]), method="Nelder-Mead",
                   options=dict(xatol=1e-4, fatol=1e-6 * max(sP, 1e-300), maxiter=150))
    return min(float(res.fun), value(res.x))


