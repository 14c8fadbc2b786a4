"""The ``facebook`` platform against a fake Graph API on loopback.

Bodies follow Meta's documented shapes: the Page object, ``/insights`` answers
(``{"data": [{"name", "period", "values": [{"value", "end_time"}], "title", "id"}],
"paging": {...}}``), the posts edge with ``paging.cursors`` and ``paging.next``, Graph error
bodies ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` and the
usage headers ``X-App-Usage`` and ``X-Business-Use-Case-Usage``. The clock stands still at
NOW, a Tuesday 13:00 in Los Angeles (PDT), so Meta's days end at 07:00 UTC.
"""

from __future__ import annotations

import hashlib
import hmac
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
from kpiwatch_platforms.facebook import PLATFORM, kpiwatch_register_platforms
from kpiwatch_platforms.facebook.settings import FacebookSettings

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
PAGE = "104000000000001"
TOKEN = "EAAPageToken0123456789"
V = "/v24.0"
PAGE_PATH = f"{V}/{PAGE}"
INSIGHTS = f"{V}/{PAGE}/insights"
POSTS = f"{V}/{PAGE}/posts"
#: The ends of 2026-03-08 and 2026-03-09 in Los Angeles (PDT since 2026-03-08).
END_MAR_8 = "2026-03-09T07:00:00+0000"
END_MAR_9 = "2026-03-10T07:00:00+0000"
AT_MAR_8 = datetime(2026, 3, 9, 7, tzinfo=UTC)
AT_MAR_9 = datetime(2026, 3, 10, 7, tzinfo=UTC)
DAILY = (
    "page_media_view,page_total_media_view_unique,page_post_engagements,page_views_total,"
    "page_total_actions,page_follows"
)
ROLLING = (
    "page_media_view,page_total_media_view_unique,page_post_engagements,page_views_total,"
    "page_total_actions"
)
POST_METRICS = "post_media_view,post_total_media_view_unique,post_clicks"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"page_id": PAGE, "access_token": TOKEN, "base_url": api.url} | extra


def graph_error(
    status: int, code: int, message: str, subcode: int | None = None, **headers: str
) -> Reply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AbCdEfGhIjK"
    return Reply(json={"error": error}, status=status, headers=headers)


INVALID_METRIC = "(#100) The value must be a valid insights metric"


def series(name: str, period: str, *points: tuple[float, str]) -> dict[str, Any]:
    return {
        "name": name,
        "period": period,
        "values": [{"value": value, "end_time": end} for value, end in points],
        "title": name.replace("_", " ").title(),
        "description": f"{name} ({period})",
        "id": f"{PAGE}/insights/{name}/{period}",
    }


def insights(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": list(items),
        "paging": {
            "previous": f"https://graph.facebook.com/v24.0/{PAGE}/insights?since=1&until=2",
            "next": f"https://graph.facebook.com/v24.0/{PAGE}/insights?since=3&until=4",
        },
    }


DAY_VALUES = {
    "page_media_view": (1200, 1500),
    "page_total_media_view_unique": (800, 950),
    "page_post_engagements": (64, 71),
    "page_views_total": (30, 41),
    "page_total_actions": (5, 9),
    "page_follows": (5100, 5118),
}
WEEK_VALUES = {
    "page_media_view": 9100,
    "page_total_media_view_unique": 4200,
    "page_post_engagements": 430,
    "page_views_total": 210,
    "page_total_actions": 44,
}
MONTH_VALUES = {name: value * 4 for name, value in WEEK_VALUES.items()}
VOCABULARY = {
    "page_media_view": "impressions",
    "page_total_media_view_unique": "reach",
    "page_post_engagements": "engagements",
    "page_views_total": "profile_views",
    "page_total_actions": "clicks",
    "page_follows": "followers",
}


