"""The ``x`` platform against a fake X API v2 on 127.0.0.1, serving the bodies and headers X
documents: users lookup, user posts timeline with ``meta.next_token`` pages, RFC 7807
problems, partial errors next to data, ``x-rate-limit-*`` headers and the OAuth 2.0 token
endpoint with rotating refresh tokens."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pydantic import ValidationError

import kpiwatch
import kpiwatch_platforms.x
from kpiwatch.config_loader import load_config
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.x import PLATFORM
from kpiwatch_platforms.x.settings import XSettings

USER_ID = "2244994945"
USER_PATH = "/2/users/by/username/XDevelopers"
TWEETS_PATH = f"/2/users/{USER_ID}/tweets"
TOKEN_PATH = "/2/oauth2/token"
NEXT_TOKEN = "7140dibdnow9c7btw3z2vwioavpvutgzrzm9icis4ndix"
BEARER = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI"

USER = {
    "data": {
        "id": USER_ID,
        "name": "Developers",
        "username": "XDevelopers",
        "public_metrics": {
            "followers_count": 583423,
            "following_count": 2048,
            "tweet_count": 14052,
            "listed_count": 1672,
            "like_count": 2170,
        },
    }
}


def _at(hours_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _metrics(retweets: int, replies: int, likes: int, quotes: int, bookmarks: int, views: int):
    return {
        "retweet_count": retweets,
        "reply_count": replies,
        "like_count": likes,
        "quote_count": quotes,
        "bookmark_count": bookmarks,
        "impression_count": views,
    }


def _limits(remaining: int = 1499, reset_in: float = 600) -> dict[str, str]:
    return {
        "x-rate-limit-limit": "1500",
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(time.time() + reset_in)),
    }


def _pages() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two timeline pages: photo, video, link post; then a text post quoting an X post and a
    GIF."""
    first = {
        "data": [
            {
                "id": "1851000000000000005",
                "text": "Launch day https://t.co/ph0t0",
                "created_at": _at(2),
                "attachments": {"media_keys": ["3_1851000000000000100"]},
                "entities": {
                    "urls": [
                        {
                            "start": 11,
                            "end": 34,
                            "url": "https://t.co/ph0t0",
                            "expanded_url": "https://x.com/XDevelopers/status/1851/photo/1",
                            "display_url": "pic.x.com/ph0t0",
                            "media_key": "3_1851000000000000100",
                        }
                    ]
                },
                "public_metrics": _metrics(4, 3, 25, 1, 2, 900),
                "edit_history_tweet_ids": ["1851000000000000005"],
            },
            {
                "id": "1851000000000000004",
                "text": "Watch the demo https://t.co/v1de0",
                "created_at": _at(20),
                "attachments": {"media_keys": ["7_1851000000000000200"]},
                "public_metrics": _metrics(10, 6, 80, 2, 9, 5100),
                "edit_history_tweet_ids": ["1851000000000000004"],
            },
            {
                "id": "1851000000000000003",
                "text": "Read the changelog https://t.co/l1nk",
                "created_at": _at(30),
                "entities": {
                    "urls": [
                        {
                            "start": 19,
                            "end": 42,
                            "url": "https://t.co/l1nk",
                            "expanded_url": "https://docs.example.com/changelog",
                            "display_url": "docs.example.com/changelog",
                        }
                    ]
                },
                "public_metrics": _metrics(1, 0, 7, 0, 1, 450),
                "edit_history_tweet_ids": ["1851000000000000003"],
            },
        ],
        "includes": {
            "media": [
                {"media_key": "3_1851000000000000100", "type": "photo"},
                {
                    "media_key": "7_1851000000000000200",
                    "type": "video",
                    "public_metrics": {"view_count": 340},
                },
            ]
        },
        "meta": {
            "result_count": 3,
            "newest_id": "1851000000000000005",
            "oldest_id": "1851000000000000003",
            "next_token": NEXT_TOKEN,
        },
    }
    second = {
        "data": [
            {
                "id": "1851000000000000002",
                "text": "So true https://t.co/qu0te",
                "created_at": _at(50),
                "entities": {
                    "urls": [
                        {
                            "start": 8,
                            "end": 31,
                            "url": "https://t.co/qu0te",
                            "expanded_url": "https://twitter.com/someone/status/1850",
                            "display_url": "twitter.com/someone/status…",
                        }
                    ]
                },
                "public_metrics": _metrics(0, 2, 5, 0, 0, 300),
                "edit_history_tweet_ids": ["1851000000000000002"],
            },
            {
                "id": "1851000000000000001",
                "text": "Friday mood",
                "created_at": _at(100),
                "attachments": {"media_keys": ["16_1851000000000000300"]},
                "public_metrics": _metrics(3, 1, 40, 0, 0, 2000),
                "edit_history_tweet_ids": ["1851000000000000001"],
            },
        ],
        "includes": {
            "media": [
                {
                    "media_key": "16_1851000000000000300",
                    "type": "animated_gif",
                    "public_metrics": {"view_count": 1200},
                }
            ]
        },
        "meta": {
            "result_count": 2,
            "newest_id": "1851000000000000002",
            "oldest_id": "1851000000000000001",
            "previous_token": "77qp8",
        },
    }
    return first, second


