"""Run a compiled logical plan on the three nodes: one method per operator type.

Contract: :meth:`Executor.run` takes the plan's root and returns the result
as a padded :class:`SharedTable` (validity bits, no row ever removed), whose
column names are the query's output names. Inputs are the owners' tables as
shared tables keyed by table name (columns named as in the plan). Nothing is
opened here except by the operators' documented protocols.
"""

from __future__ import annotations

from collections.abc import Mapping

from tyst.engine.expressions import Evaluator
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.relational.table import SharedColumn, SharedTable, concat_tables
from tyst.sql import ir


class Executor:
    """Executes IR operators over shared tables for one party."""

    def __init__(self, party: Party, inputs: Mapping[str, SharedTable]) -> None:
        self.party = party
        self.inputs = inputs

    def run(self, node: ir.Node) -> SharedTable:
        """The operator's output table (see module contract)."""
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise TypeError(f"no executor for operator {type(node).__name__}")
        result: SharedTable = method(node)
        names = [n for n, _ in node.schema]
        if list(result.columns) != names:
            raise AssertionError(f"{type(node).__name__} produced {list(result.columns)}")
        return result

    def _scan(self, node: ir.Scan) -> SharedTable:
        table = self.inputs[node.table]
        columns = {f"{node.alias}.{name}": col for name, col in table.columns.items()}
        return SharedTable(columns, table.valid, node.alias)

    def _filter(self, node: ir.Filter) -> SharedTable:
        table = self.run(node.input)
        bit = Evaluator(self.party, table).predicate(node.predicate)
        return table.with_valid(boolean.and_(self.party, table.valid, bit))

    def _project(self, node: ir.Project) -> SharedTable:
        table = self.run(node.input)
        evaluator = Evaluator(self.party, table)
        columns: dict[str, SharedColumn] = {}
        for name, expr in node.outputs:
            columns[name] = evaluator.evaluate(expr)
        return SharedTable(columns, table.valid)

    def _unionall(self, node: ir.UnionAll) -> SharedTable:
        parts = [self.run(child) for child in node.inputs]
        names = [n for n, _ in node.schema]
        renamed = [
            SharedTable(dict(zip(names, t.columns.values(), strict=True)), t.valid) for t in parts
        ]
        return concat_tables(renamed)
