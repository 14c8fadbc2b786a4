"""The windows of the period metrics, and which of them one poll's data covers completely."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from kpiwatch.platform import Sample

#: Period metrics come in these windows (those no longer than the account's lookback).
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
    ("28d", timedelta(days=28)),
)
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
