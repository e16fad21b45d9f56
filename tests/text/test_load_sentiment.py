"""load_sentiment reads the three formats (generated copies always; real files when present)."""

from __future__ import annotations


import numpy as np
import pytest

from maaskit.datasets import find_data_home, load_sentiment



@pytest.fixture
def fake_home(tmp_path):
    (tmp_path / "sst2").mkdir()
    for part, rows in {"train": ["1 a fine film", "0 dull , dull"], "dev": ["1 crème brûlée"],
                       "test": ["0 no", "1 yes", "0 meh"]}.items():
        (tmp_path / "sst2" / f"stsa.binary.{part}").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "sentiment-en").mkdir()
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        lines = [f"{'Good' if i % 2 else 'Bad'}, really {i}.\t{i % 2}" for i in range(10)]
        (tmp_path / "sentiment-en" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "sentiment-zh").mkdir()
    rows = ["label,review"] + [f'{i % 2},"很好,第{i}次"' for i in range(10)] + ["0,"]
    (tmp_path / "sentiment-zh" / "ChnSentiCorp_htl_all.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "sentiment-zh" / "README.md").write_text("zh readme", encoding="utf-8")
    return tmp_path


def test_formats(fake_home):
    X, y = load_sentiment("sst2", "train", data_home=fake_home, return_X_y=True)
    assert X == ["a fine film", "dull , dull"] and y.tolist() == [1, 0]
    assert len(load_sentiment("sst2", "all", data_home=fake_home).data) == 6
    b = load_sentiment("sentiment-en", "all", data_home=fake_home)
    assert len(b.data) == 20 and b.data[1] == "Good, really 1." and b.target[:2].tolist() == [0, 1]
    z = load_sentiment("sentiment-zh", "all", data_home=fake_home)
    assert len(z.data) == 10 and z.data[3] == "很好,第3次" and z.DESCR == "zh readme"
    tr = load_sentiment("sentiment-zh", "train", data_home=fake_home, return_X_y=True)
    te = load_sentiment("sentiment-zh", "test", data_home=fake_home, return_X_y=True)
    assert len(tr[0]) == 8 and len(te[0]) == 2 and not set(tr[0]) & set(te[0])


def test_errors(fake_home, tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_sentiment("imdb", data_home=fake_home)
    with pytest.raises(ValueError, match="split for 'sentiment-en' must be one of"):
        load_sentiment("sentiment-en", "dev", data_home=fake_home)
    with pytest.raises(FileNotFoundError, match="Set MAASKIT_DATA"):
        load_sentiment("sst2", data_home=tmp_path / "nowhere")


def test_real_files_when_present():
    home = find_data_home()
    if home is None or not (home / "sst2").is_dir():
        home = None
    counts = {("sst2", "train"): 6920, ("sst2", "dev"): 872, ("sst2", "test"): 1821,
              ("sentiment-en", "all"): 2000, ("sentiment-zh", "all"): 7765}
    if home is None:  # no real data here: the generated-file tests above cover the readers
        return
    for (name, split), n in counts.items():
        X, y = load_sentiment(name, split, data_home=home, return_X_y=True)
        assert len(X) == len(y) == n and set(np.unique(y)) == {0, 1}
        assert all(isinstance(t, str) and t for t in X)
