"""SQL ``LIKE`` patterns as pieces (shared by the compiler, which validates them, and the
operator that matches them obliviously, :mod:`tyst.relational.text`).

A pattern is segments separated by ``%``; a segment is a sequence of *pieces*: a literal
run of characters (its UTF-8 bytes) or ``_`` (exactly one character, of 1 to 4 bytes, as
in DuckDB). With an ``ESCAPE`` character, that character makes the next one literal
(``'10!%' ESCAPE '!'`` is the text ``10%``), as in DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass

from tyst.data.types import TEXT_MAX_BYTES

Piece = bytes | None
"""A literal run (non-empty UTF-8 bytes) or ``None`` for ``_`` (one character)."""


@dataclass(frozen=True)
class Pattern:
    """A ``LIKE`` pattern: its text, its segments (between ``%``s, non-empty, as pieces) and
    whether the first / last segment is anchored to the start / end of the value. A pattern
    without ``%`` and ``_`` is an equality and is compiled as one."""

    text: str
    segments: tuple[tuple[Piece, ...], ...]
    anchored_start: bool
    anchored_end: bool
    literal: str | None = None
    """The text the pattern equals when it has no wildcard (escapes removed), else None."""

    @classmethod
    def parse(cls, text: str, escape: str | None = None) -> Pattern:
        """Split on ``%`` and ``_`` not escaped (``ValueError`` for NUL, a literal run longer
        than 64 bytes, an escape that is not one character, or one at the end)."""
        if "\0" in text:
            raise ValueError("LIKE patterns cannot contain NUL")
        if escape is not None and len(escape) != 1:
            raise ValueError("the ESCAPE string must be one character")
        tokens: list[str | None] = []  # a literal character, or None for '%', '' for '_'
        chars = iter(text)
        for c in chars:
            if c == escape:
                literal = next(chars, None)
                if literal is None:
                    raise ValueError("a LIKE pattern cannot end with its ESCAPE character")
                tokens.append(literal)
            else:
                tokens.append(None if c == "%" else "" if c == "_" else c)
        segments: list[tuple[Piece, ...]] = []
        pieces: list[Piece] = []
        run = ""
        for token in [*tokens, None]:
            if token is not None and len(token) == 1:
                run += token
                continue
            if run:
                raw = run.encode("utf-8")
                if len(raw) > TEXT_MAX_BYTES:
                    raise ValueError(f"a LIKE literal is longer than {TEXT_MAX_BYTES} bytes")
                pieces.append(raw)
                run = ""
            if token == "":
                pieces.append(None)
            elif pieces:
                segments.append(tuple(pieces))
                pieces = []
        wild = [t for t in tokens if t is None or t == ""]
        literal = None if wild else "".join(t for t in tokens if t)
        return cls(
            text,
            tuple(segments),
            not tokens or tokens[0] is not None,
            not tokens or tokens[-1] is not None,
            literal,
        )

    @property
    def is_literal(self) -> bool:
        """No wildcard at all: the pattern is an equality with :attr:`literal`."""
        return self.literal is not None
