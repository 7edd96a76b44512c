"""Boolean protocols and conversions vs plaintext: AND/XOR/OR, a2b, b2a, bit injection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.protocols import conversion as V
from tyst.mpc.shares import xor_public
from tyst.ring.words import U64, from_signed


def test_boolean_gates(size: int, rng: np.random.Generator) -> None:
    x = rng.integers(0, 2**64, size, dtype=U64)
    y = rng.integers(0, 2**64, size, dtype=U64)
    c = rng.integers(0, 2**64, size, dtype=U64)

    def program(p: Party) -> list[np.ndarray]:
        xs = B.share_input_bool(p, 1, x if p.index == 1 else None)
        ys = B.share_input_bool(p, 2, y if p.index == 2 else None)
        outs = [xs ^ ys, B.and_(p, xs, ys), B.or_(p, xs, ys), xor_public(p.index, xs, c)]
        outs += B.and_many(p, [(xs, ys), (ys, ys)])
        return [B.reveal_bool_all(p, o) for o in outs]

    expected = [x ^ y, x & y, x | y, x ^ c, x & y, y]
    for party_result in run3(program):
        for got, want in zip(party_result, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a2b_b2a_round_trip(size: int, rng: np.random.Generator) -> None:
    x = rng.integers(0, 2**64, size, dtype=U64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, x if p.index == 0 else None)
        bits = V.a2b(p, xs)
        back = V.b2a(p, bits)
        return B.reveal_bool_all(p, bits), A.reveal_all(p, back)

    for as_bool, as_arith in run3(program):
        np.testing.assert_array_equal(as_bool, x)
        np.testing.assert_array_equal(as_arith, x)


def test_bit_injection(size: int, rng: np.random.Generator) -> None:
    bits = rng.integers(0, 2, size, dtype=U64)
    noise = rng.integers(0, 2**64, size, dtype=U64) & ~U64(1)  # only bit 0 is the bit

    def program(p: Party) -> np.ndarray:
        bs = B.share_input_bool(p, 2, (bits | noise) if p.index == 2 else None)
        return A.reveal_all(p, V.bit_to_arith(p, bs))

    for got in run3(program):
        np.testing.assert_array_equal(got, bits)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=16))
def test_a2b_matches_twos_complement(values: list[int]) -> None:
    x = from_signed(np.array(values, dtype=np.int64))

    def program(p: Party) -> np.ndarray:
        xs = A.share_input(p, 1, x if p.index == 1 else None)
        return B.reveal_bool_all(p, V.a2b(p, xs))

    np.testing.assert_array_equal(run3(program)[2], x)


def test_a2b_in_chunks_equals_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(3).integers(0, 2**64, 1001, dtype=U64)
    monkeypatch.setattr(V, "A2B_CHUNK", 100)

    def program(p: Party) -> np.ndarray:
        return B.reveal_bool_all(p, V.a2b(p, A.share_input(p, 0, x if p.index == 0 else None)))

    for opened in run3(program):
        np.testing.assert_array_equal(opened, x)
