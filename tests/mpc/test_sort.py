"""Stable oblivious sort vs numpy's stable lexsort, and the public sample-sort skeleton."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tests.mpc.conftest import RANGE
from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.protocols import sort as S
from tyst.mpc.protocols.sort import sort, sort_all_pairs, sort_segments
from tyst.mpc.shares import AShare, BShare
from tyst.ring.words import from_signed, to_signed


def _reference(keys: Sequence[np.ndarray], descending: Sequence[bool]) -> np.ndarray:
    """Stable lexicographic order (first key most significant) with numpy."""
    if len(keys[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    cols = [-k if d else k for k, d in zip(keys, descending, strict=True)]
    return np.lexsort(cols[::-1])


def _run_sort(
    keys: Sequence[np.ndarray], descending: Sequence[bool] | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Sort by ``keys`` carrying the row number as an arith and a bool payload column."""
    n = len(keys[0])
    rows = np.arange(n, dtype=np.int64)

    def program(p: Party) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        ks = [
            A.share_input(p, j % 3, from_signed(k) if p.index == j % 3 else None)
            for j, k in enumerate(keys)
        ]
        ra = A.share_input(p, 1, from_signed(rows) if p.index == 1 else None)
        rb = B.share_input_bool(p, 2, from_signed(rows) if p.index == 2 else None)
        out_keys, payload = sort(p, ks, [ra, rb], descending=descending)
        pa, pb = payload
        assert isinstance(pa, AShare)
        assert isinstance(pb, BShare)
        return (
            [to_signed(A.reveal_all(p, k)) for k in out_keys],
            to_signed(A.reveal_all(p, pa)),
            to_signed(B.reveal_bool_all(p, pb)),
        )

    results = run3(program)
    for other in results[1:]:
        np.testing.assert_array_equal(other[1], results[0][1])
    return results[0]


def _check(keys: Sequence[np.ndarray], descending: Sequence[bool] | None = None) -> None:
    flags = [False] * len(keys) if descending is None else list(descending)
    want = _reference(keys, flags)
    got_keys, got_rows_a, got_rows_b = _run_sort(keys, descending)
    np.testing.assert_array_equal(got_rows_a, want)  # exact stable order (ties by input order)
    np.testing.assert_array_equal(got_rows_b, want)
    for got, k in zip(got_keys, keys, strict=True):
        np.testing.assert_array_equal(got, k[want])


def test_sort_one_key_with_duplicates(size: int, rng: np.random.Generator) -> None:
    """Sizes 0, 1, odd, ≥ 10^5; few distinct values, so stability decides most positions."""
    _check([rng.integers(-20, 20, size, dtype=np.int64)])


def test_sort_full_range_and_extremes(rng: np.random.Generator) -> None:
    k = rng.integers(-RANGE + 1, RANGE, 1001, dtype=np.int64)
    k[:6] = [-RANGE + 1, RANGE - 1, 0, -1, 1, RANGE - 1]
    k[6:20] = -7
    _check([k])
    _check([k], descending=[True])


def test_sort_all_equal_keys_is_identity() -> None:
    _check([np.full(257, -3, dtype=np.int64)])
    _check([np.full(257, 9, dtype=np.int64)], descending=[True])


def test_sort_already_sorted_and_reversed() -> None:
    k = np.arange(-500, 501, dtype=np.int64)
    _check([k])
    _check([k[::-1].copy()])


