"""Jobs: creation only after every approval, the state machine, and the sealed-result relay."""

from __future__ import annotations

import datetime
import hashlib
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    MALMO,
    NODE_IDS,
    NODES,
    OUTSIDER,
    REGISTRY,
    STRANGER,
    approve_plan,
    approved_job,
    auth,
    create_job,
    is_one_line,
    job_event,
    post_result,
    result_id_of,
    run_to_finished,
    signed,
    signing,
    submit,
)
from tyst.coordinator.app import create_app
from tyst.coordinator.db import JobRow
from tyst.coordinator.protocol import (
    COUNT_HEADER,
    EVENT_ID,
    RESULT_HEADER,
    SIGNATURE_HEADER,
    new_event_id,
    sign_result,
    verify_result,
)
from tyst.service.keys import decode_b64
from tyst.service.sealing import open_sealed, seal
from tyst.service.signing import format_utc


def test_job_needs_every_owners_approval(client: TestClient) -> None:
    submit(client)
    response = create_job(client)
    assert response.status_code == 409
    assert "missing approval by 'fk', 'malmo'" in response.json()["detail"]
    approve_plan(client, FK)
    response = create_job(client)
    assert response.status_code == 409
    assert "'malmo'" in response.json()["detail"]
    approve_plan(client, MALMO)
    response = create_job(client)
    assert response.status_code == 201
    job = response.json()
    assert job["state"] == "created"
    assert job["plan_id"] == DIGEST
    assert job["job_id"].startswith("job-")
    assert client.get(f"/plans/{DIGEST}").json()["jobs"] == [job["job_id"]]


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/jobs/job-" + "0" * 32).status_code == 404
    assert client.get("/jobs/nonsense").status_code == 404
    assert create_job(client, digest="0" * 64).status_code == 404


def test_full_lifecycle_with_progress(client: TestClient) -> None:
    job_id = approved_job(client)
    states = []
    for node in NODES:
        response = job_event(
            client, job_id, node, "upload_received", {"owner": "fk", "table": "sjukpenning"}
        )
        states.append(response.json()["state"])
    assert states == ["uploading"] * 3
    for node in NODES:
        states.append(job_event(client, job_id, node, "run_started").json()["state"])
    for node in NODES:
        response = job_event(client, job_id, node, "run_finished", {"bytes_sent": 123})
        states.append(response.json()["state"])
    assert states[3:] == ["running"] * 5 + ["finished"]
    for node in NODES:
        response = job_event(client, job_id, node, "result_delivered", {"recipient": "fk"})
        assert response.json()["state"] == "finished"
    assert job_event(client, job_id, FK, "result_received").json()["state"] == "finished"
    for i, node in enumerate(NODES):
        response = job_event(client, job_id, node, "shares_deleted", {"files": 2})
        assert response.json()["state"] == ("delivered" if i == 2 else "finished")
    job = client.get(f"/jobs/{job_id}").json()
    assert job["state"] == "delivered"
    assert job["deleted_by"] == sorted(NODE_IDS)
    kinds = [e["kind"] for e in job["events"]]
    assert kinds.count("upload_received") == 3
    assert kinds[-1] == "shares_deleted"
    assert job["events"][-1]["details"] == {"files": 2}
    assert [e["seq"] for e in job["events"]] == sorted(e["seq"] for e in job["events"])


@pytest.mark.parametrize(
    ("setup", "kind", "node_index"),
    [
        ("created", "run_started", 0),
        ("created", "run_finished", 0),
        ("created", "shares_deleted", 0),
        ("created", "result_delivered", 0),
        ("uploading", "run_finished", 0),
        ("running", "run_started", 0),  # once per node
        ("running", "upload_received", 1),  # node-b has started
        ("running", "shares_deleted", 1),
        ("running", "run_finished", 2),  # node-c has not started
    ],
)
def test_illegal_transitions_are_409(
    client: TestClient, setup: str, kind: str, node_index: int
) -> None:
    job_id = approved_job(client)
    if setup in ("uploading", "running"):
        job_event(
            client, job_id, NODES[0], "upload_received", {"owner": "malmo", "table": "bistand"}
        )
    if setup == "running":
        for node in NODES[:2]:
            assert job_event(client, job_id, node, "run_started").status_code == 200
    before = client.get(f"/jobs/{job_id}").json()
    details = {"owner": "malmo", "table": "bistand"} if kind == "upload_received" else None
    response = job_event(client, job_id, NODES[node_index], kind, details)
    assert response.status_code == 409, response.text
    assert is_one_line(response)
    after = client.get(f"/jobs/{job_id}").json()
    assert after["state"] == before["state"] == setup
    assert len(after["events"]) == len(before["events"])


