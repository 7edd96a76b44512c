"""The frame codec: round trips, arbitrary fragmentation, and every kind of garbage."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.net.framing import (
    HEADER_SIZE,
    MAGIC,
    VERSION,
    Frame,
    FrameDecoder,
    encode_frame,
    encode_header,
)
from tyst.net.transport import FrameError

JOB = bytes(range(16))
OTHER_JOB = bytes(range(1, 17))


def stream_of(payloads: list[bytes], job: bytes = JOB) -> bytes:
    return b"".join(encode_frame(job, i, p) for i, p in enumerate(payloads))


def test_header_layout() -> None:
    h = encode_header(JOB, 7, 1234, 5)
    assert len(h) == HEADER_SIZE == 45
    assert h[:4] == MAGIC == b"TYST"
    assert h[4] == VERSION == 2
    assert h[5:21] == JOB
    assert struct.unpack(">QQQ", h[21:45]) == (7, 5, 1234)


def test_round_tag_round_trips() -> None:
    stream = encode_frame(JOB, 0, b"a", 3) + encode_frame(JOB, 1, b"", 9)
    frames = FrameDecoder(JOB, 100).feed(stream)
    assert [(f.step, f.round, bytes(f.payload)) for f in frames] == [(0, 3, b"a"), (1, 9, b"")]


@pytest.mark.parametrize(
    ("job", "step", "length"),
    [(b"short", 0, 0), (JOB, -1, 0), (JOB, 2**64, 0), (JOB, 0, -1), (JOB, 0, 2**64)],
)
def test_header_rejects_bad_arguments(job: bytes, step: int, length: int) -> None:
    with pytest.raises(ValueError, match=r"job id|out of range"):
        encode_header(job, step, length)


def test_round_trip_whole_stream() -> None:
    payloads = [b"", b"x", b"hello world", bytes(100_000)]
    frames = FrameDecoder(JOB, 1 << 20).feed(stream_of(payloads))
    assert [f.step for f in frames] == [0, 1, 2, 3]
    assert [bytes(f.payload) for f in frames] == payloads
    assert all(type(f.payload) is bytearray for f in frames)


def test_round_trip_one_byte_at_a_time() -> None:
    payloads = [b"abc", b"", b"defgh"]
    dec = FrameDecoder(JOB, 100)
    frames: list[Frame] = []
    for b in stream_of(payloads):
        frames += dec.feed(bytes([b]))
    assert [bytes(f.payload) for f in frames] == payloads
    assert not dec.mid_frame
    assert dec.next_step == 3


def test_zero_copy_path_matches_feed() -> None:
    payloads = [b"first", bytes(range(256)) * 100, b""]
    data = stream_of(payloads)
    dec = FrameDecoder(JOB, 1 << 20)
    frames: list[Frame] = []
    pos = 0
    while pos < len(data):
        with dec.writable() as view:
            n = min(len(view), 1000, len(data) - pos)
            view[:n] = data[pos : pos + n]
        pos += n
        frame = dec.commit(n)
        if frame is not None:
            frames.append(frame)
    assert [bytes(f.payload) for f in frames] == payloads


def test_writable_covers_the_whole_payload() -> None:
    dec = FrameDecoder(JOB, 1 << 30)
    assert dec.feed(encode_header(JOB, 0, 50_000_000)) == []
    view = dec.writable()
    assert len(view) == 50_000_000  # one recv_into can fill the payload directly
    view.release()
    assert dec.mid_frame
    assert dec.bytes_pending == 50_000_000


def test_payloads_are_independent_and_resizable() -> None:
    frames = FrameDecoder(JOB, 100).feed(stream_of([b"ab", b"cd"]))
    for f in frames:
        f.payload.extend(b"!")  # fails with BufferError if the decoder kept a view
    assert [bytes(f.payload) for f in frames] == [b"ab!", b"cd!"]


def test_feed_accepts_any_buffer() -> None:
    data = stream_of([b"12345678"])
    dec = FrameDecoder(JOB, 100)
    frames = dec.feed(memoryview(bytearray(data[:10]))) + dec.feed(bytearray(data[10:]))
    assert [bytes(f.payload) for f in frames] == [b"12345678"]


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_arbitrary_fragmentation(payloads: list[bytes], cuts: list[int]) -> None:
    data = stream_of(payloads)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    dec = FrameDecoder(JOB, 300)
    frames: list[Frame] = []
    for a, b in itertools.pairwise(points):
        frames += dec.feed(data[a:b])
    assert [f.step for f in frames] == list(range(len(payloads)))
    assert [bytes(f.payload) for f in frames] == payloads
    assert not dec.mid_frame


# -- garbage ---------------------------------------------------------------------


def test_bad_magic_is_reported_on_the_first_byte() -> None:
    dec = FrameDecoder(JOB, 100)
    with pytest.raises(FrameError, match="bad magic"):
        dec.feed(b"X")


def test_bad_magic_later_byte() -> None:
    dec = FrameDecoder(JOB, 100)
    dec.feed(b"TY")
    with pytest.raises(FrameError, match=r"bad magic b'TYSX'"):
        dec.feed(b"SX")


def test_wrong_version() -> None:
    bad = b"TYST" + bytes([1]) + JOB + struct.pack(">QQQ", 0, 0, 0)
    with pytest.raises(FrameError, match="version 1"):
        FrameDecoder(JOB, 100).feed(bad)


def test_wrong_job() -> None:
    with pytest.raises(FrameError, match=f"expected job {JOB.hex()}"):
        FrameDecoder(JOB, 100).feed(encode_frame(OTHER_JOB, 0, b"hi"))


def test_wrong_job_detected_before_the_header_is_complete() -> None:
    dec = FrameDecoder(JOB, 100)
    with pytest.raises(FrameError, match="job"):
        dec.feed(encode_frame(OTHER_JOB, 0, b"")[:6])


def test_out_of_order_step() -> None:
    dec = FrameDecoder(JOB, 100)
    dec.feed(encode_frame(JOB, 0, b"a"))
    with pytest.raises(FrameError, match=r"out-of-order step 2 \(expected step 1\)"):
        dec.feed(encode_frame(JOB, 2, b"b"))


def test_replayed_step() -> None:
    dec = FrameDecoder(JOB, 100)
    frame = encode_frame(JOB, 0, b"a")
    dec.feed(frame)
    with pytest.raises(FrameError, match="out-of-order step 0"):
        dec.feed(frame)


def test_oversize_length() -> None:
    dec = FrameDecoder(JOB, 1000)
    with pytest.raises(FrameError, match="exceeds the limit of 1000"):
        dec.feed(encode_header(JOB, 0, 1001))


def test_length_at_the_limit_is_fine() -> None:
    frames = FrameDecoder(JOB, 1000).feed(encode_frame(JOB, 0, bytes(1000)))
    assert len(frames[0].payload) == 1000


def test_decoder_is_poisoned_after_an_error() -> None:
    dec = FrameDecoder(JOB, 100)
    with pytest.raises(FrameError):
        dec.feed(b"garbage")
    with pytest.raises(FrameError, match="bad magic"):
        dec.feed(encode_frame(JOB, 0, b"ok"))
    with pytest.raises(FrameError):
        dec.writable()


def test_commit_more_than_writable_is_a_bug() -> None:
    dec = FrameDecoder(JOB, 100)
    with pytest.raises(ValueError, match="commit"):
        dec.commit(HEADER_SIZE + 1)


def test_decoder_rejects_bad_job_length() -> None:
    with pytest.raises(ValueError, match="job id"):
        FrameDecoder(b"x", 100)
