"""The column types of a plan and how each is laid out in ring words ("lanes").

Contract (shared by the data owners' encoder, the nodes' operators and the
recipient's decoder):

| type | lanes per row | encoding |
|---|---|---|
| ``int`` | 1 | signed 64-bit, two's complement; must satisfy abs(v) < 2^62 (comparison range) |
| ``decimal(s)`` | 1 | round(v · 10^s) as ``int`` (exact decimal parsing, no floats) |
| ``date`` | 1 | days since 1970-01-01, signed |
| ``bool`` | 1 | 0 or 1 |
| ``id``, ``text`` | 2 key + 8 content | see below |
| any ``T?`` (nullable) | T's lanes + 1 | T's key lanes, the *null indicator*, T's other lanes |

A nullable column (``"int?"`` in a plan; :attr:`ColumnType.nullable`) has one extra lane,
the null indicator (1: NULL, 0: a value), placed right after the type's key lanes so that
it is part of the key (equality, grouping, DISTINCT and ordering tell NULL from 0). The
value lanes of a NULL are all 0: ``lanes[0]`` is still the value (0 for NULL), and content
lanes stay at ``lanes[key_lanes:]``. A NULL is an empty value in an owner's file and an
empty CSV field in a result (as DuckDB writes it).

``id`` and ``text``: the *key* lanes are the first 124 bits of BLAKE2b-128 of
the UTF-8 bytes, as two 62-bit unsigned words (equality, grouping and joins
compare these); the *content* lanes are the UTF-8 bytes zero-padded to 64
bytes, 8 bytes per word little-endian (returned to recipients, never
compared). NUL characters are rejected.

Keys of two different strings collide with probability about 2^-124 per pair.

*Computed* text (``derived``): the value of a text function evaluated in MPC (``LOWER``,
``SUBSTRING``, ``||``; :mod:`tyst.relational.strings`), which cannot be hashed obliviously.
Its lanes are its bytes themselves, :data:`DERIVED_TEXT_LANES` = 10 words of 7 bytes
each, big-endian (lane i holds bytes 7i … 7i+6; bytes past the value and past 64 are 0),
so every word lies in [0, 2^56). All 10 are key lanes: equality, grouping, joins and
ordering compare them directly, and comparing them lexicographically is UTF-8 byte order
(DuckDB's text order). A stored id/text value is brought to this form (its *sort lanes*)
where it meets a computed one. Never in a plan or an input; the recipient decodes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

COMPARISON_LIMIT = 1 << 62
DEFAULT_MAX_ROWS = 100_000_000
"""Rows a table may have unless its plan declares ``max_rows`` (bounds every SUM and COUNT)."""
DEFAULT_VALUE_BOUND = 10**15 - 1
"""The largest magnitude of an ``int``/``decimal(s)`` value, in its smallest unit (v · 10^s),
unless the plan declares ``ranges`` for the column; declared ranges may go up to 2^62 − 1."""
TEXT_MAX_BYTES = 64
TEXT_KEY_LANES = 2
TEXT_CONTENT_LANES = TEXT_MAX_BYTES // 8
DERIVED_TEXT_BYTES = 7
"""Bytes per lane of computed text (56 bits: inside the comparison range)."""
DERIVED_TEXT_LANES = -(-TEXT_MAX_BYTES // DERIVED_TEXT_BYTES)
"""Lanes of computed text (10 for 64 bytes)."""
KINDS = ("id", "text", "int", "decimal", "date", "bool", "ratio")
"""``ratio`` is internal (never in a plan): the result of ``AVG`` as two lanes, a sum
and a count, which only the recipient divides (decimal with ``scale`` decimals)."""

L = TypeVar("L")
_DECIMAL = re.compile(r"^decimal\((\d{1,2})\)$")


@dataclass(frozen=True)
class TableBounds:
    """A table's public bounds, declared in the plan: what owners' files must satisfy and
    what the compiler's ``ranges`` pass (:mod:`tyst.sql.ranges`) builds its proof on."""

    rows: int = DEFAULT_MAX_ROWS
    """At most this many rows (``[tables.T] max_rows``)."""
    values: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Column → (low, high), inclusive, in the column's own units (``[tables.T] ranges``)."""
    max_rows_per_key: int | None = None

    def scaled(self, column: str, ctype: ColumnType) -> tuple[int, int]:
        """The bounds of a numeric column as scaled words (v · 10^s), declared or default."""
        declared = self.values.get(column)
        if declared is None:
            return -DEFAULT_VALUE_BOUND, DEFAULT_VALUE_BOUND
        factor = Decimal(10) ** ctype.scale
        return int(declared[0] * factor), int(declared[1] * factor)


