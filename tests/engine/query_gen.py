"""A seeded generator of random SQL queries over the subset of docs/sql.md, plus tiny tables.

:func:`gen_data` makes four small tables (0–12 rows, small values, some rows invalid);
:func:`gen_query` makes one query valid for DuckDB and meant to be inside tyst's subset:
projections with ``+ - *``, comparisons, ``AND/OR/NOT``, ``BETWEEN``, ``IN`` lists, searched
``CASE … ELSE``, ``WHERE``, PK–FK joins (chains of up to three relations; inner chains also
as comma joins in a random FROM order, the planner's join order; an expression of a side
equal to a column of the other as a further key), ``IN (SELECT …)``,
``[NOT] EXISTS``, ``GROUP BY`` with every aggregate and ``HAVING``, global aggregates,
``DISTINCT``, ``UNION [ALL]``, ``ORDER BY … LIMIT``, derived tables (with column alias
lists) and CTEs, and date functions (``± INTERVAL`` of every unit, ``DATE_TRUNC``,
``LAST_DAY``, ``EXTRACT``, ``DATE_DIFF``, age in years); NULLs: a table of nullable columns
(``vard``), ``IS [NOT] NULL``, ``COALESCE``, ``NULLIF``, ``CASE`` without ``ELSE``, and
``LEFT``/``RIGHT``/``FULL`` joins; division (``/`` by literals and ``NULLIF(x, 0)``, a
literal power of ten times the dividend, ``//``, ``%``, ``ROUND`` of a quotient and of a
decimal, ``AVG`` in expressions and ``HAVING``,
``DAYOFWEEK``/``ISODOW``) as top-level SELECT items, where tyst's exact decimal is compared
with DuckDB's double rounded half away from zero to the same scale (``QUOT``): the values
are small (no divisor beyond 10^4 in its smallest unit) so that this is exact, and ``ROUND``
of a quotient divides ints by 3, 7 or 11, which makes no exact ties; window functions
(``ROW_NUMBER``, ``RANK``, ``DENSE_RANK``, ``LAG``/``LEAD`` with offsets and defaults,
``COUNT``/``SUM``/``AVG``/``MIN``/``MAX`` with every supported frame, top-k per group in an
outer query; :meth:`Gen.window_select`); order statistics (``MEDIAN``, ``PERCENTILE_DISC``/
``PERCENTILE_CONT`` … ``WITHIN GROUP``, ``QUANTILE_DISC``/``QUANTILE_CONT``/``QUANTILE``;
:meth:`Gen.order_statistic`). A :class:`Query` knows
its output types and its ORDER BY keys, so that :func:`compare` can check the MPC rows
against DuckDB's exactly: as a multiset, or in order where ``ORDER BY`` fixes it (rows tied
on all order keys may come in any order, and the tie group cut by ``LIMIT`` may keep any of
its rows).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tyst.data.types import ColumnType

T = ColumnType.parse
SCHEMAS = {
    "bistand": {
        "pnr": T("id"),
        "kommun": T("text"),
        "manad": T("date"),
        "belopp": T("int"),
        "andel": T("decimal(2)"),
        "ok": T("bool"),
    },
    "lund": {
        "pnr": T("id"),
        "kommun": T("text"),
        "manad": T("date"),
        "belopp": T("int"),
        "andel": T("decimal(2)"),
        "ok": T("bool"),
    },
    "inkomst": {"pnr": T("id"), "inkomst": T("decimal(2)"), "aktiv": T("bool"), "barn": T("int")},
    "sjuk": {"pnr": T("id"), "manad": T("date"), "dagar": T("int")},
    "vard": {  # every column nullable
        "pnr": T("id?"),
        "kommun": T("text?"),
        "manad": T("date?"),
        "belopp": T("int?"),
        "andel": T("decimal(2)?"),
        "ok": T("bool?"),
    },
}
UNIQUE: dict[str, list[tuple[str, ...]]] = {
    "inkomst": [("pnr",)],
    "sjuk": [("pnr", "manad")],
}  # true of every generated data set
"""Key column sets each table is unique on (in all rows, so the oracle's data check finds it)."""

PNRS = [f"19{k:010d}" for k in range(7)]
KOMMUNER = ["Malmö", "Lund", "Eslöv"]
MONTHS = [date(2026, m, 1) for m in (1, 2, 3, 4)]
TEXTS = [*KOMMUNER, "hög", "låg"]
LIKE_PIECES = ["%", "%", "_", "_", "M", "ö", "lm", "und", "19", "0", "L", "v", "å", "g", "ÖG"]

Data = dict[str, dict[str, list[object]]]
Valid = dict[str, list[bool]]


def gen_data(seed: int, max_rows: int = 12) -> tuple[Data, Valid]:
    """Four tiny tables with small values (no value beyond ±10^4) and some invalid rows."""
    rng = random.Random(seed)
    big = max_rows / 12

    def money(m: int) -> dict[str, list[object]]:
        return {
            "pnr": [rng.choice(PNRS) for _ in range(m)],
            "kommun": [rng.choice(KOMMUNER) for _ in range(m)],
            "manad": [rng.choice(MONTHS) for _ in range(m)],
            "belopp": [rng.randint(-20, 100) for _ in range(m)],
            "andel": [Decimal(rng.randint(-999, 999)).scaleb(-2) for _ in range(m)],
            "ok": [rng.random() < 0.5 for _ in range(m)],
        }

    n_ink = rng.randint(0, len(PNRS))
    pairs = rng.sample([(p, m) for p in PNRS for m in MONTHS], rng.randint(0, min(max_rows, 28)))

    def nulled(cols: dict[str, list[object]]) -> dict[str, list[object]]:
        share = rng.choice([0.1, 0.3, 0.6])
        return {c: [None if rng.random() < share else v for v in vs] for c, vs in cols.items()}

    data: Data = {
        "vard": nulled(money(rng.randint(0, int(8 * big)))),
        "bistand": money(rng.randint(0, max_rows)),
        "lund": money(rng.randint(0, int(8 * big))),
        "inkomst": {
            "pnr": rng.sample(PNRS, n_ink),
            "inkomst": [Decimal(rng.randint(0, 99_999)).scaleb(-2) for _ in range(n_ink)],
            "aktiv": [rng.random() < 0.5 for _ in range(n_ink)],
            "barn": [rng.randint(0, 4) for _ in range(n_ink)],
        },
        "sjuk": {
            "pnr": [p for p, _ in pairs],
            "manad": [m for _, m in pairs],
            "dagar": [rng.randint(1, 30) for _ in pairs],
        },
    }
    p_valid = rng.choice([1.0, 0.8, 0.5])
    valid = {
        t: [rng.random() < p_valid for _ in next(iter(cols.values()))] for t, cols in data.items()
    }
    return data, valid


# ------------------------------------------------------------------ types and scopes

# kinds: "id", "text", "int", "dec" (with a scale), "date", "bool", "ratio" (AVG)
Kind = tuple[str, int]
INT: Kind = ("int", 0)
DATE: Kind = ("date", 0)
BOOL: Kind = ("bool", 0)
ID: Kind = ("id", 0)
TEXT: Kind = ("text", 0)
CTEXT: Kind = ("text", 1)  # computed text (LOWER, SUBSTRING, ||): its bytes, no hash key
RATIO: Kind = ("ratio", 0)
QUOT = "quot"  # ("quot", s): tyst's quotient at s decimals; DuckDB's double, rounded there
ORDERED_KINDS = {"int", "dec", "date", "bool", "ratio", "text", "id"}
WINDOW_WORDS = 31
"""The most words of a generated window's sort key (one sort; more are sorted in blocks)."""


def kind_of(t: ColumnType) -> Kind:
    if t.kind == "decimal":
        return ("dec", t.scale)
    return (t.kind, 0)


@dataclass(frozen=True)
class Col:
    alias: str | None  # None: refer to it unqualified
    name: str
    kind: Kind
    null: bool = False  # may be NULL (every column of a derived table whose query may give one)

    @property
    def ref(self) -> str:
        return f"{self.alias}.{self.name}" if self.alias else self.name


@dataclass
class Rel:
    """A FROM item (or a chain of joins): its SQL, its columns and what it is unique on."""

    sql: str
    cols: list[Col]
    unique: list[tuple[str, ...]] = field(default_factory=list)  # only for a single relation
    aliases: set[str] = field(default_factory=set)
    items: list[str] | None = None
    """A chain of inner joins: its FROM items and ``conds`` (the ON conditions), so it can be
    written as a comma join ``FROM x, y WHERE …`` in any order (the planner's join order)."""
    conds: list[str] = field(default_factory=list)


@dataclass
class Query:
    """One generated query: SQL without and with its ORDER BY/LIMIT tail, and its outputs."""

    body: str
    names: list[str]
    kinds: list[Kind]
    unique: list[tuple[str, ...]] = field(default_factory=list)
    order: list[int] = field(default_factory=list)  # output positions of the ORDER BY keys
    order_sql: str = ""
    limit: int | None = None
    features: set[str] = field(default_factory=set)

    @property
    def sql(self) -> str:
        tail = f" ORDER BY {self.order_sql}" if self.order else ""
        if self.limit is not None:
            tail += f" LIMIT {self.limit}"
        return self.body + tail

    @property
    def sql_without_limit(self) -> str:
        return self.body + (f" ORDER BY {self.order_sql}" if self.order else "")


class Gen:
    """One random query per :meth:`query` call; all randomness from one seeded ``Random``."""

    def __init__(self, seed: int, known_bugs: bool = False) -> None:
        self.rng = random.Random(seed)
        self.aside = random.Random(seed + 1_000_003)
        """Draws for later-added constructs (expression join keys): they leave ``rng``'s
        stream, and so every other query of a seed, as it was."""
        self.known_bugs = known_bugs  # False: avoid the shapes of the open known bugs
        self.nullish = False  # the query being generated may produce a NULL somewhere
        self.nested = 0  # > 0 while generating a derived table or CTE
        self.global_agg = False  # generating the aggregates of a query without GROUP BY
        self.in_union = False  # generating a UNION branch
        self.n = 0
        self.ctes: list[tuple[str, Query]] = []
        self.features: set[str] = set()

    def fresh(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- literals

    def literal(self, kind: Kind, plain_dates: bool = True) -> str:
        r = self.rng
        k = kind[0]
        if k == "int":
            return str(r.randint(-20, 100))
        if k == "dec":
            s = kind[1]
            v = Decimal(r.randint(-999, 999)).scaleb(-2).quantize(Decimal(1).scaleb(-s))
            return str(v)
        if k == "date":
            d = r.choice(MONTHS) + timedelta(days=r.choice([0, 0, -1, 1, 15]))
            return f"'{d}'" if plain_dates and self.chance(0.3) else f"DATE '{d}'"
        if k == "bool":
            return r.choice(["TRUE", "FALSE"])
        if k == "id":
            return f"'{r.choice(PNRS)}'"
        return f"'{r.choice(TEXTS)}'"

    # -- expressions: (sql, kind)

    def cols(self, scope: Sequence[Col], kinds: set[str]) -> list[Col]:
        return [c for c in scope if c.kind[0] in kinds]

    def num(self, scope: Sequence[Col], depth: int, muls: int = 1) -> tuple[str, Kind]:
        """An int or decimal expression."""
        r = self.rng
        nums = self.cols(scope, {"int", "dec"})
        roll = r.random()
        if self.cols(scope, {"date"}) and self.chance(0.06):
            return self.date_number(scope), INT
        if self.cols(scope, {"id", "text"}) and self.chance(0.04):
            self.features.add("length")
            return f"LENGTH({self.text_value(scope, depth, nonnull=True)})", INT
        if depth <= 0 or roll < 0.45:
            if nums and self.chance(0.85):
                c = r.choice(nums)
                return c.ref, c.kind
            kind = INT if self.chance(0.7) else ("dec", r.choice([1, 2]))
            return self.literal(kind), kind
        if roll < 0.8:
            op = r.choice(["+", "-"])
            a, ka = self.num(scope, depth - 1, muls)
            b, kb = self.num(scope, depth - 1, muls)
            self.features.add("arith")
            return f"({a} {op} {b})", _num_join(ka, kb, op)
        if roll < 0.84:
            a, ka = self.num(scope, depth - 1, muls)
            self.features.add("neg")
            return f"(-({a}))", ka
        if roll < 0.93 and muls > 0:
            a, ka = self.num(scope, depth - 1, 0)
            f = r.randint(-3, 9)
            self.features.add("mul")
            if self.chance(0.25):
                return f"({a} * 1.5)", _num_join(ka, ("dec", 1), "*")
            return f"({a} * {f})", ka
        cond = self.cond(scope, depth - 1)
        a, ka = self.num(scope, depth - 1, muls)
        b, kb = self.num(scope, depth - 1, muls)
        nullish = r.random()
        if nullish < 0.45:
            self.nullish = True
        if nullish < 0.15:
            self.features.add("case_without_else")
            return f"CASE WHEN {cond} THEN {a} END", ka
        if nullish < 0.35:
            self.features.add("coalesce")
            return f"COALESCE({a}, {b})", _num_join(ka, kb, "+")
        if nullish < 0.45:
            self.features.add("nullif")
            return f"NULLIF({a}, {self.literal(INT)})", ka
        self.features.add("case")
        return f"CASE WHEN {cond} THEN {a} ELSE {b} END", _num_join(ka, kb, "+")

    def date_expr(self, scope: Sequence[Col], cast: bool = False) -> str:
        """A date-valued expression of a date column: shifted, truncated or a month's end.

        DuckDB makes ``± INTERVAL`` and ``DATE_TRUNC`` a TIMESTAMP, on which ``- 1`` fails;
        ``cast`` makes them dates again (for values that may become a derived column)."""
        r = self.rng
        c = r.choice(self.cols(scope, {"date"})).ref
        roll = r.random()
        if roll < 0.3:
            return c
        if roll < 0.65:
            unit = r.choice(["MONTH", "MONTH", "QUARTER", "YEAR", "DAY", "WEEK"])
            n = r.choice([0, 1, 1, 2, 3, 13, -1])
            base = f"({c} - 1)" if self.chance(0.4) else c  # month ends exercise the clamp
            self.features.add("date_shift")
            shifted = f"({base} {r.choice(['+', '-'])} INTERVAL '{n}' {unit})"
            return f"CAST({shifted} AS DATE)" if cast else shifted
        if roll < 0.85:
            self.features.add("date_trunc")
            unit = r.choice(["year", "quarter", "month", "week"])
            trunc = f"DATE_TRUNC('{unit}', {c})"
            return f"CAST({trunc} AS DATE)" if cast else trunc
        self.features.add("last_day")
        return f"LAST_DAY({c})"

    def date_number(self, scope: Sequence[Col]) -> str:
        """An int computed from dates: EXTRACT, DATE_DIFF or the age in whole years."""
        r = self.rng
        roll = r.random()
        if roll < 0.35:
            self.features.add("extract")
            field = r.choice(["YEAR", "QUARTER", "MONTH", "DAY"])
            return f"EXTRACT({field} FROM {self.date_expr(scope)})"
        other = self.date_expr(scope) if self.chance(0.6) else self.literal(DATE, False)
        first, second = (self.date_expr(scope), other)[:: r.choice([1, -1])]
        if roll < 0.75:
            self.features.add("date_diff")
            unit = r.choice(["day", "month", "quarter", "year"])
            return f"DATE_DIFF('{unit}', {first}, {second})"
        self.features.add("age")
        return f"DATE_PART('year', AGE({first}, {second}))"

    def scalar(self, scope: Sequence[Col], kind: Kind, depth: int) -> tuple[str, Kind]:
        """An expression of ``kind`` (numeric kinds: int or decimal of any scale)."""
        r = self.rng
        k = kind[0]
        if k in ("int", "dec"):
            return self.num(scope, depth)
        if k == "bool":
            return self.cond(scope, depth), BOOL
        cands = [c for c in scope if c.kind == kind]
        if k == "date" and cands and self.chance(0.3):
            return self.date_expr(scope, cast=True), DATE
        if k in ("text", "date") and cands and depth > 0 and self.chance(0.15):
            self.features.add("coalesce")
            self.nullish = True
            return f"COALESCE({r.choice(cands).ref}, {self.literal(kind, False)})", kind
        if k == "text" and self.chance(0.3):
            return self.text_fn(scope, max(depth, 1)), CTEXT
        if k == "text" and depth > 0 and self.chance(0.3):
            self.features.add("case")
            cond = self.cond(scope, depth - 1)
            a = self.literal(TEXT) if not cands or self.chance(0.5) else r.choice(cands).ref
            return f"CASE WHEN {cond} THEN {a} ELSE {self.literal(TEXT)} END", TEXT
        if cands and self.chance(0.85):
            return r.choice(cands).ref, kind
        if k == "id":
            return "", kind  # no id literal of type id
        return self.literal(kind, plain_dates=False), kind

    def text_value(self, scope: Sequence[Col], depth: int, nonnull: bool = False) -> str:
        """A text-valued expression: a text/id column (stored or computed), a literal, or
        (depth > 0) a text function of one; ``nonnull``: never a column that may be NULL (text
        functions of those are refused)."""
        r = self.rng
        texts = [c for c in self.cols(scope, {"text", "id"}) if not (nonnull and c.null)]
        if depth > 0 and self.chance(0.25):
            return self.text_fn(scope, depth)
        if texts and self.chance(0.85):
            return r.choice(texts).ref
        return self.literal(TEXT)

    def text_fn(self, scope: Sequence[Col], depth: int) -> str:
        """LOWER/UPPER, LEFT, SUBSTRING/SUBSTR or a concatenation (bounded to 64 bytes: every
        part of secret length is a LEFT of at most 5 characters, 20 bytes)."""
        r = self.rng
        arg = self.text_value(scope, depth - 1, nonnull=True)
        roll = r.random()
        if roll < 0.3:
            self.features.add("case_map")  # UPPER is refused on text spanning ß (U+00DF),
            return f"LOWER({arg})"  # as these values do (tests/engine/test_text_functions.py)
        if roll < 0.5:
            self.features.add("substring")
            return f"LEFT({arg}, {r.randint(0, 5)})"
        if roll < 0.75:
            self.features.add("substring")
            k, n = r.randint(1, 6), r.randint(0, 4)
            return r.choice(
                [f"SUBSTRING({arg}, {k}, {n})", f"SUBSTRING({arg} FROM {k} FOR {n})",
                 f"SUBSTR({arg}, {k})"]
            )  # fmt: skip
        self.features.add("concat")
        other = self.text_value(scope, depth - 1, nonnull=True)
        lit = self.literal(TEXT)
        parts = [f"LEFT({arg}, {r.randint(0, 5)})", lit, f"LEFT({other}, {r.randint(1, 5)})"]
        parts = parts[: r.randint(2, 3)]
        r.shuffle(parts)
        if self.chance(0.3):
            return f"CONCAT({', '.join(parts)})"
        return "(" + " || ".join(parts) + ")"

    def like(self, scope: Sequence[Col], depth: int) -> str:
        """``x [NOT] LIKE p`` with ``%``, ``_`` and literal pieces (å, ä, ö among them)."""
        r = self.rng
        pieces = [r.choice(LIKE_PIECES) for _ in range(r.randint(1, 4))]
        neg = "NOT " if self.chance(0.3) else ""
        self.features.add("like")
        return f"({self.text_value(scope, depth)} {neg}LIKE '{''.join(pieces)}')"

    def cond(self, scope: Sequence[Col], depth: int) -> str:
        """A bool expression."""
        r = self.rng
        roll = r.random()
        if depth > 0 and roll < 0.25:
            op = r.choice(["AND", "OR"])
            self.features.add("and_or")
            return f"({self.cond(scope, depth - 1)} {op} {self.cond(scope, depth - 1)})"
        if depth > 0 and roll < 0.32:
            self.features.add("not")
            return f"(NOT {self.cond(scope, depth - 1)})"
        return self.atom(scope, depth)

    def atom(self, scope: Sequence[Col], depth: int) -> str:
        r = self.rng
        bools = self.cols(scope, {"bool"})
        choices = ["cmp", "cmp", "between", "in"]
        if bools:
            choices.append("bool")
        if self.cols(scope, {"id", "text"}):
            choices.append("like")
        if any(c.null for c in scope):
            choices.append("is_null")
        what = r.choice(choices)
        kinds = sorted({c.kind[0] for c in scope if c.kind[0] != "ratio"})
        if what == "like":
            return self.like(scope, depth)
        if what == "is_null":
            self.features.add("is_null")
            c = r.choice([c for c in scope if c.null and c.kind[0] != "ratio"] or scope)
            if c.kind[0] == "ratio":
                return "TRUE"
            return f"({c.ref} IS {'NOT ' if self.chance(0.5) else ''}NULL)"
        if what == "bool":
            b = r.choice(bools).ref
            if self.chance(0.2):
                other = r.choice([*[c.ref for c in bools], "TRUE", "FALSE"])
                return f"({b} {r.choice(['=', '<>'])} {other})"
            return b
        if what == "between":
            self.features.add("between")
            if self.cols(scope, {"date"}) and self.chance(0.3):
                day = r.choice(self.cols(scope, {"date"})).ref
                lo, hi = sorted([self.literal(DATE), self.literal(DATE)], key=_date_key)
                neg = "NOT " if self.chance(0.2) else ""
                return f"({day} {neg}BETWEEN {lo} AND {hi})"
            x, _ = self.num(scope, depth)
            low = r.randint(-20, 60)
            return f"({x} BETWEEN {low} AND {low + r.randint(0, 60)})"
        if what == "in":
            self.features.add("in_list")
            cands = self.cols(scope, {"int", "id", "text", "date"})
            if not cands:
                x, kind = self.num(scope, depth)
            else:
                c = r.choice(cands)
                x, kind = c.ref, c.kind
            if kind[0] == "dec":
                kind = INT
            items = ", ".join(self.literal(kind) for _ in range(r.randint(1, 4)))
            neg = "NOT " if self.chance(0.3) else ""
            return f"({x} {neg}IN ({items}))"
        # comparisons
        self.features.add("compare")
        kind_name = r.choice([k for k in kinds if k != "bool"] or ["int"])
        if kind_name in ("int", "dec"):
            a, _ = self.num(scope, depth)
            b, _ = self.num(scope, depth - 1) if self.chance(0.5) else (self.literal(INT), INT)
            op = r.choice(["=", "<>", "<", "<=", ">", ">="])
            return f"({a} {op} {b})"
        cands = [c for c in scope if c.kind[0] == kind_name]
        left = r.choice(cands)
        same = [c for c in cands if c != left]
        right = r.choice(same).ref if same and self.chance(0.4) else self.literal(left.kind)
        if kind_name == "date":
            op = r.choice(["=", "<>", "<", "<=", ">", ">="])
            if self.chance(0.3):
                return f"({self.date_expr(scope)} {op} {right})"
        else:
            op = r.choice(["=", "<>"])
            if self.chance(0.3):  # text and ids in UTF-8 byte order
                op = r.choice(["<", "<=", ">", ">="])
                self.features.add("text_order")
            if kind_name == "text" and self.chance(0.3):
                return f"({self.text_fn(scope, 1)} {op} {right})"
        return f"({left.ref} {op} {right})"

    # -- FROM

    def base(self, table: str, alias: str | None = None) -> Rel:
        alias = alias or self.fresh(table[0])
        cols = [Col(alias, c, kind_of(t), t.nullable) for c, t in SCHEMAS[table].items()]
        sql = f"{table} {alias}"
        return Rel(sql, cols, list(UNIQUE.get(table, [])), {alias}, [sql])

    def derived(self, depth: int) -> Rel:
        """A derived table or a CTE reference over a random query."""
        self.nested += 1
        outer_nullish, self.nullish = self.nullish, False
        q = self.query(depth - 1, top=False)
        null, self.nullish = self.nullish, outer_nullish or self.nullish
        self.nested -= 1
        if all(k[0] in ORDERED_KINDS for k in q.kinds) and self.chance(0.2):
            # top-n below the top: ordering by every column makes the rows kept certain
            q.order = list(range(len(q.kinds)))
            q.order_sql = ", ".join(n + (" DESC" if self.chance(0.4) else "") for n in q.names)
            q.limit = self.rng.choice([0, 1, 2, 4])
            q.unique = []
            self.features.add("inner_limit")
        alias = self.fresh("d")
        names = list(q.names)
        renames = ""
        if self.chance(0.15):  # a column alias list renames a prefix positionally
            k = self.rng.randint(1, len(names))
            new = [self.fresh("r") for _ in range(k)]
            mapping = dict(zip(names[:k], new, strict=False))
            names = new + names[k:]
            q.unique = [tuple(mapping.get(n, n) for n in u) for u in q.unique]
            renames = f" ({', '.join(new)})"
            self.features.add("alias_list")
        cols = [Col(alias, n, k, null) for n, k in zip(names, q.kinds, strict=True)]
        if self.chance(0.4):
            name = self.fresh("w")
            self.ctes.append((f"{name}{renames}", q))
            self.features.add("cte")
            return Rel(f"{name} {alias}", cols, q.unique, {alias}, [f"{name} {alias}"])
        self.features.add("derived")
        sql = f"({q.sql}) AS {alias}{renames}"
        return Rel(sql, cols, q.unique, {alias}, [sql])

    def relation(self, depth: int) -> Rel:
        if depth > 0 and self.chance(0.3):
            return self.derived(depth)
        return self.base(self.rng.choice(["bistand", "bistand", "lund", "inkomst", "sjuk", "vard"]))

    def pk_relation(self, depth: int) -> Rel:
        """A relation unique on some key: inkomst, sjuk, or a grouped/distinct derived table."""
        r = self.rng
        if depth > 0 and self.chance(0.35):
            for _ in range(5):
                rel = self.derived(depth)
                if rel.unique and all(
                    any(c.name == k and c.kind[0] != "ratio" for c in rel.cols)
                    for k in rel.unique[0]
                ):
                    return rel
        return self.base(r.choice(["inkomst", "sjuk"]))

    def from_(self, depth: int) -> Rel:
        rel = self._from(depth)
        if any(c.null for c in rel.cols):
            self.nullish = True
        return rel

    def _from(self, depth: int) -> Rel:
        rel = self.relation(depth)
        if not self.chance(0.4):
            return rel
        for _ in range(self.rng.choice([1, 1, 2])):
            other = self.pk_relation(depth)
            joined = self.join(rel, other)
            if joined is None and rel.unique and len(rel.aliases) == 1 and self.chance(0.5):
                joined = self.join(other, rel)  # the unique side on the left
            if joined is not None:
                rel = joined
        return rel

    def join(self, left: Rel, right: Rel) -> Rel | None:
        """``left JOIN right ON`` equalities on a key ``right`` is unique on."""
        for key in right.unique:
            if not key:
                continue
            pairs = []
            for k in key:
                rk = next(c for c in right.cols if c.name == k)
                lks = [c for c in left.cols if c.name == k and c.kind == rk.kind]
                if not lks:
                    break
                pairs.append((self.rng.choice(lks), rk))
            else:
                if len(pairs) != len(key):
                    continue
                on = [
                    f"{a.ref} = {b.ref}" if self.chance(0.5) else f"{b.ref} = {a.ref}"
                    for a, b in pairs
                ]
                scope = left.cols + right.cols
                side = self.rng.choice(["", "", "", "LEFT ", "LEFT OUTER ", "RIGHT ", "FULL "])
                extra = {"": scope, "RIGHT ": left.cols}.get(side, right.cols)
                if self.chance(0.3) and side != "FULL ":
                    on.append(self.cond(extra, 1))  # outer: on the side that gets NULLs
                ints = [(a, b) for a in left.cols for b in right.cols if a.kind == b.kind == INT]
                expression_key = None  # an expression of a side as a further key
                if not side and ints and self.aside.random() < 0.25:
                    a, b = self.aside.choice(ints)
                    shift = self.aside.choice(["+ 0", "- 1", "* 1"])
                    expression_key = f"({a.ref} {shift}) = {b.ref}"
                    self.features.add("expression_join_key")
                self.features.add(f"{side.split()[0].lower()}_join" if side else "join")
                if side:
                    nulls_left, nulls_right = side in ("RIGHT ", "FULL "), side != "RIGHT "
                    scope = [
                        Col(c.alias, c.name, c.kind, True) if nulls_left else c for c in left.cols
                    ] + [
                        Col(c.alias, c.name, c.kind, True) if nulls_right else c for c in right.cols
                    ]
                self.rng.shuffle(on)
                if expression_key is not None:
                    on.insert(self.aside.randint(0, len(on)), expression_key)
                sql = f"{left.sql} {side}JOIN {right.sql} ON {' AND '.join(on)}"
                # tyst infers no uniqueness through joins (yet): claim none
                joined = Rel(sql, scope, [], left.aliases | right.aliases)
                if not side and left.items is not None and right.items is not None:
                    joined.items = left.items + right.items
                    joined.conds = left.conds + on
                return joined
        return None

    # -- WHERE

    def where(self, rel: Rel, depth: int) -> str:
        parts = []
        if self.chance(0.55):
            parts.append(self.cond(rel.cols, 2))
        if self.chance(0.3):
            semi = self.semi(rel, depth - 1)
            if semi:
                parts.append(semi)
        if self.chance(0.1):
            semi = self.semi(rel, depth - 1)
            if semi:
                parts.append(semi)
        if self.chance(0.2):
            scalar = self.scalar_subquery(rel.cols, correlate=True)
            if scalar:
                parts.append(scalar)
        self.rng.shuffle(parts)
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    def semi(self, rel: Rel, depth: int) -> str | None:
        r = self.rng
        if depth > 0 and self.chance(0.2):  # over a derived table or CTE
            inner = self.derived(depth)
            inner.cols = [c for c in inner.cols if c.kind[0] != "ratio"]
            self.features.add("semi_derived")
        else:
            inner = self.base(r.choice(list(SCHEMAS)))
        if self.chance(0.5):  # [NOT] IN (SELECT …)
            options = [
                (o, i)
                for o in rel.cols
                for i in inner.cols
                if o.kind == i.kind and o.kind[0] in ("id", "text", "int", "date")
            ]
            if not options:
                return None
            o, i = r.choice(options)
            where = f" WHERE {self.cond(inner.cols, 1)}" if self.chance(0.5) else ""
            neg = "NOT " if self.chance(0.4) and not (o.null or i.null) else ""
            self.features.add("not_in_select" if neg else "in_select")
            return f"{o.ref} {neg}IN (SELECT {i.ref} FROM {inner.sql}{where})"
        keys = []
        for i in inner.cols:
            outs = [o for o in rel.cols if o.name == i.name and o.kind == i.kind]
            if outs and i.kind[0] in ("id", "date", "text"):
                keys.append((r.choice(outs), i))
        if not keys:
            return None
        keys = r.sample(keys, r.randint(1, len(keys)))
        conds = [f"{i.ref} = {o.ref}" for o, i in keys]
        if self.chance(0.5):
            conds.append(self.cond(inner.cols, 1))
        unequal = [
            (o, i)
            for i in inner.cols
            for o in rel.cols
            if o.kind == i.kind and o.kind[0] in ("id", "text", "int", "date", "dec")
        ]
        if unequal and self.chance(0.25):  # inner.a <> outer.b (TPC-H Q21): two COUNTs
            o, i = r.choice(unequal)
            conds.append(f"{i.ref} <> {o.ref}" if self.chance(0.5) else f"{o.ref} <> {i.ref}")
            self.features.add("exists_unequal")
        r.shuffle(conds)
        neg = "NOT " if self.chance(0.4) else ""
        self.features.add("not_exists" if neg else "exists")
        return f"{neg}EXISTS (SELECT 1 FROM {inner.sql} WHERE {' AND '.join(conds)})"

    def scalar_subquery(self, scope: Sequence[Col], correlate: bool) -> str | None:
        """``x op (SELECT agg FROM t …)``: uncorrelated or, when ``correlate``, sometimes
        correlated by equalities with ``scope`` (a COUNT then needs the left join: 0 over no
        rows)."""
        r = self.rng
        inner = self.base(r.choice(list(SCHEMAS)))
        nums = self.cols(inner.cols, {"int", "dec"})
        outer = self.cols(scope, {"int", "dec"})
        if not nums or not outer:
            return None
        conds = []
        keys = [
            (o, i)
            for i in inner.cols
            for o in scope
            if o.name == i.name and o.kind == i.kind and i.kind[0] in ("id", "date", "text")
        ]
        correlated = correlate and bool(keys) and self.chance(0.5)
        if correlated:
            for o, i in r.sample(keys, r.randint(1, min(2, len(keys)))):
                conds.append(f"{i.ref} = {o.ref}" if self.chance(0.5) else f"{o.ref} = {i.ref}")
        if self.chance(0.5):
            conds.append(self.cond(inner.cols, 1))
        r.shuffle(conds)
        func = r.choice(["SUM", "MIN", "MAX", "AVG", "COUNT"])
        value = "COUNT(*)" if func == "COUNT" else f"{func}({r.choice(nums).ref})"
        if self.chance(0.3):
            value = r.choice([f"0.5 * {value}", f"{value} + 1", f"2 * {value} - 3"])
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        x = r.choice(outer).ref
        if self.chance(0.3):
            x = f"{x} + {r.randint(-5, 5)}"
        op = r.choice(["<", "<=", ">", ">=", "<>", *([] if func == "AVG" else ["="])])
        self.features.add("correlated_subquery" if correlated else "scalar_subquery")
        if correlated and func == "COUNT":
            self.features.add("correlated_count")
        return f"({x} {op} (SELECT {value} FROM {inner.sql}{where}))"

    # -- queries

    def items(self, scope: list[Col], count: int) -> tuple[list[str], list[str], list[Kind]]:
        """SELECT items: plain columns (keeping their name when it is free) or aliased exprs."""
        sqls, names, kinds = [], [], []
        for _ in range(count):
            if scope and self.chance(0.55):
                c = self.rng.choice(scope)
                sql, kind, name = c.ref, c.kind, c.name
            else:
                kind = self.rng.choice([INT, INT, ("dec", 2), BOOL, DATE, TEXT])
                sql, kind = self.scalar([c for c in scope if c.kind[0] != "ratio"], kind, 2)
                if not sql:
                    continue
                name = ""
            if not self.nested and not self.in_union and self.chance(0.12):
                division = self.division(scope)
                if division is not None:
                    sql, kind = division
                    name = ""
            if not name or name in names or self.chance(0.2):
                alias = self.fresh("c")
                sql, name = f"{sql} AS {alias}", alias
            sqls.append(sql)
            names.append(name)
            kinds.append(kind)
        if not sqls:
            alias = self.fresh("c")
            sqls, names, kinds = [f"1 AS {alias}"], [alias], [INT]
        return sqls, names, kinds

    def plain_select(self, depth: int) -> Query:
        r = self.rng
        rel = self.from_(depth)
        where = self.where(rel, depth)
        if rel.items is not None and len(rel.items) > 1 and self.chance(0.5):
            # the same inner joins as a comma join, in a random FROM order
            items = list(rel.items)
            r.shuffle(items)
            conds = rel.conds + ([f"({where.removeprefix(' WHERE ')})"] if where else [])
            rel = Rel(", ".join(items), rel.cols, rel.unique, rel.aliases)
            where = f" WHERE {' AND '.join(conds)}"
            self.features.add("comma_join")
        distinct = self.chance(0.15)
        scope = rel.cols
        if self.chance(0.1) and not distinct:
            star = "*"
            if len(rel.aliases) > 1 and self.chance(0.6):  # alias.* of one side of a join
                alias = r.choice(sorted(rel.aliases))
                star, scope = f"{alias}.*", [c for c in scope if c.alias == alias]
            names = [c.name for c in scope]
            if len(set(names)) == len(names):
                self.features.add("star")
                return Query(
                    f"SELECT {star} FROM {rel.sql}{where}",
                    names,
                    [c.kind for c in scope],
                    list(rel.unique) if star == "*" else [],
                )
            scope = rel.cols
        if distinct:
            scope = [c for c in scope if c.kind[0] != "ratio"]
        sqls, names, kinds = self.items(scope, self.rng.randint(1, 4))
        unique = list(rel.unique) if not distinct else [tuple(names)]
        unique = [u for u in unique if all(n in names for n in u)]
        if distinct:
            self.features.add("distinct")
        return Query(
            f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(sqls)} FROM {rel.sql}{where}",
            names,
            kinds,
            unique,
        )

    def agg_call(self, scope: list[Col]) -> tuple[str, Kind]:
        r = self.rng
        nums = [c for c in scope if c.kind[0] in ("int", "dec")]
        roll = r.random()
        if roll < 0.2 or not scope:
            self.features.add("count")
            return "COUNT(*)", INT
        if roll < 0.3:
            self.features.add("count")
            return f"COUNT({r.choice(scope).ref})", INT
        if roll < 0.42:
            self.features.add("count_distinct")
            return f"COUNT(DISTINCT {r.choice(scope).ref})", INT
        if roll < 0.5:
            stat = self.order_statistic(scope)
            if stat is not None:
                return stat
        func = r.choice(["SUM", "SUM", "MIN", "MAX", "AVG"])
        texts = [c for c in self.cols(scope, {"text", "id"}) if not c.null]
        if func in ("MIN", "MAX") and not self.global_agg and texts and self.chance(0.2):
            self.features.add("min_max_text")  # grouped, never NULL: computed text
            return f"{func}({r.choice(texts).ref})", CTEXT
        if func in ("MIN", "MAX") and self.chance(0.25) and self.cols(scope, {"date"}):
            self.features.add("min_max")
            return f"{func}({r.choice(self.cols(scope, {'date'})).ref})", DATE
        if nums and self.chance(0.6):
            c = r.choice(nums)
            arg, kind = c.ref, c.kind
        else:
            arg, kind = self.num(scope, 1)
        self.features.add({"SUM": "sum", "AVG": "avg"}.get(func, "min_max"))
        return f"{func}({arg})", RATIO if func == "AVG" else kind

    def order_statistic(self, scope: list[Col]) -> tuple[str, Kind] | None:
        """PERCENTILE_DISC/QUANTILE_DISC/QUANTILE of an int, decimal or date; MEDIAN and
        PERCENTILE_CONT/QUANTILE_CONT of a decimal at a q that is a multiple of 1/8 (exact
        in DuckDB too), and of an int at any q only as a top-level item (DuckDB's DOUBLE,
        compared at q's decimals as a quotient)."""
        r = self.rng
        values = self.cols(scope, {"int", "dec", "date"})
        if not values:
            return None
        c = r.choice(values)
        arg, kind = (c.ref, c.kind) if c.kind == DATE or self.chance(0.6) else self.num(scope, 1)
        if not any(ch.isalpha() for ch in arg):  # a literal: DuckDB's ORDER BY 4.87 is refused
            arg, kind = c.ref, c.kind
        top = not self.nested and not self.in_union
        if kind == DATE or (kind == INT and not top) or self.chance(0.5):
            q = r.choice(["0", "0.25", "0.5", "0.9", "1", "0.333"])
            desc = " DESC" if kind != DATE and self.chance(0.3) else ""
            form = r.choice(
                [
                    f"PERCENTILE_DISC({q}) WITHIN GROUP (ORDER BY {arg}{desc})",
                    f"QUANTILE_DISC({arg}, {q})",
                    f"QUANTILE({arg}, {q})",
                ]
            )
            self.features.add("percentile_disc")
            return form, kind
        q = r.choice(["0", "0.25", "0.5", "0.75", "1", "0.125"])
        if kind == INT:
            q = r.choice([q, "0.9", "0.3", "0.05"])
        desc = " DESC" if self.chance(0.3) else ""
        form = r.choice(
            [
                f"PERCENTILE_CONT({q}) WITHIN GROUP (ORDER BY {arg}{desc})",
                f"QUANTILE_CONT({arg}, {q})",
                f"MEDIAN({arg})" if q == "0.5" else f"QUANTILE_CONT({arg}, {q})",
            ]
        )
        if kind == INT:  # DuckDB: a DOUBLE; tyst: exact with q's decimals (at least 1)
            self.features.add("median_int")
            return form, (QUOT, max(1, len(q.partition(".")[2])))
        self.features.add("median_decimal")
        return form, kind

    def division(self, scope: Sequence[Col]) -> tuple[str, Kind] | None:
        """A quotient, integer division, remainder, ROUND or weekday, for a top-level SELECT
        item only (a quotient inside other expressions of a derived table would be its
        rounded decimal, where DuckDB keeps a double)."""
        r = self.rng
        nums = self.cols(scope, {"int", "dec"})
        ints = [c for c in nums if c.kind == INT]
        decs = [c for c in nums if c.kind[0] == "dec"]
        dates = self.cols(scope, {"date"})
        available = [
            name
            for name, ok in (
                ("divide", nums),
                ("round_quotient", ints),
                ("round", decs),
                ("int_divide", ints),
                ("weekday", dates),
            )
            if ok
        ]
        if not available:
            return None
        pick = r.choice(available)
        if pick == "divide":
            a, ka = self.num(scope, 1)
            if self.chance(0.5):
                d = r.choice(["3", "7", "-4", "2.5", "12", "-0.5"])
            else:
                d = f"NULLIF({r.choice(nums).ref}, 0)"
                self.nullish = True
            self.features.add("divide")
            scale = ka[1]
            if self.chance(0.6):  # a literal power of ten folded into the division
                factor = r.choice(["0.1", "0.01", "10"])
                a, scale = f"{factor} * ({a})", scale + len(factor.partition(".")[2])
                self.features.add("power_of_ten_dividend")
            return f"{a} / {d}", (QUOT, max(6, scale))
        if pick == "round_quotient":
            a = r.choice(ints).ref
            k = r.randint(0, 3)
            self.features.add("round_quotient")
            return f"ROUND({a} / {r.choice([3, 7, 11, -3])}, {k})", (QUOT, k)
        if pick == "round":
            c = r.choice(decs)
            k = r.randint(0, c.kind[1] - 1)
            self.features.add("round")
            if self.chance(0.3):
                return f"CAST({c.ref} AS BIGINT)", INT
            return f"ROUND({c.ref}, {k})", ("dec", k)
        if pick == "int_divide":
            a = r.choice(ints).ref
            d = r.choice(["3", "-4", "7", f"NULLIF({r.choice(ints).ref}, 0)"])
            self.nullish = self.nullish or d.startswith("NULLIF")
            self.features.add("int_divide")
            return f"{a} {r.choice(['//', '%'])} {d}", INT
        fn = r.choice(["DAYOFWEEK({})", "ISODOW({})", "EXTRACT(DOW FROM {})"])
        self.features.add("weekday")
        return fn.format(r.choice(dates).ref), INT

    def agg_expr(self, scope: list[Col]) -> tuple[str, Kind]:
        """An aggregate, sometimes in arithmetic with another (never with AVG); at the top,
        sometimes a quotient of aggregates or AVG in arithmetic."""
        if not self.nested and not self.in_union and self.chance(0.12):
            a, ka = self.agg_call(scope)
            nums = self.cols(scope, {"int", "dec"})
            if nums and self.chance(0.3):
                a, ka = f"AVG({self.rng.choice(nums).ref})", RATIO
            if ka[0] in ("int", "dec"):
                self.features.add("divide_aggregates")
                return f"{a} / NULLIF(COUNT(*), 0)", (QUOT, max(6, ka[1]))
            if ka == RATIO:
                self.features.add("avg_expression")
                return f"({a} * 2 + 1)", (QUOT, 6)
        a, ka = self.agg_call(scope)
        if ka[0] in ("int", "dec") and self.chance(0.2):
            b, kb = self.agg_call(scope)
            if kb[0] in ("int", "dec"):
                op = self.rng.choice(["+", "-"])
                self.features.add("agg_arith")
                return f"({a} {op} {b})", _num_join(ka, kb, op)
            if self.chance(0.5):
                return f"({a} * {self.rng.randint(2, 5)})", ka
        return a, ka

    def having(self, scope: list[Col], keys: list[Col]) -> str:
        r = self.rng
        parts = []
        for _ in range(r.randint(1, 2)):
            if keys and self.chance(0.25):
                parts.append(self.cond(keys, 0))
                continue
            a, ka = self.agg_expr(scope)
            while ka[0] == QUOT:
                a, ka = self.agg_expr(scope)
            if ka == RATIO:  # AVG compared: exactly, cross-multiplied
                self.features.add("avg_having")
                ka = ("dec", 2)
            op = r.choice(["=", "<>", "<", "<=", ">", ">="])
            if ka[0] in ("int", "dec") and self.chance(0.15):  # an uncorrelated subquery
                sub = self.scalar_subquery([Col(None, f"({a})", ka)], correlate=False)
                if sub:
                    self.features.add("scalar_having")
                    parts.append(sub.removeprefix("(").removesuffix(")"))
                    continue
            if ka == DATE:
                b = self.literal(DATE)
            elif a.startswith("COUNT"):
                b = str(r.randint(0, 4))
            else:
                b = self.literal(INT if ka == INT else ka)
            parts.append(f"{a} {op} {b}")
        self.features.add("having")
        glue = f" {r.choice(['AND', 'OR'])} "
        return f" HAVING {glue.join(parts)}"

    def agg_select(self, depth: int) -> Query:
        r = self.rng
        rel = self.from_(depth)
        where = self.where(rel, depth)
        scope = [c for c in rel.cols if c.kind[0] != "ratio"]
        sqls, names, kinds = [], [], []
        group: list[str] = []
        key_cols: list[Col] = []
        n_keys = r.choice([0, 1, 1, 2, 2, 3]) if scope else 0
        if (self.nested or self.in_union) and self.chance(0.7):
            n_keys = max(n_keys, 1)  # mostly grouped below the top (global: NULL on no rows)
        all_keys_shown = True
        bucket: list[str] = []
        for c in r.sample(scope, min(n_keys, len(scope))):
            group.append(c.ref)
            key_cols.append(c)
            if self.chance(0.85) and c.name not in names:
                sqls.append(c.ref)
                names.append(c.name)
                kinds.append(c.kind)
            else:
                all_keys_shown = False
        if group and self.chance(0.05):
            group.append(group[0])  # GROUP BY x, x
        if group and self.chance(0.15):  # GROUP BY a CASE bucket alias
            alias = self.fresh("g")
            kind = TEXT if self.chance(0.5) else INT
            a, b = self.literal(kind), self.literal(kind)
            sql = f"CASE WHEN {self.cond(scope, 1)} THEN {a} ELSE {b} END"
            sqls.append(f"{sql} AS {alias}")
            names.append(alias)
            kinds.append(kind)
            group.append(alias)
            bucket = [alias]
            self.features.add("group_alias")
        self.global_agg = not group
        if not group:
            self.nullish = True  # SUM/MIN/MAX/AVG of no rows
        for _ in range(r.randint(1, 3)):
            sql, kind = self.agg_expr(scope)
            alias = self.fresh("a")
            sqls.append(f"{sql} AS {alias}")
            names.append(alias)
            kinds.append(kind)
        if self.chance(0.12):  # a window over the groups
            sql, kind = self.grouped_window(scope, key_cols if not bucket else [])
            alias = self.fresh("a")
            sqls.append(f"{sql} AS {alias}")
            names.append(alias)
            kinds.append(kind)
        r.shuffle(order := list(range(len(sqls))))
        sqls = [sqls[i] for i in order]
        names = [names[i] for i in order]
        kinds = [kinds[i] for i in order]
        gsql = f" GROUP BY {', '.join(group)}" if group else ""
        having = self.having(scope, key_cols) if self.chance(0.35) else ""
        self.global_agg = False
        self.features.add("group_by" if group else "global_aggregate")
        key_names = [c.name for c in key_cols] + bucket
        unique = [tuple(key_names)] if group and all_keys_shown else []
        if not group:
            unique = [()]
        return Query(
            f"SELECT {', '.join(sqls)} FROM {rel.sql}{where}{gsql}{having}", names, kinds, unique
        )

    def grouped_window(self, scope: list[Col], keys: list[Col]) -> tuple[str, Kind]:
        """A window over the groups of a GROUP BY (or a global aggregate's row), ordered by an
        aggregate (ties give RANK the same value) or, for LAG and running sums, by every group
        key (a total order: the groups are unique on them)."""
        r = self.rng
        a, ka = self.agg_call(scope)
        while ka == RATIO:  # an AVG is not a window's argument or key
            a, ka = self.agg_call(scope)
        self.features.add("grouped_window")
        total = ", ".join(c.ref + (" DESC" if self.chance(0.3) else "") for c in keys)
        roll = r.random()
        if roll < 0.4 or not total:
            func = r.choice(["RANK()", "DENSE_RANK()"])
            return f"{func} OVER (ORDER BY {a}{' DESC' if self.chance(0.5) else ''})", INT
        if roll < 0.7 and ka[0] in ("int", "dec"):
            return f"SUM({a}) OVER (ORDER BY {total})", ka
        return f"LAG({a}) OVER (ORDER BY {total})", ka

    def union(self, depth: int) -> Query:
        saved, self.in_union = self.in_union, True
        first = self.plain_select(depth) if self.chance(0.8) else self.agg_select(depth)
        self.in_union = saved
        if RATIO in first.kinds:
            return first
        distinct = self.chance(0.25)
        bodies = [first.body]
        for _ in range(self.rng.choice([1, 1, 2])):
            branch = self.branch_like(first.kinds, depth)
            if branch is None:
                return first
            bodies.append(branch)
        self.features.add("union" if distinct else "union_all")
        op = " UNION " if distinct else " UNION ALL "
        unique = [tuple(first.names)] if distinct else []
        return Query(op.join(bodies), first.names, first.kinds, unique)

    def branch_like(self, kinds: list[Kind], depth: int) -> str | None:
        """A SELECT whose columns have exactly ``kinds`` (for a UNION branch)."""
        for _ in range(10):
            rel = self.from_(depth)
            scope = [c for c in rel.cols if c.kind[0] != "ratio"]
            items = []
            for kind in kinds:
                item = self.exact(scope, kind)
                if item is None:
                    break
                items.append(item)
            else:
                return f"SELECT {', '.join(items)} FROM {rel.sql}{self.where(rel, depth)}"
        return None

    def exact(self, scope: list[Col], kind: Kind) -> str | None:
        for _ in range(6):
            sql, k = self.scalar(scope, kind, 1)
            if sql and k == kind:
                return sql
        same = [c for c in scope if c.kind == kind]
        if same:
            return self.rng.choice(same).ref
        if kind[0] in ("int", "dec", "date", "text", "bool"):
            return self.literal(kind, plain_dates=False)
        return None

    def window_select(self, depth: int) -> Query:
        """A SELECT with window functions over a FROM with WHERE, sometimes filtered on its
        ROW_NUMBER in an outer query (top-k per group). Functions whose value depends on the
        order of rows tied on the ORDER BY keys (ROW_NUMBER, LAG/LEAD, ROWS frames) order by
        every column of the FROM: tied rows are then equal in every column, so any order of
        them gives the same rows (as a multiset); the others order by a few columns."""
        r = self.rng
        rel = self.from_(depth)
        where = self.where(rel, depth)
        scope = [c for c in rel.cols if c.kind[0] != "ratio"]
        if not scope:
            return self.plain_select(depth)

        def words(c: Col, partition: bool) -> int:
            text = c.kind[0] in ("id", "text")
            wide = c.kind == CTEXT or (text and not partition)
            return (10 if wide else 2 if text else 1) + c.null

        partition = r.sample(scope, r.choice([0, 0, 1, 1, 2])) if len(scope) > 1 else []
        budget = WINDOW_WORDS - (sum(words(c, True) for c in partition) or 1)
        total = sum(words(c, False) for c in scope) <= budget
        over_parts = [f"PARTITION BY {', '.join(c.ref for c in partition)}"] if partition else []

        def order_sql(cols: Sequence[Col]) -> str:
            keys = [
                c.ref
                + (" DESC" if self.chance(0.4) else "")
                + (" NULLS FIRST" if c.null and self.chance(0.3) else "")
                for c in cols
            ]
            return f"ORDER BY {', '.join(keys)}" if keys else ""

        def over(ordered: str, frame: str = "") -> str:
            return f"OVER ({' '.join(p for p in (*over_parts, ordered, frame) if p)})"

        full = order_sql(r.sample(scope, len(scope))) if total else ""
        fewer = [c for c in scope if words(c, False) == 1 + c.null]
        some = order_sql(r.sample(fewer, min(len(fewer), r.choice([0, 1, 1, 2]))))
        sqls, names, kinds = [], [], []
        shown = r.sample(scope, min(len(scope), r.randint(0, 3)))
        for c in shown:
            if c.name not in names:
                sqls.append(c.ref)
                names.append(c.name)
                kinds.append(c.kind)
        row_number = ""
        windows = 0
        for _ in range(r.randint(1, 3)):
            roll = r.random()
            if roll < 0.3 and full:
                func, kind = (
                    r.choice(["ROW_NUMBER()", "ROW_NUMBER()", "RANK()", "DENSE_RANK()"]),
                    INT,
                )
                sql = f"{func} {over(full if func == 'ROW_NUMBER()' else some or full)}"
                self.features.add("window_rank" if func != "ROW_NUMBER()" else "row_number")
            elif roll < 0.6 and full:
                c = r.choice([c for c in scope if c.kind != CTEXT] or scope)
                if c.kind == CTEXT:
                    continue
                func = r.choice(["LAG", "LEAD"])
                args = c.ref
                if self.chance(0.6):
                    args += f", {r.choice([1, 1, 2, 3])}"
                    if self.chance(0.6) and c.kind[0] != "id":
                        args += f", {self.literal(c.kind, plain_dates=False)}"
                        self.features.add("lag_default")
                sql, kind = f"{func}({args}) {over(full)}", c.kind
                self.features.add("lag_lead")
                if c.kind[0] in ("int", "dec") and self.chance(0.6):
                    sql = f"({c.ref} - {sql})"  # the previous payment
                    self.features.add("lag_arith")
            else:
                func = r.choice(["SUM", "COUNT", "MIN", "MAX", "AVG", "COUNT(*)"])
                nums = self.cols(scope, {"int", "dec"})
                ords = self.cols(scope, {"int", "dec", "date"})
                if func == "AVG" and (self.nested or self.in_union or not nums):
                    func = "SUM"
                if (func in ("SUM", "AVG") and not nums) or (func in ("MIN", "MAX") and not ords):
                    func = "COUNT(*)"
                frames = ["", "", "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                          "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                          "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
                          "ROWS UNBOUNDED PRECEDING"]  # fmt: skip
                frame = r.choice(frames)
                rows = frame.startswith("ROWS") and "FOLLOWING" not in frame
                ordered = full if rows else r.choice(["", some, some])
                if frame and not ordered:
                    frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
                if rows and not full:
                    frame = ""
                if func == "COUNT(*)":
                    arg, kind = "*", INT
                    func = "COUNT"
                elif func == "COUNT":
                    arg, kind = r.choice(scope).ref, INT
                elif func in ("MIN", "MAX"):
                    c = r.choice(ords)
                    arg, kind = c.ref, c.kind
                else:  # a column, or an expression (as the aggregates' arguments)
                    c = r.choice(nums)
                    arg, kind = (c.ref, c.kind) if self.chance(0.6) else self.num(scope, 1)
                    if func == "AVG":
                        kind = RATIO
                sql = f"{func}({arg}) {over(ordered, frame)}"
                self.features.add("window_frame" if frame else "window_aggregate")
            alias = self.fresh("w")
            if sql.startswith("ROW_NUMBER") and not row_number:
                row_number = alias
            sqls.append(f"{sql} AS {alias}")
            names.append(alias)
            kinds.append(kind)
            windows += 1
        if not windows:
            alias = self.fresh("w")
            sqls.append(f"COUNT(*) {over(some)} AS {alias}")
            names.append(alias)
            kinds.append(INT)
        self.features.add("window")
        body = f"SELECT {', '.join(sqls)} FROM {rel.sql}{where}"
        if row_number and self.chance(0.5):  # top-k per group
            alias = self.fresh("d")
            body = (
                f"SELECT * FROM ({body}) AS {alias} WHERE {alias}.{row_number} <= {r.randint(1, 3)}"
            )
            self.features.add("top_k")
        return Query(body, names, kinds)

    def query(self, depth: int, top: bool = True) -> Query:
        r = self.rng
        roll = r.random()
        if roll < 0.38:
            q = self.plain_select(depth)
        elif roll < 0.8:
            q = self.agg_select(depth)
        elif roll < 0.88:
            q = self.window_select(depth)
        else:
            q = self.union(depth)
        if top:
            self.order_by(q)
            if self.ctes:
                ctes = ", ".join(f"{name} AS ({cq.sql})" for name, cq in self.ctes)
                q.body = f"WITH {ctes} {q.body}"
        q.features = set(self.features)
        return q

    def order_by(self, q: Query) -> None:
        r = self.rng
        keys = [i for i, k in enumerate(q.kinds) if k[0] in ORDERED_KINDS]
        if not keys or not self.chance(0.35):
            return
        keys = r.sample(keys, r.randint(1, len(keys)))
        if self.chance(0.5):  # often all orderable outputs, to make the order total
            keys += [i for i, k in enumerate(q.kinds) if k[0] in ORDERED_KINDS and i not in keys]
        parts = []
        for i in keys:
            ref = q.names[i] if self.chance(0.7) else str(i + 1)
            parts.append(ref + (" DESC" if self.chance(0.4) else ""))
        q.order = keys
        q.order_sql = ", ".join(parts)
        if any(q.kinds[i][0] == "ratio" for i in keys):
            self.features.add("order_by_avg")
        if any(q.kinds[i][0] in ("text", "id") for i in keys):
            self.features.add("order_by_text")
        q.limit = r.choice([None, 0, 1, 2, 3, 5, 8])
        self.features.add("order_limit" if q.limit is not None else "order_by")


def gen_query(seed: int) -> Query:
    return Gen(seed).query(depth=2)


def _num_join(a: Kind, b: Kind, op: str) -> Kind:
    if a == INT and b == INT:
        return INT
    if op == "*":
        return ("dec", a[1] + b[1])
    return ("dec", max(a[1], b[1]))


def _is_column(sql: str) -> bool:
    return all(part.isidentifier() for part in sql.split("."))


def _date_key(lit: str) -> str:
    return lit.split("'")[1]


# ------------------------------------------------------------------ comparison


def canon(value: object, approx: bool, quotient: int | None = None) -> object:
    """A value comparable across engines: numbers exact (AVG: rounded to 6 decimals; a
    quotient: DuckDB's double rounded half away from zero to tyst's ``quotient`` decimals)."""
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date()  # DuckDB's midnight TIMESTAMP (date ± INTERVAL, DATE_TRUNC)
    if value is None or isinstance(value, bool | str | date):
        return value
    if quotient is not None and isinstance(value, float):
        step = Decimal(1).scaleb(-quotient)
        return Fraction(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))
    if approx:
        return round(float(value), 6)  # type: ignore[arg-type]
    if isinstance(value, int | Decimal):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value)
    return value


