"""The convex program (SPEC §2.1), its solvers and results; the `solve` CLI.

References: closed forms (tests/reference_problems.py, SPEC §4.10 and §6), an independent
per-block cvxpy formulation written below (a Python loop over blocks, losses written here),
brute-force chambers (tests/oracles.py) and random networks evaluated with objective() for the
weak-duality sandwich.
"""

import json

import cvxpy as cp
import numpy as np
import pytest
from oracles import brute_chambers, incremental_chambers
from reference_problems import get, reference_problems

from hiddenconvex import InputError, Problem, ReLUNetwork, SolverError, objective
from hiddenconvex import solvers as solver_registry
from hiddenconvex.convex_program import (
    ConvexProgram,
    ConvexSolution,
    regularization_path,
    solve_convex,
)
from hiddenconvex.patterns import exact_chambers, sample_patterns
from hiddenconvex.solvers import SOLVERS, is_installed, solver_options

ALL_SOLVERS = list(SOLVERS)
# Tight tolerances used to reproduce closed forms to 1e-7 ("SCS with tightened eps").
TIGHT = {"clarabel": 1e-10, "ecos": 1e-10, "scs": 1e-10}


def solver_params(solvers=ALL_SOLVERS):
    return [pytest.param(s, marks=pytest.mark.skipif(not is_installed(s),
                                                      reason=f"{s} not installed"))
            for s in solvers]


def solve_or_known_failure(prob, ch, solver, **kw):
    """ECOS's exponential cone breaks down on some logistic problems ("Combined line search
    failed"): that is reported as a SolverError naming ECOS and the test says so; any other
    solver/loss combination must solve."""
    try:
        return solve_convex(prob, ch, solver=solver, **kw)
    except SolverError as exc:
        if solver == "ecos" and prob.loss.name == "logistic":
            assert "solver ecos failed" in str(exc)
            return None
        raise


# ------------------------------------------------------------------------------------------------
# independent formulation: one cvxpy variable per block, a Python loop, losses written here


def independent_value(X, y, beta, loss, D, solver=cp.CLARABEL):
    n, d = X.shape
    fit, reg, cons = 0, 0, []
    for k in range(D.shape[1]):
        Dk = D[:, k].astype(float)
        sgn = 2 * Dk - 1
        for gamma in (1.0, -1.0):
            w = cp.Variable(d)
            fit = fit + gamma * cp.multiply(Dk, X @ w)
            reg = reg + cp.norm(w, 2)
            cons.append(cp.multiply(sgn, X @ w) >= 0)
    if loss == "squared":
        data = 0.5 * cp.sum_squares(fit - y)
    elif loss == "logistic":
        data = cp.sum(cp.logistic(-cp.multiply(y, fit)))
    else:
        data = cp.sum(cp.pos(1 - cp.multiply(y, fit)))
    prob = cp.Problem(cp.Minimize(data + beta * reg), cons)
    opts = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9} \
        if solver == cp.CLARABEL else {}
    prob.solve(solver=solver, **opts)
    assert prob.status == "optimal"
    return prob.value


