"""A coordinator outage with real processes: nothing the nodes report is lost.

The coordinator is killed (SIGKILL) while the three nodes run a job. The nodes finish,
seal their results into their outboxes, delete their shares with the true reason
(``delivery_pending``, not "the job failed elsewhere") and keep their signed events on
disk. When the coordinator is started again, the outboxes redeliver everything once:
the job reaches its final state, the recipient fetches the correct result, every node's
receipts are in the audit log exactly once, and ``tyst audit verify`` passes. The
recipient's ``tyst result fetch``, started before the outage, waits it out (a fetch
allowed to wait only a second ends with one clear line).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.node.test_lifecycle import _uploaded_job
from tyst.api.http import CoordinatorClient, NodeClient
from tyst.jobs.demo import reference, write_demo
from tyst.jobs.deploy import LocalServices, tail, write_local_deployment
from tyst.service.keys import load

NODE_ORGS = ("nod-a", "nod-b", "nod-c")


def _until(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _until_all_started(coordinator: CoordinatorClient, job: str) -> None:
    """Wait until every node has signed ``run_started`` for ``job``."""

    def all_started() -> bool:
        events = coordinator.job(job)["events"]
        return {e["actor"] for e in events if e["kind"] == "run_started"} == set(NODE_ORGS)

    _until("every node's run_started", all_started, 60)


def _fetch(config: Path, digest: str, job: str, out: Path, *args: str) -> subprocess.Popen[str]:
    """``tyst result fetch`` as a recipient runs it, in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "tyst", "result", "fetch", digest, "--job", job,
         "--out", str(out), "--config", str(config), "--wait", "300", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_coordinator_down_when_the_run_finishes_loses_nothing(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=20_000, seed=9)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), redeliver_max_seconds=1.0
    )
    digest = files.plan.digest()
    nodes = [
        NodeClient(url, i, deployment.ca, timeout=5.0) for i, url in enumerate(deployment.node_urls)
    ]
    with LocalServices(deployment) as services:
        clients, job = _uploaded_job(deployment, files)

        _until_all_started(clients["fk"].coordinator, job)
        out = tmp_path / "result.csv"
        fetch = _fetch(deployment.client_configs["fk"], digest, job, out, "--retry", "300")
        coordinator = services.coordinator_process()
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait()
        # a fetch that may not wait out the outage ends with one clear line
        short = _fetch(deployment.client_configs["fk"], digest, job, tmp_path / "x.csv",
                       "--retry", "1")  # fmt: skip
        assert short.wait(timeout=120) == 2
        assert short.stderr is not None
        message = short.stderr.read().strip()
        assert "gave up after retrying for 1 s" in message
        assert "\n" not in message
        assert "Traceback" not in message
        assert not (tmp_path / "x.csv").exists()

        # Every node finishes, deletes its shares and keeps its reports queued.
        def all_deleted_locally() -> bool:
            views = [n.job(job) for n in nodes]
            return all(v["state"] == "deleted" for v in views)

        _until("every node's deletion", all_deleted_locally, 120)
        for i, node in enumerate(nodes):
            assert node.health()["outbox"] >= 3  # run_finished, the sealed result, shares_deleted
            store = deployment.node_configs[i].parent / "store"
            kept = [p for p in store.rglob("*") if p.is_file() and p.parent.name != "audit-heads"]
            assert kept
            assert all(p.parent.name == "outbox" for p in kept), kept  # no shares are left
        time.sleep(1.5)  # a few redelivery attempts against the dead coordinator
        services.restart_coordinator()

        _until("the outboxes to drain", lambda: all(n.health()["outbox"] == 0 for n in nodes), 60)
        # the recipient's fetch waited out the restart
        assert fetch.wait(timeout=120) == 0, fetch.stderr.read() if fetch.stderr else ""
        with out.open(encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        # (sorted: the demo's ORDER BY count may tie, and ties have no defined order)
        assert sorted(rows) == sorted(reference(files))
        _until("delivered", lambda: clients["fk"].coordinator.job(job)["state"] == "delivered", 30)

        keys = load(deployment.client_configs["fk"].parent / "keys", None)
        with CoordinatorClient(deployment.coordinator_url, keys, verify=str(deployment.ca)) as c:
            raw = c.audit_jsonl()
    log = [json.loads(line) for line in raw.splitlines() if line]
    for c in clients.values():
        c.close()
    for n in nodes:
        n.close()
    mine = [e for e in log if e["job"] == job]
    per_node = Counter((e["actor"], e["kind"]) for e in mine if e["actor"] in NODE_ORGS)
    for org in NODE_ORGS:
        for kind in ("run_started", "run_finished", "result_delivered", "shares_deleted"):
            assert per_node[(org, kind)] == 1, (org, kind, per_node)
        assert per_node[(org, "run_failed")] == 0
    assert [e["actor"] for e in mine if e["kind"] == "result_received"] == ["fk"]
    reasons = {e["details"]["reason"] for e in mine if e["kind"] == "shares_deleted"}
    assert reasons == {"delivery_pending"}
    export = tmp_path / "audit.jsonl"
    export.write_bytes(raw)
    verify = subprocess.run(
        [sys.executable, "-m", "tyst", "audit", "verify", str(export),
         "--registry", str(deployment.registry)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_party_cancels_a_stuck_job_and_the_nodes_stop_and_delete(tmp_path: Path) -> None:
    """A node hangs mid-run (SIGSTOP) and the peers would wait ``timeout`` (60 s) for it: a
    recipient cancels the job with ``tyst job cancel``; the running nodes see it within a
    sweep, stop their runs, delete with reason ``cancelled`` and sign their receipts; the
    hung node, once it runs again, deletes too. The job is ``failed`` with the party's
    reason and the audit log is complete."""
    files = write_demo(tmp_path / "owners", persons=20_000, seed=11)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), timeout=60.0, connect_timeout=60.0
    )
    with LocalServices(deployment) as services:
        clients, job = _uploaded_job(deployment, files)
        coordinator = clients["fk"].coordinator

        _until_all_started(coordinator, job)
        hung = services.node_process(2)
        os.killpg(hung.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            cancel = subprocess.run(
                [sys.executable, "-m", "tyst", "job", "cancel", job, "--reason", "nod-c hangs",
                 "--config", str(deployment.client_configs["fk"])],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert cancel.returncode == 0, cancel.stderr
            assert "state failed" in cancel.stdout

            def deleted_by() -> set[str]:
                events = coordinator.job(job)["events"]
                return {e["actor"] for e in events if e["kind"] == "shares_deleted"}

            _until("the running nodes' receipts", lambda: {"nod-a", "nod-b"} <= deleted_by(), 40)
            assert time.monotonic() - started < 40  # well before the 60 s peer timeout
        finally:
            os.killpg(hung.pid, signal.SIGCONT)
        _until("the hung node's receipt", lambda: deleted_by() == set(NODE_ORGS), 90)
        info = coordinator.job(job)
        assert info["state"] == "failed"
        assert info["deleted_by"] == list(NODE_ORGS)
        assert info["reason"] == "cancelled by fk: nod-c hangs"
        receipts = [e for e in info["events"] if e["kind"] == "shares_deleted"]
        assert {e["details"]["reason"] for e in receipts if e["actor"] != "nod-c"} == {"cancelled"}
        for i in range(3):
            store = deployment.node_configs[i].parent / "store"
            assert [p for p in store.rglob("*") if p.is_file() and p.parent.name == job] == []
        raw = coordinator.audit_jsonl()
    for c in clients.values():
        c.close()
    export = tmp_path / "audit.jsonl"
    export.write_bytes(raw)
    verify = subprocess.run(
        [sys.executable, "-m", "tyst", "audit", "verify", str(export),
         "--registry", str(deployment.registry)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux ``/proc``)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found |= {int(c) for c in text.split()}
    return {c for c in found if _alive(c)}


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_node_server_killed_alone_takes_its_run_with_it(tmp_path: Path) -> None:
    """SIGKILL to the node server's pid only (as a supervisor may send it, not to its
    process group): its run process dies with it within a second or so, and the other
    nodes fail the job at once (a closed connection), well within their timeout."""
    files = write_demo(tmp_path / "owners", persons=20_000, seed=12)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), timeout=60.0, connect_timeout=20.0
    )
    with LocalServices(deployment) as services:
        clients, job = _uploaded_job(deployment, files)
        coordinator = clients["fk"].coordinator

        _until_all_started(coordinator, job)
        server = services.node_process(2)
        _until("the run process", lambda: bool(_children(server.pid)), 10)
        runs = _children(server.pid)
        server.send_signal(signal.SIGKILL)  # the server alone, not its process group
        server.wait()
        started = time.monotonic()
        _until("the orphaned run to die", lambda: not any(_alive(c) for c in runs), 10)
        assert time.monotonic() - started < 5
        # at once if the mesh was up, else after connect_timeout (20 s); never the 60 s timeout
        deadline = time.monotonic() + 50
        while coordinator.job(job)["state"] != "failed":
            logs = [tail(c.parent / "node.log", 4) for c in deployment.node_configs[:2]]
            assert time.monotonic() < deadline, (coordinator.job(job)["events"][-3:], logs)
            time.sleep(0.2)
        events = coordinator.job(job)["events"]
        failed = {e["actor"]: e["details"]["message"] for e in events if e["kind"] == "run_failed"}
        assert set(failed) & {"nod-a", "nod-b"}
        # the peers name the failed node by organisation and mesh address, not by index alone
        messages = [m for a, m in failed.items() if a != "nod-c"]
        assert any("(nod-c at 127.0.0.1:" in m for m in messages), messages
    for c in clients.values():
        c.close()
