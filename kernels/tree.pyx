# cython: language_level=3
"""Cython ``tree`` kernel: binning, histogram build, split finding, tree growth, prediction.

Same contract and bit-identical trees as ``maaskit._kernels.reference.tree`` (its module
docstring describes the algorithm). Every function is serial and runs without the GIL, so
the estimator grows trees and predicts row blocks from a thread pool.

Index safety: Prediction follows ``feature``/``left``/``right`` arrays that come from data (a
fitted or loaded forest) and are not checked here: a child out of range or a cycle would read
out of bounds or loop forever. They are reachable only through validated state: growth writes
them, and loading checks them (``maaskit._schema.Forest``: children after their parent inside
the same tree, features in ``[0, n_features)``, leaves at -1) before any call.
"""

from cython cimport floating
from libc.math cimport log, INFINITY
from libc.stdint cimport uint64_t, uint8_t, int32_t, int64_t
from libc.string cimport memset

import numpy as np

cdef double _EPS = np.finfo(np.float64).eps
# Histogram pool budget (bytes) for the subtraction trick; deeper stack slots build directly.
cdef Py_ssize_t _POOL_BYTES = 32 * 1024 * 1024
# Nodes with at most this many samples scan a sorted list of their bins, not all bins.
cdef enum:
    _SPARSE_MAX = 48


