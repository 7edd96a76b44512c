"""The analysis plan (``analysis.toml``): parties, tables, query, recipients, policy."""
