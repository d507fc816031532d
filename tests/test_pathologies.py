"""Examples 2.1-2.5 of paper B with their exact distances, and the ``stability examples`` command
(hiddenconvex.stability.pathologies; SPEC §5.7, oracles O26-O28).

References (SPEC closed forms, brute-force chambers, an LP per chamber, dense grids in t with all
permutations) and tolerances: tests/stability_helpers.py.
"""

import io
import json
import math
from contextlib import redirect_stdout

import numpy as np
import pytest
from stability_helpers import (
    SQ2,
    brute_orbit_distance,
    close,
    close_tol,
    fit_scale,
    jac_scale,
    lp_error,
    lp_sup_box,
    orbit_grid_error,
    ref_seminorm,
)

from hiddenconvex import InputError
from hiddenconvex.cli import main as cli_main
from hiddenconvex.stability.orbits import realizations_are_orbit
from hiddenconvex.stability.pathologies import (
    evaluate_pathology,
    example_2_1,
    example_2_2,
    example_2_3,
    example_2_4,
    example_2_5,
    line_distance,
    make_example,
)
from hiddenconvex.stability.shallow import difference, parameter_distance, zero_sum_subsets
from hiddenconvex.stability.sobolev import seminorm, seminorm_distance, sup_norm_box


def test_bad_input_errors():
    with pytest.raises(InputError, match="k must be"):
        example_2_1(0)
    with pytest.raises(InputError, match="unknown example"):
        make_example("2.9", 1)


# -------------------------------------------------------------------------------- Examples (§5.7)
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_example_2_1_o26(k):
    p = example_2_1(k)
    g = p.target
    X = np.random.default_rng(k).uniform(-1, 1, size=(2000, 2))
    want = k * np.maximum(X @ [k, 0], 0) - k * np.maximum(X @ [k, -1 / k**2], 0)
    assert close(g.realize(X)[:, 0], want, 64, scale=fit_scale(g, X))
    assert close(sup_norm_box(g).value, 1 / k, 8192)  # approached at (0, -1)
    assert abs(lp_sup_box(g) - 1 / k) <= lp_error(g)  # HiGHS (lp_error)
    assert close(seminorm(g).value, k**2, 512)
    assert close(ref_seminorm(g), k**2, 512)
    assert close(parameter_distance(p.canonical, p.gamma), k, 64)
    r = evaluate_pathology(p)
    assert close(r.sup_distance, 1 / k, 8192)
    assert close(r.realization_distance, k**2, 512)
    assert close(r.norm_lower_bound, k / SQ2, 512)  # any realization: ≥ k/√2
    assert close(r.parameter_distance_is_minimum and r.parameter_distance, k, 8192)
    assert r.parameter_distance >= k / SQ2
    brute = brute_orbit_distance(p.target, p.gamma)  # an upper bound, to the grid's resolution
    assert k - close_tol(k) <= brute <= k + orbit_grid_error(p.target, p.gamma, k)


def test_example_2_1_ratio_diverges():
    rs = [evaluate_pathology(example_2_1(k)) for k in (1, 2, 4, 8, 16)]
    for alpha in (0.1, 0.5, 1.0, 2.0):
        ratios = [r.parameter_distance / r.sup_distance**alpha for r in rs]
        assert all(b > a for a, b in zip(ratios, ratios[1:], strict=False))