def test_failure_and_deletion(client: TestClient) -> None:
    job_id = approved_job(client)
    job_event(client, job_id, NODES[0], "upload_received", {"owner": "malmo", "table": "bistand"})
    for node in NODES:
        job_event(client, job_id, node, "run_started")
    error = "förlorade kontakten med node-c – tidsgräns"
    response = job_event(client, job_id, NODES[1], "run_failed", {"error": error})
    assert response.json()["state"] == "failed"
    assert client.get(f"/jobs/{job_id}").json()["events"][-1]["details"] == {"error": error}
    assert job_event(client, job_id, NODES[2], "run_failed").json()["state"] == "failed"
    assert job_event(client, job_id, NODES[0], "run_finished").status_code == 409
    for i, node in enumerate(NODES):
        assert client.get(f"/jobs/{job_id}").json()["deleted_by"] == sorted(NODE_IDS)[:i]
        last = job_event(client, job_id, node, "shares_deleted")
    assert last.json()["state"] == "failed"  # the outcome stays; deletion is its own fact
    assert client.get(f"/jobs/{job_id}").json()["deleted_by"] == sorted(NODE_IDS)
    assert job_event(client, job_id, NODES[0], "shares_deleted").status_code == 409
    assert client.get("/audit/verify").json()["ok"] is True
    # Running the plan again works: a new job of the same approved plan.
    again = create_job(client)
    assert again.status_code == 201
    assert again.json()["job_id"] != job_id


def test_cancel_by_a_party_and_node_refusal(client: TestClient) -> None:
    job_id = approved_job(client)
    assert job_event(client, job_id, OUTSIDER, "job_cancelled").status_code == 403
    assert job_event(client, job_id, MALMO, "job_cancelled").json()["state"] == "failed"
    other = approved_job(client)
    response = job_event(client, other, NODES[2], "plan_rejected", {"reason": "stale approval"})
    assert response.json()["state"] == "failed"


def test_node_events_only_from_nodes(client: TestClient) -> None:
    job_id = approved_job(client)
    for keys in (FK, OUTSIDER):
        response = job_event(
            client, job_id, keys, "upload_received", {"owner": "malmo", "table": "bistand"}
        )
        assert response.status_code == 403
        assert "only a compute node signs upload_received" in response.json()["detail"]
    assert job_event(client, job_id, STRANGER, "upload_received").status_code == 403
    # A node's report of an upload by someone who owns no table of the plan.
    response = job_event(
        client, job_id, NODES[0], "upload_received", {"owner": "outsider", "table": "bistand"}
    )
    assert response.status_code == 403
    assert "'outsider' owns no table of the plan" in response.json()["detail"]
    run_to_finished(client, job_id)
    assert job_event(client, job_id, MALMO, "result_received").status_code == 403


def test_event_for_another_job_or_of_a_plan_kind_is_400(client: TestClient) -> None:
    job_id = approved_job(client)
    other = create_job(client).json()["job_id"]
    event = signed(client, NODES[0], "upload_received", other, {})
    assert client.put(f"/jobs/{job_id}/events", json=event).status_code == 400
    event = signed(client, FK, "plan_approved", job_id, {"plan_digest": DIGEST})
    assert client.put(f"/jobs/{job_id}/events", json=event).status_code == 400


def test_the_node_list_is_mandatory(database_url: str) -> None:
    """Finding 8 of issue 11: no organisation is ever inferred to be a node."""
    with pytest.raises(TypeError):
        create_app(database_url, REGISTRY)  # type: ignore[call-arg]
    for nodes in ([], NODE_IDS[:2], [*NODE_IDS[:2], NODE_IDS[0]], [*NODE_IDS, "outsider"]):
        with pytest.raises(ValueError, match="3 distinct compute nodes"):
            create_app(database_url, REGISTRY, nodes=nodes)


def test_a_registered_outsider_is_never_a_node(client: TestClient) -> None:
    job_id = approved_job(client)
    for kind in ("upload_received", "run_failed", "plan_rejected"):
        response = job_event(client, job_id, OUTSIDER, kind, {"reason": "x"})
        assert response.status_code == 403, kind
    run_to_finished(client, job_id)
    assert post_result(client, job_id, OUTSIDER, "fk", b"blob").status_code == 403
    assert client.get(f"/jobs/{job_id}").json()["state"] == "finished"
    assert client.get("/health").json()["nodes"] == sorted(NODE_IDS)


