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

Execution (``[execution]`` in the config, or the ``backend``/``address`` arguments):

* ``"loky"`` (default): local joblib processes (``n_jobs``; 1 runs in-process);
* ``"dask"``: a ``dask.distributed.Client`` on the scheduler ``address``, or on a
  ``LocalCluster`` of ``n_jobs`` single-threaded worker processes when there is no address;
* ``"ray"``: ``ray.util.joblib`` on ``ray.init(address)`` (local Ray without an address).

All three go through joblib's ``parallel_config``; the parent process alone writes the run store
and the CSV, as results arrive, so results, the lock and resuming are the same on every backend
(a run started on one backend resumes on another: the backend is not part of the run ids).
Every bundled dataset the grid names (:func:`~.datasets.load_dataset`) is loaded once by the
parent and handed to the tasks, which read it through :func:`~.datasets.preloaded_datasets`, so
workers need the package but no data folder (nor the parent's environment: loky reuses its
worker processes across batches). Dask ships each dataset once to every worker (a scatter with
``broadcast=True``; the tasks get its future), Ray once to the object store (``ray.put``); loky
memory-maps arrays above joblib's ``max_nbytes`` (1 MB) once and pickles smaller ones with each
task. The ``hostname`` column is the host that executed the run.

Progress: a tqdm bar over the runs on stderr (only when stderr is a terminal and ``progress``),
and one line per completed run, with its state, wall time and host, appended to
``<name>.runs/batch.log`` (also sent to the ``logging`` logger of this module at INFO level).

A task that raises an ``Exception`` gives a row with ``status="error"`` and a one-line message;
the batch goes on. Stored error rows are retried by the next invocation (a bug fixed since then
needs no ``force``). ``KeyboardInterrupt``/``SystemExit`` stop the batch; completed runs are kept.
Two batches on the same run store at once are refused (a lock on ``<name>.runs/.lock``).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .atomic import PARTIAL_SUFFIX, atomic_write
from .config import (
    PARAM_COLUMNS,
    ExperimentConfig,
    Run,
    _canonical,
    check_backend,
    check_n_jobs,
    check_output_writable,
    expand_grid,
)
from .provenance import TASK_PROVENANCE_KEYS, collect_provenance
from .table import check_mergeable, json_scalar, write_table

__all__ = ["run_states", "run_batch", "LOG_NAME"]

#: Name of the per-run log in the run store.
LOG_NAME = "batch.log"
#: Seconds to wait for a Dask scheduler / Ray head given by ``address``.
CONNECT_TIMEOUT = 30

_log = logging.getLogger(__name__)
_SCHEMA = 1  # version of the run records' layout; records of another schema are recomputed


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return msg if len(msg) <= 500 else msg[:497] + "..."


class _RayShared:
    """A dataset put into Ray's object store (``ray.put``): the task gets this small handle."""

    def __init__(self, ref):
        self.ref = ref

    def get(self):
        import ray

        return ray.get(self.ref)


def _execute(task: Callable, run_id_: str, params: dict, seed: int, shared=None) -> dict:
    """Run one task call (in a worker or in-process); never raises for an ``Exception``.

    ``shared`` is the in-memory dataset named by ``params["dataset"]`` (a Dask-scattered
    :class:`~.datasets.Dataset` arrives here resolved; a Ray handle is fetched), installed for
    the task with :func:`~.datasets.preloaded_datasets`; None: the task reads the file.
    """
    start = time.perf_counter()
    try:
        if shared is not None:
            from .datasets import preloaded_datasets

            data = shared.get() if isinstance(shared, _RayShared) else shared
            with preloaded_datasets({params["dataset"]: data}):
                out = task(params, seed)
        else:
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
        "hostname": socket.gethostname(),
    }


def _record(run: Run, result: dict, provenance: dict) -> dict:
    prov = dict(provenance)
    metrics = dict(result["metrics"])
    for key in TASK_PROVENANCE_KEYS:
        if key in metrics:
            prov[key] = metrics.pop(key)
    prov.update(date=result["date"], wall_seconds=result["wall_seconds"])
    if result.get("hostname"):
        prov["hostname"] = result["hostname"]  # where the run executed (a cluster worker)
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


@dataclass
class _Session:
    """Where the runs of one batch execute: joblib is configured (``parallel_config``) while the
    session is open; ``shared`` maps dataset names to what the tasks receive (scattered data)."""

    backend: str
    workers: int
    where: str
    parallel: bool = True
    shared: dict = field(default_factory=dict)


