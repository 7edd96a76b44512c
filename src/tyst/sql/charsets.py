"""The compiler's ``charsets`` pass: ``LOWER``/``UPPER`` only where they equal DuckDB's.

tyst's case mapping (:data:`tyst.relational.strings.CASE_MAPPED`) equals DuckDB's for every
character up to U+00FF except ``UPPER('ß')`` (DuckDB: 'ẞ', three bytes); DuckDB maps the rest
of Unicode too. So a case mapping is exact only when its argument can hold nothing else, and
that is what this pass proves from public facts, or it refuses the plan before any data moves:

- a text column declares the range of its characters in the plan,
  ``[tables.T] ranges = { namn = ["\\u0001", "ÿ"] }`` (code points, inclusive), which owners'
  readers and ``tyst check --data`` enforce (:func:`tyst.data.files.range_problems`);
  an undeclared text column may hold any character;
- a text literal holds its own characters; text computed from text (``SUBSTRING``, ``||``,
  ``CASE``, ``COALESCE``…) holds at most the characters of its text operands; ``LOWER`` of
  Latin-1 stays Latin-1; ``UPPER`` of Latin-1 may give Ÿ (U+0178) and Μ (U+039C);
- ``LOWER(x)`` needs every character of ``x`` ≤ U+00FF; ``UPPER(x)`` also needs ß
  (U+00DF) impossible (a declared range below or above it).

Facts flow through the plan by column name as in :mod:`tyst.sql.ranges`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tyst.data.types import TableBounds
from tyst.sql import ir
from tyst.sql.errors import SqlError
from tyst.sql.explain import render_expr

LATIN1_LAST = 0xFF
SHARP_S = 0xDF
UPPER_LAST = 0x39C
"""The highest code point ``UPPER`` gives for Latin-1 input (µ → Μ)."""


@dataclass(frozen=True)
class Chars:
    """What characters a text value may hold: up to code point ``last``, and ß or not."""

    last: int
    sharp_s: bool

    def union(self, other: Chars) -> Chars:
        return Chars(max(self.last, other.last), self.sharp_s or other.sharp_s)


NONE = Chars(0, False)
"""A value with no characters (not text, or an empty literal)."""

Known = Chars | None
"""None: any character of Unicode."""


def _union(parts: list[Known]) -> Known:
    out: Known = NONE
    for p in parts:
        if p is None or out is None:
            return None
        out = out.union(p)
    return out


def check_charsets(root: ir.Node, bounds: Mapping[str, TableBounds]) -> None:
    """Raise ``SqlError(..., [charsets])`` for a ``LOWER``/``UPPER`` that could differ from
    DuckDB's (see the module contract)."""
    _Charsets(bounds).node(root)


class _Charsets:
    def __init__(self, bounds: Mapping[str, TableBounds]) -> None:
        self.bounds = bounds
        self.done: dict[int, dict[str, Known]] = {}

    def node(self, node: ir.Node) -> dict[str, Known]:
        if id(node) not in self.done:
            self.done[id(node)] = self.compute(node)
        return self.done[id(node)]

    def compute(self, node: ir.Node) -> dict[str, Known]:
        if isinstance(node, ir.Scan):
            return self.scan(node)
        children = [self.node(c) for c in node.children()]
        if isinstance(node, ir.UnionAll):
            return {
                name: _union(
                    [
                        facts.get(branch.schema[i][0])
                        for facts, branch in zip(children, node.inputs, strict=True)
                    ]
                )
                for i, (name, _) in enumerate(node.schema)
            }
        cols: dict[str, Known] = {}
        for facts in children:
            cols.update(facts)
        if isinstance(node, ir.Project):
            return {name: self.expr(e, cols) for name, e in node.outputs}
        for e in ir.node_expressions(node):
            self.expr(e, cols)
        if isinstance(node, ir.Aggregate):
            out = {k: cols.get(k) for k in node.keys}
            for call in node.calls:
                text = call.ctype.is_text and call.arg is not None
                out[call.name] = cols.get(call.arg) if text and call.arg else NONE
            return out
        if isinstance(node, ir.Window):  # LAG/LEAD hold their argument's (or default's)
            out = {name: cols.get(name) for name, _ in node.input.schema}
            for c in node.calls:
                shifted = c.func in ("LAG", "LEAD")
                out[c.name] = (
                    _union([cols.get(x) for x in (c.arg, c.default) if x]) if shifted else NONE
                )
            return out
        return {name: cols.get(name) for name, _ in node.schema}

    def scan(self, node: ir.Scan) -> dict[str, Known]:
        decl = self.bounds.get(node.table, TableBounds())
        out: dict[str, Known] = {}
        for name, ctype in node.schema:
            column = name.split(".", 1)[1]
            if not ctype.is_text:
                out[name] = NONE
            elif column in decl.values:
                low, high = (int(x) for x in decl.values[column])
                out[name] = Chars(high, low <= SHARP_S <= high)
            else:
                out[name] = None
        return out

    def expr(self, e: ir.Expr, cols: Mapping[str, Known]) -> Known:
        """The characters ``e``'s value may hold, after checking every case mapping in it."""
        parts = [self.expr(c, cols) for c in e.children()]
        if isinstance(e, ir.ColumnRef):
            return cols.get(e.name) if e.ctype.is_text else NONE
        if isinstance(e, ir.Literal):
            if isinstance(e.value, str):
                return Chars(max(map(ord, e.value), default=0), "ß" in e.value)
            return NONE
        if isinstance(e, ir.CaseMap):
            return self.case_map(e, parts[0])
        if not e.ctype.is_text:
            return NONE
        return _union([p for p, c in zip(parts, e.children(), strict=True) if c.ctype.is_text])

    def case_map(self, e: ir.CaseMap, arg: Known) -> Chars:
        name = "UPPER" if e.upper else "LOWER"
        shown = render_expr(e)
        if arg is None or arg.last > LATIN1_LAST:
            raise SqlError(
                "charsets",
                f"{shown}: {name} equals DuckDB's only for characters up to U+00FF (ÿ); "
                'declare the text column\'s characters, e.g. ranges = { namn = ["\\u0001", "ÿ"] }',
                None,
                None,
            )
        if e.upper and arg.sharp_s:
            raise SqlError(
                "charsets",
                f"{shown}: DuckDB's UPPER maps ß to ẞ (3 bytes), which tyst does not, and the "
                "argument may hold ß (U+00DF); declare a character range without it, or use LOWER",
                None,
                None,
            )
        if e.upper:
            return Chars(UPPER_LAST if arg.last >= 0xB5 else arg.last, False)
        return arg
