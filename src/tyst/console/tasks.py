"""The console's long-running work: uploads and result fetches, in background threads.

Contract: :class:`Tasks` starts one thread per upload or fetch and keeps its progress
and outcome in memory (never on disk) under a random task id, which the pages poll.
An upload is :meth:`Client.upload <tyst.client.session.Client.upload>` (validate,
share, stream; progress after every chunk); a fetch is :meth:`Client.fetch
<tyst.client.session.Client.fetch>` (every chunk verified and opened here). A result
stays in this process's memory until the console stops.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tyst.client.owner import UploadReport
from tyst.client.recipient import Result
from tyst.client.session import Client


@dataclass
class Task:
    """One upload or fetch: what it is about, its progress and outcome."""

    kind: str
    plan_id: str
    job: str
    table: str = ""
    rows: int = 0
    done: bool = False
    error: str | None = None
    upload: UploadReport | None = None
    result: Result | None = None
    cleanup: Path | None = field(default=None, repr=False)


class Tasks:
    """The running and finished tasks of one console process."""

    def __init__(self, client: Client, errors: tuple[type[Exception], ...]) -> None:
        self._client = client
        self._errors = errors
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def result(self, plan_id: str, job: str) -> Result | None:
        """A fetched result of ``job`` (the newest), if any."""
        with self._lock:
            found = [
                t.result
                for t in self._tasks.values()
                if t.kind == "fetch" and t.plan_id == plan_id and t.job == job and t.result
            ]
        return found[-1] if found else None

    def _start(self, task: Task, work: object) -> str:
        task_id = secrets.token_hex(12)
        with self._lock:
            self._tasks[task_id] = task
        assert callable(work)

        def run() -> None:
            try:
                work()
            except self._errors as exc:
                task.error = str(exc)
            except Exception as exc:  # shown to the user in one line, never a traceback
                task.error = f"{type(exc).__name__}: {exc}"
            finally:
                task.done = True
                if task.cleanup is not None:
                    task.cleanup.unlink(missing_ok=True)

        threading.Thread(target=run, daemon=True, name=f"console-{task.kind}").start()
        return task_id

    def upload(
        self, plan_id: str, job: str | None, table: str, path: Path, *, cleanup: bool
    ) -> str:
        """Start uploading ``path`` as ``table`` (to ``job``, else the plan's open job or a
        new one); ``cleanup`` deletes the file afterwards (a file uploaded to the console)."""
        task = Task("upload", plan_id, job or "", table, cleanup=path if cleanup else None)

        def progress(_table: str, rows: int) -> None:
            task.rows = rows

        def work() -> None:
            task.job = job or self._client.job_for(plan_id)
            task.upload = self._client.upload(plan_id, task.job, table, path, progress=progress)
            task.rows = task.upload.rows

        return self._start(task, work)

    def fetch(self, plan_id: str, job: str, *, timeout: float = 3600.0) -> str:
        """Start waiting for, fetching and opening ``job``'s result."""
        task = Task("fetch", plan_id, job)

        def work() -> None:
            task.result = self._client.fetch(plan_id, job, timeout=timeout)
            task.rows = len(task.result.rows)

        return self._start(task, work)
