"""Human-readable rendering of a compiled plan and of what it reveals (for ``tyst check``)."""

from __future__ import annotations

from tyst.sql import ir


def render_expr(e: ir.Expr) -> str:
    """SQL-like text of an IR expression (column names as ``alias.column``)."""
    if isinstance(e, ir.ColumnRef):
        return e.name
    if isinstance(e, ir.Literal):
        return repr(e.value) if isinstance(e.value, str) else str(e.value)
    if isinstance(e, ir.Arith | ir.Compare):
        return f"({render_expr(e.left)} {e.op} {render_expr(e.right)})"
    if isinstance(e, ir.Logic):
        return "(" + f" {e.op} ".join(render_expr(a) for a in e.args) + ")"
    if isinstance(e, ir.Not):
        return f"NOT {render_expr(e.arg)}"
    if isinstance(e, ir.Case):
        whens = " ".join(f"WHEN {render_expr(c)} THEN {render_expr(v)}" for c, v in e.whens)
        return f"CASE {whens} ELSE {render_expr(e.default)} END"
    if isinstance(e, ir.InList):
        values = ", ".join(render_expr(v) for v in e.values)
        return f"{render_expr(e.arg)} {'NOT IN' if e.negated else 'IN'} ({values})"
    if isinstance(e, ir.Ratio):
        return (
            f"{render_expr(e.numerator)} / {render_expr(e.denominator)} (divided by the recipient)"
        )
    raise TypeError(f"unknown expression {type(e).__name__}")


def _describe(node: ir.Node) -> str:
    if isinstance(node, ir.Scan):
        return f"scan {node.table} AS {node.alias}"
    if isinstance(node, ir.Filter):
        return f"filter {render_expr(node.predicate)}   [clears validity bits]"
    if isinstance(node, ir.Project):
        return "project " + ", ".join(
            n if isinstance(e, ir.ColumnRef) and e.name == n else f"{render_expr(e)} AS {n}"
            for n, e in node.outputs
        )
    if isinstance(node, ir.Join):
        keys = " AND ".join(
            f"{a} = {b}" for a, b in zip(node.left_keys, node.right_keys, strict=True)
        )
        return f"{node.kind} join ON {keys}   [oblivious sort-based PK–FK join]"
    if isinstance(node, ir.SemiJoin):
        keys = " AND ".join(
            f"{a} = {b}" for a, b in zip(node.input_keys, node.subquery_keys, strict=True)
        )
        return f"{'anti' if node.anti else 'semi'} join ON {keys}   [oblivious, sort-based]"
    if isinstance(node, ir.Aggregate):
        calls = ", ".join(
            f"{c.func}({'DISTINCT ' if c.distinct else ''}{c.arg or '*'}) AS {c.name}"
            for c in node.calls
        )
        by = f" GROUP BY {', '.join(node.keys)}" if node.keys else " (one row)"
        suppress = (
            f"; groups with < {node.min_group_size} rows suppressed" if node.min_group_size else ""
        )
        return f"aggregate {calls}{by}{suppress}   [sort + segmented scans]"
    if isinstance(node, ir.Distinct):
        return "distinct   [sort + adjacent equality]"
    if isinstance(node, ir.OrderLimit):
        keys = ", ".join(f"{n}{' DESC' if d else ''}" for n, d in node.keys)
        limit = f" LIMIT {node.limit}" if node.limit is not None else ""
        return f"order by {keys}{limit}   [oblivious sort]"
    if isinstance(node, ir.UnionAll):
        return "union all   [concatenation]"
    raise TypeError(f"unknown operator {type(node).__name__}")


def render_plan(node: ir.Node, indent: int = 0) -> str:
    """The operator tree, one operator per line, children indented."""
    lines = ["  " * indent + _describe(node)]
    for child in node.children():
        lines.append(render_plan(child, indent + 1))
    return "\n".join(lines)
