"""Recurrent networks: :class:`RNNClassifier` and :class:`RNNRegressor`.

A :class:`Recurrent` layer (optional token embedding, one Elman/GRU/LSTM layer through time,
last real hidden state out) followed by a linear head, trained by the shared loop of
:class:`~maaskit.neural_network._base.NeuralEstimatorBase`. Inputs are numeric sequences
``(n, T, d)`` (``(n, T)`` is read as ``d = 1``) or, with ``vocab_size`` set, variable-length
token sequences given as a list of int lists.

Kernels: ``rnn`` (recurrence + BPTT), ``embedding``, ``dense`` (head and losses), ``optim``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.validation import validate_data

from .._schema import Rule
from ._base import NEURAL_CLASSIFIER_SCHEMA, NEURAL_REGRESSOR_SCHEMA
from ..persistence import register
from ..utils._param_validation import Interval, Options
from ._base import _NETWORK_ATTRS, NEURAL_CONSTRAINTS, NeuralEstimatorBase
from ._layers import Dense, Layer, register_layer

__all__ = ["RNNClassifier", "RNNRegressor", "Recurrent"]

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
PAD = -1  # padding id in the padded token matrix


# ---------------------------------------------------------------------------- token input
def _is_ragged_sequences(X: Any) -> bool:
    """True for a list/tuple of sequences (possibly of different lengths)."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        return False
    if not isinstance(X, (list, tuple, np.ndarray)) or len(X) == 0:
        return False
    first = X[0]
    return isinstance(first, (list, tuple, np.ndarray))


def token_matrix(X: Any, max_len: int | None, where: str) -> np.ndarray:
    """Validate token sequences and pad them into an int64 matrix (``-1`` = padding).

    Parameters
    ----------
    X : list of sequences of int, or array-like of shape (n_samples, length) of int
        Token ids (``>= 0``). In a matrix, ``-1`` marks trailing padding.
    max_len : int or None
        Width of the result; a longer sequence is an error. ``None``: the longest sequence.
    where : str
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    ids : ndarray of shape (n_samples, max_len), dtype int64
    """
    if sp.issparse(X):
        raise TypeError(f"{where}: sparse input is not supported; X must be token sequences "
                        f"(a list of int lists or a dense 2-D int array).")
    if isinstance(X, np.ndarray) and np.iscomplexobj(X):
        raise ValueError(f"{where}: Complex data not supported; token ids must be integers.")
    if _is_ragged_sequences(X):
        rows = []
        for i, seq in enumerate(X):
            a = np.asarray(seq)
            if a.ndim != 1:
                raise ValueError(f"{where}: each sequence must be a flat list of token ids; "
                                 f"got shape {a.shape!r} at row {i}.")
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"{where}: token ids must be integers; got dtype {a.dtype.name!r} "
                                 f"at row {i}.")
            rows.append(a.astype(np.int64, copy=False))
        n = len(rows)
        lens = np.array([r.size for r in rows], dtype=np.int64)
        width = int(lens.max()) if max_len is None else int(max_len)
        if lens.max() > width:
            i = int(np.argmax(lens))
            raise ValueError(f"{where}: sequences must be at most max_len={width} tokens long; "
                             f"got {int(lens[i])!r} tokens at row {i}. Truncate the sequences or "
                             f"raise max_len.")
        ids = np.full((n, max(width, 1)), PAD, dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :r.size] = r
        if np.any(ids[ids != PAD] < 0):
            raise ValueError(f"{where}: token ids must be >= 0; got {int(ids.min())!r}.")
        return ids
    if isinstance(X, (list, tuple)) and len(X) == 0 or getattr(X, "shape", (1,))[0] == 0:
        raise ValueError(f"{where}: X must hold at least one sequence; got an empty batch.")
    a = np.asarray(X)
    if a.ndim != 2:
        raise ValueError(f"{where}: token input must be a list of int lists or a 2-D int array "
                         f"of shape (n_samples, length); got an array of shape {a.shape!r}.")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{where}: token ids must be integers; got dtype {a.dtype.name!r}. "
                         f"Encode the text as ids first (e.g. a vocabulary lookup).")
    a = a.astype(np.int64)
    if np.any(a < PAD):
        raise ValueError(f"{where}: token ids must be >= 0 (-1 pads); got {int(a.min())!r}.")
    valid = a != PAD
    if np.any(valid[:, 1:] & ~valid[:, :-1]):
        raise ValueError(f"{where}: padding (-1) must only trail each sequence.")
    lens = valid.sum(axis=1)
    width = a.shape[1] if max_len is None else int(max_len)
    if lens.max(initial=0) > width:
        i = int(np.argmax(lens))
        raise ValueError(f"{where}: sequences must be at most max_len={width} tokens long; "
                         f"got {int(lens[i])!r} tokens at row {i}. Truncate the sequences or raise "
                         f"max_len.")
    out = np.full((a.shape[0], max(width, 1)), PAD, dtype=np.int64)
    w = min(width, a.shape[1])
    out[:, :w] = a[:, :w]
    return out


