"""The use-case and TPC-H benchmarks' own logic (no benchmark runs here)."""

from __future__ import annotations

import numpy as np
from benchmarks import tpch, use_cases
from benchmarks.rows import same_rows

from tyst.plan import parse_plan
from tyst.planner.jobspec import compile_plan


def test_every_use_case_is_a_doc_example_and_its_plan_compiles() -> None:
    assert len(use_cases.doc_queries()) == len(use_cases.CASES) == 10
    for case in use_cases.CASES:
        sql = use_cases.query_of(case)
        for ranges in (True, False):
            plan = parse_plan(use_cases.plan_text(case, sql, ranges=ranges), "u.toml")
            assert set(plan.tables) == set(case.tables)
        assert compile_plan(parse_plan(use_cases.plan_text(case, sql, ranges=True), "u.toml"))
        data = case.make(50, np.random.default_rng(0))
        assert set(data) == set(case.tables)
        for table, columns in data.items():
            assert set(columns) == set(case.tables[table].columns)


def test_result_lines_round_trip() -> None:
    figures = {"use_case": "payments", "n": 10, "node_seconds": 1.5, "rows": 1, "correct": True}
    assert use_cases.parse_line("noise\n" + use_cases.line(figures)) == figures


def test_same_rows_compares_averages_within_their_printed_decimals() -> None:
    assert same_rows([["J12", "6033", "29.887950"]], [("J12", "6033", "29.887949610475715")])
    assert not same_rows([["J12", "6033", "29.887960"]], [("J12", "6033", "29.887949610475715")])
    assert not same_rows([["a", "1"]], [("a", "2")])
    assert same_rows([["b", "2"], ["a", "1"]], [("a", "1"), ("b", "2")])
    assert not same_rows([["b", "2"], ["a", "1"]], [("a", "1"), ("b", "2")], ordered=True)
    assert not same_rows([["a", "1"]], [("a", "1"), ("a", "1")])


def test_tpch_reads_the_slowest_node_from_tyst_runs_output() -> None:
    out = "\n".join(
        f"  node {i}: computed in {s} s, sent {b} MB, received 1.0 MB from nodes "
        f"+ 2.0 MB of shares from owners, peak memory {p} MiB"
        for i, s, b, p in ((0, "1.50", "10.0", 100), (1, "2.25", "9.0", 120), (2, "2", "11.5", 90))
    )
    assert tpch.node_figures(out) == {"node_seconds": 2.25, "sent_mb": 11.5, "peak_mib": 120.0}


def test_same_rows_compares_decimals_exactly() -> None:
    assert not same_rows([["12345678901.23"]], [("12345678901.24",)])
    assert same_rows([["5.00"]], [("5.0",)])
    assert not same_rows([["0.1234567"]], [("0.1234568",)])


def test_summary_takes_medians_and_pairwise_ratios() -> None:
    def run(s: float) -> dict[str, object]:
        return {"node_seconds": s, "total_seconds": 2 * s, "sent_mb": 1.0, "peak_mib": 100.0,
                "rows": 3, "correct": True}  # fmt: skip

    r = use_cases.summarise("payments", 10, [run(2.0), run(4.0), run(9.0)],
                            [run(1.0), run(4.0), run(10.0)])  # fmt: skip
    assert (r["node_seconds"]["a"], r["node_seconds"]["b"]) == (4.0, 4.0)
    assert r["node_seconds"]["ratio"] == 1.0  # median of 2.0, 1.0, 0.9
    assert (r["node_seconds"]["ratio_min"], r["node_seconds"]["ratio_max"]) == (0.9, 2.0)
    assert (r["correct_a"], r["correct_b"], r["pairs"]) == (True, True, 3)
