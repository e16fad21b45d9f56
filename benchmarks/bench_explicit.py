"""Explicit ratings: maaskit MatrixFactorization / SVDpp against Surprise SVD / SVDpp.

MovieLens 100k (``u.data``), 5-fold CV on rows (``KFold(5, shuffle=True, random_state=0)``),
the same folds for every model, all in one process. Fit times are wall-clock seconds of
``fit`` only (for maaskit this includes id mapping and CSR building; for Surprise the
trainset is built outside the timer). Numba is warmed up first; its compile time is reported
separately.

Like for like (session 4): Surprise SVD appears at its defaults (100 factors), at our factor
count (32), and tuned by its own ``GridSearchCV`` (3-fold, on the training fold only: nested),
next to ``Recommender()`` at its defaults, whose ``tune="auto"`` search runs on a validation
part carved from each training fold (never the test fold); both searches are inside the timed
fit. ``--splits canonical`` uses the u1-u5 and ua/ub base/test files instead of KFold.

Usage::

    python benchmarks/bench_explicit.py            # full run (Surprise SVD++ takes ~1-2 min)
    python benchmarks/bench_explicit.py --quick    # 2 folds, no Surprise SVD++, smaller grid

The data set is found through ``MAASKIT_DATA`` or ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from maaskit.datasets import find_data_home
from maaskit.exceptions import ColdStartWarning
from maaskit.recommender._mf import MatrixFactorization
from maaskit.recommender._svdpp import SVDpp


def load_ml100k() -> pd.DataFrame:
    home = find_data_home("ml-100k/u.data")
    if home is not None:
        path = home / "ml-100k" / "u.data"
        return pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    raise SystemExit("MovieLens 100k not found: set MAASKIT_DATA to the folder that holds ml-100k/.")


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def run_maaskit(make, df, folds):
    rows = []
    for tr, te in folds:
        model = make()
        t = time.perf_counter()
        model.fit(df.iloc[tr])
        fit_s = time.perf_counter() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            pred = model.predict(df.iloc[te][["user", "item"]])
        rows.append((rmse(pred, df.rating.values[te]), fit_s))
    return rows


def run_surprise(make, df, folds):
    from surprise import Dataset, Reader

    reader = Reader(rating_scale=(1, 5))
    rows = []
    for tr, te in folds:
        trainset = Dataset.load_from_df(df.iloc[tr][["user", "item", "rating"]], reader).build_full_trainset()
        algo = make()
        t = time.perf_counter()
        algo.fit(trainset)
        fit_s = time.perf_counter() - t
        test = df.iloc[te]
        pred = [algo.predict(u, i).est for u, i in zip(test.user.values, test.item.values)]
        rows.append((rmse(pred, test.rating.values), fit_s))
    return rows


def run_surprise_tuned(grid):
    """Surprise SVD tuned by Surprise's GridSearchCV on the training fold only (nested)."""

    def runner(make, df, folds):
        from surprise import SVD, Dataset, Reader
        from surprise.model_selection import GridSearchCV

        reader = Reader(rating_scale=(1, 5))
        rows = []
        for tr, te in folds:
            data = Dataset.load_from_df(df.iloc[tr][["user", "item", "rating"]], reader)
            t = time.perf_counter()
            gs = GridSearchCV(SVD, grid, measures=["rmse"], cv=3, n_jobs=1)
            gs.fit(data)
            algo = SVD(random_state=0, **gs.best_params["rmse"])
            algo.fit(data.build_full_trainset())
            fit_s = time.perf_counter() - t
            test = df.iloc[te]
            pred = [algo.predict(u, i).est for u, i in zip(test.user.values, test.item.values)]
            rows.append((rmse(pred, test.rating.values), fit_s))
            print(f"  Surprise GridSearchCV best on this training fold: {gs.best_params['rmse']}", flush=True)
        return rows

    return runner


