"""``union all``: the branches' rows one after the other (positional columns)."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext
from tyst.relational.table import SharedColumn, SharedTable, concat_tables
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.UnionAll, inputs: Sequence[SharedTable]) -> SharedTable:
    """Positional columns; an id/text column that some branch carries as key lanes only (its
    content is not needed above) is cut to its key lanes in every branch."""
    names = [n for n, _ in node.schema]
    columns = [list(t.columns.values()) for t in inputs]
    for i in range(len(names)):
        if any(cols[i].ctype.key_only for cols in columns):
            for cols in columns:
                c = cols[i]
                if not c.ctype.key_only:
                    cols[i] = SharedColumn(c.ctype.keys_only(), c.key)
    renamed = [
        SharedTable(dict(zip(names, cols, strict=True)), t.valid)
        for cols, t in zip(columns, inputs, strict=True)
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
