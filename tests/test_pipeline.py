"""The batch task (hiddenconvex.experiments.pipeline): run_pipeline and its parameter checks."""

from __future__ import annotations

import json

import pytest
from tolerances import project_blocks, rounding

from hiddenconvex import InputError, Problem, objective
from hiddenconvex.convex_program import solve_convex
from hiddenconvex.experiments.pipeline import check_params, run_pipeline, train_seeds
from hiddenconvex.patterns import exact_chambers
from hiddenconvex.verification import REACH_TOL

PARAMS = {"dataset": "default", "beta": 0.1, "loss": "squared", "solver": "clarabel",
          "method": "exact", "samples": 0, "width": 10, "n_train_seeds": 2}


def test_run_pipeline_default_dataset():
    rec = run_pipeline(PARAMS, 0)
    assert rec["train_seeds"] == [0, 1]
    json.dumps(rec)  # JSON-able metrics
    assert rec["certified"] and rec["patterns_complete"] and rec["n_patterns"] == 80
    # the convex optimum is objective() of the weights, independent of the solver: a second
    # solver's weights give the same value
    from hiddenconvex.experiments.datasets import load_dataset

    data = load_dataset("default")
    prob = Problem.create(data.X, data.y, 0.1)
    other = solve_convex(prob, exact_chambers(prob.X), solver="ecos")
    # both sandwich P_c: rec's polished optimum in [lower_bound, convex_objective], ECOS's blocks
    # W (projected onto their cones: W′) in [LB, P(W′)] of its own certificate; rounding of all
    value = objective(prob, other.weights).total
    upper = objective(prob, project_blocks(other.weights, prob.X)).total
    rnd = rounding(value, 16 * (prob.n + 2 * other.patterns.p))
    own = rec["convex_objective"] - rec["lower_bound"]
    theirs = upper - other.certificate.lower_bound + abs(value - upper)
    assert abs(rec["convex_objective"] - value) <= max(own, 0.0) + max(theirs, 0.0) + 2 * rnd
    assert rec["best_objective"] >= rec["lower_bound"] - rnd
    assert rec["best_relative_gap"] <= REACH_TOL and rec["width_ge_m_star"]  # as above
    assert len(rec["relative_gaps"]) == 2 and min(rec["relative_gaps"]) == rec["best_relative_gap"]
    assert "solver" not in rec and "beta" not in rec  # parameter columns are not repeated


@pytest.mark.parametrize("change, pattern", [
    ({"dataset": "nope"}, "unknown dataset 'nope'"),
    ({"loss": "logistic"}, "labels"),
    ({"colour": 1}, "unknown pipeline option"),
    ({"train_method": "sgd"}, "train_method must be one of"),
    ({"n_train_seeds": 0}, "n_train_seeds must be an integer >= 1"),
    ({"verify_tol": -1.0}, "verify_tol must be a finite number > 0"),
    ({"grouping": "cells"}, "grouping must be one of"),
    ({"strategy": "columns"}, "strategy must be one of"),
])
def test_check_params_errors(change, pattern):
    with pytest.raises(InputError, match=pattern):
        check_params({**PARAMS, **change})


def test_working_set_strategy_gives_the_same_optimum():
    """The batch option strategy reaches the run's solve: same certified optimum either way."""
    rec_full = run_pipeline({**PARAMS, "n_train_seeds": 1, "strategy": "full"}, seed=0)
    rec_ws = run_pipeline({**PARAMS, "n_train_seeds": 1, "strategy": "working-set"}, seed=0)
    assert rec_full["certified"] and rec_ws["certified"]
    # lower_bound <= P_c <= convex_objective for both, so they differ by at most the larger gap
    tol = rec_full["certificate_gap"] + rec_ws["certificate_gap"] + \
        rounding(rec_full["convex_objective"], 4 * 40)
    assert abs(rec_full["convex_objective"] - rec_ws["convex_objective"]) <= tol


def test_check_params_accepts_the_default_config():
    import tomllib
    from pathlib import Path

    from hiddenconvex.experiments.config import expand_grid, parse_config

    text = (Path(__file__).resolve().parents[1] / "scripts/configs/default.toml").read_text()
    cfg = parse_config(tomllib.loads(text))
    runs = expand_grid(cfg)
    assert runs  # the loop below checks something
    for run in runs:
        check_params(run.params)  # raises InputError for a bad parameter set


def test_train_seeds_are_disjoint_across_runs():
    seen = [s for seed in range(5) for s in train_seeds(seed, 3)]
    assert seen == list(range(15))
