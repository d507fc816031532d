r"""Exact Sobolev semi-norm and exact uniform norm of shallow ReLU networks (SPEC §5.1, §5.2).

For :math:`h(x) = \sum_i c_i\rho(\langle a_i, x\rangle)` (a
:class:`~hiddenconvex.shallow.ShallowNetwork`)

.. math::
    |h|_{W^{1,\infty}} = \operatorname*{ess\,sup}_x \|Dh(x)\|_\infty
    = \max_{\text{chambers } s}\ \max_{k,l}\Big|\sum_{i:\ \text{active on } s} (c_i)_k (a_i)_l\Big|,

the maximum over the chambers (full-dimensional cells) of the central arrangement :math:`\{a_i^Tx =
0\}`; :math:`\|\cdot\|_\infty` of the D×d Jacobian is the ENTRYWISE max (SPEC §5.1 [AMB]). The value
does not depend on the domain U as long as U contains a neighbourhood of 0 (positive homogeneity).
Comparing two networks uses the difference network :func:`~hiddenconvex.shallow.difference`.
Lower-dimensional cells are ignored (ess sup).

Chambers: d = 1 has the two half-lines; d ≥ 2 calls :func:`hiddenconvex.patterns.exact_chambers`
on the distinct hyperplane normals (or a ``chambers`` callable with the same contract, e.g. a
brute-force oracle). Thin chambers matter: Example 2.1 with k = 1000 has two chambers of angle
1e-9 carrying the maximal gradient k².

The uniform norm :math:`\sup_{x\in B}|h(x)|` over a box B is also exact: h is linear on every cell
of the subdivision of B by the arrangement, so the max of the continuous piecewise-linear |h| over
the closed box (= the sup over the open box) is attained at a vertex of that subdivision, i.e. at a
point where d linearly independent constraints among {hyperplanes, box faces} are tight
(:func:`sup_norm_box` enumerates them).

"Same hyperplane" is decided on ∞-normalized normals with the tolerance
:data:`~hiddenconvex.shallow.DIRECTION_TOL`. Pure NumPy; no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import InputError, SolverError
from .shallow import DIRECTION_TOL, ShallowNetwork, _points, difference, hyperplane_groups

__all__ = [
    "Chambers",
    "arrangement_chambers",
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
    """Chambers of the central arrangement of L distinct hyperplanes in R^d.

    Attributes
    ----------
    normals : array, shape (L, d)
    signs : int8 array, shape (p, L)
        ``signs[s, h] = sign(<normals[h], x>)`` inside chamber s.
    witnesses : array, shape (p, d)
        A point inside each chamber.
    method : {"trivial", "line", "exact_chambers", "callable"}
    """

    normals: np.ndarray
    signs: np.ndarray
    witnesses: np.ndarray
    method: str

    @property
    def p(self) -> int:
        return self.signs.shape[0]


def _chambers_line(normals: np.ndarray) -> Chambers:
    # d = 1: at most one distinct hyperplane {0}; chambers x > 0 and x < 0
    s = np.sign(normals[:, 0]).astype(np.int8)
    return Chambers(normals, np.vstack([s, -s]), np.array([[1.0], [-1.0]]), "line")


def arrangement_chambers(normals, *, chambers: Callable | None = None) -> Chambers:
    """All chambers of the central arrangement :math:`\\{n_h^Tx = 0\\}` of DISTINCT nonzero normals.

    Parameters
    ----------
    normals : array, shape (L, d)
        Pairwise non-parallel, non-antiparallel, nonzero rows (see
        :func:`~hiddenconvex.shallow.hyperplane_groups`).
    chambers : callable, optional
        ``chambers(normals) -> Patterns`` (rows × chambers, ``.signs``/``.witnesses``) used for
        every d instead of the built-in d = 1 routine and
        :func:`hiddenconvex.patterns.exact_chambers`.

    Returns
    -------
    Chambers
    """
    N = np.asarray(normals, dtype=float)
    L, d = N.shape
    if L == 0:
        w = np.zeros((1, d))
        w[0, 0] = 1.0
        return Chambers(N, np.zeros((1, 0), dtype=np.int8), w, "trivial")
    if chambers is None:
        if d == 1:
            return _chambers_line(N)
        try:
            from .patterns import exact_chambers
        except ImportError as exc:  # pragma: no cover - depends on the patterns module
            raise SolverError(
                "exact chamber enumeration hiddenconvex.patterns.exact_chambers is unavailable: "
                f"{exc}"
            ) from None
        P, method = exact_chambers(N), "exact_chambers"
    else:
        P, method = chambers(N), "callable"
    signs = np.asarray(P.signs, dtype=np.int8).T  # (p, L)
    if signs.shape[1] != L:
        raise SolverError(f"chamber routine returned {signs.shape[1]} rows, expected {L}")
    return Chambers(N, signs, np.asarray(P.witnesses, dtype=float), method)


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
    num_chambers, num_hyperplanes, num_neurons : int
        Size of the arrangement (after dropping neurons with a_i = 0 or c_i = 0).
    method : str
        How the chambers were enumerated.
    """

    value: float
    jacobian: np.ndarray
    witness: np.ndarray
    num_chambers: int
    num_hyperplanes: int
    num_neurons: int
    method: str

    def to_record(self) -> dict:
        return {"seminorm": self.value, "jacobian": self.jacobian.tolist(),
                "witness": self.witness.tolist(), "num_chambers": self.num_chambers,
                "num_hyperplanes": self.num_hyperplanes, "num_neurons": self.num_neurons,
                "chamber_method": self.method}


