"""Query shapes: the MPC result equals DuckDB's on the same generated rows (the oracle)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.engine.oracle import normalise, run_duckdb, run_mpc, run_mpc_full
from tyst.data.types import ColumnType
from tyst.engine.executor import ExecutionError
from tyst.planner.planning import PlanningError, TableFacts

T = ColumnType.parse
SCHEMAS = {
    "bistand": {"pnr": T("id"), "manad": T("date"), "belopp": T("int"), "kommun": T("text")},
    "bistand_lund": {"pnr": T("id"), "manad": T("date"), "belopp": T("int"), "kommun": T("text")},
    "inkomst": {"pnr": T("id"), "inkomst": T("decimal(2)"), "aktiv": T("bool")},
    "sjuk": {"pnr": T("id"), "manad": T("date"), "dagar": T("int")},
}


def _data(n: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(40 * 12)[: min(n, 200)]

    def bistand(kommun: str, m: int) -> dict[str, list[object]]:
        return {
            "pnr": [f"19{int(v):010d}" for v in rng.integers(0, 40, m)],
            "manad": [
                date(2026, 1, 1) + timedelta(days=31 * int(v)) for v in rng.integers(0, 12, m)
            ],
            "belopp": [int(v) - 500 for v in rng.permutation(15_500)[:m]],
            "kommun": [f"{kommun} {int(v)}" for v in rng.integers(0, 3, m)],
        }

    return {
        "bistand": bistand("Malmö", n),
        "bistand_lund": bistand("Lund", n // 2 + 1),
        "inkomst": {
            "pnr": [f"19{int(v):010d}" for v in rng.permutation(40)[: min(n, 40)]],
            "inkomst": [Decimal(int(v)) / 100 for v in rng.integers(0, 10**8, min(n, 40))],
            "aktiv": [bool(v) for v in rng.integers(0, 2, min(n, 40))],
        },
        "sjuk": {  # unique on (pnr, manad)
            "pnr": [f"19{int(v) // 12:010d}" for v in pairs],
            "manad": [date(2026, 1, 1) + timedelta(days=31 * (int(v) % 12)) for v in pairs],
            "dagar": [int(v) for v in rng.integers(1, 31, len(pairs))],
        },
    }


SHAPES = {
    # ordering comparisons under nested AND/OR/NOT: computed ahead in one batch
    "logic_batched": "SELECT pnr, belopp > 0 AND manad < DATE '2026-05-01' AS tidig FROM bistand "
    "WHERE (belopp > 1000 AND manad <= DATE '2026-06-01') OR NOT (belopp >= -500 OR "
    "manad < DATE '2026-02-01') OR (belopp < -800 AND belopp >= -900 "
    "AND manad > DATE '2026-03-01')",
    "filter_project": "SELECT pnr, belopp * 2 AS dubbelt, kommun FROM bistand "
    "WHERE belopp > 1000 AND manad BETWEEN DATE '2026-03-01' AND '2026-09-30'",
    "case_in_list": "SELECT CASE WHEN belopp > 10000 THEN 'hög' WHEN belopp > 0 THEN 'låg' "
    "ELSE 'negativ' END AS niva, pnr FROM bistand WHERE kommun IN ('Malmö 0', 'Malmö 2')",
    "union_all": "SELECT pnr, belopp FROM bistand WHERE belopp < 0 "
    "UNION ALL SELECT pnr, belopp FROM bistand_lund WHERE NOT belopp >= 0",
    "derived": "SELECT d.pnr, d.x FROM (SELECT pnr, belopp - 100 AS x FROM bistand) AS d "
    "WHERE d.x <> 0 OR d.pnr = '190000000003'",
    "bool_and_decimal": "SELECT pnr, inkomst + 0.5 AS i FROM inkomst "
    "WHERE aktiv AND inkomst > 1000.25",
    # joins: the unique side is found from the data (inkomst on pnr, sjuk on (pnr, manad))
    "join_pk_fk": "SELECT b.pnr, b.belopp, i.inkomst FROM bistand b JOIN inkomst i "
    "ON b.pnr = i.pnr WHERE i.inkomst > 1000 AND b.belopp > 0",
    "join_unique_left": "SELECT i.pnr, b.manad, i.aktiv FROM inkomst i JOIN bistand b "
    "ON i.pnr = b.pnr",
    "join_two_columns": "SELECT b.pnr, b.manad, s.dagar, b.kommun FROM bistand b JOIN sjuk s "
    "ON b.pnr = s.pnr AND b.manad = s.manad",
    # an expression of each side as a key (computed first): ON, and a comma join's WHERE
    "join_expression_key": "SELECT b.pnr, b.manad, s.dagar FROM bistand b JOIN sjuk s "
    "ON b.pnr = s.pnr AND s.manad = b.manad + 31 WHERE s.dagar > 2",
    "join_expression_key_where": "SELECT b.pnr, s.dagar FROM bistand b, sjuk s "
    "WHERE s.pnr = b.pnr AND s.manad = 62 + b.manad AND b.belopp > 0",
    "join_chain": "SELECT b.pnr, i.inkomst, s.dagar FROM bistand b JOIN inkomst i ON b.pnr = i.pnr "
    "JOIN sjuk s ON s.pnr = b.pnr AND s.manad = b.manad WHERE s.dagar > 3 OR i.aktiv",
    "semi_in": "SELECT pnr, belopp FROM bistand WHERE pnr IN (SELECT pnr FROM inkomst WHERE aktiv)",
    "anti_not_exists": "SELECT b.pnr, b.kommun FROM bistand b WHERE NOT EXISTS "
    "(SELECT 1 FROM bistand_lund l WHERE l.pnr = b.pnr AND l.belopp > 100)",
    "exists": "SELECT b.pnr FROM bistand b WHERE EXISTS (SELECT 1 FROM sjuk s WHERE s.pnr = b.pnr)",
    "not_in": "SELECT pnr, manad FROM bistand WHERE pnr NOT IN (SELECT pnr FROM inkomst)",
    # grouping and ordering
    "group_by_text": "SELECT kommun, COUNT(*) AS n, SUM(belopp) AS s, MIN(manad) AS forst, "
    "MAX(belopp) AS m, AVG(belopp) AS a, COUNT(belopp) AS c FROM bistand GROUP BY kommun",
    "group_by_two_having": "SELECT pnr, manad, SUM(belopp) AS s FROM bistand GROUP BY pnr, manad "
    "HAVING COUNT(*) >= 1 AND SUM(belopp) > 100",
    "count_distinct": "SELECT kommun, COUNT(DISTINCT pnr) AS personer FROM bistand GROUP BY kommun",
    "count_distinct_two": "SELECT kommun, COUNT(DISTINCT pnr) AS personer, "
    "COUNT(DISTINCT manad) AS manader, COUNT(*) AS n FROM bistand GROUP BY kommun",
    "global_count_distinct": "SELECT COUNT(DISTINCT pnr) AS p, COUNT(DISTINCT kommun) AS k "
    "FROM bistand WHERE belopp > 100",
    "global_aggregate": "SELECT COUNT(*) AS n, SUM(belopp) AS s, AVG(belopp) AS a, "
    "MIN(manad) AS m, MAX(belopp) - MIN(belopp) AS spann FROM bistand WHERE belopp > 0",
    "group_case_bucket": "SELECT CASE WHEN belopp > 5000 THEN 'hög' ELSE 'låg' END AS niva, "
    "COUNT(*) AS n FROM bistand GROUP BY niva",
    "distinct": "SELECT DISTINCT pnr, kommun FROM bistand",
    "order_limit": "SELECT pnr, SUM(belopp) AS s FROM bistand GROUP BY pnr ORDER BY s DESC LIMIT 5",
    "order_all": "SELECT pnr, belopp, manad FROM bistand ORDER BY manad, belopp DESC",
    # id/text order is UTF-8 byte order (å, ä, ö after z; a prefix first)
    "order_text": "SELECT kommun, pnr, belopp FROM bistand ORDER BY kommun DESC, pnr, belopp",
    "order_text_limit": "SELECT pnr, SUM(belopp) AS s FROM bistand GROUP BY pnr "
    "ORDER BY pnr LIMIT 7",
    "order_text_unselected": "SELECT belopp FROM bistand ORDER BY kommun, pnr, belopp DESC",
    "union_group": "SELECT kommun, SUM(belopp) AS s FROM (SELECT kommun, belopp FROM bistand "
    "UNION ALL SELECT kommun, belopp FROM bistand_lund) AS u GROUP BY kommun",
    "cte_join_aggregate": "WITH per AS (SELECT pnr, SUM(belopp) AS total FROM bistand "
    "GROUP BY pnr) SELECT COUNT(*) AS n, SUM(p.total) AS s FROM per p "
    "JOIN inkomst i ON p.pnr = i.pnr WHERE i.inkomst > p.total",
    # date arithmetic: ± days, ± INTERVAL 'n' DAY/WEEK, date − date in days
    "date_arithmetic": "SELECT pnr, manad + 10 AS senare, manad - INTERVAL '2' WEEK AS tidigare, "
    "manad - DATE '2026-01-01' AS dagar FROM bistand "
    "WHERE manad + INTERVAL '31' DAY > DATE '2026-05-01' AND 3 + manad < DATE '2026-11-01'",
    "date_literal_intervals": "SELECT pnr, manad FROM bistand WHERE manad >= DATE '2026-01-31' "
    "+ INTERVAL '1' MONTH AND manad < DATE '2025-03-01' + INTERVAL '1' YEAR + INTERVAL 3 MONTH "
    "AND manad <> DATE '2026-07-01' - INTERVAL '1' QUARTER",
    "date_difference_group": "SELECT manad - DATE '2026-01-01' AS d, COUNT(*) AS n FROM bistand "
    "GROUP BY d HAVING MAX(manad) - MIN(manad) = 0",
    # exact numeric functions: ABS, widening CAST, ROUND that changes nothing
    "abs_cast_round_int": "SELECT pnr, ABS(belopp) AS a, CAST(belopp AS DECIMAL(18, 2)) + 0.5 "
    "AS d, CAST(belopp AS BIGINT) AS b, ROUND(belopp) AS r FROM bistand WHERE ABS(belopp) > 100",
    "abs_cast_round_decimal": "SELECT pnr, ROUND(inkomst, 2) AS r, CAST(inkomst AS DECIMAL(18, 4)) "
    "AS c, ABS(inkomst - 500000) AS diff, CAST(inkomst AS DECIMAL) AS dflt FROM inkomst",
    # regressions found by the random query generator
    "group_by_a_column_twice": "SELECT kommun, COUNT(*) AS n FROM bistand GROUP BY kommun, kommun",
    "text_case_only_filtered": "SELECT d.belopp FROM (SELECT CASE WHEN belopp > 100 THEN kommun "
    "ELSE 'hög' END AS c, belopp FROM bistand) AS d WHERE d.c = 'Malmö 1'",
    "union_text_literal_unused": "SELECT d.belopp FROM (SELECT kommun, belopp FROM bistand_lund "
    "UNION ALL SELECT 'hög', belopp FROM bistand) AS d",
    "global_count_below_top": "SELECT d.n + 1 AS m FROM (SELECT COUNT(*) AS n FROM bistand "
    "WHERE belopp > 100) AS d",
    # column alias lists rename positionally (a regression: they were once ignored)
    "alias_list_derived": "SELECT s.b, s.b2 FROM (SELECT belopp, belopp * 2 FROM bistand) "
    "AS s (b2, b) WHERE s.b2 > 0",
    "alias_list_cte": "WITH s (b2, b) AS (SELECT belopp, belopp - 7 FROM bistand) "
    "SELECT s.b, s.b2 FROM s WHERE s.b > 100",
    "alias_list_table": "SELECT q.a, q.c FROM bistand AS q (c, d, a) WHERE q.d > DATE '2026-03-01'",
    "alias_list_swapped": "SELECT s.belopp, s.dagar FROM (SELECT dagar, dagar * 3 AS belopp "
    "FROM sjuk) AS s (belopp, dagar) WHERE s.dagar > 20",
    "alias_list_partial": "SELECT s.x, s.belopp FROM (SELECT dagar, dagar + 1 AS belopp "
    "FROM sjuk) AS s (x)",
}
ORDERED = {"order_limit", "order_all", "order_text", "order_text_limit", "order_text_unselected"}


def assert_matches_duckdb(
    sql: str,
    schemas: Mapping[str, Mapping[str, ColumnType]],
    data: Mapping[str, Mapping[str, list[object]]],
    valid: Mapping[str, list[bool]] | None = None,
    *,
    ordered: bool = False,
) -> None:
    """MPC == DuckDB on the same rows: names, and rows (in order, or as a multiset)."""
    names, got = run_mpc(sql, schemas, data, valid)
    want_names, want = run_duckdb(sql, schemas, data, valid)
    assert names == want_names
    if ordered:
        assert normalise(got) == normalise(want)
    else:
        assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


@pytest.mark.parametrize("per_batch", [2, 3])
def test_ordering_comparisons_in_bounded_batches(
    per_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparisons computed ahead come in groups of ``per_batch`` when the table is big
    (:data:`tyst.ops.expressions.ORDER_BATCH_WORDS`), with the same result."""
    import tyst.ops.expressions as expressions

    n = 37
    monkeypatch.setattr(expressions, "ORDER_BATCH_WORDS", per_batch * n + 1)
    data = _data(n, seed=5)
    valid = {t: [i % 4 != 1 for i in range(len(next(iter(d.values()))))] for t, d in data.items()}
    names, got = run_mpc(SHAPES["logic_batched"], SCHEMAS, data, valid)
    want_names, want = run_duckdb(SHAPES["logic_batched"], SCHEMAS, data, valid)
    assert names == want_names
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_matches_duckdb(shape: str, n: int) -> None:
    sql = SHAPES[shape]
    data = _data(n, seed=n + 11)
    rng = np.random.default_rng(n)
    valid = {
        t: [bool(v) for v in rng.random(len(next(iter(d.values())))) < 0.8] for t, d in data.items()
    }
    names, got = run_mpc(sql, SCHEMAS, data, valid)
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    if shape in ORDERED:  # order keys are distinct in the generated data
        assert normalise(got) == normalise(want)
    else:
        assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


