"""Text: a tokenizer for English and Chinese, Word2Vec embeddings, document vectors, sentiment.

Kernels: ``word2vec`` (skip-gram / CBOW with negative sampling) and ``fasttext`` (averaged
n-gram embeddings with a softmax head).
"""

from ._keyedvectors import KeyedVectors, UnknownWordError
from ._sentiment import SentimentClassifier
from ._tokenizer import Tokenizer
from ._vectorizer import DocumentVectorizer
from ._word2vec import LineSentence, Word2Vec

__all__ = [
    "Tokenizer",
    "Word2Vec",
    "LineSentence",
    "KeyedVectors",
    "UnknownWordError",
    "DocumentVectorizer",
    "SentimentClassifier",
]
