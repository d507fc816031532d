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
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .blocks import BlockWeights
from .certificate import DEFAULT_MAX_CHAMBERS, Certificate, beta_max, complete_chambers
from .convex_solution import ACTIVE_BLOCK_TOL
from .errors import InputError, SolverError, check_matrix, check_positive
from .losses import DEFAULT_LOSS
from .network import ReLUNetwork
from .objective import Problem
from .patterns import (
    DEFAULT_MAX_EXACT,
    Patterns,
    cover_bound,
    enumerate_patterns,
    exact_chambers,
)
from .solvers import DEFAULT_SOLVER, get_solver, solver_options
from .working_set import AUTO_STREAM_CHAMBERS, AUTO_WORKING_SET_PATTERNS, MAX_STREAM_CHAMBERS

if TYPE_CHECKING:  # cvxpy is imported only when a program is solved
    from .convex_program import ConvexSolution

__all__ = ["STRATEGIES", "BOUNDS", "Result", "solve", "add_bias"]

#: How the convex program is solved: ``full`` = one program on the whole pattern list;
#: ``working-set`` = column generation with exact pricing of the whole list
#: (:mod:`~hiddenconvex.working_set`); ``auto`` = working-set for a streamed chamber list, a
#: list of more than :data:`~hiddenconvex.working_set.AUTO_WORKING_SET_PATTERNS` patterns, or a
#: sampled list certified by the search bound (then the search's violating chambers join the
#: list: *search columns*), else full. On the same list both solve the same program: same
#: optimum, certificate and optimal set.
STRATEGIES = ("auto", "full", "working-set")

#: How the certificate bounds M(λ) over all chambers: ``enumerate`` (exact over the chambers),
#: ``search`` (:func:`hiddenconvex.bounds.upper_bound`, anytime), ``auto`` (search only when the
#: chambers cannot be enumerated).
BOUNDS = ("auto", "enumerate", "search")
#: Default time budget of the search bound (seconds).
DEFAULT_BOUND_TIME_LIMIT = 60.0

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
        The strategy used (``full`` or ``working-set``).
    search : BoundResult or None
        The anytime search bound on M(λ) used by the certificate (``bound="search"``, or
        ``"auto"`` without enumerable chambers; :class:`~hiddenconvex.bounds.BoundResult`).
    working_set : WorkingSetInfo or None
        The rounds of a working-set solve (:class:`~hiddenconvex.working_set.WorkingSetInfo`):
        status, per-round objective, M(λ), lower bound, added/dropped patterns, pricing counts and
        the time of each phase.
    bias : bool
        The last column of ``problem.X`` is the appended ones column.
    seconds : dict
        ``patterns_seconds`` (only when :func:`solve` enumerated the patterns), ``convex_seconds``
        (chamber enumeration, solve and certificate), ``optimal_set_seconds`` (once the optimal
        set was computed).
    """

    def __init__(self, problem: Problem, patterns: Patterns, chambers: Patterns | None,
                 solution: ConvexSolution, *, strategy: str, bias: bool, seconds: dict,
                 warnings: tuple[str, ...], solver: str, optimal_set_options: dict,
                 working_set=None, search=None):
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
        self.working_set = working_set
        self.search = search

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
    def relative_gap(self) -> float | None:
        """``gap / |objective|`` (None without a lower bound; 0 for a closed gap at objective 0).
        The certificate's own criterion is relative to ℓ(0) (``certificate.relative_gap``)."""
        gap = self.gap
        if gap is None:
            return None
        obj = abs(self.objective)
        return gap / obj if obj > 0 else (0.0 if gap <= 0 else float("inf"))

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
    def _streamed_count(self) -> int | None:
        """Chambers priced by a working-set solve over every chamber (streamed), else None."""
        ws = self.working_set
        if ws is None or self.certificate is None or not self.certificate.complete:
            return None
        return ws.num_patterns

    @property
    def optimal_set_available(self) -> str:
        """Why the optimal set cannot be computed, or ``""`` when it can (it may still fail)."""
        if not self.problem.loss.strictly_convex:
            return (f"the {self.problem.loss.name} loss is not strictly convex: the optimal "
                    "prediction need not be unique (SPEC 4.6)")
        if self.chambers is None and self._streamed_count() is not None:
            count = self._streamed_count()
            if count > DEFAULT_MAX_CHAMBERS:
                return (f"the working-set solve streamed all {count} chambers without holding "
                        "them; the optimal set needs them in memory and is computed only up to "
                        f"{DEFAULT_MAX_CHAMBERS} chambers")
            self.chambers = exact_chambers(self.problem.X)  # small: enumerate them once, here
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
        cert = self.certificate
        search = {} if self.search is None else self.search.to_record()
        if "bound_method" in search:  # the search's algorithm; bound_method is enumerate/search
            search["bound_algorithm"] = search.pop("bound_method")
        rec.update({
            "beta_max": self.beta_max,
            "beta_max_complete": self.beta_max_complete,
            "strategy": self.strategy,
            "bias": self.bias,
            **({} if self.working_set is None else self.working_set.to_record()),
            "relative_gap": self.relative_gap,
            "gap_over_zero_loss": None if cert is None else cert.relative_gap,
            **search,
            "bound_method": _BOUND_METHOD.get(None if cert is None else cert.m_source),
            **self.seconds,
            "warnings": list(self.warnings),
        })
        return rec


