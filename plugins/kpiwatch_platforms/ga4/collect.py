"""One poll of one GA4 property: the report of the days since the last one, as daily samples."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import kpiwatch
from kpiwatch.toolkit.api import ApiClient
from kpiwatch_platforms.ga4.auth import account_auth
from kpiwatch_platforms.ga4.days import LAST_DAY_KEY, report_range
from kpiwatch_platforms.ga4.metrics import ga4_metrics
from kpiwatch_platforms.ga4.report import Report, ReportCall, run_report
from kpiwatch_platforms.ga4.samples import daily_samples
from kpiwatch_platforms.ga4.settings import GA4Settings
from kpiwatch_platforms.ga4.sources import SourceNames


def _client(ctx: kpiwatch.CollectContext, settings: GA4Settings) -> ApiClient:
    api = ctx.api
    if api is None:
        raise kpiwatch.CollectError("ga4: the poll has no ctx.api (run it through kpiwatch)")
    if api.policy.daily_quota != settings.tokens_per_day:
        # the property's daily tokens are the account's setting (standard or Analytics 360)
        api.policy = replace(api.policy, daily_quota=settings.tokens_per_day)
    return api


def _zone(settings: GA4Settings, report: Report, call: ReportCall) -> ZoneInfo:
    name = settings.timezone or report.time_zone
    where = f"ga4: {call.url}"
    if name is None:
        raise kpiwatch.BadResponse(
            f"{where}: the report names no metadata.timeZone; write the property's time zone "
            "as timezone: (such as Europe/Berlin) in the account's settings"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise kpiwatch.BadResponse(
            f"{where}: metadata.timeZone is {name!r}, expected an IANA time zone; write the "
            "property's time zone as timezone: in the account's settings"
        ) from None


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Poll one property: sessions, engaged sessions, bounces, conversions and revenue per
    day, source and medium, from the last reported days up to yesterday."""
    settings: GA4Settings = ctx.settings
    if ctx.competitor:
        raise kpiwatch.CollectError(
            "ga4: Google Analytics has no public data, so a competitor account cannot be read; "
            "remove competitor: true (the credentials must be allowed to read the property)"
        )
    call = ReportCall(_client(ctx, settings), account_auth(settings, ctx.state), settings)
    plan = ga4_metrics(settings)
    start, end = report_range(ctx.now, ctx.state.get(LAST_DAY_KEY), settings.history_days)
    report = await run_report(ctx, call, plan, start, end)
    for metric in report.vocabulary:  # served again after its retry: enabled again
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
    if not report.rows:
        return kpiwatch.CollectResult()
    currency = settings.currency or report.currency
    if currency is None and "revenue" in report.vocabulary:
        ctx.log.warning(
            "revenue left out: the report names no currency; write currency: in the settings",
            url=call.url,
        )
    samples, last = daily_samples(
        report,
        plan,
        SourceNames(settings.sources),
        _zone(settings, report, call),
        currency,
        ctx.now,
    )
    if last is not None:
        ctx.state[LAST_DAY_KEY] = last.isoformat()
    return kpiwatch.CollectResult(samples)
