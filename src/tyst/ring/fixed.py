"""Binary fixed point in Z_2^64.

A real number v is encoded as round(v · 2^f) in two's complement, with ``f``
fractional bits. Products carry 2f fractional bits and must be truncated by f
(see ``tyst.mpc.protocols.arithmetic.truncate``).

Published range rule. With f fractional bits, |v| < 2^(62 − f) keeps sums and
comparisons exact. Truncation is probabilistic: a product p = a·b carrying 2f
fractional bits is truncated correctly (to within one unit in the last place)
except with probability 2^(log2|p·2^(2f)| + 1 − 64) per element; tyst keeps
|p·2^(2f)| < 2^40, i.e. a failure probability below 2^-23 per element.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tyst.ring.words import WordArray, from_signed, to_signed

DEFAULT_FRACTION_BITS = 16


def encode(values: npt.ArrayLike, fraction_bits: int = DEFAULT_FRACTION_BITS) -> WordArray:
    """Real values → ring words with ``fraction_bits`` fractional bits (round half to even)."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(1 << fraction_bits))
    limit = float(1 << (62 - fraction_bits)) * float(1 << fraction_bits)
    if scaled.size and np.max(np.abs(scaled)) >= limit:
        raise OverflowError(f"value out of fixed-point range |v| < 2^{62 - fraction_bits}")
    return from_signed(scaled.astype(np.int64))


def decode(words: WordArray, fraction_bits: int = DEFAULT_FRACTION_BITS) -> npt.NDArray[np.float64]:
    """Ring words → real values."""
    return to_signed(words).astype(np.float64) / float(1 << fraction_bits)
