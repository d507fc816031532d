r"""Anytime upper bound on the maximal correlation :math:`M(\lambda)` (SPEC §2.5).

.. math::  M(\lambda) = \max_{\|u\|_2 \le 1} |\lambda^T \sigma(Xu)|
           = \max\big(M^+(\lambda), M^+(-\lambda)\big),\qquad
           M^+(\lambda) = \max_{\|u\| \le 1} \sum_j \lambda_j\,\mathrm{relu}(x_j^T u).

Any :math:`\bar m \ge M(\lambda)` makes :math:`t\lambda` dual feasible for
:math:`t \le \beta/\max(\beta, \bar m)`, hence a certified lower bound on the convex optimum,
without enumerating the chambers. :func:`upper_bound` computes such an :math:`\bar m` by a
best-first *simplicial branch-and-bound in input space*; it is valid at every moment (anytime)
and exact when the search runs to completion.

Normal form. In the coordinates of row(X) (rank r), with unit rows :math:`z_j = x_j/\|x_j\|`
and weights :math:`a_j = s\lambda_j\|x_j\|` (sign :math:`s = \pm 1`), the objective is
:math:`\varphi(u) = c^T u + \sum_j a_j\,\mathrm{relu}(z_j^T u)` (exactly duplicated rows are
merged; antiparallel ones add the linear term c, since relu(−t) = relu(t) − t). The maximum
over the ball equals the maximum over the sphere or 0 (φ is positively homogeneous).
:math:`\varphi = \varphi^+ + \varphi^-` with :math:`\varphi^+` (rows with a > 0) convex and
:math:`\varphi^-` (a < 0) concave.

Node bound. A node is a simplicial cone :math:`C = \{Rc : c \ge 0\}`, R = (r_1..r_r) unit
generators. For :math:`u = Rc \in C`, ‖u‖ ≤ 1:

1. a row with one sign at all generators is linear on C (exact);
2. a positive row whose hyperplane cuts C is below its interpolation at the generators
   (relu is sublinear): :math:`\mathrm{relu}(z_j^Tu) \le \sum_k c_k\,\mathrm{relu}(z_j^Tr_k)`
   — the concave envelope on C, no linear majorant is smaller;
3. a negative cutting row k is kept exactly; the bound is the maximum of the resulting
   concave function over C ∩ ball, computed through its dual: for every μ ≥ 0 and
   0 ≤ ξ_k ≤ |a_k|, :math:`\varphi(u) \le \|g_0 + \hat N^T\mu - Z_K^T\xi\|` (because
   a relu(t) ≤ θ a t for a < 0, θ = ξ/|a| ∈ [0, 1], and :math:`\mu^T\hat N u \ge 0` on C,
   :math:`\hat N` = unit facet normals, the normalized rows of :math:`R^{-1}`), with equality
   at the minimum (minimax on the compact ball). The box-constrained least-squares problem is
   solved for a whole batch of cones at once
   (:func:`hiddenconvex._bounds_bvls._bvls`); any feasible point it returns
   is a valid bound, so its accuracy never matters for validity.

A child's region lies inside its parent's, so its bound is also capped by the parent's. A cone
cut by no positive row with a converged solve is *closed* (its bound is its exact maximum); a
cone cut by at most ``enumerate_rows`` positive rows is closed by enumerating their sign
pieces (on each piece φ⁺ is linear; the signs enter as extra constraints).

Branching: the longest edge (r_p, r_q) is split, at the point where a cutting positive row's
hyperplane crosses it when that point lies in the middle part of the edge (the row with the
largest interpolation error at the node's maximizer), else at the midpoint; the children
replace r_p resp. r_q by the new generator (a positive combination of r_p and r_q), so they
cover the parent. Bisection of the longest edge at a ratio bounded away from 0 and 1 is
exhaustive, hence node bounds converge to the maximum of φ over the node and the search with
``rtol > 0`` terminates.

Upper bound at any moment: min(a bound valid without the tree, max(best value, bounds of
pruned / closed / dropped nodes, bound of the best open node)) + a rounding margin; when the
queue is empty it equals the best value found up to ``rtol`` and the margin. The bounds
without the tree are relu(z^T u) ≤ 1 and, above ``quadratic_rank``, a quadratic-envelope
bound (:func:`hiddenconvex._bounds_form._quadratic_bound`), the better of the two in high rank.

Validity, piece by piece. (i) Components of u orthogonal to row(X) change nothing but use
norm, so the search runs in rank coordinates; numerically null directions are dropped with the
allowance ‖λ‖σ_{r+1}. (ii) The leaves always cover the ball: the roots cover R^r, and a split
replaces r_p resp. r_q by r* = αr_p + βr_q (α, β > 0); for u = Σc_k r_k and
τ = min(c_p/α, c_q/β), u = τr* + (c_p − τα)r_p + (c_q − τβ)r_q + …, one of the two
coefficients is 0, so u lies in a child. (iii) The node bound holds for every feasible (μ, ξ)
(items 1–3 above and Cauchy–Schwarz). (iv) A node leaves the queue only when pruned, closed,
dropped by the memory cap or unsplittable (edge at rounding level), and its bound then enters
the running maximum of finished nodes, so every leaf is accounted for at every moment.
(v) Rounding: only values of *cutting* rows go through R⁻ᵀ, so thin cones do not amplify the
rounding; the allowance added to every reported bound is 16·eps·lip·(n + r + 1),
lip = ‖c‖ + Σ|a_j|. It is a floating-point error estimate, not interval arithmetic; the tests
check every reported bound against the exact enumeration with no tolerance.

Where it helps (measured, issue 14): up to rank ~5 the search completes (iris, rank 4:
~27k nodes, seconds, against minutes for the enumeration of its 1,080,590 chambers). The number
of cones of a given angular width grows like width^−(r−1) while the relaxation error per cone
falls only like n·width², so at rank 6–8 the bound stays well above the best value for minutes,
and at rank ≥ 10 the tree does not improve on the quadratic-envelope bound.

Inputs are used as X·2^-e, λ·2^-f (exact powers of two,
:func:`hiddenconvex._linalg.pow2_scaled`), so M scales exactly and nothing under- or overflows.
Layout: :mod:`hiddenconvex._bounds_form` (normal form, chamber ascent, quadratic bound),
:mod:`hiddenconvex._bounds_bvls` (the batched node solver), :mod:`hiddenconvex._bounds_search`
(the tree); the lower bound on P_c that m̄ gives is the certificate's own (SPEC §2.4 step 4 with
m̄ for M, :mod:`hiddenconvex.certificate`). The core does no I/O and never prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._bounds_form import _Form, _multistart, _normal_form, _quadratic_bound
from ._bounds_search import _BATCH_ELEMENTS, _Search
from ._linalg import _ldexp, pow2_scaled
from .errors import InputError, check_matrix, check_seed, check_vector

__all__ = ["BoundResult", "Violation", "upper_bound", "local_ascent", "correlation"]

_EPS = float(np.finfo(np.float64).eps)
_STATUSES = ("exact", "target", "time_limit", "node_limit")


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Violation:
    r"""A chamber block whose correlation exceeds the target (a working-set column).

    Attributes
    ----------
    value : float
        :math:`\gamma\lambda^T\sigma(Xu)` at ``direction``; the block correlation
        :math:`\|\Pi_{C(D)}(\gamma X^T D\lambda)\|` is at least this.
    sign : int
        Block sign γ (+1: blocks 0..p-1, −1: blocks p..2p-1).
    pattern : bool array, shape (n,)
        The chamber D (strict signs at ``witness``).
    direction : array, shape (d,)
        Unit vector in the closed chamber cone attaining ``value``.
    witness : array, shape (d,)
        A point strictly inside the chamber (for :class:`hiddenconvex.patterns.Patterns`).
    """

    value: float
    sign: int
    pattern: np.ndarray
    direction: np.ndarray
    witness: np.ndarray


@dataclass(frozen=True)
class BoundResult:
    r"""Outcome of :func:`upper_bound`.

    Attributes
    ----------
    upper : float
        :math:`\bar m \ge M(\lambda)`, valid whatever the status.
    best : float
        :math:`|\lambda^T\sigma(Xu)|` at ``direction`` (≤ M: a lower estimate of M).
    direction : array, shape (d,)
        Unit vector u attaining ``best`` (zeros when M = 0), in the original coordinates.
    sign : int
        γ = +1 if :math:`\lambda^T\sigma(Xu) \ge 0` at ``direction``, else −1.
    pattern : bool array, shape (n,)
        A chamber D whose closed cone contains ``direction``, so that the block (D, γ) has
        correlation :math:`\|\Pi_{C(D)}(\gamma X^T D\lambda)\| \ge` ``best``: when
        ``best`` > β it is a violating column for a working set.
    witness : array, shape (d,)
        A point strictly inside the chamber ``pattern``.
    history : tuple of (seconds, upper, best)
        Every improvement of the upper bound (by more than 1e-4 relative) or of the best value,
        and the final state; every ``upper`` in it is ≥ M(λ).
    nodes : int
        Node bounds computed.
    status : str
        ``"exact"`` (queue emptied: ``upper`` = ``best`` up to ``rtol`` and ``margin``),
        ``"target"`` (queue emptied with everything above the target ruled out:
        ``upper`` ≤ max(target, best) up to ``rtol`` and ``margin``), ``"time_limit"``,
        ``"node_limit"``.
    seconds : float
        Wall time of the call.
    margin : float
        Rounding allowance included in ``upper`` (module docstring).
    method : str
    rank : int
        Dimension of the search (numerical rank of the rows with λ_j ≠ 0).
    open_nodes : int
        Nodes left in the queue.
    violations : tuple of Violation
        With a ``target`` and ``max_violators`` > 0: distinct chamber blocks met by the search
        whose correlation exceeds the target, best first.
    options : dict
        The budget and options of the run (a bound is never reported without them).
    """

    upper: float
    best: float
    direction: np.ndarray
    sign: int
    pattern: np.ndarray
    witness: np.ndarray
    history: tuple
    nodes: int
    status: str
    seconds: float
    margin: float
    method: str = "simplicial-bb"
    rank: int = 0
    open_nodes: int = 0
    violations: tuple = ()
    options: dict = field(default_factory=dict)

    @property
    def relative_gap(self) -> float:
        """(upper − best)/upper (0 when both vanish)."""
        return 0.0 if self.upper <= 0 else (self.upper - self.best) / self.upper

    def to_record(self) -> dict:
        """Flat fields for a JSON/CSV row (bound, its method and budget)."""
        return {
            "correlation_upper_bound": self.upper, "correlation_best": self.best,
            "bound_status": self.status, "bound_nodes": self.nodes,
            "bound_seconds": self.seconds, "bound_method": self.method,
            "bound_margin": self.margin, "bound_open_nodes": self.open_nodes,
            "bound_rank": self.rank, "bound_time_limit": self.options.get("time_limit"),
            "bound_node_limit": self.options.get("node_limit"),
            "bound_target": self.options.get("target"), "bound_seed": self.options.get("seed"),
        }


def correlation(X, lam, U) -> np.ndarray:
    r""":math:`\lambda^T\sigma(Xu)` for the rows u of ``U``.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
    U : array, shape (k, d)

    Returns
    -------
    array, shape (k,)
    """
    return np.maximum(np.asarray(U, dtype=np.float64) @ np.asarray(X, dtype=np.float64).T,
                      0.0) @ np.asarray(lam, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Inputs


def _inputs(X, lam):
    """Validated X, λ scaled by exact powers of two (X·2^-e, λ·2^-f) and e + f: M scales by
    2^(e+f) exactly, the directions are unchanged."""
    X = check_matrix(X)
    lam = check_vector(lam, X.shape[0], "lam")
    Xs, ex = pow2_scaled(X)
    ls, el = pow2_scaled(lam, "lam")
    return X, lam, Xs, ls, ex + el


def _check_budget(time_limit, node_limit, target):
    try:
        time_limit = float(time_limit)
    except (TypeError, ValueError):
        raise InputError(f"time_limit must be a number of seconds, got {time_limit!r}") from None
    if not time_limit > 0:  # also rejects nan
        raise InputError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    if node_limit is not None and (isinstance(node_limit, bool)
                                   or not isinstance(node_limit, (int, np.integer))
                                   or node_limit < 0):
        raise InputError(f"node_limit must be None or an integer >= 0, got {node_limit!r}")
    if target is not None:
        try:
            target = float(target)
        except (TypeError, ValueError):
            raise InputError(f"target must be None or a number >= 0, got {target!r}") from None
        if not (math.isfinite(target) and target >= 0):
            raise InputError(f"target must be None or a finite number >= 0, got {target!r}")
    return time_limit, node_limit, target


# --------------------------------------------------------------------------------------------
# Incumbents


def local_ascent(X, lam, *, n_starts: int = 2000, n_ascents: int = 32, seed: int = 0):
    r"""Heuristic maximizer of :math:`|\lambda^T\sigma(Xu)|` on the unit sphere.

    Random unit starts (Gaussian), the best ``n_ascents`` per sign improved by chamber ascent
    (:math:`u \leftarrow \Pi_{C(D(u))}(g_D)/\|\cdot\|`, monotone).

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
    n_starts, n_ascents, seed : int

    Returns
    -------
    (u, value, sign) : (array (d,), float, int)
        ``value`` = :math:`\mathrm{sign}\cdot\lambda^T\sigma(Xu)` ≥ 0, a lower bound on M(λ);
        u = 0 and value = 0 when no start has a positive value.
    """
    X, lam, Xs, ls, e = _inputs(X, lam)
    form = _normal_form(Xs, ls)
    u, v, s = _multistart(form, np.random.default_rng(check_seed(seed)), n_starts, n_ascents)
    if u is None:
        return np.zeros(X.shape[1]), 0.0, 1
    return form.V.T @ u, _ldexp(v, e), s


def _chamber_of(X: np.ndarray, u: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """A chamber whose closed cone contains u: its pattern and a strictly interior point
    w = u + εv (v random, ε small enough that rows with x_j^T u ≠ 0 keep their sign: for them
    ε|x_j^T v| ≤ 1e-3 |x_j^T u|)."""
    t = X @ u
    nz = np.abs(t) > 0
    v = rng.standard_normal(u.shape)
    tv = X @ v
    scale = np.abs(t[nz]).min() / (np.abs(tv[nz]).max() + 1e-300) if nz.any() else 1.0
    w = u + 1e-3 * scale * v
    return (X @ w) > 0, w


# --------------------------------------------------------------------------------------------
# The bound


def upper_bound(X, lam, *, time_limit: float = 60.0, node_limit: int | None = None,
                target: float | None = None, seed: int = 0, max_violators: int = 0,
                rtol: float = 1e-12, split_margin: float = 0.3, enumerate_rows: int = 2,
                max_orthant_rank: int = 14, batch: int | None = None, max_open: int = 1_000_000,
                n_starts: int = 20_000, n_ascents: int = 64, starts=None,
                quadratic_rank: int = 6) -> BoundResult:
    r"""Anytime certified upper bound :math:`\bar m \ge M(\lambda)` (module docstring).

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
        Dual point.
    time_limit : float
        Seconds for the whole call (the incumbent heuristic comes first and counts; it is not
        interrupted, so a very small limit can be exceeded by its duration).
    node_limit : int, optional
        Stop expanding once this many node bounds have been computed (the root cones are always
        bounded, and the last batch may overshoot).
    target : float, optional
        Only "is M ≤ target?" matters: nodes whose bound is ≤ target are pruned even when the
        best value is lower, so the final upper is ≤ max(target, best) instead of ≈ M
        (status ``"target"``). Use ``target=β(1 + tol)`` to price a dual point.
    seed : int
        Seed of the incumbent heuristic (the result is deterministic for a seed except where
        the time limit stops the search).
    max_violators : int
        With a ``target``, return up to this many distinct chambers of correlation > target
        (``BoundResult.violations``).
    rtol : float
        Nodes with bound ≤ threshold·(1 + rtol) are pruned; with ``rtol > 0`` the search
        terminates.
    split_margin : float
        Split at a hyperplane crossing only inside [m, 1 − m] of the longest edge (≥ 0.5: always
        at midpoints).
    enumerate_rows : int
        A cone cut by at most this many positive rows is solved exactly by enumerating their
        sign pieces instead of being split.
    max_orthant_rank : int
        Start from the 2^r orthants when r ≤ this, else from the r + 1 cones of a simplex.
    batch : int, optional
        Nodes split per round. Default: 512, fewer when n·r is large (~64 MB per work array).
    max_open : int
        Queue size cap; beyond it the lower half is dropped and its max bound kept (valid, but
        the upper can then not fall below it).
    n_starts, n_ascents : int
        Incumbent heuristic (:func:`local_ascent`).
    starts : array, shape (k, d), optional
        Further directions to start chamber ascents from (e.g. the neurons of a trained net or
        the gates of the sampled patterns); a good incumbent prunes more.
    quadratic_rank : int
        Above this rank, start from the global quadratic-envelope bound as well as the
        trivial one.

    Returns
    -------
    BoundResult

    Raises
    ------
    InputError
        X not a finite non-empty (n, d) array, λ not a finite (n,) vector, or a bad budget.
    """
    t0 = time.perf_counter()
    X, lam, Xs, ls, e = _inputs(X, lam)
    time_limit, node_limit, target = _check_budget(time_limit, node_limit, target)
    seed = check_seed(seed)
    n, d = X.shape
    if starts is not None:
        starts = check_matrix(starts, "starts", allow_empty=True)
        if starts.shape[0] and starts.shape[1] != d:
            raise InputError(f"starts must have shape (k, {d}) like the rows of X, got "
                             f"{starts.shape}")
    opts = dict(time_limit=time_limit, node_limit=node_limit, target=target, seed=seed,
                rtol=rtol, split_margin=split_margin, enumerate_rows=enumerate_rows,
                max_orthant_rank=max_orthant_rank, batch=batch, n_starts=n_starts,
                n_ascents=n_ascents, n_given_starts=0 if starts is None else int(starts.shape[0]),
                quadratic_rank=quadratic_rank)
    target_s = None if target is None else math.ldexp(target, -e)
    form = _normal_form(Xs, ls)
    r = form.Z.shape[1] if form.Z.size else 0
    rng = np.random.default_rng(seed)
    if r == 0:  # λ = 0 on every nonzero row: M = 0
        z = np.zeros(d)
        return BoundResult(0.0, 0.0, z, 1, np.zeros(n, dtype=bool), z, ((0.0, 0.0, 0.0),), 0,
                           "exact", time.perf_counter() - t0, 0.0, options=opts)
    if batch is None:
        batch = int(min(512, max(16, (_BATCH_ELEMENTS // 2) // (form.Z.shape[0] * r))))
    opts["batch"] = batch
    starts_r = None if starts is None or not starts.shape[0] else starts @ form.V.T
    S, history, status = _run(form, r, t0, time_limit, node_limit, target_s, rtol, split_margin,
                              enumerate_rows, max_orthant_rank, batch, max_open, n_starts,
                              n_ascents, starts_r, max_violators, quadratic_rank, rng)
    # rounding allowance: every quantity entering a bound is a sum of at most n + r terms of
    # size <= |a_j| (values z^T r_k of unit vectors, multipliers), so its float error is below
    # (n + r) eps Σ|a_j|; the same holds for the sliver left between two children by the
    # rounding of the new generator, on which φ varies by at most lip·(r eps). Plus the
    # directions dropped as numerically null (form.tail).
    margin = 16.0 * _EPS * form.lip * (n + r + 1) + form.tail
    upper_s = S.upper() + margin
    if S.best_u is None:
        u_orig, best_s, pattern, sign, witness = np.zeros(d), 0.0, np.zeros(n, bool), 1, None
    else:
        u_orig = form.V.T @ S.best_u
        u_orig /= np.linalg.norm(u_orig)
        raw = float(correlation(Xs, ls, u_orig[None])[0])
        sign = 1 if raw >= 0 else -1
        best_s = abs(raw)
        pattern, witness = _chamber_of(Xs, u_orig, rng)
    upper_s = max(upper_s, best_s)
    hist = tuple((h[0], _ldexp(h[1] + margin, e), _ldexp(h[2], e)) for h in history)
    hist += ((time.perf_counter() - t0, _ldexp(upper_s, e), _ldexp(best_s, e)),)
    opts["unresolved_nodes"] = S.unresolved
    viol = _violations(S, form, Xs, ls, e, target_s, max_violators, rng)
    return BoundResult(upper=_ldexp(upper_s, e), best=_ldexp(best_s, e), direction=u_orig,
                       sign=sign, pattern=pattern,
                       witness=np.zeros(d) if witness is None else witness, history=hist,
                       nodes=S.nodes, status=status, seconds=time.perf_counter() - t0,
                       margin=_ldexp(margin, e), rank=r, open_nodes=len(S.heap),
                       violations=viol, options=opts)


def _run(form: _Form, r, t0, time_limit, node_limit, target, rtol, split_margin,
         enumerate_rows, max_orthant_rank, batch, max_open, n_starts, n_ascents, starts,
         max_violators, quadratic_rank, rng):
    """The search in scaled units: returns the search state, the history and the status."""
    S = _Search(form, lo=split_margin, rtol=rtol, p_enum=enumerate_rows, bvls_iter=4 * r + 16)
    S.target = target
    S.max_violators = max_violators if target is not None else 0
    history = []

    def record():
        up = S.upper()
        if up < history[-1][1] * (1 - 1e-4) or S.best > history[-1][2]:
            history.append((time.perf_counter() - t0, up, S.best))

    # bounds valid on the whole ball before any node, for each sign: relu(z^T u) <= 1 with
    # c^T u <= ‖c‖, and (above quadratic_rank, where the tree needs minutes to beat it) the
    # quadratic-envelope bound
    S.cap = max(float(np.clip(sg * form.a, 0, None).sum()) + float(np.linalg.norm(form.c))
                for sg in (1, -1))
    if r > quadratic_rank:
        S.cap = min(S.cap, max(_quadratic_bound(form, sg) for sg in (1, -1)))
    history.append((time.perf_counter() - t0, S.cap, S.best))
    u, v, s = _multistart(form, rng, n_starts, n_ascents, starts)
    if u is not None:
        S.best, S.best_u, S.best_s = v, u, s
        if target is not None and v > target and S.max_violators > 0:
            S._keep_violator(v, s, u)
    record()
    status = "exact"
    if not S.roots(max_orthant_rank, t0 + time_limit):
        status = "time_limit"
    record()
    size = 4
    while S.heap and status == "exact":
        if node_limit is not None and S.nodes >= node_limit:
            status = "node_limit"
            break
        if time.perf_counter() - t0 > time_limit:
            status = "time_limit"
            break
        items = S.pop_batch(size)
        if items:
            S.expand(items)
        size = min(batch, 2 * size)
        if len(S.heap) > max_open:
            S.drop_half()
        record()
    if status == "exact" and target is not None and S.upper() > S.best * (1 + rtol):
        status = "target"
    return S, history, status


def _violations(S, form, Xs, ls, e, target, max_violators, rng) -> tuple:
    """Distinct violating chamber blocks from the search's pool, best first."""
    out, seen = [], set()
    for _, _, s_, u in sorted(S.viol, key=lambda it: -it[0]):
        if len(out) >= max_violators:
            break
        ud = form.V.T @ u
        ud /= np.linalg.norm(ud)
        val = s_ * float(correlation(Xs, ls, ud[None])[0])
        if target is not None and val <= target:
            continue
        D, w = _chamber_of(Xs, ud, rng)
        key = np.packbits(D).tobytes() + bytes([s_ > 0])
        if key not in seen:
            seen.add(key)
            out.append(Violation(_ldexp(val, e), int(s_), D, ud, w))
    return tuple(out)
