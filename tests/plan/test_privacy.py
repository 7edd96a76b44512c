"""The ``[privacy]`` section and per-table budgets: parsing, one-line refusals, digest."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.examples import ISSUE_PLAN
from tyst.cli import app
from tyst.plan import PlanError, parse_plan
from tyst.plan.privacy import Budget, Privacy
from tyst.planner.jobspec import compile_plan, job_spec
from tyst.sql.errors import SqlError

PRIVACY = """
[privacy]
unit = "pnr"
mechanism = "laplace"
epsilon = "1/2"
max_rows_per_unit = 1
bounds = { belopp = [0, 10000] }
keys = { kommun = [1, 2, 3] }
"""

BUDGET = '[tables.bistand]\nowner = "malmo"\nbudget = { epsilon = "2", period = "year" }'
DP_PLAN = ISSUE_PLAN.replace('[tables.bistand]\nowner = "malmo"', BUDGET) + PRIVACY

EXAMPLE_DIGEST = "7c1e514b456886f0f3eb0e89e8f1903b3a48a541791277a20ed0a9b54b599279"
"""The issue-3 example's digest before [privacy] existed: plans without it keep their digest."""


def error(text: str) -> str:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def edit(old: str, new: str, text: str = DP_PLAN) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_privacy_and_budget_parse() -> None:
    plan = parse_plan(DP_PLAN)
    assert plan.privacy == Privacy(
        unit="pnr",
        mechanism="laplace",
        epsilon=Fraction(1, 2),
        rho=None,
        max_rows_per_unit=1,
        bounds={"belopp": (Decimal(0), Decimal(10000))},
        keys={"kommun": (1, 2, 3)},
    )
    assert plan.privacy.spend == Fraction(1, 2)
    assert plan.privacy.measure == "epsilon"
    assert plan.tables["bistand"].budget == Budget(Fraction(2), None, "year")
    assert plan.tables["sjukpenning"].budget is None


def test_gaussian_takes_rho() -> None:
    text = edit('epsilon = "1/2"', 'rho = "0.125"')
    text = edit('mechanism = "laplace"', 'mechanism = "gaussian"', text)
    text = edit('budget = { epsilon = "2"', 'budget = { rho = "1/4"', text)
    plan = parse_plan(text)
    assert plan.privacy is not None
    assert (plan.privacy.epsilon, plan.privacy.rho) == (None, Fraction(1, 8))
    assert plan.tables["bistand"].budget == Budget(None, Fraction(1, 4), "year")


@pytest.mark.parametrize(
    ("text", "value"),
    [("2", Fraction(2)), ("0.25", Fraction(1, 4)), ("3/6", Fraction(1, 2)), (" 1/3 ", None)],
)
def test_rationals_are_exact(text: str, value: Fraction | None) -> None:
    plan = parse_plan(edit('epsilon = "1/2"', f'epsilon = "{text}"'))
    assert plan.privacy is not None
    assert plan.privacy.epsilon == (value if value is not None else Fraction(1, 3))
    integer = parse_plan(edit('epsilon = "1/2"', "epsilon = 3")).privacy
    assert integer is not None
    assert integer.epsilon == 3


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'epsilon = "1/2"',
            "epsilon = 0.5",
            r'\[privacy\] epsilon: write 0.5 as a string \("0.5"\)',
        ),
        ('epsilon = "1/2"', 'epsilon = "0"', r"\[privacy\] epsilon: must be positive, got 0"),
        ('epsilon = "1/2"', 'epsilon = "-1"', r'\[privacy\] epsilon: "-1" is not a positive'),
        ('epsilon = "1/2"', 'epsilon = "1/0"', r'\[privacy\] epsilon: "1/0" is not a positive'),
        ('epsilon = "1/2"', 'epsilon = "1e-3"', r'\[privacy\] epsilon: "1e-3" is not a positive'),
        ('epsilon = "1/2"', "epsilon = true", r"\[privacy\] epsilon: must be a rational"),
        ('epsilon = "1/2"', 'epsilon = "1/4611686018427387904"', r"too large or too fine"),
        ('epsilon = "1/2"', 'rho = "1/2"', r"\[privacy\] rho: laplace spends epsilon, not rho"),
        ('epsilon = "1/2"', "", r"\[privacy\] epsilon: missing \(laplace spends epsilon\)"),
        ('mechanism = "laplace"', 'mechanism = "gaussian"', r"\[privacy\] epsilon: gaussian spe"),
        ('mechanism = "laplace"', 'mechanism = "exp"', r'mechanism: must be "laplace" or "gaus'),
        (
            'unit = "pnr"',
            'unit = "belopp"',
            r"\[privacy\] unit: sjukpenning.belopp is decimal\(2\)",
        ),
        (
            'unit = "pnr"',
            'unit = "manad"',
            r'\[privacy\] unit: "manad" is not a column of table sj',
        ),
        ('unit = "pnr"', 'unit = "pnr"\nunits = 2', r"\[privacy\] units: unknown key; expected"),
        ("max_rows_per_unit = 1", "max_rows_per_unit = 0", r"max_rows_per_unit: must be a pos"),
        ("max_rows_per_unit = 1", "", r"\[privacy\] max_rows_per_unit: missing"),
        ("belopp = [0, 10000]", "fom = [0, 1]", r"bounds.fom: clamp bounds apply to int and dec"),
        ("belopp = [0, 10000]", "x = [0, 1]", r'bounds.x: "x" is not a column of any table'),
        ("belopp = [0, 10000]", "belopp = [5, 1]", r"bounds.belopp: low 5 is above high 1"),
        ("belopp = [0, 10000]", 'belopp = [0, "0.001"]', r"has more decimals than decimal\(2\)"),
        ("belopp = [0, 10000]", "belopp = [0, 1.5]", r"bounds.belopp: write 1.5 as a string"),
        ("kommun = [1, 2, 3]", "kommun = [1, 1]", r"keys.kommun: lists a key twice"),
        ("kommun = [1, 2, 3]", 'kommun = [1, "a"]', r"keys.kommun: keys must be all integers"),
        ("kommun = [1, 2, 3]", "kommun = []", r"keys.kommun: must be a non-empty list"),
        ("kommun = [1, 2, 3]", "belopp = [1, 2]", r"keys.belopp: belopp is decimal\(2\); its k"),
        ('budget = { epsilon = "2"', 'budget = { rho = "2"', r"budget: is in rho but the laplace"),
        ('epsilon = "2", period', 'epsilon = "2", rho = "1", period', r"budget: declare exactly"),
        ('period = "year"', 'period = "month"', r'budget period: must be "year" or "total"'),
        ('epsilon = "2", period = "year"', 'epsilon = "2"', r"\] budget period: missing"),
        ("period = ", "per = ", r"budget per: unknown key; expected one of epsilon, rho, period"),
    ],
)
def test_refusals_are_one_line_naming_the_key(old: str, new: str, message: str) -> None:
    assert re.search(message, error(edit(old, new)))


