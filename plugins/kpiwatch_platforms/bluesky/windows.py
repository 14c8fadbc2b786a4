"""The windows of the period metrics, and which of them one poll read completely (mentions;
the posts' sums come from ``kpiwatch.toolkit.windows``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from kpiwatch.toolkit.windows import WINDOWS


def complete_windows(
    now: datetime, covered_since: datetime | None, lookback: timedelta
) -> list[tuple[str, datetime]]:
    """(window, start) of the windows within ``lookback`` whose whole span was read;
    ``covered_since`` None means everything was read."""
    return [
        (name, now - length)
        for name, length in WINDOWS
        if length <= lookback and (covered_since is None or now - length >= covered_since)
    ]
