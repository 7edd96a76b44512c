"""Ring embedding, fixed point and the PRG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tyst.ring import fixed
from tyst.ring.prg import Prg
from tyst.ring.words import from_signed, to_signed, words

int64s = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(int64s, max_size=50))
def test_signed_embedding_round_trips(values: list[int]) -> None:
    assert to_signed(from_signed(values)).tolist() == values


@given(st.lists(int64s, min_size=1, max_size=50), st.lists(int64s, min_size=1, max_size=50))
def test_ring_ops_are_mod_2_64(xs: list[int], ys: list[int]) -> None:
    n = min(len(xs), len(ys))
    a, b = from_signed(xs[:n]), from_signed(ys[:n])
    mod = 1 << 64
    assert (a + b).tolist() == [(x + y) % mod for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert (a * b).tolist() == [(x * y) % mod for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert (a - b).tolist() == [(x - y) % mod for x, y in zip(xs[:n], ys[:n], strict=True)]


def test_words_accepts_python_ints_beyond_int64() -> None:
    assert words(np.array([2**64 - 1, -1], dtype=object)).tolist() == [2**64 - 1, 2**64 - 1]


@given(st.lists(st.floats(-1e9, 1e9), max_size=30))
def test_fixed_point_round_trip(values: list[float]) -> None:
    got = fixed.decode(fixed.encode(values))
    np.testing.assert_allclose(got, values, atol=2.0 ** -(fixed.DEFAULT_FRACTION_BITS + 1))


def test_fixed_point_range_is_checked() -> None:
    with pytest.raises(OverflowError):
        fixed.encode([2.0**50])


def test_prg_is_deterministic_and_domain_separated() -> None:
    key = bytes(range(16))
    a, b, c = Prg(key), Prg(key), Prg(key, b"other")
    first = a.words(1000)
    assert np.array_equal(first, b.words(1000))
    assert not np.array_equal(first, c.words(1000))
    # the stream continues: the next block differs from the first
    assert not np.array_equal(a.words(1000), first)
    # chunking does not change the stream
    d = Prg(key)
    assert np.array_equal(np.concatenate([d.words(3), d.words(997)]), first)


def test_prg_rejects_bad_keys() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Prg(b"short")
