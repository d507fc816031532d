"""Validity and exactness of the anytime upper bound on M(λ) (hiddenconvex.bounds, issue 14).

Reference: the exact M(λ) of the package — all chambers enumerated
(:func:`hiddenconvex.patterns.exact_chambers`) and one NNLS cone projection per chamber and sign
(:func:`hiddenconvex.certificate.max_correlation`): an independent method (no branch-and-bound,
no interpolation, no relaxation).

Tolerances (derived, not tuned):
* validity: every reported upper includes the rounding allowance 16·eps·lip·(n + r + 1)
  (lip = ‖c‖ + Σ|λ_j|‖x_j‖), far above the float error of the reference itself (a projection
  norm, relative error ~1e-15), so ``upper >= M_ref`` is asserted with NO tolerance;
* exactness: a completed search prunes at best·(1 + rtol), rtol = 1e-12, and adds the margin,
  so |upper − M|/M <= 1e-12 + margin/M: below the 1e-9 required by the issue whenever
  margin/M < 1e-9 (asserted first, at 5e-10, so a failure says which part is off);
* lower estimate: ``best`` is a float evaluation of |λ^T σ(Xu)| at a unit u; a dot product of n
  terms is within (n + d)·eps·Σ|λ_j||x_j^T u| of its exact value, and M_ref is as accurate,
  hence best <= M_ref + 2 (n + d) eps lip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hiddenconvex._bounds_form import _normal_form, _quadratic_bound
from hiddenconvex.bounds import local_ascent, upper_bound
from hiddenconvex.certificate import block_correlations, max_correlation, project_cone
from hiddenconvex.errors import InputError
from hiddenconvex.patterns import exact_chambers

EPS = np.finfo(float).eps
DATA = Path(__file__).resolve().parents[1] / "data"


def exact_M(X, lam):
    return float(max_correlation(X, lam, exact_chambers(X)))


def lip(X, lam):
    """Σ|λ_j|‖x_j‖ (norms of X/max|X|, so that tiny entries do not underflow when squared)."""
    sx, sl = np.abs(X).max(), np.abs(lam).max()
    if sx == 0 or sl == 0:
        return 0.0
    return float((np.abs(lam) / sl) @ np.linalg.norm(X / sx, axis=1)) * sx * sl


def eval_tol(X, lam):
    """Float error of |λ^T σ(Xu)| compared with the reference (module docstring)."""
    return 2 * sum(X.shape) * EPS * lip(X, lam)


def check_valid(res, X, lam, M):
    assert res.upper >= M, (res.upper, M)
    assert len(res.history) >= 2
    times = [h[0] for h in res.history]
    assert times == sorted(times)
    for t, up, best in res.history:
        assert up >= M, (t, up, M)
        assert best <= M + eval_tol(X, lam)
    assert res.history[-1][1] == res.upper and res.history[-1][2] == res.best
    assert res.best <= M + eval_tol(X, lam)
    u = res.direction
    if res.best > 0:  # best is what the direction gives, with the reported sign
        assert abs(np.linalg.norm(u) - 1) < 1e-12
        val = float(np.maximum(X @ u, 0) @ lam)
        assert abs(abs(val) - res.best) <= eval_tol(X, lam)
        assert np.sign(val) == res.sign
    assert res.pattern.shape == (X.shape[0],) and res.pattern.dtype == bool


def check_exact(res, M):
    assert res.status == "exact"
    assert res.open_nodes == 0
    assert res.margin <= 5e-10 * max(M, 1e-300)
    assert abs(res.upper - M) <= 1e-9 * M, (res.upper, M)


def sampled_dual(X, y, beta, n_samples, seed):
    """λ = y − ŷ of a sampled solve (squared loss): a dual point as a solve produces it."""
    from hiddenconvex.convex_program import solve_convex
    from hiddenconvex.objective import Problem

    return solve_convex(Problem.create(X, y, beta), method="sample", n_samples=n_samples,
                        seed=seed, certify=False).dual


def random_case(seed, n, d, rank, lam_kind):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    if lam_kind == "random":
        return X, rng.standard_normal(n)
    y = (np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X @ rng.standard_normal(d), 0)
         + 0.1 * rng.standard_normal(n))
    return X, sampled_dual(X, y, 0.05, 8, seed)


CASES = [
    (0, 12, 1, 1, "random"), (1, 20, 2, 2, "random"), (2, 25, 3, 3, "random"),
    (3, 30, 4, 4, "random"), (4, 40, 6, 3, "random"), (5, 60, 4, 4, "random"),
    (6, 25, 3, 3, "sampled"), (7, 40, 4, 4, "sampled"), (8, 60, 3, 3, "sampled"),
    (9, 50, 5, 4, "sampled"), (10, 8, 10, 4, "random"),
]
_CACHE: dict = {}


def case(spec):
    """Data, λ and exact M of a case, computed once per session."""
    if spec not in _CACHE:
        X, lam = random_case(*spec)
        _CACHE[spec] = (X, lam, exact_M(X, lam))
    return _CACHE[spec]


@pytest.mark.parametrize("spec", CASES)
def test_complete_search_equals_exact_M(spec):
    X, lam, M = case(spec)
    res = upper_bound(X, lam, time_limit=120)
    check_valid(res, X, lam, M)
    check_exact(res, M)
    assert res.rank == np.linalg.matrix_rank(X)


@pytest.mark.parametrize("spec", [CASES[4], CASES[7]])
@pytest.mark.parametrize("opts", [dict(enumerate_rows=0), dict(enumerate_rows=3),
                                  dict(split_margin=0.5), dict(max_orthant_rank=0),
                                  dict(batch=1), dict(quadratic_rank=0),
                                  dict(n_starts=1, n_ascents=0)])  # M found by the tree
def test_complete_search_with_other_options(spec, opts):
    X, lam, M = case(spec)
    res = upper_bound(X, lam, time_limit=120, **opts)
    check_valid(res, X, lam, M)
    check_exact(res, M)


@pytest.mark.parametrize("spec", [CASES[3], CASES[5], CASES[7], CASES[9]])
@pytest.mark.parametrize("node_limit", [0, 30, 300])
def test_valid_when_stopped_by_node_limit(spec, node_limit):
    X, lam, M = case(spec)
    res = upper_bound(X, lam, time_limit=120, node_limit=node_limit, n_ascents=1, n_starts=10)
    check_valid(res, X, lam, M)
    assert res.status in ("node_limit", "exact")
    if res.status == "node_limit":
        assert res.open_nodes > 0 and res.nodes >= node_limit
    else:
        check_exact(res, M)


def test_time_limit_before_the_roots_returns_a_valid_bound():
    X, lam, M = case(CASES[5])
    res = upper_bound(X, lam, time_limit=1e-9, n_starts=1, n_ascents=0)  # weak incumbent
    assert res.status == "time_limit"
    check_valid(res, X, lam, M)
    assert res.nodes == 0  # no root cone was bounded: upper is the bound without the tree,
    # relu(x_j^T u) <= ‖x_j‖ for the rows with λ_j > 0 (resp. < 0), at most Σ|λ_j|‖x_j‖
    assert res.upper <= lip(X, lam) * (1 + 1e-12) + res.margin


def test_target_status_and_pruning():
    X, lam, M = case(CASES[5])
    above = upper_bound(X, lam, time_limit=120, target=1.5 * M)
    check_valid(above, X, lam, M)
    assert above.status == "target"
    assert above.upper <= 1.5 * M * (1 + 1e-12) + above.margin
    full = upper_bound(X, lam, time_limit=120)
    assert above.nodes < full.nodes  # everything below the target was pruned
    below = upper_bound(X, lam, time_limit=120, target=0.5 * M)
    check_valid(below, X, lam, M)
    check_exact(below, M)  # the incumbent exceeds the target: the search proves M itself


def test_deterministic_for_a_seed():
    X, lam, _ = case(CASES[7])
    a = upper_bound(X, lam, node_limit=200, seed=3)
    b = upper_bound(X, lam, node_limit=200, seed=3)
    assert (a.upper, a.best, a.nodes, a.status) == (b.upper, b.best, b.nodes, b.status)
    assert np.array_equal(a.direction, b.direction) and np.array_equal(a.pattern, b.pattern)
    assert [h[1:] for h in a.history] == [h[1:] for h in b.history]


@pytest.mark.parametrize("name", ["iris_pca2", "wine_pca2", "diabetes_pca2",
                                  "breast_cancer_pca2"])
@pytest.mark.parametrize("bias", [False, True])
def test_pca2_sets(name, bias):
    import pandas as pd

    df = pd.read_csv(DATA / f"{name}.csv")
    y = df["y"].to_numpy(float)
    X = df.drop(columns="y").to_numpy(float)
    if bias:
        X = np.column_stack([X, np.ones(len(X))])
    lams = (sampled_dual(X, y, 0.1, 20, 0), np.random.default_rng(1).standard_normal(len(y)))
    chambers = exact_chambers(X)
    for lam in lams:
        M = float(max_correlation(X, lam, chambers))
        early = upper_bound(X, lam, node_limit=20, n_starts=10, n_ascents=1)
        check_valid(early, X, lam, M)
        res = upper_bound(X, lam, time_limit=120)
        check_valid(res, X, lam, M)
        check_exact(res, M)


def test_scaled_data_is_exact():
    """X·2^-700 and λ·2^600 (and 1e-3 / 1e5, not powers of two): same relative accuracy."""
    X0, lam0, _ = case(CASES[2])
    for sx, sl in ((2.0 ** -700, 2.0 ** 600), (1e-3, 1e5)):
        X, lam = X0 * sx, lam0 * sl
        M = exact_M(X, lam)
        res = upper_bound(X, lam, time_limit=60)
        check_valid(res, X, lam, M)
        check_exact(res, M)


def test_duplicate_and_antiparallel_rows_are_merged_exactly():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((10, 3))
    X = np.vstack([B, B[:4], -B[4:7], 2.0 * B[7:9], np.zeros((2, 3))])
    lam = rng.standard_normal(X.shape[0])
    form = _normal_form(X, lam)
    assert form.Z.shape[0] <= 11  # 10 directions (+1: the 2x rows may round differently)
    # the normal form is the same function: compare on random directions
    U = rng.standard_normal((200, 3))
    U /= np.linalg.norm(U, axis=1)[:, None]
    Ur = U @ form.V.T
    f_form = np.maximum(Ur @ form.Z.T, 0) @ form.a + Ur @ form.c
    assert np.allclose(np.maximum(U @ X.T, 0) @ lam, f_form, rtol=0,
                       atol=eval_tol(X, lam))
    M = exact_M(X, lam)
    res = upper_bound(X, lam, time_limit=60)
    check_valid(res, X, lam, M)
    check_exact(res, M)


def test_zero_and_one_signed_duals():
    X = np.random.default_rng(0).standard_normal((5, 3))
    res = upper_bound(X, np.zeros(5), time_limit=5)
    assert res.upper == 0.0 and res.best == 0.0 and res.status == "exact"
    res = upper_bound(np.zeros((4, 2)), np.ones(4), time_limit=5)
    assert res.upper == 0.0 and res.status == "exact"
    # all λ < 0: M^+(λ) = 0 and M = M^+(-λ), attained with sign -1
    X = np.random.default_rng(1).standard_normal((15, 2))
    lam = -np.abs(np.random.default_rng(2).standard_normal(15))
    M = exact_M(X, lam)
    res = upper_bound(X, lam, time_limit=30)
    check_valid(res, X, lam, M)
    check_exact(res, M)
    assert res.sign == -1


def test_best_pattern_is_a_chamber_achieving_the_best_value():
    from scipy.optimize import linprog

    X, lam, _ = case(CASES[7])
    res = upper_bound(X, lam, time_limit=60)
    D = res.pattern
    s = np.where(D, 1.0, -1.0)
    A = s[:, None] * X
    # the closed chamber cone contains the best direction up to the rounding of X u ...
    assert (A @ res.direction).min() >= -1e-12 * np.abs(X).sum(axis=1).max()
    # ... so its block correlation (exact projection) is at least the best value
    p = project_cone(res.sign * X.T @ (D * lam), A)
    assert np.linalg.norm(p) >= res.best * (1 - 1e-9)
    # the witness is strictly inside, and the pattern is a chamber (LP: max t, Au >= t)
    assert (A @ res.witness).min() > 0
    lp = linprog(np.r_[np.zeros(X.shape[1]), -1.0],
                 A_ub=np.column_stack([-A, np.ones(len(A))]), b_ub=np.zeros(len(A)),
                 bounds=[(-1, 1)] * X.shape[1] + [(None, 1)], method="highs")
    assert lp.status == 0 and -lp.fun > 1e-9


def test_violations_are_distinct_violating_chambers():
    X, lam, M = case(CASES[7])
    target = 0.6 * M
    res = upper_bound(X, lam, time_limit=60, target=target, max_violators=10)
    check_valid(res, X, lam, M)
    assert 1 <= len(res.violations) <= 10
    keys = set()
    for vio in res.violations:
        s = np.where(vio.pattern, 1.0, -1.0)
        assert vio.value > target
        assert (s * (X @ vio.witness)).min() > 0  # witness strictly inside the chamber
        # the direction lies in the closed chamber and attains the value there ...
        assert (s * (X @ vio.direction)).min() >= -1e-12 * np.abs(X).sum(axis=1).max()
        assert abs(vio.sign * float(np.maximum(X @ vio.direction, 0) @ lam) - vio.value) \
            <= eval_tol(X, lam)
        # ... so the block (D, sign) violates: exact projection norm >= value > target
        g = vio.sign * X.T @ (vio.pattern * lam)
        assert np.linalg.norm(project_cone(g, s[:, None] * X)) >= vio.value * (1 - 1e-9)
        keys.add((vio.pattern.tobytes(), vio.sign))
    assert len(keys) == len(res.violations)
    vals = [v.value for v in res.violations]
    assert vals == sorted(vals, reverse=True)


def exact_M_plus(X, lam):
    """M^+(λ) = max(0, max over chambers of the γ = +1 block correlations); exactly 0 when no
    λ_j > 0 (every term λ_j relu(.) <= 0), where the NNLS projections would return ~1e-12."""
    if not np.any(lam > 0):
        return 0.0
    P = exact_chambers(X)
    return float(max(0.0, block_correlations(X, lam, P)[:P.p].max()))


@pytest.mark.parametrize("seed,n,d", [(0, 10, 8), (1, 12, 6), (4, 12, 3)])
def test_quadratic_bound_is_valid(seed, n, d):
    """The global quadratic-envelope bound (used above rank 6), against exact M⁺ (n <= 12)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for lam in (rng.standard_normal(n), np.abs(rng.standard_normal(n)),
                rng.standard_normal(n) * (rng.random(n) < 0.5)):
        form = _normal_form(X, lam)
        for s in (1, -1):
            assert _quadratic_bound(form, s) >= exact_M_plus(X, s * lam)
        res = upper_bound(X, lam, quadratic_rank=0, node_limit=0)
        check_valid(res, X, lam, exact_M(X, lam))


