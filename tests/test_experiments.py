"""Batch runner: config validation, grid expansion, resumability, provenance, scripts.

The tasks here are cheap fakes whose metrics are closed-form functions of (params, seed), so every
expected value is computed in the test independently of the runner.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiddenconvex
from hiddenconvex import InputError
from hiddenconvex.experiments.runner import (
    PARAM_COLUMNS,
    PROVENANCE_COLUMNS,
    TIMING_COLUMNS,
    expand_grid,
    git_revision,
    load_config,
    run_batch,
    run_id,
    run_states,
    volatile_columns,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
ACCEPT_ALL = lambda name: True  # noqa: E731 - dataset validator for fake datasets

# A deterministic fake task; FAKE_TASK_SLEEP (env) slows it down without changing its results.
FAKE_TASK = '''
import os
import time


def task(params, seed):
    time.sleep(float(os.environ.get("FAKE_TASK_SLEEP", "0")))
    if params["dataset"] == "b" and seed == 1:
        raise ValueError("deliberate failure\\non two lines")
    return {
        "value": params["beta"] * (seed + 1) / 3,
        "m_star": params["width"] // 2 + seed,
        "certified": seed % 2 == 0,
        "curve": [params["beta"], seed],
        "status": "optimal",
        "solve_seconds": time.perf_counter(),
        "solver_version": "fake-" + params["solver"],
    }
'''


def expected_metrics(params, seed):
    """Independent restatement of FAKE_TASK's metrics (None for the failing runs)."""
    if params["dataset"] == "b" and seed == 1:
        return None
    return {"value": params["beta"] * (seed + 1) / 3, "m_star": params["width"] // 2 + seed,
            "certified": seed % 2 == 0, "curve": json.dumps([params["beta"], seed],
                                                            separators=(",", ":")),
            "task_status": "optimal", "solver_version": "fake-" + params["solver"]}


GRID = """\
[experiment]
name = "{name}"
output = "{output}"
n_jobs = {n_jobs}

[grid]
dataset = ["a", "b"]
beta = [0.01, 0.1]
loss = ["squared"]
solver = ["clarabel", "scs"]
method = ["exact"]
samples = [0]
width = [4]
seeds = [0, 1, 2]

[options]
train = "lbfgs"
"""
N_RUNS = 2 * 2 * 2 * 3


@pytest.fixture()
def fake_module(tmp_path, monkeypatch):
    folder = tmp_path / "fakemods"
    folder.mkdir()
    (folder / "fake_task.py").write_text(FAKE_TASK)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("fake_task", None)
    import fake_task

    yield fake_task
    sys.modules.pop("fake_task", None)


def write_config(folder: Path, name="exp", n_jobs=1, text=None, **fmt) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    text = GRID if text is None else text
    path.write_text(text.format(name=name, output=(folder / "out" / "runs.csv").as_posix(),
                                n_jobs=n_jobs, **fmt))
    return path


def comparable(csv_path: Path) -> pd.DataFrame:
    df = pd.read_csv(csv_path)
    return df.drop(columns=volatile_columns(df.columns))


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith((".partial", ".tmp"))]


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------
def test_load_config_values_and_defaults(tmp_path):
    text = """
[experiment]
name = "small"
output = "{out}"
[grid]
dataset = "a"
beta = [1, 0.5]
width = [3]
seeds = [0]
"""
    path = tmp_path / "c.toml"
    path.write_text(text.format(out=(tmp_path / "res" / "r.csv").as_posix()))
    cfg = load_config(path, validate_dataset=ACCEPT_ALL)
    assert cfg.name == "small" and cfg.n_jobs == 1 and cfg.options == {}
    assert cfg.output == tmp_path / "res" / "r.csv"
    assert cfg.store == tmp_path / "res" / "small.runs"
    assert cfg.store.is_dir()  # created by the writability check, probe removed
    assert list(cfg.store.iterdir()) == []
    g = cfg.grids[0]
    assert g["dataset"] == ("a",) and g["beta"] == (1.0, 0.5)
    assert isinstance(g["beta"][0], float)
    assert g["loss"] == ("squared",) and g["solver"] == ("clarabel",)
    assert g["method"] == ("auto",) and g["samples"] == (0,)


BASE = {
    "experiment": 'name = "e"\noutput = "OUT"\nn_jobs = 1',
    "grid": 'dataset = ["a"]\nbeta = [0.1]\nwidth = [2]\nseeds = [0]',
}


def make_toml(experiment=None, grid=None, extra=""):
    return (f"[experiment]\n{experiment or BASE['experiment']}\n"
            f"[grid]\n{grid or BASE['grid']}\n{extra}")


