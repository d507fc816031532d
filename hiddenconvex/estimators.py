r"""scikit-learn estimators on the hidden convex program: :class:`ConvexReLURegressor` and
:class:`ConvexReLUClassifier`.

Both fit a two-layer ReLU network :math:`f(x) = \sum_i \sigma(\tilde x^T u_i)\,\alpha_i` with
weight decay by solving its hidden convex program with :func:`hiddenconvex.solve`, so ``fit`` is
deterministic, has no learning rate or initialization, and says whether its optimum is *proven*
global (``certified_``). :math:`\tilde x = [x, 1]` with ``bias=True`` (a *regularized* bias:
the ones column is a feature like any other, SPEC §1.1); there is no output offset.

.. code-block:: python

    from hiddenconvex.estimators import ConvexReLURegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), ConvexReLURegressor(beta=1.0)).fit(X, y)
    model.predict(X_new), model[-1].certified_

Defaults, and what ``certified_`` means. The convex program has one block per activation pattern
of the training data, and its cost grows with (patterns) × n × d. ``patterns="auto"`` (default)
uses ALL chambers when Cover's bound on their number is at most ``max_exact``
(:data:`DEFAULT_MAX_EXACT` = 500: e.g. 1-D inputs with n ≤ 250 points, 2-D inputs with
n ≤ 22, counting the ones column of ``bias=True``): then the optimum is the global one and
``certified_`` is True. Above it, ``n_samples`` seeded Gaussian gates
(:data:`DEFAULT_N_SAMPLES` = 20) are drawn: the fit is the optimum over the networks whose
neurons have the sampled activation patterns, an upper bound on the global optimum, and the dual
certificate over all chambers (enumerated when Cover's bound is at most ``max_chambers``,
:data:`DEFAULT_MAX_CHAMBERS` = 2,000: 2-D inputs with n ≤ 45) decides whether it is also
global. ``certified_`` is that answer (False when no proof was attempted) and ``certificate_``
its evidence (M(λ), lower bound, gap). The defaults keep one fit on n = 200, d = 10 under a
second of CPU (``check_estimator`` runs dozens of fits); for a better fit or a proof on larger
data raise ``n_samples``, ``max_chambers`` or ``max_exact`` (or pass ``patterns="exact"``).

scikit-learn is an optional dependency (``pip install 'hiddenconvex[sklearn]'``); the rest of the
package never imports this module.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("hiddenconvex.estimators needs scikit-learn >= 1.4: "
                      "pip install 'hiddenconvex[sklearn]'") from exc

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.4, 1.5
    def _validate_data(estimator, X="no_validation", y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)

from .api import Result, add_bias, solve
from .errors import InputError
from .patterns import enumerate_patterns
from .solvers import DEFAULT_SOLVER

__all__ = [
    "ConvexReLURegressor",
    "ConvexReLUClassifier",
    "DEFAULT_BETA",
    "DEFAULT_MAX_EXACT",
    "DEFAULT_N_SAMPLES",
    "DEFAULT_MAX_CHAMBERS",
]

#: Default weight decay β. With the package's scaling (a SUM of losses, no 1/n) β = 1 is the
#: weight decay of scikit-learn's own linear defaults: ``Ridge(alpha=1)`` minimizes
#: ‖y − Xw‖² + ‖w‖² = 2(½‖y − Xw‖² + ½‖w‖²) and ``LogisticRegression(C=1)`` minimizes
#: C Σ log(1 + e^{−y xᵀw}) + ½‖w‖², i.e. loss + (β/2)‖weights‖² with β = α = 1/C = 1, as here.
#: Like theirs it is absolute, not relative to the data: the zero network is optimal for
#: β ≥ β_max (``result_.beta_max``), which grows with n and with the scale of X and y.
DEFAULT_BETA = 1.0

#: ``patterns="auto"``: all chambers when Cover's bound is at most this, else sampling.
DEFAULT_MAX_EXACT = 500

#: ``patterns="sample"`` (and ``"auto"`` above :data:`DEFAULT_MAX_EXACT`): Gaussian gates drawn.
#: Measured on the shared 2-core machine (n = 200, d = 10, bias): 20 gates take about 0.7 s of
#: CPU per fit, 50 gates 1.4 s; the ``check_estimator`` runs of both estimators take 21 s and
#: 32 s of CPU. 20 keeps them well under a minute.
DEFAULT_N_SAMPLES = 20

#: The certificate of a sampled list enumerates all chambers only when Cover's bound is at most
#: this (else ``certified_`` is False: no proof is attempted). Certifying costs about one
#: projection per chamber and row (~0.5 s for 2,500 chambers and n = 50, ~10 s for 40,000 and
#: n = 200), much less than solving on all of them.
DEFAULT_MAX_CHAMBERS = 2_000


def _check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def _seed(random_state) -> int:
    """The non-negative int seed for :func:`hiddenconvex.solve` from sklearn's random_state."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InputError(f"random_state must be a non-negative integer, RandomState or None, "
                             f"got {random_state!r}")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _ConvexReLU(BaseEstimator):
    """Shared fit / decision logic; subclasses define the losses and the labels."""

    _losses: tuple[str, ...] = ()

    def __init__(self, beta=DEFAULT_BETA, loss="squared", *, bias=True, patterns="auto",
                 n_samples=None, max_exact=DEFAULT_MAX_EXACT, max_chambers=DEFAULT_MAX_CHAMBERS,
                 solver=DEFAULT_SOLVER, tol=None, certify=True, random_state=0):
        self.beta = beta
        self.loss = loss
        self.bias = bias
        self.patterns = patterns
        self.n_samples = n_samples
        self.max_exact = max_exact
        self.max_chambers = max_chambers
        self.solver = solver
        self.tol = tol
        self.certify = certify
        self.random_state = random_state

    def _solve(self, X: np.ndarray, y: np.ndarray) -> None:
        """Solve on validated X (n, d) and targets y (n,) in the loss's convention; set state."""
        loss = _check_choice("loss", self.loss, self._losses)
        method = _check_choice("patterns", self.patterns, ("auto", "exact", "sample"))
        if not isinstance(self.bias, bool | np.bool_):
            raise InputError(f"bias must be True or False, got {self.bias!r}")
        seed = _seed(self.random_state)
        n_samples = DEFAULT_N_SAMPLES if self.n_samples is None else self.n_samples
        Xa = add_bias(X) if self.bias else X
        pats = enumerate_patterns(Xa, method, n_samples=n_samples, seed=seed,
                                  max_exact=self.max_exact)
        res: Result = solve(X, y, self.beta, loss=loss, patterns=pats, bias=bool(self.bias),
                            solver=self.solver, tol=self.tol, seed=seed, certify=self.certify,
                            max_chambers=self.max_chambers, bound="enumerate")
        # bound="enumerate": certificate_ over the chambers when they are affordable (a fit stays
        # a fit, not a minute of search); hiddenconvex.solve(..., bound="search") gives the
        # anytime bound where they are not
        self.result_ = res
        self.network_ = res.network()
        self.objective_ = res.objective
        self.certificate_ = res.certificate
        self.certified_ = res.certified
        self.seed_ = seed

    def _network_output(self, X) -> np.ndarray:
        """f(x) for every row of X (validated against the fitted feature count and names)."""
        check_is_fitted(self)
        X = _validate_data(self, X, dtype=np.float64, reset=False)
        return self.network_.predict(add_bias(X) if self.result_.bias else X)


