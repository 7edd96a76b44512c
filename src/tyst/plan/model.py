"""The plan file: a TOML document every party signs before any data moves.

Format (the contract; see issue 3 and ``docs/sql.md``)::

    [analysis]
    title = "…"                # non-empty strings
    purpose = "…"
    legal_basis = "…"
    retention_days = 30        # positive integer: encrypted data lives at most this long

    [parties.fk]               # one table per party; the key is the party id
    name = "Försäkringskassan"

    [tables.bistand]           # one table per input table; the key is its SQL name
    owner = "fk"               # a declared party
    columns = { pnr = "id", manad = "date", belopp = "int" }
    unique = ["pnr"]           # optional (extension): the rows are unique on these columns
    max_rows_per_key = 3       # optional (extension): at most k rows share one join key
    max_rows = 20000000        # optional: at most this many rows (default DEFAULT_MAX_ROWS)
    ranges = { belopp = [0, 100000] }   # optional: inclusive bounds of int/decimal columns

    [query]
    sql = \"\"\"SELECT …\"\"\"

    [output]
    recipients = ["fk"]        # at least one declared party
    min_group_size = 5         # optional, default 0

    [policy]                   # optional
    allow = []                 # opt-in leakage, from POLICY_ALLOWANCES

    [privacy]                  # optional: DP release (see tyst.plan.privacy)
    unit = "pnr"
    mechanism = "laplace"
    epsilon = "1/2"
    max_rows_per_unit = 1
    # and per table: budget = { epsilon = "2", period = "year" }

Rules checked by :func:`parse_plan` (each failure is one :class:`PlanError`
line naming the file and the offending key):

- the document is valid TOML; the sections ``analysis``, ``parties``,
  ``tables``, ``query`` and ``output`` are present; **unknown keys anywhere
  are rejected** (a typo must never be silently ignored);
- every value has the documented type (TOML booleans are not integers);
- party ids, table names and column names are SQL identifiers
  (``[A-Za-z_][A-Za-z0-9_]*``), unique ignoring case within their kind
  (party ids among parties, table names among tables, column names within a table);
- column types are parsed by :meth:`tyst.data.types.ColumnType.parse`;
- owners and recipients are declared parties (exact spelling), recipients are
  listed once each;
- the extensions: ``unique`` is a non-empty list of distinct columns of the
  table (the owner asserts that no two rows share those values; the nodes still
  verify it obliviously in every join that relies on it); ``max_rows_per_key``
  is a positive integer k, a public bound on how many rows share one join key,
  which lets a many-to-many join run as k key joins (see
  :mod:`tyst.planner.planning`);
- ``max_rows`` is a positive integer; ``ranges`` maps int/decimal columns to
  ``[low, high]`` with low ≤ high, integers or (for decimals) decimal strings such
  as ``"1000.50"`` (TOML floats are refused: they are not exact), within the
  column's scale and |v| · 10^s < 2^62. Together they bound every value the
  query computes (:mod:`tyst.sql.ranges`); owners' clients refuse files outside
  them. For a text/id column the range is of its *characters*: two one-character
  strings, e.g. ``namn = ["\\u0001", "ÿ"]`` (every character's code point within them;
  what ``LOWER``/``UPPER`` need, :mod:`tyst.sql.charsets`). Both appear in the
  canonical form only when declared.
- ``[privacy]`` and the tables' ``budget``: the rules of :mod:`tyst.plan.privacy`; in the
  canonical form only when declared.

:meth:`Plan.digest` is the SHA-256 of :meth:`Plan.to_canonical_json`: the
parsed plan as JSON with sorted keys and no whitespace, so comments, key
order, quoting style and layout of the TOML do not change it but any change
of meaning does. Deliberately order-sensitive (conservative): the order of a
table's columns, of ``recipients``, of ``unique`` and of ``allow``. The SQL
text is kept exactly, except surrounding whitespace.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tyst.data.types import COMPARISON_LIMIT, DEFAULT_MAX_ROWS, ColumnType, TableBounds
from tyst.plan.privacy import Budget, Privacy, check_budgets, parse_budget, parse_privacy
from tyst.service import bounded_toml
from tyst.service.bounded_toml import toml_kind as _kind

PLAN_FORMAT = "tyst-plan/1"
"""Written into the canonical JSON, so that a future format never shares a digest with this one."""

POLICY_ALLOWANCES: Mapping[str, str] = {
    "reveal_result_size": (
        "the compute nodes and the coordinator learn the number of result rows (the result "
        "is not padded: tyst.release.mechanisms.RevealSize)"
    ),
}
"""The allowances ``[policy] allow`` knows, each with what it would reveal."""

IMPLEMENTED_ALLOWANCES: frozenset[str] = frozenset({"reveal_result_size"})
"""The allowances a run acts on; any other known one is refused, so that no plan declares a
disclosure that never happens (or one that happens without being shown)."""

_EPOCH = date(1970, 1, 1)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

_SECTIONS = ("analysis", "parties", "tables", "query", "output", "policy", "privacy")
_REQUIRED_SECTIONS = ("analysis", "parties", "tables", "query", "output")
_ANALYSIS_KEYS = ("title", "purpose", "legal_basis", "retention_days")
_PARTY_KEYS = ("name",)
_TABLE_KEYS = ("owner", "columns", "unique", "max_rows_per_key", "max_rows", "ranges", "budget")
_TABLE_REQUIRED = ("owner", "columns")
_QUERY_KEYS = ("sql",)
_OUTPUT_KEYS = ("recipients", "min_group_size")
_OUTPUT_REQUIRED = ("recipients",)
_POLICY_KEYS = ("allow",)


class PlanError(Exception):
    """A plan file that cannot be used; ``str()`` is one line naming the file and the key."""


@dataclass(frozen=True)
class Analysis:
    """Why the analysis is run, and for how long encrypted data may exist."""

    title: str
    purpose: str
    legal_basis: str
    retention_days: int


@dataclass(frozen=True)
class Party:
    """A public body: owns tables, receives results, or both."""

    id: str
    name: str


@dataclass(frozen=True)
class TableDecl:
    """One input table: its owner, its typed columns (in declared order) and optional key facts."""

    name: str
    owner: str
    columns: dict[str, ColumnType]
    unique: tuple[str, ...] = ()
    max_rows_per_key: int | None = None
    max_rows: int | None = None
    """Declared row bound (None: :data:`tyst.data.types.DEFAULT_MAX_ROWS`)."""
    ranges: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Declared inclusive value bounds of int/decimal columns, in the columns' units."""
    budget: Budget | None = None
    """The owner's privacy budget for this table (see :mod:`tyst.plan.privacy`)."""

    @property
    def row_limit(self) -> int:
        """The most rows this table may have."""
        return self.max_rows if self.max_rows is not None else DEFAULT_MAX_ROWS

    def bounds(self) -> TableBounds:
        """The table's declared row and value bounds (defaults where not declared)."""
        return TableBounds(self.row_limit, dict(self.ranges), self.max_rows_per_key)


