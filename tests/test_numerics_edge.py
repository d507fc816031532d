"""Issue 12, part 2, items 2, 4, 5, 7, 8: bad or extreme inputs get the right answer or a clear
one-line error, never a crash.

* memory: exact enumeration and sampling that cannot fit are refused up front, with Cover's bound
  and the bytes they would need (item 2);
* β ≥ β_max: the zero network, exactly and certified, without running a solver (item 4);
* the pattern cache: files whose content disagrees with their header are rejected with a warning
  and recomputed; projections onto cones without constraint rows never reach NNLS (item 5);
* scale: X·1e±150 and subnormal X give the answers of the unscaled problem in the user's units
  (the program is homogeneous), relative tests refer to ℓ(0) (items 7, 8).

Core cases call the functions directly; CLI cases run ``python -m hiddenconvex.cli`` in a
subprocess (exit code, stderr, no traceback).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hiddenconvex.blocks import BlockWeights
from hiddenconvex.certificate import (
    beta_max,
    certify,
    complete_chambers,
    cone_projections,
    correlation_bound,
    max_correlation,
    project_cone,
)
from hiddenconvex.convex_program import ConvexProgram, regularization_path, solve_convex
from hiddenconvex.errors import InputError
from hiddenconvex.experiments.cache import CACHE_ENV, cache_key, cached_patterns, save_patterns
from hiddenconvex.objective import Problem, objective
from hiddenconvex.patterns import (
    cover_bound,
    enumerate_patterns,
    exact_chambers,
    exact_memory,
    sample_memory,
    sample_patterns,
)

EPS = float(np.finfo(np.float64).eps)


def rounding(scale: float, k: int = 64) -> float:
    """Rounding allowance k·eps·|scale| of a quantity computed with k operations of size scale."""
    return k * EPS * abs(scale)


def loss_at_zero(y, loss: str) -> float:
    """ℓ(0) in closed form (SPEC §1.1): ½‖y‖², n log 2, n."""
    y = np.asarray(y, dtype=float)
    return {"squared": 0.5 * float(y @ y), "logistic": y.size * math.log(2.0),
            "hinge": float(y.size)}[loss]


def pow2_data(n: int, d: int, seed: int) -> np.ndarray:
    """Entries ±2^k (k in -2..2): X·c is exact for any double c (no rounding in the scaling)."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], (n, d)) * np.ldexp(1.0, rng.integers(-2, 3, (n, d)))


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> Path:
    header = ",".join([f"x{j}" for j in range(X.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="",
               fmt="%.17g")
    return path


def cli(tmp_path: Path, *args: str, timeout: float = 300):
    """Run the CLI in a subprocess with its pattern cache under tmp_path."""
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cli-cache")}
    return subprocess.run([sys.executable, "-m", "hiddenconvex.cli", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=timeout)


def assert_clean_error(res, code: int, *needles: str) -> str:
    """Exit ``code``, one error line on stderr containing every needle, no traceback."""
    assert res.returncode == code, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ==================================================================================================
# item 2: enumerations that cannot fit in memory are refused up front

BIG = np.random.default_rng(0).standard_normal((2000, 6))  # Cover's bound 5.3e14 chambers


def test_exact_enumeration_that_cannot_fit_is_refused_up_front():
    est = exact_memory(BIG)
    assert est.count == cover_bound(BIG) > 10**14 and not est.fits
    for call in (lambda: exact_chambers(BIG), lambda: enumerate_patterns(BIG, "exact")):
        tracemalloc.start()
        try:
            with pytest.raises(InputError) as err:
                call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        msg = str(err.value)
        assert "\n" not in msg and "Cover's bound" in msg and "bytes" in msg
        assert "n=2000, rank 6" in msg and "available" in msg and "method='sample'" in msg
        assert peak < 50 * BIG.nbytes  # refused after one SVD: nothing was enumerated


def test_sampling_whose_pattern_matrix_cannot_fit_is_refused():
    X = np.random.default_rng(1).standard_normal((600, 30))
    est = sample_memory(X, 10**9)
    assert est.count == 10**9 and not est.fits  # distinct patterns <= min(samples, Cover)
    with pytest.raises(InputError, match=r"sampling 1000000000 gates .* bytes.*--samples"):
        sample_patterns(X, 10**9, seed=0)
    with pytest.raises(InputError, match="distinct patterns"):
        enumerate_patterns(X, "sample", n_samples=10**9)


def test_certificate_without_affordable_chambers_says_so():
    """With no limit on Cover's bound, a chamber list that cannot fit is not attempted: the
    certificate reports the memory figure (it used to try and die in an allocation)."""
    full, why = complete_chambers(BIG, max_chambers=None)
    assert full is None and "does not fit in memory" in why and "bytes" in why
    y = np.random.default_rng(2).standard_normal(2000)
    prob = Problem.create(BIG, y, 1.0)  # β far below the norm bound: no shortcut
    S = sample_patterns(BIG, 50, seed=0)
    zero = np.zeros(2000)
    cert = certify(prob, zero, prob.loss.value(zero, y), S, max_chambers=None)
    assert cert.M is None and not cert.certified and "does not fit in memory" in cert.reasons[0]


def test_memory_estimate_bounds_the_measured_peak():
    """The estimate is an upper bound on the measured peak, not a wild one (at most 3x)."""
    X = np.random.default_rng(3).standard_normal((60, 4))
    est = exact_memory(X)
    tracemalloc.start()
    try:
        P = exact_chambers(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert P.p == est.count  # general position: Cover's bound is attained
    assert peak <= est.nbytes <= 3 * peak, (peak, est.nbytes)


@pytest.mark.parametrize("command", ["solve", "optimal-set", "verify", "run", "patterns"])
def test_cli_exact_enumeration_too_big_exit_2(tmp_path, command):
    y = np.random.default_rng(4).standard_normal(BIG.shape[0])
    data = write_csv(tmp_path / "big.csv", BIG, y)
    extra = {"solve": ["--beta", "0.1"], "optimal-set": ["--beta", "0.1"],
             "verify": ["--beta", "0.1", "--width", "4", "--seeds", "1"],
             "run": ["--beta", "0.1", "--seeds", "1", "--out", str(tmp_path / "out")],
             "patterns": []}[command]
    res = cli(tmp_path, command, str(data), "--method", "exact", *extra)
    assert_clean_error(res, 2, "Cover's bound", "bytes", "available", "--method sample")


def test_cli_samples_too_many_exit_2(tmp_path):
    X = np.random.default_rng(5).standard_normal((600, 30))
    data = write_csv(tmp_path / "wide.csv", X, np.random.default_rng(6).standard_normal(600))
    res = cli(tmp_path, "solve", str(data), "--beta", "0.1", "--method", "sample",
              "--samples", "1000000000", timeout=120)
    assert_clean_error(res, 2, "sampling 1000000000 gates", "bytes", "--samples")


# ==================================================================================================
# item 4: β ≥ β_max gives the zero network, exactly and certified, without a solver


def _classification(n, seed):
    y = np.where(np.random.default_rng(seed).standard_normal(n) > 0, 1.0, -1.0)
    y[:2] = [1.0, -1.0]
    return y


@pytest.mark.parametrize("loss", ["squared", "logistic", "hinge"])
def test_beta_at_or_above_beta_max_gives_the_certified_zero_network(loss):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((9, 2))
    y = rng.standard_normal(9) if loss == "squared" else _classification(9, 8)
    ch = exact_chambers(X)
    bmax = beta_max(Problem.create(X, y, 1.0, loss), ch)
    l0 = loss_at_zero(y, loss)
    for beta in (bmax, 2 * bmax, 1e12, 1e300):
        prob = Problem.create(X, y, beta, loss)
        sol = solve_convex(prob, ch)
        assert sol.status == "optimal" and np.all(sol.weights.W == 0)
        # exactly ℓ(0) (the loss at ŷ = 0, no regularization), which is the closed form up to the
        # rounding of a sum of n terms
        assert sol.objective.total == prob.loss.value(np.zeros(9), prob.y)
        assert abs(sol.objective.total - l0) <= rounding(l0)
        assert sol.iterations == 0 and any("beta_max" in w for w in sol.warnings)
        cert = sol.certificate
        # a real certificate: M(−∇ℓ(0)) over all chambers (= β_max, computed the same way), the
        # lower bound −ℓ*(−tλ) at t = 1 (allowed: β/M ≥ 1) equals ℓ(0) up to its rounding
        # (a sum of n logs for the logistic loss)
        assert cert.certified and cert.complete and cert.m_source == "chambers"
        assert cert.M == bmax <= beta and cert.num_chambers == ch.p
        assert abs(cert.lower_bound - l0) <= rounding(l0) and abs(cert.gap) <= rounding(l0)


def test_huge_beta_without_enumerable_chambers_is_certified_by_the_norm_bound():
    """n = 2000, rank 6: the chambers cannot be enumerated, yet β ≥ ‖λ₊‖‖X_{J₊}‖₂ proves that
    W = 0 is optimal (it used to end in Clarabel 'unbounded')."""
    y = np.random.default_rng(9).standard_normal(2000)
    S = sample_patterns(BIG, 30, seed=1)
    for beta in (1e12, 1e300):
        sol = solve_convex(Problem.create(BIG, y, beta), S, max_chambers=None)
        cert = sol.certificate
        l0 = loss_at_zero(y, "squared")
        assert np.all(sol.weights.W == 0) and sol.objective.total == l0
        assert cert.certified and cert.m_source == "norm bound" and not cert.complete
        assert cert.M <= beta and abs(cert.gap) <= rounding(l0)  # LB = ℓ(0) at t = 1
        assert any("upper bound on beta_max" in w for w in sol.warnings)


def test_correlation_bound_is_an_upper_bound_on_M():
    """Against M(λ) over all chambers (exact, SPEC §2.2) for random λ, and ≤ ‖X‖₂‖λ‖."""
    rng = np.random.default_rng(10)
    X = rng.standard_normal((12, 3))
    ch = exact_chambers(X)
    for _ in range(20):
        c = rng.choice([1e-200, 1.0, 1e200])
        lam = rng.standard_normal(12)
        bound = correlation_bound(X, c * lam)
        M = max_correlation(X, c * lam, ch)
        # both homogeneous in λ: compare at unit scale (‖cλ‖ itself would under/overflow)
        assert M <= bound
        assert bound / c <= np.linalg.norm(X, 2) * np.linalg.norm(lam) * (1 + 1e-12)


def test_sampled_beta_max_below_the_bound_is_reported_honestly():
    """β ≥ β_max of a sampled list: W = 0 solves the restricted program (no solver run); without
    the chambers it is not certified, with them the certificate decides."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((10, 2))
    y = rng.standard_normal(10)
    S = sample_patterns(X, 3, seed=4)
    prob = Problem.create(X, y, 1.0)
    bm_s = beta_max(prob, S)
    bm = beta_max(prob, exact_chambers(X))
    bound = correlation_bound(X, y)
    assert bm_s < bm < bound
    beta = 0.5 * (bm_s + bm)  # above the sampled β_max, below the true one
    blind = solve_convex(prob.with_beta(beta), S, max_chambers=0)
    assert np.all(blind.weights.W == 0) and any("restricted program" in w for w in blind.warnings)
    assert not blind.certificate.certified and blind.certificate.M is None
    seen = solve_convex(prob.with_beta(beta), S)  # chambers enumerable: M over all of them
    assert not seen.certificate.certified and seen.certificate.M == pytest.approx(bm)
    above = solve_convex(prob.with_beta(1.01 * bm), S)
    assert np.all(above.weights.W == 0) and above.certificate.certified


def test_path_across_beta_max_and_lazy_model():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((8, 2))
    y = rng.standard_normal(8)
    ch = exact_chambers(X)
    prob = Problem.create(X, y, 1e12)
    bm = beta_max(prob, ch)
    program = ConvexProgram(prob, ch)
    assert program.cvx is None  # β ≥ β_max: no model is built for it
    path = regularization_path(prob, [1e12, 2 * bm, 0.5 * bm, 0.2 * bm], ch)
    assert [np.all(s.weights.W == 0) for s in path] == [True, True, False, False]
    for s in path:
        assert s.certificate.certified, s.certificate.reasons
    assert path[2].objective.total < loss_at_zero(y, "squared")


@pytest.mark.parametrize("beta", ["1e12", "1e300"])
def test_cli_huge_beta_zero_network(tmp_path, beta):
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    data = write_csv(tmp_path / "small.csv", X, y)
    res = cli(tmp_path, "solve", str(data), "--beta", beta, "--json")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    rec = json.loads(res.stdout)
    assert rec["certified"] is True and rec["objective"] == loss_at_zero(y, "squared")
    assert rec["active_blocks"] == 0 and any("beta_max" in w for w in rec["warnings"])


# ==================================================================================================
# item 5: cache files that disagree with their header; cones without constraint rows


def _rewrite(path: Path, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {f: z[f] for f in z.files}
    arrays.update(changes)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("case", ["half_the_chambers", "wrong_shape", "content_changed",
                                  "truncated", "saved_incomplete_as_complete"])
def test_cache_entry_that_disagrees_with_its_header_is_rejected(tmp_path, case):
    X = np.random.default_rng(14).standard_normal((12, 3))
    first = cached_patterns(X, "exact", cache_dir=tmp_path)
    P = first.patterns
    path = Path(first.path)
    if case == "half_the_chambers":  # header (complete, p, checksum) kept, content cut
        with np.load(path) as z:
            _rewrite(path, Dt_packed=z["Dt_packed"][: P.p // 2],
                     witnesses=z["witnesses"][: P.p // 2])
    elif case == "wrong_shape":
        with np.load(path) as z:
            _rewrite(path, witnesses=z["witnesses"][:, :2].copy())
    elif case == "content_changed":  # same shapes, one witness changed
        with np.load(path) as z:
            W = z["witnesses"].copy()
        W[0] *= 2.0
        _rewrite(path, witnesses=W)
    elif case == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) - 100])
    elif case == "saved_incomplete_as_complete":  # a consistent file of a wrong list
        save_patterns(cache_key(X, "exact"), P.subset(np.arange(P.p // 2), complete=True),
                      tmp_path)
    again = cached_patterns(X, "exact", cache_dir=tmp_path)
    assert not again.hit and again.warning and "rejected" in again.warning
    assert np.array_equal(again.patterns.D, P.D) and again.patterns.complete
    assert cached_patterns(X, "exact", cache_dir=tmp_path).hit  # recomputed and rewritten


def test_cli_solve_with_truncated_complete_cache_entry(tmp_path):
    """The issue's crash: complete=True with 30 of 60 chambers made NNLS abort the process
    ("double free or corruption"); now the entry is rejected, recomputed, and the solve is the
    one without cache."""
    rng = np.random.default_rng(15)
    X, y = rng.standard_normal((30, 2)), rng.standard_normal(30)
    data = write_csv(tmp_path / "d.csv", X, y)
    ref = cli(tmp_path, "solve", str(data), "--beta", "0.3", "--json", "--no-cache")
    assert ref.returncode == 0, ref.stderr
    cache = tmp_path / "cli-cache"
    from hiddenconvex.experiments.datasets import load_csv

    Xc = load_csv(data).X  # the matrix the CLI hashes
    P = exact_chambers(Xc)
    assert P.p == 60
    # one chamber and its antipode: every row has both signs and the file is consistent with its
    # header, but neither chamber has a neighbour in the list (no facet row: NNLS on a (2, 0)
    # matrix aborted the process)
    k = int(np.flatnonzero(np.all(P.D == ~P.D[:, :1], axis=0))[0])
    save_patterns(cache_key(Xc, "auto"), P.subset(np.array([0, k]), complete=True), cache)
    res = cli(tmp_path, "solve", str(data), "--beta", "0.3", "--json")
    assert res.returncode == 0 and "Traceback" not in res.stderr, (res.returncode, res.stderr)
    rec, rec0 = json.loads(res.stdout), json.loads(ref.stdout)
    assert any("rejected" in w for w in rec["warnings"])
    assert rec["num_patterns"] == 60 and rec["certified"] and rec0["certified"]
    assert rec["objective"] == rec0["objective"]  # the same program, solved the same way


def test_cones_without_constraint_rows_never_reach_nnls():
    """A cone described by no row is R^d (Π(g) = g), never an NNLS call on an empty matrix; zero
    data rows constrain nothing: with X = 0 every block correlation is exactly 0."""
    rng = np.random.default_rng(16)
    g = rng.standard_normal(3)
    np.testing.assert_array_equal(project_cone(g, np.zeros((0, 3))), g)
    X = np.zeros((5, 2))
    lam = rng.standard_normal(5)
    D = np.ones((5, 1), dtype=bool)  # the one chamber of the zero arrangement
    np.testing.assert_array_equal(cone_projections(X, lam, D), np.zeros((2, 2)))
    assert max_correlation(X, lam, D) == 0.0
    # a single nonzero row: the γ = +1 block of the chamber {x^T u > 0} with λ > 0 is inside its
    # cone (Π(g) = g up to the rounding of a projection in R^2), the γ = −1 block projects to 0
    X1 = np.array([[1.0, 2.0], [0.0, 0.0]])
    lam1 = np.array([0.5, 3.0])
    D1 = np.array([[True], [True]])
    P = cone_projections(X1, lam1, D1)
    g1 = 0.5 * X1[0]
    np.testing.assert_allclose(P[0], g1, rtol=0, atol=rounding(np.linalg.norm(g1)))
    np.testing.assert_allclose(P[1], np.zeros(2), rtol=0, atol=rounding(np.linalg.norm(g1)))


def test_truncated_complete_chamber_list_is_an_input_error():
    rng = np.random.default_rng(17)
    X = rng.standard_normal((30, 2))
    P = exact_chambers(X)
    k = int(np.flatnonzero(np.all(P.D == ~P.D[:, :1], axis=0))[0])  # the antipode of chamber 0
    pair = P.subset(np.array([0, k]), complete=True)  # both signs on every row, no neighbours
    with pytest.raises(InputError, match="not the complete chamber list"):
        solve_convex(Problem.create(X, rng.standard_normal(30), 0.3), pair)


# ==================================================================================================
# items 7, 8: scale


def test_tiny_data_beta_point_one_gives_the_exact_zero_network():
    """X·1e-150, β = 0.1: β_max ~ 1e-150, so W = 0 exactly (it used to return tiny nonzero
    weights certified against a gap floor of 1)."""
    rng = np.random.default_rng(18)
    X, y = rng.standard_normal((10, 2)) * 1e-150, rng.standard_normal(10)
    for P in (exact_chambers(X), sample_patterns(X, 100, seed=0)):
        sol = solve_convex(Problem.create(X, y, 0.1), P)
        l0 = loss_at_zero(y, "squared")
        assert np.all(sol.weights.W == 0) and sol.objective.total == l0
        assert sol.certificate.certified and abs(sol.certificate.gap) <= rounding(l0)


@pytest.mark.parametrize("c", [1e150, 1e-150])
def test_scaled_data_solve_equals_the_unscaled_problem(c):
    """The program on (c·X, c·β) is the one on (X, β) with w_X = c·w_{cX} (SPEC §2.1).
    X has entries ±2^k and β = 1/4, so c·X and c·β are exact: the two problems are the same and
    only the solver's accuracy separates the answers. Each solve is certified with gap g
    (LB ≤ P_c ≤ primal), hence |P̂_a − P̂_b| ≤ max(g_a, g_b), and the squared loss is
    1-strongly convex in ŷ, so ‖ŷ − ŷ*‖ ≤ sqrt(2 g) for each; every gap carries the rounding of
    its two O(ℓ(0)) terms."""
    X = pow2_data(10, 2, seed=19)
    y = np.random.default_rng(20).standard_normal(10)
    ref_prob = Problem.create(X, y, 0.25)
    ch = exact_chambers(X)
    assert 0.25 < beta_max(ref_prob, ch)  # a nontrivial optimum
    ref = solve_convex(ref_prob, ch)
    big = solve_convex(Problem.create(X * c, y, 0.25 * c), exact_chambers(X * c))
    l0 = loss_at_zero(y, "squared")
    for s in (ref, big):
        assert s.status == "optimal" and s.certificate.certified, s.certificate.reasons
    g_ref = ref.certificate.gap + rounding(l0)
    g_big = big.certificate.gap + rounding(l0)
    assert abs(big.objective.total - ref.objective.total) <= max(g_ref, g_big)
    assert np.linalg.norm(big.yhat - ref.yhat) <= math.sqrt(2 * g_ref) + math.sqrt(2 * g_big)
    # the weights are in the user's units: c·W predicts ŷ on X (both sums of the same 2p block
    # fits, up to their rounding), with the same objective
    Wc = BlockWeights(big.weights.W * c, big.weights.D)
    fit_scale = float(np.abs(Wc.fits(X)).sum())
    np.testing.assert_allclose(Wc.predict(X), big.yhat, rtol=0, atol=rounding(fit_scale))
    # (blocks whose entries are below 2^-511 in the user's units lose their norm to underflow in
    # the user-unit objective: at most β times their true norms, which c·W still holds)
    tiny = np.abs(big.weights.W).max(axis=1) < 2.0 ** -511
    lost = 0.25 * float(np.linalg.norm(Wc.W[tiny], axis=1).sum())
    assert abs(objective(ref_prob, Wc).total - big.objective.total) <= rounding(l0) + lost
    # M(λ) is homogeneous in X: computed at either scale (internally rescaled) it agrees to the
    # accuracy of the NNLS projections
    M_big = max_correlation(X * c, big.dual, exact_chambers(X * c))
    assert M_big == pytest.approx(c * max_correlation(X, big.dual, ch), rel=1e-12)


def test_scaled_targets_solve_equals_the_unscaled_problem():
    """Squared loss: P(X, c·y, c·β) = c²·P(X, y, β) with w = c·w₁ (c = 2^-27, exact). At
    y ~ 1e-8 the solver used to stop at its absolute gap tolerance with half the value wrong."""
    rng = np.random.default_rng(26)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    ch = exact_chambers(X)
    c = 2.0 ** -27
    ref = solve_convex(Problem.create(X, y, 0.25), ch)
    small = solve_convex(Problem.create(X, c * y, 0.25 * c), ch)
    l0 = loss_at_zero(y, "squared")
    for s in (ref, small):
        assert s.status == "optimal" and s.certificate.certified, s.certificate.reasons
    # certified relative to the scale of its own problem, ℓ(0) = c²·ℓ₁(0)
    assert small.certificate.gap <= small.certificate.gap_tol * c**2 * l0
    g_ref = ref.certificate.gap + rounding(l0)
    g_small = small.certificate.gap / c**2 + rounding(l0)  # in the units of the reference
    assert abs(small.objective.total / c**2 - ref.objective.total) <= max(g_ref, g_small)
    assert np.linalg.norm(small.yhat / c - ref.yhat) <= (math.sqrt(2 * g_ref)
                                                         + math.sqrt(2 * g_small))


def test_gap_is_relative_to_the_loss_of_the_zero_network():
    """gap ≤ gap_tol·ℓ(0): a candidate 10 ℓ(0) above the optimum is not certified even when
    ℓ(0) is tiny (it used to pass against max(1, |primal|))."""
    rng = np.random.default_rng(21)
    X, y = rng.standard_normal((8, 2)), 1e-5 * rng.standard_normal(8)
    ch = exact_chambers(X)
    prob = Problem.create(X, y, 0.25e-5)
    sol = solve_convex(prob, ch)
    l0 = loss_at_zero(y, "squared")
    cert = sol.certificate
    assert cert.certified and cert.scale == l0 and cert.relative_gap == cert.gap / l0
    fake = certify(prob, sol.yhat, sol.objective.total + 10 * l0, ch)
    assert not fake.certified and any("loss of the zero network" in r for r in fake.reasons)


def test_subnormal_data_has_the_patterns_of_the_unscaled_data():
    rng = np.random.default_rng(22)
    X = rng.standard_normal((20, 3))
    Xs = X * 1e-310  # subnormal entries (about 44 significant bits left)
    assert np.all(np.abs(Xs[Xs != 0]) < np.finfo(np.float64).tiny)
    P, Ps = exact_chambers(X), exact_chambers(Xs)
    assert Ps.rank == P.rank == 3 and np.array_equal(Ps.D, P.D)
    np.testing.assert_allclose(Ps.witnesses, P.witnesses, atol=1e-9)  # unit vectors
    S, Ss = sample_patterns(X, 2000, seed=3), sample_patterns(Xs, 2000, seed=3)
    assert Ss.rank == 3 and np.array_equal(Ss.D, S.D)
    assert cover_bound(Xs) == cover_bound(X)
    huge = exact_chambers(X * 1e300)  # row norms would overflow
    assert np.array_equal(huge.D, P.D)


def test_subnormal_data_solve_zero_network_or_clear_error():
    rng = np.random.default_rng(23)
    X, y = rng.standard_normal((10, 2)) * 1e-310, rng.standard_normal(10)
    ch = exact_chambers(X)
    sol = solve_convex(Problem.create(X, y, 0.1), ch)
    assert np.all(sol.weights.W == 0) and sol.certificate.certified
    assert sol.objective.total == loss_at_zero(y, "squared")
    # β below β_max ~ 1e-310: the optimal weights (norm up to ℓ(0)/β ~ 1e321) do not fit a double
    with pytest.raises(InputError, match="too small for the scale of X"):
        solve_convex(Problem.create(X, y, 1e-320), ch)


def test_data_spanning_more_than_the_double_range_is_refused():
    X = np.array([[1e300, 1.0], [1e-300, 1e-300], [1.0, -1e300]])
    with pytest.raises(InputError, match="orders of magnitude"):
        exact_chambers(X)


def test_cli_subnormal_and_huge_data(tmp_path):
    rng = np.random.default_rng(24)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    sub = cli(tmp_path, "solve", str(write_csv(tmp_path / "sub.csv", X * 1e-310, y)),
              "--beta", "0.1", "--json")
    assert sub.returncode == 0 and "Traceback" not in sub.stderr, sub.stderr
    rec = json.loads(sub.stdout)
    assert rec["certified"] and rec["objective"] == loss_at_zero(y, "squared")
    tiny_beta = cli(tmp_path, "solve", str(tmp_path / "sub.csv"), "--beta", "1e-320")
    assert_clean_error(tiny_beta, 2, "too small for the scale of X")
    Xp = pow2_data(8, 2, seed=25)
    ref = cli(tmp_path, "solve", str(write_csv(tmp_path / "ref.csv", Xp, y)), "--beta", "0.25",
              "--json")
    big = cli(tmp_path, "solve", str(write_csv(tmp_path / "big.csv", Xp * 1e150, y)),
              "--beta", repr(0.25 * 1e150), "--json")
    assert ref.returncode == 0 and big.returncode == 0, (ref.stderr, big.stderr)
    r, b = json.loads(ref.stdout), json.loads(big.stdout)
    assert r["certified"] and b["certified"]
    # both certified: |P̂_a − P̂_b| ≤ max of the gaps (+ their rounding), as in the core test
    l0 = loss_at_zero(y, "squared")
    assert abs(b["objective"] - r["objective"]) <= max(r["gap"], b["gap"]) + rounding(l0)
    assert b["beta_max"] == pytest.approx(1e150 * r["beta_max"], rel=1e-12)
