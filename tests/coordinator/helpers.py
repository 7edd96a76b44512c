"""Shared test data and client-side helpers for the coordinator tests.

The helpers do what an owner's or a node's client does: compute the plan digest
itself, draft the next audit event from the log head, sign it, and send it. Every
request they send is signed (:func:`tyst.coordinator.protocol.sign_request`, as
:class:`tyst.api.http.CoordinatorAuth` does) by the organisation that acts;
:func:`signing` gives a client a default signer for the tests' own requests.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from tyst.coordinator.protocol import plan_audit_job, sign_request, sign_result
from tyst.plan import parse_plan
from tyst.service.audit import AuditEvent, check_details, sign_event
from tyst.service.keys import OrgKeys, Registry, generate
from tyst.service.roles import plan_submitted_details
from tyst.service.signing import approve, utc_now

FK = generate("fk")
MALMO = generate("malmo")
NODES = (generate("node-a"), generate("node-b"), generate("node-c"))
OUTSIDER = generate("outsider")  # registered, but no party of the plan and no node
STRANGER = generate("stranger")  # not in the registry at all
REGISTRY = Registry([FK.public(), MALMO.public(), OUTSIDER.public()] + [n.public() for n in NODES])
NODE_IDS = tuple(n.org_id for n in NODES)
KEYS: dict[str, OrgKeys] = {k.org_id: k for k in (FK, MALMO, OUTSIDER, STRANGER, *NODES)}

C = TypeVar("C")
Signer = Callable[[Any], Any]


def auth(keys: OrgKeys | str = FK) -> Signer:
    """Request signing as ``keys`` (an organisation id of :data:`KEYS` or its keys), as an
    ``auth=`` callable for both ``httpx`` and the TestClient's ``httpx2``."""
    org = KEYS[keys] if isinstance(keys, str) else keys

    def sign(request: Any) -> Any:
        target = request.url.raw_path.decode("latin-1")
        request.headers.update(sign_request(org, request.method, target, request.content))
        return request

    return sign


def signing(client: C, keys: OrgKeys = FK) -> C:
    """``client``, now signing every request it sends as ``keys`` unless told otherwise."""
    client.auth = auth(keys)  # type: ignore[attr-defined]
    return client


def _reader(actor: str) -> Signer:
    """Who sends ``actor``'s requests: the actor itself if registered, else FK (which
    relays the unregistered actor's event, so that the coordinator's check of the event
    itself is what refuses it)."""
    return auth(actor if actor in REGISTRY else FK)


PLAN = '''\
[analysis]
title = "Samtidig sjukpenning och ekonomiskt bistånd"
purpose = "Efterhandskontroll"
legal_basis = "Bidragsbrottslagen (2007:612)"
retention_days = 30

[parties.fk]
name = "Försäkringskassan"
[parties.malmo]
name = "Malmö stad"

[tables.sjukpenning]
owner = "fk"
columns = { pnr = "id", fom = "date", tom = "date", belopp = "decimal(2)" }
[tables.bistand]
owner = "malmo"
columns = { pnr = "id", manad = "date", belopp = "int" }

[query]
sql = """SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr
         WHERE b.manad BETWEEN s.fom AND s.tom"""

[output]
recipients = ["fk"]
'''
DIGEST = parse_plan(PLAN).digest()
PLAN_JOB = plan_audit_job(DIGEST)

OTHER_PLAN = PLAN.replace("retention_days = 30", "retention_days = 7")
OTHER_DIGEST = parse_plan(OTHER_PLAN).digest()


def draft(
    client: TestClient, actor: str, kind: str, job: str, details: dict[str, str | int]
) -> AuditEvent:
    """The next event, drafted client-side from ``GET /audit/head`` (unsigned)."""
    head = client.get("/audit/head", auth=_reader(actor)).json()
    event = AuditEvent(
        seq=head["n_events"] + 1,
        time=utc_now(),
        actor=actor,
        kind=kind,
        job=job,
        details=check_details(details),
        prev_hash=head["hash"],
        hash="",
        signature=b"",
    )
    return replace(event, hash=event.compute_hash())


def signed(
    client: TestClient,
    keys: OrgKeys,
    kind: str,
    job: str,
    details: dict[str, str | int] | None = None,
) -> dict[str, Any]:
    """The next event by ``keys`` as JSON, signed: ready to send."""
    return sign_event(keys, draft(client, keys.org_id, kind, job, details or {})).to_dict()


