"""The polytope 𝒫 = {a ≥ 0 : Za = ŷ*} (hiddenconvex._polytope): the MILP for m* against brute force,
its failure mode, and HiGHS kept silent without touching the process's file descriptors."""

import itertools
import os

import numpy as np
import pytest
from scipy.optimize import nnls
from tolerances import rounding

from hiddenconvex import Problem
from hiddenconvex._polytope import _m_star_milp
from hiddenconvex.errors import SolverError
from hiddenconvex.optimal_set import optimal_set

pytest.importorskip("hiddenconvex.certificate")

# The fits of the six optimal candidates of the "Mercedes" problem (tests/test_optimal_set.py):
# e1, e2, e3 and the midpoints (e_i + e_j)/2, all on the plane 1ᵀz = 1.
Z6 = np.array([[1, 0, 0, 0.5, 0.5, 0], [0, 1, 0, 0.5, 0, 0.5], [0, 0, 1, 0, 0.5, 0.5]])


def _brute_m_star(Z, yhat, tol):
    """Smallest support whose cone contains yhat to ``tol`` (NNLS over every support)."""
    for size in range(1, Z.shape[1] + 1):
        for S in itertools.combinations(range(Z.shape[1]), size):
            if nnls(Z[:, list(S)], yhat)[1] <= tol:
                return size
    return None


@pytest.mark.parametrize("yhat", [(1.0, 1.0, 2.0), (1.0, 2.0, 3.0), (0.5, 0.5, 0.0), (1, 1, 1)])
def test_m_star_milp_brute_force(yhat):
    yhat = np.asarray(yhat, dtype=float)
    # every column sums to 1, so Σ_k a_k = 1ᵀŷ on 𝒫: an exact big-M for every a_k
    U = np.full(6, yhat.sum())
    slack = rounding(yhat.sum(), 16)  # Z and ŷ are exact: only the rounding of Z a
    supp, proven, bound = _m_star_milp(Z6, yhat, U, 60.0, slack)
    assert proven and supp.size == _brute_m_star(Z6, yhat, 3 * slack)
    # HiGHS's dual bound proves the minimum up to its feasibility tolerance
    assert bound is not None and bound <= supp.size
    a, res = nnls(Z6[:, supp], yhat)
    assert res <= 3 * slack and np.all(a > 0)


def test_m_star_milp_infeasible_raises():
    # every fit is >= 0: no nonnegative combination reaches a negative entry
    with pytest.raises(SolverError, match=r"MILP for m\* failed"):
        _m_star_milp(Z6, np.array([-1.0, 0.0, 0.0]), np.full(6, 4.0), 60.0, 1e-12)


def test_milp_never_touches_file_descriptors(monkeypatch):
    """The core must not swap the process's stdout: HiGHS is silenced through its own option."""
    def refuse(*args):
        raise AssertionError("os.dup/os.dup2 called: a file descriptor was swapped")

    rng = np.random.default_rng(10)
    X = rng.normal(size=(20, 2))
    prob = Problem.create(X, rng.normal(size=20), 0.1)
    S = optimal_set(prob, m_star_method="enumerate")
    with monkeypatch.context() as m:  # only around the call (pytest's capture uses dup2 itself)
        m.setattr(os, "dup", refuse)
        m.setattr(os, "dup2", refuse)
        mil = optimal_set(prob, solution=S.solution, m_star_method="milp")
    assert mil.m_star_method == "milp" and mil.m_star == S.m_star == mil.m_star_lower


def test_milp_prints_nothing_on_stdout(capfd):
    """wine_pca2 (bias), β = 0.1 takes the MILP path ("auto": too many supports to enumerate); the
    HiGHS MIP solver bundled with scipy prints debug lines there from C++ whatever its options.
    Nothing may reach file descriptor 1 (``--json`` output must stay parseable)."""
    from hiddenconvex.experiments.datasets import load_dataset

    ds = load_dataset("wine_pca2")
    S = optimal_set(Problem.create(ds.X, ds.y, 0.1))
    out, err = capfd.readouterr()
    assert S.m_star_method == "milp" and S.m_star == S.m_star_lower and not S.warnings
    assert out == ""
    assert "Highs" not in err and "HiGHS" not in err
    # the minimal support passes the package's support test (Tolerances.support, polished)
    sup = np.flatnonzero(S.m_star_coefficients > 0)
    assert sup.size == S.m_star
    assert nnls(S.fits[:, sup], S.yhat)[1] <= S.tolerances.support * max(1.0,
                                                                          np.linalg.norm(S.yhat))
