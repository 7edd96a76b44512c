"""Choose, before any data moves, how each JOIN of a plan is executed.

Every oblivious join in tyst is a primary-key/foreign-key join: one side (the
*pk side*) must have at most one valid row per join key. This module decides
which side that is, from facts that are public to everyone who signed the
plan, and fails early — with one line naming the join — when no side
qualifies.

Facts (:class:`TableFacts`, per input table):

- ``unique``: column sets on which the table's rows are unique. They come
  from the plan (``[tables.T] unique = [...]``) or from the owner's own
  data-preparation check (``tyst run``/``tyst check`` read the file on the
  owner's side); the nodes never trust them blindly: every pk-fk join also
  computes an oblivious duplicate flag which is opened at the end of the run
  (:meth:`tyst.engine.executor.Executor.reveal_checks`).
- ``max_rows_per_key``: a public bound k on how many rows of the table share
  one join key (``[tables.T] max_rows_per_key = k``); it allows a many-to-many
  join, executed as k pk-fk joins (output k times the other side's rows).

Uniqueness also follows from the plan itself: the output of ``GROUP BY keys``
is unique on its keys, a global aggregate has one row, ``DISTINCT`` is unique
on all its columns, a ``ROW_NUMBER() OVER (PARTITION BY p …)`` on (p, the number),
and filters, projections of plain columns, semi-joins, ``ORDER BY … LIMIT``,
broadcasts (a scalar subquery's row added to each row) and the fk side of a
pk-fk join preserve uniqueness (a join unique on both sides keeps both sides'
unique sets, so a fact added never removes one).

Rule (deterministic, so that the three nodes and ``tyst check`` agree): the
right side is the pk side if it is unique on its join keys, else the left
side if it is; otherwise the side with a declared ``max_rows_per_key``
(right first) is expanded — also a ``UNION ALL`` of tables that each declare one, with
the sum of their bounds, and a self-join of such a table; otherwise the join is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tyst.ops.spec import JoinStrategy as JoinStrategy  # defined with the join operator
from tyst.sql import ir


class PlanningError(Exception):
    """A plan that cannot be executed obliviously; str() is one line."""


@dataclass(frozen=True)
class TableFacts:
    """Public facts about one input table (see module docstring)."""

    unique: tuple[frozenset[str], ...] = ()
    max_rows_per_key: int | None = None


Facts = Mapping[str, TableFacts]


def unique_sets(node: ir.Node, facts: Facts) -> list[frozenset[str]]:
    """Column sets of ``node``'s output on which its valid rows are unique."""
    if isinstance(node, ir.Scan):
        declared = facts.get(node.table, TableFacts()).unique
        return [frozenset(f"{node.alias}.{c}" for c in s) for s in declared]
    if isinstance(node, ir.Window):  # a ROW_NUMBER is distinct within its partition
        numbered = [
            frozenset(node.partition) | {c.name} for c in node.calls if c.func == "ROW_NUMBER"
        ]
        return unique_sets(node.input, facts) + numbered
    if isinstance(node, ir.Filter | ir.OrderLimit | ir.SemiJoin | ir.Broadcast):
        child = node.input
        return unique_sets(child, facts)
    if isinstance(node, ir.Project):
        renamed: dict[str, str] = {}
        for out, expr in node.outputs:
            if isinstance(expr, ir.ColumnRef):
                renamed.setdefault(expr.name, out)
        return [
            frozenset(renamed[c] for c in s)
            for s in unique_sets(node.input, facts)
            if all(c in renamed for c in s)
        ]
    if isinstance(node, ir.Aggregate):
        return [frozenset(node.keys)]
    if isinstance(node, ir.Distinct):
        return [frozenset(n for n, _ in node.schema)]
    if isinstance(node, ir.Join):
        strategy = choose_join(node, facts)
        if strategy.expand > 1:
            return []
        if strategy.pk == "right":
            fk, fk_keys, pk = node.left, node.left_keys, node.right
        else:
            fk, fk_keys, pk = node.right, node.right_keys, node.left
        found = unique_sets(fk, facts)
        if _is_unique(fk, fk_keys, facts):  # one-to-one: each row of either side at most once
            found += unique_sets(pk, facts)
        return found
    return []


def _is_unique(node: ir.Node, keys: tuple[str, ...], facts: Facts) -> bool:
    return any(s <= set(keys) for s in unique_sets(node, facts))


