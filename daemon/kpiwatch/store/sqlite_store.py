"""The history store: raw samples, folded history, posts and plugin state in one SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiosqlite

from kpiwatch.store.batch import PreparedBatch, SeriesKey, prepare_batch, series_key
from kpiwatch.store.connection import FileRole, open_database
from kpiwatch.store.downsample import DAY, HOUR, floor_to, fold_series_range
from kpiwatch.store.models import (
    MaintenanceStats,
    Resolution,
    Retention,
    StoredPost,
    StoredSample,
)
from kpiwatch.store.schema import MIGRATIONS

HISTORY_FILE = FileRole(
    noun="history database",
    schema="schema",
    folder="the state folder",
    check="check state_dir and its permissions",
    elsewhere="point state_dir elsewhere",
    wal_fix="put state_dir on a local file system",
)
#: Page cache of the connection: writes touch one page per series, so more than the 2 MiB default.
CACHE_KIB = 64 * 1024
DEFAULT_RETENTION = Retention()

# The day total of a 1d sample: the stored one stays only if it is strictly nearer to midnight.
_UPSERT_DAY_TOTAL = """
INSERT INTO day_totals (series_id, day, distance, value) VALUES (?, ?, ?, ?)
ON CONFLICT (series_id, day) DO UPDATE SET value = excluded.value, distance = excluded.distance
WHERE excluded.distance <= day_totals.distance
"""

# A seek per 1d series of the id range, not a scan over every day of every series.
_DELETE_DAY_TOTALS = """
DELETE FROM day_totals WHERE day < ?3 AND series_id IN (
    SELECT id FROM series WHERE id BETWEEN ?1 AND ?2 AND win = '1d')
"""

# CROSS JOIN makes SQLite walk the series and seek each one's newest row (not scan the samples).
_NEWEST_RAW = """
SELECT s.account, s.platform, s.metric, s.win, s.dims, r.ts, r.value
FROM series AS s CROSS JOIN samples_raw AS r
    ON r.series_id = s.id
    AND r.ts = (SELECT MAX(ts) FROM samples_raw WHERE series_id = s.id)
"""

_NEWEST_HOURLY = """
SELECT s.account, s.platform, s.metric, s.win, s.dims, h.ts_last, h.value_last
FROM series AS s CROSS JOIN samples_hourly AS h
    ON h.series_id = s.id
    AND h.ts = (SELECT MAX(ts) FROM samples_hourly WHERE series_id = s.id)
WHERE NOT EXISTS (SELECT 1 FROM samples_raw WHERE series_id = s.id)
"""

_NEWEST_DAILY = """
SELECT s.account, s.platform, s.metric, s.win, s.dims, d.ts_last, d.value_last
FROM series AS s CROSS JOIN samples_daily AS d
    ON d.series_id = s.id
    AND d.ts = (SELECT MAX(ts) FROM samples_daily WHERE series_id = s.id)
WHERE NOT EXISTS (SELECT 1 FROM samples_raw WHERE series_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM samples_hourly WHERE series_id = s.id)
"""

# Folded rows are found by bucket start (the key) and filtered by the time of their last value.
_RAW_POINTS = "SELECT ts, value FROM samples_raw WHERE series_id = :id AND ts BETWEEN :lo AND :hi"
_HOURLY_POINTS = (
    "SELECT ts_last, value_last FROM samples_hourly AS h"
    " WHERE series_id = :id AND ts_last BETWEEN :lo AND :hi"
    f" AND ts > :lo - {HOUR} AND ts <= :hi"
)
_DAILY_POINTS = (
    "SELECT ts_last, value_last FROM samples_daily AS d"
    " WHERE series_id = :id AND ts_last BETWEEN :lo AND :hi"
    f" AND ts > :lo - {DAY} AND ts <= :hi"
)
# "auto": a coarser row only where no finer row covers its bucket.
_AUTO_POINTS = f"""
{_RAW_POINTS}
UNION ALL
{_HOURLY_POINTS} AND NOT EXISTS (
    SELECT 1 FROM samples_raw WHERE series_id = h.series_id AND ts >= h.ts AND ts < h.ts + {HOUR})
