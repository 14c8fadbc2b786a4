"""``ctx.api``: retries with backoff, error classes, messages without secrets, and metrics a
platform stopped serving (disabled for a week, exported, raised as a data-quality event).

Every answer comes from a real aiohttp server on 127.0.0.1 (the kit's ``fake_api``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families as parse_text
from pydantic import BaseModel, ConfigDict

import kpiwatch
from kpiwatch.alerting.detect import DataQualityEvent
from kpiwatch.alerting.quality import QualityTracker
from kpiwatch.config import Config
from kpiwatch.errors import (
    AuthError,
    BadResponse,
    CollectError,
    NotFound,
    RateLimited,
    Unavailable,
)
from kpiwatch.exposition import ExpositionCache
from kpiwatch.platform import REMOVED_KEY
from kpiwatch.plugins import PluginRegistry
from kpiwatch.polling import PollOutcome
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import AccountPlan, Scheduler
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiClient, ApiLimits, ApiPolicy, ApiResponse


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(session: aiohttp.ClientSession, **policy: Any) -> ApiClient:
    return ApiClient(session, "probe", ApiPolicy(**policy), ApiLimits())


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_with_backoff(
    fake_api: FakeApi, session: aiohttp.ClientSession, status: int
) -> None:
    fake_api.add("GET", "/v1/me", Reply(status=status), Reply(status=status), Reply(json={"n": 1}))
    api = client(session, retries=2, backoff=0.1)
    t0 = time.monotonic()

    body = await api.get_json(f"{fake_api.url}/v1/me")

    assert body == {"n": 1}
    assert len(fake_api.calls("/v1/me")) == 3
    # backoff 0.1 s then 0.2 s, each with equal jitter (at least half of it)
    assert 0.15 <= time.monotonic() - t0 < 1.0


async def test_server_errors_past_the_retries_are_unavailable(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={"error": "maintenance"}, status=503))
    api = client(session, retries=2, backoff=0.01)

    with pytest.raises(Unavailable) as raised:
        await api.request("GET", f"{fake_api.url}/v1/me")

    assert len(fake_api.requests) == 3
    assert str(raised.value) == f"probe: GET {fake_api.url}/v1/me answered HTTP 503: maintenance"
    assert raised.value.retry_after is None


async def test_a_short_retry_after_is_waited_a_long_one_ends_the_poll(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/short", Reply(status=503, headers={"Retry-After": "0.3"}), Reply(json={}))
    fake_api.add("GET", "/long", Reply(status=503, headers={"Retry-After": "60"}))
    api = client(session, retries=2, backoff=0.01, max_retry_wait=5)
    t0 = time.monotonic()

    await api.request("GET", f"{fake_api.url}/short")
    assert time.monotonic() - t0 >= 0.3
    with pytest.raises(Unavailable) as raised:
        await api.request("GET", f"{fake_api.url}/long")

    assert raised.value.retry_after == 60  # the scheduler waits, not the poll
    assert len(fake_api.calls("/long")) == 1


async def test_a_timeout_is_retried(fake_api: FakeApi, session: aiohttp.ClientSession) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}, delay=2.0), Reply(json={"n": 2}))
    fake_api.add("GET", "/hung", Reply(json={}, delay=2.0))
    api = client(session, retries=1, backoff=0.01, request_timeout=0.2)

    assert await api.get_json(f"{fake_api.url}/v1/me") == {"n": 2}
    with pytest.raises(Unavailable) as raised:
        await api.request("GET", f"{fake_api.url}/hung")

    assert len(fake_api.calls("/v1/me")) == 2
    assert len(fake_api.calls("/hung")) == 2
    assert str(raised.value) == f"probe: GET {fake_api.url}/hung: TimeoutError after 2 tries"


async def test_a_connection_error_is_retried_with_backoff_then_unavailable(
    session: aiohttp.ClientSession,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1/me"
    api = client(session, retries=2, backoff=0.1)
    t0 = time.monotonic()

    with pytest.raises(Unavailable) as raised:
        await api.request("GET", url)

    assert time.monotonic() - t0 >= 0.15
    assert api.requests == 3
    assert str(raised.value) == f"probe: GET {url}: ClientConnectorError after 3 tries"


# error classes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (410, NotFound),
        (400, BadResponse),
        (409, BadResponse),
        (422, BadResponse),
        (429, RateLimited),
    ],
)
async def test_each_status_raises_its_error_class_without_a_retry(
    fake_api: FakeApi, session: aiohttp.ClientSession, status: int, error: type[CollectError]
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={"error": f"refused {status}"}, status=status))
    api = client(session, retries=2, backoff=0.01)

    with pytest.raises(CollectError) as raised:
        await api.request("GET", f"{fake_api.url}/v1/me")

    assert type(raised.value) is error
    assert str(raised.value).endswith(f"/v1/me answered HTTP {status}: refused {status}")
    assert len(fake_api.requests) == 1


async def test_a_429_carries_retry_after(fake_api: FakeApi, session: aiohttp.ClientSession) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}, status=429, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited) as raised:
        await client(session).request("GET", f"{fake_api.url}/v1/me")

    assert raised.value.retry_after == 7
    assert raised.value.reason == "rate_limited"


def meta_errors(response: ApiResponse) -> CollectError | None:
    """Meta Graph API error codes, which win over the HTTP status."""
    error = response.json().get("error", {})
    code = error.get("code")
    if code in (4, 17, 32, 613):
        return RateLimited(f"Meta code {code}: {error.get('message')}")
    if code == 190:
        return AuthError("the access token expired")
    if code == 2:
        return Unavailable("Meta code 2: temporary")
    return None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, {"error": {"message": "Application request limit reached", "code": 4}}, RateLimited),
        (400, {"error": {"message": "Error validating access token", "code": 190}}, AuthError),
        (403, {"error": {"message": "Permissions error", "code": 200}}, AuthError),  # by status
        (400, {"error": {"message": "Invalid parameter", "code": 100}}, BadResponse),  # by status
    ],
)
async def test_the_platforms_classify_wins_over_the_status(
    fake_api: FakeApi,
    session: aiohttp.ClientSession,
    status: int,
    body: dict[str, Any],
    error: type[CollectError],
) -> None:
    fake_api.add("GET", "/v21.0/me", Reply(json=body, status=status))
    api = client(session, classify=meta_errors)

    with pytest.raises(CollectError) as raised:
        await api.request("GET", f"{fake_api.url}/v21.0/me")

    assert type(raised.value) is error


async def test_an_unavailable_from_classify_is_retried(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    temporary = Reply(json={"error": {"message": "temporary", "code": 2}}, status=400)
    fake_api.add("GET", "/v21.0/me", temporary, Reply(json={"id": "1"}))
    api = client(session, classify=meta_errors, retries=1, backoff=0.01)

    assert await api.get_json(f"{fake_api.url}/v21.0/me") == {"id": "1"}
    assert len(fake_api.requests) == 2


async def test_accept_decides_success_instead_of_2xx(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/insights", Reply(json={"error": "unknown metric"}, status=400))

    answer = await client(session).request(
        "GET", f"{fake_api.url}/v1/insights", accept=lambda r: r.status in (200, 400)
    )

    assert answer.status == 400
    assert answer.error_text() == "unknown metric"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(
            body="<html><body>Please log in</body></html>", headers={"Content-Type": "text/html"}
        ),
        Reply(body='{"data": [1, 2'),  # cut off
    ],
    ids=["html", "truncated-json"],
)
async def test_a_body_that_is_not_json_is_a_bad_response_naming_the_path(
    fake_api: FakeApi, session: aiohttp.ClientSession, reply: Reply
) -> None:
    fake_api.add("GET", "/v1/accounts/acme", reply)

    with pytest.raises(BadResponse) as raised:
        await client(session).get_json(f"{fake_api.url}/v1/accounts/acme?fields=all")

    message = str(raised.value)
    assert f"{fake_api.url}/v1/accounts/acme answered HTTP 200" in message
    assert "not JSON" in message
    assert "fields=all" not in message


# no secrets in messages -------------------------------------------------------------------

API_KEY = "AIzaSy-not-a-real-key-5f3c"
PARAM_KEY = "param-secret-77e1"
TOKEN = "bearer-secret-0b9d"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(json={"error": "invalid token"}, status=401),
        Reply(json={"error": "no such account"}, status=404),
        Reply(json={"error": "slow down"}, status=429),
        Reply(json={"error": "boom"}, status=500),
        Reply(body="not json"),
        Reply(json={}, delay=2.0),
    ],
    ids=["401", "404", "429", "500", "not-json", "timeout"],
)
async def test_messages_never_contain_the_query_string_or_the_token(
    fake_api: FakeApi, session: aiohttp.ClientSession, reply: Reply
) -> None:
    fake_api.add("GET", "/v1/me", reply)
    api = client(session, retries=1, backoff=0.01, request_timeout=0.2)

    with pytest.raises(CollectError) as raised:
        await api.get_json(
            f"{fake_api.url}/v1/me?key={API_KEY}",
            params={"token": PARAM_KEY},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    sent = fake_api.calls("/v1/me")[0]
    assert sent.query == {"key": API_KEY, "token": PARAM_KEY}  # the secrets were sent
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    message = str(raised.value)
    assert "/v1/me" in message
    for secret in (API_KEY, PARAM_KEY, TOKEN, "key="):
        assert secret not in message


async def test_messages_never_contain_the_user_info_of_the_url(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={}, status=403))
    with_password = fake_api.url.replace("http://", "http://reader:pa55-w0rd@")

    with pytest.raises(AuthError) as raised:
        await client(session).request("GET", f"{with_password}/v1/me")

    assert "pa55-w0rd" not in str(raised.value)
    assert "reader" not in str(raised.value)


# the policy is checked when a plugin declares it ------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit_headers": "mastadon"}, "use one of ietf, mastodon, meta, x"),
        ({"rate": (0, 1.0)}, "rate (0, 1.0) must be"),
        ({"daily_quota": 0}, "daily_quota 0 must be at least 1"),
        ({"quota_timezone": "Pacific"}, "is not an IANA time zone"),
        ({"retries": -1}, "must not be negative"),
        ({"request_timeout": 0}, "request_timeout 0 must be positive"),
    ],
)
def test_a_wrong_policy_is_refused_with_the_fix(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="ApiPolicy: ") as raised:
        ApiPolicy(**options)
    assert message in str(raised.value)


# through a poll ---------------------------------------------------------------------------


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_url: str


async def collect_me(ctx: kpiwatch.CollectContext) -> list[kpiwatch.Sample]:
    me = await ctx.api.get_json(f"{ctx.settings.api_url}/v1/me", credential="app-token")
    return [kpiwatch.Sample("followers", me["followers"])]


ME = kpiwatch.Platform(
    name="probe",
    collect=collect_me,
    settings=Base,
    api=ApiPolicy(rate_limit_headers="ietf", daily_quota=50, retries=0),
)


async def test_a_poll_carries_the_rate_limit_and_the_quota(fake_api: FakeApi) -> None:
    headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "98", "RateLimit-Reset": "30"}
    fake_api.add("GET", "/v1/me", Reply(json={"followers": 12}, headers=headers))

    run = await run_collect(ME, {"api_url": fake_api.url})

    run.assert_metric("followers", 12)
    limit = run.outcome.rate_limit
    assert limit is not None and (limit.limit, limit.remaining) == (100, 98)
    assert limit.reset_at == pytest.approx(time.time() + 30, abs=5)
    assert run.outcome.quota == (49, 50)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(json={"error": "expired"}, status=401), "auth"),
        (Reply(json={"error": "gone"}, status=410), "not_found"),
        (Reply(json={}, status=429, headers={"Retry-After": "30"}), "rate_limited"),
        (Reply(json={}, status=502), "unavailable"),
        (Reply(body="<html>"), "bad_response"),
    ],
)
async def test_a_poll_fails_with_the_reason_of_the_error_class(
    fake_api: FakeApi, reply: Reply, reason: str
) -> None:
    fake_api.add("GET", "/v1/me", reply)

    run = await run_collect(ME, {"api_url": fake_api.url})

    run.assert_failed(reason)
    assert run.outcome.quota == (49, 50)  # the failed request was charged too


# metrics a platform stopped serving ------------------------------------------------------

GONE = "(#100) The value must be a valid insights metric"


async def collect_with_insights(ctx: kpiwatch.CollectContext) -> list[kpiwatch.Sample]:
    """Followers always; impressions while the platform still serves them."""
    base = ctx.settings.api_url
    me = await ctx.api.get_json(f"{base}/v1/me")
    samples = [kpiwatch.Sample("followers", me["followers"])]
    if ctx.metric_enabled("impressions"):
        answer = await ctx.api.request(
            "GET", f"{base}/v1/insights", accept=lambda r: r.status in (200, 400)
        )
        body = answer.json()
        if answer.status == 400 and body.get("error", {}).get("code") == 100:
            ctx.metric_removed("impressions", body["error"]["message"])
        else:
            ctx.metric_restored("impressions")
            samples.append(kpiwatch.Sample("impressions", body["impressions"], window="1d"))
    return samples


INSIGHTS = kpiwatch.Platform(
    name="probe", collect=collect_with_insights, settings=Base, api=ApiPolicy()
)
REMOVED = Reply(json={"error": {"message": GONE, "code": 100}}, status=400)


async def test_a_removed_metric_is_disabled_and_tried_again_a_week_later(
    fake_api: FakeApi, time_machine
) -> None:
    start = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    fake_api.add("GET", "/v1/me", Reply(json={"followers": 1500}))
    fake_api.add("GET", "/v1/insights", REMOVED)
    settings = {"api_url": fake_api.url}
    state: dict[str, Any] = {}

    async def poll_at(moment: datetime):
        time_machine.move_to(moment, tick=False)
        return await run_collect(INSIGHTS, settings, state=state)

    first = await poll_at(start)
    first.assert_metric("followers", 1500)
    first.assert_no_metric("impressions")
    assert first.outcome.removed == {"impressions": GONE}
    assert state[REMOVED_KEY]["impressions"]["since"] == start.timestamp()

    almost = await poll_at(start + timedelta(days=6, hours=23))
    assert almost.ok and almost.outcome.removed == {"impressions": GONE}
    assert len(fake_api.calls("/v1/insights")) == 1  # not asked while disabled

    still_gone = await poll_at(start + timedelta(days=7))
    assert len(fake_api.calls("/v1/insights")) == 2  # asked again after a week
    assert still_gone.outcome.removed == {"impressions": GONE}
    assert state[REMOVED_KEY]["impressions"]["since"] == (start + timedelta(days=7)).timestamp()

    await poll_at(start + timedelta(days=13))
    assert len(fake_api.calls("/v1/insights")) == 2  # the week starts again

    fake_api.add("GET", "/v1/insights", Reply(json={"impressions": 900}))
    back = await poll_at(start + timedelta(days=14))
    back.assert_metric("impressions", 900, window="1d")
    assert back.outcome.removed == {}
    assert state[REMOVED_KEY] == {}


async def test_a_removed_metric_is_exported_and_raises_a_data_quality_event(
    fake_api: FakeApi,
) -> None:
    fake_api.add("GET", "/v1/me", Reply(json={"followers": 1500}))
    fake_api.add("GET", "/v1/insights", REMOVED)
    config = Config.model_validate(
        {
            "defaults": {"interval": "0.1s", "timeout": "2s", "jitter": 0},
            "accounts": [
                {"id": "acme", "platform": "probe", "settings": {"api_url": fake_api.url}}
            ],
        }
    )
    runtime = Runtime()
    tracker = QualityTracker()
    events: list[DataQualityEvent] = []

    def sink(plan: AccountPlan, outcome: PollOutcome, state: dict[str, Any]) -> None:
        if outcome.ok:  # as the daemon feeds its alerting
            events.extend(tracker.poll(plan.account.id, outcome.samples, outcome.removed))

    async with aiohttp.ClientSession() as session:
        scheduler = Scheduler(runtime, session, sink)
        settings = {"acme": Base.model_validate({"api_url": fake_api.url})}
        scheduler.apply(scheduler.plans(config, settings, {"probe": INSIGHTS}))
        await asyncio.sleep(0.35)
        await scheduler.stop(1.0)

    status = runtime.accounts["acme"]
    assert status.state == "up" and status.polls >= 2
    assert status.removed_metrics == {"impressions": GONE}
    assert len(fake_api.calls("/v1/insights")) == 1  # later polls skip the disabled metric
    assert events and set(events) == {DataQualityEvent("removed", "impressions", None, None, GONE)}

    cache = ExpositionCache(runtime)
    await cache.render_now()
    body = (await cache.get()).decode()
    disabled = {
        tuple(sorted(s.labels.items())): s.value
        for family in parse_text(body)
        for s in family.samples
        if s.name == "kpiwatch_metrics_disabled"
    }
    assert disabled == {(("account", "acme"), ("platform", "probe")): 1.0}


# the toolkit's module in docs/plugins.md runs ---------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def toolkit_module() -> str:
    """The first python block of the section "The toolkit: `ctx.api`" of docs/plugins.md."""
    section = DOC.read_text(encoding="utf-8").split("\n## The toolkit: `ctx.api`\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0] + "\n"


@pytest.fixture
def acme_video(tmp_path: Path) -> kpiwatch.Platform:
    (tmp_path / "acme_video_doc.py").write_text(toolkit_module())
    registry = PluginRegistry()
    registry.load_directory(tmp_path)
    registry.finish()
    assert registry.errors == []
    return registry.platforms["acme_video"]


async def test_the_documented_toolkit_platform_runs(
    fake_api: FakeApi, acme_video: kpiwatch.Platform
) -> None:
    fake_api.add(
        "POST",
        "/oauth2/token",
        {"access_token": "at-1", "expires_in": 3600, "refresh_token": "rt-2"},
    )
    headers = {"RateLimit-Limit": "600", "RateLimit-Remaining": "599", "RateLimit-Reset": "60"}
    fake_api.add(
        "GET", "/v3/channels/acme", Reply(json={"subscriberCount": "1500"}, headers=headers)
    )
    retired = Reply(json={"error": {"message": "views were retired"}}, status=410)
    fake_api.add("GET", "/v3/channels/acme/views", {"views": 900}, retired)
    settings = {
        "api_url": fake_api.url,
        "channel": "acme",
        "client_id": "app-id",
        "client_secret": "app-secret",
        "refresh_token": "rt-1",
    }

    served = await run_collect(acme_video, settings)
    served.assert_metric("followers", 1500)
    served.assert_metric("impressions", 900, window="1d")

    state = served.state
    gone = await run_collect(acme_video, settings, state=state)
    gone.assert_metric("followers", 1500)
    gone.assert_no_metric("impressions")
    assert gone.outcome.removed == {"impressions": "views were retired"}
    assert state["oauth"]["refresh_token"] == "rt-2"
    assert gone.outcome.quota == (9_998, 10_000)  # a fresh ApiLimits per run_collect
    assert gone.outcome.rate_limit is not None and gone.outcome.rate_limit.remaining == 599
    assert {r.headers["Authorization"] for r in fake_api.calls("/v3/channels/acme")} == {
        "Bearer at-1"
    }

    quota = {"error": {"code": 403, "message": "quota used up", "reason": "quotaExceeded"}}
    fake_api.add("GET", "/v3/channels/acme", Reply(json=quota, status=403))
    exceeded = await run_collect(acme_video, settings, state=state)
    exceeded.assert_failed("quota_exhausted")
    assert exceeded.outcome.quota == (0, 10_000)


async def test_a_disabled_metric_served_again_is_enabled_again(fake_api):
    # the plugin disables "impressions" when the answer lacks it and never calls
    # metric_restored: the poll itself enables it again once a sample of it comes back
    from kpiwatch.testing import run_collect

    class Url(BaseModel):
        url: str

    async def collect(ctx):
        data = await ctx.api.get_json(f"{ctx.settings.url}/stats")
        out = [kpiwatch.Sample("followers", data["followers"])]
        if ctx.metric_enabled("impressions"):
            if "impressions" in data:
                out.append(kpiwatch.Sample("impressions", data["impressions"], window="1d"))
            else:
                ctx.metric_removed("impressions", "no longer in the answer")
        return out

    platform = kpiwatch.Platform(name="restoring", collect=collect, settings=Url)
    fake_api.add("GET", "/stats", {"followers": 10}, {"followers": 11, "impressions": 500})
    state: dict = {}
    first = await run_collect(platform, {"url": fake_api.url}, state=state)
    assert first.outcome.removed == {"impressions": "no longer in the answer"}
    state["removed_metrics"]["impressions"]["since"] -= 8 * 86400  # past the retry time
    second = await run_collect(platform, {"url": fake_api.url}, state=state)
    second.assert_metric("impressions", 500, window="1d")
    assert second.outcome.removed == {} and state["removed_metrics"] == {}


async def test_a_429_without_rate_limit_headers_holds_the_credential_until_retry_after(fake_api):
    # TikTok and LinkedIn send no window headers: the 429's wait itself holds the credential,
    # so the next request is refused without being sent
    fake_api.add("GET", "/v2/user/info/", Reply(status=429, headers={"Retry-After": "40"}))
    now = [1_800_000_000.0]
    async with aiohttp.ClientSession() as session:
        limits = ApiLimits()
        first = ApiClient(session, "tiktok", ApiPolicy(), limits, clock=lambda: now[0])
        with pytest.raises(RateLimited) as raised:
            await first.get_json(f"{fake_api.url}/v2/user/info/", credential="tok")
        assert raised.value.retry_after == 40
        assert first.rate_limit is not None and first.rate_limit.remaining == 0
        second = ApiClient(session, "tiktok", ApiPolicy(), limits, clock=lambda: now[0] + 10)
        with pytest.raises(RateLimited) as refused:
            await second.get_json(f"{fake_api.url}/v2/user/info/", credential="tok")
        assert refused.value.retry_after == pytest.approx(30)
        assert len(fake_api.calls("/v2/user/info/")) == 1
        # another credential is not held, and after the wait the request goes out again
        other = ApiClient(session, "tiktok", ApiPolicy(), limits, clock=lambda: now[0] + 10)
        with pytest.raises(RateLimited):
            await other.get_json(f"{fake_api.url}/v2/user/info/", credential="other")
        later = ApiClient(session, "tiktok", ApiPolicy(), limits, clock=lambda: now[0] + 41)
        with pytest.raises(RateLimited):
            await later.get_json(f"{fake_api.url}/v2/user/info/", credential="tok")
        assert len(fake_api.calls("/v2/user/info/")) == 3
