"""Kernel micro-benchmarks (pytest-benchmark): every backend of ``topk``, ``sgd`` and ``attention``.

One call of one kernel on fixed inputs, per backend, single-threaded (``n_threads=1``) so the
backends compare on equal terms; the Numba twins are compiled in the warm-up round, outside
the timings. Every benchmark also checks its backend against the NumPy reference, so a fast
wrong kernel fails instead of winning.

Run (not part of CI: pyproject's ``testpaths`` is ``tests``)::

    python -m pytest benchmarks/test_kernel_micro.py                    # table per kernel
    python -m pytest benchmarks/test_kernel_micro.py --benchmark-group-by=group --benchmark-columns=min,median,rounds

Layers (see the top of ``maaskit/_backend.py``): ``numpy`` is ``maaskit._kernels.reference``,
``numba`` is ``maaskit._kernels.numba``, ``cython`` is ``maaskit._ext`` (compiled from
``kernels/*.pyx``), ``torch`` is ``maaskit._kernels.torch`` (CPU here).
"""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel, has_backend, has_torch

CPU_BACKENDS = ("numpy", "numba", "cython")


def _backends(name: str, torch_twin: bool = False) -> list:
    out = [pytest.param(b, marks=pytest.mark.skipif(not has_backend(name, b), reason=f"no {b} {name}"))
           for b in CPU_BACKENDS]
    if torch_twin:
        out.append(pytest.param("torch", marks=pytest.mark.skipif(not has_torch(), reason="no torch")))
    return out


def _run(benchmark, fn, rounds: int):
    # pedantic: a fixed number of rounds, the first (Numba compilation, caches) not counted.
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


# ---------------------------------------------------------------------------------- topk
N_USERS, N_ITEMS, K, N_SEEN = 943, 1682, 10, 100  # MovieLens 100k's shape, top-10


def _topk_inputs():
    rng = np.random.RandomState(0)
    scores = rng.standard_normal((N_USERS, N_ITEMS)).astype(np.float32)
    seen = np.sort(np.stack([rng.choice(N_ITEMS, N_SEEN, replace=False) for _ in range(N_USERS)]), axis=1)
    indptr = np.arange(0, N_USERS * N_SEEN + 1, N_SEEN, dtype=np.int64)
    return scores, indptr, seen.ravel().astype(np.int32)


def _topk_reference():
    scores, indptr, indices = _topk_inputs()
    idx, val = np.empty((N_USERS, K), np.int32), np.empty((N_USERS, K), np.float32)
    get_kernel("topk", "numpy").topk_rows(scores, indptr, indices, K, idx, val, 1)
    return idx, val


@pytest.mark.benchmark(group="topk 943x1682, k=10")
@pytest.mark.parametrize("backend", _backends("topk", torch_twin=True))
def test_topk(benchmark, backend):
    scores, indptr, indices = _topk_inputs()
    kernel = get_kernel("topk", backend)
    if backend == "torch":
        import torch

        scores, indptr, indices = (torch.from_numpy(a) for a in (scores, indptr, indices.astype(np.int64)))
        idx, val = torch.empty((N_USERS, K), dtype=torch.int64), torch.empty((N_USERS, K), dtype=torch.float32)
    else:
        idx, val = np.empty((N_USERS, K), np.int32), np.empty((N_USERS, K), np.float32)
    # topk_rows only sets the seen entries to -inf, so repeating it on the same scores is the same call.
    _run(benchmark, lambda: kernel.topk_rows(scores, indptr, indices, K, idx, val, 1), rounds=20)
    ref_idx, ref_val = _topk_reference()
    np.testing.assert_allclose(np.asarray(val), ref_val, rtol=1e-6)
    if backend != "torch":  # torch.topk does not promise an order among exact ties
        np.testing.assert_array_equal(np.asarray(idx), ref_idx)


# ----------------------------------------------------------------------------------- sgd
N_RATINGS, N_FACTORS = 20_000, 32


def _sgd_inputs():
    rng = np.random.RandomState(0)
    users = rng.randint(0, N_USERS, N_RATINGS).astype(np.int32)
    items = rng.randint(0, N_ITEMS, N_RATINGS).astype(np.int32)
    ratings = rng.randint(1, 6, N_RATINGS).astype(np.float32)
    state = (np.zeros(N_USERS, np.float32), np.zeros(N_ITEMS, np.float32),
             (0.1 * rng.standard_normal((N_USERS, N_FACTORS))).astype(np.float32),
             (0.1 * rng.standard_normal((N_ITEMS, N_FACTORS))).astype(np.float32))
    scales = np.ones(N_USERS, np.float32), np.ones(N_ITEMS, np.float32)
    return users, items, ratings, state, scales


def _sgd_epoch(backend: str) -> tuple:
    users, items, ratings, (bu, bi, P, Q), (su, si) = _sgd_inputs()
    kernel = get_kernel("sgd", backend)

    def epoch():
        return kernel.sgd_epoch(users, items, ratings, float(ratings.mean()), bu, bi, P, Q, su, si,
                                0.005, 0.005, 0.02, 0.02, 1)

    return epoch, (bu, bi, P, Q)


@pytest.mark.benchmark(group="sgd epoch, 20k ratings, 32 factors")
@pytest.mark.parametrize("backend", _backends("sgd"))
def test_sgd(benchmark, backend):
    epoch, _ = _sgd_epoch(backend)
    _run(benchmark, epoch, rounds=3 if backend == "numpy" else 20)
    # Correctness on a fresh state: one epoch against the reference (same order, one thread).
    fresh, state = _sgd_epoch(backend)
    ref, ref_state = _sgd_epoch("numpy")
    np.testing.assert_allclose(fresh(), ref(), rtol=1e-3)
    for got, want in zip(state, ref_state):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------------- attention
B, H, T, D = 8, 4, 64, 32


def _attention_inputs():
    rng = np.random.RandomState(0)
    q, k, v = (rng.standard_normal((B, H, T, D)).astype(np.float32) for _ in range(3))
    key_valid = np.ones((B, T), np.uint8)
    key_valid[:, T - 8:] = 0  # some padding, as in a batch of unequal lengths
    return q, k, v, key_valid


@pytest.mark.benchmark(group="attention forward, B=8 H=4 T=64 D=32, causal")
@pytest.mark.parametrize("backend", _backends("attention"))
def test_attention_forward(benchmark, backend):
    q, k, v, key_valid = _attention_inputs()
    kernel = get_kernel("attention", backend)
    out, probs = np.empty_like(q), np.empty((B, H, T, T), np.float32)
    _run(benchmark, lambda: kernel.attention_forward(q, k, v, key_valid, True, D ** -0.5, out, probs), rounds=20)
    ref_out, ref_probs = np.empty_like(q), np.empty((B, H, T, T), np.float32)
    get_kernel("attention", "numpy").attention_forward(q, k, v, key_valid, True, D ** -0.5, ref_out, ref_probs)
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-4, atol=1e-6)
