"""The node's outbox: durable (0600, atomic, reloaded in order), bounded, delivered in order
with retries until acknowledged, refusals settled once."""

from __future__ import annotations

import hashlib
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tyst.coordinator.protocol import EVENT_ID, is_event_id
from tyst.node.outbox import Courier, Item, Outbox, OutboxFull, Refusal, Retry

JOB = "job-" + "1" * 32
RID = "ab" * 16


def _put(box: Outbox, chunks: list[bytes], details: dict[str, str | int] | None = None) -> Item:
    return box.put_result(JOB, "fk", iter(chunks), details or {}, result_id=RID, count=len(chunks))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_items_are_private_files_reloaded_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    first = box.put_event(JOB, "run_finished", {"milliseconds": 5})
    result = _put(box, [b"sealed", b" bytes", b"!"], {"recipient": "fk"})
    last = box.put_event(JOB, "shares_deleted", {"files": 3, "reason": "delivered"})
    assert is_event_id(first.details[EVENT_ID])
    assert first.details[EVENT_ID] != last.details[EVENT_ID]
    assert _mode(box.root) == 0o700
    files = sorted(box.root.iterdir())
    assert [p.suffix for p in files] == [".json", ".blob", ".json", ".json"]
    assert all(_mode(p) == 0o600 for p in files)
    again = Outbox(tmp_path / "outbox")  # a restarted node
    assert again.pending() == [first, result, last]
    assert [again.chunk(result, i) for i in range(3)] == [b"sealed", b" bytes", b"!"]
    assert (result.chunks, result.chunk_bytes, result.blob_bytes) == (3, 6, 13)
    assert result.details["bytes"] == 13
    assert result.details["chunks"] == 3
    assert result.details["result"] == RID
    assert result.details["sha256"] == hashlib.sha256(b"sealed bytes!").hexdigest()
    assert again.size == 13
    later = again.put_event(JOB, "run_failed", {})
    assert later.name > last.name  # new items stay behind the old ones


def test_damaged_and_half_written_items_are_dropped_at_start(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    kept = box.put_event(JOB, "run_started", {"tables": 2})
    result = _put(box, [b"x" * 10])
    (box.root / f"{result.name}.blob").unlink()  # its blob is gone: the item cannot be sent
    cut = _put(box, [b"y" * 10, b"z" * 3])
    with (box.root / f"{cut.name}.blob").open("r+b") as f:
        f.truncate(11)  # cut short (a disk fault): its last chunk would be wrong
    (box.root / "0000000000000099.json").write_text("{not json")
    (box.root / "0000000000000100.blob").write_bytes(b"leftover")  # no item commits it
    (box.root / "0000000000000101.json.tmp").write_bytes(b"half")  # a crash mid-write
    again = Outbox(tmp_path / "outbox")
    assert again.pending() == [kept]
    assert sorted(p.name for p in again.root.iterdir()) == [f"{kept.name}.json"]


def test_the_bounds_refuse_before_anything_is_written(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox", max_items=2, max_bytes=100)
    _put(box, [b"x" * 30, b"x" * 30])
    with pytest.raises(OutboxFull, match="bytes"):
        _put(box, [b"y" * 20, b"y" * 20, b"y"])
    box.put_event(JOB, "run_failed", {})
    with pytest.raises(OutboxFull, match="items"):
        box.put_event(JOB, "shares_deleted", {})
    assert len(box) == 2
    assert len(list(box.root.iterdir())) == 3  # two items, one blob


def test_delivery_is_in_order_and_retried_until_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    sent: list[str] = []
    down = threading.Event()
    down.set()

    def deliver(item: Item) -> None:
        if down.is_set():
            raise Retry("coordinator: connection refused")
        sent.append(item.kind)

    settled: list[tuple[str, str]] = []
    courier = Courier(box, deliver, lambda i, s: settled.append((i.kind, s)), backoff_max=0.2)
    a = box.put_event(JOB, "run_finished", {})
    b = box.put_event(JOB, "shares_deleted", {})
    assert courier.wait(b, 5.0) == ("pending", "coordinator: connection refused")
    courier.start()
    time.sleep(0.5)  # a few attempts while it is down: nothing is lost
    assert len(box) == 2
    down.clear()
    deadline = time.monotonic() + 10
    while len(box):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    courier.stop()
    assert sent == ["run_finished", "shares_deleted"]
    assert settled == [("run_finished", "accepted"), ("shares_deleted", "accepted")]
    assert courier.wait(a, 1.0) == ("accepted", "")
    assert list(box.root.iterdir()) == []


def test_a_refusal_settles_the_item_and_delivery_goes_on(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    sent: list[str] = []

    def deliver(item: Item) -> None:
        if item.kind == "result_delivered":
            raise Refusal("409 the job ended")
        sent.append(item.kind)

    courier = Courier(box, deliver)
    _put(box, [b"blob"])
    last = box.put_event(JOB, "shares_deleted", {})
    assert courier.wait(last, 5.0) == ("accepted", "")
    assert sent == ["shares_deleted"]
    assert len(box) == 0
    assert list(box.root.iterdir()) == []


def test_a_result_is_written_one_chunk_at_a_time_and_checked(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(4):
            seen.append(i)  # produced lazily, as the node seals them
            yield bytes([i]) * (5 if i < 3 else 2)

    item = box.put_result(JOB, "fk", chunks(), {}, result_id=RID, count=4)
    assert seen == [0, 1, 2, 3]
    assert [box.chunk(item, i) for i in range(4)] == [b"\0" * 5, b"\1" * 5, b"\2" * 5, b"\3" * 2]
    with pytest.raises(IndexError):
        box.chunk(item, 4)
    with pytest.raises(ValueError, match="last chunk"):
        _put(box, [b"a" * 5, b"b" * 3, b"c" * 5])
    with pytest.raises(ValueError, match="3 chunks came as 2"):
        box.put_result(JOB, "fk", iter([b"a", b"b"]), {}, result_id=RID, count=3)
    assert len(box) == 1
    assert sorted(p.suffix for p in box.root.iterdir()) == [".blob", ".json"]
