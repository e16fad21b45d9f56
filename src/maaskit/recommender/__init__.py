"""Recommenders for explicit ratings and implicit feedback."""

from ._als import ALS
from ._base import BaseRecommender
from ._bpr import BPR
from ._features import FeatureEncoder
from ._hybrid import HybridMF
from ._mf import MatrixFactorization
from ._popularity import Popularity
from ._recommender import Recommender
from ._sasrec import SASRec
from ._svdpp import SVDpp

__all__ = ["ALS", "BPR", "BaseRecommender", "FeatureEncoder", "HybridMF", "MatrixFactorization", "Popularity",
           "Recommender", "SASRec", "SVDpp"]
