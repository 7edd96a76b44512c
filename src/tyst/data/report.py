"""The data-preparation report: what an owner should know about a file before sharing it.

:func:`prepare_report` reads the whole file, does not stop at bad values
(it counts them all and keeps the first :data:`MAX_PROBLEMS` messages with
their line numbers), and, for each requested key column set, counts the key
values that occur more than once and the largest number of rows sharing one
key (compared on the key lanes, as the nodes compare them; rows with a bad
value in a key column are left out of these counts).

The report is shown only to the owner of the file. Values appear only in
problem messages (to let the owner find and fix them); the summary itself is
counts and column names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tyst.data.files import (
    DataError,
    TableReader,
    encode_lenient,
    range_problems,
    too_many_rows,
)
from tyst.data.types import ColumnType, TableBounds
from tyst.ring.words import WordArray

MAX_PROBLEMS = 10
"""How many problem messages a report keeps (all are counted)."""


@dataclass(frozen=True)
class DataReport:
    """What :func:`prepare_report` found in one file."""

    path: str
    rows: int
    problems: list[str]
    extra_columns: tuple[str, ...] = ()
    duplicate_keys: dict[tuple[str, ...], int] = field(default_factory=dict)
    max_rows_per_key: dict[tuple[str, ...], int] = field(default_factory=dict)
    problem_count: int = 0
    """All problems found; ``problems`` holds the first :data:`MAX_PROBLEMS` of them."""
    readable: bool = True
    """False when the file could not be read to the end (``problems`` says why)."""

    @property
    def ok(self) -> bool:
        """No problems at all."""
        return self.problem_count == 0

    def render(self) -> str:
        """A short text: a summary line, then indented details (no data values but in problems)."""
        name = Path(self.path).name
        rows = f"{self.rows:,} row{'s' if self.rows != 1 else ''}".replace(",", " ")
        if not self.readable and not self.rows:
            head = f"{name}: could not be read"
        elif not self.readable:
            head = f"{name}: could not be read to the end ({rows} read)"
        elif self.problem_count:
            n = self.problem_count
            head = f"{name}: {rows}, {n} problem{'s' if n != 1 else ''}"
        else:
            head = f"{name}: {rows}, no problems"
        lines = [head]
        for problem in self.problems:
            lines.append(f"    {problem}")
        hidden = self.problem_count - len(self.problems)
        if hidden > 0:
            lines.append(f"    … and {hidden} more")
        if self.extra_columns:
            lines.append(f"    columns not in the plan (ignored): {', '.join(self.extra_columns)}")
        for key, dups in self.duplicate_keys.items():
            cols = ", ".join(key)
            if dups:
                most = self.max_rows_per_key.get(key, 0)
                verb = "values occur" if dups != 1 else "value occurs"
                lines.append(
                    f"    key ({cols}): {dups} {verb} more than once "
                    f"(at most {most} rows share one value)"
                )
            else:
                lines.append(f"    key ({cols}): unique")
        return "\n".join(lines)


def prepare_report(
    path: str | Path,
    columns: Mapping[str, ColumnType],
    key_columns: Sequence[Sequence[str]] = (),
    *,
    chunk_rows: int = 1 << 18,
    bounds: TableBounds | None = None,
    unique: Sequence[str] = (),
) -> DataReport:
    """Read ``path`` completely and report row count, problems, extra columns and key statistics.

    Never raises :class:`DataError`: a file that cannot be read (missing,
    missing a declared column, malformed CSV) gives a report with that one
    problem. ``key_columns`` must name declared columns (``ValueError`` if not).
    """
    keys = [tuple(k) for k in key_columns]
    if unique and tuple(unique) not in keys:
        keys.append(tuple(unique))
    for key in keys:
        unknown = [c for c in key if c not in columns]
        if not key or unknown:
            raise ValueError(f"key columns {key!r}: not declared columns of the table")
    problems: list[str] = []
    count = 0
    pending: list[tuple[int, str]] = []  # (line, message), flushed in line order

    def flush() -> None:
        nonlocal count
        pending.sort(key=lambda item: item[0])
        for _, message in pending:
            count += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(message)
        pending.clear()

    def bad_row(error: DataError) -> None:
        pending.append((error.line or 0, str(error)))

    rows = 0
    key_parts: dict[tuple[str, ...], list[WordArray]] = {k: [] for k in keys}
    try:
        reader = TableReader(
            path, columns, chunk_rows=chunk_rows, on_bad_row=bad_row, bounds=bounds
        )
    except DataError as exc:
        return DataReport(str(path), 0, [str(exc)], problem_count=1, readable=False)
    readable = True
    with reader:
        try:
            for chunk in reader.text_chunks():
                n = len(chunk.lines)
                lanes, found = encode_lenient(chunk, columns)
                outside = range_problems(columns, lanes, reader.bounds, chunk.values)
                for index, column, message in found + outside:
                    line = chunk.lines[index]
                    pending.append((line, str(reader.error(message, line, column))))
                if rows + n > reader.bounds.rows >= rows:
                    line = chunk.lines[reader.bounds.rows - rows]
                    pending.append((line, str(reader.error(too_many_rows(reader.bounds), line))))
                flush()
                for key in keys:
                    keep = np.ones(n, dtype=bool)
                    keep[[index for index, column, _ in found if column in key]] = False
                    for c in key:  # a NULL key never matches: no duplicate, no fact
                        if columns[c].nullable:
                            keep &= lanes[c][columns[c].null_lane] == 0
                    words = [lane[keep] for c in key for lane in lanes[c][: columns[c].key_lanes]]
                    key_parts[key].append(np.stack(words, axis=1))
                rows += n
        except DataError as exc:
            flush()
            pending.append((exc.line or 0, str(exc)))
            readable = False
        flush()
    duplicates: dict[tuple[str, ...], int] = {}
    largest: dict[tuple[str, ...], int] = {}
    for key, parts in key_parts.items():
        duplicates[key], largest[key] = key_stats(parts)
    if readable:  # declared facts must hold in the owner's own file
        problems_before = len(problems)
        if unique and duplicates[tuple(unique)]:
            problems.append(
                f"{path}: the plan declares unique = [{', '.join(unique)}], but "
                f"{duplicates[tuple(unique)]} value(s) occur more than once"
            )
        per_key = bounds.max_rows_per_key if bounds is not None else None
        for key, most in largest.items():
            if per_key is not None and most > per_key:
                problems.append(
                    f"{path}: the plan declares max_rows_per_key = {per_key}, but {most} rows "
                    f"share one value of ({', '.join(key)})"
                )
        count += len(problems) - problems_before
    return DataReport(
        str(path),
        rows,
        problems,
        reader.extra_columns,
        duplicates,
        largest,
        count,
        readable,
    )


def key_stats(parts: list[WordArray]) -> tuple[int, int]:
    """(key values occurring more than once, most rows sharing one key value)."""
    if not parts:
        return 0, 0
    table = np.concatenate(parts)
    if len(table) == 0:
        return 0, 0
    # One void scalar per row: np.unique on it is a plain sort, much faster than axis=0.
    rows = np.ascontiguousarray(table).view(
        np.dtype((np.void, table.dtype.itemsize * table.shape[1]))
    )
    _, counts = np.unique(rows.reshape(-1), return_counts=True)
    return int(np.count_nonzero(counts > 1)), int(counts.max())
