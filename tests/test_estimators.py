"""scikit-learn estimators (hiddenconvex.estimators): the sklearn contract and the plumbing to
:func:`hiddenconvex.solve`.

Tolerances: an estimator and :func:`hiddenconvex.solve` called with the same data, β, patterns,
solver and seed run the SAME deterministic computation, so their numbers are compared for
equality; a closed-form optimum is met to the interior-point bound of tests/tolerances.py.
"""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn (the `test` extra) is not installed")

from reference_problems import get as reference  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from tolerances import IP_REFERENCE, REACHABLE, solve_error  # noqa: E402

import hiddenconvex as hc  # noqa: E402
from hiddenconvex.estimators import (  # noqa: E402
    DEFAULT_BETA,
    DEFAULT_MAX_CHAMBERS,
    DEFAULT_MAX_EXACT,
    ConvexReLUClassifier,
    ConvexReLURegressor,
)
from hiddenconvex.patterns import cover_bound  # noqa: E402


@parametrize_with_checks([ConvexReLURegressor(), ConvexReLUClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    """scikit-learn's own API contract, on the DEFAULT estimators (no check is marked)."""
    check(estimator)


def _data(n=8, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.abs(X[:, 0]) - 0.5 * X[:, -1] + 0.1 * rng.standard_normal(n)


def test_regressor_is_solve():
    """fit = solve(X, y, β) on the same chambers: identical objective, weights and predictions."""
    X, y = _data()
    assert cover_bound(X) <= DEFAULT_MAX_EXACT  # both take every chamber ("auto" → exact)
    beta = 0.3
    reg = ConvexReLURegressor(beta=beta, bias=False).fit(X, y)
    res = hc.solve(X, y, beta)
    assert res.patterns.method == reg.result_.patterns.method == "exact"
    assert reg.objective_ == res.objective == reg.result_.objective
    np.testing.assert_array_equal(reg.result_.weights.W, res.weights.W)
    assert reg.certified_ and res.certified and reg.certificate_ is reg.result_.certificate
    X_new = np.random.default_rng(1).standard_normal((5, 2))
    pred = reg.predict(X_new)
    np.testing.assert_array_equal(pred, res.network().predict(X_new))
    np.testing.assert_array_equal(pred, reg.network_.predict(X_new))
    assert pred.shape == (5,) and np.ptp(pred) > 0  # a nonconstant fit (β < β_max)


def test_regressor_bias_column_and_sampling_seed():
    """bias=True fits on [X, 1]; an int random_state is the sampling seed of solve."""
    X, y = _data(n=30, d=3)
    assert cover_bound(hc.api.add_bias(X)) > DEFAULT_MAX_EXACT  # "auto" samples here
    reg = ConvexReLURegressor(beta=0.5, n_samples=17, random_state=3).fit(X, y)
    # the estimator's call: bound="enumerate" (no search, hence no search columns)
    res = hc.solve(X, y, 0.5, bias=True, patterns="sample", n_samples=17, seed=3,
                   max_chambers=DEFAULT_MAX_CHAMBERS, bound="enumerate")
    assert reg.result_.bias and reg.seed_ == 3 and reg.result_.patterns.seed == 3
    np.testing.assert_array_equal(reg.result_.problem.X[:, -1], np.ones(30))
    np.testing.assert_array_equal(reg.result_.patterns.D, res.patterns.D)
    assert reg.objective_ == res.objective
    np.testing.assert_array_equal(reg.predict(X), res.predict(X))
    other = ConvexReLURegressor(beta=0.5, n_samples=17, random_state=4).fit(X, y)
    assert not np.array_equal(other.result_.patterns.D, reg.result_.patterns.D)
    drawn = ConvexReLURegressor(random_state=np.random.RandomState(0))
    assert isinstance(drawn.fit(X, y).seed_, int)


def test_regressor_meets_closed_form():
    """An independent reference: the collinear 1-D group lasso (tests/reference_problems.py)."""
    ref = reference("collinear_3pts")
    tol = REACHABLE["clarabel"]
    reg = ConvexReLURegressor(beta=ref.beta, bias=False, tol=tol).fit(ref.X, ref.y)
    sol = reg.result_.solution
    assert abs(reg.objective_ - ref.value) <= solve_error(sol, IP_REFERENCE)
    assert reg.certified_


def test_classifier_text_labels():
    """Two text labels on a separable set: classes_ sorted, −1/+1 coding, labels back."""
    X = np.array([[-2.0, 0.5], [-1.5, -1.0], [-1.0, 0.2], [-2.5, 1.0],
                  [1.0, 0.3], [1.5, -0.5], [2.0, 1.0], [2.5, -1.2]])
    y = np.array(["dog", "dog", "dog", "dog", "cat", "cat", "cat", "cat"])
    clf = ConvexReLUClassifier(beta=0.1).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog"])
    np.testing.assert_array_equal(clf.result_.problem.y, np.where(y == "dog", 1.0, -1.0))
    assert clf.result_.patterns.complete and clf.certified_  # Cover bound 58: all chambers
    f = clf.decision_function(X)
    assert f.shape == (8,)
    np.testing.assert_array_equal(f > 0, y == "dog")  # separable, β small: every sign right
    np.testing.assert_array_equal(clf.predict(X), y)
    assert clf.predict(X).dtype == y.dtype
    assert clf.score(X, y) == 1.0
    np.testing.assert_array_equal(f, clf.result_.predict(X))


@pytest.mark.parametrize("y, match", [
    (np.array(["a", "b", "c", "a", "b", "c"]), "Only binary classification is supported"),
    (np.array(["a"] * 6), "only 1 class"),
])
def test_classifier_needs_two_classes(y, match):
    X, _ = _data(n=6)
    with pytest.raises(hc.InputError, match=match):
        ConvexReLUClassifier().fit(X, y)


def test_hinge_classifier():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    clf = ConvexReLUClassifier(beta=0.2, loss="hinge").fit(X, y)
    res = hc.solve(X, np.where(y == 1, 1.0, -1.0), 0.2, loss="hinge", bias=True)
    assert clf.objective_ == res.objective and clf.certified_
    np.testing.assert_array_equal(clf.predict(X), y)


@pytest.mark.parametrize("est, bad", [
    (ConvexReLURegressor(loss="logistic"), "unknown loss"),
    (ConvexReLUClassifier(loss="squared"), "unknown loss"),
    (ConvexReLURegressor(patterns="all"), "unknown patterns"),
    (ConvexReLURegressor(beta=0.0), "beta must be finite and > 0"),
    (ConvexReLURegressor(bias="yes"), "bias must be True or False"),
    (ConvexReLURegressor(random_state=-1), "random_state must be"),
])
def test_bad_parameters_fail_at_fit(est, bad):
    """__init__ stores anything (sklearn's rule); fit names the bad parameter."""
    X, y = _data()
    yc = (y > np.median(y)).astype(int)
    with pytest.raises(hc.InputError, match=bad):
        est.fit(X, yc if isinstance(est, ConvexReLUClassifier) else y)


def test_certify_false():
    X, y = _data()
    reg = ConvexReLURegressor(certify=False).fit(X, y)
    assert reg.certificate_ is None and reg.certified_ is False


def test_params_round_trip():
    reg = ConvexReLURegressor(beta=0.25, n_samples=11, tol=1e-7)
    params = reg.get_params()
    assert params["beta"] == 0.25 and params["n_samples"] == 11 and params["tol"] == 1e-7
    assert ConvexReLURegressor().get_params()["beta"] == DEFAULT_BETA
    assert set(params) == {"beta", "loss", "bias", "patterns", "n_samples", "max_exact",
                           "max_chambers", "solver", "tol", "certify", "random_state"}
    assert ConvexReLUClassifier().get_params().keys() == params.keys()
    assert ConvexReLUClassifier().get_params()["loss"] == "logistic"
    assert reg.set_params(beta=2.0, bias=False) is reg
    assert reg.get_params()["beta"] == 2.0 and reg.get_params()["bias"] is False
    X, y = _data()
    reg.fit(X, y)
    pred = reg.predict(X)
    reg.set_params(bias=True, beta=5.0)  # parameters change; the fitted model does not
    np.testing.assert_array_equal(reg.predict(X), pred)
    reg.set_params(bias=False, beta=2.0)
    copy = clone(reg)
    assert copy.get_params() == reg.get_params()
    assert not hasattr(copy, "result_")
    assert copy.fit(X, y).objective_ == reg.objective_  # same parameters: the same solve


def test_pipeline_with_scaler():
    """StandardScaler → regressor equals fitting the regressor on the scaled data by hand."""
    X, y = _data(n=10, d=1)
    X = 100.0 * X + 7.0
    pipe = make_pipeline(StandardScaler(), ConvexReLURegressor(beta=0.2)).fit(X, y)
    Z = StandardScaler().fit_transform(X)
    res = hc.solve(Z, y, 0.2, bias=True)
    assert pipe[-1].objective_ == res.objective and pipe[-1].certified_
    X_new = np.linspace(-300.0, 300.0, 7)[:, None]
    np.testing.assert_array_equal(pipe.predict(X_new), res.predict(pipe[0].transform(X_new)))
    assert pipe.score(X, y) == pipe[-1].score(Z, y)


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    df = pd.DataFrame(X, columns=["a", "b"])
    reg = ConvexReLURegressor().fit(df, y)
    np.testing.assert_array_equal(reg.feature_names_in_, ["a", "b"])
    with pytest.warns(UserWarning, match="feature names"):  # fitted with names, given none
        np.testing.assert_array_equal(reg.predict(df), reg.predict(X))


def test_beyond_beta_max_zero_network():
    """β ≥ β_max: the zero network is optimal (SPEC §2.4), f ≡ 0 exactly, and the tie f = 0
    predicts classes_[0] (scikit-learn's rule: classes_[1] iff decision_function > 0)."""
    X, _ = _data(n=8)
    y = np.array([1, 2, 1, 2, 2, 1, 2, 2])
    beta_max = hc.solve(X, np.where(y == 2, 1.0, -1.0), 1.0, loss="logistic", bias=True).beta_max
    clf = ConvexReLUClassifier(beta=2.0 * beta_max).fit(X, y)
    assert not np.any(clf.result_.weights.W) and clf.certified_
    np.testing.assert_array_equal(clf.decision_function(X), np.zeros(8))
    np.testing.assert_array_equal(clf.predict(X), np.ones(8, dtype=int))  # classes_[0] = 1
    reg = ConvexReLURegressor(beta=1e6).fit(X, y.astype(float))
    np.testing.assert_array_equal(reg.predict(X), np.zeros(8))
