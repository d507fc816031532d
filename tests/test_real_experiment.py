"""The real-data experiment (hiddenconvex.experiments.real, issue 16 item 2): rows against
independent full solves, the table builder, the figures and the config's per-grid options.

Small in-memory datasets stand in for the bundled ones (``preloaded_datasets``); the option
``max_stream_chambers`` makes a small arrangement count as "not enumerable", so the sampled path
(search bound) is checked against the exact optimum of that same small problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import load_script

import hiddenconvex as hc
from hiddenconvex.api import DEFAULT_CERTIFY_TOL
from hiddenconvex.certificate import beta_max as exact_beta_max
from hiddenconvex.experiments.config import expand_grid, load_config, parse_config
from hiddenconvex.experiments.datasets import Dataset, preloaded_datasets
from hiddenconvex.experiments.real import REAL_OPTIONS, ROW_STATUSES, RealRunError, run_real
from hiddenconvex.experiments.runner import run_batch
from hiddenconvex.experiments.summary import real_table
from hiddenconvex.objective import Problem
from hiddenconvex.verification import BELOW_TOL

# fast settings: two short trainings per main row, short searches
FAST = {"n_train": 2, "train_method": "lbfgs", "train_max_iter": 200, "bound_time_limit": 2.0,
        "beta_max_search_seconds": 2.0, "beta_max_starts": 200, "beta_max_gates": 200,
        "bound_starts": 200}


def _dataset(name: str, n: int, d: int, seed: int) -> Dataset:
    """Gaussian features with a ones column (the bias) and a 2-neuron ReLU teacher + noise."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    X = np.hstack([Z, np.ones((n, 1))])
    U = rng.standard_normal((2, d + 1))
    y = np.maximum(X @ U.T, 0) @ np.array([1.0, -0.7]) + 0.05 * rng.standard_normal(n)
    return Dataset(X=X, y=y, features=tuple(f"x{i}" for i in range(d)) + ("(bias)",),
                   name=name, meta={"bias": True})


DATA = {"tiny": _dataset("tiny", 12, 2, 0),   # rank 3: Cover's bound 134, exact in memory
        "small": _dataset("small", 14, 3, 1)}  # rank 4: Cover's bound 756


def _params(dataset="tiny", beta=0.1, method="auto", samples=0, **options):
    return {"dataset": dataset, "beta": beta, "loss": "squared", "solver": "clarabel",
            "method": method, "samples": samples, "width": 2, **FAST, **options}


def _run(params, seed=0):
    with preloaded_datasets(DATA):
        return run_real(params, seed)


def _exact(name: str, beta: float):
    """Independent reference: one full program over every chamber (in memory), certified."""
    ds = DATA[name]
    res = hc.solve(Problem.create(ds.X, ds.y, beta, "squared"), patterns="exact",
                   strategy="full", bound="enumerate")
    assert res.certified
    return res


def test_certified_row_matches_a_full_exact_solve():
    row = _run(_params())
    assert row["row_status"] == "ok" and row["result"] == "certified" and row["certified"]
    ds = DATA["tiny"]
    problem = Problem.create(ds.X, ds.y, 1.0, "squared")
    # β_max over all chambers: the stream's pricing pass against the in-memory enumeration; both
    # are the exact maximum of the same cone projections, so they agree to rounding (1e-12 rel.)
    assert row["beta_max_method"] == "chambers"
    assert row["beta_max"] == pytest.approx(exact_beta_max(problem), rel=1e-12)
    assert row["beta_value"] == pytest.approx(0.1 * row["beta_max"], rel=1e-15)
    ref = _exact("tiny", row["beta_value"])
    # both objectives lie within their own certified gap above P_c (lower bound <= P_c <=
    # objective), so they differ by at most the larger gap (plus rounding of the objectives)
    tol = max(row["objective"] - row["lower_bound"], ref.gap) + 1e-12 * abs(ref.objective)
    assert abs(row["objective"] - ref.objective) <= tol
    assert row["m_star"] == ref.optimal_set.m_star
    assert row["unique"] == ref.optimal_set.unique
    assert row["train_width"] == max(2, 2 * row["m_star"])
    assert len(row["train_objectives"]) == 2
    # no network beats the certified optimum (a trained L_β is an objective value >= P_c)
    assert row["best_train_objective"] >= row["lower_bound"] * (1 - BELOW_TOL)
    for key in ("beta_max_seconds", "convex_seconds", "optimal_set_seconds", "train_seconds"):
        assert row[key] >= 0


