"""Apply a plan's release mechanisms to a run's result at one node, over shares.

Contract: :func:`release` takes the executor's padded result table, the run's secret side
values collected by name (``side``: name → one share per contributing operator, e.g. one
suppressed-group count per GROUP BY) and the plan's mechanisms
(:func:`tyst.release.mechanisms.mechanisms`), applies them in order and returns
:class:`Released`: the result lanes, the validity bits and one secret value per side output
named by :func:`tyst.release.mechanisms.side_outputs` — what the node seals for the
recipients. Nothing is opened except by :class:`~tyst.release.mechanisms.RevealSize`
(the validity bits of the shuffled or ordered result, to the three nodes: a declared
disclosure, signed by every owner in ``[policy] allow``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import share_input
from tyst.mpc.protocols.boolean import reveal_bool_all
from tyst.mpc.protocols.shuffle import shuffle
from tyst.mpc.shares import AShare, BShare
from tyst.relational.table import SharedTable
from tyst.release.mechanisms import (
    SUPPRESSED_GROUPS,
    Mechanism,
    Noise,
    Pad,
    RevealSize,
    Shuffle,
    Suppress,
    ordering,
    side_outputs,
)
from tyst.release.privacy import calibration, sample
from tyst.ring.words import U64, from_signed
from tyst.sql import ir


@dataclass(frozen=True)
class Released:
    """One node's shares of what the recipients receive."""

    lanes: list[AShare]
    """Every output column's lanes, in schema order."""
    valid: BShare
    side: dict[str, AShare]
    """Per side output name: one secret value (a length-1 sharing)."""


def _zero() -> AShare:
    return AShare(np.zeros(1, U64), np.zeros(1, U64))


def _sum(parts: Sequence[AShare]) -> AShare:
    total = _zero()
    for part in parts:
        total = total + part.sum()
    return total


def _add_noise(
    party: Party, noise: Noise, root: ir.Node, table: SharedTable, lanes: list[AShare]
) -> list[AShare]:
    """Each node draws its noise for every noisy column (OpenDP, :func:`sample`) and shares
    it with itself as the dealer; the three sharings are added to the column's lane."""
    columns = calibration(noise.privacy, root)
    at: dict[str, int] = {}
    k = 0
    for name, shared in table.columns.items():
        at[name] = k
        k += shared.ctype.lanes
    n = len(table)
    mine = np.concatenate([from_signed(sample(c, n)) for c in columns] + [np.zeros(0, U64)]).astype(
        U64
    )
    out = list(lanes)
    shares = [
        share_input(party, owner, mine if owner == party.index else None) for owner in range(3)
    ]
    total = shares[0] + shares[1] + shares[2]
    for j, column in enumerate(columns):
        out[at[column.name]] = out[at[column.name]] + total[j * n : (j + 1) * n]
    return out


def release(
    party: Party,
    release: tuple[Mechanism, ...],
    root: ir.Node,
    table: SharedTable,
    side: Mapping[str, Sequence[AShare]],
) -> Released:
    """The released shares of ``table`` (the result of ``root``); see the module contract."""
    lanes: list[AShare] = [lane for col in table.columns.values() for lane in col.lanes]
    valid = table.valid
    values: dict[str, AShare] = {}
    for mechanism in release:
        if isinstance(mechanism, Noise):
            lanes = _add_noise(party, mechanism, root, table, lanes)
        elif isinstance(mechanism, Suppress):
            if SUPPRESSED_GROUPS in side_outputs(release, root):
                values[SUPPRESSED_GROUPS] = _sum(side.get(SUPPRESSED_GROUPS, ()))
        elif isinstance(mechanism, Shuffle):
            if ordering(root) is None and len(valid):
                mixed = shuffle(party, [*lanes, valid])
                lanes = [x for x in mixed[:-1] if isinstance(x, AShare)]
                last = mixed[-1]
                assert isinstance(last, BShare)
                assert len(lanes) == len(mixed) - 1
                valid = last
        elif isinstance(mechanism, RevealSize):
            # The rows were shuffled (or are ordered, valid rows first): the open bits say
            # how many rows are valid and nothing about which input rows they came from.
            keep = np.flatnonzero(reveal_bool_all(party, valid) & U64(1))
            lanes = [lane[keep] for lane in lanes]
            valid = valid[keep]
        else:
            assert isinstance(mechanism, Pad)
    return Released(lanes, valid, values)


__all__ = ["Released", "release"]
