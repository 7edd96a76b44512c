"""Order statistics (MEDIAN, PERCENTILE_DISC/CONT … WITHIN GROUP, QUANTILE_DISC/CONT, QUANTILE):
the MPC result equals DuckDB's on the same rows — per group and global, over int, decimal and
date values with NULLs, ties, padding rows, groups of one and two rows, n = 0, 1, 2, odd and
larger — and what DuckDB does not compute exactly is refused in one line.

DuckDB returns a DOUBLE for MEDIAN/PERCENTILE_CONT of an int; tyst returns the exact decimal
(q's decimals more), compared as AVG is (:func:`tests.engine.oracle.normalise`). Of a decimal,
DuckDB truncates its double interpolation to the decimal's scale, exact for q a multiple of
1/2^j (checked here on values near the bound the ranges pass allows)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.engine.oracle import normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType, TableBounds
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMAS = {
    "t": {
        "g": T("int"),
        "x": T("int"),
        "z": T("int?"),
        "y": T("decimal(2)?"),
        "day": T("date"),
    }
}


def _data(n: int, seed: int) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    """n valid rows plus padding; groups of 1, 2 and more rows; many ties; NULLs."""
    rng = np.random.default_rng(seed)
    total = n + 4

    def maybe(values: list[object], share: float) -> list[object]:
        return [None if rng.random() < share else v for v in values]

    groups = [0, 1, 1] + [int(v) for v in rng.integers(2, 5, max(total - 3, 0))]
    data = {
        "t": {
            "g": groups[:total],
            "x": [int(v) for v in rng.integers(-5, 6, total)],  # ties
            "z": maybe([int(v) for v in rng.integers(-999, 1000, total)], 0.3),
            "y": maybe(
                [Decimal(int(v)).scaleb(-2) for v in rng.integers(-9999, 10_000, total)], 0.2
            ),
            "day": [date(2026, 3, 1) + timedelta(days=int(v)) for v in rng.integers(0, 40, total)],
        }
    }
    valid = [True] * total
    for i in rng.choice(total, 4, replace=False):
        valid[int(i)] = False
    return data, {"t": valid}


def assert_same(sql: str, n: int, seed: int = 0) -> None:
    data, valid = _data(n, seed + 7 * n)
    names, got = run_mpc(sql, SCHEMAS, data, valid)
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


QUERIES = {
    "grouped_disc": "SELECT g, "
    + ", ".join(
        f"PERCENTILE_DISC({q}) WITHIN GROUP (ORDER BY x) AS x{i}, QUANTILE_DISC(z, {q}) AS z{i}"
        for i, q in enumerate(["0", "0.25", "0.5", "0.9", "1"])
    )
    + ", QUANTILE(day, 0.3) AS d, QUANTILE_DISC(y, 0.75) AS y FROM t GROUP BY g",
    "grouped_cont": "SELECT g, MEDIAN(x) AS m, MEDIAN(z) AS mz, "
    + ", ".join(
        f"PERCENTILE_CONT({q}) WITHIN GROUP (ORDER BY z) AS c{i}"
        for i, q in enumerate(["0", "0.25", "0.9", "1", "0.333"])
    )
    + ", MEDIAN(y) AS my, QUANTILE_CONT(y, 0.25) AS qy, QUANTILE_CONT(y, 1) AS ty, "
    "COUNT(*) AS n, SUM(x) AS s FROM t GROUP BY g",
    "global": "SELECT MEDIAN(x) AS m, QUANTILE_DISC(z, 0.9) AS d, QUANTILE_CONT(z, 0.25) AS c, "
    "MEDIAN(y) AS my, PERCENTILE_DISC(0) WITHIN GROUP (ORDER BY day) AS first, "
    "MAX(x) AS top FROM t",
    "computed_and_having": "SELECT g, MEDIAN(x + z) AS m FROM t GROUP BY g "
    "HAVING PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY x) >= 0",
    "with_count_distinct": "SELECT g, COUNT(DISTINCT x) AS k, MEDIAN(z) AS m FROM t GROUP BY g",
    "descending": "SELECT g, PERCENTILE_DISC(0.3) WITHIN GROUP (ORDER BY z DESC) AS a, "
    "PERCENTILE_DISC(0) WITHIN GROUP (ORDER BY x DESC) AS b, "
    "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x DESC) AS c, "
    "PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY y DESC) AS d, "
    "PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY z DESC) AS e FROM t GROUP BY g",
}


@pytest.mark.parametrize("n", [0, 1, 2, 9, 41])
@pytest.mark.parametrize("query", sorted(QUERIES))
def test_order_statistics_equal_duckdb(query: str, n: int) -> None:
    assert_same(QUERIES[query], n)


def test_only_nulls_and_no_valid_rows_give_null() -> None:
    data = {"t": {"g": [1, 1, 2], "x": [3, 4, 5], "z": [None, None, 7], "y": [None] * 3,
                  "day": [date(2026, 1, 1)] * 3}}  # fmt: skip
    valid = {"t": [True, True, False]}
    sql = "SELECT g, MEDIAN(z) AS m, QUANTILE_DISC(y, 0.5) AS d FROM t GROUP BY g"
    assert run_mpc(sql, SCHEMAS, data, valid)[1] == [(1, None, None)]
    assert run_duckdb(sql, SCHEMAS, data, valid)[1] == [(1, None, None)]
    sql = "SELECT MEDIAN(z) AS m, QUANTILE_DISC(day, 1) AS d FROM t WHERE x > 4"
    assert run_mpc(sql, SCHEMAS, data, valid)[1] == run_duckdb(sql, SCHEMAS, data, valid)[1]


def test_decimal_median_truncates_as_duckdb_near_the_bound() -> None:
    """Large decimals (|x| close to 2^50 in cents): DuckDB's double interpolation is still
    exact and truncates toward zero; so does tyst."""
    rng = np.random.default_rng(5)
    n = 30
    big = 1 << 49
    cents = [int(v) for v in rng.integers(-big, big, n)] + [-3, -2, 1, 2]
    data = {"t": {"g": [i % 3 for i in range(n + 4)], "x": [0] * (n + 4), "z": [0] * (n + 4),
                  "y": [Decimal(c).scaleb(-2) for c in cents],
                  "day": [date(2026, 1, 1)] * (n + 4)}}  # fmt: skip
    sql = "SELECT g, MEDIAN(y) AS m, QUANTILE_CONT(y, 0.375) AS q FROM t GROUP BY g"
    _, got = run_mpc(sql, SCHEMAS, data)
    assert sorted(got) == sorted(run_duckdb(sql, SCHEMAS, data)[1])


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT MEDIAN(day) FROM t", "TIMESTAMP in DuckDB"),
        ("SELECT QUANTILE_CONT(y, 0.9) FROM t", "double precision"),
        ("SELECT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY day DESC) FROM t", "DESC"),
        ("SELECT QUANTILE_DISC(x, 1.5) FROM t", "in [0, 1]"),
        ("SELECT MEDIAN(x), PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY 4.87) FROM t", "literal"),
        ("SELECT QUANTILE_DISC(x, 0.1234567) FROM t", "at most 6 decimals"),
        ("SELECT QUANTILE_DISC(x, z) FROM t", "number literal"),
        ("SELECT QUANTILE_DISC(x, [0.5, 0.9]) FROM t", "ARRAY"),
        ("SELECT MODE(g > 1) FROM t", "MODE needs"),
        ("SELECT MODE() WITHIN GROUP (ORDER BY x) FROM t", "WITHIN GROUP is not supported"),
        ("SELECT MEDIAN(x) OVER (PARTITION BY g) FROM t", "MEDIAN"),
        ("SELECT g FROM t GROUP BY MEDIAN(x)", "aggregates"),
    ],
)
def test_refused_in_one_line(sql: str, message: str) -> None:
    with pytest.raises(SqlError) as err:
        compile_sql(sql, SCHEMAS)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_decimal_cont_beyond_duckdb_exact_range_is_refused() -> None:
    bounds = {"t": TableBounds(100, {"y": (Decimal(-(10**14)), Decimal(10**14))})}
    with pytest.raises(SqlError, match="double precision"):
        compile_sql("SELECT MEDIAN(y) FROM t", SCHEMAS, bounds=bounds)
    fine = {"t": TableBounds(100, {"y": (Decimal(-(10**12)), Decimal(10**12))})}
    compile_sql("SELECT MEDIAN(y) FROM t", SCHEMAS, bounds=fine)


def _mode_data(
    n: int, seed: int
) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    """Rows sorted by every value column's value within each group is not needed: ties are
    broken by the smallest value, which is DuckDB's first occurrence when the rows arrive in
    ascending order — so the valid rows are written in ascending (x, z, y, day) order."""
    data, valid = _data(n, seed)
    t = data["t"]
    order = sorted(range(len(t["g"])), key=lambda i: (t["x"][i], str(t["z"][i]), str(t["day"][i])))
    return {"t": {c: [v[i] for i in order] for c, v in t.items()}}, {
        "t": [valid["t"][i] for i in order]
    }


@pytest.mark.parametrize("n", [0, 1, 2, 9, 41])
def test_mode_equals_duckdb_with_ties_in_ascending_order(n: int) -> None:
    """Unique modes and ties (the smallest wins: DuckDB's first occurrence, rows ascending)."""
    data, valid = _mode_data(n, 3 + n)
    for sql in [
        "SELECT g, MODE(x) AS m, COUNT(*) AS c, MEDIAN(x) AS med FROM t GROUP BY g",
        "SELECT MODE(x) AS m, MODE(x * 2) AS m2 FROM t",
    ]:
        names, got = run_mpc(sql, SCHEMAS, data, valid)
        want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
        assert names == want_names
        assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr), sql


