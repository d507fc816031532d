r"""Shallow ReLU parametrizations of paper B (Berner, Elbrächter & Grohs 2019; SPEC §5.1, §5.3,
§5.8).

* :class:`ShallowNetwork` — the biasless space :math:`N_{(d,m,D)} = \mathbb{R}^{m\times d}\times
  \mathbb{R}^{D\times m}`, :math:`\Theta = (A, C)`, rows :math:`a_i` of ``A`` ("directions"),
  columns :math:`c_i` of ``C``, realization :math:`R(\Theta)(x) = C\rho(Ax) = \sum_i c_i\rho(\langle
  a_i, x\rangle)`.
* :class:`BiasedShallowNetwork` — the general depth-2 space :math:`P_{(d,m,D)}`,
  :math:`R(\Theta)(x) = A_2\rho(A_1x + b_1) + b_2` (used by Lemma A.6,
  :func:`hiddenconvex.stability.spaces.augment`).
* Parameter norm :math:`\|\Theta\|_\infty` (max |entry|) and :math:`\|\Phi-\Gamma\|_\infty` index by
  index (no permutation), the difference network :math:`R(\Theta) - R(\Gamma)`, balancing
  (:math:`\|c_i\|_\infty = \|a_i\|_\infty`), merging of positively parallel directions (eq. (87) as
  reconstructed in SPEC §5.3) and the sign flips of Lemma A.5 (SPEC §5.8).

Directions are compared after :math:`\infty`-normalization :math:`\hat a = a/\|a\|_\infty`: two
nonzero vectors are *positively parallel* when :math:`\|\hat a_i - \hat a_j\|_\infty \le` ``tol``
and *opposite* when :math:`\|\hat a_i + \hat a_j\|_\infty \le` ``tol`` (default
:data:`DIRECTION_TOL`; rescaling a vector in floating point changes :math:`\hat a` by a few ulp
only). Zero is exact zero.

Pure NumPy; no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "DIRECTION_TOL",
    "BALANCE_TOL",
    "ZERO_SUM_RTOL",
    "ShallowNetwork",
    "BiasedShallowNetwork",
    "check_network",
    "check_same_architecture",
    "neuron_norms",
    "live_neurons",
    "zero_dead",
    "parameter_norm",
    "parameter_distance",
    "difference",
    "normalized_directions",
    "direction_groups",
    "hyperplane_groups",
    "balance",
    "balance_violation",
    "is_balanced",
    "merge_redundant",
    "flip",
    "zero_sum_subsets",
]

#: relative tolerance for "same direction" (on ∞-normalized vectors): rescaling a vector changes
#: its ∞-normalization by a few ulp, far below; closer directions count as equal (C.2, C.3, merges)
DIRECTION_TOL = 1e-10
#: relative tolerance for "balanced" (| ‖c_i‖ − ‖a_i‖ | ≤ BALANCE_TOL · max(‖c_i‖, ‖a_i‖)):
#: :func:`balance` leaves a few eps (one square root and one product per neuron), far below
BALANCE_TOL = 1e-9
#: a subset sum :math:`\sum_J c_ia_i^T` counts as 0 below ZERO_SUM_RTOL·m·max_i‖c_ia_i^T‖: a sum of
#: ≤ m rounded products rounds at about m·eps of its largest term
ZERO_SUM_RTOL = 1e-12


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _as_finite(arr, name: str, ndim: int) -> np.ndarray:
    try:
        a = np.array(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array: {exc}") from None
    if a.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or inf")
    a.setflags(write=False)
    return a


def _points(X, d: int) -> tuple[np.ndarray, bool]:
    """Inputs as an (n, d) array; second value tells whether a single point (d,) was given."""
    try:
        Xa = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"X must be a numeric array: {exc}") from None
    single = Xa.ndim == 1
    if single:
        Xa = Xa[None, :]
    if Xa.ndim != 2 or Xa.shape[1] != d:
        raise InputError(f"X must have shape (n, {d}) or ({d},), got {np.shape(X)}")
    if not np.all(np.isfinite(Xa)):
        raise InputError("X contains NaN or inf")
    return Xa, single


@dataclass(frozen=True)
class ShallowNetwork:
    r"""A biasless shallow network :math:`\Theta = (A, C) \in N_{(d,m,D)}`.

    Parameters
    ----------
    A : array, shape (m, d)
        First layer; row ``i`` is the direction :math:`a_i`. ``m = 0`` is allowed (the zero
        function).
    C : array, shape (D, m), or shape (m,) for D = 1
        Output layer; column ``i`` is :math:`c_i \in \mathbb{R}^D`.

    Notes
    -----
    :math:`R(\Theta)(x) = \sum_i c_i \rho(\langle a_i, x\rangle)`, :math:`\rho = \max(\cdot, 0)`.
    Arrays are copied and made read-only.
    """

    A: np.ndarray
    C: np.ndarray

    def __post_init__(self):
        A = _as_finite(self.A, "A", 2)
        if A.shape[1] == 0:
            raise InputError("A must have at least one column (input dimension d >= 1)")
        try:
            C = np.array(self.C, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"C must be a numeric array: {exc}") from None
        if C.ndim == 1:
            C = C[None, :]
        if C.ndim != 2:
            raise InputError(f"C must have shape (D, m) or (m,), got {C.shape}")
        if C.shape[0] == 0:
            raise InputError("C must have at least one row (output dimension D >= 1)")
        if C.shape[1] != A.shape[0]:
            raise InputError(
                f"C has {C.shape[1]} columns but A has {A.shape[0]} rows (one per neuron)"
            )
        if not np.all(np.isfinite(C)):
            raise InputError("C contains NaN or inf")
        C.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "C", C)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, width: int, d: int, out_dim: int = 1) -> ShallowNetwork:
        """The zero parameter of :math:`N_{(d,\\,width,\\,D)}`."""
        return cls(np.zeros((width, d)), np.zeros((out_dim, width)))

    @classmethod
    def from_neurons(cls, neurons: Sequence[tuple], d: int | None = None,
                     out_dim: int | None = None) -> ShallowNetwork:
        """Build from a list of ``(a_i, c_i)`` pairs (``c_i`` scalar or length-D vector)."""
        if not neurons:
            if d is None or out_dim is None:
                raise InputError("an empty neuron list needs d and out_dim")
            return cls.zeros(0, d, out_dim)
        A = np.array([np.asarray(a, dtype=float).reshape(-1) for a, _ in neurons])
        C = np.array([np.atleast_1d(np.asarray(c, dtype=float)).reshape(-1) for _, c in neurons]).T
        return cls(A, C)

    # ------------------------------------------------------------------- properties
    @property
    def d(self) -> int:
        """Input dimension."""
        return self.A.shape[1]

    @property
    def width(self) -> int:
        """Number of neurons m."""
        return self.A.shape[0]

    @property
    def out_dim(self) -> int:
        """Output dimension D."""
        return self.C.shape[0]

    @property
    def architecture(self) -> tuple[int, int, int]:
        """(d, m, D)."""
        return (self.d, self.width, self.out_dim)

    def neuron(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(a_i, c_i)``, shapes (d,) and (D,)."""
        return self.A[i], self.C[:, i]

    # --------------------------------------------------------------------- methods
    def realize(self, X) -> np.ndarray:
        """:math:`R(\\Theta)(x)` for the rows of X.

        Parameters
        ----------
        X : array, shape (n, d) or (d,)

        Returns
        -------
        array, shape (n, D) (or (D,) for a single point)
        """
        Xa, single = _points(X, self.d)
        out = _relu(Xa @ self.A.T) @ self.C.T
        return out[0] if single else out

    __call__ = realize

    def norm(self) -> float:
        """:math:`\\|\\Theta\\|_\\infty` (max |entry| of A and C; 0 for width 0)."""
        return parameter_norm(self)

    def permute(self, perm) -> ShallowNetwork:
        """Neurons reordered: neuron ``i`` of the result is neuron ``perm[i]`` of self."""
        perm = np.asarray(perm, dtype=int)
        if sorted(perm.tolist()) != list(range(self.width)):
            raise InputError(f"perm must be a permutation of 0..{self.width - 1}")
        return ShallowNetwork(self.A[perm], self.C[:, perm])

    def to_record(self) -> dict:
        return {"d": self.d, "width": self.width, "out_dim": self.out_dim,
                "A": self.A.tolist(), "C": self.C.tolist(), "norm": self.norm()}


