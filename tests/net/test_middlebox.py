"""Link setup through a TCP middlebox that accepts connections and cuts them before TLS
completes: retried with backoff within ``connect_timeout``, then a clear one-line error."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import pytest

from tyst.net.certs import NodeCredentials, make_deployment
from tyst.net.tls import HandshakeError, TlsTransport, bind_listener, connect_mesh

pytestmark = pytest.mark.tls

JOB = b"middlebox-job-16"


@pytest.fixture(scope="module")
def nodes() -> list[NodeCredentials]:
    return make_deployment()[1]


class Middlebox:
    """A TCP proxy to ``target`` that cuts its first ``cut`` connections (after reading the
    client's first bytes, i.e. in the middle of the TLS handshake) and relays the rest."""

    def __init__(self, target: tuple[str, int], cut: int) -> None:
        self.target = target
        self.cut = cut
        self.cuts = 0
        self.relayed = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.address = ("127.0.0.1", int(self.listener.getsockname()[1]))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.cuts < self.cut:
                self.cuts += 1
                conn.settimeout(2.0)
                with contextlib.suppress(OSError):
                    conn.recv(100)  # the start of the ClientHello
                conn.close()
                continue
            self.relayed += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(1 << 16):
            dst.sendall(data)
    for s in (src, dst):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _mesh_through(
    nodes: list[NodeCredentials], cut: int, connect_timeout: float
) -> tuple[list[Any], Middlebox, float]:
    """Three parties; party 0 reaches party 1 only through a middlebox cutting ``cut``."""
    listeners = [bind_listener() for _ in nodes]
    direct = [("127.0.0.1", int(s.getsockname()[1])) for s in listeners]
    box = Middlebox(direct[1], cut)
    seen_by = [list(direct) for _ in nodes]
    seen_by[0][1] = box.address
    out: list[Any] = [None] * 3

    def body(i: int) -> None:
        try:
            out[i] = connect_mesh(
                i,
                seen_by[i],
                nodes[i],
                JOB,
                timeout=5.0,
                connect_timeout=connect_timeout,
                listen_socket=listeners[i],
            )
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(connect_timeout + 15)
    return out, box, time.monotonic() - started


def test_links_cut_before_tls_completes_are_retried_until_they_work(nodes: Any) -> None:
    out, box, _ = _mesh_through(nodes, cut=4, connect_timeout=20.0)
    try:
        assert all(isinstance(t, TlsTransport) for t in out), out
        assert box.cuts == 4
        assert box.relayed == 1
        out[0].send(1, b"through the middlebox")
        assert bytes(out[1].recv(0)) == b"through the middlebox"
        out[1].send(0, b"and back")
        assert bytes(out[0].recv(1)) == b"and back"
    finally:
        for t in out:
            if isinstance(t, TlsTransport):
                t.close()
        box.close()


def test_a_middlebox_that_always_cuts_fails_within_connect_timeout(nodes: Any) -> None:
    out, box, seconds = _mesh_through(nodes, cut=10**6, connect_timeout=3.0)
    try:
        for t in out:
            if isinstance(t, TlsTransport):
                t.close()
        error = out[0]
        assert isinstance(error, HandshakeError), error
        text = str(error)
        assert f"party 1 at {box.address[0]}:{box.address[1]}" in text
        assert "was cut off" in text
        assert box.cuts >= 3  # retried with backoff, not once
        assert seconds < 3.0 + 5.0
    finally:
        box.close()
