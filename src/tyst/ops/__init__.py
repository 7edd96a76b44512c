"""The operator registry: one module per logical operator, each exporting an
:class:`~tyst.ops.spec.OperatorSpec` (how it executes, what it needs of its inputs, its cost
and what it discloses); :mod:`tyst.ops.registry` collects them. Row-wise expressions are
evaluated by :mod:`tyst.ops.expressions`."""