def random_problem(n, d, loss, seed, beta_frac=0.2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sign(rng.standard_normal(n)) if loss != "squared" else rng.standard_normal(n)
    ch = brute_chambers(X)
    lam0 = y if loss != "logistic" else y / 2
    beta = beta_frac * float(np.max(np.abs(X.T @ lam0)) + 1.0)
    return Problem.create(X, y, beta, loss), ch


def random_networks(d, seed, count=25):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        m = int(rng.integers(1, 6))
        scale = rng.choice([0.1, 1.0, 3.0])
        yield ReLUNetwork(scale * rng.standard_normal((m, d)), scale * rng.standard_normal(m))


# ------------------------------------------------------------------------------------------------
# closed forms (SPEC §4.10, §6: O7, O8, n = 1 any d, O9, O10 collinear, O15 hinge, logistic n = 1)

REFS = reference_problems()


@pytest.mark.parametrize("solver", solver_params())
@pytest.mark.parametrize("ref", REFS, ids=[r.name for r in REFS])
def test_closed_forms(ref, solver):
    prob = Problem.create(ref.X, ref.y, ref.beta, ref.loss)
    ch = brute_chambers(prob.X)
    sol = solve_or_known_failure(prob, ch, solver, tol=TIGHT[solver])
    if sol is None:
        pytest.skip("ECOS failed on this logistic problem (reported as SolverError)")
    assert sol.status in ("optimal", "optimal_inaccurate") and sol.solver == solver
    assert (sol.status == "optimal") == (not any("optimal_inaccurate" in w for w in sol.warnings))
    assert sol.objective.total == pytest.approx(ref.value, abs=1e-7 * max(1.0, ref.value))
    assert sol.solver_objective == pytest.approx(ref.value, abs=1e-7 * max(1.0, ref.value))
    cert = sol.certificate
    if ref.yhat is not None and ref.loss == "logistic":
        # P(W) − P_c ≥ (μ/2)‖ŷ − ŷ*‖² with μ the smallest curvature ℓ'' between ŷ and ŷ* (the
        # program is a strongly convex loss of ŷ plus a convex term), and P(W) − P_c ≤ gap of the
        # certificate: a rigorous bound on the prediction error, about sqrt(solver gap)
        sig = 1 / (1 + np.exp(-ref.y * np.concatenate([sol.yhat, ref.yhat])))
        mu = float(np.min(sig * (1 - sig)))
        bound = np.sqrt(2 * max(cert.gap, 0.0) / mu) + 1e-12
        assert np.linalg.norm(sol.yhat - ref.yhat) <= bound
        assert bound <= 1e-4  # and the bound itself is meaningful at these tolerances
    elif ref.yhat is not None:
        np.testing.assert_allclose(sol.yhat, ref.yhat, atol=1e-6)
    assert cert.certified, cert.reasons
    assert cert.lower_bound <= ref.value + 1e-9
    assert cert.lower_bound == pytest.approx(ref.value, abs=1e-6 * max(1.0, ref.value))
    assert cert.M <= ref.beta * (1 + 1e-6)
    assert sol.weights.cone_violation(prob.X) <= 1e-9


def test_o8_network_direction_and_block():
    """O8: only the γ = −1 block of the chamber {x^T u > 0} is used, w = (7/6) x/‖x‖."""
    ref = get("O8")
    prob = Problem.create(ref.X, ref.y, ref.beta)
    ch = brute_chambers(prob.X)
    sol = solve_convex(prob, ch)
    k = int(np.flatnonzero(ch.D[0])[0])
    x = ref.X[0]
    np.testing.assert_allclose(sol.weights.W[ch.p + k], 7 / 6 * x / 3, atol=1e-7)
    others = np.delete(sol.weights.norms(), ch.p + k)
    assert others.max() <= 1e-7
    assert sol.yhat[0] == pytest.approx(-3.5, abs=1e-7)
    assert sol.active_blocks().tolist() == [ch.p + k]


def test_o9_weights_and_dual():
    ref = get("O9")
    prob = Problem.create(ref.X, ref.y, ref.beta)
    ch = brute_chambers(prob.X)
    sol = solve_convex(prob, ch)
    np.testing.assert_allclose(sol.dual, [1.0, 1.0], atol=1e-7)  # λ = y − ŷ = (1, 1)
    norms = sol.weights.norms()
    assert sorted(norms[norms > 1e-6]) == pytest.approx([1.0, 2.0], abs=1e-7)
    assert sol.certificate.M == pytest.approx(1.0, abs=1e-7)


# ------------------------------------------------------------------------------------------------
# random problems: solvers agree and match the independent formulation

CASES = [(7, 2, 0), (6, 3, 1), (8, 2, 2)]
# Relative agreement with the independent reference: 1e-6 for the interior-point solvers at their
# default tolerance, 1e-5 for SCS at its default eps (1e-6).
REL = {"clarabel": 1e-6, "ecos": 1e-6, "scs": 1e-5}


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
@pytest.mark.parametrize("n,d,seed", CASES)
def test_random_solvers_agree_with_independent_formulation(n, d, seed, loss):
    prob, ch = random_problem(n, d, loss, seed)
    ref = independent_value(prob.X, prob.y, prob.beta, loss, ch.D)
    values = {}
    for solver in ALL_SOLVERS:
        if not is_installed(solver):
            continue
        sol = solve_or_known_failure(prob, ch, solver)
        if sol is None:
            continue
        values[solver] = sol.objective.total
        assert sol.objective.total == pytest.approx(ref, rel=REL[solver]), solver
        # cvxpy's value and the package's NumPy objective agree to solver tolerance
        assert sol.solver_objective == pytest.approx(sol.objective.total, rel=REL[solver]), solver
        assert sol.weights.cone_violation(prob.X) <= 1e-6 * max(1.0, np.abs(sol.weights.W).max())
        cert = sol.certificate
        assert cert.lower_bound <= ref + 1e-9 * max(1.0, ref)
        assert cert.certified, (solver, cert.reasons)
    assert len(values) >= 2


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_independent_formulation_second_solver(loss):
    """The reference itself is checked by a second solver (SCS, tight eps) on one problem."""
    prob, ch = random_problem(6, 2, loss, 5)
    a = independent_value(prob.X, prob.y, prob.beta, loss, ch.D)
    b_prob = independent_value(prob.X, prob.y, prob.beta, loss, ch.D, solver=cp.SCS)
    assert a == pytest.approx(b_prob, rel=1e-3)  # SCS at its own default eps 1e-4
    sol = solve_convex(prob, ch, solver="scs", tol=1e-10)
    assert sol.objective.total == pytest.approx(a, rel=1e-7)


@pytest.mark.parametrize("n,d,seed", [(4, 1, 0), (7, 2, 3), (5, 3, 4)])
@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_weak_duality_sandwich(n, d, seed, loss):
    """lower bound <= convex optimum <= objective of any network, on random problems."""
    prob, ch = random_problem(n, d, loss, seed)
    sol = solve_convex(prob, ch)
    P = sol.objective.total
    assert sol.certificate.lower_bound <= P + 1e-12
    for net in random_networks(d, seed):
        assert objective(prob, net).total >= P - 1e-8 * max(1.0, P)


def test_weak_duality_sandwich_reference_problems():
    for ref in REFS:
        prob = Problem.create(ref.X, ref.y, ref.beta, ref.loss)
        sol = solve_convex(prob, brute_chambers(prob.X))
        assert sol.certificate.lower_bound <= ref.value + 1e-9
        for net in random_networks(prob.d, 0, count=10):
            assert objective(prob, net).total >= ref.value - 1e-12


# ------------------------------------------------------------------------------------------------
# rank-deficient data (SPEC §1.3): solve in R^r and lift


@pytest.mark.parametrize("X", [
    np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]),  # O4, rank 1
    np.random.default_rng(0).standard_normal((3, 5)),  # d > n
    np.random.default_rng(1).standard_normal((6, 2))
    @ np.random.default_rng(2).standard_normal((2, 4)),
], ids=["O4_rank1", "d_gt_n", "rank2_in_R4"])
def test_rank_deficient_reduction(X):
    y = np.random.default_rng(5).standard_normal(X.shape[0])
    prob = Problem.create(X, y, 0.3)
    ch = brute_chambers(X)
    red = solve_convex(prob, ch)
    full = solve_convex(prob, ch, reduce=False)
    ref = independent_value(X, y, 0.3, "squared", ch.D)
    assert red.rank == np.linalg.matrix_rank(X) < X.shape[1] and full.rank == X.shape[1]
    assert red.objective.total == pytest.approx(ref, rel=1e-7)
    assert full.objective.total == pytest.approx(ref, rel=1e-6)
    # lifted weights lie in row(X) and are feasible for the original cones
    _, s, Vt = np.linalg.svd(X)
    null = Vt[np.linalg.matrix_rank(X):]
    assert np.abs(red.weights.W @ null.T).max() <= 1e-10
    assert red.weights.cone_violation(X) <= 1e-9
    assert red.certificate.certified


