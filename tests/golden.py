"""Golden files: a ``*.sql`` file holds a query and, after ``-- plan:``, the text a renderer
gives for it; ``TYST_UPDATE_PLANS=1`` rewrites the text (review the diff)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

MARK = "-- plan:\n"


def assert_golden(path: Path, render: Callable[[str], str], what: str = "plan") -> None:
    """``render(sql)`` equals the text stored in ``path`` (or rewrites it when updating)."""
    sql, _, expected = path.read_text(encoding="utf-8").partition(MARK)
    got = render(sql.strip())
    if os.environ.get("TYST_UPDATE_PLANS"):
        path.write_text(f"{sql.strip()}\n{MARK}{got}\n", encoding="utf-8")
        return
    assert expected, f"{path.name} has no '-- plan:' section"
    assert got == expected.rstrip("\n"), f"the {what} of {path.name} changed:\n{got}"
