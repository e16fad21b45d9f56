"""Small generated corpora with known structure for the text tests."""

from __future__ import annotations

import numpy as np
import pytest


def make_topic_corpus(n_sentences=1500, n_topics=6, words_per_topic=25, sentence_len=10,
                      n_pairs=6, seed=0):
    """Sentences drawn from topics, with planted synonyms.

    Pair ``k`` is ``("a<k>", "b<k>")``: in 40% of the sentences one of the two (at random)
    appears inside its own private context ``c<k>_0 c<k>_1 _ c<k>_2 c<k>_3``, so the two
    words of a pair, and only they, share those contexts.

    Returns the corpus (list of token lists) and the planted pairs.
    """
    rng = np.random.RandomState(seed)
    topic_words = [[f"t{t}w{i}" for i in range(words_per_topic)] for t in range(n_topics)]
    p = 1.0 / np.arange(1, words_per_topic + 1)
    p /= p.sum()
    pairs = [(f"a{k}", f"b{k}") for k in range(n_pairs)]
    corpus = []
    for _ in range(n_sentences):
        t = rng.randint(n_topics)
        sent = [topic_words[t][i] for i in rng.choice(words_per_topic, sentence_len, p=p)]
        if rng.rand() < 0.4:
            k = rng.randint(n_pairs)
            word = pairs[k][rng.randint(2)]
            pos = rng.randint(sentence_len)
            sent[pos:pos] = [f"c{k}_0", f"c{k}_1", word, f"c{k}_2", f"c{k}_3"]
        corpus.append(sent)
    return corpus, pairs


@pytest.fixture(scope="module")
def topic_corpus():
    return make_topic_corpus()
