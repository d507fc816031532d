r"""One front door: :func:`solve` composes the whole pipeline and returns a :class:`Result`.

.. code-block:: python

    import hiddenconvex as hc

    res = hc.solve(X, y, beta=0.1)            # patterns, convex program, certificate
    res.objective, res.certified              # P_c and whether it is proven globally optimal
    res.optimal_set.m_star                    # the optimal set, computed on first access
    res.network().predict(X)                  # ψ(W*): an optimal two-layer ReLU network

The steps (SPEC §1–§4): the activation patterns of X (exact chambers, or sampled Gaussian gates),
the group-ℓ2 convex program on them (:mod:`~hiddenconvex.convex_program`, solved by cvxpy), its
dual certificate over ALL chambers (:mod:`~hiddenconvex.certificate`; when the chambers can be
enumerated), and — lazily — the exact optimal set (:mod:`~hiddenconvex.optimal_set`) and the
networks ψ(W) (:mod:`~hiddenconvex.maps`). Every objective value is
:func:`hiddenconvex.objective.objective`.

The command line (:mod:`hiddenconvex.cli`), the verification of trained networks
(:mod:`hiddenconvex.verification`) and the batch task all call :func:`solve`; nothing else
composes the pipeline. This module does no I/O (the CLI passes patterns it read from its cache).
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .blocks import BlockWeights
from .certificate import DEFAULT_MAX_CHAMBERS, Certificate, beta_max, complete_chambers
from .convex_solution import ACTIVE_BLOCK_TOL
from .errors import InputError, SolverError, check_matrix
from .losses import DEFAULT_LOSS
from .network import ReLUNetwork
from .objective import Problem
from .patterns import Patterns, enumerate_patterns
from .solvers import DEFAULT_SOLVER, get_solver, solver_options

if TYPE_CHECKING:  # cvxpy is imported only when a program is solved
    from .convex_program import ConvexSolution

__all__ = ["STRATEGIES", "Result", "solve", "add_bias"]

#: How the convex program is solved: ``full`` = one program on the whole pattern list;
#: ``auto`` = the default choice for the list at hand (today always ``full``).
STRATEGIES = ("auto", "full")

#: Default certificate tolerance: certified iff M(λ) ≤ β(1 + tol) and gap ≤ 10·tol·ℓ(0).
DEFAULT_CERTIFY_TOL = 1e-6


def add_bias(X) -> np.ndarray:
    """``[X, 1]``: the data with a ones column (a regularized bias, SPEC §1.1)."""
    X = check_matrix(X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


class Result:
    r"""The outcome of :func:`solve`: the convex optimum, its certificate and, lazily, the optimal
    set and the networks.

    Attributes
    ----------
    problem : Problem
        Data (with the ones column when ``bias``), labels, β and loss.
    patterns : Patterns
        The pattern list the convex program was solved on.
    chambers : Patterns or None
        The complete chamber list used for the certificate (None when enumerating it was
        unaffordable: then nothing is certified and no lower bound exists).
    solution : ConvexSolution
        The solver's answer: ``weights`` (the blocks W, shape (2p, d)), ``yhat``, ``dual`` (λ),
        status, timings, the certificate.
    strategy : str
        The strategy used (``full``).
    bias : bool
        The last column of ``problem.X`` is the appended ones column.
    seconds : dict
        ``patterns_seconds`` (only when :func:`solve` enumerated the patterns), ``convex_seconds``
        (chamber enumeration, solve and certificate), ``optimal_set_seconds`` (once the optimal
        set was computed).
    """

    def __init__(self, problem: Problem, patterns: Patterns, chambers: Patterns | None,
                 solution: ConvexSolution, *, strategy: str, bias: bool, seconds: dict,
                 warnings: tuple[str, ...], solver: str, optimal_set_options: dict):
        self.problem = problem
        self.patterns = patterns
        self.chambers = chambers
        self.solution = solution
        self.strategy = strategy
        self.bias = bias
        self.seconds = dict(seconds)
        self._warnings = tuple(warnings)
        self._solver = solver
        self._optimal_set_options = dict(optimal_set_options)
        self._optimal_set_error: Exception | None = None

    def __repr__(self) -> str:
        cert = "certified" if self.certified else "not certified"
        return (f"Result(objective={self.objective:.10g}, {cert}, n={self.problem.n}, "
                f"d={self.problem.d}, beta={self.problem.beta:g}, loss={self.problem.loss.name}, "
                f"patterns={self.patterns.p} ({self.patterns.method}))")

    # ------------------------------------------------------------------ the convex optimum
    @property
    def weights(self) -> BlockWeights:
        """The optimal blocks W (shape (2p, d); blocks p..2p-1 have γ = −1)."""
        return self.solution.weights

    @property
    def objective(self) -> float:
        """:math:`L^c_\\beta(W)` of the solver's blocks (by
        :func:`~hiddenconvex.objective.objective`): P_c to the certificate's gap when certified;
        P_𝒮 ≥ P_c for an uncertified sampled list."""
        return float(self.solution.objective.total)

    @property
    def certificate(self) -> Certificate | None:
        """The dual certificate over all chambers (SPEC §2.4): ``certified``, ``M``,
        ``lower_bound``, ``gap``; None only when ``solve(..., certify=False)``."""
        return self.solution.certificate

    @property
    def certified(self) -> bool:
        """The objective is proven to be the global optimum P_c (to the certificate's gap)."""
        cert = self.certificate
        return bool(cert is not None and cert.certified)

    @property
    def lower_bound(self) -> float | None:
        """A proven lower bound on P_c (None when the chambers could not be enumerated)."""
        cert = self.certificate
        return None if cert is None else cert.lower_bound

    @property
    def gap(self) -> float | None:
        """``objective − lower_bound`` (≥ objective − P_c), None without a lower bound."""
        cert = self.certificate
        return None if cert is None else cert.gap

    @property
    def warnings(self) -> tuple[str, ...]:
        """Everything short of a clean certified solve (solver notes, missing chambers, ...)."""
        return self._warnings + tuple(self.solution.warnings)

    @cached_property
    def beta_max(self) -> float:
        """β_max = M(−∇ℓ(0)) (SPEC §2.4 step 6) over all chambers when they are known, else over
        the pattern list (then a lower bound on the true β_max; :attr:`beta_max_complete`)."""
        return float(beta_max(self.problem, self.chambers if self.chambers is not None
                              else self.patterns))

    @property
    def beta_max_complete(self) -> bool:
        """:attr:`beta_max` was computed over all chambers."""
        return self.chambers is not None

    # ------------------------------------------------------------------ networks
    def network(self, width: int | None = None, *, tol: float = ACTIVE_BLOCK_TOL) -> ReLUNetwork:
        """ψ(W) (SPEC §4.2): one scaled neuron per active block, padded with zero neurons to
        ``width``.

        Blocks with ‖w_b‖ ≤ ``tol``·max‖w‖ are left out (an interior-point solver leaves the
        inactive blocks at ~1e-12 of the largest, not at 0; ``tol=0`` keeps every nonzero block,
        and then L_β(ψ(W)) equals :attr:`objective` exactly, SPEC §4.2). When the solution is
        certified this is an optimal network of the non-convex problem to the certificate's gap
        plus the left-out blocks' share. With ``bias=True`` its inputs are ``[x, 1]`` (use
        :meth:`predict` for raw inputs). The exact optimal networks, minimal ones included, are
        in :attr:`optimal_set`.
        """
        from .maps import psi

        return psi(self.weights, width=width, tol=tol)

    def predict(self, X) -> np.ndarray:
        """Predictions of :meth:`network` on new data X (shape (m, d) without the ones column)."""
        X = check_matrix(X)
        if self.bias:
            X = add_bias(X)
        if X.shape[1] != self.problem.d:
            raise InputError(f"X has {X.shape[1]} columns but the model was fitted on "
                             f"{self.problem.d - int(self.bias)}")
        return self.network().predict(X)

    # ------------------------------------------------------------------ optimal set
    @property
    def optimal_set_available(self) -> str:
        """Why the optimal set cannot be computed, or ``""`` when it can (it may still fail)."""
        if not self.problem.loss.strictly_convex:
            return (f"the {self.problem.loss.name} loss is not strictly convex: the optimal "
                    "prediction need not be unique (SPEC 4.6)")
        if self.chambers is None:
            why = next((w for w in self._warnings if "Cover bound" in w), "")
            return ("all chambers are needed for the optimal set and enumerating them is "
                    f"unaffordable{f' ({why})' if why else ''}; raise max_chambers "
                    "(--max-chambers) or use lower-rank data")
        return ""

    @cached_property
    def optimal_set(self):
        """The exact optimal set (:class:`~hiddenconvex.optimal_set.OptimalSet`: candidates, m*,
        uniqueness, minimal networks), computed on first access.

        It is computed over ALL chambers: a sampled solution that misses a chamber is polished
        over all of them (``solution_optimal`` says whether the solver's answer was optimal).
        Raises :class:`~hiddenconvex.errors.InputError` naming the reason when it is unavailable
        (hinge loss, chambers unaffordable) and :class:`~hiddenconvex.errors.SolverError` when
        its computation fails.
        """
        why = self.optimal_set_available
        if why:
            raise InputError(f"optimal set unavailable: {why}")
        from .optimal_set import optimal_set

        t0 = time.perf_counter()
        try:
            return optimal_set(self.problem, self.chambers, solution=self.solution,
                               solver=self._solver, **self._optimal_set_options)
        finally:
            self.seconds["optimal_set_seconds"] = time.perf_counter() - t0

    def try_optimal_set(self):
        """``(OptimalSet, "")``, or ``(None, reason)`` when it is unavailable or failed."""
        why = self.optimal_set_available
        if why:
            return None, why
        try:
            return self.optimal_set, ""
        except (InputError, SolverError) as exc:
            return None, f"optimal set unavailable: {exc}"

    # ------------------------------------------------------------------ records
    def to_dict(self) -> dict:
        """The flat record the ``hiddenconvex solve --json`` command prints: the solution's
        :meth:`~hiddenconvex.convex_program.ConvexSolution.to_record`, β_max, the strategy and
        the timings (scalars and lists of strings only)."""
        rec = self.solution.to_record()
        rec.update({
            "beta_max": self.beta_max,
            "beta_max_complete": self.beta_max_complete,
            "strategy": self.strategy,
            "bias": self.bias,
            **self.seconds,
            "warnings": list(self.warnings),
        })
        return rec


def _check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def solve(X, y=None, beta=None, loss=DEFAULT_LOSS, *, patterns="auto", strategy: str = "auto",
          bias: bool = False, solver: str = DEFAULT_SOLVER, tol: float | None = None,
          max_iters: int | None = None, n_samples: int | None = None, seed: int = 0,
          certify: bool = True, certify_tol: float = DEFAULT_CERTIFY_TOL,
          max_chambers: int | None = DEFAULT_MAX_CHAMBERS, chambers: Patterns | None = None,
          options: dict | None = None, optimal_set_options: dict | None = None) -> Result:
    r"""Solve the hidden convex program of a two-layer ReLU network and certify it.

    Minimizes :math:`\ell(\sum_i \gamma_i D_i X w_i) + \beta\sum_i\|w_i\|` s.t.
    :math:`(2D_i - I)Xw_i \ge 0` over the activation patterns :math:`D_i` of X (SPEC §2.1), whose
    optimum equals that of :math:`\ell(\sum_i \sigma(Xu_i)\alpha_i) + \tfrac\beta2\sum_i
    (\|u_i\|^2 + \alpha_i^2)` (squared loss ½‖ŷ − y‖², a sum without 1/n).

    Parameters
    ----------
    X : array, shape (n, d), or Problem
        Data; or a :class:`~hiddenconvex.objective.Problem` (then ``y``, ``beta`` must be None,
        ``loss`` is the Problem's, and ``bias`` only records whether its last column is the ones
        column).
    y : array, shape (n,)
        Targets (±1 labels for ``logistic`` and ``hinge``).
    beta : float
        Weight decay β > 0.
    loss : {"squared", "logistic", "hinge"} or Loss
    patterns : {"auto", "exact", "sample"} or Patterns
        ``exact``: every chamber; ``sample``: ``n_samples`` seeded Gaussian gates; ``auto``: exact
        when Cover's bound is small (:func:`~hiddenconvex.patterns.enumerate_patterns`); or a
        pattern list.
    strategy : {"auto", "full"}
        ``full``: one program on the whole list (see :data:`STRATEGIES`).
    bias : bool
        Append a ones column (a regularized bias).
    solver : {"clarabel", "ecos", "scs"}
        Conic solver (:mod:`~hiddenconvex.solvers`).
    tol, max_iters : optional
        Solver tolerance and iteration limit (default: the solver's, with one retry at a looser
        tolerance, :meth:`~hiddenconvex.convex_program.ConvexProgram.solve`).
    n_samples, seed
        Sampling of the patterns.
    certify : bool
        Check the dual certificate over all chambers (SPEC §2.4).
    certify_tol : float
        Certified iff M(λ) ≤ β(1 + tol) and the gap is ≤ 10·tol·ℓ(0).
    max_chambers : int or None
        Enumerate all chambers of a sampled list for the certificate only when Cover's bound is at
        most this.
    chambers : Patterns, optional
        A complete chamber list (avoids enumerating it again).
    options : dict, optional
        Raw solver options.
    optimal_set_options : dict, optional
        Keyword arguments of :func:`~hiddenconvex.optimal_set.optimal_set` for
        :attr:`Result.optimal_set` (e.g. ``milp_time_limit``, ``max_vertex_candidates``).

    Returns
    -------
    Result

    Raises
    ------
    InputError
        Bad data, parameters or names (one line naming the problem).
    SolverError
        The solver is missing or failed.
    """
    t0 = time.perf_counter()
    if isinstance(X, Problem):
        if y is not None or beta is not None:
            raise InputError("solve(problem, ...) takes y and beta from the Problem; do not pass "
                             "them again")
        problem = X  # with a Problem, `bias` only records that its last column is the ones column
    else:
        if y is None or beta is None:
            raise InputError("solve(X, y, beta): y and beta are required")
        problem = Problem.create(add_bias(X) if bias else X, y, beta, loss)
    _check_choice("strategy", strategy, STRATEGIES)
    get_solver(solver)  # a bad solver name or option fails before any enumeration
    solver_options(solver, tol=tol, max_iters=max_iters)
    warnings: list[str] = []
    if isinstance(patterns, Patterns):
        if patterns.n != problem.n:
            raise InputError(f"patterns have n = {patterns.n} rows but X has {problem.n}")
        found = patterns
    else:
        found = enumerate_patterns(problem.X, method=patterns, n_samples=n_samples, seed=seed)
    t1 = time.perf_counter()
    full = chambers
    if certify and full is None:
        full, why = complete_chambers(problem.X, found, max_chambers=max_chambers)
        if full is None:
            warnings.append(why)
    from .convex_program import ConvexProgram

    program = ConvexProgram(problem, found, chambers=full, max_chambers=max_chambers)
    sol = program.solve(solver=solver, tol=tol, max_iters=max_iters, certify=certify,
                        certify_tol=certify_tol, options=options)
    t2 = time.perf_counter()
    seconds = {"convex_seconds": t2 - t1}
    if not isinstance(patterns, Patterns):
        seconds = {"patterns_seconds": t1 - t0, **seconds}
    return Result(problem, found, program.chambers if full is None else full, sol,
                  strategy="full", bias=bias, seconds=seconds, warnings=tuple(warnings),
                  solver=solver, optimal_set_options=optimal_set_options or {})