def load_canonical() -> tuple[pd.DataFrame, list]:
    """u1-u5 and ua/ub base/test as (frame, [(train_rows, test_rows)]) over one frame."""
    home = find_data_home("ml-100k/u1.base")
    if home is None:
        raise SystemExit("ml-100k/u1.base not found: set MAASKIT_DATA.")
    folder = home / "ml-100k"
    names = ["user", "item", "rating", "timestamp"]
    parts, folds, start = [], [], 0
    for split in ("u1", "u2", "u3", "u4", "u5", "ua", "ub"):
        base = pd.read_csv(folder / f"{split}.base", sep="\t", names=names)
        test = pd.read_csv(folder / f"{split}.test", sep="\t", names=names)
        parts += [base, test]
        folds.append((np.arange(start, start + len(base)),
                      np.arange(start + len(base), start + len(base) + len(test))))
        start += len(base) + len(test)
    return pd.concat(parts, ignore_index=True), folds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 folds and no Surprise SVD++")
    ap.add_argument("--no-svdpp", action="store_true", help="skip Surprise SVD++ (about 70 s)")
    ap.add_argument("--splits", choices=["kfold", "canonical"], default="kfold",
                    help="KFold(5) on u.data, or the u1-u5/ua/ub base/test files")
    ap.add_argument("--no-grid", action="store_true", help="skip Surprise tuned by GridSearchCV")
    args = ap.parse_args()

    if args.splits == "canonical":
        df, folds = load_canonical()
    else:
        df = load_ml100k()
        folds = list(KFold(5, shuffle=True, random_state=0).split(df))
    if args.quick:
        folds = folds[:2]

    t = time.perf_counter()
    MatrixFactorization(backend="numba", max_iter=1).fit(df.iloc[:2000])
    SVDpp(backend="numba", max_iter=1).fit(df.iloc[:2000])
    compile_s = time.perf_counter() - t

    from surprise import SVD
    from surprise import SVDpp as SurpriseSVDpp

    models = {
        "maaskit MatrixFactorization (defaults, numba)": (run_maaskit, lambda: MatrixFactorization(random_state=0, backend="numba")),
        "maaskit MatrixFactorization (defaults, cython)": (run_maaskit, lambda: MatrixFactorization(random_state=0, backend="cython")),
    }
    models["maaskit SVDpp (defaults, numba)"] = (run_maaskit, lambda: SVDpp(random_state=0, backend="numba"))
    models["maaskit SVDpp (defaults, cython)"] = (run_maaskit, lambda: SVDpp(random_state=0, backend="cython"))
    from maaskit import Recommender

    models["maaskit Recommender() (defaults: tune='auto', search on 10% of the training fold, inside the timer)"] = (
        run_maaskit, lambda: Recommender(random_state=0))
    models["Surprise SVD (defaults, random_state=0)"] = (run_surprise, lambda: SVD(random_state=0))
    models["Surprise SVD (n_factors=32 as ours, random_state=0)"] = (
        run_surprise, lambda: SVD(n_factors=32, random_state=0))
    if not args.no_grid:
        grid = ({"n_factors": [32, 100], "reg_all": [0.02, 0.1], "lr_all": [0.005, 0.01]}
                if not args.quick else {"reg_all": [0.02, 0.1], "lr_all": [0.005, 0.01]})
        models[f"Surprise SVD tuned by its GridSearchCV (3-fold on the training fold, grid {grid}, search inside the timer)"] = (
            run_surprise_tuned(grid), None)
    if not (args.quick or args.no_svdpp):
        models["Surprise SVDpp (cache_ratings=True)"] = (
            run_surprise, lambda: SurpriseSVDpp(random_state=0, cache_ratings=True))

    results = {}
    for name, (runner, make) in models.items():
        results[name] = runner(make, df, folds)
        r = np.array(results[name])
        print(f"{name}: RMSE per fold {np.round(r[:, 0], 4).tolist()}, fit s per fold {np.round(r[:, 1], 3).tolist()}", flush=True)

    ref = np.array(results["Surprise SVD (defaults, random_state=0)"])[:, 1].sum()
    print(f"\nMovieLens 100k, {args.splits} splits ({len(folds)}); numba compile/warm-up {compile_s:.2f} s (not counted)")
    print("| model | mean RMSE | total fit s | speed-up vs Surprise SVD |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        r = np.array(rows)
        print(f"| {name} | {r[:, 0].mean():.4f} | {r[:, 1].sum():.3f} | {ref / r[:, 1].sum():.1f}x |")


if __name__ == "__main__":
    main()
