"""Oblivious SQL window functions: one sort, then segmented scans.

Contract:

- Input: a :class:`SharedTable` with validity bits, the partition key lanes (any lanes
  whose equality is the partition's: key lanes of id/text, the null indicator of a
  nullable key), the order lanes with their directions (ordered words: the caller turns
  text into its sort lanes and puts a nullable key's indicator first), and the calls
  (:class:`WindowFn`).
- Output: every input row (n stays n), in the order (partition, order keys), with the
  input's columns and one column per call; its validity is the input row's. Invalid rows
  never influence a valid row's result, whatever their words: they sort into partitions of
  their own (below).
- Leakage: none beyond n. The sort opens only comparison outcomes of shuffled, distinct
  composite keys (:func:`tyst.mpc.protocols.sort.sort`); nothing else is opened, and
  every row runs every step.

Steps:

1. The validity bit v becomes arithmetic (bit injection) and is packed into the last
   partition lane, k' = 2·k + v (local), as in :mod:`tyst.relational.aggregate`; without
   a partition key, v itself is the partition key. A valid row's partition then holds only
   valid rows, so no scan below needs validity masking.
2. One stable oblivious sort on (partition lanes with k', order lanes), carrying every lane
   of the table that is not itself a sort key (beyond 31 key lanes, one sort per block of 31,
   :func:`tyst.relational.ordering.sort_wide`). The output validity is bit 0 of the sorted
   k' (local).
3. Partition starts s_i (:func:`tyst.relational.join_scan.segment_starts` on the partition
   lanes) and, when a call needs peers (RANK, DENSE_RANK, a RANGE frame), peer starts q_i
   on (partition, order) lanes; one bit injection for both.
4. Running totals per partition, all in one Brent–Kung copy scan
   (:func:`tyst.relational.aggregate._segment_totals`): of 1 (ROW_NUMBER, COUNT(*)), of
   q (DENSE_RANK), of every SUM argument and of every nullable argument's "present" lane
   (COUNT(x), and whether a frame holds a value). MIN/MAX: one segmented scan
   (:func:`tyst.relational.aggregate.segmented_extreme`), a NULL read as the sentinel.
5. Frames. ``rows`` (ROWS … AND CURRENT ROW) is the running value itself; ``range``
   (SQL's default with ORDER BY) takes the value of the current row's last peer, and
   ``partition`` (no ORDER BY) of the partition's last row: one backward copy scan per
   frame kind (the lanes reversed, :func:`tyst.relational.join_scan.copy_forward` with
   the ends as flags, reversed back; ends are the next row's starts, local).
   RANK is the row number of the peer group's first row (one forward copy scan over q).
6. LAG(x, k) / LEAD(x, k): the lanes of row i ∓ k (a public shift, local), kept where that
   row is in the same partition: for k = 1 that is ¬s_i (LAG) or ¬s_{i+1} (LEAD); for k > 1
   no partition start may lie between them, [S_i − S_{i−k} = 0] for the prefix sums S of s
   (one batched equality). Elsewhere the default (or NULL): out = d + same·(src − d) per
   lane, one batched multiplication.
7. SUM/MIN/MAX of a nullable argument are NULL where their frame holds no value: one
   equality of the frame's present-count with 0 (and MIN/MAX multiplied to 0 there).

Rounds: sort(n) + 2 (injection) + 7 + ⌈log2 c⌉ per starts (c key lanes) + 2 + ≈ 2·log2 n
(totals) + ≈ 24·log2 n with MIN/MAX + ≈ 2·log2 n per frame kind and for RANK + 7 with
LAG/LEAD offsets > 1 + 1 (LAG/LEAD) + 8 (nullable results): O(log n) after the sort.
Bytes per row and party: the sort's (see :func:`tyst.mpc.protocols.sort.sort`) + the scans'
(≈ 8·(2m + 1) per copy scan over m lanes, ≈ 150 per MIN/MAX lane) + 8 per LAG/LEAD lane.

Sources: sort-then-scan window evaluation as in the segmented scans of Blelloch, "Prefix
sums and their applications" (1990), on a Brent–Kung prefix circuit (IEEE ToC 1982); the
sort is shuffle-then-sort (Hamada et al., ICISC 2012). Packing validity into the partition
key is this project's (as in :mod:`tyst.relational.aggregate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tyst.data.types import ColumnType, join_null, split_null
from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import mul_many
from tyst.mpc.protocols.compare import eq
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.shares import AShare, add_public, concat_a, concat_b, public_a
from tyst.relational.aggregate import (
    SENTINEL,
    _nullable_value,
    _pack_validity,
    _prefix,
    _segment_totals,
    segmented_extreme,
)
from tyst.relational.join_scan import copy_backward, copy_forward, low_bit, segment_starts
from tyst.relational.ordering import sort_wide
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

FUNCS = ("row_number", "rank", "dense_rank", "lag", "lead", "count", "sum", "min", "max")
FRAMES = ("partition", "range", "rows")


@dataclass(frozen=True)
class WindowFn:
    """One call: ``func`` in :data:`FUNCS` over ``column`` (None for the ranking functions
    and COUNT(*)), output ``name`` of type ``ctype``; ``frame`` in :data:`FRAMES` for
    COUNT/SUM/MIN/MAX; ``offset`` ≥ 1 and ``default`` (a column of the argument's type,
    None: NULL) for LAG/LEAD."""

    func: str
    column: str | None
    name: str
    ctype: ColumnType
    frame: str = "partition"
    offset: int = 1
    default: str | None = None


def _ones(party: Party, n: int) -> AShare:
    return public_a(party.index, np.ones(n, dtype=U64))


def _zeros(n: int) -> AShare:
    return AShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))


def _shifted(x: AShare, by: int) -> AShare:
    """Row i holds row i − ``by`` (``by`` < 0: i + |by|); rows without one hold 0 (local)."""
    n = len(x)
    k = min(abs(by), n)
    pad = _zeros(k)
    if by > 0:
        return concat_a([pad, x[: n - k]])
    return concat_a([x[k:], pad])


def _check(table: SharedTable, calls: Sequence[WindowFn]) -> None:
    names = [*table.columns, *(c.name for c in calls)]
    if len(set(names)) != len(names):
        raise ValueError(f"output names clash: {names}")
    for c in calls:
        if c.func not in FUNCS or c.frame not in FRAMES:
            raise ValueError(f"unknown window function {c.func!r} or frame {c.frame!r}")
        if c.func in ("lag", "lead", "sum", "min", "max") and c.column is None:
            raise ValueError(f"{c.func} needs a column")
        if c.func in ("lag", "lead") and c.offset < 1:
            raise ValueError("LAG/LEAD offsets start at 1")
        if c.column is None:
            continue
        ctype = table.column(c.column).ctype
        if c.func == "sum" and not ctype.is_numeric:
            raise ValueError(f"SUM of a {ctype} column")
        if c.func in ("min", "max") and not ctype.is_ordered:
            raise ValueError(f"{c.func.upper()} of a {ctype} column")
        if ctype.kind == "ratio":
            raise ValueError("a window over an AVG column")


def window(
    party: Party,
    table: SharedTable,
    partition: Sequence[AShare],
    order: Sequence[tuple[AShare, bool]],
    calls: Sequence[WindowFn],
) -> SharedTable:
    """The window functions ``calls`` over ``table`` (see the module contract).

    Input: a table; the partition key lanes and the order lanes (lane, descending), each
    of ``len(table)`` rows (the caller derives them from the table's columns); the calls.
    Output: ``len(table)`` rows sorted by (partition, order), the table's columns (all
    lanes) then one column per call; the input rows' validity.
    Steps, rounds, bytes: see the module contract. Leakage: none beyond n.
    """
    _check(table, calls)
    p = party
    n = len(table)
    if n == 0:
        empty = {
            c.name: SharedColumn(c.ctype, tuple(_zeros(0) for _ in range(c.ctype.lanes)))
            for c in calls
        }
        return SharedTable({**table.columns, **empty}, table.valid, table.name)

    # 1–2. validity packed into the partition key; one sort carrying every lane
    v = bit_to_arith(p, table.valid)
    part = [*partition[:-1], _pack_validity(partition[-1], v)] if partition else [v]
    names = list(table.columns)
    keys = [*part, *(lane for lane, _ in order)]
    # a lane that is itself a sort key (unchanged) travels once, as the key
    as_key = {id(lane): j for j, lane in enumerate(keys) if not (partition and j == len(part) - 1)}
    carried = [x for c in names for x in table.columns[c].lanes if id(x) not in as_key]
    descending = [False] * len(part) + [d for _, d in order]
    sorted_keys, moved = sort_wide(p, keys, list(carried), descending)
    rest = iter(x for x in moved if isinstance(x, AShare))
    lanes_of = {
        c: tuple(
            sorted_keys[as_key[id(x)]] if id(x) in as_key else next(rest)
            for x in table.columns[c].lanes
        )
        for c in names
    }
    s_part = sorted_keys[: len(part)]
    valid = low_bit(s_part[-1])

    # 3. partition and peer starts, injected together
    peers_needed = bool(order) and any(
        c.func in ("rank", "dense_rank")
        or (c.func in ("count", "sum", "min", "max") and c.frame == "range")
        for c in calls
    )
    bits = [segment_starts(p, s_part)]
    if peers_needed:
        bits.append(segment_starts(p, sorted_keys))
    injected = bit_to_arith(p, concat_b(bits))
    starts = injected[:n]
    peers = injected[n:] if peers_needed else starts

    def column(name: str) -> SharedColumn:
        return SharedColumn(table.columns[name].ctype, lanes_of[name])

    def present(name: str) -> AShare | None:
        col = column(name)
        _, null = split_null(col.ctype, col.lanes)
        return None if null is None else add_public(p.index, -null, 1)

    # 4. running totals (one copy scan) and running extremes (one segmented scan)
    aggregates = [c for c in calls if c.func in ("count", "sum", "min", "max")]
    nullable_args = [
        a for a in dict.fromkeys(c.column for c in aggregates) if a and present(a) is not None
    ]
    sum_args = [a for a in dict.fromkeys(c.column for c in aggregates if c.func == "sum") if a]
    running_keys: list[tuple[str, str | None]] = [("count", None)]
    running_in = [_ones(p, n)]
    if any(c.func == "dense_rank" for c in calls):
        running_keys.append(("dense_rank", None))
        running_in.append(peers)
    for a in sum_args:
        running_keys.append(("sum", a))
        running_in.append(column(a).lanes[0])
    for a in nullable_args:
        here = present(a)
        assert here is not None
        running_keys.append(("count", a))
        running_in.append(here)
    totals = _segment_totals(p, starts, running_in)
    running = dict(zip(running_keys, totals, strict=True))
    row_number = running[("count", None)]
    extremes = list(
        dict.fromkeys((c.func, c.column) for c in aggregates if c.func in ("min", "max"))
    )
    scan_in = []
    for f, arg in extremes:
        assert arg is not None
        x = column(arg).lanes[0]
        here = present(arg)
        if here is not None:  # a NULL (value lane 0) reads as the sentinel
            s_ = SENTINEL if f == "min" else -SENTINEL
            x = add_public(p.index, x - here.mul_public(s_ % (1 << 64)), s_)
        scan_in.append(x)
    for key, x in zip(
        extremes,
        segmented_extreme(p, starts, scan_in, [f == "max" for f, _ in extremes]),
        strict=True,
    ):
        running[key] = x

    def needed(c: WindowFn) -> list[tuple[str, str | None]]:
        """The running lanes a call reads: its value and (nullable argument) its count."""
        if c.func == "count":
            return [("count", c.column if c.column in nullable_args else None)]
        out = [(c.func, c.column)]
        if c.column in nullable_args:
            out.append(("count", c.column))
        return out

    # 5. frames: the value at the last peer (range) or the partition's last row
    framed: dict[tuple[str, tuple[str, str | None]], AShare] = {}
    for frame, flags in (("range", peers), ("partition", starts)):
        wanted = list(dict.fromkeys(k for c in aggregates if c.frame == frame for k in needed(c)))
        if frame == "range" and not order:
            flags = starts  # without ORDER BY every row of a partition is a peer
        ends = concat_a([flags[1:], _ones(p, 1)])
        for k, x in zip(wanted, copy_backward(p, ends, [running[k] for k in wanted]), strict=True):
            framed[(frame, k)] = x
    for c in aggregates:
        if c.frame == "rows":
            for k in needed(c):
                framed[("rows", k)] = running[k]
    rank = copy_forward(p, peers, [row_number])[0] if any(c.func == "rank" for c in calls) else None

    # 6. LAG / LEAD
    shifts = [c for c in calls if c.func in ("lag", "lead")]
    same = _same_partition(
        p, starts, [(c.offset if c.func == "lag" else -c.offset) for c in shifts]
    )
    pairs: list[tuple[AShare, AShare]] = []
    shapes: list[tuple[WindowFn, int]] = []
    bases: list[AShare] = []
    for c, keep in zip(shifts, same, strict=True):
        assert c.column is not None
        src_lanes = _in_layout(p, c.ctype, column(c.column), n, null=False)
        by = c.offset if c.func == "lag" else -c.offset
        src = [_shifted(x, by) for x in src_lanes]
        if c.default is not None:
            dflt = _in_layout(p, c.ctype, column(c.default), n, null=False)
        else:
            dflt = _in_layout(p, c.ctype, None, n, null=True)
        pairs += [(keep, s - d) for s, d in zip(src, dflt, strict=True)]
        bases += dflt
        shapes.append((c, len(src)))
    products = mul_many(p, pairs) if pairs else []

    # assemble, with NULL where a frame holds no value (7.)
    out: dict[str, SharedColumn] = {name: column(name) for name in names}
    at = 0
    shifted_of: dict[str, SharedColumn] = {}
    for c, width in shapes:
        lanes = tuple(
            b + x for b, x in zip(bases[at : at + width], products[at : at + width], strict=True)
        )
        shifted_of[c.name] = SharedColumn(c.ctype, lanes)
        at += width
    for c in calls:
        if c.func == "row_number":
            out[c.name] = SharedColumn(c.ctype, (row_number,))
        elif c.func == "rank":
            assert rank is not None
            out[c.name] = SharedColumn(c.ctype, (rank,))
        elif c.func == "dense_rank":
            out[c.name] = SharedColumn(c.ctype, (running[("dense_rank", None)],))
        elif c.func in ("lag", "lead"):
            out[c.name] = shifted_of[c.name]
        else:
            keys_ = needed(c)
            value = framed[(c.frame, keys_[0])]
            if c.ctype.nullable and c.func != "count":
                seen = framed[(c.frame, keys_[1])]
                out[c.name] = _nullable_value(p, c.ctype, value, seen, zero=c.func != "sum")
            else:
                out[c.name] = SharedColumn(c.ctype, (value,))
    return SharedTable(out, valid, table.name)


def _same_partition(party: Party, starts: AShare, offsets: Sequence[int]) -> list[AShare]:
    """Per offset d (LAG: d > 0, row i − d; LEAD: d < 0, row i + |d|): 1 where that row exists
    and lies in row i's partition, else 0 (arithmetic). |d| = 1: a shifted ¬start (local);
    |d| > 1: [no start between them] from the prefix sums S of the starts, one batched
    equality for all such offsets."""
    n = len(starts)
    total = _prefix(starts)
    out: list[AShare | None] = []
    wide: list[tuple[int, AShare]] = []
    for d in offsets:
        k = min(abs(d), n)
        if abs(d) == 1:
            nxt = starts if d > 0 else _shifted(starts, -1)
            keep = add_public(party.index, -nxt, 1)
            if d < 0:  # the last row has no next row
                keep = concat_a([keep[: n - 1], _zeros(1)])
            out.append(keep)
            continue
        if d > 0:  # starts in (i − d, i]: S_i − S_{i−d}
            between = concat_a([_zeros(k), total[k:] - total[: n - k]])
        else:  # starts in (i, i + d]: S_{i+d} − S_i
            between = concat_a([total[k:] - total[: n - k], _zeros(k)])
        wide.append((len(out), between))
        out.append(None)
    if wide:
        joined = concat_a([b for _, b in wide])
        hits = bit_to_arith(party, eq(party, joined, _zeros(len(joined))))
        for j, (slot, _) in enumerate(wide):
            d = offsets[slot]
            k = min(abs(d), n)
            keep = hits[j * n : (j + 1) * n]
            # LAG: the first k rows have no row k back; LEAD: the last k none k ahead
            edge = [_zeros(k), keep[k:]] if d > 0 else [keep[: n - k], _zeros(k)]
            out[slot] = concat_a(edge)
    return [x for x in out if x is not None]


def _in_layout(
    party: Party, ctype: ColumnType, source: SharedColumn | None, n: int, *, null: bool
) -> list[AShare]:
    """The lanes of ``source`` in the layout of ``ctype`` (its type, made nullable if
    ``ctype`` is); ``source`` None: NULL (value lanes 0, indicator 1)."""
    if source is None:
        base = [_zeros(n) for _ in range(ctype.base.lanes)]
        indicator = _ones(party, n) if null else _zeros(n)
        return join_null(ctype, base, indicator)
    if not ctype.nullable:  # neither is the source
        return list(source.lanes[: ctype.lanes])
    values, null_of = split_null(source.ctype, source.lanes)
    values = values[: ctype.base.lanes]  # a key-only target keeps the key lanes (a prefix)
    return join_null(ctype, values, null_of if null_of is not None else _zeros(n))
