"""NULLs: nullable columns, three-valued logic, IS NULL, COALESCE, NULLIF, CASE without ELSE;
the MPC result equals DuckDB's on the same rows (padding rows mixed in)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.engine.test_queries import assert_matches_duckdb
from tyst.data.types import ColumnType
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
DAY0 = date(2026, 1, 1)
SCHEMAS = {
    "p": {
        "k": T("id"),
        "x": T("int?"),
        "y": T("int?"),
        "d": T("decimal(2)?"),
        "dag": T("date?"),
        "b": T("bool?"),
        "c": T("bool?"),
        "s": T("text?"),
        "z": T("int"),
    },
    "q": {"k": T("id"), "x": T("int"), "s": T("text")},
}


def _data(n: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)

    def maybe(values: list[object], share: float = 0.3) -> list[object]:
        return [None if rng.random() < share else v for v in values]

    return {
        "p": {
            "k": [f"k{int(v)}" for v in rng.integers(0, 8, n)],
            "x": maybe([int(v) for v in rng.integers(-3, 4, n)]),
            "y": maybe([int(v) for v in rng.integers(-3, 4, n)]),
            "d": maybe([Decimal(int(v)) / 100 for v in rng.integers(-500, 500, n)]),
            "dag": maybe(
                [date(2026, 1, 1) + timedelta(days=int(v)) for v in rng.integers(0, 400, n)]
            ),
            "b": maybe([bool(v) for v in rng.integers(0, 2, n)]),
            "c": maybe([bool(v) for v in rng.integers(0, 2, n)]),
            "s": maybe([f"s{int(v)}" for v in rng.integers(0, 4, n)]),
            "z": [int(v) for v in rng.integers(-3, 4, n)],
        },
        "q": {
            "k": [f"k{int(v)}" for v in rng.integers(0, 8, n // 2 + 1)],
            "x": [int(v) for v in rng.integers(-3, 4, n // 2 + 1)],
            "s": [f"s{int(v)}" for v in rng.integers(0, 4, n // 2 + 1)],
        },
    }


def _valid(data: Mapping[str, Mapping[str, list[object]]], seed: int) -> dict[str, list[bool]]:
    rng = np.random.default_rng(seed)
    return {
        t: [bool(v) for v in rng.random(len(next(iter(d.values())))) < 0.8] for t, d in data.items()
    }


def check(sql: str, n: int, *, ordered: bool = False) -> None:
    data = _data(n, seed=n + 5)
    assert_matches_duckdb(sql, SCHEMAS, data, _valid(data, seed=n), ordered=ordered)


EXPRESSION_SHAPES = {
    "columns": "SELECT k, x, d, dag, b, s, z FROM p",
    "arith": "SELECT x + y AS a, x - 1 AS b, x * y AS c, d * 2 AS e, z + x AS f, "
    "d + x AS g, dag + 3 AS h, -x AS i FROM p",
    "compare": "SELECT x = y AS a, x < 1 AS b, s = 's1' AS c, s <> q AS e, d >= 0.5 AS f, "
    "dag > DATE '2026-06-01' AS g FROM (SELECT *, 's2' AS q FROM p) AS t",
    "logic": "SELECT b AND c AS a, b OR c AS o, NOT b AS n, b AND z > 0 AS m, "
    "(x > 0 OR y > 0) AND NOT c AS w, b OR c OR x = 1 AS three FROM p",
    "where_three_valued": "SELECT k, x FROM p WHERE x > 0 OR y > 0",
    "where_not": "SELECT k FROM p WHERE NOT (x > 0 AND b)",
    "is_null": "SELECT x IS NULL AS a, s IS NOT NULL AS b, z IS NULL AS c, "
    "NOT (b IS NULL) AS e FROM p WHERE dag IS NOT NULL OR x IS NULL",
    "coalesce": "SELECT COALESCE(x, y, 0) AS a, COALESCE(x, y) AS b, COALESCE(d, 1.5) AS c, "
    "COALESCE(s, 'none') AS e, COALESCE(dag, DATE '2020-01-01') AS f, COALESCE(z, x) AS g, "
    "COALESCE(b, c, FALSE) AS h FROM p",
    "nullif": "SELECT NULLIF(x, 0) AS a, NULLIF(z, y) AS b, NULLIF(s, 's1') AS c, "
    "NULLIF(d, 0.5) AS e FROM p",
    "case_without_else": "SELECT CASE WHEN x > 0 THEN 'pos' WHEN x < 0 THEN 'neg' END AS a, "
    "CASE WHEN b THEN z END AS c, CASE WHEN z > 0 THEN x ELSE d END AS e FROM p",
    "case_null_branches": "SELECT CASE WHEN z > 0 THEN NULL ELSE x END AS a, "
    "CASE WHEN x IS NULL THEN 1 ELSE NULL END AS c FROM p",
    "in_list": "SELECT x IN (1, 2) AS a, s NOT IN ('s1', 's3') AS c FROM p "
    "WHERE x NOT IN (0, 3) OR x IS NULL",
    "in_list_with_null": "SELECT x IN (1, NULL) AS a, z NOT IN (2, NULL, 3) AS c, "
    "s IN (NULL) AS e, z IN (NULL, 0) AS f FROM p WHERE z NOT IN (1, NULL) OR x IS NULL",
    "literal_null": "SELECT NULL AS a, x + NULL AS c, x = NULL AS e, NULL AND b AS f, "
    "NULL OR TRUE AS g FROM p",
    "calendar": "SELECT EXTRACT(MONTH FROM dag) AS m, DATE_TRUNC('month', dag) AS t, "
    "YEAR(dag) AS y FROM p",
    "like": "SELECT s LIKE 's%' AS a, s NOT LIKE '%1' AS c, s LIKE '%' AS e FROM p",
    "abs_cast": "SELECT ABS(x) AS a, CAST(x AS DECIMAL(18, 2)) AS c, dag + INTERVAL '2' DAY AS e "
    "FROM p",
    "union_widens": "SELECT k, x FROM p UNION ALL SELECT k, x FROM q",
    "group_by_nullable": "SELECT x, s, COUNT(*) AS n FROM p GROUP BY x, s",
    "distinct_nullable": "SELECT DISTINCT x, b FROM p",
    "having_three_valued": "SELECT x, COUNT(*) AS n FROM p GROUP BY x HAVING x > 0 OR COUNT(*) > 2",
}


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(EXPRESSION_SHAPES))
def test_nulls_match_duckdb(shape: str, n: int) -> None:
    check(EXPRESSION_SHAPES[shape], n)


AGGREGATE_SHAPES = {
    "grouped": "SELECT k, COUNT(*) AS n, COUNT(x) AS cx, SUM(x) AS sx, MIN(x) AS mi, "
    "MAX(d) AS md, AVG(x) AS ax, MIN(dag) AS f, MAX(b) AS mb, COUNT(s) AS cs FROM p GROUP BY k",
    "grouped_distinct": "SELECT k, COUNT(DISTINCT x) AS dx, COUNT(DISTINCT s) AS ds, "
    "COUNT(DISTINCT z) AS dz FROM p GROUP BY k",
    "grouped_by_nullable": "SELECT s, SUM(y) AS sy, COUNT(y) AS cy, MAX(x) AS mx FROM p GROUP BY s",
    "all_null_group": "SELECT z, SUM(CASE WHEN z > 0 THEN x END) AS s, "
    "MIN(CASE WHEN z > 1 THEN d END) AS m, AVG(NULLIF(x, x)) AS a FROM p GROUP BY z",
    "global": "SELECT COUNT(*) AS n, COUNT(x) AS cx, SUM(x) AS sx, MIN(x) AS mi, MAX(dag) AS md, "
    "AVG(d) AS ad, SUM(z) AS sz, COUNT(DISTINCT s) AS ds, MIN(z) AS mz FROM p",
    "global_filtered_empty": "SELECT SUM(x) AS s, MIN(z) AS m, COUNT(x) AS c, "
    "COALESCE(SUM(z), 0) AS c0, MAX(d) + 1 AS m1 FROM p WHERE z > 100",
    "global_below_top": "SELECT t.s IS NULL AS empty, COALESCE(t.s, -1) AS s, t.m FROM "
    "(SELECT SUM(x) AS s, MAX(z) AS m FROM p WHERE z > 1) AS t",
    "global_having": "SELECT SUM(x) AS s FROM p HAVING SUM(x) > 0",
    "global_in_union": "SELECT MIN(x) AS m FROM p UNION ALL SELECT MAX(x) FROM q",
    "having_nullable": "SELECT k, SUM(x) AS s FROM p GROUP BY k HAVING SUM(x) > 0 OR MIN(y) < 0",
    "join_nullable_key": "SELECT p.k, p.x, q.c FROM p JOIN (SELECT x, COUNT(s) AS c FROM q "
    "GROUP BY x) AS q ON p.x = q.x",
    "join_both_nullable": "SELECT a.k, b.z FROM p a JOIN (SELECT y, MAX(z) AS z FROM p GROUP BY y) "
    "AS b ON a.x = b.y",
    "join_nullable_text": "SELECT q.k, p.x FROM q JOIN (SELECT s, SUM(x) AS x FROM p GROUP BY s) "
    "AS p ON q.s = p.s",
    "semi_nullable": "SELECT k, x FROM p WHERE x IN (SELECT x FROM q)",
    "semi_subquery_nullable": "SELECT k, x FROM q WHERE x IN (SELECT y FROM p)",
    "exists_nullable": "SELECT q.k FROM q WHERE EXISTS (SELECT 1 FROM p WHERE p.y = q.x)",
    "not_exists_nullable": "SELECT p.k, p.x FROM p WHERE NOT EXISTS "
    "(SELECT 1 FROM p r WHERE r.y = p.x AND r.z > 0)",
    "distinct_all_nullable": "SELECT DISTINCT s, b, dag FROM p",
}
ORDER_SHAPES = {
    "order_nullable": "SELECT x, z, k FROM p ORDER BY x, z, k",
    "order_nullable_desc": "SELECT x, d, k FROM p ORDER BY x DESC, d, k, z",
    "order_nulls_first": "SELECT x, k FROM p ORDER BY x NULLS FIRST, k, z, y DESC NULLS FIRST",
    "order_text_nullable": "SELECT s, k FROM p ORDER BY s DESC, k, z, x, y",
    "order_limit_nullable": "SELECT k, SUM(x) AS s FROM p GROUP BY k ORDER BY s DESC, k LIMIT 4",
    "order_global": "SELECT SUM(x) AS s FROM p ORDER BY s",
}


G = "(SELECT k, COUNT(*) AS n, SUM(x) AS sx FROM q GROUP BY k)"
OUTER_SHAPES = {
    "left": f"SELECT p.k, p.x, g.n, g.sx FROM p LEFT JOIN {G} AS g ON p.k = g.k",
    "left_outer_unique_left": f"SELECT g.k, g.n, p.x, p.s FROM {G} AS g LEFT OUTER JOIN p "
    "ON g.k = p.k",
    "right": f"SELECT p.k, p.x, g.k AS gk, g.n FROM p RIGHT JOIN {G} AS g ON p.k = g.k",
    "right_unique_left": f"SELECT g.n, p.k, p.y FROM {G} AS g RIGHT JOIN p ON p.k = g.k",
    "full": f"SELECT p.k, p.z, g.k AS gk, g.sx FROM p FULL OUTER JOIN {G} AS g ON p.k = g.k",
    "full_unique_left": f"SELECT g.k, g.n, p.k AS pk, p.d FROM {G} AS g FULL JOIN p ON p.k = g.k",
    "left_nullable_key": "SELECT p.k, p.x, g.n FROM p LEFT JOIN (SELECT x, COUNT(*) AS n "
    "FROM q GROUP BY x) AS g ON p.x = g.x",
    "full_nullable_keys": "SELECT a.x, a.n, b.y, b.m FROM (SELECT x, COUNT(*) AS n FROM p "
    "GROUP BY x) AS a FULL JOIN (SELECT y, MAX(z) AS m FROM p GROUP BY y) AS b ON a.x = b.y",
    "left_on_right_condition": f"SELECT p.k, g.n FROM p LEFT JOIN {G} AS g "
    "ON p.k = g.k AND g.n > 1 AND g.sx IS NOT NULL",
    "right_on_left_condition": f"SELECT p.k, g.n FROM {G} AS g RIGHT JOIN p "
    "ON p.k = g.k AND g.n > 1",
    "left_using": f"SELECT k, g.n FROM p LEFT JOIN {G} AS g USING (k)",
    "left_where_unmatched": f"SELECT p.k, p.z FROM p LEFT JOIN {G} AS g ON p.k = g.k "
    "WHERE g.k IS NULL",
    "left_then_count": f"SELECT g.k, COUNT(p.x) AS c, COUNT(*) AS n FROM {G} AS g "
    "LEFT JOIN p ON g.k = p.k GROUP BY g.k",
    "left_chain": f"SELECT p.k, g.n, h.c FROM p LEFT JOIN {G} AS g ON p.k = g.k "
    "LEFT JOIN (SELECT s, COUNT(*) AS c FROM q GROUP BY s) AS h ON p.s = h.s",
    "left_then_inner": f"SELECT p.k, g.n, h.c FROM p LEFT JOIN {G} AS g ON p.k = g.k "
    "JOIN (SELECT s, COUNT(*) AS c FROM q GROUP BY s) AS h ON p.s = h.s",
    "left_aggregate_over": f"SELECT COALESCE(g.n, 0) AS n, COUNT(*) AS rows FROM p "
    f"LEFT JOIN {G} AS g ON p.k = g.k GROUP BY COALESCE(g.n, 0)",
}


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(OUTER_SHAPES))
def test_outer_joins_match_duckdb(shape: str, n: int) -> None:
    check(OUTER_SHAPES[shape], n)


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(AGGREGATE_SHAPES))
def test_null_aggregates_and_joins_match_duckdb(shape: str, n: int) -> None:
    check(AGGREGATE_SHAPES[shape], n)


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(ORDER_SHAPES))
def test_null_order_matches_duckdb(shape: str, n: int) -> None:
    check(ORDER_SHAPES[shape], n, ordered=True)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT x IS TRUE FROM p", "only IS [NOT] NULL"),
        ("SELECT k FROM p WHERE x NOT IN (SELECT x FROM q)", "NOT IN (SELECT …) on the nullable"),
        ("SELECT k FROM q WHERE x NOT IN (SELECT y FROM p)", "NOT IN (SELECT …) on the nullable"),
        (
            f"SELECT p.k FROM p LEFT JOIN {G} AS g ON p.k = g.k AND p.z > 0",
            "LEFT JOIN … ON supports equalities between the two sides and conditions on the "
            "right side",
        ),
        (f"SELECT p.k FROM p FULL JOIN {G} AS g ON p.k = g.k AND g.n > 0", "and no other"),
        (f"SELECT k FROM p RIGHT JOIN {G} AS g USING (k)", "RIGHT JOIN … USING is not"),
    ],
)
def test_refused(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=re.escape(message)):
        compile_sql(sql, SCHEMAS)


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        (EXPRESSION_SHAPES["logic"], False),
        (AGGREGATE_SHAPES["grouped"], False),
        (AGGREGATE_SHAPES["global"], False),
        (ORDER_SHAPES["order_nulls_first"], True),
        (OUTER_SHAPES["full_nullable_keys"], False),
        (OUTER_SHAPES["left_then_count"], False),
    ],
)
def test_nulls_at_a_larger_size(sql: str, ordered: bool) -> None:
    check(sql, 151, ordered=ordered)
