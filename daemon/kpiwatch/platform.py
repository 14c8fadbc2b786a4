"""What a platform plugin registers, receives and returns."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import aiohttp
    import structlog

    from kpiwatch.toolkit.api import ApiClient, ApiPolicy

#: Where the per-account state keeps the metrics a platform stopped serving.
REMOVED_KEY = "removed_metrics"
#: A removed metric is asked for again after this long (a platform may bring it back).
REMOVED_RETRY_SECONDS = 7 * 86400.0

PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class NoSettings(BaseModel):
    """Settings model of a platform that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one vocabulary metric for the polled account.

    ``window`` is required for period metrics (``"1d"``, ``"7d"``, ``"28d"``) and must be absent
    for the others. ``dims`` holds the extra dimensions the vocabulary allows for the metric
    (``source``, ``currency``...). ``timestamp`` is when the value was true; None means the poll
    time, an earlier one is history (a daily series returned on first contact).
    """

    metric: str
    value: float
    window: str | None = None
    dims: Mapping[str, str] = field(default_factory=dict)
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """One published item with its lifetime counters (vocabulary metrics marked per-post)."""

    id: str
    published_at: datetime
    content_type: str
    metrics: Mapping[str, float]
    url: str | None = None


@dataclass(slots=True)
class CollectResult:
    """What one poll of one account returned."""

    samples: list[Sample] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)


@dataclass(slots=True)
class CollectContext:
    """Everything ``collect`` gets for one poll of one account.

    ``state`` is a dict the plugin may change; the daemon keeps it for the account between polls
    (cursors, refreshed tokens). ``log`` is bound to the platform and account.
    """

    account_id: str
    platform: str
    settings: Any
    labels: Mapping[str, str]
    competitor: bool
    http: aiohttp.ClientSession
    state: dict[str, Any]
    log: structlog.typing.FilteringBoundLogger
    now: datetime
    last_success: datetime | None = None
    api: ApiClient | None = None  # requests with rate limits, quotas, retries, error classes

    def metric_enabled(self, metric: str) -> bool:
        """False while ``metric`` is disabled for the account because the platform stopped
        serving it (see :meth:`metric_removed`); it is tried again after a week."""
        removed = self.state.get(REMOVED_KEY, {}).get(metric)
        if removed is None:
            return True
        return (self.now.timestamp() - removed.get("since", 0)) >= REMOVED_RETRY_SECONDS

    def metric_removed(self, metric: str, detail: str) -> None:
        """The platform no longer serves ``metric``: disable it for this account (the rest of
        the poll goes on) and raise a ``removed`` data-quality event while it stays disabled."""
        removed = self.state.setdefault(REMOVED_KEY, {})
        removed[metric] = {"since": self.now.timestamp(), "detail": detail[:300]}
        self.log.warning(
            "metric disabled: the platform no longer serves it", metric=metric, detail=detail[:300]
        )

    def metric_restored(self, metric: str) -> None:
        """``metric`` came back (after a retry): enable it again."""
        self.state.get(REMOVED_KEY, {}).pop(metric, None)

    @property
    def removed_metrics(self) -> dict[str, str]:
        """Metrics disabled for the account, with why."""
        return {m: str(v.get("detail", "")) for m, v in self.state.get(REMOVED_KEY, {}).items()}


CollectFunction = Callable[[CollectContext], Awaitable[CollectResult | Iterable[Sample]]]


@dataclass(frozen=True)
class Platform:
    """A platform a plugin registers through ``kpiwatch_register_platforms``.

    ``collect`` is an async function taking a CollectContext and returning a CollectResult or
    an iterable of Sample. ``settings`` is a pydantic model that validates the account's
    ``settings:`` mapping (declare secrets as ``SecretStr``). ``metrics`` lists the vocabulary
    metrics the platform can produce. ``max_concurrency`` bounds simultaneous polls of
    accounts of this platform, unless the configuration sets another bound.
    """

    name: str
    collect: CollectFunction
    settings: type[BaseModel] = NoSettings
    description: str = ""
    metrics: tuple[str, ...] = ()
    max_concurrency: int = 8
    default_interval: timedelta | None = None
    api: ApiPolicy | None = None  # rate limits, quota, retries and error classes of ctx.api

    def __post_init__(self) -> None:
        if not PLATFORM_NAME.match(self.name):
            raise ValueError(
                f"platform name {self.name!r} must be lower-case letters, digits and "
                "underscores, starting with a letter"
            )
        if not callable(self.collect):
            raise TypeError(f"platform {self.name!r}: collect must be an async function")
        if not (isinstance(self.settings, type) and issubclass(self.settings, BaseModel)):
            raise TypeError(f"platform {self.name!r}: settings must be a pydantic model class")
        if self.max_concurrency < 1:
            raise ValueError(f"platform {self.name!r}: max_concurrency must be at least 1")
