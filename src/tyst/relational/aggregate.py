"""Oblivious GROUP BY (COUNT, SUM, MIN, MAX, COUNT DISTINCT) and DISTINCT.

Contract common to both operators:

- Input: a :class:`SharedTable` with validity bits; invalid rows never
  influence a result, whatever their keys and values.
- Output length is public and data-independent: ``len(table)`` rows for a
  grouped aggregate (one valid row per group, the rest padding), one row for
  a global aggregate. The number of groups is never opened.
- Leakage: none beyond the input row count (the sort opens only comparison
  outcomes of shuffled distinct keys; nothing else is opened).

Algorithm (``group_by`` with keys):

1. One stable oblivious sort on the key lanes of the group columns
   (:func:`tyst.mpc.protocols.sort.sort`), carrying the content lanes of text
   keys, the aggregate arguments and the validity bit. With a COUNT DISTINCT,
   the distinct column's key lanes and an "invalid" flag are appended to the
   sort key, so each (group, value) run starts with its valid rows.
2. Group starts s_i = [i = 0 or key_i ≠ key_{i−1}] (one batched ``eq``); the
   group's last row (e_i = s_{i+1}) carries the group's result.
3. COUNT and SUM: prefix sums of valid·value are local on arithmetic shares;
   the prefix just before each group start is copied to every row of the group
   by a Brent–Kung copy scan (:func:`tyst.relational.join_scan.copy_forward`);
   at e_i the difference is the group's total.
4. MIN and MAX: invalid rows' values are replaced by a sentinel outside the
   value range (one multiplication), then a segmented Brent–Kung scan with
   the operator "restart at a group start, else keep the smaller (larger)"
   (:func:`segmented_extreme`) leaves each group's extreme at e_i.
5. COUNT DISTINCT: the rows that start a (group, value) run and are valid,
   summed per group as in 3.
6. Output valid = e_i ∧ count ≥ max(1, min_group_size); the number of
   suppressed groups (1 ≤ count < min_group_size) is one secret sum.

Sources: sort-based grouping on secret shares in the three-party honest-majority
setting as in Asharov et al., "Secure Statistical Analysis on Multiple Datasets:
Join and Group-By", CCS 2023, and Liagouris et al., "Secrecy" (arXiv:2102.01048);
segmented scans after Blelloch, "Prefix sums and their applications" (1990),
arranged as a Brent–Kung prefix circuit (IEEE ToC 1982).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.arithmetic import mul, mul_many
from tyst.mpc.protocols.compare import lt, not_bit
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, add_public, concat_a, concat_b, public_a, public_b
from tyst.relational.join_scan import copy_forward, segment_starts
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

AggFunc = Literal["count", "sum", "min", "max", "count_distinct"]
INT = ColumnType("int")
SENTINEL = (1 << 62) - 1
"""Stands in for invalid rows in MIN/MAX: beyond every value (|v| < 2^62)."""


@dataclass(frozen=True)
class AggSpec:
    """One aggregate: ``func`` over ``column`` (None only for COUNT(*)), output ``name``."""

    func: AggFunc
    column: str | None
    name: str


@dataclass(frozen=True)
class Grouped:
    """The result of :func:`group_by`.

    ``table``: the key columns (same names, all lanes), then one column per
    :class:`AggSpec`; ``counts``: per output row, the number of valid input
    rows of its group; ``suppressed``: one element, the number of groups with
    1 ≤ count < min_group_size (secret until the caller reveals it).
    """

    table: SharedTable
    counts: AShare
    suppressed: AShare


def _zeros(n: int) -> AShare:
    return AShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))


def _prefix(x: AShare) -> AShare:
    """Inclusive prefix sums (local)."""
    return AShare(np.cumsum(x.a, dtype=U64), np.cumsum(x.b, dtype=U64))


def segmented_extreme(
    party: Party, starts: AShare, values: Sequence[AShare], maximum: Sequence[bool]
) -> list[AShare]:
    """Row i gets the min (max, per lane) of its segment's rows up to i.

    Input: ``starts`` an arithmetic 0/1 sharing (1 where a segment begins; row
    0 always begins one); m value lanes (signed, |v| < 2^62) and one flag per
    lane saying whether it wants the maximum.
    Steps: inclusive scan with the operator (f_L, v_L) ∘ (f_R, v_R) =
    (f_L ∨ f_R, f_R ? v_R : best(v_L, v_R)) on the Brent–Kung index pattern of
    :func:`tyst.relational.join_scan.copy_forward`; per level one batched
    ``lt``, one bit injection and two multiplications.
    Rounds: ≈ 2·log2 n levels of ≈ 11 rounds. Bytes per row and party:
    ≈ 2·(m·(lt + 24) + 16). Leakage: none.
    """
    n, m = len(starts), len(values)
    if m == 0 or n <= 1:
        return [AShare(v.a.copy(), v.b.copy()) for v in values]
    va = np.stack([v.a for v in values])
    vb = np.stack([v.b for v in values])
    ta, tb = starts.a.copy(), starts.b.copy()
    want_max = np.array(maximum, dtype=bool)

    def combine(right: slice, left: slice, with_flags: bool) -> None:
        k = ta[right].shape[0]
        left_a, left_b = va[:, left].copy(), vb[:, left].copy()
        right_a, right_b = va[:, right].copy(), vb[:, right].copy()
        # take the right value when it is better: min: r < l; max: l < r
        xa = np.where(want_max[:, None], left_a, right_a).reshape(-1)
        xb = np.where(want_max[:, None], left_b, right_b).reshape(-1)
        ya = np.where(want_max[:, None], right_a, left_a).reshape(-1)
        yb = np.where(want_max[:, None], right_b, left_b).reshape(-1)
        take = bit_to_arith(party, lt(party, AShare(xa, xb), AShare(ya, yb)))
        diff = AShare((right_a - left_a).reshape(-1), (right_b - left_b).reshape(-1))
        step = mul(party, take, diff)
        best_a = left_a + step.a.reshape(m, k)
        best_b = left_b + step.b.reshape(m, k)
        flag = AShare(np.tile(ta[right], m), np.tile(tb[right], m))
        gap = AShare((right_a - best_a).reshape(-1), (right_b - best_b).reshape(-1))
        pairs = [(flag, gap)]
        if with_flags:
            pairs.append((AShare(ta[right], tb[right]), AShare(ta[left], tb[left])))
        products = mul_many(party, pairs)
        va[:, right] = best_a + products[0].a.reshape(m, k)
        vb[:, right] = best_b + products[0].b.reshape(m, k)
        if with_flags:
            both = products[1]
            ta[right] = ta[right] + ta[left] - both.a
            tb[right] = tb[right] + tb[left] - both.b

    d = 1
    while 2 * d - 1 < n:  # up-sweep
        combine(slice(2 * d - 1, n, 2 * d), slice(d - 1, n - d, 2 * d), 4 * d - 1 < n)
        d *= 2
    d = 1
    while 6 * d - 1 < n:
        d *= 2
    while d >= 1:  # down-sweep
        if 3 * d - 1 < n:
            combine(slice(3 * d - 1, n, 2 * d), slice(2 * d - 1, n - d, 2 * d), False)
        d //= 2
    return [AShare(np.ascontiguousarray(va[j]), np.ascontiguousarray(vb[j])) for j in range(m)]


def _check(table: SharedTable, keys: Sequence[str], aggs: Sequence[AggSpec]) -> str | None:
    """Validate the request; return the COUNT DISTINCT column (at most one)."""
    for k in keys:
        table.column(k)
    distinct_cols = {a.column for a in aggs if a.func == "count_distinct"}
    if len(distinct_cols) > 1:
        raise ValueError("COUNT(DISTINCT …) of more than one column in one GROUP BY")
    for a in aggs:
        if a.column is None:
            if a.func != "count":
                raise ValueError(f"{a.func} needs a column")
            continue
        ctype = table.column(a.column).ctype
        if a.func == "sum" and not ctype.is_numeric:
            raise ValueError(f"SUM of a {ctype} column")
        if a.func in ("min", "max") and not ctype.is_ordered:
            raise ValueError(f"{a.func.upper()} of a {ctype} column")
    names = [*keys, *(a.name for a in aggs)]
    if len(set(names)) != len(names):
        raise ValueError(f"output names clash: {names}")
    return next(iter(distinct_cols)) if distinct_cols else None


def _out_type(table: SharedTable, a: AggSpec) -> ColumnType:
    if a.func in ("count", "count_distinct") or a.column is None:
        return INT
    return table.column(a.column).ctype


def group_by(
    party: Party,
    table: SharedTable,
    keys: Sequence[str],
    aggs: Sequence[AggSpec],
    *,
    min_group_size: int = 0,
) -> Grouped:
    """``SELECT keys, aggs FROM table GROUP BY keys`` (see the module contract).

    With ``keys`` empty: one output row, always valid, over all valid rows
    (``counts`` may be 0; then SUM is 0 and MIN/MAX are a sentinel — the
    caller shows SQL's NULL); ``min_group_size`` is ignored.
    Rounds: sort(n, c) + 7 + ⌈log2 c⌉ (group starts) + ≈ 2·log2 n (copy scan)
    + ≈ 22·log2 n per MIN/MAX batch + 8 (thresholds). Bytes per row and party:
    the sort (see :func:`tyst.mpc.protocols.sort.sort`) + ≈ 8·(2m + 1) for the
    copy scan of m counted lanes + one ``lt`` per row for the thresholds.
    Leakage: none beyond len(table).
    """
    distinct_col = _check(table, keys, aggs)
    p = party
    n = len(table)
    grouped = bool(keys)
    ext = [a for a in aggs if a.func in ("min", "max")]
    sums = [a for a in aggs if a.func == "sum"]

    # 1. sort (grouped, or for a global COUNT DISTINCT)
    key_cols = [table.column(k) for k in keys]
    group_lanes = [lane for c in key_cols for lane in c.key]
    valid_b = table.valid
    args = {a.column: table.column(a.column).lanes[0] for a in [*ext, *sums] if a.column}
    content = [lane for c in key_cols for lane in c.lanes[c.ctype.key_lanes :]]
    distinct_lanes: list[AShare] = []
    if distinct_col is not None:
        distinct_lanes = list(table.column(distinct_col).key)
    needs_sort = n > 1 and (grouped or distinct_col is not None)
    if needs_sort:
        sort_keys = list(group_lanes)
        if distinct_col is not None:
            invalid = add_public(p.index, -bit_to_arith(p, valid_b), 1)
            sort_keys += [*distinct_lanes, invalid]
        payload: list[AShare | BShare] = [*content, *args.values(), valid_b]
        sorted_keys, sorted_payload = sort(p, sort_keys, payload)
        group_lanes = sorted_keys[: len(group_lanes)]
        if distinct_col is not None:
            distinct_lanes = sorted_keys[len(group_lanes) : len(group_lanes) + len(distinct_lanes)]
        vb_sorted = sorted_payload[-1]
        assert isinstance(vb_sorted, BShare)
        valid_b = vb_sorted
        rest = [x for x in sorted_payload[:-1] if isinstance(x, AShare)]
        content = rest[: len(content)]
        args = dict(zip(args, rest[len(content) :], strict=True))
    valid = bit_to_arith(p, valid_b)

    # 2. group starts and ends
    if grouped and n:
        starts_b = segment_starts(p, group_lanes)
        starts = bit_to_arith(p, starts_b)
        ends_b = concat_b([starts_b[1:], public_b(p.index, np.ones(1, dtype=U64))])
    else:
        starts = public_a(p.index, (np.arange(n) == 0).astype(U64))
        ends_b = public_b(p.index, (np.arange(n) == n - 1).astype(U64))

    # 3. counted lanes: COUNT, SUM, COUNT DISTINCT — prefix sums, then per-group differences
    counted: list[AShare] = [valid]
    if sums:
        products = mul_many(p, [(valid, args[a.column]) for a in sums if a.column])
        counted += products
    if distinct_col is not None:
        if n:
            run_starts = segment_starts(p, [*group_lanes, *distinct_lanes])
            first_valid = boolean.and_(p, run_starts, valid_b)
            counted.append(bit_to_arith(p, first_valid))
        else:
            counted.append(_zeros(0))
    totals = _group_totals(p, starts, counted, grouped)
    counts = totals[0]
    sum_values = dict(zip((a.name for a in sums), totals[1 : 1 + len(sums)], strict=True))
    distinct_total = totals[-1] if distinct_col is not None else None

    # 4. MIN / MAX
    ext_values: dict[str, AShare] = {}
    if ext:
        lanes = []
        for a in ext:
            assert a.column is not None
            sentinel = SENTINEL if a.func == "min" else (1 << 64) - SENTINEL
            v = args[a.column]
            lanes.append((v, public_a(p.index, np.full(n, sentinel, dtype=U64))))
        # v' = sentinel + valid·(v − sentinel)
        shifted = mul_many(p, [(valid, v - s) for v, s in lanes])
        prepared = [s + d for (_, s), d in zip(lanes, shifted, strict=True)]
        scanned = segmented_extreme(p, starts, prepared, [a.func == "max" for a in ext])
        ext_values = {
            a.name: (x if grouped else x[n - 1 :] if n else _zeros(1))
            for a, x in zip(ext, scanned, strict=True)
        }

    # 5. output validity, suppression
    if grouped:
        limit = max(1, min_group_size)
        m = len(counts)
        thresholds = concat_a([counts, counts])
        bounds = public_a(p.index, np.concatenate([np.ones(m), np.full(m, limit)]).astype(U64))
        below = lt(p, thresholds, bounds) if m else BShare(np.zeros(0, U64), np.zeros(0, U64))
        empty, small = below[:m], below[m:]
        out_valid = boolean.and_(p, ends_b, not_bit(p, small))
        if min_group_size > 1 and m:
            nonempty_small = boolean.and_(p, not_bit(p, empty), small)
            suppressed_bits = boolean.and_(p, ends_b, nonempty_small)
            suppressed = bit_to_arith(p, suppressed_bits).sum()
        else:
            suppressed = _zeros(1)
    else:
        out_valid = public_b(p.index, np.ones(1, dtype=U64))
        suppressed = _zeros(1)

    # 6. assemble
    columns: dict[str, SharedColumn] = {}
    at = 0
    key_at = 0
    for k, col in zip(keys, key_cols, strict=True):
        kl = col.ctype.key_lanes
        extra = col.ctype.lanes - kl
        lanes_k = (*group_lanes[key_at : key_at + kl], *content[at : at + extra])
        columns[k] = SharedColumn(col.ctype, tuple(lanes_k))
        key_at += kl
        at += extra
    for a in aggs:
        if a.func == "count":
            value = counts
        elif a.func == "count_distinct":
            assert distinct_total is not None
            value = distinct_total
        elif a.func == "sum":
            value = sum_values[a.name]
        else:
            value = ext_values[a.name]
        columns[a.name] = SharedColumn(_out_type(table, a), (value,))
    return Grouped(SharedTable(columns, out_valid, table.name), counts, suppressed)


def _group_totals(party: Party, starts: AShare, lanes: list[AShare], grouped: bool) -> list[AShare]:
    """Per row, the lanes' sums over its group so far (grouped) or over all rows (global, 1 row)."""
    if not grouped:
        return [x.sum() for x in lanes]
    if len(starts) == 0:
        return [_zeros(0) for _ in lanes]
    prefixes = [_prefix(x) for x in lanes]
    before = [s - x for s, x in zip(prefixes, lanes, strict=True)]
    base = copy_forward(party, starts, before)
    return [s - b for s, b in zip(prefixes, base, strict=True)]


def distinct(party: Party, table: SharedTable) -> SharedTable:
    """``SELECT DISTINCT *``: one valid row per distinct valid row, ``len(table)`` rows.

    Equality on the key lanes of every column (id/text by their key lanes).
    Steps, rounds, bytes: :func:`group_by` on all columns with no aggregates.
    Leakage: none beyond len(table).
    """
    return group_by(party, table, list(table.columns), []).table
