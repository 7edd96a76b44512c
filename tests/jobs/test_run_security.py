"""Findings 1 and 16 of issue 11, on one real ``tyst run --workdir`` (a coordinator
and three node processes on loopback TLS).

1. The true number of result rows never reaches an event: for a plan whose result
   has fewer valid rows than the padded length, the recipient's ``result_received``
   carries only the padded length, every node's ``run_finished`` reports the padded
   length, and no event in the exported audit log carries the true count.
16. The workdir and every directory under it are 0700; the coordinator's database,
    the logs and ``audit.jsonl`` are 0600.
"""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path

import pytest

from tests.examples import ISSUE_PLAN
from tests.jobs.test_run_cli import BISTAND, SJUKPENNING
from tyst.jobs.run import RunReport, run_plan
from tyst.plan import parse_plan


def _write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    tmp = tmp_path_factory.mktemp("run")
    data = {
        "sjukpenning": _write(tmp / "sjukpenning.csv", SJUKPENNING),
        "bistand": _write(tmp / "bistand.csv", BISTAND),
    }
    work = tmp / "state" / "work"  # two levels created by tyst run
    report = run_plan(parse_plan(ISSUE_PLAN, "plan.toml"), data, tmp / "r.csv", workdir=work)
    return work, report


def test_audit_log_carries_only_the_padded_result_size(run: tuple[Path, RunReport]) -> None:
    _, report = run
    true_rows = len(report.rows)
    assert 0 < true_rows < report.padded_rows  # the case where the two differ
    events = [json.loads(line) for line in report.audit.path.read_text().splitlines()]
    received = [e for e in events if e["kind"] == "result_received"]
    # the padded length and the event's own id (for redelivery), nothing else
    assert [e["details"]["padded_rows"] for e in received] == [report.padded_rows]
    assert [sorted(e["details"]) for e in received] == [["event_id", "padded_rows"]]
    finished = [e["details"] for e in events if e["kind"] == "run_finished"]
    assert len(finished) == 3
    assert all(d["result_rows"] == report.padded_rows for d in finished)  # nodes see padding
    for e in events:
        if e["kind"] == "upload_received":
            continue  # input sizes are public by design
        for key, value in e["details"].items():
            assert not ("rows" in key and value == true_rows), (e["kind"], key, value)


PUBLIC = {".pem", ".toml"}  # certificates and configurations (no secrets)
PUBLIC_NAMES = {"registry.json", "public.json"}


def test_state_is_private_to_its_owner(run: tuple[Path, RunReport]) -> None:
    work, _ = run
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert stat.S_IMODE(work.parent.stat().st_mode) == 0o700
    private = [
        work / "audit.jsonl",
        work / "coordinator" / "coordinator.db",
        work / "coordinator" / "coordinator.log",
        *(work / "nodes" / f"node-{i}" / "node.log" for i in range(3)),
    ]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in work.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        public = path.is_file() and (path.suffix in PUBLIC or path.name in PUBLIC_NAMES)
        if not public:
            assert mode & 0o077 == 0, (path, oct(mode))


def test_the_recipient_countersigns_the_head_it_verified(run: tuple[Path, RunReport]) -> None:
    """Finding 7 of issue 11: the run leaves a countersigned head outside the log."""
    import subprocess
    import sys

    from tyst.service.audit import read_signed_head

    work, report = run
    signed = read_signed_head(work / "audit-head.fk.json")
    assert signed.org == "fk"
    assert signed.n_events == report.audit.n_events
    verify = subprocess.run(
        [
            sys.executable, "-m", "tyst", "audit", "verify", str(work / "audit.jsonl"),
            "--registry", str(work / "registry.json"), "--head", str(work / "audit-head.fk.json"),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "1 countersigned heads contained" in verify.stdout
    assert "every finished job has its deletion receipts" in verify.stdout


def test_the_public_register_of_a_real_run_shows_it_and_none_of_its_data(
    run: tuple[Path, RunReport], tmp_path: Path
) -> None:
    """Issue 15: ``tyst register export`` from the run's coordinator database lists the
    analysis (delivered, every node's deletion receipt) and no value of its inputs or
    result, no job id and no node id."""
    from typer.testing import CliRunner

    from tyst.cli import app
    from tyst.coordinator.config import load_config

    work, report = run
    config = work / "coordinator" / "coordinator.toml"
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["register", "export", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "register.json").read_text(encoding="utf-8"))
    [entry] = doc["entries"]
    assert entry["title"] == "Samtidig sjukpenning och ekonomiskt bistånd"
    assert entry["state"] == "delivered"
    assert entry["deletion_confirmed"] is True
    assert entry["output_protection"]["min_group_size"] == 5
    values = {v for row in SJUKPENNING[1:] + BISTAND[1:] for v in (row[0], row[-1])}
    values |= {str(cell) for row in report.rows for cell in row}
    # Short amounts ("1", "100") are also the register's own numbers (run 1, 30 days).
    values = {v for v in values if len(v) >= 4}
    assert {"197001010001", "Ström Åsa-ID", "1200.50", "5400"} <= values
    events = [json.loads(line) for line in report.audit.path.read_text().splitlines()]
    jobs = {e["job"] for e in events if e["job"].startswith("job-")}
    assert len(jobs) == 1
    secret = values | jobs | set(load_config(config).nodes)
    for name in ("index.html", "en.html", "register.json", "register.atom"):
        text = (out / name).read_text(encoding="utf-8")
        # A value counts where it stands alone: "5400" inside a hex digest or "0.01" inside
        # a timestamp's "10.0123Z" is not that value.
        alone = r"(?<![0-9A-Za-z.:-]){}(?![0-9A-Za-z])"
        leaked = sorted(v for v in secret if re.search(alone.format(re.escape(v)), text))
        assert not leaked, (name, leaked)
