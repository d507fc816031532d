r"""Seeded synthetic data generators (pure: no I/O, no global random state).

Every generator takes ``seed`` (a non-negative int, passed to ``np.random.default_rng``) and returns
``(X, y, meta)``:

* ``X`` : array, shape (n, d), float64 — features WITHOUT a bias column (append one with
  ``np.hstack([X, np.ones((n, 1))])`` or ``load_csv(..., bias=True)`` when ``meta["bias"]`` is
  True);
* ``y`` : array, shape (n,) — regression targets, or labels in {−1, +1} for classification;
* ``meta`` : dict — ``generator`` (function name), every parameter (including ``seed``), the
  recommended ``loss`` and ``bias``, and the planted teacher weights where there are any (as
  nested lists, JSON-ready).

Same arguments ⇒ bitwise identical output. Random draws happen in a fixed documented order.

Generators
----------
:func:`gaussian_regression`   i.i.d. N(0, 1) features and targets (the generic data of SPEC O21).
:func:`low_rank_gaussian`     rank-r Gaussian features in R^d (exact chamber enumeration works in
                              R^r, SPEC §1.3) with targets from a planted ReLU teacher.
:func:`teacher_network`       Gaussian or uniform inputs, targets of a planted two-layer ReLU
                              teacher (optionally with biases) plus Gaussian noise.
:func:`teacher_1d`            1-D inputs on an interval, biased teacher (piecewise linear target
                              with kinks inside the interval); fit with a bias column.
:func:`teacher_2d`            :func:`teacher_network` with d = 2.
:func:`two_spirals`           the classic two-spirals classification task, labels ±1.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, check_seed
from ..network import relu

__all__ = [
    "gaussian_regression",
    "low_rank_gaussian",
    "teacher_network",
    "teacher_1d",
    "teacher_2d",
    "two_spirals",
    "GENERATORS",
]


def _check_int(v, name: str, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
        raise InputError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _check_nonneg(v, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {v!r}") from None
    if not np.isfinite(f) or f < 0:
        raise InputError(f"{name} must be finite and >= 0, got {v!r}")
    return f


def _teacher(rng: np.random.Generator, d: int, width: int, bias: bool, bias_range: float):
    """Draw teacher weights in the order U, alpha, b.

    u_k uniform on the unit sphere S^{d-1}; α_k = ±(0.5 + U(0, 1)) with a random sign;
    b_k ~ U(−r, r) (zeros and no draw when ``bias`` is False).
    """
    U = rng.normal(size=(width, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.choice([-1.0, 1.0], size=width) * (0.5 + rng.uniform(size=width))
    b = rng.uniform(-bias_range, bias_range, size=width) if bias else np.zeros(width)
    return U, alpha, b


def _teacher_predict(X, U, alpha, b) -> np.ndarray:
    return relu(X @ U.T + b[None, :]) @ alpha


def gaussian_regression(n: int, d: int, *, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generic data: ``X`` (n, d) and ``y`` (n,) with i.i.d. N(0, 1) entries (X drawn first).

    Parameters
    ----------
    n, d : int
        Samples and features (>= 1).
    seed : int
    """
    n, d = _check_int(n, "n"), _check_int(d, "d")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n)
    meta = {"generator": "gaussian_regression", "n": n, "d": d, "seed": seed,
            "loss": "squared", "bias": False}
    return X, y, meta


