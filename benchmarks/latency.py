"""Time, rounds and bytes per node across delayed links: engine operations, relational
operators and one whole plan at 0, 5, 10 and 25 ms one way.

Usage::

    nice -n 10 .venv/bin/python -m benchmarks.latency                  # every case, every delay
    nice -n 10 .venv/bin/python -m benchmarks.latency --delays 25 --cases sort,join
    .venv/bin/python -m benchmarks.latency --render                    # docs only, no runs

Each case runs on three node processes connected by mutual TLS on loopback
(:mod:`tyst.net.launcher`), exactly as ``tyst bench`` (engine operations,
:func:`tyst.jobs.bench.run_bench`, checked against numpy) and
``benchmarks.relational`` (relational operators and the whole plan through the
engine, checked against DuckDB) run them. At a delay d > 0 every directed mesh
link goes through :class:`benchmarks.relay.MeshRelay` with d one way in each
direction (so a round trip is 2·d), no bandwidth cap; "0 ms" is the direct
loopback mesh, and "relay 0 ms" the mesh through the relay with no delay
(the relay's own cost). Reported per case: the slowest node's wall time of
the measured section, the largest node round count (sequential message delays,
:mod:`tyst.net.transport`) and the most bytes one node sent.

Records go to ``benchmarks/results/latency.json`` (replacing the same case,
size and delay); ``--render`` (also done after every run) rewrites the section
between ``<!-- latency:start -->`` and ``<!-- latency:end -->`` of
``docs/benchmarks.md`` and the plot ``docs/img/latency.png`` (if matplotlib is
installed). The fit per case is the least-squares line time = t0 + slope·d over
the measured delays; ``slope / rounds`` (rounds: their mean over those runs; a
sort's count varies from run to run) says how many one-way delays each round
costs (1.0: each round waits exactly one delay). ``--bandwidth-mbit B`` caps
each direction of each link at B Mbit/s (a separate table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.relay import MeshRelay
from benchmarks.report import load, store
from tyst.engine.metrics import NodeMetrics
from tyst.net.launcher import Route

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latency.json"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "img" / "latency.png"
START, END = "<!-- latency:start -->", "<!-- latency:end -->"
KEY = ("case", "n", "delay_ms", "relay", "bandwidth_mbit")
DELAYS_MS = (0.0, 5.0, 10.0, 25.0)
COMMAND = "nice -n 10 .venv/bin/python -m benchmarks.latency"

PLAN_SQL = "SELECT a.k, a.x, b.y FROM a JOIN b ON a.k = b.k ORDER BY b.y DESC, a.x"
"""The whole plan: a PK–FK join of two n-row tables (half of b's keys match) and ORDER BY."""

Outcome = tuple[float, list[NodeMetrics], bool]


@dataclass(frozen=True)
class Case:
    """One measured shape: its ``family``, size and how to run it (given the relay route)."""

    name: str
    family: str
    n: int
    what: str
    run: Callable[[Route | None], Outcome]


def _engine(op: str, n: int) -> Callable[[Route | None], Outcome]:
    def run(route: Route | None) -> Outcome:
        from tyst.jobs.bench import run_bench

        out = run_bench(op, n, repeat=1, timeout=600.0, route=route)
        return out.seconds, out.nodes, out.correct

    return run


def _relational(op: str, n: int, sql: str | None = None) -> Callable[[Route | None], Outcome]:
    def run(route: Route | None) -> Outcome:
        from benchmarks.relational import measure

        m = measure(op, n, sql=sql, route=route)
        return m.seconds, m.nodes, m.correct

    return run


CASES: tuple[Case, ...] = (
    Case("mul", "engine", 100_000, "one batch of multiplications", _engine("mul", 100_000)),
    Case("lt", "engine", 100_000, "one batch of comparisons", _engine("lt", 100_000)),
    Case("sort", "engine", 10_000, "oblivious sort of one key column", _engine("sort", 10_000)),
    Case("join", "relational", 10_000, "PK–FK join + COUNT, SUM", _relational("join", 10_000)),
    Case(
        "group_by",
        "relational",
        10_000,
        "GROUP BY g: COUNT, SUM, AVG",
        _relational("group_by", 10_000),
    ),
    Case(
        "order_limit",
        "relational",
        10_000,
        "ORDER BY y DESC, g LIMIT 10",
        _relational("order_limit", 10_000),
    ),
    Case(
        "join_order_by",
        "plan",
        30_000,
        "whole plan: join + ORDER BY, every joined row delivered",
        _relational("join_order_by", 30_000, PLAN_SQL),
    ),
    Case(
        "join_order_by_100k",
        "plan",
        100_000,
        "the same plan at 10^5 + 10^5 rows",
        _relational("join_order_by", 100_000, PLAN_SQL),
    ),
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def measure(
    case: Case, delay_ms: float, relay: bool, bandwidth_mbit: float | None = None
) -> dict[str, Any]:
    """Run ``case`` once with ``delay_ms`` one way on every link (``relay``: through the relay
    even at 0 ms; ``bandwidth_mbit``: each direction of each link capped at that many Mbit/s)
    and return its record."""
    started = time.perf_counter()
    relay = relay or delay_ms > 0 or bandwidth_mbit is not None
    cap = None if bandwidth_mbit is None else bandwidth_mbit * 1e6 / 8
    if relay:
        with MeshRelay(delay=delay_ms / 1000, bandwidth=cap) as mesh:
            seconds, nodes, correct = case.run(mesh.route)
    else:
        seconds, nodes, correct = case.run(None)
    return {
        "case": case.name,
        "family": case.family,
        "what": case.what,
        "n": case.n,
        "delay_ms": delay_ms,
        "relay": relay,
        "bandwidth_mbit": bandwidth_mbit,
        "seconds": round(seconds, 4),
        "rounds": max(m.rounds for m in nodes),
        "messages_sent": max(m.messages_sent for m in nodes),
        "bytes_sent": max(m.bytes_sent for m in nodes),
        "cpu_seconds": round(max(m.cpu_seconds for m in nodes), 3),
        "correct": correct,
        "total_seconds": round(time.perf_counter() - started, 1),
        "date": _now(),
        "machine": f"{os.cpu_count()} vCPU, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "command": f"{COMMAND} --cases {case.name} --delays {delay_ms:g}"
        + (" --relay-zero" if relay and delay_ms == 0 and cap is None else "")
        + (f" --bandwidth-mbit {bandwidth_mbit:g}" if bandwidth_mbit is not None else ""),
    }


def line(r: dict[str, Any]) -> str:
    """One printed line per measurement."""
    via = "relay" if r["relay"] else "direct"
    if r.get("bandwidth_mbit") is not None:
        via += f"@{r['bandwidth_mbit']:g}Mbit/s"
    return (
        f"{r['case']} n={r['n']} delay_ms={r['delay_ms']:g} via={via} seconds={r['seconds']:.3f} "
        f"rounds={r['rounds']} sent_mb={r['bytes_sent'] / 1e6:.1f} "
        f"correct={'true' if r['correct'] else 'false'}"
    )


# --------------------------------------------------------------------------- the fit


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares (t0, slope) of seconds against the one-way delay in seconds."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - slope * mx, slope


def _delayed(records: list[dict[str, Any]], case: str) -> list[dict[str, Any]]:
    """The records of ``case`` on the direct mesh at 0 ms and through the relay at d > 0."""
    rs = [
        r
        for r in records
        if r["case"] == case
        and r.get("bandwidth_mbit") is None
        and r["relay"] == (r["delay_ms"] > 0)
    ]
    return sorted(rs, key=lambda r: r["delay_ms"])


# --------------------------------------------------------------------------- rendering


def _secs(x: float) -> str:
    return f"{x:.3g} s" if x < 100 else f"{x:.0f} s"


def render_section(records: list[dict[str, Any]]) -> str:
    """The generated section of ``docs/benchmarks.md`` (between the markers)."""
    capped = [r for r in records if r.get("bandwidth_mbit") is not None]
    records = [r for r in records if r.get("bandwidth_mbit") is None]
    delays = sorted({r["delay_ms"] for r in records if r["relay"] and r["delay_ms"] > 0})
    cases = [c for c in CASES if any(r["case"] == c.name for r in records)]
    date = max((r["date"][:10] for r in records), default="—")
    head = ["case", "n", "rounds (min–max)", "MB sent / node", "0 ms", "relay 0 ms"]
    head += [f"{d:g} ms" for d in delays] + ["fit: t0 + slope·d", "slope ÷ rounds"]
    out = [
        f"*Generated by `{COMMAND} --render` from `benchmarks/results/latency.json` "
        f"(measured {date}); three node processes over loopback mutual TLS, every result "
        "checked (numpy or DuckDB); d is the one-way delay on every link (round trip 2·d).*",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for c in cases:
        rs = [r for r in records if r["case"] == c.name]
        by = {(r["delay_ms"], r["relay"]): r for r in rs}
        direct = by.get((0.0, False))
        base = direct or rs[0]
        lo, hi = min(r["rounds"] for r in rs), max(r["rounds"] for r in rs)
        delayed = _delayed(records, c.name)
        mean_rounds = sum(r["rounds"] for r in delayed) / max(1, len(delayed))
        cells = [
            f"{c.name} ({c.what})",
            f"{c.n:,}",
            str(lo) if lo == hi else f"{lo}–{hi}",
            f"{base['bytes_sent'] / 1e6:.1f}",
            _secs(direct["seconds"]) if direct else "—",
        ]
        zero = by.get((0.0, True))
        cells.append(_secs(zero["seconds"]) if zero else "—")
        cells += [_secs(by[(d, True)]["seconds"]) if (d, True) in by else "—" for d in delays]
        points = [(r["delay_ms"] / 1000, r["seconds"]) for r in delayed]
        f = fit(points)
        if f is None:
            cells += ["—", "—"]
        else:
            t0, slope = f
            cells += [f"{t0:.2f} s + {slope:.0f}·d", f"{slope / mean_rounds:.2f}"]
        if not all(r["correct"] for r in rs):
            cells[0] += " **(a result was wrong)**"
        out.append("| " + " | ".join(cells) + " |")
    if capped:
        out += [
            "",
            "With a bandwidth cap on each direction of each link:",
            "",
            "| case | n | one-way delay | cap | time | rounds | MB sent / node | command |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(capped, key=lambda r: (r["case"], r["bandwidth_mbit"], r["delay_ms"])):
            out.append(
                f"| {r['case']} | {r['n']:,} | {r['delay_ms']:g} ms | {r['bandwidth_mbit']:g} "
                f"Mbit/s | {_secs(r['seconds'])} | {r['rounds']} | "
                f"{r['bytes_sent'] / 1e6:.1f} | `{r['command']}` |"
            )
    out += [
        "",
        f"Command: `{COMMAND}` (every case at 0, 5, 10 and 25 ms, then `--relay-zero`).",
        "",
        "![time against one-way delay](img/latency.png)",
    ]
    return "\n".join(out)


def plot(records: list[dict[str, Any]], path: Path = PLOT) -> bool:
    """Time against the one-way delay per case (log time axis); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for c in CASES:
        rs = _delayed(records, c.name)
        if len(rs) < 2:
            continue
        ax.plot(
            [r["delay_ms"] for r in rs],
            [r["seconds"] for r in rs],
            marker="o",
            label=f"{c.name} (n={c.n:,}, {rs[0]['rounds']} rounds)",
        )
    if not ax.lines:
        plt.close(fig)
        return False
    ax.set_xlabel("one-way delay on every node-to-node link (ms)")
    ax.set_ylabel("wall time of the run (s)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("tyst across delayed links (three nodes, loopback + userspace relay)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def render(records: list[dict[str, Any]], doc: Path = DOC, image: Path = PLOT) -> None:
    """Rewrite the generated section of ``doc`` (the markers must exist) and the plot."""
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{doc}: no {START} … {END} markers")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    doc.write_text(
        f"{before}{START}\n\n{render_section(records)}\n\n{END}{after}", encoding="utf-8"
    )
    plot(records, image)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(c.name for c in CASES))
    parser.add_argument("--delays", default=",".join(f"{d:g}" for d in DELAYS_MS))
    parser.add_argument(
        "--relay-zero", action="store_true", help="0 ms through the relay (its own cost)"
    )
    parser.add_argument("--bandwidth-mbit", type=float, default=None, help="cap every link")
    parser.add_argument("--render", action="store_true", help="only re-render the docs")
    args = parser.parse_args(argv)
    if not args.render:
        chosen = [c for c in CASES if c.name in args.cases.split(",")]
        for delay in (float(d) for d in args.delays.split(",")):
            for case in chosen:
                record = measure(case, delay, args.relay_zero, args.bandwidth_mbit)
                print(line(record), f"total_seconds={record['total_seconds']}", flush=True)
                store(RESULTS, [record], KEY)
    render(load(RESULTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
