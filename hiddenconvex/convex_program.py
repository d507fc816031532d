r"""The convex program of a two-layer ReLU network (SPEC §2.1) as a cvxpy model.

.. math::

    P_c = \min_{W} \; \ell\Big(\sum_{i=1}^{2p} \gamma_i D_i X w_i\Big)
          + \beta \sum_{i=1}^{2p} \|w_i\|_2
    \quad \text{s.t.} \quad (2D_i - I) X w_i \ge 0,

with the loss :math:`\ell` of :mod:`hiddenconvex.losses` (squared ½‖ŷ−y‖² as a sum, no 1/n;
logistic and hinge with labels ±1). Blocks ``0..p-1`` have γ = +1 and blocks ``p..2p-1`` have
γ = −1 and reuse the pattern ``b mod p`` (:mod:`hiddenconvex.blocks`).

The model is vectorized: one variable matrix per output sign, ``V_+`` and ``V_-`` of shape (r, p)
(column k is the weight of pattern k), the prediction is ``z = sum(D ∘ (X V_+ − X V_-), axis=1)``,
the cones are ``(2D−1) ∘ (X V_±) ≥ 0`` and the regularizer is ``sum(norm(V_±, 2, axis=0))``. β is
a ``cp.Parameter``, so a path over β reuses the compiled problem (DPP). For rank-deficient X
(r < d) the program is solved in R^r with :math:`\hat X = U_r\Sigma_r` and lifted back,
:math:`w = V_r\hat w` (SPEC §1.3: same optimal value, norms preserved, the lifted weights lie in
row(X)).
"""

from __future__ import annotations

import time
import warnings as _warnings
from collections.abc import Iterable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from .blocks import BlockWeights
from .certificate import DEFAULT_MAX_CHAMBERS, Certificate, certify, complete_chambers
from .errors import InputError, SolverError, check_beta, check_seed
from .objective import ObjectiveValue, Problem, objective
from .patterns import Patterns
from .solvers import get_solver, solver_options, solver_version

__all__ = ["ConvexProgram", "ConvexSolution", "solve_convex", "regularization_path"]

_OK = ("optimal", "optimal_inaccurate")


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
        cvxpy's compilation time (near zero on re-solves of a compiled program).
    solve_seconds : float
        Time reported by the solver.
    iterations : int or None
    warnings : tuple of str
    certificate : Certificate or None
        Global-optimality certificate (:func:`hiddenconvex.certificate.certify`).
    tol : float
        Solver tolerance used.
    rank : int
        Dimension of the space solved in (r = rank X when reduced, else d).
    dual_source : str
        Where ``dual`` comes from: ``"gradient"`` or ``"solver"``.
    solver_dual : array, shape (n,), or None
        The solver's multiplier of ``z == prediction`` (projected onto the loss's dual domain).
        It is dual feasible to the solver's tolerance and is tried by the certificate when
        ``dual`` (whose error is that of ŷ, about sqrt(solver gap)) does not certify.
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

    @property
    def beta(self) -> float:
        return self.problem.beta

    def active_blocks(self, tol: float = 1e-6) -> np.ndarray:
        """Blocks with ‖w_i‖ > tol · max(1, max_i ‖w_i‖)."""
        norms = self.weights.norms()
        scale = max(1.0, float(norms.max(initial=0.0)))
        return np.flatnonzero(norms > tol * scale)

    def to_record(self) -> dict:
        """Flat dict (scalars only) for tables and JSON."""
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
            "compile_seconds": self.compile_seconds,
            "solve_seconds": self.solve_seconds,
            "iterations": self.iterations,
            "dual_source": self.dual_source,
            "warnings": list(self.warnings),
        }
        cert = self.certificate
        rec.update({
            "certified": None if cert is None else cert.certified,
            "max_correlation": None if cert is None else cert.M,
            "lower_bound": None if cert is None else cert.lower_bound,
            "gap": None if cert is None else cert.gap,
            "certificate_reasons": [] if cert is None else list(cert.reasons),
        })
        return rec


