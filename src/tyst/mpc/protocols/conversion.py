"""Conversions between arithmetic and boolean sharings: a2b, b2a, bit injection."""

from __future__ import annotations

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import mul
from tyst.mpc.protocols.boolean import reveal_bool, share_input_bool
from tyst.mpc.protocols.circuits import add_full, split_two_operands
from tyst.mpc.shares import AShare, BShare
from tyst.ring.words import U64

A2B_CHUNK = 1 << 21
"""Elements per a2b call (bounds the Kogge–Stone temporaries to ~0.5 GB per party)."""


def a2b(party: Party, x: AShare) -> BShare:
    """Arithmetic → boolean sharing of the same 64-bit words.

    Steps: split x = u + v (party 0 inputs u = x_0 + x_1 as booleans, v = x_2 is a
    trivial boolean sharing; 1 round), then a Kogge–Stone adder (7 rounds).
    Source: ABY3 §5.3 (a2b with a parallel-prefix adder).
    Rounds: 8 per chunk of A2B_CHUNK elements (inputs are converted in chunks so the
    adder's temporaries stay bounded). Bytes per element: 96 per party plus 16 from
    party 0.
    Leakage: none.
    """
    n = len(x)
    if n > A2B_CHUNK:
        parts = [a2b(party, x[i : i + A2B_CHUNK]) for i in range(0, n, A2B_CHUNK)]
        return BShare(np.concatenate([q.a for q in parts]), np.concatenate([q.b for q in parts]))
    u, v = split_two_operands(party, x, negate_second=False)
    return add_full(party, u, v)


def _trivial_arith_components(party: Party, bits: BShare) -> list[AShare]:
    """The three XOR components b_0, b_1, b_2 of ``bits`` as trivial arithmetic sharings."""
    n = len(bits)
    zero = np.zeros(n, dtype=U64)
    i = party.index
    out = []
    for j in range(3):
        a = bits.a if j == i else zero
        b = bits.b if j == (i + 1) % 3 else zero
        out.append(AShare(a, b))
    return out


def bit_to_arith(party: Party, bit: BShare) -> AShare:
    """Bit injection: a boolean-shared bit (bit 0 of each word) → arithmetic 0/1.

    Steps: the three XOR components b_0, b_1, b_2 are each known to two parties and
    so are trivial arithmetic sharings; c = b_0 ⊕ b_1 = b_0 + b_1 − 2·b_0·b_1 (1 mul),
    then c ⊕ b_2 the same way (1 mul).
    Source: ABY3 §5.4 (bit injection; here with two multiplications instead of OT).
    Rounds: 2. Bytes per element per party: 16.
    Leakage: none.
    """
    low = bit.and_public(1)
    e0, e1, e2 = _trivial_arith_components(party, low)
    c = e0 + e1 - mul(party, e0, e1).shift_left(1)
    return c + e2 - mul(party, c, e2).shift_left(1)


def b2a(party: Party, x: BShare) -> AShare:
    """Boolean → arithmetic sharing of 64-bit words.

    Steps: y_0 = F(k_0) (parties 2, 0) and y_1 = F(k_1) (parties 0, 1) are drawn from
    pairwise PRGs; party 0 inputs c = −y_0 − y_1 as booleans (1 round); a
    Kogge–Stone adder gives y_2 = x + c (7 rounds); y_2 is opened to parties 1 and
    2 only (1 round) — it is masked by y_0 (unknown to party 1) and by y_1
    (unknown to party 2), so neither learns anything.
    Source: ABY3 §5.3 (b2a by boolean subtraction of random arithmetic shares).
    Rounds: 9. Bytes per element: 96 per party + 16 from party 0 + 16 for the opening.
    Leakage: none (the opened y_2 is uniformly masked).
    """
    n = len(x)
    rand = party.randomness
    if party.index == 0:  # knows y_0 (with party 2) and y_1 (with party 1)
        y0, y1 = rand.shared_prev.words(n), rand.shared_next.words(n)
        c = share_input_bool(party, 0, -y0 - y1)
        reveal_bool(party, add_full(party, x, c), (1, 2))
        return AShare(y0, y1)
    own = rand.shared_prev.words(n) if party.index == 1 else rand.shared_next.words(n)
    c = share_input_bool(party, 0, None)
    y2 = reveal_bool(party, add_full(party, x, c), (1, 2))
    assert y2 is not None
    return AShare(own, y2) if party.index == 1 else AShare(y2, own)
