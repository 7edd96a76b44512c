"""What the registry says about every logical operator: one :class:`OperatorSpec` each.

An operator's spec is the single place that knows, for its IR node type,

- how it **executes** over its children's shared tables (``execute``),
- which columns and lanes it **needs** from each child (``needs``; column
  pruning is a fold over these rules, :mod:`tyst.planner.pruning`),
- how ``tyst check`` **explains** it (``explain``),
- its public cost: **output rows**, **rounds** and the **algorithm**,
- what it **discloses**, to whom and when (``discloses``): ``tyst check``'s
  "what the nodes learn" and ``docs/operators.md`` are generated from these.

The executor (:mod:`tyst.engine.executor`) runs a plan as a DAG of steps and
calls ``OPERATORS[type(node)].execute`` for each; nothing dispatches on names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from tyst.mpc.party import Party
from tyst.mpc.shares import AShare, BShare
from tyst.ops.expressions import Need, add_need
from tyst.relational.table import SharedTable
from tyst.sql import ir

__all__ = ["Need", "add_need"]

Needs = dict[str, Need]
"""Column name → what is needed of it (absent: nothing)."""

N = TypeVar("N", bound=ir.Node)


@dataclass(frozen=True)
class Disclosure:
    """One thing an operator opens: ``what``, to ``to``, ``when``."""

    what: str
    to: str = "the three nodes"
    when: str = "always"


@dataclass(frozen=True)
class Check:
    """A shared bit that must be 0 (opened at the end of the run); ``message`` says what a 1
    means."""

    message: str
    bit: BShare


@dataclass(frozen=True)
class JoinStrategy:
    """How one JOIN runs, decided once before the run from public facts
    (:func:`tyst.planner.planning.choose_join`): ``pk`` names the side with unique keys
    (``left``/``right``); ``expand`` > 1: the pk side has at most ``expand`` rows per key
    and the join runs as that many pk-fk joins."""

    pk: Literal["left", "right"]
    expand: int = 1
    reason: str = field(default="", compare=False)


@dataclass
class RunContext:
    """What every operator of one run shares: the party, decisions made before the run, and
    the run's secret side outputs (integrity checks; side values by name, e.g.
    ``suppressed_groups``: one count per GROUP BY, for :mod:`tyst.release`)."""

    party: Party
    inputs: dict[str, SharedTable]
    """The owners' tables by name; a table is dropped after its last scan."""
    needs: Mapping[str, Need]
    """Per scanned column ``alias.column``: what the plan needs of it."""
    joins: Mapping[int, JoinStrategy]
    """Per join step (``id`` of its node): the strategy chosen before the run."""
    scans_left: Counter[str] = field(default_factory=Counter)
    checks: list[Check] = field(default_factory=list)
    side: dict[str, list[AShare]] = field(default_factory=dict)


@dataclass(frozen=True)
class OperatorSpec(Generic[N]):
    """Everything about one operator (see the module docstring)."""

    node: type[N]
    name: str
    execute: Callable[[RunContext, N, Sequence[SharedTable]], SharedTable]
    needs: Callable[[N, Needs], tuple[Needs, ...]]
    explain: Callable[[N], str]
    algorithm: str
    output_rows: str
    rounds: str
    discloses: tuple[Disclosure, ...] = ()
    side_outputs: tuple[str, ...] = ()
    """Named secret outputs besides the table (e.g. suppressed-group counts)."""


def pick(table: SharedTable, schema: ir.Schema) -> SharedTable:
    """The table's columns in schema order (skipping columns pruned below), same validity."""
    return SharedTable({n: table.columns[n] for n, _ in schema if n in table.columns}, table.valid)


AnySpec = OperatorSpec[Any]
