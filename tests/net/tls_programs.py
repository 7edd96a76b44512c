"""Party programs for the TLS launcher tests.

They live in their own light module (no pytest import) because the launcher's
``spawn`` children import the module of the program they run.
"""

from __future__ import annotations

import os
import time

import numpy as np

from tyst.net.tls import TlsTransport
from tyst.net.transport import LinkStats


def pattern(sender: int, receiver: int, size: int) -> bytes:
    """Deterministic pseudo-random bytes of the message ``sender -> receiver`` of ``size``."""
    rng = np.random.default_rng([sender, receiver, size])
    return rng.bytes(size)


def ring_exchange(transport: TlsTransport, sizes: list[int]) -> list[tuple[int, int, int, bool]]:
    """For every size, send to both neighbours, then check what both neighbours sent."""
    me = transport.party
    nxt, prv = (me + 1) % 3, (me - 1) % 3
    checks = []
    for size in sizes:
        transport.send(nxt, pattern(me, nxt, size))
        transport.send(prv, pattern(me, prv, size))
        for frm in (prv, nxt):
            got = transport.recv(frm)
            checks.append((frm, me, size, got == pattern(frm, me, size)))
    return checks


def ring_with_stats(transport: TlsTransport, sizes: list[int]) -> LinkStats:
    """Run :func:`ring_exchange` and return this party's counters."""
    ring_exchange(transport, sizes)
    return transport.stats


def garbage_from_party_1(transport: TlsTransport) -> str:
    """Party 1 writes non-frame bytes into its TLS link to party 0; party 0 must reject them."""
    me = transport.party
    if me == 1:
        transport._out[0].sock.sendall(b"this is not a tyst frame, just garbage" * 4)
        transport.recv(0)  # party 0 drops the link: PeerDisconnected
        return "unreachable"
    if me == 0:
        transport.recv(1)  # FrameError
        return "unreachable"
    transport.recv(0)  # party 2 waits for party 0, which fails: PeerDisconnected
    return "unreachable"


def party_1_dies(transport: TlsTransport) -> int:
    """One good round, then party 1 exits abruptly; the others must see PeerDisconnected."""
    ring_exchange(transport, [16])
    if transport.party == 1:
        os._exit(3)
    transport.recv(1)
    return 0


def party_1_silent(transport: TlsTransport, seconds: float) -> str:
    """Party 1 sends nothing for ``seconds``; the others wait for it (PeerTimeout)."""
    if transport.party == 1:
        time.sleep(seconds)
        return "slept"
    transport.recv(1)
    return "unreachable"


def party_2_raises(transport: TlsTransport) -> None:
    """Party 2's program fails with an ordinary exception after one round."""
    ring_exchange(transport, [8])
    if transport.party == 2:
        raise ValueError("party 2 found a bad input")
    transport.recv(2)


def send_many(transport: TlsTransport, n: int, size: int) -> float:
    """Party 0 sends ``n`` messages of ``size`` bytes to party 1; returns seconds taken."""
    if transport.party == 2:
        return 0.0
    payload = pattern(0, 1, size)
    start = time.perf_counter()
    if transport.party == 0:
        for _ in range(n):
            transport.send(1, payload)
        transport.recv(1)  # wait for the acknowledgement
    else:
        for _ in range(n):
            got = transport.recv(0)
            assert len(got) == size
        transport.send(0, b"ack")
    return time.perf_counter() - start


def everyone_hangs(transport: TlsTransport, seconds: float) -> None:
    """No party sends or receives; only the launcher's overall deadline ends this."""
    time.sleep(seconds)


def echo_args(transport: TlsTransport, *args: object) -> tuple[int, tuple[object, ...]]:
    """Return this party's index and the arguments it was started with."""
    return transport.party, args


def relay_chain(transport: TlsTransport, laps: int) -> int:
    """Pass one token around the ring 0 → 1 → 2 → 0 ``laps`` times; return the round counter."""
    me = transport.party
    nxt, prv = (me + 1) % 3, (me - 1) % 3
    for _ in range(laps):
        if me == 0:
            transport.send(nxt, b"t")
            transport.recv(prv)
        else:
            transport.recv(prv)
            transport.send(nxt, b"t")
    return transport.stats.rounds
