"""Hybrid (feature-based) recommenders against LightFM on MovieLens 100k (issue 14).

Data: ML-100k ratings >= 4 are the interactions; features from ``u.item`` (genres as a
multi-label column, release decade) and ``u.user`` (age band, gender, occupation), loaded
by ``maaskit.datasets.load_movielens_features``. ``--title`` adds the title as a text
column for every row that takes features.

Splits (the same for every row):

- **warm**: random 80/20 of the interactions; each test user ranks every item, training
  items excluded; precision@10 (and NDCG@10).
- **cold items**: 20% of the items held out with every interaction they have. Training
  uses the rest, with features for all items. Each test user ranks only the cold items;
  AUC and NDCG@10 among them.
- **cold users**: 20% of the users held out with every interaction they have. Training
  uses the rest; each test user is ranked (over all items) from their features alone;
  AUC and NDCG@10.

Rows:

- LightFM 1.17 (WARP, 64 components, 30 epochs, its default learning rate), with the same
  features plus identity features for users and items, built directly as sparse matrices
  (identity | the FeatureEncoder's 0/1 columns), rows normalised to sum 1 as
  ``lightfm.data.Dataset`` does (``normalize=True``).
- maaskit ``HybridMF()`` at its defaults (skipped with a message when this checkout has no
  HybridMF); fit time includes its feature encoding.
- prototype "ALS with side information" (issue 14's second model, measured, not shipped):
  ``ALS()`` on the interactions, then a ridge regression of its item (user) factors on
  the 0/1 features; an item or user unknown to ALS gets the regression's prediction.
- maaskit ``ALS()`` at its defaults, without features: on the cold splits it cannot score
  a cold item or user (plain MF is at chance there: all ties, AUC 0.5).
- maaskit ``Popularity`` on cold users: what a new user gets today.

Every row gives a score matrix (test users x candidate items; NaN where it cannot
score) to the same metric code: ties are broken by one fixed random order shared by all
rows, AUC counts ties as one half. Threads: LightFM ``num_threads=2``, maaskit its default
(all cores: 2 here), BLAS limited to 1 thread. maaskit's first-call costs (Numba compile)
are paid by a small warm-up fit before any timing, and printed.

Seeds: every split seed (``--split-seeds 0,1``) gives its three splits; on each, every
model seed (``--model-seeds 0,1,2``, LightFM's and HybridMF's ``random_state``) fits the
feature rows again (ALS and Popularity once per split seed). The summary gives each metric
as mean +- sd over those runs and HybridMF minus LightFM paired by run, with the count of
runs where HybridMF is not below: a tie shows as a tie. Both libraries train with Hogwild
threads, so even a fixed seed moves between runs.

``--validation`` never touches a test part: it re-splits the warm split's *training* 80%
the same three ways (seed + 1000) and scores there; defaults are chosen on it.
``--hybrid '{"param": value}'`` adds a HybridMF row with those parameters (repeatable),
``--splits "cold users"`` runs some splits only, ``--rows`` picks rows.

Usage: ``python benchmarks/bench_hybrid.py [--split-seeds 0,1] [--model-seeds 0,1,2] [--title]
[--epochs 30] [--validation]``, run with the peers' venv:
``PYTHONPATH=$PWD/src /work/venv-peers/bin/python benchmarks/bench_hybrid.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from maaskit.metrics import ndcg_at_k, precision_at_k
from maaskit.recommender import ALS, FeatureEncoder, Popularity

N_THREADS = 2
K = 10


# ---------------------------------------------------------------------------------- data
def load(title: bool):
    from maaskit.datasets import find_data_home, load_movielens, load_movielens_features

    home = find_data_home("ml-100k/u.user")
    if home is None:
        sys.exit("ml-100k/u.user not found: set MAASKIT_DATA to the folder holding ml-100k/")
    ratings = load_movielens(data_home=home)
    items, users = load_movielens_features(data_home=home)
    if not title:
        items = items.drop(columns="title")
    pos = ratings.loc[ratings["rating"] >= 4, ["user", "item"]].reset_index(drop=True)
    return pos, items, users


class Split:
    """Train interactions, test truth and candidates, in the benchmark's own id order."""

    def __init__(self, name, train, test, candidates, exclude_train, test_users):
        self.name = name
        self.train = train  # DataFrame user, item
        self.candidates = np.asarray(candidates)  # item ids every test user ranks
        self.exclude_train = exclude_train
        self.test_users = np.asarray(test_users)
        groups = test.groupby("user")["item"].apply(np.asarray)
        self.truth = [groups[u] for u in self.test_users]


