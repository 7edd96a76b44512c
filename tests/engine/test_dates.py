"""Date arithmetic over secret dates, MPC == DuckDB: month shifts (DuckDB's end-of-month
clamp), DATE_DIFF, age in whole years, DATE_TRUNC('week'), LAST_DAY; month ends, leap days
and year boundaries, with invalid (padding) rows mixed in."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from tests.engine.test_queries import assert_matches_duckdb
from tyst.data.types import ColumnType, TableBounds
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMAS = {"t": {"a": T("date"), "b": T("date"), "i": T("int")}}

SPECIAL = [
    date(2019, 12, 31), date(2020, 1, 1), date(2020, 1, 31), date(2020, 2, 28),
    date(2020, 2, 29), date(2020, 3, 1), date(2020, 3, 31), date(2020, 4, 30),
    date(2020, 12, 31), date(2021, 1, 1), date(2021, 2, 28), date(2021, 3, 1),
    date(2023, 5, 31), date(2023, 11, 30), date(2024, 1, 31), date(2024, 2, 29),
    date(2024, 8, 31), date(2024, 12, 31),
]  # fmt: skip


def _data(n: int, seed: int) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    rng = np.random.default_rng(seed)

    def day() -> date:
        if rng.random() < 0.6:
            return SPECIAL[int(rng.integers(0, len(SPECIAL)))]
        return date(2019, 12, 1) + timedelta(days=int(rng.integers(0, 5 * 366)))

    data = {"t": {"a": [day() for _ in range(n)], "b": [day() for _ in range(n)]}}
    data["t"]["i"] = list(range(n))
    return data, {"t": [bool(v) for v in rng.random(n) < 0.75]}


SHAPES = {
    "month_shifts": "SELECT i, a + INTERVAL '1' MONTH AS m1, a - INTERVAL '1' MONTH AS m2, "
    "a + INTERVAL '0' MONTH AS m0, a + INTERVAL '13' MONTH AS m13, a - INTERVAL '25' MONTH AS m25 "
    "FROM t",
    "quarter_year_shifts": "SELECT i, a + INTERVAL '1' QUARTER AS q1, b - INTERVAL '3' QUARTER "
    "AS q3, a + INTERVAL '1' YEAR AS y1, b - INTERVAL (4) YEAR AS y4, a + INTERVAL '2 years' "
    "AS y2 FROM t",
    "shift_in_conditions": "SELECT i, a FROM t WHERE a + INTERVAL '1' MONTH > b "
    "AND b - INTERVAL '1' YEAR <= a + 400",
    "shift_then_calendar": "SELECT i, EXTRACT(MONTH FROM a + INTERVAL '1' MONTH) AS m, "
    "DATE_TRUNC('month', b - INTERVAL '2' QUARTER) AS t, DAY(a + INTERVAL '1' MONTH) AS d, "
    "(a + INTERVAL '1' MONTH) + INTERVAL '1' MONTH AS twice FROM t",
    "date_diff": "SELECT i, DATE_DIFF('day', a, b) AS d, DATE_DIFF('month', a, b) AS m, "
    "DATEDIFF('quarter', a, b) AS q, DATE_DIFF('year', a, b) AS y, "
    "DATE_DIFF('months', DATE '2020-02-29', b) AS ml, DATE_DIFF('week', a, b) AS w, "
    "DATEDIFF('weeks', b, a) AS wb FROM t",
    "age_date_part": "SELECT i, DATE_PART('year', AGE(b, a)) AS ar, "
    "EXTRACT(YEAR FROM AGE(a, b)) AS rev, DATE_PART('year', AGE(DATE '2024-02-28', a)) AS lit "
    "FROM t",
    "age_by_hand": "SELECT i, YEAR(b) - YEAR(a) - CASE WHEN MONTH(b) < MONTH(a) OR "
    "(MONTH(b) = MONTH(a) AND DAY(b) < DAY(a)) THEN 1 ELSE 0 END AS ar FROM t WHERE b >= a",
    "age_grouped": "SELECT DATE_PART('year', AGE(b, a)) AS ar, COUNT(*) AS n FROM t "
    "WHERE a <= b GROUP BY ar",
    "calendar_of_calendar": "SELECT i, EXTRACT(MONTH FROM DATE_TRUNC('quarter', a)) AS m, "
    "LAST_DAY(DATE_TRUNC('week', a)) AS l, DATE_DIFF('month', DATE_TRUNC('year', a), "
    "LAST_DAY(b)) AS d, YEAR(LAST_DAY(a) + INTERVAL '1' DAY) AS y FROM t",
    "same_function_two_ranges": "SELECT i, DATE_TRUNC('week', a) AS w FROM t WHERE i < 5 "
    "UNION ALL SELECT i, DATE_TRUNC('week', a) AS w FROM (SELECT i, a + 400 AS a FROM t) AS t",
    "week_last_day": "SELECT i, DATE_TRUNC('week', a) AS w, LAST_DAY(b) AS l, "
    "LAST_DAY(a) - a AS left_in_month FROM t",
}


@pytest.mark.parametrize("n", [0, 1, 7, 40])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_date_arithmetic_matches_duckdb(shape: str, n: int) -> None:
    data, valid = _data(n, seed=n + 5)
    assert_matches_duckdb(SHAPES[shape], SCHEMAS, data, valid)


NULLABLE = {"t": {"a": T("date?"), "b": T("date?"), "i": T("int")}}


@pytest.mark.parametrize("n", [0, 1, 40])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT i, a + INTERVAL '1' MONTH AS m, b - INTERVAL '1' YEAR AS y FROM t",
        "SELECT i, DATE_DIFF('month', a, b) AS m, DATE_DIFF('day', a, b) AS d FROM t",
        "SELECT i, DATE_PART('year', AGE(b, a)) AS ar, LAST_DAY(a) AS l FROM t",
        "SELECT i FROM t WHERE a + INTERVAL '1' QUARTER < b OR DATE_TRUNC('week', a) IS NULL",
    ],
)
def test_nulls_in_date_arithmetic_match_duckdb(sql: str, n: int) -> None:
    data, valid = _data(n, seed=n + 9)
    rng = np.random.default_rng(n)
    for c in ("a", "b"):
        data["t"][c] = [None if rng.random() < 0.3 else v for v in data["t"][c]]
    assert_matches_duckdb(sql, NULLABLE, data, valid)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a + INTERVAL '1' MONTH FROM t",
        "SELECT DATE_DIFF('month', a, b) FROM t",
        "SELECT DATE_PART('year', AGE(b, a)) FROM t",
        "SELECT DATE_TRUNC('week', a) FROM t",
        "SELECT LAST_DAY(a) FROM t",
    ],
)
def test_without_a_declared_range_they_are_refused(sql: str) -> None:
    with pytest.raises(SqlError, match=r"calendar boundaries|leave the calendar"):
        compile_sql(sql, SCHEMAS, bounds={"t": TableBounds()})


def _bounds(low: str, high: str) -> dict[str, TableBounds]:
    from decimal import Decimal

    epoch = date(1970, 1, 1)
    days = [Decimal((date.fromisoformat(x) - epoch).days) for x in (low, high)]
    return {"t": TableBounds(100, {"a": (days[0], days[1]), "b": (days[0], days[1])})}


def test_a_shift_beyond_the_calendar_is_refused() -> None:
    with pytest.raises(SqlError, match="outside years 1–9999"):
        compile_sql(
            "SELECT a + INTERVAL '1' MONTH FROM t",
            SCHEMAS,
            bounds=_bounds("9999-01-01", "9999-12-31"),
        )


def test_too_many_shift_boundaries_are_refused() -> None:
    sql = "SELECT a + INTERVAL '1' MONTH FROM t"
    compile_sql(sql, SCHEMAS, bounds=_bounds("2000-01-01", "2019-12-31"))  # 20 years fit
    with pytest.raises(SqlError, match=r"would compare each row with \d+ calendar boundaries"):
        compile_sql(sql, SCHEMAS, bounds=_bounds("1900-01-01", "2019-12-31"))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT DATE_DIFF('hour', a, b) FROM t", "DATE_DIFF('hour', …) is not supported"),
        ("SELECT DATE_DIFF('day', a, i) FROM t", "DATE_DIFF needs two dates"),
        ("SELECT AGE(b, a) FROM t", "AGE is supported only as DATE_PART('year'"),
        ("SELECT DATE_PART('month', AGE(b, a)) FROM t", "MONTH of AGE is not supported"),
        ("SELECT EXTRACT(YEAR FROM AGE(a)) FROM t", "AGE needs two dates"),
        ("SELECT i + INTERVAL '1' MONTH FROM t", "INTERVAL needs a date"),
        ("SELECT a + INTERVAL '1' HOUR FROM t", "INTERVAL HOUR is not supported"),
        ("SELECT DATE_TRUNC('day', a) FROM t", "DAY is not supported here"),
    ],
)
def test_unsupported_date_forms_are_refused(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_sql(sql, SCHEMAS, bounds=_bounds("2020-01-01", "2024-12-31"))
