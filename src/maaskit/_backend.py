"""Device probing and kernel dispatch.

Probes are lazy and cached and never raise: ``import maaskit`` does not import torch, and a
failed probe is remembered so that the later error message can say why. Kernel lookup is a
table: every kernel ``<name>`` exists as ``maaskit._kernels.reference.<name>`` (NumPy, the
oracle), ``maaskit._kernels.numba.<name>`` and the compiled ``maaskit._ext.<name>``, all with
the same function names and signatures; estimators never branch on the backend themselves.

Where each backend of kernel ``<name>`` lives (one layer under three names)::

    backend   source                                  imported as
    cython    kernels/<name>.pyx (checkout root)  ->  maaskit._ext.<name>  (compiled by setup.py)
    numba     src/maaskit/_kernels/numba/<name>.py    maaskit._kernels.numba.<name>
    numpy     src/maaskit/_kernels/reference/<name>.py  maaskit._kernels.reference.<name>  (the oracle)
    torch     src/maaskit/_kernels/torch/<name>.py    maaskit._kernels.torch.<name>  (device twins; few kernels)

``_MODULE_PATTERNS`` below is that table in code. ``benchmarks/test_kernel_micro.py`` times
the backends of ``topk``, ``sgd`` and ``attention`` against each other (pytest-benchmark).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

BACKENDS = ("cython", "numba", "numpy")
DEVICES = ("auto", "cpu", "cuda")

_probe_errors: dict[str, str] = {}

# Per-kernel preference for backend="auto", fastest first, as measured in benchmarks/.
_AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "sgd": ("numba", "cython", "numpy"),
    "svdpp": ("numba", "cython", "numpy"),
    "optim": ("numba", "cython", "numpy"),
    "linear": ("numba", "cython", "numpy"),
    "word2vec": ("numba", "cython", "numpy"),
    # measured on the 2-core machine (float32): dropout of 200x128 values 9 us numba, 13 us
    # cython; batch norm fwd+bwd of 64x8x28x28 5.6 ms numba (fastmath vectorises the
    # per-channel sums), 19 ms cython, 68 ms numpy
    "dropout": ("numba", "cython", "numpy"),
    "batchnorm": ("numba", "cython", "numpy"),
    # SASRec's full softmax over ML-100k (5216 x 1682 float32 logits, one thread): 9-17 ms
    # numba (its expf loop vectorises), 77-89 ms cython (the float reductions stay scalar)
    "xent": ("numba", "cython", "numpy"),
    # SST-2 train (1.6M features): doc_features 20-33 ms cython, 50 ms numba (serial; a
    # prange version took 93 ms on the shared 2 cores); dedup timings noisy, same order
    "texthash": ("cython", "numba", "numpy"),
}
_DEFAULT_ORDER = ("cython", "numba", "numpy")

_MODULE_PATTERNS = {
    "numpy": "maaskit._kernels.reference.{name}",
    "numba": "maaskit._kernels.numba.{name}",
    "cython": "maaskit._ext.{name}",
    "torch": "maaskit._kernels.torch.{name}",
}


@functools.cache
def has_torch() -> bool:
    """Return True when torch can be imported (cached; never raises)."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # any import failure means "no torch"
        _probe_errors["torch"] = f"{type(exc).__name__}: {exc}"
        return False
    return True


def has_nvidia_driver() -> bool:
    """Return True when an NVIDIA driver is visible to this process (cheap; never raises).

    Looks for the kernel driver (``/proc/driver/nvidia/version``) or loads the CUDA driver
    library (``libcuda``/``nvcuda.dll``) without importing torch, the way ``implicit`` decides from its compiled
    extension. Without a driver CUDA cannot be available, so torch need not be imported.
    """
    return _driver_probe()


@functools.cache
def _driver_probe() -> bool:
    import os
    import sys

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        _probe_errors["cuda"] = "CUDA_VISIBLE_DEVICES hides every GPU"
        return False
    if sys.platform.startswith("linux"):
        if os.path.exists("/proc/driver/nvidia/version"):
            return True
        names: tuple[str, ...] = ("libcuda.so.1", "libcuda.so")  # WSL: no /proc entry
    elif sys.platform == "win32":
        names = ("nvcuda.dll",)
    else:  # no CUDA driver exists for macOS
        _probe_errors["cuda"] = f"no CUDA driver on {sys.platform}"
        return False
    # dlopen through the loader's own search (ld.so.cache, LD_LIBRARY_PATH): about a
    # millisecond, where ctypes.util.find_library spawns ldconfig/gcc (~200 ms).
    import ctypes

    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    _probe_errors["cuda"] = "no NVIDIA driver found (no /proc/driver/nvidia, no libcuda)"
    return False


@functools.cache
def has_cuda() -> bool:
    """Return True when torch is importable and ``torch.cuda.is_available()`` (cached).

    torch is imported only when it is already imported or an NVIDIA driver is present: on a
    machine without a driver the answer is False at no import cost.
    """
    import sys

    if "torch" not in sys.modules and not has_nvidia_driver():
        return False
    if not has_torch():
        return False
    try:
        import torch

        ok = bool(torch.cuda.is_available())
    except Exception as exc:
        _probe_errors["cuda"] = f"{type(exc).__name__}: {exc}"
        return False
    if not ok:
        _probe_errors["cuda"] = "torch.cuda.is_available() returned False"
    return ok


