"""Values the history store takes and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, NamedTuple

Resolution = Literal["raw", "hourly", "daily", "auto"]


class StoreError(Exception):
    """The history database cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Retention:
    """How long each resolution is kept: raw samples, hourly rows, daily rows (and posts)."""

    raw: timedelta = timedelta(days=14)
    hourly: timedelta = timedelta(days=90)
    daily: timedelta = timedelta(days=730)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.raw <= self.hourly <= self.daily:
            raise ValueError(
                "retention must satisfy 0 < raw <= hourly <= daily "
                f"(got raw={self.raw}, hourly={self.hourly}, daily={self.daily})"
            )


class StoredSample(NamedTuple):
    """One value of one account's series; ``timestamp`` is unix seconds (UTC).

    A named tuple rather than a frozen dataclass: the daemon builds one per sample of every
    poll on the event loop, and a tuple is about three times cheaper to build.
    """

    account: str
    platform: str
    metric: str
    window: str | None
    dims: Mapping[str, str]
    timestamp: float
    value: float


@dataclass(frozen=True)
class StoredPost:
    """One published item with its lifetime counters; times are unix seconds (UTC)."""

    account: str
    post_id: str
    published_at: float
    content_type: str
    metrics: Mapping[str, float]
    url: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """One stored series of an account; ``window`` is None for metrics without a window."""

    id: int
    metric: str
    window: str | None
    dims: Mapping[str, str]


@dataclass(frozen=True)
class MaintenanceStats:
    """What one ``Store.maintain`` pass did."""

    raw_folded: int = 0  # raw samples folded into hourly rows and deleted
    hourly_folded: int = 0  # hourly rows folded into daily rows and deleted
    daily_deleted: int = 0  # daily rows older than the daily retention
    day_totals_deleted: int = 0  # day totals of days older than the daily retention
    posts_deleted: int = 0  # posts published before the daily retention
    batches: int = 0  # write transactions the pass took
    seconds: float = field(default=0.0, compare=False)
