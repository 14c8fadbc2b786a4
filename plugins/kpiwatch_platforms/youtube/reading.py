"""Reading Google JSON bodies: objects, lists, counts sent as strings, RFC 3339 times.

Every problem is a BadResponse that names the platform, the URL path and the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kpiwatch.toolkit.body import JsonBody


class Body(JsonBody):
    """One answer's JSON with the place it came from, for error messages."""

    def items(self, field: str = "items") -> list[dict[str, Any]]:
        """The list ``field`` of objects (absent means none)."""
        value = self.data.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.bad(field, value, "a list of objects")
        return value

    def obj(self, parent: dict[str, Any], field: str, path: str) -> dict[str, Any]:
        """The object ``parent[field]`` (absent means empty)."""
        value = parent.get(field, {})
        if not isinstance(value, dict):
            raise self.bad(f"{path}.{field}", value, "an object")
        return value

    def count(self, parent: dict[str, Any], field: str, path: str) -> int | None:
        """A count Google sends as a decimal string (``"1500"``); None when absent."""
        value = parent.get(field)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        raise self.bad(f"{path}.{field}", value, 'a count such as "1500"')

    def text(self, parent: dict[str, Any], field: str, path: str) -> str | None:
        value = parent.get(field)
        if value is not None and not isinstance(value, str):
            raise self.bad(f"{path}.{field}", value, "a string")
        return value

    def time(self, parent: dict[str, Any], field: str, path: str) -> datetime | None:
        """An RFC 3339 time such as ``2026-03-01T15:00:05Z``; None when absent."""
        value = self.text(parent, field, path)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.bad(f"{path}.{field}", value, "an RFC 3339 time") from None
        if moment.tzinfo is None:
            raise self.bad(f"{path}.{field}", value, "a time with a zone (Z)")
        return moment
