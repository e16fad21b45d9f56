import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_squared_error

from maaskit.metrics import mae, rmse


def test_known_values():
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=30))
def test_matches_sklearn(pairs):
    t, p = np.array(pairs).T
    assert rmse(t, p) == pytest.approx(np.sqrt(mean_squared_error(t, p)), abs=1e-12)
    assert mae(t, p) == pytest.approx(mean_absolute_error(t, p), abs=1e-12)


def test_returns_python_float_and_accepts_column_vectors():
    out = rmse(np.ones((3, 1)), np.zeros(3))
    assert type(out) is float and out == 1.0


@pytest.mark.parametrize("func", [rmse, mae])
@pytest.mark.parametrize(
    "t, p, match",
    [
        ([1, 2], [1], "same length; got 2 and 1"),
        ([], [], "non-empty"),
        ([1, np.nan], [1, 2], "finite"),
        ([1, 2], [1, np.inf], "y_pred must be finite"),
        ([[1, 2], [3, 4]], [1, 2], "1-D"),
        (["a", "b"], [1, 2], "numbers"),
    ],
)
def test_errors(func, t, p, match):
    with pytest.raises(ValueError, match=match) as exc:
        func(t, p)
    assert str(exc.value).startswith(f"{func.__name__}: ")
