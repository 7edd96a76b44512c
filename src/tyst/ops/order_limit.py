"""``order by … limit``: one stable oblivious sort, valid rows first, then a public prefix."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need, pick
from tyst.relational.ordering import order_limit
from tyst.relational.table import SharedTable
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.OrderLimit, inputs: Sequence[SharedTable]) -> SharedTable:
    return pick(order_limit(ctx.party, inputs[0], node.keys, node.limit), node.schema)


def needs(node: ir.OrderLimit, need: Needs) -> tuple[Needs, ...]:
    child = dict(need)
    for k, _ in node.keys:
        add_need(child, k, "key")
    return (child,)


def explain(node: ir.OrderLimit) -> str:
    keys = ", ".join(f"{n}{' DESC' if d else ''}" for n, d in node.keys)
    limit = f" LIMIT {node.limit}" if node.limit is not None else ""
    return f"order by {keys}{limit}   [oblivious sort]"


SPEC = OperatorSpec(
    ir.OrderLimit,
    "order by … limit",
    execute,
    needs,
    explain,
    algorithm="invalid rows' first key replaced by the extreme value, one stable sort, a "
    "public prefix (tyst.relational.ordering)",
    output_rows="min(m, n)",
    rounds="sort(n) + 1",
)
