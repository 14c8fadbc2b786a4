"""Rule evaluation over hand-made KPI tables, the alert state machine, and rule config checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from kpiwatch.alerting.evaluate import AccountInfo, EvaluationInputs, KpiView, RuleEvaluator
from kpiwatch.alerting.model import fingerprint
from kpiwatch.alerting.quality import QualityTracker
from kpiwatch.alerting.rules import CompiledRule, compile_rules
from kpiwatch.alerting.state import AlertStates
from kpiwatch.config import DEFAULT_WINDOWS
from kpiwatch.config_alerting import RuleConfig
from kpiwatch.config_loader import ConfigError, load_config_text
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, compute
from kpiwatch.kpi.expressions import Ref
from kpiwatch.platform import Sample
from kpiwatch.plugins import load_plugins

CATALOGUE = build_catalogue()
WINDOWS = [timedelta(days=7)]
NOW = 1_800_000_000.0


def ref(name: str) -> Ref:
    return Ref(name, (), "value")


def table_of(rows: Sequence[tuple[AccountMeta, Mapping[int, Mapping[str, float]]]]) -> KpiView:
    """A one-window KPI view: per account, inputs by period (0 current, 1 previous)."""
    table = InputTable(CATALOGUE.refs, windows=1)
    for meta, periods in rows:
        values = {(ref(n), 0, p): v for p, inputs in periods.items() for n, v in inputs.items()}
        table.set_row(meta, values)
    return KpiView(compute(table, CATALOGUE), table, ["7d"])


def meta(name: str, brand: str = "acme", platform: str = "mastodon", **kw: Any) -> AccountMeta:
    return AccountMeta(name, platform, {"brand": brand}, **kw)


def er(engagements: float, reach: float) -> dict[str, float]:
    return {"engagements": engagements, "reach": reach}


def rules(
    *specs: dict[str, Any], notifiers: Sequence[str] = (), windows=WINDOWS
) -> list[CompiledRule]:
    configs = [RuleConfig.model_validate(s) for s in specs]
    return compile_rules(configs, CATALOGUE, windows, list(notifiers))


def evaluate(rule_list, view=None, **inputs) -> dict[str, list]:
    return RuleEvaluator().evaluate(rule_list, EvaluationInputs(NOW, view, **inputs))


VIEW = table_of(
    [
        (meta("a"), {0: er(10, 1000), 1: er(30, 1000)}),  # 1 %, was 3 %: -66.7 %
        (meta("b"), {0: er(50, 1000), 1: er(45, 1000)}),  # 5 %, was 4.5 %: +11 %
        (meta("c", "other", "bluesky"), {0: er(15, 1000), 1: er(0, 1000)}),  # 1.5 %, was 0
        (meta("r", competitor=True), {0: er(1, 1000)}),  # competitor at 0.1 %
    ]
)


def names(observations) -> list[str]:
    return sorted(o.labels["account"] for o in observations)


# threshold ---------------------------------------------------------------------------------
def test_threshold_below_fires_per_account_and_skips_competitors() -> None:
    rule = {"name": "Low", "kpi": "engagement_rate", "condition": {"below": 0.02}}
    found = evaluate(rules(rule), VIEW)["Low"]
    assert names(found) == ["a", "c"]
    a = next(o for o in found if o.labels["account"] == "a")
    assert a.value == pytest.approx(0.01)
    assert a.labels == {
        "alertname": "Low",
        "severity": "warning",
        "kpi": "engagement_rate",
        "window": "7d",
        "platform": "mastodon",
        "account": "a",
        "brand": "acme",
    }
    with_competitors = {**rule, "include_competitors": True}
    assert names(evaluate(rules(with_competitors), VIEW)["Low"]) == ["a", "c", "r"]


def test_threshold_stays_quiet_when_no_account_crosses_it() -> None:
    rule = {"name": "Low", "kpi": "engagement_rate", "condition": {"below": 0.005}}
    assert evaluate(rules(rule), VIEW)["Low"] == []


def test_scope_by_label_list_and_platform() -> None:
    rule = {
        "name": "Low",
        "kpi": "engagement_rate",
        "condition": {"below": 0.02},
        "scope": {"brand": ["other", "nope"], "platform": "bluesky"},
    }
    assert names(evaluate(rules(rule), VIEW)["Low"]) == ["c"]
    rule["scope"] = {"brand": "unknown-brand"}
    assert evaluate(rules(rule), VIEW)["Low"] == []


def test_threshold_by_brand_aggregates_ratio_of_sums() -> None:
    # acme: (10 + 50) / 2000 = 3 %: not below 2.5 %; the mean of ratios would be 3 % too, so
    # use a lopsided brand to tell them apart
    view = table_of(
        [
            (meta("a"), {0: er(10, 9000)}),  # 0.11 %
            (meta("b"), {0: er(100, 1000)}),  # 10 %  -> acme 110 / 10000 = 1.1 %
            (meta("c", "other"), {0: er(30, 1000)}),  # 3 %
        ]
    )
    rule = {"name": "BrandLow", "kpi": "engagement_rate", "by": ["brand"]}
    found = evaluate(rules({**rule, "condition": {"below": 0.02}}), view)["BrandLow"]
    assert [o.labels.get("brand") for o in found] == ["acme"]
    assert found[0].value == pytest.approx(110 / 10000)  # not (0.0011 + 0.1) / 2
    assert found[0].context["accounts"] == 2
    assert "account" not in found[0].labels


# change -------------------------------------------------------------------------------------
def test_change_below_fires_on_a_drop_and_guards_a_zero_baseline() -> None:
    rule = {"name": "Drop", "kpi": "engagement_rate", "condition": {"change_below": -0.5}}
    found = evaluate(rules(rule), VIEW)["Drop"]
    assert names(found) == ["a"]
    assert found[0].context["change"] == pytest.approx(-2 / 3)
    assert found[0].context["previous"] == pytest.approx(0.03)
    rise = {"name": "Rise", "kpi": "engagement_rate", "condition": {"change_above": 0.1}}
    # c rose from 0 %: no change is judged from a zero previous value
    assert names(evaluate(rules(rise), VIEW)["Rise"]) == ["b"]


def test_change_min_baseline_skips_small_previous_values() -> None:
    view = table_of([(meta("a"), {0: {"followers": 30}, 1: {"followers": 10}})])
    rule = {"name": "Up", "kpi": "followers", "condition": {"change_above": 1.0}}
    assert names(evaluate(rules(rule), view)["Up"]) == ["a"]
    guarded = {**rule, "condition": {"change_above": 1.0, "min_baseline": 10}}
    assert evaluate(rules(guarded), view)["Up"] == []


# anomaly ------------------------------------------------------------------------------------
def test_anomaly_rule_uses_same_weekday_baseline() -> None:
    view = table_of([(meta("a"), {0: {"followers": 0}}), (meta("b"), {0: {"followers": 0}})])
    # replace the KPI values by hand-made current values: a is normal, b collapsed
    current = view.results.kpis["followers"].value[(0, 0)]
    current[view.results.rows["a"]] = 1000.0
    current[view.results.rows["b"]] = 400.0
    days = 28
    weekly = np.array([1000.0 if (days - d) % 7 == 0 else 100.0 for d in range(days)])
    history = np.vstack([weekly + np.arange(days) % 3, weekly + np.arange(days) % 3])
    rule = {
        "name": "Odd",
        "kpi": "followers",
        "condition": {"anomaly": {"baseline": "28d", "z": 3.5, "direction": "down"}},
    }
    daily = [timedelta(days=1)]  # anomaly rules compare daily values
    found = evaluate(rules(rule, windows=daily), view, baselines={"followers": history})["Odd"]
    assert names(found) == ["b"]
    assert found[0].context["z"] < -3.5
    flat = {**rule, "condition": {"anomaly": {"baseline": "28d", "seasonality": "none"}}}
    # without seasonality the normal weekly high of a looks anomalous too
    assert names(
        evaluate(rules(flat, windows=daily), view, baselines={"followers": history})["Odd"]
    ) == [
        "a",
        "b",
    ]


# no data and data quality ------------------------------------------------------------------
def test_metric_no_data_fires_after_the_limit_only_for_metrics_once_seen() -> None:
    rule = {"name": "Silent", "metric": "reach", "condition": {"no_data": "6h"}}
    seen = {"a": NOW - 7 * 3600, "b": NOW - 3600}
    accounts = {n: AccountInfo("mastodon", {"brand": "acme"}) for n in ("a", "b", "never")}
    found = evaluate(rules(rule), None, accounts=accounts, metric_seen=lambda a, m: seen.get(a))[
        "Silent"
    ]
    assert names(found) == ["a"]
    assert found[0].value == pytest.approx(7 * 3600)


def test_kpi_no_data_counts_from_first_look() -> None:
    view = table_of([(meta("a"), {0: {"followers": 5}}), (meta("b"), {})])
    compiled = rules({"name": "Gone", "kpi": "followers", "condition": {"no_data": "1h"}})
    evaluator = RuleEvaluator()
    assert evaluator.evaluate(compiled, EvaluationInputs(NOW, view))["Gone"] == []
    later = evaluator.evaluate(compiled, EvaluationInputs(NOW + 3601, view))["Gone"]
    assert names(later) == ["b"]


def sample(metric: str, value: float, window: str | None = None) -> Sample:
    return Sample(metric, value, window)


def test_data_quality_events_from_consecutive_polls() -> None:
    tracker = QualityTracker()
    tracker.poll("a", [sample("followers", 1200), sample("reach", 500, "1d")])
    events = tracker.poll("a", [sample("followers", 12)])  # reach stopped, followers ÷100
    checks = sorted((e.check, e.series) for e in events)
    assert checks == [("jump", "followers"), ("stopped", "reach|1d")]
    rule = {"name": "Quality", "condition": {"data_quality": {"checks": ["stopped"]}}}
    accounts = {"a": AccountInfo("mastodon", {})}
    found = evaluate(rules(rule), None, accounts=accounts, quality=tracker.snapshot())["Quality"]
    assert [(o.labels["check"], o.labels["metric"]) for o in found] == [("stopped", "reach")]
    tracker.poll("a", [sample("followers", 13), sample("reach", 480, "1d")])
    assert tracker.snapshot() == {}  # a clean poll clears them


# state machine ------------------------------------------------------------------------------
LOW = {"name": "Low", "kpi": "engagement_rate", "condition": {"below": 0.02}}


def step(states: AlertStates, compiled, view, now: float):
    observations = RuleEvaluator().evaluate(compiled, EvaluationInputs(now, view))
    return states.step(compiled, observations, now, "http://kpiwatch/api/v1/alerts")


def test_pending_then_firing_after_for_then_resolved() -> None:
    compiled = rules({**LOW, "for": "10m", "scope": {"account": "a"}})
    states = AlertStates(resolved_retention=900)
    first = step(states, compiled, VIEW, NOW)
    assert [t[1:] for t in first.transitions] == [("inactive", "pending")]
    assert states.alerts() == []  # pending alerts are not sent
    assert not first.notify
    assert not step(states, compiled, VIEW, NOW + 300).transitions
    fired = step(states, compiled, VIEW, NOW + 600)
    assert [t[1:] for t in fired.transitions] == [("pending", "firing")]
    assert fired.notify
    (alert,) = states.alerts()
    assert alert.status == "firing" and alert.starts_at == NOW + 600
    assert alert.fingerprint == fingerprint(alert.labels)
    healthy = table_of([(meta("a"), {0: er(90, 1000)})])
    resolved = step(states, compiled, healthy, NOW + 700)
    assert [t[1:] for t in resolved.transitions] == [("firing", "resolved")]
    (alert,) = states.alerts()
    assert alert.status == "resolved" and alert.ends_at == NOW + 700
    gone = step(states, compiled, healthy, NOW + 700 + 900)
    assert gone.removed == [alert.fingerprint] and states.alerts() == []


def test_pending_alert_that_clears_is_forgotten_without_notification() -> None:
    compiled = rules({**LOW, "for": "1h", "scope": {"account": "a"}})
    states = AlertStates()
    step(states, compiled, VIEW, NOW)
    healthy = table_of([(meta("a"), {0: er(90, 1000)})])
    cleared = step(states, compiled, healthy, NOW + 60)
    assert [t[1:] for t in cleared.transitions] == [("pending", "inactive")]
    assert not cleared.notify and states.records == {}


def test_keep_firing_for_holds_a_cleared_alert() -> None:
    compiled = rules({**LOW, "keep_firing_for": "30m", "scope": {"account": "a"}})
    states = AlertStates()
    step(states, compiled, VIEW, NOW)
    healthy = table_of([(meta("a"), {0: er(90, 1000)})])
    assert not step(states, compiled, healthy, NOW + 1000).transitions
    assert states.alerts()[0].status == "firing"
    late = step(states, compiled, healthy, NOW + 1800)
    assert [t[1:] for t in late.transitions] == [("firing", "resolved")]


def test_restored_records_continue_for_and_do_not_fire_again() -> None:
    compiled = rules({**LOW, "for": "10m"})
    states = AlertStates()
    step(states, compiled, VIEW, NOW)
    restored = AlertStates(states.records.values())  # what a restart loads from the store
    assert not step(restored, compiled, VIEW, NOW + 300).transitions
    fired = step(restored, compiled, VIEW, NOW + 600)
    assert sorted(t[2] for t in fired.transitions) == ["firing", "firing"]
    again = AlertStates(restored.records.values())
    assert step(again, compiled, VIEW, NOW + 900).transitions == []


def test_annotations_render_from_templates() -> None:
    annotated = {
        **LOW,
        "scope": {"account": "a"},
        "labels": {"team": "social-{{ labels.brand }}"},
        "annotations": {
            "summary": "ER on {{ account }} is {{ value | percent }}"
            " ({{ change | signed_percent }})"
        },
    }
    compiled = rules(annotated)
    states = AlertStates()
    step(states, compiled, VIEW, NOW)
    (alert,) = states.alerts()
    assert alert.annotations == {"summary": "ER on a is 1% (-66.7%)"}
    assert alert.labels["team"] == "social-acme"


# configuration checks -----------------------------------------------------------------------
PLATFORMS = load_plugins(environ={}).platforms


def problems(rules_yaml: str, notifiers_yaml: str = "notifiers: []") -> list[str]:
    text = f"accounts:\n  - {{id: a, platform: demo_micro}}\n{notifiers_yaml}\nrules:\n{rules_yaml}"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "alerts.yaml", PLATFORMS)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "  - {name: R, kpi: engagment_rate, condition: {below: 1}}",
            "alerts.yaml:6: rules[0].kpi: rule R: unknown KPI 'engagment_rate'; did you mean "
            "'engagement_rate'?",
        ),
        (
            "  - {name: R, kpi: reach, window: 3d, condition: {below: 1}}",
            "alerts.yaml:6: rules[0].window: rule R: window 3d is not computed",
        ),
        (
            "  - name: R\n    kpi: reach\n    condition: {below: 1}\n"
            "    annotations: {summary: '{{ value | percent '}",
            "alerts.yaml:9: rules[0].annotations.summary: rule R: template error",
        ),
        (
            "  - {name: R, kpi: reach, condition: {below: 1}, annotations: {s: '{{ nope }}'}}",
            "'nope' is undefined",
        ),
        (
            "  - {name: R, kpi: reach, window: 7d, condition: {anomaly: {}}}",
            "rules[0].window: rule R: anomaly rules compare daily values; window 7d is not 1d",
        ),
        (
            "  - {name: R, kpi: reach, condition: {below: 1}, notifiers: [opps]}",
            "rules[0].notifiers[0]: rule R: unknown notifier 'opps'; did you mean 'ops'?",
        ),
        ("  - {name: R, kpi: reach, condition: {}}", "rules[0].condition: a condition needs one"),
        (
            "  - {name: R, kpi: reach, condition: {below: 1, change_below: -0.1}}",
            "mixes threshold and change",
        ),
        ("  - {name: 'bad name', kpi: reach, condition: {below: 1}}", "rules[0].name"),
        ("  - {name: R, metric: reech, condition: {no_data: 1h}}", "unknown metric 'reech'"),
    ],
)
def test_bad_rules_are_reported_with_rule_and_field(rule: str, expected: str) -> None:
    found = problems(rule, "notifiers:\n  - {name: ops, type: webhook, url: 'http://x/h'}")
    assert any(expected in p for p in found), found


def test_notifier_type_and_settings_are_checked() -> None:
    found = problems(
        "  - {name: R, kpi: reach, condition: {below: 1}}",
        "notifiers:\n  - {name: ops, type: webhok, url: 'http://x/h'}\n"
        "  - {name: am, type: alertmanager}",
    )
    assert any("notifiers[0].type: unknown notifier type 'webhok'" in p for p in found), found
    assert any(p.startswith("alerts.yaml:5: notifiers[1].urls: a required key") for p in found)


def test_a_valid_rule_set_loads() -> None:
    text = (
        "accounts:\n  - {id: a, platform: demo_micro}\n"
        "notifiers:\n  - {name: ops, type: webhook, url: 'http://127.0.0.1:1/h', secret: s3cr3t}\n"
        "rules:\n  - {name: R, kpi: reach, window: 7d, condition: {below: 1}, for: 1h,"
        " notifiers: [ops]}\n"
    )
    loaded = load_config_text(text, "ok.yaml", PLATFORMS)
    assert loaded.config.rules[0].for_ == timedelta(hours=1)
    assert "s3cr3t" in loaded.secrets  # redacted from logs
    assert list(loaded.notifier_settings) == ["ops"]
    assert DEFAULT_WINDOWS[1] == timedelta(days=7)


def test_timestamps_are_utc_text() -> None:
    from kpiwatch.alerting.notifiers.base import rfc3339

    assert rfc3339(datetime(2026, 11, 22, 11, 7, 12, tzinfo=UTC).timestamp()) == (
        "2026-11-22T11:07:12.000Z"
    )


def test_fingerprint_is_alertmanagers() -> None:
    # Alertmanager 0.25 sent this fingerprint for these labels (reference/prometheus-grafana.md)
    labels = {"alertname": "KpiEngagementLow", "platform": "x", "severity": "warning"}
    assert fingerprint(labels) == "05b8a52084437c89"
