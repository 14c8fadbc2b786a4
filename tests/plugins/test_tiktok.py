"""The ``tiktok`` platform against a fake TikTok API v2 on 127.0.0.1, serving the bodies TikTok
documents: ``{"data": ..., "error": {"code", "message", "log_id"}}`` envelopes from
``/v2/user/info/`` and ``/v2/video/list/`` (``cursor`` / ``has_more`` pages), the documented
error codes with their HTTP statuses, and the OAuth token endpoint with rotating refresh
tokens (form-encoded, ``client_key``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pydantic import ValidationError

import kpiwatch
import kpiwatch_platforms.tiktok
from kpiwatch.config_loader import load_config
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.tiktok import PLATFORM
from kpiwatch_platforms.tiktok.settings import TikTokSettings

USER_INFO = "/v2/user/info/"
VIDEO_LIST = "/v2/video/list/"
TOKEN_PATH = "/v2/oauth/token/"
CLIENT_KEY = "aw8kq3xw1r9zf0"
CLIENT_SECRET = "Q1x9v8s7ZtmPSecret"
FIRST_REFRESH = "rft.first"
OPEN_ID = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
LOG_ID = "202611051230157F2A8C3D9E4B6A1F0C2D"

USER_FIELDS = {"open_id", "follower_count", "following_count", "video_count"}
VIDEO_FIELDS = {"id", "create_time", "share_url", "view_count", "like_count", "comment_count",
                "share_count"}  # fmt: skip

OK = {"code": "ok", "message": "", "log_id": LOG_ID}


def _user(**fields: Any) -> dict[str, Any]:
    user = {"open_id": OPEN_ID, "follower_count": 1200, "following_count": 80, "video_count": 57}
    user.update(fields)
    return {"data": {"user": {k: v for k, v in user.items() if v is not None}}, "error": OK}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"data": {}, "error": {"code": code, "message": message, "log_id": LOG_ID}}


def _video(vid: str, hours_ago: float, views: int, likes: int, comments: int, shares: int):
    created = int(time.time() - hours_ago * 3600)
    return {
        "id": vid,
        "create_time": created,
        "share_url": f"https://www.tiktok.com/@acme/video/{vid}?utm_campaign=tt4d_open_api",
        "view_count": views,
        "like_count": likes,
        "comment_count": comments,
        "share_count": shares,
    }


def _pages() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two pages of the video list, newest first; the cursor of the first is the create time
    of its last video in milliseconds."""
    first = [
        _video("7431000000000000005", 3, 1820, 41, 3, 12),
        _video("7431000000000000004", 30, 25400, 1900, 88, 240),
        _video("7431000000000000003", 80, 640, 20, 0, 1),
    ]
    second = [
        _video("7431000000000000002", 200, 9100, 310, 14, 25),
        _video("7431000000000000001", 400, 300, 9, 1, 0),
    ]
    cursor = first[-1]["create_time"] * 1000
    return (
        {"data": {"videos": first, "cursor": cursor, "has_more": True}, "error": OK},
        {
            "data": {
                "videos": second,
                "cursor": second[-1]["create_time"] * 1000,
                "has_more": False,
            },
            "error": OK,
        },
    )


def _token(access: str, refresh: str, expires_in: int = 86400) -> Reply:
    return Reply(
        json={
            "access_token": access,
            "expires_in": expires_in,
            "open_id": OPEN_ID,
            "refresh_expires_in": 31536000,
            "refresh_token": refresh,
            "scope": "user.info.basic,user.info.stats,video.list",
            "token_type": "Bearer",
        }
    )


def _settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
        "refresh_token": FIRST_REFRESH,
        "base_url": api.url,
        **extra,
    }


def _serve(api: FakeApi, user: Any = None, first: Any = None, second: Any = None):
    """Token endpoint, user info and the two video pages (the second POST gets the second)."""
    pages = _pages()
    first = pages[0] if first is None else first
    second = pages[1] if second is None else second
    api.add("POST", TOKEN_PATH, _token("act.1", "rft.2"), _token("act.2", "rft.3"))
    api.add("GET", USER_INFO, _user() if user is None else user)
    api.add("POST", VIDEO_LIST, first, second)
    return first, second


def _samples(run) -> set[tuple[str, float]]:
    return {(s.metric, s.value) for s in run.samples}


def _fields(request) -> set[str]:
    return set(request.query["fields"].split(","))


def _post(video: dict[str, Any], **metrics: float) -> kpiwatch.Post:
    return kpiwatch.Post(
        video["id"],
        datetime.fromtimestamp(video["create_time"], UTC),
        "video",
        metrics,
        video["share_url"],
    )


