r"""The paper's ≥-pattern set {1[Xu ≥ 0] : u ∈ R^d} (SPEC §1.2), exactly.

Every cell (face) of the central arrangement {x_j^T u = 0} is a chamber of the arrangement
restricted to a flat (an intersection of hyperplanes): :func:`_flats` lists the flats breadth-first
from R^r down to {0}, and :func:`exact_ge_patterns` collects the chambers of each restriction
(extreme-ray method, :mod:`hiddenconvex._extreme_rays`). Public through
:mod:`hiddenconvex.patterns`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._arrangement import (
    _EPS,
    _default_witness,
    _group_words,
    _lex_order_words,
    _pack,
    _reduce,
)
from ._extreme_rays import _chambers_of
from ._linalg import pow2_scaled
from .errors import InputError, check_matrix

if TYPE_CHECKING:
    from .patterns import Patterns

__all__ = ["MAX_GE_FLATS", "exact_ge_patterns"]


#: ``pattern_set="ge"`` enumerates the cells of every flat of the arrangement; it refuses
#: arrangements with more flats than this (InputError).
MAX_GE_FLATS = 5_000


def _flats(H: np.ndarray, r: int, n: int) -> list:
    """All flats (intersections of hyperplanes) of an essential arrangement, breadth-first from
    R^r: list of (closure mask over the hyperplanes, orthonormal basis (r, dim)). Raises InputError
    beyond :data:`MAX_GE_FLATS` flats (checked before any chamber is enumerated)."""
    L = H.shape[0]

    def too_many():
        return InputError(
            "pattern_set='ge' is only supported for arrangements with at most "
            f"{MAX_GE_FLATS} flats (n = {n}, rank {r}, {L} distinct hyperplanes has more);"
            " use pattern_set='chamber'"
        )

    if L + 1 > MAX_GE_FLATS:
        raise too_many()
    top = (np.zeros(L, dtype=bool), np.eye(r))
    out, queue, seen = [top], [top], {top[0].tobytes()}
    origin = np.ones(L, dtype=bool)
    while queue:
        mask, B = queue.pop(0)
        kdim = B.shape[1]
        if kdim == 0:
            continue
        children = []
        if kdim == 1:  # a line meets any other hyperplane in {0}
            children.append((origin, np.zeros((r, 0))))
        else:
            R = H[~mask] @ B
            for j in range(R.shape[0]):
                Bn = B @ np.linalg.svd(R[j:j + 1])[2][1:].T  # basis of {u ∈ F : h_j^T u = 0}
                closure = np.linalg.norm(H @ Bn, axis=1) <= 64.0 * r * _EPS
                children.append((mask | closure, Bn))
        for closure, Bn in children:
            key = closure.tobytes()
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_GE_FLATS:
                raise too_many()
            out.append((closure, Bn))
            queue.append((closure, Bn))
    return out


def exact_ge_patterns(X) -> Patterns:
    """The paper's ≥-pattern set {1[Xu ≥ 0] : u ∈ R^d} (SPEC §1.2), exactly.

    Every cell (face) of the arrangement is a chamber of the arrangement restricted to a flat (an
    intersection of hyperplanes); the flats are enumerated breadth-first from R^r down to {0} and
    the chambers of each restriction are computed by the chamber routine. u = 0 gives D = I (all
    ones). The number of patterns is at least the number of chambers.

    Returns
    -------
    Patterns
        ``method="exact"``, ``complete=True``, ``pattern_set="ge"``; witnesses lie in the relative
        interior of a cell generating the pattern (see :class:`Patterns`).

    Raises
    ------
    InputError
        The arrangement has more than :data:`MAX_GE_FLATS` flats (not supported at that size).
    """
    from .patterns import Patterns  # deferred: patterns re-exports this module

    X = pow2_scaled(check_matrix(X))[0]  # patterns are invariant under positive scaling
    red = _reduce(X)
    r, H, L = red.rank, red.H, red.H.shape[0]
    flats = _flats(H, r, X.shape[0])
    sigmas, wits = [], []
    for mask, B in flats:
        free = np.flatnonzero(~mask)
        if B.shape[1] == 0 or free.size == 0:  # the flat {0}: u = 0, all rows active
            sigmas.append(np.zeros((1, L), dtype=np.int8))
            wits.append(np.zeros((1, r)))
            continue
        sg, wk, _ = _chambers_of(H[free] @ B)  # chambers of the arrangement restricted to F
        sig = np.zeros((sg.shape[0], L), dtype=np.int8)
        sig[:, free] = np.where(sg, 1, -1)
        sigmas.append(sig)
        wits.append(wk @ B.T)
    sig = np.concatenate(sigmas)
    wit = np.concatenate(wits)
    n = X.shape[0]
    Dt = np.ones((sig.shape[0], n), dtype=bool)
    nz = red.rep >= 0
    Dt[:, nz] = (sig[:, red.rep[nz]] * red.orient[nz]) >= 0
    first, _ = _group_words(_pack(Dt))
    Dt, wit = Dt[first], wit[first]
    order = _lex_order_words(_pack(Dt))
    Wt = wit[order] @ red.lift.T if r else _default_witness(X.shape[1], len(order))
    nrm = np.linalg.norm(Wt, axis=1, keepdims=True)
    Wt = Wt / np.where(nrm > 0, nrm, 1.0)  # unit, except u = 0 for the pattern D = I
    return Patterns(D=Dt[order].T, witnesses=Wt, method="exact", complete=True, rank=r,
                    pattern_set="ge")
