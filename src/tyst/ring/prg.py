"""Pseudo-random generator: AES-128 in counter mode, read as uint64 words.

Contract: two ``Prg`` objects built from the same 16-byte key and domain
produce the same stream of words, in the same order, on every machine
(little-endian words of the AES-CTR keystream). Different domains give
independent streams for the same key. The key never leaves the object.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tyst.ring.words import U64, WordArray

KEY_BYTES = 16


class Prg:
    """AES-128-CTR keystream generator (``domain`` separates independent streams)."""

    __slots__ = ("_enc", "_scratch", "_zeros")

    def __init__(self, key: bytes, domain: bytes = b"") -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"PRG key must be {KEY_BYTES} bytes, got {len(key)}")
        derived = hashlib.sha256(b"tyst-prg\x00" + domain + b"\x00" + key).digest()
        self._enc = Cipher(algorithms.AES(derived[:16]), modes.CTR(derived[16:32])).encryptor()
        self._zeros = b""
        self._scratch: WordArray = np.empty(0, dtype=U64)

    @classmethod
    def fresh(cls, domain: bytes = b"") -> Prg:
        """A PRG keyed from the operating system's CSPRNG (private randomness)."""
        return cls(os.urandom(KEY_BYTES), domain)

    def words(self, n: int) -> WordArray:
        """The next ``n`` words of the stream as a fresh **read-only** uint64 array."""
        nbytes = n * 8
        if len(self._zeros) < nbytes:
            self._zeros = bytes(max(nbytes, 2 * len(self._zeros)))
        stream = self._enc.update(memoryview(self._zeros)[:nbytes])
        return np.frombuffer(stream, dtype=U64, count=n)

    def words_scratch(self, n: int) -> WordArray:
        """The next ``n`` words in a buffer owned by this PRG (no allocation).

        The array is only valid until the next call on this PRG: use it at once
        (e.g. add it into another array) and never keep it.
        """
        nbytes = n * 8
        if len(self._zeros) < nbytes:
            self._zeros = bytes(max(nbytes, 2 * len(self._zeros)))
        if self._scratch.shape[0] < n + 2:
            self._scratch = np.empty(max(n + 2, 2 * self._scratch.shape[0]), dtype=U64)
        written = self._enc.update_into(
            memoryview(self._zeros)[:nbytes], self._scratch.data.cast("B")
        )
        assert written == nbytes
        return self._scratch[:n]

    def integers_below(self, bound: int, n: int) -> WordArray:
        """``n`` words uniform in [0, bound) (rejection-free: bias ≤ bound / 2^64)."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        return self.words(n) % U64(bound)
