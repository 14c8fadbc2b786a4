"""Rules checked against the KPI catalogue, the windows and the notifiers, ready to evaluate.

:func:`compile_rules` refuses what the configuration models cannot see on their own: an
unknown KPI or metric, a window the KPI engine does not compute, a template that does not
render, a notifier that is not configured, a goal rule scoped to a goal or goal label that does
not exist. Each :class:`RuleProblem` names the rule's index and field, so ``check-config``
reports it at the line it was written.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

from kpiwatch import vocabulary
from kpiwatch.alerting.templates import TemplateProblem, Templates, check
from kpiwatch.config_alerting import GOAL_SCOPE_LABELS, RuleConfig
from kpiwatch.config_goals import Criterion, ObjectiveName
from kpiwatch.config_problems import EntryProblem, EntryProblems
from kpiwatch.durations import format_duration
from kpiwatch.kpi.compiled import Catalogue


class RuleProblem(EntryProblem):
    """A rule that cannot be evaluated. ``index`` in ``rules:``, ``field`` the key at fault."""


@dataclass(frozen=True)
class CompiledRule:
    """One rule with its KPI resolved to a window index and its templates compiled."""

    index: int
    config: RuleConfig
    kind: str
    window_index: int | None  # into kpis.windows; None for metric rules
    window_label: str | None
    templates: Templates
    notifiers: tuple[str, ...] | None
    base_labels: dict[str, str]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def per_account(self) -> bool:
        return list(self.config.by) == ["account"]


def window_label(window: timedelta) -> str:
    return format_duration(window)


def compile_rules(
    rules: Sequence[RuleConfig],
    catalogue: Catalogue,
    windows: Sequence[timedelta],
    notifier_names: Sequence[str],
    goal_names: Sequence[str] | None = None,
) -> list[CompiledRule]:
    """Every rule compiled, or the first problem of each bad rule raised together.

    ``goal_names`` (the names in ``goals:``), when given, are what a goal rule's
    ``scope: {goal: ...}`` may name. Raises :class:`RuleProblems` listing every problem found.
    """
    compiled: list[CompiledRule] = []
    problems: list[RuleProblem] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        try:
            if rule.name in seen:
                raise RuleProblem(
                    index,
                    ("name",),
                    f"the rule name {rule.name!r} is used twice "
                    f"(first by rules[{seen[rule.name]}])",
                    "give every rule its own name; it becomes the alertname label",
                )
            seen[rule.name] = index
            if rule.condition.kind == "goal":
                _check_goal_scope(index, rule, catalogue, goal_names)
            compiled.append(_compile(index, rule, catalogue, windows, notifier_names))
        except RuleProblem as problem:
            problems.append(problem)
    if problems:
        raise RuleProblems(problems)
    return compiled


class RuleProblems(EntryProblems):
    section = "rules"


def _check_goal_scope(
    index: int, rule: RuleConfig, catalogue: Catalogue, goal_names: Sequence[str] | None
) -> None:
    """A goal rule's scope names goal labels, and values that can match."""
    if goal_names is not None and not goal_names:
        raise RuleProblem(
            index,
            ("condition", "goal"),
            "a goal rule watches goals, and no goal is configured",
            "add the goals to goals: (docs/goals.md), or remove the rule",
        )
    known: dict[str, Sequence[str] | None] = {
        "goal": goal_names,
        "kpi": list(catalogue.by_name),
        "objective": get_args(ObjectiveName),
        "criterion": get_args(Criterion),
        "owner": None,  # free text
    }
    for key, wanted in rule.scope.items():
        if key not in GOAL_SCOPE_LABELS:
            close = difflib.get_close_matches(key, GOAL_SCOPE_LABELS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise RuleProblem(
                index,
                ("scope", key),
                f"a goal rule's scope matches goal labels, and {key!r} is none",
                f"{hint}use {', '.join(GOAL_SCOPE_LABELS)}; the goal's own scope: picks accounts",
            )
        allowed = known[key]
        if allowed is None:
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        for i, value in enumerate(values):
            if value in allowed:
                continue
            close = difflib.get_close_matches(value, list(allowed), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            field: tuple[str | int, ...] = ("scope", key)
            if isinstance(wanted, list):
                field = ("scope", key, i)
            if key == "goal":
                fix = f"{hint}goals configured: {', '.join(allowed)}"
            elif key == "kpi":
                fix = f"{hint}docs/kpis.md lists the KPIs"
            else:
                fix = f"{hint}one of {', '.join(allowed)}"
            raise RuleProblem(index, field, f"unknown {key} {value!r}", fix)


def _compile(
    index: int,
    rule: RuleConfig,
    catalogue: Catalogue,
    windows: Sequence[timedelta],
    notifier_names: Sequence[str],
) -> CompiledRule:
    kind = rule.condition.kind
    base = {"alertname": rule.name, "severity": rule.severity}
    window_index = None
    label = None
    if rule.kpi is not None:
        if rule.kpi not in catalogue.by_name:
            close = difflib.get_close_matches(rule.kpi, list(catalogue.by_name), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise RuleProblem(
                index,
                ("kpi",),
                f"unknown KPI {rule.kpi!r}",
                f"{hint}docs/kpis.md lists the KPIs (custom ones come from kpis.custom)",
            )
        base["kpi"] = rule.kpi
        window = rule.watched_window or min(windows)
        if window not in windows:
            field = "over" if rule.over is not None else "window"
            computed = ", ".join(window_label(w) for w in windows)
            raise RuleProblem(
                index,
                (field,),
                f"window {window_label(window)} is not computed by the KPI engine",
                f"use one of {computed}, or add it to kpis.windows",
            )
        window_index = list(windows).index(window)
        label = window_label(window)
        base["window"] = label
    if rule.metric is not None:
        if vocabulary.get(rule.metric) is None:
            names = [m.name for m in vocabulary.METRICS]
            close = difflib.get_close_matches(rule.metric, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise RuleProblem(
                index,
                ("metric",),
                f"unknown metric {rule.metric!r}",
                f"{hint}docs/metrics.md lists the vocabulary",
            )
        base["metric"] = rule.metric
    if rule.condition.anomaly is not None and label not in (None, "1d"):
        raise RuleProblem(
            index,
            ("over" if rule.over is not None else "window",),
            f"anomaly rules compare daily values; window {label} is not 1d",
            "write window: 1d (and keep 1d in kpis.windows)",
        )
    if rule.condition.anomaly is not None and not list(rule.by) == ["account"]:
        raise RuleProblem(
            index, ("by",), "anomaly rules are judged per account", "remove by: from the rule"
        )
    for key, values in rule.scope.items():
        if isinstance(values, list) and not values:
            raise RuleProblem(
                index,
                ("scope", key),
                f"scope {key} lists no value",
                "give a value or a list of values, or remove the key",
            )
    for part, templates in (("labels", rule.labels), ("annotations", rule.annotations)):
        for key, text in templates.items():
            try:
                check(text)
            except TemplateProblem as problem:
                raise RuleProblem(
                    index,
                    (part, key),
                    str(problem),
                    "correct the template; docs/alerting.md lists the names and filters",
                ) from None
    notifiers = None
    if rule.notifiers is not None:
        for i, name in enumerate(rule.notifiers):
            if name not in notifier_names:
                close = difflib.get_close_matches(name, list(notifier_names), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                configured = ", ".join(notifier_names) or "none"
                raise RuleProblem(
                    index,
                    ("notifiers", i),
                    f"unknown notifier {name!r}",
                    f"{hint}notifiers configured: {configured}",
                )
        notifiers = tuple(rule.notifiers)
    return CompiledRule(
        index,
        rule,
        kind,
        window_index,
        label,
        Templates(rule.labels, rule.annotations),
        notifiers,
        base,
    )
