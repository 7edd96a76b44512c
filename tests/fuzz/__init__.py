"""Fuzz targets for every decoder and parser an outsider can reach (issue 11).

Each module holds hypothesis strategies and a ``check_*`` function per target, and
tests that run them with a bounded budget in the default suite. The budget is the
environment variable ``TYST_FUZZ_EXAMPLES`` (examples per test, default
:data:`DEFAULT_EXAMPLES`); ``benchmarks/fuzz.py`` runs the same targets with a
large budget. The upload stream's target lives with its reader in
``tests/api/test_uploads.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200
"""Examples per fuzz test in the default suite (the three modules take well under 40 s)."""


def budget(scale: float = 1.0) -> int:
    """Examples per test: ``TYST_FUZZ_EXAMPLES`` (or the default) times ``scale``, at least 1."""
    raw = os.environ.get("TYST_FUZZ_EXAMPLES", "")
    base = int(raw) if raw.strip() else DEFAULT_EXAMPLES
    return max(1, int(base * scale))


def fuzz_settings(scale: float = 1.0) -> settings:
    """Deterministic settings with the budget, no deadline, no database of examples."""
    return settings(
        max_examples=budget(scale),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def one_line(exc: BaseException) -> str:
    """``str(exc)``, asserted to be one non-empty line."""
    message = str(exc)
    assert message, f"{type(exc).__name__} with an empty message"
    assert "\n" not in message, f"not one line: {message!r}"
    assert "\r" not in message, f"not one line: {message!r}"
    return message
