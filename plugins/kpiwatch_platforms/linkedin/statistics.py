"""The organization's follower count and its daily follower and share statistics.

- ``GET /networkSizes/urn%3Ali%3Aorganization%3A{id}?edgeType=COMPANY_FOLLOWED_BY_MEMBER``
  -> ``{"firstDegreeSize": 33634367}``: followers (public for any organization);
- ``GET /organizationalEntityFollowerStatistics?q=organizationalEntity&organizationalEntity=
  {urn}&timeIntervals=(timeRange:(start:{ms},end:{ms}),timeGranularityType:DAY)`` -> one
  element per day with ``followerGains`` and ``timeRange``: followers_gained, 1d;
- ``GET /organizationalEntityShareStatistics`` with the same query -> one element per day with
  ``totalShareStatistics``: impressions, clicks, likes, comments, shares, engagements, 1d.

Days are UTC days (``timeRange`` from midnight to midnight UTC); each becomes a ``1d`` sample
timestamped at its end. The first poll reads ``history_days`` days; later polls read again the
last few days before the last one reported, which LinkedIn may still complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import kpiwatch
from kpiwatch.errors import BadResponse
from kpiwatch_platforms.linkedin.client import LinkedInClient
from kpiwatch_platforms.linkedin.mapping import (
    ENGAGEMENT_FIELDS,
    NOT_DAILY,
    SHARE_FIELDS,
    SHARE_METRICS,
    count,
    moment,
    share_metrics,
)
from kpiwatch_platforms.linkedin.restli import day_intervals
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

FOLLOWER_EDGE = "COMPANY_FOLLOWED_BY_MEMBER"
#: ``ctx.state`` keys of the last day each daily series reported.
FOLLOWER_DAY_KEY = "follower_gains_last_day"
SHARE_DAY_KEY = "share_statistics_last_day"
#: Days before the last one reported that are read again.
REVISIT_DAYS = 3


@dataclass(frozen=True)
class Day:
    """One element of a time-bound answer: its UTC day and its body."""

    start: datetime
    end: datetime
    element: Mapping[str, Any]


def day_range(now: datetime, last_day: str | None, history_days: int) -> tuple[date, date]:
    """The first day to ask for and the day after the last one (today, UTC): ``history_days``
    days back on first contact, else from a few days before the last day reported."""
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=history_days)
    if last_day is not None:
        # a state written by something else: read the whole history again
        with suppress(ValueError):
            start = max(start, date.fromisoformat(last_day) - timedelta(days=REVISIT_DAYS))
    return start, end


def _ms(day: date) -> int:
    return int(datetime.combine(day, time(0), UTC).timestamp() * 1000)


def _days(body: Mapping[str, Any], where: str) -> list[Day]:
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise BadResponse(f"{where}: 'elements' is not a list")
    days = []
    for i, element in enumerate(elements):
        time_range = element.get("timeRange") if isinstance(element, dict) else None
        start = moment(time_range.get("start")) if isinstance(time_range, dict) else None
        end = moment(time_range.get("end")) if isinstance(time_range, dict) else None
        if start is None or end is None:
            raise BadResponse(
                f"{where}: elements[{i}] has no timeRange {{start, end}} in epoch milliseconds"
            )
        days.append(Day(start, end, element))
    return days


def _remember_last_day(ctx: kpiwatch.CollectContext, key: str, days: list[Day]) -> None:
    done = [d.start.date() for d in days if d.end <= ctx.now]
    if done:
        ctx.state[key] = max(done).isoformat()


async def _daily(
    ctx: kpiwatch.CollectContext,
    client: LinkedInClient,
    settings: LinkedInSettings,
    path: str,
    state_key: str,
) -> tuple[list[Day], str]:
    start, end = day_range(ctx.now, ctx.state.get(state_key), settings.history_days)
    body, where = await client.get(
        path,
        {
            "q": "organizationalEntity",
            "organizationalEntity": settings.organization_urn,
            "timeIntervals": day_intervals(_ms(start), _ms(end)),
        },
    )
    days = _days(body, where)
    _remember_last_day(ctx, state_key, days)
    return [d for d in days if d.end <= ctx.now], where


async def follower_count(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> list[kpiwatch.Sample]:
    """followers, from the organization's network size."""
    if not ctx.metric_enabled("followers"):
        return []
    body, where = await client.get(
        f"/networkSizes/{quote(settings.organization_urn, safe='')}", {"edgeType": FOLLOWER_EDGE}
    )
    if "firstDegreeSize" not in body:
        ctx.metric_removed(
            "followers",
            f"{where} answered without firstDegreeSize "
            f"(LinkedIn-Version {settings.linkedin_version})",
        )
        return []
    size = count(body["firstDegreeSize"])
    if size is None:
        raise BadResponse(f"{where}: firstDegreeSize {body['firstDegreeSize']!r} is not a count")
    return [kpiwatch.Sample("followers", size)]