cdef inline uint64_t _next(uint64_t* state) noexcept nogil:
    # splitmix64: a counter-based generator that every backend reproduces bit for bit.
    cdef uint64_t z
    state[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline double _xlogx(double x) noexcept nogil:
    return x * log(x) if x > 0.0 else 0.0


def bin_data(const floating[:, ::1] X, const double[:, ::1] thresholds,
             const int32_t[::1] n_thresholds, uint8_t[:, ::1] out):
    """Bin ``X`` into ``out`` (uint8): the count of thresholds below each value."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i, f
    cdef int lo, hi, mid
    cdef double x
    with nogil:
        for i in range(n):
            for f in range(p):
                x = X[i, f]
                lo = 0
                hi = n_thresholds[f]
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if thresholds[f, mid] < x:
                        lo = mid + 1
                    else:
                        hi = mid
                out[i, f] = <uint8_t>lo


def predict(const floating[:, ::1] X, const int32_t[::1] feature, const double[::1] threshold,
            const int32_t[::1] left, const int32_t[::1] right, const double[:, ::1] value,
            const int64_t[::1] roots, double[:, ::1] out):
    """Add the leaf values of the trees starting at ``roots`` to ``out`` for every row."""
    cdef Py_ssize_t n = X.shape[0], n_out = value.shape[1], i, t, c
    cdef Py_ssize_t node
    with nogil:
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


cdef void _build_hist(const uint8_t[:, ::1] Xb, const double[::1] y, const double[::1] w,
                      const int64_t* idx, Py_ssize_t start, Py_ssize_t end,
                      const int64_t* feats, Py_ssize_t k0, Py_ssize_t k1, int n_classes,
                      double* hist, Py_ssize_t B, Py_ssize_t S) noexcept nogil:
    # hist is (slots, B, S) contiguous; slot k holds feature feats[k].
    cdef Py_ssize_t pos, k, i, c
    cdef double wi, wy
    cdef double* hb
    if n_classes > 0:
        for pos in range(start, end):
            i = idx[pos]
            wi = w[i]
            c = <Py_ssize_t>y[i]
            for k in range(k0, k1):
                hb = hist + (k * B + Xb[i, feats[k]]) * S
                hb[c] += wi
                hb[n_classes] += 1.0
    else:
        for pos in range(start, end):
            i = idx[pos]
            wi = w[i]
            wy = wi * y[i]
            for k in range(k0, k1):
                hb = hist + (k * B + Xb[i, feats[k]]) * S
                hb[0] += wi
                hb[1] += wy
                hb[2] += 1.0


cdef int _scan(const double* h, const int64_t* bins, int nb, int n_classes, int criterion,
               double msl, double* buf, double* best_out) noexcept nogil:
    # h is (n_bins, S) contiguous; scans bins[0..nb) in ascending order (empty bins are
    # skipped, so the list of non-empty bins gives the same result as all bins). Returns
    # the best bin, -1 (no valid split) or -2 (constant in the node); proxy in best_out[0].
    cdef double best = -INFINITY, wtot, wl, wr, sl, sr, r, proxy, stot, ntot, nl
    cdef int best_b = -1, b, c, C, nonempty = 0, j
    cdef double* tot
    cdef double* lft
    if n_classes > 0:
        C = n_classes
        tot = buf
        lft = buf + C + 1
        for c in range(C + 1):
            tot[c] = 0.0
            lft[c] = 0.0
        for j in range(nb):
            b = <int>bins[j]
            if h[b * (C + 1) + C] == 0.0:
                continue
            nonempty += 1
            for c in range(C + 1):
                tot[c] += h[b * (C + 1) + c]
        if nonempty < 2:
            best_out[0] = best
            return -2
        wtot = 0.0
        for c in range(C):
            wtot += tot[c]
        for j in range(nb - 1):
            b = <int>bins[j]
            if h[b * (C + 1) + C] == 0.0:
                continue  # an empty bin repeats the previous candidate, which cannot win
            for c in range(C + 1):
                lft[c] += h[b * (C + 1) + c]
            if lft[C] < msl:
                continue
            if tot[C] - lft[C] < msl:
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
        for j in range(nb):
            b = <int>bins[j]
            if h[b * 3 + 2] == 0.0:
                continue
            nonempty += 1
            wtot += h[b * 3]
            stot += h[b * 3 + 1]
            ntot += h[b * 3 + 2]
        if nonempty < 2:
            best_out[0] = best
            return -2
        wl = 0.0
        sl = 0.0
        nl = 0.0
        for j in range(nb - 1):
            b = <int>bins[j]
            if h[b * 3 + 2] == 0.0:
                continue
            wl += h[b * 3]
            sl += h[b * 3 + 1]
            nl += h[b * 3 + 2]
            if nl < msl:
                continue
            if ntot - nl < msl:
                break
            wr = wtot - wl
            if wl <= 0.0 or wr <= 0.0:
                continue
            sr = stot - sl
            proxy = sl * sl / wl + sr * sr / wr
            if proxy > best:
                best = proxy
                best_b = b
    best_out[0] = best
    return best_b


def build_histogram(const uint8_t[:, ::1] Xb, const double[::1] y, const double[::1] weights,
                    idx, Py_ssize_t start, Py_ssize_t end, feats, Py_ssize_t k0,
                    Py_ssize_t k1, int n_classes, double[:, :, ::1] hist):
    """Accumulate histograms of features ``feats[k0:k1]`` over ``idx[start:end]`` into ``hist[k]``."""
    cdef const int64_t[::1] idx_v = np.ascontiguousarray(idx, dtype=np.int64)
    cdef const int64_t[::1] feats_v = np.ascontiguousarray(feats, dtype=np.int64)
    with nogil:
        _build_hist(Xb, y, weights, &idx_v[0], start, end, &feats_v[0], k0, k1, n_classes,
                    &hist[0, 0, 0], hist.shape[1], hist.shape[2])


def find_split(h, int nb_f, int n_classes, int criterion, int min_samples_leaf, buf=None):
    """Best threshold bin of one feature histogram ``h`` (n_bins, n_stats): ``(proxy, bin)``."""
    cdef const double[:, ::1] hv = np.ascontiguousarray(h, dtype=np.float64)
    cdef double[::1] bv = np.zeros(2 * hv.shape[1] + 2)
    cdef const int64_t[::1] bins = np.arange(max(nb_f, 1), dtype=np.int64)
    cdef double best
    cdef int b
    b = _scan(&hv[0, 0], &bins[0], nb_f, n_classes, criterion, <double>max(min_samples_leaf, 1),
              &bv[0], &best)
    return best, b


cdef int _node_bins(const uint8_t[:, ::1] Xb, const int64_t* idx, Py_ssize_t start,
                    Py_ssize_t end, Py_ssize_t f, int64_t* out) noexcept nogil:
    # Sorted distinct bins of feature f in a small node (insertion sort); returns the count.
    cdef int m = 0, j, q
    cdef int64_t b
    cdef Py_ssize_t pos
    for pos in range(start, end):
        b = Xb[idx[pos], f]
        j = m
        while j > 0 and out[j - 1] > b:
            j -= 1
        if j > 0 and out[j - 1] == b:
            continue
        q = m
        while q > j:
            out[q] = out[q - 1]
            q -= 1
        out[j] = b
        m += 1
    return m


cdef double _node_stats(const double[::1] y, const double[::1] w, const int64_t* idx,
                        Py_ssize_t start, Py_ssize_t end, int n_classes,
                        double* acc) noexcept nogil:
    cdef Py_ssize_t pos, i, c
    cdef double W = 0.0, s = 0.0, q = 0.0, wi
    if n_classes > 0:
        for c in range(n_classes):
            acc[c] = 0.0
        for pos in range(start, end):
            i = idx[pos]
            acc[<Py_ssize_t>y[i]] += w[i]
        for c in range(n_classes):
            W += acc[c]
        return W
    for pos in range(start, end):
        i = idx[pos]
        wi = w[i]
        W += wi
        s += wi * y[i]
        q += wi * y[i] * y[i]
    acc[0] = W
    acc[1] = s
    acc[2] = q
    return W


cdef inline void _zero_hist(double* h, const int32_t[::1] n_bins, Py_ssize_t p, Py_ssize_t B,
                            Py_ssize_t S) noexcept nogil:
    cdef Py_ssize_t f
    for f in range(p):
        memset(h + f * B * S, 0, n_bins[f] * S * sizeof(double))


def grow_tree(const uint8_t[:, ::1] Xb, const int32_t[::1] n_bins, const double[::1] y,
              int n_classes, samples, const double[::1] weights, Py_ssize_t max_features,
              Py_ssize_t max_depth, Py_ssize_t min_samples_split, Py_ssize_t min_samples_leaf,
              double min_impurity_decrease, int criterion, seed):
    """Grow one tree depth-first; see ``maaskit._kernels.reference.tree.grow_tree``."""
    cdef Py_ssize_t n = len(samples), p = Xb.shape[1], B = 1, f
    for f in range(p):
        B = max(B, n_bins[f])
    cdef Py_ssize_t S = n_classes + 1 if n_classes > 0 else 3
    cdef Py_ssize_t n_out = n_classes if n_classes > 0 else 1
    cdef Py_ssize_t msl = max(min_samples_leaf, 1)
    cdef Py_ssize_t cap = 2 * max(n // msl, 1) - 1
    if max_depth < 40:
        cap = min(cap, (1 << (max_depth + 1)) - 1)
    cdef Py_ssize_t depth_cap = min(max_depth, n) + 2
    feature_a = np.full(cap, -1, np.int32)
    thr_a = np.full(cap, -1, np.int32)
    left_a = np.full(cap, -1, np.int32)
    right_a = np.full(cap, -1, np.int32)
    value_a = np.zeros((cap, n_out), np.float64)
    imp_a = np.zeros(cap, np.float64)
    wn_a = np.zeros(cap, np.float64)
    nn_a = np.zeros(cap, np.int64)
    cdef int32_t[::1] feature = feature_a, thr_bin = thr_a, left = left_a, right = right_a
    cdef double[:, ::1] value = value_a
    cdef double[::1] impurity = imp_a, wn = wn_a
    cdef int64_t[::1] nn = nn_a
    cdef int64_t[::1] idx = np.array(samples, dtype=np.int64)
    cdef int64_t[::1] tmp = np.empty(max(n, 1), np.int64)
    cdef bint subtract = max_features >= p
    cdef Py_ssize_t K = 0
    if subtract:
        K = min(depth_cap + 1, max(2, _POOL_BYTES // (p * B * S * 8)))
    # Slots 0..K-1: the pool (by stack position); K: scratch, zeroed before use; K + 1: kept
    # all-zero, used by nodes with fewer than B samples and cleared sample by sample.
    cdef double[::1] hist = np.zeros((K + 2) * p * B * S, np.float64)
    cdef Py_ssize_t scratch = K, lazy = K + 1, HS = p * B * S, n_visited
    cdef int64_t[::1] st_start = np.empty(depth_cap + 2, np.int64)
    cdef int64_t[::1] st_end = np.empty(depth_cap + 2, np.int64)
    cdef int64_t[::1] st_depth = np.empty(depth_cap + 2, np.int64)
    cdef int64_t[::1] st_parent = np.empty(depth_cap + 2, np.int64)
    cdef int64_t[::1] st_isleft = np.empty(depth_cap + 2, np.int64)
    cdef uint8_t[::1] st_hashist = np.zeros(depth_cap + 2, np.uint8)
    cdef int64_t[::1] feats = np.arange(max(p, 1), dtype=np.int64)
    cdef int64_t[::1] all_feats = np.arange(max(p, 1), dtype=np.int64)
    cdef int64_t[::1] dense_bins = np.arange(B, dtype=np.int64)
    cdef int64_t[::1] node_bins = np.zeros(_SPARSE_MAX + 1, np.int64)
    cdef int nb_used
    cdef double[::1] acc = np.zeros(max(S, 3), np.float64)
    cdef double[::1] buf = np.zeros(2 * S + 2, np.float64)
    cdef uint64_t state = <uint64_t>int(seed)

    cdef Py_ssize_t sp, s, start, end, depth, node, n_nodes = 0, n_node, c, slot, k, k0, k1
    cdef Py_ssize_t kk, j, tf, best_f, best_b, b, pos, i, nl, nr, mid, r, t
    cdef Py_ssize_t s_start, s_end, s_isleft, l_start, l_end, l_isleft
    cdef double W, w_root = 0.0, g, e, pc, imp, mean, pp, best, pr
    cdef bint small_split, large_split, have, small
    cdef double* hp

    with nogil:
        st_start[0] = 0
        st_end[0] = n
        st_depth[0] = 0
        st_parent[0] = -1
        st_isleft[0] = 0
        st_hashist[0] = 0
        sp = 1
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
                    left[st_parent[s]] = <int32_t>node
                else:
                    right[st_parent[s]] = <int32_t>node
            W = _node_stats(y, weights, &idx[0], start, end, n_classes, &acc[0])
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
                        e -= pc * log(pc)
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

            small = n_node < B
            if subtract:
                if st_hashist[s] and s < K:
                    slot = s
                else:
                    if small:
                        slot = lazy
                    elif s < K:
                        slot = s
                    else:
                        slot = scratch
                    if not small:
                        _zero_hist(&hist[slot * HS], n_bins, p, B, S)
                    _build_hist(Xb, y, weights, &idx[0], start, end, &all_feats[0], 0, p,
                                n_classes, &hist[slot * HS], B, S)
            else:
                slot = lazy
            for f in range(p):
                feats[f] = f
            best = -INFINITY
            best_f = -1
            best_b = -1
            n_visited = 0
            k = 0
            while k < p:
                k0 = k
                if n_visited < max_features:
                    k1 = min(k + max_features - n_visited, p)
                else:
                    k1 = min(k + max_features, p)
                for kk in range(k0, k1):
                    j = kk + <Py_ssize_t>(_next(&state) % <uint64_t>(p - kk))
                    tf = feats[kk]
                    feats[kk] = feats[j]
                    feats[j] = tf
                if not subtract:  # the lazy slot is all-zero here
                    _build_hist(Xb, y, weights, &idx[0], start, end, &feats[0], k0, k1,
                                n_classes, &hist[slot * HS], B, S)
                for kk in range(k0, k1):
                    f = feats[kk]
                    if n_bins[f] < 2:
                        continue
                    if subtract:
                        hp = &hist[slot * HS + f * B * S]
                    else:
                        hp = &hist[slot * HS + kk * B * S]
                    if n_node <= _SPARSE_MAX:  # tiny node: scan only its non-empty bins
                        nb_used = _node_bins(Xb, &idx[0], start, end, f, &node_bins[0])
                        b = _scan(hp, &node_bins[0], nb_used, n_classes, criterion,
                                  <double>msl, &buf[0], &pr)
                    else:
                        b = _scan(hp, &dense_bins[0], n_bins[f], n_classes, criterion,
                                  <double>msl, &buf[0], &pr)
                    if b == -2:
                        continue
                    n_visited += 1
                    if b >= 0 and pr > best:
                        best = pr
                        best_f = f
                        best_b = b
                if slot == lazy and not small:  # restore the lazy slot's all-zero invariant
                    for kk in range(k0, k1):  # (only in direct mode)
                        memset(&hist[lazy * HS + kk * B * S], 0,
                               n_bins[feats[kk]] * S * sizeof(double))
                elif slot == lazy:  # small node: clear only the bins its samples touched
                    for pos in range(start, end):
                        i = idx[pos]
                        if subtract:
                            for f in range(p):
                                memset(&hist[lazy * HS + (f * B + Xb[i, f]) * S], 0,
                                       S * sizeof(double))
                        else:
                            for kk in range(k0, k1):
                                memset(&hist[lazy * HS + (kk * B + Xb[i, feats[kk]]) * S], 0,
                                       S * sizeof(double))
                k = k1
                if n_visited >= max_features and best_f >= 0:
                    break
            if best_f < 0:
                continue
            if (best - pp) / w_root + _EPS < min_impurity_decrease:
                continue

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
            feature[node] = <int32_t>best_f
            thr_bin[node] = <int32_t>best_b

            if nl <= nr:
                s_start = start; s_end = mid; s_isleft = 1
                l_start = mid; l_end = end; l_isleft = 0
            else:
                s_start = mid; s_end = end; s_isleft = 0
                l_start = start; l_end = mid; l_isleft = 1
            small_split = not (depth + 1 >= max_depth or s_end - s_start < min_samples_split
                               or s_end - s_start < 2 * msl)
            large_split = not (depth + 1 >= max_depth or l_end - l_start < min_samples_split
                               or l_end - l_start < 2 * msl)
            have = False
            if (subtract and slot == s and s + 1 < K and n_node >= 4 * B
                    and (small_split or large_split)):
                _zero_hist(&hist[(s + 1) * HS], n_bins, p, B, S)
                _build_hist(Xb, y, weights, &idx[0], s_start, s_end, &all_feats[0], 0, p,
                            n_classes, &hist[(s + 1) * HS], B, S)
                for f in range(p):
                    hp = &hist[s * HS + f * B * S]
                    for t in range(n_bins[f] * S):
                        hp[t] -= hp[HS + t]
                have = True
            st_start[s] = l_start
            st_end[s] = l_end
            st_depth[s] = depth + 1
            st_parent[s] = node
            st_isleft[s] = l_isleft
            st_hashist[s] = have
            st_start[s + 1] = s_start
            st_end[s + 1] = s_end
            st_depth[s + 1] = depth + 1
            st_parent[s + 1] = node
            st_isleft[s + 1] = s_isleft
            st_hashist[s + 1] = have
            sp = s + 2

    return (feature_a[:n_nodes].copy(), thr_a[:n_nodes].copy(), left_a[:n_nodes].copy(),
            right_a[:n_nodes].copy(), value_a[:n_nodes].copy(), imp_a[:n_nodes].copy(),
            wn_a[:n_nodes].copy(), nn_a[:n_nodes].copy())
