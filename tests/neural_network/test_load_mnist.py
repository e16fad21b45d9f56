"""load_mnist reads IDX.gz files: real shared data when present, and generated files always."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from maaskit.datasets import find_data_home, load_mnist
from maaskit.exceptions import ArtifactError


def _write_idx(path, arr, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_reads_generated_idx_files(tmp_path):
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (5, 28, 28))
    labs = rng.randint(0, 10, 5)
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    _write_idx(d / "train-images-idx3-ubyte.gz", imgs, 2051)
    _write_idx(d / "train-labels-idx1-ubyte.gz", labs, 2049)
    X, y = load_mnist("fashion-mnist", split="train", data_home=tmp_path)
    np.testing.assert_array_equal(X, imgs)
    np.testing.assert_array_equal(y, labs)
    _write_idx(d / "t10k-images-idx3-ubyte.gz", imgs, 2049)  # wrong magic
    _write_idx(d / "t10k-labels-idx1-ubyte.gz", labs, 2049)
    with pytest.raises(ArtifactError, match="magic 2051"):
        load_mnist("fashion-mnist", split="test", data_home=tmp_path)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="variant must be one of"):
        load_mnist("cifar")
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("mnist-test", split="train")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz not found"):
        load_mnist("mnist-test", data_home=tmp_path)


def test_real_shared_data():
    home = find_data_home()
    if home is None or not (home / "mnist-test").is_dir():
        pytest.skip("shared MNIST data not present")  # the generated-file test above always runs
    X, y = load_mnist("mnist-test", data_home=home)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert set(np.unique(y)) == set(range(10))
    Xf, yf = load_mnist("fashion-mnist", split="test", data_home=home)
    assert Xf.shape == (10000, 28, 28) and np.bincount(yf).tolist() == [1000] * 10