#: The user's counters in USER.
COUNTERS = {("followers", 583423, None), ("following", 2048, None), ("posts", 14052, None)}
#: The window sums of _pages(), by hand. Posts 2 h, 20 h, 30 h, 50 h and 100 h old: 1d holds the
#: photo and the video, 7d all five; no 28d window with post_days 7. Shares are reposts plus
#: quotes; video_views come from the video (340) and the GIF (1200) only.
WINDOW_SUMS = {
    ("posts_published", 2, "1d"),
    ("posts_published", 5, "7d"),
    ("likes", 25 + 80, "1d"),
    ("likes", 25 + 80 + 7 + 5 + 40, "7d"),
    ("comments", 3 + 6, "1d"),
    ("comments", 3 + 6 + 0 + 2 + 1, "7d"),
    ("shares", 5 + 12, "1d"),
    ("shares", 5 + 12 + 1 + 0 + 3, "7d"),
    ("saves", 2 + 9, "1d"),
    ("saves", 2 + 9 + 1 + 0 + 0, "7d"),
    ("impressions", 900 + 5100, "1d"),
    ("impressions", 900 + 5100 + 450 + 300 + 2000, "7d"),
    ("video_views", 340, "1d"),
    ("video_views", 340 + 1200, "7d"),
}
WINDOW_SUMS_1D = {row for row in WINDOW_SUMS if row[2] == "1d"}


def _bearer_settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"username": "XDevelopers", "bearer_token": BEARER, "base_url": api.url, **extra}


def _user_settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    auth = {"client_id": "rG9n6402A3dbUJKzXTNX4oWHJ", "refresh_token": "RT1"}
    return {"username": "XDevelopers", "user_auth": auth, "base_url": api.url, **extra}


def _serve(api: FakeApi, first: Any = None, second: Any = None) -> tuple[dict, dict]:
    pages = _pages()
    first = pages[0] if first is None else first
    second = pages[1] if second is None else second
    api.add("GET", USER_PATH, Reply(json=USER, headers=_limits()))
    api.add("GET", TWEETS_PATH, Reply(json=first, headers=_limits()))
    api.add(
        "GET",
        TWEETS_PATH,
        Reply(json=second, headers=_limits()),
        query={"pagination_token": NEXT_TOKEN},
    )
    return first, second


def _token_reply(access: str, refresh: str, expires_in: int = 7200) -> Reply:
    return Reply(
        json={
            "token_type": "bearer",
            "expires_in": expires_in,
            "access_token": access,
            "scope": "tweet.read users.read offline.access",
            "refresh_token": refresh,
        }
    )


def _samples(run) -> set[tuple[str, float, str | None]]:
    return {(s.metric, s.value, s.window) for s in run.samples}


def _fields(request) -> set[str]:
    return set(request.query["tweet.fields"].split(","))


# --- a normal poll ---------------------------------------------------------------------------


