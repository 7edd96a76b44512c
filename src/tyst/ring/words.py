"""The two rings of the engine, as numpy arrays of uint64 words.

* Z_2^64: one element per ``uint64`` word; numpy's wrap-around *is* the ring
  arithmetic, so ``+``, ``-``, ``*`` need no reduction.
* Z_2: bit-packed; a word holds 64 independent bits. XOR is addition and AND
  is multiplication. A single secret bit per element is held in bit 0 of its
  word ("bit-per-word" form) unless a protocol says otherwise.

Signed integers are embedded in two's complement (``int64`` viewed as
``uint64``); see :func:`from_signed` / :func:`to_signed`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

U64 = np.uint64
WordArray = npt.NDArray[np.uint64]

ALL_ONES = U64(0xFFFF_FFFF_FFFF_FFFF)
SIGN_BIT = U64(1 << 63)


def words(values: Any) -> WordArray:
    """Embed integers (signed or unsigned, any int dtype) into Z_2^64 as a 1-D array."""
    arr = np.asarray(values)
    if arr.dtype == np.uint64:
        return np.ascontiguousarray(arr).reshape(-1)
    if arr.dtype.kind in "iub":
        return np.ascontiguousarray(arr.astype(np.int64)).reshape(-1).view(U64)
    if arr.dtype == object:
        return np.array([int(v) % (1 << 64) for v in arr.reshape(-1)], dtype=U64)
    raise TypeError(f"cannot embed dtype {arr.dtype} into Z_2^64")


def from_signed(values: npt.ArrayLike) -> WordArray:
    """int64 values → ring elements (two's complement)."""
    return np.ascontiguousarray(np.asarray(values, dtype=np.int64)).reshape(-1).view(U64)


def to_signed(values: WordArray) -> npt.NDArray[np.int64]:
    """Ring elements → int64 (two's complement interpretation)."""
    return values.view(np.int64)


def zeros(n: int) -> WordArray:
    """``n`` zero words."""
    return np.zeros(n, dtype=U64)
