"""The MPC-analytics queries of Secrecy and ORQ, from their SQL text, checked against DuckDB.

Secrecy (Liagouris, Kalavri, Faisal, Varia: "SECRECY: Secure collaborative analytics in
untrusted clouds", NSDI 2023) and ORQ (SOSP 2025) measure a handful of medical and
financial queries besides TPC-H: comorbidity, recurrent C. difficile, aspirin count,
credit score, password reuse and (ORQ, after Conclave) market share. Each is written
here in standard SQL as close to the published text as tyst's subset allows, with a
comment naming its source and every change; the table each paper reads as one relation
comes from two owners here (two hospitals, two credit agencies, two web sites, two taxi
registers), joined by ``UNION ALL`` in a ``WITH`` clause, so the published text follows
that clause unchanged. TPC-H Q4, Q6 and Q13, which both papers also run, are in
:mod:`benchmarks.tpch` (standard text; measured in ``docs/benchmarks.md``).

The data is synthetic, generated with numpy from a seed, after the generators the ORQ
repository describes (uniform patients, diagnoses, times; a biased company column), with
a per-patient bound so that ``max_rows_per_key`` holds: every hospital table has at most
:data:`PER_PATIENT` rows per patient. ``--rows N`` is the number of rows of every input
table (the cohort has N/4: a quarter of the patients).

Usage (not part of the test suite; ``tests/engine/test_analytics.py`` runs the same plans
in-process at a small size)::

    .venv/bin/python -m benchmarks.analytics --rows 10000 [--queries a,b] [--out DIR]
        [--json FILE] [--timeout SECONDS] [--seed S]

runs each query through ``tyst run`` (coordinator, three node processes, mutual TLS on
loopback), compares the recipient's CSV with DuckDB on the same files and prints one line
per query — end-to-end seconds, result rows, equal to DuckDB, the slowest node's computing
seconds, the most a node sent (MB), the largest peak memory of a node (MiB) — and its row
for ``docs/benchmarks.md``. A query tyst refuses prints its one-line refusal instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.sql_plans import write_csv
from benchmarks.tpch import report, run_plan

PER_PATIENT = 4
"""At most this many rows per patient in each hospital's diagnosis and medication table
(declared ``max_rows_per_key``; two hospitals together: at most 2 · PER_PATIENT)."""

FIRST_DAY = "2020-01-01"
DAYS = 730
"""Visits fall in two years from :data:`FIRST_DAY`."""

PARTIES = {
    "skane": "Region Skåne (hospital A)",
    "sthlm": "Region Stockholm (hospital B)",
    "socialstyrelsen": "Socialstyrelsen (cohort register)",
    "uc": "UC (credit agency A)",
    "creditsafe": "Creditsafe (credit agency B)",
    "site_a": "Web site A",
    "site_b": "Web site B",
    "taxi_sthlm": "Taxi register Stockholm",
    "taxi_gbg": "Taxi register Göteborg",
    "scb": "Statistiska centralbyrån (recipient)",
}
RECIPIENT = "scb"
SIZES = (10_000, 100_000, 1_000_000)
"""The benchmark's sizes: rows of every input table."""


@dataclass(frozen=True)
class Table:
    """One input table of the plans: owner, columns, declared bounds."""

    owner: str
    columns: dict[str, str]
    ranges: dict[str, tuple[str, str]] = field(default_factory=dict)
    unique: tuple[str, ...] = ()
    max_rows_per_key: int | None = None


_VISIT = ("2020-01-01", "2021-12-30")
_DIAGNOSIS = {"pid": "id", "diag": "int", "visit": "date"}
_MEDICATION = {"pid": "id", "med": "int", "visit": "date"}
_CREDIT = {"uid": "id", "agency": "int", "cs_year": "int", "cs": "int"}
_CREDIT_RANGES = {"agency": ("0", "9"), "cs_year": ("2020", "2029"), "cs": ("300", "850")}
_TAXI = {"company": "int", "fare": "int", "trip_type": "int"}
_TAXI_RANGES = {"company": ("0", "999"), "fare": ("1", "50"), "trip_type": ("0", "19")}

