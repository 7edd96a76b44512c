"""The only user of sqlglot: parse, validate against the plan's schema, compile to a logical plan."""
