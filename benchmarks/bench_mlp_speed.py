"""MLPClassifier fit time against scikit-learn's, side by side: interleaved, best of several.

The issue-17 measure: digits (1,347 train / 450 test), one hidden layer of 128 relu units,
200 epochs, Adam lr 1e-3, batch 200, no early stopping, the same objective on both sides
(maaskit's ``alpha`` is sklearn's L2 divided by the batch size, as sklearn applies it). Two
thread settings, each applied to both libraries: the default (whatever the BLAS and Numba
pools give) and one thread (threadpoolctl limits every BLAS/OpenMP pool to 1, Numba's pool too).
Within a setting the two fits alternate, the order flipping every repeat, and each keeps its
best time; accuracy on the test quarter is printed next to the time.

On a machine shared with other jobs only these same-run ratios mean anything.

Usage::

    python benchmarks/bench_mlp_speed.py              # 5 repeats per setting
    python benchmarks/bench_mlp_speed.py --repeats 9
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_limits

from maaskit.neural_network import MLPClassifier

EPOCHS, HIDDEN, LR, BATCH = 200, 128, 1e-3, 200


def ours(seed: int) -> MLPClassifier:
    return MLPClassifier((HIDDEN,), learning_rate_init=LR, batch_size=BATCH, max_iter=EPOCHS, tol=0,
                         alpha=1e-4 / BATCH, n_iter_no_change=10**9, random_state=seed)


def theirs(seed: int) -> SkMLP:
    return SkMLP((HIDDEN,), learning_rate_init=LR, batch_size=BATCH, max_iter=EPOCHS, tol=0,
                 n_iter_no_change=10**9, random_state=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split((X / 16).astype(np.float32), y, test_size=0.25, random_state=0)
    ours(0).set_params(max_iter=2).fit(Xtr, ytr)  # Numba cache load / compile, untimed
    import numba

    print("| threads | maaskit fit s | maaskit acc | sklearn fit s | sklearn acc | speed-up |")
    print("|---|---|---|---|---|---|")
    for setting in ("default", "one"):
        limits = threadpool_limits(1) if setting == "one" else None
        old_nb = numba.get_num_threads()
        if limits is not None:
            numba.set_num_threads(1)
        try:
            best = {"maaskit": np.inf, "sklearn": np.inf}
            acc = {}
            for rep in range(args.repeats):
                jobs = [("maaskit", ours), ("sklearn", theirs)]
                for name, make in (jobs if rep % 2 == 0 else jobs[::-1]):
                    model = make(0)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        t = time.perf_counter()
                        model.fit(Xtr, ytr)
                        best[name] = min(best[name], time.perf_counter() - t)
                    acc[name] = model.score(Xte, yte)
        finally:
            if limits is not None:
                limits.restore_original_limits()
                numba.set_num_threads(old_nb)
        print(f"| {setting} | {best['maaskit']:.3f} | {acc['maaskit']:.4f} | {best['sklearn']:.3f} | "
              f"{acc['sklearn']:.4f} | {best['sklearn'] / best['maaskit']:.2f}x |", flush=True)
    print(f"best of {args.repeats} interleaved fits per setting; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
