"""Division, ROUND, narrowing CAST, AVG in expressions and the weekday over shares == DuckDB.

DuckDB's ``/`` gives a DOUBLE; tyst gives the exact quotient rounded half away from zero to
the result's decimals. Each tyst decimal is compared with DuckDB's value rounded (half away
from zero) to the same decimals: the data keep divisors and quotients small (divisors ≤ 10^4
in their smallest unit, |quotients| ≤ 10^4), so DuckDB's double is within 10^-11 of the exact
quotient while any quotient that is not exactly a tie lies ≥ 5·10^-11 from one: the rounded
values are then exactly equal (and at exact ties the double is exact). Where DuckDB itself
rounds its double (``ROUND``, ``CAST``), a tie such as -443 / 40 = -11.075 is not exact in
binary and DuckDB may round it either way; those queries use divisors without exact ties.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from tests.engine.oracle import data_bounds, run_duckdb, run_mpc
from tyst.data.types import ColumnType, TableBounds
from tyst.sql import ir
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMA = {"k": T("id"), "a": T("int"), "b": T("int"), "d": T("decimal(2)"), "p": T("decimal(2)"),
          "m": T("date"), "z": T("int?")}  # fmt: skip
SIZES = [0, 1, 7, 40]
"""Valid rows; every table also has padding (invalid) rows, so 0 is all padding."""


def _data(n: int, seed: int) -> tuple[dict[str, list[object]], list[bool]]:
    rng = np.random.default_rng(seed)
    total = n + 5
    data: dict[str, list[object]] = {
        "k": [f"g{int(v)}" for v in rng.integers(0, 4, total)],
        "a": [int(v) for v in rng.integers(-1000, 1001, total)],
        "b": [int(v) for v in rng.integers(1, 51, total)],
        "d": [Decimal(int(v)).scaleb(-2) for v in rng.integers(-10_000, 10_001, total)],
        "p": [Decimal(int(v)).scaleb(-2) for v in rng.integers(50, 10_000, total)],
        "m": [date(1960, 1, 1) + timedelta(days=int(v)) for v in rng.integers(0, 25_000, total)],
        "z": [None if v % 4 == 0 else int(v) - 50 for v in rng.integers(0, 100, total)],
    }
    edges = {"a": [0, 1, -1, 1000, -1000], "b": [1, 50, 2, 4, 8], "d": [Decimal("0.00"),
             Decimal("2.50"), Decimal("-2.50"), Decimal("0.05"), Decimal("-0.05")]}  # fmt: skip
    for c, values in edges.items():
        data[c][: len(values)] = values
    valid = [True] * total
    for i in rng.choice(total, 5, replace=False):
        valid[int(i)] = False
    return data, valid


def _same(got: object, want: object) -> bool:
    if isinstance(got, Decimal) and isinstance(want, float):
        step = Decimal(1).scaleb(got.as_tuple().exponent)  # type: ignore[arg-type]
        return got == Decimal(repr(want)).quantize(step, rounding=ROUND_HALF_UP)
    if isinstance(got, Decimal) and isinstance(want, Decimal):
        return got == want
    return got == want


def assert_division_matches(sql: str, n: int, seed: int = 0) -> None:
    data, valid = _data(n, seed + n)
    names, got = run_mpc(sql, {"t": SCHEMA}, {"t": data}, {"t": valid})
    want_names, want = run_duckdb(sql, {"t": SCHEMA}, {"t": data}, {"t": valid})
    assert names == want_names
    assert len(got) == len(want)
    key = repr
    for g, w in zip(sorted(got, key=key), sorted(want, key=lambda r: repr(r)), strict=True):
        assert all(_same(x, y) for x, y in zip(g, w, strict=True)), (g, w)


ROW_QUERIES = [
    "SELECT a, b, a / b AS v FROM t",
    "SELECT d, b, d / b AS v FROM t",
    "SELECT a, p, a / p AS v, d / p AS w FROM t",
    "SELECT a, d, a / 7 AS v, d / -3 AS w, a / 2.5 AS x FROM t",
    "SELECT a, b, a / (0 - b) AS v, a // (0 - b) AS w, a % (0 - b) AS x FROM t",  # b < 0
    # DuckDB rounds its double: the divisors 10·b + 3 (coprime with 10) make no exact ties
    "SELECT a, b, ROUND(a / (10 * b + 3), 2) AS v, CAST(d / (10 * b + 3) AS DECIMAL(18, 3)) AS w "
    "FROM t",
    "SELECT d, ROUND(d, 1) AS v, ROUND(d) AS w, CAST(d AS BIGINT) AS x, "
    "CAST(d AS DECIMAL(18, 1)) AS y FROM t",
    "SELECT a, b, a // b AS v, a % b AS w, d % 3 AS x, a % -7 AS y, a // -3 AS z FROM t",
    "SELECT a, b FROM t WHERE a / b > 2 OR a / p <= -1.5",
    # NULLIF(d, 0): NULL where d = 0, else d of either sign (a secret sign)
    "SELECT a, d, a / NULLIF(d, 0) AS v, a // NULLIF(b - 25, 0) AS w, a % NULLIF(z, 0) AS x FROM t",
    "SELECT a, z, z / b AS v, ROUND(z / 7, 1) AS w, z // 3 AS x FROM t",
    "SELECT a, d FROM t WHERE a / NULLIF(d, 0) > 1 OR a / NULLIF(z, 0) < -2",
    "SELECT m, DAYOFWEEK(m) AS v, ISODOW(m) AS w, EXTRACT(DOW FROM m) AS x, "
    "EXTRACT(ISODOW FROM m) AS y FROM t",
    # a literal power of ten in the dividend is folded into the division (ir.Rescaled)
    "SELECT d, p, 0.01 * d / p AS v, d * 10 / b AS w, 10.0 * d / p + 1 AS x, "
    "100.00 * d / p AS y FROM t",
    "SELECT z, b, 0.1 * z / b AS v FROM t",
    "SELECT a, d FROM t WHERE 0.01 * d / p > 0.005 OR 1000 * a / b < -20000",
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("sql", ROW_QUERIES)
def test_row_division_matches_duckdb(sql: str, n: int) -> None:
    assert_division_matches(sql, n)


AGGREGATE_QUERIES = [
    "SELECT k, SUM(a) / COUNT(*) AS v, AVG(a) * 2 AS w, COUNT(*) AS c FROM t GROUP BY k",
    "SELECT k, COUNT(*) AS c FROM t GROUP BY k HAVING AVG(a) > 3 OR SUM(d) / COUNT(*) < -1",
    "SELECT k, CAST(AVG(d) AS DECIMAL(18, 8)) AS v, SUM(p) / SUM(b) AS w FROM t GROUP BY k",
    "SELECT 100.00 * SUM(CASE WHEN a > 0 THEN p ELSE 0 END) / SUM(p) AS v FROM t",
    "SELECT SUM(a) / NULLIF(COUNT(*), 0) AS v, COUNT(*) AS c, AVG(d) * 2 AS w FROM t",
    "SELECT SUM(d) / SUM(p) AS v, ROUND(AVG(a) + 1, 3) AS w FROM t WHERE a > 500",
    "SELECT k, ROUND(AVG(a), 2) AS v FROM t GROUP BY k ORDER BY v DESC, k LIMIT 3",
    "SELECT k, ROUND(AVG(d), 3) AS v FROM t GROUP BY k ORDER BY ROUND(AVG(d), 1), k LIMIT 4",
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("sql", AGGREGATE_QUERIES)
def test_aggregate_division_matches_duckdb(sql: str, n: int) -> None:
    assert_division_matches(sql, n)


ORDER_BY_AVG = [
    "SELECT k, AVG(a) AS v FROM t GROUP BY k ORDER BY v DESC, k",
    "SELECT b, AVG(d) AS v, COUNT(*) AS c FROM t GROUP BY b ORDER BY AVG(d), b LIMIT 9",
    "SELECT b % 7 AS g, AVG(z) AS v FROM t GROUP BY b % 7 ORDER BY 2 DESC, 1",
    "SELECT k, COUNT(*) AS c FROM t GROUP BY k ORDER BY AVG(a), k",
    "SELECT b, AVG(a) AS v FROM t WHERE a > -900 GROUP BY b ORDER BY v, b LIMIT 12",
    "SELECT b % 5 AS g, AVG(z) AS v FROM t GROUP BY b % 5 ORDER BY v NULLS FIRST, g",
    "SELECT AVG(a) AS v, COUNT(*) AS c FROM t ORDER BY v",
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("sql", ORDER_BY_AVG)
def test_order_by_avg_matches_duckdb(sql: str, n: int) -> None:
    """ORDER BY an AVG sorts by the exact fraction: the rows come in DuckDB's order (its
    doubles tell these averages apart: small counts) and the averages equal its doubles."""
    data, valid = _data(n, n + 3)
    names, got = run_mpc(sql, {"t": SCHEMA}, {"t": data}, {"t": valid})
    want_names, want = run_duckdb(sql, {"t": SCHEMA}, {"t": data}, {"t": valid})
    assert names == want_names
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for x, y in zip(g, w, strict=True):
            if isinstance(x, Decimal) and isinstance(y, float):
                assert abs(float(x) - y) <= 1e-9 * max(1.0, abs(y)), (g, w)
            else:
                assert x == y, (g, w)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT a / d FROM t", "divisor t.d can be 0"),
        ("SELECT COUNT(*) / COUNT(*) FROM t", "NULLIF(COUNT(*), 0)"),
        ("SELECT SUM(a) / COUNT(*) FROM t", "the divisor COUNT(*) can be 0"),
        ("SELECT k, SUM(a) / COUNT(z) FROM t GROUP BY k", "the divisor COUNT(t.z) can be 0"),
        ("SELECT a / (b - 1) FROM t", "division by zero is possible"),
        ("SELECT CAST(a / b AS BIGINT) FROM t", "half to even"),
        ("SELECT d // 2 FROM t", "'//' needs int operands"),
    ],
)
def test_unsafe_division_is_refused(sql: str, message: str) -> None:
    data, _ = _data(7, 1)
    with pytest.raises(SqlError, match=re.escape(message)):
        compile_sql(sql, {"t": SCHEMA}, bounds=data_bounds({"t": SCHEMA}, {"t": data}))


BIG = {"x": T("int"), "y": T("int"), "u": T("int")}
"""Operands near the ring: x·10^6 cannot exist in 64 bits, so ``/`` takes long division."""


def _big_data(n: int, seed: int) -> tuple[dict[str, list[object]], list[bool]]:
    rng = np.random.default_rng(seed)
    total = n + 5
    top = 4 * 10**18
    data: dict[str, list[object]] = {
        "x": [int(v) for v in rng.integers(-top, top + 1, total)],
        "y": [int(v) for v in rng.integers(10**12, 4 * 10**17, total)],
        "u": [int(v) for v in rng.integers(-(10**15), 10**15 + 1, total)],
    }
    # ties (10^6 / 2·10^12 = 0.0000005 exactly, either sign) and the bounds' corners
    edges = {
        "x": [10**6, -(10**6), top, -top, 3 * 10**6],
        "y": [2 * 10**12, 2 * 10**12, 10**12, 4 * 10**17, 2 * 10**12],
        "u": [1_000_003 // 2, -(10**15), 10**15, 0, 7],
    }
    for c, values in edges.items():
        data[c][: len(values)] = values
    valid = [True] * total
    for i in rng.choice(total, 3, replace=False):
        valid[int(i)] = False
    return data, valid


def _exact(n: int, d: int, scale: int) -> Decimal:
    """n / d rounded half away from zero to ``scale`` decimals, by integer arithmetic."""
    q, r = divmod(abs(n) * 10**scale, abs(d))
    q += 2 * r >= abs(d)
    return Decimal(q if (n >= 0) == (d > 0) else -q).scaleb(-scale)


@pytest.mark.parametrize("n", SIZES)
def test_long_division_of_operands_near_the_ring_is_exact(n: int) -> None:
    """x / y with |x| up to 4·10^18: the quotient equals exact integer arithmetic, and
    DuckDB's double to within its own precision (its 6th decimal may round differently)."""
    sql = "SELECT x, y, u, x / y AS v, (x - 1) / (0 - y) AS w, u / 1000003 AS z FROM t"
    data, valid = _big_data(n, n)
    names, got = run_mpc(sql, {"t": BIG}, {"t": data}, {"t": valid})
    _, want = run_duckdb(sql, {"t": BIG}, {"t": data}, {"t": valid})
    assert names == ["x", "y", "u", "v", "w", "z"]
    rows = [r for r, ok in zip(zip(data["x"], data["y"], data["u"], strict=True), valid,
            strict=True) if ok]  # fmt: skip
    exact = sorted(
        (x, y, u, _exact(x, y, 6), _exact(x - 1, -y, 6), _exact(u, 1000003, 6)) for x, y, u in rows
    )
    assert sorted(got) == exact
    for mine, duck in zip(exact, sorted(want), strict=True):
        for a, b in zip(mine[3:], duck[3:], strict=True):
            assert abs(a - Decimal(repr(b))) <= Decimal("5e-7") + abs(a) * Decimal("1e-15")


