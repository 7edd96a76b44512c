"""Finding 6 of issue 11 and issue 13: a result chunk post is bounded and checked before
its body is read.

Black box: a real coordinator process (``tyst coordinator serve``) over real HTTP.
A ``Content-Length`` above one sealed chunk (:data:`MAX_SEALED_CHUNK`) or past the
configured ``max_result_bytes``, an unknown sender or a job not accepting results is
answered before a single body byte is sent; a body longer than a chunk is cut off while
streaming; a forged signature over a large body is refused after hashing the spooled
body, without the coordinator's memory growing by the body.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    KEYS,
    NODES,
    OUTSIDER,
    approved_job,
    auth,
    post_result,
    run_to_finished,
    signing,
)
from tests.coordinator.process import serving
from tyst.coordinator.protocol import (
    EMPTY_SHA256,
    MAX_SEALED_CHUNK,
    sign_request,
    sign_result,
)

LIMIT = 2 * MAX_SEALED_CHUNK + 4096
"""The coordinator's max_result_bytes here: two whole chunks and a bit of a third."""


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A coordinator process on plain HTTP (loopback), relaying results up to LIMIT bytes."""
    root = tmp_path_factory.mktemp("coordinator")
    with serving(root, f"max_result_bytes = {LIMIT}\n") as (url, process):
        yield url, process.pid


@pytest.fixture
def http(coordinator: tuple[str, int]) -> Iterator[TestClient]:
    with httpx.Client(base_url=coordinator[0], timeout=30) as client:
        # The helpers use only the httpx.Client interface; the tests' own requests are FK's.
        yield cast(TestClient, signing(client))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _headers_only(
    url: str, path: str, headers: dict[str, str], *, sign: bool = True
) -> tuple[int, str]:
    """Send a POST's headers but no body; return the status and body of the answer.

    The request is signed by the organisation in ``X-Tyst-Sender`` (a body hash is
    declared, the body never follows) unless ``sign`` is false (``headers`` carry it)."""
    if sign:
        signer = KEYS[headers["X-Tyst-Sender"]]
        headers = {**sign_request(signer, "POST", path, body_sha256=EMPTY_SHA256), **headers}
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{_port(url)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)  # times out (test fails) if the server waits for the body
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _headers(
    node_index: int, job: str, blob: bytes, length: int, index: int = 0, count: int = 1
) -> dict[str, str]:
    rid = f"{node_index:032x}"
    return {
        **sign_result(NODES[node_index], job, "fk", blob, result_id=rid, index=index, count=count),
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
    }


def test_oversized_length_is_refused_before_the_body(
    coordinator: tuple[str, int], http: TestClient
) -> None:
    url, _ = coordinator
    job = approved_job(http)
    run_to_finished(http, job)
    path = f"/jobs/{job}/results/fk/0"
    status, body = _headers_only(url, path, _headers(0, job, b"", 10**12))
    assert status == 413, body
    assert str(MAX_SEALED_CHUNK) in json.loads(body)["detail"]
    status, _ = _headers_only(url, path, _headers(0, job, b"", MAX_SEALED_CHUNK + 1))
    assert status == 413
    # A count no result within max_result_bytes can have is refused just as early.
    status, _ = _headers_only(url, path, _headers(1, job, b"", 10, 0, LIMIT))
    assert status == 413


def test_wrong_sender_or_state_is_refused_before_the_body(
    coordinator: tuple[str, int], http: TestClient
) -> None:
    url, _ = coordinator
    job = approved_job(http)
    length = 8 * 2**20
    headers = _headers(0, job, b"", length)
    path = f"/jobs/{job}/results/fk/0"
    assert _headers_only(url, path, headers)[0] == 409  # no run_finished
    run_to_finished(http, job)
    rid = f"{0:032x}"
    outsider = {
        **headers,
        **sign_result(OUTSIDER, job, "fk", b"", result_id=rid, index=0, count=1),
    }
    assert _headers_only(url, path, outsider)[0] == 403
    assert _headers_only(url, f"/jobs/{job}/results/malmo/0", headers)[0] == 404
    assert _headers_only(url, f"/jobs/job-{'0' * 32}/results/fk/0", headers)[0] == 404
    bad = {**headers, "X-Tyst-Signature": "%%%"}
    assert _headers_only(url, path, bad)[0] == 400
    assert _headers_only(url, path, {**headers, "X-Tyst-Result": "no id"})[0] == 400
    assert _headers_only(url, f"/jobs/{job}/results/fk/1", headers)[0] == 400  # 1 of 1
    # A registered organisation may not post in a node's name (nor make it spool a body).
    signer = KEYS["fk"]
    as_fk = sign_request(signer, "POST", path, body_sha256=EMPTY_SHA256)
    status, body = _headers_only(url, path, {**headers, **as_fk}, sign=False)
    assert status == 403, body
    assert "posted by its sender" in json.loads(body)["detail"]
    assert _headers_only(url, path, {**headers, "Content-Length": "x"})[0] in (400, 422)


def test_a_chunked_body_is_cut_off_at_the_limit(
    coordinator: tuple[str, int], http: TestClient
) -> None:
    url, _ = coordinator
    job = approved_job(http)
    run_to_finished(http, job)
    rid = f"{0:032x}"
    signed = sign_result(NODES[0], job, "fk", b"", result_id=rid, index=0, count=1)
    headers = {**signed, "Transfer-Encoding": "chunked"}
    path = f"/jobs/{job}/results/fk/0"
    headers |= sign_request(NODES[0], "POST", path, body_sha256=EMPTY_SHA256)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{_port(url)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    piece = b"x" * 2**20
    sent = 0
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        try:
            while sent < 4 * MAX_SEALED_CHUNK:
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
                s.setblocking(False)
                try:
                    answer += s.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(10)
        while b"\r\n\r\n" not in answer:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    assert answer.split()[1] == b"413", answer[:200]
    assert sent <= MAX_SEALED_CHUNK + 16 * 2**20  # the server stopped reading near the limit
    assert http.get(f"/jobs/{job}").json()["results"] == []


def test_a_forged_signature_over_a_large_body_is_refused_without_buffering(
    coordinator: tuple[str, int], http: TestClient
) -> None:
    _, pid = coordinator
    job = approved_job(http)
    run_to_finished(http, job)
    assert post_result(http, job, NODES[1], "fk", b"warm-up").status_code == 201
    blob = os.urandom(MAX_SEALED_CHUNK - 1)
    forged = {**_headers(0, job, b"something else", len(blob))}
    before = _peak_rss(pid)
    response = cast(httpx.Client, http).post(
        f"/jobs/{job}/results/fk/0", content=blob, headers=forged, auth=auth(NODES[0])
    )
    after = _peak_rss(pid)
    assert response.status_code == 403, response.text
    growth = after - before
    assert growth < 4 * 2**20, f"the coordinator's peak RSS grew by {growth} bytes"
    results: list[dict[str, Any]] = http.get(f"/jobs/{job}").json()["results"]
    assert [r["sender"] for r in results] == ["node-b"]
    # The genuine post of the same size is stored, and an identical repost is 200.
    assert post_result(http, job, NODES[0], "fk", blob).status_code == 201
    assert post_result(http, job, NODES[0], "fk", blob).status_code == 200
    assert post_result(http, job, NODES[0], "fk", b"other").status_code == 409


def test_a_chunk_past_max_result_bytes_is_refused_before_the_body(
    coordinator: tuple[str, int], http: TestClient
) -> None:
    """(Last: it stores two whole chunks, which raises the peak memory measured above.)"""
    url, _ = coordinator
    job = approved_job(http)
    run_to_finished(http, job)
    # Two whole chunks are held; a third whole one would pass max_result_bytes.
    for index in range(2):
        piece = bytes([index]) * MAX_SEALED_CHUNK
        headers = _headers(2, job, piece, len(piece), index, 3)
        response = cast(httpx.Client, http).post(
            f"/jobs/{job}/results/fk/{index}", content=piece, headers=headers, auth=auth(NODES[2])
        )
        assert response.status_code == 201, response.text
    third = _headers(2, job, b"", MAX_SEALED_CHUNK, 2, 3)
    status, body = _headers_only(url, f"/jobs/{job}/results/fk/2", third)
    assert status == 413, body
    assert "max_result_bytes" in json.loads(body)["detail"]
    summary = http.get(f"/jobs/{job}").json()["results"]
    assert [(r["received"], r["chunks"], r["complete"]) for r in summary] == [(2, 3, False)]
