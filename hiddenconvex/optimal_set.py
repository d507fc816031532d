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

Layout: :mod:`hiddenconvex._polish` refines (ŷ, λ); :mod:`hiddenconvex._polytope` holds the
candidates and everything on 𝒫 (LPs, supports, vertices, m*, pruning); this module builds the
:class:`OptimalSet` step by step (:func:`optimal_set`). Thresholds: :mod:`hiddenconvex.tolerances`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import tolerances as _tol
from ._polish import _dual_point
from ._polytope import (
    _candidate_coefficients,
    _polytope,
    _prune_columns,
    _reference,
)
from .blocks import BlockWeights
from .errors import InputError, check_matrix
from .maps import phi, psi, random_split
from .minimality import to_minimal
from .network import ReLUNetwork
from .objective import Problem, objective
from .solvers import DEFAULT_SOLVER
from .tolerances import Tolerances

__all__ = ["Tolerances", "Membership", "OptimalSet", "optimal_set", "prune"]

#: Dual feasibility of the polished point (read by tests/tolerances.py under this name).
_POLISH_FEAS = _tol.POLISH_FEASIBILITY


# --------------------------------------------------------------------------------------------------
# Pruning (paper C's "optimal pruning", SPEC §4.7)


def prune(weights: BlockWeights, X, *, tol: float = _tol.PRUNE_RANK) -> BlockWeights:
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
        return _candidate_weights(self._check_coefficients(a), self.candidate_blocks,
                                  self.directions, self.patterns.D)

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
            a[a <= self.tolerances.active * max(self.total_mass, _tol.SET_MASS_FLOOR)] = 0.0
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


def _candidate_weights(a, groups, S, D) -> BlockWeights:
    """Convex weights of coefficients ``a`` (K,): ``w_b = a_k s_k`` on the first block of each
    candidate (``groups``), on the chamber list with patterns ``D`` (n, p)."""
    W = np.zeros((2 * D.shape[1], S.shape[1]))
    for k in np.flatnonzero(a > 0):
        W[groups[k][0]] = a[k] * S[k]
    return BlockWeights(W, D)


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


def _blocks_on_chambers(weights: BlockWeights, X, chambers) -> BlockWeights:
    """The solver's blocks moved onto the blocks of the chamber list (the identity when the solver
    used this very list).

    Block ``b`` goes, unchanged, to the block φ assigns its direction: same output sign, pattern
    ``1(X w_b >= 0)`` if it is listed, else the first chamber whose closed cone contains ``w_b``;
    blocks meeting in one chamber add up (the fit is kept). φ of the network with neurons
    ``(w_b, γ_b)`` is exactly that map (``|α| u = w_b``); φ∘ψ gave the same blocks through
    ``(w_b/√‖w_b‖) · √‖w_b‖``, i.e. up to rounding, with two square roots per block.
    """
    if np.array_equal(weights.D, chambers.D):
        return weights
    act = np.flatnonzero(weights.norms() > 0)
    return phi(ReLUNetwork(weights.W[act], weights.gamma[act]), X, chambers)


def _check_arguments(problem, m_star_method: str, fixed_prediction: bool) -> None:
    """:class:`InputError` for a non-Problem, an unknown ``m_star_method``, or a loss that is not
    strictly convex without ``fixed_prediction``."""
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
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


def _chambers_and_solution(problem: Problem, patterns, solution, solver: str, max_chambers,
                           warnings: list):
    """A complete chamber list (``patterns`` if complete, else enumerated within
    ``max_chambers``; :class:`InputError` when unaffordable) and the convex solution (``solution``,
    checked to belong to ``problem``, else solved on ``patterns`` or the chambers); a solver status
    other than "optimal" is recorded in ``warnings``."""
    from .certificate import complete_chambers  # deferred: needs the solver stack
    from .convex_program import solve_convex

    chambers, why = complete_chambers(problem.X, patterns, max_chambers=max_chambers)
    if chambers is None:
        raise InputError(f"{why}; the optimal set needs every chamber (raise max_chambers, or use "
                         "lower-rank data)")
    if solution is None:
        solution = solve_convex(problem, patterns if patterns is not None else chambers,
                                solver=solver)
    else:
        _check_problem_match(problem, solution)
    status = getattr(solution, "status", "optimal")
    if status != "optimal":
        warnings.append(f"solver status {status}: " + "; ".join(getattr(solution, "warnings", ())))
    return chambers, solution


