"""Evaluate compiled rules against the KPI engine's results: which alerts are active now.

Per-account rules are a few NumPy operations over every account at once: the KPI's column of
values, a scope mask from integer-coded label columns, the condition. Only the accounts where
the condition holds become :class:`Observation` objects. Rules with ``by:`` other labels
aggregate the KPI per group first (sum of numerators over sum of denominators, as everywhere).
Goal rules read the goal tracker's results instead: one observation per goal (and, for the
outcome of a recurring goal's previous period, one more) whose condition holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kpiwatch.alerting import detect
from kpiwatch.alerting.rules import CompiledRule
from kpiwatch.config_goals import GoalTrackingSettings
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.period import Period
from kpiwatch.kpi.engine import AccountMeta, InputTable, Results, aggregate, group_keys

DEFAULT_OUTCOME_FOR = GoalTrackingSettings().outcome_for.total_seconds()
#: The goal values a goal rule's scope matches, by label name.
_GOAL_SCOPE_VALUES: dict[str, Callable[[GoalResult], str]] = {
    "goal": lambda r: r.name,
    "kpi": lambda r: r.kpi,
    "owner": lambda r: r.owner,
    "objective": lambda r: r.objective,
    "criterion": lambda r: r.criterion,
}


@dataclass
class Observation:
    """One alert whose condition holds now: its identity labels, value and template context."""

    rule: CompiledRule
    labels: dict[str, str]
    value: float | None
    context: dict[str, Any]


@dataclass
class KpiView:
    """The KPI engine's state a rule evaluation reads (taken under the engine's lock)."""

    results: Results
    table: InputTable
    window_labels: Sequence[str]


@dataclass
class AccountInfo:
    platform: str
    labels: Mapping[str, str]
    competitor: bool = False


@dataclass
class EvaluationInputs:
    """Everything one evaluation cycle reads. ``baselines`` maps a KPI name to daily values
    (rows of the KPI table, oldest day first, the last column one day before now)."""

    now: float
    kpis: KpiView | None
    accounts: Mapping[str, AccountInfo] = field(default_factory=dict)
    baselines: Mapping[str, np.ndarray] = field(default_factory=dict)
    metric_seen: Callable[[str, str], float | None] = lambda account, metric: None
    quality: Mapping[str, Sequence[detect.DataQualityEvent]] = field(default_factory=dict)
    #: The goal tracker's latest results (goal rules), and how long after a period ends its
    #: outcome (achieved, missed) stays active, in seconds (``goal_tracking.outcome_for``).
    goals: Sequence[GoalResult] = ()
    goal_outcome_for: float = DEFAULT_OUTCOME_FOR


class LabelColumns:
    """Account, platform and every label of each table row as integer codes."""

    def __init__(self, meta: Sequence[AccountMeta | None]) -> None:
        self.size = len(meta)
        self.present = np.array([m is not None for m in meta], dtype=bool)
        self.competitor = np.array([bool(m and m.competitor) for m in meta], dtype=bool)
        self._codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        names: set[str] = {"account", "platform"}
        for m in meta:
            if m is not None:
                names.update(m.labels)
        for name in names:
            values = [_label(m, name) for m in meta]
            index: dict[str, int] = {}
            codes = np.fromiter(
                (index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values)
            )
            self._codes[name] = (codes, index)

    def mask(self, scope: Mapping[str, str | list[str]], include_competitors: bool) -> np.ndarray:
        out = self.present.copy()
        if not include_competitors:
            out &= ~self.competitor
        for name, wanted in scope.items():
            codes, index = self._codes.get(name, (None, {}))
            values = wanted if isinstance(wanted, list) else [wanted]
            picked = [index[v] for v in values if v in index]
            if codes is None or not picked:
                return np.zeros(self.size, dtype=bool)
            out &= np.isin(codes, picked)
        return out


def _label(meta: AccountMeta | None, name: str) -> str:
    if meta is None:
        return ""
    if name == "account":
        return meta.account
    if name == "platform":
        return meta.platform
    return str(meta.labels.get(name, ""))


def _in_scope(info: AccountInfo, account: str, rule: CompiledRule) -> bool:
    if info.competitor and not rule.config.include_competitors:
        return False
    for name, wanted in rule.config.scope.items():
        if name == "account":
            value = account
        elif name == "platform":
            value = info.platform
        else:
            value = info.labels.get(name)
        values = wanted if isinstance(wanted, list) else [wanted]
        if value not in values:
            return False
    return True


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


class RuleEvaluator:
    """Evaluates rules cycle after cycle; keeps what KPI no-data rules need between cycles."""

    def __init__(self) -> None:
        #: (rule name, account) -> last time the KPI had a value (KPI no_data rules)
        self.kpi_seen: dict[tuple[str, str], float] = {}
        self.errors: dict[str, str] = {}
        self._baselines: dict[tuple[str, int, str], detect.AnomalyBaseline] = {}
        self._group_keys: dict[tuple[str, ...], list[tuple[str, ...] | None]] = {}

    def evaluate(
        self, rules: Sequence[CompiledRule], inputs: EvaluationInputs
    ) -> dict[str, list[Observation]]:
        """Active observations of every rule, by rule name. A failing rule is reported in
        ``errors`` and yields nothing (it never stops the others)."""
        self.errors: dict[str, str] = {}
        self._baselines: dict[tuple[str, int, str], detect.AnomalyBaseline] = {}
        self._group_keys: dict[tuple[str, ...], list[tuple[str, ...] | None]] = {}
        columns = LabelColumns(inputs.kpis.results.meta) if inputs.kpis else None
        out: dict[str, list[Observation]] = {}
        for rule in rules:
            try:
                out[rule.name] = self._rule(rule, inputs, columns)
            except Exception as exc:  # a bug in one rule's data must not stop the others
                self.errors[rule.name] = f"{type(exc).__name__}: {exc}"
                out[rule.name] = []
        return out

    def _rule(
        self, rule: CompiledRule, inputs: EvaluationInputs, columns: LabelColumns | None
    ) -> list[Observation]:
        kind = rule.kind
        if kind == "goal":
            return [
                obs
                for result in inputs.goals
                if _goal_in_scope(result, rule.config.scope)
                for obs in _goal_observations(rule, result, inputs)
            ]
        if kind == "data_quality":
            return self._data_quality(rule, inputs)
        if kind == "no_data" and rule.config.metric is not None:
            return self._metric_no_data(rule, inputs)
        if inputs.kpis is None or columns is None:
            return []
        if kind == "no_data":
            return self._kpi_no_data(rule, inputs, columns)
        if rule.per_account:
            return self._per_account(rule, inputs, columns)
        return self._per_group(rule, inputs, columns)

    # KPI rules -----------------------------------------------------------------------------
    def _per_account(
        self, rule: CompiledRule, inputs: EvaluationInputs, columns: LabelColumns
    ) -> list[Observation]:
        view = inputs.kpis
        assert view is not None and rule.window_index is not None and rule.config.kpi
        kpi = view.results.kpis[rule.config.kpi]
        n = columns.size
        w = rule.window_index
        current = kpi.value[(w, 0)][:n]
        previous = kpi.value[(w, 1)][:n]
        mask = columns.mask(rule.config.scope, rule.config.include_competitors)
        cond = rule.config.condition
        change = detect.relative_change(current, previous, cond.min_baseline)
        extra: dict[str, np.ndarray] = {}
        if rule.kind == "threshold":
            active = detect.threshold(current, cond.above, cond.below)
        elif rule.kind == "change":
            active, change = detect.change(
                current, previous, cond.change_above, cond.change_below, cond.min_baseline
            )
        else:  # anomaly
            assert cond.anomaly is not None
            history = inputs.baselines.get(rule.config.kpi)
            if history is None:
                return []
            a = cond.anomaly
            days = int(a.baseline.total_seconds() // 86400)
            key = (rule.config.kpi, days, a.seasonality)
            baseline = self._baselines.get(key)
            if baseline is None:
                baseline = detect.anomaly_baseline(history[:n, -days:], seasonality=a.seasonality)
                self._baselines[key] = baseline
            scores = detect.score_anomalies(
                current, baseline, min_points=a.min_points, min_volume=a.min_volume
            )
            active = detect.anomaly_active(scores, a.z, a.direction)
            extra = {"z": scores.z, "median": scores.median}
        rows = np.flatnonzero(active & mask)
        out = []
        meta = view.results.meta
        threshold = _threshold(rule)
        for row in rows.tolist():
            m = meta[row]
            if m is None:
                continue
            labels = {**rule.base_labels, "platform": m.platform, "account": m.account}
            for k, v in m.labels.items():
                labels.setdefault(k, v)
            value = _num(current[row])
            context = _context(rule, labels, value, _num(previous[row]), _num(change[row]))
            context["threshold"] = threshold
            for key, column in extra.items():
                context[key] = _num(column[row])
            if "median" in extra:
                context["threshold"] = _num(extra["median"][row])
            out.append(Observation(rule, labels, value, context))
        return out

    def _per_group(
        self, rule: CompiledRule, inputs: EvaluationInputs, columns: LabelColumns
    ) -> list[Observation]:
        view = inputs.kpis
        assert view is not None and rule.window_index is not None and rule.config.kpi
        by = list(rule.config.by)
        mask = columns.mask(rule.config.scope, rule.config.include_competitors)
        all_keys = self._group_keys.get(tuple(by))
        if all_keys is None:
            all_keys = group_keys(view.results.meta, by, include_competitors=True)
            self._group_keys[tuple(by)] = all_keys
        keys = [k if m else None for k, m in zip(all_keys, mask.tolist(), strict=False)]
        w = rule.window_index
        now = aggregate(view.results, view.table, rule.config.kpi, by, w, 0, keys)
        before = {
            tuple(sorted(g.labels.items())): g.value
            for g in aggregate(view.results, view.table, rule.config.kpi, by, w, 1, keys)
        }
        cond = rule.config.condition
        out = []
        for group in now:
            current = np.array([np.nan if group.value is None else group.value])
            prev_value = before.get(tuple(sorted(group.labels.items())))
            previous = np.array([np.nan if prev_value is None else prev_value])
            if rule.kind == "threshold":
                active = detect.threshold(current, cond.above, cond.below)
                change = detect.relative_change(current, previous, cond.min_baseline)
            else:
                active, change = detect.change(
                    current, previous, cond.change_above, cond.change_below, cond.min_baseline
                )
            if not bool(active[0]):
                continue
            labels = {**rule.base_labels, **{k: v for k, v in group.labels.items() if v != ""}}
            context = _context(rule, labels, group.value, prev_value, _num(change[0]))
            context["accounts"] = group.accounts
            out.append(Observation(rule, labels, group.value, context))
        return out

    def _kpi_no_data(
        self, rule: CompiledRule, inputs: EvaluationInputs, columns: LabelColumns
    ) -> list[Observation]:
        view = inputs.kpis
        assert view is not None and rule.window_index is not None and rule.config.kpi
        limit = rule.config.condition.no_data
        assert limit is not None
        values = view.results.kpis[rule.config.kpi].value[(rule.window_index, 0)]
        mask = columns.mask(rule.config.scope, rule.config.include_competitors)
        out = []
        for row, m in enumerate(view.results.meta[: columns.size]):
            if m is None or not mask[row]:
                continue
            key = (rule.name, m.account)
            if not np.isnan(values[row]):
                self.kpi_seen[key] = inputs.now
                continue
            seen = self.kpi_seen.setdefault(key, inputs.now)  # counted from the first look
            age = inputs.now - seen
            if age >= limit.total_seconds():
                labels = {**rule.base_labels, "platform": m.platform, "account": m.account}
                context = _context(rule, labels, age, None, None)
                context["threshold"] = limit.total_seconds()
                out.append(Observation(rule, labels, age, context))
        return out

    # raw-metric rules ----------------------------------------------------------------------
    def _metric_no_data(self, rule: CompiledRule, inputs: EvaluationInputs) -> list[Observation]:
        limit = rule.config.condition.no_data
        metric = rule.config.metric
        assert limit is not None and metric is not None
        out = []
        for account, info in inputs.accounts.items():
            if not _in_scope(info, account, rule):
                continue
            seen = inputs.metric_seen(account, metric)
            if seen is None:
                continue  # never reported: nothing stopped
            age = inputs.now - seen
            if age >= limit.total_seconds():
                labels = {**rule.base_labels, "platform": info.platform, "account": account}
                context = _context(rule, labels, age, None, None)
                context["threshold"] = limit.total_seconds()
                out.append(Observation(rule, labels, age, context))
        return out

    def _data_quality(self, rule: CompiledRule, inputs: EvaluationInputs) -> list[Observation]:
        cond = rule.config.condition.data_quality
        assert cond is not None
        metric = rule.config.metric
        out = []
        for account, events in inputs.quality.items():
            info = inputs.accounts.get(account)
            if info is None or not _in_scope(info, account, rule):
                continue
            for event in events:
                if event.check not in cond.checks:
                    continue
                if metric is not None and event.series.split("|", 1)[0] != metric:
                    continue
                labels = {
                    **rule.base_labels,
                    "platform": info.platform,
                    "account": account,
                    "series": event.series,
                    "check": event.check,
                }
                labels.setdefault("metric", event.series.split("|", 1)[0])
                context = _context(rule, labels, event.current, event.previous, None)
                context["detail"] = event.detail
                out.append(Observation(rule, labels, event.current, context))
        return out


# goal rules ---------------------------------------------------------------------------------
def _goal_in_scope(result: GoalResult, scope: Mapping[str, str | list[str]]) -> bool:
    for name, wanted in scope.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if _GOAL_SCOPE_VALUES[name](result) not in values:
            return False
    return True


def _goal_observations(
    rule: CompiledRule, result: GoalResult, inputs: EvaluationInputs
) -> list[Observation]:
    """The goal's observations under ``rule``: none, one, or for achieved/missed of a recurring
    goal also the previous period's outcome (while it is recent)."""
    condition = rule.config.condition.goal
    now = inputs.now
    live = now < result.period.end
    detail = "; ".join(result.problems)
    if condition == "off_pace":
        holds = result.judged and result.status in ("behind", "at_risk")
    elif condition == "projected_miss":
        holds = result.judged and result.projected_met is False and live
    elif condition in ("achieved", "missed"):
        # before the deadline: achieved when the target is met now (missed: a stay_* goal
        # over its breach budget); after it, the outcome stays active for outcome_for
        holds = (
            result.judged
            and result.status == condition
            and now < result.period.end + inputs.goal_outcome_for
        )
    elif condition == "review_due":
        holds = result.review_due
    elif condition == "not_achievable":
        holds = result.achievability.flagged and live
        detail = result.achievability.detail
    else:  # vanity_metric
        holds = result.relevance.status == "vanity" and live
        detail = result.relevance.detail
    out = []
    if holds:
        context = {
            "status": result.status,
            "progress": _num(result.progress),
            "expected": _num(result.expected),
            "projected": _num(result.projected),
            "elapsed": _num(result.elapsed),
            "baseline": _num(result.baseline),
            "detail": detail,
        }
        out.append(
            _goal_observation(rule, result, result.period, result.current, result.target, context)
        )
    previous = result.previous
    if (
        condition in ("achieved", "missed")
        and previous is not None
        and previous.status == condition
        and previous.judged
        and now < previous.period.end + inputs.goal_outcome_for
    ):
        context = {
            "status": previous.status,
            "progress": None,
            "expected": _num(previous.target),
            "projected": None,
            "elapsed": 1.0,
            "baseline": None,
            "detail": "",
        }
        out.append(
            _goal_observation(
                rule, result, previous.period, previous.value, previous.target, context
            )
        )
    return out


