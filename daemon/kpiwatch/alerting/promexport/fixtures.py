"""Inputs of the generated tests: the step, the test accounts and their series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from kpiwatch.alerting.promexport.aggregation import Aggregation, is_grouped
from kpiwatch.alerting.promexport.promql import labels_text
from kpiwatch.config_alerting import RuleConfig
from kpiwatch.kpi.compiled import CompiledKpi

#: The step of the generated tests (input samples and rule evaluations).
STEP = timedelta(minutes=1)
#: Currencies of the test series of money KPIs: the first for the accounts, the second apart.
TEST_CURRENCIES = ("EUR", "USD")

Labels = dict[str, str]


@dataclass
class Series:
    """An input series of a test: one value per phase."""

    name: str
    labels: Labels
    values: list[float | None]  # one per phase; None: no sample

    def text(self) -> str:
        """``name{label="value",...}``."""
        return f"{self.name}{{{labels_text(self.labels)}}}"

    def samples(self, phases: Sequence[int]) -> str:
        """The values in promtool's notation (``1x5`` is six samples, ``_x3`` three gaps)."""
        runs: list[list[Any]] = []
        for value, count in zip(self.values, phases, strict=True):
            if count <= 0:
                continue
            if runs and runs[-1][0] == value:
                runs[-1][1] += count
            else:
                runs.append([value, count])
        parts = []
        for value, count in runs:
            if value is None:
                parts.append("_" if count == 1 else f"_x{count}")
            else:
                text = _plain(value)
                parts.append(text if count == 1 else f"{text}x{count - 1}")
        return " ".join(parts)


def _plain(value: float) -> str:
    """``value`` without an exponent."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def clean(value: float) -> float:
    """``value`` to 12 significant digits: test inputs without float noise (0.1 + 0.2)."""
    return float(f"{value:.12g}")


def split(total: float, members: int) -> list[float]:
    """``total`` for one member, or a quarter and three quarters of it for two."""
    if members == 1:
        return [clean(total)]
    return [clean(total / 4), clean(total * 3 / 4)]


@dataclass
class Accounts:
    """The accounts of one alert's test: the watched ones and the decoys that must not count."""

    members: list[Labels]
    decoys: list[Labels]


def accounts_for(rule: RuleConfig, template_labels: set[str]) -> Accounts:
    """Accounts in the rule's scope (two for a group rule) and decoys.

    The decoys: an account outside the scope, one a scope regex would match were ``.`` not
    escaped, and a competitor unless the rule includes competitors.
    """
    scope = rule.scope
    base: Labels = {"platform": "example"}
    for name in sorted(scope):
        base[name] = _scope_values(scope, name)[0]
    for name in [*rule.by, *sorted(template_labels)]:
        if name not in base and name not in ("account", "platform"):
            base[name] = f"{name}-1"
    accounts = _scope_values(scope, "account")
    if is_grouped(rule):
        ids = accounts[:2] if accounts else ["acct-a", "acct-b"]
    else:
        ids = accounts[:1] if accounts else ["acct-1"]
    members = [{**base, "account": i} for i in ids]
    decoys = []
    if scope:
        key = sorted(scope)[0]
        outside = {**members[0], key: _outside(_scope_values(scope, key), key)}
        if key != "account" and not accounts:
            outside["account"] = "acct-outside"
        decoys.append(outside)
        dotted = _unescaped_match(scope)
        if dotted is not None:
            name, value = dotted
            dotted_decoy = {**members[0], name: value}
            if name != "account" and not accounts:
                dotted_decoy["account"] = "acct-dotted"
            decoys.append(dotted_decoy)
    if not rule.include_competitors:
        rival = {**members[0], "competitor": "true"}
        if not accounts:
            rival["account"] = "acct-competitor"
        decoys.append(rival)
    return Accounts(members, decoys)


def _scope_values(scope: Mapping[str, str | list[str]], name: str) -> list[str]:
    wanted = scope.get(name)
    if wanted is None:
        return []
    return wanted if isinstance(wanted, list) else [wanted]


def _outside(values: Sequence[str], name: str) -> str:
    out = f"outside-{name}"
    while out in values:
        out += "-x"
    return out


def _unescaped_match(scope: Mapping[str, str | list[str]]) -> tuple[str, str] | None:
    """A (label, value) outside the scope that its regex would match were ``.`` not escaped."""
    for name in sorted(scope):
        values = _scope_values(scope, name)
        for value in values if len(values) > 1 else []:
            other = value.replace(".", "x")
            if other not in values:
                return name, other
    return None


def kpi_labels(kpi: CompiledKpi, labels: Labels) -> Labels:
    """``labels`` with the KPI's first basis and first test currency, where it has them."""
    out = dict(labels)
    if kpi.basis:
        out["basis"] = kpi.basis[0].name
    if kpi.money:
        out["currency"] = TEST_CURRENCIES[0]
    return out


def group_labels(member: Labels, by: Sequence[str], window: str, agg: Aggregation) -> Labels:
    """The labels of the group alert of ``member``'s group."""
    out = {name: member[name] for name in by if member.get(name)}
    out["window"] = window
    if "basis" in agg.extra:
        out["basis"] = agg.kpi.basis[0].name
    if "currency" in agg.extra:
        out["currency"] = TEST_CURRENCIES[0]
    return out
