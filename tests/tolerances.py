"""Tolerances of the tests, each derived from what the method guarantees (issue 12).

Three kinds of error bound the tests use, so that a test passes on any machine with the pinned
versions and fails only when a promise is broken:

Rounding
    A quantity computed in floating point from values of magnitude ``scale`` with ``k`` operations
    in sequence (a dot product of length k, a sum of k terms) has error at most
    ``k * eps * scale`` (Higham, γ_k = k u/(1 − k u) with u = eps/2, doubled because two such
    computations are usually compared). :func:`rounding` returns that bound. A difference of two
    rounded O(s) numbers (e.g. a duality gap ``primal − lower_bound``) carries
    ``rounding(s, k)`` of both; it can round to 0 or below even when the true value is positive.

An interior-point solve (Clarabel, ECOS) ending ``optimal`` at tolerance τ
    Its stopping test bounds the duality gap by ``τ max(1, |P|)`` (absolute or relative test) and
    the primal and dual residuals by ``τ (1 + N)`` with ``N`` the ∞-norms of the data and iterate
    (Clarabel: ``‖Ax + s − b‖∞ ≤ τ max(1, ‖b‖∞ + ‖x‖∞ + ‖s‖∞)``; ECOS alike in 2-norms, which
    bound the ∞-norms); its iterates lie inside the cones. Weak duality with these residuals gives

        |P̂ − P*| ≤ gap + ‖r_p‖∞ ‖y*‖₁ + ‖r_d‖∞ ‖x*‖₁ ≤ τ (max(1, |P|) + (1 + N)(‖x*‖₁ + ‖y*‖₁))

    for P̂ the objective at the returned point (cvxpy's value or ``objective()`` of the weights:
    both are the convex objective at a point that violates the linear constraints by the
    residual). The norms belong to the problem, not the machine: for the closed-form reference
    problems (tests/reference_problems.py; |data| ≤ 4, β ≤ 3.5, weights ≤ 3.5, P ≤ 6.5)
    ``1 + N ≤ 20`` and the conic solutions have ``‖x*‖₁ ≤ 11``, ``‖y*‖₁ ≤ 34`` (as SCS reports
    them, :attr:`ConvexSolution.solver_accuracy`), so the residual term is ≤ 900 τ:
    :data:`IP_REFERENCE` = 1e3. For the small random problems of the tests (n ≤ 12, standard
    normal data and targets, β ≤ β_max) ``1 + N ≤ 30``, ``‖x*‖₁ ≤ 30``, ``‖y*‖₁ ≤ 135``:
    ≤ 5e3 τ, :data:`IP_RANDOM` = 1e4.

A first-order solve (SCS)
    SCS's status only says whether its own stopping test passed; the accuracy it reached is what
    it reports (:attr:`ConvexSolution.solver_accuracy`: absolute residuals ``‖Ax + s − b‖∞``,
    ``‖Px + Aᵀy + c‖∞``, the gap ``|pobj − dobj|`` and the 1-norms of its x, y). For a convex
    conic program (quadratic objective allowed) with s ∈ K, y ∈ K* exactly (SCS projects onto
    the cones):

        pobj − P* ≤ gap + ‖r_d‖∞ ‖x*‖₁        (convexity at x, weak duality with s* ∈ K)
        P* − pobj ≤ ‖r_p‖∞ ‖y*‖₁               (Lagrangian at an optimal y*)

    and the objective of the weights differs from pobj by the multipliers times the residual
    (≤ ‖y‖₁ ‖r_p‖∞ to first order). :func:`scs_error` replaces ‖x*‖₁, ‖y*‖₁ by twice SCS's
    ‖x‖₁, ‖y‖₁ (x*, y* are within the residual-sized distance of the iterate, far below its norm
    at the accuracies used here) and adds both terms.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: Residual factor of an interior-point solve on the closed-form reference problems (see above).
IP_REFERENCE = 1e3
#: Residual factor of an interior-point solve on the small random problems of the tests.
IP_RANDOM = 1e4
#: Tolerances each solver reaches with margin on the reference problems (status ``optimal``):
#: Clarabel reaches 1e-12 on every one of them, so 1e-10 has two orders of margin; ECOS stalls
#: at relative gap 7.5e-10 on O9_zero (1e-10 ends ``optimal_inaccurate``), so 1e-8, a factor 13
#: above its floor; SCS's primal residual stalls near 1e-9 on O8 (1e-10 runs into its
#: 100,000-iteration limit, ``optimal_inaccurate``) while at 1e-8 every problem converges in
#: ≤ 150 iterations.
REACHABLE = {"clarabel": 1e-10, "ecos": 1e-8, "scs": 1e-8}


def rounding(scale, k: int = 16) -> float:
    """Rounding bound ``k · eps · max(1, |scale|)`` of a k-operation computation of size scale."""
    return k * EPS * max(1.0, float(np.max(np.abs(scale))))


def scs_error(sol) -> float:
    """Bound on |P̂ − P*| from the accuracy SCS reports for ``sol`` (see the module docstring)."""
    acc = sol.solver_accuracy
    assert sol.solver == "scs" and acc is not None, "SCS reports its residuals"
    return float(acc["gap"] + 2.0 * (acc["dual_residual"] * acc["primal_norm"]
                                     + acc["primal_residual"] * acc["dual_norm"]))


def no_solver_ran(sol) -> bool:
    """The program returned W = 0 without a solver (trivial program, or β ≥ β_max): exact."""
    return sol.iterations == 0 and sol.solver_accuracy is None and not np.any(sol.weights.W)


def solve_error(sol, factor: float = IP_RANDOM) -> float:
    """Bound on |P̂ − P*| for a solve of the convex program, for both ``sol.objective.total`` and
    ``sol.solver_objective`` (P* the optimum of the program on ``sol.patterns``).

    Interior point: ``factor · τ · max(1, |P|)`` (``factor``: :data:`IP_REFERENCE` or
    :data:`IP_RANDOM`, see the module docstring), valid only for status ``optimal`` (asserted).
    SCS: :func:`scs_error`, valid for any status. Both plus the rounding of P (a sum of
    n + 2p terms). A solution for which no solver ran (W = 0 exactly: a trivial program, or
    β ≥ β_max) carries the rounding only.
    """
    P = abs(sol.objective.total)
    k = 4 * (sol.problem.n + 2 * sol.patterns.p)
    if no_solver_ran(sol):
        return rounding(P, k)
    if sol.solver == "scs":
        return scs_error(sol) + rounding(P, k)
    assert sol.status == "optimal", (sol.solver, sol.status, sol.warnings)
    return factor * sol.tol * max(1.0, P) + rounding(P, k)


def feasibility_error(sol, factor: float = 20.0) -> float:
    """Bound on the absolute violation of the program's linear constraints by the solver's point.

    SCS: its reported ``‖Ax + s − b‖∞`` (s ∈ K exactly, so each cone row is ≥ −residual).
    Interior point: ``τ (1 + N)`` with ``1 + N ≤ factor`` (20 for the reference problems, see the
    module docstring). Plus the rounding of ``X w`` (d-term dot products of size ‖X‖ ‖w‖).
    """
    Xn = float(np.abs(sol.problem.X).max(initial=0.0))
    Wn = float(np.abs(sol.weights.W).max(initial=0.0))
    r = rounding(Xn * Wn, 4 * sol.problem.d)
    if no_solver_ran(sol):
        return 0.0  # W = 0 is feasible exactly
    if sol.solver == "scs":
        return float(sol.solver_accuracy["primal_residual"]) + r
    assert sol.status == "optimal", (sol.solver, sol.status, sol.warnings)
    return factor * sol.tol + r


# ------------------------------------------------------------------------------------------------
# Bounds from a certificate (solver-independent): a valid lower bound LB ≤ P* and a FEASIBLE point
# W′ with P(W′) ≥ P* give P(W′) − P* ≤ P(W′) − LB. For a feasible W and λ* the optimal dual,
#
#     P(W) − P* = [ℓ(ŷ) − ℓ(ŷ*) + λ*ᵀ(ŷ − ŷ*)] + Σ_b (β‖w_b‖ − λ*ᵀ γ_b D_b X w_b)
#
# (Fenchel; both brackets are ≥ 0 because w_b ∈ C_b gives λ*ᵀγ_b D_b X w_b ≤ ‖Π_{C_b}(γ_b X^T D_b
# λ*)‖ ‖w_b‖ ≤ β‖w_b‖). So (i) the loss's Bregman term is ≤ e: ‖ŷ − ŷ*‖ ≤ sqrt(2e/μ) for a
# μ-strongly convex loss; (ii) Σ_b (β − corr_b(λ*)) ‖w_b‖ ≤ e: blocks that are not
# equicorrelated at λ* carry weight ≤ e/(β − corr_b).


def project_blocks(weights, X):
    """Each block of ``weights`` projected onto its cone {w : (2D − I) X w ≥ 0} (nonzero rows).

    The projection (:func:`hiddenconvex.certificate.project_cone`, exact up to rounding) makes a
    solver's point feasible, so that its objective is an upper bound on P*.
    """
    from hiddenconvex.blocks import BlockWeights
    from hiddenconvex.certificate import project_cone

    X = np.asarray(X, dtype=float)
    nz = np.any(X != 0, axis=1)
    p = weights.D.shape[1]
    W = np.array(weights.W, dtype=float)
    for b in range(2 * p):
        if np.any(W[b] != 0):
            A = np.where(weights.D[nz, b % p], 1.0, -1.0)[:, None] * X[nz]
            W[b] = project_cone(W[b], A)
    return BlockWeights(W, weights.D)


def certified_excess(problem, weights, lower_bound):
    """(e, W′): W′ = :func:`project_blocks` of ``weights`` and a rigorous e ≥ P(W′) − P*, namely
    P(W′) − LB (``lower_bound`` ≤ P*, e.g. a certificate's) plus the rounding of both
    (O(P) sums of n + 2p terms, and the scaling t of LB, which rounds relative to it)."""
    from hiddenconvex import objective

    Wp = project_blocks(weights, problem.X)
    P = objective(problem, Wp).total
    k = 16 * (problem.n + 2 * weights.D.shape[1])
    return max(P - lower_bound, 0.0) + rounding(max(abs(P), abs(lower_bound)), k), Wp


def prediction_error(problem, weights, lower_bound) -> float:
    """Rigorous bound on ‖ŷ − ŷ*‖ for the prediction of ``weights`` (squared or logistic loss):
    ‖ŷ − ŷ′‖ (the projection W′ moves it) + sqrt(2e/μ) from (i) with e of :func:`certified_excess`.
    Logistic: μ = min ℓ'' on the ball of radius r ≤ 1 around ŷ′ (ℓ''(z) = σ(z)(1 − σ(z)) ≥
    σ′(‖ŷ′‖∞ + 1)); asserted to be self-consistent (r ≤ 1).
    """
    e, Wp = certified_excess(problem, weights, lower_bound)
    X = problem.X
    yp = Wp.predict(X)
    moved = float(np.linalg.norm(weights.predict(X) - yp))
    if problem.loss.name == "squared":
        mu = 1.0
    else:
        assert problem.loss.name == "logistic", "strictly convex loss needed"
        z = float(np.abs(yp).max(initial=0.0)) + 1.0
        s = 1.0 / (1.0 + np.exp(-z))
        mu = s * (1.0 - s)
    r = float(np.sqrt(2.0 * e / mu))
    assert problem.loss.name == "squared" or r <= 1.0, r
    return moved + r + rounding(yp, 4 * X.shape[1] * weights.W.shape[0])


def certified_gap(cert) -> float:
    """The largest gap a certified certificate allows: ``gap_tol`` times its scale (ℓ(0), the
    loss of the zero network, when the certificate has one; else max(1, |primal|))."""
    scale = getattr(cert, "scale", None)
    return cert.gap_tol * (scale if scale is not None else max(1.0, abs(cert.primal)))


def cone_factor(problem, patterns) -> float:
    """How much more than its facet rows a chamber cone's other rows can be violated.

    The program describes each cone by its facet rows only (``ConvexProgram.facets``); every other
    nonzero row a_j of pattern k is a nonnegative combination a_j = F_k^T c of the facet rows
    (Farkas: it is implied by them), so a point violating the facet rows by v violates a_j by at
    most ‖c‖₁ v. Returns max(1, max_{k, j} ‖c‖₁) (NNLS for c; exact up to rounding).
    """
    from scipy.optimize import nnls

    from hiddenconvex.convex_program import ConvexProgram

    X = problem.X
    facets = ConvexProgram(problem, patterns).facets
    nz = np.any(X != 0, axis=1)
    worst = 1.0
    for k in range(patterns.p):
        A = np.where(patterns.D[:, k], 1.0, -1.0)[:, None] * X
        F = A[facets[:, k]]
        for j in np.flatnonzero(nz & ~facets[:, k]):
            c, res = nnls(F.T, A[j])
            assert res <= 1e-9 * np.linalg.norm(A[j]), "a non-facet row must be implied"
            worst = max(worst, float(c.sum()))
    return worst


def record_error(rec: dict, factor: float = IP_REFERENCE, digits: int | None = None) -> float:
    """:func:`solve_error` from a solve's record (``ConvexSolution.to_record()``, the ``solve``
    CLI's JSON or table); ``digits``: the values were printed with that many significant digits
    (``%.10g`` in the CLI table: relative rounding 5·10^-digits of each printed value)."""
    P = abs(float(rec["objective"]))
    printed = 0.0 if digits is None else 5.0 * 10.0 ** -digits
    k = 4 * (int(rec["n"]) + 4 * int(rec["num_patterns"]))
    if rec["solver"] == "scs":
        acc = {key: float(rec[f"solver_{key}"]) * (1 + printed)
               for key in ("gap", "primal_residual", "dual_residual", "primal_norm", "dual_norm")}
        err = acc["gap"] + 2 * (acc["dual_residual"] * acc["primal_norm"]
                                + acc["primal_residual"] * acc["dual_norm"])
    else:
        assert rec["status"] == "optimal", rec["status"]
        err = factor * float(rec["tol"]) * max(1.0, P)
    return err + rounding(P, k) + printed * P


# ------------------------------------------------------------------------------------------------
# The polished optimal set (hiddenconvex.optimal_set): its objective is L_β of an exact network θ*
# (so ≥ P_c) and its lower bound is the weak-duality bound of the polished dual point (≤ P_c), so
# P_c lies in [S.lower_bound, S.objective] up to their rounding, whatever the solver was.


def _mu_lip(loss_name: str, yhat) -> tuple[float, float]:
    """(μ, L): strong convexity on the ball of radius 1 around ŷ and smoothness of the loss."""
    if loss_name == "squared":
        return 1.0, 1.0
    assert loss_name == "logistic", loss_name
    s = 1.0 / (1.0 + np.exp(-(float(np.abs(yhat).max(initial=0.0)) + 1.0)))
    return s * (1.0 - s), 0.25


def set_bounds(S) -> dict:
    """Rigorous bounds of a polished optimal set ``S`` (squared or logistic loss):

    ``excess`` ≥ L(θ*) − P_c (θ* = ``S.minimal_network()``, L(θ*) = ``S.objective``): S.gap plus the
    rounding of both ends; ``objective`` ≥ |S.objective − P_c| and ``lower_bound`` ≥
    |S.lower_bound − P_c| (both = excess); ``yhat`` ≥ ‖S.yhat − ŷ*‖: θ* corresponds (φ) to feasible
    convex blocks with its prediction and objective ≤ L(θ*), so by strong convexity
    ‖f_θ*(X) − ŷ*‖ ≤ sqrt(2 excess/μ), plus ‖S.yhat − f_θ*(X)‖; ``dual`` ≥ ‖S.dual − λ*‖
    (λ = −∇ℓ(ŷ) is L-Lipschitz in ŷ: L = 1 squared, 1/4 logistic).
    """
    assert S.polished, "the bounds need the polished (exact-to-rounding) set"
    prob = S.problem
    net = S.minimal_network()
    f = net.predict(prob.X)
    k = 16 * (prob.n + net.width + S.num_candidates)
    excess = max(S.gap, 0.0) + rounding(max(abs(S.objective), abs(S.lower_bound)), k)
    mu, lip = _mu_lip(prob.loss.name, f)
    r = float(np.sqrt(2.0 * excess / mu))
    assert r <= 1.0, r  # inside the ball μ is valid on
    dy = r + float(np.linalg.norm(S.yhat - f)) + rounding(f, k)
    return {"excess": excess, "objective": excess, "lower_bound": excess, "yhat": dy,
            "dual": lip * dy}


def network_error(S, net) -> float:
    """Bound on L(θ) − P_c for a network θ that ``S.contains`` (polished S, strictly convex loss).

    With λ = ``S.dual`` (= −∇ℓ(ŷ), ŷ = ``S.yhat``), f = f_θ(X), mass = Σ‖u_i‖|α_i| and R the
    regularization ½Σ(‖u_i‖² + α_i²):
    L(θ) = ℓ(f) + βR ≤ [ℓ(ŷ) − λ^T(f − ŷ) + ½ L‖f − ŷ‖²] + β(R − mass) + [β mass − λ^T f] + λ^T f,
    i.e. L(θ) − D(λ) ≤ ½ L‖f − ŷ‖² + β(R − mass) + (β mass − λ^T f), with D(λ) = ℓ(ŷ) + λ^T ŷ the
    dual value (≤ LB + [D(λ) − LB], LB ≤ P_c). Membership bounds each term by the set's
    :class:`~hiddenconvex.optimal_set.Tolerances`: ‖f − ŷ‖ ≤ fit·max(1, ‖ŷ‖); each neuron
    balanced to ``balance`` (R − mass ≤ balance²·R); its direction within ``direction`` of a
    candidate s_k whose correlation λ^T z_k is ≥ β(1 − polished) (E; ``equicorrelation`` for an
    unpolished set), and u ↦ λ^T σ(Xu) is
    ‖X‖₂‖λ‖-Lipschitz, so β mass − λ^T f ≤ (β·polished + ‖X‖₂‖λ‖·direction)·mass. Plus the
    rounding of L(θ) and LB.
    """
    tol, prob = S.tolerances, S.problem
    lam, yh = S.dual, S.yhat
    _, lip = _mu_lip(prob.loss.name, yh)
    mass = float(np.sum(np.linalg.norm(net.U, axis=1) * np.abs(net.alpha)))
    R = net.regularization()
    beta = prob.beta
    dual_value = prob.loss.value(yh, prob.y) + float(lam @ yh)
    fit = tol.fit * max(1.0, float(np.linalg.norm(yh)))
    defects = (0.5 * lip * fit**2 + beta * tol.balance**2 * R
               + (beta * (tol.polished if S.polished else tol.equicorrelation)
                  + np.linalg.norm(prob.X, 2) * np.linalg.norm(lam)
                  * tol.direction) * mass)
    value = abs(dual_value) + beta * R
    return (max(dual_value - S.lower_bound, 0.0) + defects
            + rounding(max(value, abs(S.lower_bound)), 16 * (prob.n + net.width)))


def polished_gap_bound(S) -> float:
    """Bound on ``S.gap`` = L(θ*) − LB that the polish guarantees (squared loss).

    With a* = ``S.m_star_coefficients``, r = ‖Z a* − ŷ‖ and λ = y − ŷ: L(θ*) − D(λ) =
    ℓ(Za*) − ℓ(ŷ) − λ^T ŷ + βΣa* = ½r² + Σ_k a*_k (β − λ^T z_k) ≤ ½r² + polished·βΣa* (every
    candidate is in E); LB = max_t D(tλ) over t ≤ β/M with M ≤ β(1 + _POLISH_FEAS) (the polish
    adds every block above that), and D(tλ) = tλ^T y − t²‖λ‖²/2 has slope ≤ |λ^T y| + ‖λ‖² on
    [0, 1], so D(λ) − LB ≤ _POLISH_FEAS (|λ^T y| + ‖λ‖²). Plus the rounding of both.
    """
    from hiddenconvex.optimal_set import _POLISH_FEAS

    prob = S.problem
    assert S.polished and prob.loss.name == "squared"
    lam, a = S.dual, S.m_star_coefficients
    r = float(np.linalg.norm(S.fits @ a - S.yhat))
    k = 16 * (prob.n + S.num_candidates)
    return (0.5 * r**2 + S.tolerances.polished * prob.beta * float(a.sum())
            + _POLISH_FEAS * (abs(float(lam @ prob.y)) + float(lam @ lam))
            + rounding(max(abs(S.objective), abs(S.lower_bound)), k))


def vertex_distance_bound(Z, yhat, x, support) -> float:
    """Bound on ‖x − v‖ for the point v of {a ≥ 0 : Za = ŷ} supported on ``support`` (independent
    columns, so v is unique): Z_S (x_S − v_S) = (Zx − ŷ) − Z_{¬S} x_{¬S}, hence
    ‖x − v‖ ≤ ‖x_{¬S}‖ + ‖Z_S^+‖ (‖Zx − ŷ‖ + ‖Z_{¬S}‖ ‖x_{¬S}‖), plus the rounding of v
    (a backward-stable solve: κ(Z_S) eps ‖v‖)."""
    S = np.asarray(support)
    rest = np.setdiff1d(np.arange(Z.shape[1]), S)
    sv = np.linalg.svd(Z[:, S], compute_uv=False)
    pinv = 1.0 / sv[-1]
    off = float(np.linalg.norm(x[rest]))
    res = float(np.linalg.norm(Z @ x - yhat))
    zr = float(np.linalg.norm(Z[:, rest], 2)) if rest.size else 0.0
    kappa = sv[0] * pinv
    return off + pinv * (res + zr * off) + kappa * rounding(np.linalg.norm(x), 16 * Z.shape[0])
