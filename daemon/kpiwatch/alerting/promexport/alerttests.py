"""The promtool test of each exported alert: input series over timed phases, expected alerts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kpiwatch.alerting.promexport.aggregation import Aggregation
from kpiwatch.alerting.promexport.fixtures import (
    STEP,
    Accounts,
    Labels,
    Series,
    clean,
    group_labels,
    kpi_labels,
    split,
)
from kpiwatch.alerting.promexport.templates import GoTemplate
from kpiwatch.config_alerting import Condition, RuleConfig
from kpiwatch.durations import format_duration
from kpiwatch.kpi.compiled import CompiledKpi

#: (evaluation step, [(labels, value) of each alert expected to fire then]).
Checks = list[tuple[int, list[tuple[Labels, float]]]]


@dataclass
class AlertTest:
    """The input series and assertions of one alert's test group."""

    phases: list[int]  # samples per phase
    series: list[Series]
    checks: Checks


def alert_test_group(
    name: str,
    test: AlertTest,
    labels: Mapping[str, GoTemplate],
    annotations: Mapping[str, GoTemplate],
) -> dict[str, Any]:
    """The promtool test group of alert ``name`` with its label and annotation templates."""
    return {
        "interval": format_duration(STEP),
        "input_series": [
            {"series": s.text(), "values": s.samples(test.phases)}
            for s in sorted(test.series, key=Series.text)
        ],
        "alert_rule_test": [
            {
                "eval_time": format_duration(step * STEP),
                "alertname": name,
                "exp_alerts": [
                    _expected(labels, annotations, series_labels, value)
                    for series_labels, value in firing
                ],
            }
            for step, firing in test.checks
        ],
    }


def _expected(
    labels: Mapping[str, GoTemplate],
    annotations: Mapping[str, GoTemplate],
    series_labels: Labels,
    value: float,
) -> dict[str, Any]:
    """The labels and annotations Prometheus gives the alert of a series and value."""
    out = dict(series_labels)
    for key in sorted(labels):
        out[key] = labels[key].render(series_labels, value)
    entry: dict[str, Any] = {"exp_labels": dict(sorted(out.items()))}
    if annotations:
        entry["exp_annotations"] = {
            k: annotations[k].render(series_labels, value) for k in sorted(annotations)
        }
    return entry


def _minutes(value: timedelta) -> int:
    return math.ceil(value / STEP)


class _Timeline:
    """Phases of a threshold or change test: firing, quiet, and (change) a guarded baseline.

    The firing phase lasts ``for`` plus 11 samples, the quiet one ``keep_firing_for`` plus 10,
    the baseline phase (previous value at ``min_baseline``, current value extreme) ``for`` plus
    10: an alert there would mean the baseline guard does not work. The checks sit on the exact
    steps where ``for`` and ``keep_firing_for`` end, so a wrong duration fails the test.
    """

    def __init__(self, rule: RuleConfig, phases: int) -> None:
        self.fire_at = _minutes(rule.for_)
        self.keep = _minutes(rule.keep_firing_for)
        self.phases = [self.fire_at + 11, self.keep + 10, self.fire_at + 10][:phases]

    def test(self, series: list[Series], labels: Labels, value: float) -> AlertTest:
        firing = [(labels, value)]
        checks: Checks = []
        if self.fire_at:
            checks.append((self.fire_at - 1, []))
        checks.append((self.fire_at, firing))
        quiet_from = self.phases[0]
        if self.keep:
            checks.append((quiet_from + self.keep - 1, firing))
        checks.append((quiet_from + self.keep, []))
        if len(self.phases) == 3:
            checks.append((sum(self.phases) - 1, []))
        return AlertTest(list(self.phases), series, checks)


def _step_of(value: float) -> float:
    return abs(value) / 2 if value != 0 else 0.5


def _threshold_targets(cond: Condition) -> tuple[float, float]:
    """(firing value, quiet value) of a threshold condition."""
    above, below = cond.above, cond.below
    if above is not None and below is not None:
        return above + _step_of(above), above / 2 + below / 2
    if above is not None:
        return above + _step_of(above), above - _step_of(above)
    assert below is not None
    return below - _step_of(below), below + _step_of(below)


