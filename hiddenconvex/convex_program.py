r"""The convex program of a two-layer ReLU network (SPEC §2.1) as a cvxpy model.

.. math::

    P_c = \min_{W} \; \ell\Big(\sum_{i=1}^{2p} \gamma_i D_i X w_i\Big)
          + \beta \sum_{i=1}^{2p} \|w_i\|_2
    \quad \text{s.t.} \quad (2D_i - I) X w_i \ge 0,

with the loss :math:`\ell` of :mod:`hiddenconvex.losses` (squared ½‖ŷ−y‖² as a sum, no 1/n;
logistic and hinge with labels ±1). Blocks ``0..p-1`` have γ = +1 and blocks ``p..2p-1`` have
γ = −1 and reuse the pattern ``b mod p`` (:mod:`hiddenconvex.blocks`).

The model is vectorized: one variable matrix per output sign, ``V_pos`` and ``V_neg`` of shape
(r, q) (column k is the weight of the k-th pattern with a nonzero fit), the prediction is one
sparse linear map of ``vec(V_pos) − vec(V_neg)``, the cones are one sparse inequality per sign, and
the regularizer is ``sum(norm(V_±, 2, axis=0))``. β is a ``cp.Parameter``, so a path over β reuses
the compiled problem (DPP).

Three exact reductions keep the model small and well conditioned:

* rank: for rank-deficient X (r < d) the program is solved in R^r with :math:`\hat X = U_r\Sigma_r`
  and lifted back, :math:`w = V_r\hat w` (SPEC §1.3: same optimal value, norms preserved, the
  lifted weights lie in row(X));
* zero fit: patterns whose active rows are all zero rows of X (e.g. D = 0) have zero fit; their
  blocks are 0 at every optimum and are left out of the model;
* facets: each chamber cone is described by its facet rows only
  (:func:`hiddenconvex.facets.chamber_facets`, needs the complete chamber list) instead of all
  n rows. At the apex w = 0 — where most blocks sit at the optimum — every defining row is active;
  with all n rows interior-point solvers often stall on the logistic loss (exponential cone).
  Without a complete chamber list every nonzero row is kept (still exact).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ._linalg import _ldexp, _svd_rank, pow2_scaled
from .blocks import BlockWeights
from .certificate import (
    DEFAULT_MAX_CHAMBERS,
    certify,
    complete_chambers,
    correlation_bound,
    max_correlation,
)
from .convex_solution import ConvexSolution
from .errors import InputError, check_beta, check_seed
from .facets import chamber_facets
from .objective import Problem, objective
from .patterns import Patterns
from .solvers import (
    DEFAULT_SOLVER,
    get_solver,
    solve_with_retry,
    solver_options,
    solver_version,
)

__all__ = ["ConvexProgram", "ConvexSolution", "solve_convex", "regularization_path"]

_certify_point = certify  # ConvexProgram.solve has a flag named `certify`
#: A solver dual farther than this outside the loss's dual domain is reported (then projected).
DUAL_DOMAIN_TOL = 1e-6


def _reduction(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(X̂ = U_r Σ_r, V_r) when rank X < d, else (X, None) (rank rule of
    :func:`hiddenconvex.patterns._svd_rank`; X is the data rescaled by a power of two)."""
    _, d = X.shape
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = _svd_rank(X, s)
    if r >= d:
        return X, None
    return U[:, :r] * s[:r], Vt[:r].T


