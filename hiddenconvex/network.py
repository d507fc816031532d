r"""Two-layer ReLU networks without explicit bias (append a ones column for a bias, SPEC §1.1).

:math:`f_\theta(X) = \sigma(XU^T)\alpha`, first-layer rows :math:`u_i` (``U``, shape (m, d)),
output weights :math:`\alpha_i` (``alpha``, shape (m,)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_matrix

__all__ = ["ReLUNetwork", "relu"]


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


