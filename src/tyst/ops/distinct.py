"""``distinct``: one valid row per distinct row (GROUP BY all columns)."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext, pick
from tyst.relational.aggregate import distinct
from tyst.relational.table import SharedTable
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.Distinct, inputs: Sequence[SharedTable]) -> SharedTable:
    return pick(distinct(ctx.party, inputs[0]), node.schema)


def needs(node: ir.Distinct, need: Needs) -> tuple[Needs, ...]:
    return ({n: need.get(n, "key") for n, _ in node.input.schema},)


def explain(node: ir.Distinct) -> str:
    return "distinct   [sort + adjacent equality]"


SPEC = OperatorSpec(
    ir.Distinct,
    "distinct",
    execute,
    needs,
    explain,
    algorithm="GROUP BY all columns (tyst.relational.aggregate.distinct)",
    output_rows="n (one valid row per distinct row)",
    rounds="sort(n) + ≈ 2·log2 n + 11",
)
