"""Differential privacy for a ``[privacy]`` plan: the bounded aggregate, the calibration of
each noisy column, and the per-node noise sampler.

Contract:

- :func:`bound_plan` rewrites the compiled query (pure, at compile time, identically at every
  party): its one aggregate becomes an :class:`~tyst.sql.ir.BoundedAggregate` (rows capped at
  ``max_rows_per_unit`` per unit, SUM arguments clamped to ``[privacy] bounds``; a GROUP BY
  over the public ``keys`` of its one int column). Everything else is refused with one line
  (``SqlError`` in pass ``privacy``): a query that is not ``SELECT`` of COUNT(*)/COUNT(col)/
  SUM(col) over one table (WHERE allowed) with at most one GROUP BY column; AVG, MIN, MAX,
  DISTINCT, order statistics, HAVING, ORDER BY, joins; a SUM without declared bounds; a GROUP
  BY without declared keys (no partition selection by thresholding in this version).
- :func:`calibration` gives, per output column, its :class:`NoisyColumn`: sensitivity Δ
  (COUNT: m = ``max_rows_per_unit``; SUM: m·max(|low|, |high|) in the column's scaled units),
  its share of the run's ε or ρ (split equally between the k noisy columns: basic/zCDP
  composition), the per-node noise scale (OpenDP measurement on ``i64``: discrete Laplace
  with scale b ≥ Δ·k/ε, or discrete Gaussian with σ ≥ Δ·√(k/(2ρ))), the public tail cut T
  (a node redraws a sample with |x| > T, probability ≤ 2^-40) and the 95 % error bound of
  the sum of the three nodes' noises (a proven Chernoff bound, below).
- :func:`sample` draws one node's noise values with OpenDP's integer samplers (discrete, on a
  CSPRNG); never float noise, never numpy's generators.

Each of the three nodes adds a full-scale noise of its own, so the noise of any one honest
node already makes the release ε-DP (or ρ-zCDP); together the error has three times the
variance. 95 % bounds, proven: discrete Laplace with q = e^(−1/b) has the moment generating
function M(λ) = (1−q)²/((1−q·e^λ)(1−q·e^(−λ))) for |λ| < 1/b, so for the sum S of three
P(|S| ≥ t) ≤ 2·M(λ)³·e^(−λt) for every such λ (Chernoff); we take the smallest t that some λ
of a fixed grid brings to ≤ 5 %. A discrete Gaussian with parameter σ is σ²-subgaussian
(Canonne, Kamath, Steinke 2020, Prop. 19), so P(|S| ≥ t) ≤ 2·e^(−t²/(6σ²)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from tyst.data.types import ColumnType
from tyst.plan.privacy import Privacy
from tyst.sql import ir
from tyst.sql.errors import SqlError

TAIL = 2.0**-40
"""The probability with which one node's sample exceeds the public tail cut T (redrawn)."""

LIMIT = 2**62 - 1
"""Every released value, noise included, stays within ±LIMIT (as the ``ranges`` pass's)."""


def _refuse(message: str) -> SqlError:
    return SqlError("privacy", message, None, None)


@dataclass(frozen=True)
class NoisyColumn:
    """One output column released with noise (see the module contract)."""

    name: str
    """The output column's name (as the result's schema has it)."""
    func: str
    """``COUNT`` or ``SUM``."""
    mechanism: str
    """``laplace`` or ``gaussian``."""
    spend: Fraction
    """This column's share of the run's ε (laplace) or ρ (gaussian)."""
    sensitivity: int
    """Δ in the column's scaled units (cents of a decimal(2))."""
    scale: float
    """Per-node noise parameter in scaled units: b (laplace) or σ (gaussian)."""
    tail: int
    """A node's sample is redrawn while |x| > tail."""
    bound95: int
    """|released − exact| ≤ bound95 (scaled units) with probability ≥ 95 %."""
    ctype: ColumnType
    per_unit: int = 1
    """The most one row adds to the exact value: 1 (COUNT) or max(|low|, |high|) (SUM)."""

    def in_units(self, value: int) -> str:
        """``value`` (scaled) in the column's own units."""
        return str(Decimal(value).scaleb(-self.ctype.scale))

    def describe(self) -> str:
        measure = "ε" if self.mechanism == "laplace" else "ρ"
        law = "discrete Laplace" if self.mechanism == "laplace" else "discrete Gaussian"
        return (
            f"{law} noise, {measure} = {self.spend} (sensitivity {self.in_units(self.sensitivity)}"
            f"), 95 % of releases within ±{self.in_units(self.bound95)} of the exact value"
        )


