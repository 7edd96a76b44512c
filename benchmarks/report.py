"""One command for every benchmark: measure, store the records, regenerate the report.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.report --run all            # measure everything, then render
    .venv/bin/python -m benchmarks.report --run relational --sizes 10000,100000
    .venv/bin/python -m benchmarks.report --run engine --max-n 10000000 --peers tyst
    .venv/bin/python -m benchmarks.report                      # only re-render from the records

Families and where their records live (every record is one measurement on this
machine: three node processes over loopback mutual TLS, with wall time, CPU
time, peak memory per node process and bytes sent per node, and whether the
result was checked correct):

- ``engine`` — mul, lt, eq, shuffle, sort for tyst and the peers (SecretFlow SPU's
  ABY3, MPyC) in the same run, by :mod:`benchmarks.peers.run` (which needs the
  peers' virtualenv ``.venv-peers``; see ``benchmarks/peers/README.md``) →
  ``benchmarks/peers/results.json``;
- ``relational`` — filter, PK–FK join, semi-join, anti-join, GROUP BY with
  COUNT/SUM/AVG, ORDER BY … LIMIT (:mod:`benchmarks.relational`) →
  ``benchmarks/results/relational.json``;
- ``plans`` — whole plans through ``tyst run``'s full lifecycle
  (:mod:`benchmarks.sql_plans`; ``--headline`` adds the 1.3 M × 10.5 M case) →
  ``benchmarks/results/plans.json``.

Rendering replaces the part of ``docs/benchmarks.md`` between the markers
``<!-- generated:start -->`` and ``<!-- generated:end -->`` with one table and
one plot (``docs/img/<family>.png``) per family, showing how cost grows with n.
A new measurement replaces an older one of the same family, operation, system
and size; nothing is ever extrapolated or filled in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ENGINE_JSON = ROOT / "benchmarks" / "peers" / "results.json"
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
START, END = "<!-- generated:start -->", "<!-- generated:end -->"
ENGINE_OPS = ("mul", "lt", "eq", "shuffle", "sort")
Record = dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _machine() -> str:
    return f"{os.cpu_count()} vCPU, {platform.machine()}, Python {platform.python_version()}"


# --------------------------------------------------------------------------- storing


def load(path: Path) -> list[Record]:
    """The records of a results file (empty if there is none)."""
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("records", []))


def store(path: Path, new: Iterable[Record], key: tuple[str, ...]) -> None:
    """Add ``new`` records, replacing older ones with the same ``key`` fields."""
    records = {tuple(r[k] for k in key): r for r in load(path)}
    for r in new:
        records[tuple(r[k] for k in key)] = r
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records.values(), key=lambda r: tuple(str(r[k]) for k in key))
    path.write_text(json.dumps({"records": ordered}, indent=1) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- measuring


def run_engine(
    sizes: list[int], peers: str, timeout: float, ops: str = ",".join(ENGINE_OPS)
) -> None:
    """The engine operations for ``peers`` via the peer harness (appends to its JSON).

    A peer measurement is stopped when its three processes together exceed 20 GiB or
    the machine's available memory falls below 3 GiB (reported, never extrapolated)."""
    python = ROOT / ".venv-peers" / "bin" / "python"
    if not python.exists():
        if peers != "tyst":
            raise SystemExit(".venv-peers is missing: see benchmarks/peers/README.md")
        python = Path(sys.executable)
    command = [
        str(python), "-m", "benchmarks.peers.run", "--peers", peers, "--ops", ops,
        "--sizes", ",".join(map(str, sizes)), "--timeout", str(timeout),
        "--max-rss-gib", "20", "--min-available-gib", "3",
        "--json", str(ENGINE_JSON), "--append",
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)


def run_relational(sizes: list[int]) -> None:
    from benchmarks.relational import OPERATORS, measure

    for n in sizes:
        for op in OPERATORS:
            m = measure(op, n)
            print(m.line(), flush=True)
            store(RESULTS / "relational.json", [_nodes_record("relational", op, n, m)], KEY)


def run_plans(sizes: list[int], headline: bool) -> None:
    from benchmarks.sql_plans import run_measured

    cases = [(s, n) for s in ("group_by", "join_aggregate") for n in sizes]
    if headline:
        cases.append(("headline", 1_300_000))
    for scenario, n in cases:
        m = run_measured(scenario, n)
        print(m["line"], flush=True)
        store(RESULTS / "plans.json", [m["record"]], KEY)