def test_mode_of_nullable_decimal_and_date_values() -> None:
    """Each group's mode is unique (so every engine agrees whatever its scan order); NULLs
    never count, an all-NULL group is NULL; padding rows never count either."""
    y = [Decimal(v) if v else None for v in
         ["1.50", "1.50", "", "", "", "-2.00", "", "", "0.00", "0.00", "7.25", "9.99"]]  # fmt: skip
    days = [date(2026, 1, d) for d in (3, 3, 2, 1, 1, 1, 9, 9, 4, 4, 5, 5)]
    z = [None, 5, 5, 5, None, 4, None, None, 0, 0, 1, 1]
    g = [1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3]
    data = {"t": {"g": g, "x": list(range(12)), "z": z, "y": y, "day": days}}
    valid = {"t": [True] * 11 + [False]}
    for sql in [
        "SELECT g, MODE(y) AS my, MODE(z) AS mz, MODE(day) AS md FROM t GROUP BY g",
        "SELECT MODE(z) AS mz, MODE(day) AS md FROM t",
        "SELECT MODE(y) AS my FROM t WHERE g = 2",
    ]:
        _, got = run_mpc(sql, SCHEMAS, data, valid)
        assert sorted(got, key=repr) == sorted(run_duckdb(sql, SCHEMAS, data, valid)[1], key=repr)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT g, QUANTILE_CONT(x, 0.3) AS c FROM t GROUP BY g HAVING QUANTILE_CONT(x, 0.3) > 1",
        "SELECT g, QUANTILE_CONT(x, 0.3) AS c FROM t GROUP BY g ORDER BY c",
        "SELECT g, QUANTILE_CONT(x, 0.3) * 2 AS c FROM t GROUP BY g",
        "SELECT c FROM (SELECT g, QUANTILE_CONT(x, 0.3) AS c FROM t GROUP BY g) AS d WHERE c > 2",
        "SELECT MAX(c) FROM (SELECT g, QUANTILE_CONT(x, 0.3) AS c FROM t GROUP BY g) AS d",
        "SELECT x FROM t WHERE x > (SELECT QUANTILE_CONT(x, 0.9) FROM t)",
    ],
)
def test_inexact_int_percentile_only_delivered(sql: str) -> None:
    """DuckDB's PERCENTILE_CONT(0.3) of ints is an inexact DOUBLE (3.6999999999999997 for
    3.7): tyst delivers the exact value, but refuses any other use, where the two differ."""
    with pytest.raises(SqlError, match="inexact DOUBLE") as err:
        compile_sql(sql, SCHEMAS)
    assert "\n" not in str(err.value)


