"""``tyst run``: one plan end to end — owners share, three TLS nodes compute, recipients decode.

Roles in this one-shot job (all on this machine, each in its own place):

- **Owners** (this process, before any node starts): each table's file is
  read, validated and encoded on the owner's side (:mod:`tyst.data.files`),
  then split into three replicated sharings (:func:`tyst.mpc.outsourced.split`).
  Node *i* is handed only its own pair of components per lane. The owner's
  data check also decides which tables are unique on their join columns
  (:mod:`tyst.engine.planning`), a fact the nodes verify obliviously.
- **Nodes** (three processes, mutual TLS on loopback): build shared tables
  (every input row valid), run the compiled plan (:class:`Executor`), open
  only the integrity-check bits, shuffle the padded result (unless the query
  orders it) and hand their result shares to the recipient.
- **Recipient** (this process, after the nodes): combines the three share
  sets, drops invalid (padding) rows, divides AVG sums by counts, and writes
  the CSV atomically.

What the nodes learn: the input row counts, the plan, and the check bits
(each is 0 unless the data contradicts what the plan declares). What the
recipient learns: the result rows, the number of groups suppressed by
``min_group_size``, and the padded result length (a function of input sizes).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tyst.data.encoding import decode_column, decode_ratio
from tyst.data.files import read_table, write_csv
from tyst.data.types import ColumnType
from tyst.engine.executor import ExecutionError, Executor
from tyst.engine.planning import TableFacts, join_key_columns, join_strategies
from tyst.engine.pruning import Need, table_needs
from tyst.jobs.metrics import NodeMetrics, Stopwatch, barrier
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.protocols.shuffle import shuffle
from tyst.mpc.shares import AShare, BShare, concat_a
from tyst.net.transport import Transport
from tyst.plan import Plan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.ring.words import U64, WordArray
from tyst.sql import ir
from tyst.sql.compiler import compile_sql

Progress = Callable[[str, int], None]


class RunError(Exception):
    """A run that cannot start or did not finish; str() is one line."""


@dataclass(frozen=True)
class NodeTable:
    """What one node receives of one table: the row count and, per lane, the two files
    holding this node's pair of components (raw little-endian uint64)."""

    rows: int
    lanes: dict[str, list[tuple[Path, Path]]]

    def load(self, column: str) -> list[AShare]:
        """This node's shares of one column (read from its files)."""
        return [
            AShare(np.fromfile(a, dtype=U64), np.fromfile(b, dtype=U64))
            for a, b in self.lanes[column]
        ]


@dataclass(frozen=True)
class SharedInput:
    """One owner's table after sharing: rows, per-node file sets, and the key lanes of the
    join columns (kept on the owner's side for the uniqueness check)."""

    rows: int
    nodes: list[NodeTable]
    keys: dict[str, list[WordArray]]


@dataclass(frozen=True)
class NodeResult:
    """One node's shares of the padded result, of the recipient's extra numbers, and metrics."""

    lanes: list[NodeShares]
    valid: NodeShares
    extras: NodeShares
    metrics: NodeMetrics


@dataclass(frozen=True)
class RunReport:
    """What ``tyst run`` tells the recipient (and prints)."""

    header: list[str]
    rows: list[list[str]]
    padded_rows: int
    suppressed_groups: int
    seconds: float
    nodes: list[NodeMetrics]


def schemas_of(plan: Plan) -> dict[str, dict[str, ColumnType]]:
    """The table schemas the compiler sees."""
    return {name: dict(t.columns) for name, t in plan.tables.items()}


def compile_plan(plan: Plan) -> ir.CompiledQuery:
    """The plan's SQL compiled against its tables (raises ``SqlError``)."""
    return compile_sql(plan.sql, schemas_of(plan), min_group_size=plan.min_group_size)


def shared_schema(
    columns: Mapping[str, ColumnType], needs: Mapping[str, Need]
) -> dict[str, ColumnType]:
    """The columns an owner shares: those the plan needs, id/text compared-only ones as
    key-only (:mod:`tyst.engine.pruning`); the file is still validated in full."""
    return {
        c: (t.keys_only() if t.is_text and needs[c] == "key" else t)
        for c, t in columns.items()
        if c in needs
    }


