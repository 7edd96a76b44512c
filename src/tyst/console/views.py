"""What the console's pages show, built from what this body fetched and verified itself.

Contract: every function takes the body's :class:`~tyst.client.session.Client` and
returns plain data for a template. Plans come through :meth:`Client.plan` (the text
re-parsed here, its digest recomputed and compared with the id asked for), approvals
are verified against the registry here, the audit log through
:func:`tyst.client.audit_export.verify_log` and results through :meth:`Client.fetch`
(every chunk signed and opened with this body's keys). Nothing the coordinator says
about a plan's content is shown unverified.

Errors: the client's one-line errors (``ApiError``, ``PlanError``, ``SqlError``, …)
propagate; the routes show them.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tyst.client.audit_export import LogCheck, verify_log
from tyst.client.session import Client
from tyst.coordinator import states
from tyst.jobs.check import check_plan
from tyst.plan import Plan
from tyst.service.audit import SignedHead, plan_events
from tyst.service.roles import rule
from tyst.service.signing import Approval, SignatureInvalid, verify_approval

CLOSED = states.PLAN_CLOSED_STATES


@dataclass(frozen=True)
class Section:
    """One section of the ``tyst check`` report: its heading and its lines."""

    heading: str
    lines: list[str]


@dataclass(frozen=True)
class ApprovalView:
    org: str
    signed_at: str
    valid: bool


@dataclass(frozen=True)
class PlanReview:
    """A plan as a lawyer reads it (everything from the verified plan text)."""

    plan_id: str
    plan: Plan
    info: dict[str, Any]
    check: dict[str, Section]
    check_text: str
    approvals: list[ApprovalView]
    diff: list[str] | None
    previous: dict[str, Any] | None
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def roles(self, party: str) -> list[tuple[str, str]]:
        """(text key, table) pairs of a party's roles in the plan."""
        out = [("owns", t) for t, d in self.plan.tables.items() if d.owner == party]
        if party in self.plan.recipients:
            out.append(("receives", ""))
        return out


def check_sections(text: str) -> dict[str, Section]:
    """The ``tyst check`` report split at its unindented ``Heading:`` lines, keyed by
    the heading's first word in lower case (``what``-sections by their second)."""
    sections: dict[str, Section] = {}
    current: Section | None = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            heading = line[:-1]
            words = heading.lower().replace("(", " ").split()
            key = " ".join(words[:4])
            current = Section(heading, [])
            sections[key] = current
        elif current is not None and line.strip():
            current.lines.append(line.removeprefix("  "))
    return sections


def section(sections: dict[str, Section], prefix: str) -> Section | None:
    """The section whose key starts with ``prefix``."""
    return next((s for k, s in sections.items() if k.startswith(prefix)), None)


def verified_approvals(client: Client, plan_id: str, info: dict[str, Any]) -> list[ApprovalView]:
    """Each approval the coordinator holds, with whether its signature verifies here for
    this plan's locally computed digest."""
    out = []
    for raw in info["approvals"]:
        try:
            approval = Approval.from_dict(raw)
            verify_approval(client.registry, approval, plan_id)
            out.append(ApprovalView(approval.org_id, approval.signed_at, True))
        except (SignatureInvalid, ValueError, KeyError):
            out.append(ApprovalView(str(raw.get("org_id", "?")), str(raw.get("signed_at")), False))
    return out


def canonical_lines(plan: Plan) -> list[str]:
    """The canonical plan (what the digest covers) as indented JSON lines, for a diff."""
    text = json.dumps(plan.canonical(), indent=2, sort_keys=True, ensure_ascii=False)
    return text.splitlines()


