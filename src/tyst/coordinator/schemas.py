"""The coordinator API's request and response bodies (pydantic models, shown in OpenAPI).

Contract
--------
Requests are strict: unknown members are refused, strings are not coerced to
numbers (nor booleans to integers). Signed documents are carried in exactly the
JSON form of :mod:`tyst.service`: an audit event is
:meth:`tyst.service.audit.AuditEvent.to_dict` (signature in base64), an approval
is :meth:`tyst.service.signing.Approval.to_dict`. The coordinator re-parses them
with those classes, so a document it accepts is one every node can re-verify.

Every error response is :class:`ErrorOut`: ``{"detail": "<one line>"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from tyst.service.audit import AuditEvent
from tyst.service.signing import Approval

_STRICT = ConfigDict(extra="forbid", strict=True)

_EVENT_EXAMPLE: dict[str, Any] = {
    "seq": 1,
    "time": "2026-05-04T09:30:00.000000Z",
    "actor": "fk",
    "kind": "plan_submitted",
    "job": "plan:" + "ab" * 32,
    "details": {"plan_digest": "ab" * 32},
    "prev_hash": "0" * 64,
    "hash": "cd" * 32,
    "signature": "base64 of 64 bytes",
}


class ErrorOut(BaseModel):
    """An error: one line saying what is wrong and, where useful, what to do."""

    detail: str


class AuditEventModel(BaseModel):
    """A signed audit event, as :meth:`tyst.service.audit.AuditEvent.to_dict` writes it."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [_EVENT_EXAMPLE]}
    )

    seq: StrictInt = Field(description="Position in the chain, 1, 2, 3, …")
    time: StrictStr = Field(description="ISO 8601 UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    actor: StrictStr = Field(description="The organisation that signed the event")
    kind: StrictStr = Field(description="One of tyst.service.audit.EVENT_KINDS")
    job: StrictStr = Field(description='A job id, or "plan:<digest>" for plan events')
    details: dict[str, StrictStr | StrictInt] = Field(
        description="Flat identifiers and counts; never data, shares, keys or results"
    )
    prev_hash: StrictStr = Field(description="hash of event seq - 1 (64 zeros for seq 1)")
    hash: StrictStr = Field(description="SHA-256 of the canonical JSON of the other fields")
    signature: StrictStr = Field(
        description="base64 Ed25519 signature by the actor of the 32 hash bytes (context audit)"
    )

    def to_event(self) -> AuditEvent:
        """The :class:`~tyst.service.audit.AuditEvent` (raises ``AuditFormatError``)."""
        return AuditEvent.from_dict(self.model_dump())

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventModel:
        """The model of ``event``."""
        return cls.model_validate(event.to_dict())


class ApprovalModel(BaseModel):
    """An owner's signed approval, as :meth:`tyst.service.signing.Approval.to_dict` writes it."""

    model_config = _STRICT

    plan_digest: StrictStr = Field(description="The digest the owner computed and signed")
    org_id: StrictStr = Field(description="The approving owner")
    signed_at: StrictStr = Field(description="ISO 8601 UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    signature: StrictStr = Field(description="base64 Ed25519 signature (context approval)")

    def to_approval(self) -> Approval:
        """The :class:`~tyst.service.signing.Approval` (raises ``ApprovalFormatError``)."""
        return Approval.from_dict(self.model_dump())

    @classmethod
    def of(cls, approval: Approval) -> ApprovalModel:
        """The model of ``approval``."""
        return cls.model_validate(approval.to_dict())


class PlanSubmit(BaseModel):
    """``POST /plans``: the plan's TOML text and the submitter's signed ``plan_submitted`` event.

    The event has ``job = "plan:<digest>"`` and ``details.plan_digest = <digest>``.
    """

    model_config = _STRICT

    toml: StrictStr = Field(max_length=1_000_000, description="The plan file's text")
    event: AuditEventModel


class PlanCreated(BaseModel):
    """The plan's id (its digest) and state; ``created`` is false if it was already submitted."""

    plan_id: str
    digest: str
    state: str
    created: bool
    seq: int = Field(description="seq of the plan_submitted event in the audit log")


class PlanSummary(BaseModel):
    """A plan in a listing."""

    plan_id: str
    digest: str
    title: str
    state: str
    submitted_by: str
    submitted_at: str


class PlanOut(PlanSummary):
    """A plan: its text, who must approve, the approvals so far (re-verifiable), its jobs."""

    toml: str
    required_approvers: list[str] = Field(description="The owners of the plan's tables")
    recipients: list[str]
    parties: list[str]
    approvals: list[ApprovalModel]
    missing_approvals: list[str]
    rejected_by: list[str]
    jobs: list[str]
    open_jobs: list[str] = Field(
        description="The jobs still taking uploads (created or uploading), oldest first; "
        "at most the coordinator's max_open_jobs"
    )


class ApprovalSubmit(BaseModel):
    """``POST /plans/{id}/approvals``: the approval and the owner's signed ``plan_approved`` event.

    The event has ``actor = approval.org_id``, ``job = "plan:<digest>"`` and
    ``details.plan_digest = <digest>``.
    """

    model_config = _STRICT

    approval: ApprovalModel
    event: AuditEventModel


class ApprovalAccepted(BaseModel):
    """Outcome of an approval; ``created`` is false for a repeated (idempotent) approval."""

    plan_id: str
    org_id: str
    state: str
    created: bool
    missing_approvals: list[str]
    seq: int = Field(description="seq of the owner's plan_approved event")


class EventAccepted(BaseModel):
    """An event appended to the audit log, and the state it led to.

    ``seq`` and ``hash`` are the log's new head: record them to detect a later truncation.
    """

    seq: int
    hash: str
    state: str
    duplicate: bool = False
    """True when the event repeats one already logged (same actor and event id): nothing
    was appended, ``seq`` and ``hash`` are the earlier event's."""


class JobRequest(BaseModel):
    """``POST /plans/{id}/jobs``: a party's signed ``job_created`` event.

    The event has ``job`` = the new job's id (``job-`` + 32 lowercase hex, chosen
    by the party) and ``details = {"plan_digest": <digest>}``.
    """

    model_config = _STRICT

    event: AuditEventModel


class JobCreated(BaseModel):
    """The job a creation request leads to: a new one (``created``), or the plan's oldest
    open job when the plan already has as many open jobs as allowed."""

    job_id: str
    plan_id: str
    state: str
    created: bool = True


class ProgressEvent(BaseModel):
    """One audit event of a job, for progress display (see ``GET /audit`` for the signed form)."""

    seq: int
    time: str
    actor: str
    kind: str
    details: dict[str, str | int]


class ResultMeta(BaseModel):
    """A node's sealed result for one recipient as relayed so far (no bytes): its chunks."""

    recipient: str
    sender: str
    result_id: str = Field(description="the sending node's id of this sealed result")
    chunks: int = Field(description="how many chunks the node says the result has")
    received: int = Field(description="how many of them the coordinator holds")
    size: int = Field(description="bytes of the chunks held")
    complete: bool = Field(description="every chunk is held")


class ChunkMeta(BaseModel):
    """One relayed chunk of a sealed result, without its bytes (a chunk post's answer)."""

    recipient: str
    sender: str
    result_id: str
    chunk: int
    chunks: int
    sha256: str
    size: int
    received_at: str


class JobOut(BaseModel):
    """A job: its plan, state, progress events and the result blobs waiting for recipients."""

    job_id: str
    plan_id: str
    state: str
    created_at: str
    updated_at: str
    reason: str | None = None
    """Why the job failed (a party's cancellation, a node's failure, a timeout), one line."""
    deleted_by: list[str] = []
    """The nodes whose deletion receipt (``shares_deleted``) is in the log: deletion is its
    own fact, apart from the job's outcome (``state``)."""
    events: list[ProgressEvent]
    results: list[ResultMeta]


class JobSummary(BaseModel):
    """One line of ``GET /jobs``: a job's plan, state and outcome, without its events."""

    job_id: str
    plan_id: str
    state: str = Field(description="One of tyst.coordinator.states.JOB_STATES")
    created_at: str
    updated_at: str
    reason: str | None = None
    deleted_by: list[str] = Field(
        default=[], description="The nodes whose deletion receipt is in the log"
    )


class DraftRequest(BaseModel):
    """``POST /audit/drafts``: what the actor wants to log; the coordinator fills in the chain."""

    model_config = _STRICT

    actor: StrictStr
    kind: StrictStr
    job: StrictStr
    details: dict[str, StrictStr | StrictInt] = Field(default_factory=dict)


class HeadOut(BaseModel):
    """The audit log's head: number of events and the last hash (64 zeros when empty)."""

    n_events: int
    hash: str


class VerifyOut(BaseModel):
    """The outcome of :func:`tyst.service.audit.verify_chain` over the stored log."""

    ok: bool
    n_events: int
    first_problem: str | None
    head: HeadOut


class HealthOut(BaseModel):
    """Liveness, the schema revision, and the registry this coordinator trusts."""

    status: str
    schema_revision: str | None
    registry_fingerprint: str
    nodes: list[str]
    max_result_bytes: int | None = None
    """The most bytes of sealed chunks one node may relay to one recipient in a job."""