def test_the_path_is_chosen_from_the_public_bounds() -> None:
    """Long division with the fewest digits t for which |A|·10^(e − t) fits, unless the
    direct path (2·|A|·10^e + |B|) fits and costs no more steps (ir.Divide.long_digits)."""

    def digits(a: int, b: tuple[int, int], scale: int = 6) -> tuple[int, int]:
        e = ir.Divide(ColumnType("decimal", scale), "/", ir.Literal(ir.INT, 1),
                      ir.Literal(ir.INT, 1), left_range=(-a, a), right_range=b)  # fmt: skip
        plan = e.bounds()
        return plan.digits, plan.bound

    assert digits(10**12, (1, 10**4)) == (0, 2 * 10**18 + 10**4)  # fits: direct
    assert digits(4 * 10**18, (10**12, 4 * 10**17)) == (6, 4 * 10**18)  # A alone
    assert digits(10**15, (1, 10**6)) == (3, 10**18)  # A·10^3 fits, the last 3 digits long
    assert digits(10**15, (1, 10**6), scale=2) == (0, 2 * 10**17 + 10**6)
    # the direct path fits but its rounding term |D| makes it cost 8 steps, long division 5
    assert digits(57, (2_183_675_158, 574_117_404_346)) == (1, 57 * 10**5)
    # and here long division would be cheaper but 10·|D| cannot fit: direct
    assert digits(1, (10**9, (2**62 - 1) // 5)) == (0, 2 * 10**6 + (2**62 - 1) // 5)


def test_a_power_of_ten_is_folded_out_of_the_dividend() -> None:
    """100.00 · SUM(x) / SUM(y) with sums near 10^12: 100·SUM(x) at 6 decimals could not
    exist, the folded quotient (long division) is proved to fit (TPC-H Q14's shape)."""
    schema = {"x": T("decimal(4)")}
    sql = "SELECT 100.00 * SUM(CASE WHEN x > 1 THEN x ELSE 0 END) / SUM(x) AS v FROM t"
    bounds = {"t": TableBounds(10**7, {"x": (Decimal("810"), Decimal("105000"))})}
    plan = compile_sql(sql, {"t": schema}, bounds=bounds).plan
    assert "Rescaled(" in repr(plan)
    assert "power=2" in repr(plan)
    with pytest.raises(SqlError, match="beyond the"):  # unfolded, the product cannot fit
        compile_sql(sql.replace("100.00 *", "101.00 *"), {"t": schema}, bounds=bounds)
