"""Oblivious GROUP BY, global aggregates and DISTINCT against a plaintext reference.

Tables are random, with random validity bits. Invalid rows carry hostile
words: sometimes the key lanes of a valid group with other content lanes,
sometimes random 64-bit words far outside the comparison range; they must have
no effect. id/text lanes come from the real encoder (:func:`text_lanes`).
Every output row is revealed and the valid rows are compared, as a mapping
from the key (all lanes) to the aggregate values, with the reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.data.types import ColumnType, text_lanes
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.shares import AShare, BShare, concat_a
from tyst.relational.aggregate import AggSpec, Grouped, distinct, group_by
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

INT = ColumnType("int")
DEC = ColumnType("decimal", 2)
DATE = ColumnType("date")
BOOL = ColumnType("bool")
ID = ColumnType("id")
TEXT = ColumnType("text")

VOCABULARY = ["", "Malmö", "Göteborg", "Stockholm", "Kiruna", "Umeå", "a" * 64, "x y z"]


# --------------------------------------------------------------------------- plaintext tables


@dataclass
class Plain:
    """Per column its type and an (n, lanes) uint64 array; the validity bits."""

    columns: dict[str, tuple[ColumnType, np.ndarray]]
    valid: np.ndarray

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    def key(self, i: int, names: Sequence[str]) -> tuple[int, ...]:
        """Row i's key lanes of the named columns."""
        out: list[int] = []
        for name in names:
            ctype, data = self.columns[name]
            out.extend(int(x) for x in data[i, : ctype.key_lanes])
        return tuple(out)

    def lanes(self, i: int, names: Sequence[str]) -> tuple[int, ...]:
        """Row i's every lane of the named columns."""
        return tuple(int(x) for name in names for x in self.columns[name][1][i])

    def signed(self, i: int, name: str) -> int:
        return int(self.columns[name][1][i, 0].view(np.int64))


