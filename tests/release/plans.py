"""The one-table plan the release tests compile: ``HEAD`` (analysis, party ``a``, table
``t(k, g, x)`` with its ranges, the SQL as ``{sql}``, recipient ``a``) to which each test
module appends its ``[output]``/``[policy]``/``[privacy]`` lines (``str.format`` fields)."""

HEAD = """\
[analysis]
title = "t"
purpose = "p"
legal_basis = "l"
retention_days = 1
[parties.a]
name = "A"
[tables.t]
owner = "a"
columns = {{ k = "int", g = "int", x = "int" }}
max_rows = 1000
ranges = {{ k = [0, 100000], g = [0, 9], x = [-50, 50] }}
[query]
sql = "{sql}"
[output]
recipients = ["a"]
"""
