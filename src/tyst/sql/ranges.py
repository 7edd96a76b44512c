"""Pass ``ranges``: prove, before any data moves, that no value of the plan can leave the ring.

Every numeric value is computed in Z_2^64 and compared through the sign of a
difference, so each value a query computes for a *valid* row must stay within
±(2^62 − 1) (:data:`LIMIT`); otherwise it would wrap around silently. This pass
derives an interval for every expression of the logical plan from public facts
only, and refuses the plan with one line naming the expression when an
interval does not fit. Invalid rows (filtered out, padding) may hold any words:
the operators never let them influence a result, so they need no bound.

Facts (:class:`tyst.data.types.TableBounds`, per input table, declared in the signed plan):

- ``rows``: at most this many rows (``[tables.T] max_rows``; default
  :data:`tyst.data.types.DEFAULT_MAX_ROWS`). Owners' clients refuse larger files.
- ``values``: per numeric column, inclusive bounds in the column's own units
  (``[tables.T] ranges = { belopp = [0, 100000] }``); default: ±(10^15 − 1) in
  the column's smallest unit for ``int``/``decimal``
  (:data:`tyst.data.types.DEFAULT_VALUE_BOUND`), years 0001–9999 for ``date``,
  0/1 for ``bool``. Owners' clients refuse values outside them.

Rules (intervals in the expression's scaled units, i.e. v · 10^scale):

| expression | interval |
|---|---|
| column | declared (or type) bounds |
| literal | the value itself |
| ``a + b``, ``a − b`` | after aligning both to the larger scale (aligned operands checked) |
| ``a · b`` | the product of the intervals (scales add) |
| comparison, ``IN`` | operands aligned to the common scale and checked; result 0/1 |
| ``CASE`` | the hull of the branches, each aligned to the result's scale |
| ``COUNT`` | [0, rows of its input] |
| ``SUM`` (and AVG's sum) | [min(0, rows·lo), max(0, rows·hi)] |
| ``MIN``, ``MAX`` | the argument's interval |
| ``PERCENTILE_DISC``, ``MEDIAN``, ``PERCENTILE_CONT`` | the argument's (CONT of an int: × 10^t) |
| ``ROW_NUMBER``, ``RANK``, ``DENSE_RANK``, ``COUNT(*) OVER`` | [1, rows of its input] |
| ``COUNT(x) OVER`` / ``SUM(x) OVER`` | [0, rows] / as a grouped ``SUM`` (a frame holds 1 … rows) |
| ``MIN``/``MAX``/``LAG``/``LEAD`` ``OVER`` | the argument's interval (hulled with the default's) |
| ``x IS [NOT] NULL`` | [0, 1] |
| ``EXTRACT``, ``DATE_TRUNC``, ``LAST_DAY``, month/quarter numbers | the values at the ends |
| ``d ± INTERVAL 'n' MONTH`` | [add_months(lo, n), add_months(hi, n)] within years 1–9999 |
| ``LENGTH`` | [0, 64] (characters of at most 64 bytes) |
| ``SUBSTRING``, ``LOWER``, ``UPPER``, ``||`` | none: text (``||`` is bounded by the compiler) |

Order statistics at q = a/b also need their rank tests b·(rows + 1) and their interpolation
b·(|x| + the argument's width) to fit, and a CONT of a decimal (b = 2^j) |x|·2^(j+1) < 2^53
and rows·2^j < 2^53 (where DuckDB's double arithmetic is exact), a MEDIAN of ints |x| < 2^51.

NULLs: intervals are those of the values that are not NULL; where a nullable operand
enters a computation (arithmetic, comparison, ``IN``, ``CASE``, aggregates) its interval
is hulled with 0, the value lanes of a NULL (so the rows where it is NULL are covered too,
their results being masked afterwards). A calendar function (or month shift) replaces a
NULL date by the lowest date of its range before computing, so NULLs widen nothing there.
``COALESCE`` and ``NULLIF`` are compiled to ``CASE`` (the hull of their arguments); the
literal ``NULL`` has no value (as an operand: [0, 0]), so the NULL padding of an outer join
widens nothing.

The calendar functions and month shifts (:data:`tyst.sql.ir.Stepped`) also need at most
:data:`MAX_CALENDAR_STEPS` public boundaries within their argument's interval.

Divisions (``a / b``, ``a // b``, ``a % b``) need a divisor whose interval excludes 0 (or
``NULLIF(x, 0)``, whose non-NULL values are x's without 0), else the plan is refused; the
quotient is bounded by its rounded (truncated) corner values, a remainder by the divisor's
magnitude; a comparison with a quotient is cross-multiplied and both products checked.
``a / b`` at s decimals needs its dividend 2·|a|·10^e + |b| (e = s + scale(b) − scale(a)) to
fit, or else (long division, :meth:`tyst.sql.ir.Divide.long_digits`) |a|·10^(e − t) and
10·|b| and the quotient: the last t decimals come one at a time.
In a grouped aggregate every group has at least one row, so there ``COUNT(*)`` (and
``COUNT(col)`` of a column that is never NULL) is at least 1 and ``SUM`` of an argument
with a positive (negative) lower (upper) bound keeps that sign.

Row bounds through the plan: filters, projections, semi-joins, windows, broadcasts (a
scalar subquery's one row, whose columns keep their intervals), ``DISTINCT`` and
grouped aggregates keep their input's bound (a ``GROUP BY`` of numbers, dates or bools
has at most as many groups as their intervals hold key tuples); a global aggregate has 1 row;
``UNION ALL`` adds up; ``ORDER BY … LIMIT m`` has min(m, n); a join has at most
k · max(n_left, n_right) rows, k being the larger ``max_rows_per_key`` of its two
sides (1 without; a ``UNION ALL`` of bounded branches adds their k), since every join
is a PK–FK join, expanded k times by a bounded side (:mod:`tyst.planner.planning`).

Errors: :class:`~tyst.sql.errors.SqlError` with pass name ``ranges``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from tyst.data.calendar import (
    add_months,
    boundary_count,
    shift_boundary_count,
    value_of,
    weekday_base,
)
from tyst.data.types import (
    COMPARISON_LIMIT,
    DEFAULT_VALUE_BOUND,
    TEXT_MAX_BYTES,
    ColumnType,
    TableBounds,
)
from tyst.sql import ir
from tyst.sql.errors import SqlError
from tyst.sql.explain import render_expr

LIMIT = COMPARISON_LIMIT - 1
"""The largest magnitude any value of a valid row may have (2^62 − 1)."""

_EPOCH = date(1970, 1, 1)
_DATE_RANGE = ((date(1, 1, 1) - _EPOCH).days, (date(9999, 12, 31) - _EPOCH).days)


@dataclass(frozen=True)
class Interval:
    """Inclusive integer bounds ``lo ≤ v ≤ hi`` in scaled units."""

    lo: int
    hi: int

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: Interval) -> Interval:
        return Interval(self.lo - other.hi, self.hi - other.lo)

    def __mul__(self, other: Interval) -> Interval:
        products = [a * b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Interval(min(products), max(products))

    def times(self, k: int) -> Interval:
        """Every value multiplied by the non-negative public ``k``."""
        return Interval(self.lo * k, self.hi * k)

    def hull(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    @property
    def magnitude(self) -> int:
        return max(abs(self.lo), abs(self.hi))


BOOL_RANGE = Interval(0, 1)


def _capped(total: Interval, arg: Interval, known: int | None) -> Interval:
    """A sum of values ≥ 0 over some of a column's rows is at most the column's total."""
    if known is None or arg.lo < 0:
        return total
    return Interval(total.lo, max(total.lo, min(total.hi, known)))


def _project_totals(node: ir.Project, cols: Columns, child: _Facts) -> dict[str, int]:
    """Totals through a projection: a column passed on keeps its total; a product x · y of
    values ≥ 0 sums to at most max(x) · total(y) (or max(y) · total(x))."""
    found: dict[str, int] = {}
    for name, e in node.outputs:
        if isinstance(e, ir.ColumnRef) and e.name in child.totals:
            found[name] = child.totals[e.name]
        elif isinstance(e, ir.Arith) and e.op == "*" and (cols.get(name) or _NEG).lo >= 0:
            options = []
            for x, y in ((e.left, e.right), (e.right, e.left)):
                top = child.columns.get(x.name) if isinstance(x, ir.ColumnRef) else None
                known = child.totals.get(y.name) if isinstance(y, ir.ColumnRef) else None
                if top is not None and known is not None and top.lo >= 0:  # scaled units add
                    options.append(top.hi * known)
            if options:
                found[name] = min(options)
    return found


_NEG = Interval(-1, -1)


def _groups(node: ir.Aggregate, child: _Facts) -> int:
    """The most groups of a ``GROUP BY``: its input's rows, and (when every key is a number,
    date or bool with an interval) no more than the key tuples those intervals hold (one
    more value per nullable key: its NULL group)."""
    tuples = 1
    types = dict(node.input.schema)
    for key in dict.fromkeys(node.keys):
        interval = child.columns.get(key)
        if interval is None or types[key].is_text:
            return child.rows
        tuples *= interval.hi - interval.lo + 1 + (1 if types[key].nullable else 0)
        if tuples >= child.rows:
            return child.rows
    return min(child.rows, tuples)


def type_range(ctype: ColumnType) -> Interval | None:
    """The interval every undeclared value of ``ctype`` lies in (None: not numeric)."""
    if ctype.is_numeric:
        return Interval(-DEFAULT_VALUE_BOUND, DEFAULT_VALUE_BOUND)
    if ctype.kind == "date":
        return Interval(*_DATE_RANGE)
    if ctype.kind == "bool":
        return BOOL_RANGE
    return None


Columns = dict[str, Interval | None]


@dataclass(frozen=True)
class _Facts:
    rows: int
    columns: Columns
    per_key: int | None
    """The declared per-key bound a join could expand this side by, as
    :func:`tyst.planner.planning` finds it (None: no bound; the side is not expanded)."""
    totals: dict[str, int] = field(default_factory=dict)
    """Per column whose values are all ≥ 0: a bound on its sum over all valid rows (the
    grouped sums of a column add up to at most that column's total; see :func:`_capped`)."""


MAX_CALENDAR_STEPS = 600
"""The most calendar boundaries (years, quarters, months, weeks, or the days a month shift
steps at) a date may span for ``EXTRACT``, ``DATE_TRUNC``, ``DATE_DIFF`` or ``d ± INTERVAL 'n'
MONTH``: each costs one comparison per row."""


Bounds = dict[ir.Expr, Interval | tuple[Interval, Interval]]
"""Per calendar function the interval of its date, per division the intervals of its two
operands (each the hull over the places it occurs), keyed by the expression as the compiler
first wrote it (:func:`tyst.sql.ir.without_bounds`)."""

MAX_AVERAGED_ROWS = 1 << 30
"""The most rows an ``AVG`` used as an ``ORDER BY`` key may average: its exact order takes
⌈log2 n²⌉ fraction bits, which must fit a word."""


@dataclass(frozen=True)
class Found:
    """What the pass learns that the plan needs (the compiler writes it in)."""

    bounds: Bounds
    orders: dict[int, tuple[tuple[str, int, int, bool], ...]]
    """Per ``ORDER BY`` node (by ``id``, of the tree the pass was given) that sorts by an
    ``AVG``: (column, the largest |AVG| in the sum's scaled units, the largest count, whether
    the count can be 0: the AVG NULL)."""


def _unbounded(e: ir.Stepped) -> ir.Stepped:
    """``e`` as the compiler first wrote it (no bounds filled in): the key under which the
    pass records what it learns, so that a plan whose bounds are already written (re-checked
    after the planner re-orders its joins) gets its bounds anew."""
    key = ir.without_bounds(e)
    assert isinstance(key, ir.Calendar | ir.MonthShift)
    return key


def check_ranges(root: ir.Node, bounds: Mapping[str, TableBounds]) -> Found:
    """Raise ``SqlError(..., [ranges])`` if some value of a valid row could exceed :data:`LIMIT`
    (or a divisor could be 0).

    Returns what the compiler writes into the plan (:data:`Found`)."""
    ranges = _Ranges(bounds)
    ranges.node(root)
    found: Bounds = {}
    for calendar, day in ranges.calendars.items():
        found[calendar] = day
    for division, operands in ranges.divisions.items():
        found[division] = operands
    return Found(found, ranges.orders)


class _Ranges:
    def __init__(self, bounds: Mapping[str, TableBounds]) -> None:
        self.bounds = bounds
        self.calendars: dict[ir.Stepped, Interval] = {}
        self.divisions: dict[ir.Divide, tuple[Interval, Interval]] = {}
        self.texts: dict[str, str] = {}
        """Computed columns' expressions as text, for messages about aggregates over them."""
        self.summed: dict[str, Interval] = {}
        """Per ``SUM`` column, the interval of what it sums (an AVG's value lies in it)."""
        self.averages: dict[str, tuple[int, Interval]] = {}
        """Per ``AVG`` output column: its largest magnitude (scaled) and its count's interval."""
        self.orders: dict[int, tuple[tuple[str, int, int, bool], ...]] = {}

    def node(self, node: ir.Node) -> _Facts:
        if isinstance(node, ir.Scan):
            return self.scan(node)
        children = [self.node(c) for c in node.children()]
        if isinstance(node, ir.Filter):
            (child,) = children
            self.expr(node.predicate, child.columns)
            return child
        if isinstance(node, ir.Project):
            (child,) = children
            cols = {name: self.expr(e, child.columns) for name, e in node.outputs}
            for name, e in node.outputs:
                if not isinstance(e, ir.ColumnRef):
                    self.texts.setdefault(name, render_expr(e))
                if isinstance(e, ir.Ratio):
                    self.average(name, e, child.columns)
            totals = _project_totals(node, cols, child)
            return _Facts(child.rows, cols, child.per_key, totals)
        if isinstance(node, ir.Join):
            left, right = children
            expand = max(left.per_key or 1, right.per_key or 1)  # the planner's k, at most
            rows = expand * max(left.rows, right.rows)
            right_columns = right.columns
            if node.kind == "left":  # 0 in every lane where no right row matched
                right_columns = {n: _hull(i, Interval(0, 0)) for n, i in right.columns.items()}
            return _Facts(rows, {**left.columns, **right_columns}, None)
        if isinstance(node, ir.Broadcast):  # the input's rows, each with the one row's values
            outer, scalar = children
            columns = {**outer.columns, **scalar.columns}
            return _Facts(outer.rows, columns, outer.per_key, outer.totals)
        if isinstance(node, ir.SemiJoin | ir.Distinct):  # subsets: totals hold
            first = children[0]
            return _Facts(first.rows, first.columns, first.per_key, first.totals)
        if isinstance(node, ir.OrderLimit):
            (child,) = children
            self.order_by_averages(node, child)
            rows = child.rows if node.limit is None else min(node.limit, child.rows)
            return _Facts(rows, child.columns, child.per_key, child.totals)
        if isinstance(node, ir.UnionAll):
            merged: Columns = {}
            for i, (name, _) in enumerate(node.schema):
                merged[name] = _hull_all(
                    [
                        facts.columns.get(branch.schema[i][0])
                        for facts, branch in zip(children, node.inputs, strict=True)
                    ]
                )
            rows = sum(c.rows for c in children)
            bounds = [c.per_key for c in children]  # a key may be in every branch
            per_key = None if None in bounds else sum(b for b in bounds if b is not None)
            totals = {}
            for i, (name, _) in enumerate(node.schema):
                parts = [
                    f.totals.get(b.schema[i][0]) for f, b in zip(children, node.inputs, strict=True)
                ]
                if None not in parts:
                    totals[name] = sum(t for t in parts if t is not None)
            return _Facts(rows, merged, per_key, totals)
        if isinstance(node, ir.Aggregate):
            return self.aggregate(node, children[0])
        if isinstance(node, ir.Window):
            return self.window(node, children[0])
        if isinstance(node, ir.BoundedAggregate):  # COUNT ≤ n; SUM of clamped values
            n, cols = children[0].rows, {}
            if node.key is not None:
                cols[node.key] = children[0].columns[node.key]
            clamps = {arg: (lo, hi) for arg, lo, hi in node.clamps}
            for call in node.calls:
                lo, hi = clamps.get(call.arg or "", (0, 1))
                total = Interval(n * min(0, lo), n * max(0, hi))
                self.fits(total, f"{call.func}({call.arg or '*'})", call.ctype, n_rows=n)
                cols[call.name] = total
            return _Facts(max(1, len(node.key_values)), cols, None)
        raise TypeError(f"no range rule for {type(node).__name__}")

    def scan(self, node: ir.Scan) -> _Facts:
        decl = self.bounds.get(node.table, TableBounds())
        cols: Columns = {}
        for name, ctype in node.schema:
            column = name.split(".", 1)[1]
            if ctype.is_numeric or (ctype.kind == "date" and column in decl.values):
                cols[name] = Interval(*decl.scaled(column, ctype))
            else:
                cols[name] = type_range(ctype)

        return _Facts(decl.rows, cols, decl.max_rows_per_key)

    def aggregate(self, node: ir.Aggregate, child: _Facts) -> _Facts:
        n = child.rows
        cols: Columns = {k: child.columns[k] for k in node.keys}
        totals: dict[str, int] = {}
        grouped = bool(node.keys)  # every group has at least one row
        types = dict(node.input.schema)
        for call in node.calls:
            shown = "*" if call.arg is None else self.texts.get(call.arg, call.arg)
            distinct = "DISTINCT " if call.distinct else ""
            self.texts.setdefault(call.name, f"{call.func}({distinct}{ir.display_name(shown)})")
            if call.func == "COUNT":  # COUNT(col) of a nullable col: 0 where all are NULL
                counted = call.arg is None or not types[call.arg].nullable
                low = 1 if grouped and counted else 0  # no input row: no group (vacuous)
                cols[call.name] = Interval(low, max(n, low))
                totals[call.name] = n
                continue
            if call.arg is None or child.columns[call.arg] is None:
                cols[call.name] = None
                continue
            arg = child.columns[call.arg]
            assert arg is not None
            if call.func == "SUM":
                known = self.summed.get(call.name)
                self.summed[call.name] = arg if known is None else arg.hull(known)
                total = Interval(min(0, n * arg.lo), max(0, n * arg.hi))
                if grouped or call.ctype.nullable:  # 1 … n rows (none: NULL)
                    total = Interval(min(arg.lo, n * arg.lo), max(arg.hi, n * arg.hi))
                total = _capped(total, arg, child.totals.get(call.arg))
                what = f"SUM({self.texts.get(call.arg, ir.display_name(call.arg))})"
                self.fits(total, what, call.ctype, n_rows=n, arg=arg)
                cols[call.name] = total
                if grouped and arg.lo >= 0:  # the groups' sums add up to the input's
                    totals[call.name] = child.totals.get(call.arg, n * arg.hi)
            elif call.q is not None:
                cols[call.name] = self.order_statistic(call, arg, n)
            else:  # MIN, MAX
                cols[call.name] = arg
        return _Facts(_groups(node, child) if node.keys else 1, cols, child.per_key, totals)

    def order_statistic(self, call: ir.AggregateCall, arg: Interval, n: int) -> Interval:
        """PERCENTILE_DISC/CONT at q = a/b: the result lies within the argument's interval
        (CONT without a shift: times b, its scaled units); the rank tests a·m − b·i and the
        interpolation b·x + w·(x' − x) (0 ≤ w < b) must fit, and a CONT of a decimal must be
        exact in DuckDB's double arithmetic: 2^(j+1)·|x| < 2^53 and 2^j·rows < 2^53."""
        assert call.q is not None
        num, den = call.q
        what = self.texts.get(call.name, call.func)
        value = arg.hull(Interval(0, 0))
        reach = Interval(-(den * (n + 1)), max(num, 1) * (n + 1))
        self.fits(reach, f"the rank test of {what}", ir.INT)
        if call.func == "PERCENTILE_DISC":
            return arg
        self.fits(value.times(den) + (value - value).times(den), what, call.ctype)
        if not call.shift and den > 1 and (2 * num) % den == 0 and value.magnitude << 2 >= 1 << 53:
            raise SqlError(  # an int MEDIAN may be compared: DuckDB's DOUBLE must be exact
                "ranges",
                f"{what}: DuckDB's DOUBLE result is exact only for |values| < 2^51; declare "
                "tighter bounds in the plan: [tables.T] ranges = { column = [low, high] }",
                None,
                None,
            )
        if call.shift:
            exact = 1 << 53
            if value.magnitude << (call.shift + 1) >= exact or n << call.shift >= exact:
                raise SqlError(
                    "ranges",
                    f"{what}: DuckDB interpolates decimals in double precision, exact only for "
                    f"|values| < 2^{52 - call.shift} in the smallest unit and fewer than "
                    f"2^{53 - call.shift} rows; declare tighter bounds in the plan: "
                    "[tables.T] ranges = { column = [low, high] } and/or max_rows",
                    None,
                    None,
                )
            return arg
        return arg.times(den)

    def average(self, name: str, e: ir.Ratio, cols: Columns) -> None:
        """Record an AVG column's bounds: |AVG| is at most the largest |value| it averages
        (else the largest |SUM|: a count is at least 1 where the AVG is not NULL)."""
        total, count = self.expr(e.numerator, cols), self.expr(e.denominator, cols)
        assert total is not None
        assert count is not None
        summed = (
            self.summed.get(e.numerator.name) if isinstance(e.numerator, ir.ColumnRef) else None
        )
        top = (summed or total).magnitude
        known = self.averages.get(name)
        if known is not None:
            top, count = max(top, known[0]), count.hull(known[1])
        self.averages[name] = (top, count)

    def order_by_averages(self, node: ir.OrderLimit, child: _Facts) -> None:
        """An ``ORDER BY`` an AVG sorts by the exact fraction SUM / COUNT: its bounds are
        recorded; an AVG of more than
        :data:`MAX_AVERAGED_ROWS` rows, is refused; one that can be NULL (its count 0) is
        marked."""
        types = dict(node.input.schema)
        found: list[tuple[str, int, int, bool]] = []
        for name, _ in node.keys:
            if types[name].kind != "ratio":
                continue
            known = self.averages.get(name)
            if known is None:
                raise SqlError("types", f"ORDER BY {name}: this AVG cannot be a key", None, None)
            top, count = known
            if count.hi > MAX_AVERAGED_ROWS:
                raise SqlError(
                    "ranges",
                    f"ORDER BY {self.texts.get(name, name)} averages up to {count.hi} rows (at"
                    f" most {MAX_AVERAGED_ROWS}); declare max_rows or use ROUND(AVG(x), s)",
                    None,
                    None,
                )
            found.append((name, top, max(1, count.hi), count.lo < 1))
        if found:
            self.orders[id(node)] = tuple(found)

    def window(self, node: ir.Window, child: _Facts) -> _Facts:
        """Window calls: a frame holds 1 … n rows (the current row is in it), so ROW_NUMBER,
        RANK, DENSE_RANK and COUNT(*) are in [1, n], COUNT(x) in [0, n], SUM as a grouped
        SUM, MIN/MAX/LAG/LEAD their argument's (and default's) interval."""
        n = child.rows
        cols: Columns = dict(child.columns)
        for call in node.calls:
            shown = "" if call.arg is None else self.texts.get(call.arg, call.arg)
            self.texts.setdefault(call.name, f"{call.func}({ir.display_name(shown)}) OVER (…)")
            arg = child.columns.get(call.arg) if call.arg is not None else None
            if call.func in ("ROW_NUMBER", "RANK", "DENSE_RANK") or (
                call.func == "COUNT" and call.arg is None
            ):
                cols[call.name] = Interval(1, max(n, 1))
            elif call.func == "COUNT":  # of a column that is never NULL: the frame's rows
                never_null = not dict(node.input.schema)[call.arg or ""].nullable
                cols[call.name] = Interval(1 if never_null else 0, max(n, 1))
            elif arg is None:
                cols[call.name] = None
            elif call.func == "SUM":
                total = Interval(min(arg.lo, n * arg.lo), max(arg.hi, n * arg.hi))
                total = _capped(total, arg, child.totals.get(call.arg or ""))
                what = f"SUM({self.texts.get(call.arg or '', ir.display_name(call.arg or ''))})"
                self.fits(total, what + " OVER (…)", call.ctype, n_rows=n, arg=arg)
                cols[call.name] = total
            elif call.func in ("LAG", "LEAD") and call.default is not None:
                cols[call.name] = _hull(arg, child.columns.get(call.default))
            else:  # MIN, MAX, LAG, LEAD
                cols[call.name] = arg
        return _Facts(n, cols, child.per_key, child.totals)

    # -- expressions

    def operand(self, e: ir.Expr, cols: Columns) -> Interval | None:
        """``e``'s interval as an operand: with 0, a NULL's value lanes, when nullable."""
        value = self.expr(e, cols)
        if e.ctype.nullable and type_range(e.ctype) is not None:
            return Interval(0, 0) if value is None else value.hull(Interval(0, 0))
        return value

    def expr(self, e: ir.Expr, cols: Columns) -> Interval | None:
        """The interval of ``e``'s non-NULL values over rows with column intervals ``cols``
        (None: not numeric)."""
        if isinstance(e, ir.IsNull):
            self.expr(e.arg, cols)
            return BOOL_RANGE
        if isinstance(e, ir.ColumnRef):
            return cols.get(e.name)
        if isinstance(e, ir.Literal):
            constant = _literal(e)
            if constant is not None:
                self.fits(constant, f"the literal {render_expr(e)}", e.ctype)
            return constant
        if isinstance(e, ir.Arith):
            return self.arith(e, cols)
        if isinstance(e, ir.Compare) and (_quotient(e.left) or _quotient(e.right)):
            self.compare_quotients(e, cols)
            return BOOL_RANGE
        if isinstance(e, ir.Compare):
            if not e.left.ctype.is_text:
                scale = max(e.left.ctype.scale, e.right.ctype.scale)
                self.aligned(e.left, scale, cols)
                self.aligned(e.right, scale, cols)
            return BOOL_RANGE
        if isinstance(e, ir.Logic):
            for a in e.args:
                self.expr(a, cols)
            return BOOL_RANGE
        if isinstance(e, ir.Not | ir.Like):
            self.expr(e.arg, cols)
            return BOOL_RANGE
        if isinstance(e, ir.InList) and _quotient(e.arg):
            for v in e.values:
                self.compare_quotients(ir.Compare(ir.BOOL, "=", e.arg, v), cols)
            return BOOL_RANGE
        if isinstance(e, ir.InList):
            if not e.arg.ctype.is_text:
                scale = max([e.arg.ctype.scale, *(v.ctype.scale for v in e.values)])
                for x in (e.arg, *e.values):
                    self.aligned(x, scale, cols)
            return BOOL_RANGE
        if isinstance(e, ir.Case):
            result: Interval | None = None
            for cond, value in e.whens:
                self.expr(cond, cols)
                part = self.aligned(value, e.ctype.scale, cols)
                result = part if result is None else _hull(result, part)
            part = self.aligned(e.default, e.ctype.scale, cols)
            return part if result is None else _hull(result, part)
        if isinstance(e, ir.Calendar):
            return self.calendar(e, cols)
        if isinstance(e, ir.MonthShift):
            return self.month_shift(e, cols)
        if isinstance(e, ir.Substring | ir.CaseMap | ir.Concat):  # text: no interval
            for a in e.children():
                self.expr(a, cols)
            return None
        if isinstance(e, ir.Rescaled):  # the same word, read at another scale
            return self.expr(e.arg, cols)
        if isinstance(e, ir.TextLength):  # characters of at most 64 bytes
            self.expr(e.arg, cols)
            return Interval(0, TEXT_MAX_BYTES)
        if isinstance(e, ir.Divide):
            return self.divide(e, cols)
        if isinstance(e, ir.Ratio):
            self.expr(e.numerator, cols)
            self.expr(e.denominator, cols)
            return None
        raise TypeError(f"no range rule for {type(e).__name__}")

    def stepped_day(self, e: ir.Stepped, cols: Columns) -> Interval:
        """The interval of ``e``'s date argument (hull over every occurrence of ``e``), within
        real dates (a valid row's date is one)."""
        day = self.expr(e.arg, cols)
        if day is None:  # the literal NULL: the result is always NULL
            day = Interval(0, 0)
        known = self.calendars.get(_unbounded(e))
        day = day if known is None else day.hull(known)
        return Interval(max(day.lo, _DATE_RANGE[0]), min(day.hi, _DATE_RANGE[1]))

    def too_many(self, what: str, e: ir.Stepped, count: int) -> None:
        if count > MAX_CALENDAR_STEPS:
            raise SqlError(
                "ranges",
                f"{what} of {render_expr(e.arg)} would compare each row with {count} "
                f"calendar boundaries (at most {MAX_CALENDAR_STEPS}); declare the dates' range: "
                '[tables.T] ranges = { column = ["2020-01-01", "2030-12-31"] }',
                None,
                None,
            )

    def calendar(self, e: ir.Calendar, cols: Columns) -> Interval:
        day = self.stepped_day(e, cols)
        if e.what in ("dow", "isodow"):  # (d − base) mod 7, base ≤ every d: no boundaries
            self.calendars[_unbounded(e)] = day
            self.fits(Interval(0, day.hi - weekday_base(day.lo, e.what)), render_expr(e), e.ctype)
            return Interval(0, 6) if e.what == "dow" else Interval(1, 7)
        self.too_many(e.what.upper(), e, boundary_count(day.lo, day.hi, e.what))
        self.calendars[_unbounded(e)] = day
        if e.what in ("quarter", "month", "day", "month_day"):
            return Interval(
                *{"quarter": (1, 4), "month": (1, 12), "day": (1, 31)}.get(e.what, (33, 415))
            )
        ends = [value_of(_EPOCH + timedelta(days=x), e.what) for x in (day.lo, day.hi)]
        lo, hi = (v if isinstance(v, int) else (v - _EPOCH).days for v in ends)
        return Interval(lo, hi)  # monotone in d: year, indexes, truncations, last days

    def month_shift(self, e: ir.MonthShift, cols: Columns) -> Interval:
        day = self.stepped_day(e, cols)
        ends = [_EPOCH + timedelta(days=x) for x in (day.lo, day.hi)]
        try:
            lo, hi = ((add_months(x, e.months) - _EPOCH).days for x in ends)
        except ValueError as exc:
            raise SqlError(
                "ranges",
                f"{render_expr(e)} can leave the calendar: {exc}; declare the dates' range: "
                '[tables.T] ranges = { column = ["2020-01-01", "2030-12-31"] }',
                None,
                None,
            ) from None
        self.too_many(
            f"INTERVAL '{e.months}' MONTH", e, shift_boundary_count(day.lo, day.hi, e.months)
        )
        self.calendars[_unbounded(e)] = day
        return Interval(lo, hi)  # add_months is monotone in d

    def divide(self, e: ir.Divide, cols: Columns) -> Interval:
        """``a / b``, ``a // b``, ``a % b``: the divisor must exclude 0; the rescaled operands
        and the protocol's dividend must fit; the result is bounded by the corner values."""
        a, b = self.operands(e, cols)
        f, g = e.factors()
        scale = ColumnType("decimal", max(e.left.ctype.scale, e.right.ctype.scale))
        plan = replace(e, left_range=(a.lo, a.hi), right_range=(b.lo, b.hi)).bounds()
        if plan.digits:  # long division: A·10^(e − t) and 10·|D| must fit, not A·10^e
            self.fits(Interval(0, plan.bound), f"the dividend of {self.show(e)}", scale)
            self.fits(
                Interval(0, 10 * plan.high),
                f"ten times the divisor of {self.show(e)} (long division)",
                scale,
            )
        else:
            self.fits(a.times(f), f"the dividend of {self.show(e)}", scale)
            self.fits(b.times(g), f"the divisor of {self.show(e)}", scale)
            self.fits(Interval(0, plan.bound), f"the rounding of {self.show(e)}", scale)
        if e.op == "%":
            top = min(plan.numerator_max, plan.high - 1)
            return Interval(-top if a.lo < 0 else 0, top if a.hi > 0 else 0)
        if plan.divisor_sign_secret:  # NULLIF(d, 0) with d of either sign: |d| ≥ 1 unit
            smallest = plan.low // 2 if e.op == "/" and not plan.digits else plan.low
            top = _divided(plan.numerator_max, smallest, e.op)
            self.fits(Interval(-top, top), self.show(e), e.ctype)
            return Interval(-top, top)
        corners = [_divided(x * f, y * g, e.op) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        out = Interval(min(corners), max(corners))
        self.fits(out, self.show(e), e.ctype)
        return out

    def operands(self, e: ir.Divide, cols: Columns) -> tuple[Interval, Interval]:
        """The intervals of a division's operands (recorded for the plan); refuses a divisor
        that can be 0. The dividend's includes 0 when it is nullable (a NULL's value lane);
        the divisor's is of its non-NULL values, and ``NULLIF(d, 0)`` is never 0: its
        interval is d's without 0 (spanning 0 when d has both signs: the sign is then secret)."""
        a, b = self.operand(e.left, cols), self.expr(e.right, cols)
        assert a is not None  # numbers (checked by ``types``)
        assert b is not None
        key = ir.without_bounds(e)
        assert isinstance(key, ir.Divide)
        known = self.divisions.get(key)
        if known is not None:
            a, b = a.hull(known[0]), b.hull(known[1])
        if _nullif_zero(e.right) and (b.lo, b.hi) != (0, 0):
            b = Interval(1 if b.lo == 0 else b.lo, -1 if b.hi == 0 else b.hi)
        elif b.lo <= 0 <= b.hi:
            raise SqlError(
                "ranges",
                f"division by zero is possible in {self.show(e)}: the divisor "
                f"{self.show(e.right)} can be 0 (its range is {_show(b.lo, e.right.ctype.scale)}"
                f" … {_show(b.hi, e.right.ctype.scale)}); write NULLIF({self.show(e.right)}, 0)"
                " or declare a range that excludes 0",
                None,
                None,
            )
        self.divisions[key] = (a, b)
        return a, b

    def show(self, e: ir.Expr) -> str:
        """``e`` as text, with computed columns (aggregates) shown by what they compute."""
        return re.sub(
            r"[\w.]+#\d+", lambda m: self.texts.get(m.group(0), m.group(0)), render_expr(e)
        )

    def compare_quotients(self, e: ir.Compare, cols: Columns) -> None:
        """A comparison with an (undeclared) quotient on one or both sides is decided exactly:
        L_num · R_den op R_num · L_den (flipped for a negative denominator product); both
        products must fit."""
        sides = []
        for side in (e.left, e.right):
            if _quotient(side):
                assert isinstance(side, ir.Divide)
                num, den = self.operands(side, cols)
                sides.append(
                    (
                        num.times(10**side.right.ctype.scale),
                        den.times(10**side.left.ctype.scale),
                    )
                )
            else:
                value = self.operand(side, cols)
                assert value is not None  # numeric (checked by ``types``)
                one = 10**side.ctype.scale
                sides.append((value, Interval(one, one)))
        (ln, ld), (rn, rd) = sides
        what = f"the cross-multiplied comparison {self.show(e)}"
        self.fits(ln * rd, what, ir.INT)
        self.fits(rn * ld, what, ir.INT)

    def aligned(self, e: ir.Expr, scale: int, cols: Columns) -> Interval | None:
        """``e``'s interval as an operand after rescaling to ``scale`` decimals (checked)."""
        value = self.operand(e, cols)
        if value is None or scale == e.ctype.scale:
            return value
        out = value.times(10 ** (scale - e.ctype.scale))
        self.fits(out, render_expr(e) + f" at {scale} decimals", ColumnType("decimal", scale))
        return out

    def arith(self, e: ir.Arith, cols: Columns) -> Interval:
        if e.op == "*":
            a, b = self.operand(e.left, cols), self.operand(e.right, cols)
        else:
            a = self.aligned(e.left, e.ctype.scale, cols)
            b = self.aligned(e.right, e.ctype.scale, cols)
        assert a is not None  # numeric operands (checked by ``types``)
        assert b is not None
        out = a * b if e.op == "*" else (a + b if e.op == "+" else a - b)
        self.fits(out, self.show(e), e.ctype)
        return out

    def fits(
        self,
        value: Interval,
        what: str,
        ctype: ColumnType,
        *,
        n_rows: int | None = None,
        arg: Interval | None = None,
    ) -> None:
        if value.magnitude <= LIMIT:
            return
        detail = ""
        if n_rows is not None and arg is not None:
            detail = (
                f" ({n_rows:,} rows × values up to {_show(arg.magnitude, ctype.scale)})".replace(
                    ",", " "
                )
            )
        raise SqlError(
            "ranges",
            f"{what} can reach {_show(value.magnitude, ctype.scale)}{detail}, beyond the "
            f"±{_show(LIMIT, ctype.scale)} that 64-bit shares hold exactly; declare tighter "
            "bounds in the plan: [tables.T] ranges = { column = [low, high] } and/or max_rows",
            None,
            None,
        )


def _nullif_zero(e: ir.Expr) -> bool:
    """``e`` is ``NULLIF(x, 0)`` as compiled: ``CASE WHEN x = 0 THEN NULL ELSE x END``."""
    if not (isinstance(e, ir.Case) and len(e.whens) == 1):
        return False
    (cond, value), x = e.whens[0], e.default
    return (
        isinstance(cond, ir.Compare)
        and cond.op == "="
        and cond.left == x
        and isinstance(cond.right, ir.Literal)
        and cond.right.value == 0
        and not isinstance(cond.right.value, bool)
        and ir.is_null_literal(value)
    )


def _quotient(e: ir.Expr) -> bool:
    """An undeclared ``/``: compared exactly, not through its rounded value."""
    return isinstance(e, ir.Divide) and e.op == "/" and not e.declared


def _divided(n: int, d: int, op: str) -> int:
    """n / d rounded half away from zero (``/``) or truncated toward zero (``//``)."""
    q, r = divmod(abs(n), abs(d))
    if op == "/" and 2 * r >= abs(d):
        q += 1
    return q if (n >= 0) == (d > 0) else -q


def _hull(a: Interval | None, b: Interval | None) -> Interval | None:
    if a is None or b is None:
        return a or b
    return a.hull(b)


def _hull_all(parts: list[Interval | None]) -> Interval | None:
    result: Interval | None = None
    for p in parts:
        result = p if result is None else _hull(result, p)
    return result


def _literal(e: ir.Literal) -> Interval | None:
    v = e.value
    if v is None:  # NULL: no value (as an operand: 0, see _Ranges.operand)
        return None
    if isinstance(v, bool):
        return Interval(int(v), int(v))
    if isinstance(v, date):
        days = (v - _EPOCH).days
        return Interval(days, days)
    if isinstance(v, int | Decimal) and e.ctype.is_numeric:
        scaled = int(Decimal(v) * (Decimal(10) ** e.ctype.scale))
        return Interval(scaled, scaled)
    return None


def _show(scaled: int, scale: int) -> str:
    """A magnitude in the column's units, short (e.g. ``4.6e18``)."""
    value = Decimal(scaled).scaleb(-scale)
    return f"{value:.2g}" if abs(value) >= 10**6 else str(value)


__all__ = ["LIMIT", "Interval", "TableBounds", "check_ranges", "type_range"]
