"""A plan rejected by an owner or withdrawn by its submitter never runs; ``GET /jobs``.

Each closing is a signed plan-level event (``plan_rejected``, ``plan_withdrawn``)
that the coordinator checks like an approval, that fails every live job of the
plan, and that ``tyst audit verify`` re-checks over an exported log: the right
signer, a withdrawal only before any run, and no job or run after a closing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    MALMO,
    NODE_IDS,
    NODES,
    OUTSIDER,
    PLAN_JOB,
    REGISTRY,
    approve_plan,
    approved_job,
    auth,
    create_job,
    is_one_line,
    job_event,
    run_to_finished,
    signed,
)
from tyst.service.audit import AuditEvent, AuditLog, role_problem, verify_chain
from tyst.service.keys import OrgKeys


def _close(
    client: TestClient, keys: OrgKeys, kind: str, reason: str = "", digest: str = DIGEST
) -> Any:
    details: dict[str, str | int] = {"plan_digest": digest}
    if reason:
        details["reason"] = reason
    event = signed(client, keys, kind, PLAN_JOB, details)
    return client.put(f"/plans/{digest}/events", json=event, auth=auth(keys))


def _head(client: TestClient) -> int:
    return int(client.get("/audit/head").json()["n_events"])


def _exported(client: TestClient) -> list[AuditEvent]:
    lines = client.get("/audit").content.decode().splitlines()
    return [AuditEvent.from_dict(json.loads(line)) for line in lines if line]


def test_a_rejection_fails_every_live_job_and_nothing_runs_after_it(client: TestClient) -> None:
    job = approved_job(client)
    for node in NODES:
        uploaded = job_event(
            client, job, node, "upload_received", {"owner": "fk", "table": "sjukpenning"}
        )
        assert uploaded.status_code == 200, uploaded.text
    rejected = _close(client, MALMO, "plan_rejected", "the legal basis does not cover it")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"
    info = client.get(f"/jobs/{job}").json()
    assert info["state"] == "failed"
    assert info["reason"] == (
        "cancelled by malmo: the plan was rejected: the legal basis does not cover it"
    )
    plan = client.get(f"/plans/{DIGEST}").json()
    assert plan["state"] == "rejected"
    assert plan["rejected_by"] == ["malmo"]
    before = _head(client)
    refused = [create_job(client), job_event(client, job, NODES[0], "run_started")]
    assert [r.status_code for r in refused] == [409, 409]
    assert all(is_one_line(r) for r in refused)
    repeated = approve_plan(client, MALMO).json()  # an approval given before: no new fact
    assert (repeated["created"], repeated["state"]) == (False, "rejected")
    assert _head(client) == before  # nothing of it was logged
    for node in NODES:  # the nodes still sign their deletion receipts
        assert job_event(client, job, node, "shares_deleted", {"files": 1}).status_code == 200
    verdict = client.get("/audit/verify").json()
    assert verdict["ok"] is True, verdict


def test_only_an_owner_rejects_and_only_the_submitter_withdraws(client: TestClient) -> None:
    approved_job(client)  # FK submitted the plan; FK and MALMO own its tables
    before = _head(client)
    outsider = _close(client, OUTSIDER, "plan_rejected")
    assert outsider.status_code == 403
    assert "only an owner of the plan" in outsider.json()["detail"]
    not_submitter = _close(client, MALMO, "plan_withdrawn")
    assert not_submitter.status_code == 403
    assert "only the plan's submitter signs plan_withdrawn" in not_submitter.json()["detail"]
    node = _close(client, NODES[0], "plan_rejected")
    assert node.status_code == 403
    submitter = _close(client, FK, "plan_withdrawn")
    assert submitter.status_code == 200
    assert _head(client) == before + 1


def test_a_withdrawal_closes_the_open_jobs_and_the_plan_for_good(client: TestClient) -> None:
    first = approved_job(client)
    second = create_job(client).json()["job_id"]
    assert second != first
    withdrawn = _close(client, FK, "plan_withdrawn", "submitted by mistake")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    for job in (first, second):
        info = client.get(f"/jobs/{job}").json()
        assert info["state"] == "failed"
        assert info["reason"] == "cancelled by fk: the plan was withdrawn: submitted by mistake"
    assert client.get(f"/plans/{DIGEST}").json()["state"] == "withdrawn"
    before = _head(client)
    again = [
        create_job(client),
        _close(client, FK, "plan_withdrawn"),
        _close(client, MALMO, "plan_rejected"),
    ]
    assert [r.status_code for r in again] == [409, 409, 409]
    assert _head(client) == before
    assert client.get("/audit/verify").json()["ok"] is True


def test_a_plan_is_withdrawn_only_before_it_runs(client: TestClient) -> None:
    job = approved_job(client)
    run_to_finished(client, job)
    before = _head(client)
    late = _close(client, FK, "plan_withdrawn")
    assert late.status_code == 409
    assert f"job {job} of the plan already ran" in late.json()["detail"]
    assert _head(client) == before
    assert client.get(f"/jobs/{job}").json()["state"] == "finished"
    # an owner can still reject it: the finished job is not live and keeps its state
    assert _close(client, MALMO, "plan_rejected").status_code == 200
    assert client.get(f"/jobs/{job}").json()["state"] == "finished"


def test_job_list_shows_each_partys_jobs_with_their_states(client: TestClient) -> None:
    delivered = approved_job(client)
    run_to_finished(client, delivered)
    for node in NODES:
        assert job_event(client, delivered, node, "shares_deleted", {"files": 2}).is_success
    cancelled = create_job(client).json()["job_id"]
    assert job_event(client, cancelled, MALMO, "job_cancelled", {"reason": "wrong month"})
    open_job = create_job(client).json()["job_id"]
    listed = client.get("/jobs").json()
    assert [(j["job_id"], j["state"]) for j in listed] == [
        (delivered, "delivered"),
        (cancelled, "failed"),
        (open_job, "created"),
    ]
    assert listed[0]["deleted_by"] == sorted(NODE_IDS)
    assert listed[1]["reason"] == "cancelled by malmo: wrong month"
    assert listed[2]["deleted_by"] == []
    assert listed[2]["reason"] is None
    assert client.get("/jobs", params={"plan": DIGEST}).json() == listed
    assert client.get("/jobs", auth=auth(MALMO)).json() == listed
    assert client.get("/jobs", auth=auth(NODES[1])).json() == listed  # nodes see every job
    # an organisation that is no party sees none, and no plan of them
    assert client.get("/jobs", auth=auth(OUTSIDER)).json() == []
    hidden = client.get("/jobs", params={"plan": DIGEST}, auth=auth(OUTSIDER))
    assert hidden.status_code == 404
    assert is_one_line(hidden)
    unknown = client.get("/jobs", params={"plan": "ab" * 32})
    assert unknown.status_code == 404


# ------------------------------------------------------------------ offline verification


def _closed_log(client: TestClient, kind: str, keys: OrgKeys) -> list[AuditEvent]:
    approved_job(client)
    assert _close(client, keys, kind).status_code == 200
    events = _exported(client)
    assert verify_chain(events, REGISTRY).ok
    assert role_problem(events, NODE_IDS) is None
    return events


def test_verify_refuses_a_job_or_a_run_after_a_closing(client: TestClient) -> None:
    events = _closed_log(client, "plan_rejected", MALMO)
    closing = events[-1].seq
    # a coordinator that let a party create a job after the rejection
    log = AuditLog(events)
    log.append(FK, "job_created", "job-" + secrets.token_hex(16), {"plan_digest": DIGEST})
    problem = role_problem(list(log.events), NODE_IDS)
    assert problem is not None
    assert f"a job of a plan closed by plan_rejected (seq {closing})" in problem
    # a run of a job created before the rejection, started after it
    job = next(e.job for e in events if e.kind == "job_created")
    log = AuditLog(events)
    log.append(NODES[0], "run_started", job, {})
    problem = role_problem(list(log.events), NODE_IDS)
    assert problem is not None
    assert "a run of a plan closed by plan_rejected" in problem


def test_verify_refuses_a_withdrawal_by_another_party_or_after_a_run(client: TestClient) -> None:
    job = approved_job(client)
    events = _exported(client)
    # a withdrawal signed by an owner who did not submit the plan
    log = AuditLog(events)
    log.append(MALMO, "plan_withdrawn", PLAN_JOB, {"plan_digest": DIGEST})
    problem = role_problem(list(log.events), NODE_IDS)
    assert problem is not None
    assert "plan_withdrawn by 'malmo' breaks the rule: only the plan's submitter" in problem
    # the submitter's withdrawal after a job of the plan started a run
    log = AuditLog(events)
    log.append(NODES[0], "upload_received", job, {"owner": "fk", "table": "sjukpenning"})
    log.append(NODES[0], "run_started", job, {})
    log.append(FK, "plan_withdrawn", PLAN_JOB, {"plan_digest": DIGEST})
    problem = role_problem(list(log.events), NODE_IDS)
    assert problem is not None
    assert f"job {job} of the plan already ran" in problem
    # the same withdrawal before the run verifies
    log = AuditLog(events)
    log.append(FK, "plan_withdrawn", PLAN_JOB, {"plan_digest": DIGEST})
    assert role_problem(list(log.events), NODE_IDS) is None
