"""Finding 19 of issue 11: every request to the coordinator but ``GET /health`` is signed
by a registered organisation, and reads show each organisation only what it may see.

Black box: a real coordinator process (``tyst coordinator serve``, the module fixture of
:mod:`tests.coordinator.test_result_post_http`) over real HTTP. Unsigned reads of a plan,
a job, the audit log, a result blob and the OpenAPI schema are 401; so are a signature by
an unregistered key, under another organisation's name, a stale or future time, a replay,
a tampered path, query or body. A registered organisation that is no party of the plan
finds neither the plan nor its job (404) and gets no audit log (403); a sealed blob is
served to its recipient only.
"""

from __future__ import annotations

import datetime as _dt
import json
import socket
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    MALMO,
    NODES,
    OUTSIDER,
    PLAN,
    STRANGER,
    approved_job,
    auth,
    post_result,
    run_to_finished,
    signing,
    submitted_details,
)
from tests.coordinator.test_result_post_http import coordinator  # noqa: F401 - fixture
from tyst.api.http import ApiError, CoordinatorClient
from tyst.coordinator.auth import ReplayCache
from tyst.coordinator.protocol import (
    NONCE_HEADER,
    ORG_HEADER,
    REQUEST_HEADERS,
    REQUEST_SIGNATURE_HEADER,
    plan_audit_job,
    sign_request,
)
from tyst.service.audit import sign_event
from tyst.service.keys import OrgKeys


@pytest.fixture(scope="module")
def job(coordinator: tuple[str, int]) -> str:  # noqa: F811
    """A finished job of PLAN with node-a's sealed blob for fk waiting."""
    with signing(httpx.Client(base_url=coordinator[0], timeout=30)) as http:
        job_id = approved_job(cast(TestClient, http))
        run_to_finished(cast(TestClient, http), job_id)
        response = post_result(cast(TestClient, http), job_id, NODES[0], "fk", b"sealed")
        assert response.status_code == 201, response.text
    return job_id


@pytest.fixture
def raw(coordinator: tuple[str, int]) -> Iterator[httpx.Client]:  # noqa: F811
    """A client that signs nothing by itself."""
    with httpx.Client(base_url=coordinator[0], timeout=30) as client:
        yield client


def _reads(job: str) -> list[str]:
    return [
        f"/plans/{DIGEST}",
        "/plans",
        f"/jobs/{job}",
        "/audit",
        "/audit/head",
        "/audit/verify",
        f"/jobs/{job}/results/fk/node-a/0",
        "/openapi.json",
        "/no/such/route",
    ]


def _refused(response: httpx.Response, status: int = 401, words: str = "") -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail
    assert "\n" not in detail
    assert words in detail, detail
    if status == 401:
        assert response.headers["www-authenticate"] == "Tyst-Signature"


def _get(raw: httpx.Client, path: str, keys: OrgKeys, **signing_options: Any) -> httpx.Response:
    headers = sign_request(keys, "GET", path, **signing_options)
    return raw.get(path, headers=headers)


def test_unsigned_requests_are_401(raw: httpx.Client, job: str) -> None:
    for path in _reads(job):
        _refused(raw.get(path), 401, "unauthenticated")
    # Before any body is parsed: a malformed unsigned write is 401, not 422.
    _refused(raw.post("/plans", content=b"not json"), 401, "unauthenticated")
    _refused(raw.put(f"/jobs/{job}/events", json={}), 401, "unauthenticated")
    # Some headers only.
    partial = {
        k: v for k, v in sign_request(FK, "GET", f"/jobs/{job}").items() if k != NONCE_HEADER
    }
    _refused(raw.get(f"/jobs/{job}", headers=partial), 401, NONCE_HEADER)
    health = raw.get("/health")
    assert health.status_code == 200
    assert set(health.json()) == {
        "status",
        "schema_revision",
        "registry_fingerprint",
        "nodes",
        "max_result_bytes",  # public: the nodes refuse a run whose result would pass it
    }


def _head_only(url: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """Send a POST's head declaring a 1 GB body, never the body; the status and detail."""
    port = int(url.rsplit(":", 1)[1])
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Length: 1000000000"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"}" not in data:  # times out (the test fails) if the server waits for the body
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["detail"]


