"""The node's upload route over real HTTP (uvicorn on loopback) against a lying coordinator.

Black-box checks of what an outsider can do with one request: the memory it
makes the node buffer (finding 3), the disk it makes the node fill (finding 4),
whether it can take an owner's table slot (finding 5), and whether an aliased
job id becomes a store directory (finding 11).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from tests.examples import ISSUE_PLAN
from tests.node.test_service import (
    FK,
    JOB,
    MALMO,
    LyingCoordinator,
    _both,
    _header,
    _service,
    _stream,
)
from tyst.api.uploads import MAGIC, MAX_CHUNK_BYTES, UploadWriter
from tyst.node.app import create_app
from tyst.node.service import NodeService

MiB = 1 << 20


@dataclass
class Node:
    url: str
    port: int
    service: NodeService
    coordinator: LyingCoordinator


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(service, start=False), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the node did not start"
        time.sleep(0.01)
    try:
        yield Node(f"http://127.0.0.1:{port}", port, service, coordinator)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _put(node: Node, body: object, job: str = JOB, table: str = "bistand") -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.put(
            f"{node.url}/jobs/{job}/tables/{table}",
            content=body,  # type: ignore[arg-type]
            headers={"content-type": "application/octet-stream"},
        )


def _raw_response(node: Node, head: bytes, wait: float = 5.0) -> bytes:
    """Send a request that announces a 1 GiB body but sends only ``head``; read the answer."""
    request = (
        f"PUT /jobs/{JOB}/tables/bistand HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {1 << 30}\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", node.port), timeout=wait) as conn:
        conn.sendall(request + head)
        with contextlib.suppress(TimeoutError):
            while not _whole(answer):
                piece = conn.recv(65536)
                if not piece:
                    break
                answer += piece
    return answer


def _whole(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole HTTP response (headers and Content-Length body)."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def _garbage(total: int, piece: int = MiB) -> Iterator[bytes]:
    block = bytes(piece)
    for _ in range(total // piece):
        yield block


def _signed_start(rows: int = 4) -> bytes:
    return UploadWriter(_header(rows=rows)).start(MALMO)


# ---------------------------------------------------------------- finding 3: bounded memory


@pytest.mark.parametrize(
    "head",
    [
        MAGIC + b"H" + (512 * MiB).to_bytes(8, "little"),
        _signed_start() + b"C" + (512 * MiB).to_bytes(8, "little"),
    ],
    ids=["header-frame", "chunk-frame"],
)
def test_a_512_mib_frame_is_refused_at_once(node: Node, head: bytes) -> None:
    """The node answers 400 from the frame's 9-byte head, without waiting for (or
    allocating) the announced payload (old code: no answer until 512 MiB arrived)."""
    started = time.monotonic()
    answer = _raw_response(node, head)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"too large" in answer
    assert time.monotonic() - started < 5
    assert node.service.store.jobs() == []


def test_an_unauthenticated_stream_does_not_grow_the_nodes_memory(node: Node) -> None:
    """64 MiB sent after a 512 MiB frame head: the node's traced allocations stay bounded
    (old code: the reader buffered all of it, waiting for the frame to complete)."""
    sent = 64 * MiB
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        body = (MAGIC + b"H" + (512 * MiB).to_bytes(8, "little"), *_garbage(sent))
        answer = _put(node, iter(body))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert answer.status_code == 400
    assert peak < 16 * MiB, f"peak traced memory grew by {peak / MiB:.1f} MiB"


def test_a_real_upload_is_buffered_one_bounded_frame_at_a_time(node: Node) -> None:
    rows = 3 * MAX_CHUNK_BYTES // (16 * 3)  # about 12 MiB of shares for the node
    tracemalloc.start()
    try:
        data = _stream(MALMO, rows=rows)
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        answer = _put(node, (data[i : i + 64 * 1024] for i in range(0, len(data), 64 * 1024)))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows"] == rows
    assert peak < 6 * MAX_CHUNK_BYTES, f"peak traced memory grew by {peak / MiB:.1f} MiB"


# ---------------------------------------------------------------- finding 4: bounded disk


def test_an_unsigned_stream_stores_nothing(node: Node) -> None:
    """A header not signed by the owner is refused before one byte is stored."""
    header = _header(rows=10**6)
    writer = UploadWriter(header)
    start = writer.start(FK)  # a registered organisation, not the owner
    rows = 8 * MAX_CHUNK_BYTES // header.row_bytes
    zeros = np.zeros(rows, np.uint64)
    chunks = writer.chunk([(zeros, zeros)] * header.lanes)  # 32 MiB of well-formed chunks
    answer = _put(node, iter((start, chunks)))
    assert answer.status_code == 403
    assert "header refused" in answer.json()["detail"]
    assert node.service.store.jobs() == []
    assert node.coordinator.kinds() == []


def test_a_stream_beyond_its_signed_row_count_is_refused_and_deleted(node: Node) -> None:
    lanes = [(np.zeros(5, np.uint64), np.zeros(5, np.uint64))] * 3
    too_many = UploadWriter(_header(rows=5))
    body = too_many.start(MALMO) + too_many.chunk(lanes)
    header4 = _signed_start(rows=4)  # the owner signed 4 rows; 5 arrive
    answer = _put(node, header4 + body[len(too_many.start(MALMO)) :])
    assert answer.status_code == 400
    assert "more than the header's 4 rows" in answer.json()["detail"]
    assert node.service.store.jobs() == []


def test_a_failed_stream_leaves_no_chunks_on_disk(node: Node) -> None:
    data = bytearray(_stream(MALMO, rows=1000))
    data[len(data) // 2] ^= 1  # the trailer's hash no longer matches
    answer = _put(node, bytes(data))
    assert answer.status_code == 400
    assert "SHA-256" in answer.json()["detail"]
    assert [p.name for p in node.service.store.root.rglob("*")] == ["outbox"]  # empty


# ---------------------------------------------------------------- finding 5: no slot squatting


def test_a_header_only_stream_does_not_block_the_owner(node: Node) -> None:
    """An outsider's header-only stream (old code: it took the slot; the owner got 409)."""
    squat = UploadWriter(_header()).start(FK)
    assert _put(node, squat).status_code in (400, 403)
    answer = _put(node, _stream(MALMO))
    assert answer.status_code == 201, answer.text
    assert node.coordinator.kinds() == ["upload_received"]