# -- the rewrite ------------------------------------------------------------------------------


def _below(node: ir.Node) -> ir.Node:
    while isinstance(node, ir.Filter):
        node = node.input
    return node


def bound_plan(privacy: Privacy, root: ir.Node) -> ir.Node:
    """The query with its aggregate bounded (see the module contract); raises ``SqlError``."""
    if not isinstance(root, ir.Project) or not isinstance(root.input, ir.Aggregate):
        raise _refuse(
            "a [privacy] query is one SELECT of COUNT/SUM (with WHERE and GROUP BY over "
            "declared keys); HAVING, ORDER BY, DISTINCT, joins and subqueries are refused"
        )
    agg = root.input
    scan = _below(agg.input)
    if not isinstance(scan, ir.Scan):
        raise _refuse("a [privacy] query reads one table (no joins, unions or subqueries)")
    unit = f"{scan.alias}.{privacy.unit}"
    calls: list[ir.AggregateCall] = []
    clamps: list[tuple[str, int, int]] = []
    types = dict(agg.input.schema)
    for call in agg.calls:
        if call.func not in ("COUNT", "SUM") or call.distinct or call.q is not None:
            raise _refuse(
                f"{call.func}: a [privacy] query releases COUNT and SUM only (AVG, MIN, MAX, "
                "DISTINCT and order statistics are refused)"
            )
        if call.arg is not None and (call.arg not in types or types[call.arg].nullable):
            raise _refuse(f"{call.func}: sum or count a non-nullable column of the table")
        if call.func == "COUNT":
            calls.append(replace(call, arg=None))  # a non-nullable column: COUNT(*)
            continue
        assert call.arg is not None
        column = call.arg.split(".", 1)[1]
        if column not in privacy.bounds:
            raise _refuse(
                f"SUM({column}) needs clamp bounds: [privacy] bounds = {{ {column} = [low, high] }}"
            )
        scale = 10 ** types[call.arg].scale
        low, high = (int(v * scale) for v in privacy.bounds[column])
        clamps.append((call.arg, low, high))
        calls.append(replace(call, ctype=replace(call.ctype, nullable=False)))
    key: str | None = None
    values: tuple[int, ...] = ()
    if agg.keys:
        if len(agg.keys) != 1:
            raise _refuse("a [privacy] GROUP BY has one column in this version")
        key = agg.keys[0]
        short = key.split(".", 1)[1] if "." in key else key
        aliases = [n for n, e in root.outputs if isinstance(e, ir.ColumnRef) and e.name == key]
        declared = next((k for k in (short, *aliases) if k in privacy.keys), None)
        if declared is None:
            raise _refuse(
                f"GROUP BY {short} needs its public key set: [privacy] keys = {{ {short} = "
                "[...] }} (no partition selection by thresholding in this version)"
            )
        if types[key].kind != "int" or types[key].nullable:
            raise _refuse(f"GROUP BY {short}: public keys of an int column only in this version")
        values = tuple(int(v) for v in privacy.keys[declared])
    for name, e in root.outputs:
        if isinstance(e, ir.Ratio):
            raise _refuse("AVG: a [privacy] query releases COUNT and SUM only (release both)")
        if not isinstance(e, ir.ColumnRef):
            raise _refuse(
                f"{ir.display_name(name)}: a [privacy] query selects the aggregates "
                "themselves (no expressions over them)"
            )
    bounded = ir.BoundedAggregate(
        tuple((n, replace(t, nullable=False)) for n, t in agg.schema),
        agg.input,
        unit,
        privacy.max_rows_per_unit,
        tuple(calls),
        tuple(clamps),
        key,
        values,
    )
    types_out = dict(bounded.schema)
    schema = tuple((n, types_out[e.name]) for n, e in root.outputs if isinstance(e, ir.ColumnRef))
    return ir.Project(schema, bounded, root.outputs)


# -- calibration ------------------------------------------------------------------------------


def _measurement(mechanism: str, scale: float):  # type: ignore[no-untyped-def]
    import opendp.prelude as dp  # imported here: only [privacy] runs load the library

    dp.enable_features("contrib")
    domain, metric = dp.atom_domain(T="i64"), dp.absolute_distance(T="i64")
    if mechanism == "laplace":
        return dp.m.make_laplace(domain, metric, scale=scale)
    return dp.m.make_gaussian(domain, metric, scale=scale)


