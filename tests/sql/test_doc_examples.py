"""Every SQL example in docs/sql.md compiles against a schema for its tables."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tyst.data.types import ColumnType
from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan
from tyst.sql.compiler import compile_sql
from tyst.sql.ranges import TableBounds

T = ColumnType.parse
DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
BISTAND = {"pnr": T("id"), "manad": T("date"), "belopp": T("int")}
REGION = {"indikator": T("text"), "varde": T("decimal(2)")}
SJUKHUS = {"diagnos": T("text"), "vardtid": T("int")}
TABLES = {
    "sjukpenning": {"pnr": T("id"), "fom": T("date"), "tom": T("date"), "belopp": T("decimal(2)")},
    "bistand": BISTAND,
    "bistand_malmo": BISTAND,
    "bistand_lund": BISTAND,
    "bistand_eslov": BISTAND,
    "fk_ersattning": {"pnr": T("id"), "belopp": T("int")},
    "skv_inkomst": {"pnr": T("id"), "inkomst": T("int")},
    "hushall": {"hushall_id": T("id"), "pnr": T("id")},
    "inkomster": {"pnr": T("id"), "inkomst": T("int")},
    "folkbokforing_se": {"pnr": T("id")},
    "register_no": {"pnr": T("id")},
    "register": {"journal_id": T("id"), "pnr": T("id")},
    "optout": {"pnr": T("id")},
    "region_01": REGION,
    "region_02": REGION,
    "sjukhus_a": SJUKHUS,
    "sjukhus_b": SJUKHUS,
    "bud_a": {"pris": T("decimal(2)")},
    "bud_b": {"pris": T("decimal(2)")},
    "skola": {"skola": T("text"), "pnr": T("id")},
    "socialtjanst_insatser": {"pnr": T("id")},
}
# what the examples' plans declare: at most 2·10^7 rows, amounts in [0, 10^7]
BOUNDS = {
    name: TableBounds(
        20_000_000,
        {c: (Decimal(0), Decimal(10**7)) for c, t in columns.items() if t.is_numeric},
    )
    for name, columns in TABLES.items()
}
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_doc_example_compiles(sql: str) -> None:
    assert compile_sql(sql, TABLES, min_group_size=5, bounds=BOUNDS).plan.schema


def test_the_plan_file_example_parses_and_compiles() -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    plan = parse_plan(block.group(1), "docs/sql.md")
    assert plan.tables["bistand"].ranges == {"belopp": (Decimal(0), Decimal(100_000))}
    assert plan.tables["bistand"].max_rows == 20_000_000
    assert compile_plan(plan).plan.schema
