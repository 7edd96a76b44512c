"""Oblivious PK–FK join, semi- and anti-join against a plain Python reference.

Tables are random: validity bits on both sides, invalid rows whose keys collide
with valid keys (they must have no effect), fk rows without a pk, pk rows without
fk rows, composite keys (an ``int`` and an ``id`` column; ``id`` lanes come from a
tiny test encoder: two random key words per distinct string, one content word
holding the string's number). Results are compared as multisets of valid rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.mpc.shares import AShare, concat_a
from tyst.relational.join import PkFkJoin, join_pk_fk, semi_join
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64

INT = ColumnType("int")
ID = ColumnType("id")
TEXT = ColumnType("text")
DEC = ColumnType("decimal", 2)

Row = tuple[int, ...]


@dataclass
class Plain:
    """A plaintext table: per column its type and an (n, lanes) uint64 array; validity bits."""

    columns: dict[str, tuple[ColumnType, np.ndarray]]
    valid: np.ndarray

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    def key(self, i: int, names: Sequence[str]) -> Row:
        out: list[int] = []
        for name in names:
            ctype, data = self.columns[name]
            out.extend(int(x) for x in data[i, : ctype.key_lanes])
        return tuple(out)

    def row(self, i: int, names: Sequence[str]) -> Row:
        return tuple(int(x) for name in names for x in self.columns[name][1][i])


class IdEncoder:
    """Test encoder for id/text: two random 62-bit key words per value, content = [v, 0, …]."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.keys: dict[int, tuple[int, int]] = {}

    def lanes(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(values), 10), dtype=U64)
        for i, v in enumerate(values.tolist()):
            if v not in self.keys:
                a, b = self.rng.integers(0, 1 << 62, 2, dtype=np.int64)
                self.keys[v] = (int(a), int(b))
            out[i, 0], out[i, 1] = self.keys[v]
            out[i, 2] = v
        return out


def ints(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).view(U64).reshape(-1, 1)


# --------------------------------------------------------------------------- MPC plumbing


def share_table(p: Party, plain: Plain, owner: int, name: str = "") -> SharedTable:
    n = len(plain)
    flat = [data[:, j] for _, data in plain.columns.values() for j in range(data.shape[1])]
    values = np.concatenate([*flat, np.zeros(0, dtype=U64)]).astype(U64)
    shared = A.share_input(p, owner, values if p.index == owner else None)
    valid = B.share_input_bool(p, owner, plain.valid.astype(U64) if p.index == owner else None)
    columns: dict[str, SharedColumn] = {}
    start = 0
    for col_name, (ctype, _) in plain.columns.items():
        lanes = []
        for _ in range(ctype.lanes):
            lanes.append(shared[start : start + n])
            start += n
        columns[col_name] = SharedColumn(ctype, tuple(lanes))
    return SharedTable(columns, valid, name)


def reveal_table(p: Party, table: SharedTable) -> Plain:
    n = len(table)
    lanes = [lane for c in table.columns.values() for lane in c.lanes]
    flat = A.reveal_all(p, concat_a([*lanes, AShare(np.zeros(0, U64), np.zeros(0, U64))]))
    valid = B.reveal_bool_all(p, table.valid) & U64(1)
    columns: dict[str, tuple[ColumnType, np.ndarray]] = {}
    start = 0
    for col_name, c in table.columns.items():
        k = c.ctype.lanes
        data = flat[start : start + k * n].reshape(k, n).T.copy()
        start += k * n
        columns[col_name] = (c.ctype, data)
    return Plain(columns, valid.astype(bool))


def valid_rows(plain: Plain) -> Counter[Row]:
    names = list(plain.columns)
    return Counter(plain.row(i, names) for i in range(len(plain)) if plain.valid[i])


@dataclass
class JoinOutcome:
    table: Plain
    duplicate_keys: int
    duplicate_rows: int