async def test_poll_reads_account_counters_and_posts_over_two_pages(fake_api):
    first, second = _serve(fake_api)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    assert _samples(run) == COUNTERS | WINDOW_SUMS
    assert {s.metric for s in run.samples} <= set(PLATFORM.metrics)
    t = [*first["data"], *second["data"]]
    url = "https://x.com/XDevelopers/status/"
    assert run.posts == [
        kpiwatch.Post(
            "1851000000000000005",
            _time(t[0]["created_at"]),
            "image",
            {"likes": 25, "comments": 3, "shares": 5, "saves": 2, "impressions": 900},
            url + "1851000000000000005",
        ),
        kpiwatch.Post(
            "1851000000000000004",
            _time(t[1]["created_at"]),
            "video",
            {
                "likes": 80,
                "comments": 6,
                "shares": 12,
                "saves": 9,
                "impressions": 5100,
                "video_views": 340,
            },
            url + "1851000000000000004",
        ),
        kpiwatch.Post(
            "1851000000000000003",
            _time(t[2]["created_at"]),
            "link",
            {"likes": 7, "comments": 0, "shares": 1, "saves": 1, "impressions": 450},
            url + "1851000000000000003",
        ),
        kpiwatch.Post(
            "1851000000000000002",
            _time(t[3]["created_at"]),
            "text",
            {"likes": 5, "comments": 2, "shares": 0, "saves": 0, "impressions": 300},
            url + "1851000000000000002",
        ),
        kpiwatch.Post(
            "1851000000000000001",
            _time(t[4]["created_at"]),
            "video",
            {
                "likes": 40,
                "comments": 1,
                "shares": 3,
                "saves": 0,
                "impressions": 2000,
                "video_views": 1200,
            },
            url + "1851000000000000001",
        ),
    ]


async def test_requests_ask_for_public_fields_with_the_bearer_token(fake_api):
    _serve(fake_api)
    before = datetime.now(UTC)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    assert run.ok, run.outcome.message

    (lookup,) = fake_api.calls(USER_PATH)
    assert lookup.query == {"user.fields": "public_metrics"}
    assert lookup.headers["Authorization"] == f"Bearer {BEARER}"
    page1, page2 = fake_api.calls(TWEETS_PATH)
    assert page1.headers["Authorization"] == f"Bearer {BEARER}"
    assert _fields(page1) == {"created_at", "public_metrics", "attachments", "entities"}
    assert page1.query["expansions"] == "attachments.media_keys"
    assert page1.query["media.fields"] == "type,public_metrics"
    assert page1.query["exclude"] == "retweets,replies"
    assert page1.query["max_results"] == "100"
    assert "pagination_token" not in page1.query
    start = datetime.strptime(page1.query["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (
        before - timedelta(days=7, seconds=2)
        <= start
        <= before - timedelta(days=7) + (timedelta(seconds=5))
    )
    assert page2.query["pagination_token"] == NEXT_TOKEN
    assert {k: v for k, v in page2.query.items() if k != "pagination_token"} == page1.query


async def test_rate_limit_headers_are_kept_in_the_outcome(fake_api):
    _serve(fake_api)
    reset = int(time.time() + 600)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    state = run.outcome.rate_limit
    assert (state.limit, state.remaining) == (1500, 1499)
    assert reset - 2 <= state.reset_at <= reset + 2


async def test_settings_shape_the_timeline_request(fake_api):
    _serve(fake_api)
    settings = _bearer_settings(fake_api, post_days=3, include_replies=True, max_posts=250)
    run = await run_collect(PLATFORM, settings)
    assert run.ok, run.outcome.message
    page1 = fake_api.calls(TWEETS_PATH)[0]
    assert page1.query["exclude"] == "retweets"
    start = datetime.strptime(page1.query["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - start) - timedelta(days=3)) < timedelta(seconds=10)


async def test_max_posts_sets_the_page_size_and_stops_paging_when_reached(fake_api):
    first, second = _pages()
    six = [*first["data"], *second["data"], dict(first["data"][0], id="1851000000000000000")]
    _serve(fake_api, first=dict(first, data=six))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api, max_posts=5))
    assert run.ok, run.outcome.message
    (page,) = fake_api.calls(TWEETS_PATH)  # five read: the next_token is not followed
    assert page.query["max_results"] == "5"
    assert [p.id for p in run.posts] == [post["id"] for post in six[:5]]


async def test_a_short_first_page_is_followed_by_the_next_until_max_posts(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api, max_posts=5))
    assert run.ok, run.outcome.message
    assert len(run.posts) == 5  # three on the first page, two on the second
    assert [r.query.get("pagination_token") for r in fake_api.calls(TWEETS_PATH)] == [
        None,
        NEXT_TOKEN,
    ]
    # max_posts reached on the last page (no next_token): the whole week was read
    assert _samples(run) == COUNTERS | WINDOW_SUMS


