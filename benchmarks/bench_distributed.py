"""maaskit on Dask against the single-process calls, side by side in one run.

Workloads
---------
1. Batch top-10 (training items excluded) for 1M synthetic users (``--quick``: 100k):
   ``maaskit.distributed.recommend_batch`` on a local process cluster (1 worker x 1
   thread, 2 workers x 1 thread; partitions of 100k users, and 250k (``--quick``: 25k)
   on 2 workers), each writing Parquet, against the in-process ``model.recommend(users, output="pandas")``
   (with and without writing the same Parquet) with 1 and 2 kernel threads. The model is
   an ALS (64 factors) fitted for one iteration on
   ``make_interactions(1M users, 10k items, 3M, kind="implicit")``: scoring cost does
   not depend on the factor values. Shipping the model to the workers is included.
2. ALS on ``make_interactions(200k users, 50k items, 10.6M, kind="implicit")``
   (``--quick``: 50k x 10k, 1M), 95% random train split: time per iteration of the in-process ``ALS.fit``
   (n_jobs=2) against ``fit_distributed`` on 1 worker x 2 threads and 2 workers x 1
   thread (64 factors, CG solver). Per-iteration time is ``(T(3 it) - T(0 it)) / 3``, so
   set-up (validation, blocks) is reported apart; nDCG@10 on 5k held-out users checks
   that the models are equally good.

Worker start-up and the first imports on workers are excluded (a warm-up call). The
machine load is printed: on a shared machine all numbers are noisy.

Usage: ``python benchmarks/bench_distributed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import dask.dataframe as dd
from distributed import Client, LocalCluster

from maaskit.datasets import make_interactions
from maaskit.distributed import fit_distributed, recommend_batch
from maaskit.metrics import ndcg_at_k
from maaskit.model_selection import random_split
from maaskit.recommender import ALS


def _cluster(n_workers: int, threads: int) -> tuple[LocalCluster, Client]:
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=True,
                           memory_limit=0, dashboard_address=None, silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _print_table(title: str, header: list[str], rows: list[list]) -> list[str]:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    print("\n".join(lines) + "\n", flush=True)
    return lines + [""]


def bench_batch(quick: bool, tmp: Path) -> list[str]:
    n_users, n_items, nnz = (100_000, 10_000, 300_000) if quick else (1_000_000, 10_000, 3_000_000)
    t_gen, df = _timed(lambda: make_interactions(n_users=n_users, n_items=n_items, n_interactions=nnz,
                                                 kind="implicit", random_state=0)[["user", "item"]])
    model = ALS(n_factors=64, max_iter=1, random_state=0).fit(df)
    users = model.user_index_.ids.copy()
    print(f"batch: {n_users} users x {n_items} items, {nnz} interactions (generated in {t_gen:.1f} s)",
          flush=True)
    model.recommend(users[:1000], n=10)  # warm-up: JIT and page-in

    rows = []
    base = None
    for threads in (2, 1):
        model.n_jobs = threads
        t_rec, frame = _timed(lambda: model.recommend(users, n=10, output="pandas"))
        t_pq, _ = _timed(lambda: frame.to_parquet(tmp / f"inproc{threads}.parquet", index=False))
        if threads == 2:
            base = t_rec + t_pq
            expected = frame
        rows.append([f"in-process recommend, {threads} thread(s)", "-", f"{t_rec:.2f}",
                     f"{t_rec + t_pq:.2f}", f"{n_users / (t_rec + t_pq):,.0f}",
                     f"{(t_rec + t_pq) / base:.2f}"])
    model.n_jobs = None

    configs = [(1, 1, 100_000), (2, 1, 100_000)]
    configs += [(2, 1, 25_000)] if quick else [(2, 1, 250_000)]
    checked = False
    for n_workers, threads, psize in configs:
        cluster, client = _cluster(n_workers, threads)
        try:
            recommend_batch(model, users[:2000], n=10, partition_size=1000, client=client).compute()
            out = tmp / f"dist_{n_workers}_{psize}"
            t, _ = _timed(lambda: recommend_batch(model, users, n=10, partition_size=psize,
                                                  client=client, output=out))
            if not checked:  # identical answers to the in-process call
                back = pd.read_parquet(out)
                pd.testing.assert_frame_equal(back.reset_index(drop=True), expected, check_dtype=False)
                checked = True
            shutil.rmtree(out)
        finally:
            client.close()
            cluster.close()
        rows.append([f"recommend_batch, {n_workers} worker(s) x {threads} thread", f"{psize:,}", "-",
                     f"{t:.2f}", f"{n_users / t:,.0f}", f"{t / base:.2f}"])
    return _print_table(
        f"Batch top-10, {n_users:,} users x {n_items:,} items, 64 factors (Parquet output)",
        ["run", "partition (users)", "recommend s", "total s (to Parquet)", "users/s",
         "ratio vs in-process 2 threads"], rows)


def _ndcg(model, test: pd.DataFrame, n_users: int = 5000) -> float:
    users = test["user"].drop_duplicates().to_numpy()[:n_users]
    sub = test[test["user"].isin(users)]
    groups = sub.groupby("user", sort=False)["item"]
    ids, _ = model.recommend(np.array(list(groups.groups)), n=10, output="numpy")
    return ndcg_at_k([g.to_numpy() for _, g in groups], ids, k=10)


def _dask_frame(df: pd.DataFrame, client: Client, n_parts: int) -> dd.DataFrame:
    # Scatter the partitions first: embedding 10M rows in the task graph is slow (and dask
    # warns about it); in production the frame would come from dd.read_parquet.
    edges = np.linspace(0, len(df), n_parts + 1).astype(int)
    futures = client.scatter([df.iloc[a:b] for a, b in zip(edges[:-1], edges[1:])])
    return dd.from_delayed(futures, meta=df.iloc[:0], verify_meta=False)


def bench_als(quick: bool) -> list[str]:
    n_users, n_items, nnz = (50_000, 10_000, 1_000_000) if quick else (200_000, 50_000, 10_600_000)
    t_gen, df = _timed(lambda: make_interactions(n_users=n_users, n_items=n_items, n_interactions=nnz,
                                                 kind="implicit", random_state=0)[["user", "item", "rating"]])
    train, test = random_split(df, test_size=0.05, random_state=0)
    test = test[test["user"].isin(train["user"]) & test["item"].isin(train["item"])]
    print(f"ALS: {n_users} users x {n_items} items, {nnz} interactions (generated in {t_gen:.1f} s), "
          f"95% train", flush=True)
    params = dict(n_factors=64, regularization=20.0, random_state=0)
    n_it = 3
    ALS(n_factors=8, max_iter=1).fit(train.iloc[:10_000])  # warm-up
    t0, _ = _timed(lambda: ALS(**params, max_iter=0, n_jobs=2).fit(train))
    tn, local = _timed(lambda: ALS(**params, max_iter=n_it, n_jobs=2).fit(train))
    base = (tn - t0) / n_it
    nd_local = _ndcg(local, test)
    rows = [["in-process ALS.fit, 2 threads", "-", f"{t0:.2f}", f"{base:.2f}", "1.00", f"{nd_local:.4f}"]]
    for n_workers, threads in ((1, 2), (2, 1)):
        cluster, client = _cluster(n_workers, threads)
        try:
            ddf = _dask_frame(train, client, 4 * n_workers)
            fit_distributed(ALS(n_factors=8, max_iter=1), train.iloc[:10_000], client)  # warm-up
            t0, _ = _timed(lambda: fit_distributed(ALS(**params, max_iter=0), ddf, client))
            tn, dist = _timed(lambda: fit_distributed(ALS(**params, max_iter=n_it), ddf, client))
        finally:
            client.close()
            cluster.close()
        per = (tn - t0) / n_it
        rows.append([f"fit_distributed, {n_workers} worker(s) x {threads} thread(s)", n_workers,
                     f"{t0:.2f}", f"{per:.2f}", f"{per / base:.2f}", f"{_ndcg(dist, test):.4f}"])
    return _print_table(
        f"ALS, {len(train):,} training interactions ({n_users:,} users x {n_items:,} items), "
        f"64 factors, CG, {n_it} iterations",
        ["run", "blocks per side", "set-up s (0 iterations)", "s / iteration",
         "ratio vs in-process", "nDCG@10 (5k held-out users)"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets")
    parser.add_argument("--out", default=None, help="also write the tables to this markdown file")
    args = parser.parse_args()
    head = [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cores: {os.cpu_count()}; "
            f"load before: {tuple(round(x, 2) for x in os.getloadavg())}; quick: {args.quick}", ""]
    print(head[0], flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="maaskit_bench_dist_"))
    try:
        lines = bench_batch(args.quick, tmp) + bench_als(args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tail = f"load after: {tuple(round(x, 2) for x in os.getloadavg())}"
    print(tail)
    if args.out:
        Path(args.out).write_text("\n".join(head + lines + [tail, ""]))


if __name__ == "__main__":
    main()
