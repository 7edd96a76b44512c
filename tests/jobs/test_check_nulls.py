"""``tyst check`` with nullable columns: the plan's types, and the data report that accepts
an empty value (NULL) only in a nullable column."""

from __future__ import annotations

from pathlib import Path

from tests.examples import ISSUE_PLAN
from tyst.jobs.check import check_plan
from tyst.plan import parse_plan

PLAN = ISSUE_PLAN.replace('manad = "date", belopp = "int"', 'manad = "date?", belopp = "int?"')
PLAN = PLAN.replace(
    '"""SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr\n'
    '         WHERE b.manad BETWEEN s.fom AND s.tom"""',
    '"""SELECT s.pnr, b.belopp, COALESCE(b.manad, s.fom) AS m FROM sjukpenning s '
    'LEFT JOIN bistand b ON s.pnr = b.pnr"""',
)


def _files(tmp_path: Path, sjuk_row: str) -> dict[str, Path]:
    sjuk = tmp_path / "sjukpenning.csv"
    sjuk.write_text(f"pnr,fom,tom,belopp\n{sjuk_row}\n", encoding="utf-8")
    bistand = tmp_path / "bistand.csv"
    bistand.write_text("pnr,manad,belopp\n1,,\n2,2026-01-01,5\n", encoding="utf-8")
    return {"sjukpenning": sjuk, "bistand": bistand}


def test_check_accepts_nulls_in_nullable_columns(tmp_path: Path) -> None:
    assert PLAN != ISSUE_PLAN
    plan = parse_plan(PLAN, "plan.toml")
    report = check_plan(plan, _files(tmp_path, "1,2026-01-01,2026-02-01,1.00"))
    assert report.ok, report.text
    assert "belopp  (int?)" in report.text
    assert "m  (date)" in report.text


def test_check_reports_an_empty_value_in_a_column_that_is_not_nullable(tmp_path: Path) -> None:
    plan = parse_plan(PLAN, "plan.toml")
    report = check_plan(plan, _files(tmp_path, "1,,2026-02-01,1.00"))
    assert not report.ok
    assert "column fom: empty value (NULL); the column is not nullable" in report.text
