"""The whole lifecycle with real processes: a coordinator and three nodes on loopback TLS.

- ``tyst run --workdir``: result equal to DuckDB, a valid signed audit chain,
  every node's deletion receipt, and no plaintext input value anywhere under DIR;
- the client commands an organisation uses across hosts (plan submit/approve/
  status, data upload, result fetch);
- a node that dies mid-run: every party fails the job within a bounded time with
  a clear message, the other nodes delete what they hold, and running the plan
  again works;
- a node that falls silent mid-run (its network dropped): the others fail the job
  within the configured timeout, and every node deletes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tyst.client.config import load_client_config
from tyst.client.recipient import ResultError
from tyst.client.session import Client
from tyst.jobs.demo import DemoFiles, reference, write_demo
from tyst.jobs.deploy import LocalDeployment, LocalServices, write_local_deployment
from tyst.jobs.run import run_plan


def _input_values(files: DemoFiles) -> set[bytes]:
    """Distinctive plaintext values of the owners' files (person numbers)."""
    values: set[bytes] = set()
    for path in files.data.values():
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                values.add(row["pnr"].encode())
    return values


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _share_files(store: Path) -> list[Path]:
    """Files in a node's store other than the audit heads it countersigned and its outbox
    (signed events and sealed results on their way to the coordinator: no shares)."""
    return [
        p
        for p in store.rglob("*")
        if p.is_file() and p.parent.name not in ("audit-heads", "outbox")
    ]


def test_run_keeps_no_plaintext_under_the_workdir(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=600, seed=7)
    work = tmp_path / "work"
    report = run_plan(files.plan, files.data, tmp_path / "result.csv", workdir=work)
    assert report.rows == reference(files)
    assert report.audit.ok
    assert report.audit.path == work / "audit.jsonl"
    kinds = [json.loads(line)["kind"] for line in report.audit.path.read_text().splitlines()]
    assert kinds.count("shares_deleted") == 3
    assert kinds.count("upload_received") == 9
    assert kinds[-1] == "result_received" or "result_received" in kinds
    heads = []
    for node in range(3):
        store = work / "nodes" / f"node-{node}" / "store"
        kept = [p for p in store.rglob("*") if p.is_file()]
        # nothing but the audit heads the node countersigned after its deletion receipt
        assert kept
        assert all(p.parent.name == "audit-heads" for p in kept), kept
        heads += sorted(kept)
    values = _input_values(files)
    assert len(values) > 100
    for path in _files_under(work):
        data = path.read_bytes()
        leaked = [v for v in values if v in data]
        assert not leaked, f"{path} contains input values such as {leaked[0]!r}"
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "tyst",
            "audit",
            "verify",
            str(work / "audit.jsonl"),
            "--registry",
            str(work / "registry.json"),
            *(arg for head in heads for arg in ("--head", str(head))),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr + verify.stdout
    assert "3 countersigned heads contained" in verify.stdout
    # a log cut below the last head a node signed is detected with that node's head
    lines = (work / "audit.jsonl").read_text().splitlines()
    last = max(heads, key=lambda p: int(p.stem.split("-")[1]))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[: int(last.stem.split("-")[1]) - 1]) + "\n")
    verify_cut = _tyst(
        "audit", "verify", cut, "--registry", work / "registry.json", "--head", last,
        "--allow-incomplete",
    )  # fmt: skip
    assert verify_cut.returncode != 0
    assert "events removed from the end" in verify_cut.stdout + verify_cut.stderr


