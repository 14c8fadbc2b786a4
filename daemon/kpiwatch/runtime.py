"""Live state of the daemon: what the scheduler writes and the exporter and HTTP API read.

Everything here is touched only from the event loop thread. The exporter copies the accounts
that changed on the loop and renders the copies in a worker thread.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kpiwatch.platform import Sample
from kpiwatch.toolkit.api import ApiLimits
from kpiwatch.toolkit.ratelimit import RateLimitState

#: Bucket bounds (seconds) of the collect-duration histogram.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

SampleKey = tuple[str, str | None, tuple[tuple[str, str], ...]]  # metric, window, sorted dims


def sample_key(sample: Sample) -> SampleKey:
    return sample.metric, sample.window, tuple(sorted(sample.dims.items()))


@dataclass
class AccountStatus:
    """What is known of one account's polls."""

    account_id: str
    platform: str
    labels: Mapping[str, str]
    competitor: bool = False
    state: str = "pending"  # pending (no poll finished yet), up, down
    running: bool = False
    polls: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    invalid_samples: int = 0
    consecutive_failures: int = 0
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_error_reason: str | None = None
    last_error_message: str | None = None
    last_error_at: float | None = None
    next_poll: float | None = None
    last_sample_count: int = 0
    rate_limit: RateLimitState | None = None  # the platform's last rate-limit answer
    quota: tuple[int, int] | None = None  # (units left today, daily units)
    removed_metrics: dict[str, str] = field(default_factory=dict)  # disabled metric -> why

    @property
    def up(self) -> bool:
        return self.state == "up"


@dataclass
class DurationHistogram:
    """Cumulative histogram of collect durations for one platform."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1


@dataclass
class ReloadStatus:
    last_successful: bool = True
    last_success_time: float = field(default_factory=time.time)
    successes: int = 0
    failures: int = 0


class Runtime:
    """The daemon's live state. Call :meth:`changed` after every change."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountStatus] = {}
        self.latest: dict[str, dict[SampleKey, Sample]] = {}
        self.durations: dict[str, DurationHistogram] = {}
        #: Token buckets, quota budgets and rate-limit states shared by every poll.
        self.api_limits = ApiLimits()
        self.reload = ReloadStatus()
        self.shard_index = 0
        self.shard_count = 1
        self.config_loaded = False
        self.started_at = time.time()
        self._listeners: list[Callable[[str | None], None]] = []

    # change notification -------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener(account_id)`` (on the loop, cheaply) after every change.

        ``account_id`` names the one account that changed, or is None when something not
        tied to one account changed (reload status, readiness).
        """
        self._listeners.append(listener)

    def changed(self, account_id: str | None = None) -> None:
        for listener in self._listeners:
            listener(account_id)

    # readiness ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Configuration loaded and every account has finished its first poll."""
        return self.config_loaded and all(s.state != "pending" for s in self.accounts.values())

    # accounts ----------------------------------------------------------------------------
    def add_account(self, status: AccountStatus) -> None:
        self.accounts[status.account_id] = status
        self.latest.setdefault(status.account_id, {})
        self.changed(status.account_id)

    def remove_account(self, account_id: str) -> None:
        self.accounts.pop(account_id, None)
        self.latest.pop(account_id, None)
        self.changed(account_id)

    def durations_for(self, platform: str) -> DurationHistogram:
        return self.durations.setdefault(platform, DurationHistogram())

    def store_samples(self, account_id: str, samples: list[Sample]) -> None:
        """Keep the newest value of each metric/window/dims of the account."""
        latest = self.latest.setdefault(account_id, {})
        for sample in samples:
            key = sample_key(sample)
            old = latest.get(key)
            if old is None or _newer_or_same(sample, old):
                latest[key] = sample


def _newer_or_same(new: Sample, old: Sample) -> bool:
    if new.timestamp is None or old.timestamp is None:
        return True
    return new.timestamp >= old.timestamp