def _block_operator(Xm: np.ndarray, rows: np.ndarray, cols: np.ndarray, coef: np.ndarray,
                    q: int, out: np.ndarray | None = None, m: int | None = None) -> sp.csr_matrix:
    """Sparse map of vec(V) (column-major, V of shape (r, q)) whose output entry ``out[i]``
    (default ``i``; entries with equal ``out`` are summed) receives
    ``coef[i] * Xm[rows[i]] @ V[:, cols[i]]``; ``m`` output entries (default ``len(rows)``)."""
    r = Xm.shape[1]
    out = np.arange(rows.size) if out is None else out
    m = rows.size if m is None else m
    data = (coef[:, None] * Xm[rows]).ravel()
    ii = np.repeat(out, r)
    jj = (cols[:, None] * r + np.arange(r)[None, :]).ravel()
    A = sp.csr_matrix((data, (ii, jj)), shape=(m, r * q))
    A.eliminate_zeros()
    return A


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
        Complete chamber list, for the certificates (and the facets of the cones). Default:
        ``patterns`` when complete, else enumerated at the first certificate when Cover's bound
        is at most ``max_chambers`` (:func:`hiddenconvex.certificate.complete_chambers`).
    max_chambers : int or None
        Limit for enumerating the chambers of an incomplete list (``None``: no limit).
    facets : bool or bool array (n, p)
        The constraint rows of each cone: an array gives them (rows that are not facets are
        allowed, only slower; a missing facet changes the program). ``True``: describe each
        chamber cone by its facet rows only
        (:func:`~hiddenconvex.facets.chamber_facets`: from the complete chamber list when
        known, else from the patterns' witnesses). ``False`` keeps every nonzero row (same
        program, larger and harder for interior-point solvers).

    Notes
    -----
    The problem is compiled by cvxpy at the first :meth:`solve` and the compiled form is reused by
    later solves (any β, same solver). ``V_pos``, ``V_neg`` have shape (r, q), where ``kept``
    (length q) lists the patterns with a nonzero fit.

    Scale: the model is built on X·2^-e (and, for the squared loss, y·2^-f), exact powers of two
    with e = f = 0 when the largest entry is in [2^-4, 2^4]
    (:func:`~hiddenconvex.patterns.scale_exponent`), with β·2^-(e+f); the program is homogeneous
    (SPEC §2.1), and weights, dual, objective and certificate are returned in the user's units
    (w = w̃·2^(f-e)). Data from
    subnormal to ~1e300 are solved; a β for which the optimal weights would overflow is an
    :class:`~hiddenconvex.errors.InputError`.

    β ≥ β_max: W = 0 is the optimum and no solver is run (:meth:`solve`). ``beta_max_bound``
    (:func:`~hiddenconvex.certificate.correlation_bound` of −∇ℓ(0)) is an upper bound on β_max
    needing no enumeration; when the initial β is above it the cvxpy model is built only at the
    first solve that needs it (``cvx`` is None until then).
    """

    def __init__(self, problem: Problem, patterns: Patterns, *, reduce: bool = True,
                 chambers: Patterns | None = None,
                 max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
                 facets: bool | np.ndarray = True):
        t0 = time.perf_counter()
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
        if chambers is not None and chambers.n != problem.n:
            raise InputError(f"chambers have n = {chambers.n} rows but X has {problem.n}")
        self.problem = problem
        self.patterns = patterns
        X = problem.X
        if chambers is not None and not getattr(chambers, "complete", False):
            raise InputError("`chambers` must be a complete chamber list (complete = True)")
        full = chambers if chambers is not None else (patterns if patterns.complete else None)
        self._chambers: Patterns | None = full  # enumerated at the first certificate if None
        self._enumerated = full is not None
        self.max_chambers = max_chambers
        # exact power-of-two rescaling (SPEC §2.1 is homogeneous: the program on (c·X̃, β) is the
        # one on (X̃, β/c) with w = w̃/c); e = 0 for data with max |x_ij| in [2^-4, 2^4]
        Xs, self.scale_exp = pow2_scaled(X)
        # squared loss: also y = 2^f·ỹ (P(X, y, β) = 4^f·P(X, ỹ, β/2^f), w = 2^f·w̃; f = 0 for
        # max |y_j| in [2^-4, 2^4], and for ±1 labels)
        self._y_model, self.y_exp = (pow2_scaled(problem.y, "y") if problem.loss.homogeneous
                                     else (problem.y, 0))
        Xm, lift = _reduction(Xs) if reduce else (Xs, None)
        self.lift = lift
        self.rank = Xm.shape[1]
        self._Xm = Xm
        n, p = problem.n, patterns.p
        D = patterns.D
        nz = np.any(X != 0, axis=1)
        self.kept = np.flatnonzero((D & nz[:, None]).any(axis=0))
        q = self.kept.size
        b0 = _ldexp(problem.beta, -self.scale_exp - self.y_exp)  # β for the rescaled data
        self.beta = cp.Parameter(nonneg=True, name="beta",
                                 value=b0 if math.isfinite(b0) and b0 > 0 else None)
        self.trivial = q == 0 or self.rank == 0
        self.facets_method = "all rows"
        self.facets = np.broadcast_to(nz[:, None], (n, p)).copy()
        if isinstance(facets, np.ndarray):  # given (e.g. computed once per working-set pattern)
            if facets.shape != (n, p) or facets.dtype != bool:
                raise InputError(f"facets must be a bool array of shape ({n}, {p}), got "
                                 f"{facets.dtype} {facets.shape}")
            self.facets, self.facets_method = facets & nz[:, None], "given"
        elif facets and full is not None and full.pattern_set == "chamber":
            self.facets, self.facets_method = chamber_facets(X, patterns, full), "chambers"
        elif facets and patterns.pattern_set == "chamber":
            self.facets, self.facets_method = chamber_facets(X, patterns), "witnesses"
        self.num_cone_rows = 2 * int(self.facets[:, self.kept].sum())  # both output signs
        # β_max and a bound on it (SPEC §2.4 step 6): W = 0 is optimal iff β ≥ β_max; a solver is
        # never run then (it fails for huge β: Clarabel 'unbounded' at β = 1e12)
        self._lam0 = problem.loss.dual_point(np.zeros(n), problem.y)  # −∇ℓ(0)
        self.beta_max_bound = correlation_bound(X, self._lam0)  # ≥ β_max, no enumeration
        self._beta_max_patterns: float | None = None  # M(−∇ℓ(0)) over the list, when needed
        self.cvx = None
        self.build_seconds = time.perf_counter() - t0
        if not self.trivial and problem.beta < self.beta_max_bound:
            self._build()  # else built at the first solve that needs it

    def _build(self) -> None:
        """The cvxpy model (on the rescaled, reduced data ``_Xm``); adds to ``build_seconds``."""
        t0 = time.perf_counter()
        n, q, Xm = self.problem.n, self.kept.size, self._Xm
        D = self.patterns.D
        nz = np.any(self.problem.X != 0, axis=1)
        Dk = D[:, self.kept]
        pj, pk = np.nonzero(Dk & nz[:, None])
        B = _block_operator(Xm, pj, pk, np.ones(pj.size), q, out=pj, m=n)  # z = B (vp − vn)
        fj, fk = np.nonzero(self.facets[:, self.kept])
        A = _block_operator(Xm, fj, fk, np.where(Dk[fj, fk], 1.0, -1.0), q)
        self.V_pos = cp.Variable((self.rank, q), name="V_pos")
        self.V_neg = cp.Variable((self.rank, q), name="V_neg")
        self.z = cp.Variable(n, name="yhat")
        vp, vn = cp.vec(self.V_pos, order="F"), cp.vec(self.V_neg, order="F")
        self.prediction = self.z == B @ (vp - vn)
        cones = [A @ vp >= 0, A @ vn >= 0]
        reg = cp.sum(cp.norm(self.V_pos, 2, axis=0)) + cp.sum(cp.norm(self.V_neg, 2, axis=0))
        loss = self.problem.loss.cvxpy(self.z, self._y_model)
        self.cvx = cp.Problem(cp.Minimize(loss + self.beta * reg), [self.prediction, *cones])
        self.build_seconds += time.perf_counter() - t0

    def _scaled_beta(self, beta: float) -> float:
        """β in the units of the rescaled data (β·2^-(e+f), exact), or InputError out of range."""
        b = _ldexp(beta, -self.scale_exp - self.y_exp)
        if not (math.isfinite(b) and b >= np.finfo(np.float64).tiny):
            m = float(np.max(np.abs(self.problem.X)))
            raise InputError(
                f"beta = {beta:.3g} is out of range for the scale of X (max |x_ij| = {m:.3g}): "
                f"beta / 2^{self.scale_exp + self.y_exp} is not a normal double; rescale X, y or "
                "beta"
            )
        return b

    def _zero_optimal(self, beta: float) -> str | None:
        """Why W = 0 is the optimum of this program at ``beta`` (then no solver runs), or None.

        W = 0 solves the program on the pattern list iff β ≥ M(−∇ℓ(0)) over the list; it is the
        global optimum iff β ≥ β_max (all chambers), which holds in particular when β ≥
        :func:`~hiddenconvex.certificate.correlation_bound` (no enumeration needed)."""
        complete = self.patterns.complete and self.patterns.pattern_set == "chamber"
        if beta >= self.beta_max_bound and not complete:
            return (f"beta = {beta:.6g} >= beta_max (beta >= {self.beta_max_bound:.6g}, an upper "
                    "bound on beta_max): the zero network is the global optimum; no solver was "
                    "run")
        if self._beta_max_patterns is None:
            self._beta_max_patterns = max_correlation(self.problem.X, self._lam0, self.patterns)
        bm = self._beta_max_patterns
        if beta < bm:
            return None
        if complete:
            return (f"beta = {beta:.6g} >= beta_max = {bm:.6g}: the zero network is the global "
                    "optimum; no solver was run")
        return (f"beta = {beta:.6g} >= beta_max of the pattern list ({bm:.6g}): W = 0 is the "
                "optimum of the restricted program (no solver was run); it is the global optimum "
                "only if beta >= beta_max over all chambers (see the certificate)")

    @property
    def chambers(self) -> Patterns | None:
        """The complete chamber list of the certificates (None: not known yet or unaffordable).

        For an incomplete pattern list it is enumerated at the first certificate when Cover's
        bound is at most ``max_chambers``."""
        return self._chambers

    def _complete_chambers(self) -> Patterns | None:
        if not self._enumerated:
            self._chambers, _ = complete_chambers(self.problem.X, self.patterns,
                                                  max_chambers=self.max_chambers)
            self._enumerated = True
        return self._chambers

    # ------------------------------------------------------------------ solve
    def solve(self, beta: float | None = None, *, solver: str = DEFAULT_SOLVER,
              tol: float | None = None, max_iters: int | None = None, warm_start: bool = False,
              certify: bool = True, certify_tol: float = 1e-6, options: dict | None = None,
              verbose: bool = False) -> ConvexSolution:
        """Solve at ``beta`` (default: the problem's β) and return a :class:`ConvexSolution`.

        ``options`` are extra solver-specific keyword options passed to cvxpy as they are (e.g.
        Clarabel ``time_limit``, SCS ``time_limit_secs``); they override ``tol``/``max_iters``.

        With the default tolerance (``tol=None``) a solve that fails or ends ``optimal_inaccurate``
        is retried once at the solver's fallback tolerance (Clarabel 1e-8, ECOS 1e-6); the
        retry is listed in ``warnings`` and ``tol`` is the tolerance of the returned solution.
        An explicit ``tol`` is never relaxed.

        β ≥ β_max of the pattern list (or ≥ ``beta_max_bound``): W = 0 exactly, no solver run
        (``iterations`` 0, a warning says why); it is the global optimum when the list is complete
        or β ≥ ``beta_max_bound`` (certified without enumerating chambers), else only the
        optimum of the restricted program, and the certificate says whether it is global.

        Raises
        ------
        InputError
            Bad β, unknown solver name, bad tolerance; β so small for the scale of X that the
            optimal weights overflow double precision.
        SolverError
            Solver not installed, solver failure or a status other than optimal/optimal_inaccurate.
        """
        info = get_solver(solver)
        problem = self.problem if beta is None else self.problem.with_beta(beta)
        extra = {**info.options_for(problem.loss.name), **(options or {})}
        opts = {**solver_options(info.name, tol=tol, max_iters=max_iters), **extra}
        used_tol = float(opts[info.tol_keys[0]])
        warnings: list[str] = []
        p = self.patterns.p
        W = np.zeros((2 * p, problem.d))
        zero = None if self.trivial else self._zero_optimal(problem.beta)
        if self.trivial or zero is not None:  # W = 0 exactly, before any model is built or solved
            status, value, comp, solve_s, iters, raw_dual = "optimal", None, 0.0, 0.0, 0, None
            accuracy = None  # no solver ran
            if zero is not None:
                warnings.append(zero)
        else:
            self.beta.value = self._scaled_beta(problem.beta)
            if self.cvx is None:
                self._build()
            explicit = tol is not None or any(k in extra for k in info.tol_keys)
            att, used_tol = solve_with_retry(
                self.cvx, info, opts, tol=used_tol,
                fallback=None if explicit else info.fallback_tol, max_iters=max_iters,
                warm_start=warm_start, verbose=verbose, warnings=warnings,
                context=f"n={problem.n}, d={problem.d}, p={p}",
                hint=info.failure_hint(problem.loss.name))
            status, value, comp, solve_s, iters = (att.status, att.value, att.compile_seconds,
                                                   att.solve_seconds, att.iterations)
            accuracy = att.accuracy
            Wk = np.concatenate([self.V_pos.value.T, self.V_neg.value.T], axis=0)  # (2q, r)
            if self.lift is not None:
                Wk = Wk @ self.lift.T
            if self.scale_exp or self.y_exp:  # the user's units: w = w̃·2^(f-e) (exact)
                with np.errstate(over="ignore"):
                    Wk = np.ldexp(Wk, self.y_exp - self.scale_exp)
                if not np.all(np.isfinite(Wk)):
                    raise InputError(
                        f"beta = {problem.beta:.3g} is too small for the scale of X (max |x_ij| ="
                        f" {float(np.max(np.abs(problem.X))):.3g}): the optimal weights overflow "
                        "double precision; rescale X or increase beta")
            W[np.concatenate([self.kept, p + self.kept])] = Wk
            raw_dual = self.prediction.dual_value
            if self.y_exp:  # λ = y − ŷ = 2^f·(ỹ − ŷ̃); objective 4^f times the scaled one
                raw_dual = None if raw_dual is None else np.ldexp(raw_dual, self.y_exp)
                value = _ldexp(value, 2 * self.y_exp)
        weights = BlockWeights(W, self.patterns.D)
        yhat = weights.predict(problem.X)
        obj = objective(problem, weights)
        viol = self._cone_violation(weights)
        if viol > 1e-6:
            warnings.append(f"blocks violate their cones by {viol:.3g} (relative to the fit)")
        solver_dual = self._solver_dual(problem, raw_dual, warnings)
        if problem.loss.dual_from_solver and solver_dual is not None:
            dual, source = solver_dual, "solver"
        else:
            dual, source = problem.loss.dual_point(yhat, problem.y), "gradient"
        if value is None:
            value = obj.total
        cert = None
        if certify and zero is not None and problem.beta >= self.beta_max_bound \
                and self._chambers is None:
            # the bound proves λ = −∇ℓ(0) dual feasible: no chamber needs to be enumerated
            cert = _certify_point(problem, yhat, obj, self.patterns, lam=dual, tol=certify_tol,
                                  max_chambers=0)
        elif certify:
            cert = self._certify(problem, yhat, obj, dual, solver_dual, certify_tol)
        return ConvexSolution(
            problem=problem, patterns=self.patterns, weights=weights, yhat=yhat, dual=dual,
            objective=obj, solver_objective=float(value), status=status, solver=info.name,
            solver_version=solver_version(info.name), compile_seconds=comp, solve_seconds=solve_s,
            iterations=iters, warnings=tuple(warnings), certificate=cert, tol=used_tol,
            rank=self.rank, dual_source=source, solver_dual=solver_dual, cone_violation=viol,
            build_seconds=self.build_seconds,
            solver_accuracy=accuracy,
        )

    def _cone_violation(self, weights: BlockWeights) -> float:
        XW = self.problem.X @ weights.W.T  # (n, 2p)
        scale = max(1.0, float(np.abs(XW).max(initial=0.0)))
        return weights.cone_violation(self.problem.X) / scale

    @staticmethod
    def _solver_dual(problem, raw_dual, warnings):
        """The multiplier of ``z == prediction``, projected onto the dual domain of the loss."""
        if raw_dual is None:
            return None
        lam = np.asarray(raw_dual, dtype=np.float64).reshape(-1)
        if lam.shape != (problem.n,) or not np.all(np.isfinite(lam)):
            warnings.append("the solver returned no usable dual for the prediction constraint")
            return None
        lam, dev = problem.loss.project_dual(lam, problem.y)
        if dev > DUAL_DOMAIN_TOL:
            warnings.append(f"solver dual outside the dual domain of the {problem.loss.name} loss "
                            f"by {dev:.3g}; projected")
        return lam

    def _certify(self, problem, yhat, obj, lam, solver_dual, tol):
        full = self._complete_chambers()
        alt = None if solver_dual is None or solver_dual is lam else solver_dual
        if full is None:  # the certificate says why (Cover's bound above max_chambers)
            return certify(problem, yhat, obj, self.patterns, lam=lam, solver_dual=alt, tol=tol,
                           max_chambers=self.max_chambers)
        return certify(problem, yhat, obj, self.patterns, lam=lam, solver_dual=alt, tol=tol,
                       chambers=full)


def _resolve_patterns(problem, patterns, method, n_samples, seed):
    if patterns is not None:
        return patterns
    check_seed(seed)
    from .patterns import enumerate_patterns  # deferred: enumeration may be expensive

    return enumerate_patterns(problem.X, method=method, n_samples=n_samples, seed=seed)


def solve_convex(problem: Problem, patterns: Patterns | None = None, *,
                 solver: str = DEFAULT_SOLVER, method: str = "auto",
                 n_samples: int | None = None, seed: int = 0, tol: float | None = None,
                 certify: bool = True, max_iters: int | None = None, reduce: bool = True,
                 certify_tol: float = 1e-6, max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
                 chambers: Patterns | None = None, options: dict | None = None) -> ConvexSolution:
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
        Uniform solver tolerance (:func:`hiddenconvex.solvers.solver_options`). Default: the
        solver's default, with one retry at its fallback tolerance (:meth:`ConvexProgram.solve`).
    certify : bool
        Attach a :class:`~hiddenconvex.certificate.Certificate` (M(λ) over all chambers).
    max_iters : int, optional
        Solver iteration limit.
    reduce : bool
        Solve in R^rank(X) for rank-deficient X.
    certify_tol : float
        Tolerance of the certificate.
    max_chambers : int or None
        Enumerate all chambers (for the facets and the certificate) of an incomplete list only
        when Cover's bound is at most this.
    chambers : Patterns, optional
        A complete chamber list (avoids enumerating it again).
    options : dict, optional
        Extra solver-specific options (:meth:`ConvexProgram.solve`).

    Returns
    -------
    ConvexSolution
    """
    if not isinstance(problem, Problem):
        raise InputError(f"expected a Problem, got {type(problem).__name__}")
    get_solver(solver)  # fail on a bad solver name before any enumeration
    solver_options(solver, tol=tol, max_iters=max_iters)
    patterns = _resolve_patterns(problem, patterns, method, n_samples, seed)
    program = ConvexProgram(problem, patterns, reduce=reduce, chambers=chambers,
                            max_chambers=max_chambers)
    return program.solve(solver=solver, tol=tol, max_iters=max_iters, certify=certify,
                         certify_tol=certify_tol, options=options)


def regularization_path(problem: Problem, betas: Iterable[float], patterns: Patterns | None = None,
                        *, solver: str = DEFAULT_SOLVER, method: str = "auto",
                        n_samples: int | None = None, seed: int = 0, tol: float | None = None,
                        certify: bool = True, max_iters: int | None = None, reduce: bool = True,
                        warm_start: bool = True, certify_tol: float = 1e-6,
                        max_chambers: int | None = DEFAULT_MAX_CHAMBERS,
                        chambers: Patterns | None = None,
                        options: dict | None = None) -> list[ConvexSolution]:
    r"""Solve the convex program for each β in ``betas`` (in the given order) on one compiled model.

    The patterns, the chambers and the facets are computed once; cvxpy compiles the model once
    (β is a parameter) and the solver is warm-started where it allows it (SCS starts from the
    previous solution; Clarabel updates the data of its cached solver, an interior-point method
    cannot use a primal-dual starting point; ECOS starts cold). Returns one
    :class:`ConvexSolution` per β; ``problem.beta`` itself is not used.
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
    program = ConvexProgram(problem, patterns, reduce=reduce, chambers=chambers,
                            max_chambers=max_chambers)
    return [program.solve(b, solver=solver, tol=tol, max_iters=max_iters,
                          warm_start=warm_start and k > 0, certify=certify,
                          certify_tol=certify_tol, options=options)
            for k, b in enumerate(betas)]
