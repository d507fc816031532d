"""Fakes and helpers shared by the tests of :mod:`hiddenconvex.experiments` (config, runner,
table, summary, figures) and of the scripts that drive it.

The tasks here are cheap fakes whose metrics are closed-form functions of (params, seed), so every
expected value is computed in the test independently of the runner.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd

from hiddenconvex.experiments.config import load_config
from hiddenconvex.experiments.provenance import volatile_columns
from hiddenconvex.experiments.runner import run_batch

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


def install_fake_task(tmp_path: Path, monkeypatch) -> Iterator[ModuleType]:
    """Body of the ``fake_module`` fixture: FAKE_TASK importable as ``fake_task`` (also by
    subprocesses given the folder on PYTHONPATH); removed from ``sys.modules`` afterwards."""
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


class Interrupting:
    """Fake task that stops the whole batch (like Ctrl-C) after k completed calls."""

    def __init__(self, task, k, exc):
        self.task, self.k, self.exc, self.calls = task, k, exc, 0

    def __call__(self, params, seed):
        if self.calls == self.k:
            raise self.exc
        self.calls += 1
        return self.task(params, seed)


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def make_pipeline_csv(tmp_path: Path) -> Path:
    """Body of the ``pipeline_csv`` fixture: a batch CSV of :func:`pipeline_like` runs."""
    text = GRID.replace("width = [4]", "width = [2, 4]")
    cfg = load_config(write_config(tmp_path / "exp", text=text), validate_dataset=ACCEPT_ALL)
    run_batch(cfg, pipeline_like, progress=False)
    return cfg.output


def truncate_last_line(src: Path, dst: Path) -> int:
    """Copy ``src`` to ``dst`` with its last line cut in the middle; returns that line's number."""
    lines = src.read_text().splitlines(keepends=True)
    dst.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    return len(lines)
