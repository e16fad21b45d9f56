"""Linear models: maaskit vs scikit-learn, side by side, fit/predict time and accuracy / R^2.

Usage: python benchmarks/bench_linear.py [--quick]

Workloads: digits, breast cancer (classification), a California-housing-sized synthetic
regression (20k x 8), a synthetic 200k x 50 classification and regression, and 1M x 50
unless --quick. Both libraries get the same train/test split; maaskit's kernels are
warmed up (JIT) first and the compile time is reported separately. The issue's bar:
maaskit fit <= 1.0x scikit-learn's time at equal or better score, predict <= 1.0x.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings

import numpy as np
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import maaskit.linear_model as mk


def _time(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _row(name, data, sk_est, mk_est, repeat):
    Xtr, Xte, ytr, yte = data
    rows = []
    for lib, est in (("sklearn", sk_est), ("maaskit", mk_est)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit_t, model = _time(lambda: est.fit(Xtr, ytr), repeat)
        pred_t, _ = _time(lambda: model.predict(Xte), max(repeat, 3))
        rows.append((fit_t, pred_t, model.score(Xte, yte)))
    (sf, sp_, ss), (mf, mp, ms) = rows
    print(f"| {name} | {sf:.3f} | {mf:.3f} | {mf / sf:.2f}x | {sp_ * 1e3:.2f} | {mp * 1e3:.2f} | "
          f"{mp / sp_:.2f}x | {ss:.4f} | {ms:.4f} | {'yes' if (mf <= sf and ms >= ss - 0.002 and mp <= sp_) else 'no'} |",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 1M-row workloads")
    args = ap.parse_args()
    rep = 3
    print(f"# bench_linear  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"{platform.node()}  cpus={os.cpu_count()}  loadavg={os.getloadavg()}")

    t = time.perf_counter()  # JIT warm-up of every kernel path used below
    Xw = np.random.RandomState(0).randn(300, 4)
    yw = (Xw[:, 0] > 0).astype(int)
    for est in (mk.SGDClassifier(random_state=0), mk.SGDClassifier(loss="log_loss", random_state=0),
                mk.LogisticRegression(), mk.SGDRegressor(random_state=0), mk.LinearRegression(solver="gd")):
        for dt in (np.float64,):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(Xw.astype(dt), yw if "Regress" not in type(est).__name__ or "Logistic" in type(est).__name__ else Xw[:, 0])
    print(f"warm-up (JIT compile / cache load): {time.perf_counter() - t:.2f} s\n")
    print("| workload | sk fit s | mk fit s | fit ratio | sk predict ms | mk predict ms | predict ratio | sk score | mk score | bar met |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    digits = train_test_split(*load_digits(return_X_y=True), random_state=0)
    cancer = train_test_split(*load_breast_cancer(return_X_y=True), random_state=0)
    _row("SGDClassifier digits", digits, sk.SGDClassifier(random_state=0), mk.SGDClassifier(random_state=0), rep)
    _row("SGDClassifier breast cancer", cancer, sk.SGDClassifier(random_state=0), mk.SGDClassifier(random_state=0), rep)
    _row("LogisticRegression digits", digits, sk.LogisticRegression(), mk.LogisticRegression(), rep)
    _row("LogisticRegression breast cancer", cancer, sk.LogisticRegression(), mk.LogisticRegression(), rep)

    Xr, yr = make_regression(20_000, 8, n_informative=8, noise=10.0, random_state=0)
    Xr = Xr * np.array([1, 10, 100, 0.1, 1, 5, 50, 2]) + 3  # housing-like unscaled columns
    housing = train_test_split(Xr, yr, random_state=0)
    _row("LinearRegression 20k x 8", housing, sk.LinearRegression(), mk.LinearRegression(), rep)
    _row("LinearRegression(gd) 20k x 8", housing, sk.LinearRegression(), mk.LinearRegression(solver="gd"), rep)
    _row("SGDRegressor 20k x 8", housing, sk.SGDRegressor(random_state=0), mk.SGDRegressor(random_state=0), rep)

    sizes = [200_000] + ([] if args.quick else [1_000_000])
    for n in sizes:
        Xc, yc = make_classification(n, 50, n_informative=20, random_state=0)
        big = train_test_split(Xc, yc, random_state=0)
        _row(f"SGDClassifier {n // 1000}k x 50", big, sk.SGDClassifier(random_state=0), mk.SGDClassifier(random_state=0), 1)
        _row(f"LogisticRegression {n // 1000}k x 50", big, sk.LogisticRegression(), mk.LogisticRegression(), 1)
        Xb, yb = make_regression(n, 50, n_informative=30, noise=5.0, random_state=0)
        bigr = train_test_split(Xb, yb, random_state=0)
        _row(f"LinearRegression {n // 1000}k x 50", bigr, sk.LinearRegression(), mk.LinearRegression(), 1)
        _row(f"SGDRegressor {n // 1000}k x 50", bigr, sk.SGDRegressor(random_state=0), mk.SGDRegressor(random_state=0), 1)
    print(f"\nloadavg at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