def run_join(
    pk: Plain,
    fk: Plain,
    pk_keys: Sequence[str],
    fk_keys: Sequence[str],
    **kwargs: object,
) -> JoinOutcome:
    def program(p: Party) -> JoinOutcome:
        pk_t = share_table(p, pk, 0, "pk")
        fk_t = share_table(p, fk, 1, "fk")
        res: PkFkJoin = join_pk_fk(p, pk_t, fk_t, pk_keys, fk_keys, **kwargs)  # type: ignore[arg-type]
        dup = int(B.reveal_bool_all(p, res.duplicate_keys)[0] & U64(1))
        rows = int(A.reveal_all(p, res.duplicate_rows)[0])
        return JoinOutcome(reveal_table(p, res.table), dup, rows)

    return run3(program)[0]


def run_semi(
    left: Plain, right: Plain, lk: Sequence[str], rk: Sequence[str], **kw: object
) -> Plain:
    def program(p: Party) -> Plain:
        lt = share_table(p, left, 2, "left")
        rt = share_table(p, right, 0, "right")
        return reveal_table(p, semi_join(p, lt, rt, lk, rk, **kw))  # type: ignore[arg-type]

    return run3(program)[0]


# --------------------------------------------------------------------------- references


def reference_join(
    pk: Plain,
    fk: Plain,
    pk_keys: Sequence[str],
    fk_keys: Sequence[str],
    fk_cols: Sequence[str],
    pk_cols: Sequence[str],
    kind: str,
) -> Counter[Row]:
    index: dict[Row, list[int]] = defaultdict(list)
    for i in range(len(pk)):
        if pk.valid[i]:
            index[pk.key(i, pk_keys)].append(i)
    zero_pk = tuple(0 for name in pk_cols for _ in range(pk.columns[name][0].lanes))
    out: Counter[Row] = Counter()
    for i in range(len(fk)):
        if not fk.valid[i]:
            continue
        hits = index.get(fk.key(i, fk_keys), [])
        assert len(hits) <= 1, "reference: duplicate pk"
        if hits:
            extra = (1,) if kind == "left" else ()
            out[fk.row(i, fk_cols) + pk.row(hits[0], pk_cols) + extra] += 1
        elif kind == "left":
            out[fk.row(i, fk_cols) + zero_pk + (0,)] += 1
    return out


def reference_semi(
    left: Plain, right: Plain, lk: Sequence[str], rk: Sequence[str], anti: bool
) -> Counter[Row]:
    keys = {right.key(i, rk) for i in range(len(right)) if right.valid[i]}
    names = list(left.columns)
    return Counter(
        left.row(i, names)
        for i in range(len(left))
        if left.valid[i] and ((left.key(i, lk) in keys) != anti)
    )


# --------------------------------------------------------------------------- generators


