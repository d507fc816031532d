"""Options shared by several sub-commands, and JSON output."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from ..datasets import Dataset, load_csv


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" unless the help text already speaks of the default, or X is None or
    False (flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--target", default="y", help="target column")
    p.add_argument("--bias", action="store_true", help="append a ones column (regularized bias)")


def add_pattern_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=["exact", "sample", "auto"], default="auto",
                   help="pattern enumeration (auto = exact when the Cover bound is small)")
    p.add_argument("--samples", type=int, default=None,
                   help="number of Gaussian gates for sampling")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the pattern cache")


def add_solver_args(p: argparse.ArgumentParser, beta: float | None = None) -> None:
    """--beta (required unless a default ``beta`` is given), --loss, --solver."""
    p.add_argument("--beta", type=float, required=beta is None, default=beta,
                   help="weight decay beta > 0")
    p.add_argument("--loss", choices=["squared", "logistic", "hinge"], default="squared",
                   help="squared = 1/2 ||yhat - y||^2 (a sum, no 1/n); logistic and hinge need "
                        "labels -1/+1")
    p.add_argument("--solver", default="clarabel", help="clarabel, ecos or scs")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def load_data(args) -> Dataset:
    return load_csv(args.data, target=args.target, bias=args.bias)


def load_problem(args):
    """(Dataset, Problem) from the data, --beta and --loss options."""
    from ..objective import Problem

    data = load_data(args)
    return data, Problem.create(data.X, data.y, args.beta, args.loss)


def check_pattern_args(args) -> None:
    """--seed and --samples, checked before any work (InputError → exit 2)."""
    from ..errors import InputError

    if isinstance(args.seed, bool) or args.seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.samples is not None and args.samples <= 0:
        raise InputError(f"--samples must be a positive integer, got {args.samples}")


def patterns_from_args(args, X):
    """The pattern list of the options of :func:`add_pattern_args`, through the on-disk cache
    (``--no-cache`` bypasses it). Returns :class:`~hiddenconvex.cache.CachedPatterns`
    (``.patterns``, ``.warning`` when the cache could not be used)."""
    from ..cache import cached_patterns

    return cached_patterns(X, args.method, n_samples=args.samples, seed=args.seed,
                           use_cache=not args.no_cache)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else (None if math.isnan(f) else ("inf" if f > 0 else "-inf"))
    return obj


def print_json(obj) -> None:
    print(json.dumps(_jsonable(obj), indent=None, sort_keys=False))


def print_table(record: dict) -> None:
    width = max(len(str(k)) for k in record)
    for k, v in record.items():
        if isinstance(v, float):
            v = f"{v:.10g}"
        print(f"{str(k):<{width}}  {v}")
