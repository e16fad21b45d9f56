"""maaskit RandomForest vs scikit-learn RandomForest, side by side in one process.

Same n_estimators, max_depth and n_jobs for both; times are fit and predict wall-clock
(best of ``--repeat``), accuracy is test accuracy (classification) or R^2 (regression).
JIT compilation is warmed up first and reported separately. Ratios are maaskit / sklearn
(below 1.0 means maaskit is faster).

    python benchmarks/bench_forest.py [--quick] [--n-jobs 2] [--repeat 1] [--backend auto]
    python benchmarks/bench_forest.py --splits 5     # accuracy only, mean over 5 splits
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier as SkRFC
from sklearn.ensemble import RandomForestRegressor as SkRFR
from sklearn.model_selection import train_test_split

from maaskit.ensemble import RandomForestClassifier, RandomForestRegressor


def _workloads(quick: bool):
    # (name, kind, X, y, n_estimators, max_depth)
    X, y = load_digits(return_X_y=True)
    yield "digits", "clf", X, y, 100, None
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", "clf", X, y, 100, None
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes (reg)", "reg", X, y, 100, None
    n = 20_000 if quick else 200_000
    X, y = make_classification(n, 50, n_informative=20, n_redundant=10, n_classes=2,
                               flip_y=0.02, random_state=0)
    yield f"{n // 1000}k x 50 clf depth 12", "clf", X, y, 100, 12
    X, y = make_regression(n, 50, n_informative=20, noise=10.0, random_state=0)
    yield f"{n // 1000}k x 50 reg depth 12", "reg", X, y, 20, 12
    if not quick:
        X, y = make_classification(1_000_000, 50, n_informative=20, n_redundant=10,
                                   n_classes=2, flip_y=0.02, random_state=1)
        yield "1M x 50 clf depth 12", "clf", X, y, 10, 12


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small synthetic sets, no 1M rows")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    ap.add_argument("--splits", type=int, default=0,
                    help="only compare mean accuracy over this many splits on the small sets")
    args = ap.parse_args()
    if args.splits:
        accuracy_over_splits(args.splits, args.n_jobs, args.backend)
        return

    print(f"# bench_forest {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"n_jobs={args.n_jobs}, backend={args.backend}, loadavg before {os.getloadavg()}")
    # JIT warm-up (numba compiles on first use; cache=True makes later runs cheap).
    Xw, yw = make_classification(300, 5, random_state=0)
    t = time.perf_counter()
    RandomForestClassifier(2, backend=args.backend).fit(Xw, yw).predict(Xw)
    RandomForestRegressor(2, max_features=0.5, backend=args.backend).fit(Xw, yw.astype(float)).predict(Xw)
    RandomForestRegressor(2, backend=args.backend).fit(Xw, yw.astype(float)).predict(Xw)
    print(f"# warm-up (JIT compile or cache load): {time.perf_counter() - t:.2f} s")

    head = ("| workload | trees | maaskit fit s | sklearn fit s | fit ratio | maaskit predict s | "
            "sklearn predict s | predict ratio | maaskit score | sklearn score |")
    print(head)
    print("|" + "---|" * 10)
    for name, kind, X, y, n_est, depth in _workloads(args.quick):
        if args.only not in name:
            continue
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
        common = dict(n_estimators=n_est, max_depth=depth, n_jobs=args.n_jobs, random_state=0)
        if kind == "clf":
            ours = RandomForestClassifier(backend=args.backend, **common)
            peer = SkRFC(**common)
        else:
            ours = RandomForestRegressor(backend=args.backend, **common)
            peer = SkRFR(**common)
        fo, _ = _time(lambda: ours.fit(Xtr, ytr), args.repeat)
        fp, _ = _time(lambda: peer.fit(Xtr, ytr), args.repeat)
        po, _ = _time(lambda: ours.predict(Xte), args.repeat)
        pp, _ = _time(lambda: peer.predict(Xte), args.repeat)
        so, sp = ours.score(Xte, yte), peer.score(Xte, yte)
        print(f"| {name} | {n_est} | {fo:.3f} | {fp:.3f} | {fo / fp:.2f}x | {po:.4f} | {pp:.4f} | "
              f"{po / pp:.2f}x | {so:.4f} | {sp:.4f} |", flush=True)
    print(f"# loadavg after {os.getloadavg()}")


def accuracy_over_splits(n_splits: int, n_jobs: int, backend: str) -> None:
    """Mean test score over several train/test splits and seeds (one split is noisy)."""
    print(f"\n| data set (mean of {n_splits} splits) | maaskit score | sklearn score |")
    print("|---|---|---|")
    for name, loader, ours_cls, peer_cls in (
        ("digits", load_digits, RandomForestClassifier, SkRFC),
        ("breast_cancer", load_breast_cancer, RandomForestClassifier, SkRFC),
        ("diabetes (R^2)", load_diabetes, RandomForestRegressor, SkRFR),
    ):
        X, y = loader(return_X_y=True)
        a, b = [], []
        for seed in range(n_splits):
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed)
            a.append(ours_cls(100, random_state=seed, n_jobs=n_jobs, backend=backend)
                     .fit(Xtr, ytr).score(Xte, yte))
            b.append(peer_cls(100, random_state=seed, n_jobs=n_jobs).fit(Xtr, ytr).score(Xte, yte))
        print(f"| {name} | {np.mean(a):.4f} | {np.mean(b):.4f} |", flush=True)


if __name__ == "__main__":
    main()