def test_sealed_results_are_relayed_and_only_the_recipient_opens_them(
    client: TestClient,
) -> None:
    job_id = approved_job(client)
    blobs = {
        node.org_id: seal(FK.public(), f"share of {node.org_id}".encode(), job_id.encode())
        for node in NODES
    }
    too_early = post_result(client, job_id, NODES[0], "fk", blobs["node-a"])
    assert too_early.status_code == 409
    run_to_finished(client, job_id)
    for node in NODES:
        response = post_result(client, job_id, node, "fk", blobs[node.org_id])
        assert response.status_code == 201, response.text
        meta = response.json()
        assert meta["sha256"] == hashlib.sha256(blobs[node.org_id]).hexdigest()
        assert (meta["chunk"], meta["chunks"]) == (0, 1)
    assert post_result(client, job_id, NODES[0], "fk", blobs["node-a"]).status_code == 200
    assert post_result(client, job_id, NODES[0], "fk", blobs["node-b"]).status_code == 409

    got = {}
    for node in NODES:
        raw = client.get(f"/jobs/{job_id}/results/fk/{node.org_id}/0")
        assert raw.status_code == 200
        assert raw.headers["content-type"] == "application/octet-stream"
        assert raw.content == blobs[node.org_id]
        assert raw.headers[RESULT_HEADER] == result_id_of(node)
        assert raw.headers[COUNT_HEADER] == "1"
        verify_result(
            REGISTRY,
            job_id,
            "fk",
            node.org_id,
            raw.content,
            decode_b64(raw.headers[SIGNATURE_HEADER]),
            result_id=result_id_of(node),
            index=0,
            count=1,
        )
        got[node.org_id] = open_sealed(FK, raw.content, job_id.encode())
    assert got == {n.org_id: f"share of {n.org_id}".encode() for n in NODES}
    results = client.get(f"/jobs/{job_id}").json()["results"]
    assert [(r["sender"], r["chunks"], r["received"], r["complete"]) for r in results] == [
        (n.org_id, 1, 1, True) for n in NODES
    ]

    # The recipient confirms receipt: the coordinator drops its copies.
    assert job_event(client, job_id, FK, "result_received").status_code == 200
    assert client.get(f"/jobs/{job_id}").json()["results"] == []
    assert client.get(f"/jobs/{job_id}/results/fk/node-b/0").status_code == 404


def test_a_result_of_several_chunks_is_relayed_in_any_order(client: TestClient) -> None:
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    node = NODES[0]
    pieces = [b"chunk zero", b"chunk one!", b"two"]
    for index in (2, 0):
        response = post_result(client, job_id, node, "fk", pieces[index], index=index, count=3)
        assert response.status_code == 201, response.text
    (summary,) = client.get(f"/jobs/{job_id}").json()["results"]
    assert (summary["chunks"], summary["received"], summary["complete"]) == (3, 2, False)
    assert summary["size"] == len(pieces[0]) + len(pieces[2])
    # A chunk of another result (other id or count) is refused: one result per node.
    other = post_result(
        client, job_id, node, "fk", pieces[1], index=1, count=3, result_id="ab" * 16
    )
    assert other.status_code == 409
    assert "another result" in other.json()["detail"]
    assert post_result(client, job_id, node, "fk", pieces[1], index=1, count=4).status_code == 409
    rid = result_id_of(node)
    outside = sign_result(node, job_id, "fk", pieces[1], result_id=rid, index=0, count=3)
    beyond = client.post(
        f"/jobs/{job_id}/results/fk/3", content=pieces[1], headers=outside, auth=auth(node)
    )
    assert beyond.status_code == 400  # chunk 3 of 3 does not exist
    assert post_result(client, job_id, node, "fk", pieces[1], index=1, count=3).status_code == 201
    assert post_result(client, job_id, node, "fk", pieces[1], index=1, count=3).status_code == 200
    (summary,) = client.get(f"/jobs/{job_id}").json()["results"]
    assert (summary["received"], summary["complete"]) == (3, True)
    for index, piece in enumerate(pieces):
        raw = client.get(f"/jobs/{job_id}/results/fk/node-a/{index}")
        assert raw.content == piece
    assert client.get(f"/jobs/{job_id}/results/fk/node-a/3").status_code == 404
    # Served to the recipient only.
    denied = client.get(f"/jobs/{job_id}/results/fk/node-a/0", auth=auth(MALMO))
    assert denied.status_code == 403