def test_sampled_row_bound_is_below_the_exact_optimum():
    # Cover's bound 756 > max_stream_chambers and > max_chambers: treated as not enumerable
    row = _run(_params("small", beta=0.1, samples=20, max_stream_chambers=100,
                       max_chambers=100))
    assert row["row_status"] in ROW_STATUSES and row["row_status"]
    assert row["enumerable"] is False and row["bound_method"] == "search"
    ref = _exact("small", row["beta_value"])
    # the certified lower bound lies below P_c <= the exact objective; the margin is rounding
    # of the bound's evaluation (BELOW_TOL relative, as in verification)
    lb = row["lower_bound"]
    assert lb is not None and lb <= row["objective"] * (1 + BELOW_TOL)
    assert lb <= ref.objective * (1 + BELOW_TOL)
    # a sampled program over a subset of the chambers cannot go below P_c (up to the gap of the
    # exact reference); with search columns it may reach it
    assert row["objective"] >= ref.lower_bound * (1 - BELOW_TOL)
    assert row["relative_gap"] == pytest.approx((row["objective"] - lb) / abs(row["objective"]),
                                                rel=1e-12)
    # β_max: exact by the completed search (rank 4), or a lower estimate with a valid upper bound
    problem = Problem.create(DATA["small"].X, DATA["small"].y, 1.0, "squared")
    true = exact_beta_max(problem)
    assert row["beta_max"] <= true * (1 + 1e-12) and row["beta_max_upper"] >= true * (1 - 1e-12)
    if row["beta_max_method"] == "search":
        assert row["beta_max"] == pytest.approx(true, rel=1e-9)
    assert row["m_star"] is None and "unaffordable" in row["optimal_set_reason"]
    assert row["train_reference"] == ("certified optimum" if row["certified"]
                                      else "sampled objective")


def test_sweep_row_uses_the_main_rows_beta():
    main = _run(_params("small", beta=0.1, samples=20, max_stream_chambers=100,
                        max_chambers=100))
    sweep = _run(_params("small", beta=0.1, method="sample", samples=5,
                         max_stream_chambers=100, max_chambers=100))
    assert sweep["role"] == "sweep" and "train_objectives" not in sweep
    assert sweep["beta_value"] == main["beta_value"]
    # the first 5 gates' patterns are a sub-list of the main row's list (20 gates, plus search
    # columns): sweep objective >= its list optimum >= the main list's optimum >= the main
    # objective - its gap, which the converged working set keeps below 10·tol·ℓ(0)
    y = DATA["small"].y
    slack = 10 * DEFAULT_CERTIFY_TOL * 0.5 * float(y @ y)
    assert sweep["objective"] >= main["objective"] - slack


def test_over_budget_row_keeps_a_valid_partial_bound():
    # one pattern per round and a tiny time limit: the working set stops after its first pass
    row = _run(_params(beta=0.01, ws_time_limit=1e-6, max_add=1))
    assert row["row_status"] == "time_limit" and row["ws_status"] == "time_limit"
    ref = _exact("tiny", row["beta_value"])
    assert not row["certified"]
    # the restricted optimum is an upper bound, the last full pass's bound a lower bound on P_c
    assert row["lower_bound"] <= ref.objective * (1 + BELOW_TOL)
    assert row["objective"] >= ref.lower_bound * (1 - BELOW_TOL)
    assert row["lower_bound"] < row["objective"]


def test_memory_refusal_and_errors_are_rows():
    row = _run(_params(max_memory_mb=1))
    assert row["row_status"] == "memory_limit" and "max_memory_mb" in row["row_error"]
    assert "objective" not in row and row["memory_estimate_mb"] > 1
    # a failing phase raises RealRunError naming it (the runner records an error row, retried
    # at its next invocation: test_real_table_one_row_per_dataset_and_beta)
    params = _params()
    params["solver"] = "no-such-solver"
    where = r"\(hiddenconvex/\w+\.py:\d+\)$"
    with pytest.raises(RealRunError, match=r"^convex: InputError: unknown solver .*" + where):
        _run(params)
    with pytest.raises(hc.errors.InputError, match="unknown option"):
        _run(_params(bogus=1))


CONFIG = """
[experiment]
name = "realtest"
output = "{out}"
n_jobs = 1

[grid]
dataset = ["tiny", "small"]
beta = [0.1, 0.5]
loss = ["squared"]
method = ["auto"]
samples = [20]
width = [2]
seeds = [0]

[[grid.extra]]
dataset = ["small"]
beta = 0.1
method = "sample"
samples = [3, 8]

[[grid.extra]]
dataset = ["tiny"]
beta = 0.1
options = {{bias = false}}

[[grid.extra]]
dataset = ["missing"]
beta = 0.1

[options]
{options}
"""


