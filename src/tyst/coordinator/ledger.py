"""The coordinator's rules: what it accepts, from whom, and how jobs move between states.

Contract
--------
:class:`Ledger` is the coordinator without HTTP: every method opens its own
transaction on the :class:`~tyst.coordinator.db.Database`, verifies what it is
given against the deployment's :class:`~tyst.service.keys.Registry`, and raises
:class:`CoordinatorError` (an HTTP status and one line) for anything it refuses,
leaving the database unchanged.

**Signed decisions.** Every write that records an organisation's decision
carries an audit event signed by that organisation (drafted by
:meth:`Ledger.draft` or by the client itself from :meth:`Ledger.head`, signed
with :func:`tyst.service.audit.sign_event`). An event is accepted only if it is
the next one in the chain (``seq`` = head + 1, ``prev_hash`` = head hash; else
409 — draft again), its ``hash`` matches its contents, its actor is registered
and its signature verifies. The coordinator never signs on anyone's behalf.

**Plans** (``plan_id`` = digest, see :mod:`tyst.coordinator.protocol`):

- submit: an owner or recipient of the plan, with a ``plan_submitted`` event
  whose details name the digest, the owners and the recipients
  (:func:`tyst.service.roles.plan_submitted_details`, so that a verifier learns
  each plan's parties from the log); every owner and recipient of the plan
  must be a registered organisation;
  resubmitting the same digest is idempotent (nothing is appended);
- approve: only owners of the plan's tables, with a valid
  :class:`~tyst.service.signing.Approval` of this digest (another digest: 400;
  a non-owner, unknown signer or bad signature: 403) and their
  ``plan_approved`` event; a repeated approval by the same owner is idempotent;
- reject: an owner's ``plan_rejected`` event (plan events endpoint); final —
  no new jobs; approvals after it are refused; every live job of the plan fails
  (:data:`tyst.coordinator.states.PLAN_CLOSED`: the nodes stop and delete);
- withdraw: the submitter's ``plan_withdrawn`` event (plan events endpoint),
  only while no job of the plan has started a run (409 after); final, and its
  open jobs fail, as for a rejection;
- states (:data:`tyst.coordinator.states.PLAN_STATES`): ``awaiting_approvals``
  → ``approved`` (every owner approved), ``rejected`` or ``withdrawn``.

**Jobs** are created for an ``approved`` plan only (all stored approvals are
re-verified first), by an owner or recipient of the plan with its signed
``job_created`` event (``job`` = a fresh ``job-`` + 32 hex id, details the
plan digest). A plan has at most ``max_open_jobs`` open jobs (``created`` or
``uploading``; default :data:`DEFAULT_MAX_OPEN_JOBS`): a request beyond that
meets the oldest open job (nothing is created or logged). An open job older
than ``open_job_timeout`` (default :data:`DEFAULT_OPEN_JOB_TIMEOUT` s) is
withdrawn — state ``failed``, no longer offered; nodes holding its uploads drop
them and sign ``shares_deleted`` — whenever its plan or the job is read or
written. **Timeouts** (checked whenever the job is read or written): a job not
finished within its plan's ``retention_days`` of its creation (the nodes have
deleted its shares by then), or running without progress (no event) for
``run_timeout`` seconds (default :data:`DEFAULT_RUN_TIMEOUT`; the
coordinator's own downtime does not count), is timed out: state ``failed``,
its blobs dropped, and its ``reason`` says which limit passed. The
coordinator signs nothing: the nodes see the state, stop any run and sign
their ``run_failed`` and ``shares_deleted``. A failed job's ``reason`` is the
one line of the event that failed it (a cancellation, a node's failure or
refusal) or of the timeout. Jobs advance on signed job events. The states and
transitions are one table, :data:`tyst.coordinator.states.TRANSITIONS` (rendered
in ``docs/operations.md``), which :meth:`Ledger.add_job_event` runs: a job ends
``delivered`` (every node finished, relayed and deleted) or ``failed`` (its
``reason`` says why); each node's deletion receipt is its own fact (``deleted_by``).

Who may sign which kind is the one table :data:`tyst.service.roles.EVENT_ROLES`
(checked before the transition), which ``tyst audit verify`` checks too
(``plan_rejected`` in a job also by an owner; at plan level only by an owner).
A ``result_received`` event may carry no detail but ``padded_rows`` and its
``event_id`` (400 otherwise): the number of valid result rows is never published.
An event no row of the table allows is an illegal transition (409). A job event whose actor already
recorded an event with the same ``details.event_id``
(:data:`~tyst.coordinator.protocol.EVENT_ID`) is a redelivery: it is checked
(signature included), acknowledged with the earlier event's ``seq`` and
``hash`` (``duplicate``: true) and not appended, whatever the job's state now
— so a node may resend until it hears an answer. "Every node" is the configured
``nodes`` (mandatory: exactly :data:`~tyst.coordinator.protocol.NODE_COUNT`
registered organisations; no organisation is ever inferred to be a node).

**Result relay, in chunks.** A node posts its sealed result for each recipient
as numbered chunks (:mod:`tyst.coordinator.protocol`: result id, index, count),
each signed (:func:`tyst.coordinator.protocol.sign_result`) and at most
:data:`~tyst.coordinator.protocol.MAX_SEALED_CHUNK` bytes (413 above, before a
body byte is read); the first chunk is accepted after the node's
``run_finished``. All chunks of one node for one recipient must name the same
result id and count (409 otherwise); they may arrive in any order; reposting a
chunk with identical bytes is idempotent (200), with different bytes 409. The
chunks one node posts for one recipient hold at most ``max_result_bytes`` in
total (413 for the chunk that would pass it; at most that many bytes over
:data:`~tyst.service.sealing.OVERHEAD` chunks). A recipient's chunks are
dropped when it signs ``result_received``; every chunk of a job is dropped when
the job fails (and none is accepted afterwards). A finished job's chunks stay
after the nodes' deletion receipts: they are the recipient's only copy.

**Who sees what.** Every request is signed by a registered organisation
(:mod:`tyst.coordinator.auth`); reads take that organisation as ``viewer``.
A plan, its jobs, their events and the summary of their results are visible to the
plan's parties (owners and recipients) and the three nodes; to anyone else a
plan or job is unknown (404, as if it did not exist) and ``GET /plans`` omits
it. A sealed chunk is served only to its recipient (403 for the plan's other
parties and the nodes). The audit log is exported whole (its hash chain links
every event to the one before, whatever plan it is about, so a per-plan
selection could not be verified) and only to the nodes and the organisations
that are a party of at least one plan (:meth:`Ledger.may_read_log`); it holds
plans' digests and parties, job ids, counts and times, never a plan's text.

Security: the audit table is only ever inserted into and read; the ledger
holds a process-wide lock while appending, and the ``seq`` primary key stops
concurrent writers in other processes from forking the chain.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tyst.coordinator import states
from tyst.coordinator.db import (
    ApprovalRow,
    AuditEventRow,
    Database,
    JobRow,
    PlanRow,
    ResultChunkRow,
)
from tyst.coordinator.protocol import (
    DEFAULT_MAX_RESULT_BYTES,
    EVENT_ID,
    JOB_EVENT_KINDS,
    MAX_SEALED_CHUNK,
    NODE_COUNT,
    RESULT_CONTEXT,
    check_chunk,
    is_event_id,
    is_job_id,
    plan_audit_job,
    result_statement,
    verify_result,
)
from tyst.coordinator.schemas import (
    ApprovalAccepted,
    ApprovalModel,
    ChunkMeta,
    EventAccepted,
    JobCreated,
    JobOut,
    JobSummary,
    PlanCreated,
    PlanOut,
    PlanSummary,
    ProgressEvent,
    ResultMeta,
)
from tyst.plan import Plan, PlanError, parse_plan
from tyst.service import roles
from tyst.service.audit import (
    EVENT_KINDS,
    GENESIS_HASH,
    AuditEvent,
    AuditLog,
    Head,
    check_details,
)
from tyst.service.bounded_toml import TomlLimitError, check_limits
from tyst.service.keys import Registry, check_org_id, decode_b64, encode_b64
from tyst.service.sealing import OVERHEAD as SEAL_OVERHEAD
from tyst.service.signing import (
    CONTEXT_AUDIT,
    Approval,
    ApprovalInvalid,
    SignatureInvalid,
    format_utc,
    parse_utc,
    utc_now,
    verify,
    verify_approval,
    verify_approvals,
)

DEFAULT_MAX_OPEN_JOBS = 3
"""Open jobs (``created`` or ``uploading``) a plan may have at once by default."""

DEFAULT_OPEN_JOB_TIMEOUT = 86400
"""Seconds an open job waits for its uploads by default before it is withdrawn (failed)."""

DEFAULT_RUN_TIMEOUT = 86400
"""Seconds a running job may go without progress (no event) by default before it is timed
out (failed). Longer than a node's longest run (``run_deadline``, 6 h by default)."""

