"""Golden plans: each ``plans/*.sql`` file holds a query and, after ``-- plan:``, the operator
plan ``tyst check`` shows for it. A change of the planner that changes a plan fails here;
regenerate deliberately with ``TYST_UPDATE_PLANS=1 pytest tests/ops/test_golden_plans.py``
and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.oracle import declared_bounds
from tests.engine.test_queries import SCHEMAS, TPCH_LIKE
from tyst.ops.registry import render_plan
from tyst.sql.compiler import compile_sql

PLANS = Path(__file__).parent / "plans"
MARK = "-- plan:\n"
TABLES = {**SCHEMAS, **TPCH_LIKE}


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.sql")), ids=lambda p: p.stem)
def test_plan_is_the_golden_one(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    sql, _, expected = text.partition(MARK)
    plan = render_plan(compile_sql(sql.strip(), TABLES, bounds=declared_bounds(TABLES)).plan)
    if os.environ.get("TYST_UPDATE_PLANS"):
        path.write_text(f"{sql.strip()}\n{MARK}{plan}\n", encoding="utf-8")
        return
    assert expected, f"{path.name} has no '-- plan:' section"
    assert plan == expected.rstrip("\n"), f"the plan of {path.name} changed:\n{plan}"


def test_there_are_golden_plans() -> None:
    assert len(list(PLANS.glob("*.sql"))) >= 8
