"""The node's share store: encrypted at rest, key in memory only, deletion is complete."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from tyst.node.store import ShareStore, StoredTable, StoreError, read_table

JOB = "job-" + "0" * 32


def _payload(rows: int, lanes: int, seed: int) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 2**64 - 1, rows, dtype=np.uint64) for _ in range(2 * lanes)]
    return struct.pack("<Q", rows) + b"".join(a.tobytes() for a in arrays), arrays


def _store_table(
    store: ShareStore, chunks: list[int]
) -> tuple[StoredTable, list[list[np.ndarray]]]:
    writer = store.writer(JOB, "t")
    parts = []
    for i, rows in enumerate(chunks):
        payload, arrays = _payload(rows, 3, i)
        writer.write(payload)
        parts.append(arrays)
    meta = StoredTable("t", "fk", sum(chunks), (("a", 2), ("b", 1)), (("a",),), "00" * 32)
    writer.commit(meta)
    return meta, parts


def test_roundtrip_and_files_are_private(tmp_path: Path) -> None:
    store = ShareStore(tmp_path / "store")
    meta, parts = _store_table(store, [3, 0, 5])
    assert store.tables(JOB) == {"t": meta}
    columns = read_table(store.root, JOB, store.key(JOB), meta)
    first_b = np.concatenate([p[4] for p in parts])  # lane 2 (column b), first component
    assert np.array_equal(columns["b"][0][0], first_b)
    assert len(columns["a"]) == 2
    for path in (store.root / JOB).iterdir():
        assert os.stat(path).st_mode & 0o077 == 0
    assert os.stat(store.root / JOB).st_mode & 0o777 == 0o700


def test_the_stored_bytes_do_not_contain_the_payload(tmp_path: Path) -> None:
    store = ShareStore(tmp_path / "store")
    writer = store.writer(JOB, "t")
    secret = b"197001010001" * 100
    writer.write(struct.pack("<Q", 0) + secret)
    writer.abort()
    writer = store.writer(JOB, "t")
    writer.write(secret)
    writer.commit(StoredTable("t", "fk", 0, (), (), "00" * 32))
    data = (store.root / JOB / "t.enc").read_bytes()
    assert b"197001010001" not in data
    assert not (store.root / JOB / "t.part").exists()


def test_a_tampered_record_fails_authentication(tmp_path: Path) -> None:
    store = ShareStore(tmp_path / "store")
    meta, _ = _store_table(store, [4])
    path = store.root / JOB / "t.enc"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="authentication"):
        read_table(store.root, JOB, store.key(JOB), meta)


def test_delete_forgets_the_key_and_a_new_process_sees_only_orphans(tmp_path: Path) -> None:
    store = ShareStore(tmp_path / "store")
    _store_table(store, [2])
    assert store.orphans() == []
    restarted = ShareStore(tmp_path / "store")  # the key died with the old process
    assert restarted.orphans() == [JOB]
    removed = store.delete(JOB)
    assert removed["files"] == 2
    assert removed["bytes"] > 0
    assert store.jobs() == []
    assert not store.has_key(JOB)
