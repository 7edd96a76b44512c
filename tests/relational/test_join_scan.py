"""The private building blocks of the joins: run starts, copy-forward scan, compaction."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.relational.join_scan import compact, copy_forward, low_bit, segment_starts
from tyst.ring.words import U64

SCAN_SIZES = [*range(0, 40), 63, 64, 65, 95, 96, 97, 1000, 4097, 100_003]


def reference_copy_forward(flags: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row i: the values of the latest flagged row ≤ i (row 0 counts as flagged)."""
    n = flags.shape[0]
    source = np.where(flags.astype(bool) | (np.arange(n) == 0), np.arange(n), 0)
    return values[:, np.maximum.accumulate(source)] if n else values


@pytest.mark.parametrize("n", SCAN_SIZES)
def test_copy_forward(n: int) -> None:
    rng = np.random.default_rng(n)
    density = rng.choice([0.01, 0.2, 0.7])
    flags = (rng.random(n) < density).astype(U64)
    values = rng.integers(0, 1 << 63, (3, n), dtype=np.int64).view(U64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        t = A.share_input(p, 0, flags if p.index == 0 else None)
        lanes = [A.share_input(p, 1, values[j] if p.index == 1 else None) for j in range(3)]
        out = copy_forward(p, t, lanes)
        return np.stack([A.reveal_all(p, x) for x in out]), A.reveal_all(p, t)

    got, flags_back = run3(program)[0]
    np.testing.assert_array_equal(got, reference_copy_forward(flags, values))
    np.testing.assert_array_equal(flags_back, flags)  # the input is not modified


@pytest.mark.parametrize("n", [0, 1, 2, 17, 10_001])
@pytest.mark.parametrize("c", [1, 2, 3])
def test_segment_starts(n: int, c: int) -> None:
    rng = np.random.default_rng(10 * n + c)
    keys = np.sort(rng.integers(0, 4, (n, c)), axis=0).T.astype(np.int64).view(U64)
    keys = keys[:, np.lexsort(keys[::-1])] if n else keys

    def program(p: Party) -> np.ndarray:
        shared = [A.share_input(p, 2, keys[j] if p.index == 2 else None) for j in range(c)]
        return B.reveal_bool_all(p, segment_starts(p, shared))

    got = run3(program)[0]
    want = np.ones(n, dtype=U64)
    if n > 1:
        want[1:] = np.any(keys[:, 1:] != keys[:, :-1], axis=0)
    np.testing.assert_array_equal(got, want)


def test_low_bit_and_compact() -> None:
    rng = np.random.default_rng(1)
    n = 1001
    x = rng.integers(0, 1 << 63, n, dtype=np.int64).view(U64)
    keep = (rng.random(n) < 0.3).astype(U64)
    expected = int(keep.sum())

    def program(p: Party) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, x if p.index == 0 else None)
        ks = B.share_input_bool(p, 1, keep if p.index == 1 else None)
        lanes, bits = compact(p, [xs], [low_bit(xs)], ks, expected)
        with pytest.raises(RuntimeError, match="expected"):
            compact(p, [xs], [], ks, expected + 1)
        return (
            A.reveal_all(p, lanes[0]),
            B.reveal_bool_all(p, bits[0]),
            B.reveal_bool_all(p, low_bit(xs)),
        )

    kept, kept_low, low = run3(program)[0]
    np.testing.assert_array_equal(low, x & U64(1))
    assert sorted(kept.tolist()) == sorted(x[keep == 1].tolist())
    np.testing.assert_array_equal(kept_low, kept & U64(1))