KEY = ("family", "op", "n")


def _nodes_record(family: str, op: str, n: int, m: Any) -> Record:
    return {
        "family": family,
        "op": op,
        "n": n,
        "seconds": round(m.seconds, 4),
        "cpu_seconds": [round(x.cpu_seconds, 3) for x in m.nodes],
        "peak_rss_mib": [round(x.peak_rss_bytes / 2**20) for x in m.nodes],
        "bytes_sent": [x.bytes_sent for x in m.nodes],
        "correct": m.correct,
        "date": _now(),
        "machine": _machine(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "command": f".venv/bin/python -m benchmarks.{family} --sizes {n} --ops {op}",
    }


# --------------------------------------------------------------------------- rendering


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3g} s" if x < 100 else f"{x:.0f} s"


def _bytes(b: float) -> str:
    return f"{b / 1e9:.3g} GB" if b >= 1e9 else f"{b / 1e6:.3g} MB"


def _ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 100 else f"{x:.3g}×"


def _sizes(records: list[Record]) -> list[int]:
    return sorted({int(r["n"]) for r in records})


def _exp(n: int) -> str:
    e = len(str(n)) - 1
    return f"10^{e}" if n == 10**e else f"{n:,}"


def _status(status: str) -> str:
    """A failed peer measurement in words."""
    if "memory" in status or "GiB" in status:
        return "memory cap hit"
    if status == "timeout":
        return "timed out"
    if status == "not_run":
        return "not run (a smaller size failed)"
    return status.split(":")[0]