def low_rank_gaussian(
    n: int, d: int, rank: int, *, seed: int, teacher_width: int = 3, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Rank-``rank`` features :math:`X = G Q^T` and targets from a planted ReLU teacher.

    ``G`` (n, r) has N(0, 1) entries, ``Q`` (d, r) has orthonormal columns (QR of a Gaussian
    matrix), so ``rank(X) = r`` almost surely and the rows are in general position within
    ``range(Q)`` (Cover count :math:`2\sum_{k<r}\binom{n-1}{k}` chambers, SPEC §1.3). Targets:
    :math:`y = \sum_k \sigma(X t_k)\,a_k + \text{noise}\cdot N(0, 1)` with a bias-free teacher.
    Draw order: G, Q, teacher (t, a), noise.

    Parameters
    ----------
    n, d : int
        Samples and ambient dimension.
    rank : int
        1 <= rank <= min(n, d).
    seed : int
    teacher_width : int
        Neurons of the teacher (>= 1).
    noise : float
        Standard deviation of the additive Gaussian noise (>= 0).
    """
    n, d = _check_int(n, "n"), _check_int(d, "d")
    rank = _check_int(rank, "rank")
    if rank > min(n, d):
        raise InputError(f"rank must be <= min(n, d) = {min(n, d)}, got {rank}")
    teacher_width = _check_int(teacher_width, "teacher_width")
    noise = _check_nonneg(noise, "noise")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(n, rank))
    Q, _ = np.linalg.qr(rng.normal(size=(d, rank)))
    X = G @ Q.T
    U, alpha, b = _teacher(rng, d, teacher_width, bias=False, bias_range=0.0)
    y = _teacher_predict(X, U, alpha, b) + noise * rng.normal(size=n)
    meta = {"generator": "low_rank_gaussian", "n": n, "d": d, "rank": rank, "seed": seed,
            "teacher_width": teacher_width, "noise": noise, "loss": "squared", "bias": False,
            "teacher_U": U.tolist(), "teacher_alpha": alpha.tolist()}
    return X, y, meta


def teacher_network(
    n: int,
    d: int,
    *,
    seed: int,
    width: int = 3,
    noise: float = 0.05,
    bias: bool = False,
    bias_range: float = 1.0,
    inputs: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Targets of a planted ReLU teacher :math:`y = \sigma(XU_t^T + 1b^T)\alpha_t + \varepsilon`.

    Draw order: inputs X, teacher (u_k uniform on the sphere, α_k = ±(0.5 + U(0,1)), b_k ~ U(−r, r)
    if ``bias``), noise ε ~ noise · N(0, I).

    Parameters
    ----------
    n, d : int
        Samples and input dimension.
    seed : int
    width : int
        Teacher neurons.
    noise : float
        Noise standard deviation (>= 0).
    bias : bool
        Teacher neurons with biases (then fit the student with a bias column: ``meta["bias"]``).
    bias_range : float
        r in b_k ~ U(−r, r).
    inputs : {"gaussian", "uniform"}
        Rows of X i.i.d. N(0, I_d) or uniform on [−1, 1]^d.
    """
    n, d = _check_int(n, "n"), _check_int(d, "d")
    width = _check_int(width, "width")
    noise = _check_nonneg(noise, "noise")
    bias_range = _check_nonneg(bias_range, "bias_range")
    if inputs not in ("gaussian", "uniform"):
        raise InputError(f"inputs must be 'gaussian' or 'uniform', got {inputs!r}")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) if inputs == "gaussian" else rng.uniform(-1, 1, size=(n, d))
    U, alpha, b = _teacher(rng, d, width, bool(bias), bias_range)
    y = _teacher_predict(X, U, alpha, b) + noise * rng.normal(size=n)
    meta = {"generator": "teacher_network", "n": n, "d": d, "seed": seed, "width": width,
            "noise": noise, "bias": bool(bias), "bias_range": bias_range, "inputs": inputs,
            "loss": "squared", "teacher_U": U.tolist(), "teacher_alpha": alpha.tolist(),
            "teacher_b": b.tolist()}
    return X, y, meta


