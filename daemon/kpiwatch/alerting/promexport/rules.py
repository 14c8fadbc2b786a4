"""Each kpiwatch rule as a Prometheus alerting rule with its test, or the reason it is not one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kpiwatch import vocabulary
from kpiwatch.alerting.promexport.aggregation import Aggregation, Records, aggregation, is_grouped
from kpiwatch.alerting.promexport.alerttests import (
    AlertTest,
    change_test,
    no_data_test,
    threshold_test,
)
from kpiwatch.alerting.promexport.expressions import change_expr, no_data_expr, threshold_expr
from kpiwatch.alerting.promexport.fixtures import Labels, accounts_for
from kpiwatch.alerting.promexport.promql import NOT_COMPETITOR, Matcher, scope_matchers
from kpiwatch.alerting.promexport.templates import (
    GoTemplate,
    TemplateNames,
    Unconvertible,
    convert_template,
)
from kpiwatch.config import Config
from kpiwatch.config_alerting import Condition, RuleConfig
from kpiwatch.durations import format_duration
from kpiwatch.kpi.compiled import Catalogue, CompiledKpi


class Skip(Exception):
    """A rule that is not exported; the message is the reason."""


@dataclass
class ExportedAlert:
    """An alerting rule: its expression, label and annotation templates, and its test."""

    rule: RuleConfig
    expr: str
    labels: dict[str, GoTemplate]
    annotations: dict[str, GoTemplate]
    test: AlertTest

    def rule_yaml(self) -> dict[str, Any]:
        """The rule as it appears in the rules file."""
        out: dict[str, Any] = {"alert": self.rule.name, "expr": self.expr}
        if self.rule.for_ > timedelta(0):
            out["for"] = format_duration(self.rule.for_)
        if self.rule.keep_firing_for > timedelta(0):
            out["keep_firing_for"] = format_duration(self.rule.keep_firing_for)
        out["labels"] = {k: self.labels[k].text for k in sorted(self.labels)}
        if self.annotations:
            out["annotations"] = {k: self.annotations[k].text for k in sorted(self.annotations)}
        return out


@dataclass
class Plan:
    """The configuration being exported, its records, and what was left out with the reason."""

    config: Config
    catalogue: Catalogue
    records: Records = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


_SKIP_KINDS = {
    "anomaly": (
        "anomaly rules compare the value with the median and MAD of same-weekday daily values; "
        "PromQL has no median absolute deviation over such a baseline, so kpiwatch evaluates "
        "them"
    ),
    "data_quality": (
        "data_quality rules judge each poll's samples (a metric missing from a poll, a counter "
        "going backwards, an implausible jump between two polls), which /metrics does not "
        "expose; kpiwatch evaluates them"
    ),
    "goal": (
        "goal rules judge kpiwatch's goal tracker (pace against the linear path, a Theil-Sen "
        "projection, period outcomes, review dates) computed from the history store, not a "
        "PromQL expression over /metrics; kpiwatch evaluates them"
    ),
}


def plan_alert(rule: RuleConfig, plan: Plan) -> ExportedAlert:
    """The exported alert of ``rule``; raises :class:`Skip` when it cannot be exported.

    Annotations that cannot be converted get a plain text and a note in ``plan.skipped``.
    """
    kind = rule.condition.kind
    if kind in _SKIP_KINDS:
        raise Skip(_SKIP_KINDS[kind])
    for value in (
        rule.condition.above,
        rule.condition.below,
        rule.condition.change_above,
        rule.condition.change_below,
    ):
        if value is not None and not math.isfinite(value):
            raise Skip(f"the condition value {value} is not a finite number")
    if kind == "no_data":
        return _no_data_alert(rule, plan)
    kpi = _kpi_of(rule, plan.catalogue)
    window = _rule_window(rule, plan.config)
    return _kpi_alert(rule, kpi, window, plan)


def _rule_window(rule: RuleConfig, config: Config) -> str:
    window = rule.watched_window or min(config.kpis.windows)
    if window not in config.kpis.windows:
        computed = ", ".join(format_duration(w) for w in config.kpis.windows)
        raise Skip(f"window {format_duration(window)} is not computed (kpis.windows: {computed})")
    return format_duration(window)


def _kpi_of(rule: RuleConfig, catalogue: Catalogue) -> CompiledKpi:
    kpi = catalogue.by_name.get(rule.kpi or "")
    if kpi is None:
        raise Skip(f"unknown KPI {rule.kpi!r}")
    return kpi


def _kpi_alert(rule: RuleConfig, kpi: CompiledKpi, window: str, plan: Plan) -> ExportedAlert:
    """A threshold or change rule."""
    kind = rule.condition.kind
    matchers: list[Matcher] = [*scope_matchers(rule.scope), ("window", "=", window)]
    if not rule.include_competitors:
        matchers.append(NOT_COMPETITOR)
    agg: Aggregation | None = None
    if is_grouped(rule):
        found = aggregation(kpi, plan.config)
        if isinstance(found, str):
            raise Skip(f"KPI {kpi.name!r} cannot be aggregated in PromQL: {found}")
        agg = found
        if kind == "change" and agg.operation == "ratio":
            raise Skip(
                f"KPI {kpi.name!r} is a ratio and kpiwatch exports numerators and denominators "
                "of the current window only, so the previous group ratio cannot be computed "
                "in PromQL; use by: [account]"
            )
    if kind == "change" and not plan.config.kpis.export.previous:
        raise Skip("kpis.export.previous is false, so the previous window is not exported")
    names = TemplateNames(
        value_name="value" if kind == "threshold" else "change",
        constants=_constants(rule, window),
        own_labels=_own_labels(rule, window),
    )
    labels, annotations = _converted(rule, names, plan)
    templates = [*labels.values(), *annotations.values()]
    template_labels: set[str] = set().union(*(t.labels_used for t in templates))
    accounts = accounts_for(rule, template_labels - {"account", "platform"})
    # the test series' window: the first window matcher (a scope may name a window label)
    series_window = next(v for n, _, v in matchers if n == "window")
    if kind == "threshold":
        expr = threshold_expr(rule, kpi, agg, matchers, plan.records)
        test = threshold_test(rule, kpi, agg, series_window, accounts)
    else:
        _check_change_band(rule.condition)
        expr = change_expr(rule, kpi, agg, matchers)
        test = change_test(rule, kpi, agg, series_window, accounts)
    return ExportedAlert(rule, expr, labels, annotations, test)


def _check_change_band(cond: Condition) -> None:
    above, below = cond.change_above, cond.change_below
    if above is not None and below is not None and above < below:
        raise Skip(f"change_above {above:g} is below change_below {below:g}: every change fires")


def _no_data_alert(rule: RuleConfig, plan: Plan) -> ExportedAlert:
    limit = rule.condition.no_data
    assert limit is not None
    window = None
    if rule.kpi is not None:
        kpi = _kpi_of(rule, plan.catalogue)
        window = _rule_window(rule, plan.config)
        family = kpi.definition.metric_name
        extra: Labels = {"window": window, "period": "current"}
        base_matchers: list[Matcher] = [("window", "=", window), ("period", "=", "current")]
    else:
        metric = vocabulary.get(rule.metric or "")
        if metric is None:
            raise Skip(f"unknown metric {rule.metric!r}")
        family = metric.exported_name
        extra = {"window": format_duration(min(plan.config.kpis.windows))}
        if metric.kind is not vocabulary.Kind.PERIOD:
            extra = {}
        base_matchers = []
    matchers = [*scope_matchers(rule.scope), *base_matchers]
    if not rule.include_competitors:
        matchers.append(NOT_COMPETITOR)
    expr = no_data_expr(family, matchers, limit, rule.for_)
    names = TemplateNames(None, _constants(rule, window), _own_labels(rule, window))
    labels, annotations = _converted(rule, names, plan)
    test = no_data_test(rule, family, extra, accounts_for(rule, set()))
    return ExportedAlert(rule, expr, labels, annotations, test)


def _constants(rule: RuleConfig, window: str | None) -> dict[str, Any]:
    """The template names whose value is the same for every alert of the rule."""
    cond = rule.condition
    threshold: Any = None
    for value in (cond.above, cond.below, cond.change_above, cond.change_below):
        if value is not None:
            threshold = value
            break
    if cond.no_data is not None:
        threshold = cond.no_data.total_seconds()
    return {
        "threshold": threshold,
        "kpi": rule.kpi or "",
        "metric": rule.metric or "",
        "window": window or "",
        "rule": rule.name,
        "severity": rule.severity,
    }


def _own_labels(rule: RuleConfig, window: str | None) -> dict[str, str]:
    """The labels kpiwatch itself gives the rule's alerts."""
    out = {"alertname": rule.name, "severity": rule.severity}
    if rule.kpi is not None:
        out["kpi"] = rule.kpi
    if window is not None and rule.kpi is not None:
        out["window"] = window
    if rule.metric is not None:
        out["metric"] = rule.metric
    return out


