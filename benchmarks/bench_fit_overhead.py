"""Fixed overhead per fit: maaskit ALS fitted from a DataFrame of raw ids against implicit's
solver alone on a CSR matrix built beforehand (issue 18, part 4).

Both: 64 factors, 15 iterations, conjugate gradient (3 steps), 2 threads, BLAS held to one
thread, warmed up by one untimed fit; then best of ``--repeats`` fits, alternating between the
libraries. maaskit's time includes validation, id mapping and the CSR build from the frame;
implicit's does not (its CSR is built outside the timer). Also printed: maaskit fitted from the
same prebuilt CSR, which isolates the overhead of raw ids. Target: ratio <= 1.0 from 100k
interactions up.

Sets: ML-100k ratings >= 4 (55k), all ML-100k ratings (100k), and (full mode) a synthetic
implicit set of 575k interactions (``make_interactions(20_000, 5_000, 575_000)``).

Usage: ``python benchmarks/bench_fit_overhead.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

N_THREADS = 2


def _ml100k() -> pd.DataFrame:
    from maaskit.datasets import find_data_home

    home = find_data_home("ml-100k/u.data")
    if home is not None:
        return pd.read_csv(home / "ml-100k" / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    sys.exit("u.data not found: set MAASKIT_DATA to the folder holding ml-100k/")


def _csr(frame: pd.DataFrame) -> sp.csr_matrix:
    u, uid = pd.factorize(frame["user"])
    i, iid = pd.factorize(frame["item"])
    R = sp.csr_matrix((np.ones(len(frame), np.float32), (u, i)), shape=(len(uid), len(iid)))
    R.sum_duplicates()
    R.data[:] = 1.0
    return R


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="ML-100k sets only, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)

    from implicit.cpu.als import AlternatingLeastSquares

    from maaskit.recommender import ALS

    df = _ml100k()
    sets = {"ML-100k ratings >= 4": df.loc[df.rating >= 4, ["user", "item"]],
            "ML-100k all ratings": df[["user", "item"]]}
    if not args.quick:
        from maaskit.datasets import make_interactions

        syn = make_interactions(20_000, 5_000, 575_000, kind="implicit", random_state=0)
        sets["synthetic 575k"] = syn[["user", "item"]]

    print("| set | interactions | maaskit fit from raw-id frame s | maaskit fit from CSR s | "
          "implicit fit from CSR s | ratio frame / implicit | ratio CSR / implicit |")
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(1, "blas"):
        for name, frame in sets.items():
            R = _csr(frame)

            def ours(X):
                t0 = time.perf_counter()
                ALS(64, max_iter=15, random_state=0, n_jobs=N_THREADS).fit(X)
                return time.perf_counter() - t0

            def theirs():
                m = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05,
                                            num_threads=N_THREADS, random_state=0)
                t0 = time.perf_counter()
                m.fit(R, show_progress=False)
                return time.perf_counter() - t0

            ours(frame), ours(R), theirs()  # warm-up
            best = {"frame": np.inf, "csr": np.inf, "implicit": np.inf}
            for _ in range(repeats):
                best["frame"] = min(best["frame"], ours(frame))
                best["implicit"] = min(best["implicit"], theirs())
                best["csr"] = min(best["csr"], ours(R))
            print(f"| {name} | {R.nnz} | {best['frame']:.3f} | {best['csr']:.3f} | "
                  f"{best['implicit']:.3f} | {best['frame'] / best['implicit']:.2f} | "
                  f"{best['csr'] / best['implicit']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
