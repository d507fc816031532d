r"""Full-batch gradient training of the non-convex objective :math:`L_\beta` (SPEC §1.1), NumPy.

.. math::

    L_\beta(\theta) = \ell(\sigma(XU^T)\alpha)
        + \tfrac{\beta}{2}\sum_{i=1}^m (\|u_i\|_2^2 + \alpha_i^2),

with the package's loss conventions (``squared`` = ½‖ŷ − y‖² as a SUM, no 1/n; ``logistic`` and
``hinge`` sums, labels ±1). Every objective value is computed by
:func:`hiddenconvex.objective.objective` on a :class:`~hiddenconvex.network.ReLUNetwork`; this
module only adds the gradient.

Gradient (backprop) convention
------------------------------
With :math:`Z = XU^T` (n, m), :math:`\hat y = \sigma(Z)\alpha` and :math:`g = \nabla\ell(\hat y)`
(``problem.loss.gradient``; for the hinge loss the subgradient with weight 0 at the kink):

.. math::

    \nabla_{\alpha_i} L_\beta = \sigma(Xu_i)^T g + \beta\alpha_i, \qquad
    \nabla_{u_i} L_\beta = \alpha_i X^T (s_i \odot g) + \beta u_i,
    \quad s_{ij} = \mathbf 1[x_j^T u_i > 0],

i.e. :math:`\sigma'(0) = 0` (SPEC §4.8: at points with some :math:`x_j^T u_i = 0` this is one
element of the Clarke subdifferential, the "strict pattern" choice c = 0; elsewhere it is the
gradient).

Methods
-------
``"lbfgs"``  scipy.optimize.minimize(method="L-BFGS-B") with tight tolerances (default
             ``ftol = 1e-15``, ``gtol = tol * scale``).
``"gd"``     gradient descent, fixed step ``lr`` (``line_search=False``) or Armijo backtracking
             (``line_search=True``, default): the step starts at ``lr``, is halved until
             :math:`L(\theta - t\nabla L) \le L(\theta) - 10^{-4} t \|\nabla L\|^2` and doubled
             after each accepted step; the objective history is then non-increasing.
``"adam"``   Adam (Kingma & Ba) on :math:`\nabla L_\beta` itself: the weight decay is the
             :math:`\tfrac{\beta}{2}\sum(\|u_i\|^2+\alpha_i^2)` term of the objective, i.e. coupled
             L2 decay (NOT AdamW's decoupled decay), so Adam and the other methods minimize the same
             :math:`L_\beta`.
             Optional step decay: the learning rate at iteration k is
             ``lr * lr_decay ** ((k - 1) // decay_every)`` (default ``lr_decay = 1``: constant).
``"lbfgs-kinks"``  L-BFGS as above, then rounds of "manifold identification": at the point where
             L-BFGS stopped, every neuron's *kinks* — data points with
             :math:`|x_j^Tu_i| \le` ``kink_tol`` :math:`\|x_j\|\|u_i\|` — are located, each
             :math:`u_i` is projected onto the orthogonal complement of its kink points (placing it
             exactly on those hyperplanes), and L-BFGS is run on that linear manifold with the
             gradient projected onto it (the iterates stay on it; near the point
             :math:`L_\beta` is smooth there), then once more without constraint. A round is
             kept only if it lowers the objective; at most ``kink_rounds`` rounds. Why: optimal
             neurons often lie exactly on a kink (a cone projection lands on a face, SPEC
             §2.3), where :math:`L_\beta` is not differentiable; plain L-BFGS then stalls at
             relative gaps ~1e-4..1e-3 with gradient norms O(0.1), while on the kink manifold
             it converges to machine precision (e.g. ``low_rank.csv``, width 20: 5e-4 → 1e-11).
             The method only uses the data and the gradient: no pattern list, no convex program.
             The default method (:data:`DEFAULT_METHOD`).

The optimizers themselves live in :mod:`hiddenconvex._optimizers`.

Initialization
--------------
``np.random.default_rng(seed)`` draws U first, then α:
:math:`U_{ij} \sim \mathcal N(0, s^2/d)`, :math:`\alpha_i \sim \mathcal N(0, s^2/m)` with
``s = init_scale`` (default 1, LeCun-type scaling: for standardized data the initial output is
O(1)).
The scale matters: it decides which stationary point a local method reaches (small scales start
near the saddle θ = 0). An explicit starting network ``init`` overrides the random draw.

Convergence
-----------
``converged`` is True iff the final backprop gradient norm :math:`\|\nabla L_\beta(\theta)\|_2 \le`
``tol * scale`` with ``scale = max(1, ℓ(0))`` (the loss of the zero network: a property of the
problem, not of the run). At minima where a neuron sits on a kink (:math:`x_j^Tu_i = 0`),
:math:`L_\beta` is not differentiable and the gradient norm need not become small even when the
objective value is optimal; ``converged`` then stays False and ``message`` says why the method
stopped. Compare objective values against the certified convex optimum instead (verification).

The core prints nothing; ``callback(iteration, objective_total)`` is called after every iteration
(and with iteration 0 at the start) so that the edge can drive a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ._optimizers import (
    _forward_backward,
    _frozen,
    _Objective,
    _run_adam,
    _run_gd,
    _run_lbfgs,
    _run_lbfgs_kinks,
    kink_projectors,
)
from .errors import InputError, check_int, check_positive, check_seed
from .network import ReLUNetwork
from .objective import ObjectiveValue, Problem, objective

__all__ = [
    "METHODS",
    "DEFAULT_METHOD",
    "kink_projectors",
    "TrainingResult",
    "gradient",
    "gradient_norm",
    "initial_network",
    "train",
    "train_many",
    "best_result",
]

METHODS = ("lbfgs", "gd", "adam", "lbfgs-kinks")
#: The default training method: reaches optima whose neurons sit on kinks of the data.
DEFAULT_METHOD = "lbfgs-kinks"

_DEFAULT_MAX_ITER = {"lbfgs": 20000, "gd": 20000, "adam": 20000, "lbfgs-kinks": 20000}
_DEFAULT_LR = {"gd": 1.0, "adam": 1e-2}

Callback = Callable[[int, float], object]


# --------------------------------------------------------------------------- gradient


def gradient(problem: Problem, network: ReLUNetwork) -> tuple[np.ndarray, np.ndarray]:
    r"""Backprop gradient of :math:`L_\beta` at ``network`` with the convention σ'(0) = 0.

    Parameters
    ----------
    problem : Problem
    network : ReLUNetwork
        Width m, input dimension ``problem.d``.

    Returns
    -------
    grad_U : array, shape (m, d)
        :math:`\alpha_i X^T(\mathbf 1[Xu_i > 0] \odot \nabla\ell(\hat y)) + \beta u_i`.
    grad_alpha : array, shape (m,)
        :math:`\sigma(Xu_i)^T \nabla\ell(\hat y) + \beta\alpha_i`.
    """
    _check_network(problem, network)
    return _forward_backward(problem, network.U, network.alpha)


def gradient_norm(problem: Problem, network: ReLUNetwork) -> float:
    """Euclidean norm of :func:`gradient` over all parameters (U and α together)."""
    gU, ga = gradient(problem, network)
    return float(np.sqrt(np.sum(gU**2) + np.sum(ga**2)))


def _check_network(problem: Problem, network: ReLUNetwork) -> None:
    if not isinstance(network, ReLUNetwork):
        raise InputError(f"expected a ReLUNetwork, got {type(network).__name__}")
    if network.d != problem.d:
        raise InputError(f"network has input dimension {network.d} but the data have {problem.d}")


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of one training run.

    Attributes
    ----------
    network : ReLUNetwork
        Final iterate (width ``width``; not balanced, not pruned).
    objective : ObjectiveValue
        ``objective(problem, network)`` at the final iterate.
    history : array, shape (iterations + 1,)
        Objective total at the start (entry 0) and after every iteration (``lbfgs-kinks``: all
        phases, a projection onto a kink manifold counting as one iteration; a rejected round
        stays in the history, so the final objective is ``history.min()``, not ``history[-1]``).
    iterations : int
        Iterations performed (L-BFGS: scipy's ``nit``).
    converged : bool
        Final gradient norm <= ``tol * scale`` (module docstring).
    grad_norm : float
        Euclidean norm of the σ'(0) = 0 backprop gradient at the final iterate.
    seconds : float
        Wall-clock time of the optimization.
    method, seed, width : str, int or None, int
        ``seed`` is None when an explicit ``init`` network was given.
    message : str
        Why the method stopped (scipy's message for L-BFGS).
    n_evaluations : int
        Objective/gradient evaluations.
    options : dict
        The resolved hyper-parameters (lr, tol, max_iter, init_scale, ...).
    """

    network: ReLUNetwork
    objective: ObjectiveValue
    history: np.ndarray
    iterations: int
    converged: bool
    grad_norm: float
    seconds: float
    method: str
    seed: int | None
    width: int
    message: str
    n_evaluations: int = 0
    options: dict = field(default_factory=dict)

    def to_record(self) -> dict:
        """Flat dict of scalars for a CSV row (the network itself is not included)."""
        rec = {
            "method": self.method,
            "seed": self.seed,
            "width": self.width,
            "objective": self.objective.total,
            "objective_loss": self.objective.loss,
            "objective_regularization": self.objective.regularization,
            "iterations": self.iterations,
            "n_evaluations": self.n_evaluations,
            "converged": self.converged,
            "grad_norm": self.grad_norm,
            "seconds": self.seconds,
            "message": self.message,
        }
        for k, v in self.options.items():
            rec[f"train_{k}"] = v
        return rec