def token_lengths(ids: np.ndarray) -> np.ndarray:
    """Real tokens per row of a padded id matrix (padding trails).

    Parameters
    ----------
    ids : ndarray of shape (n, L), dtype int64

    Returns
    -------
    lengths : ndarray of shape (n,), dtype int64
    """
    return (ids != PAD).sum(axis=1).astype(np.int64)


def validate_sequence_target(est, X_rows: int, y, where: str):
    """Check ``y`` against ``X_rows`` samples (classifier: 1-D labels; regressor: numeric)."""
    if is_classifier(est):
        y = column_or_1d(y, warn=False)
    else:
        y = check_array(y, ensure_2d=False, dtype=(np.float64, np.float32), input_name="y")
    check_consistent_length(np.empty(X_rows), y)
    return y


# ---------------------------------------------------------------------------- the layer
@register_layer
class Recurrent(Layer):
    """One recurrent layer through time; outputs each sequence's last real hidden state.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}, default="gru"
        Elman (tanh) cell, GRU or LSTM, with torch's gate layout.
    units : int, default=64
        Hidden size.
    n_tokens : int or None, default=None
        Rows of the embedding table for token input (ids ``>= n_tokens`` must be mapped
        by the caller); ``None`` for numeric ``(T, d)`` input.
    embedding_dim : int, default=32
        Embedding width for token input.
    """

    kernels = ("rnn", "embedding")
    _config_keys = ("cell", "units", "n_tokens", "embedding_dim")

    def __init__(self, cell: str = "gru", units: int = 64, n_tokens: int | None = None,
                 embedding_dim: int = 32) -> None:
        self.cell = cell
        self.units = int(units)
        self.n_tokens = None if n_tokens is None else int(n_tokens)
        self.embedding_dim = int(embedding_dim)

    @property
    def _tokens(self) -> bool:
        return self.n_tokens is not None

    def _out_shape(self, in_shape):
        want = 1 if self._tokens else 2
        if len(in_shape) != want:
            raise ValueError(f"Recurrent: input must be {'(n, L) token ids' if self._tokens else '(n, T, d)'}; "
                             f"got per-sample shape {in_shape}.")
        return (self.units,)

    def _in_dim(self) -> int:
        return self.embedding_dim if self._tokens else self.in_shape[1]

    def param_shapes(self):
        G = _GATES[self.cell] * self.units
        shapes = [("E", (self.n_tokens, self.embedding_dim))] if self._tokens else []
        return shapes + [("W_ih", (G, self._in_dim())), ("W_hh", (G, self.units)),
                         ("b_ih", (G,)), ("b_hh", (G,))]

    def init_params(self, params, rng):
        # torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every recurrent tensor, N(0, 1) embeddings
        bound = 1.0 / np.sqrt(self.units)
        for name, arr in params.items():
            if name == "E":
                arr[...] = rng.standard_normal(arr.shape)
            else:
                arr[...] = rng.uniform(-bound, bound, arr.shape)
        if self.cell == "lstm":
            # forget-gate bias 1 (Jozefowicz et al. 2015): long memories train from the start
            H = self.units
            params["b_ih"][H:2 * H] += 1.0

    # --- math -----------------------------------------------------------------------
    def _inputs(self, x):
        """Time-major flat inputs (T*n, in_dim), lengths, T and token ids (or None)."""
        dt = self._p["W_ih"].dtype
        n = x.shape[0]
        if self._tokens:
            lengths = token_lengths(x)
            T = max(1, int(lengths.max(initial=0)))  # batch-local length: skip all-padding steps
            ids = np.ascontiguousarray(x[:, :T].T).ravel()
            ids[ids == PAD] = 0  # any valid row: padded steps are masked by lengths
            xin = np.empty((T * n, self.embedding_dim), dtype=dt)
            self._k["embedding"].embedding_forward(ids, self._p["E"], xin)
            return xin, lengths, T, ids
        T = x.shape[1]
        xin = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dt).reshape(T * n, -1)
        # variable-length frame sequences (CRNN): FramesToBatch left each clip's frame count
        lengths = self.__dict__.get("_ctx", {}).get("lengths")
        if lengths is None or len(lengths) != n:
            lengths = np.full(n, T, dtype=np.int64)
        return xin, lengths, T, None

    def forward(self, x, train):
        p = self._p
        n, H = x.shape[0], self.units
        xin, lengths, T, ids = self._inputs(x)
        dt = xin.dtype
        xw = xin @ p["W_ih"].T
        xw += p["b_ih"]
        if self.cell != "gru":
            xw += p["b_hh"]  # the GRU keeps b_hh apart: its n gate scales it by r
        xw = xw.reshape(T, n, -1)
        h0 = np.zeros((n, H), dtype=dt)
        hs = np.empty((T, n, H), dtype=dt)
        k = self._k["rnn"]
        cache: dict[str, Any] = {}
        if self.cell == "rnn":
            k.rnn_forward(xw, p["W_hh"], h0, lengths, hs)
        elif self.cell == "gru":
            gates = np.empty((T, n, 4 * H), dtype=dt)
            k.gru_forward(xw, p["W_hh"], p["b_hh"], h0, lengths, hs, gates)
            cache["gates"] = gates
        else:
            gates = np.empty((T, n, 4 * H), dtype=dt)
            cs = np.empty((T, n, H), dtype=dt)
            k.lstm_forward(xw, p["W_hh"], h0, h0, lengths, hs, cs, gates)
            cache.update(gates=gates, cs=cs)
        if train:
            self._cache = dict(cache, xin=xin, lengths=lengths, T=T, ids=ids, h0=h0, hs=hs, n=n,
                               G=xw.shape[2])
        return hs[T - 1]

    def backward(self, dout):
        c = self._cache
        p, g = self._p, self._g
        T, n, H, G = c["T"], c["n"], self.units, c["G"]
        dt = dout.dtype
        dhs = np.zeros((T, n, H), dtype=dt)
        dhs[T - 1] = dout
        dxw = np.empty((T, n, G), dtype=dt)
        dh0 = np.empty((n, H), dtype=dt)
        k = self._k["rnn"]
        if self.cell == "rnn":
            k.rnn_backward(dhs, p["W_hh"], c["h0"], c["lengths"], c["hs"], dxw, g["W_hh"], dh0)
        elif self.cell == "gru":
            k.gru_backward(dhs, p["W_hh"], c["h0"], c["lengths"], c["hs"], c["gates"], dxw,
                           g["W_hh"], g["b_hh"], dh0)
        else:
            k.lstm_backward(dhs, p["W_hh"], c["h0"], c["h0"], c["lengths"], c["hs"], c["cs"],
                            c["gates"], dxw, g["W_hh"], dh0, np.empty_like(dh0))
        d2 = dxw.reshape(T * n, G)
        np.matmul(d2.T, c["xin"], out=g["W_ih"])
        g["b_ih"][...] = d2.sum(axis=0)
        if self.cell != "gru":
            g["b_hh"][...] = g["b_ih"]
        if self._tokens:
            dxin = d2 @ p["W_ih"]
            self._k["embedding"].embedding_backward(c["ids"], dxin, g["E"])
            return None
        if not self.need_dx:
            return None
        return np.ascontiguousarray((d2 @ p["W_ih"]).reshape(T, n, -1).transpose(1, 0, 2))

    def torch_forward(self, x, params):
        import torch

        if self._tokens:
            ids = x.long()
            lengths = (ids != PAD).sum(dim=1)
            xin = params["E"][ids.clamp(min=0)]
        else:
            xin = x
            lengths = self.__dict__.get("_ctx", {}).get("torch_lengths")
            if lengths is None or lengths.shape[0] != x.shape[0]:
                lengths = torch.full((x.shape[0],), x.shape[1], device=x.device)
        return torch_recurrence(self.cell, xin, lengths, params)


