"""Small fitted models of every loadable class, what to do with each, and a worker process.

Run as a script, this file is the fuzz test's child process: it reads one JSON request per
line (``{"case": ..., "path": ...}``), loads the artifact and uses the model, and answers one
JSON line: ``{"outcome": "rejected" | "ok" | "error", "detail": ...}``. A crash of this process
(a signal) or a hang is what the fuzz test looks for; it never happens in the parent.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd

rng = np.random.RandomState(0)
_rows = []
for _u in range(12):
    for _i in rng.choice(10, 4, replace=False):
        _rows.append((f"u{_u}", f"i{_i}", float(rng.randint(1, 6))))
PLAYS = pd.DataFrame(_rows, columns=["user", "item", "rating"])
TIMED = PLAYS.assign(timestamp=np.arange(len(PLAYS)))  # SASRec needs the order
X = rng.randn(30, 4)
YC = (X[:, 0] > 0).astype(int)
Y3 = np.digitize(X[:, 1], [-0.5, 0.5])
YR = X[:, 0] * 2 + X[:, 1]
IMG = rng.rand(12, 6, 6)
YI = np.arange(12) % 2
SEQ = rng.randint(0, 8, size=(12, 5))
DOCS = ["good movie great fun", "bad movie awful boring", "great acting good plot",
        "boring awful bad plot"] * 3
YS = np.array([1, 0, 1, 0] * 3)
CLIPS = np.random.RandomState(1).rand(12, 3, 6, 6)  # (n, T, h, w) for CRNNClassifier
FEATURES = pd.DataFrame({"genres": [["a"], ["a", "b"], [], None] * 2, "year": [1990.0, 2000.0, np.nan, 2010.0] * 2,
                         "kind": ["x", "y", None, "x"] * 2, "title": ["good fun movie", "bad plot", None, "great acting"] * 2},
                        index=[f"i{i}" for i in range(8)])


def _fit(name: str):
    from maaskit.ensemble import RandomForestClassifier, RandomForestRegressor
    from maaskit.linear_model import LinearRegression, LogisticRegression, SGDClassifier, SGDRegressor
    from maaskit.neural_network import (
        CNNClassifier, CRNNClassifier, GAN, MLPClassifier, MLPRegressor, RNNClassifier, RNNRegressor, TransformerClassifier)
    from maaskit.recommender import (ALS, BPR, FeatureEncoder, HybridMF, MatrixFactorization, Popularity, Recommender,
                                     SASRec, SVDpp)
    from maaskit.svm import SVMClassifier
    from maaskit.text import DocumentVectorizer, SentimentClassifier, Word2Vec

    small = dict(max_iter=2, random_state=0)
    return {
        "ALS": lambda: ALS(n_factors=3, **small).fit(PLAYS),
        "BPR": lambda: BPR(n_factors=3, **small).fit(PLAYS),
        "MatrixFactorization": lambda: MatrixFactorization(n_factors=3, **small).fit(PLAYS),
        "SVDpp": lambda: SVDpp(n_factors=3, **small).fit(PLAYS),
        "Popularity": lambda: Popularity().fit(PLAYS),
        "SASRec": lambda: SASRec(n_factors=4, n_blocks=1, max_len=3, max_iter=1, early_stopping=False,
                                 random_state=0).fit(TIMED),
        "Recommender": lambda: Recommender("als", n_factors=3, **small).fit(PLAYS),
        # items i10, i11 are cold (features only); users get features as a (matrix, ids) tuple
        "HybridMF": lambda: HybridMF(n_factors=3, item_encoder=FeatureEncoder(n_bins=2), **small).fit(
            PLAYS, item_features=FEATURES.drop(columns="title").set_axis([f"i{i}" for i in range(4, 12)]),
            user_features=(np.eye(3), ["u0", "u1", "new"])),
        "LinearRegression": lambda: LinearRegression().fit(X, YR),
        "LogisticRegression": lambda: LogisticRegression(max_iter=20).fit(X, Y3),
        "SGDClassifier": lambda: SGDClassifier(max_iter=3, random_state=0).fit(X, YC),
        "SGDRegressor": lambda: SGDRegressor(max_iter=3, random_state=0).fit(X, YR),
        "SVMClassifier": lambda: SVMClassifier(probability=True, random_state=0).fit(X, Y3),
        "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=2, max_depth=3,
                                                                 random_state=0).fit(X, Y3),
        "RandomForestRegressor": lambda: RandomForestRegressor(n_estimators=2, max_depth=3,
                                                               random_state=0).fit(X, YR),
        "MLPClassifier": lambda: MLPClassifier(hidden_layer_sizes=(4,), **small).fit(X, Y3),
        "MLPRegressor": lambda: MLPRegressor(hidden_layer_sizes=(4,), **small).fit(X, YR),
        "CNNClassifier": lambda: CNNClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1,
                                               random_state=0).fit(IMG, YI),
        "CRNNClassifier": lambda: CRNNClassifier(filters=(2,), frame_size=3, hidden_size=3, max_iter=1,
                                                 random_state=0).fit(CLIPS, YI),
        "RNNClassifier": lambda: RNNClassifier(hidden_size=3, embedding_dim=3, vocab_size=8, max_iter=1,
                                               random_state=0).fit(SEQ, YI),
        "RNNRegressor": lambda: RNNRegressor(hidden_size=3, max_iter=1, random_state=0).fit(
            SEQ.astype(float), YI.astype(float)),
        "TransformerClassifier": lambda: TransformerClassifier(d_model=4, n_heads=2, n_layers=1,
                                                               dim_feedforward=8, max_len=8, max_iter=1,
                                                               random_state=0).fit(SEQ, YI),
        "GAN": lambda: GAN(latent_dim=2, hidden_layer_sizes=(4,), max_iter=1, batch_size=8,
                           conditional=True, random_state=0).fit(X, YC),
        "Word2Vec": lambda: Word2Vec(vector_size=4, min_count=1, epochs=1, workers=1).fit(
            [d.split() for d in DOCS]),
        "DocumentVectorizer": lambda: DocumentVectorizer(vector_size=4, epochs=1).fit(DOCS),
        "SentimentClassifier": lambda: SentimentClassifier(dim=4, epochs=2).fit(DOCS, YS),
        "FeatureEncoder": lambda: FeatureEncoder(n_bins=2).fit(
            FEATURES, word_vectors=Word2Vec(vector_size=3, min_count=1, epochs=1, workers=1).fit(
                [d.split() for d in DOCS])),
    }[name]()


CASES = ("ALS", "BPR", "HybridMF", "MatrixFactorization", "SVDpp", "Popularity", "Recommender", "SASRec",
         "LinearRegression",
         "LogisticRegression", "SGDClassifier", "SGDRegressor", "SVMClassifier", "RandomForestClassifier",
         "RandomForestRegressor", "MLPClassifier", "MLPRegressor", "CNNClassifier", "CRNNClassifier",
         "RNNClassifier", "RNNRegressor", "TransformerClassifier", "GAN", "Word2Vec", "DocumentVectorizer",
         "SentimentClassifier", "FeatureEncoder")


def fit(name: str):
    """A small fitted model of case ``name``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fit(name)


