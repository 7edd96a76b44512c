"""Oblivious pattern matching on text values: ``LIKE`` with ``%`` and ``_``.

A value's bytes are its words (:mod:`tyst.relational.strings`: UTF-8, zero-padded to 64
bytes). A pattern is segments separated by ``%``, each a sequence of pieces: literal runs
and ``_`` (:mod:`tyst.data.patterns`). Matching is a shift-and over byte positions: a
*reach* word has bit p set iff the pattern so far matches the value's bytes before p
(a character boundary), plus one bit for position 64. A literal run of k bytes moves the
reach to p + k where it occurs at p; ``_`` moves it over one character of 1–4 bytes (the
lead-byte classes, :func:`tyst.relational.strings.step_char`); ``%`` spreads it to every
later position. Matching literal bytes at character starts is matching characters
(UTF-8 is self-synchronising), and values contain no NUL, so "the value ends at byte e"
is "byte e is 0". This equals DuckDB's ``LIKE`` (case-sensitive, ``_`` one character).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tyst.data.patterns import Pattern
from tyst.data.types import TEXT_MAX_BYTES
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.circuits import all_zero
from tyst.mpc.protocols.compare import not_bit
from tyst.mpc.shares import BShare, concat_b, xor_public
from tyst.relational.strings import (
    Reach,
    Words,
    and_trees,
    classes,
    spread_public,
    spread_up,
    step_char,
)
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
        if not requests:
            return []
        diffs = [self.diffs(o, s) for o, s in requests]
        flat = [d for ds in diffs for d in ds]
        zero = all_zero(self.party, concat_b(flat))
        n = self.n
        lists = []
        at = 0
        for ds in diffs:
            lists.append([zero[(at + k) * n : (at + k + 1) * n] for k in range(len(ds))])
            at += len(ds)
        return and_trees(self.party, lists)


def _pack(bits: Sequence[BShare], offsets: Sequence[int], n: int) -> BShare:
    """Bit 0 of ``bits[k]`` moved to bit ``offsets[k]`` of one word per row (local)."""
    a = np.zeros(n, dtype=U64)
    b = np.zeros(n, dtype=U64)
    for bit, o in zip(bits, offsets, strict=True):
        a ^= (bit.a & U64(1)) << U64(o)
        b ^= (bit.b & U64(1)) << U64(o)
    return BShare(a, b)


def like(party: Party, words: Words, pattern: Pattern) -> BShare:
    """Bit 0 per row: the value matches ``pattern`` (SQL ``LIKE``, case-sensitive).

    Input: the words of a text value (:func:`tyst.relational.strings.words_of`).
    Steps: the public set of positions each piece may start at (from the pattern alone);
    every literal run is tested at those offsets in one batched zero test and AND tree
    (local byte masks, packed into one word per run); with ``_``, the lead-byte classes
    (3 rounds). Piece by piece the reach is ANDed with the run's word and shifted by its
    length (1 round), or stepped over one character (1 round); ``%`` is a prefix OR
    (6 rounds). The value matches iff the final reach (at the end: ANDed with the zero
    bytes) is not zero.
    Rounds: 6 + ≤ 4 (zero tests) + 3 (with ``_``) + 1 per piece after the first segment's
    + 6 per ``%`` between segments + 6 (the final test); after the a2b of the words.
    Bytes per row and party: ≈ 8 per (run, offset) pair + 32 per piece + 48 per ``%``.
    Leakage: none (nothing is opened).
    Source: shift-and, Baeza-Yates & Gonnet, CACM 1992; ABY3 §5.3 (a2b).
    """
    n = len(words[0])
    if not pattern.segments:  # only '%': every value (a NULL is handled by the compiler)
        return _true(party, n)
    if pattern.is_literal:
        raise ValueError("a pattern without '%' and '_' is an equality (the compiler rewrites it)")
    if n == 0:
        return BShare(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))
    # pass 1 (public): where each literal run may occur, and the requests to test
    requests: list[tuple[int, bytes]] = []
    offsets_of: list[list[int]] = []
    possible = {0}
    for s, segment in enumerate(pattern.segments):
        if s > 0 or not pattern.anchored_start:
            low = min(possible, default=TEXT_MAX_BYTES)
            possible = set(range(low, TEXT_MAX_BYTES))
        for piece in segment:
            if piece is None:
                possible = {p + c for p in possible for c in (1, 2, 3, 4) if p + c <= 64}
                continue
            offsets = sorted(p for p in possible if p + len(piece) <= TEXT_MAX_BYTES)
            offsets_of.append(offsets)
            requests += [(o, piece) for o in offsets]
            possible = {o + len(piece) for o in offsets}
    wildcard = any(piece is None for segment in pattern.segments for piece in segment)
    ends = sorted(p for p in possible if p < TEXT_MAX_BYTES) if pattern.anchored_end else []
    zero_requests = [] if wildcard else [(p, b"\0") for p in ends]
    found = _Matcher(party, words, n).occurrences(requests + zero_requests)
    runs: list[BShare] = []
    at = 0
    for offsets in offsets_of:
        runs.append(_pack(found[at : at + len(offsets)], offsets, n))
        at += len(offsets)
    char_classes = classes(party, words) if wildcard else None
    zero = char_classes.zero if char_classes else _pack(found[len(requests) :], ends, n)
    # pass 2: the shift-and
    reach: Reach = 1
    end: BShare | None = None  # bit 0: the pattern so far used up all 64 bytes
    run = iter(runs)
    for s, segment in enumerate(pattern.segments):
        if s > 0 or not pattern.anchored_start:
            reach = spread_public(reach) if isinstance(reach, int) else spread_up(party, reach)
        for piece in segment:
            if piece is None:
                assert char_classes is not None
                reach, end = step_char(party, reach, char_classes.lead)
                continue
            occurs = next(run)
            hits = (
                occurs.and_public(U64(reach))
                if isinstance(reach, int)
                else boolean.and_(party, reach, occurs)
            )
            k = len(piece)
            reach = hits.shift_left(k) if k < 64 else hits.and_public(U64(0))
            end = hits.shift_right(64 - k).and_public(U64(1))
    assert isinstance(reach, BShare)  # every segment has a piece, each reads the value
    if pattern.anchored_end:
        reach = boolean.and_(party, reach, zero)
    if end is not None:  # disjoint from the reach: its bits are positions below 64
        reach = reach ^ end
    return not_bit(party, all_zero(party, reach))


def _true(party: Party, n: int) -> BShare:
    """A public 1 in bit 0 of every row."""
    zero = BShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))
    return xor_public(party.index, zero, U64(1))
