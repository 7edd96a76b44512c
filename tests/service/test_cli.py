"""``tyst keys generate`` and ``tyst audit verify`` as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tyst.cli import app
from tyst.service.audit import AuditLog
from tyst.service.keys import Registry, load
from tyst.service.roles import plan_submitted_details

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
    plan = "plan:" + "ab" * 32
    details = plan_submitted_details("ab" * 32, {"fk", "malmo"}, {"fk"})
    log.append(fk, "plan_submitted", plan, details)
    log.append(fk, "plan_approved", plan, {"plan_digest": "ab" * 32})
    log.append(malmo, "plan_approved", plan, {"plan_digest": "ab" * 32})
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


def test_deployment_ca_and_certificates(tmp_path: Path) -> None:
    from cryptography import x509

    from tyst.net.certs import NodeCredentials, certificate_party

    ca = tmp_path / "ca"
    assert runner.invoke(app, ["keys", "ca", "--dir", str(ca)]).exit_code == 0
    again = runner.invoke(app, ["keys", "ca", "--dir", str(ca)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output
    node = runner.invoke(
        app,
        ["keys", "node-cert", "2", "--ca", str(ca), "--out", str(tmp_path / "n2"),
         "--host", "nodec.example", "--host", "10.0.0.3"],
    )  # fmt: skip
    assert node.exit_code == 0, node.output
    creds = NodeCredentials.load(tmp_path / "n2", 2)
    cert = x509.load_pem_x509_certificate(creds.cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "nodec.example" in names.get_values_for_type(x509.DNSName)
    server = runner.invoke(
        app,
        ["keys", "server-cert", "--ca", str(ca), "--out", str(tmp_path / "co"),
         "--host", "coordinator.example"],
    )  # fmt: skip
    assert server.exit_code == 0, server.output
    server_cert = x509.load_pem_x509_certificate((tmp_path / "co" / "server.pem").read_bytes())
    assert certificate_party(server_cert) is None  # can never pose as a node in the mesh
    bad = runner.invoke(
        app, ["keys", "node-cert", "3", "--ca", str(ca), "--out", str(tmp_path / "x"),
              "--host", "a"],
    )  # fmt: skip
    assert bad.exit_code == 2
