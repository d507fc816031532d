"""Shared references and tolerances of the inverse-stability tests (tests/test_shallow.py,
test_sobolev.py, test_spaces.py, test_orbits.py, test_reparametrization.py, test_pathologies.py;
SPEC §5).

References here are independent of the code under test: brute-force chamber enumeration
(tests/oracles.py, one LP per sign vector), dense sampling of gradients, an LP per chamber for the
uniform norm, dense grids in the rescaling t and enumeration of all permutations.

Tolerances (issue 12). Almost every comparison of these tests is between two evaluations of one
exact quantity (a closed form of the SPEC, the package's exact algorithm, an independent
re-implementation here), so it is held to rounding: |a − b| ≤ k·eps·scale (:func:`close`), with
``scale`` the size of the terms (default |b|; :func:`jac_scale` / :func:`fit_scale` where the result
may cancel) and k a budget of rounded operations: 8 for a closed form of a few operations, 64 for a
few dozen (a realization, a Jacobian, a norm), 512–4096 where an enumeration of chambers, an
assignment or a reparametrization sits in between (their sums run over ≤ a few hundred terms).
Comparisons with a method that has its own accuracy are derived where they occur: HiGHS
(:func:`lp_error`), the log grid of :func:`brute_orbit_distance` (:func:`orbit_grid_error`),
finite differences.
"""

import itertools
import math

import numpy as np
from oracles import brute_chambers
from scipy.optimize import linprog

from hiddenconvex.stability.shallow import ShallowNetwork, balance

SQ2 = math.sqrt(2.0)


def slack(bound, *nets) -> float:
    """The package's rounding slack for the theorems' inequalities
    (hiddenconvex.stability.reparametrization:
    _SLACK_REL·bound + _SLACK_ABS·max(1, ‖Γ‖, ‖Θ‖), entries' max norm)."""
    from hiddenconvex.stability.reparametrization import _SLACK_ABS, _SLACK_REL

    size = max([1.0] + [float(max(np.abs(n.A).max(initial=0), np.abs(n.C).max(initial=0)))
                        for n in nets])
    return _SLACK_REL * bound + _SLACK_ABS * size


def close_tol(b, k=64) -> float:
    """The rounding allowance k·eps·|b| of close()."""
    return k * np.finfo(float).eps * abs(b)


def close(a, b, k, scale=None) -> bool:
    """|a − b| ≤ k·eps·scale elementwise (scale: default |b|)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.abs(b) if scale is None else scale
    return bool(np.all(np.abs(a - b) <= k * np.finfo(float).eps * np.asarray(scale)))


def jac_scale(net) -> float:
    """Size of the terms of a Jacobian Σ_active c_i a_i^T (or of a realization on the unit box):
    Σ_i max|c_i| max|a_i|."""
    A, C = np.atleast_2d(net.A), np.atleast_2d(net.C)
    return float(np.sum(np.max(np.abs(C), axis=0) * np.max(np.abs(A), axis=1)))


def fit_scale(net, X) -> float:
    """Size of the terms of a realization at X: max_x Σ_i |c_i| |a_i^T x| (and ≥ 1)."""
    A, C = np.atleast_2d(net.A), np.atleast_2d(net.C)
    return max(1.0, float((np.abs(np.atleast_2d(X) @ A.T) @ np.abs(C).T).max(initial=0.0)))


def lp_error(net, lo=-1.0, hi=1.0) -> float:
    """Accuracy of lp_sup_box: HiGHS stops at a basis that is optimal and feasible to its
    tolerances (primal and dual 1e-7, absolute); over the box (width w = hi − lo in each of d
    coordinates) an objective with gradient ≤ jac_scale in each entry moves by at most
    1e-7·(d·w·jac_scale + 1) for such a basis; plus rounding."""
    w = float(np.max(np.asarray(hi, float) - np.asarray(lo, float)))
    g = jac_scale(net)
    return 1e-7 * (net.d * w * g + 1.0) + 64 * np.finfo(float).eps * max(1.0, net.d * w * g)


def log_grid_error(value, big, n_t) -> float:
    """Grid minimum − exact minimum ≤ this, for F(t) = max(|t a − a'|∞, |c/t − c'|∞) on the
    geometric grid of n_t points in [1e-3, 1e3] (ratio r = 10^(6/(n_t − 1))): t* has a grid
    point within a factor sqrt(r), where F grows by ≤ (sqrt(r) − 1)·sqrt(r)·max(t*|a|, |c|/t*)
    ≤ (r − 1)(value + big), since t*|a| and |c|/t* are ≤ value + big (big = max(|a'|, |c'|)) by
    the triangle inequality at the optimum. Plus rounding."""
    r = 10.0 ** (6.0 / (n_t - 1))
    return (r - 1.0) * (value + big) + 64 * np.finfo(float).eps * (value + big)


def orbit_grid_error(theta, gamma, value, n_t=20001) -> float:
    """brute_orbit_distance(theta, gamma) − exact ≤ this (≥ 0 up to rounding: a grid minimum is
    an upper bound): every slot's cost is a log_grid_error-accurate grid minimum (big = the
    largest entry of either network, ≥ max|Γ|); the permutation's max and min keep the bound."""
    big = max(float(np.max(np.abs(n.A))) for n in (theta, gamma))
    big = max(big, *(float(np.max(np.abs(n.C))) for n in (theta, gamma)))
    return log_grid_error(value, big, n_t)


