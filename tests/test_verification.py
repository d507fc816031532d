"""Verification of trained networks against the convex optimum (hiddenconvex.verification, CLI).

Reference problem O9 of SPEC §6: X = [[1], [-1]], y = (3, 2), beta = 1 decouples into two n = 1
problems: P_c = 4 = P*_m for m >= m* = 2, optimal net u = (sqrt 2, -1), alpha = (sqrt 2, 1);
P*_1 = 4.5 (one neuron fits point 1: w = 2, u = alpha = sqrt 2). Restricted to the single pattern
diag(1, 0) (O22): P_S = 4.5, not certified, lower bound 2.875.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from hiddenconvex import InputError, Problem, ReLUNetwork, objective
from hiddenconvex.cli import main as cli_main
from hiddenconvex.convex_program import solve_convex
from hiddenconvex.minimality import GROUPINGS
from hiddenconvex.patterns import exact_chambers
from hiddenconvex.verification import (
    BELOW_TOL,
    OptimalityViolation,
    check_params,
    convex_reference,
    run_pipeline,
    train_seeds,
    verify_network,
    verify_networks,
    verify_training,
)

X9 = np.array([[1.0], [-1.0]])
Y9 = np.array([3.0, 2.0])
OPTIMAL9 = ReLUNetwork(np.array([[math.sqrt(2)], [-1.0]]), np.array([math.sqrt(2), 1.0]))
WIDTH1_9 = ReLUNetwork(np.array([[math.sqrt(2)]]), np.array([math.sqrt(2)]))  # P*_1 = 4.5


@pytest.fixture(scope="module")
def problem9():
    return Problem.create(X9, Y9, 1.0)


@pytest.fixture(scope="module")
def ref9(problem9):
    return convex_reference(problem9, exact_chambers(X9))


def test_reference_closed_form(ref9):
    assert ref9.convex_objective == pytest.approx(4.0, rel=1e-8)
    assert ref9.certified and ref9.complete
    assert ref9.lower_bound <= 4.0 + 1e-12 and ref9.lower_bound == pytest.approx(4.0, rel=1e-8)
    assert ref9.psi_objective == pytest.approx(4.0, rel=1e-8)
    assert ref9.optimal_set is not None and ref9.optimal_set.m_star == 2
    rec = ref9.to_record()
    assert rec["m_star"] == 2 and rec["unique"] is True
    assert rec["minimal_objective"] == pytest.approx(4.0, rel=1e-8)
    assert rec["psi_gap"] == pytest.approx(0.0, abs=1e-8)


def test_optimal_network_report(ref9):
    rep = verify_network(ref9, OPTIMAL9)
    assert rep.objective == objective(ref9.problem, OPTIMAL9).total == pytest.approx(4.0)
    assert abs(rep.relative_gap) <= 1e-8 and rep.reached and not rep.below_uncertified
    assert rep.scaled and all(rep.nearly_minimal[g] for g in GROUPINGS)
    assert rep.in_optimal_set is True and rep.membership_reason == ""
    assert rep.direction_error <= 1e-6
    assert rep.phi_objective == pytest.approx(4.0, rel=1e-12)
    assert rep.phi_certificate.certified and rep.phi_certificate.gap <= 1e-6
    rec = rep.to_record()
    assert rec["nearly_minimal"] is True and rec["nearly_minimal_groupings"] == ",".join(GROUPINGS)


def test_split_optimal_network_is_a_member(ref9):
    """Splitting a neuron (SPEC §4.4) keeps optimality: still a member, same objective."""
    c = np.sqrt([0.3, 0.7])
    net = ReLUNetwork(np.vstack([c[:, None] * OPTIMAL9.U[0], OPTIMAL9.U[1:]]),
                      np.concatenate([c * OPTIMAL9.alpha[0], OPTIMAL9.alpha[1:]]))
    rep = verify_network(ref9, net)
    assert rep.in_optimal_set and rep.nearly_minimal["cone"]
    assert rep.objective == pytest.approx(4.0, rel=1e-12)


def test_suboptimal_network_report(ref9):
    rep = verify_network(ref9, WIDTH1_9)
    assert rep.objective == pytest.approx(4.5)
    assert rep.relative_gap == pytest.approx(0.125) and not rep.reached
    assert rep.in_optimal_set is False and "prediction" in rep.membership_reason
    assert rep.phi_objective == pytest.approx(4.5)
    assert not rep.phi_certificate.certified  # lambda = (0.5, 2): M = 2 > beta
    assert rep.phi_certificate.M == pytest.approx(2.0, rel=1e-9)


def test_unbalanced_network_is_not_scaled(ref9):
    net = ReLUNetwork(OPTIMAL9.U * 2.0, OPTIMAL9.alpha / 2.0)  # same function, larger L_beta
    rep = verify_network(ref9, net)
    assert rep.relative_gap > 0.1 and not rep.scaled
    assert not any(rep.nearly_minimal.values())
    assert rep.in_optimal_set is False and "balanced" in rep.membership_reason
    assert rep.phi_objective == pytest.approx(4.0, rel=1e-12)  # phi only sees |alpha_i| u_i


def test_below_certified_lower_bound_raises(ref9):
    broken = dataclasses.replace(ref9, lower_bound=ref9.convex_objective + 0.1)
    with pytest.raises(OptimalityViolation, match="below the certified lower bound.*bug"):
        verify_network(broken, OPTIMAL9)
    # rounding-level differences do not raise: the margin is BELOW_TOL relative
    tight = dataclasses.replace(ref9, lower_bound=4.0 * (1 + 0.5 * BELOW_TOL))
    verify_network(tight, OPTIMAL9)


def test_sampled_patterns_missing_a_chamber(problem9):
    """O22: the single pattern diag(1, 0); a width-2 net beats P_S = 4.5: evidence, not an error."""
    chambers = exact_chambers(X9)
    k = int(np.flatnonzero((chambers.D[0]) & (~chambers.D[1]))[0])
    sub = chambers.subset([k])
    ref = convex_reference(problem9, sub)
    assert ref.convex_objective == pytest.approx(4.5, rel=1e-8)
    assert not ref.certified and not ref.complete
    assert ref.lower_bound == pytest.approx(2.875, rel=1e-8)
    assert ref.optimal_set is None and "not certified" in ref.optimal_set_note
    report = verify_networks(ref, [OPTIMAL9, WIDTH1_9])
    assert [r.below_uncertified for r in report.networks] == [True, False]
    assert report.networks[0].in_optimal_set is None
    assert report.patterns_missing_evidence
    assert any("miss chambers" in w for w in report.warnings)
    assert report.to_record()["patterns_missing_evidence"] is True


def test_verify_training_reaches_the_optimum(problem9):
    report = verify_training(problem9, 4, 4, method="exact", train_method="lbfgs")
    ref = report.reference
    objs = [r.objective for r in report.networks]
    # (verify_network would have raised otherwise; the bound is exact, so allow rounding only)
    assert min(objs) >= ref.lower_bound - 1e-12 * max(1.0, abs(ref.lower_bound))
    assert report.best_relative_gap <= 1e-6
    assert any(r.in_optimal_set for r in report.networks)
    rec = report.to_record()
    assert rec["n_trained"] == 4 and rec["width"] == 4 and rec["width_ge_m_star"]
    assert rec["best_objective"] == min(objs)
    for key in ("patterns_seconds", "convex_seconds", "optimal_set_seconds", "train_seconds",
                "verify_seconds"):
        assert rec[key] >= 0


def test_hinge_reports_without_optimal_set():
    prob = Problem.create(X9, [1.0, -1.0], 0.5, "hinge")
    report = verify_training(prob, 3, 2, method="exact", train_method="lbfgs")
    assert report.reference.optimal_set is None
    assert "not strictly convex" in report.reference.optimal_set_note
    assert all(r.in_optimal_set is None for r in report.networks)
    assert report.to_record()["n_in_optimal_set"] is None


def test_verify_errors(ref9):
    with pytest.raises(InputError, match="tol must be finite and > 0"):
        verify_networks(ref9, [OPTIMAL9], tol=0)
    with pytest.raises(InputError, match="expected a ReLUNetwork"):
        verify_network(ref9, "net")
    with pytest.raises(InputError, match="unknown training method"):
        verify_training(ref9.problem, 2, 1, train_method="sgd")
    with pytest.raises(InputError, match="unknown solver|solver"):
        verify_training(ref9.problem, 2, 1, solver="nope")


# ----------------------------------------------------------------------------------------------
# batch task
# ----------------------------------------------------------------------------------------------
PARAMS = {"dataset": "default", "beta": 0.1, "loss": "squared", "solver": "clarabel",
          "method": "exact", "samples": 0, "width": 10, "n_train_seeds": 2}


def test_run_pipeline_default_dataset():
    rec = run_pipeline(PARAMS, 0)
    assert rec["train_seeds"] == [0, 1]
    json.dumps(rec)  # JSON-able metrics
    assert rec["certified"] and rec["patterns_complete"] and rec["n_patterns"] == 80
    # the convex optimum is objective() of the weights, independent of the solver: a second
    # solver's weights give the same value
    from hiddenconvex.datasets import load_dataset

    data = load_dataset("default")
    prob = Problem.create(data.X, data.y, 0.1)
    other = solve_convex(prob, exact_chambers(prob.X), solver="ecos")
    assert rec["convex_objective"] == pytest.approx(objective(prob, other.weights).total, rel=1e-6)
    assert rec["best_objective"] >= rec["lower_bound"]
    assert rec["best_relative_gap"] <= 1e-4 and rec["width_ge_m_star"]
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
])
def test_check_params_errors(change, pattern):
    with pytest.raises(InputError, match=pattern):
        check_params({**PARAMS, **change})


def test_check_params_accepts_the_default_config():
    import tomllib
    from pathlib import Path

    from hiddenconvex.experiments import expand_grid, parse_config

    text = (Path(__file__).resolve().parents[1] / "scripts/configs/default.toml").read_text()
    cfg = parse_config(tomllib.loads(text))
    for run in expand_grid(cfg):
        check_params(run.params)


def test_train_seeds_are_disjoint_across_runs():
    seen = [s for seed in range(5) for s in train_seeds(seed, 3)]
    assert seen == list(range(15))


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
@pytest.fixture()
def csv9(tmp_path):
    path = tmp_path / "o9.csv"
    pd.DataFrame({"x": X9[:, 0], "y": Y9}).to_csv(path, index=False)
    return path


def test_cli_verify_json(csv9, capsys):
    rc = cli_main(["verify", str(csv9), "--beta", "1", "--width", "3", "--seeds", "3",
                   "--train-method", "lbfgs", "--method", "exact", "--no-cache", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("convex_objective", "certified", "psi_objective", "trained_objectives",
                "best_relative_gap", "nearly_minimal"):
        assert key in out
    assert out["convex_objective"] == pytest.approx(4.0, rel=1e-8) and out["certified"] is True
    assert out["psi_objective"] == pytest.approx(4.0, rel=1e-8)
    assert len(out["trained_objectives"]) == 3 and len(out["nearly_minimal"]) == 3
    assert out["best_relative_gap"] == pytest.approx(
        (min(out["trained_objectives"]) - out["convex_objective"]) / out["convex_objective"])
    assert all(isinstance(b, bool) for b in out["nearly_minimal"])
    assert out["m_star"] == 2


@pytest.mark.parametrize("argv, pattern", [
    (["--width", "0"], "--width must be >= 1"),
    (["--width", "2", "--seeds", "0"], "--seeds must be >= 1"),
    (["--width", "2", "--solver", "nope"], "solver"),
    (["--width", "2", "--verify-tol", "0"], "--verify-tol must be > 0"),
])
def test_cli_verify_user_errors(csv9, capsys, argv, pattern):
    assert cli_main(["verify", str(csv9), "--beta", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert pattern in err and err.count("\n") == 1


def test_cli_run_writes_summary_curves_and_figure(csv9, tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli_main(["run", str(csv9), "--beta", "1", "--seeds", "2", "--width", "3",
                   "--train-method", "lbfgs", "--no-cache", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "convex optimum P_c = 4" in text and "m* = 2" in text
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 and list(summary["train_seed"]) == [0, 1]
    assert (summary["convex_objective"] - 4.0).abs().max() <= 4e-8
    assert (summary["objective"] >= summary["lower_bound"]).all()
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["train_seed"]) == {0, 1}
    last = curves.sort_values("iteration").groupby("train_seed")["objective"].last()
    assert np.allclose(last.to_numpy(), summary["objective"].to_numpy(), rtol=1e-12)
    pytest.importorskip("matplotlib")
    assert (out / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_cli_run_unwritable_results_folder(csv9, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli_main(["run", str(csv9), "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot create results folder" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------------------------
# acceptance (issue 5): every bundled dataset with exact patterns
# ----------------------------------------------------------------------------------------------
ACCEPTANCE = [  # (dataset, loss): squared loss for all (±1 labels are valid targets) and the
    # logistic loss for the classification sets
    ("default", "squared"), ("teacher_1d", "squared"), ("low_rank", "squared"),
    ("teacher_2d", "squared"), ("spirals", "squared"), ("iris_pca2", "squared"),
    ("wine_pca2", "squared"), ("breast_cancer_pca2", "squared"), ("diabetes_pca2", "squared"),
    ("spirals", "logistic"), ("iris_pca2", "logistic"), ("wine_pca2", "logistic"),
    ("breast_cancer_pca2", "logistic"),
]


@pytest.mark.slow
@pytest.mark.parametrize("dataset, loss", ACCEPTANCE, ids=[f"{a[0]}-{a[1]}" for a in ACCEPTANCE])
def test_acceptance_trained_networks_reach_certified_optimum(dataset, loss):
    """Width 2n >= n + m* (m* <= n for beta > 0, SPEC §4.6): no spurious valleys (SPEC §4.9).
    The optimal set is not built (its MILP for m* is slow on some of these sets); width >= m*
    holds by the bound."""
    from hiddenconvex.datasets import load_dataset
    from hiddenconvex.training import train_many

    data = load_dataset(dataset)
    prob = Problem.create(data.X, data.y, 0.1, loss)
    ref = convex_reference(prob, exact_chambers(prob.X), build_optimal_set=False)
    assert ref.certified
    # verify_networks raises OptimalityViolation for a network below the certified lower bound
    report = verify_networks(ref, train_many(prob, 2 * prob.n, 4, "lbfgs-kinks"))
    assert min(r.objective for r in report.networks) >= ref.lower_bound * (1 - BELOW_TOL)
    assert report.best_relative_gap <= 1e-4, report.best_relative_gap


@pytest.mark.parametrize("seed", [0, 11])
def test_o21_differentiable_stationary_point_solves_its_own_subsampled_program(seed):
    """SPEC O21: an L-BFGS point with no pre-activation at a kink and a tiny gradient is scaled,
    nearly minimal under every grouping, and L_beta(theta) = P_S of the convex program on its own
    patterns (seed 0 reaches P_c; seed 11 stops at another stationary point)."""
    from hiddenconvex.patterns import Patterns
    from hiddenconvex.synthetic import gaussian_regression
    from hiddenconvex.training import train

    X, y, _ = gaussian_regression(5, 2, seed=0)
    prob = Problem.create(X, y, 0.3)
    res = train(prob, 10, seed=seed, tol=1e-12)
    net = res.network
    live = np.maximum(net.neuron_norms(), np.abs(net.alpha)) > 1e-6
    U = net.U[live]
    z = np.abs(X @ U.T) / np.outer(np.linalg.norm(X, axis=1), np.linalg.norm(U, axis=1))
    assert z.min() > 1e-6 and res.grad_norm < 1e-7  # a differentiable stationary point
    D, idx = np.unique(X @ U.T >= 0, axis=1, return_index=True)
    own = Patterns(D=D, witnesses=U[idx], method="sample", complete=False, rank=2)
    ref = convex_reference(prob, own)
    rep = verify_network(ref, net)
    assert rep.objective == pytest.approx(ref.convex_objective, rel=1e-9)
    assert rep.scaled and all(rep.nearly_minimal.values())
    assert not rep.below_uncertified
    exact = convex_reference(prob, exact_chambers(X))
    # P_S >= P_c (the bound is the exact optimum to rounding)
    assert ref.convex_objective >= exact.lower_bound - 1e-12 * max(1.0, abs(exact.lower_bound))
    assert ref.certified == (ref.convex_objective <= exact.convex_objective * (1 + 1e-8))
