"""Which platforms feed which KPIs: the KPI by platform table of docs/kpis.md.

A platform feeds a KPI when the KPI engine computes a value for an account that reports the
platform's metrics (``Platform.metrics``) and nothing else: one probe row with every one of
those metrics (every window, both periods) is computed by the real engine, so basis chains,
``first()`` alternatives and dimension filters count exactly as they do for real accounts.
KPIs that pair inputs across accounts of a group (ROI: revenue from web analytics, spend from
ads) are also probed for each pair of platforms.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, aggregate, compute


@dataclass(frozen=True)
class Coverage:
    """Per KPI, the platforms that feed it alone, and pairs that feed it together."""

    alone: Mapping[str, tuple[str, ...]]
    together: Mapping[str, tuple[tuple[str, str], ...]]

    def fed(self, kpi: str) -> bool:
        return bool(self.alone.get(kpi) or self.together.get(kpi))


def _probe(catalogue: Catalogue, accounts: Mapping[str, Iterable[str]]) -> dict[str, bool]:
    """KPIs computed for a group of probe accounts, each reporting the given metrics."""
    table = InputTable(catalogue.refs, 1)
    for account, metrics in accounts.items():
        names = set(metrics)
        values = {
            (ref, 0, period): 2.0 + period
            for ref in catalogue.refs
            if ref.name in names
            for period in (0, 1)
        }
        table.set_row(AccountMeta(account, account, {}, currency="EUR"), values)
    results = compute(table, catalogue)
    keys = [("all",) if m is not None else None for m in results.meta]
    out = {}
    for kpi in catalogue.kpis:
        if len(accounts) == 1:
            value = results.kpis[kpi.name].value[(0, 0)][0]
            out[kpi.name] = bool(np.isfinite(value))
        else:
            groups = aggregate(results, table, kpi.name, ["probe"], 0, 0, keys)
            out[kpi.name] = any(g.value is not None and np.isfinite(g.value) for g in groups)
    return out


def coverage(
    catalogue: Catalogue,
    platforms: Mapping[str, Iterable[str]],
    manual: Collection[str] = (),
) -> Coverage:
    """The KPIs each platform feeds alone, and those a pair of platforms feeds as one group
    where no platform feeds them alone. ``manual`` platforms (csv: any metric, typed in) are
    probed alone but neither make pairs nor stop them."""
    metrics = {name: tuple(m) for name, m in platforms.items()}
    alone: dict[str, list[str]] = {k.name: [] for k in catalogue.kpis}
    for name, produced in metrics.items():
        for kpi, ok in _probe(catalogue, {name: produced}).items():
            if ok:
                alone[kpi].append(name)
    together: dict[str, list[tuple[str, str]]] = {k.name: [] for k in catalogue.kpis}
    grouped = [k.name for k in catalogue.kpis if k.definition.pairing == "group"]
    api = sorted(n for n in metrics if n not in manual)
    if grouped:
        for a, b in combinations(api, 2):
            found = _probe(catalogue, {a: metrics[a], b: metrics[b]})
            for kpi in grouped:
                if found[kpi] and not any(n in api for n in alone[kpi]):
                    together[kpi].append((a, b))
    return Coverage(
        {k: tuple(v) for k, v in alone.items()}, {k: tuple(v) for k, v in together.items()}
    )