def teacher_2d(
    n: int, *, seed: int, width: int = 3, noise: float = 0.05, bias: bool = False
) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`teacher_network` with d = 2 and Gaussian inputs (the default dataset's generator)."""
    X, y, meta = teacher_network(n, 2, seed=seed, width=width, noise=noise, bias=bias)
    meta["generator"] = "teacher_2d"
    return X, y, meta


def teacher_1d(
    n: int,
    *,
    seed: int,
    width: int = 3,
    noise: float = 0.05,
    interval: tuple[float, float] = (-2.0, 2.0),
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""1-D regression: x sorted uniform on ``interval``, target a biased ReLU teacher plus noise.

    Teacher neuron k: :math:`a_k\,\sigma(s_k(x - c_k))` with slope sign s_k = ±1, kink c_k uniform
    in the middle 80 % of the interval and a_k = ±(0.5 + U(0, 1)). In the network parametrization
    this is u_k = (s_k, −s_k c_k) on the input (x, 1), so fit with a bias column
    (``meta["bias"] = True``): rank 2, hence 2n chambers for distinct x ≠ 0 (SPEC O5).
    Draw order: x, s, c, a, noise.

    Returns ``X`` of shape (n, 1).
    """
    n = _check_int(n, "n")
    width = _check_int(width, "width")
    noise = _check_nonneg(noise, "noise")
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise InputError(f"interval must be two numbers (lo, hi), got {interval!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"interval must satisfy lo < hi (finite), got {interval!r}")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(lo, hi, size=n))
    s = rng.choice([-1.0, 1.0], size=width)
    span = hi - lo
    c = rng.uniform(lo + 0.1 * span, hi - 0.1 * span, size=width)
    a = rng.choice([-1.0, 1.0], size=width) * (0.5 + rng.uniform(size=width))
    y = relu(s[None, :] * (x[:, None] - c[None, :])) @ a + noise * rng.normal(size=n)
    U = np.stack([s, -s * c], axis=1)
    meta = {"generator": "teacher_1d", "n": n, "seed": seed, "width": width, "noise": noise,
            "interval": [lo, hi], "loss": "squared", "bias": True,
            "teacher_U": U.tolist(), "teacher_alpha": a.tolist()}
    return x[:, None], y, meta


def two_spirals(
    n: int, *, seed: int, turns: float = 1.0, noise: float = 0.05, r_min: float = 0.15
) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""Two interleaved spirals in the plane, labels +1 (first arm) and −1 (second arm).

    Point j of an arm: radius :math:`t_j \in [r_{min}, 1]` (uniform), angle
    :math:`2\pi\,\text{turns}\,t_j` (the second arm is rotated by π), plus noise · N(0, I_2). The
    first ``ceil(n/2)`` rows are label +1, the rest −1. Draw order: t (arm +1), t (arm −1), noise.
    Not separable by a bias-free (positively homogeneous) network: use a bias column
    (``meta["bias"] = True``).
    """
    n = _check_int(n, "n", low=2)
    turns = _check_nonneg(turns, "turns")
    noise = _check_nonneg(noise, "noise")
    r_min = _check_nonneg(r_min, "r_min")
    if r_min >= 1:
        raise InputError(f"r_min must be < 1, got {r_min!r}")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    n_pos = (n + 1) // 2
    arms = []
    for count, phase in ((n_pos, 0.0), (n - n_pos, np.pi)):
        t = np.sort(rng.uniform(r_min, 1.0, size=count))
        ang = 2 * np.pi * turns * t + phase
        arms.append(np.stack([t * np.cos(ang), t * np.sin(ang)], axis=1))
    X = np.vstack(arms) + noise * rng.normal(size=(n, 2))
    y = np.concatenate([np.ones(n_pos), -np.ones(n - n_pos)])
    meta = {"generator": "two_spirals", "n": n, "seed": seed, "turns": turns, "noise": noise,
            "r_min": r_min, "loss": "logistic", "bias": True}
    return X, y, meta


GENERATORS = {
    "gaussian_regression": gaussian_regression,
    "low_rank_gaussian": low_rank_gaussian,
    "teacher_network": teacher_network,
    "teacher_1d": teacher_1d,
    "teacher_2d": teacher_2d,
    "two_spirals": two_spirals,
}
