"""FeatureEncoder: side information about items or users (a DataFrame indexed by id) as a
sparse feature matrix, the input of hybrid recommenders (LightFM's ``item_features``).

Kernels: none (NumPy, pandas and SciPy).
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._estimator import LightEstimator
from .._schema import Arr, Attr, Ids, Rule, StateSchema
from ..exceptions import FeatureError, UnknownCategoryWarning
from ..persistence import PersistableMixin, register
from ..utils._ids import IdIndex
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils._warnings import warn_user

__all__ = ["FeatureEncoder", "KINDS"]

#: The column kinds a FeatureEncoder knows.
KINDS = ("categorical", "multi", "numeric", "text")
_LIST_TYPES = (list, tuple, set, frozenset, np.ndarray)
# The error-message examples show this many offending values.
_SHOW = 3


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and v != v


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _is_json_scalar(v: Any) -> bool:
    if isinstance(v, bool) or isinstance(v, str):
        return True
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v)


def _fmt(v: float) -> str:
    return f"{v:g}"


@register
class FeatureEncoder(PersistableMixin, LightEstimator):
    """Encode item or user features (a DataFrame indexed by id) as a sparse matrix.

    One output row per id of the input, in the input's order, and one column per feature
    (a category, a label, a numeric bin, a word). This is the ``item_features`` /
    ``user_features`` matrix of a LightFM-style hybrid model, where an item is the sum of
    the embeddings of its features.

    **Column kinds.** A kind declared in ``columns`` wins; otherwise it is detected:

    - ``"categorical"`` (one-hot): bool and ``category`` dtypes, and string (or mixed
      scalar) columns that are not text. Values are compared with Python equality (so
      ``1 == 1.0``, but ``"1" != 1``).
    - ``"multi"`` (multi-hot): object columns whose cells are lists, tuples, sets or
      arrays of labels (genres, tags). A column *declared* ``"multi"`` may also hold
      strings, split on ``delimiter`` (``"Action|Comedy"``).
    - ``"numeric"``: int and float dtypes (nullable ones included). With
      ``numeric="bins"`` (default) a value becomes the one-hot of its quantile bin: edges
      are the ``n_bins + 1`` quantiles of the fitted values (repeated edges merged), the
      first and last bins are open, so values outside the fitted range fall into them.
      With ``numeric="scale"`` it becomes one column, ``(x - min) / (max - min)`` clipped
      to ``[0, 1]`` (1 for a constant column). Declare integer *codes* (occupation ids,
      zip prefixes) ``"categorical"``: they are not quantities.
    - ``"text"``: string columns where more than half of the values contain whitespace
      and more than half are distinct (titles, synopses). Text goes through
      :class:`maaskit.text.Tokenizer`; each word present is one binary feature (bag of
      words), keeping the ``max_features`` words found in most rows (ties by word). With
      ``word_vectors`` passed to ``fit``, each text column also gets the mean vector of
      its known words (``vector_size`` dense columns).

    Datetime, timedelta and complex columns are refused: convert them first (e.g. a
    release date to its year or decade).

    **Missing values** (``None``, ``NaN``, ``pd.NA``) are *no feature*: the row gets
    nothing for that column (not a "missing" category). An empty label list likewise.

    **Unseen values** at ``transform`` (a category or label not seen at ``fit``) follow
    ``handle_unknown``, as in scikit-learn's ``OneHotEncoder``: ``"error"`` raises
    :class:`~maaskit.exceptions.FeatureError`, ``"ignore"`` encodes them as zeros, and
    ``"warn"`` (default) encodes them as zeros with one
    :class:`~maaskit.exceptions.UnknownCategoryWarning` per call counting them. The default
    is ``"warn"`` because new values are routine in a catalogue (a new genre on the day
    new titles arrive): refusing them would refuse the cold items this encoder serves, and
    ignoring them silently would hide the drift. Unknown words of a text column are always
    ignored silently, as in a bag of words. Numeric values never are unknown.

    **Rows** are normalised by ``normalize``: ``"l1"`` (default) makes each row sum to 1
    in absolute value, as LightFM's ``Dataset.build_item_features(normalize=True)`` does,
    so an item with many tags is not a larger vector than one with a few; ``"l2"`` gives
    unit length; ``None`` keeps 0/1 indicators (and scaled values, mean word vectors).
    Rows without any feature stay zero.

    Parameters
    ----------
    columns : dict of str to str, default=None
        Kind of some columns, ``{"genres": "multi", "age": "numeric", "title": "text"}``;
        each value one of ``"categorical"``, ``"multi"``, ``"numeric"``, ``"text"``.
        Undeclared columns are detected (see above).
    n_bins : int, default=5
        Quantile bins of a numeric column with ``numeric="bins"``.
    numeric : {"bins", "scale"}, default="bins"
        How numeric columns are encoded.
    normalize : {"l1", "l2"} or None, default="l1"
        Row normalisation.
    handle_unknown : {"warn", "ignore", "error"}, default="warn"
        What ``transform`` does with categories and labels not seen at fit.
    max_features : int or None, default=10000
        Largest vocabulary of one text column (the words found in most rows are kept);
        ``None`` keeps every word. This bounds the output width when a text column holds
        a million distinct tokens. Categorical and multi-label columns are not capped: each
        value seen at fit is a feature (a column of ids is an identity feature).
    delimiter : str, default="|"
        Separator of labels in string cells of a column declared ``"multi"``.

    Attributes
    ----------
    ids_ : ndarray of shape (n_ids,)
        The ids (index) of the frame given to ``fit``, in order.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Columns seen at fit, in order.
    n_features_in_ : int
        Number of columns seen at fit.
    kinds_ : dict of str to str
        Kind of each column.
    vocabularies_ : dict of str to list
        What each column learned: categories or labels (categorical, multi), bin edges
        (numeric, bins), ``[min, max]`` (numeric, scale), or words (text).
    feature_names_ : ndarray of shape (n_features_out_,)
        Name of each output column: ``"genre=Drama"``, ``"age=[25, 35)"``, ``"age"``
        (scaled), ``"title:story"`` (a word), ``"title:w2v_0"`` (a word-vector component).
    n_features_out_ : int
        Number of output columns.
    word_vector_size_ : int
        Size of the word vectors given to ``fit`` (0 when none).
    wv_words_ : ndarray of shape (n_words,) or None
        Words of the text columns that have a word vector (``None`` when none).
    wv_vectors_ : ndarray of shape (n_words, word_vector_size_) or None
        Their vectors, float32.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import FeatureEncoder
    >>> items = pd.DataFrame({"genres": [["Drama"], ["Comedy", "Drama"], []],
    ...                       "year": [1994, 2001, 2020]}, index=["i1", "i2", "i3"])
    >>> enc = FeatureEncoder(n_bins=2, normalize=None).fit(items)
    >>> enc.kinds_
    {'genres': 'multi', 'year': 'numeric'}
    >>> list(enc.get_feature_names_out())
    ['genres=Comedy', 'genres=Drama', 'year=(-inf, 2001)', 'year=[2001, inf)']
    >>> enc.transform(items).toarray()
    array([[0., 1., 1., 0.],
           [1., 1., 0., 1.],
           [0., 0., 0., 1.]], dtype=float32)
    """

    _parameter_constraints = {
        "columns": [dict, None],
        "n_bins": [Interval(numbers.Integral, 1, 10_000, closed="both")],
        "numeric": [Options(frozenset({"bins", "scale"}))],
        "normalize": [Options(frozenset({"l1", "l2"})), None],
        "handle_unknown": [Options(frozenset({"warn", "ignore", "error"}))],
        "max_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "delimiter": [str],
    }

    def __init__(self, columns: dict | None = None, *, n_bins: int = 5, numeric: str = "bins",
                 normalize: str | None = "l1", handle_unknown: str = "warn",
                 max_features: int | None = 10000, delimiter: str = "|") -> None:
        self.columns = columns
        self.n_bins = n_bins
        self.numeric = numeric
        self.normalize = normalize
        self.handle_unknown = handle_unknown
        self.max_features = max_features
        self.delimiter = delimiter

    # ------------------------------------------------------------------ input checks
    def _check_frame(self, X: Any, where: str, *, fitting: bool) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{where}: X must be a pandas DataFrame indexed by id (one row per "
                            f"item or user); got {type(X).__name__}.")
        if isinstance(X.index, pd.MultiIndex):
            raise FeatureError(f"{where}: the index must be one level of ids; got a MultiIndex "
                               f"with {X.index.nlevels} levels. Use X.set_index(<id column>).")
        if X.index.hasnans:
            raise FeatureError(f"{where}: ids (the index) must not be missing; got "
                               f"{int(pd.isna(X.index).sum())} missing id(s).")
        if not X.index.is_unique:
            dup = X.index[X.index.duplicated()].unique()
            shown = ", ".join(repr(_py(v)) for v in dup[:_SHOW])
            raise FeatureError(f"{where}: ids (the index) must be unique, one row per id; got "
                               f"{len(dup)} duplicated id(s): {shown}. Aggregate the rows first "
                               "(e.g. lists of labels for a multi-label column).")
        bad = [c for c in X.columns if not isinstance(c, str)]
        if bad:
            raise TypeError(f"{where}: column names must be str; got {bad[0]!r}. "
                            "Use X.columns = X.columns.astype(str).")
        if not X.columns.is_unique:
            raise FeatureError(f"{where}: column names must be unique; got "
                               f"{sorted(set(X.columns[X.columns.duplicated()]))}.")
        if fitting:
            if X.shape[1] == 0:
                raise FeatureError(f"{where}: X must have at least one feature column; got 0.")
            if X.shape[0] == 0:
                raise FeatureError(f"{where}: X must have at least one row; got 0.")
        return X

    def _declared(self) -> dict:
        return self.columns if isinstance(self.columns, dict) else {}

    # ------------------------------------------------------------------ kinds
    def _detect(self, s: pd.Series, name: str, where: str) -> str:
        declared = self._declared().get(name)
        if declared is not None:
            return declared
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            return "categorical"
        if pd.api.types.is_complex_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype) \
                or pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
            raise TypeError(f"{where}: column {name!r} holds {dtype} values, which have no "
                            "encoding; convert them (e.g. a date to its year or decade) or drop "
                            "the column.")
        if pd.api.types.is_numeric_dtype(dtype):
            return "numeric"
        values = [v for v in s.to_numpy(dtype=object) if not _is_missing(v)]
        if any(isinstance(v, _LIST_TYPES) for v in values):
            return "multi"
        if values and all(isinstance(v, str) for v in values):
            spaced = sum(1 for v in values if any(ch.isspace() for ch in v.strip()))
            distinct = len(set(values))
            if spaced * 2 > len(values) and distinct * 2 > len(values):
                return "text"
        return "categorical"

    # ------------------------------------------------------------------ per-kind value readers
    def _numeric_values(self, s: pd.Series, name: str, where: str) -> np.ndarray:
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype) \
                and not pd.api.types.is_complex_dtype(s.dtype):
            v = s.astype("float64") if not pd.api.types.is_extension_array_dtype(s.dtype) else \
                s.astype("Float64")
            out = v.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            obj = s.to_numpy(dtype=object)
            out = np.full(len(obj), np.nan)
            for i, v in enumerate(obj):
                if _is_missing(v):
                    continue
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real,)):
                    raise FeatureError(f"{where}: column {name!r} is numeric (at fit); got the "
                                       f"non-numeric value {_py(v)!r:.60}. Declare its kind in "
                                       "columns= or fix the data.")
                out[i] = float(v)
        if np.isinf(out).any():
            raise FeatureError(f"{where}: column {name!r} must hold finite numbers; got "
                               f"{int(np.isinf(out).sum())} infinite value(s).")
        return out

    def _scalar_values(self, s: pd.Series, name: str, where: str) -> list:
        """Cells of a categorical column as Python scalars (``None`` for missing)."""
        out = []
        for v in s.to_numpy(dtype=object):
            if _is_missing(v):
                out.append(None)
                continue
            v = _py(v)
            if isinstance(v, _LIST_TYPES):
                raise FeatureError(f"{where}: column {name!r} is categorical (at fit); got a "
                                   f"{type(v).__name__} cell {v!r:.60}. Declare it 'multi' in "
                                   "columns= for label lists.")
            if not _is_json_scalar(v):
                raise FeatureError(f"{where}: values of categorical column {name!r} must be str, "
                                   f"int, float or bool; got {type(v).__name__} {v!r:.60}.")
            out.append(v)
        return out

    def _label_lists(self, s: pd.Series, name: str, where: str) -> list[list]:
        """Cells of a multi-label column as lists of Python scalars."""
        split = self._declared().get(name) == "multi"
        out = []
        for v in s.to_numpy(dtype=object):
            if isinstance(v, _LIST_TYPES):
                labels = []
                for x in (v.tolist() if isinstance(v, np.ndarray) else v):
                    x = _py(x)
                    if _is_missing(x):
                        continue
                    if not _is_json_scalar(x):
                        raise FeatureError(f"{where}: labels of column {name!r} must be str, int, "
                                           f"float or bool; got {type(x).__name__} {x!r:.60}.")
                    labels.append(x)
                out.append(labels)
            elif _is_missing(v):
                out.append([])
            elif isinstance(v, str) and split:
                out.append([t.strip() for t in v.split(self.delimiter) if t.strip()])
            else:
                raise FeatureError(f"{where}: column {name!r} is multi-label (at fit) and its cells "
                                   f"must be lists of labels; got {type(v).__name__} {v!r:.60}. "
                                   f"Declare it {{{name!r}: 'multi'}} in columns= to split strings "
                                   f"on delimiter={self.delimiter!r}.")
        return out

    def _texts(self, s: pd.Series, name: str, where: str) -> list:
        out = []
        for v in s.to_numpy(dtype=object):
            if _is_missing(v):
                out.append(None)
            elif isinstance(v, str):
                out.append(v)
            else:
                raise FeatureError(f"{where}: column {name!r} is text (at fit); got "
                                   f"{type(v).__name__} {_py(v)!r:.60}.")
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y: Any = None, *, word_vectors: Any = None) -> "FeatureEncoder":
        """Learn each column's kind and vocabulary (categories, labels, bin edges, words).

        Parameters
        ----------
        X : pandas.DataFrame
            One row per id (the index); one column per feature.
        y : None
            Ignored.
        word_vectors : Word2Vec or KeyedVectors, default=None
            A fitted :class:`maaskit.text.Word2Vec` (or its ``wv``): text columns also get
            the mean vector of their known words. The vectors of the words that occur in
            the text columns are copied into the encoder (and saved with it).

        Returns
        -------
        self : FeatureEncoder
        """
        where = "FeatureEncoder.fit"
        validate_parameters(self)
        for col, kind in self._declared().items():
            if kind not in KINDS:
                raise ValueError(f"{where}: the kind of column {col!r} in columns= must be one of "
                                 f"{list(KINDS)}; got {kind!r}.")
        X = self._check_frame(X, where, fitting=True)
        missing = sorted(set(self._declared()) - set(X.columns), key=str)
        if missing:
            raise FeatureError(f"{where}: columns= declares {missing}, which X does not have; X has "
                               f"{list(X.columns)[:20]}.")
        wv = _word_vectors(word_vectors, where)
        kinds: dict[str, str] = {}
        vocabs: dict[str, list] = {}
        tokens_seen: set[str] = set()
        for name in X.columns:
            s = X[name]
            kind = self._detect(s, name, where)
            kinds[name] = kind
            if kind == "categorical":
                vocabs[name] = _ordered(v for v in self._scalar_values(s, name, where) if v is not None)
            elif kind == "multi":
                vocabs[name] = _ordered(x for labels in self._label_lists(s, name, where) for x in labels)
            elif kind == "numeric":
                v = self._numeric_values(s, name, where)
                v = v[~np.isnan(v)]
                if v.size == 0:
                    raise FeatureError(f"{where}: numeric column {name!r} must have at least one "
                                       "value; got only missing values.")
                if self.numeric == "bins":
                    edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, self.n_bins + 1)))
                    vocabs[name] = [float(e) for e in edges]
                else:
                    vocabs[name] = [float(v.min()), float(v.max())]
            else:
                docs = _tokenize(self._texts(s, name, where))
                df = Counter(t for d in docs for t in set(d))
                tokens_seen.update(df)
                if self.max_features is not None and len(df) > self.max_features:
                    keep = sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_features]
                    vocabs[name] = sorted(t for t, _ in keep)
                else:
                    vocabs[name] = sorted(df)
        self.ids_ = X.index.to_numpy()
        self.feature_names_in_ = np.array(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.kinds_ = kinds
        self.vocabularies_ = vocabs
        if wv is not None and any(k == "text" for k in kinds.values()):
            lookup = wv.key_to_index
            words = sorted(t for t in tokens_seen if t in lookup)
            self.word_vector_size_ = int(wv.vectors.shape[1])
            self.wv_words_ = np.array(words, dtype=str) if words else np.empty(0, dtype="<U1")
            self.wv_vectors_ = np.ascontiguousarray(
                wv.vectors[[lookup[w] for w in words]].reshape(len(words), -1), dtype=np.float32)
        else:
            self.word_vector_size_ = 0
            self.wv_words_ = None
            self.wv_vectors_ = None
        self._finish()
        return self

    def _finish(self) -> None:
        """Derived state: feature names, offsets and lookups (after fit or load)."""
        names: list[str] = []
        self._lookups: dict[str, pd.Index] = {}
        # whether a column has bool categories (they need the slower exact-type match)
        self._bool_cats = {c: any(isinstance(v, bool) for v in self.vocabularies_[c]) for c in self.kinds_}
        for col, kind in self.kinds_.items():
            vocab = self.vocabularies_[col]
            if kind in ("categorical", "multi"):
                names += [f"{col}={v}" for v in vocab]
                self._lookups[col] = pd.Index(vocab, dtype=object)
            elif kind == "numeric" and self.numeric == "bins":
                nb = max(len(vocab) - 1, 1)
                for b in range(nb):
                    lo = "(-inf" if b == 0 else "[" + _fmt(vocab[b])
                    hi = "inf)" if b == nb - 1 else _fmt(vocab[b + 1]) + ")"
                    names.append(f"{col}={lo}, {hi}")
            elif kind == "numeric":
                names.append(col)
            else:
                names += [f"{col}:{t}" for t in vocab]
                self._lookups[col] = pd.Index(vocab, dtype=object)
                names += [f"{col}:w2v_{j}" for j in range(self.word_vector_size_)]
        self.feature_names_ = np.array(names, dtype=object)
        self.n_features_out_ = len(names)
        if self.wv_words_ is not None:
            self._wv_index = pd.Index(self.wv_words_.astype(object))

    def fit_transform(self, X: pd.DataFrame, y: Any = None, *, word_vectors: Any = None) -> sp.csr_matrix:
        """Fit, then encode ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per id (the index); one column per feature.
        y : None
            Ignored.
        word_vectors : Word2Vec or KeyedVectors, default=None
            See :meth:`fit`.

        Returns
        -------
        features : scipy.sparse.csr_matrix of shape (n_ids, n_features_out_), float32
        """
        return self.fit(X, word_vectors=word_vectors).transform(X)

    # ------------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        """Encode ``X``: one row per id, in ``X``'s order.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per id (the index), with exactly the columns seen at fit (in any order).

        Returns
        -------
        features : scipy.sparse.csr_matrix of shape (n_ids, n_features_out_), float32

        Raises
        ------
        FeatureError
            Missing or unknown columns, a column whose kind changed, missing or duplicate
            ids, and unseen values with ``handle_unknown="error"``.
        """
        where = "FeatureEncoder.transform"
        X = self._check_input(X, where)
        known = list(self.feature_names_in_)
        n = X.shape[0]
        blocks = []
        unseen: dict[str, list] = {}
        for col in known:
            blocks.append(self._encode(X[col], col, n, where, unseen))
        if unseen:
            self._report_unseen(unseen, where)
        out = sp.hstack(blocks, format="csr", dtype=np.float32) if blocks else \
            sp.csr_matrix((n, 0), dtype=np.float32)
        out.sum_duplicates()
        out.eliminate_zeros()
        return self._normalize(out)

    def _check_input(self, X: Any, where: str) -> pd.DataFrame:
        self._check_fitted(where)
        X = self._check_frame(X, where, fitting=False)
        known = list(self.feature_names_in_)
        unknown = [c for c in X.columns if c not in self.kinds_]
        if unknown:
            raise FeatureError(f"{where}: columns must be among those seen at fit {known}; got "
                               f"unknown column(s) {unknown[:10]}.")
        absent = [c for c in known if c not in X.columns]
        if absent:
            raise FeatureError(f"{where}: X must have every column seen at fit; missing {absent}. "
                               "Pass None (missing) for features a row does not have.")
        return X

    def drop_unseen(self, X: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
        """Remove the categories and labels not seen at fit, and say which, row by row.

        What :meth:`transform` would encode as zeros (``handle_unknown`` ``"warn"`` or
        ``"ignore"``) is removed here instead, so that a caller (the HTTP server answering
        a new user) can report it per row and then encode without a warning. Other
        columns are unchanged.

        Parameters
        ----------
        X : pandas.DataFrame
            As for :meth:`transform`.

        Returns
        -------
        X_seen : pandas.DataFrame
            A copy of ``X`` where an unseen category is missing (``None``) and unseen
            labels are left out of their lists.
        unseen : list of dict
            One dict per row: column -> list of the values removed (empty when none).

        Raises
        ------
        FeatureError
            As :meth:`transform`, for unknown or missing columns and changed kinds.
        """
        where = "FeatureEncoder.drop_unseen"
        X = self._check_input(X, where)
        out = X.copy()
        unseen: list[dict] = [{} for _ in range(len(X))]
        for col in self.feature_names_in_:
            kind = self.kinds_[col]
            if kind == "categorical":
                vals = self._scalar_values(X[col], col, where)
                present = [i for i, v in enumerate(vals) if v is not None]
                codes = _codes(self._lookups[col], [vals[i] for i in present], self._bool_cats[col])
                for i, c in zip(present, codes):
                    if c < 0:
                        unseen[i].setdefault(col, []).append(vals[i])
                        vals[i] = None
                out[col] = pd.Series(vals, index=X.index, dtype=object)
            elif kind == "multi":
                lists = self._label_lists(X[col], col, where)
                flat = [x for labels in lists for x in labels]
                codes = _codes(self._lookups[col], flat, self._bool_cats[col]) if flat else np.empty(0, np.int64)
                kept, pos = [], 0
                for i, labels in enumerate(lists):
                    keep = []
                    for x in labels:
                        if codes[pos] < 0:
                            unseen[i].setdefault(col, []).append(x)
                        else:
                            keep.append(x)
                        pos += 1
                    kept.append(keep)
                out[col] = pd.Series(kept, index=X.index, dtype=object)
        return out, unseen

    def _encode(self, s: pd.Series, col: str, n: int, where: str, unseen: dict) -> sp.csr_matrix:
        kind = self.kinds_[col]
        vocab = self.vocabularies_[col]
        if kind == "categorical":
            vals = self._scalar_values(s, col, where)
            present = [i for i, v in enumerate(vals) if v is not None]
            return self._one_hot(col, n, np.array(present, dtype=np.int64),
                                 [vals[i] for i in present], unseen)
        if kind == "multi":
            lists = self._label_lists(s, col, where)
            rows = np.repeat(np.arange(n, dtype=np.int64), [len(x) for x in lists])
            return self._one_hot(col, n, rows, [x for labels in lists for x in labels], unseen)
        if kind == "numeric":
            v = self._numeric_values(s, col, where)
            ok = ~np.isnan(v)
            rows = np.flatnonzero(ok)
            if self.numeric == "bins":
                nb = max(len(vocab) - 1, 1)
                inner = np.asarray(vocab[1:-1], dtype=np.float64)
                bins = np.searchsorted(inner, v[ok], side="right")
                return sp.csr_matrix((np.ones(rows.size, np.float32), (rows, bins)), shape=(n, nb))
            lo, hi = vocab
            scaled = np.ones(rows.size) if hi <= lo else np.clip((v[ok] - lo) / (hi - lo), 0.0, 1.0)
            return sp.csr_matrix((scaled.astype(np.float32), (rows, np.zeros(rows.size, np.int64))),
                                 shape=(n, 1))
        docs = _tokenize(self._texts(s, col, where))
        rows = np.repeat(np.arange(n, dtype=np.int64), [len(d) for d in docs])
        flat = [t for d in docs for t in d]
        codes = self._lookups[col].get_indexer(flat) if flat else np.empty(0, np.int64)
        keep = codes >= 0
        bow = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], codes[keep])),
                            shape=(n, len(vocab)))
        bow.sum_duplicates()
        bow.data[:] = 1.0  # presence, not counts
        if not self.word_vector_size_:
            return bow
        dense = np.zeros((n, self.word_vector_size_), dtype=np.float32)
        wcodes = self._wv_index.get_indexer(flat) if flat else np.empty(0, np.int64)
        hit = wcodes >= 0
        if hit.any():
            sums = np.zeros_like(dense)
            np.add.at(sums, rows[hit], self.wv_vectors_[wcodes[hit]])
            counts = np.bincount(rows[hit], minlength=n).astype(np.float32)
            nz = counts > 0
            dense[nz] = sums[nz] / counts[nz, None]
        return sp.hstack([bow, sp.csr_matrix(dense)], format="csr")

    def _one_hot(self, col: str, n: int, rows: np.ndarray, values: list, unseen: dict) -> sp.csr_matrix:
        width = len(self.vocabularies_[col])
        if not values:
            return sp.csr_matrix((n, width), dtype=np.float32)
        codes = _codes(self._lookups[col], values, self._bool_cats[col])
        bad = codes < 0
        if bad.any():
            unseen[col] = [values[i] for i in np.flatnonzero(bad)]
        m = sp.csr_matrix((np.ones(int((~bad).sum()), np.float32), (rows[~bad], codes[~bad])),
                          shape=(n, width))
        m.sum_duplicates()
        m.data[:] = 1.0  # a label listed twice is still one label
        return m

    def _report_unseen(self, unseen: dict, where: str) -> None:
        if self.handle_unknown == "ignore":
            return
        parts = []
        for col, vals in unseen.items():
            distinct = list(dict.fromkeys(vals))
            shown = ", ".join(repr(v) for v in distinct[:_SHOW])
            parts.append(f"column {col!r}: {len(vals)} value(s) such as {shown}")
        detail = "; ".join(parts)
        if self.handle_unknown == "error":
            raise FeatureError(f"{where}: values must have been seen at fit (handle_unknown='error'); "
                               f"got unseen {detail}. Refit with them, or set handle_unknown='warn' or "
                               "'ignore' to encode them as zeros.")
        warn_user(f"{where}: values not seen at fit were encoded as zeros ({detail}). Set "
                  "handle_unknown='ignore' to silence this, or 'error' to refuse them.",
                  UnknownCategoryWarning)

    def _normalize(self, m: sp.csr_matrix) -> sp.csr_matrix:
        if self.normalize is None or m.nnz == 0:
            return m
        if self.normalize == "l1":
            norms = np.asarray(abs(m).sum(axis=1)).ravel()
        else:
            norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m = sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ m, dtype=np.float32)
        return m

    # ------------------------------------------------------------------ introspection
    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (see ``feature_names_``).

        Parameters
        ----------
        input_features : None
            Ignored (the input columns are those seen at fit).

        Returns
        -------
        names : ndarray of str, of shape (n_features_out_,)
        """
        self._check_fitted("FeatureEncoder.get_feature_names_out")
        return self.feature_names_.copy()

    def feature_schema(self) -> dict:
        """The fitted columns and their kinds, as JSON (what a request must provide).

        Returns
        -------
        schema : dict
            ``{"columns": [{"name": ..., "kind": ...}, ...], "n_features": int}``.
        """
        self._check_fitted("FeatureEncoder.feature_schema")
        return {"columns": [{"name": c, "kind": k} for c, k in self.kinds_.items()],
                "n_features": int(self.n_features_out_)}

    def _check_fitted(self, where: str) -> None:
        if "kinds_" not in self.__dict__:
            from ..exceptions import NotFittedError  # builds sklearn's subclass: imports sklearn

            raise NotFittedError(f"{where}: this FeatureEncoder instance is not fitted yet. Call "
                                 "'fit' with appropriate arguments before using this estimator.")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dataframe = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags

    # ------------------------------------------------------------------ persistence
    # Closed schema: every vocabulary is checked against its column's kind, and the width
    # the vocabularies imply must equal n_features_out_, before transform can see them.
    _state_objects = {"IdIndex": IdIndex.from_state}
    _state_schema = StateSchema(
        attrs={
            "ids_": Ids("n_ids"),
            "n_features_in_": Attr(int, dim="n_columns", min=1),
            "feature_names_in_": Attr(list, length="n_columns", items=Attr(str)),
            "kinds_": Attr(list, length="n_columns", items=Attr(str, options=KINDS)),
            "vocabularies_": Attr(list, length="n_columns", items=Attr(list)),
            "n_features_out_": Attr(int, min=0),
            "word_vector_size_": Attr(int, min=0, max=1 << 16),
        },
        arrays={
            "wv_words_": Arr("U", ("n_wv",), unique=True, optional=True),
            "wv_vectors_": Arr("f4", ("n_wv", "wv_dim"), optional=True),
        },
        rules=(
            Rule("attribute 'feature_names_in_'", "column names must be distinct",
                 lambda d, a, arr, p: len(set(a["feature_names_in_"])) == len(a["feature_names_in_"])),
            Rule("attribute 'vocabularies_'", "each vocabulary must suit its column's kind "
                 "(distinct str/int/float/bool categories or words; increasing finite bin edges; "
                 "[min, max] when scaled)",
                 lambda d, a, arr, p: all(_vocab_ok(k, v, p.get("numeric"))
                                          for k, v in zip(a["kinds_"], a["vocabularies_"]))),
            Rule("array 'wv_vectors_'", "word vectors are present (words and vectors) exactly when "
                 "word_vector_size_ > 0, with that many columns",
                 lambda d, a, arr, p: (("wv_words_" in arr) == ("wv_vectors_" in arr)
                                       == (a["word_vector_size_"] > 0))
                 and (a["word_vector_size_"] == 0 or d.get("wv_dim") == a["word_vector_size_"])),
            Rule("attribute 'n_features_out_'", "must equal the width the vocabularies give",
                 lambda d, a, arr, p: a["n_features_out_"] == sum(
                     _width(k, v, p.get("numeric"), a["word_vector_size_"])
                     for k, v in zip(a["kinds_"], a["vocabularies_"]))),
        ),
    )

    def _json_param(self) -> dict:
        """This encoder as a hyper-parameter of another estimator, in an artifact: its
        parameters (a model's ``item_encoder=FeatureEncoder(...)``), not its fitted state."""
        return self.get_params(deep=False)

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        self._check_fitted("FeatureEncoder.save")
        meta, ids = IdIndex(self.ids_, "id").to_state()
        cols = list(self.feature_names_in_)
        attrs = {
            "ids_": {"__object__": "IdIndex", **meta},
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": cols,
            "kinds_": [self.kinds_[c] for c in cols],
            "vocabularies_": [[_py(v) for v in self.vocabularies_[c]] for c in cols],
            "n_features_out_": int(self.n_features_out_),
            "word_vector_size_": int(self.word_vector_size_),
        }
        arrays = {} if ids is None else {"ids_": ids}
        if self.word_vector_size_:
            arrays["wv_words_"] = self.wv_words_
            arrays["wv_vectors_"] = self.wv_vectors_
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        meta = {k: v for k, v in attrs["ids_"].items() if k != "__object__"}
        self.ids_ = IdIndex.from_state(meta, arrays.get("ids_")).ids
        cols = [str(c) for c in attrs["feature_names_in_"]]
        self.feature_names_in_ = np.array(cols, dtype=object)
        self.n_features_in_ = len(cols)
        self.kinds_ = dict(zip(cols, attrs["kinds_"]))
        self.vocabularies_ = dict(zip(cols, (list(v) for v in attrs["vocabularies_"])))
        self.word_vector_size_ = int(attrs["word_vector_size_"])
        if self.word_vector_size_:
            self.wv_words_ = np.asarray(arrays["wv_words_"], dtype=str)
            self.wv_vectors_ = np.ascontiguousarray(arrays["wv_vectors_"], dtype=np.float32)
        else:
            self.wv_words_ = self.wv_vectors_ = None
        self._finish()


