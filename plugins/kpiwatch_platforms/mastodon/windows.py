"""The windows of the period metrics, which of them one poll's data covers completely, and
counts over them (mentions; the statuses' sums come from ``kpiwatch.toolkit.windows``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from kpiwatch.platform import Sample
from kpiwatch.toolkit.windows import WINDOWS

#: The longest window of the period metrics: older items count in none.
LONGEST_WINDOW = max(length for _, length in WINDOWS)


def complete_windows(
    now: datetime, covered_since: datetime, lookback: timedelta
) -> list[tuple[str, datetime]]:
    """(window, start) of the windows within ``lookback`` whose whole span was read."""
    return [
        (name, now - length)
        for name, length in WINDOWS
        if length <= lookback and now - length >= covered_since
    ]


def count_samples(
    metric: str, times: Iterable[datetime], windows: list[tuple[str, datetime]]
) -> list[Sample]:
    """One sample per window: how many of ``times`` fall in it."""
    moments = list(times)
    return [
        Sample(metric, float(sum(1 for t in moments if t >= start)), window)
        for window, start in windows
    ]
