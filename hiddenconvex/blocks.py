r"""Block weights W = (w_1, …, w_2p) of the convex program (SPEC §1.2, §2.1).

Blocks 0..p-1 have output sign γ = +1, blocks p..2p-1 have γ = -1 and reuse patterns 0..p-1.
Prediction :math:`\hat y = \sum_i \gamma_i D_i X w_i`; regularization :math:`\sum_i \|w_i\|_2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, check_matrix

__all__ = ["BlockWeights", "block_gamma", "block_pattern_index"]


def block_gamma(p: int) -> np.ndarray:
    """Output signs γ, shape (2p,): +1 for the first p blocks, -1 for the last p."""
    return np.concatenate([np.ones(p), -np.ones(p)])


def block_pattern_index(p: int) -> np.ndarray:
    """Pattern index of each of the 2p blocks (k and p+k share pattern k)."""
    return np.concatenate([np.arange(p), np.arange(p)])


@dataclass(frozen=True)
class BlockWeights:
    """Convex weights on a pattern list.

    Attributes
    ----------
    W : array, shape (2p, d)
    D : bool array, shape (n, p)   (``Patterns.D``)
    """

    W: np.ndarray
    D: np.ndarray

    def __post_init__(self):
        W = check_matrix(self.W, "W", allow_empty=True).copy()
        D = np.asarray(self.D, dtype=bool)
        if D.ndim != 2 or W.shape[0] != 2 * D.shape[1]:
            raise InputError(f"W must have 2p = {2 * D.shape[1]} rows, got {W.shape[0]}")
        W.setflags(write=False)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "D", D)

    @property
    def p(self) -> int:
        return self.D.shape[1]

    @property
    def gamma(self) -> np.ndarray:
        return block_gamma(self.p)

    def fits(self, X) -> np.ndarray:
        """Block fits γ_i D_i X w_i as columns, shape (n, 2p)."""
        X = self._check_X(X)
        XW = X @ self.W.T  # (n, 2p)
        Dfull = np.concatenate([self.D, self.D], axis=1)
        return XW * Dfull * self.gamma

    def predict(self, X) -> np.ndarray:
        X = self._check_X(X)
        V = self.W[: self.p] - self.W[self.p :]  # (p, d)
        return np.sum((X @ V.T) * self.D, axis=1)

    def regularization(self) -> float:
        """Σ_i ‖w_i‖₂ (multiplied by β in the objective)."""
        return float(np.sum(np.linalg.norm(self.W, axis=1)))

    def norms(self) -> np.ndarray:
        return np.linalg.norm(self.W, axis=1)

    def active(self, tol: float = 0.0) -> np.ndarray:
        """Indices of blocks with ‖w_i‖ > tol."""
        return np.flatnonzero(self.norms() > tol)

    def cone_violation(self, X) -> float:
        """max_i max_j -((2D_i - I) X w_i)_j, clipped at 0 (0 means feasible)."""
        X = self._check_X(X)
        S = np.where(np.concatenate([self.D, self.D], axis=1), 1.0, -1.0)
        return float(max(0.0, np.max(-(X @ self.W.T) * S))) if self.W.size else 0.0

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.D.shape[0] or X.shape[1] != self.W.shape[1]:
            raise InputError(
                f"X of shape {X.shape} does not match blocks "
                f"(n={self.D.shape[0]}, d={self.W.shape[1]})"
            )
        return X
