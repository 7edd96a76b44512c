"""Oblivious ORDER BY … LIMIT against Python's stable sort of the valid rows.

Invalid rows carry random 64-bit words (far outside the comparison range) in
every column; they must end up after all valid rows and never change the
order of the valid ones. The output is compared row by row: the first
min(limit, #valid) rows equal the reference, the rest of the kept rows are
invalid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tests.mpc.harness import run3
from tests.relational.test_aggregate import (
    BOOL,
    DATE,
    DEC,
    INT,
    TEXT,
    Plain,
    local_table,
    make_table,
    reveal_table,
    share_table,
)
from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.relational.ordering import order_limit
from tyst.ring.words import U64

SCHEMA = {"city": TEXT, "day": DATE, "n": INT, "amount": DEC, "flag": BOOL}


def run_order(plain: Plain, keys: Sequence[tuple[str, bool]], limit: int | None) -> Plain:
    def program(p: Party) -> Plain:
        return reveal_table(p, order_limit(p, share_table(p, plain), keys, limit))

    return run3(program)[0]


def check(plain: Plain, keys: Sequence[tuple[str, bool]], limit: int | None) -> Plain:
    got = run_order(plain, keys, limit)
    n = len(plain)
    keep = n if limit is None else min(limit, n)
    names = list(plain.columns)
    assert len(got) == keep
    assert list(got.columns) == names
    assert [t for t, _ in got.columns.values()] == [t for t, _ in plain.columns.values()]

    def sort_key(i: int) -> tuple[int, ...]:
        return tuple(-plain.signed(i, c) if desc else plain.signed(i, c) for c, desc in keys)

    ordered = sorted((i for i in range(n) if plain.valid[i]), key=sort_key)  # stable
    want = [plain.lanes(i, names) for i in ordered[:keep]]
    assert got.valid.tolist() == [True] * len(want) + [False] * (keep - len(want))
    assert [got.lanes(i, names) for i in range(len(want))] == want
    return got


@pytest.mark.parametrize("n", [0, 1, 2, 3, 37, 150])
@pytest.mark.parametrize(
    "keys",
    [
        (("n", False),),
        (("n", True),),
        (("day", True), ("amount", False)),
        (("flag", False), ("n", True), ("day", False)),
        (("amount", True), ("flag", True)),
    ],
)
def test_order_by(n: int, keys: tuple[tuple[str, bool], ...]) -> None:
    rng = np.random.default_rng(n * 31 + len(keys) + int(keys[0][1]))
    plain = make_table(rng, n, SCHEMA, density=rng.choice([0.4, 0.8, 1.0]), distinct=3)
    check(plain, keys, None)


@pytest.mark.parametrize("limit", [0, 1, 5, 36, 37, 38, 1000])
def test_limit(limit: int) -> None:
    rng = np.random.default_rng(limit)
    plain = make_table(rng, 37, SCHEMA, density=0.5, distinct=4)
    check(plain, (("amount", True), ("n", False)), limit)


def test_limit_zero_and_empty() -> None:
    rng = np.random.default_rng(1)
    empty = make_table(rng, 0, SCHEMA)
    assert len(check(empty, (("n", False),), 10)) == 0
    assert len(check(make_table(rng, 20, SCHEMA), (("n", True),), 0)) == 0


def test_no_valid_rows_and_no_keys() -> None:
    rng = np.random.default_rng(2)
    none_valid = make_table(rng, 30, SCHEMA, density=0.0)
    check(none_valid, (("n", False),), 10)
    mixed = make_table(rng, 30, SCHEMA, density=0.5)
    check(mixed, (), None)  # valid rows first, in input order
    check(mixed, (), 7)


def test_repeated_key_column() -> None:
    rng = np.random.default_rng(3)
    plain = make_table(rng, 50, SCHEMA, density=0.7, distinct=2)
    check(plain, (("flag", True), ("n", False), ("flag", False)), 20)


def test_extreme_values() -> None:
    """Values at the edge of the comparison range sort correctly and stay ahead of padding."""
    edge = (1 << 62) - 1
    values = np.array([0, edge, -edge, 5, edge, -edge, -1, 1], dtype=np.int64)
    n = values.shape[0]
    valid = np.array([True, True, True, False, True, True, True, False])
    plain = Plain({"n": (INT, values.view(U64).reshape(n, 1).copy())}, valid)
    for desc in (False, True):
        check(plain, (("n", desc),), None)


def test_order_by_large() -> None:
    rng = np.random.default_rng(12)
    plain = make_table(rng, 10_000, {"n": INT, "day": DATE}, density=0.9, distinct=50)
    check(plain, (("day", True), ("n", False)), 500)


@pytest.mark.parametrize(
    ("keys", "limit", "message"),
    [
        ((("city", False),), None, "ordering on a text"),
        ((("avg", True),), None, "ordering on a ratio"),
        ((("n", False),), -1, "LIMIT"),
        ((("nope", False),), 3, "no column"),
    ],
)
def test_order_limit_rejects(
    keys: tuple[tuple[str, bool], ...], limit: int | None, message: str
) -> None:
    table = local_table({"city": TEXT, "n": INT, "avg": ColumnType("ratio", 2)})
    with pytest.raises((ValueError, KeyError), match=message):
        order_limit(None, table, keys, limit)  # type: ignore[arg-type]


def test_fraction_sort_lanes_order_exact_fractions() -> None:
    """Averages closer than a double can tell apart, equal fractions written differently,
    and negatives: the two lanes order them as the exact fractions (and tie equal ones)."""
    from fractions import Fraction

    from tests.mpc.harness import run3 as run
    from tyst.mpc.protocols import arithmetic as A
    from tyst.relational.ordering import fraction_sort_lanes
    from tyst.ring.words import from_signed, to_signed

    big = 10**6
    pairs = [(1, 3), (333_333, 999_999), (333_334, 1_000_000), (2, 4), (1, 2), (-1, 2),
             (-3, 6), (-1, 3), (0, 5), (-7, 1), (7, 1), (big * 1000 - 1, big),
             (big * 1000, big), (-(big * 1000 - 1), big), (5, 999_983), (5, 999_979)]  # fmt: skip
    totals = np.array([t for t, _ in pairs], dtype=np.int64)
    counts = np.array([c for _, c in pairs], dtype=np.int64)

    def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        t = A.share_input(p, 0, from_signed(totals) if p.index == 0 else None)
        c = A.share_input(p, 1, from_signed(counts) if p.index == 1 else None)
        whole, part = fraction_sort_lanes(p, t, c, 1000, 1_000_000, False)
        return A.reveal_all(p, whole), A.reveal_all(p, part)

    whole, part = run(program)[0]
    keys = list(zip(to_signed(whole).tolist(), to_signed(part).tolist(), strict=True))
    values = [Fraction(t, c) for t, c in pairs]
    for i in range(len(pairs)):
        for j in range(len(pairs)):
            assert (keys[i] < keys[j]) == (values[i] < values[j]), (pairs[i], pairs[j])
            assert (keys[i] == keys[j]) == (values[i] == values[j]), (pairs[i], pairs[j])