async def test_a_timeline_cut_by_max_posts_gives_only_the_windows_it_read_back_past(fake_api):
    first, second = _pages()
    five = dict(first, data=[*first["data"], *second["data"]])  # and a next_token: more posts
    five["includes"] = {"media": [*first["includes"]["media"], *second["includes"]["media"]]}
    _serve(fake_api, first=five)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api, max_posts=5))
    assert run.ok, run.outcome.message
    assert len(fake_api.calls(TWEETS_PATH)) == 1
    # read back to the post of 100 h: the last day is complete, the week is not
    assert _samples(run) == COUNTERS | WINDOW_SUMS_1D


async def test_post_days_28_gives_the_28d_window(fake_api):
    _, second = _pages()
    older = {
        "id": "1851000000000000000",
        "text": "Two weeks ago",
        "created_at": _at(24 * 14),
        "public_metrics": _metrics(2, 4, 30, 1, 5, 1000),
    }
    _serve(fake_api, second=dict(second, data=[*second["data"], older]))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api, post_days=28))
    assert run.ok, run.outcome.message
    month = {
        ("posts_published", 6, "28d"),
        ("likes", 157 + 30, "28d"),
        ("comments", 12 + 4, "28d"),
        ("shares", 21 + 2 + 1, "28d"),
        ("saves", 12 + 5, "28d"),
        ("impressions", 8750 + 1000, "28d"),
        ("video_views", 1540, "28d"),
    }
    assert _samples(run) == COUNTERS | WINDOW_SUMS | month


@pytest.mark.parametrize("flaw", ["left out by X", "no created_at"])
async def test_a_post_that_could_not_be_read_leaves_every_window_out(fake_api, flaw):
    first, second = _pages()
    if flaw == "left out by X":
        gone = "1851000000000000009"
        second = dict(second, errors=[{
            "value": gone, "detail": f"Sorry, you are not authorized to see the Tweet {gone}.",
            "title": "Authorization Error", "resource_type": "tweet", "parameter": "ids",
            "resource_id": gone, "section": "data",
            "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
        }])  # fmt: skip
    else:
        del second["data"][0]["created_at"]
    _serve(fake_api, first, second)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    assert run.ok, run.outcome.message
    assert _samples(run) == COUNTERS  # the counters, but no sum that may miss a post
    assert len(run.posts) == (5 if flaw == "left out by X" else 4)


async def test_an_account_without_posts_has_counters_and_zero_sums(fake_api):
    empty = {"meta": {"result_count": 0}}
    _serve(fake_api, first=empty)
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    assert run.ok, run.outcome.message
    assert run.posts == []
    run.assert_metric("followers", 583423)
    assert len(fake_api.calls(TWEETS_PATH)) == 1
    # nothing published in the week: every sum over the posts is a real 0, but no clicks
    # (a Bearer token cannot read them)
    summed = ("posts_published", "likes", "comments", "shares", "saves", "impressions",
              "video_views")  # fmt: skip
    zeros = {(m, 0, w) for m in summed for w in ("1d", "7d")}
    assert _samples(run) == COUNTERS | zeros


# --- rate limits, quotas, access -------------------------------------------------------------


