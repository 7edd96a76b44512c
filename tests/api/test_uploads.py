"""The upload stream: what the owner signs is exactly what the node accepts."""

from __future__ import annotations

import numpy as np
import pytest

from tyst.api.results import ResultFormatError, ShareArray, decode_result, encode_result
from tyst.api.uploads import (
    Chunk,
    UploadFormatError,
    UploadHeader,
    UploadReader,
    UploadTrailer,
    UploadWriter,
    chunk_lanes,
    verify_trailer,
)
from tyst.service.keys import Registry, generate
from tyst.service.signing import SignatureInvalid

OWNER = generate("fk")
OTHER = generate("malmo")
REGISTRY = Registry([OWNER.public(), OTHER.public()])
HEADER = UploadHeader("job-" + "ab" * 16, "cd" * 32, "sjukpenning", "fk", 1, (("pnr", 2), ("x", 1)))


def _stream(chunks: list[int], keys: object = OWNER) -> bytes:
    rng = np.random.default_rng(1)
    w = UploadWriter(HEADER)
    out = [w.start()]
    for rows in chunks:
        lanes = [
            (
                rng.integers(0, 2**63, rows, dtype=np.uint64),
                rng.integers(0, 2**63, rows, dtype=np.uint64),
            )
            for _ in range(3)
        ]
        out.append(w.chunk(lanes))
    out.append(w.finish(keys, [["pnr"]]))  # type: ignore[arg-type]
    return b"".join(out)


def _parse(data: bytes, step: int = 7) -> tuple[UploadReader, list[object]]:
    reader = UploadReader()
    frames: list[object] = []
    for at in range(0, len(data), step):
        frames += reader.feed(data[at : at + step])
    return reader, frames


def test_roundtrip_in_small_pieces_verifies() -> None:
    data = _stream([5, 0, 17])
    reader, frames = _parse(data)
    assert reader.complete()
    assert frames[0] == HEADER
    chunks = [f for f in frames if isinstance(f, Chunk)]
    assert [c.rows for c in chunks] == [5, 0, 17]
    assert len(list(chunk_lanes(chunks[2].payload, 3))) == 3
    assert reader.trailer is not None
    verify_trailer(REGISTRY, HEADER, reader.trailer, reader.sha256, reader.rows)


def test_a_flipped_byte_in_a_chunk_is_detected() -> None:
    data = bytearray(_stream([4]))
    data[len(data) // 2] ^= 1
    reader, _ = _parse(bytes(data))
    assert reader.trailer is not None
    with pytest.raises(UploadFormatError, match="SHA-256"):
        verify_trailer(REGISTRY, HEADER, reader.trailer, reader.sha256, reader.rows)


def test_a_stream_signed_by_someone_else_is_refused() -> None:
    reader, _ = _parse(_stream([3], OTHER))
    assert reader.trailer is not None
    with pytest.raises(SignatureInvalid):
        verify_trailer(REGISTRY, HEADER, reader.trailer, reader.sha256, reader.rows)


def test_a_trailer_claiming_other_rows_is_refused() -> None:
    reader, _ = _parse(_stream([3]))
    assert reader.trailer is not None
    forged = UploadTrailer(
        4, reader.trailer.unique, reader.trailer.sha256, reader.trailer.signature
    )
    with pytest.raises(UploadFormatError, match="rows"):
        verify_trailer(REGISTRY, HEADER, forged, reader.sha256, reader.rows)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GARBAGE!" + b"x" * 20, "not a tyst upload"),
        (b"TYSTUP1\nC" + (8).to_bytes(8, "little") + bytes(8), "start with a header"),
        (b"TYSTUP1\nH" + (2**40).to_bytes(8, "little"), "too large"),
        (b"TYSTUP1\nH" + (2).to_bytes(8, "little") + b"{}", "header"),
    ],
)
def test_malformed_streams_give_one_line(data: bytes, message: str) -> None:
    with pytest.raises(UploadFormatError, match=message) as info:
        UploadReader().feed(data)
    assert "\n" not in str(info.value)


def test_a_chunk_whose_size_does_not_match_its_rows_is_refused() -> None:
    w = UploadWriter(HEADER)
    start = w.start()
    bad = b"C" + (8 + 8).to_bytes(8, "little") + (1).to_bytes(8, "little") + bytes(8)
    with pytest.raises(UploadFormatError, match="size"):
        UploadReader().feed(start + bad)


def test_result_bytes_roundtrip_and_bind_job_and_party() -> None:
    arrays = [
        ShareArray("lane.0", "arith", np.arange(4, dtype=np.uint64), np.arange(4, dtype=np.uint64)),
        ShareArray("valid", "bool", np.ones(4, np.uint64), np.zeros(4, np.uint64)),
        ShareArray("extras", "arith", np.zeros(0, np.uint64), np.zeros(0, np.uint64)),
    ]
    data = encode_result("job-1", 2, arrays)
    back = decode_result(data, "job-1", 2)
    assert [a.name for a in back] == ["lane.0", "valid", "extras"]
    assert np.array_equal(back[0].second, arrays[0].second)
    with pytest.raises(ResultFormatError, match="party"):
        decode_result(data, "job-1", 1)
    with pytest.raises(ResultFormatError):
        decode_result(data + b"x", "job-1", 2)
