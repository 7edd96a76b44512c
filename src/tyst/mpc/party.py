"""The party context: who I am, my links, my randomness. Passed to every protocol.

There are no module-level singletons: a program builds a :class:`Party` from a
transport and hands it to the protocol functions explicitly.
"""

from __future__ import annotations

import numpy as np

from tyst.mpc.randomness import Randomness
from tyst.net.transport import Transport
from tyst.ring.words import U64, WordArray

N_PARTIES = 3
CHUNK_WORDS = 1 << 16
"""Large messages are cut into chunks of this many words so that computing,
encrypting, sending and decrypting overlap between the parties, and each
chunk's working set stays in cache."""


class Party:
    """One of the three compute parties of a job (index 0, 1, 2)."""

    def __init__(self, transport: Transport, randomness: Randomness) -> None:
        self.transport = transport
        self.index = transport.party
        self.next = (self.index + 1) % N_PARTIES
        self.prev = (self.index + 2) % N_PARTIES
        self.randomness = randomness

    @classmethod
    def setup(cls, transport: Transport, domain: bytes = b"") -> Party:
        """Create the context, running the pairwise key exchange over ``transport``."""
        return cls(transport, Randomness.setup(transport, domain))

    def send_words(self, to: int, values: WordArray) -> None:
        """Send a uint64 array (raw little-endian bytes, no pickling)."""
        data: WordArray = np.ascontiguousarray(values, dtype="<u8")
        self.transport.send(to, data.data.cast("B"))

    def recv_words(self, frm: int, n: int | None = None) -> WordArray:
        """Receive a uint64 array; if ``n`` is given, check its length."""
        buf = self.transport.recv(frm)
        if len(buf) % 8:
            raise ValueError(f"party {self.index}: message from {frm} is not whole words")
        out = np.frombuffer(buf, dtype="<u8").view(U64)
        if n is not None and out.shape[0] != n:
            raise ValueError(
                f"party {self.index}: expected {n} words from party {frm}, got {out.shape[0]}"
            )
        return out

    @staticmethod
    def chunks(n: int) -> list[tuple[int, int]]:
        """The [lo, hi) ranges a message of ``n`` words is cut into (at least one)."""
        if n <= CHUNK_WORDS:
            return [(0, n)]
        return [(lo, min(n, lo + CHUNK_WORDS)) for lo in range(0, n, CHUNK_WORDS)]

    def recv_chunks(self, frm: int, chunks: list[tuple[int, int]]) -> WordArray:
        """Receive a message sent in ``chunks`` (see :meth:`chunks`) into one array."""
        if len(chunks) == 1:
            return self.recv_words(frm, chunks[0][1] - chunks[0][0])
        out = np.empty(chunks[-1][1], dtype=U64)
        for lo, hi in chunks:
            out[lo:hi] = self.recv_words(frm, hi - lo)
        return out

    def exchange_prev(self, values: WordArray) -> WordArray:
        """Send ``values`` to prev, receive the same-length array from next (reshare step)."""
        self.send_words(self.prev, values)
        return self.recv_words(self.next, values.shape[0])