async def test_429_waits_until_the_reset_header_and_refuses_a_second_poll(fake_api):
    problem = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
               "status": 429}  # fmt: skip
    fake_api.add("GET", USER_PATH, Reply(json=USER, headers=_limits()))
    fake_api.add(
        "GET", TWEETS_PATH, Reply(json=problem, status=429, headers=_limits(0, reset_in=600))
    )
    limits = ApiLimits()
    run = await run_collect(PLATFORM, _bearer_settings(fake_api), limits=limits)
    run.assert_failed("rate_limited")
    assert 590 <= run.outcome.retry_after <= 601
    sent = len(fake_api.requests)

    again = await run_collect(PLATFORM, _bearer_settings(fake_api), limits=limits)
    again.assert_failed("rate_limited")
    assert 590 <= again.outcome.retry_after <= 601
    assert len(fake_api.requests) == sent  # refused without asking X


async def test_monthly_usage_cap_is_quota_exhausted(fake_api):
    capped = {
        "account_id": 1234567,
        "product_name": "standard-basic",
        "title": "UsageCapExceeded",
        "period": "Monthly",
        "scope": "Product",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.twitter.com/2/problems/usage-capped",
    }
    fake_api.add("GET", USER_PATH, Reply(json=capped, status=429, headers=_limits(39999)))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("quota_exhausted")
    assert run.outcome.retry_after == 86400
    assert "Usage cap exceeded" in run.outcome.message


