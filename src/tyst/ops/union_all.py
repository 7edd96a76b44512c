"""``union all``: the branches' rows one after the other (positional columns)."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext
from tyst.relational.table import SharedTable, concat_tables
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.UnionAll, inputs: Sequence[SharedTable]) -> SharedTable:
    names = [n for n, _ in node.schema]
    renamed = [
        SharedTable(dict(zip(names, t.columns.values(), strict=True)), t.valid) for t in inputs
    ]
    return concat_tables(renamed)


def needs(node: ir.UnionAll, need: Needs) -> tuple[Needs, ...]:
    """Positional: every branch keeps every column, at the level the union's column needs."""
    levels = [need.get(n, "key") for n, _ in node.schema]
    return tuple(
        dict(zip([n for n, _ in branch.schema], levels, strict=True)) for branch in node.inputs
    )


def explain(node: ir.UnionAll) -> str:
    return "union all   [concatenation]"


SPEC = OperatorSpec(
    ir.UnionAll,
    "union all",
    execute,
    needs,
    explain,
    algorithm="concatenation of the branches' shares",
    output_rows="Σ n_i",
    rounds="0",
)
