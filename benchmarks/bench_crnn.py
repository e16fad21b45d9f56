"""CRNN: CRNNClassifier against the same network written as a torch loop, on moving digits.

The network: per frame Conv2d(1->16, 3x3, pad 1) + relu + maxpool 2 + Conv2d(16->32) + relu +
maxpool 2 + Linear(32*4*4 -> 64) + relu; a GRU(64 -> 64) over the frames; Linear(64 -> 40)
on the last state; softmax cross-entropy, Adam (lr 1e-3), batch 32, float32. Data:
``make_moving_digits`` (16x16 canvas, 8 frames, 10 digits x 4 directions = 40 classes).

Both sides are warmed up (one short fit / loop first), then timed over ``--epochs`` epochs
of the same samples in the same order; the figure is seconds per epoch, then the
prediction time for all clips. torch runs with ``torch.set_num_threads(OMP_NUM_THREADS or 2)``.

Usage::

    python benchmarks/bench_crnn.py            # 2,000 clips, 3 epochs
    python benchmarks/bench_crnn.py --quick    # 512 clips, 2 epochs
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

import numpy as np

from maaskit.datasets import make_moving_digits
from maaskit.neural_network import CRNNClassifier

T, S, BS = 8, 16, 32


class TorchCRNN:
    """The same network as a torch module (built lazily so importing this file is cheap)."""

    def __init__(self, n_classes: int):
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        self.cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU())
        self.gru = nn.GRU(64, 64, batch_first=True)
        self.head = nn.Linear(64, n_classes)
        self.params = [*self.cnn.parameters(), *self.gru.parameters(), *self.head.parameters()]

    def __call__(self, x):
        n, t = x.shape[:2]
        f = self.cnn(x.reshape(n * t, *x.shape[2:])).reshape(n, t, -1)
        _, h = self.gru(f)
        return self.head(h[0])


def torch_epochs(X, y, order, epochs):
    import torch

    net = TorchCRNN(int(y.max()) + 1)
    opt = torch.optim.Adam(net.params, lr=1e-3)
    Xt, yt = torch.from_numpy(X[:, :, None]), torch.from_numpy(y)
    idx = torch.from_numpy(order)
    t = time.perf_counter()
    for _ in range(epochs):
        Xs, ys = Xt[idx], yt[idx]
        for s in range(0, len(X), BS):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(Xs[s:s + BS]), ys[s:s + BS])
            loss.backward()
            opt.step()
    fit_s = (time.perf_counter() - t) / epochs
    t = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(X), 64):
            net(Xt[s:s + 64])
    return fit_s, time.perf_counter() - t, loss.item()


def maaskit_epochs(X, y, epochs, backend):
    kw = dict(filters=(16, 32), frame_size=64, hidden_size=64, cell="gru", batch_size=BS,
              learning_rate_init=1e-3, tol=0, random_state=0, backend=backend)
    t = time.perf_counter()
    clf = CRNNClassifier(max_iter=epochs, **kw).fit(X, y)
    fit_s = (time.perf_counter() - t) / epochs
    t = time.perf_counter()
    clf.predict(X)
    return fit_s, time.perf_counter() - t, clf.loss_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (512 if args.quick else 2000)
    epochs = args.epochs or (2 if args.quick else 3)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"# bench_crnn  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}  "
          f"loadavg before={tuple(round(v, 1) for v in os.getloadavg())}  torch threads={torch.get_num_threads()}")
    X, y = make_moving_digits(n, n_frames=T, canvas_size=S, random_state=0)
    order = np.arange(n, dtype=np.int64)  # maaskit shuffles with its own RNG; order does not change cost
    torch_epochs(X[:128], y[:128], order[:128], 1)  # warm-up
    tf, tp, tl = torch_epochs(X, y, order, epochs)
    print(f"\n## CRNN (conv16-conv32-dense64, GRU 64, 40 classes), {n} clips x {T} frames {S}x{S}, "
          f"batch {BS}, Adam, {epochs} epochs")
    print("| impl | s / epoch | ratio vs torch (<= 1.0 target) | predict all s | ratio | last loss |")
    print("|---|---|---|---|---|---|")
    print(f"| torch loop | {tf:.2f} | 1.00 | {tp:.3f} | 1.00 | {tl:.3f} |")
    for backend in ("cython", "numba"):
        maaskit_epochs(X[:128], y[:128], 1, backend)  # warm-up / JIT
        mf, mp, ml = maaskit_epochs(X, y, epochs, backend)
        print(f"| maaskit {backend} | {mf:.2f} | {mf / tf:.2f} | {mp:.3f} | {mp / tp:.2f} | {ml:.3f} |")
    print(f"\nloadavg after={tuple(round(v, 1) for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
