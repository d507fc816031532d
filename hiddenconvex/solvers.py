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

import math
from dataclasses import dataclass
from importlib import metadata

from .errors import InputError, SolverError

__all__ = [
    "SolverInfo",
    "SOLVERS",
    "DEFAULT_SOLVER",
    "get_solver",
    "is_installed",
    "installed_solvers",
    "solver_version",
    "solver_options",
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

    @property
    def install_hint(self) -> str:
        return f"pip install {self.package}"

    def options(self, tol: float | None = None, max_iters: int | None = None) -> dict:
        """The solver's own keyword options for a uniform ``tol`` and ``max_iters``."""
        return solver_options(self.name, tol=tol, max_iters=max_iters)


SOLVERS: dict[str, SolverInfo] = {
    "clarabel": SolverInfo("clarabel", "CLARABEL", "clarabel", "interior-point", 1e-10,
                           ("tol_gap_abs", "tol_gap_rel", "tol_feas"), "max_iter", True, 1e-8),
    "ecos": SolverInfo("ecos", "ECOS", "ecos", "interior-point", 1e-8,
                       ("abstol", "reltol", "feastol"), "max_iters", False, 1e-6),
    "scs": SolverInfo("scs", "SCS", "scs", "first-order", 1e-6,
                      ("eps_abs", "eps_rel"), "max_iters", True),
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
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise InputError(f"solver tolerance must be a number, got {tol!r}") from None
    if not math.isfinite(tol) or tol <= 0:
        raise InputError(f"solver tolerance must be finite and > 0, got {tol!r}")
    opts: dict = {key: tol for key in info.tol_keys}
    if max_iters is not None:
        if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters <= 0:
            raise InputError(f"max_iters must be a positive integer, got {max_iters!r}")
        opts[info.max_iters_key] = int(max_iters)
    elif info.name == "scs":
        # SCS's default (100000) is kept explicit so that a tightened eps can be reached.
        opts[info.max_iters_key] = 100_000
    return opts
