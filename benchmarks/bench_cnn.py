"""CNN: maaskit's conv2d/pool kernels and CNNClassifier epoch against torch on the CPU.

1. Layer fwd+bwd: conv(1->32, 3x3, pad 1) + relu + maxpool 2 + conv(32->64, 3x3, pad 1) +
   relu + maxpool 2 on a batch of 64 28x28 images, forward and backward (gradients of all
   weights and of the inner activations), per maaskit backend vs torch autograd
   (``torch.set_num_threads(2)``). Median of ``--reps`` runs after a warm-up.
2. Whole epoch: CNNClassifier(filters=(32, 64), hidden (128,), Adam, batch 64) over N MNIST
   test images (generated images when the data is missing) vs the same model in a
   hand-written torch loop (same batch order, Adam), wall-clock seconds for one epoch.

Usage::

    python benchmarks/bench_cnn.py            # 5,000-image epoch, 20 reps
    python benchmarks/bench_cnn.py --quick    # 1,024-image epoch, 5 reps
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

import numpy as np

from maaskit.datasets import find_data_home, load_mnist
from maaskit.neural_network import CNNClassifier
from maaskit.neural_network._layers import Conv2D, Flatten, MaxPool2D, Network


def images(n):
    home = find_data_home("mnist-test/t10k-images-idx3-ubyte.gz")
    if home is not None:
        X, y = load_mnist("mnist-test", data_home=home)
        return X[:n, None].astype(np.float32) / 255, y[:n].astype(np.int64), "MNIST test"
    rng = np.random.RandomState(0)
    return rng.rand(n, 1, 28, 28).astype(np.float32), rng.randint(0, 10, n), "generated"


def layers_maaskit(backend, x, reps):
    net = Network([Conv2D(32, 3, 1, 1), MaxPool2D(2), Conv2D(64, 3, 1, 1), MaxPool2D(2), Flatten()],
                  (1, 28, 28), np.float32)
    net.init_params(np.random.RandomState(0))
    net.bind({"conv2d": backend, "pool": backend, "dense": backend})
    dout = np.ones((x.shape[0], 64 * 7 * 7), np.float32)
    # the first layer needs no input gradient (like torch with x.requires_grad=False)
    times = []
    for _ in range(reps + 2):
        t = time.perf_counter()
        net.forward(x, True)
        net.backward(dout)
        times.append(time.perf_counter() - t)
    return float(np.median(times[2:]))


def layers_torch(x, reps):
    import torch
    import torch.nn.functional as F

    xt = torch.from_numpy(x)
    w1 = torch.randn(32, 1, 3, 3, requires_grad=True)
    b1 = torch.zeros(32, requires_grad=True)
    w2 = torch.randn(64, 32, 3, 3, requires_grad=True) * 0.1
    w2 = w2.detach().requires_grad_()
    b2 = torch.zeros(64, requires_grad=True)
    times = []
    for _ in range(reps + 2):
        t = time.perf_counter()
        h = F.max_pool2d(torch.relu(F.conv2d(xt, w1, b1, padding=1)), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, w2, b2, padding=1)), 2)
        h.sum().backward()
        times.append(time.perf_counter() - t)
        for p in (w1, b1, w2, b2):
            p.grad = None
    return float(np.median(times[2:]))


def epoch_torch(X, y, order, bs):
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    t = time.perf_counter()
    idx = torch.from_numpy(order)
    Xs, ys = Xt[idx], yt[idx]
    for s in range(0, len(X), bs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(Xs[s:s + bs]), ys[s:s + bs])
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    reps = args.reps or (5 if args.quick else 20)
    n = args.n or (1024 if args.quick else 5000)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"# bench_cnn  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}  "
          f"loadavg before={os.getloadavg()}  torch threads={torch.get_num_threads()}")
    X, y, source = images(max(n, 64))
    x64 = np.ascontiguousarray(X[:64])
    t_torch = layers_torch(x64, reps)
    print("\n## conv(1->32)+pool+conv(32->64)+pool fwd+bwd, batch 64, 28x28 (median ms)")
    print("| impl | ms | ratio vs torch (<= 1.3 is the target) |")
    print("|---|---|---|")
    print(f"| torch | {1e3 * t_torch:.2f} | 1.00 |")
    for backend in ("cython", "numba", "numpy"):
        t = layers_maaskit(backend, x64, reps if backend != "numpy" else max(2, reps // 4))
        print(f"| maaskit {backend} | {1e3 * t:.2f} | {t / t_torch:.2f} |")

    print(f"\n## one CNN epoch, {n} {source} images, batch 64, Adam (s)")
    order = np.random.RandomState(0).permutation(n).astype(np.int64)
    Xn, yn = np.ascontiguousarray(X[:n]), y[:n]
    epoch_torch(Xn[:128], yn[:128], order[order < 128], 64)  # warm-up
    tt = epoch_torch(Xn, yn, order, 64)
    print("| impl | s | ratio vs torch |")
    print("|---|---|---|")
    print(f"| torch | {tt:.2f} | 1.00 |")
    for backend in ("cython", "numba"):
        kw = dict(filters=(32, 64), hidden_layer_sizes=(128,), batch_size=64, max_iter=1, random_state=0,
                  backend=backend, tol=0)
        CNNClassifier(**kw).fit(Xn[:128], yn[:128])  # warm-up / JIT
        t = time.perf_counter()
        clf = CNNClassifier(**kw).fit(Xn, yn)
        t = time.perf_counter() - t
        print(f"| maaskit {backend} (loss {clf.loss_:.3f}) | {t:.2f} | {t / tt:.2f} |")
    print(f"\nloadavg after={os.getloadavg()}")


if __name__ == "__main__":
    main()
