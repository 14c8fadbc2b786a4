"""Rate limits and quotas of ``ctx.api``: the platforms' headers, token buckets per credential,
refusal while a window is used up, and daily quotas reset at midnight in a time zone.

Every answer comes from a real aiohttp server on 127.0.0.1 (the kit's ``fake_api``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from kpiwatch.errors import QuotaExhausted, RateLimited
from kpiwatch.testing import FakeApi, Reply
from kpiwatch.toolkit.api import ApiClient, ApiLimits, ApiPolicy, ApiResponse
from kpiwatch.toolkit.ratelimit import (
    READERS,
    RateLimitState,
    ietf_rate_limit,
    meta_usage,
    retry_after,
)

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
LA = ZoneInfo("America/Los_Angeles")


class Clock:
    """A clock the test moves by hand (injected into ApiClient)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(
    session: aiohttp.ClientSession,
    policy: ApiPolicy,
    limits: ApiLimits | None = None,
    clock: Clock | None = None,
) -> ApiClient:
    return ApiClient(session, "probe", policy, limits, clock or Clock())


# header readers ------------------------------------------------------------------------------

META_BUC = (
    '{"112130216863063":[{"type":"pages","call_count":95,"total_cputime":20,'
    '"total_time":30,"estimated_time_to_regain_access":12}]}'
)
HEADER_SHAPES = {
    "x-epoch-reset": (
        "x",
        {
            "x-rate-limit-limit": "900",
            "x-rate-limit-remaining": "899",
            "x-rate-limit-reset": "1767226500",
        },
        RateLimitState(900, 899, 1_767_226_500, NOW),
    ),
    "mastodon-iso-reset": (
        "mastodon",
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "297",
            "X-RateLimit-Reset": "2026-01-01T00:05:00.019685Z",
        },
        RateLimitState(300, 297, datetime(2026, 1, 1, 0, 5, 0, 19685, UTC).timestamp(), NOW),
    ),
    "bluesky-epoch-reset": (
        "ietf",
        {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "2999",
            "ratelimit-reset": "1724927309",
            "ratelimit-policy": "3000;w=300",
        },
        RateLimitState(3000, 2999, 1_724_927_309, NOW),
    ),
    "ietf-delta-reset": (
        "ietf",
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "30"},
        RateLimitState(100, 0, NOW + 30, NOW),
    ),
    "meta-app-usage": (
        "meta",
        {"X-App-Usage": '{"call_count":16,"total_cputime":15,"total_time":12}'},
        RateLimitState(100, 84, None, NOW),  # the largest percentage counts
    ),
    "meta-business-use-case": (
        "meta",
        {"X-Business-Use-Case-Usage": META_BUC},
        RateLimitState(100, 5, NOW + 12 * 60, NOW),  # regain time in minutes
    ),
}


@pytest.mark.parametrize(
    ("reader", "headers", "expected"), HEADER_SHAPES.values(), ids=HEADER_SHAPES
)
async def test_each_reader_reads_its_platforms_headers_from_a_real_answer(
    fake_api: FakeApi,
    session: aiohttp.ClientSession,
    reader: str,
    headers: dict[str, str],
    expected: RateLimitState,
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={"ok": True}, headers=headers))
    api = client(session, ApiPolicy(rate_limit_headers=reader))

    response = await api.request("GET", f"{fake_api.url}/v1/me")

    assert api.rate_limit == expected
    assert READERS[reader](response.headers, NOW) == expected  # aiohttp's headers, any case
    assert READERS[reader](dict(headers), NOW) == expected  # a plain dict, as sent


async def test_an_answer_without_the_headers_leaves_no_state(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}))
    for name in READERS:
        api = client(session, ApiPolicy(rate_limit_headers=name))
        await api.request("GET", f"{fake_api.url}/v1/me")
        assert api.rate_limit is None, name


def test_readers_ignore_what_they_cannot_read() -> None:
    assert meta_usage({"X-App-Usage": "not json"}, NOW) is None
    bad_reset = ietf_rate_limit({"ratelimit-remaining": "5", "ratelimit-reset": "soon"}, NOW)
    assert bad_reset == RateLimitState(None, 5, None, NOW)
    no_offset = READERS["mastodon"](
        {"x-ratelimit-remaining": "1", "x-ratelimit-reset": "2026-01-01T00:01:00"}, NOW
    )
    assert no_offset is not None and no_offset.reset_at == NOW + 60  # UTC, not local time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),  # past
        ("soon", None),
    ],
    ids=["seconds", "http-date", "http-date-past", "garbage"],
)
async def test_retry_after_as_seconds_or_an_http_date(
    fake_api: FakeApi, session: aiohttp.ClientSession, value: str, expected: float | None
) -> None:
    fake_api.add(
        "GET",
        "/v1/me",
        Reply(json={"error": "slow down"}, status=429, headers={"Retry-After": value}),
    )
    api = client(session, ApiPolicy())

    with pytest.raises(RateLimited) as raised:
        await api.request("GET", f"{fake_api.url}/v1/me")

    assert raised.value.retry_after == expected
    assert retry_after({"retry-after": value}, NOW) == expected


