"""Finding 12 of issue 11: one bounded TOML loader refuses deep or huge documents in one line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.service.bounded_toml import MAX_DEPTH, TomlLimitError, loads

ROOT = Path(__file__).resolve().parents[2]
DEEP = 100_000


def _one_line(exc: BaseException) -> bool:
    return "\n" not in str(exc) and bool(str(exc))


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * DEEP + "]" * DEEP,
        "a = " + "{b = " * DEEP + "1" + "}" * DEEP,
        "a = [" + "{b = [" * (DEEP // 2) + "]}" * (DEEP // 2) + "]",
    ],
    ids=["arrays", "inline-tables", "mixed"],
)
def test_deep_nesting_is_refused_before_tomllib(text: str) -> None:
    with pytest.raises(RecursionError):
        tomllib.loads(text)  # what every reader did before
    with pytest.raises(TomlLimitError, match="nest deeper than") as info:
        loads(text)
    assert _one_line(info.value)
    assert isinstance(info.value, tomllib.TOMLDecodeError)  # callers report it as malformed


def test_dotted_keys_and_headers_are_bounded_too() -> None:
    with pytest.raises(TomlLimitError, match="nest deeper"):
        loads(".".join(["a"] * (MAX_DEPTH + 2)) + " = 1")
    with pytest.raises(TomlLimitError, match="nest deeper"):
        loads("[" + ".".join(["a"] * (MAX_DEPTH + 2)) + "]\nx = 1")
    assert loads(".".join(["a"] * (MAX_DEPTH - 1)) + " = 1")


def test_oversized_documents_are_refused() -> None:
    with pytest.raises(TomlLimitError, match="larger than 100 bytes"):
        loads("a = " + '"' + "x" * 200 + '"', max_bytes=100)
    with pytest.raises(TomlLimitError, match="larger than"):
        loads("a = '" + "å" * 60 + "'", max_bytes=100)  # counted in UTF-8 bytes
    assert loads("a = 1", max_bytes=5) == {"a": 1}


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    deep = "[" * 200
    text = "\n".join(
        [
            f'a = "{deep}\\"{deep}"',
            f"b = '{deep}'",
            f'c = """{deep}\n\\"""{deep}\n"{deep}""""',
            f"d = '''{deep}\n''{deep}'''''",
            f"# {deep}",
            f"e = [1, 2] # {deep}",
            "f = { g = [[1], [2, [3]]], h = 'x]' }",
        ]
    )
    assert loads(text) == tomllib.loads(text)


def test_every_shipped_toml_example_loads_unchanged() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "operations.md").read_text(), re.S)
    blocks += re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "sql.md").read_text(), re.S)
    from tests.examples import ISSUE_PLAN
    from tyst.jobs.demo import PLAN

    for text in [ISSUE_PLAN, PLAN, *blocks]:
        try:
            expected = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue  # fragments
        assert loads(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]{}\"'#\n =a1,.\\", max_size=120))
def test_random_text_behaves_like_tomllib_or_is_refused(text: str) -> None:
    try:
        expected: object = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        expected = tomllib.TOMLDecodeError
    refused: TomlLimitError | None = None
    try:
        got: object = loads(text, max_depth=8)
    except TomlLimitError as exc:
        refused = exc
    except tomllib.TOMLDecodeError:
        got = tomllib.TOMLDecodeError
    if refused is not None:
        assert _one_line(refused)
    else:
        assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3 * MAX_DEPTH), st.sampled_from(["[", "{x = "]))
def test_the_limit_is_exact(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = "a = " + opener * depth + "1" + closer * depth
    if depth <= MAX_DEPTH - 1:
        assert loads(text) == tomllib.loads(text)
    elif depth > MAX_DEPTH:
        with pytest.raises(TomlLimitError):
            loads(text)
