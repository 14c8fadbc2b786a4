"""docs/metrics.md, the two metric catalogues and the real exposition agree with each other."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kpiwatch import vocabulary
from kpiwatch.errors import FAILURE_REASONS
from kpiwatch.exposition import ExpositionCache
from kpiwatch.metrics_doc import render_metrics_doc
from kpiwatch.platform import Sample
from kpiwatch.runtime import AccountStatus, DurationHistogram, Runtime
from kpiwatch.selfmetrics import ACCOUNT_LABELS, SELF_METRICS
from kpiwatch.toolkit.ratelimit import RateLimitState
from kpiwatch.vocabulary import Kind

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def test_committed_doc_matches_the_catalogues():
    assert DOC.read_text(encoding="utf-8") == render_metrics_doc(), (
        "docs/metrics.md is out of date; run: python -m kpiwatch.metrics_doc > docs/metrics.md"
    )


def test_module_prints_the_doc():
    result = subprocess.run(
        [sys.executable, "-m", "kpiwatch.metrics_doc"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == render_metrics_doc()


def test_doc_names_every_metric_and_reason():
    doc = render_metrics_doc()
    for metric in vocabulary.METRICS:
        assert f"| `{metric.exported_name}` | {metric.unit.value} | {metric.kind.value} |" in doc
    for metric in SELF_METRICS:
        assert f"| `{metric.name}` | {metric.type} |" in doc
    for reason in FAILURE_REASONS:
        assert f"| `{reason}` |" in doc


def test_catalogue_names_follow_prometheus_conventions():
    names = [m.exported_name for m in vocabulary.METRICS] + [m.name for m in SELF_METRICS]
    assert [n for n, c in Counter(names).items() if c > 1] == []
    for metric in SELF_METRICS:
        assert re.fullmatch(r"kpiwatch_[a-z0-9_]+", metric.name), metric.name
        assert metric.name.endswith("_total") == (metric.type == "counter"), metric.name
        assert metric.name.endswith("_info") == (metric.type == "info"), metric.name
        if metric.type != "histogram":
            assert not re.search(r"_(count|sum|bucket)$", metric.name), metric.name
        if metric.unit == "seconds":
            assert metric.name.endswith("_seconds"), metric.name
        assert metric.description.strip(), metric.name


def runtime_with_everything() -> Runtime:
    """An account in each state (up, down, pending) and a sample of every vocabulary metric."""
    runtime = Runtime()
    runtime.config_loaded = True
    runtime.add_account(
        AccountStatus(
            "up-account",
            "demo",
            {"brand": "acme"},
            state="up",
            polls=2,
            failures=Counter(unavailable=1),
            last_success=1.7e9,
            last_duration=0.4,
            next_poll=1.7e9 + 900,
            rate_limit=RateLimitState(300.0, 299.0, 1.7e9 + 300, 1.7e9),
            quota=(9_999, 10_000),
        )
    )
    runtime.add_account(
        AccountStatus(
            "down-account",
            "demo",
            {"brand": "rival"},
            competitor=True,
            state="down",
            polls=1,
            failures=Counter({reason: 1 for reason in FAILURE_REASONS}),
            consecutive_failures=1,
            last_duration=30.0,
            last_error_reason="timeout",
        )
    )
    runtime.add_account(AccountStatus("pending-account", "other", {}, running=True))
    samples = []
    for metric in vocabulary.METRICS:
        window = "7d" if metric.kind == Kind.PERIOD else None
        samples.append(Sample(metric.name, 1.0, window, {d: "x" for d in metric.dimensions}))
    runtime.store_samples("up-account", samples)
    histogram = DurationHistogram()
    histogram.observe(0.4)
    runtime.durations["demo"] = histogram
    return runtime


@pytest.fixture(scope="module")
def rendered() -> str:
    async def render_twice() -> bytes:
        cache = ExpositionCache(runtime_with_everything())
        await cache.render_now()
        await cache.render_now()  # the second render has the previous render's duration
        return await cache.get()

    return asyncio.run(render_twice()).decode()


def test_every_rendered_family_is_catalogued_with_its_type(rendered):
    expected = {m.exported_name: "gauge" for m in vocabulary.METRICS}
    expected |= {m.name: m.text_type for m in SELF_METRICS}
    rendered_types = dict(TYPE_LINE.findall(rendered))
    uncatalogued = sorted(set(rendered_types) - set(expected))
    assert uncatalogued == [], "rendered but not in vocabulary.py or selfmetrics.py"
    wrong = {n: (t, expected[n]) for n, t in rendered_types.items() if expected[n] != t}
    assert wrong == {}, "rendered TYPE differs from the catalogue (rendered, catalogue)"
    never_rendered = sorted(set(expected) - set(rendered_types))
    assert never_rendered == [], "catalogued but missing from a render with every state"


def test_rendered_self_metric_labels_are_the_catalogued_ones(rendered):
    account_extra = {"brand"}  # the account labels of the test runtime
    checked = set()
    for family in parse_text(rendered):
        metric = next((m for m in SELF_METRICS if family.name in (m.name, m.family_name)), None)
        if metric is None:
            continue
        checked.add(metric.name)
        allowed = set(metric.labels) - {"<account labels>"}
        if "<account labels>" in metric.labels:
            allowed |= account_extra
        if metric.type == "histogram":
            allowed.add("le")
        required = allowed - account_extra - {"competitor", "le"}
        for sample in family.samples:
            names = set(sample.labels)
            assert names <= allowed, (sample.name, names - allowed)
            assert required <= names, (sample.name, required - names)
            if metric.labels[: len(ACCOUNT_LABELS)] == ACCOUNT_LABELS:
                competitor = sample.labels["account"] == "down-account"
                assert ("competitor" in names) == competitor, sample
    assert checked == {m.name for m in SELF_METRICS}


def test_every_failure_reason_can_be_exported(rendered):
    reasons = {
        s.labels["reason"]
        for f in parse_text(rendered)
        if f.name == "kpiwatch_collect_failures"
        for s in f.samples
    }
    assert reasons == set(FAILURE_REASONS)
