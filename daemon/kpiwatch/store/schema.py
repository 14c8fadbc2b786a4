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

The sample tables carry no foreign key to ``series``: the store takes every ``series_id`` from
that table inside the same transaction and never deletes series, and the per-row lookup cost
about a third of the write throughput with 600,000 series (bench/bench_store.py).
"""

from __future__ import annotations

import aiosqlite

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
)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def apply_migrations(conn: aiosqlite.Connection) -> list[int]:
    """Bring the database to SCHEMA_VERSION; returns the versions applied (empty if current).

    The caller checks first that the file is not newer than SCHEMA_VERSION. The version is read
    again inside each transaction, so two processes starting at once apply each migration once.
    """
    applied: list[int] = []
    for version, statements in enumerate(MIGRATIONS, start=1):
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
