"""The tidy batch CSV (hiddenconvex.experiments.table): merging several experiments into one CSV
under a lock, reading a stored CSV and refusing a truncated or corrupt one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from experiment_helpers import (
    ACCEPT_ALL,
    GRID,
    N_RUNS,
    Interrupting,
    install_fake_task,
    make_pipeline_csv,
    no_partial_files,
    truncate_last_line,
    write_config,
)

from hiddenconvex import InputError
from hiddenconvex.experiments.config import expand_grid, load_config
from hiddenconvex.experiments.provenance import volatile_columns
from hiddenconvex.experiments.runner import run_batch
from hiddenconvex.experiments.table import read_table


@pytest.fixture()
def fake_module(tmp_path, monkeypatch):
    yield from install_fake_task(tmp_path, monkeypatch)


@pytest.fixture()
def pipeline_csv(tmp_path):
    return make_pipeline_csv(tmp_path)


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
from hiddenconvex.experiments.config import load_config
from hiddenconvex.experiments.runner import run_batch

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


def test_read_table_refuses_truncated_or_ragged_csv(tmp_path, pipeline_csv):
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
