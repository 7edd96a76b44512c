"""The operator registry: every logical operator's spec, by IR node type.

``OPERATORS[type(node)]`` is the only way the engine, pruning, ``explain``, ``tyst check`` and
the generated ``docs/operators.md`` learn what an operator does; a test fails when an
``ir.Node`` subclass has no spec (:func:`missing_specs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tyst.ops import (
    aggregate,
    bounded_aggregate,
    broadcast,
    distinct,
    filter,
    join,
    order_limit,
    project,
    scan,
    semi_join,
    union_all,
    window,
)
from tyst.ops.expressions import EXPRESSIONS, NULL_ROUNDS
from tyst.ops.spec import AnySpec, Disclosure
from tyst.sql import ir

OPERATORS: Mapping[type[ir.Node], AnySpec] = {
    s.node: s
    for s in (
        scan.SPEC,
        filter.SPEC,
        project.SPEC,
        join.SPEC,
        semi_join.SPEC,
        broadcast.SPEC,
        aggregate.SPEC,
        distinct.SPEC,
        order_limit.SPEC,
        union_all.SPEC,
        window.SPEC,
        bounded_aggregate.SPEC,
    )
}


def spec_of(node: ir.Node) -> AnySpec:
    """The spec of ``node``'s operator (``TypeError`` for an operator without one)."""
    try:
        return OPERATORS[type(node)]
    except KeyError:
        raise TypeError(f"no operator spec for {type(node).__name__}") from None


def missing_specs() -> list[str]:
    """IR node and expression types without a spec (must be empty)."""
    nodes = [c for c in _subclasses(ir.Node) if c not in OPERATORS]
    exprs = [c for c in _subclasses(ir.Expr) if c not in EXPRESSIONS]
    return [c.__name__ for c in (*nodes, *exprs)]


def _subclasses(base: type[Any]) -> list[type[Any]]:
    out: list[type[Any]] = []
    subs: list[type[Any]] = base.__subclasses__()
    for sub in subs:
        out += [sub, *_subclasses(sub)]
    return out


def disclosures(root: ir.Node) -> list[tuple[str, Disclosure]]:
    """What running ``root`` opens: (operator, disclosure) once per operator kind, in plan
    order (the same disclosure of two joins is one line; its text says "per join")."""
    seen: set[type[ir.Node]] = set()
    out: list[tuple[str, Disclosure]] = []
    for node in root.walk():
        kind = type(node)
        if kind in seen:
            continue
        seen.add(kind)
        spec = spec_of(node)
        out += [(spec.name, d) for d in spec.discloses]
    return out


def render_plan(root: ir.Node) -> str:
    """The operator tree, one operator per line, children indented; a subplan shared by two
    parents (a CTE used twice) is shown once and then referred to, as it runs once."""
    seen: dict[int, int] = {}
    lines: list[str] = []

    def visit(node: ir.Node, indent: int) -> None:
        pad = "  " * indent
        if id(node) in seen:
            lines.append(f"{pad}(the result of line {seen[id(node)]}, computed once)")
            return
        seen[id(node)] = len(lines) + 1
        lines.append(pad + spec_of(node).explain(node))
        for child in node.children():
            visit(child, indent + 1)

    visit(root, 0)
    return "\n".join(lines)


def render_docs() -> str:
    """``docs/operators.md``: every operator and expression with its cost and disclosures."""
    lines = [
        "# Operators",
        "",
        "Generated from the operator registry (`tyst.ops.registry`) by",
        "`python -m tyst.ops.registry > docs/operators.md`; a test fails when it is stale.",
        "n is the operator's input row count; sort(n) is the stable oblivious sort of",
        "`docs/protocols.md`. Every operator keeps invalid rows as padding (validity bits);",
        "none opens anything that is not listed here.",
        "",
        "## Relational operators",
        "",
        "| operator | algorithm | output rows | rounds | opens |",
        "|---|---|---|---|---|",
    ]
    for spec in OPERATORS.values():
        opens = "; ".join(f"{d.what} (to {d.to}, {d.when})" for d in spec.discloses) or "nothing"
        if spec.side_outputs:
            opens += "; secret side outputs: " + ", ".join(spec.side_outputs)
        lines.append(
            f"| {spec.name} | {spec.algorithm} | {spec.output_rows} | {spec.rounds} | {opens} |"
        )
    lines += [
        "",
        "## Row-wise expressions",
        "",
        "Evaluated on every row, valid or not, by `tyst.ops.expressions`; nothing is opened.",
        "",
        "| expression | SQL | rounds | reads of id/text columns |",
        "|---|---|---|---|",
    ]
    for expr, espec in EXPRESSIONS.items():
        lines.append(f"| `{expr.__name__}` | {espec.sql} | {espec.rounds} | {espec.reads} |")
    lines += ["", f"NULLs (nullable operands): {NULL_ROUNDS}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_docs(), end="")
