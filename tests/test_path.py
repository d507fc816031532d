"""The β path (issue 16 item 3): each point equals an independent solve at its β, the objective is
nondecreasing in β (a minimum of functions nondecreasing in β), the first default β is β_max with
the zero network, and the CLI writes one CSV and one figure."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from tolerances import solve_error

import hiddenconvex as hc
from hiddenconvex.errors import InputError
from hiddenconvex.experiments.datasets import load_dataset
from hiddenconvex.path import default_betas, solve_path


def test_default_betas():
    b = default_betas(2.0, 10)
    assert b[0] == 2.0 and b[-1] == pytest.approx(2e-3, rel=1e-12)
    assert np.all(np.diff(b) < 0)
    with pytest.raises(InputError):
        default_betas(0.0)


@pytest.mark.parametrize("strategy", ["full", "working-set"])
def test_path_matches_independent_solves(strategy):
    data = load_dataset("teacher_2d")
    pts = solve_path(data.X, data.y, None, num_betas=4, strategy=strategy,
                     patterns="exact", optimal_set=strategy == "full")
    betas = [p.beta for p in pts]
    assert betas == sorted(betas, reverse=True) and len(pts) == 4
    first = pts[0]
    assert first.result.certified and first.record["active_blocks"] == 0  # β = β_max: W = 0
    objs = [p.result.objective for p in pts]
    for a, b, pa, pb in zip(objs[:-1], objs[1:], pts[:-1], pts[1:], strict=True):
        assert b <= a + solve_error(pa.result.solution) + solve_error(pb.result.solution)
    for p in pts[1:]:
        ref = hc.solve(data.X, data.y, p.beta, patterns="exact", strategy="full")
        assert p.result.certified
        assert abs(p.result.objective - ref.objective) <= solve_error(p.result.solution) + \
            solve_error(ref.solution)
    if strategy == "full":
        assert all(p.record["m_star"] is not None for p in pts)
        assert pts[0].record["m_star"] == 0


def test_path_cli_writes_csv_and_figure(tmp_path):
    out = tmp_path / "p.csv"
    res = subprocess.run([sys.executable, "-m", "hiddenconvex.cli", "path", "data/default.csv",
                          "--betas", "1", "0.1", "--output", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out)
    assert list(df["beta"]) == [1.0, 0.1]
    assert df["certified"].all() and df["m_star"].notna().all()
    assert (tmp_path / "p.png").stat().st_size > 0
    bad = subprocess.run([sys.executable, "-m", "hiddenconvex.cli", "path", "data/default.csv",
                          "--betas", "-1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--betas" in bad.stderr
