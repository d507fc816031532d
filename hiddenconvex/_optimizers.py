"""The optimizers of :func:`hiddenconvex.training.train` (NumPy/SciPy): L-BFGS, gradient descent
with Armijo backtracking, Adam, and L-BFGS continued on the kink manifold (methods: the docstring of
:mod:`hiddenconvex.training`). Each takes the objective ``fobj`` (value and gradient of L_β in
the flat parameter vector), the start ``x0``, the gradient tolerance, the options and the
per-iteration callback, and returns ``(x, iterations, message, history)``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from .network import ReLUNetwork, relu
from .objective import Problem, objective


def _forward_backward(problem: Problem, U: np.ndarray, alpha: np.ndarray):
    """Backprop gradient with σ'(0) = 0; returns (grad_U (m, d), grad_alpha (m,))."""
    X = problem.X
    Z = X @ U.T
    H = relu(Z)
    yhat = H @ alpha
    g = problem.loss.gradient(yhat, problem.y)
    grad_alpha = H.T @ g + problem.beta * alpha
    S = (Z > 0.0) * g[:, None]  # (n, m): s_ij g_j with s_ij = 1[x_j^T u_i > 0]
    grad_U = (S * alpha[None, :]).T @ X + problem.beta * U
    return grad_U, grad_alpha


_ARMIJO_C = 1e-4


_MIN_STEP = 1e-20


class _Objective:
    """L_β and its gradient on the flat parameter vector [U.ravel(), alpha]; counts evaluations."""

    def __init__(self, problem: Problem, m: int):
        self.problem = problem
        self.m = m
        self.d = problem.d
        self.n_eval = 0

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        md = self.m * self.d
        return x[:md].reshape(self.m, self.d), x[md:]

    def network(self, x: np.ndarray) -> ReLUNetwork:
        U, a = self.unpack(x)
        return ReLUNetwork(U, a)

    def value(self, x: np.ndarray) -> float:
        """Objective total; +inf when the parameters or the value are not finite."""
        self.n_eval += 1
        if not np.all(np.isfinite(x)):
            return np.inf
        with np.errstate(over="ignore", invalid="ignore"):
            val = objective(self.problem, self.network(x)).total
        return val if np.isfinite(val) else np.inf

    def grad(self, x: np.ndarray) -> np.ndarray:
        U, a = self.unpack(x)
        with np.errstate(over="ignore", invalid="ignore"):
            gU, ga = _forward_backward(self.problem, U, a)
        return np.concatenate([gU.ravel(), ga])

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        val = self.value(x)
        if not np.isfinite(val):
            return np.inf, np.zeros_like(x)
        return val, self.grad(x)


def _frozen(history: list[float]) -> np.ndarray:
    h = np.asarray(history, dtype=np.float64)
    h.setflags(write=False)
    return h


def _run_lbfgs(fobj: _Objective, x0, gtol, options, cb, project=None):
    """L-BFGS-B from x0; ``project`` projects the gradient (the iterates stay in x0 + range)."""
    f0 = fobj.value(x0)
    history = [f0]
    cb(0, f0)

    def on_iter(intermediate_result):
        history.append(float(intermediate_result.fun))
        cb(len(history) - 1, float(intermediate_result.fun))

    if options["max_iter"] == 0:
        return x0, history, 0, "max_iter = 0: returned the initial network"
    def fun(x):
        val, g = fobj.value_and_grad(x)
        return val, (g if project is None else project(g))

    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=on_iter,
        options={
            "maxiter": options["max_iter"],
            "maxfun": 10 * options["max_iter"] + 100,
            "ftol": options["ftol"],
            # L-BFGS-B's gtol bounds the max-norm of the gradient; the 2-norm test is ours.
            "gtol": gtol / np.sqrt(x0.size),
            "maxcor": 30,
        },
    )
    msg = res.message if isinstance(res.message, str) else str(res.message)
    return res.x, history, int(res.nit), f"L-BFGS-B: {msg}"


def _run_gd(fobj: _Objective, x0, gtol, options, cb):
    x = x0.copy()
    f = fobj.value(x)
    history = [f]
    cb(0, f)
    step = options["lr"]
    message = f"reached max_iter = {options['max_iter']}"
    k = 0
    for k in range(1, options["max_iter"] + 1):
        g = fobj.grad(x)
        g2 = float(g @ g)
        if np.sqrt(g2) <= gtol:
            message = "gradient norm below tolerance"
            k -= 1
            break
        if options["line_search"]:
            while True:
                x_new = x - step * g
                f_new = fobj.value(x_new)
                if f_new <= f - _ARMIJO_C * step * g2:
                    break
                step *= 0.5
                if step < _MIN_STEP:
                    break
            if step < _MIN_STEP:
                message = "line search failed: no decrease along the negative gradient"
                k -= 1
                break
            x, f = x_new, f_new
            step *= 2.0
        else:
            x_new = x - step * g
            f_new = fobj.value(x_new)
            if not np.isfinite(f_new):
                message = "diverged (non-finite objective); returned the last finite iterate"
                k -= 1
                break
            x, f = x_new, f_new
        history.append(f)
        cb(k, f)
    return x, history, k, message


