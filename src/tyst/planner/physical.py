"""The physical plan: what the planner hands the executor, frozen.

Contract: a :class:`PhysicalPlan` is a DAG of numbered :class:`PlanStep` s, leaves first
(every step's inputs have smaller numbers; the last step is the root). There is one step per
distinct operator object of the logical plan, so a subplan reached through two parents (a CTE
used twice) is one step with two dependents and runs once. Every decision the run needs is
recorded on its step, made once from public facts only: each scan's lane set (what the plan
needs of each of its columns, :mod:`tyst.planner.pruning`) and each join's strategy
(:mod:`tyst.planner.planning`). The passes that fill it in are :mod:`tyst.planner.passes`;
the executor (:mod:`tyst.engine.executor`) runs the steps in number order and names the
failing step; ``tyst check`` renders its joins (:meth:`PhysicalPlan.render_joins`), and the
golden physical plans of ``tests/planner/plans`` pin its steps (:meth:`PhysicalPlan.render_steps`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tyst.ops.registry import render_plan, spec_of
from tyst.ops.spec import JoinStrategy, Need
from tyst.sql import ir


@dataclass(frozen=True)
class PlanStep:
    """One operator of the DAG: its ``number`` (1-based, leaves first), the logical ``node``,
    the registry name of its ``operator``, the step numbers of its ``inputs`` (in the node's
    child order), and the decisions of the planner that concern it: ``join`` (a join's
    strategy) and ``lanes`` (a scan's columns ``alias.column`` with what is needed of each;
    a column not listed is not carried)."""

    number: int
    node: ir.Node
    operator: str
    inputs: tuple[int, ...]
    join: JoinStrategy | None = None
    lanes: tuple[tuple[str, Need], ...] | None = None

    def describe(self) -> str:
        """``step 3 (join)``: how errors and renderings name the step."""
        return f"step {self.number} ({self.operator})"


@dataclass(frozen=True)
class PhysicalPlan:
    """The numbered steps of one query (see the module contract)."""

    root: ir.Node
    steps: tuple[PlanStep, ...] = ()

    @property
    def output(self) -> PlanStep:
        """The last step: its output is the query's result."""
        return self.steps[-1]

    def step(self, number: int) -> PlanStep:
        """The step numbered ``number`` (1-based)."""
        return self.steps[number - 1]

    def dependents(self, number: int) -> tuple[int, ...]:
        """The steps that consume step ``number``'s output (more than one: a shared subplan)."""
        return tuple(s.number for s in self.steps if number in s.inputs)

    def needs(self) -> dict[str, Need]:
        """Per scanned column ``alias.column``: what the run needs of it (all scans)."""
        return {name: need for s in self.steps for name, need in s.lanes or ()}

    def joins(self) -> Mapping[int, JoinStrategy]:
        """Per join node (``id``): its strategy, as the join operator looks it up."""
        return {id(s.node): s.join for s in self.steps if s.join is not None}

    def render(self) -> str:
        """The operator tree as ``tyst check`` and the golden plans show it."""
        return render_plan(self.root)

    def render_steps(self) -> str:
        """One line per step, leaves first: number, operator, input steps, what it does and
        the planner's decision (a scan's lanes, a join's strategy); the golden physical plans
        (``tests/planner/plans``) pin this text."""
        lines = []
        for s in self.steps:
            inputs = f"({', '.join(str(i) for i in s.inputs)})" if s.inputs else ""
            line = f"{s.number}. {s.operator}{inputs}: {spec_of(s.node).explain(s.node)}"
            if s.lanes is not None:
                line += "   lanes " + (", ".join(f"{n} {need}" for n, need in s.lanes) or "none")
            if s.join is not None:
                expand = f" x{s.join.expand}" if s.join.expand > 1 else ""
                line += f"   pk {s.join.pk}{expand}: {s.join.reason}"
            lines.append(line)
        return "\n".join(lines)

    def render_joins(self) -> list[str]:
        """One line per join step: its keys, the strategy chosen and why."""
        lines = []
        for s in self.steps:
            if s.join is None:
                continue
            assert isinstance(s.node, ir.Join)
            keys = ", ".join(s.node.left_keys)
            expand = f", run as {s.join.expand} joins" if s.join.expand > 1 else ""
            lines.append(f"{s.describe()} on {keys}: {s.join.reason}{expand}")
        return lines
