"""benchmarks.privacy: its exact reference (rows capped per person in input order, amounts
clamped) equals DuckDB's; a small plain run and a small grouped dp run are judged correct."""

from __future__ import annotations

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from benchmarks.privacy import CAP, HIGH, LOW, REGIONS, make_rows, run


def test_reference_is_duckdbs_capped_and_clamped_answer() -> None:
    rows = make_rows(500, seed=3)
    con = duckdb.connect()
    con.register("t", pa.table({c: rows.text["t"][c] for c in ("pnr", "region", "belopp")}))
    got = con.sql(
        f"SELECT CAST(region AS INT) AS r, COUNT(*), SUM(LEAST(GREATEST(CAST(belopp AS INT), "
        f"{LOW}), {HIGH})) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY pnr ORDER BY i) AS k "
        f"FROM (SELECT *, ROW_NUMBER() OVER () AS i FROM t)) WHERE k <= {CAP} GROUP BY r"
    ).fetchall()
    assert {r: (n, int(s)) for r, n, s in got} == {
        r: v for r, v in rows.bounded.items() if r in REGIONS and v[0]
    }
    assert rows.bounded[0][0] == sum(v[0] for r, v in rows.bounded.items() if r)
    assert rows.bounded[0][0] < rows.plain[0][0]  # the cap removed rows


def test_a_small_plain_and_a_small_grouped_dp_run_are_correct() -> None:
    rows = make_rows(40)
    assert run(40, False, False, rows).correct
    assert run(40, True, True, rows).correct
