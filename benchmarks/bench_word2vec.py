"""maaskit Word2Vec against gensim's Word2Vec, same parameters, same corpus, one process.

Corpora
-------
1. Generated: a Zipfian corpus (50k word types, exponent 1, 20-token sentences) of 10M
   tokens (1M with ``--quick``). 100 planted synonym pairs ``a<k>``/``b<k>``: in 20% of the
   sentences one of them (at random) sits inside its own private context of four words,
   so the two words of a pair, and only they, share those contexts. Quality: hit@10 (is
   the partner among the 10 nearest neighbours of ``a<k>``) and the mean cosine of the
   pairs against that of random word pairs.
2. Real text from ``../shared/data``: SST-2 (all splits), UCI sentiment sentences and the
   ChnSentiCorp reviews, tokenized by ``maaskit.text.Tokenizer`` (characters for Chinese),
   3 epochs. Quality: overlap of the 10 nearest neighbours of the 100 most frequent words
   between the two libraries, next to the overlap between two gensim runs with different
   seeds (the noise floor).

Both libraries: vector_size 100, window 5, min_count 5, negative 5, sample 1e-3,
alpha 0.025, min_alpha 1e-4, 2 worker threads, CBOW and skip-gram. Times include the
vocabulary pass. Numba compile time is measured by a warm-up fit and reported separately.

Usage: ``python benchmarks/bench_word2vec.py [--quick] [--tokens N]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from maaskit.text import Tokenizer, Word2Vec

PARAMS = dict(vector_size=100, window=5, min_count=5, negative=5, sample=1e-3, alpha=0.025,
              min_alpha=1e-4)
WORKERS = 2
REAL_EPOCHS = 3


def make_corpus(n_tokens: int, n_types: int = 50_000, n_pairs: int = 100, seed: int = 0):
    """Zipfian sentences with planted synonym pairs (see the module docstring)."""
    rng = np.random.RandomState(seed)
    p = 1.0 / np.arange(1, n_types + 1)
    p /= p.sum()
    n_sent = n_tokens // 20
    ids = rng.choice(n_types, size=(n_sent, 20), p=p)
    words = [f"w{i}" for i in range(n_types)]
    pair_words = [(f"a{k}", f"b{k}") for k in range(n_pairs)]
    ctx = [[f"c{k}_{j}" for j in range(4)] for k in range(n_pairs)]
    planted = rng.rand(n_sent) < 0.2
    ks = rng.randint(n_pairs, size=n_sent)
    which = rng.randint(2, size=n_sent)
    pos = rng.randint(0, 16, size=n_sent)
    corpus = []
    for s in range(n_sent):
        sent = [words[i] for i in ids[s]]
        if planted[s]:
            k = ks[s]
            c = ctx[k]
            sent[pos[s]:pos[s] + 5] = [c[0], c[1], pair_words[k][which[s]], c[2], c[3]]
        corpus.append(sent)
    return corpus, pair_words


def real_corpus():
    from maaskit.datasets import find_data_home, load_sentiment

    home = find_data_home()
    tok = Tokenizer()
    corpus = []
    for name, split in (("sst2", "all"), ("sentiment-en", "all"), ("sentiment-zh", "all")):
        try:
            texts, _ = load_sentiment(name, split, data_home=home, return_X_y=True)
        except FileNotFoundError:
            continue
        corpus.extend(tok(t) for t in texts)
    return corpus


def quality_planted(most_similar, similarity, pairs, rng):
    hits = sum(b in [w for w, _ in most_similar(a, topn=10)] for a, b in pairs)
    pair_cos = np.mean([similarity(a, b) for a, b in pairs])
    return hits / len(pairs), float(pair_cos)


def overlap(ms1, ms2, words):
    return float(np.mean([len({w for w, _ in ms1(x, topn=10)} & {w for w, _ in ms2(x, topn=10)}) / 10
                          for x in words]))


def run_gensim(corpus, sg, epochs, seed=1):
    from gensim.models import Word2Vec as GW

    t = time.perf_counter()
    m = GW(sentences=corpus, sg=sg, epochs=epochs, workers=WORKERS, seed=seed, **PARAMS)
    return m, time.perf_counter() - t


def run_maaskit(corpus, sg, epochs, backend, seed=1):
    t = time.perf_counter()
    m = Word2Vec(sg=sg, epochs=epochs, workers=WORKERS, seed=seed, backend=backend, **PARAMS).fit(corpus)
    return m, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1M generated tokens instead of 10M")
    ap.add_argument("--tokens", type=int, default=None, help="generated corpus size")
    ap.add_argument("--backends", default="numba,cython")
    args = ap.parse_args()
    n_tokens = args.tokens or (1_000_000 if args.quick else 10_000_000)
    backends = args.backends.split(",")
    lines = [f"# Word2Vec: maaskit vs gensim ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
             f"machine: {platform.machine()}, {os.cpu_count()} cores; loadavg at start {os.getloadavg()}",
             f"params: {PARAMS}, workers={WORKERS}", ""]
    print("\n".join(lines), flush=True)

    # Warm-up: numba compile (cached on disk after the first run) and extension import.
    t = time.perf_counter()
    warm = [["x", "y", "z"] * 4] * 20
    for b in backends:
        for sg in (0, 1):
            Word2Vec(8, min_count=1, sg=sg, workers=1, epochs=1, backend=b).fit(warm)
    lines.append(f"warm-up (numba compile or cache load): {time.perf_counter() - t:.2f}s")

    t = time.perf_counter()
    corpus, pairs = make_corpus(n_tokens)
    lines.append(f"generated corpus: {n_tokens:,} tokens, {len(corpus):,} sentences in {time.perf_counter() - t:.1f}s")
    rng = np.random.RandomState(0)
    header = "| corpus | mode | library | time (s) | words/s | ratio vs gensim | hit@10 | pair cos | random-pair cos |"
    table = [header, "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines[-2:] + [""] + table), flush=True)
    for sg, mode in ((0, "CBOW"), (1, "skip-gram")):
        gm, gt = run_gensim(corpus, sg, 1)
        gwps = n_tokens / gt
        vocab = gm.wv.index_to_key[:5000]
        rp = [(vocab[i], vocab[j]) for i, j in rng.randint(len(vocab), size=(200, 2)) if i != j]
        rand_cos = lambda sim: float(np.mean([sim(a, b) for a, b in rp]))  # noqa: E731
        h, pc = quality_planted(gm.wv.most_similar, gm.wv.similarity, pairs, rng)
        table.append(f"| generated {n_tokens / 1e6:g}M | {mode} | gensim {__import__('gensim').__version__} | "
                     f"{gt:.1f} | {gwps / 1e3:.0f}k | 1.00 | {h:.2f} | {pc:.3f} | {rand_cos(gm.wv.similarity):.3f} |")
        print(table[-1], flush=True)
        del gm
        for b in backends:
            mm, mt = run_maaskit(corpus, sg, 1, b)
            h, pc = quality_planted(mm.wv.most_similar, mm.wv.similarity, pairs, rng)
            table.append(f"| generated {n_tokens / 1e6:g}M | {mode} | maaskit {b} | {mt:.1f} | "
                         f"{n_tokens / mt / 1e3:.0f}k | {gt / mt:.2f} | {h:.2f} | {pc:.3f} | "
                         f"{rand_cos(mm.wv.similarity):.3f} |")
            print(table[-1], flush=True)
            del mm
    del corpus

    real = real_corpus()
    if real:
        n_real = sum(map(len, real))
        table += ["", f"Real text: {len(real):,} sentences, {n_real:,} tokens, {REAL_EPOCHS} epochs.", "",
                  "| mode | library | time (s) | words/s | ratio vs gensim | top-10 overlap with gensim | gensim seed-vs-seed overlap |",
                  "|---|---|---|---|---|---|---|"]
        print("\n".join(table[-5:]), flush=True)
        for sg, mode in ((0, "CBOW"), (1, "skip-gram")):
            gm, gt = run_gensim(real, sg, REAL_EPOCHS)
            gm2, _ = run_gensim(real, sg, REAL_EPOCHS, seed=2)
            top = gm.wv.index_to_key[:100]
            floor = overlap(gm.wv.most_similar, gm2.wv.most_similar, top)
            table.append(f"| {mode} | gensim | {gt:.2f} | {REAL_EPOCHS * n_real / gt / 1e3:.0f}k | 1.00 | - | {floor:.2f} |")
            print(table[-1], flush=True)
            for b in backends:
                mm, mt = run_maaskit(real, sg, REAL_EPOCHS, b)
                ov = overlap(gm.wv.most_similar, mm.wv.most_similar, top)
                table.append(f"| {mode} | maaskit {b} | {mt:.2f} | {REAL_EPOCHS * n_real / mt / 1e3:.0f}k | "
                             f"{gt / mt:.2f} | {ov:.2f} | {floor:.2f} |")
                print(table[-1], flush=True)
    lines += ["", *table, "", f"loadavg at end {os.getloadavg()}"]
    print("\n".join(lines[-1:]))
    out = os.environ.get("BENCH_OUT")
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
