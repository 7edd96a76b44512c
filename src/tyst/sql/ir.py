"""The typed intermediate representation the compiler produces: expressions and a logical plan.

Nothing here depends on sqlglot; the executor sees only these classes.

Expressions are evaluated per row over the schema of their operator's input;
column references name that input's columns. Logical operators form a tree;
each has a ``schema`` (ordered output names and types). Operators never
shrink tables at run time (validity bits); the plan only says *what* to
compute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal

from tyst.data.patterns import Pattern
from tyst.data.types import COMPARISON_LIMIT, ColumnType

BOOL = ColumnType("bool")
INT = ColumnType("int")
DATE = ColumnType("date")
NULL_INT = ColumnType("int", nullable=True)
"""The type of a bare ``NULL`` literal that no context types (DuckDB: an INTEGER NULL)."""

Value = int | Decimal | date | bool | str | None
"""A literal's value; ``None`` is SQL's NULL (its type is nullable)."""


def display_name(name: str) -> str:
    """The name a recipient sees for an output column (internal ``#k`` suffixes removed)."""
    return name.split("#", 1)[0]


# --------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    """Base class: every expression has a result type."""

    ctype: ColumnType

    def children(self) -> tuple[Expr, ...]:
        """The direct sub-expressions."""
        return ()

    def refs(self) -> tuple[ColumnRef, ...]:
        """Every column reference in the expression (depth first, with repeats)."""
        if isinstance(self, ColumnRef):
            return (self,)
        return tuple(r for c in self.children() for r in c.refs())


@dataclass(frozen=True)
class ColumnRef(Expr):
    name: str


@dataclass(frozen=True)
class Literal(Expr):
    value: Value


def is_null_literal(e: Expr) -> bool:
    """Whether ``e`` is the literal ``NULL``."""
    return isinstance(e, Literal) and e.value is None


@dataclass(frozen=True)
class IsNull(Expr):
    """``arg IS [NOT] NULL``; result bool (never NULL). Reads ``arg``'s null indicator."""

    arg: Expr
    negated: bool

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Arith(Expr):
    """``+``, ``-`` or ``*`` on int/decimal operands (decimals keep exact scales)."""

    op: str
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(Expr):
    """``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``; result bool."""

    op: str
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Logic(Expr):
    """``AND`` / ``OR`` of bool operands."""

    op: str
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True)
class Not(Expr):
    arg: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Case(Expr):
    """``CASE WHEN c1 THEN v1 … ELSE d END``; a WHEN is taken when its condition is TRUE
    (not NULL); without ELSE the default is the literal NULL. Also ``COALESCE`` and
    ``NULLIF``, which the compiler writes as CASE."""

    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr

    def children(self) -> tuple[Expr, ...]:
        return (*(x for pair in self.whens for x in pair), self.default)


@dataclass(frozen=True)
class InList(Expr):
    """``arg [NOT] IN (v1, v2, …)`` with literal values."""

    arg: Expr
    values: tuple[Literal, ...]
    negated: bool

    def children(self) -> tuple[Expr, ...]:
        return (self.arg, *self.values)


