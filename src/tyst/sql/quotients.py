"""The compiler's ``quotients`` pass: an undeclared ``a / b`` only where it equals DuckDB's.

DuckDB's ``a / b`` is a double; tyst's is the exact quotient rounded to a decimal scale
(:class:`tyst.sql.ir.Divide`). The two agree, to that scale, where the quotient is
*delivered* (an output of the final SELECT, through ``+ − * /``, which keep one fraction) or
*compared* (cross-multiplied exactly). Anywhere else — a derived table's or CTE's column
read later, a ``CASE`` branch, ``COALESCE``, a ``GROUP BY``/``ORDER BY``/``DISTINCT`` key,
an aggregate's argument, a calendar or text function — later steps would use the rounded
decimal where DuckDB uses the double (two quotients equal at the scale would group together
and tie), so this pass refuses the plan with one line, unless the scale is declared
(``ROUND(a / b, s)``, ``CAST(a / b AS DECIMAL(p, s))``: then both engines use that decimal).
"""

from __future__ import annotations

import re
from collections import Counter

from tyst.sql import ir
from tyst.sql.errors import SqlError
from tyst.sql.explain import render_expr


def check_quotients(root: ir.Node) -> None:
    """Raise ``SqlError(..., [quotients])`` for an undeclared quotient whose rounded value
    would be used where DuckDB uses its double (see the module contract)."""
    delivered = _delivered(root)
    for node in root.walk():
        final = delivered.get(id(node), set())
        if isinstance(node, ir.Project):
            for name, e in node.outputs:
                _visit(e, name in final)
            continue
        for e in ir.node_expressions(node):
            _visit(e, False)


def _free(e: ir.Expr) -> bool:
    return isinstance(e, ir.Divide) and e.op == "/" and not e.declared


def _visit(e: ir.Expr, allowed: bool) -> None:
    """Check ``e``; ``allowed``: its value is delivered or compared as it is."""
    if _free(e) and not allowed:
        shown = re.sub(r"#\d+", "", render_expr(e))  # internal names as the SQL's
        raise SqlError(
            "quotients",
            f"{shown}: DuckDB's a / b is a double and tyst's an exact decimal with "
            f"{e.ctype.scale} decimals, which would differ where it is used here (a column read "
            "later, a CASE branch, a key or an aggregate's argument); choose its scale with "
            f"ROUND({shown}, s) or use it only in the final SELECT or in a comparison",
            None,
            None,
        )
    if isinstance(e, ir.Compare):
        inner = True
    elif isinstance(e, ir.Arith) or _free(e):
        inner = allowed  # one fraction: still delivered (or compared) as it is
    else:
        inner = False
    for child in e.children():
        _visit(child, inner)


def _delivered(root: ir.Node) -> dict[int, set[str]]:
    """Per operator, the columns the recipient receives as they are: the root's outputs,
    followed down through bare column references of projections, filters, sorts and windows
    (not their keys or arguments), and not into a subplan with two parents."""
    parents: Counter[int] = Counter(id(c) for n in root.walk() for c in n.children())
    out: dict[int, set[str]] = {}
    node: ir.Node = root
    names = {name for name, _ in root.schema}
    while names and parents[id(node)] <= 1:
        out[id(node)] = names
        if isinstance(node, ir.Project):
            names = {e.name for n, e in node.outputs if n in names and isinstance(e, ir.ColumnRef)}
        elif isinstance(node, ir.OrderLimit):
            names = names - {key for key, _ in node.keys}
        elif isinstance(node, ir.Window):  # its input's columns pass through unchanged
            used = {x for c in node.calls for x in (c.arg, c.default)}
            used |= {*node.partition, *(k for k, _ in node.order)}
            names = names - {c.name for c in node.calls} - used
        elif not isinstance(node, ir.Filter):
            break
        (node,) = node.children()
    return out
