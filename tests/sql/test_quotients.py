"""The quotients pass: an undeclared a / b only where it is delivered or compared."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tyst.data.types import ColumnType, TableBounds
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

SCHEMAS = {"t": {"k": ColumnType("int"), "x": ColumnType("int")}}
BOUNDS = {"t": TableBounds(1000, {"k": (Decimal(0), Decimal(9)), "x": (Decimal(0), Decimal(999))})}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT t.x / 3 AS q FROM t",
        "SELECT t.k, t.x / 3 + 1 AS q FROM t ORDER BY t.k",
        "SELECT (t.x / 3) * 2 AS q FROM t",
        "SELECT t.k FROM t WHERE t.x / 3 > 2",
        "SELECT t.k, AVG(t.x) * 2 AS a FROM t GROUP BY t.k",
        "SELECT t.k FROM t GROUP BY t.k HAVING AVG(t.x) > 3",
        "SELECT d.q FROM (SELECT ROUND(t.x / 3, 2) AS q FROM t) AS d",
        "SELECT SUM(d.q) AS s FROM (SELECT CAST(t.x / 3 AS DECIMAL(18, 2)) AS q FROM t) AS d",
        "SELECT q FROM (SELECT t.x / 3 AS q FROM t) AS d",
    ],
)
def test_delivered_compared_or_declared_quotients_compile(sql: str) -> None:
    compile_sql(sql, SCHEMAS, bounds=BOUNDS)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT SUM(d.q) AS s FROM (SELECT t.x / 3 AS q FROM t) AS d",
        "SELECT d.q, COUNT(*) AS n FROM (SELECT t.x / 3 AS q FROM t) AS d GROUP BY d.q",
        "SELECT t.x / 3 AS q FROM t ORDER BY q",
        "SELECT DISTINCT t.x / 3 AS q FROM t",
        "SELECT CASE WHEN t.k > 0 THEN t.x / 3 ELSE 0 END * 3 AS q FROM t",
        "WITH w AS (SELECT t.k, t.x / 3 AS q FROM t) "
        "SELECT a.q FROM w AS a JOIN w AS b ON a.k = b.k",
    ],
)
def test_quotients_whose_rounding_would_show_are_refused(sql: str) -> None:
    with pytest.raises(SqlError, match=r"\[quotients\]$") as info:
        compile_sql(sql, SCHEMAS, bounds=BOUNDS)
    assert "\n" not in str(info.value)
    assert "ROUND(" in str(info.value)
