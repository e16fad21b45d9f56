"""Grid over SVD++'s and MF's SGD schedule (epochs, learning rate, decay) on validation carved
from the ML-100k *training* files only (nested: the u*.test files are never read).

Each split's u*.base is carved as ``Recommender(tune=...)`` carves it (10%, users and items
kept in training, same seed scheme); every configuration fits on the remaining 90% and is
scored on the 10%. The mean validation RMSE over u1-u5 ranks the configurations; the epochs
column is what the fit costs. Used to choose the defaults (session 6).

Usage::

    python benchmarks/grid_svdpp_schedule.py                # SVD++
    python benchmarks/grid_svdpp_schedule.py --model mf
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd

from maaskit.datasets import find_data_home

NAMES = ["user", "item", "rating", "timestamp"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["svdpp", "mf"], default="svdpp")
    ap.add_argument("--epochs", default="6,8,10,12,15")
    ap.add_argument("--lr", default="0.03,0.04,0.05,0.06")
    ap.add_argument("--decay", default="0.85,0.9,0.93")
    ap.add_argument("--extra", default="", help="extra params as k=v,k=v")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    from maaskit.recommender import MatrixFactorization, SVDpp
    from maaskit.recommender._base import Prepared
    from maaskit.recommender._tuning import _carve_codes, _rmse_codes

    cls = SVDpp if args.model == "svdpp" else MatrixFactorization
    extra = {}
    for kv in filter(None, args.extra.split(",")):
        k, v = kv.split("=")
        extra[k] = float(v) if "." in v else int(v)
    home = find_data_home("ml-100k/u1.base")
    if home is None:
        raise SystemExit("ml-100k not found: set MAASKIT_DATA to the folder that holds ml-100k/.")
    parts = []
    for s in ("u1", "u2", "u3", "u4", "u5"):
        base = pd.read_csv(home / "ml-100k" / f"{s}.base", sep="\t", names=NAMES)
        proto = cls()
        full = proto._prepare(base[["user", "item", "rating"]], None, "grid")
        nu, ni = len(full.user_index), len(full.item_index)
        val = _carve_codes(full.users, full.items, nu, ni, np.random.RandomState(1))
        tr = ~val
        train = Prepared(full.user_index, full.item_index, full.users[tr], full.items[tr],
                         full.values[tr],
                         proto._csr(full.users[tr], full.items[tr], full.values[tr], (nu, ni)),
                         full.pandas, full.implicit)
        parts.append((train, full.users[val], full.items[val], full.values[val].astype(np.float64)))
    grid = list(itertools.product([int(x) for x in args.epochs.split(",")],
                                  [float(x) for x in args.lr.split(",")],
                                  [float(x) for x in args.decay.split(",")]))
    rows = []
    for epochs, lr, decay in grid:
        losses = []
        for train, vu, vi, vr in parts:
            est = cls(max_iter=epochs, learning_rate=lr, learning_rate_decay=decay, random_state=0, **extra)
            rng, where = est._validate("fit")
            est._fit_prepared(train, rng, where)
            losses.append(_rmse_codes(est, vu, vi, vr))
        rows.append((float(np.mean(losses)), epochs, lr, decay, losses))
    rows.sort()
    print(f"{args.model} {extra}: validation RMSE (10% carved from u*.base), mean over u1-u5")
    print("| mean val RMSE | epochs | lr | decay | per split |")
    print("|---|---|---|---|---|")
    for m, e, lr, d, ls in rows[:args.top]:
        print(f"| {m:.4f} | {e} | {lr} | {d} | {' '.join(f'{x:.4f}' for x in ls)} |")


if __name__ == "__main__":
    main()
