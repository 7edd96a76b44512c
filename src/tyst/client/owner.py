"""The owner's side of an upload: validate, secret-share on the owner's premises, stream.

Contract: :func:`upload_table` first counts the file's rows (one pass over
its text; the count goes into each stream's signed header, which bounds what a
node accepts), then reads the file chunk by chunk
(:func:`tyst.data.files.read_table`: every value validated, errors name the
file and line), splits every lane of the plan's shared schema into three
replicated sharings (:func:`tyst.mpc.outsourced.split`) and streams node *i*
only its pair of components, to the three nodes at once
(:mod:`tyst.api.uploads`). Only one chunk of plaintext is in memory at a time
(plus the key lanes of the table's join columns, for the owner's own
uniqueness check, whose verdict goes into the signed trailer). The owner signs
each stream's header and the whole stream; a node commits it only if the
trailer signature verifies, so an aborted upload (bad value, lost connection)
leaves nothing behind and can be repeated (a new stream for the same table
replaces an unfinished one at the node).

Errors: ``DataError`` (first bad value), :class:`UploadError` (a node refused
or could not be reached; one line naming the node).
Security: plaintext never leaves this process; no node ever receives more than
its own pair of components.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tyst.api.http import ApiError, NodeClient
from tyst.api.uploads import UploadHeader, UploadWriter
from tyst.data.files import DEFAULT_CHUNK_ROWS, read_table
from tyst.data.report import key_stats
from tyst.mpc.outsourced import split
from tyst.planner.jobspec import JobSpec
from tyst.planner.planning import join_key_columns
from tyst.ring.words import U64, WordArray
from tyst.service.keys import OrgKeys

Progress = Callable[[str, int], None]
_QUEUE_CHUNKS = 3
_PUT_WAIT = 0.5


class UploadError(Exception):
    """An upload that did not complete; ``str()`` is one line."""


@dataclass(frozen=True)
class UploadReport:
    """What one owner's upload did: rows, the uniqueness verdicts and bytes per node."""

    table: str
    rows: int
    unique: tuple[tuple[str, ...], ...]
    bytes_per_node: tuple[int, int, int]


def is_unique(lanes: list[WordArray]) -> bool:
    """Whether no two rows agree on every one of ``lanes`` (equal-length key lanes)."""
    if not lanes or len(lanes[0]) <= 1:
        return True
    keys = np.stack(lanes, axis=1)
    return len(np.unique(keys, axis=0)) == len(lanes[0])


class _Abort:
    """Sentinel telling a node's stream to stop (the request then fails)."""


class _Stream:
    """One node's upload running in a thread, fed through a bounded queue."""

    def __init__(self, node: NodeClient, job: str, table: str) -> None:
        self.queue: queue.Queue[bytes | _Abort | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self.error: str | None = None
        self.answer: dict[str, Any] | None = None
        self.sent = 0
        self._thread = threading.Thread(target=self._run, args=(node, job, table), daemon=True)
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, _Abort):
                raise UploadError("upload aborted by the owner")
            self.sent += len(item)
            yield item

    def _run(self, node: NodeClient, job: str, table: str) -> None:
        try:
            self.answer = node.upload(job, table, self._body())
        except (ApiError, UploadError) as exc:
            self.error = str(exc)
        except Exception as exc:  # e.g. httpx errors raised while streaming
            self.error = f"node {node.url}: {type(exc).__name__}: {exc}"

    def put(self, item: bytes | _Abort | None) -> None:
        while self._thread.is_alive():
            try:
                self.queue.put(item, timeout=_PUT_WAIT)
                return
            except queue.Full:
                continue
        raise UploadError(self.error or "a node's upload stopped early")

    def abort(self) -> None:
        while self._thread.is_alive():
            try:
                self.queue.put(_Abort(), timeout=_PUT_WAIT)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
        self._thread.join(timeout=30.0)

    def join(self) -> dict[str, Any]:
        self._thread.join()
        if self.error is not None or self.answer is None:
            raise UploadError(self.error or "the node gave no answer")
        return self.answer