UNION ALL
{_DAILY_POINTS} AND NOT EXISTS (
    SELECT 1 FROM samples_raw WHERE series_id = d.series_id AND ts >= d.ts AND ts < d.ts + {DAY})
    AND NOT EXISTS (
    SELECT 1 FROM samples_hourly WHERE series_id = d.series_id AND ts >= d.ts AND ts < d.ts + {DAY})
"""
_POINTS = {
    "raw": _RAW_POINTS,
    "hourly": _HOURLY_POINTS,
    "daily": _DAILY_POINTS,
    "auto": _AUTO_POINTS,
}


class Store:
    """KPI history in SQLite, used from the event loop; all SQL runs in aiosqlite's thread.

    Durability: the file is in WAL mode with ``synchronous=NORMAL``. A transaction that
    ``write`` committed survives the process being killed (``kill -9``, a crash of kpiwatch);
    only an operating-system crash or power loss can lose the last committed transactions
    (never corrupt the file).

    One process writes a file at a time: series ids are cached in memory after ``open``.
    """

    def __init__(self, path: Path, conn: aiosqlite.Connection, retention: Retention) -> None:
        self.path = path
        self.retention = retention
        self._conn = conn
        self._lock = asyncio.Lock()  # one write transaction at a time from this process
        self._series_ids: dict[SeriesKey, int] = {}
        self._platforms: dict[str, str] = {}  # account -> platform its series carry
        self._max_series_id = 0

    @classmethod
    async def open(cls, path: Path, retention: Retention = DEFAULT_RETENTION) -> Store:
        """Open (creating it and its folder if needed) and migrate the database at ``path``.

        Raises StoreError when the folder cannot be created, the file is not SQLite, or its
        schema is newer than this code understands.
        """
        stores: list[Store] = []

        async def load(conn: aiosqlite.Connection) -> None:
            store = cls(Path(path), conn, retention)
            await store._load_series_ids()
            stores.append(store)

        await open_database(
            path,
            HISTORY_FILE,
            MIGRATIONS,
            (f"PRAGMA cache_size = -{CACHE_KIB:d}", "PRAGMA foreign_keys = ON"),
            load,
        )
        return stores[0]

    async def _load_series_ids(self) -> None:
        rows = await self._conn.execute_fetchall(
            "SELECT id, account, platform, metric, win, dims FROM series"
        )
        self._remember_series(rows)

    def _remember_series(self, rows: Iterable[Any]) -> None:
        intern = sys.intern
        for series_id, account, platform, metric, win, dims in rows:
            key = (intern(account), intern(metric), intern(win), intern(dims))
            self._series_ids[key] = series_id
            self._platforms[key[0]] = platform
            self._max_series_id = max(self._max_series_id, series_id)

    async def close(self) -> None:
        """Close the connection (the WAL is checkpointed into the main file)."""
        with contextlib.suppress(sqlite3.Error):
            await self._conn.execute("PRAGMA optimize")
        await self._conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------------

    async def write(
        self,
        samples: Iterable[StoredSample],
        posts: Iterable[StoredPost] = (),
        states: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
    ) -> int:
        """Store one cycle's samples, posts and plugin states in ONE transaction.

        Samples replace an existing value of the same series and timestamp; posts and states
        replace the stored ones. A sample of window ``1d`` also becomes its day's total when it
        is at least as near to the midnight that ends the day as the stored one (schema.py).
        Raises ValueError (before any SQL) for a non-finite value or a
        state that is not JSON. Returns the number of sample, post and state rows written.
        """
        batch = await asyncio.to_thread(
            prepare_batch, samples, posts, states or {}, self._series_ids
        )
        if not batch.row_count:
            return 0
        async with self._lock:
            known = self._series_ids  # may have grown since the batch was prepared
            missing = await asyncio.to_thread(_missing_keys, batch.pending, known)
            moved = [
                account
                for account, platform in batch.platforms.items()
                if self._platforms.get(account, platform) != platform
            ]
            conn = self._conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                new_series = await self._insert_series(missing, moved, batch.platforms)
                new_ids = {
                    (account, metric, win, dims): series_id
                    for series_id, account, _, metric, win, dims in new_series
                }
                pending, day_pending = await asyncio.to_thread(_with_ids, batch, new_ids, known)
                await conn.executemany(
                    "INSERT OR REPLACE INTO samples_raw (series_id, ts, value) VALUES (?, ?, ?)",
                    itertools.chain(batch.rows, pending),
                )
                await conn.executemany(
                    _UPSERT_DAY_TOTAL, itertools.chain(batch.day_rows, day_pending)
                )
                await conn.executemany(
                    "INSERT OR REPLACE INTO posts (account, post_id, published_at, content_type,"
                    " metrics, url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    batch.posts,
                )
                await conn.executemany(
                    "INSERT OR REPLACE INTO plugin_state (account, platform, state)"
                    " VALUES (?, ?, ?)",
                    batch.states,
                )
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
            self._remember_series(new_series)
            for account in moved:
                self._platforms[account] = batch.platforms[account]
        return batch.row_count

    async def _insert_series(
        self, missing: list[SeriesKey], moved: list[str], platforms: Mapping[str, str]
    ) -> list[Any]:
        """Create the missing series (inside the write transaction); returns their rows."""
        conn = self._conn
        await conn.executemany(
            "UPDATE series SET platform = ? WHERE account = ?",
            [(platforms[account], account) for account in moved],
        )
        if not missing:
            return []
        await conn.executemany(
            "INSERT INTO series (account, platform, metric, win, dims) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (account, metric, win, dims) DO UPDATE SET platform = excluded.platform",
            [(acc, platforms[acc], metric, win, dims) for acc, metric, win, dims in missing],
        )
        rows = list(
            await conn.execute_fetchall(
                "SELECT id, account, platform, metric, win, dims FROM series WHERE id > ?",
                (self._max_series_id,),
            )
        )
        if len(rows) < len(missing):  # another process added series: read them all again
            rows = list(
                await conn.execute_fetchall(
                    "SELECT id, account, platform, metric, win, dims FROM series"
                )
            )
        return rows

    # -- reading ---------------------------------------------------------------------------

    async def latest(self) -> dict[str, list[StoredSample]]:
        """Per account, the newest sample of each series (raw, else hourly, else daily).

        Each account's list is in the order its series were first stored.
        """
        rows: list[Any] = []
        for sql in (_NEWEST_RAW, _NEWEST_HOURLY, _NEWEST_DAILY):
            rows.extend(await self._conn.execute_fetchall(sql))
        return await asyncio.to_thread(_samples_by_account, rows)

    async def series(
        self,
        account: str,
        metric: str,
        window: str | None = None,
        dims: Mapping[str, str] | None = None,
        since: float | None = None,
        until: float | None = None,
        resolution: Resolution = "auto",
    ) -> list[tuple[float, float]]:
        """(timestamp, value) pairs of one series, ascending, within [since, until].

        Hourly and daily rows give their last value at its own timestamp. ``"auto"`` returns
        raw samples where kept, then hourly rows, then daily rows, each only for buckets no
        finer row covers, so no instant appears twice.
        """
        if resolution not in _POINTS:
            raise ValueError(f"resolution {resolution!r} is not one of raw, hourly, daily, auto")
        key = series_key(account, metric, window, dims or {})
        series_id = self._series_ids.get(key)
        if series_id is None:
            found = await self._conn.execute_fetchall(
                "SELECT id FROM series WHERE account = ? AND metric = ? AND win = ? AND dims = ?",
                key,
            )
            if not found:
                return []
            series_id = next(iter(found))[0]
        params = {
            "id": series_id,
            "lo": float("-inf") if since is None else since,
            "hi": float("inf") if until is None else until,
        }
        rows = await self._conn.execute_fetchall(_POINTS[resolution] + " ORDER BY 1", params)
        return [(ts, value) for ts, value in rows]

    async def states(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every account's stored plugin state: account -> (platform, state)."""
        rows = await self._conn.execute_fetchall(
            "SELECT account, platform, state FROM plugin_state ORDER BY account"
        )
        return {account: (platform, json.loads(state)) for account, platform, state in rows}

    async def posts(
        self, account: str | None = None, since: float | None = None
    ) -> list[StoredPost]:
        """Stored posts (of one account, published at or after ``since``), oldest first."""
        rows = await self._conn.execute_fetchall(
            "SELECT account, post_id, published_at, content_type, metrics, url, updated_at"
            " FROM posts WHERE (:account IS NULL OR account = :account)"
            " AND published_at >= :since ORDER BY published_at, account, post_id",
            {"account": account, "since": float("-inf") if since is None else since},
        )
        return [
            StoredPost(acc, post_id, published, content_type, json.loads(metrics), url, updated)
            for acc, post_id, published, content_type, metrics, url, updated in rows
        ]

    # -- maintenance -----------------------------------------------------------------------

    async def maintain(self, now: float, batch_series: int = 2000) -> MaintenanceStats:
        """Downsample and prune against the retention, ``batch_series`` series per transaction.

        Raw samples in hours that ended before ``now - retention.raw`` are folded into hourly
        rows; hourly rows in days that ended before ``now - retention.hourly`` into daily rows;
        daily rows and day totals of days that ended before ``now - retention.daily`` and posts
        published before it are deleted. Repeating a pass changes nothing. Writes may run
        between batches.
        """
        started = time.perf_counter()
        retention = self.retention
        raw_cut = floor_to(now - retention.raw.total_seconds(), HOUR)
        hourly_cut = floor_to(now - retention.hourly.total_seconds(), DAY)
        daily_cut = floor_to(now - retention.daily.total_seconds(), DAY)
        daily_cut_day = int(daily_cut // DAY)
        raw = hourly = daily = day_totals = batches = 0
        first_id = 0
        while True:
            found = await self._conn.execute_fetchall(
                "SELECT MAX(id) FROM (SELECT id FROM series WHERE id >= ? ORDER BY id LIMIT ?)",
                (first_id, batch_series),
            )
            last_id = next(iter(found))[0]
            if last_id is None:
                break
            async with self._lock, self._transaction():
                counts = await fold_series_range(
                    self._conn, first_id, last_id, raw_cut, hourly_cut, daily_cut
                )
                async with self._conn.execute(
                    _DELETE_DAY_TOTALS, (first_id, last_id, daily_cut_day)
                ) as cursor:
                    day_totals += max(cursor.rowcount, 0)
            raw, hourly, daily = raw + counts[0], hourly + counts[1], daily + counts[2]
            batches += 1
            first_id = last_id + 1
        posts_deleted = 0
        posts_cut = now - retention.daily.total_seconds()
        while True:
            async with self._lock, self._transaction():
                cursor = await self._conn.execute(
                    "DELETE FROM posts WHERE (account, post_id) IN (SELECT account, post_id"
                    " FROM posts WHERE published_at < ? LIMIT ?)",
                    (posts_cut, batch_series * 10),
                )
                deleted = max(cursor.rowcount, 0)
                await cursor.close()
            posts_deleted += deleted
            batches += 1
            if deleted < batch_series * 10:
                break
        return MaintenanceStats(
            raw_folded=raw,
            hourly_folded=hourly,
            daily_deleted=daily,
            day_totals_deleted=day_totals,
            posts_deleted=posts_deleted,
            batches=batches,
            seconds=time.perf_counter() - started,
        )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await self._conn.execute("ROLLBACK")
            raise
        await self._conn.execute("COMMIT")


def _missing_keys(
    pending: list[tuple[SeriesKey, float, float]], known: Mapping[SeriesKey, int]
) -> list[SeriesKey]:
    return list({key for key, _, _ in pending if key not in known})


def _with_ids(
    batch: PreparedBatch, new_ids: Mapping[SeriesKey, int], known: Mapping[SeriesKey, int]
) -> tuple[list[tuple[int, float, float]], list[tuple[int, int, float, float]]]:
    """The batch's samples and day totals of series that had no id yet, with their ids."""
    samples = [(new_ids.get(key) or known[key], ts, value) for key, ts, value in batch.pending]
    day_totals = [
        (new_ids.get(key) or known[key], day, distance, value)
        for key, day, distance, value in batch.day_pending
    ]
    return samples, day_totals


def _samples_by_account(rows: Iterable[Any]) -> dict[str, list[StoredSample]]:
    by_account: dict[str, list[StoredSample]] = {}
    parsed: dict[str, dict[str, str]] = {}
    for account, platform, metric, win, dims, ts, value in rows:
        mapping = parsed.get(dims)
        if mapping is None:
            mapping = parsed[dims] = json.loads(dims)
        by_account.setdefault(account, []).append(
            StoredSample(account, platform, metric, win or None, dict(mapping), ts, value)
        )
    return by_account
