"""Batch experiments over a parameter grid (edge module: file I/O is its job).

An experiment is declared as data in a TOML file (benchopt style)::

    [experiment]
    name = "default"                          # names the run store <output folder>/<name>.runs/
    output = "results/experiments/runs.csv"   # the tidy CSV (relative paths: from the CWD)
    n_jobs = 2                                # parallel configurations (joblib, loky backend)

    [grid]                                    # the Cartesian product of these lists
    dataset = ["default", "iris_pca2"]
    beta = [0.01, 0.1]
    loss = ["squared"]                        # squared | logistic | hinge      (default squared)
    solver = ["clarabel"]                     # clarabel | ecos | scs          (default clarabel)
    method = ["exact"]                        # exact | sample | auto          (default auto)
    samples = [0]                             # int >= 0, 0 = task default; forced to 0 for exact
    width = [10]                              # int >= 1
    seeds = [0, 1, 2]                         # int >= 0; the seed is part of every run's key

    [[grid.extra]]                            # optional, repeatable: an extra sub-grid; keys it
    dataset = "spirals"                       # does not set are inherited from [grid]
    method = "sample"
    samples = [200, 2000]

    [options]                                 # passed unchanged to every task call
    train_method = "lbfgs"

A *task* is a function ``task(params: dict, seed: int) -> dict`` returning the metrics of one
run; ``params`` holds the grid keys ``dataset, beta, loss, solver, method, samples, width`` and
every option. :func:`run_batch` runs every configuration of the grid once per seed and keeps

* one JSON file per completed run, ``<name>.runs/<run_id>.json``, written atomically (temporary
  file + :func:`os.replace`) by the parent process only; ``run_id`` is a short SHA-256 of the
  canonical JSON of the parameters *including the seed and the options*, so a run is recomputed
  only when something it depends on changes (or with ``force=True``);
* the tidy CSV, one row per run in grid order: parameter columns, ``seed``, ``status``/``error``,
  the task's metrics, then provenance (``run_id``, versions, git revision, host, date, wall time).
  It is reassembled from the run store after every chunk of completed runs and at the end, and
  replaced atomically, so a killed batch restarted later ends with the same CSV as an
  uninterrupted one, except for the columns listed by :func:`volatile_columns`.
  Several experiments may share one CSV, also at the same time: every write holds an exclusive
  lock (``fcntl``) on ``.<csv name>.lock`` beside the CSV and *merges*: the rows of other
  experiments already in the CSV are kept unchanged (keyed by ``run_id``), the rows of this one
  (its grid and every run in its store) are replaced by the current table, at the position of the
  first of them (appended when there was none). Columns are the union, in the layout above.

A task that raises an ``Exception`` gives a row with ``status="error"`` and a one-line message;
the batch goes on. Stored error rows are retried by the next invocation (a bug fixed since then
needs no ``force``). ``KeyboardInterrupt``/``SystemExit`` stop the batch; completed runs are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "LOSSES",
    "SOLVERS",
    "METHODS",
    "GRID_KEYS",
    "PARAM_COLUMNS",
    "STATUS_COLUMNS",
    "PROVENANCE_COLUMNS",
    "TIMING_COLUMNS",
    "TIMING_SUFFIX",
    "Run",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "expand_grid",
    "run_id",
    "check_output_writable",
    "ensure_writable_folder",
    "run_states",
    "run_batch",
    "assemble_table",
    "read_table",
    "check_csv_fields",
    "volatile_columns",
    "collect_provenance",
    "git_revision",
    "atomic_write",
    "atomic_path",
    "atomic_paths",
]

LOSSES = ("squared", "logistic", "hinge")
SOLVERS = ("clarabel", "ecos", "scs")
METHODS = ("exact", "sample", "auto")

#: Keys of a ``[grid]`` table (``seeds`` becomes the ``seed`` column, one run per seed).
GRID_KEYS = ("dataset", "beta", "loss", "solver", "method", "samples", "width", "seeds")
#: Parameter columns, in CSV order (option columns follow, then ``seed``).
PARAM_COLUMNS = ("dataset", "beta", "loss", "solver", "method", "samples", "width")
GRID_DEFAULTS: dict[str, tuple] = {
    "loss": ("squared",),
    "solver": ("clarabel",),
    "method": ("auto",),
    "samples": (0,),
}
REQUIRED_GRID_KEYS = ("dataset", "beta", "width", "seeds")
EXPERIMENT_KEYS = ("name", "output", "n_jobs", "description")
TOP_LEVEL_KEYS = ("experiment", "grid", "options")

STATUS_COLUMNS = ("status", "error")
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

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARTIAL_SUFFIX = ".partial"  # temporary files; ignored by .gitignore (results/**/*.partial)
_SCHEMA = 1


# ----------------------------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------------------------
@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary file lives in the same folder (same file system, so :func:`os.replace` is
    atomic) and ends in ``.partial``; it is removed if the body raises. Use it for writers that
    want a file name (``savefig``); :func:`atomic_write` covers text and bytes.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; results are shared files
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Like :func:`atomic_path` for several files written together: yields one temporary path per
    target; only when the body succeeds are they moved into place (one :func:`os.replace` each),
    otherwise every temporary file is removed and no target is touched."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(p)) for p in paths]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + :func:`os.replace`).

    A reader never sees a half-written file: it sees the old content or the new one.
    """
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One run of the grid: the parameters passed to the task and the seed.

    Attributes
    ----------
    run_id : str
        12 hex digits of the SHA-256 of the canonical JSON of ``params`` and ``seed``.
    items : tuple of (str, value)
        The task parameters: grid keys in :data:`PARAM_COLUMNS` order, then the options.
    seed : int
    """

    run_id: str
    items: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def params(self) -> dict:
        """A fresh dict of the task parameters (grid keys and options, without the seed)."""
        return json.loads(json.dumps(dict(self.items)))


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment: its name, output CSV, parallelism, grids and options.

    Attributes
    ----------
    name : str
        Experiment name; the run store is ``output.parent / f"{name}.runs"``.
    output : Path
        Absolute path of the tidy CSV.
    n_jobs : int
        Default number of parallel configurations (joblib semantics: -1 = all cores).
    grids : tuple of dict
        The main grid then each ``[[grid.extra]]``, every key of :data:`GRID_KEYS` resolved to a
        tuple of validated values.
    options : dict
        Passed unchanged to every task call (merged into ``params``).
    source : str
        Where the config came from (file path), for messages.
    description : str
    """

    name: str
    output: Path
    n_jobs: int
    grids: tuple[dict, ...]
    options: dict
    source: str = "<config>"
    description: str = ""

    @property
    def store(self) -> Path:
        """Folder holding one JSON file per completed run."""
        return self.output.parent / f"{self.name}.runs"

    def runs(self) -> list[Run]:
        """The runs of the grid in their deterministic order (see :func:`expand_grid`)."""
        return expand_grid(self)


