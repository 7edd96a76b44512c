"""The rounds the transport counts for each protocol equal its docstring's "Rounds"."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.mpc.harness import run3_rounds
from tyst.mpc.party import CHUNK_WORDS, Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.protocols import compare as C
from tyst.mpc.protocols import conversion as V
from tyst.mpc.protocols import division as D
from tyst.mpc.protocols import shuffle as S
from tyst.mpc.protocols import sort as T
from tyst.mpc.shares import AShare, BShare, public_a
from tyst.ring.words import U64

N = 9


def _x(p: Party, n: int = N) -> AShare:
    return public_a(p.index, np.arange(n, dtype=U64))


def _b(p: Party, n: int = N) -> BShare:
    x = _x(p, n)
    return BShare(x.a, x.b)


def _owned(p: Party, owner: int) -> np.ndarray | None:
    return np.arange(N, dtype=U64) if p.index == owner else None


def _one(p: Party) -> AShare:
    return public_a(p.index, np.ones(N, dtype=U64))


PROTOCOLS: dict[str, tuple[Callable[[Party], object], int]] = {
    "share_input": (lambda p: A.share_input(p, 1, _owned(p, 1)), 1),
    "reveal to one": (lambda p: A.reveal(p, _x(p), (2,)), 1),
    "reveal_all": (lambda p: A.reveal_all(p, _x(p)), 1),
    "mul": (lambda p: A.mul(p, _x(p), _x(p)), 1),
    "mul, chunked": (lambda p: A.mul(p, _x(p, CHUNK_WORDS + 5), _x(p, CHUNK_WORDS + 5)), 1),
    "mul_many": (lambda p: A.mul_many(p, [(_x(p), _x(p)), (_x(p, 3), _x(p, 3))]), 1),
    "dot": (lambda p: A.dot(p, _x(p), _x(p)), 1),
    "truncate": (lambda p: A.truncate(p, _x(p), 8), 1),
    "and": (lambda p: B.and_(p, _b(p), _b(p)), 1),
    "reveal_bool_all": (lambda p: B.reveal_bool_all(p, _b(p)), 1),
    "msb": (lambda p: C.msb(p, _x(p)), 8),
    "lt": (lambda p: C.lt(p, _x(p), _x(p)), 8),
    "eq": (lambda p: C.eq(p, _x(p), _x(p)), 7),
    "select": (lambda p: C.select(p, C.lt(p, _x(p), _x(p)), _x(p), _x(p)), 8 + 3),
    "bit_to_arith": (lambda p: V.bit_to_arith(p, _b(p)), 2),
    "a2b": (lambda p: V.a2b(p, _x(p)), 8),
    "b2a": (lambda p: V.b2a(p, _b(p)), 9),
    "shuffle, one kind": (lambda p: S.shuffle(p, [_x(p), _x(p)]), 3),
    "shuffle, mixed (two blocks)": (lambda p: S.shuffle(p, [_x(p), _b(p)]), 5),
    "divide_public, k = 4": (lambda p: D.divide_public(p, _x(p), 1, 15), 9 * 4 + 1),
    "divide, k = 4": (lambda p: D.divide(p, _x(p), _x(p) + _one(p), 15, 1, 1), 11 * 4),
    "divide, k = 2, clamped": (lambda p: D.divide(p, _x(p), _x(p), 3, 1, 2**61), 11 * 2 + 11),
    "divide_digits, public d = 3, k = 3, t = 2": (
        lambda p: D.divide_digits(p, _x(p), 3, 15, 3, 3, 2),
        9 * (3 + 2 * 3) + 10,
    ),
    "divide_digits, secret d, k = 4, t = 1": (
        lambda p: D.divide_digits(p, _x(p), _x(p) + _one(p), 15, 1, 4, 1),
        (4 + 4 * 1) * 11 + 10,
    ),
}


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_documented_rounds(name: str) -> None:
    program, documented = PROTOCOLS[name]
    assert run3_rounds(program) == documented


def test_independent_protocols_in_sequence_add_up() -> None:
    def program(p: Party) -> None:
        A.mul(p, _x(p), _x(p))
        C.eq(p, _x(p), _x(p))

    assert run3_rounds(program) == 1 + 7


@pytest.mark.parametrize(("keys", "per_batch"), [(1, 8), (2, 9), (3, 9)])
def test_sort_rounds_are_fixed_plus_batches(keys: int, per_batch: int) -> None:
    """8 (a2b) + 5 (shuffle of two blocks) + per comparison batch 8 + log2 c (c = 1, 2) or
    7 + log2 W' (c = 3, W' = 4); the number of batches is random (it depends on the
    shuffle's permutation): 13–16 at n = 200."""
    n = 200
    batches: list[int] = []
    less = T._less_keys_tiebreak if keys in (1, 2) else T._composite_less

    def counting(party: Party, *args: object) -> object:
        if party.index == 0:
            batches.append(1)
        return less(party, *args)  # type: ignore[arg-type]

    def program(p: Party) -> None:
        T.sort(p, [_x(p, n)] * keys)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, less.__name__, counting)
        rounds = run3_rounds(program)
    assert rounds == 8 + 5 + per_batch * len(batches)
    assert 8 <= len(batches) <= 24


def test_sort_of_two_rows_is_one_batch() -> None:
    assert run3_rounds(lambda p: T.sort(p, [_x(p, 2)])) == 8 + 5 + 8
