"""Compile one SQL query against the plan's schema into the typed logical plan of ``ir``.

Passes, in order (an error names the pass it comes from):

1. ``parse`` — sqlglot (pinned, imported only in this package) parses the text.
2. ``subset`` — every construct must be in the supported subset (``docs/sql.md``);
   anything else is rejected with its position.
3. ``bind`` — tables, aliases, CTEs and columns are resolved; subqueries in
   ``IN``/``EXISTS`` become semi- or anti-joins; aggregation is planned.
4. ``types`` — every expression is typed; id/text allow only equality, no
   arithmetic and no ordering; dates and decimals compare only with their kind.
5. ``ranges`` — every value a valid row can take is proved to fit the ring
   (:mod:`tyst.sql.ranges`), from the plan's declared row and value bounds.

The result is a :class:`~tyst.sql.ir.CompiledQuery`; nothing here touches data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from tyst.data.calendar import add_months, value_of
from tyst.data.patterns import Pattern
from tyst.data.types import DERIVED_TEXT, TEXT_MAX_BYTES, ColumnType
from tyst.sql import ir
from tyst.sql.charsets import check_charsets
from tyst.sql.errors import SqlError, position
from tyst.sql.explain import render_expr
from tyst.sql.quotients import check_quotients
from tyst.sql.ranges import Bounds, Found, Interval, TableBounds, check_ranges
from tyst.sql.subqueries import (
    Attachment,
    attached,
    broadcast,
    correlated,
    one_row,
    rejects_missing,
)

TableSchemas = Mapping[str, Mapping[str, ColumnType]]

_SUPPORTED = (
    exp.Select, exp.Union, exp.With, exp.CTE, exp.Subquery, exp.From, exp.Join, exp.Table,
    exp.TableAlias, exp.Identifier, exp.Column, exp.Star, exp.Alias, exp.Literal, exp.Boolean,
    exp.Cast, exp.DataType, exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Paren, exp.EQ, exp.NEQ,
    exp.LT, exp.LTE, exp.GT, exp.GTE, exp.And, exp.Or, exp.Not, exp.Between, exp.In,
    exp.Exists, exp.Case, exp.If, exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Distinct,
    exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Interval, exp.Var,
    exp.Like, exp.ILike, exp.Escape, exp.Abs, exp.Round, exp.DataTypeParam, exp.Extract,
    exp.Year, exp.Quarter, exp.Month, exp.Day, exp.Anonymous, exp.TimestampTrunc, exp.DateTrunc,
    exp.Null, exp.Is, exp.Coalesce, exp.Nullif, exp.DateDiff, exp.LastDay, exp.Div,
    exp.Substring, exp.Left, exp.Lower, exp.Upper, exp.Length, exp.DPipe, exp.Concat, exp.IntDiv,
    exp.Mod, exp.DayOfWeek, exp.DayOfWeekIso,
    exp.Window, exp.WindowSpec, exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead,
    exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile, exp.WithinGroup, exp.Mode,
)  # fmt: skip
_CALENDAR_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Year: "year",
    exp.Quarter: "quarter",
    exp.Month: "month",
    exp.Day: "day",
    exp.DayOfWeek: "dow",
    exp.DayOfWeekIso: "isodow",
}
_CAST_TARGETS = (exp.DataType.Type.DATE, exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGINT)
_INTERVAL_DAYS = {"DAY": 1, "DAYS": 1, "WEEK": 7, "WEEKS": 7}
_INTERVAL_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}
_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)
_ORDER_STATISTICS = (
    exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile, exp.WithinGroup, exp.Mode
)  # fmt: skip
_ALL_AGGREGATES = _AGGREGATES + _ORDER_STATISTICS
_COMPARE_OPS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}
_ARITH_OPS: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*"}
_DIVIDE_OPS: dict[type[exp.Expression], str] = {exp.Div: "/", exp.IntDiv: "//", exp.Mod: "%"}
QUOTIENT_SCALE = 6
"""The decimals of ``a / b`` unless ``ROUND``/``CAST`` choose: max(6, the dividend's)."""
_MAX_SCALE = 18


def _fail(pass_name: str, message: str, node: Any = None) -> SqlError:
    line, column = position(node)
    return SqlError(pass_name, message, line, column)


# ------------------------------------------------------------------ passes 1 and 2


MAX_SQL_BYTES = 100_000
"""The longest query text (UTF-8 bytes); plans are read by every party, so it is bounded."""
MAX_NESTING = 24
"""The deepest nesting of parentheses (subqueries, calls, groups) the parser is given."""
MAX_EXPRESSION_DEPTH = 100
"""The deepest syntax tree of the query (a sum of 200 terms is 200 deep); the passes recurse."""


def parse(sql: str) -> exp.Expression:
    """Pass ``parse``: one statement, parsed by sqlglot, after bounding size and nesting (the
    parser and the passes are recursive; a query must fail with one line, never a crash)."""
    if len(sql.encode("utf-8")) > MAX_SQL_BYTES:
        raise SqlError("parse", f"the query is longer than {MAX_SQL_BYTES} bytes", None, None)
    depth = _paren_depth(sql)
    if depth > MAX_NESTING:
        raise SqlError(
            "parse", f"parentheses nest {depth} levels deep; at most {MAX_NESTING}", None, None
        )
    try:
        statements = sqlglot.parse(sql, dialect="duckdb")
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise SqlError(
            "parse", f"cannot parse: {err.get('description', exc)}", err.get("line"), err.get("col")
        ) from None
    except TokenError:
        raise SqlError(
            "parse",
            "cannot read the SQL: a string, quoted name or comment is not closed",
            None,
            None,
        ) from None
    except RecursionError:
        raise SqlError("parse", "the query nests too deeply to parse", None, None) from None
    statements = [s for s in statements if s is not None]
    if len(statements) > 1:
        statements = [_views_as_ctes(statements)]  # type: ignore[arg-type]
    if len(statements) != 1:
        raise SqlError("parse", "the plan must contain exactly one SQL statement", None, None)
    tree: exp.Expression = statements[0]  # type: ignore[assignment]
    return tree


def _views_as_ctes(statements: list[exp.Expression]) -> exp.Expression:
    """``CREATE VIEW v [(c, …)] AS q; …; query; [DROP VIEW v; …]`` (TPC-H Q15's form) as the
    one query ``WITH v [(c, …)] AS (q), … query``: a view used by one query is a CTE. Every
    view must be dropped after the query, or none; anything else is refused."""
    views: list[exp.CTE] = []
    rest = list(statements)
    while rest and isinstance(rest[0], exp.Create):
        create = rest.pop(0)
        target = create.this
        kind = str(create.args.get("kind") or "").upper()
        simple = not any(create.args.get(k) for k in ("replace", "unique", "exists"))
        query = create.expression
        if kind != "VIEW" or not simple or not isinstance(query, exp.Query):
            raise SqlError(
                "parse",
                "besides one query, a plan may only CREATE VIEW v AS SELECT … (and DROP VIEW "
                "v afterwards)",
                *position(create),
            )
        table = target.this if isinstance(target, exp.Schema) else target
        columns = list(target.expressions) if isinstance(target, exp.Schema) else []
        if not isinstance(table, exp.Table) or table.args.get("db"):
            raise SqlError("parse", "CREATE VIEW needs a plain view name", *position(create))
        alias = exp.TableAlias(this=exp.to_identifier(table.name), columns=columns or None)
        views.append(exp.CTE(this=query, alias=alias))
    if not rest or not isinstance(rest[0], exp.Query) or not views:
        raise SqlError("parse", "the plan must contain exactly one SQL statement", None, None)
    main = rest.pop(0)
    dropped = []
    for drop in rest:
        tables = drop.args.get("tables") if isinstance(drop, exp.Drop) else None
        if str(drop.args.get("kind") or "").upper() != "VIEW" or not tables:
            raise SqlError(
                "parse", "after the query, a plan may only DROP VIEW its views", *position(drop)
            )
        dropped += [t.name for t in tables]
    names = [v.alias for v in views]
    if dropped and sorted(dropped) != sorted(names):
        raise SqlError("parse", "DROP VIEW must name exactly the views created", None, None)
    existing = main.args.get("with_")
    main.set("with_", exp.With(expressions=views + (existing.expressions if existing else [])))
    return main


def _paren_depth(sql: str) -> int:
    """The deepest nesting of ( ) outside strings, quoted names and comments (a linear scan)."""
    depth = deepest = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = sql.find(c, i + 1)
            while end != -1 and sql[end + 1 : end + 2] == c:  # '' and "" escape themselves
                end = sql.find(c, end + 2)
            i = n if end == -1 else end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest


def _tree_depth(tree: exp.Expression) -> int:
    """The depth of the syntax tree, without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def check_subset(tree: exp.Expression) -> None:
    """Pass ``subset``: reject every construct outside the supported subset, with its position."""
    depth = _tree_depth(tree)
    if depth > MAX_EXPRESSION_DEPTH:
        raise SqlError(
            "subset",
            f"the query is {depth} levels deep (a long chain of + or AND counts one level per "
            f"term); at most {MAX_EXPRESSION_DEPTH}",
            None,
            None,
        )
    for node in tree.walk():
        if not isinstance(node, _SUPPORTED):
            name = type(node).__name__.upper()
            raise _fail(
                "subset", f"{name} is not supported ({node.sql(dialect='duckdb')[:40]})", node
            )
        if isinstance(node, exp.Cast) and not node.to.is_type(*_CAST_TARGETS):
            raise _fail(
                "subset",
                f"CAST to {node.to.sql(dialect='duckdb')} is not supported (only to DECIMAL(p, s), "
                "BIGINT and DATE)",
                node,
            )
        if isinstance(node, exp.Join):
            join_kind = str(node.args.get("kind") or "").upper()
            side = (node.args.get("side") or "").upper()
            if join_kind not in ("", "INNER", "CROSS") and not (side and join_kind == "OUTER"):
                raise _fail("subset", f"{join_kind} JOIN is not supported", node)
            if side and not (node.args.get("on") or node.args.get("using")):
                raise _fail("subset", f"{side} JOIN needs ON or USING", node)
            if side in ("RIGHT", "FULL") and node.args.get("using"):
                raise _fail(
                    "subset", f"{side} JOIN … USING is not supported (write ON a.k = b.k)", node
                )
            if join_kind == "CROSS" and (node.args.get("on") or node.args.get("using")):
                raise _fail("subset", "CROSS JOIN takes no ON or USING", node)


# ------------------------------------------------------------------ binding helpers


@dataclass
class _Relation:
    """A plan node plus the names by which its columns can be referred to."""

    node: ir.Node
    columns: dict[str, dict[str, str]]  # alias -> column -> schema name
    merged: dict[str, str] = field(default_factory=dict)
    """Unqualified names of ``JOIN … USING`` columns → the (left) schema name they mean."""
    hidden: set[str] = field(default_factory=set)
    """Schema names ``*`` leaves out (the right copy of a ``USING`` column)."""

    def types(self) -> dict[str, ColumnType]:
        return dict(self.node.schema)


def _number(text: str, node: Any) -> ir.Literal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _fail("types", f"bad number {text!r}", node) from None
    if "." in text or "e" in text.lower():
        scale = max(0, -int(value.as_tuple().exponent))  # type: ignore[operator]
        if scale > _MAX_SCALE:
            raise _fail("types", f"{text} has more than {_MAX_SCALE} decimals", node)
        return ir.Literal(ColumnType("decimal", scale), value)
    return ir.Literal(ir.INT, int(text))


def _parse_date(text: str, node: Any) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail("types", f"{text!r} is not a date (YYYY-MM-DD)", node) from None


def _family(t: ColumnType) -> str:
    return "numeric" if t.is_numeric else ("text" if t.is_text else t.kind)


def _coerce_literal(e: ir.Expr, target: ColumnType, node: Any) -> ir.Expr:
    """String literals take the type of what they are compared with (date or id/text)."""
    if isinstance(e, ir.Literal) and e.ctype.kind == "text" and isinstance(e.value, str):
        if target.kind == "date":
            return ir.Literal(ir.DATE, _parse_date(e.value, node))
        if target.is_text:
            if len(e.value.encode("utf-8")) > 64:
                raise _type_error(node, "a string literal is longer than 64 bytes")
            return ir.Literal(target.base, e.value)
    return e


_SHOWN = 60
"""The longest construct or operand text a type error quotes (longer: cut, with …)."""


def _text(e: ir.Expr) -> str:
    """An operand as SQL-like text for messages (columns as ``alias.column``; an aggregate's
    result, internally ``sum#3``, as ``SUM(…)``)."""
    if isinstance(e, ir.ColumnRef):
        stem = ir.display_name(e.name)
        aggregate = "#" in e.name and stem.upper() in ("COUNT", "SUM", "AVG", "MIN", "MAX")
        return f"{stem.upper()}(…)" if aggregate else stem
    text = render_expr(e)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _describe(e: ir.Expr) -> str:
    """``p.pnr is id``: an operand and its type."""
    return f"{_text(e)} is {e.ctype}"


def _type_error(node: Any, reason: str, *operands: ir.Expr) -> SqlError:
    """A one-line ``types`` error naming the construct (its SQL) and each offending operand
    with its type: ``SUM(p.pnr): SUM needs an int or decimal argument; p.pnr is id``."""
    parts = [reason, *(_describe(x) for x in operands)]
    if isinstance(node, exp.Expression):
        shown = " ".join(node.sql(dialect="duckdb").split())
        shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
        parts[0] = f"{shown}: {reason}"
    return _fail("types", "; ".join(parts), node)


def _unify(a: ColumnType, b: ColumnType, what: str, node: Any) -> ColumnType:
    """The common type of two operands of CASE/UNION/IN (numeric: the larger scale; nullable
    when either is)."""
    if _family(a) != _family(b):
        raise _type_error(node, f"{what}: cannot mix {a} and {b}")
    out = a.base
    if a.is_numeric:
        out = (
            ir.INT
            if a.kind == "int" and b.kind == "int"
            else ColumnType("decimal", max(a.scale, b.scale))
        )
    elif a.derived or b.derived:  # stored text meeting computed text: compared as bytes
        out = DERIVED_TEXT
    return _nullable(out, node) if a.nullable or b.nullable else out


def _nullable(ctype: ColumnType, node: Any = None) -> ColumnType:
    """``ctype`` allowing NULL (refused for computed text, which has no null indicator)."""
    if ctype.derived:
        raise _fail(
            "subset",
            "NULL and computed text (LOWER, SUBSTRING, ||, …) together are not supported yet",
            node,
        )
    return ctype.with_nulls()


def _maybe_null(ctype: ColumnType, *operands: ir.Expr) -> ColumnType:
    """``ctype``, nullable when some operand is (SQL: NULL in, NULL out)."""
    return _nullable(ctype) if any(x.ctype.nullable for x in operands) else ctype


def _typed_null(e: ir.Expr, target: ColumnType) -> ir.Expr:
    """A bare ``NULL`` literal takes the type of what it meets (nullable)."""
    if ir.is_null_literal(e) and target.kind != "ratio":
        return ir.Literal(_nullable(target), None)
    return e


def _is_bool(e: ir.Expr) -> bool:
    return e.ctype.kind == "bool"


def _is_null(arg: ir.Expr, *, negated: bool) -> ir.Expr:
    """``arg IS [NOT] NULL``; a non-nullable argument gives a constant."""
    if not arg.ctype.nullable:
        return ir.Literal(ir.BOOL, negated)
    return ir.IsNull(ir.BOOL, arg, negated)


def _coalesce(args: list[ir.Expr], node: Any) -> ir.Expr:
    """``COALESCE(a, b, …)`` as ``CASE WHEN a IS NOT NULL THEN a … ELSE last END``; the
    arguments after the first non-nullable one are never reached and dropped."""
    _no_ratio(*args, node=node)
    ctype = args[0].ctype
    for a in args[1:]:
        ctype = _unify(ctype, a.ctype, "COALESCE arguments", node)
    args = [_typed_null(a, ctype) for a in args]
    kept: list[ir.Expr] = []
    for a in args:
        kept.append(a)
        if not a.ctype.nullable:
            break
    ctype = ctype if kept[-1].ctype.nullable else ctype.base
    if len(kept) == 1:
        return kept[0]
    whens = tuple((_is_null(a, negated=True), a) for a in kept[:-1])
    return ir.Case(ctype, whens, kept[-1])


def _nullif(a: ir.Expr, b: ir.Expr, node: Any) -> ir.Expr:
    """``NULLIF(a, b)`` as ``CASE WHEN a = b THEN NULL ELSE a END``."""
    cond = _compare("=", a, _typed_null(b, a.ctype), node)
    null = _nullable(a.ctype, node)
    return ir.Case(null, ((cond, ir.Literal(null, None)),), a)


# ------------------------------------------------------------------ expressions


ColumnResolver = Callable[[exp.Column], ir.Expr]
AggregateResolver = Callable[[exp.Expression], ir.Expr]
SubqueryResolver = Callable[[exp.Subquery], ir.Expr]


def _bind_expr(
    node: exp.Expression,
    resolve: ColumnResolver,
    aggregate: AggregateResolver | None = None,
    subquery: SubqueryResolver | None = None,
) -> ir.Expr:
    """Pass ``bind``/``types`` for one scalar expression; ``subquery`` binds a scalar
    subquery (None: not allowed here)."""

    def rec(e: exp.Expression) -> ir.Expr:
        if isinstance(e, exp.Window):
            raise _fail("bind", WINDOW_PLACE, e)
        if isinstance(e, _ALL_AGGREGATES):
            if aggregate is None:
                raise _fail("bind", "aggregates are not allowed here", e)
            return aggregate(e)
        if isinstance(e, exp.Paren):
            return rec(e.this)
        if isinstance(e, exp.Column):
            return resolve(e)
        if isinstance(e, exp.Literal):
            if e.is_string:
                return ir.Literal(ColumnType("text"), e.this)
            return _number(e.this, e)
        if isinstance(e, exp.Boolean):
            return ir.Literal(ir.BOOL, bool(e.this))
        if isinstance(e, exp.Null):
            return ir.Literal(ir.NULL_INT, None)
        if isinstance(e, exp.Is):
            if not isinstance(e.expression, exp.Null):
                raise _fail("subset", "only IS [NOT] NULL is supported (not IS TRUE/FALSE)", e)
            return _is_null(rec(e.this), negated=False)
        if isinstance(e, exp.Coalesce):
            return _coalesce([rec(x) for x in [e.this, *e.expressions]], e)
        if isinstance(e, exp.Nullif):
            return _nullif(rec(e.this), rec(e.expression), e)
        if isinstance(e, exp.Cast):
            if isinstance(e.this, exp.Literal) and e.to.is_type(exp.DataType.Type.DATE):
                return ir.Literal(ir.DATE, _parse_date(e.this.this, e))
            return _cast(rec(e.this), e)
        if isinstance(e, exp.Extract):
            if _is_age(e.expression):
                return _age(e.this.name.lower(), [rec(x) for x in e.expression.expressions], e)
            return _calendar(rec(e.expression), e.this.name.lower(), e)
        if type(e) in _CALENDAR_FUNCTIONS:
            return _calendar(rec(e.this), _CALENDAR_FUNCTIONS[type(e)], e)
        if isinstance(e, exp.Anonymous):
            name = str(e.this).upper()
            parts = e.expressions
            if name == "AGE":
                raise _fail(
                    "subset",
                    "AGE is supported only as DATE_PART('year', AGE(b, a)) or EXTRACT(YEAR FROM "
                    "AGE(b, a)) (whole years; v1 has no INTERVAL values)",
                    e,
                )
            if name != "DATE_PART" or len(parts) != 2 or not _is_string(parts[0]):
                raise _fail("subset", f"{name} is not supported", e)
            if _is_age(parts[1]):
                return _age(str(parts[0].this).lower(), [rec(x) for x in parts[1].expressions], e)
            return _calendar(rec(parts[1]), str(parts[0].this).lower(), e)
        if isinstance(e, exp.DateDiff):
            unit = e.args.get("unit")
            return _date_diff(
                (unit.name if unit is not None else "").lower(), rec(e.expression), rec(e.this), e
            )
        if isinstance(e, exp.LastDay):
            if e.args.get("unit") is not None:
                raise _fail("subset", "LAST_DAY takes one date (no unit)", e)
            return _calendar(rec(e.this), "last_day", e, internal=True)
        if isinstance(e, exp.TimestampTrunc | exp.DateTrunc):
            unit = e.args.get("unit")
            name = (unit.name if unit is not None else "").lower()
            return _calendar(rec(e.this), f"trunc_{name}", e)
        if isinstance(e, exp.Abs):
            x = rec(e.this)
            if not x.ctype.is_numeric:
                raise _type_error(e, "ABS needs a number", x)
            zero = ir.Literal(ir.INT, 0)
            return ir.Case(x.ctype, ((_compare("<", x, zero, e), _arith("-", zero, x, e)),), x)
        if isinstance(e, exp.Round):
            return _round(rec(e.this), e)
        if isinstance(e, exp.Neg):
            inner = rec(e.this)
            if isinstance(inner, ir.Literal) and isinstance(inner.value, int | Decimal):
                return ir.Literal(inner.ctype, -inner.value)
            return _arith("-", ir.Literal(ir.INT, 0), inner, e)
        if isinstance(e, exp.Add | exp.Sub) and isinstance(e.expression, exp.Interval):
            return _date_shift(_ARITH_OPS[type(e)], rec(e.this), e.expression, e)
        if type(e) in _DIVIDE_OPS:
            return _divide(_DIVIDE_OPS[type(e)], rec(e.this), rec(e.expression), e)
        if type(e) in _ARITH_OPS:
            return _arith(_ARITH_OPS[type(e)], rec(e.this), rec(e.expression), e)
        if type(e) in _COMPARE_OPS:
            return _compare(_COMPARE_OPS[type(e)], rec(e.this), rec(e.expression), e)
        if isinstance(e, exp.Between):
            x = rec(e.this)
            return _logic(
                "AND",
                [
                    _compare(">=", x, rec(e.args["low"]), e),
                    _compare("<=", x, rec(e.args["high"]), e),
                ],
                e,
            )
        if isinstance(e, exp.And | exp.Or):
            return _logic(
                "AND" if isinstance(e, exp.And) else "OR", [rec(e.this), rec(e.expression)], e
            )
        if isinstance(e, exp.Like | exp.ILike):
            return _like(rec(e.this), e, negated=bool(e.args.get("negate")))
        if isinstance(e, exp.Escape) and isinstance(e.this, exp.Like | exp.ILike):
            like = e.this
            return _like(rec(like.this), like, negated=bool(like.args.get("negate")), escape=e)
        if isinstance(e, exp.Not):
            inner = e.this
            if isinstance(inner, exp.In) and not inner.args.get("query"):
                return _in_list(rec(inner.this), inner, negated=True, rec=rec)
            if isinstance(inner, exp.Like | exp.ILike):
                return _like(rec(inner.this), inner, negated=not inner.args.get("negate"))
            if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
                return _is_null(rec(inner.this), negated=True)
            arg = _typed_null(rec(inner), ir.BOOL)
            if not _is_bool(arg):
                raise _type_error(e, "NOT needs a bool operand", arg)
            return ir.Not(arg.ctype, arg)
        if isinstance(e, exp.In):
            if e.args.get("query"):
                raise _fail("bind", "IN (SELECT …) is supported only as a WHERE condition", e)
            return _in_list(rec(e.this), e, negated=False, rec=rec)
        if isinstance(e, exp.Case):
            return _case(e, rec)
        if isinstance(e, exp.Substring):
            return _substring(rec(e.this), e.args.get("start"), e.args.get("length"), e)
        if isinstance(e, exp.Left):
            return _substring(rec(e.this), None, e.expression, e)
        if isinstance(e, exp.Lower | exp.Upper):
            return _case_map(rec(e.this), isinstance(e, exp.Upper), e)
        if isinstance(e, exp.Length):
            arg = _text_arg(rec(e.this), "LENGTH", e)
            return ir.TextLength(ir.INT, arg)
        if isinstance(e, exp.DPipe):
            return _concat([rec(e.this), rec(e.expression)], e)
        if isinstance(e, exp.Concat):
            return _concat([rec(x) for x in e.expressions], e)
        if isinstance(e, exp.Subquery) and subquery is not None:
            return subquery(e)
        if isinstance(e, exp.Exists):
            raise _fail("bind", "EXISTS is supported only as a top-level AND condition of WHERE", e)
        if isinstance(e, exp.Subquery):
            raise _fail(
                "bind",
                "a scalar subquery is supported in WHERE, HAVING and the SELECT list, not here "
                "(inside an aggregate, GROUP BY, ON or a nested condition)",
                e,
            )
        raise _fail("subset", f"{type(e).__name__.upper()} is not supported here", e)

    return rec(node)


def _no_ratio(*exprs: ir.Expr, node: Any) -> None:
    if any(isinstance(e, ir.Ratio) for e in exprs):
        raise _type_error(
            node,
            "AVG is not supported here yet; use SUM(x) / COUNT(x)",
        )


def _is_string(e: exp.Expression) -> bool:
    return isinstance(e, exp.Literal) and e.is_string


def _calendar(day: ir.Expr, what: str, node: Any, *, internal: bool = False) -> ir.Expr:
    """``EXTRACT``/``DATE_PART``/``YEAR()``… (int), ``DATE_TRUNC`` (date) of a date, and
    (``internal``: not a user's field name) one of :data:`ir.CALENDAR_OTHERS`."""
    if what not in (*ir.CALENDAR_FIELDS, *ir.CALENDAR_TRUNCS, *(ir.CALENDAR_OTHERS * internal)):
        shown = what.removeprefix("trunc_").upper()
        raise _fail(
            "subset",
            f"{shown} is not supported here (EXTRACT/DATE_PART: YEAR, QUARTER, MONTH, DAY, DOW, "
            "ISODOW; DATE_TRUNC: year, quarter, month, week)",
            node,
        )
    day = _typed_null(day, ir.DATE)
    if day.ctype.kind != "date":
        name = "DATE_TRUNC" if what.startswith("trunc_") else what.upper()
        raise _type_error(node, f"{name} needs a date", day)
    if isinstance(day, ir.Literal) and isinstance(day.value, date):  # public: compute it now
        value = value_of(day.value, what)
        return ir.Literal(ir.INT, value) if isinstance(value, int) else ir.Literal(ir.DATE, value)
    dated = what.startswith("trunc_") or what == "last_day"
    return ir.Calendar(_maybe_null(ir.DATE if dated else ir.INT, day), day, what)


def _is_age(e: exp.Expression) -> bool:
    return isinstance(e, exp.Anonymous) and str(e.this).upper() == "AGE"


_DIFF_UNITS = {"day": "day", "month": "month_index", "quarter": "quarter_index", "year": "year"}


def _date_diff(unit: str, start: ir.Expr, end: ir.Expr, node: Any) -> ir.Expr:
    """``DATE_DIFF(unit, start, end)`` as DuckDB: the unit boundaries from start to end
    (``day``: end − start; ``month``: 12·Δyear + Δmonth; ``quarter``, ``year`` alike), and
    ``week``: (end − start) // 7, truncated toward zero (DuckDB counts whole weeks, not
    Monday boundaries)."""
    part = unit.removesuffix("s")
    if part not in (*_DIFF_UNITS, "week"):
        raise _fail(
            "subset",
            f"DATE_DIFF('{unit}', …) is not supported (only 'day', 'week', 'month', 'quarter', "
            "'year')",
            node,
        )
    for side in (start, end):
        if side.ctype.kind != "date":
            raise _type_error(node, "DATE_DIFF needs two dates", side)
    if part == "day":
        return _arith("-", end, start, node)
    if part == "week":
        return _divide("//", _arith("-", end, start, node), ir.Literal(ir.INT, 7), node)
    what = _DIFF_UNITS[part]
    later = _calendar(end, what, node, internal=True)
    earlier = _calendar(start, what, node, internal=True)
    return _arith("-", later, earlier, node)


def _age(part: str, args: list[ir.Expr], node: Any) -> ir.Expr:
    """``DATE_PART('year', AGE(end, start))``: whole years from start to end, as DuckDB (for
    end ≥ start: Δyear − [(month, day) of end < that of start]; for end < start the negated
    age from end to start)."""
    if part not in ("year", "years"):
        raise _fail(
            "subset",
            f"{part.upper()} of AGE is not supported (only YEAR: whole years)",
            node,
        )
    if len(args) != 2:  # AGE(d) is the age on today's date, which differs between runs
        raise _fail("subset", "AGE needs two dates: AGE(end, start)", node)
    end, start = args
    for side in (start, end):
        if side.ctype.kind != "date":
            raise _type_error(node, "AGE needs two dates", side)

    years = _arith("-", _calendar(end, "year", node), _calendar(start, "year", node), node)
    md_end = _calendar(end, "month_day", node, internal=True)  # 32·month + day
    md_start = _calendar(start, "month_day", node, internal=True)
    zero = ir.Literal(ir.INT, 0)
    before = ir.Case(
        ir.INT, ((_compare("<", md_end, md_start, node), ir.Literal(ir.INT, -1)),), zero
    )
    after = ir.Case(ir.INT, ((_compare(">", md_end, md_start, node), ir.Literal(ir.INT, 1)),), zero)
    later = _compare(">=", end, start, node)
    return _arith("+", years, ir.Case(ir.INT, ((later, before),), after), node)


def _cast(x: ir.Expr, node: exp.Cast) -> ir.Expr:
    """Exact casts only: to a wider decimal scale (a public multiplication by 10^k), a number
    to its own kind, a date to DATE. Anything that would round or truncate is refused."""
    to = node.to
    if to.is_type(exp.DataType.Type.DATE):
        if x.ctype.kind != "date":
            raise _type_error(node, "CAST to DATE needs a date or a date literal", x)
        return x
    if isinstance(x, ir.Ratio):
        x = _avg(x)
    if not x.ctype.is_numeric:
        raise _type_error(node, "CAST to a number needs a number", x)
    if to.is_type(exp.DataType.Type.BIGINT):
        if x.ctype.kind == "int":
            return x
        if isinstance(x, ir.Divide | ir.Ratio) and x.ctype.kind != "int":
            raise _fail(
                "subset",
                "CAST of a quotient to BIGINT rounds DuckDB's double half to even; write "
                "ROUND(a / b, 0) or a // b",
                node,
            )
        return _rounded(x, ir.INT)  # DuckDB: a decimal rounds half away from zero
    params = [p.this for p in to.expressions]
    scale = int(params[1].this) if len(params) > 1 else (0 if params else 3)  # DuckDB: (18, 3)
    if scale > _MAX_SCALE:
        raise _type_error(node, f"DECIMAL scale {scale}: at most {_MAX_SCALE}")
    if isinstance(x, ir.Divide) and x.op == "/":  # the quotient at the declared scale
        return _rescaled(x, scale)
    if scale < x.ctype.scale:
        return _rounded(x, ColumnType("decimal", scale))
    if scale == x.ctype.scale and x.ctype.kind == "decimal":
        return x
    one = ir.Literal(ColumnType("decimal", scale - x.ctype.scale), Decimal(1))
    return ir.Arith(_maybe_null(ColumnType("decimal", scale), x), "*", x, one)  # x · 10^k


def _round(x: ir.Expr, node: exp.Round) -> ir.Expr:
    """``ROUND(x, d)``, 0 ≤ d: x rounded half away from zero to d decimals (DuckDB's decimal
    rounding; unchanged when x has at most d); of a quotient (or AVG), the quotient at d
    decimals."""
    if isinstance(x, ir.Ratio):
        x = _avg(x)
    if not x.ctype.is_numeric:
        raise _type_error(node, "ROUND needs a number", x)
    digits = node.args.get("decimals")
    if digits is None:
        places = 0
    elif isinstance(digits, exp.Literal) and not digits.is_string:
        places = int(digits.this)
    elif isinstance(digits, exp.Neg) and isinstance(digits.this, exp.Literal):
        places = -1  # ROUND(x, -k): to tens, hundreds …
    else:
        raise _fail("subset", "ROUND needs a literal number of decimals", node)
    if places < 0:
        raise _fail("subset", "ROUND to a negative number of decimals is not supported", node)
    if places > _MAX_SCALE:
        raise _type_error(node, f"ROUND to {places} decimals: at most {_MAX_SCALE}")
    if isinstance(x, ir.Divide) and x.op == "/":
        return _rescaled(x, places)
    if places < x.ctype.scale:
        return _rounded(x, ColumnType("decimal", places))
    return x


def _rounded(x: ir.Expr, ctype: ColumnType) -> ir.Expr:
    """x rounded half away from zero to ``ctype``'s (fewer) decimals: x / 1 at that scale."""
    return ir.Divide(_maybe_null(ctype, x), "/", x, ir.Literal(ir.INT, 1), declared=True)


def _rescaled(q: ir.Divide, scale: int) -> ir.Divide:
    """The quotient ``q`` at the declared ``scale`` (rounded once, there)."""
    return replace(q, ctype=_maybe_null(ColumnType("decimal", scale), q), declared=True)


def _avg(r: ir.Ratio) -> ir.Divide:
    """AVG computed with: the exact quotient SUM / COUNT (see :func:`_divide`); where the sum
    can be NULL (a global aggregate: no row) the count can be 0, so SUM / NULLIF(COUNT, 0)."""
    ctype = ColumnType("decimal", max(QUOTIENT_SCALE, r.ctype.scale))
    count = r.denominator
    if r.numerator.ctype.nullable:
        ctype = ctype.with_nulls()
        zero = ir.Compare(ir.BOOL, "=", count, ir.Literal(ir.INT, 0))
        count = ir.Case(ir.NULL_INT, ((zero, ir.Literal(ir.NULL_INT, None)),), count)
    return ir.Divide(ctype, "/", r.numerator, count)


def _divide(op: str, a: ir.Expr, b: ir.Expr, node: Any) -> ir.Expr:
    """``a / b`` (a decimal: the exact quotient rounded half away from zero to max(6, a's)
    decimals), ``a // b`` (ints, truncated toward zero), ``a % b`` (the dividend's sign).
    The divisor must provably exclude 0 (checked by the ``ranges`` pass)."""
    a = _avg(a) if isinstance(a, ir.Ratio) else a
    b = _avg(b) if isinstance(b, ir.Ratio) else b
    a, b = _typed_null(a, b.ctype), _typed_null(b, a.ctype)
    if ir.is_null_literal(a) or ir.is_null_literal(b):  # NULL in, NULL out
        kind = ir.INT if op == "//" else ColumnType("decimal", max(QUOTIENT_SCALE, a.ctype.scale))
        return ir.Literal(kind.with_nulls(), None)
    for side in (a, b):
        if not side.ctype.is_numeric:
            raise _type_error(node, f"'{op}' needs numbers", side)
    if op == "//":
        if a.ctype.kind != "int" or b.ctype.kind != "int":
            raise _type_error(node, "'//' needs int operands (use ROUND(a / b, 0) for decimals)")
        return ir.Divide(_maybe_null(ir.INT, a, b), op, a, b)
    if op == "%":
        scale = max(a.ctype.scale, b.ctype.scale)
        ctype = ir.INT if scale == 0 and a.ctype.kind == b.ctype.kind == "int" else None
        return ir.Divide(_maybe_null(ctype or ColumnType("decimal", scale), a, b), op, a, b)
    if _fraction(a) or _fraction(b):
        return _fraction_arith("/", a, b, node)
    ctype = ColumnType("decimal", max(QUOTIENT_SCALE, a.ctype.scale))
    return ir.Divide(_maybe_null(ctype, a, b), op, _power_folded(a), b)


def _power_folded(a: ir.Expr) -> ir.Expr:
    """A dividend ``c * x`` (or ``x * c``) with c a literal power of ten 10^m (``100.00``,
    ``0.01``) as x read at x's scale − m (:class:`ir.Rescaled`): the same value, exactly, with
    no product that must fit; the quotient's scale stays the written dividend's."""
    if not (isinstance(a, ir.Arith) and a.op == "*"):
        return a
    for c, x in ((a.left, a.right), (a.right, a.left)):
        if not isinstance(c, ir.Literal) or c.value is None or isinstance(c.value, bool):
            continue
        value = Decimal(str(c.value))
        if value <= 0 or not x.ctype.is_numeric or x.ctype.kind == "ratio":
            continue
        m = value.adjusted()
        scale = x.ctype.scale - m
        if value == Decimal(10) ** m and m != 0 and 1 <= scale <= _MAX_SCALE:
            return ir.Rescaled(_maybe_null(ColumnType("decimal", scale), x), x, m)
    return a


def _date_shift(op: str, day: ir.Expr, interval: exp.Interval, node: Any) -> ir.Expr:
    """``d ± INTERVAL 'n' DAY`` (or WEEK): a date n days later (earlier); on a date literal
    also MONTH, QUARTER and YEAR (computed here, on the public date).

    DuckDB's result is a TIMESTAMP at midnight; tyst's is the same instant as a date.
    """
    unit = interval.args.get("unit")
    name = (unit.name if unit is not None else "").upper()
    amount = interval.this
    while isinstance(amount, exp.Paren):  # INTERVAL (2) MONTH
        amount = amount.this
    if name.rstrip("S") in _INTERVAL_MONTHS and isinstance(amount, exp.Literal):
        try:
            count = int(str(amount.this).strip())
        except ValueError:
            raise _type_error(node, f"INTERVAL {amount.this!r}: n must be a whole number") from None
        months = count * _INTERVAL_MONTHS[name.rstrip("S")] * (1 if op == "+" else -1)
        if day.ctype.kind != "date":
            raise _type_error(node, "INTERVAL needs a date on its left", day)
        if not isinstance(day, ir.Literal):  # a secret date: a step function (ir.MonthShift)
            return ir.MonthShift(_maybe_null(ir.DATE, day), day, months)
        assert isinstance(day.value, date)
        try:  # a public date: calendar arithmetic at compile time, as DuckDB does it
            shifted = add_months(day.value, months)
        except ValueError as exc:
            raise _type_error(node, str(exc)) from None
        return ir.Literal(ir.DATE, shifted)
    if name not in _INTERVAL_DAYS or not isinstance(amount, exp.Literal):
        raise _fail(
            "subset",
            f"INTERVAL {name or '…'} is not supported; use INTERVAL 'n' DAY, WEEK, MONTH, "
            "QUARTER or YEAR with a whole number n",
            node,
        )
    try:
        days = int(str(amount.this).strip()) * _INTERVAL_DAYS[name]
    except ValueError:
        raise _type_error(node, f"INTERVAL {amount.this!r}: a whole number of days") from None
    if day.ctype.kind != "date":
        raise _type_error(node, "INTERVAL needs a date on its left", day)
    return ir.Arith(_maybe_null(ir.DATE, day), op, day, ir.Literal(ir.INT, days))


def _fraction(e: ir.Expr) -> bool:
    """An undeclared quotient ``n / d``: arithmetic on it stays a fraction (rounded once)."""
    return isinstance(e, ir.Divide) and e.op == "/" and not e.declared


def _parts(e: ir.Expr) -> tuple[ir.Expr, ir.Expr | None]:
    """(numerator, denominator) of a quotient; (e, None) for any other value."""
    if isinstance(e, ir.Divide) and _fraction(e):
        return e.left, e.right
    return e, None


def _fraction_arith(op: str, a: ir.Expr, b: ir.Expr, node: Any) -> ir.Expr:
    """``+ - * /`` with a quotient operand, as one quotient: n1/d1 ± n2/d2 = (n1·d2 ± n2·d1) /
    (d1·d2), products and quotients likewise, so the result is rounded once, like DuckDB's
    double (and not from a rounded quotient). Its scale is the larger of the operands'."""
    (n1, d1), (n2, d2) = _parts(a), _parts(b)
    scale = max(a.ctype.scale, b.ctype.scale, QUOTIENT_SCALE)

    def times(x: ir.Expr, y: ir.Expr | None) -> ir.Expr:
        return x if y is None else _arith("*", x, y, node)

    if op == "*":
        num, den = _arith("*", n1, n2, node), times(d1, d2) if d1 is not None else d2
    elif op == "/":
        num, den = times(n1, d2), times(d1, n2) if d1 is not None else n2
    else:
        num = _arith(op, times(n1, d2), times(n2, d1), node)
        den = times(d1, d2) if d1 is not None else d2
    assert den is not None  # one side is a quotient
    if scale > _MAX_SCALE or num.ctype.scale > _MAX_SCALE or den.ctype.scale > _MAX_SCALE:
        raise _type_error(node, f"the quotient needs more than {_MAX_SCALE} decimals")
    return ir.Divide(_maybe_null(ColumnType("decimal", scale), num, den), "/", num, den)


def _arith(op: str, a: ir.Expr, b: ir.Expr, node: Any) -> ir.Expr:
    a = _avg(a) if isinstance(a, ir.Ratio) else a
    b = _avg(b) if isinstance(b, ir.Ratio) else b
    if (_fraction(a) or _fraction(b)) and a.ctype.is_numeric and b.ctype.is_numeric:
        return _fraction_arith(op, a, b, node)
    a = _typed_null(a, ir.INT if b.ctype.kind == "date" else b.ctype)
    b = _typed_null(b, ir.INT if a.ctype.kind == "date" else a.ctype)
    out = _maybe_null(_arith_type(op, a, b, node), a, b)
    if out.kind == "date" and a.ctype.kind != "date":
        a, b = b, a  # days + date is date + days
    return ir.Arith(out, op, a, b)


def _arith_type(op: str, a: ir.Expr, b: ir.Expr, node: Any) -> ColumnType:
    dates = (a.ctype.kind == "date", b.ctype.kind == "date")
    if any(dates):  # date ± days, days + date, date − date (days), as DuckDB
        if dates == (True, True) and op == "-":
            return ir.INT
        if dates == (True, False) and op in "+-" and b.ctype.kind == "int":
            return ir.DATE
        if dates == (False, True) and op == "+" and a.ctype.kind == "int":
            return ir.DATE
        raise _type_error(
            node,
            f"date arithmetic is date ± int days or date − date, not {a.ctype} {op} {b.ctype}",
            *(x for x in (a, b) if not isinstance(x, ir.Literal)),
        )
    for side in (a, b):
        if not side.ctype.is_numeric:
            kind = {"id": "an id column", "text": "a text column"}.get(side.ctype.kind)
            what = f"arithmetic on {kind}" if kind else "arithmetic"
            raise _type_error(node, f"{what} is not allowed ('{op}')", side)
    if a.ctype.kind == "int" and b.ctype.kind == "int":
        return ir.INT
    scale = a.ctype.scale + b.ctype.scale if op == "*" else max(a.ctype.scale, b.ctype.scale)
    if scale > _MAX_SCALE:
        raise _type_error(node, f"the product needs {scale} decimals; at most {_MAX_SCALE}", a, b)
    return ColumnType("decimal", scale)


def _compare(op: str, a: ir.Expr, b: ir.Expr, node: Any) -> ir.Expr:
    a = _avg(a) if isinstance(a, ir.Ratio) else a  # compared exactly (ranges, evaluator)
    b = _avg(b) if isinstance(b, ir.Ratio) else b
    a, b = _typed_null(a, b.ctype), _typed_null(b, a.ctype)
    a = _coerce_literal(a, b.ctype, node)
    b = _coerce_literal(b, a.ctype, node)
    if _family(a.ctype) != _family(b.ctype):
        shown = (x for x in (a, b) if not isinstance(x, ir.Literal))
        raise _type_error(node, f"cannot compare {a.ctype} with {b.ctype}", *shown)
    return ir.Compare(_maybe_null(ir.BOOL, a, b), op, a, b)


def _logic(op: str, args: list[ir.Expr], node: Any) -> ir.Expr:
    args = [_typed_null(a, ir.BOOL) for a in args]
    for arg in args:
        if not _is_bool(arg):
            raise _type_error(node, f"{op} needs bool operands", arg)
    flat: list[ir.Expr] = []
    for arg in args:
        flat.extend(arg.args if isinstance(arg, ir.Logic) and arg.op == op else (arg,))
    return ir.Logic(_maybe_null(ir.BOOL, *flat), op, tuple(flat))


def _like(
    arg: ir.Expr, node: exp.Like | exp.ILike, *, negated: bool, escape: exp.Escape | None = None
) -> ir.Expr:
    """``x [NOT] LIKE 'p' [ESCAPE 'c']``: without ``%`` an equality; only ``%``: true; else
    ``ir.Like``. ``x ILIKE 'p'`` is ``LOWER(x) LIKE 'p'`` with p lowered: exact where LOWER is
    (the ``charsets`` pass) and for patterns of characters up to U+00FF."""
    name = "ILIKE" if isinstance(node, exp.ILike) else "LIKE"
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise _fail("subset", f"{name} needs a string literal pattern", node)
    if not arg.ctype.is_text:
        raise _type_error(node, f"{name} needs an id/text value", arg)
    text = str(pattern.this)
    mark = None
    if escape is not None:
        literal = escape.expression
        if not (isinstance(literal, exp.Literal) and literal.is_string):
            raise _fail("subset", "ESCAPE needs a string literal", escape)
        mark = str(literal.this)
    if name == "ILIKE":
        if any(ord(c) > 0xFF for c in text):
            raise _fail("subset", "ILIKE patterns may hold characters up to U+00FF only", node)
        arg, text = _case_map(arg, False, node), text.lower()
        mark = mark.lower() if mark is not None else None
    try:
        parsed = Pattern.parse(text, mark)
    except ValueError as exc:
        raise _fail("subset", str(exc), escape or node) from None
    if parsed.literal is not None:
        value = ir.Literal(ColumnType("text"), parsed.literal)
        return _compare("<>" if negated else "=", arg, value, node)
    if not parsed.segments:  # TRUE for every value, NULL for NULL
        constant = ir.Literal(ir.BOOL, not negated)
        if not arg.ctype.nullable:
            return constant
        null = ir.Literal(ir.BOOL.with_nulls(), None)
        return ir.Case(null.ctype, ((_is_null(arg, negated=False), null),), constant)
    return ir.Like(_maybe_null(ir.BOOL, arg), arg, parsed, negated)


def _computed_text_aligned(branches: list[ir.Node], node: Any) -> list[ir.Node]:
    """UNION branches with every column that is computed text in some branch computed in
    all: a stored text column there becomes its bytes (``CONCAT(x)``, exact)."""
    width = min(len(b.schema) for b in branches)
    computed = {i for b in branches for i in range(width) if b.schema[i][1].derived}
    out = []
    for b in branches:
        convert = [i for i in computed if b.schema[i][1].is_text and not b.schema[i][1].derived]
        if not convert:
            out.append(b)
            continue
        outputs: list[tuple[str, ir.Expr]] = []
        for i, (name, ctype) in enumerate(b.schema):
            ref: ir.Expr = ir.ColumnRef(ctype, name)
            if i in convert:
                _nullable(DERIVED_TEXT if ctype.nullable else ctype, node)  # refused with NULLs
                ref = ir.Concat(DERIVED_TEXT, (ref,), (TEXT_MAX_BYTES,))
            outputs.append((name, ref))
        schema = tuple((name, e.ctype) for name, e in outputs)
        out.append(ir.Project(schema, b, tuple(outputs)))
    return out


def _same_layout(a: ColumnType, b: ColumnType, node: Any) -> None:
    """Semi-join keys compare lanes: stored text (hash keys) never meets computed text."""
    if a.is_text and a.derived != b.derived:
        raise _fail(
            "subset",
            "IN/EXISTS between a stored text column and a computed one (LOWER, SUBSTRING, "
            "||) is not supported; compute both sides",
            node,
        )


def _text_arg(arg: ir.Expr, what: str, node: Any) -> ir.Expr:
    if not arg.ctype.is_text:
        raise _type_error(node, f"{what} needs a text value", arg)
    if arg.ctype.nullable:
        raise _fail("subset", f"{what} of a value that may be NULL is not supported yet", node)
    return arg


def _whole_number(e: exp.Expression | None, what: str, low: int, node: Any) -> int:
    """A literal integer argument ≥ ``low`` (public positions and lengths only)."""
    if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
        value = int(e.this)
        if value >= low:
            return value
    raise _fail(
        "subset",
        f"{what} must be a literal whole number ≥ {low} (DuckDB counts other values from "
        "the end; not supported)",
        node,
    )


def _substring(arg: ir.Expr, start: Any, length: Any, node: Any) -> ir.Expr:
    """``SUBSTRING(x, k[, n])`` (``start`` given) or ``LEFT(x, n)`` (``start`` None)."""
    name = "SUBSTRING" if start is not None else "LEFT"
    arg = _text_arg(arg, name, node)
    k = 1 if start is None else _whole_number(start, f"the start of {name}", 1, node)
    n = None if length is None else _whole_number(length, f"the length of {name}", 0, node)
    return ir.Substring(DERIVED_TEXT, arg, k, n)


def _case_map(arg: ir.Expr, upper: bool, node: Any) -> ir.Expr:
    return ir.CaseMap(DERIVED_TEXT, _text_arg(arg, "UPPER" if upper else "LOWER", node), upper)


def max_bytes(e: ir.Expr) -> int:
    """The most UTF-8 bytes a text expression can have, from the plan alone."""
    if isinstance(e, ir.Literal) and isinstance(e.value, str):
        return len(e.value.encode("utf-8"))
    if isinstance(e, ir.Substring):
        rest = max(0, max_bytes(e.arg) - (e.start - 1))
        return rest if e.length is None else min(rest, 4 * e.length)
    if isinstance(e, ir.CaseMap):
        return max_bytes(e.arg)
    if isinstance(e, ir.Concat):
        return sum(e.bounds)
    if isinstance(e, ir.Case):
        return max(max_bytes(v) for v in (*(v for _, v in e.whens), e.default))
    return TEXT_MAX_BYTES


def _concat(args: list[ir.Expr], node: Any) -> ir.Expr:
    """``a || b``, ``CONCAT(a, b, …)``: text parts whose bounds add up to at most 64 bytes."""
    parts: list[ir.Expr] = []
    for a in args:
        _text_arg(a, "|| (CONCAT)", node)
        parts.extend(a.args if isinstance(a, ir.Concat) else (a,))
    merged: list[ir.Expr] = []  # adjacent literals joined
    for a in parts:
        last = merged[-1] if merged else None
        if isinstance(a, ir.Literal) and isinstance(last, ir.Literal):
            merged[-1] = ir.Literal(ColumnType("text"), f"{last.value}{a.value}")
        else:
            merged.append(a)
    bounds = tuple(max_bytes(a) for a in merged)
    if sum(bounds) > TEXT_MAX_BYTES:
        raise _type_error(
            node,
            f"the concatenation can be up to {sum(bounds)} bytes, beyond the {TEXT_MAX_BYTES} "
            "of a text value; bound its parts with LEFT(x, n) (at most 4n bytes)",
        )
    if len(merged) == 1 and isinstance(merged[0], ir.Literal):
        return merged[0]
    return ir.Concat(DERIVED_TEXT, tuple(merged), bounds)


def _in_list(
    arg: ir.Expr, node: exp.In, *, negated: bool, rec: Callable[[exp.Expression], ir.Expr]
) -> ir.Expr:
    arg = _avg(arg) if isinstance(arg, ir.Ratio) else arg
    values = []
    has_null = False
    for item in node.expressions:
        v = _coerce_literal(rec(item), arg.ctype, item)
        if not isinstance(v, ir.Literal):
            raise _fail("subset", "IN (…) accepts only literal values", item)
        if ir.is_null_literal(v):
            has_null = True
            continue
        _compare("=", arg, v, item)
        values.append(v)
    null = ir.Literal(ir.BOOL.with_nulls(), None)
    if not values:  # x IN (NULL): NULL whatever x is
        return null
    found = ir.InList(_maybe_null(ir.BOOL, arg), arg, tuple(values), negated)
    if not has_null:
        return found
    # with a NULL in the list, a value that matches none is NULL (not FALSE): IN is TRUE or
    # NULL, NOT IN is FALSE or NULL
    hit = ir.InList(found.ctype, arg, tuple(values), False)
    return ir.Case(null.ctype, ((hit, ir.Literal(ir.BOOL, not negated)),), null)


def _case(node: exp.Case, rec: Callable[[exp.Expression], ir.Expr]) -> ir.Expr:
    if node.this is not None:
        raise _fail("subset", "only searched CASE WHEN … is supported (not CASE x WHEN …)", node)
    whens = []
    results = []
    for branch in node.args["ifs"]:
        cond = _typed_null(rec(branch.this), ir.BOOL)
        if not _is_bool(cond):
            raise _type_error(node, "CASE WHEN needs a bool condition", cond)
        value = rec(branch.args["true"])
        whens.append((cond, value))
        results.append(value)
    given = node.args.get("default")
    default = rec(given) if given is not None else ir.Literal(ir.NULL_INT, None)  # no ELSE: NULL
    default = _avg(default) if isinstance(default, ir.Ratio) else default
    results = [_avg(v) if isinstance(v, ir.Ratio) else v for v in results]
    whens = [(c, _avg(v) if isinstance(v, ir.Ratio) else v) for c, v in whens]
    typed = [r for r in (*results, default) if not ir.is_null_literal(r)]
    if not typed:
        return ir.Literal(ir.NULL_INT, None)
    ctype = typed[0].ctype
    for value in (*results, default):
        if not ir.is_null_literal(value):
            ctype = _unify(ctype, value.ctype, "CASE branches", node)
        else:
            ctype = _nullable(ctype, node)
    whens = [(c, _typed_null(v, ctype)) for c, v in whens]
    return ir.Case(ctype, tuple(whens), _typed_null(default, ctype))


# ------------------------------------------------------------------ queries


class _Compiler:
    def __init__(self, tables: TableSchemas, min_group_size: int, top: exp.Expression) -> None:
        self.tables = tables
        self.top = top
        """The outermost SELECT."""
        self.min_group_size = min_group_size
        self.used_tables: list[str] = []
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}#{self.counter}"

    # -- statements

    def query(self, node: exp.Expression, ctes: dict[str, ir.Node]) -> ir.Node:
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            ctes = dict(ctes)
            for cte in with_.expressions:
                name = cte.alias
                if name in ctes or name in self.tables:
                    raise _fail("bind", f"CTE name {name!r} is already a table or CTE", cte)
                ctes[name] = _renamed(self.query(cte.this, ctes), _alias_columns(cte), cte)
        if isinstance(node, exp.Union):
            return self.union(node, ctes)
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes)
        if not isinstance(node, exp.Select):
            raise _fail("subset", "the statement must be a SELECT query", node)
        return self.select(node, ctes)

    def union(self, node: exp.Union, ctes: dict[str, ir.Node]) -> ir.Node:
        branches: list[ir.Node] = []

        def collect(n: exp.Expression) -> None:
            if isinstance(n, exp.Union) and not n.args.get("order") and not n.args.get("limit"):
                if n.args.get("distinct") != node.args.get("distinct"):
                    raise _fail("subset", "mixing UNION and UNION ALL is not supported", n)
                collect(n.this)
                collect(n.expression)
            else:
                branches.append(self.query(n, ctes))

        collect(node.this)
        collect(node.expression)
        branches = _computed_text_aligned(branches, node)
        first = branches[0].schema
        types = [t for _, t in first]
        for b in branches[1:]:
            if len(b.schema) != len(first):
                raise _fail(
                    "types",
                    f"UNION branches have {len(first)} and {len(b.schema)} columns",
                    node,
                )
            for i, ((name, t1), (_, t2)) in enumerate(zip(first, b.schema, strict=True)):
                if not t1.same_values(t2):
                    raise _fail("types", f"UNION column {name!r}: {t1} vs {t2}", node)
                if t2.nullable:
                    types[i] = _nullable(types[i], node)
        branches = [_widened(b, types) for b in branches]
        first = branches[0].schema
        result: ir.Node = ir.UnionAll(first, tuple(branches))
        if node.args.get("distinct"):
            if any(t.kind == "ratio" for _, t in first):
                raise _fail("types", "UNION (DISTINCT) over an AVG result is not supported", node)
            result = ir.Distinct(first, result)
        return self.order_limit(node, result, {name: name for name, _ in first}, [])

    def select(self, node: exp.Select, ctes: dict[str, ir.Node]) -> ir.Node:
        where = node.args.get("where")
        if where is not None:  # (A AND X) OR (A AND Y) → A AND (X OR Y): A may be a join key
            node.set("where", exp.Where(this=_factor_or(where.this)))
        rel, consumed = self.from_clause(node, ctes)
        where = node.args.get("where")
        if where is not None:
            rel = self.where(where.this, rel, ctes, skip=consumed)
        visible = self.expand_star(node, rel)
        hidden = self.hidden_order_items(node, visible)
        items = visible + hidden
        windowed = _windowed(node, items)
        has_aggs = bool(
            any(map(_aggregated, items))
            if windowed
            else any(_outside_subqueries(e, _ALL_AGGREGATES) for e in items)
        ) or bool(node.args.get("group"))
        having = node.args.get("having")
        if having is not None and not has_aggs:
            raise _fail("bind", "HAVING needs GROUP BY or aggregates", having)
        if windowed and has_aggs:
            out_node, out_exprs = self.grouped_windows(node, rel, items)
        elif windowed:
            out_node, out_exprs = self.windows(rel, items)
        elif has_aggs:
            out_node, out_exprs = self.aggregate(node, rel, items, ctes)
        else:
            resolve = self.resolver(rel)
            scalars: list[Attachment] = []
            out_exprs = [
                (
                    self.output_name(e, i),
                    self.bind_scalars(_unalias(e), resolve, None, rel, ctes, scalars),
                )
                for i, e in enumerate(items)
            ]
            out_node = attached(rel.node, scalars)
        outputs = tuple(_unique_names(out_exprs))
        schema = tuple((name, e.ctype) for name, e in outputs)
        result: ir.Node = ir.Project(schema, out_node, outputs)
        if node.args.get("distinct"):
            if any(t.kind == "ratio" for _, t in schema):
                raise _fail("types", "DISTINCT over an AVG result is not supported", node)
            result = ir.Distinct(schema, result)
        by_sql = {e.unalias().sql(): name for e, (name, _) in zip(items, outputs, strict=True)}
        names = {name: name for name, _ in schema[: len(visible)]}
        result = self.order_limit(node, result, names, [by_sql])
        if hidden:  # ORDER BY expressions outside the SELECT list: computed, ordered, dropped
            shown = schema[: len(visible)]
            result = ir.Project(
                shown, result, tuple((name, ir.ColumnRef(t, name)) for name, t in shown)
            )
        return result

    def hidden_order_items(
        self, node: exp.Select, items: list[exp.Expression]
    ) -> list[exp.Expression]:
        """ORDER BY expressions that are not in the SELECT list (by position, output name or
        text), as extra items with internal names; not allowed with DISTINCT (as in SQL)."""
        order = node.args.get("order")
        if order is None:
            return []
        names = {self.output_name(e, i) for i, e in enumerate(items)}
        texts = {e.unalias().sql() for e in items}
        hidden: list[exp.Expression] = []
        for ordered in order.expressions:
            e = ordered.this
            if isinstance(e, exp.Literal) and not e.is_string:
                continue
            if isinstance(e, exp.Column) and not e.table and e.name in names:
                continue
            if e.sql() in texts or any(e.sql() == h.unalias().sql() for h in hidden):
                continue
            if node.args.get("distinct"):
                raise _fail(
                    "bind", "with SELECT DISTINCT, ORDER BY must use columns of the SELECT list", e
                )
            item = exp.Alias(this=e.copy(), alias=exp.to_identifier(f"order#{len(hidden) + 1}"))
            hidden.append(item)
        return hidden

    # -- FROM and joins

    def table_ref(self, node: exp.Expression, ctes: dict[str, ir.Node]) -> _Relation:
        if isinstance(node, exp.Subquery):
            alias = node.alias
            if not alias:
                raise _fail("bind", "a derived table needs an alias: (SELECT …) AS name", node)
            inner = _renamed(self.query(node.this, ctes), _alias_columns(node), node)
            return self.derived(inner, alias, node)
        if not isinstance(node, exp.Table):
            raise _fail("subset", f"{type(node).__name__.upper()} in FROM is not supported", node)
        name = node.name
        alias = node.alias or name
        if node.args.get("db") or node.args.get("catalog"):
            raise _fail("bind", f"qualified table names are not supported: {node.sql()}", node)
        renames = _alias_columns(node)
        if name in ctes:
            return self.derived(_renamed(ctes[name], renames, node), alias, node)
        if name not in self.tables:
            known = ", ".join(sorted(self.tables)) or "none"
            raise _fail("bind", f"unknown table {name!r} (tables in the plan: {known})", node)
        if name not in self.used_tables:
            self.used_tables.append(name)
        columns = self.tables[name]
        schema = tuple((f"{alias}.{c}", t) for c, t in columns.items())
        visible = _rename_list(list(columns), renames, node)
        return _Relation(
            ir.Scan(schema, name, alias),
            {alias: {v: f"{alias}.{c}" for v, c in zip(visible, columns, strict=True)}},
        )

    def derived(self, inner: ir.Node, alias: str, node: Any) -> _Relation:
        names = [n for n, _ in inner.schema]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise _fail(
                "bind", f"derived table {alias!r} has duplicate column names {sorted(dup)}", node
            )
        outputs = tuple((f"{alias}.{n}", ir.ColumnRef(t, n)) for n, t in inner.schema)
        schema = tuple((f"{alias}.{n}", t) for n, t in inner.schema)
        return _Relation(
            ir.Project(schema, inner, outputs), {alias: {n: f"{alias}.{n}" for n in names}}
        )

    def from_clause(self, node: exp.Select, ctes: dict[str, ir.Node]) -> tuple[_Relation, set[int]]:
        """The FROM clause as one relation, and the WHERE conjuncts it used as join keys.

        ``JOIN … ON`` and ``JOIN … USING`` join their neighbours as written; the
        comma-separated items (``FROM a, b``, also ``CROSS JOIN``) are joined to each
        other by the column equalities between them in WHERE, in FROM order, each
        joined to the first one already joined that it is connected to. An item not
        connected to the others by an equality is refused (no cross joins).
        """
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is None:
            raise _fail("subset", "a SELECT needs FROM", node)
        groups = [self.table_ref(from_.this, ctes)]
        aliases = set(groups[0].columns)
        for join in node.args.get("joins") or []:
            right = self.table_ref(join.this, ctes)
            overlap = aliases & set(right.columns)
            if overlap:
                raise _fail("bind", f"alias {sorted(overlap)[0]!r} is used twice", join)
            aliases |= set(right.columns)
            side = str(join.args.get("side") or "").upper()
            if join.args.get("using"):
                groups[-1] = self.join_using(groups[-1], right, join, side)
            elif join.args.get("on") is not None:
                groups[-1] = self.join(groups[-1], right, _conjuncts(join.args["on"]), join, side)
            else:
                groups.append(right)
        if len(groups) == 1:
            return groups[0], set()
        where = node.args.get("where")
        return self.connect(groups, _conjuncts(where.this) if where is not None else [], node)

    def connect(
        self, groups: list[_Relation], conjuncts: list[exp.Expression], node: exp.Select
    ) -> tuple[_Relation, set[int]]:
        """Join comma-separated FROM items by their WHERE equalities (see :meth:`from_clause`)."""
        edges: list[tuple[exp.Expression, int, int]] = []
        for conj in conjuncts:
            if (
                isinstance(conj, exp.EQ)
                and isinstance(conj.this, exp.Column)
                and isinstance(conj.expression, exp.Column)
            ):
                a, b = _group_of(conj.this, groups), _group_of(conj.expression, groups)
                if a is not None and b is not None and a != b:
                    edges.append((conj, a, b))
            elif isinstance(conj, exp.EQ):  # an expression of one item = one of another
                a, b = _item_of(conj.this, groups), _item_of(conj.expression, groups)
                if a is not None and b is not None and a != b:
                    edges.append((conj, a, b))
        current, members, consumed = groups[0], {0}, set()
        while len(members) < len(groups):
            for index in range(len(groups)):
                if index in members:
                    continue
                found = [
                    conj
                    for conj, a, b in edges
                    if (a in members and b == index) or (b in members and a == index)
                ]
                if found:
                    break
            else:
                lonely = next(i for i in range(len(groups)) if i not in members)
                name = next(iter(groups[lonely].columns))
                raise _fail(
                    "bind",
                    f"{name!r} is not joined to the other tables by an equality in WHERE "
                    "(cross joins are not supported); write a.k = b.k",
                    node,
                )
            current = self.join(current, groups[index], found, node)
            members.add(index)
            consumed |= {id(c) for c in found}
        return current, consumed

    def join_using(
        self, left: _Relation, right: _Relation, node: exp.Join, outer: str = ""
    ) -> _Relation:
        """``JOIN … USING (c, …)``: equality of the columns of that name on both sides; the
        output lists each such column once (the left one), as SQL does."""
        conditions: list[exp.Expression] = []
        for ident in node.args["using"]:
            name = ident.name
            for side, what in ((left, "left"), (right, "right")):
                hits = [a for a, cols in side.columns.items() if name in cols]
                if len(hits) != 1:
                    problem = "no" if not hits else "several"
                    raise _fail(
                        "bind",
                        f"USING ({name}): the {what} side has {problem} column {name!r}",
                        node,
                    )
            l_alias = next(a for a, cols in left.columns.items() if name in cols)
            r_alias = next(a for a, cols in right.columns.items() if name in cols)
            conditions.append(
                exp.EQ(
                    this=exp.column(name, table=l_alias), expression=exp.column(name, table=r_alias)
                )
            )
        joined = self.join(left, right, conditions, node, outer)
        for ident in node.args["using"]:
            r_alias = next(a for a, cols in right.columns.items() if ident.name in cols)
            l_alias = next(a for a, cols in left.columns.items() if ident.name in cols)
            joined.merged[ident.name] = left.columns[l_alias][ident.name]
            joined.hidden.add(right.columns[r_alias][ident.name])
        return joined

    def join(
        self,
        left: _Relation,
        right: _Relation,
        conditions: list[exp.Expression],
        node: exp.Expression,
        side: str = "",
    ) -> _Relation:
        """``JOIN … ON``: equalities of a column of each side are the keys, the rest a filter;
        ``side`` LEFT/RIGHT/FULL: an outer join (:meth:`outer_join`)."""
        both = _Relation(left.node, {**left.columns, **right.columns})
        both.merged = {**left.merged, **right.merged}
        both.hidden = left.hidden | right.hidden
        left_names = {n for n, _ in left.node.schema}
        right_names = {n for n, _ in right.node.schema}
        keys_l: list[str] = []
        keys_r: list[str] = []
        residual: list[ir.Expr] = []
        mixed: list[str] = []
        resolve = self.resolver(both, extra_types=dict(right.node.schema))
        computed: tuple[list[tuple[str, ir.Expr]], list[tuple[str, ir.Expr]]] = ([], [])
        for conj in conditions:
            key = None if side else self.expression_key(conj, resolve, left_names, right_names)
            if key is not None:  # an expression of each side (not two columns): computed first
                for at, (expr, keys) in enumerate(((key[0], keys_l), (key[1], keys_r))):
                    if isinstance(expr, ir.ColumnRef):
                        keys.append(expr.name)
                    else:
                        keys.append(self.fresh("join_key"))
                        computed[at].append((keys[-1], expr))
                continue
            if (
                isinstance(conj, exp.EQ)
                and isinstance(conj.this, exp.Column)
                and isinstance(conj.expression, exp.Column)
            ):
                a, b = resolve(conj.this), resolve(conj.expression)
                assert isinstance(a, ir.ColumnRef)
                assert isinstance(b, ir.ColumnRef)
                if a.name in right_names and b.name in left_names:
                    a, b = b, a
                if a.name in left_names and b.name in right_names:
                    _compare("=", a, b, conj)
                    if a.ctype.same_values(b.ctype):  # a join key compares equal lanes
                        keys_l.append(a.name)
                        keys_r.append(b.name)
                        continue
                    mixed.append(f"{a.ctype} = {b.ctype}")  # exact, but as a condition
            residual.append(_bind_expr(conj, resolve))
        if not keys_l:
            hint = f" of the same type (here {', '.join(mixed)})" if mixed else ""
            raise _fail(
                "bind",
                f"a join needs at least one equality between the two sides in ON{hint}",
                node,
            )
        if side:
            padded = self.outer_join(left.node, right.node, keys_l, keys_r, residual, side, node)
            return _Relation(padded, both.columns, both.merged, both.hidden)
        left_node, right_node = (
            _with_columns(n, extra)
            for n, extra in zip((left.node, right.node), computed, strict=True)
        )
        schema = left_node.schema + right_node.schema
        result: ir.Node = ir.Join(
            schema, left_node, right_node, "inner", tuple(keys_l), tuple(keys_r)
        )
        if residual:
            result = ir.Filter(
                schema, result, _logic("AND", residual, node) if len(residual) > 1 else residual[0]
            )
        return _Relation(result, both.columns, both.merged, both.hidden)

    def expression_key(
        self,
        conj: exp.Expression,
        resolve: Any,
        left_names: set[str],
        right_names: set[str],
    ) -> tuple[ir.Expr, ir.Expr] | None:
        """``e_left = e_right`` of an inner join where a side is an expression (not both plain
        columns), each reading columns of one side only, of types whose equality compares
        the same lanes: the key pair (left's, right's), else None (a condition)."""
        if not isinstance(conj, exp.EQ) or (
            isinstance(conj.this, exp.Column) and isinstance(conj.expression, exp.Column)
        ):
            return None
        a, b = _bind_expr(conj.this, resolve), _bind_expr(conj.expression, resolve)
        ra, rb = _refs(a), _refs(b)
        if ra and rb and ra <= right_names and rb <= left_names:
            a, b, ra, rb = b, a, rb, ra
        if not (ra and rb and ra <= left_names and rb <= right_names):
            return None
        if any(t.is_text or t.kind == "ratio" for t in (a.ctype, b.ctype)):
            return None  # numbers, dates and bools (text keys compare their hash lanes)
        if not a.ctype.same_values(b.ctype):
            return None
        _compare("=", a, b, conj)
        return a, b

    def outer_join(
        self,
        left: ir.Node,
        right: ir.Node,
        keys_l: list[str],
        keys_r: list[str],
        conditions: list[ir.Expr],
        side: str,
        node: exp.Expression,
    ) -> ir.Node:
        """``LEFT``/``RIGHT``/``FULL [OUTER] JOIN`` as the inner join UNION ALL the rows of the
        preserved side(s) without a match (an anti-join), padded with NULLs. ON conditions
        other than the key equalities may concern only the side that gets NULLs (LEFT: the
        right side); they filter that side before the join, which is exact."""
        names = {"LEFT": {n for n, _ in right.schema}, "RIGHT": {n for n, _ in left.schema}}
        pushed: list[ir.Expr] = []
        for cond in conditions:
            if not _refs(cond) <= names.get(side, set()):
                other = {"LEFT": "right", "RIGHT": "left"}.get(side)
                what = f"conditions on the {other} side" if other else "no other conditions"
                raise _fail(
                    "subset",
                    f"{side} JOIN … ON supports equalities between the two sides and {what} "
                    f"(here {render_expr(cond)})",
                    node,
                )
            pushed.append(cond)
        if pushed:
            pred = pushed[0] if len(pushed) == 1 else _logic("AND", pushed, node)
            if side == "LEFT":
                right = ir.Filter(right.schema, right, pred)
            else:
                left = ir.Filter(left.schema, left, pred)
        nulls_left, nulls_right = side in ("RIGHT", "FULL"), side in ("LEFT", "FULL")
        schema = tuple((n, _or_null(t, nulls_left)) for n, t in left.schema) + tuple(
            (n, _or_null(t, nulls_right)) for n, t in right.schema
        )
        inner = ir.Join(
            left.schema + right.schema, left, right, "inner", tuple(keys_l), tuple(keys_r)
        )
        branches = [_widened(inner, [t for _, t in schema])]
        if nulls_right:  # left rows without a match
            alone = ir.SemiJoin(left.schema, left, right, tuple(keys_l), tuple(keys_r), True)
            branches.append(_padded(alone, schema))
        if nulls_left:  # right rows without a match
            alone = ir.SemiJoin(right.schema, right, left, tuple(keys_r), tuple(keys_l), True)
            branches.append(_padded(alone, schema))
        return ir.UnionAll(schema, tuple(branches))

    # -- WHERE with semi/anti joins

    def where(
        self,
        cond: exp.Expression,
        rel: _Relation,
        ctes: dict[str, ir.Node],
        skip: set[int] | frozenset[int] = frozenset(),
    ) -> _Relation:
        """WHERE: IN/EXISTS conjuncts become semi- or anti-joins, the rest one filter; the
        conjuncts in ``skip`` (used as join keys by the FROM clause) are done already."""
        plain: list[ir.Expr] = []
        scalars: list[Attachment] = []
        node = rel.node
        resolve = self.resolver(rel)
        for conj in _conjuncts(cond):
            if id(conj) in skip:
                continue
            negated = False
            inner = conj
            if isinstance(inner, exp.Not) and isinstance(inner.this, exp.In | exp.Exists):
                negated, inner = True, inner.this
            if isinstance(inner, exp.In) and inner.args.get("query"):
                arg = _bind_expr(inner.this, resolve)
                if not isinstance(arg, ir.ColumnRef):
                    raise _fail("subset", "IN (SELECT …) needs a column on the left", inner)
                sub = self.query(inner.args["query"].this, ctes)
                if len(sub.schema) != 1:
                    raise _fail("bind", "IN (SELECT …) must select exactly one column", inner)
                _compare("=", arg, ir.ColumnRef(sub.schema[0][1], sub.schema[0][0]), inner)
                if negated:  # NULL on either side makes NOT IN differ from NOT EXISTS
                    _no_null_keys(
                        "NOT IN (SELECT …)", [(arg.name, arg.ctype), sub.schema[0]], inner
                    )
                _same_layout(arg.ctype, sub.schema[0][1], inner)
                node = ir.SemiJoin(
                    node.schema, node, sub, (arg.name,), (sub.schema[0][0],), negated
                )
            elif isinstance(inner, exp.Exists) and self.unequal_exists(inner, rel, ctes, negated):
                counted = self.unequal_exists(inner, rel, ctes, negated)
                assert counted is not None
                plain.append(
                    self.bind_scalars(counted, resolve, None, rel, ctes, scalars, correlate=True)
                )
            elif isinstance(inner, exp.Exists):
                node = self.exists(inner, node, rel, ctes, negated)
            else:
                if _outside_subqueries(conj, (exp.Exists,)) or any(
                    i.args.get("query") for i in _found_outside_subqueries(conj, exp.In)
                ):
                    raise _fail(
                        "subset",
                        "IN/EXISTS subqueries must be top-level AND conditions of WHERE",
                        conj,
                    )
                plain.append(
                    self.bind_scalars(conj, resolve, None, rel, ctes, scalars, correlate=True)
                )
        node = attached(node, scalars)
        if plain:
            pred = plain[0] if len(plain) == 1 else _logic("AND", plain, cond)
            node = ir.Filter(node.schema, node, pred)
        return _Relation(node, rel.columns, rel.merged, rel.hidden)

    def exists(
        self,
        node: exp.Exists,
        outer_node: ir.Node,
        outer: _Relation,
        ctes: dict[str, ir.Node],
        anti: bool,
    ) -> ir.Node:
        sub = node.this
        if not isinstance(sub, exp.Select) or any(
            sub.args.get(k) for k in ("group", "having", "order", "limit", "distinct")
        ):
            raise _fail("subset", "EXISTS supports SELECT … FROM … [JOIN …] WHERE … only", node)
        inner, consumed = self.from_clause(sub, ctes)
        inner_names = {n for n, _ in inner.node.schema}
        outer_names = {n for n, _ in outer.node.schema}
        resolve_inner = self.resolver(inner)
        resolve_both = self.scoped_resolver(inner, outer)
        keys_o: list[str] = []
        keys_i: list[str] = []
        local: list[ir.Expr] = []
        where = sub.args.get("where")
        for conj in _conjuncts(where.this) if where is not None else []:
            if id(conj) in consumed:
                continue
            bound = _bind_expr(conj, resolve_both)
            refs = _refs(bound)
            if refs <= inner_names:
                local.append(_bind_expr(conj, resolve_inner))
                continue
            if (
                isinstance(bound, ir.Compare)
                and bound.op == "="
                and isinstance(bound.left, ir.ColumnRef)
                and isinstance(bound.right, ir.ColumnRef)
            ):
                a, b = bound.left.name, bound.right.name
                if a in outer_names and b in inner_names:
                    a, b = b, a
                if a in inner_names and b in outer_names:
                    _same_layout(bound.left.ctype, bound.right.ctype, conj)
                    keys_i.append(a)
                    keys_o.append(b)
                    continue
            raise _fail(
                "subset",
                "a correlated EXISTS condition must be an equality of an inner and an outer column",
                conj,
            )
        if not keys_i:
            raise _fail(
                "subset", "EXISTS needs a correlation inner.col = outer.col in its WHERE", node
            )
        inner_node = inner.node
        if local:
            inner_node = ir.Filter(
                inner_node.schema,
                inner_node,
                local[0] if len(local) == 1 else _logic("AND", local, node),
            )
        return ir.SemiJoin(
            outer_node.schema, outer_node, inner_node, tuple(keys_o), tuple(keys_i), anti
        )

    # -- scalar subqueries (tyst.sql.subqueries)

    def bind_scalars(
        self,
        e: exp.Expression,
        resolve: ColumnResolver,
        aggregate: AggregateResolver | None,
        outer: _Relation,
        ctes: dict[str, ir.Node],
        scalars: list[Attachment],
        *,
        correlate: bool = False,
    ) -> ir.Expr:
        """``e`` bound with its scalar subqueries, each appended to ``scalars`` (what the
        operator evaluating ``e`` needs below it); ``correlate``: correlated ones are allowed
        (a WHERE condition over ``outer``), and ``e`` must reject the rows they drop."""
        start = len(scalars)

        def subquery(sub: exp.Subquery) -> ir.Expr:
            return self.scalar_subquery(sub, outer, ctes, scalars, correlate)

        bound = _bind_expr(e, resolve, aggregate, subquery)
        for at in range(start, len(scalars)):
            added = scalars[at]
            if added.missing is None or rejects_missing(bound, added.missing):
                continue  # uncorrelated, or the inner join drops only rows SQL drops
            if added.left is not None:  # COUNTs only: 0 for a row without a group
                scalars[at] = Attachment(added.left)
                continue
            raise _fail(
                "subset",
                "a correlated scalar subquery with SUM, AVG, MIN or MAX is supported where an "
                "outer row without matching rows is dropped: in a condition that is not TRUE "
                "when that value is NULL (not under OR, COALESCE or IS NULL)",
                e,
            )
        return bound

    def scalar_subquery(
        self,
        node: exp.Subquery,
        outer: _Relation,
        ctes: dict[str, ir.Node],
        scalars: list[Attachment],
        correlate: bool,
    ) -> ir.Expr:
        """One scalar subquery: its value expression, with its aggregate appended to
        ``scalars`` (see :mod:`tyst.sql.subqueries`)."""
        sub = node.this
        pairs: list[tuple[exp.Expression, exp.Expression, str, str]] = []
        if isinstance(sub, exp.Select) and (sub.args.get("from_") or sub.args.get("from")):
            pairs = self.correlation(sub, outer, ctes)
        if not pairs:
            found = one_row(self.query(sub, ctes))
            if found is None or found[0].keys:
                raise _fail(
                    "subset",
                    "a scalar subquery must be one aggregate value without GROUP BY, HAVING, "
                    "DISTINCT or LIMIT (provably one row), e.g. (SELECT MAX(x) FROM t)",
                    node,
                )
            scalars.append(broadcast(found[0]))
            return found[1]
        if not correlate:
            raise _fail("subset", "a correlated scalar subquery is supported only in WHERE", node)
        if any(sub.args.get(k) for k in ("group", "having", "order", "limit", "distinct")):
            raise _fail(
                "subset",
                "a correlated scalar subquery must be one aggregate value without GROUP BY, "
                "HAVING, DISTINCT or LIMIT",
                node,
            )
        grouped = sub.copy()  # the same aggregate, grouped by the inner correlation columns
        used = {id(conj) for conj, _, _, _ in pairs}
        kept = [c.copy() for c in _conjuncts(sub.args["where"].this) if id(c) not in used]
        grouped.set("where", exp.Where(this=_fold(exp.And, kept)) if kept else None)
        inner_columns: dict[str, exp.Expression] = {}
        for _, column, inner, _ in pairs:
            inner_columns.setdefault(inner, column.copy())
        grouped.set("group", exp.Group(expressions=list(inner_columns.values())))
        found = one_row(self.query(grouped, ctes))
        if found is None:
            raise _fail(
                "subset",
                "a correlated scalar subquery must select one aggregate value (e.g. SUM(x))",
                node,
            )
        agg = replace(found[0], min_group_size=0)  # the subquery's value per row, not output
        unique = dict.fromkeys((inner, o) for _, _, inner, o in pairs)  # k = o twice: once
        scalars.append(correlated(agg, list(unique), self.fresh))
        return found[1]

    def unequal_exists(
        self, node: exp.Exists, outer: _Relation, ctes: dict[str, ir.Node], negated: bool
    ) -> exp.Expression | None:
        """``[NOT] EXISTS (S WHERE … inner.k = outer.k … AND inner.a <> outer.b)`` (TPC-H
        Q21) as counts, exactly: rows of S with a <> b are its rows with a not NULL minus those
        with a = b (both need b not NULL), so EXISTS is ``b IS NOT NULL AND (SELECT COUNT(a)
        FROM S WHERE …) - (SELECT COUNT(*) FROM S WHERE … AND a = b) > 0`` — two correlated
        COUNTs (left joins). None: no such ``<>`` (the semi-join path)."""
        sub = node.this
        where = sub.args.get("where") if isinstance(sub, exp.Select) else None
        if where is None or not (sub.args.get("from_") or sub.args.get("from")):
            return None
        inner, _ = self.from_clause(sub, ctes)
        inner_names = {n for n, _ in inner.node.schema}
        resolve = self.scoped_resolver(inner, outer)
        found: list[tuple[exp.Expression, exp.Expression, exp.Expression]] = []
        for conj in _conjuncts(where.this):
            if not (
                isinstance(conj, exp.NEQ)
                and isinstance(conj.this, exp.Column)
                and isinstance(conj.expression, exp.Column)
            ):
                continue
            a, b = resolve(conj.this), resolve(conj.expression)
            assert isinstance(a, ir.ColumnRef)
            assert isinstance(b, ir.ColumnRef)
            sides = (conj.this, conj.expression)
            if a.name not in inner_names and b.name in inner_names:
                sides, a, b = (conj.expression, conj.this), b, a
            if a.name in inner_names and b.name not in inner_names:
                if not a.ctype.same_values(b.ctype):
                    return None  # refused by the semi-join path, with its message
                found.append((conj, *sides))
        if not found:
            return None
        if len(found) > 1 or any(
            sub.args.get(k) for k in ("group", "having", "order", "limit", "distinct")
        ):
            raise _fail(
                "subset",
                "a correlated EXISTS supports one condition inner.a <> outer.b besides its "
                "equalities inner.k = outer.k",
                node,
            )
        neq, inner_col, outer_col = found[0]
        rest = [c for c in _conjuncts(where.this) if c is not neq]

        def count(what: exp.Expression, *extra: exp.Expression) -> exp.Expression:
            q = sub.copy()
            q.set("expressions", [exp.Count(this=what)])
            conds = [c.copy() for c in rest] + list(extra)
            q.set("where", exp.Where(this=_fold(exp.And, conds)))
            return exp.Subquery(this=q)

        present = count(inner_col.copy())
        same = count(exp.Star(), exp.EQ(this=inner_col.copy(), expression=outer_col.copy()))
        known = exp.Not(this=exp.Is(this=outer_col.copy(), expression=exp.Null()))
        some = exp.GT(this=exp.Sub(this=present, expression=same), expression=exp.Literal.number(0))
        exists: exp.Expression = exp.And(this=known, expression=some)
        return exp.Not(this=exp.Paren(this=exists)) if negated else exists

    def scoped_resolver(self, inner: _Relation, outer: _Relation) -> ColumnResolver:
        """Columns of a subquery's scope: the inner relation's, and where it has no such
        alias or column, the outer query's (SQL's rule: the innermost scope wins)."""
        resolve_inner, resolve_outer = self.resolver(inner), self.resolver(outer)

        def resolve(col: exp.Column) -> ir.Expr:
            if col.table:
                here = col.table in inner.columns
            else:
                here = col.name in inner.merged or any(
                    col.name in cols for cols in inner.columns.values()
                )
            return resolve_inner(col) if here else resolve_outer(col)

        return resolve

    def correlation(
        self, sub: exp.Select, outer: _Relation, ctes: dict[str, ir.Node]
    ) -> list[tuple[exp.Expression, exp.Expression, str, str]]:
        """The conditions of ``sub``'s WHERE that refer to ``outer``, each an equality of an
        inner and an outer column: (condition, its inner column's syntax, inner column's and
        outer column's schema names). Any other condition on the outer query is refused."""
        where = sub.args.get("where")
        if where is None:
            return []
        inner, consumed = self.from_clause(sub, ctes)
        inner_names = {n for n, _ in inner.node.schema}
        outer_names = {n for n, _ in outer.node.schema}
        resolve = self.scoped_resolver(inner, outer)
        pairs: list[tuple[exp.Expression, exp.Expression, str, str]] = []
        for conj in _conjuncts(where.this):
            if id(conj) in consumed or _outside_subqueries(conj, (exp.Subquery, exp.Exists)):
                continue  # joins of the inner FROM; nested subqueries are compiled with it
            bound = _bind_expr(conj, resolve)
            if _refs(bound) <= inner_names:
                continue
            if (
                isinstance(bound, ir.Compare)
                and bound.op == "="
                and isinstance(bound.left, ir.ColumnRef)
                and isinstance(bound.right, ir.ColumnRef)
            ):
                a, b, column = bound.left, bound.right, conj.this
                if a.name in outer_names and b.name in inner_names:
                    a, b, column = b, a, conj.expression
                inner_outer = a.name in inner_names and b.name in outer_names
                if inner_outer and a.ctype.same_values(b.ctype):
                    pairs.append((conj, column, a.name, b.name))
                    continue
            raise _fail(
                "subset",
                "a correlated subquery's condition on the outer query must be an equality "
                "inner.col = outer.col of the same type",
                conj,
            )
        return pairs

    # -- SELECT list, aggregation, ORDER BY / LIMIT

    def expand_star(self, node: exp.Select, rel: _Relation) -> list[exp.Expression]:
        items: list[exp.Expression] = []
        for e in node.expressions:
            if isinstance(e, exp.Star):
                for alias, cols in rel.columns.items():
                    items.extend(
                        exp.column(c, table=alias)
                        for c, full in cols.items()
                        if full not in rel.hidden
                    )
            elif isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
                alias = e.table
                if alias not in rel.columns:
                    raise _fail("bind", f"unknown alias {alias!r} in {alias}.*", e)
                items.extend(exp.column(c, table=alias) for c in rel.columns[alias])
            else:
                items.append(e)
        return items

    def output_name(self, e: exp.Expression, index: int) -> str:
        if isinstance(e, exp.Alias):
            return e.alias
        if isinstance(e, exp.Column):
            return e.name
        return e.sql(dialect="duckdb")

    def resolver(
        self, rel: _Relation, extra_types: Mapping[str, ColumnType] | None = None
    ) -> ColumnResolver:
        types = dict(rel.node.schema)
        if extra_types:
            types.update(extra_types)

        def resolve(col: exp.Column) -> ir.Expr:
            name, table = col.name, col.table
            if table:
                if table not in rel.columns:
                    raise _fail("bind", f"unknown table or alias {table!r}", col)
                if name not in rel.columns[table]:
                    known = ", ".join(rel.columns[table]) or "none"
                    raise _fail("bind", f"unknown column {table}.{name} (columns: {known})", col)
                full = rel.columns[table][name]
            elif name in rel.merged:
                full = rel.merged[name]
            else:
                hits = [cols[name] for cols in rel.columns.values() if name in cols]
                if not hits:
                    raise _fail("bind", f"unknown column {name!r}", col)
                if len(hits) > 1:
                    raise _fail(
                        "bind", f"column {name!r} is ambiguous; qualify it with a table alias", col
                    )
                full = hits[0]
            return ir.ColumnRef(types[full], full)

        return resolve

    def aggregate(
        self,
        node: exp.Select,
        rel: _Relation,
        items: list[exp.Expression],
        ctes: dict[str, ir.Node] | None = None,
    ) -> tuple[ir.Node, list[tuple[str, ir.Expr]]]:
        resolve = self.resolver(rel)
        aliases = {e.alias: e.unalias() for e in items if isinstance(e, exp.Alias)}
        keys: list[ir.ColumnRef] = []
        group_sql: dict[str, ir.ColumnRef] = {}
        pre: dict[str, ir.Expr] = {}
        group = node.args.get("group")
        for g in group.expressions if group is not None else []:
            target = g
            if isinstance(g, exp.Column) and not g.table and g.name in aliases:
                try:
                    resolve(g)
                except SqlError:
                    target = aliases[g.name]  # GROUP BY a SELECT alias
            bound = _bind_expr(target, resolve)
            if target.find(*_ALL_AGGREGATES):
                raise _fail("subset", "GROUP BY cannot contain aggregates", g)
            if isinstance(bound, ir.ColumnRef):
                key = bound
            else:
                key = ir.ColumnRef(bound.ctype, self.fresh("key"))
            if any(k.name == key.name for k in keys) or target.sql() in group_sql:
                continue  # GROUP BY x, x is GROUP BY x
            pre[key.name] = bound
            keys.append(key)
            group_sql[target.sql()] = key
        calls: dict[str, ir.AggregateCall] = {}
        ratios: dict[str, ir.Ratio] = {}
        negated: dict[str, ir.Expr] = {}  # order statistics WITHIN GROUP (ORDER BY x DESC)

        def bind_call(e: exp.Expression) -> ir.Expr:
            sql = e.sql(dialect="duckdb")
            if sql in ratios:
                return ratios[sql]
            if sql in negated:
                return negated[sql]
            if sql in calls:
                c = calls[sql]
                return ir.ColumnRef(c.ctype, c.name)
            if isinstance(e, exp.Mode):
                call = self.mode(e, resolve, pre, keys)
                _order_width(keys, pre[call.arg or ""], e)
                calls[sql] = call
                return ir.ColumnRef(call.ctype, call.name)
            if isinstance(e, _ORDER_STATISTICS):
                func, q, arg_node = _order_statistic(e)
                arg = _bind_expr(arg_node, resolve)
                descending = _descending(e)
                if descending and func == "PERCENTILE_CONT":  # symmetric: q(m−1) from the top
                    q, descending = 1 - q, False
                if descending:  # DISC of −x, negated: DuckDB's descending order
                    if not arg.ctype.is_numeric:
                        raise _type_error(
                            e, "WITHIN GROUP (ORDER BY x DESC) needs an int or decimal", arg
                        )
                    arg = _arith("-", ir.Literal(ir.INT, 0), arg, e)
                _order_width(keys, arg, e)
                if arg_node.find(*_ALL_AGGREGATES):
                    raise _fail("subset", "nested aggregates are not supported", e)
                ordered = arg.name if isinstance(arg, ir.ColumnRef) else self.fresh("arg")
                pre[ordered] = arg
                call = _order_call(func, q, arg, ordered, self.fresh(func.lower()), e)
                if not keys:
                    call = replace(call, ctype=call.ctype.with_nulls())  # no rows: NULL
                calls[sql] = call
                if descending:
                    column = ir.ColumnRef(call.ctype, call.name)
                    negated[sql] = _arith("-", ir.Literal(ir.INT, 0), column, e)
                    return negated[sql]
                return ir.ColumnRef(call.ctype, call.name)
            func = type(e).__name__.upper()
            arg_node = e.this
            distinct = isinstance(arg_node, exp.Distinct)
            if distinct:
                if func != "COUNT" or len(arg_node.expressions) != 1:
                    raise _fail("subset", "DISTINCT is supported in COUNT(DISTINCT col) only", e)
                arg_node = arg_node.expressions[0]
            arg_name: str | None = None
            if isinstance(arg_node, exp.Star) or arg_node is None:
                if func != "COUNT":
                    raise _fail("subset", f"{func}(*) is not valid", e)
            else:
                arg = _bind_expr(arg_node, resolve)
                if arg_node.find(*_ALL_AGGREGATES):
                    raise _fail("subset", "nested aggregates are not supported", e)
                arg_name = arg.name if isinstance(arg, ir.ColumnRef) else self.fresh("arg")
                pre[arg_name] = arg
                ctype = arg.ctype
                if func in ("SUM", "AVG") and not ctype.is_numeric:
                    raise _type_error(e, f"{func} needs an int or decimal argument", arg)
                if func in ("MIN", "MAX") and ctype.is_text:  # its UTF-8 bytes: computed text
                    if not keys or ctype.nullable:
                        raise _type_error(
                            e,
                            f"{func} of text is supported with GROUP BY over text that is never "
                            "NULL (ORDER BY … LIMIT 1 gives the first value)",
                            arg,
                        )
                    ctype = DERIVED_TEXT
                elif func in ("MIN", "MAX") and not ctype.is_ordered:
                    raise _type_error(e, f"{func} needs an ordered value", arg)
            if func in ("SUM", "AVG", "MIN", "MAX") and not keys:
                ctype = ctype.with_nulls()  # no row (or only NULLs): NULL
            if func == "AVG":  # = SUM / COUNT(x), divided by the recipient only
                total = ir.AggregateCall("SUM", arg_name, False, self.fresh("sum"), ctype)
                count = ir.AggregateCall("COUNT", arg_name, False, self.fresh("count"), ir.INT)
                calls[sql + "#sum"], calls[sql + "#count"] = total, count
                # the ratio's scale is the sum's; the recipient chooses the decimals shown
                ratio = ir.Ratio(
                    ColumnType("ratio", ctype.scale),
                    ir.ColumnRef(total.ctype, total.name),
                    ir.ColumnRef(ir.INT, count.name),
                )
                ratios[sql] = ratio
                return ratio
            out_type = ir.INT if func == "COUNT" else ctype
            call = ir.AggregateCall(func, arg_name, distinct, self.fresh(func.lower()), out_type)
            calls[sql] = call
            return ir.ColumnRef(out_type, call.name)

        key_names = {k.name for k in keys}

        def resolve_grouped(col: exp.Column) -> ir.Expr:
            ref = resolve(col)
            assert isinstance(ref, ir.ColumnRef)
            if ref.name not in key_names:
                raise _fail(
                    "bind",
                    f"column {col.sql()!r} must appear in GROUP BY or inside an aggregate",
                    col,
                )
            return ref

        scalars: list[Attachment] = []  # scalar subqueries: added to the aggregate's rows

        def bind_item(e: exp.Expression) -> ir.Expr:
            grouped = group_sql.get(e.sql())
            if grouped is not None:
                return grouped
            return self.bind_scalars(e, resolve_grouped, bind_call, rel, ctes or {}, scalars)

        outputs = [(self.output_name(e, i), bind_item(_unalias(e))) for i, e in enumerate(items)]
        having = node.args.get("having")
        having_expr = (
            self.bind_scalars(having.this, resolve_grouped, bind_call, rel, ctes or {}, scalars)
            if having is not None
            else None
        )
        if having_expr is not None and not _is_bool(having_expr):
            raise _type_error(having, "HAVING needs a bool condition", having_expr)
        plain = all(isinstance(e, ir.ColumnRef) and e.name == n for n, e in pre.items())
        pre_schema = tuple((n, e.ctype) for n, e in pre.items())
        source: ir.Node = (
            rel.node if plain else ir.Project(pre_schema, rel.node, tuple(pre.items()))
        )
        agg_schema = tuple((k.name, k.ctype) for k in keys) + tuple(
            (c.name, c.ctype) for c in calls.values()
        )
        min_size = self.min_group_size if keys else 0
        agg: ir.Node = ir.Aggregate(
            agg_schema, source, tuple(k.name for k in keys), tuple(calls.values()), min_size
        )
        agg = attached(agg, scalars)
        if having_expr is not None:
            agg = ir.Filter(agg.schema, agg, having_expr)
        return agg, outputs

    def mode(
        self,
        e: exp.Mode,
        resolve: ColumnResolver,
        pre: dict[str, ir.Expr],
        keys: list[ir.ColumnRef],
    ) -> ir.AggregateCall:
        """``MODE(x)`` of an int, decimal or date: the most frequent value; of several, the
        smallest (DuckDB's choice among ties depends on its scan order; they agree when the
        mode is unique). NULL where there is no value."""
        target = e.this
        if target is None or isinstance(target, exp.Distinct | exp.Star):
            raise _fail("subset", "MODE takes one value: MODE(x)", e)
        if target.find(*_ALL_AGGREGATES):
            raise _fail("subset", "nested aggregates are not supported", e)
        arg = _bind_expr(target, resolve)
        if arg.ctype.kind not in ("int", "decimal", "date"):
            raise _type_error(e, "MODE needs an int, decimal or date value", arg)
        name = arg.name if isinstance(arg, ir.ColumnRef) else self.fresh("arg")
        pre[name] = arg
        ctype = arg.ctype if keys else arg.ctype.with_nulls()
        return ir.AggregateCall("MODE", name, False, self.fresh("mode"), ctype)

    def windows(
        self, rel: _Relation, items: list[exp.Expression]
    ) -> tuple[ir.Node, list[tuple[str, ir.Expr]]]:
        """The SELECT items of a query with window functions: their arguments and keys
        computed first (a projection, when not plain columns), one :class:`ir.Window` per
        distinct (PARTITION BY, ORDER BY), the items bound over its columns."""
        resolve = self.resolver(rel)
        pre: dict[str, ir.Expr] = {}
        groups: dict[_WindowSpec, list[ir.WindowCall]] = {}
        bound: dict[str, ir.Expr] = {}  # a window's SQL → its result (a column or AVG ratio)

        def column(e: exp.Expression | ir.Expr) -> ir.ColumnRef:
            """An argument or key as a column of the window's input (computed ones added)."""
            if isinstance(e, exp.Expression):
                if e.find(exp.Window):
                    raise _fail("subset", "window functions cannot be nested", e)
                e = _bind_expr(e, resolve)
            if isinstance(e, ir.ColumnRef):
                return e
            name = next((n for n, x in pre.items() if x == e), None) or self.fresh("w")
            pre[name] = e
            return ir.ColumnRef(e.ctype, name)

        def call(key: _WindowSpec, c: ir.WindowCall) -> ir.ColumnRef:
            calls = groups.setdefault(key, [])
            same = [k for k in calls if replace(k, name=c.name) == c]
            if same:
                return ir.ColumnRef(same[0].ctype, same[0].name)
            calls.append(c)
            return ir.ColumnRef(c.ctype, c.name)

        def bind_window(w: exp.Window) -> ir.Expr:
            sql = w.sql(dialect="duckdb")
            if sql not in bound:
                bound[sql] = _window_call(w, column, call, self.fresh)
            return bound[sql]

        placeholders: dict[str, ir.Expr] = {}

        def substitute(e: exp.Expression) -> exp.Expression:
            if not isinstance(e, exp.Window):
                return e
            name = self.fresh("over")
            placeholders[name] = bind_window(e)
            return exp.column(name)

        def resolve_outer(col: exp.Column) -> ir.Expr:
            if not col.table and col.name in placeholders:
                return placeholders[col.name]
            return resolve(col)

        outputs = []
        for i, e in enumerate(items):
            target = _unalias(e).transform(substitute)
            outputs.append((self.output_name(e, i), _bind_expr(target, resolve_outer)))
        # the sort carries every column of its input: only those used pass (local)
        used = {r.name for _, e in outputs for r in e.refs()} | {
            r.name for e in pre.values() for r in e.refs()
        }
        for (partition, order, _), calls in groups.items():
            used |= {*partition, *(k for k, _ in order)}
            used |= {x for c in calls for x in (c.arg, c.default) if x is not None}
        source = rel.node
        passed = tuple((n, ir.ColumnRef(t, n)) for n, t in source.schema if n in used)
        if pre or len(passed) < len(source.schema):
            computed = tuple(pre.items())
            schema = tuple((n, e.ctype) for n, e in (*passed, *computed))
            source = ir.Project(schema, source, (*passed, *computed))
        for (partition, order, nulls_first), calls in groups.items():
            schema = source.schema + tuple((c.name, c.ctype) for c in calls)
            source = ir.Window(schema, source, partition, order, tuple(calls), nulls_first)
        return source, outputs

    def grouped_windows(
        self, node: exp.Select, rel: _Relation, items: list[exp.Expression]
    ) -> tuple[ir.Node, list[tuple[str, ir.Expr]]]:
        """Windows over a GROUP BY (or aggregates): SQL computes them after grouping and
        HAVING, over the groups. Every part of the SELECT list outside a window, and every
        argument and key of a window, is computed by the aggregate first (its columns named
        ``grouped#k``); the windows then run over its rows (:meth:`windows`)."""
        inner: list[exp.Expression] = []

        def lift(e: exp.Expression) -> exp.Expression:
            if _data_free(e):
                return e
            name = exp.to_identifier(self.fresh("grouped"), quoted=True)
            inner.append(exp.Alias(this=e.copy(), alias=name))
            return exp.column(name.copy())

        def window(w: exp.Window) -> exp.Window:
            w = w.copy()
            f = w.this
            arg = f.args.get("this")
            if isinstance(arg, exp.Expression) and not isinstance(arg, exp.Star | exp.Distinct):
                f.set("this", lift(arg))
            w.set("partition_by", [lift(x) for x in w.args.get("partition_by") or []])
            order = w.args.get("order")
            for o in order.expressions if order is not None else []:
                o.set("this", lift(o.this))
            return w

        def split(e: exp.Expression) -> exp.Expression:
            if isinstance(e, exp.Window):
                return window(e)
            if not e.find(exp.Window):
                return lift(e)
            return e  # its children are split in turn

        outer: list[exp.Expression] = []
        for i, e in enumerate(items):
            name = exp.to_identifier(self.output_name(e, i), quoted=True)
            outer.append(exp.Alias(this=_unalias(e).transform(split), alias=name))
        if not inner:  # only windows of constants: one column for the groups' rows
            lone = exp.to_identifier(self.fresh("grouped"), quoted=True)
            inner.append(exp.Alias(this=exp.Literal.number(1), alias=lone))
        # the SELECT aliases GROUP BY names (the windows' inputs drop them again)
        group = node.args.get("group")
        named = {g.name for g in group.expressions if isinstance(g, exp.Column)} if group else set()
        aliases = {
            e.alias: e
            for e in items
            if isinstance(e, exp.Alias) and e.alias in named and not e.find(exp.Window)
        }
        agg, exprs = self.aggregate(node, rel, [*inner, *aliases.values()])
        schema = tuple((n, e.ctype) for n, e in exprs)
        grouped = _Relation(ir.Project(schema, agg, tuple(exprs)), {"": {n: n for n, _ in schema}})
        return self.windows(grouped, outer)

    def order_limit(
        self,
        node: exp.Expression,
        result: ir.Node,
        names: dict[str, str],
        by_sql: list[dict[str, str]],
    ) -> ir.Node:
        order = node.args.get("order")
        limit = node.args.get("limit")
        if order is None and limit is None:
            return result
        schema = result.schema
        keys: list[tuple[str, bool]] = []
        nulls_first: list[str] = []
        for ordered in order.expressions if order is not None else []:
            e = ordered.this
            name: str | None = None
            if isinstance(e, exp.Literal) and not e.is_string:
                pos = int(e.this)
                if not 1 <= pos <= len(schema):
                    raise _fail("bind", f"ORDER BY position {pos} is out of range", e)
                name = schema[pos - 1][0]
            elif isinstance(e, exp.Column) and not e.table and e.name in names:
                name = names[e.name]
            else:
                for mapping in by_sql:
                    name = mapping.get(e.sql()) or name
            if name is None:
                raise _fail(
                    "bind", "ORDER BY must name a column, alias or position of the SELECT list", e
                )
            keys.append((name, bool(ordered.args.get("desc"))))
            ctype = dict(schema)[name]
            if ordered.args.get("nulls_first") and (ctype.nullable or ctype.kind == "ratio"):
                nulls_first.append(name)
        n: int | None = None
        if limit is not None:
            if order is None:
                raise _fail(
                    "subset", "LIMIT needs ORDER BY (otherwise the rows kept are arbitrary)", limit
                )
            value = limit.expression
            if not (
                isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()
            ):
                raise _fail("subset", "LIMIT needs a non-negative integer literal", limit)
            n = int(value.this)
        return ir.OrderLimit(schema, result, tuple(keys), n, tuple(nulls_first))


