"""Relational operators over secret-shared tables with validity bits.

Tables never shrink: a filter clears validity bits, a join or aggregation
produces a padded table whose invalid rows the recipient drops. Every operator
module states its precondition, output form, rounds and leakage.
"""
