"""Golden plans: each ``plans/*.sql`` file holds a query and, after ``-- plan:``, the operator
plan ``tyst check`` shows for it. A change of the planner that changes a plan fails here;
regenerate deliberately with ``TYST_UPDATE_PLANS=1 pytest tests/ops/test_golden_plans.py``
and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.oracle import declared_bounds
from tests.engine.test_queries import SCHEMAS, TPCH_LIKE
from tests.golden import assert_golden
from tyst.ops.registry import render_plan
from tyst.sql.compiler import compile_sql

PLANS = Path(__file__).parent / "plans"
TABLES = {**SCHEMAS, **TPCH_LIKE}


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.sql")), ids=lambda p: p.stem)
def test_plan_is_the_golden_one(path: Path) -> None:
    assert_golden(
        path, lambda sql: render_plan(compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan)
    )


def test_there_are_golden_plans() -> None:
    assert len(list(PLANS.glob("*.sql"))) >= 8
