"""Reading Graph API JSON bodies: objects, lists, numbers (Marketing API sends them as
strings), and times such as ``2026-03-10T08:00:00+0000``.

Every problem is a BadResponse that names the platform, the URL path and the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kpiwatch.toolkit.body import JsonBody


class GraphBody(JsonBody):
    """One answer's JSON object with the place it came from, for error messages."""

    def objects(self, parent: dict[str, Any], field: str, path: str) -> list[dict[str, Any]]:
        """The list ``parent[field]`` of objects (absent means none)."""
        value = parent.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.bad(f"{path}{field}", value, "a list of objects")
        return value

    def data_list(self) -> list[dict[str, Any]]:
        """The ``data`` list of an edge (absent means empty)."""
        return self.objects(self.data, "data", "")

    def obj(self, parent: dict[str, Any], field: str, path: str) -> dict[str, Any]:
        """The object ``parent[field]`` (absent means empty)."""
        value = parent.get(field, {})
        if not isinstance(value, dict):
            raise self.bad(f"{path}{field}", value, "an object")
        return value

    def text(self, parent: dict[str, Any], field: str, path: str) -> str | None:
        value = parent.get(field)
        if value is not None and not isinstance(value, str):
            raise self.bad(f"{path}{field}", value, "a string")
        return value

    def ident(self, parent: dict[str, Any], field: str, path: str) -> str:
        """An ID, which Graph sends as a string (a number is accepted too)."""
        value = parent.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value:
            raise self.bad(f"{path}{field}", value, "an ID")
        return value

    def number(self, parent: dict[str, Any], field: str, path: str) -> float | None:
        """A number of 0 or more, or a decimal string such as ``"12.34"``; None when absent."""
        return self.number_value(parent.get(field), f"{path}{field}")

    def number_value(self, value: Any, field: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if number >= 0 and number != float("inf"):
                return number
        raise self.bad(field, value, 'a number of 0 or more (or a string such as "12.5")')

    def time(self, parent: dict[str, Any], field: str, path: str) -> datetime | None:
        """A Graph time such as ``2026-03-10T08:00:00+0000``; None when absent."""
        value = self.text(parent, field, path)
        return None if value is None else self.time_value(value, f"{path}{field}")

    def time_value(self, value: str, field: str) -> datetime:
        try:
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise self.bad(field, value, "a time such as 2026-03-10T08:00:00+0000") from None
        if moment.tzinfo is None:
            raise self.bad(field, value, "a time with an offset (+0000)")
        return moment
