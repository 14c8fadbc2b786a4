"""The read-only history reader on real SQLite files, next to a Store that writes them."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kpiwatch.store import (
    HistoryReader,
    Retention,
    SeriesInfo,
    Store,
    StoredPost,
    StoredSample,
    StoreError,
    account_series,
    day_sums,
    posts_since,
    values_at,
)
from kpiwatch.store.schema import MIGRATIONS

HOUR = 3600.0
DAY = 86400.0
NOW = datetime(2026, 11, 23, 15, 37, 12, tzinfo=UTC).timestamp()
# Raw samples stay 2 days, hourly rows 10 days, daily rows 100 days.
RETENTION = Retention(raw=timedelta(days=2), hourly=timedelta(days=10), daily=timedelta(days=100))


def sample(
    value: float,
    timestamp: float,
    *,
    metric: str = "followers",
    window: str | None = None,
    account: str = "acme-demo",
) -> StoredSample:
    return StoredSample(account, "demo", metric, window, {}, timestamp, value)


def day_start(timestamp: float) -> float:
    return math.floor(timestamp / DAY) * DAY


def hour_start(timestamp: float) -> float:
    return math.floor(timestamp / HOUR) * HOUR


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "history.db", RETENTION)
    yield opened
    await opened.close()


@pytest.fixture
async def reader(store: Store):
    opened = await HistoryReader.open(store.path)
    yield opened
    await opened.close()


async def ids_by_metric(reader: HistoryReader, account: str = "acme-demo") -> dict[str, int]:
    return {info.metric: info.id for info in await reader.run(lambda c: account_series(c, account))}


# -- opening -------------------------------------------------------------------------------------


async def test_a_missing_file_is_reported_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.db"
    with pytest.raises(StoreError, match=r"history\.db: no history database there"):
        await HistoryReader.open(path)
    assert not path.exists()


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"not a database at all\n" * 300)
    with pytest.raises(StoreError, match=r"history\.db is not a usable kpiwatch history database"):
        await HistoryReader.open(path)


async def test_a_file_the_store_has_not_migrated_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    with pytest.raises(StoreError, match=r"schema version 1, .*Store\.open migrates it"):
        await HistoryReader.open(path)


async def test_the_connection_refuses_writes(store: Store, reader: HistoryReader) -> None:
    await store.write([sample(1, NOW)])
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await reader.run(lambda c: c.execute("DELETE FROM samples_raw"))
    assert await store.series("acme-demo", "followers") == [(NOW, 1)]


# -- account_series ------------------------------------------------------------------------------


async def test_account_series_lists_one_accounts_series(
    store: Store, reader: HistoryReader
) -> None:
    await store.write(
        [
            sample(1, NOW, metric="followers"),
            sample(2, NOW, metric="likes", window="1d"),
            StoredSample("acme-demo", "demo", "sessions", None, {"source": "mail"}, NOW, 3),
            sample(4, NOW, account="rival"),
        ]
    )
    series = await reader.run(lambda c: account_series(c, "acme-demo"))
    assert [s.id for s in series] == sorted(s.id for s in series)
    assert sorted((s.metric, s.window, dict(s.dims)) for s in series) == [
        ("followers", None, {}),
        ("likes", "1d", {}),
        ("sessions", None, {"source": "mail"}),
    ]
    assert all(isinstance(s, SeriesInfo) for s in series)
    with sqlite3.connect(store.path) as conn:
        stored = dict(conn.execute("SELECT metric, id FROM series WHERE account = 'acme-demo'"))
    assert {s.metric: s.id for s in series} == stored
    assert await reader.run(lambda c: account_series(c, "nobody")) == []


# -- values_at -----------------------------------------------------------------------------------


async def test_values_at_finds_points_in_raw_hourly_and_daily_rows(
    store: Store, reader: HistoryReader
) -> None:
    """One sample every 6 hours (at hh:40) for 20 days, then folded by the retention."""
    first = day_start(NOW - 20 * DAY) + 3 * HOUR + 40 * 60
    points = [(first + i * 6 * HOUR, float(i)) for i in range(int((NOW - first) // (6 * HOUR)) + 1)]
    await store.write([sample(value, ts) for ts, value in points])
    await store.write([sample(-1, NOW - 30 * DAY, metric="old")])  # nothing recent
    stats = await store.maintain(NOW)
    assert stats.raw_folded and stats.hourly_folded
    ids = await ids_by_metric(reader)
    hourly_cut = day_start(NOW - 10 * DAY)
    last_of_day = {day_start(ts): (ts, v) for ts, v in points if ts < hourly_cut}  # daily rows
    kept = [p for p in points if p[0] >= hourly_cut] + sorted(last_of_day.values())

    def expected(at: float, after: float) -> dict[int, tuple[float, float]]:
        found = [p for p in kept if after < p[0] <= at]
        return {ids["followers"]: max(found)} if found else {}

    async def lookup(at: float, after: float) -> dict[int, tuple[float, float]]:
        return await reader.run(lambda c: values_at(c, [ids["followers"], ids["old"]], at, after))

    assert await lookup(NOW, NOW - DAY) == {ids["followers"]: points[-1]}  # raw
    raw_cut = hour_start(NOW - 2 * DAY)
    assert points[-1][0] >= raw_cut
    for at in (NOW - 5 * DAY, NOW - 9.9 * DAY):  # hourly rows
        assert await lookup(at, at - DAY) == expected(at, at - DAY) != {}
    # Daily rows: a day's row holds its last sample (21:40), found only once "at" is past it.
    day = day_start(NOW - 15 * DAY)
    assert await lookup(day + 23 * HOUR, day) == expected(day + 23 * HOUR, day)
    assert expected(day + 23 * HOUR, day)[ids["followers"]][0] == day + 21 * HOUR + 2400
    assert await lookup(day + 21 * HOUR, day - DAY) == expected(day + 21 * HOUR, day - DAY)
    assert expected(day + 21 * HOUR, day - DAY)[ids["followers"]][0] == day - 2 * HOUR - 1200
    assert await lookup(day + 21 * HOUR, day) == {}  # the day before is not after "after"
    # Wide windows over several kinds of rows give the newest point.
    assert await lookup(NOW - 3 * DAY, NOW - 25 * DAY) == expected(NOW - 3 * DAY, NOW - 25 * DAY)
    assert await lookup(NOW, NOW - 25 * DAY) == {ids["followers"]: points[-1]}


async def test_values_at_bounds_are_after_exclusive_and_at_inclusive(
    store: Store, reader: HistoryReader
) -> None:
    hour = hour_start(NOW - 5 * DAY)  # will be an hourly row with its last value at hh:40
    await store.write([sample(1, hour + 10 * 60), sample(2, hour + 40 * 60), sample(3, NOW - 60)])
    await store.maintain(NOW)
    [series_id] = (await ids_by_metric(reader)).values()

    async def lookup(at: float, after: float) -> dict[int, tuple[float, float]]:
        return await reader.run(lambda c: values_at(c, [series_id], at, after))

    assert await lookup(NOW - 60, NOW - 61) == {series_id: (NOW - 60, 3)}
    assert await lookup(NOW - 61, NOW - DAY) == {}
    assert await lookup(NOW, NOW - 60) == {}
    # The hourly row starts before "after" but its last value lies after it.
    assert await lookup(hour + 40 * 60, hour + 20 * 60) == {series_id: (hour + 40 * 60, 2)}
    assert await lookup(hour + 50 * 60, hour + 40 * 60) == {}
    # Its last value is after "at": the row is not a point at "at" (the 10-minute sample is
    # folded away).
    assert await lookup(hour + 30 * 60, hour - DAY) == {}


async def test_values_at_prefers_the_newest_point_and_raw_at_equal_times(
    store: Store, reader: HistoryReader
) -> None:
    hour = hour_start(NOW - 5 * DAY)
    await store.write([sample(1, hour + 600), sample(5, hour + 1800, metric="reach")])
    await store.maintain(NOW)
    # Late history lands after folding: a correction at the same time, and an older sample.
    await store.write([sample(2, hour + 600), sample(4, hour - 3000, metric="reach")])
    ids = await ids_by_metric(reader)
    found = await reader.run(
        lambda c: values_at(c, [ids["followers"], ids["reach"], 99999], NOW, NOW - 10 * DAY)
    )
    assert found == {ids["followers"]: (hour + 600, 2), ids["reach"]: (hour + 1800, 5)}


# -- day_sums ------------------------------------------------------------------------------------


async def test_day_sums_add_up_the_day_totals_in_the_range(
    store: Store, reader: HistoryReader
) -> None:
    first = date(2026, 11, 1)
    # Daily history at the midnights that end days 0..9 of the month, day 3 missing.
    history = {
        (first - date(1970, 1, 1)).days + k: 10.0 + k for k in range(10) if k != 3
    }  # day number -> value
    await store.write(
        [
            sample(value, (day + 1) * DAY, metric="likes", window="1d")
            for day, value in history.items()
        ]
        + [sample(50.0, (day + 1) * DAY, metric="likes", window="7d") for day in history]
        + [sample(1.0, NOW, metric="reach", window="1d")]
    )
    ids = {
        (info.metric, info.window): info.id
        for info in await reader.run(lambda c: account_series(c, "acme-demo"))
    }
    start = min(history)

    async def sums(first_day: int, last_day: int) -> dict[int, tuple[float, int]]:
        series = [ids["likes", "1d"], ids["likes", "7d"], ids["reach", "1d"], 99999]
        return await reader.run(lambda c: day_sums(c, series, first_day, last_day))

    likes = ids["likes", "1d"]
    assert await sums(start, start + 9) == {likes: (sum(history.values()), 9)}
    assert await sums(start + 2, start + 4) == {likes: (history[start + 2] + history[start + 4], 2)}
    assert await sums(start + 3, start + 3) == {}
    assert await sums(start - 30, start) == {likes: (history[start], 1)}
    # The reach sample at 15:37 is nearest to the midnight that ends today.
    today = int(NOW // DAY)
    assert await sums(today, today) == {ids["reach", "1d"]: (1.0, 1)}


# -- posts_since ---------------------------------------------------------------------------------


async def test_posts_since_gives_one_accounts_posts_from_a_time(
    store: Store, reader: HistoryReader
) -> None:
    posts = [
        StoredPost("acme-demo", "p3", NOW - HOUR, "video", {"views": 9.5}, "https://x/3", NOW),
        StoredPost("acme-demo", "p1", NOW - 3 * DAY, "image", {"likes": 1}, None, NOW),
        StoredPost("acme-demo", "p2", NOW - DAY, "image", {"likes": 2}, None, NOW),
        StoredPost("rival", "p9", NOW - HOUR, "image", {"likes": 3}, None, NOW),
    ]
    await store.write([], posts)
    found = await reader.run(lambda c: posts_since(c, "acme-demo", NOW - DAY))
    assert found == [posts[2], posts[0]]
    assert await reader.run(lambda c: posts_since(c, "acme-demo", NOW)) == []
    assert await reader.run(lambda c: posts_since(c, "rival", 0)) == [posts[3]]


# -- concurrency and closing ---------------------------------------------------------------------


async def test_reads_do_not_wait_for_an_open_write_transaction(
    store: Store, reader: HistoryReader
) -> None:
    await store.write([sample(1, NOW - 60)])
    [series_id] = (await ids_by_metric(reader)).values()
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        other.execute("INSERT INTO samples_raw VALUES (?, ?, 2)", (series_id, NOW))
        # The store's own write now waits for the lock in aiosqlite's thread...
        blocked_write = asyncio.create_task(store.write([sample(3, NOW + 60)]))
        await asyncio.sleep(0.2)
        assert not blocked_write.done()
        # ...while the reader answers at once (its busy timeout is 5 s) from committed data.
        found = await asyncio.wait_for(
            reader.run(lambda c: values_at(c, [series_id], NOW + 3600, 0)), timeout=1.0
        )
        assert found == {series_id: (NOW - 60, 1)}
        other.execute("COMMIT")
        await asyncio.wait_for(blocked_write, timeout=5)
    finally:
        other.close()
    found = await reader.run(lambda c: values_at(c, [series_id], NOW + 3600, 0))
    assert found == {series_id: (NOW + 60, 3)}


async def test_one_run_reads_one_snapshot(store: Store, reader: HistoryReader) -> None:
    await store.write([sample(1, NOW - 60)])
    [series_id] = (await ids_by_metric(reader)).values()

    def read_commit_read(conn: sqlite3.Connection) -> tuple[dict, dict]:
        before = values_at(conn, [series_id], NOW, 0)
        writer = sqlite3.connect(store.path, isolation_level=None)  # commits mid-run
        writer.execute("INSERT INTO samples_raw VALUES (?, ?, 2)", (series_id, NOW))
        writer.close()
        return before, values_at(conn, [series_id], NOW, 0)

    before, after = await reader.run(read_commit_read)
    assert before == after == {series_id: (NOW - 60, 1)}
    assert await reader.run(lambda c: values_at(c, [series_id], NOW, 0)) == {series_id: (NOW, 2)}


async def test_close_finishes_queued_reads_then_refuses_more(store: Store) -> None:
    reader = await HistoryReader.open(store.path)
    release = threading.Event()
    worker: list[threading.Thread] = []

    def slow(conn: sqlite3.Connection) -> int:
        worker.append(threading.current_thread())
        release.wait(5)
        return conn.execute("SELECT COUNT(*) FROM series").fetchone()[0]

    pending = asyncio.create_task(reader.run(slow))
    while not worker:
        await asyncio.sleep(0.01)
    assert worker[0] is not threading.main_thread()
    closing = asyncio.create_task(reader.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waits for the read in progress
    release.set()
    assert await pending == 0
    await closing
    with pytest.raises(RuntimeError, match="closed"):
        await reader.run(lambda c: 1)
    await reader.close()  # a second close does nothing
    worker[0].join(timeout=5)
    assert not worker[0].is_alive()
