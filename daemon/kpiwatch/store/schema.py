"""Versioned schema of the history database and how migrations are applied.

The version lives in ``PRAGMA user_version``. Each migration runs in its own ``BEGIN IMMEDIATE``
transaction together with the version bump, so a crash leaves the file at the previous version
and the next start-up applies the migration again.

Layout (version 1):

- ``series``: one row per account, metric, window and dims. ``win`` is ``''`` for metrics
  without a window (so the unique key works); ``dims`` is canonical JSON (sorted keys, no spaces).
- ``samples_raw``: every polled value, keyed by (series, timestamp).
- ``samples_hourly`` / ``samples_daily``: folded rows keyed by (series, bucket start). They keep
  the last value of the bucket and its timestamp, plus min, max, sum and count.
- ``posts``: per-post lifetime counters (``metrics`` as canonical JSON).
- ``plugin_state``: the per-account state a platform plugin keeps between polls.

All timestamps are REAL unix seconds (UTC); bucket starts are whole multiples of 3600 or 86400.

Version 2 adds ``day_totals``: one row per series with window ``1d`` and UTC day, so the KPI
engine can add whole days up into longer windows (7d, 28d, 90d). A ``1d`` sample at ``ts`` is a
total over the 24 hours ending at ``ts``; it is filed under the UTC midnight nearest to it,
``midnight = floor(ts / 86400 + 0.5) * 86400``, as the total of the day that ends there,
``day = midnight / 86400 - 1`` (days since 1970-01-01), with ``distance = abs(ts - midnight)``.
A sample at exactly 12:00 goes to the following midnight (Python's ``round`` would send every
other day's noon sample backwards). ``Store.write`` upserts the row in the sample's transaction
and keeps the smaller distance; at equal distance the value written last replaces the stored
one. So a day's total is the ``1d`` value polled nearest to the midnight that ends it, e.g. a
poll at 23:55 over one at 00:10, and a platform's history sample at 00:00 over both.
Day totals are kept as long as daily rows and are not touched by folding. Migration 2 fills the
table, with the same rule, from what a version-1 file still has of ``1d`` series: the last value
of each daily and hourly row, then the raw samples (best effort: folded days only had their
bucket's last sample left).

The sample tables carry no foreign key to ``series``: the store takes every ``series_id`` from
that table inside the same transaction and never deletes series, and the per-row lookup cost
about a third of the write throughput with 600,000 series (bench/bench_store.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite


def _backfill_day_totals(table: str, ts: str, value: str) -> str:
    """SQL filling day_totals from one sample table's rows of ``1d`` series (migration 2).

    ``n`` is the nearest midnight in days, floor(ts / 86400 + 0.5), written with CAST (which
    truncates towards zero) so it needs no math functions: the rule of batch.day_total_slot.
    Rows come in key order (series, then time), so at equal distance the later sample wins.
    """
    half = f"t.{ts} / 86400.0 + 0.5"
    return f"""INSERT INTO day_totals (series_id, day, value, distance)
        SELECT series_id, n - 1, value, abs(ts - n * 86400) FROM (
            SELECT t.series_id AS series_id, t.{ts} AS ts, t.{value} AS value,
                CAST({half} AS INTEGER) - ({half} < CAST({half} AS INTEGER)) AS n
            FROM series AS s JOIN {table} AS t ON t.series_id = s.id
            WHERE s.win = '1d'
        )
        WHERE true
        ON CONFLICT (series_id, day) DO UPDATE SET
            value = excluded.value, distance = excluded.distance
        WHERE excluded.distance <= day_totals.distance"""


MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # version 1
    (
        """CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            platform TEXT NOT NULL,
            metric TEXT NOT NULL,
            win TEXT NOT NULL,
            dims TEXT NOT NULL,
            UNIQUE (account, metric, win, dims)
        )""",
        """CREATE TABLE samples_raw (
            series_id INTEGER NOT NULL,
            ts REAL NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (series_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE samples_hourly (
            series_id INTEGER NOT NULL,
            ts REAL NOT NULL,
            value_last REAL NOT NULL,
            ts_last REAL NOT NULL,
            value_min REAL NOT NULL,
            value_max REAL NOT NULL,
            value_sum REAL NOT NULL,
            value_count INTEGER NOT NULL,
            PRIMARY KEY (series_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE samples_daily (
            series_id INTEGER NOT NULL,
            ts REAL NOT NULL,
            value_last REAL NOT NULL,
            ts_last REAL NOT NULL,
            value_min REAL NOT NULL,
            value_max REAL NOT NULL,
            value_sum REAL NOT NULL,
            value_count INTEGER NOT NULL,
            PRIMARY KEY (series_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE posts (
            account TEXT NOT NULL,
            post_id TEXT NOT NULL,
            published_at REAL NOT NULL,
            content_type TEXT NOT NULL,
            metrics TEXT NOT NULL,
            url TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (account, post_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX posts_published_at ON posts (published_at)",
        """CREATE TABLE plugin_state (
            account TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            state TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # version 2
    (
        """CREATE TABLE day_totals (
            series_id INTEGER NOT NULL,
            day INTEGER NOT NULL,
            value REAL NOT NULL,
            distance REAL NOT NULL,
            PRIMARY KEY (series_id, day)
        ) WITHOUT ROWID""",
        *(
            _backfill_day_totals(table, ts, value)
            for table, ts, value in (
                ("samples_daily", "ts_last", "value_last"),
                ("samples_hourly", "ts_last", "value_last"),
                ("samples_raw", "ts", "value"),
            )
        ),
    ),
)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def apply_migrations(
    conn: aiosqlite.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> list[int]:
    """Bring the database to ``len(migrations)`` (the history schema by default); returns the
    versions applied (empty if current).

    The caller checks first that the file is not newer. The version is read again inside each
    transaction, so two processes starting at once apply each migration once.
    """
    applied: list[int] = []
    for version, statements in enumerate(migrations, start=1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if await schema_version(conn) >= version:
                await conn.execute("COMMIT")
                continue
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {version:d}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