@dataclass(frozen=True)
class Plan:
    """A parsed, validated plan. ``source`` (the file it came from) is not part of the digest."""

    analysis: Analysis
    parties: dict[str, Party]
    tables: dict[str, TableDecl]
    sql: str
    recipients: tuple[str, ...]
    min_group_size: int = 0
    allow: tuple[str, ...] = ()
    privacy: Privacy | None = None
    """The ``[privacy]`` section: the result is released with DP noise (None: exactly)."""
    source: str = field(default="<plan>", compare=False)
    text: str = field(default="", compare=False, repr=False)
    """The TOML text it was parsed from (what is submitted; not part of the digest)."""

    def canonical(self) -> dict[str, Any]:
        """The plan as plain JSON-able data (what :meth:`digest` covers)."""
        a = self.analysis
        return {
            "format": PLAN_FORMAT,
            "analysis": {
                "title": a.title,
                "purpose": a.purpose,
                "legal_basis": a.legal_basis,
                "retention_days": a.retention_days,
            },
            "parties": {pid: {"name": p.name} for pid, p in self.parties.items()},
            "tables": {name: _canonical_table(t) for name, t in self.tables.items()},
            "query": {"sql": self.sql},
            "output": {
                "recipients": list(self.recipients),
                "min_group_size": self.min_group_size,
            },
            "policy": {"allow": list(self.allow)},
        } | ({"privacy": self.privacy.canonical()} if self.privacy is not None else {})

    def to_canonical_json(self) -> str:
        """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8 text kept as is."""
        return json.dumps(
            self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`to_canonical_json` encoded as UTF-8: what every party signs."""
        return hashlib.sha256(self.to_canonical_json().encode("utf-8")).hexdigest()


def _canonical_table(t: TableDecl) -> dict[str, Any]:
    out: dict[str, Any] = {
        "owner": t.owner,
        "columns": [[c, str(ct)] for c, ct in t.columns.items()],
        "unique": list(t.unique),
        "max_rows_per_key": t.max_rows_per_key,
    }
    if t.max_rows is not None:
        out["max_rows"] = t.max_rows
    if t.ranges:
        out["ranges"] = {
            c: [_bound_text(t.columns[c], lo), _bound_text(t.columns[c], hi)]
            for c, (lo, hi) in t.ranges.items()
        }
    if t.budget is not None:
        out["budget"] = t.budget.canonical()
    return out


def _bound_text(ctype: ColumnType, value: Decimal) -> str:
    """A declared bound as the plan writes it (dates ISO, numbers exact)."""
    if ctype.kind == "date":
        return (_EPOCH + timedelta(days=int(value))).isoformat()
    if ctype.is_text:
        return chr(int(value))
    return str(value)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file (raises :class:`PlanError`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"{source}: cannot read the plan file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanError(f"{source}:{line}: the plan file is not valid UTF-8") from None
    return parse_plan(text, source)


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """Validate plan TOML text; ``source`` names the file in error messages."""
    try:
        doc = bounded_toml.loads(text)  # size and nesting bounded before tomllib recurses
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise PlanError(f"{source}: malformed TOML: {detail}") from None
    return replace(_Parser(source).plan(doc), text=text)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> PlanError:
        text = f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        return PlanError(_one_line(text))

    # -- generic checks -------------------------------------------------------

    def table(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, got {_kind(value)}")
        return value

    def keys(
        self,
        section: dict[str, Any],
        where: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> None:
        for key in section:
            if key not in allowed:
                raise self.fail(
                    f"{where} {key}", f"unknown key; expected one of {', '.join(allowed)}"
                )
        for key in required:
            if key not in section:
                raise self.fail(f"{where} {key}", "missing")

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, got {_kind(value)}")
        if not value.strip():
            raise self.fail(where, "must not be empty")
        return value

    def integer(self, value: object, where: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"must be an integer, got {_kind(value)}")
        if value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
            raise self.fail(where, f"must be {what}, got {value}")
        return value

    def strings(self, value: object, where: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list of strings, got {_kind(value)}")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(where, f"must be a list of strings, found {_kind(item)}")
        return value

    def identifier(self, name: str, where: str, what: str) -> str:
        if not _IDENTIFIER.fullmatch(name):
            raise self.fail(
                where,
                f"{_quote(name)} is not a valid {what} name "
                "(letters, digits and _, not starting with a digit)",
            )
        return name

    def distinct(self, names: list[str], where: str, what: str) -> None:
        seen: dict[str, str] = {}
        for name in names:
            folded = name.lower()
            if folded in seen:
                same = "twice" if seen[folded] == name else f"twice ({_quote(seen[folded])})"
                raise self.fail(where, f"{what} {_quote(name)} is declared {same}")
            seen[folded] = name

    def party_ref(self, name: str, parties: Mapping[str, Party], where: str) -> str:
        if name in parties:
            return name
        hint = next((p for p in parties if p.lower() == name.lower()), None)
        suffix = f" (did you mean {_quote(hint)}?)" if hint else ""
        raise self.fail(where, f"{_quote(name)} is not a party{suffix}")

    # -- sections ---------------------------------------------------------------

    def plan(self, doc: dict[str, Any]) -> Plan:
        for key in doc:
            if key not in _SECTIONS:
                raise self.fail(
                    f"[{key}]", f"unknown section; expected one of {', '.join(_SECTIONS)}"
                )
        for key in _REQUIRED_SECTIONS:
            if key not in doc:
                raise self.fail(f"[{key}]", "missing section")
        analysis = self.analysis(doc["analysis"])
        parties = self.parties(doc["parties"])
        tables = self.tables(doc["tables"], parties)
        sql = self.query(doc["query"])
        recipients, min_group_size = self.output(doc["output"], parties)
        allow = self.policy(doc["policy"]) if "policy" in doc else ()
        privacy = None
        if "privacy" in doc:
            columns = {name: t.columns for name, t in tables.items()}
            privacy = parse_privacy(self, doc["privacy"], columns)
        budgets = {name: t.budget for name, t in tables.items() if t.budget is not None}
        check_budgets(self, privacy, budgets)
        return Plan(
            analysis, parties, tables, sql, recipients, min_group_size, allow, privacy, self.source
        )

    def analysis(self, value: object) -> Analysis:
        where = "[analysis]"
        sec = self.table(value, where)
        self.keys(sec, where, _ANALYSIS_KEYS, _ANALYSIS_KEYS)
        return Analysis(
            self.string(sec["title"], f"{where} title"),
            self.string(sec["purpose"], f"{where} purpose"),
            self.string(sec["legal_basis"], f"{where} legal_basis"),
            self.integer(sec["retention_days"], f"{where} retention_days", 1),
        )

    def parties(self, value: object) -> dict[str, Party]:
        sec = self.table(value, "[parties]")
        if not sec:
            raise self.fail("[parties]", "declare at least one party, e.g. [parties.fk]")
        parties: dict[str, Party] = {}
        for pid, body in sec.items():
            where = f"[parties.{pid}]"
            self.identifier(pid, where, "party")
            entry = self.table(body, where)
            self.keys(entry, where, _PARTY_KEYS, _PARTY_KEYS)
            parties[pid] = Party(pid, self.string(entry["name"], f"{where} name"))
        self.distinct(list(parties), "[parties]", "party")
        return parties

    def tables(self, value: object, parties: Mapping[str, Party]) -> dict[str, TableDecl]:
        sec = self.table(value, "[tables]")
        if not sec:
            raise self.fail("[tables]", "declare at least one table, e.g. [tables.bistand]")
        tables: dict[str, TableDecl] = {}
        for name, body in sec.items():
            where = f"[tables.{name}]"
            self.identifier(name, where, "table")
            entry = self.table(body, where)
            self.keys(entry, where, _TABLE_KEYS, _TABLE_REQUIRED)
            owner = self.party_ref(
                self.string(entry["owner"], f"{where} owner"), parties, f"{where} owner"
            )
            columns = self.columns(entry["columns"], f"{where} columns")
            unique: tuple[str, ...] = ()
            if "unique" in entry:
                unique = self.unique(entry["unique"], columns, f"{where} unique")
            bound = None
            if "max_rows_per_key" in entry:
                bound = self.integer(entry["max_rows_per_key"], f"{where} max_rows_per_key", 1)
            max_rows = None
            if "max_rows" in entry:
                max_rows = self.integer(entry["max_rows"], f"{where} max_rows", 1)
                if max_rows >= COMPARISON_LIMIT:
                    raise self.fail(f"{where} max_rows", "must be below 2^62")
            ranges = (
                self.ranges(entry["ranges"], columns, f"{where} ranges")
                if "ranges" in entry
                else {}
            )
            budget = None
            if "budget" in entry:
                budget = parse_budget(self, entry["budget"], f"{where} budget")
            tables[name] = TableDecl(name, owner, columns, unique, bound, max_rows, ranges, budget)
        self.distinct(list(tables), "[tables]", "table")
        return tables

    def columns(self, value: object, where: str) -> dict[str, ColumnType]:
        if not isinstance(value, dict):
            raise self.fail(where, f'must be a table of column = "type", got {_kind(value)}')
        if not value:
            raise self.fail(where, "declare at least one column")
        columns: dict[str, ColumnType] = {}
        for col, text in value.items():
            here = f"{where}.{col}"
            self.identifier(col, here, "column")
            if not isinstance(text, str):
                raise self.fail(here, f"the type must be a string, got {_kind(text)}")
            try:
                columns[col] = ColumnType.parse(text)
            except ValueError as exc:
                raise self.fail(here, str(exc)) from None
        self.distinct(list(columns), where, "column")
        return columns

    def unique(
        self, value: object, columns: Mapping[str, ColumnType], where: str
    ) -> tuple[str, ...]:
        names = self.strings(value, where)
        if not names:
            raise self.fail(where, "must name at least one column")
        for name in names:
            if name not in columns:
                hint = next((c for c in columns if c.lower() == name.lower()), None)
                suffix = f" (did you mean {_quote(hint)}?)" if hint else ""
                raise self.fail(where, f"{_quote(name)} is not a column of the table{suffix}")
        if len(set(names)) != len(names):
            raise self.fail(where, "lists a column twice")
        return tuple(names)

    def ranges(
        self, value: object, columns: Mapping[str, ColumnType], where: str
    ) -> dict[str, tuple[Decimal, Decimal]]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table of column = [low, high], got {_kind(value)}")
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for col, pair in value.items():
            here = f"{where}.{col}"
            if col not in columns:
                raise self.fail(here, f"{_quote(col)} is not a column of the table")
            ctype = columns[col]
            if not (ctype.is_numeric or ctype.kind == "date" or ctype.is_text):
                raise self.fail(
                    here, f"ranges apply to int, decimal, date and text columns, not {ctype}"
                )
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.fail(here, "must be [low, high]")
            low, high = (self.bound_value(v, ctype, here) for v in pair)
            if low > high:
                raise self.fail(here, f"low {low} is above high {high}")
            out[col] = (low, high)
        return out

    def bound_value(self, value: object, ctype: ColumnType, where: str) -> Decimal:
        """A bound in the column's units: a number, or for dates the days since 1970-01-01 of
        a ``YYYY-MM-DD`` string or TOML date."""
        if ctype.kind == "date":
            return self.date_bound(value, where)
        if ctype.is_text:
            if not isinstance(value, str) or len(value) != 1 or value == "\0":
                raise self.fail(
                    where, "a text column's range is of its characters: two one-character strings"
                )
            return Decimal(ord(value))
        if isinstance(value, float):
            raise self.fail(where, f'write {value} as a string ("{value}"): floats are not exact')
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(
                where, f"bounds must be integers or decimal strings, got {_kind(value)}"
            )
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise self.fail(where, f"{_quote(str(value))} is not a number") from None
        if not number.is_finite():
            raise self.fail(where, f"{_quote(str(value))} is not a finite number")
        scaled = number.scaleb(ctype.scale)
        if scaled != scaled.to_integral_value():
            raise self.fail(where, f"{value} has more decimals than {ctype}")
        if abs(scaled) >= COMPARISON_LIMIT:
            raise self.fail(where, f"{value} is beyond what {ctype} can hold (|v| < 2^62 units)")
        return number

    def date_bound(self, value: object, where: str) -> Decimal:
        if isinstance(value, datetime):
            raise self.fail(where, f"{value} has a time; write a date (YYYY-MM-DD)")
        if isinstance(value, str):
            text = value
            try:
                value = date.fromisoformat(text.strip())
            except ValueError:
                raise self.fail(where, f"{_quote(text)} is not a date (YYYY-MM-DD)") from None
        if not isinstance(value, date):
            raise self.fail(where, f"date bounds must be dates (YYYY-MM-DD), got {_kind(value)}")
        return Decimal((value - _EPOCH).days)

    def query(self, value: object) -> str:
        where = "[query]"
        sec = self.table(value, where)
        self.keys(sec, where, _QUERY_KEYS, _QUERY_KEYS)
        return self.string(sec["sql"], f"{where} sql").strip()

    def output(self, value: object, parties: Mapping[str, Party]) -> tuple[tuple[str, ...], int]:
        where = "[output]"
        sec = self.table(value, where)
        self.keys(sec, where, _OUTPUT_KEYS, _OUTPUT_REQUIRED)
        here = f"{where} recipients"
        names = self.strings(sec["recipients"], here)
        if not names:
            raise self.fail(here, "name at least one recipient party")
        for name in names:
            self.party_ref(name, parties, here)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise self.fail(here, f"{_quote(dup)} is listed twice")
        size = 0
        if "min_group_size" in sec:
            size = self.integer(sec["min_group_size"], f"{where} min_group_size", 0)
        return tuple(names), size

    def policy(self, value: object) -> tuple[str, ...]:
        where = "[policy]"
        sec = self.table(value, where)
        self.keys(sec, where, _POLICY_KEYS, ())
        if "allow" not in sec:
            return ()
        here = f"{where} allow"
        names = self.strings(sec["allow"], here)
        for name in names:
            if name not in POLICY_ALLOWANCES:
                raise self.fail(
                    here,
                    f"{_quote(name)} is not a known allowance; "
                    f"known: {', '.join(POLICY_ALLOWANCES)}",
                )
            if name not in IMPLEMENTED_ALLOWANCES:  # an allowance must act, or be refused
                raise self.fail(
                    here,
                    f"{_quote(name)} is not implemented yet (results are always padded); remove it",
                )
        if len(set(names)) != len(names):
            raise self.fail(here, "lists an allowance twice")
        return tuple(names)


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped: an error message stays
    one line even when it echoes a key the document quoted with a line break in it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _quote(text: str) -> str:
    """A value in double quotes, escaped as JSON (one line)."""
    return json.dumps(text, ensure_ascii=False)
