r"""Registry of the conic solvers used for the convex program (SPEC §2.1), reached through cvxpy.

Three solvers are supported, selected by name:

* ``clarabel`` (default) — interior point; default tolerance 1e-10 here (its own default is 1e-8).
  Near the optimum the objective is quadratic in the prediction error, so predictions are only
  accurate to about the square root of the duality gap: at 1e-8, logistic predictions are off by
  up to ~1e-4, too much for downstream checks of λ = −∇ℓ(ŷ) at relative tolerance 1e-6. When a
  solve at this default fails or is inaccurate it is retried once at 1e-8 (reported),
* ``ecos`` — interior point; default tolerance 1e-8 (its own default; tighter values often end
  in ``optimal_inaccurate``), retried at 1e-6 like Clarabel. Its exponential cone (logistic
  loss) fails outright on all but tiny programs,
* ``scs`` — first-order (ADMM) splitting; default tolerance 1e-6 here (SCS's own default, 1e-4, is
  too loose to agree with the interior-point solvers to more than three or four digits).

A uniform tolerance ``tol`` is mapped to each solver's own options
(Clarabel ``tol_gap_abs/tol_gap_rel/tol_feas``, ECOS ``abstol/reltol/feastol``, SCS
``eps_abs/eps_rel``) and a uniform ``max_iters`` to ``max_iter`` (Clarabel) or ``max_iters``
(ECOS, SCS). An unknown name raises :class:`~hiddenconvex.errors.InputError` listing the choices;
a known but uninstalled solver raises :class:`~hiddenconvex.errors.SolverError` saying how to
install it.
"""

from __future__ import annotations

import time
import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import NamedTuple

import numpy as np

from .errors import InputError, SolverError, check_int, check_positive

__all__ = [
    "SolverInfo",
    "SOLVERS",
    "DEFAULT_SOLVER",
    "get_solver",
    "is_installed",
    "installed_solvers",
    "solver_version",
    "solver_options",
    "Attempt",
    "run_solver",
    "solve_with_retry",
]


@dataclass(frozen=True)
class SolverInfo:
    """One supported solver.

    Attributes
    ----------
    name : str
        Name used in this package (``clarabel``, ``ecos``, ``scs``).
    cvxpy_name : str
        The cvxpy solver constant (``cp.CLARABEL`` …).
    package : str
        Distribution name on PyPI (for the version and the install hint).
    kind : str
        ``"interior-point"`` or ``"first-order"``.
    default_tol : float
        Tolerance used when ``tol=None``.
    tol_keys : tuple of str
        The solver's own option names that receive ``tol``.
    max_iters_key : str
        The solver's own option name for the iteration limit.
    warm_start : bool
        Whether cvxpy passes a warm start (SCS) or a data update of a cached solver (Clarabel) on
        repeated solves of the same compiled problem.
    fallback_tol : float or None
        Looser tolerance for one retry when a solve at the DEFAULT tolerance fails or ends
        ``optimal_inaccurate`` (None: no retry). An explicit tolerance is never relaxed.
    accuracy : callable or None
        ``accuracy(cvxpy_problem) -> dict or None``: the accuracy the solver reports for its last
        solve (:attr:`hiddenconvex.convex_program.ConvexSolution.solver_accuracy`).
    loss_options : tuple of (loss name, dict) pairs
        Solver options needed for a loss (the user's ``options`` override them).
    loss_hints : tuple of (loss name, str) pairs
        What to tell a user whose solve with this loss failed.
    default_max_iters : int or None
        Iteration limit passed when the user gives none (None: the solver's own default).
    """

    name: str
    cvxpy_name: str
    package: str
    kind: str
    default_tol: float
    tol_keys: tuple[str, ...]
    max_iters_key: str
    warm_start: bool
    fallback_tol: float | None = None
    accuracy: Callable | None = None
    loss_options: tuple = ()
    loss_hints: tuple = ()
    default_max_iters: int | None = None

    @property
    def install_hint(self) -> str:
        return f"pip install {self.package}"

    def options(self, tol: float | None = None, max_iters: int | None = None) -> dict:
        """The solver's own keyword options for a uniform ``tol`` and ``max_iters``."""
        return solver_options(self.name, tol=tol, max_iters=max_iters)

    def options_for(self, loss: str) -> dict:
        """The options this solver needs for ``loss`` (``loss_options``)."""
        return dict(dict(self.loss_options).get(loss, {}))

    def failure_hint(self, loss: str) -> str:
        """The advice appended to a failure message with ``loss``."""
        return dict(self.loss_hints).get(
            loss, f"; try another solver ({', '.join(SOLVERS)}) or another tolerance (--tol)")