def share_table(
    name: str,
    path: Path,
    columns: Mapping[str, ColumnType],
    directory: Path,
    key_columns: set[str],
    progress: Progress | None = None,
    shared: Mapping[str, ColumnType] | None = None,
) -> SharedInput:
    """The owner's side of an upload, streamed: read, validate and encode the file chunk by
    chunk, split every lane into three replicated sharings, and append node i's pair of
    components to node i's files under ``directory/node-i``. Only one chunk of plaintext
    is in memory at a time (plus the key lanes of ``key_columns``, for the owner's
    uniqueness check). ``shared`` (default: every column) is the schema the nodes get,
    see :func:`shared_schema`. Raises ``DataError`` for the first bad value (file and line)."""
    shared = dict(columns) if shared is None else dict(shared)
    files: list[dict[str, list[tuple[Path, Path]]]] = [{}, {}, {}]
    for i in range(3):
        node_dir = directory / f"node-{i}" / name
        node_dir.mkdir(parents=True, exist_ok=True)
        for c, ctype in shared.items():
            files[i][c] = [
                (node_dir / f"{c}.{j}.a", node_dir / f"{c}.{j}.b") for j in range(ctype.lanes)
            ]
    handles = {
        (i, c, j, k): pair[k].open("wb")
        for i in range(3)
        for c in shared
        for j, pair in enumerate(files[i][c])
        for k in range(2)
    }
    keys: dict[str, list[list[WordArray]]] = {c: [] for c in key_columns}
    rows = 0
    try:
        with read_table(path, columns) as reader:
            for chunk in reader:
                rows += chunk.rows
                for c, lanes in chunk.lanes.items():
                    if c in keys:
                        keys[c].append([lane.copy() for lane in lanes[: columns[c].key_lanes]])
                    if c not in shared:
                        continue
                    for j, lane in enumerate(lanes[: shared[c].lanes]):
                        for part in split(lane):
                            part.first.tofile(handles[(part.party, c, j, 0)])
                            part.second.tofile(handles[(part.party, c, j, 1)])
                if progress is not None:
                    progress(name, rows)
    finally:
        for fh in handles.values():
            fh.close()
    joined = {
        c: [
            np.concatenate([part[j] for part in parts]) if parts else np.zeros(0, dtype=U64)
            for j in range(columns[c].key_lanes)
        ]
        for c, parts in keys.items()
    }
    return SharedInput(rows, [NodeTable(rows, files[i]) for i in range(3)], joined)


def table_facts(
    plan: Plan, found_unique: Mapping[str, set[tuple[str, ...]]]
) -> dict[str, TableFacts]:
    """Per table: the declared unique key plus the join-column sets found unique by the owner."""
    facts: dict[str, TableFacts] = {}
    for name, decl in plan.tables.items():
        unique = [frozenset(decl.unique)] if decl.unique else []
        unique += [frozenset(cols) for cols in sorted(found_unique.get(name, set()))]
        facts[name] = TableFacts(tuple(unique), decl.max_rows_per_key)
    return facts


def unique_join_columns(
    compiled: ir.CompiledQuery, keys: Mapping[str, Mapping[str, list[WordArray]]]
) -> dict[str, set[tuple[str, ...]]]:
    """The join-column sets of each table on which its rows are unique (owner side).

    ``keys[table][column]`` are the key lanes of the table's join columns.
    """
    found: dict[str, set[tuple[str, ...]]] = {}
    for table, sets in join_key_columns(compiled.plan).items():
        lanes = keys.get(table)
        if lanes is None:
            continue
        found[table] = {
            cols for cols in sets if is_unique([lane for c in cols for lane in lanes[c]])
        }
    return found


