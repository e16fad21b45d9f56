"""maaskit stays light: neither ``import maaskit`` nor the DDP path imports dask."""

from __future__ import annotations

import subprocess
import sys


def test_imports_stay_lazy():
    code = (
        "import sys, maaskit, maaskit.distributed, maaskit.distributed._ddp\n"
        "heavy = [m for m in ('dask', 'distributed', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from maaskit.distributed import recommend_batch\n"
        "assert 'dask' in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
