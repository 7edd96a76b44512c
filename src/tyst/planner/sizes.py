"""How large a query's result is, from the public table sizes alone.

Contract: :func:`padded_rows` folds the operators' row rules (each
:class:`~tyst.ops.spec.OperatorSpec`'s ``output_rows``) over a
:class:`~tyst.planner.physical.PhysicalPlan`, leaves first: a scan has its table's
rows; a filter, projection, window, DISTINCT, semi-join or broadcast (of a scalar
subquery) its (first) input's; a GROUP BY its input's (a global aggregate 1); an
ORDER BY … LIMIT m ``min(m, n)``; a UNION ALL the sum; a join its fk side's (``k``
times that when expanded ``k`` times). The answer
is exactly the padded length the nodes deliver (the engine tests check it on every
query they run); given the declared ``max_rows`` of each table it is the most the
plan can deliver. :func:`result_words` and :func:`result_bytes` turn it into the
64-bit words and (a bound on) the bytes of one node's result before sealing: two
share components of every result lane and the validity bit per row, the extras and
a header; sealing adds :data:`tyst.service.sealing.OVERHEAD` per chunk.

Nothing here is secret: the sizes are functions of the public row counts.
Errors: :class:`ValueError` (one line) for an operator without a row rule or a
table whose size is not given.
"""

from __future__ import annotations

from collections.abc import Mapping

from tyst.planner.physical import PhysicalPlan, PlanStep
from tyst.sql import ir

HEADER_BYTES = 1024
"""The most bytes a result's header takes besides :data:`HEADER_BYTES_PER_ARRAY` per array."""

HEADER_BYTES_PER_ARRAY = 64
"""Header bytes one result array (a lane, the validity bits, the extras) takes at most."""

_SAME_AS_INPUT = (ir.Filter, ir.Project, ir.Distinct, ir.Window, ir.SemiJoin, ir.Broadcast)
"""Operators whose output has exactly their (first) input's rows."""


def _rows(step: PlanStep, inputs: list[int], table_rows: Mapping[str, int]) -> int:
    node = step.node
    if isinstance(node, ir.Scan):
        if node.table not in table_rows:
            raise ValueError(f"the size of table {node.table!r} is not known")
        return table_rows[node.table]
    if isinstance(node, _SAME_AS_INPUT):
        return inputs[0]
    if isinstance(node, ir.Aggregate):
        return inputs[0] if node.keys else 1
    if isinstance(node, ir.BoundedAggregate):
        return len(node.key_values) if node.key is not None else 1
    if isinstance(node, ir.OrderLimit):
        return inputs[0] if node.limit is None else min(node.limit, inputs[0])
    if isinstance(node, ir.UnionAll):
        return sum(inputs)
    if isinstance(node, ir.Join) and step.join is not None:
        fk = inputs[0] if step.join.pk == "right" else inputs[1]
        return step.join.expand * fk
    raise ValueError(f"{step.describe()}: no rule for the size of its output")


def padded_rows(plan: PhysicalPlan, table_rows: Mapping[str, int]) -> int:
    """The padded length of the plan's result when its tables have ``table_rows`` rows."""
    rows: dict[int, int] = {}
    for step in plan.steps:
        rows[step.number] = _rows(step, [rows[i] for i in step.inputs], table_rows)
    return rows[plan.output.number]


def result_lanes(plan: PhysicalPlan) -> int:
    """The share lanes of one result row (every output column's lanes)."""
    return sum(ctype.lanes for _, ctype in plan.root.schema)


def extras_bound(plan: PhysicalPlan) -> int:
    """The most extra values a result carries: one per aggregate (suppressed-group counts
    and global-aggregate row counts)."""
    return sum(1 for s in plan.steps if isinstance(s.node, ir.Aggregate))


def result_words(plan: PhysicalPlan, table_rows: Mapping[str, int]) -> int:
    """64-bit share words of one node's result: two components of every lane and the
    validity bit per padded row, and of every extra value (at most)."""
    n = padded_rows(plan, table_rows)
    return 2 * (n * (result_lanes(plan) + 1) + extras_bound(plan))


def result_bytes(plan: PhysicalPlan, table_rows: Mapping[str, int]) -> int:
    """At most the bytes of one node's result for one recipient before sealing."""
    arrays = result_lanes(plan) + 2
    return 8 * result_words(plan, table_rows) + HEADER_BYTES + HEADER_BYTES_PER_ARRAY * arrays


__all__ = [
    "HEADER_BYTES",
    "HEADER_BYTES_PER_ARRAY",
    "extras_bound",
    "padded_rows",
    "result_bytes",
    "result_lanes",
    "result_words",
]
