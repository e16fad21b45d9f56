"""Hybrid (feature-based) recommenders against LightFM on MovieLens 100k (issue 14).

Data: ML-100k ratings >= 4 are the interactions; features from ``u.item`` (genres as a
multi-label column, release decade) and ``u.user`` (age band, gender, occupation), loaded
by ``maaskit.datasets.load_movielens_features``. ``--title`` adds the title as a text
column for every row that takes features.

Splits (one seed, the same for every row):

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
- maaskit ``ALS()`` at its defaults, without features: on the cold splits it cannot score
  a cold item or user (plain MF is at chance there: all ties, AUC 0.5).
- maaskit ``Popularity`` on cold users: what a new user gets today.

Every row gives a score matrix (test users x candidate items; NaN where it cannot
score) to the same metric code: ties are broken by one fixed random order shared by all
rows, AUC counts ties as one half. Threads: LightFM ``num_threads=2``, maaskit its default
(all cores: 2 here), BLAS limited to 1 thread. maaskit's first-call costs (Numba compile)
are paid by a small warm-up fit before any timing, and printed.

Usage: ``python benchmarks/bench_hybrid.py [--seed 0] [--title] [--epochs 30]``, run with
the peers' venv: ``PYTHONPATH=$PWD/src /work/venv-peers/bin/python benchmarks/bench_hybrid.py``.
"""

from __future__ import annotations

import argparse
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--title", action="store_true", help="add the title as a text feature")
    args = p.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1, user_api="blas")
    except ImportError:
        pass
    pos, items, users = load(args.title)
    print(f"ML-100k: {len(pos)} interactions (ratings >= 4), {len(users)} users, {len(items)} items; "
          f"item features {list(items.columns)}, user features {list(users.columns)}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"seed {args.seed}, threads {N_THREADS}")
    print(f"maaskit warm-up (first-call costs, not in the fit times): {warm_up(items, users):.2f} s")
    rows = []
    try:
        rows.append(LightFMRow(items, users, args.epochs, args.seed))
    except ImportError as exc:
        print(f"LightFM row skipped: lightfm is not importable ({exc}). Install lightfm or rectools-lightfm.")
    try:
        from maaskit.recommender import HybridMF
        rows.append(MaaskitRow("maaskit HybridMF()", lambda: HybridMF(random_state=args.seed), items, users))
    except ImportError:
        print("maaskit HybridMF row skipped: this checkout has no maaskit.recommender.HybridMF.")
    rows.append(MaaskitRow("maaskit ALS() no features", lambda: ALS(random_state=args.seed)))
    rows.append(MaaskitRow("Popularity (no features)", lambda: Popularity()))
    results = []
    for split in make_splits(pos, items, users, args.seed):
        print(f"\n== {split.name}: {len(split.train)} train interactions, {len(split.test_users)} test users, "
              f"{len(split.candidates)} candidate items")
        for row in rows:
            if row.name.startswith("Popularity") and split.name != "cold users":
                continue
            t = time.perf_counter()
            row.fit(split)
            fit_s = time.perf_counter() - t
            m = evaluate(split, row.scores(split), args.seed)
            results.append({"split": split.name, "row": row.name, "fit_s": fit_s, **m})
            print(f"  {row.name:28s} P@10 {m['p@10']:.3f}  NDCG@10 {m['ndcg@10']:.3f}  AUC {m['auc']:.3f}  "
                  f"fit {fit_s:6.2f} s", flush=True)
    df = pd.DataFrame(results)
    print("\nfit-time ratios (row / LightFM, same split):")
    for split, g in df.groupby("split", sort=False):
        base = g.loc[g["row"].str.startswith("LightFM"), "fit_s"]
        if len(base):
            for _, r in g.iterrows():
                print(f"  {split:11s} {r['row']:28s} {r['fit_s'] / base.iloc[0]:.2f}x")
    return df


if __name__ == "__main__":
    main()