def _scs_accuracy(problem) -> dict | None:
    """SCS: cvxpy's ``solver_stats.extra_stats`` (its result dict): residuals, gap, norms."""
    extra = problem.solver_stats.extra_stats
    i = extra["info"]
    return {"primal_objective": float(i["pobj"]), "dual_objective": float(i["dobj"]),
            "gap": float(i["gap"]), "primal_residual": float(i["res_pri"]),
            "dual_residual": float(i["res_dual"]),
            "primal_norm": float(np.abs(extra["x"]).sum()),
            "dual_norm": float(np.abs(extra["y"]).sum())}


def _ecos_accuracy(problem) -> dict | None:
    """ECOS: cvxpy's ``solver_stats.extra_stats["info"]``."""
    i = problem.solver_stats.extra_stats["info"]
    return {"primal_objective": float(i["pcost"]), "dual_objective": float(i["dcost"]),
            "gap": float(i["gap"]), "relative_gap": float(i["relgap"]),
            "primal_residual": float(i["pres"]), "dual_residual": float(i["dres"])}


def _clarabel_accuracy(problem) -> dict | None:
    """Clarabel: ``get_info()`` of the solver object cvxpy keeps in the problem's solver cache."""
    i = problem._solver_cache["CLARABEL"].get_info()
    return {"primal_objective": float(i.cost_primal), "dual_objective": float(i.cost_dual),
            "gap": float(i.gap_abs), "relative_gap": float(i.gap_rel),
            "primal_residual": float(i.res_primal), "dual_residual": float(i.res_dual)}


SOLVERS: dict[str, SolverInfo] = {
    "clarabel": SolverInfo(
        "clarabel", "CLARABEL", "clarabel", "interior-point", 1e-10,
        ("tol_gap_abs", "tol_gap_rel", "tol_feas"), "max_iter", True, 1e-8, _clarabel_accuracy,
        # Clarabel's exponential-cone steps stall (InsufficientProgress) on logistic programs with
        # its default max step 0.99 (e.g. data/spirals.csv --bias, beta = 0.1); 0.9 solves them
        loss_options=(("logistic", {"max_step_fraction": 0.9}),)),
    "ecos": SolverInfo(
        "ecos", "ECOS", "ecos", "interior-point", 1e-8, ("abstol", "reltol", "feastol"),
        "max_iters", False, 1e-6, _ecos_accuracy,
        loss_hints=(("logistic", "; ECOS's exponential-cone method fails on logistic programs "
                     "beyond tiny sizes (scripts/bench_solvers.py): use clarabel (default) or "
                     "scs"),)),
    # SCS's default limit (100000) is kept explicit so that a tightened eps can be reached
    "scs": SolverInfo("scs", "SCS", "scs", "first-order", 1e-6, ("eps_abs", "eps_rel"),
                      "max_iters", True, None, _scs_accuracy, default_max_iters=100_000),
}

DEFAULT_SOLVER = "clarabel"


def _lookup(name) -> SolverInfo:
    key = str(name).strip().lower()
    try:
        return SOLVERS[key]
    except KeyError:
        raise InputError(
            f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}"
        ) from None


