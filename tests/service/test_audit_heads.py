"""Finding 7 of issue 11: a truncated tail is detected — by countersigned heads that
the parties keep themselves, and by per-job completeness (every node's receipt)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tyst.cli import app
from tyst.service.audit import (
    CONTEXT_AUDIT,
    AuditEvent,
    AuditFormatError,
    AuditLog,
    Head,
    incomplete_jobs,
    read_signed_head,
    sign_head,
    verify_chain,
    verify_signed_head,
    write_signed_head,
)
from tyst.service.keys import Registry, generate
from tyst.service.roles import plan_submitted_details
from tyst.service.signing import SignatureInvalid, sign

FK = generate("fk")
MALMO = generate("malmo")
NODES = [generate(n) for n in ("nod-a", "nod-b", "nod-c")]
REGISTRY = Registry([FK.public(), MALMO.public()] + [n.public() for n in NODES])
PLAN = "plan:" + "ab" * 32
JOB = "job-" + "cd" * 16
runner = CliRunner()


def _log() -> AuditLog:
    """One complete job: plan events, uploads, runs, deliveries, receipt, six deletions."""
    log = AuditLog()
    details = plan_submitted_details("ab" * 32, {"fk", "malmo"}, {"fk"})
    log.append(FK, "plan_submitted", PLAN, details)
    log.append(FK, "plan_approved", PLAN, {"plan_digest": "ab" * 32})
    log.append(MALMO, "plan_approved", PLAN, {"plan_digest": "ab" * 32})
    log.append(FK, "job_created", JOB, {"plan_digest": "ab" * 32})
    for node in NODES:
        log.append(node, "upload_received", JOB, {"table": "t", "owner": "fk"})
    for node in NODES:
        log.append(node, "run_started", JOB, {})
    for node in NODES:
        log.append(node, "run_finished", JOB, {"result_rows": 8})
        log.append(node, "result_delivered", JOB, {"recipient": "fk"})
    log.append(FK, "result_received", JOB, {"padded_rows": 8})
    for node in NODES:
        log.append(node, "shares_deleted", JOB, {"files": 2})
    return log


def _write(tmp_path: Path, events: list[AuditEvent] | tuple[AuditEvent, ...]) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(e.to_json_line() + "\n" for e in events), encoding="utf-8")
    return path


def _verify(tmp_path: Path, log: Path, *extra: str) -> tuple[int, str]:
    REGISTRY.save(tmp_path / "registry.json")
    args = ["audit", "verify", str(log), "--registry", str(tmp_path / "registry.json"), *extra]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_signed_heads_round_trip_and_refuse_forgeries(tmp_path: Path) -> None:
    signed = sign_head(NODES[0], Head(3, "ef" * 32))
    path = write_signed_head(tmp_path / "head.json", signed)
    assert path.stat().st_mode & 0o077 == 0
    again = read_signed_head(path)
    assert again == signed
    assert verify_signed_head(REGISTRY, again) == Head(3, "ef" * 32)
    for forged in (
        dataclasses.replace(signed, n_events=2),
        dataclasses.replace(signed, org="nod-b"),
        # an audit-event signature over the same bytes is not a head signature
        dataclasses.replace(signed, signature=sign(NODES[0], signed.statement(), CONTEXT_AUDIT)),
    ):
        with pytest.raises(SignatureInvalid):
            verify_signed_head(REGISTRY, forged)
    with pytest.raises(SignatureInvalid, match="not in the registry"):
        verify_signed_head(REGISTRY, sign_head(generate("stranger"), Head(1, "ef" * 32)))
    bad = json.loads(path.read_text())
    bad["n_events"] = -1
    path.write_text(json.dumps(bad))
    with pytest.raises(AuditFormatError, match="n_events"):
        read_signed_head(path)


def test_a_cut_tail_is_detected_with_a_countersigned_head(tmp_path: Path) -> None:
    events = _log().events
    head = tmp_path / "head.json"
    write_signed_head(head, sign_head(FK, Head(len(events), events[-1].hash)))
    code, out = _verify(tmp_path, _write(tmp_path, events), "--head", str(head))
    assert code == 0, out
    assert "1 countersigned heads contained" in out
    # Drop only the last event: the chain verifies, the head does not.
    cut = events[:-1]
    assert verify_chain(cut, REGISTRY).ok
    code, out = _verify(tmp_path, _write(tmp_path, cut), "--head", str(head), "--allow-incomplete")
    assert code == 1
    assert "events removed from the end" in out
    assert "signed by fk" in out
    # A rewritten log of the same length does not contain the head either.
    rewritten = AuditLog(events[:-1])
    rewritten.append(NODES[2], "shares_deleted", JOB, {"files": 3})
    code, out = _verify(tmp_path, _write(tmp_path, rewritten.events), "--head", str(head))
    assert code == 1
    assert "hash differs from the trusted head" in out


def test_a_job_missing_deletion_receipts_is_reported(tmp_path: Path) -> None:
    events = _log().events
    assert incomplete_jobs(events) == []
    without_receipts = events[:-3]  # all the nodes' shares_deleted cut off
    assert verify_chain(without_receipts, REGISTRY).ok  # what `verify` said before
    assert incomplete_jobs(without_receipts) == [
        f"job {JOB}: no deletion receipt (shares_deleted) from nod-a, nod-b, nod-c"
    ]
    code, out = _verify(tmp_path, _write(tmp_path, without_receipts))
    assert code == 1
    assert "no deletion receipt" in out
    # Everything after the fifth event (the first upload): still reported.
    code, out = _verify(tmp_path, _write(tmp_path, events[:5]))
    assert code == 1
    assert "from nod-a" in out
    # A job still in progress is accepted only when asked to.
    code, out = _verify(tmp_path, _write(tmp_path, events[:5]), "--allow-incomplete")
    assert code == 0, out
    assert "1 jobs in progress" in out


def test_a_node_that_never_ran_owes_no_receipt_unless_the_job_ran() -> None:
    log = AuditLog()
    log.append(NODES[0], "upload_received", JOB, {"table": "t"})
    log.append(NODES[0], "shares_deleted", JOB, {"files": 1})
    other = "job-" + "ef" * 16
    log.append(NODES[1], "upload_received", other, {"table": "t"})
    log.append(NODES[1], "run_started", other, {})
    log.append(NODES[1], "shares_deleted", other, {"files": 1})
    assert incomplete_jobs(log.events, nodes=[n.org_id for n in NODES]) == [
        f"job {other}: no deletion receipt (shares_deleted) from nod-a, nod-c"
    ]


def test_signed_head_files_are_checked(tmp_path: Path) -> None:
    events = _log().events
    head = tmp_path / "head.json"
    signed = sign_head(FK, Head(len(events), events[-1].hash))
    write_signed_head(head, dataclasses.replace(signed, n_events=1))
    code, out = _verify(tmp_path, _write(tmp_path, events), "--head", str(head))
    assert code == 1
    assert "head.json" in out
    head.write_text("{}")
    code, out = _verify(tmp_path, _write(tmp_path, events), "--head", str(head))
    assert code == 1
    assert "not a signed head" in out
