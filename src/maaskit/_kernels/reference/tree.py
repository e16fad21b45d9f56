"""Histogram-binned decision trees: the NumPy oracle for the ``tree`` kernel.

Algorithm (every backend builds bit-identical trees from the same inputs):

* Features are pre-binned: ``bin = #thresholds < x`` (``bin_data``), at most 256 bins, so a
  split "bin <= b" equals "x <= thresholds[f, b]" on raw values (``predict``).
* ``grow_tree`` grows one tree depth-first from a stack. The node of a stack entry gets its
  id when popped (pre-order). A node is a leaf when ``depth >= max_depth``, it holds fewer
  than ``min_samples_split`` or ``2 * min_samples_leaf`` samples, or it is pure.
* Split search draws features by an incremental Fisher-Yates shuffle driven by splitmix64
  (seeded with ``seed``) in batches, until ``max_features`` features that are not constant
  in the node were searched and a valid split was found, or no feature is left (as
  scikit-learn, constant features do not count, and the search goes on until a valid split
  is found). The
  best bin per feature maximises the children's impurity proxy (``find_split``); ties keep
  the first (draw order, then lowest bin).
* When every feature is drawn per node (``max_features >= n_features``) histograms use the
  subtraction trick: a node's histogram lives in a pool slot equal to its stack position;
  at a split the smaller child is histogrammed directly into slot ``s + 1`` and the larger
  child's histogram is the parent's minus it, in place in slot ``s``. The larger child is
  pushed at ``s`` and the smaller at ``s + 1`` (so the smaller is grown first). Only a node
  whose histogram sits in its own slot (it was pre-built, or the node has at least
  ``B = max(n_bins)`` samples) and that has at least ``4 * B`` samples (below that, building
  the children directly is cheaper) lets its children subtract; smaller nodes are histogrammed
  directly (compiled backends clear their sparse histograms sample by sample). Otherwise
  only the drawn features are histogrammed, directly.
* Histogram stats per bin: classification, the weight of each class then the sample count;
  regression ``(sum w, sum w*y, count)``. Sums run in sample order, which every backend
  keeps (the partition is stable), so float sums agree exactly.

Outputs are flat arrays: ``feature`` (-1 at leaves), ``threshold_bin``, ``left``/``right``
(-1 at leaves), ``value`` (class probabilities or mean), ``impurity``, weighted and raw
sample counts.

Index safety: Prediction follows ``feature``/``left``/``right`` arrays that come from data (a
fitted or loaded forest) and are not checked here: a child out of range or a cycle would read
out of bounds or loop forever. They are reachable only through validated state: growth writes
them, and loading checks them (``maaskit._schema.Forest``: children after their parent inside
the same tree, features in ``[0, n_features)``, leaves at -1) before any call.
"""

from __future__ import annotations

import math

import numpy as np

_MASK = (1 << 64) - 1
_EPS = float(np.finfo(np.float64).eps)
_POOL_BYTES = 32 * 1024 * 1024


class _SplitMix:
    """splitmix64 on Python ints (the generator every backend uses)."""

    def __init__(self, seed: int) -> None:
        self.state = int(seed) & _MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def randint(self, k: int) -> int:
        return self.next() % k


def _xlogx(x: float) -> float:
    return x * math.log(x) if x > 0.0 else 0.0


def bin_data(X, thresholds, n_thresholds, out):
    """Bin ``X`` into ``out``: the number of thresholds of each feature below the value.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    thresholds : ndarray of shape (n_features, max_bins - 1), float64
        Sorted thresholds per feature; only the first ``n_thresholds[f]`` are used.
    n_thresholds : ndarray of shape (n_features,), int32
    out : ndarray of shape (n_samples, n_features), uint8
    """
    for f in range(X.shape[1]):
        out[:, f] = np.searchsorted(thresholds[f, : n_thresholds[f]], X[:, f], side="left")


def predict(X, feature, threshold, left, right, value, roots, out):
    """Add the leaf values of the trees rooted at ``roots`` to ``out``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    feature, left, right : ndarray of shape (n_nodes,), int32
        Split feature and global child ids (-1 at leaves).
    threshold : ndarray of shape (n_nodes,), float64
        Go left when ``x[feature] <= threshold``.
    value : ndarray of shape (n_nodes, n_outputs), float64
    roots : ndarray of shape (n_trees,), int64
    out : ndarray of shape (n_samples, n_outputs), float64
        Accumulated in place.
    """
    n = X.shape[0]
    rows = np.arange(n)
    for r in roots:
        node = np.full(n, r, dtype=np.int64)
        active = left[node] >= 0
        while active.any():
            a = rows[active]
            nd = node[a]
            go_left = X[a, feature[nd]] <= threshold[nd]
            node[a] = np.where(go_left, left[nd], right[nd])
            active = left[node] >= 0
        out += value[node]


