"""The upload stream: what the owner signs is exactly what the node accepts."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.api.results import ResultFormatError, ShareArray, decode_result, encode_result
from tyst.api.uploads import (
    MAGIC,
    MAX_CHUNK_BYTES,
    MAX_META_BYTES,
    Chunk,
    UploadFormatError,
    UploadHeader,
    UploadReader,
    UploadTrailer,
    UploadWriter,
    chunk_lanes,
    stored_bytes_bound,
    verify_header,
    verify_trailer,
)
from tyst.service.keys import Registry, UnknownOrganisation, generate
from tyst.service.signing import SignatureInvalid

OWNER = generate("fk")
OTHER = generate("malmo")
REGISTRY = Registry([OWNER.public(), OTHER.public()])
COLUMNS = (("pnr", 2), ("x", 1))


def _header(rows: int) -> UploadHeader:
    return UploadHeader("job-" + "ab" * 16, "cd" * 32, "sjukpenning", "fk", 1, COLUMNS, rows)


HEADER = _header(22)


def _stream(chunks: list[int], keys: object = OWNER) -> bytes:
    rng = np.random.default_rng(1)
    header = _header(sum(chunks))
    w = UploadWriter(header)
    out = [w.start(OWNER)]
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
    verify_header(REGISTRY, HEADER, reader.header_signature)
    chunks = [f for f in frames if isinstance(f, Chunk)]
    assert [c.rows for c in chunks] == [5, 17]  # no frame for an empty chunk
    assert len(list(chunk_lanes(chunks[1].payload, 3))) == 3
    assert reader.trailer is not None
    verify_trailer(REGISTRY, HEADER, reader.trailer, reader.sha256, reader.rows)


def test_a_flipped_byte_in_a_chunk_is_detected() -> None:
    data = bytearray(_stream([4]))
    data[len(data) // 2] ^= 1
    reader, _ = _parse(bytes(data))
    assert reader.trailer is not None
    with pytest.raises(UploadFormatError, match="SHA-256"):
        verify_trailer(REGISTRY, _header(4), reader.trailer, reader.sha256, reader.rows)


def test_a_stream_signed_by_someone_else_is_refused() -> None:
    reader, _ = _parse(_stream([3], OTHER))
    assert reader.trailer is not None
    with pytest.raises(SignatureInvalid):
        verify_trailer(REGISTRY, _header(3), reader.trailer, reader.sha256, reader.rows)


def test_a_header_signed_by_someone_else_is_refused() -> None:
    header = _header(3)
    data = UploadWriter(header).start(OTHER)
    reader = UploadReader()
    assert reader.feed(data) == [header]
    with pytest.raises(SignatureInvalid):
        verify_header(REGISTRY, header, reader.header_signature)
    owners = UploadReader()
    owners.feed(UploadWriter(header).start(OWNER))
    with pytest.raises(SignatureInvalid):  # the owner's signature, on another row count
        verify_header(REGISTRY, _header(4), owners.header_signature)


def test_a_trailer_claiming_other_rows_is_refused() -> None:
    reader, _ = _parse(_stream([3]))
    assert reader.trailer is not None
    forged = UploadTrailer(
        4, reader.trailer.unique, reader.trailer.sha256, reader.trailer.signature
    )
    with pytest.raises(UploadFormatError, match="rows"):
        verify_trailer(REGISTRY, _header(3), forged, reader.sha256, reader.rows)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GARBAGE!" + b"x" * 20, "not a tyst upload"),
        (b"TYSTUP1\n" + b"x" * 20, "not a tyst upload"),
        (MAGIC + b"C" + (8).to_bytes(8, "little") + bytes(8), "start with a header"),
        (MAGIC + b"H" + (2**40).to_bytes(8, "little"), "too large"),
        (MAGIC + b"H" + (512 << 20).to_bytes(8, "little"), "too large"),
        (MAGIC + b"C" + (512 << 20).to_bytes(8, "little"), "too large"),
        (MAGIC + b"T" + (MAX_META_BYTES + 1).to_bytes(8, "little"), "too large"),
        (MAGIC + b"X" + (1).to_bytes(8, "little"), "unknown frame kind"),
        (MAGIC + b"H" + (2).to_bytes(8, "little") + b"{}", "header"),
        (MAGIC + b"H" + (6000).to_bytes(8, "little") + b"[" * 6000, "bad JSON"),
    ],
)
def test_malformed_streams_give_one_line(data: bytes, message: str) -> None:
    with pytest.raises(UploadFormatError, match=message) as info:
        UploadReader().feed(data)
    assert "\n" not in str(info.value)


def test_a_chunk_whose_size_does_not_match_its_rows_is_refused() -> None:
    w = UploadWriter(HEADER)
    start = w.start(OWNER)
    bad = b"C" + (8 + 8).to_bytes(8, "little") + (1).to_bytes(8, "little") + bytes(8)
    with pytest.raises(UploadFormatError, match="size"):
        UploadReader().feed(start + bad)


def _chunk_frame(rows: int, lanes: int = 3) -> bytes:
    payload = rows.to_bytes(8, "little") + bytes(16 * rows * lanes)
    return b"C" + len(payload).to_bytes(8, "little") + payload


def test_chunks_beyond_the_signed_row_count_are_refused() -> None:
    """The header's row count bounds the stream before the trailer is seen (finding 4)."""
    start = UploadWriter(_header(5)).start(OWNER)
    reader = UploadReader()
    reader.feed(start + _chunk_frame(3) + _chunk_frame(2))
    with pytest.raises(UploadFormatError, match="more than the header's 5 rows"):
        reader.feed(_chunk_frame(1))
    with pytest.raises(UploadFormatError, match="empty chunk"):
        UploadReader().feed(start + _chunk_frame(0))


