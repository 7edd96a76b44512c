"""Oblivious GROUP BY (COUNT, SUM, MIN, MAX, COUNT DISTINCT, PERCENTILE_DISC/CONT, MODE), DISTINCT.

Contract common to both operators:

- Input: a :class:`SharedTable` with validity bits; invalid rows never
  influence a result, whatever their keys and values (even keys equal to a
  valid row's key lanes with other content lanes, or words outside the
  comparison range).
- Output length is public and data-independent: ``len(table)`` rows for a
  grouped aggregate (exactly one valid row per group that has a valid input
  row — and at least ``min_group_size`` of them — the rest padding), one row
  for a global aggregate. The number of groups is never opened.
- Leakage: none beyond the input row count (the sorts open only comparison
  outcomes of shuffled, distinct composite keys; nothing else is opened).

Algorithm (``group_by`` with keys):

1. The validity bit becomes an arithmetic 0/1 ``v`` (bit injection) and is
   packed into the last key lane of the group key: k' = 2·k + v (local). Key
   lanes are below 2^62 in absolute value, so k' is an exact signed 64-bit
   word; valid rows have odd k', invalid rows even k', whatever their words.
2. One stable oblivious sort (:func:`tyst.mpc.protocols.sort.sort`) on the
   group key lanes with k' in place of k, carrying the original k, the
   content lanes of id/text keys and the aggregate arguments. With COUNT
   DISTINCT, the key lanes of the first distinct column are appended to the
   sort key. A *segment* is now a maximal run of equal (group key, validity):
   a segment holds either only valid rows or only invalid rows, so inside a
   valid segment no validity masking is needed at all. After the sort,
   v = k' − 2·k (local) and the boolean validity bit is bit 0 of k' (local,
   :func:`tyst.relational.join_scan.low_bit`).
3. Segment starts s_i = [i = 0 or key'_i ≠ key'_{i−1}]
   (:func:`tyst.relational.join_scan.segment_starts`); the segment's last row
   (e_i = s_{i+1}, e_{n−1} = 1) carries the result of the group.
4. COUNT, SUM, COUNT DISTINCT: inclusive prefix sums of v, of the argument
   and of the distinct-run starts are local on arithmetic shares; the prefix
   just before each segment start is copied to every row of the segment by a
   Brent–Kung copy scan (:func:`tyst.relational.join_scan.copy_forward`); at
   e_i the difference is the segment's total. COUNT DISTINCT: a row starts a
   run of its value iff it differs from the previous row on (group key', value
   key lanes) — one more ``segment_starts``. Further COUNT DISTINCT columns get
   their own sort on (group key', value key lanes) without payload: the rows of
   a segment occupy the same positions in every sort whose key starts with the
   group key', so their run starts are summed with the same segment starts.
5. MIN and MAX: of id/text (never NULL, grouped): one more sort on (group key', the
   value's byte-order lanes, ascending for MAX, descending for MIN); its groups occupy
   the same positions as in the first sort, and each one's last row holds the extreme.
   Of the other types: a segmented Brent–Kung scan (:func:`segmented_extreme`, "restart
   at a segment start, else keep the smaller (larger)") leaves each segment's
   extreme at e_i. Chosen by measurement (n = 10^6, one id key, three parties
   in one process): the scan costs ≈ 1.7 s and ≈ 150 bytes per row and party
   for one MIN/MAX lane, while appending the value to the sort key (which gives
   one MIN or MAX per query) adds ≈ 4.7 s and ≈ 600 bytes, and a second sort
   ≈ 14 s and ≈ 1.2 kB.
6. Output valid = e_i ∧ v_i (the segment is valid) ∧ ¬[count_i < min_group_size];
   the suppressed groups are e_i ∧ v_i ∧ [count_i < min_group_size], summed.

7. Order statistics (PERCENTILE_DISC, PERCENTILE_CONT; MEDIAN is CONT at 1/2) of a column
   x at a public rational q = a/b: the sort key of the first such column is extended by
   (x's null indicator, x) — further columns (and any column when COUNT DISTINCT rides on
   the main sort) get their own sort on (group key', null indicator, x) without payload, the
   segments aligning as in step 4. In a valid segment x's non-NULL values then come first,
   ascending, at 0-based ranks i = count_i − 1. The segment's non-NULL count m (at its end,
   from step 4) is copied back to every row of the segment (one backward copy scan). A row
   holds the result iff L < D ≤ H for a public L < H: DISC (1-based position max(1, ⌈q·m⌉),
   DuckDB's rule) D = a·m − b·i in (0, b] (a = 0: (−b, 0], the first row); CONT (positions
   ⌊q(m−1)⌋ and ⌈q(m−1)⌉) D = a·(m−1) − b·i in (−1, b − 1], where D is the interpolation
   weight: the row contributes W = b·x_i + D·(x_{i+1} − x_i) = b times the exact result
   (x_{i+1} is the next row's value, a public shift; D = 0 where that row is not used).
   Two batched comparisons per call, injected (flag = 1 − [D ≤ L] − [H < D], the two being
   exclusive), two multiplications, and one more copy scan of the contributions (a segmented
   sum: one row per segment contributes) leave each group's result at its end. The caller
   chooses the output: W itself (q = a/10^t: the exact result with t more decimals), or W
   divided by b = 2^j and truncated toward zero (DuckDB's decimal rule): a2b, an arithmetic
   shift of the boolean words (local), b2a, plus 1 where W < 0 and its low j bits are not 0.
   MODE (the most frequent value; of several, the smallest) uses the same sort: runs of
   equal values start where the group starts or the value lanes change (one more
   ``segment_starts``, OR-ed arithmetically); a copy scan gives each row its run's running
   length L (0 for NULLs); a segmented max scan and a backward copy give every row its
   group's largest L; the first row (in value order) whose L equals it — [L = max] and a
   running count of those equal to 1, two batched equalities — contributes its value to a
   segmented sum.
   A global order statistic runs the grouped steps with validity as the only key (valid rows
   sort last): the result is at the public last row.

Global aggregate (no keys): COUNT = Σ v, SUM = ⟨v, x⟩ (one inner product),
MIN/MAX by a pairwise tree over the values with invalid rows replaced by a
sentinel, COUNT DISTINCT by one sort on the value key lanes (validity packed
into the last lane as above) and the number of valid run starts.

NULLs (SQL: aggregates ignore them). For a nullable argument with indicator u (its
value lanes are 0 where u = 1) the "present" lane 1 − u travels with the argument:
COUNT(x) sums it; SUM needs nothing (a NULL adds 0); MIN/MAX see the sentinel in place of
a NULL (x + u·s, local); COUNT DISTINCT counts only the runs whose sorted indicator is 0
(one multiplication); a global aggregate uses v·(1 − u) as the row's validity. SUM, MIN
and MAX of a nullable argument, and of any argument in a global aggregate (no rows: NULL),
are nullable: their indicator is [non-NULL count = 0] (one batched equality) and a NULL
MIN/MAX is multiplied to 0 (one multiplication).

Sources: sort-based grouping on secret shares in the three-party honest-majority
setting as in Asharov et al., "Secure Statistical Analysis on Multiple Datasets:
Join and Group-By", CCS 2023, and Liagouris et al., "Secrecy" (arXiv:2102.01048);
segmented scans after Blelloch, "Prefix sums and their applications" (1990),
arranged as a Brent–Kung prefix circuit (IEEE ToC 1982). Packing the validity
bit into the sort key and aligning the segments of several sorts are this
project's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tyst.data.types import DERIVED_TEXT, ColumnType, join_null, split_null
from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import dot, mul, mul_many
from tyst.mpc.protocols.boolean import and_
from tyst.mpc.protocols.circuits import all_zero
from tyst.mpc.protocols.compare import eq, lt, msb, not_bit
from tyst.mpc.protocols.conversion import a2b, b2a, bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, add_public, concat_a, concat_b, public_a, public_b
from tyst.relational.join_scan import (
    brent_kung,
    copy_backward,
    copy_forward,
    low_bit,
    segment_starts,
)
from tyst.relational.ordering import text_sort_lanes
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

AggFunc = Literal[
    "count", "sum", "min", "max", "count_distinct", "quantile_disc", "quantile_cont", "mode"
]  # fmt: skip
AGG_FUNCS: tuple[AggFunc, ...] = (
    "count", "sum", "min", "max", "count_distinct", "quantile_disc", "quantile_cont", "mode"
)  # fmt: skip
ORDER_FUNCS = ("quantile_disc", "quantile_cont", "mode")
"""The order statistics: one more sort key (or sort) per column, then segmented scans."""
INT = ColumnType("int")
SENTINEL = (1 << 62) - 1
"""Stands in for invalid rows in a global MIN (−SENTINEL in a MAX): |v| < 2^62 for every value."""


@dataclass(frozen=True)
class AggSpec:
    """One aggregate: ``func`` over ``column`` (None only for COUNT(*)), output ``name``.

    ``count`` of a column counts its values that are not NULL (COUNT(*) without a column).
    ``quantile_disc`` / ``quantile_cont`` of a column at the public fraction ``q`` = (a, b),
    0 ≤ a ≤ b, b ≥ 1 (step 7 of the module contract): DISC the value at 1-based position
    max(1, ⌈q·m⌉) of the m non-NULL values in order; CONT the exact interpolation E between
    positions ⌊q(m−1)⌋ and ⌈q(m−1)⌉ (0-based), delivered as b·E when ``shift`` = 0 (b must
    be 10^t: E with t more decimals) or as b·E / 2^shift truncated toward zero when b =
    2^shift (E truncated to the column's scale). ``mode`` of a column: its most frequent
    non-NULL value, the smallest of several (``q`` and ``shift`` unused).
    """

    func: AggFunc
    column: str | None
    name: str
    q: tuple[int, int] = (0, 1)
    shift: int = 0


@dataclass(frozen=True)
class Grouped:
    """The result of :func:`group_by`.

    ``table``: the key columns (same names, all lanes), then one column per
    :class:`AggSpec`; ``counts``: per output row, the number of valid input
    rows of its group (meaningful on valid rows; a global aggregate's single
    row may hold 0); ``suppressed``: one element, the number of groups with
    1 ≤ count < min_group_size (secret until the caller reveals it; 0 when
    min_group_size ≤ 1 or for a global aggregate).
    """

    table: SharedTable
    counts: AShare
    suppressed: AShare


# --------------------------------------------------------------------------- local helpers


def _zeros(n: int) -> AShare:
    """A sharing of n zeros (every component zero; local)."""
    return AShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))


def _prefix(x: AShare) -> AShare:
    """Inclusive prefix sums (local)."""
    return AShare(np.cumsum(x.a, dtype=U64), np.cumsum(x.b, dtype=U64))


def _arith(x: AShare | BShare) -> AShare:
    assert isinstance(x, AShare)
    return x


def _pack_validity(last: AShare, valid: AShare) -> AShare:
    """2·k + v (local): valid rows odd, invalid rows even."""
    return last.shift_left(1) + valid


# --------------------------------------------------------------------------- scans


def segmented_extreme(
    party: Party, starts: AShare, values: Sequence[AShare], maximum: Sequence[bool]
) -> list[AShare]:
    """Row i gets the min (max, per lane) of its segment's rows up to i.

    Input: ``starts`` an arithmetic 0/1 sharing (1 where a segment begins; row
    0 always begins one); m value lanes and one flag per lane saying whether it
    wants the maximum. Values of a segment must be signed words with |v| < 2^62
    for that segment's results to be exact; other segments' values never reach
    its rows (the operator only compares values of one segment).
    Steps: inclusive scan with the operator (f_L, v_L) ∘ (f_R, v_R) =
    (f_L ∨ f_R, f_R ? v_R : best(v_L, v_R)) on the Brent–Kung index pattern of
    :func:`tyst.relational.join_scan.copy_forward`; per level one batched
    ``lt``, one bit injection and two multiplications.
    Source: segmented scans (Blelloch 1990) on a Brent–Kung prefix circuit (1982).
    Rounds: ≈ 2·log2 n levels of 12 rounds. Bytes per row and party:
    ≈ 2·(m·(lt + 24) + 16), lt ≈ 40. Leakage: none.
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

    brent_kung(n, combine)
    return [AShare(np.ascontiguousarray(va[j]), np.ascontiguousarray(vb[j])) for j in range(m)]


def reduce_extreme(party: Party, values: Sequence[AShare], maximum: Sequence[bool]) -> list[AShare]:
    """The min (max, per lane) of all elements of each lane, as one-element sharings.

    Input: m lanes of equal length n ≥ 1, signed words with |v| < 2^62; one
    flag per lane saying whether it wants the maximum.
    Steps: a pairwise tree: per level, element j of the first half meets
    element j of the second half (an odd last element waits); one batched
    ``lt`` over all lanes, a bit injection and one multiplication select the
    better of each pair.
    Source: folklore tournament reduction (cf. ABY3 §5.4 select).
    Rounds: ⌈log2 n⌉ levels of 11 rounds. Bytes per element and party:
    ≈ m·(lt + 24) in total over all levels (n − 1 comparisons per lane).
    Leakage: none.
    """
    m = len(values)
    if m == 0:
        return []
    n = len(values[0])
    if n == 0 or any(len(v) != n for v in values):
        raise ValueError("reduce_extreme: lanes must be non-empty and of equal length")
    va = np.stack([v.a for v in values])
    vb = np.stack([v.b for v in values])
    want_max = np.array(maximum, dtype=bool)[:, None]
    while va.shape[1] > 1:
        h = va.shape[1] // 2
        left_a, left_b = va[:, :h], vb[:, :h]
        right_a, right_b = va[:, h : 2 * h], vb[:, h : 2 * h]
        xa = np.where(want_max, left_a, right_a).reshape(-1)
        xb = np.where(want_max, left_b, right_b).reshape(-1)
        ya = np.where(want_max, right_a, left_a).reshape(-1)
        yb = np.where(want_max, right_b, left_b).reshape(-1)
        take = bit_to_arith(party, lt(party, AShare(xa, xb), AShare(ya, yb)))
        diff = AShare((right_a - left_a).reshape(-1), (right_b - left_b).reshape(-1))
        step = mul(party, take, diff)
        va = np.concatenate([left_a + step.a.reshape(m, h), va[:, 2 * h :]], axis=1)
        vb = np.concatenate([left_b + step.b.reshape(m, h), vb[:, 2 * h :]], axis=1)
    return [AShare(va[j].copy(), vb[j].copy()) for j in range(m)]


def _segment_totals(party: Party, starts: AShare, lanes: list[AShare]) -> list[AShare]:
    """Per row, each lane's sum over its segment's rows up to the row.

    Steps: inclusive prefix sums (local); the exclusive prefix of every segment
    start is copied forward over its segment (:func:`copy_forward`) and
    subtracted. Rounds ≈ 2·log2 n; bytes per row ≈ 8·(2m + 1); leakage: none.
    """
    if not lanes or len(starts) == 0:
        return [AShare(x.a.copy(), x.b.copy()) for x in lanes]
    prefixes = [_prefix(x) for x in lanes]
    before = [s - x for s, x in zip(prefixes, lanes, strict=True)]
    base = copy_forward(party, starts, before)
    return [s - b for s, b in zip(prefixes, base, strict=True)]


# --------------------------------------------------------------------------- checks


def _check(table: SharedTable, keys: Sequence[str], aggs: Sequence[AggSpec]) -> list[str]:
    """Validate the request; return the COUNT DISTINCT columns (first-use order)."""
    for k in keys:
        if table.column(k).ctype.kind == "ratio":
            raise ValueError(f"grouping on (or DISTINCT over) the AVG column {k!r}")
    distinct_cols: list[str] = []
    for a in aggs:
        if a.func not in AGG_FUNCS:
            raise ValueError(f"unknown aggregate {a.func!r}")
        if a.column is None:
            if a.func != "count":
                raise ValueError(f"{a.func} needs a column")
            continue
        ctype = table.column(a.column).ctype
        if a.func == "sum" and not ctype.is_numeric:
            raise ValueError(f"SUM of a {ctype} column")
        grouped_text = ctype.is_text and not ctype.nullable and bool(keys)
        if a.func in ("min", "max") and not ctype.is_ordered and not grouped_text:
            raise ValueError(f"{a.func.upper()} of a {ctype} column")
        if a.func == "count_distinct" and ctype.kind == "ratio":
            raise ValueError("COUNT(DISTINCT …) of an AVG")
        if a.func == "count_distinct" and a.column not in distinct_cols:
            distinct_cols.append(a.column)
        if a.func in ORDER_FUNCS:
            _check_order(ctype, a)
    names = [*keys, *(a.name for a in aggs)]
    if len(set(names)) != len(names):
        raise ValueError(f"output names clash: {names}")
    return distinct_cols


def _check_order(ctype: ColumnType, a: AggSpec) -> None:
    """An order statistic's column and fraction (see :class:`AggSpec`)."""
    num, den = a.q
    if not (ctype.is_numeric or ctype.kind == "date") or not 0 <= num <= den:
        raise ValueError(f"{a.func} of a {ctype} column at {num}/{den}")
    if a.func == "quantile_cont":
        if ctype.kind == "date":
            raise ValueError("quantile_cont of a date")
        power = den == 10 ** (len(str(den)) - 1) if a.shift == 0 else den == 1 << a.shift
        if not power:
            raise ValueError(f"quantile_cont: {den} is not 10^t (shift 0) or 2^shift")


def _out_type(table: SharedTable, a: AggSpec, *, global_: bool) -> ColumnType:
    """COUNTs: int; SUM/MIN/MAX/PERCENTILE_DISC: the argument's type, nullable when the
    argument is or the aggregate is global (no rows: NULL); PERCENTILE_CONT without a
    shift: a decimal with t = log10 b more decimals."""
    if a.func in ("count", "count_distinct") or a.column is None:
        return INT
    ctype = table.column(a.column).ctype
    if a.func in ("min", "max") and ctype.is_text:
        return DERIVED_TEXT
    if a.func == "quantile_cont" and a.shift == 0:
        more = len(str(a.q[1])) - 1
        ctype = ColumnType("decimal", ctype.scale + more, nullable=ctype.nullable)
    return ctype.with_nulls() if global_ else ctype


def _present(party: Party, table: SharedTable, name: str) -> AShare | None:
    """1 − the null indicator of a nullable column (None: not nullable; local)."""
    column = table.column(name)
    _, null = split_null(column.ctype, column.lanes)
    return None if null is None else add_public(party.index, -null, 1)


def _nullable_value(
    party: Party, ctype: ColumnType, value: AShare, nonnull: AShare, *, zero: bool
) -> SharedColumn:
    """A SUM/MIN/MAX result of nullable ``ctype``: NULL where ``nonnull`` (the count of
    values seen) is 0; ``zero``: multiply the value by 1 − indicator (a MIN/MAX sentinel)."""
    n = len(value)
    null = bit_to_arith(party, eq(party, nonnull, public_a(party.index, np.zeros(n, dtype=U64))))
    if zero:
        value = mul(party, value, add_public(party.index, -null, 1))
    return SharedColumn(ctype, tuple(join_null(ctype, [value], null)))


# --------------------------------------------------------------------------- operators


def group_by(
    party: Party,
    table: SharedTable,
    keys: Sequence[str],
    aggs: Sequence[AggSpec],
    *,
    min_group_size: int = 0,
) -> Grouped:
    """``SELECT keys, aggs FROM table GROUP BY keys`` (see the module contract).

    Input: a table, the group key column names (any types but an AVG ratio;
    id/text group on their key lanes and carry their content lanes), the aggregates
    (:class:`AggSpec`: SUM of int/decimal, MIN/MAX of ordered types, COUNT,
    COUNT DISTINCT of any column's key lanes) and the public k = min_group_size.
    Output (with keys): ``len(table)`` rows, sorted by group key, one valid
    row per group with ≥ max(1, k) valid rows; key columns with all lanes, then
    one column per aggregate (COUNT/COUNT DISTINCT ``int``, SUM/MIN/MAX the
    argument's type). With ``keys`` empty: one output row, always valid, over
    all valid rows (``counts`` may be 0; then SUM and COUNT are 0 and MIN/MAX a
    sentinel (±(2^62 − 1)) that the caller shows as SQL's NULL); k is ignored.
    Steps: see the module contract.
    Rounds (grouped): 2 + sort(n, c) + 7 + ⌈log2 c⌉ (segment starts) + 2 +
    ≈ 2·log2 n (copy scan) + ≈ 24·log2 n with MIN/MAX + 1, + 9 with k > 1
    (c = the number of sort-key lanes). Bytes per row and party: the sort (see
    :func:`tyst.mpc.protocols.sort.sort`; ≈ 1.3 kB at n = 10^6 for one id key
    carrying its 8 content lanes and one argument) + 16 (bit injection) + < 8·c
    + 16 (starts) + 16 + ≈ 8·(2m + 1) for m counted lanes + ≈ 150 per MIN/MAX
    + ≈ 50 with k > 1; each further COUNT DISTINCT column adds a sort without
    payload. Global: 16 + 8 per MIN/MAX + ≈ 64 per MIN/MAX (tree), a sort per
    COUNT DISTINCT; SUM and COUNT cost 8 bytes in total.
    Leakage: none beyond len(table).
    Source: see the module contract.
    """
    distinct_cols = _check(table, keys, aggs)
    if keys:
        return _grouped(party, table, keys, aggs, distinct_cols, min_group_size)
    return _global(party, table, aggs, distinct_cols)


def _grouped(
    party: Party,
    table: SharedTable,
    keys: Sequence[str],
    aggs: Sequence[AggSpec],
    distinct_cols: list[str],
    min_group_size: int,
) -> Grouped:
    p = party
    n = len(table)
    if n == 0:
        return _empty_grouped(p, table, keys, aggs)
    key_cols = [table.column(k) for k in keys]
    group_lanes = [lane for c in key_cols for lane in c.key]
    content = [lane for c in key_cols for lane in c.lanes[c.ctype.key_lanes :]]
    texts = _text_extremes(table, aggs)
    arg_names = list(
        dict.fromkeys(
            a.column
            for a in aggs
            if a.func in ("sum", "min", "max") and a.column and (a.func, a.column) not in texts
        )
    )
    args = [table.column(c).lanes[0] for c in arg_names]
    present_in = {
        c: x
        for c in dict.fromkeys(a.column for a in aggs if a.func != "count_distinct" and a.column)
        if (x := _present(p, table, c)) is not None
    }
    null_names = list(present_in)

    # 1–2. validity packed into the last group lane; one sort carrying the rest
    valid_in = bit_to_arith(p, table.valid)
    sort_group = [*group_lanes[:-1], _pack_validity(group_lanes[-1], valid_in)]
    first_distinct = list(table.column(distinct_cols[0]).key) if distinct_cols else []
    order_cols = list(dict.fromkeys(a.column for a in aggs if a.func in ORDER_FUNCS and a.column))
    first_order = _order_key(table, order_cols[0]) if order_cols and not distinct_cols else []
    payload: list[AShare | BShare] = [
        group_lanes[-1],
        *content,
        *args,
        *(present_in[c] for c in null_names),
    ]
    sorted_keys, sorted_payload = sort(p, [*sort_group, *first_distinct, *first_order], payload)
    g = len(sort_group)
    s_group = sorted_keys[:g]
    s_distinct = sorted_keys[g : g + len(first_distinct)]
    by_value = {order_cols[0]: sorted_keys[g + len(first_distinct) :]} if first_order else {}
    moved = [_arith(x) for x in sorted_payload]
    last_key, s_content = moved[0], moved[1 : 1 + len(content)]
    after = 1 + len(content)
    s_args = dict(zip(arg_names, moved[after : after + len(arg_names)], strict=True))
    s_present = dict(zip(null_names, moved[after + len(arg_names) :], strict=True))
    valid = s_group[-1] - last_key.shift_left(1)
    valid_b = low_bit(s_group[-1])

    # 3. segment starts and ends; distinct-value run starts (of values that are not NULL)
    start_bits = [segment_starts(p, s_group)]
    null_of_runs: list[AShare | None] = []
    if distinct_cols:
        start_bits.append(segment_starts(p, [*s_group, *s_distinct]))
        null_of_runs.append(_sorted_null(table.column(distinct_cols[0]).ctype, s_distinct))
    for name in distinct_cols[1:]:
        extra, _ = sort(p, [*sort_group, *table.column(name).key])
        start_bits.append(segment_starts(p, extra))
        null_of_runs.append(_sorted_null(table.column(name).ctype, extra[g:]))
    injected = bit_to_arith(p, concat_b(start_bits))
    starts_b = start_bits[0]
    starts = injected[:n]
    runs = [injected[(j + 1) * n : (j + 2) * n] for j in range(len(distinct_cols))]
    masked = [(r, add_public(p.index, -u, 1)) for r, u in zip(runs, null_of_runs, strict=True) if u]
    products = iter(mul_many(p, masked))
    runs = [next(products) if u is not None else r for r, u in zip(runs, null_of_runs, strict=True)]
    ends_b = concat_b([starts_b[1:], public_b(p.index, np.ones(1, dtype=U64))])

    # 4. COUNT, SUM, COUNT DISTINCT (valid segments hold only valid rows: no masking)
    sum_cols = list(dict.fromkeys(a.column for a in aggs if a.func == "sum" and a.column))
    totals = _segment_totals(
        p,
        starts,
        [valid, *(s_args[c] for c in sum_cols), *runs, *(s_present[c] for c in null_names)],
    )
    counts = totals[0]
    sum_of = dict(zip(sum_cols, totals[1 : 1 + len(sum_cols)], strict=True))
    at = 1 + len(sum_cols)
    distinct_of = dict(zip(distinct_cols, totals[at : at + len(runs)], strict=True))
    nonnull_of = dict(zip(null_names, totals[at + len(runs) :], strict=True))

    # 5. MIN / MAX (a NULL is the sentinel: x + (1 − present)·s, x being 0)
    extremes = [
        e for e in dict.fromkeys((a.func, a.column) for a in aggs if a.func in ("min", "max"))
        if e not in texts
    ]  # fmt: skip
    scan_in = []
    for f, c in extremes:
        assert c is not None
        x = s_args[c]
        if c in s_present:
            s_ = SENTINEL if f == "min" else -SENTINEL
            x = add_public(p.index, x - s_present[c].mul_public(s_ % (1 << 64)), s_)
        scan_in.append(x)
    scanned = segmented_extreme(p, starts, scan_in, [f == "max" for f, _ in extremes])
    extreme_of: dict[tuple[Literal["min", "max"], str | None], AShare | tuple[AShare, ...]]
    extreme_of = dict(zip(extremes, scanned, strict=True))
    for f, c in texts:  # one sort each, aligned with the groups: the extreme ends each one
        assert c is not None
        text = text_sort_lanes(p, table.column(c))
        ordered, _ = sort(p, [*sort_group, *text], [], descending=[False] * g + [f == "min"] * 10)
        extreme_of[(f, c)] = tuple(ordered[g:])

    # 7. order statistics: each further column sorted on (group key', null, value)
    for c in order_cols:
        if c not in by_value:
            by_value[c] = sort(p, [*sort_group, *_order_key(table, c)])[0][g:]
    order_of = _order_statistics(
        p,
        starts,
        counts,
        {c: nonnull_of.get(c, counts) for c in order_cols},
        {c: lanes[-1] for c, lanes in by_value.items()},
        [a for a in aggs if a.func in ("quantile_disc", "quantile_cont")],
    )
    order_of.update(_modes(p, starts, by_value, [a for a in aggs if a.func == "mode"]))

    # 6. output validity and suppression
    ends_valid = and_(p, ends_b, valid_b)
    if min_group_size > 1:
        small = lt(p, counts, public_a(p.index, np.full(n, min_group_size, dtype=U64)))
        suppressed_b = and_(p, ends_valid, small)
        out_valid = ends_valid ^ suppressed_b
        suppressed = bit_to_arith(p, suppressed_b).sum()
    else:
        out_valid = ends_valid
        suppressed = _zeros(1)

    # assemble
    columns: dict[str, SharedColumn] = {}
    key_at = content_at = 0
    sorted_group_lanes = [*s_group[:-1], last_key]
    for name, col in zip(keys, key_cols, strict=True):
        kl, extra_lanes = col.ctype.key_lanes, col.ctype.lanes - col.ctype.key_lanes
        lanes = (
            *sorted_group_lanes[key_at : key_at + kl],
            *s_content[content_at : content_at + extra_lanes],
        )
        columns[name] = SharedColumn(col.ctype, tuple(lanes))
        key_at += kl
        content_at += extra_lanes
    columns.update(
        _aggregate_columns(
            p,
            table,
            aggs,
            counts,
            distinct_of,
            sum_of,
            extreme_of,
            nonnull_of,
            order_of,
            global_=False,
        )
    )
    return Grouped(SharedTable(columns, out_valid, table.name), counts, suppressed)


def _order_key(table: SharedTable, name: str) -> list[AShare]:
    """The sort lanes that put a column's non-NULL values first, ascending: (indicator,
    value), or the value alone when it cannot be NULL."""
    values, null = split_null(table.column(name).ctype, table.column(name).lanes)
    return [values[0]] if null is None else [null, values[0]]


def _order_statistics(
    party: Party,
    starts: AShare,
    row_number: AShare,
    nonnull: Mapping[str, AShare],
    values: Mapping[str, AShare],
    specs: Sequence[AggSpec],
) -> dict[str, AShare]:
    """Per order statistic (by output name), its result at every segment's last row
    (step 7 of the module contract; other rows hold arbitrary words).

    Input: the segment starts (arithmetic 0/1), the running row number within the segment,
    per column its running non-NULL count and its value lane sorted with NULLs last within
    each segment (all of the same segment layout). Rounds: ≈ 4·log2 n (two copy scans) + 8
    (comparisons) + 2 (injection) + 2 (products), + 18 with a truncating shift. Bytes per row
    and party: ≈ 8·(2c + 1) + 8·(2k + 1) for the scans (c columns, k calls), ≈ 2·lt + 16 +
    24 per call, ≈ 230 per truncated call (a2b, b2a, AND tree). Leakage: none.
    """
    p = party
    n = len(starts)
    if not specs or n == 0:
        return {a.name: _zeros(n) for a in specs}
    cols = list(dict.fromkeys(a.column for a in specs if a.column))
    ends = concat_a([starts[1:], public_a(p.index, np.ones(1, dtype=U64))])
    # the running count at the segment's end is its total: copied back over the segment
    totals = dict(zip(cols, copy_backward(p, ends, [nonnull[c] for c in cols]), strict=True))
    rank = add_public(p.index, row_number, -1)
    lows: list[AShare] = []
    highs: list[AShare] = []
    weights: list[AShare] = []
    for a in specs:
        assert a.column is not None
        num, den = a.q
        m = totals[a.column]
        if a.func == "quantile_disc":  # D = a·m − b·i in (0, b]; a = 0: (−b, 0]
            low, high = (0, den) if num else (-den, 0)
            d = m.mul_public(num) - rank.mul_public(den)
        else:  # D = a·(m − 1) − b·i in (−1, b − 1]
            low, high = -1, den - 1
            d = add_public(p.index, m, -1).mul_public(num) - rank.mul_public(den)
        weights.append(d)
        lows.append(add_public(p.index, d, -(low + 1)))  # D ≤ low ⟺ D − low − 1 < 0
        highs.append(add_public(p.index, -d, high))  # high < D ⟺ high − D < 0
    k = len(specs)
    signs = bit_to_arith(p, msb(p, concat_a([*lows, *highs])))
    flags = [
        add_public(p.index, -(signs[j * n : (j + 1) * n] + signs[(k + j) * n : (k + j + 1) * n]), 1)
        for j in range(k)
    ]
    xs = [values[a.column] for a in specs if a.column]
    nexts = [concat_a([x[1:], _zeros(1)]) for x in xs]
    conts = [j for j, a in enumerate(specs) if a.func == "quantile_cont"]
    firsts = mul_many(
        p,
        [(f, x) for f, x in zip(flags, xs, strict=True)] + [(flags[j], weights[j]) for j in conts],
    )
    seconds = iter(mul_many(p, [(firsts[k + i], nexts[j] - xs[j]) for i, j in enumerate(conts)]))
    contributions = []
    for j, a in enumerate(specs):
        picked = firsts[j]
        if a.func == "quantile_cont":
            picked = picked.mul_public(a.q[1]) + next(seconds)
        contributions.append(picked)
    sums = _segment_totals(p, starts, contributions)
    out = dict(zip((a.name for a in specs), sums, strict=True))
    shifted = [a for a in specs if a.func == "quantile_cont" and a.shift]
    if shifted:
        truncated = _truncate(p, [out[a.name] for a in shifted], [a.shift for a in shifted])
        out.update(zip((a.name for a in shifted), truncated, strict=True))
    return out


def _modes(
    party: Party,
    starts: AShare,
    ordered: Mapping[str, Sequence[AShare]],
    specs: Sequence[AggSpec],
) -> dict[str, AShare]:
    """Per MODE call (by output name), at every segment's last row: the most frequent
    non-NULL value of its column in the segment, the smallest of several (step 7 of the
    module contract; other rows hold arbitrary words).

    Input: the segment starts (arithmetic 0/1) and per column its order lanes ((null
    indicator,) value) sorted within each segment. Rounds: 7 + 2 + 1 (run starts) + ≈
    2·log2 n (run lengths, one copy scan per column) + 1 + ≈ 24·log2 n (segmented max) + ≈
    2·log2 n (copied back) + 9 + ≈ 2·log2 n + 10 + 1 + ≈ 2·log2 n (first hit, value): ≈
    32·log2 n + 31. Bytes per row and party: ≈ 150 + 5·8·(2c + 1) + 80 per column.
    Leakage: none."""
    p = party
    n = len(starts)
    if not specs or n == 0:
        return {a.name: _zeros(n) for a in specs}
    cols = list(dict.fromkeys(a.column for a in specs if a.column))
    k = len(cols)
    ones = public_a(p.index, np.ones(n, dtype=U64))
    ends = concat_a([starts[1:], ones[:1]])
    changes = bit_to_arith(p, concat_b([segment_starts(p, list(ordered[c])) for c in cols]))
    pieces = [changes[j * n : (j + 1) * n] for j in range(k)]
    both = mul_many(p, [(starts, d) for d in pieces])
    runs = [starts + d - sd for d, sd in zip(pieces, both, strict=True)]  # start OR change
    lengths = [_segment_totals(p, r, [ones])[0] for r in runs]
    nullable = [j for j, c in enumerate(cols) if len(ordered[c]) == 2]
    present = [add_public(p.index, -ordered[cols[j]][0], 1) for j in nullable]
    counted = mul_many(p, [(u, lengths[j]) for u, j in zip(present, nullable, strict=True)])
    for j, x in zip(nullable, counted, strict=True):
        lengths[j] = x  # a NULL run counts 0
    best = copy_backward(p, ends, segmented_extreme(p, starts, lengths, [True] * k))
    hits = bit_to_arith(p, eq(p, concat_a(lengths), concat_a(best)))
    hit = [hits[j * n : (j + 1) * n] for j in range(k)]
    seen = _segment_totals(p, starts, hit)
    once = bit_to_arith(p, eq(p, concat_a(seen), public_a(p.index, np.ones(k * n, dtype=U64))))
    first = mul_many(p, [(h, once[j * n : (j + 1) * n]) for j, h in enumerate(hit)])
    picked = mul_many(p, [(f, ordered[c][-1]) for f, c in zip(first, cols, strict=True)])
    value_of = dict(zip(cols, _segment_totals(p, starts, picked), strict=True))
    return {a.name: value_of[a.column] for a in specs if a.column}


def _truncate(party: Party, words: Sequence[AShare], shifts: Sequence[int]) -> list[AShare]:
    """Each signed word divided by 2^shift, truncated toward zero (the shift ≥ 1 public).

    Steps: a2b of all words (one batch); per word the arithmetic shift of its boolean shares
    (local: every result bit is one input bit); b2a; the low ``shift`` bits tested for zero
    (:func:`tyst.mpc.protocols.circuits.all_zero`), AND-ed with the sign bit, injected and
    added (floor + 1 for a negative word with a remainder). Rounds: 8 + max(9, 6 + 1 + 2).
    Leakage: none."""
    p = party
    n = len(words[0])
    bits = a2b(p, concat_a(list(words)))
    floors: list[BShare] = []
    rests: list[BShare] = []
    for j, s_ in enumerate(shifts):
        w = bits[j * n : (j + 1) * n]
        floors.append(BShare(_sar(w.a, s_), _sar(w.b, s_)))
        rests.append(w.and_public((1 << s_) - 1))
    signs = concat_b([bits[j * n : (j + 1) * n].shift_right(63) for j in range(len(words))])
    carry = and_(p, signs, not_bit(p, all_zero(p, concat_b(rests))))
    up = bit_to_arith(p, carry)
    down = b2a(p, concat_b(floors))
    total = down + up
    return [total[j * n : (j + 1) * n] for j in range(len(words))]


def _sar(x: np.ndarray, bits: int) -> np.ndarray:
    """Arithmetic shift right of 64-bit words (the sign bit copied in)."""
    return (x.view(np.int64) >> np.int64(bits)).view(U64)


def _sorted_null(ctype: ColumnType, sorted_key: Sequence[AShare]) -> AShare | None:
    """The null indicator among a nullable column's sorted key lanes (None: not nullable)."""
    return sorted_key[ctype.null_lane] if ctype.nullable else None


def _aggregate_columns(
    party: Party,
    table: SharedTable,
    aggs: Sequence[AggSpec],
    counts: AShare,
    distinct_of: Mapping[str, AShare],
    sum_of: Mapping[str, AShare],
    extreme_of: Mapping[tuple[Literal["min", "max"], str | None], AShare | tuple[AShare, ...]],
    nonnull_of: Mapping[str, AShare],
    order_of: Mapping[str, AShare],
    *,
    global_: bool,
) -> dict[str, SharedColumn]:
    """One output column per aggregate, from the computed per-group lanes; ``nonnull_of``:
    per nullable argument, the number of its values that are not NULL; ``order_of``: per
    order statistic (by name) its value."""
    columns: dict[str, SharedColumn] = {}
    for a in aggs:
        ctype = _out_type(table, a, global_=global_)
        seen = nonnull_of.get(a.column, counts) if a.column else counts
        if a.func == "count":
            value = seen
        elif a.func == "count_distinct":
            assert a.column is not None
            value = distinct_of[a.column]
        elif a.func == "sum":
            assert a.column is not None
            value = sum_of[a.column]
        elif a.func in ORDER_FUNCS:
            value = order_of[a.name]
        else:
            assert a.func in ("min", "max")
            extreme = extreme_of[(a.func, a.column)]
            if isinstance(extreme, tuple):  # text: its byte-order lanes (computed text)
                columns[a.name] = SharedColumn(DERIVED_TEXT, extreme)
                continue
            value = extreme
        if ctype.nullable:
            zero = a.func != "sum"  # a NULL MIN/MAX/order statistic holds a stand-in
            columns[a.name] = _nullable_value(party, ctype, value, seen, zero=zero)
        else:
            columns[a.name] = SharedColumn(ctype, (value,))
    return columns


def _text_extremes(
    table: SharedTable, aggs: Sequence[AggSpec]
) -> list[tuple[Literal["min", "max"], str | None]]:
    """The MIN/MAX of id/text columns (grouped, never NULL: checked by :func:`_check`)."""
    found = (
        (a.func, a.column)
        for a in aggs
        if a.func in ("min", "max") and a.column and table.column(a.column).ctype.is_text
    )
    return [e for e in dict.fromkeys(found) if e[0] in ("min", "max")]  # type: ignore[misc]


def _empty_grouped(
    party: Party, table: SharedTable, keys: Sequence[str], aggs: Sequence[AggSpec]
) -> Grouped:
    """The grouped result of an empty table (no rows, local)."""
    columns = {k: table.column(k) for k in keys}
    for a in aggs:
        ctype = _out_type(table, a, global_=False)
        columns[a.name] = SharedColumn(ctype, tuple(_zeros(0) for _ in range(ctype.lanes)))
    valid = public_b(party.index, np.zeros(0, dtype=U64))
    return Grouped(SharedTable(columns, valid, table.name), _zeros(0), _zeros(1))


def _global(
    party: Party, table: SharedTable, aggs: Sequence[AggSpec], distinct_cols: list[str]
) -> Grouped:
    """One output row over all valid rows (see :func:`group_by`); a nullable argument's
    rows count as valid where it is not NULL."""
    p = party
    n = len(table)
    valid = bit_to_arith(p, table.valid)
    count = valid.sum()
    used = dict.fromkeys(a.column for a in aggs if a.column)
    present = {c: x for c in used if c and (x := _present(p, table, c)) is not None}
    seen_rows = dict(zip(present, mul_many(p, [(valid, x) for x in present.values()]), strict=True))

    def rows_of(c: str | None) -> AShare:
        return seen_rows.get(c, valid) if c else valid

    nonnull_of = {c: v.sum() for c, v in seen_rows.items()}
    sum_cols = list(dict.fromkeys(a.column for a in aggs if a.func == "sum" and a.column))
    sum_of = {c: dot(p, valid, table.column(c).lanes[0]) for c in sum_cols}

    extremes = list(dict.fromkeys((a.func, a.column) for a in aggs if a.func in ("min", "max")))
    extreme_of: dict[tuple[Literal["min", "max"], str | None], AShare] = {}
    if extremes and n:
        stand_in = [SENTINEL if f == "min" else -SENTINEL for f, _ in extremes]
        fill = [public_a(p.index, np.full(n, s % (1 << 64), dtype=U64)) for s in stand_in]
        # x' = s + v·(x − s): the value for valid rows, the sentinel for invalid ones
        lanes = [table.column(c).lanes[0] for _, c in extremes if c]
        shifted = mul_many(
            p,
            [(rows_of(c), x - s) for (_, c), x, s in zip(extremes, lanes, fill, strict=True)],
        )
        prepared = [s + d for s, d in zip(fill, shifted, strict=True)]
        best = reduce_extreme(p, prepared, [f == "max" for f, _ in extremes])
        extreme_of = dict(zip(extremes, best, strict=True))
    else:
        extreme_of = {e: _zeros(1) for e in extremes}

    distinct_of: dict[str, AShare] = {}
    for name in distinct_cols:
        lanes = list(table.column(name).key)
        packed = [*lanes[:-1], _pack_validity(lanes[-1], rows_of(name))]
        sorted_lanes, _ = sort(p, packed)
        if n == 0:
            distinct_of[name] = _zeros(1)
            continue
        first = and_(p, segment_starts(p, sorted_lanes), low_bit(sorted_lanes[-1]))
        distinct_of[name] = bit_to_arith(p, first).sum()

    order_of = _global_order_statistics(p, table, [a for a in aggs if a.func in ORDER_FUNCS])
    columns: dict[str, SharedColumn] = {}
    columns.update(
        _aggregate_columns(
            p,
            table,
            aggs,
            count,
            distinct_of,
            sum_of,
            extreme_of,
            nonnull_of,
            order_of,
            global_=True,
        )
    )
    out_valid = public_b(p.index, np.ones(1, dtype=U64))
    return Grouped(SharedTable(columns, out_valid, table.name), count, _zeros(1))


def _global_order_statistics(
    party: Party, table: SharedTable, specs: Sequence[AggSpec]
) -> dict[str, AShare]:
    """The order statistics over all valid rows, one element each: the grouped steps with
    no key but validity (valid rows sort last, so their segment ends at the public last
    row). Where no valid row has a value the word is arbitrary (the caller makes it NULL)."""
    n = len(table)
    if not specs or n == 0:
        return {a.name: _zeros(1) for a in specs}
    everything = "#all"
    key = SharedColumn(INT, (_zeros(n),))
    keyed = SharedTable({**table.columns, everything: key}, table.valid, table.name)
    grouped = _grouped(party, keyed, [everything], specs, [], 0).table
    out = {}
    for a in specs:
        column = grouped.column(a.name)
        values, _ = split_null(column.ctype, column.lanes)
        out[a.name] = values[0][n - 1 :]
    return out


def distinct(party: Party, table: SharedTable) -> SharedTable:
    """``SELECT DISTINCT *``: one valid row per distinct valid row, ``len(table)`` rows.

    Input: any table. Output: the same columns (all lanes), sorted by the key
    lanes of all columns, one valid row per distinct valid row, the rest
    padding. Equality is on the key lanes of every column (id/text by their
    key lanes; their content lanes are carried from a valid row); an AVG
    ratio column is rejected (its lanes are not a canonical form of its value).
    Steps, rounds, bytes: :func:`group_by` on all columns with no aggregates
    (one sort on every key lane, one ``segment_starts``, one AND).
    Leakage: none beyond len(table).
    Source: see the module contract.
    """
    return group_by(party, table, list(table.columns), []).table