def build_histogram(Xb, y, weights, idx, start, end, feats, k0, k1, n_classes, hist):
    """Accumulate histograms of features ``feats[k0:k1]`` over ``idx[start:end]`` into ``hist[k]``.

    Parameters
    ----------
    Xb : ndarray of shape (n_samples, n_features), uint8
    y : ndarray of shape (n_samples,), float64
        Class codes (classification) or targets.
    weights : ndarray of shape (n_samples,), float64
    idx : ndarray of int
        Sample ids; the node holds ``idx[start:end]``.
    start, end : int
    feats : ndarray of int
        Feature of each histogram slot.
    k0, k1 : int
        Slots to fill.
    n_classes : int
        0 for regression.
    hist : ndarray of shape (n_slots, n_bins, n_stats), float64
        Accumulated in place.
    """
    ids = idx[start:end]
    w = weights[ids]
    B = hist.shape[1]
    for k in range(k0, k1):
        b = Xb[ids, feats[k]].astype(np.int64)
        if n_classes > 0:
            c = y[ids].astype(np.int64)
            hist[k, :, :n_classes] += np.bincount(b * n_classes + c, weights=w,
                                                  minlength=B * n_classes).reshape(B, n_classes)
            hist[k, :, n_classes] += np.bincount(b, minlength=B)
        else:
            hist[k, :, 0] += np.bincount(b, weights=w, minlength=B)
            hist[k, :, 1] += np.bincount(b, weights=w * y[ids], minlength=B)
            hist[k, :, 2] += np.bincount(b, minlength=B)


def find_split(h, nb_f, n_classes, criterion, min_samples_leaf, buf=None):
    """Best threshold bin of one feature histogram.

    Parameters
    ----------
    h : ndarray of shape (n_bins, n_stats), float64
    nb_f : int
        Bins used by this feature.
    n_classes : int
        0 for regression.
    criterion : int
        0 gini, 1 entropy (classification); ignored for regression (squared error).
    min_samples_leaf : int
    buf : ndarray, default=None
        Scratch (unused here; part of the shared signature).

    Returns
    -------
    proxy : float
        Children impurity proxy (higher is better); ``-inf`` when no split is valid.
    bin : int
        Split bin (left: ``bin <= b``); -2 when the feature is constant in the node (one
        non-empty bin); -1 when no split leaves ``min_samples_leaf`` samples per side.
    """
    h = h[:nb_f].copy()
    if np.count_nonzero(h[:, -1]) < 2:
        return -np.inf, -2
    # Empty bins are skipped (they repeat the previous candidate); zeroing them also drops
    # the rounding residue that histogram subtraction can leave in their sums.
    h[h[:, -1] == 0] = 0.0
    if n_classes > 0:
        C = n_classes
        tot = np.cumsum(h, axis=0)[-1]
        L = np.cumsum(h[:-1], axis=0)
        nl = L[:, C]
        nr = tot[C] - nl
        wtot = 0.0
        for c in range(C):
            wtot += tot[c]
        wl = np.zeros(len(L))
        for c in range(C):
            wl = wl + L[:, c]
        wr = wtot - wl
        with np.errstate(divide="ignore", invalid="ignore"):
            if criterion == 0:
                sl = np.zeros(len(L))
                sr = np.zeros(len(L))
                for c in range(C):
                    sl = sl + L[:, c] * L[:, c]
                    r = tot[c] - L[:, c]
                    sr = sr + r * r
                proxy = sl / wl + sr / wr
            else:
                xl = np.vectorize(_xlogx, otypes=[float])
                sl = np.zeros(len(L))
                for c in range(C):
                    sl = sl + (xl(L[:, c]) + xl(tot[c] - L[:, c]))
                proxy = sl - xl(wl) - xl(wr)
    else:
        cs = np.cumsum(h, axis=0)
        wtot, stot, ntot = cs[-1]
        wl, sl, nl = cs[:-1, 0], cs[:-1, 1], cs[:-1, 2]
        nr = ntot - nl
        wr = wtot - wl
        sr = stot - sl
        with np.errstate(divide="ignore", invalid="ignore"):
            proxy = sl * sl / wl + sr * sr / wr
    valid = (nl >= min_samples_leaf) & (nr >= min_samples_leaf) & (wl > 0) & (wr > 0)
    if not valid.any():
        return -np.inf, -1
    proxy = np.where(valid, proxy, -np.inf)
    b = int(np.argmax(proxy))
    return float(proxy[b]), b


