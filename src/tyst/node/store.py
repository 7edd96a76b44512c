"""A node's share store: each job's uploads encrypted at rest under a per-job key.

Contract
--------
- Layout: ``root/<job>/<table>.enc`` (the table's share chunks, encrypted) and
  ``root/<job>/<table>.json`` (row count, columns, the owner's uniqueness
  claims, the SHA-256 of the stream — nothing secret). An upload in progress
  is ``<table>.part`` and becomes ``.enc`` only on :meth:`TableWriter.commit`.
- Encryption: each chunk is one AES-256-GCM record (u32 length, 12-byte random
  nonce, ciphertext) with associated data naming the job, the table and the
  record's index, so records cannot be swapped, reordered or moved. The
  per-job key is drawn when the job's first upload begins and is **held only
  in memory** (:meth:`ShareStore.key`); it is never written to disk. A
  restarted node can therefore not read what it stored before: such leftovers
  are found by :meth:`ShareStore.orphans` and deleted.
- Deletion (:meth:`ShareStore.delete`) forgets the key and removes the job's
  files; it reports what it removed for the signed deletion receipt.

Errors: :class:`StoreError` (one line).
Security: files are created 0600 in 0700 directories; nothing here logs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_RECORD = struct.Struct("<I")
_NONCE = 12
_ROWS = struct.Struct("<Q")


class StoreError(Exception):
    """A store operation that failed; ``str()`` is one line."""


@dataclass(frozen=True)
class StoredTable:
    """What a node holds of one table (metadata only)."""

    table: str
    owner: str
    rows: int
    columns: tuple[tuple[str, int], ...]
    unique: tuple[tuple[str, ...], ...]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "owner": self.owner,
            "rows": self.rows,
            "columns": [list(c) for c in self.columns],
            "unique": [list(u) for u in self.unique],
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredTable:
        return cls(
            str(data["table"]),
            str(data["owner"]),
            int(data["rows"]),
            tuple((str(c), int(n)) for c, n in data["columns"]),
            tuple(tuple(u) for u in data["unique"]),
            str(data["sha256"]),
        )


def _aad(job: str, table: str, index: int) -> bytes:
    return f"tyst-store/1|{job}|{table}|{index}".encode()


class TableWriter:
    """Appends encrypted chunks of one upload; nothing is visible until :meth:`commit`."""

    def __init__(self, store: ShareStore, job: str, table: str, key: bytes) -> None:
        self._store, self._job, self._table = store, job, table
        self._aead = AESGCM(key)
        self._dir = store.root / job
        self._part = self._dir / f"{table}.part"
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._index = 0
        self.bytes = 0

    def write(self, payload: bytes) -> None:
        """Encrypt and append one chunk payload."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, payload, _aad(self._job, self._table, self._index))
        self._fh.write(_RECORD.pack(len(sealed)) + nonce + sealed)
        self._index += 1
        self.bytes += len(sealed) + _RECORD.size + _NONCE

    def commit(self, meta: StoredTable) -> None:
        """Make the upload part of the job (atomically replaces an earlier one)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._part, self._dir / f"{self._table}.enc")
        _write_private(self._dir / f"{self._table}.json", json.dumps(meta.to_dict()).encode())

    def abort(self) -> None:
        """Drop the partial upload."""
        if not self._fh.closed:
            self._fh.close()
        self._part.unlink(missing_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class ShareStore:
    """Encrypted per-job share files under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def key(self, job: str) -> bytes:
        """The job's key (created with the job's directory on first use)."""
        with self._lock:
            if job not in self._keys:
                (self.root / job).mkdir(mode=0o700, exist_ok=True)
                self._keys[job] = AESGCM.generate_key(bit_length=256)
            return self._keys[job]

    def has_key(self, job: str) -> bool:
        with self._lock:
            return job in self._keys

    def writer(self, job: str, table: str) -> TableWriter:
        """Start storing one upload of ``table`` for ``job``."""
        return TableWriter(self, job, table, self.key(job))

    def tables(self, job: str) -> dict[str, StoredTable]:
        """The committed tables of ``job``."""
        directory = self.root / job
        if not directory.is_dir():
            return {}
        return {
            p.stem: StoredTable.from_dict(json.loads(p.read_text()))
            for p in sorted(directory.glob("*.json"))
        }

    def jobs(self) -> list[str]:
        """Every job with files on disk."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def orphans(self) -> list[str]:
        """Jobs on disk whose key this process does not hold (unreadable leftovers)."""
        return [j for j in self.jobs() if not self.has_key(j)]

    def delete(self, job: str) -> dict[str, int]:
        """Forget the job's key and remove its files; returns ``{files, bytes}`` removed."""
        with self._lock:
            self._keys.pop(job, None)
        directory = self.root / job
        files = size = 0
        if directory.is_dir():
            for p in directory.iterdir():
                files += 1
                size += p.stat().st_size
            shutil.rmtree(directory)
        return {"files": files, "bytes": size}


def read_table(
    root: Path, job: str, key: bytes, meta: StoredTable
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Decrypt one stored table into its columns' (first, second) component arrays.

    Errors: :class:`StoreError` if a record fails authentication or the sizes differ.
    """
    from cryptography.exceptions import InvalidTag

    aead = AESGCM(key)
    n_lanes = sum(n for _, n in meta.columns)
    arrays = [
        (np.empty(meta.rows, dtype=np.uint64), np.empty(meta.rows, dtype=np.uint64))
        for _ in range(n_lanes)
    ]
    at = 0
    path = root / job / f"{meta.table}.enc"
    with path.open("rb") as fh:
        index = 0
        while header := fh.read(_RECORD.size):
            (size,) = _RECORD.unpack(header)
            nonce = fh.read(_NONCE)
            sealed = fh.read(size)
            try:
                payload = aead.decrypt(nonce, sealed, _aad(job, meta.table, index))
            except InvalidTag:
                raise StoreError(f"{path}: record {index} fails authentication") from None
            index += 1
            (rows,) = _ROWS.unpack_from(payload)
            if at + rows > meta.rows:
                raise StoreError(f"{path}: more rows than the {meta.rows} recorded")
            view = np.frombuffer(payload, dtype="<u8", offset=_ROWS.size)
            for j, (a, b) in enumerate(arrays):
                a[at : at + rows] = view[2 * j * rows : (2 * j + 1) * rows]
                b[at : at + rows] = view[(2 * j + 1) * rows : (2 * j + 2) * rows]
            at += rows
    if at != meta.rows:
        raise StoreError(f"{path}: {at} rows stored, {meta.rows} recorded")
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    j = 0
    for column, lanes in meta.columns:
        out[column] = arrays[j : j + lanes]
        j += lanes
    return out
