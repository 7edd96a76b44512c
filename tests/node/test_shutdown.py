"""A node told to stop (SIGTERM, as systemd does) while an owner's client still holds its
keep-alive connections stops within seconds, deletes what it holds and signs the receipt."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tyst.client.config import load_client_config
from tyst.client.session import Client
from tyst.jobs.demo import write_demo
from tyst.jobs.deploy import LocalServices, write_local_deployment
from tyst.node.app import GRACEFUL_SHUTDOWN


def test_sigterm_with_an_open_client_connection_stops_and_deletes(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=50, seed=2)
    deployment = write_local_deployment(tmp_path / "dep", list(files.plan.parties))
    with LocalServices(deployment) as services:
        clients = {
            org: Client.from_config(load_client_config(path))
            for org, path in deployment.client_configs.items()
        }
        try:
            digest = files.plan.digest()
            clients["fk"].submit(files.plan.text)
            for org in ("fk", "malmo", "lund"):
                clients[org].approve(files.plan.text)
            job = clients["fk"].job_for(digest)
            table = "sjukpenning"  # one table of three: the job waits, held at every node
            clients[files.plan.tables[table].owner].upload(digest, job, table, files.data[table])
            node = services.node_process(0)
            started = time.monotonic()
            node.send_signal(signal.SIGTERM)  # the owner's connections are still open
            node.wait(timeout=GRACEFUL_SHUTDOWN + 20)
            seconds = time.monotonic() - started
            assert node.returncode in (0, -signal.SIGTERM), node.returncode  # uvicorn re-raises it
            assert seconds < GRACEFUL_SHUTDOWN + 8, seconds
            events = clients["fk"].coordinator.job(job)["events"]
            receipts = [e for e in events if e["kind"] == "shares_deleted"]
            assert [(e["actor"], e["details"]["reason"]) for e in receipts] == [
                ("nod-a", "shutdown")
            ]
            store = deployment.node_configs[0].parent / "store"
            held = [
                p for p in store.rglob("*") if p.is_file() and job.removeprefix("job-") in str(p)
            ]
            assert held == []
        finally:
            for client in clients.values():
                client.close()
