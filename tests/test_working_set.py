"""The working-set solver (issue 13): column generation with exact pricing solves the same program
as one full solve — same optimum, same active chambers where unique, and a certificate that agrees.

References are independent of the loop: the full program on the exact chamber list (one Clarabel
solve) and its certificate (:func:`hiddenconvex.certificate.certify`). Tolerances: a converged
working set's restricted program has the full program's optimum P* (every block outside it prices
at most β), so two solves of P* differ by at most the sum of their solve errors
(:func:`tolerances.solve_error`, derived from the solver's tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import solve_error

import hiddenconvex as hc
from hiddenconvex import InputError, Problem
from hiddenconvex.convex_program import solve_convex
from hiddenconvex.experiments.datasets import load_dataset
from hiddenconvex.patterns import exact_chambers, sample_patterns
from hiddenconvex.working_set import ChamberSource, solve_working_set


def _random(n, d, r, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, r)) @ rng.standard_normal((r, d)) if r < d else \
        rng.standard_normal((n, d))
    y = np.tanh(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    return X, y


def _cases():
    for name in ("default", "teacher_2d", "low_rank", "iris_pca2", "wine_pca2"):
        yield name, None
    for seed, (n, d, r) in enumerate([(30, 3, 3), (60, 3, 3), (40, 4, 2), (25, 2, 2)]):
        yield f"random_n{n}_d{d}_r{r}", (n, d, r, seed)


CASES = list(_cases())


def _data(case):
    name, spec = case
    if spec is None:
        data = load_dataset(name)
        return data.X, data.y
    return _random(*spec)


def _active_chambers(sol, tol=1e-4):
    """Patterns (as bytes) of the blocks above ``tol`` × the largest block, with their sign."""
    W = sol.weights.W
    norms = np.linalg.norm(W, axis=1)
    p = sol.patterns.p
    keys = set()
    for b in np.flatnonzero(norms > tol * norms.max()):
        keys.add((b >= p, np.packbits(sol.patterns.D[:, b % p]).tobytes()))
    return keys


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_optimum_as_the_full_exact_solve(case):
    X, y = _data(case)
    beta = 0.1 * float(np.linalg.norm(X.T @ y, np.inf)) / max(1.0, np.sqrt(X.shape[0]))
    prob = Problem.create(X, y, beta)
    chambers = exact_chambers(X)
    full = solve_convex(prob, chambers)
    assert full.certificate.certified, full.certificate.reasons
    sol, info = solve_working_set(prob, ChamberSource.from_patterns(chambers, chunk=17),
                                  max_add=3)
    assert info.status == "converged", info.message
    assert sol.certificate.certified and sol.certificate.complete
    assert sol.certificate.num_chambers == chambers.p
    # the final pricing pass certifies the restricted optimum over every chamber
    assert sol.certificate.M <= beta * (1 + sol.certificate.tol)
    assert abs(sol.objective.total - full.objective.total) <= solve_error(sol) + solve_error(full)
    assert sol.patterns.p < chambers.p or chambers.p <= 3  # a working set, not the whole list
    # the certificate of the reference agrees: the working-set primal is above its lower bound
    assert sol.objective.total >= full.certificate.lower_bound - solve_error(sol)
    assert full.objective.total >= sol.certificate.lower_bound - solve_error(full)


def test_same_active_chambers_where_unique():
    """default data: the optimum is unique (m* = 5, test_api), so both solves use the same
    chambers with the same output signs."""
    data = load_dataset("default")
    prob = Problem.create(data.X, data.y, 0.1)
    chambers = exact_chambers(data.X)
    full = solve_convex(prob, chambers)
    sol, info = solve_working_set(prob, ChamberSource.from_patterns(chambers), max_add=2)
    assert info.status == "converged"
    assert _active_chambers(sol) == _active_chambers(full)
    assert len(_active_chambers(full)) == 5


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_classification_losses(loss):
    data = load_dataset("default")
    y = np.where(data.y >= np.median(data.y), 1.0, -1.0)
    prob = Problem.create(data.X, y, 0.05, loss)
    chambers = exact_chambers(data.X)
    full = solve_convex(prob, chambers)
    sol, info = solve_working_set(prob, ChamberSource.from_patterns(chambers), max_add=4)
    assert info.status == "converged", info.message
    assert sol.certificate.certified == full.certificate.certified
    assert abs(sol.objective.total - full.objective.total) <= solve_error(sol) + solve_error(full)


@pytest.mark.parametrize("solver", ["ecos", "scs"])
def test_other_solvers(solver):
    data = load_dataset("teacher_2d")
    prob = Problem.create(data.X, data.y, 0.2)
    chambers = exact_chambers(data.X)
    full = solve_convex(prob, chambers, solver="clarabel")
    sol, info = solve_working_set(prob, ChamberSource.from_patterns(chambers), solver=solver,
                                  tol=1e-8, max_add=5)
    assert sol.solver == solver
    assert info.status in ("converged", "stalled")  # SCS's dual may not reach β(1 + 1e-6)
    if info.status == "converged":
        assert sol.certificate.certified
    assert abs(sol.objective.total - full.objective.total) <= solve_error(sol) + solve_error(full)


def test_streamed_source_equals_the_in_memory_list():
    data = load_dataset("teacher_2d")
    prob = Problem.create(data.X, data.y, 0.2)
    a, ia = solve_working_set(prob, ChamberSource.all_chambers(data.X, chunk=50), max_add=5)
    b, ib = solve_working_set(prob, ChamberSource.from_patterns(exact_chambers(data.X)),
                              max_add=5)
    assert ia.status == ib.status == "converged"
    assert ia.num_patterns == ib.num_patterns == exact_chambers(data.X).p
    assert abs(a.objective.total - b.objective.total) <= solve_error(a) + solve_error(b)


def test_reused_bounds_change_nothing_but_the_work():
    """reuse_bounds (per-chamber bounds carried between full passes) gives the same rounds, the
    same violators and the same optimum as pricing every chamber again, with fewer projections."""
    data = load_dataset("teacher_2d")
    prob = Problem.create(data.X, data.y, 0.2)
    runs = {}
    for reuse in (True, False):
        runs[reuse] = solve_working_set(prob, ChamberSource.all_chambers(data.X, chunk=50),
                                        max_add=5, reuse_bounds=reuse)
    (a, ia), (b, ib) = runs[True], runs[False]
    assert ia.status == ib.status == "converged"
    assert [(r.pricing, r.violators, r.added, r.dropped) for r in ia.rounds] == \
        [(r.pricing, r.violators, r.added, r.dropped) for r in ib.rounds]
    for ra, rb in zip(ia.rounds, ib.rounds, strict=True):
        if ra.pricing == "full" and ra.violators:  # M is the exact largest violator's bound
            assert ra.M == rb.M
    assert a.objective.total == b.objective.total
    full = [r for r in ia.rounds if r.pricing == "full"]
    assert sum(r.counts["reused"] for r in full) > 0
    assert all(r.counts.get("reused", 0) == 0 for r in ib.rounds)
    # without violators M is only bounded: by a carried bound or a new one, both below β(1+tol)
    assert a.certificate.certified and b.certificate.certified


def test_budget_ends_with_a_valid_lower_bound():
    """One round: not converged, but the lower bound from the priced λ is valid (below the full
    optimum) and reported, with the reason."""
    X, y = _random(60, 3, 3, 7)
    prob = Problem.create(X, y, 0.05)
    chambers = exact_chambers(X)
    full = solve_convex(prob, chambers)
    sol, info = solve_working_set(prob, ChamberSource.from_patterns(chambers), max_rounds=1,
                                  max_add=1)
    assert info.status == "round_limit"
    cert = sol.certificate
    assert not cert.certified and any("round limit" in r for r in cert.reasons)
    assert cert.M > prob.beta
    assert cert.lower_bound <= full.objective.total + solve_error(full)
    assert info.best_lower_bound == pytest.approx(cert.lower_bound, rel=0, abs=0)
    assert sol.objective.total >= full.objective.total - solve_error(full) - solve_error(sol)


def test_sampled_list_optimum_over_the_list():
    """A sampled list: the working set reaches the full program's optimum over that list."""
    data = load_dataset("teacher_2d")
    X = data.X
    pats = sample_patterns(X, 400, seed=3)
    prob = Problem.create(X, data.y, 0.2)
    full = solve_convex(prob, pats, certify=False)
    res = hc.solve(X, data.y, 0.2, patterns=pats, strategy="working-set")
    assert res.strategy == "working-set" and res.working_set.status == "converged"
    assert abs(res.objective - full.objective.total) <= solve_error(res.solution) + \
        solve_error(full)
    assert res.certificate is not None  # certify() over all chambers, as for the full strategy