def test_a_trailer_for_fewer_rows_than_the_header_is_refused() -> None:
    header = _header(5)
    w = UploadWriter(header)
    lanes = [(np.zeros(3, np.uint64), np.zeros(3, np.uint64))] * 3
    data = w.start(OWNER) + w.chunk(lanes)
    w.header = _header(3)  # a writer that lies in its trailer
    data += w.finish(OWNER, [])
    reader, _ = _parse(data)
    assert reader.trailer is not None
    with pytest.raises(UploadFormatError, match="header says 5"):
        verify_trailer(REGISTRY, header, reader.trailer, reader.sha256, reader.rows)


def test_large_chunks_are_split_into_bounded_frames() -> None:
    rows = (MAX_CHUNK_BYTES // (16 * 3)) * 2 + 5
    header = _header(rows)
    w = UploadWriter(header)
    lanes = [(np.arange(rows, dtype=np.uint64), np.arange(rows, dtype=np.uint64))] * 3
    data = w.start(OWNER) + w.chunk(lanes) + w.finish(OWNER, [])
    reader, frames = _parse(data, step=1 << 20)
    chunks = [f for f in frames if isinstance(f, Chunk)]
    assert len(chunks) == 3
    assert all(len(c.payload) <= MAX_CHUNK_BYTES for c in chunks)
    assert sum(c.rows for c in chunks) == rows
    assert reader.trailer is not None
    verify_trailer(REGISTRY, header, reader.trailer, reader.sha256, reader.rows)
    assert stored_bytes_bound(header) == rows * (16 * 3 + 40)


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


_VALID = _stream([3, 9])


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(1, 255)), max_size=4),
    cut=st.integers(0, len(_VALID)),
    tail=st.binary(max_size=64),
    step=st.integers(1, 97),
)
def test_fuzz_the_upload_reader_fails_only_with_one_line(
    flips: list[tuple[int, int]], cut: int, tail: bytes, step: int
) -> None:
    """Mutated, cut and extended streams, fed in pieces: a parse or one UploadFormatError
    line, and the reader never holds more than one bounded frame."""
    data = bytearray(_VALID[:cut] + tail)
    for at, mask in flips:
        if at < len(data):
            data[at] ^= mask
    reader = UploadReader()
    message = ""
    try:
        for at in range(0, len(data), step):
            reader.feed(bytes(data[at : at + step]))
            assert len(reader._buf) <= MAX_CHUNK_BYTES + 9 + step
    except UploadFormatError as exc:
        message = str(exc)
    assert "\n" not in message
    assert len(message) < 400
    if not message and reader.complete():
        assert reader.header is not None
        assert reader.trailer is not None
        with contextlib.suppress(UploadFormatError, SignatureInvalid, UnknownOrganisation):
            verify_header(REGISTRY, reader.header, reader.header_signature)
            verify_trailer(REGISTRY, reader.header, reader.trailer, reader.sha256, reader.rows)
            assert bytes(data) == _VALID  # only the untouched stream verifies