_WindowSpec = tuple[tuple[str, ...], tuple[tuple[str, bool], ...], tuple[str, ...]]
"""The (PARTITION BY, ORDER BY, NULLS FIRST keys) of one :class:`ir.Window`."""
WINDOW_PLACE = (
    "window functions are allowed only in the SELECT list (and ORDER BY); to filter on one, "
    "select it in a derived table: SELECT * FROM (SELECT …, ROW_NUMBER() OVER (…) AS rn "
    "FROM t) AS d WHERE rn <= 3"
)
_RANKING: dict[type[exp.Expression], str] = {
    exp.RowNumber: "ROW_NUMBER",
    exp.Rank: "RANK",
    exp.DenseRank: "DENSE_RANK",
}


ORDER_SORT_WORDS = 31
"""The most key words of one oblivious sort (:data:`tyst.mpc.protocols.sort.MAX_WORDS` − 1):
an order statistic sorts on the GROUP BY key lanes and its value (with its null indicator)."""


def _order_width(keys: list[ir.ColumnRef], arg: ir.Expr, node: Any) -> None:
    words = max(1, sum(k.ctype.key_lanes for k in keys)) + arg.ctype.key_lanes
    if words > ORDER_SORT_WORDS:
        raise _fail(
            "subset",
            f"an order statistic here sorts on {words} words (the GROUP BY keys and the value); "
            f"at most {ORDER_SORT_WORDS}: group by fewer text columns",
            node,
        )


