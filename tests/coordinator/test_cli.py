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