_BOUND_METHOD = {"chambers": "enumerate", "search": "search", "norm bound": "norm bound"}


def _check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def solve(X, y=None, beta=None, loss=DEFAULT_LOSS, *, patterns="auto", strategy: str = "auto",
          bias: bool = False, solver: str = DEFAULT_SOLVER, tol: float | None = None,
          max_iters: int | None = None, n_samples: int | None = None, seed: int = 0,
          certify: bool = True, certify_tol: float = DEFAULT_CERTIFY_TOL,
          max_chambers: int | None = DEFAULT_MAX_CHAMBERS, chambers: Patterns | None = None,
          options: dict | None = None, optimal_set_options: dict | None = None,
          working_set_options: dict | None = None, bound: str = "auto",
          bound_time_limit: float = DEFAULT_BOUND_TIME_LIMIT) -> Result:
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
    strategy : {"auto", "full", "working-set"}
        ``full``: one program on the whole list; ``working-set``: column generation over it
        (:func:`~hiddenconvex.working_set.solve_working_set`); see :data:`STRATEGIES`. A
        working-set solve of a list that is not every chamber and whose certificate is the
        search bound first spends up to half of ``bound_time_limit`` (no round starts later) in
        short searches at the current λ: each violating chamber they find (outside the list)
        joins the list and the working set, which is re-solved (at most
        :data:`SEARCH_COLUMN_ROUNDS` rounds; JSON ``ws_search_rounds``, ``ws_search_columns``);
        the returned ``patterns`` include them. With
        ``patterns="auto"`` and a strategy other than ``full``, every chamber is used (streamed,
        never held in memory) when Cover's bound is at most
        :data:`~hiddenconvex.working_set.AUTO_STREAM_CHAMBERS`.
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
    working_set_options : dict, optional
        Keyword arguments of :func:`~hiddenconvex.working_set.solve_working_set`
        (``max_rounds``, ``time_limit``, ``max_add``, ``pool_size``, ``drop_after``,
        ``callback``, ``seed_patterns``).
    bound : {"auto", "enumerate", "search"}
        How M(λ) over all chambers is bounded for the certificate (see :data:`BOUNDS`):
        ``enumerate`` = over the enumerated chambers (or nothing when they are unaffordable);
        ``search`` = the anytime upper bound of :func:`hiddenconvex.bounds.upper_bound` (no
        enumeration; a valid lower bound and gap at any budget); ``auto`` = enumerate when the
        chambers are affordable, search otherwise.
    bound_time_limit : float
        Seconds for the search bound.

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
    _check_choice("bound", bound, BOUNDS)
    bound_time_limit = check_positive(bound_time_limit, "bound_time_limit")
    get_solver(solver)  # a bad solver name or option fails before any enumeration
    solver_options(solver, tol=tol, max_iters=max_iters)
    warnings: list[str] = []
    streamed = False
    if isinstance(patterns, Patterns):
        if patterns.n != problem.n:
            raise InputError(f"patterns have n = {patterns.n} rows but X has {problem.n}")
        found = patterns
    else:
        streamed = _streams(problem.X, patterns, strategy)
        found = None if streamed else enumerate_patterns(problem.X, method=patterns,
                                                         n_samples=n_samples, seed=seed)
    if strategy == "auto":
        strategy = "working-set" if streamed or found.p > AUTO_WORKING_SET_PATTERNS or \
            _search_columns_apply(problem.X, found, bound, certify, max_chambers) else "full"
    t1 = time.perf_counter()
    if strategy == "working-set":
        return _solve_working_set(problem, found, chambers, t0, t1, bias=bias, solver=solver,
                                  bound=bound, bound_time_limit=bound_time_limit,
                                  tol=tol, max_iters=max_iters, options=options, seed=seed,
                                  certify=certify, certify_tol=certify_tol,
                                  max_chambers=max_chambers, warnings=warnings,
                                  optimal_set_options=optimal_set_options or {},
                                  working_set_options=working_set_options or {},
                                  timed_patterns=not isinstance(patterns, Patterns))
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
    sol, searched = _bound(problem, sol, bound, bound_time_limit, certify_tol, seed, seconds)
    return Result(problem, found, program.chambers if full is None else full, sol,
                  strategy="full", bias=bias, seconds=seconds, warnings=tuple(warnings),
                  solver=solver, optimal_set_options=optimal_set_options or {},
                  search=searched)


