r"""The β path of the optimal set: :func:`solve_path` solves at a decreasing sequence of β.

For β ≥ β_max = M(−∇ℓ(0)) the zero network is optimal (SPEC §2.4 step 6); below it the optimal
set grows: the prediction moves towards y, new chambers enter the equicorrelation set and m*(β)
changes (the seeds' theory, SPEC §4.6–§4.7). :func:`solve_path` follows it from β_max down,
warm-starting each β from the previous one: the working set of a β starts from the patterns of the
previous β's active blocks, and a full solve reuses the enumerated pattern list and chamber list.

Core module: no I/O; ``hiddenconvex path`` writes the CSV and the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .api import Result, add_bias, solve
from .errors import InputError, check_int
from .objective import Problem
from .patterns import Patterns, enumerate_patterns

__all__ = ["PathPoint", "default_betas", "solve_path", "DEFAULT_NUM_BETAS", "DEFAULT_BETA_RANGE"]

#: ``hiddenconvex path`` without ``--betas``: this many log-spaced values ...
DEFAULT_NUM_BETAS = 10
#: ... from β_max down to β_max / this.
DEFAULT_BETA_RANGE = 1000.0


@dataclass(frozen=True)
class PathPoint:
    """One β of the path: the :class:`~hiddenconvex.api.Result` and its row."""

    beta: float
    result: Result
    record: dict


def default_betas(beta_max: float, num: int = DEFAULT_NUM_BETAS,
                  ratio: float = DEFAULT_BETA_RANGE) -> np.ndarray:
    """``num`` log-spaced values from ``beta_max`` down to ``beta_max / ratio`` (decreasing)."""
    num = check_int(num, "num", minimum=1)
    if not (beta_max > 0 and np.isfinite(beta_max)):
        raise InputError(f"beta_max must be finite and > 0, got {beta_max!r}")
    return np.geomspace(beta_max, beta_max / ratio, num)


def _active_patterns(result: Result) -> Patterns | None:
    """The patterns of the active blocks of ``result`` (the next β's first working set)."""
    sol = result.solution
    act = sol.active_blocks()
    if act.size == 0:
        return None
    act = np.unique(act % sol.patterns.p)
    return sol.patterns.subset(act)


def _row(result: Result, optimal_set: bool) -> dict:
    rec = result.to_dict()
    row = {k: rec.get(k) for k in (
        "beta", "objective", "loss_value", "regularization", "certified", "lower_bound", "gap",
        "max_correlation", "num_chambers", "num_patterns", "active_blocks", "strategy", "status",
        "solver", "ws_rounds", "ws_status", "beta_max")}
    cert = result.certificate
    row["relative_gap"] = None if cert is None else cert.relative_gap
    row["seconds"] = sum(v for k, v in result.seconds.items() if k.endswith("_seconds")
                         and not k.startswith("ws_"))
    row.update({"m_star": None, "m_star_method": None, "unique": None,
                "num_equicorrelated": None, "optimal_set_note": ""})
    if optimal_set:
        S, why = result.try_optimal_set()
        if S is None:
            row["optimal_set_note"] = why
        else:
            row.update({"m_star": S.m_star, "m_star_method": S.m_star_method,
                        "unique": S.unique, "num_equicorrelated": int(S.equicorrelated.size)})
    return row


def solve_path(X, y, betas: Sequence[float] | None = None, loss="squared", *,
               patterns="auto", strategy: str = "auto", bias: bool = False,
               optimal_set: bool = True, num_betas: int = DEFAULT_NUM_BETAS,
               callback: Callable[[PathPoint], None] | None = None,
               **solve_options) -> list[PathPoint]:
    r"""Solve at every β of ``betas`` (sorted decreasing), each warm-started from the previous.

    Parameters
    ----------
    X, y, loss, patterns, strategy, bias
        As for :func:`hiddenconvex.solve`.
    betas : sequence of float, optional
        Default :func:`default_betas` (β_max over all chambers when they are known, else over the
        pattern list) with ``num_betas`` values.
    optimal_set : bool
        Add m*, uniqueness and the equicorrelation set per β where the optimal set is computable
        (else the reason in ``optimal_set_note``).
    callback : callable, optional
        Called with each :class:`PathPoint` (progress at the edge).
    **solve_options
        Other keyword arguments of :func:`hiddenconvex.solve` (solver, tol, seed, ...).

    Returns
    -------
    list of PathPoint, by decreasing β.
    """
    problem0 = Problem.create(add_bias(X) if bias else X, y, 1.0, loss)
    Xb = problem0.X
    if isinstance(patterns, str) and patterns in ("auto", "exact", "sample"):
        # one pattern list for the whole path unless it is streamed (then each β streams it)
        from .api import _streams

        if not _streams(Xb, patterns, strategy):
            patterns = enumerate_patterns(Xb, method=patterns,
                                          n_samples=solve_options.get("n_samples"),
                                          seed=solve_options.get("seed", 0))
    chambers = patterns if isinstance(patterns, Patterns) and patterns.complete else \
        solve_options.pop("chambers", None)
    if betas is None:
        first = solve(problem0.with_beta(1.0), patterns=patterns, strategy=strategy,
                      chambers=chambers, certify=False, **solve_options)
        betas = default_betas(first.beta_max, num_betas)
    betas = np.sort(np.asarray([float(b) for b in betas]))[::-1]
    if betas.size == 0 or not np.all(np.isfinite(betas)) or betas[-1] <= 0:
        raise InputError("betas must be finite and > 0")
    points: list[PathPoint] = []
    seed_patterns = None
    for beta in betas:
        ws_opts = dict(solve_options.pop("working_set_options", None) or {})
        if seed_patterns is not None and "seed_patterns" not in ws_opts:
            ws_opts["seed_patterns"] = seed_patterns
        res = solve(problem0.with_beta(float(beta)), patterns=patterns, strategy=strategy,
                    bias=bias, chambers=chambers, working_set_options=ws_opts, **solve_options)
        if chambers is None and res.chambers is not None:
            chambers = res.chambers  # enumerated once (a sampled list's certificate)
        seed_patterns = _active_patterns(res) if res.strategy == "working-set" else None
        point = PathPoint(float(beta), res, _row(res, optimal_set))
        points.append(point)
        if callback is not None:
            callback(point)
    return points
