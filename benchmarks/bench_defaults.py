"""Do the defaults hold on data they were not tuned on? Synthetic sets of several sizes,
densities and popularity skews (``maaskit.datasets.make_interactions``).

Explicit: a random 90/10 split per set (seed 0, test rows with users/items unseen in training
dropped); ``Recommender()`` at its defaults (its ``tune="auto"`` search runs on validation
carved from the 90% only), ``Recommender(tune=False)`` (MF defaults), SVDpp defaults, and
Surprise SVD at its defaults. RMSE on the 10%, fit seconds (search included for ours).

Implicit: the same generator with ``kind="implicit"``, 80/20 split; ``Recommender()`` defaults
(ALS) against ``implicit``'s ALS tuned by a reg x alpha grid on validation carved from the
training matrix (``bench_implicit._tuned_implicit_als``), nDCG@10 with seen items excluded.

Usage: ``python benchmarks/bench_defaults.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from maaskit import Recommender  # noqa: E402
from maaskit.datasets import make_interactions  # noqa: E402
from maaskit.exceptions import ColdStartWarning  # noqa: E402
from maaskit.metrics import ndcg_at_k  # noqa: E402
from maaskit.model_selection import random_split  # noqa: E402
from maaskit.recommender import SVDpp  # noqa: E402

EXPLICIT_SETS = [  # (users, items, interactions, popularity skew)
    (1000, 800, 60_000, 1.0),
    (3000, 1500, 150_000, 0.5),
    (3000, 1500, 150_000, 1.5),
    (2000, 4000, 100_000, 1.0),   # sparse: 1.25%
]
FULL_EXTRA = [(20_000, 5000, 1_000_000, 1.0)]
IMPLICIT_SETS = [(2000, 1500, 80_000, 1.0), (3000, 1500, 150_000, 1.5)]


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def explicit(sets):
    from surprise import SVD, Dataset, Reader

    print("| set (users x items, ratings, skew) | Recommender() RMSE | chosen | fit s | "
          "tune=False (MF) | SVDpp defaults | Surprise SVD defaults | Surprise fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for nu, ni, n, skew in sets:
        df = make_interactions(nu, ni, n, popularity_skew=skew, kind="explicit", random_state=0)
        df = df[["user", "item", "rating"]]
        train, test = random_split(df, test_size=0.1, random_state=0)
        test = test[test.user.isin(train.user) & test.item.isin(train.item)]
        row = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            for name, make in (("auto", lambda: Recommender(random_state=0)),
                               ("mf", lambda: Recommender(random_state=0, tune=False)),
                               ("svdpp", lambda: SVDpp(random_state=0))):
                m = make()
                t0 = time.perf_counter()
                m.fit(train)
                row[name] = (_rmse(m.predict(test[["user", "item"]]), test.rating), time.perf_counter() - t0)
                if name == "auto":
                    chosen = m.best_params_
        reader = Reader(rating_scale=(float(df.rating.min()), float(df.rating.max())))
        ts = Dataset.load_from_df(train, reader).build_full_trainset()
        algo = SVD(random_state=0)
        t0 = time.perf_counter()
        algo.fit(ts)
        s_fit = time.perf_counter() - t0
        s_rmse = _rmse([algo.predict(u, i).est for u, i in zip(test.user, test.item)], test.rating)
        print(f"| {nu} x {ni}, {n}, {skew} | {row['auto'][0]:.4f} | {chosen} | {row['auto'][1]:.2f} | "
              f"{row['mf'][0]:.4f} | {row['svdpp'][0]:.4f} | {s_rmse:.4f} | {s_fit:.2f} |", flush=True)


def implicit_sets(sets):
    from bench_implicit import N_THREADS, _tuned_implicit_als
    from implicit.cpu.als import AlternatingLeastSquares

    print("\n| set (users x items, interactions, skew) | Recommender() nDCG@10 | implicit ALS tuned nDCG@10 | implicit best (reg, alpha) |")
    print("|---|---|---|---|")
    for nu, ni, n, skew in sets:
        df = make_interactions(nu, ni, n, popularity_skew=skew, kind="implicit", random_state=0)
        u = pd.factorize(df["user"])[0].astype(np.int32)
        i = pd.factorize(df["item"])[0].astype(np.int32)
        frame = pd.DataFrame({"user": u, "item": i})
        train, test = random_split(frame, test_size=0.2, random_state=0)
        R = sp.csr_matrix((np.ones(len(train), np.float32), (train.user, train.item)),
                          shape=(u.max() + 1, i.max() + 1))
        R.data[:] = 1.0
        users = np.unique(test.user.to_numpy())
        users = users[np.diff(R.indptr)[users] > 0].astype(np.int32)
        groups = test.groupby("user")["item"].apply(np.asarray)
        truth = [groups[x] for x in users]
        ours = Recommender(random_state=0).fit(R)
        ids, _ = ours.recommend(users, n=10)
        (score, reg, alpha), _ = _tuned_implicit_als(R)
        peer = AlternatingLeastSquares(factors=64, iterations=15, regularization=reg, alpha=alpha,
                                       num_threads=N_THREADS, random_state=0)
        peer.fit(R, show_progress=False)
        pids, _ = peer.recommend(users, R[users], N=10, filter_already_liked_items=True)
        print(f"| {nu} x {ni}, {n}, {skew} | {ndcg_at_k(truth, ids, k=10):.4f} | "
              f"{ndcg_at_k(truth, pids, k=10):.4f} | ({reg}, {alpha}) |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two explicit sets, one implicit set")
    args = ap.parse_args()
    sets = EXPLICIT_SETS[:2] if args.quick else EXPLICIT_SETS + FULL_EXTRA
    from threadpoolctl import threadpool_limits

    explicit(sets)
    with threadpool_limits(1, "blas"):  # as implicit recommends, for both libraries
        implicit_sets(IMPLICIT_SETS[:1] if args.quick else IMPLICIT_SETS)


if __name__ == "__main__":
    main()
