"""An organisation's client (owner and recipient): ``tyst plan|data|result …`` and the SDK.

- :mod:`tyst.client.config` — the client configuration file;
- :mod:`tyst.client.owner` — validate, secret-share and stream a table to the nodes;
- :mod:`tyst.client.recipient` — fetch, verify, open, combine and decode a result;
- :mod:`tyst.client.session` — :class:`~tyst.client.session.Client`, the SDK.
"""
