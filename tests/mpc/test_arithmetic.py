"""Arithmetic protocols vs plaintext numpy: share/reveal, add/sub/neg, mul, dot, sum, truncation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.shares import AShare, add_public
from tyst.ring.words import U64, from_signed, to_signed


def _inputs(party: Party, x: np.ndarray, y: np.ndarray) -> tuple[AShare, AShare]:
    xs = A.share_input(party, 0, from_signed(x) if party.index == 0 else None)
    ys = A.share_input(party, 2, from_signed(y) if party.index == 2 else None)
    return xs, ys


def test_linear_ops_and_products(size: int, rng: np.random.Generator) -> None:
    x = rng.integers(-(2**63), 2**63 - 1, size, dtype=np.int64)
    y = rng.integers(-(2**63), 2**63 - 1, size, dtype=np.int64)
    c = rng.integers(-(2**63), 2**63 - 1, size, dtype=np.int64)

    def program(p: Party) -> list[np.ndarray]:
        xs, ys = _inputs(p, x, y)
        outs = [
            xs + ys,
            xs - ys,
            -xs,
            xs.mul_public(from_signed(c)),
            xs.mul_public(-3),
            add_public(p.index, xs, from_signed(c)),
            A.mul(p, xs, ys),
            xs.sum(),
            A.dot(p, xs, ys),
        ]
        return [A.reveal_all(p, o) for o in outs]

    results = run3(program)
    with np.errstate(over="ignore"):
        expected = [x + y, x - y, -x, x * c, x * -3, x + c, x * y, [x.sum()], [(x * y).sum()]]
    for party_result in results:
        for got, want in zip(party_result, expected, strict=True):
            np.testing.assert_array_equal(to_signed(got), np.asarray(want, dtype=np.int64))


def test_reveal_only_to_named_parties(rng: np.random.Generator) -> None:
    x = rng.integers(0, 2**63, 11, dtype=np.int64)
    for receivers in [(0,), (1,), (2,), (0, 2), (1, 2)]:

        def program(p: Party, receivers: tuple[int, ...] = receivers) -> np.ndarray | None:
            xs = A.share_input(p, 1, from_signed(x) if p.index == 1 else None)
            return A.reveal(p, xs, receivers)

        results = run3(program)
        for i, got in enumerate(results):
            if i in receivers:
                assert got is not None
                np.testing.assert_array_equal(to_signed(got), x)
            else:
                assert got is None


def test_reveal_rejects_bad_receivers() -> None:
    def program(p: Party) -> None:
        xs = A.share_input(p, 0, from_signed(np.arange(3)) if p.index == 0 else None)
        A.reveal(p, xs, (3,))

    with pytest.raises(ValueError, match="receivers"):
        run3(program, timeout=5)


def test_single_party_shares_are_uniform(rng: np.random.Generator) -> None:
    """A party's two shares of a constant input look uniform (no plaintext in any share)."""
    n = 100_000
    x = np.zeros(n, dtype=np.int64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        return xs.a, xs.b

    for a, b in run3(program):
        for share in (a, b):
            ones = np.unpackbits(share.view(np.uint8)).mean()
            assert abs(ones - 0.5) < 0.005
            assert np.count_nonzero(share == 0) < 5


@pytest.mark.parametrize("bits", [8, 16, 20])
def test_truncation_is_within_one_ulp(size: int, bits: int, rng: np.random.Generator) -> None:
    # |x| < 2^30: each element fails with probability ≤ 2^-33 (see truncate's contract)
    x = rng.integers(-(2**30), 2**30, size, dtype=np.int64)

    def program(p: Party) -> np.ndarray:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        return A.reveal_all(p, A.truncate(p, xs, bits))

    got = to_signed(run3(program)[0])
    diff = got - (x >> bits)
    assert np.all((diff >= 0) & (diff <= 1)), np.unique(diff)


def test_fixed_point_product_with_truncation(rng: np.random.Generator) -> None:
    from tyst.ring import fixed

    # |a·b|·2^32 < 2^39: failure probability ≤ 2^-24 per element (fixed.py's range rule)
    a = rng.uniform(-10, 10, 5001)
    b = rng.uniform(-10, 10, 5001)

    def program(p: Party) -> np.ndarray:
        xs = A.share_input(p, 0, fixed.encode(a) if p.index == 0 else None)
        ys = A.share_input(p, 1, fixed.encode(b) if p.index == 1 else None)
        prod = A.truncate(p, A.mul(p, xs, ys), fixed.DEFAULT_FRACTION_BITS)
        return A.reveal_all(p, prod)

    got = fixed.decode(run3(program)[0])
    np.testing.assert_allclose(got, a * b, atol=2.0**-14 * 1001)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20),
    st.integers(-(2**63), 2**63 - 1),
)
def test_mul_wraps_like_the_ring(values: list[int], factor: int) -> None:
    x = np.array(values, dtype=np.int64)
    y = np.full(len(values), factor, dtype=np.int64)

    def program(p: Party) -> np.ndarray:
        xs, ys = _inputs(p, x, y)
        return A.reveal_all(p, A.mul(p, xs, ys))

    got = run3(program)[1]
    want = [(v * factor) % (1 << 64) for v in values]
    assert got.tolist() == want
    assert got.dtype == U64
