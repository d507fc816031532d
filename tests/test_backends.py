"""Batch runs on Dask and Ray (hiddenconvex.experiments.runner, backend = "dask" | "ray"): the same
rows as local loky processes, the data shipped once, and resuming after an interrupted or killed
batch with no row lost or duplicated.

Dask runs on a LocalCluster with 2 workers: in-process (threads) for the fake tasks, 2 worker
processes for the real pipeline. Ray is an optional extra; its tests are skipped without it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from experiment_helpers import (
    ACCEPT_ALL,
    N_RUNS,
    comparable,
    expected_metrics,
    install_fake_task,
    load_script,
    no_partial_files,
    write_config,
)

from hiddenconvex import InputError
from hiddenconvex.experiments import runner
from hiddenconvex.experiments.config import expand_grid, load_config
from hiddenconvex.experiments.runner import LOG_NAME, run_batch, run_states

distributed = pytest.importorskip(
    "dask.distributed", reason="dask[distributed] (the `test` extra) is not installed")


@pytest.fixture()
def fake_module(tmp_path, monkeypatch):
    yield from install_fake_task(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def cluster():
    """A Dask LocalCluster with 2 single-threaded in-process workers (fast to start)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture()
def reference(tmp_path, fake_module):
    """The fake grid run by local loky processes (n_jobs = 2)."""
    ref = load_config(write_config(tmp_path / "ref", n_jobs=2), validate_dataset=ACCEPT_ALL)
    run_batch(ref, fake_module.task, progress=False)
    return ref


def test_dask_rows_equal_loky(tmp_path, fake_module, reference, cluster):
    cfg = load_config(write_config(tmp_path / "dask"), validate_dataset=ACCEPT_ALL)
    table = run_batch(cfg, fake_module.task, progress=False, backend="dask",
                      address=cluster.scheduler_address, chunk_size=2, min_interval=0)
    assert table.attrs == {"computed": N_RUNS, "cached": 0, "errors": 4}
    pd.testing.assert_frame_equal(comparable(cfg.output), comparable(reference.output))
    df = pd.read_csv(cfg.output, keep_default_na=False, na_values=[""])
    for run, (_, row) in zip(expand_grid(cfg), df.iterrows(), strict=True):
        exp = expected_metrics(run.params, run.seed)
        assert row["status"] == ("error" if exp is None else "ok")
        if exp is not None:
            assert row["value"] == pytest.approx(exp["value"], rel=1e-15)  # CSV round trip
    log = (cfg.store / LOG_NAME).read_text().splitlines()
    task_lines = [ln for ln in log if f"/{N_RUNS}] " in ln]
    assert len(task_lines) == N_RUNS
    assert {ln.split("] ")[1].split()[0] for ln in task_lines} == set(df["run_id"])
    assert sum(" error " in ln for ln in task_lines) == 4
    assert f"Dask cluster {cluster.scheduler_address}" in log[0]
    # the cache is shared across backends: nothing is recomputed on loky
    again = run_batch(cfg, fake_module.task, progress=False, backend="loky", n_jobs=2)
    assert again.attrs["computed"] == 4 and again.attrs["cached"] == N_RUNS - 4  # errors retried


@pytest.mark.parametrize("resume_on", ["dask", "loky"])
def test_dask_interrupted_then_resumed(tmp_path, fake_module, reference, cluster, monkeypatch,
                                       resume_on):
    """Ctrl-C in the parent after k stored runs (runs in flight on the workers are dropped)."""
    cfg = load_config(write_config(tmp_path / "killed"), validate_dataset=ACCEPT_ALL)
    k, writes = 7, []
    real_write = runner.atomic_write

    def interrupting_write(path, data):
        if Path(path).suffix == ".json" and len(writes) == k:
            raise KeyboardInterrupt
        writes.append(path)
        real_write(path, data)

    monkeypatch.setattr(runner, "atomic_write", interrupting_write)
    with pytest.raises(KeyboardInterrupt):
        run_batch(cfg, fake_module.task, progress=False, backend="dask",
                  address=cluster.scheduler_address)
    monkeypatch.setattr(runner, "atomic_write", real_write)
    partial = pd.read_csv(cfg.output)
    assert len(partial) == k and partial["run_id"].is_unique  # every stored run, once
    assert set(partial["run_id"]) == {Path(p).stem for p in writes}
    states = [s for _, s in run_states(cfg)]
    assert states.count("pending") == N_RUNS - k
    n_done = states.count("done")
    assert "interrupted" in (cfg.store / LOG_NAME).read_text().splitlines()[-1]

    address = cluster.scheduler_address if resume_on == "dask" else None
    table = run_batch(cfg, fake_module.task, progress=False, backend=resume_on, address=address,
                      n_jobs=2)
    assert table.attrs["computed"] == N_RUNS - n_done
    pd.testing.assert_frame_equal(comparable(cfg.output), comparable(reference.output))
    assert no_partial_files(tmp_path)


