"""The ``hello`` platform against a fake Hello API, with kpiwatch's plugin test kit."""

from __future__ import annotations

import time

import pytest
from kpiwatch.plugins import load_plugins
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits

from kpiwatch_hello import PLATFORM

TOKEN = "hello_tok_3b9f27c1"
#: Hello's rate-limit headers: 300 calls a window, 297 left, the window resets in 42 s.
RATE = {"RateLimit-Limit": "300", "RateLimit-Remaining": "297", "RateLimit-Reset": "42"}
USER = {"id": "u_42", "handle": "acme", "followers": 1200, "following": 80, "post_count": 342}
POSTS = {
    "posts": [
        {
            "id": "p_1001",
            "created_at": "2026-03-02T09:30:00Z",
            "kind": "photo",
            "likes": 40,
            "replies": 5,
            "reposts": 3,
            "views": 900,
        },
        {
            "id": "p_1000",
            "created_at": "2026-03-01T18:05:00Z",
            "kind": "poll",  # a kind the vocabulary does not know: "other"
            "likes": 12,
            "replies": 0,
            "reposts": 1,
        },
    ]
}
VIEWS = {"metric": "views", "period": "7d", "value": 5400}


def serve_acme(api: FakeApi) -> None:
    """Answer the requests of one poll of @acme as Hello does."""
    api.add("GET", "/v1/users/by-handle/acme", Reply(json={"id": "u_42"}, headers=RATE))
    api.add("GET", "/v1/users/u_42", Reply(json=USER, headers=RATE))
    api.add("GET", "/v1/users/u_42/posts", Reply(json=POSTS, headers=RATE))
    api.add("GET", "/v1/users/u_42/insights/views", Reply(json=VIEWS, headers=RATE))


def settings(api: FakeApi) -> dict[str, object]:
    """The account's ``settings:``, pointed at the fake API."""
    return {"api_url": api.url, "handle": "acme", "token": TOKEN}


async def test_counters_views_and_posts(fake_api: FakeApi) -> None:
    serve_acme(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_metric("followers", 1200)
    run.assert_metric("following", 80)
    run.assert_metric("posts", 342)
    run.assert_metric("impressions", 5400, window="7d")
    photo, poll = run.posts
    assert (photo.id, photo.content_type, photo.url) == (
        "p_1001",
        "image",
        "https://hello.example/@acme/p_1001",
    )
    assert photo.published_at.isoformat() == "2026-03-02T09:30:00+00:00"
    assert photo.metrics == {"likes": 40, "comments": 5, "shares": 3, "impressions": 900}
    assert poll.content_type == "other"
    assert poll.metrics == {"likes": 12, "comments": 0, "shares": 1}  # no views: no impressions
    [request] = fake_api.calls("/v1/users/u_42/posts")
    assert request.query == {"limit": "20"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_hidden_following_count_is_left_out(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    fake_api.add("GET", "/v1/users/u_42", {**USER, "following": None})

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_no_metric("following")  # missing is not zero
    run.assert_metric("followers", 1200)


async def test_the_user_id_is_looked_up_once(fake_api: FakeApi) -> None:
    serve_acme(fake_api)

    first = await run_collect(PLATFORM, settings(fake_api))
    second = await run_collect(PLATFORM, settings(fake_api), state=first.state)

    assert second.ok
    assert first.state["user_id"] == "u_42"
    assert len(fake_api.calls("/v1/users/by-handle/acme")) == 1
    assert len(fake_api.calls("/v1/users/u_42")) == 2


async def test_competitors_skip_the_owner_only_views(fake_api: FakeApi) -> None:
    serve_acme(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    run.assert_metric("followers", 1200)
    run.assert_no_metric("impressions")
    assert fake_api.calls("/v1/users/u_42/insights/views") == []


async def test_rate_limit_headers_are_read(fake_api: FakeApi) -> None:
    serve_acme(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    limit = run.outcome.rate_limit
    assert (limit.limit, limit.remaining) == (300, 297)
    assert limit.reset_at == pytest.approx(time.time() + 42, abs=5)


async def test_429_fails_as_rate_limited_with_the_wait(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    throttled = {**RATE, "RateLimit-Remaining": "0", "Retry-After": "30"}
    fake_api.add("GET", "/v1/users/u_42", Reply(status=429, headers=throttled))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 30  # the scheduler waits at least this long


async def test_no_call_once_hello_says_the_window_is_used_up(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    last_call = {**RATE, "RateLimit-Remaining": "0"}
    fake_api.add("GET", "/v1/users/u_42", Reply(json=USER, headers=last_call))
    limits = ApiLimits()  # shared by every poll of a daemon, as here by two polls

    first = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    second = await run_collect(PLATFORM, settings(fake_api), state=first.state, limits=limits)

    first.assert_failed("rate_limited")  # the posts were not asked for
    second.assert_failed("rate_limited")
    assert second.outcome.retry_after == pytest.approx(42, abs=5)
    assert len(fake_api.calls("/v1/users/u_42")) == 1
    assert fake_api.calls("/v1/users/u_42/posts") == []


async def test_401_fails_as_auth_without_the_token(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    refused = {"error": {"code": "invalid_token", "message": "The token was revoked"}}
    fake_api.add("GET", "/v1/users/u_42", Reply(status=401, json=refused))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert "The token was revoked" in run.outcome.message
    assert TOKEN not in run.outcome.message


async def test_a_server_error_is_retried(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    fake_api.add("GET", "/v1/users/u_42", Reply(status=503), Reply(json=USER))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_metric("followers", 1200)
    assert len(fake_api.calls("/v1/users/u_42")) == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body="<html>Hello is down for maintenance</html>"),
        Reply(json={**USER, "followers": "1.2k"}),
        Reply(json=[USER]),
    ],
    ids=["not-json", "not-a-number", "not-an-object"],
)
async def test_a_malformed_answer_is_a_bad_response(fake_api: FakeApi, reply: Reply) -> None:
    serve_acme(fake_api)
    fake_api.add("GET", "/v1/users/u_42", reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")


async def test_a_retired_metric_is_disabled_and_the_poll_goes_on(fake_api: FakeApi) -> None:
    serve_acme(fake_api)
    retired = {"error": {"code": "metric_unavailable", "message": "views were retired"}}
    fake_api.add("GET", "/v1/users/u_42/insights/views", Reply(status=410, json=retired))

    first = await run_collect(PLATFORM, settings(fake_api))
    second = await run_collect(PLATFORM, settings(fake_api), state=first.state)

    first.assert_metric("followers", 1200)
    first.assert_no_metric("impressions")
    assert "views were retired" in first.outcome.removed["impressions"]
    assert second.ok
    assert len(fake_api.calls("/v1/users/u_42/insights/views")) == 1  # not asked again


def test_kpiwatch_finds_the_plugin_through_its_entry_point() -> None:
    registry = load_plugins()

    assert registry.platforms["hello"] is PLATFORM
    assert registry.plugins["hello"].distribution == "kpiwatch-hello"
    assert registry.plugins["hello"].error is None
