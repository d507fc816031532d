"""The front door hiddenconvex.solve() -> Result (issue 15), against closed forms and the pieces it
composes (patterns, convex program, certificate, optimal set, ψ)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference_problems import get, reference_problems
from tolerances import IP_REFERENCE, rounding, solve_error

import hiddenconvex as hc
from hiddenconvex import InputError, Problem, objective
from hiddenconvex.api import STRATEGIES, add_bias
from hiddenconvex.convex_program import ConvexProgram
from hiddenconvex.patterns import exact_chambers, sample_patterns


@pytest.fixture(scope="module")
def default_data():
    from hiddenconvex.experiments.datasets import load_dataset

    data = load_dataset("default")
    return data.X, data.y


def test_readme_example_runs(default_data):
    """The five-line example at the top of the README (same calls, same order)."""
    X, y = default_data
    res = hc.solve(X, y, beta=0.1)
    assert res.certified
    assert res.optimal_set.m_star == 5 and res.optimal_set.unique  # the bundled default data
    net = res.network()
    assert net.width == 5 and net.predict(X).shape == y.shape


def _cone_violation_fit(weights, X) -> float:
    """Σ_b ‖relu(X w_b) − D_b X w_b‖: how far ψ's prediction can be from the blocks' when the
    solver's blocks leave their cones by its feasibility error (rows of the wrong sign)."""
    XW = X @ weights.W.T
    D = np.concatenate([weights.D, weights.D], axis=1)
    return float(np.linalg.norm(np.maximum(XW, 0.0) - D * XW, axis=0).sum())


@pytest.mark.parametrize("ref", [r for r in reference_problems() if r.loss != "hinge"],
                         ids=lambda r: r.name)
def test_closed_forms_through_solve(ref):
    res = hc.solve(ref.X, ref.y, ref.beta, ref.loss, patterns="exact")
    assert res.solution.status == "optimal" or res.solution.iterations == 0
    assert abs(res.objective - ref.value) <= solve_error(res.solution, IP_REFERENCE)
    assert res.certified
    # the certificate's lower bound is valid: below the true optimum up to rounding
    assert res.lower_bound <= ref.value + rounding(ref.value, 64)
    if ref.beta_max is not None:
        assert abs(res.beta_max - ref.beta_max) <= rounding(ref.beta_max, 64)
        assert res.beta_max_complete


def test_result_is_the_composition_of_its_parts(default_data):
    """solve() gives exactly what the pieces give when composed by hand (same solver, same
    chambers): the same objective, weights and certificate."""
    X, y = default_data
    res = hc.solve(X, y, 0.1, patterns="exact")
    prob = Problem.create(X, y, 0.1)
    ch = exact_chambers(X)
    sol = ConvexProgram(prob, ch).solve()
    assert np.array_equal(res.patterns.D, ch.D)
    assert res.objective == sol.objective.total  # deterministic: identical runs
    assert np.array_equal(res.weights.W, sol.weights.W)
    assert res.certificate.M == sol.certificate.M
    assert res.objective == objective(prob, res.weights).total
    rec = res.to_dict()
    json.dumps(rec)
    for key in ("objective", "certified", "lower_bound", "gap", "max_correlation", "beta_max",
                "beta_max_complete", "strategy", "convex_seconds", "warnings"):
        assert key in rec, key
    assert rec["strategy"] == "full" and rec["objective"] == res.objective


def test_problem_input_and_bias(default_data):
    X, y = default_data
    a = hc.solve(X, y, 0.1, bias=True)
    b = hc.solve(Problem.create(add_bias(X), y, 0.1), bias=True)
    assert a.problem.d == X.shape[1] + 1 and np.array_equal(a.problem.X, b.problem.X)
    assert a.objective == b.objective
    # predict appends the ones column; the network itself works on [x, 1]
    Xnew = X[:5] + 0.1
    assert np.array_equal(a.predict(Xnew), a.network().predict(add_bias(Xnew)))
    with pytest.raises(InputError, match="columns"):
        a.predict(add_bias(Xnew))


def test_network_width_and_lazy_optimal_set(default_data):
    X, y = default_data
    res = hc.solve(X, y, 0.1)
    assert "optimal_set_seconds" not in res.seconds  # nothing computed before first access
    first = res.optimal_set
    assert res.optimal_set is first and "optimal_set_seconds" in res.seconds
    net = res.network(width=20)
    assert net.width == 20
    assert np.count_nonzero(net.neuron_norms()) == res.solution.active_blocks().size == 5
    # ψ is exact for feasible W (SPEC §4.2): with every nonzero block kept (tol = 0) the network
    # reproduces the blocks' prediction up to their cone violation (the solver's feasibility
    # error) and rounding, and its regularization equals Σ‖w_b‖
    prob = res.problem
    exact = res.network(tol=0.0)
    viol = _cone_violation_fit(res.weights, prob.X)  # ~1e-10 here: the solver's feasibility
    delta = float(np.linalg.norm(exact.predict(prob.X) - res.solution.yhat))
    assert delta <= viol + rounding(np.abs(res.solution.yhat).max(), 64 * exact.width)
    r = float(np.linalg.norm(res.solution.yhat - prob.y))
    assert abs(objective(prob, exact).total - res.objective) <= (
        r * delta + 0.5 * delta**2 + rounding(res.objective, 64 * exact.width))
    # the 5-neuron network is optimal to the certificate's gap plus the left-out blocks: they
    # carry at most β Σ‖w_b‖ of regularization and move the prediction by at most their fits
    left = np.setdiff1d(np.arange(res.weights.W.shape[0]), res.solution.active_blocks())
    mass = float(res.weights.norms()[left].sum())
    fit = float(np.linalg.norm(res.weights.fits(prob.X)[:, left], axis=0).sum())
    r = float(np.linalg.norm(res.solution.yhat - prob.y))
    fit += viol
    bound = res.gap + prob.beta * mass + r * fit + 0.5 * fit**2 + rounding(res.objective, 640)
    assert res.lower_bound - rounding(res.objective, 640) <= objective(prob, net).total
    assert objective(prob, net).total - res.lower_bound <= bound
    with pytest.raises(InputError, match="width"):
        res.network(width=1)


