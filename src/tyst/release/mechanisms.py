"""The release mechanisms of a plan: a pure function of the signed plan, so that the three
nodes, the recipient and ``tyst check`` derive the same ordered list.

Contract: :func:`mechanisms` maps a :class:`~tyst.plan.Plan` to its ordered tuple of
mechanisms; :func:`side_outputs` names the secret values besides the rows that a result
carries (each delivered to the recipients under its name, never by position). The order is
the order of application at the nodes (:func:`tyst.release.stage.release`):

0. :class:`Noise` — ``[privacy]``: every COUNT/SUM column of the bounded aggregate
   (:mod:`tyst.release.privacy`) gets three noise values, one drawn by each node from the
   full target distribution and input as a secret share with that node as dealer, added
   obliviously; the recipient learns only the noisy value.
1. :class:`Suppress` — ``[output] min_group_size`` = k > 1: every GROUP BY leaves out its
   groups with fewer than k contributing rows (evaluated inside the aggregate, where the
   counts are, exactly as ``HAVING COUNT(*) >= k`` would); the release stage adds the
   per-GROUP BY counts of left-out groups into one secret value ``suppressed_groups``.
2. :class:`Shuffle` — unless the query orders its result, the padded rows are shuffled
   (hides which input positions the surviving rows came from).
3. :class:`Pad` (default) — the result keeps its public padded length; or
   :class:`RevealSize` (``[policy] allow = ["reveal_result_size"]``) — the nodes open the
   validity bits after the shuffle and send only the valid rows: the three nodes (and the
   coordinator, from the sealed sizes) learn the number of result rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tyst.plan import Plan
from tyst.plan.privacy import Privacy
from tyst.sql import ir

SUPPRESSED_GROUPS = "suppressed_groups"
"""The side output of :class:`Suppress`: how many groups were left out (all GROUP BYs)."""


@dataclass(frozen=True)
class Noise:
    """Differentially private noise on the result's COUNT/SUM columns (``[privacy]``)."""

    privacy: Privacy

    def describe(self) -> str:
        p = self.privacy
        measure = "ε" if p.mechanism == "laplace" else "ρ"
        return (
            f"noise: {p.mechanism} ({measure} = {p.spend} per run, split over the noisy "
            f"columns), each of the three nodes adds its own full-scale noise share; rows per "
            f"{p.unit} capped at {p.max_rows_per_unit}, sums clamped to the declared bounds"
        )


@dataclass(frozen=True)
class Suppress:
    """Groups with fewer than ``min_group_size`` contributing rows are left out."""

    min_group_size: int

    def describe(self) -> str:
        return (
            f"suppress: every GROUP BY leaves out its groups with fewer than "
            f"{self.min_group_size} contributing rows; the recipient learns how many "
            f"groups were left out ({SUPPRESSED_GROUPS}), not which"
        )


@dataclass(frozen=True)
class Shuffle:
    """The padded result rows are shuffled unless the query orders them."""

    def describe(self) -> str:
        return "shuffle: the result rows are shuffled (unless the query orders them)"


@dataclass(frozen=True)
class Pad:
    """The result keeps its padded length (a function of the input sizes only)."""

    def describe(self) -> str:
        return (
            "pad: the result keeps its padded length, fixed by the input sizes; "
            "the recipient's client drops the invalid rows"
        )


@dataclass(frozen=True)
class RevealSize:
    """The nodes open the validity bits of the shuffled (or ordered) result and send only
    its valid rows: they and the coordinator learn the number of result rows."""

    def describe(self) -> str:
        return (
            "reveal size: the result is not padded; the three compute nodes learn the "
            "number of result rows (and the coordinator, from the sealed sizes)"
        )


Mechanism = Noise | Suppress | Shuffle | Pad | RevealSize


def mechanisms(plan: Plan) -> tuple[Mechanism, ...]:
    """The plan's release mechanisms in order of application (see the module docstring)."""
    out: list[Mechanism] = []
    if plan.privacy is not None:
        out.append(Noise(plan.privacy))
    if plan.min_group_size > 1:
        out.append(Suppress(plan.min_group_size))
    out.append(Shuffle())
    out.append(RevealSize() if "reveal_result_size" in plan.allow else Pad())
    return tuple(out)


def min_group_size(release: tuple[Mechanism, ...]) -> int:
    """The threshold the compiler writes into every GROUP BY (0: none)."""
    return next((m.min_group_size for m in release if isinstance(m, Suppress)), 0)


def suppressing(root: ir.Node) -> list[ir.Aggregate]:
    """The GROUP BY operators of ``root`` (in execution order) that leave out small groups."""
    found: list[ir.Aggregate] = []

    def walk(node: ir.Node) -> None:
        for child in node.children():
            walk(child)
        if isinstance(node, ir.Aggregate) and node.keys and node.min_group_size > 1:
            found.append(node)

    walk(root)
    return found


def ordering(root: ir.Node) -> ir.OrderLimit | None:
    """The ORDER BY that orders the result of ``root`` (through row-wise projections; an
    ORDER BY puts the valid rows first, in order), or None: the rows are in no order."""
    while isinstance(root, ir.Project):
        root = root.input
    return root if isinstance(root, ir.OrderLimit) else None


def side_outputs(release: tuple[Mechanism, ...], root: ir.Node) -> tuple[str, ...]:
    """The names of the secret values a result of ``root`` carries besides its rows."""
    names: list[str] = []
    if any(isinstance(m, Suppress) for m in release) and suppressing(root):
        names.append(SUPPRESSED_GROUPS)
    return tuple(names)


__all__ = [
    "SUPPRESSED_GROUPS",
    "Mechanism",
    "Noise",
    "Pad",
    "RevealSize",
    "Shuffle",
    "Suppress",
    "mechanisms",
    "min_group_size",
    "ordering",
    "side_outputs",
    "suppressing",
]
