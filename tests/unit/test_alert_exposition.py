"""The alerting families of /metrics match their catalogue (selfmetrics.ALERT_METRICS)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpiwatch.alerting.exposition import AlertFigures, CombinedSection, render
from kpiwatch.selfmetrics import ALERT_METRICS

FIGURES = AlertFigures(
    rules=[("EngagementLow", "warning"), ("FollowersDrop", "critical")],
    alerts={("EngagementLow", "firing"): 2, ("EngagementLow", "pending"): 1},
    evaluation_seconds=0.012,
    evaluated_at=1_800_000_000.0,
    evaluation_failures={"FollowersDrop": 3},
    notifications={("ops", "delivered"): 5, ("ops", "retry"): 2, ("am", "superseded"): 1},
    outbox_depth={"ops": 1},
    outbox_oldest={"ops": 42.5},
    notifiers=["am", "ops"],
)


def text() -> str:
    section = render(FIGURES)
    return "".join(h.text.decode() + body.decode() for h, body in section.families)


def test_every_alert_family_is_rendered_with_its_catalogued_type_and_labels() -> None:
    families = {f.name: f for f in text_string_to_metric_families(text())}
    by_family = {m.family_name: m for m in ALERT_METRICS}
    assert set(families) == set(by_family)
    for name, family in families.items():
        metric = by_family[name]
        assert family.type == metric.text_type, name
        for sample in family.samples:
            assert set(sample.labels) == set(metric.labels), sample


def test_values_are_the_figures() -> None:
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text())
        for s in f.samples
    }
    alerts = "kpiwatch_alerts"
    low = (("rule", "EngagementLow"), ("severity", "warning"))
    assert samples[(alerts, (*low, ("state", "firing")))] == 2
    assert samples[(alerts, (*low, ("state", "resolved")))] == 0  # every state of every rule
    drop = (("rule", "FollowersDrop"), ("severity", "critical"), ("state", "pending"))
    assert samples[(alerts, drop)] == 0
    outcome = (("notifier", "ops"), ("outcome", "retry"))
    assert samples[("kpiwatch_notifications_total", outcome)] == 2
    assert samples[("kpiwatch_outbox_messages", (("notifier", "am"),))] == 0
    assert samples[("kpiwatch_outbox_oldest_age_seconds", (("notifier", "ops"),))] == 42.5


def test_promtool_accepts_the_section() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs it)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sections_combine_in_order() -> None:
    alert = render(FIGURES)
    combined = CombinedSection.of(None, alert, alert)
    assert combined is not None
    assert combined.series == 2 * alert.series
    assert CombinedSection.of(None, None) is None
