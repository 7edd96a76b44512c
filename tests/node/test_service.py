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
from tyst.api.uploads import Chunk, UploadHeader, UploadReader, UploadWriter
from tyst.coordinator.protocol import EVENT_ID, is_event_id
from tyst.net.certs import make_deployment
from tyst.node.config import NodeConfig
from tyst.node.service import NodeService, Refused
from tyst.node.store import StoreError, TableWriter
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec
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
        recorded = dict(details)
        assert is_event_id(recorded.pop(EVENT_ID))  # every event names itself for redelivery
        self.events.append((kind, recorded))
        return {}

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def _service(
    tmp_path: Path,
    coordinator: LyingCoordinator,
    upload_timeout: float = 40 * 86400,
    max_table_bytes: int = 1 << 30,
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
        timeout=2.0,
        connect_timeout=2.0,
        run_deadline=10.0,
        upload_timeout=upload_timeout,
        max_table_bytes=max_table_bytes,
    )
    return NodeService(config, NODE, REGISTRY, creds[1], coordinator)  # type: ignore[arg-type]


def _header(
    table: str = "bistand",
    owner: str = "malmo",
    party: int = 1,
    rows: int = 4,
    job: str = JOB,
    digest: str = DIGEST,
) -> UploadHeader:
    return UploadHeader(job, digest, table, owner, party, job_spec(PLAN).lanes(table), rows)


def _signed(header: UploadHeader, keys: OrgKeys | None = None) -> tuple[UploadHeader, bytes]:
    """The header and its owner's signature (as the node's reader hands them over)."""
    signer = keys if keys is not None else {"malmo": MALMO, "fk": FK}[header.owner]
    reader = UploadReader()
    reader.feed(UploadWriter(header).start(signer))
    return header, reader.header_signature


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
        service.begin_upload(JOB, "bistand", *_signed(_header()))
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
        (UploadHeader(JOB, DIGEST, "nosuch", "malmo", 1, (), 4), 400, "no table"),
        (
            UploadHeader(JOB, DIGEST, "bistand", "malmo", 1, (("pnr", 2),), 4),
            400,
            "columns differ",
        ),
        (UploadHeader(JOB, "ab" * 32, "bistand", "malmo", 1, (), 4), 400, "another plan digest"),
        (_header(rows=10**12), 413, "the plan allows"),
    ],
    ids=[
        "other-node",
        "not-the-owner",
        "unknown-table",
        "other-columns",
        "other-digest",
        "too-many-rows",
    ],
)
def test_uploads_that_do_not_match_the_signed_plan_are_refused(
    tmp_path: Path, header: UploadHeader, status: int, message: str
) -> None:
    service = _service(tmp_path, LyingCoordinator(ISSUE_PLAN, _both()))
    table = header.table
    with pytest.raises(Refused, match=message) as info:
        service.begin_upload(JOB, table, *_signed(header))
    assert info.value.status == status


def _stream(
    keys: OrgKeys,
    rows: int = 4,
    table: str = "bistand",
    header_keys: OrgKeys | None = None,
    digest: str = DIGEST,
) -> bytes:
    """A whole upload stream for ``table``; the header signed by ``header_keys`` (else ``keys``)."""
    owner = PLAN.tables[table].owner
    header = _header(table, owner, rows=rows, digest=digest)
    writer = UploadWriter(header)
    lanes = [(np.arange(rows, dtype=np.uint64), np.arange(rows, dtype=np.uint64))] * header.lanes
    start = writer.start(header_keys if header_keys is not None else keys)
    return start + writer.chunk(lanes, rows) + writer.finish(keys, [])


def _feed(
    service: NodeService, data: bytes, table: str = "bistand"
) -> tuple[UploadReader, TableWriter]:
    """What the node's HTTP route does with a stream, up to (not including) the trailer check."""
    reader = UploadReader()
    store_writer = None
    for frame in reader.feed(data):
        if isinstance(frame, UploadHeader):
            store_writer = service.begin_upload(JOB, table, frame, reader.header_signature)
        elif store_writer is not None and isinstance(frame, Chunk):
            store_writer.write(frame.payload)
    assert store_writer is not None
    return reader, store_writer


def _upload(
    service: NodeService,
    keys: OrgKeys,
    rows: int = 4,
    table: str = "bistand",
    digest: str = DIGEST,
) -> dict[str, Any]:
    data = _stream(keys, rows, table, header_keys=keys, digest=digest)
    reader, store_writer = _feed(service, data, table)
    return service.finish_upload(JOB, table, reader, store_writer)


