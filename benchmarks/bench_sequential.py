"""Next-item recommendation: maaskit SASRec against RecTools' SASRecModel (issue 13).

Protocol (one split and one metric code path for every row)
-----------------------------------------------------------
MovieLens 100k (``u.data``; and MovieLens 1M ``ratings.dat`` when ``MAASKIT_DATA`` holds
``ml-1m/``): every rating is an interaction. ``maaskit.model_selection.leave_last_out``
sends each user's latest interaction (by timestamp; ties keep the file order) to test and
the rest to train (``n_valid=0``: SASRec carves its own validation tail from train for
early stopping). Test users whose held-out item never occurs in train are dropped (no model
can rank an item it has never seen); the count is printed. Every model gets the same train
frame and ranks the full catalogue of training items with the user's training items
filtered out; its top-10 is scored by the single function :func:`score` with
``maaskit.metrics.ndcg_at_k`` and ``hr_at_k``. No sampled negatives anywhere.

Rows: maaskit ``SASRec()`` at its defaults, maaskit ``ALS()`` and ``BPR()`` at their
defaults (implicit feedback, user and item only), and RecTools 0.19 ``SASRecModel`` with
2 blocks, 64 factors, softmax loss, 30 epochs, ``session_max_len=50`` (maaskit's
``max_len``) and its other defaults. RecTools gets the same train frame (its
``Dataset.construct`` maps the raw ids itself); its recommendations come back as raw ids
and are laid out in the same users-by-10 array as maaskit's before scoring. Fit times are
wall-clock around ``fit`` (RecTools: around ``Dataset.construct`` + ``fit``); maaskit is
warmed up first (Numba/JIT compile reported separately).

Scale section: ``make_interactions(..., kind="implicit", sequential=True)`` with
``--scale N`` interactions (or ``MAASKIT_BENCH_SCALE``; default 1,000,000, 10,000,000 for
the issue's figure); one SASRec epoch with ``max_len=200`` and the sampled softmax (the
full softmax over 50k items per position is out of reach on a CPU), the time per epoch,
and the p50/p99 of ``recommend_history`` top-10 latency for one history of 200 items.

Usage::

    PYTHONPATH=$PWD/src /work/venv-peers/bin/python benchmarks/bench_sequential.py \
        [--quick] [--scale N] [--no-peer] [--no-scale]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from maaskit.datasets import find_data_home, load_movielens, make_interactions
from maaskit.metrics import hr_at_k, ndcg_at_k, relevant_items_by_user
from maaskit.model_selection import filter_test_to_train, leave_last_out
from maaskit.recommender import ALS, BPR, SASRec

K = 10


# --------------------------------------------------------------------------- data
def load(variant: str) -> pd.DataFrame | None:
    needs = "ml-100k/u.data" if variant == "100k" else "ml-1m/ratings.dat"
    home = find_data_home(needs)
    if home is None:
        return None
    return load_movielens(variant, data_home=home)


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    # Row order = time order (stable), so every library reads the same sequence per user.
    df = df.sort_values(["user", "timestamp"], kind="stable").reset_index(drop=True)
    train, _, test = leave_last_out(df, n_valid=0)
    kept = filter_test_to_train(train, test)
    return train, kept, len(test) - len(kept)


# --------------------------------------------------------------------------- metric
def score(test: pd.DataFrame, users: np.ndarray, top: np.ndarray) -> dict[str, float]:
    """The one metric path: top-``K`` ids per user (rows aligned with ``users``)."""
    _, truth = relevant_items_by_user(test, users=users)
    top = np.asarray(top, dtype=object)
    mask = np.array([[x is not None and x == x for x in row] for row in top], dtype=bool)
    return {"ndcg@10": ndcg_at_k(truth, top, k=K, mask=mask),
            "hr@10": hr_at_k(truth, top, k=K, mask=mask)}


def maaskit_top(model, users: np.ndarray) -> np.ndarray:
    ids, _ = model.recommend(users, n=K, exclude_seen=True, output="numpy")
    return np.atleast_2d(ids)


# --------------------------------------------------------------------------- rows
def run_maaskit(name: str, make, train: pd.DataFrame, test: pd.DataFrame, users: np.ndarray,
                cols: list[str]) -> dict:
    print(f"  fitting {name} ...", flush=True)
    model = make()
    t0 = time.perf_counter()
    model.fit(train[cols])
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    top = maaskit_top(model, users)
    rec = time.perf_counter() - t0
    row = {"model": name, "fit_s": fit, "recommend_s": rec, **score(test, users, top)}
    if hasattr(model, "n_iter_"):
        row["epochs"] = model.n_iter_
    if hasattr(model, "history_") and "val_ndcg" in model.history_:
        # SASRec's own validation tail (carved from train): what its defaults were chosen on
        row["best_val_ndcg@10"] = float(np.nanmax(model.history_["val_ndcg"] or [np.nan]))
        row["best_epoch"] = model.best_epoch_
    print(f"    {row}", flush=True)
    return row


def run_rectools(train: pd.DataFrame, test: pd.DataFrame, users: np.ndarray, seed: int) -> dict | None:
    try:
        import torch
        from rectools import Columns
        from rectools.dataset import Dataset
        from rectools.models import SASRecModel
    except Exception as exc:  # noqa: BLE001 -- any import failure skips the row
        print(f"  RecTools row skipped: rectools/torch not importable ({type(exc).__name__}: {exc})")
        return None
    import logging

    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.manual_seed(seed)
    np.random.seed(seed)
    frame = pd.DataFrame({
        Columns.User: train["user"].to_numpy(),
        Columns.Item: train["item"].to_numpy(),
        Columns.Weight: 1.0,
        Columns.Datetime: pd.to_datetime(train["timestamp"].to_numpy(), unit="s"),
    })
    model = SASRecModel(n_blocks=2, n_factors=64, loss="softmax", epochs=30, session_max_len=50,
                        deterministic=True, verbose=0)
    print("  fitting RecTools SASRecModel ...", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        dataset = Dataset.construct(frame)
        model.fit(dataset)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = model.recommend(users=users, dataset=dataset, k=K, filter_viewed=True)
        rec = time.perf_counter() - t0
    # Map RecTools' answer (raw ids, one row per recommendation) to the users x K layout.
    top = np.full((len(users), K), None, dtype=object)
    row_of = pd.Index(users).get_indexer(recs[Columns.User].to_numpy())
    rank = recs[Columns.Rank].to_numpy().astype(np.int64) - 1
    ok = (row_of >= 0) & (rank < K)
    top[row_of[ok], rank[ok]] = recs[Columns.Item].to_numpy()[ok]
    return {"model": "RecTools SASRecModel", "fit_s": fit, "recommend_s": rec,
            **score(test, users, top), "epochs": 30}


def warm_up() -> float:
    t0 = time.perf_counter()
    tiny = make_interactions(60, 40, 900, kind="implicit", random_state=0, sequential=True)
    SASRec(n_factors=8, max_iter=1, early_stopping=False, random_state=0).fit(tiny[["user", "item", "timestamp"]])
    ALS(n_factors=8, max_iter=1).fit(tiny[["user", "item"]])
    BPR(n_factors=8, max_iter=1).fit(tiny[["user", "item"]])
    return time.perf_counter() - t0


def movielens_section(variant: str, df: pd.DataFrame, peer: bool, quick: bool,
                      rows_wanted: set[str] | None = None) -> list[dict]:
    train, test, dropped = split(df)
    users = relevant_items_by_user(test)[0]
    print(f"\n== MovieLens {variant}: {len(df):,} interactions, {df['user'].nunique():,} users, "
          f"{df['item'].nunique():,} items; leave-last-out: {len(train):,} train, "
          f"{len(users):,} test users ({dropped} dropped: held-out item not in train)")
    rows = []
    want = rows_wanted or {"sasrec", "als", "bpr", "rectools"}
    sas_kw = {"max_iter": 3, "early_stopping": False} if quick else {}
    if "sasrec" in want:
        rows.append(run_maaskit("maaskit SASRec (defaults)", lambda: SASRec(random_state=0, **sas_kw),
                                train, test, users, ["user", "item", "timestamp"]))
    if "als" in want:
        rows.append(run_maaskit("maaskit ALS (defaults)", lambda: ALS(random_state=0), train, test, users,
                                ["user", "item"]))
    if "bpr" in want:
        rows.append(run_maaskit("maaskit BPR (defaults)", lambda: BPR(random_state=0), train, test, users,
                                ["user", "item"]))
    if peer and "rectools" in want:
        r = run_rectools(train, test, users, seed=0)
        if r is not None:
            rows.append(r)
    print(f"\n  {'model':<28}{'NDCG@10':>9}{'HR@10':>8}{'fit s':>9}{'epochs':>8}{'top-10 s':>10}")
    for r in rows:
        print(f"  {r['model']:<28}{r['ndcg@10']:>9.4f}{r['hr@10']:>8.4f}{r['fit_s']:>9.1f}"
              f"{r.get('epochs', ''):>8}{r['recommend_s']:>10.2f}")
    peer_row = next((r for r in rows if r["model"].startswith("RecTools")), None)
    if peer_row is not None and rows[0]["model"].startswith("maaskit SASRec"):
        ours = rows[0]
        print(f"  SASRec fit time ratio maaskit / RecTools: {ours['fit_s'] / peer_row['fit_s']:.3f} "
              f"(target <= 0.25); NDCG@10 ratio: {ours['ndcg@10'] / peer_row['ndcg@10']:.3f} (target >= 1)")
    return rows


def scale_section(n_interactions: int, seed: int = 0) -> None:
    n_users = max(1_000, n_interactions // 50)
    n_items = max(2_000, min(50_000, n_interactions // 200))
    print(f"\n== Scale: make_interactions({n_users:,} users, {n_items:,} items, "
          f"{n_interactions:,}, kind='implicit', sequential=True)")
    t0 = time.perf_counter()
    df = make_interactions(n_users, n_items, n_interactions, kind="implicit", random_state=seed,
                           sequential=True)
    print(f"  generated in {time.perf_counter() - t0:.1f} s")
    frame = df[["user", "item", "timestamp"]]
    del df
    model = SASRec(max_len=200, loss="sampled", max_iter=1, early_stopping=False, random_state=seed)
    t0 = time.perf_counter()
    model.fit(frame)
    total = time.perf_counter() - t0
    print(f"  SASRec(max_len=200, loss='sampled', n_negatives=256): one epoch {model.fit_time_:.1f} s "
          f"(fit in all {total:.1f} s)")
    # Latency: one history of 200 items, top-10, called one at a time.
    rng = np.random.default_rng(seed)
    items = frame["item"].to_numpy()
    hists = [items[rng.integers(0, len(items), 200)].tolist() for _ in range(50)]
    for h in hists[:5]:
        model.recommend_history(h, n=K)
    lat = []
    for j in range(1_000):
        t0 = time.perf_counter()
        model.recommend_history(hists[j % len(hists)], n=K)
        lat.append(time.perf_counter() - t0)
    lat_ms = np.array(lat) * 1e3
    print(f"  recommend_history top-10, one history of 200 items, {len(lat)} calls: "
          f"p50 {np.percentile(lat_ms, 50):.2f} ms, p99 {np.percentile(lat_ms, 99):.2f} ms (target p99 < 5 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 SASRec epochs, for a smoke run")
    ap.add_argument("--scale", type=int, default=int(os.environ.get("MAASKIT_BENCH_SCALE", 1_000_000)),
                    help="interactions in the scale section (default 1M; 10M for the issue's figure)")
    ap.add_argument("--no-peer", action="store_true", help="skip RecTools")
    ap.add_argument("--no-scale", action="store_true", help="skip the scale section")
    ap.add_argument("--no-movielens", action="store_true", help="skip the MovieLens section")
    ap.add_argument("--rows", default="sasrec,als,bpr,rectools",
                    help="comma-separated MovieLens rows to run (default: all)")
    args = ap.parse_args()
    print(f"bench_sequential: {platform.platform()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"maaskit warm-up (JIT compile and first calls): {warm_up():.1f} s")
    if not args.no_movielens:
        for variant in ("100k", "1m"):
            df = load(variant)
            if df is None:
                where = "ml-100k/u.data" if variant == "100k" else "ml-1m/ratings.dat"
                print(f"\n== MovieLens {variant}: skipped ({where} not found; set MAASKIT_DATA to a folder holding it)")
                continue
            movielens_section(variant, df, peer=not args.no_peer, quick=args.quick,
                              rows_wanted=set(args.rows.split(",")))
    if not args.no_scale:
        scale_section(args.scale)


if __name__ == "__main__":
    main()
