"""Finding 14 of issue 11: ``tyst audit verify`` checks who may sign what, not only that
each signature verifies — the rules (tyst.service.roles) do not live only in the coordinator.

The log is a real export of the coordinator (``GET /audit``) after a whole job; each
tampered copy replaces one event by an equally well-signed event of the wrong signer
(the chain re-linked and every later event re-signed by its own actor), so the chain
and every signature still verify."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.coordinator.helpers import (
    FK,
    MALMO,
    NODE_IDS,
    NODES,
    OUTSIDER,
    REGISTRY,
    approved_job,
    job_event,
    run_to_finished,
)
from tyst.cli import app
from tyst.coordinator.app import create_app
from tyst.service.audit import AuditEvent, read_jsonl, role_problem, sign_event, verify_chain
from tyst.service.keys import OrgKeys
from tyst.service.roles import EVENT_ROLES, NODE, rule

KEYS: dict[str, OrgKeys] = {k.org_id: k for k in (FK, MALMO, OUTSIDER, *NODES)}
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[AuditEvent]:
    """The coordinator's exported log after one whole job (delivered, received, deleted)."""
    root = tmp_path_factory.mktemp("coordinator")
    with TestClient(create_app(f"sqlite:///{root / 'c.db'}", REGISTRY, nodes=NODE_IDS)) as client:
        job = approved_job(client)
        run_to_finished(client, job)
        for node in NODES:
            assert job_event(client, job, node, "result_delivered", {"recipient": "fk"}).is_success
        assert job_event(client, job, FK, "result_received", {"padded_rows": 8}).is_success
        for node in NODES:
            assert job_event(client, job, node, "shares_deleted", {"files": 2}).is_success
        assert client.get("/audit/verify").json()["ok"] is True
        path = root / "audit.jsonl"
        path.write_bytes(client.get("/audit").content)
    return read_jsonl(path)


def _replace(
    events: list[AuditEvent], index: int, signer: OrgKeys, **changes: object
) -> list[AuditEvent]:
    """``events`` with event ``index`` now signed by ``signer`` (and ``changes``), the
    chain re-linked and every later event re-signed by its own actor."""
    out = list(events[:index])
    for position, event in enumerate(events[index:], start=index):
        prev = out[-1].hash if out else "0" * 64
        if position == index:
            event = dataclasses.replace(event, actor=signer.org_id, **changes)  # type: ignore[arg-type]
        event = dataclasses.replace(event, prev_hash=prev)
        event = dataclasses.replace(event, hash=event.compute_hash())
        out.append(sign_event(KEYS[event.actor], event))
    return out


def _index(events: list[AuditEvent], kind: str, actor: str | None = None) -> int:
    return next(
        i for i, e in enumerate(events) if e.kind == kind and (actor is None or e.actor == actor)
    )


def _verify(tmp_path: Path, events: list[AuditEvent], *extra: str) -> tuple[int, list[str]]:
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(e.to_json_line() + "\n" for e in events), encoding="utf-8")
    REGISTRY.save(tmp_path / "registry.json")
    args = ["audit", "verify", str(log), "--registry", str(tmp_path / "registry.json"), *extra]
    result = runner.invoke(app, args)
    return result.exit_code, result.output.strip().splitlines()


def test_the_real_log_verifies_with_its_roles(exported: list[AuditEvent], tmp_path: Path) -> None:
    assert role_problem(exported) is None
    assert role_problem(exported, NODE_IDS) is None
    code, lines = _verify(tmp_path, exported)
    assert code == 0, lines
    assert "every event signed by a role allowed to sign it" in lines[-1]


@pytest.mark.parametrize(
    ("kind", "actor", "signer"),
    [
        ("shares_deleted", "node-c", FK),  # a party signs a node's deletion receipt
        ("run_finished", "node-b", MALMO),  # a party reports a node's run
        ("upload_received", "node-a", FK),  # the owner itself claims a node stored it
        ("result_delivered", "node-a", FK),
    ],
)
def test_a_partys_event_in_a_nodes_place_fails_verification(
    exported: list[AuditEvent], tmp_path: Path, kind: str, actor: str, signer: OrgKeys
) -> None:
    index = _index(exported, kind, actor)
    tampered = _replace(exported, index, signer)
    assert verify_chain(tampered, REGISTRY).ok  # every signature verifies, as before
    code, lines = _verify(tmp_path, tampered)
    assert code == 1
    assert lines == [
        f"audit log INVALID: seq {index + 1}: {kind} by {signer.org_id!r} breaks the rule: "
        f"{rule(kind)}"
    ]
    assert rule(kind) == f"only a compute node signs {kind}"
    assert EVENT_ROLES[kind] == {NODE}


def test_approvals_uploads_and_receipts_need_their_roles(
    exported: list[AuditEvent], tmp_path: Path
) -> None:
    cases = [
        (
            _replace(exported, _index(exported, "plan_approved", "malmo"), OUTSIDER),
            "plan_approved by 'outsider' breaks the rule: only an owner of the plan signs "
            "plan_approved",
        ),
        (
            _replace(exported, _index(exported, "result_received"), MALMO),
            "result_received by 'malmo' breaks the rule: only a recipient of the plan signs "
            "result_received",
        ),
        (
            _replace(exported, _index(exported, "job_created"), NODES[0]),
            "job_created by 'node-a' breaks the rule: only a party of the plan",
        ),
        (
            _replace(
                exported,
                _index(exported, "upload_received", "node-b"),
                NODES[1],
                details={"owner": "outsider", "table": "bistand"},
            ),
            "upload_received by 'node-b' breaks the rule: an upload is an owner's, and "
            "'outsider' owns no table of the plan",
        ),
    ]
    for tampered, expected in cases:
        assert verify_chain(tampered, REGISTRY).ok
        code, lines = _verify(tmp_path, tampered)
        assert code == 1
        assert len(lines) == 1, lines
        assert expected in lines[0]


def test_an_outsider_in_a_nodes_place_is_caught_with_or_without_the_node_list(
    exported: list[AuditEvent], tmp_path: Path
) -> None:
    index = _index(exported, "shares_deleted", "node-c")
    tampered = _replace(exported, index, OUTSIDER)
    code, lines = _verify(tmp_path, tampered)  # nodes inferred: four signers of node events
    assert code == 1
    assert "4 organisations sign node events" in lines[0]
    nodes = [arg for n in NODE_IDS for arg in ("--node", n)]
    code, lines = _verify(tmp_path, tampered, *nodes)
    assert code == 1
    assert lines == [
        f"audit log INVALID: seq {index + 1}: shares_deleted by 'outsider' breaks the rule: "
        "only a compute node signs shares_deleted"
    ]


def test_events_of_a_job_nobody_created_or_a_plan_without_parties_fail(
    exported: list[AuditEvent], tmp_path: Path
) -> None:
    created = _index(exported, "job_created")
    other = _replace(exported, created, FK, job="job-" + "ee" * 16)
    code, lines = _verify(tmp_path, other)
    assert code == 1
    assert "which no job_created event opened" in lines[0]
    bare = _replace(exported, 0, FK, details={"plan_digest": exported[0].details["plan_digest"]})
    code, lines = _verify(tmp_path, bare)
    assert code == 1
    assert "plan_submitted does not name the plan's owners and recipients" in lines[0]
