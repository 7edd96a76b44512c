"""``tyst run`` and ``tyst check`` as a user meets them: the plan contract, the result CSV
(equal to DuckDB on the same files), and one clear error line for every kind of bad input."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.examples import ISSUE_PLAN

EXAMPLE_PLAN = ISSUE_PLAN

SJUKPENNING = [
    ("pnr", "fom", "tom", "belopp"),
    ("197001010001", "2026-01-01", "2026-03-31", "1200.50"),
    ("197001010002", "2026-02-01", "2026-02-28", "80.00"),
    ("198512240003", "2026-05-01", "2026-09-30", "999.99"),
    ("199003030004", "2026-01-01", "2026-12-31", "10"),
    ("Ström Åsa-ID", "2026-06-01", "2026-06-30", "0.01"),
]
BISTAND = [
    ("pnr", "manad", "belopp"),
    ("197001010001", "2026-02-01", "5400"),
    ("197001010001", "2026-04-01", "5400"),
    ("197001010002", "2026-02-01", "3000"),
    ("198512240003", "2026-04-01", "100"),
    ("198512240003", "2026-05-01", "100"),
    ("198512240003", "2026-09-01", "-20"),
    ("199999999999", "2026-03-01", "700"),
    ("Ström Åsa-ID", "2026-06-01", "1"),
]


def _write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _tyst(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tyst.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture
def case(tmp_path: Path) -> Path:
    (tmp_path / "plan.toml").write_text(EXAMPLE_PLAN, encoding="utf-8")
    _write(tmp_path / "sjukpenning.csv", SJUKPENNING)
    _write(tmp_path / "bistand.csv", BISTAND)
    return tmp_path


def _duckdb(case: Path, sql: str) -> list[tuple[str, ...]]:
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE sjukpenning AS SELECT * FROM read_csv('{case / 'sjukpenning.csv'}', "
        "header=true, columns={'pnr': 'VARCHAR', 'fom': 'DATE', 'tom': 'DATE', "
        "'belopp': 'DECIMAL(18,2)'})"
    )
    con.execute(
        f"CREATE TABLE bistand AS SELECT * FROM read_csv('{case / 'bistand.csv'}', "
        "header=true, columns={'pnr': 'VARCHAR', 'manad': 'DATE', 'belopp': 'BIGINT'})"
    )
    return [tuple(str(v) for v in row) for row in con.execute(sql).fetchall()]


def test_run_example_plan_writes_the_duckdb_result(case: Path) -> None:
    done = _tyst(
        "run", "plan.toml", "--data", "sjukpenning=sjukpenning.csv",
        "--data", "bistand=bistand.csv", "--out", "result.csv", cwd=case,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with (case / "result.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["pnr"]
    sql = (
        "SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr "
        "WHERE b.manad BETWEEN s.fom AND s.tom"
    )
    assert sorted(tuple(r) for r in rows[1:]) == sorted(_duckdb(case, sql))
    assert "Ström Åsa-ID" in {r[0] for r in rows[1:]}
    # every node reports the sequential message delays of its run beside its bytes
    rounds = [int(r) for r in re.findall(r"node \d: computed .* (\d+) rounds", done.stdout)]
    assert len(rounds) == 3, done.stdout
    assert min(rounds) > 20, done.stdout


def test_run_group_by_with_every_output_type(case: Path) -> None:
    plan = EXAMPLE_PLAN.replace(
        '''sql = """SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr
         WHERE b.manad BETWEEN s.fom AND s.tom"""''',
        '''sql = """SELECT b.pnr, COUNT(*) AS n, SUM(b.belopp) AS summa, AVG(b.belopp) AS medel,
         MIN(b.manad) AS forst, MAX(s.belopp) AS sjuk, MAX(s.fom) > DATE '2026-03-01' AS sen
         FROM bistand b JOIN sjukpenning s ON s.pnr = b.pnr GROUP BY b.pnr ORDER BY summa"""''',
    ).replace("min_group_size = 5", "min_group_size = 2")
    plan = plan.replace(
        'columns = { pnr = "id", manad = "date", belopp = "int" }',
        'columns = { pnr = "id", manad = "date", belopp = "int" }\n'
        "ranges = { belopp = [-1000000, 1000000] }",
    )
    (case / "plan.toml").write_text(plan, encoding="utf-8")
    done = _tyst(
        "run", "plan.toml", "--data", "sjukpenning=sjukpenning.csv",
        "--data", "bistand=bistand.csv", "--out", "result.csv", cwd=case,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "groups suppressed by min_group_size=2: 2" in done.stdout
    with (case / "result.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["pnr", "n", "summa", "medel", "forst", "sjuk", "sen"],
        ["198512240003", "3", "180", "60.000000", "2026-04-01", "999.99", "true"],
        ["197001010001", "2", "10800", "5400.000000", "2026-02-01", "1200.50", "false"],
    ]


def test_check_explains_recipients_leakage_plan_and_data(case: Path) -> None:
    done = _tyst(
        "check", "plan.toml", "--data", "sjukpenning=sjukpenning.csv",
        "--data", "bistand=bistand.csv", cwd=case,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in (
        "What each recipient receives:",
        "Försäkringskassan: a table with the columns",
        "What the three compute nodes learn (leakage):",
        "the number of rows of each input table",
        "Operator plan",
        "join",
        "Data preparation",
        "sjukpenning",
        "5 rows",
    ):
        assert expected in out, (expected, out)


BAD_CASES = {
    "unsupported_sql": (
        ('sql = """SELECT s.pnr', 'sql = """SELECT NTILE(2) OVER (ORDER BY s.pnr) AS x, s.pnr'),
        {},
        "NTILE is not supported",
    ),
    "unknown_column": (("SELECT s.pnr FROM", "SELECT s.nope FROM"), {}, "unknown column s.nope"),
    "unknown_table": (("JOIN bistand b", "JOIN okand b"), {}, "unknown table 'okand'"),
    "arithmetic_on_id": (
        ("SELECT s.pnr FROM", "SELECT s.pnr + 1 AS x FROM"),
        {},
        "arithmetic on an id column",
    ),
    "recipient_not_a_party": (
        ('recipients = ["fk"]', 'recipients = ["skv"]'),
        {},
        '[output] recipients: "skv" is not a party',
    ),
    "malformed_plan": (("[output]", "[output"), {}, "plan.toml: malformed TOML"),
    "csv_missing_column": (
        None,
        {"bistand": [("pnr", "belopp"), ("197001010001", "5")]},
        "bistand.csv",
    ),
    "unparsable_value": (
        None,
        {"bistand": [*BISTAND[:3], ("197001010002", "2026-02-01", "12x")]},
        'bistand.csv:4: column belopp: "12x" is not an integer',
    ),
    "id_too_long": (
        None,
        {"sjukpenning": [*SJUKPENNING[:2], ("x" * 65, "2026-01-01", "2026-01-31", "1")]},
        "sjukpenning.csv:3: column pnr",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_input_is_one_line_no_traceback_no_output(case: Path, name: str) -> None:
    replace, files, fragment = BAD_CASES[name]
    if replace is not None:
        text = (case / "plan.toml").read_text(encoding="utf-8")
        assert replace[0] in text
        (case / "plan.toml").write_text(text.replace(replace[0], replace[1], 1), encoding="utf-8")
    for table, rows in files.items():
        _write(case / f"{table}.csv", rows)
    done = _tyst(
        "run", "plan.toml", "--data", "sjukpenning=sjukpenning.csv",
        "--data", "bistand=bistand.csv", "--out", "result.csv", cwd=case,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (case / "result.csv").exists()
