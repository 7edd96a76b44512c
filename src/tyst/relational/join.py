"""Oblivious joins: primary-key/foreign-key equi-join (inner, left) and semi-/anti-join.

Contract common to every operator here:

- Inputs are :class:`SharedTable` s with validity bits; invalid rows never
  influence a result (whatever their keys). Join keys are one or several
  columns per side, matched pairwise by position; the types of a pair must be
  equal (``id`` and ``text`` may be mixed: both use the same key lanes). A
  row's key is the tuple of the *key lanes* of its key columns (1 per
  ``int``/``decimal``/``date``/``bool`` column, 2 per ``id``/``text`` column,
  see :mod:`tyst.data.types`); content lanes are never compared.
- Output length is a function of the public input lengths only: with
  ``compact=True`` (default) exactly the row count of the preserved side (the
  fk side of a join, the left side of a semi-join), rows in a uniformly
  random order; with ``compact=False`` the n_a + n_b rows of the merged,
  key-sorted table (see "Output order" below), the other side's rows invalid.
- Leakage: none beyond the input row counts (and the public schema: number
  and types of columns). Every opened value is either a comparison outcome of
  the oblivious sort on shuffled, distinct keys (simulatable from n) or the
  side flags of a uniformly shuffled table (simulatable from the two counts).

Algorithm (one oblivious sort, no other data-dependent step):

1. Concatenate the "source" table (pk side / right side) *before* the
   preserved table (fk side / left side). Each row carries its key lanes (the
   sort keys), its non-key lanes in shared *slots* (a pk row and an fk row
   use the same slot lanes for different columns, so the sort carries
   max(pk lanes, fk lanes) payload lanes, not their sum) and one boolean flag
   word: bit 0 = valid source row, bit 1 = valid preserved row, bit 2 = side.
2. Stable oblivious sort on the key lanes (:func:`tyst.mpc.protocols.sort.sort`).
   Stability puts every source row before the preserved rows of equal key, so
   each run of equal keys is [source rows][preserved rows].
3. Run starts s_i = [i = 0 or key_i ≠ key_{i−1}] (one batched ``eq``).
4. Flags t_i = s_i ∨ (valid source row). A Brent–Kung scan copies to every row
   the payload of the latest flagged row at or before it (:func:`copy_forward`,
   ≈ 2·log2 n rounds, ≈ 16 bytes per copied lane and row). For a preserved
   row that latest flagged row is the valid source row of its run if there is
   one (it precedes the preserved rows), else the run's first row; copying the
   source-validity bit along gives ``matched``. Invalid source rows are never
   flagged except as a run start, where they carry matched = 0.
5. Duplicate detection (pk–fk join): the number of valid source rows that are
   not a run start but follow a row whose ``matched`` is 1 is
   Σ_runs max(0, #valid source rows − 1); one inner product plus one equality
   test on a single element turn it into a shared error bit.
6. Compaction: shuffle the output lanes together with the side bit, open the
   side bit, keep the preserved side's rows (their number is public).

Output order with ``compact=False``: rows sorted by the join key (source rows
first within a key), which a following GROUP BY on the same key may exploit;
the source-side rows are invalid.

Sources: the general pattern — sort-based relational operators on secret
shares in the honest-majority three-party setting — follows Asharov et al.,
"Secure Statistical Analysis on Multiple Datasets: Join and Group-By", CCS 2023
(doi:10.1145/3576915.3623119) and Liagouris, Kalavri, Faisal, Varia, "Secrecy:
Secure collaborative analytics on secret-shared data" (arXiv:2102.01048); the
scan is a Brent–Kung parallel prefix (IEEE ToC 1982) of a "copy" operator as
in Blelloch's segmented scans ("Prefix sums and their applications", 1990);
compaction by shuffle-then-open (the argument of Hamada et al., ICISC 2012).
The slot sharing, the run-start flags and the duplicate count are this
project's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import dot, mul
from tyst.mpc.protocols.boolean import and_
from tyst.mpc.protocols.compare import eq, not_bit
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_b, xor_public
from tyst.relational.join_scan import compact as compact_rows
from tyst.relational.join_scan import copy_forward, low_bit, segment_starts
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

JoinKind = Literal["inner", "left"]

_VALID_SOURCE = 1
_VALID_KEPT = 2
_SIDE_KEPT = 4


@dataclass(frozen=True)
class PkFkJoin:
    """The result of :func:`join_pk_fk`.

    ``table``: the joined rows (see :func:`join_pk_fk`).
    ``duplicate_keys``: one boolean-shared bit (bit 0): 1 iff two or more *valid*
    pk rows have the same key, i.e. the precondition is violated; ``table`` is
    then not the SQL join (see :func:`join_pk_fk`). It is a secret; opening it to
    the recipient (or to the nodes) is a declared disclosure of one bit.
    ``duplicate_rows``: one arithmetic-shared word: the number of valid pk rows
    whose key equals that of another valid pk row before it,
    Σ over keys max(0, count − 1). Opening it discloses that count.
    """

    table: SharedTable
    duplicate_keys: BShare
    duplicate_rows: AShare


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    """Where the lanes of one input table travel through the merged sort.

    ``keys``: the key lanes of the key columns, in key order (the sort keys).
    ``slots``: every other lane of the selected columns (sort payload).
    ``lanes``: per selected input column, per lane: (True, k) = key lane k,
    (False, s) = slot s.
    """

    keys: list[AShare]
    slots: list[AShare]
    lanes: dict[str, list[tuple[bool, int]]]


def _layout(table: SharedTable, key_names: Sequence[str], selected: Sequence[str]) -> _Layout:
    keys: list[AShare] = []
    key_lane: dict[tuple[str, int], int] = {}
    for name in key_names:
        column = table.column(name)
        for j, lane in enumerate(column.key):
            key_lane.setdefault((name, j), len(keys))
            keys.append(lane)
    slots: list[AShare] = []
    lanes: dict[str, list[tuple[bool, int]]] = {}
    for name in dict.fromkeys(selected):
        column = table.column(name)
        where: list[tuple[bool, int]] = []
        for j, lane in enumerate(column.lanes):
            if (name, j) in key_lane:
                where.append((True, key_lane[(name, j)]))
            else:
                where.append((False, len(slots)))
                slots.append(lane)
        lanes[name] = where
    return _Layout(keys, slots, lanes)


def _check_keys(
    left: SharedTable, left_keys: Sequence[str], right: SharedTable, right_keys: Sequence[str]
) -> None:
    if isinstance(left_keys, str) or isinstance(right_keys, str):
        raise TypeError("join keys are lists of column names, not a single string")
    if not left_keys or len(left_keys) != len(right_keys):
        raise ValueError(
            f"join needs the same positive number of key columns on both sides, "
            f"got {list(left_keys)} and {list(right_keys)}"
        )
    for a, b in zip(left_keys, right_keys, strict=True):
        ta, tb = left.column(a).ctype, right.column(b).ctype
        if ta.kind == "ratio" or tb.kind == "ratio":
            raise ValueError(f"cannot join on an AVG result ({a!r} = {b!r})")
        if not (ta == tb or (ta.is_text and tb.is_text)):
            raise ValueError(f"join key types differ: {a!r} is {ta}, {b!r} is {tb}")


def _selection(table: SharedTable, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """{output name: input column}; ``None`` = every column under its own name."""
    if mapping is None:
        return {name: name for name in table.columns}
    for source in mapping.values():
        table.column(source)  # raises a KeyError naming the table
    return dict(mapping)


def _zeros(n: int) -> AShare:
    """A sharing of n zeros (all components zero; local)."""
    return AShare(np.zeros(n, dtype=U64), np.zeros(n, dtype=U64))


# --------------------------------------------------------------------------- the merged sort


@dataclass(frozen=True)
class _Merged:
    """The merged table after the sort and the scan (n = n_source + n_kept rows)."""

    keys: list[AShare]
    slots: list[AShare]
    kept_valid: BShare
    kept_side: BShare
    matched: AShare
    values: list[AShare]
    duplicates: AShare | None


def _merge(
    party: Party,
    source: SharedTable,
    source_layout: _Layout,
    kept: SharedTable,
    kept_layout: _Layout,
    *,
    copied_slots: int,
    count_duplicates: bool,
) -> _Merged:
    """Steps 1–5 of the module docstring; copies the first ``copied_slots`` slots forward."""
    n_s, n_k = len(source), len(kept)
    n = n_s + n_k
    keys = [concat_a([a, b]) for a, b in zip(source_layout.keys, kept_layout.keys, strict=True)]
    width = max(len(source_layout.slots), len(kept_layout.slots))
    slots = []
    for j in range(width):
        a = source_layout.slots[j] if j < len(source_layout.slots) else _zeros(n_s)
        b = kept_layout.slots[j] if j < len(kept_layout.slots) else _zeros(n_k)
        slots.append(concat_a([a, b]))
    flags = concat_b(
        [
            source.valid.and_public(1),
            xor_public(party.index, kept.valid.and_public(1).shift_left(1), _SIDE_KEPT),
        ]
    )
    moved: list[AShare | BShare] = [*slots, flags]
    del slots, flags  # the sort holds the only references: it frees them as it goes
    sorted_keys, payload = sort(party, keys, moved)
    sorted_slots: list[AShare] = []
    for c in payload[:-1]:
        assert isinstance(c, AShare)
        sorted_slots.append(c)
    sorted_flags = payload[-1]
    assert isinstance(sorted_flags, BShare)

    starts = segment_starts(party, sorted_keys)
    both = bit_to_arith(party, concat_b([sorted_flags.and_public(_VALID_SOURCE), starts]))
    valid_source, start = both[:n], both[n:]
    product = mul(party, valid_source, start)
    flag = valid_source + start - product
    scanned = copy_forward(party, flag, [*sorted_slots[:copied_slots], valid_source])
    matched = scanned[-1]

    duplicates: AShare | None = None
    if count_duplicates:
        # A valid source row that is not a run start, after a row with matched = 1,
        # is a second (third, …) valid source row of its run.
        later = valid_source - product
        duplicates = dot(party, later[1:], matched[:-1]) if n else _zeros(1)
    return _Merged(
        keys=sorted_keys,
        slots=sorted_slots,
        kept_valid=sorted_flags.and_public(_VALID_KEPT).shift_right(1),
        kept_side=sorted_flags.and_public(_SIDE_KEPT).shift_right(2),
        matched=matched,
        values=scanned[:-1],
        duplicates=duplicates,
    )


def _finish(
    party: Party,
    columns: list[tuple[str, ColumnType, list[int]]],
    lanes: list[AShare],
    valid: BShare,
    side: BShare,
    n_kept: int,
    *,
    do_compact: bool,
    name: str,
) -> SharedTable:
    """Build the output table from lane indices; compact to the kept side's rows if asked."""
    if do_compact:
        lanes, bits = compact_rows(party, lanes, [valid], side, n_kept)
        valid = bits[0]
    out = {
        out_name: SharedColumn(ctype, tuple(lanes[j] for j in idx))
        for out_name, ctype, idx in columns
    }
    return SharedTable(out, valid, name)