CONFIG_ERRORS = [
    ("malformed", "[experiment\nname = 1", r"malformed TOML.*line 1"),
    ("malformed_value", make_toml(grid="dataset = [a]"), r"malformed TOML.*line 6"),
    ("top_key", make_toml(extra="[solvers]\nx = 1"), r"unknown key 'solvers'"),
    ("exp_key", make_toml(experiment=BASE["experiment"] + "\ncolor = 1"), r"unknown key 'color'"),
    ("grid_key", make_toml(grid=BASE["grid"] + "\nlr = [1]"), r"\[grid\].*unknown key 'lr'"),
    ("no_experiment", "[grid]\ndataset = ['a']", r"\[experiment\]: missing"),
    ("no_grid", f"[experiment]\n{BASE['experiment']}", r"\[grid\]: missing"),
    ("no_width", make_toml(grid='dataset = ["a"]\nbeta = [0.1]\nseeds = [0]'),
     r"grid.width: missing"),
    ("beta_type", make_toml(grid=BASE["grid"].replace("[0.1]", '["0.1"]')),
     r"grid.beta\[0\]: beta must be a number"),
    ("beta_zero", make_toml(grid=BASE["grid"].replace("[0.1]", "[0.1, 0]")),
     r"grid.beta\[1\]: beta must be finite and > 0"),
    ("beta_negative", make_toml(grid=BASE["grid"].replace("[0.1]", "[-0.1]")), r"> 0"),
    ("beta_nan", make_toml(grid=BASE["grid"].replace("[0.1]", "[nan]")), r"finite"),
    ("beta_bool", make_toml(grid=BASE["grid"].replace("[0.1]", "[true]")), r"must be a number"),
    ("empty_list", make_toml(grid=BASE["grid"].replace('["a"]', "[]")), r"grid.dataset: empty"),
    ("duplicate", make_toml(grid=BASE["grid"].replace("seeds = [0]", "seeds = [0, 0]")),
     r"grid.seeds: duplicate value 0"),
    ("width_float", make_toml(grid=BASE["grid"].replace("[2]", "[2.5]")),
     r"grid.width\[0\]: width must be an integer"),
    ("width_zero", make_toml(grid=BASE["grid"].replace("[2]", "[0]")), r"width must be >= 1"),
    ("seed_negative", make_toml(grid=BASE["grid"].replace("seeds = [0]", "seeds = [-1]")),
     r"seeds must be >= 0"),
    ("samples_negative", make_toml(grid=BASE["grid"] + "\nsamples = [-5]"), r"samples must be"),
    ("loss", make_toml(grid=BASE["grid"] + '\nloss = ["l1"]'), r"unknown loss 'l1'.*squared"),
    ("solver", make_toml(grid=BASE["grid"] + '\nsolver = ["mosek"]'), r"unknown solver 'mosek'"),
    ("method", make_toml(grid=BASE["grid"] + '\nmethod = ["grid"]'), r"unknown method 'grid'"),
    ("loss_type", make_toml(grid=BASE["grid"] + "\nloss = [1]"), r"grid.loss\[0\]: must be a str"),
    ("n_jobs_zero", make_toml(experiment=BASE["experiment"].replace("n_jobs = 1", "n_jobs = 0")),
     r"experiment.n_jobs.*non-zero integer"),
    ("n_jobs_str", make_toml(experiment=BASE["experiment"].replace("n_jobs = 1", 'n_jobs = "2"')),
     r"non-zero integer"),
    ("name", make_toml(experiment=BASE["experiment"].replace('"e"', '"a b"')),
     r"experiment.name"),
    ("output_csv", make_toml(experiment=BASE["experiment"].replace('"OUT"', '"res/x.txt"')),
     r"must end in .csv"),
    ("option_clash", make_toml(extra="[options]\nbeta = 2"), r"options.beta: clashes"),
    ("option_date", make_toml(extra="[options]\nwhen = 2024-01-01"), r"options.when: unsupported"),
    ("extra_key", make_toml(extra="[[grid.extra]]\nfoo = 1"), r"grid.extra\[0\].*unknown key"),
    ("extra_value", make_toml(extra='[[grid.extra]]\nsolver = "gurobi"'),
     r"grid.extra\[0\].solver\[0\]: unknown solver"),
    ("extra_empty", make_toml(extra="[[grid.extra]]"), r"grid.extra\[0\]: empty table"),
    ("dataset_unknown", make_toml(grid=BASE["grid"].replace('["a"]', '["a", "nope"]')),
     r"grid.dataset: unknown dataset 'nope'"),
]


@pytest.mark.parametrize("text, pattern", [c[1:] for c in CONFIG_ERRORS],
                         ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors(tmp_path, text, pattern):
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("OUT", (tmp_path / "out" / "r.csv").as_posix()))
    with pytest.raises(InputError, match=pattern) as err:
        load_config(path, validate_dataset=lambda name: name != "nope")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert not (tmp_path / "out").exists()  # nothing created before validation passed


