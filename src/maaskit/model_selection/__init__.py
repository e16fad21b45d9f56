"""Train/test splitters and cross-validation for interaction data."""

from ._split import (
    InteractionKFold,
    filter_test_to_train,
    leave_last_n_out,
    leave_last_out,
    per_user_split,
    random_split,
)

__all__ = [
    "random_split",
    "per_user_split",
    "leave_last_n_out",
    "leave_last_out",
    "filter_test_to_train",
    "InteractionKFold",
]
