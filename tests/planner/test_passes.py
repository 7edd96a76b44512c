"""The planner's passes and the frozen physical plan they produce, which the executor runs."""

from __future__ import annotations

import dataclasses

import pytest

from tests.engine.oracle import declared_bounds
from tyst.data.types import ColumnType
from tyst.engine.executor import Executor
from tyst.planner.passes import PASSES, physical_plan
from tyst.planner.physical import PhysicalPlan
from tyst.planner.planning import PlanningError, TableFacts
from tyst.sql import ir
from tyst.sql.compiler import compile_sql

T = ColumnType.parse
TABLES = {
    "t": {"k": T("id"), "g": T("text"), "v": T("int")},
    "u": {"k": T("id"), "w": T("int"), "note": T("text")},
}
CTE_TWICE = (
    "WITH per AS (SELECT k, SUM(v) AS s FROM t GROUP BY k) "
    "SELECT a.k, a.s, b.s AS s2 FROM per a JOIN per b ON a.k = b.k"
)


def _plan(sql: str, facts: dict[str, TableFacts] | None = None) -> PhysicalPlan:
    root = compile_sql(sql, TABLES, bounds=declared_bounds(TABLES)).plan
    return physical_plan(root, facts or {})


def test_the_passes_are_named_documented_and_in_order() -> None:
    assert [p.name for p in PASSES] == ["number_steps", "prune_lanes", "choose_joins"]
    assert all(p.doc for p in PASSES)


def test_steps_are_numbered_leaves_first_and_a_shared_subplan_is_one_step() -> None:
    plan = _plan(CTE_TWICE)
    assert [s.number for s in plan.steps] == list(range(1, len(plan.steps) + 1))
    for s in plan.steps:
        assert all(i < s.number for i in s.inputs)
    assert plan.output.node is plan.root
    (agg,) = [s for s in plan.steps if isinstance(s.node, ir.Aggregate)]
    assert agg.operator == "aggregate"
    above = plan.dependents(agg.number)
    assert len(above) == 1  # the CTE's own projection, read by both aliases
    assert len(plan.dependents(above[0])) == 2


def test_each_join_strategy_and_scan_lane_set_is_decided_once_on_its_step() -> None:
    facts = {"u": TableFacts((frozenset({"k"}),))}
    plan = _plan("SELECT t.g, u.w FROM t JOIN u ON t.k = u.k WHERE u.note = 'x'", facts)
    (join,) = [s for s in plan.steps if s.operator == "join"]
    assert join.join is not None
    assert join.join.pk == "right"
    scans = {s.node.alias: dict(s.lanes or ()) for s in plan.steps if isinstance(s.node, ir.Scan)}
    assert scans == {
        "t": {"t.k": "key", "t.g": "content"},
        "u": {"u.k": "key", "u.w": "content", "u.note": "key"},
    }
    assert plan.needs() == {**scans["t"], **scans["u"]}
    assert plan.joins() == {id(join.node): join.join}
    assert plan.render_joins() == [
        f"step {join.number} (join) on t.k: right side unique on the join key"
    ]
    assert "inner join ON t.k = u.k" in plan.render()


def test_the_physical_plan_is_frozen() -> None:
    plan = _plan("SELECT k FROM t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps[0].join = None  # type: ignore[misc]


def test_a_join_that_cannot_be_planned_names_its_step_and_pass() -> None:
    with pytest.raises(PlanningError, match="neither side is unique") as info:
        _plan("SELECT t.v FROM t JOIN u ON t.k = u.k")
    notes = info.value.__notes__
    assert any(n.startswith("in plan step 3 (join)") for n in notes)
    assert "in planner pass choose_joins" in notes


def test_the_executor_runs_only_a_planned_plan() -> None:
    root = compile_sql("SELECT k FROM t", TABLES).plan
    with pytest.raises(ValueError, match="no steps"):
        Executor(None, {}).run(PhysicalPlan(root))  # type: ignore[arg-type]
