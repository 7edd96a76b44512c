"""Whole plans through ``tyst run``'s machinery on generated data: the relational benchmarks.

Usage::

    .venv/bin/python -m benchmarks.sql_plans --scenario join_aggregate --n 1000000
    .venv/bin/python -m benchmarks.sql_plans --scenario group_by --n 1000000
    .venv/bin/python -m benchmarks.sql_plans --scenario headline --n 1300000 --profile DIR

Each scenario writes its plan and CSV files to a temporary directory, runs the
plan exactly as ``tyst run`` does (the full lifecycle: a coordinator and three
node processes over loopback TLS, owners share and upload, the recipient
opens the sealed shares and combines), checks the
result against DuckDB on the same files, and prints one line::

    SCENARIO n=N node_seconds=S total_seconds=T sent_mb=M peak_mib=P correct=true

``node_seconds`` is the slowest node's time from its first operator to its
result shares (the oblivious query); ``total_seconds`` adds reading,
validating and sharing the files and starting the nodes. ``--profile DIR``
has every node's run process write a cProfile file (``party-<i>.pstats``) to
DIR and prints node 0's most expensive functions by cumulative time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from tyst.jobs.run import run_plan
from tyst.node.program import PROFILE_ENV
from tyst.plan import parse_plan

HEADER = """
[analysis]
title = "benchmark"
purpose = "benchmark"
legal_basis = "none"
retention_days = 1

[parties.fk]
name = "Försäkringskassan"
[parties.skv]
name = "Skatteverket"
"""


@dataclass(frozen=True)
class Scenario:
    tables: dict[str, tuple[str, dict[str, str]]]  # name -> (owner, columns)
    sql: str
    make: Callable[[int, np.random.Generator], dict[str, dict[str, np.ndarray]]]


def _pnr(values: np.ndarray) -> np.ndarray:
    return np.char.add("19", np.char.zfill(values.astype(str), 10))


def _join_data(n: int, rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    people = rng.permutation(4 * n)
    return {
        "ersattning": {
            "pnr": _pnr(people[:n]),
            "belopp": rng.integers(0, 300_000, n),
        },
        "inkomst": {
            "pnr": _pnr(people[n // 2 : n // 2 + n]),
            "inkomst": rng.integers(0, 1_000_000, n),
        },
    }


def _group_data(n: int, rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    return {
        "bistand": {
            "pnr": _pnr(rng.integers(0, max(1, n // 4), n)),
            "belopp": rng.integers(0, 20_000, n),
        }
    }


SKV_PER_FK = 10.5 / 1.3


def _headline_data(n: int, rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """n FK persons with 12 monthly benefit rows each, summed to one row per person on FK's
    own side (its own data: no MPC needed); ≈ 8.1 n Skatteverket persons with an income.
    About 90 % of FK's persons are in Skatteverket's table."""
    m = round(n * SKV_PER_FK)
    people = rng.permutation(m + n)
    monthly = rng.integers(0, 30_000, (n, 12))
    fk_people = np.concatenate([people[: n - n // 10], people[m : m + n // 10]])
    return {
        "fk_ar": {"pnr": _pnr(fk_people), "ersattning": monthly.sum(axis=1)},
        "skv_inkomst": {"pnr": _pnr(people[:m]), "inkomst": rng.integers(0, 1_500_000, m)},
    }


SCENARIOS = {
    "headline": Scenario(
        {
            "fk_ar": ("fk", {"pnr": "id", "ersattning": "int"}),
            "skv_inkomst": ("skv", {"pnr": "id", "inkomst": "int"}),
        },
        "SELECT COUNT(*) AS personer, SUM(f.ersattning) AS belopp FROM fk_ar f "
        "JOIN skv_inkomst s ON f.pnr = s.pnr WHERE s.inkomst > 4 * f.ersattning",
        _headline_data,
    ),
    "join_aggregate": Scenario(
        {
            "ersattning": ("fk", {"pnr": "id", "belopp": "int"}),
            "inkomst": ("skv", {"pnr": "id", "inkomst": "int"}),
        },
        "SELECT COUNT(*) AS personer, SUM(e.belopp) AS belopp FROM ersattning e "
        "JOIN inkomst i ON e.pnr = i.pnr WHERE i.inkomst > 2 * e.belopp",
        _join_data,
    ),
    "group_by": Scenario(
        {"bistand": ("fk", {"pnr": "id", "belopp": "int"})},
        "SELECT pnr, COUNT(*) AS manader, SUM(belopp) AS summa FROM bistand GROUP BY pnr",
        _group_data,
    ),
}


def _ranges(cols: dict[str, str]) -> str:
    """Every generated int column lies in [0, 10^7]: declared, so SUMs pass the range check."""
    ints = [c for c, t in cols.items() if t == "int"]
    if not ints:
        return ""
    return "ranges = { " + ", ".join(f"{c} = [0, 10000000]" for c in ints) + " }\n"


def _plan_text(s: Scenario) -> str:
    tables = "".join(
        f'\n[tables.{name}]\nowner = "{owner}"\ncolumns = {{ '
        + ", ".join(f'{c} = "{t}"' for c, t in cols.items())
        + " }\n"
        + _ranges(cols)
        for name, (owner, cols) in s.tables.items()
    )
    return HEADER + tables + f'\n[query]\nsql = """{s.sql}"""\n\n[output]\nrecipients = ["fk"]\n'


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Generated columns as a CSV file with a header row."""
    names = list(columns)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows(zip(*(columns[c].tolist() for c in names), strict=True))