def test_trivial_program_zero_data():
    X = np.zeros((2, 2))
    prob = Problem.create(X, [1.0, -2.0], 0.5)
    ch = brute_chambers(X)
    sol = solve_convex(prob, ch)
    assert sol.objective.total == pytest.approx(2.5) and sol.status == "optimal"
    assert np.all(sol.weights.W == 0) and sol.certificate.certified


# ------------------------------------------------------------------------------------------------
# exact reductions of the model: zero-fit patterns left out, cones described by their facets


def test_zero_fit_patterns_and_facets_do_not_change_the_program():
    rng = np.random.default_rng(4)
    X = np.abs(rng.standard_normal((7, 2))) + 0.1  # all rows in an open half-space: D = 0 is a
    y = rng.standard_normal(7)  # chamber (u = (-1, -1))
    ch = brute_chambers(X)
    zero = np.flatnonzero(~ch.D.any(axis=0))
    assert zero.size == 1
    prob = Problem.create(X, y, 0.2)
    program = ConvexProgram(prob, ch)
    assert zero[0] not in program.kept and program.kept.size == ch.p - 1
    assert program.facets_method == "chambers"
    assert program.num_cone_rows == 2 * int(program.facets[:, program.kept].sum())
    assert program.facets[:, program.kept].sum(axis=0).max() == 2  # 2-D cones: 2 facets
    sol = program.solve()
    assert np.all(sol.weights.W[[zero[0], ch.p + zero[0]]] == 0)
    every_row = ConvexProgram(prob, ch, facets=False)
    assert every_row.facets_method == "all rows" and every_row.num_cone_rows == 2 * 7 * (ch.p - 1)
    ref = independent_value(X, y, 0.2, "squared", ch.D)
    for s in (sol, every_row.solve()):
        assert s.objective.total == pytest.approx(ref, rel=1e-7)
        assert s.weights.cone_violation(X) <= 1e-9 and s.certificate.certified


