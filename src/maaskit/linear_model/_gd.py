"""The one gradient-descent path of the linear models: full-batch and mini-batch.

Kernels: ``linear`` (loss and its derivative with respect to the raw scores) and ``optim``
(the fused in-place SGD/momentum update shared with the neural networks). The parameter
gradient is two BLAS GEMMs around the ``linear`` kernel. Full-batch smooth problems can
also take L-BFGS directions (:func:`lbfgs`) computed from the same gradients.

Preconditioning. Dense features are centred and every feature is divided by its standard
deviation before descent; the penalty is rewritten for the scaled coefficients
(``W = Ws / s``, so ``alpha2 * |W|^2 / 2`` becomes ``alpha2 * |Ws / s|^2 / 2`` and the L1
threshold of coordinate ``j`` is ``lr * alpha1 / s_j``). The scale is floored at
``sqrt(alpha2)`` so that the L2 curvature ``alpha2 / s_j^2`` of nearly constant features
stays below 1 and does not dictate the step size. This is an exact change of
variables: the optimum is the one of the original problem, only the path is shorter.
Sparse features are scaled but not centred, so they stay sparse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from .._backend import get_kernel
from ..exceptions import ModelFitError
from ._base import warn_not_converged


@dataclass
class Scaling:
    """Column centring/scaling used as a preconditioner.

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        Subtracted from dense features (zeros for sparse input or without an intercept).
    scale : ndarray of shape (n_features,)
        Features are divided by it (1 for constant features).
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_data(cls, X, fit_intercept: bool, sample_weight: np.ndarray,
                  floor: float = 0.0) -> "Scaling":
        """Measure weighted column means and standard deviations of ``X``."""
        w = np.asarray(sample_weight, dtype=np.float64)
        w = w / w.sum()
        if sp.issparse(X):
            mean = np.asarray(X.T @ w).ravel()
            sq = np.asarray(X.multiply(X).T @ w).ravel()
            var = np.maximum(sq - mean * mean, 0.0)
            mean = np.zeros_like(mean)
        else:
            mean = w @ X
            # one pass, no temporary copy of X
            sq = np.einsum("i,ij,ij->j", w, X, X, optimize=False)
            var = np.maximum(sq - mean * mean, 0.0)
            if not fit_intercept:
                var = sq  # second moment: scale without centring
                mean = np.zeros_like(mean)
        scale = np.sqrt(var)
        scale[~(scale > 1e-12 * max(1.0, float(np.max(scale, initial=0.0))))] = 1.0
        scale = np.maximum(scale, floor)
        return cls(mean.astype(X.dtype), scale.astype(X.dtype))

    def transform(self, X, rows: np.ndarray | None = None):
        """Return the centred, scaled copy of ``X[rows]`` (C-contiguous; CSR for sparse input)."""
        if sp.issparse(X):
            X = X if rows is None else X[rows]
            return sp.csr_matrix(X @ sp.diags(1.0 / self.scale).astype(X.dtype))
        if rows is None:
            out = np.subtract(X, self.mean, dtype=X.dtype)  # C-contiguous copy
        else:
            out = np.ascontiguousarray(X[rows])  # the shuffled copy is the working copy
            out -= self.mean
        out *= (1.0 / self.scale).astype(X.dtype)
        return out

    def to_scaled(self, coef, intercept):
        """Map original coefficients ``(n_features, n_out)`` to the scaled problem."""
        return coef * self.scale[:, None], intercept + self.mean @ coef

    def from_scaled(self, coef_s, intercept_s):
        """Map scaled coefficients back to the original features."""
        coef = coef_s / self.scale[:, None]
        return coef, intercept_s - self.mean @ coef


