"""The catalogue of kpiwatch's own metrics (about polls, configuration and the exporter).

The exporter emits exactly these families besides the raw vocabulary metrics, and
docs/metrics.md is generated from this catalogue; a test holds the rendered output to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram", "info"]

#: Labels of every per-account series: ``competitor="true"`` is present only on competitor
#: accounts, and the account's own configured labels come between them.
ACCOUNT_LABELS: tuple[str, ...] = ("platform", "account", "<account labels>", "competitor")


@dataclass(frozen=True)
class SelfMetric:
    """One self-metric: its full exported name (``_total`` included on counters)."""

    name: str
    type: MetricType
    unit: str
    labels: tuple[str, ...]
    description: str

    @property
    def family_name(self) -> str:
        """The name prometheus_client's metric families take (without ``_total``/``_info``)."""
        if self.type == "counter":
            return self.name.removesuffix("_total")
        if self.type == "info":
            return self.name.removesuffix("_info")
        return self.name

    @property
    def text_type(self) -> str:
        """The TYPE this metric has in the Prometheus text format 0.0.4."""
        return "gauge" if self.type == "info" else self.type


_A = ACCOUNT_LABELS


def _m(name: str, typ: MetricType, unit: str, labels: tuple[str, ...], text: str) -> SelfMetric:
    return SelfMetric(name, typ, unit, labels, text)


# fmt: off
SELF_METRICS: tuple[SelfMetric, ...] = (
    # per account ------------------------------------------------------------------------------
    _m("kpiwatch_up", "gauge", "boolean", _A,
       "1 if the account's last poll succeeded, 0 if it failed. Absent until the first poll of "
       "the account has finished (see kpiwatch_accounts_pending)."),
    _m("kpiwatch_last_success_timestamp_seconds", "gauge", "seconds", _A,
       "Unix time the last successful poll of the account finished. Absent until one has."),
    _m("kpiwatch_last_collect_duration_seconds", "gauge", "seconds", _A,
       "How long the account's last finished poll took, successful or not."),
    _m("kpiwatch_last_collect_samples", "gauge", "count", _A,
       "Samples the account's last successful poll returned and kpiwatch accepted."),
    _m("kpiwatch_consecutive_failures", "gauge", "count", _A,
       "Polls of the account that failed in a row; 0 after a success."),
    _m("kpiwatch_collect_in_progress", "gauge", "boolean", _A,
       "1 while a poll of the account is running, else 0."),
    _m("kpiwatch_next_poll_timestamp_seconds", "gauge", "seconds", _A,
       "Unix time the next poll of the account is due. Absent when none is scheduled."),
    _m("kpiwatch_polls_total", "counter", "count", _A,
       "Polls of the account that finished, successful or not, since the daemon started."),
    _m("kpiwatch_collect_failures_total", "counter", "count", (*_A, "reason"),
       "Failed polls of the account by reason (see the table of reasons). A reason appears once "
       "it has occurred for the account."),
    _m("kpiwatch_skipped_polls_total", "counter", "count", _A,
       "Polls of the account that were due but not started, for instance because the "
       "previous poll was still running."),
    _m("kpiwatch_invalid_samples_total", "counter", "count", _A,
       "Samples and posts the account's polls returned that were dropped as invalid (metric "
       "not in the vocabulary, wrong window, dimension not allowed, bad value or time)."),
    _m("kpiwatch_rate_limit_remaining", "gauge", "count", _A,
       "Calls left in the platform's current rate-limit window for the account's credential, "
       "as the platform's last answer said (Meta: percent of the budget left); 0 while a "
       "429 holds the credential. Absent until the platform sent rate-limit headers or "
       "throttled the credential."),
    _m("kpiwatch_rate_limit_limit", "gauge", "count", _A,
       "Calls the platform's current rate-limit window allows (Meta: 100, percent)."),
    _m("kpiwatch_rate_limit_reset_timestamp_seconds", "gauge", "seconds", _A,
       "Unix time the platform's current rate-limit window resets, when it says."),
    _m("kpiwatch_quota_remaining_units", "gauge", "units", _A,
       "Quota units the account's credential has left today (YouTube Data API: of 10,000; "
       "reset at midnight Pacific time)."),
    _m("kpiwatch_quota_limit_units", "gauge", "units", _A,
       "Quota units the account's credential may spend per day."),
    _m("kpiwatch_metrics_disabled", "gauge", "count", _A,
       "Metrics disabled for the account because the platform stopped serving them; each is "
       "tried again after a week and raises a `removed` data-quality event meanwhile."),
    # per platform -----------------------------------------------------------------------------
    _m("kpiwatch_collect_duration_seconds", "histogram", "seconds", ("platform",),
       "Duration of finished polls, successful or not, of the platform's accounts."),
    _m("kpiwatch_accounts", "gauge", "count", ("platform",),
       "Accounts of the platform configured (and enabled) in this shard."),
    _m("kpiwatch_accounts_pending", "gauge", "count", ("platform",),
       "Accounts of the platform whose first poll has not finished yet."),
    # process ----------------------------------------------------------------------------------
    _m("kpiwatch_build_info", "info", "", ("version", "python"),
       "Always 1; the labels name the kpiwatch and Python versions."),
    _m("kpiwatch_ready", "gauge", "boolean", (),
       "1 when the configuration is loaded and every account has finished its first poll "
       "(what /readyz reports), else 0."),
    _m("kpiwatch_start_time_seconds", "gauge", "seconds", (),
       "Unix time the daemon started."),
    _m("kpiwatch_shard_ordinal", "gauge", "", (),
       "Index of this replica's shard, from 0 (shard.index)."),
    _m("kpiwatch_total_shards", "gauge", "count", (),
       "Number of shards the accounts are split into (shard.count)."),
    _m("kpiwatch_config_last_reload_successful", "gauge", "boolean", (),
       "1 if the last configuration (re)load succeeded, 0 if it failed and the previous "
       "configuration is still in use."),
    _m("kpiwatch_config_last_reload_success_timestamp_seconds", "gauge", "seconds", (),
       "Unix time of the last successful configuration (re)load."),
    _m("kpiwatch_config_reloads_total", "counter", "count", ("result",),
       "Configuration reloads since the daemon started, by result (success, failure)."),
    _m("kpiwatch_exposition_render_duration_seconds", "gauge", "seconds", (),
       "How long rendering the previous /metrics exposition took (absent before the second)."),
    _m("kpiwatch_exposition_series", "gauge", "count", (),
       "Series (sample lines) in this /metrics exposition, this one included."),
)

