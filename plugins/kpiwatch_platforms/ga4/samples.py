"""Report rows as ``1d`` samples of the vocabulary, one per day, source and medium.

Rows that name the same day, source and medium once mapped (l.facebook.com and
m.facebook.com are both ``facebook``) are added up. Each day's samples are timestamped at the
end of that day in the property's time zone; a day that is not over yet gives none.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import kpiwatch
from kpiwatch_platforms.ga4.days import day_end
from kpiwatch_platforms.ga4.report import Report
from kpiwatch_platforms.ga4.sources import SourceNames, medium

Group = tuple[date, str, str]  # day, source, medium


def _totals(report: Report, names: SourceNames) -> dict[Group, dict[str, float]]:
    totals: dict[Group, dict[str, float]] = defaultdict(lambda: dict.fromkeys(report.metrics, 0.0))
    for row in report.rows:
        group = (row.day, names.source(row.source), medium(row.medium, row.channel_group))
        sums = totals[group]
        for name, value in row.values.items():
            sums[name] += value
    return totals


def _value(metric: str, ga4: tuple[str, ...], sums: dict[str, float]) -> float:
    if metric == "bounces":  # sessions - engaged sessions
        return max(0.0, sums[ga4[0]] - sums[ga4[1]])
    return sums[ga4[0]]


def daily_samples(
    report: Report,
    plan: dict[str, tuple[str, ...]],
    names: SourceNames,
    zone: ZoneInfo,
    currency: str | None,
    now: datetime,
) -> tuple[list[kpiwatch.Sample], date | None]:
    """The samples of ``report``, and the last day they cover (None without any).

    ``revenue`` needs ``currency``; without one it is left out.
    """
    samples: list[kpiwatch.Sample] = []
    last: date | None = None
    totals = _totals(report, names)
    for day, source, web_medium in sorted(totals):
        at = day_end(day, zone)
        if at > now:
            continue  # a day that is not over yet
        last = day if last is None else max(last, day)
        sums = totals[(day, source, web_medium)]
        for metric in report.vocabulary:
            dims = {"source": source, "medium": web_medium}
            if metric == "revenue":
                if currency is None:
                    continue
                dims["currency"] = currency
            value = _value(metric, plan[metric], sums)
            samples.append(kpiwatch.Sample(metric, value, "1d", dims, at))
    return samples, last
