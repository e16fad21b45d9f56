"""``maaskit`` command line: ``quickstart`` trains, recommends and saves in one go.

Run ``maaskit --help`` (or ``python -m maaskit --help``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _quickstart(args: argparse.Namespace) -> int:
    import maaskit
    from maaskit.datasets import load_default_catalogue, load_movielens

    if args.movielens:
        ratings, items = load_movielens("100k", data_home=args.data_home, return_items=True)
        source = "MovieLens 100k"
    else:
        ratings, items = load_default_catalogue(random_state=0)
        source = "the embedded synthetic catalogue"
    print(f"maaskit {maaskit.__version__}: {len(ratings):,} ratings from {source} "
          f"({ratings.user.nunique():,} users, {ratings.item.nunique():,} items)")
    model = maaskit.Recommender(random_state=0)
    t0 = time.perf_counter()
    model.fit(ratings[["user", "item", "rating"]])
    print(f"trained {type(model.estimator_).__name__} in {time.perf_counter() - t0:.2f} s")
    user = ratings.user.iloc[0] if args.user is None else type(ratings.user.iloc[0])(args.user)
    top = model.recommend([user], n=10, output="pandas")
    top = top.merge(items[["item", "title"]], on="item", how="left")
    print(f"\ntop-10 for user {user}:")
    for row in top.itertuples():
        print(f"  {row.rank:2d}. {row.title:<45s} predicted {row.score:.2f}")
    path = model.save(args.out)
    print(f"\nsaved the model to {path} (reload with maaskit.load({str(path)!r}))")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    import maaskit

    model = maaskit.load(args.model)
    ids = model.user_index_.ids
    user = args.user
    if ids.dtype.kind in "iu":
        user = int(user)
    top = model.recommend([user], n=args.n, output="pandas")
    print(top.to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``maaskit`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(prog="maaskit", description="Train, save and query maaskit models.")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", help="train the recommender on a catalogue, print top-10 for a user, save the model")
    q.add_argument("--out", default="model.npz", help="where to save the model (default: model.npz)")
    q.add_argument("--user", default=None, help="user id to recommend for (default: the first user)")
    q.add_argument("--movielens", action="store_true", help="use MovieLens 100k from MAASKIT_DATA instead of the embedded catalogue")
    q.add_argument("--data-home", default=None, help="folder holding ml-100k/ (default: $MAASKIT_DATA)")
    q.set_defaults(func=_quickstart)
    r = sub.add_parser("recommend", help="top-n items for a user from a saved model")
    r.add_argument("model", help="path of a saved model (.npz)")
    r.add_argument("user", help="user id")
    r.add_argument("-n", type=int, default=10, help="how many items (default: 10)")
    r.set_defaults(func=_recommend)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``maaskit`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
    """
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
