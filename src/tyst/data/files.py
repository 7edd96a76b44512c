"""The owners' data files (CSV or Parquet), read in chunks and encoded; the recipients' CSV.

Reading (:func:`read_table`):

- **CSV**: UTF-8 (a leading byte-order mark is allowed), comma-separated, a
  header row; the ``csv`` module's quoting rules. Header names match the
  declared columns ignoring case and surrounding spaces; every declared
  column must be present, other columns are ignored (and listed in
  :attr:`TableReader.extra_columns`). Every row must have as many fields as
  the header; completely blank lines are skipped. Line numbers count the
  header as line 1 and are physical lines (where the row starts), as an
  editor shows them.
- **Parquet** (a name ending in ``.parquet``): read batch by batch with
  pyarrow; each value is converted to its text form (``pyarrow.compute.cast``
  to string: integers as digits, decimals exactly, dates ISO, booleans
  ``true``/``false``) and then takes exactly the same path as CSV text, so
  both formats give identical lanes. A null is an empty value (NULL in a nullable
  column, an error otherwise).
  "Line" numbers are 1-based row numbers, written ``row N``.

Every problem is a :class:`DataError` whose ``str()`` is one line: the file,
the line, the column and the problem, e.g.
``bistand.csv:17: column belopp: "12x" is not an integer``.

Writing (:func:`write_csv`) is atomic: a temporary file in the same
directory, flushed to disk, then renamed over the target; on any failure the
temporary file is removed and the target is left untouched. The file is
created readable by its owner only (results are personal data).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from tyst.data.encoding import ValueProblem, encode_column, encode_column_lenient, show
from tyst.data.types import ColumnType, TableBounds
from tyst.ring.words import WordArray

DEFAULT_CHUNK_ROWS = 1 << 18
EPOCH = date(1970, 1, 1)


class DataError(Exception):
    """A data file that cannot be used; ``str()`` is one line (file, line, column, problem)."""

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        row_label: str = "",
    ) -> None:
        super().__init__(path, problem, line, column)
        self.path = path
        self.problem = problem
        self.line = line
        self.column = column
        self.row_label = row_label

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f": {self.row_label} {self.line}" if self.row_label else f":{self.line}"
        if self.column is not None:
            return f"{where}: column {self.column}: {self.problem}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class EncodedChunk:
    """Consecutive rows of a table: the line of the first, the count, and each column's lanes."""

    first_line: int
    rows: int
    lanes: dict[str, list[WordArray]]


