"""A node's outbox: what it must tell the coordinator, kept on disk until acknowledged.

Contract
--------
Everything a node sends the coordinator about a job — its signed job events
(``upload_received``, ``run_started``, ``run_finished``, ``run_failed``,
``result_delivered``, ``shares_deleted``, ``plan_rejected``) and its sealed
results (each a sequence of sealed chunks) — goes through an :class:`Outbox` first:

- **Durable.** :meth:`Outbox.put_event` and :meth:`Outbox.put_result` write the
  item to ``root/<seq>.json`` (and a result's sealed chunks, one after the
  other, to ``root/<seq>.blob``) before they return: each file is written to a
  temporary name (mode 0600, in a 0700 directory), flushed to disk, renamed
  into place and the directory synced, so an item is either wholly there or
  absent after a crash. The ``.json`` file commits the item (a blob without one
  is a leftover and is removed). An item stays until its delivery is settled.
- **Bounded.** At most ``max_items`` items and ``max_bytes`` bytes of blobs;
  beyond that :class:`OutboxFull` (nothing written). Item files are read back
  only up to :data:`MAX_ITEM_BYTES`.
- **Idempotent.** Each event item carries a fresh
  :data:`~tyst.coordinator.protocol.EVENT_ID` in its details, chosen once when
  it is queued: the event is drafted and signed again at every attempt, and
  the coordinator records the actor's event with that id once
  (:mod:`tyst.coordinator.ledger`). A result item holds its chunks (every one
  but the last of the same sealed size, so chunk ``i`` is read back alone, at
  ``i`` times that size); each chunk post is idempotent by its bytes. A result
  item also carries its ``result_delivered`` event (with the result id, the
  number of chunks, their total size and the SHA-256 of all of them in order),
  sent after every chunk's post is acknowledged (never for a result the
  coordinator refused).
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

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
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
    """For a result: the recipient the chunks are sealed to (``""`` for an event)."""
    blob_bytes: int = 0
    """For a result: the bytes of all its sealed chunks."""
    result_id: str = ""
    chunks: int = 0
    chunk_bytes: int = 0
    """For a result: the sealed size of every chunk but the last."""

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
            "result_id": self.result_id,
            "chunks": self.chunks,
            "chunk_bytes": self.chunk_bytes,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Item:
        details = data["details"]
        if not isinstance(details, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in details.items()
        ):
            raise ValueError("details must map names to str or int")
        item = cls(
            name,
            str(data["job"]),
            str(data["kind"]),
            details,
            str(data.get("recipient", "")),
            int(data.get("blob_bytes", 0)),
            str(data.get("result_id", "")),
            int(data.get("chunks", 0)),
            int(data.get("chunk_bytes", 0)),
        )
        if item.is_result and not _chunks_fit(item.blob_bytes, item.chunks, item.chunk_bytes):
            raise ValueError("its chunk layout does not match its size")
        return item

    def chunk_span(self, index: int) -> tuple[int, int]:
        """Offset and length of chunk ``index`` in the item's blob file."""
        if not 0 <= index < self.chunks:
            raise IndexError(f"chunk {index} of {self.chunks}")
        start = index * self.chunk_bytes
        return start, min(self.chunk_bytes, self.blob_bytes - start)


def _chunks_fit(total: int, chunks: int, chunk_bytes: int) -> bool:
    """Whether ``chunks`` chunks of ``chunk_bytes`` (the last one 1 … ``chunk_bytes``) make
    ``total`` bytes."""
    if chunks < 1 or chunk_bytes < 1:
        return False
    return (chunks - 1) * chunk_bytes < total <= chunks * chunk_bytes


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
                if item.is_result and (
                    not self._blob_path(name).is_file()
                    or self._blob_path(name).stat().st_size != item.blob_bytes
                ):
                    raise ValueError("its sealed chunks are missing or cut short")
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
        return self._put(job, kind, {**details, EVENT_ID: new_event_id()})

    def put_result(
        self,
        job: str,
        recipient: str,
        chunks: Iterable[bytes],
        details: Mapping[str, str | int],
        *,
        result_id: str,
        count: int,
    ) -> Item:
        """Queue a sealed result for ``recipient`` — its ``count`` sealed chunks, written
        one at a time — and the ``result_delivered`` event that follows the acknowledged
        post of every chunk: ``details`` plus ``result`` (the id), ``chunks``, ``bytes``
        and ``sha256`` (of all chunks in order).

        Errors: :class:`OutboxFull`; :class:`ValueError` if the chunks are not ``count``
        or a chunk but the last differs in size from the first."""
        if not recipient or count < 1:
            raise ValueError("a result needs its recipient and at least one chunk")
        with self._lock:
            held = sum(i.blob_bytes for i in self._items.values())
            if len(self._items) >= self.max_items:
                raise OutboxFull(f"the outbox holds {len(self._items)} items, its limit")
            name = f"{self._next:016d}"
            self._next += 1
        path = self._blob_path(name)
        tmp = path.with_name(path.name + ".tmp")
        digest = hashlib.sha256()
        sizes: list[int] = []
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for chunk in chunks:
                    if sizes and sizes[-1] != sizes[0]:
                        raise ValueError("only a result's last chunk may be shorter")
                    sizes.append(len(chunk))
                    if held + sum(sizes) > self.max_bytes:
                        raise OutboxFull(
                            f"the outbox would hold more than {self.max_bytes} bytes of "
                            "results, its limit"
                        )
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if len(sizes) != count or sizes[-1] > sizes[0]:
                raise ValueError(f"a result of {count} chunks came as {len(sizes)}")
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        total = sum(sizes)
        event = {
            **details,
            "result": result_id,
            "chunks": count,
            "bytes": total,
            "sha256": digest.hexdigest(),
            EVENT_ID: new_event_id(),
        }
        item = Item(
            name, job, "result_delivered", event, recipient, total, result_id, count, sizes[0]
        )
        return self._commit(item)

    def _commit(self, item: Item) -> Item:
        data = json.dumps(item.to_dict(), sort_keys=True).encode()
        with self._lock:
            if len(data) > MAX_ITEM_BYTES:
                self._blob_path(item.name).unlink(missing_ok=True)
                raise ValueError("an outbox item's details are too long")
            _write_atomic(self.root / f"{item.name}.json", data)
            self._items[item.name] = item
            return item

    def _put(self, job: str, kind: str, details: dict[str, str | int]) -> Item:
        with self._lock:
            if len(self._items) >= self.max_items:
                raise OutboxFull(f"the outbox holds {len(self._items)} items, its limit")
            name = f"{self._next:016d}"
            self._next += 1
        return self._commit(Item(name, job, kind, details))

    def chunk(self, item: Item, index: int) -> bytes:
        """Sealed chunk ``index`` of a result item (read alone from its file)."""
        start, length = item.chunk_span(index)
        with self._blob_path(item.name).open("rb") as f:
            f.seek(start)
            data = f.read(length)
        if len(data) != length:
            raise OSError(f"outbox item {item.name}: chunk {index} is cut short")
        return data

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
