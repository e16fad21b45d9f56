# cython: language_level=3
"""Seeded per-thread random draws and sorted-row membership, shared by the sampling kernels.

bpr.pyx and hybrid.pyx draw negatives the same way: one xorshift64* state per
(seed, thread-or-chunk) pair, seeded through splitmix64 so that neighbouring chunk
numbers give unrelated streams, and a binary search of the user's sorted CSR row to
reject items the user already has.  The functions are ``inline`` so cimporting this
file adds no runtime module.
"""
from libc.stdint cimport uint64_t

cdef inline uint64_t _seed_state(uint64_t seed, uint64_t t) noexcept nogil:
    """Splitmix64 of ``seed`` and stream number ``t``; never 0 (xorshift's fixed point)."""
    # 0x9E37...7C15 is 2^64 / golden ratio, splitmix64's increment; written out
    # because a module-level constant in a .pxd would never be assigned.
    cdef uint64_t golden = 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = seed + (t + 1) * golden + golden
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    if z == 0:
        z = golden
    return z


cdef inline long long _draw(uint64_t* state, long long n) noexcept nogil:
    """Advance the xorshift64* ``state`` and map it to ``[0, n)`` by a multiply-shift (no modulo bias loop)."""
    cdef uint64_t x = state[0]
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    state[0] = x
    return <long long> ((((x * 0x2545F4914F6CDD1DULL) >> 32) * <uint64_t> n) >> 32)


cdef inline bint _contains(const int* indices, long long lo, long long hi, int j) noexcept nogil:
    """Whether ``j`` is in the sorted slice ``indices[lo:hi]`` (binary search)."""
    cdef long long mid
    cdef int v
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v == j:
            return True
        if v < j:
            lo = mid + 1
        else:
            hi = mid
    return False
