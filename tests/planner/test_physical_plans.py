"""Golden physical plans: each ``plans/*.sql`` holds a TPC-H-schema query and, after
``-- plan:``, the planner's steps for it (:meth:`PhysicalPlan.render_steps`): the join order,
each step's inputs, each scan's lanes and each join's strategy, planned as the nodes plan it
(``compile_plan`` with the plan's declared keys, then :func:`physical_plan`). A planner change
that changes a plan fails here; regenerate deliberately with
``TYST_UPDATE_PLANS=1 pytest tests/planner/test_physical_plans.py`` and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import tpch

from tests.golden import assert_golden
from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan, plan_facts
from tyst.planner.passes import physical_plan

PLANS = Path(__file__).parent / "plans"


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.sql")), ids=lambda p: p.stem)
def test_physical_plan_is_the_golden_one(path: Path) -> None:
    def steps(sql: str) -> str:
        plan = parse_plan(tpch.plan_text(path.stem, sql), f"{path.stem}.toml")
        return physical_plan(compile_plan(plan).plan, plan_facts(plan)).render_steps()

    assert_golden(path, steps, "physical plan")


def test_there_are_golden_physical_plans() -> None:
    assert len(list(PLANS.glob("*.sql"))) >= 5
