"""The ``instagram`` platform against a fake Graph API on loopback.

Bodies follow Meta's documented shapes: the IG User fields, account insights with
``metric_type=total_value`` (``{"data": [{"name", "period", "total_value": {"value"}}]}``),
the media edge with ``paging.cursors``/``paging.next``, media insights (lifetime ``values``),
business discovery, Instagram Login's ``refresh_access_token``, Graph error bodies and the
``X-Business-Use-Case-Usage`` header. The clock stands still at NOW, 13:00 in Los Angeles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
import time_machine

import kpiwatch
from kpiwatch.testing import CollectRun, FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.instagram import PLATFORM, kpiwatch_register_platforms
from kpiwatch_platforms.instagram.settings import InstagramSettings

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
IG = "17841400000000001"
TOKEN = "EAAGPageTokenForIg0123"
V = "/v24.0"
ACCOUNT = f"{V}/{IG}"
INSIGHTS = f"{V}/{IG}/insights"
MEDIA = f"{V}/{IG}/media"
#: The start of 2026-03-10 in Los Angeles (PDT): the end of the windows.
UNTIL = datetime(2026, 3, 10, 7, tzinfo=UTC)
SINCE = {
    "1d": datetime(2026, 3, 9, 7, tzinfo=UTC),
    "7d": datetime(2026, 3, 3, 8, tzinfo=UTC),  # PST until 2026-03-08
    "28d": datetime(2026, 2, 10, 8, tzinfo=UTC),
}
ACCOUNT_METRICS = "views,reach,profile_views,website_clicks,total_interactions"
MEDIA_METRICS = "views,reach,saved,shares,total_interactions"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"ig_user_id": IG, "access_token": TOKEN, "base_url": api.url} | extra


def graph_error(
    status: int, code: int, message: str, subcode: int | None = None, **headers: str
) -> Reply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AxYzFbTrace"
    return Reply(json={"error": error}, status=status, headers=headers)


def window_query(window: str) -> dict[str, str]:
    return {"since": str(int(SINCE[window].timestamp()))}


def totals(values: dict[str, float], owner: str = IG) -> dict[str, Any]:
    return {
        "data": [
            {
                "name": name,
                "period": "day",
                "title": name.replace("_", " ").title(),
                "description": f"{name} over the range",
                "total_value": {"value": value},
                "id": f"{owner}/insights/{name}/day",
            }
            for name, value in values.items()
        ]
    }


WINDOW_VALUES = {
    # profile_views has no data over one day: Meta leaves it out (missing, not zero)
    "1d": {"views": 5400, "reach": 2100, "website_clicks": 12, "total_interactions": 310},
    "7d": {"views": 36000, "reach": 9800, "profile_views": 640, "website_clicks": 75,
           "total_interactions": 2050},
    "28d": {"views": 150000, "reach": 31000, "profile_views": 2700, "website_clicks": 290,
            "total_interactions": 8800},
}  # fmt: skip
VOCABULARY = {
    "views": "impressions",
    "reach": "reach",
    "profile_views": "profile_views",
    "website_clicks": "clicks",
    "total_interactions": "engagements",
}


def media_item(
    media_id: str,
    timestamp: str,
    media_type: str,
    product: str = "FEED",
    likes: int | None = None,
    comments: int = 0,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": media_id,
        "media_type": media_type,
        "media_product_type": product,
        "timestamp": timestamp,
        "permalink": f"https://www.instagram.com/p/{media_id[-6:]}/",
        "comments_count": comments,
    }
    if likes is not None:  # absent when the owner hides like counts
        item["like_count"] = likes
    return item


def media_page(items: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": "QVFIUmxtb", "after": after or "QVFIUmVuZA"}}
    if after:
        paging["next"] = (
            f"https://graph.facebook.com/v24.0/{IG}/media?access_token=OTHER"
            f"&fields=id%2Ctimestamp&limit=25&after={after}"
        )
    return {"data": items, "paging": paging}


def lifetime(media_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value}],
                "title": name.title(),
                "description": name,
                "id": f"{media_id}/insights/{name}/lifetime",
            }
            for name, value in values.items()
        ]
    }


REEL = "18000000000000001"
ALBUM = "18000000000000002"
PHOTO = "18000000000000003"
MEDIA_INSIGHTS = {
    REEL: {"views": 9100, "reach": 6100, "saved": 40, "shares": 75, "total_interactions": 980},
    ALBUM: {"views": 2300, "reach": 1500, "saved": 22, "shares": 4, "total_interactions": 260},
    PHOTO: {"views": 800, "reach": 640, "saved": 3, "shares": 1, "total_interactions": 61},
}
BUC = json.dumps(
    {IG: [{"type": "instagram", "call_count": 20, "total_cputime": 5, "total_time": 9,
           "estimated_time_to_regain_access": 0}]}
)  # fmt: skip


def serve_account(api: FakeApi, version: str = V) -> None:
    api.add(
        "GET",
        f"{version}/{IG}",
        Reply(
            json={"id": IG, "username": "acme", "followers_count": 12800, "follows_count": 310,
                  "media_count": 842},
            headers={"X-Business-Use-Case-Usage": BUC},
        ),
    )  # fmt: skip
    for window, values in WINDOW_VALUES.items():
        api.add("GET", f"{version}/{IG}/insights", totals(values), query=window_query(window))
    api.add(
        "GET",
        f"{version}/{IG}/media",
        media_page(
            [
                media_item(REEL, "2026-03-09T17:00:00+0000", "VIDEO", "REELS", 900, 31),
                media_item(ALBUM, "2026-03-04T12:00:00+0000", "CAROUSEL_ALBUM", likes=230,
                           comments=9),
                media_item(PHOTO, "2026-02-20T08:30:00+0000", "IMAGE", comments=2),
            ]
        ),
    )  # fmt: skip
    for media_id, values in MEDIA_INSIGHTS.items():
        api.add("GET", f"{version}/{media_id}/insights", lifetime(media_id, values))


Row = tuple[str, float, str | None, datetime | None]


def sample_rows(run: CollectRun) -> list[Row]:
    return sorted(
        ((s.metric, s.value, s.window, s.timestamp) for s in run.samples),
        key=lambda row: (row[0], row[2] or "", row[1]),
    )


def expected_rows(skip: tuple[str, ...] = ()) -> list[Row]:
    rows: list[Row] = [
        ("followers", 12800, None, None),
        ("following", 310, None, None),
        ("posts", 842, None, None),
    ]
    for window, values in WINDOW_VALUES.items():
        rows += [
            (VOCABULARY[name], value, window, UNTIL)
            for name, value in values.items()
            if name not in skip and f"{name}:{window}" not in skip
        ]
    return sorted(rows, key=lambda row: (row[0], row[2] or "", row[1]))


def insight_metrics(values: dict[str, float]) -> dict[str, float]:
    names = {"views": "impressions", "reach": "reach", "saved": "saves", "shares": "shares",
             "total_interactions": "engagements"}  # fmt: skip
    return {names[name]: value for name, value in values.items()}


# a normal poll ------------------------------------------------------------------------------


async def test_a_poll_reads_counts_insights_and_media(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    assert sample_rows(run) == expected_rows()
    run.assert_metric("reach", 2100, window="1d", count=1)
    assert run.values("profile_views", window="1d") == []  # no data: no sample, not 0
    assert (
        run.posts
        == [
            kpiwatch.Post(
                REEL,
                datetime(2026, 3, 9, 17, tzinfo=UTC),
                "reel",
                {"likes": 900, "comments": 31, **insight_metrics(MEDIA_INSIGHTS[REEL])},
                f"https://www.instagram.com/p/{REEL[-6:]}/",
            ),
            kpiwatch.Post(
                ALBUM,
                datetime(2026, 3, 4, 12, tzinfo=UTC),
                "carousel",
                {"likes": 230, "comments": 9, **insight_metrics(MEDIA_INSIGHTS[ALBUM])},
                f"https://www.instagram.com/p/{ALBUM[-6:]}/",
            ),
            kpiwatch.Post(
                PHOTO,
                datetime(2026, 2, 20, 8, 30, tzinfo=UTC),
                "image",
                {"comments": 2, **insight_metrics(MEDIA_INSIGHTS[PHOTO])},  # likes hidden
                f"https://www.instagram.com/p/{PHOTO[-6:]}/",
            ),
        ]
    )
    assert run.outcome.rate_limit is not None and run.outcome.rate_limit.remaining == 80


async def test_the_requests_ask_what_the_readme_says(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    await run_collect(PLATFORM, settings(fake_api))

    (account,) = fake_api.calls(ACCOUNT)
    assert account.query == {
        "fields": "id,username,followers_count,follows_count,media_count",
        "access_token": TOKEN,
    }
    assert [c.query for c in fake_api.calls(INSIGHTS)] == [
        {
            "metric": ACCOUNT_METRICS,
            "metric_type": "total_value",
            "period": "day",
            "since": str(int(SINCE[window].timestamp())),
            "until": str(int(UNTIL.timestamp())),
            "access_token": TOKEN,
        }
        for window in ("1d", "7d", "28d")
    ]
    (media,) = fake_api.calls(MEDIA)
    assert media.query["fields"] == (
        "id,media_type,media_product_type,timestamp,permalink,like_count,comments_count"
    )
    assert media.query["limit"] == "25"
    (insights,) = fake_api.calls(f"{V}/{REEL}/insights")
    assert insights.query == {"metric": MEDIA_METRICS, "access_token": TOKEN}


async def test_a_video_in_the_feed_is_a_video(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    video = "18000000000000009"
    fake_api.add(
        "GET",
        MEDIA,
        media_page([media_item(video, "2026-03-08T10:00:00+0000", "VIDEO", likes=5)]),
    )
    fake_api.add("GET", f"{V}/{video}/insights", lifetime(video, {"reach": 50}))

    run = await run_collect(PLATFORM, settings(fake_api))

    assert [(p.content_type, dict(p.metrics)) for p in run.posts] == [
        ("video", {"likes": 5, "comments": 0, "reach": 50})
    ]


async def test_without_media_insights_posts_carry_public_counts(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api, media_insights=False))

    assert [dict(p.metrics) for p in run.posts] == [
        {"likes": 900, "comments": 31},
        {"likes": 230, "comments": 9},
        {"comments": 2},
    ]
    assert not any(r.path.endswith("/insights") and r.path != INSIGHTS for r in fake_api.requests)


async def test_a_media_with_too_few_viewers_has_no_insights(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        f"{V}/{PHOTO}/insights",
        graph_error(400, 10, "(#10) Not enough viewers for the media to show insights"),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert dict(run.posts[2].metrics) == {"comments": 2}
    assert run.outcome.removed == {}


# competitors --------------------------------------------------------------------------------


async def test_a_competitor_is_read_through_business_discovery(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        {
            "business_discovery": {
                "followers_count": 45100,
                "follows_count": 120,
                "media_count": 1530,
                "media": {
                    "data": [
                        media_item("17900000000000001", "2026-03-10T09:00:00+0000", "VIDEO",
                                   "REELS", 4100, 88),
                        media_item("17900000000000002", "2026-03-07T09:00:00+0000", "IMAGE",
                                   comments=12),
                    ],
                    "paging": {"cursors": {"after": "QVFIUnh"}},
                },
                "id": "17841400000000999",
            },
            "id": IG,
        },
    )  # fmt: skip

    run = await run_collect(PLATFORM, settings(fake_api, username="@rival.brand"), competitor=True)

    assert run.ok, run.outcome.message
    assert sample_rows(run) == [
        ("followers", 45100, None, None),
        ("following", 120, None, None),
        ("posts", 1530, None, None),
    ]
    assert [(p.id, p.content_type, dict(p.metrics)) for p in run.posts] == [
        ("17900000000000001", "reel", {"likes": 4100, "comments": 88}),
        ("17900000000000002", "image", {"comments": 12}),
    ]
    (call,) = fake_api.requests
    assert call.query["fields"] == (
        "business_discovery.username(rival.brand){followers_count,follows_count,media_count,"
        "media.limit(25){id,media_type,media_product_type,timestamp,permalink,like_count,"
        "comments_count}}"
    )


async def test_a_competitor_without_username_says_what_to_write(fake_api: FakeApi) -> None:
    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    assert not run.ok and run.reason == "error"
    assert "give settings.username" in (run.outcome.message or "")
    assert fake_api.requests == []


async def test_an_unknown_competitor_is_not_found(fake_api: FakeApi) -> None:
    fake_api.add("GET", ACCOUNT, {"id": IG})

    run = await run_collect(PLATFORM, settings(fake_api, username="nobody"), competitor=True)

    run.assert_failed("not_found")
    assert "@nobody" in (run.outcome.message or "")


# pagination ---------------------------------------------------------------------------------


async def test_media_follow_paging_next(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    first = [
        media_item(f"1800000000000{n:04d}", f"2026-03-09T{n % 24:02d}:00:00+0000", "IMAGE",
                   likes=n)
        for n in range(25)
    ]  # fmt: skip
    second = [
        media_item(f"1800000000001{n:04d}", "2026-03-01T10:00:00+0000", "IMAGE", likes=100 + n)
        for n in range(2)
    ]
    fake_api.add("GET", MEDIA, media_page(first, after="QVFIUkZAC"))
    fake_api.add("GET", MEDIA, media_page(second), query={"after": "QVFIUkZAC"})

    run = await run_collect(PLATFORM, settings(fake_api, media_insights=False, max_posts=50))

    assert run.ok, run.outcome.message
    one, two = fake_api.calls(MEDIA)
    assert "after" not in one.query
    assert (two.query["after"], two.query["access_token"]) == ("QVFIUkZAC", TOKEN)
    assert [p.metrics["likes"] for p in run.posts] == [*range(25), 100, 101]


# rate limits --------------------------------------------------------------------------------


async def test_code_4_on_http_403_is_rate_limited(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        graph_error(
            403,
            4,
            "(#4) Application request limit reached",
            **{"X-App-Usage": '{"call_count":100,"total_cputime":12,"total_time":20}'},
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert "Graph error 4" in (run.outcome.message or "")
    assert len(fake_api.calls(ACCOUNT)) == 1


async def test_instagram_buc_80002_waits_and_refuses_the_next_poll(fake_api: FakeApi) -> None:
    usage = json.dumps(
        {IG: [{"type": "instagram", "call_count": 100, "total_cputime": 31, "total_time": 44,
               "estimated_time_to_regain_access": 42}]}
    )  # fmt: skip
    serve_account(fake_api)
    fake_api.add(
        "GET",
        INSIGHTS,
        graph_error(
            400,
            80002,
            "(#80002) There have been too many calls to this Instagram account. Wait a bit and "
            "try again.",
            2207051,
            **{"X-Business-Use-Case-Usage": usage},
        ),
    )
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 42 * 60
    again.assert_failed("rate_limited")
    assert again.outcome.retry_after == 42 * 60
    assert len(fake_api.requests) == 2  # account + insights; the second poll sent nothing


# auth and token refresh ---------------------------------------------------------------------


async def test_an_expired_token_190_is_auth(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        graph_error(
            400, 190, "Error validating access token: The session has been invalidated.", 460
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert "Graph error 190/460" in message and TOKEN not in message


async def test_instagram_login_refreshes_the_token_when_due(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        "/refresh_access_token",
        {"access_token": "IGAArefreshed456", "token_type": "bearer", "expires_in": 5184000},
    )
    values = settings(fake_api, login="instagram", access_token="IGAAoriginal123")
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, values, state=state)
    state["ig_token"]["refreshed_at"] -= 8 * 86400  # eight days later...
    second = await run_collect(PLATFORM, values, state=state)
    third = await run_collect(PLATFORM, values, state=state)

    assert first.ok and second.ok and third.ok, second.outcome.message
    (refresh,) = fake_api.calls("/refresh_access_token")
    assert refresh.query == {"grant_type": "ig_refresh_token", "access_token": "IGAAoriginal123"}
    tokens = [c.query["access_token"] for c in fake_api.calls(ACCOUNT)]
    assert tokens == ["IGAAoriginal123", "IGAArefreshed456", "IGAArefreshed456"]
    assert state["ig_token"]["access_token"] == "IGAArefreshed456"
    assert state["ig_token"]["expires_at"] == NOW.timestamp() + 5184000


async def test_a_new_configured_token_replaces_the_kept_one(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    state: dict[str, Any] = {}
    await run_collect(
        PLATFORM, settings(fake_api, login="instagram", access_token="IGAAold"), state=state
    )

    run = await run_collect(
        PLATFORM, settings(fake_api, login="instagram", access_token="IGAAnew"), state=state
    )

    assert run.ok
    assert fake_api.calls(ACCOUNT)[-1].query["access_token"] == "IGAAnew"
    assert fake_api.calls("/refresh_access_token") == []


async def test_a_refused_refresh_of_an_expired_token_is_auth(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        "/refresh_access_token",
        graph_error(400, 190, "Error validating access token: Session has expired.", 463),
    )
    values = settings(fake_api, login="instagram", access_token="IGAAexpired", token_refresh_days=1)
    state = {"ig_token": {}}
    await run_collect(PLATFORM, values, state=state)
    state["ig_token"]["refreshed_at"] -= 2 * 86400

    run = await run_collect(PLATFORM, values, state=state)

    run.assert_failed("auth")
    assert "/refresh_access_token" in (run.outcome.message or "")


def test_instagram_login_uses_the_instagram_host() -> None:
    parsed = InstagramSettings.model_validate(
        {"ig_user_id": IG, "access_token": "IGAA123", "login": "instagram"}
    )

    assert parsed.base_url == "https://graph.instagram.com"


# server errors and bad bodies ---------------------------------------------------------------


async def test_a_5xx_then_recovery_within_the_poll(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        INSIGHTS,
        Reply(body="upstream connect error", status=503),
        totals(WINDOW_VALUES["1d"]),
        query=window_query("1d"),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert sample_rows(run) == expected_rows()
    assert len(fake_api.calls(INSIGHTS)) == 4


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    fake_api.add("GET", ACCOUNT, Reply(body="Service Unavailable", status=503))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(ACCOUNT)) == 3


@pytest.mark.parametrize(
    ("path", "reply", "named"),
    [
        (ACCOUNT, Reply(body="<!DOCTYPE html><html>Error</html>"), "not JSON"),
        (ACCOUNT, {"id": IG, "followers_count": -3}, "followers_count is -3"),
        (INSIGHTS, {"data": [{"name": "reach", "total_value": 7}]}, "total_value is 7"),
        (INSIGHTS, {"data": "none"}, "data is 'none'"),
        (MEDIA, media_page([{"id": REEL, "media_type": "VIDEO"}]), "timestamp"),
        (f"{V}/{REEL}/insights", lifetime(REEL, {"reach": "n/a"}), "values[0].value"),
    ],
    ids=["html", "count", "total_value", "data", "timestamp", "media-insight"],
)
async def test_a_malformed_body_is_bad_response(
    fake_api: FakeApi, path: str, reply: Any, named: str
) -> None:
    serve_account(fake_api)
    fake_api.add("GET", path, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("instagram: ") and path in message
    assert named in message


# removed metrics ----------------------------------------------------------------------------

V21_ACCOUNT = "impressions,reach,profile_views,website_clicks,total_interactions"


async def test_impressions_refused_since_2025_is_disabled_and_the_rest_read(
    fake_api: FakeApi,
) -> None:
    """An account still on the v21.0 list: Meta names the refused metric in its message."""
    v21 = "/v21.0"
    serve_account(fake_api, v21)
    refused = graph_error(
        400,
        100,
        "(#100) Starting from version 22 and above, the impressions metric is no longer "
        "supported for the queried user. Please refer to the documentation at "
        "https://developers.facebook.com/docs/instagram-api/reference/ig-user/insights for a "
        "list of supported metrics.",
    )
    fake_api.add("GET", f"{v21}/{IG}/insights", refused, query={"metric": V21_ACCOUNT})
    fake_api.add(
        "GET",
        f"{v21}/{REEL}/insights",
        graph_error(
            400,
            100,
            "(#100) metric[0] must be one of the following values: reach, views, saved, "
            "shares, total_interactions, likes, comments, plays",
        ),
        query={"metric": "impressions,reach,saved,shares,total_interactions,plays"},
    )
    image_refusal = graph_error(
        400,
        100,
        "(#100) The Media Insights API does not support the plays metric for this media "
        "product type.",
    )
    for media_id in (ALBUM, PHOTO):
        fake_api.add(
            "GET",
            f"{v21}/{media_id}/insights",
            image_refusal,
            query={"metric": "reach,saved,shares,total_interactions,plays"},
        )
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, settings(fake_api, api_version="v21.0"), state=state)
    second = await run_collect(PLATFORM, settings(fake_api, api_version="v21.0"), state=state)

    assert first.ok, first.outcome.message
    assert sorted(first.outcome.removed) == ["impressions", "media:impressions"]
    assert "no longer supported" in first.outcome.removed["impressions"]
    assert (
        "asks views for impressions instead: set api_version: v24.0"
        in (first.outcome.removed["impressions"])
    )
    assert sample_rows(first) == expected_rows(skip=("views",))
    # the reel served plays, the photo and album do not have it: not removed, not asked again
    assert dict(first.posts[1].metrics) == {
        "likes": 230, "comments": 9, "reach": 1500, "saves": 22, "shares": 4, "engagements": 260
    }  # fmt: skip
    album_asks = [c.query["metric"] for c in fake_api.calls(f"{v21}/{ALBUM}/insights")]
    photo_asks = [c.query["metric"] for c in fake_api.calls(f"{v21}/{PHOTO}/insights")]
    assert album_asks[:2] == [
        "reach,saved,shares,total_interactions,plays",
        "reach,saved,shares,total_interactions",
    ]
    assert photo_asks[0] == "reach,saved,shares,total_interactions"  # plays known unsupported
    assert second.ok and sorted(second.outcome.removed) == ["impressions", "media:impressions"]
    account_asks = [c.query["metric"] for c in fake_api.calls(f"{v21}/{IG}/insights")]
    assert account_asks[-1] == "reach,profile_views,website_clicks,total_interactions"


async def test_a_metric_without_a_28_day_total_is_disabled_for_that_window(
    fake_api: FakeApi,
) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        INSIGHTS,
        graph_error(400, 100, "(#100) metric[1] must be one of the following values: views"),
        query={**window_query("28d"), "metric": ACCOUNT_METRICS},
    )
    without = "views,profile_views,website_clicks,total_interactions"
    fake_api.add(
        "GET",
        INSIGHTS,
        totals({k: v for k, v in WINDOW_VALUES["28d"].items() if k != "reach"}),
        query={**window_query("28d"), "metric": without},
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert list(run.outcome.removed) == ["reach:28d"]
    assert sample_rows(run) == expected_rows(skip=("reach:28d",))


# settings and registration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"access_token": TOKEN}, "ig_user_id"),
        ({"ig_user_id": "acme", "access_token": TOKEN}, "is not an Instagram account ID"),
        ({"ig_user_id": IG, "access_token": TOKEN, "username": "a b"}, "not an Instagram username"),
        ({"ig_user_id": IG, "access_token": TOKEN, "login": "tiktok"}, "'facebook' or 'instagram'"),
        ({"ig_user_id": IG, "access_token": TOKEN, "api_version": "v20.0"}, "older than v21.0"),
        ({"ig_user_id": IG, "access_token": TOKEN, "max_posts": 0}, "greater than or equal"),
        ({"ig_user_id": IG, "access_token": TOKEN, "igid": IG}, "Extra inputs"),
    ],
)
def test_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        InstagramSettings.model_validate(values)

    assert says in str(error.value)


def test_the_plugin_registers_the_instagram_platform() -> None:
    registered: list[kpiwatch.Platform] = []

    kpiwatch_register_platforms(registered.append)

    assert [p.name for p in registered] == ["instagram"]
    assert registered[0].api is not None and registered[0].api.rate_limit_headers == "meta"
