r"""The restricted parameter spaces N' and N* of paper B and the augmentation into N* (SPEC §5.3,
§5.4).

* Pairs of directions: positively parallel pairs (violations of C.2) and opposite pairs (the
  pairs C.3 of Theorem 3.1 forbids), on ∞-normalized directions with
  :data:`~hiddenconvex.stability.shallow.DIRECTION_TOL`;
* N' (balanced + C.2, eq. (36)) and N* (N' with the last two coordinates of every direction
  > 0, Def 3.2): membership tests and :func:`to_restricted` (merge, eq. (87), then balance;
  R(N') = R(N));
* the augmentation of Lemma A.6 / Corollary 1.4: any biased Θ ∈ P_(d,m,D)
  (:class:`~hiddenconvex.stability.shallow.BiasedShallowNetwork`) becomes Γ ∈ N*_(d+2,m+1,D) with
  :math:`R(\Gamma)(x, 1, -1) = R(\Theta)(x)` (:func:`augment`, SPEC §5.4 construction [R]), on the
  slice :func:`lift_inputs`. The two extra coordinates turn the affine arrangement
  :math:`\{a_i^Tx + b_i = 0\}` of Θ into the central arrangement of Γ.

"Balanced" uses :data:`~hiddenconvex.stability.shallow.BALANCE_TOL`. Pure NumPy; no I/O.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, SolverError
from .shallow import (
    BALANCE_TOL,
    DIRECTION_TOL,
    BiasedShallowNetwork,
    ShallowNetwork,
    balance,
    balance_violation,
    check_network,
    direction_groups,
    merge_redundant,
    normalized_directions,
)

__all__ = [
    "positively_parallel_pairs", "opposite_pairs", "restricted_space_violations",
    "in_restricted_space", "in_star_space", "to_restricted", "augment", "lift_inputs",
]


# ----------------------------------------------------------------------- pairs of directions
def positively_parallel_pairs(A, tol: float = DIRECTION_TOL) -> list[tuple[int, int]]:
    """Pairs i < j of nonzero rows with :math:`\\hat a_i = \\hat a_j` (violations of C.2)."""
    Ahat, norms = normalized_directions(np.asarray(A, dtype=float))
    nz = np.flatnonzero(norms > 0)
    return [(int(i), int(j)) for a, i in enumerate(nz) for j in nz[a + 1:]
            if np.max(np.abs(Ahat[i] - Ahat[j])) <= tol]


def opposite_pairs(A, B=None, tol: float = DIRECTION_TOL) -> list[tuple[int, int]]:
    """Pairs of nonzero rows with :math:`\\hat a_i = -\\hat b_j`.

    Within A (i < j) when ``B`` is None, else between row i of A and row j of B.
    """
    Ahat, na = normalized_directions(np.asarray(A, dtype=float))
    if B is None:
        nz = np.flatnonzero(na > 0)
        return [(int(i), int(j)) for a, i in enumerate(nz) for j in nz[a + 1:]
                if np.max(np.abs(Ahat[i] + Ahat[j])) <= tol]
    Bhat, nb = normalized_directions(np.asarray(B, dtype=float))
    return [(int(i), int(j)) for i in np.flatnonzero(na > 0) for j in np.flatnonzero(nb > 0)
            if np.max(np.abs(Ahat[i] + Bhat[j])) <= tol]


# ----------------------------------------------------------------------------- N' and N*
def restricted_space_violations(net: ShallowNetwork, *, star: bool = False,
                                tol: float = DIRECTION_TOL,
                                rtol: float = BALANCE_TOL) -> tuple[str, ...]:
    """Reasons why ``net`` is not in N' (``star=False``) or N* (``star=True``); empty if it is.

    N' = balanced (‖c_i‖_∞ = ‖a_i‖_∞) and C.2 (no two nonzero directions positively parallel);
    N* = N' and :math:`(a_i)_{d-1} > 0`, :math:`(a_i)_d > 0` for ALL neurons (Def 3.2).
    """
    check_network(net, "net")
    out: list[str] = []
    bad = np.flatnonzero(balance_violation(net) > rtol)
    if bad.size:
        out.append(f"not balanced: neurons {bad.tolist()}")
    pairs = positively_parallel_pairs(net.A, tol)
    if pairs:
        out.append(f"C.2 fails: positively parallel directions {pairs}")
    if star:
        if net.d < 2:
            out.append("N* needs input dimension d >= 2")
        else:
            neg = np.flatnonzero((net.A[:, -2] <= 0) | (net.A[:, -1] <= 0))
            if neg.size:
                out.append(f"last two coordinates not > 0 for neurons {neg.tolist()}")
    return tuple(out)


def in_restricted_space(net: ShallowNetwork, **kw) -> bool:
    """Γ ∈ N'_(d,m,D) (eq. (36))."""
    return not restricted_space_violations(net, star=False, **kw)


