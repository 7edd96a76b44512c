"""Finding 10 of issue 11: only a party of the plan creates jobs (signed ``job_created``),
a plan has at most ``max_open_jobs`` open jobs, open jobs expire, and an owner's client
finds the open job in one request however many jobs the plan has had."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

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
    create_job,
    is_one_line,
    job_event,
    signing,
    submit,
)
from tyst.client.session import Client
from tyst.coordinator.db import JobRow
from tyst.service.signing import format_utc


def _approved(client: TestClient) -> None:
    assert submit(client).status_code == 201
    for owner in (FK, MALMO):
        assert approve_plan(client, owner).status_code == 201


def _n_events(client: TestClient) -> int:
    n: int = client.get("/audit/head").json()["n_events"]
    return n


def test_only_a_party_of_the_plan_creates_a_job(client: TestClient) -> None:
    _approved(client)
    before = _n_events(client)
    for keys in (OUTSIDER, NODES[0]):
        response = create_job(client, keys)
        assert response.status_code == 403, response.text
        assert is_one_line(response)
        assert (
            "only a party of the plan (an owner or a recipient) signs job_created"
            in (response.json()["detail"])
        )
    assert create_job(client, STRANGER).status_code == 403  # not even registered
    assert client.post(f"/plans/{DIGEST}/jobs").status_code == 422  # unsigned
    assert client.post(f"/plans/{DIGEST}/jobs", json={}).status_code == 422
    assert _n_events(client) == before
    assert client.get(f"/plans/{DIGEST}").json()["jobs"] == []
    response = create_job(client, MALMO)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["created"] is True
    events = client.get(f"/jobs/{job['job_id']}").json()["events"]
    assert [(e["actor"], e["kind"]) for e in events] == [("malmo", "job_created")]


def test_a_job_created_event_must_say_what_it_creates(client: TestClient) -> None:
    _approved(client)
    from tests.coordinator.helpers import signed

    bad_id = signed(client, FK, "job_created", "job-1", {"plan_digest": DIGEST})
    assert client.post(f"/plans/{DIGEST}/jobs", json={"event": bad_id}).status_code == 400
    other = signed(client, FK, "job_created", "job-" + "ab" * 16, {"plan_digest": "0" * 64})
    assert client.post(f"/plans/{DIGEST}/jobs", json={"event": other}).status_code == 400
    first = create_job(client, job_id="job-" + "cd" * 16)
    assert first.status_code == 201
    assert job_event(client, first.json()["job_id"], FK, "job_cancelled").status_code == 200
    again = create_job(client, job_id="job-" + "cd" * 16)
    assert again.status_code == 400
    assert "exists already" in again.json()["detail"]


def test_fifty_requests_leave_at_most_the_cap_open(client: TestClient) -> None:
    _approved(client)
    before = _n_events(client)
    answers = [create_job(client, (FK, MALMO)[i % 2]) for i in range(50)]
    assert [a.status_code for a in answers] == [201] * 3 + [200] * 47
    plan = client.get(f"/plans/{DIGEST}").json()
    assert len(plan["jobs"]) == 3
    assert plan["open_jobs"] == plan["jobs"]
    # Every request beyond the cap meets the oldest open job; nothing more is logged.
    assert {a.json()["job_id"] for a in answers[3:]} == {plan["open_jobs"][0]}
    assert all(a.json()["created"] is False for a in answers[3:])
    assert _n_events(client) == before + 3
    # A job that leaves the open states makes room for one more.
    assert job_event(client, plan["open_jobs"][0], FK, "job_cancelled").status_code == 200
    assert create_job(client).status_code == 201
    assert len(client.get(f"/plans/{DIGEST}").json()["open_jobs"]) == 3


def test_the_cap_is_configurable(make_app: Callable[..., FastAPI]) -> None:
    with signing(TestClient(make_app(max_open_jobs=1))) as client:
        _approved(client)
        first = create_job(client).json()["job_id"]
        for _ in range(5):
            answer = create_job(client, MALMO)
            assert answer.status_code == 200
            assert answer.json()["job_id"] == first
        assert client.get(f"/plans/{DIGEST}").json()["jobs"] == [first]


def _age(app: FastAPI, job_id: str, seconds: float) -> None:
    """Pretend ``job_id`` was created ``seconds`` ago."""
    then = format_utc(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds))
    database = app.state.ledger.database
    with database.session() as session, session.begin():
        session.execute(update(JobRow).where(JobRow.id == job_id).values(created_at=then))


def test_an_expired_open_job_is_failed_and_no_longer_offered(
    make_app: Callable[..., FastAPI],
) -> None:
    app = make_app(open_job_timeout=600)
    with signing(TestClient(app)) as client:
        _approved(client)
        stale = create_job(client).json()["job_id"]
        upload = {"owner": "malmo", "table": "bistand"}
        assert job_event(client, stale, NODES[0], "upload_received", upload).status_code == 200
        running = create_job(client).json()["job_id"]
        for node in NODES:
            for owner, table in (("fk", "sjukpenning"), ("malmo", "bistand")):
                details = {"owner": owner, "table": table}
                response = job_event(client, running, node, "upload_received", details)
                assert response.status_code == 200, response.text
            assert job_event(client, running, node, "run_started").status_code == 200
        fresh = create_job(client).json()["job_id"]
        for job in (stale, running):
            _age(app, job, 601)
        plan = client.get(f"/plans/{DIGEST}").json()
        assert plan["open_jobs"] == [fresh]
        assert client.get(f"/jobs/{stale}").json()["state"] == "failed"
        assert client.get(f"/jobs/{running}").json()["state"] == "running"  # not open: kept
        late = job_event(client, stale, NODES[1], "upload_received", upload)
        assert late.status_code == 409
        # The nodes that hold its uploads delete them and sign their receipts.
        for node in NODES:
            assert job_event(client, stale, node, "shares_deleted").status_code == 200
        assert client.get(f"/jobs/{stale}").json()["state"] == "failed"
        assert len(client.get(f"/jobs/{stale}").json()["deleted_by"]) == 3
        # The withdrawn job frees its place; a new request gets a new job.
        assert create_job(client).status_code == 201
        assert client.get("/audit/verify").json()["ok"] is True


def test_an_expired_job_is_withdrawn_when_it_is_read(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(open_job_timeout=60)
    with signing(TestClient(app)) as client:
        _approved(client)
        job = create_job(client).json()["job_id"]
        assert client.get(f"/jobs/{job}").json()["state"] == "created"
        _age(app, job, 61)
        assert client.get(f"/jobs/{job}").json()["state"] == "failed"


class _Counting:
    """Counts the requests a client sends through a TestClient."""

    def __init__(self, inner: TestClient) -> None:
        self.inner = inner
        self.requests: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.requests.append(f"{method} {url}")
        return self.inner.request(method, url, **kwargs)

    def close(self) -> None:
        pass


def _client(test_client: TestClient, keys: Any) -> tuple[Client, _Counting]:
    client = Client(
        keys,
        REGISTRY,
        "http://testserver",
        NODE_IDS,  # type: ignore[arg-type]
        ("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    counting = _Counting(test_client)
    client.coordinator._client = counting  # type: ignore[assignment]
    return client, counting


def test_owners_job_lookups_stay_constant(client: TestClient) -> None:
    _approved(client)
    owner, counting = _client(client, FK)
    other, _ = _client(client, MALMO)
    job = owner.job_for(DIGEST)  # signed creation through the real client code
    assert other.job_for(DIGEST) == job  # the second owner meets it
    counting.requests.clear()
    assert owner.job_for(DIGEST, create=False) == job
    few = len(counting.requests)
    # Forty more jobs come and go (withdrawn); the open one stays the oldest.
    for _ in range(40):
        extra = create_job(client, MALMO).json()["job_id"]
        if extra != job:
            assert job_event(client, extra, MALMO, "job_cancelled").status_code == 200
    assert len(client.get(f"/plans/{DIGEST}").json()["jobs"]) == 41
    counting.requests.clear()
    assert owner.job_for(DIGEST, create=False) == job
    assert len(counting.requests) == few == 1, counting.requests
