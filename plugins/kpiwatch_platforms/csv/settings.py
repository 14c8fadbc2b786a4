"""Settings of a ``csv`` account: where the file is, how it is written, which columns hold
which vocabulary metrics."""

from __future__ import annotations

import codecs
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kpiwatch.result_check import canonical_window
from kpiwatch.vocabulary import Kind, MetricDef, Unit
from kpiwatch_platforms.http_json.vocabulary_checks import (
    metric_dimensions,
    static_dimensions,
    vocabulary_metric,
)

#: The example date ``format`` errors are shown with.
EXAMPLE_DATE = datetime(2026, 3, 5, 14, 30)


def _vocabulary_name(value: str) -> str:
    vocabulary_metric(value)
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{value!r} is not an http(s) URL; write for example https://example.com/export.csv"
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone; write an IANA name such as Europe/Berlin or UTC"
        ) from None
    return value


def _date_format(value: str) -> str:
    if value == "iso":
        return value
    if "%" not in value:
        raise ValueError(
            f"{value!r} is not a date format; write iso, or strftime codes such as %d.%m.%Y"
        )
    try:
        datetime.strptime(EXAMPLE_DATE.strftime(value), value)
    except ValueError:
        raise ValueError(
            f"{value!r} cannot read back the dates it writes; write strftime codes such as "
            "%d/%m/%Y or %Y-%m-%d %H:%M"
        ) from None
    return value


def _encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"{value!r} is not a text encoding; write utf-8-sig, cp1252 (Excel on Windows) "
            "or latin-1"
        ) from None
    return value


VocabularyName = Annotated[str, AfterValidator(_vocabulary_name)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


def whole_days(window: str) -> str:
    """``window`` spelled canonically; ValueError unless it is a number of whole days."""
    canonical = canonical_window(window)
    if canonical is None or not canonical.endswith("d") or not canonical[:-1].isdigit():
        raise ValueError(
            f"window {window!r} is not a number of whole days; rows cover days: write 1d, 7d or 28d"
        )
    return canonical


def day_window(metric: MetricDef, window: str | None, default: str = "1d") -> str | None:
    """A period metric's window in whole days (``default`` when not given); None for the
    others, which take none."""
    if metric.kind is not Kind.PERIOD:
        if window is not None:
            raise ValueError(
                f"{metric.name} is a {metric.kind.value} metric and takes no window; remove window"
            )
        return None
    return whole_days(window or default)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateSettings(_Strict):
    """The column that says when each row's figures are from."""

    column: str = Field("date", min_length=1)
    format: Annotated[str, AfterValidator(_date_format)] = Field(
        "iso", description="iso (2026-03-05, 2026-03-05T14:30) or strftime codes (%d.%m.%Y)."
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = Field(
        "UTC", description="Of dates and times without an offset; days end at its midnight."
    )
    marks: Literal["start", "end"] = Field(
        "start", description="start: the date is the first day a row covers; end: the last."
    )


class ColumnMapping(_Strict):
    """One vocabulary metric: a column's values, or a count of rows."""

    metric: VocabularyName
    column: str | None = Field(None, min_length=1, description="The column of the values.")
    count: bool = Field(False, description="Count rows (one lead, one order per row).")
    window: str | None = Field(None, validate_default=True)
    dims: dict[str, str] = Field(default_factory=dict, description="Fixed dimension values.")
    dim_columns: dict[str, str] = Field(
        default_factory=dict, description="Dimension -> the column holding its value."
    )
    scale: float = Field(1.0, allow_inf_nan=False, description="Multiplies the values.")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = info.data.get("metric")
        return value if name is None else day_window(vocabulary_metric(name), value)

    @field_validator("dims")
    @classmethod
    def _dims(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        name = info.data.get("metric")
        if name is not None:
            static_dimensions(vocabulary_metric(name), value)
        return value

    @field_validator("dim_columns")
    @classmethod
    def _dim_columns(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        name = info.data.get("metric")
        if name is not None:
            metric_dimensions(vocabulary_metric(name), value)
        both = sorted(set(value) & set(info.data.get("dims") or {}))
        if both:
            raise ValueError(f"dimension {both[0]!r} is in dims and dim_columns; keep one")
        return value

    @model_validator(mode="after")
    def _value_or_count(self) -> ColumnMapping:
        if (self.column is None) == (not self.count):
            raise ValueError(
                f"say where {self.metric} comes from with exactly one of column or count; "
                "write column: Revenue, or count: true to count rows"
            )
        metric = vocabulary_metric(self.metric)
        if self.count and metric.kind is not Kind.PERIOD:
            raise ValueError(
                f"count: true makes daily counts, and {self.metric} is a {metric.kind.value} "
                "metric; count a period metric such as conversions or customers_new"
            )
        if self.count and self.window != "1d":
            raise ValueError("counted rows make daily counts; remove window or write window: 1d")
        return self

    @property
    def unit(self) -> Unit:
        return vocabulary_metric(self.metric).unit


class AnswerMapping(_Strict):
    """A column of survey answers, one per row, counted per day into the vocabulary's NPS or
    CSAT metrics."""

    column: str = Field(min_length=1)
    survey: Literal["nps", "csat"] = Field(
        description="nps: answers 0-10; csat: answers 1-5 (4 and 5 are satisfied)."
    )


class LongFormat(_Strict):
    """One value per row, its metric named in a column (``date;metric;value;currency``)."""

    metric_column: str = Field("metric", min_length=1)
    value_column: str = Field("value", min_length=1)
    window_column: str | None = Field(None, min_length=1, description="Windows per row.")
    window: str = Field("1d", description="The window of period rows without one.")
    dim_columns: dict[str, str] = Field(
        default_factory=dict, description="Dimension -> its column; an empty cell: none."
    )
    names: dict[str, VocabularyName] = Field(
        default_factory=dict, description="The file's metric names -> vocabulary names."
    )

    @field_validator("window")
    @classmethod
    def _whole_days(cls, value: str) -> str:
        return whole_days(value)


class CsvSettings(_Strict):
    """An account read from a CSV file (or files) or a CSV URL."""

    path: str | None = Field(
        None, min_length=1, description="A file, or a pattern such as exports/nps-*.csv."
    )
    url: HttpUrl | None = None
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with the URL request (secrets)."
    )
    encoding: Annotated[str, AfterValidator(_encoding)] = "utf-8-sig"
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal: Literal[".", ","] = "."
    thousands: Literal["", ",", ".", " ", "'"] = ""
    header_line: int = Field(1, ge=1, le=1000, description="The line holding the column names.")
    date: DateSettings = Field(default_factory=DateSettings)
    columns: list[ColumnMapping] = Field(default_factory=list)
    answers: list[AnswerMapping] = Field(default_factory=list)
    long: LongFormat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CsvSettings:
        if (self.path is None) == (self.url is None):
            raise ValueError(
                "say where the data is with exactly one of path or url; "
                "write path: /srv/exports/revenue.csv or url: https://…/export.csv"
            )
        if self.headers and self.url is None:
            raise ValueError("headers go with url only; remove headers")
        if self.decimal == self.thousands:
            raise ValueError(
                f"decimal and thousands are both {self.decimal!r}; "
                "write decimal: ',' with thousands: '.' (or the other way round)"
            )
        if not (self.columns or self.answers or self.long):
            raise ValueError(
                "no column is mapped; add columns: [{column: Revenue, metric: revenue, "
                "dims: {currency: EUR}}], answers: or long:"
            )
        return self