MAX_QUANTILE_DECIMALS = 6
"""The most decimals of a literal fraction q of PERCENTILE_DISC/CONT (q = a / 10^t)."""
MAX_DYADIC_SHIFT = 6
"""PERCENTILE_CONT of a decimal needs q = a / 2^j with j at most this (see _order_call)."""


def _order_statistic(e: exp.Expression) -> tuple[str, Decimal, exp.Expression]:
    """(PERCENTILE_DISC or PERCENTILE_CONT, q, the ordered expression) of ``MEDIAN(x)``,
    ``PERCENTILE_DISC|CONT(q) WITHIN GROUP (ORDER BY x)``, ``QUANTILE_DISC|CONT(x, q)`` and
    ``QUANTILE(x, q)`` (DuckDB: discrete); q a literal in [0, 1] with at most
    :data:`MAX_QUANTILE_DECIMALS` decimals."""
    if isinstance(e, exp.Median):
        return "PERCENTILE_CONT", Decimal("0.5"), e.this
    if isinstance(e, exp.WithinGroup):
        inner, order = e.this, e.expression
        if not isinstance(inner, exp.PercentileCont | exp.PercentileDisc):
            raise _fail(
                "subset", f"{type(inner).__name__.upper()} … WITHIN GROUP is not supported", e
            )
        keys = order.expressions if isinstance(order, exp.Order) else []
        if len(keys) != 1 or inner.expression is not None:
            raise _fail("subset", "WITHIN GROUP takes one ORDER BY expression and q", e)
        target, q_node = keys[0].this, inner.this
        if isinstance(target, exp.Literal):  # DuckDB refuses ORDER BY a constant here
            raise _fail("subset", "WITHIN GROUP (ORDER BY …) needs a value, not a literal", e)
    elif isinstance(e, exp.Quantile):
        inner, target, q_node = e, e.this, e.args.get("quantile")
    else:
        inner, target, q_node = e, e.this, e.expression
    func = "PERCENTILE_CONT" if isinstance(inner, exp.PercentileCont) else "PERCENTILE_DISC"
    if isinstance(target, exp.Distinct | exp.Star) or target is None:
        raise _fail("subset", "an order statistic takes one value (no DISTINCT, no *)", e)
    if not isinstance(q_node, exp.Literal) or q_node.is_string:
        raise _fail(
            "subset", "the fraction of a percentile must be one number literal in [0, 1]", e
        )
    q = Decimal(q_node.this)
    exponent = q.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    if not 0 <= q <= 1 or decimals > MAX_QUANTILE_DECIMALS:
        raise _fail(
            "subset",
            f"the fraction of a percentile must be in [0, 1] with at most "
            f"{MAX_QUANTILE_DECIMALS} decimals, not {q_node.this}",
            e,
        )
    return func, q, target


