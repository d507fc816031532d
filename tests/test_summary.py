"""Summary tables from a stored CSV (hiddenconvex.experiments.summary, scripts/make_tables.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import (
    GAPS,
    SCRIPTS,
    load_script,
    make_pipeline_csv,
    no_partial_files,
    truncate_last_line,
)


@pytest.fixture()
def pipeline_csv(tmp_path):
    return make_pipeline_csv(tmp_path)


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
