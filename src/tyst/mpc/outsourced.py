"""Sharing by an outside data owner and reconstruction by an outside recipient.

In tyst the data owners and the result recipients are not compute nodes: an
owner secret-shares its table *on its own premises* and sends each node only
that node's pair of shares; the nodes return their result shares and only the
recipient adds them up. These two functions are that client-side arithmetic.

Security contract: :func:`split` returns three :class:`NodeShares`; node i must
receive ``parts[i]`` and nothing else. Any single part is uniformly random and
independent of the values (the randomness comes from the OS CSPRNG through an
AES-CTR PRG). :func:`combine` needs the parts of at least two different nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tyst.ring.prg import Prg
from tyst.ring.words import U64, WordArray


@dataclass(frozen=True)
class NodeShares:
    """What node ``party`` receives for one column: (x_party, x_party+1) of the sharing."""

    party: int
    kind: str  # "arith" (Z_2^64) or "bool" (XOR of words)
    first: WordArray
    second: WordArray


def split(values: WordArray, kind: str = "arith", prg: Prg | None = None) -> list[NodeShares]:
    """Secret-share ``values`` into three replicated parts, one per node."""
    if kind not in ("arith", "bool"):
        raise ValueError(f"unknown sharing kind {kind!r}")
    gen = prg if prg is not None else Prg.fresh(b"owner")
    x = np.ascontiguousarray(values, dtype=U64)
    s0 = gen.words(x.shape[0])
    s1 = gen.words(x.shape[0])
    s2 = (x - s0 - s1) if kind == "arith" else (x ^ s0 ^ s1)
    comps = [s0, s1, s2]
    return [NodeShares(i, kind, comps[i], comps[(i + 1) % 3]) for i in range(3)]


def combine(parts: list[NodeShares]) -> WordArray:
    """Reconstruct from the parts of at least two nodes (checks they agree where they overlap)."""
    by_party = {p.party: p for p in parts}
    if len(by_party) < 2:
        raise ValueError("reconstruction needs the shares of at least two nodes")
    kinds = {p.kind for p in parts}
    if len(kinds) != 1:
        raise ValueError("cannot combine arithmetic and boolean shares")
    kind = kinds.pop()
    comps: dict[int, WordArray] = {}
    for p in by_party.values():
        for index, comp in ((p.party, p.first), ((p.party + 1) % 3, p.second)):
            if index in comps and not np.array_equal(comps[index], comp):
                raise ValueError(f"nodes disagree on share component {index}")
            comps[index] = comp
    if len(comps) != 3:
        raise ValueError("reconstruction needs all three share components")
    if kind == "arith":
        return comps[0] + comps[1] + comps[2]
    return comps[0] ^ comps[1] ^ comps[2]