def load_config(
    path: str | os.PathLike,
    *,
    validate_dataset: Callable[[str], object] | None = None,
    check_output: bool = True,
) -> ExperimentConfig:
    """Read and fully validate an experiment TOML file before any work starts.

    Parameters
    ----------
    path : path-like
        The TOML file.
    validate_dataset : callable, optional
        ``validate_dataset(name)`` raises :class:`InputError` (or returns ``False``) for an
        unknown dataset name. Default: membership in ``hiddenconvex.datasets.list_datasets()``.
    check_output : bool
        Create the results folders and check they are writable (probe file written and removed).

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    InputError
        Missing or malformed file (with tomllib's line and column), unknown keys, wrong types,
        empty or duplicated lists, ``beta <= 0``, unknown loss/solver/method/dataset names, an
        unwritable results folder. The message is one line naming the file and the key.
    """
    src = os.fspath(path)
    try:
        raw = Path(src).read_bytes()
    except FileNotFoundError:
        raise InputError(f"config file not found: {src}") from None
    except IsADirectoryError:
        raise InputError(f"config path is a directory, not a TOML file: {src}") from None
    except OSError as exc:
        raise InputError(f"cannot read config {src}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{src}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{src}: malformed TOML: {exc}") from None
    config = parse_config(data, source=src, validate_dataset=validate_dataset)
    if check_output:
        check_output_writable(config)
    return config


