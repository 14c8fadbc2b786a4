"""Goals checked against the KPI catalogue and the computed windows, ready to track.

:func:`compile_goals` refuses what the configuration models cannot see on their own: an unknown
KPI, a window the KPI engine does not compute, a total of a KPI that is not a count, a reach
target on the wrong side of its baseline for the KPI's direction, a name used twice. Each
:class:`GoalProblem` names the goal's index and field, so ``check-config`` reports it at the
line it was written.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import timedelta

from kpiwatch.config_goals import GoalConfig
from kpiwatch.config_problems import EntryProblem, EntryProblems
from kpiwatch.durations import format_duration
from kpiwatch.goals.compute import GoalSpec
from kpiwatch.kpi.catalogue import Direction, KpiUnit
from kpiwatch.kpi.compiled import Catalogue

DAY = timedelta(days=1)
PREFERRED_WINDOW = timedelta(days=28)


class GoalProblem(EntryProblem):
    """A goal that cannot be tracked. ``index`` in ``goals:``, ``field`` the key at fault."""


class GoalProblems(EntryProblems):
    section = "goals"


def compile_goals(
    goals: Sequence[GoalConfig], catalogue: Catalogue, windows: Sequence[timedelta]
) -> list[GoalSpec]:
    """Every goal compiled; :class:`GoalProblems` lists the first problem of each bad goal."""
    specs: list[GoalSpec] = []
    problems: list[GoalProblem] = []
    seen: dict[str, int] = {}
    for index, goal in enumerate(goals):
        try:
            if goal.name in seen:
                raise GoalProblem(
                    index,
                    ("name",),
                    f"the goal name {goal.name!r} is used twice "
                    f"(first by goals[{seen[goal.name]}])",
                    "give every goal its own name; it becomes the goal label",
                )
            seen[goal.name] = index
            specs.append(_compile(index, goal, catalogue, windows))
        except GoalProblem as problem:
            problems.append(problem)
    if problems:
        raise GoalProblems(problems)
    return specs


def default_window(windows: Sequence[timedelta]) -> timedelta:
    """28d when the KPI engine computes it, else the longest window."""
    return PREFERRED_WINDOW if PREFERRED_WINDOW in windows else max(windows)


def _compile(
    index: int, goal: GoalConfig, catalogue: Catalogue, windows: Sequence[timedelta]
) -> GoalSpec:
    kpi = catalogue.by_name.get(goal.kpi)
    if kpi is None:
        close = difflib.get_close_matches(goal.kpi, list(catalogue.by_name), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise GoalProblem(
            index,
            ("kpi",),
            f"unknown KPI {goal.kpi!r}",
            f"{hint}docs/kpis.md lists the KPIs (custom ones come from kpis.custom)",
        )
    definition = kpi.definition
    computed = ", ".join(format_duration(w) for w in windows)
    if goal.measure == "total":
        if goal.window is not None and goal.window != DAY:
            raise GoalProblem(
                index,
                ("window",),
                "a total adds up daily values; its window is 1d",
                "remove window: (or write window: 1d)",
            )
        if DAY not in windows:
            raise GoalProblem(
                index,
                ("measure",),
                "a total adds up the KPI's 1d values, and 1d is not in kpis.windows",
                "add 1d to kpis.windows",
            )
        if definition.unit not in (KpiUnit.COUNT, KpiUnit.CURRENCY) or kpi.has_ratio:
            raise GoalProblem(
                index,
                ("measure",),
                f"{goal.kpi} is a {definition.unit.value}; only counts and amounts add up",
                "use measure: value for rates and ratios",
            )
        window = DAY
    else:
        window = goal.window or default_window(windows)
        if window not in windows:
            raise GoalProblem(
                index,
                ("window",),
                f"window {format_duration(window)} is not computed by the KPI engine",
                f"use one of {computed}, or add it to kpis.windows",
            )
    direction = 1 if definition.direction is Direction.HIGHER else -1
    if (
        goal.criterion == "reach"
        and isinstance(goal.target, (int, float))
        and goal.measure == "value"
        and goal.baseline is not None
        and direction * (goal.target - goal.baseline) <= 0
    ):
        better = "higher" if direction > 0 else "lower"
        raise GoalProblem(
            index,
            ("target",),
            f"a reach goal moves {goal.kpi} the right way, and for {goal.kpi} {better} is "
            f"better: target {goal.target:g} is not {better} than baseline {goal.baseline:g}",
            f"write a target {better} than {goal.baseline:g}, or use criterion: "
            f"{'stay_above' if direction > 0 else 'stay_below'} to hold a level",
        )
    relative = goal.relative_target
    if relative is not None and direction * relative <= 0:
        sign = "+" if direction > 0 else "-"
        raise GoalProblem(
            index,
            ("target",),
            f"{goal.kpi} improves when it goes {'up' if direction > 0 else 'down'}, so a "
            f"reach target of {goal.target} would make it worse",
            f"write for example target: '{sign}20%'",
        )
    if (
        goal.measure != "value"
        and isinstance(goal.target, (int, float))
        and direction * goal.target <= 0
    ):
        raise GoalProblem(
            index,
            ("target",),
            f"a {goal.measure} goal counts from 0; a target of {goal.target:g} asks for no "
            f"improvement of {goal.kpi}",
            f"write the amount to gain as a {'positive' if direction > 0 else 'negative'} number",
        )
    for key, values in goal.scope.items():
        if isinstance(values, list) and not values:
            raise GoalProblem(
                index,
                ("scope", key),
                f"scope {key} lists no value",
                "give a value or a list of values, or remove the key",
            )
    return GoalSpec(
        index=index,
        config=goal,
        direction=direction,
        kpi_objective=definition.objective.value,
        window_seconds=window.total_seconds(),
        window_label=format_duration(window),
    )
