"""The transport interface seen by the MPC layer, and its errors.

Contract
--------
A :class:`Transport` connects exactly one party (index 0, 1 or 2) to the two
other parties of one job. Messages are opaque byte strings; the transport adds
framing ``(job, step, length, payload)`` where ``step`` counts the messages
sent on one directed link, so the receiver can check that it gets exactly the
message it expects, in order. Nothing is pickled; the MPC layer sends raw
little-endian ``uint64`` arrays.

Every ``recv`` is bounded by the transport's timeout: a silent, disconnected or
misbehaving peer raises a :class:`TransportError` subclass naming the peer, and
never hangs.

Rounds
------
Every transport keeps a round counter ``r`` (:attr:`LinkStats.rounds`, 0 at the
start). Each message carries the tag ``r + 1`` of its sender at the moment it
is sent; a ``recv`` sets ``r = max(r, tag)``. So ``r`` is the length of the
longest chain of messages ending at this party in which each message was sent
after the previous one had been received: the number of *sequential message
delays* this party has waited through. One multiplication, one opening or one
input sharing is 1 round; a circuit of depth d is d rounds; independent
messages sent before waiting (chunks, batched openings) share a round. The
count depends only on the order of a program's sends and receives, never on
timing, so it is deterministic for a program whose communication pattern is
(every tyst protocol except the sort, whose number of comparison batches
depends on the secret shuffle's random permutation, not on the data). A job's
rounds are the maximum over its parties; with a one-way delay ``d`` on every
link no run can take less than ``rounds × d`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Payload = bytes | bytearray | memoryview


class TransportError(RuntimeError):
    """Base class of every failure of the link between parties."""


class PeerTimeout(TransportError):
    """A peer sent nothing within the timeout."""


class PeerDisconnected(TransportError):
    """A peer closed the connection or the connection broke."""


class FrameError(TransportError):
    """A peer sent bytes that are not a valid frame for this job and step."""


@dataclass
class LinkStats:
    """Bytes and messages a party has sent and received (payload and framing), and its
    round counter (see "Rounds" in the module docstring)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    rounds: int = 0


@runtime_checkable
class Transport(Protocol):
    """Point-to-point links from one party to the two others."""

    @property
    def party(self) -> int:
        """This party's index, 0..2."""
        ...

    @property
    def stats(self) -> LinkStats:
        """Traffic counters of this party."""
        ...

    def send(self, to: int, payload: Payload) -> None:
        """Queue ``payload`` for party ``to``; returns without waiting for the peer."""
        ...

    def recv(self, frm: int) -> bytearray:
        """Return the next message from party ``frm``; raises TransportError on failure."""
        ...

    def close(self) -> None:
        """Release the links; further use raises TransportError."""
        ...
