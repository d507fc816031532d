#!/usr/bin/env python
"""Run an experiment grid from a TOML config: one tidy CSV row per run, resumable.

    python scripts/run_batch.py CONFIG.toml [--force] [--n-jobs N] [--dry-run] [--task MOD:FUNC]
                                [--backend loky|dask|ray] [--address ADDR] [--quiet]

The config format is documented in :mod:`hiddenconvex.experiments.config`. Completed runs are
stored one JSON file per run beside the CSV (``<name>.runs/``); rerunning the same command skips
them, so a killed batch resumes where it stopped. ``--force`` recomputes every run.
``--dry-run`` validates the config and lists the runs with their state (done / error / pending)
without running anything.

``--backend``/``--address`` override the config's ``[execution]`` table: local loky processes
(default), a Dask cluster (``dask.distributed``; a local one without ``--address``) or Ray
(``ray.util.joblib``). Results, resuming and the lock are the same on every backend. A tqdm bar
over the runs is drawn on stderr when it is a terminal (``--quiet``: never); one line per
completed run is appended to ``<name>.runs/batch.log``. stdout gets only the final summary line.

The task is ``hiddenconvex.experiments.pipeline:run_pipeline`` unless ``--task`` names another
``task(params, seed) -> dict``; if the task's module defines ``check_params(params)``, it is called
on every run before any work starts.

Exit status: 0 all runs ok; 1 some run recorded status "error"; 2 user error (bad config, unknown
dataset, unwritable results folder, task not importable), one line on stderr; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

DEFAULT_TASK = "hiddenconvex.experiments.pipeline:run_pipeline"
PROG = "run_batch"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="experiment TOML file (see hiddenconvex.experiments.config)")
    p.add_argument("--force", action="store_true", help="recompute runs that are already stored")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="parallel configurations (default: [experiment] n_jobs; -1 = all cores)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the config, list the runs and how many are done; run nothing")
    p.add_argument("--task", default=DEFAULT_TASK,
                   help=f"task function MODULE:FUNCTION (default {DEFAULT_TASK})")
    p.add_argument("--backend", choices=("loky", "dask", "ray"), default=None,
                   help="execution backend (default: [execution] backend of the config, else "
                        "loky = local processes)")
    p.add_argument("--address", default=None,
                   help="scheduler address of an existing Dask/Ray cluster, e.g. "
                        "tcp://host:8786 or ray://host:10001 (default: [execution] address; "
                        "none: a local cluster)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (the per-run log in <name>.runs/batch.log is kept)")
    return p


def import_task(spec: str):
    """Import ``MODULE:FUNCTION``; an InputError (one line) if that is not possible."""
    from hiddenconvex.errors import InputError

    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise InputError(f"--task must look like MODULE:FUNCTION, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            hint = (" (is the hiddenconvex package installed?)"
                    if spec == DEFAULT_TASK else "")
            raise InputError(f"task module {module_name!r} not found{hint}") from None
        raise InputError(f"cannot import task module {module_name!r}: {exc}") from None
    except ImportError as exc:
        raise InputError(f"cannot import task module {module_name!r}: {exc}") from None
    task = getattr(module, func_name, None)
    if not callable(task):
        raise InputError(f"task module {module_name!r} has no function {func_name!r}")
    check = getattr(module, "check_params", None)
    return task, (check if callable(check) else None)


def execution(config, args):
    """The config with ``--backend``/``--address`` applied (validated: InputError)."""
    import dataclasses

    from hiddenconvex.experiments.config import check_backend

    backend = args.backend or config.backend
    address = args.address
    if address is None and backend == config.backend:
        address = config.address
    backend, address = check_backend(backend, address)
    return dataclasses.replace(config, backend=backend, address=address)


def dry_run(config) -> None:
    import pandas as pd

    from hiddenconvex.experiments.config import PARAM_COLUMNS
    from hiddenconvex.experiments.runner import run_states

    states = run_states(config)
    counts = {s: sum(1 for _, st in states if st == s) for s in ("done", "error", "pending")}
    where = config.backend + (f" at {config.address}" if config.address else "")
    print(f"experiment {config.name!r}: {len(states)} runs ({counts['done']} done,"
          f" {counts['error']} error, {counts['pending']} pending) -> {config.output}"
          f" (backend {where})")
    if states:
        rows = [{"run_id": r.run_id, "state": st,
                 **{k: v for k, v in r.params.items() if k in PARAM_COLUMNS}, "seed": r.seed}
                for r, st in states]
        print(pd.DataFrame(rows).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hiddenconvex.errors import InputError
    from hiddenconvex.experiments.config import check_n_jobs, check_output_writable, load_config
    from hiddenconvex.experiments.runner import run_batch

    try:
        if args.n_jobs is not None:
            check_n_jobs(args.n_jobs)
        config = execution(load_config(args.config, check_output=False), args)
        if args.dry_run:
            check_output_writable(config)
            dry_run(config)
            return 0
        task, check = import_task(args.task)
        # run_batch checks every run with `check`, then the results folder, before any work
        table = run_batch(config, task, force=args.force, n_jobs=args.n_jobs, check=check,
                          progress=not args.quiet)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; completed runs are stored, rerun the same command to resume",
              file=sys.stderr)
        return 130
    n_err = table.attrs["errors"]
    print(f"{config.name}: {len(table)} runs ({table.attrs['computed']} computed,"
          f" {table.attrs['cached']} cached), {n_err} error(s) -> {config.output}")
    if n_err:
        for _, row in table[table["status"] == "error"].head(5).iterrows():
            print(f"  error in run {row['run_id']} ({row['dataset']}, beta={row['beta']},"
                  f" seed={row['seed']}): {row['error']}", file=sys.stderr)
        print(f"{PROG}: {n_err} run(s) failed; tracebacks are in {config.store}/<run_id>.json",
              file=sys.stderr)
    return 1 if n_err else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. `run_batch.py CONFIG --dry-run | head`
        sys.stderr.close()
        sys.exit(0)
