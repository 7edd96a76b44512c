"""``filter``: a predicate per row that clears validity bits (the table never shrinks)."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.mpc.protocols import boolean
from tyst.ops.expressions import Evaluator, reads
from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need
from tyst.relational.table import SharedTable
from tyst.sql import ir
from tyst.sql.explain import render_expr


def execute(ctx: RunContext, node: ir.Filter, inputs: Sequence[SharedTable]) -> SharedTable:
    (table,) = inputs
    bit = Evaluator(ctx.party, table).predicate(node.predicate)
    return table.with_valid(boolean.and_(ctx.party, table.valid, bit))


def needs(node: ir.Filter, need: Needs) -> tuple[Needs, ...]:
    child = dict(need)
    for name, level in reads(node.predicate).items():
        add_need(child, name, level)
    return (child,)


def explain(node: ir.Filter) -> str:
    return f"filter {render_expr(node.predicate)}   [clears validity bits]"


SPEC = OperatorSpec(
    ir.Filter,
    "filter",
    execute,
    needs,
    explain,
    algorithm="row-wise circuit of the predicate (tyst.ops.expressions), AND with validity",
    output_rows="n",
    rounds="the predicate's rounds + 1",
)