def _reference(s: Scenario, files: dict[str, Path]) -> list[tuple[str, ...]]:
    con = duckdb.connect()
    for name, (_, cols) in s.tables.items():
        types = ", ".join(
            f"'{c}': '{'VARCHAR' if t == 'id' else 'BIGINT'}'" for c, t in cols.items()
        )
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv('{files[name]}', header=true, "
            f"columns={{{types}}})"
        )
    return sorted(
        tuple("" if v is None else str(v) for v in row) for row in con.execute(s.sql).fetchall()
    )


def run(name: str, n: int, seed: int = 1, profile: Path | None = None) -> str:
    """Run one scenario; return its result line (``profile``: see the module docstring)."""
    return str(run_measured(name, n, seed, profile)["line"])


def run_measured(name: str, n: int, seed: int = 1, profile: Path | None = None) -> dict[str, Any]:
    """Run one scenario; return ``{"line": …, "record": …}`` (the record for the report)."""
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        os.environ[PROFILE_ENV] = str(profile.resolve())
    scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="tyst-bench-") as tmp:
        root = Path(tmp)
        files = {}
        for table, columns in scenario.make(n, np.random.default_rng(seed)).items():
            files[table] = root / f"{table}.csv"
            write_csv(files[table], columns)
        plan = parse_plan(_plan_text(scenario), "benchmark.toml")
        started = time.perf_counter()
        report = run_plan(plan, files, root / "result.csv", timeout=600.0)
        total = time.perf_counter() - started
        correct = sorted(tuple(r) for r in report.rows) == _reference(scenario, files)
    node_seconds = max(m.seconds for m in report.nodes)
    sent = max(m.bytes_sent for m in report.nodes) / 1e6
    peak = max(m.peak_rss_bytes for m in report.nodes) / 2**20
    line = (
        f"{name} n={n} node_seconds={node_seconds:.2f} total_seconds={total:.2f} "
        f"sent_mb={sent:.0f} peak_mib={peak:.0f} correct={'true' if correct else 'false'}"
    )
    record = {
        "family": "plans",
        "op": name,
        "n": n,
        "seconds": round(node_seconds, 3),
        "total_seconds": round(total, 2),
        "cpu_seconds": [round(m.cpu_seconds, 2) for m in report.nodes],
        "peak_rss_mib": [round(m.peak_rss_bytes / 2**20) for m in report.nodes],
        "bytes_sent": [m.bytes_sent for m in report.nodes],
        "correct": correct,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} vCPU",
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "command": f".venv/bin/python -m benchmarks.sql_plans --scenario {name} --n {n}",
    }
    return {"line": line, "record": record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile files here")
    args = parser.parse_args()
    print(run(args.scenario, args.n, args.seed, args.profile), flush=True)
    if args.profile is not None:
        stats = pstats.Stats(str(args.profile / "party-0.pstats"))
        stats.sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
