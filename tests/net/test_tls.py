"""Mutual-TLS transport: three processes via the launcher, and failure modes in threads."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tests.net import tls_programs as progs
from tyst.net.certs import (
    DeploymentCA,
    NodeCredentials,
    issue_node_certificate,
    make_deployment,
    make_deployment_ca,
    party_dns_name,
)
from tyst.net.framing import HEADER_SIZE
from tyst.net.launcher import PartyFailed, run_tls_parties, run_tls_parties_detailed
from tyst.net.tls import (
    _HELLO,
    _HELLO_MAGIC,
    _HELLO_VERSION,
    _REPLY,
    HANDSHAKE_TIMEOUT,
    MAX_PENDING_HANDSHAKES,
    HandshakeError,
    TlsTransport,
    bind_listener,
    connect_mesh,
    make_tls_contexts,
)
from tyst.net.transport import (
    FrameError,
    PeerDisconnected,
    PeerTimeout,
    Transport,
    TransportError,
)

pytestmark = pytest.mark.tls

JOB = b"tls-test-job-16b"
MB = 1 << 20


@pytest.fixture(scope="module")
def deployment() -> tuple[DeploymentCA, list[NodeCredentials]]:
    return make_deployment()


# -- helpers -----------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_parties(
    creds: list[NodeCredentials],
    *,
    job: bytes = JOB,
    timeout: float = 5.0,
    connect_timeout: float = 5.0,
    jobs: list[bytes] | None = None,
) -> list[TlsTransport | BaseException]:
    """Run connect_mesh for every party in its own thread; each slot a transport or error."""
    listeners = [bind_listener() for _ in creds]
    addresses = [("127.0.0.1", int(s.getsockname()[1])) for s in listeners]
    out: list[TlsTransport | BaseException] = [RuntimeError("not run")] * len(creds)

    def body(i: int) -> None:
        try:
            out[i] = connect_mesh(
                i,
                addresses,
                creds[i],
                jobs[i] if jobs else job,
                timeout=timeout,
                connect_timeout=connect_timeout,
                listen_socket=listeners[i],
            )
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(creds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(connect_timeout + 15)
    return out


@contextlib.contextmanager
def mesh(nodes: list[NodeCredentials], *, timeout: float = 5.0) -> Iterator[list[TlsTransport]]:
    results = setup_parties(nodes, timeout=timeout)
    transports = [r for r in results if isinstance(r, TlsTransport)]
    try:
        for r in results:
            if isinstance(r, BaseException):
                raise r
        yield transports
    finally:
        for t in transports:
            t.close()


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=body)
    t.start()
    return t, box


def send_until_error(t: TlsTransport, to: int, payload: bytes, tries: int = 100) -> None:
    """Send until the transport notices the link is gone (the kernel may buffer a few)."""
    for _ in range(tries):
        t.send(to, payload)
        time.sleep(0.02)


def raw_link(
    creds: NodeCredentials, port: int, *, frm: int, to: int, job: bytes = JOB
) -> tuple[int, str]:
    """Dial ``port`` like a party would, with a hand-made hello; return the server's reply."""
    ctx = make_tls_contexts(creds).client
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=party_dns_name(to)) as tls,
    ):
        tls.sendall(_HELLO.pack(_HELLO_MAGIC, _HELLO_VERSION, job, frm, to))
        head = b""
        while len(head) < _REPLY.size:
            chunk = tls.recv(_REPLY.size - len(head))
            if not chunk:
                raise ConnectionError("closed without a reply")
            head += chunk
        status, length = _REPLY.unpack(head)
        reason = b""
        while len(reason) < length:
            reason += tls.recv(length - len(reason))
        return status, reason.decode()


# -- three processes -----------------------------------------------------------------


def test_ring_exchange_in_three_processes() -> None:
    sizes = [0, 1, 50 * MB]
    runs = run_tls_parties_detailed(progs.ring_exchange, (sizes,), timeout=30.0)
    assert [r.party for r in runs] == [0, 1, 2]
    for r in runs:
        assert len(r.result) == 2 * len(sizes)
        assert all(ok for (_, _, _, ok) in r.result), r.result
        expected = sum(2 * (HEADER_SIZE + s) for s in sizes)
        assert r.stats.bytes_sent == r.stats.bytes_received == expected
        assert r.stats.messages_sent == r.stats.messages_received == 2 * len(sizes)
        assert r.stats.rounds == len(sizes)  # one exchange per size


def test_rounds_count_the_sequential_message_delays() -> None:
    """A token passed around the ring twice: six messages, each sent after the previous
    arrived, so party 0 (which receives last) counts 6 rounds, party 2 counts 5."""
    assert run_tls_parties(progs.relay_chain, (2,), timeout=10.0) == [6, 4, 5]


