"""The one gradient-descent path of the linear models: full-batch and mini-batch.

Kernels: ``linear`` (loss and its derivative with respect to the raw scores) and ``optim``
(the fused in-place SGD/momentum update shared with the neural networks). The parameter
gradient is two BLAS GEMMs around the ``linear`` kernel.

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
        # stacklevel 4: warn_not_converged <- here <- the estimator's fit <- its caller
        warn_not_converged(where, max_iter, stacklevel=4)
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
