"""Text values ⇄ lanes, per the contract of :mod:`tyst.data.types`.

The data owner's client encodes the text of a CSV (or the text form of a
Parquet value) into ring words; the recipient's client decodes result lanes
back into CSV text. Accepted input, per type (surrounding spaces are ignored
except for ``id``/``text``; an empty value is an error, except in a nullable column
(``int?``…), where an empty (or, for non-text types, all-space) value is NULL):

- ``int``: ``[+-]?[0-9]+`` with ``abs(v) < 2^62``;
- ``decimal(s)``: ``[+-]?[0-9]+(.[0-9]*)?`` or ``[+-]?.[0-9]+``, parsed exactly
  (never through floats); more than ``s`` decimals are rejected unless the
  extra digits are zeros (no rounding ever); ``abs(v·10^s) < 2^62``;
- ``date``: exactly ``YYYY-MM-DD``, a real calendar day from 0001-01-01 to
  9999-12-31, as days since 1970-01-01;
- ``bool``: ``true``/``false``/``1``/``0``, case-insensitive;
- ``id``/``text``: any UTF-8 string of 1 to 64 bytes without NUL, kept exactly.

Output (:func:`decode_column`): ints as integers, decimals with exactly ``s``
decimals (``"12.50"``, ``"-0.05"``), dates ISO, bools ``true``/``false``,
id/text exactly as given, NULL as the empty string. AVG (:func:`decode_ratio`) is written with
``max(s, 6)`` decimals, rounded half to even from the exact quotient (the
rule of SQL Server's ``AVG`` on ``decimal``); an empty group (count 0) is the
empty string.

Clean input takes a vectorised fast path; anything unusual falls back to a
per-value parser, which is the authority on what is accepted and reports the
first (or every) bad value with its index.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from tyst.data.types import (
    COMPARISON_LIMIT,
    TEXT_CONTENT_LANES,
    TEXT_KEY_LANES,
    TEXT_MAX_BYTES,
    ColumnType,
    derived_text_bytes,
    join_null,
    split_null,
)
from tyst.ring.words import U64, WordArray

AVG_MIN_DECIMALS = 6
"""AVG results have ``max(scale, AVG_MIN_DECIMALS)`` decimals."""

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIN_DAY = date.min.toordinal() - _EPOCH_ORDINAL
_MAX_DAY = date.max.toordinal() - _EPOCH_ORDINAL
_KEY_MASK = np.uint64((1 << 62) - 1)
_LIMIT = COMPARISON_LIMIT - 1
_RANGE = f"between -{_LIMIT} and {_LIMIT}"

_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_BOOLS = {"true": 1, "false": 0, "1": 1, "0": 0}


class ValueProblem(ValueError):
    """A value that cannot be encoded: its ``index`` in the input and a one-line ``message``."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(index, message)
        self.index = index
        self.message = message

    def __str__(self) -> str:
        return f"value {self.index}: {self.message}"


@dataclass(frozen=True)
class Encoded:
    """Lanes of a column, and every problem found (bad values are encoded as all-zero lanes)."""

    lanes: list[WordArray]
    problems: list[ValueProblem]


def show(value: str, limit: int = 40) -> str:
    """A value for an error message: double-quoted, escaped, shortened to ``limit`` characters."""
    text = value if len(value) <= limit else value[:limit] + "…"
    quoted = json.dumps(text, ensure_ascii=False)
    # Surrogates, bidi controls and other unprintable characters as \\u escapes, so the line prints.
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


def encode_column(ctype: ColumnType, values: Sequence[str]) -> list[WordArray]:
    """The ``ctype.lanes`` lanes of text values; :class:`ValueProblem` for the first bad one."""
    result = _encode(ctype, values, first_only=True)
    if result.problems:
        raise result.problems[0]
    return result.lanes


def encode_column_lenient(ctype: ColumnType, values: Sequence[str]) -> Encoded:
    """As :func:`encode_column` but never raises for a value: returns every problem."""
    return _encode(ctype, values, first_only=False)


