"""Restoring division over shares equals Python's exact integer division (quotient, remainder)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import division as D
from tyst.ring.words import from_signed, to_signed

SIZES = [0, 1, 7, 1001]
"""Division costs ~10 rounds per quotient bit: sizes 0, 1, odd and ~10^3 keep the suite fast."""


def _dividends(n: int, bound: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(0, bound + 1, n, dtype=np.int64) if bound else np.zeros(n, np.int64)
    edges = [0, 1, bound, max(bound - 1, 0)]
    x[: min(n, len(edges))] = edges[: min(n, len(edges))]
    return x


def _run_public(x: np.ndarray, divisor: int, bound: int) -> tuple[np.ndarray, np.ndarray]:
    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        q, r = D.divide_public(p, xs, divisor, bound)
        return A.reveal_all(p, q), A.reveal_all(p, r)

    q, r = run3(program)[1]
    return to_signed(q), to_signed(r)


def _run_secret(
    x: np.ndarray, d: np.ndarray, bound: int, d_low: int, d_high: int
) -> tuple[np.ndarray, np.ndarray]:
    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        ds = A.share_input(p, 1, from_signed(d) if p.index == 1 else None)
        q, r = D.divide(p, xs, ds, bound, d_low, d_high)
        return A.reveal_all(p, q), A.reveal_all(p, r)

    q, r = run3(program)[2]
    return to_signed(q), to_signed(r)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(
    ("divisor", "bound"), [(1, 1000), (7, 10**6), (10, 10**18), (3, D.LIMIT), (10**9, 5), (2, 0)]
)
def test_public_divisor(n: int, divisor: int, bound: int) -> None:
    rng = np.random.default_rng(n + divisor)
    x = _dividends(n, bound, rng)
    q, r = _run_public(x, divisor, bound)
    want = [divmod(int(v), divisor) for v in x]
    assert q.tolist() == [w[0] for w in want]
    assert r.tolist() == [w[1] for w in want]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(
    ("bound", "d_low", "d_high"),
    [
        (1000, 1, 1000),  # no clamping: d·2^i stays small
        (10**12, 1, 10**12),  # clamped steps: d_high·2^i passes 2^62
        (D.LIMIT, 1, D.LIMIT),  # the whole range
        (10**6, 999, 1001),  # few quotient bits
        (5, 7, 100),  # the divisor always exceeds the dividend: q = 0
    ],
)
def test_secret_divisor(n: int, bound: int, d_low: int, d_high: int) -> None:
    rng = np.random.default_rng(n + d_low)
    x = _dividends(n, bound, rng)
    d = rng.integers(d_low, d_high + 1, n, dtype=np.int64)
    edges = [d_low, d_high, d_low, 1 if d_low == 1 else d_high]
    d[: min(n, 4)] = edges[: min(n, 4)]
    q, r = _run_secret(x, d, bound, d_low, d_high)
    want = [divmod(int(a), int(b)) for a, b in zip(x, d, strict=True)]
    assert q.tolist() == [w[0] for w in want]
    assert r.tolist() == [w[1] for w in want]


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="dividend bound"):
        D._check(D.LIMIT + 1, 1, 1)
    with pytest.raises(ValueError, match="positive"):
        D._check(10, 0, 5)


def _rounded(x: int, d: int, digits: int) -> int:
    """⌊x·10^t / d + 1/2⌋ exactly (Fraction), half away from zero for x, d ≥ 0."""
    exact = Fraction(x * 10**digits, d)
    return int(exact + Fraction(1, 2))  # int() truncates; exact ≥ 0


def _run_digits(
    x: np.ndarray, d: np.ndarray | int, bound: int, d_low: int, d_high: int, digits: int
) -> np.ndarray:
    def program(p: Party) -> np.ndarray:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        if isinstance(d, int):
            return A.reveal_all(p, D.divide_digits(p, xs, d, bound, d, d, digits))
        ds = A.share_input(p, 1, from_signed(d) if p.index == 1 else None)
        return A.reveal_all(p, D.divide_digits(p, xs, ds, bound, d_low, d_high, digits))

    return to_signed(run3(program)[0])


@pytest.mark.parametrize("n", [0, 1, 9, 101])
@pytest.mark.parametrize(
    ("bound", "d_low", "d_high", "digits"),
    [
        (D.LIMIT, 1, D.LIMIT // 10, 0),  # dividend near 2^62, rounding only
        (D.LIMIT, 10**16, D.LIMIT // 10, 6),  # Q8-like: both near the ring, 6 digits
        (10**6, 1, 1000, 3),  # quotient up to 10^9
        (999, 1, 8, 2),  # ties (x / 8 at 2 digits: ·125 ends in 5 → exact halves)
    ],
)
def test_long_division_with_digits_rounds_half_away(
    n: int, bound: int, d_low: int, d_high: int, digits: int
) -> None:
    rng = np.random.default_rng(n + digits)
    x = _dividends(n, bound, rng)
    d = rng.integers(d_low, d_high + 1, n, dtype=np.int64)
    edges = [d_low, d_high, d_high, d_low, 8 if d_low <= 8 <= d_high else d_low]
    d[: min(n, len(edges))] = edges[: min(n, len(edges))]
    if 0 < bound < 10**3 and n > 5:  # exact ties: x·10^t / d = k + 1/2
        x[5:9], d[5:9] = [1, 3, 5, 999], [8, 8, 8, 8]
    got = _run_digits(x, d, bound, d_low, d_high, digits)
    want = [_rounded(int(a), int(b), digits) for a, b in zip(x, d, strict=True)]
    assert got.tolist() == want
    if bound == D.LIMIT and digits:  # the quotient fits only because x ≤ d·(small)
        assert max(want, default=0) <= D.LIMIT // 10**16 * 10**6 + 10**6


@pytest.mark.parametrize("n", [1, 9])
@pytest.mark.parametrize(
    ("divisor", "bound", "digits"), [(8, 999, 2), (7, 10**9, 6), (1, 10**9, 4)]
)
def test_long_division_by_a_public_divisor(n: int, divisor: int, bound: int, digits: int) -> None:
    rng = np.random.default_rng(n + divisor)
    x = _dividends(n, bound, rng)
    if n > 5:
        x[5] = 1  # 1·10^2 / 8 = 12.5: a tie, rounded up to 13
    got = _run_digits(x, divisor, bound, divisor, divisor, digits)
    assert got.tolist() == [_rounded(int(a), divisor, digits) for a in x]


def test_long_division_refuses_a_divisor_whose_tenfold_leaves_the_ring() -> None:
    def program(p: Party) -> None:
        xs = A.share_input(p, 0, from_signed(np.zeros(1, np.int64)) if p.index == 0 else None)
        D.divide_digits(p, xs, xs, 10, 1, D.LIMIT // 5, 1)

    with pytest.raises(ValueError, match="ten times"):
        run3(program)


@pytest.mark.parametrize("bits", [0, 1, 13, 40])
def test_fraction_bits_are_the_truncated_binary_fraction(bits: int) -> None:
    rng = np.random.default_rng(bits)
    d = rng.integers(1, 10**6, 50, dtype=np.int64)
    r = (rng.random(50) * d).astype(np.int64)
    r[:3], d[:3] = [0, 999_998, 1], [1, 999_999, 3]

    def program(p: Party) -> np.ndarray:
        rs = A.share_input(p, 0, from_signed(r) if p.index == 0 else None)
        ds = A.share_input(p, 1, from_signed(d) if p.index == 1 else None)
        return A.reveal_all(p, D.fraction_bits(p, rs, ds, 10**6, bits))

    got = to_signed(run3(program)[0])
    want = [(int(a) << bits) // int(b) for a, b in zip(r, d, strict=True)]
    assert got.tolist() == want


def test_divide_with_a_quotient_bound_takes_fewer_steps_and_is_exact() -> None:
    rng = np.random.default_rng(5)
    d = rng.integers(1, 1000, 40, dtype=np.int64)
    x = d * rng.integers(0, 101, 40) + (rng.random(40) * d).astype(np.int64)  # quotient ≤ 100

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        ds = A.share_input(p, 1, from_signed(d) if p.index == 1 else None)
        q, r = D.divide(p, xs, ds, D.LIMIT, 1, 1000, quotient_max=100)
        return A.reveal_all(p, q), A.reveal_all(p, r)

    q, r = run3(program)[0]
    assert to_signed(q).tolist() == (x // d).tolist()
    assert to_signed(r).tolist() == (x % d).tolist()
