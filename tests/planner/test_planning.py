"""Join planning: which side is the pk side, decided from public facts only."""

from __future__ import annotations

import pytest

from tests.engine.oracle import declared_bounds
from tyst.data.types import ColumnType
from tyst.planner.planning import (
    PlanningError,
    TableFacts,
    join_key_columns,
    join_strategies,
)
from tyst.sql.compiler import compile_sql

T = ColumnType.parse
TABLES = {
    "fk": {"pnr": T("id"), "belopp": T("int")},
    "skv": {"pnr": T("id"), "inkomst": T("int")},
    "kommun": {"pnr": T("id"), "manad": T("date"), "belopp": T("int")},
}


def _strategies(sql: str, facts: dict[str, TableFacts]) -> list[tuple[str, int]]:
    root = compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan
    return [(s.pk, s.expand) for s in join_strategies(root, facts).values()]


def test_right_side_unique_is_the_pk_side() -> None:
    facts = {"skv": TableFacts((frozenset({"pnr"}),))}
    sql = "SELECT f.pnr FROM fk f JOIN skv s ON f.pnr = s.pnr"
    assert _strategies(sql, facts) == [("right", 1)]


def test_left_side_unique_is_the_pk_side() -> None:
    facts = {"fk": TableFacts((frozenset({"pnr"}),))}
    sql = "SELECT f.pnr FROM fk f JOIN kommun k ON f.pnr = k.pnr"
    assert _strategies(sql, facts) == [("left", 1)]


def test_group_by_output_is_unique_on_its_keys_through_filters_and_projections() -> None:
    sql = (
        "WITH per AS (SELECT pnr, SUM(belopp) AS total FROM kommun GROUP BY pnr) "
        "SELECT p.pnr FROM kommun k JOIN per p ON k.pnr = p.pnr WHERE p.total > 5"
    )
    assert _strategies(sql, {}) == [("right", 1)]


def test_a_key_that_is_a_superset_of_a_unique_set_is_unique() -> None:
    facts = {"fk": TableFacts((frozenset({"pnr"}),))}
    sql = "SELECT k.pnr FROM kommun k JOIN fk f ON k.pnr = f.pnr AND k.belopp = f.belopp"
    assert _strategies(sql, facts) == [("right", 1)]


def test_declared_bound_expands_a_many_to_many_join() -> None:
    facts = {"kommun": TableFacts(max_rows_per_key=12)}
    sql = "SELECT f.pnr FROM fk f JOIN kommun k ON f.pnr = k.pnr"
    assert _strategies(sql, facts) == [("right", 12)]


def test_no_unique_side_is_one_clear_line() -> None:
    sql = "SELECT f.pnr FROM fk f JOIN kommun k ON f.pnr = k.pnr"
    with pytest.raises(PlanningError) as info:
        _strategies(sql, {})
    text = str(info.value)
    assert "\n" not in text
    assert "JOIN of fk f and kommun k on f.pnr = k.pnr" in text
    assert "unique = [...]" in text


def test_join_key_columns_are_traced_to_the_scanned_tables() -> None:
    sql = (
        "SELECT f.pnr FROM fk f JOIN (SELECT pnr AS p, manad FROM kommun WHERE belopp > 0) AS k "
        "ON f.pnr = k.p JOIN skv s ON s.pnr = f.pnr"
    )
    root = compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan
    assert join_key_columns(root) == {"fk": {("pnr",)}, "kommun": {("pnr",)}, "skv": {("pnr",)}}


UNION = "SELECT pnr, belopp FROM fk UNION ALL SELECT pnr, inkomst FROM skv"


def test_declared_bounds_add_up_through_union_all() -> None:
    """Two owners' tables, each at most k rows per key, have at most k1 + k2 in their union
    (one person may be in both); the bound survives the CTE, a filter and a window."""
    facts = {"fk": TableFacts(max_rows_per_key=3), "skv": TableFacts(max_rows_per_key=2)}
    sql = f"WITH u AS ({UNION}) SELECT k.pnr FROM kommun k JOIN u ON k.pnr = u.pnr"
    assert _strategies(sql, facts) == [("right", 5)]
    windowed = (
        f"WITH u AS ({UNION}), w AS (SELECT pnr, LAG(belopp) OVER (PARTITION BY pnr "
        "ORDER BY belopp) AS prev FROM u WHERE belopp > 0) "
        "SELECT k.pnr FROM kommun k JOIN w ON k.pnr = w.pnr"
    )
    assert _strategies(windowed, facts) == [("right", 5)]


def test_a_union_with_an_unbounded_branch_has_no_bound() -> None:
    sql = f"WITH u AS ({UNION}) SELECT k.pnr FROM kommun k JOIN u ON k.pnr = u.pnr"
    with pytest.raises(PlanningError, match="neither side is unique"):
        _strategies(sql, {"fk": TableFacts(max_rows_per_key=3)})


def test_a_self_join_of_a_bounded_table_is_expanded() -> None:
    sql = (
        "WITH w AS (SELECT pnr, manad, ROW_NUMBER() OVER (ORDER BY pnr, manad) AS r "
        "FROM kommun) SELECT a.pnr FROM w a JOIN w b ON a.pnr = b.pnr WHERE b.r = a.r + 1"
    )
    assert _strategies(sql, {"kommun": TableFacts(max_rows_per_key=4)}) == [("right", 4)]


def test_join_key_columns_are_traced_into_union_branches() -> None:
    sql = f"WITH u AS ({UNION}) SELECT k.pnr FROM kommun k JOIN u ON k.pnr = u.pnr"
    root = compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan
    assert join_key_columns(root) == {"kommun": {("pnr",)}, "fk": {("pnr",)}, "skv": {("pnr",)}}


def test_row_numbers_are_unique_within_their_partition() -> None:
    """``r2.r = r1.r + 1`` is a key (the expression computed on r1's side) and a ROW_NUMBER
    is distinct per partition, so the self-join needs no bound."""
    sql = (
        "WITH w AS (SELECT pnr, manad, ROW_NUMBER() OVER (PARTITION BY pnr ORDER BY manad) AS r "
        "FROM kommun) SELECT a.pnr FROM w a, w b WHERE a.pnr = b.pnr AND b.r = a.r + 1"
    )
    assert _strategies(sql, {}) == [("right", 1)]
    unpartitioned = sql.replace("PARTITION BY pnr ", "").replace("a.pnr = b.pnr AND ", "")
    assert _strategies(unpartitioned, {}) == [("right", 1)]
    other = sql.replace("ROW_NUMBER()", "RANK()")  # ranks tie
    with pytest.raises(PlanningError, match="neither side is unique"):
        _strategies(other, {})
