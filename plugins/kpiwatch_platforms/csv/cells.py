"""Reading one cell: numbers as spreadsheets write them, and dates in the configured format.

Each reader raises :class:`CellError` with what is wrong and how to write it instead; the
table reader adds the file, line and column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kpiwatch_platforms.csv.settings import EXAMPLE_DATE

#: Currency signs and spaces around or inside amounts ("€ 1.234,50", "$1,234.50", "12 %" is
#: not accepted: a percentage is not a count).
_DECORATION = re.compile(r"[\s\u00a0\u202f€$£¥]")
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class CellError(ValueError):
    """A cell that cannot be read: ``message`` and ``fix``."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written: the decimal mark and the thousands separator, if any."""

    decimal: str = "."
    thousands: str = ""

    def example(self) -> str:
        return f"1{self.thousands}234{self.decimal}5" if self.thousands else f"1234{self.decimal}5"

    def parse(self, text: str) -> float:
        """The number ``text`` holds; CellError otherwise."""
        cleaned = _DECORATION.sub("", text)
        negative = cleaned.startswith("(") and cleaned.endswith(")")  # accounting: (12.50)
        if negative:
            cleaned = cleaned[1:-1]
        if self.thousands:
            cleaned = cleaned.replace(self.thousands, "")
        if self.decimal != ".":
            if "." in cleaned:
                raise self._error(text, "it has a '.' but the decimal mark is ','")
            cleaned = cleaned.replace(self.decimal, ".")
        if not _PLAIN.match(cleaned):
            raise self._error(text, "it is not a number")
        value = float(cleaned)
        if not math.isfinite(value):
            raise self._error(text, "it is not a finite number")
        return -value if negative else value

    def _error(self, text: str, why: str) -> CellError:
        other = "," if self.decimal == "." else "."
        fix = f"write numbers like {self.example()}"
        if other in text and not self.thousands:
            fix += (
                f" (if {other!r} separates thousands here, set thousands: '{other}'; "
                f"if it is the decimal mark, set decimal: '{other}')"
            )
        return CellError(f"{text!r}: {why}", fix)


@dataclass(frozen=True)
class DateFormat:
    """How the date column is written, and the time zone of dates without an offset."""

    format: str = "iso"
    timezone: str = "UTC"

    def example(self) -> str:
        if self.format == "iso":
            return "2026-03-05 (or 2026-03-05T14:30)"
        return EXAMPLE_DATE.strftime(self.format)

    def parse(self, text: str) -> date | datetime:
        """A date (a whole day) or an aware datetime; CellError otherwise."""
        value = text.strip()
        try:
            if self.format == "iso":
                parsed: date | datetime = (
                    date.fromisoformat(value)
                    if len(value) == 10
                    else datetime.fromisoformat(value.replace("Z", "+00:00"))
                )
            else:
                parsed = datetime.strptime(value, self.format)
                if not _has_time(self.format):
                    parsed = parsed.date()
        except ValueError:
            shown = "ISO-8601" if self.format == "iso" else self.format
            raise CellError(
                f"{text!r} is not a date in the format {shown}",
                f"write dates like {self.example()}, or set date.format",
            ) from None
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(self.timezone))
        return parsed


def _has_time(format: str) -> bool:
    return any(code in format for code in ("%H", "%I", "%M", "%S", "%X", "%c", "%z"))
