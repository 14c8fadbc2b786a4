"""The history store on real SQLite files: round trips, transactions, migrations, durability,
downsampling."""

from __future__ import annotations

import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kpiwatch.store import (
    SCHEMA_VERSION,
    Retention,
    Store,
    StoredPost,
    StoredSample,
    StoreError,
)

HOUR = 3600.0
DAY = 86400.0
# A fixed "now" that is not aligned to an hour, so cut-offs fall inside buckets.
NOW = datetime(2026, 11, 23, 15, 37, 12, tzinfo=UTC).timestamp()


def sample(
    value: float,
    timestamp: float,
    *,
    account: str = "acme-demo",
    metric: str = "followers",
    window: str | None = None,
    dims: dict[str, str] | None = None,
    platform: str = "demo",
) -> StoredSample:
    return StoredSample(account, platform, metric, window, dims or {}, timestamp, value)


def table(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the database with a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "state" / "history.db")
    yield opened
    await opened.close()


# -- round trips ---------------------------------------------------------------------------


async def test_samples_posts_and_states_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state" / "history.db"
    samples = [
        sample(1200, NOW - 60),
        sample(1250, NOW),
        sample(0.5, NOW, metric="spend", dims={"currency": "EUR"}),
        sample(33, NOW, account="rival", platform="mastodon", metric="likes", window="1d"),
    ]
    posts = [
        StoredPost("acme-demo", "p1", NOW - DAY, "image", {"likes": 10, "shares": 2}, None, NOW),
        StoredPost(
            "acme-demo", "p2", NOW - HOUR, "video", {"video_views": 99.5}, "https://x/2", NOW
        ),
    ]
    states = {"acme-demo": ("demo", {"cursor": "abc", "seen": [1, 2]})}
    store = await Store.open(path)
    written = await store.write(samples, posts, states)
    await store.close()
    assert written == 4 + 2 + 1

    store = await Store.open(path)
    try:
        assert await store.series("acme-demo", "followers") == [(NOW - 60, 1200), (NOW, 1250)]
        assert await store.series("acme-demo", "spend", dims={"currency": "EUR"}) == [(NOW, 0.5)]
        assert await store.series("acme-demo", "spend") == []  # other dims: another series
        assert await store.series("rival", "likes", "1d") == [(NOW, 33)]
        assert await store.series("rival", "likes") == []  # no window: another series
        assert await store.posts() == posts
        assert await store.posts("acme-demo", since=NOW - 2 * HOUR) == posts[1:]
        assert await store.posts("rival") == []
        assert await store.states() == states
    finally:
        await store.close()


async def test_a_rewrite_replaces_values_posts_and_states(store: Store) -> None:
    await store.write(
        [sample(10, NOW)],
        [StoredPost("acme-demo", "p1", NOW - DAY, "image", {"likes": 1}, None, NOW - 10)],
        {"acme-demo": ("demo", {"cursor": 1})},
    )
    await store.write(
        [sample(11, NOW)],
        [StoredPost("acme-demo", "p1", NOW - DAY, "image", {"likes": 5}, None, NOW)],
        {"acme-demo": ("demo", {"cursor": 2})},
    )
    assert await store.series("acme-demo", "followers") == [(NOW, 11)]
    assert [post.metrics for post in await store.posts()] == [{"likes": 5}]
    assert await store.states() == {"acme-demo": ("demo", {"cursor": 2})}


async def test_latest_gives_the_newest_value_of_every_series(store: Store) -> None:
    await store.write(
        [
            sample(100, NOW - 2 * HOUR),
            sample(7, NOW - HOUR, metric="clicks", window="1d"),
            sample(40, NOW - HOUR, metric="clicks", window="7d"),
            sample(3, NOW - HOUR, metric="sessions", dims={"source": "social"}),
            sample(5, NOW - HOUR, metric="sessions", dims={"source": "email"}),
            sample(1, NOW, account="rival", platform="mastodon"),
        ]
    )
    # Written in a later cycle, out of order within it.
    await store.write(
        [
            sample(8, NOW, metric="clicks", window="1d"),
            sample(101, NOW - HOUR),
            sample(6, NOW - 3 * HOUR, metric="sessions", dims={"source": "email"}),
        ]
    )
    latest = await store.latest()
    assert set(latest) == {"acme-demo", "rival"}
    newest = {
        (s.metric, s.window, tuple(s.dims.items())): (s.timestamp, s.value)
        for s in latest["acme-demo"]
    }
    assert newest == {
        ("followers", None, ()): (NOW - HOUR, 101),
        ("clicks", "1d", ()): (NOW, 8),
        ("clicks", "7d", ()): (NOW - HOUR, 40),
        ("sessions", None, (("source", "social"),)): (NOW - HOUR, 3),
        ("sessions", None, (("source", "email"),)): (NOW - HOUR, 5),
    }
    assert latest["rival"] == [sample(1, NOW, account="rival", platform="mastodon")]
    assert all(s.platform == "demo" for s in latest["acme-demo"])


