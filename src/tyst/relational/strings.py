"""Oblivious text functions on the UTF-8 bytes of text values: ``SUBSTRING``/``LEFT``,
``LOWER``/``UPPER``, ``LENGTH`` and ``||``, exactly as DuckDB (characters, not bytes).

Representations (per row; every function works on all rows, valid or not):

- *words*: the 64 bytes of a value as 8 XOR-shared words, word j holding bytes 8j … 8j+7
  little-endian (the content lanes of :mod:`tyst.data.types` after a2b); bytes past the
  value are 0, and no value contains NUL, so the zero bytes are exactly a suffix.
- *position words*: one XOR-shared word per row, bit p standing for byte p.
- computed text (:data:`tyst.data.types.DERIVED_TEXT`): 10 arithmetic lanes of 7 bytes,
  big-endian; :func:`as_derived` and :func:`derived_column` convert.

Characters are found from the lead bytes of UTF-8 (``0xxxxxxx``: 1 byte, ``110xxxxx``: 2,
``1110xxxx``: 3, ``11110xxx``: 4; :func:`classes`, 3 rounds). Stepping over one character
from every position at once (:func:`step_char`) is one round: the reach word ANDed with the
four lead classes, each shifted by its length. Inputs are valid UTF-8 (the owners' clients
encode Python strings), which the functions rely on.

Leakage: none (nothing is opened). Sources: ABY3 §5.3 (a2b, b2a); bit-parallel
position words are the shift-and idea of Baeza-Yates & Gonnet (CACM 1992); the rest
(lead classes, one-hot shifts, case circuits) is this project's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tyst.data.types import (
    DERIVED_TEXT,
    DERIVED_TEXT_BYTES,
    DERIVED_TEXT_LANES,
    TEXT_CONTENT_LANES,
    TEXT_MAX_BYTES,
)
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.conversion import a2b, b2a, bit_to_arith
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_b, xor_public
from tyst.relational.table import SharedColumn
from tyst.ring.words import U64, WordArray

WORDS = TEXT_CONTENT_LANES
ONES = 0x0101010101010101
"""Bit 0 of every byte of a word."""
ALL = (1 << 64) - 1

Words = list[BShare]


# ------------------------------------------------------------------ local helpers


def _local(x: BShare, fn: Callable[[WordArray], WordArray]) -> BShare:
    """An XOR-linear map (no constant term) applied to both share components (local)."""
    return BShare(fn(x.a), fn(x.b))


def zeros(n: int) -> BShare:
    """A public 0 word per row."""
    z = np.zeros(n, dtype=U64)
    return BShare(z, z.copy())


def public_words(party: Party, raw: bytes, n: int) -> Words:
    """The words of a public value (a literal), as trivial sharings."""
    padded = raw.ljust(TEXT_MAX_BYTES, b"\0")
    out = []
    for j in range(WORDS):
        w = int.from_bytes(padded[8 * j : 8 * j + 8], "little")
        out.append(public_b(party.index, np.full(n, w, dtype=U64)))
    return out


def split(x: BShare, parts: int) -> list[BShare]:
    """A stacked sharing of ``parts`` equal blocks, back into its blocks (local)."""
    n = len(x) // parts if parts else 0
    return [x[i * n : (i + 1) * n] for i in range(parts)]


def not_(party: Party, x: BShare, mask: int = ALL) -> BShare:
    """x XOR mask: NOT on the bits of ``mask`` (local)."""
    return xor_public(party.index, x, U64(mask))


def shift_bytes(words: Words, k: int) -> Words:
    """Byte p of the result is byte p − k of ``words`` (k > 0 moves bytes up; local)."""
    n = len(words[0])
    bits = 8 * k
    out = []
    for j in range(WORDS):
        acc = zeros(n)
        for i in range(WORDS):  # word i contributes to word j where the ranges overlap
            d = 64 * (j - i) - bits  # right shift of word i that lands it in word j
            if -64 < d < 64:
                acc = acc ^ (words[i].shift_right(d) if d >= 0 else words[i].shift_left(-d))
        out.append(acc)
    return out


def gather(per_byte: Words) -> BShare:
    """Bit 0 of byte t of word j (other bits zero) → bit 8j + t of one position word."""

    def fn(arrays: list[WordArray]) -> WordArray:
        out = np.zeros_like(arrays[0])
        for j, w in enumerate(arrays):
            for t in range(8):
                out |= ((w >> U64(8 * t)) & U64(1)) << U64(8 * j + t)
        return out

    return BShare(fn([w.a for w in per_byte]), fn([w.b for w in per_byte]))


def byte_mask(position: BShare) -> Words:
    """Bit p of a position word → byte p all ones (0xFF), as words (local)."""
    out = []
    for j in range(WORDS):

        def fn(x: WordArray, j: int = j) -> WordArray:
            spread = np.zeros_like(x)
            for t in range(8):
                spread |= ((x >> U64(8 * j + t)) & U64(1)) << U64(8 * t)
            return spread * U64(0xFF)  # bits 8t only: the products never overlap

        out.append(_local(position, fn))
    return out


def broadcast(position: BShare, p: int) -> BShare:
    """Bit p of ``position`` copied to all 64 bits (local)."""
    return _local(position, lambda x: (U64(0) - ((x >> U64(p)) & U64(1))).astype(U64))


def spread_up(party: Party, x: BShare) -> BShare:
    """Bit p set iff some bit ≤ p of ``x`` is set (a prefix OR over 64 bits; 6 rounds)."""
    for s in (1, 2, 4, 8, 16, 32):
        x = boolean.or_(party, x, x.shift_left(s))
    return x


def spread_public(x: int) -> int:
    """:func:`spread_up` of a public word."""
    return 0 if x == 0 else ALL ^ ((x & -x) - 1)


def and_trees(party: Party, lists: Sequence[Sequence[BShare]]) -> list[BShare]:
    """The AND of each list, all lists together level by level (⌈log2 longest⌉ rounds)."""
    bits = [list(b) for b in lists]
    while any(len(b) > 1 for b in bits):
        pairs = [(b[i], b[i + 1]) for b in bits for i in range(0, len(b) - 1, 2)]
        it = iter(boolean.and_many(party, pairs))
        bits = [
            [next(it) for _ in range(len(b) // 2)] + ([b[-1]] if len(b) % 2 else []) for b in bits
        ]
    return [b[0] for b in bits]


class Planes:
    """The bit planes of stacked words: ``bit(k)`` has bit k of every byte at its bit 0."""

    def __init__(self, party: Party, stacked: BShare) -> None:
        self.party = party
        self.stacked = stacked

    def bit(self, k: int, value: int = 1) -> BShare:
        """Bit k of every byte (``value`` 0: its negation), at bit 0 of the byte (local)."""
        plane = self.stacked.shift_right(k).and_public(U64(ONES))
        return plane if value else not_(self.party, plane, ONES)

    def term(self, byte_bits: dict[int, int]) -> list[BShare]:
        """The literals of one product: bit k of the byte equals ``byte_bits[k]``."""
        return [self.bit(k, v) for k, v in sorted(byte_bits.items())]

    def equals(self, value: int) -> list[BShare]:
        """The literals of ``byte == value``."""
        return self.term({k: (value >> k) & 1 for k in range(8)})


def _const(flag: BShare, c: int) -> BShare:
    """Flags at bit 0 of bytes times the byte constant ``c`` (XOR of shifted copies; local)."""
    out: BShare | None = None
    for k in range(8):
        if (c >> k) & 1:
            part = flag.shift_left(k)
            out = part if out is None else out ^ part
    assert out is not None
    return out


# ------------------------------------------------------------------ conversions


def words_of(party: Party, column: SharedColumn) -> Words:
    """The words of a stored id/text column (its content lanes) or of computed text.

    Rounds: 8 (one a2b of 8 lanes, or of 10 for computed text). Bytes per row and
    party: ≈ 100 per lane converted.
    """
    n = len(column)
    if column.ctype.derived:
        lanes = list(column.lanes)
    else:
        start = column.ctype.key_lanes
        lanes = list(column.lanes[start : start + TEXT_CONTENT_LANES])
        if len(lanes) != TEXT_CONTENT_LANES:
            raise ValueError("a text function needs the content lanes of the text column")
    if n == 0:
        return [zeros(0) for _ in range(WORDS)]
    converted = split(a2b(party, concat_a(lanes)), len(lanes))
    return _from_derived_words(converted) if column.ctype.derived else converted


def _to_derived_words(words: Words) -> list[BShare]:
    """Words → the 10 computed-text words (7 bytes big-endian each; local)."""
    n = len(words[0])
    lanes = []
    for i in range(DERIVED_TEXT_LANES):
        lane = zeros(n)
        for t in range(DERIVED_TEXT_BYTES):
            b = DERIVED_TEXT_BYTES * i + t
            if b >= TEXT_MAX_BYTES:
                break
            byte = words[b // 8].shift_right(8 * (b % 8)).and_public(U64(0xFF))
            lane = lane ^ byte.shift_left(8 * (DERIVED_TEXT_BYTES - 1 - t))
        lanes.append(lane)
    return lanes


def _from_derived_words(lanes: list[BShare]) -> Words:
    """The 10 computed-text words → words (local; inverse of :func:`_to_derived_words`)."""
    n = len(lanes[0])
    words = [zeros(n) for _ in range(WORDS)]
    for b in range(TEXT_MAX_BYTES):
        i, t = divmod(b, DERIVED_TEXT_BYTES)
        byte = lanes[i].shift_right(8 * (DERIVED_TEXT_BYTES - 1 - t)).and_public(U64(0xFF))
        words[b // 8] = words[b // 8] ^ byte.shift_left(8 * (b % 8))
    return words


def derived_column(party: Party, words: Words) -> SharedColumn:
    """Computed text from words: the local regrouping, then one b2a of 10 lanes
    (9 rounds; ≈ 130 bytes per lane, row and party)."""
    n = len(words[0])
    if n == 0:
        empty = AShare(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))
        return SharedColumn(DERIVED_TEXT, tuple(empty for _ in range(DERIVED_TEXT_LANES)))
    lanes = b2a(party, concat_b(_to_derived_words(words)))
    return SharedColumn(DERIVED_TEXT, tuple(split_a(lanes, DERIVED_TEXT_LANES)))


def split_a(x: AShare, parts: int) -> list[AShare]:
    """A stacked arithmetic sharing back into its ``parts`` blocks (local)."""
    n = len(x) // parts
    return [x[i * n : (i + 1) * n] for i in range(parts)]


def as_derived(party: Party, column: SharedColumn) -> SharedColumn:
    """A stored id/text column in the computed-text form (its sort lanes: UTF-8 byte order;
    17 rounds); computed text as it is."""
    if column.ctype.derived:
        return column
    return derived_column(party, words_of(party, column))


# ------------------------------------------------------------------ characters


@dataclass(frozen=True)
class Classes:
    """Position words of a value: ``lead[c − 1]`` has bit p iff a c-byte character starts at
    byte p (c = 1 … 4); ``zero`` has bit p iff byte p is 0 (p ≥ the length in bytes)."""

    lead: tuple[BShare, BShare, BShare, BShare]
    zero: BShare

    @property
    def starts(self) -> BShare:
        """Bit p iff a character starts at byte p (the classes are disjoint: XOR is OR)."""
        a, b, c, d = self.lead
        return a ^ b ^ c ^ d


def classes(party: Party, words: Words) -> Classes:
    """The lead classes and zero bytes of every position (3 rounds; 15 ANDs per word).

    ``zero`` = ¬b7 ∧ … ∧ ¬b0; 1-byte = ¬b7 ∧ ¬zero; 2-byte = b7 b6 ¬b5;
    3-byte = b7 b6 b5 ¬b4; 4-byte = b7 b6 b5 b4 (valid UTF-8 has no other lead bytes).
    """
    planes = Planes(party, concat_b(words))
    terms = [
        planes.equals(0),
        planes.term({7: 1, 6: 1, 5: 0}),
        planes.term({7: 1, 6: 1, 5: 1, 4: 0}),
        planes.term({7: 1, 6: 1, 5: 1, 4: 1}),
    ]
    zero, two, three, four = and_trees(party, terms)
    one = planes.bit(7, 0) ^ zero
    pos = [gather(split(x, WORDS)) for x in (one, two, three, four, zero)]
    return Classes((pos[0], pos[1], pos[2], pos[3]), pos[4])


def zero_positions(party: Party, words: Words) -> BShare:
    """The ``zero`` position word alone (3 rounds; 7 ANDs per word)."""
    planes = Planes(party, concat_b(words))
    (zero,) = and_trees(party, [planes.equals(0)])
    return gather(split(zero, WORDS))


Reach = BShare | int
"""A position word, secret or public (a public word needs no AND)."""


def step_char(party: Party, reach: Reach, lead: Sequence[BShare]) -> tuple[BShare, BShare]:
    """From every reached character start, the start of the next character.

    Returns the new position word and a bit (bit 0) for position 64 (the value's 64
    bytes used up). Rounds: 1 (0 for a public ``reach``); 4 ANDs per row.
    """
    if isinstance(reach, int):
        hits = [c.and_public(U64(reach)) for c in lead]
    else:
        hits = boolean.and_many(party, [(reach, c) for c in lead])
    moved = hits[0].shift_left(1) ^ hits[1].shift_left(2)
    moved = moved ^ hits[2].shift_left(3) ^ hits[3].shift_left(4)
    end = hits[0].shift_right(63) ^ hits[1].shift_right(62)
    end = end ^ hits[2].shift_right(61) ^ hits[3].shift_right(60)
    return moved, end.and_public(U64(1))


def _and(party: Party, x: Reach, y: Reach) -> Reach:
    if isinstance(x, int) and isinstance(y, int):
        return x & y
    if isinstance(x, int):
        assert isinstance(y, BShare)
        return y.and_public(U64(x))
    if isinstance(y, int):
        return x.and_public(U64(y))
    return boolean.and_(party, x, y)


def _masked(party: Party, words: Words, keep: Reach) -> Words:
    """The bytes at the positions of ``keep`` (1 round for a secret ``keep``)."""
    if isinstance(keep, int):
        masks = [(keep >> (8 * j)) & 0xFF for j in range(WORDS)]
        spread = [sum(0xFF << (8 * t) for t in range(8) if (m >> t) & 1) for m in masks]
        return [w.and_public(U64(s)) for w, s in zip(words, spread, strict=True)]
    return boolean.and_many(party, list(zip(words, byte_mask(keep), strict=True)))


# ------------------------------------------------------------------ functions


def substring(party: Party, words: Words, start: int, length: int | None) -> Words:
    """``SUBSTRING(x, start, length)``: characters start … start + length − 1 (1-based;
    ``length`` None: to the end), as DuckDB for start ≥ 1, length ≥ 0.

    Steps: the lead classes; from byte 0, step over start − 1 characters (the one-hot
    position a of the first kept character, or 0 if the value is shorter), then over
    length more (position b); keep the bytes in [a, b) (two prefix ORs), and for start > 1
    move them down by a: the XOR over every possible a (start − 1 … 4(start − 1)) of the
    bytes shifted by a AND bit a broadcast.
    Rounds: 3 + (start + length − 2) + 6 + 1 (+ 1 for start > 1), after the a2b.
    Bytes per row and party: ≈ 8·(12 + 4 per step + 48 + 8 + 8 per possible a).
    """
    if start < 1 or (length is not None and length < 0):
        raise ValueError("SUBSTRING needs start ≥ 1 and length ≥ 0")
    n = len(words[0])
    skip = start - 1
    if skip >= TEXT_MAX_BYTES or length == 0 or n == 0:
        return [zeros(n) for _ in range(WORDS)]
    lead = classes(party, words).lead
    reach: Reach = 1
    for _ in range(skip):
        reach, _ = step_char(party, reach, lead)
    first = reach
    last: Reach | None = None
    if length is not None and skip + length < TEXT_MAX_BYTES:
        for _ in range(length):
            reach, _ = step_char(party, reach, lead)
        last = reach
    keep: Reach
    if last is None:
        keep = spread_public(first) if isinstance(first, int) else spread_up(party, first)
    elif isinstance(first, int):
        assert isinstance(last, BShare)
        keep = not_(party, spread_up(party, last)).and_public(U64(spread_public(first)))
    else:
        assert isinstance(last, BShare)
        both = split(spread_up(party, concat_b([first, last])), 2)
        keep = boolean.and_(party, both[0], not_(party, both[1]))
    kept = _masked(party, words, keep)
    if skip == 0:
        return kept
    assert isinstance(first, BShare)
    offsets = range(skip, min(4 * skip, TEXT_MAX_BYTES - 1) + 1)
    limit = TEXT_MAX_BYTES if length is None else min(TEXT_MAX_BYTES, 4 * length)
    pairs: list[tuple[BShare, BShare]] = []
    targets: list[int] = []
    for a in offsets:  # the result's bytes are kept bytes a, a + 1, …: at most `limit`
        bit = broadcast(first, a)
        shifted = shift_bytes(kept, -a)
        useful = range(-(-min(TEXT_MAX_BYTES - a, limit) // 8))
        pairs += [(bit, shifted[j]) for j in useful]
        targets += list(useful)
    out = [zeros(n) for _ in range(WORDS)]
    for j, part in zip(targets, boolean.and_many(party, pairs), strict=True):
        out[j] = out[j] ^ part
    return out


def char_length(party: Party, words: Words) -> AShare:
    """``LENGTH(x)``: the number of characters (lead bytes), as an arithmetic int.

    Steps: the lead classes; each of the 64 start bits injected into Z_2^64 (one batched
    bit injection) and summed locally. Rounds: 3 + 2. Bytes per row and party:
    ≈ 100 + 64·16.
    """
    n = len(words[0])
    if n == 0:
        return AShare(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))
    starts = classes(party, words).starts
    bits = bit_to_arith(party, concat_b([starts.shift_right(p) for p in range(64)]))
    total = bits[0:n]
    for p in range(1, 64):
        total = total + bits[p * n : (p + 1) * n]
    return total


CASE_MAPPED = (
    "A–Z ↔ a–z and U+00C0–U+00DE (except ×) ↔ U+00E0–U+00FE (except ÷); UPPER also ÿ → Ÿ and µ → Μ"
)
"""The characters ``LOWER``/``UPPER`` change (documented in docs/sql.md)."""


def case_map(party: Party, words: Words, *, upper: bool) -> Words:
    """``LOWER(x)`` / ``UPPER(x)`` on the characters of :data:`CASE_MAPPED`, which is
    DuckDB's mapping on U+0000–U+00FF except UPPER('ß') (DuckDB: 'ẞ', 3 bytes); every
    other character is left as it is (DuckDB maps all of Unicode): the compiler's
    ``charsets`` pass (:mod:`tyst.sql.charsets`) admits only arguments that cannot hold them.

    Steps: per byte (bit planes of all 8 words at once), sums of disjoint products of bit
    literals: an ASCII letter of the case being mapped (010/011 then 1 … 26 in the low 5
    bits); a continuation byte 100xxxxx / 101xxxxx after 0xC3 with low bits ≠ 10111 (×, ÷)
    and ≠ 11111 (ß, ÿ); for UPPER also C3 BF → C5 B8 and C2 B5 → CE 9C. Each flag XORs a
    constant into its byte (bit 5 for a case pair) and, for the last two, into the byte
    before. Lengths never change.
    Rounds: 3 + 1. Bytes per row and party: ≈ 8·8·40.
    """
    n = len(words[0])
    if n == 0:
        return words
    planes = Planes(party, concat_b(words))
    case = 1 if upper else 0  # bit 5 of the letters being mapped
    ascii_high = {7: 0, 6: 1, 5: case}
    letters = [  # low five bits 1 … 26, as disjoint products
        {4: 0},
        {4: 0, 3: 0, 2: 0, 1: 0, 0: 0},  # minus 0 (XOR-ed out below)
        {4: 1, 3: 0},
        {4: 1, 3: 1, 2: 0, 1: 0},
        {4: 1, 3: 1, 2: 0, 1: 1, 0: 0},
    ]
    cont_high = {7: 1, 6: 0, 5: case}
    cont = [  # continuation byte with low five bits not 10111 and not 11111
        {},
        {4: 1, 2: 1, 1: 1, 0: 1},  # minus 10111 and 11111 (XOR-ed out)
    ]
    terms = [planes.term({**ascii_high, **t}) for t in letters]
    terms += [planes.term({**cont_high, **t}) for t in cont]
    terms.append(planes.equals(0xC3))
    if upper:
        terms += [planes.equals(0xBF), planes.equals(0xB5), planes.equals(0xC2)]
    products = and_trees(party, terms)
    ascii_flag = products[0] ^ products[1] ^ products[2] ^ products[3] ^ products[4]
    cont_flag = products[5] ^ products[6]
    after_c3 = _previous(products[7])
    pairs = [(cont_flag, after_c3)]
    if upper:
        pairs += [(products[8], after_c3), (products[9], _previous(products[10]))]
    anded = boolean.and_many(party, pairs)
    flips = _const(ascii_flag ^ anded[0], 0x20)
    if upper:
        y_umlaut, micro = anded[1], anded[2]
        flips = flips ^ _const(y_umlaut, 0xBF ^ 0xB8) ^ _const(micro, 0xB5 ^ 0x9C)
        flips = flips ^ _next(_const(y_umlaut, 0xC3 ^ 0xC5) ^ _const(micro, 0xC2 ^ 0xCE))
    return [w ^ f for w, f in zip(words, split(flips, WORDS), strict=True)]


def _previous(stacked: BShare) -> BShare:
    """A stacked per-byte flag moved up one byte: at byte p, the flag of byte p − 1."""
    return concat_b(shift_bytes(split(stacked, WORDS), 1))


def _next(stacked: BShare) -> BShare:
    """A stacked per-byte value moved down one byte: at byte p, the value of byte p + 1."""
    return concat_b(shift_bytes(split(stacked, WORDS), -1))


def concat(party: Party, parts: Sequence[tuple[Words | bytes, int]], rows: int) -> Words:
    """``a || b || …``: each part is its words (or a public literal's bytes) with the most
    bytes it can have (public, from the plan); their sum must be at most 64 (the compiler
    refuses longer ones).

    Steps, per part after a secret-length prefix: the zero bytes of the prefix (3 rounds),
    whose lowest position is its length L (one-hot: Z XOR Z << 1, local); the part's bytes
    shifted up by every possible L and ANDed with bit L broadcast (1 round; local for a
    literal part), XORed in. After a literal prefix a part is a public shift (local).
    Rounds: 4 per part after a secret-length prefix. Bytes per row and party:
    ≈ 8·(7 + 8 per possible length).
    """
    out: Words = []
    known: bytes | None = b""  # the prefix so far while it is public
    most = 0
    for value, bound in parts:
        if most + bound > TEXT_MAX_BYTES:
            raise ValueError("the concatenation may be longer than 64 bytes")
        if known is not None:
            if isinstance(value, bytes):
                known += value
            else:
                prefix = public_words(party, known, rows)
                out = [x ^ y for x, y in zip(prefix, shift_bytes(value, len(known)), strict=True)]
                known = None
            most += bound
            continue
        zero = zero_positions(party, out)
        end = zero ^ zero.shift_left(1)  # bit L only (none when the prefix has 64 bytes)
        pairs: list[tuple[BShare, BShare]] = []
        targets: list[int] = []
        for length in range(min(most, TEXT_MAX_BYTES - 1) + 1):
            bit = broadcast(end, length)
            useful = range(length // 8, min(WORDS, -(-(length + bound) // 8)))
            if isinstance(value, bytes):  # a literal: AND with public words (local)
                padded = (b"\0" * length + value).ljust(TEXT_MAX_BYTES, b"\0")
                for j in useful:
                    w = int.from_bytes(padded[8 * j : 8 * j + 8], "little")
                    out[j] = out[j] ^ bit.and_public(U64(w))
            else:
                shifted = shift_bytes(value, length)
                pairs += [(bit, shifted[j]) for j in useful]
                targets += list(useful)
        for j, part in zip(targets, boolean.and_many(party, pairs), strict=True):
            out[j] = out[j] ^ part
        most += bound
    if known is not None:
        return public_words(party, known, rows)
    return out