def _seq_sum(a) -> float:
    # Left-to-right sum, as the compiled loops do (np.sum is pairwise).
    return float(np.cumsum(a)[-1]) if len(a) else 0.0


def grow_tree(Xb, n_bins, y, n_classes, samples, weights, max_features, max_depth,
              min_samples_split, min_samples_leaf, min_impurity_decrease, criterion, seed):
    """Grow one decision tree on binned data.

    Parameters
    ----------
    Xb : ndarray of shape (n_samples, n_features), uint8
        Binned features.
    n_bins : ndarray of shape (n_features,), int32
        Bins per feature (1 means constant: never split on).
    y : ndarray of shape (n_samples,), float64
        Class codes ``0..n_classes-1`` or regression targets.
    n_classes : int
        Number of classes; 0 for regression.
    samples : ndarray of shape (n_in,), int
        Distinct sample ids the tree is grown on (e.g. the bootstrap's).
    weights : ndarray of shape (n_samples,), float64
        Weight of every sample id (e.g. bootstrap counts).
    max_features : int
        Features drawn per batch at each node.
    max_depth : int
    min_samples_split, min_samples_leaf : int
    min_impurity_decrease : float
        Weighted impurity decrease (divided by the root weight) a split must reach.
    criterion : int
        0 gini, 1 entropy (natural log), 2 squared error.
    seed : int
        Seed of the splitmix64 feature draws.

    Returns
    -------
    feature : ndarray of shape (n_nodes,), int32
    threshold_bin : ndarray of shape (n_nodes,), int32
    left, right : ndarray of shape (n_nodes,), int32
    value : ndarray of shape (n_nodes, n_outputs), float64
    impurity : ndarray of shape (n_nodes,), float64
    weighted_n_node_samples : ndarray of shape (n_nodes,), float64
    n_node_samples : ndarray of shape (n_nodes,), int64
    """
    rng = _SplitMix(seed)
    n = len(samples)
    p = Xb.shape[1]
    B = max(1, int(np.max(n_bins))) if p else 1
    S = n_classes + 1 if n_classes > 0 else 3
    msl = max(int(min_samples_leaf), 1)
    depth_cap = min(max_depth, n) + 2
    idx = np.asarray(samples, dtype=np.int64).copy()
    subtract = max_features >= p
    K = min(depth_cap + 1, max(2, _POOL_BYTES // (p * B * S * 8))) if subtract else 0
    pool: dict[int, np.ndarray] = {}
    scratch = K

    nodes_feature: list[int] = []
    nodes_bin: list[int] = []
    nodes_left: list[int] = []
    nodes_right: list[int] = []
    nodes_value: list[np.ndarray] = []
    nodes_imp: list[float] = []
    nodes_w: list[float] = []
    nodes_n: list[int] = []
    # stack entry: [start, end, depth, parent, is_left, has_hist]
    stack: list[list] = [[0, n, 0, -1, 0, False]]
    w_root = 0.0
    all_feats = np.arange(p, dtype=np.int64)

    def leafy(cnt: int, depth: int) -> bool:
        return depth >= max_depth or cnt < min_samples_split or cnt < 2 * msl

    while stack:
        s = len(stack) - 1
        start, end, depth, parent, is_left, has_hist = stack.pop()
        node = len(nodes_feature)
        if parent >= 0:
            (nodes_left if is_left else nodes_right)[parent] = node
        ids = idx[start:end]
        if n_classes > 0:
            acc = np.bincount(y[ids].astype(np.int64), weights=weights[ids], minlength=n_classes)
            W = 0.0
            for c in range(n_classes):
                W += acc[c]
            val = acc / W
            g = 0.0
            e = 0.0
            for c in range(n_classes):
                pc = float(acc[c]) / W
                g += pc * pc
                if pc > 0.0:
                    e -= pc * math.log(pc)
            imp = 1.0 - g if criterion == 0 else e
        else:
            w = weights[ids]
            W = _seq_sum(w)
            Ssum = _seq_sum(w * y[ids])
            Q = _seq_sum(w * y[ids] * y[ids])
            mean = Ssum / W
            val = np.array([mean])
            imp = Q / W - mean * mean
        if node == 0:
            w_root = W
        nodes_feature.append(-1)
        nodes_bin.append(-1)
        nodes_left.append(-1)
        nodes_right.append(-1)
        nodes_value.append(val)
        nodes_imp.append(imp)
        nodes_w.append(W)
        nodes_n.append(end - start)
        if leafy(end - start, depth) or imp <= _EPS:
            continue
        if n_classes > 0:
            if criterion == 0:
                pp = 0.0
                for c in range(n_classes):
                    pp += float(acc[c]) * float(acc[c])
                pp = pp / W
            else:
                pp = -_xlogx(W)
                for c in range(n_classes):
                    pp += _xlogx(float(acc[c]))
        else:
            pp = Ssum * Ssum / W

        # Which histogram this node uses decides whether its children may subtract: only a
        # node whose histogram sits in its own pool slot (n >= B samples, or pre-built).
        node_in_slot = subtract and s < K and (has_hist or (end - start) >= B)
        slot = s if node_in_slot else scratch
        if subtract and not (has_hist and s < K):
            pool[slot] = np.zeros((p, B, S))
            build_histogram(Xb, y, weights, idx, start, end, all_feats, 0, p, n_classes,
                            pool[slot])
        feats = np.arange(p, dtype=np.int64)
        best, best_f, best_b = -np.inf, -1, -1
        n_visited = 0  # drawn features that are not constant in this node (as scikit-learn)
        k = 0
        while k < p:
            need = max_features - n_visited if n_visited < max_features else max_features
            k0, k1 = k, min(k + need, p)
            for kk in range(k0, k1):
                j = kk + rng.randint(p - kk)
                feats[kk], feats[j] = feats[j], feats[kk]
            if subtract:
                H, slots = pool[slot], feats
            else:
                H = np.zeros((p, B, S))
                build_histogram(Xb, y, weights, idx, start, end, feats, k0, k1, n_classes, H)
                slots = np.arange(p)
            for kk in range(k0, k1):
                f = int(feats[kk])
                if n_bins[f] < 2:
                    continue
                pr, b = find_split(H[slots[kk]], int(n_bins[f]), n_classes, criterion, msl)
                if b == -2:
                    continue
                n_visited += 1
                if b >= 0 and pr > best:
                    best, best_f, best_b = pr, f, b
            k = k1
            if n_visited >= max_features and best_f >= 0:
                break
        if best_f < 0:
            continue
        if (best - pp) / w_root + _EPS < min_impurity_decrease:
            continue

        go_left = Xb[ids, best_f] <= best_b
        idx[start:end] = np.concatenate([ids[go_left], ids[~go_left]])
        nl = int(go_left.sum())
        nr = (end - start) - nl
        mid = start + nl
        nodes_feature[node] = best_f
        nodes_bin[node] = best_b
        if nl <= nr:
            small, large = (start, mid, 1), (mid, end, 0)
        else:
            small, large = (mid, end, 0), (start, mid, 1)
        have = False
        if (node_in_slot and s + 1 < K and (end - start) >= 4 * B
                and not (leafy(small[1] - small[0], depth + 1) and leafy(large[1] - large[0], depth + 1))):
            pool[s + 1] = np.zeros((p, B, S))
            build_histogram(Xb, y, weights, idx, small[0], small[1], all_feats, 0, p, n_classes,
                            pool[s + 1])
            pool[s] -= pool[s + 1]
            have = True
        stack.append([large[0], large[1], depth + 1, node, large[2], have])
        stack.append([small[0], small[1], depth + 1, node, small[2], have])

    n_out = n_classes if n_classes > 0 else 1
    return (np.array(nodes_feature, np.int32), np.array(nodes_bin, np.int32),
            np.array(nodes_left, np.int32), np.array(nodes_right, np.int32),
            np.array(nodes_value, np.float64).reshape(-1, n_out), np.array(nodes_imp, np.float64),
            np.array(nodes_w, np.float64), np.array(nodes_n, np.int64))
