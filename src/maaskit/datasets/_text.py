"""Readers for the labelled sentiment sentences in the data folder (nothing is shipped).

Three sets, each read from ``<data_home>/<name>/`` exactly as distributed (see each
folder's README for provenance and licence):

- ``"sst2"``: Stanford Sentiment Treebank, binary sentence level (``stsa.binary.*``), with
  its official train (6,920) / dev (872) / test (1,821) splits; lower-cased, PTB-tokenised.
- ``"sentiment-en"``: UCI Sentiment Labelled Sentences, Amazon + Yelp (2,000 sentences).
- ``"sentiment-zh"``: ChnSentiCorp hotel reviews (7,766 Chinese reviews; one empty review
  is dropped, leaving 7,765).

Labels are 0 (negative) and 1 (positive).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._home import get_data_home

__all__ = ["load_sentiment"]

_NAMES = ("sst2", "sentiment-en", "sentiment-zh")
_SPLITS = {"sst2": ("train", "dev", "test", "all"),
           "sentiment-en": ("all", "train", "test"),
           "sentiment-zh": ("all", "train", "test")}


def _read_sst2(folder: Path, split: str) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    for part in (("train", "dev", "test") if split == "all" else (split,)):
        with open(folder / f"stsa.binary.{part}", encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if not line:
                    continue
                label, _, text = line.partition(" ")
                labels.append(int(label))
                texts.append(text)
    return texts, labels


def _read_en(folder: Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        with open(folder / name, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                text, _, label = line.rpartition("\t")
                labels.append(int(label))
                texts.append(text.strip())
    return texts, labels


def _read_zh(folder: Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    with open(folder / "ChnSentiCorp_htl_all.csv", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)  # header: label,review
        for row in reader:
            if len(row) != 2 or not row[1].strip():
                continue
            labels.append(int(row[0]))
            texts.append(row[1].strip())
    return texts, labels


def _fixed_split(texts: list[str], labels: list[int], split: str) -> tuple[list[str], list[int]]:
    # A fixed, stratified 80/20 split (seed 0) for sets that have no official one.
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(texts))
    tr, te = train_test_split(idx, test_size=0.2, random_state=0, stratify=labels)
    keep = np.sort(tr if split == "train" else te)
    return [texts[i] for i in keep], [labels[i] for i in keep]


def load_sentiment(name: str = "sst2", split: str = "train",
                   data_home: str | os.PathLike[str] | None = None, *, return_X_y: bool = False):
    """Load labelled sentiment sentences (English or Chinese) from the data folder.

    Parameters
    ----------
    name : {"sst2", "sentiment-en", "sentiment-zh"}, default="sst2"
        Which set (see the module docstring).
    split : str, default="train"
        ``"train"``, ``"dev"``, ``"test"`` or ``"all"`` for ``"sst2"`` (the official
        splits); ``"all"``, ``"train"`` or ``"test"`` for the others, where train/test is a
        fixed stratified 80/20 split with seed 0.
    data_home : str or os.PathLike, default=None
        Folder holding ``<name>/``; see :func:`~maaskit.datasets.get_data_home`.
    return_X_y : bool, default=False
        Return ``(texts, labels)`` instead of a Bunch.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (list of str), ``target`` (ndarray of int64, 0 negative / 1 positive),
        ``target_names`` (``["negative", "positive"]``) and ``DESCR`` (the folder README).
    """
    if name not in _NAMES:
        raise ValueError(f"load_sentiment: name must be one of {_NAMES}; got {name!r}.")
    if split not in _SPLITS[name]:
        raise ValueError(f"load_sentiment: split for {name!r} must be one of {_SPLITS[name]}; got {split!r}.")
    folder = get_data_home(data_home) / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_sentiment: folder {str(folder)!r} not found. Set MAASKIT_DATA (or data_home) "
            f"to the folder that holds {name}/."
        )
    if name == "sst2":
        texts, labels = _read_sst2(folder, split)
    else:
        texts, labels = (_read_en if name == "sentiment-en" else _read_zh)(folder)
        if split != "all":
            texts, labels = _fixed_split(texts, labels, split)
    y = np.asarray(labels, dtype=np.int64)
    if return_X_y:
        return texts, y
    readme = folder / "README.md"
    descr = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    return Bunch(data=texts, target=y, target_names=["negative", "positive"], DESCR=descr)
