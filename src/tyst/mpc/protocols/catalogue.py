"""The catalogue of protocols, in dependency order, and the generator of ``docs/protocols.md``.

Every protocol listed here must carry a contract docstring with the sections
``Steps``, ``Source``, ``Rounds``, ``Bytes`` and ``Leakage`` (checked by the
tests); variants that are defined in terms of another protocol say so in one
line instead. Regenerate the document with
``python -m tyst.mpc.protocols.catalogue > docs/protocols.md`` (a test fails
when it is stale).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tyst.mpc.protocols import (
    arithmetic,
    boolean,
    circuits,
    compare,
    conversion,
    division,
    shuffle,
    sort,
)

SECTIONS: list[tuple[str, ModuleType, list[str]]] = [
    (
        "Arithmetic sharing over Z_2^64",
        arithmetic,
        ["share_input", "reveal", "reveal_all", "mul", "mul_many", "dot", "truncate"],
    ),
    (
        "Boolean sharing over Z_2 (bit-packed words)",
        boolean,
        ["share_input_bool", "reveal_bool", "reveal_bool_all", "and_", "and_many", "or_"],
    ),
    (
        "Boolean circuits",
        circuits,
        ["split_two_operands", "carry_into_msb", "all_zero", "add_full"],
    ),
    ("Conversions", conversion, ["a2b", "b2a", "bit_to_arith"]),
    ("Comparisons and selection", compare, ["msb", "lt", "gt", "le", "ge", "eq", "ne", "select"]),
    ("Division", division, ["divide_public", "divide", "divide_digits", "fraction_bits"]),
    ("Shuffle", shuffle, ["shuffle", "permutation_from_prg"]),
    ("Sort", sort, ["sort"]),
]

REQUIRED = ("Steps", "Source", "Rounds", "Bytes", "Leakage")


def protocols() -> list[tuple[str, Callable[..., Any]]]:
    """All catalogued protocols as (qualified name, function)."""
    out = []
    for _, module, names in SECTIONS:
        for name in names:
            out.append((f"{module.__name__}.{name}", getattr(module, name)))
    return out


def render_markdown() -> str:
    """The text of ``docs/protocols.md``."""
    lines = [
        "# Protocols",
        "",
        "Generated from the contract docstrings in `src/tyst/mpc/protocols/` by",
        "`python -m tyst.mpc.protocols.catalogue > docs/protocols.md`; do not edit by hand.",
        "",
        "Conventions: three parties 0, 1, 2; party *i* holds the pair (x_i, x_{i+1}) of",
        "a replicated sharing x = x_0 + x_1 + x_2 (or XOR for boolean words); *prev*",
        "and *next* are parties i−1 and i+1. Bytes are per element (or word) and per",
        "party unless stated. k_i is the PRG key shared by parties i−1 and i. Threat",
        "model: honest majority, semi-honest; see the README.",
        "",
    ]
    for title, module, names in SECTIONS:
        lines += [f"## {title}", "", f"Module `{module.__name__}`.", ""]
        for name in names:
            doc = inspect.getdoc(getattr(module, name)) or ""
            lines += [f"### `{name}`", "", doc, ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
