"""``aggregate``: GROUP BY keys (or one global row) computing COUNT, SUM, MIN, MAX and
COUNT(DISTINCT); ``min_group_size`` suppresses small groups."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need, pick
from tyst.relational.aggregate import AggSpec, group_by
from tyst.relational.table import SharedTable
from tyst.sql import ir

_FUNCS = {"COUNT": "count", "SUM": "sum", "MIN": "min", "MAX": "max"}


def execute(ctx: RunContext, node: ir.Aggregate, inputs: Sequence[SharedTable]) -> SharedTable:
    """Side output: per grouped aggregate with ``min_group_size`` > 1 the number of groups
    suppressed (``ctx.suppressed``). A global aggregate's SUM/MIN/MAX/AVG carry their own
    NULL (no rows), so its row count is not delivered."""
    specs = [
        AggSpec(
            "count_distinct" if c.func == "COUNT" and c.distinct else _FUNCS[c.func],  # type: ignore[arg-type]
            c.arg,
            c.name,
        )
        for c in node.calls
    ]
    grouped = group_by(ctx.party, inputs[0], node.keys, specs, min_group_size=node.min_group_size)
    if node.keys and node.min_group_size > 1:
        ctx.suppressed.append(grouped.suppressed)
    return pick(grouped.table, node.schema)


def needs(node: ir.Aggregate, need: Needs) -> tuple[Needs, ...]:
    """Arguments need their key lanes; MIN/MAX of text its bytes (content)."""
    child: Needs = {k: need.get(k, "key") for k in node.keys}
    types = dict(node.input.schema)
    for call in node.calls:
        if call.arg is not None:
            text = call.func in ("MIN", "MAX") and types[call.arg].is_text
            add_need(child, call.arg, "content" if text else "key")
    return (child,)


def explain(node: ir.Aggregate) -> str:
    calls = ", ".join(
        f"{c.func}({'DISTINCT ' if c.distinct else ''}{c.arg or '*'}) AS {c.name}"
        for c in node.calls
    )
    by = f" GROUP BY {', '.join(node.keys)}" if node.keys else " (one row)"
    suppress = (
        f"; groups with < {node.min_group_size} rows suppressed" if node.min_group_size else ""
    )
    return f"aggregate {calls}{by}{suppress}   [sort + segmented scans]"


SPEC = OperatorSpec(
    ir.Aggregate,
    "aggregate",
    execute,
    needs,
    explain,
    algorithm="grouped: one sort on the keys with validity folded into the last key lane, "
    "prefix sums and a copy scan (COUNT, SUM), a segmented scan (MIN, MAX), run starts "
    "(COUNT DISTINCT, one key-only sort per further column), one sort per MIN/MAX of text on "
    "(the keys, its byte-order lanes) whose groups align with the first; global: sums, one inner "
    "product, a pairwise tree for MIN/MAX (tyst.relational.aggregate)",
    output_rows="n (one valid row per group) grouped; 1 global",
    rounds="sort(n) + ≈ 2·log2 n (+ ≈ 24·log2 n with MIN/MAX, + 17 + sort(n) per MIN/MAX of "
    "text); global: 2 for COUNT only, 12 with SUM (its NULL-when-no-rows test), + ≈ 11·log2 n "
    "with MIN/MAX (measured, tests/jobs/test_rounds.py)",
    side_outputs=("suppressed groups (to the recipient)",),
)
