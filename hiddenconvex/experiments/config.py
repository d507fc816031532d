"""The experiment configuration: a TOML file declaring a parameter grid (benchopt style).

An experiment is declared as data in a TOML file::

    [experiment]
    name = "default"                          # names the run store <output folder>/<name>.runs/
    output = "results/experiments/runs.csv"   # the tidy CSV (relative paths: from the CWD)
    n_jobs = 2                                # parallel configurations (or in [execution])

    [grid]                                    # the Cartesian product of these lists
    dataset = ["default", "iris_pca2"]
    beta = [0.01, 0.1]
    loss = ["squared"]                        # names of hiddenconvex.losses.LOSSES
    solver = ["ecos", "scs"]                  # names of hiddenconvex.solvers.SOLVERS
    method = ["exact"]                        # exact | sample | auto    (pattern enumeration)
    samples = [0]                             # int >= 0, 0 = task default; forced to 0 for exact
    width = [10]                              # int >= 1
    seeds = [0, 1, 2]                         # int >= 0; the seed is part of every run's key

    [[grid.extra]]                            # optional, repeatable: an extra sub-grid; keys it
    dataset = "spirals"                       # does not set are inherited from [grid]
    method = "sample"
    samples = [200, 2000]
    options = {train_method = "adam"}         # optional: new values, for this sub-grid only, of
                                              # options declared in [options]

    [options]                                 # passed unchanged to every task call
    train_method = "lbfgs"

    [execution]                               # optional: where the runs execute
    backend = "dask"                          # loky (default: local processes) | dask | ray
    address = "tcp://scheduler:8786"          # existing cluster; omitted: a local one
    n_jobs = 8                                # loky / local cluster workers (not also in
                                              # [experiment])

The execution settings do not enter the run ids: a grid started on one backend resumes on
another with the same rows (``scripts/run_batch.py --backend/--address`` override them).
Keys left out take the defaults :data:`GRID_DEFAULTS`: the squared loss, the registry's default
solver (:data:`hiddenconvex.solvers.DEFAULT_SOLVER`), ``method = "auto"``, ``samples = 0``.
:func:`load_config` validates the whole file before any work starts; :func:`expand_grid` turns
it into :class:`Run` objects, each keyed by :func:`run_id` (a hash of its parameters, options and
seed), in a deterministic order. Running them is :mod:`hiddenconvex.experiments.runner`'s job.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..losses import DEFAULT_LOSS, LOSSES
from ..patterns import METHODS as PATTERN_METHODS
from ..solvers import DEFAULT_SOLVER, SOLVERS
from .atomic import ensure_writable_folder
from .provenance import PROVENANCE_COLUMNS

__all__ = [
    "METHODS",
    "GRID_KEYS",
    "GRID_DEFAULTS",
    "BACKENDS",
    "PARAM_COLUMNS",
    "STATUS_COLUMNS",
    "Run",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "check_n_jobs",
    "check_backend",
    "check_output_writable",
    "expand_grid",
    "run_id",
]

#: Pattern methods a grid may name (those of :func:`hiddenconvex.patterns.enumerate_patterns`).
METHODS = PATTERN_METHODS

#: Keys of a ``[grid]`` table (``seeds`` becomes the ``seed`` column, one run per seed).
GRID_KEYS = ("dataset", "beta", "loss", "solver", "method", "samples", "width", "seeds")
#: Parameter columns, in CSV order (option columns follow, then ``seed``).
PARAM_COLUMNS = ("dataset", "beta", "loss", "solver", "method", "samples", "width")
#: Values of the grid keys a config may leave out: the squared loss (named by its class;
#: losses.py has no DEFAULT_LOSS), the solver registry's default, automatic pattern method.
GRID_DEFAULTS: dict[str, tuple] = {
    "loss": (DEFAULT_LOSS,),
    "solver": (DEFAULT_SOLVER,),
    "method": ("auto",),
    "samples": (0,),
}
REQUIRED_GRID_KEYS = ("dataset", "beta", "width", "seeds")
EXPERIMENT_KEYS = ("name", "output", "n_jobs", "description")
EXECUTION_KEYS = ("backend", "address", "n_jobs")
TOP_LEVEL_KEYS = ("experiment", "grid", "options", "execution")
#: Execution backends of a batch (joblib ``parallel_config`` backends; see the runner).
BACKENDS = ("loky", "dask", "ray")
#: The run's outcome, after ``seed`` in the CSV (``status`` is "ok" or "error").
STATUS_COLUMNS = ("status", "error")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        Default number of parallel configurations (joblib semantics: -1 = all cores); for a
        Dask/Ray cluster given by ``address`` the cluster's size decides instead.
    grids : tuple of dict
        The main grid then each ``[[grid.extra]]``, every key of :data:`GRID_KEYS` resolved to a
        tuple of validated values; an extra grid with an ``options`` table also has the key
        ``"options"`` (a dict overriding :attr:`options` for its runs).
    options : dict
        Passed unchanged to every task call (merged into ``params``).
    source : str
        Where the config came from (file path), for messages.
    description : str
    backend : {"loky", "dask", "ray"}
        Where the runs execute (``[execution] backend``; default local loky processes).
    address : str or None
        Scheduler address of an existing Dask/Ray cluster (``[execution] address``); None: the
        runner starts a local cluster (Dask ``LocalCluster``, local Ray).
    """

    name: str
    output: Path
    n_jobs: int
    grids: tuple[dict, ...]
    options: dict
    source: str = "<config>"
    description: str = ""
    backend: str = "loky"
    address: str | None = None

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
        unknown dataset name. Default: membership in
        ``hiddenconvex.experiments.datasets.list_datasets()``.
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

    execution = data.get("execution", {})
    if not isinstance(execution, Mapping):
        fail("execution", f"must be a table, got {_tname(execution)}")
    _unknown_keys(execution, EXECUTION_KEYS, "[execution]", fail)
    if "n_jobs" in execution:
        if "n_jobs" in exp:
            fail("execution.n_jobs", "also set in [experiment]; set n_jobs in one place")
        try:
            n_jobs = check_n_jobs(execution["n_jobs"])
        except InputError as exc:
            fail("execution.n_jobs", str(exc))
    try:
        backend, address = check_backend(execution.get("backend", "loky"),
                                         execution.get("address"))
    except InputError as exc:
        fail("execution", str(exc))

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

    for i, extra in enumerate(extras):
        where = f"grid.extra[{i}]"
        _unknown_keys(extra, (*GRID_KEYS, "options"), where, fail)
        if not extra:
            fail(where, "empty table (set at least one grid key)")
        sub = {k: (_grid_values(extra[k], k, f"{where}.{k}", fail)
                   if k in extra else main[k]) for k in GRID_KEYS}
        if "options" in extra:
            sub["options"] = _extra_options(extra["options"], options, f"{where}.options", fail)
        grids.append(sub)

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
        backend=backend,
        address=address,
    )


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` is a non-zero int (joblib semantics: -1 = all cores)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise InputError(f"n_jobs must be a non-zero integer (-1 = all cores), got {n_jobs!r}")
    return int(n_jobs)


def check_backend(backend, address=None) -> tuple[str, str | None]:
    """Validate an execution backend and cluster address; returns ``(backend, address)``.

    ``backend`` is one of :data:`BACKENDS`; ``address`` (None, or a non-empty string without
    spaces, e.g. ``"tcp://10.0.0.5:8786"`` for Dask, ``"ray://head:10001"`` or ``"auto"`` for Ray)
    names an existing cluster and is only meaningful for ``dask`` and ``ray``.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if address is not None:
        if not isinstance(address, str) or not address.strip() or any(
                c.isspace() for c in address):
            raise InputError(f"address must be a non-empty string without spaces (a scheduler "
                             f"address such as tcp://host:8786), got {address!r}")
        if backend == "loky":
            raise InputError(f"address {address!r} is given but backend is 'loky' (local "
                             "processes); set backend = \"dask\" or \"ray\", or drop address")
    return backend, address


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
            allowed = {"loss": LOSSES, "solver": SOLVERS, "method": METHODS}[key]  # registry keys
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


def _extra_options(value, options: Mapping, where: str, fail) -> dict:
    """The ``options`` table of an extra grid: new values of options declared in [options]
    (an option only some runs have would be a column the others lack)."""
    if not isinstance(value, Mapping):
        fail(where, f"must be a table, got {_tname(value)}")
    for key, v in value.items():
        if key not in options:
            fail(f"{where}.{key}", "not declared in [options]; declare it there with the value "
                 "the other runs use")
        _check_option_value(v, f"{where}.{key}", fail)
    return dict(value)


def _dataset_checker(validate_dataset):
    if validate_dataset is not None:
        if not callable(validate_dataset):
            raise InputError("validate_dataset must be callable(name)")
        return validate_dataset
    try:
        from .datasets import list_datasets
    except ImportError as exc:
        raise InputError(
            "cannot check dataset names: hiddenconvex.experiments.datasets.list_datasets is not"
            f" available ({exc})"
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
    ``method="exact"`` the number of samples is irrelevant and set to 0. The options are those of
    ``[options]``, updated by the extra grid's own ``options`` table. Runs with the same
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
            params.update(grid.get("options", {}))
            for seed in grid["seeds"]:
                rid = run_id(params, seed)
                if rid in seen:
                    continue
                seen.add(rid)
                runs.append(Run(rid, tuple(params.items()), int(seed)))
    return runs


def check_output_writable(config: ExperimentConfig) -> None:
    """Create the CSV folder and the run store and check both are writable (probe file)."""
    if config.output.is_dir():
        raise InputError(f"results path {config.output} is a directory, expected a CSV file path")
    for folder in (config.output.parent, config.store):
        ensure_writable_folder(folder)