def optimal_set(problem: Problem, patterns=None, *, solution=None, solver: str = DEFAULT_SOLVER,
                tol: Tolerances | None = None, vertices: bool | str = "auto",
                max_vertex_candidates: int = 14, m_star_method: str = "auto",
                max_enumeration: int = 20000, fixed_prediction: bool = False,
                polish: bool = True, max_chambers: int | None = 20000,
                milp_time_limit: float = 60.0) -> OptimalSet:
    r"""Build the :class:`OptimalSet` of ``problem`` (SPEC §4.6–§4.7).

    Steps: solve (CVX) (or reuse ``solution``) and move its blocks onto the chamber list
    (:func:`_blocks_on_chambers`); the dual point (:func:`~hiddenconvex._polish._dual_point`):
    (ŷ, λ) polished by an active-set Newton method on the KKT system and checked over ALL chambers
    (without polishing E comes from the solver's dual with the looser ``tol.equicorrelation``), E
    and the candidates K; ŷ* on cone(Z) (:func:`~hiddenconvex._polytope._reference`); on 𝒫
    (:func:`~hiddenconvex._polytope._polytope`): one LP per candidate (``active``), uniqueness, m*
    by support enumeration or MILP with pruning of the solver's point as the upper bound, vertices
    by brute force when K is small; then the networks and the certificate.

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
    _check_arguments(problem, m_star_method, fixed_prediction)
    tol = tol or Tolerances()
    loss, X, beta = problem.loss, problem.X, problem.beta
    scope = "fixed_prediction" if not loss.strictly_convex else "all"
    warnings: list[str] = []
    chambers, solution = _chambers_and_solution(problem, patterns, solution, solver, max_chambers,
                                                warnings)

    # the dual point, E and the candidates; the certificate of the (polished) dual point
    weights = _blocks_on_chambers(solution.weights, X, chambers)
    dual = _dual_point(problem, solution, weights, chambers, tol, scope, polish, warnings)
    cand, lam = dual.candidates, dual.dual
    corr, E = cand.corr, cand.E
    M = float(corr.max(initial=0.0))
    _, lb = loss.best_dual_scale(lam, problem.y, beta / M if M > 0 else np.inf)
    spread = float(1.0 - corr[E].min() / beta) if E.size else 0.0
    outside = np.setdiff1d(np.arange(corr.size), E)
    margin = float(1.0 - corr[outside].max() / beta) if outside.size else 1.0
    if margin < _tol.SET_MARGIN_FACTOR * dual.tol_E:
        warnings.append(f"equicorrelation set is numerically ambiguous (margin {margin:.3g})")

    # ŷ* and the polytope 𝒫 = {a >= 0 : Z a = ŷ*}
    Z = cand.Z
    ref = _reference(Z, dual.yhat, lam, beta, dual.polished, tol, warnings)
    a_solver = _candidate_coefficients(cand, weights)
    poly = _polytope(Z, ref.yhat, a_solver, ref.nnls, tol.rank, ref.res_tol, ref.pos_tol,
                     zero=ref.zero, vertices=vertices, max_vertex_candidates=max_vertex_candidates,
                     m_star_method=m_star_method, max_enumeration=max_enumeration,
                     milp_time_limit=milp_time_limit, warnings=warnings)
    ms = poly.m_star

    # networks: the pruned solver point, the solver's own width, the objective of the m*-point
    def weights_of(a):
        return _candidate_weights(a, cand.groups, cand.S, chambers.D)

    pruned = weights_of(poly.pruned)
    solver_net = psi(weights_of(np.where(a_solver > ref.pos_tol, a_solver, 0.0)))
    minimal_width = int(np.sum(to_minimal(solver_net, X).neuron_norms() > 0))
    canon = float(objective(problem, psi(weights_of(ms.coefficients))).total)

    frozen = [ref.yhat, lam, corr, E, cand.gamma, cand.S, Z, poly.max_coefficient, poly.active,
              poly.lp_points, ms.coefficients]
    for arr in frozen + ([] if poly.vertices is None else [poly.vertices]):
        arr.setflags(write=False)
    return OptimalSet(
        problem=problem, patterns=chambers, solution=solution, scope=scope, tolerances=tol,
        polished=dual.polished, yhat=ref.yhat,
        solver_error=float(np.linalg.norm(np.asarray(solution.yhat, dtype=float) - ref.yhat)),
        dual=lam, correlations=corr, equicorrelated=E, equicorrelation_spread=spread,
        equicorrelation_margin=margin, gamma=cand.gamma, directions=cand.S, fits=Z,
        candidate_blocks=cand.groups, total_mass=ref.total, max_coefficient=poly.max_coefficient,
        active=poly.active, lp_points=poly.lp_points, unique=poly.unique, m_star=ms.m_star,
        m_star_lower=ms.lower, m_star_coefficients=ms.coefficients, m_star_method=ms.method,
        pruned_weights=pruned, pruned_width=int(np.sum(pruned.norms() > 0)),
        minimal_width=minimal_width, vertices=poly.vertices,
        vertices_checked=poly.vertices_checked, certified=M <= beta * (1.0 + tol.certificate),
        solution_optimal=bool(dual.solution_optimal), max_correlation=M, lower_bound=float(lb),
        gap=float(canon - lb), objective=canon,
        solver_objective=float(objective(problem, solution.weights).total),
        warnings=tuple(warnings),
    )
