"""Mutual-TLS 1.3 TCP transport between the three compute nodes.

Contract
--------
:func:`connect_mesh` connects one party to every other party of a job and
returns a :class:`TlsTransport` implementing :class:`~tyst.net.transport.Transport`.

Security
    Every link is TLS 1.3 with certificates required on both sides; the only
    trusted root is the deployment CA of the node's
    :class:`~tyst.net.certs.NodeCredentials` (no system CAs). Each side checks
    that the peer's certificate identity (``party-{i}.tyst``, see
    :mod:`tyst.net.certs`) is the *expected* party index: a client checks the
    server's certificate for the party it dialled, a server checks that the
    client's certificate is the party the client claims to be in its link
    hello. A link hello also carries the 16-byte job id, so parties of
    different jobs never connect. Refusals raise :class:`HandshakeError`.

Link setup
    The acceptor sets up every incoming connection in its own thread, so a
    silent or slow connection (an outsider who reached the mesh port) cannot
    hold up a peer's handshake: each connection has ``handshake_timeout``
    (default :data:`HANDSHAKE_TIMEOUT`, 5 s) in total for its TLS handshake,
    link hello and reply, then it is closed; at most
    :data:`MAX_PENDING_HANDSHAKES` (32) are in setup at once, further ones wait
    in the listen backlog (of the same size) until a slot frees. Up to 32
    silent connections thus delay a peer not at all; more, queued ahead of it,
    delay it by one ``handshake_timeout`` per 32 of them. When setup ends,
    connections still in setup are closed.

    The dialling side retries, with backoff (50 ms doubling to 2 s) until
    ``connect_timeout``: refused TCP connections, and connections cut off
    before the link is set up (reset or closed during the TLS handshake or
    before the hello's reply — a TCP middlebox, a peer restarting). A refusal
    is final at once: an untrusted or wrong-party certificate, a TLS alert, a
    refused hello (job, party).

Links
    Each ordered pair ``(a, b)`` has its own TCP connection, dialled by the
    sender ``a`` and accepted by ``b``; it carries frames ``a -> b`` only (so
    there are two connections per pair of parties). This keeps every OpenSSL
    connection object in a single thread (the calling thread writes, one
    reader thread per peer reads), which OpenSSL requires, with no locking on
    the data path, and gives full duplex throughput.

Data path
    ``send`` writes header + payload from the calling thread (the payload is
    sent from a memoryview, not copied, except messages up to 64 KiB which go
    out in one write with their header). Every peer has a reader thread that
    always drains its connection into a queue, receiving payloads directly
    into their final buffer (``recv_into``); hence two parties sending large
    messages to each other at once cannot deadlock.

Failures
    ``recv(frm)`` waits at most ``timeout`` seconds, then raises
    :class:`~tyst.net.transport.PeerTimeout`. A closed or broken connection
    raises :class:`~tyst.net.transport.PeerDisconnected`, an invalid frame
    :class:`~tyst.net.transport.FrameError`; a failure seen by a reader thread
    is delivered to every ``recv`` on that peer after the messages that were
    completely received before it (those are still valid), including receivers
    already waiting. After a ``FrameError`` the offending link is reset, so the
    misbehaving peer's next sends fail with ``PeerDisconnected``. ``send``
    raises ``PeerTimeout`` if the peer accepts no data for ``timeout`` seconds
    and ``PeerDisconnected`` if the connection broke. All errors name this
    party and the peer. After ``close`` every call raises
    :class:`~tyst.net.transport.TransportError`.

``stats`` counts frames (header + payload) sent and delivered by ``recv``;
TLS record overhead and link setup are not counted. Every frame carries its
sender's round tag, so ``stats.rounds`` counts sequential message delays as
defined in :mod:`tyst.net.transport`.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tyst.net.certs import NodeCredentials, party_dns_name, party_from_dns_name, write_pem
from tyst.net.framing import HEADER_SIZE, JOB_ID_SIZE, FrameDecoder, encode_header
from tyst.net.transport import (
    FrameError,
    LinkStats,
    Payload,
    PeerDisconnected,
    PeerTimeout,
    TransportError,
)

DEFAULT_MAX_MESSAGE = 1 << 30
"""Default upper bound on one message's payload (1 GiB); longer frames are a FrameError."""

DEFAULT_SOCKET_BUFFER = 4 << 20
"""Requested SO_SNDBUF / SO_RCVBUF (the kernel may cap it at net.core.[rw]mem_max)."""

