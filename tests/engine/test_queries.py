"""Query shapes: the MPC result equals DuckDB's on the same generated rows (the oracle)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.engine.oracle import normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType

T = ColumnType.parse
SCHEMAS = {
    "bistand": {"pnr": T("id"), "manad": T("date"), "belopp": T("int"), "kommun": T("text")},
    "bistand_lund": {"pnr": T("id"), "manad": T("date"), "belopp": T("int"), "kommun": T("text")},
    "inkomst": {"pnr": T("id"), "inkomst": T("decimal(2)"), "aktiv": T("bool")},
}


def _data(n: int, seed: int) -> dict[str, dict[str, list[object]]]:
    rng = np.random.default_rng(seed)

    def bistand(kommun: str, m: int) -> dict[str, list[object]]:
        return {
            "pnr": [f"19{int(v):010d}" for v in rng.integers(0, 40, m)],
            "manad": [
                date(2026, 1, 1) + timedelta(days=31 * int(v)) for v in rng.integers(0, 12, m)
            ],
            "belopp": [int(v) for v in rng.integers(-500, 15_000, m)],
            "kommun": [f"{kommun} {int(v)}" for v in rng.integers(0, 3, m)],
        }

    return {
        "bistand": bistand("Malmö", n),
        "bistand_lund": bistand("Lund", n // 2 + 1),
        "inkomst": {
            "pnr": [f"19{int(v):010d}" for v in rng.permutation(40)[: min(n, 40)]],
            "inkomst": [Decimal(int(v)) / 100 for v in rng.integers(0, 10**8, min(n, 40))],
            "aktiv": [bool(v) for v in rng.integers(0, 2, min(n, 40))],
        },
    }


SHAPES = {
    "filter_project": "SELECT pnr, belopp * 2 AS dubbelt, kommun FROM bistand "
    "WHERE belopp > 1000 AND manad BETWEEN DATE '2026-03-01' AND '2026-09-30'",
    "case_in_list": "SELECT CASE WHEN belopp > 10000 THEN 'hög' WHEN belopp > 0 THEN 'låg' "
    "ELSE 'negativ' END AS niva, pnr FROM bistand WHERE kommun IN ('Malmö 0', 'Malmö 2')",
    "union_all": "SELECT pnr, belopp FROM bistand WHERE belopp < 0 "
    "UNION ALL SELECT pnr, belopp FROM bistand_lund WHERE NOT belopp >= 0",
    "derived": "SELECT d.pnr, d.x FROM (SELECT pnr, belopp - 100 AS x FROM bistand) AS d "
    "WHERE d.x <> 0 OR d.pnr = '190000000003'",
    "bool_and_decimal": "SELECT pnr, inkomst + 0.5 AS i FROM inkomst "
    "WHERE aktiv AND inkomst > 1000.25",
}


@pytest.mark.parametrize("n", [0, 1, 37])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_matches_duckdb(shape: str, n: int) -> None:
    sql = SHAPES[shape]
    data = _data(n, seed=n + 11)
    rng = np.random.default_rng(n)
    valid = {
        t: [bool(v) for v in rng.random(len(next(iter(d.values())))) < 0.8] for t, d in data.items()
    }
    names, got = run_mpc(sql, SCHEMAS, data, valid)
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)