@dataclass(frozen=True)
class BiasedShallowNetwork:
    r"""A depth-2 network with biases :math:`\Theta = ((A_1, b_1), (A_2, b_2)) \in P_{(d,m,D)}`.

    Parameters
    ----------
    A1 : array, shape (m, d)
    b1 : array, shape (m,)
    A2 : array, shape (D, m), or shape (m,) for D = 1
    b2 : array, shape (D,), or a scalar for D = 1

    Notes
    -----
    :math:`R(\Theta)(x) = A_2\rho(A_1x + b_1) + b_2`; :math:`\|\Theta\|_\infty` = max |entry| of all
    four.
    """

    A1: np.ndarray
    b1: np.ndarray
    A2: np.ndarray
    b2: np.ndarray

    def __post_init__(self):
        A1 = _as_finite(self.A1, "A1", 2)
        if A1.shape[1] == 0:
            raise InputError("A1 must have at least one column (input dimension d >= 1)")
        m = A1.shape[0]
        b1 = _as_finite(np.reshape(self.b1, -1), "b1", 1)
        if b1.shape[0] != m:
            raise InputError(f"b1 has {b1.shape[0]} entries but A1 has {m} rows")
        try:
            A2 = np.array(self.A2, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"A2 must be a numeric array: {exc}") from None
        if A2.ndim == 1:
            A2 = A2[None, :]
        A2 = _as_finite(A2, "A2", 2)
        if A2.shape[1] != m or A2.shape[0] == 0:
            raise InputError(f"A2 must have shape (D, {m}) with D >= 1, got {A2.shape}")
        b2 = _as_finite(np.reshape(self.b2, -1), "b2", 1)
        if b2.shape[0] != A2.shape[0]:
            raise InputError(f"b2 has {b2.shape[0]} entries but A2 has {A2.shape[0]} rows (D)")
        for name, val in (("A1", A1), ("b1", b1), ("A2", A2), ("b2", b2)):
            object.__setattr__(self, name, val)

    @property
    def d(self) -> int:
        return self.A1.shape[1]

    @property
    def width(self) -> int:
        return self.A1.shape[0]

    @property
    def out_dim(self) -> int:
        return self.A2.shape[0]

    def realize(self, X) -> np.ndarray:
        """:math:`R(\\Theta)(x)`, X of shape (n, d) or (d,); returns (n, D) or (D,)."""
        Xa, single = _points(X, self.d)
        out = _relu(Xa @ self.A1.T + self.b1) @ self.A2.T + self.b2
        return out[0] if single else out

    __call__ = realize

    def norm(self) -> float:
        return float(max(np.max(np.abs(v)) if v.size else 0.0
                         for v in (self.A1, self.b1, self.A2, self.b2)))

    def to_record(self) -> dict:
        return {"d": self.d, "width": self.width, "out_dim": self.out_dim,
                "A1": self.A1.tolist(), "b1": self.b1.tolist(), "A2": self.A2.tolist(),
                "b2": self.b2.tolist(), "norm": self.norm()}


