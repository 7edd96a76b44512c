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
``CASE``) keeps its content. It is a fold over the operator registry: each
operator's ``needs`` rule (:mod:`tyst.ops`) says what it needs of its children,
and each expression kind says what it reads of the columns it references.
"""

from __future__ import annotations

from tyst.ops.registry import spec_of
from tyst.ops.spec import Need, Needs, add_need
from tyst.sql import ir

__all__ = ["Need", "node_needs", "scan_needs", "table_needs"]


def scan_needs(root: ir.Node) -> dict[str, Need]:
    """``alias.column`` → what the plan needs of that scanned column (absent: nothing)."""
    out: Needs = {}

    def walk(node: ir.Node, need: Needs) -> None:
        if isinstance(node, ir.Scan):
            for name, level in need.items():
                add_need(out, name, level)
            return
        wanted = spec_of(node).needs(node, need)
        for child, child_need in zip(node.children(), wanted, strict=True):
            walk(child, child_need)

    walk(root, {name: "content" for name, _ in root.schema})
    return out


def node_needs(root: ir.Node) -> dict[int, Needs]:
    """Per operator (``id``): what the plan needs of its output columns (absent: nothing; a
    subplan with two parents: what either needs) — the same fold as :func:`scan_needs`."""
    out: dict[int, Needs] = {}

    def walk(node: ir.Node, need: Needs) -> None:
        mine = out.setdefault(id(node), {})
        for name, level in need.items():
            add_need(mine, name, level)
        wanted = spec_of(node).needs(node, need)
        for child, child_need in zip(node.children(), wanted, strict=True):
            walk(child, child_need)

    walk(root, {name: "content" for name, _ in root.schema})
    return out


def table_needs(root: ir.Node) -> dict[str, dict[str, Need]]:
    """Per input table, per column: what any scan of it needs (the owners share only this)."""
    aliases = {n.alias: n.table for n in root.walk() if isinstance(n, ir.Scan)}
    out: dict[str, dict[str, Need]] = {}
    for name, level in scan_needs(root).items():
        alias, column = name.split(".", 1)
        add_need(out.setdefault(aliases[alias], {}), column, level)
    return out
