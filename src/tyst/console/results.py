"""A recipient's result as the console shows and offers it: masked table view, CSV, Parquet.

Contract: :func:`table_view` gives the first ``limit`` rows with every ``id`` column
masked unless asked otherwise (a page never shows thousands of person numbers by
default); :func:`parquet_bytes` writes the result typed (int → int64, decimal →
decimal128 with its scale, date → date32, bool → bool, id/text/average → string; an
empty value of a nullable column → null); :func:`csv_bytes` is exactly the CLI's
``tyst result fetch`` CSV (:func:`tyst.data.files.write_csv_text`).
"""

from __future__ import annotations

import io

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tyst.client.recipient import Result
from tyst.data.files import write_csv_text
from tyst.data.types import ColumnType

MASK = "••••••••"
DEFAULT_ROWS = 50


def table_view(
    result: Result, types: list[ColumnType], *, unmask: bool, limit: int | None
) -> tuple[list[str], list[list[str]], bool]:
    """``(header, shown rows, masked?)``: at most ``limit`` rows (``None``: all), id
    columns replaced by :data:`MASK` unless ``unmask``."""
    ids = [i for i, t in enumerate(types) if t.kind == "id"]
    masked = bool(ids) and not unmask
    rows = result.rows if limit is None else result.rows[:limit]
    if masked:
        rows = [[MASK if i in ids and v else v for i, v in enumerate(r)] for r in rows]
    return result.header, rows, masked


def csv_bytes(result: Result) -> bytes:
    return write_csv_text(result.header, result.rows).encode("utf-8")


def _arrow_type(ctype: ColumnType) -> pa.DataType:
    if ctype.kind == "int":
        return pa.int64()
    if ctype.kind == "decimal":
        return pa.decimal128(38, ctype.scale)
    if ctype.kind == "date":
        return pa.date32()
    if ctype.kind == "bool":
        return pa.bool_()
    return pa.string()


def parquet_bytes(result: Result, types: list[ColumnType]) -> bytes:
    """The result as one Parquet file (see the module docstring for the types)."""
    arrays = []
    for i, ctype in enumerate(types):
        values: list[str | None] = [r[i] for r in result.rows]
        if ctype.nullable or ctype.kind not in ("id", "text", "ratio"):
            values = [v if v != "" else None for v in values]
        column = pa.array(values, pa.string())
        target = _arrow_type(ctype)
        arrays.append(column if target == pa.string() else column.cast(target))
    table = pa.Table.from_arrays(arrays, names=result.header)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