def previous_approved(
    client: Client, plan_id: str, plan: Plan
) -> tuple[dict[str, Any], Plan] | None:
    """The plan this body approved most recently other than ``plan_id`` (one with the same
    title first), fetched and digest-checked again; ``None`` if there is none."""
    me = client.keys.org_id
    candidates = []
    for summary in client.coordinator.plans():
        other = str(summary["plan_id"])
        if other == plan_id:
            continue
        info = client.status(other)
        mine = [a for a in info["approvals"] if a.get("org_id") == me]
        if mine:
            same = summary["title"] == plan.analysis.title
            candidates.append((same, str(mine[0]["signed_at"]), other, summary))
    if not candidates:
        return None
    _, _, other, summary = max(candidates)
    approved, _ = client.plan(other)
    return summary, approved


def review(client: Client, plan_id: str) -> PlanReview:
    """Fetch, verify and lay out one plan (see :class:`PlanReview`)."""
    plan, _ = client.plan(plan_id)
    info = client.status(plan_id)
    report = check_plan(plan)
    previous = previous_approved(client, plan_id, plan)
    diff = None
    summary = None
    if previous is not None:
        summary, old = previous
        diff = list(
            difflib.unified_diff(
                canonical_lines(old),
                canonical_lines(plan),
                fromfile=old.digest()[:16],
                tofile=plan_id[:16],
                lineterm="",
            )
        )
    jobs = client.coordinator.jobs(plan_id)
    return PlanReview(
        plan_id,
        plan,
        info,
        check_sections(report.text),
        report.text,
        verified_approvals(client, plan_id, info),
        diff,
        summary,
        jobs,
    )


@dataclass(frozen=True)
class NodeView:
    party: int
    org: str
    view: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class JobView:
    """A job as the coordinator reports it and as each node reports its own part."""

    info: dict[str, Any]
    nodes: list[NodeView]
    phases: list[tuple[str, bool]]

    @property
    def done(self) -> bool:
        return str(self.info["state"]) in states.FINAL_STATES


PHASES = tuple(s for s in states.JOB_STATES if s != states.FAILED)


def job_view(client: Client, job: str) -> JobView:
    """The coordinator's job record and every node's own view (``GET /jobs/{id}`` of each
    node, over TLS pinned to the node's identity)."""
    info = client.coordinator.job(job)
    nodes = []
    for i, node in enumerate(client.nodes):
        try:
            nodes.append(NodeView(i, client.node_orgs[i], node.job(job), None))
        except Exception as exc:  # one line per node: unreachable or holds nothing
            nodes.append(NodeView(i, client.node_orgs[i], None, str(exc)))
    state = str(info["state"])
    reached = PHASES.index(state) if state in PHASES else -1
    phases = [(p, i <= reached) for i, p in enumerate(PHASES)]
    return JobView(info, nodes, phases)


@dataclass(frozen=True)
class AuditView:
    """A plan's audit trail, verified here."""

    check: LogCheck
    events: list[dict[str, Any]]
    receipts: dict[str, dict[str, bool]]
    roles: list[tuple[str, str]]


def audit_view(client: Client, plan_id: str, heads: list[tuple[Path, SignedHead]]) -> AuditView:
    """Verify the coordinator's whole log here (chain, signatures, roles, the heads given,
    deletion receipts), countersign its head, and select the plan's events."""
    client.plan(plan_id)  # this body's plan, digest-checked
    check = verify_log(client, heads)
    mine = plan_events(check.events, plan_id)
    jobs = sorted({e.job for e in mine if not e.job.startswith("plan:")})
    receipts = {
        job: {
            node: any(e.kind == "shares_deleted" and e.actor == node and e.job == job for e in mine)
            for node in client.node_orgs
        }
        for job in jobs
    }
    events = [
        {
            "seq": e.seq,
            "time": e.time,
            "actor": e.actor,
            "kind": e.kind,
            "job": e.job,
            "details": ", ".join(f"{k}={v}" for k, v in sorted(e.details.items())),
        }
        for e in mine
    ]
    kinds = sorted({e.kind for e in mine})
    roles = [(k, rule(k)) for k in kinds]
    return AuditView(check, events, receipts, roles)
