"""The numerical tolerances of the package, each named and documented in this one place.

The thresholds the package's computations compare against live here, grouped by topic, each with
a line saying what it guards against; modules import them by name instead of writing literals.
Values are relative (to the scale named in the comment) unless stated; iteration limits that bound
the same computations are kept with them. The optimal-set modules (``optimal_set``, ``_polish``,
``_polytope``) take every threshold from here; other modules add their section as they move theirs.

Sections
--------
* Optimal set — the defaults of :class:`hiddenconvex.optimal_set.Tolerances` (SPEC §4.11) and the
  fixed thresholds of :func:`hiddenconvex.optimal_set.optimal_set`.
* Pruning — :func:`hiddenconvex.optimal_set.prune` and the pruning of a point of 𝒫.
* Polish — the active-set Newton polish of (ŷ, λ) on the KKT system (``_polish``).
* Polytope — LPs, support checks and the MILP for m* on 𝒫 = {a ≥ 0 : Za = ŷ*} (``_polytope``).
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------------------------------
# Optimal set: defaults of optimal_set.Tolerances (documented field by field there)

#: E from the solver's (unpolished) dual: ``‖Π_b‖ >= β(1 − ·)``; an interior-point dual is only
#: accurate to about the solver tolerance, so a block's correlation deficit at 1e-6 is noise.
SET_EQUICORRELATION = 1e-6
#: E from the polished dual (correlations accurate to ~1e-14): keeps blocks whose direction is
#: δ ≳ 1e-6 away from an optimal one (deficit ~δ²) out of E.
SET_POLISHED = 1e-12
#: Directions closer than this (unit vectors) are one candidate; a neuron matches a candidate.
SET_DIRECTION = 1e-6
#: A prediction equals ŷ* within ``· max(1, ‖ŷ*‖)``: membership, the residual of the reference
#: prediction in cone(Z) (a larger one means the solver was not accurate enough), and the support
#: checks when ŷ* is not polished.
SET_FIT = 1e-6
#: A support fits a polished ŷ* within ``· max(1, ‖ŷ*‖)``: a cone missing ŷ* by more (e.g. a
#: 19-neuron support off by 1.9e-7 on iris_pca2) is not a point of 𝒫.
SET_SUPPORT = 1e-10
#: A neuron is balanced when ``| ‖u‖ − |α| | <= · max(‖u‖, |α|)``.
SET_BALANCE = 1e-6
#: Singular values ``<= · σ_max`` count as zero (independence of candidate fits, pruning).
SET_RANK = 1e-8
#: A coefficient is positive when ``a_k > · Σa`` (LP and least-squares rounding of zeros).
SET_ACTIVE = 1e-7
#: Certified when ``M(λ) <= β(1 + ·)`` (the solver's dual feasibility to its own tolerance).
SET_CERTIFICATE = 1e-6

# --------------------------------------------------------------------------------------------------
# Optimal set: fixed thresholds of optimal_set()

#: Warn that E is ambiguous when the margin of the closest excluded block is below this many
#: times the E tolerance (an excluded block that close may belong to E at the exact optimum).
SET_MARGIN_FACTOR = 100
#: Warn when the NNLS coefficients of ŷ* miss the exact mass λᵀŷ/β by more than
#: ``· max(1, λᵀŷ/β)`` (ŷ and λ inconsistent: the reported polytope is suspect).
SET_MASS_CHECK = 1e-6
#: Floor of Σa in the threshold ``active · Σa`` (and of the MILP's big-M scale): keeps the
#: threshold positive when Σa = 0 so that an exact zero is never "positive".
SET_MASS_FLOOR = 1e-300

# --------------------------------------------------------------------------------------------------
# Pruning (prune, and the pruned vertex that bounds m* from above)

#: prune's default rank tolerance: fits with ``σ_min <= · σ_max`` are linearly dependent.
PRUNE_RANK = 1e-8
#: A pruning direction may raise the regularizer by ``· Σ‖w_b‖`` (the rounding of a null
#: vector that keeps it exactly at an optimum); the pruned point of 𝒫 uses no limit (inf).
PRUNE_NEUTRAL = 1e-12
#: Scale factors ``1 − c_b/c_k`` within this of 0 are set to 0: blocks tied with the leaving one
#: leave together instead of surviving as rounding-sized remnants.
PRUNE_TIE = 1e-12

# --------------------------------------------------------------------------------------------------
# Polish: active-set Newton on the KKT system of the restricted program

#: The polish starts from the blocks with ``‖w_b‖ > · max‖w‖``: an interior-point solver leaves
#: every block slightly nonzero, the active ones are far above this.
POLISH_START_SUPPORT = 1e-5
#: A restricted KKT solve counts when its scaled residual is at most this (else the support is
#: inconsistent and its weakest candidate is dropped).
POLISH_RESIDUAL = 1e-12
#: Dual feasibility of the polished point, ``M(λ) <= β(1 + ·)``: a block above it is added to the
#: support (tests/tolerances.py bounds the polished gap with it).
POLISH_FEASIBILITY = 1e-10
#: ŷ must lie in the cone of the equicorrelated fits to ``· max(1, ‖ŷ‖)`` (NNLS residual): the
#: KKT certificate of the full program.
POLISH_CONE = 1e-10
#: Directions closer than this are one candidate in the restricted system in the first round (the
#: solver's λ separates blocks sharing a face by ~its tolerance), and a violated block this close
#: to a candidate replaces it.
POLISH_MERGE = 1e-3
#: Add/drop rounds before giving up (then E falls back to the solver's dual).
POLISH_ROUNDS = 60
#: Face of a direction s: the rows with ``|x_jᵀs| <= · ‖x_j‖`` (s sits on them up to rounding).
POLISH_FACE = 1e-9
#: Rank rule of the face rows: singular values ``<= · σ_max`` are zero (their null space is the
#: face; the rows are exact data, so only rounding-sized values are dropped).
POLISH_FACE_RANK = 1e-12
#: Newton stops at a residual norm this small (machine precision of the scaled system).
NEWTON_RESIDUAL = 1e-15
#: Backtracking gives up below this step length (no descent: the support is wrong).
NEWTON_MIN_STEP = 1e-4
#: Newton iterations per restricted solve (quadratic convergence needs a handful).
NEWTON_MAX_ITER = 25

# --------------------------------------------------------------------------------------------------
# Polytope: NNLS, LPs and the MILP for m*

#: scipy's NNLS iteration cap is ``· max(K, NNLS_MIN_COLUMNS)`` (its default, 3K, can stop short
#: of the active set on degenerate cones).
NNLS_ITER_PER_COLUMN = 50
#: See NNLS_ITER_PER_COLUMN: the cap never drops below that of this many columns.
NNLS_MIN_COLUMNS = 10
#: Relative inflation of the MILP's big-M ``U_k = max_{a∈𝒫} a_k``: the LP maxima are HiGHS's
#: (feasibility ~1e-7 relative), so a bound a hair too small must not cut off a true point.
MILP_BIG_M_RELATIVE = 1e-6
#: Absolute inflation of the big-M, ``· max_k U_k``: a candidate whose LP maximum rounds to 0 may
#: still take a rounding-sized coefficient.
MILP_BIG_M_ABSOLUTE = 1e-12
#: The MILP's dual bound (a float ≈ an integer) is rounded up after subtracting this, so that
#: 3.0000001 proves m* >= 3, not 4.
MILP_BOUND_ROUNDING = 1e-6
#: Relative MIP gap: 0 asks HiGHS to prove the minimum support size.
MILP_REL_GAP = 0.0


@dataclass(frozen=True)
class Tolerances:
    """Relative tolerances (SPEC §4.11).

    Defaults: the ``SET_*`` constants above. Also importable as
    ``hiddenconvex.optimal_set.Tolerances``.

    Attributes
    ----------
    equicorrelation : block ``b`` is in E iff ``‖Π_b‖ >= β (1 − equicorrelation)`` when λ is the
        solver's (unpolished) dual.
    polished : the same threshold after the Newton polish of (ŷ, λ) (correlations accurate to
        ~1e-14). Near its maximizer a block's correlation is quadratic in the direction, so a
        block whose direction is δ away from an optimal one has a deficit ~δ²: 1e-12 keeps such
        near-misses (δ ≳ 1e-6) out of E; the margin to the closest excluded block is reported.
    direction : candidates are merged, and a neuron matches candidate ``k``, when
        ``‖u/‖u‖ − s_k‖ <= direction``.
    fit : a prediction equals ŷ* when ``‖f − ŷ*‖ <= fit · max(1, ‖ŷ*‖)``; also the residual
        threshold of the support checks (vertices, m*) when ŷ* is not polished.
    support : with a polished ŷ*, the residual threshold ``support · max(1, ‖ŷ*‖)`` of the support
        checks (vertices, m*, pruning): a support counts only if its cone contains ŷ* to this
        accuracy (``fit`` is used instead when the polish failed).
    balance : a neuron is balanced when ``| ‖u‖ − |α| | <= balance · max(‖u‖, |α|)``.
    rank : singular values ``<= rank · σ_max`` count as zero (independence of fits, pruning).
    active : a coefficient is positive when ``a_k > active · Σa``.
    certificate : the solution is certified when ``M(λ) <= β (1 + certificate)``.
    """

    equicorrelation: float = SET_EQUICORRELATION
    polished: float = SET_POLISHED
    direction: float = SET_DIRECTION
    fit: float = SET_FIT
    support: float = SET_SUPPORT
    balance: float = SET_BALANCE
    rank: float = SET_RANK
    active: float = SET_ACTIVE
    certificate: float = SET_CERTIFICATE


def nnls_maxiter(columns: int) -> int:
    """Iteration cap of scipy's NNLS for a matrix with ``columns`` columns (see above)."""
    return NNLS_ITER_PER_COLUMN * max(columns, NNLS_MIN_COLUMNS)