def parse_config(
    data: Mapping,
    *,
    source: str = "<config>",
    validate_dataset: Callable[[str], object] | None = None,
) -> ExperimentConfig:
    """Validate a parsed config mapping (the TOML document) into an :class:`ExperimentConfig`.

    Does not touch the file system; see :func:`load_config` for the parameters and errors.
    """

    def fail(where: str, msg: str):
        raise InputError(f"{source}: {where}: {msg}")

    if not isinstance(data, Mapping):
        raise InputError(f"{source}: the config must be a table of tables")
    _unknown_keys(data, TOP_LEVEL_KEYS, "top level", fail)
    exp = data.get("experiment")
    if exp is None:
        fail("[experiment]", "missing table (needs name and output)")
    if not isinstance(exp, Mapping):
        fail("experiment", f"must be a table, got {_tname(exp)}")
    _unknown_keys(exp, EXPERIMENT_KEYS, "[experiment]", fail)
    name = exp.get("name")
    if name is None:
        fail("experiment.name", "missing")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        fail("experiment.name",
             f"must be a non-empty string of letters, digits, _ . - ; got {name!r}")
    output = exp.get("output")
    if output is None:
        fail("experiment.output", "missing (path of the tidy CSV)")
    if not isinstance(output, str) or not output.strip():
        fail("experiment.output", f"must be a non-empty path string, got {output!r}")
    if not output.endswith(".csv"):
        fail("experiment.output", f"must end in .csv, got {output!r}")
    n_jobs = exp.get("n_jobs", 1)
    try:
        n_jobs = check_n_jobs(n_jobs)
    except InputError as exc:
        fail("experiment.n_jobs", str(exc))
    description = exp.get("description", "")
    if not isinstance(description, str):
        fail("experiment.description", f"must be a string, got {_tname(description)}")

    grid = data.get("grid")
    if grid is None:
        fail("[grid]", "missing table")
    if not isinstance(grid, Mapping):
        fail("grid", f"must be a table, got {_tname(grid)}")
    _unknown_keys(grid, (*GRID_KEYS, "extra"), "[grid]", fail)
    for key in REQUIRED_GRID_KEYS:
        if key not in grid:
            fail(f"grid.{key}", "missing")
    main = {k: _grid_values(grid.get(k, GRID_DEFAULTS.get(k)), k, f"grid.{k}", fail)
            for k in GRID_KEYS}
    grids = [main]
    extras = grid.get("extra", [])
    if not isinstance(extras, list) or not all(isinstance(e, Mapping) for e in extras):
        fail("grid.extra", "must be an array of tables ([[grid.extra]])")
    for i, extra in enumerate(extras):
        where = f"grid.extra[{i}]"
        _unknown_keys(extra, GRID_KEYS, where, fail)
        if not extra:
            fail(where, "empty table (set at least one grid key)")
        grids.append({k: (_grid_values(extra[k], k, f"{where}.{k}", fail)
                          if k in extra else main[k]) for k in GRID_KEYS})

    options = data.get("options", {})
    if not isinstance(options, Mapping):
        fail("options", f"must be a table, got {_tname(options)}")
    reserved = {*PARAM_COLUMNS, "seed", "seeds", *STATUS_COLUMNS, *PROVENANCE_COLUMNS}
    for key, value in options.items():
        if not _KEY_RE.match(key):
            fail(f"options.{key}", "option names must be identifiers (letters, digits, _)")
        if key in reserved:
            fail(f"options.{key}", "clashes with a grid parameter or result column name")
        _check_option_value(value, f"options.{key}", fail)

    check = _dataset_checker(validate_dataset)
    seen: set[str] = set()
    for i, g in enumerate(grids):
        where = "grid.dataset" if i == 0 else f"grid.extra[{i - 1}].dataset"
        for name_ in g["dataset"]:
            if name_ in seen:
                continue
            try:
                ok = check(name_)
            except InputError as exc:
                fail(where, str(exc))
            if ok is False:
                fail(where, f"unknown dataset {name_!r}")
            seen.add(name_)

    return ExperimentConfig(
        name=name,
        output=Path(os.path.abspath(os.path.expanduser(output))),
        n_jobs=n_jobs,
        grids=tuple(grids),
        options=dict(options),
        source=source,
        description=description,
    )


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` is a non-zero int (joblib semantics: -1 = all cores)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise InputError(f"n_jobs must be a non-zero integer (-1 = all cores), got {n_jobs!r}")
    return int(n_jobs)


def _tname(v) -> str:
    return {dict: "table", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "float"}.get(type(v), type(v).__name__)


def _unknown_keys(table: Mapping, allowed: Sequence[str], where: str, fail) -> None:
    for key in table:
        if key not in allowed:
            fail(where, f"unknown key {key!r} (allowed: {', '.join(allowed)})")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _grid_values(values, key: str, where: str, fail) -> tuple:
    """Validate the list of one grid key; a scalar is read as a one-element list."""
    if not isinstance(values, list | tuple):
        values = [values]
    if len(values) == 0:
        fail(where, "empty list")
    out = []
    for i, v in enumerate(values):
        w = f"{where}[{i}]"
        if key == "dataset":
            if not isinstance(v, str) or not v.strip():
                fail(w, f"dataset names are non-empty strings, got {v!r}")
            out.append(v)
        elif key == "beta":
            if isinstance(v, bool) or not isinstance(v, int | float):
                fail(w, f"beta must be a number, got {_tname(v)} {v!r}")
            if not math.isfinite(v) or v <= 0:
                fail(w, f"beta must be finite and > 0, got {v!r}")
            out.append(float(v))
        elif key in ("loss", "solver", "method"):
            allowed = {"loss": LOSSES, "solver": SOLVERS, "method": METHODS}[key]
            if not isinstance(v, str):
                fail(w, f"must be a string, got {_tname(v)} {v!r}")
            if v not in allowed:
                fail(w, f"unknown {key} {v!r} (choose from {', '.join(allowed)})")
            out.append(v)
        else:  # samples, width, seeds
            lo = 1 if key == "width" else 0
            if not _is_int(v):
                fail(w, f"{key} must be an integer, got {_tname(v)} {v!r}")
            if v < lo:
                fail(w, f"{key} must be >= {lo}, got {v}")
            out.append(int(v))
    dup = [v for v, c in Counter(out).items() if c > 1]
    if dup:
        fail(where, f"duplicate value {dup[0]!r}")
    return tuple(out)


def _check_option_value(value, where: str, fail) -> None:
    if isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            fail(where, f"must be finite, got {value!r}")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_option_value(v, f"{where}[{i}]", fail)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_option_value(v, f"{where}.{k}", fail)
        return
    fail(where, f"unsupported value type {_tname(value)} (dates/times are not allowed)")


def _dataset_checker(validate_dataset):
    if validate_dataset is not None:
        if not callable(validate_dataset):
            raise InputError("validate_dataset must be callable(name)")
        return validate_dataset
    try:
        from .datasets import list_datasets
    except ImportError as exc:
        raise InputError(
            "cannot check dataset names: hiddenconvex.datasets.list_datasets is not available"
            f" ({exc})"
        ) from None
    known = [str(n) for n in list_datasets()]

    def check(name: str) -> bool:
        if name not in known:
            raise InputError(f"unknown dataset {name!r} (known: {', '.join(known) or 'none'})")
        return True

    return check


# ----------------------------------------------------------------------------------------------
# grid expansion
# ----------------------------------------------------------------------------------------------
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def run_id(params: Mapping, seed: int) -> str:
    """Stable id of a run: 12 hex digits of SHA-256 of the canonical JSON of params + seed."""
    key = _canonical({"params": dict(params), "seed": int(seed)})
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


def expand_grid(config: ExperimentConfig) -> list[Run]:
    """All runs, in a deterministic order.

    The main grid first, then each extra grid; within a grid the Cartesian product in the order
    of :data:`PARAM_COLUMNS` with the values in config order, the seed varying fastest. For
    ``method="exact"`` the number of samples is irrelevant and set to 0. Runs with the same
    ``run_id`` (duplicates across grids) appear once, at their first position.
    """
    runs: list[Run] = []
    seen: set[str] = set()
    for grid in config.grids:
        for combo in itertools.product(*(grid[k] for k in PARAM_COLUMNS)):
            params = dict(zip(PARAM_COLUMNS, combo, strict=True))
            if params["method"] == "exact":
                params["samples"] = 0
            params.update(config.options)
            for seed in grid["seeds"]:
                rid = run_id(params, seed)
                if rid in seen:
                    continue
                seen.add(rid)
                runs.append(Run(rid, tuple(params.items()), int(seed)))
    return runs


# ----------------------------------------------------------------------------------------------
# results folder, provenance
# ----------------------------------------------------------------------------------------------
def ensure_writable_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (with parents) and check it is writable with a probe file.

    Raises :class:`InputError` (one line) when it cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create results folder {folder}: {exc.strerror or type(exc).__name__}"
        ) from None
    probe = folder / f".write-probe-{os.getpid()}{_PARTIAL_SUFFIX}"
    try:
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"results folder is not writable: {folder} ({exc.strerror or type(exc).__name__})"
        ) from None
    return folder


def check_output_writable(config: ExperimentConfig) -> None:
    """Create the CSV folder and the run store and check both are writable (probe file)."""
    if config.output.is_dir():
        raise InputError(f"results path {config.output} is a directory, expected a CSV file path")
    for folder in (config.output.parent, config.store):
        ensure_writable_folder(folder)


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


# ----------------------------------------------------------------------------------------------
# executing runs
# ----------------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return msg if len(msg) <= 500 else msg[:497] + "..."


def _json_scalar(value, where: str):
    """A metric value as a JSON scalar; containers become a compact JSON string."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(_json_tree(value, where), separators=(",", ":"), allow_nan=True)
    raise TypeError(f"metric {where!r} has unsupported type {type(value).__name__}")


def _json_tree(value, where: str):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_json_tree(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_tree(v, where) for k, v in value.items()}
    return _json_scalar(value, where)


def _execute(task: Callable, run_id_: str, params: dict, seed: int) -> dict:
    """Run one task call (in a worker or in-process); never raises for an ``Exception``."""
    start = time.perf_counter()
    try:
        out = task(params, seed)
        if not isinstance(out, Mapping):
            raise TypeError(f"task returned {type(out).__name__}, expected a dict of metrics")
        metrics = {str(k): _json_scalar(v, str(k)) for k, v in out.items()}
        status, error, tb = "ok", "", ""
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the batch goes on
        metrics, status, error, tb = {}, "error", _one_line(exc), traceback.format_exc()
    wall = time.perf_counter() - start
    return {
        "run_id": run_id_,
        "status": status,
        "error": error,
        "metrics": metrics,
        "traceback": tb,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": wall,
    }


def _record(run: Run, result: dict, provenance: dict) -> dict:
    prov = dict(provenance)
    metrics = dict(result["metrics"])
    for key in TASK_PROVENANCE_KEYS:
        if key in metrics:
            prov[key] = metrics.pop(key)
    prov.update(date=result["date"], wall_seconds=result["wall_seconds"])
    record = {
        "schema": _SCHEMA,
        "run_id": run.run_id,
        "params": dict(run.items),
        "seed": run.seed,
        "status": result["status"],
        "error": result["error"],
        "metrics": metrics,
        "provenance": prov,
        "traceback": result["traceback"],
    }
    # what is kept in memory is exactly what a later invocation reads back from disk
    return json.loads(json.dumps(record, allow_nan=True))


def _record_path(config: ExperimentConfig, rid: str) -> Path:
    return config.store / f"{rid}.json"


def _load_record(config: ExperimentConfig, run: Run) -> dict | None:
    """The stored record of ``run``, or None if absent, unreadable or for other parameters."""
    path = _record_path(config, run.run_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(record, dict) or record.get("schema") != _SCHEMA
            or record.get("run_id") != run.run_id or record.get("seed") != run.seed
            or _canonical(record.get("params")) != _canonical(dict(run.items))
            or record.get("status") not in ("ok", "error")):
        return None
    return record


def run_states(config: ExperimentConfig) -> list[tuple[Run, str]]:
    """Each run of the grid with its stored state: ``"done"``, ``"error"`` or ``"pending"``."""
    states = []
    for run in expand_grid(config):
        rec = _load_record(config, run)
        states.append((run, "pending" if rec is None else
                       ("done" if rec["status"] == "ok" else "error")))
    return states


def _iterate(task: Callable, todo: list[Run], n_jobs: int) -> Iterator[dict]:
    """Yield results as runs complete; parallel runs go through joblib's loky backend."""
    if n_jobs == 1 or len(todo) <= 1:
        for run in todo:
            yield _execute(task, run.run_id, run.params, run.seed)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_execute)(task, r.run_id, r.params, r.seed) for r in todo)


@contextmanager
def _batch_lock(config: ExperimentConfig):
    """Refuse two concurrent batches writing the same run store (lock dies with the process)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = config.store / ".lock"
    fh = open(lock, "a+")  # noqa: SIM115 - held for the whole batch
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"another batch is already running experiment {config.name!r}"
                f" (lock {lock})"
            ) from None
        yield
    finally:
        fh.close()


def run_batch(
    config: ExperimentConfig,
    task: Callable[[dict, int], Mapping],
    *,
    force: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    check: Callable[[dict], object] | None = None,
    chunk_size: int | None = None,
    min_interval: float = 2.0,
) -> pd.DataFrame:
    """Run every configuration of the grid once per seed; resumable, crash-safe, parallel.

    Parameters
    ----------
    config : ExperimentConfig
    task : callable
        ``task(params, seed) -> dict`` of metrics for one run (picklable when ``n_jobs != 1``).
        Timing metrics must end in ``_seconds``; a ``solver_version`` key goes to provenance.
        Container values (lists, arrays, dicts) are stored as compact JSON strings.
    force : bool
        Recompute and overwrite runs already stored.
    n_jobs : int, optional
        Parallel configurations; default ``config.n_jobs``. 1 runs in-process.
    progress : bool
        tqdm progress bar on stderr (only when stderr is a terminal).
    check : callable, optional
        ``check(params)`` called for every run before any work starts (raises InputError).
    chunk_size : int, optional
        Rewrite the CSV after each chunk of this many newly completed runs (default: the number
        of workers) ...
    min_interval : float
        ... but at most once every ``min_interval`` seconds (the CSV is rebuilt from all runs, so
        rewriting it after every run of a long fast grid would cost quadratic time). The CSV is
        always written at the end, also when the batch is interrupted; the per-run JSON files
        are written as each run completes, whatever these two settings.

    Returns
    -------
    pandas.DataFrame
        The tidy table (same content as the CSV) of every run of the grid that has a stored
        result. ``df.attrs`` holds ``computed`` (runs executed now), ``cached`` (runs reused)
        and ``errors`` (rows with status "error").
    """
    if not callable(task):
        raise InputError(f"task must be callable(params, seed), got {type(task).__name__}")
    n_jobs = config.n_jobs if n_jobs is None else check_n_jobs(n_jobs)
    runs = expand_grid(config)
    if check is not None:
        for run in runs:
            check(run.params)
    check_output_writable(config)
    with _csv_lock(config.output):
        _read_cells(config.output)  # an existing CSV that cannot be merged: refused before work
    from joblib import effective_n_jobs
    from tqdm import tqdm

    workers = max(1, effective_n_jobs(n_jobs)) if n_jobs != 1 else 1
    chunk = max(1, int(chunk_size) if chunk_size is not None else workers)
    provenance = collect_provenance()

    with _batch_lock(config):
        records: dict[str, dict] = {}
        if not force:
            for run in runs:
                rec = _load_record(config, run)
                if rec is not None:
                    records[run.run_id] = rec
        todo = [r for r in runs if force or records.get(r.run_id, {}).get("status") != "ok"]
        by_id = {r.run_id: r for r in todo}
        bar = tqdm(total=len(todo), desc=config.name, unit="run",
                   disable=not (progress and sys.stderr.isatty()))
        unsaved, last_write = 0, time.monotonic()
        try:
            for result in _iterate(task, todo, n_jobs):
                run = by_id[result["run_id"]]
                rec = _record(run, result, provenance)
                atomic_write(_record_path(config, run.run_id),
                             json.dumps(rec, indent=1, allow_nan=True) + "\n")
                records[run.run_id] = rec
                bar.update(1)
                unsaved += 1
                if unsaved >= chunk and time.monotonic() - last_write >= min_interval:
                    _write_table(config, runs, records)
                    unsaved, last_write = 0, time.monotonic()
        finally:
            bar.close()
            table = _write_table(config, runs, records)
    table.attrs.update(computed=len(todo), cached=len(runs) - len(todo),
                       errors=int((table["status"] == "error").sum()) if len(table) else 0)
    return table


# ----------------------------------------------------------------------------------------------
# the tidy table
# ----------------------------------------------------------------------------------------------
def _row(record: dict, reserved: set[str]) -> dict:
    row: dict[str, Any] = {}
    for key, value in record["params"].items():
        row[key] = _json_scalar(value, key)
    row["seed"] = record["seed"]
    row["status"] = record["status"]
    row["error"] = record["error"]
    for key, value in record["metrics"].items():
        name = key
        while name in reserved:  # a metric named like a parameter or provenance column
            name = f"task_{name}"
        row[name] = value
    for key in PROVENANCE_COLUMNS:
        row[key] = record["run_id"] if key == "run_id" else record["provenance"].get(key)
    return row


def assemble_table(config: ExperimentConfig, runs: Sequence[Run],
                   records: Mapping[str, dict]) -> pd.DataFrame:
    """The tidy table of the runs that have a record, in grid order.

    Columns: parameters (:data:`PARAM_COLUMNS`, options, ``seed``), :data:`STATUS_COLUMNS`,
    the metrics (in order of first appearance along the grid; a metric named like another column
    is prefixed ``task_``), then :data:`PROVENANCE_COLUMNS`. Integer metrics missing in some rows
    (error rows) use pandas' nullable ``Int64`` so they are written without ``.0``.
    """
    param_cols = [*PARAM_COLUMNS, *config.options, "seed"]
    reserved = {*param_cols, *STATUS_COLUMNS, *PROVENANCE_COLUMNS}
    rows = [_row(records[r.run_id], reserved) for r in runs if r.run_id in records]
    metric_cols: list[str] = []
    seen = set(reserved)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                metric_cols.append(key)
    columns = [*param_cols, *STATUS_COLUMNS, *metric_cols, *PROVENANCE_COLUMNS]
    data = {}
    for col in columns:
        values = [row.get(col) for row in rows]
        present = [v for v in values if v is not None]
        if present and len(present) < len(values) and all(_is_int(v) for v in present):
            data[col] = pd.array(values, dtype="Int64")
        else:
            data[col] = pd.Series(values, dtype=object if not present else None)
    return pd.DataFrame(data, columns=columns)


def check_csv_fields(path: str | os.PathLike, what: str = "CSV") -> int:
    """Check that every record of the CSV ``path`` has as many fields as its header.

    A file cut in the middle of a row (a crash, a full disk, a partial copy) would otherwise be
    read by pandas with the missing cells as NaN. Blank lines are skipped, as pandas does.

    Returns
    -------
    int
        The number of data records.

    Raises
    ------
    InputError
        One line naming the file and the (1-based, physical) line: a record with a different
        number of fields than the header, a quoted field left open at the end of the file, or a
        file that is not UTF-8 text.
    """
    path = Path(path)
    width, records, line = None, 0, 0
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise InputError(
                        f"{what} {path}, line {line}: {len(row)} field(s) where the header has "
                        f"{width} (truncated or corrupt file?)")
                else:
                    records += 1
    except csv.Error as exc:
        raise InputError(f"{what} {path}, line {line + 1}: {exc} (truncated or corrupt file?)"
                         ) from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}"
                         ) from None
    return records


def read_table(path: str | os.PathLike, what: str = "CSV") -> pd.DataFrame:
    """Read a stored result CSV; :class:`InputError` (one line) if it is missing, unreadable,
    truncated or corrupt (a record whose number of fields differs from the header's, with its
    line: :func:`check_csv_fields`) or has no rows (tables and figures are made from stored CSVs
    only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} not found")
    check_csv_fields(path, what)
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {what} {path}: {first}") from None
    if df.empty:
        raise InputError(f"{what} {path} has no rows")
    return df


@contextmanager
def _csv_lock(csv_path: Path):
    """Exclusive lock on ``.<name>.lock`` beside the CSV for one read-merge-write (blocking: other
    batches hold it only while they rewrite the CSV; the lock dies with the process)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = csv_path.with_name(f".{csv_path.name}.lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield


def _read_cells(path: Path) -> pd.DataFrame | None:
    """The existing result CSV as text cells (written back unchanged), None if there is none.

    InputError when it is not a table of this module (no ``run_id``/``seed``/``status`` column),
    truncated or corrupt: a batch never overwrites a file it cannot merge.
    """
    if not path.exists():
        return None
    hint = "; remove it (or choose another experiment.output) to rebuild it from the run store"
    try:
        check_csv_fields(path, "results CSV")
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except InputError as exc:
        raise InputError(f"{exc}{hint}") from None
    except pd.errors.EmptyDataError:
        return None
    except (OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read results CSV {path}: {first}{hint}") from None
    missing = [c for c in ("seed", *STATUS_COLUMNS, "run_id") if c not in df.columns]
    if missing:
        raise InputError(f"results CSV {path} is not a batch table (no column "
                         f"{', '.join(map(repr, missing))}){hint}")
    return df


def _layout(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(parameter columns before ``seed``, metric columns between ``error`` and ``run_id``)."""
    cols = list(columns)
    params = cols[: cols.index("seed")]
    first_prov = min(cols.index(c) for c in PROVENANCE_COLUMNS if c in cols)
    metrics = [c for c in cols[cols.index("error") + 1: first_prov] if c not in PROVENANCE_COLUMNS]
    return params, metrics


def _merge_tables(old: pd.DataFrame | None, new_text: str, own: set[str]) -> str:
    """CSV text of ``old`` (text cells) without the rows whose ``run_id`` is in ``own``, with the
    rows of ``new_text`` (this experiment's table) in place of the first of them."""
    if old is None:
        return new_text
    keep = ~old["run_id"].isin(own).to_numpy()
    if not keep.any():  # only rows of this experiment: the table as it is
        return new_text
    new = pd.read_csv(io.StringIO(new_text), dtype=str, keep_default_na=False, na_filter=False)
    params_o, metrics_o = _layout(old.columns)
    params_n, metrics_n = _layout(new.columns)
    extra = [c for c in old.columns if c not in (*params_o, *metrics_o, "seed", *STATUS_COLUMNS,
                                                 *PROVENANCE_COLUMNS)]
    columns = [*dict.fromkeys([*params_o, *params_n]), "seed", *STATUS_COLUMNS,
               *dict.fromkeys([*metrics_o, *metrics_n, *extra]), *PROVENANCE_COLUMNS]
    own_rows = np.flatnonzero(~keep)
    at = int(own_rows[0]) if own_rows.size else len(old)  # no own row before it: same in kept
    kept = old[keep]
    merged = pd.concat([kept.iloc[:at], new, kept.iloc[at:]], ignore_index=True)
    merged = merged.reindex(columns=columns, fill_value="").fillna("")
    return merged.to_csv(index=False, lineterminator="\n")


def _write_table(config: ExperimentConfig, runs: Sequence[Run],
                 records: Mapping[str, dict]) -> pd.DataFrame:
    """Write this experiment's table into ``config.output``, merged (under the CSV lock) with
    the rows of other experiments already there; returns this experiment's table."""
    df = assemble_table(config, runs, records)
    text = df.to_csv(index=False, lineterminator="\n")
    with _csv_lock(config.output):
        old = _read_cells(config.output)
        own = {r.run_id for r in runs} | {p.stem for p in config.store.glob("*.json")}
        atomic_write(config.output, _merge_tables(old, text, own))
    return df