def make_splits(pos, items, users, seed):
    rng = np.random.RandomState(seed)
    # warm: random 80/20 of the interactions
    perm = rng.permutation(len(pos))
    cut = int(0.8 * len(pos))
    train, test = pos.iloc[perm[:cut]], pos.iloc[perm[cut:]]
    test = test[test["user"].isin(train["user"]) & test["item"].isin(train["item"])]
    warm = Split("warm", train, test, items.index.to_numpy(), True, np.unique(test["user"]))
    # cold items: 20% of the items with all their interactions
    cold_i = rng.choice(items.index.to_numpy(), size=int(0.2 * len(items)), replace=False)
    is_cold = pos["item"].isin(cold_i)
    train, test = pos[~is_cold], pos[is_cold]
    test = test[test["user"].isin(train["user"])]
    cold_items = Split("cold items", train, test, np.sort(cold_i), False, np.unique(test["user"]))
    # cold users: 20% of the users with all their interactions
    cold_u = rng.choice(users.index.to_numpy(), size=int(0.2 * len(users)), replace=False)
    is_cold = pos["user"].isin(cold_u)
    train, test = pos[~is_cold], pos[is_cold]
    cold_users = Split("cold users", train, test, items.index.to_numpy(), False, np.unique(test["user"]))
    return [warm, cold_items, cold_users]