# --------------------------------------------------------------------------- public API


def join_pk_fk(
    party: Party,
    pk_table: SharedTable,
    fk_table: SharedTable,
    pk_keys: Sequence[str],
    fk_keys: Sequence[str],
    *,
    kind: JoinKind = "inner",
    fk_columns: Mapping[str, str] | None = None,
    pk_columns: Mapping[str, str] | None = None,
    matched_column: str = "matched",
    compact: bool = True,
    name: str = "",
) -> PkFkJoin:
    """Equi-join of a table with unique keys (pk side) to a referencing table (fk side).

    Precondition: the *valid* rows of ``pk_table`` have pairwise distinct keys
    (invalid rows may repeat anything). Violations are detected obliviously and
    reported in ``PkFkJoin.duplicate_keys`` (a shared bit the caller must open to
    the recipient — or to the nodes — before trusting the result): if it is 1,
    every valid fk row whose key has several valid pk rows is joined to one of
    them only (the last one in pk input order), which is not the SQL result.
    Keys: ``pk_keys[i]`` is compared with ``fk_keys[i]`` (types must agree;
    ``id``/``text`` compare their 2 key lanes).
    Columns: ``fk_columns`` / ``pk_columns`` map output names to input column
    names (``None``: every column of that side under its own name); output
    columns are the fk columns, then the pk columns, then (left join only) the
    ``bool`` column ``matched_column``. Output names must be distinct.

    Output: one row per fk row (``len(fk_table)`` rows with ``compact=True``, in
    a uniformly random order; with ``compact=False`` the ``len(pk_table) +
    len(fk_table)`` rows of the key-sorted merged table, pk-side rows invalid —
    cheaper when the consumer does not sort again, e.g. a scalar aggregate).
    - ``kind="inner"``: valid = fk.valid ∧ (a valid pk row has the same key);
      on valid rows the pk columns hold that pk row's values (a pk key column
      holds the fk row's key lanes, equal by definition, and the pk row's
      content lanes).
    - ``kind="left"`` (fk side preserved): valid = fk.valid; ``matched_column``
      is 1 where a valid pk row matched, else 0, and then every pk column is 0
      in all its lanes.
    Values in invalid rows are arbitrary.

    Steps: see the module docstring (one sort of n = n_pk + n_fk rows, run
    starts, Brent–Kung copy-forward of the pk lanes, duplicate count,
    compaction by shuffle-then-open).
    Rounds: sort(n, c key lanes) + 7 + ⌈log2 c⌉ (run starts) + 2 + 1 (flags) +
    ≈ 2·log2 n (scan) + 8 (duplicate bit, one element) + 1 (validity AND or
    left-join zeroing) + 4 (compaction).
    Bytes per row of n and party, with c key lanes, s = max(pk, fk) selected
    non-key lanes, m = selected non-key pk lanes, o = output lanes:
    - sort: ≈ 101·c + 16·(2c + 1 + s + 1) + ≈ 1.09·log2 n comparisons of ≈ 25
      bytes (c = 1) or ≈ 42 (c = 2); see :func:`tyst.mpc.protocols.sort.sort`;
    - run starts: < 8·c + 8·(c − 1), and 16·c more from party 0;
    - flags: 32 + 8; scan: 16·(m + 1) + 8; validity: 8 (inner) or
      8·(pk output lanes) (left); compaction: 16·(o + 2) + 8.
    Measured in-process at n_pk = n_fk = 10^5 (one int key, one pk and one fk
    value column): ≈ 830 bytes per merged row and party, of which ≈ 610 are the
    sort; 2.2 s wall, of which 1.8 s are the sort.
    Leakage: none beyond len(pk_table), len(fk_table) and the schema (module
    docstring); the duplicate flag and count stay secret unless the caller
    opens them.
    """
    if kind not in ("inner", "left"):
        raise ValueError(f"join kind must be 'inner' or 'left', not {kind!r}")
    _check_keys(pk_table, pk_keys, fk_table, fk_keys)
    fk_sel = _selection(fk_table, fk_columns)
    pk_sel = _selection(pk_table, pk_columns)
    names = [*fk_sel, *pk_sel, *([matched_column] if kind == "left" else [])]
    clashes = sorted({x for x in names if names.count(x) > 1})
    if clashes:
        raise ValueError(
            f"output column names clash: {clashes}; pass fk_columns/pk_columns "
            "to rename (e.g. with a table prefix)"
        )
    n_pk, n_fk = len(pk_table), len(fk_table)
    fk_layout = _layout(fk_table, fk_keys, list(fk_sel.values()))
    pk_layout = _layout(pk_table, pk_keys, list(pk_sel.values()))
    if n_pk + n_fk == 0:
        lanes_empty = {
            **{o: fk_table.column(i) for o, i in fk_sel.items()},
            **{o: pk_table.column(i) for o, i in pk_sel.items()},
        }
        if kind == "left":
            lanes_empty[matched_column] = SharedColumn(ColumnType("bool"), (_zeros(0),))
        zero_bit = public_b(party.index, np.zeros(1, dtype=U64))
        return PkFkJoin(SharedTable(lanes_empty, fk_table.valid, name), zero_bit, _zeros(1))

    merged = _merge(
        party,
        pk_table,
        pk_layout,
        fk_table,
        fk_layout,
        copied_slots=len(pk_layout.slots),
        count_duplicates=True,
    )
    assert merged.duplicates is not None
    has_duplicates = not_bit(party, eq(party, merged.duplicates, _zeros(1)))

    lanes: list[AShare] = []
    index: dict[tuple[str, bool, int], int] = {}

    def lane_of(side: str, where: tuple[bool, int]) -> int:
        # Inner join: a pk key lane is the fk row's key lane (equal on valid rows), shared.
        key = ("fk" if kind == "inner" and where[0] else side, *where)
        if key not in index:
            is_key, j = where
            if is_key:
                lane = merged.keys[j]
            else:
                lane = merged.slots[j] if side == "fk" else merged.values[j]
            index[key] = len(lanes)
            lanes.append(lane)
        return index[key]

    columns: list[tuple[str, ColumnType, list[int]]] = []
    for out_name, src in fk_sel.items():
        idx = [lane_of("fk", w) for w in fk_layout.lanes[src]]
        columns.append((out_name, fk_table.column(src).ctype, idx))
    first_pk_lane = len(lanes)
    for out_name, src in pk_sel.items():
        idx = [lane_of("pk", w) for w in pk_layout.lanes[src]]
        columns.append((out_name, pk_table.column(src).ctype, idx))

    matched_bit = low_bit(merged.matched)
    if kind == "inner":
        valid = and_(party, merged.kept_valid, matched_bit)
    else:
        valid = merged.kept_valid
        pk_lanes = lanes[first_pk_lane:]
        if pk_lanes:
            count = len(pk_lanes)
            n = len(merged.matched)
            zeroed = mul(
                party,
                AShare(np.tile(merged.matched.a, count), np.tile(merged.matched.b, count)),
                concat_a(pk_lanes),
            )
            lanes[first_pk_lane:] = [zeroed[j * n : (j + 1) * n] for j in range(count)]
        columns.append((matched_column, ColumnType("bool"), [len(lanes)]))
        lanes.append(merged.matched)

    table = _finish(
        party, columns, lanes, valid, merged.kept_side, n_fk, do_compact=compact, name=name
    )
    return PkFkJoin(table, has_duplicates, merged.duplicates)


