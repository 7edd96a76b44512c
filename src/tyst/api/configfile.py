"""Reading one-table TOML configuration files (the node's and the client's).

Contract: :func:`read_section` returns the single ``[section]`` table of the
file, after checking that it is readable UTF-8 TOML within the bounds of
:mod:`tyst.service.bounded_toml` (size and nesting), with exactly that table
and no keys outside ``allowed``. Errors: ``error`` (the caller's exception
class) with one line naming the file (and the key).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from tyst.service import bounded_toml


def read_section(
    path: Path, section: str, allowed: Collection[str], error: type[Exception]
) -> dict[str, Any]:
    """The checked ``[section]`` table of the TOML file at ``path``."""
    try:
        doc = bounded_toml.loads(bounded_toml.read_text(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {' '.join(str(exc).split())}") from None
    sec = doc.get(section)
    if not isinstance(sec, dict) or set(doc) != {section}:
        raise error(f"{path}: expected exactly one [{section}] table")
    unknown = sorted(set(sec) - set(allowed))
    if unknown:
        raise error(f"{path}: [{section}] {unknown[0]}: unknown key")
    return sec
