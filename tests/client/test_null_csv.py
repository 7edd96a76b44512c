"""NULLs end to end in the file formats: the owner's reader encodes an empty CSV field of a
nullable column exactly as the test oracle encodes None, and the recipient's decoder writes
a NULL as DuckDB's CSV writer does (an empty field)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np

from tests.engine.oracle import encode
from tyst.client.recipient import decode_rows
from tyst.data.files import read_table, write_csv_text
from tyst.data.types import ColumnType, TableBounds
from tyst.sql import ir

T = ColumnType.parse
COLUMNS = {"k": T("id"), "x": T("int?"), "d": T("decimal(2)?"), "dag": T("date?"), "s": T("text?")}
ROWS: list[tuple[object, ...]] = [
    ("a", 1, Decimal("1.50"), date(2026, 1, 2), "å"),
    ("b", None, None, None, None),
    ("c", -3, Decimal("-0.05"), None, "x y"),
    ("d", None, Decimal("2.00"), date(1969, 12, 31), None),
]


def _csv(rows: list[tuple[object, ...]]) -> str:
    lines = ["k,x,d,dag,s"] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def test_owner_reader_encodes_nulls_as_the_oracle_does(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(_csv(ROWS), encoding="utf-8")
    wide = TableBounds(values={"x": (Decimal(-10), Decimal(10))})
    (chunk,) = list(read_table(path, COLUMNS, bounds=wide))
    for i, (name, ctype) in enumerate(COLUMNS.items()):
        want = encode(ctype, [r[i] for r in ROWS])
        assert len(chunk.lanes[name]) == ctype.lanes
        for got_lane, want_lane in zip(chunk.lanes[name], want, strict=True):
            assert got_lane.tolist() == np.asarray(want_lane).tolist()


def test_recipient_writes_nulls_as_duckdb_does(tmp_path: Path) -> None:
    schema = tuple(COLUMNS.items())
    root = ir.Project(schema, ir.Scan(schema, "t", "t"), ())
    lanes = [lane for i, (_, t) in enumerate(schema) for lane in encode(t, [r[i] for r in ROWS])]
    valid = np.ones(len(ROWS), dtype=np.uint64)
    header, rows = decode_rows(root, lanes, valid)
    ours = write_csv_text(header, rows)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, x BIGINT, d DECIMAL(18,2), dag DATE, s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    out = tmp_path / "duck.csv"
    con.execute(f"COPY (SELECT * FROM t) TO '{out}' (HEADER, DELIMITER ',')")
    assert ours == out.read_text(encoding="utf-8")
    assert rows[1] == ["b", "", "", "", ""]