@pytest.mark.parametrize("k", [1, 2, 3, 7, 50])
def test_example_2_2_o27(k):
    r_ = 0.8
    p = example_2_2(k, r=r_)
    assert close(seminorm_distance(p.target, p.gamma).value, 1 / k, 512)
    # exactly zero (the former assert_allclose(·, 0) has no tolerance at 0 either)
    assert np.all(p.gamma.realize(np.random.default_rng(0).normal(size=(50, 2))) == 0)
    assert realizations_are_orbit(p.target)  # every realization is (t(0,1), 1/(kt))
    # min_t max(r, t, 1/(kt)) = max(r, 1/sqrt(k))
    res = evaluate_pathology(p)
    assert close(res.parameter_distance, max(r_, 1 / math.sqrt(k)), 8192)
    assert res.parameter_distance >= r_ and res.parameter_distance_is_minimum
    assert close(res.realization_distance, 1 / k, 512)
    # Theorem 3.1 still applies, with beta >= r (Γ is unbalanced): consistent bound
    assert close(res.thm31_beta_min, r_, 64)
    assert res.parameter_distance <= res.thm31_bound


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_example_2_3_o27(k):
    p = example_2_3(k)
    X = np.random.default_rng(1).normal(size=(100, 2))
    assert close(p.gamma.realize(X)[:, 0], 2 * np.maximum(X[:, 0], 0), 64,
                 scale=fit_scale(p.gamma, X))
    assert close(seminorm_distance(p.target, p.gamma).value, 1 / k, 512)
    assert realizations_are_orbit(p.target)
    res = evaluate_pathology(p)
    assert close(res.parameter_distance, 1.0, 8192)  # ≥ 1, attained
    brute = brute_orbit_distance(p.target, p.gamma)  # an upper bound, to the grid's resolution
    assert 1.0 - close_tol(1.0) <= brute <= 1.0 + orbit_grid_error(p.target, p.gamma, 1.0)
    assert any("C.2" in f for f in res.thm31_failures)


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_example_2_4_o28(k):
    p = example_2_4(k)
    X = np.random.default_rng(2).normal(size=(1000, 2)) * 10
    assert np.max(np.abs(p.gamma.realize(X))) <= close_tol(fit_scale(p.gamma, X))
    assert seminorm(p.gamma).value == 0.0
    assert close(seminorm_distance(p.target, p.gamma).value, 1 / k, 512)
    res = evaluate_pathology(p)
    # every realization needs a neuron (±t, 0); every Γ first-layer vector has |2nd coord| ≥ 1/2
    assert close(res.parameter_lower_bound, 0.5, 64)
    assert close(res.parameter_distance, 0.5, 8192)  # attained: C = 1/2 exactly
    assert res.parameter_distance_is_minimum
    diff = np.concatenate([(res.best_phi.A - p.gamma.A).ravel(),
                           (res.best_phi.C - p.gamma.C).ravel()])
    assert close(np.max(np.abs(diff)), 0.5, 8192)
    assert res.best_residual <= close_tol(max(1.0, jac_scale(p.target), jac_scale(p.gamma)), 512)
    assert close(res.best_phi.realize(X)[:, 0], np.maximum(X[:, 0], 0) / k, 64,
                 scale=fit_scale(res.best_phi, X))
    assert any("C.3(a)" in f for f in res.thm31_failures)
    assert close(line_distance([1.0, 0.0], [0.0, 1.0]), 1.0, 64)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_example_2_5(k):
    p = example_2_5(k)
    G, T = p.gamma, p.target
    assert close((G.C @ G.A)[0], [0, 0, 3], 64, scale=jac_scale(G))  # Σ c_i a_i
    X = np.random.default_rng(3).normal(size=(500, 3))
    assert close(G.realize(X)[:, 0] - T.realize(X)[:, 0], 3 * X[:, 2], 64,
                 scale=fit_scale(G, X) + fit_scale(T, X))
    assert close(seminorm_distance(T, G).value, 3.0, 8192)
    assert close(ref_seminorm(difference(T, G)), 3.0, 8192)
    assert close(parameter_distance(T, G), 2 * SQ2 * k, 64)
    assert close(seminorm(G).value, max(2 * k**2, 3), 8192)
    assert zero_sum_subsets(T) == [] and realizations_are_orbit(T)
    res = evaluate_pathology(p)
    assert close(res.parameter_distance, SQ2 * k, 8192)  # ≥ k
    assert res.parameter_distance_is_minimum
    brute = brute_orbit_distance(T, G)  # an upper bound, to the grid's resolution
    assert SQ2 * k - close_tol(SQ2 * k) <= brute <= SQ2 * k + orbit_grid_error(T, G, SQ2 * k)
    assert any("C.3(b)" in f for f in res.thm31_failures)



