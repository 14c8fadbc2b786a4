"""Goal configuration: GoalConfig's own checks, compile_goals against the KPI catalogue, and
both reported by the configuration loader at the file and line of the goal."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kpiwatch.config import DEFAULT_WINDOWS, KpiSettings
from kpiwatch.config_goals import GoalConfig
from kpiwatch.config_loader import ConfigError, load_config
from kpiwatch.goals.compile import GoalProblems, compile_goals
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.plugins import load_plugins

CATALOGUE = build_catalogue(KpiSettings())
WINDOWS = list(DEFAULT_WINDOWS)
PLATFORMS = load_plugins(environ={}).platforms
Q1 = {"start": date(2027, 1, 1), "deadline": date(2027, 4, 1)}


def goal(**fields: Any) -> GoalConfig:
    return GoalConfig(**{"name": "g", "kpi": "followers", "target": 10000, **Q1, **fields})


# GoalConfig ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"start": None, "deadline": None},
            "a goal is time-bound: give start and deadline, a calendar period "
            "(period: 2027-Q1) or a recurring period (every: month)",
        ),
        ({"deadline": None}, "a goal is time-bound"),
        ({"period": "2027-Q1"}, "period replaces start, deadline and every"),
        (
            {"start": date(2027, 4, 1), "deadline": date(2027, 1, 1)},
            "deadline 2027-01-01 is not after start 2027-04-01; the goal needs at least one day",
        ),
        ({"deadline": date(2027, 1, 1)}, "deadline 2027-01-01 is not after start 2027-01-01"),
        (
            {"target": "20%"},
            "target '20%' is neither a number nor a relative target; write for example 0.05, "
            "10000 or '+20%'",
        ),
        ({"target": "+twenty%"}, "is neither a number nor a relative target"),
        (
            {"criterion": "stay_above", "target": "+20%"},
            "a stay_above goal needs an absolute target (a limit), not '+20%'",
        ),
        (
            {"measure": "change", "target": "+20%"},
            "a relative target (+20%) needs a baseline value; with measure change",
        ),
        ({"measure": "change", "baseline": 100}, "a change goal counts from 0"),
        (
            {"kpi": "interactions", "criterion": "stay_above", "measure": "total"},
            "a stay_above goal checks the KPI's value at the end of every day, and a total only "
            "grows through the period; use measure: value (window: 1d for a daily amount)",
        ),
        ({"name": "Engagement H1"}, "'Engagement H1' is not a valid goal name"),
        ({"name": "-lead"}, "is not a valid goal name"),
        ({"period": "2027-Q5", "start": None, "deadline": None}, "is not a calendar period"),
        ({"bands": {"behind": 0.3, "at_risk": 0.2}}, "bands.at_risk (0.2) is below"),
        ({"trend": "36h"}, "trend must be whole days and at least 3d"),
    ],
)
def test_goal_config_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        goal(**fields)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("fields", "relative"),
    [({"target": "+20%"}, 0.2), ({"target": " - 15 % "}, -0.15), ({"target": 0.05}, None)],
)
def test_relative_targets_are_factors(fields: dict[str, Any], relative: float | None) -> None:
    assert goal(**fields).relative_target == (
        pytest.approx(relative) if relative is not None else None
    )


def test_time_bounds_that_are_accepted() -> None:
    assert goal(start=None, deadline=None, period="2027-H1").period == "2027-H1"
    assert goal(start=None, deadline=None, every="month").every == "month"
    # a recurring goal may be bounded by start and deadline
    assert goal(every="quarter").deadline == date(2027, 4, 1)
    # YAML reads a year as a number
    assert goal(start=None, deadline=None, period=2027).period == "2027"


# compile_goals -------------------------------------------------------------------------------


def compile_problem(*goals: GoalConfig, windows: list[timedelta] = WINDOWS) -> list[str]:
    with pytest.raises(GoalProblems) as info:
        compile_goals(goals, CATALOGUE, windows)
    return [
        f"goals[{p.index}].{'.'.join(map(str, p.field))}: {p.message}; {p.fix}"
        for p in info.value.problems
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"kpi": "engagment_rate"},
            "goals[0].kpi: unknown KPI 'engagment_rate'; did you mean 'engagement_rate'?",
        ),
        ({"kpi": "zzz"}, "goals[0].kpi: unknown KPI 'zzz'; docs/kpis.md lists the KPIs"),
        (
            {"window": "3d"},
            "goals[0].window: window 3d is not computed by the KPI engine; use one of 1d, 7d, "
            "28d, 90d, or add it to kpis.windows",
        ),
        (
            {"kpi": "engagement_rate", "measure": "total", "target": 5},
            "goals[0].measure: engagement_rate is a ratio; only counts and amounts add up",
        ),
        (
            {"kpi": "cost_per_click", "measure": "total", "target": 5},
            "goals[0].measure: cost_per_click is a currency; only counts and amounts add up",
        ),
        (
            {"kpi": "interactions", "measure": "total", "window": "7d"},
            "goals[0].window: a total adds up daily values; its window is 1d",
        ),
        (
            {"kpi": "cost_per_acquisition", "baseline": 40, "target": 50},
            "goals[0].target: a reach goal moves cost_per_acquisition the right way, and for "
            "cost_per_acquisition lower is better: target 50 is not lower than baseline 40; "
            "write a target lower than 40, or use criterion: stay_below to hold a level",
        ),
        (
            {"baseline": 10000, "target": 9000},
            "goals[0].target: a reach goal moves followers the right way, and for followers "
            "higher is better: target 9000 is not higher than baseline 10000",
        ),
        (
            {"kpi": "bounce_rate", "target": "+10%"},
            "goals[0].target: bounce_rate improves when it goes down, so a reach target of "
            "+10% would make it worse; write for example target: '-20%'",
        ),
        (
            {"measure": "change", "target": -300},
            "goals[0].target: a change goal counts from 0; a target of -300 asks for no "
            "improvement of followers",
        ),
        ({"scope": {"brand": []}}, "goals[0].scope.brand: scope brand lists no value"),
    ],
)
def test_compile_refuses(fields: dict[str, Any], expected: str) -> None:
    (found,) = compile_problem(goal(**fields))
    assert found.startswith(expected), found


def test_compile_needs_the_daily_window_for_a_total() -> None:
    total = goal(kpi="interactions", measure="total")
    (found,) = compile_problem(total, windows=[timedelta(days=7), timedelta(days=28)])
    assert found.startswith("goals[0].measure: a total adds up the KPI's 1d values, and 1d is")


def test_compile_reports_every_bad_goal_and_duplicate_names() -> None:
    found = compile_problem(
        goal(name="a", kpi="nope"), goal(name="b"), goal(name="a"), goal(name="b", window="5d")
    )
    assert found == [
        "goals[0].kpi: unknown KPI 'nope'; docs/kpis.md lists the KPIs (custom ones come from "
        "kpis.custom)",
        "goals[2].name: the goal name 'a' is used twice (first by goals[0]); give every goal "
        "its own name; it becomes the goal label",
        "goals[3].name: the goal name 'b' is used twice (first by goals[1]); give every goal "
        "its own name; it becomes the goal label",
    ]


def test_compile_resolves_direction_window_and_objective() -> None:
    cpa, er, total = compile_goals(
        [
            goal(name="cpa", kpi="cost_per_acquisition", target="-20%", window="7d"),
            goal(name="er", kpi="engagement_rate", target=0.05, objective="roi"),
            goal(name="posts", kpi="interactions", measure="total", target=3000),
        ],
        CATALOGUE,
        WINDOWS,
    )
    assert (cpa.direction, cpa.window_label, cpa.window_seconds) == (-1, "7d", 7 * 86400)
    assert (cpa.kpi_objective, cpa.objective) == ("roi", "roi")
    assert (er.direction, er.window_label) == (1, "28d")  # 28d by default
    assert (er.kpi_objective, er.objective) == ("engagement", "roi")  # the goal's own
    assert (total.window_label, total.window_seconds) == ("1d", 86400)
    # without 28d the longest window computed
    (longest,) = compile_goals([goal()], CATALOGUE, [timedelta(days=1), timedelta(days=7)])
    assert longest.window_label == "7d"


# through the configuration loader ------------------------------------------------------------


def load_problems(tmp_path: Path, goals_yaml: str) -> list[str]:
    path = tmp_path / "goals.yaml"
    path.write_text(f"accounts:\n  - {{id: a, platform: demo_micro}}\ngoals:\n{goals_yaml}")
    with pytest.raises(ConfigError) as info:
        load_config(path, PLATFORMS, environ={})
    source = str(path)
    return [str(p).replace(source, "goals.yaml") for p in info.value.problems]


def test_the_loader_reports_goal_problems_at_their_line_with_the_goal_name(
    tmp_path: Path,
) -> None:
    found = load_problems(
        tmp_path,
        "  - name: er-h1\n"  # line 4
        "    kpi: engagment_rate\n"  # line 5
        "    target: 0.05\n"
        "    period: 2027-H1\n"
        "  - name: cpa-down\n"  # line 8
        "    kpi: cost_per_acquisition\n"
        "    baseline: 40\n"
        "    target: 50\n"  # line 11
        "    period: 2027\n"
        "  - {name: er-h1, kpi: reach, window: 3d, target: 10, period: '2027'}\n"  # line 13
        "  - {name: sum-er, kpi: engagement_rate, measure: total, target: 10, every: month}\n",
    )
    assert found == [
        "goals.yaml:5: goals[0].kpi: goal er-h1: unknown KPI 'engagment_rate'; did you mean "
        "'engagement_rate'? docs/kpis.md lists the KPIs (custom ones come from kpis.custom)",
        "goals.yaml:11: goals[1].target: goal cpa-down: a reach goal moves cost_per_acquisition "
        "the right way, and for cost_per_acquisition lower is better: target 50 is not lower "
        "than baseline 40; write a target lower than 40, or use criterion: stay_below to hold "
        "a level",
        "goals.yaml:13: goals[2].name: goal er-h1: the goal name 'er-h1' is used twice (first "
        "by goals[0]); give every goal its own name; it becomes the goal label",
        "goals.yaml:14: goals[3].measure: goal sum-er: engagement_rate is a ratio; only counts "
        "and amounts add up; use measure: value for rates and ratios",
    ]


def test_the_loader_reports_goal_config_errors_at_their_line(tmp_path: Path) -> None:
    found = load_problems(
        tmp_path,
        "  - {name: a, kpi: followers, target: 10}\n"  # line 4: no time bound
        "  - {name: b, kpi: followers, target: 10, period: 2027-Q1, start: 2027-01-01}\n"
        "  - name: c\n"
        "    kpi: engagement_rate\n"
        "    criterion: stay_above\n"
        "    target: '+20%'\n"  # line 9, the goal at line 6
        "    period: 2027\n"
        "  - {name: Bad Name, kpi: followers, target: 10, every: month}\n"  # line 11
        "  - {name: e, kpi: followers, target: 20%, every: month}\n",  # line 12
    )
    assert found[0].startswith("goals.yaml:4: goals[0]: a goal is time-bound")
    assert found[1].startswith("goals.yaml:5: goals[1]: period replaces start, deadline")
    assert found[2].startswith(
        "goals.yaml:6: goals[2]: a stay_above goal needs an absolute target (a limit), not "
        "'+20%'; write for example 0.02"
    )
    assert found[3].startswith("goals.yaml:11: goals[3].name: 'Bad Name' is not a valid goal")
    assert found[4].startswith("goals.yaml:12: goals[4].target: target '20%' is neither")
    assert len(found) == 5


def test_a_valid_goal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(
        "accounts:\n  - {id: a, platform: demo_micro, objective: engagement}\n"
        "goals:\n"
        "  - {name: er-h1, kpi: engagement_rate, target: 0.05, baseline: 0.03, period: 2027-H1}\n"
        "  - {name: new-300, kpi: followers, measure: change, target: 300, every: month}\n"
        "  - {name: followers-10k, kpi: followers, target: 10000, start: 2027-01-01,\n"
        "     deadline: 2027-07-01, owner: social-team, objective: reach}\n"
    )
    loaded = load_config(path, PLATFORMS, environ={})
    names = [g.name for g in loaded.config.goals]
    assert names == ["er-h1", "new-300", "followers-10k"]
    assert loaded.config.goals[2].deadline == date(2027, 7, 1)
    assert loaded.config.accounts[0].objective == "engagement"
