"""The mastodon platform against a fake Mastodon server serving documented bodies and headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

import kpiwatch_platforms.mastodon as plugin
from kpiwatch.config_loader import ConfigError, load_config, load_config_text
from kpiwatch.platform import REMOVED_KEY
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import CollectRun, FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.mastodon import MASTODON
from kpiwatch_platforms.mastodon.links import next_link
from kpiwatch_platforms.mastodon.settings import MastodonSettings

LOOKUP = "/api/v1/accounts/lookup"
STATUSES = "/api/v1/accounts/14715/statuses"
NOTIFICATIONS = "/api/v1/notifications"
VERIFY = "/api/v1/accounts/verify_credentials"
ACCOUNT_ID = "14715"


def ago(**delta: float) -> str:
    """A Mastodon timestamp (milliseconds, Z) this long before now."""
    moment = datetime.now(UTC) - timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def account(**changes: Any) -> dict[str, Any]:
    """An Account entity as /api/v1/accounts/lookup returns it."""
    body = {
        "id": ACCOUNT_ID,
        "username": "acme",
        "acct": "acme",
        "display_name": "Acme",
        "locked": False,
        "bot": False,
        "created_at": "2016-11-24T10:02:12.085Z",
        "note": "<p>Coffee.</p>",
        "url": "https://mastodon.example/@acme",
        "followers_count": 1200,
        "following_count": 150,
        "statuses_count": 640,
        "last_status_at": "2026-01-10",
        "emojis": [],
        "fields": [],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def media(kind: str, n: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{kind}{i}",
            "type": kind,
            "url": f"https://files.mastodon.example/{kind}{i}",
            "preview_url": f"https://files.mastodon.example/small/{kind}{i}",
            "description": None,
        }
        for i in range(n)
    ]


def status(
    ident: str,
    created_at: str,
    favourites: int,
    reblogs: int,
    replies: int,
    *,
    author: str = ACCOUNT_ID,
    **extra: Any,
) -> dict[str, Any]:
    """A Status entity with its counters."""
    body = {
        "id": ident,
        "created_at": created_at,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://mastodon.example/users/acme/statuses/{ident}",
        "url": f"https://mastodon.example/@acme/{ident}",
        "replies_count": replies,
        "reblogs_count": reblogs,
        "favourites_count": favourites,
        "content": "<p>Hello</p>",
        "reblog": None,
        "account": {"id": author, "username": "someone", "acct": "someone"},
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }
    body.update(extra)
    return body


def notification(ident: str, created_at: str, kind: str = "mention", visibility: str = "public"):
    """A Notification entity."""
    return {
        "id": ident,
        "type": kind,
        "created_at": created_at,
        "account": {"id": "971724", "username": "zsc", "acct": "zsc"},
        "status": status(f"9{ident}", created_at, 0, 0, 0, author="971724", visibility=visibility),
    }


def link_next(base: str, path: str, query: str) -> dict[str, str]:
    """A Link header as Mastodon sends it, with next and prev."""
    return {"Link": f'<{base}{path}?{query}>; rel="next", <{base}{path}?min_id=999999>; rel="prev"'}


def samples_of(run: CollectRun) -> set[tuple[str, str | None, float]]:
    return {(s.metric, s.window, s.value) for s in run.samples}


def settings(fake_api: FakeApi, **more: Any) -> dict[str, Any]:
    return {"instance": fake_api.url, "account": "acme", **more}


def serve(fake_api: FakeApi, *statuses_pages: Reply, account_body: Any = None) -> None:
    fake_api.add("GET", LOOKUP, account_body or account(), query={"acct": "acme"})
    fake_api.add("GET", STATUSES, *(statuses_pages or (Reply(json=[]),)))


# A normal poll ----------------------------------------------------------------------------


async def test_poll_with_token_returns_counters_posts_windows_and_mentions(fake_api):
    ages = {
        "s1": {"hours": 2},
        "s2": {"days": 3},
        "s3": {"days": 10},
        "s4": {"days": 20},
        "dm": {"days": 15},
        "old": {"days": 40},
        "m1": {"hours": 1},
        "m2": {"days": 2},
        "m3": {"days": 27},
        "m4": {"days": 30},
    }
    times = {name: ago(**delta) for name, delta in ages.items()}
    statuses = [
        status("105", times["s1"], 10, 2, 1),
        status("104", times["s2"], 5, 1, 0, media_attachments=media("image", 2)),
        status("103", times["s3"], 7, 3, 4, media_attachments=media("video"), quotes_count=1),
        status("102", times["dm"], 50, 0, 9, visibility="direct"),
        status("101", times["s4"], 1, 0, 0, card={"url": "https://acme.example", "type": "link"}),
        status("100", times["old"], 99, 99, 99),
    ]
    notifications = [
        notification("7", times["m1"]),
        notification("6", times["m2"], kind="favourite"),
        notification("5", times["m2"]),
        notification("4", times["m2"], visibility="direct"),
        notification("3", times["m3"]),
        notification("2", times["m4"]),
    ]
    serve(fake_api, Reply(json=statuses))
    fake_api.add("GET", VERIFY, account())
    fake_api.add("GET", NOTIFICATIONS, notifications)

    run = await run_collect(MASTODON, settings(fake_api, token="s3cret"))

    assert run.ok, run.outcome.message
    assert samples_of(run) == {
        ("followers", None, 1200),
        ("following", None, 150),
        ("posts", None, 640),
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 2),
        ("posts_published", "28d", 4),
        ("likes", "1d", 10),
        ("likes", "7d", 15),
        ("likes", "28d", 23),
        ("comments", "1d", 1),
        ("comments", "7d", 1),
        ("comments", "28d", 5),
        ("shares", "1d", 2),
        ("shares", "7d", 3),
        ("shares", "28d", 7),
        ("mentions", "1d", 1),
        ("mentions", "7d", 2),
        ("mentions", "28d", 3),
    }
    url = "https://mastodon.example/@acme/"
    assert [(p.id, p.published_at, p.content_type, dict(p.metrics), p.url) for p in run.posts] == [
        ("105", at(times["s1"]), "text", {"likes": 10, "comments": 1, "shares": 2}, url + "105"),
        ("104", at(times["s2"]), "carousel", {"likes": 5, "comments": 0, "shares": 1}, url + "104"),
        ("103", at(times["s3"]), "video", {"likes": 7, "comments": 4, "shares": 4}, url + "103"),
        ("101", at(times["s4"]), "link", {"likes": 1, "comments": 0, "shares": 0}, url + "101"),
    ]
    (asked,) = fake_api.calls(STATUSES)
    assert asked.query == {"limit": "40", "exclude_reblogs": "true", "exclude_replies": "true"}
    assert asked.headers["Authorization"] == "Bearer s3cret"
    (mentions,) = fake_api.calls(NOTIFICATIONS)
    assert mentions.query == {"types[]": "mention", "limit": "80"}


async def test_token_owner_is_asked_once_and_kept_in_the_state(fake_api):
    serve(fake_api)
    fake_api.add("GET", VERIFY, account())
    fake_api.add("GET", NOTIFICATIONS, [notification("1", ago(hours=3))])
    state: dict[str, Any] = {}

    first = await run_collect(MASTODON, settings(fake_api, token="s3cret"), state=state)
    second = await run_collect(MASTODON, settings(fake_api, token="s3cret"), state=state)

    first.assert_metric("mentions", 1, window="1d")
    second.assert_metric("mentions", 1, window="1d")
    assert len(fake_api.calls(VERIFY)) == 1
    assert len(fake_api.calls(NOTIFICATIONS)) == 2
    assert state["token_account"]["id"] == ACCOUNT_ID
    assert "s3cret" not in repr(state)


async def test_a_token_of_another_account_gives_no_mentions(fake_api):
    serve(fake_api)
    fake_api.add("GET", VERIFY, account(id="1", acct="agency"))
    fake_api.add("GET", NOTIFICATIONS, [notification("1", ago(hours=3))])

    run = await run_collect(MASTODON, settings(fake_api, token="agency-token"))

    run.assert_metric("followers", 1200)
    run.assert_no_metric("mentions")
    assert fake_api.calls(NOTIFICATIONS) == []


async def test_without_a_token_public_data_only_and_no_mentions(fake_api):
    serve(fake_api, Reply(json=[status("105", ago(hours=2), 3, 0, 0)]))

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_metric("likes", 3, window="1d")
    run.assert_no_metric("mentions")
    assert all("Authorization" not in r.headers for r in fake_api.requests)
    assert {r.path for r in fake_api.requests} == {LOOKUP, STATUSES}


# Pagination ---------------------------------------------------------------------------------


async def test_statuses_follow_link_next_until_older_than_the_lookback(fake_api):
    base = fake_api.url
    query = "limit=40&exclude_reblogs=true&exclude_replies=true&max_id="
    pages = [
        [status("203", ago(hours=5), 1, 0, 0), status("202", ago(days=2), 2, 0, 0)],
        [status("201", ago(days=6), 4, 1, 0)],
        [status("200", ago(days=6, hours=12), 8, 0, 0), status("199", ago(days=9), 16, 0, 0)],
        [status("198", ago(days=10), 32, 0, 0)],
    ]
    cursors = [None, "202", "201", "199"]
    for page, cursor, after in zip(pages, cursors, [*cursors[1:], "198"], strict=True):
        reply = Reply(json=page, headers=link_next(base, STATUSES, query + after))
        fake_api.add("GET", STATUSES, reply, query=None if cursor is None else {"max_id": cursor})
    fake_api.add("GET", LOOKUP, account(), query={"acct": "acme"})

    run = await run_collect(MASTODON, settings(fake_api, lookback="7d"))

    assert [p.id for p in run.posts] == ["203", "202", "201", "200"]
    asked = fake_api.calls(STATUSES)
    assert [r.query.get("max_id") for r in asked] == [None, "202", "201"]
    assert asked[1].query == {
        "limit": "40",
        "exclude_reblogs": "true",
        "exclude_replies": "true",
        "max_id": "202",
    }
    assert {s for s in samples_of(run) if s[0] in ("posts_published", "likes")} == {
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 4),
        ("likes", "1d", 1),
        ("likes", "7d", 15),
    }


async def test_paging_stops_at_the_first_status_older_than_the_lookback(fake_api):
    base = fake_api.url
    page1 = [status("203", ago(hours=5), 1, 0, 0), status("150", ago(days=29), 2, 0, 0)]
    serve(fake_api, Reply(json=page1, headers=link_next(base, STATUSES, "max_id=150")))

    run = await run_collect(MASTODON, settings(fake_api))

    assert [p.id for p in run.posts] == ["203"]
    assert len(fake_api.calls(STATUSES)) == 1
    run.assert_metric("posts_published", 1, window="28d")


async def test_notifications_follow_link_next(fake_api):
    base = fake_api.url
    serve(fake_api)
    fake_api.add("GET", VERIFY, account())
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(
            json=[notification("9", ago(hours=2)), notification("8", ago(days=3))],
            headers=link_next(base, NOTIFICATIONS, "types%5B%5D=mention&limit=80&max_id=8"),
        ),
    )
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        [notification("7", ago(days=12)), notification("6", ago(days=40))],
        query={"max_id": "8"},
    )

    run = await run_collect(MASTODON, settings(fake_api, token="s3cret"))

    assert {s for s in samples_of(run) if s[0] == "mentions"} == {
        ("mentions", "1d", 1),
        ("mentions", "7d", 2),
        ("mentions", "28d", 3),
    }
    second = fake_api.calls(NOTIFICATIONS)[1]
    assert second.query == {"types[]": "mention", "limit": "80", "max_id": "8"}
    assert second.headers["Authorization"] == "Bearer s3cret"


async def test_max_posts_leaves_out_windows_the_statuses_read_do_not_cover(fake_api):
    statuses = [
        status("3", ago(hours=2), 1, 0, 0),
        status("2", ago(days=3), 2, 0, 0),
        status("1", ago(days=5), 4, 0, 0),
    ]
    serve(fake_api, Reply(json=statuses))

    run = await run_collect(MASTODON, settings(fake_api, max_posts=2))

    assert [p.id for p in run.posts] == ["3", "2"]
    run.assert_metric("likes", 1, window="1d")
    assert run.values("likes", window="7d") == []
    assert run.values("posts_published", window="28d") == []


async def test_a_next_link_to_another_server_is_refused(fake_api):
    page = [status("3", ago(hours=2), 1, 0, 0)]
    serve(fake_api, Reply(json=page, headers=link_next("https://evil.example", STATUSES, "x=1")))

    run = await run_collect(MASTODON, settings(fake_api, token="s3cret"))

    run.assert_failed("bad_response")
    assert "evil.example" in run.outcome.message
    assert "settings.instance" in run.outcome.message


def test_next_link_reads_every_spelling_of_rel():
    assert next_link({"Link": '<https://a/x?max_id=1>; rel="next", <https://a/x>; rel="prev"'}) == (
        "https://a/x?max_id=1"
    )
    assert next_link({"link": "<https://a/x?min_id=9>; rel=prev, <https://a/y>; rel=next"}) == (
        "https://a/y"
    )
    assert next_link({"Link": '<https://a/x?min_id=9>; rel="prev"'}) is None
    assert next_link({}) is None


# Rate limits, auth, server errors, malformed bodies -----------------------------------------


async def test_429_gives_rate_limited_until_the_iso_reset_and_the_next_poll_is_refused(fake_api):
    reset = datetime.now(UTC) + timedelta(seconds=120)
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    too_many = Reply(json={"error": "Too many requests"}, status=429, headers=headers)
    fake_api.add("GET", LOOKUP, too_many)
    limits = ApiLimits()

    first = await run_collect(MASTODON, settings(fake_api), limits=limits)
    asked = len(fake_api.requests)
    second = await run_collect(MASTODON, settings(fake_api), limits=limits)

    first.assert_failed("rate_limited")
    assert 110 <= first.outcome.retry_after <= 120
    assert first.outcome.rate_limit.limit == 300
    assert first.outcome.rate_limit.remaining == 0
    second.assert_failed("rate_limited")
    assert 100 <= second.outcome.retry_after <= 120
    assert len(fake_api.requests) == asked == 1


async def test_rate_limit_headers_of_a_success_are_kept(fake_api):
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "297",
        "X-RateLimit-Reset": "2030-01-01T00:05:00.000Z",
    }
    fake_api.add("GET", LOOKUP, Reply(json=account(), headers=headers))
    fake_api.add("GET", STATUSES, Reply(json=[], headers=headers))

    run = await run_collect(MASTODON, settings(fake_api))

    assert run.ok
    assert (run.outcome.rate_limit.limit, run.outcome.rate_limit.remaining) == (300, 297)
    assert run.outcome.rate_limit.reset_at == datetime(2030, 1, 1, 0, 5, tzinfo=UTC).timestamp()


async def test_401_is_an_auth_failure_naming_the_token_setting(fake_api):
    fake_api.add("GET", LOOKUP, Reply(json={"error": "The access token is invalid"}, status=401))

    run = await run_collect(MASTODON, settings(fake_api, token="revoked"))

    run.assert_failed("auth")
    assert "The access token is invalid" in run.outcome.message
    assert "settings.token" in run.outcome.message
    assert "revoked" not in run.outcome.message
    assert len(fake_api.calls(LOOKUP)) == 1


async def test_missing_notification_scope_is_an_auth_failure_naming_the_scopes(fake_api):
    serve(fake_api)
    fake_api.add("GET", VERIFY, account())
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(json={"error": "This action is outside the authorized scopes"}, status=403),
    )

    run = await run_collect(MASTODON, settings(fake_api, token="s3cret"))

    run.assert_failed("auth")
    assert "read:notifications" in run.outcome.message


async def test_5xx_then_recovery_within_the_same_poll(fake_api):
    fake_api.add(
        "GET",
        LOOKUP,
        Reply(body="<html>502 Bad Gateway</html>", status=502),
        Reply(json=account()),
    )
    fake_api.add("GET", STATUSES, [])

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_metric("followers", 1200)
    assert len(fake_api.calls(LOOKUP)) == 2


async def test_5xx_every_time_is_unavailable(fake_api):
    fake_api.add("GET", LOOKUP, Reply(json={"error": "Service Unavailable"}, status=503))

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(LOOKUP)) == 1 + MASTODON.api.retries


@pytest.mark.parametrize(
    ("path", "reply"),
    [
        (LOOKUP, Reply(body="<!DOCTYPE html><html>Maintenance</html>")),
        (LOOKUP, Reply(json=[account()])),
        (STATUSES, Reply(json={"statuses": []})),
        (STATUSES, Reply(json=[status("1", "yesterday", 1, 0, 0)])),
        (STATUSES, Reply(json=[status("1", ago(hours=1), "many", 0, 0)])),
    ],
    ids=["not-json", "list-for-account", "object-for-statuses", "bad-time", "bad-count"],
)
async def test_a_malformed_body_is_a_bad_response_naming_the_path(fake_api, path, reply):
    serve(fake_api)
    fake_api.add("GET", path, reply)

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_failed("bad_response")
    assert "mastodon" in run.outcome.message
    assert path in run.outcome.message


async def test_an_unknown_account_is_not_found(fake_api):
    fake_api.add("GET", LOOKUP, Reply(json={"error": "Record not found"}, status=404))

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_failed("not_found")
    assert "Record not found" in run.outcome.message


@pytest.mark.parametrize(
    "reply",
    [
        Reply(json=account(suspended=True, followers_count=0, statuses_count=0)),
        Reply(status=410, body=""),
    ],
    ids=["suspended-flag", "http-410"],
)
async def test_a_suspended_account_is_not_found(fake_api, reply):
    fake_api.add("GET", LOOKUP, reply)
    fake_api.add("GET", STATUSES, [])

    run = await run_collect(MASTODON, settings(fake_api))

    run.assert_failed("not_found")
    assert "suspended" in run.outcome.message
    assert fake_api.calls(STATUSES) == []


# Removed metrics ----------------------------------------------------------------------------


async def test_notifications_no_longer_served_disable_mentions_until_the_retry(fake_api):
    serve(fake_api, Reply(json=[status("1", ago(hours=1), 2, 0, 0)]))
    fake_api.add("GET", VERIFY, account())
    fake_api.add(
        "GET",
        NOTIFICATIONS,
        Reply(json={"error": "Record not found"}, status=404),
        [notification("1", ago(hours=3))],
    )
    state: dict[str, Any] = {}
    token = settings(fake_api, token="s3cret")

    first = await run_collect(MASTODON, token, state=state)
    second = await run_collect(MASTODON, token, state=state)

    first.assert_no_metric("mentions")
    first.assert_metric("followers", 1200)
    first.assert_metric("likes", 2, window="1d")
    assert set(first.outcome.removed) == {"mentions"}
    assert "/api/v1/notifications" in first.outcome.removed["mentions"]
    second.assert_no_metric("mentions")
    second.assert_metric("likes", 2, window="1d")
    assert set(second.outcome.removed) == {"mentions"}
    assert len(fake_api.calls(NOTIFICATIONS)) == 1

    state[REMOVED_KEY]["mentions"]["since"] -= 8 * 86400  # the week is over
    third = await run_collect(MASTODON, token, state=state)

    third.assert_metric("mentions", 1, window="1d")
    assert third.outcome.removed == {}
    assert len(fake_api.calls(NOTIFICATIONS)) == 2


async def test_a_counter_no_longer_sent_is_disabled_and_the_rest_goes_on(fake_api):
    serve(fake_api, account_body=account(followers_count=None))
    state: dict[str, Any] = {}

    first = await run_collect(MASTODON, settings(fake_api), state=state)
    fake_api.add("GET", LOOKUP, account(), query={"acct": "acme"})
    second = await run_collect(MASTODON, settings(fake_api), state=state)

    for run in (first, second):
        run.assert_no_metric("followers")
        run.assert_metric("following", 150)
        run.assert_metric("posts", 640)
        run.assert_metric("posts_published", 0, window="28d")
        assert set(run.outcome.removed) == {"followers"}
    assert "followers_count" in first.outcome.removed["followers"]


# Competitors ----------------------------------------------------------------------------------


async def test_competitor_is_read_without_its_token_and_mentions_come_from_hashtags(fake_api):
    serve(fake_api, Reply(json=[status("105", ago(hours=2), 4, 1, 0)]))
    shared = status("300", ago(days=3), 0, 0, 0, author="42")
    fake_api.add(
        "GET",
        "/api/v1/timelines/tag/acme",
        [
            status("301", ago(hours=1), 0, 0, 0, author="41"),
            status("299", ago(hours=3), 0, 0, 0),  # the account's own use of its hashtag
            shared,
            status("250", ago(days=40), 0, 0, 0, author="43"),
        ],
    )
    fake_api.add(
        "GET",
        "/api/v1/timelines/tag/AcmeCoffee",
        [shared, status("280", ago(days=10), 0, 0, 0, author="44")],
    )
    unknown_tag = Reply(json={"error": "Record not found"}, status=404)
    fake_api.add("GET", "/api/v1/timelines/tag/neverused", unknown_tag)
    fake_api.add("GET", NOTIFICATIONS, [notification("1", ago(hours=1))])
    options = {"token": "own-token", "mention_hashtags": ["#acme", "AcmeCoffee", "neverused"]}

    run = await run_collect(MASTODON, settings(fake_api, **options), competitor=True)

    assert run.ok, run.outcome.message
    assert samples_of(run) == {
        ("followers", None, 1200),
        ("following", None, 150),
        ("posts", None, 640),
        ("posts_published", "1d", 1),
        ("posts_published", "7d", 1),
        ("posts_published", "28d", 1),
        ("likes", "1d", 4),
        ("likes", "7d", 4),
        ("likes", "28d", 4),
        ("comments", "1d", 0),
        ("comments", "7d", 0),
        ("comments", "28d", 0),
        ("shares", "1d", 1),
        ("shares", "7d", 1),
        ("shares", "28d", 1),
        ("mentions", "1d", 1),
        ("mentions", "7d", 2),
        ("mentions", "28d", 3),
    }
    assert [p.id for p in run.posts] == ["105"]
    assert all("Authorization" not in r.headers for r in fake_api.requests)
    assert fake_api.calls(NOTIFICATIONS) == [] and fake_api.calls(VERIFY) == []


async def test_hashtag_feeds_closed_to_anonymous_clients_disable_mentions_only(fake_api):
    serve(fake_api, Reply(json=[status("105", ago(hours=2), 4, 1, 0)]))
    closed = Reply(json={"error": "The access token is invalid"}, status=401)
    fake_api.add("GET", "/api/v1/timelines/tag/acme", closed)
    state: dict[str, Any] = {}
    options = settings(fake_api, mention_hashtags=["acme"])

    first = await run_collect(MASTODON, options, competitor=True, state=state)
    second = await run_collect(MASTODON, options, competitor=True, state=state)

    for run in (first, second):
        run.assert_metric("followers", 1200)
        run.assert_metric("likes", 4, window="1d")
        run.assert_no_metric("mentions")
        assert set(run.outcome.removed) == {"mentions"}
    assert len(fake_api.calls("/api/v1/timelines/tag/acme")) == 1


# Settings, registration, sample configuration -------------------------------------------------


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"instance": "mastodon.social"}, "write one such as https://mastodon.social"),
        ({"account": "acme corp"}, "write the account's handle such as acme"),
        ({"lookback": "12h"}, "lookback 12h is out of range; write a duration from 1d"),
        ({"lookback": "a month"}, "is not a duration"),
        ({"mention_hashtags": ["acme coffee"]}, "write hashtag names such as [acme, acmecoffee]"),
        ({"max_posts": 0}, "greater than or equal to 1"),
        ({"tokn": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_say_what_to_write(given, says):
    with pytest.raises(pydantic.ValidationError) as caught:
        MastodonSettings.model_validate({"account": "acme", **given})
    assert says in str(caught.value)


def test_settings_normalise_handle_instance_and_hashtags():
    model = MastodonSettings.model_validate(
        {
            "instance": "https://social.example/",
            "account": "@acme@social.example",
            "mention_hashtags": ["#Acme", "acme", "AcmeCoffee"],
            "lookback": "2w",
        }
    )
    assert model.instance == "https://social.example"
    assert model.account == "acme@social.example"
    assert model.mention_hashtags == ("Acme", "AcmeCoffee")
    assert model.lookback == timedelta(days=14)
    assert model.token is None


def test_a_bad_setting_in_a_configuration_names_the_place_and_the_fix():
    text = (
        "accounts:\n"
        "  - id: acme-mastodon\n"
        "    platform: mastodon\n"
        "    settings: {instance: 'https://mastodon.social', account: 'acme corp'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "kpiwatch.yaml", {"mastodon": MASTODON})
    message = str(caught.value)
    assert "account" in message
    assert "write the account's handle such as acme" in message


def test_the_plugin_registers_the_platform():
    registry = PluginRegistry()
    registry.register_module(plugin, "mastodon")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["mastodon"] is MASTODON


def test_sample_configuration_is_valid():
    path = Path(plugin.__file__).with_name("sample.yaml")
    loaded = load_config(path, {"mastodon": MASTODON}, environ={"MASTODON_TOKEN": "t0ken"})
    own = [a for a in loaded.config.accounts if not a.competitor]
    rivals = [a for a in loaded.config.accounts if a.competitor]
    assert own and rivals
    assert all(a.platform == "mastodon" for a in loaded.config.accounts)
    assert loaded.account_settings(own[0].id).secret_token() == "t0ken"
