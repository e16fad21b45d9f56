"""Numba ``tree`` kernel: histogram-binned decision-tree growth and batched prediction.

Same contract and same trees as the NumPy oracle ``maaskit._kernels.reference.tree`` (read
its module docstring for the algorithm). Every function is serial and releases the GIL, so
the estimator grows trees in parallel from a thread pool.

Index safety: Prediction follows ``feature``/``left``/``right`` arrays that come from data (a
fitted or loaded forest) and are not checked here: a child out of range or a cycle would read
out of bounds or loop forever. They are reachable only through validated state: growth writes
them, and loading checks them (``maaskit._schema.Forest``: children after their parent inside
the same tree, features in ``[0, n_features)``, leaves at -1) before any call.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_EPS = np.finfo(np.float64).eps
# Histogram pool budget (bytes) for the subtraction trick; deeper stack slots build directly.
_POOL_BYTES = 32 * 1024 * 1024
# Nodes with at most this many samples scan a sorted list of their bins, not all bins.
_SPARSE_MAX = 48


@nb.njit(cache=True, nogil=True, inline="always")
def _next(state):
    # splitmix64: a counter-based generator that every backend reproduces bit for bit.
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@nb.njit(cache=True, nogil=True, inline="always")
def _randint(state, k):
    return np.int64(_next(state) % np.uint64(k))


@nb.njit(cache=True, nogil=True, inline="always")
def _xlogx(x):
    return x * np.log(x) if x > 0.0 else 0.0


@nb.njit(cache=True, nogil=True)
def bin_data(X, thresholds, n_thresholds, out):
    """Bin ``X`` (n, p) into ``out`` (n, p) uint8: the count of thresholds below each value."""
    n, p = X.shape
    for i in range(n):
        for f in range(p):
            x = X[i, f]
            lo = 0
            hi = n_thresholds[f]
            while lo < hi:  # first threshold >= x
                mid = (lo + hi) >> 1
                if thresholds[f, mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            out[i, f] = lo


@nb.njit(cache=True, nogil=True)
def predict(X, feature, threshold, left, right, value, roots, out):
    """Add the leaf values of the trees starting at ``roots`` to ``out`` for every row of ``X``."""
    n = X.shape[0]
    n_out = value.shape[1]
    # Tree by tree, so that one tree's nodes stay in cache across the rows.
    for t in range(roots.shape[0]):
        for i in range(n):
            node = roots[t]
            while left[node] >= 0:
                if X[i, feature[node]] <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            for c in range(n_out):
                out[i, c] += value[node, c]


@nb.njit(cache=True, nogil=True)
def build_histogram(Xb, y, weights, idx, start, end, feats, k0, k1, n_classes, hist):
    """Accumulate the histograms of features ``feats[k0:k1]`` over ``idx[start:end]``.

    ``hist[k, b]`` gets, for classification, the weight of each class then the sample count,
    for regression ``(sum w, sum w*y, count)``. Slot ``k`` holds feature ``feats[k]``.
    """
    if n_classes > 0:
        for pos in range(start, end):
            i = idx[pos]
            wi = weights[i]
            c = np.int64(y[i])
            for k in range(k0, k1):
                b = Xb[i, feats[k]]
                hist[k, b, c] += wi
                hist[k, b, n_classes] += 1.0
    else:
        for pos in range(start, end):
            i = idx[pos]
            wi = weights[i]
            wy = wi * y[i]
            for k in range(k0, k1):
                b = Xb[i, feats[k]]
                hist[k, b, 0] += wi
                hist[k, b, 1] += wy
                hist[k, b, 2] += 1.0


@nb.njit(cache=True, nogil=True)
def _scan(h, bins, nb, n_classes, criterion, min_samples_leaf, buf):
    # Scan bins bins[0..nb) (ascending; empty ones are skipped, so a list of the
    # non-empty bins gives the same result as all bins).
    best = -np.inf
    best_b = -1
    if n_classes > 0:
        C = n_classes
        tot = buf[:C + 1]
        lft = buf[C + 1:2 * C + 2]
        for c in range(C + 1):
            tot[c] = 0.0
            lft[c] = 0.0
        nonempty = 0
        for j in range(nb):
            b = bins[j]
            if h[b, C] == 0.0:
                continue
            nonempty += 1
            for c in range(C + 1):
                tot[c] += h[b, c]
        if nonempty < 2:
            return best, -2
        wtot = 0.0
        for c in range(C):
            wtot += tot[c]
        for j in range(nb - 1):
            b = bins[j]
            if h[b, C] == 0.0:
                continue  # an empty bin repeats the previous candidate, which cannot win
            for c in range(C + 1):
                lft[c] += h[b, c]
            if lft[C] < min_samples_leaf:
                continue
            if tot[C] - lft[C] < min_samples_leaf:
                break
            wl = 0.0
            for c in range(C):
                wl += lft[c]
            wr = wtot - wl
            if wl <= 0.0 or wr <= 0.0:
                continue
            if criterion == 0:
                sl = 0.0
                sr = 0.0
                for c in range(C):
                    sl += lft[c] * lft[c]
                    r = tot[c] - lft[c]
                    sr += r * r
                proxy = sl / wl + sr / wr
            else:
                sl = 0.0
                for c in range(C):
                    sl += _xlogx(lft[c]) + _xlogx(tot[c] - lft[c])
                proxy = sl - _xlogx(wl) - _xlogx(wr)
            if proxy > best:
                best = proxy
                best_b = b
    else:
        wtot = 0.0
        stot = 0.0
        ntot = 0.0
        nonempty = 0
        for j in range(nb):
            b = bins[j]
            if h[b, 2] == 0.0:
                continue
            nonempty += 1
            wtot += h[b, 0]
            stot += h[b, 1]
            ntot += h[b, 2]
        if nonempty < 2:
            return best, -2
        wl = 0.0
        sl = 0.0
        nl = 0.0
        for j in range(nb - 1):
            b = bins[j]
            if h[b, 2] == 0.0:
                continue  # an empty bin repeats the previous candidate, which cannot win
            wl += h[b, 0]
            sl += h[b, 1]
            nl += h[b, 2]
            if nl < min_samples_leaf:
                continue
            if ntot - nl < min_samples_leaf:
                break
            wr = wtot - wl
            if wl <= 0.0 or wr <= 0.0:
                continue
            sr = stot - sl
            proxy = sl * sl / wl + sr * sr / wr
            if proxy > best:
                best = proxy
                best_b = b
    return best, best_b



@nb.njit(cache=True, nogil=True)
def find_split(h, nb_f, n_classes, criterion, min_samples_leaf, buf):
    """Best bin threshold of one feature histogram ``h`` (n_bins, n_stats).

    Returns ``(proxy, bin)``; ``bin == -2`` when the feature is constant in the node (one
    non-empty bin), ``-1`` when no split leaves ``min_samples_leaf`` samples on both
    sides. ``proxy`` is the children's impurity proxy (higher is better): gini
    ``sum l_c^2/W_l + sum r_c^2/W_r``, entropy ``sum x log x`` terms, squared error
    ``S_l^2/W_l + S_r^2/W_r``. ``buf`` is scratch of at least ``2 * n_stats`` floats.
    """
    return _scan(h, np.arange(nb_f), nb_f, n_classes, criterion, min_samples_leaf, buf)


@nb.njit(cache=True, nogil=True)
def _node_bins(Xb, idx, start, end, f, out):
    # Sorted distinct bins of feature f in a small node (insertion sort); returns the count.
    m = 0
    for pos in range(start, end):
        b = Xb[idx[pos], f]
        j = m
        while j > 0 and out[j - 1] > b:
            j -= 1
        if j > 0 and out[j - 1] == b:
            continue
        for q in range(m, j, -1):
            out[q] = out[q - 1]
        out[j] = b
        m += 1
    return m


@nb.njit(cache=True, nogil=True)
def _node_stats(y, weights, idx, start, end, n_classes, acc):
    # acc[:C] class weights (classification) or acc[0:3] = (W, S, Syy); returns W.
    if n_classes > 0:
        for c in range(n_classes):
            acc[c] = 0.0
        for pos in range(start, end):
            i = idx[pos]
            acc[np.int64(y[i])] += weights[i]
        w = 0.0
        for c in range(n_classes):
            w += acc[c]
        return w
    w = 0.0
    s = 0.0
    q = 0.0
    for pos in range(start, end):
        i = idx[pos]
        wi = weights[i]
        w += wi
        s += wi * y[i]
        q += wi * y[i] * y[i]
    acc[0] = w
    acc[1] = s
    acc[2] = q
    return w


@nb.njit(cache=True, nogil=True)
def grow_tree(Xb, n_bins, y, n_classes, samples, weights, max_features, max_depth,
              min_samples_split, min_samples_leaf, min_impurity_decrease, criterion, seed):
    """Grow one tree depth-first; see ``maaskit._kernels.reference.tree.grow_tree``."""
    n = samples.shape[0]
    p = Xb.shape[1]
    B = 1
    for f in range(p):
        B = max(B, n_bins[f])
    S = n_classes + 1 if n_classes > 0 else 3
    n_out = n_classes if n_classes > 0 else 1
    msl = max(min_samples_leaf, 1)
    # Node capacity: every leaf holds >= msl samples, and depth bounds the node count.
    cap = 2 * max(n // msl, 1) - 1
    if max_depth < 40:
        cap = min(cap, (1 << (max_depth + 1)) - 1)
    depth_cap = min(max_depth, n) + 2
    feature = np.full(cap, -1, np.int32)
    thr_bin = np.full(cap, -1, np.int32)
    left = np.full(cap, -1, np.int32)
    right = np.full(cap, -1, np.int32)
    value = np.zeros((cap, n_out), np.float64)
    impurity = np.zeros(cap, np.float64)
    wn = np.zeros(cap, np.float64)
    nn = np.zeros(cap, np.int64)

    idx = samples.astype(np.int64)
    tmp = np.empty(n, np.int64)
    subtract = max_features >= p
    if subtract:
        K = min(depth_cap + 1, max(2, _POOL_BYTES // (p * B * S * 8)))
    else:
        K = 0
    # Slots 0..K-1: the pool (by stack position); K: scratch, zeroed before use; K + 1: kept
    # all-zero, used by nodes with fewer than B samples and cleared sample by sample.
    hist = np.zeros((K + 2, p, B, S), np.float64)
    scratch = K
    lazy = K + 1

    st_start = np.empty(depth_cap + 2, np.int64)
    st_end = np.empty(depth_cap + 2, np.int64)
    st_depth = np.empty(depth_cap + 2, np.int64)
    st_parent = np.empty(depth_cap + 2, np.int64)
    st_isleft = np.empty(depth_cap + 2, np.int64)
    st_hashist = np.zeros(depth_cap + 2, np.bool_)
    feats = np.arange(p).astype(np.int64)
    all_feats = np.arange(p).astype(np.int64)
    dense_bins = np.arange(B).astype(np.int64)
    node_bins = np.zeros(_SPARSE_MAX + 1, np.int64)
    acc = np.zeros(max(S, 3), np.float64)
    buf = np.zeros(2 * S + 2, np.float64)
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed)

    st_start[0] = 0
    st_end[0] = n
    st_depth[0] = 0
    st_parent[0] = -1
    st_isleft[0] = 0
    st_hashist[0] = False
    sp = 1
    n_nodes = 0
    w_root = 0.0
    while sp > 0:
        sp -= 1
        s = sp
        start = st_start[s]
        end = st_end[s]
        depth = st_depth[s]
        node = n_nodes
        n_nodes += 1
        if st_parent[s] >= 0:
            if st_isleft[s] == 1:
                left[st_parent[s]] = node
            else:
                right[st_parent[s]] = node
        W = _node_stats(y, weights, idx, start, end, n_classes, acc)
        if node == 0:
            w_root = W
        if n_classes > 0:
            g = 0.0
            e = 0.0
            for c in range(n_classes):
                pc = acc[c] / W
                value[node, c] = pc
                g += pc * pc
                if pc > 0.0:
                    e -= pc * np.log(pc)
            imp = 1.0 - g if criterion == 0 else e
        else:
            mean = acc[1] / W
            value[node, 0] = mean
            imp = acc[2] / W - mean * mean
        impurity[node] = imp
        wn[node] = W
        nn[node] = end - start
        n_node = end - start
        if (depth >= max_depth or n_node < min_samples_split or n_node < 2 * msl
                or imp <= _EPS):
            continue

        # Parent proxy, so that proxy - parent_proxy = W * impurity decrease.
        if n_classes > 0:
            if criterion == 0:
                pp = 0.0
                for c in range(n_classes):
                    pp += acc[c] * acc[c]
                pp = pp / W
            else:
                pp = -_xlogx(W)
                for c in range(n_classes):
                    pp += _xlogx(acc[c])
        else:
            pp = acc[1] * acc[1] / W

        # Histograms of this node.
        small = n_node < B
        if subtract:
            if st_hashist[s] and s < K:
                slot = s
            else:
                slot = lazy if small else (s if s < K else scratch)
                if not small:
                    for f in range(p):
                        for b in range(n_bins[f]):
                            for t in range(S):
                                hist[slot, f, b, t] = 0.0
                build_histogram(Xb, y, weights, idx, start, end, all_feats, 0, p, n_classes,
                                hist[slot])
        else:
            slot = lazy
        for f in range(p):
            feats[f] = f
        best = -np.inf
        best_f = -1
        best_b = -1
        n_visited = 0  # features drawn that are not constant in this node
        k = 0
        while k < p:
            k0 = k
            k1 = min(k + (max_features - n_visited if n_visited < max_features
                          else max_features), p)
            for kk in range(k0, k1):  # Fisher-Yates: draw the next features.
                j = kk + _randint(state, p - kk)
                tf = feats[kk]
                feats[kk] = feats[j]
                feats[j] = tf
            if not subtract:  # the lazy slot is all-zero here
                build_histogram(Xb, y, weights, idx, start, end, feats, k0, k1, n_classes,
                                hist[slot])
            for kk in range(k0, k1):
                f = feats[kk]
                if n_bins[f] < 2:
                    continue
                h = hist[slot, f] if subtract else hist[slot, kk]
                if n_node <= _SPARSE_MAX:  # tiny node: scan only its non-empty bins
                    nb_used = _node_bins(Xb, idx, start, end, f, node_bins)
                    pr, b = _scan(h, node_bins, nb_used, n_classes, criterion, msl, buf)
                else:
                    pr, b = _scan(h, dense_bins, n_bins[f], n_classes, criterion, msl, buf)
                if b == -2:
                    continue
                n_visited += 1
                if b >= 0 and pr > best:
                    best = pr
                    best_f = f
                    best_b = b
            if slot == lazy and not small:  # restore the all-zero invariant of the lazy slot
                for kk in range(k0, k1):  # (only in direct mode: see above)
                    f = feats[kk]
                    for b in range(n_bins[f]):
                        for t in range(S):
                            hist[lazy, kk, b, t] = 0.0
            elif slot == lazy:  # small node: clear only the bins its samples touched
                for pos in range(start, end):
                    i = idx[pos]
                    if subtract:
                        for f in range(p):
                            b = Xb[i, f]
                            for t in range(S):
                                hist[lazy, f, b, t] = 0.0
                    else:
                        for kk in range(k0, k1):
                            b = Xb[i, feats[kk]]
                            for t in range(S):
                                hist[lazy, kk, b, t] = 0.0
            k = k1
            if n_visited >= max_features and best_f >= 0:
                break
        if best_f < 0:
            continue
        if (best - pp) / w_root + _EPS < min_impurity_decrease:
            continue

        # Stable partition: left (bin <= best_b) first.
        nl = 0
        nr = 0
        for pos in range(start, end):
            i = idx[pos]
            if Xb[i, best_f] <= best_b:
                idx[start + nl] = i
                nl += 1
            else:
                tmp[nr] = i
                nr += 1
        for r in range(nr):
            idx[start + nl + r] = tmp[r]
        mid = start + nl
        feature[node] = best_f
        thr_bin[node] = best_b

        # Children: the larger at stack slot s, the smaller (processed first) at s + 1.
        if nl <= nr:
            s_start, s_end, s_isleft = start, mid, 1
            l_start, l_end, l_isleft = mid, end, 0
        else:
            s_start, s_end, s_isleft = mid, end, 0
            l_start, l_end, l_isleft = start, mid, 1
        small_split = not (depth + 1 >= max_depth or s_end - s_start < min_samples_split
                           or s_end - s_start < 2 * msl)
        large_split = not (depth + 1 >= max_depth or l_end - l_start < min_samples_split
                           or l_end - l_start < 2 * msl)
        have_small = False
        have_large = False
        if (subtract and slot == s and s + 1 < K and n_node >= 4 * B
                and (small_split or large_split)):
            for f in range(p):
                for b in range(n_bins[f]):
                    for t in range(S):
                        hist[s + 1, f, b, t] = 0.0
            build_histogram(Xb, y, weights, idx, s_start, s_end, all_feats, 0, p, n_classes,
                            hist[s + 1])
            for f in range(p):
                for b in range(n_bins[f]):
                    for t in range(S):
                        hist[s, f, b, t] -= hist[s + 1, f, b, t]
            have_small = True
            have_large = True
        st_start[s] = l_start
        st_end[s] = l_end
        st_depth[s] = depth + 1
        st_parent[s] = node
        st_isleft[s] = l_isleft
        st_hashist[s] = have_large
        st_start[s + 1] = s_start
        st_end[s + 1] = s_end
        st_depth[s + 1] = depth + 1
        st_parent[s + 1] = node
        st_isleft[s + 1] = s_isleft
        st_hashist[s + 1] = have_small
        sp = s + 2

    return (feature[:n_nodes].copy(), thr_bin[:n_nodes].copy(), left[:n_nodes].copy(),
            right[:n_nodes].copy(), value[:n_nodes].copy(), impurity[:n_nodes].copy(),
            wn[:n_nodes].copy(), nn[:n_nodes].copy())
