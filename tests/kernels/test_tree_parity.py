"""The tree kernel: Numba and Cython against the NumPy reference, and the maths it relies on.

Trees have no gradients, so instead of finite-difference checks the split maths is checked
against impurities computed from scratch: the split proxy must rank candidates exactly as
the weighted child impurity does, and the impurity decrease must match it.
"""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import tree as ref
from maaskit.ensemble._binning import compute_thresholds

BACKENDS = ("numpy", "numba", "cython")
BIG = 2**31 - 1


def _data(n=240, p=6, seed=0, max_bins=32, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    X[:, 3] = rng.randint(0, 4, n)  # few distinct values: exact bins
    X[:, 5] = 1.0  # constant: never split on
    X = X.astype(dtype)
    yc = ((X[:, 0] + X[:, 1] * X[:, 3] + 0.3 * rng.randn(n)) > 0).astype(float) + (X[:, 2] > 1)
    yr = 2 * X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.randn(n)
    T, nt = compute_thresholds(X, max_bins, rng)
    Xb = np.zeros((n, p), np.uint8)
    ref.bin_data(X, T, nt, Xb)
    counts = np.bincount(rng.randint(0, n, n), minlength=n).astype(float)
    return X, Xb, T, nt, (nt + 1).astype(np.int32), yc, yr, counts


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bin_data_matches_reference_and_thresholds(backend, dtype):
    X, Xb, T, nt, nbins, *_ = _data(dtype=dtype)
    out = np.zeros_like(Xb)
    get_kernel("tree", backend).bin_data(np.ascontiguousarray(X), T, nt, out)
    np.testing.assert_array_equal(out, Xb)
    # bin <= b  <=>  x <= thresholds[f, b]: the identity that predict relies on.
    for f in range(X.shape[1]):
        for b in range(nt[f]):
            np.testing.assert_array_equal(out[:, f] <= b, X[:, f] <= T[f, b])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", ["gini", "entropy", "squared_error"])
@pytest.mark.parametrize("max_features", [2, 6])  # 6 = all features: subtraction trick
@pytest.mark.parametrize("max_depth,min_samples_leaf", [(3, 1), (BIG, 1), (BIG, 5)])
def test_grow_tree_identical_to_reference(backend, task, max_features, max_depth,
                                          min_samples_leaf):
    X, Xb, T, nt, nbins, yc, yr, counts = _data()
    y, ncls, crit = {"gini": (yc, 3, 0), "entropy": (yc, 3, 1), "squared_error": (yr, 0, 2)}[task]
    samples = np.flatnonzero(counts)
    args = (Xb, nbins, y, ncls, samples, counts, max_features, max_depth, 2, min_samples_leaf,
            0.0, crit, 12345)
    expected = ref.grow_tree(*args)
    got = get_kernel("tree", backend).grow_tree(*args)
    names = ["feature", "threshold_bin", "left", "right", "value", "impurity", "w", "n"]
    for name, a, b in zip(names, expected, got):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(b, a, err_msg=name)
    feature, _, left, right, value, impurity, w, nn = got
    leaves = left < 0
    assert np.all(nn[leaves] >= min_samples_leaf)
    assert np.all((left >= 0) == (right >= 0)) and np.all((feature >= 0) == ~leaves)
    assert nn[0] == len(samples) and w[0] == counts.sum()
    # Children partition their parent.
    internal = np.flatnonzero(~leaves)
    np.testing.assert_array_equal(nn[left[internal]] + nn[right[internal]], nn[internal])
    if max_depth == 3:
        assert len(feature) <= 15


@pytest.mark.parametrize("backend", BACKENDS)
def test_grow_tree_min_impurity_decrease_prunes(backend):
    X, Xb, T, nt, nbins, yc, yr, counts = _data()
    samples = np.flatnonzero(counts)
    kern = get_kernel("tree", backend)
    full = kern.grow_tree(Xb, nbins, yr, 0, samples, counts, 6, BIG, 2, 1, 0.0, 2, 1)
    pruned = kern.grow_tree(Xb, nbins, yr, 0, samples, counts, 6, BIG, 2, 1, 0.01, 2, 1)
    assert 1 < len(pruned[0]) < len(full[0])
    exp = ref.grow_tree(Xb, nbins, yr, 0, samples, counts, 6, BIG, 2, 1, 0.01, 2, 1)
    np.testing.assert_array_equal(pruned[0], exp[0])


def _child_impurity(y, w, go_left, ncls, crit):
    def imp(mask):
        W = w[mask].sum()
        if W == 0:
            return 0.0, 0.0
        if ncls:
            pc = np.bincount(y[mask].astype(int), weights=w[mask], minlength=ncls) / W
            if crit == 0:
                return W, 1 - (pc ** 2).sum()
            pc = pc[pc > 0]
            return W, -(pc * np.log(pc)).sum()
        m = np.average(y[mask], weights=w[mask])
        return W, np.average((y[mask] - m) ** 2, weights=w[mask])
    (Wl, il), (Wr, ir) = imp(go_left), imp(~go_left)
    return Wl * il + Wr * ir


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", ["gini", "entropy", "squared_error"])
def test_histogram_and_split_match_brute_force(backend, task):
    X, Xb, T, nt, nbins, yc, yr, counts = _data(n=120)
    y, ncls, crit = {"gini": (yc, 3, 0), "entropy": (yc, 3, 1), "squared_error": (yr, 0, 2)}[task]
    kern = get_kernel("tree", backend)
    ids = np.flatnonzero(counts)
    S = ncls + 1 if ncls else 3
    B = int(nbins.max())
    hist = np.zeros((X.shape[1], B, S))
    feats = np.arange(X.shape[1], dtype=np.int64)
    kern.build_histogram(Xb, y, counts, ids, 0, len(ids), feats, 0, X.shape[1], ncls, hist)
    w = counts[ids]
    for f in range(X.shape[1]):
        b_ = Xb[ids, f]
        np.testing.assert_array_equal(hist[f, :, -1], np.bincount(b_, minlength=B))
        if ncls:
            for c in range(ncls):
                np.testing.assert_allclose(hist[f, :, c],
                                           np.bincount(b_, weights=w * (y[ids] == c), minlength=B))
        else:
            np.testing.assert_allclose(hist[f, :, 1], np.bincount(b_, weights=w * y[ids], minlength=B))
        proxy, best = kern.find_split(hist[f], int(nbins[f]), ncls, crit, 1, np.zeros(2 * S + 2))
        if len(np.unique(b_)) < 2:  # constant in the node
            assert best == -2
            continue
        # The proxy's best bin minimises the weighted child impurity among all bins.
        scores = [(_child_impurity(y[ids], w, b_ <= b, ncls, crit), b) for b in range(nbins[f] - 1)
                  if 0 < (b_ <= b).sum() < len(ids)]
        best_score = min(s for s, _ in scores)
        assert _child_impurity(y[ids], w, b_ <= best, ncls, crit) == pytest.approx(best_score, rel=1e-9, abs=1e-9)
        # proxy - parent proxy equals the weighted impurity decrease.
        W = w.sum()
        parent = _child_impurity(y[ids], w, np.ones(len(ids), bool), ncls, crit)
        if ncls and crit == 0:
            pp = (np.bincount(y[ids].astype(int), weights=w) ** 2).sum() / W
        elif ncls:
            t = np.bincount(y[ids].astype(int), weights=w)
            t = t[t > 0]
            pp = (t * np.log(t)).sum() - W * np.log(W)
        else:
            pp = (w * y[ids]).sum() ** 2 / W
        assert proxy - pp == pytest.approx(parent - best_score, rel=1e-7, abs=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_matches_reference(backend, dtype):
    X, Xb, T, nt, nbins, yc, yr, counts = _data(dtype=dtype)
    samples = np.flatnonzero(counts)
    trees = [ref.grow_tree(Xb, nbins, yc, 3, samples, counts, 2, BIG, 2, 1, 0.0, 0, s) for s in (1, 2)]
    off = [0, len(trees[0][0])]
    feature = np.concatenate([t[0] for t in trees])
    thr = np.where(feature >= 0, T[np.maximum(feature, 0), np.maximum(np.concatenate([t[1] for t in trees]), 0)], np.inf)
    left = np.concatenate([np.where(t[2] >= 0, t[2] + o, -1) for t, o in zip(trees, off)]).astype(np.int32)
    right = np.concatenate([np.where(t[3] >= 0, t[3] + o, -1) for t, o in zip(trees, off)]).astype(np.int32)
    value = np.concatenate([t[4] for t in trees])
    roots = np.array(off, dtype=np.int64)
    expected = np.zeros((len(X), 3))
    ref.predict(X, feature, thr, left, right, value, roots, expected)
    got = np.zeros((len(X), 3))
    get_kernel("tree", backend).predict(np.ascontiguousarray(X), feature, thr, left, right, value, roots, got)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got.sum(axis=1), 2.0)
    # Walking binned data with bin thresholds gives the same leaves as raw thresholds.
    one = np.zeros((len(X), 3))
    ref.predict(X, feature, thr, left, right, value, roots[:1], one)
    node = np.zeros(len(X), dtype=np.int64)
    bins = trees[0][1]
    while True:
        inner = trees[0][2][node] >= 0
        if not inner.any():
            break
        go = Xb[np.arange(len(X)), np.maximum(trees[0][0][node], 0)] <= bins[node]
        node = np.where(inner, np.where(go, trees[0][2][node], trees[0][3][node]), node)
    np.testing.assert_array_equal(one, trees[0][4][node])


def test_splitmix_matches_reference_stream():
    import numba as nb

    from maaskit._kernels.numba import tree as nbt

    @nb.njit
    def draw(seed, k):
        state = np.empty(1, np.uint64)
        state[0] = np.uint64(seed)
        out = np.empty(k, np.int64)
        for i in range(k):
            out[i] = nbt._randint(state, 7 + i)
        return out

    r = ref._SplitMix(42)
    np.testing.assert_array_equal(draw(42, 20), [r.randint(7 + i) for i in range(20)])
    # splitmix64 reference value (seed 0, first output).
    assert ref._SplitMix(0).next() == 0xE220A8397B1DCDAF
