"""A first call loads only what it needs: no torch, Numba or scikit-learn on the recommender path.

Each case runs in a fresh interpreter (sys.modules of this test process is already full).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "sklearn", "scipy.stats", "tensorflow")


def _modules_after(code: str, env: dict | None = None) -> dict:
    # The maaskit this interpreter imports (installed, or what PYTHONPATH already names):
    # prepending src/ would pick a checkout without compiled kernels in CI, so the first fit
    # would load Numba there and the test would measure the wrong package.
    full_env = dict(os.environ)
    full_env.update(env or {})
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], env=full_env, capture_output=True,
                         text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _heavy(modules: set) -> list:
    return sorted(m for m in modules if m in HEAVY)


def test_import_maaskit_loads_no_heavy_module():
    mods = _modules_after("import maaskit")
    assert _heavy(mods) == []
    # Not even numpy/pandas: `maaskit --help` and a server's import pay nothing for them.
    assert "pandas" not in mods and "numpy" not in mods


def test_lazy_names_still_resolve():
    mods = _modules_after(
        "import maaskit\n"
        "assert maaskit.Recommender.__name__ == 'Recommender'\n"
        "assert callable(maaskit.save) and callable(maaskit.load)\n"
        "assert maaskit.recommender.ALS.__name__ == 'ALS'\n"
        "assert 'Recommender' in dir(maaskit)\n"
    )
    assert "maaskit.recommender" in mods


def test_first_recommender_fit_imports_no_torch_numba_or_sklearn():
    # device="auto" must not import torch to learn that there is no GPU, and backend="auto"
    # must not load a Numba module when the compiled kernel serves the call. The driver probe
    # is forced to "no driver" so the test means the same on a GPU runner.
    mods = _modules_after(
        "import maaskit._backend as b\n"
        "b._driver_probe = lambda: False\n"
        "import numpy as np, pandas as pd, maaskit\n"
        "rng = np.random.default_rng(0)\n"
        "df = pd.DataFrame({'user': rng.integers(0, 50, 600), 'item': rng.integers(0, 40, 600)})\n"
        "m = maaskit.Recommender('als', n_factors=4, max_iter=2, random_state=0).fit(df)\n"
        "ids, scores = m.recommend([int(df.user[0])], n=3)\n"
        "assert ids.shape == (1, 3)\n"
    )
    assert _heavy(mods) == []


def test_not_fitted_error_is_still_sklearns(tmp_path):
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    import maaskit
    from maaskit.exceptions import NotFittedError

    assert maaskit.NotFittedError is NotFittedError
    assert issubclass(NotFittedError, SkNotFittedError)
    assert issubclass(NotFittedError, maaskit.MaaskitError)
    with pytest.raises(SkNotFittedError, match="Recommender.recommend"):
        maaskit.Recommender().recommend("a")


def test_has_cuda_without_driver_does_not_import_torch():
    mods = _modules_after(
        "import maaskit._backend as b\n"
        "b._driver_probe = lambda: False\n"
        "assert b.has_cuda() is False\n"
        "assert b.resolve_device('auto') == 'cpu'\n"
    )
    assert "torch" not in mods


def test_cuda_visible_devices_empty_means_no_driver():
    mods = _modules_after(
        "import maaskit._backend as b\n"
        "assert b.has_nvidia_driver() is False\n"
        "assert b.has_cuda() is False\n",
        env={"CUDA_VISIBLE_DEVICES": ""},
    )
    assert "torch" not in mods


def test_cli_help_imports_nothing_heavy():
    mods = _modules_after(
        "import sys\nfrom maaskit.__main__ import main\n"
        "sys.argv = ['maaskit', '--help']\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    assert _heavy(mods) == [] and "pandas" not in mods


@pytest.mark.parametrize("loads", [True, False])
def test_driver_probe_follows_the_driver_library(monkeypatch, loads):
    import ctypes

    from maaskit import _backend

    def cdll(name):
        if not loads:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os.path, "exists", lambda p: False)  # no /proc/driver/nvidia
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    _backend._driver_probe.cache_clear()
    try:
        assert _backend.has_nvidia_driver() is loads
    finally:
        _backend._driver_probe.cache_clear()