def _bound(node: ir.Node, facts: Facts) -> int | None:
    """A declared per-key row bound that survives up to ``node``: through filters,
    projections, semi-joins, windows, ``DISTINCT`` and ``ORDER BY … LIMIT`` (none adds a row
    or changes a key), and through ``UNION ALL`` as the sum of its branches' bounds (one key
    may occur in every branch), when every branch has one."""
    if isinstance(node, ir.Scan):
        return facts.get(node.table, TableFacts()).max_rows_per_key
    if isinstance(
        node,
        ir.Filter
        | ir.Project
        | ir.SemiJoin
        | ir.Broadcast
        | ir.Window
        | ir.OrderLimit
        | ir.Distinct,
    ):
        return _bound(node.input, facts)
    if isinstance(node, ir.UnionAll):
        bounds = [_bound(branch, facts) for branch in node.inputs]
        return None if None in bounds else sum(b for b in bounds if b is not None)
    return None


def _describe(node: ir.Node) -> str:
    if isinstance(node, ir.Scan):
        return node.table if node.table == node.alias else f"{node.table} {node.alias}"
    if isinstance(node, ir.Filter | ir.Project | ir.SemiJoin | ir.Broadcast | ir.Window):
        return _describe(node.input)
    return f"({type(node).__name__.lower()})"


def choose_join(node: ir.Join, facts: Facts) -> JoinStrategy:
    """The strategy for one join (see the module's rule); raises :class:`PlanningError`."""
    if _is_unique(node.right, node.right_keys, facts):
        return JoinStrategy("right", reason="right side unique on the join key")
    if node.kind == "left":  # the compiler builds it over a GROUP BY of the right keys
        raise PlanningError(f"a left join whose right side is not unique on {node.right_keys}")
    if _is_unique(node.left, node.left_keys, facts):
        return JoinStrategy("left", reason="left side unique on the join key")
    for side, child in (("right", node.right), ("left", node.left)):
        bound = _bound(child, facts)
        if bound is not None:
            pk: Literal["left", "right"] = "right" if side == "right" else "left"
            return JoinStrategy(pk, bound, reason=f"at most {bound} rows per key on the {side}")
    keys = ", ".join(f"{a} = {b}" for a, b in zip(node.left_keys, node.right_keys, strict=True))
    raise PlanningError(
        f"JOIN of {_describe(node.left)} and {_describe(node.right)} on {keys}: neither side "
        "is unique on its join columns; declare `unique = [...]` for the table whose key "
        "is unique, or `max_rows_per_key = k` for a bounded many-to-many join"
    )


def join_strategies(root: ir.Node, facts: Facts) -> dict[ir.Join, JoinStrategy]:
    """Every join of the plan with its strategy (raises on the first impossible one)."""
    out: dict[ir.Join, JoinStrategy] = {}

    def walk(node: ir.Node) -> None:
        for child in node.children():
            walk(child)
        if isinstance(node, ir.Join):
            out[node] = choose_join(node, facts)

    walk(root)
    return out


def join_key_columns(root: ir.Node) -> dict[str, set[tuple[str, ...]]]:
    """Per input table, the column tuples it is joined on (for the owners' data checks): directly,
    or through filters, projections, windows, ``UNION ALL`` branches and joins below the join
    (``customer ⋈ orders`` joined to ``lineitem`` on ``o_orderkey`` asks the owner of
    ``orders`` whether it is unique there)."""
    found: dict[str, set[tuple[str, ...]]] = {}

    def source(node: ir.Node, names: tuple[str, ...]) -> None:
        while isinstance(
            node, ir.Filter | ir.SemiJoin | ir.OrderLimit | ir.Window | ir.Broadcast | ir.Distinct
        ):
            node = node.input
        if isinstance(node, ir.UnionAll):  # each branch's columns at the same positions
            at = [n for n, _ in node.schema]
            for branch in node.inputs:
                source(branch, tuple(branch.schema[at.index(n)][0] for n in names))
            return
        if isinstance(node, ir.Join):  # keys of a joined table, joined again further up
            for side in (node.left, node.right):
                if set(names) <= {n for n, _ in side.schema}:
                    source(side, names)
            return
        if isinstance(node, ir.Project):
            exprs = dict(node.outputs)
            if all(isinstance(exprs.get(n), ir.ColumnRef) for n in names):
                refs = tuple(exprs[n].name for n in names)  # type: ignore[attr-defined]
                source(node.input, refs)
            return
        if isinstance(node, ir.Scan):
            prefix = f"{node.alias}."
            if all(n.startswith(prefix) for n in names):
                found.setdefault(node.table, set()).add(
                    tuple(sorted(n[len(prefix) :] for n in names))
                )

    def walk(node: ir.Node) -> None:
        for child in node.children():
            walk(child)
        if isinstance(node, ir.Join):
            source(node.left, node.left_keys)
            source(node.right, node.right_keys)

    walk(root)
    return found
