"""The servers' log output: plain text, or one JSON object per line.

Contract
--------
:func:`configure_logging` sets up the root logger of a server process
(``tyst coordinator serve``, ``tyst node serve``; ``log_format`` in their
configuration files, or ``--log-format``): ``text`` is one human line per
record; ``json`` (:class:`JsonFormatter`) is one JSON object per line with the
keys ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``event`` (the message), and, where the record concerns one, ``job`` (the job
id) and ``plan`` (the plan digest) — taken from the record's ``job``/``plan``
attributes (``log.info(..., extra={"job": job})``) or else found in the message
by their fixed forms — and ``error`` (the exception type and its first line)
for a record logged with an exception. Tracebacks are not written in ``json``
(one line per record; the error's type and message say what failed).

Security: the servers log ids, counts, states and reasons only — never data,
shares, keys or passphrases (``tests/node/test_logs.py`` greps a run's logs).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import sys

LOG_FORMATS: tuple[str, ...] = ("text", "json")
"""The log formats a server can write."""

_JOB = re.compile(r"\bjob-[0-9a-f]{32}\b")
_PLAN = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, object] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message,
        }
        job = getattr(record, "job", None) or _first(_JOB, message)
        if job:
            out["job"] = str(job)
        plan = getattr(record, "plan", None) or _first(_PLAN, message)
        if plan:
            out["plan"] = str(plan)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = str(exc).splitlines()[0] if str(exc) else ""
            out["error"] = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def configure_logging(log_format: str, *, level: int = logging.INFO) -> None:
    """Send every record of this process at ``level`` or above to stderr in ``log_format``.

    Replaces any handler already on the root logger; quietens ``httpx``'s request lines.
    Errors: :class:`ValueError` for a format not in :data:`LOG_FORMATS`."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {list(LOG_FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