def _reduction(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(X̂ = U_r Σ_r, V_r) when rank X < d, else (X, None)."""
    _, d = X.shape
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    cut = s.max(initial=0.0) * max(X.shape) * np.finfo(np.float64).eps
    r = int(np.count_nonzero(s > cut))
    if r >= d:
        return X, None
    return U[:, :r] * s[:r], Vt[:r].T


class ConvexProgram:
    r"""The cvxpy model of (CVX) on a fixed pattern list; β is a parameter.

    Parameters
    ----------
    problem : Problem
        Data, loss and the initial β.
    patterns : Patterns
        p patterns (2p blocks), ``patterns.D`` of shape (n, p).
    reduce : bool
        Solve in R^r when r = rank X < d (SPEC §1.3) and lift the weights.
    chambers : Patterns, optional
        Complete chamber list for the certificates (default: ``patterns`` when complete, else
        enumerated at the first certificate when affordable).

    Notes
    -----
    The problem is compiled by cvxpy at the first :meth:`solve` and the compiled form is reused by
    later solves (any β, same solver). Variables ``V_pos``, ``V_neg`` have shape (r, p).
    """

    def __init__(self, problem: Problem, patterns: Patterns, *, reduce: bool = True,
                 chambers: Patterns | None = None):
        if not isinstance(problem, Problem):
            raise InputError(f"expected a Problem, got {type(problem).__name__}")
        if not isinstance(patterns, Patterns):
            raise InputError(f"expected a Patterns object, got {type(patterns).__name__}")
        if patterns.n != problem.n:
            raise InputError(f"patterns have n = {patterns.n} rows but X has {problem.n}")
        if patterns.d != problem.d:
            raise InputError(
                f"pattern witnesses have d = {patterns.d} but X has {problem.d} columns"
            )
        self.problem = problem
        self.patterns = patterns
        X = problem.X
        Xm, lift = _reduction(X) if reduce else (X, None)
        self.lift = lift
        self.rank = Xm.shape[1]
        n, p = problem.n, patterns.p
        self.beta = cp.Parameter(nonneg=True, value=problem.beta, name="beta")
        self.trivial = p == 0 or self.rank == 0
        if chambers is not None and not getattr(chambers, "complete", False):
            raise InputError("`chambers` must be a complete chamber list (complete = True)")
        if chambers is not None and chambers.n != problem.n:
            raise InputError(f"chambers have n = {chambers.n} rows but X has {problem.n}")
        self._chambers = chambers
        if self.trivial:  # every block has zero fit: W = 0 is the unique optimum
            self.cvx = None
            return
        D = patterns.D.astype(np.float64)
        S = 2.0 * D - 1.0
        self.V_pos = cp.Variable((self.rank, p), name="V_pos")
        self.V_neg = cp.Variable((self.rank, p), name="V_neg")
        self.z = cp.Variable(n, name="yhat")
        XVp, XVn = Xm @ self.V_pos, Xm @ self.V_neg
        self.prediction = self.z == cp.sum(cp.multiply(D, XVp - XVn), axis=1)
        cones = [cp.multiply(S, XVp) >= 0, cp.multiply(S, XVn) >= 0]
        reg = cp.sum(cp.norm(self.V_pos, 2, axis=0)) + cp.sum(cp.norm(self.V_neg, 2, axis=0))
        self.cvx = cp.Problem(cp.Minimize(problem.loss.cvxpy(self.z, problem.y) + self.beta * reg),
                              [self.prediction, *cones])

    @property
    def chambers(self) -> Patterns | None:
        """The complete chamber list of the certificates (None: not known or unaffordable)."""
        if self.patterns.complete:
            return self.patterns
        return self._chambers or None

    # ------------------------------------------------------------------ solve
    def solve(self, beta: float | None = None, *, solver: str = "clarabel",
              tol: float | None = None, max_iters: int | None = None, warm_start: bool = False,
              certify: bool = True,
              certify_tol: float = 1e-6, max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
              verbose: bool = False) -> ConvexSolution:
        """Solve at ``beta`` (default: the problem's β) and return a :class:`ConvexSolution`.

        Raises
        ------
        InputError
            Bad β, unknown solver name, bad tolerance.
        SolverError
            Solver not installed, solver failure or a status other than optimal/optimal_inaccurate.
        """
        info = get_solver(solver)
        problem = self.problem if beta is None else self.problem.with_beta(beta)
        opts = solver_options(info.name, tol=tol, max_iters=max_iters)
        used_tol = float(opts[info.tol_keys[0]])
        self.beta.value = problem.beta
        warnings: list[str] = []
        if self.trivial:
            W = np.zeros((2 * self.patterns.p, problem.d))
            status, value, comp, solve_s, iters, raw_dual = "optimal", None, 0.0, 0.0, 0, None
        else:
            status, value, comp, solve_s, iters, notes = self._run(info, opts, warm_start, verbose)
            warnings.extend(notes)
            if status == "optimal_inaccurate":
                warnings.append(f"solver {info.name} returned status optimal_inaccurate "
                                "(solution less accurate than the requested tolerance)")
            W = np.concatenate([self.V_pos.value.T, self.V_neg.value.T], axis=0)
            if self.lift is not None:
                W = W @ self.lift.T
            raw_dual = self.prediction.dual_value
        weights = BlockWeights(W, self.patterns.D)
        yhat = weights.predict(problem.X)
        obj = objective(problem, weights)
        solver_dual = self._solver_dual(problem, raw_dual, warnings)
        if problem.loss.name == "hinge" and solver_dual is not None:
            dual, source = solver_dual, "solver"
        else:
            dual, source = problem.loss.dual_point(yhat, problem.y), "gradient"
        if value is None:
            value = obj.total
        cert = None
        if certify:
            cert = self._certify(problem, yhat, obj, dual, solver_dual, certify_tol, max_chambers)
        return ConvexSolution(
            problem=problem, patterns=self.patterns, weights=weights, yhat=yhat, dual=dual,
            objective=obj, solver_objective=float(value), status=status, solver=info.name,
            solver_version=solver_version(info.name), compile_seconds=comp, solve_seconds=solve_s,
            iterations=iters, warnings=tuple(warnings), certificate=cert, tol=used_tol,
            rank=self.rank, dual_source=source, solver_dual=solver_dual,
        )

    def _run(self, info, opts, warm_start, verbose):
        t0 = time.perf_counter()
        hint = "; try another solver (clarabel, ecos, scs) or a looser --tol"
        try:
            with _warnings.catch_warnings(record=True) as caught:
                _warnings.simplefilter("always")
                self.cvx.solve(solver=info.cvxpy_name, warm_start=warm_start, verbose=verbose,
                               **opts)
        except cp.error.SolverError as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SolverError(f"solver {info.name} failed: {msg}{hint}") from None
        except (ValueError, ArithmeticError) as exc:
            raise SolverError(f"solver {info.name} failed: {type(exc).__name__}: {exc}") from None
        wall = time.perf_counter() - t0
        notes = []
        for w in caught:  # cvxpy's own warnings (e.g. "Solution may be inaccurate") are kept
            text = f"cvxpy: {str(w.message).strip().splitlines()[0]}"
            if text not in notes:
                notes.append(text)
        status = str(self.cvx.status)
        if status not in _OK:
            raise SolverError(f"solver {info.name} returned status {status!r} "
                              f"(n={self.problem.n}, d={self.problem.d}, p={self.patterns.p})"
                              f"{hint}")
        if self.V_pos.value is None or self.V_neg.value is None or self.cvx.value is None:
            raise SolverError(f"solver {info.name} returned status {status!r} but no solution")
        stats = self.cvx.solver_stats
        comp = float(getattr(self.cvx, "compilation_time", None) or 0.0)
        solve_s = stats.solve_time if stats is not None and stats.solve_time is not None else None
        solve_s = float(solve_s) if solve_s is not None else max(0.0, wall - comp)
        iters = stats.num_iters if stats is not None else None
        iters = int(iters) if iters is not None else None
        return status, float(self.cvx.value), comp, solve_s, iters, notes

    @staticmethod
    def _solver_dual(problem, raw_dual, warnings):
        """The multiplier of ``z == prediction``, projected onto the dual domain of the loss."""
        if raw_dual is None:
            return None
        lam = np.asarray(raw_dual, dtype=np.float64).reshape(-1)
        if lam.shape != (problem.n,) or not np.all(np.isfinite(lam)):
            warnings.append("the solver returned no usable dual for the prediction constraint")
            return None
        if problem.loss.name == "squared":
            return lam
        q = problem.y * lam  # logistic and hinge: domain y*lambda in [0, 1]
        dev = float(np.max(np.maximum(q - 1.0, 0.0) + np.maximum(-q, 0.0), initial=0.0))
        if dev > 1e-6:
            warnings.append(f"solver dual outside its domain y*lambda in [0, 1] by {dev:.3g}; "
                            "projected")
        return problem.y * np.clip(q, 0.0, 1.0)

    def _certify(self, problem, yhat, obj, lam, solver_dual, tol, max_chambers):
        if self._chambers is None and not self.patterns.complete:
            full, _ = complete_chambers(problem.X, self.patterns, max_chambers=max_chambers)
            self._chambers = full if full is not None else False
        chambers = self._chambers or None
        alt = None if solver_dual is None or solver_dual is lam else solver_dual
        return certify(problem, yhat, obj, self.patterns, lam=lam, solver_dual=alt, tol=tol,
                       chambers=chambers, max_chambers=max_chambers)


def _resolve_patterns(problem, patterns, method, n_samples, seed):
    if patterns is not None:
        return patterns
    check_seed(seed)
    from .patterns import enumerate_patterns  # deferred: enumeration may be expensive

    return enumerate_patterns(problem.X, method=method, n_samples=n_samples, seed=seed)


def solve_convex(problem: Problem, patterns: Patterns | None = None, *, solver: str = "clarabel",
                 method: str = "auto", n_samples: int | None = None, seed: int = 0,
                 tol: float | None = None, certify: bool = True, max_iters: int | None = None,
                 reduce: bool = True, certify_tol: float = 1e-6,
                 max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
                 chambers: Patterns | None = None) -> ConvexSolution:
    r"""Solve the convex program (SPEC §2.1) of ``problem`` on a pattern list.

    Parameters
    ----------
    problem : Problem
    patterns : Patterns, optional
        Default: ``enumerate_patterns(X, method, n_samples=n_samples, seed=seed)``.
    solver : {"clarabel", "ecos", "scs"}
    method, n_samples, seed
        Pattern enumeration when ``patterns`` is None.
    tol : float, optional
        Uniform solver tolerance (:func:`hiddenconvex.solvers.solver_options`).
    certify : bool
        Attach a :class:`~hiddenconvex.certificate.Certificate` (M(λ) over all chambers).
    max_iters : int, optional
        Solver iteration limit.
    reduce : bool
        Solve in R^rank(X) for rank-deficient X.
    certify_tol : float
        Tolerance of the certificate.
    max_chambers : int or None
        Enumerate all chambers for the certificate of an incomplete list only when Cover's bound
        is at most this.
    chambers : Patterns, optional
        A complete chamber list for the certificate (avoids enumerating it again).

    Returns
    -------
    ConvexSolution
    """
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    get_solver(solver)  # fail on a bad solver name before any enumeration
    solver_options(solver, tol=tol, max_iters=max_iters)
    patterns = _resolve_patterns(problem, patterns, method, n_samples, seed)
    program = ConvexProgram(problem, patterns, reduce=reduce, chambers=chambers)
    return program.solve(solver=solver, tol=tol, max_iters=max_iters, certify=certify,
                         certify_tol=certify_tol, max_chambers=max_chambers)


def regularization_path(problem: Problem, betas: Iterable[float], patterns: Patterns | None = None,
                        *, solver: str = "clarabel", method: str = "auto",
                        n_samples: int | None = None, seed: int = 0, tol: float | None = None,
                        certify: bool = True, max_iters: int | None = None, reduce: bool = True,
                        warm_start: bool = True, certify_tol: float = 1e-6,
                        max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
                        chambers: Patterns | None = None) -> list[ConvexSolution]:
    r"""Solve the convex program for each β in ``betas`` (in the given order) on one compiled model.

    The patterns (and, for the certificate, the chambers) are computed once; cvxpy compiles the
    model once (β is a parameter) and the solver is warm-started where it allows it (SCS; Clarabel
    reuses its solver object). Returns one :class:`ConvexSolution` per β; ``problem.beta`` itself is
    not used.
    """
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    try:
        betas = [check_beta(b) for b in betas]
    except TypeError:
        raise InputError("betas must be an iterable of numbers") from None
    if not betas:
        raise InputError("betas is empty")
    get_solver(solver)
    solver_options(solver, tol=tol, max_iters=max_iters)
    patterns = _resolve_patterns(problem, patterns, method, n_samples, seed)
    program = ConvexProgram(problem, patterns, reduce=reduce, chambers=chambers)
    out = []
    for k, b in enumerate(betas):
        out.append(program.solve(b, solver=solver, tol=tol, max_iters=max_iters,
                                 warm_start=warm_start and k > 0, certify=certify,
                                 certify_tol=certify_tol, max_chambers=max_chambers))
    return out