def in_star_space(net: ShallowNetwork, **kw) -> bool:
    """Γ ∈ N*_(d,m,D) (Def 3.2)."""
    return not restricted_space_violations(net, star=True, **kw)


def to_restricted(net: ShallowNetwork, tol: float = DIRECTION_TOL) -> ShallowNetwork:
    """A representative in N' of the same realization: merge (eq. (87)) then balance."""
    return balance(merge_redundant(net, tol))


# --------------------------------------------------------------------- Lemma A.6 augmentation
def lift_inputs(X) -> np.ndarray:
    """The slice map :math:`x \\mapsto (x, 1, -1)`; X of shape (n, d) → (n, d+2) (or (d,) →
    (d+2,))."""
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        return np.concatenate([Xa, [1.0, -1.0]])
    if Xa.ndim != 2:
        raise InputError(f"X must have shape (n, d) or (d,), got {Xa.shape}")
    return np.hstack([Xa, np.ones((Xa.shape[0], 1)), -np.ones((Xa.shape[0], 1))])


def augment(theta: BiasedShallowNetwork, tol: float = DIRECTION_TOL) -> ShallowNetwork:
    """Lemma A.6 / Cor 1.4: Γ ∈ N*_(d+2, m+1, D) with :math:`R(\\Gamma)(x,1,-1) = R(\\Theta)(x)`.

    Construction of SPEC §5.4 [R]: (1) neurons with a_i = 0 are constants, moved into the output
    bias; (2) positively parallel affine rows (a_j, b_j) = τ(a_i, b_i) are merged (c_i += τ c_j) and
    neurons with c_i = 0 dropped; (3) each remaining neuron becomes :math:`\\tilde a_i = (a_i, b_i^+
    + 1, b_i^- + 1)`; (4) the output bias b_2 ≠ 0 becomes the neuron ((0_d, 2, 1), b_2) (value ρ(1)
    = 1 on the slice); (5) free slots get dummies ((0_d, 1, 1 + j), e_1), j = 1, 2, … (value ρ(−j) =
    0 on the slice); (6) all neurons are balanced.

    Parameters
    ----------
    theta : BiasedShallowNetwork
        Θ = ((A_1, b_1), (A_2, b_2)) ∈ P_(d,m,D).

    Returns
    -------
    ShallowNetwork
        Γ ∈ N*_(d+2,m+1,D). Off the slice {(x, 1, −1)} R(Γ) differs from anything related to Θ.
    """
    if not isinstance(theta, BiasedShallowNetwork):
        raise InputError(f"theta must be a BiasedShallowNetwork, got {type(theta).__name__}")
    d, m, D = theta.d, theta.width, theta.out_dim
    b2 = theta.b2.copy()
    A2 = theta.A2.copy()
    const = np.max(np.abs(theta.A1), axis=1) == 0
    for i in np.flatnonzero(const):
        b2 += A2[:, i] * max(theta.b1[i], 0.0)  # step 1
    rows = np.column_stack([theta.A1, theta.b1])  # affine rows (a_i, b_i)
    rows[const] = 0.0
    neurons: list[tuple[np.ndarray, np.ndarray]] = []
    _, norms = normalized_directions(rows)
    for g in direction_groups(rows, tol):  # step 2 (constants have zero rows: no group)
        i = g[0]
        c = (A2[:, g] * (norms[g] / norms[i])[None, :]).sum(axis=1)
        if np.any(c != 0):
            a, b = theta.A1[i], theta.b1[i]
            neurons.append((np.concatenate([a, [max(b, 0.0) + 1.0, max(-b, 0.0) + 1.0]]), c))  # 3
    if np.any(b2 != 0):  # step 4
        neurons.append((np.concatenate([np.zeros(d), [2.0, 1.0]]), b2))
    if len(neurons) > m + 1:  # cannot happen: at most m neuron slots + 1 bias
        raise SolverError("augmentation produced more than m + 1 neurons")
    e1 = np.zeros(D)
    e1[0] = 1.0
    j = 1
    while len(neurons) < m + 1:  # step 5
        neurons.append((np.concatenate([np.zeros(d), [1.0, 1.0 + j]]), e1.copy()))
        j += 1
    A = np.array([a for a, _ in neurons])
    C = np.array([c for _, c in neurons]).T
    return balance(ShallowNetwork(A, C))  # step 6

