"""CUDA path: maaskit's captured training engine against plain eager torch on the same GPU.

Issue 3's GPU tables. At these model sizes eager torch on a GPU is launch-bound, so the
interesting comparison is maaskit ``device="cuda"`` (data resident on the device, whole
steps captured in CUDA graphs) against the hand-written eager torch loop every user would
write, on the same device, in one process; torch on 2 CPU threads is printed beside them.

Workloads (same model, optimizer, batch size and epoch count on every side):

* MLP on digits: 64-128-10, Adam 1e-3, batch 200, 200 epochs (``--quick``: 50);
* MLP on a 60k x 784 generated set, batch 128, 5 epochs;
* CNN epoch on 8,192 generated 28x28 images: conv(16, 3x3) + maxpool 2 + conv(32, 3x3) +
  maxpool 2 + dense 64 + 10, batch 64, Adam (``--quick``: 2,048 images).

Usage: ``python benchmarks/bench_cuda.py [--quick]`` on a machine with a CUDA GPU; without
one it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

from maaskit.neural_network import CNNClassifier, MLPClassifier


def _sync(torch):
    torch.cuda.synchronize()


def torch_mlp(torch, d, hidden, k):
    return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k))


def torch_cnn(torch, k):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, k))


def eager_torch(torch, net, X, y, epochs, batch, device, seed=0):
    """The plain training loop: data moved to ``device`` once, shuffled there each epoch."""
    torch.manual_seed(seed)
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y.astype(np.int64), device=device)
    n = len(X)
    if device == "cuda":
        _sync(torch)
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, device=device)
        Xs, ys = Xt[perm], yt[perm]
        for s in range(0, n, batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(Xs[s:s + batch]), ys[s:s + batch])
            loss.backward()
            opt.step()
    if device == "cuda":
        _sync(torch)
    return time.perf_counter() - t


def maaskit_fit(make, X, y):
    est = make()
    t = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t


def row(name, t_mk, t_eager, t_cpu):
    return (f"| {name} | {t_mk:.3f} | {t_eager:.3f} | {t_cpu:.3f} | {t_mk / t_eager:.2f}x | "
            f"{t_mk / t_cpu:.2f}x |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("bench_cuda: no CUDA device here; run it on a machine with a GPU.")
        return 2
    torch.set_num_threads(2)
    print(f"# bench_cuda  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}  "
          f"device={torch.cuda.get_device_name()}  torch={torch.__version__}  cpu threads=2  "
          f"loadavg={os.getloadavg()}")
    print("\n| workload | maaskit cuda s | eager torch cuda s | torch cpu s | vs eager cuda | vs torch cpu |")
    print("|---|---|---|---|---|---|")

    rng = np.random.default_rng(0)
    Xd, yd = load_digits(return_X_y=True)
    Xd = (Xd / 16).astype(np.float32)
    epochs = 50 if args.quick else 200
    n_big = 15_000 if args.quick else 60_000
    Xb = rng.random((n_big, 784), dtype=np.float32)
    yb = (Xb[:, :392].sum(1) > Xb[:, 392:].sum(1)).astype(np.int64) + 2 * (Xb[:, 0] > 0.5)
    n_img = 2048 if args.quick else 8192
    Xi = rng.random((n_img, 1, 28, 28), dtype=np.float32)
    yi = (Xi[:, 0, :14].mean((1, 2)) > Xi[:, 0, 14:].mean((1, 2))).astype(np.int64)

    work = [
        (f"MLP digits, {epochs} epochs, batch 200", Xd, yd, epochs, 200,
         lambda: torch_mlp(torch, 64, 128, 10),
         lambda: MLPClassifier((128,), batch_size=200, max_iter=epochs, tol=0, n_iter_no_change=10**9,
                               random_state=0, device="cuda")),
        (f"MLP {n_big}x784, 5 epochs, batch 128", Xb, yb, 5, 128,
         lambda: torch_mlp(torch, 784, 128, 4),
         lambda: MLPClassifier((128,), batch_size=128, max_iter=5, tol=0, n_iter_no_change=10**9,
                               random_state=0, device="cuda")),
        (f"CNN {n_img} images 28x28, 1 epoch, batch 64", Xi, yi, 1, 64,
         lambda: torch_cnn(torch, 2),
         lambda: CNNClassifier((16, 32), 3, hidden_layer_sizes=(64,), batch_size=64, max_iter=1,
                               tol=0, random_state=0, device="cuda")),
    ]
    for name, X, y, ep, bs, make_net, make_mk in work:
        # warm-up: CUDA context, cuBLAS/cuDNN handles, numba/torch first calls; not timed
        maaskit_fit(make_mk, X[: 4 * bs], y[: 4 * bs])
        eager_torch(torch, make_net(), X[: 4 * bs], y[: 4 * bs], 1, bs, "cuda")
        t_mk = min(maaskit_fit(make_mk, X, y) for _ in range(2))
        t_eager = min(eager_torch(torch, make_net(), X, y, ep, bs, "cuda") for _ in range(2))
        t_cpu = eager_torch(torch, make_net(), X, y, ep, bs, "cpu")
        print(row(name, t_mk, t_eager, t_cpu), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
