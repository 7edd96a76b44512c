"""SQL-like text of IR expressions (for ``tyst check``, plans and error messages); operators
explain themselves in the registry (:mod:`tyst.ops.registry`)."""

from __future__ import annotations

from decimal import Decimal

from tyst.sql import ir


def render_expr(e: ir.Expr) -> str:
    """SQL-like text of an IR expression (column names as ``alias.column``)."""
    if isinstance(e, ir.ColumnRef):
        return e.name
    if isinstance(e, ir.Literal) and e.value is None:
        return "NULL"
    if isinstance(e, ir.IsNull):
        return f"{render_expr(e.arg)} {'IS NOT NULL' if e.negated else 'IS NULL'}"
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
    if isinstance(e, ir.Like):
        return f"{render_expr(e.arg)} {'NOT LIKE' if e.negated else 'LIKE'} {e.pattern.text!r}"
    if isinstance(e, ir.Substring):
        length = "" if e.length is None else f", {e.length}"
        return f"SUBSTRING({render_expr(e.arg)}, {e.start}{length})"
    if isinstance(e, ir.CaseMap):
        return f"{'UPPER' if e.upper else 'LOWER'}({render_expr(e.arg)})"
    if isinstance(e, ir.TextLength):
        return f"LENGTH({render_expr(e.arg)})"
    if isinstance(e, ir.Rescaled):
        return f"({format(Decimal(10) ** e.power, 'f')} * {render_expr(e.arg)})"
    if isinstance(e, ir.Concat):
        return "(" + " || ".join(render_expr(a) for a in e.args) + ")"
    if isinstance(e, ir.Calendar):
        if e.what.startswith("trunc_"):
            return f"DATE_TRUNC('{e.what.removeprefix('trunc_')}', {render_expr(e.arg)})"
        if e.what == "last_day":
            return f"LAST_DAY({render_expr(e.arg)})"
        if e.what in ("month_index", "quarter_index", "month_day"):  # see ir.CALENDAR_OTHERS
            return f"{e.what.upper()}({render_expr(e.arg)})"
        return f"EXTRACT({e.what.upper()} FROM {render_expr(e.arg)})"
    if isinstance(e, ir.MonthShift):
        return f"({render_expr(e.arg)} + INTERVAL '{e.months}' MONTH)"
    if isinstance(e, ir.Divide):
        shown = f"({render_expr(e.left)} {e.op} {render_expr(e.right)})"
        if isinstance(e.right, ir.Literal) and e.right.value == 1 and e.declared:
            shown = render_expr(e.left)  # ROUND(x, s) or a narrowing CAST
        return f"ROUND({shown}, {e.ctype.scale})" if e.declared else shown
    if isinstance(e, ir.Ratio):
        return (
            f"{render_expr(e.numerator)} / {render_expr(e.denominator)} (divided by the recipient)"
        )
    raise TypeError(f"unknown expression {type(e).__name__}")