async def test_client_not_enrolled_is_auth_naming_the_access_tier(fake_api):
    forbidden = {
        "client_id": "27316216",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
        "keys and tokens from a Twitter developer App that is attached to a Project.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    }
    fake_api.add("GET", USER_PATH, Reply(json=forbidden, status=403))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("auth")
    assert "access plan" in run.outcome.message
    assert "Client Forbidden" in run.outcome.message


async def test_unknown_username_is_not_found(fake_api):
    missing = {
        "errors": [
            {
                "value": "XDevelopers",
                "detail": "Could not find user with username: [XDevelopers].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "XDevelopers",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    fake_api.add("GET", USER_PATH, Reply(json=missing, headers=_limits()))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("not_found")
    assert "@XDevelopers" in run.outcome.message


# --- 401 and user tokens ---------------------------------------------------------------------


async def test_401_with_the_bearer_token_is_auth(fake_api):
    unauthorized = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                    "detail": "Unauthorized"}  # fmt: skip
    fake_api.add("GET", USER_PATH, Reply(json=unauthorized, status=401))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("auth")
    assert "bearer_token" in run.outcome.message
    assert len(fake_api.requests) == 1


async def test_401_refreshes_the_user_token_and_keeps_the_rotated_refresh_token(fake_api):
    _serve(fake_api)
    unauthorized = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                    "detail": "Unauthorized"}  # fmt: skip
    fake_api.add("GET", USER_PATH, Reply(json=unauthorized, status=401), Reply(json=USER))
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"), _token_reply("AT2", "RT3"))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _user_settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    run.assert_metric("followers", 583423)
    first, second = fake_api.calls(TOKEN_PATH)
    assert first.form() == {
        "grant_type": "refresh_token",
        "refresh_token": "RT1",
        "client_id": "rG9n6402A3dbUJKzXTNX4oWHJ",
    }
    assert second.form()["refresh_token"] == "RT2"  # the rotated one, not RT1 again
    assert [r.headers["Authorization"] for r in fake_api.calls(USER_PATH)] == [
        "Bearer AT1",
        "Bearer AT2",
    ]
    assert state["oauth"]["refresh_token"] == "RT3"
    assert state["oauth"]["access_token"] == "AT2"

    again = await run_collect(PLATFORM, _user_settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert len(fake_api.calls(TOKEN_PATH)) == 2  # AT2 is still valid: no refresh
    assert fake_api.calls(USER_PATH)[-1].headers["Authorization"] == "Bearer AT2"


async def test_an_expired_user_token_is_refreshed_with_the_latest_refresh_token(fake_api):
    _serve(fake_api)
    fake_api.add(
        "POST",
        TOKEN_PATH,
        _token_reply("AT1", "RT2", expires_in=60),  # within the 300 s margin: refresh again
        _token_reply("AT2", "RT3", expires_in=60),
        _token_reply("AT3", "RT4", expires_in=60),
    )
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _user_settings(fake_api), state=state)
    assert run.ok, run.outcome.message
    sent = [r.form()["refresh_token"] for r in fake_api.calls(TOKEN_PATH)]
    assert sent == ["RT1", "RT2", "RT3"]  # one refresh per request, each with the newest
    assert state["oauth"]["refresh_token"] == "RT4"


async def test_a_confidential_client_refreshes_with_basic_auth(fake_api):
    _serve(fake_api)
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"))
    settings = _user_settings(fake_api)
    settings["user_auth"] = dict(settings["user_auth"], client_secret="s3cr3t")
    run = await run_collect(PLATFORM, settings)
    assert run.ok, run.outcome.message
    (refresh,) = fake_api.calls(TOKEN_PATH)
    expected = base64.b64encode(b"rG9n6402A3dbUJKzXTNX4oWHJ:s3cr3t").decode()
    assert refresh.headers["Authorization"] == f"Basic {expected}"
    assert refresh.form() == {"grant_type": "refresh_token", "refresh_token": "RT1"}


async def test_a_refused_refresh_token_is_auth_saying_to_authorise_again(fake_api):
    _serve(fake_api)
    refused = {"error": "invalid_request",
               "error_description": "Value passed for the token was invalid."}  # fmt: skip
    fake_api.add("POST", TOKEN_PATH, Reply(json=refused, status=400))
    run = await run_collect(PLATFORM, _user_settings(fake_api))
    run.assert_failed("auth")
    assert "authorise the app again" in run.outcome.message
    assert fake_api.calls(USER_PATH) == []


async def test_the_user_token_asks_for_link_clicks(fake_api):
    first, second = _pages()
    for page in (first, second):
        for post in page["data"]:
            views = post["public_metrics"]["impression_count"]
            post["non_public_metrics"] = {
                "impression_count": views,
                "url_link_clicks": views // 100,
                "user_profile_clicks": 1,
            }
    _serve(fake_api, first, second)
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"))
    run = await run_collect(PLATFORM, _user_settings(fake_api))
    assert run.ok, run.outcome.message
    assert [p.metrics.get("clicks") for p in run.posts] == [9, 51, 4, 3, 20]
    clicks = {("clicks", 9 + 51, "1d"), ("clicks", 9 + 51 + 4 + 3 + 20, "7d")}
    assert _samples(run) == COUNTERS | WINDOW_SUMS | clicks
    assert all("non_public_metrics" in _fields(r) for r in fake_api.calls(TWEETS_PATH))
    assert fake_api.calls(TWEETS_PATH)[0].headers["Authorization"] == "Bearer AT1"


# --- server errors and bad bodies ------------------------------------------------------------


async def test_5xx_then_recovery_within_the_poll(fake_api):
    _serve(fake_api)
    unavailable = {"title": "Service Unavailable", "type": "about:blank", "status": 503,
                   "detail": "Service Unavailable"}  # fmt: skip
    fake_api.add("GET", USER_PATH, Reply(json=unavailable, status=503), Reply(json=USER))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    assert run.ok, run.outcome.message
    run.assert_metric("followers", 583423)
    assert len(fake_api.calls(USER_PATH)) == 2


async def test_5xx_every_time_is_unavailable(fake_api):
    fake_api.add("GET", USER_PATH, Reply(body="Internal Server Error", status=500))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("unavailable")
    assert len(fake_api.calls(USER_PATH)) == 3  # the first try and two retries


async def test_a_malformed_body_is_bad_response_naming_platform_and_path(fake_api):
    _serve(fake_api)
    fake_api.add("GET", TWEETS_PATH, Reply(body="<html>upstream connect error</html>"))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("bad_response")
    assert run.outcome.message.startswith("x: ")
    assert TWEETS_PATH in run.outcome.message


async def test_a_user_without_public_metrics_is_bad_response(fake_api):
    fake_api.add("GET", USER_PATH, Reply(json={"data": {"id": USER_ID, "username": "X"}}))
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("bad_response")
    assert USER_PATH in run.outcome.message
    assert "public_metrics" in run.outcome.message


async def test_data_that_is_not_a_list_is_bad_response(fake_api):
    _serve(fake_api, first={"data": {"id": "1"}, "meta": {"result_count": 1}})
    run = await run_collect(PLATFORM, _bearer_settings(fake_api))
    run.assert_failed("bad_response")
    assert TWEETS_PATH in run.outcome.message


# --- removed metrics -------------------------------------------------------------------------


def _refused_page() -> dict[str, Any]:
    first, _ = _pages()
    first = dict(first)
    first.pop("meta")
    first["meta"] = {"result_count": 3}
    first["errors"] = [
        {
            "value": post["id"],
            "detail": "Sorry, you are not authorized to access 'non_public_metrics' on the "
            f"Tweet with ids: [{post['id']}].",
            "title": "Field Authorization Error",
            "resource_type": "tweet",
            "field": "non_public_metrics",
            "parameter": "non_public_metrics",
            "resource_id": post["id"],
            "section": "data",
            "type": "https://api.twitter.com/2/problems/not-authorized-for-field",
        }
        for post in first["data"]
    ]
    return first


async def test_refused_non_public_metrics_disable_clicks_and_are_not_asked_again(fake_api):
    _serve(fake_api, first=_refused_page())
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _user_settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert set(run.outcome.removed) == {"clicks"}
    assert "Field Authorization Error" in run.outcome.removed["clicks"]
    # the three posts of the page (2 h, 20 h, 30 h), each named by an error but all in data:
    # sums without clicks
    week = {
        ("posts_published", 3, "7d"),
        ("likes", 25 + 80 + 7, "7d"),
        ("comments", 3 + 6 + 0, "7d"),
        ("shares", 5 + 12 + 1, "7d"),
        ("saves", 2 + 9 + 1, "7d"),
        ("impressions", 900 + 5100 + 450, "7d"),
        ("video_views", 340, "7d"),
    }
    assert _samples(run) == COUNTERS | WINDOW_SUMS_1D | week
    assert all("clicks" not in p.metrics for p in run.posts)
    assert run.posts[0].metrics == {
        "likes": 25,
        "comments": 3,
        "shares": 5,
        "saves": 2,
        "impressions": 900,
    }
    assert "non_public_metrics" in _fields(fake_api.calls(TWEETS_PATH)[0])

    again = await run_collect(PLATFORM, _user_settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert set(again.outcome.removed) == {"clicks"}  # still disabled
    assert "non_public_metrics" not in _fields(fake_api.calls(TWEETS_PATH)[-1])
    assert len(again.posts) == 3


async def test_clicks_are_asked_again_after_a_week_and_restored(fake_api):
    _serve(fake_api, first=_refused_page())
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"), _token_reply("AT2", "RT3"))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _user_settings(fake_api), state=state)
    assert set(run.outcome.removed) == {"clicks"}

    served, _ = _pages()
    served["meta"] = {"result_count": 3}
    for post in served["data"]:
        post["non_public_metrics"] = {"impression_count": 1, "url_link_clicks": 6,
                                      "user_profile_clicks": 0}  # fmt: skip
    fake_api.add("GET", TWEETS_PATH, Reply(json=served, headers=_limits()))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        later = await run_collect(PLATFORM, _user_settings(fake_api), state=state)
    assert later.ok, later.outcome.message
    assert "non_public_metrics" in _fields(fake_api.calls(TWEETS_PATH)[-1])
    assert later.outcome.removed == {}
    assert [p.metrics["clicks"] for p in later.posts] == [6, 6, 6]


async def test_a_counter_missing_from_the_user_is_removed_and_the_rest_kept(fake_api):
    user = {"data": dict(USER["data"], public_metrics={"followers_count": 10,
                                                       "following_count": 3})}  # fmt: skip
    _serve(fake_api)
    fake_api.add("GET", USER_PATH, Reply(json=user, headers=_limits()))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _bearer_settings(fake_api), state=state)
    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 10, None), ("following", 3, None)} | WINDOW_SUMS
    assert set(run.outcome.removed) == {"posts"}
    assert len(run.posts) == 5

    fake_api.add("GET", USER_PATH, Reply(json=USER, headers=_limits()))
    again = await run_collect(PLATFORM, _bearer_settings(fake_api), state=state)
    assert (
        _samples(again)
        == {
            ("followers", 583423, None),
            ("following", 2048, None),
        }
        | WINDOW_SUMS
    )
    assert set(again.outcome.removed) == {"posts"}  # not read again before the retry time


