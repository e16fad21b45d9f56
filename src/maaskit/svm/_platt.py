"""Platt scaling: fit ``P(y=1 | f) = 1 / (1 + exp(A f + B))`` to decision values.

The Newton method with backtracking of Lin, Lin & Weng (2007), "A note on Platt's
probabilistic outputs for support vector machines", as in libsvm's ``sigmoid_train``; the
targets are Platt's smoothed labels so that separable data do not push ``A`` to infinity.
"""

from __future__ import annotations

import numpy as np


def _nll(dec: np.ndarray, t: np.ndarray, A: float, B: float) -> float:
    z = dec * A + B
    # log(1 + exp(.)) written two ways so that neither branch overflows.
    return float(np.sum(np.where(z >= 0, t * z + np.log1p(np.exp(-np.abs(z))),
                                 (t - 1.0) * z + np.log1p(np.exp(-np.abs(z))))))


def sigmoid_fit(dec: np.ndarray, positive: np.ndarray, fit_intercept: bool = True,
                max_iter: int = 100) -> tuple[float, float]:
    """Fit Platt's sigmoid to decision values.

    Parameters
    ----------
    dec : ndarray of shape (n_samples,)
        Decision values (ideally out-of-fold).
    positive : ndarray of shape (n_samples,), bool
        True where the sample belongs to the positive class.
    fit_intercept : bool, default=True
        Fit ``B``; when False, ``B = 0`` so that ``P > 1/2`` exactly where ``dec > 0``.
    max_iter : int, default=100
        Newton iterations.

    Returns
    -------
    A, B : float
        Sigmoid parameters.
    """
    dec = np.asarray(dec, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n1 = float(positive.sum())
    n0 = float(positive.size - n1)
    t = np.where(positive, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))
    A, B = 0.0, float(np.log((n0 + 1.0) / (n1 + 1.0))) if fit_intercept else 0.0
    fval = _nll(dec, t, A, B)
    for _ in range(max_iter):
        z = dec * A + B
        e = np.exp(-np.abs(z))
        p = np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
        d2 = p * (1.0 - p)
        h11 = 1e-12 + float(np.sum(dec * dec * d2))
        h22 = 1e-12 + float(np.sum(d2))
        h21 = float(np.sum(dec * d2))
        d1 = t - p
        g1 = float(np.sum(dec * d1))
        g2 = float(np.sum(d1))
        if abs(g1) < 1e-5 and abs(g2) < 1e-5:
            break
        if not fit_intercept:
            g2 = 0.0
            if abs(g1) < 1e-5:
                break
            dA, dB = -g1 / h11, 0.0
        else:
            det = h11 * h22 - h21 * h21
            dA = -(h22 * g1 - h21 * g2) / det
            dB = -(-h21 * g1 + h11 * g2) / det
        gd = g1 * dA + g2 * dB
        step = 1.0
        while step >= 1e-10:
            nA, nB = A + step * dA, B + step * dB
            nf = _nll(dec, t, nA, nB)
            if nf < fval + 1e-4 * step * gd:
                A, B, fval = nA, nB, nf
                break
            step /= 2.0
        if step < 1e-10:
            break
    return A, B


def sigmoid_predict(dec: np.ndarray, A: float, B: float) -> np.ndarray:
    """Probability of the positive class under a fitted Platt sigmoid.

    Parameters
    ----------
    dec : ndarray
        Decision values.
    A, B : float
        Parameters from :func:`sigmoid_fit`.

    Returns
    -------
    proba : ndarray
        Same shape as ``dec``.
    """
    z = np.asarray(dec, dtype=np.float64) * A + B
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
