r"""The result of one solve of the convex program (SPEC §2.1): :class:`ConvexSolution`.

An immutable record: the blocks W, the prediction ŷ and dual point λ, the objective (by
:func:`hiddenconvex.objective.objective`), the solver's status, timings and reported accuracy,
and the certificate (:mod:`hiddenconvex.certificate`); :meth:`ConvexSolution.to_record` is the flat
row of tables and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import BlockWeights
from .certificate import Certificate
from .objective import ObjectiveValue, Problem
from .patterns import Patterns

__all__ = ["ConvexSolution", "ACTIVE_BLOCK_TOL"]

#: A block is active when its norm exceeds this fraction of the largest block's norm.
ACTIVE_BLOCK_TOL = 1e-6

# keys of ConvexSolution.solver_accuracy (the columns ``solver_<key>`` of its record)
_ACCURACY_KEYS = ("primal_objective", "dual_objective", "gap", "relative_gap", "primal_residual",
                  "dual_residual", "primal_norm", "dual_norm")


@dataclass(frozen=True)
class ConvexSolution:
    r"""Result of one solve of the convex program.

    Attributes
    ----------
    problem : Problem
        The problem solved (with its β).
    patterns : Patterns
        The pattern list of the program (p patterns, 2p blocks).
    weights : BlockWeights
        Optimal blocks W, shape (2p, d).
    yhat : array, shape (n,)
        Prediction of ``weights`` (NumPy).
    dual : array, shape (n,)
        λ = −∇ℓ(ŷ) (hinge: the solver's dual, λ ∈ −∂ℓ(ŷ)).
    objective : ObjectiveValue
        ``objective(problem, weights)`` — the package's NumPy objective.
    solver_objective : float
        cvxpy's optimal value.
    status : str
        ``optimal`` or ``optimal_inaccurate`` (anything else raises :class:`SolverError`).
    solver, solver_version : str
    compile_seconds : float
        cvxpy's compilation time (small on re-solves of a compiled program).
    solve_seconds : float
        Time reported by the solver (all attempts, see ``warnings``).
    iterations : int or None
        Solver iterations (of the attempt returned).
    warnings : tuple of str
        Everything short of a clean ``optimal`` solve: inaccurate status, a retry at a looser
        tolerance, cone violations, cvxpy warnings.
    certificate : Certificate or None
        Global-optimality certificate (:func:`hiddenconvex.certificate.certify`).
    tol : float
        Solver tolerance of the returned solution.
    rank : int
        Dimension of the space solved in (r = rank X when reduced, else d).
    dual_source : str
        Where ``dual`` comes from: ``"gradient"`` or ``"solver"``.
    solver_dual : array, shape (n,), or None
        The solver's multiplier of the prediction constraint (projected onto the loss's dual
        domain). It is dual feasible to the solver's tolerance and is tried by the certificate
        when ``dual`` (whose error is that of ŷ, about sqrt(solver gap)) does not certify.
    cone_violation : float
        max over blocks and rows of −((2D_i − I) X w_i)_j, clipped at 0, relative to
        max(1, max_i ‖X w_i‖_∞) (the solver's feasibility error).
    build_seconds : float
        Time to build the model (facets and cvxpy expressions), paid once per program.
    solver_accuracy : dict of str to float, or None
        The accuracy the solver reports for the returned point, in the conic form cvxpy handed to
        it (None when no solver ran — a trivial program, β ≥ β_max — or it reported nothing). The
        form is that of the program actually solved (X rescaled by a power of two, SPEC §2.1 is
        homogeneous: objective values, and residuals times multipliers, are unchanged). Keys,
        each present only when the solver reports it:

        * ``primal_objective``, ``dual_objective``: its primal and dual costs (without cvxpy's
          constant offset, so they may differ from ``solver_objective`` by a constant);
        * ``gap``: absolute duality gap (SCS ``|pobj - dobj|``, Clarabel ``gap_abs``,
          ECOS ``s^T z``); ``relative_gap``: Clarabel ``gap_rel``, ECOS ``relgap``;
        * ``primal_residual``, ``dual_residual``: SCS: the absolute residuals
          ``||Ax + s - b||_inf`` and ``||Px + A^T y + c||_inf`` of its iterate; Clarabel
          (``res_primal``, ``res_dual``) and ECOS (``pres``, ``dres``): the solvers' normalized
          residuals;
        * ``primal_norm``, ``dual_norm`` (SCS): ``||x||_1`` and ``||y||_1`` of its primal and dual
          iterates. With them, ``gap + dual_residual * ||x*||_1 + primal_residual * ||y*||_1``
          bounds ``|solver_objective - P_c|`` to first order in the residuals (x*, y*: a
          primal-dual optimum; the objective is evaluated at the iterate), the accuracy a
          first-order solve actually reached (SCS's status only says whether its own stopping
          test passed).
    """

    problem: Problem
    patterns: Patterns
    weights: BlockWeights
    yhat: np.ndarray
    dual: np.ndarray
    objective: ObjectiveValue
    solver_objective: float
    status: str
    solver: str
    solver_version: str
    compile_seconds: float
    solve_seconds: float
    iterations: int | None
    warnings: tuple[str, ...] = ()
    certificate: Certificate | None = None
    tol: float | None = None
    rank: int | None = None
    dual_source: str = "gradient"
    solver_dual: np.ndarray | None = None
    cone_violation: float = 0.0
    build_seconds: float = 0.0
    solver_accuracy: dict[str, float] | None = None

    @property
    def beta(self) -> float:
        return self.problem.beta

    def active_blocks(self, tol: float = ACTIVE_BLOCK_TOL) -> np.ndarray:
        """Blocks with ‖w_i‖ > tol · max_i ‖w_i‖ (relative to the largest block: scale-free;
        an interior-point solver leaves the inactive blocks at ~1e-12 of it, not at 0)."""
        norms = self.weights.norms()
        return np.flatnonzero(norms > tol * float(norms.max(initial=0.0)))

    def to_record(self) -> dict:
        """Flat dict (scalars and lists of strings only) for tables and JSON."""
        obj = self.objective
        rec = {
            "objective": obj.total,
            "loss": self.problem.loss.name,
            "loss_value": obj.loss,
            "regularization": obj.regularization,
            "solver_objective": self.solver_objective,
            "beta": self.problem.beta,
            "n": self.problem.n,
            "d": self.problem.d,
            "rank": self.rank,
            "num_patterns": self.patterns.p,
            "patterns_complete": bool(self.patterns.complete),
            "pattern_method": self.patterns.method,
            "pattern_seed": self.patterns.seed,
            "pattern_samples": self.patterns.n_samples,
            "active_blocks": int(self.active_blocks().size),
            "status": self.status,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "tol": self.tol,
            "build_seconds": self.build_seconds,
            "compile_seconds": self.compile_seconds,
            "solve_seconds": self.solve_seconds,
            "iterations": self.iterations,
            "cone_violation": self.cone_violation,
            "dual_source": self.dual_source,
            "warnings": list(self.warnings),
        }
        cert = self.certificate
        rec.update({
            "certified": None if cert is None else cert.certified,
            "max_correlation": None if cert is None else cert.M,
            "lower_bound": None if cert is None else cert.lower_bound,
            "gap": None if cert is None else cert.gap,
            "num_chambers": None if cert is None else cert.num_chambers,
            "certificate_reasons": [] if cert is None else list(cert.reasons),
        })
        acc = self.solver_accuracy or {}  # one column per key, None where not reported
        rec.update({f"solver_{key}": acc.get(key) for key in _ACCURACY_KEYS})
        return rec