# --------------------------------------------------------------------------- training


def initial_network(problem: Problem, width: int, seed: int,
                    init_scale: float = 1.0) -> ReLUNetwork:
    r"""Seeded random start: :math:`U_{ij} \sim N(0, s^2/d)`, then :math:`\alpha_i \sim N(0,s^2/m)`.

    Parameters
    ----------
    problem : Problem
    width : int
        m >= 1.
    seed : int
        Seed of ``np.random.default_rng``.
    init_scale : float
        s > 0.

    Returns
    -------
    ReLUNetwork
        U of shape (m, d), α of shape (m,).
    """
    width = _check_width(width)
    seed = check_seed(seed)
    init_scale = check_positive(init_scale, "init_scale")
    rng = np.random.default_rng(seed)
    U = rng.normal(scale=init_scale / np.sqrt(problem.d), size=(width, problem.d))
    alpha = rng.normal(scale=init_scale / np.sqrt(width), size=width)
    return ReLUNetwork(U, alpha)


def _check_width(width) -> int:
    return check_int(width, "width", 1)


def _check_iterations(v, name: str = "max_iter") -> int:
    return check_int(v, name, 0)


def train(
    problem: Problem,
    width: int,
    *,
    method: str = "lbfgs",
    seed: int = 0,
    init: ReLUNetwork | None = None,
    init_scale: float = 1.0,
    max_iter: int | None = None,
    tol: float = 1e-8,
    lr: float | None = None,
    line_search: bool = True,
    ftol: float = 1e-15,
    adam_betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
    lr_decay: float = 1.0,
    decay_every: int = 1000,
    kink_tol: float = 1e-4,
    kink_rounds: int = 20,
    callback: Callback | None = None,
) -> TrainingResult:
    r"""Minimize :math:`L_\beta` over width-``width`` networks from a seeded start.

    Parameters
    ----------
    problem : Problem
        Data, β and loss (conventions of SPEC §1.1).
    width : int
        Number of neurons m >= 1.
    method : {"lbfgs", "gd", "adam", "lbfgs-kinks"}
    seed : int
        Seed of the initialization (:func:`initial_network`); ignored when ``init`` is given.
    init : ReLUNetwork, optional
        Explicit starting network of width ``width`` (then ``result.seed`` is None).
    init_scale : float
        Initialization scale s (module docstring).
    max_iter : int, optional
        Iteration limit (default 20000; ``lbfgs-kinks``: of each L-BFGS run).
    tol : float
        Gradient-norm tolerance relative to ``max(1, ℓ(0))`` (stopping rule and ``converged``).
    lr : float, optional
        ``gd``: (initial) step, default 1.0; ``adam``: (initial) learning rate, default 1e-2.
        Not used by L-BFGS.
    line_search : bool
        ``gd`` only: Armijo backtracking (True) or fixed step ``lr`` (False).
    ftol : float
        L-BFGS-B relative objective-decrease tolerance.
    adam_betas, adam_eps : Adam's moment decay rates and denominator epsilon.
    lr_decay, decay_every : Adam step decay: ``lr * lr_decay ** ((k - 1) // decay_every)``
        (default 1: constant).
    kink_tol, kink_rounds : ``lbfgs-kinks``: relative distance to a kink hyperplane below which a
        data point counts as a kink, and the maximum number of rounds (module docstring).
    callback : callable, optional
        ``callback(iteration, objective_total)`` after every iteration and once with iteration 0.

    Returns
    -------
    TrainingResult

    Raises
    ------
    InputError
        Width < 1, unknown method, bad seed, non-positive tolerances or step sizes, or an ``init``
        network of the wrong shape.
    """
    if not isinstance(problem, Problem):
        raise InputError(f"problem must be a hiddenconvex Problem, got {type(problem).__name__}")
    width = _check_width(width)
    if method not in METHODS:
        raise InputError(f"unknown training method {method!r}; choose one of {', '.join(METHODS)}")
    tol = check_positive(tol, "tol")
    ftol = check_positive(ftol, "ftol")
    max_iter = _DEFAULT_MAX_ITER[method] if max_iter is None else _check_iterations(max_iter)
    if init is None:
        seed = check_seed(seed)
        init = initial_network(problem, width, seed, init_scale)
    else:
        _check_network(problem, init)
        if init.width != width:
            raise InputError(f"init network has width {init.width}, expected {width}")
        seed = None
    if callback is not None and not callable(callback):
        raise InputError("callback must be callable as callback(iteration, objective)")
    options: dict = {"init_scale": float(init_scale), "max_iter": max_iter, "tol": tol}
    if method == "gd":
        options["lr"] = check_positive(_DEFAULT_LR["gd"] if lr is None else lr, "lr")
        options["line_search"] = bool(line_search)
    if method == "adam":
        options["lr"] = check_positive(_DEFAULT_LR["adam"] if lr is None else lr, "lr")
        b1, b2 = (float(b) for b in adam_betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise InputError(f"adam_betas must lie in [0, 1), got {adam_betas!r}")
        decay = check_positive(lr_decay, "lr_decay")
        if decay > 1:
            raise InputError(f"lr_decay must lie in (0, 1], got {lr_decay!r}")
        options.update(adam_beta1=b1, adam_beta2=b2,
                       adam_eps=check_positive(adam_eps, "adam_eps"), lr_decay=decay,
                       decay_every=max(1, _check_iterations(decay_every, "decay_every")))
    if method in ("lbfgs", "lbfgs-kinks"):
        options["ftol"] = ftol
    if method == "lbfgs-kinks":
        options.update(kink_tol=check_positive(kink_tol, "kink_tol"),
                       kink_rounds=_check_iterations(kink_rounds, "kink_rounds"))

    fobj = _Objective(problem, width)
    scale = max(1.0, problem.loss.value(np.zeros(problem.n), problem.y))
    gtol = tol * scale
    x0 = np.concatenate([init.U.ravel(), init.alpha])
    cb = callback if callback is not None else (lambda k, f: None)

    t0 = time.perf_counter()
    runner = {"lbfgs": _run_lbfgs, "gd": _run_gd, "adam": _run_adam,
              "lbfgs-kinks": _run_lbfgs_kinks}[method]
    x, history, iterations, message = runner(fobj, x0, gtol, options, cb)
    seconds = time.perf_counter() - t0

    network = fobj.network(x)
    gnorm = float(np.linalg.norm(fobj.grad(x)))
    return TrainingResult(
        network=network,
        objective=objective(problem, network),
        history=_frozen(history),
        iterations=int(iterations),
        converged=bool(gnorm <= gtol),
        grad_norm=gnorm,
        seconds=seconds,
        method=method,
        seed=seed,
        width=width,
        message=message,
        n_evaluations=fobj.n_eval,
        options=options,
    )


def train_many(
    problem: Problem,
    width: int,
    seeds: int | Iterable[int],
    method: str = "lbfgs",
    *,
    on_result: Callable[[TrainingResult], object] | None = None,
    **options,
) -> list[TrainingResult]:
    """Train one network per seed (same width, method and options).

    Parameters
    ----------
    problem : Problem
    width : int
    seeds : int or iterable of int
        An int K means the seeds 0, 1, ..., K-1.
    method : {"lbfgs", "gd", "adam"}
    on_result : callable, optional
        Called with each :class:`TrainingResult` as soon as it is available (progress at the edge).
    **options
        Passed to :func:`train` (not ``seed`` or ``init``).

    Returns
    -------
    list of TrainingResult, in the order of ``seeds``.
    """
    if "seed" in options or "init" in options:
        raise InputError("train_many takes the seeds list; do not pass seed= or init=")
    if isinstance(seeds, bool):
        raise InputError(f"seeds must be an int K or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise InputError(f"number of seeds must be >= 1, got {seeds}")
        seeds = range(int(seeds))
    try:
        seed_list = [check_seed(s) for s in seeds]
    except TypeError:
        raise InputError(f"seeds must be an int K or a list of seeds, got {seeds!r}") from None
    if not seed_list:
        raise InputError("seeds is empty")
    out = []
    for s in seed_list:
        res = train(problem, width, method=method, seed=s, **options)
        out.append(res)
        if on_result is not None:
            on_result(res)
    return out


def best_result(results: Iterable[TrainingResult]) -> TrainingResult:
    """The run with the smallest final objective (first one on ties)."""
    results = list(results)
    if not results:
        raise InputError("no training results given")
    return min(results, key=lambda r: r.objective.total)
