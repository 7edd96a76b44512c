"""``tyst coordinator serve`` refuses a bad config with one line, before serving anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tyst.cli import app


def test_missing_or_malformed_config_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["coordinator", "serve", "--config", str(tmp_path / "no.toml")])
    assert missing.exit_code == 2
    assert "no.toml" in missing.output
    assert "Traceback" not in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[coordinator\n", encoding="utf-8")
    result = runner.invoke(app, ["coordinator", "serve", "--config", str(bad)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_config_without_nodes_is_refused_with_one_line(tmp_path: Path) -> None:
    """Finding 8 of issue 11: the node list is mandatory."""
    path = tmp_path / "coordinator.toml"
    path.write_text('[coordinator]\nregistry = "registry.json"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["coordinator", "serve", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "[coordinator] nodes: missing" in lines[0]
