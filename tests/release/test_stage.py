"""The release stage at the nodes and its decoding at the recipient: side outputs by name,
the shuffle that keeps an ORDER BY's order, and ``reveal_result_size`` compacting the result.

Each test runs the node program's ``execute`` at three in-process parties on a plan's job
spec and decodes with the recipient's ``decode``, against DuckDB on the same rows."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import pytest

from tests.engine.oracle import encode
from tests.mpc.harness import run3
from tests.release.plans import HEAD
from tyst.client.recipient import ResultError, decode
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare
from tyst.node.program import execute
from tyst.plan import parse_plan
from tyst.planner.jobspec import JobSpec, job_spec
from tyst.planner.passes import physical_plan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.release.mechanisms import (
    SUPPRESSED_GROUPS,
    Pad,
    RevealSize,
    Shuffle,
    Suppress,
    mechanisms,
)

PLAN = (
    HEAD
    + """\
min_group_size = {k}
{policy}"""
)


def _spec(sql: str, k: int = 0, allow: bool = False) -> JobSpec:
    policy = '[policy]\nallow = ["reveal_result_size"]' if allow else ""
    return job_spec(parse_plan(PLAN.format(sql=sql, k=k, policy=policy)))


def _rows(n: int, seed: int) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    keys = rng.sample(range(100000), n)
    return [(keys[i], rng.randrange(10), rng.randrange(-50, 51)) for i in range(n)]


def _run(spec: JobSpec, rows: list[tuple[int, int, int]]) -> tuple[dict[str, object], int]:
    """The recipient's decoded result and its padded length."""
    schema = spec.schemas["t"]
    lanes = {
        c: [split(lane) for lane in encode(schema[c], [r["kgx".index(c)] for r in rows])]
        for c in schema
    }
    plan = physical_plan(spec.compiled.plan, spec.facts({}))

    def program(p: Party) -> dict[str, tuple[str, object, object]]:
        columns = {
            c: SharedColumn(
                schema[c], tuple(AShare(s[p.index].first, s[p.index].second) for s in parts)
            )
            for c, parts in lanes.items()
        }
        table = SharedTable(columns, all_valid(p.index, len(rows)), "t")
        result = execute(p, {"t": table}, plan, spec.release)
        return {a.name: (a.kind, a.first, a.second) for a in result.arrays}

    out = run3(program)
    combined = {
        name: combine(
            [NodeShares(i, out[i][name][0], out[i][name][1], out[i][name][2]) for i in range(3)]
        )
        for name in out[0]
    }
    result = decode(spec, combined)
    return {"header": result.header, "rows": result.rows, "side": result.side}, result.padded_rows


def _duck(sql: str, rows: list[tuple[int, int, int]]) -> list[list[str]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k BIGINT, g BIGINT, x BIGINT)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return [[str(v) for v in r] for r in con.execute(sql).fetchall()]


def test_mechanisms_follow_the_plan() -> None:
    assert mechanisms(_spec("SELECT k FROM t").plan) == (Shuffle(), Pad())
    assert mechanisms(_spec("SELECT k FROM t", k=3, allow=True).plan) == (
        Suppress(3),
        Shuffle(),
        RevealSize(),
    )


@pytest.mark.parametrize("n", [0, 1, 9, 40])
def test_an_order_by_under_a_projection_keeps_its_order(n: int) -> None:
    # The result's root is a projection over the ORDER BY: it must not be shuffled.
    sql = "SELECT x FROM t ORDER BY k DESC"
    got, padded = _run(_spec(sql), _rows(n, seed=n))
    assert got["rows"] == _duck(sql, _rows(n, seed=n))
    assert padded == n


@pytest.mark.parametrize("n", [0, 1, 31])
def test_suppressed_groups_arrive_by_name(n: int) -> None:
    sql = "SELECT g, COUNT(*) AS c FROM t GROUP BY g"
    rows = _rows(n, seed=3)
    got, _ = _run(_spec(sql, k=4), rows)
    want = _duck(sql + " HAVING COUNT(*) >= 4", rows)
    every = _duck(sql, rows)
    assert sorted(got["rows"]) == sorted(want)
    assert got["side"] == {SUPPRESSED_GROUPS: len(every) - len(want)}


@pytest.mark.parametrize("n", [0, 1, 25])
def test_reveal_result_size_sends_only_the_valid_rows(n: int) -> None:
    rows = _rows(n, seed=7)
    for sql, ordered in (
        ("SELECT k, x FROM t WHERE x > 10", False),
        ("SELECT k FROM t WHERE x > 0 ORDER BY x, k LIMIT 7", True),
    ):
        want = _duck(sql, rows)
        got, padded = _run(_spec(sql, allow=True), rows)
        assert padded == len(want)  # not padded: the length is the result size
        assert (got["rows"] if ordered else sorted(got["rows"])) == (
            want if ordered else sorted(want)
        )
        padded_got, padded_len = _run(_spec(sql), rows)
        assert sorted(padded_got["rows"]) == sorted(want)
        assert padded_len >= len(want)


def test_a_result_missing_a_named_side_output_is_refused() -> None:
    spec = _spec("SELECT g, COUNT(*) AS c FROM t GROUP BY g", k=4)
    one = np.ones(1, np.uint64)
    arrays = {"lane.0": one, "lane.1": one, "valid": one}
    with pytest.raises(ResultError, match="side outputs"):
        decode(spec, arrays)
    assert decode(spec, {**arrays, "side.suppressed_groups": 2 * one}).suppressed_groups == 2
