"""Bayesian personalised ranking by SGD: the NumPy oracle for the ``bpr`` kernel.

One epoch draws ``nnz`` triples ``(u, i, j)``: a stored interaction ``(u, i)`` uniformly
from the CSR matrix and a negative item ``j`` uniformly from all items (redrawn up to
``_MAX_TRIES`` times while ``u`` has interacted with it when ``verify_negative`` is set;
the triple is skipped if every draw hits). Each triple takes one SGD step on

    -log sigmoid(x_u . (y_i - y_j)) + regularization / 2 * (|x_u|^2 + |y_i|^2 + |y_j|^2),

where the last coordinate of ``x_u`` is a constant 1 (never updated) and the last
coordinate of ``y`` the item bias. The samples are cut into ``n_threads`` contiguous
chunks; chunk ``t`` uses its own xorshift64* stream seeded by splitmix64 from ``seed`` and
``t``. The compiled kernels run the chunks in parallel (Hogwild); with ``n_threads=1`` all
backends draw the same triples in the same order.

Index safety: User/item indices (the interaction CSR, and negatives drawn by the kernel's own
RNG in ``[0, n_items)``) are not checked here. They are reachable only through validated state:
the CSR is built from the id index, and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MAX_TRIES = 10


def _splitmix64(z: int) -> int:
    z = (z + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _seed_state(seed: int, t: int) -> int:
    s = _splitmix64((seed + (t + 1) * _GOLDEN) & _MASK)
    return s if s else _GOLDEN


class _XorShift:
    def __init__(self, state: int) -> None:
        self.x = state

    def draw(self, n: int) -> int:
        x = self.x
        x ^= x >> 12
        x ^= (x << 25) & _MASK
        x ^= x >> 27
        self.x = x
        r = (x * 0x2545F4914F6CDD1D) & _MASK
        return ((r >> 32) * n) >> 32


def _triple_loss(x, yi, yj, regularization):
    """Loss of one triple (float64), whose gradient the SGD step follows (``x[-1]`` is fixed)."""
    s = x @ (yi - yj)
    return float(np.logaddexp(0.0, -s) + 0.5 * regularization * (x[:-1] @ x[:-1] + yi @ yi + yj @ yj))


def bpr_epoch(indptr, indices, row_of, X, Y, learning_rate, regularization, seed,
              verify_negative, update_items, n_threads, stats):
    """Run one epoch of BPR SGD in place.

    Parameters
    ----------
    indptr : ndarray of shape (n_rows + 1,), int64
        CSR row pointer of the positive interactions (sorted column indices per row).
    indices : ndarray of shape (nnz,), int32
        Item of every interaction.
    row_of : ndarray of shape (nnz,), int32
        Row (user) of every interaction.
    X : ndarray of shape (n_rows, k + 1), float32 or float64
        User factors; the last column is the constant 1.
    Y : ndarray of shape (n_items, k + 1), same dtype
        Item factors; the last column is the item bias.
    learning_rate, regularization : float
    seed : int
        In ``[0, 2**64)``.
    verify_negative : bool
        Redraw negatives the user has interacted with.
    update_items : bool
        When False, only ``X`` is updated (fold-in of users with items fixed).
    n_threads : int
        Number of sample chunks (and threads in the compiled kernels).
    stats : ndarray of shape (2,), int64
        Output: triples ranked correctly before their step, and triples skipped.
    """
    nnz = len(indices)
    n_items = Y.shape[0]
    k = X.shape[1] - 1
    dt = X.dtype.type
    lr, reg = dt(learning_rate), dt(regularization)
    correct = skipped = 0
    n_threads = max(1, int(n_threads))
    for t in range(n_threads):
        rng = _XorShift(_seed_state(int(seed), t))
        for _ in range(t * nnz // n_threads, (t + 1) * nnz // n_threads):
            pos = rng.draw(nnz)
            u, i = row_of[pos], indices[pos]
            liked = indices[indptr[u]:indptr[u + 1]]
            j = rng.draw(n_items)
            if verify_negative:
                tries = 1
                while tries < _MAX_TRIES and j in liked:
                    j = rng.draw(n_items)
                    tries += 1
                if j in liked:
                    skipped += 1
                    continue
            x, yi, yj = X[u], Y[i], Y[j]
            diff = yi - yj
            score = x @ diff
            z = dt(1.0 / (1.0 + np.exp(np.float64(score))))
            if score > 0:
                correct += 1
            xu = x[:k].copy()
            x[:k] += lr * (z * diff[:k] - reg * x[:k])
            if update_items:
                yi[:k] += lr * (z * xu - reg * yi[:k])
                yj[:k] += lr * (-z * xu - reg * yj[:k])
                yi[k] += lr * (z - reg * yi[k])
                yj[k] += lr * (-z - reg * yj[k])
    stats[0] = correct
    stats[1] = skipped