async def test_dims_are_one_series_whatever_their_order(store: Store) -> None:
    await store.write([sample(1, NOW - 1, dims={"a": "1", "b": "2"})])
    await store.write([sample(2, NOW, dims={"b": "2", "a": "1"})])
    assert await store.series("acme-demo", "followers", dims={"b": "2", "a": "1"}) == [
        (NOW - 1, 1),
        (NOW, 2),
    ]
    stored_dims = table(store.path, "SELECT dims FROM series")
    assert stored_dims == [('{"a":"1","b":"2"}',)]


async def test_a_daily_history_at_midnights_is_stored_and_queried(store: Store) -> None:
    midnights = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=d) for d in range(31)]
    history = [sample(1000 + d, m.timestamp(), metric="followers") for d, m in enumerate(midnights)]
    await store.write(history)
    result = await store.series("acme-demo", "followers")
    assert result == [(m.timestamp(), 1000 + d) for d, m in enumerate(midnights)]
    assert all(datetime.fromtimestamp(ts, UTC).hour == 0 for ts, _ in result)
    week = await store.series(
        "acme-demo",
        "followers",
        since=datetime(2026, 10, 10, tzinfo=UTC).timestamp(),
        until=datetime(2026, 10, 16, tzinfo=UTC).timestamp(),
    )
    assert week == [
        (datetime(2026, 10, d, tzinfo=UTC).timestamp(), 1000 + d - 1) for d in range(10, 17)
    ]


async def test_a_platform_change_of_an_account_is_recorded(store: Store) -> None:
    await store.write([sample(1, NOW - 1)])
    await store.write([sample(2, NOW, platform="mastodon")])
    [newest] = (await store.latest())["acme-demo"]
    assert (newest.platform, newest.value) == ("mastodon", 2)


# -- one write, one transaction --------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
async def test_a_non_finite_value_rejects_the_whole_batch(store: Store, bad: float) -> None:
    await store.write([sample(1, NOW - HOUR)])
    batch = [
        sample(2, NOW),
        sample(3, NOW, metric="likes", window="1d"),
        sample(bad, NOW, metric="reach", window="1d"),
    ]
    with pytest.raises(ValueError, match=r"sample 2 of the batch .*'reach'.*nothing of this batch"):
        await store.write(
            batch,
            [StoredPost("acme-demo", "p1", NOW, "image", {"likes": 1}, None, NOW)],
            {"acme-demo": ("demo", {"cursor": 9})},
        )
    assert await store.series("acme-demo", "followers") == [(NOW - HOUR, 1)]
    assert await store.series("acme-demo", "likes", "1d") == []
    assert await store.posts() == []
    assert await store.states() == {}
    assert table(store.path, "SELECT COUNT(*) FROM series") == [(1,)]
    # The store is still usable afterwards.
    assert await store.write(batch[:2]) == 2


async def test_a_state_that_is_not_json_rejects_the_batch(store: Store) -> None:
    with pytest.raises(ValueError, match="plugin state of account 'acme-demo'"):
        await store.write([sample(1, NOW)], states={"acme-demo": ("demo", {"when": object()})})
    assert await store.latest() == {}


async def test_a_write_is_visible_to_readers_all_at_once(store: Store) -> None:
    """A reader on another connection sees either none or all of a batch."""
    batch = [sample(float(i), NOW, metric=f"m{i}") for i in range(2000)]
    with sqlite3.connect(store.path) as reader:
        reader.execute("BEGIN")  # a read snapshot taken before the write
        assert reader.execute("SELECT COUNT(*) FROM samples_raw").fetchone() == (0,)
        await store.write(batch)
        assert reader.execute("SELECT COUNT(*) FROM samples_raw").fetchone() == (0,)
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM samples_raw").fetchone() == (2000,)


# -- the file: WAL, migrations, refusal -------------------------------------------------------


async def test_the_database_is_in_wal_mode(store: Store) -> None:
    await store.write([sample(1, NOW)])
    assert table(store.path, "PRAGMA journal_mode") == [("wal",)]
    assert store.path.with_name(store.path.name + "-wal").exists()


