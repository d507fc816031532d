r"""The certified convex reference a trained network is compared with (SPEC §2.1, §2.4, §4.6).

:func:`convex_reference` solves the convex program on a pattern list
(:func:`hiddenconvex.api.solve`) and :func:`reference_of` turns a result into a
:class:`ConvexReference`: the convex optimum P_c (the polished optimum of the optimal set when
there is one), the weak-duality lower bound on P_c from the certificate over ALL chambers,
:math:`L_\beta(\psi(W^*))` and the exact optimal set Θ*_m. Used by
:mod:`hiddenconvex.verification`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .objective import Problem, objective
from .patterns import Patterns
from .solvers import DEFAULT_SOLVER

__all__ = ["ConvexReference", "convex_reference", "reference_of"]


# --------------------------------------------------------------------------------------------------
# The convex side


@dataclass(frozen=True)
class ConvexReference:
    """The convex optimum a trained network is compared with.

    Attributes
    ----------
    problem : Problem
    patterns : Patterns
        The pattern list the program was solved on.
    chambers : Patterns or None
        The complete chamber list (None when enumerating it is unaffordable).
    solution : ConvexSolution
    convex_objective : float
        P_c: with an optimal set, its polished optimum (``optimal_set.objective``, L_β of an exact
        optimal network, certified to ~1e-15); else ``objective(problem, solution.weights).total``
        (P_c to the certificate's gap, or P_𝒮 for a sampled list).
    solver_objective : float
        ``objective(problem, solution.weights).total`` (solver accuracy).
    certified : bool
        The solution's certificate holds over all chambers (then ``convex_objective`` = P_c to the
        certificate's gap).
    lower_bound : float or None
        Weak-duality lower bound on P_c (None when the chambers are unavailable): the larger of the
        solution's and the optimal set's (polished dual point).
    psi_objective : float
        :math:`L_\\beta(\\psi(W^*))` of the solver's weights (= ``solver_objective``, SPEC §4.2).
    optimal_set : OptimalSet or None
        The exact optimal set; None for the hinge loss or an uncertified solution
        (``optimal_set_note`` says why).
    seconds : dict
        ``convex_seconds`` (wall time of the solve with its certificate and the chamber
        enumeration it needs), ``optimal_set_seconds``.
    """

    problem: Problem
    patterns: Patterns
    chambers: Patterns | None
    solution: object
    convex_objective: float
    solver_objective: float
    certified: bool
    lower_bound: float | None
    psi_objective: float
    optimal_set: object | None
    optimal_set_note: str
    seconds: dict
    warnings: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """The program was solved on every chamber."""
        return bool(self.patterns.complete)

    def to_record(self) -> dict:
        sol, cert, oset = self.solution, self.solution.certificate, self.optimal_set
        rec = {
            "n": self.problem.n,
            "d": self.problem.d,
            "beta": self.problem.beta,
            "loss": self.problem.loss.name,
            "rank": self.patterns.rank,
            "n_patterns": self.patterns.p,
            "patterns_complete": self.complete,
            "pattern_method": self.patterns.method,
            "n_chambers": None if self.chambers is None else self.chambers.p,
            "convex_objective": self.convex_objective,
            "solver_objective": self.solver_objective,
            "solver_objective_error": float(sol.solver_objective - self.convex_objective),
            "solver_status": sol.status,
            "solve_seconds": float(sol.solve_seconds),
            "solver": sol.solver,
            "solver_version": sol.solver_version,
            "certified": self.certified,
            "max_correlation": None if cert is None else cert.M,
            "lower_bound": self.lower_bound,
            "certificate_gap": None if self.lower_bound is None
            else self.convex_objective - self.lower_bound,
            "psi_objective": self.psi_objective,
            "psi_gap": self.psi_objective - self.solver_objective,
            "optimal_set": oset is not None,
            "optimal_set_note": self.optimal_set_note,
        }
        if oset is not None:
            rec.update(m_star=int(oset.m_star), unique=bool(oset.unique),
                       n_candidates=int(oset.num_candidates), pruned_width=int(oset.pruned_width),
                       minimal_width=int(oset.minimal_width),
                       minimal_objective=objective(self.problem, oset.minimal_network()).total)
        else:
            rec.update(m_star=None, unique=None, n_candidates=None, pruned_width=None,
                       minimal_width=None, minimal_objective=None)
        rec.update(self.seconds)
        return rec


def convex_reference(problem: Problem, patterns: Patterns, *, solver: str = DEFAULT_SOLVER,
                     solver_tol: float | None = None, build_optimal_set: bool = True,
                     chambers: Patterns | None = None,
                     strategy: str = "auto") -> ConvexReference:
    """Solve the convex program on ``patterns``, certify it and (if possible) build the optimal set:
    :func:`hiddenconvex.api.solve` followed by :func:`reference_of`.

    Parameters
    ----------
    problem : Problem
    patterns : Patterns
        Exact chambers (P_c) or a sampled list (P_𝒮 ≥ P_c).
    solver : str
        cvxpy solver name (:mod:`hiddenconvex.solvers`).
    solver_tol : float, optional
        Solver tolerance (default: the solver's, :func:`~hiddenconvex.solvers.solver_options`).
    build_optimal_set : bool
        Build :func:`~hiddenconvex.optimal_set.optimal_set` (strictly convex losses, certified
        solutions only; otherwise the reason is recorded in ``optimal_set_note``).
    strategy : {"auto", "full", "working-set"}
        How the convex program is solved (:data:`hiddenconvex.api.STRATEGIES`).
    chambers : Patterns, optional
        A complete chamber list (avoids enumerating it again for a sampled ``patterns``).

    Returns
    -------
    ConvexReference

    Raises
    ------
    InputError, SolverError
        Bad solver name or options; solver failure.
    """
    from .api import solve

    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    if not isinstance(patterns, Patterns):
        raise InputError(f"expected a Patterns object, got {type(patterns).__name__}")
    result = solve(problem, patterns=patterns, solver=solver, tol=solver_tol, chambers=chambers,
                   strategy=strategy)
    return reference_of(result, build_optimal_set=build_optimal_set)


def reference_of(result, *, build_optimal_set: bool = True) -> ConvexReference:
    """The :class:`ConvexReference` of a :class:`hiddenconvex.api.Result`: its certified optimum,
    ψ of its weights and (if possible and requested) its optimal set, whose polished optimum and
    dual bound replace the solver's."""
    from .maps import psi

    problem, sol = result.problem, result.solution
    warnings = list(result.warnings)
    certified = result.certified
    lower = None if result.lower_bound is None else float(result.lower_bound)
    p_c = float(result.objective)
    psi_obj = float(objective(problem, psi(sol.weights)).total)
    oset, note = None, ""
    if not build_optimal_set:
        note = "not requested"
    elif result.optimal_set_available:
        note = result.optimal_set_available
    elif not certified:
        note = "the convex solution is not certified over all chambers"
    else:
        oset, note = result.try_optimal_set()
    if note and build_optimal_set:
        warnings.append(note)
    solver_obj = p_c
    if oset is not None:  # the polished optimum and its (tighter) dual bound
        p_c = float(oset.objective)
        lower = (max(lower, float(oset.lower_bound)) if lower is not None
                 else float(oset.lower_bound))
    return ConvexReference(
        problem=problem, patterns=result.patterns, chambers=result.chambers, solution=sol,
        convex_objective=p_c, solver_objective=solver_obj, certified=certified, lower_bound=lower,
        psi_objective=psi_obj, optimal_set=oset, optimal_set_note=note,
        seconds={"convex_seconds": result.seconds["convex_seconds"],
                 "optimal_set_seconds": result.seconds.get("optimal_set_seconds", 0.0)},
        warnings=tuple(warnings),
    )
