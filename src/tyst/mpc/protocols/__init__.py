"""Protocols over replicated shares, as free functions taking a :class:`~tyst.mpc.party.Party`.

Every protocol's docstring states: steps, source (paper and section), rounds,
bytes sent per element per party, and leakage. ``docs/protocols.md`` collects
them. Every disclosure is a function named ``reveal*``.
"""
