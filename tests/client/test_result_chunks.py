"""Issue 13: a result of several chunks reaches its recipient whole, and an untrusted
coordinator cannot drop, repeat, reorder, truncate, mix or alter chunks unnoticed.

Real HTTP: a ``tyst coordinator serve`` process on loopback. The nodes' chunks are
sealed and signed as a node does (:func:`tyst.api.results.seal_chunks`, the node's
:class:`~tyst.api.http.CoordinatorClient`), with a small chunk size so that a result
spans several chunks. The misbehaving coordinator is simulated by editing its
database between the posts and the recipient's fetch
(:func:`tyst.client.recipient.fetch_shares`), which must refuse with one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    FK,
    NODE_IDS,
    NODES,
    REGISTRY,
    approved_job,
    run_to_finished,
    signing,
)
from tests.coordinator.process import serving
from tyst.api.http import ApiError, CoordinatorClient, ResultChunk
from tyst.api.results import ShareArray, encode_result, seal_chunks
from tyst.client.recipient import ResultError, fetch_shares
from tyst.coordinator.protocol import chunk_count, new_result_id

CHUNK = 1000
"""Result bytes per chunk here (the real default is 8 MiB)."""


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A coordinator process on plain HTTP (loopback): its URL and its SQLite file."""
    root = tmp_path_factory.mktemp("coordinator")
    with serving(root) as (url, _):
        yield url, root / "coordinator.db"


def _arrays(party: int, rows: int) -> list[ShareArray]:
    rng = np.random.default_rng(party)

    def words() -> np.ndarray:
        return rng.integers(0, 2**64, size=rows, dtype=np.uint64)

    return [
        ShareArray("lane.0", "arith", words(), words()),
        ShareArray("valid", "bool", words(), words()),
        ShareArray("extras", "arith", words()[:1], words()[:1]),
    ]


def _relayed_job(url: str, rows: int = 200) -> tuple[str, dict[int, list[ShareArray]], int]:
    """A finished job whose three nodes relayed their sealed shares for FK in chunks of
    CHUNK bytes; returns the job, each party's arrays and the chunk count."""
    with signing(httpx.Client(base_url=url, timeout=30)) as http:
        job = approved_job(cast(TestClient, http))
        run_to_finished(cast(TestClient, http), job)
    sent: dict[int, list[ShareArray]] = {}
    count = 0
    for party, node in enumerate(NODES):
        arrays = _arrays(party, rows)
        payload = encode_result(job, party, arrays)
        count = chunk_count(len(payload), CHUNK)
        result_id = new_result_id()
        chunks = seal_chunks(
            FK.public(),
            payload,
            job=job,
            sender=node.org_id,
            party=party,
            result_id=result_id,
            chunk_bytes=CHUNK,
        )
        with CoordinatorClient(url, node, verify=False) as client:
            for index, chunk in enumerate(chunks):
                kwargs = {"result_id": result_id, "index": index, "count": count}
                client.post_result(job, "fk", chunk, **kwargs)
                client.post_result(job, "fk", chunk, **kwargs)  # a redelivery: once
        sent[party] = arrays
    return job, sent, count


def _fetch(url: str, job: str, party: int, announced: int) -> list[ShareArray]:
    with CoordinatorClient(url, FK, verify=False) as client:
        return fetch_shares(client, FK, REGISTRY, job, NODE_IDS[party], party, announced, retry=2.0)


def _same(got: list[ShareArray], sent: list[ShareArray]) -> None:
    assert [(a.name, a.kind) for a in got] == [(a.name, a.kind) for a in sent]
    for a, b in zip(got, sent, strict=True):
        assert np.array_equal(a.first, b.first)
        assert np.array_equal(a.second, b.second)


def test_a_result_of_several_chunks_is_fetched_whole(coordinator: tuple[str, Path]) -> None:
    url, _ = coordinator
    job, sent, count = _relayed_job(url)
    assert count >= 5
    with signing(httpx.Client(base_url=url, timeout=30)) as http:
        summary = http.get(f"/jobs/{job}").json()["results"]
    assert [(r["sender"], r["chunks"], r["received"], r["complete"]) for r in summary] == [
        (node, count, count, True) for node in NODE_IDS
    ]
    for party in range(3):
        _same(_fetch(url, job, party, count), sent[party])


Tamper = Callable[[sqlite3.Connection, str, int], None]


def _drop(db: sqlite3.Connection, job: str, count: int) -> None:
    db.execute(
        "DELETE FROM result_chunks WHERE job_id = ? AND sender = 'node-a' AND chunk = 2", (job,)
    )


def _copy(
    db: sqlite3.Connection, job: str, source: tuple[str, int], target: tuple[str, int]
) -> None:
    """Serve ``source``'s (sender, chunk) bytes and signature at ``target``'s place (under
    the target's result id and count, so that only the signature can tell)."""
    data, signature = db.execute(
        "SELECT data, signature FROM result_chunks WHERE job_id = ? AND sender = ? AND chunk = ?",
        (job, *source),
    ).fetchone()
    db.execute(
        "UPDATE result_chunks SET data = ?, signature = ? "
        "WHERE job_id = ? AND sender = ? AND chunk = ?",
        (data, signature, job, *target),
    )


