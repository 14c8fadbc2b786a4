"""CSV text -> vocabulary samples, with an error for every row that cannot be read.

Timestamps (README.md, "Dates and timestamps"): a period metric's row covers ``window`` days
from its date (``date.marks: start``) or up to it (``end``) and is stamped at the midnight
(in ``date.timezone``) that ends them; rows whose days have not ended yet wait for the read
after that midnight. A level's row is stamped at the end of its day (or at its time of day),
never later than now. Rows that land on the same series and timestamp are added up (one row
per order, lead or survey answer); two levels for the same moment are an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from kpiwatch import Sample
from kpiwatch.vocabulary import Kind, Unit
from kpiwatch_platforms.csv.cells import CellError, DateFormat, NumberFormat
from kpiwatch_platforms.csv.settings import AnswerMapping, ColumnMapping, CsvSettings, day_window
from kpiwatch_platforms.http_json.vocabulary_checks import did_you_mean, vocabulary_metric

DELIMITERS = (",", ";", "\t", "|")
NPS = ("nps_detractors", "nps_passives", "nps_promoters")

T = TypeVar("T")
SeriesKey = tuple[str, str | None, tuple[tuple[str, str], ...]]


class FileError(Exception):
    """The file as a whole cannot be read (its header lacks a mapped column)."""


@dataclass(frozen=True)
class RowError:
    """Why one row was skipped: where (file, line, column) and how to fix it."""

    source: str
    line: int
    column: int  # 1-based; 0 for the whole row
    header: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" + (f":{self.column}" if self.column else "")
        what = f"column {self.header!r}: " if self.header else ""
        return f"{where}: {what}{self.message}; {self.fix}"


@dataclass
class Table:
    """What the rows of one or more files gave."""

    values: dict[tuple[SeriesKey, datetime], float] = field(default_factory=dict)
    levels: dict[tuple[SeriesKey, datetime], int] = field(default_factory=dict)  # -> line
    rows: int = 0  # data rows (blank rows not counted)
    errors: list[RowError] = field(default_factory=list)
    waiting: int = 0  # rows whose days have not ended yet
    reread_at: datetime | None = None  # when the first waiting row is due

    def samples(self) -> list[Sample]:
        return [
            Sample(metric, value, window, dict(dims), stamp)
            for ((metric, window, dims), stamp), value in self.values.items()
        ]

    def wait_for(self, moment: datetime) -> None:
        self.waiting += 1
        if self.reread_at is None or moment < self.reread_at:
            self.reread_at = moment


@dataclass(frozen=True)
class _Contribution:
    key: SeriesKey
    stamp: datetime
    value: float
    kind: Kind


class _RowProblem(Exception):
    def __init__(self, column: int, error: CellError) -> None:
        self.column = column
        self.error = error


class _NotYet(Exception):
    def __init__(self, due: datetime) -> None:
        self.due = due


def choose_delimiter(header_line: str) -> str:
    """The candidate that splits the header line into the most fields (``,`` on a tie)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class TableReader:
    """Reads files of one account's layout into a :class:`Table`."""

    def __init__(self, settings: CsvSettings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.zone = ZoneInfo(settings.date.timezone)
        self.dates = DateFormat(settings.date.format, settings.date.timezone)
        self.numbers = NumberFormat(settings.decimal, settings.thousands)
        self.table = Table()

    # -- files ---------------------------------------------------------------------------

    def read(self, source: str, text: str) -> None:
        """Add the rows of one file; FileError when its header lacks a mapped column."""
        skip = self.settings.header_line - 1
        lines = text.splitlines(keepends=True)
        if len(lines) <= skip:
            return
        body = "".join(lines[skip:])
        delimiter = self.settings.delimiter
        if delimiter == "auto":
            delimiter = choose_delimiter(lines[skip])
        reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, strict=True)
        try:
            header = [name.strip().lstrip("\ufeff") for name in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(f"{source}:{skip + 1}: the header cannot be read: {exc}") from None
        columns = _Columns(source, skip + 1, header, self.settings)
        while True:
            line = reader.line_num + skip + 1  # where the next row starts
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.table.rows += 1
                self.table.errors.append(
                    RowError(
                        source,
                        line,
                        0,
                        "",
                        f"the row cannot be read ({exc})",
                        'close the quote of the cell (a quote inside a cell is written "")',
                    )
                )
                continue
            if not any(cell.strip() for cell in cells):
                continue
            self._row(source, line, cells, columns)

    # -- rows ----------------------------------------------------------------------------

    def _row(self, source: str, line: int, cells: Sequence[str], columns: _Columns) -> None:
        self.table.rows += 1
        try:
            found = list(self._contributions(cells, columns))
            for item in found:
                if item.kind is not Kind.PERIOD and (item.key, item.stamp) in self.table.levels:
                    first = self.table.levels[(item.key, item.stamp)]
                    raise _RowProblem(
                        0,
                        CellError(
                            f"{item.key[0]} for {item.stamp.isoformat()} is already on line "
                            f"{first}",
                            "keep one row per date for levels such as followers or customers",
                        ),
                    )
        except _RowProblem as problem:
            header = columns.header[problem.column - 1] if problem.column else ""
            self.table.errors.append(
                RowError(
                    source,
                    line,
                    problem.column,
                    header,
                    problem.error.message,
                    problem.error.fix,
                )
            )
            return
        except _NotYet as wait:
            self.table.wait_for(wait.due)
            return
        values = self.table.values
        for item in found:
            slot = (item.key, item.stamp)
            values[slot] = values.get(slot, 0.0) + item.value
            if item.kind is not Kind.PERIOD:
                self.table.levels[slot] = line

    def _contributions(self, cells: Sequence[str], columns: _Columns) -> Iterator[_Contribution]:
        when = self._cell(cells, columns.date, self.dates.parse)
        for mapping, index in columns.values:
            yield from self._column(cells, mapping, index, columns, when)
        for answer, index in columns.answers:
            yield from self._answer(cells, answer, index, when)
        if columns.long is not None:
            yield from self._long(cells, columns, when)

    def _cell(self, cells: Sequence[str], index: int, read: Callable[[str], T]) -> T:
        text = cells[index].strip() if index < len(cells) else ""
        if not text:
            raise _RowProblem(index + 1, CellError("the cell is empty", "fill it in"))
        try:
            return read(text)
        except CellError as error:
            raise _RowProblem(index + 1, error) from None

    def _text(self, cells: Sequence[str], index: int) -> str:
        return cells[index].strip() if index < len(cells) else ""

    def _dims(
        self, cells: Sequence[str], fixed: dict[str, str], by_column: dict[str, int]
    ) -> tuple[tuple[str, str], ...]:
        dims = dict(fixed)
        for name, index in by_column.items():
            value = self._text(cells, index)
            if not value:
                raise _RowProblem(
                    index + 1,
                    CellError(f"the {name} is missing", f"write the {name} of the row's values"),
                )
            dims[name] = value
        return tuple(sorted(dims.items()))

    def _column(
        self,
        cells: Sequence[str],
        mapping: ColumnMapping,
        index: int | None,
        columns: _Columns,
        when: date | datetime,
    ) -> Iterator[_Contribution]:
        metric = vocabulary_metric(mapping.metric)
        if mapping.count:
            value = 1.0
        else:
            assert index is not None
            if not self._text(cells, index):
                return  # an empty cell: no value for that date
            value = self._cell(cells, index, self.numbers.parse) * mapping.scale
            if value < 0 and metric.unit is not Unit.CURRENCY:
                raise _RowProblem(
                    index + 1,
                    CellError(
                        f"{value:g} is negative and {mapping.metric} counts things",
                        "write 0 or a positive number",
                    ),
                )
        dims = self._dims(cells, mapping.dims, columns.dim_columns[id(mapping)])
        yield self._stamped((mapping.metric, mapping.window, dims), when, value, metric.kind)

    def _answer(
        self, cells: Sequence[str], answer: AnswerMapping, index: int, when: date | datetime
    ) -> Iterator[_Contribution]:
        if not self._text(cells, index):
            return  # no answer in this row
        score = self._cell(cells, index, self.numbers.parse)
        top = 10 if answer.survey == "nps" else 5
        low = 0 if answer.survey == "nps" else 1
        if score != int(score) or not low <= score <= top:
            raise _RowProblem(
                index + 1,
                CellError(
                    f"{score:g} is not a {answer.survey.upper()} answer",
                    f"{answer.survey.upper()} answers are whole numbers from {low} to {top}",
                ),
            )
        if answer.survey == "nps":
            category = 0 if score <= 6 else 1 if score <= 8 else 2
            counts = {name: float(i == category) for i, name in enumerate(NPS)}
        else:
            counts = {"csat_responses": 1.0, "csat_satisfied": float(score >= 4)}
        for metric, value in counts.items():
            yield self._stamped((metric, "1d", ()), when, value, Kind.PERIOD)

    def _long(
        self, cells: Sequence[str], columns: _Columns, when: date | datetime
    ) -> Iterator[_Contribution]:
        layout = self.settings.long
        assert layout is not None and columns.long is not None
        metric_index, value_index, window_index = columns.long
        named = self._cell(cells, metric_index, str)
        name = layout.names.get(named, named)
        try:
            metric = vocabulary_metric(name)
        except ValueError as exc:
            message, _, fix = str(exc).partition("; ")
            if layout.names:
                fix = f"{fix} (or add it to long.names)"
            raise _RowProblem(metric_index + 1, CellError(message, fix)) from None
        if not self._text(cells, value_index):
            return
        value = self._cell(cells, value_index, self.numbers.parse)
        if value < 0 and metric.unit is not Unit.CURRENCY:
            raise _RowProblem(
                value_index + 1,
                CellError(f"{value:g} is negative and {name} counts things", "write 0 or more"),
            )
        given = self._text(cells, window_index) if window_index is not None else ""
        try:
            window = day_window(metric, given or None, layout.window)
        except ValueError as exc:
            message, _, fix = str(exc).partition("; ")
            column = window_index + 1 if window_index is not None else metric_index + 1
            raise _RowProblem(column, CellError(message, fix)) from None
        dims = {}
        for dimension, index in columns.long_dims.items():
            text = self._text(cells, index)
            if not text:
                continue
            if dimension not in metric.dimensions:
                allowed = ", ".join(metric.dimensions) or "none"
                raise _RowProblem(
                    index + 1,
                    CellError(
                        f"{name} has no dimension {dimension} (allowed: {allowed})",
                        "leave the cell empty for this metric",
                    ),
                )
            dims[dimension] = text
        yield self._stamped((name, window, tuple(sorted(dims.items()))), when, value, metric.kind)

    # -- timestamps ----------------------------------------------------------------------

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def _stamped(
        self, key: SeriesKey, when: date | datetime, value: float, kind: Kind
    ) -> _Contribution:
        if kind is Kind.PERIOD:
            days = int(str(key[1])[:-1])
            day = when if not isinstance(when, datetime) else when.astimezone(self.zone).date()
            if self.settings.date.marks == "start":
                stamp = self._midnight(day + timedelta(days=days))
            else:
                stamp = self._midnight(day + timedelta(days=1))
            if stamp > self.now:
                raise _NotYet(stamp)
            return _Contribution(key, stamp, value, kind)
        if isinstance(when, datetime):
            if when > self.now:
                raise _NotYet(when)
            return _Contribution(key, when, value, kind)
        start = self._midnight(when)
        if start > self.now:
            raise _NotYet(start)
        end_of_day = self._midnight(when + timedelta(days=1))
        return _Contribution(key, min(end_of_day, self.now), value, kind)


class _Columns:
    """The header positions of every mapped column of one file."""

    def __init__(self, source: str, line: int, header: list[str], settings: CsvSettings) -> None:
        self.header = header
        self.source = source
        self.line = line
        self.date = self._index(settings.date.column, "date.column")
        self.values: list[tuple[ColumnMapping, int | None]] = [
            (m, self._index(m.column, "columns") if m.column is not None else None)
            for m in settings.columns
        ]
        self.dim_columns = {
            id(m): {d: self._index(c, "dim_columns") for d, c in m.dim_columns.items()}
            for m in settings.columns
        }
        self.answers = [(a, self._index(a.column, "answers")) for a in settings.answers]
        self.long: tuple[int, int, int | None] | None = None
        self.long_dims: dict[str, int] = {}
        if settings.long is not None:
            layout = settings.long
            self.long = (
                self._index(layout.metric_column, "long.metric_column"),
                self._index(layout.value_column, "long.value_column"),
                self._index(layout.window_column, "long.window_column")
                if layout.window_column
                else None,
            )
            self.long_dims = {
                d: self._index(c, "long.dim_columns") for d, c in layout.dim_columns.items()
            }

    def _index(self, name: str, setting: str) -> int:
        if name in self.header:
            return self.header.index(name)
        folded = [h.casefold() for h in self.header]
        if name.casefold() in folded:
            return folded.index(name.casefold())
        hint = did_you_mean(name, self.header)
        listed = ", ".join(repr(h) for h in self.header)
        raise FileError(
            f"{self.source}:{self.line}: {setting} names the column {name!r}, which is not in "
            f"the header ({listed}); {hint or 'correct the name in the settings'}"
        )
