"""The benchmarks' delay-and-bandwidth relay: at least the configured delay, bytes intact and
in order, the bandwidth cap, loopback only, and the launcher dialling through it."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from benchmarks.relay import LinkShape, MeshRelay, Relay

from tests.net import tls_programs as progs
from tyst.net.launcher import run_tls_parties_detailed


def _recv_all(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "connection closed early"
        buf += chunk
    return bytes(buf)


def _serve_once(listener: socket.socket, n: int, reply: bytes, got: dict[str, object]) -> None:
    conn, _ = listener.accept()
    with conn:
        got["data"] = _recv_all(conn, n)
        got["at"] = time.monotonic()
        conn.sendall(reply)
        got["eof"] = conn.recv(1) == b""


def test_delays_each_direction_and_delivers_bytes_in_order() -> None:
    payload = np.random.default_rng(1).bytes(300_000)
    reply = b"reply" * 1000
    got: dict[str, object] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(
            target=_serve_once, args=(listener, len(payload), reply, got), daemon=True
        )
        server.start()
        target = ("127.0.0.1", listener.getsockname()[1])
        with Relay(target, LinkShape(delay=0.15), LinkShape(delay=0.05)) as relay:
            client = socket.create_connection(relay.address)
            with client:
                sent_at = time.monotonic()
                for i in range(0, len(payload), 7_000):  # many small writes, one stream
                    client.sendall(payload[i : i + 7_000])
                back = _recv_all(client, len(reply))
                back_at = time.monotonic()
                client.shutdown(socket.SHUT_WR)
                server.join(5.0)
            assert relay.bytes_forwarded == len(payload)
    assert got["data"] == payload
    assert back == reply
    assert isinstance(got["at"], float)
    assert got["at"] - sent_at >= 0.15
    assert back_at - got["at"] >= 0.05
    assert back_at - sent_at < 2.0
    assert got["eof"] is True  # the client's end of stream is relayed too


def test_bandwidth_cap_paces_the_bytes() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    got: dict[str, object] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(
            target=_serve_once, args=(listener, len(payload), b"", got), daemon=True
        )
        server.start()
        target = ("127.0.0.1", listener.getsockname()[1])
        relay = Relay(target, LinkShape(delay=0.0, bandwidth=4e6))
        with relay, socket.create_connection(relay.address) as client:
            start = time.monotonic()
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            server.join(5.0)
    assert got["data"] == payload
    assert isinstance(got["at"], float)
    assert got["at"] - start >= len(payload) / 4e6 * 0.95


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "localhost"])
def test_only_loopback(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        Relay((host, 9), LinkShape())


@pytest.mark.tls
def test_the_mesh_runs_through_the_relay_with_the_delay() -> None:
    """Three TLS processes dialling each other through the relays: six sequential messages
    (a token twice around the ring) take at least 6 one-way delays."""
    with MeshRelay(delay=0.03) as mesh:
        runs = run_tls_parties_detailed(progs.relay_chain, (2,), timeout=20.0, route=mesh.route)
        assert len(mesh.relays) == 6
        assert all(r.bytes_forwarded > 0 for r in mesh.relays.values())
    assert [r.result for r in runs] == [6, 4, 5]
    assert runs[0].seconds >= 6 * 0.03
