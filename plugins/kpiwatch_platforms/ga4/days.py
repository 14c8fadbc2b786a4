"""Reporting days: which ones to ask for, and when each one ends.

GA4 reads ``NdaysAgo``, ``yesterday`` and ``YYYY-MM-DD`` in the property's own time zone, so the
first poll asks for the last ``history_days`` complete days without knowing that zone. Later
polls ask again from a few days before the last day reported, because GA4 keeps processing a
day's data for up to two days (unconfirmed figure). Today is never asked: it is not over.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Days before the last one reported that are read again.
REVISIT_DAYS = 3
#: The state key of the last day a report held (ISO date).
LAST_DAY_KEY = "last_day"
#: The last complete day, in the property's time zone.
YESTERDAY = "yesterday"


def report_range(now: datetime, last_day: object, history_days: int) -> tuple[str, str]:
    """``startDate`` and ``endDate`` of the next report."""
    first = f"{history_days}daysAgo"
    if not isinstance(last_day, str):
        return first, YESTERDAY
    try:
        start = date.fromisoformat(last_day) - timedelta(days=REVISIT_DAYS)
    except ValueError:  # a state written by something else: read the whole history again
        return first, YESTERDAY
    today = now.astimezone(UTC).date()
    if start < today - timedelta(days=history_days):
        return first, YESTERDAY  # a long pause: no more than history_days
    if start >= today:
        return YESTERDAY, YESTERDAY
    return start.isoformat(), YESTERDAY


def day_end(day: date, zone: ZoneInfo) -> datetime:
    """The end of ``day`` in ``zone`` (the next midnight there), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