def _streams(X, patterns: str, strategy: str) -> bool:
    """Whether the pattern list is every chamber, streamed (never enumerated into memory):
    ``patterns="exact"`` solved by working set (``auto``: when Cover's bound is above
    :data:`~hiddenconvex.patterns.DEFAULT_MAX_EXACT`), or ``"auto"`` (not ``full``) when Cover's
    bound is at most :data:`~hiddenconvex.working_set.AUTO_STREAM_CHAMBERS`. Never beyond
    :data:`~hiddenconvex.working_set.MAX_STREAM_CHAMBERS` (hours per pricing pass): such a list
    goes to the in-memory enumeration, which refuses it up front with its memory figure."""
    if strategy == "full" or patterns not in ("auto", "exact"):
        return False
    bound = cover_bound(X)
    if patterns == "exact":
        return (strategy == "working-set" or bound > DEFAULT_MAX_EXACT) and \
            bound <= MAX_STREAM_CHAMBERS
    return DEFAULT_MAX_EXACT < bound <= AUTO_STREAM_CHAMBERS


def _solve_working_set(problem: Problem, found: Patterns | None, chambers: Patterns | None,
                       t0: float, t1: float, *, bias, solver, tol, max_iters, options, seed,
                       certify, certify_tol, max_chambers, warnings, optimal_set_options,
                       working_set_options, timed_patterns, bound, bound_time_limit) -> Result:
    """:func:`solve` by column generation: over every chamber (streamed, ``found`` None, or
    ``found`` complete) or over the list ``found``; the certificate of a list that is not every
    chamber is :func:`~hiddenconvex.certificate.certify`'s, as for the full strategy."""
    from .certificate import certify as certify_point
    from .patterns import sample_patterns
    from .working_set import DEFAULT_SEED_GATES, ChamberSource, solve_working_set

    opts = dict(working_set_options)
    if found is None:
        source = ChamberSource.all_chambers(problem.X)
        if "seed_patterns" not in opts:
            opts["seed_patterns"] = sample_patterns(problem.X, DEFAULT_SEED_GATES, seed)
    else:
        source = ChamberSource.from_patterns(found)
    sol, info = solve_working_set(problem, source, solver=solver, tol=tol, max_iters=max_iters,
                                  options=options, certify_tol=certify_tol, **opts)
    budget = bound_time_limit
    columns = {}
    if not source.complete and _search_columns_apply(problem.X, found, bound, certify,
                                                     max_chambers):
        # the list is not every chamber and they cannot be enumerated: a short search at λ finds
        # violating chambers outside the list; they enter the list and the working set (before
        # the list's certificate, which is then that of the final list)
        found, sol, info, columns = _search_columns(
            problem, found, sol, info, budget / 2, certify_tol, seed,
            lambda src, seed_patterns: solve_working_set(
                problem, src, solver=solver, tol=tol, max_iters=max_iters, options=options,
                certify_tol=certify_tol, **{**opts, "seed_patterns": seed_patterns}))
        budget = max(budget - columns["ws_search_seconds"] - columns["ws_search_solve_seconds"],
                     budget / 2)
    full = found if found is not None and source.complete else chambers
    if not source.complete:
        cert = None
        if certify:
            if full is None:
                full, why = complete_chambers(problem.X, found, max_chambers=max_chambers)
                if full is None:
                    warnings.append(why)
            alt = sol.solver_dual if sol.solver_dual is not sol.dual else None
            cert = certify_point(problem, sol.yhat, sol.objective, found, lam=sol.dual,
                                 solver_dual=alt, tol=certify_tol, chambers=full,
                                 max_chambers=max_chambers)
        sol = replace(sol, certificate=cert)
    elif not certify:
        sol = replace(sol, certificate=None)
    t2 = time.perf_counter()
    seconds = {"convex_seconds": t2 - t1, **{f"ws_{k}_seconds": v
                                              for k, v in info.seconds.items()}, **columns}
    if timed_patterns:
        seconds = {"patterns_seconds": t1 - t0, **seconds}
    searched = None
    if certify:
        sol, searched = _bound(problem, sol, bound, budget, certify_tol, seed, seconds)
    return Result(problem, found if found is not None else sol.patterns, full, sol,
                  strategy="working-set", bias=bias, seconds=seconds, warnings=tuple(warnings),
                  solver=solver, optimal_set_options=optimal_set_options,
                  working_set=info, search=searched)


