"""The coordinator's metrics as the app computes them (SQLite and PostgreSQL): jobs by state,
failures by kind, the audit chain's length, responses by status, relayed chunk sizes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.coordinator.helpers import (
    MALMO,
    NODES,
    approved_job,
    job_event,
    post_result,
    run_to_finished,
)
from tyst.coordinator.metrics import failure_kind


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(client.app.state.metrics.registry).decode()  # type: ignore[attr-defined]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_follow_the_ledger(client: TestClient) -> None:
    first = approved_job(client)
    second = approved_job(client)
    assert job_event(client, second, MALMO, "job_cancelled").json()["state"] == "failed"
    run_to_finished(client, first)
    assert post_result(client, first, NODES[0], "fk", b"x" * 3000).status_code == 201
    assert post_result(client, first, NODES[0], "fk", b"x" * 3000).status_code == 200  # repeat
    third = approved_job(client)
    job_event(client, third, NODES[0], "upload_received", {"owner": "fk", "table": "sjukpenning"})
    job_event(client, third, NODES[0], "run_started")
    assert job_event(client, third, NODES[1], "run_failed", {"error": "x"}).status_code == 200
    assert client.get("/jobs", auth=None).status_code == 401  # unsigned

    m = _samples(client)
    jobs = {labels[0][1]: v for (name, labels), v in m.items() if name == "tyst_coordinator_jobs"}
    assert jobs == {
        "created": 0, "uploading": 0, "running": 0, "finished": 1, "delivered": 0, "failed": 2
    }  # fmt: skip
    failures = {
        labels[0][1]: v
        for (name, labels), v in m.items()
        if name == "tyst_coordinator_job_failures"
    }
    assert failures["cancelled"] == 1
    assert failures["run_failed"] == 1
    assert sum(failures.values()) == 2
    events = client.get("/audit/head").json()["n_events"]
    assert m[("tyst_coordinator_audit_events", ())] == events
    assert m[("tyst_coordinator_audit_events_by_kind", (("kind", "run_started"),))] == 4
    assert m[("tyst_coordinator_http_responses_total", (("code", "401"),))] == 1
    assert m[("tyst_coordinator_result_chunk_bytes_count", ())] == 1  # the repeat is not counted
    assert m[("tyst_coordinator_result_chunk_bytes_sum", ())] == 3000


def test_failure_kinds_of_the_ledgers_reasons() -> None:
    assert failure_kind("cancelled by malmo: an upload did not complete") == "cancelled"
    assert failure_kind("failed by node-b: PeerTimeout") == "run_failed"
    assert failure_kind("timed out: no progress for 60 s while running") == "timed_out"
    assert failure_kind("withdrawn: not every table arrived within 86400 s") == "withdrawn"
    assert failure_kind("refused by node-c: stale approval") == "refused"
    assert failure_kind("something new") == "other"
    assert failure_kind(None) == "other"