def upload_table(
    spec: JobSpec,
    job: str,
    table: str,
    path: Path,
    keys: OrgKeys,
    nodes: Sequence[NodeClient],
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
) -> UploadReport:
    """Validate, share and stream ``path`` as ``table`` of ``job`` (see the module docstring)."""
    plan = spec.plan
    if table not in spec.schemas:
        raise UploadError(f"the plan's query reads no table {table!r}")
    owner = plan.tables[table].owner
    if owner != keys.org_id:
        raise UploadError(f"table {table!r} belongs to {owner!r}; these keys are {keys.org_id!r}")
    if len(nodes) != 3:
        raise UploadError("an upload needs the three compute nodes")
    columns = plan.tables[table].columns
    shared = spec.schemas[table]
    decl = plan.tables[table]
    key_columns = spec.join_columns.get(table, set()) | set(decl.unique)
    bounds = plan.tables[table].bounds()  # the signed plan's max_rows and ranges
    step = chunk_rows or DEFAULT_CHUNK_ROWS
    with read_table(path, columns, chunk_rows=step, bounds=bounds) as counter:
        total = sum(len(text.lines) for text in counter.text_chunks())
    writers = [
        UploadWriter(UploadHeader(job, plan.digest(), table, owner, i, spec.lanes(table), total))
        for i in range(3)
    ]
    streams = [_Stream(nodes[i], job, table) for i in range(3)]
    keys_seen: dict[str, list[list[WordArray]]] = {c: [] for c in key_columns}
    rows = 0
    try:
        for i in range(3):
            streams[i].put(writers[i].start(keys))
        with read_table(path, columns, chunk_rows=step, bounds=bounds) as reader:
            for chunk in reader:
                rows += chunk.rows
                if rows > total:
                    raise UploadError(f"{path} changed during the upload (more than {total} rows)")
                per_node: list[list[tuple[np.ndarray, np.ndarray]]] = [[], [], []]
                for c, ctype in shared.items():
                    lanes = chunk.lanes[c]
                    if c in keys_seen:
                        keys_seen[c].append([x.copy() for x in lanes[: columns[c].key_lanes]])
                    for lane in lanes[: ctype.lanes]:
                        for part in split(lane):
                            per_node[part.party].append((part.first, part.second))
                for i in range(3):
                    streams[i].put(writers[i].chunk(per_node[i], chunk.rows))
                if progress is not None:
                    progress(table, rows)
        if rows != total:
            raise UploadError(f"{path} changed during the upload ({rows} rows, not {total})")
        unique = _unique_sets(spec, table, keys_seen, columns)
        problem = _declared_facts_problem(spec, table, keys_seen, columns)
        if problem is not None:  # before any trailer: the nodes commit nothing
            raise UploadError(f"{path}: {problem}")
        for i in range(3):
            streams[i].put(writers[i].finish(keys, unique))
            streams[i].put(None)
        for s in streams:
            s.join()
    except BaseException:
        for s in streams:
            s.abort()
        raise
    sent = (streams[0].sent, streams[1].sent, streams[2].sent)
    return UploadReport(table, rows, tuple(tuple(u) for u in unique), sent)


def _key_lanes(
    seen: dict[str, list[list[WordArray]]], columns: Any, cols: Sequence[str]
) -> WordArray:
    """The rows' key lanes of ``cols`` side by side (rows × lanes)."""
    lanes = [
        np.concatenate([part[j] for part in seen[c]]) if seen[c] else np.zeros(0, dtype=U64)
        for c in cols
        for j in range(columns[c].key_lanes)
    ]
    return np.stack(lanes, axis=1) if lanes else np.zeros((0, 0), dtype=U64)


def _declared_facts_problem(
    spec: JobSpec, table: str, seen: dict[str, list[list[WordArray]]], columns: Any
) -> str | None:
    """What in the owner's own rows contradicts the plan's ``unique`` or ``max_rows_per_key``
    (None: nothing). The nodes check these obliviously too, but only in joins, and only
    after the run; an honest owner is told at once."""
    decl = spec.plan.tables[table]
    if decl.unique:
        dups, _ = key_stats([_key_lanes(seen, columns, decl.unique)])
        if dups:
            return (
                f"the plan declares unique = [{', '.join(decl.unique)}], but {dups} value(s) "
                "occur more than once; nothing was stored"
            )
    if decl.max_rows_per_key is not None:
        for cols in sorted(join_key_columns(spec.compiled.plan).get(table, set())):
            _, most = key_stats([_key_lanes(seen, columns, cols)])
            if most > decl.max_rows_per_key:
                return (
                    f"the plan declares max_rows_per_key = {decl.max_rows_per_key}, but {most} "
                    f"rows share one value of ({', '.join(cols)}); nothing was stored"
                )
    return None


def _unique_sets(
    spec: JobSpec,
    table: str,
    seen: dict[str, list[list[WordArray]]],
    columns: Any,
) -> list[list[str]]:
    """The join-column sets of ``table`` on which the owner's rows are unique."""
    lanes = {
        c: [
            np.concatenate([part[j] for part in parts]) if parts else np.zeros(0, dtype=U64)
            for j in range(columns[c].key_lanes)
        ]
        for c, parts in seen.items()
    }
    sets = join_key_columns(spec.compiled.plan).get(table, set())
    return [
        sorted(cols)
        for cols in sorted(sets)
        if is_unique([lane for c in cols for lane in lanes[c]])
    ]
