"""GAN on digits: maaskit vs the same GAN hand-written in torch (CPU), side by side.

A class-conditional MLP GAN (z 32 + one-hot label -> 128 -> 256 -> 64 tanh; discriminator
64 + one-hot -> 256 -> 128 -> 1 logit; Adam 1e-3, betas (0.5, 0.999), batch 64) is trained on
the 1,437 training digits of a fixed 80/20 split of scikit-learn's 8x8 digits. Quality is
measured with a classifier trained on the real training split (an RBF SVC):

- *label accuracy*: the fraction of 1,000 class-conditional samples (100 per class) that the
  classifier assigns to the class they were generated for (real test digits give the ceiling,
  an untrained generator the floor, ~0.1);
- *Frechet distance* between Gaussian fits of real test digits and samples in the space of
  the first 20 principal components of the training digits (lower is better).

A 10x10 grid of maaskit samples (one row per class) is saved as ``gan_digits.png`` next to
this script (or ``--out``). Run: ``python benchmarks/bench_gan.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
from scipy import linalg
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from maaskit.neural_network._gan import GAN

LATENT, HIDDEN, LR, BATCH = 32, (128, 256), 1e-3, 64


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def write_png(path: Path, img: np.ndarray) -> None:
    """Write a 2-D uint8 array as a greyscale PNG (no imaging library needed)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def grid(samples: np.ndarray, scale: int = 6) -> np.ndarray:
    """10x10 tiles of 8x8 digits (values 0..16), upscaled, with a 1-pixel border."""
    tiles = np.clip(samples.reshape(10, 10, 8, 8) / 16.0, 0, 1)
    out = np.ones((10 * 9 + 1, 10 * 9 + 1))
    for r in range(10):
        for c in range(10):
            out[1 + r * 9: 1 + r * 9 + 8, 1 + c * 9: 1 + c * 9 + 8] = 1 - tiles[r, c]
    return (np.kron(out, np.ones((scale, scale))) * 255).astype(np.uint8)


def torch_gan(X: np.ndarray, y: np.ndarray, epochs: int, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    lo, hi = X.min(0), X.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    Xs = torch.tensor(2 * (X - lo) / span - 1, dtype=torch.float32)
    Y = torch.nn.functional.one_hot(torch.tensor(y), 10).float()
    G = nn.Sequential(nn.Linear(LATENT + 10, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]),
                      nn.ReLU(), nn.Linear(HIDDEN[1], 64), nn.Tanh())
    D = nn.Sequential(nn.Linear(64 + 10, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]),
                      nn.ReLU(), nn.Linear(HIDDEN[0], 1))
    og = torch.optim.Adam(G.parameters(), LR, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), LR, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    n = len(Xs)
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n - BATCH + 1, BATCH):
            idx = perm[s:s + BATCH]
            xb, cb = Xs[idx], Y[idx]
            fake = G(torch.cat([torch.randn(BATCH, LATENT), cb], 1)).detach()
            ld = bce(D(torch.cat([xb, cb], 1)), ones) + bce(D(torch.cat([fake, cb], 1)), zeros)
            od.zero_grad()
            ld.backward()
            od.step()
            fake = G(torch.cat([torch.randn(BATCH, LATENT), cb], 1))
            lg = bce(D(torch.cat([fake, cb], 1)), ones)
            og.zero_grad()
            lg.backward()
            og.step()

    def sample(labels: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            c = torch.nn.functional.one_hot(torch.tensor(labels), 10).float()
            out = G(torch.cat([torch.randn(len(labels), LATENT), c], 1)).numpy()
        return (out + 1) / 2 * span + lo

    return sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="60 epochs instead of 150")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("gan_digits.png"))
    args = ap.parse_args()
    epochs = 60 if args.quick else 150
    import torch

    torch.set_num_threads(2)
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    clf = SVC(gamma="scale").fit(Xtr, ytr)
    pca = PCA(20, random_state=0).fit(Xtr)
    labels = np.repeat(np.arange(10), 100)

    def quality(S: np.ndarray) -> tuple[float, float]:
        return float((clf.predict(S) == labels).mean()), frechet(pca.transform(Xte), pca.transform(S))

    print(f"digits: {len(Xtr)} train / {len(Xte)} test, {epochs} epochs, load {os.getloadavg()}")
    rows = []
    acc_real = float((clf.predict(Xte) == yte).mean())
    rows.append(("real test digits", "-", acc_real, frechet(pca.transform(Xte), pca.transform(Xtr))))
    untrained = GAN(LATENT, hidden_layer_sizes=HIDDEN, conditional=True, max_iter=1,
                    learning_rate_init=1e-12, random_state=0).fit(Xtr, ytr)
    rows.append(("untrained generator", "-", *quality(untrained.sample(1000, y=labels, random_state=1))))

    t0 = time.perf_counter()
    gan = GAN(LATENT, hidden_layer_sizes=HIDDEN, conditional=True, max_iter=epochs,
              learning_rate_init=LR, batch_size=BATCH, random_state=0).fit(Xtr, ytr)
    t_m = time.perf_counter() - t0
    S = gan.sample(1000, y=labels, random_state=1)
    rows.append(("maaskit GAN", f"{t_m:.2f}", *quality(S)))

    t0 = time.perf_counter()
    sample = torch_gan(Xtr, ytr, epochs, seed=0)
    t_t = time.perf_counter() - t0
    rows.append(("torch GAN (same net)", f"{t_t:.2f}", *quality(sample(labels))))

    print("| model | train s | label accuracy | Frechet distance (PCA-20) |")
    print("|---|---|---|---|")
    for name, t, acc, fd in rows:
        print(f"| {name} | {t} | {acc:.3f} | {fd:.2f} |")
    print(f"time ratio maaskit / torch: {t_m / t_t:.2f}x")
    write_png(args.out, grid(gan.sample(100, y=np.repeat(np.arange(10), 10), random_state=2)))
    print(f"sample grid: {args.out}")


if __name__ == "__main__":
    main()
