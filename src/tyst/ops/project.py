"""``project``: compute the named output expressions of every row."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.expressions import Evaluator, reads
from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need
from tyst.relational.table import SharedColumn, SharedTable
from tyst.sql import ir
from tyst.sql.explain import render_expr


def execute(ctx: RunContext, node: ir.Project, inputs: Sequence[SharedTable]) -> SharedTable:
    (table,) = inputs
    evaluator = Evaluator(ctx.party, table)
    columns: dict[str, SharedColumn] = {name: evaluator.evaluate(e) for name, e in node.outputs}
    return SharedTable(columns, table.valid)


def needs(node: ir.Project, need: Needs) -> tuple[Needs, ...]:
    """Every output is evaluated, so every reference is needed; a passed-through column keeps
    what is needed of the output, a text-valued expression wanted in full needs content."""
    child: Needs = {}
    for name, expr in node.outputs:
        wanted = need.get(name)
        if isinstance(expr, ir.ColumnRef):
            add_need(child, expr.name, wanted or "key")
            continue
        full = expr.ctype.is_text and wanted == "content"
        for ref, level in reads(expr, "content" if full else "key").items():
            add_need(child, ref, level)
    return (child,)


def explain(node: ir.Project) -> str:
    return "project " + ", ".join(
        n if isinstance(e, ir.ColumnRef) and e.name == n else f"{render_expr(e)} AS {n}"
        for n, e in node.outputs
    )


SPEC = OperatorSpec(
    ir.Project,
    "project",
    execute,
    needs,
    explain,
    algorithm="row-wise circuits of the output expressions (tyst.ops.expressions)",
    output_rows="n",
    rounds="the deepest output expression's rounds",
)
