"""Arithmetic protocols over Z_2^64: input sharing, reveal, multiplication, dot, truncation."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.replicated import input_components, reveal_components
from tyst.mpc.shares import AShare
from tyst.ring.words import U64, WordArray


def share_input(party: Party, owner: int, values: WordArray | None) -> AShare:
    """Secret-share ``values`` held by party ``owner`` (other parties pass ``None``).

    Steps (owner p): s_p = F(k_p) and s_{p+1} = F(k_{p+1}) from the PRGs p shares
    with p-1 and p+1; s_{p+2} = x − s_p − s_{p+1} is sent to p+1 and p+2. Party p+1
    derives s_{p+1} itself, party p+2 derives s_p.
    Source: ABY3 (Mohassel–Rindal, CCS 2018) §2.2, sharing with PRG-derived shares.
    Rounds: 1. Bytes: 8 per element from the owner to each of the two others.
    Leakage: the element count n (from the message length). Each receiver sees
    s_{p+2}, masked by a PRG output it does not know.
    """
    return AShare(*input_components(party, owner, values, xor=False))


def reveal(party: Party, x: AShare, to: Collection[int]) -> WordArray | None:
    """Open ``x`` to the parties in ``to`` only; the others get ``None``.

    Steps: for each j in ``to``, party j+1 sends its x_{j+2} to j, who adds it to
    its x_j + x_{j+1}.
    Source: ABY3 §2.2 (reveal).
    Rounds: 1. Bytes: 8 per element per receiving party, sent by its next party.
    Leakage: the value x, to the parties in ``to`` — this is a disclosure and
    must be declared by the caller.
    """
    return reveal_components(party, x.a, x.b, to, xor=False)


def reveal_all(party: Party, x: AShare) -> WordArray:
    """Open ``x`` to all three parties (see :func:`reveal`; 1 round, 8 bytes/element)."""
    out = reveal(party, x, (0, 1, 2))
    assert out is not None
    return out


def mul(party: Party, x: AShare, y: AShare) -> AShare:
    """Elementwise product of two sharings.

    Steps: z_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i + α_i with α a fresh zero-sharing
    (re-randomisation), then z_i is sent to party i−1 so that every party again
    holds the pair (z_i, z_{i+1}).
    Source: Araki–Furukawa–Lindell–Nof–Ohara, CCS 2016, §2.2; ABY3 §3.
    Rounds: 1. Bytes: 8 per element (to prev).
    Leakage: none — the message z_{i+1} is masked by F(k_{i+2}), unknown to party i.
    """
    if len(x) != len(y):
        raise ValueError(f"mul: length mismatch {len(x)} vs {len(y)}")
    n = len(x)
    z = np.empty(n, dtype=U64)
    chunks = party.chunks(n)
    for lo, hi in chunks:  # pipelined: the peer decrypts chunk k while we compute k + 1
        zc = z[lo:hi]
        np.add(y.a[lo:hi], y.b[lo:hi], out=zc)
        zc *= x.a[lo:hi]
        zc += x.b[lo:hi] * y.a[lo:hi]
        party.randomness.add_zero_arith(zc)
        party.send_words(party.prev, zc)
    return AShare(z, party.recv_chunks(party.next, chunks))


def mul_many(party: Party, pairs: list[tuple[AShare, AShare]]) -> list[AShare]:
    """Several independent products, see :func:`mul`, batched into one message.

    Steps, source and leakage as :func:`mul`. Rounds: 1 for all pairs together.
    Bytes: 8 per element (to prev).
    """
    if not pairs:
        return []
    sizes = [len(x) for x, _ in pairs]
    z = np.concatenate([x.a * (y.a + y.b) + x.b * y.a for x, y in pairs])
    party.randomness.add_zero_arith(z)
    zn = party.exchange_prev(z)
    out: list[AShare] = []
    start = 0
    for size in sizes:
        out.append(AShare(z[start : start + size], zn[start : start + size]))
        start += size
    return out


def dot(party: Party, x: AShare, y: AShare) -> AShare:
    """Inner product Σ x_k·y_k as a one-element sharing.

    Steps: as :func:`mul`, but each party sums its local terms before adding α
    and resharing a single element.
    Source: ABY3 §5.2 (inner products at the cost of one multiplication).
    Rounds: 1. Bytes: 8 in total (independent of n).
    Leakage: none.
    """
    if len(x) != len(y):
        raise ValueError(f"dot: length mismatch {len(x)} vs {len(y)}")
    local = (x.a * (y.a + y.b) + x.b * y.a).sum(dtype=U64)
    z = np.array([local], dtype=U64) + party.randomness.zero_arith(1)
    return AShare(z, party.exchange_prev(z))


def truncate(party: Party, x: AShare, bits: int) -> AShare:
    """Probabilistic truncation: a sharing of ⌊x / 2^bits⌉ (signed), off by at most 1.

    Steps: view x = s_0 + (s_1 + s_2). Parties 0 and 2 set t_0 = s_0 >> bits
    (logical shift). Party 1 computes u = −((−(s_1 + s_2)) >> bits); parties 0
    and 1 draw t_1 = F(k_1) from their shared PRG; party 1 sends t_2 = u − t_1 to
    party 2.
    Source: SecureML (Mohamed–Zhang, S&P 2017) Thm. 1, in the 2-out-of-3 form of
    ABY3 §5.1.1 (Π_trunc1).
    Rounds: 1. Bytes: 8 per element, from party 1 to party 2 only.
    Correctness: for signed |x| < 2^l the result is x / 2^bits rounded down or
    up (±1 in the last place) except with probability ≤ 2^(l + 1 − 64).
    Leakage: none.
    """
    if not 0 < bits < 64:
        raise ValueError("truncate: bits must be in 1..63")
    shift = U64(bits)
    n = len(x)
    if party.index == 0:  # holds (s_0, s_1); draws t_1 with party 1
        t1 = party.randomness.shared_next.words(n)
        return AShare(x.a >> shift, t1)
    if party.index == 1:  # holds (s_1, s_2)
        u = -((-(x.a + x.b)) >> shift)
        t1 = party.randomness.shared_prev.words(n)
        t2 = u - t1
        party.send_words(2, t2)
        return AShare(t1, t2)
    t2 = party.recv_words(1, n)  # party 2 holds (s_2, s_0)
    return AShare(t2, x.b >> shift)
