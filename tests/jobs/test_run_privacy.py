"""A ``[privacy]`` plan through ``tyst run``'s whole lifecycle (coordinator, three node
processes with their budget ledgers, owner, recipient): the 21 regions' noisy counts and sums.

Every declared region is released (one without rows too), each value within the tail bound
of three noises around the exact (capped, clamped) value computed by DuckDB, the recipient's
report names both columns noisy (the nodes' ledgers, which charge the run, are tested in
tests/node/test_ledger.py)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import duckdb

from tyst.jobs.run import run_plan
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec
from tyst.release.privacy import calibration

REGIONS = list(range(1, 22))
PLAN = """\
[analysis]
title = "Bistånd per region"
purpose = "statistik"
legal_basis = "test"
retention_days = 1
[parties.a]
name = "A"
[tables.t]
owner = "a"
columns = { pnr = "id", region = "int", belopp = "decimal(2)" }
max_rows = 1000
ranges = { region = [1, 21], belopp = [0, 100000] }
budget = { epsilon = "3/2", period = "total" }
[query]
sql = "SELECT region, COUNT(*) AS n, SUM(belopp) AS s FROM t GROUP BY region"
[output]
recipients = ["a"]
[privacy]
unit = "pnr"
mechanism = "laplace"
epsilon = "1"
max_rows_per_unit = 2
bounds = { belopp = [0, 20000] }
keys = { region = [REGIONS] }
""".replace("REGIONS", ", ".join(map(str, REGIONS)))


def test_noisy_regions_through_tyst_run(tmp_path: Path) -> None:
    rng = random.Random(4)
    rows = [  # region 21 has no rows; some persons have 3 rows (one is capped away)
        (
            f"p{rng.randrange(120)}",
            rng.randint(1, 20),
            f"{rng.randint(0, 30000)}.{rng.randint(0, 99):02d}",
        )
        for _ in range(200)
    ]
    data = tmp_path / "t.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("pnr", "region", "belopp"), *rows])
    plan = parse_plan(PLAN)
    report = run_plan(plan, {"t": data}, tmp_path / "out.csv", workdir=tmp_path / "work")
    assert sorted(int(r[0]) for r in report.rows) == REGIONS
    assert set(report.noisy) == {"n", "s"}
    con = duckdb.connect()
    exact = {
        region: (n, s)
        for region, n, s in con.execute(
            "SELECT region, COUNT(*), SUM(LEAST(belopp, 20000)) FROM ("
            "  SELECT *, ROW_NUMBER() OVER (PARTITION BY pnr ORDER BY rn) AS k FROM ("
            f"    SELECT *, ROW_NUMBER() OVER () AS rn FROM read_csv('{data}'))) "
            "WHERE k <= 2 GROUP BY region"
        ).fetchall()
    }
    n_col, s_col = calibration(plan.privacy, job_spec(plan).compiled.plan)  # type: ignore[arg-type]
    for region, n, s in report.rows:
        want_n, want_s = exact.get(int(region), (0, 0))
        assert abs(int(n) - want_n) <= 3 * n_col.tail
        assert abs(round(float(s) * 100) - round(float(want_s) * 100)) <= 3 * s_col.tail