def test_run_tls_parties_returns_results_in_party_order() -> None:
    results = run_tls_parties(progs.ring_exchange, ([3],), timeout=10.0)
    assert [[(frm, me) for (frm, me, _, _) in r] for r in results] == [
        [(2, 0), (1, 0)],
        [(0, 1), (2, 1)],
        [(1, 2), (0, 2)],
    ]


def test_garbage_is_a_frame_error_at_the_receiver() -> None:
    with pytest.raises(PartyFailed) as info:
        run_tls_parties(progs.garbage_from_party_1, timeout=10.0, grace=5.0)
    err = info.value
    assert err.party == 0
    assert err.error_type == "FrameError"
    assert "invalid data from party 1" in err.message
    assert "bad magic" in err.message
    assert err.failures[1].error_type == "PeerDisconnected"
    assert err.failures[2].error_type == "PeerDisconnected"


def test_dead_peer_makes_the_others_fail_fast() -> None:
    start = time.monotonic()
    with pytest.raises(PartyFailed) as info:
        run_tls_parties(progs.party_1_dies, timeout=30.0)
    assert time.monotonic() - start < 15  # well below the 30 s receive timeout
    err = info.value
    assert err.party == 1
    assert err.error_type == "ProcessDied"
    assert err.failures[1].exitcode == 3
    assert "party 1 failed" in str(err)
    for p in (0, 2):
        assert err.failures[p].error_type == "PeerDisconnected"
        assert f"party {p}: party 1 closed its link" in err.failures[p].message


def test_program_exception_names_the_party() -> None:
    with pytest.raises(PartyFailed, match="party 2 failed: ValueError: party 2 found a bad input"):
        run_tls_parties(progs.party_2_raises, timeout=30.0)


def test_silent_peer_times_out_in_processes() -> None:
    start = time.monotonic()
    with pytest.raises(PartyFailed) as info:
        run_tls_parties(progs.party_1_silent, (3.0,), timeout=1.5)
    assert time.monotonic() - start < 12
    err = info.value
    assert err.party in (0, 2)
    assert err.error_type == "PeerTimeout"
    assert "nothing from party 1 within 1.5 s" in err.message


def test_overall_deadline_terminates_hung_parties() -> None:
    start = time.monotonic()
    with pytest.raises(PartyFailed, match="overall deadline of 3 s; terminated") as info:
        run_tls_parties(progs.everyone_hangs, (60.0,), timeout=30.0, deadline=3.0)
    assert time.monotonic() - start < 8
    assert sorted(info.value.failures) == [0, 1, 2]


def test_per_party_args_reach_only_their_party() -> None:
    results = run_tls_parties(
        progs.echo_args, ("common",), per_party_args=[("a", 0), ("b", 1), ("c", 2)]
    )
    assert results == [
        (0, ("common", "a", 0)),
        (1, ("common", "b", 1)),
        (2, ("common", "c", 2)),
    ]
    with pytest.raises(ValueError, match="3 entries"):
        run_tls_parties(progs.echo_args, per_party_args=[(), ()])


def test_launcher_rejects_a_bad_job_id() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        run_tls_parties(progs.ring_exchange, ([1],), job=b"short")


# -- failure modes, in threads -------------------------------------------------------


def test_transport_protocol_and_numpy_payloads(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, c):
        assert isinstance(a, Transport)
        arr = np.arange(1000, dtype=np.uint64)
        a.send(2, arr.data)  # a 'Q'-format memoryview: sent as its raw bytes
        a.send(2, arr.tobytes())
        got = [c.recv(0), c.recv(0)]
        for g in got:
            assert np.array_equal(np.frombuffer(g, dtype=np.uint64), arr)
        assert a.stats.messages_sent == 2
        assert a.stats.bytes_sent == 2 * (HEADER_SIZE + 8000)
        assert c.stats.bytes_received == a.stats.bytes_sent
        with pytest.raises(ValueError, match="no link"):
            a.send(0, b"to myself")
        with pytest.raises(ValueError, match="no link"):
            b.recv(3)
        big = os.urandom(3 * MB)
        a.send(1, big)
        got_big = b.recv(0)
        assert got_big == big
        got_big.extend(b"!")  # the transport keeps no view on a delivered payload


def test_simultaneous_large_sends_do_not_deadlock(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, _):
        x, y = os.urandom(30 * MB), os.urandom(30 * MB)
        ta, _ = in_thread(lambda: a.send(1, x))
        tb, _ = in_thread(lambda: b.send(0, y))
        ta.join(20)
        tb.join(20)
        assert not ta.is_alive()
        assert not tb.is_alive()
        assert b.recv(0) == x
        assert a.recv(1) == y


