"""Finding 1 of issue 11: the true number of result rows never reaches an event.

A real run (coordinator and three node processes on loopback TLS) of a plan
whose result has fewer valid rows than the padded length: the recipient's
``result_received`` carries only the padded length, every node's
``run_finished`` reports the padded length, and no event anywhere in the
exported audit log carries the true count under a row-count key.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.examples import ISSUE_PLAN
from tests.jobs.test_run_cli import BISTAND, SJUKPENNING
from tyst.jobs.run import run_plan
from tyst.plan import parse_plan


def _write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def test_audit_log_carries_only_the_padded_result_size(tmp_path: Path) -> None:
    data = {
        "sjukpenning": _write(tmp_path / "sjukpenning.csv", SJUKPENNING),
        "bistand": _write(tmp_path / "bistand.csv", BISTAND),
    }
    work = tmp_path / "work"
    report = run_plan(parse_plan(ISSUE_PLAN, "plan.toml"), data, tmp_path / "r.csv", workdir=work)
    true_rows = len(report.rows)
    assert 0 < true_rows < report.padded_rows  # the case where the two differ
    events = [json.loads(line) for line in report.audit.path.read_text().splitlines()]
    received = [e for e in events if e["kind"] == "result_received"]
    assert [e["details"] for e in received] == [{"padded_rows": report.padded_rows}]
    finished = [e["details"] for e in events if e["kind"] == "run_finished"]
    assert len(finished) == 3
    assert all(d["result_rows"] == report.padded_rows for d in finished)  # nodes see padding
    for e in events:
        if e["kind"] == "upload_received":
            continue  # input sizes are public by design
        for key, value in e["details"].items():
            assert not ("rows" in key and value == true_rows), (e["kind"], key, value)
