"""SQL ``LIKE`` patterns as pieces (shared by the compiler, which validates them, and the
operator that matches them obliviously, :mod:`tyst.relational.text`).

A pattern is segments separated by ``%``; a segment is a sequence of *pieces*: a literal
run of characters (its UTF-8 bytes) or ``_`` (exactly one character, of 1 to 4 bytes, as
in DuckDB). No ESCAPE clause: ``%`` and ``_`` are always wildcards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tyst.data.types import TEXT_MAX_BYTES

Piece = bytes | None
"""A literal run (non-empty UTF-8 bytes) or ``None`` for ``_`` (one character)."""

_PIECES = re.compile(r"_|[^_]+")


@dataclass(frozen=True)
class Pattern:
    """A ``LIKE`` pattern: its text, its segments (between ``%``s, non-empty, as pieces) and
    whether the first / last segment is anchored to the start / end of the value. A pattern
    without ``%`` and ``_`` is an equality and is compiled as one."""

    text: str
    segments: tuple[tuple[Piece, ...], ...]
    anchored_start: bool
    anchored_end: bool

    @classmethod
    def parse(cls, text: str) -> Pattern:
        """Split on ``%`` and ``_`` (``ValueError`` for NUL, or a literal run longer than 64
        bytes)."""
        if "\0" in text:
            raise ValueError("LIKE patterns cannot contain NUL")
        segments = []
        for part in text.split("%"):
            if not part:
                continue
            pieces: list[Piece] = []
            for m in _PIECES.finditer(part):
                piece = m.group(0)
                if piece == "_":
                    pieces.append(None)
                    continue
                raw = piece.encode("utf-8")
                if len(raw) > TEXT_MAX_BYTES:
                    raise ValueError(f"a LIKE literal is longer than {TEXT_MAX_BYTES} bytes")
                pieces.append(raw)
            segments.append(tuple(pieces))
        return cls(text, tuple(segments), not text.startswith("%"), not text.endswith("%"))

    @property
    def is_literal(self) -> bool:
        """No wildcard at all: the pattern is an equality with its text."""
        return "%" not in self.text and "_" not in self.text
