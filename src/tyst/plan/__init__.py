"""The analysis plan (``analysis.toml``): parties, tables, query, recipients, policy."""

from tyst.plan.model import (
    POLICY_ALLOWANCES,
    Analysis,
    Party,
    Plan,
    PlanError,
    TableDecl,
    load_plan,
    parse_plan,
)

__all__ = [
    "POLICY_ALLOWANCES",
    "Analysis",
    "Party",
    "Plan",
    "PlanError",
    "TableDecl",
    "load_plan",
    "parse_plan",
]