def random_words(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform 64-bit words (far outside the comparison range)."""
    return rng.integers(0, 1 << 64, shape, dtype=np.uint64)


def make_column(
    rng: np.random.Generator, ctype: ColumnType, valid: np.ndarray, distinct: int
) -> np.ndarray:
    """Random lanes for one column; invalid rows get hostile words."""
    n = valid.shape[0]
    if ctype.is_text:
        words = VOCABULARY[: max(1, min(distinct, len(VOCABULARY)))]
        table = np.array([text_lanes(w) for w in words], dtype=U64).reshape(-1, 10)
        data = table[rng.integers(0, len(words), n)]
        hostile = ~valid & (rng.random(n) < 0.5)
        data[hostile, 2:] = random_words(rng, (int(hostile.sum()), 8))
        garbage = ~valid & ~hostile & (rng.random(n) < 0.5)
        data[garbage] = random_words(rng, (int(garbage.sum()), 10))
        return data
    if ctype.kind == "bool":
        values = rng.integers(0, 2, n)
    elif ctype.kind == "date":
        values = rng.integers(0, max(1, distinct), n) * 7 - 3000
    else:
        values = rng.integers(-max(1, distinct), max(1, distinct), n) * 1_000_003
    data = values.astype(np.int64).view(U64).reshape(n, 1).copy()
    garbage = ~valid & (rng.random(n) < 0.5)
    data[garbage, 0] = random_words(rng, (int(garbage.sum()),))
    return data


def make_table(
    rng: np.random.Generator,
    n: int,
    schema: dict[str, ColumnType],
    density: float = 0.7,
    distinct: int = 5,
) -> Plain:
    valid = rng.random(n) < density
    columns = {c: (t, make_column(rng, t, valid, distinct)) for c, t in schema.items()}
    return Plain(columns, valid)


# --------------------------------------------------------------------------- MPC plumbing


def share_table(p: Party, plain: Plain, owner: int = 0) -> SharedTable:
    n = len(plain)
    flat = [data[:, j] for _, data in plain.columns.values() for j in range(data.shape[1])]
    values = np.concatenate([*flat, np.zeros(0, dtype=U64)]).astype(U64)
    shared = A.share_input(p, owner, values if p.index == owner else None)
    valid = B.share_input_bool(p, owner, plain.valid.astype(U64) if p.index == owner else None)
    columns: dict[str, SharedColumn] = {}
    start = 0
    for name, (ctype, _) in plain.columns.items():
        lanes = []
        for _ in range(ctype.lanes):
            lanes.append(shared[start : start + n])
            start += n
        columns[name] = SharedColumn(ctype, tuple(lanes))
    return SharedTable(columns, valid)


def reveal_table(p: Party, table: SharedTable) -> Plain:
    n = len(table)
    lanes = [lane for c in table.columns.values() for lane in c.lanes]
    flat = A.reveal_all(p, concat_a([*lanes, AShare(np.zeros(0, U64), np.zeros(0, U64))]))
    valid = B.reveal_bool_all(p, table.valid)
    assert not (valid >> U64(1)).any(), "validity words must hold one bit"
    columns: dict[str, tuple[ColumnType, np.ndarray]] = {}
    start = 0
    for name, c in table.columns.items():
        k = c.ctype.lanes
        columns[name] = (c.ctype, flat[start : start + k * n].reshape(k, n).T.copy())
        start += k * n
    return Plain(columns, valid.astype(bool))


@dataclass
class Revealed:
    table: Plain
    counts: np.ndarray
    suppressed: int


def run_group_by(
    plain: Plain, keys: Sequence[str], aggs: Sequence[AggSpec], min_group_size: int = 0
) -> Revealed:
    def program(p: Party) -> Revealed:
        out: Grouped = group_by(p, share_table(p, plain), keys, aggs, min_group_size=min_group_size)
        assert len(out.suppressed) == 1
        return Revealed(
            reveal_table(p, out.table),
            A.reveal_all(p, out.counts),
            int(A.reveal_all(p, out.suppressed)[0]),
        )

    results = run3(program)
    for other in results[1:]:  # every party sees the same opened values
        np.testing.assert_array_equal(other.counts, results[0].counts)
    return results[0]


# --------------------------------------------------------------------------- reference


def reference(
    plain: Plain, keys: Sequence[str], aggs: Sequence[AggSpec]
) -> dict[tuple[int, ...], tuple[int, tuple[int, ...]]]:
    """key (all lanes of the key columns) → (count, aggregate values as signed ints)."""
    rows: dict[tuple[int, ...], list[int]] = defaultdict(list)
    full: dict[tuple[int, ...], tuple[int, ...]] = {}
    for i in range(len(plain)):
        if plain.valid[i]:
            k = plain.key(i, keys)
            rows[k].append(i)
            full.setdefault(k, plain.lanes(i, keys))
    out: dict[tuple[int, ...], tuple[int, tuple[int, ...]]] = {}
    for k, members in rows.items():
        out[full[k]] = (len(members), tuple(aggregate(plain, members, a) for a in aggs))
    return out


def aggregate(plain: Plain, members: list[int], a: AggSpec) -> int:
    if a.func == "count":
        return len(members)
    assert a.column is not None
    if a.func == "count_distinct":
        return len({plain.key(i, [a.column]) for i in members})
    values = [plain.signed(i, a.column) for i in members]
    if a.func == "sum":
        return sum(values)
    return min(values) if a.func == "min" else max(values)


def check_grouped(
    got: Revealed,
    plain: Plain,
    keys: Sequence[str],
    aggs: Sequence[AggSpec],
    min_group_size: int = 0,
) -> None:
    want = reference(plain, keys, aggs)
    kept = {k: v for k, v in want.items() if v[0] >= max(1, min_group_size)}
    suppressed = sum(1 for v in want.values() if v[0] < min_group_size)
    table = got.table
    assert len(table) == len(plain)
    assert list(table.columns) == [*keys, *(a.name for a in aggs)]
    for k in keys:
        assert table.columns[k][0] == plain.columns[k][0]
    result: dict[tuple[int, ...], tuple[int, tuple[int, ...]]] = {}
    for i in np.flatnonzero(table.valid):
        k = table.lanes(int(i), keys)
        assert k not in result, "two valid output rows for one group"
        values = tuple(table.signed(int(i), a.name) for a in aggs)
        result[k] = (int(got.counts[i]), values)
    assert result == kept
    assert got.suppressed == (suppressed if min_group_size > 1 else 0)


# --------------------------------------------------------------------------- grouped


SCHEMA = {
    "city": TEXT,
    "pnr": ID,
    "day": DATE,
    "n": INT,
    "amount": DEC,
    "flag": BOOL,
}
EVERY_AGG = [
    AggSpec("count", None, "rows"),
    AggSpec("count", "n", "rows_n"),
    AggSpec("sum", "n", "sum_n"),
    AggSpec("sum", "amount", "sum_amount"),
    AggSpec("min", "n", "min_n"),
    AggSpec("max", "n", "max_n"),
    AggSpec("min", "amount", "min_amount"),
    AggSpec("max", "day", "max_day"),
    AggSpec("min", "day", "min_day"),
    AggSpec("max", "flag", "max_flag"),
    AggSpec("min", "flag", "min_flag"),
    AggSpec("count_distinct", "pnr", "people"),
]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 37, 130])
@pytest.mark.parametrize(
    "keys", [("n",), ("pnr",), ("city", "day"), ("flag", "amount"), ("day", "city", "flag")]
)
def test_group_by_every_aggregate(n: int, keys: tuple[str, ...]) -> None:
    rng = np.random.default_rng(1000 * n + len(keys) + sum(map(len, keys)))
    plain = make_table(rng, n, SCHEMA, density=rng.choice([0.3, 0.7, 1.0]), distinct=4)
    got = run_group_by(plain, keys, EVERY_AGG)
    check_grouped(got, plain, keys, EVERY_AGG)
    want_types = {
        "rows": INT,
        "people": INT,
        "sum_amount": DEC,
        "min_amount": DEC,
        "max_day": DATE,
        "max_flag": BOOL,
    }
    for name, ctype in want_types.items():
        assert got.table.columns[name][0] == ctype


@pytest.mark.parametrize("n", [1, 37, 200])
def test_group_by_several_count_distinct(n: int) -> None:
    rng = np.random.default_rng(n)
    plain = make_table(rng, n, SCHEMA, distinct=6)
    aggs = [
        AggSpec("count_distinct", "pnr", "people"),
        AggSpec("count_distinct", "n", "values"),
        AggSpec("count_distinct", "city", "cities"),
        AggSpec("sum", "n", "total"),
    ]
    check_grouped(run_group_by(plain, ["day"], aggs), plain, ["day"], aggs)
    got = run_group_by(plain, [], aggs)
    members = [i for i in range(n) if plain.valid[i]]
    assert [got.table.signed(0, a.name) for a in aggs] == [
        aggregate(plain, members, a) for a in aggs
    ]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_min_group_size(k: int) -> None:
    rng = np.random.default_rng(7 + k)
    plain = make_table(rng, 120, {"g": INT, "v": DEC}, density=0.6, distinct=12)
    aggs = [AggSpec("sum", "v", "total"), AggSpec("count", None, "rows")]
    got = run_group_by(plain, ["g"], aggs, min_group_size=k)
    check_grouped(got, plain, ["g"], aggs, min_group_size=k)
    if k == 3:
        assert got.suppressed > 0  # the data has small groups


def test_group_sizes_cover_one_to_many() -> None:
    """Groups of every size from 1 up; some groups are all invalid; all valid rows in one group."""
    sizes = [1, 1, 2, 3, 4, 5, 8, 13, 1, 21]
    g = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(3)
    rng.shuffle(g)
    n = g.shape[0]
    valid = rng.random(n) < 0.8
    valid[g == 4] = False
    plain = Plain(
        {
            "g": (INT, g.astype(np.int64).view(U64).reshape(n, 1).copy()),
            "v": (INT, rng.integers(-50, 50, (n, 1)).astype(np.int64).view(U64)),
        },
        valid,
    )
    aggs = [AggSpec("min", "v", "lo"), AggSpec("max", "v", "hi"), AggSpec("sum", "v", "s")]
    check_grouped(run_group_by(plain, ["g"], aggs, min_group_size=2), plain, ["g"], aggs, 2)
    one_group = Plain({**plain.columns, "g": (INT, np.zeros((n, 1), dtype=U64))}, plain.valid)
    check_grouped(run_group_by(one_group, ["g"], aggs), one_group, ["g"], aggs)


def test_invalid_rows_sharing_a_text_key_never_supply_content() -> None:
    """An invalid row with a valid group's key lanes but other content lanes sorts first."""
    good = text_lanes("Stockholm")
    n = 40
    data = np.array([good] * n, dtype=U64)
    valid = np.zeros(n, dtype=bool)
    valid[::7] = True
    data[~valid, 2:] = 0xDEAD  # same key lanes, hostile content
    plain = Plain({"city": (TEXT, data)}, valid)
    got = run_group_by(plain, ["city"], [AggSpec("count", None, "c")])
    rows = np.flatnonzero(got.table.valid)
    assert rows.shape[0] == 1
    assert got.table.lanes(int(rows[0]), ["city"]) == tuple(good)
    assert int(got.counts[rows[0]]) == int(valid.sum())


def test_key_only_id_column() -> None:
    """A pruned id column (key lanes only) groups like a full one."""
    rng = np.random.default_rng(11)
    plain = make_table(rng, 60, {"pnr": ID, "v": INT}, distinct=5)
    pruned = ID.keys_only()
    plain.columns["pnr"] = (pruned, plain.columns["pnr"][1][:, :2].copy())
    aggs = [AggSpec("sum", "v", "s"), AggSpec("count_distinct", "pnr", "d")]
    got = run_group_by(plain, ["pnr"], aggs)
    assert got.table.columns["pnr"][0] == pruned
    check_grouped(got, plain, ["pnr"], aggs)


def test_group_by_large() -> None:
    rng = np.random.default_rng(10_007)
    n = 12_000
    plain = make_table(rng, n, {"pnr": ID, "v": INT, "d": DATE}, density=0.8, distinct=8)
    # many groups: the id key takes its lanes from 1500 distinct strings
    words = np.array([text_lanes(f"p{j}") for j in range(1500)], dtype=U64)
    data = words[rng.integers(0, 1500, n)]
    plain.columns["pnr"] = (ID, data)
    aggs = [
        AggSpec("sum", "v", "s"),
        AggSpec("count", None, "c"),
        AggSpec("min", "d", "first"),
        AggSpec("max", "v", "top"),
        AggSpec("count_distinct", "d", "days"),
    ]
    check_grouped(run_group_by(plain, ["pnr"], aggs, min_group_size=9), plain, ["pnr"], aggs, 9)


# --------------------------------------------------------------------------- global


@pytest.mark.parametrize("n", [0, 1, 2, 37, 300])
@pytest.mark.parametrize("density", [0.0, 0.6, 1.0])
def test_global_aggregate(n: int, density: float) -> None:
    rng = np.random.default_rng(n * 10 + int(density * 10))
    plain = make_table(rng, n, SCHEMA, density=density)
    got = run_group_by(plain, [], EVERY_AGG, min_group_size=5)  # ignored without keys
    table = got.table
    assert len(table) == 1
    assert table.valid.tolist() == [True]
    assert got.suppressed == 0
    members = [i for i in range(n) if plain.valid[i]]
    assert int(got.counts[0]) == len(members)
    for a in EVERY_AGG:
        value = table.signed(0, a.name)
        if a.func in ("min", "max") and not members:
            continue  # arbitrary: the caller shows NULL (counts is 0)
        want = aggregate(plain, members, a) if members else 0
        assert value == want, a


# --------------------------------------------------------------------------- DISTINCT


def run_distinct(plain: Plain) -> Plain:
    def program(p: Party) -> Plain:
        return reveal_table(p, distinct(p, share_table(p, plain)))

    return run3(program)[0]


@pytest.mark.parametrize("n", [0, 1, 2, 37, 400])
def test_distinct_text_and_int(n: int) -> None:
    rng = np.random.default_rng(n + 5)
    plain = make_table(rng, n, {"city": TEXT, "n": INT}, density=0.7, distinct=3)
    got = run_distinct(plain)
    names = ["city", "n"]
    assert len(got) == n
    assert list(got.columns) == names
    rows = [got.lanes(int(i), names) for i in np.flatnonzero(got.valid)]
    want = {plain.lanes(i, names) for i in range(n) if plain.valid[i]}
    assert len(rows) == len(set(rows))
    assert set(rows) == want


def test_distinct_single_column_all_equal() -> None:
    n = 50
    plain = Plain({"flag": (BOOL, np.ones((n, 1), dtype=U64))}, np.ones(n, dtype=bool))
    got = run_distinct(plain)
    assert int(got.valid.sum()) == 1


# --------------------------------------------------------------------------- request checks


def local_table(schema: dict[str, ColumnType], n: int = 3) -> SharedTable:
    """A table of zero shares (no party needed: the checks run before any message)."""
    zero = AShare(np.zeros(n, U64), np.zeros(n, U64))
    columns = {c: SharedColumn(t, (zero,) * t.lanes) for c, t in schema.items()}
    return SharedTable(columns, BShare(np.zeros(n, U64), np.zeros(n, U64)))


@pytest.mark.parametrize(
    ("keys", "aggs", "message"),
    [
        ((), [AggSpec("sum", "city", "s")], "SUM of a text"),
        ((), [AggSpec("min", "pnr", "m")], "MIN of a id"),
        ((), [AggSpec("sum", None, "s")], "needs a column"),
        (("avg",), [], "AVG column"),
        ((), [AggSpec("count_distinct", "avg", "d")], "AVG"),
        (("n",), [AggSpec("count", None, "n")], "clash"),
        ((), [AggSpec("median", "n", "m")], "unknown aggregate"),  # type: ignore[arg-type]
        (("nope",), [], "no column"),
    ],
)
def test_group_by_rejects(keys: tuple[str, ...], aggs: list[AggSpec], message: str) -> None:
    table = local_table({"city": TEXT, "pnr": ID, "n": INT, "avg": ColumnType("ratio", 2)})
    with pytest.raises((ValueError, KeyError), match=message):
        group_by(None, table, keys, aggs)  # type: ignore[arg-type]