def test_result_relay_refusals(client: TestClient) -> None:
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    blob = b"\x00opaque ciphertext"
    assert post_result(client, job_id, NODES[0], "malmo", blob).status_code == 404
    assert post_result(client, job_id, OUTSIDER, "fk", blob).status_code == 403
    rid = result_id_of(NODES[0])
    headers = sign_result(NODES[0], job_id, "fk", blob, result_id=rid, index=0, count=1)
    path = f"/jobs/{job_id}/results/fk/0"
    as_node = auth(NODES[0])
    response = client.post(path, content=blob + b"x", headers=headers, auth=as_node)
    assert response.status_code == 403
    assert is_one_line(response)
    # signed for another place: chunk 0 of 2 posted as chunk 1, or as the only chunk
    moved = sign_result(NODES[0], job_id, "fk", blob, result_id=rid, index=0, count=2)
    second = client.post(f"/jobs/{job_id}/results/fk/1", content=blob, headers=moved, auth=as_node)
    assert second.status_code == 403
    only = client.post(path, content=blob, headers={**moved, COUNT_HEADER: "1"}, auth=as_node)
    assert only.status_code == 403
    headers["X-Tyst-Signature"] = "%%%"
    response = client.post(path, content=blob, headers=headers, auth=as_node)
    assert response.status_code == 400
    response = client.post(path, content=blob, auth=as_node)
    assert response.status_code == 422
    assert is_one_line(response)
    assert client.get(f"/jobs/{job_id}/results/malmo/node-a/0").status_code == 404
    # A registered organisation cannot post in a node's name (refused before the body).
    genuine = sign_result(NODES[0], job_id, "fk", blob, result_id=rid, index=0, count=1)
    impostor = client.post(path, content=blob, headers=genuine)  # signed by FK
    assert impostor.status_code == 403
    assert "posted by its sender" in impostor.json()["detail"]


def test_result_size_limit(make_app: Callable[..., FastAPI]) -> None:
    with signing(TestClient(make_app(max_result_bytes=4000))) as client:
        job_id = approved_job(client)
        run_to_finished(client, job_id)
        assert post_result(client, job_id, NODES[0], "fk", b"x" * 4000).status_code == 201
        response = post_result(client, job_id, NODES[1], "fk", b"x" * 4001)
        assert response.status_code == 413
        assert is_one_line(response)
        # The limit is on the sum of a result's chunks.
        for index in range(2):
            ok = post_result(client, job_id, NODES[1], "fk", b"y" * 1500, index=index, count=3)
            assert ok.status_code == 201
        past = post_result(client, job_id, NODES[1], "fk", b"y" * 1001, index=2, count=3)
        assert past.status_code == 413
        assert "max_result_bytes" in past.json()["detail"]
        # A count no result within the limit can have is refused at once.
        many = post_result(client, job_id, NODES[2], "fk", b"z", index=0, count=10**6)
        assert many.status_code == 413


def test_nodes_that_start_and_finish_at_different_times(client: TestClient) -> None:
    """A node starts as soon as it holds every table, while another still reports its
    uploads; a node deletes right after delivering, while another still runs."""
    job_id = approved_job(client)
    job_event(client, job_id, NODES[0], "upload_received", {"owner": "malmo", "table": "bistand"})
    assert job_event(client, job_id, NODES[0], "run_started").json()["state"] == "running"
    late = job_event(
        client, job_id, NODES[1], "upload_received", {"owner": "malmo", "table": "bistand"}
    )
    assert late.status_code == 200, late.text
    assert late.json()["state"] == "running"
    for node in NODES[1:]:
        job_event(client, job_id, node, "run_started")
    assert job_event(client, job_id, NODES[0], "run_finished").json()["state"] == "running"
    early = job_event(client, job_id, NODES[0], "shares_deleted", {"files": 2})
    assert early.status_code == 200, early.text
    assert early.json()["state"] == "running"
    for node in NODES[1:]:
        job_event(client, job_id, node, "run_finished")
    assert job_event(client, job_id, NODES[1], "shares_deleted").json()["state"] == "finished"
    assert job_event(client, job_id, NODES[2], "shares_deleted").json()["state"] == "delivered"


