"""The frame codec of the TCP transport.

Wire format
-----------
Every message on a directed link ``a -> b`` is one frame::

    offset  size  field
    0       4     magic   b"TYST"
    4       1     version 2
    5       16    job id  (the same for every frame of one job)
    21      8     step    uint64 big-endian: 0, 1, 2, ... on this directed link
    29      8     round   uint64 big-endian: the sender's round counter + 1 (see
                          :mod:`tyst.net.transport`, "Rounds"); public, like the step
    37      8     length  uint64 big-endian: number of payload bytes
    45      n     payload

Nothing is pickled: the payload is opaque bytes.

Contract
--------
:func:`encode_header` produces exactly :data:`HEADER_SIZE` bytes.
:class:`FrameDecoder` turns a byte stream, delivered in arbitrary fragments, back
into :class:`Frame` objects, checking every header field; any deviation raises
:class:`~tyst.net.transport.FrameError` as soon as the offending byte arrives
(a wrong magic byte is reported on that byte, not after the whole header).
After an error the decoder is poisoned: every further call raises the same error.

Each payload is copied exactly once, into a ``bytearray`` preallocated from the
header's length field. A socket reader can avoid even that copy by receiving
directly into :meth:`FrameDecoder.writable` and then calling
:meth:`FrameDecoder.commit`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tyst.net.transport import FrameError, Payload

MAGIC = b"TYST"
VERSION = 2
JOB_ID_SIZE = 16
UINT64_MAX = 2**64 - 1

_HEADER = struct.Struct(">4sB16sQQQ")
HEADER_SIZE = _HEADER.size  # 45

_MAGIC_END = 4
_VERSION_END = 5
_JOB_END = 5 + JOB_ID_SIZE  # 21
_STEP_END = _JOB_END + 8  # 29
_ROUND_END = _STEP_END + 8  # 37
_LENGTH_END = _ROUND_END + 8  # 45
assert _LENGTH_END == HEADER_SIZE


@dataclass
class Frame:
    """One decoded message: its step on the link, its payload and its round tag."""

    step: int
    payload: bytearray
    round: int = 0


def _check_job(job: bytes) -> bytes:
    job = bytes(job)
    if len(job) != JOB_ID_SIZE:
        raise ValueError(f"job id must be {JOB_ID_SIZE} bytes, got {len(job)}")
    return job


def encode_header(job: bytes, step: int, length: int, round_tag: int = 0) -> bytes:
    """Return the :data:`HEADER_SIZE`-byte header of frame ``step`` with ``length`` payload
    bytes and the round tag ``round_tag``.

    Raises ``ValueError`` if ``job`` is not 16 bytes or ``step``/``length``/``round_tag``
    are not in ``0 .. 2**64-1``.
    """
    job = _check_job(job)
    if not 0 <= step <= UINT64_MAX:
        raise ValueError(f"step {step} out of range")
    if not 0 <= length <= UINT64_MAX:
        raise ValueError(f"length {length} out of range")
    if not 0 <= round_tag <= UINT64_MAX:
        raise ValueError(f"round {round_tag} out of range")
    return _HEADER.pack(MAGIC, VERSION, job, step, round_tag, length)


def encode_frame(job: bytes, step: int, payload: Payload, round_tag: int = 0) -> bytes:
    """Return header + payload as one ``bytes`` (a copy; for small messages and tests)."""
    data = memoryview(payload).cast("B")
    return encode_header(job, step, data.nbytes, round_tag) + bytes(data)


class FrameDecoder:
    """Incremental decoder of the frames of one directed link of one job.

    Two equivalent ways to drive it:

    * ``feed(data)`` with fragments of any size (1 byte, many frames at once);
      returns the frames completed by that fragment, in order.
    * zero-copy: ``view = decoder.writable()``, write ``n`` bytes at the start
      of ``view`` (e.g. ``n = sock.recv_into(view)``), then
      ``decoder.commit(n)``, which returns the completed frame or ``None``.

    Guarantees: frames come out with steps 0, 1, 2, ... in order; their
    ``payload`` is a fresh ``bytearray`` of exactly the announced length that
    the decoder never touches again. Raises :class:`FrameError` on a wrong
    magic, version or job id, a step other than the expected one, or a length
    above ``max_length``.
    """

    def __init__(self, job: bytes, max_length: int) -> None:
        if max_length < 0:
            raise ValueError("max_length must be >= 0")
        self._job = _check_job(job)
        self._max_length = max_length
        self._header = bytearray(HEADER_SIZE)
        self._header_view = memoryview(self._header)
        self._header_fill = 0
        self._payload: bytearray | None = None
        self._payload_view: memoryview | None = None
        self._payload_fill = 0
        self._step = 0
        self._pending_step = 0
        self._pending_round = 0
        self._error: FrameError | None = None

    @property
    def next_step(self) -> int:
        """The step of the next frame to be completed."""
        return self._step

    @property
    def mid_frame(self) -> bool:
        """True if part of a frame has been received but the frame is not complete."""
        return self._header_fill > 0 or self._payload is not None

    @property
    def bytes_pending(self) -> int:
        """Bytes still missing to complete the current frame (header part only if no header)."""
        if self._payload_view is not None:
            return len(self._payload_view) - self._payload_fill
        return HEADER_SIZE - self._header_fill

    def writable(self) -> memoryview:
        """Return the non-empty buffer region the next incoming bytes belong in.

        In the header phase this is the rest of the header; in the payload
        phase it is the rest of the payload buffer (possibly hundreds of MB),
        so one ``recv_into`` call can fill it without an intermediate copy.
        Write a prefix of it, then call :meth:`commit` with the byte count.
        """
        self._raise_if_failed()
        if self._payload_view is not None:
            return self._payload_view[self._payload_fill :]
        return self._header_view[self._header_fill :]

    def commit(self, n: int) -> Frame | None:
        """Account for ``n`` bytes written at the start of the last :meth:`writable` view.

        Returns the frame this completes, if any. Raises :class:`FrameError`
        if the bytes make the header invalid.
        """
        self._raise_if_failed()
        if n < 0 or n > self.bytes_pending:
            raise ValueError(f"commit({n}) but only {self.bytes_pending} bytes were writable")
        if self._payload_view is not None:
            self._payload_fill += n
            if self._payload_fill == len(self._payload_view):
                return self._finish()
            return None
        before = self._header_fill
        self._header_fill += n
        try:
            self._check_header(before, self._header_fill)
        except FrameError as exc:
            self._error = exc
            raise
        if self._header_fill < HEADER_SIZE:
            return None
        _, _, _, step, round_tag, length = _HEADER.unpack(self._header)
        self._header_fill = 0
        self._pending_step = step
        self._pending_round = round_tag
        self._payload = bytearray(length)
        if length == 0:
            return self._finish()
        self._payload_view = memoryview(self._payload)
        self._payload_fill = 0
        return None

    def feed(self, data: Payload) -> list[Frame]:
        """Consume ``data`` (any fragment of the stream); return the frames it completes."""
        self._raise_if_failed()
        src = memoryview(data).cast("B")
        frames: list[Frame] = []
        pos, end = 0, len(src)
        while pos < end:
            target = self.writable()
            k = min(len(target), end - pos)
            target[:k] = src[pos : pos + k]
            pos += k
            frame = self.commit(k)
            if frame is not None:
                frames.append(frame)
        return frames

    # -- internals -----------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise FrameError(str(self._error))

    def _finish(self) -> Frame:
        payload = self._payload
        assert payload is not None
        if self._payload_view is not None:
            self._payload_view.release()
        self._payload = None
        self._payload_view = None
        self._payload_fill = 0
        self._step += 1
        return Frame(step=self._pending_step, payload=payload, round=self._pending_round)

    def _check_header(self, before: int, after: int) -> None:
        """Validate the header fields touched by bytes ``before .. after`` of the header."""
        h = self._header
        where = f"frame {self._step}"
        if before < _MAGIC_END:
            hi = min(after, _MAGIC_END)
            if h[before:hi] != MAGIC[before:hi]:
                raise FrameError(f"{where}: bad magic {bytes(h[:hi])!r} (expected {MAGIC!r})")
        if before < _VERSION_END <= after and h[_MAGIC_END] != VERSION:
            raise FrameError(
                f"{where}: unsupported protocol version {h[_MAGIC_END]} (expected {VERSION})"
            )
        if before < _JOB_END and after > _VERSION_END:
            lo, hi = max(before, _VERSION_END), min(after, _JOB_END)
            if h[lo:hi] != self._job[lo - _VERSION_END : hi - _VERSION_END]:
                job_hex = bytes(h[_VERSION_END:hi]).hex() + ("" if hi == _JOB_END else "...")
                raise FrameError(
                    f"{where}: frame belongs to job {job_hex}, expected job {self._job.hex()}"
                )
        if before < _STEP_END <= after:
            (step,) = struct.unpack_from(">Q", h, _JOB_END)
            if step != self._step:
                raise FrameError(f"{where}: out-of-order step {step} (expected step {self._step})")
        if before < _LENGTH_END <= after:
            (length,) = struct.unpack_from(">Q", h, _ROUND_END)
            if length > self._max_length:
                raise FrameError(
                    f"{where}: payload length {length} exceeds the limit of "
                    f"{self._max_length} bytes"
                )
