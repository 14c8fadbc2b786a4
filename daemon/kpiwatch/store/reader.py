"""Read-only lookups on the history database for the KPI engine, on their own connection.

``HistoryReader`` keeps one plain sqlite3 connection in a single-thread executor. The file is in
WAL mode, so this connection reads while ``Store`` writes through its aiosqlite connection: a
read never waits for a write transaction and sees only committed data. The lookup functions
below take that connection and are meant to run inside ``HistoryReader.run``; their SQL is
constant text, so sqlite3's statement cache prepares each statement once per connection, and
every sample lookup is a seek on a table's primary key (series id, then time or day).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from kpiwatch.store.connection import BUSY_TIMEOUT_MS
from kpiwatch.store.downsample import DAY, HOUR
from kpiwatch.store.models import SeriesInfo, StoredPost, StoreError
from kpiwatch.store.schema import SCHEMA_VERSION

T = TypeVar("T")

_ACCOUNT_SERIES = "SELECT id, metric, win, dims FROM series WHERE account = ? ORDER BY id"

# For each id of the JSON array, the newest point in (after, at] of each table, tagged with the
# table's rank (0 raw, 1 hourly, 2 daily). The subquery seeks the newest key in range, the join
# fetches that row. Folded rows are found by bucket start (their last value lies in the bucket).
_NEWEST_POINTS = f"""
SELECT j.value, r.ts, r.value, 0
FROM json_each(:ids) AS j CROSS JOIN samples_raw AS r
    ON r.series_id = j.value AND r.ts = (
        SELECT ts FROM samples_raw WHERE series_id = j.value AND ts > :after AND ts <= :at
        ORDER BY ts DESC LIMIT 1)
UNION ALL
SELECT j.value, h.ts_last, h.value_last, 1
FROM json_each(:ids) AS j CROSS JOIN samples_hourly AS h
    ON h.series_id = j.value AND h.ts = (
        SELECT ts FROM samples_hourly WHERE series_id = j.value
            AND ts > :after - {HOUR} AND ts <= :at AND ts_last > :after AND ts_last <= :at
        ORDER BY ts DESC LIMIT 1)
UNION ALL
SELECT j.value, d.ts_last, d.value_last, 2
FROM json_each(:ids) AS j CROSS JOIN samples_daily AS d
    ON d.series_id = j.value AND d.ts = (
        SELECT ts FROM samples_daily WHERE series_id = j.value
            AND ts > :after - {DAY} AND ts <= :at AND ts_last > :after AND ts_last <= :at
        ORDER BY ts DESC LIMIT 1)
