"""Next-item recommendation by causal self-attention over each user's recent items (SASRec).

Kang & McAuley (2018), trained with the full-softmax cross-entropy of Klenitskiy & Vasilev
(RecSys 2023) and pre-LayerNorm blocks. The network lives in
:mod:`maaskit.recommender._sasrec_net`; sequence handling in
:mod:`maaskit.recommender._sequences`; the torch path (``device="cuda"``) in
:mod:`maaskit.recommender._sasrec_torch`.

Kernels: ``attention``, ``layernorm``, ``embedding``, ``dropout``, ``xent`` (softmax
cross-entropy with the gradient in place), ``optim`` (``adam_update``), ``topk``.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np
import pandas as pd

from .._backend import has_torch, resolve_backend, resolve_device
from .._estimator import check_random_state
from .._schema import Arr, Attr, Rule, history
from ..exceptions import ColdStartWarning, ModelFitError, ValidationError
from ..persistence import register
from ..utils._ids import IdIndex
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils._warnings import warn_user
from ._base import COMMON_CONSTRAINTS, BaseRecommender, csr_rows
from ._sasrec_net import SASRecNet, init_params, n_params, param_layout, train_step, views
from ._sequences import (last_windows, ordered_interactions, pick_windows, split_histories, training_windows,
                         windows_per_user)

# Above this many items, loss="auto" trains with sampled softmax: the full softmax costs
# (positions per batch) x (items) floats per step (128 x 50 x 50k = 1.3 GB at the limit).
AUTO_SAMPLED_ITEMS = 50_000
# Validation ranks every item for at most this many users (enough for a stable NDCG@10).
_MAX_VAL_USERS = 10_000


def _seq_rule(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
    ptr, items = arrays["seq_indptr_"], arrays["seq_items_"]
    return (len(ptr) >= 1 and ptr[0] == 0 and ptr[-1] == len(items) and bool(np.all(np.diff(ptr) >= 1))
            and (len(items) == 0 or (items.min() >= 0 and items.max() < d["n_items"])))


def _params_rule(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
    if params["n_factors"] % params["n_heads"]:
        return False
    return len(arrays["params_"]) == n_params(d["n_items"], params["n_factors"], params["n_blocks"],
                                              params["max_len"])


@register
class SASRec(BaseRecommender):
    """Next-item recommender: causal self-attention over each user's latest items (SASRec).

    Each user's items, in time order, go through item embeddings plus learned positions and
    ``n_blocks`` pre-LayerNorm blocks of causal self-attention and a position-wise
    feed-forward network (dropout, residuals, a final LayerNorm). The hidden state at a
    position scores every item by a dot product with the same (tied) item embeddings, and
    training minimises the cross-entropy of the next item at every position. A user's
    recommendations come from the hidden state after their newest item; any other history
    (an anonymous session, a new user) is scored by :meth:`recommend_history` without
    refitting.

    Parameters
    ----------
    n_factors : int, default=64
        Width of the item embeddings and of the model.
    n_blocks : int, default=2
        Self-attention blocks.
    n_heads : int, default=1
        Attention heads; ``n_factors`` must be divisible by it.
    max_len : int, default=50
        Window length: a user is represented by their newest ``max_len`` items. Training
        cuts longer histories into windows of ``max_len`` from the newest end; ``windows``
        chooses which of them an epoch trains on.
    dropout : float, default=0.2
        Dropout rate on the input embeddings, attention outputs and feed-forward units.
    loss : {"auto", "softmax", "sampled"}, default="auto"
        ``"softmax"``: full softmax over the catalogue at every position. ``"sampled"``:
        softmax over the target and ``n_negatives`` items drawn uniformly per batch (shared
        by its rows). ``"auto"``: ``"softmax"`` up to 50 000 items, ``"sampled"`` above.
    n_negatives : int, default=256
        Negatives per batch of the sampled softmax.
    learning_rate : float, default=0.003
        Adam step size (Adam's betas are 0.9 and 0.98). On a validation tail carved from
        ML-100k's training data, 0.003 reached a higher NDCG@10 than 0.001 at every epoch
        compared (0.052 vs 0.030 after 3 epochs) and peaked at 0.115 after 24.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient (Adam's, not AdamW's).
    batch_size : int, default=128
        Windows per step.
    windows : {"all", "last", "sample"}, default="all"
        Which training windows an epoch uses. ``"all"``: every window, so every interaction
        but each user's first is a target (on ML-100k with ``max_len=50``, 2.6x the windows
        of ``"last"``). ``"last"``: each user's newest window (its newest ``max_len``
        targets), one per user, as RecTools' ``SASRecModel`` does. ``"sample"``: one window
        per user per epoch, the ``k``-th newest drawn with probability proportional to
        ``2 ** -k``, so an epoch costs what a ``"last"`` epoch costs and older windows are
        still seen over the epochs. ``"all"`` is the default because it reached the best
        NDCG@10 on ML-100k (validation tail carved from the training data: 0.117, against
        0.099 for ``"sample"`` and 0.088-0.100 for ``"last"``, whose early stopping fired
        after 17 epochs at 0.088 and a test NDCG@10 below ALS's) and is the only choice
        that beat RecTools there; ``"last"`` trains several times faster (92 s against
        449-777 s under load) when time matters more. See ``benchmarks/RESULTS.md``,
        issue 13.
    max_iter : int, default=100
        Most epochs; early stopping usually ends training sooner.
    early_stopping : bool, default=True
        Hold out each training user's newest item (a validation tail carved from the
        training data), stop when its NDCG@10 (full ranking, seen items excluded) has not
        improved for ``n_iter_no_change`` epochs, and restore the best epoch's weights. The held-out
        items stay in the users' histories as inputs (and as seen items).
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    validation_fraction : float, default=1.0
        Share of the users (those with at least 3 items) whose newest item is held out;
        at most 10 000 users are evaluated.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        CPU kernel implementation.
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"cuda"`` trains through torch on the GPU (see :mod:`maaskit.recommender._sasrec_torch`).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, batching, dropout and negatives.
    n_jobs : int, default=None
        Threads of the top-k search.
    verbose : int, default=0
        Show a tqdm progress bar of the epochs with the loss and validation NDCG@10.

    Attributes
    ----------
    params_ : ndarray of shape (n_params,), float32
        All network weights, flat (see :func:`maaskit.recommender._sasrec_net.param_layout`).
    seq_indptr_ : ndarray of shape (n_users_ + 1,), int64
        Start of each user's history in ``seq_items_``.
    seq_items_ : ndarray of shape (n_interactions,), int32
        Item indices of every user's history, oldest first.
    history_ : dict
        ``{"loss": [...], "val_ndcg": [...]}`` per epoch (``val_ndcg`` is NaN without
        validation).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    loss_ : str
        The loss used, ``"softmax"`` or ``"sampled"``.
    n_iter_ : int
        Epochs run.
    fit_time_ : float
        Seconds spent in training epochs.
    user_index_ : IdIndex
        Known user ids.
    item_index_ : IdIndex
        Known item ids.
    n_users_ : int
        Number of known users.
    n_items_ : int
        Number of known items.
    item_popularity_ : ndarray of shape (n_items_,)
        Interaction count per item (popularity fallback).
    seen_indptr_, seen_indices_, seen_values_ : ndarray
        Training interactions as CSR (users x items), duplicates summed.
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Device used for training.
    backend_ : str
        Resolved kernel backend (``"torch"`` for the CUDA path).

    Examples
    --------
    >>> from maaskit.recommender import SASRec
    >>> plays = {"ann": ["a", "b", "c", "d"], "bob": ["b", "c", "d", "a"]}
    >>> model = SASRec(n_factors=8, max_iter=2, early_stopping=False, random_state=0).fit(plays)
    >>> ids, scores = model.recommend_history(["a", "b"], n=2, exclude_seen=True)
    >>> len(ids)
    2
    """

    _implicit = True
    _kernel = "attention"
    _state_schema = BaseRecommender._state_schema.extend(
        arrays={"params_": Arr("f4", ("n_params",)),
                "seq_indptr_": Arr("i8", ("n_users_plus_1",)),
                "seq_items_": Arr("i4", ("n_seq",))},
        attrs={"history_": Attr(dict),
               "best_epoch_": Attr(int, min=0),
               "loss_": Attr(str, options=("softmax", "sampled")),
               "fit_time_": Attr(float, min=0)},
        rules=(Rule("arrays 'seq_indptr_'/'seq_items_'", "must be a CSR of item indices with "
                    "one non-empty history per user", _seq_rule),
               Rule("array 'params_'", "must have the length the hyper-parameters and "
                    "n_items give", _params_rule),
               history("loss", "val_ndcg")),
    )
    _parameter_constraints = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_len": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss": [Options(frozenset({"auto", "softmax", "sampled"}))],
        "n_negatives": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "windows": [Options(frozenset({"all", "last", "sample"}))],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="right")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_factors: int = 64, *, n_blocks: int = 2, n_heads: int = 1, max_len: int = 50,
                 dropout: float = 0.2, loss: str = "auto", n_negatives: int = 256,
                 learning_rate: float = 3e-3, weight_decay: float = 0.0, batch_size: int = 128,
                 windows: str = "all", max_iter: int = 100, early_stopping: bool = True,
                 n_iter_no_change: int = 5, validation_fraction: float = 1.0, backend: str = "auto", device: str = "auto",
                 random_state=None, n_jobs: int | None = None, verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.max_len = max_len
        self.dropout = dropout
        self.loss = loss
        self.n_negatives = n_negatives
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.windows = windows
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ setup
    def _validate(self, method: str) -> tuple[np.random.RandomState, str]:
        validate_parameters(self)
        where = f"{self._name}.{method}"
        if self.n_factors % self.n_heads:
            raise ValueError(f"{where}: n_factors must be divisible by n_heads; got "
                             f"n_factors={self.n_factors!r}, n_heads={self.n_heads!r}.")
        rng = check_random_state(self.random_state)
        self.device_ = resolve_device(self.device, where)
        if self.device_ == "cuda":
            self.backend_ = "torch"
        else:
            self.backend_ = resolve_backend(self._kernel, self.backend, where)
        return rng, where

    def _net(self) -> SASRecNet:
        """The network bound to ``params_`` (built once per weights array)."""
        cache = self.__dict__.get("_net_cache")
        if cache is None or cache.flat is not self.params_:
            backend = self._cpu_backend()
            cache = SASRecNet(self.n_items_, self.n_factors, self.n_blocks, self.n_heads, self.max_len,
                              self.dropout, backend, self.params_)
            self.__dict__["_net_cache"] = cache
        return cache

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_net_cache", None)
        state.pop("_bar", None)
        return state

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None) -> "SASRec":
        """Learn the model from time-ordered interactions.

        Parameters
        ----------
        X : DataFrame, dict or list
            A frame with user, item and timestamp columns (``timestamp``, ``time`` or ``ts``;
            numbers or datetimes; equal timestamps keep the row order); a dict mapping each
            user id to a sequence of item ids, oldest first; or a list of such sequences
            (the users are then 0..n-1). Ids may be of any hashable type. Repeated items are
            kept: a sequence model learns from re-consumption too.
        y : None
            Ignored; interactions carry no ratings here.

        Returns
        -------
        self : object
            The fitted recommender.

        Raises
        ------
        ValidationError
            When ``X`` gives no order (a frame without a timestamp column, an array).
        """
        rng, where = self._validate("fit")
        users, items, was_pandas = ordered_interactions(X, where)
        self.user_index_, u = IdIndex.from_values(users, "user")
        self.item_index_, i = IdIndex.from_values(items, "item")
        self.n_users_, self.n_items_ = len(self.user_index_), len(self.item_index_)
        self.input_was_pandas_ = was_pandas
        # Users come in contiguous runs (ordered_interactions groups them) and factorize
        # numbers them in order of appearance, so u is non-decreasing: a CSR as it stands.
        counts = np.bincount(u, minlength=self.n_users_)
        self.seq_indptr_ = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.seq_items_ = i.astype(np.int32)
        R = self._csr(u, i, np.ones(len(i), np.float32), (self.n_users_, self.n_items_))
        self._set_seen(R)
        self.item_popularity_ = np.bincount(i, minlength=self.n_items_).astype(np.float64)
        self.loss_ = self._resolve_loss()
        try:
            self._train(rng, where)
        finally:
            self._report(None, 0.0, 0.0)  # closes the progress bar
        if not np.isfinite(self.params_.sum()):
            raise ModelFitError(f"{where}: training diverged (params_ is not finite). Try a smaller "
                                f"learning_rate.")
        return self

    def _resolve_loss(self) -> str:
        if self.loss == "auto":
            return "sampled" if self.n_items_ > AUTO_SAMPLED_ITEMS else "softmax"
        return self.loss

    def _split_validation(self, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Training CSR without the held-out newest items, and the validation users."""
        ptr, items = self.seq_indptr_, self.seq_items_
        if not self.early_stopping:
            return ptr, items, None
        lengths = np.diff(ptr)
        cand = np.flatnonzero(lengths >= 3)
        n_val = int(round(self.validation_fraction * len(cand)))
        n_val = min(n_val, _MAX_VAL_USERS)
        if n_val == 0:
            return ptr, items, None
        val_users = np.sort(rng.choice(cand, n_val, replace=False))
        keep = np.ones(len(items), dtype=bool)
        keep[ptr[val_users + 1] - 1] = False
        new_len = lengths.copy()
        new_len[val_users] -= 1
        tptr = np.concatenate([[0], np.cumsum(new_len)]).astype(np.int64)
        return tptr, items[keep], val_users

    def _train(self, rng: np.random.RandomState, where: str) -> None:
        d, L = self.n_factors, self.max_len
        tptr, titems, val_users = self._split_validation(rng)
        ids, targets = training_windows(tptr, titems, L)
        n_win = windows_per_user(tptr, L)
        # Its own stream, drawn only for "sample": "all" and "last" keep the seed stream of
        # earlier versions (same weights for the same random_state).
        pick_gen = (np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
                    if self.windows == "sample" else None)

        def epoch_rows() -> np.ndarray:
            return pick_windows(n_win, self.windows, pick_gen)
        flat = np.zeros(n_params(self.n_items_, d, self.n_blocks, L), dtype=np.float32)
        init_params(views(flat, param_layout(self.n_items_, d, self.n_blocks, L)), d, rng)
        self.history_ = {"loss": [], "val_ndcg": []}
        self.best_epoch_ = 0
        self.n_iter_ = 0
        self.fit_time_ = 0.0
        n_neg = self.n_negatives if self.loss_ == "sampled" else None
        if self.device_ == "cuda":
            from ._sasrec_torch import train_torch

            self.params_ = train_torch(self, flat, ids, targets, tptr, titems, val_users, n_neg, rng,
                                      epoch_rows)
            return
        self.params_ = flat
        net = self._net()
        gflat = np.zeros_like(flat)
        grads = views(gflat, net.layout)
        opt = {"m": np.zeros_like(flat), "v": np.zeros_like(flat), "step": 0,
               "lr": float(self.learning_rate), "weight_decay": float(self.weight_decay)}
        # One Generator for batching, dropout and negatives: its float32 draws are several
        # times faster than RandomState's, and the masks are a large share of a step.
        gen = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        best, best_flat, bad = -np.inf, flat.copy(), 0
        t0 = time.perf_counter()
        for epoch in range(1, self.max_iter + 1):
            rows = epoch_rows()
            order = rows[gen.permutation(len(rows))]
            total, count = 0.0, 0
            for s in range(0, len(order), self.batch_size):
                bi, bt = ids[order[s : s + self.batch_size]], targets[order[s : s + self.batch_size]]
                T = int((bi >= 0).sum(axis=1).max(initial=1))
                bi = np.ascontiguousarray(bi[:, L - T :])
                bt = np.ascontiguousarray(bt[:, L - T :])
                n_t = int((bt >= 0).sum())
                total += train_step(net, gflat, grads, opt, bi, bt, n_neg, gen) * n_t
                count += n_t
            loss = total / max(count, 1)
            if not np.isfinite(loss):
                raise ModelFitError(f"{where}: training diverged at epoch {epoch} (loss is not "
                                    f"finite). Try a smaller learning_rate.")
            score = self._val_ndcg(net, tptr, titems, val_users) if val_users is not None else float("nan")
            self.history_["loss"].append(float(loss))
            self.history_["val_ndcg"].append(float(score))
            self.n_iter_ = epoch
            self._report(epoch, loss, score)
            if val_users is None:
                self.best_epoch_ = epoch
                continue
            if score > best:
                best, bad, self.best_epoch_ = score, 0, epoch
                best_flat[...] = flat
            else:
                bad += 1
                if bad >= self.n_iter_no_change:
                    break
        self.fit_time_ = time.perf_counter() - t0
        if val_users is not None and self.best_epoch_ > 0:
            flat[...] = best_flat

    def _report(self, epoch: int | None, loss: float, score: float) -> None:
        """With ``verbose``: a tqdm bar of the epochs with the loss and validation NDCG@10."""
        if not self.verbose:
            return
        bar = self.__dict__.get("_bar")
        if epoch is None:  # training ended
            if bar is not None:
                bar.close()
                del self.__dict__["_bar"]
            return
        if bar is None:
            from tqdm.auto import tqdm

            bar = self.__dict__["_bar"] = tqdm(total=self.max_iter, desc=self._name, leave=False)
        bar.set_postfix(loss=f"{loss:.4f}", val_ndcg=f"{score:.4f}")
        bar.update(1)

    def _val_ndcg(self, net: SASRecNet, tptr: np.ndarray, titems: np.ndarray, val_users: np.ndarray) -> float:
        """NDCG@10 of the held-out newest items (full ranking, the rest of the history excluded)."""
        target = self.seq_items_[self.seq_indptr_[val_users + 1] - 1]
        U = net.last_hidden(last_windows(tptr, titems, val_users, self.max_len))
        E = net.p["E"]
        total = 0.0
        step = max(1, (1 << 22) // max(self.n_items_, 1))
        for s in range(0, len(val_users), step):
            S = U[s : s + step] @ E.T
            rows = np.arange(len(S))
            t = S[rows, target[s : s + step]].copy()
            vu = val_users[s : s + step]
            counts = (tptr[vu + 1] - tptr[vu]).astype(np.int64)
            r = np.repeat(rows, counts)
            seen = np.concatenate([titems[tptr[v] : tptr[v + 1]] for v in vu])
            S[r, seen] = -np.inf
            # A held-out item the user had seen before (re-consumption) stays rankable: with
            # it excluded, data with repeats scored 0 every epoch and kept the first epoch.
            S[rows, target[s : s + step]] = t
            rank = (S > t[:, None]).sum(axis=1)
            total += float(np.sum(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0)))
        return total / len(val_users)

    def partial_fit(self, X: Any, y: Any = None) -> "SASRec":
        """Not supported: score new histories with :meth:`recommend_history`, or refit.

        Parameters
        ----------
        X : object
            Ignored.
        y : object
            Ignored.

        Returns
        -------
        self : object
            Never returns.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError(
            f"{self._name}.partial_fit: a sequence model cannot fold in interactions; score new "
            f"or longer histories with recommend_history(), or fit again."
        )

    # ------------------------------------------------------------------ vectors
    def _item_vectors(self) -> np.ndarray:
        return self._net().p["E"]

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        ids = last_windows(self.seq_indptr_, self.seq_items_, np.asarray(uidx, dtype=np.int64), self.max_len)
        return self._net().last_hidden(ids)

    def _cold_user_vector(self) -> np.ndarray:
        return np.zeros(self.n_factors, dtype=np.float32)

    def _cold_item_vector(self) -> np.ndarray:
        return np.zeros(self.n_factors, dtype=np.float32)

    # ------------------------------------------------------------------ histories
    def recommend_history(self, histories: Any, n: int = 10, *, exclude_seen: bool = True,
                          items: Any = None, output: str = "auto") -> Any:
        """Top-``n`` next items for arbitrary item histories, without refitting.

        For anonymous sessions, new users, or users whose newest items arrived after
        training. Each history is read oldest first.

        Parameters
        ----------
        histories : sequence of sequences of item ids, or one flat sequence of item ids
            A list whose elements are ids (not sequences) is *one* history, and the result
            is then that history's row alone (as ``recommend`` does for one user); an empty
            list is one empty history; a 2-D array has one history per row. Item ids the
            model does not know are dropped. Of a history longer than ``max_len`` the newest
            ``max_len`` known items are used (all of them still count as seen).
        n : int, default=10
            Items per history; capped to the items that can be recommended.
        exclude_seen : bool, default=True
            Leave out the items of each history.
        items : array-like of item ids, default=None
            Restrict recommendations to these candidate items.
        output : {"auto", "numpy", "pandas"}, default="auto"
            ``"auto"`` gives numpy.

        Returns
        -------
        ids, scores : ndarray of shape (n_histories, k) (or (k,) for one flat history)
            As :meth:`recommend`. A history with no known item gets the popularity
            fallback (score NaN) and a :class:`~maaskit.exceptions.ColdStartWarning`.
        recommendations : DataFrame
            With ``output="pandas"``: as :meth:`recommend`, with the position of the history
            in ``histories`` in the ``user`` column.

        Raises
        ------
        ValidationError
            When ``histories`` is not a sequence of item ids or of such sequences.
        """
        self._check_fitted("recommend_history")
        where = f"{self._name}.recommend_history"
        if output not in ("auto", "numpy", "pandas"):
            raise ValueError(f"{where}: output must be 'auto', 'numpy' or 'pandas'; got {output!r}.")
        hists, single = split_histories(histories, where)
        codes = []
        for h in hists:
            try:
                c = self.item_index_.lookup(h) if len(h) else np.empty(0, np.int64)
            except TypeError as exc:
                raise ValidationError(f"{where}: {exc}") from None
            codes.append(c[c >= 0].astype(np.int32))
        lengths = np.array([len(c) for c in codes], dtype=np.int64)
        h_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        h_items = np.concatenate(codes) if len(codes) else np.empty(0, np.int32)
        cand = None if items is None else self.item_index_.get_codes(items, where).astype(np.int32)
        if cand is not None and len(np.unique(cand)) != len(cand):
            raise ValueError(f"{where}: items must not contain duplicate ids.")
        n_cand = self.n_items_ if cand is None else len(cand)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{where}: n must be a positive int; got {n!r}.")
        n = int(min(n, n_cand))
        cold = lengths == 0
        if cold.any():
            warn_user(f"{where}: {int(cold.sum())} of {len(hists)} histories have no known item and "
                      f"got the popularity fallback.", ColdStartWarning)
        out_idx = np.empty((len(hists), n), dtype=np.int32)
        out_scores = np.empty((len(hists), n), dtype=np.float32)
        known = np.flatnonzero(~cold)
        if len(known):
            net = self._net()

            def vectors(s: int, e: int) -> np.ndarray:
                return net.last_hidden(last_windows(h_ptr, h_items, known[s:e], self.max_len))

            def seen(s: int, e: int, col_of_item: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
                if not exclude_seen:
                    return np.zeros(e - s + 1, dtype=np.int64), np.empty(0, dtype=np.int32)
                ind, col = csr_rows(h_ptr, h_items, known[s:e], cand, col_of_item)
                # the kernel expects each row's excluded columns without repeats
                return _dedupe_rows(ind, col)

            self._topk_rows(len(known), vectors, seen, n, cand, out_idx, out_scores, known)
        if cold.any():
            pop = self.item_popularity_ if cand is None else self.item_popularity_[cand]
            order = np.argsort(-pop, kind="stable")[:n]
            out_idx[cold] = order if cand is None else cand[order]
            out_scores[cold] = np.nan
        return self._recommend_output(np.arange(len(hists)), cold, out_idx, out_scores,
                                      output == "pandas", single)


def _dedupe_rows(indptr: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each CSR row's columns and drop repeats (a history may hold an item twice)."""
    if len(cols) == 0:
        return indptr, cols
    row = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    key = row.astype(np.int64) * (int(cols.max()) + 1) + cols
    uniq = np.unique(key)
    urow = uniq // (int(cols.max()) + 1)
    ucol = (uniq % (int(cols.max()) + 1)).astype(np.int32)
    counts = np.bincount(urow, minlength=len(indptr) - 1)
    new_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return new_ptr, ucol
