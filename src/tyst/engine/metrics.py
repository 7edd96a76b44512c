"""What each node measures about itself during a job."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

from tyst.mpc.party import Party
from tyst.net.transport import LinkStats


@dataclass(frozen=True)
class NodeMetrics:
    """Wall and CPU seconds of the measured section, traffic, and peak memory of one node.

    ``rounds`` is how much the node's round counter grew over the section: the
    sequential message delays it waited through (:mod:`tyst.net.transport`,
    "Rounds"); ``messages_sent`` counts its messages to both peers.
    """

    party: int
    seconds: float
    cpu_seconds: float
    bytes_sent: int
    bytes_received: int
    peak_rss_bytes: int
    rounds: int = 0
    messages_sent: int = 0


class Stopwatch:
    """Measures one section of a node program: wall time, CPU time and traffic."""

    def __init__(self, party: Party) -> None:
        self._party = party
        stats = party.transport.stats
        self._sent0, self._recv0 = stats.bytes_sent, stats.bytes_received
        self._rounds0, self._messages0 = stats.rounds, stats.messages_sent
        self._t0 = time.perf_counter()
        self._c0 = time.process_time()

    def stop(self) -> NodeMetrics:
        seconds = time.perf_counter() - self._t0
        cpu = time.process_time() - self._c0
        stats: LinkStats = self._party.transport.stats
        return NodeMetrics(
            party=self._party.index,
            seconds=seconds,
            cpu_seconds=cpu,
            bytes_sent=stats.bytes_sent - self._sent0,
            bytes_received=stats.bytes_received - self._recv0,
            peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            rounds=stats.rounds - self._rounds0,
            messages_sent=stats.messages_sent - self._messages0,
        )


def barrier(party: Party) -> None:
    """Loosely synchronise the three nodes: one tiny message around the ring."""
    party.transport.send(party.next, b"\x00")
    party.transport.recv(party.prev)
