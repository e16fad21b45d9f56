"""The topk kernel: Numba and Cython against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maaskit._backend import get_kernel

BACKENDS = ("numpy", "numba", "cython")


def _run(backend, scores, indptr, indices, k, n_threads=2):
    kern = get_kernel("topk", backend)
    s = scores.copy()
    oi = np.empty((s.shape[0], k), dtype=np.int32)
    os_ = np.empty((s.shape[0], k), dtype=s.dtype)
    kern.topk_rows(s, indptr, indices, k, oi, os_, n_threads)
    return oi, os_


def _seen(rng, n_rows, n_cols, max_seen):
    counts = rng.randint(0, max_seen + 1, size=n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate([rng.choice(n_cols, c, replace=False) for c in counts]).astype(np.int32)
    return indptr, indices


@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_topk_matches_reference(backend, dtype):
    rng = np.random.RandomState(1)
    scores = rng.randn(50, 300).astype(dtype)
    scores[:, ::7] = scores[:, 1:2]  # ties must break by lower index everywhere
    indptr, indices = _seen(rng, 50, 300, 40)
    ref = _run("numpy", scores, indptr, indices, 10)
    got = _run(backend, scores, indptr, indices, 10)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_pads_when_too_few_eligible(backend):
    scores = np.arange(5, dtype=np.float32)[None, :].repeat(2, 0)
    indptr = np.array([0, 4, 4], dtype=np.int64)
    indices = np.array([0, 1, 2, 4], dtype=np.int32)
    oi, os_ = _run(backend, scores, indptr, indices, 3)
    assert oi[0].tolist() == [3, -1, -1]
    assert os_[0, 0] == 3 and np.all(np.isneginf(os_[0, 1:]))
    assert oi[1].tolist() == [4, 3, 2]


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 6), n_cols=st.integers(1, 40), k=st.integers(1, 12),
    seed=st.integers(0, 2**16), ties=st.booleans(),
)
def test_topk_fuzz(n_rows, n_cols, k, seed, ties):
    rng = np.random.RandomState(seed)
    scores = rng.randint(0, 4, size=(n_rows, n_cols)).astype(np.float32) if ties else rng.randn(n_rows, n_cols).astype(np.float32)
    indptr, indices = _seen(rng, n_rows, n_cols, min(n_cols, 5))
    ref = _run("numpy", scores, indptr, indices, k)
    for backend in BACKENDS[1:]:
        got = _run(backend, scores, indptr, indices, k)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