def per_node_scale(mechanism: str, sensitivity: int, spend: Fraction) -> float:
    """The smallest float scale (up to a relative 2^-30) whose OpenDP measurement maps the
    sensitivity to at most ``spend``: b = Δ/ε, σ = Δ/√(2ρ), then raised until the
    library's own accounting (``map``, rounding conservatively) agrees."""
    if mechanism == "laplace":
        scale = float(Fraction(sensitivity) / spend)
    else:
        scale = sensitivity / math.sqrt(2 * float(spend))
    scale = max(scale, 1e-9)
    for _ in range(64):
        if Fraction(_measurement(mechanism, scale).map(sensitivity)) <= spend:
            return scale
        scale *= 1 + 2.0**-30
    raise ValueError("no scale meets the budget")  # unreachable for sane inputs


def tail_cut(mechanism: str, scale: float) -> int:
    """T with P(|X| > T) ≤ :data:`TAIL` for one node's sample."""
    if mechanism == "laplace":  # P(|X| > t) ≤ 2 e^(−t/b) for the discrete Laplace
        return math.ceil(scale * math.log(2 / TAIL)) + 1
    return math.ceil(scale * math.sqrt(2 * math.log(2 / TAIL))) + 1  # σ²-subgaussian


def bound95(mechanism: str, scale: float) -> int:
    """t with P(|N₁ + N₂ + N₃| ≥ t) ≤ 5 % (see the module contract)."""
    if mechanism == "gaussian":
        return math.ceil(scale * math.sqrt(6 * math.log(2 / 0.05)))
    q = math.exp(-1 / scale)

    def chernoff(t: float) -> float:
        best = 1.0
        for i in range(1, 400):
            lam = (i / 400) / scale
            m = (1 - q) ** 2 / ((1 - q * math.exp(lam)) * (1 - q * math.exp(-lam)))
            best = min(best, 2 * m**3 * math.exp(-lam * t))
        return best

    lo, hi = 0, max(1, math.ceil(40 * scale))
    while lo < hi:
        mid = (lo + hi) // 2
        if chernoff(mid) <= 0.05:
            hi = mid
        else:
            lo = mid + 1
    return lo


def calibration(privacy: Privacy, root: ir.Node) -> tuple[NoisyColumn, ...]:
    """Per noisy output column of a bounded query (:func:`bound_plan`'s), its calibration."""
    assert isinstance(root, ir.Project)
    agg = root.input
    assert isinstance(agg, ir.BoundedAggregate)
    calls = {c.name: c for c in agg.calls}
    clamps = {arg: max(abs(lo), abs(hi)) for arg, lo, hi in agg.clamps}
    noisy = [
        (n, e.name) for n, e in root.outputs if isinstance(e, ir.ColumnRef) and e.name in calls
    ]
    spend = privacy.spend / len(noisy)
    out: list[NoisyColumn] = []
    for name, ref in noisy:
        call = calls[ref]
        per_unit = 1 if call.func == "COUNT" else clamps[call.arg or ""]
        sensitivity = max(1, privacy.max_rows_per_unit * per_unit)
        scale = per_node_scale(privacy.mechanism, sensitivity, spend)
        tail = tail_cut(privacy.mechanism, scale)
        out.append(
            NoisyColumn(
                name,
                call.func,
                privacy.mechanism,
                spend,
                sensitivity,
                scale,
                tail,
                bound95(privacy.mechanism, scale),
                call.ctype,
                per_unit,
            )
        )
    return tuple(out)


def check_noise_fits(columns: tuple[NoisyColumn, ...], rows: int) -> None:
    """Refuse a plan whose noisy values could leave ±:data:`LIMIT`: |exact| + 3·T, with
    |exact| ≤ rows·max(|low|, |high|) (SUM) or rows (COUNT)."""
    for col in columns:
        exact = rows * col.per_unit
        if exact + 3 * col.tail > LIMIT:
            raise SqlError(
                "ranges",
                f"{ir.display_name(col.name)}: the exact value (≤ {exact}) plus three noises "
                f"(each ≤ {col.tail}) could exceed 2^62 − 1; declare tighter bounds",
                None,
                None,
            )


# -- sampling ---------------------------------------------------------------------------------


def sample(column: NoisyColumn, n: int) -> npt.NDArray[np.int64]:
    """One node's noise for ``n`` values of ``column``: OpenDP's discrete sampler (a CSPRNG),
    each value redrawn while |x| > ``column.tail``."""
    measurement = _measurement(column.mechanism, column.scale)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        while True:
            x = int(measurement(0))
            if abs(x) <= column.tail:
                out[i] = x
                break
    return out


__all__ = [
    "LIMIT",
    "TAIL",
    "NoisyColumn",
    "bound95",
    "bound_plan",
    "calibration",
    "check_noise_fits",
    "per_node_scale",
    "sample",
    "tail_cut",
]