def is_installed(name: str) -> bool:
    """True when cvxpy can call the solver ``name`` (unknown names raise :class:`InputError`)."""
    info = _lookup(name)
    import cvxpy as cp

    return info.cvxpy_name in cp.installed_solvers()


def installed_solvers() -> list[str]:
    """Names (in registry order) of the supported solvers that are installed."""
    return [name for name in SOLVERS if is_installed(name)]


def get_solver(name: str) -> SolverInfo:
    """The :class:`SolverInfo` of ``name``.

    Raises :class:`InputError` for an unknown name and :class:`SolverError` (with the install
    command) for a solver that is not installed.
    """
    info = _lookup(name)
    if not is_installed(info.name):
        raise SolverError(
            f"solver {info.name!r} is not installed; install it with `{info.install_hint}`"
            f" (installed: {', '.join(installed_solvers()) or 'none'})"
        )
    return info


def solver_version(name: str) -> str:
    """Installed version of the solver's Python package (``"unknown"`` if it cannot be read)."""
    info = _lookup(name)
    try:
        return metadata.version(info.package)
    except metadata.PackageNotFoundError:
        return "unknown"


def solver_options(name: str, tol: float | None = None, max_iters: int | None = None) -> dict:
    """Map a uniform tolerance and iteration limit to the solver's own options.

    Parameters
    ----------
    name : str
        ``clarabel``, ``ecos`` or ``scs``.
    tol : float, optional
        Absolute and relative optimality/feasibility tolerance (``None``: the registry default).
    max_iters : int, optional
        Iteration limit (``None``: the solver's default).

    Returns
    -------
    dict
        Keyword options for ``cvxpy.Problem.solve``.
    """
    info = _lookup(name)
    if tol is None:
        tol = info.default_tol
    tol = check_positive(tol, "solver tolerance")
    opts: dict = {key: tol for key in info.tol_keys}
    if max_iters is not None:
        opts[info.max_iters_key] = check_int(max_iters, "max_iters", 1, what="a positive integer")
    elif info.default_max_iters is not None:
        opts[info.max_iters_key] = info.default_max_iters
    return opts


# --------------------------------------------------------------------------------------------------
# Running a compiled cvxpy problem: status, timings, reported accuracy, one retry

#: Statuses accepted as a solution (anything else is a SolverError).
OK_STATUSES = ("optimal", "optimal_inaccurate")


class Attempt(NamedTuple):
    """One solver run."""

    status: str
    value: float
    compile_seconds: float
    solve_seconds: float
    iterations: int | None
    notes: tuple[str, ...]
    accuracy: dict[str, float] | None = None  # ConvexSolution.solver_accuracy


def _accuracy(info: SolverInfo, problem) -> dict[str, float] | None:
    if info.accuracy is None:
        return None
    try:
        return info.accuracy(problem)
    except (AttributeError, KeyError, TypeError, ValueError):  # another solver version's layout
        return None


