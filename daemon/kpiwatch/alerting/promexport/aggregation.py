"""KPIs aggregated over accounts in PromQL, and the recording rules of those aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kpiwatch.alerting.promexport.promql import NOT_COMPETITOR, Matcher, selector
from kpiwatch.config import Config
from kpiwatch.config_alerting import RuleConfig
from kpiwatch.kpi.compiled import Catalogue, CompiledKpi


@dataclass(frozen=True)
class Aggregation:
    """How PromQL aggregates a KPI over accounts: ``ratio`` or ``sum``, and the labels kept."""

    kpi: CompiledKpi
    operation: str
    extra: tuple[str, ...]  # basis, currency

    @property
    def family(self) -> str:
        return self.kpi.definition.metric_name

    @property
    def numerator(self) -> str:
        return f"kpiwatch_kpi_{self.kpi.name}_numerator"

    @property
    def denominator(self) -> str:
        return f"kpiwatch_kpi_{self.kpi.name}_denominator"

    def expression(self, by: Sequence[str], matchers: Sequence[Matcher]) -> str:
        """The aggregate over the accounts ``matchers`` select, per ``by``, window and extra."""
        grouping = ", ".join(sorted({*by, "window", *self.extra}))
        if self.operation == "sum":
            series = selector(self.family, [*matchers, ("period", "=", "current")])
            return f"sum by ({grouping}) ({series})"
        num = selector(self.numerator, matchers)
        den = selector(self.denominator, matchers)
        return f"sum by ({grouping}) ({num}) / (sum by ({grouping}) ({den}) != 0)"

    def previous_expression(self, by: Sequence[str], matchers: Sequence[Matcher]) -> str:
        """The sum of the previous window's values over the accounts ``matchers`` select."""
        grouping = ", ".join(sorted({*by, "window", *self.extra}))
        series = selector(self.family, [*matchers, ("period", "=", "previous")])
        return f"sum by ({grouping}) ({series})"


#: Record name -> (its aggregation, the sorted labels it groups by).
Records = dict[str, tuple[Aggregation, tuple[str, ...]]]


def aggregation(kpi: CompiledKpi, config: Config) -> Aggregation | str:
    """How PromQL aggregates ``kpi`` over accounts as kpiwatch does, or why it cannot."""
    d = kpi.definition
    if kpi.derived is not None:
        return (
            "it is computed from other KPIs' group values (a custom KPI over ratio KPIs); only "
            "the per-account gauge exists"
        )
    if d.share_of_market:
        return (
            "its market is every own and competitor account of the group's platforms; summing "
            "the per-account market denominators would count it once per account"
        )
    if d.pairing == "group":
        return (
            "kpiwatch sums each input over the group before dividing (revenue and costs may "
            "come from different accounts); the exported numerators pair them per account"
        )
    extra = tuple(
        name for name, present in (("basis", bool(kpi.basis)), ("currency", kpi.money)) if present
    )
    if not kpi.has_ratio:
        return Aggregation(kpi, "sum", extra)
    if not config.kpis.export.components:
        return (
            "kpis.export.components is false, so its numerators and denominators are not exported"
        )
    return Aggregation(kpi, "ratio", extra)


def is_grouped(rule: RuleConfig) -> bool:
    """Whether the rule judges groups of accounts (``by`` without ``account``)."""
    return "account" not in rule.by


def record_name(level: Sequence[str], agg: Aggregation) -> str:
    """``<level>:<family>:<operation>``, the level being the sorted labels or ``all``."""
    return f"{'_'.join(sorted(level)) or 'all'}:{agg.family}:{agg.operation}"


def plan_records(rules: Sequence[RuleConfig], catalogue: Catalogue, config: Config) -> Records:
    """Records of the groupings rules use (and per platform) of the KPIs they use."""
    wanted: dict[str, set[tuple[str, ...]]] = {}
    for rule in rules:
        if rule.kpi is None or rule.kpi not in catalogue.by_name:
            continue
        if rule.condition.kind not in ("threshold", "change"):
            continue
        groupings = wanted.setdefault(rule.kpi, set())
        groupings.add(("platform",))
        if is_grouped(rule):
            groupings.add(tuple(sorted(rule.by)))
    records: Records = {}
    for kpi_name in sorted(wanted):
        agg = aggregation(catalogue.by_name[kpi_name], config)
        if isinstance(agg, str):
            continue
        for grouping in sorted(wanted[kpi_name]):
            name = record_name(grouping, agg)
            if name not in records:
                records[name] = (agg, grouping)
    return records


def record_rules(records: Records) -> list[dict[str, Any]]:
    """The recording rules, sorted by name; competitor accounts are left out."""
    out = []
    for name in sorted(records):
        agg, grouping = records[name]
        out.append({"record": name, "expr": agg.expression(grouping, [NOT_COMPETITOR])})
    return out
