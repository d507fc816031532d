r"""Convex losses on the prediction vector, with their gradients and Fenchel duals.

Conventions (SPEC §1.1, §2.2) — every module uses these, with no 1/n:

* ``squared``:  :math:`\ell(z) = \tfrac12 \|z - y\|_2^2`,
* ``logistic``: :math:`\ell(z) = \sum_j \log(1 + e^{-y_j z_j})`, labels :math:`y \in \{-1,+1\}^n`,
* ``hinge``:    :math:`\ell(z) = \sum_j \max(0, 1 - y_j z_j)`, labels :math:`y \in \{-1,+1\}^n`.

``dual_value(lam, y)`` is :math:`-\ell^*(-\lambda)` (``-inf`` outside its domain), so that
:math:`-\ell^*(-\lambda) \le P_c` for every dual-feasible :math:`\lambda` (weak duality).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, xlogy

from .errors import InputError

if TYPE_CHECKING:  # cvxpy is heavy (~1 s to import): only the convex program needs it
    import cvxpy as cp

__all__ = ["Loss", "Squared", "Logistic", "Hinge", "get_loss", "LOSSES", "DEFAULT_LOSS"]


class Loss(ABC):
    """A convex loss :math:`\\ell(z; y)` of the prediction vector ``z`` (shape (n,))."""

    name: str
    #: ℓ is strictly convex: the optimal prediction ŷ* is unique (the optimal-set polytope).
    strictly_convex: bool
    #: ℓ(c·z; c·y) = c²·ℓ(z; y) for c > 0 (the squared loss): targets may be rescaled exactly.
    homogeneous: bool = False
    #: −∇ℓ(ŷ) is not a valid dual point at a kink of ℓ (hinge): use the solver's multiplier.
    dual_from_solver: bool = False

    def check_labels(self, y: np.ndarray) -> np.ndarray:
        """Return ``y`` if it fits this loss, else raise :class:`InputError`."""
        return y

    @abstractmethod
    def value(self, z: np.ndarray, y: np.ndarray) -> float:
        """Loss value at prediction ``z``."""

    @abstractmethod
    def gradient(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient (hinge: the subgradient with weight 1 on active and 0 on kink points)."""

    def dual_point(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""Dual candidate :math:`\lambda = -\nabla \ell(z)` (optimal dual when ``z = ŷ*``)."""
        return -self.gradient(z, y)

    @abstractmethod
    def dual_value(self, lam: np.ndarray, y: np.ndarray) -> float:
        r""":math:`-\ell^*(-\lambda)`; ``-inf`` when :math:`\lambda` is outside the domain."""

    def project_dual(self, lam: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        r"""``(λ', dev)``: λ projected onto the domain of :math:`-\ell^*(-\cdot)` and the largest
        distance of a coordinate from it (0 for the squared loss, whose domain is R^n)."""
        return lam, 0.0

    @abstractmethod
    def max_dual_scale(self, lam: np.ndarray, y: np.ndarray) -> float:
        r"""Largest :math:`t \ge 0` with :math:`t\lambda` in the domain of
        :math:`-\ell^*(-\cdot)`."""

    def best_dual_scale(self, lam: np.ndarray, y: np.ndarray, t_max: float) -> tuple[float, float]:
        r"""Maximize the concave map :math:`t \mapsto -\ell^*(-t\lambda)` over :math:`[0, t_{max}]`.

        Returns ``(t, value)``. Used for the lower bound of SPEC §2.4 step 4.
        """
        t_max = min(float(t_max), self.max_dual_scale(lam, y))
        if t_max <= 0 or not np.isfinite(t_max):  # an unbounded scale in a bounded domain: λ = 0
            if not np.isfinite(t_max) and np.any(lam):
                raise ValueError("t_max must be finite for a nonzero dual point")
            return 0.0, self.dual_value(0.0 * lam, y)
        res = minimize_scalar(
            lambda t: -self.dual_value(t * lam, y),
            bounds=(0.0, t_max),
            method="bounded",
            options={"xatol": 1e-12 * max(1.0, t_max)},
        )
        cands = [(0.0, self.dual_value(0.0 * lam, y)), (t_max, self.dual_value(t_max * lam, y)),
                 (float(res.x), self.dual_value(float(res.x) * lam, y))]
        return max(cands, key=lambda tv: tv[1])

    @abstractmethod
    def cvxpy(self, z: cp.Expression, y: np.ndarray) -> cp.Expression:
        """The same loss as a DCP cvxpy expression (cvxpy is imported here, not at import time)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Squared(Loss):
    r""":math:`\tfrac12\|z-y\|^2` (no 1/n). Dual :math:`\lambda^T y - \tfrac12\|\lambda\|^2`."""

    name = "squared"
    strictly_convex = True
    homogeneous = True

    def value(self, z, y):
        r = z - y
        return 0.5 * float(r @ r)

    def gradient(self, z, y):
        return z - y

    def dual_value(self, lam, y):
        lam = np.asarray(lam, dtype=float)
        return float(lam @ y - 0.5 * lam @ lam)

    def max_dual_scale(self, lam, y):
        return np.inf

    def best_dual_scale(self, lam, y, t_max):
        lam = np.asarray(lam, dtype=float)
        nrm2 = float(lam @ lam)
        t = 0.0 if nrm2 == 0 else float(np.clip((lam @ y) / nrm2, 0.0, t_max))
        return t, self.dual_value(t * lam, y)

    def cvxpy(self, z, y):
        import cvxpy as cp

        return 0.5 * cp.sum_squares(z - y)


def _project_unit_box(lam, y) -> tuple[np.ndarray, float]:
    """Projection onto the dual domain y_j λ_j ∈ [0, 1] of the logistic and hinge losses."""
    q = y * np.asarray(lam, dtype=float)
    dev = float(np.max(np.maximum(q - 1.0, 0.0) + np.maximum(-q, 0.0), initial=0.0))
    return y * np.clip(q, 0.0, 1.0), dev


def _check_pm1(y: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isin(y, (-1.0, 1.0))
    if np.any(bad):
        vals = np.unique(y[bad])[:5]
        raise InputError(
            f"the {name} loss needs labels in {{-1, +1}}; found {', '.join(f'{v:g}' for v in vals)}"
        )
    return y


class Logistic(Loss):
    r""":math:`\sum_j \log(1+e^{-y_j z_j})`, labels ±1. Dual :math:`\sum_j H(y_j\lambda_j)`."""

    name = "logistic"
    strictly_convex = True

    def check_labels(self, y):
        return _check_pm1(y, self.name)

    def project_dual(self, lam, y):
        return _project_unit_box(lam, y)

    def value(self, z, y):
        return float(np.sum(np.logaddexp(0.0, -y * z)))

    def gradient(self, z, y):
        return -y * expit(-y * z)

    def dual_value(self, lam, y):
        q = y * np.asarray(lam, dtype=float)
        if np.any(q < 0) or np.any(q > 1):
            return -np.inf
        return float(np.sum(-xlogy(q, q) - xlogy(1 - q, 1 - q)))

    def max_dual_scale(self, lam, y):
        q = y * np.asarray(lam, dtype=float)
        if np.any(q < 0):
            return 0.0
        qmax = float(np.max(q)) if q.size else 0.0
        return np.inf if qmax == 0 else 1.0 / qmax

    def cvxpy(self, z, y):
        import cvxpy as cp

        return cp.sum(cp.logistic(-cp.multiply(y, z)))


class Hinge(Loss):
    r""":math:`\sum_j \max(0, 1-y_j z_j)`, labels ±1 (not strictly convex).

    Dual :math:`\sum_j y_j\lambda_j`, domain :math:`y_j\lambda_j \in [0,1]`."""

    name = "hinge"
    strictly_convex = False
    dual_from_solver = True

    def check_labels(self, y):
        return _check_pm1(y, self.name)

    def project_dual(self, lam, y):
        return _project_unit_box(lam, y)

    def value(self, z, y):
        return float(np.sum(np.maximum(0.0, 1.0 - y * z)))

    def gradient(self, z, y):
        return -y * (y * z < 1.0)

    def dual_value(self, lam, y):
        q = y * np.asarray(lam, dtype=float)
        if np.any(q < -1e-12) or np.any(q > 1 + 1e-12):
            return -np.inf
        return float(np.sum(np.clip(q, 0.0, 1.0)))

    def max_dual_scale(self, lam, y):
        q = y * np.asarray(lam, dtype=float)
        if np.any(q < -1e-12):
            return 0.0
        qmax = float(np.max(q)) if q.size else 0.0
        return np.inf if qmax <= 0 else 1.0 / qmax

    def best_dual_scale(self, lam, y, t_max):
        t = min(float(t_max), self.max_dual_scale(lam, y))
        if not np.isfinite(t):
            t = 0.0
        return t, self.dual_value(t * np.asarray(lam, dtype=float), y)

    def cvxpy(self, z, y):
        import cvxpy as cp

        return cp.sum(cp.pos(1.0 - cp.multiply(y, z)))


LOSSES: dict[str, type[Loss]] = {"squared": Squared, "logistic": Logistic, "hinge": Hinge}

#: The loss used when none is named (regression with ½‖ŷ − y‖²).
DEFAULT_LOSS = "squared"


def get_loss(loss: str | Loss) -> Loss:
    """Return a :class:`Loss` instance from its name (``squared``, ``logistic``, ``hinge``)."""
    if isinstance(loss, Loss):
        return loss
    try:
        return LOSSES[str(loss)]()
    except KeyError:
        raise InputError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}") from None
