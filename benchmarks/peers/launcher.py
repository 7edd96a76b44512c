"""Start three party processes, watch their event lines, enforce the time limits,
and collect each process's own resource usage (``os.wait4``: CPU time, peak RSS).

Limits:

* ``op_timeout``: no party may spend longer than this inside one run of the
  operation (between its ``op_start`` and ``op_end`` events) — the per-run
  timeout; on expiry all three processes are killed and the measurement is
  reported as ``status=timeout``;
* ``setup_timeout``: outside the operation (start-up, input sharing, output),
  no more than this many seconds may pass without an event from any party;
* ``max_rss_gib``: the three processes together may not hold more resident
  memory than this (others share the machine), and the machine's MemAvailable
  may not fall below ``min_available_gib``; otherwise they are killed and the
  measurement is reported as an error.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.peers.common import EVENT_PREFIX


@dataclass
class PartyRun:
    index: int
    events: list[dict] = field(default_factory=list)
    other_lines: deque = field(default_factory=lambda: deque(maxlen=40))
    exit_code: int | None = None
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    peak_rss_mib: float | None = None  # ru_maxrss from wait4: includes the launcher's RSS at fork
    sampled_peak_rss_mib: float = 0.0  # VmHWM, sampled every 0.2 s
    stderr_tail: str = ""

    def last(self, event: str) -> dict | None:
        for e in reversed(self.events):
            if e["event"] == event:
                return e
        return None


@dataclass
class LaunchOutcome:
    status: str  # "ok", "timeout", "error: ..."
    parties: list[PartyRun]
    wall_seconds: float
    peak_rss_sum_mib: float = 0.0  # sampled every 0.2 s: the three processes together


def _proc_mib(pid: int | str, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _mem_available_mib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def free_ports(count: int) -> list[int]:
    """``count`` consecutive free TCP ports on 127.0.0.1 (MPyC wants base, base+1, ...).

    Drawn below the kernel's ephemeral range, so that no outgoing connection (the
    parties' own, or anyone else's) can take one between this check and the
    parties' listen().
    """
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(max(1024, low - 12000), low - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free consecutive ports")


def _reader(
    proc: subprocess.Popen, run: PartyRun, lock: threading.Lock, wake: threading.Event
) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith(EVENT_PREFIX):
            try:
                event = json.loads(line[len(EVENT_PREFIX) :])
            except json.JSONDecodeError:
                run.other_lines.append(line)
                continue
            event["received"] = time.time()
            with lock:
                run.events.append(event)
            wake.set()
        else:
            run.other_lines.append(line)


def launch(
    commands: list[list[str]],
    *,
    op_timeout: float,
    setup_timeout: float,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    max_rss_gib: float = 12.0,
    min_available_gib: float = 1.5,
) -> LaunchOutcome:
    runs = [PartyRun(i) for i in range(len(commands))]
    lock, wake = threading.Lock(), threading.Event()
    procs: list[subprocess.Popen] = []
    err_files = []
    start = time.time()
    for cmd in commands:
        err = tempfile.TemporaryFile()
        err_files.append(err)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=env))
    readers = [
        threading.Thread(target=_reader, args=(p, r, lock, wake), daemon=True)
        for p, r in zip(procs, runs)
    ]
    for t in readers:
        t.start()

    status = "ok"
    last_event = time.time()
    seen = 0
    alive = {p.pid: (p, r) for p, r in zip(procs, runs)}
    peak_sum = 0.0
    done_at = None
    grace = 15.0  # seconds a party may take to exit after all have reported their result
    while alive:
        wake.wait(0.2)
        wake.clear()
        now = time.time()
        rss_sum = 0.0
        for pid, (_, r) in alive.items():
            rss_sum += _proc_mib(pid, "VmRSS")
            r.sampled_peak_rss_mib = max(r.sampled_peak_rss_mib, _proc_mib(pid, "VmHWM"))
        peak_sum = max(peak_sum, rss_sum)
        if rss_sum > max_rss_gib * 1024:
            status = f"error: the three processes held {rss_sum / 1024:.1f} GiB (limit {max_rss_gib} GiB)"
            break
        if _mem_available_mib() < min_available_gib * 1024:
            status = (
                f"error: the machine's available memory fell below {min_available_gib} GiB "
                f"(the three processes held {rss_sum / 1024:.1f} GiB)"
            )
            break
        # reap whoever finished, with its own rusage
        for pid in list(alive):
            got, wstatus, usage = os.wait4(pid, os.WNOHANG)
            if got == pid:
                p, r = alive.pop(pid)
                p.returncode = os.waitstatus_to_exitcode(wstatus)
                r.exit_code = p.returncode
                r.cpu_user_s, r.cpu_system_s = usage.ru_utime, usage.ru_stime
                r.peak_rss_mib = usage.ru_maxrss / 1024  # Linux: KiB
                # a non-zero exit *after* the party reported its result (a shutdown
                # hiccup) is recorded in exit_code but does not void the measurement
                if r.exit_code != 0 and status == "ok" and r.last("result") is None:
                    status = f"error: party {r.index} exited with {r.exit_code}"
        if status != "ok":
            break
        with lock:
            all_done = all(r.last("result") is not None for r in runs)
        if all_done:
            done_at = done_at or now
            if now - done_at > grace:
                break  # every party has reported; the rest is shutdown
        with lock:
            total = sum(len(r.events) for r in runs)
            if total != seen:
                seen, last_event = total, now
            in_op = []
            for r in runs:
                last = r.events[-1] if r.events else None
                if last and last["event"] == "op_start":
                    in_op.append(now - last["received"])
        if in_op and max(in_op) > op_timeout:
            status = "timeout"
            break
        if not in_op and now - last_event > setup_timeout:
            status = f"error: no progress outside the operation for {setup_timeout:.0f} s"
            break

    for pid, (p, r) in alive.items():  # only the processes started above
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, wstatus, usage = os.wait4(pid, 0)
        r.exit_code = os.waitstatus_to_exitcode(wstatus)
        r.cpu_user_s, r.cpu_system_s = usage.ru_utime, usage.ru_stime
        r.peak_rss_mib = usage.ru_maxrss / 1024
        p.returncode = r.exit_code
    for t in readers:
        t.join(timeout=5)
    for r, err in zip(runs, err_files):
        err.seek(0)
        r.stderr_tail = err.read().decode(errors="replace")[-3000:]
        err.close()
    return LaunchOutcome(status, runs, time.time() - start, peak_sum)


def python_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
