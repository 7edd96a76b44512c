"""A compute node's rules: what it accepts, when it runs, and when it deletes.

Contract
--------
:class:`NodeService` is the node without HTTP (:mod:`tyst.node.app` wraps it).

- **Authorisation, by the node itself.** Before accepting any upload of a job
  and again before running it, :meth:`NodeService.authorise` fetches the job
  and its plan from the coordinator, re-parses the plan text, recomputes its
  digest (which must be the job's plan id) and verifies **every owner's**
  approval of that digest against the node's own registry. A forged, missing
  or stale approval, or a plan altered after signing, is refused (403) and the
  node signs a ``plan_rejected`` event for the job. The coordinator's word is
  never taken for any of this.
- **Job ids** must have the one form the coordinator issues (``job-`` + 32
  lowercase hex digits, :func:`tyst.coordinator.protocol.is_job_id`); any
  other id is refused (404) before anything is looked up or stored.
- **Uploads.** An upload's header names the job, plan digest, table, owner,
  this node's party, the shared columns and the row count, and is signed by
  the owner (:mod:`tyst.api.uploads`). The header signature is checked first:
  a stream that is not the owner's is refused (403) before the node asks the
  coordinator anything or stores a byte. Then every field must match what the
  node derives from the signed plan (the owner of the table,
  :mod:`tyst.planner.jobspec`), the row count must be within the plan's
  ``max_rows`` for the table and what it implies
  (:func:`tyst.api.uploads.stored_bytes_bound`) within ``max_table_bytes``
  (413). Chunks are encrypted into the store as they arrive, never beyond that
  bound; the upload becomes part of the job only when the owner's signature
  over the whole stream verifies, and only then does it take the table's slot
  (a later upload of a held table: 409). An unfinished stream holds no slot:
  a new signed stream for the same table replaces it (its partial file is
  removed at once), and a failed, abandoned or stalled (``upload_timeout``)
  stream's chunks are deleted.
  Then the node signs ``upload_received``.
- **Binding to one plan.** The first upload a node commits for a job fixes
  the job's plan digest (in the job's entry and on disk,
  :meth:`tyst.node.store.ShareStore.bind`); each stored table records the
  digest its owner signed. If the coordinator later names another plan for the
  job — at another upload or at the run — the node refuses the job (it signs
  ``plan_rejected`` and deletes what it holds): a coordinator cannot run one
  approved plan over shares uploaded for another. A job this node refused
  stays refused; a job whose plan an owner rejected or its submitter withdrew
  (plan state ``rejected``/``withdrawn``), or that a party cancelled
  (``plan_rejected``/``job_cancelled`` in its events), is refused too.
- **Runs.** When every table of the plan is held, the job is queued; one job
  runs at a time, in its own process (:func:`tyst.net.one_party.run_party`),
  connected to the other two nodes by mutual TLS. Before it starts, the plan
  the coordinator names, the job's fixed digest and every stored table's
  signed digest must agree (else: refused as above). The node signs
  ``run_started``, then ``run_finished`` (with its time, CPU, traffic and peak
  memory) or ``run_failed`` (one line).
- **Results.** The node seals its result shares to each recipient's public
  keys (X25519 + ML-KEM-768 → AES-GCM) in chunks of at most
  ``result_chunk_bytes`` (:mod:`tyst.api.results`: each chunk's context bound
  to job, recipient, node, party, result id, index and count), queues them in
  the outbox one chunk at a time, relays each chunk (signed for its place)
  through the coordinator, and signs ``result_delivered``.
- **Deletion.** After delivery, on any failure, when the coordinator reports the
  job failed (e.g. another node failed or refused), when uploads stay
  incomplete for ``upload_timeout``, and at the plan's ``retention_days``
  deadline (counted from the job's first committed upload here) at the latest,
  the node forgets the job key, removes the files and signs ``shares_deleted`` (the
  deletion receipt: what was removed and why). Store leftovers found at
  start-up (unreadable: their key died with the old process) are deleted too.
  The receipt's ``reason`` is the true one: ``delivered`` (the coordinator
  acknowledged every sealed result), ``delivery_pending`` (the results are
  sealed in the outbox because the coordinator is unreachable), ``failed``,
  ``refused``, ``coordinator_unreachable`` (before the run could be
  authorised), ``retention``, ``upload_timeout``, ``shutdown``, ``restart``.
- **Privacy budget.** For a plan with ``[privacy]`` the node keeps its own ledger
  (:mod:`tyst.node.ledger`, ``<store>/privacy-ledger.sqlite3``): before it accepts an upload
  it reserves the plan's ε or ρ on every table the query reads (refused over budget, with one
  line, as a refused plan: ``plan_rejected``, nothing kept); it commits the spend immediately
  before it joins the computation (after ``run_started``), because from then on a result might
  be released; a job that ends before that (refused, cancelled, failed, timed out, the node
  restarted) releases its reservation. Each node decides alone: a node whose ledger refuses
  fails the job for all.
- **Outbox.** Every event and sealed result goes through the node's
  :class:`~tyst.node.outbox.Outbox` (``<store>/outbox``): sent at once, and
  kept on disk and redelivered with backoff (across restarts) while the
  coordinator is unreachable, each event once by its event id. A run does not
  wait for an unreachable coordinator: it finishes, seals its results into the
  outbox and deletes its shares; an answer *refusing* ``run_started``,
  ``run_finished`` or a result (the job ended elsewhere) fails the run here.

Errors: :class:`Refused` (an HTTP status and one line) for a refused request.
Security: log lines name jobs, tables and counts only — never values or keys.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tyst.api.http import ApiError, CoordinatorClient, transient
from tyst.api.results import encode_result, seal_chunks
from tyst.api.uploads import (
    UploadFormatError,
    UploadHeader,
    UploadReader,
    stored_bytes_bound,
    verify_header,
    verify_trailer,
)
from tyst.coordinator import states
from tyst.coordinator.protocol import chunk_count, is_job_id, new_result_id
from tyst.net.certs import NodeCredentials
from tyst.net.launcher import PartyFailed
from tyst.net.one_party import run_party
from tyst.node.config import NodeConfig
from tyst.node.ledger import LEDGER_FILE, BudgetLedger, LedgerError, plan_charges
from tyst.node.outbox import Courier, Item, Outbox, OutboxFull, Refusal, Retry, Status
from tyst.node.program import NodeResult, StoredInputs, node_program
from tyst.node.store import ShareStore, StoredTable, StoreError, TableWriter
from tyst.node.telemetry import NodeTelemetry
from tyst.plan import PlanError, parse_plan
from tyst.planner.jobspec import JobSpec, job_spec
from tyst.planner.passes import physical_plan
from tyst.planner.planning import PlanningError
from tyst.planner.sizes import padded_rows, result_bytes
from tyst.service.audit import (
    GENESIS_HASH,
    AuditEvent,
    Head,
    SignedHead,
    read_signed_head,
    sign_head,
    verify_chain,
    write_signed_head,
)
from tyst.service.keys import OrgKeys, Registry, UnknownOrganisation
from tyst.service.sealing import OVERHEAD as SEAL_OVERHEAD
from tyst.service.signing import Approval, ApprovalFormatError, SignatureInvalid, verify_approvals

log = logging.getLogger("tyst.node")

CLOCK_SKEW = _dt.timedelta(minutes=5)
"""Approvals signed further in the future than this are refused."""

ACK_WAIT = 60.0
"""Seconds a run waits for the coordinator to acknowledge one event before it carries on
and leaves the event to the outbox (an unreachable coordinator is noticed at once)."""

WITHDRAWN = ("plan_rejected", "job_cancelled")

_PARTY = re.compile(r"\bparty ([012])\b(?! \()", re.ASCII)
"""Job events after which no node may run the job."""


class Refused(Exception):
    """A request the node refuses: ``status`` (HTTP) and a one-line ``str()``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class JobEntry:
    """What a node knows of one job it holds shares for."""

    job: str
    spec: JobSpec
    plan_digest: str
    first_upload: float
    tables: dict[str, StoredTable] = field(default_factory=dict)
    state: str = "uploading"  # uploading, queued, running, delivered, failed, deleted
    message: str = ""
    receiving: set[str] = field(default_factory=set)
    stop_run: threading.Event = field(default_factory=threading.Event)
    """Set when the coordinator reports the job failed (cancelled, timed out) while it runs."""
    ended_elsewhere: str = ""

    @property
    def retention_deadline(self) -> float:
        return self.first_upload + 86400.0 * self.spec.plan.analysis.retention_days

    def view(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "plan_id": self.plan_digest,
            "state": self.state,
            "message": self.message,
            "tables": {t: m.rows for t, m in self.tables.items()},
            "missing": [t for t in self.spec.tables if t not in self.tables],
            "retention_deadline": _dt.datetime.fromtimestamp(self.retention_deadline, _dt.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
        }


@dataclass
class _Stream:
    """An upload in progress: its writer and what its header was checked against."""

    writer: TableWriter
    spec: JobSpec
    started: float = field(default_factory=time.time)


def check_job_id(job: str) -> None:
    """Refuse (404) a job id that is not of the coordinator's form."""
    if not is_job_id(job):
        raise Refused(404, "no such job here: a job id is job- and 32 lowercase hex digits")


class NodeService:
    """One compute node's state and rules (see the module docstring)."""

    def __init__(
        self,
        config: NodeConfig,
        keys: OrgKeys,
        registry: Registry,
        credentials: NodeCredentials,
        coordinator: CoordinatorClient,
    ) -> None:
        self.config = config
        self.keys = keys
        self.registry = registry
        self.credentials = credentials
        self.coordinator = coordinator
        self.store = ShareStore(config.store)
        self.ledger = BudgetLedger(config.store / LEDGER_FILE)
        self.outbox = Outbox(
            config.store / "outbox",
            max_items=config.outbox_max_items,
            max_bytes=config.outbox_max_bytes,
        )
        self.courier = Courier(
            self.outbox, self._deliver, self._settled, backoff_max=config.redeliver_max_seconds
        )
        self._jobs: dict[str, JobEntry] = {}
        self._posted: dict[str, int] = {}
        """Per outbox result item: how many of its chunks the coordinator acknowledged."""
        self._rejected: set[str] = set()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._lock = threading.RLock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.telemetry = NodeTelemetry(self._state_counts, lambda: len(self.outbox))

    def _state_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(collections.Counter(e.state for e in self._jobs.values()))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Resume delivering the outbox, delete unreadable leftovers, then start the run
        worker and the sweeper."""
        self.courier.start()
        released = self.ledger.release_reserved()  # no job from before a restart can run
        if released:
            log.warning("released %d privacy-budget reservations made before a restart", released)
        for job in self.store.orphans():
            removed = self.store.delete(job)
            log.warning("deleted leftover shares of %s (%d files)", job, removed["files"])
            self._event(job, "run_failed", {"message": "the node restarted; its shares are gone"})
            self._event(job, "shares_deleted", {**removed, "reason": "restart"})
        for target, name in ((self._worker, "run-worker"), (self._sweeper, "sweeper")):
            thread = threading.Thread(target=target, name=f"tyst-node-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads and delete every job's shares (signed receipts)."""
        self._stop.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5.0)
        with self._lock:
            jobs = [j for j, e in self._jobs.items() if e.state not in ("deleted",)]
        for job in jobs:
            self._fail_and_delete(job, "the node was stopped", "shutdown")
        with self._lock:
            pending = list(self._streams.values())
        for stream in pending:
            stream.writer.cancel("the node was stopped")
            self.abort_upload(stream.writer.job, stream.writer.table, stream.writer)
        self.courier.stop()
        if len(self.outbox):
            log.warning(
                "%d messages for the coordinator stay queued until the node starts again",
                len(self.outbox),
            )

    # ------------------------------------------------------------------ authorisation

    def _event(self, job: str, kind: str, details: Mapping[str, str | int]) -> Status:
        """Queue a job event in the outbox and deliver what is queued up to it now.

        Returns ``accepted`` (in the coordinator's log), ``refused`` (the coordinator
        answered no; logged) or ``pending`` (unreachable: the outbox redelivers it, signed
        afresh, until the coordinator acknowledges)."""
        return self._send(job, kind, lambda: self.outbox.put_event(job, kind, details))[0]

    def _send(self, job: str, kind: str, put: Any) -> tuple[Status, str]:
        try:
            item: Item = put()
        except (OutboxFull, OSError, ValueError) as exc:
            log.error("job %s: could not queue %s: %s", job, kind, exc)
            return "refused", f"could not queue {kind}: {exc}"
        return self.courier.wait(item, ACK_WAIT)

    def _deliver(self, item: Item) -> None:
        """Send one outbox item (for a result: its post, then its ``result_delivered``)."""
        try:
            if item.is_result:
                # Chunks acknowledged in an earlier attempt are not sent again (a repost
                # would be acknowledged too: after a restart every chunk is reposted).
                for index in range(self._posted.get(item.name, 0), item.chunks):
                    self.coordinator.post_result(
                        item.job,
                        item.recipient,
                        self.outbox.chunk(item, index),
                        result_id=item.result_id,
                        index=index,
                        count=item.chunks,
                    )
                    self._posted[item.name] = index + 1
            self.coordinator.job_event(item.job, item.kind, item.details)
            self._posted.pop(item.name, None)
        except ApiError as exc:
            if transient(exc):
                raise Retry(str(exc)) from None
            raise Refusal(str(exc)) from None

    def _settled(self, item: Item, status: Status) -> None:
        """After a deletion receipt reached the log: countersign the log's head."""
        if item.kind == "shares_deleted" and status == "accepted":
            self.countersign_head()

    def authorise(self, job: str) -> JobSpec:
        """Verify the job's plan and every owner's approval (see the module docstring)."""
        check_job_id(job)
        with self._lock:
            if job in self._rejected:
                raise Refused(403, f"job {job} was refused by this node; it accepts nothing more")
        try:
            info = self.coordinator.job(job)
            plan_info = self.coordinator.plan(str(info["plan_id"]))
        except ApiError as exc:
            raise Refused(404 if exc.status == 404 else 502, f"job {job}: {exc}") from None
        fixed = self._fixed_digest(job)
        if fixed is not None and info["plan_id"] != fixed:
            reason = (
                f"the coordinator names plan {str(info['plan_id'])[:16]}… for the job, but its "
                f"uploads here are for plan {fixed[:16]}…"
            )
            self._reject(job, reason)
            raise Refused(403, f"job {job} refused: {reason}")
        withdrawn = [
            f"{e.get('kind')} by {e.get('actor')}"
            for e in info.get("events", [])
            if isinstance(e, Mapping) and e.get("kind") in WITHDRAWN
        ]
        if plan_info.get("state") in states.PLAN_CLOSED_STATES or plan_info.get("rejected_by"):
            by = plan_info.get("rejected_by") or plan_info.get("submitted_by")
            withdrawn.append(f"the plan was {plan_info.get('state')} by {by}")
        if withdrawn:
            reason = f"the job was withdrawn: {'; '.join(map(str, withdrawn))[:300]}"
            self._reject(job, reason)
            raise Refused(403, f"job {job} refused: {reason}")
        try:
            plan = parse_plan(str(plan_info["toml"]), f"plan of {job}")
            digest = plan.digest()
            if digest != info["plan_id"]:
                raise SignatureInvalid(
                    f"the plan text's digest {digest[:16]}… is not the job's plan "
                    f"{str(info['plan_id'])[:16]}…"
                )
            approvals = [Approval.from_dict(a) for a in plan_info["approvals"]]
            owners = {t.owner for t in plan.tables.values()}
            verify_approvals(
                self.registry,
                approvals,
                digest,
                owners,
                not_after=_dt.datetime.now(_dt.UTC) + CLOCK_SKEW,
            )
            for party in (*owners, *plan.recipients):
                self.registry.get(party)
        except (PlanError, SignatureInvalid, ApprovalFormatError, UnknownOrganisation) as exc:
            self._reject(job, str(exc))
            raise Refused(403, f"job {job} refused: {exc}") from None
        if info["state"] not in states.LIVE_STATES:
            raise Refused(409, f"job {job} is {info['state']}; it accepts nothing more")
        try:
            return job_spec(plan)
        except Exception as exc:  # the plan compiled at submission; refuse if not here
            self._reject(job, f"the plan does not compile: {exc}")
            raise Refused(403, f"job {job} refused: the plan does not compile: {exc}") from None

    def _reject(self, job: str, reason: str) -> None:
        log.warning("refused job %s: %s", job, reason)
        with self._lock:
            first = job not in self._rejected
            self._rejected.add(job)
        if first:
            self._event(job, "plan_rejected", {"reason": reason[:900]})
        self._fail_and_delete(job, f"refused: {reason}", "refused", report=False)

    # ------------------------------------------------------------------ uploads

    def _fixed_digest(self, job: str) -> str | None:
        """The plan digest this node fixed for ``job`` at its first committed upload."""
        with self._lock:
            entry = self._jobs.get(job)
            if entry is not None:
                return entry.plan_digest
        try:
            return self.store.bound_digest(job)
        except (OSError, ValueError, KeyError, StoreError):
            return None

    def check_request(self, job: str, table: str) -> None:
        """Refuse a malformed job id (404) or table name (400) before reading a body."""
        check_job_id(job)
        if not table.isidentifier() or not table.isascii() or len(table) > 128:
            raise Refused(400, "not a table name")

    def begin_upload(
        self, job: str, table: str, header: UploadHeader, signature: bytes
    ) -> TableWriter:
        """Check an upload's signed header against the signed plan; return its store writer."""
        self.check_request(job, table)
        if header.job != job or header.table != table:
            raise Refused(400, "the upload header names another job or table than the URL")
        if header.party != self.config.party:
            raise Refused(
                400, f"this is node {self.config.party}; the shares are for node {header.party}"
            )
        try:
            verify_header(self.registry, header, signature)
        except (SignatureInvalid, UnknownOrganisation) as exc:
            raise Refused(403, f"upload header refused: {exc}") from None
        spec = self.authorise(job)
        if header.plan_digest != spec.plan.digest():
            raise Refused(400, "the upload is for another plan digest than the job's")
        if table not in spec.schemas:
            raise Refused(400, f"the plan's query reads no table {table!r}")
        owner = spec.plan.tables[table].owner
        if header.owner != owner:
            raise Refused(403, f"table {table!r} belongs to {owner!r}, not {header.owner!r}")
        if header.columns != spec.lanes(table):
            raise Refused(400, f"table {table!r}: the upload's columns differ from the plan's")
        limit = spec.plan.tables[table].row_limit
        if header.rows > limit:
            raise Refused(413, f"table {table!r}: {header.rows} rows, the plan allows {limit}")
        bound = stored_bytes_bound(header)
        if bound > self.config.max_table_bytes:
            raise Refused(
                413,
                f"table {table!r}: {header.rows} rows would store up to {bound} bytes; "
                f"this node takes at most {self.config.max_table_bytes} per table",
            )
        self._spend_budget(job, spec, final=False)
        with self._lock:
            entry = self._jobs.get(job)
            if entry is not None and entry.state != "uploading":
                raise Refused(409, f"job {job} is {entry.state} here; it accepts no uploads")
            if entry is not None and table in entry.tables:
                raise Refused(409, f"table {table!r} of job {job} was already uploaded")
            old = self._streams.pop((job, table), None)
            writer = self.store.writer(job, table, bound)
            self._streams[(job, table)] = _Stream(writer, spec)
        if old is not None:
            old.writer.cancel("a newer upload of this table replaced this one")
            log.info("job %s: a new upload of table %s replaced an unfinished one", job, table)
        return writer

    def finish_upload(
        self, job: str, table: str, reader: UploadReader, writer: TableWriter
    ) -> dict[str, Any]:
        """Verify the owner's signature over the stream, commit it and log the receipt."""
        header, trailer = reader.header, reader.trailer
        assert header is not None
        assert trailer is not None
        try:
            with self._lock:
                stream = self._streams.get((job, table))
            if stream is None or stream.writer is not writer:
                raise Refused(409, "a newer upload of this table replaced this one")
            spec = stream.spec
            try:
                verify_trailer(self.registry, header, trailer, reader.sha256, reader.rows)
                allowed = spec.join_columns.get(table, set())
                if any(not set(u) <= allowed for u in trailer.unique):
                    raise UploadFormatError("upload: a uniqueness claim names non-join columns")
            except (UploadFormatError, SignatureInvalid, UnknownOrganisation) as exc:
                status = 403 if isinstance(exc, SignatureInvalid | UnknownOrganisation) else 400
                raise Refused(status, str(exc)) from None
            meta = StoredTable(
                table,
                header.owner,
                trailer.rows,
                header.columns,
                trailer.unique,
                trailer.sha256,
                header.plan_digest,
            )
            conflict = ""
            with self._lock:
                if self._streams.get((job, table)) is not stream:
                    raise Refused(409, "a newer upload of this table replaced this one")
                entry = self._jobs.get(job)
                fixed = entry.plan_digest if entry is not None else self.store.bound_digest(job)
                if fixed is not None and fixed != header.plan_digest:
                    conflict = (
                        f"an upload for plan {header.plan_digest[:16]}… arrived, but the job's "
                        f"uploads here are for plan {fixed[:16]}…"
                    )
                else:
                    if entry is not None and entry.state != "uploading":
                        raise Refused(
                            409, f"job {job} is {entry.state} here; it accepts no uploads"
                        )
                    if entry is not None and table in entry.tables:
                        raise Refused(409, f"table {table!r} of job {job} was already uploaded")
                    self.store.bind(job, header.plan_digest)
                    try:
                        writer.commit(meta)
                    except StoreError as exc:
                        raise Refused(409, str(exc)) from None
                    del self._streams[(job, table)]
                    if entry is None:
                        entry = JobEntry(job, spec, header.plan_digest, time.time())
                        self._jobs[job] = entry
                    entry.tables[table] = meta
                    complete = entry.state == "uploading" and all(
                        t in entry.tables for t in entry.spec.tables
                    )
                    if complete:
                        entry.state = "queued"
            if conflict:
                self._reject(job, conflict)
                raise Refused(403, f"job {job} refused: {conflict}")
        except BaseException:
            self.abort_upload(job, table, writer)
            raise
        self._event(
            job,
            "upload_received",
            {"table": table, "owner": header.owner, "rows": trailer.rows, "bytes": writer.bytes},
        )
        log.info("job %s: stored table %s (%d rows)", job, table, trailer.rows)
        self.telemetry.upload_bytes.observe(writer.bytes)
        self.telemetry.upload_rows.observe(trailer.rows)
        if complete:
            self._queue.put(job)
        return {"job": job, "table": table, "rows": trailer.rows, "complete": complete}

    def abort_upload(self, job: str, table: str, writer: TableWriter) -> None:
        """Drop an upload that did not complete (its chunks are deleted)."""
        writer.abort()
        with self._lock:
            stream = self._streams.get((job, table))
            if stream is not None and stream.writer is writer:
                del self._streams[(job, table)]
            unused = job not in self._jobs and not any(j == job for j, _ in self._streams)
            if unused:  # nothing of the job was committed here: forget its key and directory
                self.store.delete(job)
        if unused:  # and its budget reservation (a new upload reserves anew)
            self.ledger.release(job)

    def job_view(self, job: str) -> dict[str, Any]:
        check_job_id(job)
        with self._lock:
            entry = self._jobs.get(job)
            if entry is None:
                raise Refused(404, f"this node holds nothing of job {job}")
            return entry.view()

    def health(self) -> dict[str, Any]:
        with self._lock:
            held = sum(1 for e in self._jobs.values() if e.state not in ("deleted",))
        return {
            "status": "ok",
            "org": self.config.org,
            "party": self.config.party,
            "registry_fingerprint": self.registry.fingerprint(),
            "jobs_held": held,
            "outbox": len(self.outbox),
        }

    # ------------------------------------------------------------------ runs

    def _worker(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception as exc:  # never let the worker die
                log.exception("job %s: unexpected error", job)
                self._fail_and_delete(job, f"internal error: {type(exc).__name__}", "failed")

    def _run(self, job: str) -> None:
        with self._lock:
            entry = self._jobs.get(job)
            if entry is None or entry.state != "queued":
                return
            entry.state = "running"
        try:
            spec = self.authorise(job)
        except Refused as exc:
            reason = "coordinator_unreachable" if exc.status == 502 else "refused"
            self._fail_and_delete(job, str(exc), reason, report=exc.status != 403)
            return
        mismatch = self._binding_mismatch(entry, spec)
        if mismatch:
            self._reject(job, mismatch)
            return
        too_large = self._undeliverable(entry, spec)
        if too_large:
            self._fail_and_delete(job, too_large, "failed")
            return
        if self._event(job, "run_started", {"tables": len(entry.tables)}) == "refused":
            self._fail_and_delete(job, "the coordinator did not accept run_started", "failed")
            return
        # pending: the coordinator went away after authorising the run; the run goes on
        # and run_started reaches the log first when it is back.
        started = time.monotonic()
        try:
            facts = spec.facts({t: m.unique for t, m in entry.tables.items()})
            plan = physical_plan(spec.compiled.plan, facts)
            inputs = StoredInputs(self.store.root, job, self.store.key(job), dict(entry.tables))
            self._spend_budget(job, spec, final=True)  # from here on a result may be released
            run = run_party(
                node_program,
                (plan, spec.schemas, spec.domain(job), inputs, spec.release),
                party=self.config.party,
                addresses=self.config.mesh,
                credentials=self.credentials,
                job=bytes.fromhex(job.removeprefix("job-")),
                timeout=self.config.timeout,
                connect_timeout=self.config.connect_timeout,
                deadline=self.config.run_deadline,
                cancel=entry.stop_run,
            )
        except Refused:  # over budget here: refused (plan_rejected), nothing computed
            return
        except PartyFailed as exc:
            self.telemetry.run("failed", time.monotonic() - started)
            if entry.stop_run.is_set():
                why = entry.ended_elsewhere
                self._fail_and_delete(job, f"stopped: the job {why}"[:900], _ended_reason(why))
                return
            message = f"{exc.error_type}: {exc.message}".splitlines()[0]
            self._fail_and_delete(job, self.name_parties(message)[:900], "failed")
            return
        except PlanningError as exc:
            self.telemetry.run("failed", time.monotonic() - started)
            self._fail_and_delete(job, str(exc)[:900], "failed")
            return
        result: NodeResult = run.result
        m = result.metrics
        self.telemetry.bytes_sent.inc(m.bytes_sent)
        self.telemetry.bytes_received.inc(m.bytes_received)
        self.telemetry.rounds.inc(m.rounds)
        finished, why = self._send(
            job,
            "run_finished",
            lambda: self.outbox.put_event(
                job,
                "run_finished",
                {
                    "milliseconds": round(m.seconds * 1000),
                    "cpu_milliseconds": round(m.cpu_seconds * 1000),
                    "bytes_sent": m.bytes_sent,
                    "bytes_received": m.bytes_received,
                    "rounds": m.rounds,
                    "messages_sent": m.messages_sent,
                    "peak_rss_bytes": m.peak_rss_bytes,
                    "result_rows": next(len(a.first) for a in result.arrays if a.name == "valid"),
                },
            ),
        )
        if finished == "refused":
            self.telemetry.run("failed", time.monotonic() - started)
            self._fail_and_delete(
                job, f"the job failed elsewhere while this node ran: {why}"[:900], "failed"
            )
            return
        offline = finished == "pending"
        payload = encode_result(job, self.config.party, result.arrays)
        count = chunk_count(len(payload), self.config.result_chunk_bytes)
        for recipient in spec.plan.recipients:
            result_id = new_result_id()
            chunks = seal_chunks(
                self.registry.get(recipient),
                payload,
                job=job,
                sender=self.config.org,
                party=self.config.party,
                result_id=result_id,
                chunk_bytes=self.config.result_chunk_bytes,
            )
            posted, why = self._send(
                job,
                "result",
                lambda r=recipient, c=chunks, i=result_id: self.outbox.put_result(
                    job, r, c, {"recipient": r}, result_id=i, count=count
                ),
            )
            if posted == "refused":
                self.telemetry.run("failed", time.monotonic() - started)
                self._fail_and_delete(job, f"could not relay the result: {why}"[:900], "failed")
                return
            offline = offline or posted == "pending"
        with self._lock:
            entry.state = "delivered"
        self.telemetry.run("delivered", time.monotonic() - started)
        # The sealed results are acknowledged, or safe in the outbox (the coordinator is
        # unreachable): the shares are no longer needed either way, and the receipt says which.
        self._delete(job, "delivery_pending" if offline else "delivered")

    def _undeliverable(self, entry: JobEntry, spec: JobSpec) -> str:
        """Why the result of this run could not be relayed ("" if it can): its sealed size,
        from the uploaded row counts (public), above the coordinator's max_result_bytes —
        decided before any computing. A coordinator that does not say its limit (or
        cannot be asked now) is not held against the run: a chunk it refuses fails the
        job after the run instead."""
        try:
            limit = self.coordinator.health().get("max_result_bytes")
            facts = spec.facts({t: m.unique for t, m in entry.tables.items()})
            plan = physical_plan(spec.compiled.plan, facts)
        except (ApiError, PlanningError):
            return ""
        if not isinstance(limit, int):
            return ""
        rows = {t: m.rows for t, m in entry.tables.items()}
        payload = result_bytes(plan, rows)
        sealed = payload + SEAL_OVERHEAD * chunk_count(payload, self.config.result_chunk_bytes)
        if sealed <= limit:
            return ""
        return (
            f"the result cannot be delivered: {padded_rows(plan, rows):,} padded rows make "
            f"{sealed:,} sealed bytes per node and recipient, above the coordinator's "
            f"max_result_bytes ({limit:,}); raise it, or run the plan over smaller tables"
        )

    def name_parties(self, message: str) -> str:
        """``message`` with each "party N" of the mesh named by organisation and mesh
        address, e.g. "party 2 (nod-c at 10.0.0.3:8451)": an operator reading a failure
        learns which body and host to call, not an index."""

        def named(match: re.Match[str]) -> str:
            i = int(match.group(1))
            host, port = self.config.mesh[i]
            return f"party {i} ({self.config.nodes[i]} at {host}:{port})"

        return _PARTY.sub(named, message)

    def _spend_budget(self, job: str, spec: JobSpec, *, final: bool) -> None:
        """Reserve (or, when ``final``, commit) the plan's privacy spend on every table the
        query reads, in this node's own ledger; over budget the job is refused here (403)."""
        charges = plan_charges(spec.plan, spec.tables)
        if not charges:
            return
        spend = self.ledger.commit if final else self.ledger.reserve
        try:
            spend(job, spec.plan.digest(), charges, _dt.datetime.now(_dt.UTC))
        except LedgerError as exc:
            self._reject(job, str(exc))
            raise Refused(403, f"job {job} refused: {exc}") from None
        what = f"{charges[0].measure} {charges[0].amount} on {', '.join(spec.tables)}"
        log.info("job %s: privacy budget %s: %s", job, "committed" if final else "reserved", what)

    def _binding_mismatch(self, entry: JobEntry, spec: JobSpec) -> str:
        """Why the plan to run, the job's digest and the stored tables disagree ("" if not)."""
        digest = spec.plan.digest()
        short = f"{digest[:16]}…"
        if entry.plan_digest != digest or self.store.bound_digest(entry.job) != digest:
            return f"the plan to run ({short}) is not the plan the job's uploads were for"
        on_disk = self.store.tables(entry.job)
        for table in spec.tables:
            held, stored = entry.tables.get(table), on_disk.get(table)
            if held is None or stored is None:
                return f"table {table!r} of the plan to run ({short}) is not held"
            if held.plan_digest != digest or stored.plan_digest != digest:
                return f"table {table!r} was uploaded for another plan than {short}"
        if set(entry.tables) != set(spec.tables):
            return f"the tables held are not those of the plan to run ({short})"
        return ""

    # ------------------------------------------------------------------ deletion

    def _delete(self, job: str, reason: str) -> None:
        with self._lock:
            streams = [self._streams.pop(k) for k in list(self._streams) if k[0] == job]
        for stream in streams:
            stream.writer.cancel(f"job {job} was deleted here")
        removed = self.store.delete(job)
        self.ledger.release(job)  # a reservation only: a committed spend stays
        with self._lock:
            entry = self._jobs.get(job)
            if entry is not None:
                entry.state = "deleted"
        self._event(job, "shares_deleted", {**removed, "reason": reason})
        log.info("job %s: shares and key deleted (%s)", job, reason)

    @property
    def heads_dir(self) -> Path:
        """Where this node keeps the audit heads it countersigned (never on the coordinator)."""
        return self.store.root / "audit-heads"

    def countersign_head(self) -> SignedHead | None:
        """Verify the coordinator's whole audit log — its chain, every signature, and that it
        still contains the last head this node signed — and sign its head (issue 11,
        finding 7): ``tyst audit verify --head FILE`` with these files detects a log cut off
        or rewritten below any of them. Kept in :attr:`heads_dir`; failures are logged,
        never fatal (the deletion has happened)."""
        try:
            data = self.coordinator.audit_jsonl()
            events = [AuditEvent.from_dict(json.loads(line)) for line in data.splitlines() if line]
            report = verify_chain(events, self.registry, expected_head=self._last_head())
            if not report.ok:
                log.warning("the coordinator's audit log does not verify: %s", report.first_problem)
                return None
            head = Head(len(events), events[-1].hash if events else GENESIS_HASH)
            signed = sign_head(self.keys, head)
            self.heads_dir.mkdir(mode=0o700, exist_ok=True)
            write_signed_head(self.heads_dir / f"head-{head.n_events:012d}.json", signed)
            self.telemetry.audit_events.set(head.n_events)
            return signed
        except Exception as exc:  # never fatal: the deletion and its receipt have happened
            log.warning("could not countersign the audit head: %s", exc)
            return None

    def _last_head(self) -> Head | None:
        files = sorted(self.heads_dir.glob("head-*.json")) if self.heads_dir.is_dir() else []
        if not files:
            return None
        signed = read_signed_head(files[-1])
        return Head(signed.n_events, signed.hash)

    def _fail_and_delete(
        self,
        job: str,
        message: str,
        reason: str,
        *,
        report: bool = True,
        only_if: tuple[str, ...] | None = None,
    ) -> None:
        """Fail the job here (signed run_failed unless ``report`` is False) and delete.

        ``only_if``: act only while the job is in one of these states (the sweeper
        must not delete under a run that has just started)."""
        with self._lock:
            entry = self._jobs.get(job)
            if entry is not None:
                if entry.state == "deleted" or (only_if and entry.state not in only_if):
                    return
                entry.state = "failed"
                entry.message = message
            held = entry is not None or job in self.store.jobs()
        self.telemetry.failed(reason)
        log.warning("job %s failed here: %s", job, message)
        if not held:  # nothing computed: a reservation costs nothing (_delete releases it)
            self.ledger.release(job)
        if report:
            self._event(job, "run_failed", {"message": message[:900]})
        if held:
            self._delete(job, reason)

    def _sweeper(self) -> None:
        while not self._stop.wait(self.config.sweep_seconds):
            self.sweep()

    def sweep(self, now: float | None = None) -> None:
        """Enforce retention and upload timeouts; drop jobs that failed elsewhere."""
        now = time.time() if now is None else now
        idle = ("uploading", "queued")
        with self._lock:
            entries = [e for e in self._jobs.values() if e.state in ("uploading", "queued")]
            running = [e for e in self._jobs.values() if e.state == "running"]
            stale = [
                s for s in self._streams.values() if now - s.started > self.config.upload_timeout
            ]
        for stream in stale:  # a stream stalled longer than a whole job may wait: drop it
            stream.writer.cancel(
                f"the upload stalled for more than {self.config.upload_timeout:.0f} s"
            )
            self.abort_upload(stream.writer.job, stream.writer.table, stream.writer)
        for entry in entries:
            if now >= entry.retention_deadline:
                self._fail_and_delete(
                    entry.job, "the plan's retention deadline passed", "retention", only_if=idle
                )
                continue
            if entry.state == "uploading" and now - entry.first_upload > self.config.upload_timeout:
                self._fail_and_delete(
                    entry.job,
                    f"not every table arrived within {self.config.upload_timeout:.0f} s",
                    "upload_timeout",
                    only_if=idle,
                )
                continue
            why = self._ended_elsewhere(entry.job)
            if why:
                self._fail_and_delete(
                    entry.job, f"the job {why}"[:900], _ended_reason(why), report=False,
                    only_if=idle,
                )  # fmt: skip
        for entry in running:  # a cancelled or timed-out job: stop its run (it then deletes)
            why = self._ended_elsewhere(entry.job)
            if why and not entry.stop_run.is_set():
                entry.ended_elsewhere = why
                entry.stop_run.set()
                log.warning("job %s: stopping its run: the job %s", entry.job, why)

    def _ended_elsewhere(self, job: str) -> str:
        """Why the coordinator says ``job`` ended without this node ("" if it did not, or
        the coordinator cannot be asked now): e.g. "failed: cancelled by fk: …"."""
        try:
            info = self.coordinator.job(job)
        except ApiError:
            return ""
        if info.get("state") != states.FAILED:
            return ""
        reason = " ".join(str(info.get("reason") or "").split())[:500]
        return f"failed elsewhere: {reason}" if reason else "failed elsewhere"


def _ended_reason(why: str) -> str:
    """The deletion receipt's reason for a job that ended at the coordinator (see
    :meth:`NodeService._ended_elsewhere`): ``cancelled``, ``timed_out`` or ``failed``."""
    if "cancelled by" in why:
        return "cancelled"
    if "timed out" in why:
        return "timed_out"
    return "failed"