async def test_a_fresh_file_gets_the_current_version_and_a_reopen_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    store = await Store.open(path)
    await store.write([sample(1, NOW)])
    await store.close()
    assert SCHEMA_VERSION >= 1
    assert table(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    schema = table(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")

    store = await Store.open(path)
    await store.close()
    assert table(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert table(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
    assert table(path, "SELECT ts, value FROM samples_raw") == [(NOW, 1.0)]


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    store = await Store.open(path)
    await store.close()
    newer = SCHEMA_VERSION + 1
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(StoreError) as raised:
        await Store.open(path)
    assert str(raised.value) == (
        f"{path} has schema version {newer}, newer than this kpiwatch understands "
        f"({SCHEMA_VERSION}); upgrade kpiwatch or point state_dir elsewhere"
    )
    assert table(path, "PRAGMA user_version") == [(newer,)]


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    content = b"accounts:\n  - id: acme\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"history\.db is not a usable kpiwatch history database"):
        await Store.open(path)
    assert path.read_bytes() == content


async def test_an_uncreatable_state_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="cannot create the state folder"):
        await Store.open(blocker / "sub" / "history.db")


def test_retention_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="raw <= hourly <= daily"):
        Retention(raw=timedelta(days=30), hourly=timedelta(days=7))


# -- durability -------------------------------------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from kpiwatch.store import Store, StoredPost, StoredSample

    async def main():
        store = await Store.open(Path(sys.argv[1]))
        samples = [
            StoredSample(f"acct-{a}", "demo", "followers", None, {}, 1_700_000_000.0 + t, a * t)
            for a in range(50) for t in range(20)
        ]
        posts = [StoredPost("acct-1", "p1", 1_700_000_000.0, "image", {"likes": 3.0}, None, 1.0)]
        await store.write(samples, posts, {"acct-1": ("demo", {"cursor": "c1"})})
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def test_a_committed_batch_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "committed\n"
    assert path.with_name(path.name + "-wal").exists()  # never checkpointed by a close

    store = await Store.open(path)
    try:
        latest = await store.latest()
        assert len(latest) == 50
        assert latest["acct-7"] == [
            StoredSample("acct-7", "demo", "followers", None, {}, 1_700_000_019.0, 7 * 19)
        ]
        assert await store.series("acct-3", "followers") == [
            (1_700_000_000.0 + t, 3 * t) for t in range(20)
        ]
        assert [post.post_id for post in await store.posts()] == ["p1"]
        assert await store.states() == {"acct-1": ("demo", {"cursor": "c1"})}
    finally:
        await store.close()


# -- downsampling and pruning -----------------------------------------------------------------


def hour_start(timestamp: float) -> float:
    return math.floor(timestamp / HOUR) * HOUR


def day_start(timestamp: float) -> float:
    return math.floor(timestamp / DAY) * DAY


def rows(store: Store, name: str) -> list[tuple]:
    return table(
        store.path,
        f"SELECT ts, value_last, ts_last, value_min, value_max, value_sum, value_count FROM {name}"
        " ORDER BY series_id, ts",
    )


async def test_old_raw_samples_become_hourly_rows(store: Store) -> None:
    hour = hour_start(NOW - 20 * DAY)
    # Out of order on purpose: the last value is the latest timestamp, not the last written.
    await store.write(
        [
            sample(4, hour + 0),
            sample(3, hour + 45 * 60),
            sample(1, hour + 15 * 60),
            sample(7, hour + 30 * 60),
            sample(9, NOW - HOUR),  # recent: stays raw
        ]
    )
    stats = await store.maintain(NOW)
    assert stats.raw_folded == 4
    assert rows(store, "samples_hourly") == [(hour, 3, hour + 45 * 60, 1, 7, 15, 4)]
    assert table(store.path, "SELECT ts, value FROM samples_raw") == [(NOW - HOUR, 9)]
    assert await store.series("acme-demo", "followers") == [(hour + 45 * 60, 3), (NOW - HOUR, 9)]


async def test_only_whole_hours_past_the_raw_retention_are_folded(store: Store) -> None:
    cut = NOW - 14 * DAY  # inside an hour: that hour is still partly within retention
    await store.write([sample(1, hour_start(cut) - 1), sample(2, hour_start(cut) + 1)])
    await store.maintain(NOW)
    assert table(store.path, "SELECT ts FROM samples_raw") == [(hour_start(cut) + 1,)]
    assert [row[0] for row in rows(store, "samples_hourly")] == [hour_start(cut) - HOUR]


async def test_old_hourly_rows_become_daily_rows_and_old_daily_rows_go(store: Store) -> None:
    day = day_start(NOW - 100 * DAY)
    ancient = day_start(NOW - 800 * DAY)
    await store.write(
        [
            sample(10, day + 2 * HOUR + 60),
            sample(30, day + 2 * HOUR + 120),
            sample(5, day + 20 * HOUR),
            sample(8, day + 20 * HOUR + 300),
            sample(99, ancient + HOUR),
        ]
    )
    stats = await store.maintain(NOW)
    assert (stats.raw_folded, stats.hourly_folded, stats.daily_deleted) == (5, 3, 1)
    assert table(store.path, "SELECT COUNT(*) FROM samples_raw") == [(0,)]
    assert table(store.path, "SELECT COUNT(*) FROM samples_hourly") == [(0,)]
    assert rows(store, "samples_daily") == [(day, 8, day + 20 * HOUR + 300, 5, 30, 53, 4)]
    assert await store.series("acme-demo", "followers", resolution="daily") == [
        (day + 20 * HOUR + 300, 8)
    ]


async def test_posts_older_than_the_daily_retention_are_deleted(store: Store) -> None:
    old = StoredPost("acme-demo", "old", NOW - 731 * DAY, "image", {"likes": 1}, None, NOW)
    kept = StoredPost("acme-demo", "kept", NOW - 729 * DAY, "image", {"likes": 1}, None, NOW)
    await store.write([], [old, kept])
    stats = await store.maintain(NOW)
    assert stats.posts_deleted == 1
    assert await store.posts() == [kept]


async def test_late_history_merges_into_an_hour_already_folded(store: Store) -> None:
    hour = hour_start(NOW - 30 * DAY)
    await store.write([sample(5, hour + 60), sample(2, hour + 120)])
    await store.maintain(NOW)
    # A plugin's first-contact history arrives later with more values of that hour.
    await store.write([sample(9, hour + 3000), sample(1, hour + 30)])
    stats = await store.maintain(NOW)
    assert stats.raw_folded == 2
    assert rows(store, "samples_hourly") == [(hour, 9, hour + 3000, 1, 9, 17, 4)]


async def test_auto_resolution_is_continuous_without_duplicates(store: Store) -> None:
    """Every 6 hours for 100 days; after maintenance "auto" keeps each raw and hourly point
    (one point per hour) and, beyond the hourly retention, the last point of each day."""
    start = day_start(NOW - 100 * DAY)
    points = [(start + i * 6 * HOUR, float(i)) for i in range(int((NOW - start) // (6 * HOUR)) + 1)]
    other = [(ts, -value) for ts, value in points]  # a second series that must not leak in
    await store.write([sample(v, ts) for ts, v in points])
    await store.write([sample(v, ts, metric="reach", window="1d") for ts, v in other])
    before = await store.series("acme-demo", "followers")
    assert before == points

    await store.maintain(NOW)
    hourly_cut = day_start(NOW - 90 * DAY)
    last_of_day: dict[float, tuple[float, float]] = {}
    for ts, value in points:
        if ts < hourly_cut:
            last_of_day[day_start(ts)] = (ts, value)
    expected = sorted(last_of_day.values()) + [(ts, v) for ts, v in points if ts >= hourly_cut]
    after = await store.series("acme-demo", "followers")
    assert after == expected
    assert len({ts for ts, _ in after}) == len(after)
    assert after == sorted(after)
    assert table(store.path, "SELECT COUNT(*) FROM samples_daily") != [(0,)]
    assert table(store.path, "SELECT COUNT(*) FROM samples_hourly") != [(0,)]
    raw = await store.series("acme-demo", "followers", resolution="raw")
    assert raw == [(ts, v) for ts, v in points if ts >= hour_start(NOW - 14 * DAY)]
    window = await store.series(
        "acme-demo", "followers", since=NOW - 95 * DAY, until=NOW - 10 * DAY
    )
    assert window == [(ts, v) for ts, v in expected if NOW - 95 * DAY <= ts <= NOW - 10 * DAY]

    # The other series was folded on its own.
    assert await store.series("acme-demo", "reach", "1d", resolution="auto") == [
        (ts, -v) for ts, v in expected
    ]


async def test_latest_falls_back_to_folded_rows(store: Store) -> None:
    await store.write([sample(4, NOW - 20 * DAY), sample(6, NOW - 20 * DAY + 60)])
    await store.maintain(NOW)
    assert await store.latest() == {"acme-demo": [sample(6, NOW - 20 * DAY + 60)]}


async def test_maintaining_twice_gives_the_same_result(store: Store) -> None:
    start = day_start(NOW - 120 * DAY)
    await store.write(
        [sample(float(i), start + i * 5 * HOUR, metric=f"m{i % 3}") for i in range(600)]
    )
    first = await store.maintain(NOW, batch_series=1)
    assert first.batches >= 3
    snapshot = {name: rows(store, name) for name in ("samples_hourly", "samples_daily")}
    raw = table(store.path, "SELECT * FROM samples_raw ORDER BY 1, 2")
    second = await store.maintain(NOW, batch_series=1)
    assert (second.raw_folded, second.hourly_folded, second.daily_deleted) == (0, 0, 0)
    assert {name: rows(store, name) for name in snapshot} == snapshot
    assert table(store.path, "SELECT * FROM samples_raw ORDER BY 1, 2") == raw
