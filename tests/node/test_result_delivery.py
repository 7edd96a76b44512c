"""Issue 13: a node relays a sealed result chunk by chunk from its outbox; a delivery
interrupted at a chunk resumes there (the chunks already acknowledged are not posted
again), and ``result_delivered`` follows the last chunk only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.node.test_service import DIGEST, JOB, LyingCoordinator, _service
from tyst.api.http import ApiError
from tyst.coordinator.protocol import new_result_id


class ChunkCoordinator(LyingCoordinator):
    """Records the chunk posts; unreachable once, at the first post of chunk 2."""

    def __init__(self) -> None:
        super().__init__("", [], DIGEST)
        self.posts: list[tuple[int, int, bytes]] = []
        self.failed = False

    def post_result(
        self, job_id: str, recipient: str, chunk: bytes, *, result_id: str, index: int, count: int
    ) -> dict[str, Any]:
        if index == 2 and not self.failed:
            self.failed = True
            raise ApiError("coordinator: connection refused")  # transient: no status
        self.posts.append((index, count, chunk))
        return {}


def test_an_interrupted_result_resumes_at_its_chunk(tmp_path: Path) -> None:
    coordinator = ChunkCoordinator()
    service = _service(tmp_path, coordinator)
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 4]
    item = service.outbox.put_result(
        JOB, "fk", iter(chunks), {"recipient": "fk"}, result_id=new_result_id(), count=4
    )
    status, why = service.courier.wait(item, 5.0)
    assert status == "pending", why
    assert [i for i, _, _ in coordinator.posts] == [0, 1]
    assert coordinator.kinds() == []  # no result_delivered before every chunk
    assert service.courier.wait(item, 5.0) == ("accepted", "")
    assert [i for i, _, _ in coordinator.posts] == [0, 1, 2, 3]  # 0 and 1 not again
    assert [c for _, _, c in coordinator.posts] == chunks
    assert {n for _, n, _ in coordinator.posts} == {4}
    (kind, details), *_ = coordinator.events
    assert kind == "result_delivered"
    assert (details["chunks"], details["bytes"], details["recipient"]) == (4, 34, "fk")
    assert len(service.outbox) == 0