LIVE_STATES = states.LIVE_STATES
"""Job states in which a job can still time out or be cancelled."""

OPEN_STATES = states.OPEN_STATES
"""Job states of an open job: taking uploads, not yet running or finished."""

RESULT_RECEIVED_DETAILS = frozenset({"padded_rows", EVENT_ID})
"""The only details a ``result_received`` event may carry: the padded result length,
which every node already reports, and its event id. The true number of rows is never
published."""

PLAN_AWAITING = states.PLAN_AWAITING
PLAN_APPROVED = states.PLAN_APPROVED
PLAN_REJECTED = states.PLAN_REJECTED
PLAN_WITHDRAWN = states.PLAN_WITHDRAWN

_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)


class CoordinatorError(Exception):
    """A refused request: ``status`` is the HTTP status, ``str()`` one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(one_line(message))
        self.status = status


def one_line(message: str) -> str:
    """``message`` with all whitespace runs (newlines included) collapsed to one space."""
    return " ".join(str(message).split())


def _bad(message: str) -> CoordinatorError:
    return CoordinatorError(400, message)


def _forbidden(message: str) -> CoordinatorError:
    return CoordinatorError(403, message)


def _not_found(message: str) -> CoordinatorError:
    return CoordinatorError(404, message)


def _conflict(message: str) -> CoordinatorError:
    return CoordinatorError(409, message)


def _row_to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        kind=row.kind,
        job=row.job,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
        signature=base64.b64decode(row.signature),
    )


class Ledger:
    """The coordinator's state and rules over one database (see the module docstring).

    Inputs: ``database``; ``registry`` — the deployment's registry (the root of
    trust for every signature); ``nodes`` — the three compute nodes'
    organisation ids (required); ``max_result_bytes`` — the most bytes of
    chunks one node may relay to one recipient in a job.
    ``max_open_jobs`` — open jobs a plan may have at once; ``open_job_timeout``
    — seconds after its creation an open job is withdrawn (state ``failed``);
    ``run_timeout`` — seconds a running job may go without progress.
    Errors: :class:`ValueError` unless ``nodes`` are three distinct registered ids.
    """

    def __init__(
        self,
        database: Database,
        registry: Registry,
        *,
        nodes: Collection[str],
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        max_open_jobs: int = DEFAULT_MAX_OPEN_JOBS,
        open_job_timeout: float = DEFAULT_OPEN_JOB_TIMEOUT,
        run_timeout: float = DEFAULT_RUN_TIMEOUT,
    ) -> None:
        self.database = database
        self.registry = registry
        if max_result_bytes < 1:
            raise ValueError("max_result_bytes must be positive")
        self.max_result_bytes = max_result_bytes
        if max_open_jobs < 1 or open_job_timeout <= 0:
            raise ValueError("max_open_jobs must be at least 1 and open_job_timeout positive")
        self.max_open_jobs = max_open_jobs
        self.open_job_timeout = open_job_timeout
        if run_timeout <= 0:
            raise ValueError("run_timeout must be positive")
        self.run_timeout = run_timeout
        # A job makes no progress while the coordinator is down: its own downtime is not
        # held against a running job (the nodes' outboxes deliver when it is back).
        self.started = _dt.datetime.now(_dt.UTC)
        self._retention_days: dict[str, int] = {}
        if isinstance(nodes, str) or len(set(nodes)) != NODE_COUNT or len(nodes) != NODE_COUNT:
            raise ValueError(f"nodes must name {NODE_COUNT} distinct compute nodes")
        for node in nodes:
            check_org_id(node)
            if node not in registry:
                raise ValueError(f"node {node!r} is not in the registry")
        self.nodes: frozenset[str] = frozenset(nodes)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ audit log

    def head(self) -> Head:
        """The audit log's current :class:`~tyst.service.audit.Head`."""
        with self.database.session() as session:
            return self._head(session)

    @staticmethod
    def _head(session: Session) -> Head:
        last = session.scalars(
            select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(1)
        ).first()
        return Head(0, GENESIS_HASH) if last is None else Head(last.seq, last.hash)

    def events(self) -> list[AuditEvent]:
        """The whole audit log, in order (for export and :func:`verify_chain`)."""
        return list(self.iter_events())

    def iter_events(self, batch: int = 1000) -> Iterator[AuditEvent]:
        """The audit log in order, read ``batch`` events at a time."""
        after = 0
        while True:
            with self.database.session() as session:
                rows = session.scalars(
                    select(AuditEventRow)
                    .where(AuditEventRow.seq > after)
                    .order_by(AuditEventRow.seq)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield _row_to_event(row)
            after = rows[-1].seq

    def draft(
        self, actor: str, kind: str, job: str, details: Mapping[str, str | int]
    ) -> AuditEvent:
        """The next event by ``actor``, hashed but unsigned, for the actor to sign.

        The draft reserves nothing: if another event is appended first, the
        signed draft is refused with 409 and must be drafted again.
        Errors: :class:`CoordinatorError` 400 for an invalid or unregistered
        actor, unknown kind, invalid job id or details.
        """
        try:
            AuditLog().draft(actor, kind, job, details)  # validates every field
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if actor not in self.registry:
            raise _bad(f"actor {actor!r} is not a registered organisation")
        head = self.head()
        event = AuditEvent(
            seq=head.n_events + 1,
            time=utc_now(),
            actor=actor,
            kind=kind,
            job=job,
            details=check_details(details),
            prev_hash=head.hash,
            hash="",
            signature=b"",
        )
        return replace(event, hash=event.compute_hash())

    def _check_event(self, event: AuditEvent) -> None:
        """Contents (400), then the actor's registration and signature (403)."""
        s = event.seq
        try:
            parse_utc(event.time)
            check_org_id(event.actor)
            check_details(event.details)
        except ValueError as exc:
            raise _bad(f"audit event seq {s}: {exc}") from None
        if event.kind not in EVENT_KINDS:
            raise _bad(f"audit event seq {s}: unknown kind {event.kind!r}")
        if not _HASH.fullmatch(event.hash) or not _HASH.fullmatch(event.prev_hash):
            raise _bad(f"audit event seq {s}: hash and prev_hash must be 64 lowercase hex")
        try:
            computed = event.compute_hash()
        except (TypeError, ValueError):
            raise _bad(f"audit event seq {s}: the event has no canonical form") from None
        if computed != event.hash:
            raise _bad(f"audit event seq {s}: hash does not match the event's contents")
        try:
            public = self.registry.get(event.actor)
        except LookupError:
            raise _forbidden(f"actor {event.actor!r} is not a registered organisation") from None
        try:
            verify(public, event.signature, bytes.fromhex(event.hash), CONTEXT_AUDIT)
        except SignatureInvalid:
            raise _forbidden(
                f"audit event seq {s}: the signature does not verify for actor {event.actor!r}"
            ) from None

    def _append(self, session: Session, event: AuditEvent) -> AuditEventRow:
        """Append a checked event (caller holds the lock and an open transaction)."""
        head = self._head(session)
        if event.seq != head.n_events + 1 or event.prev_hash != head.hash:
            raise _conflict(
                f"the audit log has moved on (head is seq {head.n_events}, the event is seq "
                f"{event.seq}): draft the event again and sign it"
            )
        row = AuditEventRow(
            seq=event.seq,
            time=event.time,
            actor=event.actor,
            kind=event.kind,
            job=event.job,
            details=json.dumps(dict(event.details), sort_keys=True, separators=(",", ":")),
            prev_hash=event.prev_hash,
            hash=event.hash,
            signature=encode_b64(event.signature),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise _conflict(
                f"audit event seq {event.seq} was taken by a concurrent writer: draft it again"
            ) from None
        return row

    # ------------------------------------------------------------------ plans

    def _visible(self, plan: PlanRow, viewer: str) -> bool:
        """Whether ``viewer`` may see ``plan`` and its jobs: a party of it or a node."""
        return viewer in self.nodes or viewer in _parties(plan.owners, plan.recipients)

    def may_read_log(self, viewer: str) -> bool:
        """Whether ``viewer`` may export or check the whole audit log: a node, or a party
        of at least one plan (see the module docstring)."""
        if viewer in self.nodes:
            return True
        with self.database.session() as session:
            rows = session.execute(select(PlanRow.owners, PlanRow.recipients)).all()
        return any(viewer in _parties(owners, recipients) for owners, recipients in rows)

    def submit_plan(self, toml: str, event: AuditEvent, *, caller: str) -> PlanCreated:
        """Record a plan and its submitter's ``plan_submitted`` event (idempotent by digest).

        ``caller`` — the organisation that signed the request: only a party of
        the plan (or a node) learns whether it was submitted before.
        Errors: 400 for an invalid plan, an unregistered owner or recipient, or
        an event of the wrong kind/job/digest; 403 for a bad signature or a
        caller that is no party of the plan; 409 if the chain moved on.
        """
        plan = plan_of(toml)
        digest = plan.digest()
        owners = sorted({t.owner for t in plan.tables.values()})
        if caller not in self.nodes and caller not in {*owners, *plan.recipients}:
            raise _forbidden(f"{caller!r} may not submit this plan: {roles.rule('plan_submitted')}")
        for org in sorted(set(owners) | set(plan.recipients)):
            if org not in self.registry:
                raise _bad(
                    f"plan party {org!r} is not a registered organisation "
                    "(owners and recipients need registered keys)"
                )
        with self._lock, self.database.session() as session, session.begin():
            existing = session.get(PlanRow, digest)
            if existing is not None:
                return PlanCreated(
                    plan_id=digest,
                    digest=digest,
                    state=existing.state,
                    created=False,
                    seq=existing.submitted_seq,
                )
            self._expect(event, "plan_submitted", plan_audit_job(digest))
            expected = roles.plan_submitted_details(digest, owners, plan.recipients)
            if dict(event.details) != expected:
                raise _bad(
                    "the plan_submitted event must have details exactly "
                    f"{json.dumps(expected, sort_keys=True)} (the digest, owners and recipients)"
                )
            self._check_event(event)
            if not roles.allowed(
                "plan_submitted",
                event.actor,
                nodes=self.nodes,
                owners=owners,
                recipients=plan.recipients,
            ):
                raise _forbidden(
                    f"{event.actor!r} may not submit this plan: {roles.rule('plan_submitted')}"
                )
            row = self._append(session, event)
            session.add(
                PlanRow(
                    id=digest,
                    toml=toml,
                    title=plan.analysis.title,
                    owners=json.dumps(owners),
                    recipients=json.dumps(list(plan.recipients)),
                    parties=json.dumps(sorted(plan.parties)),
                    state=PLAN_AWAITING,
                    submitted_by=event.actor,
                    submitted_at=event.time,
                    submitted_seq=row.seq,
                )
            )
        return PlanCreated(
            plan_id=digest, digest=digest, state=PLAN_AWAITING, created=True, seq=row.seq
        )

    @staticmethod
    def _expect(event: AuditEvent, kind: str | Collection[str], job: str) -> None:
        kinds = {kind} if isinstance(kind, str) else set(kind)
        if event.kind not in kinds:
            raise _bad(f"expected a {' or '.join(sorted(kinds))} event, got {event.kind!r}")
        if event.job != job:
            raise _bad(f"the event is for job {event.job!r}, not {job!r}")

    def _plan_row(self, session: Session, plan_id: str) -> PlanRow:
        row = session.get(PlanRow, plan_id)
        if row is None:
            raise _not_found(f"no plan {plan_id!r}")
        return row

    def list_plans(self, *, viewer: str) -> list[PlanSummary]:
        """Every plan ``viewer`` may see, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(select(PlanRow).order_by(PlanRow.submitted_seq)).all()
            return [self._summary(row) for row in rows if self._visible(row, viewer)]

    @staticmethod
    def _summary(row: PlanRow) -> PlanSummary:
        return PlanSummary(
            plan_id=row.id,
            digest=row.id,
            title=row.title,
            state=row.state,
            submitted_by=row.submitted_by,
            submitted_at=row.submitted_at,
        )

    def get_plan(self, plan_id: str, *, viewer: str) -> PlanOut:
        """A plan with its approvals (as signed), missing approvers, rejections and jobs.

        Errors: 404 for an unknown plan or one ``viewer`` may not see.
        """
        with self._lock, self.database.session() as session, session.begin():
            row = self._plan_row(session, plan_id)
            if not self._visible(row, viewer):
                raise _not_found(f"no plan {plan_id!r}")
            open_jobs = [j.id for j in self._open_jobs(session, row.id)]
            approvals = self._approvals(session, plan_id)
            owners: list[str] = json.loads(row.owners)
            approved = {a.org_id for a in approvals}
            rejected = session.scalars(
                select(AuditEventRow.actor)
                .where(AuditEventRow.job == plan_audit_job(plan_id))
                .where(AuditEventRow.kind == "plan_rejected")
                .order_by(AuditEventRow.seq)
            ).all()
            jobs = session.scalars(
                select(JobRow.id).where(JobRow.plan_id == plan_id).order_by(JobRow.created_at)
            ).all()
            return PlanOut(
                **self._summary(row).model_dump(),
                toml=row.toml,
                required_approvers=owners,
                recipients=json.loads(row.recipients),
                parties=json.loads(row.parties),
                approvals=[ApprovalModel.of(a) for a in approvals],
                missing_approvals=[o for o in owners if o not in approved],
                rejected_by=list(dict.fromkeys(rejected)),
                jobs=list(jobs),
                open_jobs=open_jobs,
            )

    @staticmethod
    def _approvals(session: Session, plan_id: str) -> list[Approval]:
        rows = session.scalars(
            select(ApprovalRow).where(ApprovalRow.plan_id == plan_id).order_by(ApprovalRow.org_id)
        ).all()
        return [
            Approval(
                plan_digest=plan_id,
                org_id=r.org_id,
                signed_at=r.signed_at,
                signature=base64.b64decode(r.signature),
            )
            for r in rows
        ]

    def add_approval(self, plan_id: str, approval: Approval, event: AuditEvent) -> ApprovalAccepted:
        """Record an owner's approval and its ``plan_approved`` event.

        Errors: 404 unknown plan; 400 approval of another digest or a malformed
        event; 403 not an owner, unknown signer or a signature that does not
        verify; 409 plan rejected or the chain moved on.
        """
        with self._lock, self.database.session() as session, session.begin():
            plan = self._plan_row(session, plan_id)
            digest = plan.id
            if approval.plan_digest != digest:
                raise _bad(
                    f"the approval by {approval.org_id!r} is for plan "
                    f"{approval.plan_digest[:16]}…, not {digest[:16]}… "
                    "(stale, or the plan was altered after signing)"
                )
            owners: list[str] = json.loads(plan.owners)
            if not roles.allowed("plan_approved", approval.org_id, nodes=(), owners=owners):
                raise _forbidden(
                    f"{approval.org_id!r} owns no table of this plan; only owners approve "
                    f"({', '.join(owners)})"
                )
            try:
                verify_approval(self.registry, approval, digest)
            except ApprovalInvalid as exc:
                raise _forbidden(str(exc)) from None
            existing = session.get(ApprovalRow, (digest, approval.org_id))
            if existing is not None:
                approved = {a.org_id for a in self._approvals(session, digest)}
                return ApprovalAccepted(
                    plan_id=digest,
                    org_id=approval.org_id,
                    state=plan.state,
                    created=False,
                    missing_approvals=[o for o in owners if o not in approved],
                    seq=existing.event_seq,
                )
            if plan.state in states.PLAN_CLOSED_STATES:
                raise _conflict(f"the plan was {plan.state}; submit a revised plan instead")
            self._expect(event, "plan_approved", plan_audit_job(digest))
            if event.actor != approval.org_id:
                raise _bad(
                    f"the plan_approved event is signed by {event.actor!r}, "
                    f"not by the approver {approval.org_id!r}"
                )
            if event.details.get("plan_digest") != digest:
                raise _bad(f"the plan_approved event must have details.plan_digest = {digest}")
            self._check_event(event)
            row = self._append(session, event)
            session.add(
                ApprovalRow(
                    plan_id=digest,
                    org_id=approval.org_id,
                    signed_at=approval.signed_at,
                    signature=encode_b64(approval.signature),
                    event_seq=row.seq,
                    received_at=utc_now(),
                )
            )
            session.flush()
            approved = {a.org_id for a in self._approvals(session, digest)}
            missing = [o for o in owners if o not in approved]
            if not missing:
                plan.state = PLAN_APPROVED
            return ApprovalAccepted(
                plan_id=digest,
                org_id=approval.org_id,
                state=plan.state,
                created=True,
                missing_approvals=missing,
                seq=row.seq,
            )

    def add_plan_event(self, plan_id: str, event: AuditEvent) -> EventAccepted:
        """Record a plan-level ``plan_rejected`` (an owner's) or ``plan_withdrawn`` (the
        submitter's, before any job of the plan ran): the plan becomes ``rejected`` or
        ``withdrawn`` (final) and every live job of it fails
        (:data:`tyst.coordinator.states.PLAN_CLOSED`).

        Errors: 404 unknown plan; 400 wrong kind/job/digest; 403 not an owner (reject),
        not the submitter (withdraw) or bad signature; 409 a plan already withdrawn, a
        withdrawal after a job of the plan ran, or the chain moved on.
        """
        with self._lock, self.database.session() as session, session.begin():
            plan = self._plan_row(session, plan_id)
            self._expect(event, roles.PLAN_CLOSING_KINDS, plan_audit_job(plan.id))
            if event.details.get("plan_digest") != plan.id:
                raise _bad(f"the {event.kind} event must have details.plan_digest = {plan.id}")
            self._check_event(event)
            owners: list[str] = json.loads(plan.owners)
            if not roles.allowed(
                event.kind, event.actor, nodes=(), owners=owners, submitter=plan.submitted_by
            ):
                # At plan level only an owner rejects; a node's refusal fails one job.
                rule = (
                    "only an owner of the plan rejects it"
                    if event.kind == "plan_rejected"
                    else roles.rule(event.kind)
                )
                raise _forbidden(
                    f"{event.actor!r} may not sign this {event.kind}: {rule} "
                    f"(owners {', '.join(owners)}; submitter {plan.submitted_by})"
                )
            if plan.state == PLAN_WITHDRAWN:
                raise _conflict(f"the plan was withdrawn by {plan.submitted_by}; it is closed")
            if event.kind == "plan_withdrawn":
                ran = session.scalars(
                    select(AuditEventRow.job)
                    .join(JobRow, JobRow.id == AuditEventRow.job)
                    .where(JobRow.plan_id == plan.id)
                    .where(AuditEventRow.kind == "run_started")
                    .limit(1)
                ).first()
                if ran is not None:
                    raise _conflict(
                        f"job {ran} of the plan already ran: a plan is withdrawn only before "
                        "it runs (an owner can still reject it, any party cancel a job)"
                    )
            row = self._append(session, event)
            plan.state = PLAN_REJECTED if event.kind == "plan_rejected" else PLAN_WITHDRAWN
            self._close_jobs(session, plan.id, event)
            return EventAccepted(seq=row.seq, hash=row.hash, state=plan.state)

    @staticmethod
    def _close_jobs(session: Session, plan_id: str, event: AuditEvent) -> None:
        """Fail every live job of a plan that ``event`` closed, dropping their blobs (caller
        holds the lock and an open transaction); the nodes then stop and delete."""
        live = session.scalars(
            select(JobRow).where(JobRow.plan_id == plan_id).where(JobRow.state.in_(LIVE_STATES))
        ).all()
        said = str(event.details.get("reason", ""))
        what = "rejected" if event.kind == "plan_rejected" else "withdrawn"
        reason = one_line(
            f"cancelled by {event.actor}: the plan was {what}" + (f": {said}" if said else "")
        )[:1000]
        now = utc_now()
        for job in live:
            job.state = states.FAILED
            job.reason = reason
            job.updated_at = now
        if live:
            ids = [job.id for job in live]
            session.execute(delete(ResultChunkRow).where(ResultChunkRow.job_id.in_(ids)))
            session.flush()

    # ------------------------------------------------------------------ jobs

    def create_job(self, plan_id: str, event: AuditEvent) -> JobCreated:
        """Open a job of a plan every owner approved, on a party's signed ``job_created``.

        ``event`` (kind ``job_created``, ``job`` = the new job id the party chose,
        ``details`` = ``{"plan_digest": plan_id}``) must be signed by an owner or a
        recipient of the plan. Open jobs past ``open_job_timeout`` are withdrawn
        first. If the plan already has ``max_open_jobs`` open jobs, nothing is
        created or logged: the answer is the oldest open job (``created`` false),
        the job every racing party meets.
        Errors: 404 unknown plan; 400 malformed event, another kind, a job id
        taken or not of the form ``job-`` + 32 hex, details other than the
        digest; 403 not a party of the plan or a bad signature; 409 rejected plan,
        missing/invalid approvals, or the chain moved on.
        """
        with self._lock, self.database.session() as session, session.begin():
            plan = self._plan_row(session, plan_id)
            if event.kind != "job_created":
                raise _bad(f"expected a job_created event, got {event.kind!r}")
            if not is_job_id(event.job):
                raise _bad(f"the job id {event.job!r} is not job- followed by 32 lowercase hex")
            if dict(event.details) != {"plan_digest": plan.id}:
                raise _bad(f"the job_created event must have details exactly plan_digest={plan.id}")
            self._check_event(event)
            owners: list[str] = json.loads(plan.owners)
            recipients: list[str] = json.loads(plan.recipients)
            if not roles.allowed(
                "job_created", event.actor, nodes=self.nodes, owners=owners, recipients=recipients
            ):
                raise _forbidden(
                    f"{event.actor!r} may not create a job of this plan: "
                    f"{roles.rule('job_created')}"
                )
            if plan.state in states.PLAN_CLOSED_STATES:
                raise _conflict(f"the plan was {plan.state}; no job can be created")
            try:
                verify_approvals(self.registry, self._approvals(session, plan.id), plan.id, owners)
            except ApprovalInvalid as exc:
                raise _conflict(f"the plan is not approved: {exc}") from None
            open_jobs = self._open_jobs(session, plan.id)
            if len(open_jobs) >= self.max_open_jobs:
                oldest = open_jobs[0]
                return JobCreated(
                    job_id=oldest.id, plan_id=plan.id, state=oldest.state, created=False
                )
            if session.get(JobRow, event.job) is not None:
                raise _bad(f"job {event.job} exists already: choose a new job id")
            self._append(session, event)
            now = utc_now()
            job = JobRow(
                id=event.job,
                plan_id=plan.id,
                state=states.CREATED,
                created_at=now,
                updated_at=now,
            )
            session.add(job)
            return JobCreated(job_id=job.id, plan_id=plan.id, state=job.state, created=True)

    def _open_jobs(self, session: Session, plan_id: str) -> list[JobRow]:
        """The plan's open jobs, oldest first, after withdrawing those past the timeout
        (caller holds an open transaction). At most ``max_open_jobs`` rows are read."""
        cutoff = _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=self.open_job_timeout)
        stale = session.scalars(
            select(JobRow)
            .where(JobRow.plan_id == plan_id)
            .where(JobRow.state.in_(OPEN_STATES))
            .where(JobRow.created_at < format_utc(cutoff))
        ).all()
        if stale:
            now = utc_now()
            for row in stale:
                row.state = states.FAILED  # withdrawn: no upload may start it any more
                row.reason = (
                    f"withdrawn: not every table arrived within {self.open_job_timeout:.0f} s "
                    "(open_job_timeout)"
                )
                row.updated_at = now
            ids = [row.id for row in stale]
            session.execute(delete(ResultChunkRow).where(ResultChunkRow.job_id.in_(ids)))
            session.flush()
        return list(
            session.scalars(
                select(JobRow)
                .where(JobRow.plan_id == plan_id)
                .where(JobRow.state.in_(OPEN_STATES))
                .order_by(JobRow.created_at, JobRow.id)
                .limit(self.max_open_jobs)
            ).all()
        )

    def _expire(self, session: Session, job: JobRow, plan: PlanRow) -> None:
        """Time ``job`` out (state ``failed``, with the reason) if it outlived its limits:
        the plan's ``retention_days`` since its creation (the nodes delete its shares by
        then, so it can never complete), or ``run_timeout`` seconds running without
        progress (counted from the coordinator's start at the earliest). Caller holds the
        lock and an open transaction."""
        if job.state not in LIVE_STATES:
            return
        now = _dt.datetime.now(_dt.UTC)
        days = self._retention_days.get(plan.id)
        if days is None:
            days = self._retention_days[plan.id] = plan_of(plan.toml).analysis.retention_days
        reason = ""
        if now - parse_utc(job.created_at) > _dt.timedelta(days=days):
            reason = (
                f"timed out: the plan's retention_days ({days}) passed before the job completed"
            )
        elif job.state == states.RUNNING:
            since = max(parse_utc(job.updated_at), self.started)
            if (now - since).total_seconds() > self.run_timeout:
                reason = (
                    f"timed out: no progress for {self.run_timeout:.0f} s while running "
                    "(the coordinator's run_timeout)"
                )
        if reason:
            job.state = states.FAILED
            job.reason = reason
            job.updated_at = format_utc(now)
            session.execute(delete(ResultChunkRow).where(ResultChunkRow.job_id == job.id))
            session.flush()

    def _job_row(self, session: Session, job_id: str) -> JobRow:
        row = session.get(JobRow, job_id) if is_job_id(job_id) else None
        if row is None:
            raise _not_found(f"no job {job_id!r}")
        return row

    def get_job(self, job_id: str, *, viewer: str) -> JobOut:
        """A job's state, its progress events and the results waiting (their chunks, no bytes).

        Errors: 404 unknown job, or one of a plan ``viewer`` may not see.
        """
        with self._lock, self.database.session() as session, session.begin():
            job = self._job_row(session, job_id)
            if not self._visible(self._plan_row(session, job.plan_id), viewer):
                raise _not_found(f"no job {job_id!r}")
            if job.state in OPEN_STATES:
                self._open_jobs(session, job.plan_id)  # withdraws it if it timed out
            self._expire(session, job, self._plan_row(session, job.plan_id))
            events = session.scalars(
                select(AuditEventRow).where(AuditEventRow.job == job_id).order_by(AuditEventRow.seq)
            ).all()
            results = self._summaries(session, job_id)
            return JobOut(
                job_id=job.id,
                plan_id=job.plan_id,
                state=job.state,
                created_at=job.created_at,
                updated_at=job.updated_at,
                reason=job.reason,
                deleted_by=states.deleted_by([(e.actor, e.kind) for e in events], self.nodes),
                events=[
                    ProgressEvent(
                        seq=e.seq,
                        time=e.time,
                        actor=e.actor,
                        kind=e.kind,
                        details=json.loads(e.details),
                    )
                    for e in events
                ],
                results=results,
            )

    def list_jobs(self, *, viewer: str, plan_id: str | None = None) -> list[JobSummary]:
        """Every job of the plans ``viewer`` may see (of ``plan_id`` only, if given),
        oldest first, after applying the timeouts (as :meth:`get_job`).

        Errors: 404 for a ``plan_id`` that is unknown or not ``viewer``'s to see.
        """
        with self._lock, self.database.session() as session, session.begin():
            if plan_id is not None:
                plan = self._plan_row(session, plan_id)
                if not self._visible(plan, viewer):
                    raise _not_found(f"no plan {plan_id!r}")
                plans = {plan.id: plan}
            else:
                rows = session.scalars(select(PlanRow)).all()
                plans = {p.id: p for p in rows if self._visible(p, viewer)}
            jobs = session.scalars(
                select(JobRow)
                .where(JobRow.plan_id.in_(list(plans)))
                .order_by(JobRow.created_at, JobRow.id)
            ).all()
            for plan in plans.values():
                self._open_jobs(session, plan.id)  # withdraws those past open_job_timeout
            for job in jobs:
                self._expire(session, job, plans[job.plan_id])
            receipts = session.execute(
                select(AuditEventRow.job, AuditEventRow.actor)
                .where(AuditEventRow.kind == "shares_deleted")
                .where(AuditEventRow.job.in_([j.id for j in jobs]))
            ).all()
            return [
                JobSummary(
                    job_id=job.id,
                    plan_id=job.plan_id,
                    state=job.state,
                    created_at=job.created_at,
                    updated_at=job.updated_at,
                    reason=job.reason,
                    deleted_by=states.deleted_by(
                        [(a, "shares_deleted") for j, a in receipts if j == job.id], self.nodes
                    ),
                )
                for job in jobs
            ]

    def _is_node(self, actor: str, parties: Collection[str]) -> bool:
        del parties  # a node is one of the configured nodes, never inferred
        return actor in self.nodes

    def _all_nodes(self, actors: set[str]) -> bool:
        return self.nodes <= actors

    def add_job_event(self, job_id: str, event: AuditEvent) -> EventAccepted:
        """Append a signed job event and advance the job (see the module's table).

        Errors: 404 unknown job; 400 malformed event, another job's event or a
        kind not for jobs; 403 bad signature or an actor not allowed this kind;
        409 illegal transition, a repeated once-per-node event, or the chain
        moved on.
        """
        with self._lock, self.database.session() as session, session.begin():
            job = self._job_row(session, job_id)
            self._expect(event, JOB_EVENT_KINDS, job.id)
            self._check_event(event)
            if job.state in OPEN_STATES:
                self._open_jobs(session, job.plan_id)  # withdraws it if it timed out
            plan = self._plan_row(session, job.plan_id)
            self._expire(session, job, plan)
            history = session.scalars(
                select(AuditEventRow).where(AuditEventRow.job == job.id).order_by(AuditEventRow.seq)
            ).all()
            earlier = _redelivered(event, history)
            if earlier is not None:  # the same fact sent again: acknowledge, append nothing
                return EventAccepted(
                    seq=earlier.seq, hash=earlier.hash, state=job.state, duplicate=True
                )
            state = self._transition(job.state, event, plan, history)
            row = self._append(session, event)
            if event.kind == "result_received":
                session.execute(
                    delete(ResultChunkRow)
                    .where(ResultChunkRow.job_id == job.id)
                    .where(ResultChunkRow.recipient == event.actor)
                )
            if state == states.FAILED:
                # A failed job's sealed blobs are never opened: drop every one of them.
                session.execute(delete(ResultChunkRow).where(ResultChunkRow.job_id == job.id))
            if state == states.FAILED and job.reason is None:
                job.reason = _failure_reason(event)
            if state != job.state:
                job.state = state
            job.updated_at = utc_now()
            return EventAccepted(seq=row.seq, hash=row.hash, state=state)

    def _transition(
        self, state: str, event: AuditEvent, plan: PlanRow, history: Collection[AuditEventRow]
    ) -> str:
        kind, actor = event.kind, event.actor
        owners: list[str] = json.loads(plan.owners)
        recipients: list[str] = json.loads(plan.recipients)
        broken = roles.event_problem(
            kind, actor, event.details, nodes=self.nodes, owners=owners, recipients=recipients
        )
        if broken is not None:
            raise _forbidden(f"{actor!r} may not sign this {kind}: {broken}")
        if kind == "result_received":
            extra = sorted(set(event.details) - RESULT_RECEIVED_DETAILS)
            if extra:
                raise _bad(
                    f"result_received may carry only {sorted(RESULT_RECEIVED_DETAILS)}, not "
                    f"{extra[0]!r}: the number of valid result rows is the recipient's alone"
                )
            padded = {
                json.loads(e.details).get("result_rows")
                for e in history
                if e.kind == "run_finished"
            } - {None}
            if (
                "padded_rows" in event.details
                and padded
                and {event.details["padded_rows"]} != padded
            ):
                raise _bad(
                    "result_received: padded_rows must be the padded length the nodes reported "
                    "in run_finished"
                )

        def reported(k: str) -> set[str]:
            return {e.actor for e in history if e.kind == k}

        def once(k: str) -> set[str]:
            done = reported(k)
            if actor in done:
                raise _conflict(f"{actor!r} already reported {k} for this job")
            return done | {actor}

        for rule in states.transition_for(kind, state):  # the one table, in order
            needed, present = rule.guard.requires
            if rule.guard is not states.Guard.NONE and (actor in reported(needed)) != present:
                continue
            done = once(kind) if rule.once else reported(kind) | {actor}
            if rule.to is None or (rule.when_all and not self._all_nodes(done)):
                return state
            return rule.to
        raise _conflict(f"illegal transition: {kind} by {actor!r} in job state {state!r}")

    # ------------------------------------------------------------------ result relay

    @property
    def max_chunks(self) -> int:
        """The most chunks one sealed result may have: each is at least a sealing's overhead."""
        return max(1, self.max_result_bytes // SEAL_OVERHEAD)

    def _result_target(
        self, session: Session, job_id: str, recipient: str, sender: str
    ) -> tuple[JobRow, _Held | None]:
        """The job a chunk post is for and what ``sender`` relayed to ``recipient`` so
        far, after every check that needs no bytes: 404 unknown job or recipient, 403
        sender not a node, 409 for a first chunk before the sender's ``run_finished`` or
        after the job ended."""
        job = self._job_row(session, job_id)
        plan = self._plan_row(session, job.plan_id)
        if recipient not in json.loads(plan.recipients):
            raise _not_found(f"{recipient!r} is not a recipient of this job's plan")
        if not self._is_node(sender, json.loads(plan.parties)):
            raise _forbidden(f"{sender!r} is not a compute node; only nodes post results")
        held = _held(session, job.id, recipient, sender)
        if held is None:
            finished = session.scalars(
                select(AuditEventRow.actor)
                .where(AuditEventRow.job == job.id)
                .where(AuditEventRow.kind == "run_finished")
            ).all()
            if job.state not in (states.RUNNING, states.FINISHED) or sender not in finished:
                raise _conflict(
                    f"results are accepted after the sender's run_finished and before the "
                    f"job ends; {sender!r} cannot post in job state {job.state!r}"
                )
        return job, held

    def _chunk_fits(
        self,
        session: Session,
        job: JobRow,
        recipient: str,
        sender: str,
        held: _Held | None,
        chunk: tuple[str, int, int],
        size: int | None,
    ) -> ResultChunkRow | None:
        """The chunk already stored at this place, after checking that this one belongs to
        the result ``held`` (409) and fits ``max_result_bytes`` (413)."""
        result_id, index, count = chunk
        if held is not None and (held.result_id, held.chunks) != (result_id, count):
            raise _conflict(
                f"{sender!r} already posted chunks of another result for {recipient!r} "
                f"(result {held.result_id}, {held.chunks} chunks)"
            )
        existing = session.get(ResultChunkRow, (job.id, recipient, sender, index))
        if existing is not None:
            if size is not None and size != existing.size:
                raise _conflict(f"{sender!r} already posted a different chunk {index}")
            return existing
        stored = 0 if held is None else held.size
        if size is not None and stored + size > self.max_result_bytes:
            raise CoordinatorError(
                413,
                f"the result from {sender!r} for {recipient!r} would be larger than "
                f"{self.max_result_bytes} bytes (max_result_bytes)",
            )
        return None

    def _chunk(self, result_id: str, index: int, count: int) -> tuple[str, int, int]:
        try:
            chunk = check_chunk(result_id, index, count)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if count > self.max_chunks:
            raise CoordinatorError(
                413,
                f"a result of {count} chunks is larger than {self.max_result_bytes} bytes "
                "(max_result_bytes)",
            )
        return chunk

    def check_result_post(
        self,
        job_id: str,
        recipient: str,
        sender: str,
        chunk: tuple[str, int, int],
        signature_b64: str,
        size: int | None,
    ) -> None:
        """Refuse a chunk post before its body is read (``chunk``: result id, index and
        count; ``size``: its declared length).

        Everything that can be decided from the route and headers alone: the
        size limits (413: above :data:`MAX_SEALED_CHUNK`, or past
        ``max_result_bytes``), the job, recipient, sender and state (as
        :meth:`put_result`), a chunk of another result or a repost whose length
        differs from the stored chunk (409), a malformed signature, id, index or
        count (400). The signature itself is checked once the body's hash is
        known (:meth:`check_result_signature`).
        """
        _result_signature(signature_b64)
        chunk = self._chunk(*chunk)
        if size is not None and size > MAX_SEALED_CHUNK:
            raise CoordinatorError(413, f"a chunk is at most {MAX_SEALED_CHUNK} bytes")
        with self.database.session() as session:
            job, held = self._result_target(session, job_id, recipient, sender)
            self._chunk_fits(session, job, recipient, sender, held, chunk, size)

    def check_result_signature(
        self,
        job_id: str,
        recipient: str,
        sender: str,
        chunk: tuple[str, int, int],
        sha256_hex: str,
        signature_b64: str,
    ) -> None:
        """Check ``sender``'s relay signature over a chunk with this SHA-256 (403 if it
        fails) — before the chunk is held in memory or stored."""
        signature = _result_signature(signature_b64)
        result_id, index, count = self._chunk(*chunk)
        try:
            public = self.registry.get(sender)
        except LookupError:
            raise _forbidden(f"{sender!r} is not a registered organisation") from None
        statement = result_statement(job_id, recipient, sender, result_id, index, count, sha256_hex)
        try:
            verify(public, signature, statement, RESULT_CONTEXT)
        except SignatureInvalid as exc:
            raise _forbidden(str(exc)) from None

    def put_result(
        self,
        job_id: str,
        recipient: str,
        sender: str,
        chunk: tuple[str, int, int],
        signature_b64: str,
        blob: bytes,
    ) -> tuple[ChunkMeta, bool]:
        """Store one chunk of a node's sealed result for ``recipient``; return it and
        whether it is new.

        Errors: 404 unknown job or a recipient not of this plan; 400 malformed
        signature, id, index or count; 413 too large; 403 sender not a node or bad
        signature; 409 before the sender's ``run_finished``, after the job ended, a
        chunk of another result, or different bytes already posted at this place.
        """
        if len(blob) > MAX_SEALED_CHUNK:
            raise CoordinatorError(413, f"a chunk is at most {MAX_SEALED_CHUNK} bytes")
        result_id, index, count = chunk = self._chunk(*chunk)
        signature = _result_signature(signature_b64)
        with self._lock, self.database.session() as session, session.begin():
            job, held = self._result_target(session, job_id, recipient, sender)
            try:
                verify_result(
                    self.registry,
                    job.id,
                    recipient,
                    sender,
                    blob,
                    signature,
                    result_id=result_id,
                    index=index,
                    count=count,
                )
            except SignatureInvalid as exc:
                raise _forbidden(str(exc)) from None
            sha = hashlib.sha256(blob).hexdigest()
            existing = self._chunk_fits(session, job, recipient, sender, held, chunk, len(blob))
            if existing is not None:
                if existing.sha256 == sha:
                    return self._meta(existing), False
                raise _conflict(f"{sender!r} already posted a different chunk {index}")
            row = ResultChunkRow(
                job_id=job.id,
                recipient=recipient,
                sender=sender,
                chunk=index,
                chunks=count,
                result_id=result_id,
                data=blob,
                sha256=sha,
                size=len(blob),
                signature=signature_b64,
                received_at=utc_now(),
            )
            session.add(row)
            return self._meta(row), True

    @staticmethod
    def _meta(row: ResultChunkRow) -> ChunkMeta:
        return ChunkMeta(
            recipient=row.recipient,
            sender=row.sender,
            result_id=row.result_id,
            chunk=row.chunk,
            chunks=row.chunks,
            sha256=row.sha256,
            size=row.size,
            received_at=row.received_at,
        )

    @staticmethod
    def _summaries(session: Session, job_id: str) -> list[ResultMeta]:
        """Per recipient and sender: the result relayed so far (no bytes are read)."""
        rows = session.execute(
            select(
                ResultChunkRow.recipient,
                ResultChunkRow.sender,
                ResultChunkRow.result_id,
                ResultChunkRow.chunks,
                func.count(),
                func.sum(ResultChunkRow.size),
            )
            .where(ResultChunkRow.job_id == job_id)
            .group_by(
                ResultChunkRow.recipient,
                ResultChunkRow.sender,
                ResultChunkRow.result_id,
                ResultChunkRow.chunks,
            )
            .order_by(ResultChunkRow.recipient, ResultChunkRow.sender)
        ).all()
        return [
            ResultMeta(
                recipient=recipient,
                sender=sender,
                result_id=result_id,
                chunks=chunks,
                received=received,
                size=int(size or 0),
                complete=received == chunks,
            )
            for recipient, sender, result_id, chunks, received, size in rows
        ]

    def get_result_chunk(
        self, job_id: str, recipient: str, sender: str, index: int, *, viewer: str
    ) -> ResultChunkRow:
        """Chunk ``index`` of ``sender``'s sealed result for ``recipient``, for its
        recipient ``viewer`` only (bytes, signature, result id and count).

        Errors: 404 unknown job (or not ``viewer``'s to see), a recipient not of this
        plan or no such chunk; 403 unless ``viewer`` is ``recipient``.
        """
        with self.database.session() as session:
            job = self._job_row(session, job_id)
            plan = self._plan_row(session, job.plan_id)
            if not self._visible(plan, viewer):
                raise _not_found(f"no job {job_id!r}")
            if recipient not in json.loads(plan.recipients):
                raise _not_found(f"{recipient!r} is not a recipient of this job's plan")
            if viewer != recipient:
                raise _forbidden(f"only {recipient!r} fetches the result chunks sealed to it")
            row = session.get(ResultChunkRow, (job.id, recipient, sender, index))
            if row is None:
                raise _not_found(
                    f"no chunk {index} from {sender!r} for {recipient!r} in job {job_id!r}"
                )
            return row


@dataclass(frozen=True)
class _Held:
    """What one node relayed to one recipient so far: its result id and count, and how
    many chunks of how many bytes are stored."""

    result_id: str
    chunks: int
    received: int
    size: int


def _held(session: Session, job_id: str, recipient: str, sender: str) -> _Held | None:
    rows = session.execute(
        select(
            ResultChunkRow.result_id,
            ResultChunkRow.chunks,
            func.count(),
            func.sum(ResultChunkRow.size),
        )
        .where(ResultChunkRow.job_id == job_id)
        .where(ResultChunkRow.recipient == recipient)
        .where(ResultChunkRow.sender == sender)
        .group_by(ResultChunkRow.result_id, ResultChunkRow.chunks)
    ).all()
    if not rows:
        return None
    result_id, chunks, received, size = rows[0]  # one group: every chunk is checked
    return _Held(result_id, chunks, received, int(size or 0))


def _parties(owners_json: str, recipients_json: str) -> set[str]:
    """A plan row's parties: its owners and recipients (:data:`tyst.service.roles.PARTY`)."""
    return {*json.loads(owners_json), *json.loads(recipients_json)}


def _failure_reason(event: AuditEvent) -> str:
    """Why a job failed, in one line, from the event that failed it."""
    said = next(
        (str(event.details[k]) for k in ("reason", "message", "error") if k in event.details),
        "",
    )
    what = {
        "job_cancelled": "cancelled",
        "plan_rejected": "refused",
        "run_failed": "failed",
    }.get(event.kind, event.kind)
    return one_line(f"{what} by {event.actor}" + (f": {said}" if said else ""))[:1000]


def _redelivered(event: AuditEvent, history: Collection[AuditEventRow]) -> AuditEventRow | None:
    """The event of ``history`` this one repeats (same actor and :data:`EVENT_ID`), if any.

    Errors: 400 for a malformed event id; 409 for an event id its actor already used
    for an event of another kind or with other details."""
    event_id = event.details.get(EVENT_ID)
    if event_id is None:
        return None
    if not is_event_id(event_id):
        raise _bad(f"details.{EVENT_ID} must be 32 lowercase hex digits")
    for row in history:
        if row.actor != event.actor:
            continue
        details = json.loads(row.details)
        if details.get(EVENT_ID) != event_id:
            continue
        if row.kind != event.kind or details != dict(event.details):
            raise _conflict(
                f"{event.actor!r} already used event id {event_id} for another event "
                f"(seq {row.seq})"
            )
        return row
    return None


def _result_signature(signature_b64: str) -> bytes:
    try:
        return decode_b64(signature_b64, what="the result signature")
    except ValueError as exc:
        raise _bad(str(exc)) from None


def plan_of(toml: str) -> Plan:
    """Parse a plan as the coordinator does (raises :class:`CoordinatorError` 400)."""
    try:
        # tomllib recurses per nesting level: bound the text before any parser sees it.
        check_limits(toml)
    except TomlLimitError as exc:
        raise _bad(f"plan: malformed TOML: {exc}") from None
    try:
        return parse_plan(toml, "plan")
    except PlanError as exc:
        raise _bad(str(exc)) from None


__all__ = [
    "DEFAULT_MAX_OPEN_JOBS",
    "DEFAULT_MAX_RESULT_BYTES",
    "DEFAULT_OPEN_JOB_TIMEOUT",
    "DEFAULT_RUN_TIMEOUT",
    "LIVE_STATES",
    "OPEN_STATES",
    "PLAN_APPROVED",
    "PLAN_AWAITING",
    "PLAN_REJECTED",
    "PLAN_WITHDRAWN",
    "CoordinatorError",
    "Ledger",
    "one_line",
    "plan_of",
]
