"""Build the Cython kernels in ``kernels/`` into ``maaskit._ext.<name>``.

Everything else about the package lives in ``pyproject.toml``. OpenMP is used only when a
probe compile with ``-fopenmp`` succeeds, so a compiler without OpenMP still builds a
working (serial) extension. ``MAASKIT_CYTHON_DEBUG=1`` turns bounds and wraparound checks
back on, as scikit-learn does, for running the kernel tests against a checked build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = sorted(p.stem for p in Path("kernels").glob("*.pyx"))


def _has_openmp() -> bool:
    """Return True when the C compiler accepts ``-fopenmp`` and links an OpenMP program."""
    if sys.platform == "win32":
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "probe.c"
        c_file.write_text(src)
        cc = os.environ.get("CC", "cc")
        try:
            res = subprocess.run(
                [cc, "-fopenmp", str(c_file), "-o", str(Path(tmp) / "probe")],
                capture_output=True,
                check=False,
            )
        except OSError:
            return False
        return res.returncode == 0


def _extensions() -> list[Extension]:
    openmp = _has_openmp()
    compile_args = ["-O3"]
    link_args: list[str] = []
    if openmp:
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
    return [
        Extension(
            f"maaskit._ext.{name}",
            [f"kernels/{name}.pyx"],
            include_dirs=[numpy.get_include(), "kernels"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for name in KERNELS
    ]


debug = os.environ.get("MAASKIT_CYTHON_DEBUG", "0") == "1"
setup(
    ext_modules=cythonize(
        _extensions(),
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": debug,
            "cdivision": True,
            "embedsignature": True,
            "initializedcheck": debug,
        },
    ),
)
