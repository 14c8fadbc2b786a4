"""The goal families of /metrics match their catalogue (selfmetrics.GOAL_METRICS) and the
goal tracker's results."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kpiwatch.alerting.exposition import AlertFigures, CombinedSection, render
from kpiwatch.config import KpiSettings
from kpiwatch.config_goals import GoalConfig
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.compute import evaluate_goal, needed_instants
from kpiwatch.goals.exposition import GoalSection, render_goals
from kpiwatch.goals.model import STATUSES, GoalResult
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.metrics_doc import render_metrics_doc
from kpiwatch.selfmetrics import ALERT_METRICS, BY_NAME, GOAL_METRICS, SELF_METRICS

DAY = 86400.0
HISTORY = 365 * DAY
CATALOGUE = build_catalogue(KpiSettings())
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp()
HISTORY_START = datetime(2026, 5, 1, tzinfo=UTC).timestamp()
OWNER = 'Ana "growth" \\ Team\nEU'
FLAGS = {"not_achievable", "vanity_metric", "review_due", "not_judged"}

GOALS = [
    GoalConfig(
        name="followers_12k",
        kpi="followers",
        target=12000,
        start=date(2026, 8, 1),
        deadline=date(2027, 2, 1),
        owner=OWNER,
    ),
    GoalConfig(
        name="new_followers_monthly", kpi="followers", measure="change", target=300, every="month"
    ),
    GoalConfig(
        name="followers_50k",
        kpi="followers",
        target=50000,
        start=date(2026, 11, 1),
        deadline=date(2027, 1, 1),
    ),
    GoalConfig(
        name="engagement_floor",
        kpi="engagement_rate",
        criterion="stay_above",
        target=0.04,
        period="2026-Q4",
    ),
    GoalConfig(name="no_data", kpi="followers", target=500, period="2026-Q4"),
]


def followers(ts: float) -> float:
    return 6000 + 20 * (ts - HISTORY_START) / DAY


def engagement(ts: float) -> float:
    """0.05, and 0.03 on every 10th day since the history began."""
    return 0.03 if round((ts - HISTORY_START) / DAY) % 10 == 0 else 0.05


#: The synthetic history of each goal's KPI (the goal "no_data" has none).
HISTORIES: dict[str, Callable[[float], float]] = {
    "followers_12k": followers,
    "new_followers_monthly": followers,
    "followers_50k": followers,
    "engagement_floor": engagement,
}


def evaluate(config: GoalConfig) -> GoalResult:
    """The goal at NOW over its synthetic history, which begins at HISTORY_START."""
    (spec,) = compile_goals([config], CATALOGUE, KpiSettings().windows)
    history = HISTORIES.get(config.name)
    points = {}
    if history is not None:
        for t in needed_instants(spec, NOW, HISTORY):
            if t >= HISTORY_START:
                points[t] = history(t)
    return evaluate_goal(spec, points, NOW, {"acct": "engagement"}, HISTORY)


@pytest.fixture(scope="module")
def results() -> dict[str, GoalResult]:
    return {goal.name: evaluate(goal) for goal in GOALS}


@pytest.fixture(scope="module")
def section(results: dict[str, GoalResult]) -> GoalSection:
    return render_goals(list(results.values()), NOW, 0.25, {"broken": 3}, CATALOGUE)


def text(section: GoalSection) -> str:
    return "".join(h.text.decode() + body.decode() for h, body in section.families)


def openmetrics(section: GoalSection) -> str:
    return "".join(h.openmetrics.decode() + b.decode() for h, b in section.families) + "# EOF\n"


Key = tuple[str, frozenset[tuple[str, str]]]


def samples_of(exposition: str) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for family in parse_text(exposition):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def goal_series(samples: dict[Key, float], goal: str) -> dict[Key, float]:
    return {k: v for k, v in samples.items() if dict(k[1]).get("goal") == goal}


def key(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_every_goal_family_is_rendered_with_its_catalogued_type_and_labels(section) -> None:
    families = {f.name: f for f in parse_text(text(section))}
    # the text parser names a counter's family without _total, an info metric's with _info
    by_name = {m.family_name if m.type == "counter" else m.name: m for m in GOAL_METRICS}
    assert set(families) == set(by_name)
    for name, family in families.items():
        metric = by_name[name]
        assert family.type == metric.text_type, name
        for sample in family.samples:
            assert set(sample.labels) == set(metric.labels), sample


def test_openmetrics_headers_name_and_type_the_families_as_catalogued(section) -> None:
    families = {f.name: f for f in parse_openmetrics(openmetrics(section))}
    assert {n: f.type for n, f in families.items()} == {m.family_name: m.type for m in GOAL_METRICS}


def test_series_count_is_the_number_of_sample_lines(section) -> None:
    lines = [line for line in text(section).splitlines() if not line.startswith("#")]
    assert section.series == len(lines) == len(samples_of(text(section)))


def test_reach_goal_series_are_its_result(section, results) -> None:
    r = results["followers_12k"]
    goal = {"goal": "followers_12k"}
    start, end = utc(2026, 8, 1), utc(2027, 2, 1)
    baseline = followers(start)  # the KPI at the start: 7840
    expected_info = {
        **goal,
        "kpi": "followers",
        "window": r.window,
        "measure": "value",
        "criterion": "reach",
        "direction": "higher",
        "owner": OWNER,
        "objective": "reach",
        "unit": "count",
        "period": r.period.label,
    }
    expected = {
        key("kpiwatch_goal_info", **expected_info): 1.0,
        key("kpiwatch_goal_target", **goal): 12000.0,
        key("kpiwatch_goal_baseline", **goal): baseline,
        key("kpiwatch_goal_current", **goal): r.current,
        key("kpiwatch_goal_expected", **goal): r.expected,
        key("kpiwatch_goal_projected", **goal): r.projected,
        key("kpiwatch_goal_progress_ratio", **goal): r.progress,
        key("kpiwatch_goal_elapsed_ratio", **goal): (NOW - start) / (end - start),
        key("kpiwatch_goal_start_timestamp_seconds", **goal): start,
        key("kpiwatch_goal_deadline_timestamp_seconds", **goal): end,
        key("kpiwatch_goal_review_due_timestamp_seconds", **goal): start + 90 * DAY,
        key("kpiwatch_goal_achievability_ratio", **goal): r.achievability.ratio,
        **{key("kpiwatch_goal_status", **goal, status=s): float(s == r.status) for s in STATUSES},
        key("kpiwatch_goal_flags", **goal, flag="not_achievable"): 0.0,
        key("kpiwatch_goal_flags", **goal, flag="vanity_metric"): 1.0,  # followers is reach
        key("kpiwatch_goal_flags", **goal, flag="review_due"): 1.0,  # due since 2026-10-30
        key("kpiwatch_goal_flags", **goal, flag="not_judged"): 0.0,
    }
    assert None not in expected.values()
    assert goal_series(samples_of(text(section)), "followers_12k") == pytest.approx(expected)
    assert r.current == pytest.approx(followers(NOW), abs=20)  # the history's latest midnight
    # the needed pace over the history's (steady) 20 followers a day
    assert r.achievability.ratio == pytest.approx((12000 - baseline) / (end - start) * DAY / 20)


def test_a_goal_asking_for_more_than_the_history_ever_did_is_flagged(section) -> None:
    series = goal_series(samples_of(text(section)), "followers_50k")
    goal = {"goal": "followers_50k"}
    start, end = utc(2026, 11, 1), utc(2027, 1, 1)
    baseline = followers(start)
    needed_per_day = (50000 - baseline) / ((end - start) / DAY)
    ratio = series[key("kpiwatch_goal_achievability_ratio", **goal)]
    assert ratio == pytest.approx(needed_per_day / 20)  # the history gained 20 a day
    assert series[key("kpiwatch_goal_flags", **goal, flag="not_achievable")] == 1.0


def test_stay_goal_has_breach_and_judged_days(section, results) -> None:
    r = results["engagement_floor"]
    series = goal_series(samples_of(text(section)), "engagement_floor")
    goal = {"goal": "engagement_floor"}
    start = utc(2026, 10, 1)
    completed = [start + i * DAY for i in range(1, 54)]  # midnights after the start up to now
    breaches = sum(engagement(t) < 0.04 for t in completed)
    assert breaches > 0
    assert series[key("kpiwatch_goal_daily_breaches", **goal)] == breaches
    assert series[key("kpiwatch_goal_daily_checks", **goal)] == len(completed)
    assert series[key("kpiwatch_goal_expected", **goal)] == 0.04
    assert series[key("kpiwatch_goal_target", **goal)] == 0.04
    assert series[key("kpiwatch_goal_progress_ratio", **goal)] == pytest.approx(
        1 - breaches / len(completed)
    )
    info = next(k for k in series if k[0] == "kpiwatch_goal_info")
    assert dict(info[1])["unit"] == "ratio"
    assert dict(info[1])["criterion"] == "stay_above"
    assert dict(info[1])["period"] == "2026-Q4"
    assert series[key("kpiwatch_goal_flags", **goal, flag="vanity_metric")] == 0.0
    assert r.breach_days == breaches


def test_reach_goals_have_no_day_counts(section) -> None:
    names = {k[0] for k in goal_series(samples_of(text(section)), "followers_12k")}
    assert "kpiwatch_goal_daily_breaches" not in names
    assert "kpiwatch_goal_daily_checks" not in names


def test_unknown_values_have_no_series(section, results) -> None:
    assert results["no_data"].current is None  # the goal's scope has no history at all
    names = sorted({k[0] for k in goal_series(samples_of(text(section)), "no_data")})
    assert names == [
        "kpiwatch_goal_deadline_timestamp_seconds",
        "kpiwatch_goal_elapsed_ratio",
        "kpiwatch_goal_flags",
        "kpiwatch_goal_info",
        "kpiwatch_goal_review_due_timestamp_seconds",
        "kpiwatch_goal_start_timestamp_seconds",
        "kpiwatch_goal_status",
        "kpiwatch_goal_target",
    ]
    series = samples_of(text(section))
    assert series[key("kpiwatch_goal_flags", goal="no_data", flag="not_judged")] == 1.0
    assert series[key("kpiwatch_goal_flags", goal="no_data", flag="review_due")] == 0.0


def test_recurring_goal_is_in_its_month_without_a_review_date(section) -> None:
    series = goal_series(samples_of(text(section)), "new_followers_monthly")
    goal = {"goal": "new_followers_monthly"}
    assert series[key("kpiwatch_goal_start_timestamp_seconds", **goal)] == utc(2026, 11, 1)
    assert series[key("kpiwatch_goal_deadline_timestamp_seconds", **goal)] == utc(2026, 12, 1)
    assert series[key("kpiwatch_goal_baseline", **goal)] == 0.0  # a change starts from 0
    assert key("kpiwatch_goal_review_due_timestamp_seconds", **goal) not in series
    info = next(k for k in series if k[0] == "kpiwatch_goal_info")
    assert dict(info[1])["measure"] == "change"
    assert dict(info[1])["period"] == "2026-11"


def test_every_goal_has_one_series_per_status_and_flag(section, results) -> None:
    samples = samples_of(text(section))
    for name, r in results.items():
        series = goal_series(samples, name)
        status = {dict(k[1])["status"]: v for k, v in series.items() if k[0].endswith("_status")}
        assert status == {s: float(s == r.status) for s in STATUSES}
        flags = {dict(k[1])["flag"] for k in series if k[0] == "kpiwatch_goal_flags"}
        assert flags == FLAGS


def test_evaluation_series(section) -> None:
    samples = samples_of(text(section))
    assert samples[key("kpiwatch_goal_evaluation_timestamp_seconds")] == NOW
    assert samples[key("kpiwatch_goal_evaluation_duration_seconds")] == 0.25
    assert samples[key("kpiwatch_goal_evaluation_failures_total", goal="broken")] == 3


def test_before_the_first_evaluation_there_are_no_series() -> None:
    empty = render_goals([], None, None, {}, CATALOGUE)
    assert empty == GoalSection((), 0)


def test_label_values_are_escaped(section) -> None:
    rendered = text(section)
    assert 'owner="Ana \\"growth\\" \\\\ Team\\nEU"' in rendered
    info = [k for k in samples_of(rendered) if k[0] == "kpiwatch_goal_info"]
    assert OWNER in {dict(labels)["owner"] for _, labels in info}


def test_promtool_accepts_the_section(section) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs it)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text(section), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""  # no lint findings either


def test_goal_section_combines_with_the_alert_section(section) -> None:
    alerts = render(AlertFigures([("R", "warning")], {}, None, None, {}, {}, {}, {}, []))
    combined = CombinedSection.of(alerts, section)
    assert combined is not None
    assert combined.series == alerts.series + section.series
    assert combined.families == alerts.families + section.families


def test_catalogue_names_follow_prometheus_conventions() -> None:
    names = [m.name for m in (*SELF_METRICS, *ALERT_METRICS, *GOAL_METRICS)]
    assert len(names) == len(set(names)) == len(BY_NAME)
    for metric in GOAL_METRICS:
        assert BY_NAME[metric.name] is metric
        assert re.fullmatch(r"kpiwatch_goal_[a-z0-9_]+", metric.name), metric.name
        assert metric.name.endswith("_total") == (metric.type == "counter"), metric.name
        assert metric.name.endswith("_info") == (metric.type == "info"), metric.name
        assert metric.name.endswith("_seconds") == (metric.unit == "seconds"), metric.name
        assert metric.name.endswith("_ratio") == (metric.unit == "ratio"), metric.name
        assert metric.labels[:1] == ("goal",) or metric.labels == (), metric.name
        assert metric.description.strip(), metric.name


def test_metrics_doc_lists_every_goal_metric() -> None:
    doc = render_metrics_doc()
    for metric in GOAL_METRICS:
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "-"
        assert f"| `{metric.name}` | {metric.type} | {metric.unit or '-'} | {labels} |" in doc
