"""``tyst demo --console``: the demo's deployment with a console for each of its bodies.

Contract: :func:`console_demo` writes the demo's synthetic files (:mod:`tyst.jobs.demo`)
and a local deployment (:mod:`tyst.jobs.deploy`) for Försäkringskassan, Malmö and
Lund, starts the coordinator and the three nodes, submits the plan as FK (``tyst plan
submit``), serves each body's console on loopback (:class:`~tyst.console.app.ServerThread`)
and calls ``ready(urls, files)`` — the caller prints the URLs and the files' paths and
waits (until interrupted); the rest — review, approve in every console, upload each
body's file, follow, fetch, audit — is done by a person in the browser. Everything is
stopped and removed when ``ready`` returns.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

from tyst.client.config import load_client_config
from tyst.client.session import Client
from tyst.console.app import ServerThread, create_app
from tyst.jobs.demo import DemoFiles, write_demo
from tyst.jobs.deploy import LocalServices, free_ports, write_local_deployment

Ready = Callable[[dict[str, str], DemoFiles], None]


def console_demo(
    ready: Ready, *, persons: int = 10_000, seed: int = 2026, workdir: Path | None = None
) -> None:
    """Run the demo deployment with one console per body until ``ready`` returns."""
    with contextlib.ExitStack() as stack:
        root = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tyst-")))
        files = write_demo(root / "owners", persons, seed)
        bodies = list(files.plan.parties)
        deployment = write_local_deployment(root / "service", bodies)
        stack.enter_context(LocalServices(deployment))
        heads = [c.parent / "store" / "audit-heads" for c in deployment.node_configs]
        urls = {}
        for org, port in zip(bodies, free_ports(len(bodies)), strict=True):
            client = stack.enter_context(
                Client.from_config(load_client_config(deployment.client_configs[org]))
            )
            if org == bodies[0]:
                client.submit(files.plan.text, str(root / "owners" / "demo.toml"))
            app = create_app(client, port=port, heads=heads, workdir=root / "console" / org)
            server = ServerThread(app, "127.0.0.1", port).start()
            stack.callback(server.stop)
            urls[org] = server.url + "/"
        ready(urls, files)