def _rows(q: Query, rows: Sequence[tuple[object, ...]]) -> list[tuple[object, ...]]:
    approx = [k == RATIO for k in q.kinds]
    quotients = [k[1] if k[0] == QUOT else None for k in q.kinds]
    return [
        tuple(canon(v, a, s) for v, a, s in zip(row, approx, quotients, strict=True))
        for row in rows
    ]


def compare(
    q: Query,
    got: Sequence[tuple[object, ...]],
    want: Sequence[tuple[object, ...]],
    want_unlimited: Sequence[tuple[object, ...]] | None = None,
) -> str | None:
    """None when ``got`` (MPC) is a correct answer given DuckDB's ``want``, else why not."""
    g, w = _rows(q, got), _rows(q, want)
    if len(g) != len(w):
        return f"{len(g)} rows, DuckDB {len(w)}"
    if not q.order:
        if Counter(g) != Counter(w):
            return "different rows (as multisets)"
        return None

    def key(row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(row[i] for i in q.order)

    if [key(row) for row in g] != [key(row) for row in w]:
        return "different ORDER BY key sequence"
    blocks_g: dict[tuple[object, ...], Counter[tuple[object, ...]]] = {}
    blocks_w: dict[tuple[object, ...], Counter[tuple[object, ...]]] = {}
    for row in g:
        blocks_g.setdefault(key(row), Counter())[row] += 1
    for row in w:
        blocks_w.setdefault(key(row), Counter())[row] += 1
    last = key(w[-1]) if w else None
    for k, rows in blocks_w.items():
        if k == last and q.limit is not None and want_unlimited is not None:
            pool = Counter(row for row in _rows(q, want_unlimited) if key(row) == k)
            if blocks_g[k] - pool:
                return f"rows tied on {k} at the LIMIT are not rows of the full result"
        elif blocks_g.get(k) != rows:
            return f"different rows for ORDER BY key {k}"
    return None
