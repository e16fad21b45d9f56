"""Synthetic, learnable interaction data: a catalogue with genres, popularity and tastes.

The generator (:func:`make_interactions`) builds a small "world":

* ``n_genres`` genre centroids in a ``n_factors``-dimensional taste space;
* items, each with a primary genre (and, for some, a secondary one), a latent vector near
  its genres' centroids, and a Zipf-like popularity ``(rank + 1) ** -popularity_skew``;
* users, each with a taste that mixes a few genres (a sparse Dirichlet draw), a latent
  vector near that mixture, and a log-normal activity level.

Each user draws their items by picking a genre from their taste (or, 15% of the time, from
the whole catalogue) and an item of it by popularity, then keeps it with a probability that
rises with the user-item affinity (the cosine of their latent vectors). So who interacts
with what depends on both popularity and taste, and a matrix-factorisation model beats a
popularity baseline on it. Explicit ratings come from the same affinity plus biases and
noise.

With ``sequential=True`` the log also has an order that a sequential model can learn:

* items come in *series* (contiguous id ranges of one genre, e.g. a show's episodes or a
  film and its sequels) whose later parts are less popular and close in taste space;
* a user who picks a series item goes on to the next ones, in order, with probability
  ``_BINGE`` per step (a geometric run, stopped at the end of the series);
* each user has a starting and an ending taste; a pick made at relative time ``tau`` in
  ``[0, 1]`` of the user's history follows the starting taste with probability
  ``1 - tau`` and the ending one with probability ``tau`` (and the affinity that decides
  whether it is kept interpolates the two latent vectors), so tastes drift;
* each user's history is ordered by ``tau`` (a run stays together, in series order), and
  the timestamps are strictly increasing along it.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["make_interactions", "load_default_catalogue"]

#: Genre names used for the first genres (more genres are called "Genre <k>").
GENRE_NAMES = (
    "Drama", "Comedy", "Action", "Thriller", "Romance", "Adventure", "Crime", "Sci-Fi",
    "Horror", "Children's", "War", "Mystery", "Fantasy", "Musical", "Animation",
    "Western", "Film-Noir", "Documentary",
)

_ADJECTIVES = (
    "Midnight", "Silent", "Crimson", "Golden", "Broken", "Hidden", "Last", "Electric",
    "Frozen", "Wild", "Distant", "Secret", "Burning", "Hollow", "Lonely", "Iron", "Velvet",
    "Savage", "Quiet", "Endless", "Bitter", "Northern", "Scarlet", "Shattered", "Forgotten",
    "Restless", "Silver", "Dark", "Bright", "Lost",
)
_NOUNS = (
    "Harbor", "Horizon", "River", "Empire", "Garden", "Signal", "Frontier", "Shadow",
    "Station", "Summer", "Kingdom", "Echo", "Voyage", "Promise", "Storm", "Mirror",
    "Highway", "Orchard", "Engine", "Lantern", "Canyon", "Letter", "Carnival", "Island",
    "Circuit", "Hunter", "Melody", "Witness", "Tide", "Crown",
)

_T0 = 1_577_836_800  # 2020-01-01T00:00:00Z
_SPAN = 3 * 365 * 86_400  # three years of activity
_EXPLORE = 0.15  # share of draws that ignore the user's genre taste
_BETA = 3.0  # acceptance = min(1, exp(_BETA * (cos - _COS_FULL)))
_COS_FULL = 0.6  # affinity from which a drawn item is always kept
_PREF_ROUNDS = 4  # preference-sampling rounds before the uniform fallback
_UNIFORM_ROUNDS = 2
_CHUNK = 500_000  # interactions generated per chunk of users (bounds memory)
# Sequential structure (sequential=True only).
_SERIES_P = 0.35  # series lengths ~ Geometric(_SERIES_P): mean ~2.9, 35% stand-alone items
_SERIES_MAX = 12
_SEQUEL_DECAY = 0.6  # popularity of part p of a series: head's popularity * _SEQUEL_DECAY ** p
_BINGE = 0.8  # probability of going on to the next part of a series


def _check_int(value: object, name: str, low: int, func: str = "make_interactions") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{func}: {name} must be an int >= {low}; got {value!r}.")
    return int(value)


def _check_rng(random_state: object, func: str) -> np.random.Generator:
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, bool):
            raise ValueError(f"{func}: random_state must be None, an int or a numpy Generator; got {random_state!r}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        f"{func}: random_state must be None, an int or a numpy Generator; got {random_state!r}."
    )


def _genre_names(n_genres: int) -> list[str]:
    """Return the names used for ``n_genres`` synthetic genres."""
    return [GENRE_NAMES[g] if g < len(GENRE_NAMES) else f"Genre {g + 1}" for g in range(n_genres)]


class _World:
    """The latent ground truth of one synthetic catalogue (internal)."""

    def __init__(self, rng: np.random.Generator, n_users: int, n_items: int, n_factors: int,
                 n_genres: int, popularity_skew: float, sequential: bool = False) -> None:
        scale = 1.0 / np.sqrt(n_factors)
        centroids = rng.normal(scale=scale, size=(n_genres, n_factors))
        share = np.sort(rng.dirichlet(np.full(n_genres, 3.0)))[::-1]
        # Items: primary genre (every genre gets at least one item), optional secondary.
        primary = rng.choice(n_genres, size=n_items, p=share)
        primary[rng.permutation(n_items)[:n_genres]] = np.arange(n_genres)
        secondary = np.full(n_items, -1, dtype=np.int64)
        if n_genres > 1:
            has2 = rng.random(n_items) < 0.3
            offset = rng.integers(1, n_genres, size=n_items)
            secondary[has2] = (primary[has2] + offset[has2]) % n_genres
        q = 0.8 * centroids[primary] + rng.normal(scale=0.45 * scale, size=(n_items, n_factors))
        two = secondary >= 0
        q[two] += 0.4 * centroids[secondary[two]]
        # Popularity: Zipf-like over a random ranking of the items.
        rank = rng.permutation(n_items)
        pop = (rank + 1.0) ** (-float(popularity_skew))
        # Users: sparse genre mixtures, latent vectors near them, log-normal activity.
        theta = rng.dirichlet(np.maximum(2.0 * share, 1e-3), size=n_users)
        p = theta @ centroids + rng.normal(scale=0.35 * scale, size=(n_users, n_factors))
        self.n_items = n_items
        self.n_genres = n_genres
        self.activity = rng.lognormal(0.0, 1.0, size=n_users)
        # Everything below that draws from rng runs only with sequential=True, so the
        # default output is unchanged.
        self.sequential = sequential
        self.P1 = self.theta1_cdf = self.p0_dot_p1 = None
        self.series = self.position = self.parts_left = None
        if sequential:
            primary, secondary, q, pop = self._make_series(rng, primary, secondary, q, pop, scale)
            theta1 = rng.dirichlet(np.maximum(2.0 * share, 1e-3), size=n_users)
            p1 = theta1 @ centroids + rng.normal(scale=0.35 * scale, size=(n_users, n_factors))
            self.P1 = (p1 / np.linalg.norm(p1, axis=1, keepdims=True)).astype(np.float32)
            self.theta1_cdf = np.cumsum(theta1, axis=1)
            self.theta1_cdf /= self.theta1_cdf[:, -1:]
        self.primary = primary
        self.secondary = secondary
        self.pop = pop
        self.P = (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)
        self.Q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
        if sequential:
            self.p0_dot_p1 = np.einsum("ij,ij->i", self.P, self.P1).astype(np.float64)
        # Sampling tables: the users' genre CDFs, and one alias table per genre (primary
        # genre) plus one over the whole catalogue (group n_genres), for O(1) draws.
        self.theta_cdf = np.cumsum(theta, axis=1)
        self.theta_cdf /= self.theta_cdf[:, -1:]
        order = np.argsort(primary, kind="stable")
        counts = np.bincount(primary, minlength=n_genres)
        self.group_start = np.concatenate([[0], np.cumsum(counts)[:-1], [n_items]]).astype(np.int64)
        self.group_size = np.concatenate([counts, [n_items]]).astype(np.int64)
        members = np.concatenate([order, np.arange(n_items)])
        prob = np.empty(len(members))
        alias = np.empty(len(members), dtype=np.int64)
        for start, size in zip(self.group_start, self.group_size):
            sl = slice(start, start + size)
            prob[sl], alias[sl] = _alias_table(pop[members[sl]])
            alias[sl] += start
        self.alias_prob = prob
        self.alias_item = members[alias]
        self.members = members

    def _make_series(self, rng: np.random.Generator, primary: np.ndarray, secondary: np.ndarray,
                     q: np.ndarray, pop: np.ndarray, scale: float) -> tuple[np.ndarray, ...]:
        """Group the items into series: contiguous id ranges sharing the head's genres."""
        n_items, n_genres = len(primary), self.n_genres
        lengths = np.minimum(rng.geometric(_SERIES_P, size=n_items), _SERIES_MAX)
        lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), n_items)) + 1]
        lengths[-1] -= int(lengths.sum()) - n_items
        if len(lengths) < n_genres:  # tiny catalogue: every genre needs a series of its own
            lengths = np.ones(n_items, dtype=np.int64)
        heads = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        series = np.repeat(np.arange(len(lengths)), lengths)
        head = heads[series]
        # Every genre keeps at least one item: give n_genres random series one genre each.
        head_genre = primary[heads]
        head_genre[rng.permutation(len(heads))[:n_genres]] = np.arange(n_genres)
        primary = head_genre[series]
        secondary = secondary[head]
        secondary[secondary == primary] = -1
        position = np.arange(n_items) - head
        q = q[head] + rng.normal(scale=0.15 * scale, size=q.shape)
        pop = pop[head] * _SEQUEL_DECAY ** position
        self.series = series
        self.position = position
        self.parts_left = (lengths[series] - 1 - position).astype(np.int64)
        return primary, secondary, q, pop

    def draw_items(self, rng: np.random.Generator, users: np.ndarray, uniform: bool,
                   tau: np.ndarray | None = None) -> np.ndarray:
        m = len(users)
        if uniform:
            return rng.integers(0, self.n_items, size=m)
        group = np.full(m, self.n_genres, dtype=np.int64)  # explore: whole catalogue
        taste = np.flatnonzero(rng.random(m) >= _EXPLORE)
        u = users[taste]
        # With drift, a pick at time tau follows the ending taste with probability tau.
        late = rng.random(len(u)) < tau[taste] if tau is not None else None
        # Genre by the user's taste: compare one uniform draw with the user's genre CDF.
        step = max(1, (1 << 22) // self.n_genres)
        for lo in range(0, len(u), step):
            r = rng.random(min(step, len(u) - lo))
            cdf = self.theta_cdf[u[lo:lo + step]]
            if late is not None:
                cdf = np.where(late[lo:lo + step, None], self.theta1_cdf[u[lo:lo + step]], cdf)
            group[taste[lo:lo + step]] = (cdf < r[:, None]).sum(axis=1)
        np.minimum(group, self.n_genres, out=group)
        # Item of that group by popularity (alias method).
        slot = self.group_start[group] + (rng.random(m) * self.group_size[group]).astype(np.int64)
        return np.where(rng.random(m) < self.alias_prob[slot], self.members[slot], self.alias_item[slot])

    def affinity(self, users: np.ndarray, items: np.ndarray, tau: np.ndarray | None = None) -> np.ndarray:
        a0 = np.einsum("ij,ij->i", self.P[users], self.Q[items]).astype(np.float64)
        if tau is None:
            return a0
        # cosine with the drifting taste (1 - tau) * P + tau * P1
        a1 = np.einsum("ij,ij->i", self.P1[users], self.Q[items]).astype(np.float64)
        w0, w1 = 1.0 - tau, tau
        norm = np.sqrt(np.maximum(w0 * w0 + w1 * w1 + 2.0 * w0 * w1 * self.p0_dot_p1[users], 1e-12))
        return (w0 * a0 + w1 * a1) / norm


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for sampling ``i`` with probability ``weights[i] / sum``."""
    n = len(weights)
    scaled = weights * (n / weights.sum())
    prob = np.ones(n)
    alias = np.arange(n, dtype=np.int64)
    small = [int(i) for i in np.flatnonzero(scaled < 1.0)]
    large = [int(i) for i in np.flatnonzero(scaled >= 1.0)]
    s_list = scaled.tolist()
    while small and large:
        lo, hi = small.pop(), large.pop()
        prob[lo] = s_list[lo]
        alias[lo] = hi
        s_list[hi] -= 1.0 - s_list[lo]
        (small if s_list[hi] < 1.0 else large).append(hi)
    return prob, alias


def _quotas(rng: np.random.Generator, activity: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Interactions per user: one each (when there are enough), the rest by activity, capped."""
    n_users = len(activity)
    p = activity / activity.sum()
    base = 1 if total >= n_users else 0
    quota = base + rng.multinomial(total - base * n_users, p)
    while True:
        excess = int(np.maximum(quota - cap, 0).sum())
        if excess == 0:
            return quota.astype(np.int64)
        np.minimum(quota, cap, out=quota)
        weights = np.where(quota < cap, p, 0.0)
        quota += rng.multinomial(excess, weights / weights.sum())


def _isin_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    np.minimum(pos, sorted_keys.size - 1, out=pos)
    return sorted_keys[pos] == keys


def _sample_chunk(rng: np.random.Generator, world: _World, users: np.ndarray,
                  quota: np.ndarray) -> tuple[np.ndarray, ...]:
    """Draw ``quota[j]`` distinct items for each ``users[j]``.

    Returns ``(user, item, cos)``, and with a sequential world also ``(tau, part)``: the
    relative time of each pick and its place in its run (0 for the picked item, 1 for the
    next part of the series the user went on to, ...).
    """
    n_items = world.n_items
    seq = world.sequential
    need = quota.copy()
    seen = np.empty(0, dtype=np.int64)  # sorted keys local_user * n_items + item
    out_u, out_i, out_c, out_t, out_r = [], [], [], [], []
    draws_per_hit = 2.0  # draws needed per new distinct item, learnt round by round
    for rnd in range(_PREF_ROUNDS + _UNIFORM_ROUNDS):
        active = np.flatnonzero(need > 0)
        if active.size == 0:
            break
        uniform = rnd >= _PREF_ROUNDS
        if uniform:
            factor = 2.0 ** (rnd - _PREF_ROUNDS + 1)
        else:  # what the last round needed, with a margin that grows each round
            factor = min(64.0, max(2.0, 1.3 * draws_per_hit) * 2.0 ** max(0, rnd - 1))
        n_draw = np.ceil(need[active] * factor).astype(np.int64) + 1
        loc = np.repeat(active, n_draw)
        n_drawn = len(loc)
        tau = rng.random(n_drawn) if seq else None
        items = world.draw_items(rng, users[loc], uniform, tau)
        cos = world.affinity(users[loc], items, tau)
        part = None
        if not uniform:
            keep = rng.random(n_drawn) < np.exp(_BETA * (cos - _COS_FULL))
            loc, items, cos = loc[keep], items[keep], cos[keep]
            if seq:
                tau = tau[keep]
                loc, items, cos, tau, part = _binge(rng, world, users, loc, items, tau)
        if seq and part is None:
            part = np.zeros(len(loc), dtype=np.int64)
        keys = loc * n_items + items
        fresh = ~_isin_sorted(keys, seen)
        loc, items, cos, keys = loc[fresh], items[fresh], cos[fresh], keys[fresh]
        if seq:
            tau, part = tau[fresh], part[fresh]
        _, first = np.unique(keys, return_index=True)
        first.sort()  # keep draw order: random within each user, users stay grouped
        loc, items, cos, keys = loc[first], items[first], cos[first], keys[first]
        if seq:
            tau, part = tau[first], part[first]
        if not uniform:
            draws_per_hit = n_drawn / max(len(loc), 1)
        rank = np.arange(len(loc)) - np.searchsorted(loc, loc, side="left")
        take = rank < need[loc]
        loc, items, cos, keys = loc[take], items[take], cos[take], keys[take]
        need -= np.bincount(loc, minlength=len(users))
        seen = np.sort(np.concatenate([seen, keys]))
        out_u.append(loc)
        out_i.append(items)
        out_c.append(cos)
        if seq:
            out_t.append(tau[take])
            out_r.append(part[take])
    # Exact fill for the rare users whose quota is close to the catalogue size.
    for j in np.flatnonzero(need > 0):
        lo, hi = np.searchsorted(seen, [j * n_items, (j + 1) * n_items])
        free = np.setdiff1d(np.arange(n_items), seen[lo:hi] - j * n_items, assume_unique=True)
        items = rng.choice(free, size=int(need[j]), replace=False)
        loc = np.full(len(items), j, dtype=np.int64)
        tau = rng.random(len(items)) if seq else None
        out_u.append(loc)
        out_i.append(items)
        out_c.append(world.affinity(users[loc], items, tau))
        if seq:
            out_t.append(tau)
            out_r.append(np.zeros(len(items), dtype=np.int64))
    loc = np.concatenate(out_u)
    out = (users[loc], np.concatenate(out_i), np.concatenate(out_c))
    if seq:
        out += (np.concatenate(out_t), np.concatenate(out_r))
    return out


def _binge(rng: np.random.Generator, world: _World, users: np.ndarray, loc: np.ndarray,
           items: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, ...]:
    """After each kept pick, the next parts of its series, in order, right behind it.

    The run length is geometric (go on with probability ``_BINGE``), cut at the end of the
    series. The parts share their pick's time ``tau``, so they stay together when the
    history is ordered.
    """
    more = np.minimum(rng.geometric(1.0 - _BINGE, size=len(items)) - 1, world.parts_left[items])
    reps = 1 + more
    part = np.arange(int(reps.sum()), dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
    loc, tau = np.repeat(loc, reps), np.repeat(tau, reps)
    items = np.repeat(items, reps) + part  # the parts of a series have consecutive ids
    return loc, items, world.affinity(users[loc], items, tau), tau, part


def make_interactions(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 50_000,
    n_factors: int = 16,
    n_genres: int = 8,
    popularity_skew: float = 1.0,
    kind: str = "explicit",
    noise: float = 0.5,
    random_state: int | np.random.Generator | None = None,
    return_items: bool = False,
    sequential: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a realistic, learnable synthetic interaction log.

    Items belong to genres and have a Zipf-like popularity; users have tastes that mix a
    few genres and an activity level. Each user's items are drawn with a probability that
    rises with both the item's popularity and the user-item affinity (see the module
    docstring for the full model), so a matrix-factorisation model beats a popularity
    baseline on the result.

    Exactly ``n_interactions`` distinct ``(user, item)`` pairs are returned. Every user
    gets at least one interaction when ``n_interactions >= n_users`` (otherwise some users
    get none), and the rest are shared out by activity, with no user given more than half
    the catalogue (or more than ``ceil(n_interactions / n_users)`` when that is larger,
    and never more than ``n_items``). Each user's quota is filled by preference-weighted sampling without
    replacement; for a user whose quota is so large that this stalls (a sizeable part of
    the catalogue), the remainder is filled with items drawn uniformly among those the
    user has not interacted with yet.

    With ``sequential=True`` the order of each user's history carries signal too: items
    come in series that users watch in order (part ``i`` followed by part ``i + 1``), and
    tastes drift from a starting to an ending genre mix over each user's history (see the
    module docstring). That is what next-item models such as
    :class:`~maaskit.recommender.SASRec` learn and matrix factorisation cannot.

    Generation is vectorized and runs in chunks of users, so memory stays bounded: 10M
    interactions over 200k users and 50k items take on the order of ten seconds (about
    twice that with ``sequential=True``).

    Parameters
    ----------
    n_users : int, default=1000
        Number of users; user ids are ``0 .. n_users - 1``.
    n_items : int, default=500
        Number of items; item ids are ``0 .. n_items - 1``.
    n_interactions : int, default=50_000
        Number of distinct (user, item) pairs, at most ``n_users * n_items``.
    n_factors : int, default=16
        Dimension of the latent taste space.
    n_genres : int, default=8
        Number of genres, at most ``n_items``.
    popularity_skew : float, default=1.0
        Exponent ``s >= 0`` of the item popularity ``(rank + 1) ** -s``; 0 means all
        items are equally popular.
    kind : {"explicit", "implicit"}, default="explicit"
        ``"explicit"``: ``rating`` holds star ratings 1-5 (rounded from affinity + user
        and item biases + Gaussian noise). ``"implicit"``: ``rating`` holds positive play
        counts (1, 2, ...), higher for a better affinity.
    noise : float, default=0.5
        Standard deviation of the rating noise (explicit), or of the log-normal noise on
        the play-count rate (implicit).
    random_state : int, numpy.random.Generator or None, default=None
        Seed for reproducible output.
    return_items : bool, default=False
        Also return the item table.
    sequential : bool, default=False
        Add sequential structure: series watched in order and drifting tastes, with
        timestamps strictly increasing along each user's history. ``False`` gives exactly
        the output of earlier versions for the same seed.

    Returns
    -------
    interactions : pandas.DataFrame
        Columns ``user`` (int64), ``item`` (int64), ``rating`` (float64) and
        ``timestamp`` (int64 unix seconds, between 2020 and 2023), sorted by timestamp
        (each user is active from a sign-up time onwards). With ``sequential=True``, a
        user's timestamps are distinct, so ordering by time gives their history.
    items : pandas.DataFrame
        Only when ``return_items=True``: columns ``item`` (int64), ``title`` (e.g.
        ``"Title 17"``) and ``genres`` (primary genre first, joined by ``"|"``), one row
        per item in id order. With ``sequential=True`` also ``series`` (int64, the
        series id) and ``part`` (int64, 0 for a series' first item, 1 for the next...);
        the parts of a series have consecutive item ids.

    Raises
    ------
    ValueError
        For an invalid parameter, or if ``n_interactions > n_users * n_items``.

    Examples
    --------
    >>> from maaskit.datasets import make_interactions
    >>> df = make_interactions(n_users=50, n_items=40, n_interactions=600, random_state=0)
    >>> df.shape
    (600, 4)
    >>> list(df.columns)
    ['user', 'item', 'rating', 'timestamp']
    >>> bool(df["rating"].between(1, 5).all())
    True
    >>> bool(df.duplicated(["user", "item"]).any())
    False
    >>> seq, items = make_interactions(n_users=50, n_items=40, n_interactions=600,
    ...                                random_state=0, sequential=True, return_items=True)
    >>> list(items.columns)
    ['item', 'title', 'genres', 'series', 'part']
    """
    func = "make_interactions"
    n_users = _check_int(n_users, "n_users", 1)
    n_items = _check_int(n_items, "n_items", 1)
    n_interactions = _check_int(n_interactions, "n_interactions", 1)
    n_factors = _check_int(n_factors, "n_factors", 1)
    n_genres = _check_int(n_genres, "n_genres", 1)
    if n_genres > n_items:
        raise ValueError(f"{func}: n_genres must be <= n_items ({n_items}); got {n_genres!r}.")
    if n_interactions > n_users * n_items:
        raise ValueError(
            f"{func}: n_interactions must be <= n_users * n_items ({n_users * n_items}), "
            f"the number of distinct (user, item) pairs; got {n_interactions!r}."
        )
    if (isinstance(popularity_skew, bool) or not isinstance(popularity_skew, numbers.Real)
            or not np.isfinite(popularity_skew) or popularity_skew < 0):
        raise ValueError(f"{func}: popularity_skew must be a finite float >= 0; got {popularity_skew!r}.")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{func}: noise must be a finite float >= 0; got {noise!r}.")
    if kind not in ("explicit", "implicit"):
        raise ValueError(f"{func}: kind must be 'explicit' or 'implicit'; got {kind!r}.")
    if not isinstance(sequential, (bool, np.bool_)):
        raise ValueError(f"{func}: sequential must be a bool; got {sequential!r}.")
    rng = _check_rng(random_state, func)

    world = _World(rng, n_users, n_items, n_factors, n_genres, popularity_skew, bool(sequential))
    # No user takes more than half the catalogue unless n_interactions forces it.
    cap = min(n_items, max(n_items // 2, -(-n_interactions // n_users)))
    quota = _quotas(rng, world.activity, n_interactions, cap)

    # Chunks of users holding about _CHUNK interactions each.
    bounds = np.searchsorted(np.cumsum(quota), np.arange(_CHUNK, n_interactions, _CHUNK), side="right")
    bounds = np.unique(np.concatenate([[0], bounds, [n_users]]))
    users_out, items_out, cos_out, seq_order = [], [], [], []
    all_users = np.arange(n_users, dtype=np.int64)
    offset = 0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        u, i, c, *order = _sample_chunk(rng, world, all_users[lo:hi], quota[lo:hi])
        users_out.append(u)
        items_out.append(i)
        cos_out.append(c)
        if sequential:  # each user's history: by pick time, a run in series order
            tau, part = order
            seq_order.append(offset + np.lexsort((part, tau, u)))
            offset += len(u)
            del tau, part, order
    user = np.concatenate(users_out)
    item = np.concatenate(items_out)
    cos = np.concatenate(cos_out)
    del users_out, items_out, cos_out  # keep peak memory near the size of the output
    n = len(user)

    # Ratings.
    log_pop = np.log(world.pop)
    log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    if kind == "explicit":
        user_bias = rng.normal(0.0, 0.45, size=n_users)
        item_bias = rng.normal(0.0, 0.25, size=n_items) + 0.15 * log_pop
        raw = 2.6 + 2.2 * cos + user_bias[user] + item_bias[item] + rng.normal(0.0, noise, size=n)
        rating = np.clip(np.rint(raw), 1.0, 5.0)
    else:
        user_bias = rng.normal(0.0, 0.5, size=n_users)
        rate = np.exp(-0.5 + 2.0 * cos + user_bias[user] + rng.normal(0.0, noise, size=n))
        rating = 1.0 + rng.poisson(rate).astype(np.float64)

    # Timestamps: each user signs up at some point and is most active soon after.
    signup = _T0 + np.floor(_SPAN * 0.9 * rng.beta(1.0, 1.5, size=n_users))
    remaining = (_T0 + _SPAN) - signup
    ts = (signup[user] + np.floor(remaining[user] * rng.beta(0.7, 2.0, size=n))).astype(np.int64)
    if sequential:
        ts = _along_histories(np.concatenate(seq_order), user, ts)
        del seq_order

    del cos
    # (sequential: stable, although a user's times are distinct; the default keeps its order)
    order = np.argsort(ts, kind="stable" if sequential else None)
    columns = {}
    for name, values in (("user", user), ("item", item), ("rating", rating), ("timestamp", ts)):
        columns[name] = values[order]
        del values
    del user, item, rating, ts, order
    frame = pd.DataFrame(columns, copy=False)
    if not return_items:
        return frame
    names = np.asarray(_genre_names(n_genres), dtype=object)
    genres = names[world.primary].astype(object)
    two = world.secondary >= 0
    genres[two] = genres[two] + "|" + names[world.secondary[two]]
    items = pd.DataFrame(
        {
            "item": np.arange(n_items, dtype=np.int64),
            "title": np.array([f"Title {i}" for i in range(n_items)], dtype=object),
            "genres": genres,
        }
    )
    if sequential:
        items["series"] = world.series.astype(np.int64)
        items["part"] = world.position.astype(np.int64)
    return frame, items


def _along_histories(seq_order: np.ndarray, user: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Re-deal the drawn timestamps so that they increase strictly along each history.

    ``seq_order`` lists the rows user by user (ascending), each user's rows in history
    order. Each user keeps their own timestamps, sorted and handed out in that order; equal
    seconds are pushed apart (``t_j = max(t_j, t_{j-1} + 1)``) so time orders a history
    without ties.
    """
    by_time = np.lexsort((ts, user))
    sorted_ts = ts[by_time]
    counts = np.bincount(user)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.arange(len(ts), dtype=np.int64) - starts
    # Per-user running max of (t - rank), kept within users by a per-user offset.
    big = int(sorted_ts.max() - sorted_ts.min()) + len(ts) + 1 if len(ts) else 1
    shift = user[by_time].astype(np.int64) * big
    strict = np.maximum.accumulate(sorted_ts - rank + shift) - shift + rank
    out = np.empty_like(ts)
    out[seq_order] = strict
    return out


def _readable_titles(rng: np.random.Generator, primary: list[str]) -> list[str]:
    """One distinct made-up title per item, e.g. ``"Midnight Harbor (Drama)"``."""
    combos = [f"{a} {b}" for a in _ADJECTIVES for b in _NOUNS]
    by_genre: dict[str, list[int]] = {}
    for idx, genre in enumerate(primary):
        by_genre.setdefault(genre, []).append(idx)
    titles = [""] * len(primary)
    for genre, idxs in by_genre.items():
        picks = rng.permutation(len(combos))
        for j, idx in enumerate(idxs):
            base = combos[picks[j % len(combos)]]
            sequel = j // len(combos)
            suffix = f" {sequel + 1}" if sequel else ""
            titles[idx] = f"{base}{suffix} ({genre})"
    return titles


def load_default_catalogue(random_state: int | None = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return maaskit's built-in demo catalogue: 943 users, 1,682 films, 100,000 ratings.

    A deterministic :func:`make_interactions` world of MovieLens 100K's size, with 18
    genres and made-up, human-readable titles such as ``"Midnight Harbor (Drama)"``. It
    needs no download, so it is what the quickstart and the examples use.

    Parameters
    ----------
    random_state : int or None, default=0
        Seed; the default always gives the same catalogue.

    Returns
    -------
    ratings : pandas.DataFrame
        Columns ``user``, ``item`` (int64), ``rating`` (float64, 1-5) and ``timestamp``
        (int64 unix seconds).
    items : pandas.DataFrame
        Columns ``item`` (int64), ``title`` (str) and ``genres`` (``"|"``-joined str).

    Examples
    --------
    >>> from maaskit.datasets import load_default_catalogue
    >>> ratings, items = load_default_catalogue()
    >>> ratings.shape, items.shape
    ((100000, 4), (1682, 3))
    >>> bool(items["title"].is_unique)
    True
    """
    rng = _check_rng(random_state, "load_default_catalogue")
    ratings, items = make_interactions(
        n_users=943,
        n_items=1682,
        n_interactions=100_000,
        n_factors=16,
        n_genres=len(GENRE_NAMES),
        popularity_skew=0.9,
        kind="explicit",
        noise=0.6,
        random_state=rng,
        return_items=True,
    )
    primary = [g.split("|", 1)[0] for g in items["genres"]]
    items["title"] = np.array(_readable_titles(rng, primary), dtype=object)
    return ratings, items
