"""What every demo platform shares: the generator interface, caches, and the async collect."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from pydantic import BaseModel

import kpiwatch
from kpiwatch_platforms.demo.draws import uniform
from kpiwatch_platforms.demo.settings import DemoSettings
from kpiwatch_platforms.demo.timeline import (
    Moment,
    Vector,
    window_parts,
)

#: Accounts whose parameters and current-day data (window sums, posts) stay cached (LRU).
CACHED_ACCOUNTS = 32768
#: Seconds of one fail_rate slot: polls within one slot all fail or all succeed.
FAIL_SLOT_SECONDS = 60
#: Metrics a competitor's public profile shows; the rest needs the owner's token.
PUBLIC_METRICS = frozenset({"followers", "following", "posts", "posts_published", "mentions"})
PUBLIC_POST_METRICS = frozenset({"likes", "comments", "shares", "video_views"})


def count(value: float) -> int:
    """A generated amount as a whole count (rounding is monotonic, so a <= b stays true)."""
    return int(value + 0.5) if value > 0 else 0


def money(value: float) -> float:
    """A generated amount of money, in cents precision."""
    return round(max(value, 0.0), 2)


class Generator(ABC):
    """One pretend platform: a settings model, per-account parameters, daily totals, samples."""

    name: str
    description: str
    metrics: tuple[str, ...]
    settings_model: type[DemoSettings]

    @abstractmethod
    def profile(self, settings: Any, account_id: str) -> Any:
        """The account's fixed parameters, drawn from (seed, account id)."""

    @abstractmethod
    def daily(self, profile: Any, day: int) -> Vector:
        """The additive totals of one UTC day, in the generator's field order."""

    def prepare(
        self, profile: Any, day: int, daily: Callable[[int], Vector], with_posts: bool = True
    ) -> Any:
        """What polls during ``day`` share (cached per account and day): the window sums."""
        return window_parts(daily, day)

    @abstractmethod
    def samples(
        self, profile: Any, moment: Moment, prepared: Any, competitor: bool
    ) -> list[kpiwatch.Sample]:
        """The samples of a poll at ``moment``; ``prepared`` is ``prepare(...)`` of its day."""

    def posts(
        self, profile: Any, moment: Moment, prepared: Any, competitor: bool
    ) -> list[kpiwatch.Post]:
        """Recent posts with their lifetime counters at ``moment``."""
        return []

    def platform(self) -> kpiwatch.Platform:
        return kpiwatch.Platform(
            name=self.name,
            collect=self.collect,
            settings=self.settings_model,
            description=self.description,
            metrics=self.metrics,
            max_concurrency=256,  # nothing to protect: no remote API behind it
        )

    async def collect(self, ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
        """Poll one demo account: a pure function of (settings, account id, ctx.now)."""
        settings = _settings(self.settings_model, ctx.settings)
        if settings.latency > 0:
            await asyncio.sleep(settings.latency)
        moment = Moment.of(ctx.now)
        slot = int(moment.at.timestamp() // FAIL_SLOT_SECONDS)
        if settings.fail_rate > 0 and (
            uniform(f"{settings.seed}|{ctx.account_id}|fail|{slot}") < settings.fail_rate
        ):
            raise kpiwatch.Unavailable(
                f"simulated outage of {self.name} (fail_rate {settings.fail_rate:g})"
            )
        profile = _profile(self, settings, ctx.account_id)
        prepared = await _prepared(self, profile, moment.day)
        samples = self.samples(profile, moment, prepared, ctx.competitor)
        if midnights := _midnights(moment, settings.history_days, ctx.last_success):
            # a one-off burst of CPU on first contact: keep the event loop free meanwhile
            history = await asyncio.to_thread(self._history, profile, midnights, ctx.competitor)
            samples = history + samples
        posts = self.posts(profile, moment, prepared, ctx.competitor)
        return kpiwatch.CollectResult(samples, posts)

    def _history(
        self, profile: Any, midnights: list[Moment], competitor: bool
    ) -> list[kpiwatch.Sample]:
        """Samples as polls at ``midnights`` would have seen them, timestamped so."""
        memo: dict[int, Vector] = {}

        def daily(day: int) -> Vector:
            if day not in memo:
                memo[day] = self.daily(profile, day)
            return memo[day]

        history: list[kpiwatch.Sample] = []
        for midnight in midnights:
            prepared = self.prepare(profile, midnight.day, daily, with_posts=False)
            history += [
                kpiwatch.Sample(s.metric, s.value, s.window, s.dims, midnight.at)
                for s in self.samples(profile, midnight, prepared, competitor)
            ]
        return history


def _midnights(moment: Moment, days: int, last_success: datetime | None) -> list[Moment]:
    """The 00:00 UTC moments of the last ``days`` days before ``moment``, after ``last_success``."""
    if days <= 0:
        return []
    since = moment.at - timedelta(days=days)
    if last_success is not None:
        since = max(since, last_success)
    first = Moment.of(since).day + 1
    midnights = (Moment.midnight(d) for d in range(first, moment.day + 1))
    return [m for m in midnights if m.at < moment.at]


def _settings(model: type[DemoSettings], raw: object) -> DemoSettings:
    if isinstance(raw, model):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    return model.model_validate(raw or {})


@lru_cache(maxsize=CACHED_ACCOUNTS)
def _profile(generator: Generator, settings: DemoSettings, account_id: str) -> Any:
    return generator.profile(settings, account_id)


#: What polls of one account during one day share, least recently used first.
_PREPARED: OrderedDict[tuple[Generator, Any, int], Any] = OrderedDict()


async def _prepared(generator: Generator, profile: Any, day: int) -> Any:
    """The cached ``prepare`` of the account's day; a new day is built in a worker thread.

    Building a day costs milliseconds per account, and every account builds one on its first
    poll of a UTC day: off the event loop, 10,000 accounts do not stall it at midnight.
    Only the event loop touches the cache.
    """
    key = (generator, profile, day)
    prepared = _PREPARED.get(key)
    if prepared is None:
        daily = partial(generator.daily, profile)
        prepared = await asyncio.to_thread(generator.prepare, profile, day, daily)
        _PREPARED[key] = prepared
        if len(_PREPARED) > CACHED_ACCOUNTS:
            _PREPARED.popitem(last=False)
    else:
        _PREPARED.move_to_end(key)
    return prepared