def test_a_node_that_cannot_deliver_fails_a_finished_job(client: TestClient) -> None:
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    failed = job_event(client, job_id, NODES[0], "run_failed", {"message": "could not relay"})
    assert failed.status_code == 200, failed.text
    assert failed.json()["state"] == "failed"
    for node in NODES:
        last = job_event(client, job_id, node, "shares_deleted")
    assert last.json()["state"] == "failed"


def test_result_received_carries_no_true_row_count(client: TestClient) -> None:
    """Finding 1 of issue 11: only the padded length may be published."""
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    response = job_event(client, job_id, FK, "result_received", {"rows": 3})
    assert response.status_code == 400
    assert is_one_line(response)
    assert "padded_rows" in response.json()["detail"]
    response = job_event(client, job_id, FK, "result_received", {"padded_rows": 16})
    assert response.status_code == 200, response.text
    events = client.get(f"/jobs/{job_id}").json()["events"]
    assert [e["details"] for e in events if e["kind"] == "result_received"] == [{"padded_rows": 16}]
    assert b'"rows"' not in client.get("/audit").content


def _stored_blobs(client: TestClient, job_id: str) -> int:
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    import sqlalchemy as sa

    from tyst.coordinator.db import ResultChunkRow

    with ledger.database.session() as session:
        rows = session.scalars(sa.select(ResultChunkRow).where(ResultChunkRow.job_id == job_id))
        return len(rows.all())


def test_a_failed_jobs_sealed_blobs_are_deleted(client: TestClient) -> None:
    """Finding 18 of issue 11: blobs of failed jobs do not stay in the database."""
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    for node in NODES:
        assert post_result(client, job_id, node, "fk", node.org_id.encode()).status_code == 201
    assert _stored_blobs(client, job_id) == 3
    # A node could not deliver: the job fails for everyone and its blobs go.
    response = job_event(client, job_id, NODES[2], "run_failed", {"reason": "relay failed"})
    assert response.json()["state"] == "failed"
    assert _stored_blobs(client, job_id) == 0
    assert client.get(f"/jobs/{job_id}").json()["results"] == []
    assert client.get(f"/jobs/{job_id}/results/fk/node-a/0").status_code == 404
    assert post_result(client, job_id, NODES[0], "fk", b"node-a").status_code == 409
    for node in NODES:
        job_event(client, job_id, node, "shares_deleted", {"files": 0})
    assert client.get(f"/jobs/{job_id}").json()["state"] == "failed"
    assert _stored_blobs(client, job_id) == 0


def test_a_job_failing_mid_run_drops_the_blobs_already_posted(client: TestClient) -> None:
    job_id = approved_job(client)
    for node in NODES:
        job_event(client, job_id, node, "upload_received", {"owner": "malmo", "table": "bistand"})
        job_event(client, job_id, node, "run_started")
    job_event(client, job_id, NODES[0], "run_finished")
    assert post_result(client, job_id, NODES[0], "fk", b"early").status_code == 201
    assert _stored_blobs(client, job_id) == 1
    response = job_event(client, job_id, NODES[1], "run_failed", {"reason": "peer silent"})
    assert response.json()["state"] == "failed"
    assert _stored_blobs(client, job_id) == 0


def test_a_finished_jobs_blobs_outlive_the_deletion_receipts(client: TestClient) -> None:
    """The nodes' receipts do not drop the blobs: they are the recipient's only copy."""
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    for node in NODES:
        post_result(client, job_id, node, "fk", node.org_id.encode())
        job_event(client, job_id, node, "shares_deleted", {"files": 2})
    assert client.get(f"/jobs/{job_id}").json()["state"] == "delivered"
    assert _stored_blobs(client, job_id) == 3
    assert job_event(client, job_id, FK, "result_received", {"padded_rows": 4}).status_code == 200
    assert _stored_blobs(client, job_id) == 0


def test_padded_rows_must_be_what_the_nodes_reported(client: TestClient) -> None:
    """A recipient's padded_rows cannot carry anything but the nodes' padded length."""
    job_id = approved_job(client)
    for node in NODES:
        job_event(client, job_id, node, "upload_received", {"owner": "malmo", "table": "bistand"})
        job_event(client, job_id, node, "run_started")
    for node in NODES:
        job_event(client, job_id, node, "run_finished", {"result_rows": 16})
    response = job_event(client, job_id, FK, "result_received", {"padded_rows": 3})
    assert response.status_code == 400
    assert "padded length the nodes reported" in response.json()["detail"]
    assert job_event(client, job_id, FK, "result_received", {"padded_rows": 16}).status_code == 200


