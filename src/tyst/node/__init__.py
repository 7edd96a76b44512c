"""A compute node: ``tyst node serve``.

- :mod:`tyst.node.config` — the configuration file;
- :mod:`tyst.node.store` — the encrypted per-job share store (keys in memory only);
- :mod:`tyst.node.service` — authorisation, uploads, runs, sealing and deletion;
- :mod:`tyst.node.program` — what the node computes in a run (the engine over its shares);
- :mod:`tyst.node.app` — the HTTPS API and ``serve``.
"""
