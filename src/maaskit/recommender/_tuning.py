"""Model selection inside ``Recommender.fit``: a small successive-halving search on a validation
part carved from the training interactions only.

The test data of a benchmark (or a user's own hold-out) is never seen: the validation part is a
random slice of what ``fit`` receives, restricted to users and items that stay in the training
part (so every validation row is scored by the model, not by the cold-start fallback). The
chosen configuration is then refitted on all the interactions.

Search: every candidate trains the same number of epochs, a third of the shortest schedule in
the pool rounded down, at least 2 (the learning-rate schedule of the SGD models depends only
on the epoch number, so this is the prefix of a full fit); the best third (at least one, two
when there are three or more candidates) train the full epochs; the best on validation wins.
Candidates are ordered by prior quality, so an integer budget ``n`` searches the ``n`` most
promising ones.

Warm starts: the data is checked and numbered once, and the training part is a slice of it;
the SGD models' rung-1 fits continue copies of their rung-0 models, and the refit continues
the winner's rung-0 model on all the interactions for the epochs it has left
(``_RatingFactorModel._resume``), so the winner's short validation fit is not thrown away.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._config import effective_n_threads, get_config
from ..exceptions import ColdStartWarning, ModelFitError
from ..utils.validation import check_interactions
from ._mf import _RATINGS_PER_THREAD

# Below this many interactions a validation slice is too small to tell candidates apart
# reliably, and the search would cost more than it brings: tune="auto" keeps the defaults.
AUTO_MIN_INTERACTIONS = 20_000
AUTO_BUDGET = 3
# Below this many ratings tune="auto" searches the first two candidates only (SVD++ and MF at
# their defaults): the third, MF with 64 factors and lighter regularisation, is there for the
# larger, denser sets; on ML-100k (80k ratings) it ranked below SVD++ on every split at rung 0
# while costing more than SVD++'s rung 0 (session 6, RESULTS.md).
AUTO_SMALL = 200_000
AUTO_SMALL_BUDGET = 2


def auto_budget(n_interactions: int) -> int:
    """Candidates that ``tune="auto"`` searches on ``n_interactions`` explicit ratings."""
    if n_interactions < AUTO_MIN_INTERACTIONS:
        return 0
    return AUTO_SMALL_BUDGET if n_interactions < AUTO_SMALL else AUTO_BUDGET


VALIDATION_FRACTION = 0.1
# Rung 0 fits its candidates side by side when maaskit.set_config(n_threads=k > 1) asks for
# it and the SGD kernels would each use one thread (below two kernel threads' worth of
# ratings; see _mf._RATINGS_PER_THREAD).
PARALLEL_RUNG0 = True
_ONE_THREAD_NNZ = 2 * _RATINGS_PER_THREAD

# (algorithm, hyper-parameters), best prior first. Explicit: the MovieLens-tuned defaults of
# both models, then the directions that the issue's outside-ML-100k measurement pointed to
# (SVD++ and lighter regularisation win on larger, denser sets).
EXPLICIT_CANDIDATES: tuple[tuple[str, dict], ...] = (
    ("svdpp", {}),
    ("mf", {}),
    ("mf", {"regularization": 0.05, "n_factors": 64}),
    ("svdpp", {"regularization": 0.05, "y_regularization": 0.2}),
    ("mf", {"regularization": 0.15}),
    ("svdpp", {"regularization": 0.15}),
)
# Implicit: weighted ALS with its default and regularisation / confidence moved by 3x, BPR.
IMPLICIT_CANDIDATES: tuple[tuple[str, dict], ...] = (
    ("als", {}),
    ("als", {"regularization": 5.0}),
    ("als", {"regularization": 60.0}),
    ("als", {"confidence_weight": 3.0}),
    ("bpr", {}),
    ("als", {"regularization": 5.0, "confidence_weight": 3.0}),
)


def _frame(X: Any, y: Any, explicit: bool) -> pd.DataFrame:
    inter = check_interactions(X, y, where="Recommender.fit", implicit=not explicit)
    cols = {"user": inter.users, "item": inter.items}
    if explicit:
        cols["rating"] = inter.values
    elif inter.has_values:
        cols["weight"] = inter.values
    return pd.DataFrame(cols)


def _carve_codes(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int,
                 rng: np.random.RandomState) -> np.ndarray:
    """Validation mask over interactions numbered ``0..n-1``: a random slice whose users and
    items all stay in the training part (the rest of the slice goes back to training)."""
    n = len(users)
    # A Generator's choice without replacement does not permute all n rows as
    # RandomState.choice does: 0.15 ms instead of 4.7 on 80k ratings.
    gen = np.random.default_rng(rng.randint(0, 2**31 - 1))
    picked = np.sort(gen.choice(n, size=max(1, int(n * VALIDATION_FRACTION)), replace=False,
                                shuffle=False))
    pu, pi = users[picked], items[picked]
    # Counts left in training = all counts - the slice's (no gather of the 90% part).
    train_users = np.bincount(users, minlength=n_users) > np.bincount(pu, minlength=n_users)
    train_items = np.bincount(items, minlength=n_items) > np.bincount(pi, minlength=n_items)
    val = np.zeros(n, bool)
    val[picked[train_users[pu] & train_items[pi]]] = True
    return val


def _carve(df: pd.DataFrame, explicit: bool, rng: np.random.RandomState) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off a validation part whose users and items all stay in the training part."""
    u, users = pd.factorize(df["user"])
    i, items = pd.factorize(df["item"])
    keep = _carve_codes(u, i, len(users), len(items), rng)
    # Rows that cannot be validated go back to training (nothing is thrown away).
    return df[~keep], df[keep]


