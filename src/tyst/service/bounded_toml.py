"""TOML parsing with bounded size and nesting, for every TOML document tyst reads.

Contract
--------
:func:`loads` is :func:`tomllib.loads` for documents of at most ``max_bytes``
UTF-8 bytes whose values nest at most ``max_depth`` levels deep; anything
larger or deeper is refused with :class:`TomlLimitError`, one line, **before**
``tomllib`` sees it. :func:`check_limits` is the check alone (for callers that
hand the text to a parser of their own, e.g. :func:`tyst.plan.parse_plan`);
:func:`read_text` reads a file without reading more than the size limit.

Why: ``tomllib`` parses arrays and inline tables recursively, so a document
such as ``a = [[[[…]]]]`` 100 000 levels deep raises :class:`RecursionError`
(a 500 or a dropped connection in a server). The check is a linear lexical
scan — strings, comments, ``[``/``]`` and ``{``/``}`` — that never recurses;
after parsing, the nesting of the resulting tables (dotted keys and table
headers nest without brackets) is checked iteratively as well.

Errors: :class:`TomlLimitError`, a subclass of :class:`tomllib.TOMLDecodeError`,
so every caller that already reports malformed TOML reports it the same way.
Security: the message names a limit and a line number, never document content.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

MAX_BYTES = 1 << 20
"""Default largest document (1 MiB of UTF-8); plans and configuration files are far smaller."""

MAX_DEPTH = 32
"""Default deepest nesting of arrays, inline tables and tables (a plan needs about 5)."""

_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}]")
# Possessive quantifiers: an unterminated string is rejected in linear time.
_BASIC_END = re.compile(r'(?:[^"\\\n]++|\\.)*+"')
_MULTI_BASIC_END = re.compile(r'(?:[^"\\]++|\\[\s\S]|"(?!""))*+"""')


class TomlLimitError(tomllib.TOMLDecodeError):
    """A TOML document over the size or nesting limit; ``str()`` is one line."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)


def _utf8_size(text: str, limit: int) -> int:
    if 4 * len(text) <= limit:
        return len(text)  # cannot exceed the limit whatever the characters
    return len(text.encode("utf-8", "surrogatepass"))


def check_limits(text: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``text`` if it is over ``max_bytes`` or brackets nest over ``max_depth``.

    Output: ``None`` when within the limits. The scan is lexical and tolerant:
    malformed TOML passes it and is left for ``tomllib`` to report.
    Errors: :class:`TomlLimitError` (one line).
    """
    if _utf8_size(text, max_bytes) > max_bytes:
        raise TomlLimitError(f"the document is larger than {max_bytes} bytes")
    depth = 0
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.search(text, pos)
        if m is None:
            return
        lexeme, pos = m.group(), m.end()
        if lexeme in "[{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, pos) + 1
                raise TomlLimitError(
                    f"line {line}: arrays and inline tables nest deeper than {max_depth} levels"
                )
        elif lexeme in "]}":
            depth = max(0, depth - 1)
        elif lexeme == "#":
            pos = _line_end(text, pos)
        elif lexeme == '"':
            end = _BASIC_END.match(text, pos)
            pos = end.end() if end else _line_end(text, pos)
        elif lexeme == "'":
            close = text.find("'", pos)
            newline = text.find("\n", pos)
            pos = (
                close + 1
                if close >= 0 and (newline < 0 or close < newline)
                else _line_end(text, pos)
            )
        elif lexeme == '"""':
            end = _MULTI_BASIC_END.match(text, pos)
            pos = _skip_quotes(text, end.end(), '"') if end else n
        else:  # "'''"
            close = text.find("'''", pos)
            pos = _skip_quotes(text, close + 3, "'") if close >= 0 else n


def _line_end(text: str, pos: int) -> int:
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def _skip_quotes(text: str, pos: int, quote: str) -> int:
    """Past up to two more quotes: ``""" "`` closes a string that ends in a quote." ""
    for _ in range(2):
        if text.startswith(quote, pos):
            pos += 1
    return pos


def _check_tables(doc: dict[str, Any], max_depth: int) -> None:
    """Iteratively: no value in ``doc`` lies deeper than ``max_depth`` containers."""
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = list(value)
        else:
            continue
        if depth > max_depth:
            raise TomlLimitError(f"tables and values nest deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a TOML file, reading at most ``max_bytes`` (+1) bytes.

    Errors: :class:`OSError`, :class:`UnicodeDecodeError`, :class:`TomlLimitError`
    for a larger file.
    """
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TomlLimitError(f"the document is larger than {max_bytes} bytes")
    return data.decode("utf-8")


def loads(text: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """:func:`tomllib.loads` within the limits (see the module docstring).

    Errors: :class:`TomlLimitError` over a limit; :class:`tomllib.TOMLDecodeError`
    for malformed TOML.
    """
    check_limits(text, max_bytes=max_bytes, max_depth=max_depth)
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # not reachable within the limits; never let it escape
        raise TomlLimitError(f"the document nests deeper than {max_depth} levels") from None
    _check_tables(doc, max_depth)
    return doc


def toml_kind(value: object) -> str:
    """The TOML name of a parsed value's type."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "TomlLimitError",
    "check_limits",
    "loads",
    "read_text",
    "toml_kind",
]