def day_insights(names: list[str] | None = None) -> dict[str, Any]:
    return insights(
        *(
            series(name, "day", (first, END_MAR_8), (second, END_MAR_9))
            for name, (first, second) in DAY_VALUES.items()
            if names is None or name in names
        )
    )


def rolling_insights(period: str, values: dict[str, float]) -> dict[str, Any]:
    return insights(*(series(name, period, (value, END_MAR_9)) for name, value in values.items()))


def post(
    post_id: str,
    created: str,
    *,
    reactions: int,
    comments: int,
    shares: int | None = None,
    media_type: str | None = None,
    permalink: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": post_id,
        "created_time": created,
        "permalink_url": permalink or f"https://www.facebook.com/{post_id.replace('_', '/posts/')}",
        "status_type": "added_photos" if media_type == "photo" else "mobile_status_update",
        "reactions": {"data": [], "summary": {"total_count": reactions, "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": comments}},
    }
    if shares is not None:
        item["shares"] = {"count": shares}
    if media_type is not None:
        item["attachments"] = {"data": [{"media_type": media_type, "type": media_type}]}
    return item


def posts_page(items: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": "QVFIUmJlZAm9yZA", "after": after or "end"}}
    if after:
        paging["next"] = (
            f"https://graph.facebook.com/v24.0/{PAGE}/posts?access_token=SOMEONE-ELSES"
            f"&fields=id%2Ccreated_time&limit=25&after={after}"
        )
    return {"data": items, "paging": paging}


POST_A = f"{PAGE}_900000000000001"
POST_B = f"{PAGE}_900000000000002"
POST_C = f"{PAGE}_900000000000003"


def post_insights(views: int, reach: int, clicks: int) -> dict[str, Any]:
    return {
        "data": [
            series("post_media_view", "lifetime", (views, "")),
            series("post_total_media_view_unique", "lifetime", (reach, "")),
            series("post_clicks", "lifetime", (clicks, "")),
        ]
    }


def lifetime(item: dict[str, Any]) -> dict[str, Any]:
    """Lifetime values come without an end_time."""
    item["values"] = [{"value": point["value"]} for point in item["values"]]
    return item


def post_insights_body(views: int, reach: int, clicks: int) -> dict[str, Any]:
    body = post_insights(views, reach, clicks)
    body["data"] = [lifetime(item) for item in body["data"]]
    return body


BUC_OK = json.dumps(
    {PAGE: [{"type": "pages", "call_count": 12, "total_cputime": 3, "total_time": 7,
             "estimated_time_to_regain_access": 0}]}
)  # fmt: skip


def serve_page(api: FakeApi) -> None:
    """A Page with insights and three recent posts on one page."""
    headers = {"X-Business-Use-Case-Usage": BUC_OK}
    api.add(
        "GET",
        PAGE_PATH,
        Reply(json={"id": PAGE, "name": "Acme", "followers_count": 5120}, headers=headers),
    )
    api.add("GET", INSIGHTS, Reply(json=day_insights(), headers=headers), query={"period": "day"})
    api.add("GET", INSIGHTS, rolling_insights("week", WEEK_VALUES), query={"period": "week"})
    api.add("GET", INSIGHTS, rolling_insights("days_28", MONTH_VALUES), query={"period": "days_28"})
    api.add(
        "GET",
        POSTS,
        posts_page(
            [
                post(POST_A, "2026-03-10T15:00:00+0000", reactions=40, comments=6, shares=3,
                     media_type="photo"),
                post(POST_B, "2026-03-05T09:30:00+0000", reactions=12, comments=0),
                post(POST_C, "2026-03-01T18:00:00+0000", reactions=90, comments=14, shares=20,
                     media_type="video",
                     permalink=f"https://www.facebook.com/reel/{POST_C.split('_')[1]}"),
            ]
        ),
    )  # fmt: skip
    api.add("GET", f"{V}/{POST_A}/insights", post_insights_body(700, 520, 33))
    api.add("GET", f"{V}/{POST_B}/insights", post_insights_body(150, 140, 2))
    api.add("GET", f"{V}/{POST_C}/insights", post_insights_body(4000, 2600, 120))


Row = tuple[str, float, str | None, datetime | None]


def sample_rows(run: CollectRun) -> list[Row]:
    """Every sample as (metric, value, window, timestamp), sorted."""
    return sorted(
        ((s.metric, s.value, s.window, s.timestamp) for s in run.samples),
        key=lambda row: (row[0], row[2] or "", row[3] or NOW),
    )


def expected_insight_rows(skip: tuple[str, ...] = ()) -> list[Row]:
    rows: list[Row] = []
    for name, (first, second) in DAY_VALUES.items():
        if name in skip:
            continue
        window = None if name == "page_follows" else "1d"
        rows += [(VOCABULARY[name], first, window, AT_MAR_8)]
        rows += [(VOCABULARY[name], second, window, AT_MAR_9)]
    for window, values in (("7d", WEEK_VALUES), ("28d", MONTH_VALUES)):
        rows += [(VOCABULARY[n], v, window, AT_MAR_9) for n, v in values.items() if n not in skip]
    return rows


def sort_rows(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (row[0], row[2] or "", row[3] or NOW))


# a normal poll ------------------------------------------------------------------------------


async def test_a_poll_reads_followers_insights_and_posts(fake_api: FakeApi) -> None:
    serve_page(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    assert sample_rows(run) == sort_rows(
        [("followers", 5120, None, None), *expected_insight_rows()]
    )
    assert run.posts == [
        kpiwatch.Post(
            POST_A,
            datetime(2026, 3, 10, 15, tzinfo=UTC),
            "image",
            {"likes": 40, "comments": 6, "shares": 3, "impressions": 700, "reach": 520,
             "clicks": 33},
            f"https://www.facebook.com/{PAGE}/posts/900000000000001",
        ),
        kpiwatch.Post(
            POST_B,
            datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
            "text",
            {"likes": 12, "comments": 0, "shares": 0, "impressions": 150, "reach": 140,
             "clicks": 2},
            f"https://www.facebook.com/{PAGE}/posts/900000000000002",
        ),
        kpiwatch.Post(
            POST_C,
            datetime(2026, 3, 1, 18, tzinfo=UTC),
            "reel",
            {"likes": 90, "comments": 14, "shares": 20, "impressions": 4000, "reach": 2600,
             "clicks": 120},
            "https://www.facebook.com/reel/900000000000003",
        ),
    ]  # fmt: skip
    # the usage header: 12 % of the Page's budget used
    assert run.outcome.rate_limit is not None
    assert (run.outcome.rate_limit.limit, run.outcome.rate_limit.remaining) == (100, 88)


async def test_the_requests_ask_what_the_readme_says(fake_api: FakeApi) -> None:
    serve_page(fake_api)

    await run_collect(PLATFORM, settings(fake_api))

    (page,) = fake_api.calls(PAGE_PATH)
    assert page.query == {"fields": "id,name,followers_count", "access_token": TOKEN}
    day, week, month = fake_api.calls(INSIGHTS)
    assert day.query == {
        "period": "day",
        "since": "2026-02-10",  # 28 days before today in Los Angeles
        "until": "2026-03-10",
        "metric": DAILY,
        "access_token": TOKEN,
    }
    assert week.query == day.query | {"period": "week", "since": "2026-03-08", "metric": ROLLING}
    assert month.query == week.query | {"period": "days_28"}
    (posts,) = fake_api.calls(POSTS)
    assert posts.query["limit"] == "25"
    assert posts.query["since"] == str(int(datetime(2026, 2, 10, 20, tzinfo=UTC).timestamp()))
    assert "reactions.limit(0).summary(total_count)" in posts.query["fields"]
    (insight,) = fake_api.calls(f"{V}/{POST_A}/insights")
    assert insight.query == {"period": "lifetime", "metric": POST_METRICS, "access_token": TOKEN}


async def test_the_next_poll_reads_only_the_last_days(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    state: dict[str, Any] = {}

    await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert second.ok
    assert state["insights_last_day"] == "2026-03-10"
    days = [c.query["since"] for c in fake_api.calls(INSIGHTS) if c.query["period"] == "day"]
    assert days == ["2026-02-10", "2026-03-06"]  # then from 3 days before the last day read


async def test_an_app_secret_adds_the_appsecret_proof(fake_api: FakeApi) -> None:
    serve_page(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api, app_secret="s3cr3t-app"))

    assert run.ok
    proof = hmac.new(b"s3cr3t-app", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert {r.query.get("appsecret_proof") for r in fake_api.requests} == {proof}


async def test_a_competitor_page_gives_public_data_only(fake_api: FakeApi) -> None:
    serve_page(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    assert run.ok
    assert sample_rows(run) == [("followers", 5120, None, None)]
    assert [(p.id, dict(p.metrics)) for p in run.posts] == [
        (POST_A, {"likes": 40, "comments": 6, "shares": 3}),
        (POST_B, {"likes": 12, "comments": 0, "shares": 0}),
        (POST_C, {"likes": 90, "comments": 14, "shares": 20}),
    ]
    assert {r.path for r in fake_api.requests} == {PAGE_PATH, POSTS}


async def test_without_post_insights_no_post_is_asked_for_insights(fake_api: FakeApi) -> None:
    serve_page(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api, post_insights=False))

    assert run.ok
    assert all(not r.path.endswith("/insights") or r.path == INSIGHTS for r in fake_api.requests)
    assert dict(run.posts[0].metrics) == {"likes": 40, "comments": 6, "shares": 3}


# pagination ---------------------------------------------------------------------------------


async def test_posts_follow_paging_next_with_the_accounts_own_token(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    first = [
        post(f"{PAGE}_8000000000000{n:02d}", f"2026-03-{9 - n // 10:02d}T{n % 10:02d}:00:00+0000",
             reactions=n, comments=1)
        for n in range(25)
    ]  # fmt: skip
    second = [
        post(
            f"{PAGE}_8000000000001{n:02d}",
            "2026-03-06T10:00:00+0000",
            reactions=100 + n,
            comments=2,
        )
        for n in range(3)
    ] + [post(f"{PAGE}_700000000000001", "2026-01-02T10:00:00+0000", reactions=1, comments=0)]
    fake_api.add("GET", POSTS, posts_page(first, after="QVFIUkNUR0"))
    fake_api.add("GET", POSTS, posts_page(second, after="QVFIUkZAB"), query={"after": "QVFIUkNUR0"})

    run = await run_collect(PLATFORM, settings(fake_api, post_insights=False, max_posts=100))

    assert run.ok, run.outcome.message
    one, two = fake_api.calls(POSTS)
    assert "after" not in one.query
    assert two.query["after"] == "QVFIUkNUR0"
    assert two.query["access_token"] == TOKEN  # never the token written into the link
    assert two.query["fields"] == "id,created_time"  # the rest of the link's query
    # the post older than 28 days ends the paging although a next page is named
    assert [p.metrics["likes"] for p in run.posts] == [*range(25), 100, 101, 102]
    assert len(fake_api.calls(POSTS)) == 2


async def test_max_posts_stops_paging(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    items = [
        post(f"{PAGE}_80000000000000{n}", f"2026-03-09T0{n}:00:00+0000", reactions=n, comments=0)
        for n in range(5)
    ]
    fake_api.add("GET", POSTS, posts_page(items, after="QVFIUkNUR0"))

    run = await run_collect(PLATFORM, settings(fake_api, post_insights=False, max_posts=2))

    assert [p.metrics["likes"] for p in run.posts] == [0, 1]
    assert len(fake_api.calls(POSTS)) == 1
    assert fake_api.calls(POSTS)[0].query["limit"] == "2"


# rate limits --------------------------------------------------------------------------------


async def test_code_4_on_http_403_is_rate_limited(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        PAGE_PATH,
        graph_error(
            403,
            4,
            "(#4) Application request limit reached",
            **{"X-App-Usage": '{"call_count":100,"total_cputime":35,"total_time":41}'},
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after is None  # the app's hour rolls: the scheduler backs off
    assert "Graph error 4" in (run.outcome.message or "")
    assert run.outcome.rate_limit is not None and run.outcome.rate_limit.remaining == 0
    assert len(fake_api.calls(PAGE_PATH)) == 1  # throttling is not retried within the poll


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 17, "(#17) User request limit reached"),
        (400, 32, "(#32) Page request limit reached"),
        (400, 613, "(#613) Calls to this api have exceeded the rate limit."),
        (429, 4, "(#4) Application request limit reached"),
    ],
)
async def test_every_throttling_code_is_rate_limited(
    fake_api: FakeApi, status: int, code: int, message: str
) -> None:
    fake_api.add("GET", PAGE_PATH, graph_error(status, code, message))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert f"Graph error {code}" in (run.outcome.message or "")


async def test_buc_80001_waits_for_the_regain_time_and_refuses_the_next_poll(
    fake_api: FakeApi,
) -> None:
    usage = json.dumps(
        {PAGE: [{"type": "pages", "call_count": 100, "total_cputime": 24, "total_time": 31,
                 "estimated_time_to_regain_access": 15}]}
    )  # fmt: skip
    fake_api.add(
        "GET",
        PAGE_PATH,
        graph_error(
            400,
            80001,
            "(#80001) There have been too many calls to this Page account. Wait a bit and try "
            "again. For more info, please refer to https://developers.facebook.com/docs/graph-api"
            "/overview/rate-limiting.",
            2494055,
            **{"X-Business-Use-Case-Usage": usage},
        ),
    )
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 15 * 60
    assert run.outcome.rate_limit is not None
    assert run.outcome.rate_limit.reset_at == NOW.timestamp() + 15 * 60
    again.assert_failed("rate_limited")
    assert again.outcome.retry_after == 15 * 60
    assert len(fake_api.calls(PAGE_PATH)) == 1  # the second poll sent nothing


# auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401])
async def test_an_expired_token_190_is_auth(fake_api: FakeApi, status: int) -> None:
    fake_api.add(
        "GET",
        PAGE_PATH,
        graph_error(
            status,
            190,
            "Error validating access token: Session has expired on Monday, 09-Mar-26 10:00:00 "
            "PDT. The current time is Tuesday, 10-Mar-26 13:00:00 PDT.",
            463,
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert "Graph error 190/463" in message and "make a new one" in message
    assert message.startswith("facebook: ") and PAGE_PATH in message
    assert TOKEN not in message
    assert len(fake_api.calls(PAGE_PATH)) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (10, "(#10) This endpoint requires the 'read_insights' permission"),
        (200, "(#200) Requires pages_read_engagement permission to manage the object"),
    ],
)
async def test_a_missing_permission_is_auth(fake_api: FakeApi, code: int, message: str) -> None:
    serve_page(fake_api)
    fake_api.add("GET", INSIGHTS, graph_error(403, code, message))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert "lacks a permission" in (run.outcome.message or "")


async def test_an_unknown_page_is_not_found(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        PAGE_PATH,
        graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{PAGE}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation.",
            33,
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("not_found")
    assert "check the ID" in (run.outcome.message or "")


# server errors and bad bodies ---------------------------------------------------------------


async def test_a_5xx_then_recovery_within_the_poll(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    fake_api.add(
        "GET",
        PAGE_PATH,
        Reply(body="<html><body>502 Bad Gateway</body></html>", status=502),
        {"id": PAGE, "followers_count": 5120},
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert [s.value for s in run.samples if s.metric == "followers" and not s.timestamp] == [5120]
    assert len(fake_api.calls(PAGE_PATH)) == 2


async def test_a_transient_graph_error_is_retried(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    transient = graph_error(500, 2, "An unexpected error has occurred. Please retry your request.")
    fake_api.add("GET", PAGE_PATH, transient, {"id": PAGE, "followers_count": 5120})

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert len(fake_api.calls(PAGE_PATH)) == 2


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    fake_api.add("GET", PAGE_PATH, graph_error(503, 1, "An unknown error occurred"))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(PAGE_PATH)) == 3  # the first try and two retries


@pytest.mark.parametrize(
    ("path", "reply", "named"),
    [
        (PAGE_PATH, Reply(body="<html>Sorry, something went wrong.</html>"), "not JSON"),
        (PAGE_PATH, {"id": PAGE, "followers_count": "many"}, "followers_count is 'many'"),
        (PAGE_PATH, [PAGE], "the body is"),
        (
            INSIGHTS,
            insights(series("page_media_view", "day", ("lots", END_MAR_9))),
            "data[0].values[0].value",
        ),
        (
            INSIGHTS,
            insights(series("page_media_view", "day", (5, "yesterday"))),
            "data[0].values[0].end_time",
        ),
        (POSTS, posts_page([{"id": POST_A, "created_time": 1741600000}]), "created_time"),
        (POSTS, {"data": [], "paging": {"next": 42}}, "paging.next"),
    ],
    ids=["html", "count", "list", "value", "end_time", "created", "next"],
)
async def test_a_malformed_body_is_bad_response(
    fake_api: FakeApi, path: str, reply: Any, named: str
) -> None:
    serve_page(fake_api)
    fake_api.add("GET", path, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("facebook: ") and path in message
    assert named in message


# removed metrics ----------------------------------------------------------------------------

OLD_DAILY = (
    "page_impressions,page_impressions_unique,page_post_engagements,page_views_total,"
    "page_total_actions,page_fans"
)


async def test_the_2025_removals_disable_the_old_metrics_and_keep_the_rest(
    fake_api: FakeApi,
) -> None:
    """An account still on the v21.0 list: Meta refuses page_impressions, page_impressions_unique
    and page_fans without naming them; each metric is asked alone to find them."""
    v21 = "/v21.0"
    fake_api.add("GET", f"{v21}/{PAGE}", {"id": PAGE, "followers_count": 5120})
    fake_api.add("GET", f"{v21}/{PAGE}/posts", {"data": []})
    invalid = graph_error(400, 100, INVALID_METRIC)
    fake_api.add("GET", f"{v21}/{PAGE}/insights", invalid, query={"period": "day"})
    served = {
        "page_post_engagements": (64, 71),
        "page_views_total": (30, 41),
        "page_total_actions": (5, 9),
    }
    for name, (first, second) in served.items():
        body = insights(series(name, "day", (first, END_MAR_8), (second, END_MAR_9)))
        fake_api.add("GET", f"{v21}/{PAGE}/insights", body, query={"period": "day", "metric": name})
    survivors = "page_post_engagements,page_views_total,page_total_actions"
    fake_api.add(
        "GET",
        f"{v21}/{PAGE}/insights",
        insights(*(series(n, "day", (v[0], END_MAR_8), (v[1], END_MAR_9)) for n, v in
                   served.items())),
        query={"period": "day", "metric": survivors},
    )  # fmt: skip
    for period in ("week", "days_28"):
        fake_api.add(
            "GET",
            f"{v21}/{PAGE}/insights",
            rolling_insights(period, {n: WEEK_VALUES[n] for n in served}),
            query={"period": period},
        )
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, settings(fake_api, api_version="v21.0"), state=state)
    second = await run_collect(PLATFORM, settings(fake_api, api_version="v21.0"), state=state)

    assert first.ok, first.outcome.message
    assert sorted(first.outcome.removed) == [
        "page_fans",
        "page_impressions",
        "page_impressions_unique",
    ]
    assert INVALID_METRIC in first.outcome.removed["page_fans"]
    assert (
        "asks page_follows for followers instead: set api_version: v24.0"
        in (first.outcome.removed["page_fans"])
    )
    assert "asks page_media_view" in first.outcome.removed["page_impressions"]
    first.assert_no_metric("impressions")
    first.assert_no_metric("reach")
    first.assert_metric("followers", 5120, count=1)  # the Page field, not the removed series
    first.assert_metric("engagements", window="1d", count=2)
    first.assert_metric("engagements", 430, window="7d")
    assert first.values("profile_views", window="1d") == [30, 41]
    # the first poll asked all, then each alone; the next poll asks the survivors only
    daily = [c.query["metric"] for c in fake_api.calls(f"{v21}/{PAGE}/insights")
             if c.query["period"] == "day"]  # fmt: skip
    assert daily == [OLD_DAILY, *OLD_DAILY.split(","), survivors]
    assert second.ok and sorted(second.outcome.removed) == sorted(first.outcome.removed)
    assert second.values("profile_views", window="1d") == [30, 41]


async def test_a_metric_meta_names_is_removed_without_asking_each_alone(
    fake_api: FakeApi,
) -> None:
    serve_page(fake_api)
    without = DAILY.replace("page_views_total,", "")
    fake_api.add(
        "GET",
        INSIGHTS,
        graph_error(400, 100, "(#100) The metric page_views_total is no longer supported"),
        query={"period": "day", "metric": DAILY},
    )
    fake_api.add(
        "GET",
        INSIGHTS,
        day_insights([n for n in DAY_VALUES if n != "page_views_total"]),
        query={"period": "day", "metric": without},
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert list(run.outcome.removed) == ["page_views_total"]
    assert sample_rows(run) == sort_rows(
        [("followers", 5120, None, None), *expected_insight_rows(skip=("page_views_total",))]
    )
    day_calls = [c for c in fake_api.calls(INSIGHTS) if c.query["period"] == "day"]
    assert [c.query["metric"] for c in day_calls] == [DAILY, without]


async def test_a_metric_without_a_week_is_disabled_for_that_period_only(
    fake_api: FakeApi,
) -> None:
    serve_page(fake_api)
    refused = graph_error(400, 100, "(#100) Invalid period for this metric")
    fake_api.add("GET", INSIGHTS, refused, query={"period": "week"})
    for name, value in WEEK_VALUES.items():
        if name != "page_total_actions":
            fake_api.add(
                "GET",
                INSIGHTS,
                rolling_insights("week", {name: value}),
                query={"period": "week", "metric": name},
            )
    fake_api.add("GET", INSIGHTS, refused, query={"period": "week", "metric": "page_total_actions"})
    four = ROLLING.replace(",page_total_actions", "")
    fake_api.add(
        "GET",
        INSIGHTS,
        rolling_insights("week", {n: v for n, v in WEEK_VALUES.items() if n in four}),
        query={"period": "week", "metric": four},
    )
    state: dict[str, Any] = {}

    run = await run_collect(PLATFORM, settings(fake_api), state=state)
    again = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert list(run.outcome.removed) == ["page_total_actions:week"]
    run.assert_metric("clicks", window="1d", count=2)
    run.assert_metric("clicks", 44 * 4, window="28d")
    assert run.values("clicks", window="7d") == []
    run.assert_metric("reach", 4200, window="7d")
    weekly = [c.query["metric"] for c in fake_api.calls(INSIGHTS) if c.query["period"] == "week"]
    assert weekly == [ROLLING, *ROLLING.split(","), four]  # the next poll asks the four
    assert again.ok and list(again.outcome.removed) == ["page_total_actions:week"]
    again.assert_metric("reach", 4200, window="7d")


async def test_a_removed_post_metric_is_not_asked_for_the_other_posts(fake_api: FakeApi) -> None:
    serve_page(fake_api)
    both = "post_media_view,post_total_media_view_unique"
    for post_id, (views, reach) in ((POST_A, (700, 520)), (POST_B, (150, 140)), (POST_C, (9, 8))):
        path = f"{V}/{post_id}/insights"
        view, unique = post_insights_body(views, reach, 0)["data"][:2]
        fake_api.add("GET", path, graph_error(400, 100, INVALID_METRIC))
        fake_api.add("GET", path, {"data": [view]}, query={"metric": "post_media_view"})
        fake_api.add(
            "GET", path, {"data": [unique]}, query={"metric": "post_total_media_view_unique"}
        )
        fake_api.add("GET", path, {"data": [view, unique]}, query={"metric": both})

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert list(run.outcome.removed) == ["post_clicks"]
    assert [dict(p.metrics) for p in run.posts] == [
        {"likes": 40, "comments": 6, "shares": 3, "impressions": 700, "reach": 520},
        {"likes": 12, "comments": 0, "shares": 0, "impressions": 150, "reach": 140},
        {"likes": 90, "comments": 14, "shares": 20, "impressions": 9, "reach": 8},
    ]
    assert [c.query["metric"] for c in fake_api.calls(f"{V}/{POST_A}/insights")] == [
        POST_METRICS,
        *POST_METRICS.split(","),
    ]
    assert [c.query["metric"] for c in fake_api.calls(f"{V}/{POST_B}/insights")] == [both]


async def test_a_removed_metric_is_asked_again_after_a_week_and_restored(
    fake_api: FakeApi,
) -> None:
    serve_page(fake_api)
    week_ago = NOW.timestamp() - 7 * 86400
    state: dict[str, Any] = {
        "removed_metrics": {"page_views_total": {"since": week_ago, "detail": "refused"}}
    }

    run = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert run.ok
    assert run.outcome.removed == {}
    assert run.values("profile_views", window="1d") == [30, 41]
    assert fake_api.calls(INSIGHTS)[0].query["metric"] == DAILY


# settings and registration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"access_token": TOKEN}, "page_id"),
        ({"page_id": "acme", "access_token": TOKEN}, "is not a Page ID"),
        ({"page_id": PAGE}, "access_token"),
        ({"page_id": PAGE, "access_token": "  "}, "access_token is empty"),
        ({"page_id": PAGE, "access_token": TOKEN, "api_version": "latest"}, "write it as 'v24.0'"),
        ({"page_id": PAGE, "access_token": TOKEN, "api_version": "v19.0"}, "older than v21.0"),
        (
            {
                "page_id": PAGE,
                "access_token": TOKEN,
                "base_url": "https://graph.facebook.com/v24.0",
            },
            "ends in a version",
        ),
        ({"page_id": PAGE, "access_token": TOKEN, "history_days": 120}, "less than or equal"),
        ({"page_id": PAGE, "access_token": TOKEN, "pageid": PAGE}, "Extra inputs"),
    ],
)
def test_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        FacebookSettings.model_validate(values)

    assert says in str(error.value)


def test_settings_accept_a_numeric_page_id_and_a_short_version() -> None:
    parsed = FacebookSettings.model_validate(
        {"page_id": int(PAGE), "access_token": TOKEN, "api_version": "25"}
    )

    assert (parsed.page_id, parsed.api_version) == (PAGE, "v25.0")


def test_the_plugin_registers_the_facebook_platform() -> None:
    registered: list[kpiwatch.Platform] = []

    kpiwatch_register_platforms(registered.append)

    assert [p.name for p in registered] == ["facebook"]
    assert registered[0].api is not None
    assert registered[0].api.rate_limit_headers == "meta"
