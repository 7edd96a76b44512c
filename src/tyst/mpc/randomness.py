"""Correlated randomness from pairwise-seeded AES-CTR.

Key setup (one message): party i draws a 16-byte key k_i from the OS CSPRNG
and sends it to its previous party i-1. Afterwards party i holds

* ``shared_prev`` = PRG(k_i), also held by party i-1 as its ``shared_next``;
* ``shared_next`` = PRG(k_{i+1}), also held by party i+1 as its ``shared_prev``.

Zero-sharings: α_i = F(k_i) − F(k_{i+1}) sums to 0 over the three parties (XOR
variant likewise) and is unknown to any single party beyond its own α_i, which
is what re-randomises every multiplication (the CrypTen#518 bug class is a
multiplication that skips it). Streams stay aligned because all parties run
the same protocol sequence; every protocol documents which streams it draws.

No key is ever logged or written anywhere.
"""

from __future__ import annotations

import os

from tyst.net.transport import Transport
from tyst.ring.prg import KEY_BYTES, Prg
from tyst.ring.words import WordArray


class Randomness:
    """One party's pairwise PRGs and private PRG."""

    def __init__(self, shared_prev: Prg, shared_next: Prg, private: Prg) -> None:
        self.shared_prev = shared_prev
        self.shared_next = shared_next
        self.private = private

    @classmethod
    def setup(cls, transport: Transport, domain: bytes = b"") -> Randomness:
        """Run the key exchange (one message to prev, one from next) over ``transport``."""
        me = transport.party
        own = os.urandom(KEY_BYTES)
        transport.send((me + 2) % 3, own)
        received = bytes(transport.recv((me + 1) % 3))
        if len(received) != KEY_BYTES:
            raise ValueError("malformed PRG key from next party")
        return cls(Prg(own, domain), Prg(received, domain), Prg.fresh(domain + b"/private"))

    def add_zero_arith(self, z: WordArray) -> None:
        """In place: z += this party's α_i of a fresh arithmetic zero-sharing (no allocation)."""
        z += self.shared_prev.words_scratch(z.shape[0])
        z -= self.shared_next.words_scratch(z.shape[0])

    def xor_zero_bool(self, z: WordArray) -> None:
        """In place: z ^= this party's α_i of a fresh XOR zero-sharing (no allocation)."""
        z ^= self.shared_prev.words_scratch(z.shape[0])
        z ^= self.shared_next.words_scratch(z.shape[0])

    def zero_arith(self, n: int) -> WordArray:
        """This party's α_i of a fresh arithmetic zero-sharing of ``n`` elements."""
        return self.shared_prev.words(n) - self.shared_next.words(n)

    def zero_bool(self, n: int) -> WordArray:
        """This party's α_i of a fresh XOR zero-sharing of ``n`` words."""
        return self.shared_prev.words(n) ^ self.shared_next.words(n)
