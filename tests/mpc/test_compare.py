"""Comparisons and mux vs plaintext numpy, including wrap-around and negative values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.conftest import RANGE
from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.protocols import compare as C
from tyst.ring.words import from_signed, to_signed

ORDERS = {
    "lt": (C.lt, np.less),
    "le": (C.le, np.less_equal),
    "gt": (C.gt, np.greater),
    "ge": (C.ge, np.greater_equal),
    "eq": (C.eq, np.equal),
    "ne": (C.ne, np.not_equal),
}


def _operands(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(-RANGE, RANGE, size, dtype=np.int64)
    y = rng.integers(-RANGE, RANGE, size, dtype=np.int64)
    # ties, near-ties, extremes of the range and sign changes
    k = size // 4
    y[:k] = x[:k]
    y[k : 2 * k] = x[k : 2 * k] + rng.integers(-2, 3, k)
    if size >= 4:
        x[-4:] = [-RANGE, RANGE - 1, 0, -1]
        y[-4:] = [RANGE - 1, -RANGE, -1, 0]
    return x, y


def _run_compare(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    def program(p: Party) -> dict[str, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        ys = A.share_input(p, 1, from_signed(y) if p.index == 1 else None)
        out = {name: B.reveal_bool_all(p, f(p, xs, ys)) for name, (f, _) in ORDERS.items()}
        out["msb"] = B.reveal_bool_all(p, C.msb(p, xs))
        out["select"] = A.reveal_all(p, C.select(p, C.lt(p, xs, ys), xs, ys))
        return out

    return run3(program)[2]


def test_comparisons(size: int, rng: np.random.Generator) -> None:
    x, y = _operands(size, rng)
    got = _run_compare(x, y)
    for name, (_, reference) in ORDERS.items():
        np.testing.assert_array_equal(got[name], reference(x, y).astype(np.uint64), err_msg=name)
    np.testing.assert_array_equal(got["msb"], (x < 0).astype(np.uint64))
    np.testing.assert_array_equal(to_signed(got["select"]), np.minimum(x, y))


def test_equality_on_full_ring_and_wraparound() -> None:
    """eq holds on all of Z_2^64, e.g. 2^63 − 1 + 1 wraps to −2^63."""
    big = np.iinfo(np.int64)
    x = np.array([big.max, big.min, -1, 0, 12345], dtype=np.int64)
    y = np.array([big.min, big.min, -1, 0, 12346], dtype=object)
    y_words = np.array([int(v) % 2**64 for v in y], dtype=np.uint64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, from_signed(x) if p.index == 0 else None)
        one = A.share_input(p, 1, from_signed(np.ones(5, np.int64)) if p.index == 1 else None)
        ys = A.share_input(p, 2, y_words if p.index == 2 else None)
        wrapped = xs + one  # big.max + 1 wraps to big.min
        return B.reveal_bool_all(p, C.eq(p, wrapped, ys)), B.reveal_bool_all(p, C.eq(p, xs, ys))

    eq_wrapped, eq_plain = run3(program)[0]
    with np.errstate(over="ignore"):
        want_wrapped = (x + 1).view(np.uint64) == y_words
    np.testing.assert_array_equal(eq_wrapped, want_wrapped.astype(np.uint64))
    np.testing.assert_array_equal(eq_plain, (x.view(np.uint64) == y_words).astype(np.uint64))
    assert eq_wrapped[0] == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-RANGE, RANGE - 1), st.integers(-RANGE, RANGE - 1)),
        min_size=1,
        max_size=12,
    )
)
def test_comparison_properties(pairs: list[tuple[int, int]]) -> None:
    x = np.array([a for a, _ in pairs], dtype=np.int64)
    y = np.array([b for _, b in pairs], dtype=np.int64)
    got = _run_compare(x, y)
    assert got["lt"].tolist() == [int(a < b) for a, b in pairs]
    assert got["eq"].tolist() == [int(a == b) for a, b in pairs]
    assert got["ge"].tolist() == [int(a >= b) for a, b in pairs]
