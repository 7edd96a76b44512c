"""``semi join`` / ``anti join``: ``IN (SELECT …)``, ``EXISTS`` and their negations."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need
from tyst.relational.join import semi_join
from tyst.relational.null_keys import narrowed, null_safe_keys
from tyst.relational.table import SharedTable
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.SemiJoin, inputs: Sequence[SharedTable]) -> SharedTable:
    """A NULL key matches nothing: the subquery's NULL-key rows are dropped, the input's stay
    (an anti-join keeps them) (:mod:`tyst.relational.null_keys`)."""
    left, right = inputs
    types = {**dict(node.input.schema), **dict(node.subquery.schema)}
    left = null_safe_keys(
        ctx.party, left, node.input_keys, [types[k] for k in node.subquery_keys], drop_nulls=False
    )
    right = null_safe_keys(
        ctx.party, right, node.subquery_keys, [types[k] for k in node.input_keys], drop_nulls=True
    )
    out = semi_join(ctx.party, left, right, node.input_keys, node.subquery_keys, anti=node.anti)
    return narrowed(SharedTable(dict(out.columns), out.valid), dict(node.input.schema))


def needs(node: ir.SemiJoin, need: Needs) -> tuple[Needs, ...]:
    child = dict(need)
    for k in node.input_keys:
        add_need(child, k, "key")
    return child, {k: "key" for k in node.subquery_keys}


def explain(node: ir.SemiJoin) -> str:
    keys = " AND ".join(
        f"{a} = {b}" for a, b in zip(node.input_keys, node.subquery_keys, strict=True)
    )
    return f"{'anti' if node.anti else 'semi'} join ON {keys}   [oblivious, sort-based]"


SPEC = OperatorSpec(
    ir.SemiJoin,
    "semi / anti join",
    execute,
    needs,
    explain,
    algorithm="as the PK–FK join, copying only 'a valid row of the subquery exists' "
    "(tyst.relational.join.semi_join)",
    output_rows="n_left",
    rounds="sort(n_left + n_right) + ≈ 2·log2 n + 16",
)