def is_unique(lanes: list[WordArray]) -> bool:
    """Whether no two rows agree on every one of ``lanes`` (equal-length key lanes)."""
    if not lanes or len(lanes[0]) <= 1:
        return True
    keys = np.stack(lanes, axis=1)
    return len(np.unique(keys, axis=0)) == len(lanes[0])


def join_columns(compiled: ir.CompiledQuery) -> dict[str, set[str]]:
    """Per table, the columns it is joined on (their key lanes feed the uniqueness check)."""
    return {
        t: {c for cols in sets for c in cols} for t, sets in join_key_columns(compiled.plan).items()
    }


def node_program(
    transport: Transport,
    root: ir.Node,
    schemas: dict[str, dict[str, ColumnType]],
    facts: dict[str, TableFacts],
    domain: bytes,
    tables: dict[str, NodeTable],
) -> NodeResult:
    """Runs in each node, which holds only its own share pairs of every table."""
    party = Party.setup(transport, domain=domain)
    inputs = {
        name: SharedTable(
            {c: SharedColumn(schemas[name][c], tuple(t.load(c))) for c in schemas[name]},
            all_valid(party.index, t.rows),
            name,
        )
        for name, t in tables.items()
    }
    executor = Executor(party, inputs, facts)
    del inputs  # the executor holds the only reference and frees each table after its scan
    barrier(party)
    watch = Stopwatch(party)
    out = executor.run(root)
    executor.reveal_checks()
    lanes: list[AShare | BShare] = [lane for col in out.columns.values() for lane in col.lanes]
    valid: AShare | BShare = out.valid
    if not isinstance(root, ir.OrderLimit) and len(out):
        # Hide which input positions the surviving rows came from.
        mixed = shuffle(party, [*lanes, out.valid])
        lanes, valid = mixed[:-1], mixed[-1]
    extras = concat_a(
        [*executor.suppressed, *executor.global_counts, AShare(np.zeros(0, U64), np.zeros(0, U64))]
    )
    metrics = watch.stop()
    i = party.index
    return NodeResult(
        [NodeShares(i, "arith", x.a, x.b) for x in lanes],
        NodeShares(i, "bool", valid.a, valid.b),
        NodeShares(i, "arith", extras.a, extras.b),
        metrics,
    )


def empty_global_columns(root: ir.Node) -> set[str]:
    """Output columns that SQL makes NULL when a global aggregate saw no rows.

    Follows the root through ORDER BY/LIMIT and filters to the final projection;
    if that projects a global aggregate (no GROUP BY), every output that refers
    to a SUM/MIN/MAX (or AVG) call is NULL on empty input, COUNTs are 0.
    """
    node = root
    while isinstance(node, ir.OrderLimit | ir.Filter):
        node = node.input
    if not isinstance(node, ir.Project):
        return set()
    agg = node.input
    while isinstance(agg, ir.Filter):
        agg = agg.input
    if not isinstance(agg, ir.Aggregate) or agg.keys:
        return set()
    nullable = {c.name for c in agg.calls if c.func != "COUNT"}
    return {name for name, expr in node.outputs if _refs(expr) & nullable}


def _refs(e: ir.Expr) -> set[str]:
    if isinstance(e, ir.ColumnRef):
        return {e.name}
    out: set[str] = set()
    for value in vars(e).values():
        if isinstance(value, ir.Expr):
            out |= _refs(value)
        elif isinstance(value, tuple):
            for item in value:
                for sub in item if isinstance(item, tuple) else (item,):
                    if isinstance(sub, ir.Expr):
                        out |= _refs(sub)
    return out


def decode_result(
    root: ir.Node, lanes: list[WordArray], valid: WordArray, global_rows: list[int]
) -> tuple[list[str], list[list[str]]]:
    """The recipient's CSV header and rows from the combined padded result."""
    keep = np.flatnonzero(valid & U64(1))
    header = [ir.display_name(n) for n, _ in root.schema]
    columns: list[list[str]] = []
    at = 0
    empty = empty_global_columns(root) if global_rows and global_rows[-1] == 0 else set()
    for name, ctype in root.schema:
        mine = [lane[keep] for lane in lanes[at : at + ctype.lanes]]
        at += ctype.lanes
        if name in empty:
            columns.append([""] * len(keep))
        elif ctype.kind == "ratio":
            columns.append(decode_ratio(ctype.scale, mine[0], mine[1]))
        else:
            columns.append(decode_column(ctype, mine))
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return header, rows