def _repeat(db: sqlite3.Connection, job: str, count: int) -> None:
    _copy(db, job, ("node-a", 1), ("node-a", 2))


def _reorder(db: sqlite3.Connection, job: str, count: int) -> None:
    rows = {
        chunk: (data, signature)
        for chunk, data, signature in db.execute(
            "SELECT chunk, data, signature FROM result_chunks WHERE job_id = ? "
            "AND sender = 'node-a' AND chunk IN (0, 1)",
            (job,),
        )
    }
    for chunk, other in ((0, 1), (1, 0)):
        db.execute(
            "UPDATE result_chunks SET data = ?, signature = ? "
            "WHERE job_id = ? AND sender = 'node-a' AND chunk = ?",
            (*rows[other], job, chunk),
        )


def _swap_sender(db: sqlite3.Connection, job: str, count: int) -> None:
    _copy(db, job, ("node-b", 1), ("node-a", 1))


def _truncate(db: sqlite3.Connection, job: str, count: int) -> None:
    db.execute(
        "DELETE FROM result_chunks WHERE job_id = ? AND sender = 'node-a' AND chunk = ?",
        (job, count - 1),
    )
    db.execute(
        "UPDATE result_chunks SET chunks = ? WHERE job_id = ? AND sender = 'node-a'",
        (count - 1, job),
    )


def _alter(db: sqlite3.Connection, job: str, count: int) -> None:
    (data,) = db.execute(
        "SELECT data FROM result_chunks WHERE job_id = ? AND sender = 'node-a' AND chunk = 1",
        (job,),
    ).fetchone()
    flipped = bytes([data[0]]) + bytes([data[1] ^ 1]) + data[2:]
    db.execute(
        "UPDATE result_chunks SET data = ? WHERE job_id = ? AND sender = 'node-a' AND chunk = 1",
        (flipped, job),
    )


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (_drop, "chunk 2 of .* is missing"),
        (_repeat, "chunk 2 of .* is not the one 'node-a' signed for this place"),
        (_reorder, "chunk 0 of .* is not the one 'node-a' signed for this place"),
        (_swap_sender, "chunk 1 of .* is not the one 'node-a' signed"),
        (_truncate, "chunk 0 of .* is not the one 'node-a' signed for this place"),
        (_alter, "chunk 1 of .* is not the one 'node-a' signed"),
    ],
    ids=["drop", "repeat", "reorder", "swap-sender", "truncate", "alter"],
)
def test_a_coordinator_that_tampers_with_chunks_is_refused(
    coordinator: tuple[str, Path], tamper: Tamper, words: str
) -> None:
    url, path = coordinator
    job, sent, count = _relayed_job(url, rows=100)
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            tamper(db, job, count)
    finally:
        db.close()
    with pytest.raises(ResultError, match=words) as caught:
        _fetch(url, job, 0, count)
    assert "\n" not in str(caught.value)
    _same(_fetch(url, job, 1, count), sent[1])  # the other nodes' results are untouched


def test_chunks_of_two_results_are_not_mixed(coordinator: tuple[str, Path]) -> None:
    """The coordinator holds two jobs' results from node-a: it cannot serve a chunk of
    one in the other (another job and result id), nor mix two of the node's results."""
    url, path = coordinator
    first, _, count = _relayed_job(url, rows=100)
    second, _, _ = _relayed_job(url, rows=100)
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            data, signature, result_id, chunks = db.execute(
                "SELECT data, signature, result_id, chunks FROM result_chunks "
                "WHERE job_id = ? AND sender = 'node-a' AND chunk = 1",
                (second,),
            ).fetchone()
            # as if node-a had posted both: the second job's chunk 1 under the first's id
            db.execute(
                "UPDATE result_chunks SET data = ?, signature = ?, result_id = ?, chunks = ? "
                "WHERE job_id = ? AND sender = 'node-a' AND chunk = 1",
                (data, signature, result_id, chunks, first),
            )
    finally:
        db.close()
    with pytest.raises(ResultError, match=r"chunk 1 of .* belongs to another result"):
        _fetch(url, first, 0, count)


class _Flaky(CoordinatorClient):
    """A coordinator client whose first request for chunk 2 fails as an unreachable
    coordinator does (a restart): the fetch waits it out and resumes at that chunk."""

    def __init__(self, url: str) -> None:
        super().__init__(url, FK, verify=False)
        self.asked: list[int] = []

    def result_chunk(self, job_id: str, recipient: str, sender: str, index: int) -> ResultChunk:
        self.asked.append(index)
        if self.asked.count(2) == 1 and index == 2:
            raise ApiError("coordinator: connection refused")
        return super().result_chunk(job_id, recipient, sender, index)


def test_a_fetch_resumes_at_the_chunk_a_restart_interrupted(
    coordinator: tuple[str, Path],
) -> None:
    url, _ = coordinator
    job, sent, count = _relayed_job(url, rows=100)
    with _Flaky(url) as client:
        got = fetch_shares(client, FK, REGISTRY, job, NODE_IDS[0], 0, count, retry=10.0)
    _same(got, sent[0])
    assert client.asked == [0, 1, 2, *range(2, count)]  # chunk 2 asked again, no other