def use(name: str, est) -> None:
    """Call everything the model offers on small valid inputs."""
    if name == "SASRec":
        est.recommend_history([["i1", "i2", "i9", "nope"], [], ["i3"] * 9], n=4, output="numpy")
    if name in ("ALS", "BPR", "HybridMF", "MatrixFactorization", "SVDpp", "Popularity", "Recommender", "SASRec"):
        users = ["u0", "u3", "u11", "nobody"]
        est.recommend(users, n=5, output="numpy")
        est.recommend(users, n=5, exclude_seen=False, output="numpy")
        if hasattr(est, "similar_items"):
            try:
                est.similar_items(["i1", "i2"], n=3, output="numpy")
            except NotImplementedError:
                pass
        est.predict(PLAYS[["user", "item"]].head(6))
        if name == "HybridMF":
            est.recommend_new_user((np.eye(3)[:2], ["p", "q"]), n=3, output="numpy")
            est.similar_items(["i11"], n=3, output="numpy")
            est.add_items(FEATURES.drop(columns="title").head(2).set_axis(["n1", "n2"]))
            est.recommend(["u0", "new"], n=4, output="numpy")
    elif name in ("CNNClassifier",):
        est.predict(IMG[:4])
        est.predict_proba(IMG[:4])
    elif name == "CRNNClassifier":
        est.predict(CLIPS[:4])
        est.predict_proba(list(CLIPS[:2]))
        est.predict_proba([CLIPS[0], CLIPS[1, :1], CLIPS[2, :2]])  # clips of different lengths
    elif name in ("RNNClassifier", "TransformerClassifier"):
        est.predict(SEQ[:4])
        est.predict(np.full((2, 5), 50))  # out-of-vocabulary ids
    elif name == "RNNRegressor":
        est.predict(SEQ[:4].astype(float))
    elif name == "GAN":
        est.sample(3, random_state=0)
        est.sample(2, y=est.classes_[-1], random_state=0)
    elif name == "Word2Vec":
        w = str(est.wv.index_to_key[0])
        est.wv.most_similar(w, topn=3)
        est.wv.get_vector(w)
    elif name == "DocumentVectorizer":
        est.transform(DOCS[:3] + ["unknown words only"])
    elif name == "FeatureEncoder":
        est.transform(FEATURES)
        est.transform(FEATURES.assign(genres=[["z"]] * 8, kind="new", year=1e9, title="unseen words"))
        est.get_feature_names_out()
    elif name == "SentimentClassifier":
        est.predict(DOCS[:3] + ["unseen words"])
        est.predict_proba(DOCS[:3])
    else:
        est.predict(X[:5])
        for extra in ("predict_proba", "decision_function"):
            if hasattr(est, extra):
                getattr(est, extra)(X[:5])


def _serve() -> None:
    from maaskit.exceptions import ArtifactError, MaaskitError
    from maaskit.persistence import loads

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        req = json.loads(line)
        with open(req["path"], "rb") as fh:
            data = fh.read()
        try:
            est = loads(data)
        except ArtifactError as exc:
            out = {"outcome": "rejected", "detail": str(exc)}
        else:
            try:
                use(req["case"], est)
                out = {"outcome": "ok", "detail": ""}
            except MaaskitError as exc:
                # a deliberate, documented error (e.g. UnknownIdError when the mutation
                # renamed the ids the calls ask for): the model's state is sane
                out = {"outcome": "refused", "detail": f"{type(exc).__name__}: {exc}"[:500]}
            except Exception as exc:  # reported to the parent, which judges it
                out = {"outcome": "error", "detail": f"{type(exc).__name__}: {exc}"[:500]}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
