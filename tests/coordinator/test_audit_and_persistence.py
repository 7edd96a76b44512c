"""The audit log: its export verifies, it is append-only in the database, it survives restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    NODES,
    REGISTRY,
    approve_plan,
    approved_job,
    create_job,
    job_event,
    post_result,
    run_to_finished,
    signing,
    submit,
)
from tyst.coordinator.db import make_engine
from tyst.service.audit import AuditEvent, Head, read_jsonl, role_problem, verify_chain


def _export(client: TestClient, path: Path) -> list[AuditEvent]:
    response = client.get("/audit")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    path.write_bytes(response.content)
    return read_jsonl(path)


def test_exported_log_verifies_after_many_operations(client: TestClient, tmp_path: Path) -> None:
    for _ in range(3):
        job_id = approved_job(client)
        run_to_finished(client, job_id)
        for node in NODES:
            job_event(client, job_id, node, "result_delivered", {"recipient": "fk"})
            job_event(client, job_id, node, "shares_deleted")
    events = _export(client, tmp_path / "audit.jsonl")
    assert len(events) == 3 + 3 * (1 + 6 + 3 + 3 + 3 + 3)
    report = verify_chain(events, REGISTRY)
    assert report.ok, report.first_problem
    assert role_problem(events) is None  # every event signed by a role allowed to sign it
    head = client.get("/audit/head").json()
    assert head == {"n_events": len(events), "hash": events[-1].hash}
    assert verify_chain(events, REGISTRY, expected_head=Head(**head)).ok
    assert client.get("/audit/verify").json()["ok"] is True
    # Each event is signed by its actor, never by the coordinator.
    assert {e.actor for e in events} == {"fk", "malmo", "node-a", "node-b", "node-c"}


def test_tampering_with_the_export_is_detected(client: TestClient, tmp_path: Path) -> None:
    approved_job(client)
    path = tmp_path / "audit.jsonl"
    _export(client, path)
    lines = path.read_text().splitlines()
    doc = json.loads(lines[1])
    doc["details"]["plan_digest"] = "f" * 64
    lines[1] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")
    report = verify_chain(read_jsonl(path), REGISTRY)
    assert not report.ok
    assert report.first_problem is not None
    assert "seq 2" in report.first_problem


def test_audit_table_refuses_update_and_delete(client: TestClient, database_url: str) -> None:
    approved_job(client)
    engine = make_engine(database_url)
    try:
        for statement in (
            "UPDATE audit_events SET actor = 'malmo' WHERE seq = 1",
            "DELETE FROM audit_events WHERE seq = 3",
            "DELETE FROM audit_events",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
        if engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE audit_events CASCADE"))
    finally:
        engine.dispose()
    assert client.get("/audit/verify").json()["ok"] is True
    assert client.get("/audit/head").json()["n_events"] == 4  # submitted, 2 approvals, job_created


def test_everything_survives_a_restart(make_app: Callable[..., FastAPI], tmp_path: Path) -> None:
    first = make_app()
    with signing(TestClient(first)) as client:
        done = approved_job(client)
        run_to_finished(client, done)
        assert post_result(client, done, NODES[0], "fk", b"sealed bytes").status_code == 201
        pending = create_job(client).json()["job_id"]
        job_event(
            client, pending, NODES[1], "upload_received", {"owner": "malmo", "table": "bistand"}
        )
        before_audit = client.get("/audit").content
        before_plan = client.get(f"/plans/{DIGEST}").json()
        before_jobs = {j: client.get(f"/jobs/{j}").json() for j in (done, pending)}
    first.state.ledger.database.dispose()

    second = make_app()
    with signing(TestClient(second)) as client:
        assert client.get("/audit").content == before_audit
        assert client.get(f"/plans/{DIGEST}").json() == before_plan
        for job_id, before in before_jobs.items():
            assert client.get(f"/jobs/{job_id}").json() == before
        assert client.get(f"/jobs/{done}/results/fk/node-a/0").content == b"sealed bytes"
        # The chain continues where it was.
        assert job_event(client, pending, NODES[1], "run_failed").json()["state"] == "failed"
        assert approve_plan(client, FK).status_code == 200  # still idempotent
        assert submit(client).json()["created"] is False
        assert client.get("/audit/verify").json()["ok"] is True
        assert verify_chain(_export(client, tmp_path / "a.jsonl"), REGISTRY).ok


def test_code_has_no_update_or_delete_path_for_audit_events() -> None:
    import tyst.coordinator

    root = Path(tyst.coordinator.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        for forbidden in (
            "update(AuditEventRow",
            "delete(AuditEventRow",
            "UPDATE audit_events",
            "DELETE FROM audit_events",
        ):
            assert forbidden not in text, f"{path}: {forbidden}"


def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    """Finding 16 of issue 11: coordinator.db (and its -wal/-shm) are 0600."""
    import stat

    from tests.coordinator.helpers import NODE_IDS, REGISTRY, approved_job, signing
    from tyst.coordinator.app import create_app

    path = tmp_path / "coordinator.db"
    with signing(TestClient(create_app(f"sqlite:///{path}", REGISTRY, nodes=NODE_IDS))) as client:
        approved_job(client)
        files = sorted(tmp_path.glob("coordinator.db*"))
        assert path in files
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
