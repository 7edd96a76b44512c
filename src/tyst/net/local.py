"""In-process transport: three parties in one process, one thread each.

Used by the test suite to run all three parties of a protocol in a single
Python process (each party in its own thread). Messages are copied, so a
party can never alias another party's arrays. Each message travels with its
round tag (:mod:`tyst.net.transport`, "Rounds"), so round counts are the same
as over TLS.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from tyst.net.transport import LinkStats, Payload, PeerDisconnected, PeerTimeout, TransportError

T = TypeVar("T")

_CLOSED = object()


class LocalHub:
    """The shared mailboxes of three in-process parties: ``boxes[(frm, to)]``."""

    def __init__(self, n_parties: int = 3) -> None:
        self.n_parties = n_parties
        self.boxes: dict[tuple[int, int], queue.Queue[object]] = {
            (a, b): queue.Queue() for a in range(n_parties) for b in range(n_parties) if a != b
        }


class LocalTransport:
    """One party's end of a :class:`LocalHub`."""

    def __init__(self, hub: LocalHub, party: int, timeout: float = 60.0) -> None:
        self._hub = hub
        self._party = party
        self._timeout = timeout
        self._stats = LinkStats()
        self._closed = False

    @property
    def party(self) -> int:
        return self._party

    @property
    def stats(self) -> LinkStats:
        return self._stats

    def _check_peer(self, other: int) -> None:
        if self._closed:
            raise TransportError(f"party {self._party}: transport is closed")
        if other == self._party or not 0 <= other < self._hub.n_parties:
            raise ValueError(f"party {self._party}: no link to party {other}")

    def send(self, to: int, payload: Payload) -> None:
        self._check_peer(to)
        data = bytes(payload)
        self._stats.bytes_sent += len(data)
        self._stats.messages_sent += 1
        self._hub.boxes[(self._party, to)].put((self._stats.rounds + 1, data))

    def recv(self, frm: int) -> bytearray:
        self._check_peer(frm)
        try:
            item = self._hub.boxes[(frm, self._party)].get(timeout=self._timeout)
        except queue.Empty:
            raise PeerTimeout(
                f"party {self._party}: nothing from party {frm} within {self._timeout:g} s"
            ) from None
        if item is _CLOSED:
            raise PeerDisconnected(f"party {self._party}: party {frm} closed its link")
        assert isinstance(item, tuple)
        tag, data = item
        self._stats.bytes_received += len(data)
        self._stats.messages_received += 1
        self._stats.rounds = max(self._stats.rounds, tag)
        return bytearray(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for other in range(self._hub.n_parties):
                if other != self._party:
                    self._hub.boxes[(self._party, other)].put(_CLOSED)


def run_local(
    program: Callable[[LocalTransport], T],
    *,
    n_parties: int = 3,
    timeout: float = 60.0,
    programs: Sequence[Callable[[LocalTransport], T]] | None = None,
) -> list[T]:
    """Run ``program`` (or ``programs[i]``) for every party in its own thread.

    Returns the parties' results in party order. If any party raises, the
    first exception (in party order) is re-raised after all threads end; the
    failing party closes its links so the others fail fast instead of waiting
    for the timeout.
    """
    hub = LocalHub(n_parties)
    results: list[T | None] = [None] * n_parties
    errors: list[BaseException | None] = [None] * n_parties

    def body(i: int) -> None:
        transport = LocalTransport(hub, i, timeout=timeout)
        fn = programs[i] if programs is not None else program
        try:
            results[i] = fn(transport)
        except BaseException as exc:
            errors[i] = exc
        finally:
            transport.close()

    threads = [
        threading.Thread(target=body, args=(i,), name=f"party-{i}") for i in range(n_parties)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for err in errors:
        if err is not None:
            raise err
    return results  # type: ignore[return-value]