def _all_counters(video: dict[str, Any]) -> dict[str, float]:
    return {
        "video_views": video["view_count"],
        "likes": video["like_count"],
        "comments": video["comment_count"],
        "shares": video["share_count"],
    }


# --- a normal poll ---------------------------------------------------------------------------


async def test_poll_reads_user_counters_and_videos_over_two_pages(fake_api):
    first, second = _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api))

    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 1200), ("following", 80), ("posts", 57)}
    assert all(s.window is None for s in run.samples)
    videos = [*first["data"]["videos"], *second["data"]["videos"]]
    assert run.posts == [
        _post(videos[0], video_views=1820, likes=41, comments=3, shares=12),
        _post(videos[1], video_views=25400, likes=1900, comments=88, shares=240),
        _post(videos[2], video_views=640, likes=20, comments=0, shares=1),
        _post(videos[3], video_views=9100, likes=310, comments=14, shares=25),
        _post(videos[4], video_views=300, likes=9, comments=1, shares=0),
    ]


async def test_requests_carry_the_fields_the_cursor_and_the_access_token(fake_api):
    first, _ = _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message

    (info,) = fake_api.calls(USER_INFO)
    assert _fields(info) == USER_FIELDS
    assert info.headers["Authorization"] == "Bearer act.1"
    assert info.body == b""  # TikTok allows no body on GET
    page1, page2 = fake_api.calls(VIDEO_LIST)
    assert _fields(page1) == _fields(page2) == VIDEO_FIELDS
    assert page1.headers["Content-Type"].startswith("application/json")
    assert page1.json() == {"max_count": 20}
    assert page2.json() == {"max_count": 20, "cursor": first["data"]["cursor"]}
    assert page2.headers["Authorization"] == "Bearer act.1"


async def test_the_first_poll_gets_an_access_token_and_keeps_the_rotated_refresh_token(fake_api):
    _serve(fake_api)
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert run.ok, run.outcome.message

    (refresh,) = fake_api.calls(TOKEN_PATH)
    assert refresh.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = refresh.form()
    documented = {"client_key", "client_secret", "grant_type", "refresh_token"}
    assert {k: form[k] for k in documented} == {
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": FIRST_REFRESH,
    }
    assert "Authorization" not in refresh.headers
    assert state["oauth"]["access_token"] == "act.1"
    assert state["oauth"]["refresh_token"] == "rft.2"
    assert abs(state["oauth"]["expires_at"] - (time.time() + 86400)) < 10


async def test_videos_older_than_video_days_end_the_paging(fake_api):
    first, _ = _pages()
    first["data"]["videos"][2]["create_time"] = int(time.time() - 3 * 86400)
    _serve(fake_api, first=first)
    run = await run_collect(PLATFORM, _settings(fake_api, video_days=2))
    assert run.ok, run.outcome.message
    assert [p.id for p in run.posts] == ["7431000000000000005", "7431000000000000004"]
    assert len(fake_api.calls(VIDEO_LIST)) == 1  # has_more, but the rest is older


async def test_max_videos_ends_the_paging(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api, max_videos=2))
    assert run.ok, run.outcome.message
    assert [p.id for p in run.posts] == ["7431000000000000005", "7431000000000000004"]
    assert len(fake_api.calls(VIDEO_LIST)) == 1


async def test_an_account_without_videos_has_counters_only(fake_api):
    empty = {"data": {"videos": [], "cursor": 0, "has_more": False}, "error": OK}
    _serve(fake_api, first=empty)
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert run.posts == []
    assert run.outcome.removed == {}  # no videos: nothing to judge
    assert _samples(run) == {("followers", 1200), ("following", 80), ("posts", 57)}


async def test_a_video_without_share_url_has_no_url(fake_api):
    first, _ = _pages()
    del first["data"]["videos"][0]["share_url"]
    _serve(fake_api, first=first)
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert run.posts[0].url is None
    assert run.posts[1].url == first["data"]["videos"][1]["share_url"]


# --- rate limits -----------------------------------------------------------------------------


