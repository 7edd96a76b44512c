"""A node's share store: each job's uploads encrypted at rest under a per-job key.

Contract
--------
- Layout: ``root/<job>/<table>.enc`` (the table's share chunks, encrypted),
  ``root/<job>/<table>.json`` (row count, columns, the owner's uniqueness
  claims, the SHA-256 of the stream and the plan digest the owner signed it
  for — nothing secret) and ``root/<job>/_job.meta`` (the job's plan digest,
  fixed by :meth:`ShareStore.bind` at the first committed upload). An upload
  in progress is ``<table>.<random>.part`` (several may exist while one
  replaces another) and becomes ``.enc`` only on :meth:`TableWriter.commit`;
  :meth:`TableWriter.cancel` removes it at once, from any thread, and a
  writer refuses to grow beyond its ``limit``.
- Names: job ids must be ``job-`` + 32 lowercase hex digits and table names
  SQL identifiers; anything else is refused before any path is built.
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
import re
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
_JOB_ID = re.compile(r"job-[0-9a-f]{32}", re.ASCII)
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}", re.ASCII)
_JOB_META = "_job.meta"


def check_job_id(job: object) -> str:
    """``job`` if it is a job id as the coordinator issues them (``job-`` + 32 hex digits).

    Errors: :class:`StoreError`.
    """
    if not isinstance(job, str) or _JOB_ID.fullmatch(job) is None:
        raise StoreError("not a job id (job- and 32 lowercase hex digits)")
    return job


def _check_table(table: str) -> str:
    if _TABLE.fullmatch(table) is None:
        raise StoreError("not a table name")
    return table


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
    plan_digest: str = ""
    """The plan digest the owner's signed upload names."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "owner": self.owner,
            "rows": self.rows,
            "columns": [list(c) for c in self.columns],
            "unique": [list(u) for u in self.unique],
            "sha256": self.sha256,
            "plan_digest": self.plan_digest,
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
            str(data.get("plan_digest", "")),
        )


def _aad(job: str, table: str, index: int) -> bytes:
    return f"tyst-store/1|{job}|{table}|{index}".encode()


class TableWriter:
    """Appends encrypted chunks of one upload; nothing is visible until :meth:`commit`.

    ``limit``: the most bytes this writer stores (:class:`StoreError` beyond it).
    """

    def __init__(
        self, store: ShareStore, job: str, table: str, key: bytes, limit: int | None = None
    ) -> None:
        self._store, self.job, self.table = store, job, table
        self._aead = AESGCM(key)
        self._dir = store.root / job
        self._part = self._dir / f"{table}.{secrets.token_hex(8)}.part"
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._index = 0
        self._limit = limit
        self._lock = threading.Lock()
        self.cancelled = ""
        self.bytes = 0

    def write(self, payload: bytes) -> None:
        """Encrypt and append one chunk payload.

        Errors: :class:`StoreError` if the writer was cancelled or would pass its limit.
        """
        size = _RECORD.size + _NONCE + len(payload) + 16
        if self._limit is not None and self.bytes + size > self._limit:
            raise StoreError(f"the upload would store more than its bound of {self._limit} bytes")
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, payload, _aad(self.job, self.table, self._index))
        with self._lock:
            if self.cancelled:
                raise StoreError(self.cancelled)
            self._fh.write(_RECORD.pack(len(sealed)) + nonce)
            self._fh.write(sealed)
        self._index += 1
        self.bytes += size

    def commit(self, meta: StoredTable) -> None:
        """Make the upload part of the job (atomically replaces an earlier one).

        Errors: :class:`StoreError` if the writer was cancelled.
        """
        with self._lock:
            if self.cancelled:
                raise StoreError(self.cancelled)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self._part, self._dir / f"{self.table}.enc")
            _write_private(self._dir / f"{self.table}.json", json.dumps(meta.to_dict()).encode())

    def cancel(self, reason: str) -> None:
        """Stop this upload now (from any thread): close and remove its partial file."""
        with self._lock:
            if not self.cancelled:
                self.cancelled = reason
            self._close_and_remove()

    def abort(self) -> None:
        """Drop the partial upload."""
        with self._lock:
            self._close_and_remove()

    def _close_and_remove(self) -> None:
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
        check_job_id(job)
        with self._lock:
            if job not in self._keys:
                (self.root / job).mkdir(mode=0o700, exist_ok=True)
                self._keys[job] = AESGCM.generate_key(bit_length=256)
            return self._keys[job]

    def has_key(self, job: str) -> bool:
        with self._lock:
            return job in self._keys

    def writer(self, job: str, table: str, limit: int | None = None) -> TableWriter:
        """Start storing one upload of ``table`` for ``job`` (at most ``limit`` bytes)."""
        return TableWriter(self, job, _check_table(table), self.key(job), limit)

    def bind(self, job: str, plan_digest: str) -> str:
        """Fix the job's plan digest on disk unless it is fixed already; return the fixed one."""
        path = self.root / check_job_id(job) / _JOB_META
        with self._lock:
            if path.is_file():
                return str(json.loads(path.read_text())["plan_digest"])
            _write_private(path, json.dumps({"job": job, "plan_digest": plan_digest}).encode())
            return plan_digest

    def bound_digest(self, job: str) -> str | None:
        """The plan digest fixed for ``job`` by :meth:`bind` (None if none)."""
        path = self.root / check_job_id(job) / _JOB_META
        with self._lock:
            if not path.is_file():
                return None
            return str(json.loads(path.read_text())["plan_digest"])

    def tables(self, job: str) -> dict[str, StoredTable]:
        """The committed tables of ``job``."""
        directory = self.root / check_job_id(job)
        if not directory.is_dir():
            return {}
        return {
            p.stem: StoredTable.from_dict(json.loads(p.read_text()))
            for p in sorted(directory.glob("*.json"))
        }

    def jobs(self) -> list[str]:
        """Every job with files on disk (directories named like a job id)."""
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and _JOB_ID.fullmatch(p.name)
        )

    def orphans(self) -> list[str]:
        """Jobs on disk whose key this process does not hold (unreadable leftovers)."""
        return [j for j in self.jobs() if not self.has_key(j)]

    def delete(self, job: str) -> dict[str, int]:
        """Forget the job's key and remove its files; returns ``{files, bytes}`` removed."""
        with self._lock:
            self._keys.pop(job, None)
        directory = self.root / check_job_id(job)
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
