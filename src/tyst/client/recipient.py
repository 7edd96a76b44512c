"""The recipient's side: fetch the sealed result shares, open, combine and decode them.

Contract: :func:`fetch_result` waits (bounded) until the job has finished at
every node and each node's sealed result is wholly at the coordinator, then
fetches every node's result chunk by chunk (:func:`fetch_shares`; each request
waits out a coordinator restart and resumes at the chunk it was at). Every
chunk must be signed by the node that posted it (one per compute node of the
deployment, in party order) for exactly its place — this job, this recipient,
the node's result id, its index and the chunk count — and must open with the
recipient's own keys under the context that binds the same; so a chunk the
coordinator drops, repeats, reorders, truncates, takes from another result or
alters is refused with one line naming the node and the chunk. The chunks are
joined in index order and decoded; the three share sets are combined, the
padding rows dropped, AVG sums divided by counts and the rows returned.
It then signs ``result_received`` with the *padded* length only — the number
of valid rows never appears in an event (the coordinator drops the blobs).

What the recipient learns: the result rows, the side outputs the plan's release
mechanisms name (:func:`tyst.release.mechanisms.side_outputs`; e.g. the number of groups
suppressed by ``min_group_size``, all GROUP BYs together) and the padded result length (a
function of input sizes; the result size itself under ``reveal_result_size``).
Errors: :class:`ResultError` (one line): the job failed (with the nodes'
messages), timed out, or a chunk is missing, forged, out of place or for someone else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tyst.api.http import ApiError, CoordinatorClient, ResultChunk, retry_transient
from tyst.api.results import ResultFormatError, ShareArray, decode_result, open_chunk
from tyst.coordinator import states
from tyst.coordinator.protocol import EVENT_ID, new_event_id, verify_result
from tyst.data.encoding import decode_column, decode_ratio
from tyst.mpc.outsourced import NodeShares, combine
from tyst.planner.jobspec import JobSpec
from tyst.release.mechanisms import SUPPRESSED_GROUPS, side_outputs
from tyst.release.privacy import calibration
from tyst.ring.words import U64, WordArray
from tyst.service.keys import OrgKeys, Registry, decode_b64
from tyst.service.sealing import SealError
from tyst.service.signing import SignatureInvalid
from tyst.sql import ir


class ResultError(Exception):
    """A result that could not be obtained; ``str()`` is one line."""


@dataclass(frozen=True)
class Result:
    """What a recipient obtains from one job."""

    header: list[str]
    rows: list[list[str]]
    padded_rows: int
    side: dict[str, int]
    """The release stage's side outputs by name (e.g. ``suppressed_groups``)."""
    noisy: dict[str, str] = field(default_factory=dict)
    """Per column released with DP noise (``[privacy]``): its mechanism, ε or ρ and 95 %
    error bound; the other columns are exact."""

    @property
    def suppressed_groups(self) -> int:
        """How many groups ``min_group_size`` left out (0 without it)."""
        return self.side.get(SUPPRESSED_GROUPS, 0)


RETRY_SECONDS = 300.0
"""How long a fetch waits out an unreachable coordinator (a restart) by default, per request."""


def wait_finished(
    coordinator: CoordinatorClient,
    job: str,
    recipient: str,
    *,
    timeout: float,
    poll: float = 0.2,
    retry: float = RETRY_SECONDS,
) -> dict[str, object]:
    """Poll the job until every node's result for ``recipient`` is wholly relayed; raise
    if the job failed. Each poll waits out an unreachable coordinator for up to ``retry``
    seconds. (What the coordinator says here is only a cue: every chunk is verified.)"""
    deadline = time.monotonic() + timeout
    while True:
        info = retry_transient(lambda: coordinator.job(job), seconds=retry)
        state = info["state"]
        if state == states.FAILED:
            raise ResultError(f"job {job} failed: {failure_message(info)}")
        waiting = [r for r in info["results"] if r["recipient"] == recipient]
        complete = [r for r in waiting if r["complete"]]
        if state in (states.FINISHED, states.DELIVERED) and len(complete) >= 3:
            return info
        if state == states.DELIVERED:
            raise ResultError(
                f"job {job}: delivered, but only {len(complete)} of 3 node results wait "
                f"whole for {recipient!r} (fetched already?)"
            )
        if time.monotonic() > deadline:
            raise ResultError(f"job {job} did not deliver within {timeout:.0f} s (state {state})")
        time.sleep(poll)


def failure_message(info: dict[str, object]) -> str:
    """The nodes' one-line reasons for a failed job, from its events."""
    events = info.get("events", [])
    assert isinstance(events, list)
    reasons = [
        f"{e['actor']}: {e['details'].get('message') or e['details'].get('reason')}"
        for e in events
        if e["kind"] in ("run_failed", "plan_rejected")
    ]
    return "; ".join(dict.fromkeys(reasons)) or str(info.get("reason") or "no reason recorded")