def _vocab_ok(kind: str, vocab: list, numeric: Any) -> bool:
    if kind in ("categorical", "multi"):
        if not all(_is_json_scalar(v) for v in vocab):
            return False
        try:
            return len(set(vocab)) == len(vocab) and pd.Index(vocab, dtype=object).is_unique
        except TypeError:
            return False
    if kind == "text":
        return all(isinstance(v, str) for v in vocab) and len(set(vocab)) == len(vocab)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vocab):
        return False
    if numeric == "scale":
        return len(vocab) == 2 and vocab[0] <= vocab[1]
    return len(vocab) >= 1 and all(a < b for a, b in zip(vocab, vocab[1:]))


def _width(kind: str, vocab: list, numeric: Any, wv_size: int) -> int:
    if kind == "numeric":
        return 1 if numeric == "scale" else max(len(vocab) - 1, 1)
    return len(vocab) + (wv_size if kind == "text" else 0)


def _ordered(values: Any) -> list:
    """Distinct values, sorted when they compare (else in order of first appearance)."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=lambda v: (type(v).__name__, str(v)))


def _codes(index: pd.Index, values: list, bool_cats: bool) -> np.ndarray:
    codes = index.get_indexer(pd.Index(values, dtype=object)).astype(np.int64, copy=False)
    # pandas equates True with 1; a bool value matches only a bool category
    is_bool = np.fromiter((isinstance(v, bool) for v in values), bool, len(values))
    if is_bool.any() or bool_cats:
        cats = index.to_numpy()
        ok = np.array([c < 0 or isinstance(cats[c], bool) == b for c, b in zip(codes, is_bool)])
        codes = np.where(ok, codes, -1)
    return codes


def _tokenize(texts: list) -> list[list[str]]:
    if not any(t for t in texts):
        return [[] for _ in texts]
    # maaskit.text imports scikit-learn (1-2 s): only frames with text columns pay for it.
    from ..text._tokenizer import Tokenizer

    tok = Tokenizer()
    return [tok(t) if t else [] for t in texts]


def _word_vectors(wv: Any, where: str) -> Any:
    if wv is None:
        return None
    inner = wv.__dict__.get("wv_") if hasattr(wv, "__dict__") else None
    if inner is None and type(wv).__name__ == "Word2Vec":
        from ..exceptions import NotFittedError

        raise NotFittedError(f"{where}: word_vectors must be a fitted Word2Vec; this one is not "
                             "fitted yet. Call its 'fit' first.")
    cand = inner if inner is not None else wv
    vectors = getattr(cand, "vectors", None)
    if not isinstance(getattr(cand, "key_to_index", None), dict) or not isinstance(vectors, np.ndarray) \
            or vectors.ndim != 2 or not np.isfinite(vectors).all():
        raise TypeError(f"{where}: word_vectors must be a fitted maaskit Word2Vec or KeyedVectors "
                        f"(finite vectors); got {type(wv).__name__}.")
    return cand
