"""Options shared by several sub-commands, argparse value types, data loading and JSON output."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from ..experiments.datasets import Dataset, load_csv
from ..losses import DEFAULT_LOSS, LOSSES
from ..patterns import METHODS as PATTERN_METHODS
from ..solvers import DEFAULT_SOLVER, SOLVERS

#: Every message of the value types below starts with this; ``hiddenconvex.cli._Parser`` turns
#: argparse's "argument --x: must be ..." into "--x must be ...".
TYPE_ERROR_PREFIX = "must be "


# ----------------------------------------------------------------------------------------------
# argparse value types: one set for every numeric option of every sub-command
# ----------------------------------------------------------------------------------------------
def _parse_int(text: str) -> int:
    """An integer from ``text``; an integral number in float notation (``1e6``) is accepted."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}an integer, got {text!r}") from None
    if not math.isfinite(value) or not value.is_integer():
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}an integer, got {text!r}")
    return int(value)


def _parse_finite(text: str, what: str = "a finite number") -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}{what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}{what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}>= 1, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _parse_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}>= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _parse_finite(text, "a finite number > 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{TYPE_ERROR_PREFIX}> 0, got {text}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" unless the help text already speaks of the default, or X is None or
    False (flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)


def add_data_args(p: argparse.ArgumentParser, labels_needed: bool = True) -> None:
    """DATA, --target, --bias. ``labels_needed=False`` (``patterns``): a CSV without the target
    column is read as features only."""
    p.add_argument("data", help="CSV file with a header row")
    if labels_needed:
        target_help = ("target column (default: y); logistic/hinge labels are -1/+1, 0/1 or two "
                       "text labels, mapped in sorted order to -1/+1 (the mapping is printed on "
                       "stderr)")
    else:
        target_help = ("target column, left out of the features (default: y); patterns need no "
                       "labels: when the default column y is absent, every column is a feature "
                       "(a --target that names a missing column is an error)")
    p.add_argument("--target", default=None, help=target_help)
    p.add_argument("--bias", action="store_true", help="append a ones column (regularized bias)")


def add_pattern_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=PATTERN_METHODS, default="auto",
                   help="pattern enumeration (auto = exact when the Cover bound is small)")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="number of Gaussian gates for sampling (>= 1)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (>= 0)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the pattern cache")


def add_solver_args(p: argparse.ArgumentParser, beta: float | None = None) -> None:
    """--beta (required unless a default ``beta`` is given), --loss, --solver."""
    p.add_argument("--beta", type=positive_float, required=beta is None, default=beta,
                   help="weight decay beta > 0")
    p.add_argument("--loss", choices=tuple(LOSSES), default=DEFAULT_LOSS,
                   help="squared = 1/2 ||yhat - y||^2 (a sum, no 1/n); logistic and hinge need "
                        "labels -1/+1")
    p.add_argument("--solver", default=DEFAULT_SOLVER, help=", ".join(SOLVERS))


def add_strategy_args(p: argparse.ArgumentParser) -> None:
    """--strategy and the working-set budget (--max-rounds, --time-limit)."""
    from ..api import STRATEGIES

    p.add_argument("--strategy", choices=STRATEGIES, default="auto",
                   help="full = one program on the whole pattern list; working-set = column "
                        "generation with exact pricing of every pattern (every chamber streamed "
                        "when --method is exact, or auto with a Cover bound up to 5e6); auto = "
                        "working-set for streamed or large lists, full otherwise")
    p.add_argument("--max-rounds", type=positive_int, default=None,
                   help="working-set round budget (default 200); a run stopped by it reports "
                        "its best certified lower bound")
    p.add_argument("--time-limit", type=positive_float, default=None,
                   help="working-set time budget in seconds (checked after each pricing pass)")


def working_set_options(args) -> dict:
    """The ``working_set_options`` of :func:`hiddenconvex.solve` from the CLI options, with a
    progress bar over the rounds on a terminal (stderr; quiet otherwise)."""
    opts = {}
    if getattr(args, "max_rounds", None) is not None:
        opts["max_rounds"] = args.max_rounds
    if getattr(args, "time_limit", None) is not None:
        opts["time_limit"] = args.time_limit
    if sys.stderr.isatty() and not getattr(args, "json", False):
        from tqdm import tqdm

        bar = tqdm(desc="working set", unit="round", file=sys.stderr, leave=False)

        def progress(rnd):
            bar.update(1)
            bar.set_postfix(size=rnd.working_set, objective=f"{rnd.objective:.8g}",
                            lower=f"{rnd.lower_bound:.8g}", pricing=rnd.pricing)

        opts["callback"] = progress
    return opts


def solve_patterns(args, X):
    """``(patterns, cached)`` for :func:`hiddenconvex.solve`: the method name when the solve
    streams every chamber through the working set (nothing to cache or hold in memory), else the
    list from :func:`patterns_from_args` (through the on-disk cache)."""
    from ..api import _streams

    if _streams(X, args.method, getattr(args, "strategy", "full")):
        return args.method, None
    found = patterns_from_args(args, X)
    return found.patterns, found


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def load_data(args) -> Dataset:
    """The CSV of ``args.data``. Sub-commands with ``--loss`` read the target as labels of that
    loss; ``patterns`` (no ``--loss``) needs no labels. A text-label mapping is printed on stderr
    (one line), so that ``--json`` stdout stays one JSON object."""
    loss = getattr(args, "loss", None)
    explicit = args.target is not None
    data = load_csv(args.data, target=args.target if explicit else "y", bias=args.bias,
                    loss=loss, require_target=loss is not None or explicit)
    mapping = data.meta.get("label_map")
    if mapping:
        print(f"hiddenconvex {args.command}: {format_label_map(mapping)}", file=sys.stderr)
    return data


def format_label_map(mapping) -> str:
    """``labels: 'no' -> -1, 'yes' -> +1`` for ``((label, value), ...)``."""
    return "labels: " + ", ".join(f"{label!r} -> {value:+d}" for label, value in mapping)


def load_problem(args):
    """(Dataset, Problem) from the data, --beta and --loss options."""
    from ..objective import Problem

    data = load_data(args)
    return data, Problem.create(data.X, data.y, args.beta, args.loss)


def patterns_from_args(args, X):
    """The pattern list of the options of :func:`add_pattern_args`, through the on-disk cache
    (``--no-cache`` bypasses it). Returns :class:`~hiddenconvex.cache.CachedPatterns`
    (``.patterns``, ``.warning`` when the cache could not be used)."""
    from ..experiments.cache import cached_patterns

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