TABLES: dict[str, Table] = {
    "diagnosis_a": Table(
        "skane", _DIAGNOSIS, {"diag": ("0", "49"), "visit": _VISIT}, (), PER_PATIENT
    ),
    "diagnosis_b": Table(
        "sthlm", _DIAGNOSIS, {"diag": ("0", "49"), "visit": _VISIT}, (), PER_PATIENT
    ),
    "medication_a": Table(
        "skane", _MEDICATION, {"med": ("0", "9"), "visit": _VISIT}, (), PER_PATIENT
    ),
    "medication_b": Table(
        "sthlm", _MEDICATION, {"med": ("0", "9"), "visit": _VISIT}, (), PER_PATIENT
    ),
    "cohort": Table("socialstyrelsen", {"pid": "id"}, {}, ("pid",)),
    "credit_a": Table("uc", _CREDIT, _CREDIT_RANGES),
    "credit_b": Table("creditsafe", _CREDIT, _CREDIT_RANGES),
    "passwords_a": Table("site_a", {"id": "id", "pwd": "id"}),
    "passwords_b": Table("site_b", {"id": "id", "pwd": "id"}),
    "taxi_a": Table("taxi_sthlm", _TAXI, _TAXI_RANGES),
    "taxi_b": Table("taxi_gbg", _TAXI, _TAXI_RANGES),
}

CDIFF = 8
"""The diagnosis code of C. difficile (ORQ's choice)."""
HEART_DISEASE = 3
ASPIRIN = 5

_DIAGNOSES = """WITH diagnosis AS (
  SELECT pid, diag, visit FROM diagnosis_a UNION ALL SELECT pid, diag, visit FROM diagnosis_b)"""