def fetch_result(
    coordinator: CoordinatorClient,
    keys: OrgKeys,
    registry: Registry,
    spec: JobSpec,
    job: str,
    nodes: Sequence[str],
    *,
    timeout: float = 3600.0,
    retry: float = RETRY_SECONDS,
) -> Result:
    """Fetch, verify, open, combine and decode this recipient's result (see above).

    Every request to the coordinator waits out its being unreachable (a restart)
    for up to ``retry`` seconds, with backoff; then the error is one line."""
    me = keys.org_id
    if me not in spec.plan.recipients:
        raise ResultError(f"{me!r} is not a recipient of this plan")
    info = wait_finished(coordinator, job, me, timeout=timeout, retry=retry)
    results = info["results"]
    assert isinstance(results, list)
    counts = {str(r["sender"]): int(r["chunks"]) for r in results if r["recipient"] == me}
    parts: dict[str, list[NodeShares]] = {}
    for party, sender in enumerate(nodes):
        arrays = fetch_shares(
            coordinator, keys, registry, job, sender, party, counts.get(sender, 1), retry=retry
        )
        for a in arrays:
            parts.setdefault(a.name, []).append(NodeShares(party, a.kind, a.first, a.second))
    try:
        combined = {name: combine(p) for name, p in parts.items()}
    except ValueError as exc:
        raise ResultError(f"the nodes' result shares disagree: {exc}") from None
    result = decode(spec, combined)
    # Only the padded length is public (it is a function of the input sizes); the
    # number of valid rows is the result itself and never leaves the recipient.
    # Sent again after a lost answer, the same event id makes it count once.
    received: dict[str, str | int] = {"padded_rows": result.padded_rows, EVENT_ID: new_event_id()}
    retry_transient(lambda: coordinator.job_event(job, "result_received", received), seconds=retry)
    return result


def fetch_shares(
    coordinator: CoordinatorClient,
    keys: OrgKeys,
    registry: Registry,
    job: str,
    sender: str,
    party: int,
    announced: int,
    *,
    retry: float = RETRY_SECONDS,
) -> list[ShareArray]:
    """Node ``sender``'s (party ``party``) result shares for this recipient, fetched chunk
    by chunk, each verified and opened for its place (see the module docstring).

    ``announced`` is the chunk count the job's summary gave; the count that binds is
    the one chunk 0 is signed with, and every chunk must carry the same count and
    result id. Each request waits out an unreachable coordinator for up to ``retry`` s.
    Errors: :class:`ResultError` (one line naming the node and the chunk).
    """
    me = keys.org_id
    plain: list[bytes] = []
    count, result_id, index = max(1, announced), "", 0
    while index < count:
        where = f"the result from {sender!r}: chunk {index} of {count}"

        def get(i: int = index) -> ResultChunk:
            return coordinator.result_chunk(job, me, sender, i)

        try:
            chunk = retry_transient(get, seconds=retry)
        except ApiError as exc:
            missing = "missing" if exc.status == 404 else "not served"
            raise ResultError(f"{where} is {missing}: {exc}") from None
        if index == 0:
            count, result_id = chunk.count, chunk.result_id
            where = f"the result from {sender!r}: chunk 0 of {count}"
        elif (chunk.result_id, chunk.count) != (result_id, count):
            raise ResultError(
                f"{where} belongs to another result (result {chunk.result_id[:12]}…, "
                f"{chunk.count} chunks): the coordinator mixed two results"
            )
        try:
            verify_result(
                registry,
                job,
                me,
                sender,
                chunk.data,
                decode_b64(chunk.signature),
                result_id=result_id,
                index=index,
                count=count,
            )
            plain.append(
                open_chunk(
                    keys,
                    chunk.data,
                    job=job,
                    sender=sender,
                    party=party,
                    result_id=result_id,
                    index=index,
                    count=count,
                )
            )
        except (SignatureInvalid, SealError, ValueError) as exc:
            raise ResultError(
                f"{where} is not the one {sender!r} signed for this place (dropped, repeated, "
                f"reordered, cut short or altered by the coordinator?): {exc}"
            ) from None
        index += 1
    try:
        return decode_result(b"".join(plain), job, party)
    except ResultFormatError as exc:
        raise ResultError(f"the result from {sender!r}: {exc}") from None


def decode(spec: JobSpec, arrays: dict[str, WordArray]) -> Result:
    """The recipient's rows from the combined arrays (``lane.k``, ``valid``, ``side.<name>``)."""
    root = spec.compiled.plan
    n_lanes = sum(1 for name in arrays if name.startswith("lane."))
    lanes = [arrays[f"lane.{k}"] for k in range(n_lanes)]
    valid = arrays["valid"]
    expected = side_outputs(spec.release, root)
    got = tuple(name.removeprefix("side.") for name in arrays if name.startswith("side."))
    if sorted(got) != sorted(expected):
        raise ResultError(
            f"the result carries side outputs {list(got)}, the plan names {list(expected)}"
        )
    side: dict[str, int] = {}
    for name in expected:
        value = arrays[f"side.{name}"].view(np.int64)
        if len(value) != 1:
            raise ResultError(f"the side output {name!r} has {len(value)} values, not 1")
        side[name] = int(value[0])
    header, rows = decode_rows(root, lanes, valid)
    privacy = spec.plan.privacy
    noisy = {
        ir.display_name(c.name): c.describe()
        for c in (calibration(privacy, root) if privacy is not None else ())
    }
    return Result(header, rows, len(valid), side, noisy)


def decode_rows(
    root: ir.Node, lanes: list[WordArray], valid: WordArray
) -> tuple[list[str], list[list[str]]]:
    """The CSV header and rows from the combined padded result."""
    keep = np.flatnonzero(valid & U64(1))
    header = [ir.display_name(n) for n, _ in root.schema]
    columns: list[list[str]] = []
    at = 0
    for _, ctype in root.schema:
        mine = [lane[keep] for lane in lanes[at : at + ctype.lanes]]
        at += ctype.lanes
        if ctype.kind == "ratio":
            columns.append(decode_ratio(ctype.scale, mine[0], mine[1]))
        else:
            columns.append(decode_column(ctype, mine))
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return header, rows


__all__ = ["Result", "ResultError", "ShareArray", "decode", "fetch_result", "fetch_shares"]