@pytest.mark.parametrize("n", [1, 37])
def test_many_to_many_join_with_declared_bound(n: int) -> None:
    sql = (
        "SELECT b.pnr, b.belopp, l.belopp AS lund FROM bistand b "
        "JOIN bistand_lund l ON b.pnr = l.pnr"
    )
    data = _data(n, seed=5)
    counts = Counter(data["bistand_lund"]["pnr"])
    facts = {"bistand_lund": TableFacts(max_rows_per_key=max(counts.values()))}
    names, got = run_mpc(sql, SCHEMAS, data, facts=facts)
    want_names, want = run_duckdb(sql, SCHEMAS, data)
    assert names == want_names
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_many_to_many_join_beyond_the_bound_is_stopped() -> None:
    sql = "SELECT b.pnr FROM bistand b JOIN bistand_lund l ON b.pnr = l.pnr"
    data = _data(200, seed=5)
    counts = Counter(data["bistand_lund"]["pnr"])
    assert max(counts.values()) >= 3
    facts = {"bistand_lund": TableFacts(max_rows_per_key=max(counts.values()) - 1)}
    with pytest.raises(ExecutionError, match="more than"):
        run_mpc(sql, SCHEMAS, data, facts=facts)


def test_a_join_side_wrongly_declared_unique_is_stopped() -> None:
    sql = "SELECT b.pnr FROM inkomst i JOIN bistand b ON i.pnr = b.pnr"
    data = _data(37, seed=5)
    facts = {"bistand": TableFacts(unique=(frozenset({"pnr"}),))}
    with pytest.raises(ExecutionError, match="several rows with the same join key"):
        run_mpc(sql, SCHEMAS, data, facts=facts)