QUERIES: dict[str, str] = {
    # Secrecy, "comorbidity": the ten most frequent diagnoses of a cohort's patients (the
    # cohort a register of its own). Changed: `, diag` breaks ties in the order (as ORQ's
    # own check does), so that the ten rows are defined.
    "comorbidity": f"""{_DIAGNOSES}
SELECT diag, COUNT(*) AS cnt
FROM diagnosis
WHERE pid IN (SELECT pid FROM cohort)
GROUP BY diag
ORDER BY cnt DESC, diag
LIMIT 10""",
    # Secrecy/ORQ, "recurrent C. difficile", as the papers write it: the cdiff diagnoses
    # numbered in (pid, time) order, each joined with the next one of the same patient
    # (`r2.row_no = r1.row_no + 1`), 15 to 56 days later. Secrecy's table holds row_no;
    # ORQ's reference computes it with ROW_NUMBER() OVER (ORDER BY pid, time), as here,
    # and writes the join as ORQ does: all conditions in WHERE (`FROM rcd r1 JOIN rcd r2
    # WHERE …`, a comma join in standard SQL). The row numbers are a join key (unique), so
    # it runs as one pk–fk join; `rcdiff_paper_on` is Secrecy's `JOIN … ON r1.pid = r2.pid`
    # with the rest in WHERE: a self-join on the patient alone, bounded (k = 4 + 4).
    "rcdiff_paper": f"""{_DIAGNOSES},
rcd AS (
  SELECT pid, visit, ROW_NUMBER() OVER (ORDER BY pid, visit) AS row_no
  FROM diagnosis
  WHERE diag = {CDIFF})
SELECT DISTINCT r1.pid
FROM rcd r1, rcd r2
WHERE r1.pid = r2.pid
  AND r2.visit - r1.visit >= 15
  AND r2.visit - r1.visit <= 56
  AND r2.row_no = r1.row_no + 1""",
    "rcdiff_paper_on": f"""{_DIAGNOSES},
rcd AS (
  SELECT pid, visit, ROW_NUMBER() OVER (ORDER BY pid, visit) AS row_no
  FROM diagnosis
  WHERE diag = {CDIFF})
SELECT DISTINCT r1.pid
FROM rcd r1 JOIN rcd r2 ON r1.pid = r2.pid
WHERE r2.visit - r1.visit >= 15
  AND r2.visit - r1.visit <= 56
  AND r2.row_no = r1.row_no + 1""",
    # The same question with a window instead of the self-join: each cdiff diagnosis and
    # the patient's previous one (LAG), one sort and a neighbour comparison (ORQ's plan).
    "rcdiff": f"""{_DIAGNOSES},
rcd AS (
  SELECT pid, visit, LAG(visit) OVER (PARTITION BY pid ORDER BY visit) AS prev
  FROM diagnosis
  WHERE diag = {CDIFF})
SELECT DISTINCT pid
FROM rcd
WHERE visit - prev >= 15 AND visit - prev <= 56""",
    # Secrecy/ORQ, "aspirin count": patients diagnosed with heart disease who were given
    # aspirin at or after the diagnosis; diagnoses and medications of two hospitals each.
    "aspirin": f"""{_DIAGNOSES},
medication AS (
  SELECT pid, med, visit FROM medication_a UNION ALL SELECT pid, med, visit FROM medication_b)
SELECT COUNT(DISTINCT d.pid) AS patients
FROM diagnosis AS d JOIN medication AS m ON d.pid = m.pid
WHERE d.diag = {HEART_DISEASE}
  AND m.med = {ASPIRIN}
  AND d.visit <= m.visit""",
    # ORQ's plan for the aspirin count, written in SQL: the first heart-disease diagnosis
    # and the last aspirin of each patient, then a join on the patient (unique on both
    # sides) — the same count without a many-to-many join.
    "aspirin_minmax": f"""{_DIAGNOSES},
medication AS (
  SELECT pid, med, visit FROM medication_a UNION ALL SELECT pid, med, visit FROM medication_b)
SELECT COUNT(*) AS patients
FROM (SELECT pid, MIN(visit) AS first_hd FROM diagnosis WHERE diag = {HEART_DISEASE}
      GROUP BY pid) AS d
JOIN (SELECT pid, MAX(visit) AS last_aspirin FROM medication WHERE med = {ASPIRIN}
      GROUP BY pid) AS m ON d.pid = m.pid
WHERE d.first_hd <= m.last_aspirin""",
    # Secrecy/ORQ, "credit score": persons whose scores in one year differ by more than a
    # threshold between agencies (ORQ's year 2023 and threshold 150).
    "credit_score": """WITH r AS (
  SELECT uid, agency, cs_year, cs FROM credit_a
  UNION ALL SELECT uid, agency, cs_year, cs FROM credit_b)
SELECT s.uid
FROM (SELECT uid, MIN(cs) AS cs1, MAX(cs) AS cs2
      FROM r
      WHERE r.cs_year = 2023
      GROUP BY uid) AS s
WHERE s.cs2 - s.cs1 > 150""",
    # Secrecy/ORQ, "password reuse": users with the same password (hash) at several sites.
    "password_reuse": """WITH r AS (
  SELECT id, pwd FROM passwords_a UNION ALL SELECT id, pwd FROM passwords_b)
SELECT id
FROM r
GROUP BY id, pwd
HAVING COUNT(*) > 1""",
    # ORQ (after Conclave), "market share": the Herfindahl-Hirschman index of the taxi
    # companies' airport revenue, as a fraction (0 … 1; ORQ: times 10 000, in integer
    # points). ORQ writes the total as SUM(SUM(fare)) OVER () beside the GROUP BY and the
    # outer SUM next to a bare TotalRev (SQLite accepts that); in standard SQL the window
    # goes one level up, over the grouped revenues.
    "market_share": """WITH taxi AS (
  SELECT company, fare, trip_type FROM taxi_a
  UNION ALL SELECT company, fare, trip_type FROM taxi_b),
revenue AS (
  SELECT company, SUM(fare) AS rev FROM taxi WHERE trip_type = 0 GROUP BY company)
SELECT SUM(rev * rev) / NULLIF(MAX(total_rev) * MAX(total_rev), 0) AS hhi
FROM (SELECT rev, SUM(rev) OVER () AS total_rev FROM revenue) AS w""",
}

