"""Oblivious ``ORDER BY … [LIMIT n]``.

Contract: :func:`order_limit` returns the table's rows ordered valid rows
first, then by the keys (lexicographically, per key ascending or descending;
ties keep the input order), cut to the first min(limit, n) rows. Keys are
ordered types (int, decimal, date, bool: signed words within ±2^62). Rows past
the number of valid rows are padding (invalid). The output length depends on
n and the public limit only.

Steps: one stable oblivious sort (:func:`tyst.mpc.protocols.sort.sort`) with
the key ``invalid`` (0 for valid rows) in front of the query's keys, carrying
every lane and the validity bit; then a public prefix of the rows (local).
Rounds and bytes: those of the sort with c + 1 key columns and every lane of
the table as payload. Leakage: none beyond n (the sort opens only comparison
outcomes of shuffled distinct keys).
"""

from __future__ import annotations

from collections.abc import Sequence

from tyst.mpc.party import Party
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, add_public
from tyst.relational.table import SharedColumn, SharedTable


def order_limit(
    party: Party, table: SharedTable, keys: Sequence[tuple[str, bool]], limit: int | None
) -> SharedTable:
    """The rows of ``table`` sorted by ``keys`` = [(column, descending)], first ``limit`` kept."""
    if limit is not None and limit < 0:
        raise ValueError("LIMIT must be zero or positive")
    for name, _ in keys:
        ctype = table.column(name).ctype
        if not ctype.is_ordered:
            raise ValueError(f"ordering on a {ctype} column {name!r}")
    n = len(table)
    keep = n if limit is None else min(limit, n)
    if n <= 1:
        return table.take(slice(0, keep))
    p = party
    invalid = add_public(p.index, -bit_to_arith(p, table.valid), 1)
    sort_keys = [invalid, *(table.column(name).lanes[0] for name, _ in keys)]
    descending = [False, *(d for _, d in keys)]
    names = list(table.columns)
    payload: list[AShare | BShare] = [lane for c in names for lane in table.column(c).lanes]
    payload.append(table.valid)
    _, moved = sort(p, sort_keys, payload, descending=descending)
    valid = moved.pop()
    assert isinstance(valid, BShare)
    lanes = [x for x in moved if isinstance(x, AShare)]
    columns: dict[str, SharedColumn] = {}
    at = 0
    for c in names:
        ctype = table.column(c).ctype
        columns[c] = SharedColumn(ctype, tuple(lanes[at : at + ctype.lanes]))
        at += ctype.lanes
    return SharedTable(columns, valid, table.name).take(slice(0, keep))