def submitted_details(toml: str = PLAN) -> dict[str, str | int]:
    """The details of ``toml``'s ``plan_submitted`` event: digest, owners, recipients."""
    plan = parse_plan(toml)
    owners = {t.owner for t in plan.tables.values()}
    return plan_submitted_details(plan.digest(), owners, plan.recipients)


def submit(client: TestClient, keys: OrgKeys = FK, toml: str = PLAN) -> Any:
    """Submit ``toml`` with a signed ``plan_submitted`` event; return the response."""
    digest = parse_plan(toml).digest()
    details = submitted_details(toml)
    event = signed(client, keys, "plan_submitted", plan_audit_job(digest), details)
    return client.post("/plans", json={"toml": toml, "event": event}, auth=_reader(keys.org_id))


def create_job(
    client: TestClient, keys: OrgKeys = FK, digest: str = DIGEST, job_id: str | None = None
) -> Any:
    """Ask for a job of ``digest`` with ``keys``' signed ``job_created``; return the response."""
    job_id = job_id or "job-" + secrets.token_hex(16)
    event = signed(client, keys, "job_created", job_id, {"plan_digest": digest})
    return client.post(f"/plans/{digest}/jobs", json={"event": event}, auth=_reader(keys.org_id))


def approve_plan(client: TestClient, keys: OrgKeys, digest: str = DIGEST) -> Any:
    """Approve the plan ``digest`` as ``keys`` (approval + signed event); return the response."""
    approval = approve(keys, digest).to_dict()
    event = signed(client, keys, "plan_approved", plan_audit_job(digest), {"plan_digest": digest})
    return client.post(
        f"/plans/{digest}/approvals",
        json={"approval": approval, "event": event},
        auth=_reader(keys.org_id),
    )


def approved_job(client: TestClient) -> str:
    """Submit and fully approve :data:`PLAN`, create a job; return its id.

    A client without a default signer signs its other requests as FK from now on
    (FK owns a table of :data:`PLAN` and receives its result)."""
    if client.auth is None:
        signing(client)
    assert submit(client).status_code in (200, 201)
    for owner in (FK, MALMO):
        assert approve_plan(client, owner).status_code in (200, 201)
    response = create_job(client)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def job_event(
    client: TestClient,
    job_id: str,
    keys: OrgKeys,
    kind: str,
    details: dict[str, str | int] | None = None,
) -> Any:
    """Send a signed job event; return the response."""
    event = signed(client, keys, kind, job_id, details)
    return client.put(f"/jobs/{job_id}/events", json=event, auth=_reader(keys.org_id))


def result_id_of(node: OrgKeys) -> str:
    """The result id the helpers post ``node``'s chunks with (fixed per node)."""
    return hashlib.sha256(node.org_id.encode()).hexdigest()[:32]


def post_result(
    client: TestClient,
    job_id: str,
    node: OrgKeys,
    recipient: str,
    blob: bytes,
    *,
    index: int = 0,
    count: int = 1,
    result_id: str | None = None,
) -> Any:
    """A node posts chunk ``index`` of ``count`` (default: a one-chunk result) for
    ``recipient``, signed; return the response."""
    result_id = result_id or result_id_of(node)
    headers = sign_result(
        node, job_id, recipient, blob, result_id=result_id, index=index, count=count
    )
    headers["Content-Type"] = "application/octet-stream"
    return client.post(
        f"/jobs/{job_id}/results/{recipient}/{index}",
        content=blob,
        headers=headers,
        auth=_reader(node.org_id),
    )


def run_to_finished(client: TestClient, job_id: str) -> None:
    """Uploads by every node for both tables, then every node starts and finishes."""
    for node in NODES:
        for owner, table in (("fk", "sjukpenning"), ("malmo", "bistand")):
            response = job_event(
                client, job_id, node, "upload_received", {"owner": owner, "table": table}
            )
            assert response.status_code == 200, response.text
    for node in NODES:
        assert job_event(client, job_id, node, "run_started").status_code == 200
    for node in NODES:
        assert job_event(client, job_id, node, "run_finished").status_code == 200


def is_one_line(response: Any) -> bool:
    """The response is ``{"detail": "<one non-empty line>"}``."""
    detail = response.json().get("detail")
    return isinstance(detail, str) and bool(detail) and "\n" not in detail
