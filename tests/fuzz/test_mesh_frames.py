"""Fuzz target: the incremental frame decoder of the mesh (:mod:`tyst.net.framing`).

An outsider that completes a TLS handshake with a node's mesh port (or a peer
node) controls the bytes every :class:`~tyst.net.framing.FrameDecoder` sees.

Inputs: arbitrary byte streams, and streams of valid frames that are bit-flipped,
cut, extended, spliced with frames of another job, reordered or duplicated — fed
in random fragments through ``feed`` or through ``writable``/``commit`` (the
socket path), with limits from 0 to 1 MiB.
Properties: the only exception is :class:`~tyst.net.transport.FrameError` with a
one-line message, and after it every call raises ``FrameError`` again; the frames
and the error agree with a whole-stream reference parser (so an error is raised
on the first offending byte, never later; a ``feed`` call that raises drops the
frames its own fragment completed before the offending byte); the decoder never buffers more
than one header plus ``max_length`` payload bytes (it allocates a payload only
after checking its length), whatever length a header announces.
"""

from __future__ import annotations

import struct
import tracemalloc
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import fuzz_settings, one_line
from tyst.net.framing import HEADER_SIZE, MAGIC, VERSION, FrameDecoder, encode_frame
from tyst.net.transport import FrameError

JOB = bytes(range(16))
OTHER_JOB = bytes(range(16, 32))
LIMITS = (0, 1, 37, 100, 4096, 1 << 20)


@dataclass(frozen=True)
class Case:
    """One fuzz input: the stream, the decoder's limit, how to cut it and which API to drive."""

    data: bytes
    max_length: int
    fragments: tuple[int, ...]
    zero_copy: bool


# ----------------------------------------------------------------------------- reference