def _preload(todo: list[Run]) -> dict:
    """The bundled datasets the runs name, loaded once here (names that do not load are left to
    the task, which then fails as it would without sharing)."""
    from .datasets import load_dataset

    out = {}
    for name in dict.fromkeys(str(r.params.get("dataset")) for r in todo):
        try:
            out[name] = load_dataset(name)
        except InputError:
            continue
    return out


@contextmanager
def _session(backend: str, address: str | None, n_jobs: int, todo: list[Run]
             ) -> Iterator[_Session]:
    """Open the execution backend for ``todo`` (see the module docstring)."""
    from joblib import effective_n_jobs, parallel_config

    if backend == "loky":
        if n_jobs == 1 or len(todo) <= 1:
            yield _Session("loky", 1, "in-process", parallel=False)
            return
        with parallel_config(backend="loky", n_jobs=n_jobs):
            yield _Session("loky", max(1, effective_n_jobs(n_jobs)), "local loky processes",
                           shared=_preload(todo))
        return
    with ExitStack() as stack:
        if backend == "dask":
            yield stack.enter_context(_dask_session(address, n_jobs, todo))
        else:
            yield stack.enter_context(_ray_session(address, n_jobs, todo))


@contextmanager
def _dask_session(address: str | None, n_jobs: int, todo: list[Run]) -> Iterator[_Session]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("backend 'dask' needs dask.distributed: pip install "
                         "'hiddenconvex[dask]' (or 'dask[distributed]')") from None
    from joblib import cpu_count, parallel_config

    with ExitStack() as stack:
        if address is not None:
            try:
                client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot connect to the Dask scheduler at {address} "
                    f"({' '.join(str(exc).split())[:200] or type(exc).__name__}); start it "
                    "(dask scheduler / dask worker) or fix [execution] address / --address"
                ) from None
            where = f"Dask cluster {address}"
        else:
            n = cpu_count() if n_jobs < 0 else n_jobs
            if n_jobs < -1:
                n = max(1, cpu_count() + 1 + n_jobs)
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR))
            client = Client(cluster, set_as_default=False)
            where = f"Dask LocalCluster ({n} worker processes)"
        stack.callback(client.close)
        shared = _preload(todo)
        with parallel_config(backend="dask", client=client,
                             scatter=list(shared.values()) or None,
                             wait_for_workers_timeout=CONNECT_TIMEOUT):
            workers = max(1, sum(client.nthreads().values()))
            yield _Session("dask", workers, where, shared=shared)


@contextmanager
def _ray_session(address: str | None, n_jobs: int, todo: list[Run]) -> Iterator[_Session]:
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        raise InputError("backend 'ray' needs ray: pip install 'hiddenconvex[ray]' "
                         "(or 'ray[default]')") from None
    from joblib import parallel_config

    started = not ray.is_initialized()
    if started:
        kwargs = {} if address is not None or n_jobs < 0 else {"num_cpus": n_jobs}
        try:
            ray.init(address=address, log_to_driver=False, **kwargs)
        except (ConnectionError, OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"cannot connect to Ray at {address} "
                f"({' '.join(str(exc).split())[:200] or type(exc).__name__}); start it "
                "(ray start --head) or fix [execution] address / --address") from None
    try:
        register_ray()
        shared = {name: _RayShared(ray.put(ds)) for name, ds in _preload(todo).items()}
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        with parallel_config(backend="ray", n_jobs=-1 if address is not None else n_jobs):
            yield _Session("ray", workers, f"Ray {address or 'local'}", shared=shared)
    finally:
        if started:
            ray.shutdown()


def _iterate(task: Callable, todo: list[Run], session: _Session) -> Iterator[dict]:
    """Yield results as runs complete, through the joblib backend the session configured."""
    if not session.parallel:
        for run in todo:
            yield _execute(task, run.run_id, run.params, run.seed)
        return
    from joblib import Parallel, delayed

    shared = session.shared
    # the shared object itself is the argument: joblib's Dask backend replaces it by the future
    # of its scatter (matched by identity), so it is never pickled per task
    parallel = Parallel(return_as="generator_unordered")
    yield from parallel(delayed(_execute)(task, r.run_id, r.params, r.seed,
                                          shared.get(r.params.get("dataset")))
                        for r in todo)


