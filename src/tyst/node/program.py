"""What one compute node computes in a job: the plan over its own shares only.

Contract: :func:`node_program` runs in the node's run process, connected to
the two other nodes by ``transport``. It decrypts this node's stored shares of
every table (:func:`tyst.node.store.read_table`), builds the shared tables
(every uploaded row valid), runs the physical plan (:class:`Executor`; the node
service plans it once, :func:`tyst.planner.passes.physical_plan`), opens only
the integrity-check bits (a set bit raises ``ExecutionError``: no output),
applies the plan's release mechanisms (:func:`tyst.release.stage.release`: suppressed
counts, shuffle unless the query orders its result, padding) and returns the result
shares as named arrays, ready to be sealed to each recipient: ``lane.<k>``
(arithmetic), ``valid`` (boolean) and ``side.<name>`` (arithmetic, one per side output
the mechanisms name; see :func:`tyst.client.recipient.decode`).

What the nodes learn: the input row counts, the plan and the check bits (and the result
size only under ``[policy] allow = ["reveal_result_size"]``).
"""

from __future__ import annotations

import contextlib
import cProfile
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tyst.api.results import ShareArray
from tyst.data.types import ColumnType
from tyst.engine.executor import Executor
from tyst.engine.metrics import NodeMetrics, Stopwatch, barrier
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare
from tyst.net.transport import Transport
from tyst.node.store import StoredTable, read_table
from tyst.planner.physical import PhysicalPlan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.release.mechanisms import Mechanism
from tyst.release.stage import release


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
    mechanisms: tuple[Mechanism, ...],
) -> NodeResult:
    """Run the plan at this node (see the module docstring); ``mechanisms`` are the
    plan's release mechanisms (:func:`tyst.release.mechanisms.mechanisms`)."""
    with _profiled(transport.party):
        party = Party.setup(transport, domain=domain)
        return execute(party, load_inputs(party, inputs, schemas), plan, mechanisms)


def execute(
    party: Party,
    tables: dict[str, SharedTable],
    plan: PhysicalPlan,
    mechanisms: tuple[Mechanism, ...],
) -> NodeResult:
    """Run ``plan`` over ``tables`` (the executor takes the only reference and frees each
    table after its last scan), open the check bits, apply the release mechanisms, and
    return the result shares as named arrays with this node's metrics of the query."""
    executor = Executor(party, tables)
    del tables
    barrier(party)
    watch = Stopwatch(party)
    out = executor.run(plan)
    executor.reveal_checks()
    done = release(party, mechanisms, plan.root, out, executor.side)
    metrics = watch.stop()
    arrays = [ShareArray(f"lane.{k}", "arith", x.a, x.b) for k, x in enumerate(done.lanes)]
    arrays.append(ShareArray("valid", "bool", done.valid.a, done.valid.b))
    arrays += [ShareArray(f"side.{n}", "arith", x.a, x.b) for n, x in done.side.items()]
    return NodeResult(arrays, metrics)
