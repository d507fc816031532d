r"""The maps between convex weights and networks (SPEC §4.2–§4.4).

* :func:`psi` — ψ: convex block weights W → scaled network. Each nonzero block ``b`` gives the
  neuron :math:`(w_b/\sqrt{\|w_b\|},\ \gamma_b\sqrt{\|w_b\|})`; since :math:`w_b \in C_b`,
  :math:`\sigma(Xu)\alpha = \gamma_b D_b X w_b`, hence :math:`L_\beta(\psi(W)) = L^c_\beta(W)` for
  EVERY feasible W.
* :func:`phi` — φ: network → convex block weights, neuron ``i`` (both ``u_i`` and ``α_i`` nonzero)
  adds :math:`|\alpha_i| u_i` to block :math:`k(i) + p\cdot[\alpha_i < 0]`, where ``k(i)`` is the
  pattern :math:`1(Xu_i \ge 0)` if it is in the list, else the first listed chamber whose closed
  cone contains ``u_i``. The fit is preserved for every network and
  :math:`L^c_\beta(\phi(\theta)) \le L_\beta(\theta)`.
* :func:`split` / :func:`split_network` — splitting a neuron into
  :math:`(\sqrt{c_j}u, \sqrt{c_j}\alpha)`, :math:`c_j \ge 0`, :math:`\sum c_j = 1`: preserves
  :math:`f_\theta`, the scaled property and :math:`L_\beta`.

ψ∘φ = id (up to permutation and zero neurons) on minimal networks; the poster's "φ(ψ(θ)) = θ" is a
typo (SPEC §4.3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blocks import BlockWeights, block_gamma
from .errors import InputError, check_matrix, check_seed
from .network import ReLUNetwork, pad

__all__ = ["psi", "phi", "block_assignment", "split", "split_network", "random_split"]


def _pattern_matrix(patterns) -> np.ndarray:
    """``Patterns.D`` (or a bool array of shape (n, p) given directly)."""
    D = getattr(patterns, "D", patterns)
    D = np.asarray(D, dtype=bool)
    if D.ndim != 2:
        raise InputError(
            f"patterns must be a Patterns object or a bool array (n, p), got shape {D.shape}"
        )
    return D


def psi(weights: BlockWeights, X=None, width: int | None = None, *,
        tol: float = 0.0) -> ReLUNetwork:
    r"""ψ(W): one scaled neuron per nonzero block, in increasing block order (SPEC §4.2).

    Parameters
    ----------
    weights : BlockWeights
        Convex weights, shape (2p, d); blocks ``0..p-1`` have γ = +1, ``p..2p-1`` have γ = −1.
    X : array, shape (n, d), optional
        When given, the dimensions are checked and W must be feasible
        (``cone_violation <= 1e-9 * scale``): ψ reproduces the convex fit only for feasible W.
    width : int, optional
        Pad with zero neurons to this width (``InputError`` if W has more nonzero blocks).
    tol : float
        Blocks with ``‖w_b‖ <= tol * max_b ‖w_b‖`` are treated as zero (default 0: exact).

    Returns
    -------
    ReLUNetwork
        Neuron for block ``b``: :math:`u = w_b/\sqrt{\|w_b\|}`,
        :math:`\alpha = \gamma_b\sqrt{\|w_b\|}`.
    """
    if not isinstance(weights, BlockWeights):
        raise InputError(f"psi expects BlockWeights, got {type(weights).__name__}")
    if X is not None:
        X = check_matrix(X)
        viol = weights.cone_violation(X)  # also checks the shapes
        scale = max(1.0, float(np.abs(X).max()) * float(weights.norms().max(initial=0.0)))
        if viol > 1e-9 * scale:
            raise InputError(
                f"W is not feasible (cone violation {viol:.3g}); psi(W) would not reproduce its fit"
            )
    norms = weights.norms()
    thresh = tol * float(norms.max(initial=0.0))
    active = np.flatnonzero(norms > thresh)
    gamma = block_gamma(weights.p)
    r = np.sqrt(norms[active])
    U = weights.W[active] / r[:, None] if active.size else np.zeros((0, weights.W.shape[1]))
    net = ReLUNetwork(U, gamma[active] * r)
    if width is not None:
        if width < net.width:
            raise InputError(
                f"W has {net.width} nonzero blocks, more than the requested width {width}"
            )
        net = pad(net, width)
    return net


def block_assignment(net: ReLUNetwork, X, patterns, *, tol: float = 1e-9) -> np.ndarray:
    r"""Block index ``b(i)`` of every neuron used by φ (−1 for neurons with ``u_i = 0`` or
    ``α_i = 0``).

    ``k(i)`` is the index of the pattern :math:`1(Xu_i \ge 0)` when it is in the list, otherwise the
    first pattern whose closed cone contains ``u_i`` up to ``s_{kj} x_j^T u_i >= -tol ‖x_j‖ ‖u_i‖``.
    Raises :class:`InputError` when no listed cone contains a neuron (the list is incomplete).
    """
    X = net._check_X(X)
    D = _pattern_matrix(patterns)
    n, p = D.shape
    if n != X.shape[0]:
        raise InputError(f"patterns have {n} rows but X has {X.shape[0]}")
    index = {D[:, k].tobytes(): k for k in range(p - 1, -1, -1)}  # first occurrence wins
    S = np.where(D, 1.0, -1.0)  # (n, p)
    row_norms = np.linalg.norm(X, axis=1)
    out = np.full(net.width, -1, dtype=int)
    for i in range(net.width):
        u, a = net.U[i], net.alpha[i]
        nu = float(np.linalg.norm(u))
        if nu == 0.0 or a == 0.0:
            continue
        z = X @ u
        k = index.get((z >= 0).tobytes())
        if k is None:
            ok = np.all(S * z[:, None] >= -tol * nu * row_norms[:, None], axis=0)
            hits = np.flatnonzero(ok)
            if hits.size == 0:
                raise InputError(
                    f"neuron {i} lies in no cone of the pattern list (incomplete list?); "
                    "use all chambers (method='exact')"
                )
            k = int(hits[0])
        out[i] = k + (p if a < 0 else 0)
    return out


def phi(net: ReLUNetwork, X, patterns, *, tol: float = 1e-9) -> BlockWeights:
    r"""φ(θ): convex block weights with the same fit (SPEC §4.3).

    Parameters
    ----------
    net : ReLUNetwork
    X : array, shape (n, d)
    patterns : Patterns (or bool array (n, p))
        The pattern list of the convex program (all chambers for exactness).
    tol : float
        Relative cone-membership tolerance for neurons whose ≥-pattern is not in the list.

    Returns
    -------
    BlockWeights
        :math:`\phi(\theta)_b = \sum_{i: b(i)=b} |\alpha_i| u_i`. Fit-preserving for every θ;
        :math:`L^c_\beta(\phi(\theta)) \le L_\beta(\theta)` with equality iff θ is scaled and
        neurons sharing a block are positively colinear.
    """
    D = _pattern_matrix(patterns)
    b = block_assignment(net, X, D, tol=tol)
    W = np.zeros((2 * D.shape[1], net.d))
    for i in np.flatnonzero(b >= 0):
        W[b[i]] += abs(net.alpha[i]) * net.U[i]
    return BlockWeights(W, D)


def _check_coefficients(c, name: str = "coefficients") -> np.ndarray:
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.size == 0:
        raise InputError(f"{name} must not be empty")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError(f"{name} must be finite and >= 0")
    if abs(c.sum() - 1.0) > 1e-9:
        raise InputError(f"{name} must sum to 1, got {c.sum():.17g}")
    return c


def split(net: ReLUNetwork, index: int, coefficients) -> ReLUNetwork:
    r"""Split neuron ``index`` into :math:`(\sqrt{c_j}u, \sqrt{c_j}\alpha)`, ``j = 1..k``
    (SPEC §4.4).

    The new neurons replace neuron ``index`` in place (consecutively); the width grows by ``k − 1``.
    ``coefficients`` must be ≥ 0 and sum to 1 (zeros give zero neurons).
    """
    if not 0 <= int(index) < net.width:
        raise InputError(f"neuron index {index} out of range for width {net.width}")
    coeffs = [np.array([1.0])] * net.width
    coeffs[int(index)] = coefficients
    return split_network(net, coeffs)


def split_network(net: ReLUNetwork, coefficients: Sequence, *, width: int | None = None,
                  order=None) -> ReLUNetwork:
    r"""A general element of split_m(θ): split neuron ``i`` with ``coefficients[i]``, pad, permute.

    Parameters
    ----------
    coefficients : sequence of length ``net.width``
        ``coefficients[i]`` is a vector ``c ≥ 0`` with ``sum(c) = 1``.
    width : int, optional
        Pad the split network with zero neurons to this width.
    order : permutation, optional
        Final permutation of the neurons (applied after padding).
    """
    if len(coefficients) != net.width:
        raise InputError(f"need {net.width} coefficient vectors, got {len(coefficients)}")
    U, a = [], []
    for i, c in enumerate(coefficients):
        r = np.sqrt(_check_coefficients(c, f"coefficients[{i}]"))
        U.append(r[:, None] * net.U[i][None, :])
        a.append(r * net.alpha[i])
    out = ReLUNetwork(np.vstack(U) if U else np.zeros((0, net.d)),
                      np.concatenate(a) if a else np.zeros(0))
    if width is not None:
        out = pad(out, width)
    if order is not None:
        order = np.asarray(order, dtype=int)
        if sorted(order.tolist()) != list(range(out.width)):
            raise InputError(f"order must be a permutation of range({out.width})")
        out = ReLUNetwork(out.U[order], out.alpha[order])
    return out


def random_split(net: ReLUNetwork, width: int, seed: int = 0) -> ReLUNetwork:
    """A random element of split_width(θ): the nonzero neurons split into ``width`` neurons in total
    (Dirichlet coefficients, a random permutation). Seeded; for property tests."""
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    nz = np.flatnonzero((net.neuron_norms() > 0) | (net.alpha != 0))
    if width < nz.size:
        raise InputError(f"cannot split {nz.size} nonzero neurons into width {width}")
    base = ReLUNetwork(net.U[nz], net.alpha[nz])
    counts = np.ones(nz.size, dtype=int)
    if nz.size:
        extra = rng.integers(0, width - nz.size + 1)  # extra pieces; the rest are zero neurons
        for j in rng.integers(0, nz.size, size=extra):
            counts[j] += 1
    coeffs = [rng.dirichlet(np.ones(k)) if k > 1 else np.array([1.0]) for k in counts]
    out = split_network(base, coeffs, width=width)
    return _permute_random(out, rng)


def _permute_random(net: ReLUNetwork, rng: np.random.Generator) -> ReLUNetwork:
    order = rng.permutation(net.width)
    return ReLUNetwork(net.U[order], net.alpha[order])
