"""The ``youtube`` platform against a fake Google API on loopback.

Bodies follow the documented shapes: channels.list / playlistItems.list / videos.list of the
Data API v3 (counts as strings), the Analytics v2 result table (columnHeaders + rows), Google
error bodies ``{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`` and the
OAuth token endpoint. The clock stands still at NOW, a Tuesday 13:00 in Los Angeles (PDT).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest
import time_machine

import kpiwatch
from kpiwatch.testing import CollectRun, FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.youtube import PLATFORM, kpiwatch_register_platforms
from kpiwatch_platforms.youtube.settings import YouTubeSettings

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 13:00 PDT; DST began on 2026-03-08
#: Seconds from NOW to the next midnight in Los Angeles (2026-03-11 07:00 UTC).
TO_PT_MIDNIGHT = 11 * 3600.0
CHANNEL = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
UPLOADS = "UU_x5XG1OV2P6uZZ5FSM9Ttw"
KEY = "AIzaSy-test-key-0123456789"
REFRESH = "1//0g-original-refresh"
CHANNELS = "/youtube/v3/channels"
PLAYLIST = "/youtube/v3/playlistItems"
VIDEOS = "/youtube/v3/videos"
REPORTS = "/v2/reports"
TOKEN = "/token"
ALL_METRICS = "views,likes,comments,shares,subscribersGained,subscribersLost"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(api: FakeApi, *, oauth: bool = True, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "channel_id": CHANNEL,
        "api_key": KEY,
        "api_url": f"{api.url}/youtube/v3",
        "analytics_url": f"{api.url}/v2",
    }
    if oauth:
        values["oauth"] = {
            "client_id": "123-abc.apps.googleusercontent.com",
            "client_secret": "GOCSPX-secret",
            "refresh_token": REFRESH,
            "token_url": f"{api.url}{TOKEN}",
        }
    return values | extra


def google_error(code: int, reason: str, message: str, domain: str = "global") -> Reply:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return Reply(json=body, status=code)


def channel_body(**statistics: Any) -> dict[str, Any]:
    stats = {
        "viewCount": "123456",
        "subscriberCount": "1500",
        "hiddenSubscriberCount": False,
        "videoCount": "87",
    } | statistics
    return {
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
        "items": [
            {
                "kind": "youtube#channel",
                "id": CHANNEL,
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}},
                "statistics": {k: v for k, v in stats.items() if v is not None},
            }
        ],
    }


def playlist_page(uploads: list[tuple[str, str]], next_token: str | None = None) -> dict:
    body: dict[str, Any] = {
        "kind": "youtube#playlistItemListResponse",
        "items": [
            {
                "kind": "youtube#playlistItem",
                "id": f"item-{video_id}",
                "contentDetails": {"videoId": video_id, "videoPublishedAt": published},
            }
            for video_id, published in uploads
        ],
        "pageInfo": {"totalResults": 87, "resultsPerPage": 50},
    }
    if next_token:
        body["nextPageToken"] = next_token
    return body


def video(video_id: str, published: str, live: str = "none", **statistics: str) -> dict:
    return {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {
            "publishedAt": published,
            "channelId": CHANNEL,
            "title": f"video {video_id}",
            "liveBroadcastContent": live,
        },
        "statistics": {"favoriteCount": "0", **statistics},
    }


def videos_body(*items: dict) -> dict:
    return {"kind": "youtube#videoListResponse", "items": list(items)}


HEADERS = [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}]


def report(metrics: list[str], rows: list[list[Any]]) -> dict:
    columns = [{"name": m, "columnType": "METRIC", "dataType": "INTEGER"} for m in metrics]
    return {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": HEADERS + columns,
        "rows": rows,
    }


REPORT = report(
    ALL_METRICS.split(","),
    [["2026-03-07", 410, 22, 5, 3, 12, 2], ["2026-03-08", 520, 30, 7, 4, 15, 1]],
)
#: The end of 2026-03-07 in Los Angeles (PST) and of 2026-03-08 (PDT from that day on).
END_MAR_7 = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
END_MAR_8 = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)


def token_reply(access: str, refresh: str | None = None) -> dict:
    body = {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}
    return body | ({"refresh_token": refresh} if refresh else {})


def serve_channel(api: FakeApi) -> None:
    """A channel with three recent videos on one page, and its Analytics."""
    api.add("GET", CHANNELS, channel_body())
    api.add(
        "GET",
        PLAYLIST,
        playlist_page(
            [
                ("vidLive0001", "2026-03-10T18:00:00Z"),
                ("vidLaunch01", "2026-03-09T16:00:00Z"),
                ("vidNoLikes1", "2026-03-01T10:00:00Z"),
                ("vidOld00001", "2026-01-05T09:00:00Z"),  # older than recent_days (28)
            ]
        ),
    )
    api.add(
        "GET",
        VIDEOS,
        videos_body(
            video("vidLaunch01", "2026-03-09T16:00:00Z", viewCount="1200", likeCount="80",
                  commentCount="12"),
            video("vidNoLikes1", "2026-03-01T10:00:00Z", viewCount="540", commentCount="3"),
            video("vidLive0001", "2026-03-10T18:00:00Z", live="live", viewCount="75",
                  likeCount="9"),
        ),
    )  # fmt: skip
    api.add("POST", TOKEN, token_reply("ya29.first"))
    api.add("GET", REPORTS, REPORT)


#: The window sums of serve_channel's videos, by hand: the live stream 2 h old (75 views, 9
#: likes, comments off), the launch 28 h old (1200, 80, 12), the video with hidden likes 9 days
#: old (540 views, 3 comments); the playlist ends, so every window up to recent_days (28) is
#: read. In the last day no video carries comments: none are reported.
POSTS_PUBLISHED = {("posts_published", "1d", 1), ("posts_published", "7d", 2),
                   ("posts_published", "28d", 3)}  # fmt: skip
VIDEO_SUMS = {
    ("video_views", "1d", 75),
    ("video_views", "7d", 75 + 1200),
    ("video_views", "28d", 75 + 1200 + 540),
    ("likes", "1d", 9),
    ("likes", "7d", 9 + 80),
    ("likes", "28d", 9 + 80),
    ("comments", "7d", 12),
    ("comments", "28d", 12 + 3),
}


def window_rows(run: CollectRun) -> set[tuple[str, str | None, float]]:
    """The samples of the poll time with a window, as (metric, window, value)."""
    return {(s.metric, s.window, s.value) for s in run.samples if s.window and not s.timestamp}


def sample_rows(run: CollectRun) -> list[tuple[str, float, str | None, datetime | None]]:
    """Every sample as (metric, value, window, timestamp), sorted."""
    return sorted(
        ((s.metric, s.value, s.window, s.timestamp) for s in run.samples),
        key=lambda row: (row[0], row[3] or NOW),
    )


# a normal poll ------------------------------------------------------------------------------


async def test_a_poll_reads_statistics_videos_and_analytics(fake_api: FakeApi) -> None:
    serve_channel(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    expected: list[tuple[str, float, str | None, datetime | None]] = [
        ("followers", 1500, None, None),
        ("posts", 87, None, None),
        ("posts_published", 1, "1d", None),
        ("posts_published", 2, "7d", None),
        ("posts_published", 3, "28d", None),
    ]
    for day_end, values in (
        (END_MAR_7, (410, 22, 5, 3, 12, 2)),
        (END_MAR_8, (520, 30, 7, 4, 15, 1)),
    ):
        for metric, value in zip(
            ("video_views", "likes", "comments", "shares", "followers_gained", "followers_lost"),
            values,
            strict=True,
        ):
            expected.append((metric, value, "1d", day_end))
    assert sample_rows(run) == sorted(expected, key=lambda row: (row[0], row[3] or NOW))
    assert run.posts == [
        kpiwatch.Post(
            "vidLive0001",
            datetime(2026, 3, 10, 18, tzinfo=UTC),
            "live",
            {"video_views": 75, "likes": 9},  # comments turned off: no commentCount
            "https://www.youtube.com/watch?v=vidLive0001",
        ),
        kpiwatch.Post(
            "vidLaunch01",
            datetime(2026, 3, 9, 16, tzinfo=UTC),
            "video",
            {"video_views": 1200, "likes": 80, "comments": 12},
            "https://www.youtube.com/watch?v=vidLaunch01",
        ),
        kpiwatch.Post(
            "vidNoLikes1",
            datetime(2026, 3, 1, 10, tzinfo=UTC),
            "video",
            {"video_views": 540, "comments": 3},  # likes hidden: no likeCount
            "https://www.youtube.com/watch?v=vidNoLikes1",
        ),
    ]
    # what was asked, and how
    (channels,) = fake_api.calls(CHANNELS)
    assert channels.query == {"part": "statistics,contentDetails", "id": CHANNEL, "key": KEY}
    (playlist,) = fake_api.calls(PLAYLIST)
    assert playlist.query == {
        "part": "contentDetails",
        "playlistId": UPLOADS,
        "maxResults": "50",
        "key": KEY,
    }
    (videos,) = fake_api.calls(VIDEOS)
    assert videos.query == {
        "part": "statistics,snippet",
        "id": "vidLive0001,vidLaunch01,vidNoLikes1",
        "key": KEY,
    }
    (token,) = fake_api.calls(TOKEN)
    assert token.form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "123-abc.apps.googleusercontent.com",
        "client_secret": "GOCSPX-secret",
    }
    (reports,) = fake_api.calls(REPORTS)
    assert reports.query == {
        "ids": f"channel=={CHANNEL}",
        "startDate": "2026-02-10",  # 28 days up to yesterday in Los Angeles
        "endDate": "2026-03-09",
        "metrics": ALL_METRICS,
        "dimensions": "day",
        "sort": "day",
    }
    assert reports.headers["Authorization"] == "Bearer ya29.first"
    assert "key" not in reports.query  # the API key is not sent to Analytics


async def test_the_poll_cost_three_data_api_units(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    limits = ApiLimits()

    first = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    second = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    # channels + playlistItems + videos, 1 unit each; the Analytics report spends none
    assert first.outcome.quota == (10_000 - 3, 10_000)
    assert second.outcome.quota == (10_000 - 6, 10_000)


async def test_the_next_poll_rereads_only_the_last_days_and_keeps_the_token(
    fake_api: FakeApi,
) -> None:
    serve_channel(fake_api)
    state: dict[str, Any] = {}

    await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert second.ok
    assert state["analytics_last_day"] == "2026-03-08"
    _, second_report = fake_api.calls(REPORTS)
    assert second_report.query["startDate"] == "2026-03-05"  # three days before the last
    assert second_report.query["endDate"] == "2026-03-09"
    assert len(fake_api.calls(TOKEN)) == 1  # the access token is valid for an hour
    assert second_report.headers["Authorization"] == "Bearer ya29.first"


async def test_a_handle_is_looked_up_with_for_handle(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    values = settings(fake_api, oauth=False) | {"handle": "GoogleDevelopers"}
    del values["channel_id"]

    run = await run_collect(PLATFORM, values)

    assert run.ok
    (channels,) = fake_api.calls(CHANNELS)
    assert channels.query["forHandle"] == "@GoogleDevelopers"
    assert "id" not in channels.query


async def test_a_hidden_subscriber_count_gives_no_followers(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    fake_api.add("GET", CHANNELS, channel_body(subscriberCount=None, hiddenSubscriberCount=True))

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    assert run.ok
    run.assert_no_metric("followers")
    run.assert_metric("posts", 87)
    assert run.outcome.removed == {}  # hidden by the owner, not removed by YouTube


async def test_a_competitor_gets_public_data_only(fake_api: FakeApi) -> None:
    serve_channel(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    assert run.ok
    assert {(s.metric, s.value) for s in run.samples if s.window is None} == {
        ("followers", 1500),
        ("posts", 87),
    }
    assert window_rows(run) == POSTS_PUBLISHED | VIDEO_SUMS  # from the videos: no Analytics
    assert len(run.samples) == 2 + len(POSTS_PUBLISHED | VIDEO_SUMS)
    assert [p.id for p in run.posts] == ["vidLive0001", "vidLaunch01", "vidNoLikes1"]
    assert fake_api.calls(REPORTS) == [] and fake_api.calls(TOKEN) == []


async def test_with_an_api_key_only_the_videos_give_the_window_sums(fake_api: FakeApi) -> None:
    serve_channel(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    assert run.ok, run.outcome.message
    assert window_rows(run) == POSTS_PUBLISHED | VIDEO_SUMS
    assert all(s.timestamp is None for s in run.samples)
    assert {s.metric for s in run.samples} <= set(PLATFORM.metrics)


async def test_with_analytics_the_daily_totals_are_the_only_views_likes_and_comments(
    fake_api: FakeApi,
) -> None:
    serve_channel(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert window_rows(run) == POSTS_PUBLISHED  # no sums by publication time beside Analytics
    for metric in ("video_views", "likes", "comments"):
        assert {(s.window, s.timestamp) for s in run.samples if s.metric == metric} == {
            ("1d", END_MAR_7),
            ("1d", END_MAR_8),
        }


async def test_without_api_key_the_data_api_uses_the_owner_token(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    values = settings(fake_api)
    del values["api_key"]

    run = await run_collect(PLATFORM, values)

    assert run.ok
    for path in (CHANNELS, PLAYLIST, VIDEOS, REPORTS):
        (call,) = fake_api.calls(path)
        assert "key" not in call.query
        assert call.headers["Authorization"] == "Bearer ya29.first"
    assert len(fake_api.calls(TOKEN)) == 1


# pagination ---------------------------------------------------------------------------------


def day(n: int) -> str:
    """An RFC 3339 time ``n`` hours before NOW."""
    return (NOW - timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_uploads_are_paged_and_videos_asked_in_batches_of_50(fake_api: FakeApi) -> None:
    recent = [(f"vid{n:08d}", day(n + 1)) for n in range(60)]  # the last 60 hours
    old = [(f"old{n:08d}", f"2026-01-0{n + 1}T00:00:00Z") for n in range(3)]
    fake_api.add("GET", CHANNELS, channel_body())
    fake_api.add("GET", PLAYLIST, playlist_page(recent[:50], "CDIQAA"))
    fake_api.add(
        "GET", PLAYLIST, playlist_page(recent[50:] + old, "CGQQAA"), query={"pageToken": "CDIQAA"}
    )
    fake_api.add("GET", PLAYLIST, playlist_page(old, "CJYBEAA"), query={"pageToken": "CGQQAA"})
    fake_api.add(
        "GET",
        VIDEOS,
        videos_body(*(video(v, p, viewCount=str(i)) for i, (v, p) in enumerate(recent[:50]))),
        videos_body(*(video(v, p, viewCount=str(50 + i)) for i, (v, p) in enumerate(recent[50:]))),
    )  # fmt: skip

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False, max_videos=100))

    assert run.ok, run.outcome.message
    # the third page holds nothing recent: paging stops although it names a next page
    assert [c.query.get("pageToken") for c in fake_api.calls(PLAYLIST)] == [
        None,
        "CDIQAA",
        "CGQQAA",
    ]
    first, second = fake_api.calls(VIDEOS)
    assert first.query["id"].split(",") == [v for v, _ in recent[:50]]
    assert second.query["id"].split(",") == [v for v, _ in recent[50:]]
    assert [(p.id, p.metrics["video_views"]) for p in run.posts] == [
        (v, float(i)) for i, (v, _) in enumerate(recent)
    ]
    assert run.outcome.quota == (10_000 - 6, 10_000)  # 1 channel + 3 pages + 2 batches
    # video n is n + 1 hours old with n views: the last day holds n = 0..23 (the one of exactly
    # 24 h included), the week and the 28 days all 60; no video carries likes or comments
    assert window_rows(run) == {
        ("posts_published", "1d", 24),
        ("posts_published", "7d", 60),
        ("posts_published", "28d", 60),
        ("video_views", "1d", sum(range(24))),
        ("video_views", "7d", sum(range(60))),
        ("video_views", "28d", sum(range(60))),
    }


async def test_max_videos_stops_paging(fake_api: FakeApi) -> None:
    recent = [(f"vid{n:08d}", day(n + 1)) for n in range(5)]
    fake_api.add("GET", CHANNELS, channel_body())
    fake_api.add("GET", PLAYLIST, playlist_page(recent, "CDIQAA"))
    fake_api.add("GET", VIDEOS, videos_body(*(video(v, p, viewCount="1") for v, p in recent[:2])))

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False, max_videos=2))

    assert run.ok
    assert len(fake_api.calls(PLAYLIST)) == 1
    (videos,) = fake_api.calls(VIDEOS)
    assert videos.query["id"] == "vid00000000,vid00000001"
    assert [p.id for p in run.posts] == ["vid00000000", "vid00000001"]
    assert window_rows(run) == set()  # read back 2 hours only: no window is complete


async def test_max_videos_gives_only_the_windows_read_back_past(fake_api: FakeApi) -> None:
    uploads = [("vidA", day(2)), ("vidB", day(30)), ("vidC", day(24 * 10)), ("vidD", day(24 * 20))]
    fake_api.add("GET", CHANNELS, channel_body())
    fake_api.add("GET", PLAYLIST, playlist_page(uploads))
    fake_api.add(
        "GET",
        VIDEOS,
        videos_body(*(video(v, p, viewCount=str(10**i), likeCount="1")
                      for i, (v, p) in enumerate(uploads[:3]))),
    )  # fmt: skip

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False, max_videos=3))

    assert run.ok, run.outcome.message
    # the third video, 10 days old, is the oldest read: 1d and 7d are complete, 28d is not
    assert window_rows(run) == {
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 2),
        ("video_views", "1d", 1),
        ("video_views", "7d", 1 + 10),
        ("likes", "1d", 1),
        ("likes", "7d", 2),
    }


async def test_a_channel_without_videos_reports_zero_sums(fake_api: FakeApi) -> None:
    fake_api.add("GET", CHANNELS, channel_body(videoCount="0"))

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False, recent_days=7))

    assert run.ok, run.outcome.message
    assert fake_api.calls(PLAYLIST) == []
    assert window_rows(run) == {
        (metric, window, 0)
        for metric in ("posts_published", "video_views", "likes", "comments")
        for window in ("1d", "7d")  # recent_days 7: no 28d window
    }


# rate limits and quota ----------------------------------------------------------------------


async def test_429_is_rate_limited_for_the_retry_after_seconds(fake_api: FakeApi) -> None:
    limited = google_error(429, "rateLimitExceeded", "Too many requests.", "usageLimits")
    fake_api.add(
        "GET", CHANNELS, Reply(json=limited.json, status=429, headers={"Retry-After": "30"})
    )

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 30
    assert len(fake_api.calls(CHANNELS)) == 1  # not retried inside the poll


async def test_403_user_rate_limit_is_rate_limited(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        CHANNELS,
        google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded.", "usageLimits"),
    )

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after is None  # Google sends no reset time: the scheduler backs off
    assert "userRateLimitExceeded" in (run.outcome.message or "")


async def test_403_quota_exceeded_stops_polls_until_midnight_pacific(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        CHANNELS,
        google_error(
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
            "youtube.quota",
        ),
    )
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api, oauth=False), limits=limits)

    run.assert_failed("quota_exhausted")
    assert run.outcome.retry_after == TO_PT_MIDNIGHT
    assert run.outcome.quota == (0, 10_000)
    assert "/youtube/v3/channels" in (run.outcome.message or "")
    again.assert_failed("quota_exhausted")
    assert again.outcome.retry_after == TO_PT_MIDNIGHT
    assert len(fake_api.calls(CHANNELS)) == 1  # the second poll sent nothing


async def test_a_call_the_budget_cannot_pay_is_not_made(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api, daily_quota=2), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api, daily_quota=2), limits=limits)

    run.assert_failed("quota_exhausted")
    assert run.outcome.retry_after == TO_PT_MIDNIGHT
    assert "1 unit(s) needed, 0 of 2 left today" in (run.outcome.message or "")
    assert [r.path for r in fake_api.requests] == [CHANNELS, PLAYLIST]  # videos.list not sent
    again.assert_failed("quota_exhausted")
    assert len(fake_api.requests) == 2  # refused before any request


# auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        google_error(400, "keyInvalid", "Bad Request", "usageLimits"),
        Reply(
            status=400,
            json={
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "errors": [{"domain": "global", "reason": "badRequest", "message": "x"}],
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                        }
                    ],
                }
            },
        ),
        google_error(403, "forbidden", "Access forbidden.", "youtube.common"),
        google_error(403, "accessNotConfigured", "YouTube Data API v3 has not been used."),
    ],
    ids=["keyInvalid", "API_KEY_INVALID", "forbidden", "accessNotConfigured"],
)
async def test_refused_credentials_are_auth(fake_api: FakeApi, reply: Reply) -> None:
    fake_api.add("GET", CHANNELS, reply)

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert message.startswith("youtube: ") and "/youtube/v3/channels" in message
    assert KEY not in message


async def test_analytics_without_permission_is_auth(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    fake_api.add(
        "GET",
        REPORTS,
        google_error(403, "insufficientPermissions", "Insufficient Permission"),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert "yt-analytics.readonly" in (run.outcome.message or "")
    assert run.outcome.quota == (10_000 - 3, 10_000)  # the Data API budget, not Analytics'


async def test_401_refreshes_the_token_and_keeps_a_returned_refresh_token(
    fake_api: FakeApi,
) -> None:
    serve_channel(fake_api)
    fake_api.add(
        "POST", TOKEN, token_reply("ya29.first"), token_reply("ya29.second", "1//0g-rotated")
    )
    unauthorized = google_error(401, "authError", "Invalid Credentials")
    fake_api.add("GET", REPORTS, REPORT, unauthorized, REPORT)
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert first.ok and second.ok, second.outcome.message
    assert second.values("video_views", window="1d") == [410, 520]
    assert [r.headers["Authorization"] for r in fake_api.calls(REPORTS)] == [
        "Bearer ya29.first",
        "Bearer ya29.first",  # refused with 401
        "Bearer ya29.second",
    ]
    assert [r.form()["refresh_token"] for r in fake_api.calls(TOKEN)] == [REFRESH, REFRESH]
    assert state["oauth"]["refresh_token"] == "1//0g-rotated"
    assert state["oauth"]["access_token"] == "ya29.second"


async def test_a_refused_refresh_token_is_auth(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    fake_api.add(
        "POST",
        TOKEN,
        Reply(
            status=400,
            json={
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            },
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert "authorise the app again" in (run.outcome.message or "")
    assert fake_api.calls(REPORTS) == []


# server errors and bad bodies ---------------------------------------------------------------


async def test_a_5xx_is_retried_within_the_poll(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    fake_api.add(
        "GET",
        CHANNELS,
        google_error(503, "backendError", "Backend Error"),
        channel_body(),
    )

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    assert run.ok, run.outcome.message
    run.assert_metric("followers", 1500)
    assert len(fake_api.calls(CHANNELS)) == 2


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    fake_api.add("GET", CHANNELS, google_error(500, "backendError", "Backend Error"))

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(CHANNELS)) == 3  # the first try and two retries


@pytest.mark.parametrize(
    ("path", "reply", "named"),
    [
        (CHANNELS, Reply(body="<html><body>Error 502</body></html>"), "not JSON"),
        (CHANNELS, channel_body(subscriberCount="1.5K"), "items[0].statistics.subscriberCount"),
        (CHANNELS, {"items": "none"}, "items is 'none'"),
        (PLAYLIST, playlist_page([("vidX", "last Tuesday")]), "videoPublishedAt"),
        (VIDEOS, videos_body({"id": "vidLaunch01", "statistics": {}}), "snippet.publishedAt"),
        (REPORTS, report(["views"], [["2026-03-08", "many"]]), "rows[0][1] (views)"),
        (REPORTS, {"kind": "youtubeAnalytics#resultTable", "rows": []}, "a 'day' column"),
    ],
    ids=["html", "count", "items", "published", "snippet", "row", "headers"],
)
async def test_a_malformed_body_is_bad_response(
    fake_api: FakeApi, path: str, reply: Any, named: str
) -> None:
    serve_channel(fake_api)
    fake_api.add("GET", path, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("youtube: ") and path in message
    assert named in message


async def test_an_unknown_channel_is_not_found(fake_api: FakeApi) -> None:
    fake_api.add("GET", CHANNELS, {"kind": "youtube#channelListResponse", "pageInfo": {}})

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    run.assert_failed("not_found")
    assert CHANNEL in (run.outcome.message or "")


# removed metrics ----------------------------------------------------------------------------


async def test_a_metric_analytics_no_longer_knows_is_disabled(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    without_shares = "views,likes,comments,subscribersGained,subscribersLost"
    fake_api.add(
        "GET",
        REPORTS,
        google_error(
            400, "badRequest", "Unknown identifier (shares) given in field parameters.metrics."
        ),
        query={"metrics": ALL_METRICS},
    )
    fake_api.add(
        "GET",
        REPORTS,
        report(without_shares.split(","), [["2026-03-08", 520, 30, 7, 15, 1]]),
        query={"metrics": without_shares},
    )
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert first.ok, first.outcome.message
    first.assert_no_metric("shares")
    for metric, value in (("video_views", 520), ("likes", 30), ("followers_gained", 15)):
        first.assert_metric(metric, value, window="1d", count=1)
    first.assert_metric("followers", 1500)
    assert list(first.outcome.removed) == ["shares"]
    assert "Unknown identifier (shares)" in first.outcome.removed["shares"]
    # the next poll does not ask for it
    assert [r.query["metrics"] for r in fake_api.calls(REPORTS)] == [
        ALL_METRICS,
        without_shares,
        without_shares,
    ]
    assert second.ok and list(second.outcome.removed) == ["shares"]


async def test_a_statistic_youtube_stops_sending_is_disabled(fake_api: FakeApi) -> None:
    serve_channel(fake_api)
    fake_api.add("GET", CHANNELS, channel_body(videoCount=None))

    run = await run_collect(PLATFORM, settings(fake_api, oauth=False))

    assert run.ok
    run.assert_no_metric("posts")
    run.assert_metric("followers", 1500)
    assert list(run.outcome.removed) == ["posts"]
    assert len(run.posts) == 3


# settings and registration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"api_key": KEY}, "exactly one of channel_id"),
        ({"channel_id": CHANNEL, "handle": "@acme", "api_key": KEY}, "exactly one of"),
        ({"channel_id": CHANNEL}, "give api_key"),
        ({"channel_id": "acme", "api_key": KEY}, "24 characters starting with UC"),
        ({"handle": "a b", "api_key": KEY}, "is not a YouTube handle"),
        ({"channel_id": CHANNEL, "api_key": KEY, "api_url": "ftp://x"}, "http(s) URL"),
        ({"channel_id": CHANNEL, "api_key": KEY, "apikey": KEY}, "Extra inputs"),
    ],
)
def test_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        YouTubeSettings.model_validate(values)

    assert says in str(error.value)


def test_the_plugin_registers_the_youtube_platform() -> None:
    registered: list[kpiwatch.Platform] = []

    kpiwatch_register_platforms(registered.append)

    assert [p.name for p in registered] == ["youtube"]
    assert registered[0].api is not None
    assert registered[0].api.daily_quota == 10_000
    assert registered[0].api.quota_timezone == "America/Los_Angeles"
