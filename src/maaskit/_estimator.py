"""A scikit-learn compatible estimator base that does not import scikit-learn.

``sklearn.base`` pulls in ``scipy.stats`` and costs 1-2 s of import, more than a first
recommender fit on MovieLens 100k. The recommenders need only the estimator protocol
(``get_params``/``set_params`` from the ``__init__`` signature, ``__sklearn_tags__``), which
scikit-learn's ``clone``, ``GridSearchCV`` and ``check_estimator`` drive through the methods
alone. This class implements that protocol the way ``sklearn.base.BaseEstimator`` does (same
semantics, same errors) and imports scikit-learn only when scikit-learn asks for the tags, by
which point it is imported anyway.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

__all__ = ["LightEstimator", "check_random_state"]


class LightEstimator:
    """Estimator protocol of ``sklearn.base.BaseEstimator`` without importing scikit-learn."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        # inspect.signature costs ~0.1 ms and a tuned Recommender.fit asks ~40 times: cache
        # per class, keyed on the __init__ it was read from.
        cached = cls.__dict__.get("_param_names_cache")
        if cached is not None and cached[0] is init:
            return list(cached[1])
        params = [p for p in inspect.signature(init).parameters.values()
                  if p.name != "self" and p.kind != p.VAR_KEYWORD]
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(
                    f"{cls.__name__}: estimators must name their parameters in __init__ "
                    f"(no *args); got {inspect.signature(init)}."
                )
        names = sorted(p.name for p in params)
        cls._param_names_cache = (init, tuple(names))
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get parameters for this estimator.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (``<name>__<param>``).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any) -> "LightEstimator":
        """Set the parameters of this estimator (``<name>__<param>`` for nested ones).

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = defaultdict(dict)
        for key, value in params.items():
            key, delim, sub_key = key.partition("__")
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {self}. Valid parameters are: "
                    f"{self._get_param_names()!r}."
                )
            if delim:
                nested[key][sub_key] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        # Non-default parameters only, as scikit-learn prints them.
        try:
            sig = inspect.signature(type(self).__init__).parameters
        except (TypeError, ValueError):
            sig = {}
        parts = []
        for key in self._get_param_names():
            value = getattr(self, key, None)
            default = sig[key].default if key in sig else inspect.Parameter.empty
            try:
                same = value is default or bool(value == default)
            except Exception:  # arrays and odd objects: show them
                same = False
            if not same:
                parts.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __sklearn_tags__(self) -> Any:
        # Only scikit-learn calls this, so scikit-learn is imported already.
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=None, regressor_tags=None, classifier_tags=None)


def check_random_state(seed: Any) -> Any:
    """Turn ``seed`` into a ``np.random.RandomState`` as ``sklearn.utils.check_random_state``.

    Parameters
    ----------
    seed : None, int or RandomState instance
        ``None`` gives NumPy's global RandomState, an int a new seeded one, and an instance
        is returned as is.

    Returns
    -------
    rng : numpy.random.RandomState
    """
    import numbers

    import numpy as np

    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")