def _descending(e: exp.Expression) -> bool:
    """``… WITHIN GROUP (ORDER BY x DESC)``: CONT at q is CONT at 1 − q ascending (the same
    positions and weight); DISC is computed as the negated DISC of −x."""
    if not isinstance(e, exp.WithinGroup) or not isinstance(e.expression, exp.Order):
        return False
    return bool(e.expression.expressions[0].args.get("desc"))


def _order_call(
    func: str, q: Decimal, arg: ir.Expr, arg_name: str, name: str, node: Any
) -> ir.AggregateCall:
    """The aggregate call of an order statistic, typed as DuckDB types it (see
    :class:`ir.AggregateCall`): DISC of int/decimal/date: the argument's type, q = a / 10^t;
    CONT of int: DuckDB's DOUBLE as the exact decimal (q = a / 10^t, t ≥ 1 decimals); CONT
    of decimal(s): decimal(s), the exact value truncated toward zero, which is DuckDB's
    double arithmetic only when q = a / 2^j (exact in binary); else refused, as CONT of a
    date (DuckDB: a TIMESTAMP)."""
    ctype = arg.ctype
    shown = "MEDIAN" if func == "PERCENTILE_CONT" and q == Decimal("0.5") else func
    if ctype.kind not in ("int", "decimal", "date"):
        raise _type_error(node, f"{shown} needs an int, decimal or date value", arg)
    t = max(0, -int(q.normalize().as_tuple().exponent))
    if func == "PERCENTILE_DISC":
        return ir.AggregateCall(func, arg_name, False, name, ctype, (int(q * 10**t), 10**t))
    if ctype.kind == "date":
        raise _type_error(
            node,
            f"{shown} of a date is a TIMESTAMP in DuckDB, which tyst does not have; use "
            "PERCENTILE_DISC",
            arg,
        )
    if ctype.kind == "int":
        t = max(t, 1)
        result = ColumnType("decimal", t, nullable=ctype.nullable)
        return ir.AggregateCall(func, arg_name, False, name, result, (int(q * 10**t), 10**t))
    fraction = q.as_integer_ratio()
    j = fraction[1].bit_length() - 1
    if fraction[1] != 1 << j or j > MAX_DYADIC_SHIFT:
        raise _type_error(
            node,
            f"{shown}({q}) of a decimal: DuckDB interpolates in double precision and truncates "
            f"to the decimal's scale, which is exact only for q a multiple of 1/"
            f"{1 << MAX_DYADIC_SHIFT} (0.5, 0.25, 0.125, …); use PERCENTILE_DISC or such a q",
            arg,
        )
    return ir.AggregateCall(func, arg_name, False, name, ctype, fraction, j)