_SMALL_MESSAGE = 64 << 10
_SEND_CHUNK = 8 << 20
_RECV_MAX = 16 << 20
_HANDSHAKE_CAP = 10.0
_JOIN_TIMEOUT = 5.0
_MAX_REFUSALS = 20
_CLOSE_GRACE = 1.0

HANDSHAKE_TIMEOUT = 5.0
"""Seconds an incoming mesh connection has for its TLS handshake, link hello and reply."""

MAX_PENDING_HANDSHAKES = 32
"""Incoming mesh connections in setup at once; more wait in the listen backlog."""

_HELLO = struct.Struct(">8sB16sBB")
_HELLO_MAGIC = b"TYSTLINK"
_HELLO_VERSION = 1
_REPLY = struct.Struct(">BH")
_REPLY_OK = 0
_REPLY_REFUSED = 1

Address = tuple[str, int]


class HandshakeError(TransportError):
    """A link could not be set up: TLS failed, or the peer's identity or job was wrong."""


@dataclass(frozen=True)
class TlsContexts:
    """The TLS 1.3 contexts of one node: ``server`` accepts links, ``client`` dials them."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def make_tls_contexts(credentials: NodeCredentials) -> TlsContexts:
    """Build mutual-TLS 1.3 contexts trusting only ``credentials.ca_cert_pem``.

    Both contexts require a peer certificate; the client context also checks
    the server's host name (the transport passes the expected party identity
    as host name). The private key touches the disk only in a private
    temporary directory (mode 0700, key 0600) removed before returning,
    because OpenSSL loads certificate chains from files. Raises
    ``ssl.SSLError`` if the PEM data is unusable.
    """
    contexts = []
    with tempfile.TemporaryDirectory(prefix="tyst-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "node.pem", Path(tmp) / "node.key"
        write_pem(cert_file, credentials.cert_pem)
        write_pem(key_file, credentials.key_pem, private=True)
        for protocol in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS_CLIENT):
            ctx = ssl.SSLContext(protocol)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
            ctx.load_verify_locations(cadata=credentials.ca_cert_pem.decode("ascii"))
            ctx.load_cert_chain(cert_file, key_file)
            contexts.append(ctx)
    server, client = contexts
    # Links are one-way after setup: the dialling side never reads again, so
    # the server must not send session tickets after the handshake.
    server.num_tickets = 0
    assert client.check_hostname
    return TlsContexts(server=server, client=client)


def bind_listener(
    host: str = "127.0.0.1", port: int = 0, *, socket_buffer: int | None = DEFAULT_SOCKET_BUFFER
) -> socket.socket:
    """Bind and listen on ``(host, port)`` (port 0: the OS picks a free one).

    Pass the result as ``listen_socket`` to :func:`connect_mesh`; its port is
    ``sock.getsockname()[1]``. Raises ``OSError`` if the address is unusable.
    """
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _set_buffers(sock, socket_buffer)
        sock.bind(addr)
        sock.listen(MAX_PENDING_HANDSHAKES)
    except BaseException:
        sock.close()
        raise
    return sock


def _set_buffers(sock: socket.socket, size: int | None) -> None:
    if size:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def _peer_party(sock: ssl.SSLSocket) -> int | None:
    cert = sock.getpeercert()
    if not cert:
        return None
    found: set[int] = set()
    for entry in cert.get("subjectAltName", ()):
        if not isinstance(entry, tuple) or len(entry) != 2:
            continue
        kind, value = entry
        if kind == "DNS" and isinstance(value, str):
            p = party_from_dns_name(value)
            if p is not None:
                found.add(p)
    return found.pop() if len(found) == 1 else None


def _recv_exact(
    sock: ssl.SSLSocket, n: int, budget: Callable[[], float] | None = None
) -> bytes | None:
    """Read exactly ``n`` bytes, or return ``None`` on EOF.

    With ``budget`` (seconds left, raising ``TimeoutError`` when none are), each
    read waits at most what is left, so a peer trickling bytes cannot extend it.
    """
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if budget is not None:
            sock.settimeout(budget())
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return bytes(buf)


class _Inbox:
    """Messages and the terminal error of one incoming link."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.frames: collections.deque[tuple[bytearray, int]] = collections.deque()
        self.error: TransportError | None = None
        self.closed = False

    def put(self, payload: bytearray, round_tag: int) -> None:
        with self.cond:
            self.frames.append((payload, round_tag))
            self.cond.notify()

    def fail(self, error: TransportError) -> None:
        with self.cond:
            if self.error is None:
                self.error = error
            self.cond.notify_all()


