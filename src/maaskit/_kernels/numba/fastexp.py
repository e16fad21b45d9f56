"""Numba ``expf``: a float32 exponential that LLVM vectorises, shared by the softmax kernels.

``math.exp`` on float32 stays a scalar libm call; in a softmax over a key row (attention) or
over a catalogue (xent) the exponentials are most of the work, so both kernels use this one.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import intrinsic


@intrinsic
def _f32_from_bits(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits (a no-op cast in LLVM)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _expf(x):
    """Cephes expf for float32 x <= 0: range reduction by ln 2, degree-5 polynomial, 2^n
    from exponent bits (~1 ulp). Plain arithmetic, so LLVM vectorises the softmax loop.
    x is clamped to [-87.3, 0]: a masked key's score may exceed the row max, and its weight
    (zeroed afterwards by a 0/1 multiply) must stay finite, since inf * 0 is NaN. (np.floor,
    not the 1.5 * 2^23 rounding trick, which "reassoc" folds away.)"""
    x = min(max(x, np.float32(-87.3)), np.float32(0.0))
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    r = x - n * np.float32(0.693359375) + n * np.float32(2.12194440e-4)
    y = np.float32(1.9875691500e-4)
    y = y * r + np.float32(1.3981999507e-3)
    y = y * r + np.float32(8.3334519073e-3)
    y = y * r + np.float32(4.1665795894e-2)
    y = y * r + np.float32(1.6666665459e-1)
    y = y * r + np.float32(5.0000001201e-1)
    y = y * r * r + r + np.float32(1.0)
    return y * _f32_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))
