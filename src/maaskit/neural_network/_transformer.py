"""Transformer encoder over token or continuous sequences: :class:`TransformerClassifier`.

Token embeddings (or, for continuous ``(n, T, d)`` sequences, a linear projection of each
step) plus a sinusoidal or learned positional encoding go through ``n_layers``
post-norm encoder blocks (``x = LN(x + MHA(x))``, ``x = LN(x + FFN(x))``, the layout of
``torch.nn.TransformerEncoderLayer`` with ``norm_first=False``), are mean-pooled over the real
tokens and fed to a linear head. Padding is a key mask inside attention, so padded positions
never influence real ones; each batch is trimmed to its longest sequence.

With ``dropout > 0`` each block drops (inverted dropout, training only) the attention
output before its residual, the feed-forward hidden units and the feed-forward output before
its residual: ``torch.nn.TransformerEncoderLayer``'s dropout, dropout1 and dropout2. Its
dropout of the attention weights is not applied (the fused attention kernel does not
materialise a dropped copy of them).

Kernels: ``attention`` (fused multi-head attention, fwd + bwd), ``layernorm``, ``embedding``,
``dropout``, ``dense`` (head, losses), ``optim``; the projections are BLAS GEMMs.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from ._base import NEURAL_CLASSIFIER_SCHEMA
from ..persistence import register
from ..utils._param_validation import Interval, Options
from ._base import _NETWORK_ATTRS, NEURAL_CONSTRAINTS, NeuralEstimatorBase
from ._layers import Dense, Layer, draw_mask, register_layer, torch_dropout
from ._rnn import PAD, SequenceInputMixin, _is_ragged_sequences, token_lengths

__all__ = ["TransformerClassifier", "TransformerEncoder", "sinusoidal_encoding"]

_LN_EPS = 1e-5


def sinusoidal_encoding(length: int, d_model: int) -> np.ndarray:
    """The fixed positional encoding of Vaswani et al. (2017).

    Parameters
    ----------
    length : int
        Number of positions.
    d_model : int
        Embedding width.

    Returns
    -------
    pe : ndarray of shape (length, d_model)
        ``sin(pos / 10000^(2i/d))`` in even columns, ``cos`` in odd ones.
    """
    pos = np.arange(length, dtype=np.float64)[:, None]
    i = np.arange(0, d_model, 2, dtype=np.float64)
    angle = pos / np.power(10000.0, i / d_model)
    pe = np.zeros((length, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


_BLOCK = ("Wqkv", "bqkv", "Wo", "bo", "g1", "b1", "W1", "c1", "W2", "c2", "g2", "b2")


@register_layer
class TransformerEncoder(Layer):
    """Embedding (or input projection) + positional encoding + post-norm blocks + mean pooling.

    Parameters
    ----------
    n_tokens : int or None
        Rows of the embedding table; ``None`` for continuous input ``(n, T, d)``, whose
        steps are projected to ``d_model`` by a learned linear map (``Win``, ``bin``).
    max_len : int
        Longest sequence (rows of a learned positional table).
    d_model : int, default=64
        Embedding width.
    n_heads : int, default=4
        Attention heads (``d_model`` must be divisible by it).
    n_layers : int, default=2
        Encoder blocks.
    dim_feedforward : int, default=128
        Hidden width of each block's ReLU feed-forward network.
    positional : {"sinusoidal", "learned"}, default="sinusoidal"
        Positional encoding.
    causal : bool, default=False
        Let position ``i`` attend to positions ``<= i`` only.
    dropout : float, default=0.0
        Dropout rate in every block (attention output, feed-forward hidden and output),
        training only.
    """

    _config_keys = ("n_tokens", "max_len", "d_model", "n_heads", "n_layers", "dim_feedforward",
                    "positional", "causal", "dropout")
    mode_dependent = True

    def __init__(self, n_tokens: int | None, max_len: int, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, dim_feedforward: int = 128, positional: str = "sinusoidal",
                 causal: bool = False, dropout: float = 0.0) -> None:
        self.n_tokens = None if n_tokens is None else int(n_tokens)
        self.max_len = int(max_len)
        self.d_model = int(d_model)
        self.n_heads = int(n_heads)
        self.n_layers = int(n_layers)
        self.dim_feedforward = int(dim_feedforward)
        self.positional = positional
        self.causal = bool(causal)
        self.dropout = float(dropout)

    @property
    def kernels(self) -> tuple[str, ...]:  # type: ignore[override]
        base = ("attention", "layernorm", "embedding")
        return base + ("dropout",) if self.dropout > 0.0 else base

    @property
    def needs_rng(self) -> bool:
        return self.dropout > 0.0

    def _drop(self, a: np.ndarray) -> np.ndarray:
        """Inverted dropout of ``a`` in place; returns the keep-mask for the backward pass."""
        mask = np.empty(a.shape, dtype=np.uint8)
        draw_mask(self._rng, self.dropout, mask)
        self._k["dropout"].dropout_forward(a.reshape(-1), mask.reshape(-1), 1.0 / (1.0 - self.dropout),
                                           a.reshape(-1))
        return mask

    def _drop_back(self, d: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Gradient through :meth:`_drop` (a new array; ``d`` is still needed by the caller)."""
        if mask is None:
            return d
        out = np.empty_like(d)
        self._k["dropout"].dropout_backward(d.reshape(-1), mask.reshape(-1), 1.0 / (1.0 - self.dropout),
                                            out.reshape(-1))
        return out

    @property
    def _tokens(self) -> bool:
        return self.n_tokens is not None

    def _out_shape(self, in_shape):
        if len(in_shape) != (1 if self._tokens else 2):
            want = "(n, L) token ids" if self._tokens else "(n, T, d) sequences"
            raise ValueError(f"TransformerEncoder: input must be {want}; got per-sample "
                             f"shape {in_shape}.")
        if not self._tokens and in_shape[0] > self.max_len:
            raise ValueError(f"TransformerEncoder: sequences must be at most max_len={self.max_len} "
                             f"steps long; got {in_shape[0]}.")
        if self.d_model % self.n_heads:
            raise ValueError(f"TransformerEncoder: d_model must be divisible by n_heads; got "
                             f"d_model={self.d_model!r}, n_heads={self.n_heads!r}.")
        return (self.d_model,)

    def param_shapes(self):
        d, f = self.d_model, self.dim_feedforward
        if self._tokens:
            shapes = [("E", (self.n_tokens, d))]
        else:
            shapes = [("Win", (self.in_shape[1], d)), ("bin", (d,))]
        if self.positional == "learned":
            shapes.append(("P", (self.max_len, d)))
        block = {"Wqkv": (d, 3 * d), "bqkv": (3 * d,), "Wo": (d, d), "bo": (d,), "g1": (d,),
                 "b1": (d,), "W1": (d, f), "c1": (f,), "W2": (f, d), "c2": (d,), "g2": (d,), "b2": (d,)}
        for layer in range(self.n_layers):
            shapes += [(f"{layer}.{name}", block[name]) for name in _BLOCK]
        return shapes

    def init_params(self, params, rng):
        for name, arr in params.items():
            kind = name.split(".")[-1]
            if name == "E":
                arr[...] = rng.standard_normal(arr.shape)  # torch nn.Embedding's N(0, 1)
            elif name == "P":
                arr[...] = 0.02 * rng.standard_normal(arr.shape)
            elif kind in ("g1", "g2"):
                arr[...] = 1.0
            elif kind.startswith("W"):
                fan_in, fan_out = arr.shape
                bound = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform (torch's MHA in_proj)
                arr[...] = rng.uniform(-bound, bound, arr.shape)
            else:
                arr[...] = 0.0

    # --- math -----------------------------------------------------------------------
    def _positions(self, T: int, dtype) -> np.ndarray:
        if self.positional == "learned":
            return self._p["P"][:T]
        cache = self.__dict__.setdefault("_pe", {})
        key = (T, np.dtype(dtype).str)
        if key not in cache:
            cache[key] = sinusoidal_encoding(T, self.d_model).astype(dtype)
        return cache[key]

    def forward(self, x, train):
        p = self._p
        dt = p["0.Wo"].dtype
        n = x.shape[0]
        d, H = self.d_model, self.n_heads
        Dh = d // H
        if self._tokens:
            lengths = token_lengths(x)
            T = max(1, int(lengths.max(initial=0)))  # batch-local length: no all-padding columns
            ids = np.ascontiguousarray(x[:, :T])
            valid = ids != PAD
            flat_ids = np.where(valid, ids, 0).ravel()
            X = np.empty((n * T, d), dtype=dt)
            self._k["embedding"].embedding_forward(flat_ids, p["E"], X)
        else:  # continuous steps: every position is real
            T = x.shape[1]
            lengths = np.full(n, T, dtype=np.int64)
            valid = np.ones((n, T), dtype=bool)
            flat_ids = np.ascontiguousarray(x, dtype=dt).reshape(n * T, -1)
            X = flat_ids @ p["Win"]
            X += p["bin"]
        kv = valid.astype(np.uint8)
        X.reshape(n, T, d)[...] += self._positions(T, dt)
        att, ln = self._k["attention"], self._k["layernorm"]
        scale = 1.0 / np.sqrt(Dh)
        blocks = []
        drop = train and self.dropout > 0.0
        for layer in range(self.n_layers):
            w = {k: p[f"{layer}.{k}"] for k in _BLOCK}
            c: dict[str, Any] = {"x": X}
            qkv = X @ w["Wqkv"]
            qkv += w["bqkv"]
            qkv = np.ascontiguousarray(qkv.reshape(n, T, 3, H, Dh).transpose(2, 0, 3, 1, 4))
            o = np.empty((n, H, T, Dh), dtype=dt)
            probs = np.empty((n, H, T, T), dtype=dt)
            att.attention_forward(qkv[0], qkv[1], qkv[2], kv, self.causal, scale, o, probs)
            oc = np.ascontiguousarray(o.transpose(0, 2, 1, 3)).reshape(n * T, d)
            r1 = oc @ w["Wo"]
            r1 += w["bo"]
            mo = self._drop(r1) if drop else None
            r1 += X
            y1 = np.empty_like(r1)
            m1, s1 = np.empty(n * T, dt), np.empty(n * T, dt)
            ln.layernorm_forward(r1, w["g1"], w["b1"], _LN_EPS, y1, m1, s1)
            h = y1 @ w["W1"]
            h += w["c1"]
            np.maximum(h, 0, out=h)
            mh = None
            hd = h
            if drop:
                hd = h.copy()
                mh = self._drop(hd)
            r2 = hd @ w["W2"]
            r2 += w["c2"]
            mf = self._drop(r2) if drop else None
            r2 += y1
            X = np.empty_like(r2)
            m2, s2 = np.empty(n * T, dt), np.empty(n * T, dt)
            ln.layernorm_forward(r2, w["g2"], w["b2"], _LN_EPS, X, m2, s2)
            if train:
                c.update(qkv=qkv, o=o, probs=probs, oc=oc, r1=r1, y1=y1, m1=m1, s1=s1, h=h,
                         hd=hd, r2=r2, m2=m2, s2=s2, mo=mo, mh=mh, mf=mf)
                blocks.append(c)
        denom = np.maximum(lengths, 1).astype(dt)[:, None]
        Xm = X.reshape(n, T, d) * valid[:, :, None]
        pooled = Xm.sum(axis=1) / denom
        if train:
            self._cache = dict(blocks=blocks, ids=flat_ids, valid=valid, denom=denom, n=n, T=T)
        return pooled

    def backward(self, dout):
        c0 = self._cache
        p, g = self._p, self._g
        n, T = c0["n"], c0["T"]
        d, H = self.d_model, self.n_heads
        Dh = d // H
        dt = dout.dtype
        att, ln = self._k["attention"], self._k["layernorm"]
        scale = 1.0 / np.sqrt(Dh)
        dX = np.ascontiguousarray(
            np.broadcast_to((dout / c0["denom"])[:, None, :], (n, T, d)) * c0["valid"][:, :, None]
        ).reshape(n * T, d).astype(dt, copy=False)
        for layer in range(self.n_layers - 1, -1, -1):
            c = c0["blocks"][layer]
            w = {k: p[f"{layer}.{k}"] for k in _BLOCK}
            gw = {k: g[f"{layer}.{k}"] for k in _BLOCK}
            dr2 = np.empty_like(dX)
            ln.layernorm_backward(dX, c["r2"], w["g2"], c["m2"], c["s2"], dr2, gw["g2"], gw["b2"])
            h = c["h"]
            df = self._drop_back(dr2, c["mf"])
            np.matmul(c["hd"].T, df, out=gw["W2"])
            gw["c2"][...] = df.sum(axis=0)
            dh = self._drop_back(df @ w["W2"].T, c["mh"])
            dh *= h > 0
            np.matmul(c["y1"].T, dh, out=gw["W1"])
            gw["c1"][...] = dh.sum(axis=0)
            dy1 = dh @ w["W1"].T
            dy1 += dr2
            dr1 = np.empty_like(dX)
            ln.layernorm_backward(dy1, c["r1"], w["g1"], c["m1"], c["s1"], dr1, gw["g1"], gw["b1"])
            da = self._drop_back(dr1, c["mo"])
            np.matmul(c["oc"].T, da, out=gw["Wo"])
            gw["bo"][...] = da.sum(axis=0)
            doc = da @ w["Wo"].T
            do = np.ascontiguousarray(doc.reshape(n, T, H, Dh).transpose(0, 2, 1, 3))
            dqkv = np.empty((3, n, H, T, Dh), dtype=dt)
            qkv = c["qkv"]
            att.attention_backward(do, qkv[0], qkv[1], qkv[2], c["o"], c["probs"], scale,
                                   dqkv[0], dqkv[1], dqkv[2])
            dqkv2 = np.ascontiguousarray(dqkv.transpose(1, 3, 0, 2, 4)).reshape(n * T, 3 * d)
            np.matmul(c["x"].T, dqkv2, out=gw["Wqkv"])
            gw["bqkv"][...] = dqkv2.sum(axis=0)
            dX = dqkv2 @ w["Wqkv"].T
            dX += dr1
        if self.positional == "learned":
            g["P"][...] = 0.0
            g["P"][:T] = dX.reshape(n, T, d).sum(axis=0)
        if self._tokens:
            self._k["embedding"].embedding_backward(c0["ids"], dX, g["E"])
        else:  # c0["ids"] holds the flat continuous input
            np.matmul(c0["ids"].T, dX, out=g["Win"])
            g["bin"][...] = dX.sum(axis=0)
        return None

    def _torch_positions(self, like):
        """Sinusoidal positions for ``max_len`` as a tensor on ``like``'s device, cached.

        Cached because a host-to-device copy inside a CUDA-graph capture is not allowed.
        """
        import torch

        cache = self.__dict__.setdefault("_pe_torch", {})
        key = (like.device, like.dtype)
        if key not in cache:
            table = self._positions(self.max_len, np.float64)
            cache[key] = torch.as_tensor(table, device=like.device).to(like.dtype)
        return cache[key]

    def torch_forward(self, x, params, train=False):
        import torch
        import torch.nn.functional as F

        rate = self.dropout if train else 0.0
        gen = getattr(self, "_torch_gen", None)
        if not self._tokens:
            return self._torch_blocks(x @ params["Win"] + params["bin"], None, params, rate, gen)
        ids = x.long()
        valid = ids != PAD
        lengths = valid.sum(dim=1)
        if ids.is_cuda and torch.cuda.is_current_stream_capturing():
            # a CUDA-graph capture cannot read the batch's longest length back to the host:
            # run the full width instead (the padding is masked, the result is the same)
            T = ids.shape[1]
        else:
            T = max(1, int(lengths.max()))
        ids, valid = ids[:, :T], valid[:, :T]
        return self._torch_blocks(params["E"][ids.clamp(min=0)], valid, params, rate, gen)

    def _torch_blocks(self, X, valid, params, rate, gen):
        """Positions, encoder blocks and mean pooling in torch (``valid=None``: no padding)."""
        import torch
        import torch.nn.functional as F

        train = rate > 0.0
        n, T, d, H = X.shape[0], X.shape[1], self.d_model, self.n_heads
        Dh = d // H
        if self.positional == "learned":
            X = X + params["P"][:T]
        else:
            X = X + self._torch_positions(X)[:T]
        if valid is None:
            mask = None
            if self.causal:
                mask = torch.ones(T, T, dtype=torch.bool, device=X.device).tril()
        else:
            lengths = valid.sum(dim=1)
            # empty rows would have no visible key (NaN in SDPA): let them see everything;
            # they are dropped by the pooling anyway
            keys = valid | (lengths == 0)[:, None]
            mask = keys[:, None, None, :]
            if self.causal:
                mask = mask & torch.ones(T, T, dtype=torch.bool, device=X.device).tril()
        for layer in range(self.n_layers):
            w = {k: params[f"{layer}.{k}"] for k in _BLOCK}
            qkv = (X @ w["Wqkv"] + w["bqkv"]).view(n, T, 3, H, Dh).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            o = o.transpose(1, 2).reshape(n, T, d)
            a = torch_dropout(o @ w["Wo"] + w["bo"], rate, train, gen)
            X = F.layer_norm(X + a, (d,), w["g1"], w["b1"], _LN_EPS)
            h = torch_dropout(torch.relu(X @ w["W1"] + w["c1"]), rate, train, gen)
            f = torch_dropout(h @ w["W2"] + w["c2"], rate, train, gen)
            X = F.layer_norm(X + f, (d,), w["g2"], w["b2"], _LN_EPS)
        if valid is None:
            return X.mean(dim=1)
        vm = valid.to(X.dtype)[:, :, None]
        return (X * vm).sum(dim=1) / lengths.clamp(min=1).to(X.dtype)[:, None]


_TRANSFORMER_CONSTRAINTS = {
    **NEURAL_CONSTRAINTS,
    "d_model": [Interval(numbers.Integral, 1, None, closed="left")],
    "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
    "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
    "dim_feedforward": [Interval(numbers.Integral, 1, None, closed="left")],
    "positional": [Options(frozenset({"sinusoidal", "learned"}))],
    "causal": ["boolean"],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "vocab_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "max_len": [Interval(numbers.Integral, 1, None, closed="left")],
}


@register
class TransformerClassifier(SequenceInputMixin, ClassifierMixin, NeuralEstimatorBase):
    __doc__ = """Transformer-encoder classifier for token or continuous sequences on maaskit's kernels.

    Embeddings (token input) or a linear projection of each step (continuous input) plus
    positional encoding, ``n_layers`` post-norm encoder blocks (multi-head
    self-attention ``softmax(Q K^T / sqrt(d_k)) V`` with the residual ``h = Attention + h``,
    layer norm, ReLU feed-forward), mean pooling over the real tokens and a linear head with
    a fused softmax cross-entropy loss. ``X`` is either

    * token ids: a list of int lists (e.g. from a vocabulary lookup) or a 2-D *integer*
      array padded with trailing ``-1``; or
    * continuous sequences: a float array of shape ``(n_samples, n_steps, n_features)``
      (watch-time series, sensor or audio features), or a 2-D float array read as
      ``n_steps`` scalar steps, as :class:`RNNClassifier` does.

    The first fit decides the layout (integer data or ``vocab_size`` set: tokens; otherwise
    continuous) and later calls must use the same one.

    Parameters
    ----------
    d_model : int, default=64
        Embedding and model width.
    n_heads : int, default=4
        Attention heads; ``d_model`` must be divisible by it.
    n_layers : int, default=2
        Encoder blocks.
    dim_feedforward : int, default=128
        Hidden width of the feed-forward networks.
    positional : {"sinusoidal", "learned"}, default="sinusoidal"
        Positional encoding.
    causal : bool, default=False
        Attend only to earlier positions (a session model that must not see the future).
    dropout : float, default=0.0
        Inverted-dropout rate in every encoder block (attention output, feed-forward hidden
        units and output), active only in training; masks are drawn from ``random_state``.
    vocab_size : int or None, default=None
        Number of known token ids; ``None`` takes ``max id + 1`` of the first fit. Larger
        ids share one out-of-vocabulary embedding. Setting it forces token input.
    max_len : int, default=256
        Longest accepted sequence (tokens or steps); a longer one raises a ``ValueError``.
    solver : {"sgd", "adam", "adamw"}, default="adam"
        Optimizer (one fused update of the flat parameter buffer per mini-batch).
    alpha : float, default=0.0001
        L2 strength / weight decay.
    batch_size : int or "auto", default=32
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "cosine"}, default="constant"
        Per-epoch learning-rate schedule.
    learning_rate_init : float, default=0.001
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=50
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
        ``"cuda"`` trains through torch (fused SDPA) on the GPU.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        CPU kernel implementation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Padded sequence width (``max_len_``) for tokens; steps per sequence for continuous
        input.
    max_len_ : int
        Padded sequence width (tokens) or steps per sequence (continuous input).
    vocab_size_ : int or None
        Known token ids (the embedding table has one more, out-of-vocabulary, row);
        ``None`` for continuous input.
    n_outputs_ : int
        Number of classes.
""" + _NETWORK_ATTRS + """
    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.neural_network import TransformerClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = [list(rng.randint(1, 20, size=rng.randint(2, 10))) for _ in range(200)]
    >>> y = [int(7 in seq) for seq in X]
    >>> clf = TransformerClassifier(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32,
    ...                             learning_rate_init=0.01, max_iter=30, random_state=0)
    >>> bool(clf.fit(X, y).score(X, y) > 0.9)
    True
    """

    _parameter_constraints = _TRANSFORMER_CONSTRAINTS
    _predict_chunk = 256  # attention workspaces grow with chunk * heads * length^2

    _state_schema = NEURAL_CLASSIFIER_SCHEMA

    def __init__(self, d_model: int = 64, n_heads: int = 4, *, n_layers: int = 2,
                 dim_feedforward: int = 128, positional: str = "sinusoidal", causal: bool = False,
                 dropout: float = 0.0, vocab_size=None, max_len: int = 256, solver: str = "adam",
                 alpha: float = 0.0001, batch_size=32, learning_rate: str = "constant",
                 learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 50, shuffle: bool = True, random_state=None,
                 tol: float = 1e-4, verbose=False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int = 10, device: str = "auto",
                 backend: str = "auto") -> None:
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.dim_feedforward = dim_feedforward
        self.positional = positional
        self.causal = causal
        self.dropout = dropout
        self.vocab_size = vocab_size
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

    def _token_input(self) -> bool:
        # while the first fit validates its input, the layout it chose; afterwards the
        # fitted one (vocab_size_ is None for continuous input)
        chosen = self.__dict__.get("_layout_tokens")
        if chosen is not None:
            return chosen
        return getattr(self, "vocab_size_", None) is not None

    def _validate_input(self, X, y="no_validation", *, reset: bool):
        if not reset:
            return super()._validate_input(X, y, reset=reset)
        self._layout_tokens = self.vocab_size is not None or _looks_like_tokens(X)
        try:
            out = super()._validate_input(X, y, reset=reset)
        finally:
            del self._layout_tokens
        if self.vocab_size_ is None:  # continuous: (n, T, d) with T fixed by the first fit
            T = int((out if isinstance(y, str) else out[0]).shape[1])
            if T > self.max_len:
                raise ValueError(
                    f"{self._where('fit')}: sequences must be at most max_len={self.max_len} steps "
                    f"long; got {T!r} steps. Shorten the sequences or raise max_len.")
            self.max_len_ = T
        return out

    def _serial_blas(self) -> bool:
        # The attention and layer-norm kernels run their own OpenMP team; a threaded BLAS
        # for the projections in between would put a second team on the cores.
        return True

    def _build_layers(self, input_shape, n_outputs):
        if self.d_model % self.n_heads:
            raise ValueError(
                f"TransformerClassifier.fit: d_model must be divisible by n_heads; got "
                f"d_model={self.d_model!r} and n_heads={self.n_heads!r}.")
        n_tokens = None if self.vocab_size_ is None else self.vocab_size_ + 1
        enc = TransformerEncoder(n_tokens, self.max_len_, self.d_model, self.n_heads,
                                 self.n_layers, self.dim_feedforward, self.positional, self.causal,
                                 self.dropout)
        return [enc, Dense(n_outputs, "identity")]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : list of int lists, or array-like of shape (n_samples, length) or (n_samples, n_steps, n_features)
            Token sequences or continuous sequences.
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
        X : list of int lists, or array-like of shape (n_samples, length) or (n_samples, n_steps, n_features)
            Token sequences or continuous sequences.

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
        X : list of int lists, or array-like of shape (n_samples, length) or (n_samples, n_steps, n_features)
            Token sequences or continuous sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._predict_label(X)


def _looks_like_tokens(X) -> bool:
    """Whether first-fit input is token ids: int lists, or an integer array.

    Anything else (float arrays, sparse matrices, objects) goes to the continuous path,
    whose validation gives scikit-learn's usual messages.
    """
    if _is_ragged_sequences(X):
        for seq in X:
            a = np.asarray(seq)
            if a.size:
                return bool(np.issubdtype(a.dtype, np.integer))
        return True
    if hasattr(X, "dtypes"):  # DataFrame: integer columns only
        return all(np.issubdtype(np.dtype(t), np.integer) for t in X.dtypes)
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):  # sparse: rejected on the continuous path
        return False
    try:
        return bool(np.issubdtype(np.asarray(X).dtype, np.integer))
    except (TypeError, ValueError):
        return False
