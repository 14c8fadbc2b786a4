"""One poll of one ad account: its currency and time zone, then the last days' report."""

from __future__ import annotations

from datetime import timedelta

import kpiwatch
from kpiwatch_platforms.meta_ads.account import ad_account
from kpiwatch_platforms.meta_ads.mapping import day_samples
from kpiwatch_platforms.meta_ads.report import DailyReport
from kpiwatch_platforms.meta_ads.settings import MetaAdsSettings
from kpiwatch_platforms.meta_graph.client import account_client


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Read the last ``days`` complete days (in the account's time zone) every poll: Meta
    keeps attributing conversions to past days for up to 28 days."""
    settings: MetaAdsSettings = ctx.settings
    if ctx.competitor:
        raise kpiwatch.CollectError(
            "meta_ads: an ad account has no public data; remove competitor: true"
        )
    graph = account_client(ctx, settings)
    account = await ad_account(graph, settings.ad_account_id)
    until = ctx.now.astimezone(account.zone).date() - timedelta(days=1)
    since = until - timedelta(days=settings.days - 1)
    report = await DailyReport(ctx, graph, settings).read(since, until)
    return kpiwatch.CollectResult(day_samples(account, report, since, until))