def _run_adam(fobj: _Objective, x0, gtol, options, cb):
    x = x0.copy()
    f = fobj.value(x)
    history = [f]
    cb(0, f)
    max_iter = options["max_iter"]
    lr, eps = options["lr"], options["adam_eps"]
    b1, b2 = options["adam_beta1"], options["adam_beta2"]
    decay, every = options["lr_decay"], options["decay_every"]
    mom = np.zeros_like(x)
    vel = np.zeros_like(x)
    message = f"reached max_iter = {max_iter}"
    k = 0
    for k in range(1, max_iter + 1):
        g = fobj.grad(x)
        if np.linalg.norm(g) <= gtol:
            message = "gradient norm below tolerance"
            k -= 1
            break
        mom = b1 * mom + (1 - b1) * g
        vel = b2 * vel + (1 - b2) * g * g
        mhat = mom / (1 - b1**k)
        vhat = vel / (1 - b2**k)
        step = lr * decay ** ((k - 1) // every)
        x_new = x - step * mhat / (np.sqrt(vhat) + eps)
        f_new = fobj.value(x_new)
        if not np.isfinite(f_new):
            message = "diverged (non-finite objective); returned the last finite iterate"
            k -= 1
            break
        x, f = x_new, f_new
        history.append(f)
        cb(k, f)
    return x, history, k, message


def kink_projectors(X: np.ndarray, U: np.ndarray, kink_tol: float) -> np.ndarray:
    r"""Per neuron, the orthogonal projector onto :math:`\{v : x_j^Tv = 0\ \forall j \in K_i\}`,
    :math:`K_i = \{j : |x_j^Tu_i| \le` ``kink_tol`` :math:`\|x_j\|\|u_i\|\}` (its kinks).

    Returns an array of shape (m, d, d); the identity for neurons without kinks or with u_i = 0.
    """
    m, d = U.shape
    P = np.broadcast_to(np.eye(d), (m, d, d)).copy()
    xn = np.linalg.norm(X, axis=1)
    for i in range(m):
        nu = float(np.linalg.norm(U[i]))
        K = np.flatnonzero(np.abs(X @ U[i]) <= kink_tol * xn * nu) if nu > 0 else []
        K = [j for j in K if xn[j] > 0]
        if not K:
            continue
        Q, sv, _ = np.linalg.svd(X[K].T, full_matrices=False)
        Q = Q[:, sv > 1e-10 * sv[0]]
        P[i] -= Q @ Q.T
    return P


def _run_lbfgs_kinks(fobj: _Objective, x0, gtol, options, cb):
    x, history, iters, message = _run_lbfgs(fobj, x0, gtol, options, cb)
    best = fobj.value(x)
    md = fobj.m * fobj.d
    rounds = 0
    for _ in range(options["kink_rounds"]):
        if np.linalg.norm(fobj.grad(x)) <= gtol:
            break  # a stationary point of the smooth kind: nothing to identify
        P = kink_projectors(fobj.problem.X, x[:md].reshape(fobj.m, fobj.d), options["kink_tol"])

        def project(g, P=P):
            return np.concatenate([np.einsum("ikl,il->ik", P, g[:md].reshape(fobj.m, fobj.d))
                                   .ravel(), g[md:]])

        snapped = project(x)  # each u_i onto its kink hyperplanes; alpha unchanged
        offset = iters + 1  # the projection onto the manifold counts as one iteration
        x1, h1, it1, _ = _run_lbfgs(fobj, snapped, gtol, options,
                                    lambda k, f, o=offset: cb(o + k, f), project=project)
        x2, h2, it2, msg2 = _run_lbfgs(fobj, x1, gtol, options,  # k = 0 was reported as it1
                                       lambda k, f, o=offset + it1: k and cb(o + k, f))
        history += h1 + h2[1:]
        iters = offset + it1 + it2
        value = fobj.value(x2)
        if not value < best - 1e-15 * max(1.0, abs(best)):
            break
        x, best, message, rounds = x2, value, msg2, rounds + 1
    return x, history, iters, f"{message}; {rounds} kink-manifold round(s) kept"