#: Families of the rule engine and the outbox, rendered by the alert service's own section.
ALERT_METRICS: tuple[SelfMetric, ...] = (
    _m("kpiwatch_alerts", "gauge", "count", ("rule", "severity", "state"),
       "Alerts of each rule by state: pending (condition holds, waiting for `for`), firing, "
       "resolved (kept alerting.resolved_retention). Every configured rule has all three."),
    _m("kpiwatch_rule_evaluation_duration_seconds", "gauge", "seconds", (),
       "How long the last evaluation of every rule took."),
    _m("kpiwatch_rule_evaluation_timestamp_seconds", "gauge", "seconds", (),
       "Unix time the rules were last evaluated."),
    _m("kpiwatch_rule_evaluation_failures_total", "counter", "count", ("rule",),
       "Evaluations of the rule that failed (its alerts were kept as they were)."),
    _m("kpiwatch_notifications_total", "counter", "count", ("notifier", "outcome"),
       "Delivery attempts by notifier and outcome: delivered, retry (failed, will be retried), "
       "dead (given up: max_age passed or the receiver refused it), superseded (a newer "
       "Alertmanager snapshot replaced it before delivery)."),
    _m("kpiwatch_outbox_messages", "gauge", "count", ("notifier",),
       "Notifications waiting in the outbox for delivery."),
    _m("kpiwatch_outbox_oldest_age_seconds", "gauge", "seconds", ("notifier",),
       "Age of the oldest notification waiting in the outbox; 0 when none waits."),
)

_G = ("goal",)
_KPI_UNIT = "KPI's unit"