def _encode(ctype: ColumnType, values: Sequence[str], *, first_only: bool) -> Encoded:
    if ctype.nullable:
        return _encode_nullable(ctype, values, first_only)
    if ctype.kind == "ratio":
        raise ValueError("ratio is an output type (AVG); it cannot be read from a file")
    if ctype.is_text:
        return _encode_text(values, first_only)
    fast = _FAST[ctype.kind](values, ctype.scale)
    if fast is not None:
        return Encoded([fast.view(U64)], [])
    parse = _SCALAR[ctype.kind]
    out: list[int] = []
    problems: list[ValueProblem] = []
    for i, v in enumerate(values):
        try:
            out.append(parse(v, ctype.scale))
        except _Bad as bad:
            problems.append(ValueProblem(i, str(bad)))
            if first_only:
                break
            out.append(0)
    if first_only and problems:
        return Encoded([], problems)
    return Encoded([np.array(out, dtype=np.int64).view(U64)], problems)


def is_null_text(ctype: ColumnType, value: str) -> bool:
    """Whether a file's text value is NULL in a column of (nullable) ``ctype``."""
    return not value if ctype.is_text else not value.strip()


def _encode_nullable(ctype: ColumnType, values: Sequence[str], first_only: bool) -> Encoded:
    """NULLs as all-zero value lanes with indicator 1 (the contract of :mod:`tyst.data.types`)."""
    nulls = np.array([is_null_text(ctype, v) for v in values], dtype=bool)
    present = np.flatnonzero(~nulls)
    inner = _encode(ctype.base, [values[i] for i in present.tolist()], first_only=first_only)
    problems = [ValueProblem(int(present[p.index]), p.message) for p in inner.problems]
    if first_only and problems:
        return Encoded([], problems)
    n = len(values)
    lanes = []
    for lane in inner.lanes:
        full = np.zeros(n, dtype=U64)
        full[present] = lane
        lanes.append(full)
    if not inner.lanes:  # no value present: the base type's lanes, all zero
        lanes = [np.zeros(n, dtype=U64) for _ in range(ctype.base.lanes)]
    return Encoded(join_null(ctype, lanes, nulls.astype(U64)), problems)


class _Bad(Exception):
    """A value's problem (message only), raised by the scalar parsers."""


def _stripped(v: str) -> str:
    s = v.strip()
    if not s:
        raise _Bad("empty value (NULL); the column is not nullable")
    return s


def _in_range(x: int, v: str) -> int:
    if -COMPARISON_LIMIT < x < COMPARISON_LIMIT:
        return x
    raise _Bad(f"{show(v)} is out of range ({_RANGE})")


def _parse_int(v: str, scale: int) -> int:
    s = _stripped(v)
    if len(s) > 40 or not _INT.fullmatch(s):
        raise _Bad(f"{show(v)} is not an integer")
    return _in_range(int(s), v)


def _parse_decimal(v: str, scale: int) -> int:
    s = _stripped(v)
    m = _DECIMAL.fullmatch(s) if len(s) <= 80 else None
    if m is None or not (m.group(2) or m.group(3)):
        raise _Bad(f"{show(v)} is not a decimal number")
    sign, whole, frac = m.group(1), m.group(2) or "0", m.group(3) or ""
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise _Bad(
                f"{show(v)} has more than {scale} decimal{'s' if scale != 1 else ''} "
                "(values are never rounded)"
            )
        frac = frac[:scale]
    x = int(whole + frac.ljust(scale, "0"))
    return _in_range(-x if sign == "-" else x, v)


def _parse_date(v: str, scale: int) -> int:
    s = _stripped(v)
    if not _DATE.fullmatch(s):
        raise _Bad(f"{show(v)} is not a date (YYYY-MM-DD)")
    try:
        d = date(int(s[:4]), int(s[5:7]), int(s[8:]))
    except ValueError:
        raise _Bad(f"{show(v)} is not a date (no such day)") from None
    return d.toordinal() - _EPOCH_ORDINAL


def _parse_bool(v: str, scale: int) -> int:
    s = _stripped(v)
    x = _BOOLS.get(s.lower())
    if x is None:
        raise _Bad(f"{show(v)} is not a boolean (true, false, 1 or 0)")
    return x


_SCALAR: dict[str, Callable[[str, int], int]] = {
    "int": _parse_int,
    "decimal": _parse_decimal,
    "date": _parse_date,
    "bool": _parse_bool,
}


_NOT_INT_CHARS = re.compile(r"[^0-9+\-\n]")
_NOT_DECIMAL_CHARS = re.compile(r"[^0-9+\-.\n]")
_NOT_DATE_CHARS = re.compile(r"[^0-9\-\n]")


def _joined(values: Sequence[str], not_allowed: re.Pattern[str]) -> str | None:
    """The values joined by newlines if none holds a newline or a character outside the set."""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1 or not_allowed.search(joined):
        return None
    return joined


