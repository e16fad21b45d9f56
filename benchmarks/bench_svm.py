"""SVMClassifier against scikit-learn's LinearSVC (liblinear) and SVC (libsvm), side by side.

Workloads: digits, breast cancer (standardised), synthetic linear problems up to 200k x 50
(1M x 50 unless --quick) and synthetic RBF problems up to 10k rows (20k unless --quick).
Both libraries use their defaults (C=1; LinearSVC: squared hinge, tol 1e-4, dual="auto";
SVC: rbf, gamma="scale", tol 1e-3, OvO; maaskit: tol 1e-3, multi_class="auto", i.e. OvO for
rbf, or as given by --multi-class). The table shows fit and predict seconds (best of the
repeats), test accuracy, and maaskit / sklearn ratios (below 1 means maaskit is faster), plus
the ratio of process CPU time of the fits (all threads summed: on a machine shared with other
jobs it is steadier than wall time). JIT compilation is warmed up first and reported
separately.

Usage: python benchmarks/bench_svm.py [--quick] [--backend auto|cython|numba]
                                     [--multi-class auto|ovo|ovr]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from maaskit.svm import SVMClassifier


def _best(fn, repeats):
    """Best wall time, the CPU time of that run (all threads), and the result."""
    best, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, cpu = wall, time.process_time() - c
    return best, cpu, out


def _datasets(quick: bool):
    X, y = load_digits(return_X_y=True)
    yield "digits", "both", train_test_split(X, y, test_size=0.25, random_state=0, stratify=y), 5
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yield "breast_cancer", "both", train_test_split(X, y, test_size=0.25, random_state=0, stratify=y), 5
    for n in [20_000, 200_000] + ([] if quick else [1_000_000]):
        X, y = make_classification(n_samples=int(n * 1.25), n_features=50, n_informative=20,
                                   n_redundant=10, flip_y=0.01, random_state=0)
        yield f"linear {n // 1000}k x 50", "linear", train_test_split(X, y, test_size=0.2, random_state=0), 1 if n > 50_000 else 3
    for n in [2_000, 10_000] + ([] if quick else [20_000]):
        X, y = make_classification(n_samples=int(n * 1.25), n_features=20, n_informative=10,
                                   n_classes=3, n_clusters_per_class=2, flip_y=0.02, random_state=0)
        X = StandardScaler().fit_transform(X)
        yield f"rbf {n // 1000}k x 20 (3 classes)", "rbf", train_test_split(X, y, test_size=0.2, random_state=0), 1 if n > 5_000 else 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the largest problems")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--multi-class", default="auto", choices=["auto", "ovo", "ovr"],
                    help="maaskit's multi-class strategy for the rbf models")
    args = ap.parse_args()
    print(f"# bench_svm  {time.strftime('%Y-%m-%d %H:%M:%S')}  {platform.machine()} "
          f"cpus={os.cpu_count()}  loadavg(start)={os.getloadavg()}")
    # JIT warm-up (numba backend compiles on first use; cython needs none)
    Xw, yw = make_classification(n_samples=200, n_features=5, random_state=0)
    t = time.perf_counter()
    for kw in (dict(kernel="linear", solver="dual_cd"), dict(kernel="rbf")):
        SVMClassifier(backend=args.backend, **kw).fit(Xw, yw)
    print(f"warm-up (JIT/import): {time.perf_counter() - t:.2f} s\n")
    header = (f"{'dataset':28s} {'model':7s} {'solver':8s} {'fit mk':>8s} {'fit sk':>8s} {'ratio':>6s} "
              f"{'cpu r':>6s} {'pred mk':>8s} {'pred sk':>8s} {'ratio':>6s} {'acc mk':>7s} {'acc sk':>7s}")
    print(header)
    print("-" * len(header))
    for name, kinds, (Xtr, Xte, ytr, yte), rep in _datasets(args.quick):
        models = []
        if kinds in ("both", "linear"):
            models.append(("linear", SVMClassifier(kernel="linear", backend=args.backend, random_state=0),
                           LinearSVC(random_state=0)))
        if kinds in ("both", "rbf"):
            models.append(("rbf", SVMClassifier(backend=args.backend,
                                                multi_class=args.multi_class), SVC()))
        for kind, mk, sk in models:
            tf_mk, cf_mk, _ = _best(lambda: mk.fit(Xtr, ytr), rep)
            tf_sk, cf_sk, _ = _best(lambda: sk.fit(Xtr, ytr), rep)
            tp_mk, _, p_mk = _best(lambda: mk.predict(Xte), rep)
            tp_sk, _, p_sk = _best(lambda: sk.predict(Xte), rep)
            a_mk, a_sk = np.mean(p_mk == yte), np.mean(p_sk == yte)
            print(f"{name:28s} {kind:7s} {mk.solver_:8s} {tf_mk:8.3f} {tf_sk:8.3f} {tf_mk / tf_sk:6.2f} "
                  f"{cf_mk / max(cf_sk, 1e-9):6.2f} "
                  f"{tp_mk:8.4f} {tp_sk:8.4f} {tp_mk / tp_sk:6.2f} {a_mk:7.4f} {a_sk:7.4f}", flush=True)
    print(f"\nloadavg(end)={os.getloadavg()}  backend={args.backend}  "
          f"multi_class={args.multi_class}")


if __name__ == "__main__":
    main()