# ------------------------------------------------------------------------- norms, distances
def check_network(net, name: str = "net") -> ShallowNetwork:
    """``net`` itself if it is a :class:`ShallowNetwork`, else InputError naming ``name``."""
    if not isinstance(net, ShallowNetwork):
        raise InputError(f"{name} must be a ShallowNetwork, got {type(net).__name__}")
    return net


def neuron_norms(net: ShallowNetwork) -> tuple[np.ndarray, np.ndarray]:
    """:math:`(\\|a_i\\|_\\infty)_i` and :math:`(\\|c_i\\|_\\infty)_i`, two arrays of shape (m,)."""
    check_network(net)
    if net.width == 0:
        return np.zeros(0), np.zeros(0)
    return np.max(np.abs(net.A), axis=1), np.max(np.abs(net.C), axis=0)


def live_neurons(net: ShallowNetwork) -> np.ndarray:
    """Boolean mask (m,) of the neurons with :math:`a_i \\ne 0` and :math:`c_i \\ne 0` (the others
    compute the zero function)."""
    na, nc = neuron_norms(net)
    return (na > 0) & (nc > 0)


def zero_dead(net: ShallowNetwork) -> ShallowNetwork:
    """Same network with every dead neuron (:math:`a_i = 0` or :math:`c_i = 0`) set to (0, 0); the
    realization and the width are unchanged."""
    dead = ~live_neurons(net)
    A = net.A.copy()
    C = net.C.copy()
    A[dead] = 0.0
    C[:, dead] = 0.0
    return ShallowNetwork(A, C)


