"""GAN: learns simple known distributions, conditional sampling, images, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.exceptions import NotFittedError
from maaskit.neural_network._gan import GAN
from maaskit.persistence import dumps, loads

SMALL = dict(latent_dim=4, hidden_layer_sizes=(32, 32), batch_size=64, learning_rate_init=2e-3)


def test_learns_a_skewed_distribution():
    # Exponential data: an untrained generator puts its mass mid-range (far from the data),
    # a trained one must move it to where the data are. GAN training oscillates (torch does
    # the same on this problem), so the bar is relative to the untrained generator.
    from scipy.stats import wasserstein_distance

    rng = np.random.RandomState(0)
    X = rng.exponential(1.0, size=(2048, 2))
    fresh = rng.exponential(1.0, size=(4000, 2))

    def distance(S):
        return sum(wasserstein_distance(S[:, j], fresh[:, j]) for j in range(2))

    gan = GAN(max_iter=30, random_state=0, **{**SMALL, "learning_rate_init": 1e-3}).fit(X)
    S = gan.sample(4000, random_state=1)
    assert S.shape == (4000, 2)
    untrained = GAN(max_iter=1, random_state=0, **{**SMALL, "learning_rate_init": 1e-9}).fit(X)
    assert distance(S) < 0.3 * distance(untrained.sample(4000, random_state=1))
    assert np.all((S.mean(0) > 0.2) & (S.mean(0) < 2.5))
    assert len(gan.history_["loss_d"]) == len(gan.history_["loss_g"]) == gan.n_iter_ == 30


def test_conditional_samples_follow_their_class():
    rng = np.random.RandomState(0)
    y = np.array(["low", "high"])[rng.randint(2, size=2048)]
    X = np.where((y == "high")[:, None], 4.0, -4.0) + rng.normal(0, 0.5, size=(2048, 2))
    gan = GAN(max_iter=40, conditional=True, random_state=0, **SMALL).fit(X, y)
    assert list(gan.classes_) == ["high", "low"]
    hi = gan.sample(500, y="high", random_state=0)
    lo = gan.sample(500, y=["low"] * 500, random_state=0)
    assert hi.mean() > 2.5 and lo.mean() < -2.5
    mixed = gan.sample(1000, random_state=0)  # classes drawn uniformly
    assert 0.25 < (mixed.mean(1) > 0).mean() < 0.75
    with pytest.raises(ValueError, match="unknown class 'medium'"):
        gan.sample(3, y="medium")


def test_dcgan_on_images_and_save_load():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    imgs = X[:256].reshape(-1, 8, 8)
    gan = GAN(architecture="dcgan", filters=(8, 16), latent_dim=8, max_iter=2, conditional=True,
              random_state=0).fit(imgs, y[:256])
    S = gan.sample(6, y=3, random_state=0)
    assert S.shape == (6, 8, 8)
    assert S.min() >= X.min() - 1e-6 and S.max() <= X.max() + 1e-6  # tanh range mapped back
    again = loads(dumps(gan))
    np.testing.assert_array_equal(again.sample(6, y=3, random_state=0), S)
    assert again.history_ == gan.history_
    chw = GAN(architecture="dcgan", filters=(4, 4), latent_dim=4, max_iter=1,
              random_state=0).fit(imgs[:, None])
    assert chw.sample(2).shape == (2, 1, 8, 8)


def test_reproducible():
    X = np.random.RandomState(0).normal(size=(300, 3))
    a = GAN(max_iter=3, random_state=5, **SMALL).fit(X).sample(10, random_state=0)
    b = GAN(max_iter=3, random_state=5, **SMALL).fit(X).sample(10, random_state=0)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_backends_agree(backend):
    X = np.random.RandomState(0).normal(size=(256, 3))
    ref = GAN(max_iter=2, random_state=0, backend="numpy", **SMALL).fit(X)
    got = GAN(max_iter=2, random_state=0, backend=backend, **SMALL).fit(X)
    np.testing.assert_allclose(got.history_["loss_d"], ref.history_["loss_d"], rtol=1e-3)
    np.testing.assert_allclose(got.sample(20, random_state=0), ref.sample(20, random_state=0),
                               rtol=1e-3, atol=1e-3)


def test_errors():
    X = np.random.RandomState(0).normal(size=(50, 4))
    with pytest.raises(NotFittedError, match="GAN.sample: this GAN instance is not fitted"):
        GAN().sample(3)
    with pytest.raises(ValueError, match="conditional=True needs class labels y"):
        GAN(conditional=True, max_iter=1).fit(X)
    with pytest.raises(ValueError, match="multiples of 4"):
        GAN(architecture="dcgan", max_iter=1).fit(np.zeros((10, 6, 6)))
    with pytest.raises(ValueError, match="images must be"):
        GAN(architecture="dcgan", max_iter=1).fit(np.zeros((10, 16)))
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GAN(max_iter=1).fit(Xn)
    gan = GAN(max_iter=1, **SMALL).fit(X)
    with pytest.raises(ValueError, match="only accepted by a GAN fitted with conditional=True"):
        gan.sample(2, y=1)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        gan.sample(0)
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(latent_dim=0).fit(X)


def test_verbose_progress_bar(capsys):
    X = np.random.RandomState(0).normal(size=(64, 2))
    GAN(max_iter=2, verbose=True, **SMALL).fit(X)
    assert "GAN" in capsys.readouterr().err


@parametrize_with_checks([GAN(latent_dim=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
