"""The main operations and the demo over real mutual-TLS sockets between three processes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tyst.jobs.bench import OPERATIONS, run_bench
from tyst.jobs.demo import reference, run_demo, write_demo

pytestmark = pytest.mark.tls


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("n", [0, 1, 2_001])
def test_operation_over_tls_matches_numpy(op: str, n: int) -> None:
    outcome = run_bench(op, n, seed=n + 3, timeout=120)
    assert outcome.correct
    assert len(outcome.nodes) == 3
    if n:
        assert all(m.bytes_sent > 0 for m in outcome.nodes) or op == "sort"


def test_bench_command_prints_the_contract_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tyst.cli", "bench", "lt", "--n", "5000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"lt n=5000 seconds=\d+\.\d+ elements_per_second=\d+ correct=true", last), (
        last
    )


def test_bench_rejects_unknown_operation() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tyst.cli", "bench", "div", "--n", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "unknown operation 'div'" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_plan_matches_duckdb(tmp_path: Path) -> None:
    files = write_demo(tmp_path, persons=800, seed=5)
    report = run_demo(files, tmp_path / "result.csv", timeout=300)
    expected = reference(files)
    assert report.rows == expected
    assert sorted(r[0] for r in report.rows) == ["Lund", "Malmö"]
    assert all(int(r[1]) > 0 for r in report.rows)
    assert len(report.nodes) == 3
    with (tmp_path / "result.csv").open(encoding="utf-8") as f:
        assert next(iter(f)).strip() == "kommun,personmanader,bistand_kr"


def test_demo_plan_declares_the_bound_the_generator_keeps() -> None:
    from tyst.jobs.demo import MAX_PERIODS, PLAN
    from tyst.plan import parse_plan

    assert parse_plan(PLAN).tables["sjukpenning"].max_rows_per_key == MAX_PERIODS
