"""The main operations and the demo over real mutual-TLS sockets between three processes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tyst.jobs.bench import OPERATIONS, run_bench
from tyst.jobs.demo import reference, run_demo, synthetic_data

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


def test_demo_matches_reference() -> None:
    data = synthetic_data(persons=800, seed=5)
    result, nodes = run_demo(data, timeout=300)
    assert result == reference(data)
    assert result.person_months > 0
    assert len(nodes) == 3
