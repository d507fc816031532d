r"""The problem data and the ONE objective every part of the package evaluates.

Non-convex (SPEC §1.1):
:math:`L_\beta(\theta) = \ell(\sigma(XU^T)\alpha) + \tfrac{\beta}{2}\sum_i(\|u_i\|^2+\alpha_i^2)`.

Convex (SPEC §2.1):
:math:`L^c_\beta(W) = \ell(\sum_i \gamma_i D_i X w_i) + \beta \sum_i \|w_i\|`.

Both are ``loss.value(model.predict(X), y) + beta * model.regularization()``: a model is anything
with ``predict(X)`` and ``regularization()`` (:class:`~hiddenconvex.network.ReLUNetwork`,
:class:`~hiddenconvex.blocks.BlockWeights`). Solvers, mappings, training and tests all call
:func:`objective`; nothing re-implements the formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .errors import check_beta, check_matrix, check_vector
from .losses import DEFAULT_LOSS, Loss, get_loss

__all__ = ["Problem", "ObjectiveValue", "objective"]


class Model(Protocol):
    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def regularization(self) -> float: ...


@dataclass(frozen=True)
class Problem:
    """Training data, weight decay and loss.

    Parameters
    ----------
    X : array, shape (n, d)
        Data (append a ones column for a regularized bias, SPEC §1.1).
    y : array, shape (n,)
        Targets (±1 for ``logistic`` and ``hinge``).
    beta : float
        Weight decay, > 0.
    loss : Loss
    """

    X: np.ndarray
    y: np.ndarray
    beta: float
    loss: Loss

    @classmethod
    def create(cls, X, y, beta, loss: str | Loss = DEFAULT_LOSS) -> Problem:
        """Validated constructor: finite data, matching shapes, beta > 0, labels fit the loss."""
        X = check_matrix(X)
        y = check_vector(y, X.shape[0])
        loss = get_loss(loss)
        y = loss.check_labels(y)
        X.setflags(write=False)
        y.setflags(write=False)
        return cls(X=X, y=y, beta=check_beta(beta), loss=loss)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    def with_beta(self, beta: float) -> Problem:
        return Problem(self.X, self.y, check_beta(beta), self.loss)


@dataclass(frozen=True)
class ObjectiveValue:
    """``total = loss + beta * penalty`` where ``penalty`` is the model's regularization()."""

    loss: float
    regularization: float  # already multiplied by beta
    total: float


def objective(problem: Problem, model: Model) -> ObjectiveValue:
    """Evaluate the training objective of ``model`` (network or convex blocks) on ``problem``."""
    yhat = model.predict(problem.X)
    data = problem.loss.value(yhat, problem.y)
    reg = problem.beta * float(model.regularization())
    return ObjectiveValue(loss=data, regularization=reg, total=data + reg)
