"""Plan executor: runs a compiled SQL plan on the relational operators; DuckDB reference oracle."""