def test_a_signed_upload_is_stored_encrypted_and_receipted(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    answer = _upload(service, MALMO)
    assert answer == {"job": JOB, "table": "bistand", "rows": 4, "complete": False}
    assert coordinator.kinds() == ["upload_received"]
    assert coordinator.events[0][1]["rows"] == 4
    assert set(service.store.tables(JOB)) == {"bistand"}
    with pytest.raises(Refused, match="already uploaded"):
        service.begin_upload(JOB, "bistand", *_signed(_header()))


def test_an_upload_signed_by_another_organisation_is_not_stored(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    with pytest.raises(Refused, match="signature") as info:
        _upload(service, FK)  # header and trailer signed by fk, not by the owner malmo
    assert info.value.status == 403
    assert service.store.jobs() == []
    assert coordinator.kinds() == []
    reader, writer = _feed(service, _stream(FK, header_keys=MALMO))  # only the header is malmo's
    with pytest.raises(Refused, match="signature") as info:
        service.finish_upload(JOB, "bistand", reader, writer)
    assert info.value.status == 403
    assert service.store.jobs() == []  # the unverified chunks are deleted
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
        {"files": 3, "bytes": coordinator.events[-1][1]["bytes"], "reason": "upload_timeout"},
    )


# ---------------------------------------------------------------- finding 2: one plan per job

P2_TEXT = ALTERED  # another plan, approved by both owners too
P2 = parse_plan(P2_TEXT).digest()


def _approved(toml: str) -> list[Approval]:
    digest = parse_plan(toml).digest()
    return [approve(FK, digest), approve(MALMO, digest)]


def _switch(coordinator: LyingCoordinator, toml: str) -> None:
    """The coordinator now names another approved plan for the same job."""
    coordinator.toml = toml
    coordinator.approvals = _approved(toml)
    coordinator.plan_id = parse_plan(toml).digest()


def test_an_upload_for_another_plan_than_the_jobs_first_upload_is_refused(tmp_path: Path) -> None:
    """A coordinator names plan P1 while malmo uploads and P2 while fk uploads: refused."""
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _upload(service, MALMO)
    assert service.store.bound_digest(JOB) == DIGEST
    assert service.store.tables(JOB)["bistand"].plan_digest == DIGEST
    _switch(coordinator, P2_TEXT)
    with pytest.raises(Refused, match="uploads here are for plan") as info:
        _upload(service, FK, table="sjukpenning", digest=P2)
    assert info.value.status == 403
    assert "plan_rejected" in coordinator.kinds()
    assert "upload_received" not in coordinator.kinds()[1:]
    assert service.store.jobs() == []  # malmo's shares are deleted, not reused for P2
    _switch(coordinator, ISSUE_PLAN)  # and the job stays refused here
    with pytest.raises(Refused, match="refused by this node"):
        _upload(service, FK, table="sjukpenning")


def test_the_first_committed_upload_fixes_the_plan_even_when_streams_overlap(
    tmp_path: Path,
) -> None:
    """Both headers are checked while the coordinator says P1 / P2; the second commit loses."""
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    reader_a, writer_a = _feed(service, _stream(MALMO))
    _switch(coordinator, P2_TEXT)
    reader_b, writer_b = _feed(service, _stream(FK, table="sjukpenning", digest=P2), "sjukpenning")
    service.finish_upload(JOB, "bistand", reader_a, writer_a)
    with pytest.raises(Refused, match="uploads here are for plan"):
        service.finish_upload(JOB, "sjukpenning", reader_b, writer_b)
    assert coordinator.kinds() == ["upload_received", "plan_rejected", "shares_deleted"]
    assert service.store.jobs() == []


def _complete(service: NodeService) -> None:
    _upload(service, MALMO)
    answer = _upload(service, FK, table="sjukpenning")
    assert answer["complete"] is True
    assert service.job_view(JOB)["state"] == "queued"


def test_a_run_under_another_plan_than_the_uploads_is_refused(tmp_path: Path) -> None:
    """Both owners uploaded for P1; at run time the coordinator names P2: the node refuses."""
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _complete(service)
    _switch(coordinator, P2_TEXT)
    service._run(JOB)
    kinds = coordinator.kinds()
    assert "run_started" not in kinds
    assert kinds[-2:] == ["plan_rejected", "shares_deleted"]
    assert service.store.jobs() == []
    assert service.job_view(JOB)["state"] == "deleted"


def test_a_run_is_refused_when_a_stored_table_names_another_plan(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _complete(service)
    meta = service.store.root / JOB / "sjukpenning.json"
    meta.write_text(meta.read_text().replace(DIGEST, P2))
    service._run(JOB)
    assert "run_started" not in coordinator.kinds()
    assert coordinator.kinds()[-2:] == ["plan_rejected", "shares_deleted"]
    assert service.store.jobs() == []


@pytest.mark.parametrize(
    ("events", "plan_extra"),
    [
        ([{"actor": "nod-a", "kind": "plan_rejected", "details": {}}], {}),
        ([{"actor": "fk", "kind": "job_cancelled", "details": {}}], {}),
        ([], {"state": "rejected", "rejected_by": ["malmo"]}),
    ],
    ids=["rejected-by-another-node", "withdrawn-by-a-party", "plan-rejected-by-an-owner"],
)
def test_a_rejected_or_withdrawn_job_does_not_run(
    tmp_path: Path, events: list[dict[str, Any]], plan_extra: dict[str, Any]
) -> None:
    coordinator = WithdrawingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    _complete(service)
    coordinator.extra_events, coordinator.plan_extra = events, plan_extra
    service._run(JOB)
    assert "run_started" not in coordinator.kinds()
    assert coordinator.kinds()[-2:] == ["plan_rejected", "shares_deleted"]
    assert "withdrawn" in coordinator.events[-2][1]["reason"]
    assert service.store.jobs() == []


class WithdrawingCoordinator(LyingCoordinator):
    """Reports the job's events and the plan's state as the test sets them."""

    extra_events: list[dict[str, Any]] = []  # noqa: RUF012
    plan_extra: dict[str, Any] = {}  # noqa: RUF012

    def job(self, job: str) -> dict[str, Any]:
        return {**super().job(job), "events": self.extra_events}

    def plan(self, plan_id: str) -> dict[str, Any]:
        return {**super().plan(plan_id), **self.plan_extra}


def test_a_job_this_node_refused_stays_refused(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, [approve(FK, DIGEST)])  # malmo's approval missing
    service = _service(tmp_path, coordinator)
    with pytest.raises(Refused, match="missing approval"):
        _upload(service, MALMO)
    coordinator.approvals = _both()
    with pytest.raises(Refused, match="refused by this node") as info:
        _upload(service, MALMO)
    assert info.value.status == 403
    assert service.store.jobs() == []


# ---------------------------------------------------------------- findings 4 and 5: bounds, slots


def test_an_upload_bigger_than_the_node_allows_is_refused_from_its_header(tmp_path: Path) -> None:
    service = _service(tmp_path, LyingCoordinator(ISSUE_PLAN, _both()), max_table_bytes=10_000)
    lanes = job_spec(PLAN).lanes("bistand")
    per_row = 16 * sum(n for _, n in lanes) + 40
    service.begin_upload(JOB, "bistand", *_signed(_header(rows=10_000 // per_row)))
    with pytest.raises(Refused, match="at most 10000") as info:
        service.begin_upload(JOB, "bistand", *_signed(_header(rows=10_000 // per_row + 1)))
    assert info.value.status == 413


def test_an_abandoned_stream_does_not_take_the_table_slot(tmp_path: Path) -> None:
    """The owner's first stream stalls after its header; its retry succeeds (old code: 409)."""
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    stalled = service.begin_upload(JOB, "bistand", *_signed(_header()))
    answer = _upload(service, MALMO)
    assert answer["rows"] == 4
    parts = list((service.store.root / JOB).glob("*.part"))
    assert parts == []  # the stalled stream's partial file is gone
    with pytest.raises(StoreError, match="replaced"):
        stalled.write(b"\0" * 8)
    with pytest.raises(Refused, match="already uploaded") as info:  # a committed slot is kept
        service.begin_upload(JOB, "bistand", *_signed(_header()))
    assert info.value.status == 409


def test_a_stalled_stream_is_dropped_after_the_upload_timeout(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator, upload_timeout=3600)
    stalled = service.begin_upload(JOB, "bistand", *_signed(_header()))
    service.sweep(now=time.time() + 3000)
    assert len(list(service.store.root.rglob("*.part"))) == 1
    service.sweep(now=time.time() + 3700)
    # the part file, the job's directory and key are gone; the outbox is empty
    assert [p.name for p in service.store.root.iterdir()] == ["outbox"]
    assert len(service.outbox) == 0
    assert not service.store.has_key(JOB)
    with pytest.raises(StoreError, match="stalled"):
        stalled.write(b"\0" * 8)
    assert _upload(service, MALMO)["rows"] == 4


def test_a_replaced_stream_cannot_commit(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    reader_1, writer_1 = _feed(service, _stream(MALMO))
    reader_2, writer_2 = _feed(service, _stream(MALMO))
    with pytest.raises(Refused, match="replaced") as info:
        service.finish_upload(JOB, "bistand", reader_1, writer_1)
    assert info.value.status == 409
    assert service.finish_upload(JOB, "bistand", reader_2, writer_2)["rows"] == 4
    assert coordinator.kinds() == ["upload_received"]


def test_a_header_not_signed_by_the_owner_reserves_nothing(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator)
    for keys in (FK, generate("malmo")):  # another organisation; an impostor of the owner
        with pytest.raises(Refused, match="header refused") as info:
            service.begin_upload(JOB, "bistand", *_signed(_header(), keys))
        assert info.value.status == 403
    assert service.store.jobs() == []
    assert coordinator.kinds() == []
    assert _upload(service, MALMO)["rows"] == 4


# ---------------------------------------------------------------- finding 11: strict job ids


@pytest.mark.parametrize(
    "job",
    [
        JOB + "?",
        JOB + "#",
        JOB.upper(),
        "job-" + "1" * 31,
        "../" + JOB,
        JOB + "/x",
        "job-" + "g" * 32,
    ],
)
def test_a_job_id_not_of_the_coordinators_form_is_refused(tmp_path: Path, job: str) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())  # it would serve any id
    service = _service(tmp_path, coordinator)
    header = _header(job=job)
    with pytest.raises(Refused) as info:
        service.begin_upload(job, "bistand", *_signed(header))
    assert info.value.status == 404
    with pytest.raises(Refused) as info:
        service.job_view(job)
    assert info.value.status == 404
    assert [p.name for p in service.store.root.iterdir()] == ["outbox"]
    assert coordinator.kinds() == []


def test_peer_failures_name_the_organisation_and_address(tmp_path: Path) -> None:
    service = _service(tmp_path, LyingCoordinator(ISSUE_PLAN, _both()))
    message = "PeerDisconnected: party 1: party 2 closed its link"
    named = service.name_parties(message)
    host, port = service.config.mesh[2]
    assert named == (
        f"PeerDisconnected: party 1 (nod-b at {service.config.mesh[1][0]}:"
        f"{service.config.mesh[1][1]}): party 2 (nod-c at {host}:{port}) closed its link"
    )
    assert service.name_parties(named) == named  # naming twice changes nothing
    assert service.name_parties("a third party 7 said") == "a third party 7 said"


def test_the_node_metrics_count_uploads_failures_and_job_states(tmp_path: Path) -> None:
    coordinator = LyingCoordinator(ISSUE_PLAN, _both())
    service = _service(tmp_path, coordinator, upload_timeout=3600)
    registry = service.telemetry.registry

    def value(name: str, **labels: str) -> float:
        found = registry.get_sample_value(name, labels)
        assert found is not None, (name, labels)
        return found

    _upload(service, MALMO, rows=7)
    assert value("tyst_node_upload_rows_count") == 1
    assert value("tyst_node_upload_rows_sum") == 7
    upload = next(d for k, d in coordinator.events if k == "upload_received")
    assert value("tyst_node_upload_bytes_sum") == upload["bytes"]
    assert value("tyst_node_jobs", state="uploading") == 1
    assert value("tyst_node_failures_total", kind="upload_timeout") == 0
    service.sweep(now=time.time() + 3700)
    assert value("tyst_node_failures_total", kind="upload_timeout") == 1
    assert value("tyst_node_jobs", state="uploading") == 0
    assert value("tyst_node_jobs", state="deleted") == 1
    assert value("tyst_node_runs_total", outcome="failed") == 0  # it never ran
    service.telemetry.failed("not-a-kind")
    assert value("tyst_node_failures_total", kind="other") == 1