def torch_recurrence(cell: str, x, lengths, params):
    """The :class:`Recurrent` maths in torch (batch-first ``x``); returns the last states."""
    import torch

    n, T, _ = x.shape
    H = params["W_hh"].shape[1]
    xw = x @ params["W_ih"].T + params["b_ih"]
    if cell != "gru":
        xw = xw + params["b_hh"]
    h = x.new_zeros((n, H))
    c = x.new_zeros((n, H))
    for t in range(T):
        active = (t < lengths)[:, None]
        a = xw[:, t]
        if cell == "rnn":
            hn = torch.tanh(a + h @ params["W_hh"].T)
        elif cell == "gru":
            hw = h @ params["W_hh"].T + params["b_hh"]
            r = torch.sigmoid(a[:, :H] + hw[:, :H])
            z = torch.sigmoid(a[:, H:2 * H] + hw[:, H:2 * H])
            nn_ = torch.tanh(a[:, 2 * H:] + r * hw[:, 2 * H:])
            hn = (1 - z) * nn_ + z * h
        else:
            a = a + h @ params["W_hh"].T
            i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H])
            gg, o = torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
            cn = f * c + i * gg
            hn = o * torch.tanh(cn)
            c = torch.where(active, cn, c)
        h = torch.where(active, hn, h)
    return h


