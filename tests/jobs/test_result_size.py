"""Issue 13: what cannot be delivered is refused before any data moves.

``tyst check`` states the padded result's size per node and recipient from the tables'
public sizes (declared ``max_rows``, or the rows of the files given) and fails, with the
figure and what to change, when it passes the coordinator's ``max_result_bytes``; a
bound that rests on undeclared (default) row counts only warns. The size is exact: the
engine tests compare :func:`tyst.planner.sizes.padded_rows` with every padded result they
compute (``tests/engine/oracle.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tyst.jobs.check import check_plan, sealed_bytes
from tyst.jobs.demo import PLAN
from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan, job_spec
from tyst.planner.passes import physical_plan
from tyst.planner.sizes import padded_rows, result_bytes, result_lanes, result_words


def _declared(rows: int) -> str:
    """The demo plan with every table's max_rows declared."""
    text = PLAN
    for table in ("sjukpenning", "bistand_malmo", "bistand_lund"):
        text = text.replace(f"[tables.{table}]\n", f"[tables.{table}]\nmax_rows = {rows}\n")
    return text


def test_the_padded_size_follows_the_operators() -> None:
    plan = parse_plan(_declared(1000), "plan.toml")
    physical = physical_plan(compile_plan(plan).plan, job_spec(plan).facts({}))
    rows = {"sjukpenning": 10, "bistand_malmo": 20, "bistand_lund": 30}
    # GROUP BY over the join of sjukpenning (pk side, expanded twice: max_rows_per_key
    # = 2) with the union of the two bistånd tables (fk side, 20 + 30 rows)
    assert padded_rows(physical, rows) == 2 * (20 + 30)
    lanes = result_lanes(physical)
    assert result_words(physical, rows) == 2 * (100 * (lanes + 1) + 1)
    assert result_bytes(physical, rows) >= 8 * result_words(physical, rows)
    with pytest.raises(ValueError, match="size of table 'bistand_lund' is not known"):
        padded_rows(physical, {"sjukpenning": 1, "bistand_malmo": 1})


def test_check_refuses_a_declared_result_too_large_to_deliver() -> None:
    plan = parse_plan(_declared(10**6), "plan.toml")
    fine = check_plan(plan)
    assert fine.ok, fine.text
    assert "per compute node and recipient" in fine.text
    assert "the coordinator relays at most 8.0 GiB" in fine.text
    small = check_plan(plan, max_result_bytes=2**20)
    assert not small.ok
    (line,) = [ln for ln in small.text.splitlines() if "cannot be delivered" in ln]
    assert "max_rows" in line
    assert "max_result_bytes" in line
    assert "4,000,000 padded rows" in small.text  # 2 × (10^6 + 10^6), from the sizes


def test_check_only_warns_when_the_bound_rests_on_default_row_counts() -> None:
    plan = parse_plan(PLAN, "plan.toml")  # no max_rows: 10^8 rows assumed per table
    report = check_plan(plan, max_result_bytes=2**20)
    assert report.ok, report.text
    assert "warning: with the default max_rows assumed" in report.text
    assert "nodes refuse" in report.text


def test_tyst_check_takes_the_coordinators_limit(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(_declared(10**6), encoding="utf-8")
    args = [sys.executable, "-m", "tyst", "check", "plan.toml", "--max-result-bytes"]
    done = subprocess.run(
        [*args, "1048576"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot be delivered" in done.stdout


def test_sealing_adds_its_overhead_per_chunk() -> None:
    assert sealed_bytes(1) == 1 + 1150
    assert sealed_bytes(8 << 20) == (8 << 20) + 1150
    assert sealed_bytes((8 << 20) + 1) == (8 << 20) + 1 + 2 * 1150