def _windowed(node: exp.Select, items: list[exp.Expression]) -> bool:
    """Whether the SELECT computes window functions; refuses named windows."""
    if node.args.get("windows"):
        raise _fail(
            "subset",
            "named windows (WINDOW w AS (…)) are not supported; write OVER (…) in full",
            node.args["windows"][0],
        )
    return any(e.find(exp.Window) for e in items)


def _aggregated(e: exp.Expression) -> bool:
    """Whether ``e`` holds an aggregate that is not itself a window function (``SUM(x)`` or
    the ``SUM(x)`` inside ``RANK() OVER (ORDER BY SUM(x))``, not ``SUM(x) OVER (…)``)."""
    return any(
        not isinstance(a.parent, exp.Window)
        for kind in _ALL_AGGREGATES
        for a in _found_outside_subqueries(e, kind)
    )


def _data_free(e: exp.Expression) -> bool:
    """``e`` reads no column and no aggregate (a literal, an interval, a type): kept as written
    where a grouped query's window is split from its GROUP BY."""
    return e.find(exp.Column, *_ALL_AGGREGATES) is None


def _window_frame(w: exp.Window, ordered: bool) -> str:
    """The frame of a window aggregate (see :data:`tyst.sql.ir.WINDOW_FRAMES`), or a refusal."""
    spec = w.args.get("spec")
    if spec is None:
        return "range" if ordered else "partition"
    kind = str(spec.args.get("kind") or "").upper()
    start = str(spec.args.get("start") or "").upper()
    side = str(spec.args.get("start_side") or "").upper()
    end = str(spec.args.get("end") or "CURRENT ROW").upper()
    end_side = str(spec.args.get("end_side") or "").upper()
    if (
        kind not in ("ROWS", "RANGE")
        or (start, side) != ("UNBOUNDED", "PRECEDING")
        or spec.args.get("exclude") is not None
        or (end, end_side) not in (("CURRENT ROW", ""), ("UNBOUNDED", "FOLLOWING"))
    ):
        raise _fail(
            "subset",
            "only the frames ROWS|RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (or AND "
            f"UNBOUNDED FOLLOWING) are supported, not {spec.sql(dialect='duckdb')}",
            spec,
        )
    if end == "UNBOUNDED" or (not ordered and kind == "RANGE"):
        return "partition"  # without ORDER BY every row of the partition is a peer
    if not ordered:
        raise _fail("subset", "a ROWS frame needs ORDER BY (otherwise the rows are arbitrary)", w)
    return "rows" if kind == "ROWS" else "range"


