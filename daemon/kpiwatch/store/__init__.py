"""KPI history in SQLite: raw samples, hourly and daily rollups, posts and plugin state."""

from kpiwatch.store.models import (
    MaintenanceStats,
    Resolution,
    Retention,
    StoredPost,
    StoredSample,
    StoreError,
)
from kpiwatch.store.schema import SCHEMA_VERSION
from kpiwatch.store.sqlite_store import Store

__all__ = [
    "SCHEMA_VERSION",
    "MaintenanceStats",
    "Resolution",
    "Retention",
    "Store",
    "StoreError",
    "StoredPost",
    "StoredSample",
]
