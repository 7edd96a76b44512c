"""The owner's and recipient's SDK: one organisation talking to one deployment.

Contract: a :class:`Client` holds the organisation's keys, the deployment's
registry and connections to the coordinator and the three nodes. It signs
everything it records (submissions, approvals, result receipts) itself.

- :meth:`Client.submit` — submit a plan file;
- :meth:`Client.approve` — approve **the plan file you reviewed**: the digest is
  computed locally from your copy and must be the one the coordinator holds;
- :meth:`Client.status` — a plan's state, approvals and jobs; a job's events;
- :meth:`Client.job_for` — the plan's open job (created if none and asked to);
- :meth:`Client.upload` — validate, share and stream a table (:mod:`tyst.client.owner`);
- :meth:`Client.fetch` — open, combine and decode a result (:mod:`tyst.client.recipient`);
- :meth:`Client.countersign_head` — verify the coordinator's log and sign its head.

Errors: :class:`~tyst.api.http.ApiError`, ``PlanError``, ``SqlError``,
``DataError``, :class:`~tyst.client.owner.UploadError`,
:class:`~tyst.client.recipient.ResultError` — each one line.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from tyst.api.http import ApiError, CoordinatorClient, NodeClient, retry_transient
from tyst.client.config import ClientConfig
from tyst.client.owner import Progress, UploadReport, upload_table
from tyst.client.recipient import RETRY_SECONDS, Result, fetch_result
from tyst.coordinator.protocol import plan_audit_job
from tyst.plan import Plan, PlanError, parse_plan
from tyst.planner.jobspec import JobSpec, job_spec
from tyst.service.audit import (
    GENESIS_HASH,
    AuditEvent,
    Head,
    SignedHead,
    sign_head,
    verify_chain,
)
from tyst.service.bounded_toml import TomlLimitError, check_limits
from tyst.service.keys import OrgKeys, Registry, load
from tyst.service.roles import plan_submitted_details


def _parse_plan(text: str, source: str) -> Plan:
    """:func:`~tyst.plan.parse_plan` after the size and nesting bounds (a plan text
    from the coordinator is untrusted; ``tomllib`` recurses per nesting level)."""
    try:
        check_limits(text)
    except TomlLimitError as exc:
        raise PlanError(f"{source}: malformed TOML: {exc}") from None
    return parse_plan(text, source)


class Client:
    """One organisation's connection to a deployment (see the module docstring)."""

    def __init__(
        self,
        keys: OrgKeys,
        registry: Registry,
        coordinator_url: str,
        node_orgs: tuple[str, str, str],
        node_urls: tuple[str, str, str],
        *,
        ca: Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        verify: Any = str(ca) if ca is not None else True
        self.keys = keys
        self.registry = registry
        self.node_orgs = node_orgs
        self.coordinator = CoordinatorClient(coordinator_url, keys, verify=verify, timeout=timeout)
        # Each node client is pinned to its node's certificate identity (party-i.tyst).
        self.nodes = [
            NodeClient(u, i, verify=verify, timeout=timeout) for i, u in enumerate(node_urls)
        ]

    @classmethod
    def from_config(cls, config: ClientConfig) -> Client:
        passphrase = config.passphrase_file.read_bytes().strip() if config.passphrase_file else None
        keys = load(config.keys, passphrase)
        if keys.org_id != config.org:
            raise ApiError(f"{config.keys} holds the keys of {keys.org_id!r}, not {config.org!r}")
        return cls(
            keys,
            Registry.load(config.registry),
            config.coordinator,
            config.nodes,
            config.node_urls,
            ca=config.ca,
        )

    def close(self) -> None:
        self.coordinator.close()
        for n in self.nodes:
            n.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plans

    def submit(self, toml: str, source: str = "plan") -> Plan:
        """Submit a plan's text (checked and compiled locally first)."""
        plan = _parse_plan(toml, source)
        job_spec(plan)
        digest = plan.digest()
        owners = {t.owner for t in plan.tables.values()}
        # The event names the plan's owners and recipients: a verifier of the log
        # learns from it who may sign which of the plan's events.
        self.coordinator.signed(
            "plan_submitted",
            plan_audit_job(digest),
            plan_submitted_details(digest, owners, plan.recipients),
            lambda e: self.coordinator.json("POST", "/plans", json={"toml": toml, "event": e}),
        )
        return plan

    def approve(self, toml: str, source: str = "plan") -> dict[str, Any]:
        """Approve the plan text you reviewed (its locally computed digest)."""
        plan = _parse_plan(toml, source)
        job_spec(plan)
        digest = plan.digest()
        held = self.coordinator.plan(digest)
        if _parse_plan(str(held["toml"]), "coordinator's copy").digest() != digest:
            raise ApiError("the coordinator's copy of the plan differs from yours; not approved")
        return self.coordinator.approve_plan(digest)

    def plan(self, plan_id: str) -> tuple[Plan, JobSpec]:
        """A plan as the coordinator holds it, re-parsed and digest-checked locally."""
        held = self.coordinator.plan(plan_id)
        plan = _parse_plan(str(held["toml"]), f"plan {plan_id[:16]}")
        if plan.digest() != plan_id:
            raise ApiError("the coordinator's plan text does not have the requested digest")
        return plan, job_spec(plan)

    def countersign_head(self, trusted: Head | None = None) -> SignedHead:
        """Fetch the coordinator's whole log, verify it (and that it contains
        ``trusted``, a head this organisation saw before) and sign its head.

        Keep the returned :class:`~tyst.service.audit.SignedHead` outside the
        coordinator: ``tyst audit verify --head FILE`` then detects a log cut
        off or rewritten below it. Errors: :class:`ApiError` if the log does
        not verify.
        """
        data = self.coordinator.audit_jsonl()
        try:
            events = [AuditEvent.from_dict(json.loads(line)) for line in data.splitlines() if line]
        except ValueError as exc:
            raise ApiError(f"the coordinator's audit log is malformed: {exc}") from None
        report = verify_chain(events, self.registry, expected_head=trusted)
        if not report.ok:
            raise ApiError(f"the coordinator's audit log does not verify: {report.first_problem}")
        head = Head(len(events), events[-1].hash if events else GENESIS_HASH)
        return sign_head(self.keys, head)

    def status(self, plan_id: str) -> dict[str, Any]:
        return self.coordinator.plan(plan_id)

    def open_jobs(self, plan_id: str) -> list[str]:
        """The plan's jobs still taking uploads, oldest first (one request: the
        coordinator lists them, at most its ``max_open_jobs``)."""
        return [str(job) for job in self.coordinator.plan(plan_id)["open_jobs"]]

    def job_for(self, plan_id: str, *, create: bool = True) -> str:
        """The plan's oldest job still taking uploads, else a new one (if ``create``).

        Creating is signed (``job_created``; only an owner or recipient of the
        plan may). Owners uploading at the same time agree on the job: after
        creating one, the oldest open job is chosen again, so two racing
        creations still meet in one job (the other stays empty, is never run and
        is withdrawn by the coordinator's open-job timeout)."""
        jobs = self.open_jobs(plan_id)
        if jobs:
            return jobs[0]
        if not create:
            raise ApiError(f"plan {plan_id[:16]}… has no job taking uploads")
        job_id = "job-" + secrets.token_hex(16)
        answer = self.coordinator.signed(
            "job_created",
            job_id,
            {"plan_digest": plan_id},
            lambda e: self.coordinator.json("POST", f"/plans/{plan_id}/jobs", json={"event": e}),
        )
        return (self.open_jobs(plan_id) or [str(answer["job_id"])])[0]

    # ------------------------------------------------------------------ data

    def upload(
        self,
        plan_id: str,
        job: str,
        table: str,
        path: Path,
        *,
        progress: Progress | None = None,
        chunk_rows: int | None = None,
    ) -> UploadReport:
        _, spec = self.plan(plan_id)
        return upload_table(
            spec, job, table, path, self.keys, self.nodes, progress=progress, chunk_rows=chunk_rows
        )

    def fetch(
        self, plan_id: str, job: str, *, timeout: float = 3600.0, retry: float = RETRY_SECONDS
    ) -> Result:
        """Wait (``timeout``) for the job's result, then fetch, verify and open it; every
        request waits out an unreachable coordinator for up to ``retry`` seconds."""
        _, spec = retry_transient(lambda: self.plan(plan_id), seconds=retry)
        return fetch_result(
            self.coordinator,
            self.keys,
            self.registry,
            spec,
            job,
            self.node_orgs,
            timeout=timeout,
            retry=retry,
        )
