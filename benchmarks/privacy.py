"""The cost of differential privacy inside MPC, and its error against ``tyst check``'s bound.

Usage::

    nice -n 10 .venv/bin/python -m benchmarks.privacy --sizes 10000,100000,1000000 \\
        [--grouped-sizes 10000,100000] [--repeats 20]

One table ``t(pnr id, region int, belopp int)`` of n rows (numpy, seed 1): n/2 persons, so
that many have several rows, 21 regions, amounts 0–30 000. Each size runs two plans on three
TLS node processes over loopback (:func:`benchmarks.relational.measure_plan`):

- ``plain``: ``SELECT COUNT(*) AS n, SUM(belopp) AS s FROM t`` without ``[privacy]``;
- ``dp``: the same query with ``[privacy] unit = "pnr"``, discrete Laplace, ε = 1,
  ``max_rows_per_unit = 2``, ``bounds = { belopp = [0, 20000] }``: rows capped per person,
  amounts clamped, each node's noise share added (:mod:`tyst.release.privacy`);

and, for ``--grouped-sizes``, the grouped pair (``GROUP BY region`` over the 21 declared
regions). One line per run::

    SHAPE n=N seconds=S cpu_seconds=C sent_mb=M peak_mib=P correct=true

(``correct`` for ``plain``: equal to the exact answer; for ``dp``: every released value within
three tail cuts of the exact capped and clamped value, the most any run can differ). Then
``--repeats`` runs of the global ``dp`` plan at the smallest size measure the error: per
column, the 95 % bound ``tyst check`` prints and the fraction of runs within it::

    error n=N runs=R column=n bound95=B within=F max_abs=M
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from benchmarks.relational import Measurement, measure_plan
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec
from tyst.release.privacy import NoisyColumn, calibration

REGIONS = tuple(range(1, 22))
CAP = 2
LOW, HIGH = 0, 20_000

PLAN = """\
[analysis]
title = "privacy benchmark"
purpose = "benchmark"
legal_basis = "none"
retention_days = 1
[parties.a]
name = "A"
[tables.t]
owner = "a"
columns = {{ pnr = "id", region = "int", belopp = "int" }}
max_rows = 10000000
ranges = {{ region = [1, 21], belopp = [0, 30000] }}
[query]
sql = "SELECT {keys}COUNT(*) AS n, SUM(belopp) AS s FROM t{group}"
[output]
recipients = ["a"]
"""

PRIVACY = f"""\
[privacy]
unit = "pnr"
mechanism = "laplace"
epsilon = "1"
max_rows_per_unit = {CAP}
bounds = {{ belopp = [{LOW}, {HIGH}] }}
keys = {{ region = [{", ".join(map(str, REGIONS))}] }}
"""


@dataclass(frozen=True)
class Rows:
    """The generated table as text columns, and the exact answers per region (0: global)."""

    text: dict[str, dict[str, list[str]]]
    plain: dict[int, tuple[int, int]]
    bounded: dict[int, tuple[int, int]]


def make_rows(n: int, seed: int = 1) -> Rows:
    """n rows; the exact plain and capped-and-clamped answers (first CAP rows per person in
    input order, the order the bounded aggregate keeps)."""
    rng = np.random.default_rng(seed)
    pnr = rng.integers(0, max(1, n // 2), n)
    region = rng.integers(1, 22, n)
    belopp = rng.integers(0, 30_001, n)
    order = np.argsort(pnr, kind="stable")
    sorted_pnr = pnr[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_pnr)) + 1] if n else np.zeros(0, np.int64)
    rank = np.empty(n, np.int64)
    if n:
        run = np.repeat(starts, np.diff(np.r_[starts, n]))
        rank[order] = np.arange(n) - run
    kept = rank < CAP
    clamped = np.clip(belopp, LOW, HIGH)
    plain: dict[int, tuple[int, int]] = {0: (n, int(belopp.sum()))}
    bounded: dict[int, tuple[int, int]] = {0: (int(kept.sum()), int(clamped[kept].sum()))}
    for r in REGIONS:
        here = region == r
        plain[r] = (int(here.sum()), int(belopp[here].sum()))
        bounded[r] = (int((here & kept).sum()), int(clamped[here & kept].sum()))
    text = {
        "t": {
            "pnr": [f"p{v}" for v in pnr],
            "region": [str(v) for v in region],
            "belopp": [str(v) for v in belopp],
        }
    }
    return Rows(text, plain, bounded)


def plan_toml(grouped: bool, private: bool) -> str:
    keys, group = ("region, ", " GROUP BY region") if grouped else ("", "")
    return PLAN.format(keys=keys, group=group) + (PRIVACY if private else "")


def columns(grouped: bool) -> tuple[NoisyColumn, ...]:
    """The calibration ``tyst check`` prints for the dp plan."""
    plan = parse_plan(plan_toml(grouped, True))
    assert plan.privacy is not None
    return calibration(plan.privacy, job_spec(plan).compiled.plan)


def _by_key(rows: list[list[str]], grouped: bool) -> dict[int, tuple[int, int]]:
    if not grouped:
        return {0: (int(rows[0][0]), int(rows[0][1]))}
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}


def run(
    n: int, grouped: bool, private: bool, rows: Rows, errors: list[tuple[int, int]] | None = None
) -> Measurement:
    """One measurement; ``errors`` collects (count error, sum error) of every released cell."""
    want = rows.bounded if private else rows.plain
    keys = REGIONS if grouped else (0,)
    cols = columns(grouped) if private else ()
    slack = [3 * c.tail for c in cols]

    def check(result: list[list[str]]) -> bool:
        got = _by_key(result, grouped)
        if not private:  # a plain GROUP BY has no row for a region without rows
            return got == {k: want[k] for k in keys if want[k][0] or not grouped}
        if sorted(got) != sorted(keys):  # a dp release has every declared region
            return False
        for k in keys:
            diff = (got[k][0] - want[k][0], got[k][1] - want[k][1])
            if errors is not None:
                errors.append(diff)
            if abs(diff[0]) > slack[0] or abs(diff[1]) > slack[1]:
                return False
        return True

    shape = ("grouped_" if grouped else "global_") + ("dp" if private else "plain")
    return measure_plan(shape, n, plan_toml(grouped, private), rows.text, check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--grouped-sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    grouped_sizes = [int(s) for s in args.grouped_sizes.split(",") if s]
    for grouped, chosen in ((False, sizes), (True, grouped_sizes)):
        for n in chosen:
            rows = make_rows(n)
            for private in (False, True):
                print(run(n, grouped, private, rows).line(), flush=True)
    if args.repeats and sizes:
        n = min(sizes)
        rows = make_rows(n)
        errors: list[tuple[int, int]] = []
        for seed in range(args.repeats):
            del seed
            run(n, False, True, rows, errors)
        for j, col in enumerate(columns(False)):
            values = np.array([abs(e[j]) for e in errors])
            within = float(np.mean(values <= col.bound95))
            print(
                f"error n={n} runs={len(errors)} column={col.name} bound95={col.bound95} "
                f"within={within:.2f} max_abs={int(values.max())}",
                flush=True,
            )


if __name__ == "__main__":
    main()
