"""The ``linkedin`` platform against a fake LinkedIn REST API on 127.0.0.1, serving the bodies
LinkedIn documents: network size, time-bound follower and share statistics (one element per
UTC day), the posts finder with ``start``/``count`` pages, per-post share statistics, errors
``{"status", "serviceErrorCode", "code", "message"}``, HTTP 429 without headers, HTTP 426
``NONEXISTENT_VERSION``, the OAuth 2.0 token endpoint and token introspection."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

import kpiwatch
import kpiwatch_platforms.linkedin
from kpiwatch.config_loader import load_config
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.linkedin import PLATFORM
from kpiwatch_platforms.linkedin.mapping import content_type
from kpiwatch_platforms.linkedin.restli import day_intervals, query
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
ORG = "2414183"
URN = f"urn:li:organization:{ORG}"
TOKEN = "AQXdSP_W41_UPs5ioT_t8HESyODB4FqbkJ8LrV_5mff4gPODzOYR"

NETWORK_PATH = f"/rest/networkSizes/{URN}"  # the fake server sees the path decoded
FOLLOWERS_PATH = "/rest/organizationalEntityFollowerStatistics"
SHARES_PATH = "/rest/organizationalEntityShareStatistics"
POSTS_PATH = "/rest/posts"
TOKEN_PATH = "/oauth/v2/accessToken"
INTROSPECT_PATH = "/oauth/v2/introspectToken"

P1, P3, P4, P5 = (f"urn:li:share:739000000000000000{i}" for i in (1, 3, 4, 5))
P2 = "urn:li:ugcPost:7390000000000000002"
DRAFT = "urn:li:share:7390000000000000006"


@pytest.fixture(autouse=True)
def _now(time_machine) -> None:
    time_machine.move_to(NOW, tick=True)


def _day(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ago(days: float) -> int:
    return _ms(NOW - timedelta(days=days))


def _range(day: int) -> dict[str, int]:
    return {"start": _ms(_day(day)), "end": _ms(_day(day + 1))}


def _intervals(first: int, end: int) -> str:
    """The decoded ``timeIntervals`` query value for the days ``first`` to ``end`` (exclusive)."""
    start, stop = _ms(_day(first)), _ms(_day(end))
    return f"(timeRange:(start:{start},end:{stop}),timeGranularityType:DAY)"


def _share_statistics(
    impressions: int, clicks: int, likes: int, comments: int, shares: int, **extra: Any
) -> dict[str, Any]:
    engagement = (clicks + likes + comments + shares) / impressions if impressions else 0.0
    return {
        "impressionCount": impressions,
        "clickCount": clicks,
        "likeCount": likes,
        "commentCount": comments,
        "shareCount": shares,
        "engagement": engagement,
        **extra,
    }


FOLLOWER_DAYS = {
    "paging": {"count": 10, "start": 0, "links": []},
    "elements": [
        {
            "followerGains": {"organicFollowerGain": 12, "paidFollowerGain": 3},
            "organizationalEntity": URN,
            "timeRange": _range(20),
        },
        {
            "followerGains": {"organicFollowerGain": 7, "paidFollowerGain": 0},
            "organizationalEntity": URN,
            "timeRange": _range(21),
        },
        {  # unfollows outweigh follows: a net loss
            "followerGains": {"organicFollowerGain": -2, "paidFollowerGain": 0},
            "organizationalEntity": URN,
            "timeRange": _range(22),
        },
    ],
}

SHARE_DAYS = {
    "paging": {"count": 10, "start": 0, "links": []},
    "elements": [
        {
            "organizationalEntity": URN,
            "timeRange": _range(20),
            "totalShareStatistics": _share_statistics(1200, 45, 30, 4, 2),
        },
        {
            "organizationalEntity": URN,
            "timeRange": _range(21),
            "totalShareStatistics": _share_statistics(980, 21, 17, 1, 0),
        },
        {
            "organizationalEntity": URN,
            "timeRange": _range(22),
            "totalShareStatistics": _share_statistics(1530, 60, 44, 9, 5),
        },
    ],
}


def _post(urn: str, days_ago: float, content: dict[str, Any] | None, **extra: Any) -> dict:
    post = {
        "id": urn,
        "author": URN,
        "commentary": f"Post {urn[-1]}",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": False},
        "isReshareDisabledByAuthor": False,
        "createdAt": _ago(days_ago),
        "publishedAt": _ago(days_ago),
        "lastModifiedAt": _ago(days_ago),
        **extra,
    }
    if content is not None:
        post["content"] = content
    return post


def _posts() -> tuple[dict, dict, dict]:
    """Three pages of three: an image, a video (ugcPost) and a document; an article, a text
    post and a draft; then none."""
    first = {
        "paging": {
            "start": 0,
            "count": 3,
            "links": [
                {"type": "application/json", "rel": "next", "href": "/rest/posts?start=3&count=3"}
            ],
        },
        "elements": [
            _post(P1, 0.5, {"media": {"id": "urn:li:image:C4D22AQFgZsp", "altText": "team"}}),
            _post(P2, 3, {"media": {"id": "urn:li:video:C5F10AQGKQg", "title": "Demo"}}),
            _post(P3, 5, {"media": {"id": "urn:li:document:D4D10AQH4sF", "title": "Deck"}}),
        ],
    }
    second = {
        "paging": {"start": 3, "count": 3, "links": []},
        "elements": [
            _post(P4, 10, {"article": {"source": "https://acme.example/blog", "title": "Blog"}}),
            _post(P5, 12, None),
            _post(DRAFT, 2, None, lifecycleState="DRAFT", publishedAt=None),
        ],
    }
    third = {"paging": {"start": 6, "count": 3, "links": []}, "elements": []}
    return first, second, third


POST_STATISTICS = {
    P1: _share_statistics(800, 31, 25, 3, 2, uniqueImpressionsCount=610),
    P2: _share_statistics(2300, 80, 61, 12, 7, uniqueImpressionsCount=1750),
    P3: _share_statistics(450, 9, 11, 0, 1, uniqueImpressionsCount=390),
    P4: _share_statistics(120, 4, 2, 0, 0, uniqueImpressionsCount=101),
}  # P5 had no impressions: LinkedIn leaves it out of the answer


def _statistics_of(urns: list[str], field: str) -> dict[str, Any]:
    return {
        "paging": {"count": 10, "start": 0, "links": []},
        "elements": [
            {"organizationalEntity": URN, field: urn, "totalShareStatistics": POST_STATISTICS[urn]}
            for urn in urns
            if urn in POST_STATISTICS
        ],
    }


def _settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {
        "organization_id": ORG,
        "access_token": TOKEN,
        "base_url": f"{api.url}/rest",
        "history_days": 3,
        "post_days": 30,
        "page_size": 3,
        **extra,
    }


def _serve(api: FakeApi, *, followers: Any = None, shares: Any = None) -> None:
    api.add("GET", NETWORK_PATH, {"firstDegreeSize": 33634367})
    api.add("GET", FOLLOWERS_PATH, FOLLOWER_DAYS if followers is None else followers)
    api.add("GET", SHARES_PATH, SHARE_DAYS if shares is None else shares)
    first, second, third = _posts()
    api.add("GET", POSTS_PATH, first, query={"start": "0"})
    api.add("GET", POSTS_PATH, second, query={"start": "3"})
    api.add("GET", POSTS_PATH, third, query={"start": "6"})
    share_urns = [P1, P3, P4, P5]
    api.add(
        "GET",
        SHARES_PATH,
        _statistics_of(share_urns, "share"),
        query={"shares": f"List({','.join(share_urns)})"},
    )
    api.add("GET", SHARES_PATH, _statistics_of([P2], "ugcPost"), query={"ugcPosts": f"List({P2})"})


def _samples(run) -> set[tuple[str, float, str | None, datetime | None]]:
    return {(s.metric, s.value, s.window, s.timestamp) for s in run.samples}


def _daily(metric: str, *values: float, first: int = 20) -> set[tuple]:
    return {(metric, v, "1d", _day(first + i + 1)) for i, v in enumerate(values)}


def _error(status: int, code: str, message: str, service: int | None = None) -> Reply:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service is not None:
        body["serviceErrorCode"] = service
    return Reply(json=body, status=status)


NORMAL_SAMPLES = {
    ("followers", 33634367, None, None),
    *_daily("followers_gained", 15, 7),  # the net loss of the 22nd is left out
    *_daily("impressions", 1200, 980, 1530),
    *_daily("clicks", 45, 21, 60),
    *_daily("likes", 30, 17, 44),
    *_daily("comments", 4, 1, 9),
    *_daily("shares", 2, 0, 5),
    *_daily("engagements", 81, 39, 118),
    # the posts read, published 0.5, 3, 5, 10 and 12 days ago, counted per window at poll time
    ("posts_published", 1, "1d", None),
    ("posts_published", 3, "7d", None),
    ("posts_published", 5, "28d", None),
}


# --- a normal poll ---------------------------------------------------------------------------


async def test_poll_reads_followers_daily_statistics_and_posts_over_pages(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api))

    assert run.ok, run.outcome.message
    assert _samples(run) == NORMAL_SAMPLES
    assert run.outcome.dropped == 0  # nothing the vocabulary refuses (negative counts)

    def post(urn: str, days_ago: float, kind: str, metrics: dict[str, float]) -> kpiwatch.Post:
        published = datetime.fromtimestamp(_ago(days_ago) / 1000, UTC)
        url = f"https://www.linkedin.com/feed/update/{urn}/"
        return kpiwatch.Post(urn, published, kind, metrics, url)

    def counted(imp, reach, clicks, likes, comments, shares) -> dict[str, float]:
        return {
            "impressions": imp,
            "reach": reach,
            "clicks": clicks,
            "likes": likes,
            "comments": comments,
            "shares": shares,
            "engagements": clicks + likes + comments + shares,
        }

    assert run.posts == [
        post(P1, 0.5, "image", counted(800, 610, 31, 25, 3, 2)),
        post(P2, 3, "video", counted(2300, 1750, 80, 61, 12, 7)),
        post(P3, 5, "carousel", counted(450, 390, 9, 11, 0, 1)),
        post(P4, 10, "link", counted(120, 101, 4, 2, 0, 0)),
        post(P5, 12, "text", counted(0, 0, 0, 0, 0, 0)),  # left out by LinkedIn: zeros
    ]
    assert [r.query["start"] for r in fake_api.calls(POSTS_PATH)] == ["0", "3", "6"]


async def test_requests_ask_for_days_and_pages_as_linkedin_documents(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message

    for request in fake_api.requests:
        assert request.headers["LinkedIn-Version"] == "202609"
        assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    (network,) = fake_api.calls(NETWORK_PATH)
    assert network.query == {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}
    (followers,) = fake_api.calls(FOLLOWERS_PATH)
    daily = {
        "q": "organizationalEntity",
        "organizationalEntity": URN,
        "timeIntervals": _intervals(20, 23),
    }
    assert followers.query == daily
    assert fake_api.calls(SHARES_PATH)[0].query == daily
    first_page = fake_api.calls(POSTS_PATH)[0]
    assert first_page.query == {
        "author": URN,
        "q": "author",
        "count": "3",
        "start": "0",
        "sortBy": "LAST_MODIFIED",
    }


async def test_urns_and_rest_li_values_are_sent_percent_encoded(fake_api):
    """aiohttp would turn %3A back into ':' (LinkedIn: "Syntax exception in path variables");
    the raw request lines show what LinkedIn receives."""
    _serve(fake_api)
    sent: list[str] = []

    async def on_request_start(session, context, params) -> None:
        sent.append(params.url.raw_path_qs)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        run = await run_collect(PLATFORM, _settings(fake_api), session=session)
    assert run.ok, run.outcome.message

    org = "urn%3Ali%3Aorganization%3A2414183"
    intervals = _intervals(20, 23)
    assert sent[:3] == [
        f"/rest/networkSizes/{org}?edgeType=COMPANY_FOLLOWED_BY_MEMBER",
        f"{FOLLOWERS_PATH}?q=organizationalEntity&organizationalEntity={org}"
        f"&timeIntervals={intervals}",
        f"{SHARES_PATH}?q=organizationalEntity&organizationalEntity={org}"
        f"&timeIntervals={intervals}",
    ]
    assert f"{POSTS_PATH}?author={org}&q=author&count=3&start=0&sortBy=LAST_MODIFIED" in sent
    shares = ",".join(u.replace(":", "%3A") for u in (P1, P3, P4, P5))
    assert (
        f"{SHARES_PATH}?q=organizationalEntity&organizationalEntity={org}&shares=List({shares})"
        in sent
    )
    ugc = P2.replace(":", "%3A")
    assert (
        f"{SHARES_PATH}?q=organizationalEntity&organizationalEntity={org}&ugcPosts=List({ugc})"
        in sent
    )


async def test_later_polls_read_again_from_three_days_before_the_last_day(fake_api):
    _serve(fake_api)
    state: dict[str, Any] = {}
    first = await run_collect(PLATFORM, _settings(fake_api, history_days=28), state=state)
    assert first.ok, first.outcome.message
    assert fake_api.calls(FOLLOWERS_PATH)[0].query["timeIntervals"] == _intervals_from(
        date(2026, 10, 26)
    )
    assert state["follower_gains_last_day"] == "2026-11-22"
    assert state["share_statistics_last_day"] == "2026-11-22"

    again = await run_collect(PLATFORM, _settings(fake_api, history_days=28), state=state)
    assert again.ok, again.outcome.message
    assert fake_api.calls(FOLLOWERS_PATH)[-1].query["timeIntervals"] == _intervals(19, 23)
    assert fake_api.calls(SHARES_PATH)[-3].query["timeIntervals"] == _intervals(19, 23)


def _intervals_from(first: date) -> str:
    start = _ms(datetime.combine(first, time(0), UTC))
    return f"(timeRange:(start:{start},end:{_ms(_day(23))}),timeGranularityType:DAY)"


async def test_paging_stops_once_a_page_ends_with_a_post_modified_before_the_window(fake_api):
    _serve(fake_api)
    first, _, _ = _posts()
    first["elements"][2] = _post(P3, 45, None)  # last modified 45 days ago: the rest is older
    fake_api.add("GET", POSTS_PATH, first, query={"start": "0"})
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert [r.query["start"] for r in fake_api.calls(POSTS_PATH)] == ["0"]
    assert [p.id for p in run.posts] == [P1, P2]  # the 45-day-old post is outside post_days
    assert _published_counts(run) == {("1d", 1), ("7d", 2), ("28d", 2)}


async def test_max_posts_stops_paging_and_keeps_the_newest(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api, max_posts=2))
    assert run.ok, run.outcome.message
    assert [r.query["start"] for r in fake_api.calls(POSTS_PATH)] == ["0"]
    assert [p.id for p in run.posts] == [P1, P2]
    # every post published after the oldest one kept (3 days ago) was seen: only 1d is whole
    assert _published_counts(run) == {("1d", 1)}


def _published_counts(run) -> set[tuple[str | None, float]]:
    return {(s.window, s.value) for s in run.samples if s.metric == "posts_published"}


async def test_a_day_with_negative_likes_leaves_likes_out_of_that_day(fake_api):
    """LinkedIn counts a withdrawn sponsored like as an organic unlike: likes can go
    negative, which no vocabulary count can be."""
    statistics = _share_statistics(300, 10, -2, 1, 0)
    days = {
        "elements": [
            {
                "organizationalEntity": URN,
                "timeRange": _range(22),
                "totalShareStatistics": statistics,
            }
        ]
    }
    _serve(fake_api, shares=days)
    run = await run_collect(PLATFORM, _settings(fake_api, history_days=1))
    assert run.ok, run.outcome.message
    daily = {(s.metric, s.value) for s in run.samples if s.window == "1d"}
    assert {m for m, _ in daily if m not in ("followers_gained", "posts_published")} == {
        "impressions",
        "clicks",
        "comments",
        "shares",
        "engagements",
    }
    assert ("engagements", 9) in daily  # as LinkedIn totals: 10 - 2 + 1 + 0
    assert run.outcome.removed == {}


# --- rate limits -----------------------------------------------------------------------------


async def test_429_holds_the_credential_until_midnight_utc_and_refuses_a_second_poll(fake_api):
    _serve(fake_api)
    fake_api.add(
        "GET",
        FOLLOWERS_PATH,
        _error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        ),
    )
    limits = ApiLimits()
    run = await run_collect(PLATFORM, _settings(fake_api), limits=limits)
    run.assert_failed("rate_limited")
    midnight = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    until_midnight = midnight - NOW.timestamp()  # 14 hours
    assert until_midnight - 5 <= run.outcome.retry_after <= until_midnight
    assert run.outcome.rate_limit.remaining == 0
    assert run.outcome.rate_limit.reset_at == pytest.approx(midnight, abs=0.001)
    assert "midnight UTC" in run.outcome.message
    sent = len(fake_api.requests)

    again = await run_collect(PLATFORM, _settings(fake_api), limits=limits)
    again.assert_failed("rate_limited")
    assert until_midnight - 10 <= again.outcome.retry_after <= until_midnight
    assert len(fake_api.requests) == sent  # refused without asking LinkedIn


async def test_429_with_a_retry_after_header_waits_that_long(fake_api):
    _serve(fake_api)
    throttled = Reply(
        json={"status": 429, "message": "Too Many Requests"},
        status=429,
        headers={"Retry-After": "120"},
    )
    fake_api.add("GET", NETWORK_PATH, throttled)
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 120


# --- tokens ----------------------------------------------------------------------------------


async def test_401_with_the_access_token_is_auth_saying_how_to_reauthorise(fake_api):
    expired = _error(
        401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602
    )
    fake_api.add("GET", NETWORK_PATH, expired)
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "EXPIRED_ACCESS_TOKEN" in run.outcome.message
    assert "authorise the app again" in run.outcome.message
    assert len(fake_api.requests) == 1


def _refresh_settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    settings = _settings(
        api,
        token_url=f"{api.url}{TOKEN_PATH}",
        client_id="86dtbzz7zj1abc",
        client_secret="WPL_AP1.s3cr3t",
        refresh_token="RT1",
        **extra,
    )
    del settings["access_token"]
    return settings


def _token_reply(access: str, refresh: str) -> Reply:
    return Reply(
        json={
            "access_token": access,
            "expires_in": 5184000,
            "refresh_token": refresh,
            "refresh_token_expires_in": 31103999,
            "scope": "r_organization_social,rw_organization_admin",
        }
    )


async def test_401_refreshes_with_the_refresh_token_and_keeps_a_new_one(fake_api):
    _serve(fake_api)
    expired = _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
    fake_api.add("GET", NETWORK_PATH, expired, Reply(json={"firstDegreeSize": 33634367}))
    # LinkedIn answers with the same refresh token, unless it issues a new one
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT1"), _token_reply("AT2", "RT2"))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _refresh_settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    run.assert_metric("followers", 33634367)
    first, second = fake_api.calls(TOKEN_PATH)
    assert first.form() == {
        "grant_type": "refresh_token",
        "refresh_token": "RT1",
        "client_id": "86dtbzz7zj1abc",
        "client_secret": "WPL_AP1.s3cr3t",
    }
    assert second.form()["refresh_token"] == "RT1"
    assert [r.headers["Authorization"] for r in fake_api.calls(NETWORK_PATH)] == [
        "Bearer AT1",
        "Bearer AT2",
    ]
    assert fake_api.calls(POSTS_PATH)[0].headers["Authorization"] == "Bearer AT2"
    assert state["oauth"]["refresh_token"] == "RT2"
    assert state["oauth"]["access_token"] == "AT2"

    again = await run_collect(PLATFORM, _refresh_settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert len(fake_api.calls(TOKEN_PATH)) == 2  # AT2 lasts 60 days: no refresh


async def test_a_refused_refresh_token_is_auth_saying_to_authorise_again(fake_api):
    _serve(fake_api)
    refused = {
        "error": "invalid_grant",
        "error_description": "The provided authorization grant or refresh token is "
        "invalid, expired or revoked",
    }
    fake_api.add("POST", TOKEN_PATH, Reply(json=refused, status=400))
    run = await run_collect(PLATFORM, _refresh_settings(fake_api))
    run.assert_failed("auth")
    assert "authorise the app again" in run.outcome.message
    assert fake_api.calls(NETWORK_PATH) == []


async def test_an_access_token_past_its_expiry_date_is_auth_without_a_request(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api, access_token_expires="2026-11-20"))
    run.assert_failed("auth")
    assert "access token expired on 2026-11-20" in run.outcome.message
    assert "access_token_expires" in run.outcome.message
    assert fake_api.requests == []


async def test_an_access_token_near_its_expiry_warns_once_a_day(fake_api):
    _serve(fake_api)
    settings = _settings(fake_api, access_token_expires="2026-12-01")
    state: dict[str, Any] = {}
    with capture_logs() as logs:
        run = await run_collect(PLATFORM, settings, state=state)
        again = await run_collect(PLATFORM, settings, state=state)
    assert run.ok and again.ok
    warnings = [e for e in logs if e["event"] == "linkedin access token expires soon"]
    assert len(warnings) == 1
    assert warnings[0]["expires"] == "2026-12-01"
    assert warnings[0]["days_left"] == 7  # 7 days and 14 hours
    assert warnings[0]["log_level"] == "warning"


async def test_a_refresh_token_near_its_expiry_warns(fake_api):
    _serve(fake_api)
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT1"))
    with capture_logs() as logs:
        run = await run_collect(
            PLATFORM, _refresh_settings(fake_api, refresh_token_expires="2026-12-03")
        )
    assert run.ok, run.outcome.message
    (warning,) = [e for e in logs if e["event"] == "linkedin refresh token expires soon"]
    assert warning["expires"] == "2026-12-03"
    assert "refresh_token_expires" in warning["fix"]


async def test_introspection_gives_the_expiry_and_is_asked_once_a_day(fake_api):
    _serve(fake_api)
    expires_at = int((NOW + timedelta(days=5)).timestamp())
    fake_api.add(
        "POST",
        INTROSPECT_PATH,
        {
            "active": True,
            "client_id": "86dtbzz7zj1abc",
            "authorized_at": 1758000000,
            "created_at": 1758000000,
            "status": "active",
            "expires_at": expires_at,
            "scope": "r_organization_social,rw_organization_admin",
            "auth_type": "3L",
        },
    )
    settings = _settings(
        fake_api,
        client_id="86dtbzz7zj1abc",
        client_secret="WPL_AP1.s3cr3t",
        introspect_url=f"{fake_api.url}{INTROSPECT_PATH}",
    )
    state: dict[str, Any] = {}
    with capture_logs() as logs:
        run = await run_collect(PLATFORM, settings, state=state)
        again = await run_collect(PLATFORM, settings, state=state)
    assert run.ok and again.ok
    (asked,) = fake_api.calls(INTROSPECT_PATH)
    assert asked.form() == {
        "client_id": "86dtbzz7zj1abc",
        "client_secret": "WPL_AP1.s3cr3t",
        "token": TOKEN,
    }
    (warning,) = [e for e in logs if e["event"] == "linkedin access token expires soon"]
    assert warning["days_left"] == 4  # 5 days less the seconds since


async def test_introspection_of_an_expired_token_is_auth(fake_api):
    _serve(fake_api)
    fake_api.add("POST", INTROSPECT_PATH, {"active": False, "status": "expired"})
    settings = _settings(
        fake_api,
        client_id="86dtbzz7zj1abc",
        client_secret="WPL_AP1.s3cr3t",
        introspect_url=f"{fake_api.url}{INTROSPECT_PATH}",
    )
    run = await run_collect(PLATFORM, settings)
    run.assert_failed("auth")
    assert "access token is expired" in run.outcome.message
    assert fake_api.calls(NETWORK_PATH) == []


# --- LinkedIn errors -------------------------------------------------------------------------


async def test_a_version_linkedin_no_longer_serves_says_to_update_linkedin_version(fake_api):
    sunset = _error(426, "NONEXISTENT_VERSION", "Requested version 20250501 is not active")
    fake_api.add("GET", NETWORK_PATH, sunset)
    run = await run_collect(PLATFORM, _settings(fake_api, linkedin_version="202505"))
    run.assert_failed("bad_response")
    assert "Requested version 20250501 is not active" in run.outcome.message
    assert "set linkedin_version" in run.outcome.message
    assert fake_api.requests[0].headers["LinkedIn-Version"] == "202505"


async def test_access_denied_is_auth_naming_the_administrator_role(fake_api):
    _serve(fake_api)
    fake_api.add(
        "GET",
        FOLLOWERS_PATH,
        _error(
            403,
            "ACCESS_DENIED",
            "Not enough permissions to access: organizationalEntityFollower"
            "Statistics.FINDER-organizationalEntity.20260901",
            100,
        ),
    )
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "ADMINISTRATOR" in run.outcome.message
    assert "ACCESS_DENIED" in run.outcome.message


async def test_5xx_then_recovery_within_the_poll(fake_api):
    _serve(fake_api)
    fake_api.add(
        "GET",
        SHARES_PATH,
        Reply(body="upstream error", status=503),
        Reply(json=SHARE_DAYS),
        query={"timeIntervals": _intervals(20, 23)},
    )
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert _samples(run) == NORMAL_SAMPLES
    assert len([r for r in fake_api.calls(SHARES_PATH) if "timeIntervals" in r.query]) == 2


async def test_5xx_every_time_is_unavailable(fake_api):
    fake_api.add("GET", NETWORK_PATH, _error(500, "INTERNAL_SERVER_ERROR", "Internal error"))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("unavailable")
    assert len(fake_api.calls(NETWORK_PATH)) == 3  # the first try and two retries


async def test_a_malformed_body_is_bad_response_naming_platform_and_path(fake_api):
    _serve(fake_api)
    fake_api.add(
        "GET", POSTS_PATH, Reply(body="<html>Request Timeout</html>"), query={"start": "0"}
    )
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert run.outcome.message.startswith("linkedin: ")
    assert POSTS_PATH in run.outcome.message


async def test_days_without_a_time_range_are_bad_response(fake_api):
    _serve(fake_api, followers={"elements": [{"followerGains": {"organicFollowerGain": 1}}]})
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert FOLLOWERS_PATH in run.outcome.message
    assert "timeRange" in run.outcome.message


# --- removed metrics -------------------------------------------------------------------------


async def test_a_network_size_without_firstdegreesize_disables_followers_only(fake_api):
    _serve(fake_api)
    fake_api.add("GET", NETWORK_PATH, {})
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert set(run.outcome.removed) == {"followers"}
    assert "firstDegreeSize" in run.outcome.removed["followers"]
    assert _samples(run) == NORMAL_SAMPLES - {("followers", 33634367, None, None)}
    assert len(run.posts) == 5

    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert set(again.outcome.removed) == {"followers"}
    assert len(fake_api.calls(NETWORK_PATH)) == 1  # not asked again before the retry time
    assert len(fake_api.calls(FOLLOWERS_PATH)) == 2


async def test_days_without_follower_gains_disable_followers_gained(fake_api):
    days = {"elements": [{"organizationalEntity": URN, "timeRange": _range(d)} for d in (20, 21)]}
    _serve(fake_api, followers=days)
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert run.ok, run.outcome.message
    assert set(run.outcome.removed) == {"followers_gained"}
    run.assert_no_metric("followers_gained")
    run.assert_metric("impressions", count=3)

    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert len(fake_api.calls(FOLLOWERS_PATH)) == 1  # not asked again


async def test_a_share_field_linkedin_stops_sending_disables_its_metrics(fake_api):
    without_clicks = {
        "elements": [
            {
                **day,
                "totalShareStatistics": {
                    k: v for k, v in day["totalShareStatistics"].items() if k != "clickCount"
                },
            }
            for day in SHARE_DAYS["elements"]
        ]
    }
    _serve(fake_api, shares=without_clicks)
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert set(run.outcome.removed) == {"clicks", "engagements"}  # engagements counts clicks
    assert "clickCount" in run.outcome.removed["clicks"]
    expected = {s for s in NORMAL_SAMPLES if s[0] not in ("clicks", "engagements")}
    assert _samples(run) == expected
    assert set(run.posts[0].metrics) == {"impressions", "reach", "likes", "comments", "shares"}

    _serve(fake_api)  # LinkedIn sends clickCount again; the metrics stay off until retried
    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert set(again.outcome.removed) == {"clicks", "engagements"}
    again.assert_no_metric("clicks")
    assert "clicks" not in again.posts[0].metrics


# --- competitors -----------------------------------------------------------------------------


async def test_a_competitor_gets_its_follower_count_only(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api), competitor=True)
    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 33634367, None, None)}
    assert run.posts == []
    assert [r.path for r in fake_api.requests] == [NETWORK_PATH]


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "extra", "kind"),
    [
        (None, {}, "text"),
        ({}, {}, "text"),
        ({"media": {"id": "urn:li:image:C4D22AQ"}}, {}, "image"),
        ({"media": {"id": "urn:li:video:C5F10AQ"}}, {}, "video"),
        ({"media": {"id": "urn:li:document:D4D10AQ"}}, {}, "carousel"),
        (
            {"multiImage": {"images": [{"id": "urn:li:image:1"}, {"id": "urn:li:image:2"}]}},
            {},
            "carousel",
        ),
        ({"article": {"source": "https://acme.example", "title": "Blog"}}, {}, "link"),
        ({"poll": {"question": "Which?", "options": [{"text": "A"}]}}, {}, "other"),
        (None, {"reshareContext": {"parent": "urn:li:share:1"}}, "other"),
    ],
)
def test_content_types(content, extra, kind):
    post: dict[str, Any] = {"id": "urn:li:share:1", **extra}
    if content is not None:
        post["content"] = content
    assert content_type(post) == kind


def test_rest_li_query_encoding():
    assert query(
        {
            "q": "organizationalEntity",
            "organizationalEntity": "urn:li:organization:2414183",
            "timeIntervals": day_intervals(1551398400000, 1552003200000),
            "shares": ["urn:li:share:1000000", "urn:li:share:1000001"],
        }
    ) == (
        "q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A2414183"
        "&timeIntervals=(timeRange:(start:1551398400000,end:1552003200000),"
        "timeGranularityType:DAY)"
        "&shares=List(urn%3Ali%3Ashare%3A1000000,urn%3Ali%3Ashare%3A1000001)"
    )


def test_settings_accept_a_urn_and_default_to_the_real_api():
    settings = LinkedInSettings.model_validate(
        {"organization_id": "urn:li:organization:2414183", "access_token": TOKEN}
    )
    assert settings.organization_id == "2414183"
    assert settings.base_url == "https://api.linkedin.com/rest"
    assert settings.token_url == "https://www.linkedin.com/oauth/v2/accessToken"
    assert settings.linkedin_version == "202609"
    assert LinkedInSettings.model_validate({"organization_id": 2414183, "access_token": TOKEN})


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"organization_id": ORG}, "give access_token"),
        ({"organization_id": "acme", "access_token": "t"}, "admin URL"),
        ({"organization_id": ORG, "access_token": "t", "linkedin_version": "2026-09"}, "YYYYMM"),
        ({"organization_id": ORG, "access_token": "t", "linkedin_version": "202613"}, "YYYYMM"),
        ({"organization_id": ORG, "refresh_token": "r"}, "client_id and client_secret"),
        ({"organization_id": ORG, "access_token": "t", "client_id": "c"}, "both client_id"),
        ({"organization_id": ORG, "access_token": "t", "base_url": "api.linkedin.com"}, "http"),
        ({"organization_id": ORG, "access_token": "t", "access_token_expires": "soon"}, "date"),
        ({"organization_id": ORG, "access_token": "t", "history_days": 400}, "365"),
        ({"organization_id": ORG, "access_token": "t", "token": "t"}, "token"),
    ],
)
def test_bad_settings_say_what_to_write(raw, says):
    with pytest.raises(ValidationError) as caught:
        LinkedInSettings.model_validate(raw)
    assert says in str(caught.value)


def test_the_plugin_registers_the_linkedin_platform():
    registry = PluginRegistry()
    registry.register_module(kpiwatch_platforms.linkedin, "linkedin")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["linkedin"] is PLATFORM
    assert set(PLATFORM.metrics) == {
        "followers",
        "followers_gained",
        "impressions",
        "reach",
        "clicks",
        "likes",
        "comments",
        "shares",
        "engagements",
        "posts_published",
    }


def test_sample_configuration_is_valid():
    path = Path(kpiwatch_platforms.linkedin.__file__).with_name("sample.yaml")
    environ = {
        "LINKEDIN_ACCESS_TOKEN": TOKEN,
        "LINKEDIN_CLIENT_ID": "86dtbzz7zj1abc",
        "LINKEDIN_CLIENT_SECRET": "WPL_AP1.s3cr3t",
    }
    loaded = load_config(path, {"linkedin": PLATFORM}, environ=environ)
    own = [a for a in loaded.config.accounts if not a.competitor]
    rivals = [a for a in loaded.config.accounts if a.competitor]
    assert own and rivals
    settings = loaded.account_settings(own[0].id)
    assert settings.access_token.get_secret_value() == TOKEN
    assert settings.refresh_token is None  # LINKEDIN_REFRESH_TOKEN unset: no programmatic refresh
    assert settings.client_id == "86dtbzz7zj1abc"
