"""A node's own checks, against a coordinator that lies: approvals, uploads, retention.

The coordinator here is a stub that serves whatever plan text and approvals the
test gives it — a malicious coordinator. Every refusal must come from the
node's own verification against its registry.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.examples import ISSUE_PLAN
from tyst.api.uploads import UploadHeader, UploadReader, UploadWriter
from tyst.engine.jobspec import job_spec
from tyst.net.certs import make_deployment
from tyst.node.config import NodeConfig
from tyst.node.service import NodeService, Refused
from tyst.plan import parse_plan
from tyst.service.keys import OrgKeys, Registry, generate
from tyst.service.signing import Approval, approve

FK, MALMO, NODE = generate("fk"), generate("malmo"), generate("nod-b")
REGISTRY = Registry([FK.public(), MALMO.public(), NODE.public()])
PLAN = parse_plan(ISSUE_PLAN)
DIGEST = PLAN.digest()
JOB = "job-" + "1" * 32


class LyingCoordinator:
    """Serves the given plan text and approvals for any job; records the node's events."""

    def __init__(self, toml: str, approvals: list[Approval], plan_id: str = DIGEST) -> None:
        self.toml, self.approvals, self.plan_id = toml, approvals, plan_id
        self.state = "created"
        self.events: list[tuple[str, dict[str, Any]]] = []

    def job(self, job: str) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "state": self.state, "events": [], "results": []}

    def plan(self, plan_id: str) -> dict[str, Any]:
        return {"toml": self.toml, "approvals": [a.to_dict() for a in self.approvals]}

    def job_event(self, job: str, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        self.events.append((kind, dict(details)))
        return {}

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def _service(
    tmp_path: Path, coordinator: LyingCoordinator, upload_timeout: float = 40 * 86400
) -> NodeService:
    _, creds = make_deployment()
    config = NodeConfig(
        org="nod-b",
        party=1,
        nodes=("nod-a", "nod-b", "nod-c"),
        keys=tmp_path,
        passphrase_file=None,
        registry=tmp_path,
        registry_fingerprint=None,
        tls=tmp_path,
        store=tmp_path / "store",
        coordinator="https://127.0.0.1:1",
        coordinator_ca=None,
        host="127.0.0.1",
        port=1,
        mesh=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)),
        upload_timeout=upload_timeout,
    )
    return NodeService(config, NODE, REGISTRY, creds[1], coordinator)  # type: ignore[arg-type]


def _header(table: str = "bistand", owner: str = "malmo", party: int = 1) -> UploadHeader:
    return UploadHeader(JOB, DIGEST, table, owner, party, job_spec(PLAN).lanes(table))


def _both() -> list[Approval]:
    return [approve(FK, DIGEST), approve(MALMO, DIGEST)]


def _forged(org: str) -> Approval:
    impostor: OrgKeys = generate(org)  # same id, a key the registry does not know
    return approve(impostor, DIGEST)


ALTERED = ISSUE_PLAN.replace('recipients = ["fk"]', 'recipients = ["malmo"]')


@pytest.mark.parametrize(
    ("toml", "approvals", "message"),
    [
        (ISSUE_PLAN, [approve(FK, DIGEST), _forged("malmo")], "does not verify"),
        (ISSUE_PLAN, [approve(FK, DIGEST)], "missing approval by 'malmo'"),
        (ISSUE_PLAN, [approve(FK, DIGEST), approve(MALMO, "ab" * 32)], "stale"),
        (ALTERED, _both(), "not the job's plan"),
        (
            ISSUE_PLAN,
            [*_both(), approve(NODE, DIGEST)],
            "not a required approver",
        ),
    ],
    ids=["forged", "missing", "stale", "altered-after-signing", "non-owner"],
)
def test_every_bad_authorisation_is_refused_by_the_node(
    tmp_path: Path, toml: str, approvals: list[Approval], message: str
) -> None:
    coordinator = LyingCoordinator(toml, approvals)
    service = _service(tmp_path, coordinator)
    with pytest.raises(Refused, match=message) as info:
        service.begin_upload(JOB, "bistand", _header())
    assert info.value.status == 403
    assert "\n" not in str(info.value)
    assert coordinator.kinds() == ["plan_rejected"]
    assert service.store.jobs() == []


