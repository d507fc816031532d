r"""Block correlations and M(λ) (SPEC §2.2, §2.4).

For a dual point :math:`\lambda \in \mathbb R^n` and a chamber pattern :math:`D` with cone
:math:`C(D) = \{u : (2D - I)Xu \ge 0\}`, block :math:`b` (sign :math:`\gamma_b`, pattern
:math:`D_b`) has correlation :math:`\|\Pi_{C_b}(\gamma_b X^T D_b \lambda)\|_2`, and

.. math::  M(\lambda) = \max_{\|u\| \le 1} |\lambda^T\sigma(Xu)|
           = \max_b \|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2  \quad (\text{over ALL chambers}).

:func:`project_cone` projects onto one cone exactly (NNLS on the polar cone, Moreau);
:func:`cone_projections`, :func:`block_correlations` and :func:`max_correlation` are one exact
pass of :class:`hiddenconvex.pricing.Pricer` over a Patterns object, a bool matrix or an iterable
of ``(D, witnesses)`` chunks (the streaming enumerator, consumed once). Block order is that of
:mod:`hiddenconvex.blocks`: blocks ``0..p-1`` have γ = +1, blocks ``p..2p-1`` have γ = −1 and
reuse pattern ``b mod p``. The certificate built on M(λ) is :mod:`hiddenconvex.certificate`,
which re-exports these functions.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from .errors import InputError, SolverError, check_matrix, check_vector
from .facets import _pattern_matrix
from .pricing import Pricer, iter_chunks

__all__ = [
    "project_cone",
    "cone_projections",
    "block_correlations",
    "max_correlation",
]


# --------------------------------------------------------------------------------------------------
# Cone projections


def project_cone(g, A) -> np.ndarray:
    r"""Euclidean projection of ``g`` onto the polyhedral cone :math:`C = \{u : Au \ge 0\}`.

    Solved exactly on the polar cone :math:`C^\circ = \{-A^T\mu : \mu \ge 0\}`:
    :math:`\mu^* = \arg\min_{\mu \ge 0}\|A^T\mu + g\|`, :math:`\Pi_C(g) = g + A^T\mu^*` (Moreau).

    Parameters
    ----------
    g : array, shape (d,)
    A : array, shape (m, d)

    Returns
    -------
    array, shape (d,)
    """
    g = np.asarray(g, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    if g.ndim != 1 or A.ndim != 2 or A.shape[1] != g.shape[0]:
        raise InputError(
            f"project_cone: shapes g {g.shape} and A {A.shape} do not match (A is (m, d))"
        )
    if A.shape[0] == 0 or np.all(A @ g >= 0):
        return g.copy()
    return _polar_nnls(g, A)


def _polar_nnls(g: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Π_C(g) for C = {u : Au ≥ 0} by NNLS on the polar cone. No constraint (A of shape (0, d))
    means C = R^d and Π(g) = g; d = 0 means the space {0}. NNLS is never called with an empty
    matrix (SciPy's NNLS corrupts the heap on a (d, 0) matrix)."""
    m = A.shape[0]
    if m == 0 or A.shape[1] == 0 or g.size == 0:
        return g.copy()
    for maxiter in (max(50, 10 * m), 100 * max(50, m)):
        try:
            mu, _ = nnls(A.T, -g, maxiter=maxiter)
        except RuntimeError:  # iteration limit: retry once with a larger one
            continue
        return g + A.T @ mu
    raise SolverError(f"NNLS cone projection did not converge ({m} constraints, d = {A.shape[1]})")


# --------------------------------------------------------------------------------------------------
# The exact pass over chambers (hiddenconvex.pricing)


def _is_stream(patterns) -> bool:
    """A chunk source that is not a pattern matrix (e.g. ``iter_chambers(X, chunk)``)."""
    return not (hasattr(patterns, "D") or isinstance(patterns, np.ndarray)
                or _is_nested_matrix(patterns))


def _is_nested_matrix(patterns) -> bool:
    """A pattern matrix written as nested lists of 0/1 (not a list of chunks)."""
    if not isinstance(patterns, (list, tuple)) or not patterns:
        return False
    try:
        arr = np.asarray(patterns)
    except ValueError:  # ragged: a list of (D, witnesses) chunks
        return False
    return arr.ndim == 2 and arr.dtype != object