def run_solver(problem, info: SolverInfo, opts: dict, *, warm_start: bool = False,
               verbose: bool = False, context: str = "", hint: str = "") -> Attempt:
    """Solve the compiled cvxpy ``problem`` once with ``info``'s solver and options ``opts``.

    Returns an :class:`Attempt` (cvxpy's own warnings become its ``notes``). Raises
    :class:`SolverError` for a solver failure, a status outside :data:`OK_STATUSES` or no
    solution (``context`` and ``hint`` are added to the message), :class:`InputError` for an
    unknown solver option.
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    where = f" ({context})" if context else ""
    try:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            problem.solve(solver=info.cvxpy_name, warm_start=warm_start, verbose=verbose, **opts)
    except cp.error.SolverError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SolverError(f"solver {info.name} failed{where}: {msg}{hint}") from None
    except TypeError as exc:  # cvxpy's message for an unknown or mistyped solver option
        raise InputError(f"solver {info.name}: {exc}") from None
    except (ValueError, ArithmeticError) as exc:
        raise SolverError(f"solver {info.name} failed{where}: {type(exc).__name__}: "
                          f"{exc}") from None
    wall = time.perf_counter() - t0
    notes = []
    for w in caught:  # cvxpy's own warnings (e.g. "Solution may be inaccurate") are kept
        text = f"cvxpy: {str(w.message).strip().splitlines()[0]}"
        if text not in notes:
            notes.append(text)
    status = str(problem.status)
    if status not in OK_STATUSES:
        raise SolverError(f"solver {info.name} returned status {status!r}{where}{hint}")
    if problem.value is None or any(v.value is None for v in problem.variables()):
        raise SolverError(f"solver {info.name} returned status {status!r} but no solution")
    stats = problem.solver_stats
    comp = float(getattr(problem, "compilation_time", None) or 0.0)
    solve_s = stats.solve_time if stats is not None and stats.solve_time is not None else None
    solve_s = float(solve_s) if solve_s is not None else max(0.0, wall - comp)
    iters = stats.num_iters if stats is not None else None
    iters = int(iters) if iters is not None else None
    return Attempt(status, float(problem.value), comp, solve_s, iters, tuple(notes),
                   _accuracy(info, problem))


def _snapshot(problem):
    return ([v.value.copy() for v in problem.variables()],
            [c.dual_value for c in problem.constraints])


def _restore(problem, snap) -> None:
    for v, val in zip(problem.variables(), snap[0], strict=True):
        v.value = val
    for c, dual in zip(problem.constraints, snap[1], strict=True):
        c.save_dual_value(dual)


def solve_with_retry(problem, info: SolverInfo, opts: dict, *, tol: float,
                     fallback: float | None, max_iters: int | None = None,
                     warm_start: bool = False, verbose: bool = False, context: str = "",
                     hint: str = "", warnings: list[str]) -> tuple[Attempt, float]:
    """Run the solver; with a ``fallback`` tolerance, retry once unless cleanly ``optimal``.

    Returns the attempt kept (the problem's variables and duals hold its solution) and its
    tolerance; everything short of a clean first solve is appended to ``warnings`` (a failed or
    inaccurate first solve, the retry, an ``optimal_inaccurate`` result).
    """
    def accept(att: Attempt, used: float):
        warnings.extend(att.notes)
        if att.status == "optimal_inaccurate":
            warnings.append(f"solver {info.name} returned status optimal_inaccurate at tol "
                            f"{used:g} (less accurate than requested; see the certificate)")
        return att, used

    run = dict(warm_start=warm_start, verbose=verbose, context=context, hint=hint)
    try:
        first = run_solver(problem, info, opts, **run)
    except SolverError as exc:
        if fallback is None:
            raise
        first, why = None, str(exc)
    else:
        if first.status == "optimal" or fallback is None:
            return accept(first, tol)
        why = f"status optimal_inaccurate at tol {tol:g}"
        snap = _snapshot(problem)
    opts2 = {**opts, **solver_options(info.name, tol=fallback, max_iters=max_iters)}
    try:
        second = run_solver(problem, info, opts2, **run)
    except SolverError:
        if first is None:
            raise SolverError(f"{why}; the retry at tol {fallback:g} failed too") from None
        second = None
    if second is not None and (second.status == "optimal" or first is None):
        warnings.append(f"solver {info.name}: {why}; re-solved at tol {fallback:g}")
        if first is not None:  # timings cover both runs
            second = second._replace(
                compile_seconds=second.compile_seconds + first.compile_seconds,
                solve_seconds=second.solve_seconds + first.solve_seconds)
        return accept(second, fallback)
    _restore(problem, snap)  # the retry did no better than the inaccurate first solve
    warnings.append(f"solver {info.name}: a retry at tol {fallback:g} did not do better")
    return accept(first, tol)