def test_join_without_a_unique_side_is_refused_before_running() -> None:
    sql = "SELECT b.pnr FROM bistand b JOIN bistand_lund l ON b.pnr = l.pnr"
    with pytest.raises(PlanningError, match="neither side is unique"):
        run_mpc(sql, SCHEMAS, _data(37, seed=5), facts={})


@pytest.mark.parametrize("k", [2, 3])
def test_min_group_size_is_having_count_and_reports_suppressed(k: int) -> None:
    sql = "SELECT kommun, pnr, COUNT(*) AS n, SUM(belopp) AS s FROM bistand GROUP BY kommun, pnr"
    data = _data(60, seed=9)
    _, got, suppressed = run_mpc_full(sql, SCHEMAS, data, min_group_size=k)
    _, everything = run_duckdb(sql, SCHEMAS, data)
    _, want = run_duckdb(sql + f" HAVING COUNT(*) >= {k}", SCHEMAS, data)
    assert sorted(got, key=repr) == sorted(want, key=repr)
    assert suppressed == [len(everything) - len(want)]
    assert len(want) < len(everything)  # the threshold bites on this data


TPCH_LIKE = {
    "customer": {"c_custkey": T("id"), "c_segment": T("text")},
    "orders": {"o_orderkey": T("id"), "o_custkey": T("id"), "o_date": T("date")},
    "lineitem": {"l_orderkey": T("id"), "l_price": T("decimal(2)")},
}


