"""A userspace delay-and-bandwidth relay for the node mesh, on loopback only.

This kernel has no ``netem``, so links between the three nodes are slowed down
in userspace: every directed mesh link ``a -> b`` (a TCP connection that ``a``
dials to ``b``'s listener, carrying TLS end to end) is dialled to a
:class:`Relay` instead, which forwards the bytes to ``b``'s real port and back.

Link model (each direction of each connection): a FIFO line with a rate and a
propagation delay. A chunk of bytes read at time t leaves the line's input at
``start = max(t, end of the previous chunk)``, takes ``len / bandwidth``
seconds to serialise (0 without a cap) and is written to the other side at
``start + len / bandwidth + delay``. So every byte arrives at least ``delay``
seconds after the relay read it, in order and unchanged, and a direction never
carries more than ``bandwidth`` bytes per second on average. The relay reads
eagerly (its buffers are unbounded), so TCP's window never limits a delayed
link the way it may over a real one with a small window.

Only 127.0.0.1 is ever bound or dialled (:class:`Relay` refuses anything else).

Usage with the launcher (:func:`tyst.net.launcher.run_tls_parties_detailed`)::

    with MeshRelay(delay=0.010) as mesh:            # 10 ms one way on every link
        runs = run_tls_parties_detailed(program, args, route=mesh.route)

Threads: per relayed connection and direction one reader and one writer
thread; :meth:`Relay.close` (or leaving the ``with`` block) closes every socket
and joins them.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

LOOPBACK = "127.0.0.1"
_CHUNK = 256 << 10
_JOIN = 5.0

Address = tuple[str, int]


@dataclass(frozen=True)
class LinkShape:
    """One direction's one-way ``delay`` (seconds) and optional ``bandwidth`` cap (bytes/s)."""

    delay: float = 0.0
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError("bandwidth must be positive")


def _loopback(address: Address) -> Address:
    host, port = address
    if host != LOOPBACK:
        raise ValueError(f"the relay works on {LOOPBACK} only, not {host!r}")
    return host, int(port)


class _Pipe:
    """One direction of one relayed connection: read ``src``, write ``dst`` when due."""

    def __init__(self, src: socket.socket, dst: socket.socket, shape: LinkShape) -> None:
        self.src, self.dst, self.shape = src, dst, shape
        self.cond = threading.Condition()
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.line_free = 0.0  # when the line has serialised everything queued so far
        self.done = False
        self.bytes = 0
        self.threads = [
            threading.Thread(target=self._read, name="relay-read", daemon=True),
            threading.Thread(target=self._write, name="relay-write", daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _due(self, now: float, size: int) -> float:
        start = max(now, self.line_free)
        serialise = size / self.shape.bandwidth if self.shape.bandwidth else 0.0
        self.line_free = start + serialise
        return self.line_free + self.shape.delay

    def _read(self) -> None:
        try:
            while True:
                data = self.src.recv(_CHUNK)
                with self.cond:
                    # b"" (end of stream) is queued too: it is delivered after the data.
                    self.queue.append((self._due(time.monotonic(), len(data)), data))
                    self.cond.notify()
                if not data:
                    return
        except OSError:
            with self.cond:
                self.queue.append((time.monotonic(), b""))
                self.cond.notify()

    def _write(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.queue:
                        self.cond.wait()
                    due, data = self.queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                with self.cond:
                    self.queue.popleft()
                if not data:
                    with contextlib.suppress(OSError):
                        self.dst.shutdown(socket.SHUT_WR)
                    return
                self.dst.sendall(data)
                self.bytes += len(data)
        except OSError:
            return
        finally:
            self.done = True


class Relay:
    """Listens on 127.0.0.1 (an OS-chosen port) and relays every connection to ``target``.

    ``forward`` shapes the bytes from the connecting side to ``target``,
    ``backward`` the bytes coming back.
    """

    def __init__(
        self, target: Address, forward: LinkShape, backward: LinkShape | None = None
    ) -> None:
        self.target = _loopback(target)
        self.forward = forward
        self.backward = backward if backward is not None else forward
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self.address: Address = (LOOPBACK, self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._pipes: list[_Pipe] = []
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipes = [_Pipe(client, server, self.forward), _Pipe(server, client, self.backward)]
            with self._lock:
                self._sockets += [client, server]
                self._pipes += pipes
            for p in pipes:
                p.start()

    @property
    def bytes_forwarded(self) -> int:
        """Bytes delivered to ``target`` so far (all connections)."""
        with self._lock:
            return sum(p.bytes for p in self._pipes[0::2])

    def close(self) -> None:
        """Stop accepting, close every relayed connection, join the threads."""
        self._stop.set()
        self._listener.close()
        self._acceptor.join(_JOIN)
        with self._lock:
            sockets, pipes = list(self._sockets), list(self._pipes)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for p in pipes:
            with p.cond:
                p.queue.append((0.0, b""))
                p.cond.notify()
            for t in p.threads:
                t.join(_JOIN)

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MeshRelay:
    """Relays for every directed link of a three-node mesh; ``route`` is the launcher's hook.

    ``delay`` (seconds, one way) and ``bandwidth`` (bytes/s) apply to every
    direction unless ``links[(a, b)]`` gives the shape of the bytes from party
    ``a`` to party ``b`` (both over the link ``a`` dials and the replies on the
    link ``b`` dials).
    """

    def __init__(
        self,
        delay: float = 0.0,
        bandwidth: float | None = None,
        links: Mapping[tuple[int, int], LinkShape] | None = None,
    ) -> None:
        self.default = LinkShape(delay, bandwidth)
        self.links = dict(links or {})
        self.relays: dict[tuple[int, int], Relay] = {}
        self._lock = threading.Lock()

    def shape(self, frm: int, to: int) -> LinkShape:
        """The shape of the bytes from party ``frm`` to party ``to``."""
        return self.links.get((frm, to), self.default)

    def route(self, party: int, addresses: Sequence[Address]) -> list[Address]:
        """The addresses party ``party`` dials: every peer's relay for the link ``party -> peer``
        (created on first use), its own entry unchanged."""
        out = []
        for peer, address in enumerate(addresses):
            if peer == party:
                out.append(_loopback(address))
                continue
            with self._lock:
                relay = self.relays.get((party, peer))
                if relay is None:
                    relay = Relay(address, self.shape(party, peer), self.shape(peer, party))
                    self.relays[(party, peer)] = relay
            out.append(relay.address)
        return out

    def close(self) -> None:
        """Close every relay."""
        with self._lock:
            relays = list(self.relays.values())
            self.relays.clear()
        for r in relays:
            r.close()

    def __enter__(self) -> MeshRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
