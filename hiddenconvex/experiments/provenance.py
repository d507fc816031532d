"""Provenance of a result: package versions, git revision, host, date (edge module).

Every row of a batch table ends with :data:`PROVENANCE_COLUMNS`; :func:`collect_provenance`
gives the part shared by every run of one batch (the run's own ``date``, ``wall_seconds`` and the
task's ``solver_version`` are added per run). :func:`volatile_columns` names the columns that
legitimately differ between two executions of the same runs, so reproducibility checks can drop
them.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

__all__ = [
    "PROVENANCE_COLUMNS",
    "TASK_PROVENANCE_KEYS",
    "TIMING_COLUMNS",
    "TIMING_SUFFIX",
    "collect_provenance",
    "git_revision",
    "volatile_columns",
]

#: Provenance columns, in CSV order (after the metrics).
PROVENANCE_COLUMNS = (
    "run_id",
    "solver_version",
    "hiddenconvex_version",
    "numpy_version",
    "scipy_version",
    "cvxpy_version",
    "pandas_version",
    "python_version",
    "git_revision",
    "hostname",
    "date",
    "wall_seconds",
)
#: Metrics a task may return that are provenance rather than results.
TASK_PROVENANCE_KEYS = ("solver_version",)
#: Columns that legitimately differ between two executions of the same run (wall clock, date).
TIMING_COLUMNS = ("date", "wall_seconds")
#: Every column whose name ends with this suffix is a timing (e.g. ``solve_seconds``); tasks must
#: name their timings this way so that reproducibility checks can exclude them.
TIMING_SUFFIX = "_seconds"


def git_revision(path: str | os.PathLike | None = None) -> str:
    """``git rev-parse --short HEAD`` of the tree holding ``path`` (default: this package),
    with ``-dirty`` appended when tracked files are modified; ``"unknown"`` outside git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "--no-optional-locks", "-C", str(where), *args],
                                 capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    rev = git("rev-parse", "--short", "HEAD")
    if not rev:
        return "unknown"
    status = git("status", "--porcelain", "--untracked-files=no")
    return rev + ("-dirty" if status else "")


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect_provenance() -> dict:
    """Provenance shared by every run of a batch: versions, git revision, host, Python."""
    from .. import __version__

    return {
        "hiddenconvex_version": __version__,
        "numpy_version": _dist_version("numpy"),
        "scipy_version": _dist_version("scipy"),
        "cvxpy_version": _dist_version("cvxpy"),
        "pandas_version": _dist_version("pandas"),
        "python_version": platform.python_version(),
        "git_revision": git_revision(),
        "hostname": socket.gethostname(),
    }


def volatile_columns(columns: Iterable[str]) -> list[str]:
    """The columns that may differ between two executions of the same runs: the wall-clock
    columns :data:`TIMING_COLUMNS` and every column ending in :data:`TIMING_SUFFIX`."""
    return [c for c in columns if c in TIMING_COLUMNS or str(c).endswith(TIMING_SUFFIX)]
