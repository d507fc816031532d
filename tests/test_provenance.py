"""Provenance columns (hiddenconvex.experiments.provenance)."""

from __future__ import annotations

from importlib import metadata

import hiddenconvex
from hiddenconvex.experiments.provenance import (
    PROVENANCE_COLUMNS,
    TASK_PROVENANCE_KEYS,
    TIMING_COLUMNS,
    collect_provenance,
    git_revision,
    volatile_columns,
)


def test_git_revision_outside_git(tmp_path):
    assert git_revision(tmp_path) == "unknown"
    rev = git_revision()
    assert rev == "unknown" or rev.split("-")[0].isalnum()


def test_batch_provenance_fills_the_provenance_columns():
    """The batch-wide provenance, the run id, the task's provenance keys and the per-run timings
    are exactly the provenance columns; versions are those of the installed distributions."""
    prov = collect_provenance()
    assert {*prov, "run_id", *TASK_PROVENANCE_KEYS, *TIMING_COLUMNS} == set(PROVENANCE_COLUMNS)
    assert len(PROVENANCE_COLUMNS) == len(set(PROVENANCE_COLUMNS))
    assert prov["hiddenconvex_version"] == hiddenconvex.__version__
    for dist in ("numpy", "scipy", "cvxpy", "pandas"):
        assert prov[f"{dist}_version"] == metadata.version(dist)


def test_volatile_columns():
    cols = ["dataset", "seed", "solve_seconds", "seconds_total", "date", "wall_seconds", "run_id"]
    assert volatile_columns(cols) == ["solve_seconds", "date", "wall_seconds"]