def resolve_device(device: str, where: str = "") -> str:
    """Turn a ``device`` parameter into ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        The requested device. ``"auto"`` follows :func:`maaskit.get_config` and picks CUDA
        when available.
    where : str, default=""
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    device : {"cpu", "cuda"}
    """
    from ._config import get_config

    prefix = f"{where}: " if where else ""
    if device not in DEVICES:
        raise ValueError(
            f"{prefix}device must be one of {', '.join(map(repr, DEVICES))}; got {device!r}."
        )
    if device == "auto":
        device = get_config()["device"]
        if device == "auto":
            return "cuda" if has_cuda() else "cpu"
    if device == "cuda" and not has_cuda():
        detail = _probe_errors.get("torch") or _probe_errors.get("cuda", "")
        raise ValueError(
            f"{prefix}device='cuda' was requested but torch with CUDA is not available "
            f"(torch installed: {'yes' if has_torch() else 'no'}"
            f"{'; ' + detail if detail else ''}). Use device='cpu' or 'auto'."
        )
    return device


@functools.cache
def _import(backend: str, name: str) -> ModuleType | None:
    try:
        return importlib.import_module(_MODULE_PATTERNS[backend].format(name=name))
    except ImportError as exc:
        _probe_errors[f"{backend}.{name}"] = f"{type(exc).__name__}: {exc}"
        return None


def available_backends(name: str) -> tuple[str, ...]:
    """Return the CPU backends that provide kernel ``name``, in ``"auto"`` preference order.

    Parameters
    ----------
    name : str
        Kernel name, e.g. ``"als"``.

    Returns
    -------
    backends : tuple of str
    """
    order = _AUTO_ORDER.get(name, _DEFAULT_ORDER)
    return tuple(b for b in order if _import(b, name) is not None)


def has_backend(name: str, backend: str) -> bool:
    """Return True when ``backend`` provides kernel ``name`` (imports that one module only).

    Parameters
    ----------
    name : str
        Kernel name.
    backend : str
        One of :data:`BACKENDS`.

    Returns
    -------
    available : bool
    """
    return backend in BACKENDS and _import(backend, name) is not None


def resolve_backend(name: str, backend: str, where: str = "") -> str:
    """Turn a ``backend`` parameter into a concrete CPU backend for kernel ``name``.

    Parameters
    ----------
    name : str
        Kernel name.
    backend : {"auto", "cython", "numba", "numpy"}
        Requested backend.
    where : str, default=""
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    backend : str
    """
    prefix = f"{where}: " if where else ""
    if backend not in ("auto",) + BACKENDS:
        raise ValueError(
            f"{prefix}backend must be one of 'auto', 'cython', 'numba', 'numpy'; "
            f"got {backend!r}."
        )
    if backend == "auto":
        # First that imports, in preference order: the others are not imported at all (a
        # Numba module costs its compile or cache load even when Cython serves the call).
        for candidate in _AUTO_ORDER.get(name, _DEFAULT_ORDER):
            if _import(candidate, name) is not None:
                return candidate
        raise ImportError(f"{prefix}no backend provides kernel {name!r}.")
    if not has_backend(name, backend):
        err = _probe_errors.get(f"{backend}.{name}", "not provided")
        hint = ""
        if backend == "cython":
            hint = (
                " The compiled extension is missing: reinstall with `pip install .` "
                "(a C compiler is needed) or use backend='numba'."
            )
        raise ImportError(f"{prefix}backend {backend!r} for kernel {name!r} is unavailable ({err}).{hint}")
    return backend


def optional_backend(name: str, backend: str) -> str | None:
    """The backend that serves an optional kernel ``name`` for a ``backend`` request, or None.

    For kernels that only some backends provide and that have a general fallback (the fused
    whole-epoch ``mlp`` kernel, else the per-layer ``dense`` path): ``"auto"`` takes the
    first provider in the table's order; an explicit backend is used only when it provides
    ``name``; None means "use the fallback". Estimators ask here instead of branching on
    backend names themselves.

    Parameters
    ----------
    name : str
        Kernel name.
    backend : {"auto", "cython", "numba", "numpy"}
        Requested backend (already validated).

    Returns
    -------
    backend : str or None
    """
    avail = available_backends(name)
    if backend == "auto":
        return avail[0] if avail else None
    return backend if backend in avail else None


def get_kernel(name: str, backend: str = "auto") -> ModuleType:
    """Return the module implementing kernel ``name`` for ``backend``.

    Parameters
    ----------
    name : str
        Kernel name, e.g. ``"topk"``.
    backend : {"auto", "cython", "numba", "numpy", "torch"}, default="auto"
        Which implementation.

    Returns
    -------
    module : module
        Exposes the kernel's functions.
    """
    if backend == "torch":
        mod = _import("torch", name)
        if mod is None:
            raise ImportError(
                f"torch kernel {name!r} is unavailable ({_probe_errors.get('torch.' + name)})."
            )
        return mod
    mod = _import(resolve_backend(name, backend), name)
    assert mod is not None
    return mod