def _plain_ints(values: Sequence[str]) -> npt.NDArray[np.int64] | None:
    """``int()`` of each value (already known to hold only ASCII digits and signs), in range."""
    try:
        arr = np.array(list(map(int, values)), dtype=np.int64)
    except (ValueError, OverflowError):
        return None
    if arr.size and (int(arr.min()) <= -COMPARISON_LIMIT or int(arr.max()) >= COMPARISON_LIMIT):
        return None
    return arr


def _fast_int(values: Sequence[str], scale: int) -> npt.NDArray[np.int64] | None:
    # int() accepts exactly [+-]?[0-9]+ once whitespace, "_" and non-ASCII digits are excluded.
    if not values:
        return np.zeros(0, dtype=np.int64)
    if _joined(values, _NOT_INT_CHARS) is None:
        return None
    return _plain_ints(values)


def _fast_decimal(values: Sequence[str], scale: int) -> npt.NDArray[np.int64] | None:
    # Two clean shapes: no value has a point, or every value has exactly `scale` decimals.
    if not values:
        return np.zeros(0, dtype=np.int64)
    joined = _joined(values, _NOT_DECIMAL_CHARS)
    if joined is None:
        return None
    points = joined.count(".")
    if points == 0:
        whole = _plain_ints(values)
        if whole is None or not scale:
            return whole
        bound = (COMPARISON_LIMIT - 1) // 10**scale
        if int(np.abs(whole).max()) > bound:
            return None
        return whole * np.int64(10**scale)
    if scale == 0 or points != len(values):
        return None
    try:
        if "".join([v[-scale - 1] for v in values]) != "." * len(values):
            return None
    except IndexError:
        return None
    # Each value is [+-]?[0-9]*.[0-9]{scale} here; without the point it is an integer.
    return _plain_ints(joined.replace(".", "").split("\n"))


def _fast_date(values: Sequence[str], scale: int) -> npt.NDArray[np.int64] | None:
    # Every value exactly ten characters, digits with "-" at positions 4 and 7.
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.int64)
    joined = _joined(values, _NOT_DATE_CHARS)
    if joined is None or len(joined) != 11 * n - 1:
        return None
    if joined[10::11] != "\n" * (n - 1) or joined.count("-") != 2 * n:
        return None
    if joined[4::11] != "-" * n or joined[7::11] != "-" * n:
        return None
    try:
        days = np.array(values, dtype="datetime64[D]").astype(np.int64)
    except ValueError:  # no such day (numpy checks the calendar)
        return None
    if int(days.min()) < _MIN_DAY:  # year 0000: numpy accepts it, the calendar here does not
        return None
    return days


def _fast_bool(values: Sequence[str], scale: int) -> npt.NDArray[np.int64] | None:
    try:
        return np.array([_BOOLS[v] for v in values], dtype=np.int64)
    except KeyError:
        return None


_FAST: dict[str, Callable[[Sequence[str], int], npt.NDArray[np.int64] | None]] = {
    "int": _fast_int,
    "decimal": _fast_decimal,
    "date": _fast_date,
    "bool": _fast_bool,
}


def _text_problem(v: str) -> tuple[bytes, str | None]:
    """The UTF-8 bytes of an id/text value and its problem, if any."""
    if not v:
        return (
            b"",
            "empty value (NULL); the column is not nullable",
        )
    try:
        raw = v.encode("utf-8")
    except UnicodeEncodeError:
        return b"", f"{show(v)} is not valid Unicode text"
    if len(raw) > TEXT_MAX_BYTES:
        return b"", (
            f"{show(v)} is {len(raw)} bytes of UTF-8; id/text values are at most "
            f"{TEXT_MAX_BYTES} bytes"
        )
    if b"\0" in raw:
        return b"", f"{show(v)} contains a NUL character"
    return raw, None


