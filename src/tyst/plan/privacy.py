"""The plan's output-privacy declarations: the ``[privacy]`` section and per-table budgets.

Format (the contract; see issue 16, ``docs/sql.md`` and ``docs/privacy.md``)::

    [privacy]                          # optional; with it the result is released with DP noise
    unit = "pnr"                       # the privacy unit: an id/int column of EVERY table
    mechanism = "laplace"              # "laplace" (pure ε-DP) | "gaussian" (ρ-zCDP)
    epsilon = "1/2"                    # laplace: ε; gaussian: rho = "1/8" instead
    max_rows_per_unit = 1              # rows per unit kept per table (positive integer)
    bounds = { belopp = [0, 10000] }   # optional: clamp bounds of summed int/decimal columns
    keys = { kommun = [1, 2, 3] }      # optional: public key set of a group-by column

    [tables.bistand]
    budget = { epsilon = "2", period = "year" }   # optional: the owner's budget for this table

Rules (each failure is one :class:`~tyst.plan.model.PlanError` line naming the key):

- ε, ρ and budgets are **exact positive rationals**: an integer, or a string ``"2"``,
  ``"0.25"`` or ``"1/2"`` (TOML floats refused: not exact); numerator and denominator in
  lowest terms below 2^62, so a node's ledger stores them as two SQLite integers;
- ``mechanism = "laplace"`` takes ``epsilon`` and refuses ``rho``; ``"gaussian"`` the reverse;
  a table's ``budget`` is in the same measure as the plan's mechanism (``epsilon`` for laplace,
  ``rho`` for gaussian), and a budget needs a ``[privacy]`` section (no spend to count without);
- ``unit`` is a column of **every** table the plan declares (not only those the query reads:
  the ledger is kept per table and unit, so a table declared without the unit could not be
  accounted for), of type ``id`` or ``int``, never nullable (every row belongs to a unit);
- ``bounds`` names columns of at least one table, each int/decimal in every table that has it,
  ``[low, high]`` with low ≤ high in the column's units (as ``ranges``);
- ``keys`` names a group-by column or alias (an identifier) and lists its public keys, distinct,
  all integers, all strings or all booleans; when a table has a column of that name, the kind
  fits its type (integers for int, booleans for bool, strings for the others);
- ``period`` is ``"year"`` (the budget renews each calendar year, UTC, of the run) or
  ``"total"`` (never renews).

Both appear in the canonical JSON only when declared, so digests of plans without them are
unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from tyst.data.types import ColumnType
from tyst.service.bounded_toml import toml_kind as _kind

MECHANISMS: dict[str, str] = {"laplace": "epsilon", "gaussian": "rho"}
"""Each mechanism and the privacy measure it spends (pure ε-DP or ρ-zCDP)."""

PERIODS = ("year", "total")
"""How a budget renews: each calendar year (UTC) of the run, or never."""

RATIONAL_LIMIT = 2**62
"""Numerator and denominator (lowest terms) of a declared rational are below this."""

PRIVACY_KEYS = ("unit", "mechanism", "epsilon", "rho", "max_rows_per_unit", "bounds", "keys")
_PRIVACY_REQUIRED = ("unit", "mechanism", "max_rows_per_unit")
_BUDGET_KEYS = ("epsilon", "rho", "period")
_RATIONAL = re.compile(r"[0-9]+(?:\.[0-9]+|/[0-9]+)?", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

KeyValue = int | str | bool
"""A public group key as the plan writes it."""


@dataclass(frozen=True)
class Privacy:
    """The plan's ``[privacy]`` section: what the release stage needs to add DP noise."""

    unit: str
    mechanism: str
    epsilon: Fraction | None
    rho: Fraction | None
    max_rows_per_unit: int
    bounds: dict[str, tuple[Decimal, Decimal]]
    """Clamp bounds of summed columns, in the columns' units."""
    keys: dict[str, tuple[KeyValue, ...]]
    """Public key sets per group-by column (partition selection)."""

    @property
    def measure(self) -> str:
        """``"epsilon"`` or ``"rho"``: what one run of this plan spends."""
        return MECHANISMS[self.mechanism]

    @property
    def spend(self) -> Fraction:
        """What one run spends per table read, in :attr:`measure` units."""
        value = self.epsilon if self.measure == "epsilon" else self.rho
        assert value is not None  # the parser requires the mechanism's measure
        return value

    def canonical(self) -> dict[str, Any]:
        """As plain JSON-able data (part of the plan digest)."""
        out: dict[str, Any] = {
            "unit": self.unit,
            "mechanism": self.mechanism,
            self.measure: str(self.spend),
            "max_rows_per_unit": self.max_rows_per_unit,
        }
        if self.bounds:
            out["bounds"] = {c: [str(lo), str(hi)] for c, (lo, hi) in self.bounds.items()}
        if self.keys:
            out["keys"] = {c: list(v) for c, v in self.keys.items()}
        return out


