"""The upload stream an owner's client sends to one compute node for one table.

Format (``tyst-upload/2``), a sequence of frames after the 8-byte :data:`MAGIC`;
each frame is one kind byte, the payload length (u64 little-endian) and the payload:

- ``H`` (once, first; at most :data:`MAX_META_BYTES`) — canonical JSON
  ``{"header": <UploadHeader>, "signature": <base64>}``: the
  :class:`UploadHeader` (format, job id, plan digest, table, owner, the
  receiving node's party index, the columns with their lane counts — the
  shared schema both sides derive from the plan — and the table's total
  ``rows``) and the owner's Ed25519 signature of its canonical JSON (context
  :data:`HEADER_CONTEXT`, :func:`verify_header`);
- ``C`` (any number; payload at most :data:`MAX_CHUNK_BYTES`) — one chunk:
  u64 row count (at least 1), then for every (column, lane) in header order
  the node's two share components of that lane, each ``rows`` little-endian
  u64 words. The chunks together hold exactly the header's ``rows``;
- ``T`` (once, last; at most :data:`MAX_META_BYTES`) — canonical JSON
  trailer: total ``rows``, the join-column sets the owner found ``unique`` in
  its own data, the SHA-256 of every byte before this frame, and the owner's
  Ed25519 ``signature`` (context :data:`UPLOAD_CONTEXT`) of
  :func:`upload_statement` (which covers the header, so its row count too).

The trailer signature binds the owner to exactly these shares for this job,
table and node: a node accepts an upload only if it verifies against the
owner's key in the node's own registry (see :func:`verify_trailer`). The
header signature lets a node refuse a stream that is not the owner's before
it stores or buffers anything beyond the header frame.

Bounds (what an unauthenticated sender can make a node hold): the reader
never buffers more than one frame, and it refuses a frame whose announced
length exceeds its kind's limit as soon as the 9-byte frame head arrives —
before reading or allocating the payload. With a verified header, the stream
can carry at most the header's ``rows`` (:func:`stored_bytes_bound` bounds
what a node stores of it).

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

MAGIC = b"TYSTUP2\n"
FORMAT = "tyst-upload/2"
UPLOAD_CONTEXT = "upload"
HEADER_CONTEXT = "upload-header"
MAX_CHUNK_BYTES = 4 << 20
"""Largest ``C`` payload (4 MiB): the most a node buffers of one frame. Writers split
larger chunks; a longer announced frame is refused before any of it is read."""
MAX_META_BYTES = 64 << 10
"""Largest ``H`` or ``T`` payload (64 KiB of JSON)."""
STORE_RECORD_OVERHEAD = 40
"""Bytes a node's store adds per chunk (u32 length, 12-byte nonce, 16-byte tag, u64 rows)."""