def _source(X, patterns):
    """The pattern source for :func:`hiddenconvex.pricing.iter_chunks`: a validated bool matrix
    (Patterns keep their witnesses) or the iterable of chunks as given."""
    if _is_stream(patterns):
        return patterns
    D = _pattern_matrix(patterns, X.shape[0])
    if hasattr(patterns, "D") and D is patterns.D:
        return patterns
    return D


def _check_chunk(D, n):
    D = np.asarray(D)
    return D if D.dtype == bool and D.ndim == 2 and D.shape[0] == n else _pattern_matrix(D, n)


def _all_blocks(X, lam, patterns):
    """Exact pricing of every block (no screening): per chunk (ChunkPrice, c)."""
    X = check_matrix(X)
    lam = check_vector(lam, X.shape[0], "lam")
    pricer = Pricer(X)
    return pricer, [pricer.price(lam, _check_chunk(D, X.shape[0]), 0.0, W, screen=False)
                    for D, W in iter_chunks(_source(X, patterns))]


def cone_projections(X, lam, patterns) -> np.ndarray:
    r"""All block projections :math:`\Pi_{C_b}(\gamma_b X^T D_b \lambda)`.

    Exact Lawson-Hanson projections on all distinct rows of each chamber
    (:class:`hiddenconvex.pricing.Pricer`, screening off), each inside a verified interval of
    its norm.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
        Dual point.
    patterns : Patterns, bool array (n, p), or iterable of ``(D, witnesses)`` chunks

    Returns
    -------
    array, shape (2p, d)
        Row ``b`` is the projection for block ``b`` (blocks ``p..2p-1`` have γ = −1).
    """
    pricer, res = _all_blocks(X, lam, patterns)
    parts = [[], []]
    for rc in res:
        c = rc.status.shape[1]
        P = np.zeros((2, c, pricer.d))
        s, k = rc.violators[:, 0], rc.violators[:, 1]
        P[s, k] = rc.violator_values[:, None] * rc.directions
        parts[0].append(P[0])
        parts[1].append(P[1])
    if not res:
        return np.zeros((0, pricer.d))
    return np.concatenate(parts[0] + parts[1], axis=0)


def block_correlations(X, lam, patterns) -> np.ndarray:
    r"""Norms :math:`\|\Pi_{C_b}(\gamma_b X^T D_b\lambda)\|_2` of every block, shape (2p,).

    Exact values (:class:`hiddenconvex.pricing.Pricer`, no screening): each lies in its verified
    interval."""
    _, res = _all_blocks(X, lam, patterns)
    if not res:
        return np.zeros(0)
    return np.concatenate([rc.value[0] for rc in res] + [rc.value[1] for rc in res])


def _max_correlations(X, lams, patterns) -> tuple[list[float], int]:
    """M(λ) for each dual point of ``lams`` over the pattern source, in ONE pass over it (a
    streamed chamber list is consumed once); also the number of chambers.

    Per chunk and λ: :meth:`Pricer.price` with ``top_k = 1``, threshold 0 and the best value so
    far as the floor: a block is only projected until it provably cannot beat the maximum, the
    maximizer's value is exact (a finished projection)."""
    X = check_matrix(X)
    lams = [check_vector(lam, X.shape[0], "lam") for lam in lams]
    pricer = Pricer(X)
    best = [0.0] * len(lams)
    count = 0
    for D, W in iter_chunks(_source(X, patterns)):
        D = _check_chunk(D, X.shape[0])
        count += D.shape[1]
        for i, lam in enumerate(lams):
            res = pricer.price(lam, D, 0.0, W, top_k=1, floor=best[i])
            if res.violator_values.size:
                best[i] = max(best[i], float(res.violator_values[0]))
    return best, count


def max_correlation(X, lam, patterns) -> float:
    r""":math:`M(\lambda)` over the given patterns (the true M when ``patterns`` are all chambers).

    One pass of :class:`hiddenconvex.pricing.Pricer` in top-1 mode: screening by
    :math:`\|g_b\|`, the inside test, and projections that stop as soon as a polar certificate
    shows the block cannot exceed the best value so far; the maximizer is projected exactly.

    Parameters
    ----------
    X : array, shape (n, d)
    lam : array, shape (n,)
    patterns : Patterns, bool array (n, p), or iterable of ``(D, witnesses)`` chunks
        E.g. ``hiddenconvex.patterns.iter_chambers(X, chunk)`` (consumed once).
    """
    return _max_correlations(X, [lam], patterns)[0][0]