def _goal_observation(
    rule: CompiledRule,
    result: GoalResult,
    period: Period,
    value: float | None,
    target: float | None,
    extra: Mapping[str, Any],
) -> Observation:
    labels = {
        **rule.base_labels,
        "goal": result.name,
        "kpi": result.kpi,
        "window": result.window,
        "period": period.label,
    }
    if result.owner:
        labels["owner"] = result.owner
    if result.objective:
        labels["objective"] = result.objective
    value = _num(value)
    context = _context(rule, labels, value, None, None)
    context.update(
        threshold=_num(target),
        kpi=result.kpi,
        window=result.window,
        goal=result.name,
        period=period.label,
        deadline=_rfc3339(period.end),
        owner=result.owner,
        objective=result.objective,
        **extra,
    )
    return Observation(rule, labels, value, context)


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _threshold(rule: CompiledRule) -> float | None:
    cond = rule.config.condition
    for value in (cond.above, cond.below, cond.change_above, cond.change_below):
        if value is not None:
            return value
    return None


def _context(
    rule: CompiledRule,
    labels: Mapping[str, str],
    value: float | None,
    previous: float | None,
    change: float | None,
) -> dict[str, Any]:
    return {
        "value": value,
        "threshold": _threshold(rule),
        "previous": previous,
        "change": change,
        "account": labels.get("account", ""),
        "platform": labels.get("platform", ""),
        "kpi": rule.config.kpi or "",
        "metric": labels.get("metric", rule.config.metric or ""),
        "window": rule.window_label or "",
        "rule": rule.name,
        "severity": rule.config.severity,
        "labels": dict(labels),
        "detail": "",
    }