def test_sampled_program_uses_witness_facets():
    """A sampled list (no chamber list given) gets its facets from the witnesses: same value."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 3))
    y = rng.standard_normal(12)
    sample = sample_patterns(X, 40, seed=2)
    prob = Problem.create(X, y, 0.3)
    witness = ConvexProgram(prob, sample, max_chambers=0)  # no chambers: no look-up possible
    assert witness.facets_method == "witnesses"
    every_row = ConvexProgram(prob, sample, facets=False, max_chambers=0)
    a, b = witness.solve(), every_row.solve()
    ref = independent_value(X, y, 0.3, "squared", sample.D)
    assert a.objective.total == pytest.approx(ref, rel=1e-7)
    assert b.objective.total == pytest.approx(ref, rel=1e-7)
    assert witness.num_cone_rows < every_row.num_cone_rows
    assert a.weights.cone_violation(X) <= 1e-9
    assert not a.certificate.complete and a.certificate.lower_bound is None  # max_chambers = 0


def test_logistic_mid_size_clarabel_certified():
    """Regression: with every row in the cones (all active at the apex w = 0) Clarabel stalled or
    ended inaccurate on the logistic loss from a few hundred patterns on; with facets the default
    solve is optimal and certified over all chambers."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = np.sign(rng.standard_normal(20))
    ch = exact_chambers(X)
    assert ch.p == 382
    sol = solve_convex(Problem.create(X, y, 0.1, "logistic"), ch)
    assert sol.status == "optimal" and sol.certificate.certified, sol.warnings
    assert sol.certificate.M <= 0.1 * (1 + 1e-6)


