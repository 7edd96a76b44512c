"""Boolean protocols over XOR-shared uint64 words: input sharing, reveal, AND."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.replicated import input_components, reveal_components
from tyst.mpc.shares import BShare
from tyst.ring.words import WordArray


def share_input_bool(party: Party, owner: int, values: WordArray | None) -> BShare:
    """XOR-share words held by party ``owner`` (others pass ``None``).

    Steps: as ``arithmetic.share_input`` with XOR in place of + and −.
    Source: ABY3 §2.2. Rounds: 1. Bytes: 8 per word from the owner to each other party.
    Leakage: the word count.
    """
    return BShare(*input_components(party, owner, values, xor=True))


def reveal_bool(party: Party, x: BShare, to: Collection[int]) -> WordArray | None:
    """Open boolean words to the parties in ``to`` only (others get ``None``).

    Steps: for each j in ``to``, party j+1 sends its x_{j+2} to j, who XORs it with
    x_j ^ x_{j+1}.
    Source: ABY3 §2.2 (reveal). Rounds: 1. Bytes: 8 per word per receiving party.
    Leakage: the words, to the parties in ``to`` — a declared disclosure.
    """
    return reveal_components(party, x.a, x.b, to, xor=True)


def reveal_bool_all(party: Party, x: BShare) -> WordArray:
    """Open boolean words to all three parties; see :func:`reveal_bool` (1 round, 8 bytes/word)."""
    out = reveal_bool(party, x, (0, 1, 2))
    assert out is not None
    return out


def and_(party: Party, x: BShare, y: BShare) -> BShare:
    """Bitwise AND of two boolean sharings (64 AND gates per word).

    Steps: z_i = (x_i & y_i) ^ (x_i & y_{i+1}) ^ (x_{i+1} & y_i) ^ α_i with α a fresh
    XOR zero-sharing; z_i is sent to party i−1.
    Source: Araki et al., CCS 2016, §2.2 (boolean case).
    Rounds: 1. Bytes: 8 per word (to prev).
    Leakage: none.
    """
    if len(x) != len(y):
        raise ValueError(f"and: length mismatch {len(x)} vs {len(y)}")
    z = y.a ^ y.b
    z &= x.a
    z ^= x.b & y.a
    party.randomness.xor_zero_bool(z)
    return BShare(z, party.exchange_prev(z))


def and_many(party: Party, pairs: list[tuple[BShare, BShare]]) -> list[BShare]:
    """Several independent ANDs, see :func:`and_`, batched into one message.

    Steps, source and leakage as :func:`and_`. Rounds: 1 for all pairs together.
    Bytes: 8 per word (to prev).
    """
    if not pairs:
        return []
    sizes = [len(x) for x, _ in pairs]
    z = np.concatenate([(x.a & (y.a ^ y.b)) ^ (x.b & y.a) for x, y in pairs])
    party.randomness.xor_zero_bool(z)
    zn = party.exchange_prev(z)
    out: list[BShare] = []
    start = 0
    for size in sizes:
        out.append(BShare(z[start : start + size], zn[start : start + size]))
        start += size
    return out


def or_(party: Party, x: BShare, y: BShare) -> BShare:
    """Bitwise OR = x ^ y ^ (x & y), see :func:`and_` (1 round, 8 bytes per word)."""
    return x ^ y ^ and_(party, x, y)
