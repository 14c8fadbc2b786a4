"""One page of a runReport answer, read and checked.

``{"dimensionHeaders": [{"name": "date"}, ...], "metricHeaders": [{"name": "sessions",
"type": "TYPE_INTEGER"}, ...], "rows": [{"dimensionValues": [{"value": "20260328"}, ...],
"metricValues": [{"value": "1234"}, ...]}], "rowCount": 42, "metadata": {"currencyCode":
"EUR", "timeZone": "Europe/Berlin"}, "propertyQuota": {...}}``. Every value is a string;
``date`` is ``YYYYMMDD``. ``rows`` and ``rowCount`` are absent when nothing matched.
Columns are found by their header names, not by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kpiwatch.errors import BadResponse
from kpiwatch.toolkit.api import ApiResponse

#: The dimensions every report asks for, in this order.
DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionDefaultChannelGroup")


@dataclass(frozen=True)
class ReportRow:
    """One row: a day, the session's source, medium and channel group, and metric values."""

    day: date
    source: str
    medium: str
    channel_group: str
    values: dict[str, float]


@dataclass(frozen=True)
class ReportPage:
    """The rows of one page and what the answer says about the whole report."""

    body: dict[str, Any]
    rows: list[ReportRow]
    row_count: int
    time_zone: str | None
    currency: str | None


class _Reader:
    def __init__(self, response: ApiResponse) -> None:
        self.where = f"{response.platform}: {response.url}"

    def bad(self, field: str, value: Any, expected: str) -> BadResponse:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return BadResponse(f"{self.where}: {field} is {shown}, expected {expected}")

    def headers(self, body: dict[str, Any], field: str) -> list[tuple[str, str]]:
        """(name, type) of each header of ``field``."""
        value = body.get(field, [])
        if not isinstance(value, list) or not all(
            isinstance(h, dict) and isinstance(h.get("name"), str) for h in value
        ):
            raise self.bad(field, value, "a list of headers with names")
        return [(h["name"], str(h.get("type", ""))) for h in value]

    def values(self, row: Any, field: str, path: str, count: int) -> list[str]:
        cells = row.get(field) if isinstance(row, dict) else None
        if not isinstance(cells, list) or len(cells) != count:
            raise self.bad(f"{path}.{field}", cells, f"a list of {count} values")
        texts = [c.get("value") if isinstance(c, dict) else None for c in cells]
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise self.bad(f"{path}.{field}[{i}]", cells[i], 'an object {"value": "..."}')
        return texts  # type: ignore[return-value]

    def day(self, text: str, path: str) -> date:
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise self.bad(path, text, "a date YYYYMMDD such as 20260328") from None

    def number(self, text: str, path: str, signed: bool) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (value < 0 and not signed):
            expected = "a number" if signed else "a number of 0 or more"
            raise self.bad(path, text, f'{expected} as a string, such as "1234"')
        return value

    def text(self, parent: dict[str, Any], field: str, path: str) -> str | None:
        value = parent.get(field)
        if value is not None and not isinstance(value, str):
            raise self.bad(f"{path}.{field}", value, "a string")
        return value or None


def read_page(response: ApiResponse, metrics: list[str]) -> ReportPage:
    """The page ``response`` holds; BadResponse naming the URL and field when it is not one."""
    reader = _Reader(response)
    body = response.json()
    if not isinstance(body, dict):
        raise reader.bad("the body", body, "a JSON object")
    raw_rows = body.get("rows", [])
    if not isinstance(raw_rows, list):
        raise reader.bad("rows", raw_rows, "a list of rows")
    row_count = body.get("rowCount", 0)
    if isinstance(row_count, str) and row_count.isdigit():
        row_count = int(row_count)
    if isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0:
        raise reader.bad("rowCount", row_count, "the number of rows of the report")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise reader.bad("metadata", metadata, "an object")
    time_zone = reader.text(metadata, "timeZone", "metadata")
    currency = reader.text(metadata, "currencyCode", "metadata")
    rows: list[ReportRow] = []
    if raw_rows:
        dimension_names = [name for name, _ in reader.headers(body, "dimensionHeaders")]
        metric_headers = reader.headers(body, "metricHeaders")
        metric_names = [name for name, _ in metric_headers]
        for wanted, names, field in (
            (DIMENSIONS, dimension_names, "dimensionHeaders"),
            (metrics, metric_names, "metricHeaders"),
        ):
            missing = [name for name in wanted if name not in names]
            if missing:
                raise reader.bad(field, names, f"columns {', '.join(missing)} as asked")
        signed = {name for name, kind in metric_headers if kind == "TYPE_CURRENCY"}
        for i, raw in enumerate(raw_rows):
            path = f"rows[{i}]"
            dims = dict(
                zip(
                    dimension_names,
                    reader.values(raw, "dimensionValues", path, len(dimension_names)),
                    strict=True,
                )
            )
            cells = reader.values(raw, "metricValues", path, len(metric_names))
            values = {
                name: reader.number(cells[j], f"{path}.metricValues[{j}] ({name})", name in signed)
                for j, name in enumerate(metric_names)
                if name in metrics
            }
            rows.append(
                ReportRow(
                    day=reader.day(dims["date"], f"{path}.dimensionValues (date)"),
                    source=dims["sessionSource"],
                    medium=dims["sessionMedium"],
                    channel_group=dims["sessionDefaultChannelGroup"],
                    values=values,
                )
            )
    return ReportPage(body, rows, row_count, time_zone, currency)
