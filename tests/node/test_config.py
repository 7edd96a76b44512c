"""Node and client configuration files: the generated ones load, mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tyst.client.config import ClientConfigError, load_client_config
from tyst.jobs.deploy import NODE_ORGS, write_local_deployment
from tyst.node.config import NodeConfigError, load_node_config


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dep")
    write_local_deployment(root, ["fk", "malmo"])
    return root


def test_the_generated_configs_load(deployment: Path) -> None:
    for i, org in enumerate(NODE_ORGS):
        config = load_node_config(deployment / "nodes" / f"node-{i}" / "node.toml")
        assert (config.org, config.party, config.nodes) == (org, i, NODE_ORGS)
        assert config.tls.is_dir()
        assert config.coordinator.startswith("https://127.0.0.1:")
        assert len({a for a in config.mesh}) == 3
    client = load_client_config(deployment / "orgs" / "fk" / "client.toml")
    assert client.nodes == NODE_ORGS
    assert client.ca is not None
    assert client.ca.is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("party = 0", "party = 3"), "party: must be 0, 1 or 2"),
        (("party = 0", "party = 1"), "entry 1 is 'nod-b', but org is 'nod-a'"),
        (("[node]", "[node]\ncolour = 1"), "colour: unknown key"),
        (("mesh = [", 'mesh = ["nohost", '), "mesh"),
        (("[node]", "[nodes]"), "exactly one [node] table"),
        (("timeout = 120.0", "timeout = -1"), "timeout: must be positive"),
        (('org = "nod-a"', "org = 5"), "org: expected str"),
        (("[node]", '[node]\nmetrics_listen = "9464"'), "metrics_listen: '9464' is not HOST:PORT"),
        (('log_format = "text"', 'log_format = "xml"'), "log_format: must be one of"),
    ],
)
def test_node_config_mistakes(
    deployment: Path, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = (deployment / "nodes" / "node-0" / "node.toml").read_text()
    assert change[0] in text
    bad = tmp_path / "node.toml"
    bad.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(NodeConfigError, match=message.replace("[", r"\[")) as info:
        load_node_config(bad)
    assert str(bad) in str(info.value)
    assert "\n" not in str(info.value)


def test_client_config_mistakes(deployment: Path, tmp_path: Path) -> None:
    text = (deployment / "orgs" / "fk" / "client.toml").read_text()
    bad = tmp_path / "client.toml"
    bad.write_text(
        text.replace('nodes = ["nod-a", "nod-b", "nod-c"]', 'nodes = ["nod-a", "nod-a", "nod-c"]')
    )
    with pytest.raises(ClientConfigError, match="three different"):
        load_client_config(bad)
    bad.write_text("not toml [")
    with pytest.raises(ClientConfigError, match="not valid TOML"):
        load_client_config(bad)


def test_metrics_and_log_settings(deployment: Path, tmp_path: Path) -> None:
    text = (deployment / "nodes" / "node-0" / "node.toml").read_text()
    assert load_node_config(deployment / "nodes" / "node-0" / "node.toml").metrics_listen is None
    path = tmp_path / "node.toml"
    path.write_text(
        text.replace('log_format = "text"', 'metrics_listen = "[::1]:9465"\nlog_format = "json"')
    )
    config = load_node_config(path)
    assert config.metrics_listen == ("::1", 9465)
    assert config.log_format == "json"
