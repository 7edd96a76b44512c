"""Which input columns a plan needs, and which id/text columns need their content.

Every lane a table carries costs memory, shuffle and sort traffic in every
join, grouping and ordering it passes through. An ``id``/``text`` column has
2 key lanes and 8 content lanes; the content is needed only where the value
itself reaches the recipient. A column used only to join, group, compare or
count (the person number of a count-only control, say) needs its key lanes
only, and a column the query never mentions needs nothing.

:func:`scan_needs` walks the plan from the root and returns, for every
scanned column (``alias.column``), ``"content"`` (all lanes), ``"key"`` (the
key lanes; for non-text columns the one lane) or nothing (drop it).
The analysis is conservative: anything that might return a text value (a
column passed through to the output, or a text-typed expression such as a
``CASE``) keeps its content.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from tyst.sql import ir

Need = Literal["key", "content"]


def _max(a: Need | None, b: Need) -> Need:
    return "content" if "content" in (a, b) else "key"


def _refs(e: ir.Expr) -> Iterator[ir.ColumnRef]:
    if isinstance(e, ir.ColumnRef):
        yield e
        return
    for value in vars(e).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            for sub in item if isinstance(item, tuple) else (item,):
                if isinstance(sub, ir.Expr):
                    yield from _refs(sub)


def _add(need: dict[str, Need], name: str, level: Need) -> None:
    need[name] = _max(need.get(name), level)


def scan_needs(root: ir.Node) -> dict[str, Need]:
    """``alias.column`` → what the plan needs of that scanned column (absent: nothing)."""
    out: dict[str, Need] = {}
    _walk(root, {name: "content" for name, _ in root.schema}, out)
    return out


def _walk(node: ir.Node, need: dict[str, Need], out: dict[str, Need]) -> None:
    if isinstance(node, ir.Scan):
        for name, scanned in need.items():
            _add(out, name, scanned)
        return
    if isinstance(node, ir.Project):
        child: dict[str, Need] = {}
        for name, expr in node.outputs:  # every output is evaluated, so every ref is needed
            wanted = need.get(name)
            if isinstance(expr, ir.ColumnRef):
                _add(child, expr.name, wanted or "key")
                continue
            level: Need = "content" if expr.ctype.is_text and wanted == "content" else "key"
            for ref in _refs(expr):
                _add(child, ref.name, level)
        _walk(node.input, child, out)
        return
    if isinstance(node, ir.Filter):
        child = dict(need)
        for ref in _refs(node.predicate):
            _add(child, ref.name, "key")
        _walk(node.input, child, out)
        return
    if isinstance(node, ir.Join):
        left_names = {n for n, _ in node.left.schema}
        left = {n: v for n, v in need.items() if n in left_names}
        right = {n: v for n, v in need.items() if n not in left_names}
        for k in node.left_keys:
            _add(left, k, "key")
        for k in node.right_keys:
            _add(right, k, "key")
        _walk(node.left, left, out)
        _walk(node.right, right, out)
        return
    if isinstance(node, ir.SemiJoin):
        child = dict(need)
        for k in node.input_keys:
            _add(child, k, "key")
        _walk(node.input, child, out)
        _walk(node.subquery, {k: "key" for k in node.subquery_keys}, out)
        return
    if isinstance(node, ir.Aggregate):
        child = {k: need.get(k, "key") for k in node.keys}
        for call in node.calls:
            if call.arg is not None:
                _add(child, call.arg, "key")
        _walk(node.input, child, out)
        return
    if isinstance(node, ir.Distinct):
        _walk(node.input, {n: need.get(n, "key") for n, _ in node.input.schema}, out)
        return
    if isinstance(node, ir.OrderLimit):
        child = dict(need)
        for k, _ in node.keys:
            _add(child, k, "key")
        _walk(node.input, child, out)
        return
    if isinstance(node, ir.UnionAll):
        levels = [need.get(n, "key") for n, _ in node.schema]
        for branch in node.inputs:  # positional: every branch keeps every column
            names = [n for n, _ in branch.schema]
            _walk(branch, dict(zip(names, levels, strict=True)), out)
        return
    raise TypeError(f"no pruning rule for {type(node).__name__}")


def table_needs(root: ir.Node) -> dict[str, dict[str, Need]]:
    """Per input table, per column: what any scan of it needs (the owners share only this)."""
    aliases: dict[str, str] = {}

    def walk(node: ir.Node) -> None:
        if isinstance(node, ir.Scan):
            aliases[node.alias] = node.table
        for child in node.children():
            walk(child)

    walk(root)
    out: dict[str, dict[str, Need]] = {}
    for name, level in scan_needs(root).items():
        alias, column = name.split(".", 1)
        columns = out.setdefault(aliases[alias], {})
        columns[column] = _max(columns.get(column), level)
    return out
