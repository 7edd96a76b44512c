"""SQL ``LIKE`` patterns as byte segments (shared by the compiler, which validates them, and
the operator that matches them obliviously, :mod:`tyst.relational.text`)."""

from __future__ import annotations

from dataclasses import dataclass

from tyst.data.types import TEXT_MAX_BYTES


@dataclass(frozen=True)
class Pattern:
    """A ``LIKE`` pattern without ``_`` or ESCAPE: its segments (UTF-8 bytes, non-empty) and
    whether the first / last segment is anchored to the start / end of the value. A
    pattern without ``%`` is an equality and is compiled as one."""

    segments: tuple[bytes, ...]
    anchored_start: bool
    anchored_end: bool

    @classmethod
    def parse(cls, text: str) -> Pattern:
        """Split on ``%`` (``ValueError`` for ``_``, or a segment longer than 64 bytes)."""
        if "_" in text:
            raise ValueError("'_' in LIKE patterns is not supported yet (use '%')")
        parts = text.split("%")
        segments = tuple(p.encode("utf-8") for p in parts if p)
        if any(len(s) > TEXT_MAX_BYTES for s in segments):
            raise ValueError(f"a LIKE segment is longer than {TEXT_MAX_BYTES} bytes")
        if "\0" in text:
            raise ValueError("LIKE patterns cannot contain NUL")
        return cls(segments, not text.startswith("%"), not text.endswith("%"))
