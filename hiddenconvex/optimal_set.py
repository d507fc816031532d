r"""The exact set of optimal networks, via the optimal set of the convex program (SPEC §4.6–§4.7).

For a strictly convex loss (squared, logistic) and β > 0 the optimal prediction :math:`\hat y^*` and
the dual :math:`\lambda^* = -\nabla\ell(\hat y^*)` are unique. With ALL chambers:

* equicorrelation set :math:`E = \{b : \|\Pi_{C_b}(\gamma_b X^T D_b\lambda^*)\| = \beta\}`,
  unit directions :math:`s_b`, candidate fits :math:`z_b = \gamma_b\sigma(Xs_b)`
  (:math:`\lambda^{*T}z_b = \beta`);
* candidates ``K``: ``E`` deduplicated by :math:`(\gamma_b, s_b)` (blocks whose cones share the face
  containing :math:`s_b` give the same neuron);
* the polytope :math:`\mathcal P = \{a \in \mathbb R^K_{\ge 0} : Za = \hat y^*\}`; on it
  :math:`\sum_k a_k = \lambda^{*T}\hat y^*/\beta` is constant, and
  :math:`W^* = \{w_{b_k} = a_k s_k : a \in \mathcal P\}` up to the choice of block among duplicates.

Consequences used here: a width-m network is optimal (m ≥ m*) iff every nonzero neuron is
:math:`(c\,s_k, \gamma_k c)` with ``c > 0`` and :math:`f_\theta(X) = \hat y^*`
(:meth:`OptimalSet.contains`); every optimal network is a permuted splitting of ψ(a) for one
``a ∈ 𝒫``; every ψ(a), ``a ∈ 𝒫``, is minimal (two same-sign candidates sharing a cone cannot both be
active: merging them would lower the objective), so the optimal minimal networks are exactly
{ψ(a) : a ∈ 𝒫}, the convex hull (in ``a``) of the vertex networks; 𝒫 is a singleton iff the fits of
the blocks active in SOME optimal solution are linearly independent (paper C, Prop 4.3); m* = the
minimum support size over 𝒫 ≤ rank(Z) ≤ n.

What is proven and what is tolerant (see also :class:`Tolerances`):

* Proven (exact arithmetic): the structure theorems above, the exact big-M of the MILP
  (:math:`a_k \le \sum a = \lambda^T\hat y/\beta`), the weak-duality lower bound reported with the
  certificate, and that every returned network has the objective of its own ``a`` (computed by
  :func:`~hiddenconvex.objective.objective`).
* Numerically tolerant: ŷ* and λ* come from an interior-point solver (the certificate gap bounds the
  error in the objective); membership in E uses a relative threshold (the margin to the nearest
  excluded block is reported); rank decisions use a relative singular-value threshold; LP/MILP
  feasibility is HiGHS's (≈1e-7 relative), and every MILP/vertex support is re-checked by least
  squares against ``fit`` tolerance.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp, nnls
from scipy.special import expit

from .blocks import BlockWeights, block_gamma
from .errors import InputError, SolverError, check_matrix
from .maps import phi, psi, random_split
from .minimality import to_minimal
from .network import ReLUNetwork, relu
from .objective import Problem, objective

__all__ = ["Tolerances", "Membership", "OptimalSet", "optimal_set", "prune"]


@dataclass(frozen=True)
class Tolerances:
    """Relative tolerances (SPEC §4.11).

    Attributes
    ----------
    equicorrelation : block ``b`` is in E iff ``‖Π_b‖ >= β (1 − equicorrelation)`` when λ is the
        solver's (unpolished) dual.
    polished : the same threshold after the Newton polish of (ŷ, λ) (correlations accurate to
        ~1e-14). Near its maximizer a block's correlation is quadratic in the direction, so a
        block whose direction is δ away from an optimal one has a deficit ~δ²: 1e-12 keeps such
        near-misses (δ ≳ 1e-6) out of E; the margin to the closest excluded block is reported.
    direction : candidates are merged, and a neuron matches candidate ``k``, when
        ``‖u/‖u‖ − s_k‖ <= direction``.
    fit : a prediction equals ŷ* when ``‖f − ŷ*‖ <= fit · max(1, ‖ŷ*‖)``; also the residual
        threshold of the support checks (vertices, m*) when ŷ* is not polished.
    support : with a polished ŷ*, the residual threshold ``support · max(1, ‖ŷ*‖)`` of the support
        checks (vertices, m*, pruning): a support counts only if its cone contains ŷ* to this
        accuracy (``fit`` is used instead when the polish failed).
    balance : a neuron is balanced when ``| ‖u‖ − |α| | <= balance · max(‖u‖, |α|)``.
    rank : singular values ``<= rank · σ_max`` count as zero (independence of fits, pruning).
    active : a coefficient is positive when ``a_k > active · Σa``.
    certificate : the solution is certified when ``M(λ) <= β (1 + certificate)``.
    """

    equicorrelation: float = 1e-6
    polished: float = 1e-12
    direction: float = 1e-6
    fit: float = 1e-6
    support: float = 1e-10
    balance: float = 1e-6
    rank: float = 1e-8
    active: float = 1e-7
    certificate: float = 1e-6


# --------------------------------------------------------------------------------------------------
# Pruning (paper C's "optimal pruning", SPEC §4.7)


def _prune_columns(G: np.ndarray, mags: np.ndarray, rank_tol: float,
                   neutral: float = 1e-12) -> np.ndarray:
    """Multipliers μ >= 0 with G μ = G 1 (up to the null-vector accuracy), Σ μ_b mags_b <= Σ mags_b
    (up to ``neutral · Σ mags``) and linearly independent active columns ``G[:, μ > 0]``.

    ``G`` (n, m) holds the fits of the items, ``mags`` their norms (the regularizer). Each step
    takes a null vector ``c`` of the current fits and scales item b by ``1 − c_b/c_k``,
    ``k = argmax c``; of the two orientations ±c, one with ``Σ c_b r_b >= −neutral Σ r``
    (regularizer not increased) is used, preferring the one with ``max c >= −min c`` (factors in
    [0, 2]: no amplification of rounding).
    """
    m = G.shape[1]
    mu = np.ones(m)
    for _ in range(m + 1):
        act = np.flatnonzero(mu > 0)
        if act.size == 0:
            break
        F = G[:, act] * mu[act]
        _, sv, Vt = np.linalg.svd(F, full_matrices=True)
        if act.size <= F.shape[0] and sv[-1] > rank_tol * sv[0]:
            break
        c = Vt[-1]  # a (numerical) null vector; exact when there are more columns than rows
        r = mags[act] * mu[act]
        slack = neutral * float(r.sum())
        options = [v for v in (c, -c) if v @ r >= -slack and v.max() > 0]
        c = max(options, key=lambda v: v.max() + v.min())
        k = int(np.argmax(c))
        scale = 1.0 - c / c[k]
        scale[np.abs(scale) <= 1e-12] = 0.0  # ties leave together
        scale[k] = 0.0
        mu[act] = mu[act] * np.clip(scale, 0.0, None)
    return mu


def prune(weights: BlockWeights, X, *, tol: float = 1e-8) -> BlockWeights:
    r"""Prune feasible convex weights to linearly independent block fits (SPEC §4.7).

    Repeats: take a null vector ``c`` of the active fits :math:`F = [\gamma_b D_b X w_b]`, oriented
    so that :math:`\sum_b c_b\|w_b\| \ge 0` and ``max c > 0``; scale
    :math:`w_b \leftarrow (1 - c_b/c_k) w_b`, ``k = argmax c`` (factors >= 0, so cones are kept;
    when both orientations keep the regularizer, the one with factors in [0, 2] is taken). The fit
    is unchanged (up to ``‖F c‖/c_k`` per step when the null vector is numerical, i.e. relative
    ``tol``), the regularizer does not increase (it is unchanged at an optimum), and the result has
    at most rank(X-fits) ≤ n nonzero blocks with independent fits — a vertex of 𝒫 when W is optimal.
    SPEC §4.7 says "scales in [0, 2]"; that holds only at an optimum (where both orientations are
    admissible), not for arbitrary feasible W.

    Parameters
    ----------
    weights : BlockWeights
    X : array, shape (n, d)
    tol : float
        Relative singular-value threshold for "linearly dependent".
    """
    if not isinstance(weights, BlockWeights):
        raise InputError(f"prune expects BlockWeights, got {type(weights).__name__}")
    X = check_matrix(X)
    fits = weights.fits(X)  # checks shapes
    norms = weights.norms()
    act = np.flatnonzero(norms > 0)
    W = weights.W.copy()
    if act.size:
        mu = _prune_columns(fits[:, act], norms[act], tol)
        W[act] = W[act] * mu[:, None]
    return BlockWeights(W, weights.D)


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Membership:
    """Answer of :meth:`OptimalSet.membership`: ``member`` and, if not, the first failing
    ``reason``.

    ``coefficients`` (shape (K,)) are :math:`a_k = \\sum_{i \\to k}\\|u_i\\||\\alpha_i|`,
    ``assignment`` maps each neuron to its candidate (−1 for zero neurons or unmatched ones);
    ``fit_error`` is ‖f_θ(X) − ŷ*‖ and ``direction_error`` the largest distance of a nonzero
    neuron's direction to its nearest same-sign candidate (inf when there is none).
    """

    member: bool
    reason: str
    coefficients: np.ndarray
    assignment: np.ndarray
    fit_error: float
    direction_error: float

    def __bool__(self) -> bool:
        return self.member


@dataclass(frozen=True)
class OptimalSet:
    r"""The optimal set of one problem (build it with :func:`optimal_set`).

    Attributes (shapes: ``p`` chambers, ``K`` candidates, ``n`` samples, ``d`` features)
    ----------
    problem, patterns : the problem and the complete chamber list used for E.
    solution : the ConvexSolution it was built from.
    polished : whether (ŷ, λ) were refined by the Newton polish (else they are the solver's).
    yhat : ŷ*, shape (n,): the (polished) prediction projected onto cone(Z); ``solver_error`` is
        ‖ŷ_solver − ŷ*‖.
    dual : λ* = −∇ℓ(ŷ*) (hinge with ``fixed_prediction``: the solver's dual), shape (n,).
    correlations : ``‖Π_{C_b}(γ_b X^T D_b λ*)‖`` for the 2p blocks.
    equicorrelated : the block indices E.
    gamma, directions, fits : candidates: (K,), (K, d) unit rows s_k, (n, K) columns z_k.
    candidate_blocks : the blocks of E merged into each candidate.
    total_mass : ``λ*^T ŷ*/β`` = Σ_k a_k on 𝒫 (the exact big-M of the MILP).
    max_coefficient : ``max_{a∈𝒫} a_k`` (one LP each); ``active``: candidates with a positive
        maximum.
    lp_points : (K, K) the LP maximizers (points of 𝒫), row k maximizes a_k.
    unique : 𝒫 is a single point (fits of ``active`` independent).
    m_star, m_star_coefficients, m_star_method : minimum support size over 𝒫, a point attaining it,
        and how it was obtained: "zero" (𝒫 = {0}), "unique" (𝒫 a single point), "enumeration"
        (proven by checking all smaller supports), "milp" (HiGHS MILP solved to optimality, support
        re-checked by least squares), "milp_time_limit" (upper bound only), "pruned" (upper bound).
        ``m_star_lower`` is a proven lower bound (= m_star unless the search was cut short).
    pruned_weights, pruned_width : :func:`prune` applied to the solver's weights.
    minimal_width : nonzero neurons of ``to_minimal(ψ(solver weights))`` (tiny blocks dropped).
    vertices : (V, K) vertices of 𝒫 if enumerated, else None; ``vertices_checked`` supports
        examined.
    certified, max_correlation, lower_bound, gap : the dual certificate over all chambers of the
        (polished) dual point; ``solution_optimal``: the solver's own dual point passes it
        (M(λ_solver) <= β(1 + tol.certificate)), False e.g. for an under-sampled program.
    objective : the convex optimum P_c = L_β(ψ of the m*-point ``m_star_coefficients``), computed by
        :func:`~hiddenconvex.objective.objective`; ``solver_objective``: on the solver's weights.
    """

    problem: Problem
    patterns: object
    solution: object
    scope: str
    tolerances: Tolerances
    polished: bool
    yhat: np.ndarray
    solver_error: float
    dual: np.ndarray
    correlations: np.ndarray
    equicorrelated: np.ndarray
    equicorrelation_spread: float
    equicorrelation_margin: float
    gamma: np.ndarray
    directions: np.ndarray
    fits: np.ndarray
    candidate_blocks: tuple[tuple[int, ...], ...]
    total_mass: float
    max_coefficient: np.ndarray
    active: np.ndarray
    lp_points: np.ndarray
    unique: bool
    m_star: int
    m_star_lower: int
    m_star_coefficients: np.ndarray
    m_star_method: str
    pruned_weights: BlockWeights
    pruned_width: int
    minimal_width: int
    vertices: np.ndarray | None
    vertices_checked: int
    certified: bool
    solution_optimal: bool
    max_correlation: float
    lower_bound: float
    gap: float
    objective: float
    solver_objective: float
    warnings: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ derived objects
    @property
    def num_candidates(self) -> int:
        return int(self.gamma.size)

    @property
    def num_vertices(self) -> int | None:
        return None if self.vertices is None else int(self.vertices.shape[0])

    def _check_coefficients(self, a) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64).reshape(-1)
        if a.shape != (self.num_candidates,):
            raise InputError(
                f"coefficients must have shape ({self.num_candidates},), got {a.shape}"
            )
        if np.any(a < 0) or not np.all(np.isfinite(a)):
            raise InputError("coefficients must be finite and >= 0")
        return a

    def weights(self, a) -> BlockWeights:
        """Convex weights of ``a``: ``w_b = a_k s_k`` on the first block of each candidate."""
        a = self._check_coefficients(a)
        p = self.patterns.p
        W = np.zeros((2 * p, self.problem.d))
        for k in np.flatnonzero(a > 0):
            W[self.candidate_blocks[k][0]] = a[k] * self.directions[k]
        return BlockWeights(W, self.patterns.D)

    def network(self, a, width: int | None = None) -> ReLUNetwork:
        r"""ψ(weights(a)): neurons :math:`(\sqrt{a_k}s_k, \gamma_k\sqrt{a_k})`, padded to
        ``width``."""
        return psi(self.weights(a), width=width)

    def minimal_network(self, width: int | None = None) -> ReLUNetwork:
        """An optimal network with m* neurons (ψ of ``m_star_coefficients``)."""
        return self.network(self.m_star_coefficients, width)

    def vertex_networks(self) -> list[ReLUNetwork]:
        """ψ of every vertex of 𝒫 (the extreme optimal minimal networks); needs enumerated
        vertices."""
        if self.vertices is None:
            raise InputError(
                "vertices were not enumerated (too many candidates); use vertices=True"
            )
        return [self.network(v) for v in self.vertices]

    def pruned_network(self, width: int | None = None) -> ReLUNetwork:
        return psi(self.pruned_weights, width=width)

    def sample(self, width: int | None = None, seed: int = 0) -> ReLUNetwork:
        """A random optimal network: ψ of a random convex combination of LP points, randomly split
        to ``width`` (default: the number of active candidates)."""
        rng = np.random.default_rng(seed)
        if self.lp_points.shape[0] == 0:
            a = np.zeros(0)
        else:
            a = rng.dirichlet(np.ones(self.lp_points.shape[0])) @ self.lp_points
            a[a <= self.tolerances.active * max(self.total_mass, 1e-300)] = 0.0
        net = self.network(a)
        width = max(net.width, int(self.active.size)) if width is None else width
        return random_split(net, width, seed=seed)

    # ------------------------------------------------------------------ membership
    def membership(self, net: ReLUNetwork, tol: Tolerances | None = None) -> Membership:
        """Is ``net`` in Θ*_m? (SPEC §4.6: every nonzero neuron is ``(c s_k, γ_k c)``, c > 0, and
        ``f_θ(X) = ŷ*``.) Tolerances (default: this set's): ``direction``, ``balance``, ``fit``;
        neurons with ``½(‖u‖² + α²) <= fit · max(1, Σa)`` count as zero. A gradient-trained network
        is accurate to its optimizer's tolerance only: pass looser ``tol`` for it."""
        if not isinstance(net, ReLUNetwork):
            raise InputError(f"expected a ReLUNetwork, got {type(net).__name__}")
        if net.d != self.problem.d:
            raise InputError(
                f"network has input dimension {net.d} but the data have {self.problem.d} columns"
            )
        tol = tol or self.tolerances
        K = self.num_candidates
        a = np.zeros(K)
        assign = np.full(net.width, -1, dtype=int)
        norms, alpha = net.neuron_norms(), net.alpha
        live = np.flatnonzero(0.5 * (norms**2 + alpha**2) > tol.fit * max(1.0, self.total_mass))
        fit_err = float(np.linalg.norm(net.predict(self.problem.X) - self.yhat))
        reason, dir_err = "", 0.0
        for i in live:
            same = np.flatnonzero(self.gamma == np.sign(alpha[i])) if norms[i] > 0 else []
            if len(same) == 0:
                dir_err = np.inf
                reason = reason or (f"neuron {i} is not (c s_k, gamma_k c) for any optimal "
                                    "candidate k")
                continue
            dist = np.linalg.norm(self.directions[same] - net.U[i] / norms[i], axis=1)
            k = int(same[np.argmin(dist)])
            dir_err = max(dir_err, float(dist.min()))
            if abs(norms[i] - abs(alpha[i])) > tol.balance * max(norms[i], abs(alpha[i])):
                reason = reason or (f"neuron {i} is not balanced (|u| = {norms[i]:.6g}, |alpha| = "
                                    f"{abs(alpha[i]):.6g})")
            elif dist.min() > tol.direction:
                reason = reason or (f"neuron {i} is not (c s_k, gamma_k c) for any optimal "
                                    "candidate k")
            else:
                assign[i] = k
                a[k] += norms[i] * abs(alpha[i])
        if not reason and fit_err > tol.fit * max(1.0, float(np.linalg.norm(self.yhat))):
            reason = f"prediction differs from the optimal one (error {fit_err:.3g})"
        return Membership(not reason, reason, a, assign, fit_err, dir_err)

    def contains(self, net: ReLUNetwork, tol: Tolerances | None = None) -> bool:
        """True iff ``net`` is an optimal network of its width (see :meth:`membership`)."""
        return self.membership(net, tol).member

    def __contains__(self, net: ReLUNetwork) -> bool:
        return self.contains(net)

    # ------------------------------------------------------------------ records
    def to_record(self) -> dict:
        sol = self.solution
        return {
            "objective": self.objective,
            "solver_objective": self.solver_objective,
            "lower_bound": self.lower_bound,
            "gap": self.gap,
            "certified": self.certified,
            "solution_optimal": self.solution_optimal,
            "max_correlation": self.max_correlation,
            "beta": self.problem.beta,
            "loss": self.problem.loss.name,
            "scope": self.scope,
            "m_star": self.m_star,
            "m_star_method": self.m_star_method,
            "m_star_lower": self.m_star_lower,
            "unique": self.unique,
            "num_equicorrelated": int(self.equicorrelated.size),
            "num_candidates": self.num_candidates,
            "num_active": int(self.active.size),
            "pruned_width": self.pruned_width,
            "minimal_width": self.minimal_width,
            "num_vertices": self.num_vertices,
            "vertices_checked": self.vertices_checked,
            "vertex_enumeration": self.vertices is not None,
            "total_mass": self.total_mass,
            "equicorrelation_spread": self.equicorrelation_spread,
            "equicorrelation_margin": self.equicorrelation_margin,
            "polished": self.polished,
            "solver_error": self.solver_error,
            "n": self.problem.n,
            "d": self.problem.d,
            "num_patterns": self.patterns.p,
            "status": getattr(sol, "status", None),
            "solver": getattr(sol, "solver", None),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------------------
# Construction


def _svd_rank(A: np.ndarray, rel: float) -> int:
    if A.size == 0:
        return 0
    sv = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(sv > rel * sv[0])) if sv[0] > 0 else 0


def _dedupe(gamma_b, S_b, blocks,
            tol) -> tuple[np.ndarray, np.ndarray, tuple[tuple[int, ...], ...]]:
    reps: list[tuple[float, np.ndarray, list[int]]] = []
    for g, s, b in zip(gamma_b, S_b, blocks, strict=True):
        for g2, s2, members in reps:
            if g2 == g and np.linalg.norm(s - s2) <= tol:
                members.append(int(b))
                break
        else:
            reps.append((float(g), s, [int(b)]))
    if not reps:
        return np.zeros(0), np.zeros((0, S_b.shape[1] if S_b.ndim == 2 else 0)), ()
    return (np.array([g for g, _, _ in reps]), np.array([s for _, s, _ in reps]),
            tuple(tuple(mm) for _, _, mm in reps))


def _lp_max(Z: np.ndarray, yhat: np.ndarray, k: int) -> np.ndarray:
    K = Z.shape[1]
    c = np.zeros(K)
    c[k] = -1.0
    res = linprog(c, A_eq=Z, b_eq=yhat, bounds=[(0, None)] * K, method="highs")
    if res.status != 0:
        raise SolverError(f"LP max a_{k} over the optimal polytope failed: {res.message}")
    return np.clip(res.x, 0.0, None)


def _support_solution(Z: np.ndarray, yhat: np.ndarray, S, rank_tol: float):
    """(a_S, residual) for independent columns S, else None."""
    ZS = Z[:, S]
    if _svd_rank(ZS, rank_tol) < len(S):
        return None
    aS, *_ = np.linalg.lstsq(ZS, yhat, rcond=None)
    return aS, float(np.linalg.norm(ZS @ aS - yhat))


def _enumerate_vertices(Z, yhat, tol: Tolerances, res_tol, pos_tol):
    """All vertices of {a >= 0 : Z a = yhat}: supports with independent columns and a strictly
    positive least-squares solution that fits. Returns (vertices (V, K), supports examined)."""
    K = Z.shape[1]
    r = _svd_rank(Z, tol.rank)
    verts, checked = [], 0
    for size in range(1, r + 1):
        for S in itertools.combinations(range(K), size):
            checked += 1
            sol = _support_solution(Z, yhat, list(S), tol.rank)
            if sol is None:
                continue
            aS, res = sol
            if res <= res_tol and np.all(aS > pos_tol):
                v = np.zeros(K)
                v[list(S)] = aS
                verts.append(v)
    return (np.array(verts) if verts else np.zeros((0, K))), checked


def _m_star_enumerate(Z, yhat, upper: int, tol: Tolerances, res_tol, pos_tol):
    """Smallest support size < upper whose cone contains yhat (None if none)."""
    K = Z.shape[1]
    for size in range(1, upper):
        for S in itertools.combinations(range(K), size):
            sol = _support_solution(Z, yhat, list(S), tol.rank)
            if sol is None:
                continue
            aS, res = sol
            if res <= res_tol and np.all(aS >= -pos_tol):
                a = np.zeros(K)
                a[list(S)] = np.clip(aS, 0.0, None)
                return size, a
    return None


@contextlib.contextmanager
def _silent_stdout():
    """Silence the process's file descriptor 1 (HiGHS's MIP solver prints debug lines there from
    C++, which would corrupt ``--json`` output)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _m_star_milp(Z, yhat, U, time_limit: float, slack: float):
    """min Σ b_k s.t. |Z a − ŷ| <= slack (entrywise), 0 <= a_k <= U_k b_k, b binary (HiGHS).

    ``U_k = max_{a∈𝒫} a_k`` (from the LPs) is an exact big-M. The slack (the fit tolerance, spread
    over the n entries) absorbs the rounding of ŷ and of the dropped inactive candidates, which can
    make the exact equality infeasible for HiGHS; every support found is re-checked by least
    squares. Returns (support, proven optimal?, dual bound)."""
    K = Z.shape[1]
    Ubig = U * (1.0 + 1e-6) + 1e-12 * max(float(U.max(initial=0.0)), 1e-300)
    c = np.concatenate([np.zeros(K), np.ones(K)])
    A_fit = np.hstack([Z, np.zeros_like(Z)])
    A_link = np.hstack([np.eye(K), -np.diag(Ubig)])
    cons = [LinearConstraint(A_fit, yhat - slack, yhat + slack),
            LinearConstraint(A_link, -np.inf, 0.0)]
    bounds = Bounds(np.zeros(2 * K), np.concatenate([Ubig, np.ones(K)]))
    with _silent_stdout():
        res = milp(c, integrality=np.concatenate([np.zeros(K), np.ones(K)]), bounds=bounds,
                   constraints=cons,
                   options={"mip_rel_gap": 0.0, "time_limit": float(time_limit), "disp": False})
    bound = getattr(res, "mip_dual_bound", None)
    if res.x is None:
        if res.status == 1:  # time limit before any integer solution
            return None, False, bound
        raise SolverError(f"MILP for m* failed: {res.message}")
    return np.flatnonzero(res.x[K:] > 0.5), res.status == 0, bound


def _loss_hessian(loss, z: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Diagonal of the Hessian of the loss at ``z`` (None when the loss is not twice
    differentiable)."""
    if loss.name == "squared":
        return np.ones_like(z)
    if loss.name == "logistic":
        t = y * z
        return expit(t) * expit(-t)
    return None


def _face_projector(X: np.ndarray, s: np.ndarray, face_tol: float = 1e-9) -> np.ndarray:
    """Orthogonal projector onto {u : x_j^T u = 0 for the rows j with x_j^T s = 0} (the face of
    s)."""
    rn = np.linalg.norm(X, axis=1)
    F = (np.abs(X @ s) <= face_tol * rn) & (rn > 0)
    d = X.shape[1]
    if not np.any(F):
        return np.eye(d)
    _, sv, Vt = np.linalg.svd(X[F], full_matrices=True)
    r = int(np.sum(sv > 1e-12 * sv[0]))
    N = Vt[r:].T
    return N @ N.T


@dataclass(frozen=True)
class _Candidates:
    """Blocks equicorrelated at one dual point, deduplicated into candidate neurons."""

    corr: np.ndarray           # (2p,) block correlations ‖Π_{C_b}(γ_b X^T D_b λ)‖
    E: np.ndarray              # equicorrelated block indices
    gamma: np.ndarray          # (K,) output signs
    S: np.ndarray              # (K, d) unit directions s_k
    groups: tuple              # blocks of E merged into each candidate
    Z: np.ndarray              # (n, K) fits z_k = γ_k σ(X s_k)


def _dedupe_fits(X, proj, corr, E, p, tol_dir):
    """Candidates (γ, S, groups, Z) of the blocks E from their cone projections ``proj`` (2p, d)."""
    S_b = proj[E] / corr[E, None] if E.size else np.zeros((0, X.shape[1]))
    gamma, S, groups = _dedupe(block_gamma(p)[E], S_b, E, tol_dir)
    Z = (relu(X @ S.T) * gamma) if gamma.size else np.zeros((X.shape[0], 0))
    return gamma, S, groups, Z


def _candidates(X, lam, chambers, beta, tol_E, tol_dir, proj=None) -> _Candidates:
    """Candidates at ``lam``; ``proj``: its block projections when already computed (2p NNLS)."""
    from .certificate import cone_projections  # deferred: needs the solver stack

    if proj is None:
        proj = np.asarray(cone_projections(X, lam, chambers), dtype=float)
    corr = np.linalg.norm(proj, axis=1)
    E = np.flatnonzero(corr >= beta * (1.0 - tol_E))
    return _Candidates(corr, E, *_dedupe_fits(X, proj, corr, E, chambers.p, tol_dir))


def _restricted_kkt(loss, y, beta, G: list[np.ndarray], yhat0, mu0, max_iter: int = 25):
    r"""Solve ŷ = Σ_k μ_k G_k λ(ŷ), λ^T G_k λ = β² (k = 1..K), λ = −∇ℓ(ŷ), by damped Newton.

    These are the KKT conditions of the convex program restricted to K candidate blocks whose
    directions stay on fixed faces: with ``P_k`` the projector onto the face of ``s_k``,
    :math:`s_k = P_k\gamma_kX^TD_k\lambda/\beta`, so :math:`z_k = G_k\lambda/\beta` with
    :math:`G_k = D_kXP_kX^TD_k`, and :math:`\mu_k = a_k/\beta`. Least-squares steps handle the
    singular Jacobian of non-unique optima (μ is then not unique, ŷ and λ are). Returns
    (ŷ, μ, residual).
    """
    n, K = yhat0.size, len(G)
    yh, mu = yhat0.astype(float).copy(), mu0.astype(float).copy()
    scale = max(1.0, float(np.linalg.norm(yhat0)))

    def residual(yh, mu):
        lam = loss.dual_point(yh, y)
        Gl = np.column_stack([g @ lam for g in G]) if K else np.zeros((n, 0))
        F = np.concatenate([(yh - Gl @ mu) / scale, 0.5 * (lam @ Gl / beta**2 - 1.0)])
        return F, Gl

    F, Gl = residual(yh, mu)
    for _ in range(max_iter):
        normF = float(np.linalg.norm(F))
        if normF <= 1e-15:
            break
        H = _loss_hessian(loss, yh, y)  # dλ/dŷ = −diag(H)
        J11 = np.eye(n) + sum((m * g for m, g in zip(mu, G, strict=True)), np.zeros((n, n))) * H
        J = np.block([[J11 / scale, -Gl / scale], [-(Gl.T * H) / beta**2, np.zeros((K, K))]])
        step = np.linalg.lstsq(J, -F, rcond=None)[0]
        t = 1.0
        while t >= 1e-4:
            yn, mn = yh + t * step[:n], mu + t * step[n:]
            Fn, Gln = residual(yn, mn)
            if np.all(np.isfinite(Fn)) and np.linalg.norm(Fn) < normF:
                break
            t *= 0.5
        else:
            break
        yh, mu, F, Gl = yn, mn, Fn, Gln
    return yh, mu, float(np.linalg.norm(F))


#: Thresholds of the polished solution: Newton residual, dual feasibility M(λ) <= β(1 + FEAS) and
#: the residual of ŷ in the cone of the candidate fits (relative to max(1, ‖ŷ‖)).
_POLISH_RESIDUAL, _POLISH_FEAS, _POLISH_CONE = 1e-12, 1e-10, 1e-10
#: Directions closer than this are one candidate in the restricted KKT system of the polish.
_POLISH_MERGE = 1e-3
#: Add/drop rounds of the polish before giving up (then E falls back to the solver's dual).
_POLISH_ROUNDS = 60


def _polish(problem: Problem, weights: BlockWeights, chambers, tol: Tolerances):
    r"""Refine the solver's (ŷ, λ) to near machine precision (active-set Newton on the KKT system).

    The support starts as the blocks the solver uses (``‖w_b‖ > 1e-5 max‖w‖``). Each round takes
    their directions :math:`s_b = \Pi_{C_b}(\gamma_bX^TD_b\lambda)/\|\cdot\|` and faces at the
    current λ and solves the restricted KKT system (:func:`_restricted_kkt`). If it has no solution
    (a block in the support is not equicorrelated at the optimum) the candidate with the smallest
    multiplier is dropped. Otherwise the new point is kept and all 2p block correlations are
    recomputed: blocks with :math:`\|\Pi_b\| > \beta(1 + 10^{-10})` are added; if there are none and
    ŷ lies in the cone of the equicorrelated fits (NNLS residual <= 1e-10), this is the KKT
    certificate of the full program and ``(ŷ, λ, the 2p projections at λ)`` is returned; else the
    most negative multiplier is dropped. Returns None for a loss without a Hessian, no active
    block, or no success within ``_POLISH_ROUNDS`` rounds (a start far from the optimum, e.g. an
    inaccurate solver answer).
    """
    from .certificate import cone_projections  # deferred: needs the solver stack

    loss, X, y, beta = problem.loss, problem.X, problem.y, problem.beta
    norms = weights.norms()
    if _loss_hessian(loss, y, y) is None or norms.max(initial=0.0) == 0.0:
        return None
    support = set(map(int, np.flatnonzero(norms > 1e-5 * norms.max())))
    coef = {b: float(norms[b]) for b in support}
    yh = weights.predict(X)
    lam = loss.dual_point(yh, y)
    proj = np.asarray(cone_projections(X, lam, chambers), dtype=float)
    for rounds in range(1, _POLISH_ROUNDS + 1):
        pn = np.linalg.norm(proj, axis=1)
        blocks = np.array(sorted(b for b in support if pn[b] > 0), dtype=int)
        if blocks.size == 0:
            return None
        # blocks sharing a face have one direction at the exact λ, nearby ones at the solver's:
        # merge loosely in the first round only (later rounds start from an accurate λ, and a
        # violated block added there must stay a candidate of its own)
        merge = _POLISH_MERGE if rounds == 1 else tol.direction
        gamma, S, groups = _dedupe(block_gamma(chambers.p)[blocks], proj[blocks] / pn[blocks, None],
                                   blocks, merge)
        G = []
        for k in range(gamma.size):
            DX = chambers.D[:, groups[k][0] % chambers.p][:, None] * X
            G.append(DX @ _face_projector(X, S[k]) @ DX.T)
        mu0 = np.array([sum(coef.get(b, 0.0) for b in g) for g in groups]) / beta
        yh_new, mu, res = _restricted_kkt(loss, y, beta, G, yh, mu0)
        if res > _POLISH_RESIDUAL:
            # inconsistent support: drop the weakest candidate, keep the point
            support -= set(groups[int(np.argmin(mu))])
            continue
        yh, lam = yh_new, loss.dual_point(yh_new, y)
        coef = {b: beta * max(m, 0.0) for k, m in enumerate(mu) for b in groups[k]}
        proj = np.asarray(cone_projections(X, lam, chambers), dtype=float)
        corr = np.linalg.norm(proj, axis=1)
        violated = np.flatnonzero(corr > beta * (1.0 + _POLISH_FEAS))
        if violated.size:
            # a violated block next to a candidate (e.g. the interior of the chamber beside a face
            # candidate) replaces it, taking over its coefficient; others are added
            for b in map(int, violated):
                s_b = proj[b] / corr[b]
                near = [k for k in range(gamma.size) if gamma[k] == block_gamma(chambers.p)[b]
                        and np.linalg.norm(S[k] - s_b) <= _POLISH_MERGE]
                for k in near:
                    support -= set(groups[k])
                coef[b] = sum(beta * max(mu[k], 0.0) for k in near)
                support.add(b)
            continue
        E = np.flatnonzero(corr >= beta * (1.0 - tol.polished))
        _, _, _, Z = _dedupe_fits(X, proj, corr, E, chambers.p, tol.direction)
        r = nnls(Z, yh, maxiter=50 * max(Z.shape[1], 10))[1] if Z.shape[1] else np.linalg.norm(yh)
        if r <= _POLISH_CONE * max(1.0, float(np.linalg.norm(yh))):
            return yh, lam, proj
        if np.all(mu >= 0):
            return None
        support -= set(groups[int(np.argmin(mu))])  # ŷ left the cone: drop the most negative
    return None


def _check_problem_match(problem: Problem, solution) -> None:
    sp = getattr(solution, "problem", None)
    if sp is None:
        return
    same = (sp.X.shape == problem.X.shape and np.array_equal(sp.X, problem.X)
            and np.array_equal(sp.y, problem.y) and sp.beta == problem.beta
            and sp.loss.name == problem.loss.name)
    if not same:
        raise InputError(
            "the solution was computed for a different problem (X, y, beta or loss differ)"
        )


def _candidate_coefficients(cand: _Candidates, weights: BlockWeights) -> np.ndarray:
    """Coefficients of arbitrary (e.g. the solver's) weights on the candidates:
    a_k = Σ_b max(0, s_k·w_b) over the blocks b merged into k. Blocks outside E are dropped (zero at
    an exact optimum)."""
    a = np.zeros(cand.gamma.size)
    for k, blocks in enumerate(cand.groups):
        a[k] = sum(max(0.0, float(cand.S[k] @ weights.W[b])) for b in blocks)
    return a


def _vertex_on_support(Z, yhat, support, rank_tol: float) -> np.ndarray:
    """The point of 𝒫 supported on ``support`` (independent columns): least squares, else NNLS."""
    a = np.zeros(Z.shape[1])
    if support.size == 0:
        return a
    sol = _support_solution(Z, yhat, list(support), rank_tol)
    aS = sol[0] if sol is not None and np.all(sol[0] >= 0) else nnls(Z[:, support], yhat)[0]
    a[support] = aS
    return a


def optimal_set(problem: Problem, patterns=None, *, solution=None, solver: str = "clarabel",
                tol: Tolerances | None = None, vertices: bool | str = "auto",
                max_vertex_candidates: int = 14, m_star_method: str = "auto",
                max_enumeration: int = 20000, fixed_prediction: bool = False,
                polish: bool = True, max_chambers: int | None = 20000,
                milp_time_limit: float = 60.0) -> OptimalSet:
    r"""Build the :class:`OptimalSet` of ``problem`` (SPEC §4.6–§4.7).

    Steps: solve (CVX) (or reuse ``solution``); polish (ŷ, λ) by an active-set Newton method on the
    KKT system and check it over ALL chambers (:func:`_polish`; without polishing E comes from the
    solver's dual with the looser ``tol.equicorrelation``); candidates K and 𝒫; one LP per candidate
    (``active``); uniqueness; m* by support enumeration or MILP, with pruning of the solver's point
    as the upper bound; vertices of 𝒫 by brute force when K is small.

    Parameters
    ----------
    problem : Problem
        Strictly convex loss (squared, logistic). Hinge raises :class:`InputError` unless
        ``fixed_prediction=True`` (then the set described is {optimal W with the solver's ŷ}, using
        the solver's dual; m*, uniqueness etc. are relative to that ŷ only).
    patterns : Patterns, optional
        Pattern list for the convex solve (default: all chambers). E is always computed over ALL
        chambers (enumerated here if ``patterns`` is not complete); a sampled solution must be
        certified over all chambers, else :class:`InputError`.
    solution : ConvexSolution, optional
        Reuse a solution instead of solving.
    solver : str
        cvxpy solver for :func:`~hiddenconvex.convex_program.solve_convex`.
    tol : Tolerances, optional
    vertices : "auto" | bool
        Enumerate the vertices of 𝒫 by brute force over supports ("auto": when K ≤
        ``max_vertex_candidates``).
    m_star_method : "auto" | "enumerate" | "milp"
        How m* is found when 𝒫 is not a single point: "auto" enumerates the supports (among the
        active candidates, smaller than the pruned width) when at most ``max_enumeration`` subsets
        are needed, else a MILP (HiGHS) with the exact big-M ``max_{a∈𝒫} a_k``.
    milp_time_limit : float
        Seconds for the MILP; when reached, m* is the best support found (``m_star_method =
        "milp_time_limit"``, with a warning) — an upper bound, not proven minimal.
    polish : bool
        Refine (ŷ, λ) before computing E (default True; squared and logistic losses).
    max_chambers : int or None
        When ``patterns`` is not a complete list, enumerate all chambers only if Cover's bound for
        rank(X) is at most this (else :class:`InputError`: the optimal set needs every chamber).
    """
    from .certificate import complete_chambers, max_correlation
    from .convex_program import solve_convex

    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    tol = tol or Tolerances()
    if m_star_method not in ("auto", "enumerate", "milp"):
        raise InputError(
            f"m_star_method must be 'auto', 'enumerate' or 'milp', got {m_star_method!r}"
        )
    loss = problem.loss
    if not loss.strictly_convex and not fixed_prediction:
        raise InputError(
            f"the optimal-set polytope needs a strictly convex loss (squared, logistic); with the "
            f"{loss.name} loss the optimal prediction need not be unique (SPEC 4.6), so only the "
            "optimal solutions sharing one fixed prediction can be described "
            "(fixed_prediction=True)"
        )
    X, y, beta = problem.X, problem.y, problem.beta
    warnings: list[str] = []

    chambers, why = complete_chambers(X, patterns, max_chambers=max_chambers)
    if chambers is None:
        raise InputError(f"{why}; the optimal set needs every chamber (raise max_chambers, or use "
                         "lower-rank data)")
    if solution is None:
        solution = solve_convex(problem, patterns if patterns is not None else chambers,
                                solver=solver)
    else:
        _check_problem_match(problem, solution)
    scope = "fixed_prediction" if not loss.strictly_convex else "all"
    status = getattr(solution, "status", "optimal")
    if status != "optimal":
        warnings.append(f"solver status {status}: " + "; ".join(getattr(solution, "warnings", ())))

    # ---- the solver's weights on the blocks of the chamber list (φ∘ψ keeps the fit; the identity
    # when the solver used this very list), and its dual point
    weights = solution.weights
    if not np.array_equal(weights.D, chambers.D):
        weights = phi(psi(weights), X, chambers)
    yhat_solver = np.asarray(solution.yhat, dtype=float)
    lam_solver = np.asarray(solution.dual if scope == "fixed_prediction"
                            else loss.dual_point(yhat_solver, y), dtype=float)
    M_solver = float(max_correlation(X, lam_solver, chambers))
    solution_optimal = M_solver <= beta * (1.0 + tol.certificate)
    sampled = not bool(getattr(getattr(solution, "patterns", None), "complete", True))

    # ---- dual point: polished over ALL chambers when possible, else the solver's
    polished = _polish(problem, weights, chambers, tol) if polish and scope == "all" else None
    if polished is not None:
        yhat_ref, lam, proj_ref = polished
        tol_E = tol.polished
        if sampled and not solution_optimal:
            warnings.append(f"the sampled program is not globally optimal (M(lambda) = "
                            f"{M_solver:.10g} > beta = {beta:.10g}: a needed chamber is missing); "
                            "the optimal set was computed over all chambers")
    else:
        if not solution_optimal:
            msg = (f"the convex solution is not optimal over all chambers: M(lambda) = "
                   f"{M_solver:.10g} > beta = {beta:.10g}")
            if sampled:
                raise InputError(msg + "; the sampled patterns miss a chamber, use method='exact'")
            raise SolverError(msg + " (solver inaccuracy)")
        yhat_ref, lam, tol_E = yhat_solver, lam_solver, tol.equicorrelation
        if polish and scope == "all" and np.any(weights.norms() > 0):
            warnings.append("polishing (Newton on the KKT system) failed; E uses the solver's dual "
                            f"with relative tolerance {tol_E:g}")
    cand = _candidates(X, lam, chambers, beta, tol_E, tol.direction,
                       proj_ref if polished is not None else None)
    corr, E = cand.corr, cand.E
    M = float(corr.max(initial=0.0))
    _, lb = loss.best_dual_scale(lam, y, beta / M if M > 0 else np.inf)
    spread = float(1.0 - corr[E].min() / beta) if E.size else 0.0
    outside = np.setdiff1d(np.arange(corr.size), E)
    margin = float(1.0 - corr[outside].max() / beta) if outside.size else 1.0
    if margin < 100 * tol_E:
        warnings.append(f"equicorrelation set is numerically ambiguous (margin {margin:.3g})")
    gamma, S, groups, Z = cand.gamma, cand.S, cand.groups, cand.Z
    K = gamma.size

    # ---- ŷ*: the reference prediction projected onto cone(Z), so that 𝒫 is exactly non-empty
    if K:
        a0, res0 = nnls(Z, yhat_ref, maxiter=50 * max(K, 10))
        yhat = Z @ a0
    else:
        a0, res0 = np.zeros(0), float(np.linalg.norm(yhat_ref))
        yhat = np.zeros(problem.n)
    res_tol = tol.fit * max(1.0, float(np.linalg.norm(yhat_ref)))
    if res0 > res_tol:
        raise SolverError(f"the optimal prediction is not in the cone of the candidate fits "
                          f"(residual {res0:.3g}); the solver is not accurate enough for the "
                          "tolerances")
    # residual threshold of the support checks (vertices, m*, pruning): ŷ* is exact to ~1e-13
    # when polished, so a support whose cone misses it by more than `tol.support` does not count
    res_tol = ((tol.support if polished is not None else tol.fit)
               * max(1.0, float(np.linalg.norm(yhat))))
    total = float(lam @ yhat / beta)
    pos_tol = tol.active * max(total, 1e-300)
    if K and abs(a0.sum() - total) > 1e-6 * max(1.0, total):
        warnings.append(
            f"sum of coefficients {a0.sum():.10g} != lambda^T yhat / beta = {total:.10g}"
        )
    a_solver = _candidate_coefficients(cand, weights)

    if float(np.linalg.norm(yhat)) <= res_tol:  # beta >= beta_max: 𝒫 = {0}
        yhat, total = np.zeros(problem.n), 0.0
        lp_points, amax = np.zeros((K, K)), np.zeros(K)
        active, unique = np.zeros(0, dtype=int), True
        m_star, a_star, method = 0, np.zeros(K), "zero"
        m_lower = 0
        a_pruned = np.zeros(K)
        verts, checked = (np.zeros((1, K)), 0) if vertices else (None, 0)
    else:
        lp_points = np.array([_lp_max(Z, yhat, k) for k in range(K)])
        amax = np.diag(lp_points).copy()
        active = np.flatnonzero(amax > pos_tol)
        unique = _svd_rank(Z[:, active], tol.rank) == active.size
        # pruning the solver's point (in candidate space) gives a vertex: the upper bound for m*
        mu = _prune_columns(Z * a_solver, a_solver, tol.rank, neutral=np.inf)
        a_pruned = _vertex_on_support(Z, yhat, np.flatnonzero(a_solver * mu > pos_tol), tol.rank)
        upper = int(np.sum(a_pruned > pos_tol))
        if np.linalg.norm(Z @ a_pruned - yhat) > res_tol:  # solver point too far off: use NNLS's
            a_pruned = _vertex_on_support(Z, yhat, np.flatnonzero(a0 * _prune_columns(
                Z * a0, a0, tol.rank, neutral=np.inf) > pos_tol), tol.rank)
            upper = int(np.sum(a_pruned > pos_tol))
        m_star, a_star, method, m_lower = upper, a_pruned, "pruned", 1
        # every point of 𝒫 vanishes off `active`: search supports among the active candidates only
        Za = Z[:, active]
        n_sub = sum(math.comb(active.size, s) for s in range(1, upper))
        if unique:  # 𝒫 is one point, supported exactly on `active`
            m_star, a_star, method = (int(active.size),
                                      _vertex_on_support(Z, yhat, active, tol.rank), "unique")
        elif m_star_method == "enumerate" or (m_star_method == "auto" and n_sub <= max_enumeration):
            found = _m_star_enumerate(Za, yhat, upper, tol, res_tol, pos_tol)
            method = "enumeration"
            if found is not None:
                m_star, a_star = found[0], np.zeros(K)
                a_star[active] = found[1]
        else:
            supp, proven, bound = _m_star_milp(Za, yhat, amax[active], milp_time_limit,
                                                 res_tol / np.sqrt(problem.n))
            supp = active[supp] if supp is not None else None
            sol = _support_solution(Z, yhat, list(supp), tol.rank) if supp is not None else None
            if supp is None:
                m_lower = max(1, math.ceil((bound or 1.0) - 1e-6))
                warnings.append(f"MILP found no solution within its time limit "
                                f"({milp_time_limit:g} s): m_star = {m_star} is the pruned upper "
                                "bound")
            elif sol is not None and sol[1] <= res_tol and np.all(sol[0] >= -pos_tol):
                method = "milp" if proven else "milp_time_limit"
                if supp.size < upper:
                    m_star = int(supp.size)
                    a_star = np.zeros(K)
                    a_star[supp] = np.clip(sol[0], 0.0, None)
                m_lower = m_star if proven else max(1, math.ceil((bound or 1.0) - 1e-6))
                if not proven:
                    warnings.append(f"MILP stopped at its time limit ({milp_time_limit:g} s): "
                                    f"m_star = {m_star} is an upper bound (MILP lower bound "
                                    f"{bound})")
            else:
                warnings.append("MILP support failed the least-squares re-check; m_star is the "
                                "pruned upper bound")
        if vertices is True or (vertices == "auto" and K <= max_vertex_candidates):
            verts, checked = _enumerate_vertices(Z, yhat, tol, res_tol, pos_tol)
            _cross_check(verts, unique, m_star, active, warnings)
        else:
            verts, checked = None, 0

    def weights_of(a):
        W = np.zeros((2 * chambers.p, problem.d))
        for k in np.flatnonzero(a > 0):
            W[groups[k][0]] = a[k] * S[k]
        return BlockWeights(W, chambers.D)

    pruned = weights_of(a_pruned)
    solver_net = psi(weights_of(np.where(a_solver > pos_tol, a_solver, 0.0)))
    minimal_width = int(np.sum(to_minimal(solver_net, X).neuron_norms() > 0))
    canon = float(objective(problem, psi(weights_of(a_star))).total)
    solver_obj = float(objective(problem, solution.weights).total)

    for arr in (yhat, lam, corr, E, gamma, S, Z, amax, active, lp_points, a_star):
        arr.setflags(write=False)
    if verts is not None:
        verts.setflags(write=False)
    return OptimalSet(
        problem=problem, patterns=chambers, solution=solution, scope=scope, tolerances=tol,
        polished=polished is not None, yhat=yhat,
        solver_error=float(np.linalg.norm(yhat_solver - yhat)), dual=lam, correlations=corr,
        equicorrelated=E, equicorrelation_spread=spread, equicorrelation_margin=margin, gamma=gamma,
        directions=S, fits=Z, candidate_blocks=groups, total_mass=total, max_coefficient=amax,
        active=active, lp_points=lp_points, unique=bool(unique), m_star=int(m_star),
        m_star_lower=int(m_star if method in ("zero", "unique", "enumeration") else m_lower),
        m_star_coefficients=a_star, m_star_method=method, pruned_weights=pruned,
        pruned_width=int(np.sum(pruned.norms() > 0)), minimal_width=minimal_width, vertices=verts,
        vertices_checked=int(checked), certified=M <= beta * (1.0 + tol.certificate),
        solution_optimal=bool(solution_optimal), max_correlation=M, lower_bound=float(lb),
        gap=float(canon - lb), objective=canon, solver_objective=solver_obj,
        warnings=tuple(warnings),
    )


def _cross_check(verts, unique, m_star, active, warnings) -> None:
    """Consistency of the vertex list with the LP/rank/MILP answers (recorded as warnings)."""
    if verts.shape[0] == 0:
        warnings.append("vertex enumeration found no vertex")
        return
    if (verts.shape[0] == 1) != unique:
        warnings.append(f"uniqueness test ({unique}) disagrees with the {verts.shape[0]} vertices")
    vmin = int(np.min(np.sum(verts > 0, axis=1)))
    if vmin != m_star:
        warnings.append(f"m_star = {m_star} but the smallest vertex support is {vmin}")
    union = np.flatnonzero(np.any(verts > 0, axis=0))
    if not np.array_equal(union, np.asarray(active)):
        warnings.append("active candidates (LPs) differ from the union of vertex supports")
