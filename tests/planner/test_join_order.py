"""Join order is the planner's choice: every FROM order of the same query plans, and gives the
same result (MPC == DuckDB)."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

import numpy as np
import pytest
from benchmarks import tpch

from tests.engine.oracle import declared_bounds, normalise, run_duckdb, run_mpc
from tyst.data.types import ColumnType
from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan, job_spec, plan_facts
from tyst.planner.join_order import order_joins
from tyst.planner.passes import LOGICAL_PASSES, physical_plan
from tyst.planner.planning import PlanningError, TableFacts, join_strategies, unique_sets
from tyst.planner.pruning import table_needs
from tyst.sql import ir
from tyst.sql.compiler import compile_sql

T = ColumnType.parse
# TPC-H Q5's join graph: customer and supplier meet on the nation key as well
TABLES = {
    "customer": {"c_custkey": T("id"), "c_nationkey": T("id")},
    "orders": {"o_orderkey": T("id"), "o_custkey": T("id"), "o_flag": T("int")},
    "lineitem": {"l_orderkey": T("id"), "l_suppkey": T("id"), "l_price": T("decimal(2)")},
    "supplier": {"s_suppkey": T("id"), "s_nationkey": T("id")},
    "nation": {"n_nationkey": T("id"), "n_name": T("text")},
}
DECLARED = {
    "customer": TableFacts((frozenset({"c_custkey"}),)),
    "orders": TableFacts((frozenset({"o_orderkey"}),)),
    "supplier": TableFacts((frozenset({"s_suppkey"}),)),
    "nation": TableFacts((frozenset({"n_nationkey"}),)),
}
BOUNDS = declared_bounds(TABLES)
Q5 = (
    "SELECT n_name, SUM(l_price) AS revenue, COUNT(*) AS lines FROM {tables} "
    "WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey "
    "AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND o_flag > 0 "
    "GROUP BY n_name"
)
WRITTEN_ORDERS = [
    ("customer", "orders", "lineitem", "supplier", "nation"),  # runs as written
    ("supplier", "customer", "orders", "lineitem", "nation"),  # supplier ⋈ customer first
    ("nation", "supplier", "customer", "lineitem", "orders"),
    ("lineitem", "nation", "customer", "supplier", "orders"),
]


def _data(n: int, seed: int) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    rng = np.random.default_rng(seed)
    nations, customers, suppliers, orders = 3, max(1, n // 3), max(1, n // 4), max(1, n // 2)

    def pick(prefix: str, count: int, size: int) -> list[object]:
        return [f"{prefix}{int(v)}" for v in rng.integers(0, count, size)]

    data: dict[str, dict[str, list[object]]] = {
        "nation": {
            "n_nationkey": [f"n{i}" for i in range(nations)],
            "n_name": ["ASIA", "EUROPE", "AFRICA"],
        },
        "customer": {
            "c_custkey": [f"c{i}" for i in range(customers)],
            "c_nationkey": pick("n", nations, customers),
        },
        "supplier": {
            "s_suppkey": [f"s{i}" for i in range(suppliers)],
            "s_nationkey": pick("n", nations, suppliers),
        },
        "orders": {
            "o_orderkey": [f"o{i}" for i in range(orders)],
            "o_custkey": pick("c", customers, orders),
            "o_flag": [int(v) for v in rng.integers(0, 3, orders)],
        },
        "lineitem": {
            "l_orderkey": pick("o", orders, n),
            "l_suppkey": pick("s", suppliers, n),
            "l_price": [Decimal(int(v)) / 100 for v in rng.integers(0, 10**5, n)],
        },
    }
    # padding rows mixed in (invalid rows: they must not join or count)
    valid = {t: [bool(v) for v in rng.random(len(next(iter(cols.values())))) > 0.2] for t, cols in
             data.items() if t in ("lineitem", "orders")}  # fmt: skip
    return data, valid


def _root(sql: str, facts: dict[str, TableFacts]) -> ir.Node:
    compiled = compile_sql(sql, TABLES, bounds=BOUNDS)
    return order_joins(compiled.plan, facts)


def test_order_joins_is_a_logical_pass() -> None:
    assert [p.name for p in LOGICAL_PASSES] == ["order_joins"]


def test_a_plannable_written_order_is_kept_as_the_same_objects() -> None:
    compiled = compile_sql(Q5.format(tables=", ".join(WRITTEN_ORDERS[0])), TABLES, bounds=BOUNDS)
    assert order_joins(compiled.plan, DECLARED) is compiled.plan


def test_an_order_that_cannot_run_as_written_is_reordered() -> None:
    sql = Q5.format(tables=", ".join(WRITTEN_ORDERS[1]))
    written = compile_sql(sql, TABLES, bounds=BOUNDS).plan
    with pytest.raises(PlanningError, match="supplier and customer"):
        join_strategies(written, DECLARED)
    root = _root(sql, DECLARED)
    assert root is not written
    assert root.schema == written.schema
    strategies = join_strategies(root, DECLARED)
    assert len(strategies) == 4
    assert all(s.expand == 1 for s in strategies.values())
    keys = {(j.left_keys, j.right_keys) for j in strategies}
    assert (("supplier.s_nationkey",), ("customer.c_nationkey",)) not in keys


def test_no_order_that_can_run_keeps_the_written_one() -> None:
    sql = "SELECT c_custkey FROM customer, supplier WHERE c_nationkey = s_nationkey"
    written = compile_sql(sql, TABLES, bounds=BOUNDS).plan
    assert order_joins(written, DECLARED) is written
    with pytest.raises(PlanningError, match="neither side is unique"):
        physical_plan(order_joins(written, DECLARED), DECLARED)


def test_uniqueness_is_inferred_through_joins() -> None:
    root = compile_sql(
        "SELECT o_orderkey FROM customer, orders WHERE c_custkey = o_custkey", TABLES
    ).plan
    (join,) = [n for n in root.walk() if isinstance(n, ir.Join)]
    assert frozenset({"orders.o_orderkey"}) in unique_sets(join, DECLARED)
    # one-to-one: both sides unique on the key, so both sides' unique sets survive
    one = compile_sql(
        "SELECT c.c_custkey FROM customer c, customer d WHERE c.c_custkey = d.c_custkey", TABLES
    ).plan
    (join,) = [n for n in one.walk() if isinstance(n, ir.Join)]
    assert {frozenset({"c.c_custkey"}), frozenset({"d.c_custkey"})} <= set(
        unique_sets(join, DECLARED)
    )


@pytest.mark.parametrize("name", ["q3", "q5", "q10", "q18"])
def test_every_from_order_of_tpch_plans_with_the_declared_keys(name: str) -> None:
    sql = tpch.QUERIES[name]
    match = re.search(r"from ([a-z, ]+)\n", sql)
    assert match is not None
    items = [s.strip() for s in match.group(1).split(",")]
    orders = list(itertools.permutations(items))
    if len(orders) > 60:  # Q5: every 13th of the 720 orders, the written one first
        orders = orders[::13]
    schema = None
    for order in orders:
        text = sql.replace(match.group(0), "from " + ", ".join(order) + "\n")
        plan = parse_plan(tpch.plan_text(name, text), f"{name}.toml")
        spec = job_spec(plan)
        physical = physical_plan(spec.compiled.plan, plan_facts(plan))
        assert physical.steps
        if schema is None:
            schema = spec.compiled.plan.schema
        assert spec.compiled.plan.schema == schema, order
        assert compile_plan(plan).plan == spec.compiled.plan  # deterministic


@pytest.mark.parametrize(
    ("written", "n"), [*((w, 23) for w in range(len(WRITTEN_ORDERS))), (1, 0), (1, 1), (2, 41)]
)
def test_every_from_order_gives_the_same_result(written: int, n: int) -> None:
    data, valid = _data(n, seed=n + written)
    sql = Q5.format(tables=", ".join(WRITTEN_ORDERS[written]))
    names, got = run_mpc(sql, TABLES, data, valid, facts=DECLARED)
    want_names, want = run_duckdb(sql, TABLES, data, valid)
    assert names == want_names
    assert sorted(normalise(got), key=repr) == sorted(normalise(want), key=repr)
    if n > 1:
        assert want, "the query selects rows at this size"


def test_a_residual_on_condition_survives_reordering() -> None:
    sql = (
        "SELECT n_name, COUNT(*) AS lines FROM supplier JOIN customer "
        "ON c_nationkey = s_nationkey AND c_custkey <> s_suppkey, orders, lineitem, nation "
        "WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey "
        "AND s_nationkey = n_nationkey GROUP BY n_name"
    )
    root = _root(sql, DECLARED)
    assert any(isinstance(n, ir.Filter) for n in root.walk())
    data, valid = _data(23, seed=5)
    _, got = run_mpc(sql, TABLES, data, valid, facts=DECLARED)
    _, want = run_duckdb(sql, TABLES, data, valid)
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_a_reordered_query_shares_the_same_columns_as_the_written_one() -> None:
    def shared(order: tuple[str, ...], select: str) -> dict[str, dict[str, str]]:
        sql = Q5.format(tables=", ".join(order)).replace(
            "n_name, SUM(l_price) AS revenue, COUNT(*) AS lines", select
        )
        return table_needs(_root(sql, DECLARED))

    for select in ("n_name, SUM(l_price) AS revenue, COUNT(*) AS lines", "COUNT(*) AS lines"):
        want = shared(WRITTEN_ORDERS[0], select)
        for order in WRITTEN_ORDERS[1:]:
            assert shared(order, select) == want, (order, select)


def test_a_reordered_count_only_query_matches_duckdb() -> None:
    sql = (
        Q5.format(tables=", ".join(WRITTEN_ORDERS[1]))
        .replace("n_name, SUM(l_price) AS revenue, COUNT(*) AS lines", "COUNT(*) AS lines")
        .replace("GROUP BY n_name", "")
    )
    data, valid = _data(19, seed=2)
    _, got = run_mpc(sql, TABLES, data, valid, facts=DECLARED)
    _, want = run_duckdb(sql, TABLES, data, valid)
    assert got == want
    assert want[0][0] > 0
