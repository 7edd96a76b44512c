"""``tyst check`` on a ``[privacy]`` plan: what it declares and the budget left at a node."""

from __future__ import annotations

import datetime as _dt
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.node.test_ledger import dp_plan
from tyst.cli import app
from tyst.jobs.budget_report import privacy_lines
from tyst.jobs.check import check_plan
from tyst.node.ledger import LEDGER_FILE, BudgetLedger, Charge
from tyst.plan import parse_plan

NOW = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
PLAN = parse_plan(
    dp_plan().replace(
        "max_rows_per_unit = 1\n", "max_rows_per_unit = 2\nbounds = { belopp = [0, 500] }\n"
    )
)


def spend(ledger: BudgetLedger, job: str, amount: Fraction) -> None:
    charge = Charge("malmo", "bistand", "pnr", "epsilon", amount, None)
    ledger.commit(job, "p", [charge], _dt.datetime.now(_dt.UTC))


def test_the_section_shows_unit_mechanism_spend_bounds_and_budgets() -> None:
    lines, fits = privacy_lines(PLAN, ["sjukpenning", "bistand"])
    assert fits
    assert lines == [
        "  mechanism: laplace (pure ε-differential privacy, discrete Laplace noise)",
        "  privacy unit: pnr; at most 2 row(s) per pnr kept per table",
        "  each run spends ε = 1/2 on every table it reads",
        "  belopp clamped to [0, 500] before it is summed",
        "  table sjukpenning (owner fk): no budget declared in this plan (unlimited unless an "
        "earlier plan declared one)",
        "  table bistand (owner malmo): budget ε = 1/2 in total declared",
    ]
    assert privacy_lines(
        parse_plan(
            dp_plan()
            .split("\n[privacy]")[0]
            .replace('budget = { epsilon = "1/2", period = "total" }\n', "")
        ),
        ["bistand"],
    ) == ([], True)


def test_the_budget_left_at_a_node(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    lines, fits = privacy_lines(PLAN, ["bistand"], ledger, NOW)
    assert fits
    assert lines[-1] == (
        "    at this node: budget 1/2 in total, spent 0 (of it reserved 0), left 1/2; "
        "0 left after this run"
    )
    assert not (tmp_path / LEDGER_FILE).exists()  # read only: nothing made, nothing reserved
    spend(ledger, "job-a", Fraction(1, 4))
    lines, fits = privacy_lines(PLAN, ["bistand"], ledger, NOW)
    assert not fits
    assert lines[-1].endswith("spent 1/4 (of it reserved 0), left 1/4; this run does not fit")
    assert ledger.balance("malmo", "bistand", "pnr", NOW).spent == Fraction(1, 4)


@pytest.fixture
def no_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the release stage's bounding (it refuses this two-table plan)."""
    monkeypatch.setattr("tyst.planner.jobspec.release_plan", lambda plan, root: root)


def test_check_plan_and_the_cli_show_the_section(tmp_path: Path, no_refusal: None) -> None:
    unique = parse_plan(dp_plan())
    report = check_plan(unique)
    assert "Differential privacy ([privacy]):" in report.text
    assert "  each run spends ε = 1/2 on every table it reads" in report.text
    store = tmp_path / "store"
    store.mkdir()
    spend(BudgetLedger(store / LEDGER_FILE), "job-a", Fraction(1, 2))
    report = check_plan(unique, ledger=BudgetLedger(store / LEDGER_FILE))
    assert not report.ok
    assert "this run does not fit" in report.text
    (tmp_path / "plan.toml").write_text(dp_plan(), encoding="utf-8")
    done = CliRunner().invoke(
        app, ["check", str(tmp_path / "plan.toml"), "--node-store", str(store)]
    )
    assert done.exit_code == 1
    assert "left 0; this run does not fit" in done.output
    missing = CliRunner().invoke(
        app, ["check", str(tmp_path / "plan.toml"), "--node-store", str(tmp_path / "nope")]
    )
    assert missing.exit_code != 0
    assert "no such directory" in missing.output