@dataclass(frozen=True)
class Budget:
    """A table owner's privacy budget for the table, as declared (and signed) in a plan."""

    epsilon: Fraction | None
    rho: Fraction | None
    period: str

    @property
    def measure(self) -> str:
        """``"epsilon"`` or ``"rho"``."""
        return "epsilon" if self.epsilon is not None else "rho"

    @property
    def amount(self) -> Fraction:
        """The budget in :attr:`measure` units."""
        value = self.epsilon if self.epsilon is not None else self.rho
        assert value is not None  # the parser requires exactly one
        return value

    def canonical(self) -> dict[str, Any]:
        """As plain JSON-able data (part of the plan digest)."""
        return {self.measure: str(self.amount), "period": self.period}


class Checker(Protocol):
    """The plan parser's checks this module uses (see :class:`tyst.plan.model._Parser`)."""

    def fail(self, where: str, message: str) -> Exception: ...

    def table(self, value: object, where: str) -> dict[str, Any]: ...

    def keys(
        self,
        section: dict[str, Any],
        where: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> None: ...

    def string(self, value: object, where: str) -> str: ...

    def integer(self, value: object, where: str, minimum: int) -> int: ...

    def bound_value(self, value: object, ctype: ColumnType, where: str) -> Decimal: ...


def parse_rational(p: Checker, value: object, where: str) -> Fraction:
    """A positive exact rational: an integer or a string ``"2"``, ``"0.25"``, ``"1/2"``."""
    if isinstance(value, float):
        raise p.fail(where, f'write {value} as a string ("{value}"): floats are not exact')
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise p.fail(where, f'must be a rational such as "1/2" or "0.25", got {_kind(value)}')
    text = str(value).strip()
    if not _RATIONAL.fullmatch(text) or ("/" in text and int(text.split("/")[1]) == 0):
        raise p.fail(where, f'"{text}" is not a positive rational such as "1/2" or "0.25"')
    number = Fraction(text)
    if number <= 0:
        raise p.fail(where, f"must be positive, got {text}")
    if number.numerator >= RATIONAL_LIMIT or number.denominator >= RATIONAL_LIMIT:
        raise p.fail(where, f"{text} is too large or too fine (numerator and denominator < 2^62)")
    return number


def parse_budget(p: Checker, value: object, where: str) -> Budget:
    """A table's ``budget = { epsilon | rho = "…", period = "year" | "total" }``."""
    sec = p.table(value, where)
    p.keys(sec, where, _BUDGET_KEYS, ("period",))
    given = [k for k in ("epsilon", "rho") if k in sec]
    if len(given) != 1:
        raise p.fail(where, "declare exactly one of epsilon (for laplace) or rho (for gaussian)")
    period = p.string(sec["period"], f"{where} period")
    if period not in PERIODS:
        raise p.fail(f"{where} period", f'must be "year" or "total", got "{period}"')
    measure = given[0]
    amount = parse_rational(p, sec[measure], f"{where} {measure}")
    if measure == "epsilon":
        return Budget(amount, None, period)
    return Budget(None, amount, period)


def parse_privacy(p: Checker, value: object, tables: dict[str, dict[str, ColumnType]]) -> Privacy:
    """The ``[privacy]`` section, checked against the declared tables' columns."""
    where = "[privacy]"
    sec = p.table(value, where)
    p.keys(sec, where, PRIVACY_KEYS, _PRIVACY_REQUIRED)
    unit = p.string(sec["unit"], f"{where} unit")
    for name, columns in tables.items():
        ctype = columns.get(unit)
        if ctype is None:
            raise p.fail(f"{where} unit", f'"{unit}" is not a column of table {name}')
        if ctype.kind not in ("id", "int") or ctype.nullable:
            raise p.fail(f"{where} unit", f"{name}.{unit} is {ctype}; the unit must be id or int")
    mechanism = p.string(sec["mechanism"], f"{where} mechanism")
    if mechanism not in MECHANISMS:
        raise p.fail(f"{where} mechanism", f'must be "laplace" or "gaussian", got "{mechanism}"')
    measure = MECHANISMS[mechanism]
    other = "rho" if measure == "epsilon" else "epsilon"
    if other in sec:
        raise p.fail(f"{where} {other}", f"{mechanism} spends {measure}, not {other}")
    if measure not in sec:
        raise p.fail(f"{where} {measure}", f"missing ({mechanism} spends {measure})")
    spend = parse_rational(p, sec[measure], f"{where} {measure}")
    rows = p.integer(sec["max_rows_per_unit"], f"{where} max_rows_per_unit", 1)
    bounds = _bounds(p, sec.get("bounds", {}), tables, f"{where} bounds")
    keys = _keys(p, sec.get("keys", {}), tables, f"{where} keys")
    return Privacy(
        unit,
        mechanism,
        spend if measure == "epsilon" else None,
        spend if measure == "rho" else None,
        rows,
        bounds,
        keys,
    )


def check_budgets(p: Checker, privacy: Privacy | None, budgets: dict[str, Budget]) -> None:
    """Per-table budgets need ``[privacy]`` and are in the measure its mechanism spends."""
    for table, budget in budgets.items():
        where = f"[tables.{table}] budget"
        if privacy is None:
            raise p.fail(where, "a budget needs a [privacy] section (nothing spends it otherwise)")
        if budget.measure != privacy.measure:
            raise p.fail(
                where,
                f"is in {budget.measure} but the {privacy.mechanism} mechanism spends "
                f"{privacy.measure}",
            )


def _bounds(
    p: Checker, value: object, tables: dict[str, dict[str, ColumnType]], where: str
) -> dict[str, tuple[Decimal, Decimal]]:
    sec = p.table(value, where)
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for col, pair in sec.items():
        here = f"{where}.{col}"
        types = [cols[col] for cols in tables.values() if col in cols]
        if not types:
            raise p.fail(here, f'"{col}" is not a column of any table')
        if any(not t.is_numeric for t in types):
            raise p.fail(here, "clamp bounds apply to int and decimal columns")
        if not isinstance(pair, list) or len(pair) != 2:
            raise p.fail(here, "must be [low, high]")
        low, high = (p.bound_value(v, types[0], here) for v in pair)
        for ctype in types[1:]:  # within every table's scale
            p.bound_value(pair[0], ctype, here), p.bound_value(pair[1], ctype, here)
        if low > high:
            raise p.fail(here, f"low {low} is above high {high}")
        out[col] = (low, high)
    return out


def _keys(
    p: Checker, value: object, tables: dict[str, dict[str, ColumnType]], where: str
) -> dict[str, tuple[KeyValue, ...]]:
    sec = p.table(value, where)
    out: dict[str, tuple[KeyValue, ...]] = {}
    for col, items in sec.items():
        here = f"{where}.{col}"
        if not _IDENTIFIER.fullmatch(col):
            raise p.fail(here, "must name a group-by column (an identifier)")
        if not isinstance(items, list) or not items:
            raise p.fail(here, "must be a non-empty list of public keys")
        kinds = {_key_kind(item) for item in items}
        if len(kinds) != 1 or None in kinds:
            raise p.fail(here, "keys must be all integers, all strings or all booleans")
        kind = kinds.pop()
        for cols in tables.values():
            ctype = cols.get(col)
            if ctype is not None and kind != _column_key_kind(ctype):
                raise p.fail(here, f"{col} is {ctype}; its keys must be {_column_key_kind(ctype)}s")
        if len(set(items)) != len(items):
            raise p.fail(here, "lists a key twice")
        out[col] = tuple(items)
    return out


def _key_kind(item: object) -> str | None:
    if isinstance(item, bool):
        return "boolean"
    if isinstance(item, int):
        return "integer"
    if isinstance(item, str):
        return "string"
    return None


def _column_key_kind(ctype: ColumnType) -> str:
    return {"int": "integer", "bool": "boolean"}.get(ctype.kind, "string")
