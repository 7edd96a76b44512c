"""Domain-separated signatures and plan approvals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.service.keys import Registry, generate
from tyst.service.signing import (
    Approval,
    ApprovalFormatError,
    ApprovalInvalid,
    SignatureInvalid,
    approve,
    format_utc,
    parse_utc,
    sign,
    signed_bytes,
    verify,
    verify_approval,
    verify_approvals,
)

FK = generate("fk")
MALMO = generate("malmo")
OUTSIDER = generate("outsider")
REGISTRY = Registry([FK.public(), MALMO.public()])
DIGEST = hashlib.sha256(b"plan v1").hexdigest()
OTHER_DIGEST = hashlib.sha256(b"plan v2").hexdigest()
T0 = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


def test_signed_bytes_layout() -> None:
    assert signed_bytes(b"msg", "approval") == b"tyst/1/approval\0msg"


@pytest.mark.parametrize("bad", ["", "Approval", "a\0b", "a b", "-x", "x" * 65, "å"])
def test_invalid_contexts_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid signature context"):
        sign(FK, b"m", bad)


def test_sign_verify_round_trip() -> None:
    sig = sign(FK, b"hello", "test")
    assert len(sig) == 64
    verify(FK.public(), sig, b"hello", "test")


def test_signature_is_bound_to_context_message_and_key() -> None:
    sig = sign(FK, b"hello", "test")
    with pytest.raises(SignatureInvalid, match="does not verify for organisation 'fk'"):
        verify(FK.public(), sig, b"hello", "audit")
    with pytest.raises(SignatureInvalid):
        verify(FK.public(), sig, b"hello!", "test")
    with pytest.raises(SignatureInvalid, match="'malmo'"):
        verify(MALMO.public(), sig, b"hello", "test")
    with pytest.raises(SignatureInvalid, match="malformed"):
        verify(FK.public(), sig[:63], b"hello", "test")


_contexts = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(_contexts, st.binary(max_size=8), _contexts, st.binary(max_size=8))
def test_domain_separation_is_injective(c1: str, m1: bytes, c2: str, m2: bytes) -> None:
    # a (context, message) pair can never be re-read as another pair
    assert (signed_bytes(m1, c1) == signed_bytes(m2, c2)) == ((c1, m1) == (c2, m2))
    assert (signed_bytes(m1, c1) == signed_bytes(m1 + m2, c1)) == (m2 == b"")


def test_a_signature_for_one_context_never_verifies_for_a_prefix_context() -> None:
    sig = sign(FK, b"x", "ab")
    with pytest.raises(SignatureInvalid):
        verify(FK.public(), sig, b"x", "a")
    with pytest.raises(SignatureInvalid):
        verify(FK.public(), sig, b"bx", "a")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 63), st.integers(0, 7))
def test_any_bit_flip_in_a_signature_is_rejected(message: bytes, pos: int, bit: int) -> None:
    sig = bytearray(sign(FK, message, "test"))
    sig[pos] ^= 1 << bit
    with pytest.raises(SignatureInvalid):
        verify(FK.public(), bytes(sig), message, "test")


def test_time_format() -> None:
    text = format_utc(dt.datetime(2026, 5, 4, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert text == "2026-05-04T09:30:00.000000Z"
    assert parse_utc(text) == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        format_utc(dt.datetime(2026, 5, 4))
    for bad in [
        "2026-05-04T09:30:00Z",
        "2026-05-04T09:30:00.000000+00:00",
        "2026-13-04T09:30:00.000000Z",
    ]:
        with pytest.raises(ValueError, match=r"YYYY|month|day|range|match"):
            parse_utc(bad)


def test_approval_round_trip() -> None:
    approval = approve(FK, DIGEST, now=T0)
    assert approval.org_id == "fk"
    assert approval.signed_at == "2026-05-04T09:30:00.000000Z"
    verify_approval(REGISTRY, approval, DIGEST)
    again = Approval.from_json(approval.to_json())
    assert again == approval
    assert Approval.from_dict(json.loads(json.dumps(approval.to_dict()))) == approval
    verify_approval(REGISTRY, again, DIGEST)


def test_approval_of_another_digest_is_rejected() -> None:
    approval = approve(FK, DIGEST)
    with pytest.raises(ApprovalInvalid, match="stale, or the plan was altered"):
        verify_approval(REGISTRY, approval, OTHER_DIGEST)
    # relabelling the approval with the new digest breaks the signature
    relabelled = dataclasses.replace(approval, plan_digest=OTHER_DIGEST)
    with pytest.raises(ApprovalInvalid, match="signature does not verify"):
        verify_approval(REGISTRY, relabelled, OTHER_DIGEST)


def test_approval_by_an_unregistered_org_is_rejected() -> None:
    approval = approve(OUTSIDER, DIGEST)
    with pytest.raises(ApprovalInvalid, match="'outsider': not a registered organisation"):
        verify_approval(REGISTRY, approval, DIGEST)


def test_forged_approvals_are_rejected() -> None:
    genuine = approve(MALMO, DIGEST, now=T0)
    # malmo's signature presented as fk's approval
    as_fk = dataclasses.replace(genuine, org_id="fk")
    with pytest.raises(ApprovalInvalid, match="'fk': the signature does not verify"):
        verify_approval(REGISTRY, as_fk, DIGEST)
    # an outsider signs fk's statement with its own key
    forged = Approval(
        DIGEST, "fk", genuine.signed_at, sign(OUTSIDER, genuine.statement(), "approval")
    )
    with pytest.raises(ApprovalInvalid):
        verify_approval(REGISTRY, forged, DIGEST)
    # a changed signing time
    later = dataclasses.replace(genuine, signed_at=format_utc(T0 + dt.timedelta(days=1)))
    with pytest.raises(ApprovalInvalid):
        verify_approval(REGISTRY, later, DIGEST)
    # fk's own signature of the statement, but under another context
    wrong_ctx = Approval(DIGEST, "fk", genuine.signed_at, sign(FK, genuine.statement(), "audit"))
    with pytest.raises(ApprovalInvalid):
        verify_approval(REGISTRY, wrong_ctx, DIGEST)
    # random bytes
    with pytest.raises(ApprovalInvalid):
        verify_approval(REGISTRY, dataclasses.replace(genuine, signature=bytes(64)), DIGEST)


def test_approval_time_window() -> None:
    approval = approve(FK, DIGEST, now=T0)
    verify_approval(REGISTRY, approval, DIGEST, not_before=T0, not_after=T0)
    with pytest.raises(ApprovalInvalid, match="before"):
        verify_approval(REGISTRY, approval, DIGEST, not_before=T0 + dt.timedelta(seconds=1))
    with pytest.raises(ApprovalInvalid, match="after"):
        verify_approval(REGISTRY, approval, DIGEST, not_after=T0 - dt.timedelta(seconds=1))


def test_all_required_approvals() -> None:
    a_fk = approve(FK, DIGEST)
    a_malmo = approve(MALMO, DIGEST)
    verify_approvals(REGISTRY, [a_fk, a_malmo], DIGEST, ["fk", "malmo"])
    with pytest.raises(ApprovalInvalid, match="missing approval by 'malmo'"):
        verify_approvals(REGISTRY, [a_fk], DIGEST, ["fk", "malmo"])
    with pytest.raises(ApprovalInvalid, match="not a required approver"):
        verify_approvals(REGISTRY, [a_fk, a_malmo], DIGEST, ["fk"])
    bad = dataclasses.replace(a_malmo, signature=bytes(64))
    with pytest.raises(ApprovalInvalid, match="'malmo'"):
        verify_approvals(REGISTRY, [a_fk, a_malmo, bad], DIGEST, ["fk", "malmo"])


def test_malformed_approvals() -> None:
    good = approve(FK, DIGEST).to_dict()
    with pytest.raises(ApprovalFormatError):
        Approval.from_json("{")
    with pytest.raises(ApprovalFormatError, match="members"):
        Approval.from_dict({**good, "extra": 1})
    with pytest.raises(ApprovalFormatError, match="hex"):
        Approval.from_dict({**good, "plan_digest": DIGEST.upper()})
    with pytest.raises(ApprovalFormatError, match="64 bytes"):
        Approval.from_dict({**good, "signature": "AAAA"})
    with pytest.raises(ApprovalFormatError, match="time"):
        Approval.from_dict({**good, "signed_at": "yesterday"})
    with pytest.raises(ValueError, match="hex"):
        approve(FK, "abc")