def test_budget_needs_privacy() -> None:
    text = ISSUE_PLAN.replace('[tables.bistand]\nowner = "malmo"', BUDGET)
    assert "budget: a budget needs a [privacy] section" in error(text)


def test_canonical_form_only_when_declared() -> None:
    assert parse_plan(ISSUE_PLAN).digest() == EXAMPLE_DIGEST
    assert "privacy" not in parse_plan(ISSUE_PLAN).canonical()
    data = json.loads(parse_plan(DP_PLAN).to_canonical_json())
    assert data["privacy"] == {
        "unit": "pnr",
        "mechanism": "laplace",
        "epsilon": "1/2",
        "max_rows_per_unit": 1,
        "bounds": {"belopp": ["0", "10000"]},
        "keys": {"kommun": [1, 2, 3]},
    }
    assert data["tables"]["bistand"]["budget"] == {"epsilon": "2", "period": "year"}
    assert "budget" not in data["tables"]["sjukpenning"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('epsilon = "1/2"', 'epsilon = "1/3"'),
        ("max_rows_per_unit = 1", "max_rows_per_unit = 2"),
        ("belopp = [0, 10000]", "belopp = [0, 10001]"),
        ("kommun = [1, 2, 3]", "kommun = [1, 2]"),
        ('period = "year"', 'period = "total"'),
        ('budget = { epsilon = "2"', 'budget = { epsilon = "3"'),
    ],
)
def test_digest_covers_privacy(old: str, new: str) -> None:
    assert parse_plan(edit(old, new)).digest() != parse_plan(DP_PLAN).digest()
    # equal rationals written differently are one plan
    assert parse_plan(edit('epsilon = "1/2"', 'epsilon = "0.5"')) == parse_plan(DP_PLAN)


def test_compiler_refuses_a_privacy_join_it_cannot_release() -> None:
    plan = parse_plan(DP_PLAN)  # a join: the release stage bounds one table's aggregate only
    refusal = "a \\[privacy\\] query"
    with pytest.raises(SqlError, match=refusal):
        compile_plan(plan)
    with pytest.raises(SqlError, match=refusal):
        job_spec(plan)
    compile_plan(parse_plan(ISSUE_PLAN))  # a plan without [privacy] still compiles


@pytest.mark.parametrize("command", ["check", "run"])
def test_tyst_check_and_run_refuse_an_unreleasable_privacy_plan_with_one_line(
    command: str, tmp_path: Path
) -> None:
    (tmp_path / "plan.toml").write_text(DP_PLAN, encoding="utf-8")
    args = [command, str(tmp_path / "plan.toml")]
    if command == "run":
        args += ["--out", str(tmp_path / "out.csv")]
    done = CliRunner().invoke(app, args)
    assert done.exit_code != 0
    assert "[privacy]" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "out.csv").exists()
