"""``tyst check``'s differential-privacy section: what the plan declares and the budget left.

Contract: :func:`privacy_lines` renders a ``[privacy]`` plan's unit, mechanism, ε or ρ per run,
contribution bounds and public key sets, and per table the query reads the owner's declared
budget; given a node's ledger (``tyst check --node-store DIR``, read only: nothing is
reserved) also the budget that node holds, what is spent and what would be left after one
run. It returns whether one run fits at that node (True without a ledger).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from tyst.node.ledger import BudgetLedger, plan_charges
from tyst.plan import Plan

_SYMBOL = {"epsilon": "ε", "rho": "ρ"}
_GUARANTEE = {
    "laplace": "pure ε-differential privacy, discrete Laplace noise",
    "gaussian": "ρ-zero-concentrated differential privacy, discrete Gaussian noise",
}


def privacy_lines(
    plan: Plan,
    tables: Iterable[str],
    ledger: BudgetLedger | None = None,
    now: _dt.datetime | None = None,
) -> tuple[list[str], bool]:
    """The section's lines and whether one run fits every budget at the ledger's node."""
    privacy = plan.privacy
    if privacy is None:
        return [], True
    now = now or _dt.datetime.now(_dt.UTC)
    symbol = _SYMBOL[privacy.measure]
    lines = [
        f"  mechanism: {privacy.mechanism} ({_GUARANTEE[privacy.mechanism]})",
        f"  privacy unit: {privacy.unit}; at most {privacy.max_rows_per_unit} row(s) per "
        f"{privacy.unit} kept per table",
        f"  each run spends {symbol} = {privacy.spend} on every table it reads",
    ]
    for column, (low, high) in privacy.bounds.items():
        lines.append(f"  {column} clamped to [{low}, {high}] before it is summed")
    for column, keys in privacy.keys.items():
        lines.append(f"  {column}: public key set of {len(keys)} key(s); no other group released")
    fits = True
    for charge in plan_charges(plan, tables):
        declared = charge.declared
        head = f"  table {charge.table} (owner {charge.owner}): "
        if declared is None:
            head += (
                "no budget declared in this plan (unlimited unless an earlier plan declared one)"
            )
        else:
            per = "per calendar year" if declared.period == "year" else "in total"
            head += f"budget {symbol} = {declared.amount} {per} declared"
        lines.append(head)
        if ledger is None:
            continue
        balance = ledger.balance(charge.owner, charge.table, charge.unit, now)
        if balance.measure not in (None, charge.measure):
            lines.append(f"    at this node: the account counts {balance.measure}: refused")
            fits = False
            continue
        budget = balance.budget
        if declared is not None and (budget is None or declared.amount < budget):
            budget = declared.amount  # the ledger would take the smaller one
        period = balance.period or (declared.period if declared is not None else None)
        window = f"in {now.year}" if period == "year" else "in total"
        if budget is None:
            lines.append(f"    at this node: spent {balance.spent}, no budget: not limited")
            continue
        left = budget - balance.spent
        after = left - charge.amount
        verdict = f"{after} left after this run" if after >= 0 else "this run does not fit"
        lines.append(
            f"    at this node: budget {budget} {window}, spent {balance.spent} "
            f"(of it reserved {balance.reserved}), left {left}; {verdict}"
        )
        fits = fits and after >= 0
    return lines, fits
