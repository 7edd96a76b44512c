"""``tyst demo --console``: the demo's deployment with a console per body, plan submitted."""

from __future__ import annotations

from pathlib import Path

import httpx

from tyst.console.demo import console_demo
from tyst.jobs.demo import DemoFiles


def test_every_body_sees_the_submitted_plan_in_its_console(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def ready(urls: dict[str, str], files: DemoFiles) -> None:
        assert set(urls) == {"fk", "malmo", "lund"}
        digest = files.plan.digest()
        for org, url in urls.items():
            page = httpx.get(url, timeout=30)
            assert page.status_code == 200
            assert f"/plans/{digest}" in page.text
            assert f"<strong>{org}</strong>" in page.text
            seen[org] = page.status_code
        assert all(path.is_file() for path in files.data.values())

    console_demo(ready, persons=50, seed=3, workdir=tmp_path / "demo")
    assert len(seen) == 3