@dataclass(frozen=True)
class ColumnType:
    """A column type: ``kind`` is one of :data:`KINDS`; ``scale`` is the decimals of ``decimal``."""

    kind: str
    scale: int = 0
    key_only: bool = False
    """Internal (never in a plan or a result): an id/text column whose content lanes were
    dropped because the query only compares, joins or groups on it (see
    :mod:`tyst.planner.pruning`); it has its key lanes only."""
    nullable: bool = False
    """The column may hold NULL: one more lane, the null indicator (see the module contract)."""
    derived: bool = False
    """Internal (never in a plan or an input): computed ``text`` whose lanes are its bytes
    (see the module contract); all its lanes are key lanes; never nullable."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column type {self.kind!r}")
        if self.derived and (self.kind != "text" or self.key_only or self.nullable):
            raise ValueError("only text that is never NULL can be computed text")
        if self.key_only and self.kind not in ("id", "text"):
            raise ValueError("only id/text columns can be key-only")
        if self.kind not in ("decimal", "ratio") and self.scale:
            raise ValueError("only decimal columns have a scale")
        if not 0 <= self.scale <= 18:
            raise ValueError("decimal scale must be between 0 and 18")
        if self.nullable and self.kind == "ratio":
            raise ValueError("a ratio (AVG) is never nullable: a count of 0 is its NULL")

    @classmethod
    def parse(cls, text: str) -> ColumnType:
        """Parse ``id``, ``text``, ``int``, ``decimal(s)``, ``date`` or ``bool``, each
        optionally followed by ``?`` (nullable: ``"int?"``)."""
        t = text.strip().lower()
        if t.endswith("?"):
            inner = cls.parse(t[:-1])
            if inner.nullable:
                raise ValueError(f"unknown column type {text!r}")
            return inner.with_nulls()
        m = _DECIMAL.match(t)
        if m:
            return cls("decimal", int(m.group(1)))
        if t in ("id", "text", "int", "date", "bool"):
            return cls(t)
        raise ValueError(
            f"unknown column type {text!r}; use id, text, int, decimal(s), date or bool "
            "(a ? after the type allows NULL, e.g. int?)"
        )

    @property
    def is_text(self) -> bool:
        """``id`` and ``text``: equality, grouping and joins only."""
        return self.kind in ("id", "text")

    @property
    def is_numeric(self) -> bool:
        """Types with arithmetic: ``int`` and ``decimal``."""
        return self.kind in ("int", "decimal")

    @property
    def is_ordered(self) -> bool:
        """Types with <, >, MIN, MAX, ORDER BY: everything but id/text (and ratio)."""
        return not self.is_text and self.kind != "ratio"

    @property
    def lanes(self) -> int:
        """Ring words per row."""
        if self.kind == "ratio":
            return 2
        if self.key_only:
            return TEXT_KEY_LANES + self.nullable
        if self.derived:
            return DERIVED_TEXT_LANES
        return (TEXT_KEY_LANES + TEXT_CONTENT_LANES if self.is_text else 1) + self.nullable

    def keys_only(self) -> ColumnType:
        """This id/text type without its content lanes (internal; see ``key_only``)."""
        return ColumnType(self.kind, self.scale, key_only=True, nullable=self.nullable)

    @property
    def key_lanes(self) -> int:
        """How many leading lanes take part in equality/grouping/DISTINCT/ordering (with the
        null indicator of a nullable type)."""
        return self.value_key_lanes + self.nullable

    @property
    def value_key_lanes(self) -> int:
        """The key lanes of the value alone (without the null indicator): what joins match."""
        if self.derived:
            return DERIVED_TEXT_LANES
        return TEXT_KEY_LANES if self.is_text else 1

    @property
    def null_lane(self) -> int:
        """The index of the null indicator lane (nullable types only)."""
        if not self.nullable:
            raise ValueError(f"{self} is not nullable")
        return self.value_key_lanes

    @property
    def base(self) -> ColumnType:
        """The same type without NULLs (its lanes are these lanes minus the indicator)."""
        return ColumnType(self.kind, self.scale, key_only=self.key_only, derived=self.derived)

    def with_nulls(self) -> ColumnType:
        """The same type allowing NULL."""
        return ColumnType(
            self.kind, self.scale, key_only=self.key_only, nullable=True, derived=self.derived
        )  # computed text: refused (it has no null indicator)

    def same_values(self, other: ColumnType) -> bool:
        """Whether the two types differ at most in nullability."""
        return self.base == other.base

    def __str__(self) -> str:
        name = f"decimal({self.scale})" if self.kind == "decimal" else self.kind
        return name + "?" if self.nullable else name


def split_null(ctype: ColumnType, lanes: Sequence[L]) -> tuple[list[L], L | None]:
    """A column's lanes as (the lanes of its base type, the null indicator or None)."""
    if not ctype.nullable:
        return list(lanes), None
    at = ctype.null_lane
    return [*lanes[:at], *lanes[at + 1 :]], lanes[at]


