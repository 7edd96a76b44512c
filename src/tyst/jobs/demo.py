"""``tyst demo``: the benefit-overlap control of SOU 2026:44 §8.6.1, run as a real plan.

Försäkringskassan (FK) holds sickness-benefit periods (sjukpenning) per
person; Malmö and Lund hold the months in which they paid ekonomiskt bistånd
and the amount. The question, for FK's control unit only: per municipality,
in how many person-months did someone receive both, and how much bistånd was
paid in those months?

The demo writes synthetic files for the three owners, a plan (``demo.toml``)
and runs it exactly as ``tyst run`` does: each owner validates and
secret-shares its own file, three node processes compute over mutual TLS on
loopback, and the recipient combines the result. The plaintext reference is
DuckDB running the same SQL on the same files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np

from tyst.jobs.run import RunReport, run_plan
from tyst.plan import Plan, parse_plan

YEAR = 2026
MAX_PERIODS = 2

PLAN = '''
[analysis]
title = "Samtidig sjukpenning och ekonomiskt bistånd (demo)"
purpose = "Efterhandskontroll av felaktiga utbetalningar, syntetiska data"
legal_basis = "Bidragsbrottslagen (2007:612)"
retention_days = 1

[parties.fk]
name = "Försäkringskassan"
[parties.malmo]
name = "Malmö stad"
[parties.lund]
name = "Lunds kommun"

[tables.sjukpenning]
owner = "fk"
columns = { pnr = "id", fom = "date", tom = "date" }
max_rows_per_key = 2     # MAX_PERIODS
[tables.bistand_malmo]
owner = "malmo"
columns = { pnr = "id", manad = "date", belopp = "int" }
ranges = { belopp = [0, 1000000] }   # kronor per month: lets SUM be proved exact
[tables.bistand_lund]
owner = "lund"
columns = { pnr = "id", manad = "date", belopp = "int" }
ranges = { belopp = [0, 1000000] }

[query]
sql = """
SELECT b.kommun, COUNT(*) AS personmanader, SUM(b.belopp) AS bistand_kr
FROM sjukpenning s
JOIN (SELECT pnr, manad, belopp, 'Malmö' AS kommun FROM bistand_malmo
      UNION ALL
      SELECT pnr, manad, belopp, 'Lund' AS kommun FROM bistand_lund) AS b
  ON s.pnr = b.pnr
WHERE b.manad BETWEEN s.fom AND s.tom
GROUP BY b.kommun
ORDER BY personmanader DESC
"""

[output]
recipients = ["fk"]
'''


@dataclass(frozen=True)
class DemoFiles:
    """The plan and the owners' files, written to a directory."""

    plan: Plan
    data: dict[str, Path]
    rows: dict[str, int]


def _month(m: int) -> date:
    return date(YEAR, m + 1, 1)


def _month_end(m: int) -> date:
    return (date(YEAR + 1, 1, 1) if m == 11 else date(YEAR, m + 2, 1)) - timedelta(days=1)


def write_demo(directory: Path, persons: int = 10_000, seed: int = 2026) -> DemoFiles:
    """Synthetic data for ``persons`` people, the plan, written under ``directory``.

    About 30 % of the people have 1–2 sickness periods (months [start, end]);
    each person lives in Malmö or Lund, and about 15 % receive bistånd in some
    months of the year.
    """
    rng = np.random.default_rng(seed)
    pnr = [f"19{int(v):010d}" for v in rng.choice(10**10, persons, replace=False)]
    sick: list[tuple[str, str, str]] = []
    for person in np.flatnonzero(rng.random(persons) < 0.3).tolist():
        start = int(rng.integers(0, 12))
        for _ in range(int(rng.integers(1, MAX_PERIODS + 1))):
            if start > 11:
                break
            end = min(11, start + int(rng.integers(0, 4)))
            sick.append((pnr[person], _month(start).isoformat(), _month_end(end).isoformat()))
            start = end + 1 + int(rng.integers(1, 4))
    bistand: dict[str, list[tuple[str, str, int]]] = {"malmo": [], "lund": []}
    home = rng.integers(0, 2, persons)
    for person in np.flatnonzero(rng.random(persons) < 0.15).tolist():
        kommun = "malmo" if home[person] == 0 else "lund"
        for m in np.flatnonzero(rng.random(12) < 0.4).tolist():
            bistand[kommun].append(
                (pnr[person], _month(m).isoformat(), int(rng.integers(2_000, 12_000)))
            )
    directory.mkdir(parents=True, exist_ok=True)
    contents: dict[str, tuple[tuple[str, ...], list[tuple[str, str, str | int]]]] = {
        "sjukpenning": (("pnr", "fom", "tom"), list(sick)),
        "bistand_malmo": (("pnr", "manad", "belopp"), list(bistand["malmo"])),
        "bistand_lund": (("pnr", "manad", "belopp"), list(bistand["lund"])),
    }
    rows = {}
    paths = {}
    for table, (header, content) in contents.items():
        path = paths[table] = directory / f"{table}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(content)
        rows[table] = len(content)
    (directory / "demo.toml").write_text(PLAN, encoding="utf-8")
    plan = parse_plan(PLAN, str(directory / "demo.toml"))
    return DemoFiles(plan, paths, rows)


def reference(files: DemoFiles) -> list[list[str]]:
    """The plaintext answer: DuckDB runs the plan's SQL on the same files."""
    con = duckdb.connect()
    for table, path in files.data.items():
        types = {c: _duck(str(t)) for c, t in files.plan.tables[table].columns.items()}
        relation = con.read_csv(str(path), header=True, dtype=types)
        con.register(table, relation)
    return [[str(v) for v in row] for row in con.execute(files.plan.sql).fetchall()]


def _duck(ctype: str) -> str:
    return {"id": "VARCHAR", "date": "DATE", "int": "BIGINT"}[ctype]


def run_demo(files: DemoFiles, out: Path, *, timeout: float = 300.0) -> RunReport:
    """Run the demo plan end to end (as ``tyst run``), writing the recipient's CSV to ``out``."""
    return run_plan(files.plan, files.data, out, timeout=timeout)
