"""Hybrid matrix factorisation over user and item features (LightFM-style cold start).

Kernels: ``hybrid`` (``hybrid_epoch``: one Hogwild SGD epoch of WARP, BPR or squared loss
over sparse feature rows, Adagrad steps), ``topk``.

A user (an item) is the weighted sum of the embeddings of its features; an id with
interactions has its own *identity* feature among them, so warm ids behave like plain
matrix factorisation while ids known only from their features (cold items, new users) are
represented from those alone. Feature columns are laid out as ``[given features | identity
features]``: the given block has a fixed width, identity columns are appended as ids gain
interactions (``fit``, ``partial_fit``).
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._backend import get_kernel
from .._config import effective_n_threads
from .._schema import CSR, Arr, Attr, Rule, check_state
from ..exceptions import ModelFitError
from ..persistence import register
from ..utils._ids import IdIndex, _as_1d, id_type_hint
from ..utils._param_validation import Interval, Options, validate_parameters
from ._base import COMMON_CONSTRAINTS, BaseRecommender
from ._features import FeatureEncoder

_LOSSES = {"warp": 0, "bpr": 1, "squared": 2}


def _feature_schema(kind: str) -> tuple[dict, dict, tuple]:
    """Schema entries of one side (``"user"`` or ``"item"``): CSR rows, tables, widths."""
    rows, feats = f"n_{kind}s", f"n_{kind}_features"
    arrays = {
        f"{kind}_features_indptr_": Arr("i8", (f"{rows}_plus_1",)),
        f"{kind}_features_indices_": Arr("i4", (f"nnz_{kind}_features",)),
        f"{kind}_features_data_": Arr("f4", (f"nnz_{kind}_features",)),
        f"{kind}_embeddings_": Arr("f4", (feats, "n_factors")),
        f"{kind}_biases_": Arr("f4", (feats,)),
    }
    attrs = {f"n_{kind}_features_in_": Attr(int, min=0),
             f"{kind}_encoder_": Attr(dict, optional=True)}
    rules = (
        CSR(f"{kind}_features_indptr_", f"{kind}_features_indices_", rows=rows, cols=feats,
            data=f"{kind}_features_data_"),
        Rule(f"attribute 'n_{kind}_features_in_'", f"must be at most n_{kind}_features",
             lambda d, a, arr, p: a[f"n_{kind}_features_in_"] <= d[feats]),
    )
    return arrays, attrs, rules


def _ridge(X: sp.csr_matrix, T: np.ndarray, lam: float) -> np.ndarray:
    """argmin_W ||X W - T||^2 + lam ||W||^2 (X sparse, n x d; T dense, n x m)."""
    n, d = X.shape
    if d <= 4096:  # the d x d normal equations
        return np.linalg.solve((X.T @ X).toarray() + lam * np.eye(d), X.T @ T)
    if n <= 4096:  # the dual: W = X' (X X' + lam I)^-1 T
        return X.T @ np.linalg.solve((X @ X.T).toarray() + lam * np.eye(n), T)
    from scipy.sparse.linalg import lsmr

    # wide and tall (a large vocabulary over many users): one damped least squares per column
    return np.column_stack([lsmr(X, T[:, j], damp=np.sqrt(lam))[0] for j in range(T.shape[1])])


@dataclass(frozen=True)
class _EncoderState:
    """A saved ``<kind>_encoder_``: its params, attrs and arrays pass FeatureEncoder's own
    closed schema, and its output width equals ``n_<kind>_features_in_``."""

    kind: str

    def check(self, ctx: Any) -> None:
        name = f"{self.kind}_encoder_"
        prefix = f"{name}_"
        arrays = {k[len(prefix):]: v for k, v in ctx.arrays.items() if k.startswith(prefix)}
        state = ctx.attrs.get(name)
        if state is None:
            if arrays:
                ctx.fail(f"array {next(iter(arrays))!r}", f"must be absent without attribute {name!r}")
            return
        if set(state) != {"params", "attrs", "arrays"} or not isinstance(state["params"], dict) \
                or not isinstance(state["attrs"], dict) or state["arrays"] != sorted(arrays):
            ctx.fail(f"attribute {name!r}", "must hold params, attrs and the names of its arrays")
        check_state(FeatureEncoder, state["params"], state["attrs"], arrays)
        if state["attrs"].get("n_features_out_") != ctx.attrs.get(f"n_{self.kind}_features_in_"):
            ctx.fail(f"attribute {name!r}", f"its n_features_out_ must equal n_{self.kind}_features_in_")


_U_ARR, _U_ATTR, _U_RULES = _feature_schema("user")
_I_ARR, _I_ATTR, _I_RULES = _feature_schema("item")


@register
class HybridMF(BaseRecommender):
    """Matrix factorisation whose users and items are sums of feature embeddings.

    The LightFM model (Kula 2015): a user's vector is the (weighted) sum, or mean, of the
    embeddings of its features, an item's likewise, and the score is their dot product plus
    the item's summed feature biases. Ids with interactions carry an identity feature, so
    warm ids are personalised; items and users known only from their features (cold items,
    new sign-ups) are placed by their features. Training is Hogwild SGD with Adagrad steps
    on the WARP or BPR ranking loss, or on the squared error of ratings.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the embeddings.
    loss : {"warp", "bpr", "squared"}, default="warp"
        ``"warp"`` (weighted approximate-rank pairwise: samples negatives until one is
        ranked within a margin of the positive, weighting the step by the estimated rank),
        ``"bpr"`` (Bayesian personalised ranking) or ``"squared"`` (explicit ratings).
    learning_rate : float, default=0.05
        Adagrad step size.
    item_alpha : float, default=1e-6
        L2 penalty on item feature embeddings and biases (per touched feature and step).
    user_alpha : float, default=1e-6
        L2 penalty on user feature embeddings and biases.
    max_iter : int, default=30
        Epochs; each draws as many training interactions as there are.
    max_sampled : int, default=10
        Negatives drawn per positive with WARP (redraws of a seen negative with BPR).
    negatives : {"interacted", "catalogue"} or float in [0, 1], default="catalogue"
        Items WARP and BPR draw negatives from: those with training interactions
        (``"interacted"``, same as 0), the whole catalogue as LightFM does
        (``"catalogue"``, same as 1), or the interacted items plus this share of the items
        without interactions, a fresh random subset every epoch. Drawing items without
        plays teaches the model that they are disliked: better when ranking the whole
        catalogue for new users (AUC over all items), worse when ranking cold items among
        themselves; ``played_feature`` removes most of that cost (measured on
        MovieLens 100k, see the docs page).
    normalize : {"sum", "mean"}, default="mean"
        ``"sum"`` adds the feature embeddings with the feature values as weights; ``"mean"``
        divides every row's values by their sum first (a weighted average). The mean
        ranked new users better on MovieLens 100k (see the docs page).
    played_feature : bool, default=True
        Give every item with training interactions one shared extra feature, "has plays".
        With negatives drawn among items without plays, this one embedding and bias learn
        how much less likely such items are, instead of the genre (or other) embeddings
        bending to explain it: cold items are then ordered better among themselves and
        ranked lower among played ones. New items (``add_items``, cold ids) lack it.
    user_feature_ridge : float or None, default=10.0
        After training, refit the embeddings (and biases) of the given user features by a
        ridge regression, with this penalty, of the vectors of the users with interactions
        on their feature rows. Those users keep their vectors exactly (their identity
        embedding takes up the difference); users known from features only (new sign-ups,
        :meth:`recommend_new_user`) get the regression's prediction: the average taste of
        users with those features, rather than what the SGD left in embeddings that the
        identity features mostly made redundant. ``None`` keeps the SGD embeddings. On
        MovieLens 100k (validation carved from training data) the refit ranked new users
        better over the whole catalogue (AUC +0.002; see the docs page).
    item_encoder : FeatureEncoder, dict or None, default=None
        How ``item_features`` given as a DataFrame are encoded: an unfitted
        :class:`FeatureEncoder` (text columns, ``n_bins``, ``numeric``, ``max_features``,
        ``handle_unknown`` ...), cloned at every ``fit`` (scikit-learn style: the one given
        is never fitted itself), or a dict of its parameters. ``None`` uses
        ``FeatureEncoder()``. The fitted copy is ``item_encoder_``; both are saved with the
        model as plain data (the parameter comes back from a saved model as an encoder).
    user_encoder : FeatureEncoder, dict or None, default=None
        The same for ``user_features``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of the sampling.
    n_jobs : int, default=None
        Threads; ``None`` uses the global ``n_threads`` setting (all cores by default).
        Training with ``n_jobs=1`` is exactly reproducible for a given ``random_state``.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Training runs on the CPU; the parameter is kept for a uniform interface.
    verbose : int, default=0
        Print per-epoch progress when positive.

    Attributes
    ----------
    user_embeddings_ : ndarray of shape (n_user_features, n_factors), float32
        Embedding of every user feature: the given features first, then one identity
        feature per user that had interactions.
    user_biases_ : ndarray of shape (n_user_features,), float32
        Bias of every user feature (used by the squared loss only).
    item_embeddings_ : ndarray of shape (n_item_features, n_factors), float32
        Embedding of every item feature, laid out as the user ones.
    item_biases_ : ndarray of shape (n_item_features,), float32
        Bias of every item feature.
    user_features_indptr_, user_features_indices_, user_features_data_ : ndarray
        The users' feature rows (CSR of shape (n_users_, n_user_features)), normalised.
    item_features_indptr_, item_features_indices_, item_features_data_ : ndarray
        The items' feature rows (CSR of shape (n_items_, n_item_features)), normalised.
    n_user_features_in_ : int
        Width of the given user features (0 when none were given).
    n_item_features_in_ : int
        Width of the given item features.
    user_encoder_ : FeatureEncoder
        The encoder fitted on user features given as a DataFrame (absent otherwise); saved
        with the model as plain data.
    item_encoder_ : FeatureEncoder
        Likewise for item features.
    item_played_col_ : int
        Column of the shared "has plays" item feature (``n_item_features_in_``), or -1.
    global_mean_ : float
        Mean rating (squared loss; 0 for the ranking losses).
    train_accuracy_ : float
        Share of the last epoch's examples that needed no step (WARP) or were ranked
        correctly (BPR); 0 for the squared loss.
    n_iter_ : int
        Epochs run.
    rating_range_ : list of float
        Smallest and largest training rating (squared loss only).
    user_index_ : IdIndex
        Known user ids: those of the interactions, then those known from features only.
    item_index_ : IdIndex
        Known item ids (the catalogue), likewise.
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
    >>> import numpy as np, pandas as pd, scipy.sparse as sp
    >>> from maaskit.recommender import HybridMF
    >>> plays = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": ["a", "b", "a", "b", "c"]})
    >>> genres = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 0]]))
    >>> model = HybridMF(n_factors=4, max_iter=5, random_state=0)
    >>> model = model.fit(plays, item_features=(genres, ["a", "b", "c", "new"]))
    >>> model.n_items_  # "new" has no plays: a cold item, placed by its genre
    4
    """

    _kernel = "hybrid"
    _state_schema = BaseRecommender._state_schema.extend(
        arrays={**_U_ARR, **_I_ARR},
        attrs={**_U_ATTR, **_I_ATTR,
               "global_mean_": Attr(float),
               "item_played_col_": Attr(int, min=-1, optional=True),
               "train_accuracy_": Attr(float, min=0, max=1, optional=True)},
        rules=_U_RULES + _I_RULES + (
            _EncoderState("user"), _EncoderState("item"),
            Rule("attribute 'item_played_col_'", "must be -1 or n_item_features_in_ (below n_item_features)",
                 lambda d, a, arr, p: a.get("item_played_col_", -1) in (-1, a["n_item_features_in_"])
                 and a.get("item_played_col_", -1) < d["n_item_features"])),
        # the encoders' own arrays (categories, vocabularies, bin edges), checked by them
        patterns={"user_encoder__*": Arr("label"), "item_encoder__*": Arr("label")},
        param_dims={"n_factors": "n_factors"},
    )
    _parameter_constraints = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "loss": [Options(frozenset(_LOSSES))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "item_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "user_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_sampled": [Interval(numbers.Integral, 1, None, closed="left")],
        "negatives": [Options(frozenset({"interacted", "catalogue"})),
                      Interval(numbers.Real, 0, 1, closed="both")],
        "normalize": [Options(frozenset({"sum", "mean"}))],
        "played_feature": ["boolean"],
        "user_feature_ridge": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "item_encoder": [FeatureEncoder, dict, None],
        "user_encoder": [FeatureEncoder, dict, None],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_factors: int = 64, *, loss: str = "warp", learning_rate: float = 0.05,
                 item_alpha: float = 1e-6, user_alpha: float = 1e-6, max_iter: int = 30,
                 max_sampled: int = 10, negatives: str | float = "catalogue", normalize: str = "mean",
                 played_feature: bool = True, user_feature_ridge: float | None = 10.0,
                 item_encoder: FeatureEncoder | dict | None = None, user_encoder: FeatureEncoder | dict | None = None, random_state=None,
                 n_jobs: int | None = None, backend: str = "auto", device: str = "auto",
                 verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.loss = loss
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_iter = max_iter
        self.max_sampled = max_sampled
        self.negatives = negatives
        self.normalize = normalize
        self.played_feature = played_feature
        self.user_feature_ridge = user_feature_ridge
        self.item_encoder = item_encoder
        self.user_encoder = user_encoder
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.device = device
        self.verbose = verbose

    @property
    def _implicit(self) -> bool:  # type: ignore[override]
        # Ranking losses read interactions as implicit feedback, the squared loss as ratings.
        return getattr(self, "loss", "warp") != "squared"

    # ------------------------------------------------------------------ feature input
    def _read_features(self, features: Any, kind: str, where: str, fit: bool, word_vectors: Any = None) -> tuple:
        """Check ``features``; return (CSR float32 of the given features, ids, encoder or None)."""
        name = f"{kind}_features"
        if isinstance(features, pd.DataFrame):
            return self._encode_frame(features, kind, where, fit, word_vectors)
        if not (isinstance(features, tuple) and len(features) == 2):
            raise TypeError(
                f"{where}: {name} must be a pandas DataFrame indexed by {kind} id or a tuple "
                f"(matrix, ids); got {type(features).__name__}."
            )
        matrix, ids = features
        if isinstance(ids, (list, tuple, np.ndarray, pd.Index, pd.Series)) and np.ndim(np.asarray(ids, dtype=object)) != 1:
            raise TypeError(f"{where}: {name} ids must be a 1-D sequence of hashable scalars (int, "
                            f"str, ...); got shape {np.shape(np.asarray(ids, dtype=object))}.")
        try:
            ids = _as_1d(ids)
        except ValueError:  # ragged nested sequences
            raise TypeError(f"{where}: {name} ids must be hashable scalars (int, str, ...).") from None
        if sp.issparse(matrix):
            M = sp.csr_matrix(matrix)
        else:
            M = np.asarray(matrix)
            if M.ndim != 2:
                raise ValueError(f"{where}: the {name} matrix must be 2-D of shape (n_{kind}s, "
                                 f"n_features); got shape {M.shape}.")
            M = sp.csr_matrix(M) if M.dtype.kind in "biuf" else M
        if not sp.issparse(M) or M.dtype.kind not in "biuf":
            raise TypeError(f"{where}: the {name} matrix must hold numbers; got dtype "
                            f"{getattr(M, 'dtype', None)}.")
        if M.shape[0] != len(ids):
            raise ValueError(f"{where}: the {name} matrix has {M.shape[0]} rows but {len(ids)} "
                             f"ids were given; one id per row.")
        if M.shape[1] < 1:
            raise ValueError(f"{where}: the {name} matrix has 0 feature(s) (shape={M.shape}) "
                             f"while a minimum of 1 is required.")
        if not fit:
            want = getattr(self, f"n_{kind}_features_in_")
            if hasattr(self, f"{kind}_encoder_"):
                raise TypeError(f"{where}: {name} must be a DataFrame (the model encodes "
                                f"{kind} features from frames); got a matrix.")
            if M.shape[1] != want:
                raise ValueError(f"{where}: the {name} matrix has {M.shape[1]} features, but "
                                 f"{self._name} is expecting {want} features as input.")
        M = M.astype(np.float32)
        if not np.isfinite(M.data).all():
            raise ValueError(f"{where}: the {name} matrix must not contain NaN or inf.")
        return (*self._finish(M, ids, name, where), None)

    @staticmethod
    def _finish(M: sp.csr_matrix, ids: np.ndarray, name: str, where: str) -> tuple[sp.csr_matrix, np.ndarray]:
        try:
            dup = pd.Index(ids).duplicated()
        except TypeError:
            raise TypeError(f"{where}: {name} ids must be hashable scalars (int, str, ...).") from None
        if dup.any():
            raise ValueError(f"{where}: {name} ids must be unique; duplicated: "
                             f"{ids[dup][:5].tolist()!r}.")
        M.sum_duplicates()
        M.eliminate_zeros()
        M.sort_indices()
        return M, ids

    def _encode_frame(self, df: pd.DataFrame, kind: str, where: str, fit: bool, word_vectors: Any = None) -> tuple:
        if fit:
            enc = self._new_encoder(kind, where)
            M = enc.fit_transform(df, word_vectors=word_vectors)
        else:
            enc = getattr(self, f"{kind}_encoder_", None)
            if enc is None:
                raise TypeError(f"{where}: {kind}_features must be a tuple (matrix, ids): the model "
                                f"was fitted on {kind} features given as a matrix.")
            M = enc.transform(df)
        M = sp.csr_matrix(M, dtype=np.float32)
        if not np.isfinite(M.data).all():
            raise ValueError(f"{where}: the encoded {kind}_features must not contain NaN or inf.")
        return (*self._finish(M, _as_1d(df.index.to_numpy()), f"{kind}_features", where), enc)

    def _new_encoder(self, kind: str, where: str) -> FeatureEncoder:
        """A fresh, unfitted encoder from the ``<kind>_encoder`` parameter (never that object)."""
        spec = getattr(self, f"{kind}_encoder")
        if spec is None:
            return FeatureEncoder()
        params = spec.get_params(deep=False) if isinstance(spec, FeatureEncoder) else dict(spec)
        allowed = FeatureEncoder().get_params(deep=False)
        unknown = sorted(set(params) - set(allowed), key=str)
        if unknown:
            raise ValueError(f"{where}: {kind}_encoder must hold FeatureEncoder parameters "
                             f"{sorted(allowed)}; got unknown key(s) {unknown!r}.")
        # a deep copy, so that fitting never shares a mutable value (columns) with the parameter
        enc = FeatureEncoder(**copy.deepcopy(params))
        validate_parameters(enc)
        return enc

    def _normalized(self, M: sp.csr_matrix) -> sp.csr_matrix:
        if self.normalize == "mean":
            s = np.asarray(abs(M).sum(axis=1)).ravel()
            M = sp.csr_matrix(sp.diags(np.where(s > 0, 1.0 / np.where(s > 0, s, 1), 0.0)) @ M, dtype=np.float32)
        return M

    # ------------------------------------------------------------------ feature tables
    def _csr_of(self, kind: str) -> sp.csr_matrix:
        n_rows = self.n_users_ if kind == "user" else self.n_items_
        E = getattr(self, f"{kind}_embeddings_")
        return sp.csr_matrix((getattr(self, f"{kind}_features_data_"), getattr(self, f"{kind}_features_indices_"),
                              getattr(self, f"{kind}_features_indptr_")), shape=(n_rows, E.shape[0]))

    def _set_csr(self, kind: str, M: sp.csr_matrix) -> None:
        M.sort_indices()
        setattr(self, f"{kind}_features_indptr_", M.indptr.astype(np.int64))
        setattr(self, f"{kind}_features_indices_", M.indices.astype(np.int32))
        setattr(self, f"{kind}_features_data_", M.data.astype(np.float32))

    def _given_rows(self, n_rows: int, n_in: int, index: IdIndex, given: tuple | None) -> sp.csr_matrix:
        """Rows (in index order) of the given features; ids without features get empty rows."""
        if given is None:
            return sp.csr_matrix((n_rows, n_in), dtype=np.float32)
        M, ids = given[0], given[1]
        pos = index.lookup(ids)
        keep = (pos >= 0) & (pos < n_rows)
        P = sp.csr_matrix((np.ones(keep.sum(), np.float32), (pos[keep], np.flatnonzero(keep))),
                          shape=(n_rows, M.shape[0]))
        return sp.csr_matrix(P @ M, dtype=np.float32)

    def _rows_with_identity(self, given_rows: sp.csr_matrix, id_rows: np.ndarray, id_cols: np.ndarray,
                            n_cols: int, played_col: int = -1) -> sp.csr_matrix:
        n_rows = given_rows.shape[0]
        if played_col >= 0:  # the shared 'has plays' feature rides along with every identity
            id_rows = np.concatenate([id_rows, id_rows])
            id_cols = np.concatenate([id_cols, np.full(len(id_cols), played_col)])
        ident = sp.csr_matrix((np.ones(len(id_rows), np.float32), (id_rows, id_cols)), shape=(n_rows, n_cols))
        given = given_rows.copy()
        given.resize((n_rows, n_cols))
        return self._normalized(sp.csr_matrix(given + ident, dtype=np.float32))

    def _init_table(self, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
        k = self.n_factors
        return ((rng.random_sample((n, k)) - 0.5) / k).astype(np.float32), np.zeros(n, np.float32)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, *, item_features: Any = None,
            user_features: Any = None, word_vectors: Any = None) -> "HybridMF":
        """Learn feature embeddings from interactions and (optional) user and item features.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_interactions, 2 or 3), or sparse matrix
            Interactions, as :meth:`BaseRecommender.fit` takes them.
        y : array-like of shape (n_interactions,), default=None
            Ratings, if not part of ``X``.
        item_features : DataFrame or tuple (matrix, ids), default=None
            A DataFrame indexed by item id (encoded by :class:`FeatureEncoder`: one-hot
            categories, multi-hot lists, binned numbers, bags of words), or a tuple of a
            matrix of shape (n_rows, n_features) (scipy.sparse or dense, numbers) and its
            ``n_rows`` distinct ids. Ids absent from the interactions are cold items: they
            join the catalogue and are placed by their features alone.
        user_features : DataFrame or tuple (matrix, ids), default=None
            The same for users; ids absent from the interactions are users with no history.
        word_vectors : Word2Vec or KeyedVectors, default=None
            A fitted :class:`maaskit.text.Word2Vec` given to the encoders' ``fit``: the text
            columns of DataFrame features also get the mean vector of their known words
            (see :class:`FeatureEncoder`); the vectors used are saved with the encoders.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        rng, where = self._validate("fit")
        inter = self._interactions(X, y, where)
        for a in ("user_encoder_", "item_encoder_"):
            self.__dict__.pop(a, None)
        given = {}
        for kind, feats in (("user", user_features), ("item", item_features)):
            given[kind] = None if feats is None else self._read_features(feats, kind, where, fit=True,
                                                                          word_vectors=word_vectors)
        if inter.source == "sparse":
            self.user_index_ = IdIndex(np.arange(inter.shape[0]), "user")
            self.item_index_ = IdIndex(np.arange(inter.shape[1]), "item")
            u, i = inter.users.astype(np.int32), inter.items.astype(np.int32)
        else:
            self.user_index_, u = IdIndex.from_values(inter.users, "user")
            self.item_index_, i = IdIndex.from_values(inter.items, "item")
        n_warm = {"user": len(self.user_index_), "item": len(self.item_index_)}
        for kind in ("user", "item"):
            if given[kind] is None:
                continue
            index = getattr(self, f"{kind}_index_")
            ids = given[kind][1]
            known = index.lookup(ids) >= 0
            if len(ids) and not known.any():
                hint = id_type_hint(index, ids)
                if hint:
                    raise ValueError(f"{where}: none of the {len(ids)} {kind}_features ids is a{'n' if kind == 'item' else ''} "
                                     f"{kind} of the interactions. {hint}")
            setattr(self, f"{kind}_index_", index.extend(ids)[0])
        self.n_users_, self.n_items_ = len(self.user_index_), len(self.item_index_)
        vals = inter.values.astype(np.float32)
        R = self._csr(u, i, vals, (self.n_users_, self.n_items_))
        self._set_seen(R)
        self.item_popularity_ = np.bincount(i, minlength=self.n_items_).astype(np.float64)
        self.input_was_pandas_ = inter.source == "pandas"
        if not self._implicit:
            self.rating_range_ = [float(vals.min()), float(vals.max())]
        self.global_mean_ = float(vals.mean()) if not self._implicit and len(vals) else 0.0
        for kind in ("user", "item"):
            n_rows = self.n_users_ if kind == "user" else self.n_items_
            n_in = 0 if given[kind] is None else given[kind][0].shape[1]
            setattr(self, f"n_{kind}_features_in_", int(n_in))
            rows = self._given_rows(n_rows, n_in, getattr(self, f"{kind}_index_"), given[kind])
            w = n_warm[kind]
            # items: column n_in is the shared 'has plays' feature, identities follow it
            played = n_in if kind == "item" and self.played_feature else -1
            first = n_in + (played >= 0)
            if kind == "item":
                self.item_played_col_ = int(played)
            M = self._rows_with_identity(rows, np.arange(w), first + np.arange(w), first + w, played)
            self._set_csr(kind, M)
            E, B = self._init_table(first + w, rng)
            setattr(self, f"{kind}_embeddings_", E)
            setattr(self, f"{kind}_biases_", B)
            if given[kind] is not None and given[kind][2] is not None:
                setattr(self, f"{kind}_encoder_", given[kind][2])
        self.n_iter_ = 0
        self.train_accuracy_ = 0.0
        self._train(u, i, vals, np.arange(len(u)), rng, where, count_epochs=True)
        self._refit_features()
        self._check_divergence(where)
        return self

    def _refit_features(self) -> None:
        """Ridge refit of the given user features' embeddings (``user_feature_ridge``).

        Rows with an identity and given features are the regression's examples: their
        given part, rescaled to sum 1 as a row without identity is stored, against their
        whole vector (embedding | bias). The new embeddings replace the given ones, and each
        such row's identity embedding absorbs the change, so its vector is unchanged.
        """
        lam = self.user_feature_ridge
        n_in = self.n_user_features_in_
        if lam is None or n_in == 0:
            return
        F = self._csr_of("user")
        first = self._identity_start("user")
        G, ident = F[:, :n_in].tocsr(), F[:, first:].tocsr()
        rows = np.flatnonzero((ident.getnnz(axis=1) == 1) & (G.getnnz(axis=1) > 0))
        if len(rows) < 2:
            return
        E, B = self.user_embeddings_.astype(np.float64), self.user_biases_.astype(np.float64)
        T = np.hstack([F[rows] @ E, (F[rows] @ B)[:, None]])
        Gw = G[rows]
        s = np.asarray(abs(Gw).sum(axis=1)).ravel()
        Gn = sp.csr_matrix(sp.diags(1.0 / s) @ Gw) if self.normalize == "mean" else Gw
        W = _ridge(Gn, T, float(lam))
        delta = Gw @ (W - np.hstack([E[:n_in], B[:n_in, None]]))
        idc = ident[rows].tocoo()  # one identity per row: row r's column and weight
        col, coef = np.empty(len(rows), np.int64), np.empty(len(rows))
        col[idc.row], coef[idc.row] = idc.col + first, idc.data
        E[:n_in], B[:n_in] = W[:, :-1], W[:, -1]
        E[col] -= delta[:, :-1] / coef[:, None]
        B[col] -= delta[:, -1] / coef
        self.user_embeddings_, self.user_biases_ = E.astype(np.float32), B.astype(np.float32)

    def _train(self, u: np.ndarray, i: np.ndarray, vals: np.ndarray, order: np.ndarray, rng,
               where: str, count_epochs: bool) -> None:
        if self._implicit:
            # zero-weight interactions are not positives
            keep = vals > 0
            u, i, vals = u[keep], i[keep], vals[keep]
        kern = get_kernel("hybrid", self.backend_)
        Fu, Fi = self._csr_of("user"), self._csr_of("item")
        seen = self._seen_matrix()
        played = np.flatnonzero(self.item_popularity_ > 0).astype(np.int32)
        unplayed = np.flatnonzero(self.item_popularity_ <= 0).astype(np.int32)
        share = {"interacted": 0.0, "catalogue": 1.0}.get(self.negatives, self.negatives)
        # each epoch draws negatives among the played items plus this many unplayed ones
        n_unplayed = int(round(float(share) * len(unplayed)))
        params = [self.user_embeddings_, self.user_biases_, self.item_embeddings_, self.item_biases_]
        accs = [np.ones_like(p) for p in params]
        values = (vals - self.global_mean_).astype(np.float32)
        args = (np.ascontiguousarray(Fu.indptr, np.int64), np.ascontiguousarray(Fu.indices, np.int32),
                np.ascontiguousarray(Fu.data, np.float32), np.ascontiguousarray(Fi.indptr, np.int64),
                np.ascontiguousarray(Fi.indices, np.int32), np.ascontiguousarray(Fi.data, np.float32),
                np.ascontiguousarray(u, np.int32), np.ascontiguousarray(i, np.int32), values,
                np.ascontiguousarray(seen.indptr, np.int64), np.ascontiguousarray(seen.indices, np.int32))
        n_threads = effective_n_threads(self.n_jobs)
        seeds = rng.randint(0, 2**63 - 1, size=max(self.max_iter, 1), dtype=np.int64)
        stats = np.zeros(2, np.int64)
        loss = _LOSSES[self.loss]
        for epoch in range(self.max_iter):
            if n_unplayed == len(unplayed):
                pool = np.arange(self.n_items_, dtype=np.int32) if len(unplayed) else played
            elif n_unplayed == 0:
                pool = played
            else:  # a fresh subset every epoch, so every unplayed item serves in turn
                pool = np.sort(np.concatenate(
                    [played, rng.choice(unplayed, n_unplayed, replace=False).astype(np.int32)]))
            kern.hybrid_epoch(loss, *args, pool, *params, *accs, float(self.learning_rate),
                              float(self.user_alpha), float(self.item_alpha), int(self.max_sampled),
                              int(seeds[epoch]), len(u), n_threads, stats)
            used = max(1, len(u) - int(stats[1]))
            acc = float(stats[0]) / used if loss != 2 else 0.0
            if count_epochs:
                self.n_iter_ = epoch + 1
                self.train_accuracy_ = min(1.0, acc)
            if self.verbose:
                print(f"HybridMF: epoch {epoch + 1}/{self.max_iter}, {self.loss} accuracy {acc:.4f}")
            if not all(np.isfinite(p.sum()) for p in params):
                raise ModelFitError(
                    f"{where}: training diverged at epoch {epoch + 1} (embeddings are not "
                    f"finite). Try a smaller learning_rate or a larger item_alpha/user_alpha."
                )

    # ------------------------------------------------------------------ partial_fit
    def partial_fit(self, X: Any, y: Any = None, *, item_features: Any = None,
                    user_features: Any = None) -> "HybridMF":
        """Continue training on new interactions; new ids get identity features.

        Like LightFM's ``fit_partial``: ``max_iter`` more epochs over the new interactions
        only, updating every embedding they touch. New users and items in ``X`` join the
        model with an identity feature (and their rows of ``user_features`` /
        ``item_features`` when given). On an unfitted model this is :meth:`fit`.

        Parameters
        ----------
        X : DataFrame, array-like or sparse matrix
            New interactions, in any format :meth:`fit` accepts.
        y : array-like of shape (n_interactions,), default=None
            Ratings, if not part of ``X``.
        item_features : DataFrame or tuple (matrix, ids), default=None
            Features of the new items of ``X`` (encoded as at fit); other rows are ignored.
        user_features : DataFrame or tuple (matrix, ids), default=None
            Features of the new users of ``X``.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "item_index_"):
            return self.fit(X, y, item_features=item_features, user_features=user_features)
        self._pending = {}
        for kind, feats in (("user", user_features), ("item", item_features)):
            if feats is not None:
                self._pending[kind] = self._read_features(feats, kind, f"{self._name}.partial_fit", fit=False)
        try:
            return super().partial_fit(X, y)
        finally:
            self.__dict__.pop("_pending", None)

    def _grow(self, n_users: int, n_items: int, rng) -> None:
        pending = getattr(self, "_pending", {})
        for kind, n_new in (("user", n_users), ("item", n_items)):
            if not n_new:
                continue
            index = getattr(self, f"{kind}_index_")  # already extended by the base class
            n_old = len(index) - n_new
            n_in = getattr(self, f"n_{kind}_features_in_")
            rows = self._given_rows(len(index), n_in, index, pending.get(kind))[n_old:]
            E = getattr(self, f"{kind}_embeddings_")
            n_cols = E.shape[0] + n_new
            rows.resize((n_new, n_in))
            played = getattr(self, "item_played_col_", -1) if kind == "item" else -1
            new = self._rows_with_identity(rows, np.arange(n_new), E.shape[0] + np.arange(n_new), n_cols,
                                           played)
            old = self._csr_of(kind)  # n_users_/n_items_ are still the old counts here
            old.resize((n_old, n_cols))
            self._set_csr(kind, sp.vstack([old, new], format="csr"))
            En, Bn = self._init_table(n_new, rng)
            setattr(self, f"{kind}_embeddings_", np.vstack([E, En]))
            setattr(self, f"{kind}_biases_", np.concatenate([getattr(self, f"{kind}_biases_"), Bn]))

    def _identity_start(self, kind: str) -> int:
        """First identity column of ``kind`` (after the given features and 'has plays')."""
        played = getattr(self, "item_played_col_", -1) if kind == "item" else -1
        return getattr(self, f"n_{kind}_features_in_") + (played >= 0)

    def _give_identity(self, kind: str, rows: np.ndarray, rng) -> None:
        """Give the ``rows`` that have none an identity feature (and items 'has plays').

        Ids known from features only (cold items, ``add_users``) have no identity column;
        once ``partial_fit`` brings them interactions they get one, as if they had been
        in the interactions at fit. Their stored rows are already normalised: with
        ``normalize="mean"`` the given part counts as one unit of weight, which is exact
        for rows the FeatureEncoder's default ``"l1"`` made sum to 1.
        """
        F = self._csr_of(kind)
        rows = np.unique(np.asarray(rows, np.int64))
        first = self._identity_start(kind)
        lacking = rows[F[rows][:, first:].getnnz(axis=1) == 0] if len(rows) else rows
        if not len(lacking):
            return
        E = getattr(self, f"{kind}_embeddings_")
        n_new, n_cols = len(lacking), E.shape[0] + len(lacking)
        played = getattr(self, "item_played_col_", -1) if kind == "item" else -1
        F.resize((F.shape[0], n_cols))
        new = self._rows_with_identity(F[lacking], np.arange(n_new), E.shape[0] + np.arange(n_new), n_cols,
                                       played)
        keep = np.ones(F.shape[0], np.float32)
        keep[lacking] = 0.0
        place = sp.csr_matrix((np.ones(n_new, np.float32), (lacking, np.arange(n_new))), shape=(F.shape[0], n_new))
        self._set_csr(kind, sp.csr_matrix(sp.diags(keep) @ F + place @ new, dtype=np.float32))
        En, Bn = self._init_table(n_new, rng)
        setattr(self, f"{kind}_embeddings_", np.vstack([E, En]))
        setattr(self, f"{kind}_biases_", np.concatenate([getattr(self, f"{kind}_biases_"), Bn]))

    def _fold_in(self, users, items, values, R_full, touched_users, new_items, rng) -> None:
        # ids that had features only and now have interactions get their identity feature
        pos = values > 0 if self._implicit else np.ones(len(users), bool)
        self._give_identity("user", users[pos], rng)
        self._give_identity("item", items[pos], rng)
        acc = getattr(self, "train_accuracy_", 0.0)
        self._train(users, items, values, np.arange(len(users)), rng, f"{self._name}.partial_fit",
                    count_epochs=False)
        self.train_accuracy_ = acc
        self._refit_features()

    # ------------------------------------------------------------------ new ids from features
    def _add(self, features: Any, kind: str, method: str) -> None:
        self._check_fitted(method)
        where = f"{self._name}.{method}"
        M, ids, _ = self._read_features(features, kind, where, fit=False)
        index = getattr(self, f"{kind}_index_")
        known = index.lookup(ids) >= 0
        if known.any():
            raise ValueError(f"{where}: {kind} ids must be new; already known: "
                             f"{ids[known][:5].tolist()!r}. Use partial_fit to add interactions.")
        if len(ids) == 0:
            return
        new_index, _, n_old = index.extend(ids)
        E = getattr(self, f"{kind}_embeddings_")
        rows = sp.csr_matrix(M, dtype=np.float32)
        rows.resize((len(ids), E.shape[0]))
        old = self._csr_of(kind)
        self._set_csr(kind, sp.vstack([old, self._normalized(rows)], format="csr"))
        setattr(self, f"{kind}_index_", new_index)
        if kind == "item":
            self.n_items_ = len(new_index)
            self.item_popularity_ = np.concatenate([self.item_popularity_, np.zeros(len(ids))])
        else:
            self.n_users_ = len(new_index)
            self.seen_indptr_ = np.concatenate([self.seen_indptr_,
                                                np.full(len(ids), self.seen_indptr_[-1], np.int64)])

    def add_items(self, item_features: Any) -> "HybridMF":
        """Add new items known from their features alone, without refitting.

        They join the catalogue: :meth:`recommend` ranks them and :meth:`similar_items`
        finds their neighbours, and they are saved with the model.

        Parameters
        ----------
        item_features : DataFrame or tuple (matrix, ids)
            Features of the new items, in the form given to :meth:`fit` (a DataFrame goes
            through the fitted encoder; a matrix must have ``n_item_features_in_`` columns).
            The ids must be new.

        Returns
        -------
        self : object
        """
        self._add(item_features, "item", "add_items")
        return self

    def add_users(self, user_features: Any) -> "HybridMF":
        """Add new users known from their features alone, without refitting.

        Parameters
        ----------
        user_features : DataFrame or tuple (matrix, ids)
            Features of the new users, in the form given to :meth:`fit`. The ids must be new.

        Returns
        -------
        self : object
        """
        self._add(user_features, "user", "add_users")
        return self

    def recommend_new_user(self, user_features: Any, n: int = 10, *, items: Any = None,
                           output: str = "auto") -> Any:
        """Top-``n`` items for users with no history, from their features alone.

        The users are not added to the model (see :meth:`add_users` for that).

        Parameters
        ----------
        user_features : DataFrame or tuple (matrix, ids)
            One row per new user, in the form given to :meth:`fit`; the index (ids) names
            the users in the output.
        n : int, default=10
            Items per user; capped to the candidates.
        items : array-like of item ids, default=None
            Restrict recommendations to these candidate items.
        output : {"auto", "numpy", "pandas"}, default="auto"
            ``"auto"`` gives pandas when ``user_features`` is a DataFrame.

        Returns
        -------
        ids, scores : ndarray of shape (n_users, k)
            With numpy output, as :meth:`recommend`.
        recommendations : DataFrame
            With pandas output: columns user, item, score, rank, fallback, popularity.
        """
        self._check_fitted("recommend_new_user")
        where = f"{self._name}.recommend_new_user"
        if output not in ("auto", "numpy", "pandas"):
            raise ValueError(f"{where}: output must be 'auto', 'numpy' or 'pandas'; got {output!r}.")
        M, ids, _ = self._read_features(user_features, "user", where, fit=False)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{where}: n must be a positive int; got {n!r}.")
        cand = None if items is None else self.item_index_.get_codes(items, where).astype(np.int32)
        if cand is not None and len(np.unique(cand)) != len(cand):
            raise ValueError(f"{where}: items must not contain duplicate ids.")
        V = self._item_vectors() if cand is None else self._item_vectors()[cand]
        n = int(min(n, len(V)))
        rows = sp.csr_matrix(M, dtype=np.float32)
        rows.resize((len(ids), self.user_embeddings_.shape[0]))
        P = self._vectors_of(self._normalized(rows), "user")
        S = np.ascontiguousarray(P @ V.T, dtype=np.float32)
        out_i = np.empty((len(ids), n), np.int32)
        out_s = np.empty((len(ids), n), np.float32)
        if len(ids) and n:
            get_kernel("topk", self._topk_backend()).topk_rows(
                S, np.zeros(len(ids) + 1, np.int64), np.empty(0, np.int32), n, out_i, out_s,
                effective_n_threads(self.n_jobs))
        if cand is not None:
            out_i = np.where(out_i >= 0, cand[np.maximum(out_i, 0)], -1).astype(np.int32)
        as_pandas = output == "pandas" or (output == "auto" and isinstance(user_features, pd.DataFrame))
        return self._recommend_output(ids, np.zeros(len(ids), bool), out_i, out_s, as_pandas, False)

    # ------------------------------------------------------------------ vectors
    def _vectors_of(self, F: sp.csr_matrix, kind: str) -> np.ndarray:
        """[p, 1, b + mean] for user rows, used against item vectors [q, b, 1]."""
        E, B = getattr(self, f"{kind}_embeddings_"), getattr(self, f"{kind}_biases_")
        out = np.empty((F.shape[0], self.n_factors + 2), np.float32)
        out[:, : self.n_factors] = F @ E
        if kind == "user":
            out[:, -2] = 1.0
            out[:, -1] = (F @ B) + self.global_mean_ if not self._implicit else 0.0
        else:
            out[:, -2] = F @ B
            out[:, -1] = 1.0
        return out

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return self._vectors_of(self._csr_of("user")[uidx], "user")

    def _item_vectors(self) -> np.ndarray:
        return self._vectors_of(self._csr_of("item"), "item")

    def _item_embeddings(self) -> np.ndarray:
        return self._csr_of("item") @ self.item_embeddings_

    def _cold_user_vector(self) -> np.ndarray:
        v = np.zeros(self.n_factors + 2, np.float32)
        v[-2] = 1.0
        v[-1] = self.global_mean_
        return v

    def _cold_item_vector(self) -> np.ndarray:
        return np.zeros(self.n_factors + 2, np.float32)

    def _factor_arrays(self) -> list[str]:
        return ["user_embeddings_", "user_biases_", "item_embeddings_", "item_biases_"]

    # ------------------------------------------------------------------ persistence
    _ENCODERS = ("user_encoder_", "item_encoder_")

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        # The fitted encoders are objects: save their plain-data state under their own names.
        encoders = {k: self.__dict__.pop(k) for k in self._ENCODERS if k in self.__dict__}
        try:
            attrs, arrays = super()._get_state()
        finally:
            self.__dict__.update(encoders)
        for name, enc in encoders.items():
            e_attrs, e_arrays = enc._get_state()
            attrs[name] = {"params": enc.get_params(), "attrs": e_attrs, "arrays": sorted(e_arrays)}
            for a, value in e_arrays.items():
                arrays[f"{name}_{a}"] = value
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        attrs, arrays = dict(attrs), dict(arrays)
        encoders = {k: attrs.pop(k) for k in self._ENCODERS if k in attrs}
        prefixes = tuple(f"{k}_" for k in self._ENCODERS)
        enc_arrays = {k: arrays.pop(k) for k in list(arrays) if k.startswith(prefixes)}
        super()._set_state(attrs, arrays)
        for p in ("item_encoder", "user_encoder"):
            # artifacts hold an encoder parameter as its params (JSON): give back the encoder
            if isinstance(getattr(self, p, None), dict):
                setattr(self, p, self._new_encoder(p[: -len("_encoder")], f"{self._name}.load"))
        for name, state in encoders.items():
            # params and state were checked by _EncoderState (FeatureEncoder's schema)
            enc = FeatureEncoder(**state["params"])
            enc._set_state(state["attrs"], {a: enc_arrays[f"{name}_{a}"] for a in state["arrays"]})
            setattr(self, name, enc)