@pytest.mark.parametrize("descending", [None, [True, False], [False, True], [True, True]], ids=str)
def test_sort_two_keys(descending: list[bool] | None, rng: np.random.Generator) -> None:
    n = 2001
    k1 = rng.integers(-3, 3, n, dtype=np.int64)
    k2 = rng.integers(-RANGE + 1, RANGE, n, dtype=np.int64)
    k2[: n // 2] = rng.integers(-4, 4, n // 2)  # ties on both keys
    _check([k1, k2], descending)


@pytest.mark.parametrize("n_keys", [3, 4])
def test_sort_three_and_four_keys_mixed_directions(n_keys: int, rng: np.random.Generator) -> None:
    """Three keys use the general comparator, four the packed-tiebreak one."""
    n = 3001
    keys = [rng.integers(-2, 2, n, dtype=np.int64) for _ in range(n_keys)]
    keys[-1][::5] = rng.integers(-RANGE + 1, RANGE, len(keys[-1][::5]))
    _check(keys, [j % 2 == 1 for j in range(n_keys)])
    _check(keys)


def test_sort_large_two_keys(rng: np.random.Generator) -> None:
    n = 100_003
    _check([rng.integers(-50, 50, n), rng.integers(-(10**12), 10**12, n)], [True, False])


@pytest.mark.parametrize("n_keys", [1, 3])
def test_sort_with_comparisons_split_into_small_chunks(
    n_keys: int, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded working set: batches split at LESS_CHUNK give the same order (both comparators)."""
    monkeypatch.setattr(S, "LESS_CHUNK", 7)
    keys = [rng.integers(-5, 5, 999, dtype=np.int64) for _ in range(n_keys)]
    _check(keys, [j % 2 == 0 for j in range(n_keys)])


def test_sort_small_sizes(rng: np.random.Generator) -> None:
    for n in (2, 3, 4, 5, 8, 9, 17):
        _check([rng.integers(-2, 2, n, dtype=np.int64)])


def test_sort_argument_errors() -> None:
    def program(p: Party) -> int:
        z = np.zeros(4, dtype=np.uint64)
        k = AShare(z, z)
        with pytest.raises(ValueError, match="at least one key"):
            sort(p, [])
        with pytest.raises(ValueError, match="descending"):
            sort(p, [k], descending=[True, False])
        with pytest.raises(ValueError, match="same length"):
            sort(p, [k], [AShare(z[:3], z[:3])])
        return 0

    run3(program)


# ---------------------------------------------------------------- the public skeleton, in the clear


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 999, 100_000])
def test_sort_segments_plain(n: int, rng: np.random.Generator) -> None:
    """Sorts distinct keys with few, large batches: < 3·log2 n calls, ≈ 1.2·log2(n!) comparisons."""
    ranks = rng.permutation(n)
    calls: list[int] = []

    def less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        calls.append(len(a))
        return np.asarray(ranks[a] < ranks[b])

    order = sort_segments(less, np.arange(n, dtype=np.int64), np.array([n], dtype=np.int64))
    np.testing.assert_array_equal(ranks[order], np.arange(n))
    if n >= 999:
        bound = sum(np.log2(np.arange(1, n + 1)))
        assert sum(calls) < 1.25 * bound
        assert len(calls) < 3 * np.log2(n)


def test_sort_all_pairs_is_one_call(rng: np.random.Generator) -> None:
    """Segments of 0, 1, 2, 3 and 8 items sorted by one call of m(m − 1)/2 comparisons each."""
    sizes = np.array([0, 1, 2, 3, 8, 1], dtype=np.int64)
    n = int(sizes.sum())
    ranks = rng.permutation(n)
    items = rng.permutation(n).astype(np.int64)
    calls: list[int] = []

    def less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        calls.append(len(a))
        return np.asarray(ranks[a] < ranks[b])

    got = sort_all_pairs(less, items, sizes)
    assert calls == [1 + 3 + 28]
    start = 0
    for size in sizes:
        seg = items[start : start + size]
        np.testing.assert_array_equal(got[start : start + size], seg[np.argsort(ranks[seg])])
        start += size
    assert sort_segments(less, np.arange(5, dtype=np.int64), np.array([5])).shape == (5,)
    assert calls[-1] == 10  # a small segment: one call
    assert len(calls) == 2


def test_sort_segments_many_segments(rng: np.random.Generator) -> None:
    sizes = np.array([0, 1, 5, 2, 40, 1, 0, 300], dtype=np.int64)
    n = int(sizes.sum())
    ranks = rng.permutation(n)
    items = rng.permutation(n).astype(np.int64)
    got = sort_segments(lambda a, b: ranks[a] < ranks[b], items, sizes)
    start = 0
    for size in sizes:
        seg = items[start : start + size]
        np.testing.assert_array_equal(got[start : start + size], seg[np.argsort(ranks[seg])])
        start += size


# ---------------------------------------------------------------- the comparison kernels


def _lex_less(x_words: Sequence[np.ndarray], y_words: Sequence[np.ndarray]) -> np.ndarray:
    """Plaintext lexicographic [x < y] over unsigned words (first word most significant)."""
    out = np.zeros(len(x_words[0]), dtype=bool)
    decided = np.zeros(len(x_words[0]), dtype=bool)
    for xw, yw in zip(x_words, y_words, strict=True):
        out |= ~decided & (xw < yw)
        decided |= xw != yw
    return out


def _crafted_words(
    rng: np.random.Generator, m: int, n_words: int, last_bits: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs of composite keys that differ in one chosen bit of one chosen word, or at random."""
    last_max = 2**last_bits
    x = [rng.integers(0, 2**64, m, dtype=np.uint64) for _ in range(n_words - 1)]
    x.append(rng.integers(0, last_max, m, dtype=np.uint64))
    y = [w.copy() for w in x]
    for j in range(m):
        word = rng.integers(0, n_words)
        if j % 5 == 4:  # unrelated pair
            y[word][j] = rng.integers(0, 2**64 if word < n_words - 1 else last_max, dtype=np.uint64)
            continue
        bits = 64 if word < n_words - 1 else last_bits
        bit = [0, 1, 15, 16, 31, 32, 33, 62, 63][j % 9] % bits
        y[word][j] ^= np.uint64(1 << bit)
    for w in y[: n_words - 1]:
        w[::7] = np.uint64(2**64 - 1)  # extremes
    y[-1][::11] = np.uint64(last_max - 1)
    keep = ~np.all([xw == yw for xw, yw in zip(x, y, strict=True)], axis=0)
    return [w[keep] for w in x], [w[keep] for w in y]


@pytest.mark.parametrize("n_keys", [1, 2, 4])
@pytest.mark.parametrize("m", [1, 31, 33, 1000])
def test_keys_tiebreak_comparator(n_keys: int, m: int, rng: np.random.Generator) -> None:
    """1, 2 or 4 key words plus a 32-bit tiebreak packed two per word (the fast path)."""
    x, y = _crafted_words(rng, m, n_keys + 1, 32)
    m = len(x[0])

    def program(p: Party) -> np.ndarray:
        cols = [
            B.share_input_bool(p, j % 3, np.concatenate([xw, yw]) if p.index == j % 3 else None)
            for j, (xw, yw) in enumerate(zip(x, y, strict=True))
        ]
        cmp = S._KeysTiebreakComparator(p, cols[:-1], cols[-1])
        return cmp.less(np.arange(m), np.arange(m, 2 * m))

    for g in run3(program):
        np.testing.assert_array_equal(g, _lex_less(x, y))


@pytest.mark.parametrize("n_words", [2, 3, 4, 5])
def test_words_comparator(n_words: int, rng: np.random.Generator) -> None:
    """Any number of full key words (the general path), incl. padding to a power of two."""
    x, y = _crafted_words(rng, 301, n_words, 64)
    m = len(x[0])

    def program(p: Party) -> np.ndarray:
        cols = [
            B.share_input_bool(p, j % 3, np.concatenate([xw, yw]) if p.index == j % 3 else None)
            for j, (xw, yw) in enumerate(zip(x, y, strict=True))
        ]
        cmp = S._WordsComparator(p, cols)
        return cmp.less(np.arange(m), np.arange(m, 2 * m))

    for g in run3(program):
        np.testing.assert_array_equal(g, _lex_less(x, y))


def test_sort_segments_with_relayout(rng: np.random.Generator) -> None:
    """With ``relayout`` the caller's rows are renumbered every level; the result is unchanged."""
    n = 50_000
    ranks = rng.permutation(n)
    state = {"ranks": ranks.copy(), "calls": 0}

    def less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(state["ranks"][a] < state["ranks"][b])

    def relayout(perm: np.ndarray) -> None:
        state["ranks"] = state["ranks"][perm]
        state["calls"] += 1

    order = sort_segments(
        less, np.arange(n, dtype=np.int64), np.array([n], dtype=np.int64), relayout
    )
    np.testing.assert_array_equal(ranks[order], np.arange(n))
    assert state["calls"] >= 2
    with pytest.raises(ValueError, match="relayout"):
        sort_segments(less, np.arange(1, 3, dtype=np.int64), np.array([2]), relayout)
