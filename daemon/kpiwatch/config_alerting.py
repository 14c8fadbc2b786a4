"""Configuration models of alerting: ``rules:``, ``notifiers:`` and ``alerting:``.

docs/configuration.md documents every key. Checks that need the KPI catalogue, the notifier
types or the template engine (unknown KPI, window not computed, template syntax) are in
:mod:`kpiwatch.config_validation`, which reports them at the rule's line and field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpiwatch.config_types import LABEL_NAME, Duration, Strict, check_label_name, positive
from kpiwatch.durations import format_duration

#: An alert name becomes the ``alertname`` label: Prometheus alert names follow the same rule.
ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NOTIFIER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: Labels an alert gets from kpiwatch; ``labels:`` of a rule may not set them.
ALERT_OWN_LABELS = frozenset({"alertname", "kpi", "metric", "window", "severity"})
CONDITION_KINDS = ("threshold", "change", "anomaly", "no_data", "data_quality", "goal")
DATA_QUALITY_CHECKS = ("stopped", "backwards", "jump", "removed")
#: What a goal rule watches for (docs/alerting.md, "Goals").
GoalCondition = Literal[
    "off_pace",
    "projected_miss",
    "achieved",
    "missed",
    "review_due",
    "not_achievable",
    "vanity_metric",
]
#: Labels a goal rule's ``scope:`` matches against.
GOAL_SCOPE_LABELS = ("goal", "kpi", "owner", "objective", "criterion")
#: Labels a goal alert gets from kpiwatch besides ALERT_OWN_LABELS.
GOAL_OWN_LABELS = frozenset({"goal", "period", "owner", "objective"})


class AnomalyCondition(Strict):
    baseline: Duration = Field(
        timedelta(days=28), description="History the median and MAD are taken from."
    )
    z: float = Field(3.5, gt=0, description="Robust z-score (in scaled MADs) that is anomalous.")
    seasonality: Literal["weekly", "none"] = Field(
        "weekly", description="weekly: compare with the same weekday only."
    )
    min_volume: float = Field(
        0, ge=0, description="Ignore values whose baseline median is below this (noise)."
    )
    direction: Literal["both", "up", "down"] = Field(
        "both", description="Fire on rises, falls or both."
    )
    min_points: int = Field(4, ge=3, description="Baseline days needed before judging.")

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=7) or value.total_seconds() % 86400:
            raise ValueError(
                "anomaly.baseline must be whole days and at least 7d; write for example 28d"
            )
        return value


class DataQualityCondition(Strict):
    checks: list[Literal["stopped", "backwards", "jump", "removed"]] = Field(
        default_factory=lambda: list(DATA_QUALITY_CHECKS),
        description="stopped: a metric missing from a poll that returned it before; "
        "backwards: a cumulative counter fell; jump: a value changed by more than `jump` times; "
        "removed: the platform no longer serves a metric, disabled for the account.",
    )
    jump: float = Field(10.0, gt=1, description="Factor between two polls that is implausible.")


class Condition(Strict):
    """What makes a rule's alert active. Exactly one kind: threshold (``above``/``below``),
    change (``change_above``/``change_below``), ``anomaly``, ``no_data``, ``data_quality`` or
    ``goal``."""

    above: float | None = None
    below: float | None = None
    change_above: float | None = Field(
        None, description="Relative change against the previous window, 0.2 = +20 %."
    )
    change_below: float | None = Field(
        None, description="Relative change against the previous window, -0.05 = -5 %."
    )
    min_baseline: float = Field(
        0, ge=0, description="Change rules judge only when the previous value is above this."
    )
    anomaly: AnomalyCondition | None = None
    no_data: Duration | None = Field(
        None, description="Fire when the metric or KPI has had no value for this long."
    )
    data_quality: DataQualityCondition | None = None
    goal: GoalCondition | None = Field(
        None,
        description="A goal rule: off_pace, projected_miss, achieved, missed, review_due, "
        "not_achievable or vanity_metric (docs/alerting.md, Goals).",
    )

    @property
    def kind(self) -> str:
        if self.above is not None or self.below is not None:
            return "threshold"
        if self.change_above is not None or self.change_below is not None:
            return "change"
        if self.anomaly is not None:
            return "anomaly"
        if self.no_data is not None:
            return "no_data"
        if self.goal is not None:
            return "goal"
        return "data_quality"

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        kinds = [
            kind
            for kind, given in (
                ("threshold", self.above is not None or self.below is not None),
                ("change", self.change_above is not None or self.change_below is not None),
                ("anomaly", self.anomaly is not None),
                ("no_data", self.no_data is not None),
                ("data_quality", self.data_quality is not None),
                ("goal", self.goal is not None),
            )
            if given
        ]
        if not kinds:
            raise ValueError(
                "a condition needs one of above, below, change_above, change_below, anomaly, "
                "no_data, data_quality, goal; write for example {below: 0.02} or "
                "{goal: off_pace}"
            )
        if len(kinds) > 1:
            raise ValueError(
                f"a condition has one kind, this one mixes {' and '.join(kinds)}; "
                "write one rule per kind"
            )
        if self.no_data is not None and self.no_data <= timedelta(0):
            raise ValueError("no_data must be longer than 0s; write for example 6h")
        if self.above is not None and self.below is not None and self.above < self.below:
            raise ValueError(
                f"above {self.above:g} or below {self.below:g} is true of every value; with "
                "both, above must be the upper bound (fires outside the band below..above)"
            )
        return self


class RuleConfig(Strict):
    """One alert rule: a KPI (or raw metric) checked per account or per group of accounts."""

    name: str = Field(description="The alertname label; letters, digits, underscores.")
    kpi: str | None = Field(None, description="A KPI of the catalogue (docs/kpis.md).")
    metric: str | None = Field(
        None, description="A vocabulary metric, for no_data and data_quality rules."
    )
    window: Duration | None = Field(
        None, description="KPI window, one of kpis.windows (default: the shortest)."
    )
    over: Duration | None = Field(None, description="Alias of window for change rules.")
    condition: Condition
    scope: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Accounts the rule watches: account, platform or any label, each a value or "
        "a list of values.",
    )
    by: list[str] = Field(
        default_factory=lambda: ["account"],
        description="One alert per value of these labels (account, platform or any label); "
        "[] for all accounts together.",
    )
    include_competitors: bool = Field(False, description="Watch competitor accounts too.")
    for_: Duration = Field(
        timedelta(0), alias="for", description="How long the condition holds before firing."
    )
    keep_firing_for: Duration = Field(
        timedelta(0), description="How long an alert keeps firing after the condition clears."
    )
    severity: str = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    notifiers: list[str] | None = Field(None, description="Notifier names (default: all).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ALERT_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid alert name; use letters, digits and underscores, "
                "starting with a letter, for example EngagementLow"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            check_label_name(name)
            if name in ALERT_OWN_LABELS:
                raise ValueError(
                    f"label {name!r} is set by kpiwatch; use the rule's own key "
                    f"(severity:) or another label name"
                )
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: list[str]) -> list[str]:
        for name in value:
            if not LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a label name; write for example [brand]")
        if len(set(value)) != len(value):
            raise ValueError("by lists a label twice; list each label once")
        return value

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("severity must not be empty; write for example warning")
        return value

    @model_validator(mode="after")
    def _source(self) -> RuleConfig:
        kind = self.condition.kind
        if kind == "goal":
            return self._goal_rule()
        if self.kpi is not None and self.metric is not None:
            raise ValueError("a rule watches a kpi or a metric, not both; remove one")
        if kind in ("threshold", "change", "anomaly") and self.kpi is None:
            raise ValueError(
                f"a {kind} rule needs kpi:; write for example kpi: engagement_rate "
                "(docs/kpis.md lists the KPIs)"
            )
        if kind == "data_quality" and self.kpi is not None:
            raise ValueError(
                "a data_quality rule watches raw metrics: give metric: or nothing (all metrics)"
            )
        if kind == "no_data" and self.kpi is None and self.metric is None:
            raise ValueError(
                "a no_data rule needs kpi: or metric:; write for example metric: reach"
            )
        if self.over is not None and self.window is not None and self.over != self.window:
            raise ValueError("over and window differ; give one of them")
        if kind in ("no_data", "data_quality") and self.by != ["account"]:
            raise ValueError(f"a {kind} rule is judged per account; remove by:")
        return self

    def _goal_rule(self) -> RuleConfig:
        """A goal rule watches the goals of ``goals:``: one alert per goal, no KPI of its own."""
        for key in ("kpi", "metric", "window", "over"):
            if getattr(self, key) is not None:
                raise ValueError(
                    f"a goal rule watches goals: remove {key}: (each goal names its KPI and "
                    "window; scope: {goal: NAME} picks goals)"
                )
        if self.by != ["account"]:
            raise ValueError("a goal rule has one alert per goal; remove by:")
        if self.include_competitors:
            raise ValueError(
                "a goal rule watches goals, whose own include_competitors decides their "
                "accounts; remove include_competitors:"
            )
        for name in self.labels:
            if name in GOAL_OWN_LABELS:
                raise ValueError(
                    f"label {name!r} is set by kpiwatch on goal alerts; use another label name"
                )
        return self

    @property
    def watched_window(self) -> timedelta | None:
        return self.window if self.window is not None else self.over


class NotifierConfig(BaseModel):
    """One notification channel. Keys besides the common ones are the type's settings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    type: str = Field(description="webhook, alertmanager, apprise or a plugin's notifier type.")
    send_resolved: bool = Field(True, description="Also notify when an alert resolves.")
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname"],
        description="Alerts sharing these labels go out in one notification; ['...'] for none.",
    )
    group_wait: Duration = Field(
        timedelta(seconds=0), description="Wait this long after a group's first alert."
    )
    group_interval: Duration = Field(
        timedelta(minutes=1), description="Least time between two notifications of a group."
    )
    repeat_interval: Duration = Field(
        timedelta(hours=4), description="Re-send a group that is still firing this often."
    )
    resend_interval: Duration = Field(
        timedelta(minutes=1),
        description="Alertmanager-type notifiers: active alerts are re-sent this often.",
    )
    max_age: Duration = Field(
        timedelta(hours=24), description="Undelivered notifications older than this are dropped."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NOTIFIER_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid notifier name; use lower-case letters, digits, "
                "'-' and '_', starting with a letter"
            )
        return value

    @property
    def settings(self) -> dict[str, Any]:
        """The type-specific keys as written (validated by the type's settings model)."""
        return dict(self.model_extra or {})


class OutboxSettings(Strict):
    backoff_initial: Duration = Field(
        timedelta(seconds=1), description="First retry delay of a failed delivery."
    )
    backoff_max: Duration = Field(timedelta(minutes=5), description="Longest retry delay.")
    timeout: Duration = Field(timedelta(seconds=10), description="Timeout of one delivery.")
    concurrency: int = Field(4, ge=1, description="Deliveries in flight per notifier.")


class AlertingSettings(Strict):
    interval: Duration = Field(
        timedelta(seconds=10),
        description="Rules are evaluated after every KPI cycle and at least this often.",
    )
    state_file: str = Field(
        "alerts.db", description="SQLite file of alert state and the outbox, relative to state_dir."
    )
    external_url: str | None = Field(
        None, description="Base URL of generatorURL (default: the server's own address)."
    )
    resolved_retention: Duration = Field(
        timedelta(minutes=15), description="Resolved alerts are kept (and shown) this long."
    )
    outbox: OutboxSettings = OutboxSettings()

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        return positive(value, "alerting.interval", "10s")


def duration_text(value: timedelta) -> str:
    return format_duration(value)