def test_local_ascent_is_a_lower_bound():
    X, lam, M = case(CASES[2])
    u, v, s = local_ascent(X, lam, seed=0)
    assert 0 < v <= M + eval_tol(X, lam)
    assert abs(s * float(np.maximum(X @ u, 0) @ lam) - v) <= eval_tol(X, lam)


@pytest.mark.parametrize("kwargs,match", [
    (dict(X=np.ones(3), lam=np.ones(3)), "2-D"),
    (dict(X=np.ones((3, 2)), lam=np.ones(4)), "lam"),
    (dict(X=np.array([[1.0, np.nan]]), lam=np.ones(1)), "X"),
    (dict(X=np.ones((3, 2)), lam=np.array([1.0, np.inf, 0.0])), "lam"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), time_limit=0), "time_limit"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), time_limit=float("nan")), "time_limit"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), node_limit=-1), "node_limit"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), node_limit=2.5), "node_limit"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), target=-1.0), "target"),
    (dict(X=np.ones((3, 2)), lam=np.ones(3), seed=-1), "seed"),
])
def test_bad_inputs_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        upper_bound(**kwargs)


def test_record_carries_method_and_budget():
    X, lam, _ = case(CASES[1])
    rec = upper_bound(X, lam, time_limit=7.0, node_limit=50, seed=2).to_record()
    assert rec["bound_method"] == "simplicial-bb"
    assert (rec["bound_time_limit"], rec["bound_node_limit"], rec["bound_seed"]) == (7.0, 50, 2)
    assert rec["correlation_upper_bound"] >= rec["correlation_best"]