# --- competitors -----------------------------------------------------------------------------


async def test_a_competitor_uses_the_bearer_token_and_public_metrics_only(fake_api):
    _serve(fake_api)
    settings = _user_settings(fake_api, bearer_token=BEARER)
    run = await run_collect(PLATFORM, settings, competitor=True)
    assert run.ok, run.outcome.message
    assert _samples(run) == COUNTERS | WINDOW_SUMS  # no clicks
    assert len(run.posts) == 5
    assert all("clicks" not in p.metrics for p in run.posts)
    assert fake_api.calls(TOKEN_PATH) == []
    for request in fake_api.calls(TWEETS_PATH):
        assert request.headers["Authorization"] == f"Bearer {BEARER}"
        assert "non_public_metrics" not in _fields(request)


async def test_a_competitor_read_with_a_user_token_gets_public_fields_only(fake_api):
    _serve(fake_api)
    fake_api.add("POST", TOKEN_PATH, _token_reply("AT1", "RT2"))
    run = await run_collect(PLATFORM, _user_settings(fake_api), competitor=True)
    assert run.ok, run.outcome.message
    assert all("non_public_metrics" not in _fields(r) for r in fake_api.calls(TWEETS_PATH))
    assert fake_api.calls(TWEETS_PATH)[0].headers["Authorization"] == "Bearer AT1"