def join_null(ctype: ColumnType, value_lanes: Sequence[L], indicator: L) -> list[L]:
    """The lanes of a nullable ``ctype`` from its base lanes and a null indicator."""
    at = ctype.null_lane
    return [*value_lanes[:at], indicator, *value_lanes[at:]]


def text_key(value: str) -> tuple[int, int]:
    """The two key lanes of an ``id``/``text`` value (see the module contract).

    BLAKE2b with a 16-byte digest of the UTF-8 bytes; each 8-byte half, read
    little-endian, keeps its low 62 bits (inside the comparison range).
    """
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=16).digest()
    mask = (1 << 62) - 1
    return (
        int.from_bytes(digest[:8], "little") & mask,
        int.from_bytes(digest[8:], "little") & mask,
    )


def text_lanes(value: str) -> list[int]:
    """All ``TEXT_KEY_LANES + TEXT_CONTENT_LANES`` lane values of one id/text value."""
    raw = value.encode("utf-8")
    if len(raw) > TEXT_MAX_BYTES:
        raise ValueError(f"value is {len(raw)} bytes, the limit for id/text is {TEXT_MAX_BYTES}")
    if b"\0" in raw:
        raise ValueError("id/text values may not contain NUL characters")
    padded = raw.ljust(TEXT_MAX_BYTES, b"\0")
    content = [int.from_bytes(padded[8 * j : 8 * j + 8], "little") for j in range(8)]
    return [*text_key(value), *content]


DERIVED_TEXT = ColumnType("text", derived=True)
"""The type of computed text (see the module contract)."""


def derived_text_lanes(raw: bytes) -> list[int]:
    """The :data:`DERIVED_TEXT_LANES` lanes of computed text with UTF-8 bytes ``raw``."""
    if len(raw) > TEXT_MAX_BYTES:
        raise ValueError(f"value is {len(raw)} bytes, the limit for text is {TEXT_MAX_BYTES}")
    padded = raw.ljust(DERIVED_TEXT_BYTES * DERIVED_TEXT_LANES, b"\0")
    step = DERIVED_TEXT_BYTES
    return [
        int.from_bytes(padded[step * i : step * (i + 1)], "big") for i in range(DERIVED_TEXT_LANES)
    ]


def derived_text_bytes(lanes: list[int]) -> bytes:
    """The UTF-8 bytes of computed text from its lanes (inverse of :func:`derived_text_lanes`)."""
    raw = b"".join(int(v).to_bytes(DERIVED_TEXT_BYTES, "big") for v in lanes)
    return raw[:TEXT_MAX_BYTES].rstrip(b"\0")
