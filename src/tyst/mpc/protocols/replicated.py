"""Input sharing and opening, common to arithmetic (+) and boolean (XOR) sharings.

The public, documented protocols are ``arithmetic.share_input`` / ``reveal`` and
``boolean.share_input_bool`` / ``reveal_bool``; they wrap these two functions,
which differ between the two kinds of sharing only in the group operation.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from tyst.mpc.party import Party
from tyst.ring.words import U64, WordArray


def input_components(
    party: Party, owner: int, values: WordArray | None, *, xor: bool
) -> tuple[WordArray, WordArray]:
    """This party's pair (x_i, x_{i+1}) of a fresh sharing of the owner's ``values``."""
    p = owner
    if party.index == p:
        if values is None:
            raise ValueError("the input owner must pass its values")
        x = np.ascontiguousarray(values, dtype=U64)
        n = x.shape[0]
        s_p = party.randomness.shared_prev.words(n)
        s_p1 = party.randomness.shared_next.words(n)
        s_p2 = (x ^ s_p ^ s_p1) if xor else (x - s_p - s_p1)
        party.send_words((p + 1) % 3, s_p2)
        party.send_words((p + 2) % 3, s_p2)
        return s_p, s_p1
    if values is not None:
        raise ValueError(f"party {party.index} is not the owner of this input")
    s_p2 = party.recv_words(p)
    n = s_p2.shape[0]
    if party.index == (p + 1) % 3:
        return party.randomness.shared_prev.words(n), s_p2
    return s_p2, party.randomness.shared_next.words(n)


def reveal_components(
    party: Party, a: WordArray, b: WordArray, to: Collection[int], *, xor: bool
) -> WordArray | None:
    """Open the sharing whose pair here is (a, b) to the parties in ``to``; others get None."""
    receivers = sorted(set(to))
    if not receivers or any(r not in (0, 1, 2) for r in receivers):
        raise ValueError(f"reveal needs receivers among 0, 1, 2; got {list(to)}")
    if party.prev in receivers:
        party.send_words(party.prev, b)
    if party.index not in receivers:
        return None
    missing = party.recv_words(party.next, a.shape[0])
    return (a ^ b ^ missing) if xor else (a + b + missing)