def test_an_owners_stalled_stream_is_replaced_by_its_retry(node: Node) -> None:
    """The owner's first stream stops after its header (connection still open); the retry
    succeeds and the stalled stream's partial file is removed."""
    request = (
        f"PUT /jobs/{JOB}/tables/bistand HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {1 << 20}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as stalled:
        stalled.sendall(request + _signed_start())
        deadline = time.monotonic() + 10
        while not list(node.service.store.root.rglob("*.part")):
            assert time.monotonic() < deadline, "the stalled stream never started"
            time.sleep(0.01)
        answer = _put(node, _stream(MALMO))
        assert answer.status_code == 201, answer.text
        assert list(node.service.store.root.rglob("*.part")) == []
        with contextlib.suppress(OSError):
            stalled.sendall(b"C")
    assert node.service.job_view(JOB)["tables"] == {"bistand": 4}


# ---------------------------------------------------------------- finding 11: strict job ids


@pytest.mark.parametrize(
    "path",
    [
        f"/jobs/{JOB}%3F/tables/bistand",
        f"/jobs/{JOB}%23/tables/bistand",
        f"/jobs/{JOB.upper()}/tables/bistand",
        f"/jobs/{JOB}%2e/tables/bistand",
    ],
)
def test_an_aliased_job_id_is_404_and_creates_no_store_directory(node: Node, path: str) -> None:
    with httpx.Client(timeout=30) as client:
        answer = client.put(node.url + path, content=_stream(MALMO))
        assert answer.status_code == 404, answer.text
        assert client.get(node.url + path.split("/tables/")[0]).status_code == 404
    assert [p.name for p in node.service.store.root.iterdir()] == ["outbox"]
    assert node.coordinator.kinds() == []


def test_the_node_serves_no_pages_that_load_outside_scripts(node: Node) -> None:
    with httpx.Client(timeout=30) as client:
        assert client.get(node.url + "/docs").status_code == 404
        assert client.get(node.url + "/redoc").status_code == 404
