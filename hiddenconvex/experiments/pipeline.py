"""The batch task: one configuration of an experiment grid, one seed -> a flat dict of metrics.

:func:`run_pipeline` is the default task of ``scripts/run_batch.py`` (the batch runner,
:mod:`hiddenconvex.experiments.runner`): it loads a bundled dataset by name
(:mod:`hiddenconvex.experiments.datasets`) and runs
:func:`hiddenconvex.verification.verify_training` on it. :func:`check_params` validates one run's
parameters before any work.
"""

from __future__ import annotations

import math

from ..errors import InputError, check_seed
from ..objective import Problem
from ..training import DEFAULT_METHOD as TRAIN_DEFAULT
from ..training import METHODS as TRAIN_METHODS
from ..verification import DEFAULT_TOL, verify_training

__all__ = ["PIPELINE_OPTIONS", "check_params", "train_seeds", "run_pipeline"]

#: Options a batch config may set in ``[options]`` (passed to every :func:`run_pipeline` call).
PIPELINE_OPTIONS = {
    "train_method": TRAIN_DEFAULT,  # lbfgs-kinks | lbfgs | gd | adam
    "n_train_seeds": 4,          # networks trained per run
    "init_scale": 1.0,           # initialization scale (hiddenconvex.training)
    "max_iter": 0,               # training iterations, 0 = the method's default
    "verify_tol": DEFAULT_TOL,   # tolerance of the structural tests on trained networks
    "solver_tol": 0.0,           # convex solver tolerance, 0 = the solver's default
    "grouping": "cone",          # grouping reported in the n_nearly_minimal column
    "optimal_set": True,         # build the exact optimal set when possible
    "strategy": "auto",          # auto | full | working-set (hiddenconvex.api.STRATEGIES)
}


def _options(params: dict) -> dict:
    known = {"dataset", "beta", "loss", "solver", "method", "samples", "width"}
    unknown = sorted(set(params) - known - set(PIPELINE_OPTIONS))
    if unknown:
        raise InputError(f"unknown pipeline option(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(PIPELINE_OPTIONS)}")
    opts = {**PIPELINE_OPTIONS, **{k: params[k] for k in PIPELINE_OPTIONS if k in params}}
    if opts["train_method"] not in TRAIN_METHODS:
        raise InputError(f"train_method must be one of {', '.join(TRAIN_METHODS)}, "
                         f"got {opts['train_method']!r}")
    for key, low in (("n_train_seeds", 1), ("max_iter", 0)):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise InputError(f"option {key} must be an integer >= {low}, got {v!r}")
    for key in ("init_scale", "verify_tol", "solver_tol"):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0 \
                or (v == 0 and key != "solver_tol"):
            raise InputError(f"option {key} must be a finite number > 0, got {v!r}")
    from ..minimality import GROUPINGS

    if opts["grouping"] not in GROUPINGS:
        raise InputError(f"grouping must be one of {', '.join(GROUPINGS)}, "
                         f"got {opts['grouping']!r}")
    from ..api import STRATEGIES

    if opts["strategy"] not in STRATEGIES:
        raise InputError(f"strategy must be one of {', '.join(STRATEGIES)}, "
                         f"got {opts['strategy']!r}")
    if not isinstance(opts["optimal_set"], bool):
        raise InputError(f"option optimal_set must be true or false, got {opts['optimal_set']!r}")
    return opts


def _load_problem(params: dict) -> Problem:
    from .datasets import load_dataset

    data = load_dataset(params["dataset"])
    return Problem.create(data.X, data.y, params["beta"], params["loss"])


def check_params(params: dict) -> None:
    """Validate one run's parameters before any work (called by ``scripts/run_batch.py``).

    Loads the dataset (cheap) so that an unknown name, a loss that does not fit the labels or an
    unknown option fail before the first run starts.
    """
    _options(params)
    _load_problem(params)


def train_seeds(seed: int, n_train_seeds: int) -> list[int]:
    """Training seeds of batch run ``seed``: ``seed*K .. seed*K + K - 1`` (disjoint over runs)."""
    seed = check_seed(seed)
    return [seed * n_train_seeds + j for j in range(n_train_seeds)]


def run_pipeline(params: dict, seed: int) -> dict:
    """Batch task: one configuration of the grid, one seed → a flat dict of metrics.

    ``params``: ``dataset`` (bundled name), ``beta``, ``loss``, ``solver``, ``method``
    (exact/sample/auto), ``samples`` (0 = default number of gates), ``width`` and any of
    :data:`PIPELINE_OPTIONS`. ``seed`` seeds the pattern sampling and, through :func:`train_seeds`,
    the ``n_train_seeds`` training initializations.

    Metrics are those of :meth:`VerificationReport.to_record` (convex optimum via ``objective()``,
    certificate, m*, gaps of the trained networks, ...); timings end in ``_seconds``.
    """
    opts = _options(params)
    problem = _load_problem(params)
    seeds = train_seeds(seed, opts["n_train_seeds"])
    train_options = {"init_scale": float(opts["init_scale"])}
    if opts["max_iter"]:
        train_options["max_iter"] = opts["max_iter"]
    report = verify_training(
        problem, int(params["width"]), seeds,
        method=params["method"], n_samples=int(params["samples"]) or None, pattern_seed=seed,
        solver=params["solver"], solver_tol=float(opts["solver_tol"]) or None,
        train_method=opts["train_method"], train_options=train_options,
        tol=float(opts["verify_tol"]), build_optimal_set=opts["optimal_set"],
        strategy=opts["strategy"],
    )
    rec = report.to_record(opts["grouping"])
    for key in ("loss", "beta", "solver", "width"):  # already parameter columns
        rec.pop(key, None)
    rec["train_seeds"] = seeds
    rec["relative_gaps"] = [r.relative_gap for r in report.networks]
    return rec
