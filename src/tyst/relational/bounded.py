"""Contribution bounding and aggregation for differentially private releases.

Contract: :func:`bounded_aggregate` takes a shared table, the privacy unit's key lanes, a
cap m, the SUM arguments with public clamp bounds and an optional grouping column with a
public key set, and returns (one row, or one row per public key, every row valid):

- COUNT(*) and SUM(x) over the input's valid rows after (1) **capping**: of each unit's
  valid rows only the first m in a stable order are kept (ROW_NUMBER over a partition by
  the unit, :func:`tyst.relational.window.window`: one sort, one segmented scan; a row
  with row number > m becomes invalid); (2) **clamping**: each summed value x becomes
  min(max(x, low), high) (two comparisons and two multiplexers per row);
- grouped: for each public key k_j, e_ij = valid_i ∧ [key_i = k_j] (one batched equality
  over the K·n pairs), COUNT_j = Σ_i e_ij and SUM_j = Σ_i e_ij·x_i (one batched product).
  Rows whose key is not declared fall in no group (dropped); declared keys with no rows
  give 0.

So one unit changes a COUNT by at most m (over all groups together) and a SUM by at most
m·max(|low|, |high|): the sensitivity the noise is calibrated to (:mod:`tyst.release.privacy`).
Leakage: none beyond n (the sort opens only comparison outcomes of shuffled keys).
Rounds: sort(n) + O(log n) for the cap; 8 + 2 + 2 per clamp; 8·⌈log2 64⌉-ish for the
equalities, 1 for the products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import mul, mul_many
from tyst.mpc.protocols.boolean import and_
from tyst.mpc.protocols.compare import eq, gt, lt, select
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.shares import AShare, public_a
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.relational.window import WindowFn, window
from tyst.ring.words import U64, from_signed

_RN = "rn#bounded"
_INT = ColumnType("int")


@dataclass(frozen=True)
class BoundedCall:
    """One output: ``func`` "count" (COUNT(*), ``column`` None) or "sum" of ``column``
    clamped to [``low``, ``high``] (scaled integers)."""

    func: str
    column: str | None
    name: str
    ctype: ColumnType
    low: int = 0
    high: int = 0


def cap_rows(party: Party, table: SharedTable, unit: str, max_rows: int) -> SharedTable:
    """The table (reordered by unit) with each unit's valid rows beyond the first
    ``max_rows`` made invalid."""
    if len(table) == 0:
        return table
    key = list(table.columns[unit].key)
    numbered = window(party, table, key, [], [WindowFn("row_number", None, _RN, _INT)])
    rn = numbered.columns[_RN].lanes[0]
    limit = public_a(party.index, np.full(len(numbered), max_rows + 1, dtype=U64))
    keep = and_(party, numbered.valid, lt(party, rn, limit))
    columns = {c: col for c, col in numbered.columns.items() if c != _RN}
    return SharedTable(columns, keep, table.name)


def clamp(party: Party, x: AShare, low: int, high: int) -> AShare:
    """min(max(x, low), high) elementwise (public bounds, |x| < 2^62)."""
    n = len(x)
    lo = public_a(party.index, from_signed(np.full(n, low, dtype=np.int64)))
    hi = public_a(party.index, from_signed(np.full(n, high, dtype=np.int64)))
    raised = select(party, lt(party, x, lo), lo, x)
    return select(party, gt(party, raised, hi), hi, raised)


def bounded_aggregate(
    party: Party,
    table: SharedTable,
    unit: str,
    max_rows: int,
    calls: Sequence[BoundedCall],
    key: tuple[str, ColumnType, Sequence[int]] | None = None,
) -> SharedTable:
    """See the module contract; output columns: the key (if any), then the calls."""
    p = party
    capped = cap_rows(p, table, unit, max_rows)
    n = len(capped)
    values = {
        c.name: clamp(p, capped.columns[c.column].lanes[0], c.low, c.high)
        for c in calls
        if c.func == "sum" and c.column is not None and n
    }
    keys = list(key[2]) if key is not None else [0]
    k = len(keys)
    v = bit_to_arith(p, capped.valid) if n else AShare(np.zeros(0, U64), np.zeros(0, U64))
    if key is not None and n:
        lane = capped.columns[key[0]].lanes[0]
        tiled = AShare(np.tile(lane.a, k), np.tile(lane.b, k))
        wanted = from_signed(np.repeat(np.array(keys, dtype=np.int64), n))
        member = bit_to_arith(p, eq(p, tiled, public_a(p.index, wanted)))
        e = mul(p, member, AShare(np.tile(v.a, k), np.tile(v.b, k)))
    else:
        e = v
    columns: dict[str, SharedColumn] = {}
    if key is not None:
        words = from_signed(np.array(keys, dtype=np.int64))
        columns[key[0]] = SharedColumn(key[1], (public_a(p.index, words),))
    summands = [(c.name, values[c.name]) for c in calls if c.name in values]
    products: dict[str, AShare] = {}
    if summands:  # one round for every SUM: e_ij · x_i
        pairs = [(e, AShare(np.tile(x.a, k), np.tile(x.b, k))) for _, x in summands]
        products = dict(zip([name for name, _ in summands], mul_many(p, pairs), strict=True))
    for c in calls:
        source = e if c.func == "count" else products.get(c.name)
        columns[c.name] = SharedColumn(c.ctype, (_block_sums(source, k, n),))
    return SharedTable(columns, all_valid(p.index, k), table.name)


def _block_sums(x: AShare | None, k: int, n: int) -> AShare:
    """Per block of n consecutive elements (k blocks): their sum (local)."""
    if x is None or n == 0:
        return AShare(np.zeros(k, U64), np.zeros(k, U64))
    return AShare(
        x.a.reshape(k, n).sum(axis=1, dtype=U64), x.b.reshape(k, n).sum(axis=1, dtype=U64)
    )


__all__ = ["BoundedCall", "bounded_aggregate", "cap_rows", "clamp"]
