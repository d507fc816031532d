"""Batch runs over a parameter grid: execution and the run store (edge module: file I/O).

A *task* is a function ``task(params: dict, seed: int) -> dict`` returning the metrics of one
run; ``params`` holds the grid keys ``dataset, beta, loss, solver, method, samples, width`` and
every option of the experiment's config (:mod:`hiddenconvex.experiments.config`, which documents
the TOML format). :func:`run_batch` runs every configuration of the grid once per seed and keeps

* one JSON file per completed run, ``<name>.runs/<run_id>.json``, written atomically (temporary
  file + :func:`os.replace`) by the parent process only; ``run_id`` is a short SHA-256 of the
  canonical JSON of the parameters *including the seed and the options*, so a run is recomputed
  only when something it depends on changes (or with ``force=True``);
* the tidy CSV, one row per run in grid order: parameter columns, ``seed``, ``status``/``error``,
  the task's metrics, then provenance (``run_id``, versions, git revision, host, date, wall time).
  It is reassembled from the run store after every chunk of completed runs and at the end, and
  replaced atomically, so a killed batch restarted later ends with the same CSV as an
  uninterrupted one, except for the columns listed by
  :func:`~hiddenconvex.experiments.provenance.volatile_columns`. Several experiments may share
  one CSV, also at the same time: every write merges under a lock
  (:func:`hiddenconvex.experiments.table.write_table`).

A task that raises an ``Exception`` gives a row with ``status="error"`` and a one-line message;
the batch goes on. Stored error rows are retried by the next invocation (a bug fixed since then
needs no ``force``). ``KeyboardInterrupt``/``SystemExit`` stop the batch; completed runs are kept.
Two batches on the same run store at once are refused (a lock on ``<name>.runs/.lock``).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .atomic import atomic_write
from .config import (
    ExperimentConfig,
    Run,
    _canonical,
    check_n_jobs,
    check_output_writable,
    expand_grid,
)
from .provenance import TASK_PROVENANCE_KEYS, collect_provenance
from .table import check_mergeable, json_scalar, write_table

__all__ = ["run_states", "run_batch"]

_SCHEMA = 1  # version of the run records' layout; records of another schema are recomputed


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return msg if len(msg) <= 500 else msg[:497] + "..."


def _execute(task: Callable, run_id_: str, params: dict, seed: int) -> dict:
    """Run one task call (in a worker or in-process); never raises for an ``Exception``."""
    start = time.perf_counter()
    try:
        out = task(params, seed)
        if not isinstance(out, Mapping):
            raise TypeError(f"task returned {type(out).__name__}, expected a dict of metrics")
        metrics = {str(k): json_scalar(v, str(k)) for k, v in out.items()}
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
    check_mergeable(config.output)  # an existing CSV that cannot be merged: refused before work
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
                    write_table(config, runs, records)
                    unsaved, last_write = 0, time.monotonic()
        finally:
            bar.close()
            table = write_table(config, runs, records)
    table.attrs.update(computed=len(todo), cached=len(runs) - len(todo),
                       errors=int((table["status"] == "error").sum()) if len(table) else 0)
    return table