def test_silent_peer_times_out(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes, timeout=2.0) as (a, _, _):
        start = time.monotonic()
        with pytest.raises(PeerTimeout, match="party 0: nothing from party 1 within 2 s"):
            a.recv(1)
        assert 1.9 <= time.monotonic() - start < 3.0


def test_garbage_reaches_a_waiting_receiver_after_earlier_messages(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, _):
        b.send(0, b"valid message")
        assert a.recv(1) == b"valid message"
        b.send(0, b"second valid message")
        time.sleep(0.2)  # let it arrive before the garbage
        waiter, box = in_thread(lambda: (a.recv(1), a.recv(1)))
        time.sleep(0.2)
        b._out[0].sock.sendall(b"\x00" * 100)  # garbage through the authenticated link
        waiter.join(5)
        assert not waiter.is_alive()
        assert isinstance(box.get("error"), FrameError), box
        assert "party 0: invalid data from party 1: frame 2: bad magic" in str(box["error"])
        with pytest.raises(FrameError):  # sticky: every later recv fails the same way
            a.recv(1)
        # a resets the link from b, so b's sends to a fail.
        with pytest.raises(PeerDisconnected, match="party 1: link to party 0 broke"):
            send_until_error(b, 0, b"more")
        b.send(2, b"the other link is unaffected")


def test_frame_error_reaches_every_waiter(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, _):
        waiters = [in_thread(lambda: a.recv(1)) for _ in range(2)]
        time.sleep(0.2)
        b._out[0].sock.sendall(b"TYST\x07" + b"\x00" * 40)
        for t, box in waiters:
            t.join(5)
            assert "unsupported protocol version 7" in str(box.get("error"))


def test_last_message_survives_close_then_disconnect(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, _):
        big = os.urandom(20 * MB)
        b.send(0, big)
        b.send(0, b"last")
        b.close()
        assert a.recv(1) == big
        assert a.recv(1) == b"last"
        with pytest.raises(PeerDisconnected, match="party 0: party 1 closed its link"):
            a.recv(1)
        with pytest.raises(TransportError, match="closed"):
            b.send(0, b"after close")
        # Sending to the closed peer fails once the kernel notices.
        with pytest.raises(PeerDisconnected, match="link to party 1 broke"):
            send_until_error(a, 1, bytes(MB))


def test_disconnect_mid_frame(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes) as (a, b, _):
        from tyst.net.framing import encode_header

        b._out[0].sock.sendall(encode_header(JOB, 0, 1000) + b"only part")
        b.close()
        with pytest.raises(PeerDisconnected, match="in the middle of message 0"):
            a.recv(1)


def test_close_wakes_receivers_and_is_idempotent(deployment: Any) -> None:
    _, nodes = deployment
    with mesh(nodes, timeout=30.0) as (a, _, _):
        waiter, box = in_thread(lambda: a.recv(2))
        time.sleep(0.2)
        start = time.monotonic()
        a.close()
        a.close()
        waiter.join(5)
        assert time.monotonic() - start < 5
        assert isinstance(box.get("error"), TransportError)
        assert not any(t.is_alive() for t in a._readers)
        with pytest.raises(TransportError, match="closed"):
            a.recv(1)


def test_other_ca_is_refused_in_the_mesh(deployment: Any) -> None:
    ca, nodes = deployment
    rogue_ca = make_deployment_ca("rogue CA")
    forged = issue_node_certificate(rogue_ca, 1)
    # The impostor trusts the real CA (so it accepts the real nodes) but its own
    # certificate is signed by another CA.
    impostor = dataclasses.replace(forged, ca_cert_pem=ca.cert_pem)
    results = setup_parties([nodes[0], impostor, nodes[2]], connect_timeout=3.0)
    # Nobody gets a transport. The honest parties reject the impostor's certificate
    # (or fail because the other honest party already gave up).
    assert all(isinstance(r, TransportError) for r in results), results
    assert isinstance(results[1], HandshakeError)
    honest = [str(results[0]), str(results[2])]
    assert any("rejected the certificate of party 1" in e for e in honest), honest


def _party0_alone(
    nodes: Any, *, connect_timeout: float
) -> tuple[int, threading.Thread, dict[str, Any]]:
    """Party 0 listening on a fresh port, in a thread, for peers that never come."""
    listener = bind_listener()
    port = int(listener.getsockname()[1])
    dead = ("127.0.0.1", free_port())
    party0, box = in_thread(
        lambda: connect_mesh(
            0,
            [("127.0.0.1", port), dead, dead],
            nodes[0],
            JOB,
            connect_timeout=connect_timeout,
            listen_socket=listener,
        )
    )
    return port, party0, box


