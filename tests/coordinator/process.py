"""A real coordinator process for black-box tests: ``tyst coordinator serve`` on loopback
(plain HTTP, SQLite), started in a directory with the test registry and stopped after."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.coordinator.helpers import NODE_IDS, REGISTRY
from tyst.jobs.deploy import free_ports


def coordinator_url(root: Path) -> str:
    """Pick a free loopback port and write ``root/coordinator.toml`` (and the registry) for
    :func:`serving`; returns the URL the coordinator will serve at."""
    root.mkdir(parents=True, exist_ok=True)
    REGISTRY.save(root / "registry.json")
    (port,) = free_ports(1)
    (root / "coordinator.toml").write_text(
        "[coordinator]\n"
        'registry = "registry.json"\n'
        'database_url = "sqlite:///coordinator.db"\n'
        f"nodes = {json.dumps(list(NODE_IDS))}\n"
        f"port = {port}\n",
        encoding="utf-8",
    )
    return f"http://127.0.0.1:{port}"


@contextmanager
def serving(root: Path, extra: str = "") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The coordinator of ``root`` (written by :func:`coordinator_url` unless present, plus
    the ``extra`` TOML lines) running until the block ends; yields its URL and process.
    Fails with the coordinator's log if it exits or is not healthy within 60 s."""
    config = root / "coordinator.toml"
    if config.exists():
        text = config.read_text(encoding="utf-8")
        url = "http://127.0.0.1:" + text.split("port = ")[1].split("\n")[0]
    else:
        url = coordinator_url(root)
    if extra:
        config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    log = (root / "coordinator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tyst", "coordinator", "serve", "--config", "coordinator.toml"],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (root / "coordinator.log").read_text()
            assert time.monotonic() < deadline, "the coordinator did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
