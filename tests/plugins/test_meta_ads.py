"""The ``meta_ads`` platform against a fake Marketing API on loopback.

Bodies follow Meta's documented shapes: the ad account (``currency``, ``timezone_name``), the
Ads Insights report (numbers as strings, ``actions``/``action_values`` lists, ``date_start``/
``date_stop``, ``paging.cursors`` and ``paging.next``), Graph error bodies and the usage
headers ``X-Ad-Account-Usage`` and ``X-Business-Use-Case-Usage``. The clock stands still at
NOW, 21:00 in Berlin, where the ad account keeps its days.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
import time_machine

import kpiwatch
from kpiwatch.testing import CollectRun, FakeApi, Reply, run_collect
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch_platforms.meta_ads import PLATFORM, kpiwatch_register_platforms
from kpiwatch_platforms.meta_ads.settings import MetaAdsSettings

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
ACT = "act_1234567890"
TOKEN = "EAASystemUserToken0123"
V = "/v24.0"
ACCOUNT = f"{V}/{ACT}"
REPORT = f"{V}/{ACT}/insights"
FIELDS = "campaign_id,campaign_name,spend,impressions,clicks,actions,action_values"
#: The ends of 2026-03-07, -08 and -09 in Berlin (CET).
END = {
    "2026-03-07": datetime(2026, 3, 7, 23, tzinfo=UTC),
    "2026-03-08": datetime(2026, 3, 8, 23, tzinfo=UTC),
    "2026-03-09": datetime(2026, 3, 9, 23, tzinfo=UTC),
}
SPRING = "120200000000000001"
LEADS = "120200000000000002"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"ad_account_id": ACT, "access_token": TOKEN, "base_url": api.url, "days": 3} | extra


def graph_error(
    status: int, code: int, message: str, subcode: int | None = None, **headers: str
) -> Reply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AdsTrace01"
    return Reply(json={"error": error}, status=status, headers=headers)


def account_body(currency: str = "EUR", zone: str = "Europe/Berlin") -> dict[str, Any]:
    return {
        "name": "Acme Ads",
        "currency": currency,
        "timezone_name": zone,
        "account_status": 1,
        "id": ACT,
    }


def row(
    day: str,
    campaign: str,
    name: str,
    spend: str,
    impressions: str,
    clicks: str,
    actions: list[tuple[str, str]] | None = None,
    values: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "campaign_id": campaign,
        "campaign_name": name,
        "spend": spend,
        "impressions": impressions,
        "clicks": clicks,
        "date_start": day,
        "date_stop": day,
    }
    if actions:  # Meta leaves the list out when there are no actions
        item["actions"] = [{"action_type": t, "value": v} for t, v in actions]
    if values:
        item["action_values"] = [{"action_type": t, "value": v} for t, v in values]
    return item


SPRING_MAR_7 = row(
    "2026-03-07", SPRING, "Spring sale", "45.10", "12000", "240",
    [("link_click", "240"), ("purchase", "4"), ("omni_purchase", "4"), ("lead", "2")],
    [("purchase", "320.50"), ("omni_purchase", "320.50")],
)  # fmt: skip
LEADS_MAR_7 = row(
    "2026-03-07", LEADS, "Lead forms", "20.00", "5000", "80",
    [("lead", "6"), ("onsite_conversion.lead_grouped", "6")],
)  # fmt: skip
SPRING_MAR_9 = row("2026-03-09", SPRING, "Spring sale", "38.40", "9000", "150")


def report_page(rows: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": "MAZDZD", "after": after or "MjQZD"}}
    if after:
        paging["next"] = (
            f"https://graph.facebook.com/v24.0/{ACT}/insights?access_token=OTHER&level=campaign"
            f"&limit=500&after={after}"
        )
    return {"data": rows, "paging": paging}


AD_USAGE = (
    '{"acc_id_util_pct":9.67,"reset_time_duration":0,"ads_api_access_tier":"standard_access"}'
)


def serve_account(api: FakeApi) -> None:
    api.add("GET", ACCOUNT, account_body())
    api.add(
        "GET",
        REPORT,
        Reply(
            json=report_page([SPRING_MAR_7, LEADS_MAR_7, SPRING_MAR_9]),
            headers={"X-Ad-Account-Usage": AD_USAGE},
        ),
    )


Row = tuple[str, float, dict[str, str], datetime | None]


def sample_rows(run: CollectRun) -> list[Row]:
    return sorted(
        ((s.metric, s.value, dict(s.dims), s.timestamp) for s in run.samples),
        key=lambda r: (r[0], sorted(r[2].items()), r[3] or NOW),
    )


def expected(per_day: dict[str, dict[str, float]], spend: dict[str, dict[str, float]]) -> list[Row]:
    rows: list[Row] = []
    for day, totals in per_day.items():
        for metric, value in totals.items():
            dims = {"currency": "EUR"} if metric == "revenue" else {}
            rows.append((metric, value, dims, END[day]))
        for campaign, value in spend[day].items():
            rows.append(("spend", value, {"currency": "EUR", "campaign": campaign}, END[day]))
    return sorted(rows, key=lambda r: (r[0], sorted(r[2].items()), r[3] or NOW))


DAYS = {
    "2026-03-07": {"impressions": 17000, "clicks": 320, "conversions": 12, "revenue": 320.5},
    "2026-03-08": {"impressions": 0, "clicks": 0, "conversions": 0, "revenue": 0},
    "2026-03-09": {"impressions": 9000, "clicks": 150, "conversions": 0, "revenue": 0},
}
SPEND = {
    "2026-03-07": {"Spring sale": 45.10, "Lead forms": 20.00},
    "2026-03-08": {"Spring sale": 0, "Lead forms": 0},
    "2026-03-09": {"Spring sale": 38.40, "Lead forms": 0},
}


# a normal poll ------------------------------------------------------------------------------


async def test_a_poll_reads_daily_spend_per_campaign_and_the_totals(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert run.outcome.dropped == 0
    # conversions: purchase 4 + lead 2 + lead 6 (omni_purchase and lead_grouped are not
    # counted again); revenue: the purchase value only
    assert sample_rows(run) == expected(DAYS, SPEND)
    assert all(s.window == "1d" for s in run.samples)
    assert run.posts == []
    assert run.outcome.rate_limit is not None
    assert run.outcome.rate_limit.remaining == pytest.approx(100 - 9.67)


async def test_the_requests_ask_what_the_readme_says(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    await run_collect(PLATFORM, settings(fake_api))

    (account,) = fake_api.calls(ACCOUNT)
    assert account.query == {
        "fields": "name,currency,timezone_name,account_status",
        "access_token": TOKEN,
    }
    (report,) = fake_api.calls(REPORT)
    assert report.query == {
        "level": "campaign",
        "time_increment": "1",
        # yesterday and the two days before, in Berlin
        "time_range": '{"since":"2026-03-07","until":"2026-03-09"}',
        "limit": "500",
        "fields": FIELDS,
        "access_token": TOKEN,
    }


async def test_the_days_are_the_ad_accounts_days(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add("GET", ACCOUNT, account_body("JPY", "Asia/Tokyo"))
    fake_api.add(
        "GET", REPORT, report_page([row("2026-03-10", SPRING, "Spring sale", "5000", "100", "3")])
    )

    run = await run_collect(PLATFORM, settings(fake_api, days=1))

    assert run.ok, run.outcome.message
    # 05:00 on 2026-03-11 in Tokyo: yesterday there is 2026-03-10, which ended at 15:00 UTC
    assert json.loads(fake_api.calls(REPORT)[0].query["time_range"]) == {
        "since": "2026-03-10",
        "until": "2026-03-10",
    }
    (spend,) = [s for s in run.samples if s.metric == "spend"]
    assert (spend.value, dict(spend.dims)) == (5000, {"currency": "JPY", "campaign": "Spring sale"})
    assert spend.timestamp == datetime(2026, 3, 10, 15, tzinfo=UTC)


async def test_conversion_types_and_the_campaign_label_are_configurable(fake_api: FakeApi) -> None:
    serve_account(fake_api)

    run = await run_collect(
        PLATFORM,
        settings(
            fake_api,
            conversion_action_types=["onsite_conversion.lead_grouped"],
            revenue_action_types=["omni_purchase"],
            campaign_label="id",
        ),
    )

    assert run.ok, run.outcome.message
    assert run.values("conversions") == [6, 0, 0]
    assert run.values("revenue") == [320.5, 0, 0]
    assert run.values("spend", campaign=SPRING) == [45.10, 0, 38.40]
    assert run.values("spend", campaign=LEADS) == [20.00, 0, 0]


async def test_a_competitor_ad_account_is_refused(fake_api: FakeApi) -> None:
    run = await run_collect(PLATFORM, settings(fake_api), competitor=True)

    assert not run.ok and run.reason == "error"
    assert "no public data" in (run.outcome.message or "")
    assert fake_api.requests == []


# pagination ---------------------------------------------------------------------------------


async def test_the_report_follows_paging_next(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add("GET", REPORT, report_page([SPRING_MAR_7], after="MjQZD"))
    fake_api.add("GET", REPORT, report_page([LEADS_MAR_7], after="NDgZD"), query={"after": "MjQZD"})
    fake_api.add("GET", REPORT, report_page([SPRING_MAR_9]), query={"after": "NDgZD"})

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert sample_rows(run) == expected(DAYS, SPEND)
    first, second, third = fake_api.calls(REPORT)
    assert "after" not in first.query
    assert (second.query["after"], third.query["after"]) == ("MjQZD", "NDgZD")
    assert {c.query["access_token"] for c in (second, third)} == {TOKEN}


# rate limits --------------------------------------------------------------------------------


async def test_ads_insights_buc_80000_waits_and_refuses_the_next_poll(fake_api: FakeApi) -> None:
    usage = json.dumps(
        {"1234567890": [{"type": "ads_insights", "call_count": 100, "total_cputime": 58,
                         "total_time": 61, "estimated_time_to_regain_access": 5}]}
    )  # fmt: skip
    serve_account(fake_api)
    fake_api.add(
        "GET",
        REPORT,
        graph_error(
            400,
            80000,
            "(#80000) There have been too many calls from this ad-account. Wait a bit and try "
            "again. For more info, please refer to https://developers.facebook.com/docs/graph-api"
            "/overview/rate-limiting#ads-insights.",
            2446079,
            **{"X-Business-Use-Case-Usage": usage},
        ),
    )
    limits = ApiLimits()

    run = await run_collect(PLATFORM, settings(fake_api), limits=limits)
    again = await run_collect(PLATFORM, settings(fake_api), limits=limits)

    run.assert_failed("rate_limited")
    assert run.outcome.retry_after == 300
    again.assert_failed("rate_limited")
    assert again.outcome.retry_after == 300
    assert [r.path for r in fake_api.requests] == [ACCOUNT, REPORT]


async def test_code_4_on_http_403_is_rate_limited(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        graph_error(403, 4, "(#4) Application request limit reached", 1504022),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert "Graph error 4/1504022" in (run.outcome.message or "")


@pytest.mark.parametrize(
    ("code", "subcode", "message"),
    [
        (17, 2446079, "User request limit reached"),
        (613, 1487742, "There have been too many calls from this ad-account."),
    ],
)
async def test_ad_account_throttling_is_rate_limited(
    fake_api: FakeApi, code: int, subcode: int, message: str
) -> None:
    serve_account(fake_api)
    fake_api.add("GET", REPORT, graph_error(400, code, message, subcode))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("rate_limited")
    assert len(fake_api.calls(REPORT)) == 1


# auth ---------------------------------------------------------------------------------------


async def test_an_expired_token_190_is_auth(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        graph_error(400, 190, "Error validating access token: Session has expired.", 463),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")
    message = run.outcome.message or ""
    assert "Graph error 190/463" in message and TOKEN not in message


async def test_a_missing_ads_read_permission_is_auth(fake_api: FakeApi) -> None:
    fake_api.add(
        "GET",
        ACCOUNT,
        graph_error(
            403, 200, "(#200) Ad account owner has NOT grant ads_management or ads_read permission"
        ),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("auth")


# server errors and bad bodies ---------------------------------------------------------------


async def test_a_5xx_then_recovery_within_the_poll(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        REPORT,
        graph_error(500, 2, "Service temporarily unavailable", 1504043),
        report_page([SPRING_MAR_7, LEADS_MAR_7, SPRING_MAR_9]),
    )

    run = await run_collect(PLATFORM, settings(fake_api))

    assert run.ok, run.outcome.message
    assert sample_rows(run) == expected(DAYS, SPEND)
    assert len(fake_api.calls(REPORT)) == 2


async def test_a_report_that_times_out_every_time_is_unavailable(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    timeout = graph_error(
        400,
        100,
        "(#100) Your request timed out. Try a smaller date range, fetch less data, or use "
        "async jobs.",
        1504018,
    )
    fake_api.add("GET", REPORT, timeout)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("unavailable")
    assert "ask for fewer days" in (run.outcome.message or "")
    assert len(fake_api.calls(REPORT)) == 3


async def test_5xx_every_time_is_unavailable(fake_api: FakeApi) -> None:
    fake_api.add("GET", ACCOUNT, Reply(body="Bad Gateway", status=502))

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("unavailable")
    assert len(fake_api.calls(ACCOUNT)) == 3


@pytest.mark.parametrize(
    ("path", "reply", "named"),
    [
        (ACCOUNT, Reply(body="<html>Oops</html>"), "not JSON"),
        (ACCOUNT, account_body(currency="euro"), "currency is 'euro'"),
        (ACCOUNT, account_body(zone="Mars/Olympus"), "timezone_name is 'Mars/Olympus'"),
        (REPORT, report_page([row("2026-03-07", SPRING, "S", "12,50", "1", "1")]), "spend"),
        (
            REPORT,
            report_page([{**SPRING_MAR_7, "date_stop": "2026-03-09"}]),
            "data[0].date_stop is '2026-03-09'",
        ),
        (REPORT, report_page([row("2026-01-01", SPRING, "S", "1", "1", "1")]), "a day of"),
        (
            REPORT,
            report_page([{**SPRING_MAR_7, "actions": [{"action_type": "lead", "value": "x"}]}]),
            "actions[0].value",
        ),
    ],
    ids=["html", "currency", "zone", "spend", "date_stop", "day", "action"],
)
async def test_a_malformed_body_is_bad_response(
    fake_api: FakeApi, path: str, reply: Any, named: str
) -> None:
    serve_account(fake_api)
    fake_api.add("GET", path, reply)

    run = await run_collect(PLATFORM, settings(fake_api))

    run.assert_failed("bad_response")
    message = run.outcome.message or ""
    assert message.startswith("meta_ads: ") and path in message
    assert named in message


# removed fields -----------------------------------------------------------------------------


async def test_a_refused_report_field_is_disabled_and_the_rest_read(fake_api: FakeApi) -> None:
    serve_account(fake_api)
    fake_api.add(
        "GET",
        REPORT,
        graph_error(
            400,
            100,
            "(#100) action_values is not valid for fields param. please check "
            "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all "
            "valid values",
        ),
        query={"fields": FIELDS},
    )
    state: dict[str, Any] = {}

    first = await run_collect(PLATFORM, settings(fake_api), state=state)
    second = await run_collect(PLATFORM, settings(fake_api), state=state)

    assert first.ok, first.outcome.message
    assert list(first.outcome.removed) == ["action_values"]
    without = {day: {k: v for k, v in t.items() if k != "revenue"} for day, t in DAYS.items()}
    assert sample_rows(first) == expected(without, SPEND)  # no revenue at all, not zero
    asked = [c.query["fields"] for c in fake_api.calls(REPORT)]
    shorter = FIELDS.removesuffix(",action_values")
    assert asked == [FIELDS, shorter, shorter]  # the next poll asks without it
    assert second.ok and list(second.outcome.removed) == ["action_values"]


# settings and registration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"access_token": TOKEN}, "ad_account_id"),
        ({"ad_account_id": "acme", "access_token": TOKEN}, "is not an ad account ID"),
        (
            {"ad_account_id": ACT, "access_token": TOKEN, "conversion_action_types": []},
            "at least 1 item",
        ),
        (
            {"ad_account_id": ACT, "access_token": TOKEN,
             "conversion_action_types": ["purchase", "offsite_conversion.fb_pixel_purchase"]},
            "count the same purchase events twice",
        ),
        (
            {"ad_account_id": ACT, "access_token": TOKEN, "revenue_action_types": ["Purchase!"]},
            "is not an action type",
        ),
        ({"ad_account_id": ACT, "access_token": TOKEN, "days": 365}, "less than or equal to 90"),
        (
            {"ad_account_id": ACT, "access_token": TOKEN, "campaign_label": "title"},
            "'name' or 'id'",
        ),
    ],
)  # fmt: skip
def test_settings_say_what_to_write(values: dict[str, Any], says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        MetaAdsSettings.model_validate(values)

    assert says in str(error.value)


def test_the_account_id_may_be_given_without_act() -> None:
    parsed = MetaAdsSettings.model_validate({"ad_account_id": 1234567890, "access_token": TOKEN})

    assert parsed.ad_account_id == ACT


def test_the_plugin_registers_the_meta_ads_platform() -> None:
    registered: list[kpiwatch.Platform] = []

    kpiwatch_register_platforms(registered.append)

    assert [p.name for p in registered] == ["meta_ads"]
    assert registered[0].metrics == ("spend", "impressions", "clicks", "conversions", "revenue")