def test_server_refuses_bad_clients(deployment: Any) -> None:
    """Party 0 listening; impostors dial it directly with hand-made hellos."""
    _, nodes = deployment
    port, party0, box = _party0_alone(nodes, connect_timeout=2.5)
    try:
        # A certificate from another CA: the TLS handshake fails at the server.
        rogue = dataclasses.replace(
            issue_node_certificate(make_deployment_ca("rogue"), 1), ca_cert_pem=nodes[1].ca_cert_pem
        )
        with pytest.raises((ssl.SSLError, ConnectionError)):
            raw_link(rogue, port, frm=1, to=0)
        # A valid certificate of party 2 in the slot of party 1.
        status, reason = raw_link(nodes[2], port, frm=1, to=0)
        assert status != 0
        assert "certificate identifies party 2, but the peer claims to be party 1" in reason
        # The right certificate, but another job.
        status, reason = raw_link(nodes[1], port, frm=1, to=0, job=b"another-job-16b!")
        assert status != 0
        assert "job mismatch" in reason
        # Party 0 itself (its own certificate) is not a peer.
        status, reason = raw_link(nodes[0], port, frm=0, to=0)
        assert status != 0
        assert "not a peer" in reason
    finally:
        party0.join(10)
    err = box.get("error")
    assert isinstance(err, PeerTimeout)
    text = str(err)
    assert "refused incoming connections" in text
    assert "certificate identifies party 2" in text
    assert "TLS handshake failed" in text


def test_client_refuses_a_server_with_the_wrong_identity(deployment: Any) -> None:
    """Party 0 dials 'party 1' but finds a valid certificate of party 2 there."""
    _, nodes = deployment
    fake = bind_listener()
    fake_port = int(fake.getsockname()[1])
    server_ctx = make_tls_contexts(nodes[2]).server

    def fake_server() -> None:
        conn, _ = fake.accept()
        with contextlib.suppress(OSError), server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(100)
        conn.close()

    t, _ = in_thread(fake_server)
    try:
        with pytest.raises(
            HandshakeError, match=r"rejected the certificate of party 1.*[Hh]ostname"
        ):
            connect_mesh(
                0,
                [("127.0.0.1", free_port()), ("127.0.0.1", fake_port), ("127.0.0.1", free_port())],
                nodes[0],
                JOB,
                connect_timeout=5.0,
            )
    finally:
        t.join(5)
        fake.close()


def test_job_mismatch_in_the_mesh(deployment: Any) -> None:
    _, nodes = deployment
    other = b"another-job-16b!"
    results = setup_parties(nodes, jobs=[JOB, other, JOB], connect_timeout=2.0)
    assert not any(isinstance(r, TlsTransport) for r in results)
    for r in results:
        if isinstance(r, TlsTransport):
            r.close()
    assert "job mismatch" in str(results[1])


def test_credentials_must_match_the_party(deployment: Any) -> None:
    _, nodes = deployment
    with pytest.raises(ValueError, match="credentials are for party 1"):
        connect_mesh(0, [("127.0.0.1", 1)] * 3, nodes[1], JOB)


def test_ed25519_keys_work_for_tls13() -> None:
    _, nodes = make_deployment(key_type="ed25519")
    with mesh(nodes) as (a, b, _):
        a.send(1, b"ed25519")
        assert b.recv(0) == b"ed25519"


# -- link setup under silent and slow connections (issue 11, finding 13) -----------


def silent_connection(port: int) -> socket.socket:
    """A TCP connection to ``port`` that never sends a byte (the connect may still be queued)."""
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    return s


def closed_by_peer_within(s: socket.socket, seconds: float) -> bool:
    """Whether the other side closes ``s`` (EOF or reset) within ``seconds``."""
    s.setblocking(True)
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def timed_mesh(
    nodes: list[NodeCredentials],
    listeners: list[socket.socket],
    connect_timeout: float,
) -> tuple[list[TlsTransport | BaseException], float]:
    """connect_mesh for every party (threads) over ``listeners``; results and seconds taken."""
    addresses = [("127.0.0.1", int(s.getsockname()[1])) for s in listeners]
    out: list[TlsTransport | BaseException] = [RuntimeError("not run")] * len(nodes)

    def body(i: int) -> None:
        try:
            out[i] = connect_mesh(
                i,
                addresses,
                nodes[i],
                JOB,
                timeout=5.0,
                connect_timeout=connect_timeout,
                listen_socket=listeners[i],
            )
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(nodes))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(connect_timeout + 15)
    return out, time.monotonic() - start