# ---------------------------------------------------------------------------- estimators
_RNN_CONSTRAINTS = {
    **NEURAL_CONSTRAINTS,
    "cell": [Options(frozenset({"rnn", "gru", "lstm"}))],
    "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "vocab_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_len": [None, Interval(numbers.Integral, 1, None, closed="left")],
}

_RNN_DOC = """
    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}, default="gru"
        Recurrent cell: Elman ``h_t = tanh(W h_{t-1} + U x_t + b)``, GRU or LSTM (torch's
        equations and gate layout).
    hidden_size : int, default=64
        Width of the hidden state.
    vocab_size : int or None, default=None
        ``None``: ``X`` is numeric, ``(n_samples, n_steps, n_features)`` or
        ``(n_samples, n_steps)``. An int: ``X`` holds token sequences (a list of int lists,
        or a 2-D int array padded with trailing ``-1``), embedded with ``embedding_dim``
        columns; ids ``>= vocab_size`` share one out-of-vocabulary row.
    embedding_dim : int, default=32
        Embedding width for token input.
    max_len : int or None, default=None
        Longest token sequence accepted (``None``: the longest seen by the first fit). A
        longer sequence raises a ``ValueError``.
    solver : {"sgd", "adam", "adamw"}, default="adam"
        Optimizer (one fused update of the flat parameter buffer per mini-batch).
    alpha : float, default=0.0001
        L2 strength / weight decay.
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "cosine"}, default="constant"
        Per-epoch learning-rate schedule.
    learning_rate_init : float, default=0.005
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split.
    tol : float, default=1e-4
        Minimum improvement that resets the ``n_iter_no_change`` counter.
    verbose : bool or int, default=False
        Show a tqdm progress bar.
    warm_start : bool, default=False
        Continue from the previous fit instead of reinitialising.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for SGD.
    early_stopping : bool, default=False
        Stop when the score on a held-out ``validation_fraction`` stops improving.
    validation_fraction : float, default=0.1
        Held-out share for early stopping.
    beta_1 : float, default=0.9
        Adam first-moment decay.
    beta_2 : float, default=0.999
        Adam second-moment decay.
    epsilon : float, default=1e-8
        Adam stability term.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"cuda"`` trains through torch on the GPU.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        CPU kernel implementation.
"""

_RNN_ATTRS = """
    n_features_in_ : int
        Steps per sequence (numeric input) or ``max_len_`` (token input).
    max_len_ : int or None
        Padded token-sequence width (``None`` for numeric input).
    vocab_size_ : int or None
        Known token ids (``None`` for numeric input); the embedding table has one more
        (out-of-vocabulary) row.
    n_outputs_ : int
        Number of network outputs.
""" + _NETWORK_ATTRS


class SequenceInputMixin:
    """Input handling shared by the sequence models (numeric sequences or token ids)."""

    def _token_input(self) -> bool:
        return self.vocab_size is not None

    def _validate_input(self, X, y="no_validation", *, reset: bool):
        where = self._where("fit" if reset else "predict")
        no_y = isinstance(y, str) and y == "no_validation"
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        if not self._token_input():
            if _is_ragged_sequences(X) and not isinstance(X, np.ndarray):
                lens = {len(s) for s in X}
                if len(lens) > 1:
                    raise ValueError(
                        f"{where}: X must be a numeric array of shape (n_samples, n_steps[, n_features]); "
                        f"got sequences of different lengths. For token sequences set vocab_size.")
            kw = dict(reset=reset, dtype=(np.float64, np.float32), allow_nd=True)
            if no_y:
                X = validate_data(self, X, **kw)
            else:
                X, y = validate_data(self, X, y, multi_output=not is_classifier(self),
                                     y_numeric=not is_classifier(self), **kw)
            if X.ndim == 2:
                X = X[:, :, None]
            elif X.ndim != 3:
                raise ValueError(f"{where}: X must be 2-D (n_samples, n_steps) or 3-D (n_samples, "
                                 f"n_steps, n_features); got an array of shape {X.shape!r}.")
            if reset:
                self.max_len_ = None
                self.vocab_size_ = None
            return X if no_y else (X, y)
        ids = token_matrix(X, self.max_len if reset else self.max_len_, where)
        if reset:
            self.max_len_ = int(ids.shape[1])
            # vocab_size=None (token-only models): every id seen in the first fit is known
            vocab = self.vocab_size if self.vocab_size is not None else ids.max(initial=0) + 1
            self.vocab_size_ = int(vocab)
            self.n_features_in_ = self.max_len_
        # unknown ids share the out-of-vocabulary row
        ids[ids >= self.vocab_size_] = self.vocab_size_
        if no_y:
            return ids
        return ids, validate_sequence_target(self, ids.shape[0], y, where)

    def _compute_dtype(self, X):
        if self._token_input():
            return np.dtype(np.float32)  # ids carry no precision; float32 is the fast path
        return super()._compute_dtype(X)

    def _to_network_input(self, X):
        if self._token_input():
            return np.ascontiguousarray(X, dtype=np.int64)
        return super()._to_network_input(X)