def run_plan(
    plan: Plan,
    data: Mapping[str, Path],
    out: Path,
    *,
    timeout: float = 120.0,
    progress: Progress | None = None,
) -> RunReport:
    """Run ``plan`` on the given files and write the recipients' CSV to ``out``.

    Raises ``PlanError``/``SqlError``/``DataError``/``PlanningError`` before
    any node starts, and :class:`RunError` if the run fails; ``out`` is
    written only after a complete, checked result. The node share files live
    in a private temporary directory that is removed when the run ends.
    ``progress(table, rows)`` is called after every chunk an owner shares.
    """
    from tyst.net.launcher import PartyFailed, run_tls_parties

    compiled = compile_plan(plan)
    unknown = sorted(set(data) - set(plan.tables))
    if unknown:
        raise RunError(f"--data {unknown[0]}=…: the plan has no table {unknown[0]!r}")
    missing = [t for t in compiled.tables if t not in data]
    if missing:
        raise RunError(f"no data for table {missing[0]!r}: pass --data {missing[0]}=FILE")
    joined = join_columns(compiled)
    needs = table_needs(compiled.plan)
    schemas = {t: shared_schema(plan.tables[t].columns, needs.get(t, {})) for t in compiled.tables}
    with tempfile.TemporaryDirectory(prefix="tyst-run-") as tmp:
        shared = {
            t: share_table(
                t,
                data[t],
                plan.tables[t].columns,
                Path(tmp),
                joined.get(t, set()),
                progress,
                schemas[t],
            )
            for t in compiled.tables
        }
        found = unique_join_columns(compiled, {t: s.keys for t, s in shared.items()})
        facts = table_facts(plan, found)
        join_strategies(compiled.plan, facts)  # refuse impossible joins before any node starts
        domain = b"tyst-run:" + plan.digest().encode()
        started = time.perf_counter()
        try:
            results = run_tls_parties(
                node_program,
                (compiled.plan, schemas, facts, domain),
                per_party_args=[({t: s.nodes[i] for t, s in shared.items()},) for i in range(3)],
                timeout=timeout,
                deadline=max(600.0, 20 * timeout),
            )
        except PartyFailed as exc:
            if exc.error_type == ExecutionError.__name__:
                raise RunError(f"the run was stopped by a check: {exc.message}") from None
            raise RunError(
                f"the run failed: party {exc.party}: {exc.error_type}: {exc.message}"
            ) from None
    seconds = time.perf_counter() - started
    lanes = [combine([r.lanes[j] for r in results]) for j in range(len(results[0].lanes))]
    valid = combine([r.valid for r in results])
    extras = combine([r.extras for r in results]).view(np.int64).tolist()
    # extras: suppressed counts (one per GROUP BY with min_group_size), then global counts
    n_suppressed = sum(1 for _ in _grouped_with_threshold(compiled.plan))
    suppressed, global_rows = extras[:n_suppressed], extras[n_suppressed:]
    header, rows = decode_result(compiled.plan, lanes, valid, global_rows)
    write_csv(out, header, rows)
    return RunReport(
        header,
        rows,
        len(valid),
        int(sum(suppressed)),
        seconds,
        [r.metrics for r in results],
    )


def _grouped_with_threshold(root: ir.Node) -> list[ir.Aggregate]:
    """The GROUP BY operators (in execution order) that apply ``min_group_size``."""
    found: list[ir.Aggregate] = []

    def walk(node: ir.Node) -> None:
        for child in node.children():
            walk(child)
        if isinstance(node, ir.Aggregate) and node.keys and node.min_group_size > 1:
            found.append(node)

    walk(root)
    return found
