"""TPC-H Q6 (a filter and a sum) over n generated lineitem rows, three TLS node processes.

Usage::

    nice -n 10 .venv/bin/python -m benchmarks.scan --rows 2100000 [--profile]

The plan is Q6's standard text (:data:`benchmarks.tpch.QUERIES`) over a ``lineitem``
table of only the four columns Q6 reads, with the types and ranges of
:data:`benchmarks.tpch.TABLES`; the rows are drawn with numpy (seed 1) from the
TPC-H domains (quantity 1–50, price 900.00–105 000.00, discount 0.00–0.10, ship
date 1992-01-01 … 1998-12-31). The owners' side (this process) encodes and splits
the columns; three node processes over loopback mutual TLS run the compiled plan
(:func:`benchmarks.relational.measure_plan`); the result is checked against the
same sum computed exactly with numpy. Prints one line::

    q6 n=N seconds=S cpu_seconds=C rounds=R sent_mb=M peak_mib=P correct=true

(``seconds``: the slowest node's wall time of the plan). ``--profile`` runs the
three parties as threads of this process instead and prints party 0's most
expensive functions (cProfile, by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
from decimal import Decimal

import numpy as np

from benchmarks.relational import Measurement, measure_plan
from benchmarks.tpch import QUERIES, TABLES
from tyst.net.launcher import Route

COLUMNS = ("l_quantity", "l_extendedprice", "l_discount", "l_shipdate")


def plan_toml() -> str:
    """Q6 over a lineitem table of the four columns it reads (types and ranges of TPC-H)."""
    _, types, _, ranges = TABLES["lineitem"]
    cols = ", ".join(f'{c} = "{types[c]}"' for c in COLUMNS)
    bounds = ", ".join(f'{c} = ["{ranges[c][0]}", "{ranges[c][1]}"]' for c in COLUMNS)
    return f'''[analysis]
title = "TPC-H Q6 scan benchmark"
purpose = "benchmark"
legal_basis = "none"
retention_days = 1

[parties.skv]
name = "Skatteverket"

[tables.lineitem]
owner = "skv"
columns = {{ {cols} }}
max_rows = 10000000
ranges = {{ {bounds} }}

[query]
sql = """{QUERIES["q6"]}"""

[output]
recipients = ["skv"]
'''


def make_rows(n: int, seed: int = 1) -> tuple[dict[str, dict[str, list[str]]], str]:
    """The generated rows as text (what the owner's CSV holds) and Q6's exact answer."""
    rng = np.random.default_rng(seed)
    qty = rng.integers(1, 51, n)
    price = rng.integers(90_000, 10_500_001, n)  # cents
    disc = rng.integers(0, 11, n)  # hundredths
    start = dt.date(1992, 1, 1).toordinal()
    days = rng.integers(0, dt.date(1998, 12, 31).toordinal() - start + 1, n)
    lo = dt.date(1994, 1, 1).toordinal() - start
    hi = dt.date(1995, 1, 1).toordinal() - start
    chosen = (days >= lo) & (days < hi) & (disc >= 5) & (disc <= 7) & (qty < 24)
    total = int((price[chosen].astype(object) * disc[chosen].astype(object)).sum())
    answer = str(Decimal(total).scaleb(-4))
    iso = [dt.date.fromordinal(start + d).isoformat() for d in range(int(days.max(initial=0)) + 1)]
    rows = {
        "lineitem": {
            "l_quantity": [str(v) for v in qty],
            "l_extendedprice": [f"{v // 100}.{v % 100:02d}" for v in price],
            "l_discount": [f"0.{v:02d}" for v in disc],
            "l_shipdate": [iso[d] for d in days],
        }
    }
    return rows, answer


def _same(got: str, want: str) -> bool:
    return Decimal(got) == Decimal(want)


def measure(n: int, route: Route | None = None, seed: int = 1) -> Measurement:
    """Run Q6 over ``n`` rows on three TLS node processes (``route``: through a relay)."""
    rows, answer = make_rows(n, seed)
    return measure_plan(
        "q6", n, plan_toml(), rows, lambda result: _same(result[0][0], answer), route=route
    )


def profile(n: int, seed: int = 1, top: int = 30) -> None:
    """Run Q6 on three threads of this process; print party 0's cProfile (by own time)."""
    from benchmarks.relational import run_threads

    rows, answer = make_rows(n, seed)
    profiler = cProfile.Profile()
    result = run_threads(plan_toml(), rows, profiler)
    print("correct", _same(result[0][0], answer))
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile of party 0, threads")
    args = parser.parse_args()
    if args.profile:
        profile(args.rows)
        return
    m = measure(args.rows)
    print(m.line().replace(" sent_mb", f" rounds={max(x.rounds for x in m.nodes)} sent_mb"))


if __name__ == "__main__":
    main()
