"""``order by … limit``: one stable oblivious sort, valid rows first, then a public prefix."""

from __future__ import annotations

from collections.abc import Sequence

from tyst.data.types import split_null
from tyst.ops.spec import Needs, OperatorSpec, RunContext, add_need, pick
from tyst.relational.ordering import fraction_sort_lanes, order_limit, text_sort_lanes
from tyst.relational.table import SharedColumn, SharedTable
from tyst.sql import ir
from tyst.sql.ir import INT


def execute(ctx: RunContext, node: ir.OrderLimit, inputs: Sequence[SharedTable]) -> SharedTable:
    """id/text keys are ordered by their UTF-8 bytes: their sort lanes
    (:func:`tyst.relational.ordering.text_sort_lanes`) join the table as temporary int
    columns, ordered in place of the text column, and are dropped after. A nullable key is
    ordered by its null indicator first (ascending: NULLS LAST; descending: NULLS FIRST),
    then by its value lanes as temporary columns. An AVG key is ordered by the two lanes of
    its exact fraction (:func:`tyst.relational.ordering.fraction_sort_lanes`)."""
    table = inputs[0]
    columns = dict(table.columns)
    keys: list[tuple[str, bool]] = []
    fractions = {name: (top, rows, null) for name, top, rows, null in node.fractions}
    for name, descending in node.keys:
        column = table.column(name)
        if column.ctype.kind == "ratio":
            top, rows, nullable = fractions[name]  # from the ranges pass (KeyError: a bug)
            total, count = column.lanes
            lanes = fraction_sort_lanes(ctx.party, total, count, top, rows, nullable)
            if nullable:
                columns[f"\0null:{name}"] = SharedColumn(INT, (lanes[0],))
                keys.append((f"\0null:{name}", name in node.nulls_first))
            for i, lane in enumerate(lanes[-2:]):
                columns[f"\0avg{i}:{name}"] = SharedColumn(INT, (lane,))
                keys.append((f"\0avg{i}:{name}", descending))
            continue
        if column.ctype.nullable:
            values, null = split_null(column.ctype, column.lanes)
            assert null is not None
            columns[f"\0null:{name}"] = SharedColumn(INT, (null,))
            keys.append((f"\0null:{name}", name in node.nulls_first))
            column = SharedColumn(column.ctype.base, tuple(values))
            if not column.ctype.is_text:
                columns[f"\0value:{name}"] = column
                keys.append((f"\0value:{name}", descending))
                continue
        if not column.ctype.is_text:
            keys.append((name, descending))
            continue
        for i, lane in enumerate(text_sort_lanes(ctx.party, column)):
            temporary = f"\0sort{i}:{name}"
            columns[temporary] = SharedColumn(INT, (lane,))
            keys.append((temporary, descending))
    ordered = order_limit(ctx.party, SharedTable(columns, table.valid), keys, node.limit)
    return pick(ordered, node.schema)


def needs(node: ir.OrderLimit, need: Needs) -> tuple[Needs, ...]:
    """Order keys need their value; id/text keys need their content (the bytes)."""
    child = dict(need)
    types = dict(node.input.schema)
    for k, _ in node.keys:
        add_need(child, k, "content" if types[k].is_text else "key")
    return (child,)


def explain(node: ir.OrderLimit) -> str:
    keys = ", ".join(f"{n}{' DESC' if d else ''}" for n, d in node.keys)
    limit = f" LIMIT {node.limit}" if node.limit is not None else ""
    return f"order by {keys}{limit}   [oblivious sort]"


SPEC = OperatorSpec(
    ir.OrderLimit,
    "order by … limit",
    execute,
    needs,
    explain,
    algorithm="invalid rows' first key replaced by the extreme value, one stable sort (one "
    "per 31 key lanes beyond 31, the last block first), a public prefix "
    "(tyst.relational.ordering); an id/text key sorts by its UTF-8 bytes as 10 "
    "integer lanes (a2b, local byte moves, b2a); an AVG key sorts by its exact fraction as two "
    "lanes (restoring division: whole part, then ⌈log2 c²⌉ fraction bits, c its largest count)",
    output_rows="min(m, n)",
    rounds="sort(n) + ≈ 3 (+ ≈ 17 per id/text key, + 11·(bits of the largest AVG + ⌈log2 c²⌉) + 15 "
    "per AVG key)",
)