@dataclass
class Problem:
    """A penalised linear problem in scaled coordinates, with its parameter buffer.

    Parameters ``W`` (n_features, n_out) and ``b`` (n_out,) are views of one flat buffer
    ``params`` so that the ``optim`` kernel updates them with one call.
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray
    loss: int
    epsilon: float
    alpha2: float
    alpha1: float
    fit_intercept: bool
    scaling: Scaling
    linear: object
    optim: object
    params: np.ndarray = field(init=False)
    grad: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        d, k = self.X.shape[1], self.Y.shape[1]
        dt = self.Y.dtype
        self.params = np.zeros(d * k + k, dtype=dt)
        self.grad = np.zeros_like(self.params)
        self.W = self.params[: d * k].reshape(d, k)
        self.b = self.params[d * k :]
        self.gW = self.grad[: d * k].reshape(d, k)
        self.gb = self.grad[d * k :]
        inv_s2 = (1.0 / self.scaling.scale**2).astype(dt)
        self.l2_diag = (self.alpha2 * inv_s2)[:, None]
        self.l1_thresh = (self.alpha1 / self.scaling.scale).astype(dt)[:, None]

    def set_coef(self, coef, intercept) -> None:
        """Load original-space coefficients into the buffer."""
        Ws, bs = self.scaling.to_scaled(coef, intercept)
        self.W[...] = Ws
        self.b[...] = bs if self.fit_intercept else 0.0

    def get_coef(self):
        """Return ``(coef, intercept)`` in original feature space."""
        return self.scaling.from_scaled(self.W.copy(), self.b.copy())

    def loss_grad(self, lo: int, hi: int, scratch: dict) -> float:
        """Fill ``self.grad`` with the gradient of the mean loss on rows ``lo:hi`` plus penalty."""
        Xb = self.X[lo:hi]
        n = hi - lo
        Z = Xb @ self.W
        Z += self.b
        dZ = scratch.get(n)
        if dZ is None:
            dZ = scratch[n] = np.empty_like(Z)
        loss = self.linear.loss_grad(self.loss, Z, self.Y[lo:hi], self.sample_weight[lo:hi], dZ,
                                     self.epsilon) / n
        inv_n = self.params.dtype.type(1.0 / n)
        if sp.issparse(Xb):
            self.gW[...] = (Xb.T @ dZ) * inv_n
        else:
            np.matmul(Xb.T, dZ, out=self.gW)
            self.gW *= inv_n
        if self.fit_intercept:
            np.sum(dZ, axis=0, out=self.gb)
            self.gb *= inv_n
        return self._penalise(loss)

    def _penalise(self, loss: float) -> float:
        if self.alpha2:
            self.gW += self.l2_diag * self.W
            loss += 0.5 * float(np.sum(self.l2_diag * self.W * self.W))
        if self.alpha1:
            loss += float(np.sum(self.l1_thresh * np.abs(self.W)))
        return loss

    def prox(self, lr: float, velocity: np.ndarray | None) -> None:
        """Apply the L1 part of the penalty as a soft threshold after a gradient step.

        With a momentum buffer (mini-batch SGD), what the threshold removed, divided by
        ``lr`` (the L1 subgradient at the new point), is added to it so that momentum
        follows the whole objective rather than the smooth part alone.
        """
        if not self.alpha1:
            return
        dt = self.params.dtype.type
        before = self.W.copy() if velocity is not None else None
        t = self.l1_thresh * dt(lr)
        np.copysign(np.maximum(np.abs(self.W) - t, 0), self.W, out=self.W)
        if velocity is not None:
            vW = velocity[: self.W.size].reshape(self.W.shape)
            before -= self.W
            before *= dt(1.0 / lr)
            vW += before


#: Rows used to estimate the Lipschitz constant; larger inputs are subsampled (strided).
LIPSCHITZ_ROWS = 20_000


def lipschitz(X, sample_weight: np.ndarray, curvature: float, fit_intercept: bool) -> float:
    """Estimate the largest eigenvalue of ``curvature * A' diag(w) A / n`` with ``A = [X, 1]``.

    A fixed number of power iterations from a fixed start: the result depends on the data
    only, so refitting (or fitting repeated rows instead of integer weights) takes the same
    steps. Inputs above ``LIPSCHITZ_ROWS`` rows are estimated on evenly strided rows (the
    data were shuffled or are i.i.d.), with a wider safety margin; otherwise a 10 % margin
    covers the power method's underestimate.
    """
    n = X.shape[0]
    margin = 1.1
    if n > LIPSCHITZ_ROWS:
        stride = -(-n // LIPSCHITZ_ROWS)
        X, sample_weight = X[::stride], sample_weight[::stride]
        n, margin = X.shape[0], 1.3
    d = X.shape[1]
    w = np.asarray(sample_weight, dtype=np.float64)
    v = np.random.RandomState(0).standard_normal(d + 1 if fit_intercept else d)
    lam = 1.0
    for _ in range(25):
        v /= np.linalg.norm(v)
        u = np.asarray(X @ v[:d], dtype=np.float64).ravel()
        if fit_intercept:
            u = u + v[d]
        u *= w
        g = np.asarray(X.T @ u, dtype=np.float64).ravel()
        if fit_intercept:
            g = np.append(g, u.sum())
        lam, v = float(np.linalg.norm(g)) / n, g
    return margin * curvature * max(lam, 1e-12)


def step_bound(prob: Problem, curvature: float) -> float:
    """Lipschitz constant ``L`` of the smooth objective: the loss bound plus the L2 curvature."""
    L = lipschitz(prob.X, prob.sample_weight, curvature, prob.fit_intercept)
    return L + float(np.max(prob.l2_diag, initial=0.0))


def fit_full_batch(prob: Problem, curvature: float, momentum: float | None, max_iter: int,
                   tol: float, where: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Run :func:`full_batch` with step ``1 / L``, warn when it did not converge.

    Returns
    -------
    n_iter, coef, intercept
        Steps taken and the coefficients in the original (unscaled) variables.
    """
    n_iter, converged, _ = full_batch(prob, 1.0 / step_bound(prob, curvature), momentum,
                                      max_iter, tol, where)
    if not converged:
        warn_not_converged(where, max_iter)
    coef, intercept = prob.get_coef()
    return n_iter, coef, intercept


