"""``broadcast``: a one-row relation's columns copied to every row of another (an uncorrelated
scalar subquery's value, read wherever the outer query uses it).

The one row is a global aggregate's (always valid; :class:`tyst.sql.ir.Broadcast`). Each party
copies its own pair of shares of that row n times: the copies are a valid replicated sharing of
the same value, so nothing is computed, sent or opened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tyst.ops.spec import Needs, OperatorSpec, RunContext, pick
from tyst.relational.table import SharedTable
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.Broadcast, inputs: Sequence[SharedTable]) -> SharedTable:
    table, scalar = inputs
    if len(scalar) != 1:  # the compiler builds a broadcast over a global aggregate only
        raise AssertionError(f"a broadcast needs a one-row relation, got {len(scalar)} rows")
    every = np.zeros(len(table), dtype=np.intp)  # public: row 0, n times
    copied = {name: column.take(every) for name, column in scalar.columns.items()}
    return pick(SharedTable({**table.columns, **copied}, table.valid), node.schema)


def needs(node: ir.Broadcast, need: Needs) -> tuple[Needs, ...]:
    scalar_names = {n for n, _ in node.scalar.schema}
    outer = {n: v for n, v in need.items() if n not in scalar_names}
    inner = {n: v for n, v in need.items() if n in scalar_names}
    return outer, inner


def explain(node: ir.Broadcast) -> str:
    names = ", ".join(n for n, _ in node.scalar.schema)
    return f"broadcast {names} to every row   [local copies of one row's shares]"


SPEC = OperatorSpec(
    ir.Broadcast,
    "broadcast",
    execute,
    needs,
    explain,
    algorithm="the one row of a global aggregate (a scalar subquery) copied to every row: each "
    "party repeats its own shares (local)",
    output_rows="n (the other input's rows)",
    rounds="0",
)
