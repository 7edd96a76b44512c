"""One comparison of a recipient's result rows with DuckDB's, for the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

Row = Sequence[str]

AVG_DECIMALS = 6
"""tyst prints AVG with at least 6 decimals (exact, half to even); DuckDB's AVG is a double."""


def _number(value: str) -> Decimal | str:
    try:
        return Decimal(value) if any(c in value for c in ".eE") else value
    except InvalidOperation:
        return value


def _decimals(x: Decimal) -> int:
    exponent = x.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def _same(p: Decimal | str, q: Decimal | str) -> bool:
    """Equal values. Numbers are exact; only a value with more than 6 decimals (a double's
    digits) is rounded, half to even, to the other's decimals (at least 6) before comparing."""
    if isinstance(p, Decimal) and isinstance(q, Decimal):
        if p == q:
            return True
        places = min(_decimals(p), _decimals(q))
        if max(_decimals(p), _decimals(q)) <= AVG_DECIMALS or places < AVG_DECIMALS:
            return False
        unit = Decimal(1).scaleb(-places)
        return p.quantize(unit, ROUND_HALF_EVEN) == q.quantize(unit, ROUND_HALF_EVEN)
    return p == q


def _key(row: Row) -> tuple[str, ...]:
    return tuple(f"{float(x):.3f}" if isinstance(x, Decimal) else x for x in map(_number, row))


def same_rows(got: Sequence[Row], want: Sequence[Row], *, ordered: bool = False) -> bool:
    """The same rows (in the same order if ``ordered``): text and integers compare as
    strings, decimals exactly, averages to tyst's printed decimals (see :func:`_same`)."""
    a, b = (list(got), list(want)) if ordered else (sorted(got, key=_key), sorted(want, key=_key))
    return len(a) == len(b) and all(
        len(x) == len(y) and all(_same(_number(p), _number(q)) for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )
