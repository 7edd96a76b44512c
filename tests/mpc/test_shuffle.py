"""The 3-party resharing shuffle: a uniformly random permutation of whole rows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.protocols.shuffle import permutation_from_prg, shuffle
from tyst.mpc.randomness import Randomness
from tyst.mpc.shares import AShare, BShare
from tyst.net.local import LocalTransport, run_local
from tyst.ring.prg import Prg
from tyst.ring.words import U64

MASK = U64(0x0F0F_0000_FFFF_1234)


def _shuffled_table(
    x: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle [x (arith), x ^ MASK (bool), rows (arith), rows (bool)] and open all columns."""

    def program(p: Party) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        xs = A.share_input(p, 0, x if p.index == 0 else None)
        ys = B.share_input_bool(p, 1, x ^ MASK if p.index == 1 else None)
        rs = A.share_input(p, 2, rows if p.index == 2 else None)
        rb = B.share_input_bool(p, 0, rows if p.index == 0 else None)
        out = shuffle(p, [xs, ys, rs, rb])
        assert [type(c) for c in out] == [AShare, BShare, AShare, BShare]
        o0, o1, o2, o3 = out
        assert isinstance(o0, AShare)
        assert isinstance(o2, AShare)
        assert isinstance(o1, BShare)
        assert isinstance(o3, BShare)
        return (
            A.reveal_all(p, o0),
            B.reveal_bool_all(p, o1),
            A.reveal_all(p, o2),
            B.reveal_bool_all(p, o3),
        )

    results = run3(program)
    for other in results[1:]:
        for mine, theirs in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(mine, theirs)
    return results[0]


def test_shuffle_permutes_whole_rows(size: int, rng: np.random.Generator) -> None:
    x = rng.integers(0, 2**64, size, dtype=np.uint64)
    x[: size // 3] = 5  # duplicates
    rows = np.arange(size, dtype=np.uint64)
    ox, oy, orow, orow_b = _shuffled_table(x, rows)
    # a permutation of the rows as a multiset …
    np.testing.assert_array_equal(np.sort(orow), rows)
    np.testing.assert_array_equal(np.sort(ox), np.sort(x))
    # … with the same permutation applied to every column (arith and bool)
    np.testing.assert_array_equal(orow_b, orow)
    np.testing.assert_array_equal(ox, x[orow.astype(np.int64)])
    np.testing.assert_array_equal(oy, ox ^ MASK)
    if size > 1000:
        assert (orow != rows).mean() > 0.99  # a fixed point is rare


def test_two_shuffles_give_different_orders() -> None:
    n = 1000
    rows = np.arange(n, dtype=np.uint64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        rs = A.share_input(p, 0, rows if p.index == 0 else None)
        first, second = shuffle(p, [rs])[0], shuffle(p, [rs])[0]
        assert isinstance(first, AShare)
        assert isinstance(second, AShare)
        return A.reveal_all(p, first), A.reveal_all(p, second)

    first, second = run3(program)[0]
    np.testing.assert_array_equal(np.sort(first), rows)
    np.testing.assert_array_equal(np.sort(second), rows)
    assert (first != second).any()
    assert (first != rows).any()


@pytest.mark.parametrize("kinds", ["arith", "bool"])
def test_single_kind_tables(kinds: str, rng: np.random.Generator) -> None:
    n = 33
    x = rng.integers(0, 2**64, n, dtype=np.uint64)

    def program(p: Party) -> list[np.ndarray]:
        if kinds == "arith":
            cols: list[AShare | BShare] = [
                A.share_input(p, 0, x if p.index == 0 else None),
                A.share_input(p, 1, x + U64(1) if p.index == 1 else None),
            ]
        else:
            cols = [
                B.share_input_bool(p, 0, x if p.index == 0 else None),
                B.share_input_bool(p, 1, ~x if p.index == 1 else None),
            ]
        out = shuffle(p, cols)
        return [
            A.reveal_all(p, c) if isinstance(c, AShare) else B.reveal_bool_all(p, c) for c in out
        ]

    c0, c1 = run3(program)[0]
    np.testing.assert_array_equal(np.sort(c0), np.sort(x))
    np.testing.assert_array_equal(c1, c0 + U64(1) if kinds == "arith" else ~c0)


def test_empty_table_and_length_mismatch() -> None:
    def program(p: Party) -> int:
        assert shuffle(p, []) == []
        z = np.zeros(3, dtype=U64)
        with pytest.raises(ValueError, match="same length"):
            shuffle(p, [AShare(z, z), BShare(z[:2], z[:2])])
        return 0

    run3(program)


def test_pass_permutations_known_to_pairs_only(rng: np.random.Generator) -> None:
    """With known PRG keys the three pass permutations can be recomputed: the output is
    x[π0][π1][π2]; π_t comes from the stream of the pair (t, t+1) only, and they differ."""
    n, cols = 50, 2
    keys = [bytes([i + 1]) * 16 for i in range(3)]
    x = rng.integers(0, 2**64, (cols, n), dtype=np.uint64)
    parts = [rng.integers(0, 2**64, (cols, n), dtype=np.uint64) for _ in range(2)]
    parts.append(x - parts[0] - parts[1])  # x = s_0 + s_1 + s_2

    def body(t: LocalTransport) -> list[np.ndarray]:
        i = t.party
        rnd = Randomness(Prg(keys[i]), Prg(keys[(i + 1) % 3]), Prg.fresh(b"/private"))
        p = Party(t, rnd)
        table = [AShare(parts[i][c], parts[(i + 1) % 3][c]) for c in range(cols)]
        out = shuffle(p, table)
        return [A.reveal_all(p, c) for c in out if isinstance(c, AShare)]

    got = run_local(body)[0]
    total = n * cols
    # stream of the pair (t, t+1) is PRG(k_{t+1}); the words drawn from it before pass t
    # are the new shares of the earlier passes (total words per pass).
    perms = []
    for t in range(3):
        prg = Prg(keys[(t + 1) % 3])
        prg.words(t * total)
        perms.append(permutation_from_prg(prg, n))
    composed = perms[0][perms[1][perms[2]]]
    for c in range(cols):
        np.testing.assert_array_equal(got[c], x[c][composed])
    assert not np.array_equal(perms[0], perms[1])
    assert not np.array_equal(perms[1], perms[2])
    assert not np.array_equal(perms[0], perms[2])
    # the third party of pass t holds neither copy of the pair's stream: its own
    # streams are PRG(k_t+2) (shared_prev) and PRG(k_t) (shared_next), which yield
    # other permutations.
    for t in range(3):
        for other in (keys[(t + 2) % 3], keys[t % 3]):
            assert not np.array_equal(permutation_from_prg(Prg(other), n), perms[t])


def test_permutation_from_prg_is_a_permutation() -> None:
    prg = Prg(bytes(16), b"test")
    perm = permutation_from_prg(prg, 10_001)
    np.testing.assert_array_equal(np.sort(perm), np.arange(10_001))
    assert permutation_from_prg(prg, 0).shape == (0,)


def test_shuffle_in_column_blocks_is_one_permutation(monkeypatch: pytest.MonkeyPatch) -> None:
    import tyst.mpc.protocols.shuffle as S

    monkeypatch.setattr(S, "BLOCK_WORDS", 40)  # n = 37: one column per block
    n = 37
    rows = np.arange(n, dtype=U64)

    def program(p: Party) -> list[np.ndarray]:
        cols: list[AShare | BShare] = [
            A.share_input(p, 0, rows * U64(k + 1) if p.index == 0 else None) for k in range(3)
        ]
        cols.append(B.share_input_bool(p, 1, rows ^ U64(5) if p.index == 1 else None))
        out = shuffle(p, cols)
        opened = [A.reveal_all(p, c) for c in out[:3] if isinstance(c, AShare)]
        last = out[3]
        assert isinstance(last, BShare)
        return [*opened, B.reveal_bool_all(p, last)]

    first, *_ = run3(program)
    source = first[0]
    assert sorted(source.tolist()) == rows.tolist()
    for k in range(3):
        np.testing.assert_array_equal(first[k], source * U64(k + 1))
    np.testing.assert_array_equal(first[3], source ^ U64(5))
