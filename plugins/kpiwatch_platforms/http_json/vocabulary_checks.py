"""Checks of configured metric names, windows and dimensions against the vocabulary.

Used by the settings models of ``http_json`` and ``csv``: a mistake is a settings error with
the fix (``did you mean 'followers'?``), never a sample the daemon later drops.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from kpiwatch import vocabulary
from kpiwatch.result_check import canonical_window
from kpiwatch.vocabulary import Kind, MetricDef


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``did you mean 'a' or 'b'?`` for up to three close candidates, or ""."""
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=3, cutoff=0.6)
    if not close:
        return ""
    quoted = [f"'{by_folded[c]}'" for c in close]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"did you mean {listed}?"


def vocabulary_metric(name: str) -> MetricDef:
    """The vocabulary entry called ``name``; ValueError with a suggestion otherwise."""
    metric = vocabulary.get(name)
    if metric is None:
        hint = did_you_mean(name, vocabulary.BY_NAME) or "use a metric listed in docs/metrics.md"
        raise ValueError(f"{name!r} is not a metric of the vocabulary; {hint}")
    return metric


def post_metric(name: str) -> str:
    """``name`` when it is a per-post metric; ValueError with a suggestion otherwise."""
    vocabulary_metric(name)
    if name not in vocabulary.POST_METRICS:
        allowed = ", ".join(sorted(vocabulary.POST_METRICS))
        raise ValueError(f"{name!r} is not a per-post metric; use one of {allowed}")
    return name


def metric_window(metric: MetricDef, window: str | None) -> str | None:
    """The window spelled canonically (``24h`` -> ``1d``); ValueError when it does not fit the
    metric's kind (period metrics need one, the others take none)."""
    if metric.kind is Kind.PERIOD:
        if window is None:
            raise ValueError(
                f"{metric.name} is a period metric and needs a window; add window: 1d "
                "(or 7d, 28d: the span one value covers)"
            )
        canonical = canonical_window(window)
        if canonical is None:
            raise ValueError(f"window {window!r} is not a duration; write for example 1d or 7d")
        return canonical
    if window is not None:
        raise ValueError(
            f"{metric.name} is a {metric.kind.value} metric and takes no window; remove window"
        )
    return None


def metric_dimensions(metric: MetricDef, names: Iterable[str]) -> None:
    """ValueError when a dimension is not one the vocabulary allows for ``metric``."""
    for name in names:
        if name not in metric.dimensions:
            allowed = ", ".join(metric.dimensions) or "none"
            hint = did_you_mean(name, metric.dimensions)
            raise ValueError(
                f"{metric.name} has no dimension {name!r}; "
                f"{hint + ' ' if hint else ''}dimensions allowed: {allowed}"
            )


def content_type(value: str) -> str:
    """``value`` when it is a content type of the vocabulary; ValueError otherwise."""
    if value not in vocabulary.CONTENT_TYPES:
        hint = did_you_mean(value, vocabulary.CONTENT_TYPES)
        fix = hint or f"use one of {', '.join(vocabulary.CONTENT_TYPES)}"
        raise ValueError(f"{value!r} is not a content type; {fix}")
    return value


def static_dimensions(metric: MetricDef, dims: Mapping[str, str]) -> None:
    """ValueError for a dimension the metric does not have or an empty dimension value."""
    metric_dimensions(metric, dims)
    for name, value in dims.items():
        if not value:
            raise ValueError(f"dimension {name!r} is empty; write a value such as EUR or web")
