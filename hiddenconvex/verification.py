r"""Verification of gradient-trained networks against the convex optimum (SPEC §1.1, §2.4, §4).

For one problem the convex side is computed once (:func:`convex_reference`): the convex program on
a pattern list, its certificate over ALL chambers (when they can be enumerated), ψ of the solution
and, for strictly convex losses, the exact optimal set. Each trained network is then compared with
it (:func:`verify_networks`); every objective value is :func:`hiddenconvex.objective.objective` —
the solver's own optimal value is never used as a score.

Per network the report gives :math:`L_\beta(\theta)`, the relative gap
:math:`(L_\beta(\theta) - P_c)/|P_c|`, whether θ is scaled, nearly minimal under each grouping of
SPEC §4.5, a member of the optimal set Θ*_m (SPEC §4.6), and φ(θ) (SPEC §4.3) with the dual
certificate of its prediction (SPEC §2.4).

Two outcomes are not symmetric:

* A trained objective below a VALID LOWER BOUND on :math:`P_c` (the certificate's weak-duality
  bound, available whenever M(λ) was computed over all chambers) is impossible in exact arithmetic:
  it is a bug and raises :class:`OptimalityViolation`. The margin is :data:`BELOW_TOL` relative
  (rounding only); the certificate's bound, not the solver's primal value, is compared, so solver
  tolerance cannot trigger it.
* A trained objective below an UNCERTIFIED convex value (a sampled pattern list whose certificate
  does not hold, or cannot be computed) is possible: it is reported (``below_uncertified``) as
  evidence that the sampled patterns miss chambers (or, for a complete list, that the solve is
  inaccurate).

Tolerances. Gradient-trained networks are optimal only to the accuracy of the optimizer: L-BFGS in
float64 stalls at gradient norms ~1e-7, i.e. parameters ~1e-7 (absolute) from the optimal set even
when the objective agrees with :math:`P_c` to 1e-10. The direction of a small neuron (norm 0.01) is
then off by ~1e-5, and the per-neuron relative tests of near-minimality and membership need a
tolerance above that. The structural tests therefore use ``tol`` (default :data:`DEFAULT_TOL` =
1e-4), not the optimal set's own 1e-6 tolerances; the measured violations (``scaling_violation``,
``direction_error``) are reported next to the booleans. On ``data/default.csv`` the networks at the
optimum have direction errors 2e-6..3e-5, the non-optimal stationary points >= 1e-3.

The convex side (:class:`ConvexReference`, :func:`convex_reference`, :func:`reference_of`) lives in
:mod:`hiddenconvex.reference` and is re-exported here.

Core module: no I/O, no printing. The batch task that runs this verification on a bundled dataset
is :func:`hiddenconvex.experiments.pipeline.run_pipeline`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .network import ReLUNetwork, is_scaled, scaling_violation
from .objective import Problem, objective
from .patterns import Patterns
from .reference import ConvexReference, convex_reference, reference_of
from .solvers import DEFAULT_SOLVER
from .training import DEFAULT_METHOD as TRAIN_DEFAULT
from .training import METHODS as TRAIN_METHODS
from .training import TrainingResult, train_many

__all__ = [
    "DEFAULT_TOL",
    "REACH_TOL",
    "BELOW_TOL",
    "EVIDENCE_TOL",
    "OptimalityViolation",
    "ConvexReference",
    "NetworkReport",
    "VerificationReport",
    "convex_reference",
    "reference_of",
    "verify_network",
    "verify_networks",
    "verify_training",
]

#: Relative tolerance of the structural tests on trained networks (scaled, nearly minimal, member).
DEFAULT_TOL = 1e-4
#: A trained network "reaches" P_c when its relative gap is at most this (issue 5 acceptance).
REACH_TOL = 1e-4
#: Rounding margin (relative to max(1, |bound|)) below a valid lower bound before raising.
BELOW_TOL = 1e-9
#: Relative margin below an uncertified convex value that counts as evidence of missing patterns.
EVIDENCE_TOL = 1e-6


class OptimalityViolation(RuntimeError):
    """A trained network has an objective below a valid lower bound on the convex optimum P_c.

    Impossible in exact arithmetic (P_c ≤ P*_m ≤ L_β(θ), SPEC §2.1–§2.2): a bug in the objective,
    the training, the convex program or the certificate.
    """


# --------------------------------------------------------------------------------------------------
# One trained network


@dataclass(frozen=True)
class NetworkReport:
    """Verification of one network against a :class:`ConvexReference`.

    Attributes
    ----------
    objective : float
        :math:`L_\\beta(\\theta)`.
    relative_gap : float
        :math:`(L_\\beta(\\theta) - P_c)/|P_c|` (may be slightly negative for a net at the optimum:
        the convex value is a primal value, only ``lower_bound`` is a bound).
    reached : bool
        ``relative_gap <= reach_tol``.
    below_uncertified : bool
        Objective below an uncertified convex value by more than :data:`EVIDENCE_TOL` (evidence that
        patterns are missing).
    scaled, scaling_violation : the SPEC §4.1 test at ``tol`` and ``max_i | ‖u_i‖ − |α_i| |``.
    nearly_minimal : dict
        Grouping (``cone``, ``ge_pattern``, ``strict_pattern``, ``cell``) → bool (SPEC §4.5).
    n_negligible : int
        Neurons left out of the two tests above: energy ½(‖u‖² + α²) at most
        ``tol · max(1, Σ‖u_i‖|α_i|)`` (the zero rule of the membership test).
    in_optimal_set : bool or None
        Membership in Θ*_m at tolerance ``tol`` (None without an optimal set); ``membership_reason``
        names the first failing condition, ``direction_error`` is the largest distance of a nonzero
        neuron's direction to the nearest same-sign optimal direction s_k.
    phi_objective : float or None
        :math:`L^c_\\beta(\\varphi(\\theta)) \\le L_\\beta(\\theta)` (None when a neuron lies in
        no cone of an incomplete pattern list).
    phi_certificate : Certificate or None
        :func:`~hiddenconvex.certificate.certify` of φ(θ) (its prediction equals f_θ(X)).
    training : TrainingResult or None
    """

    network: ReLUNetwork
    objective: float
    relative_gap: float
    reached: bool
    below_uncertified: bool
    scaled: bool
    scaling_violation: float
    nearly_minimal: dict
    in_optimal_set: bool | None
    membership_reason: str
    direction_error: float | None
    phi_objective: float | None
    phi_certificate: object | None
    phi_note: str = ""
    n_negligible: int = 0
    training: TrainingResult | None = None

    def to_record(self, grouping: str = "cone") -> dict:
        """Flat dict of scalars (the network and the training history are not included)."""
        cert = self.phi_certificate
        rec = {}
        if self.training is not None:
            tr = self.training
            rec.update(train_seed=tr.seed, width=tr.width, train_method=tr.method,
                       iterations=tr.iterations, converged=tr.converged, grad_norm=tr.grad_norm,
                       train_seconds=tr.seconds)
        else:
            rec.update(width=self.network.width)
        rec.update({
            "objective": self.objective,
            "relative_gap": self.relative_gap,
            "reached": self.reached,
            "below_uncertified": self.below_uncertified,
            "scaled": self.scaled,
            "scaling_violation": self.scaling_violation,
            "n_negligible": self.n_negligible,
            "nearly_minimal": self.nearly_minimal[grouping],
            "nearly_minimal_groupings": ",".join(g for g, ok in self.nearly_minimal.items() if ok),
            "in_optimal_set": self.in_optimal_set,
            "membership_reason": self.membership_reason,
            "direction_error": self.direction_error,
            "phi_objective": self.phi_objective,
            "phi_certified": None if cert is None else bool(cert.certified),
            "phi_max_correlation": None if cert is None else cert.M,
            "phi_lower_bound": None if cert is None else cert.lower_bound,
            "phi_gap": None if cert is None else cert.gap,
        })
        return rec


def _relative(value: float, ref: float) -> float:
    return (value - ref) / max(abs(ref), np.finfo(float).tiny)


def _check_bound(value: float, ref: ConvexReference, what: str) -> None:
    lb = ref.lower_bound
    if lb is not None and value < lb - BELOW_TOL * max(1.0, abs(lb)):
        raise OptimalityViolation(
            f"{what} has objective {value:.15g} below the certified lower bound {lb:.15g} on "
            f"the convex optimum (convex value {ref.convex_objective:.15g}, "
            f"beta = {ref.problem.beta:g}, {ref.problem.loss.name} loss): impossible, "
            "P_c <= P*_m <= L_beta(theta); this is a bug"
        )


def _negligible(net: ReLUNetwork, tol: float) -> np.ndarray:
    """Neurons whose energy ½(‖u‖² + α²) is at most ``tol · max(1, Σ_i ‖u_i‖|α_i|)``.

    The same rule as the optimal set's membership test (with its ``fit`` tolerance = ``tol``):
    a neuron of norm r carries parameter errors ~1e-7/r in its direction, so tiny neurons left over
    by the optimizer must not decide the structural tests.
    """
    norms = net.neuron_norms()
    mass = float(np.sum(norms * np.abs(net.alpha)))
    return 0.5 * (norms**2 + net.alpha**2) <= tol * max(1.0, mass)


def _membership(ref: ConvexReference, net: ReLUNetwork, tol: float):
    oset = ref.optimal_set
    if oset is None:
        return None, ref.optimal_set_note, None
    # The optimal set's own tolerances (1e-6) are for solver-accurate points; a trained network is
    # tested at `tol` (module docstring). Only the membership tolerances are replaced.
    loose = dataclasses.replace(oset.tolerances, direction=tol, balance=tol, fit=tol)
    member = oset.membership(net, tol=loose)
    return bool(member.member), member.reason, member.direction_error


def _phi(ref: ConvexReference, net: ReLUNetwork, certify_tol: float):
    from .certificate import certify
    from .maps import phi

    problem = ref.problem
    pats = ref.chambers if ref.chambers is not None else ref.patterns
    try:
        W = phi(net, problem.X, pats)
    except InputError as exc:
        return None, None, f"phi unavailable: {exc}"
    value = objective(problem, W).total
    cert = certify(problem, W.predict(problem.X), value, ref.chambers, chambers=ref.chambers,
                   tol=certify_tol)
    return float(value), cert, ""


def verify_network(ref: ConvexReference, net: ReLUNetwork | TrainingResult, *,
                   tol: float = DEFAULT_TOL, reach_tol: float = REACH_TOL,
                   certify_tol: float = 1e-6) -> NetworkReport:
    """Compare one network (or training result) with the convex reference.

    Raises
    ------
    OptimalityViolation
        The network's objective, or that of φ(θ), is below the valid lower bound on P_c.
    """
    from .minimality import GROUPINGS, is_nearly_minimal

    training = net if isinstance(net, TrainingResult) else None
    net = net.network if training is not None else net
    if not isinstance(net, ReLUNetwork):
        raise InputError(f"expected a ReLUNetwork or TrainingResult, got {type(net).__name__}")
    problem = ref.problem
    value = float(objective(problem, net).total)
    what = "trained network" + (f" (seed {training.seed})" if training is not None else "")
    _check_bound(value, ref, what)
    p_c = ref.convex_objective
    below = (not ref.certified) and value < p_c - EVIDENCE_TOL * max(1.0, abs(p_c))
    member, reason, dir_err = _membership(ref, net, tol)
    tiny = _negligible(net, tol)
    core = ReLUNetwork(net.U[~tiny], net.alpha[~tiny])
    phi_value, phi_cert, phi_note = _phi(ref, net, certify_tol)
    if phi_value is not None:
        _check_bound(phi_value, ref, f"phi of the {what}")
    return NetworkReport(
        network=net, objective=value, relative_gap=_relative(value, p_c),
        reached=_relative(value, p_c) <= reach_tol, below_uncertified=bool(below),
        scaled=is_scaled(core, tol), scaling_violation=scaling_violation(core),
        nearly_minimal={g: is_nearly_minimal(core, problem.X, g, tol) for g in GROUPINGS},
        n_negligible=int(tiny.sum()),
        in_optimal_set=member, membership_reason=reason, direction_error=dir_err,
        phi_objective=phi_value, phi_certificate=phi_cert, phi_note=phi_note, training=training,
    )


# --------------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class VerificationReport:
    """Convex reference plus one :class:`NetworkReport` per trained network.

    ``seconds`` holds the stage timings (``patterns_seconds``, ``convex_seconds``,
    ``optimal_set_seconds``, ``train_seconds``, ``verify_seconds``); ``solve_seconds`` in the record
    is the solver's own time.
    """

    reference: ConvexReference
    networks: tuple[NetworkReport, ...]
    tol: float
    reach_tol: float
    seconds: dict = field(default_factory=dict)

    @property
    def best(self) -> NetworkReport | None:
        return min(self.networks, key=lambda r: r.objective) if self.networks else None

    @property
    def best_relative_gap(self) -> float | None:
        return None if self.best is None else self.best.relative_gap

    @property
    def patterns_missing_evidence(self) -> bool:
        """Some network beat an uncertified convex value on an incomplete pattern list."""
        return (not self.reference.complete) and any(r.below_uncertified for r in self.networks)

    @property
    def warnings(self) -> tuple[str, ...]:
        out = list(self.reference.warnings)
        if any(r.below_uncertified for r in self.networks):
            out.append(
                "a trained network is below the uncertified convex value: "
                + ("evidence that the sampled patterns miss chambers" if not self.reference.complete
                   else "the convex solve is inaccurate")
            )
        return tuple(out)

    def network_records(self, grouping: str = "cone") -> list[dict]:
        return [r.to_record(grouping) for r in self.networks]

    def to_record(self, grouping: str = "cone") -> dict:
        """Summary: the convex record, aggregates over the networks and the stage timings."""
        nets = self.networks
        gaps = [r.relative_gap for r in nets]
        rec = self.reference.to_record()
        rec.update({
            "n_trained": len(nets),
            "width": nets[0].network.width if nets else None,
            "width_ge_m_star": (None if not nets or rec["m_star"] is None
                                else nets[0].network.width >= rec["m_star"]),
            "best_objective": None if not nets else self.best.objective,
            "best_relative_gap": self.best_relative_gap,
            "median_relative_gap": float(np.median(gaps)) if gaps else None,
            "n_reached": sum(r.reached for r in nets),
            "n_below_uncertified": sum(r.below_uncertified for r in nets),
            "patterns_missing_evidence": self.patterns_missing_evidence,
            "n_scaled": sum(r.scaled for r in nets),
            "n_nearly_minimal": sum(r.nearly_minimal[grouping] for r in nets),
            "n_in_optimal_set": (None if self.reference.optimal_set is None
                                 else sum(bool(r.in_optimal_set) for r in nets)),
            "fraction_in_optimal_set": (None if self.reference.optimal_set is None or not nets
                                        else sum(bool(r.in_optimal_set) for r in nets) / len(nets)),
            "n_phi_certified": sum(bool(r.phi_certificate is not None
                                        and r.phi_certificate.certified) for r in nets),
            "verify_tol": self.tol,
            "reach_tol": self.reach_tol,
        })
        rec.update(self.seconds)
        rec["warnings"] = list(self.warnings)
        return rec


def verify_networks(ref: ConvexReference, networks: Iterable[ReLUNetwork | TrainingResult], *,
                    tol: float = DEFAULT_TOL, reach_tol: float = REACH_TOL,
                    certify_tol: float = 1e-6) -> VerificationReport:
    """:func:`verify_network` for each network; raises :class:`OptimalityViolation` on the first
    network below the valid lower bound."""
    for name, v in (("tol", tol), ("reach_tol", reach_tol), ("certify_tol", certify_tol)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise InputError(f"{name} must be finite and > 0, got {v!r}")
    t0 = time.perf_counter()
    reports = tuple(verify_network(ref, net, tol=tol, reach_tol=reach_tol, certify_tol=certify_tol)
                    for net in networks)
    return VerificationReport(ref, reports, tol, reach_tol,
                              {**ref.seconds, "verify_seconds": time.perf_counter() - t0})


def verify_training(
    problem: Problem,
    width: int,
    seeds: int | Sequence[int] = 4,
    *,
    patterns: Patterns | None = None,
    method: str = "auto",
    n_samples: int | None = None,
    pattern_seed: int = 0,
    strategy: str = "auto",
    solver: str = DEFAULT_SOLVER,
    solver_tol: float | None = None,
    train_method: str = TRAIN_DEFAULT,
    train_options: dict | None = None,
    tol: float = DEFAULT_TOL,
    reach_tol: float = REACH_TOL,
    build_optimal_set: bool = True,
    on_result: Callable[[TrainingResult], object] | None = None,
) -> VerificationReport:
    """The whole comparison: patterns → convex program → optimal set → trained nets → report.

    Parameters
    ----------
    problem : Problem
    width : int
        Width m of the trained networks.
    seeds : int or sequence of int
        Training seeds (an int K means 0..K-1).
    patterns : Patterns, optional
        Default ``enumerate_patterns(X, method, n_samples=n_samples, seed=pattern_seed)``.
    solver, solver_tol : convex solver and its tolerance.
    strategy : {"auto", "full", "working-set"}
        How the convex program is solved (:data:`hiddenconvex.api.STRATEGIES`).
    train_method : {"lbfgs-kinks", "lbfgs", "gd", "adam"}
        Default ``lbfgs-kinks`` (L-BFGS, then L-BFGS on the kink manifold: reaches optima
        where neurons sit on kinks, see :mod:`hiddenconvex.training`).
    train_options : dict, optional
        Keyword arguments of :func:`hiddenconvex.training.train` (``max_iter``, ``init_scale``...).
    tol, reach_tol : see :func:`verify_network`.
    on_result : callable, optional
        Called with each :class:`TrainingResult` as it completes (progress bars at the edge).

    Returns
    -------
    VerificationReport
    """
    from .api import solve

    if train_method not in TRAIN_METHODS:
        raise InputError(f"unknown training method {train_method!r}; "
                         f"choose one of {', '.join(TRAIN_METHODS)}")
    result = solve(problem, patterns=method if patterns is None else patterns,
                   n_samples=n_samples, seed=pattern_seed, solver=solver, tol=solver_tol,
                   strategy=strategy)
    t_pat = result.seconds.get("patterns_seconds", 0.0)
    ref = reference_of(result, build_optimal_set=build_optimal_set)
    t1 = time.perf_counter()
    results = train_many(problem, width, seeds, train_method, on_result=on_result,
                         **(train_options or {}))
    t_train = time.perf_counter() - t1
    report = verify_networks(ref, results, tol=tol, reach_tol=reach_tol)
    seconds = {"patterns_seconds": t_pat, **report.seconds, "train_seconds": t_train}
    return dataclasses.replace(report, seconds=seconds)
