"""Weighted alternating least squares for implicit feedback (Hu, Koren & Volinsky 2008).

Kernels: ``als`` (``least_squares_cg``: conjugate-gradient row updates warm-started from
the previous factors, as implicit's ``_solve_cg``; ``least_squares``: exact Cholesky row
solves, used for fold-in and ``solver="cholesky"``), ``topk``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from .._config import effective_n_threads, one_blas_thread
from .._schema import Arr
from ..persistence import register
from ..utils._param_validation import Interval, Options
from ._base import COMMON_CONSTRAINTS, BaseRecommender


def _csr_parts(R: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(R.indptr, dtype=np.int64),
            np.ascontiguousarray(R.indices, dtype=np.int32),
            np.ascontiguousarray(R.data, dtype=np.float32))


@register
class ALS(BaseRecommender):
    """Matrix factorisation of implicit feedback by weighted alternating least squares.

    Every user-item pair enters the loss: observed pairs with preference 1 and confidence
    ``1 + confidence_weight * r`` (``r`` the interaction strength, e.g. a play count),
    unobserved pairs with preference 0 and confidence 1. Each iteration solves all users
    with items fixed, then all items with users fixed.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the latent factors.
    regularization : float, default=20.0
        L2 penalty on the factors. The loss sums over *all* user-item pairs, so useful
        values are large (tuned on MovieLens 100k: 20 beat implicit's 0.01-0.05).
    confidence_weight : float, default=1.0
        Slope of the confidence ``1 + confidence_weight * r`` of observed pairs
        (implicit's ``alpha``; maaskit keeps ``alpha`` for regularisation strength).
        With binary data, ``0`` gives every pair weight 1; implicit's ``alpha=a`` on binary
        data equals ``confidence_weight=a - 1``.
    max_iter : int, default=15
        Number of ALS iterations (one user pass plus one item pass each).
    solver : {"cg", "cholesky"}, default="cg"
        ``"cg"`` runs ``cg_steps`` conjugate-gradient steps per row warm-started from
        the previous factors (fast); ``"cholesky"`` solves every row exactly.
    cg_steps : int, default=3
        Conjugate-gradient steps per row and half-iteration.
    random_state : int, RandomState instance or None, default=None
        Seed of the factor initialisation.
    n_jobs : int, default=None
        Threads; ``None`` uses the global ``n_threads`` setting (all cores by default).
    backend : {"auto", "cython", "numba", "numpy", "torch"}, default="auto"
        Kernel implementation. ``"torch"`` runs the batched torch solver on ``device``
        (also on the CPU, where it mainly serves to check the CUDA path).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where training runs. ``"cuda"`` (or ``"auto"`` with a GPU) solves every row of a
        half-iteration at once with torch, the data resident on the GPU; the factors are
        copied back, so ``recommend`` and ``save`` work on any machine.
    verbose : int, default=0
        Print progress per iteration when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors), float32
        User factors.
    item_factors_ : ndarray of shape (n_items_, n_factors), float32
        Item factors.
    n_iter_ : int
        Iterations run.
    user_index_ : IdIndex
        Known user ids.
    item_index_ : IdIndex
        Known item ids.
    n_users_ : int
        Number of known users.
    n_items_ : int
        Number of known items.
    item_popularity_ : ndarray of shape (n_items_,)
        Interaction count per item (popularity fallback for unknown users).
    seen_indptr_, seen_indices_, seen_values_ : ndarray
        Training interactions as CSR (users x items), duplicates summed.
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Device used for training (``"cpu"``).
    backend_ : str
        Resolved kernel backend.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import ALS
    >>> df = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 1, 2]})
    >>> model = ALS(n_factors=2, max_iter=5, random_state=0).fit(df)
    >>> model.user_factors_.shape
    (3, 2)
    """

    _implicit = True
    _kernel = "als"
    _state_schema = BaseRecommender._state_schema.extend(arrays={
        "user_factors_": Arr("f4", ("n_users", "n_factors")),
        "item_factors_": Arr("f4", ("n_items", "n_factors")),
    }, param_dims={"n_factors": "n_factors"})
    _torch_kernel = "als"
    _parameter_constraints = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "confidence_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "solver": [Options(frozenset({"cg", "cholesky"}))],
        "cg_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_factors: int = 64, *, regularization: float = 20.0,
                 confidence_weight: float = 1.0, max_iter: int = 15, solver: str = "cg",
                 cg_steps: int = 3, random_state=None, n_jobs: int | None = None,
                 backend: str = "auto", device: str = "auto", verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.regularization = regularization
        self.confidence_weight = confidence_weight
        self.max_iter = max_iter
        self.solver = solver
        self.cg_steps = cg_steps
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers
    def _gram(self, F: np.ndarray) -> np.ndarray:
        G = (F.T @ F).astype(np.float32)
        G[np.diag_indices_from(G)] += np.float32(self.regularization)
        return np.ascontiguousarray(G)

    def _solve(self, R: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, exact: bool) -> None:
        kern = get_kernel("als", self._cpu_backend())
        indptr, indices, data = _csr_parts(R)
        n_threads = effective_n_threads(self.n_jobs)
        G = self._gram(Y)
        if exact:
            kern.least_squares(indptr, indices, data, X, Y, G, float(self.confidence_weight), n_threads)
        else:
            kern.least_squares_cg(indptr, indices, data, X, Y, G, float(self.confidence_weight),
                                  int(self.cg_steps), n_threads)

    # ------------------------------------------------------------------ hooks
    def _fit_model(self, users, items, values, R: sp.csr_matrix, rng) -> None:
        k = self.n_factors
        self.user_factors_ = (rng.random_sample((self.n_users_, k)) * 0.01).astype(np.float32)
        self.item_factors_ = (rng.random_sample((self.n_items_, k)) * 0.01).astype(np.float32)
        Rt = R.T.tocsr()
        Rt.sort_indices()
        exact = self.solver == "cholesky"
        self.n_iter_ = 0
        if self.backend_ == "torch":
            self._fit_torch(R, Rt, exact)
            return
        # The Gram matrices are small GEMMs between the kernel's own threaded solves: a BLAS
        # thread pool only spins against them (ML-100k, 2 busy cores: 15 iterations 1.6-2.1 s
        # with OpenBLAS's default threads, 0.55-0.65 s held to one), as implicit advises.
        with one_blas_thread():
            for it in range(self.max_iter):
                self._solve(R, self.user_factors_, self.item_factors_, exact)
                self._solve(Rt, self.item_factors_, self.user_factors_, exact)
                self.n_iter_ = it + 1
                if self.verbose:
                    print(f"ALS: iteration {it + 1}/{self.max_iter}")
                self._check_divergence(f"{self._name}.fit")

    def _fit_torch(self, R: sp.csr_matrix, Rt: sp.csr_matrix, exact: bool) -> None:
        # Everything stays resident on the device for the whole fit; factors come back to
        # NumPy at the end, so recommend, save and fold-in work anywhere.
        import torch

        kern = get_kernel("als", "torch")
        dev = torch.device(self.device_)

        def csr(M: sp.csr_matrix) -> tuple:
            return (torch.from_numpy(M.indptr.astype(np.int64)).to(dev),
                    torch.from_numpy(M.indices.astype(np.int64)).to(dev),
                    torch.from_numpy(M.data.astype(np.float32)).to(dev))

        users, items = csr(R), csr(Rt)
        U = torch.from_numpy(self.user_factors_).to(dev)
        V = torch.from_numpy(self.item_factors_).to(dev)
        eye = self.regularization * torch.eye(U.shape[1], dtype=U.dtype, device=dev)
        cw = float(self.confidence_weight)
        for it in range(self.max_iter):
            for parts, X, Y in ((users, U, V), (items, V, U)):
                G = Y.T @ Y + eye
                if exact:
                    kern.least_squares(*parts, X, Y, G, cw)
                else:
                    kern.least_squares_cg(*parts, X, Y, G, cw, int(self.cg_steps))
            self.n_iter_ = it + 1
            if self.verbose:
                print(f"ALS: iteration {it + 1}/{self.max_iter}")
            if not (bool(torch.isfinite(U.sum())) and bool(torch.isfinite(V.sum()))):
                break
        self.user_factors_ = np.ascontiguousarray(U.cpu().numpy())
        self.item_factors_ = np.ascontiguousarray(V.cpu().numpy())
        self._check_divergence(f"{self._name}.fit")

    def _grow(self, n_users, n_items, rng) -> None:
        k = self.user_factors_.shape[1]
        self.user_factors_ = np.vstack([self.user_factors_, np.zeros((n_users, k), np.float32)])
        self.item_factors_ = np.vstack([self.item_factors_, np.zeros((n_items, k), np.float32)])

    def _solve_rows(self, R: sp.csr_matrix, rows: np.ndarray, X: np.ndarray, Y: np.ndarray) -> None:
        if len(rows) == 0:
            return
        sub = R[rows]
        sub.sort_indices()
        Xs = np.ascontiguousarray(X[rows])
        self._solve(sub, Xs, Y, exact=True)
        X[rows] = Xs

    def _fold_in(self, users, items, values, R_full, touched_users, new_items, rng) -> None:
        # Exact re-solve of touched users from their full rows (items fixed); new items are
        # solved from their interactions, then touched users once more with them in place.
        Rt = None
        self._solve_rows(R_full, touched_users, self.user_factors_, self.item_factors_)
        if len(new_items):
            Rt = R_full.T.tocsr()
            self._solve_rows(Rt, new_items, self.item_factors_, self.user_factors_)
            self._solve_rows(R_full, touched_users, self.user_factors_, self.item_factors_)

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return self.user_factors_[uidx]

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