def make_pair(
    rng: np.random.Generator, n_pk: int, n_fk: int, *, composite: bool, p_valid: float = 0.8
) -> tuple[Plain, Plain]:
    """pk rows with unique valid keys; fk rows referencing them, plus misses and collisions."""
    enc = IdEncoder(rng)
    universe = max(4 * (n_pk + n_fk), 8)
    a_range = max(int(np.sqrt(universe)), 2)
    # Distinct composite key tuples (a, b) for the pk side (valid and invalid alike).
    codes = rng.choice(universe * 4, size=max(n_pk, 1), replace=False)[:n_pk]
    pk_a = codes % a_range if composite else codes
    pk_b = codes // a_range
    pk_valid = rng.random(n_pk) < p_valid
    # Invalid pk rows: about half copy the key of another (possibly valid) pk row.
    for i in np.flatnonzero(~pk_valid):
        if n_pk > 1 and rng.random() < 0.5:
            j = int(rng.integers(0, n_pk))
            pk_a[i], pk_b[i] = pk_a[j], pk_b[j]
    # fk rows: ~70% point at a pk row (valid or not), the rest at random (mostly absent) keys.
    pick = rng.integers(0, max(n_pk, 1), n_fk)
    hit = (rng.random(n_fk) < 0.7) & (n_pk > 0)
    rnd = rng.integers(0, universe * 4, n_fk)
    fk_a = np.where(hit, pk_a[pick] if n_pk else 0, rnd % a_range if composite else rnd)
    fk_b = np.where(hit, pk_b[pick] if n_pk else 0, rnd // a_range)
    fk_valid = rng.random(n_fk) < p_valid
    pk_cols: dict[str, tuple[ColumnType, np.ndarray]] = {"pa": (INT, ints(pk_a))}
    fk_cols: dict[str, tuple[ColumnType, np.ndarray]] = {"fa": (INT, ints(fk_a))}
    if composite:
        pk_cols["pb"] = (ID, enc.lanes(pk_b))
        fk_cols["fb"] = (TEXT, enc.lanes(fk_b))
    pk_cols["amount"] = (DEC, ints(rng.integers(-(10**9), 10**9, n_pk)))
    pk_cols["label"] = (TEXT, enc.lanes(rng.integers(0, 50, n_pk)))
    pk_cols["prow"] = (INT, ints(np.arange(n_pk)))
    fk_cols["qty"] = (INT, ints(rng.integers(-1000, 1000, n_fk)))
    fk_cols["frow"] = (INT, ints(np.arange(n_fk)))
    return Plain(pk_cols, pk_valid), Plain(fk_cols, fk_valid)


def keys_of(composite: bool) -> tuple[list[str], list[str]]:
    return (["pa", "pb"], ["fa", "fb"]) if composite else (["pa"], ["fa"])


SIZES = [(0, 0), (0, 5), (5, 0), (1, 1), (1, 0), (0, 1), (2, 3), (7, 13), (13, 7), (31, 64)]


# --------------------------------------------------------------------------- PK–FK join


@pytest.mark.parametrize(("n_pk", "n_fk"), SIZES, ids=lambda v: str(v))
@pytest.mark.parametrize("composite", [False, True], ids=["int-key", "int+id-key"])
@pytest.mark.parametrize("kind", ["inner", "left"])
def test_join_small(n_pk: int, n_fk: int, composite: bool, kind: str) -> None:
    rng = np.random.default_rng(1000 * n_pk + n_fk + composite)
    pk, fk = make_pair(rng, n_pk, n_fk, composite=composite)
    pk_keys, fk_keys = keys_of(composite)
    got = run_join(pk, fk, pk_keys, fk_keys, kind=kind)
    assert len(got.table) == n_fk
    assert got.duplicate_keys == 0
    assert got.duplicate_rows == 0
    want = reference_join(pk, fk, pk_keys, fk_keys, list(fk.columns), list(pk.columns), kind)
    assert valid_rows(got.table) == want
    expected_names = [*fk.columns, *pk.columns, *(["matched"] if kind == "left" else [])]
    assert list(got.table.columns) == expected_names


@pytest.mark.slow
@pytest.mark.parametrize("composite", [False, True], ids=["int-key", "int+id-key"])
def test_join_ten_thousand(composite: bool) -> None:
    rng = np.random.default_rng(7 + composite)
    pk, fk = make_pair(rng, 10_000, 10_001, composite=composite)
    pk_keys, fk_keys = keys_of(composite)
    kind = "left" if composite else "inner"
    got = run_join(pk, fk, pk_keys, fk_keys, kind=kind)
    assert len(got.table) == 10_001
    assert got.duplicate_keys == 0
    want = reference_join(pk, fk, pk_keys, fk_keys, list(fk.columns), list(pk.columns), kind)
    assert sum(want.values()) > 1000
    assert valid_rows(got.table) == want


def test_left_join_zeroes_unmatched_and_flags_matched() -> None:
    rng = np.random.default_rng(5)
    pk, fk = make_pair(rng, 40, 90, composite=True)
    got = run_join(pk, fk, ["pa", "pb"], ["fa", "fb"], kind="left")
    t = got.table
    matched = t.columns["matched"][1][:, 0]
    assert set(matched[t.valid].tolist()) <= {0, 1}
    assert 0 < matched[t.valid].sum() < t.valid.sum()  # both cases occur
    for name in pk.columns:
        data = t.columns[name][1]
        assert not data[t.valid & (matched == 0)].any(), name


def test_join_renames_and_selects_columns() -> None:
    rng = np.random.default_rng(11)
    pk, fk = make_pair(rng, 20, 30, composite=True)
    pk_sel = {"customer": "pb", "c.amount": "amount", "c.pa": "pa"}
    fk_sel = {"o.qty": "qty", "o.row": "frow", "o.fb": "fb"}
    got = run_join(
        pk, fk, ["pa", "pb"], ["fa", "fb"], pk_columns=pk_sel, fk_columns=fk_sel, kind="inner"
    )
    assert list(got.table.columns) == [*fk_sel, *pk_sel]
    assert got.table.columns["customer"][0] == ID
    want = reference_join(
        pk, fk, ["pa", "pb"], ["fa", "fb"], list(fk_sel.values()), list(pk_sel.values()), "inner"
    )
    assert valid_rows(got.table) == want


def test_join_not_compacted_is_sorted_by_key() -> None:
    rng = np.random.default_rng(12)
    pk, fk = make_pair(rng, 25, 40, composite=False)
    got = run_join(pk, fk, ["pa"], ["fa"], kind="inner", compact=False)
    t = got.table
    assert len(t) == 65
    want = reference_join(pk, fk, ["pa"], ["fa"], list(fk.columns), list(pk.columns), "inner")
    assert valid_rows(t) == want
    keys = t.columns["fa"][1][:, 0].view(np.int64)
    assert np.all(np.diff(keys[t.valid]) >= 0)


def test_duplicate_valid_pk_keys_are_detected() -> None:
    rng = np.random.default_rng(13)
    pk, fk = make_pair(rng, 60, 80, composite=True, p_valid=1.0)
    a, b = pk.columns["pa"][1], pk.columns["pb"][1]
    # Three extra copies of row 0's key, one of row 5's, one *invalid* copy of row 9's.
    for dst, src in ((10, 0), (20, 0), (30, 0), (40, 5), (50, 9)):
        a[dst], b[dst, :2] = a[src], b[src, :2]
    pk.valid[50] = False
    got = run_join(pk, fk, ["pa", "pb"], ["fa", "fb"])
    assert got.duplicate_keys == 1
    assert got.duplicate_rows == 4


def test_invalid_duplicates_are_not_errors() -> None:
    rng = np.random.default_rng(14)
    pk, fk = make_pair(rng, 50, 50, composite=False, p_valid=0.5)
    a = pk.columns["pa"][1]
    valid_idx = np.flatnonzero(pk.valid)
    invalid_idx = np.flatnonzero(~pk.valid)
    for k, dst in enumerate(invalid_idx):  # every invalid row copies a valid key
        a[dst] = a[valid_idx[k % len(valid_idx)]]
    got = run_join(pk, fk, ["pa"], ["fa"])
    assert (got.duplicate_keys, got.duplicate_rows) == (0, 0)
    want = reference_join(pk, fk, ["pa"], ["fa"], list(fk.columns), list(pk.columns), "inner")
    assert valid_rows(got.table) == want


def test_join_rejects_bad_arguments() -> None:
    rng = np.random.default_rng(15)
    pk, fk = make_pair(rng, 3, 3, composite=True)

    def program(p: Party) -> None:
        pk_t, fk_t = share_table(p, pk, 0), share_table(p, fk, 1)
        with pytest.raises(ValueError, match="types differ"):
            join_pk_fk(p, pk_t, fk_t, ["pa"], ["fb"])
        with pytest.raises(ValueError, match="same positive number"):
            join_pk_fk(p, pk_t, fk_t, ["pa", "pb"], ["fa"])
        with pytest.raises(ValueError, match="clash"):
            join_pk_fk(p, pk_t, fk_t, ["pa"], ["fa"], pk_columns={"qty": "amount"})
        with pytest.raises(KeyError):
            join_pk_fk(p, pk_t, fk_t, ["nope"], ["fa"])
        with pytest.raises(ValueError, match="kind"):
            join_pk_fk(p, pk_t, fk_t, ["pa"], ["fa"], kind="outer")  # type: ignore[arg-type]

    run3(program)


# --------------------------------------------------------------------------- semi / anti


def make_semi(
    rng: np.random.Generator, n_left: int, n_right: int, composite: bool
) -> tuple[Plain, Plain, list[str], list[str]]:
    """Right keys repeat; invalid right rows collide with left keys."""
    pool = max(n_left // 2, 1)
    enc = IdEncoder(rng)
    la = rng.integers(0, pool, n_left)
    lb = rng.integers(0, 3, n_left)
    ra = rng.integers(0, pool, n_right)  # repeats (n_right may exceed pool)
    rb = rng.integers(0, 3, n_right)
    left_cols: dict[str, tuple[ColumnType, np.ndarray]] = {"la": (INT, ints(la))}
    right_cols: dict[str, tuple[ColumnType, np.ndarray]] = {"ra": (INT, ints(ra))}
    if composite:
        left_cols["lb"] = (ID, enc.lanes(lb))
        right_cols["rb"] = (ID, enc.lanes(rb))
    left_cols["payload"] = (TEXT, enc.lanes(rng.integers(0, 1000, n_left)))
    left_cols["row"] = (INT, ints(np.arange(n_left)))
    right_cols["other"] = (INT, ints(rng.integers(0, 9, n_right)))
    lk, rk = (["la", "lb"], ["ra", "rb"]) if composite else (["la"], ["ra"])
    return (
        Plain(left_cols, rng.random(n_left) < 0.8),
        Plain(right_cols, rng.random(n_right) < 0.6),
        lk,
        rk,
    )


SEMI_SIZES = [(0, 0), (0, 4), (4, 0), (1, 1), (9, 5), (5, 17), (33, 33)]


@pytest.mark.parametrize(("n_left", "n_right"), SEMI_SIZES, ids=lambda v: str(v))
@pytest.mark.parametrize("composite", [False, True], ids=["int-key", "int+id-key"])
@pytest.mark.parametrize("anti", [False, True], ids=["semi", "anti"])
def test_semi_and_anti_join(n_left: int, n_right: int, composite: bool, anti: bool) -> None:
    rng = np.random.default_rng(100 * n_left + n_right + 7 * composite)
    left, right, lk, rk = make_semi(rng, n_left, n_right, composite)
    got = run_semi(left, right, lk, rk, anti=anti)
    assert len(got) == n_left
    assert list(got.columns) == list(left.columns)
    assert valid_rows(got) == reference_semi(left, right, lk, rk, anti)


@pytest.mark.slow
def test_semi_join_ten_thousand() -> None:
    rng = np.random.default_rng(99)
    left, right, lk, rk = make_semi(rng, 10_000, 9_999, composite=True)
    got = run_semi(left, right, lk, rk)
    want = reference_semi(left, right, lk, rk, False)
    assert 1000 < sum(want.values()) < 7000
    assert valid_rows(got) == want


def test_semi_join_not_compacted() -> None:
    rng = np.random.default_rng(3)
    left, right, lk, rk = make_semi(rng, 30, 20, composite=False)
    got = run_semi(left, right, lk, rk, anti=True, compact=False)
    assert len(got) == 50
    assert valid_rows(got) == reference_semi(left, right, lk, rk, True)


@pytest.mark.parametrize("seed", range(4))
def test_duplicate_count_random(seed: int) -> None:
    """Many key collisions among valid and invalid pk rows: count = Σ max(0, #valid − 1)."""
    rng = np.random.default_rng(200 + seed)
    n = 150
    pk = Plain(
        {"k": (INT, ints(rng.integers(0, 60, n))), "v": (INT, ints(np.arange(n)))},
        rng.random(n) < 0.5,
    )
    fk = Plain({"k": (INT, ints(rng.integers(0, 60, 40)))}, np.ones(40, dtype=bool))
    got = run_join(pk, fk, ["k"], ["k"], pk_columns={"v": "v"})
    counts = Counter(pk.key(i, ["k"]) for i in range(n) if pk.valid[i])
    want = sum(c - 1 for c in counts.values())
    assert want > 0
    assert (got.duplicate_keys, got.duplicate_rows) == (1, want)


def test_join_without_pk_columns_is_a_semi_join() -> None:
    rng = np.random.default_rng(16)
    pk, fk = make_pair(rng, 30, 50, composite=True)
    got = run_join(pk, fk, ["pa", "pb"], ["fa", "fb"], pk_columns={})
    assert list(got.table.columns) == list(fk.columns)
    want = reference_join(pk, fk, ["pa", "pb"], ["fa", "fb"], list(fk.columns), [], "inner")
    assert valid_rows(got.table) == want