async def test_429_rate_limit_exceeded_waits_a_window_and_refuses_a_second_poll(fake_api):
    _serve(fake_api)
    limited = _error("rate_limit_exceeded", "The API rate limit was exceeded. Please try again "
                     "later.")  # fmt: skip
    fake_api.add("POST", VIDEO_LIST, Reply(json=limited, status=429))
    limits = ApiLimits()
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), limits=limits, state=state)
    run.assert_failed("rate_limited")
    assert 59 <= run.outcome.retry_after <= 60  # TikTok's one-minute sliding window
    assert "rate_limit_exceeded" in run.outcome.message
    assert LOG_ID in run.outcome.message
    assert run.outcome.rate_limit.remaining == 0
    assert len(fake_api.calls(VIDEO_LIST)) == 1  # a 429 is not retried within the poll
    sent = len(fake_api.requests)

    again = await run_collect(PLATFORM, _settings(fake_api), limits=limits, state=state)
    again.assert_failed("rate_limited")
    assert 50 <= again.outcome.retry_after <= 60
    assert len(fake_api.requests) == sent  # refused without asking TikTok


async def test_a_retry_after_header_on_429_sets_the_wait(fake_api):
    _serve(fake_api)
    limited = _error("rate_limit_exceeded", "The API rate limit was exceeded.")
    fake_api.add("GET", USER_INFO, Reply(json=limited, status=429, headers={"Retry-After": "25"}))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 25


async def test_spam_risk_with_http_200_is_rate_limited(fake_api):
    _serve(fake_api)
    spam = _error("spam_risk_too_many_requests", "Too many requests")
    fake_api.add("GET", USER_INFO, Reply(json=spam, status=200))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 60
    assert fake_api.calls(VIDEO_LIST) == []


# --- tokens and scopes -----------------------------------------------------------------------

INVALID_TOKEN = _error(
    "access_token_invalid", "The access token is invalid or not found in the request."
)


async def test_401_refreshes_with_the_rotated_token_which_is_kept_and_used_next(fake_api):
    _serve(fake_api)
    fake_api.add("GET", USER_INFO, Reply(json=INVALID_TOKEN, status=401), Reply(json=_user()))
    fake_api.add(
        "POST",
        TOKEN_PATH,
        _token("act.1", "rft.2"),
        _token("act.2", "rft.3"),
        _token("act.3", "rft.4"),
    )
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 1200), ("following", 80), ("posts", 57)}
    sent = [r.form()["refresh_token"] for r in fake_api.calls(TOKEN_PATH)]
    assert sent == [FIRST_REFRESH, "rft.2"]  # the refresh on 401 used the rotated token
    assert [r.headers["Authorization"] for r in fake_api.calls(USER_INFO)] == [
        "Bearer act.1",
        "Bearer act.2",
    ]
    assert fake_api.calls(VIDEO_LIST)[0].headers["Authorization"] == "Bearer act.2"
    assert (state["oauth"]["access_token"], state["oauth"]["refresh_token"]) == ("act.2", "rft.3")

    fake_api.add("GET", USER_INFO, _user())
    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert len(fake_api.calls(TOKEN_PATH)) == 2  # act.2 is still valid: no refresh
    assert fake_api.calls(USER_INFO)[-1].headers["Authorization"] == "Bearer act.2"

    with time_machine.travel(datetime.now(UTC) + timedelta(days=2), tick=True):
        later = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert later.ok, later.outcome.message
    assert fake_api.calls(TOKEN_PATH)[-1].form()["refresh_token"] == "rft.3"
    assert state["oauth"]["refresh_token"] == "rft.4"


async def test_a_token_refused_again_after_the_refresh_is_auth(fake_api):
    _serve(fake_api)
    fake_api.add("GET", USER_INFO, Reply(json=INVALID_TOKEN, status=401))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "authorise the app again" in run.outcome.message
    assert "access_token_invalid" in run.outcome.message
    assert len(fake_api.calls(TOKEN_PATH)) == 2
    assert len(fake_api.calls(USER_INFO)) == 2


async def test_access_token_invalid_with_http_200_refreshes_and_retries(fake_api):
    _serve(fake_api)
    fake_api.add("GET", USER_INFO, Reply(json=INVALID_TOKEN, status=200), Reply(json=_user()))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert run.ok, run.outcome.message
    assert [r.headers["Authorization"] for r in fake_api.calls(USER_INFO)] == [
        "Bearer act.1",
        "Bearer act.2",
    ]
    assert state["oauth"]["refresh_token"] == "rft.3"


@pytest.mark.parametrize("status", [400, 200])
async def test_a_refused_refresh_token_is_auth_saying_to_authorise_again(fake_api, status):
    _serve(fake_api)
    refused = {"error": "invalid_grant", "error_description": "Refresh token is invalid or "
               "expired.", "log_id": LOG_ID}  # fmt: skip
    fake_api.add("POST", TOKEN_PATH, Reply(json=refused, status=status))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "invalid_grant" in run.outcome.message
    assert "authorise the app again" in run.outcome.message
    assert fake_api.calls(USER_INFO) == []