def reference(data: bytes, max_length: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Decode the whole stream at once: the complete frames and whether it is invalid."""
    frames: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        h = data[pos : pos + HEADER_SIZE]
        n = len(h)
        if h[:4] != MAGIC[: min(n, 4)]:
            return frames, True
        if n > 4 and h[4] != VERSION:
            return frames, True
        if n > 5 and h[5:21] != JOB[: min(n, 21) - 5]:
            return frames, True
        if n >= 29 and struct.unpack_from(">Q", h, 21)[0] != len(frames):
            return frames, True
        if n < HEADER_SIZE:
            return frames, False
        (length,) = struct.unpack_from(">Q", h, 37)  # after the step (21) and round tag (29)
        if length > max_length:
            return frames, True
        end = pos + HEADER_SIZE + length
        if end > len(data):
            return frames, False
        frames.append((len(frames), data[pos + HEADER_SIZE : end]))
        pos = end
    return frames, False


# ----------------------------------------------------------------------------- the check


def _buffered(decoder: FrameDecoder) -> int:
    """Bytes the decoder holds for the frame in progress (header buffer + payload buffer)."""
    payload = decoder._payload
    return len(decoder._header) + (len(payload) if payload is not None else 0)


def check_stream(case: Case) -> str:
    """Decode ``case`` incrementally; return ``"ok"``, ``"partial"`` or ``"FrameError"``."""
    decoder = FrameDecoder(JOB, case.max_length)
    frames: list[tuple[int, bytes]] = []
    error: FrameError | None = None
    pos = 0
    cuts = case.fragments or (len(case.data) or 1,)
    i = 0
    try:
        while pos < len(case.data):
            size = max(1, cuts[i % len(cuts)])
            i += 1
            piece = case.data[pos : pos + size]
            if case.zero_copy:
                view = decoder.writable()
                k = min(len(view), len(piece))
                assert k > 0, "writable() returned an empty view"
                view[:k] = piece[:k]
                pos += k
                frame = decoder.commit(k)
                got = [] if frame is None else [frame]
            else:
                pos += len(piece)
                got = decoder.feed(piece)
            for frame in got:
                assert type(frame.payload) is bytearray
                assert len(frame.payload) <= case.max_length
                frames.append((frame.step, bytes(frame.payload)))
            assert _buffered(decoder) <= HEADER_SIZE + case.max_length
    except FrameError as exc:
        error = exc
        one_line(exc)
    expected, invalid = reference(case.data, case.max_length)
    # ``feed`` raising drops the frames its own fragment completed before the bad byte
    assert frames == (expected[: len(frames)] if error is not None else expected)
    assert (error is not None) == invalid, (error, invalid)
    if error is not None:
        # poisoned: every further call raises the same error
        for call in (lambda: decoder.feed(b"x"), decoder.writable, lambda: decoder.commit(0)):
            again: FrameError | None = None
            try:
                call()
            except FrameError as exc:
                again = exc
            assert again is not None, "the decoder accepted input after an error"
            assert str(again) == str(error)
        return "FrameError"
    assert decoder.next_step == len(frames)
    return "partial" if decoder.mid_frame else "ok"


# ----------------------------------------------------------------------------- inputs

payloads = st.lists(st.binary(max_size=64), max_size=6)


@st.composite
def valid_streams(draw: st.DrawFn) -> bytes:
    return b"".join(encode_frame(JOB, i, p) for i, p in enumerate(draw(payloads)))


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    """Valid frames, then flips, cuts, insertions, foreign or repeated frames, huge lengths."""
    frames = [encode_frame(JOB, i, p) for i, p in enumerate(draw(payloads))]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["other_job", "repeat", "swap", "step", "round", "length"]))
        if op == "other_job":
            frames.insert(
                draw(st.integers(0, len(frames))),
                encode_frame(OTHER_JOB, len(frames), draw(st.binary(max_size=8))),
            )
        elif frames and op == "repeat":
            frames.insert(draw(st.integers(0, len(frames))), draw(st.sampled_from(frames)))
        elif len(frames) > 1 and op == "swap":
            i, j = draw(st.integers(0, len(frames) - 1)), draw(st.integers(0, len(frames) - 1))
            frames[i], frames[j] = frames[j], frames[i]
        elif frames and op in ("step", "round", "length"):
            i = draw(st.integers(0, len(frames) - 1))
            value = draw(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([2**64 - 1, 2**63])))
            at = {"step": 21, "round": 29, "length": 37}[op]
            f = bytearray(frames[i])
            f[at : at + 8] = struct.pack(">Q", value)
            frames[i] = bytes(f)
    data = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


STREAMS = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=40).map(lambda tail: MAGIC + bytes([VERSION]) + JOB + tail),
    valid_streams(),
    mutated_streams(),
)

CASES = st.builds(
    Case,
    data=STREAMS,
    max_length=st.sampled_from(LIMITS),
    fragments=st.lists(st.integers(1, 80), max_size=8).map(tuple),
    zero_copy=st.booleans(),
)
"""Strategy of decoder inputs (benchmarks/fuzz.py uses it too)."""


@fuzz_settings(2)
@given(CASES)
def test_fuzz_frame_decoder_fails_only_with_frame_error(case: Case) -> None:
    check_stream(case)


def test_the_seeds_decode() -> None:
    data = b"".join(encode_frame(JOB, i, bytes([i]) * i) for i in range(5))
    for zero_copy in (False, True):
        assert check_stream(Case(data, 100, (1, 7, 3), zero_copy)) == "ok"


def check_announced_length(length: int, max_length: int) -> int:
    """Feed one header announcing ``length``; return the peak bytes traced while decoding."""
    header = MAGIC + bytes([VERSION]) + JOB + struct.pack(">QQQ", 0, 0, length)
    decoder = FrameDecoder(JOB, max_length)
    tracemalloc.start()
    try:
        try:
            decoder.feed(header)
        except FrameError as exc:
            one_line(exc)
            assert length > max_length
        else:
            assert length <= max_length
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= max_length + 64 * 1024, (length, max_length, peak)
    return peak


@fuzz_settings(0.5)
@given(st.integers(0, 2**64 - 1), st.sampled_from((0, 4096, 1 << 20)))
def test_fuzz_an_announced_length_never_allocates_above_the_limit(
    length: int, max_length: int
) -> None:
    check_announced_length(length, max_length)


def test_a_huge_announced_length_allocates_nothing() -> None:
    assert check_announced_length(2**64 - 1, 1 << 20) < 64 * 1024
    assert check_announced_length(1 << 20, 1 << 20) >= 1 << 20  # the bound is real
