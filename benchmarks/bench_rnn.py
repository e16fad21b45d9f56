"""rnn kernel: Cython vs Numba per kernel call and per GRU classifier epoch.

Usage: ``python benchmarks/bench_rnn.py [--quick]``.

Part 1 times one forward+backward of each cell on a mini-batch (float32, time-major), best
of ``repeat``. Part 2 times GRU RNNClassifier training (the bench_attention part 2 row) with
backend="cython" and backend="numba"; the same GRU against a torch nn.GRU loop is part 2 of
``bench_attention.py``. JIT warm-up is
done before timing. ``--quick`` shrinks sizes. Prints load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np

from threadpoolctl import threadpool_limits

from maaskit._backend import get_kernel

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _best(fn, repeat):
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def kernel_call(mod, cell, T, B, H, dt=np.float32):
    rng = np.random.RandomState(0)
    G = GATES[cell] * H
    xw = rng.randn(T, B, G).astype(dt)
    w = (rng.randn(G, H) / np.sqrt(H)).astype(dt)
    h0 = np.zeros((B, H), dt)
    lengths = rng.randint(T // 2, T + 1, size=B).astype(np.int64)
    hs = np.empty((T, B, H), dt)
    dhs = rng.randn(T, B, H).astype(dt)
    dxw, dw, dh0 = np.empty_like(xw), np.empty_like(w), np.empty_like(h0)
    gates = np.empty((T, B, 4 * H), dt)
    cs = np.empty((T, B, H), dt)
    bh = np.zeros(G, dt)
    if cell == "rnn":
        def f():
            mod.rnn_forward(xw, w, h0, lengths, hs)
            mod.rnn_backward(dhs, w, h0, lengths, hs, dxw, dw, dh0)
    elif cell == "gru":
        def f():
            mod.gru_forward(xw, w, bh, h0, lengths, hs, gates)
            mod.gru_backward(dhs, w, h0, lengths, hs, gates, dxw, dw, bh.copy(), dh0)
    else:
        def f():
            mod.lstm_forward(xw, w, h0, h0, lengths, hs, cs, gates)
            mod.lstm_backward(dhs, w, h0, h0, lengths, hs, cs, gates, dxw, dw, dh0,
                              np.empty_like(h0))
    return f


def gru_epochs(n, T, d, hidden, epochs, bs):
    from maaskit.neural_network import RNNClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(n, T, d).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    kw = dict(hidden_size=hidden, batch_size=bs, learning_rate_init=0.005, random_state=0,
              tol=0.0, n_iter_no_change=10**6, device="cpu")
    out = {}
    for backend in ("cython", "numba"):
        # the estimator holds BLAS to one thread during fit itself (per-step GEMMs are small)
        RNNClassifier("gru", max_iter=1, backend=backend, **kw).fit(X[:bs], y[:bs])
        t0 = time.perf_counter()
        clf = RNNClassifier("gru", max_iter=epochs, backend=backend, **kw).fit(X, y)
        out[backend] = ((time.perf_counter() - t0) / epochs, clf.score(X, y), clf.backend_["rnn"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeat = 5 if args.quick else 20
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  loadavg={os.getloadavg()}  "
          f"cpus={os.cpu_count()}")
    cy, nb = get_kernel("rnn", "cython"), get_kernel("rnn", "numba")
    shapes = [(30, 64, 64)] if args.quick else [(30, 64, 64), (30, 256, 128), (50, 32, 32)]
    for blas1 in (False, True):
        print(f"\nfloat32 forward+backward, BLAS threads: {'1' if blas1 else 'default'}")
        print("| cell | T,B,H | cython ms | numba ms | numba/cython |")
        print("|---|---|---|---|---|")
        ctx = threadpool_limits(1, user_api="blas") if blas1 else contextlib.nullcontext()
        with ctx:
            for T, B, H in shapes:
                for cell in GATES:
                    tc = _best(kernel_call(cy, cell, T, B, H), repeat)
                    tn = _best(kernel_call(nb, cell, T, B, H), repeat)
                    print(f"| {cell} | {T},{B},{H} | {tc * 1e3:.3f} | {tn * 1e3:.3f} "
                          f"| {tn / tc:.2f} |")
    n = 1000 if args.quick else 4000
    res = gru_epochs(n, 30, 8, 64, 2 if args.quick else 3, 64)
    print(f"\nGRU RNNClassifier n={n} T=30 d=8 h=64 bs=64 (seconds per epoch)")
    print("| backend | s/epoch | ratio vs cython | train acc | backend_['rnn'] |")
    print("|---|---|---|---|---|")
    base = res["cython"][0]
    for k, (t, acc, used) in res.items():
        print(f"| {k} | {t:.3f} | {t / base:.2f} | {'' if acc is None else f'{acc:.3f}'} "
              f"| {used} |")
    print(f"\nloadavg after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
