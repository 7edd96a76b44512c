"""One comparison of a recipient's result rows with DuckDB's, for the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

Row = Sequence[str]


def _number(value: str) -> float | str:
    try:
        return float(value) if any(c in value for c in ".e") else value
    except ValueError:
        return value


def _close(p: float | str, q: float | str) -> bool:
    if isinstance(p, float) and isinstance(q, float):
        return math.isclose(p, q, rel_tol=1e-12, abs_tol=1e-6)
    return p == q


def _key(row: Row) -> tuple[str, ...]:
    return tuple(f"{x:.3f}" if isinstance(x, float) else x for x in map(_number, row))


def same_rows(got: Sequence[Row], want: Sequence[Row], *, ordered: bool = False) -> bool:
    """The same rows (in the same order if ``ordered``). Values with a decimal point are
    compared as numbers within 10^-6: tyst prints AVG rounded to 6 decimals, DuckDB's AVG
    is a double; sums and decimals are exact in both and compare exactly."""
    a, b = (list(got), list(want)) if ordered else (sorted(got, key=_key), sorted(want, key=_key))
    return len(a) == len(b) and all(
        len(x) == len(y) and all(_close(_number(p), _number(q)) for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )
