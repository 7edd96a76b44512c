"""``scan``: all rows of an input table, only the columns and lanes the plan needs."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Disclosure, Needs, OperatorSpec, RunContext
from tyst.relational.table import SharedColumn, SharedTable
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.Scan, inputs: Sequence[SharedTable]) -> SharedTable:
    """The table's needed columns; id/text columns needed only as keys keep their key lanes.
    The input is dropped after its last scan."""
    table = ctx.inputs[node.table]
    ctx.scans_left[node.table] -= 1
    if ctx.scans_left[node.table] <= 0:
        del ctx.inputs[node.table]
    columns: dict[str, SharedColumn] = {}
    for name, col in table.columns.items():
        full = f"{node.alias}.{name}"
        level = ctx.needs.get(full)
        if level is None:
            continue
        if level == "key" and col.ctype.is_text and not col.ctype.key_only:
            col = SharedColumn(col.ctype.keys_only(), col.key)
        columns[full] = col
    return SharedTable(columns, table.valid, node.alias)


def needs(node: ir.Scan, need: Needs) -> tuple[Needs, ...]:
    return ()


def explain(node: ir.Scan) -> str:
    return f"scan {node.table} AS {node.alias}"


SPEC = OperatorSpec(
    ir.Scan,
    "scan",
    execute,
    needs,
    explain,
    algorithm="the owner's shares as uploaded; unneeded columns and lanes are never shared",
    output_rows="n (the table's rows)",
    rounds="0",
    discloses=(Disclosure("the number of rows of the input table", when="at upload"),),
)
