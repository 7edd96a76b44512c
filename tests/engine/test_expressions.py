"""Expressions evaluated over shares equal DuckDB's evaluation of the same SQL on the same rows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pytest

from tests.engine.oracle import data_bounds
from tests.mpc.harness import run3
from tyst.data.types import ColumnType, text_key
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare
from tyst.ops.expressions import EPOCH, Evaluator
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.ring.words import U64
from tyst.sql import ir
from tyst.sql.compiler import compile_sql

T = ColumnType.parse
SCHEMA = {
    "k": T("id"),
    "a": T("int"),
    "b": T("int"),
    "d": T("decimal(2)"),
    "m": T("date"),
    "f": T("bool"),
}
N = 301


def _rows() -> dict[str, list[object]]:
    rng = np.random.default_rng(3)
    return {
        "k": [f"p{int(v)}" for v in rng.integers(0, 20, N)],
        "a": [int(v) for v in rng.integers(-1000, 1000, N)],
        "b": [int(v) for v in rng.integers(-5, 5, N)],
        "d": [Decimal(int(v)) / 100 for v in rng.integers(-100_000, 100_000, N)],
        "m": [date(2026, 1, 1) + timedelta(days=int(v)) for v in rng.integers(0, 365, N)],
        "f": [bool(v) for v in rng.integers(0, 2, N)],
    }


def _lanes(ctype: ColumnType, values: list[object]) -> list[np.ndarray]:
    if ctype.is_text:
        keys = [text_key(str(v)) for v in values]
        lanes = [np.array([k[i] for k in keys], dtype=U64) for i in range(2)]
        return lanes + [np.zeros(len(values), U64)] * (ctype.lanes - 2)
    if ctype.kind == "date":
        ints = [(v - EPOCH).days for v in values]  # type: ignore[operator]
    elif ctype.kind == "decimal":
        ints = [int(Decimal(v) * 10**ctype.scale) for v in values]  # type: ignore[arg-type]
    else:
        ints = [int(v) for v in values]  # type: ignore[call-overload]
    return [np.array(ints, dtype=np.int64).view(U64)]


EXPRESSIONS = [
    "a + b", "a - 7", "a * b", "d * 3", "d + a", "d * d", "-a",
    "a < b", "a >= -3", "d > 100.5", "m BETWEEN DATE '2026-03-01' AND '2026-06-30'",
    "k = 'p3'", "k <> 'p4'", "k IN ('p1', 'p2', 'p17')", "a NOT IN (1, 2, 3)",
    "f", "NOT f AND a > 0", "f OR b = 0",
    "CASE WHEN a > 500 THEN 2 WHEN a > 0 THEN 1 ELSE 0 END",
    "CASE WHEN f THEN d ELSE a END",
    "CASE WHEN b > 0 THEN k ELSE 'none' END = 'p5'",
]  # fmt: skip


def _oracle(sql: str, rows: dict[str, list[object]]) -> list[object]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (k VARCHAR, a BIGINT, b BIGINT, d DECIMAL(18,2), m DATE, f BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
        list(zip(*(rows[c] for c in SCHEMA), strict=True)),
    )
    return [r[0] for r in con.execute(sql).fetchall()]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expression_matches_duckdb(expression: str) -> None:
    rows = _rows()
    sql = f"SELECT {expression} AS v FROM t"
    compiled = compile_sql(sql, {"t": SCHEMA}, bounds=data_bounds({"t": SCHEMA}, {"t": rows}))
    project = compiled.plan
    assert isinstance(project, ir.Project)
    expr = project.outputs[0][1]
    parts = {c: [split(lane) for lane in _lanes(SCHEMA[c], rows[c])] for c in SCHEMA}

    def program(p: Party) -> tuple[list[np.ndarray], list[np.ndarray]]:
        cols = {
            f"t.{c}": SharedColumn(
                SCHEMA[c], tuple(AShare(ps[p.index].first, ps[p.index].second) for ps in lanes)
            )
            for c, lanes in parts.items()
        }
        table = SharedTable(cols, all_valid(p.index, N))
        out = Evaluator(p, table).evaluate(expr)
        return [lane.a for lane in out.lanes], [lane.b for lane in out.lanes]

    results = run3(program)
    lanes = [
        combine([NodeShares(i, "arith", results[i][0][j], results[i][1][j]) for i in range(3)])
        for j in range(len(results[0][0]))
    ]
    want = _oracle(sql, rows)
    got_first = lanes[0].view(np.int64)
    t = expr.ctype
    if t == ir.BOOL:
        assert got_first.tolist() == [int(v) for v in want]
    elif t.kind == "decimal":
        assert [Decimal(int(v)) / 10**t.scale for v in got_first] == [Decimal(v) for v in want]
    elif t.is_text:
        assert [(int(lanes[0][i]), int(lanes[1][i])) for i in range(N)] == [
            text_key(v) for v in want
        ]
    else:
        assert got_first.tolist() == want