@dataclass(frozen=True)
class TextChunk:
    """Consecutive rows as text: each declared column's values and the line of every row."""

    lines: list[int]
    values: dict[str, list[str]]


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` is read as Parquet (by its extension)."""
    return str(path).lower().endswith(".parquet")


class TableReader(Iterator[EncodedChunk]):
    """Reads one data file: the header is checked on construction, then chunks are encoded.

    ``extra_columns`` are the file's columns that the plan does not declare
    (ignored). Iterating yields :class:`EncodedChunk` and raises
    :class:`DataError` at the first bad row or value. With ``on_bad_row``, a
    CSV row with the wrong number of fields is passed to it and skipped
    instead (for reports that count every problem). Use as a context manager,
    or call :meth:`close`, when not reading to the end.
    """

    def __init__(
        self,
        path: str | Path,
        columns: Mapping[str, ColumnType],
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        on_bad_row: Callable[[DataError], None] | None = None,
        bounds: TableBounds | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be positive")
        self.path = str(path)
        self.columns = dict(columns)
        self.bounds = bounds if bounds is not None else TableBounds()
        self.rows = 0
        source: _CsvSource | _ParquetSource
        if is_parquet(path):
            source = _ParquetSource(self.path, self.columns, chunk_rows)
        else:
            source = _CsvSource(self.path, self.columns, chunk_rows, on_bad_row)
        self._source = source
        self.extra_columns: tuple[str, ...] = source.extra
        self.row_label = source.row_label
        self._text = source.chunks()

    def text_chunks(self) -> Iterator[TextChunk]:
        """The remaining rows as text, not encoded (raises :class:`DataError` for bad rows)."""
        return self._text

    def __iter__(self) -> TableReader:
        return self

    def __next__(self) -> EncodedChunk:
        chunk = next(self._text)
        lanes: dict[str, list[WordArray]] = {}
        for name, ctype in self.columns.items():
            try:
                lanes[name] = encode_column(ctype, chunk.values[name])
            except ValueProblem as p:
                self.close()
                raise self.error(p.message, chunk.lines[p.index], name) from None
        problem = self.check_bounds(chunk, lanes)
        if problem is not None:
            self.close()
            raise problem
        return EncodedChunk(chunk.lines[0], len(chunk.lines), lanes)

    def check_bounds(
        self, chunk: TextChunk, lanes: Mapping[str, list[WordArray]]
    ) -> DataError | None:
        """The first row of ``chunk`` beyond the plan's ``max_rows`` or outside a column's range
        (the file's rows so far are counted here)."""
        self.rows += len(chunk.lines)
        if self.rows > self.bounds.rows:
            line = chunk.lines[len(chunk.lines) - (self.rows - self.bounds.rows)]
            return self.error(too_many_rows(self.bounds), line)
        found = range_problems(self.columns, lanes, self.bounds, chunk.values)
        if found:
            index, name, message = found[0]
            return self.error(message, chunk.lines[index], name)
        return None

    def error(self, problem: str, line: int | None = None, column: str | None = None) -> DataError:
        """A :class:`DataError` about this file."""
        return DataError(self.path, problem, line=line, column=column, row_label=self.row_label)

    def close(self) -> None:
        """Release the file (also done when the rows are exhausted or an error is raised)."""
        self._text.close()
        self._source.close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_table(
    path: str | Path,
    columns: Mapping[str, ColumnType],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    bounds: TableBounds | None = None,
) -> TableReader:
    """Stream a CSV or Parquet file as encoded chunks of at most ``chunk_rows`` rows.

    Raises :class:`DataError` (one line) for an unreadable file, a missing
    declared column, a malformed row, a bad value, a value outside the plan's
    (or the default) range, or more rows than the plan's ``max_rows``.
    """
    return TableReader(path, columns, chunk_rows=chunk_rows, bounds=bounds)


def encode_lenient(
    chunk: TextChunk, columns: Mapping[str, ColumnType]
) -> tuple[dict[str, list[WordArray]], list[tuple[int, str, str]]]:
    """Encode a text chunk without stopping: lanes (bad values as zeros) and ``(row, column,
    problem)`` for every bad value, ``row`` being the index in the chunk."""
    lanes: dict[str, list[WordArray]] = {}
    problems: list[tuple[int, str, str]] = []
    for name, ctype in columns.items():
        result = encode_column_lenient(ctype, chunk.values[name])
        lanes[name] = result.lanes
        problems += [(p.index, name, p.message) for p in result.problems]
    problems.sort(key=itemgetter(0))
    return lanes, problems


def too_many_rows(bounds: TableBounds) -> str:
    """The problem of a file with more rows than the plan's ``max_rows``."""
    return f"the file has more than the plan's max_rows = {bounds.rows} rows"


def range_problems(
    columns: Mapping[str, ColumnType],
    lanes: Mapping[str, list[WordArray]],
    bounds: TableBounds,
    values: Mapping[str, Sequence[str]],
) -> list[tuple[int, str, str]]:
    """``(row, column, problem)`` for every numeric value outside its declared (or default)
    range, ``row`` being the index in the chunk; the first per column only."""
    problems: list[tuple[int, str, str]] = []
    for name, ctype in columns.items():
        if ctype.is_text and name in bounds.values:
            problems.extend(_character_problems(name, ctype, bounds, values[name]))
            continue
        declared_date = ctype.kind == "date" and name in bounds.values
        if not (ctype.is_numeric or declared_date):
            continue
        low, high = bounds.scaled(name, ctype)
        words = lanes[name][0].view(np.int64)
        present = lanes[name][ctype.null_lane] == 0 if ctype.nullable else True
        outside = np.flatnonzero(((words < low) | (words > high)) & present)
        if len(outside):
            i = int(outside[0])
            lo, hi = (
                (EPOCH + timedelta(days=x) for x in (low, high))
                if declared_date
                else (Decimal(x).scaleb(-ctype.scale) for x in (low, high))
            )
            if name in bounds.values:
                where = f"the plan's range [{lo}, {hi}]"
            else:
                where = f"the default range [{lo}, {hi}]; declare [tables.T] ranges for the column"
            problems.append((i, name, f"{show(values[name][i])} is outside {where}"))
    return problems


def _character_problems(
    name: str, ctype: ColumnType, bounds: TableBounds, values: Sequence[str]
) -> list[tuple[int, str, str]]:
    """The first value of a text column with a character outside its declared range."""
    low, high = (chr(int(x)) for x in bounds.values[name])
    for i, value in enumerate(values):
        if ctype.nullable and not value.strip():  # NULL
            continue
        if value and (min(value) < low or max(value) > high):
            bad = next(c for c in value if not low <= c <= high)
            where = f"the plan's character range [U+{ord(low):04X}, U+{ord(high):04X}]"
            return [(i, name, f"{show(value)} has {bad!r} (U+{ord(bad):04X}), outside {where}")]
    return []


def _match_header(
    path: str,
    header: Sequence[str],
    columns: Mapping[str, ColumnType],
    header_line: int | None,
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Positions of the declared columns in ``header`` and the undeclared header names.

    ``header_line`` is 1 for CSV (errors name the header line) and None for Parquet.
    """
    wanted = {c.lower(): c for c in columns}
    found: dict[str, int] = {}
    extra: list[str] = []
    for i, raw in enumerate(header):
        name = wanted.get(raw.strip().lower())
        if name is None:
            extra.append(raw)
        elif name in found:
            raise DataError(path, f"column {name} appears twice", line=header_line)
        else:
            found[name] = i
    missing = [c for c in columns if c not in found]
    if missing:
        what = "the header has" if header_line else "the file has"
        has = ", ".join(h.strip() for h in header) or "no columns"
        hint = ""
        if len(header) == 1 and ";" in header[0]:
            hint = " (the header looks semicolon-separated; tyst reads comma-separated CSV)"
        raise DataError(path, f"missing column {missing[0]}: {what} {has}{hint}", line=header_line)
    return found, tuple(extra)


class _CsvSource:
    row_label = ""

    def __init__(
        self,
        path: str,
        columns: Mapping[str, ColumnType],
        chunk_rows: int,
        on_bad_row: Callable[[DataError], None] | None,
    ) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self.on_bad_row = on_bad_row
        try:
            self.file = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
        except OSError as exc:
            raise DataError(path, f"cannot read: {exc.strerror or exc}") from None
        try:
            self.reader = csv.reader(self.file, strict=True)
            header = self._next_row()
            if header is None:
                raise DataError(path, "the file is empty (expected a header row)")
            self.width = len(header)
            self.positions, self.extra = _match_header(path, header, columns, 1)
        except BaseException:
            self.file.close()
            raise
        self.last = self.reader.line_num

    def _next_row(self) -> list[str] | None:
        try:
            return next(self.reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise DataError(self.path, "not valid UTF-8", line=self._bad_utf8_line()) from None
        except csv.Error as exc:
            raise DataError(
                self.path, f"malformed CSV: {exc}", line=self.reader.line_num or 1
            ) from None

    def _bad_utf8_line(self) -> int | None:
        """The physical line holding the first invalid UTF-8 byte."""
        with contextlib.suppress(OSError), open(self.path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None

    def _read_rows(self) -> tuple[list[list[str]], list[int], bool]:
        """Up to ``chunk_rows`` well-formed rows, their start lines, and whether the file ended."""
        rows: list[list[str]] = []
        lines: list[int] = []
        add_row, add_line = rows.append, lines.append
        reader, width, limit = self.reader, self.width, self.chunk_rows
        last, taken = self.last, 0
        try:
            for row in reader:
                start, last = last + 1, reader.line_num
                if len(row) == width:
                    add_row(row)
                    add_line(start)
                    taken += 1
                    if taken == limit:
                        return rows, lines, False
                elif row:  # (a blank line is skipped)
                    error = DataError(
                        self.path,
                        f"expected {width} fields as in the header, found {len(row)}",
                        line=start,
                    )
                    if self.on_bad_row is None:
                        raise error
                    self.on_bad_row(error)
            return rows, lines, True
        except UnicodeDecodeError:
            raise DataError(self.path, "not valid UTF-8", line=self._bad_utf8_line()) from None
        except csv.Error as exc:
            raise DataError(self.path, f"malformed CSV: {exc}", line=reader.line_num or 1) from None
        finally:
            self.last = last

    def chunks(self) -> Generator[TextChunk, None, None]:
        try:
            ended = False
            while not ended:
                rows, lines, ended = self._read_rows()
                if not rows:
                    return
                values = {
                    name: list(map(itemgetter(i), rows)) for name, i in self.positions.items()
                }
                yield TextChunk(lines, values)
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()


class _ParquetSource:
    row_label = "row"

    def __init__(self, path: str, columns: Mapping[str, ColumnType], chunk_rows: int) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.path = path
        self.chunk_rows = chunk_rows
        try:
            self.file: Any = pq.ParquetFile(path)
        except OSError as exc:
            raise DataError(path, f"cannot read: {exc.strerror or exc}") from None
        except Exception as exc:  # pyarrow's errors for a file that is not Parquet
            raise DataError(path, f"not a readable Parquet file: {_one_line(exc)}") from None
        names = list(self.file.schema_arrow.names)
        self.positions, self.extra = _match_header(path, names, columns, None)
        self.names = {name: names[i] for name, i in self.positions.items()}

    def chunks(self) -> Generator[TextChunk, None, None]:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        row = 1
        try:
            batches = self.file.iter_batches(
                batch_size=self.chunk_rows, columns=list(self.names.values())
            )
            for batch in batches:
                n = batch.num_rows
                if n == 0:
                    continue
                values: dict[str, list[str]] = {}
                for name, file_name in self.names.items():
                    array = batch.column(file_name)
                    try:
                        text = pc.cast(array, pa.string())
                    except Exception as exc:  # e.g. binary values that are not UTF-8
                        raise DataError(
                            self.path, f"cannot read as text: {_one_line(exc)}", column=name
                        ) from None
                    values[name] = [v if v is not None else "" for v in text.to_pylist()]
                yield TextChunk(list(range(row, row + n)), values)
                row += n
        except DataError:
            raise
        except Exception as exc:  # corrupt pages and other pyarrow errors
            raise DataError(
                self.path, f"cannot read: {_one_line(exc)}", line=row, row_label="row"
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV atomically: either the complete file appears at ``path`` or nothing changes."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The text :func:`write_csv` writes (for tests and previews)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