def _tyst(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tyst", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_client_commands_across_a_deployment(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=400, seed=3)
    plan_file = tmp_path / "owners" / "demo.toml"
    deployment = write_local_deployment(tmp_path / "dep", list(files.plan.parties))
    cfg = deployment.client_configs
    digest = files.plan.digest()
    with LocalServices(deployment):
        submitted = _tyst("plan", "submit", plan_file, "--config", cfg["fk"])
        assert submitted.returncode == 0, submitted.stderr
        assert digest in submitted.stdout
        early = _tyst(
            "data",
            "upload",
            digest,
            "--table",
            "sjukpenning",
            "--file",
            files.data["sjukpenning"],
            "--config",
            cfg["fk"],
        )
        assert early.returncode == 2
        assert "409" in early.stderr  # no job before every owner approved
        for org in ("fk", "malmo", "lund"):
            approved = _tyst("plan", "approve", plan_file, "--config", cfg[org])
            assert approved.returncode == 0, approved.stderr
        assert "missing: none" in approved.stdout
        wrong_owner = _tyst(
            "data",
            "upload",
            digest,
            "--table",
            "bistand_lund",
            "--file",
            files.data["bistand_lund"],
            "--config",
            cfg["malmo"],
        )
        assert wrong_owner.returncode == 2
        assert "belongs to 'lund'" in wrong_owner.stderr
        jobs = []
        for table in files.data:
            owner = files.plan.tables[table].owner
            up = _tyst(
                "data",
                "upload",
                digest,
                "--table",
                table,
                "--file",
                files.data[table],
                "--config",
                cfg[owner],
            )
            assert up.returncode == 0, up.stderr
            jobs.append(up.stdout.split("to job ")[1].split()[0])
        assert len(set(jobs)) == 1
        out = tmp_path / "result.csv"
        fetched = _tyst(
            "result",
            "fetch",
            digest,
            "--job",
            jobs[0],
            "--out",
            out,
            "--config",
            cfg["fk"],
            "--wait",
            "120",
        )
        assert fetched.returncode == 0, fetched.stderr
        with out.open(encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        assert rows == reference(files)
        not_recipient = _tyst(
            "result",
            "fetch",
            digest,
            "--job",
            jobs[0],
            "--out",
            tmp_path / "x.csv",
            "--config",
            cfg["malmo"],
        )
        assert not_recipient.returncode == 2
        assert "not a recipient" in not_recipient.stderr
        assert not (tmp_path / "x.csv").exists()
        status = _tyst("plan", "status", digest, "--config", cfg["lund"])
        assert status.returncode == 0
        assert "result_received" in status.stdout
        assert "shares_deleted" in status.stdout


def _uploaded_job(deployment: LocalDeployment, files: DemoFiles) -> tuple[dict[str, Client], str]:
    """Every owner's client; the plan submitted, approved by every owner and uploaded."""
    clients = {
        org: Client.from_config(load_client_config(path))
        for org, path in deployment.client_configs.items()
    }
    digest = files.plan.digest()
    clients["fk"].submit(files.plan.text)
    for org in ("fk", "malmo", "lund"):
        clients[org].approve(files.plan.text)
    job = clients["fk"].job_for(digest)
    for table, path in files.data.items():
        clients[files.plan.tables[table].owner].upload(digest, job, table, path)
    return clients, job


def _wait_state(client: Client, job: str, state: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.coordinator.job(job)["state"] != state:
        assert time.monotonic() < deadline, client.coordinator.job(job)
        time.sleep(0.02)


def _kill_node(services: LocalServices, party: int) -> None:
    process = services.node_process(party)
    os.killpg(process.pid, signal.SIGKILL)  # the node and its run process
    process.wait()


def test_a_node_dying_mid_run_fails_the_job_everywhere_and_a_rerun_works(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=20_000, seed=5)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), timeout=10.0, connect_timeout=10.0
    )
    digest = files.plan.digest()
    with LocalServices(deployment) as services:
        clients, job = _uploaded_job(deployment, files)
        _wait_state(clients["fk"], job, "running")
        _kill_node(services, 2)
        started = time.monotonic()
        with pytest.raises(ResultError, match="failed: nod-") as info:
            clients["fk"].fetch(digest, job, timeout=120)
        assert time.monotonic() - started < 60
        assert "\n" not in str(info.value)
        deadline = time.monotonic() + 30
        while True:
            events = clients["fk"].coordinator.job(job)["events"]
            deleted = {e["actor"] for e in events if e["kind"] == "shares_deleted"}
            if {"nod-a", "nod-b"} <= deleted:
                break
            assert time.monotonic() < deadline, events
            time.sleep(0.1)
        for node in (0, 1):
            store = deployment.node_configs[node].parent / "store"
            assert _share_files(store) == []
        services.restart_node(2)
        store2 = deployment.node_configs[2].parent / "store"
        assert _share_files(store2) == []  # leftovers deleted at start
        again = clients["fk"].job_for(digest)
        assert again != job
        for table, path in files.data.items():
            clients[files.plan.tables[table].owner].upload(digest, again, table, path)
        result = clients["fk"].fetch(digest, again, timeout=300)
        assert result.rows == reference(files)
        for c in clients.values():
            c.close()


def test_a_silent_node_fails_the_job_within_the_timeout(tmp_path: Path) -> None:
    """A node that stops answering mid-run (as when its network drops): the others give up
    after the configured timeout, fail the job and delete; the silent node, once it
    answers again, finds the job failed and deletes too."""
    files = write_demo(tmp_path / "owners", persons=20_000, seed=6)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), timeout=4.0, connect_timeout=10.0
    )
    digest = files.plan.digest()
    with LocalServices(deployment) as services:
        clients, job = _uploaded_job(deployment, files)
        _wait_state(clients["fk"], job, "running")
        silent = services.node_process(1)
        os.killpg(silent.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(ResultError, match="failed: nod-"):
                clients["fk"].fetch(digest, job, timeout=120)
            assert time.monotonic() - started < 40
        finally:
            os.killpg(silent.pid, signal.SIGCONT)
        deadline = time.monotonic() + 60
        while True:
            events = clients["fk"].coordinator.job(job)["events"]
            deleted = {e["actor"] for e in events if e["kind"] == "shares_deleted"}
            if deleted == {"nod-a", "nod-b", "nod-c"}:
                break
            assert time.monotonic() < deadline, events
            time.sleep(0.2)
        for node in range(3):
            store = deployment.node_configs[node].parent / "store"
            assert _share_files(store) == []
        for c in clients.values():
            c.close()


def test_a_result_the_coordinator_cannot_relay_fails_the_job_for_everyone(tmp_path: Path) -> None:
    """Issue 13: the nodes see from the uploaded sizes that the padded result would pass
    the coordinator's max_result_bytes, and refuse before computing anything."""
    files = write_demo(tmp_path / "owners", persons=300, seed=8)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), max_result_bytes=1000
    )
    digest = files.plan.digest()
    with LocalServices(deployment):
        clients, job = _uploaded_job(deployment, files)
        started = time.monotonic()
        with pytest.raises(ResultError, match=r"cannot be delivered: .* max_result_bytes"):
            clients["fk"].fetch(digest, job, timeout=120)
        assert time.monotonic() - started < 60
        _wait_state(clients["fk"], job, "failed", timeout=30)
        deadline = time.monotonic() + 30
        while len(clients["fk"].coordinator.job(job)["deleted_by"]) < 3:  # every receipt
            assert time.monotonic() < deadline
            time.sleep(0.1)
        kinds = [e["kind"] for e in clients["fk"].coordinator.job(job)["events"]]
        assert "run_started" not in kinds  # refused before any computing
        for c in clients.values():
            c.close()


def test_a_result_of_many_chunks_arrives_whole(tmp_path: Path) -> None:
    """Issue 13: the nodes relay their sealed results in chunks (here of 4 KiB, so that
    even a small result spans several); the recipient gets DuckDB's answer."""
    files = write_demo(tmp_path / "owners", persons=300, seed=9)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), result_chunk_bytes=4096
    )
    with LocalServices(deployment):
        clients, job = _uploaded_job(deployment, files)
        result = clients["fk"].fetch(files.plan.digest(), job, timeout=120)
        assert result.rows == reference(files)
        events = clients["fk"].coordinator.job(job)["events"]
        delivered = [e["details"] for e in events if e["kind"] == "result_delivered"]
        assert len(delivered) == 3
        assert all(d["chunks"] == -(-(d["bytes"] - 1150 * d["chunks"]) // 4096) for d in delivered)
        assert all(d["chunks"] >= 3 for d in delivered)
        for c in clients.values():
            c.close()
