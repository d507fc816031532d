"""Exceptions and input validation shared by every module.

User errors (bad data, bad parameters, unknown names) raise :class:`InputError`, a
``ValueError`` whose message is one line naming the problem; the CLI prints it without a
traceback and exits non-zero. Solver failures raise :class:`SolverError`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "InputError",
    "SolverError",
    "check_matrix",
    "check_vector",
    "check_beta",
    "check_seed",
    "check_int",
    "check_positive",
]


class InputError(ValueError):
    """Invalid user input. The message is a single line naming the problem."""


class SolverError(RuntimeError):
    """A numerical solver is missing, failed, or returned a non-optimal status."""


def check_matrix(X, name: str = "X", *, allow_empty: bool = False) -> np.ndarray:
    """Return ``X`` as a C-contiguous float64 array of shape (n, d), all entries finite."""
    if np.iscomplexobj(X):
        raise InputError(f"{name} must be real, got complex values")
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array: {exc}") from None
    if A.ndim != 2:
        raise InputError(f"{name} must be 2-D (n, d), got shape {A.shape}")
    if not allow_empty and (A.shape[0] == 0 or A.shape[1] == 0):
        raise InputError(f"{name} is empty (shape {A.shape})")
    if not np.all(np.isfinite(A)):
        bad = np.argwhere(~np.isfinite(A))[0]
        raise InputError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    return np.ascontiguousarray(A)


def check_vector(v, n: int | None = None, name: str = "y") -> np.ndarray:
    """Return ``v`` as a finite float64 vector of shape (n,) (a (n, 1) column is accepted)."""
    if np.iscomplexobj(v):
        raise InputError(f"{name} must be real, got complex values")
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(
            f"{name} must be a vector of shape (n,), got shape {a.shape}"
            " (vector outputs are not supported, SPEC 4.12)"
        )
    if a.size == 0:
        raise InputError(f"{name} is empty")
    if n is not None and a.shape[0] != n:
        raise InputError(f"{name} has length {a.shape[0]} but X has {n} rows")
    if not np.all(np.isfinite(a)):
        first = int(np.argmax(~np.isfinite(a)))
        raise InputError(f"{name} contains NaN or inf (first at index {first})")
    return a


def check_int(value, name: str, minimum: int = 0, *, what: str | None = None) -> int:
    """``value`` as a Python int ≥ ``minimum`` (booleans and floats are refused).

    The one integer-argument check of the package; the message is
    ``"{name} must be an integer >= {minimum}, got {value!r}"`` (or ``what`` in place of
    "an integer >= minimum").
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be {what or f'an integer >= {minimum}'}, got {value!r}")
    return int(value)


def check_positive(value, name: str) -> float:
    """``value`` as a finite float > 0 (the one positive-number check of the package)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise InputError(f"{name} must be finite and > 0, got {value!r}")
    return f


def check_beta(beta) -> float:
    """Weight decay must be a finite float > 0."""
    return check_positive(beta, "beta")


def check_seed(seed) -> int:
    """Seeds are non-negative Python ints (recorded in every result row)."""
    return check_int(seed, "seed", 0, what="a non-negative integer")
