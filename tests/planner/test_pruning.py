"""Column pruning: only what the query needs is carried; id/text content only where returned."""

from __future__ import annotations

from tests.engine.oracle import declared_bounds
from tyst.data.types import ColumnType
from tyst.planner.pruning import scan_needs
from tyst.sql.compiler import compile_sql

T = ColumnType.parse
TABLES = {
    "fk": {"pnr": T("id"), "belopp": T("int"), "namn": T("text"), "extra": T("int")},
    "skv": {"pnr": T("id"), "inkomst": T("int"), "kommun": T("text")},
}


def _needs(sql: str) -> dict[str, str]:
    return dict(scan_needs(compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan))


def test_count_only_join_keeps_the_person_number_keys_only() -> None:
    needs = _needs(
        "SELECT COUNT(*) AS n, SUM(f.belopp) AS s FROM fk f JOIN skv k ON f.pnr = k.pnr "
        "WHERE k.inkomst > 2 * f.belopp"
    )
    assert needs == {"f.pnr": "key", "k.pnr": "key", "f.belopp": "key", "k.inkomst": "key"}


def test_returned_text_keeps_its_content_and_unused_columns_are_dropped() -> None:
    needs = _needs("SELECT f.pnr, f.namn FROM fk f WHERE f.belopp > 3")
    assert needs == {"f.pnr": "content", "f.namn": "content", "f.belopp": "key"}


def test_text_compared_or_grouped_but_not_returned_is_key_only() -> None:
    needs = _needs("SELECT COUNT(*) AS n FROM fk WHERE namn = 'x' AND pnr IN (SELECT pnr FROM skv)")
    assert needs == {"fk.namn": "key", "fk.pnr": "key", "skv.pnr": "key"}


def test_group_key_returned_keeps_content_and_case_text_is_conservative() -> None:
    needs = _needs(
        "SELECT kommun, CASE WHEN inkomst > 5 THEN kommun ELSE 'låg' END AS k, COUNT(*) AS n "
        "FROM skv GROUP BY kommun, k"
    )
    assert set(needs) == {"skv.kommun", "skv.inkomst"}  # levels matter for id/text only
    assert needs["skv.kommun"] == "content"


def test_text_functions_read_the_bytes_of_what_they_compute_on() -> None:
    needs = _needs(
        "SELECT COUNT(*) AS n FROM fk f JOIN skv k ON f.pnr = k.pnr "
        "WHERE LENGTH(f.namn) > 3 AND LEFT(k.kommun, 2) = 'Ma' AND f.pnr LIKE '19__%'"
    )
    assert needs == {"f.pnr": "content", "k.pnr": "key", "f.namn": "content", "k.kommun": "content"}


def test_stored_text_compared_with_computed_text_keeps_its_bytes() -> None:
    needs = _needs("SELECT COUNT(*) AS n FROM skv WHERE kommun = LEFT(kommun, 3) OR pnr IN ('1')")
    assert needs == {"skv.kommun": "content", "skv.pnr": "key"}


def test_a_window_keeps_what_it_sorts_on_and_what_is_used_above() -> None:
    # partition key: key lanes; text order key: its bytes; a LAG compared only: key lanes;
    # columns the query never mentions are not shared at all
    needs = _needs(
        "SELECT d.belopp FROM (SELECT belopp, LAG(namn) OVER (PARTITION BY pnr ORDER BY "
        "namn, belopp) AS prev, ROW_NUMBER() OVER (ORDER BY belopp) AS rn FROM fk) AS d "
        "WHERE d.prev = 'x' AND d.rn <= 2"
    )
    assert set(needs) == {"fk.pnr", "fk.namn", "fk.belopp"}  # levels matter for id/text only
    assert (needs["fk.pnr"], needs["fk.namn"]) == ("key", "content")
    returned = _needs("SELECT pnr, LAG(namn) OVER (ORDER BY belopp) AS prev FROM fk")
    assert set(returned) == {"fk.pnr", "fk.namn", "fk.belopp"}
    assert (returned["fk.pnr"], returned["fk.namn"]) == ("content", "content")
    key_only = _needs(
        "SELECT COUNT(*) AS n FROM (SELECT LAG(namn) OVER (ORDER BY belopp) AS prev FROM fk) "
        "AS d WHERE d.prev = 'x'"
    )
    assert set(key_only) == {"fk.namn", "fk.belopp"}
    assert key_only["fk.namn"] == "key"
