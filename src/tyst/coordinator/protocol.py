"""What the coordinator, the nodes and the clients must compute the same way.

Pure functions over :mod:`tyst.service` (no FastAPI, no SQLAlchemy), so that
nodes and the owners' and recipients' clients can import this module alone.

Contract
--------
- **Plan ids.** A plan's id is its digest (:meth:`tyst.plan.Plan.digest`, 64
  lowercase hex): content-addressed, so submitting the same plan twice (even
  reformatted) names the same plan.
- **Audit ``job`` field.** Events about a plan as a whole (``plan_submitted``,
  ``plan_approved``, an owner's ``plan_rejected``) carry
  ``job = plan_audit_job(digest) = "plan:" + digest`` and
  ``details["plan_digest"] = digest``. Events about a job carry the job id
  (``job-`` followed by 32 lowercase hex characters, chosen by the coordinator).
- **Job states** (:data:`JOB_STATES`): ``created → uploading → running →
  finished | failed → deleted``; see :mod:`tyst.coordinator.ledger` for which
  signed event moves a job from one state to the next.
- **Result relay.** A node posts each sealed result blob for one recipient with
  two headers: :data:`SENDER_HEADER` (its organisation id) and
  :data:`SIGNATURE_HEADER` (base64 Ed25519 signature under context
  :data:`RESULT_CONTEXT` of :func:`result_statement`, which covers the job,
  the recipient, the sender and the SHA-256 of the blob). The coordinator
  verifies and keeps the signature; the recipient re-verifies it with
  :func:`verify_result` before opening the blob (sealing alone is anonymous).

Errors: :class:`tyst.service.signing.SignatureInvalid` from :func:`verify_result`;
:class:`ValueError` for malformed ids or digests.
"""

from __future__ import annotations

import hashlib
import re

from tyst.service.keys import OrgKeys, Registry, UnknownOrganisation, canonical_json, encode_b64
from tyst.service.signing import SignatureInvalid, sign, verify

PLAN_JOB_PREFIX = "plan:"
"""Prefix of the audit ``job`` field of plan-level events."""

JOB_STATES: tuple[str, ...] = ("created", "uploading", "running", "finished", "failed", "deleted")
"""Every state a job can be in, in lifecycle order."""

NODE_EVENT_KINDS: frozenset[str] = frozenset(
    {
        "upload_received",
        "run_started",
        "run_finished",
        "run_failed",
        "result_delivered",
        "shares_deleted",
    }
)
"""Job events only a compute node may sign."""

JOB_EVENT_KINDS: frozenset[str] = NODE_EVENT_KINDS | {
    "plan_rejected",
    "result_received",
    "job_cancelled",
}
"""Every audit event kind accepted by ``PUT /jobs/{id}/events``."""

NODE_COUNT = 3
"""Compute nodes per deployment (three-party replicated secret sharing)."""

RESULT_CONTEXT = "result-relay"
"""Signature context of a relayed result blob (see :func:`result_statement`)."""

RESULT_FORMAT = "tyst-result-relay/1"
"""The ``format`` member of the signed result-relay statement."""

SENDER_HEADER = "X-Tyst-Sender"
"""HTTP header naming the organisation that posts a result blob."""

SIGNATURE_HEADER = "X-Tyst-Signature"
"""HTTP header carrying the base64 signature of a result blob (see :func:`sign_result`)."""

_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_JOB_ID = re.compile(r"job-[0-9a-f]{32}", re.ASCII)


def check_digest(digest: object) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise :class:`ValueError`."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not a plan digest (64 lowercase hex characters)")
    return digest


def is_job_id(job_id: object) -> bool:
    """Whether ``job_id`` has the form of a coordinator job id (``job-`` + 32 hex)."""
    return isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) is not None


def plan_audit_job(digest: str) -> str:
    """The audit ``job`` field of events about the plan with this digest: ``"plan:" + digest``.

    Errors: :class:`ValueError` for a malformed digest.
    """
    return PLAN_JOB_PREFIX + check_digest(digest)


def result_statement(job_id: str, recipient: str, sender: str, blob_sha256: str) -> bytes:
    """The message a node signs (context :data:`RESULT_CONTEXT`) when it posts a result blob.

    Output: canonical JSON of ``{"format", "job", "recipient", "sender", "sha256"}``.
    Errors: :class:`ValueError` if ``blob_sha256`` is not 64 lowercase hex.
    """
    if not isinstance(blob_sha256, str) or not _DIGEST.fullmatch(blob_sha256):
        raise ValueError("blob_sha256 must be 64 lowercase hex characters")
    return canonical_json(
        {
            "format": RESULT_FORMAT,
            "job": job_id,
            "recipient": recipient,
            "sender": sender,
            "sha256": blob_sha256,
        }
    )


def sign_result(keys: OrgKeys, job_id: str, recipient: str, blob: bytes) -> dict[str, str]:
    """The two HTTP headers a node sends with ``POST /jobs/{job_id}/results/{recipient}``.

    Output: ``{SENDER_HEADER: keys.org_id, SIGNATURE_HEADER: base64 signature}``.
    Security: sign only a blob you sealed yourself for ``recipient``.
    """
    statement = result_statement(job_id, recipient, keys.org_id, hashlib.sha256(blob).hexdigest())
    return {
        SENDER_HEADER: keys.org_id,
        SIGNATURE_HEADER: encode_b64(sign(keys, statement, RESULT_CONTEXT)),
    }


def verify_result(
    registry: Registry, job_id: str, recipient: str, sender: str, blob: bytes, signature: bytes
) -> None:
    """Check that ``sender`` signed ``blob`` as its result for ``recipient`` in ``job_id``.

    Output: ``None`` when valid.
    Errors: :class:`SignatureInvalid` (one line) if the sender is not registered
    or the signature does not verify.
    """
    try:
        public = registry.get(sender)
    except UnknownOrganisation:
        raise SignatureInvalid(
            f"result sender {sender!r} is not a registered organisation"
        ) from None
    statement = result_statement(job_id, recipient, sender, hashlib.sha256(blob).hexdigest())
    verify(public, signature, statement, RESULT_CONTEXT)
