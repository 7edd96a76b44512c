"""The shared service's cryptographic building blocks (see ``../shared/DESIGN.md`` §4).

Self-contained and independent of the engine, the protocols and the network, so
that the coordinator, the compute nodes and the owners' clients can all use them:

- :mod:`tyst.service.keys` — an organisation's keys (Ed25519 signing, X25519 +
  ML-KEM-768 encryption), their files, and the deployment's public registry;
- :mod:`tyst.service.signing` — domain-separated Ed25519 signatures and plan
  approvals;
- :mod:`tyst.service.sealing` — hybrid (X25519 + ML-KEM-768) public-key
  encryption of results to a recipient;
- :mod:`tyst.service.audit` — the append-only, hash-chained, signed audit log.
"""
