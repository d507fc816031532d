"""The active-set Newton polish of (ŷ, λ) (hiddenconvex._polish): face projectors and the restricted
KKT system against closed forms, and the dual point computing each block projection once."""

import numpy as np
import pytest
from tolerances import rounding

from hiddenconvex import Problem
from hiddenconvex._polish import _face_projector, _restricted_kkt
from hiddenconvex.losses import get_loss
from hiddenconvex.optimal_set import Tolerances, optimal_set
from hiddenconvex.tolerances import POLISH_FACE, POLISH_RESIDUAL

pytest.importorskip("hiddenconvex.certificate")

# rows x1 = e1, x2 = e2, x3 = (1, 1, 1): the faces of the arrangement are known in closed form
X3 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])


@pytest.mark.parametrize("s, expected", [
    ((0.0, 1.0, 1.0), np.diag([0.0, 1.0, 1.0])),             # on x1 = 0 only: I − e1 e1ᵀ
    ((0.0, 0.0, 1.0), np.diag([0.0, 0.0, 1.0])),             # on x1 = x2 = 0: e3 e3ᵀ
    ((1.0, 1.0, 1.0), np.eye(3)),                            # interior: no face row
    ((1e-3 * POLISH_FACE, 1.0, 1.0), np.diag([0.0, 1.0, 1.0])),  # within the face tolerance
    ((1e3 * POLISH_FACE, 1.0, 1.0), np.eye(3)),               # beyond it: interior
])
def test_face_projector_closed_form(s, expected):
    s = np.asarray(s) / np.linalg.norm(s)
    P = _face_projector(X3, s)
    # an SVD-based projector N Nᵀ of 3×3 data: rounding of a few 3-term products
    assert np.abs(P - expected).max() <= rounding(1.0, 16)


def test_restricted_kkt_o9_closed_form():
    """O9: X = (1, −1), y = (3, 2), β = 1 with the two optimal blocks (patterns (1, 0) and (0, 1),
    directions ±1, no face rows): G_1 = diag(1, 0), G_2 = diag(0, 1). KKT: λ = y − ŷ with
    λ_k² = β² and ŷ = Σ μ_k G_k λ, so λ = (1, 1), ŷ = (2, 1), μ = (2, 1)."""
    loss, y, beta = get_loss("squared"), np.array([3.0, 2.0]), 1.0
    G = [np.diag([1.0, 0.0]), np.diag([0.0, 1.0])]
    yhat0 = np.array([2.1, 0.9])
    yh, mu, res = _restricted_kkt(loss, y, beta, G, yhat0, np.array([1.5, 1.5]))
    assert res <= POLISH_RESIDUAL
    # the Jacobian of F = ((ŷ − Σμ_k G_k λ)/s, ½(λᵀG_kλ/β² − 1)) at the solution, s = ‖ŷ0‖, in
    # closed form; ‖x − x*‖ ≤ ‖F(x)‖/σ_min(J) to first order (F is quadratic: the second-order
    # term is ~‖x − x*‖², negligible), and ‖F(x)‖ ≤ res + the rounding of its evaluation
    s = float(np.linalg.norm(yhat0))
    J = np.array([[3 / s, 0, -1 / s, 0], [0, 2 / s, 0, -1 / s], [-1, 0, 0, 0], [0, -1, 0, 0]])
    err = (res + rounding(3.0, 16)) / np.linalg.svd(J, compute_uv=False)[-1]
    assert np.linalg.norm(np.r_[yh - [2.0, 1.0], mu - [2.0, 1.0]]) <= 2 * err


def test_dual_point_projects_each_dual_once(monkeypatch):
    """M(λ_solver) is the largest norm of the block projections the polish starts from (and that
    give E without a polish): no separate M(λ) sweep, no projections computed twice at one λ. The
    solver's point is judged as M(λ_solver) over all chambers decides."""
    import hiddenconvex.certificate as cert

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    prob = Problem.create(X, rng.normal(size=5) * 2, 0.1)
    S0 = optimal_set(prob)
    lam_solver = prob.loss.dual_point(S0.solution.yhat, prob.y)
    M_solver = cert.max_correlation(X, lam_solver, S0.patterns)
    calls = {"projections": [], "max_correlation": 0}
    projections, max_correlation = cert.cone_projections, cert.max_correlation

    def counting_projections(X, lam, patterns, **kw):
        calls["projections"].append(np.array(lam, dtype=float))
        return projections(X, lam, patterns, **kw)

    def counting_max(*args, **kw):
        calls["max_correlation"] += 1
        return max_correlation(*args, **kw)

    monkeypatch.setattr(cert, "cone_projections", counting_projections)
    monkeypatch.setattr(cert, "max_correlation", counting_max)
    for polish in (True, False):
        calls["projections"].clear()
        S = optimal_set(prob, S0.patterns, solution=S0.solution, polish=polish)
        assert S.polished == polish and calls["max_correlation"] == 0
        lams = calls["projections"]
        assert np.array_equal(lams[0], lam_solver)
        assert len({lam.tobytes() for lam in lams}) == len(lams)  # each λ projected once
        if not polish:
            assert len(lams) == 1  # M(λ_solver) and E from the same projections
        assert S.solution_optimal == (M_solver <= prob.beta * (1 + Tolerances().certificate))
