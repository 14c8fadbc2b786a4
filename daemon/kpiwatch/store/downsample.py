"""Folding raw samples into hourly rows, hourly rows into daily rows, and pruning.

A bucket keeps the last value (and its timestamp), min, max, sum and count. Folding only takes
whole buckets that ended before the retention cut-off, so a bucket is normally folded once;
when late history (a plugin's first-contact series) lands in a bucket that was already folded,
the new rows are merged into it: min/max/sum/count combine and the later value stays "last".
Raw rows that are folded are deleted in the same transaction, so a pass can be repeated or
interrupted without counting anything twice.
"""

from __future__ import annotations

import math

import aiosqlite

HOUR = 3600
DAY = 86400

_MERGE = """
ON CONFLICT (series_id, ts) DO UPDATE SET
    value_last = CASE WHEN excluded.ts_last >= ts_last THEN excluded.value_last
                      ELSE value_last END,
    ts_last = MAX(ts_last, excluded.ts_last),
    value_min = MIN(value_min, excluded.value_min),
    value_max = MAX(value_max, excluded.value_max),
    value_sum = value_sum + excluded.value_sum,
    value_count = value_count + excluded.value_count
"""

_FOLD_RAW = (
    """
WITH grouped AS (
    SELECT series_id, CAST(ts / 3600 AS INTEGER) * 3600 AS bucket,
           MIN(value) AS lo, MAX(value) AS hi, SUM(value) AS total, COUNT(*) AS n,
           MAX(ts) AS last_ts
    FROM samples_raw
    WHERE series_id BETWEEN ? AND ? AND ts < ?
    GROUP BY series_id, bucket
)
INSERT INTO samples_hourly
    (series_id, ts, value_last, ts_last, value_min, value_max, value_sum, value_count)
SELECT g.series_id, g.bucket, r.value, g.last_ts, g.lo, g.hi, g.total, g.n
FROM grouped AS g JOIN samples_raw AS r ON r.series_id = g.series_id AND r.ts = g.last_ts
WHERE true
"""
    + _MERGE
)

_DELETE_RAW = "DELETE FROM samples_raw WHERE series_id BETWEEN ? AND ? AND ts < ?"

_FOLD_HOURLY = (
    """
WITH grouped AS (
    SELECT series_id, CAST(ts / 86400 AS INTEGER) * 86400 AS bucket,
           MIN(value_min) AS lo, MAX(value_max) AS hi, SUM(value_sum) AS total,
           SUM(value_count) AS n, MAX(ts_last) AS last_ts
    FROM samples_hourly
    WHERE series_id BETWEEN ? AND ? AND ts < ?
    GROUP BY series_id, bucket
)
INSERT INTO samples_daily
    (series_id, ts, value_last, ts_last, value_min, value_max, value_sum, value_count)
SELECT g.series_id, g.bucket, h.value_last, g.last_ts, g.lo, g.hi, g.total, g.n
FROM grouped AS g JOIN samples_hourly AS h
    ON h.series_id = g.series_id AND h.ts >= g.bucket AND h.ts < g.bucket + 86400
    AND h.ts_last = g.last_ts
WHERE true
"""
    + _MERGE
)

_DELETE_HOURLY = "DELETE FROM samples_hourly WHERE series_id BETWEEN ? AND ? AND ts < ?"

_DELETE_DAILY = "DELETE FROM samples_daily WHERE series_id BETWEEN ? AND ? AND ts < ?"


def floor_to(timestamp: float, step: int) -> float:
    """The start of the ``step``-second bucket (UTC-aligned) holding ``timestamp``."""
    return float(math.floor(timestamp / step) * step)


async def fold_series_range(
    conn: aiosqlite.Connection,
    first_id: int,
    last_id: int,
    raw_cut: float,
    hourly_cut: float,
    daily_cut: float,
) -> tuple[int, int, int]:
    """Fold and prune the series with ids in [first_id, last_id], inside the caller's transaction.

    Raw rows before ``raw_cut`` become hourly rows, hourly rows before ``hourly_cut`` become daily
    rows, daily rows before ``daily_cut`` are deleted (all cuts are bucket starts). Returns the
    counts of raw rows folded, hourly rows folded and daily rows deleted.
    """
    await conn.execute(_FOLD_RAW, (first_id, last_id, raw_cut))
    raw = await _rowcount(conn, _DELETE_RAW, (first_id, last_id, raw_cut))
    await conn.execute(_FOLD_HOURLY, (first_id, last_id, hourly_cut))
    hourly = await _rowcount(conn, _DELETE_HOURLY, (first_id, last_id, hourly_cut))
    daily = await _rowcount(conn, _DELETE_DAILY, (first_id, last_id, daily_cut))
    return raw, hourly, daily


async def _rowcount(conn: aiosqlite.Connection, sql: str, params: tuple[float, ...]) -> int:
    async with conn.execute(sql, params) as cursor:
        return max(cursor.rowcount, 0)
