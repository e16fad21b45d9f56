"""MLP training: maaskit MLPClassifier against sklearn's MLPClassifier and a hand-written torch loop.

Same model everywhere: one hidden layer of 128 relu units, softmax output, Adam (lr 1e-3,
betas 0.9/0.999), batch 200, shuffling every epoch, float32 inputs in [0, 1], 75/25 split.
All three run in one process. Two measures:

* fixed budget: ``--epochs`` epochs (200 by default, sklearn's ``max_iter``), wall-clock fit
  time and test accuracy;
* time to equal accuracy: every learner trains in chunks of ``--chunk`` epochs (test
  accuracy is checked between chunks, outside the timer) until it reaches sklearn's final
  accuracy; the training time spent until then is reported. Each chunk continues the same
  run with the optimizer state kept: maaskit's warm-start ``fit`` and the torch loop do
  that; sklearn's warm-start ``fit`` restarts Adam, so sklearn continues with
  ``partial_fit`` (one call per epoch, its incremental API).

Both are repeated for ``--seeds`` random seeds (initialisation and shuffling; the split is
fixed). One test digit is 0.22% of accuracy, so with a single seed "time to sklearn's
accuracy" mostly measures which learner drew the luckier initialisation. The target is
sklearn's median final accuracy over the seeds, and the table gives medians (and the
per-seed range of the to-accuracy ratio).

Data: sklearn's digits, and the MNIST test images (8,000 train / 2,000 test) from
``MAASKIT_DATA`` or ``../shared/data`` when present. Numba/torch are warmed up first.

Usage::

    python benchmarks/bench_mlp.py            # digits + MNIST, 200 epochs
    python benchmarks/bench_mlp.py --quick    # digits only, 50 epochs
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from maaskit.datasets import find_data_home, load_mnist
from maaskit.neural_network import MLPClassifier

HIDDEN = 128
LR = 1e-3
BATCH = 200


def datasets(quick: bool):
    X, y = load_digits(return_X_y=True)
    out = [("digits", *train_test_split((X / 16).astype(np.float32), y, test_size=0.25, random_state=0))]
    if quick:
        return out
    home = find_data_home("mnist-test/t10k-images-idx3-ubyte.gz")
    if home is not None:
        Xm, ym = load_mnist("mnist-test", data_home=home)
        Xm = Xm.reshape(len(Xm), -1).astype(np.float32) / 255
        out.append(("mnist-test", Xm[:8000], Xm[8000:], ym[:8000], ym[8000:]))
    return out


class Sk:
    name = "sklearn"

    def __init__(self, seed):
        from sklearn.neural_network import MLPClassifier as SkMLP

        self.m = SkMLP((HIDDEN,), learning_rate_init=LR, batch_size=BATCH, max_iter=1, tol=0,
                       n_iter_no_change=10**9, random_state=seed, warm_start=True)

    def train(self, X, y, epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.m.set_params(max_iter=epochs)
            self.m.fit(X, y)

    def train_more(self, X, y, epochs):
        # sklearn's warm-start fit() builds a new Adam optimizer on every call (moments and
        # bias correction restart), so chunked fit() calls are not the run that fit() makes
        # in one go; partial_fit() keeps the optimizer: one call per epoch
        classes = np.unique(y)
        for _ in range(epochs):
            self.m.partial_fit(X, y, classes=classes)

    def score(self, X, y):
        return self.m.score(X, y)


class Mk:
    name = "maaskit"

    def __init__(self, seed, backend="auto"):
        # sklearn's alpha (1e-4 by default) is divided by the batch size before it reaches the
        # gradient; maaskit's alpha is torch's weight decay, used as given: the same objective
        # needs alpha = 1e-4 / BATCH here
        self.m = MLPClassifier((HIDDEN,), learning_rate_init=LR, batch_size=BATCH, max_iter=1, tol=0,
                               alpha=1e-4 / BATCH, n_iter_no_change=10**9, random_state=seed,
                               warm_start=True, backend=backend)

    def train(self, X, y, epochs):
        self.m.set_params(max_iter=epochs)
        self.m.fit(X, y)

    def score(self, X, y):
        return self.m.score(X, y)


class Torch:
    name = "torch"

    def __init__(self, seed):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.net = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
        self.opt = None
        self.g = torch.Generator().manual_seed(seed)

    def train(self, X, y, epochs):
        torch = self.torch
        if self.opt is None:
            d = X.shape[1]
            self.net = torch.nn.Sequential(torch.nn.Linear(d, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
            self.opt = torch.optim.Adam(self.net.parameters(), lr=LR)
            self.Xt = torch.from_numpy(X)
            self.yt = torch.from_numpy(y.astype(np.int64))
        n = len(X)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=self.g)
            Xs, ys = self.Xt[perm], self.yt[perm]
            for s in range(0, n, BATCH):
                self.opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(self.net(Xs[s:s + BATCH]), ys[s:s + BATCH])
                loss.backward()
                self.opt.step()

    def score(self, X, y):
        with self.torch.no_grad():
            return float((self.net(self.torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def fixed_budget(make, Xtr, ytr, Xte, yte, epochs):
    m = make()
    t = time.perf_counter()
    m.train(Xtr, ytr, epochs)
    return time.perf_counter() - t, m.score(Xte, yte)


def time_to_accuracy(make, Xtr, ytr, Xte, yte, target, chunk, max_epochs):
    m = make()
    spent, epochs = 0.0, 0
    more = getattr(m, "train_more", m.train)  # continue training with optimizer state kept
    while epochs < max_epochs:
        t = time.perf_counter()
        more(Xtr, ytr, chunk)
        spent += time.perf_counter() - t
        epochs += chunk
        if m.score(Xte, yte) >= target:
            return spent, epochs
    return float("nan"), epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    epochs = args.epochs or (50 if args.quick else 200)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"# bench_mlp  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}  "
          f"loadavg before={os.getloadavg()}  torch threads={torch.get_num_threads()}  seeds={args.seeds}")
    seeds = range(args.seeds)
    for name, Xtr, Xte, ytr, yte in datasets(args.quick):
        makers = {"sklearn": Sk, "maaskit": lambda seed: Mk(seed, args.backend), "torch": Torch}
        # warm-up (numba compile, torch init): not timed
        for mk in makers.values():
            mk(0).train(Xtr[:400], ytr[:400], 1)
        res = {k: [fixed_budget(lambda: mk(seed), Xtr, ytr, Xte, yte, epochs) for seed in seeds]
               for k, mk in makers.items()}
        target = float(np.median([acc for _, acc in res["sklearn"]]))
        tta = {k: [time_to_accuracy(lambda: mk(seed), Xtr, ytr, Xte, yte, target, args.chunk, 4 * epochs)
                   for seed in seeds] for k, mk in makers.items()}
        med = {k: float(np.median([t for t, _ in v])) for k, v in res.items()}
        # a learner that never reaches the target in a seed counts as infinitely slow there
        tta_t = {k: np.array([t if np.isfinite(t) else np.inf for t, _ in v]) for k, v in tta.items()}
        med_tta = {k: float(np.median(v)) for k, v in tta_t.items()}
        print(f"\n## {name}: {len(Xtr)} train / {len(Xte)} test, {epochs} epochs, "
              f"target acc {target:.4f} (sklearn's median)")
        print("| learner | fit s | acc | s/epoch | time to acc>=target (epochs) | maaskit speed-up |")
        print("|---|---|---|---|---|---|")
        for k in makers:
            acc = float(np.median([a for _, a in res[k]]))
            eps = int(np.median([e for _, e in tta[k]]))
            ratio = med[k] / med["maaskit"]
            with np.errstate(invalid="ignore"):
                per_seed = tta_t[k] / tta_t["maaskit"]
            per_seed = per_seed[~np.isnan(per_seed)]
            rng_txt = f"{per_seed.min():.2f}-{per_seed.max():.2f}" if len(per_seed) else "-"
            reached = int(np.isfinite(tta_t[k]).sum())
            t2 = f"{med_tta[k]:.3f} s ({eps})" if np.isfinite(med_tta[k]) else f"not reached ({eps})"
            if reached < len(seeds):
                t2 += f", reached in {reached}/{len(seeds)} seeds"
            print(f"| {k} | {med[k]:.3f} | {acc:.4f} | {1e3 * med[k] / epochs:.2f} ms | {t2} | "
                  f"{ratio:.2f}x fixed, {med_tta[k] / med_tta['maaskit']:.2f}x to-accuracy "
                  f"(seeds {rng_txt}) |")
    print(f"\nloadavg after={os.getloadavg()}")


if __name__ == "__main__":
    main()