def parameter_norm(net: ShallowNetwork) -> float:
    """:math:`\\|\\Theta\\|_\\infty = \\max(\\max|a_{ik}|, \\max|c_{ki}|)` (0 for width 0)."""
    check_network(net, "net")
    if net.width == 0:
        return 0.0
    return float(max(np.max(np.abs(net.A)), np.max(np.abs(net.C))))


def check_same_architecture(phi, gamma, names: tuple[str, str] = ("phi", "gamma")) -> None:
    """InputError unless both are :class:`ShallowNetwork` in the same :math:`N_{(d,m,D)}`."""
    check_network(phi, names[0])
    check_network(gamma, names[1])
    if phi.architecture != gamma.architecture:
        raise InputError(f"{names[0]} and {names[1]} need the same architecture (d, m, D): "
                         f"{phi.architecture} vs {gamma.architecture}")


def parameter_distance(phi: ShallowNetwork, gamma: ShallowNetwork) -> float:
    """:math:`\\|\\Phi - \\Gamma\\|_\\infty`, index by index (both in the same
    :math:`N_{(d,m,D)}`)."""
    check_same_architecture(phi, gamma)
    if phi.width == 0:
        return 0.0
    return float(max(np.max(np.abs(phi.A - gamma.A)), np.max(np.abs(phi.C - gamma.C))))


def difference(theta: ShallowNetwork, gamma: ShallowNetwork) -> ShallowNetwork:
    """The network :math:`h = R(\\Theta) - R(\\Gamma)`: A = [A_Θ; A_Γ], C = [C_Θ, −C_Γ] (SPEC
    §5.2)."""
    check_network(theta, "theta")
    check_network(gamma, "gamma")
    if theta.d != gamma.d:
        raise InputError(f"networks have different input dimensions: {theta.d} vs {gamma.d}")
    if theta.out_dim != gamma.out_dim:
        raise InputError(
            f"networks have different output dimensions: {theta.out_dim} vs {gamma.out_dim}"
        )
    return ShallowNetwork(np.vstack([theta.A, gamma.A]), np.hstack([theta.C, -gamma.C]))


