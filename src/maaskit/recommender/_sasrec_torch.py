"""SASRec training through torch (``device="cuda"``; CPU torch in the tests).

The same network as :mod:`maaskit.recommender._sasrec_net`, over views of one flat parameter
tensor with the same layout, so the weights go back into ``params_`` and prediction, saving
and serving run on the CPU kernels. The training windows are moved to the device once and
shuffled there; autograd does the backward pass and ``torch.optim.Adam`` (with the betas and
eps of the ``optim`` kernel call) the update. Dropout masks come from a torch generator seeded
by ``random_state``. Validation copies the weights back after each epoch and scores on the CPU
(one device-to-host copy of the weights per epoch).

Imported lazily: ``import maaskit`` never imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._sasrec_net import LN_EPS, _BLOCK, _MASKED, param_layout

__all__ = ["torch_forward", "torch_loss", "train_torch"]


def torch_device(name: str) -> Any:
    """The torch device for ``name`` (a seam for the CPU tests)."""
    import torch

    return torch.device(name)


def _views(p: Any, layout: list) -> dict:
    out, pos = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        out[name] = p[pos : pos + size].view(shape)
        pos += size
    return out


def _drop(x: Any, rate: float, gen: Any) -> Any:
    if gen is None or rate <= 0.0:
        return x
    import torch

    keep = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) >= rate
    return x * keep / (1.0 - rate)


def torch_forward(w: dict, ids: Any, n_heads: int, max_len: int, dropout: float, gen: Any) -> Any:
    """Hidden states of every position, as :meth:`SASRecNet.forward` computes them.

    Parameters
    ----------
    w : dict of str to Tensor
        Parameter views (see :func:`maaskit.recommender._sasrec_net.param_layout`).
    ids : Tensor of shape (B, T), int64
        Left-padded with -1.
    n_heads, max_len : int
    dropout : float
    gen : torch.Generator or None
        None: no dropout (inference).

    Returns
    -------
    H : Tensor of shape (B * T, d)
    """
    import torch
    import torch.nn.functional as F

    B, T = ids.shape
    d = w["E"].shape[1]
    dh = d // n_heads
    valid = ids >= 0
    X = w["E"][ids.clamp(min=0)] * (d ** 0.5) + w["P"][max_len - T :]
    X = X * valid[:, :, None].to(X.dtype)
    X = _drop(X, dropout, gen)
    causal = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()
    # a query that sees no key (left padding) attends to nothing in the CPU kernel (zero
    # output); SDPA would give NaN, so such rows see every key and are zeroed afterwards
    mask = valid[:, None, None, :] & causal
    seen_any = mask.any(dim=-1, keepdim=True)
    mask = mask | ~seen_any
    for b in range(sum(1 for name, _ in w.items() if name.endswith(".g1"))):
        p = {k: w[f"{b}.{k}"] for k in _BLOCK}
        a = F.layer_norm(X, (d,), p["g1"], p["b1"], LN_EPS)
        qkv = (a @ p["Wqkv"] + p["bqkv"]).view(B, T, 3, n_heads, dh).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        o = o * seen_any.to(o.dtype)
        o = o.transpose(1, 2).reshape(B, T, d)
        X = X + _drop(o @ p["Wo"] + p["bo"], dropout, gen)
        f = F.layer_norm(X, (d,), p["g2"], p["b2"], LN_EPS)
        h = _drop(torch.relu(f @ p["W1"] + p["c1"]), dropout, gen)
        X = X + _drop(h @ p["W2"] + p["c2"], dropout, gen)
    return F.layer_norm(X, (d,), w["gf"], w["bf"], LN_EPS).reshape(B * T, d)


def torch_loss(w: dict, H: Any, targets: Any, n_negatives: int | None, gen: Any) -> Any:
    """Mean cross-entropy over positions with a target (full or sampled softmax).

    Parameters
    ----------
    w : dict of str to Tensor
    H : Tensor of shape (B * T, d)
    targets : Tensor of shape (B * T,), int64
        -1 where there is no target.
    n_negatives : int or None
    gen : torch.Generator
        Draws the negatives.

    Returns
    -------
    loss : Tensor (scalar)
    """
    import torch
    import torch.nn.functional as F

    rows = targets >= 0
    Hv, y = H[rows], targets[rows]
    E = w["E"]
    if n_negatives is None:
        return F.cross_entropy(Hv @ E.T, y)
    neg = torch.randint(0, E.shape[0], (n_negatives,), generator=gen, device=H.device)
    pos = (Hv * E[y]).sum(dim=1, keepdim=True)
    negl = Hv @ E[neg].T
    negl = torch.where(neg[None, :] == y[:, None], torch.full_like(negl, float(_MASKED)), negl)
    logits = torch.cat([pos, negl], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(y), dtype=torch.long, device=H.device))


def train_torch(est: Any, flat: np.ndarray, ids: np.ndarray, targets: np.ndarray, tptr: np.ndarray,
                titems: np.ndarray, val_users: np.ndarray | None, n_negatives: int | None,
                rng: np.random.RandomState, epoch_rows: Any = None) -> np.ndarray:
    """Train ``est``'s network through torch; returns the trained flat weights (NumPy).

    Fills ``est.history_``, ``best_epoch_``, ``n_iter_`` and ``fit_time_`` as the CPU loop
    does, with the same early stopping on the validation tail.

    Parameters
    ----------
    est : SASRec
    flat : ndarray of shape (n_params,), float32
        Initial weights.
    ids, targets : ndarray of shape (n_windows, max_len), int64
    tptr, titems : ndarray
        Training sequences (validation items removed), for the validation scores.
    val_users : ndarray or None
    n_negatives : int or None
    rng : RandomState
    epoch_rows : callable, optional
        Called once per epoch; returns the rows of ``ids`` to train on (the ``windows``
        choice). Every row when omitted.

    Returns
    -------
    params : ndarray of shape (n_params,), float32
    """
    import time

    import torch

    from ._sasrec_net import SASRecNet

    dev = torch_device(est.device_)
    layout = param_layout(est.n_items_, est.n_factors, est.n_blocks, est.max_len)
    p = torch.tensor(flat, device=dev, requires_grad=True)
    opt = torch.optim.Adam([p], lr=est.learning_rate, betas=(0.9, 0.98), eps=1e-8,
                           weight_decay=est.weight_decay)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(rng.randint(0, 2**31 - 1)))
    ids_d = torch.as_tensor(ids, device=dev)
    tg_d = torch.as_tensor(targets, device=dev)
    lengths = (ids_d >= 0).sum(dim=1)
    L = est.max_len
    host = flat.copy()
    cpu_net = SASRecNet(est.n_items_, est.n_factors, est.n_blocks, est.n_heads, L, est.dropout,
                        "auto", host)
    best, best_flat, bad = -np.inf, host.copy(), 0
    t0 = time.perf_counter()
    for epoch in range(1, est.max_iter + 1):
        rows = torch.as_tensor(epoch_rows() if epoch_rows is not None else np.arange(len(ids)), device=dev)
        order = rows[torch.randperm(len(rows), generator=gen, device=dev)]
        total = torch.zeros((), device=dev, dtype=torch.float64)
        count = 0
        for s in range(0, len(order), est.batch_size):
            idx = order[s : s + est.batch_size]
            T = max(1, int(lengths[idx].max()))
            bi, bt = ids_d[idx, L - T :], tg_d[idx, L - T :].reshape(-1)
            w = _views(p, layout)
            H = torch_forward(w, bi, est.n_heads, L, est.dropout, gen)
            loss = torch_loss(w, H, bt, n_negatives, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n_t = int((bt >= 0).sum())
            total += loss.detach().double() * n_t
            count += n_t
        mean_loss = float(total) / max(count, 1)
        host[...] = p.detach().cpu().numpy()
        score = est._val_ndcg(cpu_net, tptr, titems, val_users) if val_users is not None else float("nan")
        est.history_["loss"].append(mean_loss)
        est.history_["val_ndcg"].append(float(score))
        est.n_iter_ = epoch
        est._report(epoch, mean_loss, score)
        if val_users is None:
            est.best_epoch_ = epoch
            continue
        if score > best:
            best, bad, est.best_epoch_ = score, 0, epoch
            best_flat[...] = host
        else:
            bad += 1
            if bad >= est.n_iter_no_change:
                break
    est.fit_time_ = time.perf_counter() - t0
    if val_users is not None and est.best_epoch_ > 0:
        host[...] = best_flat
    return host
