"""The compiler's error: one line naming the pass, the SQL position and what to do."""

from __future__ import annotations

from typing import Any


class SqlError(ValueError):
    """A query the compiler rejects, raised before any data moves.

    ``str(error)`` is one line: ``sql line L, column C: message [pass]``.
    """

    def __init__(self, pass_name: str, message: str, line: int | None, column: int | None):
        self.pass_name = pass_name
        self.message = message
        self.line = line
        self.column = column
        where = f"sql line {line}, column {column}: " if line is not None else "sql: "
        super().__init__(f"{where}{message} [{pass_name}]")


def position(node: Any) -> tuple[int | None, int | None]:
    """The 1-based (line, column) where a sqlglot node starts (its leftmost token)."""
    if node is None:
        return None, None
    best: dict[str, Any] | None = None
    for sub in node.walk():
        meta = getattr(sub, "meta", None) or {}
        if "line" in meta and (best is None or meta["start"] < best["start"]):
            best = meta
    if best is None:
        return None, None
    return int(best["line"]), int(best["col"]) - (int(best["end"]) - int(best["start"]))
