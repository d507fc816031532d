r"""Two-layer ReLU networks without explicit bias (append a ones column for a bias, SPEC §1.1).

:math:`f_\theta(X) = \sigma(XU^T)\alpha`, first-layer rows :math:`u_i` (``U``, shape (m, d)),
output weights :math:`\alpha_i` (``alpha``, shape (m,)).

Balancing (SPEC §4.1): a neuron is *scaled* when :math:`\|u_i\|_2 = |\alpha_i|`. The balancing map
:math:`(u, \alpha) \mapsto (\tau u, \alpha/\tau)`, :math:`\tau = \sqrt{|\alpha|/\|u\|}`, keeps
:math:`f_\theta` and lowers :math:`\tfrac12(\|u\|^2+\alpha^2)` to :math:`\|u\|\,|\alpha|` (AM–GM); a
neuron with exactly one of :math:`u, \alpha` zero computes nothing and is set to zero.

Tolerances: "zero" and "scaled" are decided relative to
``scale(net) = max(1, max_i max(‖u_i‖, |α_i|))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_matrix

__all__ = [
    "ReLUNetwork",
    "relu",
    "network_scale",
    "neuron_magnitudes",
    "nonzero_neurons",
    "balance",
    "is_scaled",
    "scaling_violation",
    "pad",
    "drop_zero_neurons",
    "permute",
    "concatenate",
]


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


@dataclass(frozen=True)
class ReLUNetwork:
    """Width-m network θ = ((u_i, α_i))_{i=1..m}.

    Parameters
    ----------
    U : array, shape (m, d)
        First-layer weights, one row per neuron.
    alpha : array, shape (m,)
        Output weights.
    """

    U: np.ndarray
    alpha: np.ndarray

    def __post_init__(self):
        U = check_matrix(self.U, "U", allow_empty=True)
        a = np.asarray(self.alpha, dtype=np.float64).reshape(-1)
        if a.shape[0] != U.shape[0]:
            raise InputError(f"alpha has {a.shape[0]} entries but U has {U.shape[0]} neurons")
        if a.size and not np.all(np.isfinite(a)):
            raise InputError("alpha contains NaN or inf")
        U = U.copy()
        a = a.copy()
        U.setflags(write=False)
        a.setflags(write=False)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "alpha", a)

    @classmethod
    def zeros(cls, width: int, d: int) -> ReLUNetwork:
        return cls(np.zeros((width, d)), np.zeros(width))

    @property
    def width(self) -> int:
        return self.U.shape[0]

    @property
    def d(self) -> int:
        return self.U.shape[1]

    def _check_X(self, X) -> np.ndarray:
        X = check_matrix(X)
        if X.shape[1] != self.d:
            raise InputError(f"network has input dimension {self.d} but X has {X.shape[1]} columns")
        return X

    def predict(self, X) -> np.ndarray:
        """f_θ(X) = σ(X U^T) α, shape (n,)."""
        X = self._check_X(X)
        return relu(X @ self.U.T) @ self.alpha

    def regularization(self) -> float:
        """½ Σ_i (‖u_i‖² + α_i²) (multiplied by β in :func:`~hiddenconvex.objective.objective`)."""
        return 0.5 * float(np.sum(self.U**2) + np.sum(self.alpha**2))

    def neuron_norms(self) -> np.ndarray:
        return np.linalg.norm(self.U, axis=1)

    @classmethod
    def from_neurons(cls, neurons, d: int) -> ReLUNetwork:
        """Network from a sequence of ``(u, alpha)`` pairs (``d`` fixes the shape when it is
        empty)."""
        neurons = list(neurons)
        if not neurons:
            return cls.zeros(0, d)
        U = np.array([np.asarray(u, dtype=np.float64).reshape(-1) for u, _ in neurons])
        a = np.array([float(al) for _, al in neurons])
        if U.shape[1] != d:
            raise InputError(f"neurons have input dimension {U.shape[1]}, expected {d}")
        return cls(U, a)


def network_scale(net: ReLUNetwork) -> float:
    """``max(1, max_i max(‖u_i‖, |α_i|))``: the scale that relative tolerances refer to."""
    mags = neuron_magnitudes(net)
    return float(max(1.0, mags.max())) if mags.size else 1.0


def neuron_magnitudes(net: ReLUNetwork) -> np.ndarray:
    """``max(‖u_i‖, |α_i|)`` per neuron, shape (m,)."""
    return np.maximum(net.neuron_norms(), np.abs(net.alpha))


def nonzero_neurons(net: ReLUNetwork, tol: float = 0.0) -> np.ndarray:
    """Boolean mask of the neurons with ``max(‖u_i‖, |α_i|) > tol * scale(net)`` (tol=0: exactly
    nonzero)."""
    return neuron_magnitudes(net) > tol * network_scale(net)


def balance(net: ReLUNetwork) -> ReLUNetwork:
    r"""Balanced copy (SPEC §4.1): same prediction on every input, :math:`\|u_i\| = |\alpha_i|`.

    Neurons with exactly one of ``u_i``, ``α_i`` zero become zero neurons (they contribute nothing
    to :math:`f_\theta`). Idempotent; :math:`L_\beta` never increases, and strictly decreases unless
    ``net`` was scaled.
    """
    norms = net.neuron_norms()
    absa = np.abs(net.alpha)
    both = (norms > 0) & (absa > 0)
    U = np.zeros_like(net.U)
    a = np.zeros_like(net.alpha)
    tau = np.sqrt(absa[both] / norms[both])
    U[both] = net.U[both] * tau[:, None]
    a[both] = net.alpha[both] / tau
    # Neurons scaled up to rounding keep their numbers, which makes balance exactly idempotent.
    exact = both & (np.abs(norms - absa) <= 8 * np.finfo(float).eps * np.maximum(norms, absa))
    U[exact] = net.U[exact]
    a[exact] = net.alpha[exact]
    return ReLUNetwork(U, a)


def scaling_violation(net: ReLUNetwork) -> float:
    """``max_i | ‖u_i‖ − |α_i| |`` (0 for a scaled network)."""
    if net.width == 0:
        return 0.0
    return float(np.max(np.abs(net.neuron_norms() - np.abs(net.alpha))))


def is_scaled(net: ReLUNetwork, tol: float = 1e-8) -> bool:
    """True when every neuron has ``| ‖u_i‖ − |α_i| | <= tol * scale(net)`` (SPEC §4.1, §4.11)."""
    return scaling_violation(net) <= tol * network_scale(net)


def pad(net: ReLUNetwork, width: int) -> ReLUNetwork:
    """Append zero neurons up to ``width`` (error if the network is wider)."""
    width = int(width)
    if width < net.width:
        raise InputError(f"cannot pad a width-{net.width} network to the smaller width {width}")
    extra = width - net.width
    if extra == 0:
        return net
    return ReLUNetwork(np.vstack([net.U, np.zeros((extra, net.d))]),
                       np.concatenate([net.alpha, np.zeros(extra)]))


def drop_zero_neurons(net: ReLUNetwork, tol: float = 0.0) -> ReLUNetwork:
    """Remove the neurons that :func:`nonzero_neurons` reports as zero (order kept)."""
    keep = nonzero_neurons(net, tol)
    return ReLUNetwork(net.U[keep], net.alpha[keep])


def permute(net: ReLUNetwork, order) -> ReLUNetwork:
    """Neurons reordered: neuron ``i`` of the result is neuron ``order[i]`` of ``net``."""
    order = np.asarray(order, dtype=int)
    if sorted(order.tolist()) != list(range(net.width)):
        raise InputError(f"order must be a permutation of range({net.width})")
    return ReLUNetwork(net.U[order], net.alpha[order])


def concatenate(*nets: ReLUNetwork) -> ReLUNetwork:
    """Neurons of all networks, in order (same input dimension required)."""
    if not nets:
        raise InputError("concatenate needs at least one network")
    d = nets[0].d
    if any(n.d != d for n in nets):
        raise InputError("cannot concatenate networks with different input dimensions")
    return ReLUNetwork(np.vstack([n.U for n in nets]), np.concatenate([n.alpha for n in nets]))