def _change_targets(cond: Condition) -> tuple[float, float, float]:
    """(firing change, quiet change, direction +1/-1) of a change condition.

    With both sides, ``change_above`` must not be below ``change_below`` (the caller checks).
    """
    above, below = cond.change_above, cond.change_below
    if above is not None and below is not None:
        return below - _step_of(below), above / 2 + below / 2, -1.0
    if above is not None:
        return above + _step_of(above), above - _step_of(above), 1.0
    assert below is not None
    return below - _step_of(below), below + _step_of(below), -1.0


# threshold rules ------------------------------------------------------------------------------
def threshold_test(
    rule: RuleConfig,
    kpi: CompiledKpi,
    agg: Aggregation | None,
    window: str,
    accounts: Accounts,
) -> AlertTest:
    """The KPI (``agg`` None: of one account) firing, then quiet; the decoys stay firing."""
    fire, quiet = (clean(v) for v in _threshold_targets(rule.condition))
    timeline = _Timeline(rule, phases=2)
    series: list[Series] = []
    if agg is None:
        member = kpi_labels(kpi, {**accounts.members[0], "window": window, "period": "current"})
        series.append(Series(kpi.definition.metric_name, member, [fire, quiet]))
        for decoy in accounts.decoys:
            labels = kpi_labels(kpi, {**decoy, "window": window, "period": "current"})
            series.append(Series(kpi.definition.metric_name, labels, [fire, fire]))
        return timeline.test(series, dict(member), fire)
    count = len(accounts.members)
    values = _group_series(agg, accounts.members, window, [fire, quiet], series)
    decoy_value = _decoy_target(agg, rule.condition, fire, quiet)
    weight = 100 * (4000.0 if count == 2 else 1000.0)
    for decoy in accounts.decoys:
        _decoy_series(agg, decoy, window, decoy_value, weight, series)
    alert_labels = group_labels(accounts.members[0], rule.by, window, agg)
    return timeline.test(series, alert_labels, values[0])


def _group_series(
    agg: Aggregation,
    members: list[Labels],
    window: str,
    targets: list[float],
    out: list[Series],
) -> list[float]:
    """Series of ``members`` whose aggregate is near each phase's target; the exact aggregates."""
    count = len(members)
    results = []
    if agg.operation == "sum":
        parts = [split(t, count) for t in targets]
        for i, member in enumerate(members):
            labels = kpi_labels(agg.kpi, {**member, "window": window, "period": "current"})
            out.append(Series(agg.family, labels, [p[i] for p in parts]))
        for p in parts:
            results.append(p[0] + p[1] if count == 2 else p[0])
        return results
    dens = [1000.0, 3000.0][:count]
    # account a at half the target rate, b above it: the group is at the target
    nums = [[clean(t * 500), clean(t * 3500)] if count == 2 else [clean(t * 1000)] for t in targets]
    for i, member in enumerate(members):
        labels = kpi_labels(agg.kpi, {**member, "window": window})
        out.append(Series(agg.numerator, labels, [n[i] for n in nums]))
        out.append(Series(agg.denominator, labels, [dens[i]] * len(targets)))
    for n in nums:
        results.append((n[0] + n[1]) / (dens[0] + dens[1]) if count == 2 else n[0] / dens[0])
    return results


def _decoy_target(agg: Aggregation, cond: Condition, fire: float, quiet: float) -> float:
    """A value that fires on its own and makes the group fire were the account counted."""
    if agg.operation == "ratio" and cond.above is None and (cond.below or 0) > 0:
        return 0.0
    return float(f"{10 * (fire - quiet):.6g}")


def _decoy_series(
    agg: Aggregation, labels: Labels, window: str, value: float, weight: float, out: list[Series]
) -> None:
    """A decoy's series at ``value`` in both phases (a ratio's denominator is ``weight``)."""
    if agg.operation == "sum":
        series_labels = kpi_labels(agg.kpi, {**labels, "window": window, "period": "current"})
        out.append(Series(agg.family, series_labels, [value] * 2))
        return
    series_labels = kpi_labels(agg.kpi, {**labels, "window": window})
    out.append(Series(agg.numerator, series_labels, [clean(value * weight)] * 2))
    out.append(Series(agg.denominator, series_labels, [weight] * 2))


