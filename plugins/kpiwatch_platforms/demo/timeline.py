"""Time in the demo: UTC days, growth curves with weekly seasonality, posting schedules, windows.

Every quantity is a closed-form function of the day index, so a poll computes only the days it
needs (at most the last 29 for a 28-day window) and never replays an account's history.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from itertools import accumulate

from kpiwatch_platforms.demo.draws import Draws, uniform, uniform_pair

DAY_SECONDS = 86400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The day the configured audience sizes refer to (2026-01-01); growth runs from there.
REFERENCE_DAY = (date(2026, 1, 1) - date(1970, 1, 1)).days
#: Windows of every period metric: name and length in days.
WINDOWS: tuple[tuple[str, int], ...] = (("1d", 1), ("7d", 7), ("28d", 28))
LONGEST_WINDOW = max(days for _, days in WINDOWS)

Vector = list[float]


def weekday(day: int) -> int:
    """Monday 0 ... Sunday 6 of a day index (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


@dataclass(frozen=True, slots=True)
class Moment:
    """A poll time split into the UTC day index and the fraction of that day elapsed."""

    at: datetime
    day: int
    seconds: float  # since 00:00 UTC of ``day``

    @property
    def fraction(self) -> float:
        return self.seconds / DAY_SECONDS

    @classmethod
    def of(cls, now: datetime) -> Moment:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        elapsed = (now - EPOCH).total_seconds()
        day = math.floor(elapsed / DAY_SECONDS)
        return cls(now, day, elapsed - day * DAY_SECONDS)

    @classmethod
    def midnight(cls, day: int) -> Moment:
        return cls(day_start(day), day, 0.0)


def day_start(day: int) -> datetime:
    return EPOCH + timedelta(days=day)


class WeeklyClock:
    """Stretches time so that more of a week's growth falls on busy weekdays.

    ``at(day)`` advances by ``7 * share[weekday]`` from one day to the next, and by exactly 7
    over any week, so a trend evaluated on it keeps its average pace with weekly seasonality.
    """

    __slots__ = ("_before", "_shares")

    def __init__(self, weekday_weights: Sequence[float]) -> None:
        total = sum(weekday_weights)
        self._shares = tuple(w / total for w in weekday_weights)
        # day % 7 == 0 is a Thursday; the running share before each position of such a week
        ordered = [self._shares[(pos + 3) % 7] for pos in range(7)]
        self._before = (0.0, *accumulate(ordered))

    def at(self, day: int) -> float:
        week, pos = divmod(day, 7)
        return 7.0 * (week + self._before[pos])

    def min_share(self) -> float:
        return min(self._shares)


@dataclass(frozen=True, eq=False)
class Curve:
    """A level (followers, customers) at 00:00 UTC of each day.

    Exponential trend of ``growth`` per year on a :class:`WeeklyClock`, a slow wobble
    interpolated between weekly random knots, some of which are dips of ``wave`` (unfollow
    waves: days that lose followers, then recover), and a little daily jitter. ``base`` is
    the level at the reference day.
    """

    key: str
    base: float
    growth: float
    clock: WeeklyClock
    wobble: float = 0.003
    jitter: float = 0.0003
    wave: float = 0.012
    wave_chance: float = 0.12  # per week

    def at(self, day: int) -> float:
        trend = self.base * math.exp(self.growth * (self.clock.at(day) - REFERENCE_DAY) / 365.0)
        week, pos = divmod(day, 7)
        k0, k1 = self._knot(week), self._knot(week + 1)
        jitter = self.jitter * (2.0 * uniform(f"{self.key}|jit|{day}") - 1.0)
        return max(0.0, trend * (1.0 + k0 + (k1 - k0) * pos / 7.0 + jitter))

    def _knot(self, week: int) -> float:
        level, wave = uniform_pair(f"{self.key}|knot|{week}")
        knot = self.wobble * (2.0 * level - 1.0)
        if wave < self.wave_chance:
            knot -= self.wave * (0.5 + wave / self.wave_chance)
        return knot

    def now(self, moment: Moment) -> float:
        """The level at ``moment``, moving evenly through the day."""
        start = self.at(moment.day)
        return start + moment.fraction * (self.at(moment.day + 1) - start)


@dataclass(frozen=True, eq=False)
class Schedule:
    """When an account publishes: a count per day and the seconds of day of each post.

    ``before(day)`` (posts published before 00:00 of ``day``) is a floor of a weekly-seasonal
    line plus a per-day jitter smaller than the smallest daily step, so it never decreases
    and the daily counts vary (0 to a few) without replaying history.
    """

    key: str
    per_week: float
    clock: WeeklyClock
    created: int  # day index the account began publishing
    hours: tuple[float, ...]  # cumulative weights of the 24 publishing hours
    kinds: tuple[float, ...]  # cumulative weights of the content types

    def _raw(self, day: int) -> int:
        step = self.per_week / 7.0
        jitter = uniform(f"{self.key}|pj|{day}") * self.per_week * self.clock.min_share() * 0.999
        return math.floor(step * self.clock.at(day) + jitter)

    @cached_property
    def _origin(self) -> int:
        return self._raw(self.created)

    def before(self, day: int) -> int:
        if day <= self.created:
            return 0
        return self._raw(day) - self._origin

    def count(self, day: int) -> int:
        return self.before(day + 1) - self.before(day)

    def day_posts(self, day: int) -> list[tuple[int, int, int]]:
        """(post index, seconds after 00:00, content type index) of the posts of ``day``."""
        first = self.before(day)
        count = self.before(day + 1) - first
        if count <= 0:
            return []
        draws = Draws(f"{self.key}|day|{day}")
        seconds = sorted(int((draws.pick(self.hours) + draws.u()) * 3600) for _ in range(count))
        return [(first + i, s, draws.pick(self.kinds)) for i, s in enumerate(seconds)]


@dataclass(frozen=True, slots=True)
class WindowParts:
    """Daily totals around one day, enough to sum any window ending on that day.

    A window of ``n`` days ending at a moment of day ``t`` (fraction ``f`` elapsed) is
    ``f * today + sum(days t-n+1 .. t-1) + (1 - f) * day(t-n)``: the 24 h ending at the moment
    for ``1d``, and so on, assuming activity spreads evenly through each day.
    """

    today: Sequence[float]
    middle: dict[int, Sequence[float]]  # window length -> sum of the full days inside it
    edge: dict[int, Sequence[float]]  # window length -> the day it partly covers at its start

    def window(self, days: int, fraction: float) -> Vector:
        rest = 1.0 - fraction
        return [
            fraction * t + m + rest * e
            for t, m, e in zip(self.today, self.middle[days], self.edge[days], strict=True)
        ]


def window_parts(daily: Callable[[int], Vector], day: int) -> WindowParts:
    """The window parts of ``day`` from the per-day totals ``daily(d)`` (compact arrays)."""
    days = {d: daily(d) for d in range(day - LONGEST_WINDOW, day + 1)}
    middle: dict[int, Sequence[float]] = {}
    edge: dict[int, Sequence[float]] = {}
    running = [0.0] * len(days[day])
    covered = 0
    for _, length in sorted(WINDOWS, key=lambda w: w[1]):
        while covered < length - 1:
            covered += 1
            running = [a + b for a, b in zip(running, days[day - covered], strict=True)]
        middle[length] = array("d", running)
        edge[length] = array("d", days[day - length])
    return WindowParts(array("d", days[day]), middle, edge)