"""

_DAY_SUMS = """
SELECT series_id, SUM(value), COUNT(*) FROM day_totals
WHERE series_id IN (SELECT value FROM json_each(:ids)) AND day BETWEEN :first AND :last
GROUP BY series_id
"""

# The oldest point of the accounts' series in any sample table (a seek per series and table).
_OLDEST_POINT = """
SELECT MIN(t) FROM (
    SELECT (SELECT MIN(ts) FROM samples_raw WHERE series_id = s.id) AS t
    FROM series AS s WHERE s.account IN (SELECT value FROM json_each(:accounts))
    UNION ALL
    SELECT (SELECT MIN(ts_last) FROM samples_hourly WHERE series_id = s.id)
    FROM series AS s WHERE s.account IN (SELECT value FROM json_each(:accounts))
    UNION ALL
    SELECT (SELECT MIN(ts_last) FROM samples_daily WHERE series_id = s.id)
    FROM series AS s WHERE s.account IN (SELECT value FROM json_each(:accounts))
)
"""
_POSTS_SINCE = """
SELECT post_id, published_at, content_type, metrics, url, updated_at FROM posts
WHERE account = ? AND published_at >= ? ORDER BY published_at, post_id
"""


class HistoryReader:
    """Read-only queries on the history database, on a dedicated connection and thread."""

    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._executor = executor

    @classmethod
    async def open(cls, path: Path) -> HistoryReader:
        """Open the database ``Store.open`` created and migrated, for reading only.

        Raises StoreError when the file is missing, is not SQLite, or has another schema
        version than this code reads.
        """
        path = Path(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpiwatch-history-reader")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, conn, executor)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the reader's thread, in one read transaction (one snapshot)."""
        conn = self._conn
        if conn is None:
            raise RuntimeError(f"the history reader of {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _in_read_transaction, conn, fn)

    async def close(self) -> None:
        """Close the connection once the queued reads are done; later ``run`` calls fail."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> HistoryReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(
            f"{path}: no history database there; the store creates it at start-up "
            "(Store.open), so open the store first or check state_dir"
        )
    try:
        # mode=rw: never create the file; query_only below refuses every write.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(
            f"{path}: cannot open the history database for reading ({exc}); "
            "check state_dir and its permissions"
        ) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        conn.execute("PRAGMA query_only = 1")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path} is not a usable kpiwatch history database ({exc}); "
            "move the file away or point state_dir elsewhere"
        ) from None
    if version != SCHEMA_VERSION:
        conn.close()
        fix = (
            "open it with the store first (Store.open migrates it)"
            if version < SCHEMA_VERSION
            else "upgrade kpiwatch or point state_dir elsewhere"
        )
        raise StoreError(
            f"{path} has schema version {version}, this kpiwatch reads version "
            f"{SCHEMA_VERSION}; {fix}"
        )
    return conn


def _in_read_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def account_series(conn: sqlite3.Connection, account: str) -> list[SeriesInfo]:
    """Every series of ``account``, by id (series created in one write get ids in any order)."""
    return [
        SeriesInfo(series_id, metric, win or None, json.loads(dims))
        for series_id, metric, win, dims in conn.execute(_ACCOUNT_SERIES, (account,))
    ]


def values_at(
    conn: sqlite3.Connection, series_ids: Sequence[int], at: float, after: float
) -> dict[int, tuple[float, float]]:
    """Per series, (timestamp, value) of its newest point with ``after < timestamp <= at``.

    Points are raw samples and the last value of hourly and daily rows (at its own timestamp);
    at equal timestamps a raw sample wins over an hourly row over a daily row. Series without
    such a point are absent.
    """
    params = {"ids": json.dumps(list(series_ids)), "at": at, "after": after}
    newest: dict[int, tuple[float, float, int]] = {}
    for series_id, ts, value, rank in conn.execute(_NEWEST_POINTS, params):
        found = newest.get(series_id)
        if found is None or ts > found[0] or (ts == found[0] and rank < found[2]):
            newest[series_id] = (ts, value, rank)
    return {series_id: (ts, value) for series_id, (ts, value, _) in newest.items()}


def day_sums(
    conn: sqlite3.Connection, series_ids: Sequence[int], first_day: int, last_day: int
) -> dict[int, tuple[float, int]]:
    """Per series, (sum of its day totals, number of days that have one) for the UTC days
    ``first_day`` to ``last_day`` inclusive (days since 1970-01-01). Series without any day
    total in the range are absent."""
    params = {"ids": json.dumps(list(series_ids)), "first": first_day, "last": last_day}
    return {
        series_id: (total, count) for series_id, total, count in conn.execute(_DAY_SUMS, params)
    }


def oldest_point(conn: sqlite3.Connection, accounts: Sequence[str]) -> float | None:
    """Time of the oldest stored point of any series of ``accounts``; None when they have none.
    It moves back when a platform's history backfill arrives."""
    row = conn.execute(_OLDEST_POINT, {"accounts": json.dumps(list(accounts))}).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def plugin_states(conn: sqlite3.Connection) -> dict[str, tuple[str, dict]]:
    """Every account's stored plugin state: account -> (platform, state)."""
    rows = conn.execute("SELECT account, platform, state FROM plugin_state ORDER BY account")
    return {account: (platform, json.loads(state)) for account, platform, state in rows}


def posts_since(conn: sqlite3.Connection, account: str, since: float) -> list[StoredPost]:
    """Posts of ``account`` published at or after ``since``, oldest first."""
    return [
        StoredPost(account, post_id, published, content_type, json.loads(metrics), url, updated)
        for post_id, published, content_type, metrics, url, updated in conn.execute(
            _POSTS_SINCE, (account, since)
        )
    ]
