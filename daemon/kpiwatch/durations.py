"""Durations written as ``90s``, ``15m``, ``1h30m`` or ``7d`` in configuration and windows."""

from __future__ import annotations

import re
from datetime import timedelta

#: A year is 365 days: retention periods are written as ``2y``.
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$")

DURATION_HELP = (
    "write a duration such as 90s, 15m, 1h30m, 7d, 2w or 2y (units: ms, s, m, h, d, w, y; "
    "a year is 365 days)"
)


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``text`` into a timedelta; a bare number is seconds. Raises ValueError."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; {DURATION_HELP}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative; {DURATION_HELP}")
        return timedelta(seconds=text)
    compact = str(text).strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(f"{text!r} is not a duration; {DURATION_HELP}")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Spell ``value`` back in days and smaller units: ``timedelta(minutes=90)`` gives ``1h30m``."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
