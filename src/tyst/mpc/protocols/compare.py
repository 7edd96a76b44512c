"""Comparisons and selection: less-than (and the other orders), equality, mux.

Comparison results are single secret bits in **bit 0** of each word of a
:class:`BShare` (other bits zero). Operands are signed 64-bit integers in two's
complement; comparisons are exact when |x − y| < 2^63, which the published
range rule |x|, |y| < 2^62 guarantees (checked at plan time by the SQL layer).
"""

from __future__ import annotations

from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import mul
from tyst.mpc.protocols.boolean import and_many
from tyst.mpc.protocols.circuits import all_zero, carry_into_msb, split_two_operands
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.shares import AShare, BShare, xor_public
from tyst.ring.words import U64


def msb(party: Party, x: AShare) -> BShare:
    """The most significant (sign) bit of x, in bit 0.

    Steps: split x = u + v into two boolean-shared operands (1 round, party 0
    inputs u = x_0 + x_1), carry c into bit 63 of u + v by a packed Brent–Kung tree
    (7 rounds), msb = u_63 ^ v_63 ^ c.
    Source: ABY3 §5.3 (msb via a parallel-prefix adder); packing: this project.
    Rounds: 8. Bytes per element: ≈ 24 per party plus 16 from party 0.
    Leakage: none.
    """
    u, v = split_two_operands(party, x, negate_second=False)
    carry = carry_into_msb(party, u, v)
    for mine, ui, vi in ((carry.a, u.a, v.a), (carry.b, u.b, v.b)):
        mine ^= ui
        mine ^= vi
        mine >>= U64(63)  # bit 63 alone, moved to bit 0
    return carry


def lt(party: Party, x: AShare, y: AShare) -> BShare:
    """[x < y] for signed x, y with |x − y| < 2^63: msb(x − y). Rounds 8; see :func:`msb`."""
    return msb(party, x - y)


def gt(party: Party, x: AShare, y: AShare) -> BShare:
    """[x > y] = [y < x]."""
    return lt(party, y, x)


def ge(party: Party, x: AShare, y: AShare) -> BShare:
    """[x ≥ y] = ¬[x < y]."""
    return not_bit(party, lt(party, x, y))


def le(party: Party, x: AShare, y: AShare) -> BShare:
    """[x ≤ y] = ¬[y < x]."""
    return not_bit(party, lt(party, y, x))


def eq(party: Party, x: AShare, y: AShare) -> BShare:
    """[x = y] for any x, y in Z_2^64.

    Steps: d = x − y; party 0 inputs u = d_0 + d_1 as booleans, v = −d_2 is a
    trivial boolean sharing, so d = 0 ⇔ u ⊕ v = 0 (1 round); then a packed AND
    tree over the 64 bits of ¬(u ⊕ v) (6 rounds).
    Source: equality by zero test of a two-operand split (ABY3 §5.3 style).
    Rounds: 7. Bytes per element: < 8 per party plus 16 from party 0.
    Leakage: none.
    """
    u, v = split_two_operands(party, x - y, negate_second=True)
    return all_zero(party, u ^ v)


def ne(party: Party, x: AShare, y: AShare) -> BShare:
    """[x ≠ y] = ¬[x = y]."""
    return not_bit(party, eq(party, x, y))


def not_bit(party: Party, bit: BShare) -> BShare:
    """Negate a bit held in bit 0 (local)."""
    return xor_public(party.index, bit, 1)


def and_bits(party: Party, pairs: list[tuple[BShare, BShare]]) -> list[BShare]:
    """AND of bit pairs, all in one round (8 bytes per element per party)."""
    return and_many(party, pairs)


def select(party: Party, cond: BShare, if_true: AShare, if_false: AShare) -> AShare:
    """Oblivious mux: ``if_true`` where the bit ``cond`` is 1, else ``if_false``.

    Steps: c = bit_to_arith(cond) (2 rounds); result = if_false + c · (if_true − if_false).
    Source: ABY3 §5.4 (select via bit injection and one multiplication).
    Rounds: 3. Bytes per element per party: 24.
    Leakage: none.
    """
    c = bit_to_arith(party, cond)
    return if_false + mul(party, c, if_true - if_false)
