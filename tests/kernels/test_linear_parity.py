"""The linear kernel (loss and d loss / d score): backends vs the NumPy reference, and gradients."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import available_backends, get_kernel
from maaskit._kernels.reference.linear import LOSSES

BACKENDS = [b for b in ("numba", "cython") if b in available_backends("linear")]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _problem(loss, dtype, n=40, k=3, seed=0):
    rng = np.random.RandomState(seed)
    Z = (rng.randn(n, k) * 2).astype(dtype)
    if loss == LOSSES["multinomial"]:
        Y = np.eye(k)[rng.randint(0, k, n)]
    elif loss <= LOSSES["epsilon_insensitive"]:
        Y = rng.randn(n, k) * 2
    else:
        Y = np.where(rng.rand(n, k) < 0.5, -1.0, 1.0)
    sw = rng.rand(n) + 0.5
    return Z, Y.astype(dtype), sw.astype(dtype)


@pytest.mark.parametrize("loss", sorted(LOSSES.values()))
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_grad_matches_reference(backend, dtype, loss):
    Z, Y, sw = _problem(loss, dtype)
    ref_dZ, got_dZ = np.empty_like(Z), np.empty_like(Z)
    ref = get_kernel("linear", "numpy").loss_grad(loss, Z, Y, sw, ref_dZ, 0.3)
    got = get_kernel("linear", backend).loss_grad(loss, Z, Y, sw, got_dZ, 0.3)
    np.testing.assert_allclose(got, ref, **TOL[dtype])
    np.testing.assert_allclose(got_dZ, ref_dZ, **TOL[dtype])


@pytest.mark.parametrize("loss", sorted(LOSSES.values()))
@pytest.mark.parametrize("backend", ["numpy"] + BACKENDS)
def test_derivative_is_finite_difference_of_loss(backend, loss):
    """dZ equals the central finite difference of the returned loss (float64)."""
    Z, Y, sw = _problem(loss, np.float64, n=12, seed=1)
    kern = get_kernel("linear", backend)
    dZ = np.empty_like(Z)
    kern.loss_grad(loss, Z, Y, sw, dZ, 0.3)
    h = 1e-6
    fd = np.empty_like(Z)
    scratch = np.empty_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        fd[idx] = (kern.loss_grad(loss, Zp, Y, sw, scratch, 0.3)
                   - kern.loss_grad(loss, Zm, Y, sw, scratch, 0.3)) / (2 * h)
    # kinks of hinge-type losses are at exact margins, which random scores never hit
    np.testing.assert_allclose(dZ, fd, rtol=1e-5, atol=1e-6)


def test_known_values():
    kern = get_kernel("linear", "numpy")
    Z = np.array([[0.0], [2.0]])
    Y = np.array([[1.0], [-1.0]])
    sw = np.ones(2)
    dZ = np.empty_like(Z)
    # log loss: log 2 + log(1 + e^2)
    assert kern.loss_grad(LOSSES["log_loss"], Z, Y, sw, dZ, 0.0) == pytest.approx(
        np.log(2) + np.log1p(np.exp(2)))
    np.testing.assert_allclose(dZ[:, 0], [-0.5, 1 / (1 + np.exp(-2))])
    # hinge: max(0, 1 - 0) + max(0, 1 + 2)
    assert kern.loss_grad(LOSSES["hinge"], Z, Y, sw, dZ, 0.0) == pytest.approx(4.0)
    np.testing.assert_allclose(dZ[:, 0], [-1.0, 1.0])


@pytest.mark.parametrize("backend", ["numpy"] + BACKENDS)
def test_extreme_scores_stay_finite(backend):
    Z = np.array([[800.0, -800.0, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0]])
    dZ = np.empty_like(Z)
    k = get_kernel("linear", backend)
    loss = k.loss_grad(LOSSES["multinomial"], Z, Y, np.ones(1), dZ, 0.0)
    assert np.isfinite(loss) and loss == pytest.approx(1600.0)
    assert np.all(np.isfinite(dZ))
    Z1, Y1 = np.array([[-800.0]]), np.array([[1.0]])
    assert k.loss_grad(LOSSES["log_loss"], Z1, Y1, np.ones(1), dZ[:, :1], 0.0) == pytest.approx(800.0)
