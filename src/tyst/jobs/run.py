"""``tyst run``: one plan through the whole service lifecycle, every role on this machine.

Roles, each where the real deployment puts it (``docs/operations.md``):

- **Service side** (under ``workdir``): a deployment CA, a registry of
  organisations with generated demo keys, a coordinator process (SQLite) and
  three node processes, each with its own encrypted share store
  (:mod:`tyst.jobs.deploy`).
- **Owners** (this process, one SDK client per organisation,
  :class:`tyst.client.session.Client`): the first owner submits the plan,
  **every owner approves** its digest, each owner validates its own file,
  secret-shares it here and streams each node only that node's shares.
- **Nodes**: each verifies every approval itself before accepting an upload and
  again before running, computes, seals its result shares to each recipient,
  relays the ciphertext through the coordinator, deletes its shares and key
  and signs a deletion receipt.
- **Recipients** (this process): open the three sealed blobs, combine, decode,
  sign ``result_received``; the CSV is written atomically to ``out`` (which
  should lie outside ``workdir``).

Directories created under (and for) ``workdir`` are 0700; the database, logs
and ``audit.jsonl`` 0600. At the end the audit log is exported to
``workdir/audit.jsonl`` and verified (chain, signatures and every job's
deletion receipts) against the registry; each recipient then verifies the log
itself and countersigns its head (``workdir/audit-head.<org>.json``, for
``tyst audit verify --head``). No plaintext input value is
written under ``workdir``: the store holds ciphertext of shares, the
coordinator plans, signatures and sealed blobs, the logs ids and counts.

Errors: ``PlanError``/``SqlError`` before anything starts, :class:`RunError`
(one line) for missing data, a service that does not start, an upload the
nodes refuse (``DataError`` for a bad value, with file and line) or a failed
job (the nodes' reasons). ``out`` is written only after a complete, checked result.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tyst.api.http import ApiError
from tyst.client.config import load_client_config
from tyst.client.owner import UploadError, UploadReport
from tyst.client.recipient import ResultError
from tyst.client.session import Client
from tyst.coordinator import states
from tyst.data.files import write_csv
from tyst.engine.metrics import NodeMetrics
from tyst.jobs.deploy import (
    NODE_ORGS,
    LocalServices,
    ServiceError,
    private_dir,
    private_file,
    write_local_deployment,
)
from tyst.plan import Plan
from tyst.planner.jobspec import job_spec
from tyst.service.audit import AuditEvent, incomplete_jobs, verify_chain, write_signed_head
from tyst.service.keys import Registry

Progress = Callable[[str, int], None]
Phase = Callable[[str], None]


class RunError(Exception):
    """A run that cannot start or did not finish; str() is one line."""


@dataclass(frozen=True)
class AuditSummary:
    """The exported audit log and its verification."""

    path: Path
    n_events: int
    ok: bool
    first_problem: str | None


@dataclass(frozen=True)
class RunReport:
    """What ``tyst run`` tells the recipient (and prints)."""

    header: list[str]
    rows: list[list[str]]
    padded_rows: int
    suppressed_groups: int
    seconds: float
    nodes: list[NodeMetrics]
    uploads: list[UploadReport]
    audit: AuditSummary
    job: str
    noisy: dict[str, str] = field(default_factory=dict)
    """Per column released with DP noise: mechanism, ε or ρ, 95 % bound (others exact)."""


@contextlib.contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        private_dir(workdir)  # 0700 when created here (with its parents); else left as is
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="tyst-run-") as tmp:
        yield Path(tmp)


def run_plan(
    plan: Plan,
    data: Mapping[str, Path],
    out: Path,
    *,
    timeout: float = 120.0,
    progress: Progress | None = None,
    phase: Phase | None = None,
    workdir: Path | None = None,
) -> RunReport:
    """Run ``plan`` on the given files through the full lifecycle; write the CSV to ``out``.

    ``timeout`` bounds how long a node waits for a silent peer; ``progress(table,
    rows)`` is called after every chunk an owner shares; ``phase(text)`` at each
    step of the lifecycle. ``workdir`` keeps the service side's state (default:
    a temporary directory removed at the end). See the module docstring.
    """
    spec = job_spec(plan)
    unknown = sorted(set(data) - set(plan.tables))
    if unknown:
        raise RunError(f"--data {unknown[0]}=…: the plan has no table {unknown[0]!r}")
    missing = [t for t in spec.tables if t not in data]
    if missing:
        raise RunError(f"no data for table {missing[0]!r}: pass --data {missing[0]}=FILE")
    if not plan.text:
        raise RunError("the plan has no text to submit (parse it with parse_plan)")
    say = phase or (lambda _text: None)
    digest = plan.digest()
    with _workdir(workdir) as root:
        say("starting the coordinator and three nodes")
        deployment = write_local_deployment(
            root, list(plan.parties), timeout=timeout, connect_timeout=timeout
        )
        try:
            with LocalServices(deployment) as _services, contextlib.ExitStack() as stack:
                clients = {
                    org: stack.enter_context(Client.from_config(load_client_config(path)))
                    for org, path in deployment.client_configs.items()
                }
                owners = list(dict.fromkeys(plan.tables[t].owner for t in plan.tables))
                submitter = clients[owners[0]]
                say("submitting the plan; every owner approves its digest")
                submitter.submit(plan.text, plan.source)
                for owner in owners:
                    clients[owner].approve(plan.text, plan.source)
                job = submitter.job_for(digest)
                started = time.perf_counter()
                uploads = []
                try:
                    for table in spec.tables:
                        owner = plan.tables[table].owner
                        say(f"{owner} shares {table} and uploads to the three nodes")
                        uploads.append(
                            clients[owner].upload(
                                digest, job, table, data[table], progress=progress
                            )
                        )
                except BaseException:
                    # Withdraw the job: every node deletes what it already holds.
                    with contextlib.suppress(ApiError):
                        submitter.coordinator.job_event(
                            job, "job_cancelled", {"reason": "an upload did not complete"}
                        )
                    raise
                say("the nodes compute; each seals its result to the recipients")
                results = [
                    clients[r].fetch(digest, job, timeout=max(600.0, 20 * timeout))
                    for r in plan.recipients
                ]
                seconds = time.perf_counter() - started
                if any(r != results[0] for r in results[1:]):
                    raise RunError("the recipients obtained different results")
                say("waiting for every node's deletion receipt")
                info = _wait_deleted(submitter, job, timeout=60.0)
                audit = _export_audit(submitter, deployment.registry, deployment.audit_export)
                for recipient in plan.recipients:  # each keeps the head it verified
                    signed = clients[recipient].countersign_head()
                    write_signed_head(deployment.root / f"audit-head.{recipient}.json", signed)
        except ServiceError as exc:
            raise RunError(f"the service did not start: {exc}") from None
        except (ApiError, UploadError, ResultError) as exc:
            raise RunError(str(exc)) from None
    result = results[0]
    write_csv(out, result.header, result.rows)
    return RunReport(
        result.header,
        result.rows,
        result.padded_rows,
        result.suppressed_groups,
        seconds,
        _metrics(info),
        uploads,
        audit,
        job,
        result.noisy,
    )


def _wait_deleted(client: Client, job: str, *, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        info = client.coordinator.job(job)
        if info["state"] == states.DELIVERED:  # every node relayed and deleted
            return info
        if time.monotonic() > deadline:
            raise RunError(f"job {job}: not every node confirmed deletion (state {info['state']})")
        time.sleep(0.1)


def _metrics(info: Mapping[str, object]) -> list[NodeMetrics]:
    """Each node's run metrics, from its signed ``run_finished`` event."""
    events = info["events"]
    assert isinstance(events, list)
    out = []
    finished = [e for e in events if e["kind"] == "run_finished"]
    for e in sorted(finished, key=lambda e: NODE_ORGS.index(e["actor"])):
        d = e["details"]
        out.append(
            NodeMetrics(
                party=NODE_ORGS.index(e["actor"]),
                seconds=d["milliseconds"] / 1000,
                cpu_seconds=d["cpu_milliseconds"] / 1000,
                bytes_sent=d["bytes_sent"],
                bytes_received=d["bytes_received"],
                peak_rss_bytes=d["peak_rss_bytes"],
                rounds=d.get("rounds", 0),
                messages_sent=d.get("messages_sent", 0),
            )
        )
    return out


def _export_audit(client: Client, registry_path: Path, path: Path) -> AuditSummary:
    """Export the coordinator's log to ``path`` and verify it against the registry:
    chain, signatures, and every job's deletion receipts."""
    data = client.coordinator.audit_jsonl()
    with os.fdopen(private_file(path), "wb") as f:  # 0600: the parties' log, not the public's
        f.write(data)
    events = [AuditEvent.from_dict(json.loads(line)) for line in data.splitlines() if line]
    report = verify_chain(events, Registry.load(registry_path))
    problem = report.first_problem
    if problem is None:
        problem = next(iter(incomplete_jobs(events)), None)
    return AuditSummary(path, len(events), problem is None, problem)


__all__ = ["RunError", "RunReport", "run_plan"]