class ConvexReLURegressor(RegressorMixin, _ConvexReLU):
    r"""Two-layer ReLU regression with weight decay, fitted by its hidden convex program.

    The network on input x ∈ R^d is :math:`f(x) = \sum_{i=1}^m \sigma(\tilde x^T u_i)\alpha_i`,
    σ = ReLU, :math:`\tilde x = [x, 1]` when ``bias=True`` (a regularized bias), else
    :math:`\tilde x = x`. ``fit`` minimizes, over the weights and the width m,

    .. math::

        \frac12 \sum_{j=1}^n \big(f(x_j) - y_j\big)^2
        + \frac\beta2 \sum_i \left(\|u_i\|_2^2 + \alpha_i^2\right)

    by solving its hidden convex program over the activation patterns :math:`D_k` of the
    training data (:func:`hiddenconvex.solve`, SPEC §2.1), whose optimum is the same number:

    .. math::

        \min_{w}\ \ell\Big(\sum_k \gamma_k D_k \tilde X w_k\Big) + \beta \sum_k \|w_k\|_2
        \quad\text{s.t.}\quad (2D_k - I)\tilde X w_k \ge 0,

    and ``network_`` = ψ(W*) has one neuron per nonzero block. Both objectives are sums over
    the samples, with no 1/n: β is on the scale of the unaveraged loss, like ``alpha`` of
    :class:`sklearn.linear_model.Ridge`. The patterns used and whether the optimum is proven:
    see the module docstring (pattern budget) and ``certified_``. Here ℓ(z) = ½‖z − y‖².

    Parameters
    ----------
    beta : float, default=1.0
        Weight decay β > 0 (:data:`DEFAULT_BETA`: the scaling of ``Ridge(alpha=1)`` and
        ``LogisticRegression(C=1)``). The zero network is optimal iff β ≥ β_max
        (``result_.beta_max``).
    loss : {"squared"}, default="squared"
        ½‖ŷ − y‖² (the only regression loss).
    bias : bool, default=True
        Append a ones column to X: a regularized bias of every hidden neuron.
    patterns : {"auto", "exact", "sample"}, default="auto"
        ``exact``: all chambers (the global optimum); ``sample``: ``n_samples`` Gaussian gates;
        ``auto``: exact when Cover's bound is at most ``max_exact``, else sampling.
    n_samples : int or None, default=None
        Gates for sampling (None: :data:`DEFAULT_N_SAMPLES` = 20).
    max_exact : int, default=500
        Cover-bound limit of ``patterns="auto"`` (:data:`DEFAULT_MAX_EXACT`).
    max_chambers : int or None, default=2000
        The certificate of a sampled list enumerates all chambers only when Cover's bound is at
        most this (:data:`DEFAULT_MAX_CHAMBERS`; None: no limit); above it ``certified_`` is
        False.
    solver : {"clarabel", "ecos", "scs"}, default="clarabel"
        Conic solver (:mod:`hiddenconvex.solvers`).
    tol : float or None, default=None
        Solver tolerance (None: the package's default for the solver, with one retry at a
        looser tolerance; :func:`hiddenconvex.solve`).
    certify : bool, default=True
        Check the dual certificate over all chambers (sets ``certified_``).
    random_state : int, RandomState instance or None, default=0
        Seed of the gate sampling: an int is passed as ``seed`` to :func:`hiddenconvex.solve`;
        None or a RandomState draws one (``seed_``).

    Attributes
    ----------
    result_ : hiddenconvex.Result
        The outcome of :func:`hiddenconvex.solve` (``result_.optimal_set``, ``to_dict()``, ...).
    network_ : hiddenconvex.ReLUNetwork
        ψ(W*), the fitted network; its inputs are [x, 1] when ``bias=True``.
    objective_ : float
        The objective above at the solution (convex and network objectives are equal).
    certificate_ : hiddenconvex.certificate.Certificate or None
        The dual certificate (None when ``certify=False``).
    certified_ : bool
        ``objective_`` is proven to be the global optimum (to the certificate's gap).
    seed_ : int
        The sampling seed used.
    n_features_in_ : int
        Number of features of X (without the ones column).
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from hiddenconvex.estimators import ConvexReLURegressor
    >>> X = np.linspace(-1, 1, 9)[:, None]
    >>> reg = ConvexReLURegressor(beta=0.01).fit(X, np.abs(X[:, 0]))
    >>> bool(reg.certified_)
    True
    """

    _losses = ("squared",)

    def fit(self, X, y):
        """Fit the network.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = _validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self._solve(X, np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        """The network's output f(x).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return self._network_output(X)


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLU):
    r"""Binary two-layer ReLU classification with weight decay, fitted by its hidden convex
    program.

    The two classes, sorted (``classes_``), are coded y = −1 (``classes_[0]``) and y = +1
    (``classes_[1]``); ``decision_function`` is f(x) and ``predict`` gives ``classes_[1]``
    where f(x) > 0, else ``classes_[0]``. For more than two classes wrap it in
    :class:`sklearn.multiclass.OneVsRestClassifier`.

    The network on input x ∈ R^d is :math:`f(x) = \sum_{i=1}^m \sigma(\tilde x^T u_i)\alpha_i`,
    σ = ReLU, :math:`\tilde x = [x, 1]` when ``bias=True`` (a regularized bias), else
    :math:`\tilde x = x`. ``fit`` minimizes, over the weights and the width m,

    .. math::

        \sum_{j=1}^n \log\big(1 + e^{-y_j f(x_j)}\big)
        + \frac\beta2 \sum_i \left(\|u_i\|_2^2 + \alpha_i^2\right)

    by solving its hidden convex program over the activation patterns :math:`D_k` of the
    training data (:func:`hiddenconvex.solve`, SPEC §2.1), whose optimum is the same number:

    .. math::

        \min_{w}\ \ell\Big(\sum_k \gamma_k D_k \tilde X w_k\Big) + \beta \sum_k \|w_k\|_2
        \quad\text{s.t.}\quad (2D_k - I)\tilde X w_k \ge 0,

    and ``network_`` = ψ(W*) has one neuron per nonzero block. Both objectives are sums over
    the samples, with no 1/n: β is on the scale of the unaveraged loss, like ``alpha`` of
    :class:`sklearn.linear_model.Ridge`. The patterns used and whether the optimum is proven:
    see the module docstring (pattern budget) and ``certified_``. Here ℓ(z) = Σ_j log(1 +
    e^{−y_j z_j}); with ``loss="hinge"`` both logistic sums (the network's and ℓ) are replaced
    by the hinge sum :math:`\sum_j \max(0, 1 - y_j z_j)`.

    Parameters
    ----------
    beta : float, default=1.0
        Weight decay β > 0 (:data:`DEFAULT_BETA`: the scaling of ``Ridge(alpha=1)`` and
        ``LogisticRegression(C=1)``). The zero network is optimal iff β ≥ β_max
        (``result_.beta_max``).
    loss : {"logistic", "hinge"}, default="logistic"
        Σ log(1 + e^{−y f}) or Σ max(0, 1 − y f). The hinge loss is not strictly convex:
        its optimal set (``result_.optimal_set``) is unavailable.
    bias : bool, default=True
        Append a ones column to X: a regularized bias of every hidden neuron.
    patterns : {"auto", "exact", "sample"}, default="auto"
        ``exact``: all chambers (the global optimum); ``sample``: ``n_samples`` Gaussian gates;
        ``auto``: exact when Cover's bound is at most ``max_exact``, else sampling.
    n_samples : int or None, default=None
        Gates for sampling (None: :data:`DEFAULT_N_SAMPLES` = 20).
    max_exact : int, default=500
        Cover-bound limit of ``patterns="auto"`` (:data:`DEFAULT_MAX_EXACT`).
    max_chambers : int or None, default=2000
        The certificate of a sampled list enumerates all chambers only when Cover's bound is at
        most this (:data:`DEFAULT_MAX_CHAMBERS`; None: no limit); above it ``certified_`` is
        False.
    solver : {"clarabel", "ecos", "scs"}, default="clarabel"
        Conic solver (:mod:`hiddenconvex.solvers`).
    tol : float or None, default=None
        Solver tolerance (None: the package's default for the solver, with one retry at a
        looser tolerance; :func:`hiddenconvex.solve`).
    certify : bool, default=True
        Check the dual certificate over all chambers (sets ``certified_``).
    random_state : int, RandomState instance or None, default=0
        Seed of the gate sampling: an int is passed as ``seed`` to :func:`hiddenconvex.solve`;
        None or a RandomState draws one (``seed_``).

    Attributes
    ----------
    result_ : hiddenconvex.Result
        The outcome of :func:`hiddenconvex.solve` (``result_.optimal_set``, ``to_dict()``, ...).
    network_ : hiddenconvex.ReLUNetwork
        ψ(W*), the fitted network; its inputs are [x, 1] when ``bias=True``.
    objective_ : float
        The objective above at the solution (convex and network objectives are equal).
    certificate_ : hiddenconvex.certificate.Certificate or None
        The dual certificate (None when ``certify=False``).
    certified_ : bool
        ``objective_`` is proven to be the global optimum (to the certificate's gap).
    seed_ : int
        The sampling seed used.
    n_features_in_ : int
        Number of features of X (without the ones column).
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    classes_ : ndarray, shape (2,)
        The two labels, sorted; ``classes_[0]`` is coded −1 and ``classes_[1]`` +1.
    """

    _losses = ("logistic", "hinge")

    def __init__(self, beta=DEFAULT_BETA, loss="logistic", *, bias=True, patterns="auto",
                 n_samples=None, max_exact=DEFAULT_MAX_EXACT, max_chambers=DEFAULT_MAX_CHAMBERS,
                 solver=DEFAULT_SOLVER, tol=None, certify=True, random_state=0):
        super().__init__(beta=beta, loss=loss, bias=bias, patterns=patterns, n_samples=n_samples,
                         max_exact=max_exact, max_chambers=max_chambers, solver=solver, tol=tol,
                         certify=certify, random_state=random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": True}

    def fit(self, X, y):
        """Fit the network to two classes.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Exactly two distinct labels (any type: numbers, strings).

        Returns
        -------
        self
        """
        X, y = _validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise InputError(f"ConvexReLUClassifier needs samples of 2 classes; y has only 1 class "
                             f"({classes[0]})")
        if classes.size > 2:
            shown = ", ".join(map(str, classes[:5])) + (", ..." if classes.size > 5 else "")
            raise InputError(
                f"Only binary classification is supported: y has {classes.size} classes "
                f"({shown}); for more, use "
                "sklearn.multiclass.OneVsRestClassifier(ConvexReLUClassifier())")
        self.classes_ = classes
        self._solve(X, np.where(codes == 1, 1.0, -1.0))
        return self

    def decision_function(self, X) -> np.ndarray:
        """The network's output f(x): > 0 predicts ``classes_[1]``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return self._network_output(X)

    def predict(self, X) -> np.ndarray:
        """``classes_[1]`` where f(x) > 0, else ``classes_[0]``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        f = self.decision_function(X)  # checks first that the model is fitted
        return self.classes_[(f > 0).astype(np.intp)]