@dataclass(frozen=True)
class Like(Expr):
    """``arg [NOT] LIKE 'pattern'`` with at least one ``%`` (see :mod:`tyst.data.patterns`);
    result bool. Reads the bytes (content lanes) of ``arg``."""

    arg: Expr
    pattern: Pattern
    negated: bool

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Substring(Expr):
    """``SUBSTRING(arg, start, length)``, ``SUBSTR``, ``LEFT(arg, length)``: characters
    ``start`` … ``start + length − 1`` of a text value (1-based, public; ``length`` None:
    to the end); computed text (:data:`tyst.data.types.DERIVED_TEXT`)."""

    arg: Expr
    start: int
    length: int | None

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class CaseMap(Expr):
    """``LOWER(arg)`` / ``UPPER(arg)`` (see :data:`tyst.relational.strings.CASE_MAPPED`);
    computed text."""

    arg: Expr
    upper: bool

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class TextLength(Expr):
    """``LENGTH(arg)``: the number of characters of a text value; int in [0, 64]."""

    arg: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Concat(Expr):
    """``a || b || …`` / ``CONCAT(a, b, …)`` of text values whose byte lengths add up to at
    most 64 by their plan-time bounds (``bounds``, one per argument); computed text."""

    args: tuple[Expr, ...]
    bounds: tuple[int, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args


CALENDAR_FIELDS = ("year", "quarter", "month", "day", "dow", "isodow")
CALENDAR_TRUNCS = ("trunc_year", "trunc_quarter", "trunc_month", "trunc_week")
CALENDAR_OTHERS = ("last_day", "month_index", "quarter_index", "month_day")
"""``LAST_DAY(d)`` (a date), 12·year + month − 1 and 4·year + quarter − 1 (ints, for
``DATE_DIFF('month'|'quarter', …)``) and 32·month + day (for the age in years)."""


@dataclass(frozen=True)
class Calendar(Expr):
    """``EXTRACT(field FROM d)`` (int; ``what`` in :data:`CALENDAR_FIELDS`),
    ``DATE_TRUNC(unit, d)`` (date; ``what`` in :data:`CALENDAR_TRUNCS`) or one of
    :data:`CALENDAR_OTHERS` of a date.

    ``low``/``high`` are the public bounds of ``d`` in days since 1970-01-01, filled in by
    the compiler's ``ranges`` pass (None before): the value is computed from comparisons
    with the calendar boundaries between them (:mod:`tyst.ops.expressions`).
    """

    arg: Expr
    what: str
    low: int | None = None
    high: int | None = None

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


DIVIDE_OPS = ("/", "//", "%")


@dataclass(frozen=True)
class DivisionBounds:
    """Public bounds of one division's magnitudes, from which its cost and exactness follow:
    the protocol divides ``dividend`` (≤ ``bound``) by ``divisor`` (in ``low`` … ``high``)."""

    numerator_nonnegative: bool
    """The (rescaled) dividend is never negative: no sign to take out and put back."""
    divisor_negative: bool
    """The divisor is always negative (it is never 0: the ``ranges`` pass proves it)."""
    divisor_sign_secret: bool
    """The divisor may have either sign (``NULLIF(d, 0)``, never 0): its sign is taken out
    and put back like the dividend's."""
    numerator_max: int
    """The largest |dividend| after rescaling (of ``/``: |A|·10^e, which may not fit)."""
    bound: int
    low: int
    high: int
    digits: int = 0
    """``/`` by long division (:func:`tyst.mpc.protocols.division.divide_digits`): the
    dividend is rescaled by 10^(e − digits) only (``bound``, ``low`` … ``high`` are then of
    that dividend and of |D|, not doubled), the last ``digits`` decimals come one at a time.
    0: the direct path ⌊(2|N| + |D|) / 2|D|⌋ (doubled bounds)."""


@dataclass(frozen=True)
class Rescaled(Expr):
    """``arg · 10^power`` for a literal power of ten folded out of a dividend (``100.00 * x / y``
    divides x at ``arg``'s scale − ``power``): the same word read at another scale, nothing
    computed, so 100·x needs no room of its own (the division's long path scales it)."""

    arg: Expr
    power: int

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Divide(Expr):
    """Exact division of int/decimal values (operands as scaled words A = a·10^sa, B = b·10^sb).

    - ``/``: a decimal with ``ctype.scale`` decimals, the exact quotient a / b rounded half
      away from zero (DuckDB's decimal rounding). ``declared``: the scale was chosen by
      ``ROUND(a / b, s)`` or ``CAST(a / b AS DECIMAL(p, s))``; ``ROUND(x, s)`` and narrowing
      casts of a decimal x are ``x / 1`` with a declared scale. An undeclared quotient that is
      compared is compared exactly (cross-multiplied), not through its rounded value.
    - ``//``: ints; the quotient truncated toward zero (DuckDB: -7 // 2 = -3).
    - ``%``: the remainder with the dividend's sign (DuckDB: -7 % 3 = -1), at the larger scale.

    ``left_range``/``right_range`` are the operands' public intervals (scaled words), filled in
    by the compiler's ``ranges`` pass (None before); :meth:`bounds` derives the division's.
    """

    op: str
    left: Expr
    right: Expr
    declared: bool = False
    left_range: tuple[int, int] | None = None
    right_range: tuple[int, int] | None = None

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def factors(self) -> tuple[int, int]:
        """(f, g): the division is of N = A·f by D = B·g (then rounded for ``/``)."""
        sa, sb = self.left.ctype.scale, self.right.ctype.scale
        if self.op == "%":
            top = max(sa, sb)
            return 10 ** (top - sa), 10 ** (top - sb)
        e = self.ctype.scale + sb - sa if self.op == "/" else 0
        return 10 ** max(e, 0), 10 ** max(-e, 0)

    def long_digits(self, a_max: int, d_min: int, d_max: int) -> int:
        """How many decimals of ``/`` long division produces one at a time (0: none), from
        the public bounds |A| ≤ ``a_max`` and ``d_min`` ≤ |D| ≤ ``d_max`` alone.

        The rule: long division takes the fewest digits t ≥ 1 for which |A|·10^(e − t) fits
        in ±(2^62 − 1) (more digits only cost more) and costs bit length of
        ⌊|A|·10^(e − t) / d_min⌋ + 4·t restoring steps + 1 (the rounding comparison); the
        direct path (dividend 2·|A|·10^e + |D|, which must fit) costs bit length of
        ⌊(2·|A|·10^e + d_max) / 2·d_min⌋ steps. The direct path is taken when it fits and
        costs no more (≈ 3.3 steps per decimal against 4: nearly always) or 10·d_max does not
        fit, else long division, which needs 10·|D| to fit (the ranges pass refuses else)."""
        e = self.ctype.scale + self.right.ctype.scale - self.left.ctype.scale
        if self.op != "/" or e <= 0:
            return 0
        fits = (t for t in range(1, e + 1) if a_max * 10 ** (e - t) <= COMPARISON_LIMIT - 1)
        t = next(fits, e)  # e: |A| itself does not fit (the ranges pass refuses)
        direct = 2 * a_max * 10**e + d_max
        if direct <= COMPARISON_LIMIT - 1:
            long_steps = (a_max * 10 ** (e - t) // d_min).bit_length() + 4 * t + 1
            if 10 * d_max > COMPARISON_LIMIT - 1:  # long division is not valid here
                return 0
            if (direct // (2 * d_min)).bit_length() <= long_steps:
                return 0
        return t

    def bounds(self) -> DivisionBounds:
        """The magnitudes' bounds (needs the ranges; the divisor's interval excludes 0)."""
        assert self.left_range is not None  # filled in by the compiler
        assert self.right_range is not None
        f, g = self.factors()
        n_lo, n_hi = self.left_range[0] * f, self.left_range[1] * f
        d_lo, d_hi = self.right_range[0] * g, self.right_range[1] * g
        secret = d_lo < 0 < d_hi  # never 0 there (proved by the ranges pass: NULLIF(d, 0))
        assert d_lo != 0
        assert d_hi != 0
        low = g if secret else min(abs(d_lo), abs(d_hi))
        high = max(abs(d_lo), abs(d_hi))
        top = max(abs(n_lo), abs(n_hi))
        negative = d_hi < 0
        if self.op == "/":  # round half away: ⌊(2|N| + |D|) / 2|D|⌋, or by long division
            a_max = max(abs(self.left_range[0]), abs(self.left_range[1]))
            digits = self.long_digits(a_max, low, high)
            if digits:
                return DivisionBounds(
                    n_lo >= 0, negative, secret, top, top // 10**digits, low, high, digits
                )
            return DivisionBounds(
                n_lo >= 0, negative, secret, top, 2 * top + high, 2 * low, 2 * high
            )
        return DivisionBounds(n_lo >= 0, negative, secret, top, top, low, high)


@dataclass(frozen=True)
class MonthShift(Expr):
    """``d + INTERVAL 'n' MONTH`` (``months`` = n; QUARTER and YEAR are 3n and 12n; ``-``
    negates): a date, clamped to the last day of a shorter month (DuckDB's rule).

    ``low``/``high`` bound ``d`` as for :class:`Calendar` (filled in by ``ranges``); the
    value is ``d`` plus a step function of comparisons with public days between them.
    """

    arg: Expr
    months: int
    low: int | None = None
    high: int | None = None

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


Stepped = Calendar | MonthShift
"""The expressions computed from public calendar boundaries within their argument's range."""


def without_bounds(e: Expr) -> Expr:
    """``e`` with every :data:`Stepped` bound and division range cleared, as the ``ranges`` pass
    first sees it."""
    if isinstance(e, Stepped) and e.low is not None:
        e = replace(e, low=None, high=None)
    if isinstance(e, Divide) and e.left_range is not None:
        e = replace(e, left_range=None, right_range=None)
    kids = e.children()
    if not kids:
        return e
    changes = {
        f.name: _cleared(getattr(e, f.name))
        for f in fields(e)
        if isinstance(getattr(e, f.name), Expr | tuple)
    }
    return replace(e, **changes)  # type: ignore[arg-type]


def _cleared(v: object) -> object:
    if isinstance(v, Expr):
        return without_bounds(v)
    if isinstance(v, tuple):
        return tuple(_cleared(x) for x in v)
    return v


@dataclass(frozen=True)
class Ratio(Expr):
    """``AVG``: a sum and a count delivered together; only the recipient divides.

    Allowed only as an output of the final SELECT (ctype kind ``ratio``).
    """

    numerator: Expr
    denominator: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.numerator, self.denominator)


# --------------------------------------------------------------------- logical plan

Schema = tuple[tuple[str, ColumnType], ...]


@dataclass(frozen=True)
class Node:
    """Base class of logical operators; ``schema`` is the output."""

    schema: Schema

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> tuple[Node, ...]:
        """This operator and every operator below it, pre-order; a subplan shared by two
        parents (a CTE used twice) appears once."""
        seen: set[int] = set()
        out: list[Node] = []
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            out.append(node)
            stack.extend(reversed(node.children()))
        return tuple(out)


@dataclass(frozen=True)
class Scan(Node):
    """All rows of an input table; columns renamed to ``alias.column``."""

    table: str
    alias: str


@dataclass(frozen=True)
class Filter(Node):
    input: Node
    predicate: Expr

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Project(Node):
    """Compute the named output expressions over the input's columns."""

    input: Node
    outputs: tuple[tuple[str, Expr], ...]

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Join(Node):
    """Equi-join on ``left_keys[i] = right_keys[i]``; output = left columns then right columns.

    ``kind`` is ``inner`` (outer joins are compiled to an inner join, anti-joins and a
    UNION ALL with NULL padding) or ``left``: every left row is kept and the right side,
    which must be unique on its keys, gives 0 in every lane where none matched (a correlated
    subquery's COUNTs, :mod:`tyst.sql.subqueries`). Which side is unique on its key is
    decided before the run from the data-preparation checks (PK–FK join).
    """

    left: Node
    right: Node
    kind: str
    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class SemiJoin(Node):
    """Rows of ``input`` with (``anti``: without) a row of ``subquery`` with equal keys."""

    input: Node
    subquery: Node
    input_keys: tuple[str, ...]
    subquery_keys: tuple[str, ...]
    anti: bool

    def children(self) -> tuple[Node, ...]:
        return (self.input, self.subquery)


@dataclass(frozen=True)
class Broadcast(Node):
    """Every row of ``input`` extended with the columns of ``scalar``, a relation of exactly
    one row that is always valid (a global aggregate: the compiler builds this node only over
    an :class:`Aggregate` without keys); output = input columns then scalar columns, validity
    the input's. An uncorrelated scalar subquery is its value read on every row."""

    input: Node
    scalar: Node

    def children(self) -> tuple[Node, ...]:
        return (self.input, self.scalar)


@dataclass(frozen=True)
class AggregateCall:
    """One aggregate: ``func`` in COUNT, SUM, AVG, MIN, MAX, PERCENTILE_DISC, PERCENTILE_CONT;
    ``arg`` None for COUNT(*).

    An order statistic (PERCENTILE_*) has its fraction ``q`` = (a, b), q = a/b public; a
    PERCENTILE_CONT result is b times the exact interpolation (``shift`` 0, b = 10^t: a
    decimal with t more decimals than ``arg``), or that divided by b = 2^``shift`` and
    truncated toward zero (the argument's scale, as DuckDB's decimal result)."""

    func: str
    arg: str | None
    distinct: bool
    name: str
    ctype: ColumnType
    q: tuple[int, int] | None = None
    shift: int = 0


@dataclass(frozen=True)
class Aggregate(Node):
    """GROUP BY ``keys`` (empty: one global row) computing ``calls``; output keys then calls."""

    input: Node
    keys: tuple[str, ...]
    calls: tuple[AggregateCall, ...]
    min_group_size: int = 0

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class BoundedAggregate(Node):
    """A ``[privacy]`` plan's aggregate (built by :mod:`tyst.release.privacy`, never by the
    compiler): the input's rows are capped at ``max_rows`` per privacy ``unit`` (a column of
    the input), each SUM argument is clamped to its ``clamps`` entry (column, low, high in
    the column's scaled units), then COUNT(*) / SUM are computed globally (``key`` None: one
    row) or per public key of the int column ``key`` (one valid row per ``key_values`` entry,
    in that order, zero-count keys included). Output: the key (if any), then the calls."""

    input: Node
    unit: str
    max_rows: int
    calls: tuple[AggregateCall, ...]
    clamps: tuple[tuple[str, int, int], ...]
    key: str | None = None
    key_values: tuple[int, ...] = ()

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Distinct(Node):
    input: Node

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class OrderLimit(Node):
    """Sort by ``keys`` (name, descending) and keep the first ``limit`` valid rows (None: all).

    NULLs of a nullable key come last (DuckDB's default, ascending or descending), first for
    the keys named in ``nulls_first`` (``NULLS FIRST``). A key of kind ``ratio`` (an AVG)
    sorts by the exact fraction SUM / COUNT; ``fractions`` holds its public bounds, filled in
    by the ``ranges`` pass: (column, the largest |AVG| in the sum's scaled units, the largest
    count, whether the count can be 0: the AVG is then NULL, ordered as NULLs are)."""

    input: Node
    keys: tuple[tuple[str, bool], ...]
    limit: int | None
    nulls_first: tuple[str, ...] = ()
    fractions: tuple[tuple[str, int, int, bool], ...] = ()

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


WINDOW_FUNCS = ("ROW_NUMBER", "RANK", "DENSE_RANK", "LAG", "LEAD", "COUNT", "SUM", "MIN", "MAX")
WINDOW_FRAMES = ("partition", "range", "rows")
"""A window aggregate's frame: the whole partition (no ORDER BY, or UNBOUNDED FOLLOWING),
``range`` (SQL's default with ORDER BY: up to the current row's last peer) or ``rows`` (up
to the current row)."""


@dataclass(frozen=True)
class WindowCall:
    """One window function over its operator's partitions and order.

    ``func`` in :data:`WINDOW_FUNCS`; ``arg`` the input column (None: ``ROW_NUMBER``,
    ``RANK``, ``DENSE_RANK``, ``COUNT(*)``); ``frame`` in :data:`WINDOW_FRAMES` (only
    COUNT/SUM/MIN/MAX read it); ``offset`` ≥ 1 and ``default`` (an input column, None: NULL)
    for LAG/LEAD."""

    func: str
    arg: str | None
    name: str
    ctype: ColumnType
    frame: str = "partition"
    offset: int = 1
    default: str | None = None


@dataclass(frozen=True)
class Window(Node):
    """Every input row, with one more column per window call, computed over the partitions
    of ``partition`` (column names; empty: one partition) ordered by ``order`` (name,
    descending); NULLs of a nullable order key come last, first for ``nulls_first``. The
    output columns are the input's, then the calls'; the row order is unspecified."""

    input: Node
    partition: tuple[str, ...]
    order: tuple[tuple[str, bool], ...]
    calls: tuple[WindowCall, ...]
    nulls_first: tuple[str, ...] = ()

    def children(self) -> tuple[Node, ...]:
        return (self.input,)


@dataclass(frozen=True)
class UnionAll(Node):
    inputs: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.inputs


@dataclass(frozen=True)
class CompiledQuery:
    """The result of compilation: the plan, its output columns, and what it reveals."""

    plan: Node
    sql: str
    tables: tuple[str, ...] = field(default=())


def node_expressions(node: Node) -> Iterator[Expr]:
    """The expressions an operator evaluates (its predicates, outputs, conditions)."""

    def inside(v: object) -> Iterator[Expr]:
        if isinstance(v, Expr):
            yield v
        elif isinstance(v, tuple):
            for x in v:
                yield from inside(x)

    for f in fields(node):
        value = getattr(node, f.name)
        if not isinstance(value, Node):
            yield from inside(value)


def map_expressions(
    root: Node,
    fn: Callable[[Expr], Expr],
    node_fn: Callable[[Node, Node], Node] | None = None,
) -> Node:
    """``root`` with every expression ``e`` replaced by ``fn(e)``, bottom up (children first);
    operators and expressions shared by two parents stay shared. ``fn`` returns its argument
    unchanged for expressions it leaves alone. ``node_fn(original, rebuilt)``, if given, may
    replace each operator (rebuilt: with its children and expressions already mapped)."""
    done: dict[int, object] = {}

    def value(v: object) -> object:
        if isinstance(v, Node | Expr):
            if id(v) not in done:
                changes = {f.name: value(getattr(v, f.name)) for f in fields(v)}
                same = all(changes[k] is getattr(v, k) for k in changes)
                new: object = v if same else replace(v, **changes)  # type: ignore[arg-type]
                if isinstance(new, Expr):
                    done[id(v)] = fn(new)
                else:
                    assert isinstance(v, Node)
                    assert isinstance(new, Node)
                    done[id(v)] = new if node_fn is None else node_fn(v, new)
            return done[id(v)]
        if isinstance(v, tuple):
            items = tuple(value(x) for x in v)
            return v if all(a is b for a, b in zip(items, v, strict=True)) else items
        return v

    out = value(root)
    assert isinstance(out, Node)
    return out