DRIVER = """
import sys

from dask.distributed import LocalCluster

import fake_task
from hiddenconvex.experiments.config import load_config
from hiddenconvex.experiments.runner import run_batch

cfg = load_config(sys.argv[1], validate_dataset=lambda name: True)
with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=None) as cluster:
    run_batch(cfg, fake_task.task, progress=False, backend="dask",
              address=cluster.scheduler_address)
"""


def test_dask_batch_sigkilled_then_restarted(tmp_path, fake_module, reference):
    """A batch process on its own Dask cluster killed with SIGKILL mid-way, then restarted."""
    cfg_path = write_config(tmp_path / "killed")
    store = tmp_path / "killed" / "out" / "exp.runs"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(fake_module.__file__).parent), os.environ.get("PYTHONPATH", "")]),
        "FAKE_TASK_SLEEP": "0.15"}
    proc = subprocess.Popen([sys.executable, str(driver), str(cfg_path)], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(store.glob("*.json"))) >= 5:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert 5 <= len(list(store.glob("*.json"))) < N_RUNS
    env["FAKE_TASK_SLEEP"] = "0"
    done = subprocess.run([sys.executable, str(driver), str(cfg_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    csv_path = tmp_path / "killed" / "out" / "runs.csv"
    pd.testing.assert_frame_equal(comparable(csv_path), comparable(reference.output))
    final = pd.read_csv(csv_path)
    assert len(final) == N_RUNS and final["run_id"].is_unique
    assert no_partial_files(tmp_path)


REAL = """
[experiment]
name = "tiny"
output = "{output}"
n_jobs = 2
[grid]
dataset = ["tiny", "tiny2"]
beta = [0.1]
width = [3]
method = ["exact"]
seeds = [0, 1]
[options]
n_train_seeds = 1
{execution}
"""


def _real_config(tmp_path, name, execution=""):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "c.toml"
    path.write_text(REAL.format(output=(folder / "runs.csv").as_posix(), execution=execution))
    return path


@pytest.fixture()
def tiny_data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x1": [1.0, -1.0, 0.5, -2.0], "x2": [0.3, 0.8, -1.0, 0.2],
                  "y": [3.0, 2.0, -1.0, 0.5]}).to_csv(data / "tiny.csv", index=False)
    pd.DataFrame({"x1": [0.4, -1.5, 1.2, -0.3, 2.0], "x2": [1.0, 0.2, -0.7, -1.1, 0.5],
                  "y": [1.0, -0.5, 0.3, 2.0, -1.0]}).to_csv(data / "tiny2.csv", index=False)
    monkeypatch.setenv("HIDDENCONVEX_DATA_DIR", str(data))
    return data


def test_dask_local_cluster_script_equals_loky(tmp_path, fake_module, reference, capsys,
                                               monkeypatch):
    """scripts/run_batch.py with [execution] backend = "dask" and no address: the runner starts a
    LocalCluster of 2 worker processes; the rows are those of loky; --quiet: nothing on stderr."""
    cli = load_script("run_batch")
    monkeypatch.setattr(cli, "DEFAULT_TASK", "fake_task:task")
    text = write_config(tmp_path / "x").read_text() + '\n[execution]\nbackend = "dask"\n'
    path = tmp_path / "dask.toml"
    path.write_text(text.replace((tmp_path / "x").as_posix(), (tmp_path / "dask").as_posix()))
    monkeypatch.setattr("hiddenconvex.experiments.datasets.list_datasets",
                        lambda data_dir=None: ["a", "b"])
    assert cli.main([str(path), "--task", "fake_task:task", "--n-jobs", "2", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert f"exp: {N_RUNS} runs ({N_RUNS} computed, 0 cached), 4 error(s)" in out
    assert "Traceback" not in err and "it/s" not in err and "run/s" not in err
    csv_path = tmp_path / "dask" / "out" / "runs.csv"
    pd.testing.assert_frame_equal(comparable(csv_path), comparable(reference.output))
    log = (tmp_path / "dask" / "out" / "exp.runs" / LOG_NAME).read_text()
    assert "Dask LocalCluster (2 worker processes)" in log


@pytest.mark.slow
def test_real_pipeline_on_dask_processes_equals_loky(tmp_path, tiny_data, capsys):
    """scripts/run_batch.py, real task: [execution] backend = "dask" (a LocalCluster of 2 worker
    processes started by the runner) gives the rows of --backend loky."""
    cli = load_script("run_batch")
    ref = _real_config(tmp_path, "ref")
    assert cli.main([str(ref), "--backend", "loky", "--quiet"]) == 0
    cfg = _real_config(tmp_path, "dask", '[execution]\nbackend = "dask"')
    assert cli.main([str(cfg), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "tiny: 4 runs (4 computed, 0 cached), 0 error(s)" in out and err == ""
    pd.testing.assert_frame_equal(comparable(tmp_path / "dask" / "runs.csv"),
                                  comparable(tmp_path / "ref" / "runs.csv"))
    assert "Dask LocalCluster (2 worker processes)" in (
        tmp_path / "dask" / "tiny.runs" / LOG_NAME).read_text()


def test_data_scattered_once_not_read_by_workers(tmp_path, tiny_data, cluster, monkeypatch):
    """The parent reads each dataset once and scatters it once (broadcast); the tasks get the
    scattered copy (no file read on the workers, no per-task scatter of the arguments)."""
    from hiddenconvex.experiments import datasets

    reads, scatters = [], []
    real_csv, real_scatter = datasets.load_csv, distributed.Client.scatter

    def counting_csv(path, *a, **k):
        reads.append(Path(path).name)
        return real_csv(path, *a, **k)

    def counting_scatter(self, data, *a, **k):
        scatters.append((type(data).__name__, len(data) if isinstance(data, list) else 1, k))
        return real_scatter(self, data, *a, **k)

    monkeypatch.setattr(datasets, "load_csv", counting_csv)
    monkeypatch.setattr(distributed.Client, "scatter", counting_scatter)
    def task(params, seed):  # what the pipeline does first: load the dataset by name
        data = datasets.load_dataset(params["dataset"])
        return {"n": data.X.shape[0], "sum": float(data.X.sum() + data.y.sum())}

    cfg = load_config(_real_config(tmp_path, "dask"))
    table = run_batch(cfg, task, progress=False, backend="dask",
                      address=cluster.scheduler_address)
    assert table.attrs["computed"] == 4 and (table["status"] == "ok").all()
    assert table["n"].tolist() == [4, 4, 5, 5]
    # unregistered files load without a bias column: the sum of every cell of the file
    sums = {n: pd.read_csv(tiny_data / f"{n}.csv").to_numpy().sum() for n in ("tiny", "tiny2")}
    assert table["sum"].tolist() == pytest.approx([sums[n] for n in table["dataset"]], rel=1e-12)
    assert sorted(reads) == ["tiny.csv", "tiny2.csv"]  # the parent's preload, nothing else
    assert scatters == [("list", 2, {"broadcast": True})]


def test_backend_errors_are_user_errors(tmp_path, fake_module, monkeypatch):
    cfg = load_config(write_config(tmp_path / "e"), validate_dataset=ACCEPT_ALL)
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", 1)
    with pytest.raises(InputError, match=r"cannot connect to the Dask scheduler at "
                                         r"tcp://127.0.0.1:9.*--address"):
        run_batch(cfg, fake_module.task, progress=False, backend="dask",
                  address="tcp://127.0.0.1:9")
    with pytest.raises(InputError, match="backend must be one of loky, dask, ray"):
        run_batch(cfg, fake_module.task, progress=False, backend="spark")
    with pytest.raises(InputError, match="backend is 'loky'"):
        run_batch(cfg, fake_module.task, progress=False, backend="loky", address="tcp://h:1")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    with pytest.raises(InputError, match=r"needs dask.distributed.*hiddenconvex\[dask\]"):
        run_batch(cfg, fake_module.task, progress=False, backend="dask")
    assert not list(cfg.store.glob("*.json"))


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def test_ray_missing_is_a_user_error(tmp_path, fake_module):
    if _has_ray():
        pytest.skip("ray is installed (the message for a missing ray cannot be shown)")
    cfg = load_config(write_config(tmp_path / "e"), validate_dataset=ACCEPT_ALL)
    with pytest.raises(InputError, match=r"backend 'ray' needs ray.*hiddenconvex\[ray\]"):
        run_batch(cfg, fake_module.task, progress=False, backend="ray")


@pytest.mark.skipif(not _has_ray(), reason="ray (the optional `ray` extra) is not installed")
def test_ray_rows_equal_loky_and_resume(tmp_path, fake_module, reference, monkeypatch):
    cfg = load_config(write_config(tmp_path / "ray", n_jobs=2), validate_dataset=ACCEPT_ALL)
    k, real_write, writes = 5, runner.atomic_write, []

    def interrupting_write(path, data):
        if Path(path).suffix == ".json" and len(writes) == k:
            raise KeyboardInterrupt
        writes.append(path)
        real_write(path, data)

    monkeypatch.setattr(runner, "atomic_write", interrupting_write)
    with pytest.raises(KeyboardInterrupt):
        run_batch(cfg, fake_module.task, progress=False, backend="ray")
    monkeypatch.setattr(runner, "atomic_write", real_write)
    assert len(pd.read_csv(cfg.output)) == k
    run_batch(cfg, fake_module.task, progress=False, backend="ray")
    pd.testing.assert_frame_equal(comparable(cfg.output), comparable(reference.output))
    final = pd.read_csv(cfg.output)
    assert len(final) == N_RUNS and final["run_id"].is_unique