def test_example_2_4_independence_is_the_package_rank_rule():
    # the hypotheses "v independent of every a_i" and "a_i pairwise independent" are decided by
    # the package's numerical rank (singular values > σ_max·max(shape)·eps): exactly dependent
    # vectors are refused, v = (1, −1/2 + δ) with δ = 1e-12 is independent of a_0 = (1, −1/2)
    # (σ_min ≈ 0.6δ, far above 2·eps·σ_max) and is accepted
    with pytest.raises(InputError, match="independent of a_0"):
        example_2_4(1, v=(1.0, -0.5))
    with pytest.raises(InputError, match="pairwise independent"):
        example_2_4(1, a=((1.0, -0.5), (-1.0, 0.5)))
    v = (1.0, -0.5 + 1e-12)
    delta = v[1] + 0.5  # exact (Sterbenz)
    p = example_2_4(1, v=v)
    # lower bound min_t ||t v − a_0||_inf: t = 1 + s with s = δ − s/2 + sδ, i.e. s = δ/(1.5 − δ);
    # line_distance evaluates it from O(1) entries: rounding 64·eps absolute
    assert abs(p.lower_bound - delta / (1.5 - delta)) <= close_tol(1.0)

# ---------------------------------------------------------------------------------------- the CLI
def _cli(args):
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli_main(args)
    return rc, buf.getvalue()


def test_cli_examples_json():
    rc, out = _cli(["stability", "examples", "--k", "1", "2", "3", "--json"])
    assert rc == 0
    recs = json.loads(out)
    assert isinstance(recs, list) and len(recs) == 15
    assert [(r["example"], r["k"]) for r in recs] == \
        [(e, k) for e in ("2.1", "2.2", "2.3", "2.4", "2.5") for k in (1, 2, 3)]
    for r in recs:
        k = r["k"]
        assert isinstance(k, int) and isinstance(r["example"], str)
        want = {  # SPEC §5.7 closed forms: (realization distance, best parameter distance)
            "2.1": (k**2, k), "2.2": (1 / k, 1.0), "2.3": (1 / k, 1.0), "2.4": (1 / k, 0.5),
            "2.5": (3.0, SQ2 * k),
        }[r["example"]]
        assert close(r["realization_distance"], want[0], 8192)
        assert close(r["parameter_distance"], want[1], 8192)
        assert r["parameter_distance"] <= r["parameter_distance_canonical"] + close_tol(
            r["parameter_distance_canonical"], 8)
        assert r["parameter_distance_is_minimum"] is True
        assert r["parameter_distance"] >= r["parameter_lower_bound"] - close_tol(
            r["parameter_lower_bound"])
    by = {(r["example"], r["k"]): r for r in recs}
    for k in (1, 2, 3):
        assert close(by[("2.1", k)]["sup_distance"], 1 / k, 8192)
        assert close(by[("2.1", k)]["parameter_distance_canonical"], k, 64)
        assert close(by[("2.5", k)]["parameter_distance_canonical"], 2 * SQ2 * k, 64)
    # subset, r of Example 2.2 (distance max(r, 1/sqrt(k))), plain table
    rc, out = _cli(["stability", "examples", "--examples", "2.2", "--k", "4", "--r", "0.3",
                    "--json"])
    (rec,) = json.loads(out)
    assert close(rc == 0 and rec["parameter_distance"], 0.5, 8192)
    rc, out = _cli(["stability", "examples", "--examples", "2.5", "--k", "2"])
    assert rc == 0 and "2.5" in out and len(out.strip().splitlines()) == 2
    for bad in (["--k", "-1"], ["--k", "0"], ["--examples", "2.9"]):
        rc, _ = _cli(["stability", "examples", *bad])
        assert rc == 2
    from hiddenconvex.cli.stability import EXAMPLE_NAMES
    from hiddenconvex.stability.pathologies import EXAMPLES

    assert EXAMPLE_NAMES == tuple(EXAMPLES)
