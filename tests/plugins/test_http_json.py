"""The ``http_json`` platform against a fake JSON API on 127.0.0.1 (kpiwatch.testing)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydantic
import pytest

import kpiwatch_platforms.http_json as plugin
from kpiwatch.config_loader import load_config_text
from kpiwatch.config_problems import ConfigError
from kpiwatch.platform import Post, Sample
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.http_json import PLATFORM
from kpiwatch_platforms.http_json.fetch import link_next
from kpiwatch_platforms.http_json.settings import HttpJsonSettings

STATS = {
    "data": {"followers": 1200, "following": "85", "views_28d": 40500},
    "money": {"amount_cents": 123456, "currency": "EUR"},
    "posts": [
        {
            "id": 17,
            "created": "2026-03-01T09:30:00Z",
            "kind": "photo",
            "likes": 40,
            "replies": 3,
            "link": "https://example.com/p/17",
        },
        {"id": "18", "created": 1772442000, "kind": "clip", "likes": "12"},
        {"id": None, "created": "2026-03-02T10:00:00Z", "kind": "photo", "likes": 1},
    ],
}


def settings(url: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "url": f"{url}/api/stats",
        "metrics": [
            {"metric": "followers", "path": "data.followers"},
            {"metric": "following", "path": "data.following"},
            {"metric": "impressions", "path": "data.views_28d", "window": "28d"},
            {
                "metric": "revenue",
                "path": "money.amount_cents",
                "window": "24h",
                "scale": 0.01,
                "dim_paths": {"currency": "money.currency"},
            },
        ],
    }
    return base | extra


def keyed(samples: list[Sample]) -> set[tuple[str, float, str | None, tuple]]:
    return {(s.metric, s.value, s.window, tuple(sorted(s.dims.items()))) for s in samples}


# a normal poll ------------------------------------------------------------------------------


async def test_every_mapped_metric_and_post_is_read(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", STATS)
    posts = {
        "items": "posts",
        "id": "id",
        "published_at": "created",
        "content_type": "kind",
        "content_types": {"photo": "image", "clip": "video"},
        "url": "link",
        "metrics": {"likes": "likes", "comments": "replies"},
    }
    run = await run_collect(PLATFORM, settings(fake_api.url, posts=posts))

    assert run.ok, run.outcome.message
    assert keyed(run.samples) == {
        ("followers", 1200.0, None, ()),
        ("following", 85.0, None, ()),
        ("impressions", 40500.0, "28d", ()),
        ("revenue", 1234.56, "1d", (("currency", "EUR"),)),
    }
    assert all(s.timestamp is None for s in run.samples)
    assert run.posts == [
        Post(
            "17",
            datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            "image",
            {"likes": 40.0, "comments": 3.0},
            "https://example.com/p/17",
        ),
        Post("18", datetime.fromtimestamp(1772442000, UTC), "video", {"likes": 12.0}, None),
    ]
    assert [(r.method, r.path) for r in fake_api.requests] == [("GET", "/api/stats")]


async def test_each_item_of_a_list_is_a_sample_with_its_dimensions(fake_api: FakeApi):
    fake_api.add(
        "GET",
        "/api/traffic",
        {
            "rows": [
                {"source": "google", "sessions": 120, "orders": 4, "revenue": 310.5},
                {"source": "newsletter", "sessions": 30, "orders": 2, "revenue": 99},
                {"source": "", "sessions": 7},  # no source: skipped, not a sample without one
            ],
            "days": [
                {"day": "2026-03-01T00:00:00Z", "followers": 990},
                {"day": "2026-03-02T00:00:00Z", "followers": 1010},
            ],
        },
    )
    run = await run_collect(
        PLATFORM,
        {
            "url": f"{fake_api.url}/api/traffic",
            "metrics": [
                {
                    "metric": "sessions",
                    "window": "1d",
                    "each": "rows",
                    "path": "sessions",
                    "dims": {"medium": "organic"},
                    "dim_paths": {"source": "source"},
                },
                {
                    "metric": "revenue",
                    "window": "1d",
                    "each": "rows[?revenue]",
                    "path": "revenue",
                    "dims": {"currency": "USD"},
                    "dim_paths": {"source": "source"},
                },
                {"metric": "orders", "window": "1d", "path": "sum(rows[].orders)"},
                {"metric": "followers", "each": "days", "path": "followers", "timestamp": "day"},
            ],
        },
    )

    assert keyed(run.samples) == {
        ("sessions", 120.0, "1d", (("medium", "organic"), ("source", "google"))),
        ("sessions", 30.0, "1d", (("medium", "organic"), ("source", "newsletter"))),
        ("revenue", 310.5, "1d", (("currency", "USD"), ("source", "google"))),
        ("revenue", 99.0, "1d", (("currency", "USD"), ("source", "newsletter"))),
        ("orders", 6.0, "1d", ()),
        ("followers", 990.0, None, ()),
        ("followers", 1010.0, None, ()),
    }
    history = sorted((s.timestamp, s.value) for s in run.samples if s.metric == "followers")
    assert history == [
        (datetime(2026, 3, 1, tzinfo=UTC), 990.0),
        (datetime(2026, 3, 2, tzinfo=UTC), 1010.0),
    ]


async def test_several_requests_and_a_post_body(fake_api: FakeApi):
    fake_api.add("GET", "/v1/profile", {"followers_count": 52})
    fake_api.add("POST", "/v1/report", {"totals": {"clicks": 9}})
    run = await run_collect(
        PLATFORM,
        {
            "requests": [
                {"name": "profile", "url": f"{fake_api.url}/v1/profile"},
                {
                    "name": "report",
                    "url": f"{fake_api.url}/v1/report",
                    "method": "POST",
                    "body": {"metrics": ["clicks"], "range": "yesterday"},
                },
            ],
            "metrics": [
                {"metric": "followers", "path": "followers_count"},
                {"metric": "clicks", "request": "report", "window": "1d", "path": "totals.clicks"},
            ],
        },
    )
    assert keyed(run.samples) == {("followers", 52.0, None, ()), ("clicks", 9.0, "1d", ())}
    assert fake_api.calls("/v1/report")[0].json() == {"metrics": ["clicks"], "range": "yesterday"}


# pagination ---------------------------------------------------------------------------------


async def test_next_url_in_the_body_is_followed(fake_api: FakeApi):
    fake_api.add("GET", "/api/posts", {"items": [{"n": 1}, {"n": 2}], "next": "/api/posts?page=2"})
    fake_api.add(
        "GET", "/api/posts", {"items": [{"n": 3}, {"n": 4}], "next": None}, query={"page": "2"}
    )
    run = await run_collect(
        PLATFORM,
        {
            "url": f"{fake_api.url}/api/posts",
            "params": {"per_page": 2},
            "pagination": {"next_url": "next"},
            "metrics": [
                {"metric": "likes", "window": "1d", "each": "items", "path": "n"},
                {"metric": "comments", "window": "1d", "path": "length(items)"},  # first page
            ],
        },
    )
    assert sorted(run.values("likes")) == [1.0, 2.0, 3.0, 4.0]
    assert run.values("comments") == [2.0]
    assert [r.query for r in fake_api.calls("/api/posts")] == [{"per_page": "2"}, {"page": "2"}]


async def test_link_header_pages_are_followed_up_to_max_pages(fake_api: FakeApi):
    def page(n: int, last: bool = False) -> Reply:
        link = "" if last else f'<{fake_api.url}/feed?max_id={n}>; rel="next", <x>; rel="prev"'
        return Reply(json=[{"favourites": n}], headers={"Link": link} if link else {})

    fake_api.add("GET", "/feed", page(100))
    fake_api.add("GET", "/feed", page(200), query={"max_id": "100"})
    fake_api.add("GET", "/feed", page(300), query={"max_id": "200"})
    mapping = {"metric": "likes", "window": "1d", "each": "[]", "path": "favourites"}

    run = await run_collect(
        PLATFORM,
        {
            "url": f"{fake_api.url}/feed",
            "pagination": {"link_header": True, "max_pages": 2},
            "metrics": [mapping],
        },
    )
    assert sorted(run.values("likes")) == [100.0, 200.0]  # the third page is not read
    assert len(fake_api.requests) == 2


async def test_cursor_pages_until_the_cursor_is_gone(fake_api: FakeApi):
    fake_api.add("GET", "/2/tweets", {"data": [{"v": 1}], "meta": {"next_token": "b"}})
    fake_api.add(
        "GET", "/2/tweets", {"data": [{"v": 2}], "meta": {"next_token": "c"}}, query={"tok": "b"}
    )
    fake_api.add("GET", "/2/tweets", {"data": [{"v": 3}], "meta": {}}, query={"tok": "c"})
    run = await run_collect(
        PLATFORM,
        {
            "url": f"{fake_api.url}/2/tweets",
            "auth": {"api_key": {"query": "key", "value": "k-123"}},
            "pagination": {"next_cursor": "meta.next_token", "cursor_param": "tok"},
            "metrics": [{"metric": "shares", "window": "7d", "each": "data", "path": "v"}],
        },
    )
    assert sorted(run.values("shares")) == [1.0, 2.0, 3.0]
    assert [r.query for r in fake_api.requests] == [
        {"key": "k-123"},
        {"key": "k-123", "tok": "b"},
        {"key": "k-123", "tok": "c"},
    ]


async def test_a_next_page_on_another_host_is_refused(fake_api: FakeApi):
    fake_api.add("GET", "/feed", {"items": [], "next": "https://elsewhere.example/feed?p=2"})
    run = await run_collect(
        PLATFORM,
        {
            "url": f"{fake_api.url}/feed",
            "auth": {"bearer": "tok"},
            "pagination": {"next_url": "next"},
            "metrics": [{"metric": "likes", "window": "1d", "each": "items", "path": "n"}],
        },
    )
    run.assert_failed("bad_response")
    assert "https://elsewhere.example" in (run.outcome.message or "")
    assert len(fake_api.requests) == 1


def test_link_header_parsing():
    header = '<https://a/x?max_id=9>; rel="next", <https://a/x?min_id=12>; rel="prev"'
    assert link_next(header) == "https://a/x?max_id=9"
    assert link_next('<https://a/y>; rel="prev"') is None
    assert link_next('<https://a/z>; title="a;b"; rel=next') == "https://a/z"


# authentication and headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "value", "query"),
    [
        ({"bearer": "t0k3n"}, "Authorization", "Bearer t0k3n", {}),
        (
            {"basic": {"username": "ann", "password": "s3cret"}},
            "Authorization",
            "Basic " + base64.b64encode(b"ann:s3cret").decode(),
            {},
        ),
        ({"api_key": {"header": "X-API-Key", "value": "k9"}}, "X-API-Key", "k9", {}),
        ({"api_key": {"query": "api_key", "value": "k9"}}, None, None, {"api_key": "k9"}),
    ],
)
async def test_auth_and_configured_headers_are_sent(fake_api, auth, header, value, query):
    fake_api.add("GET", "/api/stats", STATS)
    run = await run_collect(
        PLATFORM,
        settings(
            fake_api.url,
            auth=auth,
            headers={"X-Tenant": "acme"},
            params={"fields": "all", "raw": True},
        ),
    )
    assert run.ok, run.outcome.message
    sent = fake_api.requests[0]
    assert sent.headers["X-Tenant"] == "acme"
    assert sent.query == {"fields": "all", "raw": "true", **query}
    if header is not None:
        assert sent.headers[header] == value
    else:
        assert "Authorization" not in sent.headers


def test_secrets_are_not_in_the_settings_text():
    model = HttpJsonSettings.model_validate(
        settings("https://api.example.com", auth={"bearer": "t0k3n"}, headers={"X-Key": "k9"})
    )
    assert "t0k3n" not in repr(model) and "k9" not in repr(model)


# errors -------------------------------------------------------------------------------------


async def test_429_with_a_reset_header_then_a_refused_poll(fake_api: FakeApi):
    fake_api.add(
        "GET",
        "/api/stats",
        Reply(
            json={"message": "slow down"},
            status=429,
            headers={"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "30"},
        ),
    )
    limits = ApiLimits()
    options = settings(fake_api.url, auth={"bearer": "t"}, rate_limit_headers="ietf")

    first = await run_collect(PLATFORM, options, limits=limits)
    first.assert_failed("rate_limited")
    assert first.outcome.retry_after is not None and 28 < first.outcome.retry_after <= 30
    assert first.outcome.rate_limit is not None and first.outcome.rate_limit.remaining == 0

    second = await run_collect(PLATFORM, options, limits=limits)
    second.assert_failed("rate_limited")
    assert second.outcome.retry_after is not None and 27 < second.outcome.retry_after <= 30
    assert len(fake_api.requests) == 1  # refused without asking


RESET = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15)


@pytest.mark.parametrize(
    "headers",
    [
        {  # X API v2
            "x-rate-limit-limit": "900",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(RESET.timestamp())),
        },
        {  # Mastodon
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": RESET.isoformat().replace("+00:00", "Z"),
        },
        {  # GitHub and many others: the same names, the reset in unix seconds
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(RESET.timestamp())),
        },
    ],
    ids=["x", "mastodon", "github"],
)
async def test_auto_reads_the_reset_of_each_header_family(fake_api: FakeApi, headers):
    fake_api.add(
        "GET", "/api/stats", Reply(json={"message": "slow down"}, status=429, headers=headers)
    )
    fake_api.add("GET", "/other", {"data": {"followers": 5}})
    limits = ApiLimits()
    run = await run_collect(PLATFORM, settings(fake_api.url), limits=limits)
    run.assert_failed("rate_limited")
    left = (RESET - datetime.now(UTC)).total_seconds()
    assert run.outcome.retry_after is not None and abs(run.outcome.retry_after - left) < 5

    again = await run_collect(PLATFORM, settings(fake_api.url), limits=limits)
    again.assert_failed("rate_limited")
    assert len(fake_api.calls("/api/stats")) == 1

    # another account on the same host, with its own credential: its own rate-limit window
    other = {
        "url": f"{fake_api.url}/other",
        "auth": {"bearer": "other-token"},
        "metrics": [{"metric": "followers", "path": "data.followers"}],
    }
    (await run_collect(PLATFORM, other, limits=limits)).assert_metric("followers", 5)


async def test_none_ignores_rate_limit_headers(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", Reply(json=STATS, headers={"X-RateLimit-Remaining": "0"}))
    limits = ApiLimits()
    options = settings(fake_api.url, rate_limit_headers="none")
    for _ in range(2):
        run = await run_collect(PLATFORM, options, limits=limits)
        run.assert_metric("followers", 1200)
        assert run.outcome.rate_limit is None
    assert len(fake_api.requests) == 2


async def test_401_is_an_auth_failure(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", Reply(json={"error": "invalid token"}, status=401))
    run = await run_collect(PLATFORM, settings(fake_api.url, auth={"bearer": "expired"}))
    run.assert_failed("auth")
    assert "invalid token" in (run.outcome.message or "")
    assert "expired" not in (run.outcome.message or "")


async def test_5xx_then_recovery_within_the_poll(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", Reply(status=502, body="bad gateway"), STATS)
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_metric("followers", 1200)
    assert len(fake_api.requests) == 2


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", Reply(status=503, json={"message": "maintenance"}))
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("unavailable")
    assert len(fake_api.requests) == 3  # the first try and PLATFORM.api.retries == 2


async def test_a_body_that_is_not_json_is_a_bad_response(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", Reply(body="<html>maintenance</html>"))
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("bad_response")
    assert "http_json" in (run.outcome.message or "")
    assert "/api/stats" in (run.outcome.message or "")


async def test_a_value_that_is_not_a_number_is_a_bad_response(fake_api: FakeApi):
    fake_api.add("GET", "/api/stats", {**STATS, "data": {**STATS["data"], "followers": "n/a"}})
    run = await run_collect(PLATFORM, settings(fake_api.url))
    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert "metric followers" in message and "'data.followers'" in message
    assert "'n/a'" in message and "GET /api/stats" in message


async def test_a_path_gone_from_the_answer_removes_that_metric_only(fake_api: FakeApi):
    without_views = {**STATS, "data": {"followers": 1200, "following": "85"}}
    fake_api.add("GET", "/api/stats", without_views)
    state: dict = {}
    options = settings(fake_api.url)

    first = await run_collect(PLATFORM, options, state=state)
    assert keyed(first.samples) == {
        ("followers", 1200.0, None, ()),
        ("following", 85.0, None, ()),
        ("revenue", 1234.56, "1d", (("currency", "EUR"),)),
    }
    assert set(first.outcome.removed) == {"impressions"}
    assert "'data.views_28d'" in first.outcome.removed["impressions"]

    # the path is back, but the metric stays disabled until its retry time
    fake_api.add("GET", "/api/stats", STATS)
    second = await run_collect(PLATFORM, options, state=state)
    second.assert_no_metric("impressions")
    assert set(second.outcome.removed) == {"impressions"}

    # a week later it is asked again, found, and enabled again
    state["removed_metrics"]["impressions"]["since"] -= 8 * 86400
    third = await run_collect(PLATFORM, options, state=state)
    third.assert_metric("impressions", 40500, window="28d")
    assert third.outcome.removed == {}


async def test_a_request_only_removed_metrics_read_is_not_sent(fake_api: FakeApi):
    fake_api.add("GET", "/v1/profile", {"followers_count": 52})
    fake_api.add("GET", "/v1/insights", {"data": []})
    options = {
        "requests": [
            {"name": "profile", "url": f"{fake_api.url}/v1/profile"},
            {"name": "insights", "url": f"{fake_api.url}/v1/insights"},
        ],
        "metrics": [
            {"metric": "followers", "path": "followers_count"},
            {"metric": "reach", "request": "insights", "window": "1d", "path": "data[0].value"},
        ],
    }
    state: dict = {}
    first = await run_collect(PLATFORM, options, state=state)
    assert set(first.outcome.removed) == {"reach"}
    second = await run_collect(PLATFORM, options, state=state)
    second.assert_metric("followers", 52)
    assert len(fake_api.calls("/v1/insights")) == 1
    assert len(fake_api.calls("/v1/profile")) == 2


# settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"metric": "folowers"}, ("metrics", 0, "metric"), "did you mean 'followers'"),
        ({"path": "data..followers"}, ("metrics", 0, "path"), "not a JMESPath expression"),
        ({"path": "lenght(data)"}, ("metrics", 0, "path"), "did you mean 'length'"),
        ({"metric": "likes"}, ("metrics", 0, "window"), "add window: 1d"),
        ({"window": "1d"}, ("metrics", 0, "window"), "takes no window"),
        ({"dims": {"currency": "EUR"}}, ("metrics", 0, "dims"), "dimensions allowed: none"),
        ({"each": "rows[?"}, ("metrics", 0, "each"), "not a JMESPath expression"),
    ],
)
def test_settings_errors_name_the_field_and_the_fix(change, loc, words):
    raw = {"url": "https://api.example.com/x", "metrics": [{"metric": "followers", "path": "a"}]}
    raw["metrics"][0].update(change)  # type: ignore[index]
    with pytest.raises(pydantic.ValidationError) as caught:
        HttpJsonSettings.model_validate(raw)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [loc]
    assert words in errors[0]["msg"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"metrics": [{"metric": "followers", "path": "a"}]}, "write url:"),
        ({"url": "https://a.example/x"}, "nothing to read"),
        (
            {
                "url": "https://a.example/x",
                "metrics": [{"metric": "followers", "path": "a", "request": "b"}],
            },
            "no request is called 'b'",
        ),
        (
            {
                "requests": [
                    {"url": "https://a.example/x"},
                    {"name": "b", "url": "https://a.example/y"},
                ],
                "metrics": [{"metric": "followers", "path": "a"}],
            },
            "request 'b' is read by no metric",
        ),
        (
            {
                "url": "https://a.example/x",
                "auth": {},
                "metrics": [{"metric": "followers", "path": "a"}],
            },
            "exactly one of bearer, basic or api_key",
        ),
        (
            {
                "url": "https://a.example/x",
                "pagination": {"next_url": "a", "link_header": True},
                "metrics": [{"metric": "followers", "path": "a"}],
            },
            "exactly one of next_url",
        ),
        (
            {
                "url": "https://a.example/x",
                "posts": {
                    "items": "p",
                    "id": "id",
                    "published_at": "t",
                    "metrics": {"followers": "f"},
                },
            },
            "'followers' is not a per-post metric",
        ),
    ],
)
def test_inconsistent_settings_say_what_to_write(raw, words):
    with pytest.raises(pydantic.ValidationError) as caught:
        HttpJsonSettings.model_validate(raw)
    assert words in str(caught.value)


def test_check_config_reports_a_bad_expression_at_its_line():
    text = """
accounts:
  - id: shop-api
    platform: http_json
    settings:
      url: https://api.example.com/v1/stats
      auth: {bearer: "${SHOP_TOKEN}"}
      metrics:
        - {metric: followers, path: data.followers}
        - {metric: revenue, window: 1d, path: "sum(orders[].total", dims: {currency: EUR}}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "kpiwatch.yaml", {"http_json": PLATFORM}, {"SHOP_TOKEN": "s3"})
    [problem] = caught.value.problems
    assert problem.line == 10
    assert problem.path == "accounts[0].settings.metrics[1].path"
    assert "not a JMESPath expression" in problem.message
    assert problem.fix is not None and "jmespath.org" in problem.fix


def test_the_sample_configuration_is_valid():
    folder = Path(__file__).resolve().parents[2] / "plugins" / "kpiwatch_platforms" / "http_json"
    text = (folder / "sample.yaml").read_text()
    loaded = load_config_text(text, "sample.yaml", {"http_json": PLATFORM}, {})
    assert {a.platform for a in loaded.config.accounts} == {"http_json"}


def test_the_plugin_registers_the_platform():
    registry = PluginRegistry()
    registry.register_module(plugin, "http_json")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["http_json"] is PLATFORM