# token input is a hyper-parameter (vocab_size); the saved state must agree with it
_TOKEN_RULE = Rule("header param 'vocab_size'", "must be set exactly when the state is a token model",
                   lambda d, a, arr, p: (p["vocab_size"] is None) == (a.get("vocab_size_") is None))
_RNN_CLASSIFIER_SCHEMA = NEURAL_CLASSIFIER_SCHEMA.extend(rules=(_TOKEN_RULE,))
_RNN_REGRESSOR_SCHEMA = NEURAL_REGRESSOR_SCHEMA.extend(rules=(_TOKEN_RULE,))

class _RNNBase(SequenceInputMixin, NeuralEstimatorBase):
    _parameter_constraints = _RNN_CONSTRAINTS
    _state_schema = _RNN_REGRESSOR_SCHEMA

    def __init__(self, cell: str = "gru", hidden_size: int = 64, *, vocab_size=None,
                 embedding_dim: int = 32, max_len=None, solver: str = "adam", alpha: float = 0.0001,
                 batch_size="auto", learning_rate: str = "constant", learning_rate_init: float = 0.005,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state=None,
                 tol: float = 1e-4, verbose=False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int = 10, device: str = "auto",
                 backend: str = "auto") -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.max_len = max_len
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.backend = backend

    def _build_layers(self, input_shape, n_outputs):
        n_tokens = None if self.vocab_size is None else self.vocab_size_ + 1
        return [Recurrent(self.cell, self.hidden_size, n_tokens, self.embedding_dim),
                Dense(n_outputs, "identity")]

    def _serial_blas(self) -> bool:
        # Each time step multiplies (batch x H) by (H x gates*H): a few MFLOP at most sizes
        # used here, too small for a second BLAS thread, which then only spins against
        # the next step (measured 3-5x slower epochs on a busy 2-core machine).
        H = int(self.hidden_size)
        return 2 * 256 * H * 4 * H < 50e6

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


@register
class RNNClassifier(ClassifierMixin, _RNNBase):
    __doc__ = """Recurrent-network classifier (Elman, GRU or LSTM) on maaskit's kernels.

    The sequence's last real hidden state feeds a linear layer with a fused softmax
    cross-entropy loss. Classifies sequences of plays, sensor windows or token sequences.
""" + _RNN_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.""" + _RNN_ATTRS + """
    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.neural_network import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 8, 2)
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> clf = RNNClassifier(hidden_size=16, max_iter=60, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _state_schema = _RNN_CLASSIFIER_SCHEMA

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or list of int lists
            Sequences.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All classes, needed on the first call when ``y`` does not show every class.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or list of int lists
            Sequences.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._softmax_proba(X)

    def predict(self, X):
        """Most probable class per sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or list of int lists
            Sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._predict_label(X)


@register
class RNNRegressor(RegressorMixin, _RNNBase):
    __doc__ = """Recurrent-network regressor (Elman, GRU or LSTM) on maaskit's kernels.

    The sequence's last real hidden state feeds a linear layer trained on half the mean
    squared error; supports several targets.
""" + _RNN_DOC + """
    Attributes
    ----------""" + _RNN_ATTRS + """
    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.neural_network import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 6, 1)
    >>> y = X[:, :, 0].mean(axis=1)
    >>> reg = RNNRegressor(hidden_size=16, max_iter=80, random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    def partial_fit(self, X, y):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or list of int lists
            Sequences.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit(X, y)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or list of int lists
            Sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (1-D when trained on a 1-D target).
        """
        return self._predict_target(X)