def engine_table(records: list[Record]) -> str:
    """Per op and n: tyst's time, rate, CPU, memory and bytes; SPU's and MPyC's time and ratio."""
    latest: dict[tuple[str, str, int], Record] = {}
    for r in records:
        latest[(r["peer"], r["op"], int(r["n"]))] = r
    lines = [
        "| op | n | tyst | tyst rate | tyst CPU / peak / sent per node | SPU | SPU ÷ tyst | MPyC "
        "| MPyC ÷ tyst |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op in ENGINE_OPS:
        for n in _sizes([r for r in records if r["op"] == op]):
            t = latest.get(("tyst", op, n))
            cells = [op, _exp(n)]
            ts = t.get("seconds") if t and t.get("status") == "ok" else None
            cells.append(_fmt_s(ts) if t else "not run")
            cells.append(f"{n / ts / 1e6:.3g} M/s" if ts else "—")
            if t and t.get("parties"):
                p = t["parties"]
                cpu = max((x.get("op_cpu_seconds") or 0) for x in p)
                rss = max((x.get("peak_rss_mib") or 0) for x in p)
                sent = max((x.get("bytes_sent_op_run") or 0) for x in p)
                cells.append(f"{cpu:.3g} s / {rss:.0f} MiB / {_bytes(sent)}")
            else:
                cells.append("—")
            for peer in ("spu", "mpyc"):
                other = latest.get((peer, op, n))
                if other is None:
                    cells += ["not run", "—"]
                elif other.get("status") != "ok":
                    cells += [_status(str(other.get("status"))), "—"]
                else:
                    cells.append(_fmt_s(other["seconds"]))
                    cells.append(_ratio(other["seconds"] / ts) if ts else "—")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def nodes_table(records: list[Record], label: str) -> str:
    lines = [
        f"| {label} | n | time (slowest node) | × per 10× n | end to end | CPU (max node) "
        "| peak memory (max node) | sent (max node) | correct | measured |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    seconds = {(r["op"], int(r["n"])): float(r["seconds"]) for r in records}
    for r in sorted(records, key=lambda r: (r["op"], int(r["n"]))):
        before = seconds.get((r["op"], int(r["n"]) // 10))
        growth = f"{r['seconds'] / before:.3g}×" if before else "—"
        lines.append(
            f"| {r['op']} | {_exp(int(r['n']))} | {_fmt_s(r['seconds'])} | {growth} "
            f"| {_fmt_s(r.get('total_seconds'))} "
            f"| {max(r['cpu_seconds']):.3g} s | {max(r['peak_rss_mib'])} MiB "
            f"| {_bytes(max(r['bytes_sent']))} | {'yes' if r['correct'] else '**no**'} "
            f"| {r['date'][:10]} |"
        )
    return "\n".join(lines)


def plot(path: Path, series: dict[str, list[tuple[int, float]]], title: str, ylabel: str) -> None:
    """A log–log plot of one family: one line per operation (or system)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, points in sorted(series.items()):
        if points:
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n (rows)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


SYSTEM_COLOURS = {"tyst": "tab:blue", "spu": "tab:orange", "mpyc": "tab:green"}


def plot_engine(path: Path, records: list[Record]) -> None:
    """One panel per engine operation, one line per system (seconds against n, log–log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ENGINE_OPS), figsize=(14, 3.4), sharey=True)
    for ax, op in zip(axes, ENGINE_OPS, strict=True):
        for system, colour in SYSTEM_COLOURS.items():
            latest = {
                int(r["n"]): float(r["seconds"])
                for r in records
                if r["peer"] == system and r["op"] == op and r.get("status") == "ok"
            }
            if latest:
                xs = sorted(latest)
                ax.plot(xs, [latest[x] for x in xs], marker="o", color=colour, label=system)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(op)
        ax.set_xlabel("n")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    labelled: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    if labelled:
        axes[0].legend(list(labelled.values()), list(labelled), fontsize=8)
    fig.suptitle("Engine operations: tyst, SPU (ABY3), MPyC — 3 TLS processes on 2 cores")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(
    doc: Path = DOC, img: Path = IMG, results: Path = RESULTS, engine: Path = ENGINE_JSON
) -> str:
    """Regenerate the generated section of ``doc`` and the plots; returns the section."""
    engine_records = load(engine)
    relational = load(results / "relational.json")
    plans = load(results / "plans.json")
    parts = [
        START,
        "",
        "*Generated by `.venv/bin/python -m benchmarks.report` from the stored records "
        f"(last rendered {_now()[:10]}); every figure was measured on this machine, "
        "three node processes over loopback mutual TLS, results checked.*",
        "",
        "### Engine operations, tyst and the peers",
        "",
        "Median of the timed runs; ratios are the peer's time divided by tyst's "
        "(higher = tyst faster). Command: `.venv/bin/python -m benchmarks.report --run engine`.",
        "",
        engine_table(engine_records),
        "",
        "![engine operations](img/engine.png)",
        "",
        "### Relational operators",
        "",
        "Command: `.venv/bin/python -m benchmarks.report --run relational`. Tables `a` (n rows, "
        "unique id) and `b` (n rows, half of its ids in `a`, ≈ n/100 groups).",
        "",
        nodes_table(relational, "operator"),
        "",
        "![relational operators](img/relational.png)",
        "",
        "### Whole plans through the service lifecycle",
        "",
        "Command: `.venv/bin/python -m benchmarks.report --run plans [--headline]`. Time is the "
        "slowest node's oblivious query; end to end adds starting the coordinator and nodes, "
        "submitting and approving, reading, validating, sharing and uploading the files, "
        "sealing, relaying and decoding the result.",
        "",
        nodes_table(plans, "scenario"),
        "",
        "![whole plans](img/plans.png)",
        "",
        END,
    ]
    section = "\n".join(parts)
    plot_engine(img / "engine.png", engine_records)
    for name, records in (("relational", relational), ("plans", plans)):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in records:
            series.setdefault(r["op"], []).append((int(r["n"]), r["seconds"]))
        plot(img / f"{name}.png", series, f"{name.capitalize()} (slowest node)", "seconds")
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n## Generated tables\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    doc.write_text(head + section + tail, encoding="utf-8")
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run", default="", help="all, or a comma list of engine, relational, plans"
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--max-n", type=int, default=1_000_000, help="largest engine size")
    parser.add_argument("--peers", default="tyst,spu,mpyc", help="engine: systems to run")
    parser.add_argument("--ops", default=",".join(ENGINE_OPS), help="engine: operations to run")
    parser.add_argument("--timeout", type=float, default=300.0, help="engine: per timed run")
    parser.add_argument("--headline", action="store_true", help="plans: add the headline case")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    families = (
        {"engine", "relational", "plans"}
        if args.run == "all"
        else set(filter(None, args.run.split(",")))
    )
    started = time.perf_counter()
    if "engine" in families:
        engine_sizes = sorted({*sizes, *(s for s in (10**7,) if s <= args.max_n)})
        run_engine([s for s in engine_sizes if s <= args.max_n], args.peers, args.timeout, args.ops)
    if "relational" in families:
        run_relational(sizes)
    if "plans" in families:
        run_plans(sizes, args.headline)
    render()
    print(f"rendered {DOC.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