def test_silent_connections_do_not_stall_the_mesh(deployment: Any) -> None:
    """Three silent TCP connections queued at every node's mesh port before the
    mesh starts: the real mesh still connects at once (it took 10 s per silent
    connection when the acceptor handled one connection at a time)."""
    _, nodes = deployment
    listeners = [bind_listener() for _ in nodes]
    silent = [silent_connection(int(lst.getsockname()[1])) for lst in listeners for _ in range(3)]
    try:
        time.sleep(0.1)  # the silent connections are ahead of the peers in every backlog
        results, seconds = timed_mesh(nodes, listeners, connect_timeout=40.0)
        transports = [r for r in results if isinstance(r, TlsTransport)]
        try:
            assert len(transports) == 3, results
            assert seconds < 3.0, f"mesh setup took {seconds:.2f} s"
            a, b, c = transports
            a.send(1, b"through")
            c.send(1, b"the mesh")
            assert b.recv(0) == b"through"
            assert b.recv(2) == b"the mesh"
        finally:
            for t in transports:
                t.close()
        # Setup is over: the nodes closed the silent connections.
        assert all(closed_by_peer_within(s, 2.0) for s in silent)
    finally:
        for s in silent:
            s.close()


def test_silent_and_slow_connections_are_closed_within_the_handshake_deadline(
    deployment: Any,
) -> None:
    """Party 0 waits for peers that never come; a silent TCP connection and one
    that completes TLS but trickles its hello a byte a second are each closed
    within HANDSHAKE_TIMEOUT, and the setup error names them."""
    _, nodes = deployment
    port, party0, box = _party0_alone(nodes, connect_timeout=HANDSHAKE_TIMEOUT + 4.0)
    closed: dict[str, float] = {}

    def slow_hello() -> None:
        ctx = make_tls_contexts(nodes[1]).client
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=party_dns_name(0)) as tls,
        ):
            start = time.monotonic()
            hello = _HELLO.pack(_HELLO_MAGIC, _HELLO_VERSION, JOB, 1, 0)
            try:
                for i in range(len(hello) - 1):
                    tls.sendall(hello[i : i + 1])
                    # Wait a second between bytes, but notice at once when the node
                    # closes the connection (it sends nothing else after the handshake).
                    if select.select([tls], [], [], 1.0)[0]:
                        tls.recv(1)
                        break
            except OSError:
                pass
            closed["slow"] = time.monotonic() - start

    try:
        start = time.monotonic()
        s = silent_connection(port)
        slow, _ = in_thread(slow_hello)
        assert closed_by_peer_within(s, HANDSHAKE_TIMEOUT + 3.0)
        closed["silent"] = time.monotonic() - start
        s.close()
        slow.join(HANDSHAKE_TIMEOUT + 10)
    finally:
        party0.join(HANDSHAKE_TIMEOUT + 15)
    assert closed["silent"] < HANDSHAKE_TIMEOUT + 1.0, closed
    assert closed["slow"] < HANDSHAKE_TIMEOUT + 1.0, closed
    err = box.get("error")
    assert isinstance(err, PeerTimeout), box
    assert "TLS handshake timed out" in str(err)
    assert "link setup timed out" in str(err)


def test_a_flood_of_silent_connections_is_bounded(deployment: Any) -> None:
    """More silent connections than MAX_PENDING_HANDSHAKES queued at party 0:
    at most that many are in setup at once, and the mesh connects after about
    one HANDSHAKE_TIMEOUT (the connections ahead of the peers time out together)."""
    _, nodes = deployment
    listeners = [bind_listener() for _ in nodes]
    port0 = int(listeners[0].getsockname()[1])
    silent = [silent_connection(port0) for _ in range(MAX_PENDING_HANDSHAKES + 8)]
    most = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal most
        while not stop.is_set():
            n = sum(t.name == "tyst-accept0-link" for t in threading.enumerate())
            most = max(most, n)
            time.sleep(0.01)

    monitor = threading.Thread(target=count)
    monitor.start()
    try:
        time.sleep(0.1)
        results, seconds = timed_mesh(nodes, listeners, connect_timeout=40.0)
        transports = [r for r in results if isinstance(r, TlsTransport)]
        for t in transports:
            t.close()
        assert len(transports) == 3, results
        assert seconds < 2 * HANDSHAKE_TIMEOUT + 2.0, f"mesh setup took {seconds:.2f} s"
        assert 0 < most <= MAX_PENDING_HANDSHAKES, most
    finally:
        stop.set()
        monitor.join()
        for s in silent:
            s.close()
