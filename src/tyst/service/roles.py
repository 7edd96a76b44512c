"""Who may sign which audit event: one table for the coordinator and the verifier.

Contract
--------
:data:`EVENT_ROLES` maps every audit event kind (:data:`tyst.service.audit.EVENT_KINDS`)
to the roles whose organisations may sign it. A role is relative to the
deployment and to the plan the event is about:

- :data:`NODE` — one of the deployment's three compute nodes;
- :data:`OWNER` — the owner of a table of the plan;
- :data:`RECIPIENT` — a recipient of the plan's result;
- :data:`PARTY` — an owner or a recipient of the plan;
- :data:`SUBMITTER` — the organisation whose ``plan_submitted`` event opened the plan;
- :data:`COORDINATOR` — the coordinator itself (no kind allows it today: it
  never signs on anyone's behalf).

:func:`allowed` answers one question; :func:`rule` is the one-line rule for a
kind (used in error messages of the ledger and of ``tyst audit verify``). The
coordinator enforces the table when it appends (:mod:`tyst.coordinator.ledger`),
and :func:`tyst.service.audit.role_problem` re-checks a whole exported log
against it, with the plans' owners and recipients taken from the log's own
``plan_submitted`` events and each job's plan from its ``job_created`` event —
so the rules do not live only in the (untrusted) coordinator.

Security: pure data and standard library only; importable by the coordinator,
the verifier, the clients and the nodes alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

NODE = "node"
OWNER = "owner"
RECIPIENT = "recipient"
PARTY = "party"
COORDINATOR = "coordinator"
SUBMITTER = "submitter"

ROLES: frozenset[str] = frozenset({NODE, OWNER, RECIPIENT, PARTY, COORDINATOR, SUBMITTER})

EVENT_ROLES: Mapping[str, frozenset[str]] = {
    "plan_submitted": frozenset({PARTY}),
    "plan_approved": frozenset({OWNER}),
    "plan_rejected": frozenset({OWNER, NODE}),
    "plan_withdrawn": frozenset({SUBMITTER}),
    "job_created": frozenset({PARTY}),
    "upload_received": frozenset({NODE}),
    "run_started": frozenset({NODE}),
    "run_finished": frozenset({NODE}),
    "run_failed": frozenset({NODE}),
    "result_delivered": frozenset({NODE}),
    "result_received": frozenset({RECIPIENT}),
    "shares_deleted": frozenset({NODE}),
    "job_cancelled": frozenset({NODE, PARTY}),
}
"""Event kind → the roles that may sign it (the only copy of these rules)."""

PLAN_CLOSING_KINDS: frozenset[str] = frozenset({"plan_rejected", "plan_withdrawn"})
"""Plan-level events (audit job ``plan:<digest>``) after which the plan never runs: no job
of it is created and no run of it starts (the coordinator fails its live jobs; ``tyst
audit verify`` checks the log for it)."""

NODE_ONLY_KINDS: frozenset[str] = frozenset(k for k, r in EVENT_ROLES.items() if r == {NODE})
"""Kinds only a compute node signs."""

_NAMES = {
    NODE: "a compute node",
    OWNER: "an owner of the plan",
    RECIPIENT: "a recipient of the plan",
    PARTY: "a party of the plan (an owner or a recipient)",
    COORDINATOR: "the coordinator",
    SUBMITTER: "the plan's submitter",
}


PLAN_OWNERS = "owners"
PLAN_RECIPIENTS = "recipients"
"""Detail keys of ``plan_submitted`` naming the plan's owners and recipients (comma-separated
sorted organisation ids), so that a verifier learns each plan's parties from the log itself."""

NODE_COUNT = 3
"""Compute nodes per deployment."""


def plan_submitted_details(
    digest: str, owners: Collection[str], recipients: Collection[str]
) -> dict[str, str | int]:
    """The ``details`` of a plan's ``plan_submitted`` event: digest, owners, recipients."""
    return {
        "plan_digest": digest,
        PLAN_OWNERS: ",".join(sorted(set(owners))),
        PLAN_RECIPIENTS: ",".join(sorted(set(recipients))),
    }


def plan_parties(details: Mapping[str, object]) -> tuple[frozenset[str], frozenset[str]] | None:
    """``(owners, recipients)`` named by a ``plan_submitted`` event's details (``None`` if
    either is missing or empty)."""
    lists = []
    for key in (PLAN_OWNERS, PLAN_RECIPIENTS):
        value = details.get(key)
        if not isinstance(value, str) or not value:
            return None
        lists.append(frozenset(value.split(",")))
    return lists[0], lists[1]


def roles_of(
    actor: str,
    *,
    nodes: Collection[str],
    owners: Collection[str] = (),
    recipients: Collection[str] = (),
    coordinator: str | None = None,
    submitter: str | None = None,
) -> frozenset[str]:
    """Every role ``actor`` holds for a plan with these ``owners`` and ``recipients``
    (and ``submitter``, the actor of its ``plan_submitted`` event, where known)."""
    held: set[str] = set()
    if submitter is not None and actor == submitter:
        held.add(SUBMITTER)
    if actor in nodes:
        held.add(NODE)
    if actor in owners:
        held |= {OWNER, PARTY}
    if actor in recipients:
        held |= {RECIPIENT, PARTY}
    if coordinator is not None and actor == coordinator:
        held.add(COORDINATOR)
    return frozenset(held)


def allowed(
    kind: str,
    actor: str,
    *,
    nodes: Collection[str],
    owners: Collection[str] = (),
    recipients: Collection[str] = (),
    coordinator: str | None = None,
    submitter: str | None = None,
) -> bool:
    """Whether ``actor`` may sign an event of ``kind`` (an unknown kind: never)."""
    held = roles_of(
        actor,
        nodes=nodes,
        owners=owners,
        recipients=recipients,
        coordinator=coordinator,
        submitter=submitter,
    )
    return bool(EVENT_ROLES.get(kind, frozenset()) & held)


def event_problem(
    kind: str,
    actor: str,
    details: Mapping[str, object],
    *,
    nodes: Collection[str],
    owners: Collection[str] = (),
    recipients: Collection[str] = (),
    submitter: str | None = None,
) -> str | None:
    """Why ``actor`` may not sign this event of a plan with these parties (``None`` if it
    may): the signer's role (:data:`EVENT_ROLES`), and for ``upload_received`` that the
    upload it reports (``details.owner``) is an owner's of the plan."""
    if not allowed(
        kind, actor, nodes=nodes, owners=owners, recipients=recipients, submitter=submitter
    ):
        return rule(kind)
    if kind == "upload_received" and details.get("owner") not in owners:
        return (
            f"an upload is an owner's, and {details.get('owner')!r} owns no table of the plan "
            "(details.owner)"
        )
    return None


def rule(kind: str) -> str:
    """The rule for ``kind`` as one line, e.g. ``"only a compute node signs shares_deleted"``."""
    roles = EVENT_ROLES.get(kind)
    if not roles:
        return f"nobody signs {kind}"
    names = " or ".join(_NAMES[r] for r in sorted(roles))
    return f"only {names} signs {kind}"


__all__ = [
    "COORDINATOR",
    "EVENT_ROLES",
    "NODE",
    "NODE_COUNT",
    "NODE_ONLY_KINDS",
    "OWNER",
    "PARTY",
    "PLAN_CLOSING_KINDS",
    "PLAN_OWNERS",
    "PLAN_RECIPIENTS",
    "RECIPIENT",
    "ROLES",
    "SUBMITTER",
    "allowed",
    "event_problem",
    "plan_parties",
    "plan_submitted_details",
    "roles_of",
    "rule",
]
