"""Window functions: the MPC result equals DuckDB's on the same rows (ties, NULLs in values and
keys, padding rows, n = 0, 1, 2 and odd), and what is not implemented is refused in one line."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.engine.oracle import normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType, TableBounds
from tyst.planner.planning import TableFacts
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMAS = {
    "t": {
        "k": T("int"),  # unique: makes ROW_NUMBER, LAG/LEAD and ROWS frames deterministic
        "g": T("text?"),
        "h": T("int"),
        "v": T("int?"),
        "d": T("decimal(2)?"),
        "day": T("date"),
        "ok": T("bool"),
        "s": T("text"),
    },
    "u": {"h": T("int"), "w": T("int")},
}


def _data(n: int, seed: int) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    rng = np.random.default_rng(seed)

    def maybe(values: list[object], share: float) -> list[object]:
        return [None if rng.random() < share else x for x in values]

    data: dict[str, dict[str, list[object]]] = {
        "t": {
            "k": [int(x) for x in rng.permutation(1000)[:n]],
            "g": maybe([["a", "b", "ö"][int(x)] for x in rng.integers(0, 3, n)], 0.15),
            "h": [int(x) for x in rng.integers(-2, 4, n)],  # many ties
            "v": maybe([int(x) for x in rng.integers(-50, 50, n)], 0.25),
            "d": maybe([Decimal(int(x)).scaleb(-2) for x in rng.integers(-999, 999, n)], 0.2),
            "day": [date(2026, 1, 1) + timedelta(days=int(x)) for x in rng.integers(0, 5, n)],
            "ok": [bool(x) for x in rng.integers(0, 2, n)],
            "s": [["Åsa", "bo", "Cid", "ö", "bo"][int(x)] for x in rng.integers(0, 5, n)],
        },
        "u": {"h": [-2, -1, 0, 1, 2, 3], "w": [int(x) for x in rng.integers(0, 9, 6)]},
    }
    valid = {"t": [bool(x) for x in rng.random(n) < 0.75], "u": [True] * 6}
    return data, valid


WINDOWS = {
    "row_number": "SELECT k, g, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC, k) AS rn FROM t",
    "rank_dense_rank": "SELECT k, RANK() OVER (PARTITION BY g ORDER BY v) AS r, "
    "DENSE_RANK() OVER (PARTITION BY g ORDER BY v DESC NULLS FIRST) AS dr, "
    "RANK() OVER (ORDER BY h, day) AS r2 FROM t",
    "rank_without_order": "SELECT k, RANK() OVER (PARTITION BY g) AS r, "
    "DENSE_RANK() OVER () AS dr FROM t",
    "lag_lead": "SELECT k, LAG(v) OVER (PARTITION BY g ORDER BY k) AS p, "
    "LEAD(d, 1) OVER (PARTITION BY g ORDER BY k) AS nx, LAG(g, 2) OVER (ORDER BY k) AS p2, "
    "LEAD(h, 3, -1) OVER (PARTITION BY h ORDER BY day, k) AS n3, "
    "LAG(day, 1, DATE '2000-01-01') OVER (ORDER BY k DESC) AS pd FROM t",
    "lag_text_and_bool": "SELECT k, LAG(g, 1, 'none') OVER (PARTITION BY h ORDER BY k) AS pg, "
    "LEAD(ok) OVER (PARTITION BY g ORDER BY k) AS nok FROM t",
    "lag_computed_text": "SELECT k, LAG(LOWER(s), 1, 'zz') OVER (PARTITION BY g ORDER BY k) AS p, "
    "LEAD(s) OVER (ORDER BY s, k) AS q, ROW_NUMBER() OVER (PARTITION BY LEFT(s, 1) "
    "ORDER BY LOWER(s) DESC, k) AS r, LAG(LEFT(s, 3) || '.', 1, '-') OVER (ORDER BY k) AS t FROM t",
    "lag_key_only": "SELECT COUNT(*) AS n, COUNT(d.q) AS m FROM (SELECT LAG(s) OVER (ORDER BY k) "
    "AS p, LEAD(g, 1, 'bo') OVER (ORDER BY k) AS q FROM t) AS d WHERE d.p = 'bo' OR d.q = 'bo'",
    "running_sums": "SELECT k, SUM(v) OVER (PARTITION BY g ORDER BY h) AS s_range, "
    "SUM(v) OVER (PARTITION BY g ORDER BY h, k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT "
    "ROW) AS s_rows, SUM(d) OVER (PARTITION BY g) AS s_all, COUNT(v) OVER (PARTITION BY g "
    "ORDER BY h) AS c, COUNT(*) OVER (ORDER BY h) AS c_all, SUM(h) OVER () AS total FROM t",
    "min_max": "SELECT k, MIN(v) OVER (PARTITION BY g ORDER BY h) AS mn, "
    "MAX(day) OVER (PARTITION BY h) AS mx, "
    "MAX(d) OVER (ORDER BY h, k ROWS UNBOUNDED PRECEDING) AS mr, "
    "MIN(h) OVER (PARTITION BY v ORDER BY day RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    " AS mh FROM t",
    "avg": "SELECT k, AVG(v) OVER (PARTITION BY g) AS a, AVG(d) OVER (ORDER BY h) AS ar, "
    "AVG(h) OVER (PARTITION BY day ORDER BY k ROWS UNBOUNDED PRECEDING) AS ah FROM t",
    "whole_partition_frames": "SELECT k, SUM(v) OVER (PARTITION BY g ORDER BY h RANGE BETWEEN "
    "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS a, COUNT(*) OVER (PARTITION BY h ORDER BY "
    "k ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS b FROM t",
    "expressions": "SELECT k, SUM(v * 2 + h) OVER (PARTITION BY h % 3 ORDER BY k) AS s, "
    "ROW_NUMBER() OVER (ORDER BY COALESCE(v, 0) + h DESC, k) + 100 AS rn FROM t WHERE h > -2",
    "text_order_key": "SELECT k, ROW_NUMBER() OVER (ORDER BY g DESC, k) AS rn, "
    "RANK() OVER (PARTITION BY ok ORDER BY g NULLS FIRST) AS r FROM t",
    "top_k_per_group": "SELECT * FROM (SELECT g, k, v, ROW_NUMBER() OVER (PARTITION BY g "
    "ORDER BY v DESC, k) AS rn FROM t) AS q WHERE rn <= 2",
    "previous_payment": "SELECT k, day, h - LAG(h) OVER (PARTITION BY g ORDER BY day, k) AS "
    "diff FROM t WHERE ok",
    "third_month_in_a_row": "SELECT h, day FROM (SELECT h, day, DATE_DIFF('month', "
    "LAG(day, 2) OVER (PARTITION BY h ORDER BY day, k), day) AS span FROM t) AS d "
    "WHERE span = 0",
    "first_period": "SELECT h, day, k FROM (SELECT h, day, k, MIN(day) OVER (PARTITION BY h) "
    "AS first FROM t) AS d WHERE day = first",
    "over_a_join": "SELECT t.k, u.w, SUM(u.w) OVER (PARTITION BY t.g ORDER BY t.k) AS s "
    "FROM t JOIN u ON t.h = u.h",
    "over_an_aggregate": "SELECT g, n, RANK() OVER (ORDER BY n DESC) AS r FROM "
    "(SELECT g, COUNT(*) AS n FROM t GROUP BY g) AS q",
    "cte_filter_distinct": "WITH r AS (SELECT g, h, DENSE_RANK() OVER (PARTITION BY g "
    "ORDER BY h) AS dr FROM t) SELECT DISTINCT g, h FROM r WHERE dr = 1",
    "two_specs_and_reuse": "SELECT k, ROW_NUMBER() OVER (ORDER BY k) AS a, "
    "ROW_NUMBER() OVER (ORDER BY k) AS b, COUNT(*) OVER (PARTITION BY g) AS c, "
    "LAG(k) OVER (ORDER BY k) AS d FROM t",
}
GROUPED = {  # windows over the groups of a GROUP BY (or a global aggregate's one row)
    "rank_of_a_sum": "SELECT g, SUM(v) AS s, RANK() OVER (ORDER BY SUM(v) DESC) AS r FROM t "
    "GROUP BY g",
    "running_count_having": "SELECT h, COUNT(*) AS n, SUM(COUNT(*)) OVER (ORDER BY h) AS "
    "running, LAG(COUNT(*)) OVER (ORDER BY h) AS prev FROM t GROUP BY h HAVING COUNT(*) > 1",
    "top_group_per_key": "SELECT g, h, MAX(v) AS m, ROW_NUMBER() OVER (PARTITION BY g ORDER BY "
    "MAX(v) DESC NULLS LAST, h) AS rn FROM t WHERE ok GROUP BY g, h",
    "global": "SELECT COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*)) AS r FROM t",
    "constant_window": "SELECT h, RANK() OVER () AS r FROM t GROUP BY h",
    "change_and_case": "SELECT day, SUM(v) - LAG(SUM(v), 1, 0) OVER (ORDER BY day) AS change, "
    "CASE WHEN COUNT(*) > 2 THEN DENSE_RANK() OVER (ORDER BY COUNT(*) DESC) END AS big "
    "FROM t GROUP BY day",
    "expression_key": "SELECT h + 1 AS hh, AVG(SUM(v)) OVER (ORDER BY h + 1 ROWS UNBOUNDED "
    "PRECEDING) AS a FROM t GROUP BY h + 1",
}
ORDERED = {
    "grouped_ordered_by_a_window": "SELECT h, COUNT(*) AS n FROM t GROUP BY h "
    "ORDER BY ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, h) LIMIT 2",
    "ordered_output": "SELECT k, ROW_NUMBER() OVER (ORDER BY day, k) AS rn FROM t "
    "ORDER BY rn LIMIT 4",
}


def _check(sql: str, n: int, *, ordered: bool = False) -> None:
    data, valid = _data(n, seed=n + 101)
    names, got = run_mpc(sql, SCHEMAS, data, valid, facts={"u": TableFacts((frozenset({"h"}),))})
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    if ordered:
        assert normalise(got) == normalise(want)
    else:
        assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


@pytest.mark.parametrize("n", [0, 1, 2, 23])
@pytest.mark.parametrize("shape", sorted(WINDOWS))
def test_window_matches_duckdb(shape: str, n: int) -> None:
    _check(WINDOWS[shape], n)


@pytest.mark.parametrize("n", [0, 1, 23])
@pytest.mark.parametrize("shape", sorted(GROUPED))
def test_window_over_groups_matches_duckdb(shape: str, n: int) -> None:
    _check(GROUPED[shape], n)


@pytest.mark.parametrize("n", [0, 7])
@pytest.mark.parametrize("shape", sorted(ORDERED))
def test_window_ordered_output_matches_duckdb(shape: str, n: int) -> None:
    _check(ORDERED[shape], n, ordered=True)


def test_padding_rows_never_reach_a_valid_row() -> None:
    """Invalid rows sharing every partition and order key with valid rows change nothing."""
    data, _ = _data(9, seed=3)
    rows = data["t"]
    rows["g"] = ["a"] * 9
    rows["h"] = [1] * 9
    valid = {"t": [i % 2 == 0 for i in range(9)], "u": [True] * 6}
    sql = WINDOWS["running_sums"].replace("FROM t", "FROM t WHERE TRUE")
    _, got = run_mpc(sql, SCHEMAS, data, valid)
    _, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)
    assert len(got) == 5


REFUSED = {
    "SELECT g, k, RANK() OVER (ORDER BY k) AS r FROM t GROUP BY g": "must appear in GROUP BY",
    "SELECT g, RANK() OVER (ORDER BY g) AS r FROM t GROUP BY g HAVING RANK() OVER (ORDER BY g) "
    "> 1": "only in the SELECT list",
    "SELECT k, SUM(v) OVER w AS s FROM t WINDOW w AS (ORDER BY k)": "named windows",
    "SELECT k, SUM(v) OVER (ORDER BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t": (
        "only the frames"
    ),
    "SELECT k, SUM(v) OVER (ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW "
    "EXCLUDE CURRENT ROW) AS s FROM t": "only the frames",
    "SELECT k FROM t WHERE ROW_NUMBER() OVER (ORDER BY k) = 1": "only in the SELECT list",
    "SELECT k, FIRST_VALUE(v) OVER (ORDER BY k) AS f FROM t": "FIRSTVALUE",
    "SELECT k, ROW_NUMBER() OVER (PARTITION BY g) AS r FROM t": "needs ORDER BY",
    "SELECT k, LAG(v) OVER (PARTITION BY g) AS r FROM t": "needs ORDER BY",
    "SELECT k, SUM(v) OVER (ROWS UNBOUNDED PRECEDING) AS r FROM t": "needs ORDER BY",
    "SELECT k, COUNT(DISTINCT v) OVER () AS c FROM t": "DISTINCT",
    "SELECT k, NTILE(2) OVER (ORDER BY k) AS c FROM t": "NTILE",
    "SELECT k, LAG(v, 1, k) OVER (ORDER BY k) AS c FROM t": "must be a literal",
    "SELECT k, LAG(v, 1, 'x') OVER (ORDER BY k) AS c FROM t": "the argument's type",
    "SELECT k, SUM(g) OVER () AS c FROM t": "SUM needs an int or decimal",
    "SELECT k, MAX(g) OVER () AS c FROM t": "id/text",
    "SELECT k, SUM(SUM(v) OVER ()) OVER () AS c FROM t": "cannot be nested",
    "SELECT SUM(v) OVER () + SUM(v) AS c FROM t": "must appear in GROUP BY",
    "SELECT RANK() OVER (PARTITION BY a) AS r FROM (SELECT g, AVG(v) AS a FROM t GROUP BY g) "
    "AS q": "PARTITION BY an AVG",
    "SELECT RANK() OVER (ORDER BY a) AS r FROM (SELECT g, AVG(v) AS a FROM t GROUP BY g) "
    "AS q": "can be ordered",
    "SELECT COUNT(a) OVER () AS r FROM (SELECT g, AVG(v) AS a FROM t GROUP BY g) "
    "AS q": "COUNT(AVG …) OVER",
    "SELECT LAG(a) OVER (ORDER BY g) AS r FROM (SELECT g, AVG(v) AS a FROM t GROUP BY g) "
    "AS q": "LAG of AVG",
}


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_window_refusals_are_one_line(sql: str) -> None:
    with pytest.raises(SqlError) as err:
        compile_sql(sql, SCHEMAS)
    assert REFUSED[sql] in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("n", [0, 1, 23])
def test_a_window_sort_key_beyond_one_sort_matches_duckdb(n: int) -> None:
    """Three nullable text order keys and a partition are 37 sort lanes: one stable sort per
    block of 31, the last block first."""
    sql = (
        "SELECT k, RANK() OVER (PARTITION BY g ORDER BY s DESC, LOWER(s), g NULLS FIRST, h) AS r, "
        "ROW_NUMBER() OVER (PARTITION BY g ORDER BY s DESC, LOWER(s), g NULLS FIRST, h, k) AS rn "
        "FROM t"
    )
    _check(sql, n)


def test_ranges_bound_window_values() -> None:
    big = {"t": TableBounds(10**6, {"v": (Decimal(-(10**13)), Decimal(10**13))})}
    with pytest.raises(SqlError, match=r"SUM\(t.v\) OVER"):
        compile_sql("SELECT SUM(v) OVER (ORDER BY k) AS s FROM t", SCHEMAS, bounds=big)
    compile_sql("SELECT MAX(v) OVER (ORDER BY k) AS s FROM t", SCHEMAS, bounds=big)
    small = {"t": TableBounds(10, {"v": (Decimal(-5), Decimal(5))})}
    # ROW_NUMBER ≤ rows: 10 · 10^17 fits, 10^18 · 10 does not
    compile_sql(
        "SELECT ROW_NUMBER() OVER (ORDER BY k) * 100000000000000000 AS s FROM t",
        SCHEMAS,
        bounds=small,
    )
    with pytest.raises(SqlError, match="ROW_NUMBER"):
        compile_sql(
            "SELECT ROW_NUMBER() OVER (ORDER BY k) * 1000000000000000000 AS s FROM t",
            SCHEMAS,
            bounds=small,
        )