class _BatchLog:
    """Lines appended to ``<store>/batch.log`` (and sent to this module's logger)."""

    def __init__(self, path: Path | None):
        self.fh = open(path, "a", encoding="utf-8") if path is not None else None  # noqa: SIM115

    def __call__(self, line: str) -> None:
        _log.info("%s", line)
        if self.fh is not None:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            self.fh.write(f"{stamp} {line}\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _describe(run: Run) -> str:
    params = run.params
    return " ".join(f"{k}={params[k]}" for k in PARAM_COLUMNS if k in params) + f" seed={run.seed}"


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
    backend: str | None = None,
    address: str | None = None,
    log: bool = True,
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
        Parallel configurations; default ``config.n_jobs``. 1 runs in-process (loky backend);
        the number of worker processes of a local Dask cluster; ignored for a cluster given by
        ``address`` (its workers decide).
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
    backend : {"loky", "dask", "ray"}, optional
        Execution backend; default ``config.backend`` (see the module docstring).
    address : str, optional
        Scheduler address of an existing Dask/Ray cluster; default ``config.address`` when
        ``backend`` is the config's, else None (a local cluster).
    log : bool
        Append one line per completed run to ``<name>.runs/batch.log``.

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
    if backend is None:
        backend = config.backend
        address = config.address if address is None else address
    elif address is None and backend == config.backend:
        address = config.address
    backend, address = check_backend(backend, address)
    runs = expand_grid(config)
    if check is not None:
        for run in runs:
            check(run.params)
    check_output_writable(config)
    check_mergeable(config.output)  # an existing CSV that cannot be merged: refused before work
    from tqdm import tqdm

    provenance = collect_provenance()

    with _batch_lock(config):
        # temporary record files of a batch killed in the middle of a write (SIGKILL); nobody
        # else writes this store while the lock is held
        for stale in config.store.glob(f".*.json.*{PARTIAL_SUFFIX}"):
            stale.unlink(missing_ok=True)
        records: dict[str, dict] = {}
        if not force:
            for run in runs:
                rec = _load_record(config, run)
                if rec is not None:
                    records[run.run_id] = rec
        todo = [r for r in runs if force or records.get(r.run_id, {}).get("status") != "ok"]
        by_id = {r.run_id: r for r in todo}
        note = _BatchLog(config.store / LOG_NAME if log else None)
        bar = None
        done = n_err = 0
        finished = False
        try:
            with ExitStack() as stack:
                session = (stack.enter_context(_session(backend, address, n_jobs, todo)) if todo
                           else _Session(backend, 1, "nothing to run", parallel=False))
                chunk = max(1, int(chunk_size) if chunk_size is not None else session.workers)
                note(f"batch {config.name}: {len(runs)} runs, {len(runs) - len(todo)} stored, "
                     f"{len(todo)} to run on {session.where} ({session.workers} workers)")
                bar = tqdm(total=len(todo), desc=config.name, unit="run", file=sys.stderr,
                           disable=not (progress and sys.stderr.isatty()))
                unsaved, last_write = 0, time.monotonic()
                results = _iterate(task, todo, session)
                stack.callback(results.close)  # stop joblib's generator before the backend
                for result in results:
                    run = by_id[result["run_id"]]
                    rec = _record(run, result, provenance)
                    atomic_write(_record_path(config, run.run_id),
                                 json.dumps(rec, indent=1, allow_nan=True) + "\n")
                    records[run.run_id] = rec
                    done += 1
                    n_err += rec["status"] != "ok"
                    note(f"[{done}/{len(todo)}] {run.run_id} {rec['status']} "
                         f"{rec['provenance']['wall_seconds']:.2f} s on "
                         f"{rec['provenance'].get('hostname')}: {_describe(run)}"
                         + (f" -- {rec['error']}" if rec["error"] else ""))
                    bar.update(1)
                    if n_err:
                        bar.set_postfix(errors=n_err, refresh=False)
                    unsaved += 1
                    if unsaved >= chunk and time.monotonic() - last_write >= min_interval:
                        write_table(config, runs, records)
                        unsaved, last_write = 0, time.monotonic()
            finished = True
        finally:
            if bar is not None:
                bar.close()
            try:
                table = write_table(config, runs, records)
            finally:
                note(f"batch {config.name}: {done} of {len(todo)} runs computed ({n_err} "
                     f"error(s)){'' if finished else ', interrupted'} -> {config.output}")
                note.close()
    table.attrs.update(computed=len(todo), cached=len(runs) - len(todo),
                       errors=int((table["status"] == "error").sum()) if len(table) else 0)
    return table
