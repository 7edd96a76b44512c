"""The upload stream an owner's client sends to one compute node for one table.

Format (``tyst-upload/1``), a sequence of frames after the 8-byte :data:`MAGIC`;
each frame is one kind byte, the payload length (u64 little-endian) and the payload:

- ``H`` (once, first) — canonical JSON :class:`UploadHeader`: format, job id,
  plan digest, table, owner, the receiving node's party index and the columns
  with their lane counts (the shared schema both sides derive from the plan);
- ``C`` (any number) — one chunk: u64 row count, then for every (column, lane)
  in header order the node's two share components of that lane, each
  ``rows`` little-endian u64 words;
- ``T`` (once, last) — canonical JSON trailer: total ``rows``, the join-column
  sets the owner found ``unique`` in its own data, the SHA-256 of every byte
  before this frame, and the owner's Ed25519 ``signature`` (context
  :data:`UPLOAD_CONTEXT`) of :func:`upload_statement`.

The signature binds the owner to exactly these shares for this job, table and
node: a node accepts an upload only if it verifies against the owner's key in
the node's own registry (see :func:`verify_trailer`).

Security: a stream carries one node's pair of share components per lane, which
is uniformly random on its own; it never carries plaintext.
Errors: :class:`UploadFormatError` (one line) for any malformed stream.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from tyst.service.keys import OrgKeys, Registry, canonical_json, decode_b64, encode_b64
from tyst.service.signing import sign, verify

MAGIC = b"TYSTUP1\n"
FORMAT = "tyst-upload/1"
UPLOAD_CONTEXT = "upload"
MAX_FRAME = 1 << 30
"""Largest frame accepted (1 GiB); clients send chunks far smaller."""

_FRAME = struct.Struct("<cQ")
_ROWS = struct.Struct("<Q")


class UploadFormatError(ValueError):
    """A malformed upload stream; ``str()`` is one line."""


@dataclass(frozen=True)
class UploadHeader:
    """What an upload is: which job, plan, table and node, and the lanes it carries."""

    job: str
    plan_digest: str
    table: str
    owner: str
    party: int
    columns: tuple[tuple[str, int], ...]

    @property
    def lanes(self) -> int:
        """Lanes per row (sum over columns)."""
        return sum(n for _, n in self.columns)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "job": self.job,
            "plan_digest": self.plan_digest,
            "table": self.table,
            "owner": self.owner,
            "party": self.party,
            "columns": [[c, n] for c, n in self.columns],
        }

    @classmethod
    def from_dict(cls, data: object) -> UploadHeader:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UploadFormatError(f"upload header: not a {FORMAT} header")
        try:
            columns = tuple((str(c), int(n)) for c, n in data["columns"])
            header = cls(
                job=str(data["job"]),
                plan_digest=str(data["plan_digest"]),
                table=str(data["table"]),
                owner=str(data["owner"]),
                party=int(data["party"]),
                columns=columns,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadFormatError(f"upload header: {exc}") from None
        if any(n < 1 for _, n in columns):
            raise UploadFormatError("upload header: every column needs at least one lane")
        return header


@dataclass(frozen=True)
class UploadTrailer:
    """The end of an upload: totals and the owner's signature over everything."""

    rows: int
    unique: tuple[tuple[str, ...], ...]
    sha256: str
    signature: bytes = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "unique": [list(u) for u in self.unique],
            "sha256": self.sha256,
            "signature": encode_b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> UploadTrailer:
        if not isinstance(data, dict):
            raise UploadFormatError("upload trailer: not a JSON object")
        try:
            return cls(
                rows=int(data["rows"]),
                unique=tuple(tuple(str(c) for c in u) for u in data["unique"]),
                sha256=str(data["sha256"]),
                signature=decode_b64(str(data["signature"]), what="signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadFormatError(f"upload trailer: {exc}") from None


def upload_statement(
    header: UploadHeader, rows: int, unique: Sequence[Sequence[str]], sha256: str
) -> bytes:
    """What the owner signs: the header, the totals and the hash of the stream."""
    return canonical_json(
        {
            **header.to_dict(),
            "rows": rows,
            "unique": [list(u) for u in unique],
            "sha256": sha256,
        }
    )


def verify_trailer(
    registry: Registry, header: UploadHeader, trailer: UploadTrailer, sha256: str, rows: int
) -> None:
    """Check a complete upload: hash, row total and the owner's signature.

    Errors: :class:`UploadFormatError` for a hash or row mismatch;
    :class:`~tyst.service.signing.SignatureInvalid` or
    :class:`~tyst.service.keys.UnknownOrganisation` for a bad signature or owner.
    """
    if trailer.sha256 != sha256:
        raise UploadFormatError("upload: the stream's SHA-256 differs from the signed one")
    if trailer.rows != rows:
        raise UploadFormatError(
            f"upload: the chunks hold {rows} rows, the trailer says {trailer.rows}"
        )
    statement = upload_statement(header, trailer.rows, trailer.unique, trailer.sha256)
    verify(registry.get(header.owner), trailer.signature, statement, UPLOAD_CONTEXT)


def _frame(kind: bytes, payload: bytes | memoryview) -> bytes:
    return _FRAME.pack(kind, len(payload)) + bytes(payload)


class UploadWriter:
    """Builds one upload stream (owner side): header, chunks, signed trailer."""

    def __init__(self, header: UploadHeader) -> None:
        self.header = header
        self.rows = 0
        self._hash = hashlib.sha256()

    def _out(self, data: bytes) -> bytes:
        self._hash.update(data)
        return data

    def start(self) -> bytes:
        """The magic and the header frame."""
        return self._out(MAGIC + _frame(b"H", canonical_json(self.header.to_dict())))

    def chunk(self, lanes: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
        """One chunk frame of the node's share pairs, one pair per lane in header order."""
        if len(lanes) != self.header.lanes:
            raise ValueError(f"expected {self.header.lanes} lanes, got {len(lanes)}")
        rows = len(lanes[0][0]) if lanes else 0
        parts = [_ROWS.pack(rows)]
        for a, b in lanes:
            if len(a) != rows or len(b) != rows:
                raise ValueError("every lane of a chunk must have the same length")
            parts.append(np.ascontiguousarray(a, dtype="<u8").tobytes())
            parts.append(np.ascontiguousarray(b, dtype="<u8").tobytes())
        self.rows += rows
        return self._out(_frame(b"C", b"".join(parts)))

    def finish(self, keys: OrgKeys, unique: Sequence[Sequence[str]]) -> bytes:
        """The signed trailer frame (nothing may follow it)."""
        digest = self._hash.hexdigest()
        statement = upload_statement(self.header, self.rows, unique, digest)
        trailer = UploadTrailer(
            self.rows,
            tuple(tuple(u) for u in unique),
            digest,
            sign(keys, statement, UPLOAD_CONTEXT),
        )
        return _frame(b"T", canonical_json(trailer.to_dict()))


@dataclass(frozen=True)
class Chunk:
    """One parsed chunk: its row count and its payload (u64 rows + lane pairs)."""

    rows: int
    payload: bytes


def chunk_lanes(payload: bytes, lanes: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (first, second) component arrays of each lane of a ``C`` payload."""
    (rows,) = _ROWS.unpack_from(payload)
    view = np.frombuffer(payload, dtype="<u8", offset=_ROWS.size)
    for j in range(lanes):
        yield view[2 * j * rows : (2 * j + 1) * rows], view[(2 * j + 1) * rows : (2 * j + 2) * rows]


class UploadReader:
    """Incremental parser (node side): :meth:`feed` bytes, get header, chunks, trailer.

    After the trailer, :attr:`sha256` is the hash of everything before it (compare
    with the signed one via :func:`verify_trailer`).
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._hash = hashlib.sha256()
        self._max = max_frame
        self._magic = False
        self.header: UploadHeader | None = None
        self.trailer: UploadTrailer | None = None
        self.sha256 = ""
        self.rows = 0

    def feed(self, data: bytes) -> list[UploadHeader | Chunk | UploadTrailer]:
        """Parse what ``data`` completes; returns the frames in order."""
        if self.trailer is not None and data:
            raise UploadFormatError("upload: bytes after the trailer")
        self._buf += data
        out: list[UploadHeader | Chunk | UploadTrailer] = []
        if not self._magic:
            if len(self._buf) < len(MAGIC):
                return out
            if bytes(self._buf[: len(MAGIC)]) != MAGIC:
                raise UploadFormatError("upload: not a tyst upload stream")
            self._hash.update(self._buf[: len(MAGIC)])
            del self._buf[: len(MAGIC)]
            self._magic = True
        while len(self._buf) >= _FRAME.size:
            kind, size = _FRAME.unpack_from(self._buf)
            if size > self._max:
                raise UploadFormatError(f"upload: a frame of {size} bytes is too large")
            end = _FRAME.size + size
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[_FRAME.size : end])
            if kind != b"T":
                self._hash.update(self._buf[:end])
            del self._buf[:end]
            out.append(self._parse(kind, payload))
        return out

    def _parse(self, kind: bytes, payload: bytes) -> UploadHeader | Chunk | UploadTrailer:
        if self.trailer is not None:
            raise UploadFormatError("upload: a frame after the trailer")
        if kind == b"H":
            if self.header is not None:
                raise UploadFormatError("upload: a second header")
            self.header = UploadHeader.from_dict(_json(payload))
            return self.header
        if self.header is None:
            raise UploadFormatError("upload: the stream does not start with a header")
        if kind == b"C":
            if len(payload) < _ROWS.size:
                raise UploadFormatError("upload: a chunk without a row count")
            (rows,) = _ROWS.unpack_from(payload)
            if len(payload) != _ROWS.size + 16 * rows * self.header.lanes:
                raise UploadFormatError("upload: a chunk's size does not match its row count")
            self.rows += rows
            return Chunk(rows, payload)
        if kind == b"T":
            self.sha256 = self._hash.hexdigest()
            self.trailer = UploadTrailer.from_dict(_json(payload))
            return self.trailer
        raise UploadFormatError(f"upload: unknown frame kind {kind!r}")

    def complete(self) -> bool:
        """Whether the trailer arrived and nothing is left over."""
        return self.trailer is not None and not self._buf


def _json(payload: bytes) -> object:
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise UploadFormatError(f"upload: bad JSON frame: {exc}") from None