def test_no_body_byte_is_read_before_the_request_is_authenticated(
    coordinator: tuple[str, int],  # noqa: F811
) -> None:
    url, _ = coordinator
    for path in ("/plans", f"/plans/{DIGEST}/approvals", f"/jobs/job-{'0' * 32}/results/fk"):
        status, detail = _head_only(url, path, {"Content-Type": "application/json"})
        assert status == 401, detail
        assert "unauthenticated" in detail
    # Signed, a JSON body above the bound is refused from its head (413), not read.
    signed = sign_request(FK, "POST", "/plans", body_sha256="0" * 64)
    status, detail = _head_only(url, "/plans", signed)
    assert status == 413, detail


def test_signed_reads_by_a_party_are_answered(raw: httpx.Client, job: str) -> None:
    for path in _reads(job)[:-1]:
        response = raw.get(path, auth=auth(FK))
        assert response.status_code == 200, (path, response.text)
    assert raw.get("/no/such/route", auth=auth(FK)).status_code == 404


def test_invalid_signatures_are_401(raw: httpx.Client, job: str) -> None:
    path = f"/jobs/{job}"
    _refused(_get(raw, path, STRANGER), 401, "not a registered organisation")
    now = _dt.datetime.now(_dt.UTC)
    _refused(_get(raw, path, FK, now=now - _dt.timedelta(minutes=6)), 401, "more than 300 s")
    _refused(_get(raw, path, FK, now=now + _dt.timedelta(minutes=6)), 401, "more than 300 s")
    assert _get(raw, path, FK, now=now - _dt.timedelta(minutes=4)).status_code == 200
    # Another organisation's key under fk's name.
    forged = {**sign_request(MALMO, "GET", path), ORG_HEADER: "fk"}
    _refused(raw.get(path, headers=forged), 401, "does not verify")
    garbage = {**sign_request(FK, "GET", path), REQUEST_SIGNATURE_HEADER: "%%%"}
    _refused(raw.get(path, headers=garbage), 401, "does not verify")
    # A replay of a valid request, even within the window.
    headers = sign_request(FK, "GET", path)
    assert raw.get(path, headers=headers).status_code == 200
    _refused(raw.get(path, headers=headers), 401, "replay")
    # The signature binds the method, the path, the query and the body.
    other = f"/jobs/job-{'0' * 32}"
    _refused(raw.get(path, headers=sign_request(FK, "GET", other)), 401, "does not verify")
    _refused(raw.get(f"{path}?x=1", headers=sign_request(FK, "GET", path)), 401, "does not verify")
    assert raw.head(path, headers=sign_request(FK, "GET", path)).status_code == 401
    body = json.dumps({"actor": "fk", "kind": "plan_submitted", "job": plan_audit_job(DIGEST)})
    wrong = sign_request(FK, "POST", "/audit/drafts", b"{}")
    _refused(raw.post("/audit/drafts", content=body, headers=wrong), 401, "body")
    right = sign_request(FK, "POST", "/audit/drafts", body.encode())
    response = raw.post(
        "/audit/drafts", content=body, headers={**right, "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text


def test_a_result_post_whose_body_differs_from_the_signed_hash_is_401(
    raw: httpx.Client, job: str
) -> None:
    from tyst.coordinator.protocol import sign_result

    blob = b"the blob node-b sealed"
    path = f"/jobs/{job}/results/fk/0"
    headers = {
        **sign_result(NODES[1], job, "fk", blob, result_id="cd" * 16, index=0, count=1),
        **sign_request(NODES[1], "POST", path, b"other bytes"),
        "content-type": "application/octet-stream",
    }
    _refused(raw.post(path, content=blob, headers=headers), 401, "body")
    senders = [r["sender"] for r in raw.get(f"/jobs/{job}", auth=auth(FK)).json()["results"]]
    assert senders == ["node-a"]  # nothing stored


def test_an_organisation_that_is_no_party_sees_nothing_of_the_plan(
    raw: httpx.Client, job: str
) -> None:
    outsider = auth(OUTSIDER)
    for path in (f"/plans/{DIGEST}", f"/jobs/{job}", f"/jobs/{job}/results/fk/node-a/0"):
        _refused(raw.get(path, auth=outsider), 404, "no ")
    unknown = raw.get(f"/jobs/job-{'0' * 32}", auth=outsider)
    assert unknown.status_code == 404  # the same answer as for a job that does not exist
    assert raw.get("/plans", auth=outsider).json() == []
    _refused(raw.get("/audit", auth=outsider), 403, "no party of any plan")
    _refused(raw.get("/audit/verify", auth=outsider), 403)
    # Resubmitting the plan's text does not tell it whether the plan exists.
    details = submitted_details()
    head = raw.get("/audit/head", auth=outsider).json()
    assert head["n_events"] > 0  # (the head is for every registered organisation)
    event = sign_event(
        OUTSIDER,
        _draft(raw, OUTSIDER, "plan_submitted", plan_audit_job(DIGEST), details),
    ).to_dict()
    response = raw.post("/plans", json={"toml": PLAN, "event": event}, auth=outsider)
    _refused(response, 403, "may not submit")


def _draft(raw: httpx.Client, keys: OrgKeys, kind: str, job: str, details: dict[str, Any]) -> Any:
    from tyst.service.audit import AuditEvent

    answer = raw.post(
        "/audit/drafts",
        json={"actor": keys.org_id, "kind": kind, "job": job, "details": details},
        auth=auth(keys),
    )
    assert answer.status_code == 200, answer.text
    return AuditEvent.from_dict(answer.json())


def test_parties_and_nodes_see_the_plan_and_only_the_recipient_its_blobs(
    raw: httpx.Client, job: str
) -> None:
    for keys in (FK, MALMO, *NODES):
        assert raw.get(f"/plans/{DIGEST}", auth=auth(keys)).status_code == 200
        assert raw.get(f"/jobs/{job}", auth=auth(keys)).status_code == 200
        assert raw.get("/audit", auth=auth(keys)).status_code == 200
        plans = [p["plan_id"] for p in raw.get("/plans", auth=auth(keys)).json()]
        assert DIGEST in plans
    for keys in (MALMO, NODES[0], NODES[1]):
        for path in (f"/jobs/{job}/results/fk/node-a/0", f"/jobs/{job}/results/fk/node-b/0"):
            _refused(raw.get(path, auth=auth(keys)), 403, "only 'fk'")
    blob = raw.get(f"/jobs/{job}/results/fk/node-a/0", auth=auth(FK))
    assert blob.status_code == 200
    assert blob.content == b"sealed"


def test_the_clients_sign_every_request(coordinator: tuple[str, int], job: str) -> None:  # noqa: F811
    url, _ = coordinator
    with CoordinatorClient(url, FK, verify=False) as client:
        assert client.plan(DIGEST)["plan_id"] == DIGEST
        assert client.job(job)["job_id"] == job
        assert client.result_chunk(job, "fk", "node-a", 0).data == b"sealed"
        log = client.audit_jsonl()
        assert log.count(b"\n") == client.json("GET", "/audit/head")["n_events"] > 0
    with (
        CoordinatorClient(url, OUTSIDER, verify=False) as client,
        pytest.raises(ApiError, match="404"),
    ):
        client.job(job)
    with CoordinatorClient(url, None, verify=False) as client:
        assert client.health()["status"] == "ok"
        with pytest.raises(ApiError, match="401 unauthenticated"):
            client.plan(DIGEST)


def test_the_replay_cache_is_bounded_and_forgets_only_expired_requests() -> None:
    now = [1000.0]
    cache = ReplayCache(2, 600, lambda: now[0])
    assert cache.add(b"a") is None
    assert "replay" in str(cache.add(b"a"))
    assert cache.add(b"b") is None
    assert cache.add(b"c") == "full"  # never evicts a live entry (that would let a replay in)
    now[0] += 600
    assert cache.add(b"c") is None
    assert len(cache) == 1
    assert cache.add(b"a") is None  # a is past its window: its time no longer verifies anyway


def test_the_request_headers_are_the_documented_ones() -> None:
    assert set(sign_request(FK, "GET", "/plans")) == set(REQUEST_HEADERS)
