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

The same holds for ``PERCENTILE_CONT`` of ints at a q other than 0, 1/2 and 1 (DuckDB: an
inexact DOUBLE; tyst: the exact decimal), which may only be delivered as it is.
"""

from __future__ import annotations

import re
from collections import Counter

from tyst.sql import ir
from tyst.sql.errors import SqlError
from tyst.sql.explain import render_expr


def check_quotients(root: ir.Node) -> None:
    """Raise ``SqlError(..., [quotients])`` for an undeclared quotient whose rounded value
    would be used where DuckDB uses its double (see the module contract), and for an inexact
    percentile of ints used anywhere but delivered (:func:`_check_percentiles`)."""
    _check_percentiles(root)
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


def _double_percentile(call: ir.AggregateCall) -> bool:
    """A PERCENTILE_CONT (QUANTILE_CONT) of ints whose DuckDB DOUBLE is not exact: tyst's
    exact decimal (b = 10^t ≥ 10, no shift) at a q other than 0, 1/2 and 1."""
    if call.func != "PERCENTILE_CONT" or call.q is None or call.shift or call.q[1] < 10:
        return False
    num, den = call.q
    return (2 * num) % den != 0


def _check_percentiles(root: ir.Node) -> None:
    """DuckDB's PERCENTILE_CONT of ints is a double, exact only at q = 0, 1/2, 1 (within the
    bounds the ``ranges`` pass checks); tyst's is the exact decimal. At any other q the two
    agree where the value is delivered, but a comparison, arithmetic, key or later read could
    tell them apart: such a use is refused with one line."""
    calls = {
        c.name: c
        for node in root.walk()
        if isinstance(node, ir.Aggregate)
        for c in node.calls
        if _double_percentile(c)
    }
    if not calls:
        return
    tracked = dict.fromkeys(calls, "")
    for node in reversed(root.walk()):  # aliases by bare references, bottom up
        if isinstance(node, ir.Project):
            for name, e in node.outputs:
                if isinstance(e, ir.ColumnRef) and e.name in tracked:
                    tracked[name] = tracked[e.name] or e.name
    delivered = _delivered(root)
    aggregates = [n for n in root.walk() if isinstance(n, ir.Aggregate)]
    misused = [
        name
        for node in aggregates
        for name in (c.name for c in node.calls if c.name in calls)
        if name not in delivered.get(id(node), set())
    ]
    for node in root.walk():
        bare = isinstance(node, ir.Project | ir.OrderLimit | ir.Window)
        for e in ir.node_expressions(node):
            if isinstance(e, ir.ColumnRef) and bare and not isinstance(node, ir.OrderLimit):
                continue
            misused += [r.name for r in e.refs() if r.name in tracked]
        misused += [k for k in _keys_and_arguments(node) if k in tracked]
    if misused:
        call = calls[tracked[misused[0]] or misused[0]]
        num, den = call.q or (0, 1)
        raise SqlError(
            "quotients",
            f"PERCENTILE_CONT({num}/{den}) of an int is an inexact DOUBLE in DuckDB and an exact "
            "decimal in tyst, which would differ where it is used here (a comparison, "
            "arithmetic, a key or a column read later); use it only in the final SELECT, or at "
            "q = 0.5 (MEDIAN)",
            None,
            None,
        )


def _keys_and_arguments(node: ir.Node) -> list[str]:
    """The columns an operator reads by name: sort, group, join and partition keys, the
    arguments of aggregates and windows, every column of a DISTINCT."""
    if isinstance(node, ir.OrderLimit):
        return [k for k, _ in node.keys]
    if isinstance(node, ir.Aggregate):
        return [*node.keys, *(c.arg for c in node.calls if c.arg)]
    if isinstance(node, ir.Window):
        calls = [x for c in node.calls for x in (c.arg, c.default) if x]
        return [*node.partition, *(k for k, _ in node.order), *calls]
    if isinstance(node, ir.Join):
        return [*node.left_keys, *node.right_keys]
    if isinstance(node, ir.SemiJoin):
        return [*node.input_keys, *node.subquery_keys]
    if isinstance(node, ir.Distinct):
        return [name for name, _ in node.schema]
    return []
