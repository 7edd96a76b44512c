"""Evaluate typed IR expressions over a secret-shared table, row by row, obliviously.

Contract: :meth:`Evaluator.evaluate` returns a :class:`SharedColumn` of the expression's
type; :meth:`Evaluator.predicate` returns a boolean sharing with the condition in bit 0
(1 only when it is TRUE: FALSE and NULL give 0, as WHERE, HAVING, ON and CASE WHEN want).

NULLs (SQL's three-valued logic): a nullable expression's column carries the null
indicator lane (:mod:`tyst.data.types`) and all-zero value lanes where it is NULL. An
expression with a NULL operand is NULL (arithmetic, comparisons, ``IN``, ``LIKE``, calendar
functions: the indicators OR-ed, the value multiplied by 1 − indicator); ``AND``/``OR``/
``NOT`` follow SQL's truth tables, computed on 0/1 values t (TRUE) and g (not FALSE):
AND multiplies both, OR multiplies 1 − t and 1 − g, NOT swaps t with 1 − g; NULL is g − t.
``IS NULL`` reads the indicator; ``CASE`` (and so ``COALESCE``, ``NULLIF``) selects every
lane, indicator included. A non-nullable value used where a nullable one is expected gets a
public 0 indicator.
Every row is computed, valid or not (validity is applied by the operator).
Literals are public and enter as trivial sharings. :data:`EXPRESSIONS` is the catalogue of
expression kinds with their rounds per row and what they read of id/text columns (the
registry's expression half; ``docs/operators.md`` is generated from it). Values stay within
the ring by the compiler's ``ranges`` pass (:mod:`tyst.sql.ranges`).

Leakage: none (nothing is opened).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np

from tyst.data.calendar import Steps, shift_steps, steps, weekday_base
from tyst.data.types import (
    DERIVED_TEXT,
    ColumnType,
    derived_text_lanes,
    join_null,
    split_null,
    text_lanes,
)
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean, compare, conversion, division
from tyst.mpc.protocols.arithmetic import mul, mul_many
from tyst.mpc.shares import AShare, BShare, add_public, concat_a, public_a
from tyst.relational import strings
from tyst.relational.table import SharedColumn, SharedTable
from tyst.relational.text import like
from tyst.ring.words import U64
from tyst.sql import ir

Need = Literal["key", "content"]

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ExprSpec:
    """One expression kind: the SQL it comes from, its rounds per row, and what it reads of
    the id/text columns it references directly (``key``: the two key lanes; ``content``:
    the bytes)."""

    sql: str
    rounds: str
    reads: Need = "key"


EXPRESSIONS: Mapping[type[ir.Expr], ExprSpec] = {
    ir.ColumnRef: ExprSpec("a column", "0"),
    ir.Literal: ExprSpec("a literal (public, a trivial sharing)", "0"),
    ir.Arith: ExprSpec(
        "`+`, `-` (local, scales aligned), `*` (one multiplication; decimal scales add)",
        "0 (`+`, `-`); 1 (`*`)",
    ),
    ir.Compare: ExprSpec(
        "`=`, `<>` (id/text: both key lanes, batched), `<`, `<=`, `>`, `>=` (sign of the "
        "difference; id/text: the 10 byte-order lanes of their UTF-8 bytes compared "
        "lexicographically, all lanes batched, then 4 AND levels)",
        "7 (`=`, `<>`); 8 (ordering); 19 + (0 to 17 per stored side) (id/text ordering)",
    ),
    ir.Logic: ExprSpec(
        "`AND`, `OR` on bits (a balanced tree; the ordering comparisons of numbers below it, "
        "through nested `AND`/`OR`/`NOT`, batched into one sign computation)",
        "⌈log2 operands⌉ (+ 8 once for its batched ordering comparisons, up to 2^21 rows × "
        "comparisons a batch)",
    ),
    ir.Not: ExprSpec("`NOT`", "0"),
    ir.Case: ExprSpec(
        "`CASE WHEN … THEN … ELSE … END` (a text result carries every lane of its branches)",
        "3 per branch (bit injection + one multiplication)",
        reads="content",
    ),
    ir.InList: ExprSpec("`x [NOT] IN (v1, …, vk)` with literals", "7 + 1 (k batched equalities)"),
    ir.Like: ExprSpec(
        "`x [NOT] LIKE 'a_b%c'` (`%` and `_`, one character as in DuckDB; shift-and over byte "
        "positions, tyst.relational.text)",
        "≈ 24 (+ 3 with `_`) + 1 per piece + 6 per inner `%`",
        reads="content",
    ),
    ir.Substring: ExprSpec(
        "`SUBSTRING(x, k, n)`, `SUBSTR`, `LEFT(x, n)` with public k ≥ 1, n ≥ 0, in characters "
        "(lead-byte classes, one step per character, a one-hot shift; computed text)",
        "8 + 3 + (k + n − 2) + 8 (+ 1 for k > 1) + 9",
        reads="content",
    ),
    ir.CaseMap: ExprSpec(
        "`LOWER(x)`, `UPPER(x)`: ASCII and U+00C0–U+00FE by a per-byte circuit (computed text)",
        "8 + 4 + 9",
        reads="content",
    ),
    ir.Rescaled: ExprSpec(
        "`c * x` with c a literal power of ten, as a dividend: x's word read at another scale",
        "0",
    ),
    ir.TextLength: ExprSpec(
        "`LENGTH(x)`: characters (lead bytes counted by 64 bit injections)",
        "8 + 5",
        reads="content",
    ),
    ir.Concat: ExprSpec(
        "`CONCAT(a, b, …)` and `a \\|\\| b` within 64 bytes by plan-time bounds (a one-hot "
        "shift by the secret length; computed text)",
        "8 + 4 per part after a secret-length prefix + 9",
        reads="content",
    ),
    ir.Calendar: ExprSpec(
        "`EXTRACT(YEAR|QUARTER|MONTH|DAY FROM d)`, `DATE_PART`, `YEAR(d)`…, `DATE_TRUNC('year'|"
        "'quarter'|'month'|'week', d)`, `LAST_DAY(d)`, and the month or quarter numbers behind "
        "`DATE_DIFF`: K comparisons with the public boundaries of d's declared range",
        "10 (K comparisons batched, bit injection)",
    ),
    ir.MonthShift: ExprSpec(
        "`d ± INTERVAL 'n' MONTH|QUARTER|YEAR` (DuckDB's end-of-month clamp): d plus a step "
        "function of K comparisons with public days of d's declared range (month starts and "
        "clamped days)",
        "10 (K comparisons batched, bit injection)",
    ),
    ir.Divide: ExprSpec(
        "`a / b` (exact quotient rounded half away from zero; `ROUND(x, s)`, narrowing `CAST`), "
        "`a // b`, `a % b`: restoring division (tyst.mpc.protocols.division), k quotient bits "
        "from the public bounds; when a·10^e cannot fit, long division (the last t decimals "
        "one at a time, divide_digits); a quotient compared is cross-multiplied instead",
        "10·k (public divisor), 11·k (+ 11) secret; long division: k + 4·t steps + 10; "
        "+ 11 when the dividend can be negative; compared: 1 + 8",
    ),
    ir.Ratio: ExprSpec("`AVG` as a sum and a count; only the recipient divides", "0"),
    ir.IsNull: ExprSpec("`x IS [NOT] NULL` (the null indicator lane)", "0"),
}
NULL_ROUNDS = (
    "on a nullable operand: +1 for arithmetic and calendar functions (value × (1 − "
    "indicator)), ≈ +3 for comparisons, `IN`, `LIKE` (bit injection too), +1 more when two "
    "operands are nullable (indicators OR-ed); `AND`/`OR` on nullable operands: 1 per "
    "operand (two batched products); `COALESCE(a, …)`/`NULLIF`: a `CASE`, 1 per argument"
)
"""What NULLs add to the rounds of :data:`EXPRESSIONS` (shown in ``docs/operators.md``)."""


def add_need(needs: dict[str, Need], name: str, level: Need) -> None:
    """Record that ``name`` is needed at ``level`` (content wins over key)."""
    needs[name] = "content" if "content" in (needs.get(name), level) else "key"


def reads(e: ir.Expr, wanted: Need = "key") -> dict[str, Need]:
    """Every column ``e`` references, with what is read of it, when ``wanted`` is needed of
    ``e``'s own value: a text-valued sub-expression needs its content when its parent reads
    content (``LIKE``) or passes text through to a value needed in full (``CASE``)."""
    out: dict[str, Need] = {}

    def walk(x: ir.Expr, need: Need) -> None:
        if isinstance(x, ir.ColumnRef):
            add_need(out, x.name, need)
            return
        spec = EXPRESSIONS[type(x)]
        # stored text meeting computed text (=, IN, CASE) is brought to its bytes
        mixed = any(c.ctype.derived for c in x.children())
        ordered = isinstance(x, ir.Compare) and x.op not in ("=", "<>")  # text: by its bytes
        for child in x.children():
            full = child.ctype.is_text and ("content" in (spec.reads, need) or mixed or ordered)
            walk(child, "content" if full else "key")

    walk(e, wanted)
    return out


def literal_words(lit: ir.Literal) -> list[int]:
    """The lane values of a literal, as unsigned 64-bit integers."""
    value = lit.value
    t = lit.ctype
    if value is None:  # NULL: the value lanes are 0 (the indicator is not among these)
        return [0] * t.base.lanes
    if t.is_text:
        assert isinstance(value, str)
        return derived_text_lanes(value.encode("utf-8")) if t.derived else text_lanes(value)
    if isinstance(value, bool):
        return [int(value)]
    if isinstance(value, date):
        return [(value - EPOCH).days % (1 << 64)]
    if t.kind == "decimal":
        scaled = Decimal(value) * (Decimal(10) ** t.scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"literal {value} has more than {t.scale} decimals")
        return [int(scaled) % (1 << 64)]
    assert isinstance(value, int)
    return [value % (1 << 64)]


ORDER_BATCH_WORDS = 1 << 21
"""At most this many comparisons (rows × comparisons) per batched sign computation of
:meth:`Evaluator._batch_orders`: bigger batches cost more local time (memory traffic) than
their saved rounds are worth; a table of more rows compares one by one, as before."""


class Evaluator:
    """Evaluates expressions of one operator over one input table."""

    def __init__(self, party: Party, table: SharedTable) -> None:
        self.party = party
        self.table = table
        self.n = len(table)
        self._nullables: dict[int, tuple[ir.Expr, SharedColumn]] = {}
        """Nullable expressions evaluated so far, by identity (their value and indicator are
        both read by their parent)."""
        self._orders: dict[int, tuple[ir.Expr, BShare]] = {}
        """Ordering comparisons computed ahead by :meth:`_batch_orders`, by identity."""

    # -- values

    def evaluate(self, e: ir.Expr) -> SharedColumn:
        """The expression's value in every row."""
        if isinstance(e, ir.ColumnRef):
            col = self.table.column(e.name)
            if e.ctype.nullable and not col.ctype.nullable:  # e.g. a UNION branch
                return self._widened(col)
            return col
        if isinstance(e, ir.Rescaled):  # the same lanes (value and indicator), another scale
            return SharedColumn(e.ctype, self.evaluate(e.arg).lanes)
        if e.ctype.nullable:
            hit = self._nullables.get(id(e))
            if hit is None:
                hit = (e, self._nullable(e))
                self._nullables[id(e)] = hit
            return hit[1]
        if isinstance(e, ir.IsNull):
            indicator = self._indicator(e.arg)
            return SharedColumn(e.ctype, (self._one_minus(indicator) if e.negated else indicator,))
        if isinstance(e, ir.Literal):
            words = literal_words(e)
            lanes = tuple(public_a(self.party.index, np.full(self.n, w, dtype=U64)) for w in words)
            return SharedColumn(e.ctype, lanes)
        if isinstance(e, ir.Arith):
            return SharedColumn(e.ctype, (self._arith(e),))
        if isinstance(e, ir.Case):
            return self._case(e)
        if isinstance(e, ir.Calendar):
            return SharedColumn(e.ctype, (self._calendar(e),))
        if isinstance(e, ir.MonthShift):
            return SharedColumn(e.ctype, (self._month_shift(e),))
        if isinstance(e, ir.Substring | ir.CaseMap | ir.Concat):
            return strings.derived_column(self.party, self._words(e))
        if isinstance(e, ir.TextLength):
            return SharedColumn(e.ctype, (strings.char_length(self.party, self._words(e.arg)),))
        if isinstance(e, ir.Divide):
            return SharedColumn(e.ctype, (self._divide(e),))
        if isinstance(e, ir.Ratio):  # AVG: numerator (at its own scale) and count
            num = self.evaluate(e.numerator).lanes[0]
            den = self.evaluate(e.denominator).lanes[0]
            return SharedColumn(e.ctype, (num, den))
        if e.ctype == ir.BOOL:  # comparisons and logic as 0/1 values
            bit = self.predicate(e)
            return SharedColumn(ir.BOOL, (conversion.bit_to_arith(self.party, bit),))
        raise TypeError(f"cannot evaluate {type(e).__name__}")

    # -- NULLs

    def _public(self, value: int) -> AShare:
        return public_a(self.party.index, np.full(self.n, value % (1 << 64), dtype=U64))

    def _one_minus(self, x: AShare) -> AShare:
        return add_public(self.party.index, -x, 1)

    def _widened(self, col: SharedColumn) -> SharedColumn:
        """A non-nullable column as its nullable type (indicator: a public 0)."""
        ctype = col.ctype.with_nulls()
        return SharedColumn(ctype, tuple(join_null(ctype, list(col.lanes), self._public(0))))

    def _indicator(self, e: ir.Expr) -> AShare:
        """1 where ``e`` is NULL, else 0 (a public 0 for a non-nullable ``e``)."""
        if not e.ctype.nullable:
            return self._public(0)
        _, indicator = split_null(e.ctype, self.evaluate(e).lanes)
        assert indicator is not None
        return indicator

    def _any_null(self, operands: tuple[ir.Expr, ...]) -> AShare:
        """1 where some operand is NULL: a + b − a·b over the nullable operands."""
        nulls = [self._indicator(x) for x in operands if x.ctype.nullable]
        result = nulls[0]
        for other in nulls[1:]:
            result = result + other - mul(self.party, result, other)
        return result

    def _nullable(self, e: ir.Expr) -> SharedColumn:
        """A nullable expression's lanes (see the module contract)."""
        t = e.ctype
        if isinstance(e, ir.Literal):  # NULL
            assert e.value is None
            zeros = [self._public(0)] * t.base.lanes
            return SharedColumn(t, tuple(join_null(t, zeros, self._public(1))))
        if isinstance(e, ir.Case):
            return self._case(e)
        if isinstance(e, ir.Logic):
            return self._logic3(e)
        if isinstance(e, ir.Not):  # t' = 1 − g, g' = 1 − t
            t_arg, g_arg = self._truth(e.arg)
            value = self._one_minus(g_arg)
            return SharedColumn(t, (value, g_arg - t_arg))
        if isinstance(e, ir.Arith | ir.Compare | ir.InList | ir.Like | ir.Stepped | ir.Divide):
            operands = (
                (e.left, e.right) if isinstance(e, ir.Arith | ir.Compare | ir.Divide) else (e.arg,)
            )
            null = self._any_null(operands)
            if isinstance(e, ir.Divide):  # a NULL divisor's 0 gives any word: masked below
                raw = self._divide(e)
            elif isinstance(e, ir.Arith):
                raw = self._arith(e)
                if e.op == "*":  # a NULL operand's value is 0: so is the product
                    return SharedColumn(t, (raw, null))
            elif isinstance(e, ir.Calendar):
                raw = self._calendar(e)
            elif isinstance(e, ir.MonthShift):
                raw = self._month_shift(e)
            else:
                raw = conversion.bit_to_arith(self.party, self._raw_predicate(e))
            return SharedColumn(t, (mul(self.party, raw, self._one_minus(null)), null))
        raise TypeError(f"cannot evaluate a nullable {type(e).__name__}")

    def _truth(self, e: ir.Expr) -> tuple[AShare, AShare]:
        """(t, g) of a bool: t = 1 iff TRUE, g = 1 iff not FALSE (so NULL is g − t)."""
        if not e.ctype.nullable:
            bit = conversion.bit_to_arith(self.party, self.predicate(e))
            return bit, bit
        value, null = split_null(e.ctype, self.evaluate(e).lanes)
        assert null is not None
        return value[0], value[0] + null

    def _logic3(self, e: ir.Logic) -> SharedColumn:
        """AND: t = Π t_i, g = Π g_i; OR: 1 − t = Π (1 − t_i), 1 − g = Π (1 − g_i)."""
        pairs = [self._truth(a) for a in e.args]
        if e.op == "OR":
            pairs = [(self._one_minus(t), self._one_minus(g)) for t, g in pairs]
        t, g = pairs[0]
        n = self.n
        for t_i, g_i in pairs[1:]:
            both = mul(self.party, concat_a([t, g]), concat_a([t_i, g_i]))
            t, g = both[:n], both[n:]
        if e.op == "OR":
            t, g = self._one_minus(t), self._one_minus(g)
        return SharedColumn(e.ctype, (t, g - t))

    def _scaled(self, e: ir.Expr, scale: int) -> AShare:
        """A numeric (or date/bool) value as one lane, rescaled to ``scale`` decimals (local)."""
        lane = self.evaluate(e).lanes[0]
        have = e.ctype.scale
        if scale == have:
            return lane
        return lane.mul_public(10 ** (scale - have))

    def _arith(self, e: ir.Arith) -> AShare:
        if e.op == "*":
            left = self.evaluate(e.left).lanes[0]
            right = self.evaluate(e.right).lanes[0]
            if isinstance(e.right, ir.Literal):
                return left.mul_public(literal_words(e.right)[0])
            if isinstance(e.left, ir.Literal):
                return right.mul_public(literal_words(e.left)[0])
            return mul(self.party, left, right)
        scale = e.ctype.scale
        a, b = self._scaled(e.left, scale), self._scaled(e.right, scale)
        return a + b if e.op == "+" else a - b

    def _calendar(self, e: ir.Calendar) -> AShare:
        """value = base + Σ_k [d ≥ s_k]·Δ_k over the public starts s_k of d's range
        (:mod:`tyst.data.calendar`); ``day`` is d − (the month's start) + 1 (``month_day``
        alike, plus 32·month)."""
        assert e.low is not None  # filled in by the compiler
        assert e.high is not None
        day = self._null_as_low(e, self.evaluate(e.arg).lanes[0])
        if e.what in ("dow", "isodow"):  # (d − base) mod 7 with base ≤ low, a week's start
            base = weekday_base(e.low, e.what)
            shifted = add_public(self.party.index, day, -base)
            _, weekday = division.divide_public(self.party, shifted, 7, e.high - base)
            return add_public(self.party.index, weekday, 1) if e.what == "isodow" else weekday
        value = self._stepped(day, steps(e.low, e.high, e.what))
        if e.what in ("day", "month_day"):
            value = add_public(self.party.index, day - value, 1)
        return value

    def _month_shift(self, e: ir.MonthShift) -> AShare:
        """d + base + Σ_k [d ≥ b_k]·Δ_k (:func:`tyst.data.calendar.shift_steps`)."""
        assert e.low is not None  # filled in by the compiler
        assert e.high is not None
        day = self._null_as_low(e, self.evaluate(e.arg).lanes[0])
        return day + self._stepped(day, shift_steps(e.low, e.high, e.months))

    def _null_as_low(self, e: ir.Stepped, day: AShare) -> AShare:
        """A NULL (0) date becomes the range's first day: no extra steps (masked later)."""
        if not e.arg.ctype.nullable:
            return day
        assert e.low is not None
        return day + self._indicator(e.arg).mul_public(e.low % (1 << 64))

    def _stepped(self, day: AShare, plan: Steps) -> AShare:
        """base + Σ_k [day ≥ starts_k]·deltas_k, the K comparisons in one batch."""
        p, n, k = self.party, self.n, len(plan.starts)
        value = public_a(p.index, np.full(n, plan.base % (1 << 64), dtype=U64))
        if k:
            starts = public_a(
                p.index, np.repeat(np.array(plan.starts, dtype=np.int64), n).view(U64)
            )
            bits = conversion.bit_to_arith(p, compare.ge(p, concat_a([day] * k), starts))
            deltas = np.repeat(np.array(plan.deltas, dtype=np.int64), n).view(U64)
            weighted = bits.mul_public(deltas)
            for i in range(k):
                value = value + weighted[i * n : (i + 1) * n]
        return value

    def _divide(self, e: ir.Divide) -> AShare:
        """Quotient or remainder of N = A·f by D = B·g (:meth:`ir.Divide.factors`): the
        magnitudes are divided (``/``: ⌊(2|N| + |D|) / 2|D|⌋, half away from zero), then the
        signs are put back: the dividend's (secret unless it is never negative) and the
        divisor's (public, or secret for ``NULLIF(d, 0)``); a remainder keeps the dividend's."""
        p, plan = self.party, e.bounds()
        f, g = e.factors()
        f //= 10**plan.digits  # long division: the last digits come one at a time
        num = self.evaluate(e.left).lanes[0]
        num = num if f == 1 else num.mul_public(f)
        den_value = 0
        den: AShare | None = None
        if isinstance(e.right, ir.Literal):
            den_value = abs(int(Decimal(str(e.right.value)).scaleb(e.right.ctype.scale)) * g)
        else:
            den = self.evaluate(e.right).lanes[0]
            den = den if g == 1 else den.mul_public(g)
            den = -den if plan.divisor_negative else den
        num, den, signs = self._magnitudes(num, den, plan)
        if plan.digits:  # ⌊|N|·10^t / |D| + 1/2⌋ without |N|·10^t
            divisor = den_value if den is None else den
            q = division.divide_digits(
                p, num, divisor, plan.bound, plan.low, plan.high, plan.digits
            )
            return self._signed(q, _xor_bits(p, signs), plan)
        if e.op == "/":  # round half away from zero
            if den is None:
                num = add_public(p.index, num.shift_left(1), den_value)
                den_value *= 2
            else:
                num = num.shift_left(1) + den
                den = den.shift_left(1)
        if den is None:
            q, r = division.divide_public(p, num, den_value, plan.bound)
        else:
            q, r = division.divide(p, num, den, plan.bound, plan.low, plan.high)
        if e.op == "%":
            out, sign = r, signs[0]
            return out if sign is None else out - mul(p, sign, out).shift_left(1)
        return self._signed(q, _xor_bits(p, signs), plan)

    def _signed(self, q: AShare, sign: AShare | None, plan: ir.DivisionBounds) -> AShare:
        """The quotient's magnitude ``q`` with the signs put back (secret 0/1 ``sign``, and
        the public sign of an always negative divisor)."""
        out = q if sign is None else q - mul(self.party, sign, q).shift_left(1)
        return -out if plan.divisor_negative else out

    def _magnitudes(
        self, num: AShare, den: AShare | None, plan: ir.DivisionBounds
    ) -> tuple[AShare, AShare | None, list[AShare | None]]:
        """|N| and |D| with the secret signs taken out (x − 2·[x < 0]·x; the sign bits of both
        in one batch), and the 0/1 sign of each (None: known non-negative)."""
        p, n = self.party, self.n
        parts = [
            x
            for x, secret in (
                (num, not plan.numerator_nonnegative),
                (den, plan.divisor_sign_secret),
            )
            if secret and x is not None
        ]
        if not parts:
            return num, den, [None, None]
        bits = conversion.bit_to_arith(p, compare.msb(p, concat_a(parts)))
        signs = [bits[i * n : (i + 1) * n] for i in range(len(parts))]
        products = mul(p, bits, concat_a(parts))
        absolute = [x - products[i * n : (i + 1) * n].shift_left(1) for i, x in enumerate(parts)]
        out: list[AShare | None] = []
        if not plan.numerator_nonnegative:
            num, sign_n = absolute.pop(0), signs.pop(0)
            out.append(sign_n)
        else:
            out.append(None)
        if plan.divisor_sign_secret and den is not None:
            den = absolute.pop(0)
            out.append(signs.pop(0))
        else:
            out.append(None)
        return num, den, out

    def _quotient_compare(self, op: str, left: ir.Expr, right: ir.Expr) -> BShare:
        """``L op R`` with a quotient on a side, exactly: each side as num/den (a plain value
        C at scale s is C / 10^s; A / B is A·10^sb / B·10^sa), then L_num·R_den op R_num·L_den,
        the order flipped when the denominators' (public) signs differ."""
        p = self.party
        sides: list[tuple[AShare, AShare | int]] = []
        negative = False
        for side in (left, right):
            if isinstance(side, ir.Divide) and side.op == "/" and not side.declared:
                assert side.right_range is not None  # filled in by the compiler
                num = self.evaluate(side.left).lanes[0].mul_public(10**side.right.ctype.scale)
                den = self.evaluate(side.right).lanes[0].mul_public(10**side.left.ctype.scale)
                low, high = side.right_range
                if low < 0 < high:  # NULLIF(d, 0): n/d = (n·s)/(d·s) with s = ±1 = sign(d)
                    sign = conversion.bit_to_arith(p, compare.msb(p, den))
                    flipped = mul(p, concat_a([sign, sign]), concat_a([num, den])).shift_left(1)
                    num, den = num - flipped[: self.n], den - flipped[self.n :]
                negative ^= high < 0
                sides.append((num, den))
            else:
                sides.append((self.evaluate(side).lanes[0], 10**side.ctype.scale))
        (ln, ld), (rn, rd) = sides
        pairs: list[tuple[AShare, AShare]] = []
        products: list[AShare | None] = []
        for x, y in ((ln, rd), (rn, ld)):
            if isinstance(y, int):
                products.append(x.mul_public(y))
            else:
                pairs.append((x, y))
                products.append(None)
        done = iter(mul_many(p, pairs))
        a, b = (x if x is not None else next(done) for x in products)
        if negative:
            a, b = b, a
        return self._compare_words(op, a, b)

    def _case(self, e: ir.Case) -> SharedColumn:
        result = self._as_type(e.default, e.ctype)
        for cond, value in reversed(e.whens):
            chosen = self._as_type(value, e.ctype)
            c = self._condition(cond)
            diffs = [t - f for t, f in zip(chosen.lanes, result.lanes, strict=True)]
            prods = _mul_lanes(self.party, c, diffs)
            result = SharedColumn(
                e.ctype, tuple(f + p for f, p in zip(result.lanes, prods, strict=True))
            )
        return result

    def _condition(self, cond: ir.Expr) -> AShare:
        """1 where ``cond`` is TRUE, else 0, as an arithmetic sharing."""
        if isinstance(cond, ir.IsNull) or cond.ctype.nullable:
            return self.evaluate(cond).lanes[0]  # 0/1 already (a NULL's value is 0)
        return conversion.bit_to_arith(self.party, self.predicate(cond))

    def _words(self, e: ir.Expr) -> strings.Words:
        """The bytes of a text expression as words; text functions compose on words."""
        if isinstance(e, ir.Literal):
            assert isinstance(e.value, str)
            return strings.public_words(self.party, e.value.encode("utf-8"), self.n)
        if isinstance(e, ir.Substring):
            return strings.substring(self.party, self._words(e.arg), e.start, e.length)
        if isinstance(e, ir.CaseMap):
            return strings.case_map(self.party, self._words(e.arg), upper=e.upper)
        if isinstance(e, ir.Concat):
            parts: list[tuple[strings.Words | bytes, int]] = []
            for arg, bound in zip(e.args, e.bounds, strict=True):
                if isinstance(arg, ir.Literal):
                    assert isinstance(arg.value, str)
                    parts.append((arg.value.encode("utf-8"), bound))
                else:
                    parts.append((self._words(arg), bound))
            return strings.concat(self.party, parts, self.n)
        return strings.words_of(self.party, self.evaluate(e))

    def _as_type(self, e: ir.Expr, ctype: ColumnType) -> SharedColumn:
        if ctype.derived and not e.ctype.derived:  # stored text meeting computed text
            if isinstance(e, ir.Literal):
                return self.evaluate(ir.Literal(ctype, e.value))
            return strings.as_derived(self.party, self.evaluate(e))
        if ctype.nullable:
            if ctype.is_numeric and e.ctype.scale != ctype.scale:
                values = [self._scaled(e, ctype.scale)]  # a NULL's 0 stays 0
            else:
                values, _ = split_null(e.ctype, self.evaluate(e).lanes)
            return SharedColumn(ctype, tuple(join_null(ctype, values, self._indicator(e))))
        if ctype.is_numeric and e.ctype.scale != ctype.scale:
            return SharedColumn(ctype, (self._scaled(e, ctype.scale),))
        values, _ = split_null(e.ctype, self.evaluate(e).lanes)  # a branch taken when not NULL
        return SharedColumn(ctype, tuple(values))

    # -- conditions

    def predicate(self, e: ir.Expr) -> BShare:
        """A bool expression as a bit per row (bit 0 of each word): 1 iff TRUE."""
        if e.ctype.nullable or isinstance(e, ir.IsNull):  # 0/1 in the value lane
            lane = self.evaluate(e).lanes[0]
            return BShare(lane.a & U64(1), lane.b & U64(1))
        return self._raw_predicate(e)

    def _raw_predicate(self, e: ir.Expr) -> BShare:
        """The bit of a comparison, logic, LIKE or IN computed on the operands' value lanes
        (0 for a NULL), without regard to NULLs."""
        if isinstance(e, ir.Compare):
            ahead = self._orders.get(id(e))
            return ahead[1] if ahead is not None else self._compare(e.op, e.left, e.right)
        if isinstance(e, ir.Logic):
            self._batch_orders(e)
            bits = [self.predicate(a) for a in e.args]
            while len(bits) > 1:  # a balanced tree: one round per level
                pairs = list(zip(bits[0::2], bits[1::2], strict=False))
                ands = boolean.and_many(self.party, pairs)
                odd = bits[-1:] if len(bits) % 2 else []
                bits = (
                    ands
                    if e.op == "AND"
                    else [x ^ y ^ z for (x, y), z in zip(pairs, ands, strict=True)]
                )
                bits += odd
            return bits[0]
        if isinstance(e, ir.Not):
            return compare.not_bit(self.party, self.predicate(e.arg))
        if isinstance(e, ir.Like):
            bit = like(self.party, self._words(e.arg), e.pattern)
            return compare.not_bit(self.party, bit) if e.negated else bit
        if isinstance(e, ir.InList):
            hits = [self._compare("=", e.arg, v) for v in e.values]
            result = hits[0]
            for h in hits[1:]:  # the equalities are exclusive only for distinct values
                result = boolean.or_(self.party, result, h)
            return compare.not_bit(self.party, result) if e.negated else result
        if e.ctype == ir.BOOL:  # a bool column, literal or CASE: 0/1 in one lane
            lane = self.evaluate(e).lanes[0]
            return BShare(lane.a & U64(1), lane.b & U64(1))  # LSB of a sum = XOR of LSBs
        raise TypeError(f"{type(e).__name__} is not a condition")

    def _batch_orders(self, e: ir.Logic) -> None:
        """Compute ahead, in one sign computation (8 rounds) per :data:`ORDER_BATCH_WORDS`
        comparisons, every ordering comparison of numbers (``<``, ``<=``, ``>``, ``>=``) under
        ``e`` through non-NULL ``AND``/``OR``/``NOT``; each bit equals what :meth:`_compare`
        gives (the sign of x − y or y − x). Nothing is computed ahead when the table has more
        than ORDER_BATCH_WORDS / 2 rows."""
        found: list[ir.Compare] = []

        def walk(x: ir.Expr) -> None:
            if x.ctype.nullable:
                return
            if isinstance(x, ir.Logic):
                for a in x.args:
                    walk(a)
            elif isinstance(x, ir.Not):
                walk(x.arg)
            elif (
                isinstance(x, ir.Compare)
                and x.op in ("<", "<=", ">", ">=")
                and not x.left.ctype.is_text
                and not any(
                    isinstance(o, ir.Divide) and o.op == "/" and not o.declared
                    for o in (x.left, x.right)
                )
                and id(x) not in self._orders
            ):
                found.append(x)

        walk(e)
        per_call = max(1, ORDER_BATCH_WORDS // max(1, self.n))
        if len(found) < 2 or per_call < 2:
            return
        for first in range(0, len(found), per_call):
            group = found[first : first + per_call]
            diffs = []
            for c in group:
                scale = max(c.left.ctype.scale, c.right.ctype.scale)
                x, y = self._scaled(c.left, scale), self._scaled(c.right, scale)
                diffs.append(x - y if c.op in ("<", ">=") else y - x)  # x < y, or y < x
            signs = compare.msb(self.party, concat_a(diffs))
            for i, c in enumerate(group):
                bit = signs[i * self.n : (i + 1) * self.n]
                keep = bit if c.op in ("<", ">") else compare.not_bit(self.party, bit)
                self._orders[id(c)] = (c, keep)

    def _compare(self, op: str, left: ir.Expr, right: ir.Expr) -> BShare:
        if left.ctype.is_text and op not in ("=", "<>"):  # UTF-8 byte order, as DuckDB
            u = list(self._as_type(left, DERIVED_TEXT).key)
            v = list(self._as_type(right, DERIVED_TEXT).key)
            less = _less_lanes(self.party, *((v, u) if op in (">", "<=") else (u, v)))
            return less if op in ("<", ">") else compare.not_bit(self.party, less)
        if left.ctype.is_text:
            if left.ctype.derived or right.ctype.derived:  # compare the bytes
                a = self._as_type(left, DERIVED_TEXT).key
                b = self._as_type(right, DERIVED_TEXT).key
            else:  # the value's key lanes (a NULL's are 0; its caller masks it)
                a = self.evaluate(left).lanes[: left.ctype.value_key_lanes]
                b = self.evaluate(right).lanes[: right.ctype.value_key_lanes]
            equal = _equal_lanes(self.party, list(a), list(b))
            return equal if op == "=" else compare.not_bit(self.party, equal)
        if any(isinstance(s, ir.Divide) and s.op == "/" and not s.declared for s in (left, right)):
            return self._quotient_compare(op, left, right)
        scale = max(left.ctype.scale, right.ctype.scale)
        x, y = self._scaled(left, scale), self._scaled(right, scale)
        return self._compare_words(op, x, y)

    def _compare_words(self, op: str, x: AShare, y: AShare) -> BShare:
        if op == "=":
            return compare.eq(self.party, x, y)
        if op == "<>":
            return compare.ne(self.party, x, y)
        if op == "<":
            return compare.lt(self.party, x, y)
        if op == "<=":
            return compare.le(self.party, x, y)
        if op == ">":
            return compare.gt(self.party, x, y)
        if op == ">=":
            return compare.ge(self.party, x, y)
        raise ValueError(f"unknown comparison {op}")


def _xor_bits(party: Party, signs: list[AShare | None]) -> AShare | None:
    """The XOR of 0/1 sharings (a + b − 2ab; None: a known 0)."""
    known = [s for s in signs if s is not None]
    if not known:
        return None
    result = known[0]
    for other in known[1:]:
        result = result + other - mul(party, result, other).shift_left(1)
    return result


def _mul_lanes(party: Party, c: AShare, lanes: list[AShare]) -> list[AShare]:
    """c · lane for every lane, in one round."""
    if len(lanes) == 1:
        return [mul(party, c, lanes[0])]
    n = len(c)
    stacked = mul(party, concat_a([c] * len(lanes)), concat_a(lanes))
    return [stacked[i * n : (i + 1) * n] for i in range(len(lanes))]


def _less_lanes(party: Party, a: list[AShare], b: list[AShare]) -> BShare:
    """[a < b] lexicographically over lanes of values in [0, 2^56) (text's sort lanes): all
    lane comparisons in two batched calls, then a tree of (less, equal) pairs:
    (l1, e1)·(l2, e2) = (l1 ∨ (e1 ∧ l2), e1 ∧ e2), one AND round per level."""
    n, k = len(a[0]), len(a)
    x, y = concat_a(a), concat_a(b)
    lts, eqs = compare.lt(party, x, y), compare.eq(party, x, y)
    pairs = [(lts[i * n : (i + 1) * n], eqs[i * n : (i + 1) * n]) for i in range(k)]
    while len(pairs) > 1:
        left, right = pairs[0::2], pairs[1::2]
        odd = [left.pop()] if len(left) > len(right) else []
        products = boolean.and_many(
            party,
            [(e1, l2) for (_, e1), (l2, _) in zip(left, right, strict=True)]
            + [(e1, e2) for (_, e1), (_, e2) in zip(left, right, strict=True)],
        )
        m = len(right)
        pairs = [
            (l1 ^ products[i], products[m + i])  # l1 and e1 ∧ l2 are exclusive: OR = XOR
            for i, ((l1, _), _) in enumerate(zip(left, right, strict=True))
        ] + odd
    return pairs[0][0]


def _equal_lanes(party: Party, a: list[AShare], b: list[AShare]) -> BShare:
    """[a_k = b_k for all k], with all lane equalities in one batched call."""
    n = len(a[0])
    eqs = compare.eq(party, concat_a(a), concat_a(b))
    result = eqs[0:n]
    for k in range(1, len(a)):
        result = boolean.and_(party, result, eqs[k * n : (k + 1) * n])
    return result