@pytest.fixture(scope="module")
def real_csv(tmp_path_factory):
    """A stored real-data CSV made by the batch runner from the task (in-process)."""
    tmp = tmp_path_factory.mktemp("real")
    out = tmp / "experiments" / "real.csv"
    options = "\n".join(f"{k} = {v!r}".replace("'", '"').replace("True", "true")
                        .replace("False", "false") for k, v in
                        {**FAST, "max_stream_chambers": 500, "max_chambers": 500,
                         "bias": "registry"}.items())
    path = tmp / "real.toml"
    path.write_text(CONFIG.format(out=out, options=options))
    config = load_config(path, validate_dataset=lambda name: True)
    tiny = DATA["tiny"]
    nobias = Dataset(X=tiny.X[:, :-1], y=tiny.y, features=tiny.features[:-1], name="tiny",
                     meta={"bias": False})
    from hiddenconvex.experiments import real

    def task(params, seed):  # the "no bias" copy of tiny, as load_dataset(bias=False) would
        with preloaded_datasets({**DATA, **({"tiny": nobias} if params["bias"] is False
                                            else {})}):
            return real.run_real(params, seed)

    table = run_batch(config, task, progress=False, log=False)
    assert table.attrs["computed"] == len(config.runs()) == 2 * 2 + 2 + 1 + 1
    assert table.attrs["errors"] == 1  # the dataset "missing" does not load
    again = run_batch(config, task, progress=False, log=False)
    assert again.attrs["computed"] == 1  # stored rows are not recomputed; the error row is
    return out


def test_real_table_one_row_per_dataset_and_beta(real_csv, tmp_path):
    df = pd.read_csv(real_csv)
    ok = df["status"] == "ok"
    assert ok.sum() == len(df) - 1 and df.loc[ok, "row_status"].notna().all()
    table, _, _, _ = real_table(df)
    keys = list(zip(table["dataset"], table["beta_ratio"], strict=True))
    assert sorted(keys) == sorted([("tiny", 0.1), ("tiny", 0.5), ("small", 0.1), ("small", 0.5),
                                   ("tiny (no bias)", 0.1), ("missing", 0.1)])
    assert table["status"].isin(ROW_STATUSES).all() and table["status"].str.len().gt(0).all()
    failed = table[table["dataset"] == "missing"].iloc[0]
    assert failed["status"] == "error" and "InputError" in failed["error"]
    main = df[df["role"] == "main"].reset_index(drop=True)
    table = table[table["dataset"] != "missing"]
    assert np.array_equal(table["objective"].to_numpy(float), main["objective"].to_numpy(float))
    # tiny (rank 3, Cover 134 <= 500): certified over all chambers; small (756): sampled + search
    cert = dict(zip(table["dataset"], table["result"], strict=False))
    assert cert["tiny"] == "certified" and table.loc[table["dataset"] == "small",
                                                     "beta_max_method"].isin(
        ("search", "sampled")).all()
    assert (table.loc[table["dataset"] == "tiny (no bias)", "d"] == 2).all()

    tables = load_script("make_tables")
    runs = real_csv.with_name("runs.csv")
    pd.DataFrame({"dataset": ["a"], "beta": [0.1], "seed": [0], "status": ["ok"], "error": [""],
                  "convex_objective": [1.0], "run_id": ["x"]}).to_csv(runs, index=False)
    out = tmp_path / "tables"
    assert tables.main([str(runs), "--out", str(out)]) == 0
    written = pd.read_csv(out / "real.csv")
    assert len(written) == 6 and written["status"].notna().all()
    md = (out / "real.md").read_text()
    assert md.startswith("## Real datasets") and "beta_max_method" in md
    # without the real-data CSV: the default tables still, and a note
    other = tmp_path / "other" / "runs.csv"
    other.parent.mkdir()
    runs.replace(other)
    assert tables.main([str(other), "--out", str(tmp_path / "t2")]) == 0
    assert (tmp_path / "t2" / "summary.csv").exists()
    assert not (tmp_path / "t2" / "real.csv").exists()


def test_real_figures_from_the_stored_csv(real_csv, tmp_path, capsys):
    figures = load_script("make_figures")
    out = tmp_path / "figs"
    assert figures.main(["--runs", str(tmp_path / "none.csv"), "--bench",
                         str(tmp_path / "none2.csv"), "--real", str(real_csv),
                         "--out", str(out)]) == 0
    for name in ("real_gap_vs_samples.png", "real_trained.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    captions = (out / "captions.md").read_text()
    assert "real_gap_vs_samples.png" in captions and "real_trained.png" in captions


def test_extra_grid_options_override_declared_options():
    base = {"experiment": {"name": "x", "output": "r.csv"},
            "grid": {"dataset": ["a"], "beta": [0.1], "width": [2], "seeds": [0],
                     "extra": [{"dataset": "b", "options": {"bias": False}}]},
            "options": {"bias": "registry"}}
    cfg = parse_config(base, validate_dataset=lambda n: True)
    runs = expand_grid(cfg)
    assert [(r.params["dataset"], r.params["bias"]) for r in runs] == [("a", "registry"),
                                                                         ("b", False)]
    # the main grid's run ids do not depend on an extra grid's options
    alone = parse_config({**base, "grid": {**base["grid"], "extra": []}},
                         validate_dataset=lambda n: True)
    assert expand_grid(alone)[0].run_id == runs[0].run_id
    bad = {**base, "grid": {**base["grid"], "extra": [{"options": {"other": 1}}]}}
    with pytest.raises(hc.errors.InputError, match=r"extra\[0\]\.options\.other: not declared"):
        parse_config(bad, validate_dataset=lambda n: True)
    assert set(REAL_OPTIONS) >= {"bias", "beta_relative", "max_memory_mb"}
