"""maaskit ALS / BPR against the ``implicit`` library, side by side in one process.

Protocols
---------
1. MovieLens 100k (u.data): ratings >= 4 are positives, one random 80/20 split of them
   (seed 0) shared by both libraries; top-10 with training items excluded; nDCG@10 and
   precision@10 from ``maaskit.metrics`` for both libraries.
2. Microsoft Recommenders' protocol on ML-100k: random 75/25 split of *all* ratings (every
   rating a positive), k=10, seen items removed (their BPR: nDCG@10 0.442, MAP 0.132).
3. (full mode) synthetic ``make_interactions(200k users, 50k items, 10M, kind="implicit")``,
   random 80/20 split; fit time, metrics on 10k test users, top-10 time for 10k users.

Same factors (64) and iterations (ALS 15, BPR 100) for both. BLAS limited to one thread
(as implicit recommends); both libraries use 2 threads. Both libraries are warmed up by a
small fit and recommend before any timing (Numba compile for maaskit, first-call costs for
implicit), reported separately. implicit's ``recommend`` gets ``R[users]`` sliced before its
timer starts (maaskit keeps the training matrix itself, so its call has no slicing to do).

MAP: two definitions, both printed and named. ``map@10 (min)`` is ``maaskit.metrics.map_at_k``,
which divides each user's sum of precisions at hits by ``min(k, n_relevant)``; ``map (rel)``
divides by ``n_relevant`` (the ``map`` of Microsoft Recommenders' python_evaluation, the
definition behind their published 0.132); compare MS figures with ``map (rel)`` only.

Tuned peer (session 4): ``implicit`` ALS tuned by a grid over regularisation x alpha on a
validation part (10% of each user's training items) carved from the training matrix, then
refitted on all of it, against ``maaskit.Recommender()`` at its defaults.

Usage: ``python benchmarks/bench_implicit.py [--quick] [--backend cython|numba]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from maaskit.metrics import map_at_k, ndcg_at_k, precision_at_k
from maaskit.model_selection import random_split
from maaskit.recommender._als import ALS
from maaskit.recommender._bpr import BPR

N_THREADS = 2


def _ml100k() -> pd.DataFrame:
    from maaskit.datasets import find_data_home

    home = find_data_home("ml-100k/u.data")
    if home is not None:
        return pd.read_csv(home / "ml-100k" / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    sys.exit("u.data not found: set MAASKIT_DATA to the folder holding ml-100k/")


def _encode(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int, int]:
    u = pd.factorize(df["user"])[0]
    i = pd.factorize(df["item"])[0]
    return u.astype(np.int32), i.astype(np.int32), int(u.max()) + 1, int(i.max()) + 1


def _make_split(u, i, n_users, n_items, test_size, seed):
    frame = pd.DataFrame({"user": u, "item": i})
    train, test = random_split(frame, test_size=test_size, random_state=seed)
    R = sp.csr_matrix((np.ones(len(train), np.float32), (train["user"], train["item"])),
                      shape=(n_users, n_items))
    R.sum_duplicates()
    R.data[:] = 1.0
    users = np.unique(test["user"].to_numpy())
    users = users[np.diff(R.indptr)[users] > 0]
    groups = test.groupby("user")["item"].apply(np.asarray)
    truth = [groups[x] for x in users]
    return R, users.astype(np.int32), truth


def _map_rel(truth, ids, k=10):
    """MAP dividing by the number of relevant items (Microsoft Recommenders' ``map``)."""
    out = []
    for rel, rec in zip(truth, ids):
        rel = set(np.asarray(rel).tolist())
        if not rel:
            continue
        hits = np.array([x in rel for x in np.asarray(rec)[:k]], float)
        prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        out.append(float((prec * hits).sum() / len(rel)))
    return float(np.mean(out))


def _metrics(truth, ids):
    return {"ndcg@10": ndcg_at_k(truth, ids, k=10), "p@10": precision_at_k(truth, ids, k=10),
            "map@10": map_at_k(truth, ids, k=10), "map_rel": _map_rel(truth, ids, 10)}


def _run_maaskit(model, R, users, truth):
    t0 = time.perf_counter()
    model.fit(R)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids, _ = model.recommend(users, n=10, exclude_seen=True, output="numpy")
    rec = time.perf_counter() - t0
    return dict(fit=fit, rec=rec, **_metrics(truth, ids))


def _run_implicit(model, R, users, truth):
    t0 = time.perf_counter()
    model.fit(R, show_progress=False)
    fit = time.perf_counter() - t0
    liked = R[users]  # the caller's data preparation, outside the timer
    t0 = time.perf_counter()
    ids, _ = model.recommend(users, liked, N=10, filter_already_liked_items=True)
    rec = time.perf_counter() - t0
    return dict(fit=fit, rec=rec, **_metrics(truth, ids))


def _peers(als_kw, bpr_kw, seed=0):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    return (
        AlternatingLeastSquares(factors=64, iterations=15, num_threads=N_THREADS, random_state=seed, **als_kw),
        BayesianPersonalizedRanking(factors=64, iterations=100, num_threads=N_THREADS, random_state=seed, **bpr_kw),
    )


def _row(name, m, i):
    return (f"| {name} | {m['fit']:.3f} | {i['fit']:.3f} | {m['fit'] / i['fit']:.2f} | "
            f"{m['ndcg@10']:.4f} | {i['ndcg@10']:.4f} | {m['p@10']:.4f} | {i['p@10']:.4f} | "
            f"{m['map@10']:.4f} | {i['map@10']:.4f} | {m['map_rel']:.4f} | {i['map_rel']:.4f} | "
            f"{m['rec']:.3f} | {i['rec']:.3f} |")


HEADER = ("| workload | maaskit fit s | implicit fit s | fit ratio | maaskit ndcg@10 | implicit ndcg@10 | "
          "maaskit p@10 | implicit p@10 | maaskit map@10 (min) | implicit map@10 (min) | "
          "maaskit map (rel) | implicit map (rel) | maaskit top-10 s | implicit top-10 s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def _warmup(backend):
    """Warm both libraries up the same way: a small fit and a recommend each; (maaskit, implicit) s."""
    R = sp.random(50, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
    users = np.arange(5, dtype=np.int32)
    t0 = time.perf_counter()
    for cls in (ALS, BPR):
        cls(8, max_iter=1, backend=backend, random_state=0, n_jobs=N_THREADS).fit(R).recommend(users, n=3)
    m_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for peer in _peers({}, {}):
        peer.iterations = 1
        peer.fit(R, show_progress=False)
        peer.recommend(users, R[users], N=3)
    return m_s, time.perf_counter() - t0


def _tuned_implicit_als(R, seed=0):
    """implicit ALS tuned on validation carved from R (10% of each user's items), refitted on R."""
    from implicit.cpu.als import AlternatingLeastSquares

    rng = np.random.RandomState(seed)
    coo = R.tocoo()
    val = rng.rand(coo.nnz) < 0.1
    tr = sp.csr_matrix((coo.data[~val], (coo.row[~val], coo.col[~val])), shape=R.shape)
    vu, vi = coo.row[val], coo.col[val]
    keep = np.diff(tr.indptr)[vu] > 0
    vu, vi = vu[keep], vi[keep]
    users = np.unique(vu).astype(np.int32)
    order = np.argsort(vu, kind="stable")
    groups = np.split(vi[order], np.cumsum(np.bincount(vu, minlength=R.shape[0]))[:-1])
    truth = [groups[u] for u in users]
    liked = tr[users]
    best, results = None, []
    for reg in (0.01, 0.05, 0.5, 5.0, 20.0):
        for alpha in (1.0, 2.0, 5.0, 10.0):
            m = AlternatingLeastSquares(factors=64, iterations=15, regularization=reg, alpha=alpha,
                                        num_threads=N_THREADS, random_state=seed)
            m.fit(tr, show_progress=False)
            ids, _ = m.recommend(users, liked, N=10, filter_already_liked_items=True)
            score = ndcg_at_k(truth, ids, k=10)
            results.append((score, reg, alpha))
            if best is None or score > best[0]:
                best = (score, reg, alpha)
    return best, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="MovieLens 100k only")
    ap.add_argument("--backend", default="cython", choices=["cython", "numba"])
    args = ap.parse_args()
    be = args.backend
    rows = []
    with threadpool_limits(1, "blas"):
        m_s, i_s = _warmup(be)
        print(f"warm-up (first calls, not timed below): maaskit {m_s:.2f} s, implicit {i_s:.2f} s")
        df = _ml100k()
        # Protocol 1: ratings >= 4, 80/20.
        pos = df[df["rating"] >= 4]
        R, users, truth = _make_split(*_encode(pos), 0.2, 0)
        iALS, iBPR = _peers({"regularization": 0.05}, {})
        mALS = ALS(64, max_iter=15, random_state=0, n_jobs=N_THREADS, backend=be)
        mBPR = BPR(64, max_iter=100, random_state=0, n_jobs=N_THREADS, backend=be)
        rows.append(_row("ML-100k (>=4, 80/20) ALS", _run_maaskit(mALS, R, users, truth), _run_implicit(iALS, R, users, truth)))
        print(rows[-1], flush=True)
        # Same hyper-parameters for implicit: reg 20, alpha 2 (= confidence 1 + 1 * r on binary data).
        iALS2, _ = _peers({"regularization": 20.0, "alpha": 2.0}, {})
        mALS = ALS(64, max_iter=15, random_state=0, n_jobs=N_THREADS, backend=be)
        rows.append(_row("ML-100k (>=4, 80/20) ALS, implicit with maaskit's reg/alpha", _run_maaskit(mALS, R, users, truth), _run_implicit(iALS2, R, users, truth)))
        print(rows[-1], flush=True)
        rows.append(_row("ML-100k (>=4, 80/20) BPR", _run_maaskit(mBPR, R, users, truth), _run_implicit(iBPR, R, users, truth)))
        print(rows[-1], flush=True)
        # Our defaults (Recommender(), no tuning on the test part) against implicit's ALS tuned
        # on validation carved from the training matrix; the grid search is outside the fit
        # timer here (its cost is printed), the refit with the best pair inside.
        from maaskit import Recommender

        t0 = time.perf_counter()
        (vscore, reg, alpha), grid = _tuned_implicit_als(R)
        grid_s = time.perf_counter() - t0
        print(f"implicit ALS grid (validation nDCG@10): best reg={reg} alpha={alpha} "
              f"({vscore:.4f}), {len(grid)} fits in {grid_s:.1f} s", flush=True)
        iT, _ = _peers({"regularization": reg, "alpha": alpha}, {})
        rows.append(_row(f"ML-100k (>=4, 80/20) maaskit Recommender() defaults vs implicit ALS tuned on validation (reg={reg}, alpha={alpha})",
                         _run_maaskit(Recommender(random_state=0), R, users, truth), _run_implicit(iT, R, users, truth)))
        print(rows[-1], flush=True)
        # Protocol 2: Microsoft Recommenders, all ratings, 75/25.
        R, users, truth = _make_split(*_encode(df), 0.25, 0)
        iALS, iBPR = _peers({"regularization": 0.05}, {})
        mALS = ALS(64, max_iter=15, random_state=0, n_jobs=N_THREADS, backend=be)
        mBPR = BPR(64, max_iter=100, random_state=0, n_jobs=N_THREADS, backend=be)
        rows.append(_row("ML-100k MS-Recommenders (all, 75/25) ALS", _run_maaskit(mALS, R, users, truth), _run_implicit(iALS, R, users, truth)))
        print(rows[-1], flush=True)
        rows.append(_row("ML-100k MS-Recommenders (all, 75/25) BPR", _run_maaskit(mBPR, R, users, truth), _run_implicit(iBPR, R, users, truth)))
        print(rows[-1], flush=True)
        if not args.quick:
            from maaskit.datasets import make_interactions

            t0 = time.perf_counter()
            syn = make_interactions(200_000, 50_000, 10_000_000, kind="implicit", random_state=0)
            print(f"make_interactions: {time.perf_counter() - t0:.1f} s, {len(syn)} rows", flush=True)
            u, i = syn["user"].to_numpy(np.int32), syn["item"].to_numpy(np.int32)
            R, users, truth = _make_split(u, i, 200_000, 50_000, 0.2, 0)
            sel = np.random.RandomState(0).choice(len(users), 10_000, replace=False)
            users, truth = users[sel], [truth[s] for s in sel]
            del syn
            iALS, iBPR = _peers({"regularization": 0.05}, {})
            mALS = ALS(64, max_iter=15, random_state=0, n_jobs=N_THREADS, backend=be)
            rows.append(_row("synthetic 10M (80/20) ALS", _run_maaskit(mALS, R, users, truth), _run_implicit(iALS, R, users, truth)))
            print(rows[-1], flush=True)
            mBPR = BPR(64, max_iter=100, random_state=0, n_jobs=N_THREADS, backend=be)
            rows.append(_row("synthetic 10M (80/20) BPR", _run_maaskit(mBPR, R, users, truth), _run_implicit(iBPR, R, users, truth)))
            print(rows[-1], flush=True)
    print()
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