# ------------------------------------------------------------------------------ directions
def normalized_directions(A) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\hat a_i = a_i/\\|a_i\\|_\\infty` and :math:`\\|a_i\\|_\\infty`; zero rows stay zero.

    Returns
    -------
    Ahat : array, shape (m, d)
    norms : array, shape (m,)
    """
    A = np.asarray(A, dtype=float)
    norms = np.max(np.abs(A), axis=1) if A.shape[1] else np.zeros(A.shape[0])
    Ahat = np.zeros_like(A)
    nz = norms > 0
    Ahat[nz] = A[nz] / norms[nz, None]
    return Ahat, norms


def direction_groups(A, tol: float = DIRECTION_TOL) -> list[np.ndarray]:
    """Classes of positively parallel nonzero rows of A (first index = representative).

    Returns a list of index arrays in order of first occurrence; zero rows belong to no class.
    """
    Ahat, norms = normalized_directions(A)
    reps: list[int] = []
    members: list[list[int]] = []
    for i in np.flatnonzero(norms > 0):
        for g, r in enumerate(reps):
            if np.max(np.abs(Ahat[i] - Ahat[r])) <= tol:
                members[g].append(int(i))
                break
        else:
            reps.append(int(i))
            members.append([int(i)])
    return [np.array(g, dtype=int) for g in members]


def hyperplane_groups(A, tol: float = DIRECTION_TOL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct hyperplanes :math:`a_i^\\perp` of the nonzero rows of A.

    Parallel and antiparallel rows share a hyperplane.

    Returns
    -------
    normals : array, shape (L, d)
        One ∞-normalized normal per distinct hyperplane (that of its first row).
    index : int array, shape (m,)
        Hyperplane of each row (−1 for zero rows).
    orientation : int array, shape (m,)
        +1 if :math:`\\hat a_i` equals the hyperplane's normal, −1 if opposite, 0 for zero rows;
        neuron i is active on the side where ``orientation[i] * <normal, x> > 0``.
    """
    Ahat, norms = normalized_directions(A)
    m = Ahat.shape[0]
    index = np.full(m, -1, dtype=int)
    orient = np.zeros(m, dtype=int)
    normals: list[np.ndarray] = []
    for i in np.flatnonzero(norms > 0):
        for h, nrm in enumerate(normals):
            if np.max(np.abs(Ahat[i] - nrm)) <= tol:
                index[i], orient[i] = h, 1
                break
            if np.max(np.abs(Ahat[i] + nrm)) <= tol:
                index[i], orient[i] = h, -1
                break
        else:
            index[i], orient[i] = len(normals), 1
            normals.append(Ahat[i])
    N = np.array(normals) if normals else np.zeros((0, Ahat.shape[1]))
    return N, index, orient


# ------------------------------------------------------------------------------- balancing
def balance(net: ShallowNetwork) -> ShallowNetwork:
    """Balance every neuron: :math:`(a_i, c_i) \\mapsto (\\tau a_i, c_i/\\tau)`,
    :math:`\\tau = (\\|c_i\\|_\\infty/\\|a_i\\|_\\infty)^{1/2}` (SPEC §5.3).

    A neuron with exactly one of :math:`a_i, c_i` zero computes nothing and is set to zero. The
    realization is unchanged (positive homogeneity of ρ).
    """
    net = zero_dead(net)
    na, nc = neuron_norms(net)
    live = na > 0
    tau = np.ones(net.width)
    tau[live] = np.sqrt(nc[live] / na[live])
    return ShallowNetwork(net.A * tau[:, None], net.C / tau[None, :])


def balance_violation(net: ShallowNetwork) -> np.ndarray:
    """Per neuron :math:`|\\,\\|c_i\\|_\\infty - \\|a_i\\|_\\infty| / \\max(\\|c_i\\|, \\|a_i\\|)`
    (0 for zero neurons), shape (m,)."""
    na, nc = neuron_norms(net)
    scale = np.maximum(na, nc)
    out = np.zeros(net.width)
    pos = scale > 0
    out[pos] = np.abs(nc[pos] - na[pos]) / scale[pos]
    return out


def is_balanced(net: ShallowNetwork, rtol: float = BALANCE_TOL) -> bool:
    """:math:`\\|c_i\\|_\\infty = \\|a_i\\|_\\infty` for every neuron, to relative tolerance
    ``rtol``."""
    return bool(np.all(balance_violation(net) <= rtol))


# --------------------------------------------------------------------------------- merging
def merge_redundant(net: ShallowNetwork, tol: float = DIRECTION_TOL) -> ShallowNetwork:
    """Merge positively parallel directions, eq. (87) as reconstructed in SPEC §5.3.

    For every class of positively parallel nonzero directions :math:`a_j = \\|a_j\\|_\\infty \\hat
    a` (:func:`direction_groups`), the first neuron i of the class becomes the balanced neuron
    :math:`(\\|v\\|_\\infty^{1/2}\\hat a,\\ v/\\|v\\|_\\infty^{1/2})` with :math:`v = \\sum_j
    c_j\\|a_j\\|_\\infty` (zero if v = 0) and the others become (0, 0). Classes of size one are left
    unchanged. The width and the realization are unchanged.
    """
    check_network(net, "net")
    A = net.A.copy()
    C = net.C.copy()
    Ahat, norms = normalized_directions(net.A)
    for g in direction_groups(net.A, tol):
        if g.size < 2:
            continue
        i = g[0]
        v = (net.C[:, g] * norms[g][None, :]).sum(axis=1)
        s = np.sqrt(np.max(np.abs(v)))
        A[g] = 0.0
        C[:, g] = 0.0
        if s > 0:
            A[i] = s * Ahat[i]
            C[:, i] = v / s
    return ShallowNetwork(A, C)


# ------------------------------------------------------------------------- Lemma A.5 flips
def _subset(J: Iterable[int], m: int) -> np.ndarray:
    J = np.unique(np.asarray(list(J), dtype=int))
    if J.size and (J.min() < 0 or J.max() >= m):
        raise InputError(f"neuron indices must lie in 0..{m - 1}, got {J.tolist()}")
    return J


def flip(net: ShallowNetwork, J: Iterable[int]) -> ShallowNetwork:
    """Flip the directions :math:`a_i \\to -a_i` for :math:`i \\in J`, keeping :math:`c_i` (SPEC
    §5.8).

    By :math:`\\rho(t) - \\rho(-t) = t`, :math:`R(\\text{flip}(\\Theta, J))(x) = R(\\Theta)(x) -
    \\sum_{i\\in J} c_i\\langle a_i, x\\rangle`, so the realization is preserved iff
    :math:`\\sum_{i\\in J} c_i a_i^T = 0` (see :func:`zero_sum_subsets`).
    """
    check_network(net, "net")
    J = _subset(J, net.width)
    A = net.A.copy()
    A[J] = -A[J]
    return ShallowNetwork(A, net.C)


def zero_sum_subsets(net: ShallowNetwork, rtol: float = ZERO_SUM_RTOL,
                     max_width: int = 16) -> list[tuple[int, ...]]:
    """All nonempty J ⊆ [m] with :math:`\\sum_{i\\in J} c_i a_i^T = 0` (entrywise, relative to
    :math:`\\max_i\\|c_ia_i^T\\|`), by enumeration of the :math:`2^m - 1` subsets (``m <=
    max_width``).

    Includes subsets made of zero neurons (:math:`c_ia_i^T = 0`).
    """
    check_network(net, "net")
    m = net.width
    if m > max_width:
        raise InputError(f"zero_sum_subsets enumerates 2^m subsets; m = {m} > max_width = "
                         f"{max_width}")
    if m == 0:
        return []
    P = np.einsum("ki,il->ikl", net.C, net.A).reshape(m, -1)  # rows: vec(c_i a_i^T)
    scale = max(float(np.max(np.abs(P))), np.finfo(float).tiny)
    masks = np.array(list(itertools.product([0, 1], repeat=m))[1:], dtype=float)  # (2^m - 1, m)
    sums = masks @ P
    zero = np.max(np.abs(sums), axis=1) <= rtol * scale * m
    return [tuple(int(i) for i in np.flatnonzero(row)) for row in masks[zero]]