def test_an_approval_dated_in_the_future_is_refused(tmp_path: Path) -> None:
    later = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=1)
    coordinator = LyingCoordinator(
        ISSUE_PLAN, [approve(FK, DIGEST), approve(MALMO, DIGEST, now=later)]
    )
    with pytest.raises(Refused, match="after"):
        _service(tmp_path, coordinator).authorise(JOB)


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        (_header(party=2), 400, "shares are for node 2"),
        (_header(owner="fk"), 403, "belongs to 'malmo'"),
        (UploadHeader(JOB, DIGEST, "nosuch", "malmo", 1, ()), 400, "no table"),
        (
            UploadHeader(JOB, DIGEST, "bistand", "malmo", 1, (("pnr", 2),)),
            400,
            "columns differ",
        ),
        (UploadHeader(JOB, "ab" * 32, "bistand", "malmo", 1, ()), 400, "another plan digest"),
    ],
    ids=["other-node", "not-the-owner", "unknown-table", "other-columns", "other-digest"],
)
def test_uploads_that_do_not_match_the_signed_plan_are_refused(
    tmp_path: Path, header: UploadHeader, status: int, message: str
) -> None:
    service = _service(tmp_path, LyingCoordinator(ISSUE_PLAN, _both()))
    table = header.table
    with pytest.raises(Refused, match=message) as info:
        service.begin_upload(JOB, table, header)
    assert info.value.status == status


def _upload(service: NodeService, keys: OrgKeys, rows: int = 4) -> dict[str, Any]:
    header = _header()
    writer = UploadWriter(header)
    lanes = [(np.arange(rows, dtype=np.uint64), np.arange(rows, dtype=np.uint64))] * header.lanes
    data = writer.start() + writer.chunk(lanes) + writer.finish(keys, [])
    reader = UploadReader()
    store_writer = None
    for frame in reader.feed(data):
        if isinstance(frame, UploadHeader):
            store_writer = service.begin_upload(JOB, "bistand", frame)
        elif store_writer is not None and hasattr(frame, "payload"):
            store_writer.write(frame.payload)
    assert store_writer is not None
    return service.finish_upload(JOB, "bistand", reader, store_writer)


def test_a_signed_upload_is_stored_encrypted_and_receipted(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    answer = _upload(service, MALMO)
    assert answer == {"job": JOB, "table": "bistand", "rows": 4, "complete": False}
    assert coordinator.kinds() == ["upload_received"]
    assert coordinator.events[0][1]["rows"] == 4
    assert set(service.store.tables(JOB)) == {"bistand"}
    with pytest.raises(Refused, match="already uploaded"):
        service.begin_upload(JOB, "bistand", _header())


def test_an_upload_signed_by_another_organisation_is_not_stored(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    with pytest.raises(Refused, match="signature") as info:
        _upload(service, FK)
    assert info.value.status == 403
    assert service.store.tables(JOB) == {}
    assert coordinator.kinds() == []


def test_retention_deadline_deletes_and_signs_a_receipt(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _upload(service, MALMO)
    service.sweep(now=time.time() + 29 * 86400)  # before the deadline: kept (job alive upstream)
    assert service.store.jobs() == [JOB]
    service.sweep(now=time.time() + 31 * 86400)  # retention_days = 30
    assert service.store.jobs() == []
    assert coordinator.kinds()[-2:] == ["run_failed", "shares_deleted"]
    assert coordinator.events[-1][1]["reason"] == "retention"
    assert service.job_view(JOB)["state"] == "deleted"


def test_a_job_that_failed_elsewhere_is_deleted_here(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _upload(service, MALMO)
    coordinator.state = "failed"
    service.sweep()
    assert service.store.jobs() == []
    assert coordinator.kinds()[-1] == "shares_deleted"


def test_uploads_that_stay_incomplete_time_out(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator, upload_timeout=3600)
    _upload(service, MALMO)
    service.sweep(now=time.time() + 3000)
    assert service.store.jobs() == [JOB]
    service.sweep(now=time.time() + 3700)
    assert service.store.jobs() == []
    assert coordinator.events[-1] == (
        "shares_deleted",
        {"files": 2, "bytes": coordinator.events[-1][1]["bytes"], "reason": "upload_timeout"},
    )