# ------------------------------------------------------------------------------ references
def ref_seminorm(net):
    """max over brute-force chambers of the raw rows (no dedup) of max |Σ_active c_i a_i^T|."""
    keep = np.any(net.A != 0, axis=1)
    A, C = net.A[keep], net.C[:, keep]
    if A.shape[0] == 0:
        return 0.0
    P = brute_chambers(A)
    best = 0.0
    for s in range(P.p):
        act = P.D[:, s]
        J = C[:, act] @ A[act]
        best = max(best, float(np.max(np.abs(J))) if J.size else 0.0)
    return best


def sampled_seminorm(net, n=20000, seed=0):
    """Lower bound: max over random Gaussian points of the active-set Jacobian."""
    X = np.random.default_rng(seed).normal(size=(n, net.d))
    act = (X @ net.A.T) > 0
    best = 0.0
    for chunk in np.array_split(np.arange(n), 10):
        J = np.einsum("ni,ki,il->nkl", act[chunk].astype(float), net.C, net.A)
        best = max(best, float(np.max(np.abs(J))))
    return best


def lp_sup_box(net, lo=-1.0, hi=1.0):
    """sup_{box} |h| by one LP per brute-force chamber and output and sign (max of a linear
    function)."""
    keep = np.any(net.A != 0, axis=1)
    A, C = net.A[keep], net.C[:, keep]
    d = net.d
    P = brute_chambers(A) if A.shape[0] else None
    best = 0.0
    chambers = range(P.p) if P is not None else [None]
    for s in chambers:
        act = P.D[:, s] if P is not None else np.zeros(0, bool)
        sgn = P.signs[:, s] if P is not None else np.zeros(0)
        J = C[:, act] @ A[act] if act.any() else np.zeros((C.shape[0], d))
        A_ub = -(sgn[:, None] * A) if A.shape[0] else None
        b_ub = np.zeros(A.shape[0]) if A.shape[0] else None
        for k in range(J.shape[0]):
            for sign in (1, -1):
                res = linprog(-sign * J[k], A_ub=A_ub, b_ub=b_ub, bounds=[(lo, hi)] * d,
                              method="highs")
                assert res.status == 0
                best = max(best, -res.fun)
    return best


def random_net(rng, d, m, D=1, zero=False, dup=False):
    A = rng.normal(size=(m, d)) * rng.uniform(0.3, 3, size=(m, 1))
    C = rng.normal(size=(D, m))
    if dup and m >= 3:
        A[1] = 2.5 * A[0]  # positively parallel
        A[2] = -0.7 * A[0]  # antiparallel
    if zero and m >= 2:
        A[-1] = 0.0
    return ShallowNetwork(A, C)


def random_star(rng, d, m, D=1):
    A = rng.normal(size=(m, d))
    A[:, -2:] = np.abs(A[:, -2:]) + 0.2
    C = rng.normal(size=(D, m))
    C[:, np.max(np.abs(C), axis=0) < 0.1] = 0.5
    return balance(ShallowNetwork(A, C))


def check_star(net, tol=1e-9):
    """Independent N* membership test."""
    na = np.max(np.abs(net.A), axis=1)
    nc = np.max(np.abs(net.C), axis=0)
    assert np.all(np.abs(na - nc) <= tol * np.maximum(na, nc))
    assert np.all(net.A[:, -2:] > 0)
    U = net.A / na[:, None]
    for i, j in itertools.combinations(range(net.width), 2):
        assert np.max(np.abs(U[i] - U[j])) > 1e-8


def brute_orbit_distance(theta, gamma, n_t=20001):
    """min over permutations of max over slots of a dense-grid min over t (upper bound, near
    exact)."""
    t = np.exp(np.linspace(np.log(1e-3), np.log(1e3), n_t))
    m = theta.width
    cost = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            F = np.maximum(np.max(np.abs(np.outer(t, theta.A[j]) - gamma.A[i]), axis=1),
                           np.max(np.abs(np.outer(1 / t, theta.C[:, j]) - gamma.C[:, i]), axis=1))
            cost[i, j] = F.min()
    return min(max(cost[i, p[i]] for i in range(m)) for p in itertools.permutations(range(m)))


def o33_networks():
    """The networks of oracle O33 (balancing, merging, N'): ten random nets in N_(3,5,2) with a
    positively parallel, an antiparallel and a zero neuron, every other one also with a neuron
    a ≠ 0, c = 0; yields (X, net) with 200 fixed points X."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    for trial in range(10):
        net = random_net(rng, 3, 5, D=2, zero=True, dup=True)
        if trial % 2:  # a neuron with a != 0 and c = 0
            C = net.C.copy()
            C[:, 3] = 0.0
            net = ShallowNetwork(net.A, C)
        yield X, net