def _encode_text(values: Sequence[str], first_only: bool) -> Encoded:
    n = len(values)
    raws: list[bytes]
    problems: list[ValueProblem] = []
    bad: list[int] = []
    try:
        raws = [v.encode("utf-8") for v in values]
        lengths = list(map(len, raws))
        clean = not n or (
            min(lengths) > 0 and max(lengths) <= TEXT_MAX_BYTES and b"\0" not in b"".join(raws)
        )
    except UnicodeEncodeError:
        clean = False
    if not clean:
        raws = []
        for i, v in enumerate(values):
            raw, problem = _text_problem(v)
            if problem is not None:
                problems.append(ValueProblem(i, problem))
                bad.append(i)
                if first_only:
                    return Encoded([], problems)
            raws.append(raw)
    # numpy's fixed-width bytes pad with NULs: exactly the zero-padded content of the contract.
    content = np.array(raws, dtype=f"S{TEXT_MAX_BYTES}").view("<u8").reshape(n, TEXT_CONTENT_LANES)
    blake2b = hashlib.blake2b
    keys = np.frombuffer(
        b"".join([blake2b(r, digest_size=16).digest() for r in raws]), dtype="<u8"
    ).reshape(n, TEXT_KEY_LANES)
    lanes = [keys[:, j].astype(U64) & _KEY_MASK for j in range(TEXT_KEY_LANES)]
    lanes += [content[:, j].astype(U64) for j in range(TEXT_CONTENT_LANES)]
    if bad:
        for lane in lanes:
            lane[bad] = 0
    return Encoded(lanes, problems)


def decode_column(ctype: ColumnType, lanes: Sequence[WordArray]) -> list[str]:
    """The CSV text of a column's lanes (see the module docstring)."""
    if len(lanes) != ctype.lanes:
        raise ValueError(f"a {ctype} column has {ctype.lanes} lanes, got {len(lanes)}")
    if ctype.kind == "ratio":
        return decode_ratio(ctype.scale, lanes[0], lanes[1])
    if ctype.nullable:
        values, indicator = split_null(ctype, lanes)
        assert indicator is not None
        nulls = np.asarray(indicator, dtype=U64) != 0
        cleaned = [np.where(nulls, U64(0), np.asarray(x, dtype=U64)) for x in values]
        decoded = decode_column(ctype.base, cleaned)
        return ["" if null else v for v, null in zip(decoded, nulls.tolist(), strict=True)]
    if ctype.derived:
        rows = np.stack([np.asarray(x, dtype=U64) for x in lanes], axis=1).tolist()
        return [derived_text_bytes(r).decode("utf-8") for r in rows]
    if ctype.is_text:
        n = len(lanes[0])
        content = np.stack([np.asarray(x, dtype=U64) for x in lanes[TEXT_KEY_LANES:]], axis=1)
        buf = content.astype("<u8").tobytes()
        step = TEXT_MAX_BYTES
        return [buf[k * step : (k + 1) * step].rstrip(b"\0").decode("utf-8") for k in range(n)]
    ints = np.asarray(lanes[0], dtype=U64).view(np.int64)
    if ctype.kind == "int":
        return [str(v) for v in ints.tolist()]
    if ctype.kind == "bool":
        return ["true" if v else "false" for v in ints.tolist()]
    if ctype.kind == "date":
        if ints.size and (int(ints.min()) < _MIN_DAY or int(ints.max()) > _MAX_DAY):
            raise ValueError("a date result is outside 0001-01-01 … 9999-12-31")
        return [str(d) for d in ints.astype("datetime64[D]").astype(str).tolist()]
    return [_fixed(v, ctype.scale) for v in ints.tolist()]


def _fixed(x: int, decimals: int) -> str:
    """The integer ``x · 10^-decimals`` written with exactly ``decimals`` decimals."""
    if decimals == 0:
        return str(x)
    sign = "-" if x < 0 else ""
    whole, frac = divmod(abs(x), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def decode_ratio(scale: int, sum_lane: WordArray, count_lane: WordArray) -> list[str]:
    """AVG: ``sum · 10^-scale / count`` with ``max(scale, 6)`` decimals, exact, half to even.

    ``sum_lane`` is a signed sum in units of ``10^-scale`` and ``count_lane`` a
    row count; a count of 0 (no rows: SQL NULL) gives the empty string.
    """
    decimals = max(scale, AVG_MIN_DECIMALS)
    factor = 10 ** (decimals - scale)
    sums = np.asarray(sum_lane, dtype=U64).view(np.int64).tolist()
    counts = np.asarray(count_lane, dtype=U64).view(np.int64).tolist()
    out: list[str] = []
    for s, c in zip(sums, counts, strict=True):
        if c == 0:
            out.append("")
            continue
        num, den = s * factor, c
        if den < 0:
            num, den = -num, -den
        q, r = divmod(num, den)  # floor division: 0 <= r < den
        if 2 * r > den or (2 * r == den and q % 2 == 1):
            q += 1
        out.append(_fixed(q, decimals))
    return out
