"""The configuration models (pydantic v2). docs/configuration.md documents every key.

Loading a file (YAML, ``${VAR}`` interpolation, errors with file and line) is in
:mod:`kpiwatch.config_loader`; this module only says what a valid configuration is.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from kpiwatch.config_alerting import AlertingSettings, NotifierConfig, RuleConfig
from kpiwatch.config_goals import GoalConfig, GoalTrackingSettings
from kpiwatch.config_types import Duration, Strict, check_label_name, positive
from kpiwatch.durations import format_duration

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
#: Label names kpiwatch sets itself; an account may not use them.
RESERVED_LABELS = frozenset(
    {
        "platform",
        "account",
        "window",
        "competitor",
        "reason",
        "job",
        "instance",
        "le",
        "quantile",
        "source",
        "medium",
        "currency",
        "campaign",
        "basis",
        "period",
        "kpi",
        "content_type",
        "weekday",
        "hour",
    }
)


class ServerConfig(Strict):
    listen: str = Field("127.0.0.1:9877", description="host:port the HTTP server binds to.")
    enable_reload: bool = Field(True, description="Accept POST /-/reload.")
    metrics_min_render_interval: Duration = Field(
        timedelta(seconds=1), description="Least time between two renders of /metrics."
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(
                f"{value!r} is not host:port; write for example 127.0.0.1:9877 "
                "(0.0.0.0:9877 to listen on every interface)"
            )
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class LogConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise."
    )


class PollDefaults(Strict):
    interval: Duration = timedelta(minutes=15)
    timeout: Duration = timedelta(seconds=30)
    jitter: float = Field(0.1, ge=0, le=1, description="Fraction of the interval, 0 to 1.")
    backoff_initial: Duration = timedelta(seconds=30)
    backoff_max: Duration = timedelta(hours=1)
    startup_spread: Duration = Field(
        timedelta(seconds=10), description="First polls after start-up spread over this long."
    )

    @model_validator(mode="after")
    def _check(self) -> PollDefaults:
        if self.interval <= timedelta(0):
            raise ValueError("interval must be longer than 0s; write for example 15m")
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be longer than 0s; write for example 30s")
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                "backoff_max must not be shorter than backoff_initial; "
                "raise backoff_max or lower backoff_initial"
            )
        return self


class PlatformOptions(Strict):
    max_concurrency: int | None = Field(None, ge=1, description="Simultaneous polls.")


class HttpConfig(Strict):
    max_connections: int = Field(100, ge=1)
    max_connections_per_host: int = Field(10, ge=1)
    user_agent: str = "kpiwatch/{version} (+https://github.com/kpiwatch/kpiwatch)"


class ShardConfig(Strict):
    index: int = Field(0, ge=0)
    count: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> ShardConfig:
        if self.index >= self.count:
            raise ValueError(
                f"shard.index {self.index} must be below shard.count {self.count}; "
                f"indexes start at 0, so use 0 to {self.count - 1}"
            )
        return self


class RetentionConfig(Strict):
    raw: Duration = Field(timedelta(days=14), description="Every poll's samples kept this long.")
    hourly: Duration = Field(timedelta(days=90), description="Hourly rows kept this long.")
    daily: Duration = Field(timedelta(days=730), description="Daily rows kept this long.")

    @model_validator(mode="after")
    def _check(self) -> RetentionConfig:
        if self.raw < timedelta(hours=1):
            raise ValueError("retention.raw must be at least 1h; write for example 14d")
        if not self.raw <= self.hourly <= self.daily:
            raise ValueError(
                "retention must grow from raw to hourly to daily; "
                "write for example raw: 14d, hourly: 90d, daily: 2y"
            )
        return self


class HistoryConfig(Strict):
    file: str = Field("kpiwatch.db", description="SQLite file, relative to state_dir.")
    flush_interval: Duration = Field(
        timedelta(milliseconds=500),
        description="A poll's samples are written at most this long after it ends, in one "
        "transaction with everything else that came in meanwhile.",
    )
    maintenance_interval: Duration = Field(
        timedelta(hours=1), description="How often old samples are downsampled and pruned."
    )
    retention: RetentionConfig = RetentionConfig()

    @model_validator(mode="after")
    def _check(self) -> HistoryConfig:
        if self.flush_interval <= timedelta(0):
            raise ValueError("history.flush_interval must be longer than 0s; write for example 2s")
        if self.maintenance_interval <= timedelta(0):
            raise ValueError(
                "history.maintenance_interval must be longer than 0s; write for example 1h"
            )
        return self


class AccountConfig(Strict):
    id: str
    platform: str
    labels: dict[str, str] = Field(default_factory=dict)
    competitor: bool = False
    objective: Literal["reach", "engagement", "roi", "loyalty"] | None = Field(
        None, description="The business objective the account serves (goals' relevance check)."
    )
    enabled: bool = True
    interval: Duration | None = None
    timeout: Duration | None = None
    jitter: float | None = Field(None, ge=0, le=1)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ACCOUNT_ID.match(value):
            raise ValueError(
                f"{value!r} is not a valid account id; use letters, digits and . _ - : @ "
                "(at most 128 characters, starting with a letter or digit)"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            check_label_name(name)
            if name in RESERVED_LABELS:
                raise ValueError(
                    f"label name {name!r} is set by kpiwatch itself; choose another name "
                    f"(reserved: {', '.join(sorted(RESERVED_LABELS))})"
                )
        return value

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than 0s; write for example 15m, or remove the key")
        return value


KPI_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=28), timedelta(days=90))


class BasisSetting(Strict):
    basis: list[str] = Field(
        description="Denominators to try in order; the first one the account reports is used."
    )

    @field_validator("basis")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("basis needs at least one metric; write for example [reach]")
        if len(set(value)) != len(value):
            raise ValueError("basis lists a metric twice; list each metric once")
        return value


class EngagementRateSettings(BasisSetting):
    basis: list[str] = Field(
        ["reach", "impressions", "followers"],
        description="Denominators of the engagement rate, tried in order.",
    )


class ViralityRateSettings(BasisSetting):
    basis: list[str] = Field(
        ["impressions", "reach"], description="Denominators of the virality rate, tried in order."
    )


class ConversionRateSettings(BasisSetting):
    basis: list[str] = Field(
        ["sessions", "clicks"], description="Denominators of the conversion rate, tried in order."
    )


class InteractionsSettings(Strict):
    components: list[str] = Field(
        ["likes", "comments", "shares", "saves"],
        description="Metrics summed as engagements where a platform reports no total.",
    )


class KaushikSettings(Strict):
    per: Literal["post", "follower"] = Field(
        "post",
        description="Amplification, applause and conversation rates per post, or per post "
        "and follower.",
    )


class AcquisitionSettings(Strict):
    per: Literal["conversions", "customers_new"] = Field(
        "conversions", description="What one acquisition is: a conversion or a new customer."
    )


class RoiSettings(Strict):
    costs: list[str] = Field(
        ["spend", "investment"], description="Money metrics that make up the investment."
    )
    margin: float = Field(
        1.0, gt=0, le=1, description="Share of revenue counted as return (1: all of it)."
    )


class ReferralSettings(Strict):
    mediums: list[str] = Field(
        ["social"], min_length=1, description="Traffic mediums counted as referral traffic."
    )


class SegmentSettings(Strict):
    enabled: bool = Field(True, description="Export post figures by content type, weekday, hour.")
    window: Duration = Field(
        timedelta(days=90), description="Posts published within this window are counted."
    )
    timezone: str = Field("UTC", description="IANA time zone of the weekday and hour.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone; write an IANA name such as "
                "Europe/Copenhagen or UTC"
            ) from None
        return value


class KpiExportSettings(Strict):
    previous: bool = Field(True, description="Export the previous window's values too.")
    components: bool = Field(True, description="Export numerators and denominators.")


class CustomKpi(Strict):
    name: str
    expr: str = Field(description="Formula over vocabulary metrics and other KPIs.")
    unit: Literal["ratio", "count", "per_post", "seconds", "currency"] = "count"
    direction: Literal["higher", "lower"] = "higher"
    objective: Literal["reach", "engagement", "roi", "loyalty"] = "engagement"
    title: str = ""
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not KPI_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid KPI name; use lower-case letters, digits and "
                "underscores, starting with a letter"
            )
        return value


class KpiSettings(Strict):
    windows: list[Duration] = Field(
        default_factory=lambda: list(DEFAULT_WINDOWS),
        description="Windows every KPI is computed over, each with its previous window.",
    )
    interval: Duration = Field(
        timedelta(seconds=1),
        description="KPIs are recomputed as soon as new polls are stored, at most this often.",
    )
    interactions: InteractionsSettings = InteractionsSettings()
    engagement_rate: EngagementRateSettings = EngagementRateSettings()
    virality_rate: ViralityRateSettings = ViralityRateSettings()
    conversion_rate: ConversionRateSettings = ConversionRateSettings()
    conversation_rates: KaushikSettings = KaushikSettings()
    cost_per_acquisition: AcquisitionSettings = AcquisitionSettings()
    roi: RoiSettings = RoiSettings()
    referral_traffic: ReferralSettings = ReferralSettings()
    segments: SegmentSettings = SegmentSettings()
    export: KpiExportSettings = KpiExportSettings()
    custom: list[CustomKpi] = Field(default_factory=list)

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[timedelta]) -> list[timedelta]:
        if not value:
            raise ValueError("kpis.windows needs at least one window; write for example [7d, 28d]")
        for window in value:
            seconds = window.total_seconds()
            if seconds < 3600 or seconds % 3600:
                raise ValueError(
                    f"window {format_duration(window)} is not a whole number of hours of at "
                    "least 1h; write for example 1d, 7d, 28d"
                )
        if len(set(value)) != len(value):
            raise ValueError("kpis.windows lists a window twice; list each window once")
        return sorted(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        return positive(value, "kpis.interval", "15s")


class Config(Strict):
    """The whole configuration file."""

    server: ServerConfig = ServerConfig()
    state_dir: Path = Path("./state")
    history: HistoryConfig = HistoryConfig()
    log: LogConfig = LogConfig()
    defaults: PollDefaults = PollDefaults()
    platforms: dict[str, PlatformOptions] = Field(default_factory=dict)
    http: HttpConfig = HttpConfig()
    shard: ShardConfig = ShardConfig()
    shutdown_grace: Duration = timedelta(seconds=10)
    accounts: list[AccountConfig] = Field(default_factory=list)
    kpis: KpiSettings = KpiSettings()
    rules: list[RuleConfig] = Field(default_factory=list)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    alerting: AlertingSettings = AlertingSettings()
    goals: list[GoalConfig] = Field(default_factory=list)
    goal_tracking: GoalTrackingSettings = GoalTrackingSettings()

    # Unique account ids are checked by kpiwatch.config_validation, which can name both lines.
