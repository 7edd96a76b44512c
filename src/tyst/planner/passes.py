"""The planner as an explicit list of named passes, from the compiled logical plan to the frozen
:class:`~tyst.planner.physical.PhysicalPlan` the executor runs.

Contract: two lists, each pass a function of its input and the public facts whose docstring
says what it decides; a failing pass's exception carries a note naming it.

- :data:`LOGICAL_PASSES` (``IR → IR``), run by :func:`logical_plan` when a plan is compiled
  (:func:`tyst.planner.jobspec.compile_plan`), with the facts the plan declares: they fix the
  logical plan everyone signs up to — owners check their join columns on it.
- :data:`PASSES` (``PhysicalPlan → PhysicalPlan``), run by :func:`physical_plan` before a
  run (and by ``tyst check``), with the declared facts plus the owners' data checks.

The results are the same at all three nodes and in ``tyst check``, because they depend on
the signed plan and the facts only. Raises :class:`~tyst.planner.planning.PlanningError`
(one line) for a join no side of which is known unique (or bounded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from tyst.ops.registry import spec_of
from tyst.planner.join_order import order_joins
from tyst.planner.physical import PhysicalPlan, PlanStep
from tyst.planner.planning import Facts, choose_join
from tyst.planner.pruning import scan_needs
from tyst.sql import ir

P = TypeVar("P")


@dataclass(frozen=True)
class Pass(Generic[P]):
    """One planner pass: its ``name`` and the function it runs."""

    name: str
    run: Callable[[P, Facts], P]

    @property
    def doc(self) -> str:
        """The first line of the pass's docstring (what it decides)."""
        return (self.run.__doc__ or "").strip().splitlines()[0]


def number_steps(plan: PhysicalPlan, facts: Facts) -> PhysicalPlan:
    """Number the operators leaves first: one step per distinct operator object (a subplan
    shared by two parents, such as a CTE used twice, is one step), inputs before consumers."""
    number: dict[int, int] = {}
    steps: list[PlanStep] = []

    def visit(node: ir.Node) -> int:
        if id(node) in number:
            return number[id(node)]
        inputs = tuple(visit(child) for child in node.children())
        steps.append(PlanStep(len(steps) + 1, node, spec_of(node).name, inputs))
        number[id(node)] = len(steps)
        return len(steps)

    visit(plan.root)
    return replace(plan, steps=tuple(steps))


def prune_lanes(plan: PhysicalPlan, facts: Facts) -> PhysicalPlan:
    """Decide each scan's lane set: the columns the plan needs, id/text columns that are only
    compared as their key lanes (a fold over the operators' ``needs``)."""
    needs = scan_needs(plan.root)
    steps = []
    for s in plan.steps:
        if isinstance(s.node, ir.Scan):
            prefix = f"{s.node.alias}."
            lanes = tuple((n, need) for n, need in needs.items() if n.startswith(prefix))
            s = replace(s, lanes=lanes)
        steps.append(s)
    return replace(plan, steps=tuple(steps))


def choose_joins(plan: PhysicalPlan, facts: Facts) -> PhysicalPlan:
    """Choose each join's strategy (which side is the unique side, or a bounded expansion)
    from the facts; the first join that cannot be planned stops the planner."""
    steps = []
    for s in plan.steps:
        if isinstance(s.node, ir.Join):
            try:
                s = replace(s, join=choose_join(s.node, facts))
            except Exception as exc:
                exc.add_note(f"in plan {s.describe()}")
                raise
        steps.append(s)
    return replace(plan, steps=tuple(steps))


LOGICAL_PASSES: tuple[Pass[ir.Node], ...] = (Pass("order_joins", order_joins),)

PASSES: tuple[Pass[PhysicalPlan], ...] = (
    Pass("number_steps", number_steps),
    Pass("prune_lanes", prune_lanes),
    Pass("choose_joins", choose_joins),
)


def _run(passes: tuple[Pass[P], ...], value: P, facts: Facts) -> P:
    for p in passes:
        try:
            value = p.run(value, facts)
        except Exception as exc:
            exc.add_note(f"in planner pass {p.name}")
            raise
    return value


def logical_plan(root: ir.Node, declared: Facts) -> ir.Node:
    """Run :data:`LOGICAL_PASSES` over the compiled plan ``root``, with the declared facts."""
    return _run(LOGICAL_PASSES, root, declared)


def physical_plan(root: ir.Node, facts: Facts) -> PhysicalPlan:
    """Run :data:`PASSES` over the logical plan ``root`` (see the module contract)."""
    return _run(PASSES, PhysicalPlan(root), facts)
