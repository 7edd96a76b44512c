"""Rounds and bytes of a plan's steps at given input sizes, measured by running it in-process.

Contract: :func:`measure_steps` runs a physical plan on three threads of this
process connected by the in-memory transport (:mod:`tyst.net.local`), over
input tables of the given row counts whose shares are all zero, and returns
per step the largest growth of a node's round counter during the step
(sequential message delays, :mod:`tyst.net.transport`) and the most bytes a
node sent. Every operator is oblivious: which messages are sent, and their
sizes, depend on the row counts and the plan only, never on the values, so
zero shares give the same figures as the owners' data would. The one random
part is the number of comparison batches of each oblivious sort (it depends on
the shuffle's random permutation), a few per cent from run to run. Nothing
leaves the process; this is what ``tyst check --rows`` shows and what the
latency benchmark measures at each size.

Cost: the run does the plan's whole computation for all three nodes on this
machine, so it takes about as long as the query itself at those sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tyst.data.types import ColumnType
from tyst.engine.executor import Executor, StepTraffic
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare
from tyst.net.local import LocalTransport, run_local
from tyst.planner.physical import PhysicalPlan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.ring.words import U64


@dataclass(frozen=True)
class StepRounds:
    """One step's measured cost: rounds (max over the nodes) and bytes sent (max over them)."""

    number: int
    operator: str
    rounds: int
    bytes_sent: int


def _zero_tables(
    party: Party, schemas: Mapping[str, Mapping[str, ColumnType]], rows: Mapping[str, int]
) -> dict[str, SharedTable]:
    tables = {}
    for name, schema in schemas.items():
        n = rows[name]
        columns = {
            c: SharedColumn(
                ctype,
                tuple(AShare(np.zeros(n, U64), np.zeros(n, U64)) for _ in range(ctype.lanes)),
            )
            for c, ctype in schema.items()
        }
        tables[name] = SharedTable(columns, all_valid(party.index, n), name)
    return tables


def measure_steps(
    plan: PhysicalPlan,
    schemas: Mapping[str, Mapping[str, ColumnType]],
    rows: Mapping[str, int],
    *,
    timeout: float = 600.0,
) -> list[StepRounds]:
    """Run ``plan`` in-process over zero shares of ``rows[table]`` rows per table; see the
    module docstring. Raises ``ValueError`` when a table's row count is missing or negative."""
    missing = sorted(set(schemas) - set(rows))
    if missing:
        raise ValueError(f"no row count for table(s) {', '.join(missing)}")
    if any(rows[t] < 0 for t in schemas):
        raise ValueError("row counts must be zero or positive")

    def body(transport: LocalTransport) -> list[StepTraffic]:
        party = Party.setup(transport, domain=b"tyst.jobs.rounds")
        executor = Executor(party, _zero_tables(party, schemas, rows))
        executor.run(plan)
        return executor.traffic

    per_node = run_local(body, timeout=timeout)
    return [
        StepRounds(
            steps[0].number,
            steps[0].operator,
            max(s.rounds for s in steps),
            max(s.bytes_sent for s in steps),
        )
        for steps in zip(*per_node, strict=True)
    ]
