"""Contribution bounding (cap rows per unit, clamp) and the public-key aggregation, against a
plaintext reference, with invalid rows mixed in, at n ∈ {0, 1, odd, larger}."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.data.types import ColumnType
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.protocols import boolean as B
from tyst.relational.bounded import BoundedCall, bounded_aggregate
from tyst.relational.table import SharedColumn, SharedTable
from tyst.ring.words import U64, from_signed

INT = ColumnType("int")


def _reference(rows, valid, m, low, high, keys):  # type: ignore[no-untyped-def]
    seen: dict[int, int] = defaultdict(int)
    count: dict[int | None, int] = defaultdict(int)
    total: dict[int | None, int] = defaultdict(int)
    for (u, g, x), ok in zip(rows, valid, strict=True):
        if not ok:
            continue
        seen[u] += 1
        if seen[u] > m:
            continue
        group = g if keys is not None else None
        if keys is not None and g not in keys:
            continue
        count[group] += 1
        total[group] += min(max(x, low), high)
    groups = keys if keys is not None else [None]
    return [[count[g] for g in groups], [total[g] for g in groups]]


@pytest.mark.parametrize("n", [0, 1, 7, 60])
@pytest.mark.parametrize("grouped", [False, True])
def test_bounded_aggregate_matches_the_reference(n: int, grouped: bool) -> None:
    rng = np.random.default_rng(n + 100 * grouped)
    rows = [
        (int(rng.integers(0, 6)), int(rng.integers(0, 5)), int(rng.integers(-40, 40)))
        for _ in range(n)
    ]
    valid = [bool(rng.random() < 0.8) for _ in range(n)]
    m, low, high = 2, -10, 25
    keys = [4, 0, 2, 9] if grouped else None
    want = _reference(rows, valid, m, low, high, keys)

    def program(p: Party) -> list[list[int]]:
        flat = from_signed(np.array([v for r in rows for v in r] or [0], dtype=np.int64))
        cols = A.share_input(p, 0, flat if p.index == 0 else None)
        bits = np.array(valid, dtype=U64)
        v = B.share_input_bool(p, 0, bits if p.index == 0 else None)
        columns = {
            name: SharedColumn(INT, (cols[j : 3 * n : 3] if n else cols[0:0],))
            for j, name in enumerate(("u", "g", "x"))
        }
        table = SharedTable(columns, v if n else v[0:0])
        calls = [
            BoundedCall("count", None, "c", INT),
            BoundedCall("sum", "x", "s", INT, low, high),
        ]
        key = ("g", INT, keys) if keys is not None else None
        out = bounded_aggregate(p, table, "u", m, calls, key)
        assert len(out) == (len(keys) if keys else 1)
        assert B.reveal_bool_all(p, out.valid).tolist() == [1] * len(out)
        if keys:
            assert A.reveal_all(p, out.columns["g"].lanes[0]).view(np.int64).tolist() == keys
        return [
            A.reveal_all(p, out.columns[c].lanes[0]).view(np.int64).tolist() for c in ("c", "s")
        ]

    assert run3(program)[0] == want