def _shift_default(default: ir.Expr, arg: ir.Expr, node: Any) -> ir.Expr:
    """LAG/LEAD's default, in the argument's type (a literal is converted; else equal types)."""
    default = _coerce_literal(default, arg.ctype, node)
    value = default.value if isinstance(default, ir.Literal) else None
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and arg.ctype.is_numeric:
        scaled = Decimal(value).scaleb(arg.ctype.scale)
        if scaled == scaled.to_integral_value():
            return ir.Literal(arg.ctype.base, Decimal(value) if arg.ctype.scale else int(value))
    if not default.ctype.same_values(arg.ctype):
        raise _type_error(node, "the default of LAG/LEAD needs the argument's type", arg, default)
    return default


def _window_call(
    w: exp.Window,
    column: Callable[[exp.Expression | ir.Expr], ir.ColumnRef],
    call: Callable[[_WindowSpec, ir.WindowCall], ir.ColumnRef],
    fresh: Callable[[str], str],
) -> ir.Expr:
    """One ``f(…) OVER (…)`` as a column of its :class:`ir.Window` (AVG: a ratio of two)."""
    if w.args.get("alias") is not None:
        raise _fail("subset", "named windows (OVER w) are not supported; write OVER (…)", w)
    f = w.this
    keys = [column(e) for e in w.args.get("partition_by") or []]
    if any(k.ctype.kind == "ratio" for k in keys):
        raise _type_error(w, "PARTITION BY an AVG is not supported (round it first)", *keys)
    partition = tuple(dict.fromkeys(k.name for k in keys))
    order: list[tuple[str, bool]] = []
    nulls_first: list[str] = []
    order_by = w.args.get("order")
    for o in order_by.expressions if order_by is not None else []:
        key = column(o.this)
        if any(name == key.name for name, _ in order):
            continue  # a repeated key orders nothing more
        if not (key.ctype.is_ordered or key.ctype.is_text):
            raise _type_error(o, "ORDER BY in OVER (…) needs a value that can be ordered", key)
        order.append((key.name, bool(o.args.get("desc"))))
        if o.args.get("nulls_first") and key.ctype.nullable:
            nulls_first.append(key.name)
    spec = (partition, tuple(order), tuple(nulls_first))
    name = type(f).__name__.upper()
    if type(f) in _RANKING:
        func = _RANKING[type(f)]
        if func == "ROW_NUMBER" and not order:
            raise _fail("subset", "ROW_NUMBER() needs ORDER BY in OVER (…) (else arbitrary)", w)
        return call(spec, ir.WindowCall(func, None, fresh(func.lower()), ir.INT))
    if isinstance(f, exp.Lag | exp.Lead):
        func = "LAG" if isinstance(f, exp.Lag) else "LEAD"
        if not order:
            raise _fail(
                "subset", f"{func} needs ORDER BY in OVER (…) (else the rows are arbitrary)", w
            )
        arg = column(f.this)
        offset_node = f.args.get("offset")
        offset = _whole_number(offset_node, f"the offset of {func}", 1, f) if offset_node else 1
        default: ir.ColumnRef | None = None
        given = f.args.get("default")
        if given is not None and not isinstance(given, exp.Null):
            if given.find(exp.Column, exp.Window):
                raise _fail("subset", f"the default of {func} must be a literal", given)
            literal = _bind_expr(given, lambda c: column(c))
            default = column(_shift_default(literal, arg, given))
        nullable = arg.ctype.nullable or default is None or default.ctype.nullable
        if arg.ctype.kind == "ratio" or (arg.ctype.derived and nullable):
            raise _type_error(
                f, f"{func} of AVG or of computed text (without a default) is not supported", arg
            )
        ctype = arg.ctype.with_nulls() if nullable else arg.ctype
        c = ir.WindowCall(
            func,
            arg.name,
            fresh(func.lower()),
            ctype,
            offset=offset,
            default=default.name if default else None,
        )
        return call(spec, c)
    if not isinstance(f, _AGGREGATES):
        raise _fail("subset", f"the window function {name} is not supported", w)
    frame = _window_frame(w, bool(order))
    if isinstance(f.this, exp.Distinct):
        raise _fail("subset", f"{name}(DISTINCT …) OVER (…) is not supported", w)
    if isinstance(f.this, exp.Star) or f.this is None:
        if not isinstance(f, exp.Count):
            raise _fail("subset", f"{name}(*) is not valid", w)
        return call(spec, ir.WindowCall("COUNT", None, fresh("count"), ir.INT, frame))
    arg = column(f.this)
    if arg.ctype.kind == "ratio":
        raise _type_error(f, f"{name}(AVG …) OVER (…) is not supported", arg)
    if isinstance(f, exp.Sum | exp.Avg) and not arg.ctype.is_numeric:
        raise _type_error(f, f"{name} needs an int or decimal argument", arg)
    if isinstance(f, exp.Min | exp.Max) and not arg.ctype.is_ordered:
        raise _type_error(f, f"{name} OVER (…) of an id/text value is not supported", arg)
    if isinstance(f, exp.Count):
        return call(spec, ir.WindowCall("COUNT", arg.name, fresh("count"), ir.INT, frame))
    func = "SUM" if isinstance(f, exp.Avg) else name
    value = call(spec, ir.WindowCall(func, arg.name, fresh(func.lower()), arg.ctype, frame))
    if not isinstance(f, exp.Avg):
        return value
    count = call(spec, ir.WindowCall("COUNT", arg.name, fresh("count"), ir.INT, frame))
    return ir.Ratio(ColumnType("ratio", arg.ctype.scale), value, count)


