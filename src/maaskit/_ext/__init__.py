"""Compiled Cython kernels (built from ``kernels/*.pyx`` by ``setup.py``).

Import them through :func:`maaskit._backend.get_kernel`; a missing extension then gives a
message that says how to build it instead of a bare ``ImportError``.
"""
