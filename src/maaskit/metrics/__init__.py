"""Evaluation metrics: rating errors (RMSE, MAE) and top-k ranking metrics (full ranking)."""

from ._ranking import (
    coverage,
    hr_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    relevant_items_by_user,
)
from ._rating import mae, rmse
from ._scorer import RecommenderScorer, get_scorer, get_scorer_names

__all__ = [
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "hr_at_k",
    "ndcg_at_k",
    "map_at_k",
    "coverage",
    "ranking_metrics",
    "relevant_items_by_user",
    "get_scorer",
    "get_scorer_names",
    "RecommenderScorer",
]
