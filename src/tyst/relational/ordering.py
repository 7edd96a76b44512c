"""Oblivious ``ORDER BY … [LIMIT n]``.

Contract: :func:`order_limit` returns the table's rows ordered valid rows
first, then by the keys (lexicographically, per key ascending or descending;
ties keep the input order), cut to the first min(limit, n) rows. Keys are
ordered types (int, decimal, date, bool: signed words within ±2^62). Rows past
the number of valid rows are padding (invalid). Invalid rows never influence
the order of the valid rows, whatever their words. The output length depends
on n and the public limit only.

Steps:

1. The first key k of every invalid row is replaced by a word beyond every
   value in the sort direction: k' = E + v·(k − E) with E = 2^63 − 1
   (ascending) or −2^63 (descending) and v the validity bit injected into
   Z_2^64 (one bit injection, one multiplication). Valid rows keep k' = k, so
   k' is both the sort key and the output lane of that column; no separate
   "invalid" sort key is needed. Without keys the sort key is 1 − v.
2. One stable oblivious sort (:func:`tyst.mpc.protocols.sort.sort`) on the
   keys, carrying every lane of the non-key columns and the validity bit
   (key columns travel as the sort keys themselves); with more than 31 key lanes
   (several text keys), one stable sort per block of 31, the last block first
   (:func:`sort_wide`).
3. A public prefix of the rows (local). LIMIT 0 and n ≤ 1 need no sort.

Rounds: 3 + the sort's (c key columns). Bytes per row and party: 24 + the
sort's (c keys, L carried lanes; ≈ 700 bytes for c = 1 and few lanes at
n = 10^6, see :func:`tyst.mpc.protocols.sort.sort`).
Leakage: none beyond n (the sort opens only comparison outcomes of shuffled,
distinct composite keys).
Source: shuffle-then-sort, Hamada et al., ICISC 2012 (via
:func:`tyst.mpc.protocols.sort.sort`); the invalid-row stand-in is this
project's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols import compare, division
from tyst.mpc.protocols.arithmetic import mul
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.division import LIMIT
from tyst.mpc.protocols.sort import MAX_WORDS, sort
from tyst.mpc.shares import AShare, BShare, add_public, concat_a, public_a
from tyst.relational.strings import as_derived
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

LAST_ASCENDING = (1 << 63) - 1
"""The first key of invalid rows in an ascending sort (int64 max, viewed as a word)."""
LAST_DESCENDING = 1 << 63
"""The first key of invalid rows in a descending sort (int64 min, viewed as a word)."""


def order_limit(
    party: Party, table: SharedTable, keys: Sequence[tuple[str, bool]], limit: int | None
) -> SharedTable:
    """The rows of ``table`` sorted by ``keys`` = [(column, descending)], first ``limit`` kept.

    Input: a table; keys naming ordered (single-lane) columns, each with its
    direction (a column may appear more than once; later uses never change
    the order); ``limit`` ≥ 0 or None (all rows).
    Output: min(limit, n) rows (n without a limit) with all columns: the valid
    rows first, ordered lexicographically by the keys, ties in input order;
    then invalid padding rows. The lanes of a key column on invalid rows are
    arbitrary.
    Steps: see the module contract.
    Rounds: 3 + sort(n, c). Bytes per row and party: 24 + sort(n, c, lanes).
    Leakage: none beyond n and the public limit.
    Source: see the module contract.
    """
    if limit is not None and limit < 0:
        raise ValueError("LIMIT must be zero or positive")
    for name, _ in keys:
        ctype = table.column(name).ctype
        if not ctype.is_ordered:
            raise ValueError(f"ordering on a {ctype} column {name!r}")
    n = len(table)
    keep = n if limit is None else min(limit, n)
    if n <= 1 or keep == 0:
        return table.take(slice(0, keep))
    p = party
    valid = bit_to_arith(p, table.valid)
    direction = dict(reversed(keys))  # the first use of a column decides; later uses are ties
    names = list(dict.fromkeys(name for name, _ in keys))
    sort_keys = [table.column(name).lanes[0] for name in names]
    if names:
        last = LAST_DESCENDING if direction[names[0]] else LAST_ASCENDING
        stand_in = public_a(p.index, np.full(n, last, dtype=U64))
        sort_keys[0] = stand_in + mul(p, valid, sort_keys[0] - stand_in)
    else:
        sort_keys = [add_public(p.index, -valid, 1)]
    descending = [direction[name] for name in names] or [False]
    others = [c for c in table.columns if c not in direction]
    payload: list[AShare | BShare] = [lane for c in others for lane in table.column(c).lanes]
    payload.append(table.valid)
    sorted_keys, moved = sort_wide(p, sort_keys, payload, descending)
    out_valid = moved.pop()
    assert isinstance(out_valid, BShare)
    lanes = [x for x in moved if isinstance(x, AShare)]
    columns: dict[str, SharedColumn] = {}
    at = 0
    for c, column in table.columns.items():
        if c in direction:
            columns[c] = SharedColumn(column.ctype, (sorted_keys[names.index(c)],))
        else:
            columns[c] = SharedColumn(column.ctype, tuple(lanes[at : at + column.ctype.lanes]))
            at += column.ctype.lanes
    return SharedTable(columns, out_valid, table.name).take(slice(0, keep))


def fraction_sort_lanes(
    party: Party, total: AShare, count: AShare, top: int, count_max: int, nullable: bool
) -> tuple[AShare, ...]:
    """Sort keys of an exact fraction total / count (an AVG): integer lanes whose
    lexicographic order is the order of the fractions, equal fractions giving equal keys.

    Input: secret total with |total / count| ≤ ``top`` and |total| ≤ 2^62 − 1, secret count
    in [1, ``count_max``] (in [0, ``count_max``] if ``nullable``: 0 is a NULL) on the rows
    whose order is used (other rows: arbitrary words).
    Output: if ``nullable``, first the NULL indicator [count = 0] (and the other lanes 0 on
    those rows, so NULLs tie); then (s·q, s·f) with s the sign of total,
    q = ⌊|total| / count⌋, r its remainder and f = ⌊r·2^t / count⌋, 2^t ≥ count_max². Two
    different fractions differ by at least 1 / count_max², so their truncations at t bits
    differ; s applied to both parts keeps the order of negative values (a lexicographic pair
    ordered like the signed value).
    Steps: the NULL indicator (a comparison), the sign (a comparison), |total| (one
    multiplication), restoring division with k = bit length of ``top`` steps, t binary
    fraction steps (:func:`tyst.mpc.protocols.division.fraction_bits`), one multiplication of
    both parts.
    Rounds: 11·(k + t) + about 15. Bytes per row and party: ≈ 64·(k + t).
    Leakage: none (nothing is opened; k and t are public).
    Source: restoring division (Knuth, TAOCP vol. 2, §4.3.1); the two-part key is this
    project's.
    """
    p = party
    n = len(total)
    null: AShare | None = None
    if nullable:  # [count < 1]; a NULL's count becomes 1 (and its sign 0)
        null = bit_to_arith(p, compare.msb(p, add_public(p.index, count, -1)))
        count = count + null
    negative = bit_to_arith(p, compare.msb(p, total))
    sign = add_public(p.index, negative.mul_public(-2), 1)  # 1 − 2·[total < 0]
    if null is not None:
        sign = sign - mul(p, sign, null)
    magnitude = mul(p, sign, total)
    bits = max(0, count_max * count_max - 1).bit_length()
    q, r = division.divide(p, magnitude, count, LIMIT, 1, count_max, quotient_max=top)
    f = division.fraction_bits(p, r, count, count_max, bits)
    both = mul(p, concat_a([sign, sign]), concat_a([q, f]))
    lanes = (both[slice(0, n)], both[slice(n, 2 * n)])
    return lanes if null is None else (null, *lanes)


SORT_KEYS = MAX_WORDS - 1
"""The most key columns one oblivious sort takes (its composite key has a tiebreak word)."""


def sort_wide(
    party: Party,
    keys: Sequence[AShare],
    payload: Sequence[AShare | BShare],
    descending: Sequence[bool],
) -> tuple[list[AShare], list[AShare | BShare]]:
    """:func:`tyst.mpc.protocols.sort.sort` for any number of key columns (several text keys
    are 10 lanes each): with more than :data:`SORT_KEYS`, stable sorts by blocks of at most
    that many keys, the least significant block first (LSD), each carrying the other keys and
    the payload; a stable sort by the leading block then keeps the order of the rest among
    its ties, which is the lexicographic order of all keys.
    Rounds and bytes: one sort per block. Leakage: that of each sort (nothing beyond n)."""
    if len(keys) <= SORT_KEYS:
        return sort(party, keys, payload, descending=descending)
    keys, rest = list(keys), list(payload)
    start = (len(keys) - 1) // SORT_KEYS * SORT_KEYS
    while True:
        stop = start + SORT_KEYS
        others = keys[:start] + keys[stop:]
        block, moved = sort(
            party, keys[start:stop], [*others, *rest], descending=descending[start:stop]
        )
        carried = [x for x in moved[: len(others)] if isinstance(x, AShare)]
        rest = moved[len(others) :]
        keys = [*carried[:start], *block, *carried[start:]]
        if start == 0:
            return keys, rest
        start -= SORT_KEYS


def text_sort_lanes(party: Party, column: SharedColumn) -> list[AShare]:
    """Sort keys of an id/text column: its UTF-8 bytes in byte order, as integer lanes.

    Input: an id/text column with its content lanes, or computed text.
    Output: the computed-text form (:data:`tyst.data.types.DERIVED_TEXT`): 10 lanes of 7
    bytes big-endian, each in [0, 2^56). Comparing the lanes lexicographically compares
    the values in UTF-8 byte order, and a value sorts right after every proper prefix of
    it (values contain no NUL, so the padding is below every byte).
    Steps: :func:`tyst.relational.strings.as_derived` (a2b of the 8 content lanes, local
    byte moves, b2a of the 10 lanes); computed text is its own sort key.
    Rounds: 8 + 9 = 17 (0 for computed text). Bytes per row and party: ≈ 96·8 + 128·10.
    Leakage: none (nothing is opened).
    Source: ABY3 §5.3 (a2b, b2a); the byte regrouping is this project's.
    """
    return list(as_derived(party, column).lanes)
