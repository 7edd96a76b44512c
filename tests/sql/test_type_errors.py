"""Type errors are one line naming the construct (its SQL) and each offending operand with
its type, e.g. ``SUM(p.pnr): SUM needs an int or decimal argument; p.pnr is id``."""

from __future__ import annotations

import pytest

from tests.sql.test_compiler import BOUNDS, TABLES
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

CASES = [
    (
        "SELECT SUM(p.pnr) FROM bistand p",
        "SUM(p.pnr): SUM needs an int or decimal argument; p.pnr is id",
    ),
    (
        "SELECT AVG(kommun) FROM bistand",
        "AVG(kommun): AVG needs an int or decimal argument; bistand.kommun is text",
    ),
    (
        "SELECT MAX(b.pnr) FROM bistand b",
        "MAX(b.pnr): MAX of text is supported with GROUP BY over text that is never NULL "
        "(ORDER BY … LIMIT 1 gives the first value); b.pnr is id",
    ),
    (
        "SELECT pnr + 1 FROM bistand",
        "pnr + 1: arithmetic on an id column is not allowed ('+'); bistand.pnr is id",
    ),
    (
        "SELECT b.belopp * b.kommun FROM bistand b",
        "b.belopp * b.kommun: arithmetic on a text column is not allowed ('*'); b.kommun is text",
    ),
    (
        "SELECT manad * 2 FROM bistand",
        "manad * 2: date arithmetic is date ± int days or date − date, not date * int; "
        "bistand.manad is date",
    ),
    (
        "SELECT pnr FROM bistand WHERE pnr < 5",
        "pnr < 5: cannot compare id with int; bistand.pnr is id",
    ),
    (
        "SELECT manad FROM bistand WHERE manad = 5",
        "manad = 5: cannot compare date with int; bistand.manad is date",
    ),
    (
        "SELECT s.pnr FROM sjukpenning s WHERE s.belopp = s.fom",
        "s.belopp = s.fom: cannot compare decimal(2) with date; s.belopp is decimal(2); "
        "s.fom is date",
    ),
    (
        "SELECT NOT belopp FROM bistand",
        "NOT belopp: NOT needs a bool operand; bistand.belopp is int",
    ),
    (
        "SELECT pnr FROM bistand WHERE belopp AND manad > '2026-01-01'",
        "belopp AND manad > '2026-01-01': AND needs bool operands; bistand.belopp is int",
    ),
    ("SELECT ABS(pnr) FROM bistand", "ABS(pnr): ABS needs a number; bistand.pnr is id"),
    (
        "SELECT CAST(pnr AS DATE) FROM bistand",
        "CAST(pnr AS DATE): CAST to DATE needs a date or a date literal; bistand.pnr is id",
    ),
    (
        "SELECT EXTRACT(YEAR FROM belopp) FROM bistand",
        "EXTRACT(YEAR FROM belopp): YEAR needs a date; bistand.belopp is int",
    ),
    (
        "SELECT DATE_DIFF('day', manad, belopp) FROM bistand",
        "DATE_DIFF('DAY', manad, belopp): DATE_DIFF needs two dates; bistand.belopp is int",
    ),
    (
        "SELECT belopp + INTERVAL '1' DAY FROM bistand",
        "belopp + INTERVAL '1' DAY: INTERVAL needs a date on its left; bistand.belopp is int",
    ),
    (
        "SELECT belopp LIKE 'a%' FROM bistand",
        "belopp LIKE 'a%': LIKE needs an id/text value; bistand.belopp is int",
    ),
    (
        "SELECT CASE WHEN belopp THEN 1 ELSE 0 END FROM bistand",
        "CASE WHEN belopp THEN 1 ELSE 0 END: CASE WHEN needs a bool condition; bistand.belopp "
        "is int",
    ),
    (
        "SELECT CASE WHEN belopp > 0 THEN pnr ELSE 1 END FROM bistand",
        "CASE WHEN belopp > 0 THEN pnr ELSE 1 END: CASE branches: cannot mix id and int",
    ),
    (
        "SELECT pnr FROM bistand GROUP BY pnr HAVING SUM(belopp)",
        "HAVING SUM(belopp): HAVING needs a bool condition; SUM(…) is int",
    ),
    (
        "SELECT LOWER(belopp) FROM bistand",
        "LOWER(belopp): LOWER needs a text value; bistand.belopp is int",
    ),
    (
        "SELECT (belopp - 1) * kommun FROM bistand",
        "(belopp - 1) * kommun: arithmetic on a text column is not allowed ('*'); "
        "bistand.kommun is text",
    ),
    (
        "SELECT SUM(CASE WHEN belopp > 0 THEN kommun ELSE 'x' END) FROM bistand",
        "SUM(CASE WHEN belopp > 0 THEN kommun ELSE 'x' END): SUM needs an int or decimal "
        "argument; CASE WHEN (bistand.belopp > 0) THEN bistand.kommun ELSE 'x'… is text",
    ),
]


@pytest.mark.parametrize(("sql", "message"), CASES)
def test_type_errors_name_the_construct_and_the_operand(sql: str, message: str) -> None:
    with pytest.raises(SqlError) as info:
        compile_sql(sql, TABLES, bounds=BOUNDS)
    assert info.value.pass_name == "types"
    text = str(info.value)
    assert "\n" not in text
    assert text.split(": ", 1)[1] == f"{message} [types]", text


def test_long_constructs_and_operands_are_cut() -> None:
    terms = " + ".join(f"belopp * {k}" for k in range(1, 30))
    with pytest.raises(SqlError) as info:
        compile_sql(f"SELECT ({terms}) LIKE 'a%' FROM bistand", TABLES, bounds=BOUNDS)
    text = str(info.value)
    construct, reason = text.split(": ", 2)[1:]
    assert construct.endswith("…")
    assert len(construct) == 60
    assert reason.startswith("LIKE needs an id/text value; ")
    assert reason.endswith("… is int [types]")