# change rules ---------------------------------------------------------------------------------
def change_test(
    rule: RuleConfig,
    kpi: CompiledKpi,
    agg: Aggregation | None,
    window: str,
    accounts: Accounts,
) -> AlertTest:
    """The change firing, then quiet, then extreme over a previous value at ``min_baseline``."""
    cond = rule.condition
    fire, quiet, direction = _change_targets(cond)
    baseline = cond.min_baseline
    family = kpi.definition.metric_name
    level = max(100.0, 2 * baseline)
    extreme = baseline + direction * 1000 * max(baseline, 1.0)
    currents = [clean(level + fire * level), clean(level + quiet * level), extreme]
    previous_values = [level, level, baseline]
    timeline = _Timeline(rule, phases=3)
    series: list[Series] = []
    if agg is None:
        member = kpi_labels(kpi, {**accounts.members[0], "window": window})
        series.append(Series(family, {**member, "period": "current"}, currents))
        series.append(Series(family, {**member, "period": "previous"}, previous_values))
        for decoy in accounts.decoys:
            labels = kpi_labels(kpi, {**decoy, "window": window})
            series.append(Series(family, {**labels, "period": "current"}, [currents[0]] * 3))
            series.append(Series(family, {**labels, "period": "previous"}, [level] * 3))
        alert_labels = {k: v for k, v in member.items() if not (k == "basis" and kpi.basis)}
        value = (currents[0] - previous_values[0]) / abs(previous_values[0])
        return timeline.test(series, alert_labels, value)
    count = len(accounts.members)
    cur_parts = [split(c, count) for c in currents[:2]] + [[extreme, 0.0][:count]]
    prev_parts = [split(p, count) for p in previous_values[:2]] + [[baseline, 0.0][:count]]
    for i, member in enumerate(accounts.members):
        labels = kpi_labels(kpi, {**member, "window": window})
        series.append(Series(family, {**labels, "period": "current"}, [c[i] for c in cur_parts]))
        series.append(Series(family, {**labels, "period": "previous"}, [p[i] for p in prev_parts]))
    value = (sum(cur_parts[0]) - sum(prev_parts[0])) / abs(sum(prev_parts[0]))
    decoy_current = clean(level + 10 * (fire - quiet) * level)
    for decoy in accounts.decoys:
        labels = kpi_labels(kpi, {**decoy, "window": window})
        series.append(Series(family, {**labels, "period": "current"}, [decoy_current] * 3))
        series.append(Series(family, {**labels, "period": "previous"}, [level] * 3))
    alert_labels = group_labels(accounts.members[0], rule.by, window, agg)
    return timeline.test(series, alert_labels, value)


# no_data rules --------------------------------------------------------------------------------
def no_data_test(rule: RuleConfig, family: str, extra: Labels, accounts: Accounts) -> AlertTest:
    """Every account present for 6 samples, absent until the alert has fired, present again."""
    limit = rule.condition.no_data
    assert limit is not None
    member = accounts.members[0]
    absent_from = 6
    first_true = 5 + int(limit / STEP) + 1
    fire_at = _minutes(rule.for_)
    keep = _minutes(rule.keep_firing_for)
    back = first_true + fire_at + 2
    phases = [absent_from, back - absent_from, keep + 11]
    series = [Series(family, {**member, **extra}, [1.0, None, 1.0])]
    for decoy in accounts.decoys:
        series.append(Series(family, {**decoy, **extra}, [1.0, None, 1.0]))
    alert_labels = {"account": member["account"], "platform": member["platform"]}
    firing = [(alert_labels, 1.0)]
    checks: Checks = [(5 + int(limit // STEP), [])]
    if fire_at:
        checks.append((first_true + fire_at - 1, []))
    checks.append((first_true + fire_at, firing))
    if keep:
        checks.append((back + keep - 1, firing))
    checks.append((back + keep, []))
    return AlertTest(phases, series, checks)
