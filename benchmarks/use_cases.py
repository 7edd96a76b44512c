"""The ten use cases of ``docs/sql.md`` through ``tyst run``, and a before/after comparison.

Each use case is one SQL example of ``docs/sql.md`` ("Examples for the use cases of
MISSION.md"), read from the document itself in its order, over generated tables of the
shapes the example names. One run writes the plan and CSV files to a temporary
directory, runs the plan exactly as ``tyst run`` does (coordinator, three node
processes over loopback TLS, owners share and upload, the recipient combines), checks
the result against DuckDB on the same files and prints one line::

    use_case=NAME n=N node_seconds=S total_seconds=T sent_mb=M peak_mib=P rows=R correct=true

``node_seconds`` is the slowest node's computing time (first operator to result
shares), ``sent_mb`` the most a node sent, ``peak_mib`` the largest peak memory of a
node's run process.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.use_cases --case overlap [--n N]   # one run, one line
    .venv/bin/python -m benchmarks.use_cases --case all               # every case once
    .venv/bin/python -m benchmarks.use_cases --compare OLD_SRC [--pairs 5] [--warmup 1]
        [--cases a,b] [--sizes a=N,…]

``--compare OLD_SRC`` measures two versions of ``tyst`` in one session: for every use
case it runs this module as a child process alternately with ``PYTHONPATH`` set to
this checkout's ``src`` (A, "after") and to ``OLD_SRC`` (B, "before"), A B A B …,
``--warmup`` pairs not counted first (default 1), then ``--pairs`` counted pairs, and
prints for each figure the median of A, of B and of the pair-by-pair ratios A/B (a
ratio above 1 means A is slower). Pairing keeps a ratio meaningful when the machine's speed drifts.
The records go to ``benchmarks/results/use_cases.json``.

Both versions get the same query, the same files and the same declarations, except
value ranges (``[tables.T] ranges``): a version whose plan format has no ``ranges``
key gets the plan without them (it did not check value ranges at all).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.rows import same_rows
from benchmarks.sql_plans import write_csv

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "sql.md"
RESULTS = ROOT / "benchmarks" / "results" / "use_cases.json"
FIGURES = ("node_seconds", "total_seconds", "sent_mb", "peak_mib")
Data = dict[str, dict[str, np.ndarray]]

HEADER = """[analysis]
title = "benchmark: {name}"
purpose = "benchmark"
legal_basis = "none"
retention_days = 1
"""


@dataclass(frozen=True)
class Table:
    owner: str
    columns: dict[str, str]
    ranges: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    max_rows_per_key: int | None = None


@dataclass(frozen=True)
class UseCase:
    """One example of docs/sql.md: its tables, its default size and how to make its data."""

    name: str
    tables: dict[str, Table]
    n: int  # default size: rows of the largest input, a few seconds of node time
    make: Callable[[int, np.random.Generator], Data]
    min_group_size: int = 0


def _pnr(values: np.ndarray) -> np.ndarray:
    return np.char.add("19", np.char.zfill(values.astype(str), 10))


def _days(start: str, offsets: np.ndarray) -> np.ndarray:
    return (np.datetime64(start) + offsets.astype("timedelta64[D]")).astype(str)


def _months(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.char.add(np.char.add("2025-", np.char.zfill(rng.integers(1, 13, n).astype(str), 2)),
                       "-01")  # fmt: skip


def _overlap(n: int, rng: np.random.Generator) -> Data:
    """n months of bistånd over n/4 persons; 1 or 2 sickness periods for n/8 persons."""
    persons = max(1, n // 4)
    sick = rng.permutation(persons)[: max(1, persons // 2)]
    periods = np.repeat(sick, rng.integers(1, 3, sick.size))
    start = rng.integers(0, 330, periods.size)
    return {
        "sjukpenning": {
            "pnr": _pnr(periods),
            "fom": _days("2025-01-01", start),
            "tom": _days("2025-01-01", start + rng.integers(0, 90, periods.size)),
            "belopp": np.char.add(rng.integers(0, 100_000, periods.size).astype(str), ".50"),
        },
        "bistand": {
            "pnr": _pnr(rng.integers(0, persons, n)),
            "manad": _months(rng, n),
            "belopp": rng.integers(0, 20_000, n),
        },
    }


def _payments(n: int, rng: np.random.Generator) -> Data:
    """n FK persons, 2n Skatteverket persons; 90 % of FK's are at Skatteverket."""
    people = rng.permutation(3 * n)
    fk = np.concatenate([people[: n - n // 10], people[2 * n : 2 * n + n // 10]])
    return {
        "fk_ersattning": {"pnr": _pnr(fk), "belopp": rng.integers(0, 300_000, fk.size)},
        "skv_inkomst": {"pnr": _pnr(people[: 2 * n]), "inkomst": rng.integers(0, 1_500_000, 2 * n)},
    }


def _non_take_up(n: int, rng: np.random.Generator) -> Data:
    """n persons in about n/3 households; incomes for every person."""
    people = rng.permutation(n)
    return {
        "hushall": {"hushall_id": _pnr(rng.integers(0, max(1, n // 3), n)), "pnr": _pnr(people)},
        "inkomster": {"pnr": _pnr(rng.permutation(n)), "inkomst": rng.integers(0, 200_000, n)},
    }


def _two_countries(n: int, rng: np.random.Generator) -> Data:
    """n Swedish residents, n/2 Norwegian ones, a tenth of them also Swedish."""
    people = rng.permutation(2 * n)
    no = np.concatenate([people[: n // 20], people[n : n + n // 2 - n // 20]])
    return {"folkbokforing_se": {"pnr": _pnr(people[:n])}, "register_no": {"pnr": _pnr(no)}}


def _opt_out(n: int, rng: np.random.Generator) -> Data:
    """n journal records over n/2 persons; n/10 persons opted out."""
    return {
        "register": {
            "journal_id": _pnr(rng.permutation(n)),
            "pnr": _pnr(rng.integers(0, max(1, n // 2), n)),
        },
        "optout": {"pnr": _pnr(rng.permutation(n)[: max(1, n // 10)])},
    }


def _municipalities(n: int, rng: np.random.Generator) -> Data:
    """n/3 months of bistånd in each of three municipalities, persons partly shared."""
    third = max(1, n // 3)
    return {
        f"bistand_{k}": {
            "pnr": _pnr(rng.integers(0, max(1, n // 2), third)),
            "manad": _months(rng, third),
            "belopp": rng.integers(0, 20_000, third),
        }
        for k in ("malmo", "lund", "eslov")
    }


def _indicators(n: int, rng: np.random.Generator) -> Data:
    """n/2 measurements in each of two regions over 20 indicators."""
    half = max(1, n // 2)
    return {
        f"region_0{k}": {
            "indikator": np.char.add("ind", rng.integers(0, 20, half).astype(str)),
            "varde": np.char.add(rng.integers(0, 1000, half).astype(str), ".25"),
        }
        for k in (1, 2)
    }


def _hospitals(n: int, rng: np.random.Generator) -> Data:
    """n/2 stays at each of two hospitals over 50 diagnoses."""
    half = max(1, n // 2)
    return {
        f"sjukhus_{k}": {
            "diagnos": np.char.add("J", rng.integers(0, 50, half).astype(str)),
            "vardtid": rng.integers(0, 60, half),
        }
        for k in ("a", "b")
    }


def _bids(n: int, rng: np.random.Generator) -> Data:
    """n/2 bids from each of two bidders."""
    half = max(1, n // 2)
    return {
        f"bud_{k}": {"pris": np.char.add(rng.integers(1000, 10**6, half).astype(str), ".99")}
        for k in ("a", "b")
    }


def _children(n: int, rng: np.random.Generator) -> Data:
    """n pupils in 200 schools; n/5 persons with social services measures."""
    return {
        "skola": {
            "skola": np.char.add("skola", rng.integers(0, 200, n).astype(str)),
            "pnr": _pnr(rng.permutation(n)),
        },
        "socialtjanst_insatser": {"pnr": _pnr(rng.permutation(2 * n)[: max(1, n // 5)])},
    }


BISTAND = {"pnr": "id", "manad": "date", "belopp": "int"}
AMOUNT = ("0", "10000000")

# In the order of docs/sql.md's examples.
CASES: list[UseCase] = [
    UseCase(
        "overlap",
        {
            "sjukpenning": Table(
                "fk",
                {"pnr": "id", "fom": "date", "tom": "date", "belopp": "decimal(2)"},
                {"belopp": AMOUNT},
                max_rows_per_key=2,
            ),
            "bistand": Table("malmo", BISTAND, {"belopp": AMOUNT}),
        },
        20_000,
        _overlap,
    ),
    UseCase(
        "payments",
        {
            "fk_ersattning": Table("fk", {"pnr": "id", "belopp": "int"}, {"belopp": AMOUNT}),
            "skv_inkomst": Table("skv", {"pnr": "id", "inkomst": "int"}, {"inkomst": AMOUNT}),
        },
        40_000,
        _payments,
    ),
    UseCase(
        "non_take_up",
        {
            "hushall": Table("fk", {"hushall_id": "id", "pnr": "id"}),
            "inkomster": Table("skv", {"pnr": "id", "inkomst": "int"}, {"inkomst": AMOUNT}),
        },
        50_000,
        _non_take_up,
    ),
    UseCase(
        "two_countries",
        {
            "folkbokforing_se": Table("skv", {"pnr": "id"}),
            "register_no": Table("no", {"pnr": "id"}),
        },
        50_000,
        _two_countries,
    ),
    UseCase(
        "opt_out",
        {
            "register": Table("fk", {"journal_id": "id", "pnr": "id"}),
            "optout": Table("skv", {"pnr": "id"}),
        },
        50_000,
        _opt_out,
    ),
    UseCase(
        "municipalities",
        {f"bistand_{k}": Table(k, BISTAND, {"belopp": AMOUNT}) for k in ("malmo", "lund", "eslov")},
        40_000,
        _municipalities,
    ),
    UseCase(
        "indicators",
        {
            f"region_0{k}": Table(
                f"r{k}", {"indikator": "text", "varde": "decimal(2)"}, {"varde": AMOUNT}
            )
            for k in (1, 2)
        },
        40_000,
        _indicators,
        min_group_size=5,
    ),
    UseCase(
        "hospitals",
        {
            f"sjukhus_{k}": Table(k, {"diagnos": "text", "vardtid": "int"}, {"vardtid": AMOUNT})
            for k in ("a", "b")
        },
        60_000,
        _hospitals,
    ),
    UseCase(
        "lowest_bid",
        {f"bud_{k}": Table(k, {"pris": "decimal(2)"}, {"pris": AMOUNT}) for k in ("a", "b")},
        300_000,
        _bids,
    ),
    UseCase(
        "children",
        {
            "skola": Table("skola", {"skola": "text", "pnr": "id"}),
            "socialtjanst_insatser": Table("soc", {"pnr": "id"}),
        },
        20_000,
        _children,
    ),
]
BY_NAME = {c.name: c for c in CASES}


def doc_queries() -> list[str]:
    """The SQL examples of docs/sql.md's use-case section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Examples for the use cases", 1)[1]
    return [q.strip() for q in re.findall(r"```sql\n(.*?)```", section, re.S)]


def query_of(case: UseCase) -> str:
    """The case's query as docs/sql.md writes it (checked to read exactly its tables)."""
    queries = doc_queries()
    if len(queries) != len(CASES):
        raise SystemExit(f"docs/sql.md has {len(queries)} use-case examples, expected {len(CASES)}")
    sql = queries[CASES.index(case)]
    named = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql))
    if not set(case.tables) <= named:
        raise SystemExit(f"{case.name}: docs/sql.md's example reads {sorted(named)}")
    return sql


def _supports_ranges() -> bool:
    from tyst.plan.model import TableDecl

    return "ranges" in {f.name for f in dataclasses.fields(TableDecl)}


def plan_text(case: UseCase, sql: str, *, ranges: bool) -> str:
    """The case's plan; ``ranges``: declare the value ranges (plan formats that have them)."""
    owners = sorted({t.owner for t in case.tables.values()} | {"fk"})
    parts = [HEADER.format(name=case.name)]
    parts += [f'[parties.{p}]\nname = "{p}"\n' for p in owners]
    for name, t in case.tables.items():
        cols = ", ".join(f'{c} = "{k}"' for c, k in t.columns.items())
        parts.append(f'[tables.{name}]\nowner = "{t.owner}"\ncolumns = {{ {cols} }}')
        if t.max_rows_per_key is not None:
            parts.append(f"max_rows_per_key = {t.max_rows_per_key}")
        if ranges and t.ranges:
            bounds = ", ".join(f'{c} = ["{lo}", "{hi}"]' for c, (lo, hi) in t.ranges.items())
            parts.append(f"ranges = {{ {bounds} }}")
        parts.append("")
    parts.append(f'[query]\nsql = """{sql}"""\n\n[output]\nrecipients = ["fk"]')
    if case.min_group_size:
        parts.append(f"min_group_size = {case.min_group_size}")
    return "\n".join(parts) + "\n"


DUCKDB_TYPES = {"id": "VARCHAR", "text": "VARCHAR", "int": "BIGINT", "date": "DATE"}


def _reference(case: UseCase, sql: str, files: dict[str, Path]) -> list[tuple[str, ...]]:
    """DuckDB's answer on the same files (every generated group is far above min_group_size)."""
    import duckdb

    con = duckdb.connect()
    for name, t in case.tables.items():
        spec = ", ".join(
            f"'{c}': '{DUCKDB_TYPES.get(k, 'DECIMAL(18,' + k[8:-1] + ')')}'"
            for c, k in t.columns.items()
        )
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv('{files[name]}', header=true, "
            f"columns={{{spec}}})"
        )
    return [tuple(_text(v) for v in row) for row in con.execute(sql).fetchall()]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def run_once(case: UseCase, n: int, seed: int = 1) -> dict[str, Any]:
    """Run one use case at size ``n`` through the full lifecycle; return its figures."""
    from tyst.jobs.run import run_plan
    from tyst.plan import parse_plan

    sql = query_of(case)
    with tempfile.TemporaryDirectory(prefix="tyst-usecase-") as tmp:
        root = Path(tmp)
        files = {}
        for table, columns in case.make(n, np.random.default_rng(seed)).items():
            files[table] = root / f"{table}.csv"
            write_csv(files[table], columns)
        plan = parse_plan(plan_text(case, sql, ranges=_supports_ranges()), "use_case.toml")
        started = time.perf_counter()
        report = run_plan(plan, files, root / "result.csv", timeout=600.0)
        total = time.perf_counter() - started
        want = _reference(case, sql, files)
    correct = same_rows(report.rows, want)
    return {
        "use_case": case.name,
        "n": n,
        "node_seconds": round(max(m.seconds for m in report.nodes), 3),
        "total_seconds": round(total, 2),
        "sent_mb": round(max(m.bytes_sent for m in report.nodes) / 1e6, 1),
        "peak_mib": round(max(m.peak_rss_bytes for m in report.nodes) / 2**20),
        "rows": len(report.rows),
        "correct": correct,
    }


def line(figures: dict[str, Any]) -> str:
    """The one-line result of a run (parsed back by :func:`parse_line`)."""
    return " ".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in figures.items()
    )


def parse_line(text: str) -> dict[str, Any]:
    """The figures of the last result line in a child's output."""
    lines = [x for x in text.splitlines() if x.startswith("use_case=")]
    if not lines:
        raise RuntimeError(f"no result line in: {text[-500:]!r}")
    out: dict[str, Any] = {}
    for item in lines[-1].split():
        key, value = item.split("=", 1)
        if key == "use_case":
            out[key] = value
        elif key == "correct":
            out[key] = value == "true"
        else:
            out[key] = int(value) if key in ("n", "rows") else float(value)
    return out


def _child(src: Path, case: str, n: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{ROOT}")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.use_cases", "--case", case, "--n", str(n)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{case} with {src}: {done.stderr.strip().splitlines()[-3:]}")
    return parse_line(done.stdout)


def compare(
    old_src: Path, cases: list[UseCase], pairs: int, sizes: dict[str, int], warmup: int = 1
) -> list[dict]:
    """A B A B … for each case (A: this checkout, B: ``old_src``), ``warmup`` pairs not
    counted first; one record per case, stored as soon as the case is done."""
    new_src = ROOT / "src"
    records = []
    for case in cases:
        n = sizes.get(case.name, case.n)
        a_runs, b_runs = [], []
        for i in range(warmup + pairs):
            a, b = _child(new_src, case.name, n), _child(old_src, case.name, n)
            print(f"  pair {i} A: {line(a)}\n  pair {i} B: {line(b)}", flush=True)
            if i >= warmup:
                a_runs.append(a)
                b_runs.append(b)
        record = summarise(case.name, n, a_runs, b_runs)
        records.append(record)
        store([record])
        print(table_row(record), flush=True)
    return records


def summarise(
    name: str, n: int, a_runs: list[dict[str, Any]], b_runs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The record of one case: medians of A and B and of the pair-by-pair ratios A/B."""
    record: dict[str, Any] = {
        "use_case": name,
        "n": n,
        "pairs": len(a_runs),
        "correct_a": all(r["correct"] for r in a_runs),
        "correct_b": all(r["correct"] for r in b_runs),
        "rows": a_runs[0]["rows"],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    for f in FIGURES:
        xs, ys = [r[f] for r in a_runs], [r[f] for r in b_runs]
        ratios = [x / y for x, y in zip(xs, ys, strict=True)]
        record[f] = {
            "a": statistics.median(xs),
            "b": statistics.median(ys),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "runs_a": xs,
            "runs_b": ys,
        }
    return record


def store(records: list[dict[str, Any]]) -> None:
    """Add records to benchmarks/results/use_cases.json (replacing the same use case's)."""
    old = {r["use_case"]: r for r in _load()}
    old.update({r["use_case"]: r for r in records})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"records": list(old.values())}, indent=1) + "\n")


def table_row(r: dict[str, Any]) -> str:
    """One markdown row: before, after and ratio of each figure."""

    def fig(f: str, fmt: str) -> str:
        x = r[f]
        return (
            f"{x['b']:{fmt}} | {x['a']:{fmt}} | {x['ratio']:.2f} "
            f"({x['ratio_min']:.2f}–{x['ratio_max']:.2f})"
        )

    ok = "yes" if r["correct_a"] and r["correct_b"] else "**no**"
    return (
        f"| {r['use_case']} | {r['n']:,} | {fig('node_seconds', '.2f')} | {fig('sent_mb', '.1f')} "
        f"| {fig('peak_mib', '.0f')} | {fig('total_seconds', '.1f')} | {ok} |"
    )


TABLE_HEAD = (
    "| use case | n | node s before | node s after | ratio (min–max) | sent MB before "
    "| sent MB after | ratio (min–max) | peak MiB before | peak MiB after | ratio (min–max) "
    "| end to end s before | end to end s after | ratio (min–max) | equal to DuckDB |\n"
    + "|---" * 15
    + "|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default=None, help="one case name, or all")
    parser.add_argument("--n", type=int, default=None, help="size (default: the case's own)")
    parser.add_argument("--compare", type=Path, default=None, help="the old version's src dir")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="--compare: pairs not counted")
    parser.add_argument("--cases", default=",".join(BY_NAME), help="--compare: which cases")
    parser.add_argument("--sizes", default="", help="--compare: name=n,… overriding sizes")
    args = parser.parse_args(argv)
    if args.compare is not None:
        sizes = {k: int(v) for k, v in (x.split("=") for x in args.sizes.split(",") if x)}
        records = compare(args.compare.resolve(), [BY_NAME[c] for c in args.cases.split(",")],
                          args.pairs, sizes, args.warmup)  # fmt: skip
        print("\n" + TABLE_HEAD + "\n" + "\n".join(table_row(r) for r in records))
        return 0 if all(r["correct_a"] and r["correct_b"] for r in records) else 1
    names = list(BY_NAME) if args.case in (None, "all") else [args.case]
    ok = True
    for name in names:
        case = BY_NAME[name]
        figures = run_once(case, args.n or case.n)
        ok &= figures["correct"]
        print(line(figures), flush=True)
    return 0 if ok else 1


def _load() -> list[dict[str, Any]]:
    if not RESULTS.exists():
        return []
    return list(json.loads(RESULTS.read_text(encoding="utf-8"))["records"])


if __name__ == "__main__":
    raise SystemExit(main())
