"""Reader for the MNIST and Fashion-MNIST image sets (IDX files, gzipped).

maaskit never ships the images: :func:`load_mnist` reads the original ``*-idx*-ubyte.gz``
files from the data folder (see :func:`~maaskit.datasets.get_data_home`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..exceptions import ArtifactError
from ._home import get_data_home

__all__ = ["load_mnist"]

#: variant -> (folder, {split: (images file, labels file)})
_VARIANTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "mnist-test": ("mnist-test", {"test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}),
    "fashion-mnist": ("fashion-mnist", {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }),
}


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ArtifactError(f"load_mnist: {path} is truncated (no IDX header).")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise ArtifactError(f"load_mnist: {path} must be an IDX file with magic {magic}; got {got!r}.")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(shape)):
        raise ArtifactError(
            f"load_mnist: {path} must hold {int(np.prod(shape))} values for shape {shape}; got {body.size!r}.")
    return body.reshape(shape)


def load_mnist(variant: str = "mnist-test", split: str = "test", *,
               data_home: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST-style 28x28 grey-scale images and their labels from the data folder.

    Parameters
    ----------
    variant : {"mnist-test", "fashion-mnist"}, default="mnist-test"
        ``"mnist-test"`` is the 10,000-image MNIST test split (the only MNIST split in the
        shared data); ``"fashion-mnist"`` has a 60,000-image ``"train"`` and a 10,000-image
        ``"test"`` split.
    split : {"train", "test"}, default="test"
        Which split to read.
    data_home : str or os.PathLike, default=None
        Data folder; ``None`` uses :func:`~maaskit.datasets.get_data_home`.

    Returns
    -------
    images : ndarray of shape (n_images, 28, 28), uint8
        Pixel intensities 0-255 (divide by 255 for [0, 1] inputs).
    labels : ndarray of shape (n_images,), uint8
        Class 0-9 of each image.

    Examples
    --------
    >>> from maaskit.datasets import load_mnist
    >>> X, y = load_mnist("mnist-test")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    if variant not in _VARIANTS:
        raise ValueError(f"load_mnist: variant must be one of {sorted(_VARIANTS)}; got {variant!r}.")
    folder, splits = _VARIANTS[variant]
    if split not in splits:
        raise ValueError(f"load_mnist: split must be one of {sorted(splits)} for {variant!r}; got {split!r}.")
    base = get_data_home(data_home) / folder
    img_name, lab_name = splits[split]
    img_path, lab_path = base / img_name, base / lab_name
    for p in (img_path, lab_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"load_mnist: {p} not found. Put the original {variant} IDX files in {base} "
                f"(or point MAASKIT_DATA / data_home at the folder that holds {folder}/).")
    images = _read_idx(img_path, 2051, 3)
    labels = _read_idx(lab_path, 2049, 1)
    if images.shape[0] != labels.shape[0]:
        raise ArtifactError(
            f"load_mnist: {variant} {split} must have as many labels as images; got "
            f"{labels.shape[0]!r} labels for {images.shape[0]} images.")
    return images, labels
