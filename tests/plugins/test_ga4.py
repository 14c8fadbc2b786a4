"""The ``ga4`` platform against a fake Google Analytics Data API on loopback.

Bodies follow the documented shapes: runReport answers with dimensionHeaders, metricHeaders,
rows of string values, rowCount, metadata (currencyCode, timeZone) and propertyQuota
(tokensPerDay / tokensPerHour with consumed and remaining); Google error bodies
``{"error": {"code", "message", "status", "details"}}``; Google's OAuth token endpoint. The
clock stands still at NOW, a Tuesday at noon in Berlin (CEST since 2026-03-29).
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import time_machine

import kpiwatch
import kpiwatch_platforms.ga4
from kpiwatch.config_loader import load_config
from kpiwatch.testing import CollectRun, FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch.toolkit.ratelimit import RateLimitState
from kpiwatch_platforms.ga4 import PLATFORM, kpiwatch_register_platforms
from kpiwatch_platforms.ga4.settings import GA4Settings

NOW = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)  # 12:00 in Berlin, 03:00 in Los Angeles
#: Seconds from NOW to the next midnight in Los Angeles (2026-04-01 07:00 UTC).
TO_PT_MIDNIGHT = 21 * 3600.0
PROPERTY = "123456789"
REPORT = f"/v1beta/properties/{PROPERTY}:runReport"
TOKEN = "/token"
REFRESH = "1//0g-original-refresh"
#: The end of 2026-03-28 in Berlin (CET) and of 2026-03-29 (CEST from that day on).
END_MAR_28 = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
END_MAR_29 = datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
METRICS = ["sessions", "engagedSessions", "keyEvents", "totalRevenue"]
DIMENSIONS = ["date", "sessionSource", "sessionMedium", "sessionDefaultChannelGroup"]
SOCIAL_FILTER = {
    "filter": {
        "fieldName": "sessionDefaultChannelGroup",
        "inListFilter": {"values": ["Organic Social", "Paid Social"]},
    }
}


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "property_id": PROPERTY,
        "oauth": {
            "client_id": "123-abc.apps.googleusercontent.com",
            "client_secret": "GOCSPX-secret",
            "refresh_token": REFRESH,
            "token_url": f"{api.url}{TOKEN}",
        },
        "api_url": f"{api.url}/v1beta",
    }
    return values | extra


def property_quota(day: int = 199_990, hour: int = 39_990, consumed: int = 10) -> dict:
    return {
        "tokensPerDay": {"consumed": consumed, "remaining": day},
        "tokensPerHour": {"consumed": consumed, "remaining": hour},
        "concurrentRequests": {"consumed": 0, "remaining": 10},
        "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
        "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
        "tokensPerProjectPerHour": {"consumed": consumed, "remaining": 13_990},
    }


METRIC_TYPES = {"totalRevenue": "TYPE_CURRENCY", "purchaseRevenue": "TYPE_CURRENCY"}


def report(
    rows: list[tuple[str, ...]],
    metrics: list[str] = METRICS,
    *,
    row_count: int | None = None,
    time_zone: str | None = "Europe/Berlin",
    currency: str | None = "EUR",
    quota: dict | None = None,
) -> dict[str, Any]:
    """A runReport answer; each row is (date, source, medium, channel group, *metric values)."""
    metadata = {"timeZone": time_zone, "currencyCode": currency}
    body: dict[str, Any] = {
        "dimensionHeaders": [{"name": name} for name in DIMENSIONS],
        "metricHeaders": [
            {"name": name, "type": METRIC_TYPES.get(name, "TYPE_INTEGER")} for name in metrics
        ],
        "metadata": {k: v for k, v in metadata.items() if v is not None},
        "propertyQuota": quota or property_quota(),
        "kind": "analyticsData#runReport",
    }
    if rows:
        body["rows"] = [
            {
                "dimensionValues": [{"value": v} for v in row[:4]],
                "metricValues": [{"value": v} for v in row[4:]],
            }
            for row in rows
        ]
        body["rowCount"] = len(rows) if row_count is None else row_count
    return body


ROWS = [
    ("20260328", "t.co", "referral", "Organic Social", "120", "80", "6", "240.5"),
    ("20260328", "l.facebook.com", "referral", "Organic Social", "50", "30", "2", "99.9"),
    ("20260328", "m.facebook.com", "referral", "Organic Social", "25", "10", "1", "0"),
    ("20260328", "facebook", "cpc", "Paid Social", "40", "22", "3", "150"),
    ("20260328", "linkedin.com", "referral", "Organic Social", "15", "12", "0", "0"),
    ("20260329", "t.co", "referral", "Organic Social", "100", "70", "4", "180.25"),
    ("20260329", "l.instagram.com", "referral", "Organic Social", "30", "18", "1", "45"),
]


def google_error(code: int, status: str, message: str, *reasons: str, headers=None) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reasons:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
            for reason in reasons
        ]
    return Reply(json={"error": error}, status=code, headers=headers or {})


def token_reply(access: str, refresh: str | None = None) -> dict:
    body = {
        "access_token": access,
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/analytics.readonly",
        "token_type": "Bearer",
    }
    return body | ({"refresh_token": refresh} if refresh else {})


def serve(api: FakeApi, *replies: Any) -> None:
    api.add("POST", TOKEN, token_reply("ya29.first"))
    api.add("POST", REPORT, *(replies or (report(ROWS),)))


Row = tuple[str, float, tuple[tuple[str, str], ...], datetime | None]


def sample_rows(run: CollectRun) -> list[Row]:
    """Every sample as (metric, value, sorted dims, timestamp), sorted; all are 1d."""
    assert all(s.window == "1d" for s in run.samples)
    rows = [(s.metric, s.value, tuple(sorted(s.dims.items())), s.timestamp) for s in run.samples]
    return sorted(rows, key=lambda r: (r[0], r[3] or NOW, r[2]))


def expected(
    day_end: datetime, source: str, medium: str, values: dict[str, float], currency: str = "EUR"
) -> list[Row]:
    rows: list[Row] = []
    for metric, value in values.items():
        dims = {"source": source, "medium": medium}
        if metric == "revenue":
            dims["currency"] = currency
        rows.append((metric, value, tuple(sorted(dims.items())), day_end))
    return rows


def web(sessions: float, engaged: float, bounces: float, conversions: float, revenue: float):
    return {
        "sessions": sessions,
        "engaged_sessions": engaged,
        "bounces": bounces,
        "conversions": conversions,
        "revenue": revenue,
    }


def ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r[0], r[3] or NOW, r[2]))


def asked_metrics(request: Any) -> list[str]:
    return [m["name"] for m in request.json()["metrics"]]


# a normal poll ------------------------------------------------------------------------------


async def test_a_poll_reports_each_day_source_and_medium(fake_api: FakeApi) -> None:
    serve(fake_api)
    state: dict[str, Any] = {}

    run = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    assert run.posts == []
    # l.facebook.com and m.facebook.com are both facebook: their rows are added up
    assert sample_rows(run) == ordered(
        [
            *expected(END_MAR_28, "x", "social", web(120, 80, 40, 6, 240.5)),
            *expected(END_MAR_28, "facebook", "social", web(75, 40, 35, 3, 99.9)),
            *expected(END_MAR_28, "facebook", "paid_social", web(40, 22, 18, 3, 150)),
            *expected(END_MAR_28, "linkedin", "social", web(15, 12, 3, 0, 0)),
            *expected(END_MAR_29, "x", "social", web(100, 70, 30, 4, 180.25)),
            *expected(END_MAR_29, "instagram", "social", web(30, 18, 12, 1, 45)),
        ]
    )
    (call,) = fake_api.calls(REPORT)
    assert call.json() == {
        "dateRanges": [{"startDate": "28daysAgo", "endDate": "yesterday"}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
        "orderBys": [{"dimension": {"dimensionName": name}} for name in DIMENSIONS],
        "limit": 10_000,
        "offset": 0,
        "returnPropertyQuota": True,
        "dimensionFilter": SOCIAL_FILTER,
    }
    assert call.headers["Authorization"] == "Bearer ya29.first"
    (token,) = fake_api.calls(TOKEN)
    assert token.form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "123-abc.apps.googleusercontent.com",
        "client_secret": "GOCSPX-secret",
    }
    assert state["last_day"] == "2026-03-29"


async def test_the_property_quota_is_exported(fake_api: FakeApi) -> None:
    serve(fake_api, report(ROWS, quota=property_quota(day=150_000, hour=2_500)))

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok
    assert run.outcome.quota == (150_000, 200_000)
    assert run.outcome.rate_limit == RateLimitState(40_000, 2_500, None, NOW.timestamp())


async def test_an_analytics_360_property_has_its_own_quota_sizes(fake_api: FakeApi) -> None:
    serve(fake_api, report(ROWS, quota=property_quota(day=1_999_000, hour=399_000)))
    values = settings(fake_api, tokens_per_day=2_000_000, tokens_per_hour=400_000)

    run = await run_collect(PLATFORM, values)

    assert run.outcome.quota == (1_999_000, 2_000_000)
    assert run.outcome.rate_limit == RateLimitState(400_000, 399_000, None, NOW.timestamp())


async def test_the_next_poll_rereads_the_last_days_and_keeps_the_token(
    fake_api: FakeApi,
) -> None:
    serve(fake_api)
    state: dict[str, Any] = {}

    await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert second.ok
    _, again = fake_api.calls(REPORT)
    assert again.json()["dateRanges"] == [{"startDate": "2026-03-26", "endDate": "yesterday"}]
    assert again.headers["Authorization"] == "Bearer ya29.first"
    assert len(fake_api.calls(TOKEN)) == 1  # the access token lasts an hour


async def test_a_report_without_rows_gives_no_samples(fake_api: FakeApi) -> None:
    serve(fake_api, report([], quota=property_quota(day=199_999)))
    state: dict[str, Any] = {"last_day": "2026-03-27"}

    run = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert run.ok
    assert run.samples == []
    assert state["last_day"] == "2026-03-27"
    assert run.outcome.quota == (199_999, 200_000)


async def test_a_key_event_and_purchase_revenue_can_be_chosen(fake_api: FakeApi) -> None:
    metrics = ["sessions", "engagedSessions", "keyEvents:purchase", "purchaseRevenue"]
    serve(fake_api, report([ROWS[0]], metrics))
    values = settings(
        fake_api, conversions_metric="keyEvents:purchase", revenue_metric="purchaseRevenue"
    )

    run = await run_collect(PLATFORM, values)

    assert run.ok, run.outcome.message
    assert asked_metrics(fake_api.calls(REPORT)[0]) == metrics
    assert sample_rows(run) == ordered(
        expected(END_MAR_28, "x", "social", web(120, 80, 40, 6, 240.5))
    )


async def test_all_traffic_keeps_the_other_sources_and_mediums(fake_api: FakeApi) -> None:
    rows = [
        ("20260329", "google", "organic", "Organic Search", "900", "600", "20", "1000"),
        ("20260329", "(direct)", "(none)", "Direct", "300", "150", "5", "200"),
        ("20260329", "www.LinkedIn.com", "referral", "Organic Social", "12", "9", "1", "0"),
    ]
    serve(fake_api, report(rows))

    run = await run_collect(PLATFORM, settings(fake_api, traffic="all"))

    assert run.ok
    assert "dimensionFilter" not in fake_api.calls(REPORT)[0].json()
    assert sample_rows(run) == ordered(
        [
            *expected(END_MAR_29, "google", "organic", web(900, 600, 300, 20, 1000)),
            *expected(END_MAR_29, "(direct)", "(none)", web(300, 150, 150, 5, 200)),
            *expected(END_MAR_29, "linkedin", "social", web(12, 9, 3, 1, 0)),
        ]
    )


async def test_more_sources_can_name_a_platform(fake_api: FakeApi) -> None:
    rows = [
        ("20260329", "fosstodon.org", "referral", "Organic Social", "8", "6", "0", "0"),
        ("20260329", "mastodon.social", "referral", "Organic Social", "4", "2", "1", "10"),
    ]
    serve(fake_api, report(rows))

    run = await run_collect(PLATFORM, settings(fake_api, sources={"mastodon": ["fosstodon.org"]}))

    assert sample_rows(run) == ordered(
        expected(END_MAR_29, "mastodon", "social", web(12, 8, 4, 1, 10))
    )


async def test_currency_and_time_zone_settings_win(fake_api: FakeApi) -> None:
    serve(fake_api, report([ROWS[5]], currency="USD", time_zone="Europe/Berlin"))
    values = settings(fake_api, currency="USD", timezone="America/New_York")

    run = await run_collect(PLATFORM, values)

    assert fake_api.calls(REPORT)[0].json()["currencyCode"] == "USD"
    end_in_new_york = datetime(2026, 3, 30, 4, 0, tzinfo=UTC)  # midnight EDT
    assert sample_rows(run) == ordered(
        expected(end_in_new_york, "x", "social", web(100, 70, 30, 4, 180.25), currency="USD")
    )


async def test_without_a_currency_revenue_is_left_out(fake_api: FakeApi) -> None:
    serve(fake_api, report([ROWS[5]], currency=None))

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok
    run.assert_no_metric("revenue")
    run.assert_metric("sessions", 100, window="1d", count=1)


async def test_revenue_may_be_negative_after_refunds(fake_api: FakeApi) -> None:
    row = ("20260329", "t.co", "referral", "Organic Social", "10", "5", "0", "-20.5")
    serve(fake_api, report([row]))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_metric("revenue", -20.5, window="1d", count=1, currency="EUR")


async def test_a_competitor_cannot_be_read(fake_api: FakeApi) -> None:
    serve(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    run.assert_failed("error")
    assert "no public data" in (run.outcome.message or "")
    assert fake_api.requests == []


# pagination ---------------------------------------------------------------------------------


async def test_pages_follow_offset_until_row_count(fake_api: FakeApi) -> None:
    rows = [
        ("20260329", f"source{n}.example", "referral", "Organic Social", str(n), "1", "0", "0")
        for n in range(1, 6)
    ]
    serve(
        fake_api,
        report(rows[:2], row_count=5),
        report(rows[2:4], row_count=5, quota=property_quota(day=199_980)),
        report(rows[4:], row_count=5, quota=property_quota(day=199_970)),
    )

    run = await run_collect(PLATFORM, settings(fake_api, page_size=2))

    assert run.ok, run.outcome.message
    calls = fake_api.calls(REPORT)
    assert [(c.json()["offset"], c.json()["limit"]) for c in calls] == [(0, 2), (2, 2), (4, 2)]
    assert sorted((s.dims["source"], s.value) for s in run.samples if s.metric == "sessions") == [
        (f"source{n}.example", n) for n in range(1, 6)
    ]
    assert run.outcome.quota == (199_970, 200_000)  # the last page's figure


# rate limits and quotas ---------------------------------------------------------------------

HOURLY = (
    "Exhausted property tokens for a project per hour. These quota tokens will return in under "
    "an hour. To learn more, see https://developers.google.com/analytics/devguides/reporting/"
    "data/v1/quotas"
)


async def test_an_hourly_quota_holds_the_property_for_the_hour(fake_api: FakeApi) -> None:
    serve(fake_api, google_error(429, "RESOURCE_EXHAUSTED", HOURLY))
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 3600
    assert run.outcome.rate_limit == RateLimitState(
        40_000, 0, NOW.timestamp() + 3600, NOW.timestamp()
    )
    assert "RESOURCE_EXHAUSTED" in (run.outcome.message or "")
    again.assert_failed("rate_limited")
    assert again.outcome.retry_after == 3600
    assert len(fake_api.calls(REPORT)) == 1  # the second poll sent nothing


@pytest.mark.parametrize(
    ("message", "headers", "wait"),
    [
        ("Exhausted client errors quota. These quota tokens will return in under 15 minutes.",
         {}, 900),
        ("Exhausted property tokens per hour.", {}, 3600),
        ("Exhausted property tokens per hour.", {"Retry-After": "120"}, 120),
        ("Exhausted concurrent requests quota.", {}, None),
    ],
    ids=["client-errors", "hourly-unsaid", "retry-after", "concurrent"],
)  # fmt: skip
async def test_resource_exhausted_waits_as_long_as_google_says(
    fake_api: FakeApi, message: str, headers: dict[str, str], wait: float | None
) -> None:
    serve(fake_api, google_error(429, "RESOURCE_EXHAUSTED", message, headers=headers))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == wait
    assert len(fake_api.calls(REPORT)) == 1  # not retried inside the poll


async def test_a_daily_quota_stops_polls_until_midnight_pacific(fake_api: FakeApi) -> None:
    daily = "Exhausted property tokens per day. These quota tokens will return in under 24 hours."
    serve(fake_api, google_error(429, "RESOURCE_EXHAUSTED", daily))
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    run.assert_failed("quota_exhausted")
    assert run.outcome.retry_after == TO_PT_MIDNIGHT
    assert run.outcome.quota == (0, 200_000)
    assert REPORT in (run.outcome.message or "")
    again.assert_failed("quota_exhausted")
    assert again.outcome.retry_after == TO_PT_MIDNIGHT
    assert len(fake_api.calls(REPORT)) == 1


async def test_no_tokens_left_today_refuses_the_next_poll(fake_api: FakeApi) -> None:
    serve(fake_api, report(ROWS, quota=property_quota(day=0)))
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    assert run.ok and run.outcome.quota == (0, 200_000)
    again.assert_failed("quota_exhausted")
    assert again.outcome.retry_after == TO_PT_MIDNIGHT
    assert len(fake_api.calls(REPORT)) == 1


async def test_quotas_belong_to_the_property_not_the_credential(fake_api: FakeApi) -> None:
    other = "/v1beta/properties/987654321:runReport"
    serve(fake_api, report(ROWS, quota=property_quota(day=0)))
    fake_api.add("POST", other, report(ROWS, quota=property_quota(day=5_000)))
    limits = ApiLimits()

    exhausted = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    elsewhere = await run_collect(
        PLATFORM, settings(fake_api, property_id="987654321"), limits=limits
    )

    assert exhausted.outcome.quota == (0, 200_000)
    assert elsewhere.ok and elsewhere.outcome.quota == (5_000, 200_000)


# auth ---------------------------------------------------------------------------------------


async def test_401_refreshes_the_token_and_keeps_a_rotated_refresh_token(
    fake_api: FakeApi,
) -> None:
    fake_api.add(
        "POST", TOKEN, token_reply("ya29.first"), token_reply("ya29.second", "1//0g-rotated")
    )
    unauthenticated = google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential.",
    )
    fake_api.add("POST", REPORT, unauthenticated, report(ROWS))
    state: dict[str, Any] = {}

    run = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert run.ok, run.outcome.message
    assert run.values("sessions", "1d", source="x", medium="social") == [120, 100]
    assert [r.headers["Authorization"] for r in fake_api.calls(REPORT)] == [
        "Bearer ya29.first",
        "Bearer ya29.second",
    ]
    assert state["oauth"]["refresh_token"] == "1//0g-rotated"
    assert state["oauth"]["access_token"] == "ya29.second"


async def test_a_token_refused_after_refresh_is_auth(fake_api: FakeApi) -> None:
    serve(fake_api, google_error(401, "UNAUTHENTICATED", "Request had invalid credentials."))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert len(fake_api.calls(TOKEN)) == 2 and len(fake_api.calls(REPORT)) == 2


async def test_a_refused_refresh_token_is_auth(fake_api: FakeApi) -> None:
    serve(fake_api)
    fake_api.add(
        "POST",
        TOKEN,
        Reply(
            status=400,
            json={
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            },
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    assert "authorise the app again" in (run.outcome.message or "")
    assert fake_api.calls(REPORT) == []


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more "
                "about Property ID, see https://developers.google.com/analytics/devguides/"
                "reporting/data/v1/property-id.",
            ),
            "Property access management",
        ),
        (
            google_error(
                403,
                "PERMISSION_DENIED",
                "Google Analytics Data API has not been used in project 123456 before or it is "
                "disabled.",
                "SERVICE_DISABLED",
            ),
            "enable the Google Analytics Data API",
        ),
        (
            google_error(
                403,
                "PERMISSION_DENIED",
                "Request had insufficient authentication scopes.",
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            ),
            "analytics.readonly",
        ),
    ],
    ids=["not-a-viewer", "api-disabled", "scope"],
)
async def test_refused_access_is_auth_and_says_what_to_do(
    fake_api: FakeApi, reply: Reply, says: str
) -> None:
    serve(fake_api, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert message.startswith("ga4: ") and REPORT in message
    assert says in message


# server errors and bad bodies ---------------------------------------------------------------


async def test_a_5xx_is_retried_within_the_poll(fake_api: FakeApi) -> None:
    serve(
        fake_api,
        google_error(503, "UNAVAILABLE", "The service is currently unavailable."),
        report(ROWS),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.values("sessions", "1d", source="x", medium="social") == [120, 100]
    assert len(fake_api.calls(REPORT)) == 2


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    serve(fake_api, google_error(500, "INTERNAL", "Internal error encountered."))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(REPORT)) == 3  # the first try and two retries


def _with(row_index: int, **changes: Any) -> dict[str, Any]:
    body = report(ROWS)
    body["rows"][row_index].update(changes)
    return body


@pytest.mark.parametrize(
    ("reply", "named"),
    [
        (Reply(body="<html><body>Error 502</body></html>"), "not JSON"),
        (_with(0, dimensionValues=[{"value": "2026-03-28"}, {"value": "t.co"},
                                   {"value": "referral"}, {"value": "Organic Social"}]),
         "rows[0].dimensionValues (date)"),
        (_with(1, metricValues=[{"value": "1.2k"}, {"value": "1"}, {"value": "0"},
                                {"value": "0"}]),
         "rows[1].metricValues[0] (sessions)"),
        (_with(2, metricValues=[{"value": "-3"}, {"value": "1"}, {"value": "0"},
                                {"value": "0"}]),
         "a number of 0 or more"),
        (_with(0, metricValues=None), "rows[0].metricValues"),
        (report(ROWS, ["sessions", "engagedSessions", "totalRevenue"]),
         "columns keyEvents as asked"),
        (report(ROWS) | {"rowCount": "many"}, "rowCount"),
        (report(ROWS, time_zone=None), "timezone:"),
        (report(ROWS, time_zone="Mars/Olympus_Mons"), "metadata.timeZone"),
    ],
    ids=["html", "date", "value", "negative", "no-values", "header", "row-count", "no-zone",
         "bad-zone"],
)  # fmt: skip
async def test_a_malformed_body_is_bad_response(fake_api: FakeApi, reply: Any, named: str) -> None:
    serve(fake_api, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("ga4: ") and REPORT in message
    assert named in message


# removed metrics ----------------------------------------------------------------------------

GONE = (
    "Field {} is not a valid metric. For a list of valid dimensions and metrics, see "
    "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
)


async def test_conversions_no_longer_served_are_disabled_until_the_retry(
    fake_api: FakeApi,
) -> None:
    without = ["sessions", "engagedSessions", "totalRevenue"]
    rows = [(*ROWS[5][:6], ROWS[5][7])]  # no key-event column
    serve(
        fake_api,
        google_error(400, "INVALID_ARGUMENT", GONE.format("conversions")),
        report(rows, without),
        report(rows, without),
        report([ROWS[5]], ["sessions", "engagedSessions", "conversions", "totalRevenue"]),
    )
    values = settings(fake_api, conversions_metric="conversions")
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, values, state=state)
    second = await run_collect(PLATFORM, values, state=state)
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        after_a_week = await run_collect(PLATFORM, values, state=state)

    assert first.ok, first.outcome.message
    first.assert_no_metric("conversions")
    assert sample_rows(first) == ordered(
        [
            *expected(END_MAR_29, "x", "social", web(100, 70, 30, 4, 180.25))[:3],
            *expected(END_MAR_29, "x", "social", {"revenue": 180.25}),
        ]
    )
    assert list(first.outcome.removed) == ["conversions"]
    detail = first.outcome.removed["conversions"]
    assert "write conversions_metric: keyEvents" in detail
    assert "Field conversions is not a valid metric" in detail
    assert second.ok and list(second.outcome.removed) == ["conversions"]
    assert [asked_metrics(c) for c in fake_api.calls(REPORT)] == [
        ["sessions", "engagedSessions", "conversions", "totalRevenue"],
        without,  # asked again without it in the same poll
        without,  # the next poll does not ask for it
        ["sessions", "engagedSessions", "conversions", "totalRevenue"],  # a week later
    ]
    assert after_a_week.ok and after_a_week.outcome.removed == {}
    after_a_week.assert_metric("conversions", 4, window="1d", count=1)


async def test_engaged_sessions_gone_disables_bounces_too(fake_api: FakeApi) -> None:
    without = ["sessions", "keyEvents", "totalRevenue"]
    serve(
        fake_api,
        google_error(400, "INVALID_ARGUMENT", GONE.format("engagedSessions")),
        report([(*ROWS[5][:5], *ROWS[5][6:])], without),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert sorted(run.outcome.removed) == ["bounces", "engaged_sessions"]
    assert sorted((s.metric, s.value) for s in run.samples) == [
        ("conversions", 4),
        ("revenue", 180.25),
        ("sessions", 100),
    ]


async def test_an_unknown_key_event_says_to_check_the_event(fake_api: FakeApi) -> None:
    serve(
        fake_api,
        google_error(400, "INVALID_ARGUMENT", GONE.format("keyEvents:purchase")),
        report([], ["sessions", "engagedSessions", "totalRevenue"]),
    )

    run = await run_collect(PLATFORM, settings(fake_api, conversions_metric="keyEvents:purchase"))

    assert run.ok
    assert "purchase is still marked as a key event" in run.outcome.removed["conversions"]


async def test_another_bad_request_is_not_a_removed_metric(fake_api: FakeApi) -> None:
    serve(
        fake_api,
        google_error(
            400,
            "INVALID_ARGUMENT",
            "Please remove keyEvents to make the request compatible. The request's dimensions & "
            "metrics are incompatible.",
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert not run.ok and run.outcome.removed == {}
    assert "incompatible" in (run.outcome.message or "")


# service accounts ---------------------------------------------------------------------------


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def service_key(fake_api: FakeApi) -> tuple[dict[str, str], Any]:
    """A service account JSON key whose token_uri is the fake API, and its public key."""
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key = {
        "type": "service_account",
        "project_id": "acme-analytics",
        "private_key_id": "3f9c0c2a1b",
        "private_key": pem,
        "client_email": "kpiwatch@acme-analytics.iam.gserviceaccount.com",
        "client_id": "101234567890",
        "token_uri": f"{fake_api.url}/sa-token",
    }
    return key, private.public_key()


def service_settings(api: FakeApi, **account: Any) -> dict[str, Any]:
    values = settings(api, service_account=account)
    del values["oauth"]
    return values


async def test_a_service_account_signs_a_jwt_for_its_token(
    fake_api: FakeApi, service_key: tuple[dict[str, str], Any], tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key, public = service_key
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    fake_api.add("POST", "/sa-token", token_reply("ya29.c.service"))
    fake_api.add("POST", REPORT, report(ROWS))
    state: dict[str, Any] = {}

    run = await run_collect(PLATFORM, service_settings(fake_api, key_file=str(path)), state=state)

    assert run.ok, run.outcome.message
    assert run.values("sessions", "1d", source="x", medium="social") == [120, 100]
    (token,) = fake_api.calls("/sa-token")
    form = token.form()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": "3f9c0c2a1b"}
    assert json.loads(_b64decode(claims)) == {
        "iss": "kpiwatch@acme-analytics.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/analytics.readonly",
        "aud": f"{fake_api.url}/sa-token",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 3600,
    }
    public.verify(  # raises InvalidSignature unless the key signed it
        _b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert fake_api.calls(REPORT)[0].headers["Authorization"] == "Bearer ya29.c.service"
    assert state["service_account"]["access_token"] == "ya29.c.service"
    assert "private_key" not in json.dumps(state)


async def test_a_service_account_key_can_be_given_inline(
    fake_api: FakeApi, service_key: tuple[dict[str, str], Any]
) -> None:
    key, _ = service_key
    fake_api.add("POST", "/sa-token", token_reply("ya29.c.inline"))
    fake_api.add("POST", REPORT, report(ROWS))
    state: dict[str, Any] = {}

    first = await run_collect(
        PLATFORM, service_settings(fake_api, key_json=json.dumps(key)), state=state
    )
    second = await run_collect(
        PLATFORM, service_settings(fake_api, key_json=json.dumps(key)), state=state
    )

    assert first.ok and second.ok
    assert len(fake_api.calls("/sa-token")) == 1  # the token is kept for its hour
    assert {c.headers["Authorization"] for c in fake_api.calls(REPORT)} == {"Bearer ya29.c.inline"}


async def test_a_refused_service_account_is_auth(
    fake_api: FakeApi, service_key: tuple[dict[str, str], Any]
) -> None:
    key, _ = service_key
    fake_api.add(
        "POST",
        "/sa-token",
        Reply(
            status=400,
            json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
        ),
    )
    fake_api.add("POST", REPORT, report(ROWS))

    run = await run_collect(PLATFORM, service_settings(fake_api, key_json=json.dumps(key)))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert "Invalid JWT Signature" in message and key["client_email"] in message
    assert "BEGIN PRIVATE KEY" not in message
    assert fake_api.calls(REPORT) == []


async def test_a_missing_key_file_is_auth_naming_the_file(
    fake_api: FakeApi, service_key: tuple[dict[str, str], Any], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    fake_api.add("POST", REPORT, report(ROWS))

    run = await run_collect(PLATFORM, service_settings(fake_api, key_file=str(missing)))

    run.assert_failed("auth")
    assert str(missing) in (run.outcome.message or "")
    assert fake_api.requests == []


def test_without_cryptography_a_service_account_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)  # as if it were not installed

    with pytest.raises(pydantic.ValidationError) as error:
        GA4Settings.model_validate(
            {"property_id": PROPERTY, "service_account": {"key_file": "/etc/key.json"}}
        )

    assert "needs the Python package 'cryptography'" in str(error.value)
    assert "use oauth:" in str(error.value)


# settings and registration ------------------------------------------------------------------

OAUTH = {"client_id": "c.apps.googleusercontent.com", "client_secret": "s", "refresh_token": "r"}


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"oauth": OAUTH}, "property_id"),
        ({"property_id": "G-ABC123XYZ", "oauth": OAUTH}, "not the measurement ID"),
        ({"property_id": PROPERTY}, "give exactly one of oauth"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "service_account": {"key_file": "k.json"}},
         "give exactly one of oauth"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "conversions_metric": "sales"},
         "keyEvents:<event name>"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "conversions_metric": "keyEvents:9lives"},
         "starts with a letter"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "currency": "euro"}, "ISO 4217"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "timezone": "CEST"}, "IANA time zone"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "traffic": "organic"}, "'social' or 'all'"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "sources": {"Mastodon": ["a.b"]}},
         "lower-case name"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "sources": {"mastodon": []}},
         "must list GA4 session sources"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "api_url": "ftp://x"}, "http(s) URL"),
        ({"property_id": PROPERTY, "oauth": OAUTH, "propertyId": PROPERTY}, "Extra inputs"),
        ({"property_id": PROPERTY, "service_account": {}}, "exactly one of key_file"),
        ({"property_id": PROPERTY, "service_account": {"key_json": "{"}}, "is not JSON"),
        ({"property_id": PROPERTY,
          "service_account": {"key_json": '{"type": "authorized_user"}'}},
         "not a service account key"),
    ],
)  # fmt: skip
def test_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        GA4Settings.model_validate(values)

    assert says in str(error.value)


def test_a_property_id_may_be_a_number_or_a_resource_name() -> None:
    for given in (123456789, "properties/123456789", " 123456789 "):
        assert GA4Settings.model_validate({"property_id": given, "oauth": OAUTH}).property_id == (
            PROPERTY
        )


def test_the_plugin_registers_the_ga4_platform() -> None:
    registered: list[kpiwatch.Platform] = []

    kpiwatch_register_platforms(registered.append)

    assert [p.name for p in registered] == ["ga4"]
    assert registered[0].metrics == (
        "sessions",
        "engaged_sessions",
        "bounces",
        "conversions",
        "revenue",
    )
    assert registered[0].api is not None
    assert registered[0].api.daily_quota == 200_000
    assert registered[0].api.quota_timezone == "America/Los_Angeles"


def test_the_sample_configuration_is_valid() -> None:
    path = Path(kpiwatch_platforms.ga4.__file__).with_name("sample.yaml")
    environ = {"GA4_CLIENT_ID": "c.apps", "GA4_CLIENT_SECRET": "s", "GA4_REFRESH_TOKEN": "r"}

    loaded = load_config(path, {"ga4": PLATFORM}, environ=environ)

    (account,) = loaded.config.accounts
    values = loaded.account_settings(account.id)
    assert values.property_id == PROPERTY
    assert values.oauth.refresh_token.get_secret_value() == "r"
    assert values.sources == {"mastodon": ["mastodon.social", "fosstodon.org"]}
