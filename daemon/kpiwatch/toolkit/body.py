"""A platform's JSON answer with where it came from, so a plugin's reading errors name it.

Plugins subclass :class:`JsonBody` with the readers their platform needs (counts sent as
strings, IDs, times); every problem is a ``BadResponse`` naming the platform, the URL path
(never the query string) and the field.
"""

from __future__ import annotations

from typing import Any

from kpiwatch.errors import BadResponse
from kpiwatch.toolkit.api import ApiResponse


class JsonBody:
    """One answer's JSON object and the place it came from."""

    def __init__(self, response: ApiResponse) -> None:
        self.data: Any = response.json()
        self.where = f"{response.platform}: {response.url}"
        if not isinstance(self.data, dict):
            raise self.bad("the body", self.data, "a JSON object")

    def bad(self, field: str, value: Any, expected: str) -> BadResponse:
        """The error for ``field`` holding ``value`` where ``expected`` was due."""
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return BadResponse(f"{self.where}: {field} is {shown}, expected {expected}")
