"""The only user of sqlglot: parse, check against the plan schema, compile to a logical plan."""
