"""The benchmark report renders what the records say (no benchmark runs here)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.report import END, START, load, render, store


def _record(op: str, n: int, seconds: float, correct: bool = True) -> dict[str, object]:
    return {
        "family": "relational",
        "op": op,
        "n": n,
        "seconds": seconds,
        "cpu_seconds": [seconds, seconds / 2, seconds / 2],
        "peak_rss_mib": [100, 120, 110],
        "bytes_sent": [2_000_000, 1_000_000, 1_000_000],
        "correct": correct,
        "date": "2026-11-24T01:00:00+00:00",
        "machine": "2 vCPU",
        "loadavg": [0.1, 0.1, 0.1],
        "command": "x",
    }


def test_store_replaces_the_same_measurement(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    store(path, [_record("join", 10, 1.0), _record("join", 100, 2.0)], ("family", "op", "n"))
    store(path, [_record("join", 10, 0.5)], ("family", "op", "n"))
    assert sorted((r["n"], r["seconds"]) for r in load(path)) == [(10, 0.5), (100, 2.0)]


def test_render_writes_tables_and_plots_between_the_markers(tmp_path: Path) -> None:
    results, img, doc = tmp_path / "results", tmp_path / "img", tmp_path / "bench.md"
    store(
        results / "relational.json",
        [_record("join", 10_000, 0.25), _record("join", 100_000, 2.5, correct=False)],
        ("family", "op", "n"),
    )
    engine = tmp_path / "engine.json"
    engine.write_text(
        json.dumps(
            {
                "records": [
                    {"peer": "tyst", "op": "lt", "n": 1000000, "status": "ok", "seconds": 0.5,
                     "parties": [{"op_cpu_seconds": 0.3, "peak_rss_mib": 280,
                                  "bytes_sent_op_run": 4e7}]},
                    {"peer": "spu", "op": "lt", "n": 1000000, "status": "ok", "seconds": 2.0},
                    {"peer": "mpyc", "op": "lt", "n": 1000000,
                     "status": "error: available memory fell below 3 GiB"},
                ]
            }
        )
    )  # fmt: skip
    doc.write_text(f"# B\n\nprose before\n\n{START}\nold\n{END}\n\nprose after\n")
    section = render(doc, img, results, engine)
    text = doc.read_text()
    assert text.startswith("# B\n\nprose before")
    assert text.endswith("prose after\n")
    assert "old" not in text
    assert section in text
    assert (
        "| lt | 10^6 | 0.5 s | 2 M/s | 0.3 s / 280 MiB / 40 MB | 2 s | 4× | memory cap hit | — |"
        in text
    )
    assert "| join | 10^4 | 0.25 s |" in text
    assert (
        "| join | 10^5 | 2.5 s | 10× | — | 2.5 s | 120 MiB | 2 MB | **no** | 2026-11-24 |" in text
    )
    for name in ("engine", "relational", "plans"):
        png = img / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
