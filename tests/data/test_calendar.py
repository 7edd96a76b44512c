"""The calendar step functions equal Python's calendar arithmetic on every day of a range."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tyst.data.calendar import (
    EPOCH,
    add_months,
    shift_boundary_count,
    shift_steps,
    steps,
    value_of,
)


def _days(d: date) -> int:
    return (d - EPOCH).days


def _stepped(plan_base: int, starts: tuple[int, ...], deltas: tuple[int, ...], x: int) -> int:
    return plan_base + sum(d for s, d in zip(starts, deltas, strict=True) if x >= s)


RANGES = [
    (date(2023, 12, 25), date(2025, 3, 3)),  # a leap year, year and month boundaries
    (date(2024, 1, 31), date(2024, 1, 31)),  # one day
    (date(1999, 11, 29), date(2001, 3, 2)),  # 2000 is a leap year
    (date(2100, 1, 30), date(2100, 3, 31)),  # 2100 is not
    (date(1, 1, 1), date(1, 2, 10)),
    (date(9999, 11, 20), date(9999, 12, 31)),
]


@pytest.mark.parametrize(("low", "high"), RANGES)
@pytest.mark.parametrize(
    "what",
    ["year", "quarter", "month", "trunc_year", "trunc_quarter", "trunc_month", "trunc_week",
     "last_day", "month_index", "quarter_index", "month_day", "day"],
)  # fmt: skip
def test_steps_equal_the_calendar_on_every_day(low: date, high: date, what: str) -> None:
    plan = steps(_days(low), _days(high), what)
    assert all(a < b for a, b in zip(plan.starts, plan.starts[1:], strict=False))
    assert all(_days(low) < s <= _days(high) for s in plan.starts)
    for k in range((high - low).days + 1):
        day = low + timedelta(days=k)
        want = value_of(day, what)
        got = _stepped(plan.base, plan.starts, plan.deltas, _days(day))
        if what in ("day", "month_day"):  # the evaluator's final step
            got = _days(day) - got + 1
        assert got == (want if isinstance(want, int) else _days(want)), (day, what)


def test_week_starts_on_monday() -> None:
    assert value_of(date(2024, 1, 3), "trunc_week") == date(2024, 1, 1)
    assert value_of(date(2024, 1, 7), "trunc_week") == date(2024, 1, 1)
    assert value_of(date(2024, 1, 8), "trunc_week") == date(2024, 1, 8)
    assert value_of(date(2024, 2, 3), "last_day") == date(2024, 2, 29)


@pytest.mark.parametrize(("low", "high"), RANGES[:4])
@pytest.mark.parametrize("months", [0, 1, -1, 2, 3, -3, 11, 12, -12, 13, 48, -25])
def test_month_shift_steps_equal_add_months(low: date, high: date, months: int) -> None:
    plan = shift_steps(_days(low), _days(high), months)
    assert all(_days(low) < s <= _days(high) for s in plan.starts)
    for k in range((high - low).days + 1):
        day = low + timedelta(days=k)
        got = _days(day) + _stepped(plan.base, plan.starts, plan.deltas, _days(day))
        assert got == _days(add_months(day, months)), (day, months)


def test_month_shift_clamps_as_duckdb() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    # a shift by years steps only where the year's length changes, plus Feb 29
    assert shift_boundary_count(_days(date(2020, 1, 1)), _days(date(2029, 12, 31)), 12) < 30
    assert shift_boundary_count(_days(date(2020, 1, 1)), _days(date(2020, 1, 1)), 1) == 0
    with pytest.raises(ValueError, match="outside years"):
        shift_steps(_days(date(9999, 12, 1)), _days(date(9999, 12, 1)), 1)
    with pytest.raises(ValueError, match="outside years"):
        shift_steps(_days(date(1, 1, 1)), _days(date(1, 3, 1)), -1)