async def test_a_missing_stats_scope_is_auth_naming_the_scope(fake_api):
    _serve(fake_api)
    missing = _error("scope_not_authorized", "The user did not authorize the scope required "
                     "for completing this request.")  # fmt: skip
    fake_api.add("GET", USER_INFO, Reply(json=missing, status=401))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "user.info.stats" in run.outcome.message
    assert "scope_not_authorized" in run.outcome.message


async def test_a_missing_video_list_scope_is_auth_naming_the_scope(fake_api):
    _serve(fake_api)
    missing = _error("scope_permission_missed", "Access token is invalid, some fields need "
                     "additional scopes.")  # fmt: skip
    fake_api.add("POST", VIDEO_LIST, Reply(json=missing, status=400))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("auth")
    assert "video.list" in run.outcome.message
    assert "user.info" not in run.outcome.message


# --- server errors and bad bodies ------------------------------------------------------------


async def test_5xx_then_recovery_within_the_poll(fake_api):
    _serve(fake_api)
    internal = _error("internal_error", "Something went wrong. Please try again later.")
    fake_api.add("GET", USER_INFO, Reply(json=internal, status=500), Reply(json=_user()))
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 1200), ("following", 80), ("posts", 57)}
    assert len(fake_api.calls(USER_INFO)) == 2
    assert len(run.posts) == 5


async def test_5xx_every_time_is_unavailable(fake_api):
    _serve(fake_api)
    fake_api.add("POST", VIDEO_LIST, Reply(body="<html>502 Bad Gateway</html>", status=502))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("unavailable")
    assert len(fake_api.calls(VIDEO_LIST)) == 3  # the first try and two retries


async def test_a_malformed_body_is_bad_response_naming_platform_and_path(fake_api):
    _serve(fake_api)
    fake_api.add("POST", VIDEO_LIST, Reply(body='{"data": {"videos": [', status=200))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert run.outcome.message.startswith("tiktok: ")
    assert VIDEO_LIST in run.outcome.message


async def test_an_answer_without_the_user_object_is_bad_response(fake_api):
    _serve(fake_api, user={"data": {}, "error": OK})
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert run.outcome.message.startswith("tiktok: ")
    assert USER_INFO in run.outcome.message


async def test_videos_that_are_not_a_list_are_bad_response(fake_api):
    _serve(fake_api, first={"data": {"videos": {"id": "1"}, "has_more": False}, "error": OK})
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert VIDEO_LIST in run.outcome.message


async def test_invalid_params_is_bad_response_with_tiktoks_message(fake_api):
    _serve(fake_api)
    invalid = _error("invalid_params", "max_count should be between 1 and 20")
    fake_api.add("POST", VIDEO_LIST, Reply(json=invalid, status=400))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert "max_count should be between 1 and 20" in run.outcome.message
    assert len(fake_api.calls(VIDEO_LIST)) == 1


async def test_an_unknown_error_code_with_http_200_is_bad_response(fake_api):
    _serve(fake_api)
    fake_api.add("GET", USER_INFO, _error("user_has_no_permission", "Not allowed"))
    run = await run_collect(PLATFORM, _settings(fake_api))
    run.assert_failed("bad_response")
    assert "user_has_no_permission: Not allowed" in run.outcome.message


# --- removed metrics -------------------------------------------------------------------------


async def test_a_user_counter_no_longer_sent_is_removed_and_not_asked_again(fake_api):
    _serve(fake_api, user=_user(following_count=None))
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert _samples(run) == {("followers", 1200), ("posts", 57)}
    assert set(run.outcome.removed) == {"following"}
    assert "following_count" in run.outcome.removed["following"]
    assert len(run.posts) == 5

    fake_api.add("POST", VIDEO_LIST, _pages()[0], _pages()[1])
    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert _samples(again) == {("followers", 1200), ("posts", 57)}
    assert set(again.outcome.removed) == {"following"}  # still disabled
    assert _fields(fake_api.calls(USER_INFO)[-1]) == USER_FIELDS - {"following_count"}

    fake_api.add("GET", USER_INFO, _user(following_count=81))
    fake_api.add("POST", VIDEO_LIST, _pages()[0], _pages()[1])
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        later = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert later.ok, later.outcome.message
    assert _fields(fake_api.calls(USER_INFO)[-1]) == USER_FIELDS  # asked again after a week
    assert ("following", 81) in _samples(later)
    assert later.outcome.removed == {}


