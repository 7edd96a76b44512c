"""What one compute node computes in a job: the plan over its own shares only.

Contract: :func:`node_program` runs in the node's run process, connected to
the two other nodes by ``transport``. It decrypts this node's stored shares of
every table (:func:`tyst.node.store.read_table`), builds the shared tables
(every uploaded row valid), runs the physical plan (:class:`Executor`; the node
service plans it once, :func:`tyst.planner.passes.physical_plan`), opens only
the integrity-check bits (a set bit raises ``ExecutionError``: no output),
shuffles the padded result (unless the query orders it) and returns its result
shares as named arrays, ready to be sealed to each recipient: ``lane.<k>``
(arithmetic), ``valid`` (boolean) and ``extras`` (the suppressed group counts,
then the global-aggregate row counts; see :func:`tyst.client.recipient.decode`).

What the nodes learn: the input row counts, the plan and the check bits.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tyst.api.results import ShareArray
from tyst.data.types import ColumnType
from tyst.engine.executor import Executor
from tyst.engine.metrics import NodeMetrics, Stopwatch, barrier
from tyst.mpc.party import Party
from tyst.mpc.protocols.shuffle import shuffle
from tyst.mpc.shares import AShare, BShare, concat_a
from tyst.net.transport import Transport
from tyst.node.store import StoredTable, read_table
from tyst.planner.physical import PhysicalPlan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.ring.words import U64
from tyst.sql import ir


@dataclass(frozen=True)
class StoredInputs:
    """Where a node's shares of a job are and the key to read them (kept in memory only)."""

    root: Path
    job: str
    key: bytes
    tables: dict[str, StoredTable]


@dataclass(frozen=True)
class NodeResult:
    """One node's result shares (named arrays) and what it measured."""

    arrays: list[ShareArray]
    metrics: NodeMetrics


def load_inputs(
    party: Party, inputs: StoredInputs, schemas: dict[str, dict[str, ColumnType]]
) -> dict[str, SharedTable]:
    """This node's shared tables, decrypted from the store."""
    tables: dict[str, SharedTable] = {}
    for name, meta in inputs.tables.items():
        lanes = read_table(inputs.root, inputs.job, inputs.key, meta)
        columns = {
            c: SharedColumn(ctype, tuple(AShare(a, b) for a, b in lanes[c]))
            for c, ctype in schemas[name].items()
        }
        tables[name] = SharedTable(columns, all_valid(party.index, meta.rows), name)
    return tables


PROFILE_ENV = "TYST_PROFILE_DIR"
"""If set (benchmarks only), each run process writes ``party-<i>.pstats`` (cProfile) there."""


@contextlib.contextmanager
def _profiled(party: int) -> Iterator[None]:
    """cProfile the block into ``$TYST_PROFILE_DIR/party-<i>.pstats`` if that is set."""
    directory = os.environ.get(PROFILE_ENV)
    if not directory:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(Path(directory) / f"party-{party}.pstats")


def node_program(
    transport: Transport,
    plan: PhysicalPlan,
    schemas: dict[str, dict[str, ColumnType]],
    domain: bytes,
    inputs: StoredInputs,
) -> NodeResult:
    """Run the plan at this node (see the module docstring)."""
    with _profiled(transport.party):
        party = Party.setup(transport, domain=domain)
        return execute(party, load_inputs(party, inputs, schemas), plan)


def execute(party: Party, tables: dict[str, SharedTable], plan: PhysicalPlan) -> NodeResult:
    """Run ``plan`` over ``tables`` (the executor takes the only reference and frees each
    table after its last scan), open the check bits, shuffle unless ordered, and return
    the result shares as named arrays with this node's metrics of the query."""
    root = plan.root
    executor = Executor(party, tables)
    del tables
    barrier(party)
    watch = Stopwatch(party)
    out = executor.run(plan)
    executor.reveal_checks()
    lanes: list[AShare | BShare] = [lane for col in out.columns.values() for lane in col.lanes]
    valid: AShare | BShare = out.valid
    if not isinstance(root, ir.OrderLimit) and len(out):
        # Hide which input positions the surviving rows came from.
        mixed = shuffle(party, [*lanes, out.valid])
        lanes, valid = mixed[:-1], mixed[-1]
    empty = AShare(np.zeros(0, U64), np.zeros(0, U64))
    extras = concat_a([*executor.suppressed, empty])
    metrics = watch.stop()
    arrays = [ShareArray(f"lane.{k}", "arith", x.a, x.b) for k, x in enumerate(lanes)]
    arrays.append(ShareArray("valid", "bool", valid.a, valid.b))
    arrays.append(ShareArray("extras", "arith", extras.a, extras.b))
    return NodeResult(arrays, metrics)