def _check_finite(prob: Problem, where: str) -> None:
    if not np.isfinite(np.sum(prob.params)):
        raise ModelFitError(
            f"{where}: the coefficients diverged to inf/NaN; try a smaller learning rate "
            "(eta0), stronger regularisation, or scaled features."
        )


def full_batch(prob: Problem, lr: float, momentum: float | None, max_iter: int, tol: float,
               where: str) -> tuple[int, bool, float]:
    """FISTA: accelerated proximal gradient descent on the whole data set.

    Each iteration takes a gradient step from the extrapolated point ``y`` with the
    ``optim`` kernel (``sgd_update`` without momentum), applies the L1 prox, then
    extrapolates ``y = x + beta (x - x_old)``. ``beta`` follows Nesterov's ``t`` sequence
    (or is the constant ``momentum`` when given) and is reset whenever the step points
    uphill (gradient-based adaptive restart, O'Donoghue & Candes 2015). The step ``lr``
    should be ``1 / L``. Stops when the largest entry of the gradient mapping
    ``(y - x_new) / lr`` is at most ``tol``.

    Returns
    -------
    n_iter, converged, loss
    """
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        return _full_batch(prob, lr, momentum, max_iter, tol, where)


def _full_batch(prob, lr, momentum, max_iter, tol, where):
    unused = np.zeros(0, dtype=prob.params.dtype)  # no momentum buffer: FISTA extrapolates
    x_old = prob.params.copy()
    y = np.empty_like(prob.params)
    scratch: dict = {}
    n = prob.X.shape[0]
    t = 1.0
    loss = np.inf
    for it in range(1, max_iter + 1):
        loss = prob.loss_grad(0, n, scratch)
        if not prob.fit_intercept:
            prob.gb[...] = 0.0
        y[...] = prob.params
        prob.optim.sgd_update(prob.params, prob.grad, unused, lr, 0.0, 0.0, False)
        prob.prox(lr, None)
        # y - x_new is lr times the gradient mapping at y
        y -= prob.params
        step = float(np.max(np.abs(y), initial=0.0)) / lr
        if step <= tol:
            _check_finite(prob, where)
            return it, True, loss
        if it % 10 == 0:
            _check_finite(prob, where)
        diff = prob.params - x_old
        if float(y @ diff) > 0:  # moving against the gradient mapping: restart
            t = 1.0
            beta = 0.0
        elif momentum is None:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_new
            t = t_new
        else:
            beta = momentum
        x_old[...] = prob.params
        if beta:
            prob.params += prob.params.dtype.type(beta) * diff
    _check_finite(prob, where)
    return max_iter, False, loss


