"""Oblivious pattern matching on id/text values: ``LIKE`` with ``%``.

A value's bytes are its content lanes (UTF-8, zero-padded to 64 bytes, 8 per word
little-endian; :mod:`tyst.data.types`). A pattern is literal segments separated by
``%``: ``S_0 % S_1 % … % S_m``, the first anchored at the start unless the pattern
starts with ``%``, the last anchored at the end unless it ends with ``%``. Matching
literal byte segments is exactly matching the characters, because UTF-8 is
self-synchronising and values contain no NUL (so the padding never matches a
pattern byte and "the value ends at byte e" is "byte e is 0").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tyst.data.patterns import Pattern
from tyst.data.types import TEXT_CONTENT_LANES, TEXT_MAX_BYTES
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.circuits import all_zero
from tyst.mpc.protocols.compare import not_bit
from tyst.mpc.protocols.conversion import a2b
from tyst.mpc.shares import BShare, concat_a, concat_b, xor_public
from tyst.relational.table import SharedColumn
from tyst.ring.words import U64


class _Matcher:
    def __init__(self, party: Party, words: Sequence[BShare], n: int) -> None:
        self.party = party
        self.words = words
        self.n = n

    def diffs(self, offset: int, segment: bytes) -> list[BShare]:
        """Words that are all zero iff ``segment`` occurs at byte ``offset`` (local)."""
        out = []
        first, last = offset // 8, (offset + len(segment) - 1) // 8
        for j in range(first, last + 1):
            mask = value = 0
            for t, byte in enumerate(segment):
                position = offset + t
                if position // 8 == j:
                    shift = 8 * (position % 8)
                    mask |= 0xFF << shift
                    value |= byte << shift
            masked = self.words[j].and_public(U64(mask))
            out.append(xor_public(self.party.index, masked, U64(value)))
        return out

    def occurrences(self, requests: list[tuple[int, bytes]]) -> list[BShare]:
        """For each (offset, segment): a bit (bit 0) per row, 1 iff it occurs there.
        All requests in one batched zero test, then one batched AND tree per request."""
        diffs = [self.diffs(o, s) for o, s in requests]
        flat = [d for ds in diffs for d in ds]
        zero = all_zero(self.party, concat_b(flat))
        n = self.n
        bits: list[list[BShare]] = []
        at = 0
        for ds in diffs:
            bits.append([zero[(at + k) * n : (at + k + 1) * n] for k in range(len(ds))])
            at += len(ds)
        while any(len(b) > 1 for b in bits):  # AND the words of each request, level by level
            pairs = [(b[i], b[i + 1]) for b in bits for i in range(0, len(b) - 1, 2)]
            anded = boolean.and_many(self.party, pairs) if pairs else []
            it = iter(anded)
            bits = [
                [next(it) for _ in range(len(b) // 2)] + ([b[-1]] if len(b) % 2 else [])
                for b in bits
            ]
        return [b[0] for b in bits]


def _pack(bits: Sequence[BShare], offsets: Sequence[int], n: int) -> BShare:
    """Bit 0 of ``bits[k]`` moved to bit ``offsets[k]`` of one word per row (local)."""
    a = np.zeros(n, dtype=U64)
    b = np.zeros(n, dtype=U64)
    for bit, o in zip(bits, offsets, strict=True):
        a ^= (bit.a & U64(1)) << U64(o)
        b ^= (bit.b & U64(1)) << U64(o)
    return BShare(a, b)


def _spread_up(party: Party, x: BShare) -> BShare:
    """Bit p set iff some bit ≤ p of ``x`` is set (a prefix OR over the 64 bits; 6 rounds)."""
    for s in (1, 2, 4, 8, 16, 32):
        x = boolean.or_(party, x, x.shift_left(s))
    return x


def like(party: Party, column: SharedColumn, pattern: Pattern) -> BShare:
    """Bit 0 per row: the value matches ``pattern`` (SQL ``LIKE`` without ``_``).

    Input: an id/text column with its content lanes.
    Steps: a2b of the 8 content lanes; for every segment and every offset where it fits,
    its bytes XOR the segment under a byte mask (local), one batched zero test and AND
    tree — a word per row with bit o set iff the segment occurs at byte o (packed
    locally); an end-anchored last segment also needs byte o + len to be 0. Segment by
    segment, the positions where the next one may start are the previous matches shifted
    by its length and spread upwards (a prefix OR over the word); the value matches iff
    the last segment's word is not zero.
    Rounds: 8 (a2b) + 6 + ≤ 4 (zero tests) + 7 per segment after the first + 6.
    Bytes per row and party: ≈ 800 + 8 per (segment, offset) pair.
    Leakage: none (nothing is opened).
    Source: ABY3 §5.3 (a2b); the packed offset words are this project's.
    """
    n = len(column.lanes[0])
    start = column.ctype.key_lanes
    content = list(column.lanes[start : start + TEXT_CONTENT_LANES])
    if len(content) != TEXT_CONTENT_LANES:
        raise ValueError("LIKE needs the content lanes of the text column")
    if not pattern.segments:  # only '%': every value (a NULL is handled by the compiler)
        return _true(party, n)
    if pattern.anchored_start and pattern.anchored_end and len(pattern.segments) == 1:
        raise ValueError("a pattern without '%' is an equality (the compiler rewrites it)")
    if n == 0:
        return BShare(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))
    words_all = a2b(party, concat_a(content))
    words = [words_all[j * n : (j + 1) * n] for j in range(TEXT_CONTENT_LANES)]
    matcher = _Matcher(party, words, n)
    m = len(pattern.segments)
    requests: list[tuple[int, bytes]] = []
    layout: list[list[int]] = []  # per segment: its offsets
    for s, segment in enumerate(pattern.segments):
        if s == 0 and pattern.anchored_start:
            offsets = [0]
        else:
            offsets = list(range(TEXT_MAX_BYTES - len(segment) + 1))
        layout.append(offsets)
        requests += [(o, segment) for o in offsets]
    ends: list[tuple[int, bytes]] = []
    last = pattern.segments[-1]
    if pattern.anchored_end:  # the value ends right after the last segment: byte o+len is 0
        ends = [(o + len(last), b"\0") for o in layout[-1] if o + len(last) < TEXT_MAX_BYTES]
    found = matcher.occurrences(requests + ends)
    occ = found[: len(requests)]
    end_bits = dict(zip([o - len(last) for o, _ in ends], found[len(requests) :], strict=True))
    packed: list[BShare] = []
    at = 0
    for offsets in layout:
        packed.append(_pack(occ[at : at + len(offsets)], offsets, n))
        at += len(offsets)
    if pattern.anchored_end:
        offsets = layout[-1]
        end_word = _pack(
            [end_bits[o] if o in end_bits else _true(party, n) for o in offsets], offsets, n
        )
        packed[-1] = boolean.and_(party, packed[-1], end_word)
    reach = packed[0]
    for s in range(1, m):
        length = len(pattern.segments[s - 1])
        may_start = _spread_up(party, reach.shift_left(length))
        reach = boolean.and_(party, packed[s], may_start)
    return not_bit(party, all_zero(party, reach))


def _true(party: Party, n: int) -> BShare:
    """A public 1 in bit 0 of every row."""
    zero = BShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))
    return xor_public(party.index, zero, U64(1))
