"""Window sums of the posts one poll read (kpiwatch.toolkit.windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kpiwatch.platform import Post, Sample
from kpiwatch.toolkit.windows import covered_windows, read_back_to, window_sums

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def post(ident: str, age: timedelta, **metrics: float) -> Post:
    return Post(ident, NOW - age, "text", metrics)


#: Published 2 h, 3 days, 10 days and 40 days ago; the second carries no likes.
POSTS = [
    post("a", timedelta(hours=2), likes=10, comments=1, video_views=100),
    post("b", timedelta(days=3), comments=2),
    post("c", timedelta(days=10), likes=7, comments=0),
    post("d", timedelta(days=40), likes=1000, comments=1000),
]


def table(samples: list[Sample]) -> set[tuple[str, str | None, float]]:
    assert all(s.timestamp is None and not s.dims for s in samples)
    return {(s.metric, s.window, s.value) for s in samples}


def test_sums_and_counts_per_window_by_publication_time():
    samples = window_sums(
        POSTS,
        ["posts_published", "likes", "comments", "video_views"],
        now=NOW,
        covered_since=NOW - timedelta(days=35),
    )

    assert table(samples) == {
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 2),
        ("posts_published", "28d", 3),
        ("likes", "1d", 10),
        ("likes", "7d", 10),  # b carries no likes: it adds nothing
        ("likes", "28d", 17),
        ("comments", "1d", 1),
        ("comments", "7d", 3),
        ("comments", "28d", 3),
        ("video_views", "1d", 100),
        ("video_views", "7d", 100),
        ("video_views", "28d", 100),
    }
    assert len(samples) == 12


def test_windows_the_poll_did_not_read_back_to_are_left_out():
    samples = window_sums(
        POSTS, ["posts_published", "likes"], now=NOW, covered_since=NOW - timedelta(days=5)
    )

    assert table(samples) == {("posts_published", "1d", 1), ("likes", "1d", 10)}


def test_a_window_starting_exactly_at_covered_since_counts_with_a_post_at_its_start():
    at_start = post("e", timedelta(days=7), likes=5)

    samples = window_sums([at_start], ["likes"], now=NOW, covered_since=NOW - timedelta(days=7))

    assert table(samples) == {("likes", "1d", 0), ("likes", "7d", 5)}


def test_a_metric_no_post_of_a_window_carries_is_left_out_but_an_empty_window_is_zero():
    text_only = [post("t", timedelta(days=2), likes=4)]

    samples = window_sums(
        text_only,
        ["posts_published", "likes", "video_views"],
        now=NOW,
        covered_since=NOW - timedelta(days=28),
    )

    assert table(samples) == {
        ("posts_published", "1d", 0),  # no post in the last day: every sum is a real 0
        ("likes", "1d", 0),
        ("video_views", "1d", 0),
        ("posts_published", "7d", 1),  # one post, without video views: none reported
        ("likes", "7d", 4),
        ("posts_published", "28d", 1),
        ("likes", "28d", 4),
    }


def test_only_the_metrics_asked_for_are_reported():
    samples = window_sums(POSTS, ["comments"], now=NOW, covered_since=NOW - timedelta(days=30))

    assert table(samples) == {("comments", "1d", 1), ("comments", "7d", 3), ("comments", "28d", 3)}
    assert window_sums(POSTS, [], now=NOW, covered_since=NOW - timedelta(days=30)) == []


def test_a_post_read_twice_counts_once():
    twice = [POSTS[0], POSTS[0], POSTS[1]]

    samples = window_sums(
        twice, ["posts_published", "comments"], now=NOW, covered_since=NOW - timedelta(days=7)
    )

    assert table(samples) == {
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 2),
        ("comments", "1d", 1),
        ("comments", "7d", 3),
    }


def test_covered_windows_give_each_window_start():
    assert covered_windows(NOW, NOW - timedelta(days=28)) == [
        ("1d", NOW - timedelta(days=1)),
        ("7d", NOW - timedelta(days=7)),
        ("28d", NOW - timedelta(days=28)),
    ]
    assert covered_windows(NOW, NOW - timedelta(hours=23)) == []


def test_a_listing_read_to_its_end_covers_back_to_where_it_was_asked_from():
    since = NOW - timedelta(days=7)

    assert read_back_to(since, NOW - timedelta(days=6), complete=True) == since
    assert read_back_to(since, None, complete=True) == since


def test_a_listing_cut_by_a_limit_covers_only_what_is_after_its_oldest_post():
    oldest = NOW - timedelta(days=7)  # the last post kept is exactly one week old

    covered = read_back_to(NOW - timedelta(days=28), oldest, complete=False)

    # another post of that very instant may be unread: 7d is not complete, 1d is
    assert [name for name, _ in covered_windows(NOW, covered)] == ["1d"]
    later = read_back_to(NOW - timedelta(days=28), oldest - timedelta(seconds=1), complete=False)
    assert [name for name, _ in covered_windows(NOW, later)] == ["1d", "7d"]


def test_a_listing_cut_before_any_post_was_kept_covers_nothing():
    covered = read_back_to(NOW - timedelta(days=28), None, complete=False)

    assert covered_windows(NOW, covered) == []
    assert window_sums(POSTS, ["posts_published"], now=NOW, covered_since=covered) == []


@pytest.mark.parametrize("metric", ["followers", "posts", "mentions", "likez"])
def test_a_metric_that_is_not_per_post_is_refused_naming_what_can_be_summed(metric):
    with pytest.raises(ValueError) as caught:
        window_sums(POSTS, ["likes", metric], now=NOW, covered_since=NOW)

    message = str(caught.value)
    assert f"{metric!r} cannot be summed" in message
    assert "'posts_published'" in message and "likes" in message


def test_times_without_a_zone_are_refused_naming_the_time():
    naive = datetime(2026, 3, 10, 12, 0)
    with pytest.raises(ValueError, match=r"now .* has no time zone"):
        window_sums(POSTS, ["likes"], now=naive, covered_since=NOW)
    with pytest.raises(ValueError, match=r"covered_since .* has no time zone"):
        covered_windows(NOW, naive)
    with pytest.raises(ValueError, match=r"post 'n'.* has no time zone"):
        window_sums([Post("n", naive, "text", {})], ["likes"], now=NOW, covered_since=NOW)
