"""Join keys that may be NULL: SQL's "a NULL never matches", for the equi-joins.

Contract: :func:`null_safe_keys` prepares one side of an equi-join (inner, semi or anti)
whose key columns may be nullable. Where the two sides' key columns differ only in
nullability, the non-nullable one is widened (its null indicator a public 0), so both
sides compare the same lanes (value key lanes and indicator: a NULL never equals a
value). With ``drop_nulls`` the rows with a NULL in some key column become invalid, so
they match nothing and count for nothing (an inner join's sides, the subquery side of a
semi- or anti-join, whose NULL keys would otherwise match each other). The outer side of
a semi- or anti-join keeps its NULL-key rows valid: they find no valid partner, so a
semi-join drops them and an anti-join keeps them, as SQL's EXISTS does. :func:`narrowed`
undoes the widening on the output (a widened column is NULL nowhere).

Rounds: 1 per nullable key column with ``drop_nulls`` (an AND with the validity bit),
else 0. Leakage: none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tyst.data.types import ColumnType, join_null, split_null
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.compare import not_bit
from tyst.mpc.shares import BShare, public_a
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64


def null_safe_keys(
    party: Party,
    table: SharedTable,
    keys: Sequence[str],
    partner: Sequence[ColumnType],
    *,
    drop_nulls: bool,
) -> SharedTable:
    """``table`` ready to be joined on ``keys`` against key columns of types ``partner``
    (see the module contract)."""
    columns = dict(table.columns)
    valid = table.valid
    for name, other in zip(keys, partner, strict=True):
        column = columns[name]
        if column.ctype.nullable:
            if drop_nulls:
                _, null = split_null(column.ctype, column.lanes)
                assert null is not None
                present = not_bit(party, BShare(null.a & U64(1), null.b & U64(1)))
                valid = boolean.and_(party, valid, present)
        elif other.nullable:
            ctype = column.ctype.with_nulls()
            zero = public_a(party.index, np.zeros(len(table), dtype=U64))
            columns[name] = SharedColumn(ctype, tuple(join_null(ctype, list(column.lanes), zero)))
    return SharedTable(columns, valid, table.name)


def narrowed(table: SharedTable, types: Mapping[str, ColumnType]) -> SharedTable:
    """``table`` with the columns that :func:`null_safe_keys` widened back at ``types``."""
    columns = dict(table.columns)
    for name, ctype in types.items():
        column = columns.get(name)
        if column is not None and column.ctype.nullable and not ctype.nullable:
            values, _ = split_null(column.ctype, column.lanes)
            columns[name] = SharedColumn(column.ctype.base, tuple(values))
    return SharedTable(columns, table.valid, table.name)