class _FailFirst:
    """Make the first solver run raise (as Clarabel's InsufficientProgress does)."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = ConvexProgram._run

        def run(program, info, opts, warm_start, verbose):
            self.calls.append(dict(opts))
            if len(self.calls) == 1:
                raise SolverError("solver clarabel failed: InsufficientProgress")
            return real(program, info, opts, warm_start, verbose)

        monkeypatch.setattr(ConvexProgram, "_run", run)


def test_default_tolerance_failure_is_retried_and_reported(monkeypatch):
    prob, ch = random_problem(6, 2, "squared", 0)
    fake = _FailFirst(monkeypatch)
    sol = solve_convex(prob, ch)
    assert [c["tol_gap_abs"] for c in fake.calls] == [1e-10, 1e-8]
    assert sol.tol == 1e-8 and sol.status == "optimal"
    assert any("InsufficientProgress" in w and "re-solved at tol 1e-08" in w for w in sol.warnings)
    assert sol.to_record()["tol"] == 1e-8
    assert sol.objective.total == pytest.approx(
        independent_value(prob.X, prob.y, prob.beta, "squared", ch.D), rel=1e-6)


def test_explicit_tolerance_is_never_relaxed(monkeypatch):
    prob, ch = random_problem(6, 2, "squared", 0)
    fake = _FailFirst(monkeypatch)
    with pytest.raises(SolverError, match="InsufficientProgress"):
        solve_convex(prob, ch, tol=1e-10)
    assert len(fake.calls) == 1
    fake.calls.clear()
    with pytest.raises(SolverError, match="InsufficientProgress"):  # a tolerance in `options`
        solve_convex(prob, ch, options={"tol_gap_abs": 1e-9})
    assert len(fake.calls) == 1


def test_extra_solver_options_are_passed():
    prob, ch = random_problem(6, 2, "squared", 0)
    sol = solve_convex(prob, ch, options={"tol_gap_abs": 1e-7, "tol_gap_rel": 1e-7,
                                          "tol_feas": 1e-7})
    assert sol.tol == 1e-7
    with pytest.raises(InputError, match="no_such_setting"):
        solve_convex(prob, ch, options={"no_such_setting": 1})


# ------------------------------------------------------------------------------------------------
# regularization path


@pytest.mark.parametrize("solver", solver_params(["clarabel", "scs"]))
def test_regularization_path_matches_independent_solves(solver):
    prob, ch = random_problem(7, 2, "squared", 11)
    betas = [0.05, 0.3, 1.0, 2.5, 50.0]
    path = regularization_path(prob, betas, ch, solver=solver)
    assert [s.beta for s in path] == betas
    rel = 1e-7 if solver == "clarabel" else 1e-5
    for b, sol in zip(betas, path, strict=True):
        ref = independent_value(prob.X, prob.y, b, "squared", ch.D)
        assert sol.objective.total == pytest.approx(ref, rel=rel)
        single = solve_convex(prob.with_beta(b), ch, solver=solver)
        assert sol.objective.total == pytest.approx(single.objective.total, rel=rel)
        assert sol.problem.beta == b
    values = np.array([s.objective.total for s in path])
    # P_c is nondecreasing in β (up to the accuracy the values were just checked to)
    assert np.all(np.diff(values) >= -rel * np.maximum(1.0, values[1:]))
    assert path[-1].weights.norms().max() <= 1e-6  # β = 50 > β_max: zero network


def test_program_is_dpp_and_reused():
    prob, ch = random_problem(6, 2, "logistic", 2)
    program = ConvexProgram(prob, ch)
    assert program.cvx.is_dcp(dpp=True)
    assert isinstance(program.beta, cp.Parameter)
    a = program.solve(0.2)
    b = program.solve(0.4)
    c = solve_convex(prob.with_beta(0.2), ch)
    assert a.objective.total == pytest.approx(c.objective.total, rel=1e-9)
    assert b.objective.total > a.objective.total
    assert program.V_pos.shape == (2, ch.p) and program.V_neg.shape == (2, ch.p)


# ------------------------------------------------------------------------------------------------
# results


def test_solution_record_and_fields():
    ref = get("O9")
    prob = Problem.create(ref.X, ref.y, ref.beta)
    sol = solve_convex(prob, brute_chambers(prob.X))
    assert isinstance(sol, ConvexSolution)
    assert sol.objective == objective(prob, sol.weights)
    assert sol.weights.W.shape == (2 * sol.patterns.p, 1)
    assert sol.solver_version == solver_registry.solver_version("clarabel") != "unknown"
    assert sol.iterations is not None and sol.iterations > 0
    assert sol.compile_seconds >= 0 and sol.solve_seconds >= 0
    rec = sol.to_record()
    for key in ("objective", "loss", "loss_value", "regularization", "status", "solver",
                "solver_version", "num_patterns", "active_blocks", "certified", "lower_bound",
                "gap", "solve_seconds", "compile_seconds", "iterations", "warnings"):
        assert key in rec, key
    assert rec["active_blocks"] == 2 and rec["num_patterns"] == 2
    assert rec["objective"] == pytest.approx(4.0, abs=1e-7)
    json.dumps(rec)  # JSON-serializable


def test_logistic_and_hinge_labels():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    for loss in ("logistic", "hinge"):
        sol = solve_convex(Problem.create(X, [1.0, -1.0, 1.0], 0.1, loss), brute_chambers(X))
        assert sol.status == "optimal" and sol.certificate.certified
        with pytest.raises(InputError, match=r"labels in \{-1, \+1\}"):
            Problem.create(X, [1.0, 0.0, 1.0], 0.1, loss)


# ------------------------------------------------------------------------------------------------
# bad input and solver failures


def test_bad_beta():
    prob, ch = random_problem(4, 2, "squared", 0)
    program = ConvexProgram(prob, ch)
    for bad in (0.0, -1.0, np.nan, np.inf, "x"):
        with pytest.raises(InputError, match="beta"):
            program.solve(bad)
        with pytest.raises(InputError, match="beta"):
            regularization_path(prob, [1.0, bad], ch)
        with pytest.raises(InputError, match="beta"):
            Problem.create(prob.X, prob.y, bad)
    with pytest.raises(InputError, match="empty"):
        regularization_path(prob, [], ch)


def test_bad_patterns_and_problem():
    prob, ch = random_problem(4, 2, "squared", 0)
    other = brute_chambers(np.random.default_rng(0).standard_normal((5, 2)))
    with pytest.raises(InputError, match="rows"):
        solve_convex(prob, other)
    with pytest.raises(InputError, match="Patterns"):
        solve_convex(prob, ch.D)
    with pytest.raises(InputError, match="Problem"):
        solve_convex((prob.X, prob.y), ch)
    with pytest.raises(InputError, match="complete"):
        solve_convex(prob, ch, chambers=ch.subset([0]))


def test_unknown_solver_and_bad_tolerance():
    prob, ch = random_problem(4, 2, "squared", 0)
    with pytest.raises(InputError, match="unknown solver 'mosek'.*clarabel, ecos, scs"):
        solve_convex(prob, ch, solver="mosek")
    for bad in (0.0, -1e-6, np.nan):
        with pytest.raises(InputError, match="tolerance"):
            solve_convex(prob, ch, tol=bad)
    with pytest.raises(InputError, match="max_iters"):
        solve_convex(prob, ch, max_iters=0)


def test_solver_options_mapping():
    assert solver_options("clarabel", tol=1e-9) == {
        "tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9}
    assert solver_options("ecos", tol=1e-7, max_iters=50) == {
        "abstol": 1e-7, "reltol": 1e-7, "feastol": 1e-7, "max_iters": 50}
    assert solver_options("scs", tol=1e-5, max_iters=10) == {
        "eps_abs": 1e-5, "eps_rel": 1e-5, "max_iters": 10}
    assert solver_options("clarabel", max_iters=7)["max_iter"] == 7
    assert solver_registry.get_solver("ECOS").cvxpy_name == cp.ECOS


def test_uninstalled_solver_message(monkeypatch):
    monkeypatch.setattr(solver_registry, "is_installed", lambda name: name != "ecos")
    prob, ch = random_problem(4, 2, "squared", 0)
    with pytest.raises(SolverError, match="'ecos' is not installed.*pip install ecos"):
        solve_convex(prob, ch, solver="ecos")
    assert solver_registry.installed_solvers() == ["clarabel", "scs"]


def _fake_status(status):
    real_solve = cp.Problem.solve

    def fake(self, *args, **kwargs):
        value = real_solve(self, *args, **kwargs)
        self._status = status
        return value

    return fake


@pytest.mark.parametrize("status", ["infeasible", "unbounded", "solver_error", "user_limit",
                                    "infeasible_inaccurate"])
def test_non_optimal_status_raises(monkeypatch, status):
    monkeypatch.setattr(cp.Problem, "solve", _fake_status(status))
    prob, ch = random_problem(4, 2, "squared", 0)
    with pytest.raises(SolverError, match=f"solver clarabel returned status '{status}'"):
        solve_convex(prob, ch)


def test_optimal_inaccurate_is_a_warning(monkeypatch):
    monkeypatch.setattr(cp.Problem, "solve", _fake_status("optimal_inaccurate"))
    prob, ch = random_problem(4, 2, "squared", 0)
    sol = solve_convex(prob, ch)
    assert sol.status == "optimal_inaccurate"
    assert any("optimal_inaccurate" in w for w in sol.warnings)
    assert sol.to_record()["warnings"]


def test_solver_exception_becomes_solver_error(monkeypatch):
    def boom(self, *args, **kwargs):
        raise cp.error.SolverError("Solver 'CLARABEL' failed.")

    monkeypatch.setattr(cp.Problem, "solve", boom)
    prob, ch = random_problem(4, 2, "squared", 0)
    with pytest.raises(SolverError, match="solver clarabel failed"):
        solve_convex(prob, ch)


def test_ecos_logistic_failure_is_reported():
    """ECOS's exponential cone breaks down on this logistic problem: a SolverError, never hidden."""
    if not is_installed("ecos"):
        pytest.skip("ecos not installed")
    rng = np.random.default_rng(7)
    X = np.column_stack([rng.standard_normal((10, 2)), np.ones(10)])
    y = np.sign(rng.standard_normal(10))
    prob = Problem.create(X, y, 0.2, "logistic")
    with pytest.raises(SolverError, match=r"solver ecos failed.*use clarabel \(default\) or scs"):
        solve_convex(prob, incremental_chambers(X), solver="ecos", tol=1e-8)


