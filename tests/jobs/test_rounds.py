"""Rounds per plan step measured in-process (tyst.jobs.rounds, ``tyst check --rows``) agree
with the operator registry's documented rounds where those are exact."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import pytest
from benchmarks.relational import PLAN

from tyst.jobs.check import check_plan
from tyst.jobs.rounds import StepRounds, measure_steps
from tyst.mpc.party import Party
from tyst.mpc.protocols import sort as sort_protocol
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec
from tyst.planner.passes import physical_plan


def _steps(sql: str, n: int) -> list[StepRounds]:
    plan = parse_plan(PLAN.format(sql=sql), "rounds.toml")
    spec = job_spec(plan)
    physical = physical_plan(spec.compiled.plan, spec.facts({"a": [("k",)]}))
    return measure_steps(physical, spec.schemas, {"a": n, "b": n})


def _rounds(sql: str, n: int) -> dict[str, int]:
    return {s.operator: s.rounds for s in _steps(sql, n)}


@pytest.mark.parametrize("n", [0, 1, 37])
def test_exact_operator_rounds(n: int) -> None:
    # filter: the predicate's rounds (an ordering comparison: 8) + 1
    assert _rounds("SELECT k, y FROM b WHERE y > 500000", n) == {
        "scan": 0,
        "filter": 9,
        "project": 0,
    }
    # global aggregate: 2 for COUNT, 12 with SUM
    assert _rounds("SELECT COUNT(*) AS c FROM b", n)["aggregate"] == 2
    assert _rounds("SELECT COUNT(*) AS c, SUM(y) AS s FROM b", n)["aggregate"] == 12
    # union all and a multiplication by a public constant: local
    assert set(_rounds("SELECT k FROM b UNION ALL SELECT k FROM a", n).values()) == {0}
    assert set(_rounds("SELECT y * 3 AS z FROM b", n).values()) == {0}
    # a scalar subquery's one row copied to every row: local
    assert _rounds("SELECT k, y - (SELECT MIN(x) FROM a) AS d FROM b", n)["broadcast"] == 0


def test_sorting_operators_grow_with_n_and_bytes_are_counted() -> None:
    small = _steps("SELECT g, y FROM b ORDER BY y DESC, g LIMIT 10", 10)
    large = _steps("SELECT g, y FROM b ORDER BY y DESC, g LIMIT 10", 400)
    order_small, order_large = small[-1], large[-1]
    assert order_small.operator == order_large.operator == "order by … limit"
    assert 13 + 8 < order_small.rounds < order_large.rounds
    assert order_large.bytes_sent > order_small.bytes_sent > 0


def test_check_shows_rounds_per_step_at_the_given_sizes() -> None:
    plan = parse_plan(PLAN.format(sql="SELECT k, y FROM b WHERE y > 500000"), "rounds.toml")
    text = check_plan(plan, rows={"b": 7}).text
    assert "measured in-process at b = 7 rows" in text
    assert "step 2 (filter): 9 rounds" in text
    join = parse_plan(PLAN.format(sql="SELECT a.k FROM a JOIN b ON a.k = b.k"), "rounds.toml")
    missing = check_plan(join, rows={"b": 7}).text
    assert "not measured: no row count for table(s) a" in missing


def _rounds_beside_sorts(sql: str, n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(all rounds of the plan, the rounds spent inside oblivious sorts), at party 0."""
    in_sorts = [0]
    original = sort_protocol.sort

    def counting(party: Party, *args: Any, **kwargs: Any) -> Any:
        before = party.transport.stats.rounds
        out = original(party, *args, **kwargs)
        if party.index == 0:
            in_sorts[0] += party.transport.stats.rounds - before
        return out

    for module in list(sys.modules.values()):
        if module.__name__.startswith("tyst.") and getattr(module, "sort", None) is original:
            monkeypatch.setattr(module, "sort", counting)
    total = sum(s.rounds for s in _steps(sql, n))
    return total, in_sorts[0]


def _log2(m: int) -> float:
    return math.log2(m)


@pytest.mark.parametrize("n", [16, 1000])
@pytest.mark.parametrize(
    ("sql", "beside"),
    [
        # join (2n rows): ≈ 2·log2(2n) + 25; the global COUNT, SUM after it: 12
        (
            "SELECT COUNT(*) AS c, SUM(b.y) AS s FROM a JOIN b ON a.k = b.k",
            lambda n: 2 * _log2(2 * n) + 25 + 12,
        ),
        # semi-join (2n rows): ≈ 2·log2(2n) + 16; the global COUNT after it: 3 (measured)
        (
            "SELECT COUNT(*) AS c FROM b WHERE k IN (SELECT k FROM a)",
            lambda n: 2 * _log2(2 * n) + 16 + 3,
        ),
        # GROUP BY with COUNT, SUM, and DISTINCT: ≈ 2·log2 n + 11
        ("SELECT g, COUNT(*) AS c, SUM(y) AS s FROM b GROUP BY g", lambda n: 2 * _log2(n) + 11),
        ("SELECT DISTINCT g FROM b", lambda n: 2 * _log2(n) + 11),
        # ORDER BY … LIMIT: ≈ 3 (+ ≈ 17 per id/text key)
        ("SELECT g, y FROM b ORDER BY y DESC LIMIT 10", lambda n: 3),
        ("SELECT k, y FROM b ORDER BY k LIMIT 10", lambda n: 3 + 17),
    ],
)
def test_rounds_beside_the_sorts_match_the_registry(
    sql: str, beside: Callable[[int], float], n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's rounds are sort(…) + a formula; the formula is the measured rest ± 5."""
    total, in_sorts = _rounds_beside_sorts(sql, n, monkeypatch)
    assert abs((total - in_sorts) - beside(n)) <= 5, (total, in_sorts, beside(n))
