"""The SASRec network on maaskit's CPU kernels: parameter layout, forward, backward, loss.

A module holds no estimator logic; :class:`SASRecNet` owns one flat float32 parameter buffer
(so that one fused Adam call updates everything) and the kernel modules it was bound to.

Layout (``d = n_factors``, ``L = max_len``)::

    E      (n_items, d)   item embeddings, tied: input lookup and output scores
    P      (L, d)         learned positions; the newest item of a window sits at row L - 1
    <b>.g1 <b>.b1         pre-attention LayerNorm of block b
    <b>.Wqkv <b>.bqkv     query/key/value projection (d, 3d)
    <b>.Wo <b>.bo         attention output projection
    <b>.g2 <b>.b2         pre-feed-forward LayerNorm
    <b>.W1 <b>.c1 <b>.W2 <b>.c2   position-wise ReLU feed-forward (d -> d -> d)
    gf bf                 final LayerNorm

Sequences are *left*-padded with ``-1`` so that the newest item is always the last column:
inference reads one row, and a batch is trimmed to its longest window by dropping leading
all-padding columns (their positions are the first rows of ``P``, never used).

Block (pre-LayerNorm, as in Transformers that train without warm-up)::

    x = x + Drop(Attn(LN1(x)))           causal, padded keys masked
    x = x + Drop(FFN(Drop_h(LN2(x))))    Drop_h on the ReLU units
    h = LNf(x);   score(item) = h . E[item]

The input is ``sqrt(d) * E[item] + P[pos]`` (zero at padding), dropped out.

Losses, over every non-padded position of every window (``targets >= 0``):

* ``"softmax"``: cross-entropy of the full softmax over the catalogue; the logits are one
  GEMM ``H E^T`` and the ``xent`` kernel turns them into their gradient in place.
* ``"sampled"``: sampled softmax over the target and ``n_negatives`` items drawn uniformly
  per batch (shared by the whole batch, so the logits are still one GEMM); a negative equal
  to a row's target is masked out of that row.

Kernels: ``attention``, ``layernorm``, ``embedding``, ``dropout``, ``xent`` (softmax
cross-entropy, gradient in place), ``optim`` (``adam_update``); the projections are BLAS GEMMs.

Dropout masks come from a ``numpy.random.Generator`` (float32 draws: several times faster than
``RandomState.random_sample``), seeded once per fit from ``random_state``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import get_kernel

__all__ = ["SASRecNet", "param_layout", "n_params"]

LN_EPS = 1e-5
_BLOCK = ("g1", "b1", "Wqkv", "bqkv", "Wo", "bo", "g2", "b2", "W1", "c1", "W2", "c2")
KERNELS = ("attention", "layernorm", "embedding", "dropout", "xent", "optim")
# Logit of a sampled negative that collides with the row's target: exp underflows to 0, so
# the row's softmax ignores it (finite, never -inf: inf * 0 is NaN in the gradient).
_MASKED = np.float32(-1e4)


def param_layout(n_items: int, d: int, n_blocks: int, max_len: int) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the parameters, in their order in the flat buffer.

    Parameters
    ----------
    n_items : int
    d : int
        ``n_factors``.
    n_blocks : int
    max_len : int

    Returns
    -------
    layout : list of (str, tuple of int)
    """
    shapes = {"g1": (d,), "b1": (d,), "Wqkv": (d, 3 * d), "bqkv": (3 * d,), "Wo": (d, d),
              "bo": (d,), "g2": (d,), "b2": (d,), "W1": (d, d), "c1": (d,), "W2": (d, d), "c2": (d,)}
    out: list[tuple[str, tuple[int, ...]]] = [("E", (n_items, d)), ("P", (max_len, d))]
    for b in range(n_blocks):
        out += [(f"{b}.{k}", shapes[k]) for k in _BLOCK]
    out += [("gf", (d,)), ("bf", (d,))]
    return out


def n_params(n_items: int, d: int, n_blocks: int, max_len: int) -> int:
    """Length of the flat parameter buffer (see :func:`param_layout`).

    Parameters
    ----------
    n_items, d, n_blocks, max_len : int

    Returns
    -------
    n : int
    """
    return int(sum(np.prod(s) for _, s in param_layout(n_items, d, n_blocks, max_len)))


def views(flat: np.ndarray, layout: list) -> dict[str, np.ndarray]:
    """Named reshaped views into ``flat`` (no copies)."""
    out, pos = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        out[name] = flat[pos : pos + size].reshape(shape)
        pos += size
    return out