# token buckets ----------------------------------------------------------------------------


async def test_the_token_bucket_spaces_calls_once_the_burst_is_spent(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}))
    api = client(session, ApiPolicy(rate=(2, 1.0)))
    t0 = time.monotonic()
    done = []
    for _ in range(5):
        await api.request("GET", f"{fake_api.url}/v1/me", credential="token-a")
        done.append(time.monotonic() - t0)

    # two at once (the burst), then one every 0.5 s: the 5th waits ~1.5 s
    assert done[1] < 0.4
    assert 0.45 <= done[2] < 1.0
    assert 1.45 <= done[4] < 2.5
    assert len(fake_api.calls("/v1/me")) == 5


async def test_each_credential_has_its_own_bucket(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}))
    limits = ApiLimits()
    policy = ApiPolicy(rate=(2, 1.0))
    api = client(session, policy, limits)
    url = f"{fake_api.url}/v1/me"
    for _ in range(2):  # token-a spends its burst
        await api.request("GET", url, credential="token-a")

    t0 = time.monotonic()
    await asyncio.gather(*(api.request("GET", url, credential="token-b") for _ in range(2)))
    other_credential = time.monotonic() - t0
    await client(session, policy, limits).request("GET", url, credential="token-a")  # next poll
    same_credential = time.monotonic() - t0

    assert other_credential < 0.4  # token-b's burst is untouched
    assert same_credential >= 0.45  # token-a waits for its bucket, also in a later poll
    assert len(limits.buckets) == 2
    assert not any("token-" in key for _, key in limits.buckets)  # keys are hashed


# refusal while the platform's window is used up -------------------------------------------


async def test_a_used_up_window_refuses_without_a_request_until_it_resets(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    reset = NOW + 60
    headers = {
        "x-rate-limit-limit": "15",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset)),
    }
    fake_api.add("GET", "/2/users/me", Reply(json={"data": {}}, headers=headers))
    limits = ApiLimits()
    policy = ApiPolicy(rate_limit_headers="x")
    url = f"{fake_api.url}/2/users/me"
    await client(session, policy, limits, clock).request("GET", url, credential="token-a")

    clock.now = NOW + 20
    with pytest.raises(RateLimited) as raised:  # a later poll, same credential
        await client(session, policy, limits, clock).request("GET", url, credential="token-a")
    assert raised.value.retry_after == pytest.approx(40)
    assert "rate limit is used up" in str(raised.value)
    assert len(fake_api.requests) == 1  # refused without asking the platform

    await client(session, policy, limits, clock).request("GET", url, credential="token-b")
    assert len(fake_api.requests) == 2  # another credential has its own window

    fake_api.add(
        "GET",
        "/2/users/me",
        Reply(json={"data": {}}, headers={**headers, "x-rate-limit-remaining": "14"}),
    )
    clock.now = reset + 1
    api = client(session, policy, limits, clock)
    await api.request("GET", url, credential="token-a")
    assert len(fake_api.requests) == 3  # asked again after the reset
    assert api.rate_limit is not None and api.rate_limit.remaining == 14


async def test_a_429_without_retry_after_waits_for_the_window_reset(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    reset = NOW + 300
    headers = {
        "x-rate-limit-limit": "15",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset)),
    }
    problem = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
    fake_api.add("GET", "/2/users/me", Reply(json=problem, status=429, headers=headers))
    api = client(session, ApiPolicy(rate_limit_headers="x"))

    with pytest.raises(RateLimited) as raised:
        await api.request("GET", f"{fake_api.url}/2/users/me")

    assert raised.value.retry_after == 300
    assert "HTTP 429: Too Many Requests" in str(raised.value)


# daily quotas -----------------------------------------------------------------------------


def la_time(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)


