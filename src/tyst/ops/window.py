"""``window``: ROW_NUMBER, RANK, DENSE_RANK, LAG/LEAD and COUNT/SUM/MIN/MAX OVER (PARTITION BY …
ORDER BY …): one sort by (validity, partition, order), then segmented scans."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.data.types import split_null
from tyst.mpc.shares import AShare
from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need, pick
from tyst.relational.ordering import text_sort_lanes
from tyst.relational.table import SharedColumn, SharedTable
from tyst.relational.window import WindowFn, window
from tyst.sql import ir


def _order_lanes(ctx: RunContext, node: ir.Window, table: SharedTable) -> list[tuple[AShare, bool]]:
    """The order keys as ordered words: a nullable key's indicator first (ascending: NULLS
    LAST; NULLS FIRST: descending), then its value; id/text by their UTF-8 bytes (10 sort
    lanes, :func:`tyst.relational.ordering.text_sort_lanes`)."""
    lanes: list[tuple[AShare, bool]] = []
    for name, descending in node.order:
        column = table.column(name)
        if column.ctype.nullable:
            values, null = split_null(column.ctype, column.lanes)
            assert null is not None
            lanes.append((null, name in node.nulls_first))
            column = SharedColumn(column.ctype.base, tuple(values))
        if column.ctype.is_text:
            lanes += [(x, descending) for x in text_sort_lanes(ctx.party, column)]
        else:
            lanes.append((column.lanes[0], descending))
    return lanes


def execute(ctx: RunContext, node: ir.Window, inputs: Sequence[SharedTable]) -> SharedTable:
    """A LAG/LEAD result takes its argument's lanes as they arrive (key lanes only when the
    plan needs no more of it), made nullable where the plan's type is."""
    (table,) = inputs
    table = pick(table, node.input.schema)
    partition = [x for name in node.partition for x in table.column(name).key]
    calls = []
    for c in node.calls:
        ctype = c.ctype
        if c.func in ("LAG", "LEAD"):
            assert c.arg is not None
            arg = table.column(c.arg).ctype
            ctype = arg.with_nulls() if c.ctype.nullable else arg
        calls.append(WindowFn(c.func.lower(), c.arg, c.name, ctype, c.frame, c.offset, c.default))
    out = window(ctx.party, table, partition, _order_lanes(ctx, node, table), calls)
    return pick(out, node.schema)


def needs(node: ir.Window, need: Needs) -> tuple[Needs, ...]:
    """Passed-through columns keep what is needed of them; partition keys need their key
    lanes, order keys their value (id/text: the bytes), aggregate arguments their value, and
    a LAG/LEAD argument (and default) what is needed of the result."""
    inputs = {name for name, _ in node.input.schema}
    child: Needs = {name: level for name, level in need.items() if name in inputs}
    types = dict(node.input.schema)
    for k in node.partition:
        add_need(child, k, "key")
    for k, _ in node.order:
        add_need(child, k, "content" if types[k].is_text else "key")
    for c in node.calls:
        level = need.get(c.name, "key") if c.func in ("LAG", "LEAD") else "key"
        for col in (c.arg, c.default):
            if col is not None:
                add_need(child, col, level)
    return (child,)


def _call(c: ir.WindowCall) -> str:
    if c.func in ("LAG", "LEAD"):
        extra = f", {c.offset}" + (f", {c.default}" if c.default else "")
        return f"{c.func}({c.arg}{extra})"
    frame = {"partition": "", "range": " RANGE", "rows": " ROWS"}[c.frame]
    arg = c.arg or ("*" if c.func == "COUNT" else "")
    return f"{c.func}({arg}){frame if c.func in ('COUNT', 'SUM', 'MIN', 'MAX') else ''}"


def explain(node: ir.Window) -> str:
    calls = ", ".join(f"{_call(c)} AS {c.name}" for c in node.calls)
    parts = []
    if node.partition:
        parts.append("PARTITION BY " + ", ".join(node.partition))
    if node.order:
        parts.append("ORDER BY " + ", ".join(f"{n}{' DESC' if d else ''}" for n, d in node.order))
    return f"window {calls} OVER ({' '.join(parts)})   [sort + segmented scans]"


SPEC = OperatorSpec(
    ir.Window,
    "window",
    execute,
    needs,
    explain,
    algorithm="one stable sort on (partition keys with validity folded into the last, order "
    "keys); partition and peer starts; running totals by prefix sums and one copy scan "
    "(ROW_NUMBER, DENSE_RANK, COUNT, SUM), a segmented scan (MIN, MAX), backward copy scans "
    "for RANGE and whole-partition frames, a forward copy scan for RANK; LAG/LEAD by a public "
    "shift masked at partition edges (tyst.relational.window); like every sort it opens only "
    "comparison outcomes of shuffled, distinct keys (simulatable from n)",
    output_rows="n (every input row, reordered)",
    rounds="sort(n) + ≈ 2·log2 n per scan (≤ 4 scans) (+ ≈ 24·log2 n with MIN/MAX) + ≈ 20",
)
