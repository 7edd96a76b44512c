"""Run a physical plan on the three nodes: its numbered steps, leaves first.

Contract: :meth:`Executor.run` takes the planner's frozen
:class:`~tyst.planner.physical.PhysicalPlan` (:func:`tyst.planner.passes.physical_plan`) and
returns the result as a padded :class:`SharedTable` (validity bits, no row ever removed),
whose column names are the query's output names. Inputs are the owners' tables as shared
tables keyed by table name (columns named as in the plan).

Everything was decided before the run, from public facts only, and is read off the plan's
steps: the order (one step per distinct operator object, so a subplan shared by two parents —
a CTE used twice — is computed once), the lanes each scan carries and every join's strategy.
Each step calls its operator's ``execute`` from the registry (:mod:`tyst.ops.registry`); a
step's output is dropped as soon as its last consumer has run. A failing step's exception
carries a note naming the step and operator (``in plan step 4 (aggregate)``).

Nothing is opened here except by the operators' documented protocols and by
:meth:`Executor.reveal_checks`, which opens the run's integrity checks (one
bit each, e.g. "the pk side of this join had duplicate keys") to all nodes.

Every step's cost at this node (seconds, rounds, bytes) is recorded in
:attr:`Executor.traffic`.

Besides the result, a run produces (secret until the caller reveals them):
``side`` — by name, e.g. ``suppressed_groups``: per GROUP BY with ``min_group_size``,
the number of groups suppressed (the release stage, :mod:`tyst.release`, combines them).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.shares import AShare, concat_b
from tyst.ops.registry import spec_of
from tyst.ops.spec import Check, RunContext
from tyst.planner.physical import PhysicalPlan
from tyst.relational.table import SharedTable
from tyst.sql import ir

__all__ = ["Check", "ExecutionError", "Executor", "StepTraffic"]


@dataclass(frozen=True)
class StepTraffic:
    """What one step cost this node: wall seconds, bytes and messages sent, and how much its
    round counter grew (sequential message delays, :mod:`tyst.net.transport`)."""

    number: int
    operator: str
    seconds: float
    rounds: int
    bytes_sent: int
    messages_sent: int


class ExecutionError(Exception):
    """A run that must stop (an integrity check failed); str() is one line."""


class Executor:
    """Executes a plan's steps over shared tables for one party."""

    def __init__(self, party: Party, inputs: Mapping[str, SharedTable]) -> None:
        self.party = party
        self.inputs = dict(inputs)  # a scanned table is dropped after its last scan
        self.checks: list[Check] = []
        self.side: dict[str, list[AShare]] = {}
        self.traffic: list[StepTraffic] = []
        """Per step run so far, in step order: what it cost this node."""

    def run(self, plan: PhysicalPlan) -> SharedTable:
        """The plan's output table (see module contract)."""
        steps = plan.steps
        if not steps:
            raise ValueError("the plan has no steps: build it with tyst.planner.physical_plan")
        ctx = RunContext(
            self.party,
            self.inputs,
            plan.needs(),
            plan.joins(),
            scans_left=Counter(s.node.table for s in steps if isinstance(s.node, ir.Scan)),
            checks=self.checks,
            side=self.side,
        )
        consumers = Counter(i for s in steps for i in s.inputs)
        outputs: dict[int, SharedTable] = {}
        for step in steps:
            spec = spec_of(step.node)
            stats = self.party.transport.stats
            before = (time.perf_counter(), stats.rounds, stats.bytes_sent, stats.messages_sent)
            try:
                result = spec.execute(ctx, step.node, [outputs[i] for i in step.inputs])
            except Exception as exc:
                exc.add_note(f"in plan {step.describe()}")
                raise
            self.traffic.append(
                StepTraffic(
                    step.number,
                    step.operator,
                    time.perf_counter() - before[0],
                    stats.rounds - before[1],
                    stats.bytes_sent - before[2],
                    stats.messages_sent - before[3],
                )
            )
            names = [n for n, _ in step.node.schema if n in result.columns]
            if list(result.columns) != names:
                raise AssertionError(f"{step.describe()} produced {list(result.columns)}")
            for i in step.inputs:
                consumers[i] -= 1
                if consumers[i] == 0:
                    del outputs[i]
            outputs[step.number] = result
        return outputs[steps[-1].number]

    def reveal_checks(self) -> None:
        """Open every integrity check bit to all nodes (declared disclosure: one bit each).

        Raises :class:`ExecutionError` with the first failed check's message.
        """
        if not self.checks:
            return
        bits = boolean.reveal_bool_all(self.party, concat_b([c.bit for c in self.checks]))
        for check, bit in zip(self.checks, bits.tolist(), strict=True):
            if int(bit) & 1:
                raise ExecutionError(check.message)
