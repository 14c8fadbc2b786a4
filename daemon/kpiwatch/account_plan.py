"""The effective polling options of one account: its own, its platform's, or the defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel

from kpiwatch.config import AccountConfig, Config
from kpiwatch.platform import Platform


@dataclass(frozen=True)
class AccountPlan:
    """Everything that decides how one account is polled; equal plans need no restart."""

    account: AccountConfig
    settings: BaseModel
    platform: Platform
    interval: timedelta
    timeout: timedelta
    jitter: float
    backoff_initial: timedelta
    backoff_max: timedelta
    startup_spread: timedelta
    max_concurrency: int

    @classmethod
    def build(
        cls, account: AccountConfig, settings: BaseModel, platform: Platform, config: Config
    ) -> AccountPlan:
        d = config.defaults
        options = config.platforms.get(platform.name)
        limit = (
            options.max_concurrency
            if options and options.max_concurrency
            else platform.max_concurrency
        )
        return cls(
            account=account,
            settings=settings,
            platform=platform,
            interval=account.interval or platform.default_interval or d.interval,
            timeout=account.timeout or d.timeout,
            jitter=d.jitter if account.jitter is None else account.jitter,
            backoff_initial=d.backoff_initial,
            backoff_max=d.backoff_max,
            startup_spread=d.startup_spread,
            max_concurrency=limit,
        )
