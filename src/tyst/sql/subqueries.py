"""Scalar subqueries in the logical plan: uncorrelated ones broadcast, correlated ones joined.

Contract (used by :mod:`tyst.sql.compiler`, which compiles the subquery itself):

- An **uncorrelated** scalar subquery must be provably one row: a global aggregate (no
  ``GROUP BY``, ``HAVING``, ``DISTINCT``, ``ORDER BY``/``LIMIT``) selecting one value. Its
  :class:`~tyst.sql.ir.Aggregate` is computed once and its row added to every row of the
  outer relation (:class:`~tyst.sql.ir.Broadcast`); the value expression (over the
  aggregate's columns) is used where the subquery stood, so ``0.2 * AVG(x)`` stays one exact
  fraction. Over no rows SUM, AVG, MIN and MAX are NULL and COUNT is 0, as SQL says: that is
  the global aggregate's own rule.
- A **correlated** scalar subquery whose conditions on the outer query are equalities
  ``inner.k = outer.k`` (one or more) is the same aggregate grouped by the inner columns k
  (:func:`correlated`), inner-joined to the outer relation on them: the grouped side is
  unique on its keys, so every outer row meets at most its own group, whose aggregate equals
  the subquery's over that row's matching rows. An outer row without a group (no matching
  row, or a NULL key: NULL = x is never true) would see the aggregate over no rows; the
  inner join drops it, which is exact only where that row would be dropped anyway: the
  condition using the subquery must not be TRUE when the aggregates that are NULL over no
  rows (SUM, AVG's sum, MIN, MAX) are NULL (:func:`rejects_missing`). COUNT is 0 over no
  rows, not NULL (the "COUNT bug" of naive decorrelation): a value made of COUNTs alone is
  computed with a left join instead (:attr:`Attachment.left`, ``ir.Join`` of kind ``left``):
  every outer row is kept, and one without a group gets 0 in every COUNT. Any other condition that
  can be TRUE when the value is NULL (``OR``, ``COALESCE``, ``IS NULL`` over a SUM) is
  refused with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tyst.sql import ir

NULL_OVER_NO_ROWS = ("SUM", "MIN", "MAX")
"""Aggregates whose value over no rows is NULL (AVG is a SUM over a COUNT); COUNT's is 0."""


@dataclass(frozen=True)
class Attachment:
    """What a scalar subquery adds below the operator that uses its value: ``attach`` builds
    the new input from the old one; ``missing`` (correlated only) names the columns that are
    NULL for an outer row without a group, which the using condition must reject."""

    attach: Callable[[ir.Node], ir.Node]
    missing: frozenset[str] | None = None
    left: Callable[[ir.Node], ir.Node] | None = None
    """Correlated, with COUNTs only: the left join to use where the inner join is not exact."""


def one_row(plan: ir.Node) -> tuple[ir.Aggregate, ir.Expr] | None:
    """A compiled subquery ``Project(value, Aggregate)`` as (aggregate, value expression over
    its columns); None when the plan has another shape (not provably one value per group)."""
    if not (isinstance(plan, ir.Project) and len(plan.outputs) == 1):
        return None
    agg = plan.input
    if not isinstance(agg, ir.Aggregate):
        return None
    value = plan.outputs[0][1]
    calls = {c.name for c in agg.calls}
    if not {r.name for r in value.refs()} <= calls:  # a grouping key in the value
        return None
    return agg, value


def broadcast(scalar: ir.Aggregate) -> Attachment:
    """The global aggregate ``scalar``'s row added to every row (:class:`ir.Broadcast`)."""
    assert not scalar.keys

    def attach(node: ir.Node) -> ir.Node:
        clash = {n for n, _ in node.schema} & {n for n, _ in scalar.schema}
        assert not clash, clash  # aggregate outputs have fresh names
        return ir.Broadcast(node.schema + scalar.schema, node, scalar)

    return Attachment(attach)