async def test_quota_is_spent_refused_and_reset_at_midnight_in_los_angeles(
    fake_api: FakeApi, session: aiohttp.ClientSession, time_machine
) -> None:
    time_machine.move_to(la_time(2026, 1, 14, 23, 59, 30), tick=False)
    fake_api.add("GET", "/youtube/v3/channels", Reply(json={"items": []}))
    limits = ApiLimits()
    policy = ApiPolicy(daily_quota=5, quota_timezone="America/Los_Angeles")
    url = f"{fake_api.url}/youtube/v3/channels"

    api = ApiClient(session, "youtube", policy, limits, time.time)
    await api.request("GET", url, credential="key-1", cost=2)
    await api.request("GET", url, credential="key-1", cost=2)
    assert api.quota is not None and api.quota.remaining(time.time()) == 1

    with pytest.raises(QuotaExhausted) as raised:
        await api.request("GET", url, credential="key-1", cost=2)
    assert raised.value.retry_after == pytest.approx(30)  # to midnight Pacific time
    assert "1 of 5 left today" in str(raised.value)
    assert len(fake_api.requests) == 2  # refused without a request

    other = ApiClient(session, "youtube", policy, limits, time.time)
    await other.request("GET", url, credential="key-2", cost=2)  # a budget per credential
    assert len(fake_api.requests) == 3

    time_machine.shift(timedelta(seconds=31))  # 00:00:01 in Los Angeles, 08:00:01 UTC
    later = ApiClient(session, "youtube", policy, limits, time.time)
    await later.request("GET", url, credential="key-1", cost=2)
    assert later.quota is not None and later.quota.remaining(time.time()) == 3


async def test_a_quota_exceeded_answer_exhausts_the_budget_until_midnight(
    fake_api: FakeApi, session: aiohttp.ClientSession, time_machine
) -> None:
    """YouTube's 403 quotaExceeded, classified by the platform, blocks calls until midnight PT,
    on a day with 23 hours (summer time starts on 8 March 2026)."""
    time_machine.move_to(la_time(2026, 3, 8, 0, 0, 1), tick=False)
    body = {
        "error": {
            "code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}],
        }
    }

    def youtube_errors(response: ApiResponse) -> QuotaExhausted | None:
        reasons = [e.get("reason") for e in response.json().get("error", {}).get("errors", [])]
        return QuotaExhausted("quotaExceeded") if "quotaExceeded" in reasons else None

    fake_api.add("GET", "/youtube/v3/videos", Reply(json=body, status=403))
    limits = ApiLimits()
    policy = ApiPolicy(
        daily_quota=10_000, quota_timezone="America/Los_Angeles", classify=youtube_errors
    )
    url = f"{fake_api.url}/youtube/v3/videos"

    with pytest.raises(QuotaExhausted) as raised:
        await ApiClient(session, "youtube", policy, limits, time.time).request("GET", url)
    assert raised.value.retry_after == pytest.approx(23 * 3600 - 1)

    api = ApiClient(session, "youtube", policy, limits, time.time)
    with pytest.raises(QuotaExhausted):
        await api.request("GET", url)
    assert api.quota is not None and api.quota.remaining(time.time()) == 0
    assert len(fake_api.requests) == 1

    fake_api.add("GET", "/youtube/v3/videos", Reply(json={"items": []}))
    time_machine.move_to(la_time(2026, 3, 9, 0, 0, 0), tick=False)
    api = ApiClient(session, "youtube", policy, limits, time.time)
    await api.request("GET", url)
    assert api.quota is not None and api.quota.remaining(time.time()) == 9_999


async def test_every_request_sent_is_charged_retries_included(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    """YouTube charges every request, even a failed one: a retried call costs twice."""
    fake_api.add("GET", "/youtube/v3/channels", Reply(status=503), Reply(json={"items": []}))
    policy = ApiPolicy(daily_quota=100, retries=2, backoff=0.01)
    api = client(session, policy)

    await api.request("GET", f"{fake_api.url}/youtube/v3/channels", cost=3)

    assert len(fake_api.requests) == 2
    assert api.quota is not None and api.quota.remaining(NOW) == 100 - 2 * 3


async def test_a_refused_call_spends_no_quota(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    headers = {
        "x-rate-limit-remaining": "0",
        "x-rate-limit-limit": "1",
        "x-rate-limit-reset": str(int(NOW + 60)),
    }
    fake_api.add("GET", "/v1/me", Reply(json={}, headers=headers))
    limits = ApiLimits()
    policy = ApiPolicy(daily_quota=10, rate_limit_headers="x")
    await client(session, policy, limits).request("GET", f"{fake_api.url}/v1/me")

    api = client(session, policy, limits)
    with pytest.raises(RateLimited):
        await api.request("GET", f"{fake_api.url}/v1/me")

    assert api.quota is not None and api.quota.remaining(NOW) == 9
