"""Cold process to first top-10: maaskit against ``implicit``, fresh interpreters both.

Protocol
--------
Each trial starts a fresh ``python`` process that does what a first-time user does:
import the library, read MovieLens 100k ``u.data`` with pandas, keep ratings >= 4 as
positives, fit ALS (64 factors, 15 iterations, each library's default regularisation), and ask for the top-10 of 3 users
with their training items excluded. ``implicit`` gets the same data as a users x items CSR
matrix built with scipy (its documented input), and maaskit gets the DataFrame of raw ids.

The parent times each child from ``Popen`` to exit (what a user waits for), and each child
reports its own stages (import, read, fit, recommend). Trials alternate between the
libraries (maaskit, implicit, maaskit, ...) so that a load spike on a shared machine hits
both; the best of the trials is reported for each and their ratio printed.

Both use 1 BLAS thread (``OPENBLAS_NUM_THREADS=1``, as implicit recommends) and the
machine's cores for their own threads. The first maaskit trial after an install also pays
Numba's on-disk cache build; run once beforehand (``--warm-caches``, the default) so every
timed trial sees the state a user has from the second run on.

Usage: ``python benchmarks/bench_first_call.py [--quick] [--trials N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_MAASKIT = r"""
import time, json, sys
t0 = time.perf_counter()
import maaskit
import pandas as pd
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1], sep="\t", names=["user", "item", "rating", "timestamp"])
df = df.loc[df["rating"] >= 4, ["user", "item"]]
t2 = time.perf_counter()
model = maaskit.Recommender("als", n_factors=64, max_iter=15, random_state=0).fit(df)
t3 = time.perf_counter()
ids, scores = model.recommend([1, 2, 3], n=10)
t4 = time.perf_counter()
assert ids.shape == (3, 10)
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "fit": t3 - t2, "recommend": t4 - t3,
                  "torch": "torch" in sys.modules, "numba": "numba" in sys.modules}))
"""

_IMPLICIT = r"""
import time, json, sys
t0 = time.perf_counter()
import implicit
import numpy as np
import pandas as pd
import scipy.sparse as sp
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1], sep="\t", names=["user", "item", "rating", "timestamp"])
df = df.loc[df["rating"] >= 4, ["user", "item"]]
t2 = time.perf_counter()
users, uid = pd.factorize(df["user"])
items, iid = pd.factorize(df["item"])
R = sp.csr_matrix((np.ones(len(df), np.float32), (users, items)),
                  shape=(len(uid), len(iid)))
model = implicit.als.AlternatingLeastSquares(factors=64, iterations=15, regularization=0.01,
                                             random_state=0)
model.fit(R, show_progress=False)
t3 = time.perf_counter()
rows = uid.get_indexer([1, 2, 3])
ids, scores = model.recommend(rows, R[rows], N=10, filter_already_liked_items=True)
ids = iid[ids.ravel()].to_numpy().reshape(ids.shape)
t4 = time.perf_counter()
assert ids.shape == (3, 10)
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "fit": t3 - t2, "recommend": t4 - t3,
                  "torch": "torch" in sys.modules, "numba": "numba" in sys.modules}))
"""


def _data_file() -> Path:
    from maaskit.datasets import find_data_home

    home = find_data_home("ml-100k/u.data")
    if home is not None:
        return home / "ml-100k" / "u.data"
    sys.exit("u.data not found: set MAASKIT_DATA to the folder holding ml-100k/")


SRC = REPO / "src"


def _trial(code: str, data: Path) -> tuple[float, dict]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(data)], env=env,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"child failed:\n{out.stderr}")
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 trials each instead of 7")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--src", default=None,
                        help="maaskit source folder to time (default: this checkout's src/), "
                             "e.g. an older checkout for a before/after comparison")
    args = parser.parse_args()
    if args.src:
        global SRC
        SRC = Path(args.src).resolve()
    trials = args.trials or (3 if args.quick else 7)
    data = _data_file()

    # One untimed run each: Python bytecode caches, Numba's on-disk cache, the OS file cache.
    _trial(_MAASKIT, data)
    _trial(_IMPLICIT, data)

    results: dict[str, list[tuple[float, dict]]] = {"maaskit": [], "implicit": []}
    for _ in range(trials):
        results["maaskit"].append(_trial(_MAASKIT, data))
        results["implicit"].append(_trial(_IMPLICIT, data))

    print(f"Cold process to first top-10 (ML-100k ratings>=4, ALS 64 factors 15 iterations), "
          f"best of {trials} interleaved fresh processes")
    print(f"{'library':<10} {'wall s':>8} {'import':>8} {'read':>8} {'fit':>8} {'recommend':>10}"
          f"  torch numba")
    best = {}
    for lib, runs in results.items():
        wall, stages = min(runs, key=lambda r: r[0])
        best[lib] = wall
        print(f"{lib:<10} {wall:8.3f} {stages['import']:8.3f} {stages['read']:8.3f} "
              f"{stages['fit']:8.3f} {stages['recommend']:10.4f}  {str(stages['torch']):<5} "
              f"{stages['numba']}")
    print(f"all walls maaskit: {', '.join(f'{w:.2f}' for w, _ in results['maaskit'])}")
    print(f"all walls implicit: {', '.join(f'{w:.2f}' for w, _ in results['implicit'])}")
    print(f"ratio maaskit / implicit (best wall): {best['maaskit'] / best['implicit']:.2f}x")


if __name__ == "__main__":
    main()
