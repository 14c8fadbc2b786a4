"""Daily quota budgets in units (YouTube Data API: 10,000 units a day, reset at midnight
Pacific time). Units are spent before a call; a call the budget cannot pay for is not made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kpiwatch.errors import QuotaExhausted


@dataclass
class QuotaBudget:
    """Units a credential may spend per day, counted since the last reset in ``timezone``."""

    name: str
    daily_units: int
    timezone: str = "UTC"
    used: int = 0
    period_start: float = field(default=float("-inf"))
    exhausted_until: float | None = None  # the platform said the quota is gone

    def next_reset(self, now: float) -> float:
        """Unix time of the next midnight in the budget's time zone."""
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(now, zone)
        tomorrow = (local + timedelta(days=1)).date()
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone).timestamp()

    def _roll(self, now: float) -> None:
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(now, zone)
        start = datetime(local.year, local.month, local.day, tzinfo=zone).timestamp()
        if start > self.period_start:
            self.period_start = start
            self.used = 0
            if self.exhausted_until is not None and self.exhausted_until <= now:
                self.exhausted_until = None

    def remaining(self, now: float) -> int:
        self._roll(now)
        if self.exhausted_until is not None and now < self.exhausted_until:
            return 0
        return max(0, self.daily_units - self.used)

    def spend(self, units: int, now: float) -> None:
        """Take ``units`` from today's budget, or raise QuotaExhausted (nothing is spent)."""
        left = self.remaining(now)
        if units > left:
            reset = self.next_reset(now)
            raise QuotaExhausted(
                f"{self.name}: {units} unit(s) needed, {left} of {self.daily_units} left today; "
                f"the quota resets at midnight {self.timezone}",
                retry_after=reset - now,
            )
        self.used += units

    def exhaust(self, now: float) -> float:
        """The platform said the quota is used up: nothing more until the next reset. Returns
        the seconds until then."""
        reset = self.next_reset(now)
        self._roll(now)
        self.exhausted_until = reset
        self.used = self.daily_units
        return reset - now