def test_config_file_errors(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("name = 'é'".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(bad)


def test_dataset_validator_raising_inputerror(tmp_path):
    def validate(name):
        raise InputError(f"no dataset called {name!r} here")

    path = write_config(tmp_path)
    with pytest.raises(InputError, match=r"grid.dataset: no dataset called 'a' here"):
        load_config(path, validate_dataset=validate)


def test_default_dataset_validator(tmp_path, monkeypatch):
    import hiddenconvex.experiments.datasets as ds

    path = write_config(tmp_path)
    monkeypatch.setattr(ds, "list_datasets", lambda: ["a", "iris"], raising=False)
    with pytest.raises(InputError, match=r"unknown dataset 'b' \(known: a, iris\)"):
        load_config(path)
    monkeypatch.setattr(ds, "list_datasets", lambda: ["a", "b"], raising=False)
    assert load_config(path).grids[0]["dataset"] == ("a", "b")
    monkeypatch.delattr(ds, "list_datasets", raising=False)
    with pytest.raises(InputError, match="list_datasets is not available"):
        load_config(path)


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    text = make_toml().replace("OUT", (blocker / "sub" / "runs.csv").as_posix())
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=r"cannot create results folder .*afile") as err:
        load_config(path, validate_dataset=ACCEPT_ALL)
    assert "\n" not in str(err.value)
    (tmp_path / "adir.csv").mkdir()
    path.write_text(make_toml().replace("OUT", (tmp_path / "adir.csv").as_posix()))
    with pytest.raises(InputError, match="is a directory"):
        load_config(path, validate_dataset=ACCEPT_ALL)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_results_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        path = tmp_path / "c.toml"
        path.write_text(make_toml().replace("OUT", (ro / "runs.csv").as_posix()))
        with pytest.raises(InputError, match="not writable|cannot create"):
            load_config(path, validate_dataset=ACCEPT_ALL)
    finally:
        ro.chmod(0o700)


# ----------------------------------------------------------------------------------------------
# grid expansion
# ----------------------------------------------------------------------------------------------
def test_grid_order_and_ids(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    runs = expand_grid(cfg)
    expected = [
        (d, b, s, seed)
        for d, b, s, seed in itertools.product(["a", "b"], [0.01, 0.1], ["clarabel", "scs"],
                                               [0, 1, 2])
    ]
    got = [(r.params["dataset"], r.params["beta"], r.params["solver"], r.seed) for r in runs]
    assert got == expected
    for r in runs:
        assert list(r.params) == [*PARAM_COLUMNS, "train"]
        assert r.params["train"] == "lbfgs"
        # the id is the documented hash: SHA-256 of the canonical JSON of params and seed
        canon = json.dumps({"params": r.params, "seed": r.seed}, sort_keys=True,
                           separators=(",", ":"))
        assert r.run_id == hashlib.sha256(canon.encode()).hexdigest()[:12]
    assert len({r.run_id for r in runs}) == len(runs)
    again = expand_grid(load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL))
    assert [r.run_id for r in again] == [r.run_id for r in runs]
    # the seed and the options are part of the key
    p = runs[0].params
    assert run_id(p, 0) != run_id(p, 1)
    assert run_id(p, 0) != run_id({**p, "train": "adam"}, 0)
    assert run_id({**p, "beta": 1}, 0) == run_id({**p, "beta": 1}, 0)


def test_grid_extra_and_exact_samples(tmp_path):
    text = GRID.replace('method = ["exact"]', 'method = ["exact", "sample"]').replace(
        "samples = [0]", "samples = [0, 100]").replace('dataset = ["a", "b"]', 'dataset = ["a"]')
    text = text.replace("[options]", """[[grid.extra]]
dataset = "c"
method = "sample"
samples = 50
seeds = [7]

[[grid.extra]]
dataset = "a"
seeds = [0]

[options]""")
    cfg = load_config(write_config(tmp_path, text=text), validate_dataset=ACCEPT_ALL)
    runs = expand_grid(cfg)
    main = [(b, s, m, k, seed) for b, s, m, k, seed in itertools.product(
        [0.01, 0.1], ["clarabel", "scs"], ["exact", "sample"], [0, 100], [0, 1, 2])]
    # exact ignores samples (forced to 0): its duplicate combinations collapse
    main = list(dict.fromkeys((b, s, m, 0 if m == "exact" else k, seed)
                              for b, s, m, k, seed in main))
    extra = [(b, s, "sample", 50, 7) for b, s in itertools.product([0.01, 0.1],
                                                                   ["clarabel", "scs"])]
    got = [(r.params["beta"], r.params["solver"], r.params["method"], r.params["samples"], r.seed)
           for r in runs]
    assert got == main + extra  # the second extra grid duplicates main-grid runs: dropped
    assert [r.params["dataset"] for r in runs] == ["a"] * len(main) + ["c"] * len(extra)
    assert len(runs) == 2 * 2 * (3 + 2 * 3) + 4


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------
def test_run_batch_rows_columns_provenance(tmp_path, fake_module):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    table = run_batch(cfg, fake_module.task, progress=False)
    assert table.attrs == {"computed": N_RUNS, "cached": 0, "errors": 4}
    df = pd.read_csv(cfg.output, keep_default_na=False, na_values=[""])
    assert len(df) == N_RUNS and df["run_id"].is_unique
    assert [r.run_id for r in expand_grid(cfg)] == df["run_id"].tolist()  # grid order
    metric_cols = ["value", "m_star", "certified", "curve", "task_status", "solve_seconds"]
    assert list(df.columns) == [*PARAM_COLUMNS, "train", "seed", "status", "error",
                                *metric_cols, *PROVENANCE_COLUMNS]
    for run, (_, row) in zip(expand_grid(cfg), df.iterrows(), strict=True):
        exp = expected_metrics(run.params, run.seed)
        for k in PARAM_COLUMNS:
            assert row[k] == run.params[k]
        assert row["seed"] == run.seed
        if exp is None:
            assert row["status"] == "error"
            assert row["error"] == "ValueError: deliberate failure on two lines"
            assert all(pd.isna(row[c]) for c in metric_cols)
        else:
            assert row["status"] == "ok" and pd.isna(row["error"])
            assert row["value"] == exp["value"]  # exact float round trip through JSON and CSV
            assert row["m_star"] == exp["m_star"]
            assert str(row["certified"]) == str(exp["certified"])
            assert row["curve"] == exp["curve"]
            assert row["task_status"] == "optimal"  # renamed: "status" is the runner's column
            assert row["solver_version"] == exp["solver_version"]
    # an integer metric with missing values (error rows) is written without ".0"
    raw = pd.read_csv(cfg.output, dtype=str, keep_default_na=False)
    assert set(raw.loc[raw["status"] == "error", "m_star"]) == {""}
    assert raw.loc[raw["status"] == "ok", "m_star"].str.fullmatch(r"\d+").all()
    prov = df.iloc[0]
    assert prov["hiddenconvex_version"] == hiddenconvex.__version__
    assert prov["numpy_version"] == np.__version__ and prov["pandas_version"] == pd.__version__
    import scipy

    assert prov["scipy_version"] == scipy.__version__
    assert prov["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert prov["git_revision"] == git_revision()
    assert pd.Timestamp(prov["date"]).tzinfo is not None
    assert (df["wall_seconds"] >= 0).all()
    # one JSON record per run, with the traceback of failures; no temporary files left
    files = sorted(p.stem for p in cfg.store.glob("*.json"))
    assert files == sorted(df["run_id"])
    bad = df.loc[df["status"] == "error", "run_id"].iloc[0]
    rec = json.loads((cfg.store / f"{bad}.json").read_text())
    assert "Traceback" in rec["traceback"] and "deliberate failure" in rec["traceback"]
    assert no_partial_files(tmp_path)
    assert set(volatile_columns(df.columns)) == {"solve_seconds", *TIMING_COLUMNS}


def test_git_revision_outside_git(tmp_path):
    assert git_revision(tmp_path) == "unknown"
    rev = git_revision()
    assert rev == "unknown" or rev.split("-")[0].isalnum()


def test_csv_rewritten_after_each_chunk(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    seen = []

    def observer(params, seed):  # sees the CSV as left by the previous chunk
        seen.append(len(pd.read_csv(cfg.output)) if cfg.output.exists() else 0)
        return {"v": seed}

    run_batch(cfg, observer, progress=False, chunk_size=2, min_interval=0)
    assert seen == [2 * (i // 2) for i in range(N_RUNS)]
    assert len(pd.read_csv(cfg.output)) == N_RUNS


def test_task_returning_non_dict_is_an_error_row(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    table = run_batch(cfg, lambda params, seed: [1, 2], progress=False)
    assert (table["status"] == "error").all()
    assert table["error"].str.contains("expected a dict of metrics").all()


class Interrupting:
    """Fake task that stops the whole batch (like Ctrl-C) after k completed calls."""

    def __init__(self, task, k, exc):
        self.task, self.k, self.exc, self.calls = task, k, exc, 0

    def __call__(self, params, seed):
        if self.calls == self.k:
            raise self.exc
        self.calls += 1
        return self.task(params, seed)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(1)], ids=["sigint", "exit"])
def test_interrupted_batch_resumes_to_same_csv(tmp_path, fake_module, exc):
    ref = load_config(write_config(tmp_path / "ref"), validate_dataset=ACCEPT_ALL)
    run_batch(ref, fake_module.task, progress=False)
    cfg = load_config(write_config(tmp_path / "killed"), validate_dataset=ACCEPT_ALL)
    k = 9
    with pytest.raises(type(exc)):
        run_batch(cfg, Interrupting(fake_module.task, k, exc), progress=False)
    partial = pd.read_csv(cfg.output)
    assert len(partial) == k  # every completed run is in the CSV, nothing half-written
    assert partial["run_id"].tolist() == [r.run_id for r in expand_grid(cfg)][:k]
    assert no_partial_files(tmp_path)
    states = [s for _, s in run_states(cfg)]
    n_done = states.count("done")
    assert states.count("pending") == N_RUNS - k and n_done + states.count("error") == k

    calls = []

    def counting(params, seed):
        calls.append((params["dataset"], params["beta"], params["solver"], seed))
        return fake_module.task(params, seed)

    table = run_batch(cfg, counting, progress=False)
    assert table.attrs["computed"] == N_RUNS - n_done == len(calls)  # errors are retried
    pd.testing.assert_frame_equal(comparable(cfg.output), comparable(ref.output))
    final = pd.read_csv(cfg.output)
    assert final["run_id"].is_unique and len(final) == N_RUNS
    assert no_partial_files(tmp_path)


def test_force_and_cache(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    run_batch(cfg, lambda p, s: {"v": 1}, progress=False)
    calls = []

    def v2(params, seed):
        calls.append(seed)
        return {"v": 2}

    table = run_batch(cfg, v2, progress=False)
    assert calls == [] and table.attrs == {"computed": 0, "cached": N_RUNS, "errors": 0}
    assert (pd.read_csv(cfg.output)["v"] == 1).all()
    table = run_batch(cfg, v2, force=True, progress=False)
    assert len(calls) == N_RUNS and table.attrs["computed"] == N_RUNS
    df = pd.read_csv(cfg.output)
    assert (df["v"] == 2).all() and len(df) == N_RUNS
    assert len(list(cfg.store.glob("*.json"))) == N_RUNS


def test_error_rows_are_retried(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)

    def flaky(params, seed):
        if seed == 2:
            raise RuntimeError("transient")
        return {"v": seed}

    first = run_batch(cfg, flaky, progress=False)
    assert first.attrs["errors"] == N_RUNS // 3
    calls = []

    def fixed(params, seed):
        calls.append(seed)
        return {"v": seed}

    second = run_batch(cfg, fixed, progress=False)
    assert calls == [2] * (N_RUNS // 3) and second.attrs["errors"] == 0
    assert (second["status"] == "ok").all() and (second["v"] == second["seed"]).all()


def test_check_hook_runs_before_any_work(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    calls = []

    def check(params):
        if params["beta"] > 0.05:
            raise InputError("beta too large for this task")

    with pytest.raises(InputError, match="too large"):
        run_batch(cfg, lambda p, s: calls.append(1) or {}, check=check, progress=False)
    assert calls == [] and not cfg.output.exists()


def test_concurrent_batch_on_same_store_is_refused(tmp_path):
    import fcntl

    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    with open(cfg.store / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="already running experiment 'exp'"):
            run_batch(cfg, lambda p, s: {"v": 1}, progress=False)
    assert not list(cfg.store.glob("*.json"))
    assert len(run_batch(cfg, lambda p, s: {"v": 1}, progress=False)) == N_RUNS


def test_parallel_matches_sequential(tmp_path, fake_module):
    seq = load_config(write_config(tmp_path / "seq"), validate_dataset=ACCEPT_ALL)
    par = load_config(write_config(tmp_path / "par", n_jobs=2), validate_dataset=ACCEPT_ALL)
    run_batch(seq, fake_module.task, progress=False)
    table = run_batch(par, fake_module.task, progress=False, chunk_size=3, min_interval=0)
    assert table.attrs["computed"] == N_RUNS
    pd.testing.assert_frame_equal(comparable(par.output), comparable(seq.output))
    assert no_partial_files(tmp_path)


DRIVER = """
import sys

import fake_task
from hiddenconvex.experiments.runner import load_config, run_batch

cfg = load_config(sys.argv[1], validate_dataset=lambda name: True)
run_batch(cfg, fake_task.task, n_jobs=int(sys.argv[2]), progress=False)
"""


def test_sigkill_midway_then_restart(tmp_path, fake_module):
    """A real batch process (2 workers) killed with SIGKILL, then restarted."""
    ref = load_config(write_config(tmp_path / "ref"), validate_dataset=ACCEPT_ALL)
    run_batch(ref, fake_module.task, progress=False)

    cfg_path = write_config(tmp_path / "killed")
    store = tmp_path / "killed" / "out" / "exp.runs"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(fake_module.__file__).parent), os.environ.get("PYTHONPATH", "")]),
        "FAKE_TASK_SLEEP": "0.15"}
    proc = subprocess.Popen([sys.executable, str(driver), str(cfg_path), "2"], env=env,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(store.glob("*.json"))) >= 5:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    stored = len(list(store.glob("*.json")))
    assert 5 <= stored < N_RUNS
    csv_path = tmp_path / "killed" / "out" / "runs.csv"
    if csv_path.exists():  # whatever CSV exists is a complete, parseable table
        partial = pd.read_csv(csv_path)
        assert partial["run_id"].is_unique and set(partial["status"]) <= {"ok", "error"}

    env["FAKE_TASK_SLEEP"] = "0"
    done = subprocess.run([sys.executable, str(driver), str(cfg_path), "2"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    pd.testing.assert_frame_equal(comparable(csv_path), comparable(ref.output))
    final = pd.read_csv(csv_path)
    assert len(final) == N_RUNS and final["run_id"].is_unique
    assert no_partial_files(tmp_path)


# ----------------------------------------------------------------------------------------------
# several experiments sharing one CSV (issue 12, item 3)
# ----------------------------------------------------------------------------------------------
GRID_B = GRID.replace('train = "lbfgs"', 'train = "adam"')  # other options: other run ids

# Waits for the other batch to be ready, then writes the CSV after every run (chunk 1, no delay),
# so that the two batches' read-merge-write cycles interleave.
BARRIER_DRIVER = """
import sys
import time
from pathlib import Path

import fake_task
from hiddenconvex.experiments.runner import load_config, run_batch

cfg_path, me, other, folder = sys.argv[1:5]
cfg = load_config(cfg_path, validate_dataset=lambda name: True)
Path(folder, "ready-" + me).touch()
deadline = time.monotonic() + 120
while not Path(folder, "ready-" + other).exists() and time.monotonic() < deadline:
    time.sleep(0.01)
table = run_batch(cfg, fake_task.task, n_jobs=1, progress=False, chunk_size=1, min_interval=0)
print(len(table), table.attrs["errors"])
"""


def text_rows(csv_path: Path, run_ids=None) -> pd.DataFrame:
    """The CSV as text cells without the volatile columns (rows ``run_ids``, in that order)."""
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    df = df.drop(columns=volatile_columns(df.columns))
    if run_ids is not None:
        df = df.set_index("run_id", drop=False).loc[list(run_ids)].reset_index(drop=True)
    return df


def test_two_batches_at_once_on_one_csv_keep_every_row(tmp_path, fake_module):
    refs = {}
    for name, text in (("A", GRID), ("B", GRID_B)):  # each experiment alone, for reference
        ref = load_config(write_config(tmp_path / f"ref{name}", name=name, text=text),
                          validate_dataset=ACCEPT_ALL)
        run_batch(ref, fake_module.task, progress=False)
        refs[name] = ref
    shared = tmp_path / "shared"
    paths = {"A": write_config(shared, name="A"), "B": write_config(shared, name="B", text=GRID_B)}
    driver = tmp_path / "barrier_driver.py"
    driver.write_text(BARRIER_DRIVER)
    env = {**os.environ, "FAKE_TASK_SLEEP": "0.02", "PYTHONPATH": os.pathsep.join(
        [str(Path(fake_module.__file__).parent), os.environ.get("PYTHONPATH", "")])}
    procs = {name: subprocess.Popen([sys.executable, str(driver), str(path), name,
                                     "B" if name == "A" else "A", str(shared)], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, path in paths.items()}
    for proc in procs.values():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert out.split() == [str(N_RUNS), "4"]  # each batch reports its own runs and errors
    csv_path = shared / "out" / "runs.csv"
    final = pd.read_csv(csv_path)
    ids = {name: [r.run_id for r in expand_grid(cfg)] for name, cfg in refs.items()}
    assert len(final) == 2 * N_RUNS and final["run_id"].is_unique
    assert set(final["run_id"]) == set(ids["A"]) | set(ids["B"])
    assert final.loc[final["run_id"].isin(ids["B"]), "train"].eq("adam").all()
    for name, cfg in refs.items():  # every row exactly as the experiment alone writes it
        pd.testing.assert_frame_equal(text_rows(csv_path, ids[name]), text_rows(cfg.output))
    assert (shared / "out" / ".runs.csv.lock").exists() and no_partial_files(tmp_path)


def test_shared_csv_merge_resume_force_and_grid_change(tmp_path, fake_module):
    a = load_config(write_config(tmp_path, name="A"), validate_dataset=ACCEPT_ALL)
    b = load_config(write_config(tmp_path, name="B", text=GRID_B), validate_dataset=ACCEPT_ALL)
    ids_a = [r.run_id for r in expand_grid(a)]
    ids_b = [r.run_id for r in expand_grid(b)]
    run_batch(a, fake_module.task, progress=False)
    alone = text_rows(a.output)
    run_batch(b, fake_module.task, progress=False)
    both = text_rows(a.output)
    assert both["run_id"].tolist() == ids_a + ids_b  # B appended after A's rows
    pd.testing.assert_frame_equal(both.iloc[:N_RUNS], alone)
    # A again (cached; its 4 error rows are retried): the CSV is unchanged, A's rows in place
    assert run_batch(a, fake_module.task, progress=False).attrs["cached"] == N_RUNS - 4
    pd.testing.assert_frame_equal(text_rows(a.output), both)
    # A interrupted (KeyboardInterrupt) with --force after 5 runs: B's rows are kept
    with pytest.raises(KeyboardInterrupt):
        run_batch(a, Interrupting(fake_module.task, 5, KeyboardInterrupt()), force=True,
                  progress=False)
    partial = pd.read_csv(a.output)
    assert partial["run_id"].tolist() == ids_a[:5] + ids_b
    # A forced to new values: its rows are replaced, B's untouched
    table = run_batch(a, lambda p, seed: {"value": -1.0}, force=True, progress=False)
    assert table.attrs["computed"] == N_RUNS
    df = pd.read_csv(a.output)
    assert df["run_id"].tolist() == ids_a + ids_b and len(df) == 2 * N_RUNS
    assert (df["value"].iloc[:N_RUNS] == -1.0).all()
    after = text_rows(a.output)
    assert list(after.columns) == list(both.columns)  # the union, in the CSV layout
    pd.testing.assert_frame_equal(after.iloc[N_RUNS:].reset_index(drop=True),
                                  both.iloc[N_RUNS:].reset_index(drop=True))
    # A's grid shrinks: its dropped runs leave the CSV (they are in its store), B's rows stay
    small = load_config(write_config(tmp_path, name="A", text=GRID.replace(
        "beta = [0.01, 0.1]", "beta = [0.01]")), validate_dataset=ACCEPT_ALL)
    run_batch(small, fake_module.task, progress=False)
    df = pd.read_csv(a.output)
    assert df["run_id"].tolist() == [r.run_id for r in expand_grid(small)] + ids_b
    assert no_partial_files(tmp_path)


@pytest.mark.parametrize("content, pattern", [
    ("x,y\n1,2\n", "not a batch table (no column 'seed', 'status', 'error', 'run_id')"),
    (None, "line 4: 3 field(s) where the header has"),
])
def test_existing_csv_that_cannot_be_merged_is_refused_before_work(tmp_path, fake_module,
                                                                    content, pattern):
    a = load_config(write_config(tmp_path, name="A"), validate_dataset=ACCEPT_ALL)
    if content is None:  # a batch CSV cut in the middle of its fourth line
        run_batch(a, fake_module.task, progress=False)
        lines = a.output.read_text().splitlines(keepends=True)
        content = "".join(lines[:3]) + ",".join(lines[3].split(",")[:3])
        for f in a.store.glob("*.json"):
            f.unlink()
    a.output.write_text(content)
    calls = []
    with pytest.raises(InputError, match=re.escape(pattern)) as exc:
        run_batch(a, lambda p, s: calls.append(1) or {}, progress=False)
    assert str(a.output) in str(exc.value) and "remove it" in str(exc.value)
    assert calls == [] and a.output.read_text() == content


# ----------------------------------------------------------------------------------------------
# scripts
# ----------------------------------------------------------------------------------------------
def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def known_datasets(monkeypatch):
    import hiddenconvex.experiments.datasets as ds

    monkeypatch.setattr(ds, "list_datasets", lambda: ["a", "b"], raising=False)


def test_run_batch_script(tmp_path, fake_module, known_datasets, capsys):
    cli = load_script("run_batch")
    cfg_path = write_config(tmp_path)
    assert cli.main([str(cfg_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{N_RUNS} runs (0 done, 0 error, {N_RUNS} pending)" in out
    assert not (tmp_path / "out" / "runs.csv").exists()

    assert cli.main([str(cfg_path), "--task", "fake_task:task"]) == 1  # some runs errored
    captured = capsys.readouterr()
    assert f"{N_RUNS} runs ({N_RUNS} computed, 0 cached), 4 error(s)" in captured.out
    assert "deliberate failure on two lines" in captured.err

    assert cli.main([str(cfg_path), "--dry-run"]) == 0
    assert f"{N_RUNS} runs ({N_RUNS - 4} done, 4 error, 0 pending)" in capsys.readouterr().out
    assert cli.main([str(cfg_path), "--task", "fake_task:task", "--n-jobs", "1"]) == 1
    assert f"({4} computed, {N_RUNS - 4} cached)" in capsys.readouterr().out


@pytest.mark.parametrize("argv_extra, pattern", [
    (["--task", "no_such_module_xyz:task"], "task module 'no_such_module_xyz' not found"),
    (["--task", "fake_task:nothing"], "has no function 'nothing'"),
    (["--task", "fake_task"], "MODULE:FUNCTION"),
    (["--n-jobs", "0"], "n_jobs must be a non-zero integer"),
])
def test_run_batch_script_user_errors(tmp_path, fake_module, known_datasets, capsys,
                                      argv_extra, pattern):
    cli = load_script("run_batch")
    assert cli.main([str(write_config(tmp_path)), *argv_extra]) == 2
    err = capsys.readouterr().err
    assert pattern in err and err.count("\n") == 1 and err.startswith("run_batch: error:")
    assert not (tmp_path / "out").exists()  # nothing written before the error


def test_run_batch_script_without_pipeline(tmp_path, known_datasets, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "hiddenconvex.experiments.pipeline", None)  # import fails
    cli = load_script("run_batch")
    assert cli.main([str(write_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "hiddenconvex.experiments.pipeline" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_run_batch_script_subprocess_malformed(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment]\nname = \n")
    res = subprocess.run([sys.executable, str(SCRIPTS / "run_batch.py"), str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "malformed TOML" in res.stderr and "line 2" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def test_default_config_is_valid(monkeypatch, tmp_path):
    """scripts/configs/default.toml parses (dataset names aside) and is modest in size."""
    cfg_text = (SCRIPTS / "configs" / "default.toml").read_text()
    path = tmp_path / "default.toml"
    path.write_text(cfg_text.replace("results/experiments", (tmp_path / "r").as_posix()))
    cfg = load_config(path, validate_dataset=ACCEPT_ALL)
    assert "default" in cfg.grids[0]["dataset"] and cfg.name == "default"
    assert cfg.output == tmp_path / "r" / "runs.csv"
    assert len(expand_grid(cfg)) <= 48


# ----------------------------------------------------------------------------------------------
# tables and figures from a stored CSV
# ----------------------------------------------------------------------------------------------
GAPS = {0: 3e-3, 1: 5e-5, 2: 2e-6}  # per seed


def pipeline_like(params, seed):
    """Fake pipeline metrics with known per-group statistics."""
    if params["dataset"] == "b" and params["width"] == 2 and seed == 0:
        raise RuntimeError("solver failed")
    p = 4 if params["dataset"] == "a" else 9
    return {
        "convex_objective": 1.0 + params["beta"] + (1e-9 if params["solver"] == "scs" else 0.0),
        "certified": seed != 1,
        "m_star": 3 if params["dataset"] == "a" else 5,
        "unique": params["dataset"] == "a",
        "n_patterns": p,
        "best_relative_gap": GAPS[seed] * (1 if params["width"] >= 4 else 100),
        "solve_seconds": 0.01 * p * (2 if params["solver"] == "scs" else 1),
    }


@pytest.fixture()
def pipeline_csv(tmp_path):
    text = GRID.replace("width = [4]", "width = [2, 4]")
    cfg = load_config(write_config(tmp_path / "exp", text=text), validate_dataset=ACCEPT_ALL)
    run_batch(cfg, pipeline_like, progress=False)
    return cfg.output


def test_make_tables(tmp_path, pipeline_csv, capsys):
    tables = load_script("make_tables")
    out = tmp_path / "tables"
    assert tables.main([str(pipeline_csv), "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:3]) == ["dataset", "beta", "width"]  # width varies, solver not
    assert len(summary) == 2 * 2 * 2
    for _, row in summary.iterrows():
        failing = row["dataset"] == "b" and row["width"] == 2
        seeds = [1, 2] if failing else [0, 1, 2]  # seed 0 errored in that group (both solvers)
        assert row["runs"] == 6 and row["errors"] == (2 if failing else 0)
        # the table's statistics of values stored exactly in the CSV (repr round trip): a median
        # of O(1 + β) numbers (one rounding, and those of 1 + β (+ 1e-9) when they were made);
        # the relative spread (max − min)/median = 1e-9/(1 + β + 0.5e-9): the difference is of
        # two rounded O(1 + β) numbers (absolute rounding ~ eps(1 + β), 2e-7 of 1e-9), the
        # median differs from 1 + β by 0.5e-9 (relative)
        b1 = 1 + row["beta"]
        rnd = 4 * np.finfo(float).eps * b1
        assert abs(row["convex_objective"] - (b1 + 0.5e-9)) <= rnd
        spread = 1e-9 / b1
        assert abs(row["convex_objective_spread"] - spread) <= rnd / b1 + spread * 1e-9
        # fractions k/6 of booleans: one rounded division
        assert abs(row["certified"] - np.mean([s != 1 for s in seeds])) <= 4 * np.finfo(float).eps
        assert row["m_star_min"] == row["m_star_max"] == (3 if row["dataset"] == "a" else 5)
        assert row["unique"] == (1.0 if row["dataset"] == "a" else 0.0)
        scale = 1 if row["width"] >= 4 else 100
        gaps = [GAPS[s] * scale for s in seeds]
        # a minimum of stored values is exact; a median rounds once (an average of two values),
        # a fraction k/n once
        eps = np.finfo(float).eps
        assert row["best_relative_gap"] == min(gaps)
        assert abs(row["median_relative_gap"] - np.median(gaps)) <= 4 * eps * max(gaps)
        assert abs(row["reached_1e-4"] - np.mean([g <= 1e-4 for g in gaps])) <= 4 * eps
    times = pd.read_csv(out / "solve_times.csv")
    assert {"clarabel_median_s", "scs_median_s"} <= set(times.columns)
    # medians of (0.01 p)·2 and (0.01 p)·1: doubling is exact, a median rounds at most once
    assert np.all(np.abs(times["scs_median_s"] - 2 * times["clarabel_median_s"])
                  <= 4 * np.finfo(float).eps * times["scs_median_s"])
    errors = pd.read_csv(out / "errors.csv")
    assert len(errors) == 4 and set(errors["error"]) == {"RuntimeError: solver failed"}
    md = (out / "summary.md").read_text()
    assert md.startswith("## Summary") and "| dataset | beta | width |" in md
    assert no_partial_files(out)

    # column-driven: drop m_star and solve_seconds -> noted, skipped, stale file removed
    df = pd.read_csv(pipeline_csv).drop(columns=["m_star", "solve_seconds"])
    small = tmp_path / "small.csv"
    df.to_csv(small, index=False)
    capsys.readouterr()
    assert tables.main([str(small), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "'m_star' not in the CSV" in err and "solve_times skipped" in err
    assert "m_star_min" not in pd.read_csv(out / "summary.csv").columns
    assert "'m_star' not in the CSV" in (out / "summary.md").read_text()
    assert not (out / "solve_times.csv").exists()


def test_make_tables_missing_csv(tmp_path, capsys):
    tables = load_script("make_tables")
    assert tables.main([str(tmp_path / "none.csv"), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "run `make experiments` first" in err and err.count("\n") == 1


def test_make_figures(tmp_path, pipeline_csv, capsys):
    figures = load_script("make_figures")
    out = tmp_path / "figs"
    missing_bench = tmp_path / "nobench.csv"
    assert figures.main(["--runs", str(pipeline_csv), "--bench", str(missing_bench),
                         "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "nobench.csv not found" in err
    for name in ("gap_vs_width.png", "gap_vs_beta.png", "solve_time_vs_patterns.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    captions = (out / "captions.md").read_text()
    assert "gap_vs_width.png" in captions and "Source: runs CSV" in captions
    assert no_partial_files(out)

    bench = tmp_path / "bench.csv"
    pd.DataFrame({"solver": ["clarabel", "ecos"] * 3, "p": [10, 10, 100, 100, 1000, 1000],
                  "solve_seconds": [0.01, 0.02, 0.1, 0.2, 1.0, 2.0]}).to_csv(bench, index=False)
    only_width = pd.read_csv(pipeline_csv)
    only_width = only_width[only_width["beta"] == 0.1]
    runs = tmp_path / "runs1.csv"
    only_width.to_csv(runs, index=False)
    assert figures.main(["--runs", str(runs), "--bench", str(bench), "--out", str(out)]) == 0
    assert "gap_vs_beta.png skipped" in capsys.readouterr().err
    assert f"Source: {bench}" in (out / "captions.md").read_text()


def test_make_figures_no_inputs(tmp_path, capsys):
    figures = load_script("make_figures")
    assert figures.main(["--runs", str(tmp_path / "a.csv"), "--bench", str(tmp_path / "b.csv"),
                         "--out", str(tmp_path / "f")]) == 2
    assert "run `make experiments`" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def truncate_last_line(src: Path, dst: Path) -> int:
    """Copy ``src`` to ``dst`` with its last line cut in the middle; returns that line's number."""
    lines = src.read_text().splitlines(keepends=True)
    dst.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    return len(lines)


def test_read_table_refuses_truncated_or_ragged_csv(tmp_path, pipeline_csv):
    from hiddenconvex.experiments.runner import read_table

    cut = tmp_path / "cut.csv"
    last = truncate_last_line(pipeline_csv, cut)
    width = len(pd.read_csv(pipeline_csv).columns)
    with pytest.raises(InputError, match=rf"runs CSV .*cut\.csv, line {last}: \d+ field\(s\) where "
                                         rf"the header has {width} \(truncated or corrupt"):
        read_table(cut, "runs CSV")
    lines = pipeline_csv.read_text().splitlines(keepends=True)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("".join(lines[:2]) + lines[2].rstrip("\n") + ",extra\n" + "".join(lines[3:]))
    with pytest.raises(InputError, match=rf"line 3: {width + 1} field\(s\)"):
        read_table(ragged)
    open_quote = tmp_path / "quote.csv"
    open_quote.write_text('a,b\n1,2\n3,"[1,\n')
    with pytest.raises(InputError, match="quote.csv, line 3: unexpected end of data"):
        read_table(open_quote)
    blank_lines = tmp_path / "blank.csv"  # blank lines are skipped, as pandas does
    blank_lines.write_text("a,b\n1,2\n\n3,4\n\n")
    assert read_table(blank_lines)["b"].tolist() == [2, 4]


def test_make_tables_on_truncated_csv_stops_with_file_and_line(tmp_path, pipeline_csv):
    cut = tmp_path / "cut.csv"
    last = truncate_last_line(pipeline_csv, cut)
    out = tmp_path / "tables"
    res = subprocess.run([sys.executable, str(SCRIPTS / "make_tables.py"), str(cut),
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("make_tables: error: runs CSV ")
    assert f"{cut}, line {last}: " in lines[0] and "truncated or corrupt" in lines[0]
    assert not out.exists()  # no table built from the rest


def test_make_figures_on_truncated_csv_stops(tmp_path, pipeline_csv, capsys):
    figures = load_script("make_figures")
    cut = tmp_path / "cut.csv"
    last = truncate_last_line(pipeline_csv, cut)
    out = tmp_path / "figs"
    assert figures.main(["--runs", str(cut), "--bench", str(tmp_path / "none.csv"),
                         "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{cut}, line {last}: " in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_real_pipeline_killed_and_restarted_matches_uninterrupted(tmp_path):
    """scripts/run_batch.py with the real task on a tiny dataset, SIGKILLed mid-way, restarted."""
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x1": [1.0, -1.0, 0.5, -2.0], "x2": [0.3, 0.8, -1.0, 0.2],
                  "y": [3.0, 2.0, -1.0, 0.5]}).to_csv(data / "tiny.csv", index=False)
    text = """
[experiment]
name = "tiny"
output = "{output}"
n_jobs = 2
[grid]
dataset = ["tiny"]
beta = [0.1, 0.3, 1.0]
width = [3, 6]
method = ["exact"]
seeds = [0, 1]
[options]
train_method = "adam"
max_iter = 4000
n_train_seeds = 2
"""
    env = {**os.environ, "HIDDENCONVEX_DATA_DIR": str(data)}
    script = [sys.executable, str(SCRIPTS / "run_batch.py")]

    def config(name):
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "c.toml"
        path.write_text(text.format(output=(folder / "runs.csv").as_posix()))
        return path, folder

    ref_cfg, ref_dir = config("ref")
    done = subprocess.run([*script, str(ref_cfg)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    cfg, folder = config("killed")
    proc = subprocess.Popen([*script, str(cfg)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((folder / "tiny.runs").glob("*.json"))) >= 3:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert 3 <= len(list((folder / "tiny.runs").glob("*.json"))) < 12
    again = subprocess.run([*script, str(cfg)], env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "cached" in again.stdout and "0 cached" not in again.stdout
    pd.testing.assert_frame_equal(comparable(folder / "runs.csv"), comparable(ref_dir / "runs.csv"))
    assert no_partial_files(tmp_path)


def test_atomic_write_permissions_follow_umask(tmp_path):
    from hiddenconvex.experiments.runner import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "a.csv").read_text() == "x\n"
