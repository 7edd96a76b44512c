"""Share containers and their local (communication-free) operations.

An :class:`AShare` is one party's view of an arithmetic sharing over Z_2^64;
a :class:`BShare` one party's view of a boolean (XOR) sharing of uint64 words.
Both hold two aligned 1-D uint64 arrays: ``a`` = x_i and ``b`` = x_{i+1} for
party i. Local operations never communicate and never reveal anything.
Operations with a public constant need the party index (only the holders of
x_0 — parties 0 and 2 — add the constant), so they are free functions here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tyst.ring.words import U64, WordArray, words

Mask = WordArray | int | np.uint64
"""A public operand of a local boolean operation: one word for all, or one per element."""


@dataclass(frozen=True, slots=True)
class AShare:
    """Arithmetic replicated share over Z_2^64: ``a`` = x_i, ``b`` = x_{i+1}."""

    a: WordArray
    b: WordArray

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __add__(self, other: AShare) -> AShare:
        return AShare(self.a + other.a, self.b + other.b)

    def __sub__(self, other: AShare) -> AShare:
        return AShare(self.a - other.a, self.b - other.b)

    def __neg__(self) -> AShare:
        return AShare(-self.a, -self.b)

    def mul_public(self, c: WordArray | int) -> AShare:
        """Multiply by a public constant or public array (elementwise)."""
        k = U64(c % (1 << 64)) if isinstance(c, int) else c
        return AShare(self.a * k, self.b * k)

    def __getitem__(self, index: slice | WordArray | np.ndarray) -> AShare:
        return AShare(self.a[index], self.b[index])

    def sum(self) -> AShare:
        """Sum of all elements, as a one-element sharing (local)."""
        return AShare(
            np.array([self.a.sum(dtype=U64)], dtype=U64),
            np.array([self.b.sum(dtype=U64)], dtype=U64),
        )

    def shift_left(self, bits: int) -> AShare:
        """Multiply by 2^bits (local)."""
        return AShare(self.a << U64(bits), self.b << U64(bits))


@dataclass(frozen=True, slots=True)
class BShare:
    """Boolean replicated share of uint64 words (XOR sharing): ``a`` = x_i, ``b`` = x_{i+1}."""

    a: WordArray
    b: WordArray

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __xor__(self, other: BShare) -> BShare:
        return BShare(self.a ^ other.a, self.b ^ other.b)

    def and_public(self, mask: Mask) -> BShare:
        """AND with a public mask (local)."""
        m = U64(mask) if isinstance(mask, int) else mask
        return BShare(self.a & m, self.b & m)

    def shift_left(self, bits: int) -> BShare:
        return BShare(self.a << U64(bits), self.b << U64(bits))

    def shift_right(self, bits: int) -> BShare:
        return BShare(self.a >> U64(bits), self.b >> U64(bits))

    def __getitem__(self, index: slice | WordArray | np.ndarray) -> BShare:
        return BShare(self.a[index], self.b[index])


def concat_a(parts: list[AShare]) -> AShare:
    """Concatenate arithmetic shares (local)."""
    return AShare(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]))


def concat_b(parts: list[BShare]) -> BShare:
    """Concatenate boolean shares (local)."""
    return BShare(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]))


def add_public(party: int, x: AShare, c: WordArray | int) -> AShare:
    """x + c for a public c: only the two holders of x_0 (parties 0 and 2) add it."""
    k = U64(c % (1 << 64)) if isinstance(c, int) else words(c)
    if party == 0:
        return AShare(x.a + k, x.b.copy())
    if party == 2:
        return AShare(x.a.copy(), x.b + k)
    return x


def xor_public(party: int, x: BShare, c: Mask) -> BShare:
    """x ^ c for a public c (same placement rule as :func:`add_public`)."""
    k = U64(c) if isinstance(c, int) else c
    if party == 0:
        return BShare(x.a ^ k, x.b.copy())
    if party == 2:
        return BShare(x.a.copy(), x.b ^ k)
    return x


def public_a(party: int, values: WordArray) -> AShare:
    """A public array as a (trivial) arithmetic sharing: x_0 = values, x_1 = x_2 = 0."""
    z = np.zeros_like(values)
    return add_public(party, AShare(z, z), values)


def public_b(party: int, values: WordArray) -> BShare:
    """A public array as a (trivial) boolean sharing."""
    z = np.zeros_like(values)
    return xor_public(party, BShare(z, z), values)