def test_a_redelivered_event_is_recorded_once(client: TestClient) -> None:
    """A node that resends an event (same event id, drafted and signed afresh, as its outbox
    does after a lost answer) is acknowledged with the first one; nothing is appended, not
    even where the event would now be an illegal transition."""
    job_id = approved_job(client)
    job_event(client, job_id, NODES[0], "upload_received", {"owner": "malmo", "table": "bistand"})
    started = {"tables": 2, EVENT_ID: new_event_id()}
    first = job_event(client, job_id, NODES[0], "run_started", started)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    length = len(client.get("/audit").text.splitlines())
    again = job_event(client, job_id, NODES[0], "run_started", started)
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
    assert len(client.get("/audit").text.splitlines()) == length
    # the same id for another fact is refused; another node's event with the id is its own
    other = job_event(client, job_id, NODES[0], "run_failed", {EVENT_ID: started[EVENT_ID]})
    assert other.status_code == 409
    assert "already used event id" in other.json()["detail"]
    assert job_event(client, job_id, NODES[1], "run_started", started).json()["duplicate"] is False
    bad = job_event(client, job_id, NODES[2], "run_started", {EVENT_ID: "not-hex"})
    assert bad.status_code == 400
    kinds = [e["kind"] for e in client.get(f"/jobs/{job_id}").json()["events"]]
    assert kinds == ["job_created", "upload_received", "run_started", "run_started"]


def test_a_party_cancels_a_running_job_with_its_reason(client: TestClient) -> None:
    job_id = approved_job(client)
    job_event(client, job_id, NODES[0], "upload_received", {"owner": "malmo", "table": "bistand"})
    for node in NODES:
        job_event(client, job_id, node, "run_started")
    assert job_event(client, job_id, OUTSIDER, "job_cancelled").status_code == 403
    response = job_event(client, job_id, FK, "job_cancelled", {"reason": "node-c hangs"})
    assert response.json()["state"] == "failed"
    job = client.get(f"/jobs/{job_id}").json()
    assert job["reason"] == "cancelled by fk: node-c hangs"
    # the nodes' receipts are still taken; a late run_finished is not
    assert job_event(client, job_id, NODES[0], "run_finished").status_code == 409
    assert job_event(client, job_id, NODES[0], "run_failed", {"message": "stopped"}).is_success
    assert job_event(client, job_id, NODES[0], "shares_deleted", {"reason": "cancelled"}).is_success
    assert client.get(f"/jobs/{job_id}").json()["reason"] == "cancelled by fk: node-c hangs"


def test_a_running_job_without_progress_times_out(make_app: Callable[..., FastAPI]) -> None:
    with signing(TestClient(make_app(run_timeout=1))) as client:
        job_id = approved_job(client)
        run_to_finished(client, job_id)  # a finished job never times out
        stuck = approved_job(client)
        job_event(client, stuck, NODES[0], "upload_received", {"owner": "fk", "table": "x"})
        job_event(client, stuck, NODES[0], "run_started")
        assert client.get(f"/jobs/{stuck}").json()["state"] == "running"
        time.sleep(1.2)
        job = client.get(f"/jobs/{stuck}").json()
        assert job["state"] == "failed"
        assert job["reason"].startswith("timed out: no progress for 1 s while running")
        assert job_event(client, stuck, NODES[1], "run_started").status_code == 409
        assert job_event(client, stuck, NODES[0], "shares_deleted", {"files": 1}).is_success
        assert client.get(f"/jobs/{job_id}").json()["state"] == "finished"


def test_a_job_outliving_its_plans_retention_times_out(make_app: Callable[..., FastAPI]) -> None:
    app = make_app()
    with signing(TestClient(app)) as client:
        job_id = approved_job(client)
        job_event(client, job_id, NODES[0], "upload_received", {"owner": "fk", "table": "x"})
        job_event(client, job_id, NODES[0], "run_started")  # running: no open-job timeout
        ledger = app.state.ledger
        with ledger.database.session() as session, session.begin():
            row = session.get(JobRow, job_id)
            old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30, minutes=1)
            row.created_at = format_utc(old)
        job = client.get(f"/jobs/{job_id}").json()
        assert job["state"] == "failed"
        assert job["reason"] == (
            "timed out: the plan's retention_days (30) passed before the job completed"
        )