#: Search-column rounds of a working-set solve whose certificate is a search bound (a list that
#: is not every chamber, chambers not enumerable): at most this many short searches (the time
#: budget, half of ``bound_time_limit``, usually ends them first: iris+bias used 10 rounds of
#: ~12 s and was still finding violators), each adding at most this many violating chambers to
#: the list before the working set is re-solved.
SEARCH_COLUMN_ROUNDS = 100
SEARCH_COLUMNS_PER_ROUND = 100


def _search_columns_apply(X, found, bound: str, certify: bool, max_chambers) -> bool:
    """Whether the certificate of a solve over ``found`` will be the search bound: a sampled
    list whose chambers are not enumerated (Cover's bound above ``max_chambers``)."""
    if not certify or bound == "enumerate" or found is None or found.complete:
        return False
    if bound == "search":
        return True
    from ._arrangement import cover_bound

    return max_chambers is not None and cover_bound(X) > max_chambers


def _search_columns(problem: Problem, found: Patterns, sol, info, budget: float, tol: float,
                    seed: int, resolve):
    """Rounds of (short search at λ → its violating chambers join the list → working-set
    re-solve, seeded with the previous working set); no round starts after ``budget`` seconds
    (searches and re-solves).

    Returns (list, solution, WorkingSetInfo with the rounds of every re-solve, record)."""
    from .bounds import upper_bound
    from .working_set import ChamberSource, _keys

    t0 = time.perf_counter()
    search_s, rounds, added = 0.0, 0, 0
    keys = set(_keys(found.D))
    while rounds < SEARCH_COLUMN_ROUNDS:
        left = budget - (time.perf_counter() - t0)  # searches and re-solves count
        if left <= 0:
            break
        ts = time.perf_counter()
        # short: the search's incumbent heuristic finds the violators; proving the bound is the
        # final search's job (with the rest of the budget)
        res = upper_bound(problem.X, sol.dual, time_limit=min(left, max(budget / 50, 1.0)),
                          target=problem.beta * (1.0 + tol), seed=seed + rounds,
                          max_violators=SEARCH_COLUMNS_PER_ROUND)
        search_s += time.perf_counter() - ts
        new = []
        for v in res.violations:
            key = _keys(v.pattern[:, None])[0]
            if key not in keys:
                keys.add(key)
                new.append(v)
        if not new:
            break
        rounds += 1
        added += len(new)
        D = np.column_stack([v.pattern for v in new])
        W = np.stack([v.witness for v in new])
        found, start = (replace(P, D=np.concatenate([P.D, D], axis=1),
                                witnesses=np.concatenate([P.witnesses, W]))
                        for P in (found, sol.patterns))  # the list; the next working set
        sol, more = resolve(ChamberSource.from_patterns(found), start)
        info = replace(more, rounds=info.rounds + more.rounds,
                       seconds={k: info.seconds.get(k, 0.0) + v for k, v in more.seconds.items()})
    return found, sol, info, {"ws_search_rounds": rounds, "ws_search_columns": added,
                              "ws_search_seconds": search_s,
                              "ws_search_solve_seconds": time.perf_counter() - t0 - search_s}


def _bound(problem: Problem, sol, bound: str, time_limit: float, tol: float, seed: int,
           seconds: dict):
    """``(solution, BoundResult | None)``: the solution with the certificate of the search bound
    (:func:`hiddenconvex.bounds.upper_bound`) when ``bound`` asks for it — ``search``, or
    ``auto`` when M(λ) over all chambers is unavailable; else unchanged."""
    cert = sol.certificate
    if cert is None or bound == "enumerate":
        return sol, None
    if bound == "auto" and cert.m_source in ("chambers", "norm bound"):
        return sol, None
    from .bounds import upper_bound
    from .certificate import certify_with_bound

    t0 = time.perf_counter()
    lam = sol.dual
    res = upper_bound(problem.X, lam, time_limit=time_limit, seed=seed,
                      target=problem.beta * (1.0 + tol))
    seconds["bound_seconds"] = time.perf_counter() - t0
    new = certify_with_bound(problem, sol.yhat, sol.objective, lam, res.upper, m_source="search",
                             tol=tol, M_patterns=cert.M_patterns, dual_source=sol.dual_source)
    if res.status != "exact" and new.M > problem.beta * (1.0 + tol):
        new = replace(new, reasons=tuple(new.reasons) + (
            f"the search bound stopped at its {res.status.replace('_', ' ')} "
            f"({res.seconds:.3g} s, {res.nodes} nodes): M(lambda) <= {res.upper:.6g}, best "
            f"direction found {res.best:.6g}; raise bound_time_limit (--bound-time-limit)",))
    return replace(sol, certificate=new), res
