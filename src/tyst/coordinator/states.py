"""Job states and their transitions, as data: the one definition the coordinator runs,
the nodes and clients read and the docs are generated from.

Contract
--------
:data:`JOB_STATES` are every state of a job, in lifecycle order; a job ends in
``delivered`` (every node computed, relayed its sealed results and deleted its
shares) or ``failed`` (cancelled, refused, failed or timed out; see the job's
``reason``). Deletion is its own fact, not a state: each node's signed
``shares_deleted`` receipt, listed by :func:`deleted_by`.

:data:`TRANSITIONS` lists, in order, which signed job event moves a job from
which states to which (the first row that matches the event's kind and the
job's state applies; an event no row allows is an illegal transition, 409).
A row may require a named :class:`Guard` about the signer's own earlier
events, may be accepted at most once per node (``once``), and may move the job
only when every node has reported that kind (``when_all``). Timeouts are
the coordinator's own transition (:data:`TIMEOUT`), with no event; so is
:data:`PLAN_CLOSED`, which fails every live job of a plan an owner rejected or
its submitter withdrew (the plan's signed ``plan_rejected``/``plan_withdrawn``).
:data:`PLAN_STATES` are a plan's own states; a plan in :data:`PLAN_CLOSED_STATES`
never runs again.

:func:`render` is the Markdown table in ``docs/operations.md`` (a test keeps it
current). Pure data and standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

CREATED = "created"
UPLOADING = "uploading"
RUNNING = "running"
FINISHED = "finished"
DELIVERED = "delivered"
FAILED = "failed"

JOB_STATES: tuple[str, ...] = (CREATED, UPLOADING, RUNNING, FINISHED, DELIVERED, FAILED)
"""Every state a job can be in, in lifecycle order."""

OPEN_STATES: tuple[str, ...] = (CREATED, UPLOADING)
"""An open job: taking uploads, not yet running."""

LIVE_STATES: tuple[str, ...] = (CREATED, UPLOADING, RUNNING)
"""A job that can still time out or be cancelled."""

FINAL_STATES: tuple[str, ...] = (DELIVERED, FAILED)
"""A job that has ended: nothing moves it any more (but receipts are still taken)."""

STATE_MEANINGS: dict[str, str] = {
    CREATED: "a party created it; no upload yet",
    UPLOADING: "a node holds some of its tables",
    RUNNING: "a node started its run",
    FINISHED: "every node finished; sealed results relayed or being relayed",
    DELIVERED: "every node finished, relayed its results and deleted its shares",
    FAILED: "cancelled, refused, failed or timed out (the job's reason says which)",
}


PLAN_AWAITING = "awaiting_approvals"
PLAN_APPROVED = "approved"
PLAN_REJECTED = "rejected"
PLAN_WITHDRAWN = "withdrawn"

PLAN_STATES: tuple[str, ...] = (PLAN_AWAITING, PLAN_APPROVED, PLAN_REJECTED, PLAN_WITHDRAWN)
"""Every state a plan can be in (apart from its jobs')."""

PLAN_CLOSED_STATES: tuple[str, ...] = (PLAN_REJECTED, PLAN_WITHDRAWN)
"""A plan that can never run again: no approval, job or run is accepted for it."""

PLAN_STATE_MEANINGS: dict[str, str] = {
    PLAN_AWAITING: "submitted; some owner has not approved it yet",
    PLAN_APPROVED: "every owner approved it; jobs can be created",
    PLAN_REJECTED: "an owner rejected it (plan_rejected): it never runs again",
    PLAN_WITHDRAWN: "its submitter withdrew it before any job of it ran (plan_withdrawn)",
}


class Guard(Enum):
    """A condition on the signing node's own earlier events in the job."""

    NONE = ""
    BEFORE_OWN_RUN_STARTED = "before its own run_started"
    AFTER_OWN_RUN_STARTED = "after its own run_started"
    AFTER_OWN_RUN_FINISHED = "after its own run_finished"
    BEFORE_OWN_SHARES_DELETED = "before its own shares_deleted"

    @property
    def requires(self) -> tuple[str, bool]:
        """``(kind, present)``: the signer's own event of ``kind`` must be (not) logged."""
        return _GUARD_RULES[self]


_GUARD_RULES: dict[Guard, tuple[str, bool]] = {
    Guard.NONE: ("", True),
    Guard.BEFORE_OWN_RUN_STARTED: ("run_started", False),
    Guard.AFTER_OWN_RUN_STARTED: ("run_started", True),
    Guard.AFTER_OWN_RUN_FINISHED: ("run_finished", True),
    Guard.BEFORE_OWN_SHARES_DELETED: ("shares_deleted", False),
}


@dataclass(frozen=True)
class Transition:
    """One rule: ``kind`` in one of ``states`` (with ``guard``) moves the job to ``to``
    (``None``: unchanged); with ``when_all``, only once every node reported ``kind``."""

    kind: str
    states: tuple[str, ...]
    to: str | None
    guard: Guard = Guard.NONE
    once: bool = False
    when_all: bool = False
    note: str = ""


TRANSITIONS: tuple[Transition, ...] = (
    Transition("upload_received", (CREATED, UPLOADING), UPLOADING),
    Transition(
        "upload_received",
        (RUNNING,),
        None,
        Guard.BEFORE_OWN_RUN_STARTED,
        note="the other nodes started as soon as they held every table",
    ),
    Transition("run_started", (UPLOADING, RUNNING), RUNNING, once=True),
    Transition(
        "run_finished", (RUNNING,), FINISHED, Guard.AFTER_OWN_RUN_STARTED, once=True, when_all=True
    ),
    Transition("run_failed", (CREATED, UPLOADING, RUNNING, FAILED), FAILED),
    Transition(
        "run_failed",
        (FINISHED,),
        FAILED,
        Guard.BEFORE_OWN_SHARES_DELETED,
        note="a node could not deliver its sealed result",
    ),
    Transition(
        "plan_rejected",
        (CREATED, UPLOADING, RUNNING, FAILED),
        FAILED,
        note="a node refused the approvals",
    ),
    Transition(
        "job_cancelled",
        LIVE_STATES,
        FAILED,
        note="a party cancelled it; the nodes stop any run of it and delete",
    ),
    Transition("result_delivered", (FINISHED,), None),
    Transition("result_delivered", (RUNNING,), None, Guard.AFTER_OWN_RUN_FINISHED),
    Transition(
        "result_received",
        (FINISHED, DELIVERED),
        None,
        note="the recipient's relayed chunks are dropped",
    ),
    Transition(
        "shares_deleted",
        (FINISHED,),
        DELIVERED,
        once=True,
        when_all=True,
        note="the deletion receipt; the chunks stay for the recipient",
    ),
    Transition("shares_deleted", (FAILED,), None, once=True, note="the deletion receipt"),
    Transition("shares_deleted", (RUNNING,), None, Guard.AFTER_OWN_RUN_FINISHED, once=True),
)
"""Every event-driven transition, in the order they are tried (see the module docstring)."""

TIMEOUT = Transition(
    "(timeout)",
    LIVE_STATES,
    FAILED,
    note="the coordinator: the plan's retention_days since creation, open_job_timeout "
    "for an open job, run_timeout running without progress",
)
"""The coordinator's own transition (no event): a job past its limits fails."""

PLAN_CLOSED = Transition(
    "(plan closed)",
    LIVE_STATES,
    FAILED,
    note="the coordinator, on its plan's plan_rejected or plan_withdrawn event (signed by "
    "the owner or submitter): the nodes stop any run of it and delete",
)
"""The coordinator's transition of every live job of a plan that was rejected or withdrawn."""


def transition_for(kind: str, state: str) -> list[Transition]:
    """The rows for ``kind`` that accept a job in ``state``, in order."""
    return [t for t in TRANSITIONS if t.kind == kind and state in t.states]


def deleted_by(events: list[tuple[str, str]], nodes: frozenset[str]) -> list[str]:
    """The nodes whose deletion receipt is among ``events`` (``(actor, kind)`` pairs)."""
    return sorted({a for a, k in events if k == "shares_deleted" and a in nodes})


def render() -> str:
    """The states and transitions as Markdown (the table in ``docs/operations.md``)."""
    lines = ["| state | meaning |", "|---|---|"]
    lines += [f"| `{s}` | {STATE_MEANINGS[s]} |" for s in JOB_STATES]
    lines += ["", "| event | in state | next state | condition |", "|---|---|---|---|"]
    for t in (*TRANSITIONS, TIMEOUT, PLAN_CLOSED):
        to = f"`{t.to}`" if t.to else "unchanged"
        if t.when_all:
            to += " when every node did, else unchanged"
        condition = [c for c in (t.guard.value, "once per node" if t.once else "", t.note) if c]
        states = ", ".join(f"`{s}`" for s in t.states)
        lines.append(f"| `{t.kind}` | {states} | {to} | {'; '.join(condition)} |")
    lines += ["", "| plan state | meaning |", "|---|---|"]
    lines += [f"| `{s}` | {PLAN_STATE_MEANINGS[s]} |" for s in PLAN_STATES]
    return "\n".join(lines) + "\n"


__all__ = [
    "CREATED",
    "DELIVERED",
    "FAILED",
    "FINAL_STATES",
    "FINISHED",
    "JOB_STATES",
    "LIVE_STATES",
    "OPEN_STATES",
    "PLAN_APPROVED",
    "PLAN_AWAITING",
    "PLAN_CLOSED",
    "PLAN_CLOSED_STATES",
    "PLAN_REJECTED",
    "PLAN_STATES",
    "PLAN_STATE_MEANINGS",
    "PLAN_WITHDRAWN",
    "RUNNING",
    "STATE_MEANINGS",
    "TIMEOUT",
    "TRANSITIONS",
    "UPLOADING",
    "Guard",
    "Transition",
    "deleted_by",
    "render",
    "transition_for",
]
