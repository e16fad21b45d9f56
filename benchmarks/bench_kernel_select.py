"""Timings behind ``_AUTO_ORDER`` in ``maaskit/_backend.py``: every backend of a recommender kernel.

For each recommender kernel (``sgd`` via MatrixFactorization, ``svdpp`` via SVDpp, ``als``,
``bpr``, ``topk`` via ``recommend``) the same estimator is fitted on MovieLens 100k (explicit
ratings for sgd/svdpp, ratings >= 4 as positives for als/bpr) with ``backend=`` each of
cython, numba and numpy (numpy only in full mode, it is the slow oracle). Each backend is warmed
up by one fit first, then timed best of ``--repeats``; backends alternate inside each repeat so
that load on a shared machine hits all. A second table is the cost a *fresh process* pays for
the first call with each backend (import + Numba cache load or compile + fit), which is what
``backend="auto"`` makes a user wait for on the first fit.

``_AUTO_ORDER`` lists a kernel's backends fastest first; a backend is preferred over Cython only
when it is faster warm by more than the noise (5%), because it costs its first-call overhead.

Usage: ``python benchmarks/bench_kernel_select.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _ml100k() -> pd.DataFrame:
    from maaskit.datasets import find_data_home

    home = find_data_home("ml-100k/u.data")
    if home is not None:
        return pd.read_csv(home / "ml-100k" / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    sys.exit("u.data not found: set MAASKIT_DATA to the folder holding ml-100k/")


CASES = {
    # kernel: (estimator class name, constructor kwargs, explicit data?)
    "sgd": ("MatrixFactorization", {"n_factors": 32, "max_iter": 20}, True),
    "svdpp": ("SVDpp", {"n_factors": 32, "max_iter": 10}, True),
    "als": ("ALS", {"n_factors": 64, "max_iter": 15}, False),
    "bpr": ("BPR", {"n_factors": 64, "max_iter": 50}, False),
}


def _fit_once(kernel: str, backend: str, data: dict) -> float:
    import maaskit.recommender as rec

    name, kw, explicit = CASES[kernel]
    est = getattr(rec, name)(random_state=0, backend=backend, device="cpu", **kw)
    X = data["explicit"] if explicit else data["implicit"]
    t0 = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - t0


def _topk_once(backend: str, model, users: np.ndarray) -> float:
    model.backend_ = backend
    t0 = time.perf_counter()
    model.recommend(users, n=10)
    return time.perf_counter() - t0


_FRESH = r"""
import sys, time
t0 = time.perf_counter()
import pandas as pd
import maaskit.recommender as rec
name, backend, explicit, path = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
df = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"])
X = df[["user", "item", "rating"]] if explicit else df.loc[df.rating >= 4, ["user", "item"]]
getattr(rec, name)(random_state=0, backend=backend, device="cpu", max_iter=1).fit(X)
print(time.perf_counter() - t0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, no numpy backend")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    backends = ("cython", "numba") if args.quick else ("cython", "numba", "numpy")

    df = _ml100k()
    data = {"explicit": df[["user", "item", "rating"]],
            "implicit": df.loc[df["rating"] >= 4, ["user", "item"]]}
    from maaskit._backend import _AUTO_ORDER, _DEFAULT_ORDER, has_backend

    print(f"Warm fit time on ML-100k, best of {repeats} (s), backends alternating")
    print(f"{'kernel':<7} " + " ".join(f"{b:>8}" for b in backends) + "   numba/cython  current auto order")
    for kernel in CASES:
        avail = [b for b in backends if has_backend(kernel, b)
                 and not (b == "numpy" and kernel in ("svdpp", "bpr"))]  # numpy oracle: minutes
        for b in avail:  # warm-up: Numba compile/cache, page faults
            _fit_once(kernel, b, data)
        best = {b: min(_fit_once(kernel, b, data) for _ in range(1)) for b in avail}
        for _ in range(repeats - 1):
            for b in avail:
                best[b] = min(best[b], _fit_once(kernel, b, data))
        ratio = best.get("numba", np.nan) / best.get("cython", np.nan)
        cells = " ".join(f"{best[b]:8.3f}" if b in best else f"{'-':>8}" for b in backends)
        print(f"{kernel:<7} {cells}   {ratio:11.2f}x  {_AUTO_ORDER.get(kernel, _DEFAULT_ORDER)}")

    # topk through recommend on a fitted ALS, all 943 users.
    import maaskit.recommender as rec

    model = rec.ALS(n_factors=64, max_iter=5, random_state=0, device="cpu").fit(data["implicit"])
    users = np.asarray(model.user_index_.ids if hasattr(model.user_index_, "ids") else
                       data["implicit"]["user"].unique())
    avail = [b for b in backends if has_backend("topk", b)]
    for b in avail:
        _topk_once(b, model, users)
    best = {b: min(_topk_once(b, model, users) for _ in range(repeats)) for b in avail}
    cells = " ".join(f"{best[b]:8.3f}" if b in best else f"{'-':>8}" for b in backends)
    print(f"{'topk':<7} {cells}   {best.get('numba', np.nan) / best['cython']:11.2f}x  "
          f"{_AUTO_ORDER.get('topk', _DEFAULT_ORDER)}   (recommend top-10, 943 users)")

    from maaskit.datasets import find_data_home

    path = find_data_home("ml-100k/u.data") / "ml-100k" / "u.data"
    print("\nFresh process: import + 1-epoch fit per backend, best of 3 (s); Numba's on-disk "
          "cache is warm from the runs above")
    penv = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    for kernel in ("sgd", "svdpp", "als"):
        name, _, explicit = CASES[kernel]
        row = {}
        for b in ("cython", "numba"):
            times = []
            for _ in range(3):
                out = subprocess.run([sys.executable, "-c", _FRESH, name, b, "1" if explicit else "0",
                                      str(path)], env=penv, capture_output=True, text=True, check=True)
                times.append(float(out.stdout.strip().splitlines()[-1]))
            row[b] = min(times)
        print(f"{kernel:<7} cython {row['cython']:.3f}  numba {row['numba']:.3f}  "
              f"(numba costs {row['numba'] - row['cython']:+.3f} s on a first call)")


if __name__ == "__main__":
    main()
