"""Finding 12 of issue 11: node and client configuration files and plans a client is
served are read within the size and nesting bounds (one error line, no RecursionError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tyst.api.configfile import read_section
from tyst.client.config import ClientConfigError, load_client_config
from tyst.client.session import _parse_plan
from tyst.plan import PlanError

DEEP = 100_000


class _Error(Exception):
    pass


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[node]\norg = " + "[" * DEEP + "]" * DEEP + "\n", "nest deeper than"),
        ("[node]\norg = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n", "nest deeper than"),
        ("[node]\norg = '" + "x" * (1 << 20) + "'\n", "larger than"),
    ],
    ids=["arrays", "inline-tables", "oversized"],
)
def test_config_files_are_bounded(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(_Error, match=message) as info:
        read_section(path, "node", ("org",), _Error)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    client = tmp_path / "client.toml"
    client.write_text(body.replace("[node]", "[client]"), encoding="utf-8")
    with pytest.raises(ClientConfigError, match=message) as caught:
        load_client_config(client)
    assert "\n" not in str(caught.value)


def test_a_deep_plan_served_by_the_coordinator_is_a_plan_error() -> None:
    text = "[analysis]\ntitle = " + "[" * DEEP + "]" * DEEP + "\n"
    with pytest.raises(PlanError, match=r"plan 0123: malformed TOML: .*nest deeper than"):
        _parse_plan(text, "plan 0123")
