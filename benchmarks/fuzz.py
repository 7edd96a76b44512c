"""The fuzz targets of issue 11 with a large budget (the default suite runs them small).

Usage::

    .venv/bin/python -m benchmarks.fuzz --examples 20000 [--targets plan_sql,mesh_frames] [--seed S]

Targets (each the same strategy and check as its test in ``tests/``):

- ``upload_stream`` — the owner → node upload reader (``tests/api/test_uploads.py``);
- ``mesh_frames``, ``mesh_lengths`` — the mesh's incremental frame decoder
  (``tests/fuzz/test_mesh_frames.py``);
- ``plan_text``, ``plan_document``, ``plan_sql`` — the plan TOML parser and the SQL
  compiler behind it (``tests/fuzz/test_plan_toml.py``);
- ``coordinator_api`` — requests generated from the coordinator's OpenAPI schema, in
  process (``tests/fuzz/test_coordinator_api.py``).

Prints one line per target::

    TARGET examples=N seconds=S failures=F outcomes=<outcome:count,...>

(``examples``: inputs the check ran on, shrinking included; ``outcomes``: what the
inputs led to, e.g. ``PlanError``, ``SqlError``, ``ok``, ``FrameError`` or HTTP
statuses), then each failure's
exception and falsifying example. Without ``--seed`` the run is random (a new
exploration each time); with it, reproducible. Exit status 1 if any target failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st


@dataclass(frozen=True)
class Target:
    """A strategy and a check; ``context`` yields the check (with whatever it needs set up)."""

    name: str
    strategy: Callable[[], st.SearchStrategy[Any]]
    context: Callable[[], Any]


@contextmanager
def _plain(check: Callable[[Any], Any]) -> Iterator[Callable[[Any], Any]]:
    yield check


def _upload_stream() -> st.SearchStrategy[Any]:
    from tests.api import test_uploads as t

    return st.fixed_dictionaries(
        {
            "flips": st.lists(
                st.tuples(st.integers(0, len(t._VALID) - 1), st.integers(1, 255)), max_size=4
            ),
            "cut": st.integers(0, len(t._VALID)),
            "tail": st.binary(max_size=64),
            "step": st.integers(1, 97),
        }
    )


def _upload_check() -> Any:
    from tests.api import test_uploads as t

    test = t.test_fuzz_the_upload_reader_fails_only_with_one_line
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]
    return _plain(lambda kwargs: (inner(**kwargs), "ok")[1])


def _mesh(name: str) -> Any:
    from tests.fuzz import test_mesh_frames as t

    if name == "frames":
        return _plain(t.check_stream)
    return _plain(lambda args: t.check_announced_length(*args) and "ok")


def _mesh_cases() -> st.SearchStrategy[Any]:
    from tests.fuzz import test_mesh_frames as t

    return t.CASES


def _mesh_lengths() -> st.SearchStrategy[Any]:
    return st.tuples(st.integers(0, 2**64 - 1), st.sampled_from((0, 4096, 1 << 20)))


def _plan_strategy(name: str) -> st.SearchStrategy[Any]:
    from tests.fuzz import test_plan_toml as t

    strategy: st.SearchStrategy[Any] = {
        "text": t.TEXTS,
        "document": t.DOCUMENTS,
        "sql": t.SQL_PLANS,
    }[name]
    return strategy


def _plan_check() -> Any:
    from tests.fuzz import test_plan_toml as t

    return _plain(t.check_plan_text)


@contextmanager
def _coordinator() -> Iterator[Callable[[Any], Any]]:
    from tests.fuzz import test_coordinator_api as t

    target = t.Coordinator()
    print(f"coordinator_api: {target.seeded}", flush=True)
    try:
        yield lambda request: t.check_request(target, request)
    finally:
        target.close()


def _coordinator_strategy() -> st.SearchStrategy[Any]:
    from tests.fuzz import test_coordinator_api as t

    return t.REQUESTS


TARGETS = [
    Target("upload_stream", _upload_stream, _upload_check),
    Target("mesh_frames", _mesh_cases, lambda: _mesh("frames")),
    Target("mesh_lengths", _mesh_lengths, lambda: _mesh("lengths")),
    Target("plan_text", lambda: _plan_strategy("text"), _plan_check),
    Target("plan_document", lambda: _plan_strategy("document"), _plan_check),
    Target("plan_sql", lambda: _plan_strategy("sql"), _plan_check),
    Target("coordinator_api", _coordinator_strategy, _coordinator),
]


@dataclass
class Outcome:
    name: str
    examples: int
    seconds: float
    failures: list[BaseException]
    outcomes: Counter[str]


def run_target(target: Target, examples: int, seed: int | None) -> Outcome:
    """Run ``target`` for ``examples`` inputs; collect failures instead of raising."""
    outcomes: Counter[str] = Counter()
    count = 0
    failures: list[BaseException] = []
    start = time.perf_counter()
    with target.context() as check:

        def one(example: Any) -> None:
            nonlocal count
            count += 1
            outcomes[str(check(example))] += 1

        test = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=False,
            report_multiple_bugs=True,
            suppress_health_check=list(HealthCheck),
        )(given(target.strategy())(one))
        if seed is not None:
            test = hypothesis_seed(seed)(test)
        try:
            test()
        except BaseExceptionGroup as group:
            failures.extend(group.exceptions)
        except Exception as exc:
            failures.append(exc)
    return Outcome(target.name, count, time.perf_counter() - start, failures, outcomes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20000, help="inputs per target")
    parser.add_argument("--targets", default="", help="comma-separated subset (default all)")
    parser.add_argument("--seed", type=int, default=None, help="reproducible run")
    args = parser.parse_args(argv)
    wanted = [t for t in args.targets.split(",") if t]
    known = {t.name for t in TARGETS}
    unknown = sorted(set(wanted) - known)
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {sorted(known)}")
    failed = False
    for target in TARGETS:
        if wanted and target.name not in wanted:
            continue
        result = run_target(target, args.examples, args.seed)
        summary = ",".join(f"{k}:{v}" for k, v in sorted(result.outcomes.items()))
        print(
            f"{result.name} examples={result.examples} seconds={result.seconds:.1f} "
            f"failures={len(result.failures)} outcomes={summary}",
            flush=True,
        )
        for exc in result.failures:
            failed = True
            print(f"  FAILURE {type(exc).__name__}: {str(exc)[:500]}")
            for note in getattr(exc, "__notes__", []):
                print(f"    {note}")
            tb = traceback.extract_tb(exc.__traceback__)
            if tb:
                print(f"    at {tb[-1].filename}:{tb[-1].lineno} in {tb[-1].name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