@pytest.mark.slow
def test_iris_sampled_dual_exact():
    """Iris (150 x 4, 1,080,590 chambers) with the dual point of a 300-gate sampled solve (the
    issue's case); the exact M takes minutes."""
    import pandas as pd

    df = pd.read_csv(DATA / "iris.csv")
    X, y = df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)
    lam = sampled_dual(X, y, 0.1, 300, 0)
    M = exact_M(X, lam)
    res = upper_bound(X, lam, time_limit=600)
    check_valid(res, X, lam, M)
    check_exact(res, M)
    early = upper_bound(X, lam, time_limit=600, node_limit=2000)
    check_valid(early, X, lam, M)


def test_given_starts_seed_the_incumbent():
    """Ascent is monotone, so a start at a maximizer gives best = M (up to float evaluation)
    even with no random starts and no tree."""
    X, lam, M = case(CASES[7])
    u_star = upper_bound(X, lam, time_limit=60).direction
    weak = upper_bound(X, lam, node_limit=0, n_starts=1, n_ascents=0)
    seeded = upper_bound(X, lam, node_limit=0, n_starts=1, n_ascents=0,
                         starts=np.vstack([np.zeros(X.shape[1]), u_star]))
    check_valid(seeded, X, lam, M)
    assert seeded.best >= M - eval_tol(X, lam) > weak.best
    with pytest.raises(InputError, match="starts"):
        upper_bound(X, lam, node_limit=0, starts=np.ones((2, X.shape[1] + 1)))


@pytest.mark.parametrize("lam,M", [
    ([1.0, 1.0, -1.0], 1.0),            # |u1| − relu(u2): max 1 at u = (±1, 0)
    ([1.0, -1.0, 1.0], np.sqrt(2.0)),   # u1 + relu(u2): max √2 at u = (1, 1)/√2
    ([-1.0, -1.0, 0.0], 1.0),           # −|u1|: M = max over the sign −1 = 1
])
def test_closed_forms_with_antiparallel_rows(lam, M):
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    lam = np.array(lam)
    res = upper_bound(X, lam, time_limit=10)
    check_valid(res, X, lam, M * (1 - 4 * EPS))  # M rounded to double (√2)
    check_exact(res, M)


def test_target_without_violator_pool_when_the_tree_improves_the_incumbent():
    """A target with max_violators=0 (the certificate's call) and a weak incumbent heuristic:
    the tree improves the best value above the target; no violator pool is kept and the result
    is exact and valid (once an IndexError)."""
    for spec in CASES[:6]:
        X, lam, M = case(spec)
        res = upper_bound(X, lam, time_limit=120, target=0.25 * M, n_starts=1, n_ascents=1)
        check_valid(res, X, lam, M)
        check_exact(res, M)
        assert res.violations == ()
