"""maaskit SentimentClassifier against TfidfVectorizer + LogisticRegression, one process.

Protocols (defaults of SentimentClassifier were tuned on SST-2 train/dev and on folds of
the *train* parts of the other two sets, never on the test data used here):

1. SST-2: official train (6,920) -> test (1,821).
2. sentiment-en (UCI Amazon + Yelp, 2,000 sentences): 5-fold stratified CV (seed 0).
3. sentiment-zh (ChnSentiCorp, 7,765 reviews): 5-fold stratified CV (seed 0).

Baseline: ``TfidfVectorizer`` (word 1-2 grams for English, char 1-2 grams for Chinese) +
``LogisticRegression(max_iter=1000)``. Accuracy, expected calibration error (ECE, top-label
confidence, 10 bins; maaskit with and without its temperature calibration), and total train and predict time over
the folds. Numba compile time is paid by a warm-up fit and reported separately.

Usage: ``python benchmarks/bench_sentiment.py [--quick]`` (``--quick``: 2 folds).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from maaskit.datasets import find_data_home, load_sentiment
from maaskit.text import SentimentClassifier

def baseline(lang: str):
    vec = (TfidfVectorizer(ngram_range=(1, 2)) if lang == "en"
           else TfidfVectorizer(analyzer="char", ngram_range=(1, 2)))
    return make_pipeline(vec, LogisticRegression(max_iter=1000))


def ece(proba, y, classes, bins: int = 10) -> float:
    """Expected calibration error of the top-label confidence (10 equal-width bins)."""
    conf = proba.max(axis=1)
    hit = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[which == b].mean() - hit[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def evaluate(make, Xtr, ytr, Xte, yte):
    t = time.perf_counter()
    model = make().fit(Xtr, ytr)
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    pred = model.predict(Xte)
    t_pred = time.perf_counter() - t
    proba = model.predict_proba(Xte)
    return float(np.mean(pred == yte)), t_fit, t_pred, ece(proba, yte, model.classes_)


def splits(name: str, n_folds: int):
    home = find_data_home()
    if name == "sst2":
        Xtr, ytr = load_sentiment("sst2", "train", data_home=home, return_X_y=True)
        Xte, yte = load_sentiment("sst2", "test", data_home=home, return_X_y=True)
        yield Xtr, ytr, Xte, yte
        return
    X, y = load_sentiment(name, "all", data_home=home, return_X_y=True)
    for tr, te in StratifiedKFold(n_folds, shuffle=True, random_state=0).split(X, y):
        yield [X[i] for i in tr], y[tr], [X[i] for i in te], y[te]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 folds instead of 5")
    args = ap.parse_args()
    n_folds = 2 if args.quick else 5
    lines = [f"# Sentiment: maaskit SentimentClassifier vs TF-IDF + LogisticRegression "
             f"({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
             f"machine: {platform.machine()}, {os.cpu_count()} cores; loadavg at start {os.getloadavg()}", ""]
    t = time.perf_counter()
    SentimentClassifier().fit(["good film", "bad film"], [1, 0]).predict(["good"])
    lines.append(f"warm-up (numba compile or cache load): {time.perf_counter() - t:.2f}s")
    lines += ["", "| data set | protocol | model | accuracy | ECE | train (s) | predict (s) | acc. diff vs baseline |",
              "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name, lang in (("sst2", "en"), ("sentiment-en", "en"), ("sentiment-zh", "zh")):
        res = {"tfidf+LR": [], "maaskit": [], "maaskit-uncal": []}
        for Xtr, ytr, Xte, yte in splits(name, n_folds):
            res["tfidf+LR"].append(evaluate(lambda: baseline(lang), Xtr, ytr, Xte, yte))
            res["maaskit"].append(evaluate(SentimentClassifier, Xtr, ytr, Xte, yte))
            res["maaskit-uncal"].append(evaluate(lambda: SentimentClassifier(calibration=None),
                                                 Xtr, ytr, Xte, yte))
        proto = "train -> test" if name == "sst2" else f"{n_folds}-fold CV"
        base_acc = np.mean([r[0] for r in res["tfidf+LR"]])
        for model, rows in res.items():
            acc = np.mean([r[0] for r in rows])
            label = {"tfidf+LR": "TfidfVectorizer + LogisticRegression", "maaskit": "SentimentClassifier()",
                     "maaskit-uncal": "SentimentClassifier(calibration=None)"}[model]
            lines.append(f"| {name} | {proto} | {label} | {acc:.4f} | {np.mean([r[3] for r in rows]):.4f} | "
                         f"{sum(r[1] for r in rows):.2f} | {sum(r[2] for r in rows):.3f} | {acc - base_acc:+.4f} |")
            print(lines[-1], flush=True)
    lines += ["", f"loadavg at end {os.getloadavg()}"]
    print(lines[-1])
    out = os.environ.get("BENCH_OUT")
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
