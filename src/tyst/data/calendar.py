"""The public calendar boundaries that ``EXTRACT``, ``DATE_TRUNC``, ``LAST_DAY``, ``DATE_DIFF``
and ``d ± INTERVAL 'n' MONTH`` are computed from.

A date d (days since 1970-01-01) known to lie in [low, high] has, for each unit, a first
start s_0 ≤ low and starts s_1 < … < s_K ≤ high (1 January for years, the first day of
quarters or months, Mondays for ISO weeks). Every function here is ``value(s_0) + Σ_k [d ≥
s_k] · (value(s_k) − value(s_{k−1}))``: exact for every d in [low, high], and linear in K
public comparisons. A month shift (:func:`shift_steps`) is ``d + base + Σ_k [d ≥ b_k] · Δ_k``
with boundaries at month starts and at the days DuckDB clamps to a shorter month's end.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass
from datetime import date, timedelta

EPOCH = date(1970, 1, 1)
UNIT_OF = {
    "year": "year", "trunc_year": "year", "quarter": "quarter", "trunc_quarter": "quarter",
    "month": "month", "trunc_month": "month", "day": "month", "trunc_week": "week",
    "last_day": "month", "month_index": "month", "quarter_index": "quarter", "month_day": "month",
}  # fmt: skip
"""The unit each ``what`` steps at: fields, ``trunc_`` units, ``last_day`` (the month's last
day), ``month_index`` (12·year + month − 1) and ``quarter_index`` (4·year + quarter − 1) for
``DATE_DIFF``, and ``month_day`` (32·month + day, ordered as (month, day)) for ``AGE``."""
_MONTHS = {"year": 12, "quarter": 3, "month": 1}


@dataclass(frozen=True)
class Steps:
    """``value = base + Σ_k [d ≥ starts[k]] · deltas[k]`` (``day`` then adds d − that + 1)."""

    base: int
    starts: tuple[int, ...]
    deltas: tuple[int, ...]


def _start(day: date, unit: str) -> date:
    if unit == "week":  # ISO weeks start on Monday (0001-01-01 is one)
        return day - timedelta(days=day.weekday())
    if unit == "year":
        return date(day.year, 1, 1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def _next(start: date, unit: str) -> date | None:
    """The following unit start (None: after 9999-12-31)."""
    if unit == "week":
        return start + timedelta(days=7) if start <= date(9999, 12, 24) else None
    index = start.year * 12 + start.month - 1 + _MONTHS[unit]
    return date(index // 12, index % 12 + 1, 1) if index < 12 * 10000 else None


def starts(low: int, high: int, unit: str) -> list[date]:
    """The unit starts s_0 ≤ low < s_1 < … ≤ high."""
    first = _start(EPOCH + timedelta(days=low), unit)
    last = EPOCH + timedelta(days=high)
    out = [first]
    while True:
        following = _next(out[-1], unit)
        if following is None or following > last:
            return out
        out.append(following)


def boundary_count(low: int, high: int, what: str) -> int:
    """K: how many comparisons per row ``what`` needs over [low, high]."""
    return len(starts(low, high, UNIT_OF[what])) - 1


WEEKDAYS = {"dow": 4, "isodow": 3}
"""Per weekday field, the shift that makes ``(d + shift) mod 7`` its value (minus 1 for
``isodow``) for d in days since 1970-01-01, a Thursday: DOW has Sunday = 0 … Saturday = 6,
ISODOW Monday = 1 … Sunday = 7 (DuckDB's ``dayofweek``/``isodow``)."""


def weekday_base(low: int, what: str) -> int:
    """The last day ≤ ``low`` whose ``what`` (``dow``/``isodow``) is the week's first value:
    for every d ≥ that base, the field is (d − base) mod 7 (+ 1 for ``isodow``)."""
    return low - (low + WEEKDAYS[what]) % 7


def value_of(day: date, what: str) -> int | date:
    """``what`` (a field or ``trunc_`` unit) of one public date, as SQL defines it."""
    if what == "dow":
        return day.isoweekday() % 7
    if what == "isodow":
        return day.isoweekday()
    if what == "year":
        return day.year
    if what == "quarter":
        return (day.month - 1) // 3 + 1
    if what == "month":
        return day.month
    if what == "day":
        return day.day
    if what == "month_day":
        return 32 * day.month + day.day
    if what == "month_index":
        return 12 * day.year + day.month - 1
    if what == "quarter_index":
        return 4 * day.year + (day.month - 1) // 3
    if what == "last_day":
        return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    return _start(day, UNIT_OF[what])


def _value(start: date, what: str) -> int:
    """The stepped quantity at a unit start: the field, or the start's days (trunc, day;
    ``month_day`` steps the days less 32·month: the evaluator adds d + 1, as for ``day``)."""
    if what == "month_day":
        return (start - EPOCH).days - 32 * start.month
    value = value_of(start, what) if what != "day" else start
    return value if isinstance(value, int) else (value - EPOCH).days


def steps(low: int, high: int, what: str) -> Steps:
    """The base and the (start, delta) pairs of ``what`` over [low, high]."""
    s = starts(low, high, UNIT_OF[what])
    values = [_value(x, what) for x in s]
    return Steps(
        values[0],
        tuple((x - EPOCH).days for x in s[1:]),
        tuple(b - a for a, b in itertools.pairwise(values)),
    )


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (DuckDB's rule:
    2024-01-31 + 1 month = 2024-02-29); ValueError outside years 1–9999."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"{day} {months:+d} months is outside years 1–9999")
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def shift_steps(low: int, high: int, months: int) -> Steps:
    """``add_months(d, months) = d + base + Σ_k [d ≥ starts[k]] · deltas[k]`` for every d in
    [low, high]: the offset changes at month starts, and from the first day past the target
    month's length it falls by one a day (those days all map to the target's last day).
    ValueError if a result leaves years 1–9999."""
    first, last = EPOCH + timedelta(days=low), EPOCH + timedelta(days=high)
    for end in (first, last):  # the results at the ends are real dates (else ValueError)
        add_months(end, months)
    offsets: list[tuple[int, int]] = []  # (boundary, offset of d from its result from there)
    for start in starts(low, high, "month"):
        target = add_months(start, months)
        offset = (target - start).days
        offsets.append(((start - EPOCH).days, offset))
        length = calendar.monthrange(start.year, start.month)[1]
        short = calendar.monthrange(target.year, target.month)[1]
        for k in range(1, length - short + 1):  # day short + k maps to the target's last day
            offsets.append(((start - EPOCH).days + short - 1 + k, offset - k))
    base = [o for b, o in offsets if b <= low][-1]  # the offset at low
    inside = [(low, base)] + [(b, o) for b, o in offsets if low < b <= high]
    deltas = [(b, o - p) for (_, p), (b, o) in itertools.pairwise(inside) if o != p]
    return Steps(base, tuple(b for b, _ in deltas), tuple(d for _, d in deltas))


def shift_boundary_count(low: int, high: int, months: int) -> int:
    """K: how many comparisons per row a shift by ``months`` needs over [low, high]."""
    return len(shift_steps(low, high, months).starts)
