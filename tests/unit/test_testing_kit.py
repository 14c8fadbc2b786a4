"""The plugin authors' kit (kpiwatch.testing): the fake API on loopback, run_collect, and
CollectRun's assertions, which must fail with a clear message when the poll is not as said."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

import kpiwatch
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiPolicy


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# the fake API -----------------------------------------------------------------------------


async def test_a_route_answers_with_its_status_headers_and_body(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add(
        "get",
        "/v1/me",
        Reply(json={"followers": 12}, status=201, headers={"X-RateLimit-Remaining": "299"}),
    )
    fake_api.add("GET", "/raw", Reply(body=b"\x00not json", status=502))

    assert fake_api.url.startswith("http://127.0.0.1:")
    async with session.get(f"{fake_api.url}/v1/me") as answer:
        assert answer.status == 201
        assert answer.headers["x-ratelimit-remaining"] == "299"
        assert answer.headers["Content-Type"].startswith("application/json")
        assert await answer.json() == {"followers": 12}
    async with session.get(f"{fake_api.url}/raw") as answer:
        assert (answer.status, await answer.read()) == (502, b"\x00not json")


async def test_replies_are_served_in_order_and_the_last_repeats(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/seq", Reply(status=503), {"page": 1}, [1, 2])

    got = []
    for _ in range(4):
        async with session.get(f"{fake_api.url}/seq") as answer:
            got.append((answer.status, await answer.json()))

    assert got == [(503, None), (200, {"page": 1}), (200, [1, 2]), (200, [1, 2])]


async def test_a_route_with_query_values_answers_only_requests_with_them(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/statuses", {"page": "first"})
    fake_api.add("GET", "/statuses", {"page": "second"}, query={"max_id": "100"})

    async def page(query: str) -> Any:
        async with session.get(f"{fake_api.url}/statuses{query}") as answer:
            return (await answer.json())["page"]

    assert await page("") == "first"
    assert await page("?max_id=100&limit=40") == "second"  # other parameters do not matter
    assert await page("?max_id=99") == "first"


async def test_a_route_added_later_wins(fake_api: FakeApi, session: aiohttp.ClientSession) -> None:
    fake_api.add("GET", "/v1/me", {"version": 1})
    fake_api.add("GET", "/v1/me", {"version": 2})

    async with session.get(f"{fake_api.url}/v1/me") as answer:
        assert await answer.json() == {"version": 2}


async def test_requests_are_recorded(fake_api: FakeApi, session: aiohttp.ClientSession) -> None:
    fake_api.add("POST", "/oauth/token", {"access_token": "a"})
    fake_api.add("POST", "/v1/query", {"data": []})
    fake_api.add("GET", "/v1/query", {"data": []})

    await (await session.post(f"{fake_api.url}/oauth/token", data={"grant_type": "x"})).read()
    await (
        await session.post(
            f"{fake_api.url}/v1/query?fields=id",
            json={"ids": [1, 2]},
            headers={"Authorization": "Bearer t"},
        )
    ).read()
    await (await session.get(f"{fake_api.url}/v1/query")).read()

    assert [(r.method, r.path) for r in fake_api.requests] == [
        ("POST", "/oauth/token"),
        ("POST", "/v1/query"),
        ("GET", "/v1/query"),
    ]
    assert fake_api.calls("/oauth/token")[0].form() == {"grant_type": "x"}
    query = fake_api.calls("/v1/query", method="post")
    assert len(query) == 1
    assert query[0].query == {"fields": "id"}
    assert query[0].json() == {"ids": [1, 2]}
    assert query[0].headers["authorization"] == "Bearer t"  # any case
    assert query[0].headers["AUTHORIZATION"] == "Bearer t"
    assert len(fake_api.calls("/v1/query")) == 2


async def test_an_unknown_route_answers_599_naming_the_routes(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("GET", "/v1/me", {})

    async with session.post(f"{fake_api.url}/v1/me") as answer:
        assert answer.status == 599
        error = (await answer.json())["error"]

    assert error == "fake API: no route for POST /v1/me; routes: GET /v1/me"
    assert len(fake_api.requests) == 1  # recorded all the same


def test_a_route_needs_a_reply() -> None:
    with pytest.raises(ValueError, match="at least one reply"):
        FakeApi().add("GET", "/v1/me")


# run_collect ------------------------------------------------------------------------------


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_url: str


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    me = await ctx.api.get_json(f"{ctx.settings.api_url}/v1/me")
    ctx.state["polls"] = ctx.state.get("polls", 0) + 1
    samples = [
        kpiwatch.Sample("followers", me["followers"]),
        kpiwatch.Sample("impressions", me["impressions"], window="1d"),
        kpiwatch.Sample("sessions", 10, window="1d", dims={"source": "mail", "medium": "email"}),
        kpiwatch.Sample("sessions", 4, window="1d", dims={"source": "ads", "medium": "cpc"}),
    ]
    if ctx.competitor:
        samples = samples[:1]
    post = kpiwatch.Post("7", datetime(2026, 1, 5, tzinfo=UTC), "video", {"likes": 30})
    return kpiwatch.CollectResult(samples=samples, posts=[post])


PLATFORM = kpiwatch.Platform(
    name="probe", collect=collect, settings=Settings, api=ApiPolicy(retries=0)
)
ME = {"followers": 12, "impressions": 900}


async def test_run_collect_polls_once_as_the_daemon_does(fake_api: FakeApi) -> None:
    fake_api.add("GET", "/v1/me", ME)
    state: dict[str, Any] = {}

    run = await run_collect(PLATFORM, {"api_url": fake_api.url}, state=state)
    again = await run_collect(PLATFORM, {"api_url": fake_api.url}, state=state)

    assert run.ok and run.reason is None
    run.assert_metric("followers", 12)
    run.assert_metric("impressions", 900, window="1d")
    run.assert_metric("sessions", count=2)
    run.assert_metric("sessions", 10, source="mail", count=1)
    assert run.values("sessions", window="1d", medium="cpc") == [4]
    assert [p.id for p in run.posts] == ["7"]
    assert again.state is state and state["polls"] == 2  # the state carries over
    competitor = await run_collect(PLATFORM, {"api_url": fake_api.url}, competitor=True)
    competitor.assert_metric("followers", count=1)
    competitor.assert_no_metric("impressions")


async def test_run_collect_validates_the_settings(fake_api: FakeApi) -> None:
    with pytest.raises(ValidationError, match="api_ur"):
        await run_collect(PLATFORM, {"api_ur": fake_api.url})


async def test_a_delayed_reply_runs_into_the_poll_timeout(fake_api: FakeApi) -> None:
    fake_api.add("GET", "/v1/me", Reply(json=ME, delay=1.0))

    run = await run_collect(PLATFORM, {"api_url": fake_api.url}, timeout=0.2)

    run.assert_failed("timeout")
    assert run.outcome.message == "no answer within 0.2s"


async def test_a_malformed_body_fails_the_poll_as_a_bad_response(fake_api: FakeApi) -> None:
    fake_api.add("GET", "/v1/me", Reply(body='{"followers": '))

    run = await run_collect(PLATFORM, {"api_url": fake_api.url})

    run.assert_failed("bad_response")


# CollectRun's assertions fail clearly -----------------------------------------------------


@pytest.fixture
async def good_run(fake_api: FakeApi):
    fake_api.add("GET", "/v1/me", ME)
    return await run_collect(PLATFORM, {"api_url": fake_api.url})


@pytest.fixture
async def failed_run(fake_api: FakeApi):
    fake_api.add("GET", "/v1/me", Reply(json={"error": "no such account"}, status=404))
    return await run_collect(PLATFORM, {"api_url": fake_api.url})


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda run: run.assert_metric("followers", 13), "followers: [12], expected 13"),
        (
            lambda run: run.assert_metric("reach"),
            "reach: no sample; got ['followers', 'impressions', 'sessions']",
        ),
        (lambda run: run.assert_metric("sessions", count=1), "sessions: 2 sample(s), expected 1"),
        (
            lambda run: run.assert_metric("sessions", 4, source="mail"),
            "sessions {'source': 'mail'}: [10], expected 4",
        ),
        (
            lambda run: run.assert_metric("impressions", window="7d"),
            "impressions window=7d: no sample",
        ),
        (lambda run: run.assert_no_metric("followers"), "followers was returned: [12]"),
        (
            lambda run: run.assert_failed("auth"),
            "the poll succeeded; expected it to fail with auth",
        ),
    ],
)
async def test_assertions_on_a_good_run_fail_when_wrong(good_run, check, message: str) -> None:
    with pytest.raises(AssertionError) as raised:
        check(good_run)
    assert str(raised.value).startswith(message)


async def test_assertions_on_a_failed_run_say_why_it_failed(failed_run) -> None:
    failed_run.assert_failed("not_found")

    with pytest.raises(AssertionError) as wrong_reason:
        failed_run.assert_failed("auth")
    with pytest.raises(AssertionError) as no_samples:
        failed_run.assert_metric("followers")

    assert str(wrong_reason.value).startswith("failed with not_found (probe: GET ")
    assert str(no_samples.value).startswith("the poll failed (not_found): probe: GET ")
    assert "answered HTTP 404: no such account" in str(no_samples.value)
