"""A node's outbox: what it must tell the coordinator, kept on disk until acknowledged.

Contract
--------
Everything a node sends the coordinator about a job — its signed job events
(``upload_received``, ``run_started``, ``run_finished``, ``run_failed``,
``result_delivered``, ``shares_deleted``, ``plan_rejected``) and its sealed
result blobs — goes through an :class:`Outbox` first:

- **Durable.** :meth:`Outbox.put_event` and :meth:`Outbox.put_result` write the
  item to ``root/<seq>.json`` (and the sealed blob to ``root/<seq>.blob``)
  before they return: each file is written to a temporary name (mode 0600, in
  a 0700 directory), flushed to disk, renamed into place and the directory
  synced, so an item is either wholly there or absent after a crash. The
  ``.json`` file commits the item (a blob without one is a leftover and is
  removed). An item stays until its delivery is settled.
- **Bounded.** At most ``max_items`` items and ``max_bytes`` bytes of blobs;
  beyond that :class:`OutboxFull` (nothing written). Item files are read back
  only up to :data:`MAX_ITEM_BYTES`.
- **Idempotent.** Each event item carries a fresh
  :data:`~tyst.coordinator.protocol.EVENT_ID` in its details, chosen once when
  it is queued: the event is drafted and signed again at every attempt, and
  the coordinator records the actor's event with that id once
  (:mod:`tyst.coordinator.ledger`). A result post is idempotent by its bytes.
  A result item also carries its ``result_delivered`` event, sent after the
  post is acknowledged (never for a post the coordinator refused).
- **In order, with backoff.** :class:`Courier` delivers the items oldest
  first, one at a time, with the ``deliver`` function it is given. An
  unreachable or failing coordinator (:class:`Retry`) is tried again after
  :data:`BACKOFF_FIRST` s, doubling up to ``backoff_max`` s, with jitter; a
  refusal (:class:`Refusal`: the coordinator answered no, e.g. an illegal
  transition) settles the item (logged, never retried). Settled items are
  removed from disk. :meth:`Courier.wait` lets the caller wait for one item.

What the files hold: job ids, event kinds and details (counts, reasons — what
the audit log will hold), and result blobs sealed to their recipient. Nothing
secret: never shares, keys or plaintext.

Errors: :class:`OutboxFull`; :class:`OSError` from the file system.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tyst.coordinator.protocol import EVENT_ID, new_event_id

log = logging.getLogger("tyst.node")

MAX_ITEM_BYTES = 64 * 1024
"""The largest item file (``.json``) read back; anything longer is a damaged item."""

DEFAULT_MAX_ITEMS = 10_000
"""Items an outbox holds at most unless configured."""

DEFAULT_MAX_BYTES = 8 * 2**30
"""Bytes of sealed result blobs an outbox holds at most unless configured (8 GiB)."""

BACKOFF_FIRST = 0.25
"""Seconds before the first retry of an item the coordinator did not acknowledge."""

DEFAULT_BACKOFF_MAX = 30.0
"""Longest wait between two attempts unless configured."""

_NAME = re.compile(r"[0-9]{16}", re.ASCII)

Status = Literal["accepted", "refused", "pending"]


class OutboxFull(Exception):
    """The outbox is at its bound; ``str()`` is one line."""


class Retry(Exception):
    """Raised by a deliver function: not acknowledged now, try again later (one line)."""


class Refusal(Exception):
    """Raised by a deliver function: the coordinator answered no; never retried (one line)."""


@dataclass(frozen=True)
class Item:
    """One thing to tell the coordinator: an event, or a sealed result and its event."""

    name: str
    job: str
    kind: str
    """The event kind (for a result: ``result_delivered``, sent after the post)."""
    details: Mapping[str, str | int]
    recipient: str = ""
    """For a result: the recipient the blob is sealed to (``""`` for an event)."""
    blob_bytes: int = 0

    @property
    def is_result(self) -> bool:
        return bool(self.recipient)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "kind": self.kind,
            "details": dict(self.details),
            "recipient": self.recipient,
            "blob_bytes": self.blob_bytes,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Item:
        details = data["details"]
        if not isinstance(details, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in details.items()
        ):
            raise ValueError("details must map names to str or int")
        return cls(
            name,
            str(data["job"]),
            str(data["kind"]),
            details,
            str(data.get("recipient", "")),
            int(data.get("blob_bytes", 0)),
        )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) so that it is there whole or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Outbox:
    """The items under ``root`` (see the module docstring); thread-safe."""

    def __init__(
        self, root: Path, *, max_items: int = DEFAULT_MAX_ITEMS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("the outbox bounds must be positive")
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Item] = OrderedDict()
        self._load()
        self._next = 1 + max((int(n) for n in self._items), default=0)

    def _load(self) -> None:
        """Read the items left by an earlier process; remove temporaries and leftovers."""
        for path in sorted(self.root.iterdir()):
            if path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
        for path in sorted(self.root.glob("*.json")):
            name = path.stem
            try:
                if not _NAME.fullmatch(name) or path.stat().st_size > MAX_ITEM_BYTES:
                    raise ValueError("not an outbox item")
                item = Item.from_dict(name, json.loads(path.read_bytes()))
                if item.is_result and not self._blob_path(name).is_file():
                    raise ValueError("its sealed blob is missing")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("outbox: dropped damaged item %s: %s", path.name, exc)
                path.unlink(missing_ok=True)
                self._blob_path(name).unlink(missing_ok=True)
                continue
            self._items[name] = item
        for path in self.root.glob("*.blob"):
            if path.stem not in self._items:
                path.unlink(missing_ok=True)

    def _blob_path(self, name: str) -> Path:
        return self.root / f"{name}.blob"

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def size(self) -> int:
        """Bytes of sealed blobs held."""
        with self._lock:
            return sum(i.blob_bytes for i in self._items.values())

    def pending(self) -> list[Item]:
        """Every item not yet settled, oldest first."""
        with self._lock:
            return list(self._items.values())

    def jobs(self) -> set[str]:
        """The jobs with an item not yet settled."""
        with self._lock:
            return {i.job for i in self._items.values()}

    def put_event(self, job: str, kind: str, details: Mapping[str, str | int]) -> Item:
        """Queue one job event (a fresh event id is added to its details)."""
        return self._put(job, kind, {**details, EVENT_ID: new_event_id()}, "", b"")

    def put_result(
        self,
        job: str,
        recipient: str,
        blob: bytes,
        details: Mapping[str, str | int],
    ) -> Item:
        """Queue a sealed result for ``recipient`` and the ``result_delivered`` event with
        ``details`` that follows its acknowledged post."""
        if not recipient:
            raise ValueError("a result needs its recipient")
        event = {**details, EVENT_ID: new_event_id()}
        return self._put(job, "result_delivered", event, recipient, blob)

    def _put(
        self, job: str, kind: str, details: dict[str, str | int], recipient: str, blob: bytes
    ) -> Item:
        with self._lock:
            held = sum(i.blob_bytes for i in self._items.values())
            if len(self._items) >= self.max_items:
                raise OutboxFull(f"the outbox holds {len(self._items)} items, its limit")
            if held + len(blob) > self.max_bytes:
                raise OutboxFull(
                    f"the outbox would hold {held + len(blob)} bytes of results; "
                    f"its limit is {self.max_bytes}"
                )
            name = f"{self._next:016d}"
            self._next += 1
            item = Item(name, job, kind, details, recipient, len(blob))
            if recipient:
                _write_atomic(self._blob_path(name), blob)
            data = json.dumps(item.to_dict(), sort_keys=True).encode()
            if len(data) > MAX_ITEM_BYTES:
                self._blob_path(name).unlink(missing_ok=True)
                raise ValueError("an outbox item's details are too long")
            _write_atomic(self.root / f"{name}.json", data)
            self._items[name] = item
            return item

    def blob(self, item: Item) -> bytes:
        """The sealed blob of a result item."""
        return self._blob_path(item.name).read_bytes()

    def remove(self, item: Item) -> None:
        """Settle ``item``: remove its files (the ``.json`` first)."""
        with self._lock:
            self._items.pop(item.name, None)
            (self.root / f"{item.name}.json").unlink(missing_ok=True)
            self._blob_path(item.name).unlink(missing_ok=True)


@dataclass
class _Outcome:
    status: Status
    message: str = ""


@dataclass
class _Attempt:
    item: Item
    status: Status
    """"accepted" or "refused" (settled), or "pending" (failed; kept for a retry)."""
    message: str


@dataclass
class Courier:
    """Delivers an :class:`Outbox` with ``deliver`` (see the module docstring).

    ``deliver(item)`` returns when the coordinator acknowledged the item,
    raises :class:`Retry` to try again later or :class:`Refusal` when it was
    refused. ``settled(item, status)`` (optional) is called after an item is
    settled ("accepted" or "refused"), in the thread that delivered it.

    Deliveries are serialised (one attempt at a time, always at the oldest
    item): the background thread (:meth:`start`) retries with backoff, and
    :meth:`wait` makes the caller's own attempts at once, so an event is in the
    coordinator's log when ``wait`` returns ``accepted``.
    """

    outbox: Outbox
    deliver: Callable[[Item], None]
    settled: Callable[[Item, Status], None] | None = None
    backoff_max: float = DEFAULT_BACKOFF_MAX
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _deliver_lock: threading.Lock = field(default_factory=threading.Lock)
    _outcomes: OrderedDict[str, _Outcome] = field(default_factory=OrderedDict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread that retries what is queued."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tyst-node-courier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread; what is queued stays on disk for the next start."""
        self._stop.set()
        self.kick()
        if self._thread is not None:
            self._thread.join(timeout=65.0)
            self._thread = None

    def kick(self) -> None:
        """Wake the background thread (the coordinator may be back)."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, item: Item, timeout: float) -> tuple[Status, str]:
        """Deliver up to and including ``item`` now, in the caller's thread: return
        ``("accepted" | "refused", one line)`` once it is settled, or ``("pending", why)``
        as soon as an attempt fails (the coordinator is unreachable or failing) or after
        ``timeout`` seconds; a pending item is left to the background thread."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                outcome = self._outcomes.get(item.name)
            if outcome is not None:
                return outcome.status, outcome.message
            if time.monotonic() > deadline:
                return "pending", "not acknowledged in time"
            attempt = self._attempt()
            if attempt is None:  # nothing queued, so it was settled meanwhile
                continue
            self._after(attempt)
            if attempt.status == "pending":
                return "pending", attempt.message

    def _attempt(self) -> _Attempt | None:
        """One delivery attempt at the oldest item (``None`` if the outbox is empty)."""
        with self._deliver_lock:
            items = self.outbox.pending()
            if not items:
                return None
            item = items[0]
            try:
                self.deliver(item)
                status: Status = "accepted"
                message = ""
            except Refusal as exc:
                log.warning("job %s: the coordinator refused %s: %s", item.job, item.kind, exc)
                status, message = "refused", str(exc)
            except Retry as exc:
                return _Attempt(item, "pending", str(exc))
            except Exception as exc:  # never let a delivery bug lose the item
                log.exception("job %s: delivering %s failed", item.job, item.kind)
                return _Attempt(item, "pending", type(exc).__name__)
            self.outbox.remove(item)
            with self._cond:
                self._outcomes[item.name] = _Outcome(status, message)
                while len(self._outcomes) > 1000:
                    self._outcomes.popitem(last=False)
                self._cond.notify_all()
            return _Attempt(item, status, message)

    def _after(self, attempt: _Attempt) -> None:
        if attempt.status == "pending" or self.settled is None:
            return
        try:
            self.settled(attempt.item, attempt.status)
        except Exception:
            log.exception("job %s: after %s", attempt.item.job, attempt.item.kind)

    def _loop(self) -> None:
        delay = backoff = 0.0
        while not self._stop.is_set():
            if delay:
                with self._cond:
                    self._cond.wait(delay)
                if self._stop.is_set():
                    return
            attempt = self._attempt()
            if attempt is None:
                delay = 1.0
                continue
            self._after(attempt)
            if attempt.status != "pending":
                if backoff:
                    log.info("the coordinator acknowledges again")
                delay = backoff = 0.0
                continue
            if not backoff:
                log.warning(
                    "job %s: %s not acknowledged, will retry: %s",
                    attempt.item.job,
                    attempt.item.kind,
                    attempt.message,
                )
            backoff = min(self.backoff_max, max(BACKOFF_FIRST, backoff * 2))
            delay = backoff * (0.5 + random.random() / 2)  # jitter, not a secret


__all__ = [
    "BACKOFF_FIRST",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ITEMS",
    "MAX_ITEM_BYTES",
    "Courier",
    "Item",
    "Outbox",
    "OutboxFull",
    "Refusal",
    "Retry",
    "Status",
]
