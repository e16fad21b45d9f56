"""The wheel installs into a fresh virtual environment and works without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SMOKE = textwrap.dedent(
    """
    import os, sys
    import numpy as np, pandas as pd
    import maaskit
    from maaskit import Recommender
    from maaskit._backend import available_backends
    assert "site-packages" in maaskit.__file__, maaskit.__file__
    assert "cython" in available_backends("topk"), "compiled extension missing from the wheel"
    assert "torch" not in sys.modules
    from maaskit.datasets import make_interactions
    df = make_interactions(200, 80, 3000, random_state=0)
    model = Recommender(random_state=0).fit(df[["user", "item", "rating"]])
    ids, scores = model.recommend(df.user.iloc[0], n=5)
    assert len(ids) == 5 and np.all(np.isfinite(scores))
    path = model.save("m.npz")
    again = maaskit.load(path)
    np.testing.assert_array_equal(again.recommend(df.user.iloc[0], n=5)[0], ids)
    from importlib import resources
    ui = resources.files("maaskit") / "serving" / "ui"
    assert "/ui/app.js" in (ui / "index.html").read_text()
    assert (ui / "app.js").read_text() and (ui / "style.css").read_text()
    print("wheel OK")
    """
)


@pytest.mark.slow
def test_wheel_installs_and_runs_in_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True, timeout=900)
    wheels = list(dist.glob("maaskit-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert any(n.startswith("maaskit/_ext/topk") and n.endswith(".so") for n in names)
    assert not any(n.endswith((".pyx", ".c")) for n in names), "sources must not ship in the wheel"
    assert not any("u.data" in n for n in names)
    # The model market page (GET /ui) ships in the wheel.
    assert {"maaskit/serving/ui/index.html", "maaskit/serving/ui/app.js", "maaskit/serving/ui/style.css"} <= set(names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # Without PYTHONPATH: a source tree on it (with the egg-info the build leaves in src/)
    # would make pip think maaskit is already installed and skip the wheel.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheels[0])],
                         capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    res = subprocess.run([str(py), "-c", SMOKE], cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "wheel OK" in res.stdout
    res = subprocess.run([str(venv / "bin" / "maaskit"), "--help"], capture_output=True, text=True, cwd=work)
    assert res.returncode == 0 and "quickstart" in res.stdout
