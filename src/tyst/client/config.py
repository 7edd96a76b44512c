"""An organisation's client configuration (``--config FILE`` of the client commands).

Format (TOML, one ``[client]`` table; relative paths are relative to the file)::

    [client]
    org = "fk"                          # this organisation's id (in the registry)
    keys = "keys/fk"                    # its key directory (tyst keys generate)
    passphrase_file = "…"               # optional: the key directory's passphrase
    registry = "registry.json"          # the deployment's registry of organisations
    coordinator = "https://coordinator.example:8400"
    ca = "deployment-ca.pem"            # CA file for the coordinator's and nodes' TLS
    nodes = ["nod-a", "nod-b", "nod-c"] # the compute nodes' organisation ids, party 0, 1, 2
    node_urls = ["https://nodea.example:8441", "https://nodeb.example:8441",
                 "https://nodec.example:8441"]

``node_urls[i]`` must be ``https://``: the client sends node ``i`` anything only
after its TLS certificate, verified against ``ca``, carries node ``i``'s party
identity ``party-{i}.tyst`` (see :class:`~tyst.api.http.NodeClient`).

Errors: :class:`ClientConfigError`, one line naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tyst.api.configfile import read_section

_KEYS = {"org", "keys", "passphrase_file", "registry", "coordinator", "ca", "nodes", "node_urls"}


class ClientConfigError(Exception):
    """An unusable client configuration; ``str()`` is one line."""


@dataclass(frozen=True)
class ClientConfig:
    """A parsed client configuration."""

    org: str
    keys: Path
    passphrase_file: Path | None
    registry: Path
    coordinator: str
    ca: Path | None
    nodes: tuple[str, str, str]
    node_urls: tuple[str, str, str]


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and check a client configuration file."""
    path = Path(path)
    sec = read_section(path, "client", _KEYS, ClientConfigError)

    def text(key: str) -> str:
        value = sec.get(key)
        if not isinstance(value, str) or not value:
            raise ClientConfigError(f"{path}: [client] {key}: expected a non-empty string")
        return value

    def triple(key: str) -> tuple[str, str, str]:
        value = sec.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise ClientConfigError(f"{path}: [client] {key}: expected a list of three strings")
        return (value[0], value[1], value[2])

    base = path.parent
    nodes = triple("nodes")
    node_urls = triple("node_urls")
    for url in node_urls:
        if not url.startswith("https://"):
            raise ClientConfigError(
                f"{path}: [client] node_urls: {url!r} is not https:// "
                "(the client checks each node's certificate identity)"
            )
    if len(set(nodes)) != 3:
        raise ClientConfigError(f"{path}: [client] nodes: three different organisations needed")
    return ClientConfig(
        org=text("org"),
        keys=(base / text("keys")).resolve(),
        passphrase_file=(base / text("passphrase_file")).resolve()
        if "passphrase_file" in sec
        else None,
        registry=(base / text("registry")).resolve(),
        coordinator=text("coordinator"),
        ca=(base / text("ca")).resolve() if "ca" in sec else None,
        nodes=nodes,
        node_urls=node_urls,
    )