def init_params(p: dict[str, np.ndarray], d: int, rng: np.random.RandomState) -> None:
    """Initialise the parameter views in place.

    Items N(0, 1/d) (the input is scaled by sqrt(d), so it starts at unit variance; scores
    ``h . e`` of a normalised ``h`` start at unit scale), positions N(0, 0.02^2)... scaled
    like the items, Glorot-uniform weights, zero biases, unit LayerNorm gains.
    """
    for name, arr in p.items():
        kind = name.split(".")[-1]
        if name == "E":
            arr[...] = rng.standard_normal(arr.shape) / np.sqrt(d)
        elif name == "P":
            arr[...] = rng.standard_normal(arr.shape) * 0.02 * np.sqrt(d)
        elif kind in ("g1", "g2", "gf"):
            arr[...] = 1.0
        elif kind.startswith("W"):
            fan_in, fan_out = arr.shape
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            arr[...] = rng.uniform(-bound, bound, arr.shape)
        else:
            arr[...] = 0.0


class SASRecNet:
    """Forward and backward passes of SASRec over a flat parameter buffer.

    Parameters
    ----------
    n_items, d, n_blocks, n_heads, max_len : int
        Shapes (``d`` is divisible by ``n_heads``).
    dropout : float
        Dropout rate (training only).
    backend : str
        Kernel backend (``"auto"``, ``"cython"``, ``"numba"`` or ``"numpy"``), resolved per
        kernel.
    params : ndarray of shape (n_params,), float32
        The flat buffer (not copied; trained in place).
    """

    def __init__(self, n_items: int, d: int, n_blocks: int, n_heads: int, max_len: int,
                 dropout: float, backend: str, params: np.ndarray) -> None:
        self.n_items, self.d, self.n_blocks, self.n_heads, self.max_len = n_items, d, n_blocks, n_heads, max_len
        self.dropout = float(dropout)
        self.layout = param_layout(n_items, d, n_blocks, max_len)
        self.flat = params
        self.p = views(params, self.layout)
        self.k = {name: get_kernel(name, backend) for name in KERNELS}
        self.dt = params.dtype.type

    # ------------------------------------------------------------------ helpers
    def _drop(self, a: np.ndarray, rng: np.random.Generator | None) -> np.ndarray | None:
        """Inverted dropout of ``a`` in place; the keep-mask, or None when not dropping."""
        if rng is None or self.dropout <= 0.0:
            return None
        mask = (rng.random(a.size, dtype=np.float32) >= np.float32(self.dropout)).view(np.uint8)
        flat = a.reshape(-1)
        self.k["dropout"].dropout_forward(flat, mask, 1.0 / (1.0 - self.dropout), flat)
        return mask

    def _drop_back(self, g: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if mask is None:
            return g
        out = np.empty_like(g)
        self.k["dropout"].dropout_backward(g.reshape(-1), mask, 1.0 / (1.0 - self.dropout), out.reshape(-1))
        return out

    def _ln(self, x: np.ndarray, g: np.ndarray, b: np.ndarray):
        out = np.empty_like(x)
        mean = np.empty(len(x), self.dt)
        rstd = np.empty(len(x), self.dt)
        self.k["layernorm"].layernorm_forward(x, g, b, LN_EPS, out, mean, rstd)
        return out, mean, rstd

    # ------------------------------------------------------------------ forward
    def forward(self, ids: np.ndarray, rng: np.random.Generator | None = None,
                keep: bool = False, last_only: bool = False) -> tuple[np.ndarray, dict | None]:
        """Hidden states of every position.

        Parameters
        ----------
        ids : ndarray of shape (B, T), int64
            Item indices, left-padded with -1; ``T <= max_len``.
        rng : Generator or None
            Dropout masks are drawn from it; None means inference (no dropout).
        keep : bool
            Keep the intermediates for :meth:`backward`.
        last_only : bool
            Inference: the last block runs only at the newest position (its keys and values
            still cover every position); ``H`` then has one row per window.

        Returns
        -------
        H : ndarray of shape (B * T, d), or (B, d) with ``last_only``, float32
            Final-LayerNorm outputs.
        cache : dict or None
        """
        p, k = self.p, self.k
        B, T = ids.shape
        d, nh = self.d, self.n_heads
        if last_only and (keep or rng is not None):
            raise ValueError("SASRecNet.forward: last_only must be inference only; got keep or rng.")
        dh = d // nh
        valid = ids >= 0
        kv = np.ascontiguousarray(valid, dtype=np.uint8)
        flat_ids = np.ascontiguousarray(np.where(valid, ids, 0).ravel(), dtype=np.int64)
        X = np.empty((B * T, d), self.dt)
        k["embedding"].embedding_forward(flat_ids, p["E"], X)
        X *= self.dt(np.sqrt(d))
        X3 = X.reshape(B, T, d)
        X3 += p["P"][self.max_len - T :]
        X3 *= valid[:, :, None]
        m0 = self._drop(X, rng)
        scale = 1.0 / np.sqrt(dh)
        blocks = []
        for b in range(self.n_blocks):
            w = {n: p[f"{b}.{n}"] for n in _BLOCK}
            if last_only and b == self.n_blocks - 1:
                X = self._last_block(X, w, kv, B, T, scale)
                break
            a, am, ar = self._ln(X, w["g1"], w["b1"])
            qkv = a @ w["Wqkv"]
            qkv += w["bqkv"]
            qkv = np.ascontiguousarray(qkv.reshape(B, T, 3, nh, dh).transpose(2, 0, 3, 1, 4))
            o = np.empty((B, nh, T, dh), self.dt)
            probs = np.empty((B, nh, T, T), self.dt)
            k["attention"].attention_forward(qkv[0], qkv[1], qkv[2], kv, True, scale, o, probs)
            oc = np.ascontiguousarray(o.transpose(0, 2, 1, 3)).reshape(B * T, d)
            r1 = oc @ w["Wo"]
            r1 += w["bo"]
            mo = self._drop(r1, rng)
            X1 = X + r1
            f, fm, fr = self._ln(X1, w["g2"], w["b2"])
            h = f @ w["W1"]
            h += w["c1"]
            np.maximum(h, 0, out=h)
            hd = h.copy() if (rng is not None and self.dropout > 0) else h
            mh = self._drop(hd, rng)
            r2 = hd @ w["W2"]
            r2 += w["c2"]
            mf = self._drop(r2, rng)
            X2 = X1 + r2
            if keep:
                blocks.append(dict(x=X, a=a, am=am, ar=ar, qkv=qkv, o=o, probs=probs, oc=oc,
                                   mo=mo, x1=X1, f=f, fm=fm, fr=fr, h=h, hd=hd, mh=mh, mf=mf))
            X = X2
        H, hm, hr = self._ln(X, p["gf"], p["bf"])
        cache = None
        if keep:
            cache = dict(B=B, T=T, kv=kv, valid=valid, ids=flat_ids, m0=m0, blocks=blocks,
                         xf=X, hm=hm, hr=hr)
        return H, cache

    def _last_block(self, X: np.ndarray, w: dict, kv: np.ndarray, B: int, T: int,
                    scale: float) -> np.ndarray:
        """The last block at the newest position only (inference, no dropout): (B, d)."""
        d, nh = self.d, self.n_heads
        dh = d // nh
        a, _, _ = self._ln(X, w["g1"], w["b1"])
        kvp = (a @ w["Wqkv"][:, d:]).reshape(B, T, 2, nh, dh)
        kvp += w["bqkv"][d:].reshape(2, nh, dh)
        x = np.ascontiguousarray(X.reshape(B, T, d)[:, -1])
        q = (a.reshape(B, T, d)[:, -1] @ w["Wqkv"][:, :d] + w["bqkv"][:d]).reshape(B, nh, 1, dh)
        keys = kvp[:, :, 0].transpose(0, 2, 3, 1)  # (B, nh, dh, T)
        vals = kvp[:, :, 1].transpose(0, 2, 1, 3)  # (B, nh, T, dh)
        s = (q @ keys)[:, :, 0] * self.dt(scale)  # (B, nh, T); the newest query sees every key
        allowed = kv.astype(bool)[:, None, :]
        s = np.where(allowed, s, -np.inf)
        m = s.max(axis=2, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)  # no key at all: zero weights, as the kernel
        e = np.where(allowed, np.exp(s - m), 0.0)
        z = e.sum(axis=2, keepdims=True)
        probs = (e / np.where(z > 0, z, 1.0)).astype(self.dt)
        o = (probs[:, :, None, :] @ vals)[:, :, 0].reshape(B, d)
        x1 = x + (o @ w["Wo"] + w["bo"])
        f, _, _ = self._ln(x1, w["g2"], w["b2"])
        h = f @ w["W1"]
        h += w["c1"]
        np.maximum(h, 0, out=h)
        return x1 + (h @ w["W2"] + w["c2"])

    # ------------------------------------------------------------------ loss
    def loss(self, H: np.ndarray, targets: np.ndarray, grads: dict[str, np.ndarray],
             n_negatives: int | None, rng: np.random.Generator) -> tuple[float, np.ndarray]:
        """Cross-entropy over the positions with a target; writes the dE of the output side.

        Parameters
        ----------
        H : ndarray of shape (B * T, d)
            From :meth:`forward`.
        targets : ndarray of shape (B * T,), int64
            Next item per position, -1 where there is none (padding).
        grads : dict of ndarray
            Gradient views; ``grads["E"]`` is overwritten with the output-side gradient.
        n_negatives : int or None
            None: full softmax; else sampled softmax with this many uniform negatives.
        rng : Generator
            Draws the negatives.

        Returns
        -------
        loss : float
            Mean cross-entropy over the rows with a target.
        dH : ndarray of shape (B * T, d)
            Gradient with respect to ``H`` (zero on rows without a target).
        """
        E = self.p["E"]
        rows = np.flatnonzero(targets >= 0)
        y = np.ascontiguousarray(targets[rows], dtype=np.int64)
        Hv = np.ascontiguousarray(H[rows])
        dH = np.zeros_like(H)
        if len(rows) == 0:
            grads["E"][...] = 0.0
            return 0.0, dH
        scale = 1.0 / len(rows)
        if n_negatives is None:
            grad = Hv @ E.T  # logits, overwritten with their gradient by the kernel
            loss = self.k["xent"].softmax_xent(grad, y, scale) * scale
            dH[rows] = grad @ E
            np.matmul(grad.T, Hv, out=grads["E"])
            return float(loss), dH
        neg = rng.integers(0, self.n_items, n_negatives, dtype=np.int64)
        cand = np.concatenate([y, neg])
        W = np.empty((len(cand), self.d), self.dt)
        self.k["embedding"].embedding_forward(cand, E, W)
        Wy, Wn = W[: len(y)], W[len(y) :]
        logits = np.empty((len(rows), 1 + n_negatives), self.dt)
        logits[:, 0] = np.einsum("ij,ij->i", Hv, Wy)
        np.matmul(Hv, Wn.T, out=logits[:, 1:])
        logits[:, 1:][neg[None, :] == y[:, None]] = self.dt(_MASKED)
        grad = logits
        loss = self.k["xent"].softmax_xent(grad, np.zeros(len(rows), np.int64), scale) * scale
        gy, gn = grad[:, :1], grad[:, 1:]
        dH[rows] = gy * Wy + gn @ Wn
        dW = np.empty_like(W)
        dW[: len(y)] = gy * Hv
        np.matmul(gn.T, Hv, out=dW[len(y) :])
        self.k["embedding"].embedding_backward(cand, dW, grads["E"])
        return float(loss), dH

    # ------------------------------------------------------------------ backward
    def backward(self, dH: np.ndarray, cache: dict, grads: dict[str, np.ndarray]) -> None:
        """Accumulate the gradients of every parameter given ``dL/dH``.

        ``grads["E"]`` must already hold the output-side gradient (from :meth:`loss`); the
        input-side scatter is added to it. Every other gradient view is overwritten.

        Parameters
        ----------
        dH : ndarray of shape (B * T, d)
        cache : dict
            From :meth:`forward` with ``keep=True``.
        grads : dict of ndarray
            Views of the flat gradient buffer.
        """
        p, k = self.p, self.k
        B, T, d, nh = cache["B"], cache["T"], self.d, self.n_heads
        dh = d // nh
        scale = 1.0 / np.sqrt(dh)
        ln = k["layernorm"]
        dX = np.empty_like(dH)
        ln.layernorm_backward(np.ascontiguousarray(dH), cache["xf"], p["gf"], cache["hm"], cache["hr"],
                              dX, grads["gf"], grads["bf"])
        for b in range(self.n_blocks - 1, -1, -1):
            c = cache["blocks"][b]
            w = {n: p[f"{b}.{n}"] for n in _BLOCK}
            g = {n: grads[f"{b}.{n}"] for n in _BLOCK}
            # feed-forward branch: X2 = X1 + Drop(Drop_h(relu(LN2(X1) W1 + c1)) W2 + c2)
            dr2 = self._drop_back(dX, c["mf"])
            np.matmul(c["hd"].T, dr2, out=g["W2"])
            g["c2"][...] = dr2.sum(axis=0)
            dhid = self._drop_back(dr2 @ w["W2"].T, c["mh"])
            dhid *= c["h"] > 0
            np.matmul(c["f"].T, dhid, out=g["W1"])
            g["c1"][...] = dhid.sum(axis=0)
            df = dhid @ w["W1"].T
            dX1 = np.empty_like(dX)
            ln.layernorm_backward(df, c["x1"], w["g2"], c["fm"], c["fr"], dX1, g["g2"], g["b2"])
            dX1 += dX
            # attention branch: X1 = X + Drop(Attn(LN1(X)) Wo + bo)
            dr1 = self._drop_back(dX1, c["mo"])
            np.matmul(c["oc"].T, dr1, out=g["Wo"])
            g["bo"][...] = dr1.sum(axis=0)
            doc = dr1 @ w["Wo"].T
            do = np.ascontiguousarray(doc.reshape(B, T, nh, dh).transpose(0, 2, 1, 3))
            dqkv = np.empty((3, B, nh, T, dh), self.dt)
            qkv = c["qkv"]
            k["attention"].attention_backward(do, qkv[0], qkv[1], qkv[2], c["o"], c["probs"], scale,
                                              dqkv[0], dqkv[1], dqkv[2])
            dq2 = np.ascontiguousarray(dqkv.transpose(1, 3, 0, 2, 4)).reshape(B * T, 3 * d)
            np.matmul(c["a"].T, dq2, out=g["Wqkv"])
            g["bqkv"][...] = dq2.sum(axis=0)
            da = dq2 @ w["Wqkv"].T
            dXa = np.empty_like(dX)
            ln.layernorm_backward(da, c["x"], w["g1"], c["am"], c["ar"], dXa, g["g1"], g["b1"])
            dX = dXa
            dX += dX1
        # input: X = Drop(valid * (sqrt(d) E[ids] + P[pos]))
        dX = self._drop_back(dX, cache["m0"])
        dX3 = dX.reshape(B, T, d)
        dX3 *= cache["valid"][:, :, None]
        grads["P"][...] = 0.0
        grads["P"][self.max_len - T :] = dX3.sum(axis=0)
        dX *= self.dt(np.sqrt(d))
        dE_in = np.empty_like(grads["E"])
        k["embedding"].embedding_backward(cache["ids"], dX, dE_in)
        grads["E"] += dE_in

    # ------------------------------------------------------------------ inference
    def last_hidden(self, ids: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Hidden state of the newest position of each left-padded window (no dropout).

        Parameters
        ----------
        ids : ndarray of shape (n, T), int64
            Left-padded with -1; a row of only padding gives the final LayerNorm of zeros.
        chunk : int, default=1024
            Rows per forward pass (bounds the ``(chunk, T, T)`` attention probabilities).

        Returns
        -------
        U : ndarray of shape (n, d), float32
        """
        n = len(ids)
        U = np.empty((n, self.d), self.dt)
        for s in range(0, n, chunk):
            part = ids[s : s + chunk]
            lengths = (part >= 0).sum(axis=1)
            T = max(1, int(lengths.max(initial=0)))
            U[s : s + chunk], _ = self.forward(np.ascontiguousarray(part[:, part.shape[1] - T :]),
                                               last_only=True)
        return U


def train_step(net: SASRecNet, grads_flat: np.ndarray, grads: dict, opt: dict[str, Any],
               ids: np.ndarray, targets: np.ndarray, n_negatives: int | None,
               rng: np.random.Generator) -> float:
    """One Adam step on a batch: forward, loss, backward, one fused update.

    Parameters
    ----------
    net : SASRecNet
    grads_flat : ndarray of shape (n_params,)
        The gradient buffer ``grads`` views into.
    grads : dict of ndarray
    opt : dict
        ``m``, ``v`` (moment buffers), ``step`` (int, incremented here), ``lr``,
        ``weight_decay``.
    ids, targets : ndarray of shape (B, T), int64
        Left-padded inputs and next-item targets (-1 where none).
    n_negatives : int or None
    rng : Generator

    Returns
    -------
    loss : float
    """
    H, cache = net.forward(ids, rng, keep=True)
    loss, dH = net.loss(H, np.ascontiguousarray(targets.ravel()), grads, n_negatives, rng)
    net.backward(dH, cache, grads)
    opt["step"] += 1
    net.k["optim"].adam_update(net.flat, grads_flat, opt["m"], opt["v"], opt["lr"], 0.9, 0.98,
                               1e-8, opt["weight_decay"], False, opt["step"])
    return loss
