"""Run the peer benchmarks (MPyC, SecretFlow SPU ABY3) and, optionally, ``tyst bench``
on the same operations and sizes, three party processes on 127.0.0.1 each.

Usage (from the project root, in the peers' own virtualenv)::

    .venv-peers/bin/python -m benchmarks.peers.run --ops mul,lt,eq,sort --sizes 10000,100000,1000000 --timeout 300
    .venv-peers/bin/python -m benchmarks.peers.run --peers tyst,spu,mpyc --ops mul,lt,eq,shuffle,sort ...
    .venv-peers/bin/python -m benchmarks.peers.run --table benchmarks/peers/results.json

Prints one line per measurement, in ``tyst bench``'s format with the peer in front::

    peer=mpyc op=lt n=N seconds=S elements_per_second=E correct=true|false
    peer=mpyc op=lt n=N status=timeout timeout_s=300
    peer=spu op=sort n=N status=error: ...

and writes every record (with per-party wall/CPU time, peak RSS and, for MPyC
and tyst, bytes sent) to ``--json`` (default ``benchmarks/peers/results.json``).
No figure is ever extrapolated: a run that does not finish within ``--timeout``
seconds per timed run is reported as a timeout, and (unless ``--run-after-timeout``)
the larger sizes of that peer/op are then reported as ``status=not_run``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.peers.common import OPERATIONS
from benchmarks.peers.launcher import LaunchOutcome, free_ports, launch, python_env

ROOT = Path(__file__).resolve().parents[2]
PEERS = ("tyst", "spu", "mpyc")


def _loadavg() -> list[float]:
    return list(os.getloadavg())


def _party_records(outcome: LaunchOutcome) -> list[dict]:
    records = []
    for r in outcome.parties:
        result = r.last("result") or {}
        own = result.get("own", {})
        records.append(
            {
                "party": r.index,
                "op_seconds": own.get("seconds"),
                "op_cpu_seconds": own.get("cpu_seconds"),
                "process_cpu_user_s": r.cpu_user_s,
                "process_cpu_system_s": r.cpu_system_s,
                # VmHWM as the party reported it at the end, else as sampled while it ran
                "peak_rss_mib": result.get("peak_rss_mib") or r.sampled_peak_rss_mib or None,
                "bytes_sent_total": result.get("bytes_sent_total"),
                "exit_code": r.exit_code,
            }
        )
    return records


def _error_text(outcome: LaunchOutcome) -> str:
    for r in outcome.parties:
        if r.exit_code not in (0, None, -9) and (r.stderr_tail or r.other_lines):
            tail = (r.stderr_tail.strip() or "\n".join(r.other_lines)).splitlines()
            return f"party {r.index}: " + " | ".join(tail[-3:])
    return ""


def _finish_record(rec: dict, outcome: LaunchOutcome) -> None:
    rec["wall_seconds_total"] = outcome.wall_seconds
    rec["peak_rss_sum_mib_sampled"] = outcome.peak_rss_sum_mib
    rec["parties"] = _party_records(outcome)
    if outcome.status != "ok":
        rec["status"] = outcome.status
        if outcome.status.startswith("error"):
            rec["error_detail"] = _error_text(outcome)
            for party, r in zip(rec["parties"], outcome.parties):
                party["stderr_tail"] = r.stderr_tail[-1500:]
                party["stdout_tail"] = "\n".join(r.other_lines)[-1500:]
                party["events"] = [e["event"] for e in r.events]
        return
    result = outcome.parties[0].last("result")
    if result is None:
        rec["status"] = "error: party 0 reported no result"
        rec["error_detail"] = _error_text(outcome)
        return
    rec.update(
        status="ok",
        seconds=result["seconds"],
        runs=result["runs"],
        slowest_per_run=result["slowest"],
    )
    rec["elements_per_second"] = rec["n"] / rec["seconds"] if rec["seconds"] > 0 else None


def run_mpyc(op: str, n: int, args: argparse.Namespace) -> dict:
    rec: dict = {"peer": "mpyc", "op": op, "n": n}
    base = free_ports(3)[0]
    commands = [
        [
            sys.executable,
            "-m",
            "benchmarks.peers.mpyc_ops",
            "-M3",
            f"-I{i}",
            "-B",
            str(base),
            "--op",
            op,
            "--size",
            str(n),
            "--seed",
            str(args.seed),
            "--repeat",
            str(args.repeat),
            "--budget",
            str(args.budget),
        ]
        for i in range(3)
    ]
    outcome = launch(
        commands,
        op_timeout=args.timeout,
        setup_timeout=args.setup_timeout,
        cwd=str(ROOT),
        env=python_env(ROOT),
        max_rss_gib=args.max_rss_gib,
        min_available_gib=args.min_available_gib,
    )
    _finish_record(rec, outcome)
    if rec["status"] == "ok":
        rec["correct"] = outcome.parties[0].last("result").get("correct")
        rec["field_bits"] = outcome.parties[0].last("result").get("field_bits")
    return rec


def run_spu(op: str, n: int, args: argparse.Namespace) -> dict:
    from benchmarks.peers import spu_ops

    rec: dict = {"peer": "spu", "op": op, "n": n, "sort_method": args.spu_sort_method}
    workdir = Path(tempfile.mkdtemp(prefix="spu-bench-"))
    try:
        t0 = time.time()
        x, y = spu_ops.prepare(op, n, args.seed, workdir, args.spu_sort_method)
        rec["prepare_seconds"] = time.time() - t0
        ports = free_ports(3)
        commands = [
            [
                sys.executable,
                "-m",
                "benchmarks.peers.spu_ops",
                "--rank",
                str(i),
                "--dir",
                str(workdir),
                "--ports",
                ",".join(map(str, ports)),
                "--repeat",
                str(args.repeat),
                "--budget",
                str(args.budget),
                "--recv-timeout",
                str(args.timeout + args.setup_timeout),
            ]
            for i in range(3)
        ]
        outcome = launch(
            commands,
            op_timeout=args.timeout,
            setup_timeout=args.setup_timeout,
            cwd=str(ROOT),
            env=python_env(ROOT),
            max_rss_gib=args.max_rss_gib,
            min_available_gib=args.min_available_gib,
        )
        _finish_record(rec, outcome)
        if rec["status"] == "ok":
            rec["correct"] = spu_ops.finish(op, x, y, workdir, args.spu_sort_method)
    except Exception as exc:  # report, go on with the next measurement
        rec["status"] = f"error: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rec


_TYST_LAST = re.compile(
    r"^(\w+) n=(\d+) seconds=([0-9.eE+-]+) elements_per_second=(\S+) correct=(true|false)$"
)
_TYST_NODE = re.compile(
    r"^node (\d+): ([0-9.]+) s wall, ([0-9.]+) s cpu, sent ([0-9.]+) MB, "
    r"received ([0-9.]+) MB, peak memory ([0-9.]+) MiB$"
)


def run_tyst(op: str, n: int, args: argparse.Namespace) -> dict:
    rec: dict = {"peer": "tyst", "op": op, "n": n}
    cmd = [
        args.tyst,
        "bench",
        op,
        "--n",
        str(n),
        "--repeat",
        str(args.tyst_repeat),
        "--seed",
        str(args.seed),
    ]
    rec["command"] = " ".join(cmd)
    limit = args.timeout * (args.tyst_repeat + 1) + args.setup_timeout
    if not Path(args.tyst).exists():
        rec["status"] = f"error: {args.tyst} not found (install the project: .venv)"
        return rec
    t0 = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT), start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this function started
        proc.communicate()
        rec.update(status="timeout", timeout_s=limit, wall_seconds_total=time.time() - t0)
        return rec
    rec["wall_seconds_total"] = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the whole tyst process tree (client: drawing, sharing, checking; three nodes; warm-up; all runs)
    rec["process_tree_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    lines = out.decode(errors="replace").strip().splitlines()
    m = _TYST_LAST.match(lines[-1]) if lines else None
    if m is None:
        tail = (
            err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        ).splitlines()
        rec["status"] = "error: " + " | ".join(tail[-3:])
        return rec
    rec.update(
        status="ok", seconds=float(m.group(3)), correct=m.group(5) == "true", runs=args.tyst_repeat
    )
    rec["elements_per_second"] = n / rec["seconds"] if rec["seconds"] > 0 else None
    rec["parties"] = [
        # as `tyst bench` reports them for the median run: wall, CPU, bytes sent in
        # that run, peak RSS of the node process
        {
            "party": int(g[0]),
            "op_seconds": float(g[1]),
            "op_cpu_seconds": float(g[2]),
            "bytes_sent_op_run": float(g[3]) * 1e6,
            "peak_rss_mib": float(g[5]),
        }
        for g in (_TYST_NODE.match(line).groups() for line in lines if _TYST_NODE.match(line))
    ]
    return rec


def summary_line(rec: dict) -> str:
    head = f"peer={rec['peer']} op={rec['op']} n={rec['n']}"
    if rec["status"] == "ok":
        correct = {True: "true", False: "false", None: "unknown"}[rec.get("correct")]
        return (
            f"{head} seconds={rec['seconds']:.4f} "
            f"elements_per_second={rec['elements_per_second']:.0f} correct={correct}"
        )
    if rec["status"] == "timeout":
        return f"{head} status=timeout timeout_s={rec.get('timeout_s')}"
    if rec["status"] == "not_run":
        return f"{head} status=not_run reason={rec['reason']!r}"
    detail = f" ({rec['error_detail']})" if rec.get("error_detail") else ""
    return f"{head} status={rec['status']}{detail}"


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0]
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "meminfo": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    out = {}
    for name in ("mpyc", "spu", "jax", "numpy", "gmpy2"):
        try:
            from importlib.metadata import version

            out[name] = version(name)
        except Exception:
            out[name] = None
    return out


# ---------------------------------------------------------------- table
def _fmt_s(rec: dict | None, timeout: float | None = None) -> str:
    if rec is None:
        return "–"
    if rec["status"] == "ok":
        s = rec["seconds"]
        txt = f"{s:.3g}" if s < 100 else f"{s:.0f}"
        return txt + ("" if rec.get("correct") else " (wrong result)")
    if rec["status"] == "timeout":
        return f"did not finish in {rec.get('timeout_s', timeout):.0f} s"
    if rec["status"] == "not_run":
        return "not run (" + rec.get("reason", "smaller n failed") + ")"
    if rec["status"].startswith("error: the three processes held"):
        return f"stopped at the memory cap ({rec['status'].split('limit ')[-1].rstrip(')')})"
    if rec["status"].startswith("error: the machine's available memory"):
        return "stopped: machine out of memory"
    return "error"


def _ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 100 else f"{x:.3g}×"


def table(results: dict) -> str:
    recs = results["records"]
    by = {(r["peer"], r["op"], r["n"]): r for r in recs}
    ops = [op for op in OPERATIONS if any(r["op"] == op for r in recs)]
    sizes = sorted({r["n"] for r in recs})
    rows = [
        "| op | n | tyst s | SPU s | MPyC s | SPU s / tyst s | MPyC s / tyst s |",
        "|---|---|---|---|---|---|---|",
    ]
    for op in ops:
        for n in sizes:
            t, s, m = by.get(("tyst", op, n)), by.get(("spu", op, n)), by.get(("mpyc", op, n))
            if not any((t, s, m)):
                continue

            def ratio(peer: dict | None) -> str:
                if t is None or peer is None or t["status"] != "ok":
                    return "–"
                if peer["status"] == "ok":
                    return _ratio(peer["seconds"] / t["seconds"])
                if peer["status"] == "timeout":
                    return "> " + _ratio(peer["timeout_s"] / t["seconds"])
                return "–"

            rows.append(
                f"| {op} | {n:,} | {_fmt_s(t)} | {_fmt_s(s)} | {_fmt_s(m)} | {ratio(s)} | {ratio(m)} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peers", default="tyst,spu,mpyc", help="comma-separated, of: tyst, spu, mpyc"
    )
    parser.add_argument("--ops", default="mul,lt,eq,sort")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds one timed run of the operation may take (per party)",
    )
    parser.add_argument(
        "--setup-timeout",
        type=float,
        default=600.0,
        help="seconds without progress allowed outside the operation (start-up, sharing)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per peer measurement (median)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="peers stop repeating once their timed runs add up to this many seconds",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=12.0,
        help="kill a peer measurement whose three processes together exceed this",
    )
    parser.add_argument(
        "--min-available-gib",
        type=float,
        default=1.5,
        help="kill a peer measurement when the machine's MemAvailable falls below this",
    )
    parser.add_argument(
        "--run-after-timeout",
        action="store_true",
        help="also run the larger sizes of a peer/op that timed out or hit the memory cap",
    )
    parser.add_argument(
        "--spu-sort-method",
        default="SORT_DEFAULT",
        choices=["SORT_DEFAULT", "SORT_RADIX", "SORT_QUICK", "SORT_NETWORK"],
    )
    parser.add_argument(
        "--tyst",
        default=str(ROOT / ".venv" / "bin" / "tyst"),
        help="the tyst executable (project virtualenv)",
    )
    parser.add_argument("--tyst-repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "peers" / "results.json")
    parser.add_argument(
        "--append", action="store_true", help="add to the records already in --json"
    )
    parser.add_argument(
        "--table",
        type=Path,
        metavar="RESULTS_JSON",
        help="only print the markdown table of a results file",
    )
    args = parser.parse_args()

    if args.table:
        print(table(json.loads(args.table.read_text())))
        return

    peers = [p for p in args.peers.split(",") if p]
    ops = [o for o in args.ops.split(",") if o]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for p in peers:
        if p not in PEERS:
            parser.error(f"unknown peer {p!r}")
    for o in ops:
        if o not in OPERATIONS:
            parser.error(f"unknown op {o!r}")

    results = {"records": []}
    if args.append and args.json.exists():
        results = json.loads(args.json.read_text())
    results.setdefault("runs", []).append(
        {
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "argv": sys.argv,
            "machine": machine(),
            "versions": versions(),
            "loadavg_at_start": _loadavg(),
        }
    )
    runners = {"mpyc": run_mpyc, "spu": run_spu, "tyst": run_tyst}
    for op in ops:
        for peer in peers:
            timed_out_at, why = None, ""
            for n in sizes:
                if timed_out_at is not None and not args.run_after_timeout:
                    rec = {
                        "peer": peer,
                        "op": op,
                        "n": n,
                        "status": "not_run",
                        "reason": f"n={timed_out_at} {why}",
                    }
                else:
                    load = _loadavg()
                    started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
                    rec = runners[peer](op, n, args)
                    rec["started"], rec["loadavg_before"] = started, load
                    rec.setdefault("timeout_s", args.timeout)
                    if rec["status"] == "timeout":
                        timed_out_at, why = n, f"did not finish in {args.timeout:.0f} s"
                    elif rec["status"].startswith("error: the three processes held"):
                        timed_out_at, why = n, f"exceeded the {args.max_rss_gib:g} GiB memory cap"
                    elif rec["status"].startswith("error: the machine's available memory"):
                        timed_out_at, why = (
                            n,
                            f"left under {args.min_available_gib:g} GiB of memory available",
                        )
                print(summary_line(rec), flush=True)
                results["records"] = [
                    r for r in results["records"] if (r["peer"], r["op"], r["n"]) != (peer, op, n)
                ] + [rec]
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