class _Outlink:
    """The sending side of one outgoing link."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.step = 0
        self.error: TransportError | None = None


def _reraise(error: TransportError) -> TransportError:
    """A fresh exception of the same class and message (raising one instance twice grows it)."""
    return type(error)(str(error))


class TlsTransport:
    """One party's links to the other parties over mutual TLS (see the module docstring).

    Normally created by :func:`connect_mesh`. The constructor takes ownership
    of already authenticated sockets: ``outgoing[p]`` carries frames to party
    ``p``, ``incoming[p]`` frames from ``p``; it starts one reader thread per
    incoming link.
    """

    def __init__(
        self,
        party: int,
        job: bytes,
        outgoing: Mapping[int, ssl.SSLSocket],
        incoming: Mapping[int, ssl.SSLSocket],
        *,
        timeout: float = 60.0,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        if set(outgoing) != set(incoming) or party in outgoing:
            raise ValueError("outgoing and incoming must cover the same peers, not this party")
        if len(job) != JOB_ID_SIZE:
            raise ValueError(f"job id must be {JOB_ID_SIZE} bytes")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._party = party
        self._job = bytes(job)
        self._timeout = timeout
        self._max_message = max_message
        self._peers = tuple(sorted(outgoing))
        self._stats = LinkStats()
        self._stats_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        self._out = {p: _Outlink(s) for p, s in outgoing.items()}
        self._in = dict(incoming)
        self._inboxes = {p: _Inbox() for p in self._peers}
        for link in self._out.values():
            link.sock.settimeout(timeout)
        for sock in self._in.values():
            sock.settimeout(None)
        self._readers = [
            threading.Thread(
                target=self._read_loop,
                args=(p,),
                name=f"tyst-party{party}-from{p}",
                daemon=True,
            )
            for p in self._peers
        ]
        for t in self._readers:
            t.start()

    # -- Transport protocol -------------------------------------------------------

    @property
    def party(self) -> int:
        """This party's index."""
        return self._party

    @property
    def peers(self) -> tuple[int, ...]:
        """The indices of the other parties."""
        return self._peers

    @property
    def job(self) -> bytes:
        """The 16-byte job id every frame carries."""
        return self._job

    @property
    def timeout(self) -> float:
        """Seconds a ``recv`` (or a stalled ``send``) waits before raising ``PeerTimeout``."""
        return self._timeout

    @property
    def stats(self) -> LinkStats:
        """Frames and bytes (header + payload) sent, and received through ``recv``."""
        return self._stats

    def send(self, to: int, payload: Payload) -> None:
        """Send ``payload`` (any C-contiguous buffer) to party ``to`` as the next frame.

        Returns once the data is handed to the kernel; never waits for the peer
        to call ``recv``. Raises ``PeerTimeout`` if the peer accepts no data for
        ``timeout`` seconds, ``PeerDisconnected`` if the link broke (the link
        then stays broken), ``TransportError`` after ``close``, ``ValueError``
        for an unknown peer or a payload above ``max_message``.
        """
        self._check_peer(to)
        link = self._out[to]
        with memoryview(payload) as raw, raw.cast("B") as view:
            n = view.nbytes
            if n > self._max_message:
                raise ValueError(
                    f"party {self._party}: message of {n} bytes exceeds max_message "
                    f"({self._max_message})"
                )
            with link.lock:
                if link.error is not None:
                    raise _reraise(link.error)
                step = link.step
                with self._stats_lock:
                    tag = self._stats.rounds + 1
                header = encode_header(self._job, step, n, tag)
                try:
                    if n <= _SMALL_MESSAGE:
                        link.sock.sendall(header + view.tobytes())
                    else:
                        link.sock.sendall(header)
                        for off in range(0, n, _SEND_CHUNK):
                            with view[off : off + _SEND_CHUNK] as chunk:
                                link.sock.sendall(chunk)
                except TimeoutError:
                    link.error = PeerTimeout(
                        f"party {self._party}: party {to} accepted no data for "
                        f"{self._timeout:g} s while we sent message {step}"
                    )
                    raise _reraise(link.error) from None
                except OSError as exc:
                    if self._closed:
                        raise TransportError(f"party {self._party}: transport is closed") from exc
                    link.error = PeerDisconnected(
                        f"party {self._party}: link to party {to} broke while sending "
                        f"message {step}: {exc}"
                    )
                    raise _reraise(link.error) from exc
                link.step = step + 1
        with self._stats_lock:
            self._stats.bytes_sent += HEADER_SIZE + n
            self._stats.messages_sent += 1

    def recv(self, frm: int) -> bytearray:
        """Return the next message from party ``frm`` (a fresh ``bytearray``).

        Waits at most ``timeout`` seconds. Raises ``PeerTimeout``,
        ``PeerDisconnected`` or ``FrameError`` as described in the module
        docstring; ``TransportError`` if the transport is (or gets) closed;
        ``ValueError`` for an unknown peer.
        """
        self._check_peer(frm)
        inbox = self._inboxes[frm]
        deadline = time.monotonic() + self._timeout
        with inbox.cond:
            while not inbox.frames and inbox.error is None and not inbox.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PeerTimeout(
                        f"party {self._party}: nothing from party {frm} within {self._timeout:g} s"
                    )
                inbox.cond.wait(remaining)
            if inbox.closed:
                raise TransportError(f"party {self._party}: transport is closed")
            if not inbox.frames:
                assert inbox.error is not None
                raise _reraise(inbox.error)
            payload, tag = inbox.frames.popleft()
        with self._stats_lock:
            self._stats.bytes_received += HEADER_SIZE + len(payload)
            self._stats.messages_received += 1
            self._stats.rounds = max(self._stats.rounds, tag)
        return payload

    def close(self) -> None:
        """Shut down all links and join the reader threads; idempotent, never hangs.

        Data already sent is still delivered to the peers (the connections
        are closed gracefully); the peers then see ``PeerDisconnected``.
        Receivers blocked in ``recv`` wake up with ``TransportError``.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        for sock in self._in.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for link in self._out.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(link.sock, socket.SHUT_WR)
        for inbox in self._inboxes.values():
            with inbox.cond:
                inbox.closed = True
                inbox.cond.notify_all()
        current = threading.current_thread()
        for t in self._readers:
            if t is not current:
                t.join(_JOIN_TIMEOUT)
        for sock in self._in.values():
            sock.close()
        for link in self._out.values():
            link.sock.close()

    def __enter__(self) -> TlsTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------

    def _check_peer(self, other: int) -> None:
        if self._closed:
            raise TransportError(f"party {self._party}: transport is closed")
        if other not in self._out:
            raise ValueError(f"party {self._party}: no link to party {other}")

    def _read_loop(self, peer: int) -> None:
        """Reader thread: drain the link from ``peer`` into its inbox until EOF or error."""
        sock = self._in[peer]
        inbox = self._inboxes[peer]
        decoder = FrameDecoder(self._job, self._max_message)
        me = self._party
        try:
            while True:
                with decoder.writable() as view:
                    n = sock.recv_into(view, min(len(view), _RECV_MAX))
                if n == 0:
                    if self._closed:
                        return
                    if decoder.mid_frame:
                        raise PeerDisconnected(
                            f"party {me}: party {peer} closed the connection in the middle "
                            f"of message {decoder.next_step} ({decoder.bytes_pending} bytes "
                            "missing)"
                        )
                    raise PeerDisconnected(f"party {me}: party {peer} closed its link")
                frame = decoder.commit(n)
                if frame is not None:
                    inbox.put(frame.payload, frame.round)
        except FrameError as exc:
            inbox.fail(FrameError(f"party {me}: invalid data from party {peer}: {exc}"))
            # The stream cannot be resynchronised: abort the link (TCP reset), so the
            # peer's next send fails with PeerDisconnected.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except PeerDisconnected as exc:
            inbox.fail(exc)
        except OSError as exc:
            if self._closed:
                return
            inbox.fail(PeerDisconnected(f"party {me}: link from party {peer} broke: {exc}"))
        except BaseException as exc:
            inbox.fail(TransportError(f"party {me}: reader for party {peer} crashed: {exc!r}"))


# -- mesh setup ---------------------------------------------------------------------


class _Acceptor:
    """Accepts and authenticates the incoming links of one party.

    One thread accepts TCP connections; each accepted connection gets its own
    handler thread for the TLS handshake and the link hello, so a silent or slow
    connection never holds up another one. At most ``max_pending`` connections
    are in setup at once (further ones wait in the listen backlog until a slot
    frees), and each has ``handshake_timeout`` seconds in total for its TLS
    handshake, hello and reply; then the node closes it.
    """

    def __init__(
        self,
        party: int,
        peers: Sequence[int],
        listener: socket.socket,
        context: ssl.SSLContext,
        job: bytes,
        deadline: float,
        *,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        max_pending: int = MAX_PENDING_HANDSHAKES,
    ) -> None:
        self.party = party
        self.expected = set(peers)
        self.listener = listener
        self.context = context
        self.job = job
        self.deadline = deadline
        self.handshake_timeout = handshake_timeout
        self.links: dict[int, ssl.SSLSocket] = {}
        self.refusals: list[str] = []
        self.refusals_dropped = 0
        self.reported = False
        self.error: BaseException | None = None
        self.stop = threading.Event()  # accept no more connections
        self.cancel = threading.Event()  # abort the connections still in setup
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_pending)
        self.pending: dict[int, socket.socket] = {}
        self.handlers: set[threading.Thread] = set()
        self.thread = threading.Thread(target=self._run, name=f"tyst-accept{party}", daemon=True)

    # -- accept loop ------------------------------------------------------------------

    def _complete(self) -> bool:
        with self.lock:
            return set(self.links) == self.expected

    def _run(self) -> None:
        try:
            self.listener.settimeout(0.05)
            while not self.stop.is_set() and not self._complete():
                if time.monotonic() >= self.deadline:
                    return
                if not self.slots.acquire(timeout=0.05):
                    continue  # every slot is busy: new connections wait in the backlog
                try:
                    raw, addr = self.listener.accept()
                except TimeoutError:
                    self.slots.release()
                    continue
                except BaseException:
                    self.slots.release()
                    raise
                self._start_handler(raw, addr)
        except BaseException as exc:
            self.error = exc
        finally:
            self.stop.set()

    def _start_handler(self, raw: socket.socket, addr: object) -> None:
        with self.lock:
            self.pending[id(raw)] = raw
        handler = threading.Thread(
            target=self._handle_and_release,
            args=(raw, addr),
            name=f"tyst-accept{self.party}-link",
            daemon=True,
        )
        with self.lock:
            self.handlers.add(handler)
        try:
            handler.start()
        except BaseException:
            with self.lock:
                self.handlers.discard(handler)
                self.pending.pop(id(raw), None)
            raw.close()
            self.slots.release()
            raise

    def _handle_and_release(self, raw: socket.socket, addr: object) -> None:
        try:
            self._handle(raw, addr)
        except BaseException as exc:  # a bug, not a peer's fault: report it
            raw.close()
            if self.error is None:
                self.error = exc
            self.stop.set()
            self.cancel.set()
        finally:
            with self.lock:
                self.pending.pop(id(raw), None)
                self.handlers.discard(threading.current_thread())
            self.slots.release()

    def _cancel_pending(self) -> None:
        """Abort every connection still in setup (their handlers then end promptly)."""
        self.cancel.set()
        with self.lock:
            pending = list(self.pending.values())
        for sock in pending:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: the handler thread owns the TLS object.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _refuse(self, text: str) -> None:
        with self.lock:
            if len(self.refusals) < _MAX_REFUSALS:
                self.refusals.append(text)
            else:
                self.refusals_dropped += 1

    def refusal_text(self) -> str:
        with self.lock:
            text = "; ".join(self.refusals)
            if self.refusals_dropped:
                text += f"; and {self.refusals_dropped} more"
        return text

    # -- one connection -----------------------------------------------------------

    def _handle(self, raw: socket.socket, addr: object) -> None:
        where = f"connection from {addr}"
        until = min(self.deadline, time.monotonic() + self.handshake_timeout)

        def budget() -> float:
            remaining = until - time.monotonic()
            if remaining <= 0 or self.cancel.is_set():
                raise TimeoutError("link setup deadline passed")
            return remaining

        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Wrapping does no I/O; the handshake comes after the TLS socket is
            # registered, so ending setup can abort it.
            tls = self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError) as exc:
            raw.close()
            self._refuse(f"{where}: TLS handshake failed: {exc}")
            return
        with self.lock:
            self.pending[id(raw)] = tls
        try:
            # The whole handshake is one operation under this timeout (CPython's
            # ssl module applies it as a deadline, not per read).
            tls.settimeout(budget())
            tls.do_handshake()
        except TimeoutError:
            tls.close()
            self._refuse(f"{where}: TLS handshake timed out")
            return
        except (OSError, ValueError) as exc:
            tls.close()
            self._refuse(f"{where}: TLS handshake failed: {exc}")
            return
        try:
            frm, reason = self._check(tls, budget)
            if reason is None:
                with self.lock:
                    # Claimed under the lock: two connections for one party
                    # cannot both be taken.
                    if frm in self.links:
                        reason = f"party {frm} is already connected"
                    elif self.cancel.is_set():
                        reason = "link setup has ended"
                    else:
                        self.links[frm] = tls
                        # A taken link is no longer in setup: ending setup must not abort it.
                        self.pending.pop(id(raw), None)
            if reason is not None:
                self._refuse(f"{where}: refused: {reason}")
                data = reason.encode()[:1000]
                tls.settimeout(budget())
                tls.sendall(_REPLY.pack(_REPLY_REFUSED, len(data)) + data)
                tls.close()
                return
            try:
                # Not budget(): setup may end (this was the last link) while we reply.
                tls.settimeout(max(0.1, until - time.monotonic()))
                tls.sendall(_REPLY.pack(_REPLY_OK, 0))
            except BaseException:
                with self.lock:
                    self.links.pop(frm, None)
                raise
        except TimeoutError:
            tls.close()
            self._refuse(f"{where}: link setup timed out")
        except (OSError, ValueError) as exc:
            tls.close()
            self._refuse(f"{where}: link setup failed: {exc}")

    def _check(self, tls: ssl.SSLSocket, budget: Callable[[], float]) -> tuple[int, str | None]:
        """Read the link hello; return (claimed sender, refusal reason or None)."""
        cert_party = _peer_party(tls)
        hello = _recv_exact(tls, _HELLO.size, budget)
        if hello is None:
            return -1, "connection closed before the link hello"
        magic, version, job, frm, to = _HELLO.unpack(hello)
        if magic != _HELLO_MAGIC or version != _HELLO_VERSION:
            return frm, "not a tyst link hello (or unsupported version)"
        if job != self.job:
            return frm, f"job mismatch: peer is in job {job.hex()}, this is job {self.job.hex()}"
        if to != self.party:
            return frm, f"link hello addressed to party {to}, this is party {self.party}"
        if cert_party != frm:
            return frm, (
                f"certificate identifies party {cert_party}, but the peer claims to be party {frm}"
            )
        if frm not in self.expected:
            return frm, f"party {frm} is not a peer of party {self.party}"
        return frm, None

    # -- results ----------------------------------------------------------------

    def _handlers(self) -> list[threading.Thread]:
        with self.lock:
            return list(self.handlers)

    def _join(self, limit: float, grace: float = 0.0) -> None:
        """Stop accepting; after ``grace`` seconds abort connections still in
        setup; join every thread (each wait at most ``limit``)."""
        self.stop.set()
        self.thread.join(limit)
        end = time.monotonic() + grace
        for h in self._handlers():
            h.join(max(0.0, end - time.monotonic()))
        self._cancel_pending()
        end = time.monotonic() + limit
        for h in self._handlers():
            h.join(max(0.0, end - time.monotonic()))

    def wait(self, timeout_label: float) -> dict[int, ssl.SSLSocket]:
        self.thread.join(max(0.0, self.deadline - time.monotonic()) + 1.0)
        self._join(_JOIN_TIMEOUT)
        if self.error is not None:
            raise TransportError(
                f"party {self.party}: accepting links failed: {self.error!r}"
            ) from self.error
        with self.lock:
            links = dict(self.links)
        missing = sorted(self.expected - set(links))
        if missing:
            self.reported = True
            refused = self.refusal_text()
            detail = f"; refused connections: {refused}" if refused else ""
            names = ", ".join(str(p) for p in missing)
            raise PeerTimeout(
                f"party {self.party}: party {names} did not connect within "
                f"{timeout_label:g} s{detail}"
            )
        return links

    def close_all(self) -> None:
        # Setup failed: handshakes in flight get a moment to end by themselves, so a
        # peer learns e.g. that it rejected our certificate rather than of a reset.
        self._join(_JOIN_TIMEOUT, grace=_CLOSE_GRACE)
        with self.lock:
            links = list(self.links.values())
        for s in links:
            s.close()


RETRY_FIRST = 0.05
RETRY_MAX = 2.0
"""Backoff between two attempts of one link's setup: doubling from 50 ms, at most 2 s."""


