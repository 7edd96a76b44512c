"""``tyst demo``: the benefit-overlap control of SOU 2026:44 §8.6.1 on three TLS node processes.

Försäkringskassan (FK) holds months with sickness benefit (sjukpenning) per
person; Malmö and Lund hold months with ekonomiskt bistånd and the amount paid.
The question: in how many person-months did someone receive both, and how much
bistånd was paid in those months? Only FK's control unit gets the answer.

Client side: each owner splits its own rows into shares and sends each node
only its pair. Node side: concatenate the three tables, sort obliviously on the
key (person number, month) carrying the amounts, mark adjacent equal keys (a
person-month present at FK and at a municipality), and sum. Nodes learn the
three input row counts and nothing else; the two result numbers are combined
only by the recipient. The plaintext reference is computed separately from the
same synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tyst.jobs.metrics import NodeMetrics, Stopwatch, barrier
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic, compare, conversion, sort
from tyst.mpc.shares import AShare, concat_a
from tyst.net.transport import Transport
from tyst.ring.words import U64, WordArray

MONTHS = 12
MONTH_BITS = 4


@dataclass(frozen=True)
class OwnerTable:
    """One owner's rows: key = person number · 16 + month, and an amount (kr) per row."""

    owner: str
    keys: WordArray
    amounts: WordArray


@dataclass(frozen=True)
class DemoData:
    fk: OwnerTable
    municipalities: list[OwnerTable]


@dataclass(frozen=True)
class DemoResult:
    person_months: int
    bistand_kr: int


def synthetic_data(persons: int = 10_000, seed: int = 2026) -> DemoData:
    """FK sickness periods and two municipalities' monthly bistånd for ``persons`` people.

    Every person lives in one municipality, so a person-month appears at most
    once at FK and at most once across the municipalities.
    """
    rng = np.random.default_rng(seed)
    pnr = 190_000_000_000 + rng.choice(10**11, persons, replace=False).astype(np.int64)
    # FK: about 30 % have one sickness period of 1–6 months.
    fk_keys: list[int] = []
    for person in pnr[rng.random(persons) < 0.3]:
        start = int(rng.integers(0, MONTHS))
        length = int(rng.integers(1, 7))
        fk_keys += [int(person) * 16 + m for m in range(start, min(MONTHS, start + length))]
    fk = OwnerTable("Försäkringskassan", np.array(fk_keys, dtype=U64), np.zeros(len(fk_keys), U64))
    municipalities = []
    home = rng.integers(0, 2, persons)
    for index, name in enumerate(["Malmö stad", "Lunds kommun"]):
        keys: list[int] = []
        amounts: list[int] = []
        for person in pnr[(home == index) & (rng.random(persons) < 0.15)]:
            months = np.flatnonzero(rng.random(MONTHS) < 0.4)
            keys += [int(person) * 16 + int(m) for m in months]
            amounts += rng.integers(2_000, 12_000, months.size).tolist()
        municipalities.append(
            OwnerTable(name, np.array(keys, dtype=U64), np.array(amounts, dtype=U64))
        )
    return DemoData(fk, municipalities)


def reference(data: DemoData) -> DemoResult:
    """The plaintext answer, computed directly from the owners' rows."""
    fk = set(data.fk.keys.tolist())
    months = 0
    total = 0
    for table in data.municipalities:
        hit = np.isin(table.keys, np.array(sorted(fk), dtype=U64))
        months += int(hit.sum())
        total += int(table.amounts[hit].sum())
    return DemoResult(months, total)


def node_program(
    transport: Transport, tables: list[tuple[NodeShares, NodeShares]]
) -> tuple[NodeShares, NodeMetrics]:
    """Runs in each node: this node's shares of every owner's (keys, amounts) only."""
    party = Party.setup(transport, domain=b"demo")
    keys = concat_a([AShare(k.first, k.second) for k, _ in tables])
    amounts = concat_a([AShare(a.first, a.second) for _, a in tables])
    barrier(party)
    watch = Stopwatch(party)
    (sorted_keys,), (sorted_amounts,) = sort.sort(party, [keys], [amounts])
    assert isinstance(sorted_amounts, AShare)
    if len(sorted_keys) < 2:
        both = AShare(np.zeros(0, U64), np.zeros(0, U64))
        paired = both
    else:
        same = compare.eq(party, sorted_keys[:-1], sorted_keys[1:])
        both = conversion.bit_to_arith(party, same)
        paired = sorted_amounts[:-1] + sorted_amounts[1:]
    count = both.sum()
    total = arithmetic.dot(party, both, paired) if len(both) else count
    result = concat_a([count, total])
    metrics = watch.stop()
    return NodeShares(party.index, "arith", result.a, result.b), metrics


def run_demo(data: DemoData, *, timeout: float = 600.0) -> tuple[DemoResult, list[NodeMetrics]]:
    """Owners split, three TLS nodes compute, the recipient combines."""
    from tyst.net.launcher import run_tls_parties

    owners = [data.fk, *data.municipalities]
    parts = [(split(t.keys), split(t.amounts)) for t in owners]
    per_party = [([(k[i], a[i]) for k, a in parts],) for i in range(3)]
    results = run_tls_parties(node_program, per_party_args=per_party, timeout=timeout)
    combined = combine([shares for shares, _ in results])
    return DemoResult(int(combined[0]), int(combined[1])), [m for _, m in results]
