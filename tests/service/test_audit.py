"""The hash-chained, signed audit log: appending, JSONL, and detecting every kind of tampering."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.service.audit import (
    GENESIS_HASH,
    AuditError,
    AuditEvent,
    AuditFormatError,
    AuditLog,
    Head,
    read_jsonl,
    sign_event,
    verify_chain,
    verify_jsonl,
)
from tyst.service.keys import OrgKeys, Registry, generate
from tyst.service.signing import format_utc, sign

FK = generate("fk")
MALMO = generate("malmo")
NODE_A = generate("node-a")
COORD = generate("coordinator")
OUTSIDER = generate("outsider")
REGISTRY = Registry([FK.public(), MALMO.public(), NODE_A.public(), COORD.public()])
T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
JOB = "job-2026-001"


def _build() -> AuditLog:
    log = AuditLog()
    steps: list[tuple[OrgKeys, str, dict[str, str | int]]] = [
        (COORD, "plan_submitted", {"plan_digest": "ab" * 32, "title": "Överlapp"}),
        (FK, "plan_approved", {"plan_digest": "ab" * 32}),
        (MALMO, "plan_approved", {"plan_digest": "ab" * 32}),
        (NODE_A, "upload_received", {"owner": "fk", "table": "sjukpenning", "rows": 10_000}),
        (NODE_A, "run_started", {}),
        (NODE_A, "run_finished", {"result_rows": 12, "bytes_sent": 123_456_789}),
        (NODE_A, "result_delivered", {"recipient": "fk"}),
        (NODE_A, "shares_deleted", {"files": 3}),
    ]
    for i, (keys, kind, details) in enumerate(steps):
        log.append(keys, kind, JOB, details, time=T0 + dt.timedelta(minutes=i))
    return log


LOG = _build()
EVENTS = list(LOG.events)


def _problem(events: list[AuditEvent], expected_head: Head | None = None) -> str:
    report = verify_chain(events, REGISTRY, expected_head=expected_head)
    assert not report.ok
    assert report.first_problem is not None
    assert "\n" not in report.first_problem
    return report.first_problem


def _with(event: AuditEvent, field: str, value: Any) -> AuditEvent:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(event, **changes)


def _rehash(event: AuditEvent) -> AuditEvent:
    return dataclasses.replace(event, hash=event.compute_hash())


def _resign(keys: OrgKeys, event: AuditEvent) -> AuditEvent:
    event = _rehash(event)
    return dataclasses.replace(event, signature=sign(keys, bytes.fromhex(event.hash), "audit"))


def test_a_genuine_log_verifies() -> None:
    report = verify_chain(EVENTS, REGISTRY)
    assert report.ok
    assert report.first_problem is None
    assert report.n_events == 8
    assert [e.seq for e in EVENTS] == list(range(1, 9))
    assert EVENTS[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(EVENTS))
    assert EVENTS[1].actor == "fk"
    assert EVENTS[0].time == "2026-05-04T09:00:00.000000Z"
    assert LOG.head() == Head(8, EVENTS[-1].hash)
    assert verify_chain([], REGISTRY).ok


def test_hash_covers_every_field_except_hash_and_signature() -> None:
    event = EVENTS[3]
    assert set(event.body()) == {"seq", "time", "actor", "kind", "job", "details", "prev_hash"}
    changes: list[tuple[str, Any]] = [
        ("seq", 5),
        ("time", "2026-05-04T09:03:00.000001Z"),
        ("actor", "malmo"),
        ("kind", "run_started"),
        ("job", "job-x"),
        ("details", {**event.details, "rows": 9_999}),
        ("prev_hash", "0" * 64),
    ]
    for name, value in changes:
        assert _with(event, name, value).compute_hash() != event.hash, name


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = LOG.export_jsonl(tmp_path / "audit.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8
    assert json.loads(lines[0])["kind"] == "plan_submitted"
    assert "Överlapp" in lines[0]
    events = read_jsonl(path)
    assert events == EVENTS
    assert verify_jsonl(path, REGISTRY).ok
    continued = AuditLog(events)
    continued.append(FK, "result_received", JOB, {"rows": 12})
    assert verify_chain(list(continued.events), REGISTRY).ok


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("details", {"owner": "fk", "table": "sjukpenning", "rows": 9_999}),
        ("time", "2026-05-04T08:00:00.000000Z"),
        ("actor", "malmo"),
        ("kind", "upload_received"),  # applied to seq 5 (run_started): another valid kind
        ("job", "job-other"),
    ],
)
def test_a_modified_field_is_detected(field: str, value: Any) -> None:
    target = EVENTS[4] if field == "kind" else EVENTS[3]  # seq 5 / seq 4
    events = list(EVENTS)
    events[target.seq - 1] = _with(target, field, value)
    problem = _problem(events)
    assert problem.startswith(f"seq {target.seq}: contents do not match the recorded hash")


def test_a_modified_detail_in_the_file_is_detected(tmp_path: Path) -> None:
    path = LOG.export_jsonl(tmp_path / "audit.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"rows":10000', '"rows":10001')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_jsonl(path, REGISTRY)
    assert not report.ok
    assert report.first_problem is not None
    assert report.first_problem.startswith("seq 4: contents do not match")


def test_a_modified_event_with_recomputed_hash_fails_its_signature() -> None:
    events = list(EVENTS)
    events[3] = _rehash(dataclasses.replace(EVENTS[3], details={"rows": 1}))
    assert _problem(events) == "seq 4: the signature does not verify for actor 'node-a'"


def test_a_rewritten_event_breaks_the_next_link() -> None:
    # node-a's event rewritten and re-signed by malmo under malmo's name
    events = list(EVENTS)
    events[3] = _resign(MALMO, dataclasses.replace(EVENTS[3], actor="malmo"))
    problem = _problem(events)
    assert problem.startswith("seq 5: prev_hash does not match the hash of seq 4")


def test_resigned_with_another_orgs_key_is_detected() -> None:
    events = list(EVENTS)
    events[1] = _resign(MALMO, EVENTS[1])  # fk's approval, signed by malmo
    assert _problem(events) == "seq 2: the signature does not verify for actor 'fk'"
    events[1] = _resign(OUTSIDER, EVENTS[1])
    assert _problem(events) == "seq 2: the signature does not verify for actor 'fk'"


def test_a_signature_from_another_context_is_rejected() -> None:
    events = list(EVENTS)
    events[1] = dataclasses.replace(
        EVENTS[1], signature=sign(FK, bytes.fromhex(EVENTS[1].hash), "approval")
    )
    assert _problem(events).startswith("seq 2: the signature does not verify")


def test_reordered_events_are_detected() -> None:
    events = list(EVENTS)
    events[2], events[3] = events[3], events[2]
    assert _problem(events).startswith("seq 4: found where seq 3 belongs")


def test_a_removed_event_is_detected() -> None:
    events = EVENTS[:4] + EVENTS[5:]
    assert _problem(events).startswith("seq 6: found where seq 5 belongs")
    assert _problem(EVENTS[1:]).startswith("seq 2: found where seq 1 belongs")


def test_a_removed_event_with_renumbering_is_detected() -> None:
    events = EVENTS[:4] + [_rehash(dataclasses.replace(e, seq=e.seq - 1)) for e in EVENTS[5:]]
    assert _problem(events).startswith("seq 5: prev_hash does not match the hash of seq 4")


def test_inserted_events_are_detected() -> None:
    # a well-formed event by a registered party, chained onto seq 3 ...
    fork = AuditLog(EVENTS[:3])
    fake = fork.append(COORD, "job_cancelled", JOB, {"reason": "none"})
    # ... inserted before the original seq 4
    events = [*EVENTS[:3], fake, *EVENTS[3:]]
    assert _problem(events).startswith("seq 4: found where seq 5 belongs")
    # ... and with everything after it renumbered and relinked (signatures can't be remade)
    relinked: list[AuditEvent] = [*EVENTS[:3], fake]
    for e in EVENTS[3:]:
        relinked.append(_rehash(dataclasses.replace(e, seq=e.seq + 1, prev_hash=relinked[-1].hash)))
    assert _problem(relinked) == "seq 5: the signature does not verify for actor 'node-a'"
    # an event that is a copy of another
    assert _problem([*EVENTS[:3], EVENTS[2], *EVENTS[3:]]).startswith(
        "seq 3: found where seq 4 belongs"
    )


def test_unregistered_actor_and_unknown_kind() -> None:
    log = AuditLog(EVENTS[:2])
    log.append(OUTSIDER, "plan_approved", JOB, {})
    assert _problem(list(log.events)) == "seq 3: actor 'outsider' is not in the registry"
    events = list(EVENTS)
    events[2] = _resign(MALMO, dataclasses.replace(EVENTS[2], kind="plan_exfiltrated"))
    assert _problem(events) == "seq 3: unknown event kind 'plan_exfiltrated'"


def test_truncated_tail_needs_a_trusted_head() -> None:
    head = Head(6, EVENTS[5].hash)  # what fk saw after the run finished
    assert verify_chain(EVENTS, REGISTRY, expected_head=head).ok  # the log grew since: fine
    truncated = EVENTS[:5]
    assert verify_chain(truncated, REGISTRY).ok  # undetectable from the log alone
    problem = _problem(truncated, expected_head=head)
    assert problem.startswith("seq 6: missing — the log ends at seq 5")
    assert _problem([], expected_head=head).startswith("seq 6: missing — the log ends at no events")
    # a tail replaced by a different, validly signed one
    fork = AuditLog(EVENTS[:5])
    fork.append(NODE_A, "run_failed", JOB, {"error": "node c unreachable"})
    assert _problem(list(fork.events), expected_head=head).startswith(
        "seq 6: hash differs from the trusted head"
    )
    assert verify_chain(EVENTS, REGISTRY, expected_head=Head(0, GENESIS_HASH)).ok


def test_draft_sign_append_across_processes() -> None:
    log = AuditLog(EVENTS)
    draft = log.draft("node-a", "result_delivered", JOB, {"recipient": "malmo"})
    assert draft.signature == b""
    assert draft.seq == 9
    with pytest.raises(AuditError, match="not signed"):
        log.append_signed(draft, REGISTRY)
    with pytest.raises(AuditError, match="cannot be signed by 'fk'"):
        sign_event(FK, draft)
    with pytest.raises(AuditError, match="hash does not match"):
        sign_event(NODE_A, dataclasses.replace(draft, details={"recipient": "fk"}))
    forged = dataclasses.replace(draft, signature=sign(FK, bytes.fromhex(draft.hash), "audit"))
    with pytest.raises(AuditError, match="does not verify"):
        log.append_signed(forged, REGISTRY)
    signed = sign_event(NODE_A, draft)
    log.append(FK, "result_received", JOB, {})  # somebody else got there first
    with pytest.raises(AuditError, match="seq 9: found where seq 10 belongs"):
        log.append_signed(signed, REGISTRY)
    redraft = log.draft("node-a", "result_delivered", JOB, {"recipient": "malmo"})
    log.append_signed(sign_event(NODE_A, redraft), REGISTRY)
    assert verify_chain(list(log.events), REGISTRY).ok


def test_continuing_a_broken_log_is_refused() -> None:
    events = list(EVENTS)
    events[2], events[3] = events[3], events[2]
    with pytest.raises(AuditError, match="seq 4"):
        AuditLog(events)
    with pytest.raises(AuditError, match="seq 2: contents do not match"):
        AuditLog([EVENTS[0], dataclasses.replace(EVENTS[1], job="other")])


@pytest.mark.parametrize(
    "details",
    [
        {"x": 1.5},
        {"x": True},
        {"x": b"raw"},
        {"x": [1, 2]},
        {"x": {"nested": 1}},
        {"Bad-Key": 1},
        {"x": "y" * 1001},
        {"x": 2**53},
        {f"k{i}": i for i in range(33)},
    ],
)
def test_details_are_restricted(details: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="details"):
        AuditLog().append(FK, "plan_approved", JOB, details)


def test_invalid_kind_job_and_time() -> None:
    with pytest.raises(ValueError, match="unknown audit event kind"):
        AuditLog().append(FK, "plan_leaked", JOB, {})
    with pytest.raises(ValueError, match="invalid job id"):
        AuditLog().append(FK, "plan_approved", "job with spaces", {})
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditLog().append(FK, "plan_approved", JOB, {}, time=dt.datetime(2026, 1, 1))


def test_malformed_jsonl_lines(tmp_path: Path) -> None:
    path = LOG.export_jsonl(tmp_path / "audit.jsonl")
    good = path.read_text(encoding="utf-8").splitlines()
    cases = {
        "not json": "{",
        "members": json.dumps({"seq": 2}),
        "seq must be an integer": good[1].replace('"seq":2', '"seq":"2"'),
        "base64": good[1].replace('"signature":"', '"signature":"!'),
        "details": good[1].replace('"details":{', '"details":{"x":[1],'),
    }
    for expected, line in cases.items():
        path.write_text("\n".join([good[0], line, *good[2:]]) + "\n", encoding="utf-8")
        with pytest.raises(AuditFormatError, match=r"audit\.jsonl:2: ") as err:
            read_jsonl(path)
        if expected != "not json":
            assert expected in str(err.value)
        report = verify_jsonl(path, REGISTRY)
        assert not report.ok
        assert ":2:" in (report.first_problem or "")
    path.write_text("\n".join([good[0], "", *good[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(AuditFormatError, match=":2:"):
        read_jsonl(path)
    path.write_bytes(b"\xff\n")
    with pytest.raises(AuditFormatError, match=":1:"):
        read_jsonl(path)


_MUTABLE = ("seq", "time", "actor", "kind", "job", "details", "prev_hash", "hash", "signature")


@settings(max_examples=120, deadline=None)
@given(st.integers(0, len(EVENTS) - 1), st.sampled_from(_MUTABLE), st.data())
def test_any_single_field_change_is_detected_at_that_event(
    index: int, field: str, data: st.DataObject
) -> None:
    event = EVENTS[index]
    value: Any
    if field == "seq":
        value = data.draw(st.integers(-5, 20).filter(lambda s: s != event.seq))
    elif field == "time":
        value = data.draw(
            st.datetimes(timezones=st.just(dt.UTC))
            .map(format_utc)
            .filter(lambda t: t != event.time)
        )
    elif field == "actor":
        value = data.draw(st.sampled_from(REGISTRY.org_ids()).filter(lambda a: a != event.actor))
    elif field == "kind":
        value = data.draw(
            st.sampled_from(["run_failed", "job_cancelled"]).filter(lambda k: k != event.kind)
        )
    elif field == "job":
        value = data.draw(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True))
    elif field == "details":
        value = {
            **event.details,
            data.draw(st.sampled_from(["rows", "note"])): data.draw(st.integers(0, 9)),
        }
        if value == event.details:
            value = {}
    elif field in ("prev_hash", "hash"):
        current = getattr(event, field)
        pos = data.draw(st.integers(0, 63))
        value = current[:pos] + ("0" if current[pos] != "0" else "1") + current[pos + 1 :]
    else:
        sig = bytearray(event.signature)
        sig[data.draw(st.integers(0, 63))] ^= 1 << data.draw(st.integers(0, 7))
        value = bytes(sig)
    if value == getattr(event, field):
        return
    events = list(EVENTS)
    events[index] = _with(event, field, value)
    problem = _problem(events)
    named = event.seq if field != "seq" else value
    assert problem.startswith(f"seq {named}: "), problem
