"""The latency benchmark's fit and generated section render what the records say (no runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks.latency import END, START, fit, render, render_section


def _record(
    case: str, delay_ms: float, relay: bool, seconds: float, rounds: int = 100
) -> dict[str, Any]:
    return {
        "case": case,
        "n": 10_000,
        "delay_ms": delay_ms,
        "relay": relay,
        "seconds": seconds,
        "rounds": rounds,
        "bandwidth_mbit": None,
        "command": "c",
        "bytes_sent": 5_000_000,
        "correct": True,
        "date": "2026-12-02T06:00:00+00:00",
    }


def test_fit_recovers_a_line() -> None:
    t0, slope = fit([(0.0, 1.0), (0.005, 1.5), (0.010, 2.0), (0.025, 3.5)]) or (0, 0)
    assert t0 == pytest.approx(1.0)
    assert slope == pytest.approx(100.0)
    assert fit([(0.0, 1.0)]) is None


def test_section_has_one_row_per_case_with_its_fit() -> None:
    records = [
        _record("sort", 0.0, False, 1.0),
        _record("sort", 0.0, True, 1.1),
        _record("sort", 10.0, True, 2.0, rounds=90),
        _record("sort", 25.0, True, 3.5, rounds=110),
        {**_record("sort", 10.0, True, 9.0), "bandwidth_mbit": 1.0},
    ]
    text = render_section(records)
    row = next(line for line in text.splitlines() if line.startswith("| sort"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # case, n, rounds, MB, 0 ms, relay 0 ms, 10 ms, 25 ms, fit, slope ÷ mean rounds; the
    # capped run is not in the fit but in its own table
    assert cells[1:8] == ["10,000", "90–110", "5.0", "1 s", "1.1 s", "2 s", "3.5 s"]
    assert cells[8] == "1.00 s + 100·d"
    assert cells[9] == "1.00"
    assert "| sort | 10,000 | 10 ms | 1 Mbit/s | 9 s | 100 | 5.0 | `c` |" in text


def test_render_replaces_only_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text(f"before\n{START}\nold\n{END}\nafter\n", encoding="utf-8")
    records = [_record("mul", 0.0, False, 0.1), _record("mul", 5.0, True, 0.2)]
    render(records, doc, tmp_path / "p.png")
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("before\n")
    assert text.endswith("after\n")
    assert "old" not in text
    assert "| mul" in text
