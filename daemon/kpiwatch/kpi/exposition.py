"""The Prometheus lines of KPI results: one family per KPI, numerators, denominators, segments.

Rendered in the KPI worker thread after each computation, per account, and joined per family;
the /metrics exporter appends the families after its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kpiwatch.exposition import (
    FamilyHeader,
    _value_text,
    family_header,
    label_string,
    series_labels,
)
from kpiwatch.kpi.compiled import Catalogue, CompiledKpi
from kpiwatch.kpi.engine import PERIOD_NAMES, Results
from kpiwatch.kpi.segments import DIMENSIONS, Segments

#: Families of the content segments: (metric suffix, help) per dimension.
SEGMENT_FAMILIES = tuple(
    (
        dimension,
        (
            (f"kpiwatch_posts_by_{dimension}", f"Posts published in the window, by {dimension}."),
            (
                f"kpiwatch_post_interactions_by_{dimension}",
                f"Lifetime engagements of the posts published in the window, by {dimension}.",
            ),
            (
                f"kpiwatch_post_reach_by_{dimension}",
                f"Lifetime reach of the posts published in the window that report reach, by "
                f"{dimension}.",
            ),
        ),
    )
    for dimension in DIMENSIONS
)


@dataclass(frozen=True)
class KpiSection:
    """Ready-made families: header and joined lines, in exposition order."""

    families: tuple[tuple[FamilyHeader, bytes], ...]
    series: int


def _help(kpi: CompiledKpi) -> str:
    d = kpi.definition
    return f"{d.title}: {d.formula} ({d.direction.value} is better; objective {d.objective})."


def kpi_headers(catalogue: Catalogue) -> list[tuple[str, FamilyHeader]]:
    """(key, header) of every family the KPI section may contain, in order."""
    out: list[tuple[str, FamilyHeader]] = []
    info = "kpiwatch_kpi_info"
    out.append((info, family_header(info, "kpiwatch_kpi", "gauge", "info", _INFO_HELP)))
    for kpi in catalogue.kpis:
        name = kpi.definition.metric_name
        out.append((name, family_header(name, name, "gauge", "gauge", _help(kpi))))
        if kpi.has_ratio and kpi.derived is None:
            base = f"kpiwatch_kpi_{kpi.name}"
            for part in ("numerator", "denominator"):
                key = f"{base}_{part}"
                text = f"The {part} of {kpi.definition.title.lower()}, summable across accounts."
                out.append((key, family_header(key, key, "gauge", "gauge", text)))
    for _, families in SEGMENT_FAMILIES:
        for name, text in families:
            out.append((name, family_header(name, name, "gauge", "gauge", text)))
    return out


_INFO_HELP = "KPI definitions: objective, direction, unit and formula of each KPI (value 1)."


def stack_results(
    results: Results, windows: int, rows: Sequence[int] | None = None
) -> tuple[np.ndarray, dict[tuple, int]]:
    """Every result array side by side (``rows``, default all, by columns), and their columns."""
    arrays: list[np.ndarray] = []
    where: dict[tuple, int] = {}
    for kpi in results.catalogue.kpis:
        columns = results.kpis[kpi.name]
        for w in range(windows):
            for p in (0, 1):
                for part, data in (
                    ("value", columns.value),
                    ("numerator", columns.numerator),
                    ("denominator", columns.denominator),
                    ("basis", columns.basis),
                ):
                    array = data.get((w, p))
                    if array is not None:
                        where[(kpi.name, w, p, part)] = len(arrays)
                        picked = array if rows is None else array[list(rows)]
                        arrays.append(picked.astype(np.float64))
    if not arrays:
        return np.zeros((len(results.meta) if rows is None else len(rows), 0)), where
    return np.column_stack(arrays), where


def render_account_kpis(
    results: Results,
    row: int,
    window_labels: Sequence[str],
    previous: bool,
    components: bool,
    segments: Segments | None,
    segment_window: str,
    stacked: tuple[list[float], Mapping[tuple, int]] | None = None,
) -> dict[str, list[str]]:
    """The lines of one account by family key.

    ``stacked`` is the account's row of :func:`stack_results` as a list, with its column map
    (much faster than indexing the result arrays one value at a time).
    """
    meta = results.meta[row]
    assert meta is not None
    if stacked is None:
        matrix, where = stack_results(results, len(window_labels), [row])
        stacked = (matrix[0].tolist(), where)
    values, where = stacked
    own = series_labels(meta.platform, meta.account, meta.labels, meta.competitor)
    cache: dict[tuple[tuple[str, str], ...], str] = {}

    def label_text(extra: dict[str, str]) -> str:
        key = tuple(extra.items())
        text = cache.get(key)
        if text is None:
            text = cache[key] = label_string({**own, **extra})
        return text

    out: dict[str, list[str]] = {}
    periods = (0, 1) if previous else (0,)
    for kpi in results.catalogue.kpis:
        name = kpi.definition.metric_name
        ratio = components and kpi.has_ratio and kpi.derived is None
        base = f"kpiwatch_kpi_{kpi.name}"
        for w, window in enumerate(window_labels):
            for p in periods:
                value = values[where[(kpi.name, w, p, "value")]]
                if value != value:  # NaN: absent
                    continue
                extra = {"window": window, "period": PERIOD_NAMES[p]}
                if kpi.basis:
                    extra["basis"] = kpi.basis[int(values[where[(kpi.name, w, p, "basis")]])].name
                if kpi.money and meta.currency:
                    extra["currency"] = meta.currency
                out.setdefault(name, []).append(f"{name}{label_text(extra)} {_value_text(value)}\n")
                if ratio and p == 0:
                    del extra["period"]
                    labels = label_text(extra)
                    for part in ("numerator", "denominator"):
                        column = where.get((kpi.name, w, p, part))
                        if column is None:
                            continue
                        key = f"{base}_{part}"
                        text = _value_text(values[column])
                        out.setdefault(key, []).append(f"{key}{labels} {text}\n")
    if segments is not None:
        for dimension, families in SEGMENT_FAMILIES:
            cells = segments.cells.get(dimension, {})
            for value_name in sorted(cells):
                cell = cells[value_name]
                labels = label_text({"window": segment_window, dimension: value_name})
                for (family, _), number in zip(
                    families, (cell.posts, cell.interactions, cell.reach), strict=True
                ):
                    if family.startswith("kpiwatch_post_reach") and cell.reach <= 0:
                        continue
                    out.setdefault(family, []).append(
                        f"{family}{labels} {_value_text(float(number))}\n"
                    )
    return out


def render_info(catalogue: Catalogue) -> list[str]:
    lines = []
    for kpi in catalogue.kpis:
        d = kpi.definition
        labels = {
            "kpi": d.name,
            "title": d.title,
            "objective": d.objective.value,
            "direction": d.direction.value,
            "unit": d.unit.value,
            "formula": d.formula,
        }
        lines.append(f"kpiwatch_kpi_info{label_string(labels)} 1.0\n")
    return lines


def assemble_section(
    headers: list[tuple[str, FamilyHeader]],
    fragments: Mapping[str, Mapping[str, bytes]],
    info: list[str],
) -> KpiSection:
    """Join every account's fragments family by family."""
    families = []
    series = len(info)
    for key, header in headers:
        if key == "kpiwatch_kpi_info":
            families.append((header, "".join(info).encode()))
            continue
        parts = fragments.get(key)
        if not parts:
            continue
        body = b"".join(parts.values())
        series += body.count(b"\n")
        families.append((header, body))
    return KpiSection(tuple(families), series)
