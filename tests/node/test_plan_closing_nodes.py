"""A plan rejected while the nodes hold shares of its job, with real processes.

An owner's ``tyst plan reject`` fails the job at the coordinator; the three nodes see it
within a sweep, delete what they hold with reason ``cancelled`` and sign their receipts
(and countersign the log's head). ``tyst audit export`` with the nodes' heads, then
``tyst audit verify DIR``, checks the whole story offline.
"""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from tyst.cli import app
from tyst.client.config import load_client_config
from tyst.client.session import Client
from tyst.jobs.demo import write_demo
from tyst.jobs.deploy import LocalServices, write_local_deployment

NODE_ORGS = ("nod-a", "nod-b", "nod-c")
runner = CliRunner()


def test_a_rejected_plan_makes_every_node_delete_and_the_export_verifies(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=200, seed=7)
    deployment = write_local_deployment(tmp_path / "dep", list(files.plan.parties))
    digest = files.plan.digest()
    configs = deployment.client_configs
    with LocalServices(deployment):
        fk = Client.from_config(load_client_config(configs["fk"]))
        fk.submit(files.plan.text)
        for org in ("fk", "malmo", "lund"):
            with Client.from_config(load_client_config(configs[org])) as client:
                client.approve(files.plan.text)
        job = fk.job_for(digest)
        fk.upload(digest, job, "sjukpenning", files.data["sjukpenning"])  # one table of three
        assert fk.coordinator.job(job)["state"] == "uploading"
        rejected = runner.invoke(
            app,
            ["plan", "reject", digest, "--reason", "purpose changed", "--config",
             str(configs["lund"])],
        )  # fmt: skip
        assert rejected.exit_code == 0, rejected.output
        deadline = time.monotonic() + 60
        while fk.coordinator.job(job)["deleted_by"] != list(NODE_ORGS):
            assert time.monotonic() < deadline, fk.coordinator.job(job)
            time.sleep(0.2)
        info = fk.coordinator.job(job)
        assert info["state"] == "failed"
        assert info["reason"] == "cancelled by lund: the plan was rejected: purpose changed"
        receipts = [e for e in info["events"] if e["kind"] == "shares_deleted"]
        assert {e["details"]["reason"] for e in receipts} == {"cancelled"}
        for config in deployment.node_configs:
            store = config.parent / "store"
            assert [p for p in store.rglob("*") if p.is_file() and p.parent.name == job] == []
        listed = runner.invoke(app, ["job", "list", "--config", str(configs["malmo"])])
        assert f"{job}  plan {digest[:16]}…  failed (cancelled by lund" in listed.output
        # the nodes countersigned the head after their receipts; keep their last heads
        deadline = time.monotonic() + 30
        while True:
            node_heads = [
                max(
                    (c.parent / "store" / "audit-heads").glob("head-*.json"),
                    key=lambda p: int(p.stem.split("-")[1]),
                    default=None,
                )
                for c in deployment.node_configs
            ]
            if all(node_heads):
                break
            assert time.monotonic() < deadline, "a node did not countersign the head"
            time.sleep(0.2)
        out = tmp_path / "export"
        heads = [arg for h in node_heads for arg in ("--head", str(h))]
        exported = runner.invoke(
            app,
            ["audit", "export", str(out), "--plan", digest, *heads, "--config",
             str(configs["malmo"])],
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        fk.close()
    verify = runner.invoke(
        app, ["audit", "verify", str(out), "--registry", str(deployment.registry)]
    )
    assert verify.exit_code == 0, verify.output
    assert "4 countersigned heads contained" in verify.output
