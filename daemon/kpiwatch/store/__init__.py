"""KPI history in SQLite: raw samples, hourly and daily rollups, day totals, posts and plugin
state; a read-only reader for the KPI engine."""

from kpiwatch.store.models import (
    MaintenanceStats,
    Resolution,
    Retention,
    SeriesInfo,
    StoredPost,
    StoredSample,
    StoreError,
)
from kpiwatch.store.reader import (
    HistoryReader,
    account_series,
    day_sums,
    posts_since,
    values_at,
)
from kpiwatch.store.schema import SCHEMA_VERSION
from kpiwatch.store.sqlite_store import Store

__all__ = [
    "SCHEMA_VERSION",
    "HistoryReader",
    "MaintenanceStats",
    "Resolution",
    "Retention",
    "SeriesInfo",
    "Store",
    "StoreError",
    "StoredPost",
    "StoredSample",
    "account_series",
    "day_sums",
    "posts_since",
    "values_at",
]
