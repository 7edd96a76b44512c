"""Documentation is checked: the Quick start, the protocol catalogue and its generated page."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from tyst.mpc.protocols import catalogue

ROOT = Path(__file__).resolve().parent.parent


def test_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert "tyst demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "Quick start" in ci
    assert "bash -c" in ci


def test_every_protocol_has_a_contract_docstring() -> None:
    for name, fn in catalogue.protocols():
        doc = inspect.getdoc(fn) or ""
        first_line = doc.splitlines()[0] if doc else ""
        delegates = any(w in first_line for w in ("= ", "see", "See", "Rounds"))
        missing = [s for s in catalogue.REQUIRED if s not in doc]
        assert not missing or delegates, f"{name} lacks {missing}"


def test_protocol_page_is_up_to_date() -> None:
    page = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    assert page == catalogue.render_markdown(), (
        "docs/protocols.md is stale: run "
        "`python -m tyst.mpc.protocols.catalogue > docs/protocols.md`"
    )


def test_every_public_protocol_is_catalogued() -> None:
    listed = {name for name, _ in catalogue.protocols()}
    for _, module, _ in catalogue.SECTIONS:
        for name, obj in vars(module).items():
            if (
                inspect.isfunction(obj)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
                and ("Rounds" in (obj.__doc__ or ""))
            ):
                assert f"{module.__name__}.{name}" in listed, f"{name} missing from catalogue"


def test_operations_config_examples_load(tmp_path: Path) -> None:
    """Every TOML example in docs/operations.md is accepted by the loader it documents."""
    from tyst.client.config import load_client_config
    from tyst.coordinator.config import load_config
    from tyst.node.config import load_node_config

    loaders = {"[node]": load_node_config, "[client]": load_client_config}
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    (tmp_path / "registry.json").write_text("{}", encoding="utf-8")
    for block in blocks:
        path = tmp_path / "example.toml"
        path.write_text(block, encoding="utf-8")
        head = block.splitlines()[0]
        if head == "[coordinator]":
            load_config(path)
        else:
            loaders[head](path)


def test_operations_service_units_are_hardened() -> None:
    """Issue 11 finding 17: the shipped units (``deploy/systemd/``, checked in
    ``tests/test_packaging.py``) forbid core dumps; the docs name every one of them."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    units = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
    assert len(units) == 3  # node, coordinator, migrations
    for unit in units:
        assert f"`{unit.name}`" in text, unit.name
        lines = unit.read_text(encoding="utf-8").splitlines()
        assert "LimitCORE=0" in lines
        assert any(line.startswith("ExecStart=/opt/tyst/.venv/bin/") for line in lines)


def _documented_modules() -> set[str]:
    """Module names in the first column of docs/architecture.md's table (``a.b.c`` / ``d``
    rows name siblings of ``a.b.c``)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("| `tyst"):
            continue
        cell = line.split("|")[1]
        parts = re.findall(r"`([\w.]+)`", cell)
        first = parts[0]
        names.add(first)
        parent = first.rsplit(".", 1)[0]
        names.update(p if p.startswith("tyst.") else f"{parent}.{p}" for p in parts[1:])
    return names


def test_architecture_lists_every_module() -> None:
    documented = _documented_modules()
    missing = []
    for path in sorted((ROOT / "src" / "tyst").rglob("*.py")):
        parts = path.relative_to(ROOT / "src").with_suffix("").parts
        if parts[-1] in ("__init__", "__main__") or "migrations" in parts:
            continue
        module = ".".join(parts)
        prefixes = {".".join(parts[:k]) for k in range(2, len(parts) + 1)}
        if not prefixes & documented:
            missing.append(module)
    assert not missing, f"docs/architecture.md has no row for {missing}"
