r"""Exact Sobolev semi-norm and exact uniform norm of shallow ReLU networks (SPEC §5.1, §5.2).

For :math:`h(x) = \sum_i c_i\rho(\langle a_i, x\rangle)` (a
:class:`~hiddenconvex.stability.shallow.ShallowNetwork`)

.. math::
    |h|_{W^{1,\infty}} = \operatorname*{ess\,sup}_x \|Dh(x)\|_\infty
    = \max_{\text{chambers } s}\ \max_{k,l}\Big|\sum_{i:\ \text{active on } s} (c_i)_k (a_i)_l\Big|,

the maximum over the chambers (full-dimensional cells) of the central arrangement :math:`\{a_i^Tx =
0\}`; :math:`\|\cdot\|_\infty` of the D×d Jacobian is the ENTRYWISE max (SPEC §5.1 [AMB]). The value
does not depend on the domain U as long as U contains a neighbourhood of 0 (positive homogeneity).
Comparing two networks uses the difference network
:func:`~hiddenconvex.stability.shallow.difference`.
Lower-dimensional cells are ignored (ess sup).

Chambers: the arrangement is the central arrangement of the WEIGHTS, :math:`\{x : a_i^Tx = 0\}
\subset \mathbb{R}^d` (N_(d,m,D) has no biases; the affine arrangement :math:`\{a_i^Tx + b_i =
0\}` of a biased network becomes central in :math:`\mathbb{R}^{d+2}` under the augmentation of
Lemma A.6, :func:`~hiddenconvex.stability.spaces.augment`, the device of the bias column of SPEC
§3.1). That is exactly the arrangement :func:`hiddenconvex.patterns.exact_chambers` enumerates for
data rows, so the rows :math:`a_i` of the live neurons are handed to it (or to a ``chambers``
callable with the same contract, e.g. a brute-force oracle); it merges parallel and antiparallel
rows into one hyperplane at rounding level, not with a user tolerance. Thin chambers matter:
Example 2.1 with k = 10⁴ has two chambers of angle 1e-12 carrying the maximal gradient k². Rows
that double precision cannot separate (parallel beyond rounding but within the merge threshold of
:mod:`hiddenconvex.patterns`) are refused, and the returned chambers are verified (witness
strictly inside) before use.

The uniform norm :math:`\sup_{x\in B}|h(x)|` over a box B is also exact: h is linear on every cell
of the subdivision of B by the arrangement, so the max of the continuous piecewise-linear |h| over
the closed box (= the sup over the open box) is attained at a vertex of that subdivision, i.e. at a
point where d linearly independent constraints among {hyperplanes, box faces} are tight
(:func:`sup_norm_box` enumerates them).

No user tolerance enters either computation; results are exact up to floating-point rounding.
Pure NumPy; no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._arrangement import _PARALLEL_TOL
from .._linalg import _unit_rows
from ..errors import InputError, SolverError
from ..patterns import exact_chambers
from .shallow import (
    ShallowNetwork,
    _points,
    check_network,
    difference,
    live_neurons,
    normalized_directions,
)

_EPS = float(np.finfo(np.float64).eps)
#: Unit normals (:func:`hiddenconvex._linalg._unit_rows`) of exactly parallel rows a and t·a
#: differ by less than 2 eps (rounding of t·a and of the normalization; measured worst case
#: 1.75 eps over 3000 random pairs each in d = 2 … 100): closer rows are parallel, not separable.
_ROUNDING_PARALLEL = 4 * _EPS
#: A vertex of the box subdivision counts as inside the closed box when it is off by at most this,
#: relative to the box size, and is then clipped into it (no value is taken outside the box): a
#: coordinate pinned to a face is recovered to the backward error of the d×d solve, a few eps.
_BOX_SLACK = 1e-12

__all__ = [
    "Chambers",
    "arrangement_chambers",
    "distinct_hyperplanes",
    "SeminormResult",
    "seminorm",
    "seminorm_distance",
    "jacobians",
    "SupNormResult",
    "sup_norm_box",
    "sup_distance_box",
    "sobolev_norm_box",
]


@dataclass(frozen=True)
class Chambers:
    """Chambers of the central arrangement :math:`\\{a_i^Tx = 0\\}` of the rows of A.

    Attributes
    ----------
    active : bool array, shape (p, m)
        ``active[s, i]`` iff :math:`\\langle a_i, x\\rangle > 0` inside chamber s.
    witnesses : array, shape (p, d)
        A point strictly inside each chamber.
    method : {"trivial", "exact_chambers", "callable"}
    """

    active: np.ndarray
    witnesses: np.ndarray
    method: str

    @property
    def p(self) -> int:
        return self.active.shape[0]


def arrangement_chambers(A, *, chambers: Callable | None = None) -> Chambers:
    """All chambers of the central arrangement :math:`\\{a_i^Tx = 0\\}` of the NONZERO rows of A.

    Parallel and antiparallel rows share a hyperplane; that, and the chambers, are decided by
    :func:`hiddenconvex.patterns.exact_chambers` (at rounding level, no user tolerance), so
    arbitrarily thin chambers are kept. The result is verified: every witness must be finite and
    lie strictly on the side of every hyperplane that its sign vector says.

    Parameters
    ----------
    A : array, shape (m, d)
        Nonzero rows.
    chambers : callable, optional
        ``chambers(A) -> Patterns`` (``.D`` bool (m, p), ``.witnesses`` (p, d)) used instead of
        :func:`~hiddenconvex.patterns.exact_chambers` (e.g. a brute-force oracle in tests).

    Returns
    -------
    Chambers

    Raises
    ------
    SolverError
        The chamber routine is unavailable or returned chambers that fail the verification.
    """
    A = np.asarray(A, dtype=float)
    m, d = A.shape
    if m == 0:
        w = np.zeros((1, d))
        w[0, 0] = 1.0
        return Chambers(np.zeros((1, 0), dtype=bool), w, "trivial")
    if chambers is None:
        _refuse_unresolvable_pairs(A)
        P, method = exact_chambers(A), "exact_chambers"
    else:
        P, method = chambers(A), "callable"
    active = np.asarray(P.D, dtype=bool).T
    W = np.asarray(P.witnesses, dtype=float)
    if active.shape[1] != m or W.shape != (active.shape[0], d):
        raise SolverError(f"chamber routine returned patterns of shape {active.shape[::-1]} and "
                          f"witnesses {W.shape} for {m} hyperplanes in R^{d}")
    _verify_chambers(A, active, W)
    return Chambers(active, W, method)


def _refuse_unresolvable_pairs(A: np.ndarray) -> None:
    """SolverError for two hyperplanes that double precision cannot separate but that are not
    parallel to rounding: :func:`~hiddenconvex.patterns.exact_chambers` merges unit normals within
    ``hiddenconvex._arrangement._PARALLEL_TOL`` (256 eps) of each other (up to sign), which loses
    the thin chamber between them; within :data:`_ROUNDING_PARALLEL` the rows are parallel (their
    difference is rounding). The unit normals are those of the merge itself
    (:func:`hiddenconvex._linalg._unit_rows`)."""
    live = np.any(A != 0, axis=1)
    U = _unit_rows(A[live])
    for i in range(U.shape[0]):
        dist = np.minimum(np.linalg.norm(U[i + 1:] - U[i], axis=1),
                          np.linalg.norm(U[i + 1:] + U[i], axis=1))
        band = (dist > _ROUNDING_PARALLEL) & (dist <= _PARALLEL_TOL)
        if np.any(band):
            raise SolverError(
                "two weight vectors are parallel only up to "
                f"{dist[band].max():.2g} (between 4 eps and "
                f"{_PARALLEL_TOL:.2g}): double precision cannot separate their hyperplanes, the "
                "exact semi-norm cannot be certified")


def _verify_chambers(A: np.ndarray, active: np.ndarray, W: np.ndarray) -> None:
    """Necessary conditions for a complete chamber list: finite witnesses strictly inside their
    chambers, no chamber listed twice, the list closed under negation."""
    vals = W @ A.T if np.all(np.isfinite(W)) else None
    if vals is None or not np.array_equal(vals > 0, active) or np.any(vals == 0):
        raise SolverError("chamber enumeration returned a witness that does not lie strictly "
                          "inside its chamber (numerically degenerate arrangement); the exact "
                          "semi-norm cannot be certified")
    rows = {r.tobytes() for r in active}
    if len(rows) != active.shape[0] or any((~r).tobytes() not in rows for r in active):
        raise SolverError("chamber enumeration returned duplicate chambers or a list not closed "
                          "under negation (numerically degenerate arrangement); the exact "
                          "semi-norm cannot be certified")


@dataclass(frozen=True)
class SeminormResult:
    """Exact :math:`|h|_{W^{1,\\infty}}` with where it is attained.

    Attributes
    ----------
    value : float
        :math:`\\max_s \\max_{k,l} |J_s|_{kl}`.
    jacobian : array, shape (D, d)
        The Jacobian :math:`J_s = \\sum_{i \\text{ active}} c_i a_i^T` of a maximizing chamber.
    witness : array, shape (d,)
        A point inside that chamber.
    num_chambers, num_neurons : int
        Size of the arrangement (after dropping neurons with a_i = 0 or c_i = 0).
    method : str
        How the chambers were enumerated.
    """

    value: float
    jacobian: np.ndarray
    witness: np.ndarray
    num_chambers: int
    num_neurons: int
    method: str

    def to_record(self) -> dict:
        return {"seminorm": self.value, "jacobian": self.jacobian.tolist(),
                "witness": self.witness.tolist(), "num_chambers": self.num_chambers,
                "num_neurons": self.num_neurons,
                "chamber_method": self.method}


def seminorm(net: ShallowNetwork, *, chambers: Callable | None = None) -> SeminormResult:
    """Exact :math:`|R(\\Theta)|_{W^{1,\\infty}}` (SPEC §5.2), not sampled.

    Parameters
    ----------
    net : ShallowNetwork
        :math:`\\Theta \\in N_{(d,m,D)}`.
    chambers : callable, optional
        Chamber routine override (see :func:`arrangement_chambers`).

    Returns
    -------
    SeminormResult
    """
    check_network(net)
    live = live_neurons(net)
    A, C = net.A[live], net.C[:, live]
    ch = arrangement_chambers(A, chambers=chambers)
    J = np.einsum("pm,km,ml->pkl", ch.active.astype(float), C, A)
    vals = np.max(np.abs(J), axis=(1, 2))
    s = int(np.argmax(vals))
    return SeminormResult(value=float(vals[s]), jacobian=J[s], witness=ch.witnesses[s],
                          num_chambers=ch.p, num_neurons=int(A.shape[0]), method=ch.method)


def seminorm_distance(theta: ShallowNetwork, gamma: ShallowNetwork, *,
                      chambers: Callable | None = None) -> SeminormResult:
    """Exact :math:`|R(\\Theta) - R(\\Gamma)|_{W^{1,\\infty}}` (the widths may differ)."""
    return seminorm(difference(check_network(theta, "theta"), check_network(gamma, "gamma")),
                    chambers=chambers)


def jacobians(net: ShallowNetwork, X) -> np.ndarray:
    """Jacobians :math:`\\sum_{i: \\langle a_i, x\\rangle > 0} c_i a_i^T` at the rows of X.

    Exact at points off the kink hyperplanes (one-sided, ρ'(0) = 0, on them).

    Returns
    -------
    array, shape (n, D, d)
    """
    check_network(net)
    Xa, _ = _points(X, net.d)
    act = (Xa @ net.A.T > 0).astype(float)
    return np.einsum("ni,ki,il->nkl", act, net.C, net.A)


@dataclass(frozen=True)
class SupNormResult:
    """Exact :math:`\\sup_{x \\in B} \\|h(x)\\|_\\infty` over the box :math:`B = \\prod_l (low_l,
    high_l)`.

    Attributes
    ----------
    value : float
    argmax : array, shape (d,)
        A vertex of the closed box where the sup is attained.
    num_vertices : int
        Candidate vertices evaluated.
    """

    value: float
    argmax: np.ndarray
    num_vertices: int

    def to_record(self) -> dict:
        return {"sup_norm": self.value, "argmax": self.argmax.tolist(),
                "num_vertices": self.num_vertices}


def _box(low, high, d: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.broadcast_to(np.asarray(low, dtype=float), (d,)).copy()
    hi = np.broadcast_to(np.asarray(high, dtype=float), (d,)).copy()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("box bounds must be finite")
    if np.any(lo >= hi):
        raise InputError(f"box needs low < high in every coordinate, got low={lo}, high={hi}")
    return lo, hi


def distinct_hyperplanes(A) -> np.ndarray:
    """Normals of the distinct hyperplanes :math:`a_i^\\perp` of the nonzero rows of A.

    Rows are ∞-normalized and oriented (first nonzero entry positive); only bitwise-equal normals
    are merged, so nearly parallel rows keep their own hyperplanes (no tolerance). This is on
    purpose not the rounding-level merge of :mod:`hiddenconvex.patterns` (nor
    :func:`~hiddenconvex.stability.shallow.hyperplane_groups`): the normals are the candidate
    equations of :func:`sup_norm_box`, where a hyperplane kept apart only adds candidate vertices,
    while a merged one could drop the vertex of a thin cell that carries the maximum.

    Returns
    -------
    array, shape (L, d)
    """
    A = np.asarray(A, dtype=float)
    Ahat, norms = normalized_directions(A)
    Ahat = Ahat[norms > 0]
    if Ahat.shape[0] == 0:
        return Ahat
    first = Ahat[np.arange(Ahat.shape[0]), np.argmax(Ahat != 0, axis=1)]
    return np.unique(Ahat * np.sign(first)[:, None], axis=0)


def _linear_values(net: ShallowNetwork, X: np.ndarray) -> np.ndarray:
    """:math:`h(x) = J(x)\\,x` with :math:`J(x) = \\sum_{\\langle a_i,x\\rangle>0} c_ia_i^T`
    (= R(Θ)(x); summing the products :math:`c_ia_i^T` first avoids the cancellation of large
    opposite terms :math:`c_i\\langle a_i, x\\rangle` of difference networks). Shape (n, D)."""
    return np.einsum("nkl,nl->nk", jacobians(net, X), X)


def sup_norm_box(net: ShallowNetwork, low=-1.0, high=1.0, *,
                 max_combinations: int = 2_000_000) -> SupNormResult:
    """Exact :math:`\\|R(\\Theta)\\|_{L^\\infty(B)}` on the box :math:`B = (low, high)^d` (or
    per-coordinate bounds), by enumerating the vertices of the subdivision of the closed box by the
    arrangement.

    Parameters
    ----------
    net : ShallowNetwork
    low, high : float or array, shape (d,)
    max_combinations : int
        Refuse (InputError) when :math:`\\binom{L + 2d}{d}` exceeds it (L distinct hyperplanes).

    Returns
    -------
    SupNormResult

    Notes
    -----
    A candidate vertex solves d of the equations {hyperplanes, box faces}; systems of numerical
    rank < d (smallest singular value at most ``d·eps`` times the largest, the package's rank
    rule) are singular. Every evaluated point lies in
    the closed box, so rounding can only lower the value, by the rounding error of the vertices.
    """
    check_network(net)
    d = net.d
    lo, hi = _box(low, high, d)
    live = live_neurons(net)
    net = ShallowNetwork(net.A[live], net.C[:, live])
    normals = distinct_hyperplanes(net.A)
    eye = np.eye(d)
    rows = np.vstack([normals, eye, eye])
    rhs = np.concatenate([np.zeros(normals.shape[0]), lo, hi])
    K = rows.shape[0]
    total = math.comb(K, d)
    if total > max_combinations:
        raise InputError(f"sup_norm_box would solve {total} linear systems (> max_combinations = "
                         f"{max_combinations}); reduce the network")
    combos = np.array(list(itertools.combinations(range(K), d)), dtype=int)
    M = rows[combos]  # (N, d, d)
    b = rhs[combos]
    # nonsingular = full rank by the package's rank rule (hiddenconvex._linalg._svd_rank, which
    # is numpy's default matrix_rank rule), here batched over the N systems
    ok = np.linalg.matrix_rank(M) == d
    X = np.linalg.solve(M[ok], b[ok][..., None])[..., 0]
    slack = _BOX_SLACK * max(1.0, float(np.max(np.abs(np.concatenate([lo, hi])))))
    inside = np.all((X >= lo - slack) & (X <= hi + slack), axis=1)
    X = np.clip(X[inside], lo, hi)
    vals = np.max(np.abs(_linear_values(net, X)), axis=1)
    j = int(np.argmax(vals))
    return SupNormResult(value=float(vals[j]), argmax=X[j], num_vertices=int(X.shape[0]))


def sup_distance_box(theta: ShallowNetwork, gamma: ShallowNetwork, low=-1.0, high=1.0,
                     **kw) -> SupNormResult:
    """Exact :math:`\\|R(\\Theta) - R(\\Gamma)\\|_{L^\\infty(B)}` (see :func:`sup_norm_box`)."""
    h = difference(check_network(theta, "theta"), check_network(gamma, "gamma"))
    return sup_norm_box(h, low, high, **kw)


def sobolev_norm_box(net: ShallowNetwork, low=-1.0, high=1.0, **kw) -> float:
    """:math:`\\|h\\|_{W^{1,\\infty}(B)} = \\max(\\|h\\|_{L^\\infty(B)}, |h|_{W^{1,\\infty}(B)})`.

    The semi-norm part equals the global one when B contains a neighbourhood of 0; otherwise it is
    an upper bound (an error is raised to avoid silently reporting it).
    """
    lo, hi = _box(low, high, check_network(net).d)
    if not (np.all(lo < 0) and np.all(hi > 0)):
        raise InputError("sobolev_norm_box needs a box containing a neighbourhood of 0")
    return max(sup_norm_box(net, lo, hi, **kw).value, seminorm(net).value)