def _widened(node: ir.Node, types: list[ColumnType]) -> ir.Node:
    """``node`` with its columns made nullable where ``types`` say so (UNION of a nullable and
    a non-nullable column: the indicator of the latter is a public 0)."""
    if all(t == have for (_, have), t in zip(node.schema, types, strict=True)):
        return node
    outputs = tuple(
        (name, ir.ColumnRef(t, name)) for (name, _), t in zip(node.schema, types, strict=True)
    )
    return ir.Project(tuple((name, e.ctype) for name, e in outputs), node, outputs)


def _or_null(t: ColumnType, nulls: bool) -> ColumnType:
    """``t``, nullable if ``nulls`` (an AVG is NULL by its count of 0 and stays as it is)."""
    return _nullable(t) if nulls and t.kind != "ratio" else t


def _padded(node: ir.Node, schema: ir.Schema) -> ir.Node:
    """``node``'s columns at the types of ``schema``, the columns it lacks as NULLs (an AVG:
    a sum and a count of 0)."""
    have = dict(node.schema)
    zero = ir.Literal(ir.INT, 0)
    outputs = tuple(
        (
            n,
            ir.ColumnRef(t, n)
            if n in have
            else (ir.Ratio(t, zero, zero) if t.kind == "ratio" else ir.Literal(t, None)),
        )
        for n, t in schema
    )
    return ir.Project(schema, node, outputs)


