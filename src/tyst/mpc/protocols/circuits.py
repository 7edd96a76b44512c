"""Boolean circuits on XOR-shared words: parallel-prefix carries, AND-trees, slice packing.

These are the building blocks of a2b, b2a, less-than and equality. All work on
whole arrays of uint64 words; every AND layer is one round.

Slice packing: deeper layers of a prefix tree use only a few bit positions per
word. ``pack_slices`` places k words side by side in one word (slice j shifted
right by j bits; the caller guarantees the useful positions of the slices do
not collide), so a layer sends n/k words instead of n. It is a bit
permutation, hence linear and local on shares.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.boolean import and_, and_many, share_input_bool
from tyst.mpc.shares import AShare, BShare, xor_public
from tyst.ring.words import ALL_ONES, U64, WordArray

WORD_BITS = 64


@cache
def positions_mask(period: int, residue: int) -> int:
    """Mask of the bit positions q with q ≡ residue (mod period)."""
    m = 0
    for q in range(residue, WORD_BITS, period):
        m |= 1 << q
    return m


@cache
def packed_mask(mask: int, k: int) -> np.uint64:
    """``mask`` as seen in a word packing k slices (slice j shifted right by j)."""
    m = 0
    for j in range(k):
        m |= mask >> j
    return U64(m)


def _fold_words(x: WordArray, k: int) -> WordArray:
    half = -(-x.shape[0] // 2)
    out = x[:half].copy()
    out[: x.shape[0] - half] |= x[half:] >> U64(k)
    return out


def _fold_stack(x: WordArray, k: int) -> WordArray:
    """:func:`_fold_words` on a (2, L) stack of both share components."""
    half = -(-x.shape[1] // 2)
    out = x[:, :half].copy()
    out[:, : x.shape[1] - half] |= x[:, half:] >> U64(k)
    return out


def _unfold_words(w: WordArray, k: int, n: int, useful: np.uint64) -> WordArray:
    return np.concatenate([w & useful, (w << U64(k)) & useful])[:n]


def fold(x: BShare, k: int) -> BShare:
    """Halve the word count: word i of the second half goes into word i, shifted right by k.

    Turns a packing of k slices into one of 2k slices (local, linear). The caller
    guarantees that the useful positions of the 2k slices do not collide.
    """
    return BShare(_fold_words(x.a, k), _fold_words(x.b, k))


def unfold(x: BShare, k: int, n: int, useful: np.uint64) -> BShare:
    """Inverse of :func:`fold` back to ``n`` words, keeping the positions in ``useful``
    (given for slice 0 of the k-slice packing)."""
    m = packed_mask(int(useful), k)
    return BShare(_unfold_words(x.a, k, n, m), _unfold_words(x.b, k, n, m))


def split_two_operands(party: Party, d: AShare, *, negate_second: bool) -> tuple[BShare, BShare]:
    """Boolean sharings of u = d_0 + d_1 and v = ±d_2, so that d = u + v (or u = v iff d = 0).

    Steps: party 0 holds d_0 and d_1 and XOR-shares u (``share_input_bool``);
    d_2 is held by parties 1 and 2 and is already a trivial XOR sharing
    (component 2), so v costs nothing.
    Source: the input-party trick of ABY3 §5.3 (a2b with one party summing two shares).
    Rounds: 1. Bytes: 8 per element from party 0 to each of parties 1 and 2.
    Leakage: none (u is shared with fresh PRG masks).
    """
    u_plain = d.a + d.b if party.index == 0 else None
    u = share_input_bool(party, 0, u_plain)
    n = len(d)
    zero = np.zeros(n, dtype=U64)
    if party.index == 0:
        v = BShare(zero, zero)
    else:
        d2 = d.b if party.index == 1 else d.a
        if negate_second:
            d2 = -d2
        v = BShare(zero, d2) if party.index == 1 else BShare(d2, zero)
    return u, v


def carry_into_msb(party: Party, u: BShare, v: BShare) -> BShare:
    """The carry into bit 63 of u + v, in bit 63 of each word (other bits zero).

    Steps: shift both operands left by one (so the tree over 64 positions yields
    the carry *into* bit 63); G = u & v (1 round), P = u ^ v; then six
    Brent–Kung levels ℓ = 1..6 combining the blocks ending at q ≡ 2^ℓ − 1 and
    q − 2^(ℓ−1): G ← G_hi ^ (P_hi & G_lo), P ← P_hi & P_lo, both ANDs in one word
    (P_hi & P_lo in the free low slot). From level 2 on, the state is *folded*
    before each level (two words into one, shifted by the slice count), so level ℓ
    works on n / 2^(ℓ−1) words: local work and traffic shrink geometrically.
    Source: Brent–Kung parallel prefix (IEEE ToC 1982), MSB extraction as in
    ABY3 §5.3; the packing is this project's.
    Rounds: 7. Bytes per element per party: 8 + 8 + 4 + 2 + 1 + 0.5 + 0.25 ≈ 24.
    Leakage: none.
    """
    sizes = [len(u)]
    first = and_(party, u, v)
    g = np.stack([first.a, first.b])  # (2, L): this party's two components side by side
    del first
    g <<= U64(1)
    p = np.stack([u.a, u.b])
    p ^= np.stack([v.a, v.b])
    p <<= U64(1)
    k = 1
    for level in range(1, 7):
        s = U64(1 << (level - 1))
        if level >= 2:
            sizes.append(g.shape[1])
            g, p = _fold_stack(g, k), _fold_stack(p, k)
            k *= 2
        hi = packed_mask(positions_mask(1 << level, (1 << level) - 1), k)
        lo = packed_mask(positions_mask(1 << level, (1 << (level - 1)) - 1), k)
        left = p & hi  # P_hi, also in the low slot: left = P_hi ^ (P_hi >> s)
        right = left >> s
        left ^= right
        np.left_shift(g, s, out=right)  # right = (G_lo in the high slot) ^ P_lo
        right &= hi
        p &= lo
        right ^= p
        w = and_(party, BShare(left[0], left[1]), BShare(right[0], right[1]))
        del left, right
        g[0] ^= w.a  # G ← (G ^ W) & hi = G_hi ^ (P_hi & G_lo)
        g[1] ^= w.b
        g &= hi
        p[0] = w.a  # P ← (W & lo) << s = P_hi & P_lo, moved to the high slot
        p[1] = w.b
        del w
        p &= lo
        p <<= s
    del p
    top = U64(1 << 63)
    while k > 1:
        k //= 2
        m = packed_mask(int(top), k)
        g = np.concatenate([g & m, (g << U64(k)) & m], axis=1)[:, : sizes.pop()]
    g &= top
    return BShare(g[0], g[1])


def all_zero(party: Party, w: BShare) -> BShare:
    """Bit 0 of each result word is 1 iff the corresponding word of ``w`` is zero.

    Steps: z = ¬w; six AND levels over blocks of 2, 4, …, 64 bits (block result at
    its top position q ≡ 2^ℓ − 1); before each AND the operands are folded two
    words into one, so level ℓ sends n / 2^ℓ words.
    Source: a balanced AND tree (folklore; cf. ABY3 §5.3 equality via bit decomposition).
    Rounds: 6. Bytes per element per party: 8·(1/2 + 1/4 + … + 1/64) < 8.
    Leakage: none.
    """
    z = xor_public(party.index, w, ALL_ONES)
    sizes = []
    k = 1
    for level in range(1, 7):
        s = 1 << (level - 1)
        hi = packed_mask(positions_mask(1 << level, (1 << level) - 1), k)
        left = z.and_public(hi)
        right = z.shift_left(s).and_public(hi)
        sizes.append(len(left))
        z = and_(party, fold(left, k), fold(right, k))
        k *= 2
    top = 1 << 63
    z = z.and_public(packed_mask(top, k))
    while k > 1:
        k //= 2
        z = unfold(z, k, sizes.pop(), U64(top))
    return z.shift_right(63)


def add_full(party: Party, u: BShare, v: BShare) -> BShare:
    """All 64 bits of u + v (mod 2^64) on boolean shares.

    Steps: G = u & v, P = u ^ v; Kogge–Stone levels s = 1, 2, …, 32:
    G ← G ^ (P & (G << s)), P ← P & (P << s) (both ANDs in one round; P skipped on
    the last level); sum = u ^ v ^ (G << 1).
    Source: Kogge–Stone (IEEE ToC 1973); ABY3 §5.3 (PPA for a2b).
    Rounds: 7. Bytes per element per party: 8 + 5·16 + 8 = 96.
    Leakage: none.
    """
    g = and_(party, u, v)
    p = u ^ v
    for level in range(6):
        s = 1 << level
        if level < 5:
            ag, ap = and_many(party, [(p, g.shift_left(s)), (p, p.shift_left(s))])
            g = g ^ ag
            p = ap
        else:
            g = g ^ and_(party, p, g.shift_left(s))
    return u ^ v ^ g.shift_left(1)