def _tpch_like(n: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)
    customers = max(1, n // 4)
    orders = max(1, n // 2)
    return {
        "customer": {
            "c_custkey": [f"c{i}" for i in range(customers)],
            "c_segment": [["BUILDING", "MACHINERY"][int(v)] for v in rng.integers(0, 2, customers)],
        },
        "orders": {
            "o_orderkey": [f"o{i}" for i in range(orders)],
            "o_custkey": [f"c{int(v)}" for v in rng.integers(0, customers, orders)],
            "o_date": [
                date(1995, 1, 1) + timedelta(days=int(v)) for v in rng.integers(0, 90, orders)
            ],
        },
        "lineitem": {
            "l_orderkey": [f"o{int(v)}" for v in rng.integers(0, orders, n)],
            "l_price": [Decimal(int(v)) / 100 for v in rng.integers(0, 10**6, n)],
        },
    }


COMMA_JOINS = {
    # TPC-H Q3's shape in its FROM order: customer ⋈ orders is unique on o_orderkey
    "q3_shape": "SELECT l_orderkey, SUM(l_price) AS revenue, o_date FROM customer, orders, "
    "lineitem WHERE c_segment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey "
    "AND o_date < DATE '1995-03-15' GROUP BY l_orderkey, o_date",
    "using": "SELECT * FROM orders JOIN customer ON o_custkey = c_custkey "
    "JOIN (SELECT l_orderkey AS o_orderkey, l_price FROM lineitem) AS l USING (o_orderkey)",
    # the join key common to every branch of an OR is pulled out (TPC-H Q19's shape)
    "or_with_common_key": "SELECT o.o_orderkey, l.l_price FROM orders o, lineitem l "
    "WHERE (o.o_orderkey = l.l_orderkey AND l.l_price > 5000) "
    "OR (o.o_orderkey = l.l_orderkey AND o.o_date < DATE '1995-02-01')",
    "or_absorbed": "SELECT c.c_custkey FROM customer c, orders o WHERE c.c_custkey = o.o_custkey "
    "OR (c.c_custkey = o.o_custkey AND c.c_segment = 'MACHINERY')",
    "cross_join_where": "SELECT c.c_custkey, o.o_orderkey FROM customer c CROSS JOIN orders o "
    "WHERE o.o_custkey = c.c_custkey AND c.c_segment <> 'MACHINERY'",
}


@pytest.mark.parametrize("n", [0, 1, 41])
@pytest.mark.parametrize("shape", sorted(COMMA_JOINS))
def test_comma_and_using_joins_match_duckdb(shape: str, n: int) -> None:
    assert_matches_duckdb(COMMA_JOINS[shape], TPCH_LIKE, _tpch_like(n, seed=n + 3))


ORDER_HIDDEN = {
    "order_by_unselected_expression": "SELECT pnr FROM bistand ORDER BY belopp * -1, pnr",
    "order_by_unselected_aggregate": "SELECT kommun FROM bistand GROUP BY kommun "
    "ORDER BY SUM(belopp) DESC, kommun LIMIT 2",
    "order_by_text_of_join": "SELECT b.belopp, i.inkomst FROM bistand b JOIN inkomst i "
    "ON b.pnr = i.pnr ORDER BY i.pnr DESC, b.belopp",
}


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(ORDER_HIDDEN))
def test_order_by_outside_the_select_list_matches_duckdb(shape: str, n: int) -> None:
    # the order keys make the order total
    assert_matches_duckdb(ORDER_HIDDEN[shape], SCHEMAS, _data(n, seed=n + 7), ordered=True)


def test_text_order_is_utf8_byte_order() -> None:
    values = ["b", "ab", "a", "Z", "å", "ä", "ö", "x" * 64, "x" * 63, "x" * 63 + "a", "aa", "ø"]
    schemas = {"t": {"s": T("text"), "i": T("int")}}
    data = {"t": {"s": values, "i": list(range(len(values)))}}
    sql = "SELECT s FROM t ORDER BY s"
    names, got = run_mpc(sql, schemas, data)
    assert names == ["s"]
    _, want = run_duckdb(sql, schemas, data)
    assert [r[0] for r in got] == sorted(values, key=lambda v: v.encode("utf-8"))
    assert got == want
    _, got_desc = run_mpc("SELECT s, i FROM t ORDER BY s DESC LIMIT 4", schemas, data)
    assert [r[0] for r in got_desc] == sorted(values, key=lambda v: v.encode(), reverse=True)[:4]


LIKE_VALUES = [
    "", "a", "ab", "abc", "cab", "special requests", "no special deposits requests",
    "requests special", "Malmö 1", "Malmö", "åäö", "xåx", "x" * 64, "x" * 60 + "abcd",
    "%", "abcabc", "aXbXc", "PROMO BRUSHED", "STANDARD PROMO",
]  # fmt: skip
LIKES = [
    "abc%", "%abc", "%abc%", "%special%requests%", "a%c", "%", "abc", "Malmö%", "%ö",
    "%å%", "x%x", "%xabcd", "PROMO%", "%PROMO", "a%b%c", "%a%b%c%", "%%c", "",
]  # fmt: skip


@pytest.mark.parametrize("pattern", LIKES)
def test_like_matches_duckdb(pattern: str) -> None:
    schemas = {"t": {"s": T("text"), "i": T("int")}}
    rng = np.random.default_rng(len(pattern))
    valid = [bool(v) for v in rng.random(len(LIKE_VALUES)) < 0.85]
    data = {"t": {"s": LIKE_VALUES, "i": list(range(len(LIKE_VALUES)))}}
    for negated in ("", "NOT "):
        sql = f"SELECT i, s FROM t WHERE s {negated}LIKE '{pattern}'"
        _, got = run_mpc(sql, schemas, data, {"t": valid})
        _, want = run_duckdb(sql, schemas, data, {"t": valid})
        assert sorted(got) == sorted(want), sql


def test_like_in_select_over_a_text_case() -> None:
    schemas = {"t": {"s": T("text"), "i": T("int")}}
    data = {"t": {"s": LIKE_VALUES, "i": list(range(len(LIKE_VALUES)))}}
    sql = (
        "SELECT i, CASE WHEN i > 5 THEN s ELSE 'zz abc' END LIKE '%abc%' AS hit, "
        "s NOT LIKE '%o%' AS ingen_o FROM t"
    )
    _, got = run_mpc(sql, schemas, data)
    _, want = run_duckdb(sql, schemas, data)
    assert sorted(got) == sorted(want)


CALENDAR_SCHEMAS = {"t": {"d": T("date"), "i": T("int"), "k": T("text")}}


def _calendar_data(n: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)
    start = date(2019, 12, 15)
    return {
        "t": {
            "d": [start + timedelta(days=int(v)) for v in rng.integers(0, 900, n)],
            "i": list(range(n)),
            "k": [["a", "b", "c"][int(v)] for v in rng.integers(0, 3, n)],
        }
    }


CALENDAR = {
    "extract_all": "SELECT i, EXTRACT(YEAR FROM d) AS y, EXTRACT(QUARTER FROM d) AS q, "
    "EXTRACT(MONTH FROM d) AS m, EXTRACT(DAY FROM d) AS dd, DATE_PART('month', d) AS m2, "
    "YEAR(d) AS y2, MONTH(d) AS m3, DAY(d) AS d3 FROM t",
    "trunc": "SELECT i, DATE_TRUNC('month', d) AS m, DATE_TRUNC('quarter', d) AS q, "
    "DATE_TRUNC('year', d) AS y FROM t WHERE DATE_TRUNC('month', d) >= DATE '2020-02-01'",
    "group_by_month": "SELECT DATE_TRUNC('month', d) AS manad, COUNT(*) AS n, MAX(i) AS hi "
    "FROM t GROUP BY manad",
    "group_by_year_quarter": "SELECT EXTRACT(YEAR FROM d) AS y, EXTRACT(QUARTER FROM d) AS q, "
    "COUNT(DISTINCT k) AS n FROM t GROUP BY y, q",
    "calendar_of_literals": "SELECT i, EXTRACT(MONTH FROM DATE '2020-05-17') AS m, DAY(d) AS dd, "
    "DATE_TRUNC('quarter', DATE '2020-05-17') AS q FROM t WHERE YEAR(d) >= YEAR(DATE '2020-06-01')",
    "extract_of_shifted": "SELECT i, EXTRACT(MONTH FROM d + 20) AS m FROM t "
    "WHERE EXTRACT(YEAR FROM d - INTERVAL '10' DAY) = 2020",
}


@pytest.mark.parametrize("n", [0, 1, 41])
@pytest.mark.parametrize("shape", sorted(CALENDAR))
def test_calendar_functions_match_duckdb(shape: str, n: int) -> None:
    from tyst.data.types import TableBounds
    from tyst.sql.compiler import compile_sql

    sql = CALENDAR[shape]
    assert_matches_duckdb(sql, CALENDAR_SCHEMAS, _calendar_data(n, seed=n + 13))
    # without a declared date range the default one (years 1–9999) is refused
    with pytest.raises(Exception, match="calendar boundaries"):
        compile_sql(sql, CALENDAR_SCHEMAS, bounds={"t": TableBounds()})


@pytest.mark.parametrize("n", [0, 1, 37])
def test_order_by_more_key_lanes_than_one_sort_takes(n: int) -> None:
    """Four text keys are 40 sort lanes, beyond one sort's 31: a stable sort per block, the
    last block first (was a run-time error, found by the random generator)."""
    sql = (
        "SELECT pnr, kommun, pnr AS p2, kommun AS k2, belopp FROM bistand "
        "ORDER BY kommun DESC, pnr, k2, p2 DESC, belopp LIMIT 30"
    )
    assert_matches_duckdb(sql, SCHEMAS, _data(n, seed=n + 5), ordered=True)
