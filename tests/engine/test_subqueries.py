"""Scalar subqueries (uncorrelated: broadcast; correlated: grouped and joined) and EXISTS equal
DuckDB, with padding rows, NULL correlation keys and values, and empty inner tables."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.engine.oracle import declared_bounds, normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType
from tyst.planner.passes import physical_plan
from tyst.planner.planning import TableFacts
from tyst.sql import ir
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMAS = {
    "t": {"k": T("id?"), "g": T("text"), "v": T("int?"), "d": T("decimal(2)")},
    "u": {"k": T("id?"), "g": T("text"), "w": T("int?"), "x": T("decimal(2)")},
}


def _data(n_t: int, n_u: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)

    def maybe(values: list[object], p: float) -> list[object]:
        return [None if rng.random() < p else v for v in values]

    def table(n: int, low: int, high: int) -> dict[str, list[object]]:
        return {
            "k": maybe([f"k{int(v)}" for v in rng.integers(0, 6, n)], 0.15),
            "g": [["a", "b", "c"][int(v)] for v in rng.integers(0, 3, n)],
            "v" if low < 0 else "w": maybe([int(v) for v in rng.integers(low, high, n)], 0.1),
            "d" if low < 0 else "x": [Decimal(int(v)) / 100 for v in rng.integers(0, 10**4, n)],
        }

    return {"t": table(n_t, -20, 50), "u": table(n_u, 0, 30)}


SHAPES = {
    # uncorrelated: one global aggregate, its row broadcast to every row
    "where_avg": "SELECT k, v FROM t WHERE v > (SELECT AVG(w) FROM u)",
    "where_count_empty_is_0": "SELECT g, v FROM t WHERE v < (SELECT COUNT(*) FROM u WHERE w > 5)",
    "having": "SELECT g, SUM(v) AS s FROM t GROUP BY g "
    "HAVING SUM(v) > (SELECT SUM(w) FROM u) * 0.1",
    "select_list": "SELECT k, v - (SELECT MIN(w) FROM u) AS diff, (SELECT AVG(x) FROM u) AS a "
    "FROM t",
    "select_list_grouped": "SELECT g, COUNT(*) AS n, (SELECT MAX(x) FROM u) AS m FROM t GROUP BY g",
    "cte_twice": "WITH s AS (SELECT g, SUM(x) AS total FROM u GROUP BY g) "
    "SELECT g, total FROM s WHERE total = (SELECT MAX(total) FROM s)",
    "view_twice": "CREATE VIEW s (h, total) AS SELECT g, SUM(x) FROM u GROUP BY g; "
    "SELECT h, total FROM s WHERE total = (SELECT MAX(total) FROM s); DROP VIEW s",
    "two_scalars": "SELECT k FROM t WHERE d BETWEEN (SELECT MIN(x) FROM u) AND "
    "(SELECT MAX(x) FROM u WHERE g = 'a')",
    # correlated by equalities: grouped by the inner columns, joined on them
    "correlated_avg": "SELECT k, v FROM t WHERE v > (SELECT AVG(w) FROM u WHERE u.k = t.k)",
    "correlated_two_keys": "SELECT k, g, d FROM t WHERE d < "
    "(SELECT 0.5 * SUM(x) FROM u WHERE u.k = t.k AND u.g = t.g AND u.w > 3)",
    "correlated_min_equal": "SELECT k, d FROM t WHERE d < 99 AND "
    "v = (SELECT MIN(w) FROM u WHERE t.k = u.k)",
    "correlated_not_nested": "SELECT k, v FROM t WHERE NOT (v <= "
    "(SELECT MAX(w) FROM u WHERE u.k = t.k) + 1) AND g IN (SELECT g FROM u)",
    # COUNT over no rows is 0, not NULL: a left join (a row without a group gets 0)
    "correlated_count": "SELECT k, v FROM t WHERE v > (SELECT COUNT(*) FROM u WHERE u.k = t.k)",
    "correlated_count_zero": "SELECT k, g FROM t WHERE "
    "(SELECT COUNT(w) FROM u WHERE u.k = t.k AND u.g = t.g) = 0",
    "correlated_count_or": "SELECT k, v, d FROM t WHERE "
    "(SELECT COUNT(DISTINCT g) FROM u WHERE u.k = t.k AND u.x > 20) < 2 OR v IS NULL",
    # EXISTS: semi- and anti-joins; a NULL key never matches, so NOT EXISTS keeps its row
    "not_exists": "SELECT k, v FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k "
    "AND u.w > 3)",
    "exists_two_keys": "SELECT k, g FROM t WHERE EXISTS (SELECT * FROM u WHERE u.k = t.k "
    "AND u.g = t.g)",
    # EXISTS with inner.a <> outer.b besides equalities (TPC-H Q21): as two correlated COUNTs
    "exists_unequal": "SELECT k, g, v FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k "
    "AND u.g <> t.g)",
    "not_exists_unequal_nulls": "SELECT k, g, v FROM t WHERE NOT EXISTS (SELECT * FROM u "
    "WHERE u.k = t.k AND t.v <> u.w AND u.x > 10)",
    "q21_shape": "SELECT t1.g, COUNT(*) AS n FROM t t1 WHERE EXISTS (SELECT 1 FROM t t2 "
    "WHERE t2.k = t1.k AND t2.v <> t1.v) AND NOT EXISTS (SELECT 1 FROM t t3 WHERE "
    "t3.k = t1.k AND t3.v <> t1.v AND t3.d > 50) GROUP BY t1.g",
    "q22_shape": "SELECT g, COUNT(*) AS n, SUM(d) AS s FROM t WHERE v > "
    "(SELECT AVG(w) FROM u WHERE w > 0) AND NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k) "
    "GROUP BY g",
}
SIZES = [(0, 0), (1, 1), (7, 0), (37, 23)]


@pytest.mark.parametrize("sizes", SIZES, ids=[f"{a}x{b}" for a, b in SIZES])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_subquery_matches_duckdb(shape: str, sizes: tuple[int, int]) -> None:
    sql = SHAPES[shape]
    data = _data(*sizes, seed=sum(sizes) + len(shape))
    rng = np.random.default_rng(sizes[0])
    valid = {t: [bool(v) for v in rng.random(len(d["g"])) < 0.8] for t, d in data.items()}
    names, got = run_mpc(sql, SCHEMAS, data, valid)
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


def test_the_shapes_select_rows() -> None:
    """The larger data makes every shape select something (the comparisons can fail)."""
    for shape, sql in SHAPES.items():
        data = _data(37, 23, seed=60 + len(shape))  # as test_subquery_matches_duckdb's
        assert run_duckdb(sql, SCHEMAS, data)[1], shape


def test_a_cte_used_by_the_query_and_its_subquery_is_computed_once() -> None:
    compiled = compile_sql(SHAPES["cte_twice"], SCHEMAS, bounds=declared_bounds(SCHEMAS))
    plan = physical_plan(compiled.plan, {"u": TableFacts()})
    aggregates = [s for s in plan.steps if isinstance(s.node, ir.Aggregate)]
    assert len(aggregates) == 2  # the CTE's GROUP BY once, the subquery's MAX
    grouped = next(s for s in aggregates if s.node.keys)
    assert len(plan.dependents(grouped.number)) == 1  # its projection, read by both
    scans = [s for s in plan.steps if isinstance(s.node, ir.Scan)]
    assert len(scans) == 1
    assert any(isinstance(s.node, ir.Broadcast) for s in plan.steps)


REFUSED = {
    "SELECT k FROM t WHERE v > (SELECT SUM(w) FROM u WHERE u.k = t.k) OR v IS NULL": "OR",
    # the row without a MAX group may still be kept by the other subquery's branch
    "SELECT k FROM t WHERE v > (SELECT MAX(w) FROM u WHERE u.k = t.k) "
    "OR d < (SELECT SUM(x) FROM u WHERE u.g = t.g)": "OR",
    "SELECT k FROM t WHERE COALESCE((SELECT SUM(w) FROM u WHERE u.k = t.k), 0) < 3": "COALESCE",
    "SELECT k FROM t WHERE v > (SELECT SUM(w) FROM u WHERE u.w > t.v)": "must be an equality",
    "SELECT k, (SELECT SUM(w) FROM u WHERE u.k = t.k) AS s FROM t": "only in WHERE",
    "SELECT k FROM t WHERE v > (SELECT SUM(w) FROM u GROUP BY g)": "provably one row",
    "SELECT k FROM t WHERE v > (SELECT w FROM u)": "provably one row",
    "SELECT k FROM t WHERE v > (SELECT SUM(w) FROM u HAVING SUM(w) > 3)": "provably one row",
    "SELECT g, SUM(v + (SELECT MAX(w) FROM u)) AS s FROM t GROUP BY g": "not here",
    "SELECT k FROM t WHERE v > (SELECT MAX(w) FROM u WHERE u.k = t.k GROUP BY u.g)": "GROUP BY",
    "SELECT k FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.g <> t.g "
    "AND u.w <> t.v)": "one condition inner.a <> outer.b",
    "SELECT k FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.w < t.v)": "equality",
    # a view is a CTE of the one query; nothing else besides it
    "CREATE VIEW s AS SELECT g FROM u; SELECT g FROM s; DROP VIEW z": "exactly the views",
    "CREATE TABLE s AS SELECT g FROM u; SELECT g FROM s": "may only CREATE VIEW",
    "CREATE OR REPLACE VIEW s AS SELECT g FROM u; SELECT g FROM s": "may only CREATE VIEW",
    "SELECT g FROM u; SELECT g FROM t": "exactly one SQL statement",
    "CREATE VIEW s AS SELECT g FROM u; SELECT g FROM s; DELETE FROM u": "only DROP VIEW",
}


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_unsupported_subqueries_are_refused_in_one_line(sql: str) -> None:
    with pytest.raises(SqlError) as refused:
        compile_sql(sql, SCHEMAS, bounds=declared_bounds(SCHEMAS))
    assert REFUSED[sql] in str(refused.value)
    assert "\n" not in str(refused.value)
