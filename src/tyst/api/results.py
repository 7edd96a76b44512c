"""A node's result shares as bytes, before it seals them to a recipient.

Format (``tyst-result/1``): u32 little-endian header length, canonical JSON
header ``{format, job, party, arrays: [[name, kind, length], ...]}``, then for
every array in header order its two share components (``length`` little-endian
u64 words each). ``kind`` is ``arith`` (sum mod 2^64) or ``bool`` (XOR).

The node seals these bytes to each recipient in chunks of at most
``chunk_bytes`` (:data:`~tyst.coordinator.protocol.RESULT_CHUNK_BYTES` by
default; :func:`seal_chunks`): chunk ``i`` of ``count`` is the sealing of bytes
``[i·chunk_bytes, (i+1)·chunk_bytes)`` under :func:`chunk_context`, which binds
the job, the recipient, the sending node, its party index, the node's fresh id
of this sealed result, ``i`` and ``count``. The recipient opens each chunk only
under the context it expects (:func:`open_chunk`) and joins them in index
order, so a chunk cannot be moved to another job, recipient, party, result or
place, and a result cannot be cut short without a chunk failing to open.
(Each chunk is also signed by its node, see
:func:`tyst.coordinator.protocol.sign_result`: sealing alone is anonymous.)
Errors: :class:`ResultFormatError` (one line); :class:`~tyst.service.sealing.SealError`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tyst.coordinator.protocol import RESULT_CHUNK_BYTES, check_chunk, chunk_count
from tyst.service.keys import OrgKeys, OrgPublic, canonical_json
from tyst.service.sealing import open_sealed, seal

FORMAT = "tyst-result/1"
CHUNK_FORMAT = "tyst-result-chunk/1"
"""The ``format`` member of a chunk's sealing context (:func:`chunk_context`)."""
_LEN = struct.Struct("<I")


class ResultFormatError(ValueError):
    """Result bytes that cannot be parsed; ``str()`` is one line."""


@dataclass(frozen=True)
class ShareArray:
    """One named array of a node's result shares: its two replicated components."""

    name: str
    kind: str
    first: np.ndarray
    second: np.ndarray


def chunk_context(
    job: str, recipient: str, sender: str, party: int, result_id: str, index: int, count: int
) -> bytes:
    """The sealing context of chunk ``index`` of ``count`` of one sealed result."""
    check_chunk(result_id, index, count)
    return canonical_json(
        {
            "chunk": index,
            "chunks": count,
            "format": CHUNK_FORMAT,
            "job": job,
            "party": party,
            "recipient": recipient,
            "result": result_id,
            "sender": sender,
        }
    )


def seal_chunks(
    recipient: OrgPublic,
    payload: bytes,
    *,
    job: str,
    sender: str,
    party: int,
    result_id: str,
    chunk_bytes: int = RESULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """The sealed chunks of ``payload`` for ``recipient``, in index order (see above);
    one chunk is sealed at a time. Errors: :class:`ValueError` for a chunk size outside
    ``1 … RESULT_CHUNK_BYTES``."""
    count = chunk_count(len(payload), chunk_bytes)
    view = memoryview(payload)
    for i in range(count):
        piece = bytes(view[i * chunk_bytes : (i + 1) * chunk_bytes])
        context = chunk_context(job, recipient.org_id, sender, party, result_id, i, count)
        yield seal(recipient, piece, context)


def open_chunk(
    keys: OrgKeys,
    blob: bytes,
    *,
    job: str,
    sender: str,
    party: int,
    result_id: str,
    index: int,
    count: int,
) -> bytes:
    """Open chunk ``index`` of ``count`` sealed to ``keys``' organisation (the plaintext).

    Errors: :class:`~tyst.service.sealing.SealError` if it was sealed for another
    job, recipient, sender, party, result or place, or was modified."""
    context = chunk_context(job, keys.org_id, sender, party, result_id, index, count)
    return open_sealed(keys, blob, context)


def encode_result(job: str, party: int, arrays: Sequence[ShareArray]) -> bytes:
    """The bytes a node seals: header and components of every array."""
    header = canonical_json(
        {
            "format": FORMAT,
            "job": job,
            "party": party,
            "arrays": [[a.name, a.kind, len(a.first)] for a in arrays],
        }
    )
    parts = [_LEN.pack(len(header)), header]
    for a in arrays:
        if a.kind not in ("arith", "bool") or len(a.first) != len(a.second):
            raise ValueError(f"array {a.name!r}: bad kind or component lengths")
        parts.append(np.ascontiguousarray(a.first, dtype="<u8").tobytes())
        parts.append(np.ascontiguousarray(a.second, dtype="<u8").tobytes())
    return b"".join(parts)


def decode_result(data: bytes, job: str, party: int) -> list[ShareArray]:
    """Inverse of :func:`encode_result`; checks the job and party it names."""
    try:
        (size,) = _LEN.unpack_from(data)
        header = json.loads(data[_LEN.size : _LEN.size + size])
        if header.get("format") != FORMAT:
            raise ResultFormatError(f"result: not a {FORMAT} blob")
        if header["job"] != job or header["party"] != party:
            raise ResultFormatError(
                f"result: the blob is for job {header['job']} party {header['party']}, "
                f"expected {job} party {party}"
            )
        at = _LEN.size + size
        out: list[ShareArray] = []
        for name, kind, length in header["arrays"]:
            n = int(length)
            first = np.frombuffer(data, dtype="<u8", count=n, offset=at)
            second = np.frombuffer(data, dtype="<u8", count=n, offset=at + 8 * n)
            at += 16 * n
            out.append(ShareArray(str(name), str(kind), first.copy(), second.copy()))
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ResultFormatError):
            raise
        raise ResultFormatError(f"result: malformed blob: {exc}") from None
    if at != len(data):
        raise ResultFormatError("result: trailing bytes after the last array")
    return out
