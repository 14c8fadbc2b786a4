"""Goal rules: configuration checks, each condition on goals evaluated from synthetic history at
fixed instants, a recurring goal's previous-period outcome, the state machine, and the
alerting service holding goal alerts until the goals are computed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from kpiwatch.alerting.evaluate import EvaluationInputs, Observation, RuleEvaluator
from kpiwatch.alerting.promexport import export_rules
from kpiwatch.alerting.rules import CompiledRule, RuleProblems, compile_rules
from kpiwatch.alerting.service import AlertService
from kpiwatch.alerting.state import AlertStates
from kpiwatch.config import KpiSettings
from kpiwatch.config_alerting import RuleConfig
from kpiwatch.config_goals import GoalConfig
from kpiwatch.config_loader import ConfigError, load_config_text
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.compute import GoalSpec, evaluate_goal
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.period import midnight
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.plugins import load_plugins
from kpiwatch.runtime import Runtime

DAY = 86400.0
KPIS = KpiSettings()
CATALOGUE = build_catalogue(KPIS)
URL = "http://kpiwatch/api/v1/alerts"


def at(year: int, month: int, day: int, hour: int = 12) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def goal(**settings: Any) -> GoalSpec:
    (spec,) = compile_goals([GoalConfig.model_validate(settings)], CATALOGUE, KPIS.windows)
    return spec


def daily(first: date, days: int, value: Callable[[int], float]) -> dict[float, float]:
    """The KPI at each midnight from ``first``: day i has ``value(i)``."""
    return {midnight(first) + i * DAY: float(value(i)) for i in range(days)}


# Followers from 2026-06-01, the goal running 2026-08-01 .. 2027-02-01 (184 days, 61 days in).
HISTORY_START = date(2026, 6, 1)
F10K = {
    "name": "f10k",
    "kpi": "followers",
    "target": 10000,
    "start": "2026-08-01",
    "deadline": "2027-02-01",
    "owner": "social-team",
}
SLOW = daily(HISTORY_START, 400, lambda i: 6000 + 2 * i)  # baseline 6122, 2/day: at risk
BEHIND = daily(HISTORY_START, 400, lambda i: 6000 + 12 * i)  # baseline 6732: behind, misses
ON_PACE = daily(HISTORY_START, 400, lambda i: 6000 + 22 * i)  # baseline 7342: reaches it
# Monthly: 300 new followers each month from 2026-09.
M300 = {
    "name": "m300",
    "kpi": "followers",
    "measure": "change",
    "target": 300,
    "every": "month",
    "start": "2026-09-01",
}
GAINS_12 = daily(date(2026, 8, 1), 200, lambda i: 6000 + 12 * i)  # 360 in a 30-day month
GAINS_8 = daily(date(2026, 8, 1), 200, lambda i: 6000 + 8 * i)  # 240 in a 30-day month


def result(
    settings: dict[str, Any],
    points: dict[float, float],
    now: float,
    objectives: dict[str, str | None] | None = None,
) -> GoalResult:
    return evaluate_goal(goal(**settings), points, now, objectives or {"a": "reach"})


def rules(*specs: dict[str, Any], goal_names: Sequence[str] | None = None) -> list[CompiledRule]:
    configs = [RuleConfig.model_validate(s) for s in specs]
    return compile_rules(configs, CATALOGUE, KPIS.windows, [], goal_names)


def rule(condition: str, **settings: Any) -> list[CompiledRule]:
    return rules({"name": "GoalWatch", "condition": {"goal": condition}, **settings})


def observe(
    compiled: list[CompiledRule], goals: Sequence[GoalResult], now: float, **inputs: Any
) -> list[Observation]:
    found = RuleEvaluator().evaluate(compiled, EvaluationInputs(now, None, goals=goals, **inputs))
    return found[compiled[0].name]


def fires(condition: str, goals: GoalResult | Sequence[GoalResult], now: float) -> list[str]:
    """The goal and period of every observation of a ``condition`` rule."""
    goals = [goals] if isinstance(goals, GoalResult) else goals
    found = observe(rule(condition), goals, now)
    return [f"{o.labels['goal']}@{o.labels['period']}" for o in found]


ONE_OFF = "f10k@2026-08-01..2027-02-01"


# conditions ---------------------------------------------------------------------------------
def test_off_pace_fires_when_behind_or_at_risk_and_not_on_pace_or_in_the_early_window() -> None:
    now = at(2026, 11, 1)  # half of the period elapsed
    slow, behind, on_pace = (result(F10K, s, now) for s in (SLOW, BEHIND, ON_PACE))
    # 2/day: progress (6306 - 6122) / 3878 = 5 % at 50 % elapsed: at risk
    assert slow.status == "at_risk"
    # 12/day: 1104 / 3268 = 34 %, 16 points behind (bands: behind 10, at risk 25)
    assert behind.status == "behind"
    assert fires("off_pace", slow, now) == [ONE_OFF]
    assert fires("off_pace", behind, now) == [ONE_OFF]
    assert fires("off_pace", on_pace, now) == []
    early = result(F10K, SLOW, at(2026, 8, 10))  # 5 % elapsed: not judged yet
    assert fires("off_pace", early, at(2026, 8, 10)) == []


def test_projected_miss_fires_while_the_trend_misses_the_target() -> None:
    now = at(2026, 11, 1)
    # 12/day from 7836 for the 92 days left ends near 8940, short of 10000
    assert fires("projected_miss", result(F10K, BEHIND, now), now) == [ONE_OFF]
    # 22/day from 9366 ends near 11390
    assert fires("projected_miss", result(F10K, ON_PACE, now), now) == []
    early = at(2026, 8, 10)
    assert fires("projected_miss", result(F10K, BEHIND, early), early) == []


def test_achieved_before_the_deadline_when_the_target_is_met_now() -> None:
    # 22/day: 9982 on 2026-11-29 (day 181), 10004 on 2026-11-30
    before, after = at(2026, 11, 29), at(2026, 11, 30)
    assert fires("achieved", result(F10K, ON_PACE, before), before) == []
    assert fires("achieved", result(F10K, ON_PACE, after), after) == [ONE_OFF]
    assert fires("missed", result(F10K, SLOW, after), after) == []  # reach is missed at the end


def test_one_off_outcome_stays_active_for_outcome_for_after_the_deadline() -> None:
    for when in (at(2027, 2, 1, 1), at(2027, 2, 7, 23)):  # within 7 days of the deadline
        assert fires("achieved", result(F10K, ON_PACE, when), when) == [ONE_OFF]
        assert fires("missed", result(F10K, SLOW, when), when) == [ONE_OFF]
        assert fires("achieved", result(F10K, SLOW, when), when) == []
    late = at(2027, 2, 8, 1)
    assert fires("achieved", result(F10K, ON_PACE, late), late) == []
    assert fires("missed", result(F10K, SLOW, late), late) == []
    short = observe(
        rule("missed"), [result(F10K, SLOW, at(2027, 2, 2))], at(2027, 2, 2), goal_outcome_for=DAY
    )
    assert short == []  # goal_tracking.outcome_for: 1d


def test_stay_goal_is_missed_before_its_end_once_over_its_breach_budget() -> None:
    settings = {
        "name": "hold",
        "kpi": "followers",
        "criterion": "stay_above",
        "target": 6500,
        "period": "2026-Q4",
        "max_breach": 0.1,
    }
    # 6000 + 2/day from 2026-06-01 reaches 6500 only on day 250 (2027-02-06): every Q4 day
    # is in breach; 10% of 92 days allows 9.2, so the 10th completed day (2026-10-11) misses
    early, late = at(2026, 10, 5), at(2026, 10, 20)
    assert fires("missed", result(settings, SLOW, early), early) == []
    assert fires("missed", result(settings, SLOW, late), late) == ["hold@2026-Q4"]


def test_review_due_after_review_every_from_start_or_reviewed() -> None:
    before, after = at(2026, 10, 29), at(2026, 10, 31)  # 2026-08-01 + 90d = 2026-10-30
    assert fires("review_due", result(F10K, ON_PACE, before), before) == []
    assert fires("review_due", result(F10K, ON_PACE, after), after) == [ONE_OFF]
    reviewed = {**F10K, "reviewed": "2026-10-15"}
    assert fires("review_due", result(reviewed, ON_PACE, after), after) == []


def test_not_achievable_when_the_goal_needs_far_more_than_the_best_pace() -> None:
    now = at(2026, 9, 1)
    # 2/day of history; the goal needs (10000 - 6122) / 184 = 21/day: over twice the best
    flagged = observe(rule("not_achievable"), [result(F10K, SLOW, now)], now)
    assert [o.labels["goal"] for o in flagged] == ["f10k"]
    assert "needs 21.08/day" in flagged[0].context["detail"]
    # 22/day of history against 14.4/day needed
    assert fires("not_achievable", result(F10K, ON_PACE, now), now) == []
    over = at(2027, 3, 1)  # after the deadline the pace no longer matters
    assert fires("not_achievable", result(F10K, SLOW, over), over) == []


def test_vanity_metric_when_the_kpi_serves_another_objective() -> None:
    now = at(2026, 9, 1)
    declared_roi = result(F10K, ON_PACE, now, {"a": "roi"})
    found = observe(rule("vanity_metric"), [declared_roi], now)
    assert [o.labels["goal"] for o in found] == ["f10k"]
    assert "vanity metric" in found[0].context["detail"]
    own_objective = result({**F10K, "objective": "roi"}, ON_PACE, now)
    assert fires("vanity_metric", own_objective, now) == [ONE_OFF]
    assert fires("vanity_metric", result(F10K, ON_PACE, now, {"a": "reach"}), now) == []


# recurring goals ------------------------------------------------------------------------------
def test_recurring_previous_period_outcome_carries_its_period_until_outcome_for() -> None:
    start_of_october = at(2026, 10, 3)
    # September: 30 days x 12 = 360 new followers, achieved; October is in its early window
    good = result(M300, GAINS_12, start_of_october)
    assert good.period.label == "2026-10"
    assert fires("achieved", good, start_of_october) == ["m300@2026-09"]
    assert fires("missed", good, start_of_october) == []
    # 30 x 8 = 240: September missed
    poor = result(M300, GAINS_8, start_of_october)
    assert fires("missed", poor, start_of_october) == ["m300@2026-09"]
    # outcome_for (7d) after 2026-10-01: quiet from 2026-10-08
    later = at(2026, 10, 8, 1)
    assert fires("achieved", result(M300, GAINS_12, later), later) == []
    assert fires("missed", result(M300, GAINS_8, later), later) == []


def test_recurring_goal_met_this_month_and_last_month_gives_two_alerts() -> None:
    now = at(2026, 10, 30)  # 29 days x 12 = 348 in October; September's 360 with outcome_for 30d
    found = observe(rule("achieved"), [result(M300, GAINS_12, now)], now, goal_outcome_for=30 * DAY)
    assert sorted(o.labels["period"] for o in found) == ["2026-09", "2026-10"]
    september = next(o for o in found if o.labels["period"] == "2026-09")
    assert september.value == 360 and september.context["threshold"] == 300
    assert september.context["deadline"] == "2026-10-01T00:00:00Z"


# labels, context, scope --------------------------------------------------------------------
def test_goal_alert_labels_and_template_context() -> None:
    now = at(2026, 11, 1)
    compiled = rule(
        "off_pace",
        severity="page",
        annotations={
            "summary": "{{ goal }} ({{ owner }}) is {{ status }}: {{ value | number }} of "
            "{{ threshold | number }}, {{ progress | percent(0) }} of the way at "
            "{{ elapsed | percent(0) }}; due {{ deadline }}"
        },
    )
    (found,) = observe(compiled, [result(F10K, SLOW, now)], now)
    assert found.labels == {
        "alertname": "GoalWatch",
        "severity": "page",
        "goal": "f10k",
        "kpi": "followers",
        "window": "28d",
        "period": "2026-08-01..2027-02-01",
        "owner": "social-team",
        "objective": "reach",
    }
    states = AlertStates()
    states.step(compiled, {"GoalWatch": [found]}, now, URL)
    (alert,) = states.alerts()
    # 6000 + 2 x 153 = 6306 of 10000; (6306 - 6122) / 3878 = 4.7 %; 92 of 184 days = 50 %
    assert alert.annotations["summary"] == (
        "f10k (social-team) is at_risk: 6,306 of 10,000, 5% of the way at 50%; "
        "due 2027-02-01T00:00:00Z"
    )


def test_owner_and_objective_labels_are_left_out_when_empty() -> None:
    now = at(2026, 11, 1)
    anonymous = {**F10K, "owner": ""}
    (found,) = observe(rule("off_pace"), [result(anonymous, SLOW, now)], now)
    assert "owner" not in found.labels and found.labels["objective"] == "reach"


def test_scope_picks_goals_by_name_owner_and_kpi() -> None:
    now = at(2026, 11, 1)
    goals = [
        result(F10K, SLOW, now),
        result({**F10K, "name": "f12k", "target": 12000, "owner": "growth"}, SLOW, now),
    ]

    def picked(scope: dict[str, Any]) -> list[str]:
        found = observe(rule("off_pace", scope=scope), goals, now)
        return sorted(o.labels["goal"] for o in found)

    assert picked({}) == ["f10k", "f12k"]
    assert picked({"goal": ["f12k"]}) == ["f12k"]
    assert picked({"owner": "social-team"}) == ["f10k"]
    assert picked({"kpi": "followers", "criterion": "reach"}) == ["f10k", "f12k"]
    assert picked({"objective": "engagement"}) == []


# the state machine ---------------------------------------------------------------------------
def test_recurring_outcome_alert_fires_then_resolves_after_outcome_for() -> None:
    compiled = rule("achieved", annotations={"summary": "{{ goal }} {{ period }}: {{ status }}"})
    states = AlertStates(resolved_retention=900)

    def step(now: float):
        found = observe(compiled, [result(M300, GAINS_12, now)], now)
        return states.step(compiled, {"GoalWatch": found}, now, URL)

    assert step(at(2026, 10, 20)).transitions == []  # 19 x 12 = 228 so far in October
    met = step(at(2026, 10, 27))  # 26 x 12 = 312: October achieved before its end
    assert [t[1:] for t in met.transitions] == [("inactive", "pending"), ("pending", "firing")]
    (alert,) = states.alerts()
    assert alert.labels["period"] == "2026-10"
    assert alert.annotations["summary"] == "m300 2026-10: achieved"
    # November begins: the same alert (period 2026-10) stays firing through outcome_for
    assert step(at(2026, 11, 3)).transitions == []
    assert states.alerts()[0].status == "firing"
    gone = step(at(2026, 11, 8, 1))
    assert [t[1:] for t in gone.transitions] == [("firing", "resolved")]
    assert states.alerts()[0].fingerprint == alert.fingerprint


def test_off_pace_alert_fires_after_for_and_resolves_when_the_goal_is_achieved() -> None:
    compiled = rule("off_pace", **{"for": "1d"})
    states = AlertStates()
    # 12/day (behind: 33 % of the way at 50 % elapsed), then a campaign adds 3000 followers
    # on 2026-11-02: 7848 + 3000 is past the target
    boosted = {t: v + (3000 if t >= midnight(date(2026, 11, 2)) else 0) for t, v in BEHIND.items()}
    transitions = []
    for now in (at(2026, 10, 31), at(2026, 10, 31, 20), at(2026, 11, 1, 13), at(2026, 11, 2, 1)):
        found = observe(compiled, [result(F10K, boosted, now)], now)
        step = states.step(compiled, {"GoalWatch": found}, now, URL)
        transitions.append([t[1:] for t in step.transitions])
    assert transitions == [
        [("inactive", "pending")],
        [],
        [("pending", "firing")],
        [("firing", "resolved")],
    ]


# configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"kpi": "followers"}, "a goal rule watches goals: remove kpi:"),
        ({"metric": "followers"}, "a goal rule watches goals: remove metric:"),
        ({"window": "7d"}, "a goal rule watches goals: remove window:"),
        ({"by": ["brand"]}, "a goal rule has one alert per goal; remove by:"),
        ({"include_competitors": True}, "remove include_competitors:"),
        ({"labels": {"owner": "x"}}, "label 'owner' is set by kpiwatch on goal alerts"),
        ({"condition": {"goal": "off_pace", "below": 1}}, "this one mixes threshold and goal"),
        ({"condition": {"goal": "late"}}, "off_pace"),
    ],
)
def test_goal_rule_models_refuse_what_a_goal_rule_cannot_use(
    settings: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as info:
        RuleConfig.model_validate({"name": "G", "condition": {"goal": "off_pace"}, **settings})
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("scope", "field", "message"),
    [
        ({"goal": "f1Ok"}, ("scope", "goal"), "unknown goal 'f1Ok'"),
        ({"goal": ["f10k", "m30"]}, ("scope", "goal", 1), "unknown goal 'm30'"),
        (
            {"account": "a"},
            ("scope", "account"),
            "a goal rule's scope matches goal labels, and 'account' is none",
        ),
        ({"objective": "sales"}, ("scope", "objective"), "unknown objective 'sales'"),
        ({"kpi": "folowers"}, ("scope", "kpi"), "unknown kpi 'folowers'"),
    ],
)
def test_goal_rule_scope_is_checked_against_the_goals(
    scope: dict[str, Any], field: tuple[str | int, ...], message: str
) -> None:
    spec = {"name": "G", "condition": {"goal": "missed"}, "scope": scope}
    with pytest.raises(RuleProblems) as info:
        rules(spec, goal_names=["f10k", "m300"])
    (problem,) = info.value.problems
    assert (problem.field, problem.message) == (field, message)


def test_goal_scope_names_get_a_did_you_mean() -> None:
    spec = {"name": "G", "condition": {"goal": "missed"}, "scope": {"goal": "m30"}}
    with pytest.raises(RuleProblems) as info:
        rules(spec, goal_names=["f10k", "m300"])
    assert info.value.problems[0].fix == "did you mean 'm300'? goals configured: f10k, m300"
    assert rules(spec) != []  # without goal names (a rule checked alone) any name is taken
    with pytest.raises(RuleProblems, match="no goal is configured"):
        rules(spec, goal_names=[])


PLATFORMS = load_plugins(environ={}).platforms
GOALS_YAML = (
    "goals:\n"
    "  - {name: f10k, kpi: followers, target: 10000, start: 2026-08-01, deadline: 2027-02-01}\n"
)


def load(rules_yaml: str) -> Any:
    text = f"accounts:\n  - {{id: a, platform: demo_micro}}\n{GOALS_YAML}rules:\n{rules_yaml}"
    return load_config_text(text, "goals.yaml", PLATFORMS)


def problems(rules_yaml: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(rules_yaml)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("rule_yaml", "expected"),
    [
        (
            "  - {name: G, kpi: followers, condition: {goal: off_pace}}",
            "goals.yaml:6: rules[0]: a goal rule watches goals: remove kpi:",
        ),
        (
            "  - name: G\n    condition: {goal: achieved, below: 3}",
            "goals.yaml:7: rules[0].condition: a condition has one kind, this one mixes "
            "threshold and goal",
        ),
        (
            "  - name: G\n    condition: {goal: missed}\n    scope: {goal: f1Ok}",
            "goals.yaml:8: rules[0].scope.goal: rule G: unknown goal 'f1Ok'; did you mean "
            "'f10k'? goals configured: f10k",
        ),
    ],
)
def test_bad_goal_rules_are_reported_at_their_line(rule_yaml: str, expected: str) -> None:
    found = problems(rule_yaml)
    assert any(p.startswith(expected) for p in found), found


def test_goal_rule_templates_pass_check_config() -> None:
    loaded = load(
        "  - name: GoalOffPace\n    condition: {goal: off_pace}\n    scope: {goal: f10k}\n"
        "    annotations:\n      summary: '{{ goal }} {{ status }} {{ progress | percent }} of "
        "{{ expected | percent }}, projected {{ projected | number }} by {{ deadline }} "
        "({{ period }}, {{ owner }}, {{ objective }}, {{ elapsed }}, {{ baseline }}, "
        "{{ detail }})'\n"
    )
    assert loaded.config.rules[0].condition.kind == "goal"


# the alerting service -------------------------------------------------------------------------
async def test_service_keeps_goal_alerts_until_goals_are_computed(tmp_path: Path) -> None:
    config = load("  - {name: GoalMissed, condition: {goal: missed}}").config
    now = at(2027, 2, 3)
    computed: list[Sequence[GoalResult] | None] = [[result(F10K, SLOW, now)]]

    async def started(http: aiohttp.ClientSession) -> AlertService:
        service = AlertService(
            config,
            [],
            Runtime(),
            None,
            http,
            tmp_path / "alerts.db",
            "http://kpiwatch",
            goals=lambda: computed[0],
        )
        await service.open()
        return service

    async with aiohttp.ClientSession() as http:
        alerts = await started(http)
        fired = await alerts.cycle(now)
        assert [t[1:] for t in fired.transitions] == [
            ("inactive", "pending"),
            ("pending", "firing"),
        ]
        await alerts.close()
        # a restart, and the goal tracker has not computed the goals yet: the alert is kept
        computed[0] = None
        alerts = await started(http)
        try:
            assert (await alerts.cycle(now + 60)).transitions == []
            assert [a["state"] for a in alerts.alerts_json()] == ["firing"]
            await alerts.replace(config, [])  # a reload keeps the goals source
            assert (await alerts.cycle(now + 90)).transitions == []
            computed[0] = [result(F10K, SLOW, now + 7 * DAY)]  # past outcome_for (7d)
            resolved = await alerts.cycle(now + 7 * DAY)
            assert [t[1:] for t in resolved.transitions] == [("firing", "resolved")]
        finally:
            await alerts.close()


def test_goal_rules_are_not_exported_to_prometheus_with_the_reason() -> None:
    config = load(
        "  - {name: GoalMissed, condition: {goal: missed}}\n"
        "  - {name: FewFollowers, kpi: followers, condition: {below: 10}}\n"
    ).config
    exported = export_rules(config, CATALOGUE)
    assert exported.alerts == ("FewFollowers",)
    ((name, reason),) = exported.skipped
    assert name == "GoalMissed" and reason.startswith("goal rules judge kpiwatch's goal tracker")
