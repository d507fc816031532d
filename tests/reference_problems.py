"""Reference problems with known optimal values (SPEC §4.10 and §6 closed forms), cvxpy-style.

Every entry states the data, β, the loss, the optimal value P_c of the convex program over ALL
chambers, and where it is unique the optimal prediction ŷ* and β_max. Values are derived in the
docstrings below from the closed forms, never computed by the package, so any solver test can reuse
them: ``for ref in reference_problems(): ...``.

Closed forms used (squared loss ½‖ŷ−y‖², no 1/n):

* n = 1, any d (O7, O8): only the block with the sign of y helps; w = c x/‖x‖ with
  c = max(0, |y|‖x‖ − β)/‖x‖², ŷ = sign(y)·max(0, |y| − β/‖x‖),
  P_c = β|y|/‖x‖ − β²/(2‖x‖²) if β < |y|‖x‖ else y²/2;  β_max = |y|‖x‖.
* O9: X = [[1], [−1]] decouples into two n = 1 problems.
* Collinear 1-D, X = x (a column with positive entries), y = x (O10 and its scalings): one chamber
  activates every row; group lasso along x: w = (x^T y − β)/‖x‖², β_max = x^T y.
* Logistic, n = 1, x = 1, y = 1: min_w log(1 + e^{−w}) + βw, w ≥ 0 ⇒ sig(−w) = β,
  w = log((1 − β)/β) for β < ½ = β_max, P_c = −log(1 − β) + β log((1 − β)/β).
* Hinge (O15), n = 1, x = 1, y = 1: P_c = min(β, 1); ŷ = 1 (β < 1), 0 (β > 1), non-unique (β = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ReferenceProblem:
    name: str
    X: np.ndarray
    y: np.ndarray
    beta: float
    loss: str
    value: float  # P_c over all chambers
    yhat: np.ndarray | None = None  # optimal prediction when unique
    beta_max: float | None = None
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def _n1(name: str, x, y: float, beta: float, note: str = "") -> ReferenceProblem:
    x = np.asarray(x, dtype=float)
    nx = float(np.linalg.norm(x))
    bmax = abs(y) * nx
    if beta < bmax:
        value = beta * abs(y) / nx - beta**2 / (2 * nx**2)
        yhat = math.copysign(abs(y) - beta / nx, y)
    else:
        value, yhat = 0.5 * y**2, 0.0
    return ReferenceProblem(name, x[None, :], np.array([y]), beta, "squared", value,
                            np.array([yhat]), bmax, note, ("n1",))


def _collinear(name: str, x, beta: float) -> ReferenceProblem:
    x = np.asarray(x, dtype=float)
    y = x.copy()
    xy, xx = float(x @ y), float(x @ x)
    w = max(0.0, (xy - beta) / xx)
    yhat = w * x
    value = 0.5 * float((yhat - y) @ (yhat - y)) + beta * w
    return ReferenceProblem(name, x[:, None], y, beta, "squared", value, yhat, xy,
                            "collinear 1-D group lasso", ("collinear",))


def _logistic_n1(beta: float) -> ReferenceProblem:
    if beta < 0.5:
        w = math.log((1 - beta) / beta)
        value = -math.log(1 - beta) + beta * w
    else:
        w, value = 0.0, math.log(2.0)
    return ReferenceProblem(f"logistic_n1_beta{beta:g}", np.array([[1.0]]), np.array([1.0]), beta,
                            "logistic", value, np.array([w]), 0.5, "sig(-w) = beta", ("logistic",))


def _hinge_n1(beta: float) -> ReferenceProblem:
    yhat = None if beta == 1.0 else np.array([1.0 if beta < 1 else 0.0])
    return ReferenceProblem(f"hinge_O15_beta{beta:g}", np.array([[1.0]]), np.array([1.0]), beta,
                            "hinge", min(beta, 1.0), yhat, 1.0,
                            "O15; at beta = 1 every w in [0, 1] is optimal", ("hinge",))


def reference_problems() -> list[ReferenceProblem]:
    """All reference problems (small: brute-force chambers are cheap for every entry)."""
    refs = [
        _n1("O7", [1.0], 2.0, 1.0, "P_c = 1.5, yhat = 1"),
        _n1("O7_zero", [1.0], 0.5, 1.0, "beta >= beta_max = 0.5: zero net, P_c = 0.125"),
        _n1("O8", [1.0, 2.0, 2.0], -4.0, 1.5, "P_c = 1.875, yhat = -3.5"),
        _n1("n1_d2", [3.0, -4.0], 2.0, 2.5, "|x| = 5, beta_max = 10"),
        _n1("n1_d5", [1.0, -1.0, 2.0, 0.5, -0.5], -3.0, 0.7, "any d"),
        _n1("n1_d4_zero", [0.5, 0.5, 0.5, 0.5], 1.0, 1.2, "beta > beta_max = 1"),
        ReferenceProblem("O9", np.array([[1.0], [-1.0]]), np.array([3.0, 2.0]), 1.0, "squared", 4.0,
                         np.array([2.0, 1.0]), 3.0, "decoupled n = 1 problems", ("O9",)),
        ReferenceProblem("O9_zero", np.array([[1.0], [-1.0]]), np.array([3.0, 2.0]), 3.5, "squared",
                         6.5, np.array([0.0, 0.0]), 3.0, "beta >= beta_max = 3", ("O9",)),
        _collinear("O10", [1.0, 2.0], 1.0),
        _collinear("collinear_3pts", [0.5, 1.0, 3.0], 2.0),
        _logistic_n1(0.2),
        _logistic_n1(0.6),
        _hinge_n1(0.5),
        _hinge_n1(1.0),
        _hinge_n1(2.0),
    ]
    # the SPEC's numbers (O7, O8, O10): closed forms of a few rounded operations (8 ulp allowed)
    eps = np.finfo(np.float64).eps
    for ref, value in ((refs[0], 1.5), (refs[2], 1.875), (refs[8], 0.9)):
        assert abs(ref.value - value) <= 8 * eps * value, (ref.name, ref.value)
    return refs


def get(name: str) -> ReferenceProblem:
    for ref in reference_problems():
        if ref.name == name:
            return ref
    raise KeyError(name)


# O22 (SPEC §6): O9 data restricted to the single pattern diag(1, 0) (both signs).
O22 = {"X": np.array([[1.0], [-1.0]]), "y": np.array([3.0, 2.0]), "beta": 1.0,
       "pattern": (True, False), "P_S": 4.5, "lambda_S": np.array([1.0, 2.0]), "M": 2.0,
       "t": 0.5, "lower_bound": 2.875, "gap": 1.625, "P_c": 4.0}
