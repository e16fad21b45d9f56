"""Fit speed of the default ``Recommender()`` (its model-selection search included) against
Surprise SVD's default fit, timed side by side: interleaved, best of several.

On a shared machine a ratio means something only when both sides run in the same moments,
so every repeat fits, split by split, ``Recommender()``, ``SVDpp()`` alone and Surprise
``SVD()`` one after the other, and each split keeps each model's best time over the repeats.
RMSE on the test file of each split is printed next to the times (the search tunes on 10%
carved from the training file only; the test file is never seen). ``--grid`` adds Surprise SVD
tuned by its own GridSearchCV on the training file (3-fold, nested), once per split, untimed.

Usage::

    python benchmarks/bench_tune_speed.py                 # u1-u5, 5 repeats
    python benchmarks/bench_tune_speed.py --repeats 9 --splits kfold
    python benchmarks/bench_tune_speed.py --grid          # also the GridSearchCV RMSEs (slow)

The data set is found through ``MAASKIT_DATA`` or ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from maaskit.datasets import find_data_home
from maaskit.exceptions import ColdStartWarning

NAMES = ["user", "item", "rating", "timestamp"]


def splits(kind: str) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    home = find_data_home("ml-100k/u1.base")
    if home is None:
        raise SystemExit("ml-100k not found: set MAASKIT_DATA to the folder that holds ml-100k/.")
    folder = home / "ml-100k"
    if kind == "canonical":
        return [(s, pd.read_csv(folder / f"{s}.base", sep="\t", names=NAMES),
                 pd.read_csv(folder / f"{s}.test", sep="\t", names=NAMES))
                for s in ("u1", "u2", "u3", "u4", "u5")]
    from sklearn.model_selection import KFold

    df = pd.read_csv(folder / "u.data", sep="\t", names=NAMES)
    return [(f"fold{k}", df.iloc[tr], df.iloc[te])
            for k, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=0).split(df))]


def rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(truth, float)) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--splits", choices=["canonical", "kfold"], default="canonical")
    ap.add_argument("--grid", action="store_true", help="Surprise SVD tuned by GridSearchCV (slow)")
    ap.add_argument("--sequential-row", action="store_true",
                    help="add Recommender() with its rung-0 candidates fitted one after the other")
    args = ap.parse_args()

    from maaskit import Recommender
    from maaskit.recommender import SVDpp

    try:
        from surprise import SVD, Dataset, Reader
    except ImportError:
        raise SystemExit("scikit-surprise is not importable: no peer to compare with.")
    data = splits(args.splits)
    reader = Reader(rating_scale=(1, 5))
    trainsets = [Dataset.load_from_df(b[["user", "item", "rating"]], reader).build_full_trainset()
                 for _, b, _ in data]
    # Warm-up (Numba cache load, first-call costs) on both sides, untimed.
    Recommender(random_state=0).fit(data[0][1])
    SVD(random_state=0, n_epochs=1).fit(trainsets[0])

    from maaskit.recommender import _tuning

    def sequential(base):
        _tuning.PARALLEL_RUNG0 = False
        try:
            return Recommender(random_state=0).fit(base)
        finally:
            _tuning.PARALLEL_RUNG0 = True

    rows = {"Recommender()": [], "SVDpp() alone": [], "Surprise SVD()": []}
    if args.sequential_row:
        rows["Recommender(), search on one thread"] = []
    best = {name: [np.inf] * len(data) for name in rows}
    fitted: dict[str, list] = {name: [None] * len(data) for name in rows}
    for rep in range(args.repeats):
        for k, (_, base, _) in enumerate(data):
            # The order rotates so that no model always runs right after the same one.
            jobs = [("Recommender()", lambda: Recommender(random_state=0).fit(base)),
                    ("SVDpp() alone", lambda: SVDpp(random_state=0).fit(base)),
                    ("Surprise SVD()", lambda: SVD(random_state=0).fit(trainsets[k]))]
            if args.sequential_row:
                jobs.append(("Recommender(), search on one thread", lambda: sequential(base)))
            jobs = jobs[rep % len(jobs):] + jobs[:rep % len(jobs)]
            for name, job in jobs:
                t = time.perf_counter()
                model = job()
                best[name][k] = min(best[name][k], time.perf_counter() - t)
                fitted[name][k] = model
        print(f"repeat {rep + 1}/{args.repeats} done (load {os.getloadavg()[0]:.1f})", flush=True)

    for name in rows:
        for k, (_, _, test) in enumerate(data):
            model = fitted[name][k]
            if name.startswith("Surprise"):
                pred = [model.predict(u, i).est for u, i in zip(test.user.values, test.item.values)]
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ColdStartWarning)
                    pred = model.predict(test[["user", "item"]])
            rows[name].append(rmse(pred, test.rating.values))
    if args.grid:
        from surprise.model_selection import GridSearchCV

        grid = {"n_factors": [32, 100], "reg_all": [0.02, 0.1], "lr_all": [0.005, 0.01]}
        rows["Surprise SVD tuned by GridSearchCV (untimed)"] = []
        for k, (_, base, test) in enumerate(data):
            gs = GridSearchCV(SVD, grid, measures=["rmse"], cv=3, n_jobs=1)
            gs.fit(Dataset.load_from_df(base[["user", "item", "rating"]], reader))
            algo = SVD(random_state=0, **gs.best_params["rmse"]).fit(trainsets[k])
            pred = [algo.predict(u, i).est for u, i in zip(test.user.values, test.item.values)]
            rows["Surprise SVD tuned by GridSearchCV (untimed)"].append(rmse(pred, test.rating.values))

    ref = sum(best["Surprise SVD()"])
    names = [s for s, _, _ in data]
    print(f"\nML-100k {args.splits} splits, best of {args.repeats} interleaved repeats per split; "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"| model | RMSE {' '.join(names)} | mean RMSE | fit s (sum of bests) | speed-up vs Surprise SVD() |")
    print("|---|---|---|---|---|")
    for name, rm in rows.items():
        t = sum(best[name]) if name in best else float("nan")
        print(f"| {name} | {' '.join(f'{r:.4f}' for r in rm)} | {np.mean(rm):.4f} | "
              f"{t:.3f} | {ref / t:.2f}x |")
    rec = fitted["Recommender()"]
    print("search picked:", [m.best_params_ for m in rec])


if __name__ == "__main__":
    main()