class _Broken(Exception):
    """A link setup cut off before it completed (reset, EOF, closed before the reply) —
    a middlebox, a peer restarting: retried with backoff until the setup deadline."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` during TLS or link setup is a connection cut off, not a refusal."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionError | EOFError):
        return True
    if isinstance(exc, ssl.SSLError):  # an alert (unknown CA, bad certificate): a refusal
        return "UNEXPECTED_EOF" in str(exc) or "RECORD_LAYER_FAILURE" in str(exc)
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError)


def _dial(
    party: int,
    peer: int,
    address: Address,
    context: ssl.SSLContext,
    job: bytes,
    deadline: float,
    socket_buffer: int | None,
    timeout_label: float,
) -> ssl.SSLSocket:
    """Open the link ``party -> peer``: TCP connect, TLS handshake, hello — the whole
    attempt retried with backoff while connections are refused or cut off before the
    setup completes, until ``deadline``; a refusal (certificate, identity, job) is final."""
    host, port = address
    where = f"party {peer} at {host}:{port}"
    delay = RETRY_FIRST
    attempts = 0
    cut: _Broken | None = None

    def cut_off() -> HandshakeError:
        return HandshakeError(
            f"party {party}: link setup with {where} was cut off {attempts} times "
            f"within {timeout_label:g} s (last: {cut})"
        )

    while True:
        try:
            raw = _connect_tcp(party, peer, address, deadline, socket_buffer, timeout_label)
        except PeerTimeout:
            if cut is None:
                raise
            raise cut_off() from None  # connected before, cut off every time: say so
        attempts += 1
        try:
            return _link(party, peer, raw, where, context, job, deadline)
        except _Broken as exc:
            cut = exc
            if deadline - time.monotonic() <= delay:
                raise cut_off() from None
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def _connect_tcp(
    party: int,
    peer: int,
    address: Address,
    deadline: float,
    socket_buffer: int | None,
    timeout_label: float,
) -> socket.socket:
    """A TCP connection to ``address``, retrying refused connections until ``deadline``."""
    host, port = address
    last: BaseException | None = None
    delay = 0.02
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PeerTimeout(
                f"party {party}: could not connect to party {peer} at {host}:{port} within "
                f"{timeout_label:g} s (last error: {last})"
            )
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            last = exc
            time.sleep(min(delay, remaining))
            continue
        for family, kind, proto, _, addr in infos:
            s = socket.socket(family, kind, proto)
            try:
                _set_buffers(s, socket_buffer)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(max(0.05, min(remaining, _HANDSHAKE_CAP)))
                s.connect(addr)
            except OSError as exc:
                s.close()
                last = exc
                continue
            return s
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)


def _link(
    party: int,
    peer: int,
    raw: socket.socket,
    where: str,
    context: ssl.SSLContext,
    job: bytes,
    deadline: float,
) -> ssl.SSLSocket:
    """TLS handshake and link hello over ``raw`` (closed on any failure).

    Errors: :class:`_Broken` for a connection cut off before the reply (retried),
    :class:`HandshakeError` for a refusal, :class:`PeerTimeout` for a silent peer."""
    me = party
    raw.settimeout(max(0.1, min(deadline - time.monotonic(), _HANDSHAKE_CAP)))
    try:
        tls = context.wrap_socket(raw, server_side=False, server_hostname=party_dns_name(peer))
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        raise HandshakeError(
            f"party {me}: rejected the certificate of {where}: {exc.verify_message}"
        ) from exc
    except TimeoutError as exc:
        raw.close()
        raise PeerTimeout(f"party {me}: TLS handshake with {where} timed out") from exc
    except OSError as exc:
        raw.close()
        if is_transient(exc):
            raise _Broken(f"TLS handshake: {exc}") from None
        raise HandshakeError(f"party {me}: TLS handshake with {where} failed: {exc}") from exc
    try:
        if _peer_party(tls) != peer:
            raise HandshakeError(f"party {me}: {where} presented a certificate of another party")
        tls.sendall(_HELLO.pack(_HELLO_MAGIC, _HELLO_VERSION, job, party, peer))
        reply = _recv_exact(tls, _REPLY.size)
        if reply is None:
            raise _Broken("closed the connection during link setup")
        status, length = _REPLY.unpack(reply)
        reason = _recv_exact(tls, length) if length else b""
        if status != _REPLY_OK:
            text = (reason or b"").decode("utf-8", "replace")
            raise HandshakeError(f"party {me}: {where} refused the link: {text}")
    except TimeoutError as exc:
        tls.close()
        raise PeerTimeout(f"party {me}: link setup with {where} timed out") from exc
    except (HandshakeError, _Broken):
        tls.close()
        raise
    except OSError as exc:
        tls.close()
        if is_transient(exc):
            raise _Broken(f"link setup: {exc}") from None
        raise HandshakeError(f"party {me}: link setup with {where} failed: {exc}") from exc
    return tls


def connect_mesh(
    party: int,
    addresses: Sequence[Address],
    credentials: NodeCredentials,
    job: bytes,
    *,
    timeout: float = 60.0,
    connect_timeout: float | None = None,
    listen_socket: socket.socket | None = None,
    max_message: int = DEFAULT_MAX_MESSAGE,
    socket_buffer: int | None = DEFAULT_SOCKET_BUFFER,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
) -> TlsTransport:
    """Connect ``party`` to every other party of ``addresses`` and return its transport.

    ``addresses[i]`` is the ``(host, port)`` party ``i`` listens on. This party
    listens on ``listen_socket`` if given (e.g. from :func:`bind_listener`;
    this function takes ownership and closes it when setup ends), else it binds
    ``addresses[party]``. It dials every peer (retrying refused connections
    until the deadline) while accepting the peers' links in a background
    thread; see the module docstring for what is authenticated.

    ``connect_timeout`` (default: ``timeout``) bounds the whole setup;
    ``timeout`` is the transport's receive/send timeout afterwards.
    ``handshake_timeout`` bounds each incoming connection's setup (TLS
    handshake, hello, reply); connections are set up concurrently, at most
    :data:`MAX_PENDING_HANDSHAKES` at once. Raises
    :class:`HandshakeError` if a peer presents an untrusted or wrong-party
    certificate or refuses ours, ``PeerTimeout`` if a peer does not connect in
    time (the message lists connections that were refused), ``ValueError``
    for inconsistent arguments. On error every socket opened is closed.
    """
    n = len(addresses)
    if not 0 <= party < n or n < 2:
        raise ValueError(f"party {party} is not one of {n} parties")
    if len(job) != JOB_ID_SIZE:
        raise ValueError(f"job id must be {JOB_ID_SIZE} bytes, got {len(job)}")
    if credentials.party != party:
        raise ValueError(f"credentials are for party {credentials.party}, not party {party}")
    job = bytes(job)
    setup_time = timeout if connect_timeout is None else connect_timeout
    deadline = time.monotonic() + setup_time
    contexts = make_tls_contexts(credentials)
    listener = listen_socket
    if listener is None:
        host, port = addresses[party]
        listener = bind_listener(host, port, socket_buffer=socket_buffer)
    peers = [p for p in range(n) if p != party]
    if handshake_timeout <= 0:
        raise ValueError("handshake_timeout must be positive")
    acceptor = _Acceptor(
        party, peers, listener, contexts.server, job, deadline, handshake_timeout=handshake_timeout
    )
    outgoing: dict[int, ssl.SSLSocket] = {}
    try:
        acceptor.thread.start()
        for peer in peers:
            outgoing[peer] = _dial(
                party,
                peer,
                addresses[peer],
                contexts.client,
                job,
                deadline,
                socket_buffer,
                setup_time,
            )
        incoming = acceptor.wait(setup_time)
    except BaseException as exc:
        acceptor.close_all()
        for s in outgoing.values():
            s.close()
        refused = acceptor.refusal_text()
        if isinstance(exc, TransportError) and refused and not acceptor.reported:
            # Say why incoming links were refused: often the actual misconfiguration.
            raise type(exc)(f"{exc}; refused incoming connections: {refused}") from exc
        raise
    finally:
        listener.close()
    try:
        return TlsTransport(
            party, job, outgoing, incoming, timeout=timeout, max_message=max_message
        )
    except BaseException:
        for s in (*outgoing.values(), *incoming.values()):
            s.close()
        raise
