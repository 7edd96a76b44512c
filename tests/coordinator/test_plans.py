"""Plans and approvals: submission, idempotence, who may approve, forged and stale approvals."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    MALMO,
    NODES,
    OTHER_DIGEST,
    OTHER_PLAN,
    OUTSIDER,
    PLAN,
    PLAN_JOB,
    REGISTRY,
    STRANGER,
    approve_plan,
    create_job,
    draft,
    is_one_line,
    signed,
    submit,
    submitted_details,
)
from tyst.service.audit import AuditEvent, sign_event
from tyst.service.signing import CONTEXT_AUDIT, Approval, approve, sign, verify_approvals


def test_submit_returns_the_digest_as_id_and_is_idempotent(client: TestClient) -> None:
    response = submit(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["plan_id"] == body["digest"] == DIGEST
    assert body["state"] == "awaiting_approvals"
    assert body["created"] is True
    again = submit(client, toml="# reformatted\n" + PLAN)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["seq"] == body["seq"]
    assert client.get("/audit/head").json()["n_events"] == 1


def test_get_plan_shows_text_digest_approvers_and_state(client: TestClient) -> None:
    submit(client)
    plan = client.get(f"/plans/{DIGEST}").json()
    assert plan["toml"] == PLAN
    assert plan["digest"] == DIGEST
    assert plan["required_approvers"] == ["fk", "malmo"]
    assert plan["recipients"] == ["fk"]
    assert plan["approvals"] == []
    assert plan["missing_approvals"] == ["fk", "malmo"]
    assert plan["state"] == "awaiting_approvals"
    assert plan["submitted_by"] == "fk"
    assert [p["plan_id"] for p in client.get("/plans").json()] == [DIGEST]


def test_unknown_plan_is_404(client: TestClient) -> None:
    response = client.get(f"/plans/{OTHER_DIGEST}")
    assert response.status_code == 404
    assert is_one_line(response)


def test_invalid_plan_is_refused_with_one_line(client: TestClient) -> None:
    event = signed(client, FK, "plan_submitted", PLAN_JOB, submitted_details())
    bad = PLAN.replace('owner = "malmo"', 'owner = "malmö"')
    response = client.post("/plans", json={"toml": bad, "event": event})
    assert response.status_code == 400
    assert is_one_line(response)
    assert "owner" in response.json()["detail"]


def test_plan_whose_owner_is_not_registered_is_refused(client: TestClient) -> None:
    toml = PLAN.replace("[parties.malmo]", "[parties.lund]\nname = 'Lund'\n[parties.malmo]")
    toml = toml.replace('owner = "malmo"', 'owner = "lund"')
    response = submit(client, toml=toml)
    assert response.status_code == 400
    assert "'lund' is not a registered organisation" in response.json()["detail"]


def test_submission_event_must_match_the_plan(client: TestClient) -> None:
    wrong_job = signed(
        client, FK, "plan_submitted", "plan:" + OTHER_DIGEST, {"plan_digest": DIGEST}
    )
    response = client.post("/plans", json={"toml": PLAN, "event": wrong_job})
    assert response.status_code == 400
    wrong_digest = signed(client, FK, "plan_submitted", PLAN_JOB, {"plan_digest": OTHER_DIGEST})
    response = client.post("/plans", json={"toml": PLAN, "event": wrong_digest})
    assert response.status_code == 400
    wrong_kind = signed(client, FK, "plan_approved", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.post("/plans", json={"toml": PLAN, "event": wrong_kind})
    assert response.status_code == 400
    assert client.get("/audit/head").json()["n_events"] == 0


def test_submission_with_forged_or_unregistered_signature_is_403(client: TestClient) -> None:
    event = draft(client, "fk", "plan_submitted", PLAN_JOB, submitted_details())
    # MALMO signs an event that names FK as its actor.
    forged = dataclasses.replace(
        event, signature=sign(MALMO, bytes.fromhex(event.hash), CONTEXT_AUDIT)
    )
    response = client.post("/plans", json={"toml": PLAN, "event": forged.to_dict()})
    assert response.status_code == 403
    assert is_one_line(response)
    assert "does not verify" in response.json()["detail"]
    # Changing the actor after signing breaks the hash.
    tampered = sign_event(MALMO, _redraft(event, "malmo")).to_dict() | {"actor": "fk"}
    response = client.post("/plans", json={"toml": PLAN, "event": tampered})
    assert response.status_code == 400
    assert "hash does not match" in response.json()["detail"]
    stranger = signed(client, STRANGER, "plan_submitted", PLAN_JOB, submitted_details())
    response = client.post("/plans", json={"toml": PLAN, "event": stranger})
    assert response.status_code == 403
    assert "not a registered organisation" in response.json()["detail"]
    assert client.get("/audit/head").json()["n_events"] == 0


def _redraft(event: AuditEvent, actor: str) -> AuditEvent:
    moved = dataclasses.replace(event, actor=actor)
    return dataclasses.replace(moved, hash=moved.compute_hash())


def test_stale_event_is_409_and_can_be_redrafted(client: TestClient) -> None:
    stale = signed(client, FK, "plan_submitted", PLAN_JOB, submitted_details())
    assert submit(client, toml=OTHER_PLAN).status_code == 201  # the log moves on
    response = client.post("/plans", json={"toml": PLAN, "event": stale})
    assert response.status_code == 409
    assert "draft the event again" in response.json()["detail"]
    assert submit(client).status_code == 201


def test_draft_endpoint_gives_an_event_to_sign(client: TestClient) -> None:
    response = client.post(
        "/audit/drafts",
        json={
            "actor": "fk",
            "kind": "plan_submitted",
            "job": PLAN_JOB,
            "details": submitted_details(),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signature"] == ""
    assert body["seq"] == 1
    event = sign_event(FK, AuditEvent.from_dict(body))
    response = client.post("/plans", json={"toml": PLAN, "event": event.to_dict()})
    assert response.status_code == 201, response.text
    bad = client.post(
        "/audit/drafts", json={"actor": "fk", "kind": "nonsense", "job": PLAN_JOB, "details": {}}
    )
    assert bad.status_code == 400
    unknown = client.post(
        "/audit/drafts", json={"actor": "stranger", "kind": "plan_submitted", "job": PLAN_JOB}
    )
    assert unknown.status_code == 400


def test_owners_approve_and_the_plan_becomes_approved(client: TestClient) -> None:
    submit(client)
    first = approve_plan(client, FK)
    assert first.status_code == 201, first.text
    assert first.json()["missing_approvals"] == ["malmo"]
    assert first.json()["state"] == "awaiting_approvals"
    second = approve_plan(client, MALMO)
    assert second.status_code == 201
    assert second.json()["state"] == "approved"
    plan = client.get(f"/plans/{DIGEST}").json()
    assert plan["state"] == "approved"
    assert plan["missing_approvals"] == []
    # The approvals are kept exactly as signed, so a node can re-verify them itself.
    approvals = [Approval.from_dict(a) for a in plan["approvals"]]
    verify_approvals(REGISTRY, approvals, DIGEST, ["fk", "malmo"])


def test_duplicate_approval_is_idempotent(client: TestClient) -> None:
    submit(client)
    assert approve_plan(client, FK).status_code == 201
    n = client.get("/audit/head").json()["n_events"]
    again = approve_plan(client, FK)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert client.get("/audit/head").json()["n_events"] == n


def test_approval_of_another_digest_is_400(client: TestClient) -> None:
    submit(client)
    approval = approve(FK, OTHER_DIGEST).to_dict()
    event = signed(client, FK, "plan_approved", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.post(
        f"/plans/{DIGEST}/approvals", json={"approval": approval, "event": event}
    )
    assert response.status_code == 400
    assert is_one_line(response)
    assert "stale, or the plan was altered" in response.json()["detail"]


def test_forged_approval_is_403(client: TestClient) -> None:
    submit(client)
    real = approve(MALMO, DIGEST)
    forged = dataclasses.replace(real, org_id="fk")  # MALMO's signature, claimed as FK's
    event = signed(client, FK, "plan_approved", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.post(
        f"/plans/{DIGEST}/approvals", json={"approval": forged.to_dict(), "event": event}
    )
    assert response.status_code == 403
    assert is_one_line(response)
    assert "does not verify" in response.json()["detail"]


def test_only_owners_may_approve(client: TestClient) -> None:
    submit(client)
    for keys in (OUTSIDER, NODES[0]):
        response = approve_plan(client, keys)
        assert response.status_code == 403
        assert "only owners approve" in response.json()["detail"]
    response = approve_plan(client, STRANGER)
    assert response.status_code == 403


def test_approval_event_must_be_the_approvers(client: TestClient) -> None:
    submit(client)
    approval = approve(FK, DIGEST).to_dict()
    event = signed(client, MALMO, "plan_approved", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.post(
        f"/plans/{DIGEST}/approvals", json={"approval": approval, "event": event}
    )
    assert response.status_code == 400
    assert "not by the approver" in response.json()["detail"]


def test_malformed_approval_is_400(client: TestClient) -> None:
    submit(client)
    approval = approve(FK, DIGEST).to_dict()
    approval["signature"] = "not base64!"
    event = signed(client, FK, "plan_approved", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.post(
        f"/plans/{DIGEST}/approvals", json={"approval": approval, "event": event}
    )
    assert response.status_code == 400
    assert is_one_line(response)


def test_rejected_plan_gets_no_jobs_and_no_approvals(client: TestClient) -> None:
    submit(client)
    assert approve_plan(client, FK).status_code == 201
    outsider = signed(client, OUTSIDER, "plan_rejected", PLAN_JOB, {"plan_digest": DIGEST})
    assert client.put(f"/plans/{DIGEST}/events", json=outsider).status_code == 403
    event = signed(client, MALMO, "plan_rejected", PLAN_JOB, {"plan_digest": DIGEST})
    response = client.put(f"/plans/{DIGEST}/events", json=event)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "rejected"
    assert approve_plan(client, MALMO).status_code == 409
    assert create_job(client).status_code == 409
    plan = client.get(f"/plans/{DIGEST}").json()
    assert plan["state"] == "rejected"
    assert plan["rejected_by"] == ["malmo"]


def test_deeply_nested_plan_toml_is_400_not_500(client: TestClient) -> None:
    """Finding 12 of issue 11: tomllib recursion never reaches the server."""
    from tyst.coordinator.protocol import plan_audit_job

    event = signed(
        client, FK, "plan_submitted", plan_audit_job("0" * 64), {"plan_digest": "0" * 64}
    )
    deep = 100_000
    for toml in (
        PLAN + "\n[policy]\nallow = " + "[" * deep + "]" * deep + "\n",
        PLAN.replace('title = "', "x = " + "{a = " * deep + "1" + "}" * deep + '\ntitle = "'),
    ):
        response = client.post("/plans", json={"toml": toml, "event": event})
        assert response.status_code == 400, response.text[:200]
        assert is_one_line(response)
        assert "nest deeper than" in response.json()["detail"]
    assert client.get("/plans").json() == []
