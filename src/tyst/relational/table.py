"""A secret-shared table: typed columns of share lanes plus a validity bit per row.

Contract:
- Every column has ``ctype.lanes`` arithmetic sharings (``AShare``) of length n,
  laid out as in :mod:`tyst.data.types`; the first ``ctype.key_lanes`` lanes are
  what equality, grouping, joins and ordering use.
- ``valid`` is a boolean sharing with the row's validity in bit 0 (other bits
  zero). Invalid rows are padding: their column values are arbitrary and must
  never influence a result.
- Column order is the dict order (the order of a SELECT list).
- All lanes and ``valid`` have the same length n (possibly 0). n itself is
  public (the nodes know input row counts; operators keep n data-independent).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from tyst.data.types import ColumnType
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_b
from tyst.ring.words import U64


@dataclass(frozen=True)
class SharedColumn:
    """One column: its type and its lanes (see module contract)."""

    ctype: ColumnType
    lanes: tuple[AShare, ...]

    def __post_init__(self) -> None:
        if len(self.lanes) != self.ctype.lanes:
            raise ValueError(f"{self.ctype} needs {self.ctype.lanes} lanes, got {len(self.lanes)}")
        sizes = {len(lane) for lane in self.lanes}
        if len(sizes) > 1:
            raise ValueError("lanes of one column differ in length")

    def __len__(self) -> int:
        return len(self.lanes[0])

    @property
    def key(self) -> tuple[AShare, ...]:
        """The lanes that equality, grouping, joins and ordering compare."""
        return self.lanes[: self.ctype.key_lanes]

    def take(self, index: slice | np.ndarray) -> SharedColumn:
        """Rows selected by a *public* index or slice (local)."""
        return SharedColumn(self.ctype, tuple(lane[index] for lane in self.lanes))


@dataclass(frozen=True)
class SharedTable:
    """Typed columns plus the validity bit of each row (see module contract)."""

    columns: Mapping[str, SharedColumn]
    valid: BShare
    name: str = field(default="")

    def __post_init__(self) -> None:
        n = len(self.valid)
        for col_name, column in self.columns.items():
            if len(column) != n:
                raise ValueError(f"column {col_name!r} has {len(column)} rows, table has {n}")

    def __len__(self) -> int:
        return len(self.valid)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def column(self, name: str) -> SharedColumn:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in table {self.name or '(derived)'}") from None

    def with_valid(self, valid: BShare) -> SharedTable:
        """The same columns with a new validity sharing."""
        return SharedTable(self.columns, valid, self.name)

    def take(self, index: slice | np.ndarray) -> SharedTable:
        """Rows selected by a *public* index or slice (local)."""
        return SharedTable(
            {k: c.take(index) for k, c in self.columns.items()}, self.valid[index], self.name
        )


def all_valid(party: int, n: int) -> BShare:
    """A validity sharing with every one of n rows valid (public, local)."""
    return public_b(party, np.ones(n, dtype=U64))


def concat_tables(tables: list[SharedTable], name: str = "") -> SharedTable:
    """Row-wise concatenation (UNION ALL); columns matched by position, types must agree."""
    if not tables:
        raise ValueError("nothing to concatenate")
    first = tables[0]
    names = list(first.columns)
    for t in tables[1:]:
        if [c.ctype for c in t.columns.values()] != [c.ctype for c in first.columns.values()]:
            raise ValueError("UNION ALL of tables with different column types")
    columns = {}
    for i, col_name in enumerate(names):
        parts = [list(t.columns.values())[i] for t in tables]
        lanes = tuple(
            concat_a([p.lanes[j] for p in parts])
            for j in range(first.columns[col_name].ctype.lanes)
        )
        columns[col_name] = SharedColumn(first.columns[col_name].ctype, lanes)
    return SharedTable(columns, concat_b([t.valid for t in tables]), name)