_FRAME = struct.Struct("<cQ")
_ROWS = struct.Struct("<Q")
_WORD_PAIR = 16  # two u64 components per lane and row


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
    rows: int

    @property
    def lanes(self) -> int:
        """Lanes per row (sum over columns)."""
        return sum(n for _, n in self.columns)

    @property
    def row_bytes(self) -> int:
        """Bytes of one row's share pairs in a chunk."""
        return _WORD_PAIR * self.lanes

    def to_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "job": self.job,
            "plan_digest": self.plan_digest,
            "table": self.table,
            "owner": self.owner,
            "party": self.party,
            "columns": [[c, n] for c, n in self.columns],
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: object) -> UploadHeader:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UploadFormatError(f"upload header: not a {FORMAT} header")
        try:
            columns = tuple((str(c), _int(n)) for c, n in data["columns"])
            header = cls(
                job=str(data["job"]),
                plan_digest=str(data["plan_digest"]),
                table=str(data["table"]),
                owner=str(data["owner"]),
                party=_int(data["party"]),
                columns=columns,
                rows=_int(data["rows"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadFormatError(f"upload header: {str(exc)[:200]}") from None
        if any(n < 1 for _, n in columns):
            raise UploadFormatError("upload header: every column needs at least one lane")
        if header.rows < 0:
            raise UploadFormatError("upload header: a negative row count")
        if header.row_bytes + _ROWS.size > MAX_CHUNK_BYTES:
            raise UploadFormatError("upload header: one row does not fit in a chunk")
        return header


def _int(value: object) -> int:
    """A JSON integer (not a bool, float or string)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    return value


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
                rows=_int(data["rows"]),
                unique=tuple(tuple(str(c) for c in u) for u in data["unique"]),
                sha256=str(data["sha256"]),
                signature=decode_b64(str(data["signature"]), what="signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadFormatError(f"upload trailer: {str(exc)[:200]}") from None


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


def header_statement(header: UploadHeader) -> bytes:
    """What the owner signs at the start of a stream: the header."""
    return canonical_json(header.to_dict())


def verify_header(registry: Registry, header: UploadHeader, signature: bytes) -> None:
    """Check the owner's signature of an upload header (before anything else is accepted).

    Errors: :class:`~tyst.service.signing.SignatureInvalid` or
    :class:`~tyst.service.keys.UnknownOrganisation`.
    """
    verify(registry.get(header.owner), signature, header_statement(header), HEADER_CONTEXT)


def stored_bytes_bound(header: UploadHeader) -> int:
    """The most bytes a node's store can hold of a stream with this (verified) header.

    Every chunk carries at least one row, so there are at most ``rows`` chunks.
    """
    return header.rows * (header.row_bytes + STORE_RECORD_OVERHEAD)


def verify_trailer(
    registry: Registry, header: UploadHeader, trailer: UploadTrailer, sha256: str, rows: int
) -> None:
    """Check a complete upload: hash, row totals and the owner's signature.

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
    if header.rows != rows:
        raise UploadFormatError(
            f"upload: the chunks hold {rows} rows, the header says {header.rows}"
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

    def start(self, keys: OrgKeys) -> bytes:
        """The magic and the signed header frame."""
        signature = sign(keys, header_statement(self.header), HEADER_CONTEXT)
        payload = canonical_json(
            {"header": self.header.to_dict(), "signature": encode_b64(signature)}
        )
        return self._out(MAGIC + _frame(b"H", payload))

    def chunk(
        self, lanes: Sequence[tuple[np.ndarray, np.ndarray]], rows: int | None = None
    ) -> bytes:
        """Chunk frames of the node's share pairs, one pair per lane in header order.

        Split into frames of at most :data:`MAX_CHUNK_BYTES`; no frame for no rows.
        ``rows`` is needed only when the table has no lanes.
        """
        if len(lanes) != self.header.lanes:
            raise ValueError(f"expected {self.header.lanes} lanes, got {len(lanes)}")
        if rows is None:
            rows = len(lanes[0][0]) if lanes else 0
        words = [
            (np.ascontiguousarray(a, dtype="<u8"), np.ascontiguousarray(b, dtype="<u8"))
            for a, b in lanes
        ]
        if any(len(a) != rows or len(b) != rows for a, b in words):
            raise ValueError("every lane of a chunk must have the same length")
        if self.rows + rows > self.header.rows:
            raise ValueError(f"more rows than the header's {self.header.rows}")
        step = (MAX_CHUNK_BYTES - _ROWS.size) // self.header.row_bytes if lanes else max(rows, 1)
        out = []
        for at in range(0, rows, step):
            n = min(step, rows - at)
            parts = [_ROWS.pack(n)]
            for a, b in words:
                parts.append(a[at : at + n].tobytes())
                parts.append(b[at : at + n].tobytes())
            out.append(self._out(_frame(b"C", b"".join(parts))))
        self.rows += rows
        return b"".join(out)

    def finish(self, keys: OrgKeys, unique: Sequence[Sequence[str]]) -> bytes:
        """The signed trailer frame (nothing may follow it)."""
        if self.rows != self.header.rows:
            raise ValueError(
                f"the chunks hold {self.rows} rows, the header says {self.header.rows}"
            )
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

    Holds at most one frame (plus the bytes of one :meth:`feed`): a frame longer
    than its kind allows (:data:`MAX_META_BYTES`, ``max_chunk``) or of an unknown
    kind is refused from its 9-byte head. After the header, :attr:`header_signature`
    is the owner's signature of it (check with :func:`verify_header`). After the
    trailer, :attr:`sha256` is the hash of everything before it (compare with the
    signed one via :func:`verify_trailer`).
    """

    def __init__(self, max_chunk: int = MAX_CHUNK_BYTES) -> None:
        self._buf = bytearray()
        self._hash = hashlib.sha256()
        self._limits = {b"H": MAX_META_BYTES, b"C": max_chunk, b"T": MAX_META_BYTES}
        self._magic = False
        self.header: UploadHeader | None = None
        self.header_signature = b""
        self.trailer: UploadTrailer | None = None
        self.sha256 = ""
        self.rows = 0
        self.chunks = 0

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
            limit = self._limits.get(kind)
            if limit is None:
                raise UploadFormatError(f"upload: unknown frame kind {kind!r}")
            if size > limit:
                raise UploadFormatError(
                    f"upload: a {kind.decode()} frame of {size} bytes is too large "
                    f"(at most {limit})"
                )
            end = _FRAME.size + size
            if len(self._buf) < end:
                break
            with memoryview(self._buf) as view:  # one copy of the frame, not three
                payload = bytes(view[_FRAME.size : end])
                if kind != b"T":
                    self._hash.update(view[:end])
            del self._buf[:end]
            out.append(self._parse(kind, payload))
        return out

    def _parse(self, kind: bytes, payload: bytes) -> UploadHeader | Chunk | UploadTrailer:
        if self.trailer is not None:
            raise UploadFormatError("upload: a frame after the trailer")
        if kind == b"H":
            if self.header is not None:
                raise UploadFormatError("upload: a second header")
            data = _json(payload)
            if not isinstance(data, dict) or set(data) != {"header", "signature"}:
                raise UploadFormatError("upload: the header frame is not a signed header")
            header = UploadHeader.from_dict(data["header"])
            try:
                self.header_signature = decode_b64(str(data["signature"]), what="signature")
            except ValueError as exc:
                raise UploadFormatError(f"upload header: {str(exc)[:200]}") from None
            self.header = header
            return header
        if self.header is None:
            raise UploadFormatError("upload: the stream does not start with a header")
        if kind == b"C":
            if len(payload) < _ROWS.size:
                raise UploadFormatError("upload: a chunk without a row count")
            (rows,) = _ROWS.unpack_from(payload)
            if rows < 1:
                raise UploadFormatError("upload: an empty chunk")
            if len(payload) != _ROWS.size + rows * self.header.row_bytes:
                raise UploadFormatError("upload: a chunk's size does not match its row count")
            if self.rows + rows > self.header.rows:
                raise UploadFormatError(
                    f"upload: the chunks hold more than the header's {self.header.rows} rows"
                )
            self.rows += rows
            self.chunks += 1
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
    except (ValueError, RecursionError) as exc:
        raise UploadFormatError(f"upload: bad JSON frame: {str(exc)[:200]}") from None
