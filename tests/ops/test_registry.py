"""The operator registry is complete, drives the executor and pruning, and generates its docs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tyst.ops.aggregate
from tests.engine.oracle import declared_bounds, run_duckdb, run_mpc
from tyst.data.types import ColumnType
from tyst.ops.registry import OPERATORS, disclosures, missing_specs, render_docs, render_plan
from tyst.planner.passes import physical_plan
from tyst.sql import ir
from tyst.sql.compiler import compile_sql

ROOT = Path(__file__).resolve().parents[2]
T = ColumnType.parse
SCHEMAS = {"t": {"k": T("id"), "g": T("text"), "v": T("int")}}
SHARED_CTE = (
    "WITH per AS (SELECT k, SUM(v) AS s FROM t GROUP BY k) "
    "SELECT a.k, a.s, b.s AS s2 FROM per a JOIN per b ON a.k = b.k"
)


def test_every_ir_type_has_a_spec() -> None:
    assert missing_specs() == []
    assert set(OPERATORS) == {
        ir.Scan, ir.Filter, ir.Project, ir.Join, ir.SemiJoin, ir.Broadcast, ir.Aggregate,
        ir.Distinct, ir.OrderLimit, ir.UnionAll, ir.Window, ir.BoundedAggregate,
    }  # fmt: skip


def test_operator_page_is_generated_from_the_registry() -> None:
    page = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8")
    assert page == render_docs(), (
        "docs/operators.md is stale: run `python -m tyst.ops.registry > docs/operators.md`"
    )
    for spec in OPERATORS.values():
        assert f"| {spec.name} |" in page


def test_a_cte_used_twice_is_one_step_and_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    root = compile_sql(SHARED_CTE, SCHEMAS, bounds=declared_bounds(SCHEMAS)).plan
    kinds = [type(s.node) for s in physical_plan(root, {}).steps]
    assert kinds.count(ir.Aggregate) == 1
    assert "computed once" in render_plan(root)
    calls = []
    real = tyst.ops.aggregate.group_by

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tyst.ops.aggregate, "group_by", counting)
    rng = np.random.default_rng(3)
    data = {
        "t": {
            "k": [f"p{int(x)}" for x in rng.integers(0, 5, 23)],
            "g": ["x"] * 23,
            "v": [int(x) for x in rng.integers(-50, 50, 23)],
        }
    }
    names, got = run_mpc(SHARED_CTE, SCHEMAS, data)
    want_names, want = run_duckdb(SHARED_CTE, SCHEMAS, data)
    assert len(calls) == 3  # each party's one aggregate step (three parties in this process)
    assert names == want_names
    assert sorted(got) == sorted(want)


def test_step_inputs_precede_their_consumers() -> None:
    sql = (
        "SELECT k, COUNT(*) AS n FROM t WHERE k IN (SELECT k FROM t WHERE v > 3) "
        "GROUP BY k ORDER BY n DESC LIMIT 2"
    )
    steps = physical_plan(compile_sql(sql, SCHEMAS).plan, {}).steps
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    for s in steps:
        assert all(i < s.number for i in s.inputs)
    assert isinstance(steps[-1].node, ir.OrderLimit)


def test_disclosures_come_from_the_specs() -> None:
    join = compile_sql(SHARED_CTE, SCHEMAS, bounds=declared_bounds(SCHEMAS)).plan
    found = [(op, d.what) for op, d in disclosures(join)]
    assert any(op == "join" and "integrity bit" in what for op, what in found)
    assert any(op == "scan" and "number of rows" in what for op, what in found)
    plain = compile_sql("SELECT k FROM t WHERE v > 1", SCHEMAS).plan
    assert [op for op, _ in disclosures(plain)] == ["scan"]


def test_a_failing_step_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(tyst.ops.aggregate, "group_by", broken)
    data = {"t": {"k": ["a"], "g": ["x"], "v": [1]}}
    with pytest.raises(RuntimeError) as info:
        run_mpc("SELECT k, COUNT(*) AS n FROM t GROUP BY k", SCHEMAS, data)
    assert any("plan step 2 (aggregate)" in note for note in info.value.__notes__)
