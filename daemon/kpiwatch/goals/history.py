"""A goal's KPI at instants, read from the history store (runs in a reader's thread).

For each instant the inputs of every account in the goal's scope are read as the KPI engine
reads today's (:func:`kpiwatch.kpi.inputs.read_account_inputs` with the instant as "now"), the
KPI is computed per account and aggregated over the scope (ratio of sums). An account whose
newest sample is more than 2 days before the instant does not count at it (at "now" this is
reported as a problem naming the account).

Values at past midnights do not change once their day has data, so they are cached; a midnight
without a value, and the last two, are read again at most once per ``refresh`` seconds (data
can arrive late), and at once when the scope's oldest stored point moves back (a first poll,
a platform's history backfill, a CSV import).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kpiwatch.goals.compute import STALE, GoalSpec
from kpiwatch.goals.period import DAY
from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.engine import AccountMeta, GroupValue, InputTable, aggregate, compute
from kpiwatch.kpi.inputs import account_layout, read_account_inputs
from kpiwatch.store.reader import oldest_point

#: How often a missing or recent midnight is read again.
REFRESH = 3600.0


def in_scope(
    meta: AccountMeta, scope: Mapping[str, str | list[str]], include_competitors: bool
) -> bool:
    """Whether the account is one of the accounts a goal covers."""
    if meta.competitor and not include_competitors:
        return False
    for name, wanted in scope.items():
        if name == "account":
            value = meta.account
        elif name == "platform":
            value = meta.platform
        else:
            value = meta.labels.get(name)
        values = wanted if isinstance(wanted, list) else [wanted]
        if value not in values:
            return False
    return True


@dataclass
class _Cached:
    values: dict[float, float] = field(default_factory=dict)
    read_at: dict[float, float] = field(default_factory=dict)
    oldest: float | None = None  # the oldest stored point of the scope when last read


class GoalHistory:
    """Reads and caches the KPI of each goal's scope at the instants the goal needs."""

    def __init__(self, catalogue: Catalogue, refresh: float = REFRESH) -> None:
        self.catalogue = catalogue
        self.refs = catalogue.refs
        self.refresh = refresh
        self._cache: dict[tuple, _Cached] = {}
        self._rows: dict[str, tuple[str, float]] = {}  # table row key -> (account, instant)
        self.reads = 0  # account reads done, for tests and benchmarks

    def points(
        self,
        conn: sqlite3.Connection,
        spec: GoalSpec,
        accounts: Sequence[AccountMeta],
        instants: Iterable[float],
        now: float,
    ) -> tuple[dict[float, float], list[str]]:
        """The KPI at each instant (NaN where there is no value), and problems found."""
        scope = [
            m for m in accounts if in_scope(m, spec.config.scope, spec.config.include_competitors)
        ]
        kpi = self.catalogue.by_name[spec.config.kpi]
        market = kpi.definition.share_of_market
        platforms = {m.platform for m in scope}
        readers = [
            m
            for m in accounts
            if m in scope or (market and m.competitor and m.platform in platforms)
        ]
        key = (
            spec.config.kpi,
            spec.window_seconds,
            spec.config.include_competitors,
            tuple(sorted(m.account for m in scope)),
        )
        cached = self._cache.setdefault(key, _Cached())
        oldest = oldest_point(conn, [m.account for m in readers]) if readers else None
        if oldest != cached.oldest:
            # new data before what was stored (a first poll, a history backfill, an import):
            # the midnights that had no value are read again
            cached.oldest = oldest
            for instant, value in cached.values.items():
                if math.isnan(value):
                    cached.read_at[instant] = -math.inf
        problems: list[str] = []
        out: dict[float, float] = {}
        wanted: list[float] = []
        for instant in instants:
            settled = instant % DAY == 0 and instant < now - 2 * DAY
            value = cached.values.get(instant)
            fresh = now - cached.read_at.get(instant, -math.inf) < self.refresh
            if value is not None and (fresh or (settled and not math.isnan(value))):
                out[instant] = value
            else:
                wanted.append(instant)
        if market:  # the market of a share KPI is per instant: one table each
            found = {}
            for instant in wanted:
                found |= self._values_at(conn, spec, scope, readers, [instant], problems)
        else:
            found = self._values_at(conn, spec, scope, readers, wanted, problems)
        for instant in wanted:
            value = found.get(instant, math.nan)
            out[instant] = value
            if instant % DAY == 0:  # midnights are cached, "now" never
                cached.values[instant] = value
                cached.read_at[instant] = now
        if not scope:
            problems.append("no account matches the goal's scope")
        return out, sorted(set(problems))

    def forget(self, keep: Iterable[GoalSpec]) -> None:
        """Drop the cache of KPIs no goal reads any more (after a reload)."""
        wanted = {(s.config.kpi, s.window_seconds, s.config.include_competitors) for s in keep}
        for key in list(self._cache):
            if key[:3] not in wanted:
                del self._cache[key]

    def _values_at(
        self,
        conn: sqlite3.Connection,
        spec: GoalSpec,
        scope: Sequence[AccountMeta],
        readers: Sequence[AccountMeta],
        instants: Sequence[float],
        problems: list[str],
    ) -> dict[float, float]:
        """The KPI of the scope at each instant: one table row per account and instant, the
        KPI computed once for all rows and aggregated per instant."""
        if not scope or not instants:
            return {}
        table = InputTable(self.refs, 1, capacity=max(1, len(readers) * len(instants)))
        members = {m.account for m in scope}
        layouts = {m.account: account_layout(conn, m.account, self.refs) for m in readers}
        for instant in instants:
            for meta in readers:
                found = read_account_inputs(
                    conn,
                    meta.account,
                    self.refs,
                    [spec.window_seconds],
                    instant,
                    layouts[meta.account],
                )
                self.reads += 1
                if found.at is None or instant - found.at > STALE:
                    if instant % DAY and meta.account in members:  # "now": say who is missing
                        problems.append(
                            f"account {meta.account} has no data in the last 2 days; it is left "
                            "out of the goal's KPI"
                        )
                    continue
                row = AccountMeta(
                    f"{meta.account}@{instant!r}", meta.platform, meta.labels, meta.competitor
                )
                row.currency, row.at = found.currency, found.at
                table.set_row(row, found.values)
                self._rows[row.account] = (meta.account, instant)
        if not len(table):
            return {}
        results = compute(table, self._catalogue_of(spec.config.kpi))
        keys: list[tuple[str, ...] | None] = []
        for m in results.meta:
            origin = self._rows.get(m.account) if m is not None else None
            keys.append((repr(origin[1]),) if origin and origin[0] in members else None)
        self._rows.clear()
        by_instant: dict[str, list[GroupValue]] = {}
        for group in aggregate(results, table, spec.config.kpi, ["at"], 0, 0, keys):
            if group.value is not None and np.isfinite(group.value):
                by_instant.setdefault(group.labels["at"], []).append(group)
        return {
            instant: self._choose(spec, by_instant.get(repr(instant), []), problems)
            for instant in instants
        }

    def _catalogue_of(self, name: str) -> Catalogue:
        """The catalogue a KPI is computed with: the KPI alone, unless it is derived from other
        KPIs (computing every KPI of the catalogue for thousands of rows is the larger cost)."""
        kpi = self.catalogue.by_name[name]
        return self.catalogue if kpi.derived is not None else Catalogue((kpi,))

    def _choose(self, spec: GoalSpec, groups: list[GroupValue], problems: list[str]) -> float:
        """The scope's value from its groups (one per basis or currency where they differ)."""
        if not groups:
            return math.nan
        currencies = {g.labels.get("currency") for g in groups} - {None, ""}
        if len(currencies) > 1:
            problems.append(
                f"the accounts in scope report {', '.join(sorted(currencies))}: amounts in "
                "different currencies are never added up; narrow the scope to one currency"
            )
            return math.nan
        kpi = self.catalogue.by_name[spec.config.kpi]
        if len(groups) > 1 and kpi.basis:
            order = {r.name: i for i, r in enumerate(kpi.basis)}
            groups = sorted(groups, key=lambda g: order.get(g.labels.get("basis", ""), len(order)))
            problems.append(
                f"the accounts in scope compute {spec.config.kpi} on different bases; the goal "
                f"uses the {groups[0].labels.get('basis')} basis"
            )
        return float(groups[0].value)  # type: ignore[arg-type]