def semi_join(
    party: Party,
    left: SharedTable,
    right: SharedTable,
    left_keys: Sequence[str],
    right_keys: Sequence[str],
    *,
    anti: bool = False,
    compact: bool = True,
) -> SharedTable:
    """Semi-join (``EXISTS`` / ``IN``) or anti-join (``NOT EXISTS``) of ``left`` against ``right``.

    Precondition: none (right keys may repeat; key types as in :func:`join_pk_fk`).
    Output: the columns of ``left`` (same names and types, name ``left.name``);
    valid = left.valid ∧ (∃ valid right row with an equal key), or
    left.valid ∧ ¬(∃ …) with ``anti=True``. ``len(left)`` rows with
    ``compact=True`` (uniformly random order); with ``compact=False`` the
    ``len(right) + len(left)`` rows of the key-sorted merged table, right-side
    rows invalid. (NULL keys: see :mod:`tyst.relational.null_keys`.)
    Steps: as :func:`join_pk_fk` with the right table as the source side and
    only the 0/1 "valid right row" lane copied forward; no duplicate check.
    Rounds: sort(n, c) + 7 + ⌈log2 c⌉ + 3 + ≈ 2·log2 n + 1 + 4 (compaction),
    n = len(left) + len(right).
    Bytes per row of n and party: the sort with s = non-key lanes of ``left`` as
    payload (see :func:`join_pk_fk`) + run starts (< 8·c + 8·(c − 1), 16·c more
    from party 0) + 40 (flags) + 24 (scan) + 8 (validity) + 16·(o + 2) + 8
    (compaction; o = lanes of ``left``).
    Leakage: none beyond len(left), len(right) and the schema.
    """
    _check_keys(left, left_keys, right, right_keys)
    n = len(left) + len(right)
    layout = _layout(left, left_keys, list(left.columns))
    if n == 0:
        return left
    right_layout = _layout(right, right_keys, [])
    merged = _merge(
        party, right, right_layout, left, layout, copied_slots=0, count_duplicates=False
    )
    found = low_bit(merged.matched)
    if anti:
        found = not_bit(party, found)
    valid = and_(party, merged.kept_valid, found)
    lanes: list[AShare] = []
    columns: list[tuple[str, ColumnType, list[int]]] = []
    for col_name, where in layout.lanes.items():
        idx = []
        for is_key, j in where:
            idx.append(len(lanes))
            lanes.append(merged.keys[j] if is_key else merged.slots[j])
        columns.append((col_name, left.column(col_name).ctype, idx))
    return _finish(
        party,
        columns,
        lanes,
        valid,
        merged.kept_side,
        len(left),
        do_compact=compact,
        name=left.name,
    )