#: Families of the goal tracker (docs/goals.md), rendered by the goal service's own section.
#: Every per-goal series has the label ``goal``, the goal's name.
GOAL_METRICS: tuple[SelfMetric, ...] = (
    _m("kpiwatch_goal_info", "info", "",
       (*_G, "kpi", "window", "measure", "criterion", "direction", "owner", "objective", "unit",
        "period"),
       "Always 1; the labels describe the goal: its KPI and window, measure (value, change, "
       "total), criterion (reach, stay_above, stay_below), the KPI's good direction (higher, "
       "lower), owner, business objective, the KPI's unit (ratio, count, per_post, seconds, "
       "currency) and the label of the current period."),
    _m("kpiwatch_goal_target", "gauge", _KPI_UNIT, _G,
       "The goal's target in the current period (a relative target resolved against the "
       "baseline). Absent while it is not known."),
    _m("kpiwatch_goal_baseline", "gauge", _KPI_UNIT, _G,
       "The value progress is measured from: the configured baseline, or the KPI at the start "
       "of the period (0 for measures change and total). Absent while it is not known."),
    _m("kpiwatch_goal_current", "gauge", _KPI_UNIT, _G,
       "The goal's measure now (at the deadline once it has passed). Absent without recent "
       "data."),
    _m("kpiwatch_goal_expected", "gauge", _KPI_UNIT, _G,
       "Where the measure should be now on a linear path from baseline to target (the target "
       "itself for stay_above and stay_below). Absent while it is not known."),
    _m("kpiwatch_goal_projected", "gauge", _KPI_UNIT, _G,
       "The measure projected to the deadline by a Theil-Sen fit to the recent trend. Absent "
       "before the start, after the deadline and without enough recent data."),
    _m("kpiwatch_goal_progress_ratio", "gauge", "ratio", _G,
       "reach: the fraction of the way from baseline to target covered (below 0 when the "
       "measure went the wrong way, above 1 past the target); stay_above/stay_below: the "
       "share of completed days within the limit. Absent while it is not known."),
    _m("kpiwatch_goal_elapsed_ratio", "gauge", "ratio", _G,
       "The elapsed fraction of the current period: 0 before the start, 1 after the deadline."),
    _m("kpiwatch_goal_status", "gauge", "boolean", (*_G, "status"),
       "1 for the goal's current status, 0 for the others: every goal has a series for each "
       "of not_started, on_track, behind, at_risk, achieved, missed."),
    _m("kpiwatch_goal_start_timestamp_seconds", "gauge", "seconds", _G,
       "Unix time the current period starts (00:00 UTC, inclusive)."),
    _m("kpiwatch_goal_deadline_timestamp_seconds", "gauge", "seconds", _G,
       "Unix time the current period ends (00:00 UTC, exclusive): the deadline."),
    _m("kpiwatch_goal_review_due_timestamp_seconds", "gauge", "seconds", _G,
       "Unix time the goal is due for review: review_every after `reviewed` (default the "
       "start). Absent for recurring goals without `reviewed`."),
    # not *_days: promtool wants durations in seconds, and these count days
    _m("kpiwatch_goal_daily_breaches", "gauge", "days", _G,
       "stay_above/stay_below: completed days of the period on which the KPI broke the limit."),
    _m("kpiwatch_goal_daily_checks", "gauge", "days", _G,
       "stay_above/stay_below: completed days of the period with a value, each checked "
       "against the limit."),
    _m("kpiwatch_goal_achievability_ratio", "gauge", "ratio", _G,
       "The pace the goal needs over the best pace its history shows (for stay_above and "
       "stay_below: the share of days that must be within the limit over the share that "
       "was). Above the goal's achievable_factor it is flagged not_achievable. Absent when "
       "unknown or infinite."),
    _m("kpiwatch_goal_flags", "gauge", "boolean", (*_G, "flag"),
       "1 when the flag is raised, else 0, for every goal and flag: not_achievable (asks for "
       "more than achievable_factor times the best pace in the history), vanity_metric (the "
       "KPI serves another objective than the goal's or any its accounts declare), review_due, "
       "not_judged (in the early window, before the start or without data)."),
    _m("kpiwatch_goal_evaluation_timestamp_seconds", "gauge", "seconds", (),
       "Unix time the goals were last evaluated."),
    _m("kpiwatch_goal_evaluation_duration_seconds", "gauge", "seconds", (),
       "How long the last evaluation of every goal took."),
    _m("kpiwatch_goal_evaluation_failures_total", "counter", "count", _G,
       "Evaluations of the goal that failed since the daemon started."),
)
# fmt: on

BY_NAME: dict[str, SelfMetric] = {m.name: m for m in (*SELF_METRICS, *ALERT_METRICS, *GOAL_METRICS)}
