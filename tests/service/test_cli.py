"""``tyst keys generate`` and ``tyst audit verify`` as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tyst.cli import app
from tyst.service.audit import AuditLog
from tyst.service.keys import Registry, load

runner = CliRunner()


def _generate(tmp_path: Path, org: str) -> None:
    secret = tmp_path / f"{org}.pass"
    secret.write_text("correct horse battery staple 7f3a", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "keys", "generate", org, "--dir", str(tmp_path / org),
            "--passphrase-file", str(secret), "--registry", str(tmp_path / "registry.json"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "encrypted" in result.output


def test_generated_keys_load_and_join_the_registry(tmp_path: Path) -> None:
    _generate(tmp_path, "fk")
    _generate(tmp_path, "malmo")
    registry = Registry.load(tmp_path / "registry.json")
    assert registry.org_ids() == ["fk", "malmo"]
    keys = load(tmp_path / "fk", b"correct horse battery staple 7f3a")
    assert keys.public() == registry.get("fk")


def test_audit_verify_accepts_the_chain_and_rejects_a_modified_event(tmp_path: Path) -> None:
    _generate(tmp_path, "fk")
    _generate(tmp_path, "malmo")
    fk = load(tmp_path / "fk", b"correct horse battery staple 7f3a")
    malmo = load(tmp_path / "malmo", b"correct horse battery staple 7f3a")
    log = AuditLog()
    log.append(fk, "plan_submitted", "job-1", {"plan_digest": "ab" * 32})
    log.append(fk, "plan_approved", "job-1", {"plan_digest": "ab" * 32})
    log.append(malmo, "plan_approved", "job-1", {"plan_digest": "ab" * 32})
    path = tmp_path / "audit.jsonl"
    log.export_jsonl(path)
    args = ["audit", "verify", str(path), "--registry", str(tmp_path / "registry.json")]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "3 events" in ok.output

    lines = path.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    event["actor"] = "malmo"
    lines[1] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1
    assert "seq 2" in bad.output
