"""Export the audit log to a directory that ``tyst audit verify DIR`` checks offline.

Contract
--------
:func:`export_audit` fetches the coordinator's whole log (as this organisation,
which must be a party of some plan or a node), verifies its chain, every
signature and who signed what (:func:`tyst.service.audit.verify_chain`,
:func:`~tyst.service.audit.role_problem`) and that it contains every
countersigned head given (e.g. the nodes' ``<store>/audit-heads/head-N.json``
and this body's earlier heads), then writes, in ``directory``:

- :data:`~tyst.service.audit.EXPORT_LOG` — the log exactly as served;
- :data:`~tyst.service.audit.EXPORT_HEADS` ``/`` — this organisation's own
  countersignature of the log's head (``<org>-<n_events>.json``) and a copy of
  each head given (``<signer>-<n_events>.json``);
- with ``plan``, ``plan-<digest>.jsonl`` — that plan's events
  (:func:`~tyst.service.audit.plan_events`), an extract for reading whose every
  event is also in the whole log (the hash chain links every event to the one
  before it, whatever plan that is about, so only the whole log verifies).

Files are written mode 0600 in a 0700 directory. Nothing is written unless the
log verifies. Errors: :class:`~tyst.api.http.ApiError` (one line) for a log that
does not verify, a head it does not contain, a plan that is not this
organisation's; :class:`OSError` for the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tyst.api.http import ApiError
from tyst.client.session import Client
from tyst.coordinator.protocol import check_digest
from tyst.service.audit import (
    EXPORT_HEADS,
    EXPORT_LOG,
    EXPORT_PLAN_PREFIX,
    GENESIS_HASH,
    AuditEvent,
    Head,
    SignedHead,
    incomplete_jobs,
    log_nodes,
    plan_events,
    role_problem,
    sign_head,
    verify_chain,
    verify_signed_head,
    write_signed_head,
)
from tyst.service.keys import Registry
from tyst.service.signing import SignatureInvalid


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_audit` wrote: the log's head, the heads kept, the plan extract."""

    directory: Path
    head: SignedHead
    heads: list[Path]
    plan_events: int | None


def export_audit(
    client: Client,
    directory: str | os.PathLike[str],
    *,
    heads: list[tuple[Path, SignedHead]] | None = None,
    plan: str | None = None,
) -> ExportReport:
    """Verify the coordinator's log and write it with its countersigned heads (see the
    module docstring)."""
    if plan is not None:
        try:
            check_digest(plan)
        except ValueError as exc:
            raise ApiError(str(exc)) from None
        client.coordinator.plan(plan)  # 404 unless it is this organisation's plan
    data = client.coordinator.audit_jsonl()
    try:
        events = [AuditEvent.from_dict(json.loads(line)) for line in data.splitlines() if line]
    except ValueError as exc:
        raise ApiError(f"the coordinator's audit log is malformed: {exc}") from None
    report = verify_chain(events, client.registry)
    problem = report.first_problem or role_problem(events, client.node_orgs)
    if problem is not None:
        raise ApiError(f"the coordinator's audit log does not verify: {problem}")
    for path, signed in heads or []:
        try:
            trusted = verify_signed_head(client.registry, signed)
        except SignatureInvalid as exc:
            raise ApiError(f"{path}: {exc}") from None
        contained = verify_chain(events, client.registry, expected_head=trusted)
        if not contained.ok:
            raise ApiError(f"{path} (signed by {signed.org}): {contained.first_problem}")
    own = sign_head(client.keys, Head(len(events), events[-1].hash if events else GENESIS_HASH))
    root = Path(directory)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / EXPORT_HEADS).mkdir(mode=0o700, exist_ok=True)
    _write(root / EXPORT_LOG, data)
    kept = []
    for signed in [own, *(s for _, s in heads or [])]:
        path = root / EXPORT_HEADS / f"{signed.org}-{signed.n_events}.json"
        write_signed_head(path, signed)
        kept.append(path)
    extract = None
    if plan is not None:
        selected = plan_events(events, plan)
        lines = "".join(e.to_json_line() + "\n" for e in selected).encode("utf-8")
        _write(root / f"{EXPORT_PLAN_PREFIX}{plan}.jsonl", lines)
        extract = len(selected)
    return ExportReport(root, own, kept, extract)


def log_problems(
    events: list[AuditEvent],
    registry: Registry,
    heads: list[tuple[Path, SignedHead]],
    nodes: list[str] | tuple[str, ...] | None,
    *,
    allow_incomplete: bool = False,
) -> tuple[list[str], list[str]]:
    """What ``tyst audit verify`` checks, as ``(problems, incomplete jobs)``: the chain and
    every signature, who signed what, that the log contains each countersigned head (whose
    signature must verify) and, unless ``allow_incomplete``, every job's deletion receipts."""
    problems: list[str] = []
    report = verify_chain(events, registry)
    if not report.ok:
        problems.append(str(report.first_problem))
    else:
        misplaced = role_problem(events, nodes)
        if misplaced is not None:
            problems.append(misplaced)
    sound = not problems  # completeness is only meaningful for a log that verifies
    for path, signed in heads:
        try:
            trusted = verify_signed_head(registry, signed)
        except SignatureInvalid as exc:
            problems.append(f"{path}: {exc}")
            continue
        checked = verify_chain(events, registry, expected_head=trusted)
        if not checked.ok and checked.first_problem != report.first_problem:
            problems.append(f"{checked.first_problem} (head signed by {signed.org}, {path})")
    incomplete = incomplete_jobs(events, nodes or log_nodes(events))
    if not allow_incomplete and sound:
        problems.extend(incomplete)
    return problems, incomplete


@dataclass(frozen=True)
class LogCheck:
    """The coordinator's log as :func:`verify_log` found it."""

    events: list[AuditEvent]
    problems: list[str]
    incomplete: list[str]
    heads: list[tuple[Path, SignedHead]]
    own: SignedHead | None
    """This organisation's countersignature of the head (only of a log that verifies)."""


def verify_log(client: Client, heads: list[tuple[Path, SignedHead]]) -> LogCheck:
    """Fetch the coordinator's whole log and check it as ``tyst audit verify`` does (jobs
    still running are reported, not failed); countersign its head if it verifies."""
    data = client.coordinator.audit_jsonl()
    try:
        events = [AuditEvent.from_dict(json.loads(line)) for line in data.splitlines() if line]
    except ValueError as exc:
        return LogCheck([], [f"the coordinator's audit log is malformed: {exc}"], [], heads, None)
    problems, incomplete = log_problems(
        events, client.registry, heads, client.node_orgs, allow_incomplete=True
    )
    own = None
    if not problems:
        own = sign_head(client.keys, Head(len(events), events[-1].hash if events else GENESIS_HASH))
    return LogCheck(events, problems, incomplete, heads, own)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


__all__ = ["ExportReport", "LogCheck", "export_audit", "log_problems", "verify_log"]
