"""Day totals (schema version 2) on real SQLite files: the nearest-midnight rule, the migration of
a version-1 file, and pruning."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kpiwatch.store import SCHEMA_VERSION, Retention, Store, StoredSample
from kpiwatch.store.schema import MIGRATIONS

DAY = 86400.0
MINUTE = 60.0
EPOCH = date(1970, 1, 1)
# The day whose totals the tests look at, and the midnight that ends it.
DAY_A = date(2026, 11, 20)
END_A = datetime(2026, 11, 21, tzinfo=UTC).timestamp()


def day_number(day: date) -> int:
    return (day - EPOCH).days


def one_d(value: float, timestamp: float, *, metric: str = "likes", window: str | None = "1d"):
    return StoredSample("acme-demo", "demo", metric, window, {}, timestamp, value)


def day_totals(path: Path) -> list[tuple]:
    """(metric, window, day, value, distance) of every day total, read with plain sqlite3."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT s.metric, s.win, d.day, d.value, d.distance FROM day_totals AS d"
            " JOIN series AS s ON s.id = d.series_id ORDER BY s.metric, s.win, d.day"
        ).fetchall()


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "history.db")
    yield opened
    await opened.close()


# -- the rule, through Store.write -----------------------------------------------------------


async def test_the_poll_nearer_to_midnight_becomes_the_day_total(store: Store) -> None:
    await store.write([one_d(10, END_A - 10 * MINUTE)])  # 23:50, a new series
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 10, 600)]
    await store.write([one_d(11, END_A + 5 * MINUTE)])  # 00:05 is nearer: replaces
    await store.write([one_d(12, END_A + 30 * MINUTE)])  # 00:30 is farther: does not
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 11, 300)]
    assert await store.series("acme-demo", "likes", "1d") == [
        (END_A - 10 * MINUTE, 10),
        (END_A + 5 * MINUTE, 11),
        (END_A + 30 * MINUTE, 12),
    ]


async def test_a_history_sample_at_midnight_beats_the_polls_around_it(store: Store) -> None:
    await store.write([one_d(7, END_A)])  # the platform's own daily history, at 00:00
    await store.write([one_d(8, END_A - 5 * MINUTE)])  # then polls at 23:55 and 00:05
    await store.write([one_d(9, END_A + 5 * MINUTE)])
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 7, 0)]


async def test_at_equal_distance_the_value_written_last_replaces(store: Store) -> None:
    await store.write([one_d(1, END_A + 5 * MINUTE)])
    await store.write([one_d(2, END_A - 5 * MINUTE)])  # earlier in time, written later
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 2, 300)]
    await store.write([one_d(3, END_A - 5 * MINUTE)])  # the same sample, corrected
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 3, 300)]
    # Within one batch the later sample is written last.
    await store.write([one_d(4, END_A + 5 * MINUTE), one_d(5, END_A - 5 * MINUTE)])
    assert day_totals(store.path) == [("likes", "1d", day_number(DAY_A), 5, 300)]


async def test_a_sample_belongs_to_the_nearest_midnight(store: Store) -> None:
    start_a = END_A - DAY  # 00:00 of DAY_A
    await store.write(
        [
            one_d(1, start_a + 11 * 3600),  # 11:00 of DAY_A: nearer to its start
            one_d(2, start_a + 12 * 3600),  # 12:00 exactly: goes forward
            one_d(3, start_a + 13 * 3600),  # 13:00: nearer to its end
        ]
    )
    previous = day_number(DAY_A - timedelta(days=1))
    assert day_totals(store.path) == [
        ("likes", "1d", previous, 1, 11 * 3600),
        ("likes", "1d", day_number(DAY_A), 3, 11 * 3600),
    ]


async def test_only_series_with_window_1d_get_day_totals(store: Store) -> None:
    samples = [
        one_d(1, END_A, window=None, metric="followers"),
        one_d(2, END_A, window="7d"),
        one_d(3, END_A, window="28d"),
        one_d(4, END_A, window="1h"),
    ]
    await store.write(samples)
    await store.write([s._replace(value=s.value + 10) for s in samples])  # known series too
    assert day_totals(store.path) == []
    await store.write(
        [
            one_d(5, END_A),
            StoredSample("acme-demo", "demo", "likes", "1d", {"type": "reel"}, END_A, 6),
            StoredSample("rival", "mastodon", "likes", "1d", {}, END_A, 7),
        ]
    )
    with sqlite3.connect(store.path) as conn:
        totals = conn.execute(
            "SELECT s.account, s.dims, d.value FROM day_totals AS d"
            " JOIN series AS s ON s.id = d.series_id ORDER BY d.value"
        ).fetchall()
    assert totals == [
        ("acme-demo", "{}", 5),
        ("acme-demo", '{"type":"reel"}', 6),
        ("rival", "{}", 7),
    ]


# -- pruning -----------------------------------------------------------------------------------