def test_optimal_set_unavailable_reasons():
    ref = get("hinge_O15_beta0.5")
    res = hc.solve(ref.X, ref.y, ref.beta, "hinge")
    assert res.certified and "not strictly convex" in res.optimal_set_available
    with pytest.raises(InputError, match="not strictly convex"):
        _ = res.optimal_set
    assert res.try_optimal_set()[0] is None
    # a sampled list whose chambers are not enumerated: with bound="enumerate" no lower bound
    # and no optimal set; with the default bound the search gives a valid lower bound
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    auto = hc.solve(X, y, 0.5, patterns=sample_patterns(X, 50, 0), max_chambers=10,
                    bound_time_limit=2)  # any budget gives a valid bound
    assert auto.certificate.m_source == "search" and auto.lower_bound is not None
    ref = hc.solve(X, y, 0.5, patterns="exact", strategy="full")
    assert ref.certified and auto.lower_bound <= ref.objective + solve_error(ref.solution)
    res = hc.solve(X, y, 0.5, patterns=sample_patterns(X, 50, 0), max_chambers=10,
                   bound="enumerate")
    assert res.chambers is None and not res.certified and res.lower_bound is None
    assert not res.beta_max_complete
    why = res.optimal_set_available
    assert "Cover bound" in why and "max_chambers" in why
    with pytest.raises(InputError, match="unaffordable"):
        _ = res.optimal_set


@pytest.mark.parametrize("kwargs, match", [
    ({"strategy": "magic"}, "unknown strategy"),
    ({"solver": "nope"}, "unknown solver"),
    ({"patterns": "some"}, "unknown pattern method"),
    ({"tol": -1.0}, "tolerance"),
])
def test_bad_arguments_fail_before_any_work(kwargs, match):
    X = np.eye(3)
    with pytest.raises(InputError, match=match):
        hc.solve(X, np.ones(3), 0.1, **kwargs)


def test_missing_or_doubled_arguments():
    prob = Problem.create(np.eye(2), np.ones(2), 0.1)
    with pytest.raises(InputError, match="required"):
        hc.solve(np.eye(2), np.ones(2))
    with pytest.raises(InputError, match="takes y and beta from the Problem"):
        hc.solve(prob, np.ones(2), 0.1)
    assert set(STRATEGIES) >= {"auto", "full"}


def test_beta_above_beta_max_is_the_certified_zero_network():
    ref = get("O9_zero")
    res = hc.solve(ref.X, ref.y, ref.beta)
    assert res.certified and not np.any(res.weights.W)
    # ℓ(0) = ½‖y‖² = 6.5 is computed by a 2-term sum of exact squares: rounding only
    assert abs(res.objective - 0.5 * float(ref.y @ ref.y)) <= rounding(6.5, 8)
    assert abs(res.beta_max - ref.beta_max) <= rounding(ref.beta_max, 64)


def test_search_bound_certificate_is_valid():
    """bound="search": M from the anytime search is >= the exact M(λ) over all chambers, so its
    lower bound is below the exact optimum; JSON carries the bound's fields."""
    from hiddenconvex.certificate import max_correlation
    from hiddenconvex.experiments.datasets import load_dataset

    data = load_dataset("teacher_2d")
    pats = sample_patterns(data.X, 30, seed=1)
    res = hc.solve(data.X, data.y, 0.2, patterns=pats, bound="search", bound_time_limit=30)
    cert = res.certificate
    assert cert.m_source == "search" and res.search is not None
    exact = exact_chambers(data.X)
    M_exact = max_correlation(data.X, res.solution.dual, exact)
    assert cert.M >= M_exact
    ref = hc.solve(data.X, data.y, 0.2, patterns=exact, strategy="full")
    assert ref.certified
    assert cert.lower_bound <= ref.objective + solve_error(ref.solution)
    rec = res.to_dict()
    assert rec["bound_method"] == "search" and rec["correlation_upper_bound"] == cert.M
    assert rec["relative_gap"] == pytest.approx(cert.gap / abs(res.objective), rel=1e-15)
    enum = hc.solve(data.X, data.y, 0.2, patterns=pats, bound="enumerate", max_chambers=10)
    assert enum.lower_bound is None and enum.to_dict()["bound_method"] is None
    with pytest.raises(InputError, match="bound"):
        hc.solve(data.X, data.y, 0.2, bound="guess")


@pytest.mark.slow
def test_readme_iris_example_is_certified():
    """The README's iris example: all 1,080,590 chambers streamed through the working set, and the
    optimum certified over all of them (about a minute on 2 cores)."""
    from hiddenconvex.experiments.datasets import load_dataset

    iris = load_dataset("iris", bias=False)
    res = hc.solve(iris.X, iris.y, beta=0.1)
    assert res.strategy == "working-set" and res.certified
    assert res.certificate.num_chambers == 1_080_590
    assert res.to_dict()["ws_status"] == "converged"