def test_exact_percentiles_may_be_used_further() -> None:
    """MEDIAN of ints (DuckDB's DOUBLE exact) and decimal CONT at dyadic q are exact in both:
    comparisons, ORDER BY and later reads equal DuckDB."""
    sql = (
        "SELECT g, m, c FROM (SELECT g, MEDIAN(x) AS m, QUANTILE_CONT(y, 0.25) AS c FROM t "
        "GROUP BY g HAVING MEDIAN(x) >= 0 OR QUANTILE_CONT(y, 0.25) < 0) AS d WHERE m > -3 "
        "ORDER BY m, c, g"
    )
    data, valid = _data(41, 17)
    _, got = run_mpc(sql, SCHEMAS, data, valid)
    assert normalise(got) == normalise(run_duckdb(sql, SCHEMAS, data, valid)[1])
    bounds = {"t": TableBounds(100, {"x": (Decimal(-(2**52)), Decimal(2**52))})}
    with pytest.raises(SqlError, match="exact only for"):
        compile_sql("SELECT MEDIAN(x) FROM t", SCHEMAS, bounds=bounds)


def test_too_wide_a_sort_is_refused_before_any_data_moves() -> None:
    """16 text keys are 32 key words: with the value the sort would exceed 31 (one line)."""
    schemas = {"t": {**{f"k{i}": T("text") for i in range(16)}, "x": T("int")}}
    keys = ", ".join(f"k{i}" for i in range(16))
    with pytest.raises(SqlError, match="at most 31") as err:
        compile_sql(f"SELECT MEDIAN(x) FROM t GROUP BY {keys}", schemas)
    assert "\n" not in str(err.value)
    compile_sql("SELECT MODE(x) FROM t GROUP BY k0, k1, k2", schemas)
