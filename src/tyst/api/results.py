"""A node's result shares as bytes, before it seals them to a recipient.

Format (``tyst-result/1``): u32 little-endian header length, canonical JSON
header ``{format, job, party, arrays: [[name, kind, length], ...]}``, then for
every array in header order its two share components (``length`` little-endian
u64 words each). ``kind`` is ``arith`` (sum mod 2^64) or ``bool`` (XOR).

The node seals these bytes to each recipient with context :func:`seal_context`,
which binds the job, the recipient, the sending node and its party index; the
recipient opens them only under the context it expects, so a blob cannot be
moved to another job, recipient or party.
Errors: :class:`ResultFormatError` (one line).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tyst.service.keys import canonical_json

FORMAT = "tyst-result/1"
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


def seal_context(job: str, recipient: str, sender: str, party: int) -> bytes:
    """The sealing context of one result blob."""
    return canonical_json(
        {"format": FORMAT, "job": job, "recipient": recipient, "sender": sender, "party": party}
    )


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