def correlated(
    grouped: ir.Aggregate,
    pairs: list[tuple[str, str]],
    fresh: Callable[[str], str],
) -> Attachment:
    """The subquery's aggregate ``grouped`` by its inner correlation columns, inner-joined to
    the outer relation on ``pairs`` (inner column, outer column); see the module contract. An
    inner column equal to two outer ones (k = o1 AND k = o2) is joined on both (the group
    matches only where o1 = o2, as the subquery's rows do). The group keys are copied to
    fresh names (an inner and an outer table may share an alias); the results keep theirs."""
    assert {i for i, _ in pairs} == set(grouped.keys)
    renamed = [(fresh("correlated"), inner) for inner, _ in pairs]
    types = dict(grouped.schema)
    outputs = tuple((new, ir.ColumnRef(types[old], old)) for new, old in renamed) + tuple(
        (c.name, ir.ColumnRef(c.ctype, c.name)) for c in grouped.calls
    )
    side = ir.Project(tuple((n, e.ctype) for n, e in outputs), grouped, outputs)
    missing = frozenset(c.name for c in grouped.calls if c.func in NULL_OVER_NO_ROWS)

    outer_keys = tuple(o for _, o in pairs)
    side_keys = tuple(new for new, _ in renamed)

    def attach(node: ir.Node) -> ir.Node:
        return ir.Join(node.schema + side.schema, node, side, "inner", outer_keys, side_keys)

    def left(node: ir.Node) -> ir.Node:
        """Every outer row, with its group's COUNTs or 0s (:class:`ir.Join` ``left``)."""
        joined = ir.Join(node.schema + side.schema, node, side, "left", outer_keys, side_keys)
        counts = tuple((c.name, c.ctype) for c in grouped.calls)
        schema = node.schema + counts  # the copied keys (0 where unmatched) dropped
        return ir.Project(schema, joined, tuple((n, ir.ColumnRef(t, n)) for n, t in schema))

    counts_only = all(c.func == "COUNT" for c in grouped.calls)
    return Attachment(attach, missing, left if counts_only else None)


def rejects_missing(cond: ir.Expr, names: frozenset[str]) -> bool:
    """Whether the condition ``cond`` is never TRUE on a row where every column in ``names``
    is NULL (so dropping such rows beforehand changes nothing). Conservative: False unless
    provable by SQL's NULL rules."""
    if isinstance(cond, ir.Logic) and cond.op == "AND":
        return any(rejects_missing(a, names) for a in cond.args)
    if isinstance(cond, ir.Logic):
        return all(rejects_missing(a, names) for a in cond.args)
    return null_when_missing(cond, names)


_STRICT = (
    ir.Arith,
    ir.Compare,
    ir.Divide,
    ir.Rescaled,
    ir.Not,
    ir.Calendar,
    ir.MonthShift,
    ir.Like,
    ir.InList,
)
"""Expressions that are NULL when an operand is (a NULL in, a NULL out)."""


def null_when_missing(e: ir.Expr, names: frozenset[str]) -> bool:
    """Whether ``e`` is NULL on every row where every column in ``names`` is NULL."""
    if isinstance(e, ir.ColumnRef):
        return e.name in names
    if isinstance(e, ir.Literal):
        return e.value is None
    if isinstance(e, ir.InList):
        return null_when_missing(e.arg, names)
    if isinstance(e, _STRICT):
        return any(null_when_missing(c, names) for c in e.children())
    if isinstance(e, ir.Case):
        values = [v for _, v in e.whens] + [e.default]
        return all(null_when_missing(v, names) for v in values)
    return False  # IS NULL, AND/OR, text functions, a ratio: not provably NULL


def attached(node: ir.Node, attachments: list[Attachment]) -> ir.Node:
    """``node`` with every attachment applied, in order."""
    for a in attachments:
        node = a.attach(node)
    return node
