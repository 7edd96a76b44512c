"""Join order is the planner's choice: a cluster of inner joins is re-ordered when the order the
query was written in cannot be executed.

Every oblivious join is a pk-fk join (:mod:`tyst.planner.planning`): one side must be known
unique on its join keys. Whether a side is depends on the order: in TPC-H Q5 written
``FROM supplier, customer, …``, the compiler's FROM order joins ``supplier`` to ``customer``
on ``s_nationkey = c_nationkey`` first, where neither side is unique, while joining
``customer`` to ``orders``, ``lineitem`` and then ``supplier`` (on ``l_suppkey = s_suppkey``
and the nation keys together) runs. :func:`order_joins` finds such an order.

Contract: a *cluster* is a maximal tree of inner :class:`~tyst.sql.ir.Join` nodes and the
:class:`~tyst.sql.ir.Filter` nodes of residual ON conditions directly above them; its
*leaves* are the other operators below it, and its *edges* are the join-key equalities.
A cluster whose joins can all be planned with ``facts`` is kept as it is (the same objects).
Otherwise its leaves are joined left-deep, each new leaf on the right, on all the equalities
between it and the leaves already joined, searching depth first in the query's FROM order for
the first order in which every join can be planned; the residual conditions are applied on
top (for inner joins a condition on the join's columns may be applied after any later join)
and a projection restores the cluster's column order, so the operators above it are
unchanged; it passes on only the columns the plan needs of the cluster (a fold over the
operators' ``needs``, :func:`tyst.planner.pruning.node_needs`), so the owners share the
same columns as for an order that runs as written. A cluster for which no order works is
kept (the planner then reports the join that cannot run). Deterministic: the same plan and
facts give the same order at every node. Subplans shared by two parents stay shared. The
result has the same rows: inner joins and filters commute, and every key equality is
applied exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace

from tyst.ops.spec import Needs
from tyst.planner.planning import Facts, PlanningError, choose_join, join_strategies
from tyst.planner.pruning import node_needs
from tyst.sql import ir

_Visit = Callable[[ir.Node], ir.Node]

SEARCH_LIMIT = 5000
"""At most this many candidate joins are tried per cluster (then it is kept as written)."""


@dataclass(frozen=True)
class _Cluster:
    leaves: tuple[ir.Node, ...]
    edges: tuple[tuple[str, str], ...]
    """Key equalities ``(a, b)``, each between columns of two different leaves."""
    residuals: tuple[ir.Expr, ...]


def order_joins(root: ir.Node, facts: Facts) -> ir.Node:
    """Re-order every cluster of inner joins that cannot be planned in its written order
    (see the module contract); returns ``root`` itself when nothing changes."""
    memo: dict[int, ir.Node] = {}
    needs = node_needs(root)

    def visit(node: ir.Node) -> ir.Node:
        key = id(node)
        if key not in memo:
            if _is_member(node):
                memo[key] = _order_cluster(node, facts, visit, needs.get(key, {}))
            else:
                memo[key] = _rebuild(node, [visit(c) for c in node.children()])
        return memo[key]

    return visit(root)


def _is_member(node: ir.Node) -> bool:
    if isinstance(node, ir.Join):
        return node.kind == "inner"
    return isinstance(node, ir.Filter) and _is_member(node.input)


def _rebuild(node: ir.Node, children: list[ir.Node]) -> ir.Node:
    """``node`` over new children, given in ``children()`` order (itself when they are the
    same objects)."""
    old = node.children()
    if all(a is b for a, b in zip(old, children, strict=True)):
        return node
    new = {id(a): b for a, b in zip(old, children, strict=True)}

    def swap(v: object) -> object:
        if isinstance(v, ir.Node):
            return new.get(id(v), v)
        if isinstance(v, tuple):
            return tuple(swap(x) for x in v)
        return v

    changes = {f.name: swap(getattr(node, f.name)) for f in fields(node)}
    return replace(node, **changes)  # type: ignore[arg-type]


def _flatten(node: ir.Node, visit: _Visit) -> _Cluster:
    leaves: list[ir.Node] = []
    edges: list[tuple[str, str]] = []
    residuals: list[ir.Expr] = []

    def walk(n: ir.Node) -> None:
        if isinstance(n, ir.Filter) and _is_member(n):
            walk(n.input)
            residuals.append(n.predicate)
        elif isinstance(n, ir.Join) and n.kind == "inner":
            walk(n.left)
            walk(n.right)
            edges.extend(zip(n.left_keys, n.right_keys, strict=True))
        else:
            leaves.append(visit(n))

    walk(node)
    return _Cluster(tuple(leaves), tuple(edges), tuple(residuals))


def _assemble(node: ir.Node, cluster: _Cluster) -> ir.Node:
    """The cluster as written, over its (possibly re-ordered) leaves."""
    leaves = iter(cluster.leaves)

    def build(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.Filter) and _is_member(n):
            return _rebuild(n, [build(n.input)])
        if isinstance(n, ir.Join) and n.kind == "inner":
            return _rebuild(n, [build(n.left), build(n.right)])
        return next(leaves)

    return build(node)


def _order_cluster(node: ir.Node, facts: Facts, visit: _Visit, needed: Needs) -> ir.Node:
    cluster = _flatten(node, visit)
    written = _assemble(node, cluster)
    if _plannable(written, facts):
        return written
    owner: dict[str, int] = {}
    for i, leaf in enumerate(cluster.leaves):
        for name, _ in leaf.schema:
            owner[name] = i
    if any(a not in owner or b not in owner for a, b in cluster.edges):
        return written
    found = _search(cluster, owner, facts)
    if found is None:
        return written
    for predicate in cluster.residuals:
        found = ir.Filter(found.schema, found, predicate)
    schema = tuple((name, ctype) for name, ctype in node.schema if name in needed)
    outputs = tuple((name, ir.ColumnRef(ctype, name)) for name, ctype in schema)
    return ir.Project(schema, found, outputs)


def _plannable(node: ir.Node, facts: Facts) -> bool:
    try:
        join_strategies(node, facts)
    except PlanningError:
        return False
    return True


def _search(cluster: _Cluster, owner: dict[str, int], facts: Facts) -> ir.Node | None:
    """The first left-deep order (depth first, FROM order) in which every join is plannable."""
    budget = [SEARCH_LIMIT]
    count = len(cluster.leaves)

    def joins_to(members: frozenset[int], leaf: int) -> Iterator[tuple[str, str]]:
        for a, b in cluster.edges:
            if owner[a] in members and owner[b] == leaf:
                yield a, b
            elif owner[b] in members and owner[a] == leaf:
                yield b, a

    def extend(tree: ir.Node, members: frozenset[int]) -> ir.Node | None:
        if len(members) == count:
            return tree
        for leaf in range(count):
            if leaf in members:
                continue
            keys = list(joins_to(members, leaf))
            if not keys or budget[0] <= 0:
                continue
            budget[0] -= 1
            right = cluster.leaves[leaf]
            join = ir.Join(
                tree.schema + right.schema,
                tree,
                right,
                "inner",
                tuple(a for a, _ in keys),
                tuple(b for _, b in keys),
            )
            try:
                choose_join(join, facts)
            except PlanningError:
                continue
            done = extend(join, members | {leaf})
            if done is not None:
                return done
        return None

    for first in range(count):
        if not _plannable(cluster.leaves[first], facts):
            return None
        done = extend(cluster.leaves[first], frozenset({first}))
        if done is not None:
            return done
    return None
