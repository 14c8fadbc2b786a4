"""Daily report totals as vocabulary samples (README.md has the table).

Every day of the range gets samples, zero on a day without delivery (Ads Insights has no row
for it), and so does every campaign that spent in the range: the KPI engine adds up the day
totals of a window only when each day is there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import kpiwatch
from kpiwatch_platforms.meta_ads.account import AdAccount
from kpiwatch_platforms.meta_ads.report import DayTotals, Report

#: Money metrics carry the account's currency.
MONEY = frozenset({"revenue"})


def day_end(day: date, account: AdAccount) -> datetime:
    """The end of ``day`` in the account's time zone, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=account.zone).astimezone(UTC)


def day_samples(
    account: AdAccount, report: Report, since: date, until: date
) -> list[kpiwatch.Sample]:
    """``spend`` per campaign and the totals the report carried (``impressions``, ``clicks``,
    ``conversions``, ``revenue``) of each day ``since`` to ``until``, as ``1d`` samples at
    the day's end."""
    currency = {"currency": account.currency}
    campaigns = sorted({label for totals in report.days.values() for label in totals.spend})
    samples: list[kpiwatch.Sample] = []
    day = since
    while day <= until:
        totals = report.days.get(day, DayTotals())
        at = day_end(day, account)
        for label in campaigns:
            dims = {**currency, "campaign": label}
            samples.append(kpiwatch.Sample("spend", totals.spend.get(label, 0.0), "1d", dims, at))
        for metric in report.metrics:
            dims = currency if metric in MONEY else {}
            samples.append(kpiwatch.Sample(metric, totals.totals.get(metric, 0.0), "1d", dims, at))
        day += timedelta(days=1)
    return samples
