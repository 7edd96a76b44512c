"""Metrics and logs of a real deployment (a coordinator and three node processes).

One small job runs end to end with every server's ``metrics_listen`` set and
``log_format = "json"``; then

- each server's metrics endpoint is scraped and its values checked against
  the audit log and the uploaded files (jobs by state, run count and duration,
  mesh bytes equal to the nodes' signed ``run_finished``, upload rows, the
  audit chain's length), and no label value carries data or identifiers;
- every line the servers logged is one JSON object with the fixed keys, and
  no log contains an input value, a private key, a passphrase or share bytes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tyst.client.config import load_client_config
from tyst.client.session import Client
from tyst.jobs.demo import reference, write_demo
from tyst.jobs.deploy import LocalServices, write_local_deployment
from tyst.service.keys import load

PASSPHRASE = b"correct-horse-battery-staple-7f3a"
LABEL = re.compile(r"^[a-z0-9_.+]+$|^\+Inf$")


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=10.0).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_and_json_logs_of_a_run(tmp_path: Path) -> None:
    files = write_demo(tmp_path / "owners", persons=300, seed=11)
    deployment = write_local_deployment(
        tmp_path / "dep", list(files.plan.parties), metrics=True, log_format="json"
    )
    # node 0's keys under a passphrase read from a file, as in production
    keys_dir = deployment.node_configs[0].parent / "keys"
    keys = load(keys_dir, None)
    for f in keys_dir.iterdir():
        f.unlink()
    keys_dir.rmdir()
    keys.save(keys_dir, PASSPHRASE)
    (keys_dir.parent / "passphrase").write_bytes(PASSPHRASE + b"\n")
    with deployment.node_configs[0].open("a", encoding="utf-8") as f:
        f.write('passphrase_file = "passphrase"\n')
    digest = files.plan.digest()
    rows = {}
    with LocalServices(deployment), contextlib.ExitStack() as stack:
        # closed before the services stop (an open keep-alive connection delays a server's exit)
        clients = {
            org: stack.enter_context(Client.from_config(load_client_config(path)))
            for org, path in deployment.client_configs.items()
        }
        clients["fk"].submit(files.plan.text)
        for org in ("fk", "malmo", "lund"):
            clients[org].approve(files.plan.text)
        job = clients["fk"].job_for(digest)
        for table, path in files.data.items():
            clients[files.plan.tables[table].owner].upload(digest, job, table, path)
            with path.open(encoding="utf-8") as f:
                rows[table] = sum(1 for _ in csv.DictReader(f))
        result = clients["fk"].fetch(digest, job, timeout=120)
        assert result.rows == reference(files)
        deadline = time.monotonic() + 60
        while clients["fk"].coordinator.job(job)["state"] != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)  # the nodes countersign the head after their deletion receipts
        events = [
            json.loads(line)
            for line in clients["fk"].coordinator.audit_jsonl().splitlines()
            if line
        ]
        scraped = [_scrape(url) for url in deployment.metrics_urls]
    coordinator, nodes = scraped[0], scraped[1:]

    # --- the coordinator
    assert _value(coordinator, "tyst_coordinator_jobs", state="delivered") == 1
    for state in ("created", "uploading", "running", "finished", "failed"):
        assert _value(coordinator, "tyst_coordinator_jobs", state=state) == 0
    assert _value(coordinator, "tyst_coordinator_audit_events") == len(events)
    kinds = [e["kind"] for e in events]
    for kind in ("upload_received", "run_finished", "shares_deleted"):
        assert _value(coordinator, "tyst_coordinator_audit_events_by_kind", kind=kind) == (
            kinds.count(kind)
        )
    assert _value(coordinator, "tyst_coordinator_job_failures", kind="run_failed") == 0
    assert _value(coordinator, "tyst_coordinator_http_responses_total", code="200") > 10
    chunks = [e for e in events if e["kind"] == "result_delivered"]
    assert _value(coordinator, "tyst_coordinator_result_chunk_bytes_count") >= len(chunks) > 0
    assert _value(coordinator, "tyst_coordinator_result_chunk_bytes_sum") > 0

    # --- each node: its numbers equal what it signed in the audit log
    for org, samples in zip(("nod-a", "nod-b", "nod-c"), nodes, strict=True):
        finished = next(e for e in events if e["kind"] == "run_finished" and e["actor"] == org)
        assert _value(samples, "tyst_node_runs_total", outcome="delivered") == 1
        assert _value(samples, "tyst_node_runs_total", outcome="failed") == 0
        assert _value(samples, "tyst_node_run_seconds_count", outcome="delivered") == 1
        seconds = _value(samples, "tyst_node_run_seconds_sum", outcome="delivered")
        assert finished["details"]["milliseconds"] / 1000 <= seconds + 0.01
        assert (
            _value(samples, "tyst_node_mesh_bytes_sent_total")
            == (finished["details"]["bytes_sent"])
        )
        assert (
            _value(samples, "tyst_node_mesh_bytes_received_total")
            == (finished["details"]["bytes_received"])
        )
        assert _value(samples, "tyst_node_mesh_rounds_total") == finished["details"]["rounds"]
        assert _value(samples, "tyst_node_upload_rows_count") == len(files.data)
        assert _value(samples, "tyst_node_upload_rows_sum") == sum(rows.values())
        uploaded = sum(
            e["details"]["bytes"]
            for e in events
            if e["kind"] == "upload_received" and e["actor"] == org
        )
        assert _value(samples, "tyst_node_upload_bytes_sum") == uploaded
        assert _value(samples, "tyst_node_jobs", state="deleted") == 1
        assert _value(samples, "tyst_node_failures_total", kind="failed") == 0
        assert _value(samples, "tyst_node_outbox_items") == 0
        assert 0 < _value(samples, "tyst_node_audit_events") <= len(events)

    # --- no label value carries data, an organisation, a job or a plan
    secret_like = {job, digest, *deployment.client_configs, "nod-a", "nod-b", "nod-c"}
    for samples in scraped:
        for _name, labels in samples:
            for _key, value in labels:
                assert LABEL.match(value), value
                assert value not in secret_like
                assert not any(s in value for s in secret_like if len(s) > 4)

    # --- the logs: JSON lines with the fixed keys, no data, keys or shares
    logs = [deployment.coordinator_config.parent / "coordinator.log"] + [
        c.parent / "node.log" for c in deployment.node_configs
    ]
    values = set()
    for path in files.data.values():
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                values.add(row["pnr"])
    assert len(values) > 100
    key_files = [p for c in deployment.node_configs for p in (c.parent / "keys").iterdir()]
    key_files += [c.parent / "tls" / "node.key" for c in deployment.node_configs]
    forbidden = [
        PASSPHRASE.decode(),
        "PRIVATE KEY",
        "BEGIN ",
        *(p.read_text(encoding="utf-8", errors="replace")[40:80] for p in key_files),
    ]
    allowed_long = {digest, job.removeprefix("job-")}
    with_job = 0
    for path in logs:
        text = path.read_text(encoding="utf-8")
        for value in values:
            assert value not in text, f"{path.name} logs the input value {value}"
        for needle in forbidden:
            assert needle not in text, f"{path.name} contains {needle!r}"
        for line in text.splitlines():
            if not line.startswith("{"):
                # the one start-up line each server prints on stdout
                assert line.startswith("tyst "), line
                continue
            record = json.loads(line)
            assert {"time", "level", "logger", "event"} <= set(record), record
            with_job += record.get("job") == job
            # share bytes, keys or ciphertext would show as long opaque tokens
            for token in re.findall(r"[A-Za-z0-9+=_-]{40,}", record["event"]):
                assert token.removeprefix("job-") in allowed_long, (path.name, token)
    assert with_job >= 6  # the nodes log each stored table and the deletion with the job id