# --- settings and registration ---------------------------------------------------------------


def test_settings_accept_a_handle_with_at_and_default_to_the_real_api():
    settings = XSettings.model_validate({"username": "@XDevelopers", "bearer_token": BEARER})
    assert settings.username == "XDevelopers"
    assert settings.base_url == "https://api.x.com"
    assert settings.oauth_token_url == "https://api.x.com/2/oauth2/token"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"username": "XDevelopers"}, "give bearer_token"),
        ({"username": "not a handle", "bearer_token": "t"}, "1 to 15 letters"),
        ({"username": "XDevelopers", "bearer_token": "t", "post_days": 60}, "29"),
        ({"username": "XDevelopers", "bearer_token": "t", "base_url": "api.x.com"}, "http"),
        ({"username": "XDevelopers", "bearer_token": "t", "token": "t"}, "token"),
        ({"username": "XDevelopers", "user_auth": {"client_id": "c"}}, "refresh_token"),
    ],
)
def test_bad_settings_say_what_to_write(raw, says):
    with pytest.raises(ValidationError) as caught:
        XSettings.model_validate(raw)
    assert says in str(caught.value)


def test_the_plugin_registers_the_x_platform():
    registry = PluginRegistry()
    registry.register_module(kpiwatch_platforms.x, "x")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["x"] is PLATFORM
    assert PLATFORM.api is not None and PLATFORM.api.rate_limit_headers == "x"


def test_sample_configuration_is_valid():
    path = Path(kpiwatch_platforms.x.__file__).with_name("sample.yaml")
    environ = {"X_BEARER_TOKEN": BEARER, "X_CLIENT_ID": "cl1ent", "X_REFRESH_TOKEN": "RT1"}
    loaded = load_config(path, {"x": PLATFORM}, environ=environ)
    own = [a for a in loaded.config.accounts if not a.competitor]
    rivals = [a for a in loaded.config.accounts if a.competitor]
    assert own and rivals
    settings = loaded.account_settings(own[0].id)
    assert settings.user_auth.refresh_token.get_secret_value() == "RT1"
    assert settings.user_auth.client_secret is None  # X_CLIENT_SECRET unset: a public client
    assert settings.bearer_token.get_secret_value() == BEARER