#: Largest feature count for which L-BFGS is preconditioned with the full Gram matrix.
PRECONDITION_MAX_FEATURES = 500


class GramPreconditioner:
    """Inverse of a fixed approximate Hessian, applied to parameter vectors.

    With ``A`` the scaled design (plus a column of ones when an intercept is fitted) and
    ``G = A' diag(w) A / n``, the approximation is ``curvature * G + diag(l2)``: the Hessian
    at zero scores of the binary log loss. It removes the correlation between features
    that column scaling leaves. For the softmax loss (``softmax=True``) it is the Hessian at
    zero scores, ``G / K`` on class-centred coefficients; the loss is flat along the mean
    over classes, where only the L2 term acts, so that component gets ``1 / l2`` (its exact
    Newton step). L-BFGS uses it as its initial inverse Hessian. ``G`` is measured on at
    most ``LIPSCHITZ_ROWS`` evenly strided rows: it only shapes the search direction,
    never the optimum.
    """

    def __init__(self, prob: Problem, curvature: float, softmax: bool = False) -> None:
        X, w = prob.X, np.asarray(prob.sample_weight, dtype=np.float64)
        n = X.shape[0]
        if n > LIPSCHITZ_ROWS:
            stride = -(-n // LIPSCHITZ_ROWS)
            X, w = X[::stride], w[::stride]
        m, d = X.shape
        self.d, self.k = d, prob.Y.shape[1]
        self.intercept = prob.fit_intercept
        if sp.issparse(X):
            XtWX = np.asarray((X.T @ X.multiply(w[:, None]).tocsr()).todense(), dtype=np.float64)
        else:
            Xf = np.asarray(X, dtype=np.float64)
            XtWX = Xf.T @ (Xf * w[:, None])
        size = d + 1 if self.intercept else d
        M = np.empty((size, size))
        M[:d, :d] = XtWX
        if self.intercept:
            col = np.asarray(X.T @ w, dtype=np.float64).ravel()
            M[:d, d] = M[d, :d] = col
            M[d, d] = w.sum()
        self.softmax = softmax and self.k > 1
        M *= (1.0 / self.k if self.softmax else curvature) / m
        l2 = np.zeros(size)
        l2[:d] = np.asarray(prob.l2_diag, dtype=np.float64).ravel()
        M[np.diag_indices(size)] += l2
        # a small ridge keeps constant or collinear columns invertible
        M[np.diag_indices(size)] += 1e-8 * max(float(np.trace(M)) / size, 1e-12)
        # explicit inverse: applied every iteration, a small GEMM beats a triangular solve
        self.inverse = cho_solve(cho_factor(M), np.eye(size))
        # class-mean component (softmax): 1 / l2 where the penalty acts; elsewhere (the
        # intercept, or no penalty) the loss is flat and the gradient has no such component
        self.common = np.where(l2 > 0, 1.0 / np.where(l2 > 0, l2, 1.0), 0.0)[:, None]

    def __call__(self, v: np.ndarray) -> np.ndarray:
        d, k = self.d, self.k
        size = d + 1 if self.intercept else d
        # parameters are laid out as W (d, k) row-major followed by b (k,): (d + 1, k)
        V = v[: size * k].reshape(size, k)
        if self.softmax:
            mean = V.mean(axis=1, keepdims=True)
            P = self.inverse @ (V - mean)
            P += self.common * mean
        else:
            P = self.inverse @ V
        if self.intercept:
            return P.ravel()
        out = v.copy()
        out[: d * k] = P.ravel()
        return out


def fit_lbfgs(prob: Problem, curvature: float, max_iter: int, tol: float, where: str,
              softmax: bool = False, memory: int = 10) -> tuple[int, np.ndarray, np.ndarray]:
    """Run :func:`lbfgs` (smooth penalties only), warn when it did not converge.

    Returns
    -------
    n_iter, coef, intercept
        Iterations taken and the coefficients in the original (unscaled) variables.
    """
    precond = None
    if prob.X.shape[1] <= PRECONDITION_MAX_FEATURES:
        precond = GramPreconditioner(prob, curvature, softmax)
    n_iter, converged, _ = lbfgs(prob, max_iter, tol, where, memory, precond)
    if not converged:
        warn_not_converged(where, max_iter)
    coef, intercept = prob.get_coef()
    return n_iter, coef, intercept


def lbfgs(prob: Problem, max_iter: int, tol: float, where: str, memory: int = 10,
          precond=None) -> tuple[int, bool, float]:
    """L-BFGS on the whole data set, on top of the same loss/gradient kernels as FISTA.

    The direction is the two-loop recursion (Nocedal & Wright, alg. 7.4) over the last
    ``memory`` curvature pairs with the initial inverse Hessian ``s'y / y'y`` (or
    ``precond`` scaled by ``s'y / y'P y``, ``P`` a :class:`GramPreconditioner`, whose
    unscaled step is the first one); the step is found by
    Armijo backtracking (sufficient decrease ``1e-4``, safeguarded quadratic interpolation)
    starting from 1, and applied with the ``optim`` kernel (``sgd_update``). No step size
    bound ``L`` is needed. Pairs with ``s'y <= 0`` are skipped, and a failed line search
    restarts from steepest descent. Only for smooth objectives (no L1 term). Stops when the
    largest entry of the (scaled) gradient is at most ``tol``, the criterion of
    :func:`full_batch`.

    Returns
    -------
    n_iter, converged, loss
    """
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite trials are backtracked
        return _lbfgs(prob, max_iter, tol, where, memory, precond)


def _lbfgs(prob, max_iter, tol, where, memory, precond):
    n = prob.X.shape[0]
    scratch: dict = {}
    dtype = prob.params.dtype
    unused = np.zeros(0, dtype=dtype)

    def evaluate() -> tuple[float, np.ndarray]:
        f = prob.loss_grad(0, n, scratch)
        if not prob.fit_intercept:
            prob.gb[...] = 0.0
        return float(f), prob.grad.astype(np.float64)

    x = prob.params.astype(np.float64)
    f, g = evaluate()
    S: list[np.ndarray] = []
    Ys: list[np.ndarray] = []
    rho: list[float] = []
    gamma = 1.0  # s'y / y'Py of the newest pair
    for it in range(1, max_iter + 1):
        # two-loop recursion: d = -H g
        q = g.copy()
        a = np.empty(len(S))
        for i in range(len(S) - 1, -1, -1):
            a[i] = rho[i] * (S[i] @ q)
            q -= a[i] * Ys[i]
        if precond is not None:
            q = precond(q)
            if S:
                q *= gamma
        elif S:
            q *= (S[-1] @ Ys[-1]) / (Ys[-1] @ Ys[-1])
        else:
            q *= min(1.0, 1.0 / max(float(np.linalg.norm(g)), 1e-300))
        for i in range(len(S)):
            beta = rho[i] * (Ys[i] @ q)
            q += (a[i] - beta) * S[i]
        d = -q
        slope = float(g @ d)
        if not slope < 0:  # not a descent direction (round-off): steepest descent
            S.clear(), Ys.clear(), rho.clear()
            d = -g * min(1.0, 1.0 / max(float(np.linalg.norm(g)), 1e-300))
            slope = float(g @ d)
        step = 1.0
        neg_d = (-d).astype(dtype)
        accepted = False
        for _ in range(40):
            prob.params[...] = x
            prob.optim.sgd_update(prob.params, neg_d, unused, step, 0.0, 0.0, False)
            f_new, g_new = evaluate()
            if np.isfinite(f_new) and f_new <= f + 1e-4 * step * slope:
                accepted = True
                break
            # minimiser of the quadratic through f, slope and f_new, kept in [0.1, 0.5] step
            denom = 2.0 * (f_new - f - slope * step)
            trial = -slope * step * step / denom if np.isfinite(denom) and denom > 0 else 0.5 * step
            step = min(max(trial, 0.1 * step), 0.5 * step)
        if not accepted:
            prob.params[...] = x
            if S:  # stale curvature: retry from steepest descent
                S.clear(), Ys.clear(), rho.clear()
                continue
            # no decrease along the gradient either: at round-off level of the optimum
            f, g = evaluate()
            _check_finite(prob, where)
            return it, float(np.max(np.abs(g), initial=0.0)) <= tol, f
        x_new = prob.params.astype(np.float64)
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-10 * float(y @ y):
            if len(S) == memory:
                S.pop(0), Ys.pop(0), rho.pop(0)
            S.append(s), Ys.append(y), rho.append(1.0 / sy)
            if precond is not None:
                gamma = sy / float(y @ precond(y))
        x, f, g = x_new, f_new, g_new
        if float(np.max(np.abs(g), initial=0.0)) <= tol:
            _check_finite(prob, where)
            return it, True, f
    _check_finite(prob, where)
    return max_iter, False, f


@dataclass
class SGDState:
    """Optimizer state kept between ``partial_fit`` calls."""

    velocity: np.ndarray
    lr: float
    t: int = 0


def sgd_epoch(prob: Problem, state: SGDState, batch_size: int, momentum: float,
              rng: np.random.RandomState, where: str) -> float:
    """One pass of mini-batch SGD over the (already shuffled) rows, batches in random order.

    Returns
    -------
    loss : float
        Mean objective over the batches seen, before each step.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        return _sgd_epoch(prob, state, batch_size, momentum, rng, where)


def _sgd_epoch(prob, state, batch_size, momentum, rng, where):
    n = prob.X.shape[0]
    starts = np.arange(0, n, batch_size)
    rng.shuffle(starts)
    scratch: dict = {}
    total = 0.0
    for lo in starts:
        hi = min(lo + batch_size, n)
        total += prob.loss_grad(lo, hi, scratch) * (hi - lo)
        if not prob.fit_intercept:
            prob.gb[...] = 0.0
        prob.optim.sgd_update(prob.params, prob.grad, state.velocity, state.lr, momentum, 0.0, True)
        prob.prox(state.lr, state.velocity)
        state.t += 1
    if not np.isfinite(total):
        prob.params[0] = np.nan  # make the check below fire
    _check_finite(prob, where)
    return total / n


def make_problem(X, Y, sample_weight, loss: int, epsilon: float, alpha2: float, alpha1: float,
                 fit_intercept: bool, backend: str, scaling: Scaling | None = None,
                 rng: np.random.RandomState | None = None) -> Problem:
    """Scale ``X`` (optionally shuffling rows together with ``Y`` and weights) into a Problem."""
    if scaling is None:
        scaling = Scaling.from_data(X, fit_intercept, sample_weight, np.sqrt(alpha2))
    perm = None
    if rng is not None:
        perm = rng.permutation(X.shape[0])
        Y, sample_weight = Y[perm], sample_weight[perm]
    Xs = scaling.transform(X, perm)
    dt = Y.dtype
    return Problem(X=Xs, Y=np.ascontiguousarray(Y, dtype=dt),
                   sample_weight=np.ascontiguousarray(sample_weight, dtype=dt), loss=loss,
                   epsilon=float(epsilon), alpha2=float(alpha2), alpha1=float(alpha1),
                   fit_intercept=fit_intercept, scaling=scaling,
                   linear=get_kernel("linear", backend), optim=get_kernel("optim", backend))