# ------------------------------------------------------------------------------- metrics
def evaluate(split: Split, S: np.ndarray, seed: int) -> dict:
    """The one metric path: score matrix (test users x candidates, NaN = cannot score)."""
    S = np.where(np.isnan(S), -1e30, S).astype(np.float64)  # unscorable: all tied, below the rest
    cand = split.candidates
    col = pd.Index(cand)
    if split.exclude_train:
        seen = split.train.groupby("user")["item"].apply(np.asarray)
        for r, u in enumerate(split.test_users):
            S[r, col.get_indexer(seen.get(u, []))] = -np.inf
    # one random order shared by every row breaks ties (all-NaN rows are then at chance)
    tiebreak = np.random.RandomState(seed + 99).rand(*S.shape)
    order = np.lexsort((-tiebreak, -S), axis=1)[:, :K]
    top = cand[order]
    out = {"p@10": precision_at_k(split.truth, top, k=K), "ndcg@10": ndcg_at_k(split.truth, top, k=K)}
    aucs = []
    for r, truth in enumerate(split.truth):
        rel = np.isin(cand, truth)
        if split.exclude_train:
            rel &= np.isfinite(S[r])
        valid = np.isfinite(S[r])
        n_pos, n_neg = int((rel & valid).sum()), int((~rel & valid).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        from scipy.stats import rankdata

        ranks = rankdata(S[r][valid])  # average ranks: a tie counts one half
        aucs.append((ranks[rel[valid]].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    out["auc"] = float(np.mean(aucs))
    return out


def matrix_from_recommend(ids, scores, cand_index: pd.Index) -> np.ndarray:
    """A score matrix from ``recommend``'s ranked ids (rank-based where scores are NaN)."""
    S = np.full((ids.shape[0], len(cand_index)), np.nan)
    n = ids.shape[1]
    for r in range(ids.shape[0]):
        ok = np.array([x is not None for x in ids[r]])
        cols = cand_index.get_indexer(ids[r][ok])
        sc = scores[r][ok].astype(np.float64)
        if np.isnan(sc).all():  # popularity fallback: the order is the model's answer
            sc = (n - np.arange(ok.sum())).astype(np.float64)
        S[r, cols] = sc
    return S


# ---------------------------------------------------------------------------------- rows
def encoder_matrices(items, users):
    ienc, uenc = FeatureEncoder(normalize=None), FeatureEncoder(normalize=None)
    return ienc.fit_transform(items), uenc.fit_transform(users)


def _with_identity(F):
    M = sp.hstack([sp.identity(F.shape[0], dtype=np.float32, format="csr"), F], format="csr")
    norms = np.asarray(M.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ M, dtype=np.float32)


class LightFMRow:
    name = "LightFM (WARP, 64, 30 ep)"
    takes_features = True

    def __init__(self, items, users, epochs, seed):
        from lightfm import LightFM

        self.LightFM, self.epochs, self.seed = LightFM, epochs, seed
        self.item_ids, self.user_ids = items.index, users.index
        IF, UF = encoder_matrices(items, users)
        self.IF, self.UF = _with_identity(IF), _with_identity(UF)

    def fit(self, split: Split):
        tr = split.train
        R = sp.coo_matrix((np.ones(len(tr), np.float32),
                           (self.user_ids.get_indexer(tr["user"]), self.item_ids.get_indexer(tr["item"]))),
                          shape=(len(self.user_ids), len(self.item_ids)))
        self.model = self.LightFM(loss="warp", no_components=64, random_state=self.seed)
        self.model.fit(R, user_features=self.UF, item_features=self.IF, epochs=self.epochs,
                       num_threads=N_THREADS)

    def scores(self, split: Split) -> np.ndarray:
        ub, ue = self.model.get_user_representations(self.UF)
        ib, ie = self.model.get_item_representations(self.IF)
        u = self.user_ids.get_indexer(split.test_users)
        i = self.item_ids.get_indexer(split.candidates)
        return ue[u] @ ie[i].T + ub[u][:, None] + ib[i][None, :]


class MaaskitRow:
    """A maaskit recommender scored through its public ``recommend``."""

    takes_features = False

    def __init__(self, name, make, items=None, users=None):
        self.name, self.make, self.items, self.users = name, make, items, users

    def fit(self, split: Split):
        self.model = self.make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.items is not None:
                self.model.fit(split.train, item_features=self.items, user_features=self.users)
            else:
                self.model.fit(split.train)

    def scores(self, split: Split) -> np.ndarray:
        m = self.model
        cand_index = pd.Index(split.candidates)
        known_items = split.candidates[m.item_index_.lookup(split.candidates) >= 0]
        S = np.full((len(split.test_users), len(cand_index)), np.nan)
        known_u = m.user_index_.lookup(split.test_users) >= 0
        # Popularity answers unknown users too (its fallback is its model); the others only
        # the users they know, and a cold user stays unscored (NaN: at chance)
        rows = np.arange(len(split.test_users)) if isinstance(m, Popularity) else np.flatnonzero(known_u)
        if len(rows) and len(known_items):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ids, sc = m.recommend(split.test_users[rows], n=len(known_items), exclude_seen=False,
                                      items=known_items, output="numpy")
            S[rows] = matrix_from_recommend(np.atleast_2d(ids), np.atleast_2d(sc), cand_index)
        if hasattr(m, "recommend_new_user") and not known_u.all():
            cold = split.test_users[~known_u]
            feats = self.users.loc[cold]
            ids, sc = m.recommend_new_user(feats, n=len(split.candidates), items=split.candidates)
            S[~known_u] = matrix_from_recommend(np.atleast_2d(ids), np.atleast_2d(sc), cand_index)
        return S


class SideALSRow:
    """Prototype (issue 14, "ALS with side information"): maaskit ``ALS()`` on the
    interactions, then a ridge regression of the learned factors on the features
    (0/1 FeatureEncoder columns plus an intercept); an item (user) unknown to ALS gets the
    regression's prediction from its features. Not a maaskit model: measured here only."""

    takes_features = True

    def __init__(self, items, users, seed, ridge=1.0):
        self.name = "proto ALS + ridge(features)"
        self.seed, self.ridge = seed, ridge
        self.item_ids, self.user_ids = items.index, users.index
        IF, UF = encoder_matrices(items, users)
        one = lambda F: np.hstack([F.toarray(), np.ones((F.shape[0], 1))])  # noqa: E731
        self.IF, self.UF = one(IF), one(UF)

    def _regress(self, F_known, Y, F_all):
        A = F_known.T @ F_known + self.ridge * np.eye(F_known.shape[1])
        W = np.linalg.solve(A, F_known.T @ Y)
        return F_all @ W

    def fit(self, split: Split):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.als = ALS(random_state=self.seed).fit(split.train)
        a = self.als
        ipos = a.item_index_.lookup(self.item_ids.to_numpy())
        upos = a.user_index_.lookup(self.user_ids.to_numpy())
        Q = self._regress(self.IF[ipos >= 0], a.item_factors_[ipos[ipos >= 0]], self.IF)
        Q[ipos >= 0] = a.item_factors_[ipos[ipos >= 0]]
        P = self._regress(self.UF[upos >= 0], a.user_factors_[upos[upos >= 0]], self.UF)
        P[upos >= 0] = a.user_factors_[upos[upos >= 0]]
        self.P, self.Q = P, Q

    def scores(self, split: Split) -> np.ndarray:
        u = self.user_ids.get_indexer(split.test_users)
        i = self.item_ids.get_indexer(split.candidates)
        return self.P[u] @ self.Q[i].T


def warm_up(items, users):
    """Pay first-call costs (Numba compile, lazy imports) before any timing."""
    tiny = pd.DataFrame({"user": np.repeat(np.arange(20), 3), "item": np.tile(np.arange(3), 20)})
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ALS(n_factors=4, max_iter=1, random_state=0).fit(tiny).recommend([0], n=2)
        try:
            from maaskit.recommender import HybridMF
        except ImportError:
            HybridMF = None
        if HybridMF is not None:
            it = items.iloc[:3].set_axis(np.arange(3))
            us = users.iloc[:20].set_axis(np.arange(20))
            HybridMF(n_factors=4, max_iter=1, random_state=0).fit(tiny, item_features=it, user_features=us) \
                .recommend([0], n=2)
    return time.perf_counter() - t


def _seeds(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _summary(df: pd.DataFrame) -> None:
    """Mean +- sd of every metric over all runs, and HybridMF minus LightFM paired by run."""
    metrics = [("warm", "p@10"), ("warm", "ndcg@10"), ("cold items", "auc"), ("cold items", "ndcg@10"),
               ("cold users", "auc"), ("cold users", "ndcg@10")]
    print(f"\nsummary over {df['run'].nunique()} run(s) (split seed x model seed): mean +- sd (min..max)")
    for split, metric in metrics:
        g = df[df["split"] == split]
        for row, h in g.groupby("row", sort=False):
            v = h[metric].to_numpy()
            print(f"  {split:10s} {metric:8s} {row:28s} {v.mean():.4f} +- {v.std(ddof=1) if len(v) > 1 else 0:.4f}"
                  f"  ({v.min():.4f}..{v.max():.4f}, n={len(v)})")
        lf = g[g["row"].str.startswith("LightFM")].set_index("run")[metric]
        for row in g["row"].unique():
            if row.startswith("LightFM") or not row.startswith(("maaskit HybridMF", "proto")):
                continue
            hm = g[g["row"] == row].set_index("run")[metric]
            d = (hm - lf).dropna().to_numpy()
            if len(d):
                sd = d.std(ddof=1) if len(d) > 1 else 0.0
                se = sd / np.sqrt(len(d))
                print(f"  {'':10s} {'':8s} {row + ' - LightFM':28s} {d.mean():+.4f} +- {sd:.4f} "
                      f"(se {se:.4f}; >= LightFM in {(d >= 0).sum()}/{len(d)})")
    print("\nfit-time ratio to LightFM (same split and run), mean (min..max):")
    for split, g in df.groupby("split", sort=False):
        base = g[g["row"].str.startswith("LightFM")].set_index("run")["fit_s"]
        for row in g["row"].unique():
            r = (g[g["row"] == row].set_index("run")["fit_s"] / base).dropna().to_numpy()
            if len(r):
                print(f"  {split:11s} {row:28s} {r.mean():.2f}x ({r.min():.2f}..{r.max():.2f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=None, help="one seed for the split and the models (old form)")
    p.add_argument("--split-seeds", default="0", help="comma-separated seeds of the splits")
    p.add_argument("--model-seeds", default="0,1,2", help="comma-separated random_state of LightFM and HybridMF")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--title", action="store_true", help="add the title as a text feature")
    p.add_argument("--validation", action="store_true",
                   help="never touch a test part: re-split the warm split's training 80%% three ways and "
                        "score on those (for choosing defaults)")
    p.add_argument("--hybrid", action="append", default=[],
                   help="extra HybridMF row: JSON of parameters (repeatable), e.g. '{\"max_sampled\": 20}'")
    p.add_argument("--rows", default="lightfm,hybrid,sideals,als,pop", help="rows to run (lightfm,hybrid,sideals,als,pop)")
    p.add_argument("--splits", default="", help="comma-separated splits to run (default: all three)")
    args = p.parse_args(argv)
    split_seeds, model_seeds = _seeds(args.split_seeds), _seeds(args.model_seeds)
    if args.seed is not None:
        split_seeds, model_seeds = [args.seed], [args.seed]
    wanted = set(args.rows.split(","))
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1, user_api="blas")
    except ImportError:
        pass
    pos, items, users = load(args.title)
    print(f"ML-100k: {len(pos)} interactions (ratings >= 4), {len(users)} users, {len(items)} items; "
          f"item features {list(items.columns)}, user features {list(users.columns)}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"split seeds {split_seeds}, model seeds {model_seeds}, threads {N_THREADS}, "
          f"{'VALIDATION (training parts only)' if args.validation else 'test'}")
    try:
        print(f"load average {os.getloadavg()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    except OSError:
        pass
    print(f"maaskit warm-up (first-call costs, not in the fit times): {warm_up(items, users):.2f} s")
    try:
        from maaskit.recommender import HybridMF
    except ImportError:
        HybridMF = None
        print("maaskit HybridMF row skipped: this checkout has no maaskit.recommender.HybridMF.")
    has_lightfm = True
    try:
        import lightfm  # noqa: F401
    except ImportError as exc:
        has_lightfm = False
        print(f"LightFM row skipped: lightfm is not importable ({exc}). Install lightfm or rectools-lightfm.")
    results = []
    for split_seed in split_seeds:
        data = pos
        if args.validation:  # the warm split's training part only, re-split with another seed
            data = make_splits(pos, items, users, split_seed)[0].train.reset_index(drop=True)
        splits = make_splits(data, items, users, split_seed + (1000 if args.validation else 0))
        for mi, model_seed in enumerate(model_seeds):
            rows = []
            if has_lightfm and "lightfm" in wanted:
                rows.append(LightFMRow(items, users, args.epochs, model_seed))
            if HybridMF is not None and "hybrid" in wanted:
                rows.append(MaaskitRow("maaskit HybridMF()", lambda s=model_seed: HybridMF(random_state=s),
                                       items, users))
            for spec in args.hybrid:
                kw = json.loads(spec)
                rows.append(MaaskitRow(f"maaskit HybridMF {spec}",
                                       lambda s=model_seed, kw=kw: HybridMF(random_state=s, **kw), items, users))
            if "sideals" in wanted:
                rows.append(SideALSRow(items, users, model_seed))
            # plain MF and popularity do not take features: one model seed is enough
            if mi == 0 and "als" in wanted:
                rows.append(MaaskitRow("maaskit ALS() no features", lambda s=model_seed: ALS(random_state=s)))
            if mi == 0 and "pop" in wanted:
                rows.append(MaaskitRow("Popularity (no features)", lambda: Popularity()))
            run = f"{split_seed}/{model_seed}"
            for split in splits:
                if args.splits and split.name not in args.splits.split(","):
                    continue
                print(f"\n== run {run} {split.name}: {len(split.train)} train interactions, "
                      f"{len(split.test_users)} test users, {len(split.candidates)} candidate items")
                for row in rows:
                    if row.name.startswith("Popularity") and split.name != "cold users":
                        continue
                    t = time.perf_counter()
                    row.fit(split)
                    fit_s = time.perf_counter() - t
                    m = evaluate(split, row.scores(split), split_seed)
                    results.append({"run": run, "split": split.name, "row": row.name, "fit_s": fit_s, **m})
                    print(f"  {row.name:28s} P@10 {m['p@10']:.4f}  NDCG@10 {m['ndcg@10']:.4f}  "
                          f"AUC {m['auc']:.4f}  fit {fit_s:6.2f} s", flush=True)
    df = pd.DataFrame(results)
    _summary(df)
    try:
        print(f"load average at the end {os.getloadavg()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    except OSError:
        pass
    return df


if __name__ == "__main__":
    main()