TABLES_OF: dict[str, tuple[str, ...]] = {
    "comorbidity": ("diagnosis_a", "diagnosis_b", "cohort"),
    "rcdiff_paper": ("diagnosis_a", "diagnosis_b"),
    "rcdiff_paper_on": ("diagnosis_a", "diagnosis_b"),
    "rcdiff": ("diagnosis_a", "diagnosis_b"),
    "aspirin": ("diagnosis_a", "diagnosis_b", "medication_a", "medication_b"),
    "aspirin_minmax": ("diagnosis_a", "diagnosis_b", "medication_a", "medication_b"),
    "credit_score": ("credit_a", "credit_b"),
    "password_reuse": ("passwords_a", "passwords_b"),
    "market_share": ("taxi_a", "taxi_b"),
}

Data = dict[str, dict[str, np.ndarray]]


def _ids(prefix: str, values: np.ndarray) -> np.ndarray:
    return np.array([f"{prefix}{int(v):07d}" for v in values.tolist()], dtype=str)


def _days(offsets: np.ndarray) -> np.ndarray:
    return (np.datetime64(FIRST_DAY) + offsets.astype("timedelta64[D]")).astype(str)


def _patients(n: int, rng: np.random.Generator) -> np.ndarray:
    """n patient numbers out of n/2 patients, each at most :data:`PER_PATIENT` times."""
    patients = max(1, n // 2)
    slots = rng.choice(patients * PER_PATIENT, size=n, replace=False)
    return slots // PER_PATIENT


def generate(n: int, seed: int = 1) -> Data:
    """Every table at n rows (the cohort n/4), from ``seed``."""
    rng = np.random.default_rng(seed)
    data: Data = {}
    for t in ("a", "b"):
        diag, u = rng.integers(0, 50, n), rng.random(n)
        diag[u < 0.45] = HEART_DISEASE  # common enough to be found at small sizes
        diag[u < 0.3] = CDIFF  # enough C. difficile for recurrences
        med = rng.integers(0, 10, n)
        med[rng.random(n) < 0.3] = ASPIRIN
        data[f"diagnosis_{t}"] = {
            "pid": _ids("p", _patients(n, rng)),
            "diag": diag,
            "visit": _days(rng.integers(0, DAYS, n)),
        }
        data[f"medication_{t}"] = {
            "pid": _ids("p", _patients(n, rng)),
            "med": med,
            "visit": _days(rng.integers(0, DAYS, n)),
        }
    data["cohort"] = {"pid": _ids("p", rng.permutation(max(1, n // 2))[: max(1, n // 4)])}
    users = max(1, 2 * n // 10)  # ORQ: not everyone has a score from every agency
    for t in ("a", "b"):
        data[f"credit_{t}"] = {
            "uid": _ids("u", rng.integers(0, users, n)),
            "agency": rng.integers(0, 10, n),
            "cs_year": rng.integers(2020, 2030, n),
            "cs": rng.integers(300, 851, n),
        }
        data[f"passwords_{t}"] = {  # ORQ: n/10 users, n/50 passwords
            "id": _ids("u", rng.integers(0, max(1, n // 10), n)),
            "pwd": _ids("h", rng.integers(0, max(1, n // 50), n)),
        }
        company = rng.integers(0, 1000, n)
        data[f"taxi_{t}"] = {
            "company": (company * company) % 1000,  # ORQ's bias
            "fare": rng.integers(1, 51, n),
            "trip_type": rng.integers(0, 20, n),
        }
    return data


def plan_text(name: str, rows: int) -> str:
    """The plan of one query over the tables it reads, each declared at most ``rows`` rows."""
    parts = [
        "[analysis]",
        f'title = "MPC analytics: {name}"',
        'purpose = "Benchmark: the Secrecy/ORQ analytics queries over secret shares"',
        'legal_basis = "Synthetic data, no personal data"',
        "retention_days = 1",
        "",
    ]
    tables = TABLES_OF[name]
    owners = {TABLES[t].owner for t in tables} | {RECIPIENT}
    for pid, title in PARTIES.items():
        if pid in owners:
            parts += [f"[parties.{pid}]", f'name = "{title}"']
    for table in tables:
        t = TABLES[table]
        cols = ", ".join(f'{c} = "{k}"' for c, k in t.columns.items())
        parts += ["", f"[tables.{table}]", f'owner = "{t.owner}"', f"columns = {{ {cols} }}"]
        parts.append(f"max_rows = {max(rows, 1)}")
        if t.unique:
            parts.append("unique = [" + ", ".join(f'"{c}"' for c in t.unique) + "]")
        if t.max_rows_per_key is not None:
            parts.append(f"max_rows_per_key = {t.max_rows_per_key}")
        if t.ranges:
            bounds = ", ".join(f'{c} = ["{lo}", "{hi}"]' for c, (lo, hi) in t.ranges.items())
            parts.append(f"ranges = {{ {bounds} }}")
    parts += ["", "[query]", f'sql = """{QUERIES[name]}"""', ""]
    parts += ["[output]", f'recipients = ["{RECIPIENT}"]', ""]
    return "\n".join(parts)


DUCKDB_TYPES = {"id": "VARCHAR", "text": "VARCHAR", "int": "BIGINT", "date": "DATE"}


def duckdb_rows(name: str, files: dict[str, Path]) -> list[tuple[str, ...]]:
    """DuckDB's answer on the same files, as the recipient's CSV text."""
    import duckdb

    con = duckdb.connect()
    for table in TABLES_OF[name]:
        spec = ", ".join(f"'{c}': '{DUCKDB_TYPES[k]}'" for c, k in TABLES[table].columns.items())
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{files[table]}', header=true, "
            f"columns={{{spec}}})"
        )
    return [tuple(_text(v) for v in row) for row in con.execute(QUERIES[name]).fetchall()]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_files(data: Data, out: Path) -> dict[str, Path]:
    """Each table as ``out/TABLE.csv``."""
    files = {}
    for table, columns in data.items():
        files[table] = out / f"{table}.csv"
        write_csv(files[table], columns)
    return files


def run_query(
    name: str, rows: int, files: dict[str, Path], work: Path, timeout: float
) -> dict[str, object]:
    """Run one query through ``tyst run``; return its figures (``equal_to_duckdb`` checked)."""
    return run_plan(
        name,
        plan_text(name, rows),
        {t: files[t] for t in TABLES_OF[name]},
        work,
        timeout,
        {"query": name, "rows_per_table": rows},
        lambda: duckdb_rows(name, files),
        ordered="LIMIT" in QUERIES[name],
    )


def table_row(r: dict[str, object]) -> str:
    """One markdown row of docs/benchmarks.md's analytics table."""
    if "error" in r:
        return f"| {r['query']} | {r['rows_per_table']} | refused: {r['error']} | | | | | |"
    return (
        f"| {r['query']} | {r['rows_per_table']} | {r['rows']} | {r['seconds']} "
        f"| {r['node_seconds']} | {float(str(r['sent_mb'])):,.0f} "
        f"| {float(str(r['peak_mib'])):.0f} | {str(r['equal_to_duckdb']).lower()} |"
    ).replace(",", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of every input table")
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="work directory (kept)")
    parser.add_argument("--timeout", type=float, default=600.0, help="tyst run --timeout")
    parser.add_argument("--json", type=Path, default=None, help="append the records here")
    args = parser.parse_args(argv)
    unknown = [q for q in args.queries.split(",") if q not in QUERIES]
    if unknown:
        parser.error(f"unknown query {unknown[0]!r}; one of {', '.join(QUERIES)}")
    work = args.out or Path(tempfile.mkdtemp(prefix="tyst-analytics-"))
    work.mkdir(parents=True, exist_ok=True)
    files = write_files(generate(args.rows, args.seed), work)
    runs = (run_query(q, args.rows, files, work, args.timeout) for q in args.queries.split(","))
    return report(runs, table_row, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