def _converted(
    rule: RuleConfig, names: TemplateNames, plan: Plan
) -> tuple[dict[str, GoTemplate], dict[str, GoTemplate]]:
    """The alert's labels and annotations as Prometheus templates.

    A label that cannot be converted raises :class:`Skip`; an annotation gets a plain text.
    """
    labels = {k: GoTemplate.literal(v) for k, v in names.own_labels.items() if k != "alertname"}
    for key, text in rule.labels.items():
        try:
            labels[key] = convert_template(text, names)
        except Unconvertible as exc:
            raise Skip(f"label {key!r}: {exc}") from None
    annotations = {}
    for key, text in rule.annotations.items():
        try:
            annotations[key] = convert_template(text, names)
        except Unconvertible as exc:
            plan.skipped.append(
                (rule.name, f"annotation {key!r}: {exc}; the exported rule has a plain text")
            )
            annotations[key] = GoTemplate.literal(_plain_text(rule, names))
    return labels, annotations


def _plain_text(rule: RuleConfig, names: TemplateNames) -> str:
    """A description of the rule that replaces an annotation that cannot be converted."""
    cond = rule.condition
    subject = rule.kpi or rule.metric or "metric"
    window = names.constants.get("window")
    if window and rule.kpi:
        subject += f" ({window})"
    if cond.kind == "threshold":
        sides = []
        if cond.above is not None:
            sides.append(f"above {cond.above:g}")
        if cond.below is not None:
            sides.append(f"below {cond.below:g}")
        text = " or ".join(sides)
    elif cond.kind == "change":
        sides = []
        if cond.change_above is not None:
            sides.append(f"changed by more than {cond.change_above * 100:+.4g}%")
        if cond.change_below is not None:
            sides.append(f"changed by less than {cond.change_below * 100:+.4g}%")
        text = " or ".join(sides) + " against the previous window"
    else:
        assert cond.no_data is not None
        text = f"has had no value for {format_duration(cond.no_data)}"
    return f"{rule.name}: {subject} {text}"
