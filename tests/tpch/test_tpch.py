"""TPC-H queries over secret shares equal DuckDB, at scale factor 0.001 (tpchgen-cli data).

Every query of :mod:`benchmarks.tpch` runs over three in-process parties against DuckDB on
the same files, and three of them run through ``tyst run`` (a coordinator, three node
processes over mutual TLS, owners ``skv``, ``fk`` and ``scb``). The plans' declared ranges
must be enough for the compiler's ``ranges`` pass.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from benchmarks import tpch

from tests.engine.oracle import normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType
from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan
from tyst.planner.pruning import table_needs
from tyst.sql.errors import SqlError

SF = 0.001
ORDERS = 500
"""Orders kept for the in-process runs (keys 1 … 4·ORDERS; TPC-H's order keys are sparse)."""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tpch.generate(SF, tmp_path_factory.mktemp("tpch"))


def _values(ctype: ColumnType, texts: list[str]) -> list[object]:
    if ctype.kind == "decimal":
        return [Decimal(v) for v in texts]
    if ctype.kind == "int":
        return [int(v) for v in texts]
    if ctype.kind == "date":
        return [date.fromisoformat(v) for v in texts]
    return texts


def _load(files: dict[str, Path], sql: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The columns the query reads (the owners share no others) of the first
    :data:`ORDERS` orders, their lines and every row of the other tables."""
    full = {
        t: {c: ColumnType.parse(k) for c, k in tpch.TABLES[t][1].items()}
        for t in tpch.tables_of(sql)
    }
    plan = parse_plan(tpch.plan_text("q", sql), "q.toml")
    needs = table_needs(compile_plan(plan).plan)
    schemas, data = {}, {}
    for table, all_columns in full.items():
        columns = {c: t for c, t in all_columns.items() if c in needs.get(table, {})}
        with files[table].open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        key = {"orders": "o_orderkey", "lineitem": "l_orderkey"}.get(table)
        if key is not None:
            rows = [r for r in rows if int(r[key]) <= ORDERS * 4]
        if table == "partsupp":  # at SF 0.001 (10 suppliers) tpchgen repeats 100 of 800 keys
            first = {(r["ps_partkey"], r["ps_suppkey"]): r for r in reversed(rows)}
            rows = list(reversed(first.values()))
        schemas[table] = columns
        data[table] = {c: _values(t, [r[c] for r in rows]) for c, t in columns.items()}
    return schemas, data


def test_every_plan_is_valid_and_its_ranges_suffice() -> None:
    for name, sql in tpch.QUERIES.items():
        plan = parse_plan(tpch.plan_text(name, sql), f"{name}.toml")
        assert {t.owner for t in plan.tables.values()} <= set(tpch.OWNERS)
        assert compile_plan(plan).plan.schema


def test_the_bounds_written_into_each_plan_are_those_of_its_final_join_order() -> None:
    """The planner may re-order joins after the compiler wrote the divisions' and calendar
    functions' bounds; a re-ordered join bounds its rows anew, so the bounds are written anew:
    checking the final plan again finds exactly the bounds it holds."""
    from tyst.planner.jobspec import plan_bounds
    from tyst.sql.compiler import with_found
    from tyst.sql.ranges import check_ranges

    for name, sql in tpch.QUERIES.items():
        plan = parse_plan(tpch.plan_text(name, sql), f"{name}.toml")
        root = compile_plan(plan).plan
        assert with_found(root, check_ranges(root, plan_bounds(plan))) == root, name


REFUSALS = {
    # its threshold SUM(…) * 0.0001000000 has 12 decimals: compared at that scale, the sums
    # of up to 10^7 rows leave the ring (wider values are another item of the issue)
    "q11": "64-bit shares hold exactly",
}


@pytest.mark.parametrize("name", sorted(tpch.REFUSED))
def test_the_other_queries_are_refused_in_one_line(name: str) -> None:
    """Each query TPC-H has and tyst does not run is refused before any data moves, for the
    reason docs/sql.md gives (move it to QUERIES, and its test here, when that changes)."""
    plan = parse_plan(tpch.plan_text(name, tpch.REFUSED[name]), f"{name}.toml")
    with pytest.raises(SqlError) as refused:
        compile_plan(plan)
    message = str(refused.value)
    assert REFUSALS[name] in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(tpch.QUERIES))
def test_query_matches_duckdb(name: str, files: dict[str, Path]) -> None:
    sql = tpch.QUERIES[name]
    schemas, data = _load(files, sql)
    names, got = run_mpc(sql, schemas, data)
    want_names, want = run_duckdb(sql, schemas, data)
    assert [n.lower() for n in names] == [n.lower() for n in want_names]
    # Q2, Q5, Q7, Q18, Q20 and Q21 select nothing at SF 0.001 (10 suppliers; no order above
    # 300 units; Q2, Q20, Q21 with other parameters: test_subquery_queries_with_rows_at_this_scale)
    empty = ("q2", "q5", "q7", "q18", "q20", "q21")
    assert want or name in empty, "the query selects rows at this scale"
    if "limit" in sql:  # ordered; the order keys have no ties at this scale
        assert normalise(got) == normalise(want)
    else:
        assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)


SUBSTITUTED = {
    # TPC-H's own substitution parameters, chosen so that the query selects rows at SF 0.001
    "q2": ("p_size = 15", "p_size = 20", "'%BRASS'", "'%STEEL'"),
    "q20": ("'CANADA'", "'KENYA'"),
    "q21": ("'SAUDI ARABIA'", "'PERU'"),
}


@pytest.mark.parametrize("name", sorted(SUBSTITUTED))
def test_subquery_queries_with_rows_at_this_scale(name: str, files: dict[str, Path]) -> None:
    """Q2, Q20 (correlated scalar subqueries) and Q21 (EXISTS with <>) select nothing at SF
    0.001 with the validation parameters; with other parameters of the specification they do,
    and equal DuckDB."""
    sql = tpch.QUERIES[name]
    changes = SUBSTITUTED[name]
    for old, new in zip(changes[::2], changes[1::2], strict=True):
        assert old in sql
        sql = sql.replace(old, new)
    schemas, data = _load(files, sql)
    _, got = run_mpc(sql, schemas, data)
    _, want = run_duckdb(sql, schemas, data)
    assert want, "the query selects rows with these parameters"
    assert normalise(got) == normalise(want)  # ordered; no ties at this scale


@pytest.mark.tls
def test_queries_through_tyst_run_across_three_owners(files: dict[str, Path]) -> None:
    out = next(iter(files.values())).parent
    # Q15 in its standard three statements (a view, a scalar subquery over it) as well
    queries = "q3,q6,q15"
    assert tpch.main(["--sf", str(SF), "--queries", queries, "--out", str(out / "run")]) == 0