def _check(net, name: str = "net") -> ShallowNetwork:
    if not isinstance(net, ShallowNetwork):
        raise InputError(f"{name} must be a ShallowNetwork, got {type(net).__name__}")
    return net


def seminorm(net: ShallowNetwork, *, tol: float = DIRECTION_TOL,
             chambers: Callable | None = None) -> SeminormResult:
    """Exact :math:`|R(\\Theta)|_{W^{1,\\infty}}` (SPEC §5.2), not sampled.

    Parameters
    ----------
    net : ShallowNetwork
        :math:`\\Theta \\in N_{(d,m,D)}`.
    tol : float
        Directions whose ∞-normalized vectors agree to ``tol`` share a hyperplane.
    chambers : callable, optional
        Chamber routine override (see :func:`arrangement_chambers`).

    Returns
    -------
    SeminormResult
    """
    _check(net)
    keep = (np.max(np.abs(net.A), axis=1) > 0) & (np.max(np.abs(net.C), axis=0) > 0) \
        if net.width else np.zeros(0, dtype=bool)
    A, C = net.A[keep], net.C[:, keep]
    normals, idx, orient = hyperplane_groups(A, tol)
    ch = arrangement_chambers(normals, chambers=chambers)
    act = (ch.signs[:, idx] * orient[None, :]) > 0 if A.shape[0] else np.zeros((ch.p, 0), bool)
    J = np.einsum("pm,km,ml->pkl", act.astype(float), C, A)
    vals = np.max(np.abs(J), axis=(1, 2))
    s = int(np.argmax(vals))
    return SeminormResult(value=float(vals[s]), jacobian=J[s], witness=ch.witnesses[s],
                          num_chambers=ch.p, num_hyperplanes=normals.shape[0],
                          num_neurons=int(A.shape[0]), method=ch.method)


def seminorm_distance(theta: ShallowNetwork, gamma: ShallowNetwork, *, tol: float = DIRECTION_TOL,
                      chambers: Callable | None = None) -> SeminormResult:
    """Exact :math:`|R(\\Theta) - R(\\Gamma)|_{W^{1,\\infty}}` (the widths may differ)."""
    return seminorm(difference(_check(theta, "theta"), _check(gamma, "gamma")), tol=tol,
                    chambers=chambers)


def jacobians(net: ShallowNetwork, X) -> np.ndarray:
    """Jacobians :math:`\\sum_{i: \\langle a_i, x\\rangle > 0} c_i a_i^T` at the rows of X.

    Exact at points off the kink hyperplanes (one-sided, ρ'(0) = 0, on them).

    Returns
    -------
    array, shape (n, D, d)
    """
    _check(net)
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


def sup_norm_box(net: ShallowNetwork, low=-1.0, high=1.0, *, tol: float = DIRECTION_TOL,
                 max_combinations: int = 2_000_000) -> SupNormResult:
    """Exact :math:`\\|R(\\Theta)\\|_{L^\\infty(B)}` on the box :math:`B = (low, high)^d` (or
    per-coordinate bounds), by enumerating the vertices of the subdivision of the closed box by the
    arrangement.

    Parameters
    ----------
    net : ShallowNetwork
    low, high : float or array, shape (d,)
    max_combinations : int
        Refuse (InputError) when :math:`\\binom{L + 2d}{d}` exceeds it.

    Returns
    -------
    SupNormResult
    """
    _check(net)
    d = net.d
    lo, hi = _box(low, high, d)
    keep = (np.max(np.abs(net.A), axis=1) > 0) & (np.max(np.abs(net.C), axis=0) > 0) \
        if net.width else np.zeros(0, dtype=bool)
    normals, _, _ = hyperplane_groups(net.A[keep], tol)
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
    sv = np.linalg.svd(M, compute_uv=False)
    ok = sv[:, -1] > 1e-12 * sv[:, 0]
    X = np.linalg.solve(M[ok], b[ok][..., None])[..., 0]
    slack = 1e-12 * max(1.0, float(np.max(np.abs(np.concatenate([lo, hi])))))
    inside = np.all((X >= lo - slack) & (X <= hi + slack), axis=1)
    X = np.clip(X[inside], lo, hi)
    vals = np.max(np.abs(net.realize(X)), axis=1)
    j = int(np.argmax(vals))
    return SupNormResult(value=float(vals[j]), argmax=X[j], num_vertices=int(X.shape[0]))


def sup_distance_box(theta: ShallowNetwork, gamma: ShallowNetwork, low=-1.0, high=1.0,
                     **kw) -> SupNormResult:
    """Exact :math:`\\|R(\\Theta) - R(\\Gamma)\\|_{L^\\infty(B)}` (see :func:`sup_norm_box`)."""
    return sup_norm_box(difference(_check(theta, "theta"), _check(gamma, "gamma")), low, high, **kw)


def sobolev_norm_box(net: ShallowNetwork, low=-1.0, high=1.0, **kw) -> float:
    """:math:`\\|h\\|_{W^{1,\\infty}(B)} = \\max(\\|h\\|_{L^\\infty(B)}, |h|_{W^{1,\\infty}(B)})`.

    The semi-norm part equals the global one when B contains a neighbourhood of 0; otherwise it is
    an upper bound (an error is raised to avoid silently reporting it).
    """
    lo, hi = _box(low, high, _check(net).d)
    if not (np.all(lo < 0) and np.all(hi > 0)):
        raise InputError("sobolev_norm_box needs a box containing a neighbourhood of 0")
    return max(sup_norm_box(net, lo, hi, **kw).value, seminorm(net).value)
