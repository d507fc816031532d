"""Batch runner (hiddenconvex.experiments.runner): execution, resumability, the run store, and
scripts/run_batch.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import (
    ACCEPT_ALL,
    N_RUNS,
    SCRIPTS,
    Interrupting,
    comparable,
    expected_metrics,
    install_fake_task,
    load_script,
    no_partial_files,
    write_config,
)

import hiddenconvex
from hiddenconvex import InputError
from hiddenconvex.experiments.config import PARAM_COLUMNS, expand_grid, load_config
from hiddenconvex.experiments.provenance import (
    PROVENANCE_COLUMNS,
    TIMING_COLUMNS,
    git_revision,
    volatile_columns,
)
from hiddenconvex.experiments.runner import run_batch, run_states


@pytest.fixture()
def fake_module(tmp_path, monkeypatch):
    yield from install_fake_task(tmp_path, monkeypatch)


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
from hiddenconvex.experiments.config import load_config
from hiddenconvex.experiments.runner import run_batch

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
# scripts/run_batch.py
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# progress bar, per-run log, stale temporary files
# ----------------------------------------------------------------------------------------------
def test_progress_bar_on_a_terminal_and_quiet(tmp_path, fake_module, known_datasets, capsys,
                                              monkeypatch):
    cli = load_script("run_batch")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    cfg_path = write_config(tmp_path / "bar")
    assert cli.main([str(cfg_path), "--task", "fake_task:task"]) == 1
    out, err = capsys.readouterr()
    assert f"{N_RUNS}/{N_RUNS}" in err and "errors=4" in err  # the tqdm bar, on stderr only
    assert f"{N_RUNS}/{N_RUNS}" not in out and out.startswith("exp: ")
    cfg_path = write_config(tmp_path / "quiet")
    assert cli.main([str(cfg_path), "--task", "fake_task:task", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert f"{N_RUNS}/{N_RUNS}" not in err and "run/s" not in err
    log = (tmp_path / "quiet" / "out" / "exp.runs" / "batch.log").read_text().splitlines()
    assert len([ln for ln in log if f"/{N_RUNS}] " in ln]) == N_RUNS  # one line per run
    assert "ValueError: deliberate failure on two lines" in "\n".join(log)
    assert log[-1].endswith(f"{N_RUNS} of {N_RUNS} runs computed (4 error(s)) -> "
                            f"{tmp_path / 'quiet' / 'out' / 'runs.csv'}")


def test_stale_partial_record_of_a_killed_batch_is_removed(tmp_path, fake_module):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    cfg.store.mkdir(parents=True, exist_ok=True)
    stale = cfg.store / ".abcdef012345.json.x1y2.partial"
    stale.write_text('{"half": ')
    run_batch(cfg, fake_module.task, progress=False)
    assert not stale.exists() and no_partial_files(tmp_path)


def test_backend_option_of_the_script(tmp_path, fake_module, known_datasets, capsys):
    cli = load_script("run_batch")
    cfg_path = write_config(tmp_path)
    assert cli.main([str(cfg_path), "--dry-run", "--backend", "dask",
                     "--address", "tcp://h:8786"]) == 0
    assert "(backend dask at tcp://h:8786)" in capsys.readouterr().out
    assert cli.main([str(cfg_path), "--address", "tcp://h:8786"]) == 2
    assert "backend is 'loky'" in capsys.readouterr().err
