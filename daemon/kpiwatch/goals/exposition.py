"""The goal families of /metrics (catalogued in ``selfmetrics.GOAL_METRICS``).

The section is rendered from the goal tracker's results; the KPI catalogue supplies each KPI's
unit for ``kpiwatch_goal_info``, since a :class:`GoalResult` does not carry it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from kpiwatch.exposition import FamilyHeader, family_header, label_string
from kpiwatch.goals.model import STATUSES, GoalResult
from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.selfmetrics import GOAL_METRICS

HEADERS: dict[str, FamilyHeader] = {
    m.name: family_header(m.name, m.family_name, m.text_type, m.type, m.description)
    for m in GOAL_METRICS
}
#: The flags of ``kpiwatch_goal_flags``, in the order they are listed.
FLAGS = ("not_achievable", "vanity_metric", "review_due", "not_judged")


@dataclass(frozen=True)
class GoalSection:
    """Ready-made families, as the exposition cache appends them (see ``CombinedSection``)."""

    families: tuple[tuple[FamilyHeader, bytes], ...]
    series: int


def goal_flags(result: GoalResult) -> dict[str, bool]:
    """Each flag of ``kpiwatch_goal_flags`` for one goal."""
    return {
        "not_achievable": result.achievability.flagged,
        "vanity_metric": result.relevance.status == "vanity",
        "review_due": result.review_due,
        "not_judged": not result.judged,
    }


def kpi_unit(catalogue: Catalogue, kpi: str) -> str:
    """The unit of ``kpi`` (``ratio``, ``count``...), or "" when the catalogue lacks it."""
    compiled = catalogue.by_name.get(kpi)
    return compiled.definition.unit.value if compiled is not None else ""


def render_goals(
    results: Sequence[GoalResult],
    evaluated_at: float | None,
    duration: float | None,
    failures: Mapping[str, int],
    catalogue: Catalogue,
) -> GoalSection:
    """The goal families for ``results`` (in their order), the last evaluation's time and
    duration (None before the first), failed evaluations per goal name, and the catalogue the
    results were computed with. Unknown and non-finite values have no series."""
    bodies: dict[str, list[str]] = {name: [] for name in HEADERS}

    def add(name: str, labels: Mapping[str, str], value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        bodies[name].append(f"{name}{label_string(labels)} {floatToGoString(value)}\n")

    for r in results:
        goal = {"goal": r.name}
        info = {
            **goal,
            "kpi": r.kpi,
            "window": r.window,
            "measure": r.measure,
            "criterion": r.criterion,
            "direction": r.direction,
            "owner": r.owner,
            "objective": r.objective,
            "unit": kpi_unit(catalogue, r.kpi),
            "period": r.period.label,
        }
        add("kpiwatch_goal_info", info, 1)
        add("kpiwatch_goal_target", goal, r.target)
        add("kpiwatch_goal_baseline", goal, r.baseline)
        add("kpiwatch_goal_current", goal, r.current)
        add("kpiwatch_goal_expected", goal, r.expected)
        add("kpiwatch_goal_projected", goal, r.projected)
        add("kpiwatch_goal_progress_ratio", goal, r.progress)
        add("kpiwatch_goal_elapsed_ratio", goal, r.elapsed)
        for status in STATUSES:
            add("kpiwatch_goal_status", {**goal, "status": status}, int(r.status == status))
        add("kpiwatch_goal_start_timestamp_seconds", goal, r.period.start)
        add("kpiwatch_goal_deadline_timestamp_seconds", goal, r.period.end)
        add("kpiwatch_goal_review_due_timestamp_seconds", goal, r.review_due_at)
        add("kpiwatch_goal_daily_breaches", goal, r.breach_days)
        add("kpiwatch_goal_daily_checks", goal, r.judged_days)
        add("kpiwatch_goal_achievability_ratio", goal, r.achievability.ratio)
        flags = goal_flags(r)
        for flag in FLAGS:
            add("kpiwatch_goal_flags", {**goal, "flag": flag}, int(flags[flag]))
    add("kpiwatch_goal_evaluation_timestamp_seconds", {}, evaluated_at)
    add("kpiwatch_goal_evaluation_duration_seconds", {}, duration)
    for name, count in sorted(failures.items()):
        add("kpiwatch_goal_evaluation_failures_total", {"goal": name}, count)
    families = []
    series = 0
    for name, header in HEADERS.items():
        lines = bodies[name]
        if lines:
            families.append((header, "".join(lines).encode()))
            series += len(lines)
    return GoalSection(tuple(families), series)
