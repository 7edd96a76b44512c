"""The public calendar boundaries that ``EXTRACT`` and ``DATE_TRUNC`` are computed from.

A date d (days since 1970-01-01) known to lie in [low, high] has, for each unit, a first
start s_0 ≤ low and starts s_1 < … < s_K ≤ high (1 January for years, the first day of
quarters or months). Every function here is ``value(s_0) + Σ_k [d ≥ s_k] · (value(s_k) −
value(s_{k−1}))``: exact for every d in [low, high], and linear in K public comparisons.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

EPOCH = date(1970, 1, 1)
UNIT_OF = {
    "year": "year", "trunc_year": "year", "quarter": "quarter", "trunc_quarter": "quarter",
    "month": "month", "trunc_month": "month", "day": "month",
}  # fmt: skip


@dataclass(frozen=True)
class Steps:
    """``value = base + Σ_k [d ≥ starts[k]] · deltas[k]`` (``day`` then adds d − that + 1)."""

    base: int
    starts: tuple[int, ...]
    deltas: tuple[int, ...]


def _start(day: date, unit: str) -> date:
    if unit == "year":
        return date(day.year, 1, 1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def _next(start: date, unit: str) -> date:
    months = {"year": 12, "quarter": 3, "month": 1}[unit]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def starts(low: int, high: int, unit: str) -> list[date]:
    """The unit starts s_0 ≤ low < s_1 < … ≤ high."""
    first = _start(EPOCH + timedelta(days=low), unit)
    last = EPOCH + timedelta(days=high)
    out = [first]
    while True:
        if (
            out[-1].year == 9999
            and out[-1].month > 12 - {"year": 12, "quarter": 3, "month": 1}[unit]
        ):
            return out  # no start after the last representable one
        following = _next(out[-1], unit)
        if following > last:
            return out
        out.append(following)


def boundary_count(low: int, high: int, what: str) -> int:
    """K: how many comparisons per row ``what`` needs over [low, high]."""
    return len(starts(low, high, UNIT_OF[what])) - 1


def value_of(day: date, what: str) -> int | date:
    """``what`` (a field or ``trunc_`` unit) of one public date, as SQL defines it."""
    if what == "year":
        return day.year
    if what == "quarter":
        return (day.month - 1) // 3 + 1
    if what == "month":
        return day.month
    if what == "day":
        return day.day
    return _start(day, UNIT_OF[what])


def _value(start: date, what: str) -> int:
    """The stepped quantity at a unit start: the field, or the start's days (trunc, day)."""
    if what in ("year", "quarter", "month"):
        value = value_of(start, what)
        assert isinstance(value, int)
        return value
    return (start - EPOCH).days


def steps(low: int, high: int, what: str) -> Steps:
    """The base and the (start, delta) pairs of ``what`` over [low, high]."""
    s = starts(low, high, UNIT_OF[what])
    values = [_value(x, what) for x in s]
    return Steps(
        values[0],
        tuple((x - EPOCH).days for x in s[1:]),
        tuple(b - a for a, b in itertools.pairwise(values)),
    )