def test_search_columns_close_the_gap_of_a_poor_sample():
    """bound="search" on a poor sampled list: the search's violating chambers enter the working
    set until none is found; the optimum then equals the exact one over all chambers (which the
    list did not contain at the start) and the search bound is valid against it. The reference
    is the optimum over all 19,840 chambers bracketed by the enumeration certificate
    [lower_bound, objective] (one full interior-point solve over them takes ~90 s)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 4))
    y = np.maximum(X @ rng.normal(size=4), 0) - np.maximum(X @ rng.normal(size=4), 0)
    ref = hc.solve(X, y, 0.1, patterns="exact", strategy="working-set", bound="enumerate")
    assert ref.certified and ref.to_dict()["bound_method"] == "enumerate"
    lo, hi = ref.lower_bound, ref.objective
    pats = sample_patterns(X, 20, seed=0)
    plain = hc.solve(X, y, 0.1, patterns=pats, strategy="full", bound="search",
                     bound_time_limit=10)
    res = hc.solve(X, y, 0.1, patterns=pats, strategy="working-set", bound="search",
                   bound_time_limit=10)
    rec = res.to_dict()
    err = solve_error(ref.solution) + solve_error(res.solution)
    assert rec["ws_search_columns"] > 0 and rec["ws_search_rounds"] >= 1
    assert res.patterns.p == pats.p + rec["ws_search_columns"]
    ch = exact_chambers(X)
    chambers = {np.packbits(ch.D[:, k]).tobytes() for k in range(ch.p)}
    added = res.patterns.D[:, pats.p:]
    assert all(np.packbits(added[:, k]).tobytes() in chambers for k in range(added.shape[1]))
    assert plain.objective > hi + err  # the sample alone misses the optimum
    assert lo - err <= res.objective <= hi + err
    for r in (plain, res):  # both lower bounds are valid
        assert r.lower_bound <= hi + err
    assert res.relative_gap < plain.relative_gap


def test_solve_front_door_streams_exact():
    data = load_dataset("teacher_2d")
    res = hc.solve(data.X, data.y, 0.2, patterns="exact", strategy="working-set")
    ref = hc.solve(data.X, data.y, 0.2, patterns="exact", strategy="full")
    assert res.certified and ref.certified
    assert abs(res.objective - ref.objective) <= solve_error(res.solution) + \
        solve_error(ref.solution)
    rec = res.to_dict()
    assert rec["strategy"] == "working-set" and rec["ws_status"] == "converged"
    assert rec["ws_rounds"] >= 1 and rec["num_chambers"] == exact_chambers(data.X).p


def test_bad_arguments():
    data = load_dataset("default")
    prob = Problem.create(data.X, data.y, 0.1)
    src = ChamberSource.from_patterns(exact_chambers(data.X))
    for kw in ({"max_rounds": 0}, {"max_add": 0}, {"drop_after": 0}, {"time_limit": -1.0}):
        with pytest.raises(InputError):
            solve_working_set(prob, src, **kw)
    with pytest.raises(InputError, match="strategy"):
        hc.solve(data.X, data.y, 0.1, strategy="columns")


def test_replayed_stream_equals_the_stream(monkeypatch):
    """ChamberSource.all_chambers records its first complete pass (bit-packed) and replays it:
    every pass yields the stream's chunks, in order, as Fortran bool arrays; a record over the
    byte budget (or a budget of 0) streams every pass instead; an interrupted first pass records
    nothing."""
    import hiddenconvex.patterns as hp

    X = np.random.default_rng(0).standard_normal((13, 3))
    ref = list(hp.iter_chambers(X, 7))
    calls = []
    real = hp.iter_chambers

    def counting(X, chunk):
        calls.append(chunk)
        return real(X, chunk)

    monkeypatch.setattr(hp, "iter_chambers", counting)
    for budget, streams in ((1 << 20, 1), (100, 3), (0, 3)):
        calls.clear()
        src = ChamberSource.all_chambers(X, chunk=7, replay_bytes=budget)
        for _ in range(3):
            got = list(src.chunks())
            assert len(got) == len(ref)
            for (D, W), (Dr, Wr) in zip(got, ref, strict=True):
                assert D.dtype == bool and D.flags.f_contiguous
                assert np.array_equal(D, Dr) and np.array_equal(W, Wr)
        assert len(calls) == streams
    calls.clear()
    src = ChamberSource.all_chambers(X, chunk=7)
    it = src.chunks()
    next(it)
    it.close()  # interrupted: nothing recorded
    assert len(list(src.chunks())) == len(ref) and len(calls) == 2
    assert len(list(src.chunks())) == len(ref) and len(calls) == 2  # the second pass recorded
    with pytest.raises(InputError, match="replay_bytes"):
        ChamberSource.all_chambers(X, replay_bytes=-1)
