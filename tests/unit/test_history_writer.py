"""The history writer batches polls into one store write and keeps a batch whose write failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kpiwatch import Post, Sample
from kpiwatch.history import HistoryWriter
from kpiwatch.store import Store

POLLED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def add_poll(writer: HistoryWriter, account: str, followers: float) -> None:
    writer.add(
        account,
        "demo_photo",
        POLLED,
        [
            Sample("followers", followers),
            Sample("impressions", 50, "1d"),
            Sample("followers", followers - 10, timestamp=POLLED - timedelta(days=1)),
        ],
        [Post("p1", POLLED - timedelta(hours=5), "reel", {"likes": 3})],
        {"cursor": f"{account}-c1"},
    )


async def test_one_flush_writes_every_poll_with_its_times(tmp_path):
    store = await Store.open(tmp_path / "h.db")
    try:
        writer = HistoryWriter(store, flush_interval=60)
        add_poll(writer, "a", 100)
        add_poll(writer, "b", 200)
        assert await writer.flush() > 0
        assert len(writer.pending) == 0
        latest = await store.latest()
        followers = {
            s.account: s for rows in latest.values() for s in rows if s.metric == "followers"
        }
        assert followers["a"].value == 100 and followers["a"].timestamp == POLLED.timestamp()
        history = await store.series("a", "followers", resolution="raw")
        assert history == [
            ((POLLED - timedelta(days=1)).timestamp(), 90.0),
            (POLLED.timestamp(), 100.0),
        ]
        assert (await store.states())["b"] == ("demo_photo", {"cursor": "b-c1"})
        posts = await store.posts("a")
        assert [(p.post_id, p.content_type, dict(p.metrics)) for p in posts] == [
            ("p1", "reel", {"likes": 3})
        ]
        assert await writer.flush() == 0  # nothing pending
    finally:
        await store.close()


async def test_a_failed_write_is_kept_and_written_later(tmp_path):
    path = tmp_path / "h.db"
    store = await Store.open(path)
    writer = HistoryWriter(store, flush_interval=60)
    add_poll(writer, "a", 100)
    await store.close()  # the write cannot go through now
    assert await writer.flush() == 0
    assert writer.failed_writes == 1
    add_poll(writer, "b", 200)  # more arrives meanwhile
    writer.store = await Store.open(path)
    try:
        assert await writer.flush() > 0
        latest = await writer.store.latest()
        assert {"a", "b"} <= set(latest)
    finally:
        await writer.store.close()