async def follower_gains(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> list[kpiwatch.Sample]:
    """followers_gained per day: organic plus paid gains. LinkedIn's gains are net of
    unfollows; a day with a net loss is left out (the vocabulary has no negative gain)."""
    if not ctx.metric_enabled("followers_gained"):
        return []
    days, where = await _daily(
        ctx, client, settings, "/organizationalEntityFollowerStatistics", FOLLOWER_DAY_KEY
    )
    gains = [(day, day.element.get("followerGains")) for day in days]
    if days and not any(isinstance(g, Mapping) for _, g in gains):
        ctx.metric_removed(
            "followers_gained",
            f"{where} answered days without followerGains "
            f"(LinkedIn-Version {settings.linkedin_version})",
        )
        return []
    samples = []
    for day, gain in gains:
        if not isinstance(gain, Mapping):
            continue
        parts = [_gain(gain, "organicFollowerGain"), _gain(gain, "paidFollowerGain")]
        known = [p for p in parts if p is not None]
        if not known or sum(known) < 0:
            continue
        total = float(sum(known))
        samples.append(kpiwatch.Sample("followers_gained", total, "1d", timestamp=day.end))
    return samples


def _gain(gains: Mapping[str, Any], name: str) -> float | None:
    # one third-party typing spells the fields in the plural (organicFollowerGains)
    for key in (name, f"{name}s"):
        value = gains.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


async def daily_share_statistics(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> list[kpiwatch.Sample]:
    """impressions, clicks, likes, comments, shares and engagements of the page's posts per
    day. A field LinkedIn stops sending disables that metric for the account."""
    wanted = [m for m in SHARE_METRICS if m not in NOT_DAILY and ctx.metric_enabled(m)]
    if not wanted:
        return []
    days, where = await _daily(
        ctx, client, settings, "/organizationalEntityShareStatistics", SHARE_DAY_KEY
    )
    per_day = [(day, _statistics(day, where)) for day in days]
    for metric in list(wanted):
        if per_day and not any(_served(metric, statistics) for _, statistics in per_day):
            ctx.metric_removed(metric, _missing(metric, where, settings.linkedin_version))
            wanted.remove(metric)
    samples = []
    for day, statistics in per_day:
        values = share_metrics(statistics)
        samples += [
            kpiwatch.Sample(metric, values[metric], "1d", timestamp=day.end)
            for metric in wanted
            if metric in values
        ]
    return samples


def _statistics(day: Day, where: str) -> Mapping[str, Any]:
    statistics = day.element.get("totalShareStatistics")
    if not isinstance(statistics, Mapping):
        raise BadResponse(f"{where}: the day {day.start.date()} has no totalShareStatistics")
    return statistics


def _fields(metric: str) -> tuple[str, ...]:
    return (SHARE_FIELDS[metric],) if metric in SHARE_FIELDS else ENGAGEMENT_FIELDS


def _served(metric: str, statistics: Mapping[str, Any]) -> bool:
    return all(field in statistics for field in _fields(metric))


def _missing(metric: str, where: str, version: str) -> str:
    fields = " + ".join(_fields(metric))
    return (
        f"{where} answered days without totalShareStatistics.{fields} (LinkedIn-Version {version})"
    )