async def test_maintain_deletes_day_totals_of_days_before_the_daily_retention(
    tmp_path: Path,
) -> None:
    retention = Retention(raw=timedelta(days=1), hourly=timedelta(days=2), daily=timedelta(days=5))
    now = END_A + 10 * 3600  # 10:00 on the day after DAY_A
    store = await Store.open(tmp_path / "history.db", retention)
    try:
        # Totals of DAY_A and the eight days before it, each polled at 23:55.
        await store.write(
            [one_d(float(back), END_A - back * DAY - 5 * MINUTE) for back in range(9)]
        )
        stats = await store.maintain(now)
        # The daily cut is 00:00 five days before now's day: days that ended by then go.
        cut_day = DAY_A + timedelta(days=1) - timedelta(days=5)
        kept = [back for back in range(9) if DAY_A - timedelta(days=back) >= cut_day]
        assert stats.day_totals_deleted == 9 - len(kept)
        assert [(day, value) for _, _, day, value, _ in day_totals(store.path)] == [
            (day_number(DAY_A - timedelta(days=back)), float(back)) for back in reversed(kept)
        ]
        # Folding took every raw sample but DAY_A's (the raw cut is 10:00 on DAY_A) and left
        # the day totals alone: they go by the daily retention only.
        assert stats.raw_folded == 8
        assert len(kept) == 5
        again = await store.maintain(now)
        assert again.day_totals_deleted == 0
    finally:
        await store.close()


# -- the migration from version 1 ---------------------------------------------------------------


def version_1_file(path: Path) -> sqlite3.Connection:
    """A version-1 history file built from the first migration, left open for filling."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    return conn


def add_series(conn: sqlite3.Connection, series_id: int, metric: str, window: str) -> None:
    conn.execute(
        "INSERT INTO series (id, account, platform, metric, win, dims)"
        " VALUES (?, 'acme-demo', 'demo', ?, ?, '{}')",
        (series_id, metric, window),
    )


async def test_migrating_a_version_1_file_fills_day_totals(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = version_1_file(path)
    add_series(conn, 1, "likes", "1d")
    add_series(conn, 2, "likes", "7d")
    add_series(conn, 3, "followers", "")
    day_b = DAY_A - timedelta(days=40)  # folded to hourly rows long ago
    end_b = END_A - 40 * DAY
    day_c = DAY_A - timedelta(days=200)  # folded to a daily row
    end_c = END_A - 200 * DAY
    raw = [
        (1, END_A - 10 * MINUTE, 1.0),
        (1, END_A + 5 * MINUTE, 2.0),  # the nearest
        (1, END_A + 40 * MINUTE, 3.0),
        (2, END_A, 50.0),  # a 7d series: no day totals
        (3, END_A, 60.0),  # no window: no day totals
    ]
    conn.executemany("INSERT INTO samples_raw VALUES (?, ?, ?)", raw)
    hourly = [  # (series, bucket, last value, its time): only the last value is a sample
        (1, end_b - 3600, 20.0, end_b - 2 * MINUTE),
        (1, end_b, 21.0, end_b + 50 * MINUTE),
        (2, end_b - 3600, 70.0, end_b - MINUTE),
    ]
    conn.executemany(
        "INSERT INTO samples_hourly VALUES (?, ?, ?, ?, 0, 0, 0, 1)",
        hourly,
    )
    conn.execute(
        "INSERT INTO samples_daily VALUES (1, ?, 30.0, ?, 0, 0, 0, 1)",
        (end_c - DAY, end_c - 20 * MINUTE),
    )
    conn.close()

    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert day_totals(path) == [
        ("likes", "1d", day_number(day_c), 30.0, 20 * MINUTE),
        ("likes", "1d", day_number(day_b), 20.0, 2 * MINUTE),
        ("likes", "1d", day_number(DAY_A), 2.0, 5 * MINUTE),
    ]


# Timestamps around midnights and noons, also before 1970, where truncation and floor differ.
RULE_TIMESTAMPS = [
    END_A - 12 * 3600,  # noon exactly
    END_A - 12 * 3600 - 0.5,
    END_A - 5 * MINUTE,
    END_A + 5 * MINUTE,  # equal distance, later in time
    END_A + 0.25,
    END_A + DAY,
    END_A + 1.5 * DAY,  # noon of the next day
    -3 * DAY - 12 * 3600,  # noon before 1970
    -3 * DAY - 12 * 3600 + 1,
    -3 * DAY - 12 * 3600 - 1,
    -DAY - 300,
    -DAY + 300,
    -0.5,
    0.0,
    7 * 3600.0,
]


async def test_the_migration_files_samples_as_writing_them_does(tmp_path: Path) -> None:
    """The SQL rule of the migration and the rule of Store.write agree, sample for sample."""
    samples = [
        (float(index), timestamp)
        for index, timestamp in enumerate(sorted(RULE_TIMESTAMPS))  # written in time order
    ]
    written = tmp_path / "written.db"
    store = await Store.open(written)
    for value, timestamp in samples:
        await store.write([one_d(value, timestamp)])
    await store.close()

    migrated = tmp_path / "migrated.db"
    conn = version_1_file(migrated)
    add_series(conn, 1, "likes", "1d")
    conn.executemany("INSERT INTO samples_raw VALUES (1, ?, ?)", [(t, v) for v, t in samples])
    conn.close()
    store = await Store.open(migrated)
    await store.close()

    assert day_totals(migrated) == day_totals(written)
    # The days ending at the nearest midnights: around DAY_A, and 4, 3, 1 days and 0 days
    # after 1970-01-01 00:00 counted backwards (days -5, -4, -2, -1).
    around_a = {day_number(DAY_A) + offset for offset in (-1, 0, 1, 2)}
    assert {day for _, _, day, _, _ in day_totals(written)} == around_a | {-5, -4, -2, -1}