def test_iteration_limit_is_reported():
    """SCS stopped after 2 iterations: not optimal → error or an explicit inaccuracy warning."""
    prob, ch = random_problem(7, 2, "squared", 0)
    try:
        sol = solve_convex(prob, ch, solver="scs", max_iters=2)
    except SolverError as exc:
        assert "scs" in str(exc)
    else:
        assert sol.status == "optimal_inaccurate" and sol.warnings


# ------------------------------------------------------------------------------------------------
# CLI (needs hiddenconvex.patterns.enumerate_patterns)


def _cli(args, capsys):
    from hiddenconvex.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _pattern_cache_in_tmp(tmp_path, monkeypatch):
    """The solve CLI caches patterns on disk: keep the cache out of the working tree."""
    monkeypatch.setenv("HIDDENCONVEX_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def o9_csv(tmp_path):
    path = tmp_path / "o9.csv"
    path.write_text("x,y\n1,3\n-1,2\n")
    return path


def _need_patterns():
    patterns = pytest.importorskip("hiddenconvex.patterns")
    if not hasattr(patterns, "enumerate_patterns") or not hasattr(patterns, "exact_chambers"):
        pytest.skip("hiddenconvex.patterns.enumerate_patterns not available yet")


def test_cli_solve_json_o9(o9_csv, capsys):
    _need_patterns()
    code, out, _ = _cli(["solve", str(o9_csv), "--beta", "1", "--json"], capsys)
    assert code == 0
    rec = json.loads(out)
    for key in ("objective", "loss", "regularization", "status", "solver", "num_patterns",
                "active_blocks", "certified", "lower_bound", "gap", "beta_max", "solve_seconds",
                "compile_seconds", "solver_version", "pattern_method", "seed", "warnings"):
        assert key in rec, key
    assert rec["objective"] == pytest.approx(4.0, abs=1e-7)
    assert rec["loss_value"] + rec["regularization"] == pytest.approx(4.0, abs=1e-7)
    assert rec["certified"] is True and rec["lower_bound"] == pytest.approx(4.0, abs=1e-6)
    assert rec["beta_max"] == pytest.approx(3.0, abs=1e-12)
    assert rec["num_patterns"] == 2 and rec["active_blocks"] == 2
    assert rec["status"] == "optimal" and rec["solver"] == "clarabel" and rec["loss"] == "squared"


@pytest.mark.parametrize("solver", solver_params())
def test_cli_solve_solvers_and_table(o9_csv, capsys, solver):
    _need_patterns()
    code, out, _ = _cli(["solve", str(o9_csv), "--beta", "1", "--solver", solver,
                         "--tol", "1e-10"], capsys)
    table = dict(line.split(None, 1) for line in out.splitlines() if len(line.split()) == 2)
    assert code == 0 and table["solver"] == solver and table["certified"] == "True"
    assert float(table["objective"]) == pytest.approx(4.0, abs=1e-7)  # O9


def test_cli_solve_hinge_and_logistic(tmp_path, capsys):
    _need_patterns()
    path = tmp_path / "cls.csv"
    path.write_text("a,b,y\n1,0,1\n0,1,-1\n1,1,1\n-1,0.5,-1\n")
    for loss in ("hinge", "logistic"):
        code, out, _ = _cli(["solve", str(path), "--beta", "0.1", "--loss", loss, "--bias",
                             "--json"], capsys)
        assert code == 0
        rec = json.loads(out)
        assert rec["loss"] == loss and rec["certified"] is True and rec["d"] == 3


@pytest.mark.parametrize("args,match", [
    (["--beta", "0"], "beta"),
    (["--beta", "-1"], "beta"),
    (["--beta", "nan"], "beta"),
    (["--beta", "1", "--loss", "logistic"], "labels"),
    (["--beta", "1", "--solver", "gurobi"], "unknown solver"),
    (["--beta", "1", "--tol", "-1"], "tolerance"),
    (["--beta", "1", "--seed", "-3"], "seed"),
])
def test_cli_input_errors_exit_2(o9_csv, capsys, args, match):
    _need_patterns()
    code, _, err = _cli(["solve", str(o9_csv), *args], capsys)
    assert code == 2 and match in err and "Traceback" not in err


def test_cli_uninstalled_solver_exit_3(o9_csv, capsys, monkeypatch):
    _need_patterns()
    monkeypatch.setattr(solver_registry, "is_installed", lambda name: name != "scs")
    code, _, err = _cli(["solve", str(o9_csv), "--beta", "1", "--solver", "scs"], capsys)
    assert code == 3 and "pip install scs" in err


def test_cli_solver_failure_exit_3(o9_csv, capsys, monkeypatch):
    _need_patterns()
    monkeypatch.setattr(cp.Problem, "solve", _fake_status("infeasible"))
    code, _, err = _cli(["solve", str(o9_csv), "--beta", "1"], capsys)
    assert code == 3 and "infeasible" in err


def test_cli_sampled_patterns_certificate(tmp_path, capsys):
    """A sampled solve is certified (or not) over ALL chambers; an under-sampled one shows a gap."""
    _need_patterns()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = rng.standard_normal(12)
    path = tmp_path / "r.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X, y, strict=True)))
    code, out, _ = _cli(["solve", str(path), "--beta", "0.2", "--method", "sample",
                         "--samples", "2", "--seed", "1", "--json"], capsys)
    assert code == 0
    rec = json.loads(out)
    assert rec["patterns_complete"] is False and rec["num_chambers"] == 24  # 2n chambers in 2-D
    full = solve_convex(Problem.create(X, y, 0.2), incremental_chambers(X))
    assert rec["lower_bound"] <= full.objective.total + 1e-9 <= rec["objective"] + 2e-9
    if not rec["certified"]:
        assert rec["gap"] >= rec["objective"] - full.objective.total - 1e-9


def test_cli_solve_pattern_cache(o9_csv, tmp_path, capsys):
    _need_patterns()
    cache = tmp_path / "cache"
    code, out, _ = _cli(["solve", str(o9_csv), "--beta", "1", "--json", "--no-cache"], capsys)
    assert code == 0 and json.loads(out)["pattern_cache_hit"] is False and not cache.exists()
    first = json.loads(_cli(["solve", str(o9_csv), "--beta", "1", "--json"], capsys)[1])
    second = json.loads(_cli(["solve", str(o9_csv), "--beta", "1", "--json"], capsys)[1])
    assert first["pattern_cache_hit"] is False and second["pattern_cache_hit"] is True
    assert cache.exists() and second["objective"] == pytest.approx(first["objective"], rel=1e-12)


def test_clarabel_logistic_spirals_regression():
    """Clarabel stalled (InsufficientProgress) on this bundled logistic program with its default max
    step 0.99; the program sets max_step_fraction = 0.9 for logistic losses. Certified optimum."""
    from pathlib import Path

    from hiddenconvex.datasets import load_csv

    ds = load_csv(Path(__file__).resolve().parents[1] / "data" / "spirals.csv", bias=True)
    prob = Problem.create(ds.X, ds.y, 0.1, "logistic")
    sol = solve_convex(prob, exact_chambers(prob.X))
    assert sol.status == "optimal" and sol.certificate.certified
    lb = sol.certificate.lower_bound
    assert lb <= sol.objective.total <= lb * (1 + 1e-6)
