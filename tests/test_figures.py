"""Figures from stored CSVs (hiddenconvex.experiments.figures, scripts/make_figures.py)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from experiment_helpers import (
    load_script,
    make_pipeline_csv,
    no_partial_files,
    truncate_last_line,
)


@pytest.fixture()
def pipeline_csv(tmp_path):
    return make_pipeline_csv(tmp_path)


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


def test_experiments_import_without_matplotlib():
    """matplotlib is imported only when a figure is drawn (a subprocess where it cannot load)."""
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import hiddenconvex.experiments.figures, hiddenconvex.experiments.summary\n"
            "import hiddenconvex.experiments.runner\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
