"""The wire between the service's processes: HTTP clients and the byte formats they share.

- :mod:`tyst.api.uploads` — the owner → node upload stream (framed share chunks,
  signed by the owner) and its incremental parser;
- :mod:`tyst.api.results` — a node's result shares as the bytes it seals to a recipient;
- :mod:`tyst.api.http` — typed clients for the coordinator's and the nodes' HTTP APIs,
  including drafting, signing and appending audit events.

This package knows bytes, signatures and HTTP, never data values: it imports
only :mod:`tyst.service` and :mod:`tyst.coordinator.protocol` (an import
contract keeps it below the engine and the data layer).
"""
