"""The ``bluesky`` platform against a fake AppView and PDS on loopback.

Bodies follow the lexicons (app.bsky.actor.getProfile, app.bsky.feed.getAuthorFeed,
app.bsky.notification.listNotifications, com.atproto.server.createSession / refreshSession);
errors are XRPC ``{"error": "<Name>", "message": "..."}`` bodies; the PDS sends ``ratelimit-*``
headers with the reset in unix seconds.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

import kpiwatch_platforms.bluesky
from kpiwatch.config_loader import load_config_text
from kpiwatch.config_problems import ConfigError
from kpiwatch.platform import REMOVED_KEY
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.bluesky import PLATFORM, mentions
from kpiwatch_platforms.bluesky.session import fingerprint
from kpiwatch_platforms.bluesky.settings import BlueskySettings

DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
HANDLE = "acme.bsky.social"
OTHER_DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
PASSWORD = "abcd-efgh-ijkl-mnop"
NOW = datetime.now(UTC)

PROFILE = "/xrpc/app.bsky.actor.getProfile"
FEED = "/xrpc/app.bsky.feed.getAuthorFeed"
NOTIFICATIONS = "/xrpc/app.bsky.notification.listNotifications"
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def hours_ago(hours: float) -> datetime:
    return (NOW - timedelta(hours=hours)).replace(microsecond=0)


def profile_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "did": DID,
        "handle": HANDLE,
        "displayName": "Acme",
        "followersCount": 1520,
        "followsCount": 310,
        "postsCount": 842,
        "createdAt": "2023-04-12T09:00:00.000Z",
        "indexedAt": "2023-04-12T09:00:00.000Z",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def post_view(rkey: str, published: datetime, *, author: str = DID, **fields: Any) -> dict:
    """A postView as getAuthorFeed returns it; ``fields`` adds counters and an embed."""
    view = {
        "uri": f"at://{author}/app.bsky.feed.post/{rkey}",
        "cid": f"bafyreib{rkey}",
        "author": {"did": author, "handle": HANDLE if author == DID else "someone.bsky.social"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"post {rkey}",
            "createdAt": iso(published),
        },
        "indexedAt": iso(published + timedelta(seconds=2)),
    }
    view.update(fields)
    return view


def counters(likes: int, reposts: int, replies: int, quotes: int | None = None) -> dict:
    out = {"likeCount": likes, "repostCount": reposts, "replyCount": replies}
    if quotes is not None:
        out["quoteCount"] = quotes
    return out


IMAGE = {
    "$type": "app.bsky.embed.images#view",
    "images": [{"thumb": "https://cdn.bsky.app/t/1", "fullsize": "https://cdn.bsky.app/f/1"}],
}
THREE_IMAGES = {"$type": "app.bsky.embed.images#view", "images": [{"alt": ""}] * 3}
VIDEO = {"$type": "app.bsky.embed.video#view", "cid": "bafk", "playlist": "https://v/x.m3u8"}
LINK = {
    "$type": "app.bsky.embed.external#view",
    "external": {"uri": "https://acme.example/launch", "title": "Launch", "description": ""},
}
QUOTE = {
    "$type": "app.bsky.embed.record#view",
    "record": {"$type": "app.bsky.embed.record#viewRecord", "uri": "at://x/y/z"},
}
QUOTE_WITH_VIDEO = {
    "$type": "app.bsky.embed.recordWithMedia#view",
    "record": {"record": {"$type": "app.bsky.embed.record#viewRecord"}},
    "media": VIDEO,
}


def settings(url: str, **extra: Any) -> dict[str, Any]:
    return {"handle": HANDLE, "appview_url": url, "pds_url": url, **extra}


def with_login(url: str, **extra: Any) -> dict[str, Any]:
    return settings(url, **{"app_password": PASSWORD, **extra})


def jwt(exp: float, sub: str = DID) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part({'sub': sub, 'exp': exp})}.c2ln"


def session_body(access: str, refresh: str, did: str = DID, **extra: Any) -> dict[str, Any]:
    return {
        "did": did,
        "handle": HANDLE,
        "accessJwt": access,
        "refreshJwt": refresh,
        "active": True,
        **extra,
    }


def saved_session(url: str, access: str, refresh: str) -> dict[str, Any]:
    """The state a previous poll left: a session for the login of ``with_login(url)``."""
    return {
        "session": {
            "key": fingerprint(url, HANDLE, PASSWORD),
            "access": access,
            "refresh": refresh,
            "did": DID,
            "pds": url,
        }
    }


def mention(hours: float, reason: str = "mention") -> dict[str, Any]:
    when = hours_ago(hours)
    return {
        "uri": f"at://{OTHER_DID}/app.bsky.feed.post/m{int(hours * 10)}",
        "cid": "bafyreim",
        "author": {"did": OTHER_DID, "handle": "fan.bsky.social"},
        "reason": reason,
        "record": {"$type": "app.bsky.feed.post", "text": "@acme.bsky.social hi"},
        "isRead": False,
        "indexedAt": iso(when),
    }


def public_routes(api: FakeApi, feed: list[dict] | None = None) -> None:
    api.add("GET", PROFILE, profile_body())
    api.add("GET", FEED, {"feed": feed if feed is not None else []})


def bearer(request: Any) -> str:
    return request.headers.get("Authorization", "")


# a normal poll ---------------------------------------------------------------------------------
async def test_a_poll_returns_profile_counters_and_recent_posts(fake_api: FakeApi) -> None:
    image_at, carousel_at, video_at = hours_ago(2), hours_ago(5), hours_ago(26)
    link_at, quote_at, text_at = hours_ago(50), hours_ago(80), hours_ago(100)
    video = post_view("3kvid", video_at, embed=VIDEO, **counters(8, 1, 0, 2))
    feed = [
        {  # the account reposted its own video: the same post, counted once
            "post": video,
            "reason": {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": {"did": DID, "handle": HANDLE},
                "indexedAt": iso(hours_ago(1)),
            },
        },
        {"post": post_view("3kimg", image_at, embed=IMAGE, **counters(12, 3, 4, 1))},
        {"post": post_view("3kcar", carousel_at, embed=THREE_IMAGES, **counters(40, 7, 2, 0))},
        {  # a repost of someone else's post by the account: not the account's post
            "post": post_view("3kother", hours_ago(6), author=OTHER_DID, **counters(900, 80, 60)),
            "reason": {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": {"did": DID, "handle": HANDLE},
                "indexedAt": iso(hours_ago(6)),
            },
        },
        {"post": video},
        {"post": post_view("3klnk", link_at, embed=LINK, **counters(5, 0, 1))},
        {
            "post": post_view(
                "3kquo", quote_at, embed=QUOTE, bookmarkCount=3, **counters(2, 1, 1, 1)
            )
        },
        {"post": post_view("3ktxt", text_at, **counters(0, 0, 0, 0))},
    ]
    public_routes(fake_api, feed)
    run = await run_collect(PLATFORM, settings(fake_api.url))

    assert run.ok, run.outcome.message
    # the feed ended (no cursor): every window of the 28d lookback is complete; sums are of the
    # posts published in the window: 1d the image and the carousel, 7d and 28d all six
    assert sorted((s.metric, s.window or "", s.value) for s in run.samples) == [
        ("comments", "1d", 6.0),
        ("comments", "28d", 8.0),
        ("comments", "7d", 8.0),
        ("followers", "", 1520.0),
        ("following", "", 310.0),
        ("likes", "1d", 52.0),
        ("likes", "28d", 67.0),
        ("likes", "7d", 67.0),
        ("posts", "", 842.0),
        ("posts_published", "1d", 2.0),
        ("posts_published", "28d", 6.0),
        ("posts_published", "7d", 6.0),
        ("saves", "28d", 3.0),
        ("saves", "7d", 3.0),
        ("shares", "1d", 11.0),
        ("shares", "28d", 16.0),
        ("shares", "7d", 16.0),
    ]
    got = [(p.id, p.published_at, p.content_type, dict(p.metrics), p.url) for p in run.posts]
    base = f"at://{DID}/app.bsky.feed.post/"
    web = f"https://bsky.app/profile/{HANDLE}/post/"
    assert got == [
        (base + "3kimg", image_at, "image",
         {"likes": 12.0, "comments": 4.0, "shares": 4.0}, web + "3kimg"),
        (base + "3kcar", carousel_at, "carousel",
         {"likes": 40.0, "comments": 2.0, "shares": 7.0}, web + "3kcar"),
        (base + "3kvid", video_at, "video",
         {"likes": 8.0, "comments": 0.0, "shares": 3.0}, web + "3kvid"),
        (base + "3klnk", link_at, "link",
         {"likes": 5.0, "comments": 1.0, "shares": 0.0}, web + "3klnk"),
        (base + "3kquo", quote_at, "text",
         {"likes": 2.0, "comments": 1.0, "shares": 2.0, "saves": 3.0}, web + "3kquo"),
        (base + "3ktxt", text_at, "text",
         {"likes": 0.0, "comments": 0.0, "shares": 0.0}, web + "3ktxt"),
    ]  # fmt: skip
    [profile_call] = fake_api.calls(PROFILE)
    assert profile_call.query == {"actor": HANDLE}
    [feed_call] = fake_api.calls(FEED)
    assert feed_call.query == {"actor": DID, "limit": "100", "filter": "posts_no_replies"}
    assert all("Authorization" not in r.headers for r in fake_api.requests)
    assert not fake_api.calls(CREATE) and not fake_api.calls(NOTIFICATIONS)


async def test_content_type_of_a_quote_with_media_is_the_media_and_created_at_is_capped(
    fake_api: FakeApi,
) -> None:
    indexed = hours_ago(3)
    view = post_view("3kqv", indexed, embed=QUOTE_WITH_VIDEO, **counters(1, 0, 0))
    view["record"]["createdAt"] = iso(NOW + timedelta(days=30))  # a client's clock far ahead
    view["indexedAt"] = iso(indexed)
    public_routes(fake_api, [{"post": view}])
    run = await run_collect(PLATFORM, settings(fake_api.url))
    assert [(p.content_type, p.published_at) for p in run.posts] == [("video", indexed)]


# pagination ------------------------------------------------------------------------------------
async def test_the_feed_is_followed_by_cursor_until_it_reaches_past_the_lookback(
    fake_api: FakeApi,
) -> None:
    fake_api.add("GET", PROFILE, profile_body())
    fake_api.add(
        "GET",
        FEED,
        {
            "feed": [{"post": post_view("p1", hours_ago(1), **counters(1, 0, 0))},
                     {"post": post_view("p2", hours_ago(30), **counters(2, 0, 0))}],
            "cursor": "2026-01-01T00:00:00.000Z::p2",
        },
    )  # fmt: skip
    fake_api.add(
        "GET",
        FEED,
        {
            "feed": [{"post": post_view("p3", hours_ago(60), **counters(3, 0, 0))},
                     {"post": post_view("p4", hours_ago(24 * 9), **counters(4, 0, 0))}],
            "cursor": "2025-12-20T00:00:00.000Z::p4",
        },
        query={"cursor": "2026-01-01T00:00:00.000Z::p2"},
    )  # fmt: skip
    fake_api.add(
        "GET",
        FEED,
        {"feed": [{"post": post_view("p5", hours_ago(24 * 10), **counters(5, 0, 0))}]},
        query={"cursor": "2025-12-20T00:00:00.000Z::p4"},
    )
    run = await run_collect(PLATFORM, settings(fake_api.url, lookback="7d"))

    assert run.ok, run.outcome.message
    assert [(p.id.rsplit("/", 1)[1], p.metrics["likes"]) for p in run.posts] == [
        ("p1", 1.0),
        ("p2", 2.0),
        ("p3", 3.0),
    ]
    cursors = [r.query.get("cursor") for r in fake_api.calls(FEED)]
    assert cursors == [None, "2026-01-01T00:00:00.000Z::p2"]  # the page past 7d ends reading
    assert sorted((s.window, s.value) for s in run.samples if s.metric == "likes") == [
        ("1d", 1.0),
        ("7d", 6.0),
    ]  # no 28d window: it is longer than the lookback
    assert sorted((s.window, s.value) for s in run.samples if s.metric == "posts_published") == [
        ("1d", 1.0),
        ("7d", 3.0),
    ]


async def test_max_pages_bounds_the_feed_and_an_absent_cursor_ends_it(fake_api: FakeApi) -> None:
    fake_api.add("GET", PROFILE, profile_body())
    page = {"feed": [{"post": post_view("a", hours_ago(1), **counters(1, 0, 0))}], "cursor": "c"}
    fake_api.add("GET", FEED, page)
    fake_api.add(
        "GET",
        FEED,
        {"feed": [{"post": post_view("b", hours_ago(2), **counters(1, 0, 0))}]},
        query={"cursor": "c"},
    )
    one = await run_collect(PLATFORM, settings(fake_api.url, max_pages=1))
    assert [p.id[-1] for p in one.posts] == ["a"] and len(fake_api.calls(FEED)) == 1
    assert one.values("posts_published") == []  # read back 1h only: no window is complete
    both = await run_collect(PLATFORM, settings(fake_api.url))
    assert [p.id[-1] for p in both.posts] == ["a", "b"] and len(fake_api.calls(FEED)) == 3
    assert both.values("posts_published", window="1d") == [2.0]


async def test_a_cursor_that_does_not_move_ends_the_feed(fake_api: FakeApi) -> None:
    fake_api.add("GET", PROFILE, profile_body())
    page = {"feed": [{"post": post_view("a", hours_ago(1), **counters(1, 0, 0))}], "cursor": "c"}
    fake_api.add("GET", FEED, page)
    run = await run_collect(PLATFORM, settings(fake_api.url))
    assert [p.id[-1] for p in run.posts] == ["a"]
    assert [r.query.get("cursor") for r in fake_api.calls(FEED)] == [None, "c"]


# the app-password session and mentions ---------------------------------------------------------
async def test_mentions_are_counted_per_window_with_one_session_for_many_polls(
    fake_api: FakeApi,
) -> None:
    public_routes(fake_api)
    fake_api.add("POST", CREATE, session_body("access-1", "refresh-1"))
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        {
            "notifications": [mention(2), mention(20), mention(22, reason="reply"), mention(30)],
            "cursor": "n1",
            "seenAt": iso(hours_ago(1)),
        },
    )
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        {"notifications": [mention(24 * 6), mention(24 * 20), mention(24 * 30)], "cursor": "n2"},
        query={"cursor": "n1"},
    )
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert sorted((s.window, s.value) for s in run.samples if s.metric == "mentions") == [
        ("1d", 2.0),
        ("28d", 5.0),
        ("7d", 4.0),
    ]  # the reply is no mention; the page reaching past 28d is the last one read
    run.assert_metric("followers", 1520.0)
    [login] = fake_api.calls(CREATE)
    assert login.json() == {"identifier": HANDLE, "password": PASSWORD}
    first, second = fake_api.calls(NOTIFICATIONS)
    assert first.query == {"reasons": "mention", "limit": "100"}
    assert second.query == {"reasons": "mention", "limit": "100", "cursor": "n1"}
    assert {bearer(first), bearer(second)} == {"Bearer access-1"}
    assert state["session"]["refresh"] == "refresh-1"

    again = await run_collect(PLATFORM, with_login(fake_api.url), state=state)
    assert again.ok and again.values("mentions", window="7d") == [4.0]
    assert len(fake_api.calls(CREATE)) == 1  # the session of the first poll is reused
    assert PASSWORD not in json.dumps(state)


async def test_a_window_the_pages_did_not_reach_is_left_out(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mentions, "MAX_PAGES", 1)
    public_routes(fake_api)
    fake_api.add("GET", NOTIFICATIONS, {"notifications": [mention(2), mention(30)], "cursor": "n1"})
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)
    assert run.ok, run.outcome.message
    assert [(s.value, s.window) for s in run.samples if s.metric == "mentions"] == [(1.0, "1d")]
    assert len(fake_api.calls(NOTIFICATIONS)) == 1


async def test_mentions_are_read_back_no_further_than_the_lookback(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    fake_api.add(
        "GET", NOTIFICATIONS, {"notifications": [mention(2), mention(24 * 8)], "cursor": "n1"}
    )
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url, lookback="7d"), state=state)
    assert run.ok, run.outcome.message
    assert sorted((s.window, s.value) for s in run.samples if s.metric == "mentions") == [
        ("1d", 1.0),
        ("7d", 1.0),
    ]
    assert len(fake_api.calls(NOTIFICATIONS)) == 1


async def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_kept(
    fake_api: FakeApi,
) -> None:
    public_routes(fake_api)
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(json={"error": "ExpiredToken", "message": "Token has expired"}, status=400),
        {"notifications": [mention(3)]},
    )
    fake_api.add("POST", REFRESH, session_body("access-2", "refresh-2"))
    fake_api.add("POST", CREATE, Reply(json={"error": "RateLimitExceeded"}, status=429))
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert run.values("mentions", window="1d") == [1.0]
    [refresh] = fake_api.calls(REFRESH)
    assert bearer(refresh) == "Bearer refresh-1"
    assert [bearer(r) for r in fake_api.calls(NOTIFICATIONS)] == [
        "Bearer access-1",
        "Bearer access-2",
    ]
    assert (state["session"]["access"], state["session"]["refresh"]) == ("access-2", "refresh-2")
    assert not fake_api.calls(CREATE)


async def test_an_access_token_past_its_exp_is_refreshed_before_use(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    fake_api.add("GET", NOTIFICATIONS, {"notifications": []})
    fresh = jwt(time.time() + 7200)
    fake_api.add("POST", REFRESH, session_body(fresh, "refresh-2"))
    state = saved_session(fake_api.url, jwt(time.time() - 10), "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert run.values("mentions", window="1d") == [0.0]
    assert [bearer(r) for r in fake_api.calls(NOTIFICATIONS)] == [f"Bearer {fresh}"]
    assert state["session"]["refresh"] == "refresh-2"


async def test_a_dead_refresh_token_logs_in_again_once(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(json={"error": "ExpiredToken", "message": "Token has expired"}, status=400),
        {"notifications": [mention(1)]},
    )
    fake_api.add(
        "POST",
        REFRESH,
        Reply(json={"error": "ExpiredToken", "message": "Token has expired"}, status=400),
    )
    fake_api.add("POST", CREATE, session_body("access-9", "refresh-9"))
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert len(fake_api.calls(CREATE)) == 1
    assert bearer(fake_api.calls(NOTIFICATIONS)[-1]) == "Bearer access-9"
    assert state["session"]["refresh"] == "refresh-9"


async def test_the_pds_named_in_the_did_document_serves_the_session(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    own_pds = f"{fake_api.url}/shard"
    did_doc = {
        "id": DID,
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": own_pds,
            }
        ],
    }
    fake_api.add("POST", CREATE, session_body("access-1", "refresh-1", didDoc=did_doc))
    fake_api.add("GET", "/shard" + NOTIFICATIONS, {"notifications": [mention(1)]})
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert run.values("mentions", window="1d") == [1.0]
    assert state["session"]["pds"] == own_pds
    assert not fake_api.calls(NOTIFICATIONS)


# 401 and refused credentials -------------------------------------------------------------------
async def test_a_refused_app_password_is_auth_and_not_retried_within_the_hour(
    fake_api: FakeApi,
) -> None:
    public_routes(fake_api)
    fake_api.add(
        "POST",
        CREATE,
        Reply(
            json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
            status=401,
        ),
    )
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert "Invalid identifier or password" in message and "app_password" in message
    assert PASSWORD not in message

    again = await run_collect(PLATFORM, with_login(fake_api.url), state=state)
    again.assert_failed("auth")
    assert "not tried again" in (again.outcome.message or "")
    assert len(fake_api.calls(CREATE)) == 1

    fake_api.add("POST", CREATE, session_body("access-1", "refresh-1"))
    fake_api.add("GET", NOTIFICATIONS, {"notifications": []})
    fixed = await run_collect(
        PLATFORM, with_login(fake_api.url, app_password="qrst-uvwx-yzab-cdef"), state=state
    )
    assert fixed.ok, fixed.outcome.message  # a new app password is tried at once
    assert len(fake_api.calls(CREATE)) == 2


async def test_an_invalid_token_is_auth_and_ends_the_saved_session(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(json={"error": "InvalidToken", "message": "Token could not be verified"}, status=400),
    )
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    run.assert_failed("auth")
    assert "InvalidToken" in (run.outcome.message or "")
    assert "session" not in state  # the next poll logs in anew
    assert not fake_api.calls(REFRESH)


async def test_an_app_password_of_another_account_is_auth(fake_api: FakeApi) -> None:
    public_routes(fake_api)
    fake_api.add("POST", CREATE, session_body("access-1", "refresh-1", did=OTHER_DID))
    fake_api.add("GET", NOTIFICATIONS, {"notifications": [mention(1)]})
    run = await run_collect(PLATFORM, with_login(fake_api.url, identifier="other@example.com"))
    run.assert_failed("auth")
    assert OTHER_DID in (run.outcome.message or "") and HANDLE in (run.outcome.message or "")


# rate limits -----------------------------------------------------------------------------------
async def test_a_429_from_the_pds_waits_for_the_reset_and_refuses_until_then(
    fake_api: FakeApi,
) -> None:
    public_routes(fake_api)
    reset = int(time.time()) + 240
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(
            json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            status=429,
            headers={
                "ratelimit-limit": "3000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(reset),
                "ratelimit-policy": "3000;w=300",
            },
        ),
    )
    limits = ApiLimits()
    state = saved_session(fake_api.url, "access-1", "refresh-1")
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state, limits=limits)

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == pytest.approx(reset - time.time(), abs=3)
    assert run.outcome.rate_limit is not None
    assert (run.outcome.rate_limit.limit, run.outcome.rate_limit.remaining) == (3000.0, 0.0)

    again = await run_collect(PLATFORM, with_login(fake_api.url), state=state, limits=limits)
    again.assert_failed("rate_limited")
    assert again.outcome.retry_after == pytest.approx(reset - time.time(), abs=3)
    assert len(fake_api.calls(NOTIFICATIONS)) == 1  # refused without asking the PDS
    assert not fake_api.calls(CREATE) and not fake_api.calls(REFRESH)


async def test_a_429_from_the_appview_is_rate_limited(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        PROFILE,
        Reply(json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, status=429),
    )
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("rate_limited")
    assert "getProfile" in (run.outcome.message or "")


# server errors ---------------------------------------------------------------------------------
async def test_a_5xx_is_retried_within_the_poll(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        PROFILE,
        Reply(json={"error": "UpstreamFailure", "message": "Upstream Failure"}, status=502),
        profile_body(),
    )
    fake_api.add(
        "GET",
        FEED,
        Reply(json={"error": "InternalServerError"}, status=500),
        {"feed": [{"post": post_view("x", hours_ago(1), **counters(1, 0, 0))}]},
    )
    run = await run_collect(PLATFORM, settings(fake_api.url))
    assert run.ok, run.outcome.message
    run.assert_metric("followers", 1520.0)
    assert len(run.posts) == 1
    assert (len(fake_api.calls(PROFILE)), len(fake_api.calls(FEED))) == (2, 2)


async def test_a_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    fake_api.add("GET", PROFILE, Reply(body="Service Unavailable", status=503))
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("unavailable")
    assert len(fake_api.calls(PROFILE)) == 3  # the first try and two retries


# malformed bodies ------------------------------------------------------------------------------
async def test_a_body_that_is_not_json_is_a_bad_response(fake_api: FakeApi) -> None:
    fake_api.add("GET", PROFILE, Reply(body="<html><body>Bad gateway</body></html>"))
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("bluesky: ") and "/xrpc/app.bsky.actor.getProfile" in message


@pytest.mark.parametrize(
    ("feed_body", "detail"),
    [
        ({"cursor": "x"}, "no feed list"),
        ({"feed": [{"reason": None}]}, "a feed item without a post"),
        ({"feed": [{"post": post_view("s", hours_ago(1), likeCount="12")}]}, "likeCount='12'"),
    ],
)
async def test_a_feed_without_the_lexicon_fields_is_a_bad_response(
    fake_api: FakeApi, feed_body: dict, detail: str
) -> None:
    fake_api.add("GET", PROFILE, profile_body())
    fake_api.add("GET", FEED, feed_body)
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert "bluesky: " in message and "/xrpc/app.bsky.feed.getAuthorFeed" in message
    assert detail in message


async def test_an_unknown_handle_is_not_found(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        PROFILE,
        Reply(json={"error": "InvalidRequest", "message": "Profile not found"}, status=400),
    )
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("not_found")


# removed metrics -------------------------------------------------------------------------------
async def test_mentions_a_pds_no_longer_serves_are_disabled_and_not_asked_again(
    fake_api: FakeApi,
) -> None:
    public_routes(fake_api)
    fake_api.add("POST", CREATE, session_body("access-1", "refresh-1"))
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(
            json={"error": "MethodNotImplemented", "message": "Method Not Implemented"},
            status=501,
        ),
    )
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, with_login(fake_api.url), state=state)

    assert run.ok, run.outcome.message
    assert run.values("mentions") == []
    assert {s.metric for s in run.samples} >= {"followers", "following", "posts", "likes"}
    assert list(run.outcome.removed) == ["mentions"]
    assert "MethodNotImplemented" in run.outcome.removed["mentions"]
    assert len(fake_api.calls(NOTIFICATIONS)) == 1  # not retried as a server error

    again = await run_collect(PLATFORM, with_login(fake_api.url), state=state)
    assert again.ok and again.values("followers") == [1520.0]
    assert len(fake_api.calls(NOTIFICATIONS)) == 1
    assert list(again.outcome.removed) == ["mentions"]

    # a week later it is asked again, and it is back
    state[REMOVED_KEY]["mentions"]["since"] -= 8 * 86400
    fake_api.add("GET", NOTIFICATIONS, {"notifications": [mention(5)]})
    later = await run_collect(PLATFORM, with_login(fake_api.url), state=state)
    assert later.values("mentions", window="1d") == [1.0]
    assert later.outcome.removed == {}


async def test_a_profile_counter_no_longer_served_is_disabled_and_the_rest_kept(
    fake_api: FakeApi,
) -> None:
    fake_api.add("GET", PROFILE, profile_body(postsCount=None))
    fake_api.add("GET", FEED, {"feed": []})
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, settings(fake_api.url), state=state)
    assert run.ok, run.outcome.message
    counters_read = {s.metric: s.value for s in run.samples if s.window is None}
    assert counters_read == {"followers": 1520.0, "following": 310.0}
    assert run.values("posts_published", window="7d") == [0.0]  # the rest is still there
    assert run.outcome.removed == {
        "posts": "app.bsky.actor.getProfile no longer returns postsCount"
    }

    fake_api.add("GET", PROFILE, profile_body(postsCount=850))  # ignored until the retry time
    again = await run_collect(PLATFORM, settings(fake_api.url), state=state)
    assert again.values("posts") == [] and "posts" in again.outcome.removed

    state[REMOVED_KEY]["posts"]["since"] -= 8 * 86400  # a week later it is read again
    later = await run_collect(PLATFORM, settings(fake_api.url), state=state)
    assert later.values("posts") == [850.0] and later.outcome.removed == {}


# competitors -----------------------------------------------------------------------------------
async def test_a_competitor_is_read_from_public_data_only(fake_api: FakeApi) -> None:
    public_routes(fake_api, [{"post": post_view("c1", hours_ago(4), **counters(9, 2, 1, 1))}])
    run = await run_collect(PLATFORM, with_login(fake_api.url), competitor=True)

    assert run.ok, run.outcome.message
    assert {s.metric: s.value for s in run.samples if s.window == "7d"} == {
        "posts_published": 1.0,
        "likes": 9.0,
        "comments": 1.0,
        "shares": 3.0,
    }
    run.assert_metric("followers", 1520.0)
    run.assert_no_metric("mentions")
    assert [dict(p.metrics) for p in run.posts] == [{"likes": 9.0, "comments": 1.0, "shares": 3.0}]
    assert not fake_api.calls(CREATE) and not fake_api.calls(NOTIFICATIONS)
    assert all("Authorization" not in r.headers for r in fake_api.requests)


# settings --------------------------------------------------------------------------------------
def test_settings_normalise_handles_and_urls() -> None:
    model = BlueskySettings.model_validate(
        {
            "handle": "@Acme.BSKY.social",
            "appview_url": "https://public.api.bsky.app/xrpc/",
            "lookback": "36h",
        }
    )
    assert model.handle == "acme.bsky.social"
    assert model.appview_url == "https://public.api.bsky.app"
    assert model.pds_url == "https://bsky.social"
    assert model.lookback == timedelta(hours=36)
    assert model.login is None
    did = BlueskySettings.model_validate({"handle": DID, "app_password": PASSWORD})
    assert did.handle == DID and did.login == DID


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"handle": "acme bsky"}, "write it like acme.bsky.social"),
        ({"handle": HANDLE, "appview_url": "public.api.bsky.app"}, "is not an http(s) URL"),
        ({"handle": HANDLE, "identifier": "a@b.c"}, "add app_password"),
        ({"handle": HANDLE, "app_password": " "}, "app_password is empty"),
        ({"handle": HANDLE, "lookback": "2 weeks"}, "is not a duration"),
        ({"handle": HANDLE, "lookback": "400d"}, "from 1h to 365d"),
        ({"handle": HANDLE, "token": "x"}, "Extra inputs are not permitted"),
        ({"handle": HANDLE, "feed_filter": "all"}, "posts_no_replies"),
    ],
)
def test_bad_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        BlueskySettings.model_validate(values)
    assert says in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_sample_configuration_is_valid_and_keeps_the_app_password_secret() -> None:
    text = (Path(kpiwatch_platforms.bluesky.__file__).parent / "sample.yaml").read_text()
    loaded = load_config_text(
        text, "sample.yaml", {"bluesky": PLATFORM}, {"BLUESKY_APP_PASSWORD": PASSWORD}
    )
    own, rival = (loaded.account_settings(a) for a in ("acme-bsky", "rival-bsky"))
    assert isinstance(own, BlueskySettings) and isinstance(rival, BlueskySettings)
    assert (own.login, rival.login) == (HANDLE, None)
    assert [a.competitor for a in loaded.config.accounts] == [False, True]
    assert PASSWORD in loaded.secrets

    broken = text.replace("handle: rival.bsky.social", 'handle: "@rival bsky"')
    with pytest.raises(ConfigError) as caught:
        load_config_text(
            broken, "sample.yaml", {"bluesky": PLATFORM}, {"BLUESKY_APP_PASSWORD": "x"}
        )
    assert "accounts[1].settings.handle" in str(caught.value)
    assert "write it like acme.bsky.social" in str(caught.value)
