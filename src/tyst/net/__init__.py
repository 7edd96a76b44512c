"""Networking between the three compute nodes.

``transport`` defines the interface the MPC layer sees; ``local`` is the
in-process implementation for tests; ``framing``, ``tls`` and ``certs`` make up
the mutual-TLS TCP implementation; ``launcher`` starts three party processes.
"""