def _no_null_keys(what: str, columns: Iterable[tuple[str, ColumnType]], node: Any) -> None:
    """Refuse ``what`` on nullable columns (SQL's NULL semantics there are not supported)."""
    for name, ctype in columns:
        if ctype.nullable:
            raise _fail(
                "subset",
                f"{what} on the nullable column {ir.display_name(name)!r} is not supported "
                "(a NULL makes it differ from NOT EXISTS; write NOT EXISTS)",
                node,
            )


def _found_outside_subqueries(e: exp.Expression, kind: type[exp.Expression]) -> list[Any]:
    """The nodes of type ``kind`` in ``e`` that are not inside a subquery."""
    found = []
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            found.append(n)
        stack.extend(
            c for c in n.iter_expressions() if not isinstance(c, exp.Subquery | exp.Select)
        )
    return found


def _outside_subqueries(e: exp.Expression, kinds: tuple[type[exp.Expression], ...]) -> bool:
    """Whether ``e`` has a node of one of ``kinds`` outside its subqueries (an aggregate of the
    query itself, not of a scalar subquery in it)."""
    return any(_found_outside_subqueries(e, k) for k in kinds)


def _disjuncts(e: exp.Expression) -> list[exp.Expression]:
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Or):
        return _disjuncts(e.this) + _disjuncts(e.expression)
    return [e]


def _factor_or(cond: exp.Expression) -> exp.Expression:
    """Every top-level ``OR`` conjunct of ``cond`` with the conjuncts common to all its
    disjuncts pulled out: ``(A AND X) OR (A AND Y)`` is ``A AND (X OR Y)`` (also in SQL's
    three-valued logic, which is distributive), and ``A OR (A AND X)`` is ``A``. Common means
    the same SQL text."""
    out: list[exp.Expression] = []
    for conj in _conjuncts(cond):
        branches = _disjuncts(conj)
        if len(branches) < 2:
            out.append(conj)
            continue
        parts = [_conjuncts(b) for b in branches]
        texts = [[c.sql() for c in p] for p in parts]
        common = [c for c in parts[0] if all(c.sql() in t for t in texts[1:])]
        if not common:
            out.append(conj)
            continue
        shared = {c.sql() for c in common}
        rests = [[c for c in p if c.sql() not in shared] for p in parts]
        out += common
        if all(rests):
            ors = [exp.Paren(this=_fold(exp.And, r)) if len(r) > 1 else r[0] for r in rests]
            out.append(exp.Paren(this=_fold(exp.Or, ors)))
    return _fold(exp.And, out)


def _fold(kind: type[exp.And | exp.Or], items: list[exp.Expression]) -> exp.Expression:
    """``items[0] kind items[1] kind …`` as a left-deep sqlglot tree."""
    result = items[0]
    for item in items[1:]:
        result = kind(this=result, expression=item)
    return result


def _with_columns(node: ir.Node, extra: list[tuple[str, ir.Expr]]) -> ir.Node:
    """``node`` with computed columns appended (a join's expression keys)."""
    if not extra:
        return node
    kept = [(n, ir.ColumnRef(t, n)) for n, t in node.schema]
    schema = node.schema + tuple((n, e.ctype) for n, e in extra)
    return ir.Project(schema, node, tuple(kept) + tuple(extra))


def _item_of(e: exp.Expression, groups: list[_Relation]) -> int | None:
    """The one FROM item all columns of ``e`` belong to (None: none, several or unknown)."""
    found = {_group_of(c, groups) for c in e.find_all(exp.Column)}
    return found.pop() if len(found) == 1 and None not in found else None


def _group_of(col: exp.Column, groups: list[_Relation]) -> int | None:
    """The FROM item a column belongs to (None: unknown or ambiguous there)."""
    if col.table:
        hits = [i for i, g in enumerate(groups) if col.table in g.columns]
    else:
        hits = [
            i for i, g in enumerate(groups) if any(col.name in cols for cols in g.columns.values())
        ]
    return hits[0] if len(hits) == 1 else None


def _alias_columns(node: exp.Expression) -> list[str]:
    """The column alias list of ``AS name (c1, c2, …)`` on a table, derived table or CTE."""
    alias = node.args.get("alias")
    if not isinstance(alias, exp.TableAlias):
        return []
    return [c.name for c in alias.columns]


def _rename_list(names: list[str], renames: list[str], node: Any) -> list[str]:
    """``names`` with the first ``len(renames)`` replaced, as SQL's column alias list does.

    More aliases than columns, or a rename that makes two visible names equal, is
    refused (DuckDB would invent ``x_1`` names for the latter).
    """
    if len(renames) > len(names):
        raise _fail(
            "bind",
            f"the column alias list names {len(renames)} columns but the table has {len(names)}",
            node,
        )
    out = renames + names[len(renames) :]
    seen = {n.lower() for n in out}
    if len(seen) != len(out):
        raise _fail("bind", f"the column alias list gives two columns the same name: {out}", node)
    return out


def _renamed(inner: ir.Node, renames: list[str], node: Any) -> ir.Node:
    """``inner`` with its output columns renamed by a column alias list (if any)."""
    if not renames:
        return inner
    names = [n for n, _ in inner.schema]
    visible = _rename_list([ir.display_name(n) for n in names], renames, node)
    outputs = tuple(
        (new, ir.ColumnRef(t, old)) for new, (old, t) in zip(visible, inner.schema, strict=True)
    )
    schema = tuple((new, t) for new, (_, t) in zip(visible, inner.schema, strict=True))
    return ir.Project(schema, inner, outputs)


def _unique_names(items: list[tuple[str, ir.Expr]]) -> list[tuple[str, ir.Expr]]:
    """Internal output names made unique: a repeated ``x`` becomes ``x#2``, ``x#3``…

    The recipient shows :func:`tyst.sql.ir.display_name`, i.e. ``x`` each time,
    as DuckDB does.
    """
    count: dict[str, int] = {}
    out = []
    for name, e in items:
        count[name] = count.get(name, 0) + 1
        out.append((name if count[name] == 1 else f"{name}#{count[name]}", e))
    return out


def _unalias(e: exp.Expression) -> exp.Expression:
    inner: exp.Expression = e.unalias()  # type: ignore[assignment]
    return inner


def _conjuncts(e: exp.Expression) -> list[exp.Expression]:
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.And):
        return _conjuncts(e.this) + _conjuncts(e.expression)
    return [e]


def _refs(e: ir.Expr) -> set[str]:
    if isinstance(e, ir.ColumnRef):
        return {e.name}
    out: set[str] = set()
    for value in vars(e).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, ir.Expr):
                out |= _refs(item)
            elif isinstance(item, tuple):
                for sub in item:
                    if isinstance(sub, ir.Expr):
                        out |= _refs(sub)
    return out


def with_found(plan: ir.Node, found: Found) -> ir.Node:
    """``plan`` with the public bounds the ``ranges`` pass found written in: of calendar
    functions and divisions (:func:`_with_bounds`) and of ``ORDER BY`` an AVG."""

    def order(old: ir.Node, new: ir.Node) -> ir.Node:
        fractions = found.orders.get(id(old))
        if fractions is None or not isinstance(new, ir.OrderLimit):
            return new
        return replace(new, fractions=fractions)

    return ir.map_expressions(plan, lambda e: _with_bounds(e, found.bounds), order)


def _with_bounds(e: ir.Expr, found: Bounds) -> ir.Expr:
    """``e`` with the public bounds the ``ranges`` pass found for it written in (looked up
    without the bounds already written into its sub-expressions)."""
    if not isinstance(e, ir.Calendar | ir.MonthShift | ir.Divide):
        return e
    fact = found.get(ir.without_bounds(e))
    if isinstance(e, ir.Calendar | ir.MonthShift) and isinstance(fact, Interval):
        return replace(e, low=fact.lo, high=fact.hi)
    if isinstance(e, ir.Divide) and isinstance(fact, tuple):
        a, b = fact
        return replace(e, left_range=(a.lo, a.hi), right_range=(b.lo, b.hi))
    return e


def compile_sql(
    sql: str,
    tables: TableSchemas,
    *,
    min_group_size: int = 0,
    bounds: Mapping[str, TableBounds] | None = None,
) -> ir.CompiledQuery:
    """Run all passes; raise :class:`SqlError` (one line, with pass and position) on rejection.

    ``bounds``: the plan's declared row and value bounds per table; a table
    without an entry gets the defaults (:class:`~tyst.sql.ranges.TableBounds`).
    """
    tree = parse(sql)
    check_subset(tree)
    compiler = _Compiler(tables, min_group_size, tree)
    plan = compiler.query(tree, {})
    found = check_ranges(plan, bounds or {})
    check_charsets(plan, bounds or {})
    check_quotients(plan)
    if found.bounds or found.orders:  # the public bounds the plan is computed within
        plan = with_found(plan, found)
    return ir.CompiledQuery(plan, sql, tuple(compiler.used_tables))