async def test_a_video_counter_no_longer_sent_is_removed_from_posts_and_fields(fake_api):
    first, second = _pages()
    for page in (first, second):
        for video in page["data"]["videos"]:
            del video["share_count"]
    _serve(fake_api, first=first, second=second)
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert set(run.outcome.removed) == {"shares"}
    assert _samples(run) == {("followers", 1200), ("following", 80), ("posts", 57)}
    video = first["data"]["videos"][0]
    assert run.posts[0] == _post(video, video_views=1820, likes=41, comments=3)
    assert all("shares" not in p.metrics for p in run.posts)

    fake_api.add("POST", VIDEO_LIST, *_pages())
    again = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert again.ok, again.outcome.message
    assert set(again.outcome.removed) == {"shares"}
    assert _fields(fake_api.calls(VIDEO_LIST)[-1]) == VIDEO_FIELDS - {"share_count"}
    assert all("shares" not in p.metrics for p in again.posts)
    assert again.posts[1].metrics == {"video_views": 25400, "likes": 1900, "comments": 88}


async def test_a_removed_video_counter_is_asked_again_after_a_week_and_restored(fake_api):
    first, second = _pages()
    for page in (first, second):
        for video in page["data"]["videos"]:
            del video["share_count"]
    _serve(fake_api, first=first, second=second)
    state: dict[str, Any] = {}
    run = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert set(run.outcome.removed) == {"shares"}

    served, rest = _pages()
    fake_api.add("POST", VIDEO_LIST, served, rest)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        later = await run_collect(PLATFORM, _settings(fake_api), state=state)
    assert later.ok, later.outcome.message
    assert _fields(fake_api.calls(VIDEO_LIST)[-1]) == VIDEO_FIELDS
    assert later.outcome.removed == {}
    assert later.posts[0].metrics == _all_counters(served["data"]["videos"][0])


async def test_one_video_without_a_counter_keeps_the_metric(fake_api):
    first, second = _pages()
    del first["data"]["videos"][0]["view_count"]
    _serve(fake_api, first=first, second=second)
    run = await run_collect(PLATFORM, _settings(fake_api))
    assert run.ok, run.outcome.message
    assert run.outcome.removed == {}
    assert run.posts[0].metrics == {"likes": 41, "comments": 3, "shares": 12}  # missing, not 0
    assert run.posts[1].metrics == _all_counters(first["data"]["videos"][1])


# --- competitors -----------------------------------------------------------------------------


async def test_a_competitor_account_is_refused_without_a_request(fake_api):
    _serve(fake_api)
    run = await run_collect(PLATFORM, _settings(fake_api), competitor=True)
    run.assert_failed("auth")
    assert "competitor" in run.outcome.message
    assert fake_api.requests == []


# --- settings and registration ---------------------------------------------------------------


def test_settings_default_to_the_real_api():
    settings = TikTokSettings.model_validate(
        {"client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET, "refresh_token": "rft.x"}
    )
    assert settings.base_url == "https://open.tiktokapis.com"
    assert settings.oauth_token_url == "https://open.tiktokapis.com/v2/oauth/token/"
    assert (settings.video_days, settings.max_videos) == (28, 100)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"client_key": "not a key"}, "Client key"),
        ({"client_secret": " "}, "client_secret is empty"),
        ({"refresh_token": ""}, "TIKTOK_REFRESH_TOKEN"),
        ({"video_days": 0}, "video_days"),
        ({"max_videos": 5000}, "max_videos"),
        ({"base_url": "open.tiktokapis.com"}, "http(s) URL"),
        ({"token": "x"}, "token"),
    ],
)
def test_bad_settings_say_what_to_write(change, says):
    raw = {"client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET, "refresh_token": "r"}
    with pytest.raises(ValidationError) as caught:
        TikTokSettings.model_validate({**raw, **change})
    assert says in str(caught.value)


def test_the_plugin_registers_the_tiktok_platform():
    registry = PluginRegistry()
    registry.register_module(kpiwatch_platforms.tiktok, "tiktok")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["tiktok"] is PLATFORM
    assert PLATFORM.api is not None and PLATFORM.api.rate == (600, 60.0)


def test_sample_configuration_is_valid():
    path = Path(kpiwatch_platforms.tiktok.__file__).with_name("sample.yaml")
    environ = {
        "TIKTOK_CLIENT_KEY": CLIENT_KEY,
        "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
        "TIKTOK_REFRESH_TOKEN": FIRST_REFRESH,
    }
    loaded = load_config(path, {"tiktok": PLATFORM}, environ=environ)
    (account,) = loaded.config.accounts
    assert account.platform == "tiktok" and not account.competitor
    settings = loaded.account_settings(account.id)
    assert settings.refresh_token.get_secret_value() == FIRST_REFRESH
    assert settings.client_key == CLIENT_KEY