def _score(model: Any, val: pd.DataFrame, explicit: bool) -> float:
    """Validation loss, lower is better: RMSE, or 1 - nDCG@10 for implicit feedback."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        if explicit:
            pred = model.predict(val[["user", "item"]])
            return float(np.sqrt(np.mean((pred - val["rating"].to_numpy()) ** 2)))
        from ..metrics import ndcg_at_k

        truth = val.groupby("user", sort=False)["item"].agg(list)
        recs, _ = model.recommend(truth.index.to_numpy(), n=10)
        return 1.0 - float(ndcg_at_k(list(truth), recs, k=10))


def _rmse_codes(model: Any, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> float:
    """Validation RMSE from internal indices (all known by construction of the carve).

    What ``predict`` computes, without its id look-ups and per-row user vectors: SVD++'s
    user vector sums the implicit factors of the user's items, so it is built once per user.
    """
    uniq, inv = np.unique(users, return_inverse=True)
    # Row-wise dot products in float32 (as predict computes them); only the errors in float64
    # (casting both gathered matrices to float64 first cost 4x the whole score).
    pred = np.einsum("ij,ij->i", model._user_vectors(uniq)[inv],
                     model._item_vectors()[items]).astype(np.float64)
    np.clip(pred, *model.rating_range_, out=pred)
    return float(np.sqrt(np.mean((pred - ratings) ** 2)))


def search(owner: Any, X: Any, y: Any, explicit: bool, budget: int,
           make: Any, only: str | None = None) -> tuple[str, dict, dict, Any, Any]:
    """Run the search; return (algorithm, params, cv_results, warm, prepared).

    Parameters
    ----------
    owner : Recommender
        For its random_state.
    X, y : training interactions as given to ``fit``.
    explicit : bool
    budget : int
        Number of candidates (at least 1).
    make : callable(algorithm, params, max_iter) -> unfitted estimator
    only : str, default=None
        Search the candidates of this algorithm only (the user fixed it); when it has none
        (popularity), its defaults.

    Returns
    -------
    algorithm, params, cv_results
    warm : tuple (estimator, epochs) or None
        The winner as it stood after ``epochs`` epochs on the training part, for a refit that
        continues it on all the interactions (``_resume``); None when the refit starts over.
    prepared : Prepared
        All of ``X`` checked and numbered (``BaseRecommender._prepare``), for the refit.
    """
    from .._estimator import check_random_state
    from ._base import Prepared

    rng = check_random_state(owner.random_state)
    seed = int(rng.randint(0, 2**31 - 1))
    pool = list(EXPLICIT_CANDIDATES if explicit else IMPLICIT_CANDIDATES)
    if only is not None:
        pool = [c for c in pool if c[0] == only] or [(only, {})]
    pool = pool[:max(1, budget)]
    # All the interactions are checked and numbered once; the training part and the
    # validation part are slices of those numbers, and every candidate fits from the same
    # training CSR (the pool holds one kind of feedback, which is all _prepare depends on).
    proto = make(*pool[0], None)
    full = proto._prepare(X, y, "Recommender.fit")
    n_users, n_items = len(full.user_index), len(full.item_index)
    in_val = _carve_codes(full.users, full.items, n_users, n_items, np.random.RandomState(seed))
    tr = ~in_val
    train = Prepared(full.user_index, full.item_index, full.users[tr], full.items[tr],
                     full.values[tr], proto._csr(full.users[tr], full.items[tr], full.values[tr],
                                                 (n_users, n_items)),
                     full.pandas, full.implicit)
    vu, vi, vr = full.users[in_val], full.items[in_val], full.values[in_val].astype(np.float64)
    val_frame = None

    def loss_of(est: Any) -> float:
        nonlocal val_frame
        if explicit and hasattr(est, "_resume"):
            return _rmse_codes(est, vu, vi, vr)
        if val_frame is None:
            val_frame = pd.DataFrame({"user": full.user_index.ids[vu], "item": full.item_index.ids[vi]})
            if explicit:
                val_frame["rating"] = vr
        return _score(est, val_frame, explicit)

    results: dict[str, list] = {"algorithm": [], "params": [], "max_iter": [], "rung": [],
                                "validation_loss": [], "fit_time": []}
    metric = "rmse" if explicit else "1 - ndcg@10"

    def record(algo, params, epochs, rung, loss, fit_s):
        results["algorithm"].append(algo)
        results["params"].append(dict(params))
        results["max_iter"].append(epochs)
        results["rung"].append(rung)
        results["validation_loss"].append(loss)
        results["fit_time"].append(fit_s)

    # Rung-0 models by candidate: (estimator after its short fit, epochs it ran).
    snapshots: dict[int, tuple[Any, int | None]] = {}

    def run(cands: list, fraction: float, rung: int) -> list[tuple[float, int]]:
        # Rung 0's short fits are independent: on explicit ratings small enough that each
        # SGD kernel runs on one thread, they can run side by side (the kernels release the
        # GIL). Each has its own seed, so the results do not depend on it. Opt-in, like the
        # MLP's split batches: on 2 shared cores under load 9 it was slower (3.42x Surprise
        # against 3.66x sequential), at load 6.6 barely faster (4.17x against 4.02x).
        workers = min(len(cands), effective_n_threads(None)) if (
            PARALLEL_RUNG0 and get_config()["n_threads"] and rung == 0 and explicit
            and len(train.users) < _ONE_THREAD_NNZ) else 1
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as ex:
                out = list(ex.map(lambda idx: fit_one(idx, fraction, rung), cands))
        else:
            out = [fit_one(idx, fraction, rung) for idx in cands]
        scored = []
        for idx, (epochs, loss, fit_s) in zip(cands, out):
            algo, params = pool[idx]
            record(algo, params, epochs, rung, loss, fit_s)
            scored.append((loss, idx))
        return sorted(scored)

    full_epochs_of = {idx: make(*pool[idx], None).get_params().get("max_iter")
                      for idx in range(len(pool))}
    # Successive halving gives every candidate of a rung the same resource: rung 0 trains
    # each for a third of the *shortest* schedule in the pool, rounded down (SVD++'s 8
    # epochs: 2), not a third of its own (MF's 20: 7 epochs that cost more than SVD++'s
    # whole rung 0 and were thrown away). A slower schedule is further from its end after
    # those epochs (MF 2 of 20 against SVD++ 2 of 8), so it must lead by more to survive.
    known = [e for e in full_epochs_of.values() if e is not None]
    rung0_epochs = max(2, min(known) // 3) if known else None

    def fit_one(idx: int, fraction: float, rung: int) -> tuple[int | None, float, float]:
        algo, params = pool[idx]
        full_epochs = full_epochs_of[idx]
        if full_epochs is None:  # no epochs to halve (popularity)
            epochs = None
        else:
            epochs = full_epochs if fraction >= 1 else min(full_epochs, rung0_epochs)
        t0 = time.perf_counter()
        try:
            snap = snapshots.get(idx)
            if (rung > 0 and snap is not None and snap[1] is not None and epochs is not None
                    and hasattr(snap[0], "_resume")):
                # Warm start: a copy of the rung-0 model (kept for the refit) continues.
                est = copy.deepcopy(snap[0]).set_params(max_iter=epochs)
                fit_rng, where = est._validate("fit")
                est._resume(train, snap[1], np.random.RandomState(seed + rung), where)
            else:
                est = make(algo, params, epochs).set_params(random_state=seed)
                fit_rng, where = est._validate("fit")
                if bool(est._implicit) == full.implicit:
                    est._fit_prepared(train, fit_rng, where)
                else:  # a pool mixing kinds of feedback (none today) fits from the ids
                    est.fit(pd.DataFrame({"user": full.user_index.ids[train.users],
                                          "item": full.item_index.ids[train.items],
                                          "rating": train.values}))
                if rung == 0:
                    snapshots[idx] = (est, epochs)
            loss = loss_of(est)
        except ModelFitError:  # a diverging candidate loses; the search goes on
            loss = np.inf
        fit_s = time.perf_counter() - t0
        if not np.isfinite(loss):
            loss = np.inf
        return epochs, loss, fit_s

    results["metric"] = metric
    results["n_train"] = len(train.users)
    results["n_validation"] = len(vu)
    if len(vu) == 0:
        # Too few interactions to hold any out (every user or item seen once): no search.
        algo, params = pool[0]
        return algo, dict(params), results, None, full
    alive = list(range(len(pool)))
    if len(alive) > 1:
        ranked = run(alive, 1 / 3, 0)
        keep = max(1, min(len(alive), 2 if len(alive) >= 3 else 1, math.ceil(len(alive) / 3)))
        alive = [idx for _, idx in ranked[:keep]]
    if len(alive) > 1:
        best = run(alive, 1.0, 1)[0][1]
    else:
        # One survivor: its full-length fit is the refit on all the data that follows, so a
        # full-length validation fit would cost one more fit and decide nothing.
        best = alive[0]
    algo, params = pool[best]
    warm = snapshots.get(best)
    if warm is not None and (warm[1] is None or not hasattr(warm[0], "_resume")):
        warm = None
    return algo, dict(params), results, warm, full
