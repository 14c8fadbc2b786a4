"""OAuth2 access tokens from a rotating refresh token kept in the account's state: refreshed
before expiry and once on a 401, rotation kept (also after a failed poll), re-authorisation.

The token endpoint and the API are real aiohttp servers on 127.0.0.1 (the kit's ``fake_api``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict

import kpiwatch
from kpiwatch.config import Config
from kpiwatch.errors import AuthError, RateLimited, Unavailable
from kpiwatch.polling import PollOutcome
from kpiwatch.runtime import Runtime
from kpiwatch.scheduler import AccountPlan, Scheduler
from kpiwatch.testing import FakeApi, Reply
from kpiwatch.toolkit.api import ApiClient, ApiLimits, ApiPolicy
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config

TOKEN_PATH = "/oauth2/token"
ME_PATH = "/2/users/me"
FIRST_REFRESH = "rt-initial-61a0"
SECRET = "app-secret-d41c"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def oauth_config(fake_api: FakeApi, refresh_token: str = FIRST_REFRESH, **options: Any):
    return OAuth2Config(
        token_url=f"{fake_api.url}{TOKEN_PATH}",
        client_id="app-id",
        client_secret=SECRET,
        refresh_token=refresh_token,
        **options,
    )


def grant(access: str, refresh: str | None = None, expires_in: int | None = 3600) -> Reply:
    body: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    if refresh is not None:
        body["refresh_token"] = refresh
    return Reply(json=body)


INVALID_GRANT = Reply(
    json={"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    status=400,
)


def api_client(session: aiohttp.ClientSession, **policy: Any) -> ApiClient:
    return ApiClient(session, "x", ApiPolicy(**policy), ApiLimits())


def bearers(fake_api: FakeApi) -> list[str]:
    return [r.headers["Authorization"] for r in fake_api.calls(ME_PATH)]


def refresh_tokens_sent(fake_api: FakeApi) -> list[str]:
    return [r.form()["refresh_token"] for r in fake_api.calls(TOKEN_PATH)]


async def test_the_first_request_refreshes_and_sends_the_bearer_token(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"))
    fake_api.add("GET", ME_PATH, Reply(json={"data": {"id": "42"}}))
    state: dict[str, Any] = {}
    auth = OAuth2(oauth_config(fake_api), state)

    body = await api_client(session).get_json(f"{fake_api.url}{ME_PATH}", auth=auth)

    assert body == {"data": {"id": "42"}}
    assert fake_api.calls(TOKEN_PATH)[0].form() == {
        "grant_type": "refresh_token",
        "refresh_token": FIRST_REFRESH,
        "client_id": "app-id",
        "client_secret": SECRET,
    }
    assert bearers(fake_api) == ["Bearer at-1"]
    assert state["oauth"]["refresh_token"] == "rt-2"  # the rotated one, kept in the state
    assert state["oauth"]["expires_at"] == pytest.approx(time.time() + 3600, abs=5)
    assert FIRST_REFRESH not in json.dumps(state)  # only a fingerprint of the first one


async def test_the_token_is_refreshed_before_it_expires_with_the_rotated_refresh_token(
    fake_api: FakeApi, session: aiohttp.ClientSession, time_machine
) -> None:
    start = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    time_machine.move_to(start, tick=False)
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), grant("at-2", "rt-3"))
    fake_api.add("GET", ME_PATH, Reply(json={}))
    state: dict[str, Any] = {}
    url = f"{fake_api.url}{ME_PATH}"

    async def poll_at(moment: datetime) -> None:  # a new poll: new client and OAuth2
        time_machine.move_to(moment, tick=False)
        await api_client(session).request("GET", url, auth=OAuth2(oauth_config(fake_api), state))

    await poll_at(start)
    await poll_at(start + timedelta(seconds=3299))  # 301 s left: still valid
    assert bearers(fake_api) == ["Bearer at-1", "Bearer at-1"]
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH]

    await poll_at(start + timedelta(seconds=3300))  # within the 300 s margin
    assert bearers(fake_api)[-1] == "Bearer at-2"
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH, "rt-2"]  # the rotated one
    assert state["oauth"]["refresh_token"] == "rt-3"
    assert state["oauth"]["expires_at"] == (start + timedelta(seconds=3300 + 3600)).timestamp()


async def test_a_401_refreshes_once_then_succeeds(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), grant("at-2", "rt-3"))
    fake_api.add("GET", ME_PATH, Reply(json={}), Reply(json={}, status=401), Reply(json={"n": 1}))
    state: dict[str, Any] = {}
    url = f"{fake_api.url}{ME_PATH}"
    await api_client(session).request("GET", url, auth=OAuth2(oauth_config(fake_api), state))

    body = await api_client(session).get_json(url, auth=OAuth2(oauth_config(fake_api), state))

    assert body == {"n": 1}
    assert bearers(fake_api) == ["Bearer at-1", "Bearer at-1", "Bearer at-2"]
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH, "rt-2"]
    assert state["oauth"]["refresh_token"] == "rt-3"


async def test_a_second_401_is_an_auth_error(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), grant("at-2", "rt-3"))
    fake_api.add("GET", ME_PATH, Reply(json={"title": "Unauthorized"}, status=401))
    auth = OAuth2(oauth_config(fake_api), {})

    with pytest.raises(AuthError) as raised:
        await api_client(session).request("GET", f"{fake_api.url}{ME_PATH}", auth=auth)

    assert len(fake_api.calls(ME_PATH)) == 2  # one refresh, one more try, no loop
    assert len(fake_api.calls(TOKEN_PATH)) == 2
    assert "HTTP 401: Unauthorized" in str(raised.value)
    assert "at-2" not in str(raised.value)


async def test_invalid_grant_tells_to_authorise_again(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, INVALID_GRANT)
    fake_api.add("GET", ME_PATH, Reply(json={}))
    auth = OAuth2(oauth_config(fake_api), {})

    with pytest.raises(AuthError) as raised:
        await api_client(session).request("GET", f"{fake_api.url}{ME_PATH}", auth=auth)

    message = str(raised.value)
    assert "invalid_grant" in message
    assert "authorise the app again and put the new refresh token in the account's settings" in (
        message
    )
    assert FIRST_REFRESH not in message and SECRET not in message
    assert fake_api.calls(ME_PATH) == []


async def test_a_new_refresh_token_in_the_settings_replaces_the_saved_chain(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), grant("at-9", "rt-10"))
    fake_api.add("GET", ME_PATH, Reply(json={}))
    state: dict[str, Any] = {}
    url = f"{fake_api.url}{ME_PATH}"
    await api_client(session).request("GET", url, auth=OAuth2(oauth_config(fake_api), state))

    reauthorised = OAuth2(oauth_config(fake_api, refresh_token="rt-reauthorised"), state)
    await api_client(session).request("GET", url, auth=reauthorised)

    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH, "rt-reauthorised"]  # not rt-2
    assert bearers(fake_api) == ["Bearer at-1", "Bearer at-9"]
    assert state["oauth"]["refresh_token"] == "rt-10"


async def test_concurrent_requests_share_one_refresh(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    """A second refresh would present a refresh token the first one rotated away."""
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), grant("at-2", "rt-3"), INVALID_GRANT)
    unauthorised = Reply(json={}, status=401)
    fake_api.add("GET", ME_PATH, *[Reply(json={})] * 3, *[unauthorised] * 3, Reply(json={}))
    state: dict[str, Any] = {}
    auth = OAuth2(oauth_config(fake_api), state)
    api = api_client(session)
    url = f"{fake_api.url}{ME_PATH}"

    await asyncio.gather(*(api.request("GET", url, auth=auth) for _ in range(3)))
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH]

    await asyncio.gather(*(api.request("GET", url, auth=auth) for _ in range(3)))  # three 401s
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH, "rt-2"]
    assert bearers(fake_api)[-3:] == ["Bearer at-2"] * 3
    assert state["oauth"]["refresh_token"] == "rt-3"


async def test_client_credentials_in_basic_auth_and_extra_form_fields(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", expires_in=None))
    fake_api.add("GET", ME_PATH, Reply(json={}))
    config = oauth_config(fake_api, auth_method="basic", extra={"client_key": "tiktok-key"})
    state: dict[str, Any] = {}

    await api_client(session).request("GET", f"{fake_api.url}{ME_PATH}", auth=OAuth2(config, state))

    token_request = fake_api.calls(TOKEN_PATH)[0]
    expected = base64.b64encode(f"app-id:{SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert token_request.form() == {
        "grant_type": "refresh_token",
        "refresh_token": FIRST_REFRESH,
        "client_key": "tiktok-key",
    }
    # no expires_in: used until the API answers 401; no rotation: the first one stays in use
    assert state["oauth"]["expires_at"] is None
    assert "refresh_token" not in state["oauth"]


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (Reply(body="upstream down", status=503, headers={"Retry-After": "20"}), Unavailable, 20),
        (
            Reply(json={"error": "slow_down"}, status=429, headers={"Retry-After": "60"}),
            RateLimited,
            60,
        ),
    ],
)
async def test_a_token_endpoint_that_is_down_or_busy_is_not_an_auth_error(
    fake_api: FakeApi,
    session: aiohttp.ClientSession,
    reply: Reply,
    error: type[Exception],
    retry_after: float,
) -> None:
    fake_api.add("POST", TOKEN_PATH, reply)
    auth = OAuth2(oauth_config(fake_api), {})

    with pytest.raises(error) as raised:
        await api_client(session).request("GET", f"{fake_api.url}{ME_PATH}", auth=auth)

    assert raised.value.retry_after == retry_after
    assert fake_api.calls(ME_PATH) == []


async def test_invalid_client_says_to_check_the_app_credentials(
    fake_api: FakeApi, session: aiohttp.ClientSession
) -> None:
    fake_api.add("POST", TOKEN_PATH, Reply(json={"error": "invalid_client"}, status=401))
    auth = OAuth2(oauth_config(fake_api), {})

    with pytest.raises(AuthError, match="check the app's client id and secret"):
        await api_client(session).request("GET", f"{fake_api.url}{ME_PATH}", auth=auth)


# through the scheduler --------------------------------------------------------------------


class OAuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_url: str
    refresh_token: str


async def collect_me(ctx: kpiwatch.CollectContext) -> list[kpiwatch.Sample]:
    base = ctx.settings.api_url
    config = OAuth2Config(f"{base}{TOKEN_PATH}", "app-id", SECRET, ctx.settings.refresh_token)
    me = await ctx.api.get_json(f"{base}{ME_PATH}", auth=OAuth2(config, ctx.state))
    return [kpiwatch.Sample("followers", me["followers"])]


ROTATING = kpiwatch.Platform(
    name="rotating", collect=collect_me, settings=OAuthSettings, api=ApiPolicy(retries=0)
)


async def test_the_rotated_refresh_token_reaches_the_sink_when_the_poll_fails(
    fake_api: FakeApi,
) -> None:
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"), INVALID_GRANT)
    fake_api.add("GET", ME_PATH, Reply(json={"title": "Service Unavailable"}, status=503))
    account = {"api_url": fake_api.url, "refresh_token": FIRST_REFRESH}
    config = Config.model_validate(
        {
            "defaults": {
                "interval": "0.1s",
                "timeout": "2s",
                "jitter": 0,
                "backoff_initial": "0.05s",
                "backoff_max": "0.1s",
            },
            "accounts": [{"id": "brand-x", "platform": "rotating", "settings": account}],
        }
    )
    runtime = Runtime()
    stored: list[tuple[bool, dict[str, Any]]] = []

    def sink(plan: AccountPlan, outcome: PollOutcome, state: dict[str, Any]) -> None:
        stored.append((outcome.ok, copy.deepcopy(state)))  # as the history writer keeps it

    async with aiohttp.ClientSession() as session:
        scheduler = Scheduler(runtime, session, sink)
        settings = {"brand-x": OAuthSettings.model_validate(account)}
        scheduler.apply(scheduler.plans(config, settings, {"rotating": ROTATING}))
        await asyncio.sleep(0.4)
        await scheduler.stop(1.0)

    status = runtime.accounts["brand-x"]
    assert status.state == "down" and status.last_error_reason == "unavailable"
    assert len(stored) >= 2
    assert all(not ok and state["oauth"]["refresh_token"] == "rt-2" for ok, state in stored)
    # later polls used the access token kept in the state: the dead rt-initial was never resent
    assert refresh_tokens_sent(fake_api) == [FIRST_REFRESH]
    # every finished poll was stored; the stop may cut one more short after its request
    assert len(stored) <= len(fake_api.calls(ME_PATH)) <= len(stored) + 1


async def test_a_dry_run_uses_a_stored_token_and_never_refreshes(fake_api, session):
    # kpiwatch collect polls with a copy of the stored state: a refresh there would rotate the
    # refresh token and lose the new one, so it is refused with what to do instead
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"))
    fake_api.add("GET", ME_PATH, {"data": {"id": "1"}})
    state: dict[str, Any] = {}
    auth = OAuth2(oauth_config(fake_api), state)
    dry = ApiClient(session, "x", ApiPolicy(), dry_run=True)
    with pytest.raises(AuthError, match="does not refresh it"):
        await dry.get_json(f"{fake_api.url}{ME_PATH}", auth=auth)
    assert fake_api.calls(TOKEN_PATH) == [] and fake_api.calls(ME_PATH) == []
    # the daemon's poll refreshes and stores the token; a dry run then uses it as it is
    await ApiClient(session, "x", ApiPolicy()).get_json(f"{fake_api.url}{ME_PATH}", auth=auth)
    snapshot = copy.deepcopy(state)
    await dry.get_json(f"{fake_api.url}{ME_PATH}", auth=OAuth2(oauth_config(fake_api), snapshot))
    assert len(fake_api.calls(TOKEN_PATH)) == 1
    assert fake_api.calls(ME_PATH)[-1].headers["Authorization"] == "Bearer at-1"


async def test_the_client_id_goes_in_the_field_the_provider_names(fake_api, session):
    # TikTok's token endpoint takes the app's id as client_key
    fake_api.add("POST", TOKEN_PATH, grant("at-1", "rt-2"))
    fake_api.add("GET", ME_PATH, {"data": {"id": "1"}})
    config = oauth_config(fake_api, client_id_field="client_key")
    await ApiClient(session, "tiktok", ApiPolicy()).get_json(
        f"{fake_api.url}{ME_PATH}", auth=OAuth2(config, {})
    )
    form = fake_api.calls(TOKEN_PATH)[0].form()
    assert form["client_key"] == "app-id" and "client_id" not in form
